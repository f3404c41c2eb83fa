//! The reopen-pattern report: what each figure means, the facts stores keep for it, and a
//! reference computation from case histories that stores may use or must match.
//!
//! Definitions, for a period `[from, to)` (either end open):
//!
//! - A *closure* is a `closed` event at a time in the period. Each closure belongs to the
//!   group of its *key at close*: the case's owner or product area right after the `closed`
//!   event, or the primary resolution that closure gave; `(none)` when there is none. So
//!   reassigning or recategorizing a closed case does not rewrite what was reported.
//! - `closed`: the number of distinct cases with a resolved or non-response closure in the
//!   period, in the group.
//! - `reopened`: the number of those cases with a `reopened` event that left such a closure
//!   (its `close_mode` is not temporary and its `closed_at` is in the period), counted in the
//!   group of the closure it left.
//! - `reopen_rate`: `reopened / closed` (0 when nothing was closed), four decimals.
//! - `median_days_to_reopen`: the median, over those reopen events, of the days from the
//!   closure to the reopen, rounded to two decimals.
//! - `temporarily_closed` and `reopened_from_temporary`: the same two counts for temporary
//!   closures, kept apart because a temporary close is meant to be reopened; they never
//!   enter the rate or the median.
//! - A group appears when it has a closure of either kind; rows are ordered by key.
//!
//! The drill-down ([`ReportCase`]) lists the cases behind one row: each case with a closure
//! of either kind in the period and the group, its closures there, and the reopens that left
//! them, with their reasons.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::event::{Event, EventKind, ReplayError};
use crate::ids::CaseNumber;
use crate::model::{Case, CloseMode};
use crate::ports::{
    Page, ReportCase, ReportCasesQuery, ReportClosure, ReportGroup, ReportQuery, ReportReopen,
    ReportRow,
};

/// Key used when the grouped field is not set.
pub const NO_KEY: &str = "(none)";

/// What a closure is grouped by: the case's owner and product area right after it, and the
/// primary resolution it gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupKeys {
    /// Owner at close.
    pub owner: Option<String>,
    /// Product area at close.
    pub product_area: Option<String>,
    /// Primary resolution given by this closure.
    pub primary_resolution: Option<String>,
}

impl GroupKeys {
    /// The value for one grouping, `None` when not set.
    pub fn get(&self, group: ReportGroup) -> Option<&str> {
        match group {
            ReportGroup::ProductArea => self.product_area.as_deref(),
            ReportGroup::Owner => self.owner.as_deref(),
            ReportGroup::PrimaryResolution => self.primary_resolution.as_deref(),
        }
    }

    /// The group key for one grouping: the value, or [`NO_KEY`].
    pub fn key(&self, group: ReportGroup) -> String {
        self.get(group).unwrap_or(NO_KEY).to_string()
    }
}

/// A fact the report is made of, taken from one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A `closed` event.
    Closure {
        /// Its position in the case's history.
        seq: u64,
        /// When.
        at: Timestamp,
        /// How.
        mode: CloseMode,
        /// Its group keys.
        keys: GroupKeys,
    },
    /// A `reopened` event; it belongs to the group of the case's last closure before it.
    Reopen {
        /// Its position in the case's history.
        seq: u64,
        /// When.
        at: Timestamp,
        /// Who reopened.
        actor: String,
        /// When the closure it left was made.
        closed_at: Timestamp,
        /// How that closure was made.
        close_mode: CloseMode,
        /// Why (internal).
        reason: String,
    },
}

