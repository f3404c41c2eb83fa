//! Moving whole stores (`casework store copy`): knowledge listed in order, cases imported
//! with their own numbers and histories (all or nothing, safe to repeat, caught up when the
//! source moved on), core's copy from one store into another, and `casework export` and
//! `casework import` (NDJSON) through the service. Each behaviour gets two
//! fresh stores of the same kind, a source and a target; the group needs `TransferStore`
//! (every capability and `StoreTransfer`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::exchange::Line;
use casework_core::ids::CaseNumber;
use casework_core::model::{
    Actor, ApiToken, Defect, NewArticle, PostKind, Role, Visibility, token_hash,
};
use casework_core::ports::{
    CaseFilter, CaseRecord, DeliveryOutcome, Imported, PageRequest, ReportGroup, ReportQuery,
    Scope, SearchQuery, StoreError, TransferStore,
};
use casework_core::service::{CaseService, ServiceError};
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::transfer::read_record;
use casework_core::workflow::{Command, WorkflowError};
use casework_core::{Templates, WorkflowConfig};
use jiff::SignedDuration;

use super::attachments::post_with;
use super::case_queries::corpus;
use super::outbox::queue_three;
use super::reports::report_data;
use super::{Desk, ana, desk, email, staff};

/// A desk on `store` with three staff members (ana, bob, lee) in its directory.
/// The service over `store` as the CLI wires it: the default workflow file.
fn service_over<S: TransferStore + 'static>(store: Arc<S>) -> CaseService {
    CaseService::new(
        store,
        Arc::new(FixedClock::default()),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    )
}

async fn staffed<S: TransferStore + 'static>(store: Arc<S>) -> Desk<S> {
    for (n, r) in [
        ("ana", Role::Agent),
        ("bob", Role::Agent),
        ("lee", Role::Lead),
    ] {
        store.put_person(staff(n, r)).await.unwrap();
    }
    desk(store)
}

/// A source store with a bit of everything: the search corpus (cases, an article, a
/// defect), cases closed and reopened, files on an internal and a customer-visible post,
/// emails in every delivery state, a revoked token.
async fn populated<S: TransferStore + 'static>(store: Arc<S>) -> (Desk<S>, Vec<CaseNumber>) {
    let b = staffed(store).await;
    let mut ns: Vec<CaseNumber> = corpus(&b).await.to_vec();
    ns.extend(report_data(&b).await);
    b.post(
        ns[0],
        PostKind::Note,
        "zebracorn internal",
        Visibility::Internal,
    )
    .await;
    // files on an internal post and on a customer-visible one: every byte value, an empty
    // file, and a name that needs care
    let binary: Vec<u8> = (0..=255u8).cycle().take(3_000).collect();
    for (n, visibility, prefix, files) in [
        (
            ns[0],
            Visibility::Internal,
            "moved-int",
            vec![("notes.bin", "application/octet-stream", binary.as_slice())],
        ),
        (
            ns[1],
            Visibility::Customer,
            "moved-cus",
            vec![
                (
                    "Überweisung März.pdf",
                    "application/pdf",
                    b"%PDF-1.4 mini".as_slice(),
                ),
                ("empty.txt", "text/plain", b"".as_slice()),
            ],
        ),
    ] {
        let commit = post_with(&b.store, n, visibility, prefix, &files).await;
        b.store.commit(commit).await.unwrap();
    }
    queue_three(&b).await;
    let now = b.now();
    let claimed = b
        .store
        .outbox_claim("w".into(), now, now + SignedDuration::from_mins(5), 2)
        .await
        .unwrap();
    b.store
        .outbox_finish(
            claimed[0].id.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Sent,
        )
        .await
        .unwrap();
    b.store
        .outbox_finish(
            claimed[1].id.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Failed {
                error: "550 no such user".into(),
            },
        )
        .await
        .unwrap();
    for (id, revoked) in [("t1", false), ("t2", true)] {
        b.store
            .put_token(ApiToken {
                id: id.into(),
                name: format!("{id} holder"),
                role: Role::Agent,
                customer_email: None,
                hash: token_hash(id),
                created_at: now,
                revoked_at: None,
            })
            .await
            .unwrap();
        if revoked {
            b.store.revoke_token(id.into(), now).await.unwrap();
        }
    }
    let all = b.all(CaseFilter::default()).await;
    (b, all.into_iter().filter_map(CaseNumber::new).collect())
}

async fn records<S: TransferStore + 'static>(b: &Desk<S>, ns: &[CaseNumber]) -> Vec<CaseRecord> {
    let mut out = Vec::new();
    for n in ns {
        out.push(read_record(&*b.store, *n).await.unwrap());
    }
    out
}

