//! PostgreSQL scenarios (run by `cargo xtask bench postgres`, which starts the server):
//! loading a synthetic data set through the store's import, and similar-case search
//! against the raw SQL query with the same terms.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use casework_core::ids::CaseNumber;
use casework_core::ports::{
    CaseQueries, CaseRecord, Diagnostics, ReportGroup, ReportQuery, Reports, Scope, StoreTransfer,
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
    let mut terms = Vec::new();
    for n in &picks {
        terms.push(store.similar_terms(*n).await?);
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
    let q = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: None,
        to: None,
    };
    let mut report_t = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        rows = store.reopen_report(q).await?.len();
        report_t.push(t.elapsed());
    }
    let report = timing(report_t);
    Ok(format!(
        "Data set: {} synthetic cases, {} events.\n\n\
         | Run ({cases} cases, 300 random cases, second pass) | p50 | p95 | mean | Ratio |\n|---|---|---|---|---|\n\
         | Casework `similar` on PostgreSQL (texts, cached frequencies, pruning, query, ranking, titles) | {} | {} | {} | — |\n\
         | raw query: the same `OR` of the same terms, `ts_rank`, top 10 | {} | {} | {} | store = **{:.2}×** raw throughput (target ≥ 0.8×, p95 ≤ 20 ms) |\n\
         | reopen report by product area ({rows} rows, 5 runs) | {} | {} | {} | — |\n\n\
         {hits} similar hits returned in all.\n",
        stats.cases,
        stats.events,
        ms(s.p50),
        ms(s.p95),
        ms(s.mean),
        ms(r.p50),
        ms(r.p95),
        ms(r.mean),
        r.mean.as_secs_f64() / s.mean.as_secs_f64(),
        ms(report.p50),
        ms(report.p95),
        ms(report.mean),
    ))
}
