//! Fixtures the stores' schema-upgrade tests share: data written by this build, read back
//! after the test took the store back to an older version and opened it again, so every
//! store's migration is checked against the same expectations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Cases an upgrade test opens before it takes a store back to a version without the case
/// list's sort keys and last customer replies ([`open_cases_for_the_list_orders`]).
#[derive(Debug, Clone, Copy)]
pub struct ListOrderCases {
    /// Opened first; the customer replies on it last.
    pub a: casework_core::ids::CaseNumber,
    /// Opened second, then made urgent.
    pub b: casework_core::ids::CaseNumber,
    /// Opened last; never replied to.
    pub c: casework_core::ids::CaseNumber,
    /// When the customer replied on `a`.
    pub reply_at: jiff::Timestamp,
}

/// Opens three cases through `svc` as an agent, a step of a minute and some nanoseconds
/// apart (finer than a stored key keeps), makes the second urgent and has the first's
/// customer reply: by the last change `a, b, c`, by priority `b, a, c`. The stores' upgrade
/// tests then take the store back and check what the migration filled with
/// [`check_the_list_orders_after_an_upgrade`].
pub async fn open_cases_for_the_list_orders(
    svc: &casework_core::CaseService,
    clock: &casework_core::testing::FixedClock,
) -> ListOrderCases {
    use casework_core::model::{Actor, PostKind, Priority, Role, Visibility};
    use casework_core::workflow::{CaseEdit, Command};
    let step = jiff::SignedDuration::from_nanos(60_000_000_999);
    let ana = Actor {
        role: Role::Agent,
        ..Actor::operator("ana")
    };
    let mut numbers = Vec::new();
    for title in ["a", "b", "c"] {
        clock.advance(step);
        let case = casework_core::testing::new_case(title);
        numbers.push(svc.open_case(&ana, case).await.unwrap().number);
    }
    let (a, b, c) = (numbers[0], numbers[1], numbers[2]);
    clock.advance(step);
    let urgent = CaseEdit {
        priority: Some(Priority::Urgent),
        ..Default::default()
    };
    svc.execute(&ana, b, None, Command::Edit(urgent))
        .await
        .unwrap();
    clock.advance(step);
    let customer = Actor::customer("C", "c@customer.example".parse().unwrap());
    let reply = Command::AddPost {
        kind: PostKind::Note,
        body: "still broken".into(),
        visibility: Visibility::Customer,
    };
    let replied = svc.execute(&customer, a, None, reply).await.unwrap();
    let reply_at = replied.case.last_customer_reply_at.expect("a reply time");
    ListOrderCases { a, b, c, reply_at }
}

/// After the upgrade: every stored state is what its history replays to (the last customer
/// reply included), and the lists by the last change and by priority read the filled keys,
/// two cases a page.
pub async fn check_the_list_orders_after_an_upgrade<S: crate::CaseStore + ?Sized>(
    store: &S,
    cases: &ListOrderCases,
) {
    use casework_core::ports::{CaseFilter, CaseOrder};
    let ListOrderCases { a, b, c, reply_at } = *cases;
    for n in [a, b, c] {
        let case = store.load_case(n).await.unwrap();
        let history = store.history(n).await.unwrap();
        assert_eq!(
            casework_core::event::replay(&history).unwrap(),
            case,
            "case {n}"
        );
    }
    let reply = |n| async move { store.load_case(n).await.unwrap().last_customer_reply_at };
    assert_eq!(reply(a).await, Some(reply_at));
    assert_eq!(reply(c).await, None);
    let walk = async |order| {
        crate::list_pages(store, CaseFilter::default(), order, 2)
            .await
            .concat()
    };
    assert_eq!(walk(CaseOrder::Updated).await, [a, b, c]);
    assert_eq!(walk(CaseOrder::Priority).await, [b, a, c]);
}

/// What an upgrade test writes and reads for the reopen report: the cases of the reports
/// behaviours (closes, reopens, a temporary close, a non-response close) and the report
/// and drill-down of every grouping over several periods, as this build answers them.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSnapshot {
    /// The cases.
    pub cases: Vec<casework_core::ids::CaseNumber>,
    /// Per grouping and period, the rows and every row's first page of cases.
    pub answers: Vec<(
        Vec<casework_core::ports::ReportRow>,
        Vec<casework_core::ports::Page<casework_core::ports::ReportCase>>,
    )>,
}

