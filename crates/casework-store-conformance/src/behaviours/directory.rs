//! The directory: people put, replaced and listed by name; tokens found by the hash of their
//! secret, unique by id and by hash, revoked once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::model::{NotificationKind, Role};
use casework_core::ports::{Directory, StoreError};

use super::{desk, email, staff};

pub async fn people_round_trip<S: Directory + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    for (name, role) in [
        ("lee", Role::Lead),
        ("ana", Role::Agent),
        ("bob", Role::Agent),
    ] {
        b.store.put_person(staff(name, role)).await.unwrap();
    }
    let mut p = staff("zoë", Role::Admin);
    p.signature = Some("Zoë\nSupport".into());
    p.phone = Some("+1 555".into());
    // the notifications a person turned off are theirs to keep
    p.notifications_off = vec![NotificationKind::Assigned, NotificationKind::Reopened];
    b.store.put_person(p.clone()).await.unwrap();
    assert_eq!(b.store.get_person("zoë".into()).await.unwrap(), p);
    p.role = Role::Lead;
    b.store.put_person(p.clone()).await.unwrap();
    assert_eq!(
        b.store.get_person("zoë".into()).await.unwrap().role,
        Role::Lead,
        "put replaces"
    );
    let names: Vec<String> = b
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["ana", "bob", "lee", "zoë"], "by name");
    assert!(matches!(
        b.store.get_person("nobody".into()).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn tokens_are_found_by_hash_and_revoked<S: Directory + ?Sized + 'static>(store: Arc<S>) {
    use casework_core::model::{ApiToken, token_hash};
    let b = desk(store);
    // a networked store's own access token may be there already: only new ones count
    let before: Vec<String> = b
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let token = |id: &str, secret: &str, role, customer: Option<&str>| ApiToken {
        id: id.into(),
        name: format!("{id} holder"),
        role,
        customer_email: customer.map(email),
        hash: token_hash(secret),
        created_at: b.now(),
        revoked_at: None,
    };
    let staff = token("t1", "secret-one", Role::Agent, None);
    let customer = token(
        "t2",
        "secret-two",
        Role::Customer,
        Some("jordan@customer.example"),
    );
    b.store.put_token(staff.clone()).await.unwrap();
    b.store.put_token(customer.clone()).await.unwrap();
    assert_eq!(
        b.store.find_token(token_hash("secret-two")).await.unwrap(),
        customer
    );
    assert!(matches!(
        b.store.find_token(token_hash("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    let same_id = token("t1", "other", Role::Admin, None);
    assert!(matches!(
        b.store.put_token(same_id).await,
        Err(StoreError::Duplicate(_))
    ));
    let same_hash = token("t3", "secret-one", Role::Admin, None);
    assert!(matches!(
        b.store.put_token(same_hash).await,
        Err(StoreError::Duplicate(_))
    ));
    let ids: Vec<String> = b
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(
        ids,
        ["t1", "t2"],
        "oldest first, nothing of the refused puts"
    );
    let first = b.now();
    let revoked = b.store.revoke_token("t1".into(), first).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    b.advance_days(1);
    let again = b.store.revoke_token("t1".into(), b.now()).await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(first),
        "a second revoke keeps the first time"
    );
    assert_eq!(
        b.store
            .find_token(token_hash("secret-one"))
            .await
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert!(matches!(
        b.store.revoke_token("t9".into(), first).await,
        Err(StoreError::NotFound(_))
    ));
}
