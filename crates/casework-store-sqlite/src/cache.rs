//! The read cache: decoded cases kept in memory, never stale, so a hot `load_case` costs
//! neither a hop to the blocking pool, nor an SQLite query, nor decoding JSON.
//!
//! # What keeps it right
//!
//! Entries are current as of a **feed position** (`at`): the largest change-feed position
//! committed when they were read (every change to a case appends events, and every event a
//! feed row, in the same transaction, so the largest position names the committed state of
//! every case). A read serves an entry only if the database is still at `at`:
//!
//! - **Another process's commits** are seen through `PRAGMA data_version` on a watch
//!   connection of the cache's own: it changes exactly when some *other* connection
//!   committed. Our own writer is such another connection too, so a change alone does not
//!   say who wrote: the watch then reads the largest feed position (`MAX(position)`, a seek
//!   to the table's last row), and the cache compares it with `at`.
//! - **This process's commits** are applied by the writer thread, which owns the only
//!   connection of this process that writes. Holding the write lock, it reads the largest
//!   position before its batch (`from`) and after (`to`) and the cases the batch touched
//!   (their feed rows past `from`: rolled-back savepoints, such as a commit that lost a
//!   version race, left none). It announces `from → to` as pending before `COMMIT`, and
//!   after it drops the touched cases and moves `at` to `to` — if `at` was `from`. If `at`
//!   is older, another process committed in between: everything is dropped.
//! - A read that finds the database at the pending `to` (our commit is durable but not yet
//!   applied) reads from the database and keeps nothing; a read that finds any other
//!   position than `at` drops everything and starts over at that position. A case read from
//!   the database is kept only if it was read at `at` (the position is read in the same
//!   read transaction as the case), so a read racing a commit can never put back an old
//!   state.
//!
//! The cache sits below every permission check: it answers `load_case` exactly as the
//! database would, and the service decides who may see what.
//!
//! # Memory
//!
//! Bounded by bytes: the sum of the cached cases' stored JSON sizes stays under the
//! store's [`CacheBudget::case_bytes`](crate::CacheBudget) (the decoded case holds the same
//! strings plus fixed-size fields); the least recently read case goes first.

use std::sync::Mutex;

use casework_core::ids::CaseNumber;
use casework_core::model::Case;
use casework_core::ports::StoreError;
use hashlink::LruCache;
use rusqlite::Connection;

use crate::sql::map_err;

/// The largest change-feed position committed, as the connection sees it (0 when empty).
pub fn feed_position(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT COALESCE(MAX(position), 0) FROM feed")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)
}

/// The cases with feed rows after `from`: those a batch changed.
pub fn touched_since(conn: &Connection, from: i64) -> Result<Vec<u64>, StoreError> {
    conn.prepare_cached("SELECT DISTINCT case_number FROM feed WHERE position > ?1")
        .and_then(|mut s| {
            s.query_map([from], |r| r.get::<_, i64>(0))?
                .map(|n| n.map(|n| n as u64))
                .collect()
        })
        .map_err(map_err)
}

/// Decoded cases current as of one feed position; see the module's documentation.
pub struct CaseCache {
    entries: Mutex<Entries>,
    watch: Mutex<Watch>,
    budget: usize,
}

struct Entries {
    cases: LruCache<u64, (Case, usize)>,
    bytes: usize,
    /// The feed position the entries are current at.
    at: i64,
    /// This process's batch between its last read of the position and its `COMMIT`'s
    /// being applied here: `(from, to)`.
    pending: Option<(i64, i64)>,
}

impl Entries {
    fn clear(&mut self, at: i64) {
        self.cases.clear();
        self.bytes = 0;
        self.at = at;
    }
}

/// The cache's own connection, only ever reading `data_version` and the feed position.
struct Watch {
    conn: Connection,
    data_version: Option<i64>,
    position: i64,
}

