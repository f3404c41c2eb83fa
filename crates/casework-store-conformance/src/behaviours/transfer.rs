//! Moving whole stores (`casework store copy`): knowledge listed in order, cases imported
//! with their own numbers and histories (all or nothing, safe to repeat, caught up when the
//! source moved on), and core's copy from one store into another. Each behaviour gets two
//! fresh stores of the same kind, a source and a target; the group needs `TransferStore`
//! (every capability and `StoreTransfer`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

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
use casework_core::workflow::{Command, WorkflowError};
use casework_core::{Templates, WorkflowConfig};
use jiff::SignedDuration;

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
/// defect), cases closed and reopened, emails in every delivery state, a revoked token.
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

async fn records<S: TransferStore + ?Sized>(b: &Desk<S>, ns: &[CaseNumber]) -> Vec<CaseRecord> {
    let mut out = Vec::new();
    for n in ns {
        out.push(CaseRecord {
            history: b.store.history(*n).await.unwrap(),
            outbox: b.store.outbox_for_case(*n).await.unwrap(),
        });
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
    assert!(matches!(
        stages.last(),
        Some(casework_core::transfer::Stage::Cases { done, total }) if *done == *total && *total == ns.len() as u64
    ));
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
