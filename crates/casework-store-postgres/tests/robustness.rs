//! What PostgreSQL makes hard and this store handles: text holding U+0000 (which
//! PostgreSQL's `text` and `jsonb` refuse) round-trips exactly, and case lists never skip a
//! case although numbers come from a sequence and creates commit out of number order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use casework_core::event::{EventKind, apply_all, replay};
use casework_core::model::{Field, PostKind, Role, Visibility};
use casework_core::ports::{
    CaseFilter, CaseLog, CaseQueries, Commit, Directory, PageRequest, Scope, SearchQuery,
};
use casework_core::testing::{START, opened, service};
use casework_core::workflow::{Command, stamp};
use casework_store_postgres::PgStore;
use casework_test_postgres::Cluster;

async fn fresh(name: &str) -> Arc<PgStore> {
    let url = Cluster::shared().fresh_database(name).unwrap();
    Arc::new(PgStore::open_url(&url).await.unwrap())
}

#[tokio::test]
async fn text_holding_nul_round_trips_exactly() {
    let store = fresh("nul").await;
    let person = casework_core::model::Person {
        name: "ana\0bel".into(),
        role: Role::Admin,
        email: None,
        phone: None,
        signature: Some("A\0B \u{E000} literal".into()),
        notifications_off: Vec::new(),
    };
    store.put_person(person.clone()).await.unwrap();
    assert_eq!(store.get_person("ana\0bel".into()).await.unwrap(), person);
    let svc = service(store.clone());
    let actor = casework_core::model::Actor::from_person(&person);
    let mut kind = opened("Printer\0offline \u{E000}0");
    kind.description = "spooler\0crash".into();
    let created = store
        .create_case_once(
            "key\0one".into(),
            "fp".into(),
            START,
            "ana\0bel".into(),
            kind,
            Vec::new(),
        )
        .await
        .unwrap();
    let n = created.case.number;
    svc.execute(
        &actor,
        n,
        None,
        Command::AddPost {
            kind: PostKind::Note,
            body: "zebracorn\0 note".into(),
            visibility: Visibility::Internal,
        },
    )
    .await
    .unwrap();
    // the service refuses control characters in one-line fields; the store must still keep
    // whatever a commit carries (another front-end, an import)
    let current = store.load_case(n).await.unwrap();
    let events = stamp(
        &current,
        "ana\0bel",
        START,
        vec![EventKind::FieldChanged {
            field: Field::ProductArea,
            from: None,
            to: Some("Print\0ing".into()),
        }],
    );
    let state = apply_all(current.clone(), &events).unwrap();
    store
        .commit(Commit {
            number: n,
            expected_version: current.version,
            events,
            state,
            outbox: Vec::new(),
            attachments: Vec::new(),
        })
        .await
        .unwrap();
    let case = store.load_case(n).await.unwrap();
    assert_eq!(case.title, "Printer\0offline \u{E000}0");
    assert_eq!(case.category.product_area.as_deref(), Some("Print\0ing"));
    assert_eq!(replay(&store.history(n).await.unwrap()).unwrap(), case);
    let again = store
        .create_case_once(
            "key\0one".into(),
            "fp".into(),
            START,
            "ana\0bel".into(),
            opened("x"),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(again.replayed, "the key with a NUL is found again");
    let listed = store
        .list_cases(
            CaseFilter {
                product_area: Some("Print\0ing".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.items, vec![case.clone()]);
    let hits = store
        .search(SearchQuery {
            text: "zebracorn".into(),
            kind: None,
            scope: Scope::Staff,
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, case.title);
    assert!(store.similar(n, Scope::Staff, 5).await.is_ok());
}

/// Writers create cases as fast as they can while a reader walks the list from the start,
/// page by page, again and again. Numbers come from a sequence, so creates commit out of
/// number order; a walk must still never pass a number whose case appears later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_walks_during_concurrent_creates_never_skip_a_case() {
    let store = fresh("settle").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..12 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..40 {
                store
                    .create_case(
                        START,
                        "ana".into(),
                        opened(&format!("w{w} c{i}")),
                        Vec::new(),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut walks: Vec<Vec<u64>> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let mut seen = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let req = PageRequest::from_params(Some(7), cursor.as_deref()).unwrap();
                    let page = store.list_cases(CaseFilter::default(), req).await.unwrap();
                    seen.extend(page.items.iter().map(|c| c.number.get()));
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                walks.push(seen);
            }
            walks
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let walks = reader.await.unwrap();
    let all: BTreeSet<u64> = store
        .list_cases(
            CaseFilter::default(),
            PageRequest {
                limit: 500,
                after: None,
                ..PageRequest::default()
            },
        )
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.number.get())
        .collect();
    assert_eq!(all.len(), 480);
    assert!(walks.len() > 1, "the reader walked while writers wrote");
    for walk in &walks {
        let seen: BTreeSet<u64> = walk.iter().copied().collect();
        assert_eq!(seen.len(), walk.len(), "no case twice");
        let Some(&last) = walk.last() else { continue };
        let skipped: Vec<u64> = all
            .range(..=last)
            .filter(|n| !seen.contains(n))
            .copied()
            .collect();
        assert!(
            skipped.is_empty(),
            "a walk up to {last} skipped {skipped:?}"
        );
    }
}
