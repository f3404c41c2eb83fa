//! Your own store: a type that wraps another store (here SQLite), changes what it needs to
//! (it tells a host system about every commit) and hands the rest to the store it wraps
//! with `casework_core::delegate_store!`. Run with `cargo run --example custom_store`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use casework_core::event::{Event, Opened};
use casework_core::model::{Actor, Customer, OutboxMessage, Person, PostKind, Role, Visibility};
use casework_core::ports::{CaseLog, Commit, Created, RandomIds, StoreError, SystemClock};
use casework_core::workflow::{Command, NewCase};
use casework_core::{Case, CaseNumber, CaseService, CaseStore};
use casework_store_sqlite::SqliteStore;
use jiff::Timestamp;

/// A store that reports every commit; everything else is the wrapped store's.
struct Reporting<S> {
    inner: S,
    commits: AtomicU64,
}

// Every capability this wrapper does not change goes straight to `inner`.
casework_core::delegate_store!(impl<S: CaseStore> Reporting<S> => inner:
    CaseQueries, Reports, Directory, Knowledge, OutboxQueue, Diagnostics, ChangeFeed, Sessions,
    Quarantine, Webhooks, MailboxPositions, Attachments, CaseSurroundings);

#[async_trait::async_trait]
impl<S: CaseStore> CaseLog for Reporting<S> {
    async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
        let kinds: Vec<&str> = commit.events.iter().map(|e| e.kind.name()).collect();
        let case = self.inner.commit(commit).await?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        println!(
            "committed case {} v{}: {}",
            case.number,
            case.version,
            kinds.join(", ")
        );
        Ok(case)
    }

    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        o: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Case, StoreError> {
        let case = self.inner.create_case(at, actor, o, outbox).await?;
        println!("created case {}", case.number);
        Ok(case)
    }

    async fn create_case_once(
        &self,
        key: String,
        fingerprint: String,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Created, StoreError> {
        let created = self
            .inner
            .create_case_once(key, fingerprint, at, actor, opened, outbox);
        created.await
    }

    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        self.inner.load_case(number).await
    }

    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        self.inner.history(number).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inner = SqliteStore::open_url("sqlite::memory:")?;
    let store = Arc::new(Reporting {
        inner,
        commits: AtomicU64::new(0),
    });
    let (clock, ids) = (Arc::new(SystemClock), Arc::new(RandomIds::new()));
    let service = CaseService::with_defaults(store.clone(), clock, ids)?;
    let ana = service.register(None, Person::new("Ana Lopez", Role::Agent));
    let ana = Actor::from_person(&ana.await?);
    let dana = Customer::new("Dana Smith", "dana@example.com".parse()?);
    let case = service
        .open_case(
            &ana,
            NewCase::new("Login loops", "Back to the login page.", dana),
        )
        .await?;
    service
        .execute(&ana, case.number, None, Command::Take)
        .await?;
    let note = Command::AddPost {
        kind: PostKind::Note,
        body: "Reproduced with SSO on.".into(),
        visibility: Visibility::Internal,
    };
    service.execute(&ana, case.number, None, note).await?;
    let history = service.history(&ana, case.number).await?;
    println!(
        "{} commits through the wrapper; the case's history has {} events",
        store.commits.load(Ordering::Relaxed),
        history.len()
    );
    Ok(())
}
