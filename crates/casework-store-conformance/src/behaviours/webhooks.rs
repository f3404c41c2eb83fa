//! Webhooks: a commit writes the deliveries its events make for the endpoints registered
//! at that moment, in the same atomic write; claims keep each case's order per endpoint,
//! are exclusive until their deadline, and record outcomes; manual redelivery keeps the
//! delivery's id.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use casework_core::model::{OutboxStatus, PostKind, Visibility};
use casework_core::ports::{CaseLog, ChangeFeed, DeliveryOutcome, StoreError, Webhooks};
use casework_core::webhook::{WebhookEndpoint, fan_out, secret_of};
use jiff::SignedDuration;

use super::{a_failing_commit, desk};

fn endpoint(id: &str, events: &[&str], at: jiff::Timestamp) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        url: format!("https://hooks.example.com/{id}"),
        events: events.iter().map(|s| s.to_string()).collect(),
        secret: secret_of(&[9; 32]),
        created_by: "admin".into(),
        created_at: at,
        removed_at: None,
    }
}

pub async fn commits_write_the_deliveries_of_the_endpoints_that_want_them<
    S: CaseLog + ChangeFeed + Webhooks + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let early = b
        .open("before any endpoint", "d", "a@customer.example")
        .await
        .number;
    let all = endpoint("ep_all", &[], b.now());
    let opened = endpoint("ep_open", &["case.opened"], b.now());
    let gone = endpoint("ep_gone", &[], b.now());
    for e in [&all, &opened, &gone] {
        b.store.webhook_add(e.clone()).await.unwrap();
    }
    assert!(matches!(
        b.store.webhook_add(all.clone()).await,
        Err(StoreError::Duplicate(_))
    ));
    let removed = b
        .store
        .webhook_remove("ep_gone".into(), b.now())
        .await
        .unwrap();
    assert_eq!(removed.removed_at, Some(b.now()));
    let again = b
        .store
        .webhook_remove("ep_gone".into(), b.now() + SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(
        again.removed_at,
        Some(b.now()),
        "removing twice keeps the first time"
    );
    let listed: Vec<_> = b.store.webhook_list().await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["ep_all", "ep_open", "ep_gone"]
    );
    assert_eq!(listed[0], all, "stored whole, secret included");

    let n = b.open("t", "d", "a@customer.example").await.number;
    b.post(n, PostKind::Note, "internal", Visibility::Internal)
        .await;
    // a refused commit writes no delivery
    let (_, _, refused) = a_failing_commit(&b).await;
    assert!(b.store.commit(refused).await.is_err());

    let feed = b.store.feed(0, 500, None).await.unwrap();
    let after_early: Vec<_> = feed.iter().filter(|f| f.event.case != early).collect();
    let mut expected_all = Vec::new();
    let mut expected_open = Vec::new();
    for f in &after_early {
        expected_all.extend(fan_out(std::slice::from_ref(&all), f.position, &f.event));
        expected_open.extend(fan_out(std::slice::from_ref(&opened), f.position, &f.event));
    }
    let mut log_all = b
        .store
        .webhook_deliveries("ep_all".into(), 500)
        .await
        .unwrap();
    log_all.reverse();
    assert_eq!(
        log_all, expected_all,
        "every later event, oldest last in the log"
    );
    assert!(
        log_all.iter().all(|d| d.case != early),
        "nothing from before it was added"
    );
    let mut log_open = b
        .store
        .webhook_deliveries("ep_open".into(), 500)
        .await
        .unwrap();
    log_open.reverse();
    assert_eq!(log_open, expected_open);
    assert!(log_open.iter().all(|d| d.event_type == "case.opened"));
    assert_eq!(log_open.len(), 2, "the two cases opened after it was added");
    assert!(
        b.store
            .webhook_deliveries("ep_gone".into(), 500)
            .await
            .unwrap()
            .is_empty(),
        "a removed endpoint gets nothing"
    );
    let newest = b
        .store
        .webhook_deliveries("ep_all".into(), 2)
        .await
        .unwrap();
    assert_eq!(newest.len(), 2);
    assert_eq!(
        newest[0],
        *log_all.last().unwrap(),
        "newest first, at most the limit"
    );
    assert!(matches!(
        b.store.webhook_deliveries("ep_nope".into(), 10).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.webhook_remove("ep_nope".into(), b.now()).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn claims_keep_each_cases_order_at_each_endpoint<
    S: CaseLog + Webhooks + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    b.store
        .webhook_add(endpoint("ep_1", &[], b.now()))
        .await
        .unwrap();
    let a = b.open("a", "d", "a@customer.example").await.number;
    let c = b.open("c", "d", "c@customer.example").await.number;
    b.post(a, PostKind::Note, "a2", Visibility::Internal).await;
    b.post(a, PostKind::Note, "a3", Visibility::Internal).await;
    let now = b.now();
    let until = now + SignedDuration::from_mins(5);
    let first = b
        .store
        .webhook_claim("w".into(), now, until, 10)
        .await
        .unwrap();
    let got: Vec<_> = first.iter().map(|d| d.case).collect();
    assert_eq!(got, [a, c], "each case's first event only");
    let a1 = first[0].clone();
    // a retry holds back the case's later events; other cases are not held
    let later = now + SignedDuration::from_mins(1);
    b.store
        .webhook_finish(
            a1.id.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Retry {
                error: "the endpoint answered 500".into(),
                at: later,
            },
            Some(500),
        )
        .await
        .unwrap();
    assert!(
        b.store
            .webhook_claim("w".into(), now, until, 10)
            .await
            .unwrap()
            .is_empty(),
        "a1 waits for its retry and a2 waits for a1"
    );
    let retried = b
        .store
        .webhook_claim("w".into(), later, until, 10)
        .await
        .unwrap();
    assert_eq!(
        retried.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [a1.id.as_str()]
    );
    assert_eq!(
        (retried[0].attempts, retried[0].response_status),
        (1, Some(500))
    );
    assert_eq!(
        retried[0].last_error.as_deref(),
        Some("the endpoint answered 500")
    );
    b.store
        .webhook_finish(
            a1.id.clone(),
            "w".into(),
            later,
            DeliveryOutcome::Sent,
            Some(204),
        )
        .await
        .unwrap();
    let next = b
        .store
        .webhook_claim("w".into(), later, until, 10)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(
        (next[0].case, next[0].position > a1.position),
        (a, true),
        "then a2"
    );
    // a failed-for-good delivery does not hold the case back for ever
    b.store
        .webhook_finish(
            next[0].id.clone(),
            "w".into(),
            later,
            DeliveryOutcome::Failed {
                error: "refused".into(),
            },
            None,
        )
        .await
        .unwrap();
    let last = b
        .store
        .webhook_claim("w".into(), later, until, 10)
        .await
        .unwrap();
    assert_eq!(last.len(), 1, "a3");
    assert!(last[0].position > next[0].position);
}

pub async fn claims_are_exclusive_until_their_deadline<S: CaseLog + Webhooks + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = Arc::new(desk(store));
    b.store
        .webhook_add(endpoint("ep_1", &[], b.now()))
        .await
        .unwrap();
    b.store
        .webhook_add(endpoint("ep_2", &[], b.now()))
        .await
        .unwrap();
    for i in 0..3 {
        b.open(&format!("case {i}"), "d", "a@customer.example")
            .await;
    }
    let now = b.now();
    let until = now + SignedDuration::from_mins(5);
    let (b1, b2) = (b.clone(), b.clone());
    let t1 = tokio::spawn(async move {
        b1.store
            .webhook_claim("w1".into(), now, until, 4)
            .await
            .unwrap()
    });
    let t2 = tokio::spawn(async move {
        b2.store
            .webhook_claim("w2".into(), now, until, 4)
            .await
            .unwrap()
    });
    let (w1, w2) = (t1.await.unwrap(), t2.await.unwrap());
    let ids1: BTreeSet<String> = w1.iter().map(|d| d.id.clone()).collect();
    let ids2: BTreeSet<String> = w2.iter().map(|d| d.id.clone()).collect();
    assert!(ids1.is_disjoint(&ids2), "no delivery is claimed twice");
    assert_eq!(ids1.len() + ids2.len(), 6, "three cases at two endpoints");
    assert!(
        b.store
            .webhook_claim("w3".into(), now, until, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = now + SignedDuration::from_mins(6);
    let taken = b
        .store
        .webhook_claim("w3".into(), later, later + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 6, "a lapsed claim is free");
    let id = w1.first().or(w2.first()).unwrap().id.clone();
    let old = if ids1.contains(&id) { "w1" } else { "w2" };
    assert!(matches!(
        b.store
            .webhook_finish(id, old.into(), later, DeliveryOutcome::Sent, Some(200))
            .await,
        Err(StoreError::ClaimLost(_))
    ));
    assert!(matches!(
        b.store
            .webhook_finish(
                "nope".into(),
                "w3".into(),
                later,
                DeliveryOutcome::Sent,
                None
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    // a removed endpoint's queued deliveries are never claimed
    b.store.webhook_remove("ep_2".into(), later).await.unwrap();
    let much_later = later + SignedDuration::from_mins(10);
    let left = b
        .store
        .webhook_claim(
            "w4".into(),
            much_later,
            much_later + SignedDuration::from_mins(5),
            10,
        )
        .await
        .unwrap();
    assert!(left.iter().all(|d| d.endpoint == "ep_1"));
    assert_eq!(left.len(), 3);
}

pub async fn outcomes_are_recorded_and_redelivery_keeps_the_id<
    S: CaseLog + Webhooks + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    b.store
        .webhook_add(endpoint("ep_1", &[], b.now()))
        .await
        .unwrap();
    b.open("t", "d", "a@customer.example").await;
    let now = b.now();
    let until = now + SignedDuration::from_mins(5);
    let claimed = b
        .store
        .webhook_claim("w".into(), now, until, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].claimed_by.as_deref(), claimed[0].claimed_until),
        (Some("w"), Some(until))
    );
    let original = claimed[0].clone();
    let sent = b
        .store
        .webhook_finish(
            original.id.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Sent,
            Some(200),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            sent.status,
            sent.attempts,
            sent.sent_at,
            sent.response_status,
            sent.claimed_by.clone()
        ),
        (OutboxStatus::Sent, 1, Some(now), Some(200), None)
    );
    assert!(
        matches!(
            b.store
                .webhook_finish(
                    original.id.clone(),
                    "w".into(),
                    now,
                    DeliveryOutcome::Sent,
                    Some(200)
                )
                .await,
            Err(StoreError::ClaimLost(_))
        ),
        "a finished delivery has no claim"
    );
    assert!(
        b.store
            .webhook_claim("w".into(), now, until, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = now + SignedDuration::from_mins(3);
    let again = b
        .store
        .webhook_redeliver(original.id.clone(), later)
        .await
        .unwrap();
    assert_eq!(
        (
            again.status,
            again.attempts,
            again.next_attempt_at,
            again.claimed_by.clone()
        ),
        (OutboxStatus::Queued, 0, later, None)
    );
    assert_eq!(
        (&again.id, &again.payload),
        (&original.id, &original.payload)
    );
    let reclaimed = b
        .store
        .webhook_claim("w2".into(), later, later + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert_eq!(
        reclaimed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [original.id.as_str()]
    );
    let log = b.store.webhook_deliveries("ep_1".into(), 10).await.unwrap();
    assert_eq!(log[0].status, OutboxStatus::Queued);
    assert!(matches!(
        b.store.webhook_redeliver("nope".into(), later).await,
        Err(StoreError::NotFound(_))
    ));
}
