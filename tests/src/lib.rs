//! Helpers for Casework's end-to-end tests: a service wired to a store, with a fixed clock;
//! the real program in a private home; real SMTP and IMAP servers on loopback; a real
//! headless Chromium over WebDriver.

pub mod browser;
pub mod dovecot;

use std::sync::Arc;

use casework_core::model::{Person, Role};
use casework_core::ports::CaseStore;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::{CaseService, Templates, WorkflowConfig};

/// A service over `store` with the default workflow, a fixed clock and sequential ids.
pub fn service(store: Arc<dyn CaseStore>) -> (CaseService, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::default());
    let templates = match Templates::embedded() {
        Ok(t) => t,
        Err(e) => panic!("embedded templates must load: {e}"),
    };
    let svc = CaseService::new(
        store,
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(templates),
    );
    (svc, clock)
}

/// A staff member with an email and a signature.
pub fn staff(name: &str, role: Role) -> Person {
    let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
    Person {
        name: name.into(),
        role,
        email: email.parse().ok(),
        phone: Some("+1 555 0100".into()),
        signature: Some(format!("{name}\nExample Corp Support")),
        notifications_off: Vec::new(),
    }
}

/// Runs the real `casework` program in a private home: its own store, config folder and
/// data folder, so tests never touch the user's files or each other's.
pub struct Cw {
    /// The private folder.
    pub dir: std::path::PathBuf,
    exe: std::path::PathBuf,
    env: Vec<(String, String)>,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Cw {
    /// A fresh private home for the program at `exe`.
    pub fn new(exe: &str, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("casework-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        Self {
            dir,
            exe: exe.into(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every run (after the private home's own).
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.exe);
        cmd.env_clear()
            .env("HOME", &self.dir)
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs with arguments and, optionally, standard input.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_piped(args, stdin, false)
    }

    /// Runs with a standard output nobody reads: the pipe's reading end is closed as soon
    /// as the program starts, as `casework … | head -1` does once it has its line.
    /// Whatever the program writes past the pipe's buffer meets a closed pipe.
    pub fn run_into_closed_pipe(&self, args: &[&str]) -> Run {
        self.run_piped(args, None, true)
    }

    fn run_piped(&self, args: &[&str], stdin: Option<&str>, close_stdout: bool) -> Run {
        use std::io::Write;
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run {}: {e}", self.exe.display()),
        };
        if close_stdout {
            drop(child.stdout.take());
        }
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(input.as_bytes());
        }
        let out = match child.wait_with_output() {
            Ok(o) => o,
            Err(e) => panic!("cannot wait for casework: {e}"),
        };
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The store `casework` uses in this home (the default SQLite file).
    pub fn store_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.join("data/casework/casework.db").display()
        )
    }

