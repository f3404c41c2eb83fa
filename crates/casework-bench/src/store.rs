//! Store scenarios: commit throughput against raw rusqlite loops, similar-case search against
//! a raw FTS5 query with the same terms, and the reopen report against the sqlite3 shell.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use casework_core::event::{Event, EventKind, Opened, replay};
use casework_core::ids::CaseNumber;
use casework_core::model::{Case, PostKind};
use casework_core::ports::{
    CaseLog, CaseQueries, Diagnostics, ReportGroup, ReportQuery, Reports, Scope,
};
use casework_core::text;
use casework_store_sqlite::SqliteStore;
use rusqlite::{Connection, params};

use crate::synth::{Generator, Rng};

fn fresh(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(path)
}

pub(crate) fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// One opened case per commit, with everything the store writes for it, pre-encoded.
struct Row {
    case: Case,
    case_json: String,
    event: Event,
    event_json: String,
}

fn rows(generator: &Generator, n: u64) -> Result<Vec<Row>> {
    let mut rng = Rng::new(11);
    let mut out = Vec::with_capacity(n as usize);
    for i in 1..=n {
        let history = generator.case(i, &mut rng);
        let event = history.into_iter().next().context("empty history")?;
        let case = replay([&event])?;
        out.push(Row {
            case_json: serde_json::to_string(&case)?,
            event_json: serde_json::to_string(&event)?,
            case,
            event,
        });
    }
    Ok(out)
}

/// The raw baseline: the same rows per case (case, event, the head passage and its two search
/// rows), prepared statements, one transaction per case.
fn raw_loop(path: &Path, rows: &[Row], synchronous: &str) -> Result<f64> {
    drop(SqliteStore::open_url(&url(path))?); // same schema, triggers and FTS tables
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};"
    ))?;
    let started = Instant::now();
    for r in rows {
        let c = &r.case;
        conn.execute_batch("BEGIN")?;
        conn.prepare_cached(
            "INSERT INTO cases (number, version, status, status_category, owner, customer_email,
                                product_area, primary_resolution, reopen_count, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            c.number.get() as i64,
            c.version as i64,
            c.status.as_str(),
            c.status_category.as_str(),
            c.owner,
            c.customer.email.as_str(),
            c.category.product_area,
            Option::<String>::None,
            c.reopen_count,
            r.case_json
        ])?;
        conn.prepare_cached(
            "INSERT INTO events (case_number, seq, kind, body) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            c.number.get() as i64,
            1,
            r.event.kind.name(),
            r.event_json
        ])?;
        conn.prepare_cached("INSERT INTO search_passages (doc, seq) VALUES (?1, 0)")?
            .execute([c.number.get() as i64 * 3])?;
        let id = conn.last_insert_rowid();
        for table in ["search_full", "search_public"] {
            conn.prepare_cached(&format!(
                "INSERT INTO {table} (rowid, title, body) VALUES (?1, ?2, ?3)"
            ))?
            .execute(params![id, c.title, c.description])?;
        }
        conn.execute_batch("COMMIT")?;
    }
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}

/// The store: 32 concurrent writers creating cases at the default durability (FULL).
async fn store_commits(path: &Path, rows: &[Row]) -> Result<f64> {
    let store = Arc::new(SqliteStore::open_url(&url(path))?);
    let opened: Vec<(jiff::Timestamp, String, Opened)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.event.at,
                r.event.actor.clone(),
                r.event.kind.clone().try_into()?,
            ))
        })
        .collect::<Result<_, casework_core::event::NotOpened>>()?;
    let opened = Arc::new(opened);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (store, opened, next) = (store.clone(), opened.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((at, actor, kind)) = opened.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                store
                    .create_case(*at, actor.clone(), kind.clone(), Vec::new())
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}

async fn build(
    path: &Path,
    generator: &Generator,
    cases: u64,
) -> Result<(Arc<SqliteStore>, Duration)> {
    let store = Arc::new(SqliteStore::open_url(&url(path))?);
    let mut rng = Rng::new(42);
    let started = Instant::now();
    let batch = 20_000;
    let mut n = 1;
    while n <= cases {
        let end = (n + batch).min(cases + 1);
        let histories = generator.batch(n..end, &mut rng)?;
        store.import(histories).await?;
        n = end;
    }
    Ok((store, started.elapsed()))
}

