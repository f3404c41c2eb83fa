//! Group commit: concurrent writes share transactions, and a write that fails inside a batch
//! (a version conflict) rolls back alone: every valid write in the same batch lands.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use casework_core::event::{EventKind, apply_all};
use casework_core::model::{PostKind, Visibility};
use casework_core::ports::{CaseLog, Commit, StoreError};
use casework_core::workflow::stamp;
use casework_store_sqlite::SqliteStore;

fn opened(i: usize) -> casework_core::event::Opened {
    casework_core::testing::opened(&format!("case {i}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_does_not_disturb_its_batch() {
    let dir = std::env::temp_dir().join(format!("casework-group-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(
        SqliteStore::open_url(&format!("sqlite://{}", dir.join("c.db").display())).unwrap(),
    );
    let at = casework_core::testing::START;
    let mut cases = Vec::new();
    for i in 0..40 {
        cases.push(
            store
                .create_case(at, "ana".into(), opened(i), Vec::new())
                .await
                .unwrap(),
        );
    }
    // For every case, one valid commit and one stale one, all at once.
    let mut tasks = Vec::new();
    for case in &cases {
        for stale in [false, true] {
            let (store, case) = (store.clone(), case.clone());
            tasks.push(tokio::spawn(async move {
                let events = stamp(
                    &case,
                    "ana",
                    at,
                    vec![EventKind::PostAdded {
                        kind: PostKind::Note,
                        body: if stale {
                            "stale".into()
                        } else {
                            "valid".into()
                        },
                        visibility: Visibility::Internal,
                        from_customer: false,
                    }],
                );
                let state = apply_all(case.clone(), &events).unwrap();
                let expected_version = if stale {
                    case.version - 1
                } else {
                    case.version
                };
                let r = store
                    .commit(Commit {
                        number: case.number,
                        expected_version,
                        events,
                        state,
                        outbox: vec![],
                        attachments: Vec::new(),
                    })
                    .await;
                (stale, r)
            }));
        }
    }
    for t in tasks {
        match t.await.unwrap() {
            (false, r) => assert!(r.is_ok(), "a valid write failed: {r:?}"),
            (true, r) => assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}"),
        }
    }
    for case in &cases {
        let history = store.history(case.number).await.unwrap();
        assert_eq!(
            history.len(),
            2,
            "exactly the valid write landed on case {}",
            case.number
        );
        assert!(matches!(&history[1].kind, EventKind::PostAdded { body, .. } if body == "valid"));
    }
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
