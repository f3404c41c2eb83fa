//! The reopen report on SQLite: the closure and reopen rows a commit records, the live
//! aggregates kept beside them in the same transaction (schema v17), and the report and its
//! drill-down read from those aggregates and indexes, never by a scan of every closure.
//!
//! How a period's figures are read (core's [`report`] module is the definition):
//!
//! - Each closure row keeps, per grouping, the time of its *predecessor*: the case's
//!   previous closure with the same key at close and the same class (temporary or not), in
//!   time order. Reopens the same, by the time of the closure they left. A case counts once
//!   in a period, so its facts there count once: every fact whose predecessor is not in the
//!   period, which is `all - repeats + straddles` ([`report::Counted`]).
//! - `report_blocks` holds, per week, grouping, key and class, the facts and the repeats
//!   (facts with a predecessor). A period reads the weeks wholly inside it from there and
//!   the facts at its two edges from the rows ([`report::span`]).
//! - Straddles (repeats inside the period whose predecessor is before it) exist only when
//!   the period has a start; they are read from a partial index of repeats, no further past
//!   the start than the longest gap of any chain (`report_gaps`).
//! - The median: `report_delays` is a histogram of the non-temporary reopens' delays per
//!   week and bucket with each bucket's least and greatest (`report_delay_totals` the same
//!   over all time, schema 19, so an all-time report reads one row per key and bucket); the
//!   middle value is found bucket by bucket and, only when its bucket holds several values,
//!   read exactly from a partial covering index of the non-temporary reopens' delays by key
//!   (schemas 18 and 19): one walk per bucket for both middle values, skipping to them
//!   inside the index, never reading the table.

use std::collections::BTreeMap;

use casework_core::model::CloseMode;
use casework_core::ports::{
    Page, ReportCase, ReportCasesQuery, ReportClosure, ReportGroup, ReportQuery, ReportReopen,
    ReportRow, StoreError,
};
use casework_core::report::{self, Bucket, Fact, GroupKeys, Tally};
use rusqlite::{Connection, OptionalExtension, params};

use crate::sql::{from_micros, map_err, micros, number_of};

/// The three groupings: their number in the aggregates, key column, predecessor column.
const GROUPINGS: [(ReportGroup, i64, &str, &str); 3] = [
    (ReportGroup::Owner, 0, "owner", "prev_owner"),
    (ReportGroup::ProductArea, 1, "product_area", "prev_area"),
    (
        ReportGroup::PrimaryResolution,
        2,
        "primary_resolution",
        "prev_resolution",
    ),
];

fn grouping(g: ReportGroup) -> (i64, &'static str, &'static str) {
    let (_, id, col, prev) = GROUPINGS
        .iter()
        .copied()
        .find(|(x, ..)| *x == g)
        .unwrap_or(GROUPINGS[0]);
    (id, col, prev)
}

/// Closure facts (kind 0) and reopen facts (kind 1): their table and time column.
const CLOSURE: (i64, &str, &str, &str) = (0, "closures", "at", "mode");
const REOPEN: (i64, &str, &str, &str) = (1, "reopens", "closed_at", "close_mode");

fn key_of(keys: &GroupKeys, g: ReportGroup) -> Option<String> {
    keys.get(g).map(str::to_string)
}

/// The aggregate key of a value: [`report::NO_KEY`] when unset.
fn agg_key(v: Option<&str>) -> &str {
    v.unwrap_or(report::NO_KEY)
}

/// One fact about to be recorded: its case, position, time (of the closure, or of the
/// closure a reopen left), class and keys.
struct Link<'a> {
    kind: (i64, &'static str, &'static str, &'static str),
    case: i64,
    seq: i64,
    time: i64,
    temporary: bool,
    keys: &'a [Option<String>; 3],
}