/// The report facts of new events, applied in order to `before` (`None` for a new case):
/// what a store records beside the events, in the same transaction.
pub fn facts(before: Option<Case>, events: &[Event]) -> Result<Vec<Fact>, ReplayError> {
    let mut state = before;
    let mut out = Vec::new();
    for e in events {
        let after = e.evolve(state)?;
        match &e.kind {
            EventKind::Closed {
                mode, resolution, ..
            } => out.push(Fact::Closure {
                seq: e.seq,
                at: e.at,
                mode: *mode,
                keys: GroupKeys {
                    owner: after.owner.clone(),
                    product_area: after.category.product_area.clone(),
                    primary_resolution: resolution.as_ref().map(|r| r.primary.clone()),
                },
            }),
            EventKind::Reopened {
                closed_at,
                close_mode,
                reason,
                ..
            } => out.push(Fact::Reopen {
                seq: e.seq,
                at: e.at,
                actor: e.actor.clone(),
                closed_at: *closed_at,
                close_mode: *close_mode,
                reason: reason.clone(),
            }),
            _ => {}
        }
        state = Some(after);
    }
    Ok(out)
}

fn in_period(t: Timestamp, from: Option<Timestamp>, to: Option<Timestamp>) -> bool {
    from.is_none_or(|f| t >= f) && to.is_none_or(|to| t < to)
}

/// Days between two times, as a float.
pub fn days_between(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64() / 86_400.0
}

/// The median of some values (mean of the middle two for an even count), two decimals.
pub fn median_days(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let m = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Some(round2(m))
}

/// Rounds to two decimals.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One closure of a case in the period, with the reopens that left it.
struct Closed<'a> {
    at: Timestamp,
    mode: CloseMode,
    key: String,
    reopens: Vec<(&'a Fact, f64)>,
}

/// Every closure in the period of one case's history, each with its key and the reopens
/// that left it.
fn closures_in<'a>(
    facts: &'a [Fact],
    group: ReportGroup,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Vec<Closed<'a>> {
    let mut out: Vec<Closed<'a>> = Vec::new();
    // the closure the next reopen leaves, if it is in the period
    let mut last: Option<usize> = None;
    for f in facts {
        match f {
            Fact::Closure { at, mode, keys, .. } => {
                last = None;
                if in_period(*at, from, to) {
                    out.push(Closed {
                        at: *at,
                        mode: *mode,
                        key: keys.key(group),
                        reopens: Vec::new(),
                    });
                    last = Some(out.len() - 1);
                }
            }
            Fact::Reopen { at, closed_at, .. } => {
                if let Some(i) = last.take() {
                    out[i].reopens.push((f, days_between(*closed_at, *at)));
                }
            }
        }
    }
    out
}

#[derive(Default)]
struct Acc {
    closed: BTreeSet<u64>,
    reopened: BTreeSet<u64>,
    days: Vec<f64>,
    temporary: BTreeSet<u64>,
    temporary_reopened: BTreeSet<u64>,
}

/// The report facts of whole histories (each from its `opened` event).
fn all_facts<'a>(
    histories: impl IntoIterator<Item = &'a [Event]>,
) -> Vec<(CaseNumber, &'a [Event], Vec<Fact>)> {
    histories
        .into_iter()
        .filter_map(|events| {
            let first = events.first()?;
            // a history that does not replay has no facts; stores refuse such histories
            let facts = facts(None, events).unwrap_or_default();
            Some((first.case, events, facts))
        })
        .collect()
}

