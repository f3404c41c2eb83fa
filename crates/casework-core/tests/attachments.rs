//! Attachments through the service, on the reference store: a post with files is one
//! commit; agents choose the visibility, a customer's files are customer-visible; a
//! customer gets only files of entries they may see (another customer's case, an internal
//! post: not found); the workflow file's limits refuse an upload by naming the field and
//! the setting, writing nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use casework_core::attachment::Upload;
use casework_core::config::WorkflowConfig;
use casework_core::event::EventKind;
use casework_core::ids::CaseNumber;
use casework_core::model::{Actor, Customer, Role, Visibility};
use casework_core::service::FilePost;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::workflow::{NewCase, WorkflowError};
use casework_core::{CaseService, ServiceError, Templates};
use casework_store_memory::MemoryStore;

fn service(workflow: &str) -> CaseService {
    service_on(Arc::new(MemoryStore::new()), workflow)
}

fn service_on(store: Arc<MemoryStore>, workflow: &str) -> CaseService {
    let config = WorkflowConfig::parse(workflow).unwrap();
    CaseService::new(
        store,
        Arc::new(FixedClock::default()),
        Arc::new(SequentialIds::default()),
        Arc::new(config),
        Arc::new(Templates::embedded().unwrap()),
    )
}

fn default_workflow() -> String {
    include_str!("../defaults/workflow.toml").to_string()
}

fn ana() -> Actor {
    Actor {
        name: "ana".into(),
        principal: "person:ana".into(),
        role: Role::Agent,
        email: None,
        phone: None,
        signature: None,
    }
}

fn dana() -> Actor {
    Actor::customer("Dana", "dana@example.com".parse().unwrap())
}

fn eve() -> Actor {
    Actor::customer("Eve", "eve@example.org".parse().unwrap())
}

fn file(name: &str, declared: &str, bytes: &[u8]) -> Upload {
    Upload {
        file_name: Some(name.into()),
        content_type: declared.into(),
        bytes: bytes.to_vec(),
    }
}

fn post(visibility: Visibility, files: Vec<Upload>) -> FilePost {
    FilePost {
        note: None,
        visibility,
        files,
    }
}

async fn open(svc: &CaseService) -> CaseNumber {
    let customer = Customer::new("Dana", "dana@example.com".parse().unwrap());
    svc.open_case(&ana(), NewCase::new("Export stops", "At 10%.", customer))
        .await
        .unwrap()
        .number
}

#[test]
fn a_post_with_files_is_one_commit_and_the_customer_sees_only_theirs() {
    futures::executor::block_on(
        a_post_with_files_is_one_commit_and_the_customer_sees_only_theirs_run(),
    );
}

async fn a_post_with_files_is_one_commit_and_the_customer_sees_only_theirs_run() {
    let svc = service(&default_workflow());
    let n = open(&svc).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR....";
    let shared = svc
        .attach(
            &ana(),
            n,
            None,
            post(
                Visibility::Customer,
                vec![file("../shot.png", "image/png", png)],
            ),
        )
        .await
        .unwrap();
    let entry = shared.outcome.events.last().unwrap();
    assert!(
        matches!(&entry.kind, EventKind::PostAdded { body, .. } if body == "Attached: shot.png")
    );
    let info = &shared.files[0];
    assert_eq!(
        (info.entry, info.file_name.as_str()),
        (entry.seq, "shot.png")
    );
    assert_eq!(info.content_type, "image/png");
    let internal = svc
        .attach(
            &ana(),
            n,
            None,
            FilePost {
                note: Some("the customer's licence file".into()),
                ..post(
                    Visibility::Internal,
                    vec![file("licence.txt", "text/plain", b"key")],
                )
            },
        )
        .await
        .unwrap();
    let secret = internal.files[0].id.clone();
    // staff see both; the customer only the customer-visible one
    assert_eq!(svc.attachments(&ana(), n).await.unwrap().len(), 2);
    let theirs = svc.attachments(&dana(), n).await.unwrap();
    assert_eq!(theirs, vec![info.clone()]);
    assert_eq!(
        svc.attachment(&dana(), n, &info.id).await.unwrap().bytes,
        png
    );
    let hidden = svc.attachment(&dana(), n, &secret).await.unwrap_err();
    assert_eq!(
        hidden,
        ServiceError::NotFound(format!("attachment {secret}"))
    );
    assert_eq!(
        svc.attachment(&ana(), n, &secret).await.unwrap().bytes,
        b"key"
    );
    // another customer: the case is not found, nor are its files
    let other = svc.attachments(&eve(), n).await.unwrap_err();
    assert!(matches!(other, ServiceError::NotFound(m) if m.starts_with("case")));
    let other = svc.attachment(&eve(), n, &info.id).await.unwrap_err();
    assert!(matches!(other, ServiceError::NotFound(m) if m.starts_with("case")));
    // a file asked for under another case is not found either
    let second = open(&svc).await;
    let elsewhere = svc.attachment(&ana(), second, &info.id).await.unwrap_err();
    assert!(matches!(elsewhere, ServiceError::NotFound(m) if m.starts_with("attachment")));
}

