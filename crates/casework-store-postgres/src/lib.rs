//! Casework's networked store: PostgreSQL, for many `casework serve` processes on one
//! database.
//!
//! - **Opened from a URL**: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?…]`, with
//!   what the URL leaves out taken from the usual `PG*` environment variables
//!   ([`connect_config`]); a connection pool (deadpool) of `pool_size` connections.
//! - **Safe opening**: a database holding another application's tables, or a newer
//!   Casework schema, is refused untouched; migrations run in one transaction under an
//!   advisory lock, so servers starting together migrate once ([`schema`]).
//! - **Many servers, one behaviour**: numbers from a sequence; a commit is a
//!   version-checked `UPDATE` that locks the case's row (a stale version is a conflict, never
//!   a lost update); an idempotency key is claimed by a row first; outbox claims use
//!   `FOR UPDATE SKIP LOCKED`; tokens are read from the database on every check.
//! - **Search**: one `tsvector` row per piece of text with GIN indexes, customer-visible text
//!   in its own table ([`queries`]); terms are made by core's rules, not a PostgreSQL
//!   dictionary.
//!
//! Core's store capabilities are implemented in `ports.rs`, one impl block per capability
//! trait and one line per method over the modules: the case log ([`cases`]), queries and
//! search ([`queries`]), reports ([`reports`]), the directory of people and tokens
//! ([`directory`]), knowledge ([`knowledge`]), the outbox ([`outbox`]), and moving whole
//! stores (`StoreTransfer`, over [`cases`] and [`knowledge`]).

mod attachments;
pub mod cases;
mod db;
pub mod directory;
mod feed;
pub mod knowledge;
pub mod outbox;
mod ports;
pub mod quarantine;
pub mod queries;
mod reindex;
pub mod reports;
pub mod schema;
pub mod sessions;
mod text;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use casework_core::ids::CaseNumber;
use casework_core::ports::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

pub use schema::LATEST as SCHEMA_VERSION;

/// Connections in the pool when the URL does not say (`?pool_size=N`).
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long opening a connection may take when neither the URL nor `PGCONNECT_TIMEOUT` says.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for a free connection before the store answers "unavailable".
pub const POOL_WAIT: Duration = Duration::from_secs(10);

/// Why a store could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The URL is not a PostgreSQL URL this store understands.
    #[error("invalid PostgreSQL store URL {url:?}: {reason}")]
    BadUrl {
        /// The URL, without its password.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server cannot be reached or refused the connection.
    #[error("cannot connect to PostgreSQL: {0}")]
    Unavailable(String),
    /// The database is not a Casework database; it was not changed.
    #[error("refusing to use this database: {0}; it was not changed")]
    NotCasework(String),
    /// The database was written by a newer Casework; it was not changed.
    #[error(
        "the database has schema version {found}, newer than this Casework understands \
         ({supported}); upgrade Casework, the database was not changed"
    )]
    TooNew {
        /// The database's schema version.
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
    /// PostgreSQL refused something else.
    #[error("postgresql: {0}")]
    Postgres(String),
}

