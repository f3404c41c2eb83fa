//! A throw-away PostgreSQL cluster for tests and benchmarks, made from Debian's binaries.
//!
//! - [`Cluster::shared`] gives every test of one test binary the same cluster, started on
//!   first use: `initdb` under `target/pg-test/`, a free port on 127.0.0.1, `pg_ctl start`
//!   bounded in time. Each test asks it for a fresh database ([`Cluster::fresh_database`]),
//!   owned by the unprivileged role [`ROLE`], so what is tested never needs a superuser.
//! - The cluster is stopped by its postmaster's pid: by [`Drop`], and, for the shared one
//!   (statics are never dropped) or when the test process panics or is killed, by a small
//!   watchdog process that polls the owner's pid and stops the server when the owner is gone
//!   or after [`Options::lifetime`] at the latest. The watchdog then removes the folder.
//! - When the process runs as root (CI does), PostgreSQL runs as the `postgres` system user
//!   (`runuser -u postgres --`), which owns the cluster's folder: PostgreSQL refuses root.
//! - The binaries are taken from `CASEWORK_PG_BIN` if set, else from the newest
//!   `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package, which `.ci/run` installs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The unprivileged role that owns every database made by [`Cluster::fresh_database`].
pub const ROLE: &str = "casework";
/// The cluster's superuser (made by `initdb`).
pub const SUPERUSER: &str = "postgres";

/// How long starting or stopping the server may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one `psql` command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a cluster could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No PostgreSQL binaries were found.
    NotInstalled(String),
    /// A file or folder could not be used.
    Io(String),
    /// A command failed.
    Failed {
        /// What was run.
        what: String,
        /// Its error output, or the server log's tail.
        detail: String,
    },
    /// A command did not finish in time (it was killed).
    Timeout {
        /// What was run.
        what: String,
        /// The bound.
        seconds: u64,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInstalled(why) => write!(
                f,
                "postgresql is not installed ({why}): apt-get install postgresql, or set CASEWORK_PG_BIN"
            ),
            Self::Io(e) => write!(f, "{e}"),
            Self::Failed { what, detail } => write!(f, "{what} failed: {detail}"),
            Self::Timeout { what, seconds } => write!(f, "{what} took longer than {seconds} s"),
        }
    }
}

impl std::error::Error for Error {}

/// How to make a cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder name prefix (the process id is added).
    pub name: String,
    /// Parent folder; default `target/pg-test` of this workspace.
    pub dir: Option<PathBuf>,
    /// `fsync` on (benchmarks, durability under power loss); tests leave it off, which is
    /// still crash-safe for a killed server (not for a lost machine).
    pub durable: bool,
    /// More `postgresql.conf` settings, as `(name, value)` (value written as is).
    pub settings: Vec<(String, String)>,
    /// The watchdog stops the server after this long even if its owner lives.
    pub lifetime: Duration,
    /// Keep the data folder after the server stops.
    pub keep: bool,
}

impl Options {
    /// Test defaults: no fsync, two hours at most, folder removed afterwards.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            dir: None,
            durable: false,
            settings: Vec::new(),
            lifetime: Duration::from_secs(2 * 3600),
            keep: false,
        }
    }
}

/// A running PostgreSQL cluster on 127.0.0.1.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    data: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
    keep: bool,
    watchdog: Mutex<Option<Child>>,
    next_db: AtomicU32,
}

/// The newest PostgreSQL `bin` folder.
pub fn find_bin() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("CASEWORK_PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").exists() {
            Ok(dir)
        } else {
            Err(Error::NotInstalled(format!(
                "no initdb in CASEWORK_PG_BIN={}",
                dir.display()
            )))
        };
    }
    let base = Path::new("/usr/lib/postgresql");
    let entries = std::fs::read_dir(base)
        .map_err(|e| Error::NotInstalled(format!("{}: {e}", base.display())))?;
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in entries.flatten() {
        let Some(version) = entry
            .file_name()
            .to_str()
            .and_then(|v| v.parse::<u32>().ok())
        else {
            continue;
        };
        let bin = entry.path().join("bin");
        if bin.join("initdb").exists() && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, b)| b)
        .ok_or_else(|| Error::NotInstalled(format!("no version under {}", base.display())))
}

/// Whether this process runs with effective user id 0.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pg-test")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::Io(format!("cannot find a free port: {e}")))
}

/// Removes folders left by processes that no longer exist (a killed test binary whose
/// watchdog was killed too).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let data = entry.path().join("data/postmaster.pid");
        if !Path::new(&format!("/proc/{pid}")).exists() && !data.exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs a command to its end, killing it (by its pid) after `timeout`.
