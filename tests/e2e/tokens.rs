//! API tokens through the service: only hashes are stored; a token authenticates as its
//! role (a staff token named after a registered person acts as that person); a revoked or
//! unknown token authenticates nobody.

use std::sync::Arc;

use casework_core::model::{Actor, Role};
use casework_core::ports::Directory;
use casework_core::{ServiceError, WorkflowError};
use casework_e2e::{service, staff};
use casework_store_memory::MemoryStore;

const SECRET: &str = "cw_0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn tokens_authenticate_until_revoked() {
    let store = Arc::new(MemoryStore::new());
    let (svc, _clock) = service(store.clone());
    let root = Actor::from_person(&staff("Root", Role::Admin));
    svc.add_person(&root, staff("Ana Lopez", Role::Agent))
        .await
        .unwrap();

    let t = svc
        .create_token(&root, "Ana Lopez", Role::Agent, None, SECRET)
        .await
        .unwrap();
    assert_ne!(t.hash, SECRET);
    assert!(
        !format!("{:?}", store.list_tokens().await.unwrap()).contains(SECRET),
        "the secret is never stored"
    );
    let ana = svc.authenticate(SECRET).await.unwrap().unwrap();
    assert_eq!((ana.name.as_str(), ana.role), ("Ana Lopez", Role::Agent));
    assert!(
        ana.signature.is_some(),
        "a staff token acts as the registered person"
    );
    assert_eq!(
        svc.authenticate("cw_wrong-secret-0000000000000000000000")
            .await
            .unwrap(),
        None
    );

    let secret2 = "cw_fedcba9876543210fedcba9876543210";
    let c = svc
        .create_token(
            &root,
            "Jordan Smith",
            Role::Customer,
            Some("jordan@customer.example".parse().unwrap()),
            secret2,
        )
        .await
        .unwrap();
    let jordan = svc.authenticate(secret2).await.unwrap().unwrap();
    assert_eq!(jordan.role, Role::Customer);
    assert_eq!(
        jordan.email.as_ref().map(|e| e.as_str()),
        Some("jordan@customer.example")
    );

    svc.revoke_token(&root, &c.id).await.unwrap();
    assert_eq!(
        svc.authenticate(secret2).await.unwrap(),
        None,
        "a revoked token authenticates nobody"
    );
    assert!(
        svc.authenticate(SECRET).await.unwrap().is_some(),
        "other tokens still work"
    );
}

#[tokio::test]
async fn only_admins_make_tokens_and_the_request_must_make_sense() {
    let store = Arc::new(MemoryStore::new());
    let (svc, _clock) = service(store);
    let root = Actor::from_person(&staff("Root", Role::Admin));
    let agent = Actor::from_person(&staff("Ana Lopez", Role::Agent));
    let refused = svc
        .create_token(&agent, "x", Role::Admin, None, SECRET)
        .await;
    assert!(matches!(
        refused,
        Err(ServiceError::Workflow(WorkflowError::Forbidden { .. }))
    ));
    let invalid = |r: Result<_, ServiceError>| {
        matches!(
            r,
            Err(ServiceError::Workflow(WorkflowError::Invalid { .. }))
        )
    };
    assert!(
        invalid(
            svc.create_token(&root, "c", Role::Customer, None, SECRET)
                .await
        ),
        "a customer token names its customer"
    );
    assert!(invalid(
        svc.create_token(
            &root,
            "a",
            Role::Agent,
            Some("a@customer.example".parse().unwrap()),
            SECRET
        )
        .await
    ));
    assert!(
        invalid(
            svc.create_token(&root, "a", Role::Agent, None, "short")
                .await
        ),
        "secrets are long"
    );
    assert!(invalid(
        svc.create_token(&root, " ", Role::Agent, None, SECRET)
            .await
    ));
}
