//! Diagnostics: counts of what is stored (cases, events, queued email, people) and of cases
//! per status, for `casework doctor`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::model::Role;
use casework_core::ports::{CaseLog, Diagnostics, Directory, StoreError};
use casework_core::workflow::Command;

use super::{ana, desk, follow_up, staff};

pub async fn stats_count_what_is_stored<S: CaseLog + Directory + Diagnostics + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    for (name, role) in [
        ("ana", Role::Agent),
        ("bob", Role::Agent),
        ("lee", Role::Lead),
    ] {
        b.store.put_person(staff(name, role)).await.unwrap();
    }
    assert_eq!(b.store.stats().await.unwrap().cases, 0);
    let c = b.open("t", "d", "a@customer.example").await.number;
    b.run(&ana(), c, follow_up()).await;
    b.open("u", "d", "a@customer.example").await;
    let s = b.store.stats().await.unwrap();
    assert_eq!(
        (s.cases, s.events, s.queued_messages, s.people),
        (2, 3, 1, 3)
    );
    let status = |s: &casework_core::ports::StoreStats| {
        let mut v: Vec<(String, u64)> = s
            .statuses
            .iter()
            .map(|c| (c.status.to_string(), c.cases))
            .collect();
        v.sort();
        v
    };
    assert_eq!(status(&s), [("New".to_string(), 2)]);
    b.run(
        &ana(),
        c,
        Command::Transition {
            status: "Pending Customer".into(),
            note: None,
        },
    )
    .await;
    let s = b.store.stats().await.unwrap();
    assert_eq!(
        status(&s),
        [("New".to_string(), 1), ("Pending Customer".to_string(), 1)],
        "cases per status, for casework doctor"
    );
}

pub async fn idempotent_creates_leave_no_stray_case<S: CaseLog + Diagnostics + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = Arc::new(desk(store));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let opened = casework_core::testing::opened("once");
            b.store
                .create_case_once(
                    "ana\u{0}k1".into(),
                    "fp1".into(),
                    b.now(),
                    "ana".into(),
                    opened,
                    Vec::new(),
                )
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(b.store.stats().await.unwrap().cases, 1, "one key, one case");
    let reused = b
        .store
        .create_case_once(
            "ana\u{0}k1".into(),
            "fp2".into(),
            b.now(),
            "ana".into(),
            casework_core::testing::opened("other"),
            Vec::new(),
        )
        .await;
    assert!(matches!(reused, Err(StoreError::Invalid(_))), "{reused:?}");
    assert_eq!(
        b.store.stats().await.unwrap().cases,
        1,
        "a refused key makes nothing"
    );
}