/// Computes the report from whole case histories: the reference every store must match.
pub fn compute<'a>(
    histories: impl IntoIterator<Item = &'a [Event]>,
    query: &ReportQuery,
) -> Vec<ReportRow> {
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for (number, _, facts) in all_facts(histories) {
        let n = number.get();
        for c in closures_in(&facts, query.group_by, query.from, query.to) {
            let acc = groups.entry(c.key).or_default();
            let temporary = c.mode == CloseMode::Temporary;
            if temporary {
                acc.temporary.insert(n);
            } else {
                acc.closed.insert(n);
            }
            for (_, days) in c.reopens {
                if temporary {
                    acc.temporary_reopened.insert(n);
                } else {
                    acc.reopened.insert(n);
                    acc.days.push(days);
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, acc)| ReportRow {
            temporarily_closed: acc.temporary.len() as u64,
            reopened_from_temporary: acc.temporary_reopened.len() as u64,
            ..row(
                key,
                acc.closed.len() as u64,
                acc.reopened.len() as u64,
                acc.days,
            )
        })
        .collect()
}

/// The drill-down computed from whole case histories (the reference): the cases behind
/// the row `query.key`, by ascending number, one page.
pub fn cases<'a>(
    histories: impl IntoIterator<Item = &'a [Event]>,
    query: &ReportCasesQuery,
) -> Page<ReportCase> {
    let r = &query.report;
    let mut items = Vec::new();
    let mut all = all_facts(histories);
    all.sort_by_key(|(n, _, _)| *n);
    for (number, events, facts) in all {
        if query.page.after.is_some_and(|after| number <= after) {
            continue;
        }
        let mut case = ReportCase {
            number,
            title: String::new(),
            closures: Vec::new(),
            reopens: Vec::new(),
        };
        for c in closures_in(&facts, r.group_by, r.from, r.to) {
            if c.key != query.key {
                continue;
            }
            case.closures.push(ReportClosure {
                at: c.at,
                mode: c.mode,
            });
            for (f, days) in c.reopens {
                if let Fact::Reopen {
                    at,
                    actor,
                    closed_at,
                    close_mode,
                    reason,
                    ..
                } = f
                {
                    case.reopens.push(ReportReopen {
                        at: *at,
                        by: actor.clone(),
                        closed_at: *closed_at,
                        close_mode: *close_mode,
                        days_to_reopen: round2(days),
                        reason: reason.clone(),
                    });
                }
            }
        }
        if case.closures.is_empty() {
            continue;
        }
        case.title = events
            .iter()
            .try_fold(None, |s, e| e.evolve(s).map(Some))
            .ok()
            .flatten()
            .map(|c| c.title)
            .unwrap_or_default();
        items.push(case);
        if items.len() > query.page.limit as usize {
            break;
        }
    }
    Page::overfetched(items, query.page.limit, |c| c.number)
}

/// One report row from its counts and the days from each closure to its reopen (no
/// temporary closures: set those two counts on the result).
pub fn row(key: String, closed: u64, reopened: u64, days_to_reopen: Vec<f64>) -> ReportRow {
    ReportRow {
        key,
        closed,
        reopened,
        reopen_rate: if closed == 0 {
            0.0
        } else {
            round4(reopened as f64 / closed as f64)
        },
        median_days_to_reopen: median_days(days_to_reopen),
        temporarily_closed: 0,
        reopened_from_temporary: 0,
    }
}

/// Rounds a rate to four decimals.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A date or time that bounds a report's period, as a person types it: an RFC 3339 time
/// (`2026-01-01T08:00:00Z`) or a plain date (`2026-01-01`, midnight UTC at its start). Both
/// front-ends read `from` and `to` with this, so they accept the same text.
pub fn parse_bound(text: &str) -> Result<Timestamp, String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let date = t.parse::<jiff::civil::Date>().map_err(|_| {
        format!(
            "expected a date (YYYY-MM-DD) or an RFC 3339 time, got {:?}",
            t.chars().take(40).collect::<String>()
        )
    })?;
    let epoch = jiff::civil::Date::constant(1970, 1, 1);
    Timestamp::from_duration(date.duration_since(epoch)).map_err(|e| format!("{date}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty_sets() {
        assert_eq!(median_days(vec![]), None);
        assert_eq!(median_days(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_days(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median_days(vec![1.0 / 3.0]), Some(0.33));
    }

    #[test]
    fn period_bounds_are_times_or_plain_dates() {
        let midnight: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_bound("2026-01-01"), Ok(midnight));
        assert_eq!(parse_bound(" 2026-01-01T00:00:00Z "), Ok(midnight));
        assert_eq!(
            parse_bound("2026-01-01T01:00:00+01:00"),
            Ok(midnight),
            "an offset is honoured"
        );
        let e = parse_bound("January").unwrap_err();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
        assert!(parse_bound("2026-02-30").is_err());
    }
}
