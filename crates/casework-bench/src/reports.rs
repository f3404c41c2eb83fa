//! The reopen report and its drill-down on the synthetic SQLite store: the store's answer
//! (live aggregates, schema 17) against the scan every call made before, run on the same
//! file in the same process, with the same rows checked equal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use casework_core::ports::{
    PageRequest, ReportCasesQuery, ReportGroup, ReportQuery, ReportRow, Reports,
};
use casework_core::report;
use casework_store_sqlite::SqliteStore;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};

use crate::store::{Timing, dataset, ms, timing, url};

/// Runs per query.
const RUNS: usize = 20;

/// The column a report grouping keys on, the same on SQLite and PostgreSQL.
pub(crate) fn column(g: ReportGroup) -> &'static str {
    match g {
        ReportGroup::ProductArea => "product_area",
        ReportGroup::Owner => "owner",
        ReportGroup::PrimaryResolution => "primary_resolution",
    }
}

/// The report as every call computed it before schema 17 (the statements of
/// `casework-store-sqlite` then): every closure and reopen in the period aggregated per
/// call, distinct cases and the median in Rust.
fn scan(conn: &Connection, q: &ReportQuery) -> Result<Vec<ReportRow>> {
    let col = column(q.group_by);
    let from = q.from.map_or(i64::MIN, |t| t.as_microsecond());
    let to = q.to.map_or(i64::MAX, |t| t.as_microsecond());
    #[derive(Default)]
    struct Acc {
        closed: u64,
        temporary: u64,
        reopened: BTreeSet<i64>,
        temporary_reopened: BTreeSet<i64>,
        days: Vec<f64>,
    }
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    let mut st = conn.prepare_cached(&format!(
        "SELECT COALESCE({col}, '(none)') AS k, mode = 'temporary', COUNT(DISTINCT case_number)
           FROM closures WHERE at >= ?1 AND at < ?2 GROUP BY k, mode = 'temporary'"
    ))?;
    let mut rows = st.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        let acc = groups.entry(r.get(0)?).or_default();
        let n: i64 = r.get(2)?;
        if r.get::<_, bool>(1)? {
            acc.temporary = n as u64;
        } else {
            acc.closed = n as u64;
        }
    }
    let mut st = conn.prepare_cached(&format!(
        "SELECT COALESCE({col}, '(none)') AS k, close_mode = 'temporary', case_number,
                at - closed_at
           FROM reopens WHERE closed_at >= ?1 AND closed_at < ?2"
    ))?;
    let mut rows = st.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        let acc = groups.entry(r.get(0)?).or_default();
        let case: i64 = r.get(2)?;
        if r.get::<_, bool>(1)? {
            acc.temporary_reopened.insert(case);
        } else {
            acc.reopened.insert(case);
            acc.days
                .push(SignedDuration::from_micros(r.get(3)?).as_secs_f64() / 86_400.0);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, acc)| ReportRow {
            temporarily_closed: acc.temporary,
            reopened_from_temporary: acc.temporary_reopened.len() as u64,
            ..report::row(key, acc.closed, acc.reopened.len() as u64, acc.days)
        })
        .collect())
}

fn row(name: &str, store: &Timing, base: Option<&Timing>) -> String {
    match base {
        Some(b) => format!(
            "| {name} | {} | {} | {} | {} | **{:.1}×** |\n",
            ms(store.p50),
            ms(store.p95),
            ms(b.p50),
            ms(b.p95),
            b.p95.as_secs_f64() / store.p95.as_secs_f64().max(1e-9)
        ),
        None => format!(
            "| {name} | {} | {} | — | — | — |\n",
            ms(store.p50),
            ms(store.p95)
        ),
    }
}

/// Times the store's report against the scan for one query; both answers must agree.
/// Without the scan (`store_only`, for profiling the store's side), the store's answers
/// must agree between runs.
async fn compare(
    store: &SqliteStore,
    conn: &Connection,
    q: ReportQuery,
    store_only: bool,
) -> Result<(Timing, Option<Timing>, usize)> {
    // each side timed in a loop of its own after a warm-up call, so neither is timed on a
    // page cache the other just filled with its own pages
    let (expected, theirs) = if store_only {
        (store.reopen_report(q).await?, None)
    } else {
        let expected = scan(conn, &q)?;
        let mut theirs = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let base = scan(conn, &q)?;
            theirs.push(t.elapsed());
            ensure!(base == expected, "the scan differs between runs for {q:?}");
        }
        (expected, Some(timing(theirs)))
    };
    let mut mine = Vec::new();
    store.reopen_report(q).await?;
    for _ in 0..RUNS {
        let t = Instant::now();
        let got = store.reopen_report(q).await?;
        mine.push(t.elapsed());
        ensure!(
            got == expected,
            "the live report differs from the scan for {q:?}"
        );
    }
    Ok((timing(mine), theirs, expected.len()))
}

