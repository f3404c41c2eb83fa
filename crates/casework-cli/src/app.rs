//! The composition root: finds the files, reads them (core never touches a disk), chooses
//! the store from its URL, and wires the core service with a real clock and real ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use casework_core::exchange::{Exporter, Importer};
use casework_core::model::Actor;
use casework_core::ports::{CaseStore, RandomIds, StoreError, SystemClock, TransferStore};
use casework_core::reply_token::ReplyKeys;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::transfer::{CopyReport, Stage};
use casework_core::{CaseService, ServiceError, Templates, WorkflowConfig};
use casework_store_memory::MemoryStore;
use casework_store_postgres::PgStore;
use casework_store_rest::RestStore;
use casework_store_sqlite::SqliteStore;

use crate::exit;

/// A failure to report: one line and an exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The line printed after `error: `.
    pub message: String,
}

impl Failure {
    /// A usage error or a missing thing (exit 1).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: exit::USAGE_OR_NOT_FOUND,
            message: message.into(),
        }
    }

    /// The store cannot be used (exit 4).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            code: exit::UNAVAILABLE,
            message: message.into(),
        }
    }

    /// A fault inside Casework (exit 5).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: exit::INTERNAL,
            message: message.into(),
        }
    }

    /// Whoever read the output went away (`… | head`): stop, say nothing, exit 0.
    pub fn quiet() -> Self {
        Self {
            code: 0,
            message: String::new(),
        }
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        use casework_core::WorkflowError as W;
        let code = match &e {
            ServiceError::Workflow(W::Invalid { .. } | W::UnknownStatus { .. }) => {
                exit::USAGE_OR_NOT_FOUND
            }
            ServiceError::Workflow(_) => exit::REFUSED,
            ServiceError::NotFound(_) | ServiceError::UnknownActor(_) => exit::USAGE_OR_NOT_FOUND,
            ServiceError::Conflict { .. } => exit::CONFLICT,
            ServiceError::Refused(_) => exit::REFUSED,
            ServiceError::Busy { .. } => exit::UNAVAILABLE,
            ServiceError::Store(StoreError::Unavailable(_)) => exit::UNAVAILABLE,
            ServiceError::Store(StoreError::Duplicate(_) | StoreError::Invalid(_)) => {
                exit::USAGE_OR_NOT_FOUND
            }
            ServiceError::Store(StoreError::Conflict { .. } | StoreError::ClaimLost(_)) => {
                exit::CONFLICT
            }
            ServiceError::Store(StoreError::NotFound(_)) => exit::USAGE_OR_NOT_FOUND,
            ServiceError::Store(StoreError::Internal(_)) | ServiceError::Internal(_) => {
                exit::INTERNAL
            }
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(fallback)))
}

/// `$XDG_DATA_HOME/casework/casework.db`.
pub fn default_store_url() -> Result<String, Failure> {
    let dir = xdg("XDG_DATA_HOME", ".local/share").ok_or_else(|| {
        Failure::usage("cannot find a data folder: set HOME, XDG_DATA_HOME or --store")
    })?;
    Ok(format!(
        "sqlite://{}",
        dir.join("casework/casework.db").display()
    ))
}

/// `$XDG_CONFIG_HOME/casework/workflow.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config").map(|d| d.join("casework/workflow.toml"))
}

/// Where the workflow came from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A file.
    File(PathBuf),
    /// The embedded default (no file present).
    Embedded,
}

/// Everything a command needs, wired.
pub struct App {
    /// The service.
    pub service: CaseService,
    /// The store's URL.
    pub store_url: String,
    /// Where the workflow came from.
    pub config_source: ConfigSource,
    /// Template overrides in use.
    pub template_overrides: Vec<String>,
}

/// Reads and validates the workflow file: `--config`, else the default path if it exists,
/// else the embedded default.
pub fn load_config(explicit: Option<&Path>) -> Result<(WorkflowConfig, ConfigSource), Failure> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => default_config_path().filter(|p| p.exists()),
    };
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", p.display())))?;
            let config = WorkflowConfig::parse(&text)
                .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?;
            Ok((config, ConfigSource::File(p)))
        }
        None => Ok((WorkflowConfig::default_config(), ConfigSource::Embedded)),
    }
}

