//! The case log: numbers, creates (idempotent ones too), loads, commits at an expected
//! version under concurrency, all-or-nothing writes, histories that replay to the state.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use casework_core::documents::EmailFields;
use casework_core::event::replay;
use casework_core::ids::CaseNumber;
use casework_core::model::{PostKind, TemplateName, Visibility};
use casework_core::ports::{CaseLog, StoreError};
use casework_core::workflow::Command;

use super::{a_failing_commit, ana, desk, post_commit};

pub async fn numbers_are_unique_and_increasing<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let mut last = 0;
    for i in 0..5 {
        let c = b
            .open(&format!("case {i}"), "d", "a@customer.example")
            .await;
        assert!(c.number.get() > last, "numbers must increase");
        last = c.number.get();
    }
}

pub async fn concurrent_creates_get_unique_numbers<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = Arc::new(desk(store));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            b.open(&format!("concurrent {i}"), "d", "a@customer.example")
                .await
                .number
                .get()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    let unique: BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(unique.len(), 64, "every create gets its own number");
    for n in unique {
        let case = b
            .store
            .load_case(CaseNumber::new(n).unwrap())
            .await
            .unwrap();
        assert_eq!(case.number.get(), n, "each case is stored under its number");
    }
}

pub async fn unknown_cases_are_not_found<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let n = CaseNumber::new(424_242).unwrap();
    assert!(matches!(
        b.store.load_case(n).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.history(n).await,
        Err(StoreError::NotFound(_))
    ));
    let c = b.open("t", "d", "a@customer.example").await;
    let mut commit = post_commit(&c, 1, "x");
    commit.number = n;
    assert!(matches!(
        b.store.commit(commit).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn a_created_case_round_trips<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let c = b
        .open(
            "Zoë's «map» fails",
            "Ünïcode description\nwith lines",
            "zoe@customer.example",
        )
        .await;
    assert_eq!(c.version, 1);
    assert_eq!(b.store.load_case(c.number).await.unwrap(), c);
    let history = b.store.history(c.number).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].seq, 1);
    assert_eq!(replay(&history).unwrap(), c);
}

pub async fn commits_append_events_and_replay_to_the_state<S: CaseLog + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let c = b
        .open("Printer offline", "since the update", "a@customer.example")
        .await;
    let n = c.number;
    b.run(&ana(), n, Command::Take).await;
    b.run(
        &ana(),
        n,
        Command::LogCall {
            direction: casework_core::model::CallDirection::Inbound,
            duration_minutes: 25,
            screenshare: true,
            channel: Some("SPEC".into()),
            notes: "walked through the spooler".into(),
        },
    )
    .await;
    b.run(
        &ana(),
        n,
        Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields::default(),
        },
    )
    .await;
    b.close_resolved(n, "Printing", "Configuration").await;
    let after = b.reopen(n).await;
    let stored = b.store.load_case(n).await.unwrap();
    assert_eq!(stored, after);
    let history = b.store.history(n).await.unwrap();
    assert_eq!(history.len() as u64, stored.version);
    assert_eq!(
        replay(&history).unwrap(),
        stored,
        "replay equals the stored state"
    );
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=stored.version).collect::<Vec<_>>());
}

pub async fn a_stale_version_is_a_conflict_and_changes_nothing<S: CaseLog + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let c = b.open("t", "d", "a@customer.example").await;
    let v2 = b
        .post(c.number, PostKind::Note, "first", Visibility::Internal)
        .await;
    let stale = post_commit(&c, 1, "stale write");
    let err = b.store.commit(stale).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            expected_version: 1,
            current_version: 2,
        }
    );
    assert_eq!(b.store.load_case(c.number).await.unwrap(), v2);
    assert_eq!(b.store.history(c.number).await.unwrap().len(), 2);
}