fn run_bounded(mut cmd: Command, what: &str, timeout: Duration) -> Result<String, Error> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Failed {
            what: what.to_string(),
            detail: e.to_string(),
        })?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => Err(Error::Failed {
            what: what.to_string(),
            detail: format!(
                "{}; {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }),
        Ok(Err(e)) => Err(Error::Failed {
            what: what.to_string(),
            detail: e.to_string(),
        }),
        Err(_) => {
            signal(pid, "KILL");
            Err(Error::Timeout {
                what: what.to_string(),
                seconds: timeout.as_secs(),
            })
        }
    }
}

/// Sends a signal to one process by its pid.
fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

static SHARED: OnceLock<Result<Cluster, Error>> = OnceLock::new();

impl Cluster {
    /// The cluster shared by every test of this process, started on first use and stopped
    /// by its watchdog when the process ends. Panics with the reason if it cannot start: a
    /// test that needs PostgreSQL cannot run without it.
    pub fn shared() -> &'static Cluster {
        let name = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
            .unwrap_or_else(|| "tests".into());
        match SHARED.get_or_init(|| Cluster::start(Options::new(&name))) {
            Ok(c) => c,
            Err(e) => panic!("cannot start the test PostgreSQL cluster: {e}"),
        }
    }

    /// Makes and starts a new cluster.
    pub fn start(opts: Options) -> Result<Self, Error> {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let bin = find_bin()?;
        let base = opts.dir.clone().unwrap_or_else(default_dir);
        std::fs::create_dir_all(&base)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", base.display())))?;
        let base = base
            .canonicalize()
            .map_err(|e| Error::Io(format!("{}: {e}", base.display())))?;
        remove_stale(&base);
        let name: String = opts
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let root = base.join(format!(
            "{name}{}-{}",
            SERIAL.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("run"))
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", root.display())))?;
        let mut cluster = Self {
            data: root.join("data"),
            root,
            port: 0,
            bin,
            as_postgres: running_as_root(),
            keep: opts.keep,
            watchdog: Mutex::new(None),
            next_db: AtomicU32::new(0),
        };
        if cluster.as_postgres {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(&cluster.root);
            run_bounded(chown, "chown", COMMAND_TIMEOUT)?;
        }
        let mut initdb = cluster.as_user("initdb");
        initdb
            .arg("-D")
            .arg(&cluster.data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]);
        run_bounded(initdb, "initdb", COMMAND_TIMEOUT)?;
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            cluster.configure(&opts)?;
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        let watchdog = cluster.spawn_watchdog(std::process::id(), &opts)?;
        *cluster.watchdog.lock().unwrap_or_else(|p| p.into_inner()) = Some(watchdog);
        cluster.psql("postgres", &format!("CREATE ROLE {ROLE} LOGIN"))?;
        Ok(cluster)
    }

    /// A command run as the cluster's owner: `postgres` when this process is root.
    fn as_user(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn configure(&self, opts: &Options) -> Result<(), Error> {
        use std::io::Write;
        let mut conf = format!(
            "\n# casework-test-postgres\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{}'\nmax_connections = 300\n",
            self.port,
            self.root.join("run").display()
        );
        if !opts.durable {
            conf.push_str("fsync = off\nfull_page_writes = off\n");
        }
        for (k, v) in &opts.settings {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        let path = self.data.join("postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.root.join("log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// `pg_ctl start`, waiting (bounded) until the server accepts connections.
    pub fn pg_ctl_start(&self) -> Result<(), Error> {
        let mut cmd = self.as_user("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.root.join("log"))
            .args(["-w", "-t", &START_TIMEOUT.as_secs().to_string(), "start"]);
        match run_bounded(cmd, "pg_ctl start", START_TIMEOUT + Duration::from_secs(5)) {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Failed {
                what: "starting PostgreSQL".into(),
                detail: format!("{e}\n{}", self.log_tail()),
            }),
        }
    }

    /// `pg_ctl stop -m immediate`: the server stops at once, as in a crash (recovery runs at
    /// the next start).
    pub fn pg_ctl_stop_immediate(&self) -> Result<(), Error> {
        let mut cmd = self.as_user("pg_ctl");
        cmd.arg("-D").arg(&self.data).args([
            "-m",
            "immediate",
            "-w",
            "-t",
            &START_TIMEOUT.as_secs().to_string(),
            "stop",
        ]);
        run_bounded(
            cmd,
            "pg_ctl stop -m immediate",
            START_TIMEOUT + Duration::from_secs(5),
        )
        .map(|_| ())
    }

    /// Starts the process that stops the server once `owner` is gone.
    fn spawn_watchdog(&self, owner: u32, opts: &Options) -> Result<Child, Error> {
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + opts.lifetime.as_secs();
        // Stops the server by the pid in postmaster.pid (fast shutdown, then immediate, then
        // KILL), once the owner is gone or the lifetime is over; then removes the folder.
        let script = r#"
owner=$1 data=$2 root=$3 deadline=$4 keep=$5
while kill -0 "$owner" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.5; done
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -INT "$pid" 2>/dev/null
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  kill -QUIT "$pid" 2>/dev/null; sleep 0.5; kill -KILL "$pid" 2>/dev/null
fi
[ "$keep" = 1 ] || rm -rf "$root"
"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("casework-pg-watchdog")
            .arg(owner.to_string())
            .arg(&self.data)
            .arg(&self.root)
            .arg(deadline.to_string())
            .arg(if opts.keep { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Io(format!("cannot start the watchdog: {e}")))?;
        Ok(child)
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder of the PostgreSQL binaries (for `pgbench`, `psql`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// A URL for [`ROLE`] on database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{db}", self.port)
    }

    /// A URL for the superuser on database `db`.
    pub fn superuser_url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL as the superuser on database `db` with `psql`; its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, Error> {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", db, "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10");
        run_bounded(cmd, &format!("psql {sql:?}"), COMMAND_TIMEOUT).map(|s| s.trim().to_string())
    }

    /// A new empty database owned by [`ROLE`]; its URL.
    pub fn fresh_database(&self, prefix: &str) -> Result<String, Error> {
        let prefix: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("{prefix}_{}", self.next_db.fetch_add(1, Ordering::Relaxed));
        self.psql(
            "postgres",
            &format!("CREATE DATABASE \"{name}\" OWNER {ROLE}"),
        )?;
        Ok(self.url(&name))
    }

    /// The postmaster's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
    }

    /// Stops the server by its pid: fast shutdown, bounded; immediate, then KILL, if it
    /// does not stop in time.
    pub fn stop(&self) {
        let Some(pid) = self.pid() else {
            return;
        };
        signal(pid, "INT");
        let started = Instant::now();
        while signal(pid, "0") {
            if started.elapsed() > START_TIMEOUT {
                signal(pid, "QUIT");
                std::thread::sleep(Duration::from_millis(500));
                signal(pid, "KILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut w) = self
            .watchdog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.stop();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_gives_fresh_databases_and_stops_by_its_pid() {
        let cluster = match Cluster::start(Options::new("selftest")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let pid = cluster.pid();
        assert!(pid.is_some(), "a running server has a pid");
        let a = cluster
            .fresh_database("t")
            .unwrap_or_else(|e| panic!("{e}"));
        let b = cluster
            .fresh_database("t")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a, b, "every database is new");
        assert!(a.starts_with(&format!("postgres://{ROLE}@127.0.0.1:")));
        let owner = cluster
            .psql(
                "postgres",
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 't_0'",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(owner, ROLE, "databases belong to the unprivileged role");
        let root = cluster.root.clone();
        drop(cluster);
        let pid = pid.unwrap_or(0);
        assert!(!signal(pid, "0"), "the server is gone after drop");
        assert!(!root.exists(), "and so is its folder");
    }

    #[test]
    fn the_watchdog_stops_the_server_when_its_owner_is_gone() {
        let cluster = Cluster::start(Options::new("selftest")).unwrap_or_else(|e| panic!("{e}"));
        let pid = cluster.pid().unwrap_or(0);
        let mut owner = Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut opts = Options::new("selftest");
        opts.keep = true;
        let mut watchdog = cluster
            .spawn_watchdog(owner.id(), &opts)
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = owner.wait();
        let _ = watchdog.wait();
        assert!(!signal(pid, "0"), "the server was stopped by its pid");
        assert!(cluster.data.exists(), "kept when asked to");
    }

    #[test]
    fn an_immediate_stop_is_recovered_at_the_next_start() {
        let cluster = Cluster::start(Options::new("selftest")).unwrap_or_else(|e| panic!("{e}"));
        cluster
            .psql(
                "postgres",
                "CREATE TABLE t (x int); INSERT INTO t VALUES (7)",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        cluster
            .pg_ctl_stop_immediate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(cluster.psql("postgres", "SELECT 1").is_err(), "it is down");
        cluster.pg_ctl_start().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cluster
                .psql("postgres", "SELECT x FROM t")
                .unwrap_or_else(|e| panic!("{e}")),
            "7"
        );
    }
}
