//! Helpers for Casework's end-to-end tests: a service wired to a store, with a fixed clock.

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
    }
}

/// Runs the real `casework` program in a private home: its own store, config folder and
/// data folder, so tests never touch the user's files or each other's.
pub struct Cw {
    /// The private folder.
    pub dir: std::path::PathBuf,
    exe: std::path::PathBuf,
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
        }
    }

    /// Runs with arguments and, optionally, standard input.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        use std::io::Write;
        let mut cmd = std::process::Command::new(&self.exe);
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.dir)
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run {}: {e}", self.exe.display()),
        };
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

impl Drop for Cw {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
