//! The reopen report and its drill-down over the closures and reopens copied out of events
//! with their group keys at close (see `casework_core::report` for what each figure means),
//! read from live aggregates the commit keeps in its transaction (schema 11: the same
//! design as SQLite's schema 17, see `casework-store-sqlite/src/reports.rs`; the all-time
//! delay histogram of schema 13 as SQLite's 19), and the counts
//! `casework doctor` shows.

use std::collections::BTreeMap;

use casework_core::model::CloseMode;
use casework_core::ports::{
    Page, ReportCase, ReportCasesQuery, ReportClosure, ReportGroup, ReportQuery, ReportReopen,
    ReportRow, StatusCount, StoreError, StoreStats,
};
use casework_core::report::{self, Bucket, Tally};
use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use crate::db::{Ts, big, dec, enc, exec, get, num, number_of, one, opt, rows};

fn key_column(group: ReportGroup) -> &'static str {
    match group {
        ReportGroup::ProductArea => "product_area",
        ReportGroup::Owner => "owner",
        ReportGroup::PrimaryResolution => "primary_resolution",
    }
}

fn mode_of(text: &str) -> Result<CloseMode, StoreError> {
    text.parse()
        .map_err(|e: casework_core::ids::ParseError| StoreError::Internal(e.to_string()))
}

/// The three groupings: their number in the aggregates, key column, predecessor column.
const GROUPINGS: [(ReportGroup, i16, &str, &str); 3] = [
    (ReportGroup::Owner, 0, "owner", "prev_owner"),
    (ReportGroup::ProductArea, 1, "product_area", "prev_area"),
    (
        ReportGroup::PrimaryResolution,
        2,
        "primary_resolution",
        "prev_resolution",
    ),
];

fn grouping(g: ReportGroup) -> (i16, &'static str, &'static str) {
    let (_, id, col, prev) = GROUPINGS
        .iter()
        .copied()
        .find(|(x, ..)| *x == g)
        .unwrap_or(GROUPINGS[0]);
    (id, col, prev)
}

/// Closure facts (kind 0) and reopen facts (kind 1): their table, time and mode columns.
const CLOSURE: (i16, &str, &str, &str) = (0, "closures", "at", "mode");
const REOPEN: (i16, &str, &str, &str) = (1, "reopens", "closed_at", "close_mode");

/// A fact about to be recorded, as the chains see it.
struct Link<'a> {
    kind: (i16, &'static str, &'static str, &'static str),
    case: i64,
    seq: i64,
    time: Timestamp,
    temporary: bool,
    /// Stored (encoded) keys, per grouping.
    keys: &'a [Option<String>; 3],
}

