//! Webhook fan-out under the create load: case creates per second on an SQLite store with
//! 10 webhook endpoints (each create then writes 10 deliveries in its transaction) against
//! the same load on a store without endpoints, in the same run.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use casework_core::ports::{CaseStore, Webhooks};
use casework_core::testing::{START, opened};
use casework_core::webhook::{WebhookEndpoint, secret_of};
use casework_store_sqlite::SqliteStore;

const WRITERS: usize = 32;

/// Creates per second: `WRITERS` tasks creating cases until `creates` are done.
async fn create_rate(store: Arc<dyn CaseStore>, creates: u64) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let k = done.fetch_add(1, Ordering::Relaxed);
                if k >= creates {
                    return Ok::<(), anyhow::Error>(());
                }
                store
                    .create_case(
                        START,
                        "bench".into(),
                        opened(&format!("Printer {k} offline")),
                        Vec::new(),
                    )
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(creates as f64 / started.elapsed().as_secs_f64())
}

fn fresh(dir: &Path, name: &str) -> Result<Arc<SqliteStore>> {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(Arc::new(SqliteStore::open_url(&format!(
        "sqlite://{}",
        path.display()
    ))?))
}

/// Runs the scenario and returns a Markdown section.
pub async fn run(dir: &Path, creates: u64) -> Result<String> {
    std::fs::create_dir_all(dir).context("bench dir")?;
    let bare = fresh(dir, "hooks-none.db")?;
    let hooked = fresh(dir, "hooks-ten.db")?;
    for i in 0..10 {
        hooked
            .webhook_add(WebhookEndpoint {
                id: format!("ep_{i}"),
                url: format!("https://hooks{i}.example.com/casework"),
                events: Vec::new(),
                secret: secret_of(&[i as u8; 32]),
                created_by: "bench".into(),
                created_at: START,
                removed_at: None,
            })
            .await?;
    }
    // a warm-up on each, then the measured runs, alternating, each twice
    create_rate(bare.clone(), 1000).await?;
    create_rate(hooked.clone(), 1000).await?;
    let mut none = Vec::new();
    let mut ten = Vec::new();
    for _ in 0..2 {
        none.push(create_rate(bare.clone(), creates).await?);
        ten.push(create_rate(hooked.clone(), creates).await?);
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (none, ten) = (best(&none), best(&ten));
    // every create wrote one delivery per endpoint
    let total = 1000 + 2 * creates;
    for i in 0..10 {
        let log = hooked
            .webhook_deliveries(format!("ep_{i}"), u32::MAX)
            .await?;
        anyhow::ensure!(
            log.len() as u64 == total,
            "endpoint ep_{i} holds {} deliveries, not {total}",
            log.len()
        );
    }
    Ok(format!(
        "### Case creates, {WRITERS} concurrent writers, {creates} creates per run\n\n\
         | Store | Creates | Rate | Ratio |\n|---|---|---|---|\n\
         | SQLite, no webhook endpoint | {creates} | {none:.0}/s | baseline |\n\
         | SQLite, 10 endpoints receiving every event (10 deliveries written in each create's transaction) | {creates} | {ten:.0}/s | **{:.2}×** |\n",
        ten / none
    ))
}