/// Finds the new fact's predecessor in each grouping's chain, points its successor (if
/// any) at it, and counts it in the blocks; returns the predecessors' times to store.
fn link(conn: &Connection, l: &Link<'_>) -> Result<[Option<i64>; 3], StoreError> {
    let (kind, table, time_col, mode_col) = l.kind;
    let mut prevs = [None; 3];
    for (i, (_, g, col, prev_col)) in GROUPINGS.iter().enumerate() {
        let key = l.keys[i].as_deref();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT seq, {time_col}, {prev_col} FROM {table}
                  WHERE case_number = ?1 AND {col} IS ?2 AND ({mode_col} = 'temporary') = ?3"
            ))
            .map_err(map_err)?;
        let chain: Vec<(i64, i64, Option<i64>)> = st
            .query_map(params![l.case, key, l.temporary], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        let me = (l.time, l.seq);
        let pred = chain
            .iter()
            .filter(|(s, t, _)| (*t, *s) < me)
            .max_by_key(|(s, t, _)| (*t, *s));
        let succ = chain
            .iter()
            .filter(|(s, t, _)| (*t, *s) > me)
            .min_by_key(|(s, t, _)| (*t, *s));
        prevs[i] = pred.map(|(_, t, _)| *t);
        let k = agg_key(key);
        let block = report::block_of(l.time);
        bump(
            conn,
            *g,
            block,
            k,
            l.temporary,
            kind,
            1,
            i64::from(prevs[i].is_some()),
        )?;
        if let Some(p) = prevs[i] {
            gap(conn, *g, kind, l.time - p)?;
        }
        if let Some((s, t, old)) = succ {
            conn.prepare_cached(&format!(
                "UPDATE {table} SET {prev_col} = ?3 WHERE case_number = ?1 AND seq = ?2"
            ))
            .and_then(|mut u| u.execute(params![l.case, s, l.time]))
            .map_err(map_err)?;
            if old.is_none() {
                bump(conn, *g, report::block_of(*t), k, l.temporary, kind, 0, 1)?;
            }
            gap(conn, *g, kind, t - l.time)?;
        }
    }
    Ok(prevs)
}

/// Adds facts and repeats to one block's counts.
#[allow(clippy::too_many_arguments)]
fn bump(
    conn: &Connection,
    g: i64,
    block: i64,
    key: &str,
    temporary: bool,
    kind: i64,
    facts: i64,
    repeats: i64,
) -> Result<(), StoreError> {
    let (c, cr, r, rr) = if kind == 0 {
        (facts, repeats, 0, 0)
    } else {
        (0, 0, facts, repeats)
    };
    conn.prepare_cached(
        "INSERT INTO report_blocks (grouping, block, key, temporary, closures, closure_repeats,
                                    reopens, reopen_repeats)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT DO UPDATE SET closures = closures + excluded.closures,
             closure_repeats = closure_repeats + excluded.closure_repeats,
             reopens = reopens + excluded.reopens,
             reopen_repeats = reopen_repeats + excluded.reopen_repeats",
    )
    .and_then(|mut s| s.execute(params![g, block, key, temporary, c, cr, r, rr]))
    .map_err(map_err)?;
    Ok(())
}

/// Keeps the longest gap of any chain (an upper bound: a fact inserted between two only
/// shortens theirs).
fn gap(conn: &Connection, g: i64, kind: i64, gap: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO report_gaps (grouping, kind, gap) VALUES (?1, ?2, ?3)
         ON CONFLICT DO UPDATE SET gap = max(gap, excluded.gap)",
    )
    .and_then(|mut s| s.execute(params![g, kind, gap]))
    .map_err(map_err)?;
    Ok(())
}

/// A closure row, with its keys at close.
struct ClosureRow {
    case: i64,
    seq: i64,
    at: i64,
    mode: CloseMode,
    keys: [Option<String>; 3],
}

/// A reopen row, with the keys of the closure it left.
struct ReopenRow {
    case: i64,
    seq: i64,
    at: i64,
    actor: String,
    closed_at: i64,
    close_mode: CloseMode,
    reason: String,
    keys: [Option<String>; 3],
}

