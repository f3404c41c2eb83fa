//! Casework's embedded default store: SQLite with WAL, group commit, FTS5 search and SQL
//! reports.
//!
//! - **Durable by default**: WAL with `synchronous=FULL`; `?synchronous=normal` in the URL
//!   trades the last transactions before a power loss (never corruption) for speed.
//! - **Group commit**: one writer thread; concurrent writes share one transaction and one
//!   fsync, each in its own savepoint, and each caller is answered after the commit
//!   ([`writer`]).
//! - **Readers never wait for the writer**: they use their own connections (WAL snapshots).
//! - **Hot cases from memory, never stale**: a file store keeps decoded cases in a bounded
//!   cache, kept current by its own commits and by `PRAGMA data_version` for other
//!   processes' ([`cache`]).
//! - **No `SQLITE_BUSY` reaches a caller**: a busy timeout on every connection, and the
//!   writer retries `BEGIN IMMEDIATE` with backoff while another process writes.
//! - **Safe opening**: a file that is not a Casework database, is corrupt, or was written by
//!   a newer Casework is refused and left untouched ([`schema`]).
//!
//! Open it with [`SqliteStore::open_url`]: `sqlite://PATH` or `sqlite::memory:`.

mod attachments;
pub mod cache;
mod ports;
mod reports;
mod schema;
mod sql;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use casework_core::event::Event;
use casework_core::ids::CaseNumber;
use casework_core::model::Case;
use casework_core::ports::StoreError;
use rusqlite::{Connection, OpenFlags};

pub use schema::{APPLICATION_ID, LATEST as SCHEMA_VERSION};
pub use sql::ReindexProgress;

use crate::cache::{CaseCache, Lookup};
use crate::sql::map_err;
use crate::writer::{Writer, WriterHandle, read_tx};

/// How long any connection waits on a lock held by another process before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most reads running at once, and reader connections kept open. Each running read holds a
/// connection (its page cache, its FTS5 state, its prepared statements) and a thread of the
/// blocking pool; reads are CPU-bound on a warm cache, so more of them at once than a few per
/// core only queue in memory instead of on the semaphore. Measured at 100k cases, 32
/// concurrent searches: uncapped, 30+ threads and connections and 100 MiB resident; capped,
/// see `docs/benchmarks.md`.
pub const MAX_READERS: usize = 4;

/// The memory a file store's caches may hold, split in one place ([`CacheBudget::of_mib`])
/// between the decoded cases ([`cache`]) and the page cache of every SQLite connection the
/// store opens: the [`MAX_READERS`] readers, the writer, and the case cache's watch.
///
/// Set with `?cache_mib=N` in the store URL; [`CacheBudget::DEFAULT_MIB`] otherwise. SQLite
/// pages not in a connection's cache are read again from the operating system's file cache
/// (memory the kernel may reclaim, not the server's), so a smaller budget costs a read call
/// per page rather than a disk read while the file fits in the machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBudget {
    /// The most bytes of stored case JSON the decoded-case cache holds.
    pub case_bytes: usize,
    /// The page cache of each reader connection, in KiB.
    pub reader_kib: u32,
    /// The page cache of the writer's connection, in KiB.
    pub writer_kib: u32,
    /// The page cache of the case cache's watch connection, in KiB (it reads only
    /// `data_version` and the change feed's last position).
    pub watch_kib: u32,
}

impl CacheBudget {
    /// The budget when the URL names none, in MiB: with it `casework serve` stays under
    /// 64 MiB resident over a 1M-case store (docs/benchmarks.md, Memory).
    pub const DEFAULT_MIB: u32 = 24;
    /// The smallest budget accepted, in MiB.
    pub const MIN_MIB: u32 = 4;
    /// The largest budget accepted, in MiB.
    pub const MAX_MIB: u32 = 65_536;
    /// What the watch connection needs: the first pages of the feed table's last leaf and
    /// its parents.
    const WATCH_KIB: u32 = 256;

    /// Splits `mib` MiB: half to decoded cases (a hit costs no SQLite read at all), the
    /// other half to page caches, a quarter of it to the writer (the index pages every
    /// commit updates) and the rest shared by the readers; the watch takes a fixed 256 KiB
    /// out of the writer's share.
    pub fn of_mib(mib: u32) -> Self {
        let total_kib = mib.clamp(Self::MIN_MIB, Self::MAX_MIB) as usize * 1024;
        let case_kib = total_kib / 2;
        let pages_kib = total_kib - case_kib;
        let writer_kib = pages_kib / 4 - Self::WATCH_KIB as usize;
        let reader_kib = (pages_kib - pages_kib / 4) / MAX_READERS;
        Self {
            case_bytes: case_kib * 1024,
            reader_kib: reader_kib as u32,
            writer_kib: writer_kib as u32,
            watch_kib: Self::WATCH_KIB,
        }
    }
}