/// Reads template overrides from a folder (`*.j2` files) and validates them all.
pub fn load_templates(dir: Option<&Path>) -> Result<(Templates, Vec<String>), Failure> {
    let Some(dir) = dir else {
        let t = Templates::embedded().map_err(|e| Failure::usage(e.to_string()))?;
        return Ok((t, Vec::new()));
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::usage(format!(
            "cannot read templates folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut overrides = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "j2") {
            let name = entry.file_name().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            overrides.push((name, text));
        }
    }
    overrides.sort();
    let names = overrides.iter().map(|(n, _)| n.clone()).collect();
    let t = Templates::with_overrides(overrides)
        .map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
    Ok((t, names))
}

/// Connections a one-shot command opens at most to PostgreSQL.
const ONE_SHOT_POOL: usize = 2;

/// Opens the store a URL names; `one_shot` for a single CLI command, not for a server.
pub async fn open_store(url: &str, one_shot: bool) -> Result<Arc<dyn CaseStore>, Failure> {
    if url.starts_with("http://") || url.starts_with("https://") {
        // the token comes from the environment only, never from the command line (which
        // other users of the machine can read)
        let token = std::env::var("CASEWORK_TOKEN").unwrap_or_default();
        return RestStore::open(url, &token)
            .map(|s| Arc::new(s) as Arc<dyn CaseStore>)
            .map_err(|e| Failure::usage(e.to_string()));
    }
    let store: Arc<dyn CaseStore> = open_database(url, one_shot).await?;
    Ok(store)
}

/// Opens a store that holds its own data (SQLite, PostgreSQL, memory): one that can be
/// copied from and to.
pub async fn open_database(url: &str, one_shot: bool) -> Result<Arc<dyn TransferStore>, Failure> {
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // What the URL leaves out comes from the PG* environment variables, as with libpq.
        let (config, pool) =
            casework_store_postgres::connect_config(url, |k| std::env::var(k).ok())
                .map_err(|e| Failure::usage(e.to_string()))?;
        let pool = if one_shot {
            pool.min(ONE_SHOT_POOL)
        } else {
            pool
        };
        return PgStore::open(config, pool)
            .await
            .map(|s| Arc::new(s) as Arc<dyn TransferStore>)
            .map_err(|e| match e {
                casework_store_postgres::OpenError::BadUrl { .. } => Failure::usage(e.to_string()),
                _ => Failure::unavailable(e.to_string()),
            });
    }
    if url.starts_with("sqlite:") {
        // A CLI command is one short process: one connection serves it best. A server keeps
        // reader connections, which never wait for the writer.
        return SqliteStore::open_url(url)
            .map(|s| {
                let s = if one_shot { s.single_connection() } else { s };
                Arc::new(s) as Arc<dyn TransferStore>
            })
            .map_err(|e| match e {
                casework_store_sqlite::OpenError::BadUrl(_) => Failure::usage(e.to_string()),
                _ => Failure::unavailable(e.to_string()),
            });
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err(Failure::usage(format!(
            "{url} is a remote server: copy its own database (sqlite://… or postgres://…), \
             which the store copy reads and writes directly"
        )));
    }
    Err(Failure::usage(format!(
        "unknown store URL {url:?}: expected sqlite://PATH, postgres://USER@HOST/DATABASE, memory:// or http://HOST:PORT"
    )))
}

/// The reply-token secrets from `CASEWORK_REPLY_SECRET` (newest first, separated by white
/// space or commas); `None` when it is unset or empty, so outgoing mail carries no token.
fn reply_keys() -> Result<Option<ReplyKeys>, Failure> {
    let Some(value) = std::env::var_os("CASEWORK_REPLY_SECRET") else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| Failure::usage("CASEWORK_REPLY_SECRET is not valid UTF-8"))?;
    if value.trim().is_empty() {
        return Ok(None);
    }
    ReplyKeys::parse(&value)
        .map(Some)
        .map_err(|e| Failure::usage(format!("CASEWORK_REPLY_SECRET: {e}")))
}

/// The service `casework demo` runs on: a throw-away memory store, the default workflow and
/// templates, the given test clock and sequential ids, so its output is the same every run.
pub fn throwaway(clock: Arc<FixedClock>) -> Result<CaseService, Failure> {
    let templates = Templates::embedded().map_err(|e| Failure::internal(e.to_string()))?;
    Ok(CaseService::new(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(templates),
    )
    .with_mail_parser(Arc::new(casework_mail::inbound::Parser::default())))
}

impl App {
    /// Wires everything from the global options.
    pub async fn build(
        store: Option<&str>,
        config: Option<&Path>,
        templates: Option<&Path>,
        one_shot: bool,
    ) -> Result<Self, Failure> {
        let store_url = match store {
            Some(s) => s.to_string(),
            None => default_store_url()?,
        };
        let (config, config_source) = load_config(config)?;
        let (templates, template_overrides) = load_templates(templates)?;
        let keys = reply_keys()?;
        let store = open_store(&store_url, one_shot).await?;
        let mut app = Self::wire(
            store,
            &store_url,
            (config, config_source),
            (templates, template_overrides),
        );
        if let Some(keys) = keys {
            app.service = app.service.with_reply_keys(keys);
        }
        Ok(app)
    }

    /// The service over an opened store, with a real clock and real ids.
    fn wire(
        store: Arc<dyn CaseStore>,
        store_url: &str,
        (config, config_source): (WorkflowConfig, ConfigSource),
        (templates, template_overrides): (Templates, Vec<String>),
    ) -> Self {
        let service = CaseService::new(
            store,
            Arc::new(SystemClock),
            Arc::new(RandomIds::new()),
            Arc::new(config),
            Arc::new(templates),
        )
        .with_mail_parser(Arc::new(casework_mail::inbound::Parser::default()))
        .with_credentials(Arc::new(casework_web::SystemCredentials));
        Self {
            service,
            // shown by `serve` and `doctor`: never a password
            store_url: casework_store_postgres::redact(store_url),
            config_source,
            template_overrides,
        }
    }
}