fn record_closure(conn: &Connection, c: &ClosureRow) -> Result<(), StoreError> {
    let prevs = link(
        conn,
        &Link {
            kind: CLOSURE,
            case: c.case,
            seq: c.seq,
            time: c.at,
            temporary: c.mode == CloseMode::Temporary,
            keys: &c.keys,
        },
    )?;
    conn.prepare_cached(
        "INSERT INTO closures (case_number, seq, at, mode, owner, product_area,
                               primary_resolution, prev_owner, prev_area, prev_resolution)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.case,
            c.seq,
            c.at,
            c.mode.as_str(),
            c.keys[0],
            c.keys[1],
            c.keys[2],
            prevs[0],
            prevs[1],
            prevs[2]
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

/// Links a reopen into its chains, counts it (and its delay) in the weeks and inserts its
/// row.
fn record_reopen(conn: &Connection, r: &ReopenRow) -> Result<(), StoreError> {
    let temporary = r.close_mode == CloseMode::Temporary;
    let prevs = link(
        conn,
        &Link {
            kind: REOPEN,
            case: r.case,
            seq: r.seq,
            time: r.closed_at,
            temporary,
            keys: &r.keys,
        },
    )?;
    if !temporary {
        let delay = r.at - r.closed_at;
        for (i, (_, g, ..)) in GROUPINGS.iter().enumerate() {
            conn.prepare_cached(
                "INSERT INTO report_delays (grouping, block, key, bucket, n, lo, hi)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)
                 ON CONFLICT DO UPDATE SET n = n + 1, lo = min(lo, excluded.lo),
                     hi = max(hi, excluded.hi)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    g,
                    report::block_of(r.closed_at),
                    agg_key(r.keys[i].as_deref()),
                    report::delay_bucket(delay),
                    delay
                ])
            })
            .map_err(map_err)?;
        }
    }
    insert_reopen(conn, r, prevs)
}

/// Adds a non-temporary reopen's delay to the all-time histogram (schema 19). Apart from
/// [`record_reopen`] because the v17 migration's [`rebuild`] records reopens before the
/// table exists; the v19 migration fills it from the weeks that rebuild left.
fn total_delay(conn: &Connection, r: &ReopenRow) -> Result<(), StoreError> {
    if r.close_mode == CloseMode::Temporary {
        return Ok(());
    }
    let delay = r.at - r.closed_at;
    for (i, (_, g, ..)) in GROUPINGS.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO report_delay_totals (grouping, key, bucket, n, lo, hi)
             VALUES (?1, ?2, ?3, 1, ?4, ?4)
             ON CONFLICT DO UPDATE SET n = n + 1, lo = min(lo, excluded.lo),
                 hi = max(hi, excluded.hi)",
        )
        .and_then(|mut s| {
            s.execute(params![
                g,
                agg_key(r.keys[i].as_deref()),
                report::delay_bucket(delay),
                delay
            ])
        })
        .map_err(map_err)?;
    }
    Ok(())
}

/// Inserts a reopen row with its predecessors.
fn insert_reopen(
    conn: &Connection,
    r: &ReopenRow,
    prevs: [Option<i64>; 3],
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO reopens (case_number, seq, at, actor, closed_at, close_mode, reason,
                              owner, product_area, primary_resolution,
                              prev_owner, prev_area, prev_resolution)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.case,
            r.seq,
            r.at,
            r.actor,
            r.closed_at,
            r.close_mode.as_str(),
            r.reason,
            r.keys[0],
            r.keys[1],
            r.keys[2],
            prevs[0],
            prevs[1],
            prevs[2]
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

/// Records the report facts of one case's new events (closures with their keys at close,
/// reopens with the keys of the closure they left) and keeps the aggregates current, on
/// the commit's transaction.
pub(crate) fn record_facts(conn: &Connection, n: i64, facts: Vec<Fact>) -> Result<(), StoreError> {
    for f in facts {
        match f {
            Fact::Closure {
                seq,
                at,
                mode,
                keys,
            } => record_closure(
                conn,
                &ClosureRow {
                    case: n,
                    seq: seq as i64,
                    at: micros(at),
                    mode,
                    keys: GROUPINGS.map(|(g, ..)| key_of(&keys, g)),
                },
            )?,
            Fact::Reopen {
                seq,
                at,
                actor,
                closed_at,
                close_mode,
                reason,
            } => {
                // the keys of the closure it left: the case's last one
                let keys: Option<[Option<String>; 3]> = conn
                    .prepare_cached(
                        "SELECT owner, product_area, primary_resolution FROM closures
                          WHERE case_number = ?1 ORDER BY seq DESC LIMIT 1",
                    )
                    .and_then(|mut s| {
                        s.query_row([n], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]))
                            .optional()
                    })
                    .map_err(map_err)?;
                let row = ReopenRow {
                    case: n,
                    seq: seq as i64,
                    at: micros(at),
                    actor,
                    closed_at: micros(closed_at),
                    close_mode,
                    reason,
                    keys: keys.unwrap_or_default(),
                };
                record_reopen(conn, &row)?;
                total_delay(conn, &row)?;
            }
        }
    }
    Ok(())
}

