//! The reopen-pattern report: what each figure means, and a reference computation from
//! case histories that stores may use or must match.
//!
//! Definitions, for a period `[from, to)` (either end open):
//!
//! - A *closure* is a `closed` event whose mode is `resolved` or `non_response` (a temporary
//!   close is meant to be reopened, so it is not counted), at a time in the period.
//! - `closed`: the number of distinct cases with at least one closure in the period.
//! - `reopened`: the number of those cases with a `reopened` event that left such a closure
//!   (its `close_mode` is not temporary and its `closed_at` is in the period).
//! - `reopen_rate`: `reopened / closed`.
//! - `median_days_to_reopen`: the median, over those reopen events, of the days from the
//!   closure to the reopen, rounded to two decimals.
//! - The group key is the case's *current* product area, owner or primary resolution, or
//!   `(none)`; rows are ordered by key.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::event::{Event, EventKind};
use crate::model::{Case, CloseMode};
use crate::ports::{ReportGroup, ReportQuery, ReportRow};

/// Key used when the grouped field is not set.
pub const NO_KEY: &str = "(none)";

/// The group key of a case.
pub fn group_key(case: &Case, group: ReportGroup) -> String {
    let v = match group {
        ReportGroup::ProductArea => case.category.product_area.as_deref(),
        ReportGroup::Owner => case.owner.as_deref(),
        ReportGroup::PrimaryResolution => case.resolution.as_ref().map(|r| r.primary.as_str()),
    };
    v.unwrap_or(NO_KEY).to_string()
}

fn in_period(t: Timestamp, q: &ReportQuery) -> bool {
    q.from.is_none_or(|f| t >= f) && q.to.is_none_or(|to| t < to)
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

#[derive(Default)]
struct Acc {
    closed: BTreeSet<u64>,
    reopened: BTreeSet<u64>,
    days: Vec<f64>,
}

/// Computes the report from whole case histories: the reference every store must match.
pub fn compute<'a>(
    cases: impl IntoIterator<Item = (&'a Case, &'a [Event])>,
    query: &ReportQuery,
) -> Vec<ReportRow> {
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for (case, events) in cases {
        let closures: Vec<Timestamp> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Closed { mode, .. }
                    if *mode != CloseMode::Temporary && in_period(e.at, query) =>
                {
                    Some(e.at)
                }
                _ => None,
            })
            .collect();
        if closures.is_empty() {
            continue;
        }
        let acc = groups.entry(group_key(case, query.group_by)).or_default();
        acc.closed.insert(case.number.get());
        for e in events {
            if let EventKind::Reopened {
                close_mode,
                closed_at,
                ..
            } = &e.kind
                && *close_mode != CloseMode::Temporary
                && in_period(*closed_at, query)
            {
                acc.reopened.insert(case.number.get());
                acc.days.push(days_between(*closed_at, e.at));
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, acc)| {
            row(
                key,
                acc.closed.len() as u64,
                acc.reopened.len() as u64,
                acc.days,
            )
        })
        .collect()
}

/// One report row from its counts and the days from each closure to its reopen.
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
    }
}

/// Rounds a rate to four decimals.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
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
}
