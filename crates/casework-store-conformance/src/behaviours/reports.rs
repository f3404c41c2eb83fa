//! Reports: the reopen report and its drill-down on a fixed data set, against the reference
//! computation in core, with periods and pages.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use casework_core::ids::CaseNumber;
use casework_core::model::{
    Case, CloseMode, ContactChannel, ContactOutcome, PostKind, Resolution, Visibility,
};
use casework_core::ports::{
    CaseLog, PageRequest, ReportCasesQuery, ReportGroup, ReportQuery, Reports,
};
use casework_core::report;
use casework_core::workflow::{CaseEdit, Command};
use jiff::{SignedDuration, Timestamp};

use super::{Desk, ana, desk, lee};

/// Six cases with closes and reopens at known times; returns their numbers.
pub(crate) async fn report_data<S: CaseLog + ?Sized>(b: &Desk<S>) -> Vec<CaseNumber> {
    let mut ns = Vec::new();
    for i in 0..6 {
        ns.push(
            b.open(&format!("report {i}"), "d", "a@customer.example")
                .await
                .number,
        );
    }
    // day 0: close 0 (Printing/Configuration), 1 (Printing/Training), 2 (Exporting/Configuration)
    b.close_resolved(ns[0], "Printing", "Configuration").await;
    b.close_resolved(ns[1], "Printing", "Training").await;
    b.close_resolved(ns[2], "Exporting", "Configuration").await;
    // case 3 is closed temporarily (by its owner): never counted
    b.run(&ana(), ns[3], Command::Take).await;
    b.run(
        &ana(),
        ns[3],
        Command::Close {
            mode: CloseMode::Temporary,
            resolution: None,
            notify_customer: true,
        },
    )
    .await;
    b.advance_days(2);
    b.reopen(ns[0]).await; // 2 days
    b.reopen(ns[3]).await; // a temporary close: not counted
    b.advance_days(4);
    b.reopen(ns[2]).await; // 6 days
    // case 0 closes again on day 6 and reopens on day 7
    b.close_resolved(ns[0], "Printing", "Configuration").await;
    b.advance_days(1);
    b.reopen(ns[0]).await; // 1 day
    // case 4 closes for non-response after five attempts, each 21 hours after the last
    b.run(&ana(), ns[4], Command::Take).await;
    for ch in [
        ContactChannel::Email,
        ContactChannel::Phone,
        ContactChannel::Email,
        ContactChannel::Phone,
        ContactChannel::Email,
    ] {
        b.clock.advance(SignedDuration::from_hours(21));
        b.run(
            &ana(),
            ns[4],
            Command::RecordContact {
                channel: ch,
                outcome: ContactOutcome::NoResponse,
                note: None,
            },
        )
        .await;
    }
    b.run(
        &ana(),
        ns[4],
        Command::Close {
            mode: CloseMode::NonResponse,
            resolution: None,
            notify_customer: true,
        },
    )
    .await;
    ns
}

async fn histories<S: CaseLog + ?Sized>(
    b: &Desk<S>,
    ns: &[CaseNumber],
) -> Vec<(Case, Vec<casework_core::Event>)> {
    let mut out = Vec::new();
    for n in ns {
        out.push((
            b.store.load_case(*n).await.unwrap(),
            b.store.history(*n).await.unwrap(),
        ));
    }
    out
}

