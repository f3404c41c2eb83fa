//! Attachments: files written by the commit of their post, all or nothing, kept byte for
//! byte with their metadata, listed per case, with their post's visibility; a commit whose
//! files break the rules, or which fails for any other reason, leaves no file behind.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::attachment::keep;
use casework_core::ids::CaseNumber;
use casework_core::model::{PostKind, Visibility};
use casework_core::ports::{AttachmentFile, Attachments, CaseLog, Commit, StoreError};
use casework_core::workflow::Command;

use super::{a_failing_commit, ana, desk, post_commit};

/// A post on case `n` as ana, with `files` (name, declared type, bytes) kept with it under
/// ids `{prefix}-1`, `{prefix}-2`, …; not yet committed.
pub(crate) async fn post_with<S: CaseLog + ?Sized>(
    store: &Arc<S>,
    n: CaseNumber,
    visibility: Visibility,
    prefix: &str,
    files: &[(&str, &str, &[u8])],
) -> Commit {
    let b = desk(store.clone());
    let post = Command::AddPost {
        kind: PostKind::Note,
        body: "see the files".into(),
        visibility,
    };
    let mut commit = b.plan(&ana(), n, post).await;
    let entry = commit.events.last().unwrap().clone();
    commit.attachments = files
        .iter()
        .enumerate()
        .map(|(i, (name, declared, bytes))| {
            keep(
                format!("{prefix}-{}", i + 1),
                &entry,
                Some(name),
                declared,
                bytes.to_vec(),
            )
            .unwrap()
        })
        .collect();
    commit
}