impl Default for CacheBudget {
    fn default() -> Self {
        Self::of_mib(Self::DEFAULT_MIB)
    }
}

/// `PRAGMA cache_size` in KiB on a connection.
fn set_cache_kib(conn: &Connection, kib: u32) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{kib}"))
}

/// Why a store could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The URL is not `sqlite://PATH` or `sqlite::memory:`.
    #[error("invalid SQLite store URL {0:?}: expected sqlite://PATH or sqlite::memory:")]
    BadUrl(String),
    /// The file or its folder cannot be used.
    #[error("cannot use the database file: {0}")]
    Io(String),
    /// The file is not a Casework database (or is corrupt); it was not changed.
    #[error("refusing to open {path}: {reason}; the file was not changed")]
    NotCasework {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer Casework; it was not changed.
    #[error(
        "the database has schema version {found}, newer than this Casework understands \
         ({supported}); upgrade Casework, the file was not changed"
    )]
    TooNew {
        /// The file's schema version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// A migration failed; the transaction was rolled back.
    #[error("migration to schema version {to} failed: {message}; nothing was changed")]
    Migration {
        /// The version it was migrating to.
        to: u32,
        /// The error.
        message: String,
    },
    /// SQLite refused.
    #[error("sqlite: {0}")]
    Sqlite(String),
    /// `cache_mib` in the URL is not a whole number of MiB in the accepted range.
    #[error(
        "invalid cache_mib {0:?} in the SQLite store URL: expected a whole number of MiB from {min} to {max}",
        min = CacheBudget::MIN_MIB,
        max = CacheBudget::MAX_MIB
    )]
    BadCacheBudget(String),
}

/// How hard a commit tries to survive a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit that was acknowledged survives a power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a power loss may lose the last commits (never corrupts).
    Normal,
}

/// The durability settings of the writer's connection ([`SqliteStore::writer_settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    /// `PRAGMA synchronous`: `off`, `normal`, `full` or `extra`.
    pub synchronous: String,
    /// `PRAGMA journal_mode`, lower case: `wal` for a file.
    pub journal_mode: String,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file (created with its parent folders if absent).
    File(PathBuf),
    /// A private in-memory database, gone when the store is dropped.
    Memory,
}

/// Parses `sqlite://PATH[?synchronous=full|normal][&cache_mib=N]` or `sqlite::memory:`.
pub fn parse_url(url: &str) -> Result<(Location, Durability, CacheBudget), OpenError> {
    let bad = || OpenError::BadUrl(url.to_string());
    if url == "sqlite::memory:" || url == "sqlite://:memory:" {
        return Ok((Location::Memory, Durability::Full, CacheBudget::default()));
    }
    let rest = url.strip_prefix("sqlite://").ok_or_else(bad)?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(bad());
    }
    let mut durability = Durability::Full;
    let mut budget = CacheBudget::default();
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(bad)?;
            match (key.to_ascii_lowercase().as_str(), value) {
                ("synchronous", v) if v.eq_ignore_ascii_case("full") => {
                    durability = Durability::Full;
                }
                ("synchronous", v) if v.eq_ignore_ascii_case("normal") => {
                    durability = Durability::Normal;
                }
                ("cache_mib", v) => match v.parse::<u32>() {
                    Ok(mib) if (CacheBudget::MIN_MIB..=CacheBudget::MAX_MIB).contains(&mib) => {
                        budget = CacheBudget::of_mib(mib);
                    }
                    _ => return Err(OpenError::BadCacheBudget(v.to_string())),
                },
                _ => return Err(bad()),
            }
        }
    }
    Ok((Location::File(PathBuf::from(path)), durability, budget))
}

/// A read-only connection to the file, waiting [`BUSY_TIMEOUT`] on another's lock.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    Ok(conn)
}

/// The reader connections of a file store: at most [`MAX_READERS`] in use at once.
struct Readers {
    path: PathBuf,
    /// Each connection's page cache, in KiB.
    cache_kib: u32,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    fn new(path: PathBuf, cache_kib: u32) -> Self {
        Self {
            path,
            cache_kib,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = open_reader(&self.path)?;
        set_cache_kib(&conn, self.cache_kib).map_err(map_err)?;
        Ok(conn)
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.open()?,
        };
        let out = read_tx(&mut conn, f);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_READERS {
            idle.push(conn);
        }
        out
    }
}