pub async fn the_reopen_report_matches_the_reference_on_a_fixed_data_set<
    S: CaseLog + Reports + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let ns = report_data(&b).await;
    let q = |group_by| ReportQuery {
        group_by,
        from: None,
        to: None,
    };

    let rows = b
        .store
        .reopen_report(q(ReportGroup::ProductArea))
        .await
        .unwrap();
    type Row<'a> = (&'a str, u64, u64, f64, Option<f64>, u64, u64);
    let got: Vec<Row> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.closed,
                r.reopened,
                r.reopen_rate,
                r.median_days_to_reopen,
                r.temporarily_closed,
                r.reopened_from_temporary,
            )
        })
        .collect();
    // case 3's temporary close (and its reopen) counts apart from the rate
    assert_eq!(
        got,
        [
            ("(none)", 1, 0, 0.0, None, 1, 1),
            ("Exporting", 1, 1, 1.0, Some(6.0), 0, 0),
            ("Printing", 2, 1, 0.5, Some(1.5), 0, 0),
        ]
    );

    let rows = b
        .store
        .reopen_report(q(ReportGroup::PrimaryResolution))
        .await
        .unwrap();
    let got: Vec<(&str, u64, u64)> = rows
        .iter()
        .map(|r| (r.key.as_str(), r.closed, r.reopened))
        .collect();
    assert_eq!(
        got,
        [
            ("(none)", 1, 0),
            ("Configuration", 2, 2),
            ("Training", 1, 0)
        ]
    );

    let by_owner = || async {
        let rows = b.store.reopen_report(q(ReportGroup::Owner)).await.unwrap();
        rows.iter()
            .map(|r| (r.key.clone(), r.closed, r.reopened, r.temporarily_closed))
            .collect::<Vec<_>>()
    };
    let owners = [
        ("(none)".to_string(), 3, 2, 0),
        ("ana".to_string(), 1, 0, 1),
    ];
    assert_eq!(by_owner().await, owners);
    // reassigning closed cases does not rewrite the report: closures keep their owner
    for n in [ns[1], ns[4]] {
        b.run(
            &lee(),
            n,
            Command::Assign {
                owner: "bob".into(),
            },
        )
        .await;
    }
    assert_eq!(by_owner().await, owners, "grouped by the owner at close");

    // and it agrees with the reference computation over the same histories
    let data = histories(&b, &ns).await;
    for g in [
        ReportGroup::ProductArea,
        ReportGroup::Owner,
        ReportGroup::PrimaryResolution,
    ] {
        let reference = report::compute(data.iter().map(|(_, e)| e.as_slice()), &q(g));
        assert_eq!(b.store.reopen_report(q(g)).await.unwrap(), reference);
    }
}

pub async fn the_reopen_report_honours_its_period<S: CaseLog + Reports + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let ns = report_data(&b).await;
    let start = casework_core::testing::START;
    let day = |d: i64| start + SignedDuration::from_hours(24 * d);
    // closures from day 1 on: case 0's second close (day 6) and case 4's (day 11)
    let q = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: Some(day(1)),
        to: None,
    };
    let rows = b.store.reopen_report(q).await.unwrap();
    let got: Vec<(&str, u64, u64, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.closed,
                r.reopened,
                r.median_days_to_reopen,
            )
        })
        .collect();
    assert_eq!(got, [("(none)", 1, 0, None), ("Printing", 1, 1, Some(1.0))]);
    // before day 1 only
    let q = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: None,
        to: Some(day(1)),
    };
    let rows = b.store.reopen_report(q).await.unwrap();
    let got: Vec<(&str, u64, u64, Option<f64>, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.closed,
                r.reopened,
                r.median_days_to_reopen,
                r.temporarily_closed,
            )
        })
        .collect();
    // case 3's temporary close on day 0 makes a row of its own
    assert_eq!(
        got,
        [
            ("(none)", 0, 0, None, 1),
            ("Exporting", 1, 1, Some(6.0), 0),
            ("Printing", 2, 1, Some(2.0), 0)
        ]
    );
    let data = histories(&b, &ns).await;
    let reference = report::compute(data.iter().map(|(_, e)| e.as_slice()), &q);
    assert_eq!(rows, reference);
}