/// The terms the store's similar query uses for a case, computed the same way, on a raw
/// connection (outside the timed part of the baseline).
fn similar_terms(conn: &Connection, n: u64) -> Result<Vec<String>> {
    let state: String = conn.query_row(
        "SELECT state FROM cases WHERE number = ?1",
        [n as i64],
        |r| r.get(0),
    )?;
    let case: Case = serde_json::from_str(&state)?;
    let mut summaries = Vec::new();
    let mut st = conn
        .prepare_cached("SELECT body FROM events WHERE case_number = ?1 AND kind = 'post_added'")?;
    for body in st.query_map([n as i64], |r| r.get::<_, String>(0))? {
        let e: Event = serde_json::from_str(&body?)?;
        if let EventKind::PostAdded {
            kind: PostKind::Summary,
            body,
            ..
        } = e.kind
        {
            summaries.push(body);
        }
    }
    let total: i64 = conn.query_row(
        "SELECT (SELECT COALESCE(MAX(number), 0) FROM cases) + (SELECT count(*) FROM articles) + (SELECT count(*) FROM defects)",
        [],
        |r| r.get(0),
    )?;
    let mut df = conn.prepare_cached(
        "SELECT count(DISTINCT p.doc) FROM search_full JOIN search_passages p \
         ON p.id = search_full.rowid WHERE search_full MATCH ?1",
    )?;
    let sources = [case.title.as_str(), case.description.as_str()]
        .into_iter()
        .chain(summaries.iter().map(String::as_str));
    Ok(text::similar_terms(
        sources,
        |t| {
            df.query_row([format!("\"{}\"", t.replace('"', "\"\""))], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0) as u64
        },
        total as u64,
    ))
}

/// Percentiles and mean of some timed runs.
pub(crate) struct Timing {
    pub(crate) p50: Duration,
    pub(crate) p95: Duration,
    pub(crate) mean: Duration,
}

/// The percentiles and mean of `samples`.
pub(crate) fn timing(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    Timing {
        p50: percentile(&samples, 0.5),
        p95: percentile(&samples, 0.95),
        mean,
    }
}

async fn similar(store: &SqliteStore, path: &Path, cases: u64) -> Result<(Timing, Timing, usize)> {
    let mut rng = Rng::new(99);
    let picks: Vec<u64> = (0..300).map(|_| 1 + rng.below(cases)).collect();
    let conn = Connection::open(path)?;
    let terms: Vec<Vec<String>> = picks
        .iter()
        .map(|n| similar_terms(&conn, *n))
        .collect::<Result<_>>()?;
    let mut hits = 0;
    let mut store_t = Vec::new();
    let mut raw_t = Vec::new();
    for round in 0..2 {
        store_t.clear();
        raw_t.clear();
        for n in &picks {
            let number = CaseNumber::new(*n).context("case number")?;
            let t = Instant::now();
            let h = store.similar(number, Scope::Staff, 10).await?;
            store_t.push(t.elapsed());
            if round == 1 {
                hits += h.len();
            }
        }
        for (n, terms) in picks.iter().zip(&terms) {
            let expr = terms
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(" OR ");
            let t = Instant::now();
            if !terms.is_empty() {
                // the ten best passages of other cases, without adding up per document
                let mut st = conn.prepare_cached(
                    "SELECT p.doc, bm25(search_full) AS s FROM search_full
                     JOIN search_passages p ON p.id = search_full.rowid
                     WHERE search_full MATCH ?1 AND p.doc != ?2 ORDER BY s LIMIT 10",
                )?;
                let rows = st.query_map(params![expr, *n as i64 * 3], |r| r.get::<_, i64>(0))?;
                for r in rows {
                    r?;
                }
            }
            raw_t.push(t.elapsed());
        }
    }
    Ok((timing(store_t), timing(raw_t), hits))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn report(store: &SqliteStore, path: &Path) -> Result<(Duration, Duration, usize)> {
    let q = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: None,
        to: None,
    };
    let mut store_t = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        rows = store.reopen_report(q).await?.len();
        store_t.push(t.elapsed());
    }
    // the same two aggregate statements, run by the sqlite3 shell
    let sql = format!(
        "SELECT COALESCE(product_area, '(none)') AS k, mode = 'temporary',
                COUNT(DISTINCT case_number)
           FROM closures WHERE at >= {min} AND at < {max} GROUP BY k, mode = 'temporary';
         SELECT COALESCE(product_area, '(none)') AS k, close_mode = 'temporary', case_number,
                at - closed_at
           FROM reopens WHERE closed_at >= {min} AND closed_at < {max};",
        min = i64::MIN,
        max = i64::MAX
    );
    let mut shell_t = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = std::process::Command::new("sqlite3")
            .arg(path)
            .arg(&sql)
            .stdout(std::process::Stdio::null())
            .status()
            .context("run the sqlite3 shell (apt-get install sqlite3)")?;
        anyhow::ensure!(out.success(), "sqlite3 failed");
        shell_t.push(t.elapsed());
    }
    Ok((median(store_t), median(shell_t), rows))
}