fn report_periods() -> Vec<(Option<jiff::Timestamp>, Option<jiff::Timestamp>)> {
    let start = casework_core::testing::START;
    let day = |d: i64| Some(start + jiff::SignedDuration::from_hours(24 * d));
    vec![
        (None, None),
        (day(1), None),
        (None, day(1)),
        (day(1), day(7)),
    ]
}

async fn report_answers<S: casework_core::ports::Reports + ?Sized>(
    store: &S,
) -> Vec<(
    Vec<casework_core::ports::ReportRow>,
    Vec<casework_core::ports::Page<casework_core::ports::ReportCase>>,
)> {
    use casework_core::ports::{PageRequest, ReportCasesQuery, ReportGroup, ReportQuery};
    let mut out = Vec::new();
    for group_by in [
        ReportGroup::ProductArea,
        ReportGroup::Owner,
        ReportGroup::PrimaryResolution,
    ] {
        for (from, to) in report_periods() {
            let report = ReportQuery { group_by, from, to };
            let rows = store.reopen_report(report).await.unwrap();
            let mut pages = Vec::new();
            for row in &rows {
                let q = ReportCasesQuery {
                    report,
                    key: row.key.clone(),
                    page: PageRequest {
                        limit: 50,
                        ..PageRequest::default()
                    },
                };
                pages.push(store.reopen_report_cases(q).await.unwrap());
            }
            out.push((rows, pages));
        }
    }
    out
}

/// Writes the reports behaviours' cases into `store` and reads every report: call before
/// taking the store back to a version without the report's aggregates.
pub async fn report_for_an_upgrade<S>(store: std::sync::Arc<S>) -> ReportSnapshot
where
    S: casework_core::ports::CaseLog + casework_core::ports::Reports + ?Sized + 'static,
{
    let b = crate::behaviours::desk(store);
    let cases = crate::behaviours::reports::report_data(&b).await;
    let answers = report_answers(&*b.store).await;
    assert!(
        answers
            .iter()
            .any(|(rows, _)| rows.iter().any(|r| r.reopened > 0)),
        "the fixture reopens cases"
    );
    ReportSnapshot { cases, answers }
}

/// After the upgrade: every report and drill-down is what it was before, and a closure
/// committed after the upgrade is counted at once (the filled aggregates stay live).
pub async fn check_the_report_after_an_upgrade<S>(store: std::sync::Arc<S>, before: &ReportSnapshot)
where
    S: casework_core::ports::CaseLog + casework_core::ports::Reports + ?Sized + 'static,
{
    use casework_core::ports::{ReportGroup, ReportQuery};
    assert_eq!(report_answers(&*store).await, before.answers);
    let all = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: None,
        to: None,
    };
    let closed =
        |rows: &[casework_core::ports::ReportRow]| -> u64 { rows.iter().map(|r| r.closed).sum() };
    let was = closed(&store.reopen_report(all).await.unwrap());
    let b = crate::behaviours::desk(store);
    // case 1 was closed once and never reopened: reopen it and close it again (telling no
    // customer: this desk's message ids start again)
    use casework_core::model::{CloseMode, Resolution};
    use casework_core::workflow::Command;
    let n = before.cases[1];
    let reopen = Command::Reopen {
        reason: "after the upgrade".into(),
        notify_customer: false,
    };
    assert!(
        b.try_run(&crate::behaviours::lee(), n, reopen)
            .await
            .is_some()
    );
    let summary = Command::AddPost {
        kind: casework_core::model::PostKind::Summary,
        body: "summary".into(),
        visibility: casework_core::model::Visibility::Internal,
    };
    assert!(
        b.try_run(&crate::behaviours::ana(), n, summary)
            .await
            .is_some()
    );
    let close = Command::Close {
        mode: CloseMode::Resolved,
        resolution: Some(Resolution {
            primary: "Training".into(),
            secondary: "Done".into(),
        }),
        notify_customer: false,
    };
    let confirm = Command::ConfirmTitle;
    assert!(
        b.try_run(&crate::behaviours::ana(), n, confirm)
            .await
            .is_some()
    );
    assert!(
        b.try_run(&crate::behaviours::ana(), n, close)
            .await
            .is_some()
    );
    let rows = b.store.reopen_report(all).await.unwrap();
    assert_eq!(
        closed(&rows),
        was,
        "the same case closed again is counted once"
    );
    let printing = rows.iter().find(|r| r.key == "Printing").unwrap();
    assert_eq!(
        printing.reopened, 2,
        "its reopen is counted after the upgrade"
    );
}