pub async fn the_reopen_report_drills_down_to_cases_and_reasons<
    S: CaseLog + Reports + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let ns = report_data(&b).await;
    let start = casework_core::testing::START;
    let day = |d: i64| start + SignedDuration::from_hours(24 * d);
    let q = |group_by, key: &str, from, limit, after| ReportCasesQuery {
        report: ReportQuery {
            group_by,
            from,
            to: None,
        },
        key: key.into(),
        page: PageRequest {
            limit,
            after,
            ..PageRequest::default()
        },
    };
    let page = b
        .store
        .reopen_report_cases(q(ReportGroup::ProductArea, "Printing", None, 50, None))
        .await
        .unwrap();
    assert_eq!(page.next_cursor, None);
    let numbers: Vec<CaseNumber> = page.items.iter().map(|c| c.number).collect();
    assert_eq!(numbers, [ns[0], ns[1]]);
    let first = &page.items[0];
    assert_eq!(first.title, "report 0");
    assert_eq!(
        first
            .closures
            .iter()
            .map(|c| (c.at, c.mode))
            .collect::<Vec<_>>(),
        [(day(0), CloseMode::Resolved), (day(6), CloseMode::Resolved)]
    );
    let reopens: Vec<(&str, &str, f64, CloseMode)> = first
        .reopens
        .iter()
        .map(|r| {
            (
                r.reason.as_str(),
                r.by.as_str(),
                r.days_to_reopen,
                r.close_mode,
            )
        })
        .collect();
    assert_eq!(
        reopens,
        [
            ("it came back", "lee", 2.0, CloseMode::Resolved),
            ("it came back", "lee", 1.0, CloseMode::Resolved)
        ]
    );
    assert!(page.items[1].reopens.is_empty());
    // "(none)": the closures without a product area, temporary ones too
    let none = b
        .store
        .reopen_report_cases(q(ReportGroup::ProductArea, "(none)", None, 50, None))
        .await
        .unwrap();
    let got: Vec<(CaseNumber, Vec<CloseMode>, usize)> = none
        .items
        .iter()
        .map(|c| {
            (
                c.number,
                c.closures.iter().map(|x| x.mode).collect(),
                c.reopens.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (ns[3], vec![CloseMode::Temporary], 1),
            (ns[4], vec![CloseMode::NonResponse], 0)
        ]
    );
    // pages
    let one = b
        .store
        .reopen_report_cases(q(ReportGroup::ProductArea, "Printing", None, 1, None))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let cursor = one.next_cursor.clone().expect("a second page");
    let after = casework_core::ports::decode_cursor(&cursor).unwrap();
    let two = b
        .store
        .reopen_report_cases(q(
            ReportGroup::ProductArea,
            "Printing",
            None,
            1,
            Some(after),
        ))
        .await
        .unwrap();
    assert_eq!(
        two.items.iter().map(|c| c.number).collect::<Vec<_>>(),
        [ns[1]]
    );
    assert_eq!(two.next_cursor, None);
    // the period: from day 1, only case 0's second closure and its reopen
    let later = b
        .store
        .reopen_report_cases(q(
            ReportGroup::ProductArea,
            "Printing",
            Some(day(1)),
            50,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(later.items.len(), 1);
    assert_eq!(later.items[0].closures.len(), 1);
    assert_eq!(later.items[0].reopens.len(), 1);
    assert_eq!(later.items[0].reopens[0].days_to_reopen, 1.0);
    // an unknown key has no cases
    let nobody = b
        .store
        .reopen_report_cases(q(ReportGroup::Owner, "nobody", None, 50, None))
        .await
        .unwrap();
    assert!(nobody.items.is_empty());
    // every row of every grouping agrees with the reference computation
    let data = histories(&b, &ns).await;
    for g in [
        ReportGroup::ProductArea,
        ReportGroup::Owner,
        ReportGroup::PrimaryResolution,
    ] {
        for from in [None, Some(day(1))] {
            let rows = b
                .store
                .reopen_report(ReportQuery {
                    group_by: g,
                    from,
                    to: None,
                })
                .await
                .unwrap();
            for row in rows {
                let query = q(g, &row.key, from, 50, None);
                let reference = report::cases(data.iter().map(|(_, e)| e.as_slice()), &query);
                let got = b.store.reopen_report_cases(query).await.unwrap();
                assert_eq!(got, reference, "{g:?} {}", row.key);
                let closed: BTreeSet<CaseNumber> = got
                    .items
                    .iter()
                    .filter(|c| c.closures.iter().any(|x| x.mode != CloseMode::Temporary))
                    .map(|c| c.number)
                    .collect();
                assert_eq!(
                    closed.len() as u64,
                    row.closed,
                    "the row's cases are its cases"
                );
            }
        }
    }
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    /// The clock moves on this many minutes.
    Wait(i64),
    /// The clock goes back this many minutes: later events carry earlier times (an import
    /// of another system's history, a clock corrected), so facts arrive out of time order.
    Back(i64),
    /// A lead assigns the case.
    Assign(usize),
    /// Ana takes it.
    Take,
    /// Ana sets its product area.
    Area(usize),
    /// Ana closes it resolved (the checklist filled), with a product area and resolution.
    Resolve(usize, usize),
    /// Ana closes it temporarily.
    Park,
    /// A lead reopens it.
    Reopen,
}

const OWNERS: [&str; 3] = ["ana", "bob", "kim"];
const AREAS: [&str; 3] = ["Printing", "Exporting", "Login"];
const RESOLUTIONS: [&str; 2] = ["Configuration", "Training"];

fn steps(cases: usize) -> impl proptest::strategy::Strategy<Value = Vec<(usize, Step)>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        // short waits put several reopens' delays in one histogram bucket
        2 => (0i64..120).prop_map(Step::Wait),
        2 => (0i64..6_000).prop_map(Step::Wait),
        1 => (0i64..6_000).prop_map(Step::Back),
        1 => (0..OWNERS.len()).prop_map(Step::Assign),
        1 => Just(Step::Take),
        1 => (0..AREAS.len()).prop_map(Step::Area),
        3 => (0..AREAS.len(), 0..RESOLUTIONS.len()).prop_map(|(a, r)| Step::Resolve(a, r)),
        1 => Just(Step::Park),
        3 => Just(Step::Reopen),
    ];
    proptest::collection::vec((0..cases, step), 250..400)
}

