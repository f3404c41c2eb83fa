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

// ---------------------------------------------------------------------------------------
// live aggregates: what a store keeps beside the facts so a report reads no scan

/// The length of one aggregate block, in microseconds: a week. A store keeps its report
/// counts per block; a period reads the blocks wholly inside it and the facts at its edges.
pub const BLOCK_US: i64 = 7 * 86_400 * 1_000_000;

/// The block a time (microseconds since the epoch) falls in.
pub fn block_of(us: i64) -> i64 {
    us.div_euclid(BLOCK_US)
}

/// Where a period's figures come from: the blocks `[blocks.0, blocks.1)` wholly inside it,
/// and the time ranges `[from, to)` (microseconds) at its edges that are read fact by fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Whole blocks inside the period, `[first, end)`; empty when `first >= end`.
    pub blocks: (i64, i64),
    /// The parts of the period outside those blocks.
    pub edges: Vec<(i64, i64)>,
}

/// Splits a period (microseconds, either end open) into whole blocks and edges.
pub fn span(from: Option<i64>, to: Option<i64>) -> Span {
    let first = from.map_or(i64::MIN, |f| {
        let b = block_of(f);
        if b.saturating_mul(BLOCK_US) == f {
            b
        } else {
            b + 1
        }
    });
    let end = to.map_or(i64::MAX, block_of);
    if first >= end {
        // no whole block: the period is one edge
        let (f, t) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
        return Span {
            blocks: (0, 0),
            edges: if f < t { vec![(f, t)] } else { Vec::new() },
        };
    }
    let mut edges = Vec::new();
    if let Some(f) = from {
        let start = first.saturating_mul(BLOCK_US);
        if f < start {
            edges.push((f, start));
        }
    }
    if let Some(t) = to {
        let end_us = end.saturating_mul(BLOCK_US);
        if end_us < t {
            edges.push((end_us, t));
        }
    }
    Span {
        blocks: (first, end),
        edges,
    }
}

/// The histogram bucket of a delay from a closure to its reopen (microseconds): eight
/// buckets per doubling of whole seconds, negative delays below zero. Monotone: a longer
/// delay never falls in a lower bucket, so the median is found bucket by bucket.
pub fn delay_bucket(us: i64) -> i64 {
    fn up(us: u64) -> i64 {
        let v = us / 1_000_000 + 1;
        let e = 63 - i64::from(v.leading_zeros());
        let frac = if e >= 3 {
            (v >> (e - 3)) & 7
        } else {
            (v << (3 - e)) & 7
        };
        e * 8 + frac as i64
    }
    if us >= 0 {
        up(us.unsigned_abs())
    } else {
        -1 - up(us.unsigned_abs())
    }
}

/// One bucket of delays: how many, and the least and greatest (microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// How many delays.
    pub n: u64,
    /// The least.
    pub lo: i64,
    /// The greatest.
    pub hi: i64,
}

impl Bucket {
    /// Adds another bucket's delays.
    pub fn merge(&mut self, other: Bucket) {
        self.n += other.n;
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
    }
}

/// Closures or reopens of one class in a period, as a store counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    /// Facts in the period.
    pub all: u64,
    /// Of those, facts with an earlier one of the same case, group and class (their
    /// predecessor by time): the repeats.
    pub repeats: u64,
    /// Of the repeats, those whose predecessor is before the period: each is still its
    /// case's first in the period.
    pub straddles: u64,
}

impl Counted {
    /// Distinct cases: every fact whose predecessor is not in the period.
    pub fn cases(&self) -> u64 {
        (self.all + self.straddles).saturating_sub(self.repeats)
    }
}

/// A group's figures as a store reads them from its aggregates and edges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Closures, per class (0: resolved or non-response, 1: temporary).
    pub closures: [Counted; 2],
    /// Reopens (by the time of the closure they left), per class.
    pub reopens: [Counted; 2],
    /// Delays of the non-temporary reopens, by [`delay_bucket`].
    pub delays: BTreeMap<i64, Bucket>,
}

impl Tally {
    /// Adds delays to bucket `b`.
    pub fn delay(&mut self, b: i64, bucket: Bucket) {
        self.delays
            .entry(b)
            .and_modify(|x| x.merge(bucket))
            .or_insert(bucket);
    }
}

