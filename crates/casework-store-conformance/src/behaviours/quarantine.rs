//! Quarantine: refused inbound messages kept byte for byte with when, whence and why, listed
//! oldest first a page at a time, found by id, removed once, and never two under one id.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::ports::{Quarantine, QuarantineEntry, QuarantinedMessage, StoreError};
use jiff::Timestamp;

fn kept(id: &str, second: i64, raw: &[u8]) -> QuarantinedMessage {
    QuarantinedMessage {
        id: id.into(),
        received_at: Timestamp::from_second(1_700_000_000 + second).unwrap(),
        source: "ingest".into(),
        reason: "from: no sender address Casework can answer".into(),
        raw: raw.to_vec(),
    }
}

pub async fn kept_messages_round_trip_byte_for_byte<S: Quarantine + ?Sized + 'static>(
    store: Arc<S>,
) {
    // bytes no text column could hold: NUL, invalid UTF-8, a bare CR
    let raw = b"From: \xff\xfe\0\r\nSubject: =?x?q?bad?=\r\n\r\nbody\0\r".to_vec();
    let m = QuarantinedMessage {
        source: "imap".into(),
        reason: "a reason with a NUL \0 and \u{e000}".into(),
        ..kept("q-1", 0, &raw)
    };
    store.quarantine_put(m.clone()).await.unwrap();
    assert_eq!(store.quarantine_get("q-1".into()).await.unwrap(), m);
    // a list shows everything but the bytes, and their count
    assert_eq!(
        store.quarantine_list(None, 10).await.unwrap(),
        vec![m.entry()]
    );
    assert_eq!(m.entry().size, raw.len() as u64);
}

pub async fn a_message_as_big_as_inbound_mail_may_be_is_kept_whole<
    S: Quarantine + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    // what every input may hand the pipeline (a remote store carries it in base64, well
    // over its usual request limit): every byte value, in a message of the largest size
    let raw: Vec<u8> = (0..casework_core::limits::MAX_INBOUND_MESSAGE)
        .map(|i| (i % 251) as u8)
        .collect();
    store.quarantine_put(kept("big", 0, &raw)).await.unwrap();
    let back = store.quarantine_get("big".into()).await.unwrap();
    assert!(back.raw == raw, "{} bytes came back", back.raw.len());
    let listed = store.quarantine_list(None, 1).await.unwrap();
    assert_eq!(listed[0].size, raw.len() as u64);
}

pub async fn the_list_is_oldest_first_and_limited<S: Quarantine + ?Sized + 'static>(store: Arc<S>) {
    assert!(store.quarantine_list(None, 10).await.unwrap().is_empty());
    for (id, at) in [("c", 5), ("a", 9), ("b", 1), ("d", 5)] {
        store.quarantine_put(kept(id, at, b"x")).await.unwrap();
    }
    let ids = |v: Vec<QuarantineEntry>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.quarantine_list(None, 10).await.unwrap()),
        ["b", "c", "d", "a"]
    );
    assert_eq!(
        ids(store.quarantine_list(None, 2).await.unwrap()),
        ["b", "c"]
    );
    // pages go on after the last entry listed, through ties of time, to the end
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.quarantine_list(after, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.after());
        pages.extend(ids(page));
    }
    assert_eq!(pages, ["b", "c", "d", "a"]);
    let after_c = store.quarantine_list(None, 2).await.unwrap()[1].after();
    assert_eq!(
        ids(store.quarantine_list(Some(after_c), 10).await.unwrap()),
        ["d", "a"]
    );
}

pub async fn an_id_is_kept_once<S: Quarantine + ?Sized + 'static>(store: Arc<S>) {
    store.quarantine_put(kept("q", 0, b"first")).await.unwrap();
    let again = store.quarantine_put(kept("q", 1, b"second")).await;
    assert!(matches!(again, Err(StoreError::Duplicate(_))), "{again:?}");
    assert_eq!(
        store.quarantine_get("q".into()).await.unwrap().raw,
        b"first"
    );
    assert_eq!(store.quarantine_list(None, 10).await.unwrap().len(), 1);
}

pub async fn removing_takes_one_message_once<S: Quarantine + ?Sized + 'static>(store: Arc<S>) {
    store.quarantine_put(kept("a", 0, b"a")).await.unwrap();
    store.quarantine_put(kept("b", 1, b"b")).await.unwrap();
    store.quarantine_remove("a".into()).await.unwrap();
    for r in [
        store.quarantine_remove("a".into()).await.map(|_| ()),
        store.quarantine_get("a".into()).await.map(|_| ()),
        store.quarantine_remove("nobody".into()).await,
    ] {
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    }
    let left = store.quarantine_list(None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, "b");
}