fn mode(text: &str) -> Result<CloseMode, StoreError> {
    text.parse()
        .map_err(|e: casework_core::ids::ParseError| StoreError::Internal(e.to_string()))
}

/// Fills the aggregates from the closure and reopen rows already there (the v17 migration):
/// every row is taken out and recorded again, in case and history order, by the code a
/// commit runs. The all-time delays (schema 19) are not among them: the v19 migration sums
/// them from the weeks.
pub fn rebuild(conn: &Connection) -> Result<(), StoreError> {
    type Closure = (i64, i64, i64, String, [Option<String>; 3]);
    let closures: Vec<Closure> = conn
        .prepare(
            "SELECT case_number, seq, at, mode, owner, product_area, primary_resolution
               FROM closures ORDER BY case_number, seq",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?],
                ))
            })?
            .collect()
        })
        .map_err(map_err)?;
    type Reopen = (
        i64,
        i64,
        i64,
        String,
        i64,
        String,
        String,
        [Option<String>; 3],
    );
    let reopens: Vec<Reopen> = conn
        .prepare(
            "SELECT case_number, seq, at, actor, closed_at, close_mode, reason, owner,
                    product_area, primary_resolution
               FROM reopens ORDER BY case_number, seq",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    [r.get(7)?, r.get(8)?, r.get(9)?],
                ))
            })?
            .collect()
        })
        .map_err(map_err)?;
    conn.execute_batch(
        "DELETE FROM closures; DELETE FROM reopens; DELETE FROM report_blocks;
         DELETE FROM report_delays; DELETE FROM report_gaps;",
    )
    .map_err(map_err)?;
    for (case, seq, at, m, keys) in closures {
        record_closure(
            conn,
            &ClosureRow {
                case,
                seq,
                at,
                mode: mode(&m)?,
                keys,
            },
        )?;
    }
    for (case, seq, at, actor, closed_at, m, reason, keys) in reopens {
        record_reopen(
            conn,
            &ReopenRow {
                case,
                seq,
                at,
                actor,
                closed_at,
                close_mode: mode(&m)?,
                reason,
                keys,
            },
        )?;
    }
    Ok(())
}

/// Key, class and count rows of a grouped query.
fn counts(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    mut each: impl FnMut(String, bool, i64, i64),
) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(map_err)?;
    let mut rows = st.query(args).map_err(map_err)?;
    while let Some(r) = rows.next().map_err(map_err)? {
        each(
            r.get(0).map_err(map_err)?,
            r.get(1).map_err(map_err)?,
            r.get(2).map_err(map_err)?,
            r.get(3).map_err(map_err)?,
        );
    }
    Ok(())
}