/// Which delays of one bucket a median needs: the key, the bucket's least and greatest,
/// and the ranks (from 0, ascending) inside the bucket of the first wanted value and how
/// many follow it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    /// The group key.
    pub key: String,
    /// The bucket's least delay (microseconds).
    pub lo: i64,
    /// The bucket's greatest delay (microseconds).
    pub hi: i64,
    /// Delays in the bucket skipped, in ascending order, before the first wanted.
    pub skip: u64,
    /// How many are wanted (1 or 2).
    pub take: u64,
}

/// The middle ranks of `n` values (from 0): one for an odd count, two for an even one.
fn middle_ranks(n: u64) -> Vec<u64> {
    match n {
        0 => Vec::new(),
        n if n % 2 == 1 => vec![n / 2],
        n => vec![n / 2 - 1, n / 2],
    }
}

/// The middle values of a tally's delays, each either known from its bucket (a bucket whose
/// least and greatest are equal) or to be read: `Ok(value)` or `Err((wanted, index))`,
/// where `index` is the value's place in the reply to `wanted`. Both middle values of one
/// bucket come from one read.
fn middles(key: &str, t: &Tally) -> Vec<Result<i64, (Wanted, usize)>> {
    let n: u64 = t.delays.values().map(|b| b.n).sum();
    // each middle rank: its bucket and its rank inside it
    let mut found: Vec<(i64, Bucket, u64)> = Vec::new();
    for rank in middle_ranks(n) {
        let mut before = 0;
        for (id, b) in &t.delays {
            if rank < before + b.n {
                found.push((*id, *b, rank - before));
                break;
            }
            before += b.n;
        }
    }
    let shared = found.len() == 2 && found[0].0 == found[1].0;
    found
        .iter()
        .enumerate()
        .map(|(i, (_, b, at))| {
            if b.lo == b.hi {
                return Ok(b.lo);
            }
            let (skip, take, index) = if shared {
                (found[0].2, 2, i)
            } else {
                (*at, 1, 0)
            };
            Err((
                Wanted {
                    key: key.to_string(),
                    lo: b.lo,
                    hi: b.hi,
                    skip,
                    take,
                },
                index,
            ))
        })
        .collect()
}

/// What [`rows_from_tallies`] will ask `exact` for: a store that batches its reads asks for
/// all of them first.
pub fn wanted(tallies: &BTreeMap<String, Tally>) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = Vec::new();
    for (key, t) in tallies {
        for m in middles(key, t) {
            if let Err((w, _)) = m
                && out.last() != Some(&w)
            {
                out.push(w);
            }
        }
    }
    out
}

