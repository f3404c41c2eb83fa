//! PostgreSQL scenarios (run by `cargo xtask bench postgres`, which starts the server):
//! loading a synthetic data set through the store's import, and similar-case search
//! against the raw SQL query with the same terms.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use casework_core::ids::CaseNumber;
use casework_core::ports::{
    CaseQueries, CaseRecord, Diagnostics, ReportGroup, ReportQuery, ReportRow, Reports, Scope,
    StoreTransfer,
};
use casework_store_postgres::PgStore;

use crate::synth::{Generator, Rng};

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Loads `cases` synthetic cases (the same generator and seed as the SQLite benchmark)
/// through `import_cases`, 2,000 per transaction, unless the database holds them already.
pub async fn dataset(url: &str, cases: u64) -> Result<String> {
    let store = PgStore::open_url(url).await?;
    let have = store.stats().await?.cases;
    if have >= cases {
        return Ok(format!("reused ({have} cases)"));
    }
    let generator = Generator::new()?;
    let mut rng = Rng::new(42);
    let started = Instant::now();
    let batch = 2_000;
    let mut n = 1;
    while n <= cases {
        let end = (n + batch).min(cases + 1);
        let records: Vec<CaseRecord> = generator
            .batch(n..end, &mut rng)?
            .into_iter()
            .map(|history| CaseRecord {
                history,
                outbox: Vec::new(),
                attachments: Vec::new(),
            })
            .collect();
        if n > have {
            store.import_cases(records).await?;
        }
        n = end;
        if n % 100_000 == 1 {
            eprintln!("imported {} cases", n - 1);
        }
    }
    let took = started.elapsed();
    // what autovacuum does in time on a live database: visibility map, statistics, and the
    // search indexes' pending lists merged
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(
            "VACUUM ANALYZE cases, events, closures, reopens, search_public, search_internal",
        )
        .await?;
    Ok(format!(
        "imported through `import_cases` in {:.0} s ({:.0} cases/s, 2,000 per transaction), then `VACUUM ANALYZE`",
        took.as_secs_f64(),
        cases as f64 / took.as_secs_f64()
    ))
}

struct Timing {
    p50: Duration,
    p95: Duration,
    mean: Duration,
}

fn timing(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    Timing {
        p50: percentile(&samples, 0.5),
        p95: percentile(&samples, 0.95),
        mean,
    }
}

/// The raw query: the same OR of the same terms over both search tables, ranked with
/// `ts_rank`, the case itself left out, top 10 — what one would write by hand.
const RAW: &str = "SELECT kind, doc, sum(ts_rank(tsv, $1::text::tsquery))::float8 AS s FROM (
        SELECT kind, doc, tsv FROM search_public WHERE tsv @@ $1::text::tsquery
        UNION ALL SELECT kind, doc, tsv FROM search_internal WHERE tsv @@ $1::text::tsquery) r
    WHERE NOT (kind = 'case' AND doc = $2)
    GROUP BY kind, doc ORDER BY s DESC LIMIT 10";