/// The reopen report from the aggregates: whole weeks from `report_blocks` and
/// `report_delays`, the period's edges and straddles from indexed rows.
pub fn reopen_report(conn: &Connection, q: &ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
    let (g, col, prev_col) = grouping(q.group_by);
    let suffix = &prev_col["prev_".len()..];
    let from = q.from.map(micros);
    let to = q.to.map(micros);
    let (lo, hi) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    let span = report::span(from, to);
    let none = report::NO_KEY;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let class = |t: bool| usize::from(t);
    if span.blocks.0 < span.blocks.1 {
        let mut st = conn
            .prepare_cached(
                "SELECT key, temporary, sum(closures), sum(closure_repeats), sum(reopens),
                        sum(reopen_repeats)
                   FROM report_blocks WHERE grouping = ?1 AND block >= ?2 AND block < ?3
                  GROUP BY key, temporary",
            )
            .map_err(map_err)?;
        let mut rows = st
            .query(params![g, span.blocks.0, span.blocks.1])
            .map_err(map_err)?;
        while let Some(r) = rows.next().map_err(map_err)? {
            let t = tallies.entry(r.get(0).map_err(map_err)?).or_default();
            let c = class(r.get(1).map_err(map_err)?);
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64).map_err(map_err);
            t.closures[c].all += n(2)?;
            t.closures[c].repeats += n(3)?;
            t.reopens[c].all += n(4)?;
            t.reopens[c].repeats += n(5)?;
        }
        // all time: one row per key and bucket (schema 19), not one per week
        let all_time = from.is_none() && to.is_none();
        let mut st = conn
            .prepare_cached(if all_time {
                "SELECT key, bucket, n, lo, hi FROM report_delay_totals WHERE grouping = ?1"
            } else {
                "SELECT key, bucket, sum(n), min(lo), max(hi)
                   FROM report_delays WHERE grouping = ?1 AND block >= ?2 AND block < ?3
                  GROUP BY key, bucket"
            })
            .map_err(map_err)?;
        let mut rows = if all_time {
            st.query(params![g])
        } else {
            st.query(params![g, span.blocks.0, span.blocks.1])
        }
        .map_err(map_err)?;
        while let Some(r) = rows.next().map_err(map_err)? {
            let t = tallies.entry(r.get(0).map_err(map_err)?).or_default();
            t.delay(
                r.get(1).map_err(map_err)?,
                Bucket {
                    n: r.get::<_, i64>(2).map_err(map_err)? as u64,
                    lo: r.get(3).map_err(map_err)?,
                    hi: r.get(4).map_err(map_err)?,
                },
            );
        }
    }
    for (f, t) in &span.edges {
        counts(
            conn,
            &format!(
                "SELECT COALESCE({col}, '{none}'), mode = 'temporary', count(*), count({prev_col})
                   FROM closures INDEXED BY closures_edge_{suffix} WHERE at >= ?1 AND at < ?2
                  GROUP BY 1, 2"
            ),
            params![f, t],
            |k, temp, n, r| {
                let x = &mut tallies.entry(k).or_default().closures[class(temp)];
                x.all += n as u64;
                x.repeats += r as u64;
            },
        )?;
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT COALESCE({col}, '{none}'), close_mode = 'temporary',
                        {prev_col} IS NOT NULL, at - closed_at
                   FROM reopens INDEXED BY reopens_edge_{suffix}
                  WHERE closed_at >= ?1 AND closed_at < ?2"
            ))
            .map_err(map_err)?;
        let mut rows = st.query(params![f, t]).map_err(map_err)?;
        while let Some(r) = rows.next().map_err(map_err)? {
            let t = tallies.entry(r.get(0).map_err(map_err)?).or_default();
            let temp: bool = r.get(1).map_err(map_err)?;
            let x = &mut t.reopens[class(temp)];
            x.all += 1;
            x.repeats += u64::from(r.get::<_, bool>(2).map_err(map_err)?);
            if !temp {
                let d: i64 = r.get(3).map_err(map_err)?;
                t.delay(report::delay_bucket(d), Bucket { n: 1, lo: d, hi: d });
            }
        }
    }
    if let Some(f) = from {
        // repeats in the period whose predecessor is before it: no further than the
        // longest gap past its start
        for (kind, table, time_col, mode_col) in [CLOSURE, REOPEN] {
            let longest: Option<i64> = conn
                .prepare_cached("SELECT gap FROM report_gaps WHERE grouping = ?1 AND kind = ?2")
                .and_then(|mut s| s.query_row(params![g, kind], |r| r.get(0)).optional())
                .map_err(map_err)?;
            let Some(longest) = longest else { continue };
            let end = hi.min(f.saturating_add(longest).saturating_add(1));
            counts(
                conn,
                &format!(
                    "SELECT COALESCE({col}, '{none}'), {mode_col} = 'temporary', count(*), 0
                       FROM {table} INDEXED BY {table}_repeat_{suffix}
                      WHERE {prev_col} IS NOT NULL AND {time_col} >= ?1 AND {time_col} < ?2
                        AND {prev_col} < ?1
                      GROUP BY 1, 2"
                ),
                params![f, end],
                |k, temp, n, _| {
                    let t = tallies.entry(k).or_default();
                    let x = if kind == 0 {
                        &mut t.closures[class(temp)]
                    } else {
                        &mut t.reopens[class(temp)]
                    };
                    x.straddles += n as u64;
                },
            )?;
        }
    }
    // the middle of a crowded bucket: a walk of the partial covering index of delays by key
    // (schema 19: it holds `close_mode` too, so no table row is read), from the bucket's
    // least
    let exact_sql = format!(
        "SELECT at - closed_at FROM reopens INDEXED BY reopens_delays_{suffix}
          WHERE {col} IS ?1 AND at - closed_at >= ?2 AND at - closed_at <= ?3
            AND closed_at >= ?4 AND closed_at < ?5 AND close_mode <> 'temporary'
          ORDER BY at - closed_at LIMIT ?7 OFFSET ?6"
    );
    report::rows_from_tallies(tallies, |w| {
        let key = (w.key != none).then_some(w.key.as_str());
        let mut st = conn.prepare_cached(&exact_sql).map_err(map_err)?;
        let v: Vec<i64> = st
            .query_map(
                params![key, w.lo, w.hi, lo, hi, w.skip as i64, w.take as i64],
                |r| r.get(0),
            )
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        Ok(v)
    })
}