/// What a reader sees of a store: every case, its history and outbox; search, similar and
/// report answers (scores left out: the same engine ranks the same way, but floats need not
/// print alike).
async fn answers(store: &Arc<dyn TransferStore>) -> String {
    let mut out = String::new();
    let page = store
        .list_cases(
            CaseFilter::default(),
            PageRequest {
                limit: 500,
                after: None,
                ..PageRequest::default()
            },
        )
        .await
        .unwrap();
    for c in &page.items {
        out.push_str(&format!(
            "{:?}\n{:?}\n{:?}\n",
            c,
            store.history(c.number).await.unwrap(),
            store.outbox_for_case(c.number).await.unwrap()
        ));
        // every file: its metadata (visibility and sha256 among them) and its very bytes
        for info in store.attachment_list(c.number).await.unwrap() {
            let file = store.attachment_get(info.id.clone()).await.unwrap();
            assert_eq!(file.info, info);
            out.push_str(&format!("{info:?}\n{:?}\n", file.bytes));
        }
    }
    for (text, scope) in [
        ("printer offline", Scope::Staff),
        ("spooler", Scope::Staff),
        ("pdf", Scope::Customer(email("a@customer.example"))),
        ("zebracorn", Scope::Staff),
        ("zebracorn", Scope::Customer(email("a@customer.example"))),
    ] {
        let hits = store
            .search(SearchQuery {
                text: text.into(),
                kind: None,
                scope,
                limit: 10,
            })
            .await
            .unwrap();
        let refs: Vec<_> = hits
            .iter()
            .map(|h| (h.kind, h.reference.clone(), h.title.clone()))
            .collect();
        out.push_str(&format!("{text}: {refs:?}\n"));
    }
    if let Some(first) = page.items.first() {
        let similar = store.similar(first.number, Scope::Staff, 10).await.unwrap();
        let refs: Vec<_> = similar
            .iter()
            .map(|h| (h.kind, h.reference.clone()))
            .collect();
        out.push_str(&format!("similar: {refs:?}\n"));
    }
    for g in [ReportGroup::ProductArea, ReportGroup::Owner] {
        let rows = store
            .reopen_report(ReportQuery {
                group_by: g,
                from: None,
                to: None,
            })
            .await
            .unwrap();
        out.push_str(&format!("{rows:?}\n"));
    }
    out
}

pub async fn imported_cases_keep_their_numbers_histories_and_answers<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let (src, ns) = populated(from.clone()).await;
    let target: Arc<dyn TransferStore> = to.clone();
    let source: Arc<dyn TransferStore> = from.clone();
    // knowledge first, as the copy does, so search answers can match
    for a in source.list_articles(None, 10).await.unwrap() {
        assert_eq!(target.import_article(a).await.unwrap(), Imported::Written);
    }
    for d in source.list_defects(None, 10).await.unwrap() {
        target.add_defect(d).await.unwrap();
    }
    let batch = records(&src, &ns).await;
    let outcomes = target.import_cases(batch).await.unwrap();
    assert_eq!(outcomes, vec![Imported::Written; ns.len()]);
    assert_eq!(answers(&target).await, answers(&source).await);
    // numbers go on after the imported ones
    let max = ns.iter().map(|n| n.get()).max().unwrap();
    let next = target
        .create_case(
            src.now(),
            "ana".into(),
            casework_core::testing::opened("after"),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(next.number.get() > max, "{} after {max}", next.number);
}

pub async fn importing_again_changes_nothing_and_catches_up<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let src = staffed(from.clone()).await;
    let a = src.open("First", "d", "a@customer.example").await.number;
    let c = src.open("Second", "d", "a@customer.example").await.number;
    let first = records(&src, &[a, c]).await;
    to.import_cases(first.clone()).await.unwrap();
    assert_eq!(
        to.import_cases(first.clone()).await.unwrap(),
        [Imported::Unchanged, Imported::Unchanged]
    );
    // the source moves on: a rerun appends what is new
    src.post(a, PostKind::Note, "later note", Visibility::Customer)
        .await;
    src.run(&ana(), a, Command::Take).await;
    let again = records(&src, &[a]).await;
    assert_eq!(
        to.import_cases(again.clone()).await.unwrap(),
        [Imported::Extended]
    );
    assert_eq!(to.history(a).await.unwrap(), again[0].history);
    assert_eq!(
        to.load_case(a).await.unwrap(),
        src.store.load_case(a).await.unwrap()
    );
    assert_eq!(
        to.list_cases(
            CaseFilter {
                owner: Some("ana".into()),
                q: Some("later".into()),
                ..Default::default()
            },
            PageRequest::default()
        )
        .await
        .unwrap()
        .items
        .len(),
        1,
        "appended events are indexed and listed"
    );
    // a different history under a taken number is refused, and the batch writes nothing
    let mut forged = records(&src, &[c]).await.remove(0);
    let d = src.open("Third", "d", "a@customer.example").await.number;
    let fresh = records(&src, &[d]).await.remove(0);
    forged.history[0].actor = "mallory".into();
    let err = to
        .import_cases(vec![fresh.clone(), forged])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert!(
        matches!(to.load_case(d).await, Err(StoreError::NotFound(_))),
        "all or nothing"
    );
    // histories that do not replay are refused
    let mut misnumbered = fresh.clone();
    misnumbered.history[0].seq = 2;
    let empty = CaseRecord {
        history: Vec::new(),
        outbox: Vec::new(),
        attachments: Vec::new(),
    };
    for bad in [misnumbered, empty] {
        let err = to.import_cases(vec![bad]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        to.import_cases(vec![fresh]).await.unwrap(),
        [Imported::Written]
    );
}