/// The SQLite case store.
pub struct SqliteStore {
    writer: Writer,
    readers: Option<Arc<Readers>>,
    /// Decoded cases, for a store with reader connections (a file).
    cache: Option<Arc<CaseCache>>,
    location: Location,
    dfs: Arc<sql::DfCache>,
    prefixes: Arc<sql::PrefixCache>,
    reindex: Option<Reindexer>,
}

/// The background search reindex (schema v10), while it runs.
struct Reindexer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // the reindex thread holds a handle to the writer: stop it (after its batch) before
        // the writer is dropped and waits for every handle to go
        if let Some(r) = self.reindex.take() {
            r.stop.store(true, Ordering::Relaxed);
            let _ = r.thread.join();
        }
    }
}

/// Starts the background reindex if one is under way: batches of
/// [`sql::REINDEX_BATCH`] passages through the writer, queued with the commits (so none
/// waits more than a batch), progress on standard error every tenth.
fn start_reindex(writer: &Writer, pending: bool) -> Option<Reindexer> {
    if !pending {
        return None;
    }
    let handle = writer.handle()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("casework-sqlite-reindex".into())
        .spawn(move || reindex_loop(&handle, &flag))
        .ok()?;
    Some(Reindexer { stop, thread })
}

fn reindex_loop(handle: &WriterHandle, stop: &AtomicBool) {
    let mut shown: Option<u64> = None;
    while !stop.load(Ordering::Relaxed) {
        match handle.write_blocking(|c| sql::reindex_step(c, sql::REINDEX_BATCH)) {
            Ok(Some(p)) => {
                let percent = p.done * 100 / p.upto.max(1);
                if shown.is_none_or(|s| percent >= s + 10) {
                    shown = Some(percent - percent % 10);
                    eprintln!(
                        "casework: search reindex {percent}% ({} of {} passages; the store serves meanwhile)",
                        p.done, p.upto
                    );
                }
                if p.done >= p.upto {
                    eprintln!("casework: search reindex done");
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                eprintln!("casework: search reindex stopped: {e} (it resumes at the next start)");
                return;
            }
        }
        // let commits queued meanwhile go first
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn configure(conn: &Connection, durability: Durability, wal: bool) -> Result<(), OpenError> {
    let db = |e: rusqlite::Error| OpenError::Sqlite(e.to_string());
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    if wal {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::Sqlite(format!(
                "cannot switch to WAL (got {mode})"
            )));
        }
    }
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
    ))
    .map_err(db)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store a URL names.
    pub fn open_url(url: &str) -> Result<Self, OpenError> {
        let (location, durability, budget) = parse_url(url)?;
        Self::open_with(location, durability, budget)
    }

    /// Opens (creating and migrating as needed) a store, its caches within the default
    /// [`CacheBudget`].
    pub fn open(location: Location, durability: Durability) -> Result<Self, OpenError> {
        Self::open_with(location, durability, CacheBudget::default())
    }

    /// Opens (creating and migrating as needed) a store, its caches within `budget` (a
    /// store in memory has no cache: its pages are the database).
    pub fn open_with(
        location: Location,
        durability: Durability,
        budget: CacheBudget,
    ) -> Result<Self, OpenError> {
        let db = |e: rusqlite::Error| OpenError::Sqlite(e.to_string());
        match &location {
            Location::Memory => {
                let mut conn = Connection::open_in_memory().map_err(db)?;
                schema::migrate(&mut conn)?;
                configure(&conn, durability, false)?;
                let writer = Writer::start(conn, None).map_err(|e| OpenError::Io(e.to_string()))?;
                Ok(Self {
                    writer,
                    readers: None,
                    cache: None,
                    location,
                    dfs: Arc::default(),
                    prefixes: Arc::default(),
                    reindex: None,
                })
            }
            Location::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| OpenError::Io(format!("{}: {e}", parent.display())))?;
                }
                // Nothing writes to the file until it has passed these checks.
                let existing = schema::check_header(path)?;
                let mut conn = Connection::open(path).map_err(db)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
                let version = if existing {
                    schema::check_conn(&conn, path)?
                } else {
                    None
                };
                // Migrate before switching to WAL: a failed migration rolls back and leaves
                // the file exactly as it was. A current schema needs no write lock at all.
                if version != Some(schema::LATEST) {
                    schema::migrate(&mut conn)?;
                }
                configure(&conn, durability, true)?;
                set_cache_kib(&conn, budget.writer_kib).map_err(db)?;
                let pending = sql::reindex_state(&conn)
                    .map_err(|e| OpenError::Sqlite(e.to_string()))?
                    .is_some();
                let cache = Arc::new(
                    CaseCache::open(path, budget.case_bytes, budget.watch_kib)
                        .map_err(|e| OpenError::Sqlite(e.to_string()))?,
                );
                let writer = Writer::start(conn, Some(cache.clone()))
                    .map_err(|e| OpenError::Io(e.to_string()))?;
                let reindex = start_reindex(&writer, pending);
                Ok(Self {
                    writer,
                    cache: Some(cache),
                    readers: Some(Arc::new(Readers::new(path.clone(), budget.reader_kib))),
                    location,
                    dfs: Arc::default(),
                    prefixes: Arc::default(),
                    reindex,
                })
            }
        }
    }

    /// Serves reads on the writer's connection instead of a pool of reader connections.
    /// For one-shot processes (a CLI command): one connection to open instead of two. A
    /// long-running server keeps the readers, which never wait for the writer.
    pub fn single_connection(mut self) -> Self {
        self.readers = None;
        self.cache = None;
        self
    }

    /// How many cases and bytes of stored case JSON the read cache holds (`None` without a
    /// cache: in memory, or on a single connection).
    pub fn cache_size(&self) -> Option<(usize, usize)> {
        self.cache.as_ref().map(|c| c.size())
    }

    /// A case from the read cache if it is current, else from the database (kept if no
    /// commit raced the read). The check runs on the calling thread: one `PRAGMA
    /// data_version` on the cache's own connection, no hop to the blocking pool.
    async fn load_case_cached(&self, number: CaseNumber) -> Result<Case, StoreError> {
        let Some(cache) = self.cache.clone() else {
            return self.read(move |c| sql::load_case(c, number)).await;
        };
        let keep_at = match cache.lookup(number) {
            Ok(Lookup::Hit(case)) => return Ok(*case),
            Ok(Lookup::Miss { keep_at }) => keep_at,
            // the watch could not read: the database answers, nothing is kept
            Err(_) => None,
        };
        let (case, bytes, read_at) = self.read(move |c| cache::load_case_at(c, number)).await?;
        if keep_at == Some(read_at) {
            cache.keep(&case, bytes, read_at);
        }
        Ok(case)
    }

    /// The database file, if the store is not in memory.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(p) => Some(p),
            Location::Memory => None,
        }
    }

    /// How the connection that commits is set up: `synchronous` (`full` unless the URL
    /// asked for `normal`) and `journal_mode` (`wal` for a file). Read from the writer's
    /// own connection, so a test can tell what a crash test cannot: whether an acknowledged
    /// commit would survive a power loss.
    pub async fn writer_settings(&self) -> Result<WriterSettings, StoreError> {
        self.write(|c| {
            let synchronous: i64 = c
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .map_err(map_err)?;
            let journal_mode: String = c
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(map_err)?;
            Ok(WriterSettings {
                synchronous: match synchronous {
                    0 => "off",
                    1 => "normal",
                    2 => "full",
                    3 => "extra",
                    _ => "unknown",
                }
                .to_string(),
                journal_mode: journal_mode.to_ascii_lowercase(),
            })
        })
        .await
    }

    /// Where the background search reindex (schema v10) stands; `None` once done (or when
    /// the store never needed one).
    pub async fn search_reindex(&self) -> Result<Option<ReindexProgress>, StoreError> {
        self.read(sql::reindex_state).await
    }

    /// Imports whole cases from their histories in one transaction: each must replay, and
    /// its number must be free. All or nothing.
    pub async fn import(&self, histories: Vec<Vec<Event>>) -> Result<u64, StoreError> {
        self.write(move |c| {
            for events in &histories {
                sql::import_case(c, events)?;
            }
            Ok(histories.len() as u64)
        })
        .await
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(f).await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            // In memory there is one connection: reads queue with the writes.
            return self.writer.write(f).await;
        };
        let readers = readers.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                // waits here, as a future, rather than as a blocked thread with a connection
                let permit = readers
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| StoreError::Internal(format!("readers closed: {e}")))?;
                handle
                    .spawn_blocking(move || {
                        let out = readers.with(f);
                        drop(permit);
                        out
                    })
                    .await
                    .map_err(|e| StoreError::Internal(format!("reader task failed: {e}")))?
            }
            Err(_) => readers.with(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_file_or_memory_and_a_durability() {
        let default = CacheBudget::default();
        assert_eq!(
            parse_url("sqlite::memory:").unwrap(),
            (Location::Memory, Durability::Full, default)
        );
        assert_eq!(
            parse_url("sqlite:///var/lib/casework.db").unwrap(),
            (
                Location::File("/var/lib/casework.db".into()),
                Durability::Full,
                default
            )
        );
        assert_eq!(
            parse_url("sqlite://data/cw.db?synchronous=normal").unwrap(),
            (
                Location::File("data/cw.db".into()),
                Durability::Normal,
                default
            )
        );
        assert_eq!(
            parse_url("sqlite://data/cw.db?cache_mib=64&synchronous=normal").unwrap(),
            (
                Location::File("data/cw.db".into()),
                Durability::Normal,
                CacheBudget::of_mib(64)
            )
        );
        for bad in [
            "sqlite://",
            "postgres://x",
            "sqlite://x.db?fast=yes",
            "x.db",
        ] {
            assert!(matches!(parse_url(bad), Err(OpenError::BadUrl(_))), "{bad}");
        }
        for bad in ["-1", "3", "65537", "16MiB", "", "1.5"] {
            assert_eq!(
                parse_url(&format!("sqlite://x.db?cache_mib={bad}")),
                Err(OpenError::BadCacheBudget(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(
            OpenError::BadCacheBudget("3".into()).to_string(),
            "invalid cache_mib \"3\" in the SQLite store URL: expected a whole number of MiB \
             from 4 to 65536"
        );
    }

    #[test]
    fn the_cache_budget_is_split_without_going_over_it() {
        for mib in [CacheBudget::MIN_MIB, 5, CacheBudget::DEFAULT_MIB, 100, 4096] {
            let b = CacheBudget::of_mib(mib);
            let total = b.case_bytes
                + 1024
                    * (b.reader_kib as usize * MAX_READERS
                        + b.writer_kib as usize
                        + b.watch_kib as usize);
            assert!(total <= mib as usize * 1024 * 1024, "{mib} MiB: {b:?}");
            assert!(
                total > mib as usize * 1024 * 1023,
                "{mib} MiB: {b:?} leaves part of it unused"
            );
            assert_eq!(b.case_bytes, mib as usize * 512 * 1024, "{mib} MiB: {b:?}");
            assert!(
                b.reader_kib >= 256 && b.writer_kib >= 256,
                "{mib} MiB: {b:?}"
            );
        }
        assert_eq!(
            CacheBudget::of_mib(24),
            CacheBudget {
                case_bytes: 12 * 1024 * 1024,
                reader_kib: 2304,
                writer_kib: 2816,
                watch_kib: 256,
            }
        );
    }

    /// Concurrent searches cost memory per reader connection (its page cache, its FTS5
    /// state) and per blocking thread: however many requests arrive at once, at most
    /// [`MAX_READERS`] reads run, and no more connections than that are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_share_a_bounded_set_of_reader_connections() {
        use std::sync::atomic::AtomicUsize;
        let dir = std::env::temp_dir().join(format!("casework-readers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join("cases.db").display());
        let store = Arc::new(SqliteStore::open_url(&url).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (store, running, most) = (store.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .read(move |conn| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                        conn.query_row("SELECT count(*) FROM cases", [], |r| r.get::<_, i64>(0))
                            .map_err(map_err)
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 0);
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=MAX_READERS).contains(&most),
            "{most} reads at once, at most {MAX_READERS} expected"
        );
        let idle = store.readers.as_ref().map(|r| r.idle.lock().unwrap().len());
        assert!(
            idle <= Some(MAX_READERS),
            "{idle:?} idle reader connections"
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    mod on_memory {
        casework_store_conformance::suite!(std::sync::Arc::new(
            crate::SqliteStore::open_url("sqlite::memory:").unwrap()
        ));
        casework_store_conformance::transfer_suite!(std::sync::Arc::new(
            crate::SqliteStore::open_url("sqlite::memory:").unwrap()
        ));
    }

    mod on_file {
        /// A test's store directory, removed when the test's thread ends (each test runs on
        /// a thread of its own, and its store is gone by then), so runs leave nothing behind.
        struct Removed(std::path::PathBuf);

        impl Drop for Removed {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        thread_local! {
            static DIRS: std::cell::RefCell<Vec<Removed>> = const { std::cell::RefCell::new(Vec::new()) };
        }

        fn fresh() -> std::sync::Arc<crate::SqliteStore> {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "casework-sqlite-conformance-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            DIRS.with(|d| d.borrow_mut().push(Removed(dir.clone())));
            let url = format!("sqlite://{}", dir.join("cases.db").display());
            std::sync::Arc::new(crate::SqliteStore::open_url(&url).unwrap())
        }
        casework_store_conformance::suite!(fresh());
        casework_store_conformance::transfer_suite!(fresh());
    }
}
