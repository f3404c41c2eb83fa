//! The read cache of the SQLite store: hot cases from memory, never stale — after this
//! store's own commits, another store's commits on the same file (another connection, as
//! another process is), lost version races, and never past the service's permission checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use casework_core::ids::EmailAddress;
use casework_core::model::{Actor, Case, Customer, PostKind, Visibility};
use casework_core::ports::CaseLog;
use casework_core::testing::service;
use casework_core::workflow::{Command, NewCase};
use casework_core::{CaseService, ServiceError};
use casework_store_sqlite::SqliteStore;

fn file(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "casework-sqlite-cache-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    format!("sqlite://{}", dir.join("cases.db").display())
}

fn open(url: &str) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open_url(url).unwrap())
}

fn desk() -> Actor {
    Actor::system("desk")
}

fn note(body: &str, visibility: Visibility) -> Command {
    Command::AddPost {
        kind: PostKind::Note,
        body: body.into(),
        visibility,
    }
}

async fn open_case(svc: &CaseService, email: &str) -> Case {
    let customer = Customer::new("Dana", email.parse::<EmailAddress>().unwrap());
    svc.open_case(&desk(), NewCase::new("Printer", "It jams.", customer))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_is_served_from_memory_and_follows_this_stores_commits() {
    let store = open(&file("own"));
    let svc = service(store.clone());
    let case = open_case(&svc, "dana@customer.example").await;
    assert_eq!(store.load_case(case.number).await.unwrap(), case);
    assert_eq!(store.cache_size().map(|(n, _)| n), Some(1), "kept");
    let (_, bytes) = store.cache_size().unwrap();
    assert!(bytes > 100, "counted by its stored size: {bytes}");
    assert_eq!(store.load_case(case.number).await.unwrap(), case);

    let noted = svc
        .execute(
            &desk(),
            case.number,
            None,
            note("first", Visibility::Internal),
        )
        .await
        .unwrap()
        .case;
    assert_eq!(noted.version, case.version + 1);
    // the commit dropped the old state: the next read is the new one, and is kept again
    assert_eq!(store.load_case(case.number).await.unwrap(), noted);
    assert_eq!(store.cache_size().map(|(n, _)| n), Some(1));
    assert_eq!(store.load_case(case.number).await.unwrap(), noted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_connections_commit_is_read_at_once() {
    let url = file("other");
    let here = open(&url);
    let there = open(&url);
    let svc_here = service(here.clone());
    let svc_there = service(there.clone());
    let case = open_case(&svc_here, "dana@customer.example").await;
    for round in 0..20 {
        // warm here, write there, read here: the new state, every time
        let before = here.load_case(case.number).await.unwrap();
        assert_eq!(here.load_case(case.number).await.unwrap(), before);
        let after = svc_there
            .execute(
                &desk(),
                case.number,
                None,
                note(&format!("from there {round}"), Visibility::Internal),
            )
            .await
            .unwrap()
            .case;
        assert_eq!(after.version, before.version + 1);
        assert_eq!(here.load_case(case.number).await.unwrap(), after, "{round}");
        // and this store's own commits right after another's leave it right too
        let mine = svc_here
            .execute(
                &desk(),
                case.number,
                None,
                note(&format!("from here {round}"), Visibility::Internal),
            )
            .await
            .unwrap()
            .case;
        assert_eq!(here.load_case(case.number).await.unwrap(), mine);
        assert_eq!(there.load_case(case.number).await.unwrap(), mine);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_that_lose_a_version_race_leave_the_cache_right() {
    let url = file("race");
    let here = open(&url);
    let there = open(&url);
    let services = [service(here.clone()), service(there.clone())];
    let case = open_case(&services[0], "dana@customer.example").await;
    for round in 0..10 {
        let current = here.load_case(case.number).await.unwrap();
        // eight writers on the version both just read, half through each connection
        let mut tasks = Vec::new();
        for i in 0..8 {
            let svc = services[i % 2].clone();
            let cmd = note(&format!("round {round} writer {i}"), Visibility::Internal);
            let n = case.number;
            tasks.push(tokio::spawn(async move {
                svc.execute(&desk(), n, Some(current.version), cmd).await
            }));
        }
        let mut won = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(outcome) => won.push(outcome.case),
                Err(ServiceError::Conflict { .. }) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(won.len(), 1, "exactly one writer wins");
        assert_eq!(
            here.load_case(case.number).await.unwrap(),
            won[0],
            "{round}"
        );
        assert_eq!(
            there.load_case(case.number).await.unwrap(),
            won[0],
            "{round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_never_shows_a_case_past_the_services_checks() {
    let store = open(&file("scope"));
    let svc = service(store.clone());
    let dana_case = open_case(&svc, "dana@customer.example").await;
    let noted = svc
        .execute(
            &desk(),
            dana_case.number,
            None,
            note("internal only", Visibility::Internal),
        )
        .await
        .unwrap()
        .case;
    // staff read it whole: it is cached with its internal facts
    assert_eq!(svc.case(&desk(), dana_case.number).await.unwrap(), noted);
    assert_eq!(store.cache_size().map(|(n, _)| n), Some(1));
    let dana = Actor::customer("Dana", "dana@customer.example".parse().unwrap());
    let eve = Actor::customer("Eve", "eve@customer.example".parse().unwrap());
    for _ in 0..2 {
        // another customer: the case does not exist for them, cached or not
        assert!(svc.case(&eve, dana_case.number).await.is_err());
        // its own customer: without the internal facts
        let seen = svc.case(&dana, dana_case.number).await.unwrap();
        assert_eq!(seen, noted.clone().for_customer());
    }
}
