//! Search through `casework serve`: the case list's `q`, search, type-ahead prefixes and
//! similar cases, for words of every frequency, with one client and with 32, against
//! `GET /api/v1/cases/{n}` measured in the same run, with the server's resident memory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rusqlite::Connection;

/// A word class and the word standing for it in the synthetic data set. The mid word was
/// chosen by its measured document frequency: `mitercor` is in 2,960 of 100,000 cases
/// (3%, as the issue's `publishing` was in its 1M), where `publishing` stems to `publish`,
/// a support word in 95% of the synthetic cases.
const WORDS: &[(&str, &str)] = &[
    ("rare", "baba"),
    ("mid", "mitercor"),
    ("common", "timeout"),
    ("every case", "error"),
];

/// Requests a scenario makes with one client, and per client with 32.
const ONE_CLIENT: usize = 200;
const PER_CLIENT: usize = 10;
/// A scenario stops early after this long (a slow one still reports what it measured).
const BUDGET: Duration = Duration::from_secs(20);

/// Latency figures of one scenario.
struct Figures {
    p50: Duration,
    p95: Duration,
    requests: usize,
    errors: usize,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `clients` clients, each sending `each` requests (paths taken in turn), one at a time.
async fn load(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    paths: &[String],
    clients: usize,
    each: usize,
) -> Figures {
    let started = Instant::now();
    let paths = Arc::new(paths.to_vec());
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, paths) = (http.clone(), paths.clone());
        let (base, token) = (base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(each);
            let mut errors = 0;
            for i in 0..each {
                if started.elapsed() > BUDGET {
                    break;
                }
                let path = &paths[(c * each + i) % paths.len()];
                let t = Instant::now();
                let ok = match http
                    .get(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                times.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (times, errors)
        }));
    }
    let mut times = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((ts, e)) = t.await {
            times.extend(ts);
            errors += e;
        }
    }
    times.sort_unstable();
    Figures {
        p50: percentile(&times, 0.50),
        p95: percentile(&times, 0.95),
        requests: times.len(),
        errors,
    }
}

/// The server's resident memory, in MiB.
pub(crate) fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("VmRSS")?
        .parse()?;
    Ok(kb / 1024.0)
}

/// Where the served store is, to count the cases holding each word in it.
pub enum Source<'a> {
    /// A SQLite file.
    Sqlite(&'a Path),
    /// A PostgreSQL database.
    Postgres(&'a str),
}

/// Cases holding each word (stemmed as the index stems it), counted in the store.
async fn matching_cases(source: &Source<'_>, word: &str) -> Result<i64> {
    match source {
        Source::Sqlite(db) => {
            let conn = Connection::open(db)?;
            Ok(conn.query_row(
                "SELECT count(DISTINCT p.doc) FROM search_full JOIN search_passages p \
                 ON p.id = search_full.rowid WHERE search_full MATCH ?1 AND p.doc % 3 = 0",
                [format!("\"{word}\"")],
                |r| r.get(0),
            )?)
        }
        Source::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let q = format!("'{}'", casework_core::text::normalize(word));
            let row = client
                .query_one(
                    "SELECT count(*) FROM (
                       SELECT doc FROM search_public WHERE kind = 'case' AND tsv @@ $1::text::tsquery
                       UNION SELECT doc FROM search_internal
                       WHERE kind = 'case' AND tsv @@ $1::text::tsquery) d",
                    &[&q],
                )
                .await?;
            Ok(row.get(0))
        }
    }
}