/// Finds the new fact's predecessor in each grouping's chain (same case, key and class, in
/// time order), points its successor at it, counts it in the week's aggregates; returns the
/// predecessors' times to store with it.
async fn link(c: &impl GenericClient, l: &Link<'_>) -> Result<[Option<Ts>; 3], StoreError> {
    let (kind, table, time_col, mode_col) = l.kind;
    let mut prevs = [None; 3];
    for (i, (_, g, col, prev_col)) in GROUPINGS.iter().enumerate() {
        let key = l.keys[i].as_deref();
        let chain = rows(
            c,
            &format!(
                "SELECT seq, {time_col}, {prev_col} IS NULL FROM {table}
                  WHERE case_number = $1 AND {col} IS NOT DISTINCT FROM $2
                    AND ({mode_col} = 'temporary') = $3"
            ),
            &[&l.case, &key, &l.temporary],
        )
        .await?;
        let mut links = Vec::with_capacity(chain.len());
        for r in &chain {
            links.push((get::<i64>(r, 0)?, get::<Ts>(r, 1)?.0, get::<bool>(r, 2)?));
        }
        let me = (l.time, l.seq);
        let pred = links
            .iter()
            .filter(|(s, t, _)| (*t, *s) < me)
            .max_by_key(|(s, t, _)| (*t, *s));
        let succ = links
            .iter()
            .filter(|(s, t, _)| (*t, *s) > me)
            .min_by_key(|(s, t, _)| (*t, *s));
        prevs[i] = pred.map(|(_, t, _)| Ts(*t));
        let k = key.unwrap_or(report::NO_KEY);
        let us = l.time.as_microsecond();
        bump(
            c,
            *g,
            report::block_of(us),
            k,
            l.temporary,
            kind,
            1,
            i64::from(pred.is_some()),
        )
        .await?;
        if let Some((_, t, _)) = pred {
            gap(c, *g, kind, us - t.as_microsecond()).await?;
        }
        if let Some((s, t, was_first)) = succ {
            exec(
                c,
                &format!("UPDATE {table} SET {prev_col} = $3 WHERE case_number = $1 AND seq = $2"),
                &[&l.case, s, &Ts(l.time)],
            )
            .await?;
            let ts = t.as_microsecond();
            if *was_first {
                bump(c, *g, report::block_of(ts), k, l.temporary, kind, 0, 1).await?;
            }
            gap(c, *g, kind, ts - us).await?;
        }
    }
    Ok(prevs)
}

/// Adds facts and repeats to one week's counts.
#[allow(clippy::too_many_arguments)]
async fn bump(
    c: &impl GenericClient,
    g: i16,
    block: i64,
    key: &str,
    temporary: bool,
    kind: i16,
    facts: i64,
    repeats: i64,
) -> Result<(), StoreError> {
    let (cl, cr, r, rr) = if kind == 0 {
        (facts, repeats, 0, 0)
    } else {
        (0, 0, facts, repeats)
    };
    exec(
        c,
        "INSERT INTO report_blocks AS b (grouping, block, key, temporary, closures,
                                         closure_repeats, reopens, reopen_repeats)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (grouping, block, key, temporary) DO UPDATE
            SET closures = b.closures + excluded.closures,
                closure_repeats = b.closure_repeats + excluded.closure_repeats,
                reopens = b.reopens + excluded.reopens,
                reopen_repeats = b.reopen_repeats + excluded.reopen_repeats",
        &[&g, &block, &key, &temporary, &cl, &cr, &r, &rr],
    )
    .await?;
    Ok(())
}

/// Keeps the longest gap of any chain (an upper bound).
async fn gap(c: &impl GenericClient, g: i16, kind: i16, gap: i64) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO report_gaps AS x (grouping, kind, gap) VALUES ($1, $2, $3)
         ON CONFLICT (grouping, kind) DO UPDATE SET gap = greatest(x.gap, excluded.gap)",
        &[&g, &kind, &gap],
    )
    .await?;
    Ok(())
}

/// Records a report fact of a commit (a closure with its keys at close, or a reopen) and
/// keeps the aggregates current, in the commit's transaction.
pub async fn record_fact(
    c: &impl GenericClient,
    case: i64,
    fact: report::Fact,
) -> Result<(), StoreError> {
    match fact {
        report::Fact::Closure {
            seq,
            at,
            mode,
            keys,
        } => record_closure(c, case, seq, at, mode, &keys).await,
        report::Fact::Reopen {
            seq,
            at,
            actor,
            closed_at,
            close_mode,
            reason,
        } => {
            let reopen = Reopen {
                at,
                actor: &actor,
                closed_at,
                close_mode,
                reason: &reason,
            };
            record_reopen(c, case, seq, reopen).await
        }
    }
}

/// A reopen as it is recorded.
struct Reopen<'a> {
    at: Timestamp,
    actor: &'a str,
    closed_at: Timestamp,
    close_mode: CloseMode,
    reason: &'a str,
}