/// Random histories (closes and reopens of several kinds, owners and areas changing in
/// between, times spread over months and sometimes going back, so a case's facts are not
/// in time order) give the reference's report for every grouping and
/// random periods, and the reference's drill-down page by page: however a store keeps its
/// aggregates, it answers what core computes from the histories.
pub async fn the_reopen_report_matches_the_reference_over_random_histories<
    S: CaseLog + Reports + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let b = desk(store);
    let mut runner = TestRunner::deterministic();
    let cases = 16;
    let mut ns = Vec::new();
    for i in 0..cases {
        ns.push(
            b.open(&format!("random {i}"), "d", "a@customer.example")
                .await
                .number,
        );
    }
    let plan = steps(cases).new_tree(&mut runner).unwrap().current();
    let mut times = vec![b.now()];
    // whether the store refused an event dated before an earlier one (REST's protocol)
    let mut refused = false;
    for (i, step) in &plan {
        let n = ns[*i];
        let edit = |area: &str| CaseEdit {
            product: Some("Server".into()),
            product_version: Some("11.3".into()),
            product_area: Some(area.into()),
            functionality: Some("F".into()),
            issue: Some("I".into()),
            ..Default::default()
        };
        match step {
            Step::Wait(m) => b.clock.advance(SignedDuration::from_mins(*m)),
            Step::Back(m) => b.clock.advance(SignedDuration::from_mins(-*m)),
            Step::Assign(o) => {
                let owner = OWNERS[*o].to_string();
                refused |= b
                    .try_run_dated(&lee(), n, Command::Assign { owner })
                    .await
                    .is_err();
            }
            Step::Take => {
                refused |= b.try_run_dated(&ana(), n, Command::Take).await.is_err();
            }
            Step::Area(a) => {
                refused |= b
                    .try_run_dated(&ana(), n, Command::Edit(edit(AREAS[*a])))
                    .await
                    .is_err();
            }
            Step::Resolve(a, r) => {
                refused |= b
                    .try_run_dated(&ana(), n, Command::Edit(edit(AREAS[*a])))
                    .await
                    .is_err();
                refused |= b
                    .try_run_dated(&ana(), n, Command::ConfirmTitle)
                    .await
                    .is_err();
                let summary = Command::AddPost {
                    kind: PostKind::Summary,
                    body: "summary".into(),
                    visibility: Visibility::Internal,
                };
                refused |= b.try_run_dated(&ana(), n, summary).await.is_err();
                let close = Command::Close {
                    mode: CloseMode::Resolved,
                    resolution: Some(Resolution {
                        primary: RESOLUTIONS[*r].into(),
                        secondary: "Done".into(),
                    }),
                    notify_customer: false,
                };
                refused |= b.try_run_dated(&ana(), n, close).await.is_err();
            }
            Step::Park => {
                let close = Command::Close {
                    mode: CloseMode::Temporary,
                    resolution: None,
                    notify_customer: false,
                };
                refused |= b.try_run_dated(&ana(), n, close).await.is_err();
            }
            Step::Reopen => {
                let reopen = Command::Reopen {
                    reason: "again".into(),
                    notify_customer: false,
                };
                refused |= b.try_run_dated(&lee(), n, reopen).await.is_err();
            }
        }
        times.push(b.now());
    }
    let data = histories(&b, &ns).await;
    let histories = || data.iter().map(|(_, e)| e.as_slice());
    let closures: usize = data
        .iter()
        .flat_map(|(_, e)| e)
        .filter(|e| matches!(e.kind, casework_core::event::EventKind::Closed { .. }))
        .count();
    assert!(
        closures >= 10,
        "the random histories close cases ({closures})"
    );
    let out_of_order = data.iter().any(|(_, e)| {
        let closed: Vec<Timestamp> = e
            .iter()
            .filter(|e| matches!(e.kind, casework_core::event::EventKind::Closed { .. }))
            .map(|e| e.at)
            .collect();
        closed.windows(2).any(|w| w[1] < w[0])
    });
    assert!(
        out_of_order || refused,
        "some case's closures are out of time order, unless the store refuses back-dated \
         events"
    );
    // periods: open ends, times of events (closures fall on their bounds), block bounds,
    // and random times in between
    let bound = (0..times.len()).prop_map(|i| i);
    let mut periods = vec![(None, None)];
    for _ in 0..40 {
        let i = bound.new_tree(&mut runner).unwrap().current();
        let j = bound.new_tree(&mut runner).unwrap().current();
        let jitter = (0i64..3).new_tree(&mut runner).unwrap().current();
        let t = |k: usize| times[k] + SignedDuration::from_secs(jitter - 1);
        let (i, j) = (i.min(j), i.max(j));
        periods.push(match jitter {
            0 => (Some(t(i)), None),
            1 => (None, Some(t(j))),
            _ => (Some(t(i)), Some(t(j))),
        });
        periods.push((Some(times[i]), Some(times[j])));
    }
    let week = |t: Timestamp| {
        let us = t.as_microsecond();
        Timestamp::from_microsecond(report::block_of(us) * report::BLOCK_US).unwrap()
    };
    let (first, last) = (times[0], times[times.len() - 1]);
    periods.push((Some(week(first)), Some(week(last))));
    periods.push((Some(week(last)), None));
    periods.push((None, Some(week(last))));
    for (from, to) in periods {
        for g in [
            ReportGroup::ProductArea,
            ReportGroup::Owner,
            ReportGroup::PrimaryResolution,
        ] {
            let q = ReportQuery {
                group_by: g,
                from,
                to,
            };
            let reference = report::compute(histories(), &q);
            let got = b.store.reopen_report(q).await.unwrap();
            assert_eq!(got, reference, "{q:?}");
            for row in &reference {
                let mut after = None;
                loop {
                    let query = ReportCasesQuery {
                        report: q,
                        key: row.key.clone(),
                        page: PageRequest {
                            limit: 3,
                            after,
                            ..PageRequest::default()
                        },
                    };
                    let expected = report::cases(histories(), &query);
                    let got = b.store.reopen_report_cases(query).await.unwrap();
                    assert_eq!(got, expected, "{q:?} {}", row.key);
                    match got.next_cursor {
                        Some(c) => after = Some(casework_core::ports::decode_cursor(&c).unwrap()),
                        None => break,
                    }
                }
            }
        }
    }
}