/// Similar cases for 300 random cases, the store against the raw query with the same
/// terms (second pass of two: caches warm for both), and the reopen report; a Markdown
/// section.
pub async fn similar(url: &str, cases: u64) -> Result<String> {
    let store = PgStore::open_url(url).await?;
    let stats = store.stats().await?;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    // the raw query runs as the store's does: no parallel workers for a small read
    client
        .batch_execute("SET max_parallel_workers_per_gather = 0")
        .await?;
    let raw = client.prepare(RAW).await?;
    let mut rng = Rng::new(99);
    let picks: Vec<CaseNumber> = (0..300)
        .map(|_| CaseNumber::new(1 + rng.below(cases)).context("case number"))
        .collect::<Result<_>>()?;
    // the first cases on a fresh store: every frequency counted (up to the cap), nothing
    // cached; then each case's words counted whole, as the store did before the cap
    let mut terms = Vec::new();
    let mut first = Vec::new();
    for n in &picks {
        let t = Instant::now();
        terms.push(store.similar_terms(*n).await?);
        first.push(t.elapsed());
    }
    let whole = client
        .prepare(
            "SELECT (SELECT count(*) FROM (
                SELECT kind, doc FROM search_public WHERE tsv @@ u.q::tsquery
                UNION SELECT kind, doc FROM search_internal WHERE tsv @@ u.q::tsquery) d)
             FROM unnest($1::text[]) AS u(q)",
        )
        .await?;
    let mut uncapped = Vec::new();
    for n in picks.iter().take(5) {
        let row = client
            .query_one(
                "SELECT c.state->>'title' || ' ' || (c.state->>'description') FROM cases c \
                 WHERE number = $1",
                &[&(n.get() as i64)],
            )
            .await?;
        let text: String = row.get(0);
        let words: Vec<String> = casework_core::text::query_terms(&text)
            .into_iter()
            .filter(|t| t.chars().count() >= 2)
            .map(|t| format!("'{}'", casework_core::text::normalize(&t)))
            .collect();
        let t = Instant::now();
        client.query(&whole, &[&words]).await?;
        uncapped.push(t.elapsed());
    }
    let (mut store_t, mut raw_t, mut hits) = (Vec::new(), Vec::new(), 0);
    for round in 0..2 {
        store_t.clear();
        raw_t.clear();
        for n in &picks {
            let t = Instant::now();
            let h = store.similar(*n, Scope::Staff, 10).await?;
            store_t.push(t.elapsed());
            if round == 1 {
                hits += h.len();
            }
        }
        for (n, terms) in picks.iter().zip(&terms) {
            let q = terms
                .iter()
                .map(|t| format!("'{}'", casework_core::text::normalize(t)))
                .collect::<Vec<_>>()
                .join(" | ");
            let t = Instant::now();
            if !terms.is_empty() {
                client.query(&raw, &[&q, &(n.get() as i64)]).await?;
            }
            raw_t.push(t.elapsed());
        }
    }
    let (s, r) = (timing(store_t), timing(raw_t));
    let report = reports(&store, &client).await?;
    Ok(format!(
        "Data set: {} synthetic cases, {} events.\n\n\
         | Run ({cases} cases, 300 random cases, second pass) | p50 | p95 | mean | Ratio |\n|---|---|---|---|---|\n\
         | Casework `similar` on PostgreSQL (texts, cached frequencies, pruning, query, ranking, titles) | {} | {} | {} | — |\n\
         | raw query: the same `OR` of the same terms, `ts_rank`, top 10 | {} | {} | {} | store = **{:.2}×** raw throughput (target ≥ 0.8×, p95 ≤ 20 ms) |\n\n\
         {hits} similar hits returned in all. The first request on a fresh store (no \
         frequency cached): {} for the first case, {} p95 over the first 300 (frequencies \
         counted up to {}); counting the first 5 cases' words whole, as before the cap: {} p50, \
         {} max.\n\n{report}",
        stats.cases,
        stats.events,
        ms(s.p50),
        ms(s.p95),
        ms(s.mean),
        ms(r.p50),
        ms(r.p95),
        ms(r.mean),
        r.mean.as_secs_f64() / s.mean.as_secs_f64(),
        ms(first[0]),
        ms(timing(first.clone()).p95),
        casework_core::text::similar_count_cap(cases),
        ms(timing(uncapped.clone()).p50),
        ms(uncapped.iter().max().copied().unwrap_or_default()),
    ))
}

/// Runs of each report query.
const REPORT_RUNS: usize = 20;

/// The report as every call computed it before schema v11 (the statements of
/// `casework-store-postgres` then): every closure and reopen of the period aggregated per
/// call. Per key: (closed, temporarily closed, reopened, reopened from temporary).
async fn scan(
    client: &tokio_postgres::Client,
    q: &ReportQuery,
) -> Result<std::collections::BTreeMap<String, [u64; 4]>> {
    let col = crate::reports::column(q.group_by);
    let from = q.from.map(|t| t.to_string());
    let to = q.to.map(|t| t.to_string());
    let mut out: std::collections::BTreeMap<String, [u64; 4]> = Default::default();
    let closed = client
        .query(
            &format!(
                "SELECT COALESCE({col}, '(none)'), mode = 'temporary', count(DISTINCT case_number)
                 FROM closures
                 WHERE ($1::text IS NULL OR at >= $1::text::timestamptz)
                   AND ($2::text IS NULL OR at < $2::text::timestamptz)
                 GROUP BY 1, 2"
            ),
            &[&from, &to],
        )
        .await?;
    let reopened = client
        .query(
            &format!(
                "SELECT COALESCE({col}, '(none)'), close_mode = 'temporary', count(DISTINCT case_number),
                        percentile_cont(0.5) WITHIN GROUP (
                            ORDER BY extract(epoch FROM at - closed_at)::float8 / 86400)
                 FROM reopens
                 WHERE ($1::text IS NULL OR closed_at >= $1::text::timestamptz)
                   AND ($2::text IS NULL OR closed_at < $2::text::timestamptz)
                 GROUP BY 1, 2"
            ),
            &[&from, &to],
        )
        .await?;
    for (rows, base) in [(&closed, 0), (&reopened, 2)] {
        for r in rows {
            let temporary: bool = r.get(1);
            let n: i64 = r.get(2);
            out.entry(r.get(0)).or_default()[base + usize::from(temporary)] = n as u64;
        }
    }
    Ok(out)
}

