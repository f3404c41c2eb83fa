//! The outbox: emails queued with their commit, per case, claimed by one worker at a time
//! until a deadline, finished by the worker holding the claim.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use casework_core::documents::EmailFields;
use casework_core::event::EventKind;
use casework_core::ids::CaseNumber;
use casework_core::model::{OutboxStatus, TemplateName};
use casework_core::ports::{CaseLog, DeliveryOutcome, OutboxAction, OutboxQueue, StoreError};
use casework_core::workflow::{Command, message_id};
use jiff::SignedDuration;

use super::{Desk, a_failing_commit, ana, desk, follow_up};

pub async fn emails_are_queued_with_their_commit<S: CaseLog + OutboxQueue + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let c = b
        .open("Printer offline", "d", "jordan@customer.example")
        .await
        .number;
    b.run(
        &ana(),
        c,
        Command::SendEmail {
            template: TemplateName::FollowUp,
            fields: EmailFields {
                discussed: Some("We restarted the spooler.".into()),
                ..Default::default()
            },
        },
    )
    .await;
    let queued = b
        .store
        .outbox_list(Some(OutboxStatus::Queued), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let m = &queued[0];
    assert_eq!(m.case, c);
    assert_eq!(m.to.as_str(), "jordan@customer.example");
    assert_eq!(
        m.subject,
        format!("[Case {}] Follow-up: Printer offline", c.display())
    );
    assert!(m.body.contains("We restarted the spooler."));
    let history = b.store.history(c).await.unwrap();
    assert!(
        matches!(&history.last().unwrap().kind, EventKind::EmailQueued { message, .. } if *message == m.id)
    );
    assert!(
        b.store
            .outbox_list(Some(OutboxStatus::Sent), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_new_case_queues_its_notices_numbered_with_it<
    S: CaseLog + OutboxQueue + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    b.open("Earlier case", "d", "jordan@customer.example").await;
    let (opened, notices) = b.opening_notices("Export stops");
    assert_eq!(notices.len(), 1, "the workflow announces it to lee");
    let c = b
        .store
        .create_case(b.now(), "ana".into(), opened, notices.clone())
        .await
        .unwrap()
        .number;
    let queued = b.store.outbox_for_case(c).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let m = &queued[0];
    assert_eq!((m.id.as_str(), m.case), (notices[0].id.as_str(), c));
    assert_eq!(m.to.as_str(), "lee@example.com");
    assert_eq!(m.template, TemplateName::NoticeNewCase);
    // the store gave the notice the case's number: subject, body, Message-ID, thread
    assert_eq!(
        m.subject,
        format!("[Case {}] New case: Export stops", c.display())
    );
    assert!(m.body.contains(&format!("#{}", c.display())), "{}", m.body);
    assert_eq!(m.message_id, message_id(&m.id, c, "example.com"));
    assert_eq!(m.thread_id, m.message_id);
    assert!(!format!("{m:?}").contains("case-number:"), "{m:?}");
    assert_eq!(m.status, OutboxStatus::Queued);
    // an idempotent create queues its notices once: a replay queues nothing more
    let (opened, first) = b.opening_notices("Once");
    let made = b
        .store
        .create_case_once(
            "k".into(),
            "fp".into(),
            b.now(),
            "ana".into(),
            opened.clone(),
            first,
        )
        .await
        .unwrap();
    let (_, second) = b.opening_notices("Once");
    let again = b
        .store
        .create_case_once(
            "k".into(),
            "fp".into(),
            b.now(),
            "ana".into(),
            opened,
            second,
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        b.store
            .outbox_for_case(made.case.number)
            .await
            .unwrap()
            .len(),
        1
    );
    // a taken outbox id refuses the create, queuing nothing
    let (opened, mut taken) = b.opening_notices("Taken");
    let (fresh, old) = (taken[0].id.clone(), notices[0].id.clone());
    let m = &mut taken[0];
    for text in [&mut m.message_id, &mut m.thread_id, &mut m.subject] {
        *text = text.replace(&fresh, &old);
    }
    m.id = old;
    let before = b.store.outbox_list(None, 100).await.unwrap().len();
    assert!(matches!(
        b.store
            .create_case(b.now(), "ana".into(), opened, taken)
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(b.store.outbox_list(None, 100).await.unwrap().len(), before);
}

pub async fn a_cases_outbox_holds_only_its_messages<S: CaseLog + OutboxQueue + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let first = b.open("First", "d", "a@customer.example").await.number;
    let second = b.open("Second", "d", "b@customer.example").await.number;
    for case in [first, second] {
        b.run(&ana(), case, Command::Take).await;
    }
    for (case, template) in [
        (first, TemplateName::InitialContact),
        (second, TemplateName::InitialContact),
        (first, TemplateName::FollowUp),
    ] {
        b.run(
            &ana(),
            case,
            Command::SendEmail {
                template,
                fields: EmailFields {
                    discussed: Some("the spooler".into()),
                    ..Default::default()
                },
            },
        )
        .await;
    }
    let all = b.store.outbox_list(None, 10).await.unwrap();
    let of_first = b.store.outbox_for_case(first).await.unwrap();
    assert_eq!(
        of_first,
        vec![all[0].clone(), all[2].clone()],
        "oldest first"
    );
    assert_eq!(
        of_first.iter().map(|m| m.template).collect::<Vec<_>>(),
        vec![TemplateName::InitialContact, TemplateName::FollowUp]
    );
    assert_eq!(
        b.store.outbox_for_case(second).await.unwrap(),
        vec![all[1].clone()]
    );
    let unknown = CaseNumber::new(999_999).unwrap();
    assert!(b.store.outbox_for_case(unknown).await.unwrap().is_empty());
    // delivery state is current, not a copy from queueing time
    let claimed = b
        .store
        .outbox_claim(
            "w".into(),
            b.now(),
            b.now() + SignedDuration::from_mins(5),
            10,
        )
        .await
        .unwrap();
    let m = claimed.iter().find(|m| m.case == second).unwrap();
    b.store
        .outbox_finish(m.id.clone(), "w".into(), b.now(), DeliveryOutcome::Sent)
        .await
        .unwrap();
    let of_second = b.store.outbox_for_case(second).await.unwrap();
    assert_eq!(of_second[0].status, OutboxStatus::Sent);
}

pub(crate) async fn queue_three<S: CaseLog + ?Sized>(b: &Desk<S>) {
    let c = b.open("t", "d", "a@customer.example").await.number;
    for _ in 0..3 {
        b.run(&ana(), c, follow_up()).await;
    }
}

pub async fn outbox_claims_are_exclusive_until_their_deadline<
    S: CaseLog + OutboxQueue + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = Arc::new(desk(store));
    queue_three(&b).await;
    let now = b.now();
    let until = now + SignedDuration::from_mins(5);
    let (w1, w2) = {
        let (b1, b2) = (b.clone(), b.clone());
        let t1 = tokio::spawn(async move {
            b1.store
                .outbox_claim("w1".into(), now, until, 2)
                .await
                .unwrap()
        });
        let t2 = tokio::spawn(async move {
            b2.store
                .outbox_claim("w2".into(), now, until, 2)
                .await
                .unwrap()
        });
        (t1.await.unwrap(), t2.await.unwrap())
    };
    let ids1: BTreeSet<String> = w1.iter().map(|m| m.id.clone()).collect();
    let ids2: BTreeSet<String> = w2.iter().map(|m| m.id.clone()).collect();
    assert!(ids1.is_disjoint(&ids2), "no message is claimed twice");
    assert_eq!(ids1.len() + ids2.len(), 3);
    assert!(
        b.store
            .outbox_claim("w3".into(), now, until, 10)
            .await
            .unwrap()
            .is_empty(),
        "all are held"
    );
    // the deadline passes: another worker may take them over
    let later = now + SignedDuration::from_mins(6);
    let taken = b
        .store
        .outbox_claim("w3".into(), later, later + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 3);
    // the old holder can no longer finish
    let id = w1.first().or(w2.first()).unwrap().id.clone();
    let old = if ids1.contains(&id) { "w1" } else { "w2" };
    let err = b
        .store
        .outbox_finish(id.clone(), old.into(), later, DeliveryOutcome::Sent)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ClaimLost(_)), "{err:?}");
    assert!(matches!(
        b.store
            .outbox_finish("nope".into(), "w3".into(), later, DeliveryOutcome::Sent)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn outbox_outcomes_are_recorded<S: CaseLog + OutboxQueue + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    queue_three(&b).await;
    let now = b.now();
    let lease = SignedDuration::from_mins(5);
    let claim = |at: jiff::Timestamp| {
        let store = b.store.clone();
        async move {
            store
                .outbox_claim("w".into(), at, at + lease, 10)
                .await
                .unwrap()
        }
    };
    let claimed = claim(now).await;
    assert_eq!(claimed.len(), 3);
    let (a, r, f) = (&claimed[0].id, &claimed[1].id, &claimed[2].id);
    let sent = b
        .store
        .outbox_finish(a.clone(), "w".into(), now, DeliveryOutcome::Sent)
        .await
        .unwrap();
    assert_eq!(
        (sent.status, sent.attempts, sent.sent_at),
        (OutboxStatus::Sent, 1, Some(now))
    );
    let retry_at = now + SignedDuration::from_mins(10);
    let retried = b
        .store
        .outbox_finish(
            r.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Retry {
                error: "421 try later".into(),
                at: retry_at,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (retried.status, retried.attempts),
        (OutboxStatus::Queued, 1)
    );
    assert_eq!(retried.last_error.as_deref(), Some("421 try later"));
    let failed = b
        .store
        .outbox_finish(
            f.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Failed {
                error: "550 no such user".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, OutboxStatus::Failed);
    // a finished message is no one's to finish again
    let again = b
        .store
        .outbox_finish(a.clone(), "w".into(), now, DeliveryOutcome::Sent)
        .await;
    assert!(matches!(again, Err(StoreError::ClaimLost(_))), "{again:?}");
    // a retried message is not due before its time
    let early = claim(now + SignedDuration::from_mins(9)).await;
    assert!(early.is_empty());
    let due = claim(retry_at).await;
    assert_eq!(due.len(), 1);
    assert_eq!(&due[0].id, r);
    assert_eq!(
        b.store
            .outbox_list(Some(OutboxStatus::Sent), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        b.store
            .outbox_list(Some(OutboxStatus::Failed), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let all: Vec<String> = b
        .store
        .outbox_list(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        all,
        claimed.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        "oldest first"
    );
}

pub async fn a_failed_commit_queues_nothing<S: CaseLog + OutboxQueue + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let (_, existing, commit) = a_failing_commit(&b).await;
    assert!(b.store.commit(commit).await.is_err());
    let after = b.store.outbox_list(None, 10).await.unwrap();
    assert_eq!(
        after,
        vec![existing],
        "no outbox message from the failed commit"
    );
}

pub async fn a_bounce_marks_a_sent_message_failed<S: CaseLog + OutboxQueue + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    queue_three(&b).await;
    let now = b.now();
    let claimed = b
        .store
        .outbox_claim("w".into(), now, now + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    let (sent, queued) = (&claimed[0].id, &claimed[1].id);
    b.store
        .outbox_finish(sent.clone(), "w".into(), now, DeliveryOutcome::Sent)
        .await
        .unwrap();
    let bounced = b
        .store
        .outbox_bounced(sent.clone(), "delivery failed (5.1.1)".into())
        .await
        .unwrap();
    assert_eq!(bounced.status, OutboxStatus::Failed);
    assert_eq!(
        bounced.last_error.as_deref(),
        Some("delivery failed (5.1.1)")
    );
    assert_eq!(
        (bounced.attempts, bounced.sent_at),
        (1, Some(now)),
        "the send stays recorded"
    );
    // a claimed message is released and never sent again
    let held = b
        .store
        .outbox_bounced(queued.clone(), "bounced".into())
        .await
        .unwrap();
    assert_eq!((held.status, held.claimed_by), (OutboxStatus::Failed, None));
    let later = now + SignedDuration::from_hours(1);
    let again = b
        .store
        .outbox_claim("v".into(), later, later + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert!(
        again.iter().all(|m| &m.id != sent && &m.id != queued),
        "{again:?}"
    );
    // twice: the same; unknown: not found
    let twice = b
        .store
        .outbox_bounced(sent.clone(), "delivery failed (5.1.1)".into())
        .await
        .unwrap();
    assert_eq!(twice, bounced);
    assert!(matches!(
        b.store.outbox_bounced("nope".into(), "x".into()).await,
        Err(casework_core::ports::StoreError::NotFound(_))
    ));
}

/// `outbox_act` on `id`, expecting the refusal `Invalid`.
async fn refused<S: OutboxQueue + ?Sized>(
    store: &S,
    id: &str,
    action: OutboxAction,
    now: jiff::Timestamp,
) -> String {
    match store.outbox_act(id.into(), action, now).await {
        Err(StoreError::Invalid(why)) => why,
        other => panic!("{action:?} on {id} should be refused, got {other:?}"),
    }
}

pub async fn staff_retry_and_cancel_only_the_messages_each_applies_to<
    S: CaseLog + OutboxQueue + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    queue_three(&b).await;
    let now = b.now();
    let lease = now + SignedDuration::from_mins(5);
    let claimed = b
        .store
        .outbox_claim("w".into(), now, lease, 10)
        .await
        .unwrap();
    let [sent, failed, held] = [0, 1, 2].map(|i| claimed[i].id.clone());
    b.store
        .outbox_finish(sent.clone(), "w".into(), now, DeliveryOutcome::Sent)
        .await
        .unwrap();
    let failed_before = b
        .store
        .outbox_finish(
            failed.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Failed {
                error: "550 mailbox unavailable".into(),
            },
        )
        .await
        .unwrap();

    // a sent message never goes again; a message on the wire is left to its worker
    let why = refused(&*b.store, &sent, OutboxAction::Retry, now).await;
    assert!(why.contains("is sent"), "{why}");
    refused(&*b.store, &sent, OutboxAction::Cancel, now).await;
    let why = refused(&*b.store, &held, OutboxAction::Cancel, now).await;
    assert!(why.contains("being delivered"), "{why}");
    refused(&*b.store, &held, OutboxAction::Retry, now).await;
    refused(&*b.store, &failed, OutboxAction::Cancel, now).await;
    let list = b.store.outbox_list(None, 10).await.unwrap();
    let by_id = |id: &str| list.iter().find(|m| m.id == id).unwrap().clone();
    assert_eq!(by_id(&failed), failed_before, "a refusal writes nothing");
    assert_eq!(by_id(&held).claimed_by.as_deref(), Some("w"));

    // retry: queued, due now, attempts from zero, the last error kept until the next try
    let later = now + SignedDuration::from_mins(1);
    let retried = b
        .store
        .outbox_act(failed.clone(), OutboxAction::Retry, later)
        .await
        .unwrap();
    assert_eq!(retried.status, OutboxStatus::Queued);
    assert_eq!((retried.attempts, retried.next_attempt_at), (0, later));
    assert_eq!(retried.last_error, failed_before.last_error);
    assert_eq!((retried.claimed_by, retried.claimed_until), (None, None));

    // cancel: never claimed again, until a retry puts it back
    let cancelled = b
        .store
        .outbox_act(failed.clone(), OutboxAction::Cancel, later)
        .await
        .unwrap();
    assert_eq!(cancelled.status, OutboxStatus::Cancelled);
    let why = refused(&*b.store, &failed, OutboxAction::Cancel, later).await;
    assert!(why.contains("is cancelled"), "{why}");
    let none = b
        .store
        .outbox_claim("v".into(), later, later + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(
        b.store
            .outbox_list(Some(OutboxStatus::Cancelled), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    b.store
        .outbox_act(failed.clone(), OutboxAction::Retry, later)
        .await
        .unwrap();
    let back = b
        .store
        .outbox_claim("v".into(), later, later + SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    assert_eq!(
        back.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        vec![failed.clone()]
    );

    // once the claim lapses the held message can be cancelled, and its old worker's
    // finish is refused
    let lapsed = lease + SignedDuration::from_secs(1);
    let gone = b
        .store
        .outbox_act(held.clone(), OutboxAction::Cancel, lapsed)
        .await
        .unwrap();
    assert_eq!(
        (gone.status, gone.claimed_by),
        (OutboxStatus::Cancelled, None)
    );
    assert!(matches!(
        b.store
            .outbox_finish(held.clone(), "w".into(), lapsed, DeliveryOutcome::Sent)
            .await,
        Err(StoreError::ClaimLost(_))
    ));
    assert!(matches!(
        b.store
            .outbox_act("nope".into(), OutboxAction::Retry, lapsed)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn concurrent_cancels_of_one_message_let_exactly_one_through<
    S: CaseLog + OutboxQueue + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    queue_three(&b).await;
    let now = b.now();
    let id = b.store.outbox_list(None, 1).await.unwrap()[0].id.clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, id) = (b.store.clone(), id.clone());
            tokio::spawn(async move { s.outbox_act(id, OutboxAction::Cancel, now).await })
        })
        .collect();
    let mut through = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(m) => {
                assert_eq!(m.status, OutboxStatus::Cancelled);
                through += 1;
            }
            Err(StoreError::Invalid(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(through, 1);
}