async fn assert_none_kept<S: Attachments + ?Sized>(store: &S, n: CaseNumber, ids: &[&str]) {
    assert!(store.attachment_list(n).await.unwrap().is_empty());
    for id in ids {
        assert!(matches!(
            store.attachment_get(id.to_string()).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

pub async fn files_round_trip_with_their_post_byte_for_byte<
    S: CaseLog + Attachments + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    let n = b.open("t", "d", "a@customer.example").await.number;
    // every byte value (no text column could hold it), and an empty file
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let commit = post_with(
        &store,
        n,
        Visibility::Customer,
        "f",
        &[
            ("screen shot.png", "image/png", &binary),
            ("empty.txt", "text/plain", b""),
        ],
    )
    .await;
    let sent: Vec<AttachmentFile> = commit.attachments.clone();
    let entry = commit.events.last().unwrap().seq;
    let case = store.commit(commit).await.unwrap();
    assert_eq!(case.version, entry);
    let listed = store.attachment_list(n).await.unwrap();
    assert_eq!(
        listed,
        sent.iter().map(|a| a.info.clone()).collect::<Vec<_>>()
    );
    for a in &sent {
        let back = store.attachment_get(a.info.id.clone()).await.unwrap();
        assert!(back == *a, "{} came back as {:?}", a.info.id, back);
    }
    let first = &listed[0];
    assert_eq!(first.entry, entry);
    assert_eq!(first.file_name, "screen shot.png");
    assert_eq!(first.size, 70_000);
    assert_eq!(first.visibility, Visibility::Customer);
    assert_eq!(first.added_by, "ana");
    assert_eq!(listed[1].size, 0);
}

pub async fn files_are_listed_per_case_in_entry_order<
    S: CaseLog + Attachments + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    let one = b.open("one", "d", "a@customer.example").await.number;
    let two = b.open("two", "d", "b@customer.example").await.number;
    assert!(store.attachment_list(one).await.unwrap().is_empty());
    for (n, prefix) in [(one, "b"), (two, "x"), (one, "a")] {
        let c = post_with(
            &store,
            n,
            Visibility::Customer,
            prefix,
            &[("f.txt", "text/plain", b"hi")],
        )
        .await;
        store.commit(c).await.unwrap();
    }
    let ids = |v: Vec<casework_core::ports::AttachmentInfo>| {
        v.into_iter().map(|a| a.id).collect::<Vec<_>>()
    };
    // by entry, not by id: "b-1" came with an earlier post than "a-1"
    assert_eq!(
        ids(store.attachment_list(one).await.unwrap()),
        ["b-1", "a-1"]
    );
    assert_eq!(ids(store.attachment_list(two).await.unwrap()), ["x-1"]);
    let unknown = CaseNumber::new(999).unwrap();
    assert!(matches!(
        store.attachment_list(unknown).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.attachment_get("nothing".into()).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn a_file_of_an_internal_post_is_internal<S: CaseLog + Attachments + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    let n = b.open("t", "d", "a@customer.example").await.number;
    let c = post_with(
        &store,
        n,
        Visibility::Internal,
        "i",
        &[("notes.txt", "text/plain", b"x")],
    )
    .await;
    store.commit(c).await.unwrap();
    let got = store.attachment_get("i-1".into()).await.unwrap();
    assert_eq!(got.info.visibility, Visibility::Internal);
    // a file claiming to be customer-visible on an internal post is refused
    let mut c = post_with(
        &store,
        n,
        Visibility::Internal,
        "j",
        &[("a.txt", "text/plain", b"x")],
    )
    .await;
    c.attachments[0].info.visibility = Visibility::Customer;
    assert!(matches!(store.commit(c).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.attachment_list(n).await.unwrap().len(), 1);
}

pub async fn a_refused_commit_leaves_no_file<S: CaseLog + Attachments + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    // a conflict: the case moved on since the post was decided
    let n = b.open("t", "d", "a@customer.example").await.number;
    let stale = post_with(
        &store,
        n,
        Visibility::Customer,
        "s",
        &[("a.txt", "text/plain", b"1")],
    )
    .await;
    let moved = store.load_case(n).await.unwrap();
    store
        .commit(post_commit(&moved, moved.version, "first"))
        .await
        .unwrap();
    assert!(matches!(
        store.commit(stale).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_none_kept(&*store, n, &["s-1"]).await;
    // a commit refused for a taken outbox id
    let (c, _, mut failing) = a_failing_commit(&b).await;
    let entry = failing
        .events
        .iter()
        .find(|e| matches!(e.kind, casework_core::event::EventKind::PostAdded { .. }))
        .unwrap()
        .clone();
    failing.attachments = vec![
        keep(
            "o-1".into(),
            &entry,
            Some("a.txt"),
            "text/plain",
            b"2".to_vec(),
        )
        .unwrap(),
    ];
    assert!(matches!(
        store.commit(failing).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_none_kept(&*store, c.number, &["o-1"]).await;
    // a file id already taken: the post is not written either
    let first = post_with(
        &store,
        c.number,
        Visibility::Customer,
        "t",
        &[("a.txt", "text/plain", b"3")],
    )
    .await;
    store.commit(first).await.unwrap();
    let before = store.history(c.number).await.unwrap().len();
    let again = post_with(
        &store,
        c.number,
        Visibility::Customer,
        "t",
        &[("b.txt", "text/plain", b"4")],
    )
    .await;
    assert!(matches!(
        store.commit(again).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(store.history(c.number).await.unwrap().len(), before);
    let kept = store.attachment_get("t-1".into()).await.unwrap();
    assert_eq!(kept.bytes, b"3");
}

pub async fn files_breaking_the_rules_are_refused_whole<
    S: CaseLog + Attachments + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    let n = b.open("t", "d", "a@customer.example").await.number;
    let version = store.load_case(n).await.unwrap().version;
    type Edit = fn(&mut AttachmentFile);
    let edits: [(&str, Edit); 8] = [
        ("a directory in the name", |a| {
            a.info.file_name = "../etc/passwd".into()
        }),
        ("a line break in the name", |a| {
            a.info.file_name = "a\r\nb.txt".into()
        }),
        ("an empty name", |a| a.info.file_name = String::new()),
        ("a name too long", |a| a.info.file_name = "x".repeat(256)),
        ("a size that is not the bytes'", |a| a.info.size += 1),
        ("a digest that is not the bytes'", |a| a.bytes.push(b'!')),
        ("a content type that is not one", |a| {
            a.info.content_type = "text/html\r\nX: y".into()
        }),
        ("an entry that is no post", |a| a.info.entry = 1),
    ];
    for (what, edit) in edits {
        let mut c = post_with(
            &store,
            n,
            Visibility::Customer,
            "r",
            &[
                ("ok.txt", "text/plain", b"fine"),
                ("b.txt", "text/plain", b"data"),
            ],
        )
        .await;
        edit(&mut c.attachments[1]);
        let refused = store.commit(c).await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{what}: {refused:?}"
        );
        assert_none_kept(&*store, n, &["r-1", "r-2"]).await;
        assert_eq!(store.load_case(n).await.unwrap().version, version, "{what}");
    }
}

pub async fn a_file_as_big_as_a_message_may_carry_is_kept_whole<
    S: CaseLog + Attachments + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    // the default limit of one message's files (a remote store carries them in base64,
    // well over its usual request limit)
    let big: Vec<u8> = (0..casework_core::limits::DEFAULT_ATTACHMENT_BYTES)
        .map(|i| (i % 251) as u8)
        .collect();
    let b = desk(store.clone());
    let n = b.open("t", "d", "a@customer.example").await.number;
    let c = post_with(
        &store,
        n,
        Visibility::Customer,
        "big",
        &[("big.bin", "application/octet-stream", &big)],
    )
    .await;
    store.commit(c).await.unwrap();
    let back = store.attachment_get("big-1".into()).await.unwrap();
    assert!(back.bytes == big, "{} bytes came back", back.bytes.len());
    assert_eq!(back.info.size, big.len() as u64);
}