#[test]
fn a_customers_files_are_customer_visible_and_never_internal() {
    futures::executor::block_on(a_customers_files_are_customer_visible_and_never_internal_run());
}

async fn a_customers_files_are_customer_visible_and_never_internal_run() {
    let svc = service(&default_workflow());
    let n = open(&svc).await;
    let done = svc
        .attach(
            &dana(),
            n,
            None,
            post(
                Visibility::Customer,
                vec![file("log.txt", "text/plain", b"boom")],
            ),
        )
        .await
        .unwrap();
    assert_eq!(done.files[0].visibility, Visibility::Customer);
    assert_eq!(done.files[0].added_by, "Dana");
    assert!(matches!(
        &done.outcome.events[0].kind,
        EventKind::PostAdded {
            from_customer: true,
            ..
        }
    ));
    let refused = svc
        .attach(
            &dana(),
            n,
            None,
            post(
                Visibility::Internal,
                vec![file("x.txt", "text/plain", b"x")],
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        ServiceError::Workflow(WorkflowError::Forbidden { .. })
    ));
    // and never on another customer's case
    let refused = svc
        .attach(
            &eve(),
            n,
            None,
            post(
                Visibility::Customer,
                vec![file("x.txt", "text/plain", b"x")],
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, ServiceError::NotFound(_)));
    assert_eq!(svc.attachments(&ana(), n).await.unwrap().len(), 1);
}

#[test]
fn uploads_over_the_workflow_files_limits_are_refused_whole() {
    futures::executor::block_on(uploads_over_the_workflow_files_limits_are_refused_whole_run());
}

async fn uploads_over_the_workflow_files_limits_are_refused_whole_run() {
    let workflow = format!(
        "{}\n[attachments]\nmax_message_bytes = 1000\nmax_file_bytes = 600\n",
        default_workflow()
    );
    let svc = service(&workflow);
    let n = open(&svc).await;
    let version = svc.case(&ana(), n).await.unwrap().version;
    let big = file("big.bin", "application/octet-stream", &[0; 601]);
    let refused = svc
        .attach(&ana(), n, None, post(Visibility::Customer, vec![big]))
        .await
        .unwrap_err();
    let ServiceError::Workflow(WorkflowError::Invalid { field, message }) = refused else {
        panic!("not refused as invalid: {refused:?}");
    };
    assert_eq!(field, "files");
    assert!(
        message.contains("601 bytes, over the limit of 600 bytes per file"),
        "{message}"
    );
    assert!(message.contains("max_file_bytes"), "{message}");
    let two = vec![
        file("a", "text/plain", &[b'a'; 600]),
        file("b", "text/plain", &[b'b'; 401]),
    ];
    let refused = svc
        .attach(&ana(), n, None, post(Visibility::Customer, two))
        .await
        .unwrap_err();
    assert!(
        format!("{refused}").contains(
            "files: the files are 1001 bytes together, over the limit of 1000 bytes \
             ([attachments] max_message_bytes)"
        ),
        "{refused}"
    );
    assert!(svc.attachments(&ana(), n).await.unwrap().is_empty());
    assert_eq!(svc.case(&ana(), n).await.unwrap().version, version);
    let at_the_limit = vec![
        file("a", "text/plain", &[b'a'; 600]),
        file("b", "text/plain", &[b'b'; 400]),
    ];
    svc.attach(&ana(), n, None, post(Visibility::Customer, at_the_limit))
        .await
        .unwrap();
}