/// The raw `synchronous=NORMAL` create loop alone: cases per second.
pub fn raw_create_rate(dir: &Path, commits: u64) -> Result<f64> {
    let generator = Generator::new()?;
    let data = rows(&generator, commits)?;
    raw_loop(&fresh(dir, "http-raw-normal.db")?, &data, "NORMAL")
}

/// Makes (or reuses) the synthetic store of `cases` cases; returns its path.
pub async fn dataset(dir: &Path, cases: u64) -> Result<PathBuf> {
    let path = dir.join(format!("store-{cases}.db"));
    if !path.exists() {
        let generator = Generator::new()?;
        build(
            &fresh(dir, &format!("store-{cases}.db"))?,
            &generator,
            cases,
        )
        .await?;
    }
    Ok(path)
}

/// Runs every store scenario and returns a Markdown section.
pub async fn run(dir: &Path, cases: u64, commits: u64, reuse: bool) -> Result<String> {
    let generator = Generator::new()?;
    let mut out = String::new();

    // 1. commit throughput
    let data = rows(&generator, commits)?;
    let full_rows = &data[..(commits as usize / 5).max(1)];
    let store_rate = store_commits(&fresh(dir, "commit-store.db")?, &data).await?;
    let normal_rate = raw_loop(&fresh(dir, "commit-raw-normal.db")?, &data, "NORMAL")?;
    let full_rate = raw_loop(&fresh(dir, "commit-raw-full.db")?, full_rows, "FULL")?;
    out.push_str(&format!(
        "### Commit throughput: create case (case row, event, search rows)\n\n\
         | Run | Commits | Rate | Ratio |\n|---|---|---|---|\n\
         | Casework SQLite store, `synchronous=FULL`, 32 concurrent writers (group commit) | {commits} | {store_rate:.0}/s | — |\n\
         | raw rusqlite loop, `synchronous=NORMAL`, one transaction per case | {commits} | {normal_rate:.0}/s | store = **{:.2}×** (target ≥ 1.0×) |\n\
         | raw rusqlite loop, `synchronous=FULL`, one transaction per case | {} | {full_rate:.0}/s | store = **{:.1}×** |\n\n",
        store_rate / normal_rate,
        full_rows.len(),
        store_rate / full_rate,
    ));

    // 2 and 3 need a big store
    let name = format!("store-{cases}.db");
    let (path, store, built) = if reuse && dir.join(&name).exists() {
        let path = dir.join(&name);
        let store = Arc::new(SqliteStore::open_url(&url(&path))?);
        (path, store, None)
    } else {
        let path = fresh(dir, &name)?;
        let (store, built) = build(&path, &generator, cases).await?;
        (path, store, Some(built))
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let stats = store.stats().await?;
    let imported = match built {
        Some(b) => format!(
            "imported in {:.1} s ({:.0} cases/s, 20,000 per transaction)",
            b.as_secs_f64(),
            cases as f64 / b.as_secs_f64()
        ),
        None => "reused from an earlier run (--reuse)".into(),
    };
    out.push_str(&format!(
        "Data set: {cases} synthetic cases ({} events), {imported}; file {:.0} MiB.\n\n",
        stats.events,
        size as f64 / 1_048_576.0
    ));
    let (s, r, hits) = similar(&store, &path, cases).await?;
    out.push_str(&format!(
        "### Similar-case search, {cases} cases (300 random cases, second pass)\n\n\
         | Run | p50 | p95 | mean | Ratio |\n|---|---|---|---|---|\n\
         | Casework `similar` (terms, pruning, query, ranking) | {} | {} | {} | — |\n\
         | raw FTS5 `MATCH` with the same pruned terms | {} | {} | {} | store = **{:.2}×** raw throughput (target ≥ 0.8×, p95 ≤ 20 ms) |\n\n\
         {hits} hits returned in all.\n\n",
        ms(s.p50), ms(s.p95), ms(s.mean), ms(r.p50), ms(r.p95), ms(r.mean),
        r.mean.as_secs_f64() / s.mean.as_secs_f64(),
    ));
    let (store_t, shell_t, rows) = report(&store, &path).await?;
    out.push_str(&format!(
        "### Reopen report by product area, {cases} cases ({rows} rows, median of 5)\n\n\
         | Run | Time | Ratio |\n|---|---|---|\n\
         | Casework `reopen_report` | {} | — |\n\
         | the same aggregate SQL in the `sqlite3` shell (whole process) | {} | store = **{:.2}×** (target ≥ 0.8×) |\n\n",
        ms(store_t), ms(shell_t), shell_t.as_secs_f64() / store_t.as_secs_f64(),
    ));
    Ok(out)
}
