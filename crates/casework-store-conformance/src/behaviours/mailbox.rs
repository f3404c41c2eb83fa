//! Mailbox positions: none until saved, saved per mailbox, never back under one
//! UIDVALIDITY, replaced under another, and concurrent saves end at the highest.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::ports::{MailboxPosition, MailboxPositions};

const INBOX: &str = "imaps://desk@mail.example.com:993/INBOX";
const OTHER: &str = "imaps://desk@mail.example.com:993/Support";

fn at(uid_validity: u32, last_uid: u32) -> MailboxPosition {
    MailboxPosition {
        uid_validity,
        last_uid,
    }
}

pub async fn a_position_is_saved_per_mailbox<S: MailboxPositions + ?Sized + 'static>(
    store: Arc<S>,
) {
    assert_eq!(store.mailbox_position(INBOX.into()).await.unwrap(), None);
    let saved = store
        .advance_mailbox_position(INBOX.into(), at(7, 3))
        .await
        .unwrap();
    assert_eq!(saved, at(7, 3));
    assert_eq!(
        store.mailbox_position(INBOX.into()).await.unwrap(),
        Some(at(7, 3))
    );
    assert_eq!(store.mailbox_position(OTHER.into()).await.unwrap(), None);
    // the largest values IMAP has round trip
    store
        .advance_mailbox_position(OTHER.into(), at(u32::MAX, u32::MAX))
        .await
        .unwrap();
    assert_eq!(
        store.mailbox_position(OTHER.into()).await.unwrap(),
        Some(at(u32::MAX, u32::MAX))
    );
    assert_eq!(
        store.mailbox_position(INBOX.into()).await.unwrap(),
        Some(at(7, 3))
    );
}

pub async fn a_position_never_moves_back_under_one_uidvalidity<
    S: MailboxPositions + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    store
        .advance_mailbox_position(INBOX.into(), at(7, 10))
        .await
        .unwrap();
    // a poller that finished later with an older batch does not move it back
    let kept = store
        .advance_mailbox_position(INBOX.into(), at(7, 4))
        .await
        .unwrap();
    assert_eq!(kept, at(7, 10));
    assert_eq!(
        store
            .advance_mailbox_position(INBOX.into(), at(7, 12))
            .await
            .unwrap(),
        at(7, 12)
    );
    // the mailbox was recreated: its new UIDVALIDITY starts again, lower UIDs and all
    let recreated = store
        .advance_mailbox_position(INBOX.into(), at(8, 1))
        .await
        .unwrap();
    assert_eq!(recreated, at(8, 1));
    assert_eq!(
        store.mailbox_position(INBOX.into()).await.unwrap(),
        Some(at(8, 1))
    );
}

pub async fn concurrent_saves_end_at_the_highest<S: MailboxPositions + ?Sized + 'static>(
    store: Arc<S>,
) {
    let saves: Vec<_> = (1..=20u32)
        .map(|uid| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .advance_mailbox_position(INBOX.into(), at(7, uid))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for save in saves {
        save.await.unwrap();
    }
    assert_eq!(
        store.mailbox_position(INBOX.into()).await.unwrap(),
        Some(at(7, 20))
    );
}
