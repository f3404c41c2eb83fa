//! The change feed's catch-up: a consumer reading every event from position 0, page by
//! page, against reading the events table directly in the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use casework_core::event::Event;
use casework_core::ports::{ChangeFeed, Diagnostics};
use casework_store_sqlite::SqliteStore;
use rusqlite::Connection;

use crate::synth::{Generator, Rng};

/// Imports synthetic cases into a fresh store at `path` until it holds at least `events`
/// events; returns the store and the events it holds.
async fn store_with_events(path: &Path, events: u64) -> Result<(SqliteStore, u64)> {
    let generator = Generator::new()?;
    let store = SqliteStore::open_url(&format!("sqlite://{}", path.display()))?;
    let mut rng = Rng::new(7);
    let (mut n, batch) = (1, 20_000);
    loop {
        let held = store.stats().await?.events;
        if held >= events {
            return Ok((store, held));
        }
        store
            .import(generator.batch(n..n + batch, &mut rng)?)
            .await?;
        n += batch;
    }
}

/// Every event through the feed, `page` at a time, as a consumer storing its position
/// would read them: (events read, events per second).
async fn catch_up(store: &SqliteStore, page: u32) -> Result<(u64, f64)> {
    let started = Instant::now();
    let (mut after, mut read) = (0, 0u64);
    loop {
        let got = store.feed(after, page, None).await?;
        let Some(last) = got.last() else { break };
        after = last.position;
        read += got.len() as u64;
    }
    Ok((read, read as f64 / started.elapsed().as_secs_f64()))
}

/// The baseline: one statement over the events table, each body decoded as an event.
fn raw_read(path: &Path) -> Result<(u64, f64)> {
    let conn = Connection::open(path)?;
    let started = Instant::now();
    let mut st = conn.prepare("SELECT body FROM events")?;
    let mut read = 0u64;
    for body in st.query_map([], |r| r.get::<_, String>(0))? {
        let _event: Event = serde_json::from_str(&body?)?;
        read += 1;
    }
    Ok((read, read as f64 / started.elapsed().as_secs_f64()))
}

/// Runs the scenario and returns a Markdown section.
pub async fn run(dir: &Path, events: u64) -> Result<String> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("feed.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (store, held) = store_with_events(&path, events).await?;
    // a first pass of each warms the page cache; the second is measured
    raw_read(&path)?;
    catch_up(&store, 500).await?;
    let (raw_n, raw) = raw_read(&path)?;
    let (feed_n, feed) = catch_up(&store, 500).await?;
    let (small_n, small) = catch_up(&store, 50).await?;
    anyhow::ensure!(
        raw_n == held && feed_n == held && small_n == held,
        "every read must see every event: {held} held, {raw_n} raw, {feed_n} and {small_n} through the feed"
    );
    Ok(format!(
        "### Change feed catch-up from position 0, {held} events\n\n\
         | Run | Events | Rate | Ratio |\n|---|---|---|---|\n\
         | raw rusqlite: `SELECT body FROM events`, each decoded as an event | {raw_n} | {raw:.0}/s | — |\n\
         | `ChangeFeed::feed`, pages of 500, following positions | {feed_n} | {feed:.0}/s | **{:.2}×** raw |\n\
         | `ChangeFeed::feed`, pages of 50 | {small_n} | {small:.0}/s | **{:.2}×** raw |\n",
        feed / raw,
        small / raw,
    ))
}
