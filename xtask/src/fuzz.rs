//! `cargo xtask fuzz-api [--seconds N]`: schemathesis (from PyPI, in `target/fuzz-venv`)
//! against a `casework serve` on a fresh SQLite store with a little data, every check on,
//! for a bounded time: two thirds on the API with an admin token, one third on the storage
//! protocol (`/store/v1`) with a service token. The settings the document cannot state are in
//! `tests/fuzz/schemathesis.toml`, each with its reason. Fails when schemathesis finds a
//! failure or the server logged an internal error.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench::{Casework, Server};
use crate::tidy::workspace_root;

/// Pinned so a run is reproducible.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

fn venv() -> Result<std::path::PathBuf> {
    let venv = workspace_root().join("target/fuzz-venv");
    let st = venv.join("bin/schemathesis");
    if !st.exists() {
        let v = venv.display().to_string();
        crate::run("fuzz-api", "python3", &["-m", "venv", &v])?;
        let pip = venv.join("bin/pip").display().to_string();
        crate::run(
            "fuzz-api",
            &pip,
            &[
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SCHEMATHESIS,
            ],
        )?;
    }
    Ok(st)
}

pub fn run(args: &[String]) -> Result<()> {
    let seconds = match args {
        [] => 120,
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds N")?,
        _ => bail!("usage: cargo xtask fuzz-api [--seconds N]"),
    };
    let st = venv()?;
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run("build", &cargo, &["build", "-p", "casework-cli"])?;
    let casework = root.join("target/debug/casework").display().to_string();
    let dir = root.join("target/fuzz-api");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let cw = Casework::new(&casework, &dir.join("cases.db"));
    let store = cw.store.clone();
    // people, a token, and records for the fuzzer to find
    cw.first_admin()?;
    cw.run(&[
        "--as",
        "root",
        "agent",
        "add",
        "Ana Lopez",
        "--role",
        "agent",
        "--email",
        "ana@example.com",
    ])?;
    let token = cw.token("root", "admin")?;
    for title in [
        "Printer offline",
        "Map service fails to publish",
        "Login loop",
    ] {
        cw.run(&[
            "--as",
            "Ana Lopez",
            "case",
            "open",
            "--title",
            title,
            "--description",
            "d",
            "--customer-name",
            "Jordan",
            "--customer-email",
            "jordan@customer.example",
            "--origin",
            "phone",
        ])?;
    }
    cw.run(&[
        "--as",
        "Ana Lopez",
        "article",
        "add",
        "--title",
        "Registering a data store",
        "--body",
        "Steps",
    ])?;
    cw.run(&[
        "--as",
        "Ana Lopez",
        "defect",
        "add",
        "--key",
        "BUG-1",
        "--title",
        "Publishing fails",
        "--state",
        "open",
    ])?;

    let log = std::fs::File::create(dir.join("serve.log"))?;
    let server = Server::start_logged(
        "0",
        &casework,
        &["--store", &store, "serve", "--bind", "127.0.0.1:0"],
        log,
    )?;
    let url = format!("http://{}/openapi.json", server.addr);
    let config = root
        .join("tests/fuzz/schemathesis.toml")
        .display()
        .to_string();
    // the API as an admin, then the storage protocol as a service
    let service = cw.token("svc", "service")?;
    let mut failed = Vec::new();
    for (name, token, filter, share) in [
        ("api", &token, "--exclude-path-regex", 2),
        ("store", &service, "--include-path-regex", 1),
    ] {
        let budget = (seconds * share / 3).max(1).to_string();
        eprintln!("==> fuzz-api: schemathesis ({name}) against {url} for {budget} s");
        let out = Command::new(&st)
            // its cache goes to the working folder: keep it out of the source tree
            .current_dir(&dir)
            .args(["--config-file", &config, "run", &url])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([filter, "^/store/"])
            .args(["--checks", "all", "--workers", "2", "--no-color"])
            .args(["--max-time", &budget])
            .output()
            .context("run schemathesis")?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let report = dir.join(format!("schemathesis-{name}.txt"));
        std::fs::write(&report, &text)?;
        let summary = text.rsplit("SUMMARY").next().unwrap_or(&text).to_string();
        println!("-- {name} (full report: {}){summary}", report.display());
        if !out.status.success() {
            failed.push(name);
        }
    }
    drop(server);
    let internal = std::fs::read_to_string(dir.join("serve.log"))?
        .lines()
        .filter(|l| l.contains("internal error") || l.contains("store failure"))
        .count();
    println!("server log: {internal} internal errors");
    if !failed.is_empty() || internal > 0 {
        bail!("fuzz-api found problems in: {failed:?}");
    }
    Ok(())
}