pub async fn articles_and_defects_list_in_order_and_import_with_their_ids<S>(
    from: Arc<S>,
    to: Arc<S>,
) where
    S: TransferStore + 'static,
{
    let src = staffed(from.clone()).await;
    let now = src.now();
    let mut made = Vec::new();
    for t in ["A", "B", "C"] {
        made.push(
            from.add_article(
                NewArticle {
                    title: t.into(),
                    body: format!("body {t}"),
                    url: None,
                },
                now,
            )
            .await
            .unwrap(),
        );
    }
    for key in ["BUG-2", "BUG-10", "BUG-1"] {
        from.add_defect(Defect {
            key: key.into(),
            title: key.into(),
            body: "b".into(),
            state: "open".into(),
            created_at: now,
        })
        .await
        .unwrap();
    }
    let page = from.list_articles(None, 2).await.unwrap();
    assert_eq!(page, made[..2]);
    assert_eq!(
        from.list_articles(Some(made[1].id), 2).await.unwrap(),
        made[2..]
    );
    let keys: Vec<String> = from
        .list_defects(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, ["BUG-1", "BUG-10", "BUG-2"], "by key, byte order");
    let rest = from.list_defects(Some("BUG-1".into()), 1).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].key, "BUG-10");
    // into the other store, with their ids
    let last = made[2].clone();
    assert_eq!(
        to.import_article(last.clone()).await.unwrap(),
        Imported::Written
    );
    assert_eq!(to.get_article(last.id).await.unwrap(), last);
    assert_eq!(
        to.import_article(last.clone()).await.unwrap(),
        Imported::Unchanged
    );
    let mut other = last.clone();
    other.title = "Another".into();
    assert!(matches!(
        to.import_article(other).await,
        Err(StoreError::Duplicate(_))
    ));
    let added = to
        .add_article(
            NewArticle {
                title: "new".into(),
                body: "n".into(),
                url: None,
            },
            now,
        )
        .await
        .unwrap();
    assert!(added.id > last.id, "ids go on after the imported ones");
}

