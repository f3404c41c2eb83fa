//! A case's surroundings: its messages, its files and (when asked) the directory, read
//! together, each as its own read gives it; an unknown case is not found.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::ids::CaseNumber;
use casework_core::model::{Role, Visibility};
use casework_core::ports::{
    Attachments, CaseLog, CaseSurroundings, Directory, OutboxQueue, StoreError, Surroundings,
};

use super::attachments::post_with;
use super::{desk, staff};

pub async fn a_cases_surroundings_are_what_its_separate_reads_give<
    S: CaseLog + OutboxQueue + Attachments + Directory + CaseSurroundings + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    // a case opened with a notice queued, and one without
    let (opened, notices) = b.opening_notices("Sync stopped");
    assert!(!notices.is_empty());
    let n = store
        .create_case(b.now(), "ana".into(), opened, notices)
        .await
        .unwrap()
        .number;
    let quiet = b.open("Quiet", "d", "b@customer.example").await.number;
    for (visibility, prefix) in [(Visibility::Customer, "f"), (Visibility::Internal, "g")] {
        let commit = post_with(
            &store,
            n,
            visibility,
            prefix,
            &[
                ("a.txt", "text/plain", b"one"),
                ("b.txt", "text/plain", b"two"),
            ],
        )
        .await;
        store.commit(commit).await.unwrap();
    }
    for (name, role) in [
        ("ana", Role::Agent),
        ("lee", Role::Lead),
        ("kim", Role::Admin),
    ] {
        store.put_person(staff(name, role)).await.unwrap();
    }
    for case in [n, quiet] {
        let separate = Surroundings {
            outbox: store.outbox_for_case(case).await.unwrap(),
            files: store.attachment_list(case).await.unwrap(),
            people: Some(store.list_people().await.unwrap()),
        };
        assert_eq!(
            store.case_surroundings(case, true).await.unwrap(),
            separate,
            "{case}"
        );
        assert_eq!(
            store.case_surroundings(case, false).await.unwrap(),
            Surroundings {
                people: None,
                ..separate
            },
            "{case}"
        );
    }
    let together = store.case_surroundings(n, true).await.unwrap();
    assert!(!together.outbox.is_empty());
    assert_eq!(together.files.len(), 4);
    assert_eq!(together.people.map(|p| p.len()), Some(3));
    let quiet = store.case_surroundings(quiet, false).await.unwrap();
    assert!(quiet.outbox.is_empty() && quiet.files.is_empty());
    // an unknown case
    let unknown = CaseNumber::new(999).unwrap();
    assert!(
        matches!(
            store.case_surroundings(unknown, true).await,
            Err(StoreError::NotFound(_))
        ),
        "an unknown case"
    );
}