    /// Opens a case straight through the store, below the service and its checks: a record
    /// as an earlier version may have stored it (a customer name with a line break, an
    /// address today's rules refuse). Returns its number.
    pub fn open_stored_case(&self, title: &str, customer_name: &str, customer_email: &str) -> u64 {
        use casework_core::event::Opened;
        use casework_core::model::{Customer, Origin, Priority, StatusCategory};
        use casework_core::ports::CaseLog;
        let store = match casework_store_sqlite::SqliteStore::open_url(&self.store_url()) {
            Ok(s) => s,
            Err(e) => panic!("cannot open {}: {e}", self.store_url()),
        };
        // as the store reads an address it holds: earlier versions' rules
        let email = serde_json::from_value(serde_json::Value::String(customer_email.into()));
        let status = "New".parse();
        let (Ok(email), Ok(status)) = (email, status) else {
            panic!("{customer_email:?} is not an address any version stored");
        };
        let opened = Opened {
            title: title.into(),
            description: String::new(),
            origin: Origin::Email,
            priority: Priority::Medium,
            customer: Customer {
                name: customer_name.into(),
                email,
                phone: None,
                account: None,
            },
            product: None,
            product_version: None,
            status,
            category: StatusCategory::Open,
        };
        let runtime = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(r) => r,
            Err(e) => panic!("no runtime: {e}"),
        };
        let created = runtime.block_on(store.create_case(
            jiff::Timestamp::now(),
            "an earlier version".into(),
            opened,
            Vec::new(),
        ));
        match created {
            Ok(case) => case.number.get(),
            Err(e) => panic!("cannot store the case: {e}"),
        }
    }

    /// Starts the program in the background (output discarded), for tests that kill it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run {}: {e}", self.exe.display()),
        }
    }

    /// Starts `casework serve` on port 0 with `extra` arguments (after `serve`); returns it
    /// once it has printed the address it bound.
    pub fn serve(&self, extra: &[&str]) -> Served {
        self.serve_logging(extra, std::process::Stdio::null())
    }

    /// [`Cw::serve`] with the server's log (its standard error) going to `log`.
    pub fn serve_logging(&self, extra: &[&str], log: std::process::Stdio) -> Served {
        use std::io::BufRead;
        let mut cmd = self.command();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run {}: {e}", self.exe.display()),
        };
        let Some(stdout) = child.stdout.take() else {
            panic!("serve has no stdout");
        };
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(l)) => l,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve printed no address: {other:?}");
            }
        };
        let Some(addr) = first
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected first line {first:?}");
        };
        Served {
            addr: addr.to_string(),
            first_line: first.clone(),
            child,
            lines,
        }
    }

    /// Starts the program in the background with its standard output piped to the caller
    /// (standard error discarded), for tests that read a stream it prints.
    pub fn spawn_reading(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run {}: {e}", self.exe.display()),
        }
    }

    /// The workflow file `casework init` wrote.
    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.join("config/casework/workflow.toml")
    }

    /// Adds `toml` (whole sections) at the end of the workflow file.
    pub fn append_to_config(&self, toml: &str) {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if let Err(e) = std::fs::write(&path, format!("{text}\n{toml}\n")) {
            panic!("cannot write {}: {e}", path.display());
        }
    }

    /// Runs with arguments.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Runs and expects success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "casework {args:?} failed: {}{}",
            r.stderr, r.stdout
        );
        r.stdout
    }

    /// Every case number on file, walking `case list` page by page as root.
    pub fn case_numbers(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut args = vec!["--as", "root", "case", "list", "--limit", "500"];
            if let Some(c) = &cursor {
                args.extend(["--cursor", c.as_str()]);
            }
            let page = self.json(&args);
            let items = page["items"].as_array().cloned().unwrap_or_default();
            out.extend(items.iter().filter_map(|c| c["number"].as_u64()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// Registers `root`, an admin (the first person may be added by anyone).
    pub fn first_admin(&self) {
        self.ok(&[
            "agent",
            "add",
            "root",
            "--role",
            "admin",
            "--email",
            "root@example.com",
        ]);
    }

    /// A new token secret for `name` with `role`, made by root.
    pub fn token(&self, name: &str, role: &str) -> String {
        let made = self.json(&[
            "--as", "root", "token", "create", "--name", name, "--role", role,
        ]);
        match made["token"].as_str() {
            Some(t) => t.to_string(),
            None => panic!("token create printed no token: {made}"),
        }
    }

    /// Runs and expects this exit code with one line on stderr; returns that line.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, code,
            "casework {args:?}: stdout {} stderr {}",
            r.stdout, r.stderr
        );
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert_eq!(
            r.stderr.trim_end().lines().count(),
            1,
            "one line on stderr: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("panicked") && !r.stderr.contains("backtrace"),
            "{}",
            r.stderr
        );
        r.stderr.trim_end().to_string()
    }

    /// Runs with `--json` and parses the one JSON document on stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        match serde_json::from_str(&out) {
            Ok(v) => v,
            Err(e) => panic!("casework {args:?} printed invalid JSON ({e}): {out}"),
        }
    }
}

