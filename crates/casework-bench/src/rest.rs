//! The REST store's cost: commit throughput through `casework-store-rest` and Casework's
//! own server (in this process, over loopback) against the same SQLite store used directly,
//! in the same run, with the same workload.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use casework_core::event::{EventKind, apply_all};
use casework_core::model::{Actor, Case, PostKind, Role, Visibility};
use casework_core::ports::{CaseStore, Commit};
use casework_core::testing::{START, opened, service};
use casework_core::workflow::stamp;
use casework_store_rest::RestStore;
use casework_store_sqlite::SqliteStore;

const WRITERS: usize = 32;
const SECRET: &str = "cw_service_bench_000000000000000000000000000";

/// Commits per second: `WRITERS` tasks, each committing a note to its own cases in turn
/// (no conflicts), until `commits` are done.
async fn commit_rate(store: Arc<dyn CaseStore>, commits: u64) -> Result<f64> {
    let mut cases = Vec::new();
    for i in 0..WRITERS * 4 {
        cases.push(
            store
                .create_case(
                    START,
                    "bench".into(),
                    opened(&format!("Bench case {i}")),
                    Vec::new(),
                )
                .await?,
        );
    }
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let mut mine: Vec<Case> = cases.iter().skip(w).step_by(WRITERS).cloned().collect();
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = 0;
            while done.fetch_add(1, Ordering::Relaxed) < commits {
                let case = &mine[k % mine.len()];
                let events = stamp(
                    case,
                    "bench",
                    START,
                    vec![EventKind::PostAdded {
                        kind: PostKind::Note,
                        body: format!("note {k}: checked the spooler and the data store"),
                        visibility: Visibility::Internal,
                        from_customer: false,
                    }],
                );
                let state = apply_all(case.clone(), &events)?;
                let next = store
                    .commit(Commit {
                        number: case.number,
                        expected_version: case.version,
                        events,
                        state,
                        outbox: Vec::new(),
                        attachments: Vec::new(),
                    })
                    .await?;
                let slot = k % mine.len();
                mine[slot] = next;
                k += 1;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(commits as f64 / started.elapsed().as_secs_f64())
}

/// Serves an SQLite store at `path` on a free loopback port; returns a REST store for it.
async fn served(path: &Path) -> Result<RestStore> {
    let backing: Arc<dyn CaseStore> = Arc::new(SqliteStore::open_url(&format!(
        "sqlite://{}",
        path.display()
    ))?);
    let svc = service(backing);
    svc.create_token(
        &Actor::system("bench"),
        "bench",
        Role::Service,
        None,
        SECRET,
    )
    .await?;
    let router = casework_http::router(casework_http::AppState::new(svc));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    RestStore::open(&format!("http://{addr}"), SECRET).map_err(|e| anyhow::anyhow!("{e}"))
}

fn fresh(dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(path)
}

/// The markdown section for docs/benchmarks.md.
pub async fn run(dir: &Path, commits: u64) -> Result<String> {
    std::fs::create_dir_all(dir).context("bench dir")?;
    let direct_path = fresh(dir, "rest-direct.db")?;
    let direct: Arc<dyn CaseStore> = Arc::new(SqliteStore::open_url(&format!(
        "sqlite://{}",
        direct_path.display()
    ))?);
    let direct_rate = commit_rate(direct, commits).await?;
    let rest: Arc<dyn CaseStore> = Arc::new(served(&fresh(dir, "rest-served.db")?).await?);
    let rest_rate = commit_rate(rest, commits).await?;
    Ok(format!(
        "| Store | Commits | Rate | Ratio |\n|---|---|---|---|\n\
         | SQLite store used directly (`synchronous=FULL`, group commit) | {commits} | {direct_rate:.0}/s | baseline |\n\
         | the same SQLite store behind `casework serve`'s `/store/v1`, through `casework-store-rest` | {commits} | {rest_rate:.0}/s | **{:.2}×** direct |\n",
        rest_rate / direct_rate
    ))
}