/// The cases behind one row of the reopen report, by ascending number, one page: walked
/// from the index of closures by key and case, so a page reads as far as its cases.
pub fn reopen_report_cases(
    conn: &Connection,
    q: &ReportCasesQuery,
) -> Result<Page<ReportCase>, StoreError> {
    let (_, col, _) = grouping(q.report.group_by);
    let index = match q.report.group_by {
        ReportGroup::Owner => "closures_cases_owner",
        ReportGroup::ProductArea => "closures_cases_area",
        ReportGroup::PrimaryResolution => "closures_cases_resolution",
    };
    let from = q.report.from.map_or(i64::MIN, micros);
    let to = q.report.to.map_or(i64::MAX, micros);
    // `(none)` is the row of closures without the value
    let key: Option<&str> = (q.key != report::NO_KEY).then_some(q.key.as_str());
    let after = q.page.after.map_or(0, |n| n.get() as i64);
    let cases_sql = format!(
        "SELECT cl.case_number, json_extract(c.state, '$.title')
           FROM (SELECT DISTINCT case_number FROM closures INDEXED BY {index}
                  WHERE {col} IS ?1 AND at >= ?2 AND at < ?3 AND case_number > ?4
                  ORDER BY case_number LIMIT ?5) cl
           JOIN cases c ON c.number = cl.case_number
          ORDER BY cl.case_number"
    );
    let closures_sql = format!(
        "SELECT seq, at, mode FROM closures
          WHERE case_number = ?1 AND {col} IS ?2 AND at >= ?3 AND at < ?4 ORDER BY seq"
    );
    let mut st = conn.prepare_cached(&cases_sql).map_err(map_err)?;
    let found: Vec<(i64, String)> = st
        .query_map(
            params![key, from, to, after, i64::from(q.page.limit) + 1],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            },
        )
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let mut closures = conn.prepare_cached(&closures_sql).map_err(map_err)?;
    let mut reopens = conn
        .prepare_cached(
            "SELECT at, actor, closed_at, close_mode, reason FROM reopens
              WHERE case_number = ?1 AND closed_at = ?2 AND seq > ?3
              ORDER BY seq LIMIT 1",
        )
        .map_err(map_err)?;
    let mut items = Vec::new();
    for (n, title) in found {
        let mut case = ReportCase {
            number: number_of(n)?,
            title,
            closures: Vec::new(),
            reopens: Vec::new(),
        };
        let rows: Vec<(i64, i64, String)> = closures
            .query_map(params![n, key, from, to], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        for (seq, at, m) in rows {
            case.closures.push(ReportClosure {
                at: from_micros(at)?,
                mode: mode(&m)?,
            });
            // the reopen that left this closure: the next one after it, if any
            let reopen: Option<(i64, String, i64, String, String)> = reopens
                .query_row(params![n, at, seq], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
                .map_err(map_err)?;
            if let Some((at, by, closed_at, close_mode, reason)) = reopen {
                let (at, closed_at) = (from_micros(at)?, from_micros(closed_at)?);
                case.reopens.push(ReportReopen {
                    at,
                    by,
                    closed_at,
                    close_mode: mode(&close_mode)?,
                    days_to_reopen: report::round2(report::days_between(closed_at, at)),
                    reason,
                });
            }
        }
        items.push(case);
    }
    Ok(Page::overfetched(items, q.page.limit, |c| c.number))
}