/// A `casework serve` process (from [`Cw::serve`]), SIGKILLed on drop if still running.
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// What it printed first (`listening on http://ADDR (store URL)`).
    pub first_line: String,
    /// The rest of its standard output.
    pub lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cw {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Python that runs the test SMTP server and the OpenAPI tools: `CASEWORK_TEST_PYTHON`,
/// else the virtual environment `cargo xtask ci` makes in `target/test-venv` (aiosmtpd,
/// openapi-spec-validator and openapi-python-client from PyPI).
pub fn test_python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("CASEWORK_TEST_PYTHON") {
        return p.into();
    }
    let venv = workspace_root().join("target/test-venv/bin/python");
    if venv.exists() {
        return venv;
    }
    panic!(
        "the email and OpenAPI tests need Python with their packages: run `cargo xtask ci` \
         (it makes target/test-venv) or `cargo xtask test-env`, or set CASEWORK_TEST_PYTHON"
    )
}

/// Stops a server started under `timeout` by its pid: SIGTERM to `timeout`, which passes it
/// on; up to five seconds to end, then SIGKILL. Removes its folder `dir` either way.
pub fn stop_by_pid(child: &mut std::process::Child, dir: &std::path::Path) {
    let pid = child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// The workspace's root folder.
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// A real SMTP server on loopback (aiosmtpd, `tests/smtp/smtp_server.py`), killed on drop.
/// What it receives is parsed by Python's email package and kept as JSON, one file each.
pub struct SmtpServer {
    child: std::process::Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Where it writes what it receives, and reads its mode from.
    pub dir: std::path::PathBuf,
}

impl SmtpServer {
    /// Starts a server; `extra` are options of the script (`--auth U:P`, `--cert`, …).
    pub fn start(name: &str, extra: &[&str]) -> Self {
        use std::io::BufRead;
        let dir = std::env::temp_dir().join(format!("casework-smtp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let script = workspace_root().join("tests/smtp/smtp_server.py");
        let mut child = match std::process::Command::new(test_python())
            .arg(&script)
            .arg(&dir)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("cannot start the SMTP server: {e}"),
        };
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let port = match line.trim().strip_prefix("PORT ").map(str::parse::<u16>) {
            Some(Ok(p)) => p,
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output();
                let err = out
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default();
                panic!("the SMTP server did not start (printed {line:?}): {err}");
            }
        };
        Self { child, port, dir }
    }

    /// `smtp://127.0.0.1:PORT` plus a query, e.g. `?timeout=1s`.
    pub fn url(&self, query: &str) -> String {
        format!("smtp://127.0.0.1:{}{query}", self.port)
    }

    /// How the server answers from now on: accept, tempfail, reject, slow:S, hold:S.
    pub fn set_mode(&self, mode: &str) {
        if let Err(e) = std::fs::write(self.dir.join("mode"), mode) {
            panic!("cannot set the SMTP server's mode: {e}");
        }
    }

    /// Messages the server took, in order of arrival, as parsed JSON.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for n in 1.. {
            let path = self.dir.join(format!("msg-{n}.json"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                break;
            };
            match serde_json::from_str(&text) {
                Ok(v) => out.push(v),
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
        out
    }

    /// Delivery attempts the server saw (DATA commands), taken or not.
    pub fn attempts(&self) -> u32 {
        std::fs::read_to_string(self.dir.join("attempts"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits up to `limit` for at least `n` messages.
    pub fn wait_for(&self, n: usize, limit: std::time::Duration) -> Vec<serde_json::Value> {
        let start = std::time::Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n || start.elapsed() > limit {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private CA and a server certificate it signed for `localhost` and `127.0.0.1`, made
/// with the openssl command in `dir`. Returns (CA certificate, server certificate, server
/// key) paths.
pub fn certificates(dir: &std::path::Path) -> (String, String, String) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    let path = |name: &str| dir.join(name).display().to_string();
    let ext = path("leaf.ext");
    if let Err(e) = std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    ) {
        panic!("cannot write {ext}: {e}");
    }
    let openssl = |args: &[&str]| match std::process::Command::new("openssl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("openssl {args:?}: {s}"),
        Err(e) => panic!("the openssl command (Debian package openssl): {e}"),
    };
    let (ca, ca_key) = (path("ca.pem"), path("ca.key"));
    let (cert, key, csr) = (path("cert.pem"), path("key.pem"), path("leaf.csr"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Casework Test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    (ca, cert, key)
}