pub async fn a_copy_moves_everything_and_a_rerun_catches_up<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let (src, ns) = populated(from.clone()).await;
    let source: Arc<dyn TransferStore> = from.clone();
    let target: Arc<dyn TransferStore> = to.clone();
    // through the service over the source, as `casework store copy` goes: the workflow
    // file's `store` permission decides who may, and a refusal reads and writes nothing
    let svc = service_over(from.clone());
    let operator = Actor::operator("cli");
    for role in [Role::Admin, Role::Lead, Role::Agent] {
        let who = Actor { role, ..ana() };
        let refused = svc
            .copy_store(&who, &*source, &*target, 3, &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                ServiceError::Workflow(WorkflowError::Forbidden { .. })
            ),
            "{role:?}: {refused:?}"
        );
    }
    assert_eq!(
        target.stats().await.unwrap().cases,
        0,
        "a refused copy writes nothing"
    );
    assert!(target.list_people().await.unwrap().is_empty());
    let mut stages = Vec::new();
    let report = svc
        .copy_store(&operator, &*source, &*target, 3, &mut |s| stages.push(s))
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.cases.written, ns.len() as u64);
    assert_eq!(report.verified, ns.len() as u64);
    assert_eq!((report.people, report.tokens.written), (3, 2));
    assert_eq!((report.articles.written, report.defects.written), (1, 1));
    assert!(report.messages >= 4);
    assert_eq!(report.files, 3, "files travel with their cases");
    // every case, then the webhook endpoints, then the quarantine
    assert!(
        matches!(
            stages[..],
            [
                ..,
                casework_core::transfer::Stage::Cases { done, total },
                casework_core::transfer::Stage::WebhookEndpoints,
                casework_core::transfer::Stage::QuarantinedMail
            ] if done == total && total == ns.len() as u64
        ),
        "{stages:?}"
    );
    assert_eq!(answers(&target).await, answers(&source).await);
    assert_eq!(
        target.list_tokens().await.unwrap(),
        source.list_tokens().await.unwrap()
    );
    assert_eq!(
        target.list_people().await.unwrap(),
        source.list_people().await.unwrap()
    );
    // run again: nothing changes
    let again = svc
        .copy_store(&operator, &*source, &*target, 3, &mut |_| {})
        .await
        .unwrap();
    assert!(again.failures.is_empty(), "{:?}", again.failures);
    assert_eq!(again.cases.unchanged, ns.len() as u64);
    assert_eq!((again.cases.written, again.cases.updated), (0, 0));
    assert_eq!(again.tokens.unchanged, 2);
    assert_eq!(again.files, 3);
    assert_eq!(answers(&target).await, answers(&source).await);
    // the source moves on; a rerun catches up
    src.post(
        ns[1],
        PostKind::Note,
        "after the copy",
        Visibility::Internal,
    )
    .await;
    source.revoke_token("t1".into(), src.now()).await.unwrap();
    let late = src.open("Late", "d", "b@customer.example").await.number;
    let third = svc
        .copy_store(&operator, &*source, &*target, 3, &mut |_| {})
        .await
        .unwrap();
    assert!(third.failures.is_empty(), "{:?}", third.failures);
    assert_eq!((third.cases.written, third.cases.updated), (1, 1));
    assert_eq!(third.tokens.updated, 1);
    assert_eq!(target.load_case(late).await.unwrap().title, "Late");
    assert_eq!(answers(&target).await, answers(&source).await);
    // a case the target holds with another history is reported, and the rest still goes
    let other: Arc<dyn TransferStore> = to.clone();
    src.post(ns[2], PostKind::Note, "source side", Visibility::Internal)
        .await;
    let mut forged = records(&src, &[ns[2]]).await.remove(0);
    forged.history.last_mut().unwrap().actor = "mallory".into();
    other.import_cases(vec![forged]).await.unwrap();
    src.post(ns[3], PostKind::Note, "still copied", Visibility::Internal)
        .await;
    let fourth = svc
        .copy_store(&operator, &*source, &*target, 50, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(fourth.failures.len(), 1, "{:?}", fourth.failures);
    assert!(
        fourth.failures[0].contains(&ns[2].to_string()),
        "{:?}",
        fourth.failures
    );
    assert_eq!(
        fourth.cases.updated, 1,
        "the other changed case was caught up"
    );
}

/// Every line an export of `store` writes, as JSON text, through the service as `casework
/// export` goes.
async fn export_lines(svc: &CaseService, store: &dyn TransferStore, batch: u32) -> Vec<String> {
    let mut exporter = svc.exporter(&Actor::operator("cli"), store, batch).unwrap();
    let mut out = Vec::new();
    while let Some(lines) = exporter.next().await.unwrap() {
        out.extend(lines.iter().map(|l| l.to_json().unwrap()));
    }
    out
}

/// Imports NDJSON text through the service as `casework import` goes.
async fn import_lines(
    svc: &CaseService,
    store: &dyn TransferStore,
    lines: &[String],
    dry_run: bool,
) -> casework_core::exchange::ImportReport {
    let mut importer = svc
        .importer(&Actor::operator("cli"), store, "ndjson", dry_run, 4)
        .unwrap();
    for (i, text) in lines.iter().enumerate() {
        importer.read(1);
        match Line::parse(text) {
            Ok(line) => importer.add(format!("line {}", i + 1), line).await.unwrap(),
            Err(e) => importer.refuse(format!("line {}", i + 1), e),
        }
    }
    importer.finish().await.unwrap()
}