#[test]
fn the_workflow_file_bounds_the_limits() {
    let with =
        |section: &str| WorkflowConfig::parse(&format!("{}\n{section}\n", default_workflow()));
    let c = with("[attachments]\nmax_message_bytes = 2048").unwrap();
    assert_eq!(
        (
            c.attachments.max_message_bytes,
            c.attachments.max_file_bytes
        ),
        (2048, 2048)
    );
    let d = WorkflowConfig::parse(&default_workflow()).unwrap();
    assert_eq!(d.attachments.max_message_bytes, 25 * 1024 * 1024);
    for bad in [
        "[attachments]\nmax_message_bytes = 0",
        "[attachments]\nmax_message_bytes = 999999999999",
        "[attachments]\nmax_message_bytes = 10\nmax_file_bytes = 11",
        "[attachments]\nmax_bytes = 10",
    ] {
        let err = with(bad).unwrap_err().to_string();
        assert!(
            err.contains("attachments") || err.contains("max_bytes"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn files_end_a_batch_early_so_a_move_holds_little_in_memory() {
    futures::executor::block_on(files_end_a_batch_early_so_a_move_holds_little_in_memory_run());
}

/// Three cases with 22 MiB of files each pass `MAX_BATCH_FILE_BYTES` (64 MiB): an export
/// gives them as one batch and the fourth case as the next, an import writes them before
/// its batch of 10 is full, and a copy carries every file.
async fn files_end_a_batch_early_so_a_move_holds_little_in_memory_run() {
    use casework_core::exchange::Line;
    use casework_core::limits::MAX_BATCH_FILE_BYTES;
    use casework_core::ports::{Attachments, TransferStore};

    let store = Arc::new(MemoryStore::new());
    let svc = service_on(store.clone(), &default_workflow());
    let big: Vec<u8> = (0..22 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    assert!(
        3 * big.len() as u64 >= MAX_BATCH_FILE_BYTES
            && 2 * (big.len() as u64) < MAX_BATCH_FILE_BYTES
    );
    let mut ns = Vec::new();
    for i in 0..4 {
        let n = open(&svc).await;
        let bytes: &[u8] = if i < 3 { &big } else { b"small" };
        svc.attach(
            &ana(),
            n,
            None,
            post(
                Visibility::Customer,
                vec![file("dump.bin", "application/octet-stream", bytes)],
            ),
        )
        .await
        .unwrap();
        ns.push(n);
    }
    let operator = Actor::operator("cli");
    let source: &dyn TransferStore = &*store;
    let mut exporter = svc.exporter(&operator, source, 10).unwrap();
    let mut batches = Vec::new();
    let mut lines = Vec::new();
    while let Some(batch) = exporter.next().await.unwrap() {
        let cases: Vec<Line> = batch
            .into_iter()
            .filter(|l| matches!(l, Line::Case(_)))
            .collect();
        if !cases.is_empty() {
            batches.push(cases.len());
        }
        lines.extend(cases);
    }
    assert_eq!(batches, [3, 1], "the fourth case comes in the next batch");

    let target = Arc::new(MemoryStore::new());
    let mut importer = svc
        .importer(&operator, &*target, "ndjson", false, 10)
        .unwrap();
    for (i, line) in lines.into_iter().enumerate() {
        importer.add(format!("line {i}"), line).await.unwrap();
        let written = importer.report().cases.written;
        assert_eq!(written, if i < 2 { 0 } else { 3 }, "after line {i}");
    }
    let report = importer.finish().await.unwrap();
    assert_eq!((report.cases.written, report.files), (4, 4));

    let copied = Arc::new(MemoryStore::new());
    let report = svc
        .copy_store(&operator, source, &*copied, 10, &mut |_| {})
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.verified, report.files), (4, 4));
    for n in ns {
        for there in [&target, &copied] {
            let info = there.attachment_list(n).await.unwrap();
            assert_eq!(info, store.attachment_list(n).await.unwrap());
            let f = there.attachment_get(info[0].id.clone()).await.unwrap();
            assert_eq!(f, store.attachment_get(info[0].id.clone()).await.unwrap());
        }
    }
}