/// A URL with its password (if any) replaced, for messages and `casework doctor`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The connection settings and pool size a URL and the environment give.
///
/// The URL is `postgres://` or `postgresql://` in libpq's form; `pool_size=N` is Casework's
/// own parameter. As with libpq, what the URL leaves out comes from `PGHOST`, `PGPORT`,
/// `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT` and `PGSSLMODE`,
/// then from defaults (the Unix socket in `/var/run/postgresql` if present, else
/// localhost; port 5432; the login name as user; the user's name as database). `env` looks
/// a variable up (the process environment, or a map in tests).
pub fn connect_config(
    url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(tokio_postgres::Config, usize), OpenError> {
    let bad = |reason: &str| OpenError::BadUrl {
        url: redact(url),
        reason: reason.to_string(),
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad("expected postgres://USER@HOST:PORT/DATABASE"));
    }
    let mut pool_size = DEFAULT_POOL_SIZE;
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("pool_size", n)) => {
                pool_size = n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad("pool_size must be a number from 1 to 1000"))?;
            }
            _ => kept.push(pair),
        }
    }
    let base = with_default_port(base, env("PGPORT").filter(|p| !p.is_empty()).as_deref())
        .map_err(|p| bad(&format!("PGPORT {p:?} is not a port")))?;
    let libpq = if kept.is_empty() {
        base
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    // an empty authority (`postgres:///db` or `postgres://`) is valid libpq: all from the environment
    let mut config: tokio_postgres::Config = libpq.parse().map_err(|e| bad(&format!("{e}")))?;
    if config.get_hosts().is_empty() {
        match env("PGHOST").filter(|h| !h.is_empty()) {
            Some(hosts) => {
                for h in hosts.split(',') {
                    config.host(h);
                }
            }
            None if std::path::Path::new("/var/run/postgresql").exists() => {
                config.host_path("/var/run/postgresql");
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(p) = env("PGPORT").filter(|p| !p.is_empty())
    {
        let port = p
            .parse::<u16>()
            .map_err(|_| bad(&format!("PGPORT {p:?} is not a port")))?;
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .filter(|u| !u.is_empty())
            .ok_or_else(|| bad("no user: put it in the URL or set PGUSER"))?;
        config.user(&user);
    }
    if config.get_password().is_none()
        && let Some(p) = env("PGPASSWORD")
    {
        config.password(p);
    }
    if config.get_dbname().is_none() {
        let db = env("PGDATABASE")
            .filter(|d| !d.is_empty())
            .or_else(|| config.get_user().map(str::to_string))
            .unwrap_or_default();
        config.dbname(&db);
    }
    if config.get_application_name().is_none() {
        config.application_name(env("PGAPPNAME").unwrap_or_else(|| "casework".into()));
    }
    if config.get_connect_timeout().is_none() {
        let timeout = match env("PGCONNECT_TIMEOUT").filter(|t| !t.is_empty()) {
            Some(t) => Duration::from_secs(
                t.parse::<u64>()
                    .map_err(|_| bad(&format!("PGCONNECT_TIMEOUT {t:?} is not seconds")))?,
            ),
            None => DEFAULT_CONNECT_TIMEOUT,
        };
        config.connect_timeout(timeout);
    }
    let sslmode = query
        .split('&')
        .find_map(|p| p.strip_prefix("sslmode="))
        .map(str::to_string)
        .or_else(|| env("PGSSLMODE"));
    if let Some(mode) = sslmode
        && !matches!(mode.as_str(), "disable" | "allow" | "prefer")
    {
        return Err(bad(&format!(
            "sslmode={mode} needs TLS, which this build does not speak: reach the server over a \
             private network or a TLS tunnel, with sslmode=disable"
        )));
    }
    Ok((config, pool_size))
}

/// Gives every host of a URL's authority that has no port the port `PGPORT` names (the URL
/// parser would fill in 5432 where libpq takes `PGPORT`). `Err` with the value when it is
/// not a port.
fn with_default_port(base: &str, port: Option<&str>) -> Result<String, String> {
    let Some(port) = port else {
        return Ok(base.to_string());
    };
    port.parse::<u16>().map_err(|_| port.to_string())?;
    let Some((scheme, rest)) = base.split_once("://") else {
        return Ok(base.to_string());
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if hosts.is_empty() {
        return Ok(base.to_string());
    }
    let hosts: Vec<String> = hosts
        .split(',')
        .map(|h| {
            let has_port = match h.rfind(']') {
                Some(i) => h[i..].contains(':'),
                None => h.contains(':'),
            };
            if has_port || h.is_empty() {
                h.to_string()
            } else {
                format!("{h}:{port}")
            }
        })
        .collect();
    let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    Ok(format!("{scheme}://{userinfo}{}{tail}", hosts.join(",")))
}

/// The PostgreSQL case store.
pub struct PgStore {
    pool: Pool,
    dfs: queries::DfCache,
    /// Set while search rows written before stemming (schema v3) are being reindexed.
    reindexing: Arc<AtomicBool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PgStore {
    /// Opens (creating and migrating the schema as needed) the store a URL names, with the
    /// process environment's `PG*` variables for what the URL leaves out.
    pub async fn open_url(url: &str) -> Result<Self, OpenError> {
        let (config, pool_size) = connect_config(url, |k| std::env::var(k).ok())?;
        Self::open(config, pool_size).await
    }

    /// Opens a store from connection settings.
    pub async fn open(config: tokio_postgres::Config, pool_size: usize) -> Result<Self, OpenError> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(DEFAULT_CONNECT_TIMEOUT + Duration::from_secs(1)))
            .build()
            .map_err(|e| OpenError::Postgres(e.to_string()))?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| OpenError::Unavailable(db::pool_err(e).to_string()))?;
        schema::migrate(&mut client).await?;
        let pending = reindex::pending(&client)
            .await
            .map_err(|e| OpenError::Postgres(e.to_string()))?;
        drop(client);
        let reindexing = Arc::new(AtomicBool::new(pending));
        if pending {
            tokio::spawn(reindex::run(pool.clone(), reindexing.clone()));
        }
        Ok(Self {
            pool,
            dfs: queries::DfCache::default(),
            reindexing,
        })
    }

    /// A pooled connection.
    async fn conn(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(db::pool_err)
    }

    /// A transaction for an interactive read (the case list, search, similar cases) that
    /// touches a few thousand rows at most: PostgreSQL may not hand it to parallel workers,
    /// whose start-up costs more than such a query (measured: 16 ms alone, 51 ms in parallel
    /// on 2 cores), nor compile it (JIT: 140–320 ms measured on a walk the planner costed
    /// high, for a query that then read 2,000 rows).
    async fn interactive<'c>(
        client: &'c mut deadpool_postgres::Client,
    ) -> Result<deadpool_postgres::Transaction<'c>, StoreError> {
        let tx = client.transaction().await.map_err(db::db_err)?;
        tx.batch_execute("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off")
            .await
            .map_err(db::db_err)?;
        Ok(tx)
    }

    /// Ends an interactive read's transaction without waiting for the server: dropped, it
    /// sends its `ROLLBACK` ahead of whatever the connection carries next, so the answer
    /// leaves one round trip sooner (a `COMMIT` awaited is a round trip, 0.2–1 ms on a
    /// loaded 2-core machine, and a read has nothing to commit).
    fn end_read(tx: deadpool_postgres::Transaction<'_>) {
        drop(tx);
    }

    /// Which lexemes queries look for: while old rows are being reindexed, each word as
    /// typed too.
    fn lexemes(&self) -> text::Lexemes {
        if self.reindexing.load(Ordering::Relaxed) {
            text::Lexemes::NormalizedOrSurface
        } else {
            text::Lexemes::Normalized
        }
    }

    /// Whether search rows written before stemming are still being reindexed in the
    /// background (see `reindex`).
    pub fn reindexing(&self) -> bool {
        self.reindexing.load(Ordering::Relaxed)
    }

    /// The terms a similar-cases query for case `n` uses (for diagnostics and benchmarks).
    pub async fn similar_terms(&self, n: CaseNumber) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn().await?;
        let tx = Self::interactive(&mut c).await?;
        let terms = queries::similar_terms(&tx, &self.dfs, n, self.lexemes()).await?;
        Self::end_read(tx);
        Ok(terms)
    }

    /// The pool's size and how many connections are in use, for diagnostics.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.max_size, s.size.saturating_sub(s.available))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_url_wins_and_the_environment_fills_in() {
        let (c, pool) = connect_config(
            "postgres://ana:pw@db.example:6432/cases?pool_size=32",
            env(&[("PGUSER", "bob"), ("PGDATABASE", "other")]),
        )
        .unwrap();
        assert_eq!(pool, 32);
        assert_eq!(c.get_user(), Some("ana"));
        assert_eq!(c.get_dbname(), Some("cases"));
        assert_eq!(c.get_ports(), [6432]);
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
        assert_eq!(c.get_application_name(), Some("casework"));
        assert_eq!(c.get_connect_timeout(), Some(&DEFAULT_CONNECT_TIMEOUT));

        let (c, pool) = connect_config(
            "postgres://",
            env(&[
                ("PGHOST", "10.0.0.5"),
                ("PGPORT", "5433"),
                ("PGUSER", "casework"),
                ("PGPASSWORD", "secret"),
                ("PGDATABASE", "helpdesk"),
                ("PGCONNECT_TIMEOUT", "3"),
                ("PGAPPNAME", "cw-eu"),
            ]),
        )
        .unwrap();
        assert_eq!(pool, DEFAULT_POOL_SIZE);
        assert_eq!(
            c.get_hosts(),
            [tokio_postgres::config::Host::Tcp("10.0.0.5".into())]
        );
        assert_eq!(c.get_ports(), [5433]);
        assert_eq!(c.get_user(), Some("casework"));
        assert_eq!(c.get_password(), Some(&b"secret"[..]));
        assert_eq!(c.get_dbname(), Some("helpdesk"));
        assert_eq!(c.get_application_name(), Some("cw-eu"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));

        let (c, _) = connect_config("postgresql://127.0.0.1/x", env(&[("USER", "me")])).unwrap();
        assert_eq!(c.get_user(), Some("me"), "the login name, as libpq");
        let (c, _) =
            connect_config("postgres://u@a,b:7000,[::1]/x", env(&[("PGPORT", "6432")])).unwrap();
        assert_eq!(
            c.get_ports(),
            [6432, 7000, 6432],
            "PGPORT where the URL has none"
        );
    }

    #[test]
    fn bad_urls_and_tls_demands_are_refused_with_the_reason() {
        for (url, env_pairs, says) in [
            ("sqlite://x.db", vec![], "expected postgres://"),
            ("postgres://u@h/db?pool_size=0", vec![], "pool_size"),
            (
                "postgres://u@h/db?sslmode=require",
                vec![],
                "sslmode=require",
            ),
            (
                "postgres://u@h/db",
                vec![("PGSSLMODE", "verify-full")],
                "TLS",
            ),
            ("postgres://u@h/db", vec![("PGPORT", "x")], "PGPORT"),
            ("postgres://", vec![], "no user"),
        ] {
            let err = connect_config(url, env(&env_pairs)).unwrap_err();
            assert!(err.to_string().contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://ana:s3cret@db:5432/cases?pool_size=4"),
            "postgres://ana:***@db:5432/cases?pool_size=4"
        );
        assert_eq!(redact("postgres://ana@db/cases"), "postgres://ana@db/cases");
        let err = connect_config("postgres://ana:s3cret@db/c?pool_size=x", env(&[])).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