fn counts(rows: &[ReportRow]) -> std::collections::BTreeMap<String, [u64; 4]> {
    rows.iter()
        .map(|r| {
            (
                r.key.clone(),
                [
                    r.closed,
                    r.temporarily_closed,
                    r.reopened,
                    r.reopened_from_temporary,
                ],
            )
        })
        .collect()
}

/// The reopen report from the store (live aggregates, schema v11) against the scan per call
/// of the same query, 20 runs each, answers checked equal: a Markdown table.
async fn reports(store: &PgStore, client: &tokio_postgres::Client) -> Result<String> {
    let span = client
        .query_one(
            "SELECT extract(epoch FROM min(at))::bigint, extract(epoch FROM max(at))::bigint,
                    (SELECT count(*) FROM closures), (SELECT count(*) FROM reopens) FROM closures",
            &[],
        )
        .await?;
    let (closures, reopens): (i64, i64) = (span.get(2), span.get(3));
    let (first, last): (Option<i64>, Option<i64>) = (span.get(0), span.get(1));
    let first = jiff::Timestamp::from_second(first.context("no closures")?)?;
    let last = jiff::Timestamp::from_second(last.context("no closures")?)?;
    let mid = first + jiff::SignedDuration::from_secs((last.as_second() - first.as_second()) / 2);
    let hours = jiff::SignedDuration::from_hours;
    let q = |group_by, from: Option<jiff::Timestamp>, to| ReportQuery { group_by, from, to };
    let mut out = format!(
        "Reopen report ({closures} closures, {reopens} reopens; {REPORT_RUNS} runs each, \
         answers checked equal to the scan's):\n\n\
         | Query | Casework p50 | Casework p95 | Scan per call p50 | Scan per call p95 | Scan p95 ÷ Casework p95 |\n\
         |---|---|---|---|---|---|\n"
    );
    for (name, query) in [
        (
            "by product area, all time",
            q(ReportGroup::ProductArea, None, None),
        ),
        ("by owner, all time", q(ReportGroup::Owner, None, None)),
        (
            "by product area, a quarter (odd hours)",
            q(
                ReportGroup::ProductArea,
                Some(mid + hours(7)),
                Some(mid + hours(90 * 24 + 13)),
            ),
        ),
        (
            "by resolution, a month (odd hours)",
            q(
                ReportGroup::PrimaryResolution,
                Some(mid + hours(3)),
                Some(mid + hours(30 * 24 + 5)),
            ),
        ),
    ] {
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let mut rows = 0;
        for _ in 0..REPORT_RUNS {
            let t = Instant::now();
            let got = store.reopen_report(query).await?;
            mine.push(t.elapsed());
            let t = Instant::now();
            let want = scan(client, &query).await?;
            theirs.push(t.elapsed());
            anyhow::ensure!(
                counts(&got) == want,
                "{name}: the store and the scan differ"
            );
            rows = got.len();
        }
        let (m, t) = (timing(mine), timing(theirs));
        out.push_str(&format!(
            "| {name} ({rows} rows) | {} | {} | {} | {} | **{:.1}×** |\n",
            ms(m.p50),
            ms(m.p95),
            ms(t.p50),
            ms(t.p95),
            t.p95.as_secs_f64() / m.p95.as_secs_f64().max(1e-9),
        ));
    }
    Ok(out)
}