pub async fn concurrent_commits_on_one_version_let_exactly_one_win<
    S: CaseLog + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = Arc::new(desk(store));
    let c = b.open("t", "d", "a@customer.example").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (b, c) = (b.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            b.store
                .commit(post_commit(&c, 1, &format!("writer {i}")))
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict {
                current_version, ..
            }) => assert_eq!(current_version, 2),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(b.store.load_case(c.number).await.unwrap().version, 2);
    assert_eq!(b.store.history(c.number).await.unwrap().len(), 2);
}

pub async fn many_writers_lose_no_update<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = Arc::new(desk(store));
    let c = b.open("t", "d", "a@customer.example").await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for round in 0..10 {
                // read, then write against what was read: a conflict is a lost race, not a loss
                let current = b.store.load_case(c.number).await.unwrap();
                let commit = post_commit(&current, current.version, &format!("w{w} r{round}"));
                match b.store.commit(commit).await {
                    Ok(_) => ok += 1,
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("unexpected error {e:?}"),
                }
            }
            ok
        }));
    }
    let mut successes = 0;
    for t in tasks {
        successes += t.await.unwrap();
    }
    let history = b.store.history(c.number).await.unwrap();
    assert!(successes > 0);
    assert_eq!(
        history.len() as u64,
        1 + successes,
        "one event per successful write"
    );
    assert_eq!(
        replay(&history).unwrap(),
        b.store.load_case(c.number).await.unwrap()
    );
}

pub async fn a_commit_is_all_or_nothing<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let (c, _, commit) = a_failing_commit(&b).await;
    let err = b.store.commit(commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert_eq!(b.store.load_case(c.number).await.unwrap(), c);
    assert_eq!(
        b.store.history(c.number).await.unwrap().len() as u64,
        c.version
    );
}

pub async fn misnumbered_events_are_refused<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let c = b.open("t", "d", "a@customer.example").await;
    let mut commit = post_commit(&c, 1, "x");
    commit.events[0].seq = 5;
    let err = b.store.commit(commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(b.store.load_case(c.number).await.unwrap(), c);
}

pub async fn idempotent_creates_make_one_case<S: CaseLog + ?Sized + 'static>(store: Arc<S>) {
    let b = Arc::new(desk(store));
    let opened = casework_core::testing::opened;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (b, kind) = (b.clone(), opened("once"));
        tasks.push(tokio::spawn(async move {
            b.store
                .create_case_once(
                    "ana\u{0}k1".into(),
                    "fp1".into(),
                    b.now(),
                    "ana".into(),
                    kind,
                    Vec::new(),
                )
                .await
                .unwrap()
        }));
    }
    let mut numbers = BTreeSet::new();
    let mut fresh = 0;
    for t in tasks {
        let created = t.await.unwrap();
        numbers.insert(created.case.number);
        fresh += usize::from(!created.replayed);
    }
    assert_eq!(
        numbers.len(),
        1,
        "concurrent calls with one key make one case"
    );
    assert_eq!(fresh, 1, "exactly one call created it");
    let n = *numbers.iter().next().unwrap();
    // the case changes; a replay still answers with the case as created
    b.post(n, PostKind::Note, "later", Visibility::Internal)
        .await;
    let again = b
        .store
        .create_case_once(
            "ana\u{0}k1".into(),
            "fp1".into(),
            b.now(),
            "ana".into(),
            opened("once"),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.case.version, 1);
    assert_eq!(
        again.case,
        replay(&b.store.history(n).await.unwrap()[..1]).unwrap()
    );
    // the same key for a different request is refused and creates nothing
    let reused = b
        .store
        .create_case_once(
            "ana\u{0}k1".into(),
            "fp2".into(),
            b.now(),
            "ana".into(),
            opened("other"),
            Vec::new(),
        )
        .await;
    assert!(matches!(reused, Err(StoreError::Invalid(_))), "{reused:?}");
    let other = b
        .store
        .create_case_once(
            "ana\u{0}k2".into(),
            "fp2".into(),
            b.now(),
            "ana".into(),
            opened("other"),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(!other.replayed);
    assert_ne!(other.case.number, n);
}