/// The report's rows from tallies by key. `exact(wanted)` lists, in ascending order, the
/// delays (microseconds) of the key's non-temporary reopens in the period between
/// `wanted.lo` and `wanted.hi` inclusive, skipping the first `wanted.skip` and at most
/// `wanted.take` of them; it is asked only when a median falls in a bucket holding several
/// values, once per bucket.
pub fn rows_from_tallies<E>(
    tallies: BTreeMap<String, Tally>,
    mut exact: impl FnMut(&Wanted) -> Result<Vec<i64>, E>,
) -> Result<Vec<ReportRow>, E> {
    let mut out = Vec::new();
    for (key, t) in tallies {
        if t.closures[0].all == 0 && t.closures[1].all == 0 {
            continue;
        }
        let mut middle = Vec::new();
        let mut read: Option<(Wanted, Vec<i64>)> = None;
        for m in middles(&key, &t) {
            let us = match m {
                Ok(us) => us,
                Err((w, i)) => {
                    if read.as_ref().is_none_or(|(r, _)| *r != w) {
                        let v = exact(&w)?;
                        read = Some((w.clone(), v));
                    }
                    read.as_ref()
                        .and_then(|(_, v)| v.get(i).copied())
                        .unwrap_or(w.hi)
                }
            };
            middle.push(jiff::SignedDuration::from_micros(us).as_secs_f64() / 86_400.0);
        }
        out.push(ReportRow {
            temporarily_closed: t.closures[1].cases(),
            reopened_from_temporary: t.reopens[1].cases(),
            ..row(key, t.closures[0].cases(), t.reopens[0].cases(), middle)
        });
    }
    Ok(out)
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
    fn a_period_splits_into_whole_blocks_and_edges() {
        let w = BLOCK_US;
        assert_eq!(
            span(None, None),
            Span {
                blocks: (i64::MIN, i64::MAX),
                edges: vec![]
            }
        );
        assert_eq!(
            span(Some(w + 5), Some(4 * w + 7)),
            Span {
                blocks: (2, 4),
                edges: vec![(w + 5, 2 * w), (4 * w, 4 * w + 7)]
            }
        );
        assert_eq!(
            span(Some(2 * w), Some(3 * w)),
            Span {
                blocks: (2, 3),
                edges: vec![]
            }
        );
        // inside one block: one edge, no block
        assert_eq!(
            span(Some(w + 1), Some(w + 9)),
            Span {
                blocks: (0, 0),
                edges: vec![(w + 1, w + 9)]
            }
        );
        assert_eq!(span(Some(9), Some(9)).edges, vec![]);
        assert_eq!(
            block_of(-1),
            -1,
            "times before the epoch fall in their own blocks"
        );
    }

    #[test]
    fn delay_buckets_never_go_down_as_delays_grow() {
        let mut last = i64::MIN;
        let mut d: i64 = -400 * 86_400_000_000;
        while d < 400 * 86_400_000_000 {
            let b = delay_bucket(d);
            assert!(b >= last, "{d}");
            last = b;
            d += 7_777_777 + d.abs() / 50;
        }
        assert_eq!(delay_bucket(0), delay_bucket(999_999), "whole seconds");
        assert!(delay_bucket(-1) < delay_bucket(0));
    }

    #[test]
    fn a_median_in_a_crowded_bucket_is_read_exactly() {
        let day = 86_400_000_000i64;
        // three delays, the middle two in one bucket with the upper one: 1, 10.1, 10.3, 10.2
        let values = [day, day * 101 / 10, day * 103 / 10, day * 102 / 10];
        let mut t = Tally::default();
        t.closures[0].all = 4;
        for v in values {
            t.delay(delay_bucket(v), Bucket { n: 1, lo: v, hi: v });
        }
        let tallies = BTreeMap::from([("k".to_string(), t)]);
        let mut asked = Vec::new();
        let rows = rows_from_tallies(tallies.clone(), |w| {
            asked.push(w.clone());
            let mut v: Vec<i64> = values
                .iter()
                .copied()
                .filter(|v| (w.lo..=w.hi).contains(v))
                .collect();
            v.sort_unstable();
            Ok::<_, ()>(
                v.into_iter()
                    .skip(w.skip as usize)
                    .take(w.take as usize)
                    .collect(),
            )
        })
        .unwrap();
        let reference = median_days(values.iter().map(|v| *v as f64 / day as f64).collect());
        assert_eq!(rows[0].median_days_to_reopen, reference);
        assert_eq!(reference, Some(10.15));
        // both middle values (10.1 and 10.2 days) are in one bucket: one read of two
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!((asked[0].skip, asked[0].take), (0, 2));
        assert_eq!(wanted(&tallies), asked, "what a batching store reads first");
    }

    #[test]
    fn a_median_in_a_bucket_of_one_value_is_not_read() {
        let day = 86_400_000_000i64;
        let mut t = Tally::default();
        t.closures[0].all = 5;
        // lumpy delays: whole days, several reopens each
        for (v, n) in [(day, 2), (3 * day, 2), (9 * day, 1)] {
            t.delay(delay_bucket(v), Bucket { n, lo: v, hi: v });
        }
        let tallies = BTreeMap::from([("k".to_string(), t)]);
        assert!(wanted(&tallies).is_empty());
        let rows = rows_from_tallies(tallies, |_| Err::<Vec<i64>, _>("asked")).unwrap();
        assert_eq!(rows[0].median_days_to_reopen, Some(3.0));
    }

    #[test]
    fn distinct_cases_are_facts_less_repeats_inside_the_period() {
        let c = Counted {
            all: 5,
            repeats: 3,
            straddles: 1,
        };
        assert_eq!(c.cases(), 3);
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