pub async fn an_export_imports_into_an_empty_store_and_exports_the_same<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let (_, ns) = populated(from.clone()).await;
    let source: Arc<dyn TransferStore> = from.clone();
    let target: Arc<dyn TransferStore> = to.clone();
    let svc = service_over(from.clone());
    // only who holds the `store` permission may export or import: an export holds every
    // internal note, an import writes histories past the workflow
    for role in [Role::Admin, Role::Lead, Role::Agent, Role::Customer] {
        let who = Actor { role, ..ana() };
        assert!(matches!(
            svc.exporter(&who, &*source, 10).err(),
            Some(ServiceError::Workflow(WorkflowError::Forbidden { .. }))
        ));
        assert!(matches!(
            svc.importer(&who, &*target, "ndjson", false, 10).err(),
            Some(ServiceError::Workflow(WorkflowError::Forbidden { .. }))
        ));
    }
    let exported = export_lines(&svc, &*source, 3).await;
    assert_eq!(
        exported
            .iter()
            .filter(|l| l.starts_with(r#"{"kind":"case""#))
            .count(),
        ns.len(),
        "one line a case"
    );
    assert!(exported[0].starts_with(r#"{"kind":"header","format":"casework""#));
    assert!(
        !exported.iter().any(|l| l.contains(&token_hash("t1"))),
        "tokens are not exported"
    );
    // a dry run checks everything and writes nothing
    let dry = import_lines(&svc, &*target, &exported, true).await;
    assert!(dry.refused.is_empty(), "{:?}", dry.refused);
    assert_eq!(dry.checked, exported.len() as u64 - 1, "all but the header");
    assert_eq!(
        target.stats().await.unwrap().cases,
        0,
        "a dry run writes nothing"
    );
    assert!(target.list_people().await.unwrap().is_empty());
    // into an empty store: nothing lost, the export of the target is the same file
    let report = import_lines(&svc, &*target, &exported, false).await;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.cases.written, ns.len() as u64);
    assert_eq!(
        (
            report.people,
            report.articles.written,
            report.defects.written
        ),
        (3, 1, 1)
    );
    assert!(report.messages >= 4);
    assert_eq!(report.files, 3, "files travel in their cases' lines");
    assert_eq!(
        exported
            .iter()
            .filter(|l| l.contains(r#""attachments":[{"info":"#))
            .count(),
        2,
        "the two cases with files carry them"
    );
    assert_eq!(export_lines(&svc, &*target, 7).await, exported);
    assert_eq!(answers(&target).await, answers(&source).await);
    // silent: the import queued no email beyond the source's own messages
    assert_eq!(
        target.outbox_list(None, 500).await.unwrap().len(),
        source.outbox_list(None, 500).await.unwrap().len()
    );
    // again: nothing changes
    let again = import_lines(&svc, &*target, &exported, false).await;
    assert!(again.refused.is_empty(), "{:?}", again.refused);
    assert_eq!(again.cases.unchanged, ns.len() as u64);
    assert_eq!((again.cases.written, again.cases.updated), (0, 0));
    assert_eq!(again.files, 3);
    assert_eq!(export_lines(&svc, &*target, 500).await, exported);
    assert_eq!(answers(&target).await, answers(&source).await);
}

pub async fn an_import_refuses_bad_records_by_name_and_takes_the_rest<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let b = staffed(from.clone()).await;
    let one = b.open("One", "d", "a@customer.example").await.number;
    let two = b.open("Two", "d", "a@customer.example").await.number;
    let svc = service_over(from.clone());
    let mut lines = export_lines(&svc, &*from, 10).await;
    // a killed import: only the first case arrived
    let first_case = lines
        .iter()
        .position(|l| l.starts_with(r#"{"kind":"case""#))
        .unwrap();
    let partial = import_lines(&svc, &*to, &lines[..first_case + 1], false).await;
    assert_eq!(partial.cases.written, 1);
    assert!(to.load_case(one).await.is_ok());
    assert!(matches!(
        to.load_case(two).await,
        Err(StoreError::NotFound(_))
    ));
    // a line that is not JSON, a history that skips an event, an unknown kind
    let mut broken: serde_json::Value = serde_json::from_str(&lines[first_case]).unwrap();
    broken["history"][0]["seq"] = serde_json::json!(2);
    broken["history"][0]["case"] = serde_json::json!(40);
    lines.push(broken.to_string());
    lines.push("{not json".into());
    lines.push(r#"{"kind":"spaceship"}"#.into());
    let report = import_lines(&svc, &*to, &lines, false).await;
    assert_eq!(report.refused.len(), 3, "{:?}", report.refused);
    let n = lines.len();
    assert!(
        report.refused[0].starts_with(&format!("line {}: ", n - 2)),
        "{:?}",
        report.refused
    );
    assert!(
        report.refused[0].contains("out of sequence"),
        "{:?}",
        report.refused
    );
    assert!(report.refused[1].starts_with(&format!("line {}: ", n - 1)));
    assert!(
        report.refused[2].contains("spaceship"),
        "{:?}",
        report.refused
    );
    // the rest went in: the resumed import wrote the second case, left the first
    assert_eq!((report.cases.written, report.cases.unchanged), (1, 1));
    assert_eq!(to.load_case(two).await.unwrap().title, "Two");
    assert!(matches!(
        to.load_case(CaseNumber::new(40).unwrap()).await,
        Err(StoreError::NotFound(_))
    ));
    // a case the target holds with another history is refused by number; the rest goes on
    let other = staffed(to.clone()).await;
    other
        .post(
            two,
            PostKind::Note,
            "only on the target",
            Visibility::Internal,
        )
        .await;
    b.post(
        two,
        PostKind::Note,
        "only on the source",
        Visibility::Internal,
    )
    .await;
    let three = b.open("Three", "d", "a@customer.example").await.number;
    let lines = export_lines(&svc, &*from, 10).await;
    let report = import_lines(&svc, &*to, &lines, false).await;
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert!(
        report.refused[0].starts_with(&format!("case {two}: ")),
        "{:?}",
        report.refused
    );
    assert_eq!((report.cases.written, report.cases.unchanged), (1, 1));
    assert_eq!(to.load_case(three).await.unwrap().title, "Three");
}

pub async fn mail_read_again_after_a_copy_opens_no_case_twice<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    use super::inbound::{CUSTOMER, mail};
    let reader = Actor::operator("mail");
    let source = service_over(from.clone());
    let first = mail("moved-1", CUSTOMER, "Printer offline", "it shows error 42");
    let opened = source.ingest(&reader, &first).await.unwrap();
    let mut reply = mail("moved-2", CUSTOMER, "Re: Printer offline", "still broken");
    reply.in_reply_to = vec![first.message_id.clone().unwrap()];
    let replied = source.ingest(&reader, &reply).await.unwrap();
    assert_eq!(replied.case, opened.case);
    let (src, dst): (Arc<dyn TransferStore>, Arc<dyn TransferStore>) = (from, to.clone());
    let report = source
        .copy_store(&Actor::operator("cli"), &*src, &*dst, 10, &mut |_| {})
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // a poller starting over on the new store reads both again: nothing changes
    let target = service_over(to.clone());
    for (m, was) in [(&first, &opened), (&reply, &replied)] {
        let again = target.ingest(&reader, m).await.unwrap();
        assert_eq!(
            (again.case, again.created, again.duplicate),
            (was.case, was.created, true),
            "{:?}",
            m.message_id
        );
    }
    assert_eq!(to.stats().await.unwrap().cases, 1);
    assert_eq!(
        to.history(opened.case).await.unwrap(),
        src.history(opened.case).await.unwrap()
    );
}

pub async fn files_are_imported_once_checked_and_never_over_another<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let b = staffed(from.clone()).await;
    let a = b
        .open("With a file", "d", "a@customer.example")
        .await
        .number;
    let commit = post_with(
        &b.store,
        a,
        Visibility::Customer,
        "once",
        &[("log.txt", "text/plain", b"line 1\n".as_slice())],
    )
    .await;
    b.store.commit(commit).await.unwrap();
    let first = records(&b, &[a]).await;
    assert_eq!(first[0].attachments.len(), 1);
    assert_eq!(
        to.import_cases(first.clone()).await.unwrap(),
        [Imported::Written]
    );
    assert_eq!(
        to.import_cases(first.clone()).await.unwrap(),
        [Imported::Unchanged],
        "a file there already, the same, changes nothing"
    );
    assert_eq!(
        to.attachment_get("once-1".into()).await.unwrap(),
        first[0].attachments[0]
    );
    // the source moves on with another file: the rerun appends the post and adds its file
    let commit = post_with(
        &b.store,
        a,
        Visibility::Internal,
        "later",
        &[(
            "trace.bin",
            "application/octet-stream",
            [0u8, 255, 13, 10].as_slice(),
        )],
    )
    .await;
    b.store.commit(commit).await.unwrap();
    let again = records(&b, &[a]).await;
    assert_eq!(
        to.import_cases(again.clone()).await.unwrap(),
        [Imported::Extended]
    );
    let listed = to.attachment_list(a).await.unwrap();
    let sent: Vec<_> = again[0]
        .attachments
        .iter()
        .map(|f| f.info.clone())
        .collect();
    assert_eq!(listed, sent);
    assert_eq!(listed[1].visibility, Visibility::Internal);
    // another case whose file takes a stored id with other bytes: refused, nothing written
    let c = b.open("Clash", "d", "b@customer.example").await.number;
    let commit = post_with(
        &b.store,
        c,
        Visibility::Customer,
        "clash",
        &[("other.txt", "text/plain", b"other bytes".as_slice())],
    )
    .await;
    b.store.commit(commit).await.unwrap();
    let mut clash = records(&b, &[c]).await.remove(0);
    clash.attachments[0].info.id = "once-1".into();
    let err = to.import_cases(vec![clash]).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert!(
        matches!(to.load_case(c).await, Err(StoreError::NotFound(_))),
        "all or nothing"
    );
    assert_eq!(
        to.attachment_get("once-1".into()).await.unwrap(),
        first[0].attachments[0]
    );
    // files that do not check against their case are refused whole
    let good = records(&b, &[c]).await.remove(0);
    let mut tampered = good.clone();
    tampered.attachments[0].bytes.push(b'!');
    let mut misplaced = good.clone();
    misplaced.attachments[0].info.entry = 1; // the `opened` event, not a post
    let mut exposed = good.clone();
    exposed.attachments[0].info.visibility = Visibility::Internal;
    for bad in [tampered, misplaced, exposed] {
        let err = to.import_cases(vec![bad]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        assert!(matches!(
            to.load_case(c).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            to.attachment_get("clash-1".into()).await,
            Err(StoreError::NotFound(_))
        ));
    }
    assert_eq!(
        to.import_cases(vec![good]).await.unwrap(),
        [Imported::Written]
    );
}

pub async fn an_export_written_before_files_travelled_still_imports<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    let b = staffed(from.clone()).await;
    let svc = service_over(from.clone());
    let n = b.open("Old", "d", "a@customer.example").await.number;
    let history = serde_json::to_string(&b.store.history(n).await.unwrap()).unwrap();
    // version 1, and a case line as it was written then: no `attachments` key
    let old = vec![
        r#"{"kind":"header","format":"casework","version":1,"cases":1}"#.to_string(),
        format!(r#"{{"kind":"case","history":{history},"outbox":[]}}"#),
    ];
    let report = import_lines(&svc, &*to, &old, false).await;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!((report.cases.written, report.files), (1, 0));
    assert_eq!(
        to.history(n).await.unwrap(),
        b.store.history(n).await.unwrap()
    );
    // an export of a store without files writes no `attachments` key: the same lines
    let exported = export_lines(&svc, &*to, 10).await;
    assert_eq!(exported[1..], old[1..]);
    // a case line whose file does not check is refused by its line, and the rest goes on
    let commit = post_with(
        &b.store,
        n,
        Visibility::Customer,
        "late",
        &[("a.txt", "text/plain", b"abc".as_slice())],
    )
    .await;
    b.store.commit(commit).await.unwrap();
    let m = b.open("Next", "d", "a@customer.example").await.number;
    let mut lines = export_lines(&svc, &*from, 10).await;
    let i = lines.iter().position(|l| l.contains("\"late-1\"")).unwrap();
    lines[i] = lines[i].replace(&casework_core::model::sha256_hex(b"abc"), &"0".repeat(64));
    let report = import_lines(&svc, &*to, &lines, false).await;
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert!(
        report.refused[0].starts_with(&format!("line {}: attachment \"late-1\"", i + 1)),
        "{:?}",
        report.refused
    );
    assert_eq!(to.load_case(m).await.unwrap().title, "Next");
    assert!(to.attachment_list(n).await.unwrap().is_empty());
}

pub async fn webhook_endpoints_travel_with_a_copy_and_their_removal_follows<S>(
    from: Arc<S>,
    to: Arc<S>,
) where
    S: TransferStore + 'static,
{
    use casework_core::webhook::WebhookEndpoint;
    let at = |s: i64| jiff::Timestamp::from_second(1_700_000_000 + s).unwrap();
    let endpoint = |id: &str, url: &str, removed: Option<i64>| WebhookEndpoint {
        id: id.into(),
        url: url.into(),
        events: if id == "ep_all" {
            vec![]
        } else {
            vec!["case.closed".into()]
        },
        secret: format!("whsec_{id}"),
        created_by: "root".into(),
        created_at: at(0),
        removed_at: removed.map(at),
    };
    from.webhook_add(endpoint("ep_all", "https://hooks.example/all", None))
        .await
        .unwrap();
    from.webhook_add(endpoint("ep_old", "https://hooks.example/old", Some(60)))
        .await
        .unwrap();
    let (src, dst): (Arc<dyn TransferStore>, Arc<dyn TransferStore>) = (from.clone(), to.clone());
    let svc = service_over(from.clone());
    let copy = || async {
        svc.copy_store(&Actor::operator("cli"), &*src, &*dst, 10, &mut |_| {})
            .await
            .unwrap()
    };
    let report = copy().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.webhooks.written, 2);
    // with their secrets, removed ones staying removed
    assert_eq!(
        to.webhook_list().await.unwrap(),
        from.webhook_list().await.unwrap()
    );

    // again: nothing changes
    let report = copy().await;
    assert_eq!((report.webhooks.written, report.webhooks.unchanged), (0, 2));

    // removed in the source since: removed on the target at the same time
    from.webhook_remove("ep_all".into(), at(120)).await.unwrap();
    // a different endpoint under an id the target holds is refused by name, the rest goes on
    to.webhook_add(endpoint("ep_new", "https://elsewhere.example/", None))
        .await
        .unwrap();
    from.webhook_add(endpoint("ep_new", "https://hooks.example/new", None))
        .await
        .unwrap();
    let report = copy().await;
    assert_eq!(report.webhooks.updated, 1, "{report:?}");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0].contains("webhook endpoint ep_new"),
        "{:?}",
        report.failures
    );
    let moved = to.webhook_list().await.unwrap();
    let all = moved.iter().find(|e| e.id == "ep_all").unwrap();
    assert_eq!(all.removed_at, Some(at(120)));
    let new = moved.iter().find(|e| e.id == "ep_new").unwrap();
    assert_eq!(new.url, "https://elsewhere.example/", "never written over");
}

pub async fn the_quarantine_travels_with_a_copy_and_an_export<S>(from: Arc<S>, to: Arc<S>)
where
    S: TransferStore + 'static,
{
    use casework_core::ports::QuarantinedMessage;
    let kept = |id: &str, second: i64, raw: &[u8]| QuarantinedMessage {
        id: id.into(),
        received_at: jiff::Timestamp::from_second(1_700_000_000 + second).unwrap(),
        source: "imap".into(),
        reason: "automatic message (auto-submitted)".into(),
        raw: raw.to_vec(),
    };
    // bytes no text could hold, and two arriving in the same second
    let messages = [
        kept("q-b", 5, b"From: \xff\0\r\n\r\nbody"),
        kept("q-a", 5, b"Subject: same second\r\n\r\n"),
        kept("q-c", 9, &[0u8, 1, 2, 255]),
    ];
    for m in &messages {
        from.quarantine_put(m.clone()).await.unwrap();
    }
    let (src, dst): (Arc<dyn TransferStore>, Arc<dyn TransferStore>) = (from.clone(), to.clone());
    let svc = service_over(from.clone());
    let kept_in = |store: Arc<S>| async move {
        let mut all = Vec::new();
        for entry in store.quarantine_list(None, 100).await.unwrap() {
            all.push(store.quarantine_get(entry.id).await.unwrap());
        }
        all
    };
    // a copy a page of two at a time: all three, byte for byte, oldest first
    let copy = || async {
        svc.copy_store(&Actor::operator("cli"), &*src, &*dst, 2, &mut |_| {})
            .await
            .unwrap()
    };
    let report = copy().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.quarantine.written, 3, "{report:?}");
    assert_eq!(kept_in(to.clone()).await, kept_in(from.clone()).await);
    assert_eq!(kept_in(to.clone()).await[0].id, "q-a");
    // again: nothing changes; a different message under an id the target holds is
    // refused by name and the rest goes on
    to.quarantine_remove("q-c".into()).await.unwrap();
    to.quarantine_put(kept("q-c", 9, b"another message"))
        .await
        .unwrap();
    let report = copy().await;
    assert_eq!(report.quarantine.unchanged, 2, "{report:?}");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0].contains("quarantined message q-c"),
        "{:?}",
        report.failures
    );
    assert_eq!(
        to.quarantine_get("q-c".into()).await.unwrap().raw,
        b"another message",
        "never written over"
    );

    // an export carries them after the cases, and imports into an emptied quarantine
    for m in &messages {
        to.quarantine_remove(m.id.clone()).await.unwrap();
    }
    let exported = export_lines(&svc, &*src, 2).await;
    let lines: Vec<&String> = exported
        .iter()
        .filter(|l| l.starts_with(r#"{"kind":"quarantined""#))
        .collect();
    assert_eq!(lines.len(), 3, "{exported:?}");
    let dry = import_lines(&svc, &*dst, &exported, true).await;
    assert_eq!(dry.quarantine.total(), 0, "a dry run writes nothing");
    assert!(to.quarantine_list(None, 10).await.unwrap().is_empty());
    let report = import_lines(&svc, &*dst, &exported, false).await;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.quarantine.written, 3);
    assert_eq!(kept_in(to.clone()).await, kept_in(from.clone()).await);
    let again = import_lines(&svc, &*dst, &exported, false).await;
    assert_eq!(again.quarantine.unchanged, 3);
    assert_eq!(export_lines(&svc, &*dst, 100).await, exported);
    // an id that is not one line of text (an edited file) is refused by its line, the
    // rest goes in
    let forged = vec![
        lines[0].replace(r#""id":"q-a""#, r#""id":"q-\nforged""#),
        lines[1].clone(),
    ];
    assert!(forged[0].contains("forged"), "{forged:?}");
    let report = import_lines(&svc, &*dst, &forged, false).await;
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert!(
        report.refused[0].starts_with("line 1: quarantined message id: contains a line break"),
        "{:?}",
        report.refused
    );
    assert_eq!(report.quarantine.unchanged, 1);
    assert!(matches!(
        to.quarantine_get("q-\nforged".into()).await,
        Err(StoreError::NotFound(_))
    ));
}