/// Every scenario against the server at `base` (process `pid`) serving the store `source`
/// of `cases` cases: a Markdown section.
pub async fn run(
    source: Source<'_>,
    base: &str,
    token: &str,
    pid: u32,
    cases: u64,
) -> Result<String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    // spread over the data set, the same cases every run
    let numbers: Vec<u64> = (1..=50).map(|i| i * (cases / 51).max(1)).collect();
    let mut scenarios: Vec<(String, Vec<String>)> = vec![(
        "baseline: `GET /api/v1/cases/{n}`".into(),
        numbers
            .iter()
            .map(|n| format!("/api/v1/cases/{n}"))
            .collect(),
    )];
    let mut counts = Vec::new();
    for (class, word) in WORDS {
        counts.push(format!(
            "`{word}` ({class}): {} cases",
            matching_cases(&source, word).await?
        ));
        scenarios.push((
            format!("case list `q={word}`, {class}"),
            vec![format!("/api/v1/cases?q={word}%20&limit=25")],
        ));
        scenarios.push((
            format!("search `{word}`, {class}"),
            vec![format!("/api/v1/search?q={word}%20&limit=25")],
        ));
        let prefix = &word[..word.len().min(4)];
        scenarios.push((
            format!("type-ahead `{prefix}` (search, prefix), {class}"),
            vec![format!("/api/v1/search?q={prefix}&limit=10")],
        ));
    }
    scenarios.push((
        "search, a phrase and an exclusion: `\"map service\" -timeout`".into(),
        vec!["/api/v1/search?q=%22map%20service%22%20-timeout&limit=25".into()],
    ));
    scenarios.push((
        "similar cases of 50 cases".into(),
        numbers
            .iter()
            .map(|n| format!("/api/v1/cases/{n}/similar?limit=10"))
            .collect(),
    ));
    // warm the page cache and the server: every path once
    for (_, paths) in &scenarios {
        load(&http, base, token, paths, 1, paths.len()).await;
    }
    let rss_start = rss_mib(pid)?;
    let mut rows = Vec::new();
    let mut baseline = None;
    for (name, paths) in &scenarios {
        let one = load(&http, base, token, paths, 1, ONE_CLIENT).await;
        let before = rss_mib(pid)?;
        let many = load(&http, base, token, paths, 32, PER_CLIENT).await;
        let after = rss_mib(pid)?;
        if one.errors + many.errors > 0 {
            bail!("{name}: {} requests failed", one.errors + many.errors);
        }
        let base_p95 = *baseline.get_or_insert(one.p95);
        rows.push(format!(
            "| {name} | {} | {} | **{:.1}×** | {} | {} | {} | {before:.0} → {after:.0} MiB |",
            ms(one.p50),
            ms(one.p95),
            one.p95.as_secs_f64() / base_p95.as_secs_f64().max(1e-9),
            ms(many.p50),
            ms(many.p95),
            one.requests + many.requests,
        ));
    }
    let rss_end = rss_mib(pid)?;
    let raw = match &source {
        Source::Postgres(url) => raw_fts(url).await?,
        Source::Sqlite(_) => String::new(),
    };
    Ok(format!(
        "### {cases} cases\n\n\
         Words: {}.\n\n\
         | Query | 1 client p50 | 1 client p95 | p95 vs baseline | 32 clients p50 | 32 clients p95 | Requests | Server RSS during the 32-client run |\n\
         |---|---|---|---|---|---|---|---|\n{}\n\n\
         Server resident memory: {rss_start:.0} MiB after warming up, {rss_end:.0} MiB at the end.\n{raw}",
        counts.join("; "),
        rows.join("\n")
    ))
}

/// The raw full-text query one would write by hand on PostgreSQL, in the same run: a word's
/// newest 25 matching rows of cases through the GIN indexes (`tsv @@ q ORDER BY doc DESC
/// LIMIT 25`), each word 50 times after one warm-up, no parallel workers (as the store).
async fn raw_fts(url: &str) -> Result<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute("SET max_parallel_workers_per_gather = 0; SET jit = off")
        .await?;
    let st = client
        .prepare(
            "SELECT doc FROM (
               SELECT doc, seq FROM search_public WHERE kind = 'case' AND tsv @@ $1::text::tsquery
               UNION ALL SELECT doc, seq FROM search_internal
               WHERE kind = 'case' AND tsv @@ $1::text::tsquery) r
             ORDER BY doc DESC, seq DESC LIMIT 25",
        )
        .await?;
    let mut rows = Vec::new();
    for (class, word) in WORDS {
        let q = format!("'{}'", casework_core::text::normalize(word));
        client.query(&st, &[&q]).await?;
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            client.query(&st, &[&q]).await?;
            times.push(t.elapsed());
        }
        times.sort_unstable();
        rows.push(format!(
            "| raw: `tsv @@ '{word}' ORDER BY doc DESC LIMIT 25`, {class} | {} | {} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95))
        ));
    }
    Ok(format!(
        "\nThe raw query by hand in the same run (PostgreSQL's GIN index, 50 times each, one \
         connection):\n\n| Query | p50 | p95 |\n|---|---|---|\n{}\n",
        rows.join("\n")
    ))
}
