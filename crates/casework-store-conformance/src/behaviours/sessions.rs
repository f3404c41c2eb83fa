//! Sign-in state: password hashes replaced by person; sessions found by id, touched only
//! forward, ended one at a time or all of a user's; sign-in links used once and never after
//! they expire, even by two callers at once; failures counted per key within a window; a
//! session read with its person as the directory has them at that moment.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::model::{OutboxMessage, TemplateName};
use casework_core::model::{Person, Role};
use casework_core::ports::{
    CaseLog, Directory, EndSessions, OutboxQueue, Session, SessionAndPerson, SessionUser, Sessions,
    SignInLink, StoreError,
};
use casework_core::testing::sample_message;
use jiff::SignedDuration;

use super::{desk, email};

pub async fn passwords_are_set_and_replaced<S: Sessions + ?Sized + 'static>(store: Arc<S>) {
    assert!(matches!(
        store.password("ana".into()).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .set_password("ana".into(), "$argon2id$one".into())
        .await
        .unwrap();
    store
        .set_password("bob".into(), "$argon2id$bob".into())
        .await
        .unwrap();
    store
        .set_password("ana".into(), "$argon2id$two".into())
        .await
        .unwrap();
    assert_eq!(store.password("ana".into()).await.unwrap(), "$argon2id$two");
    assert_eq!(store.password("bob".into()).await.unwrap(), "$argon2id$bob");
}

/// A session `id` of `user` begun and last used at `t0`.
fn begun(id: &str, user: SessionUser, t0: jiff::Timestamp) -> Session {
    Session {
        id: id.into(),
        user,
        created_at: t0,
        last_seen_at: t0,
    }
}

pub async fn sessions_are_found_touched_and_ended<S: Sessions + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let t0 = b.now();
    let session = |id: &str, user: SessionUser| begun(id, user, t0);
    let ana = SessionUser::Staff { name: "ana".into() };
    let jordan = SessionUser::Customer {
        email: email("jordan@customer.example"),
    };
    for (id, user) in [("s1", &ana), ("s2", &ana), ("s3", &jordan)] {
        b.store
            .put_session(session(id, user.clone()))
            .await
            .unwrap();
    }
    assert!(matches!(
        b.store.put_session(session("s1", jordan.clone())).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(
        b.store.get_session("s3".into()).await.unwrap(),
        session("s3", jordan.clone())
    );
    let later = t0 + SignedDuration::from_mins(5);
    b.store.touch_session("s1".into(), later).await.unwrap();
    // a late, slower request never moves the last use back
    b.store.touch_session("s1".into(), t0).await.unwrap();
    assert_eq!(
        b.store.get_session("s1".into()).await.unwrap().last_seen_at,
        later
    );
    assert!(matches!(
        b.store.touch_session("nope".into(), later).await,
        Err(StoreError::NotFound(_))
    ));
    // sign out: one session
    let one = EndSessions::One { id: "s2".into() };
    assert_eq!(b.store.end_sessions(one.clone()).await.unwrap(), 1);
    assert_eq!(b.store.end_sessions(one).await.unwrap(), 0);
    assert!(matches!(
        b.store.get_session("s2".into()).await,
        Err(StoreError::NotFound(_))
    ));
    // sign out everywhere: every session of ana, nobody else's
    b.store
        .put_session(session("s4", ana.clone()))
        .await
        .unwrap();
    let all = EndSessions::Of { user: ana.key() };
    assert_eq!(b.store.end_sessions(all).await.unwrap(), 2);
    for id in ["s1", "s4"] {
        assert!(matches!(
            b.store.get_session(id.into()).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            b.store.touch_session(id.into(), later).await,
            Err(StoreError::NotFound(_))
        ));
    }
    assert!(
        b.store.get_session("s3".into()).await.is_ok(),
        "jordan's stays"
    );
}

pub async fn sign_in_links_work_once_and_expire<
    S: CaseLog + Sessions + OutboxQueue + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    // the email goes out under one of the customer's cases
    let case = b
        .open("Printer on fire", "It smokes.", "jordan@customer.example")
        .await;
    let message = |id: &str| OutboxMessage {
        id: id.into(),
        case: case.number,
        message_id: format!("{id}.sign-in@example.com"),
        thread_id: format!("{id}.sign-in@example.com"),
        template: TemplateName::SignInLink,
        ..sample_message()
    };
    let now = b.now();
    let link = |hash: &str, mins: i64| SignInLink {
        hash: hash.into(),
        email: email("jordan@customer.example"),
        created_at: now,
        expires_at: now + SignedDuration::from_mins(mins),
    };
    b.store
        .put_sign_in_link(link("h1", 15), message("m1"))
        .await
        .unwrap();
    b.store
        .put_sign_in_link(link("h2", 15), message("m2"))
        .await
        .unwrap();
    // the link and its email are one step: a taken hash queues nothing, a taken message
    // id stores no link
    assert!(matches!(
        b.store
            .put_sign_in_link(link("h1", 15), message("m9"))
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        b.store
            .put_sign_in_link(link("h9", 15), message("m1"))
            .await,
        Err(StoreError::Duplicate(_))
    ));
    let queued: Vec<String> = b
        .store
        .outbox_list(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(queued, ["m1", "m2"]);
    assert!(matches!(
        b.store.use_sign_in_link("h9".into(), now).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        b.store.use_sign_in_link("h1".into(), now).await.unwrap(),
        link("h1", 15)
    );
    assert!(
        matches!(
            b.store.use_sign_in_link("h1".into(), now).await,
            Err(StoreError::NotFound(_))
        ),
        "used once"
    );
    // at its expiry it no longer works, and it is gone
    let at_expiry = now + SignedDuration::from_mins(15);
    assert!(matches!(
        b.store.use_sign_in_link("h2".into(), at_expiry).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.use_sign_in_link("unknown".into(), now).await,
        Err(StoreError::NotFound(_))
    ));
    // eight callers race for one link: exactly one gets it
    b.store
        .put_sign_in_link(link("h3", 15), message("m3"))
        .await
        .unwrap();
    let mut racers = Vec::new();
    for _ in 0..8 {
        let s = b.store.clone();
        racers.push(tokio::spawn(async move {
            s.use_sign_in_link("h3".into(), now).await.is_ok()
        }));
    }
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 1);
}

pub async fn failures_are_counted_per_key_within_the_window<S: Sessions + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let t0 = b.now();
    let min = |m: i64| t0 + SignedDuration::from_mins(m);
    let keys = vec!["account:ana".to_string(), "address:10.0.0.1".to_string()];
    for m in 0..3 {
        b.store
            .sign_in_failed(keys.clone(), min(m), min(m - 15))
            .await
            .unwrap();
    }
    b.store
        .sign_in_failed(vec!["account:bob".into()], min(3), min(-12))
        .await
        .unwrap();
    let count = |key: &str, since| b.store.sign_in_failures(key.to_string(), since);
    assert_eq!(count("account:ana", min(-15)).await.unwrap(), 3);
    assert_eq!(count("address:10.0.0.1", min(-15)).await.unwrap(), 3);
    assert_eq!(
        count("account:ana", min(1)).await.unwrap(),
        2,
        "since is inclusive"
    );
    assert_eq!(count("account:bob", min(-15)).await.unwrap(), 1);
    assert_eq!(count("account:nobody", min(-15)).await.unwrap(), 0);
    // a failure 20 minutes on forgets what came before its window, and counts itself
    b.store
        .sign_in_failed(vec!["account:ana".into()], min(20), min(5))
        .await
        .unwrap();
    assert_eq!(count("account:ana", min(-15)).await.unwrap(), 1);
    assert_eq!(
        count("address:10.0.0.1", min(-15)).await.unwrap(),
        3,
        "other keys stay"
    );
}

pub async fn a_session_is_read_with_its_person_as_the_directory_has_them_now<
    S: Sessions + Directory + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let t0 = b.now();
    let session = |id: &str, user: SessionUser| begun(id, user, t0);
    // a name with a quote and one with a NUL, which a store may have to escape
    let names = ["ana", "o'brien", "nul\0name"];
    for name in names {
        b.store
            .put_person(Person::new(name, Role::Agent))
            .await
            .unwrap();
    }
    b.store
        .put_person(Person::new("anabel", Role::Lead))
        .await
        .unwrap();
    for (i, name) in names.iter().chain(&["gone"]).enumerate() {
        b.store
            .put_session(session(
                &format!("s{i}"),
                SessionUser::Staff {
                    name: (*name).into(),
                },
            ))
            .await
            .unwrap();
    }
    let jordan = SessionUser::Customer {
        email: email("jordan@customer.example"),
    };
    b.store
        .put_session(session("c", jordan.clone()))
        .await
        .unwrap();
    for (i, name) in names.iter().enumerate() {
        let id = format!("s{i}");
        assert_eq!(
            b.store.session_and_person(id.clone()).await.unwrap(),
            SessionAndPerson {
                session: b.store.get_session(id).await.unwrap(),
                person: Some(Person::new(*name, Role::Agent)),
            },
            "{name:?}"
        );
    }
    // a session of someone the directory no longer has, and a customer's: no person
    assert_eq!(
        b.store
            .session_and_person("s3".into())
            .await
            .unwrap()
            .person,
        None
    );
    assert_eq!(
        b.store.session_and_person("c".into()).await.unwrap(),
        SessionAndPerson {
            session: session("c", jordan),
            person: None,
        }
    );
    // a changed role and a later use are what the next read gives
    b.store
        .put_person(Person::new("ana", Role::Lead))
        .await
        .unwrap();
    let later = t0 + SignedDuration::from_mins(5);
    b.store.touch_session("s0".into(), later).await.unwrap();
    let now = b.store.session_and_person("s0".into()).await.unwrap();
    assert_eq!(now.person, Some(Person::new("ana", Role::Lead)));
    assert_eq!(now.session.last_seen_at, later);
    // ended and unknown sessions are not found
    b.store
        .end_sessions(EndSessions::One { id: "s0".into() })
        .await
        .unwrap();
    for id in ["s0", "nope"] {
        assert!(
            matches!(
                b.store.session_and_person(id.into()).await,
                Err(StoreError::NotFound(_))
            ),
            "{id}"
        );
    }
}