/// Records a closure with its keys at close and keeps the aggregates current.
async fn record_closure(
    c: &impl GenericClient,
    case: i64,
    seq: u64,
    at: Timestamp,
    mode: CloseMode,
    keys: &report::GroupKeys,
) -> Result<(), StoreError> {
    let keys = GROUPINGS.map(|(g, ..)| keys.get(g).map(|k| enc(k).into_owned()));
    let prevs = link(
        c,
        &Link {
            kind: CLOSURE,
            case,
            seq: big(seq),
            time: at,
            temporary: mode == CloseMode::Temporary,
            keys: &keys,
        },
    )
    .await?;
    exec(
        c,
        "INSERT INTO closures (case_number, seq, at, mode, owner, product_area,
                               primary_resolution, prev_owner, prev_area, prev_resolution)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &case,
            &big(seq),
            &Ts(at),
            &mode.as_str(),
            &keys[0],
            &keys[1],
            &keys[2],
            &prevs[0],
            &prevs[1],
            &prevs[2],
        ],
    )
    .await?;
    Ok(())
}

/// Records a reopen with who, why and the keys of the closure it left (the case's last),
/// and keeps the aggregates current.
async fn record_reopen(
    c: &impl GenericClient,
    case: i64,
    seq: u64,
    r: Reopen<'_>,
) -> Result<(), StoreError> {
    let Reopen {
        at,
        actor,
        closed_at,
        close_mode,
        reason,
    } = r;
    let left = opt(
        c,
        "SELECT owner, product_area, primary_resolution FROM closures
          WHERE case_number = $1 ORDER BY seq DESC LIMIT 1",
        &[&case],
    )
    .await?;
    let keys: [Option<String>; 3] = match &left {
        Some(r) => [get(r, 0)?, get(r, 1)?, get(r, 2)?],
        None => [None, None, None],
    };
    let temporary = close_mode == CloseMode::Temporary;
    let prevs = link(
        c,
        &Link {
            kind: REOPEN,
            case,
            seq: big(seq),
            time: closed_at,
            temporary,
            keys: &keys,
        },
    )
    .await?;
    let delay = at.as_microsecond() - closed_at.as_microsecond();
    if !temporary {
        for (i, (_, g, ..)) in GROUPINGS.iter().enumerate() {
            exec(
                c,
                "INSERT INTO report_delays AS d (grouping, block, key, bucket, n, lo, hi)
                 VALUES ($1, $2, $3, $4, 1, $5, $5)
                 ON CONFLICT (grouping, block, key, bucket) DO UPDATE
                    SET n = d.n + 1, lo = least(d.lo, excluded.lo), hi = greatest(d.hi, excluded.hi)",
                &[
                    g,
                    &report::block_of(closed_at.as_microsecond()),
                    &keys[i].as_deref().unwrap_or(report::NO_KEY),
                    &report::delay_bucket(delay),
                    &delay,
                ],
            )
            .await?;
            exec(
                c,
                "INSERT INTO report_delay_totals AS d (grouping, key, bucket, n, lo, hi)
                 VALUES ($1, $2, $3, 1, $4, $4)
                 ON CONFLICT (grouping, key, bucket) DO UPDATE
                    SET n = d.n + 1, lo = least(d.lo, excluded.lo), hi = greatest(d.hi, excluded.hi)",
                &[
                    g,
                    &keys[i].as_deref().unwrap_or(report::NO_KEY),
                    &report::delay_bucket(delay),
                    &delay,
                ],
            )
            .await?;
        }
    }
    exec(
        c,
        "INSERT INTO reopens (case_number, seq, at, actor, closed_at, close_mode, reason, owner,
                              product_area, primary_resolution, prev_owner, prev_area,
                              prev_resolution, delay)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &case,
            &big(seq),
            &Ts(at),
            &enc(actor),
            &Ts(closed_at),
            &close_mode.as_str(),
            &enc(reason),
            &keys[0],
            &keys[1],
            &keys[2],
            &prevs[0],
            &prevs[1],
            &prevs[2],
            &delay,
        ],
    )
    .await?;
    Ok(())
}

