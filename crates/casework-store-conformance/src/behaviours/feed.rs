//! The change feed: every committed event once, at a position that increases in commit
//! order; pages that follow positions miss nothing, even while writers commit
//! concurrently; a customer's read holds only their cases; a refused commit takes no
//! position.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use casework_core::model::{PostKind, Visibility};
use casework_core::ports::{CaseLog, ChangeFeed, FeedEntry, StoreError};

use super::{a_failing_commit, ana, desk, email, post_commit};

/// Everything in the feed after `after`, read `page` at a time as a consumer would.
async fn follow<S: ChangeFeed + ?Sized>(store: &S, mut after: u64, page: u32) -> Vec<FeedEntry> {
    let mut all = Vec::new();
    loop {
        let got = store.feed(after, page, None).await.unwrap();
        assert!(got.len() <= page as usize, "at most the limit");
        let Some(last) = got.last() else {
            return all;
        };
        after = last.position;
        all.extend(got);
    }
}

fn keys(entries: &[FeedEntry]) -> Vec<(u64, u64)> {
    entries
        .iter()
        .map(|e| (e.event.case.get(), e.event.seq))
        .collect()
}

fn assert_increasing(entries: &[FeedEntry]) {
    for w in entries.windows(2) {
        assert!(
            w[0].position < w[1].position,
            "positions increase: {} then {}",
            w[0].position,
            w[1].position
        );
    }
}

pub async fn every_committed_event_has_one_position_in_commit_order<
    S: CaseLog + ChangeFeed + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    assert!(b.store.feed(0, 10, None).await.unwrap().is_empty(), "empty");
    let a = b.open("a", "d", "a@customer.example").await.number;
    let c = b.open("c", "d", "c@customer.example").await.number;
    b.post(c, PostKind::Note, "one", Visibility::Internal).await;
    b.post(a, PostKind::Note, "two", Visibility::Customer).await;
    b.run(&ana(), a, casework_core::workflow::Command::Take)
        .await;
    let all = b.store.feed(0, 500, None).await.unwrap();
    assert_eq!(
        keys(&all),
        [
            (a.get(), 1),
            (c.get(), 1),
            (c.get(), 2),
            (a.get(), 2),
            (a.get(), 3)
        ],
        "commit order"
    );
    assert_increasing(&all);
    assert!(all[0].position > 0, "positions start above 0, the start");
    // the events are the stored history's, whole
    let history = b.store.history(a).await.unwrap();
    let of_a: Vec<_> = all
        .iter()
        .filter(|e| e.event.case == a)
        .map(|e| e.event.clone())
        .collect();
    assert_eq!(of_a, history);
    let last = all.last().unwrap().position;
    assert!(
        b.store.feed(last, 10, None).await.unwrap().is_empty(),
        "nothing after the last"
    );
    let rest = b.store.feed(all[1].position, 2, None).await.unwrap();
    assert_eq!(
        rest,
        all[2..4],
        "after a position, from the next one, up to the limit"
    );
}

pub async fn reading_page_by_page_sees_every_event_once<
    S: CaseLog + ChangeFeed + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    for i in 0..5 {
        let n = b
            .open(&format!("t{i}"), "d", "a@customer.example")
            .await
            .number;
        for j in 0..i {
            b.post(n, PostKind::Note, &format!("p{j}"), Visibility::Internal)
                .await;
        }
    }
    let whole = b.store.feed(0, 500, None).await.unwrap();
    assert_eq!(whole.len(), 5 + (0..5).sum::<usize>());
    for page in [1, 2, 3, 7] {
        assert_eq!(
            follow(b.store.as_ref(), 0, page).await,
            whole,
            "pages of {page}"
        );
    }
}

pub async fn a_customers_read_holds_only_their_cases<S: CaseLog + ChangeFeed + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let a1 = b.open("a1", "d", "a@customer.example").await.number;
    let other = b.open("b", "d", "b@customer.example").await.number;
    let a2 = b.open("a2", "d", "a@customer.example").await.number;
    b.post(other, PostKind::Note, "b's", Visibility::Customer)
        .await;
    b.post(a1, PostKind::Note, "internal", Visibility::Internal)
        .await;
    let mine = b
        .store
        .feed(0, 500, Some(email("a@customer.example")))
        .await
        .unwrap();
    assert_eq!(keys(&mine), [(a1.get(), 1), (a2.get(), 1), (a1.get(), 2)]);
    // a page of one skips the other customer's events without returning them
    let first = b
        .store
        .feed(0, 1, Some(email("a@customer.example")))
        .await
        .unwrap();
    let second = b
        .store
        .feed(first[0].position, 1, Some(email("a@customer.example")))
        .await
        .unwrap();
    assert_eq!(keys(&second), [(a2.get(), 1)]);
    let nobody = b
        .store
        .feed(0, 500, Some(email("z@customer.example")))
        .await
        .unwrap();
    assert!(nobody.is_empty());
}

pub async fn a_refused_commit_takes_no_position<S: CaseLog + ChangeFeed + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let (c, _, failing) = a_failing_commit(&b).await;
    let before = b.store.feed(0, 500, None).await.unwrap();
    assert!(b.store.commit(failing).await.is_err());
    let stale = post_commit(&c, 1, "stale");
    assert!(matches!(
        b.store.commit(stale).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        b.store.feed(0, 500, None).await.unwrap(),
        before,
        "nothing added"
    );
    let after = b
        .post(c.number, PostKind::Note, "ok", Visibility::Internal)
        .await;
    let all = b.store.feed(0, 500, None).await.unwrap();
    assert_eq!(all.len(), before.len() + 1);
    assert_eq!(
        keys(&all[before.len()..]),
        [(c.number.get(), after.version)]
    );
    assert_increasing(&all);
}

pub async fn a_consumer_following_concurrent_writers_sees_every_event_once_in_order<
    S: CaseLog + ChangeFeed + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = Arc::new(desk(store));
    let mut cases = Vec::new();
    for w in 0..4 {
        cases.push(
            b.open(&format!("w{w}"), "d", "a@customer.example")
                .await
                .number,
        );
    }
    let shared = cases[0];
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // the consumer: follows the feed from 0, keeping only its position, while writers write
    let consumer = {
        let (b, done) = (b.clone(), done.clone());
        tokio::spawn(async move {
            let mut after = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let got = b.store.feed(after, 5, None).await.unwrap();
                if let Some(last) = got.last() {
                    after = last.position;
                }
                let empty = got.is_empty();
                seen.extend(got);
                if finished && empty {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for (w, own) in cases.iter().copied().enumerate() {
        let b = b.clone();
        writers.push(tokio::spawn(async move {
            for round in 0..15 {
                // every writer also races the others on the shared case
                for n in [own, shared] {
                    let current = b.store.load_case(n).await.unwrap();
                    let commit = post_commit(&current, current.version, &format!("w{w} r{round}"));
                    match b.store.commit(commit).await {
                        Ok(_) | Err(StoreError::Conflict { .. }) => {}
                        Err(e) => panic!("unexpected error {e:?}"),
                    }
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = consumer.await.unwrap();
    assert_increasing(&seen);
    let mut per_case: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in &seen {
        per_case
            .entry(e.event.case.get())
            .or_default()
            .push(e.event.seq);
    }
    for n in cases {
        let history = b.store.history(n).await.unwrap();
        let expected: Vec<u64> = history.iter().map(|e| e.seq).collect();
        assert_eq!(
            per_case.get(&n.get()),
            Some(&expected),
            "case {n}: every committed event once, in seq order"
        );
    }
}