/// Walks `pages` pages of the drill-down of the row with the most closures; the time of
/// each page.
async fn drill(store: &SqliteStore, q: ReportQuery, pages: usize) -> Result<(Timing, u64)> {
    let rows = store.reopen_report(q).await?;
    let Some(top) = rows.iter().max_by_key(|r| r.closed + r.temporarily_closed) else {
        anyhow::bail!("no rows for {q:?}");
    };
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..(RUNS / 4).max(1) {
        let mut after = None;
        for _ in 0..pages {
            let query = ReportCasesQuery {
                report: q,
                key: top.key.clone(),
                page: PageRequest {
                    limit: 50,
                    after,
                    ..PageRequest::default()
                },
            };
            let t = Instant::now();
            let page = store.reopen_report_cases(query).await?;
            times.push(t.elapsed());
            match page.next_cursor {
                Some(c) => after = Some(casework_core::ports::decode_cursor(&c)?),
                None => break,
            }
        }
    }
    Ok((timing(times), top.closed + top.temporarily_closed))
}

/// The Markdown section for a store of `cases` cases; `store_only` leaves the scan out.
pub async fn run(dir: &Path, cases: u64, store_only: bool) -> Result<String> {
    let path = dataset(dir, cases).await?;
    let store = SqliteStore::open_url(&url(&path))?;
    let conn = Connection::open(&path)?;
    let (first, last): (i64, i64) =
        conn.query_row("SELECT min(at), max(at) FROM closures", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let first = Timestamp::from_microsecond(first)?;
    let last = Timestamp::from_microsecond(last)?;
    let (closures, reopens): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM closures), (SELECT count(*) FROM reopens)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // periods that do not fall on weeks: a quarter and a month from the middle of the data,
    // starting at odd hours
    let mid = first + SignedDuration::from_secs((last.as_second() - first.as_second()) / 2);
    let quarter = (
        Some(mid + SignedDuration::from_hours(7)),
        Some(mid + SignedDuration::from_hours(90 * 24 + 13)),
    );
    let month = (
        Some(mid + SignedDuration::from_hours(3)),
        Some(mid + SignedDuration::from_hours(30 * 24 + 5)),
    );
    let q = |group_by, (from, to): (Option<Timestamp>, Option<Timestamp>)| ReportQuery {
        group_by,
        from,
        to,
    };
    let mut out = format!(
        "### Reopen report and drill-down, {cases} cases ({closures} closures, {reopens} \
         reopens; {RUNS} runs each)\n\n\
         | Query | Casework p50 | Casework p95 | Scan per call p50 | Scan per call p95 | Scan p95 ÷ Casework p95 |\n\
         |---|---|---|---|---|---|\n"
    );
    for (name, query) in [
        (
            "report by product area, all time",
            q(ReportGroup::ProductArea, (None, None)),
        ),
        (
            "report by owner, all time",
            q(ReportGroup::Owner, (None, None)),
        ),
        (
            "report by product area, a quarter (odd hours)",
            q(ReportGroup::ProductArea, quarter),
        ),
        (
            "report by resolution, a month (odd hours)",
            q(ReportGroup::PrimaryResolution, month),
        ),
    ] {
        let (mine, theirs, rows) = compare(&store, &conn, query, store_only).await?;
        out.push_str(&row(
            &format!("{name} ({rows} rows)"),
            &mine,
            theirs.as_ref(),
        ));
    }
    for (name, query) in [
        (
            "drill-down, largest product area, all time, 50 a page",
            q(ReportGroup::ProductArea, (None, None)),
        ),
        (
            "drill-down, largest owner, a month, 50 a page",
            q(ReportGroup::Owner, month),
        ),
    ] {
        let (t, n) = drill(&store, query, 20).await?;
        out.push_str(&row(
            &format!("{name} ({n} cases behind the row; up to 20 pages)"),
            &t,
            None,
        ));
    }
    let size = std::fs::metadata(&path)?.len();
    let agg: i64 = conn.query_row(
        "SELECT (SELECT count(*) FROM report_blocks) + (SELECT count(*) FROM report_delays)",
        [],
        |r| r.get(0),
    )?;
    out.push_str(&format!(
        "\nThe store file: {:.0} MiB, {:.0} bytes a case; the aggregates hold {agg} rows.\n",
        size as f64 / 1048576.0,
        size as f64 / cases as f64
    ));
    Ok(out)
}