/// What a lookup found.
pub enum Lookup {
    /// The case as the database holds it now.
    Hit(Box<Case>),
    /// Not served: read the database; keep what it returns if it was read at this position.
    Miss {
        /// The position a case read now may be kept at (`None`: keep nothing).
        keep_at: Option<i64>,
    },
}

impl CaseCache {
    /// A cache of at most `budget` bytes of stored case JSON, watching the database file
    /// `path` through a read-only connection of its own with a page cache of `watch_kib`.
    pub fn open(path: &std::path::Path, budget: usize, watch_kib: u32) -> Result<Self, StoreError> {
        let conn = crate::open_reader(path)?;
        crate::set_cache_kib(&conn, watch_kib).map_err(map_err)?;
        Ok(Self {
            entries: Mutex::new(Entries {
                cases: LruCache::new_unbounded(),
                bytes: 0,
                at: -1,
                pending: None,
            }),
            watch: Mutex::new(Watch {
                conn,
                data_version: None,
                position: -1,
            }),
            budget,
        })
    }

    /// The feed position committed now: `data_version` first, the position only if it moved
    /// (read in that order, a commit landing in between moves `data_version` again).
    fn position(&self) -> Result<i64, StoreError> {
        let mut w = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        let version: i64 = w
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(map_err)?;
        if w.data_version != Some(version) {
            w.position = feed_position(&w.conn)?;
            w.data_version = Some(version);
        }
        Ok(w.position)
    }

    /// Looks a case up, checking first that nothing committed since the entries were read.
    pub fn lookup(&self, number: CaseNumber) -> Result<Lookup, StoreError> {
        let now = self.position()?;
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if now == e.at {
            return Ok(match e.cases.get(&number.get()) {
                Some((case, _)) => Lookup::Hit(Box::new(case.clone())),
                None => Lookup::Miss { keep_at: Some(now) },
            });
        }
        if now < e.at
            || e.pending
                .is_some_and(|(from, to)| from == e.at && to == now)
        {
            // the entries are newer than this look, or our own commit is not applied yet
            return Ok(Lookup::Miss { keep_at: None });
        }
        // another process committed
        e.clear(now);
        Ok(Lookup::Miss { keep_at: Some(now) })
    }

    /// Keeps a case read from the database at feed position `read_at` (`bytes`: its stored
    /// size), if the entries are still current at that position.
    pub fn keep(&self, case: &Case, bytes: usize, read_at: i64) {
        if bytes > self.budget {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if e.at != read_at {
            return;
        }
        if let Some((_, old)) = e.cases.insert(case.number.get(), (case.clone(), bytes)) {
            e.bytes -= old;
        }
        e.bytes += bytes;
        while e.bytes > self.budget {
            match e.cases.remove_lru() {
                Some((_, (_, b))) => e.bytes -= b,
                None => break,
            }
        }
    }

    /// Before this process's `COMMIT` moves the database from `from` to `to`.
    pub fn committing(&self, from: i64, to: i64) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.pending = Some((from, to));
    }

    /// After the `COMMIT` (or its failure, `committed == false`): drops the cases it
    /// touched and moves on to `to`; drops everything if another process committed before.
    pub fn committed(&self, from: i64, to: i64, touched: &[u64], committed: bool) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.pending = None;
        if !committed {
            return;
        }
        if e.at == from {
            for n in touched {
                if let Some((_, b)) = e.cases.remove(n) {
                    e.bytes -= b;
                }
            }
            e.at = to;
        } else if e.at < from {
            e.clear(to);
        }
        // else a read already found `to` or later and started over there
    }

    /// How many cases and stored bytes are cached.
    pub fn size(&self) -> (usize, usize) {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        (e.cases.len(), e.bytes)
    }
}

/// A case's stored state and its size, with the feed position of the same read
/// transaction.
pub fn load_case_at(conn: &Connection, n: CaseNumber) -> Result<(Case, usize, i64), StoreError> {
    let (case, bytes) = crate::sql::load_case_sized(conn, n)?;
    Ok((case, bytes, feed_position(conn)?))
}