/// `casework store copy`'s wiring: both databases opened, and the service over the source
/// with the workflow file in force, which decides who may copy
/// ([`CaseService::copy_store`]). Only the composition root names stores, so the command
/// reaches them through [`Copying::run`].
pub struct Copying {
    /// The service over the source (to resolve `--as`).
    pub app: App,
    from: Arc<dyn TransferStore>,
    to: Arc<dyn TransferStore>,
}

impl Copying {
    /// Opens the source and the target (created if new), each a database of its own (not a
    /// remote server), and wires the service over the source.
    pub async fn open(
        from: &str,
        to: &str,
        config: Option<&Path>,
        templates: Option<&Path>,
    ) -> Result<Self, Failure> {
        if from == to {
            return Err(Failure::usage("--from and --to name the same store"));
        }
        let config = load_config(config)?;
        let templates = load_templates(templates)?;
        let source = open_database(from, false).await?;
        let target = open_database(to, false).await?;
        let whole: Arc<dyn CaseStore> = source.clone();
        Ok(Self {
            app: App::wire(whole, from, config, templates),
            from: source,
            to: target,
        })
    }

    /// Copies the source into the target as `actor`.
    pub async fn run(
        &self,
        actor: &Actor,
        batch: u32,
        progress: &mut (dyn FnMut(Stage) + Send),
    ) -> Result<CopyReport, ServiceError> {
        self.app
            .service
            .copy_store(actor, &*self.from, &*self.to, batch, progress)
            .await
    }
}

/// `casework import` and `casework export`'s wiring: the store opened as a database of its
/// own (bulk load needs it), and the service over it, which decides who may
/// ([`CaseService::importer`], [`CaseService::exporter`]).
pub struct Exchanging {
    /// The service over the store (to resolve `--as`).
    pub app: App,
    store: Arc<dyn TransferStore>,
}

impl Exchanging {
    /// Opens the store the global options name (not a remote server).
    pub async fn open(
        store: Option<&str>,
        config: Option<&Path>,
        templates: Option<&Path>,
    ) -> Result<Self, Failure> {
        let url = match store {
            Some(s) => s.to_string(),
            None => default_store_url()?,
        };
        let config = load_config(config)?;
        let templates = load_templates(templates)?;
        let store = open_database(&url, true).await?;
        let whole: Arc<dyn CaseStore> = store.clone();
        Ok(Self {
            app: App::wire(whole, &url, config, templates),
            store,
        })
    }

    /// An export of the store as `actor`.
    pub fn exporter(&self, actor: &Actor, batch: u32) -> Result<Exporter<'_>, ServiceError> {
        self.app.service.exporter(actor, &*self.store, batch)
    }

    /// An import into the store as `actor`.
    pub fn importer(
        &self,
        actor: &Actor,
        source: &str,
        dry_run: bool,
        batch: u32,
    ) -> Result<Importer<'_>, ServiceError> {
        self.app
            .service
            .importer(actor, &*self.store, source, dry_run, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_inside_is_its_own_exit_code_and_an_unreachable_store_keeps_4() {
        let code = |e: ServiceError| Failure::from(e).code;
        assert_eq!(code(ServiceError::Internal("bug".into())), exit::INTERNAL);
        assert_eq!(
            code(ServiceError::Store(StoreError::Internal("corrupt".into()))),
            exit::INTERNAL
        );
        assert_eq!(
            Failure::from(StoreError::Internal("undecodable".into())).code,
            exit::INTERNAL,
            "a decode fault is not store unavailable"
        );
        assert_eq!(
            code(ServiceError::Store(StoreError::Unavailable(
                "refused".into()
            ))),
            exit::UNAVAILABLE
        );
        assert_eq!(code(ServiceError::Busy { attempts: 10 }), exit::UNAVAILABLE);
        assert_eq!(
            code(ServiceError::Store(StoreError::ClaimLost("m1".into()))),
            exit::CONFLICT
        );
    }

    #[tokio::test]
    async fn store_urls_are_checked() {
        assert!(open_store("memory://", true).await.is_ok());
        for bad in [
            "mysql://x",
            "sqlite://",
            "http://localhost:1",
            "postgres://u@h/db?pool_size=none",
        ] {
            assert_eq!(
                open_store(bad, true).await.err().unwrap().code,
                exit::USAGE_OR_NOT_FOUND,
                "{bad}"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let nobody = format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=2");
        assert_eq!(
            open_store(&nobody, true).await.err().unwrap().code,
            exit::UNAVAILABLE,
            "a server that is not there is unavailable, not a usage error"
        );
    }
}