/// The reopen report from the aggregates: whole weeks from `report_blocks` and
/// `report_delays`, the period's edges and the repeats straddling its start from indexed
/// rows (see `casework-store-sqlite/src/reports.rs` for the reasoning).
pub async fn reopen_report(
    c: &impl GenericClient,
    q: &ReportQuery,
) -> Result<Vec<ReportRow>, StoreError> {
    let (g, col, prev_col) = grouping(q.group_by);
    let from = q.from.map(|t| t.as_microsecond());
    let to = q.to.map(|t| t.as_microsecond());
    let span = report::span(from, to);
    let none = report::NO_KEY;
    let ts = |us: i64| Timestamp::from_microsecond(us).map(Ts).ok();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let class = |t: bool| usize::from(t);
    let n = |r: &tokio_postgres::Row, i: usize| get::<i64>(r, i).map(|v| v as u64);
    if span.blocks.0 < span.blocks.1 {
        for r in rows(
            c,
            "SELECT key, temporary, sum(closures)::bigint, sum(closure_repeats)::bigint,
                    sum(reopens)::bigint, sum(reopen_repeats)::bigint
               FROM report_blocks WHERE grouping = $1 AND block >= $2 AND block < $3
              GROUP BY key, temporary",
            &[&g, &span.blocks.0, &span.blocks.1],
        )
        .await?
        {
            let t = tallies.entry(dec(get(&r, 0)?)).or_default();
            let k = class(get(&r, 1)?);
            t.closures[k].all += n(&r, 2)?;
            t.closures[k].repeats += n(&r, 3)?;
            t.reopens[k].all += n(&r, 4)?;
            t.reopens[k].repeats += n(&r, 5)?;
        }
        // all time: one row per key and bucket (schema 13), not one per week
        let delays = if from.is_none() && to.is_none() {
            rows(
                c,
                "SELECT key, bucket, n, lo, hi FROM report_delay_totals WHERE grouping = $1",
                &[&g],
            )
            .await?
        } else {
            rows(
                c,
                "SELECT key, bucket, sum(n)::bigint, min(lo), max(hi)
                   FROM report_delays WHERE grouping = $1 AND block >= $2 AND block < $3
                  GROUP BY key, bucket",
                &[&g, &span.blocks.0, &span.blocks.1],
            )
            .await?
        };
        for r in delays {
            let t = tallies.entry(dec(get(&r, 0)?)).or_default();
            t.delay(
                get(&r, 1)?,
                Bucket {
                    n: n(&r, 2)?,
                    lo: get(&r, 3)?,
                    hi: get(&r, 4)?,
                },
            );
        }
    }
    for (f, t) in &span.edges {
        // an edge reaches at most to an open end of the period
        let (f, t) = (ts(*f), ts(*t));
        for r in rows(
            c,
            &format!(
                "SELECT COALESCE({col}, '{none}'), mode = 'temporary', count(*),
                        count({prev_col})
                   FROM closures
                  WHERE ($1::timestamptz IS NULL OR at >= $1)
                    AND ($2::timestamptz IS NULL OR at < $2)
                  GROUP BY 1, 2"
            ),
            &[&f, &t],
        )
        .await?
        {
            let x = &mut tallies.entry(dec(get(&r, 0)?)).or_default().closures[class(get(&r, 1)?)];
            x.all += n(&r, 2)?;
            x.repeats += n(&r, 3)?;
        }
        for r in rows(
            c,
            &format!(
                "SELECT COALESCE({col}, '{none}'), close_mode = 'temporary',
                        {prev_col} IS NOT NULL, delay
                   FROM reopens
                  WHERE ($1::timestamptz IS NULL OR closed_at >= $1)
                    AND ($2::timestamptz IS NULL OR closed_at < $2)"
            ),
            &[&f, &t],
        )
        .await?
        {
            let t = tallies.entry(dec(get(&r, 0)?)).or_default();
            let temp: bool = get(&r, 1)?;
            let x = &mut t.reopens[class(temp)];
            x.all += 1;
            x.repeats += u64::from(get::<bool>(&r, 2)?);
            if !temp {
                let d: i64 = get(&r, 3)?;
                t.delay(report::delay_bucket(d), Bucket { n: 1, lo: d, hi: d });
            }
        }
    }
    if let Some(f) = from {
        for (kind, table, time_col, mode_col) in [CLOSURE, REOPEN] {
            let longest = opt(
                c,
                "SELECT gap FROM report_gaps WHERE grouping = $1 AND kind = $2",
                &[&g, &kind],
            )
            .await?;
            let Some(longest) = longest.map(|r| get::<i64>(&r, 0)).transpose()? else {
                continue;
            };
            let end = to
                .unwrap_or(i64::MAX)
                .min(f.saturating_add(longest).saturating_add(1));
            for r in rows(
                c,
                &format!(
                    "SELECT COALESCE({col}, '{none}'), {mode_col} = 'temporary', count(*)
                       FROM {table}
                      WHERE {prev_col} IS NOT NULL AND {time_col} >= $1
                        AND ($2::timestamptz IS NULL OR {time_col} < $2) AND {prev_col} < $1
                      GROUP BY 1, 2"
                ),
                &[&ts(f), &ts(end)],
            )
            .await?
            {
                let t = tallies.entry(dec(get(&r, 0)?)).or_default();
                let k = class(get(&r, 1)?);
                let x = if kind == 0 {
                    &mut t.closures[k]
                } else {
                    &mut t.reopens[k]
                };
                x.straddles += n(&r, 2)?;
            }
        }
    }
    // the middle of a crowded bucket (one key, one bucket, both middle values at once):
    // an index-only walk of the partial covering index of delays by key (schema 12)
    let mut exact: BTreeMap<report::Wanted, Vec<i64>> = BTreeMap::new();
    for w in report::wanted(&tallies) {
        let stored = (w.key != none).then(|| enc(&w.key).into_owned());
        let is = if stored.is_some() {
            format!("{col} = $1")
        } else {
            format!("($1::text IS NULL AND {col} IS NULL)")
        };
        let v = rows(
            c,
            &format!(
                "SELECT delay FROM reopens
                  WHERE {is} AND delay >= $2 AND delay <= $3
                    AND ($4::timestamptz IS NULL OR closed_at >= $4)
                    AND ($5::timestamptz IS NULL OR closed_at < $5)
                    AND close_mode <> 'temporary'
                  ORDER BY delay OFFSET $6 LIMIT $7"
            ),
            &[
                &stored,
                &w.lo,
                &w.hi,
                &q.from.map(Ts),
                &q.to.map(Ts),
                &(w.skip as i64),
                &(w.take as i64),
            ],
        )
        .await?
        .iter()
        .map(|r| get::<i64>(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
        exact.insert(w, v);
    }
    report::rows_from_tallies(tallies, |w| {
        Ok::<_, StoreError>(exact.get(w).cloned().unwrap_or_default())
    })
}

/// The cases behind one row of the report, by ascending number, one page: each with its
/// closures in the period and the group, and the reopen that left each of them.
pub async fn reopen_report_cases(
    c: &impl GenericClient,
    q: &ReportCasesQuery,
) -> Result<Page<ReportCase>, StoreError> {
    let col = key_column(q.report.group_by);
    let (from, to) = (q.report.from.map(Ts), q.report.to.map(Ts));
    // `(none)` is the row of closures without the value
    let key = (q.key != report::NO_KEY).then(|| enc(&q.key).into_owned());
    let after = q.page.after.map_or(0, num);
    let period =
        "($3::timestamptz IS NULL OR cl.at >= $3) AND ($4::timestamptz IS NULL OR cl.at < $4)";
    // an equality (or IS NULL) the index by key and case can serve, a page at a time
    let is = if key.is_some() {
        format!("cl.{col} = $1")
    } else {
        format!("cl.{col} IS NULL AND $1::text IS NULL")
    };
    let found = rows(
        c,
        &format!(
            "SELECT f.case_number, c.state->>'title'
             FROM (SELECT DISTINCT cl.case_number FROM closures cl
                    WHERE {is} AND {period} AND cl.case_number > $2
                    ORDER BY cl.case_number LIMIT $5) f
             JOIN cases c ON c.number = f.case_number
             ORDER BY f.case_number"
        ),
        &[&key, &after, &from, &to, &(i64::from(q.page.limit) + 1)],
    )
    .await?;
    let mut items = Vec::with_capacity(found.len());
    for r in &found {
        let n: i64 = get(r, 0)?;
        let closures = rows(
            c,
            &format!(
                "SELECT cl.at, cl.mode, re.at, re.actor, re.closed_at, re.close_mode, re.reason
                 FROM closures cl
                 LEFT JOIN LATERAL (
                     SELECT at, actor, closed_at, close_mode, reason FROM reopens
                     WHERE case_number = cl.case_number AND closed_at = cl.at AND seq > cl.seq
                     ORDER BY seq LIMIT 1) re ON true
                 WHERE cl.case_number = $2 AND cl.{col} IS NOT DISTINCT FROM $1 AND {period}
                 ORDER BY cl.seq"
            ),
            &[&key, &n, &from, &to],
        )
        .await?;
        let mut case = ReportCase {
            number: number_of(n)?,
            title: dec(get::<Option<String>>(r, 1)?.unwrap_or_default()),
            closures: Vec::new(),
            reopens: Vec::new(),
        };
        for cl in &closures {
            case.closures.push(ReportClosure {
                at: get::<Ts>(cl, 0)?.0,
                mode: mode_of(&get::<String>(cl, 1)?)?,
            });
            if let Some(at) = get::<Option<Ts>>(cl, 2)? {
                let closed_at = get::<Ts>(cl, 4)?.0;
                case.reopens.push(ReportReopen {
                    at: at.0,
                    by: dec(get(cl, 3)?),
                    closed_at,
                    close_mode: mode_of(&get::<String>(cl, 5)?)?,
                    days_to_reopen: report::round2(report::days_between(closed_at, at.0)),
                    reason: dec(get(cl, 6)?),
                });
            }
        }
        items.push(case);
    }
    Ok(Page::overfetched(items, q.page.limit, |c: &ReportCase| {
        c.number
    }))
}

/// Counts, for diagnostics.
pub async fn stats(c: &impl GenericClient) -> Result<StoreStats, StoreError> {
    let r = one(
        c,
        "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM events),
                (SELECT count(*) FROM outbox WHERE status = 'queued'),
                (SELECT count(*) FROM people), (SELECT version FROM casework_schema)",
        &[],
    )
    .await?;
    let n = |i: usize| get::<i64>(&r, i).map(|v| v as u64);
    // statuses compare without case, as the case list's status filter does
    let statuses = rows(
        c,
        "SELECT min(status), count(*) FROM cases GROUP BY lower(status) ORDER BY lower(status)",
        &[],
    )
    .await?
    .iter()
    .map(|s| {
        let status = dec(get(s, 0)?);
        Ok(StatusCount {
            status: status
                .parse()
                .map_err(|e: casework_core::ids::ParseError| StoreError::Internal(e.to_string()))?,
            cases: get::<i64>(s, 1)? as u64,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(StoreStats {
        cases: n(0)?,
        events: n(1)?,
        queued_messages: n(2)?,
        people: n(3)?,
        schema_version: Some(get::<i32>(&r, 4)? as u32),
        statuses,
    })
}
