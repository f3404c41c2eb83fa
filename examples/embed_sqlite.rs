//! Casework's core embedded on SQLite: open a store, build the service, open a case, take
//! it, and read what its closing checklist still needs. Run with
//! `cargo run --example embed_sqlite [STORE_URL]` (default: an in-memory database).

use std::sync::Arc;

use casework_core::CaseService;
use casework_core::model::{Actor, Customer, Person, Role};
use casework_core::ports::{RandomIds, SystemClock};
use casework_core::workflow::{Command, NewCase};
use casework_store_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or("sqlite::memory:".into());
    let store = Arc::new(SqliteStore::open_url(&url)?);
    let (clock, ids) = (Arc::new(SystemClock), Arc::new(RandomIds::new()));
    let service = CaseService::with_defaults(store, clock, ids)?;
    let ana = service.register(None, Person::new("Ana Lopez", Role::Agent));
    let ana = Actor::from_person(&ana.await?);
    let dana = Customer::new("Dana Smith", "dana@example.com".parse()?);
    let new = NewCase::new("Export stops at 10%", "The CSV export hangs.", dana);
    let case = service.open_case(&ana, new).await?;
    let take = service.execute(&ana, case.number, None, Command::Take);
    let case = take.await?.case;
    let (number, status, owner) = (case.number, case.status, case.owner.unwrap_or_default());
    println!("case {number} is {status} and owned by {owner}");
    for item in service.closing_check(&ana, number).await?.missing {
        println!("before closing: {} ({})", item.message, item.item);
    }
    Ok(())
}
