//! Project automation: `cargo xtask ci` is the one command that proves a change.
//!
//! - `cargo xtask ci`    — fmt check, clippy `-D warnings`, every test with `CI=true`
//!   (insta refuses to write new snapshots), and the tidy invariants (they are tests).
//! - `cargo xtask tidy`  — only the architecture and style invariants.
//! - `cargo xtask openapi` — rewrites `docs/openapi.json` from the code (`casework openapi`);
//!   a test fails while the committed file is stale.
//! - `cargo xtask fuzz-api [--seconds N]` — schemathesis (PyPI) against `casework serve`.
//! - `cargo xtask test-env` — the Python virtual environment (`target/test-venv`, pinned
//!   packages from PyPI) in which the email tests run a real SMTP server and the OpenAPI
//!   tests run openapi-spec-validator and openapi-python-client; `ci` makes it when missing.
//! - `cargo xtask bench store [--cases N]...` — the store benchmarks in release mode, one run
//!   per case count (default 100000 and 1000000); figures go into docs/benchmarks.md.
//! - `cargo xtask bench cli` — `casework case show` as a whole process, with hyperfine.
//! - `cargo xtask bench http` — create, status change and GET over `casework serve`, with wrk.
//! - `cargo xtask bench import` — `casework import` (NDJSON, Zendesk, Salesforce) against a
//!   raw rusqlite loop writing the same rows.
//! - `cargo xtask bench web` — the desk's case page (200 timeline entries) against
//!   `GET /api/v1/cases/{n}` of the same case, with wrk.
//! - `cargo xtask bench mail` — 10,000 messages from a Maildir through the ingestion
//!   pipeline into SQLite, against parse-only with the same parser.
//! - `cargo xtask screenshots` — runs the browser test (headless Chromium) and writes its
//!   screenshots, shrunk with pngquant, to `docs/screenshots/` for the README.

mod bench;
mod bench_web;
mod fuzz;
mod tidy;

use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test-env") => test_env(),
        Some("openapi") => openapi(),
        Some("fuzz-api") => fuzz::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("screenshots") => screenshots(),
        Some("tidy") => {
            let problems = tidy::check_all(&tidy::workspace_root())?;
            if problems.is_empty() {
                println!("tidy: all invariants hold");
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("tidy: {p}");
                }
                bail!("{} tidy problem(s)", problems.len())
            }
        }
        _ => {
            eprintln!("usage: cargo xtask <ci|tidy|bench>");
            eprintln!(
                "  ci    fmt check, clippy -D warnings, all tests (CI=true), tidy invariants"
            );
            eprintln!("  tidy  architecture and style invariants only");
            eprintln!("  test-env  the Python environment the email tests' SMTP server runs in");
            eprintln!("  openapi   rewrite docs/openapi.json from the code");
            eprintln!(
                "  screenshots  the browser test's screenshots, shrunk into docs/screenshots"
            );
            eprintln!("  fuzz-api [--seconds N]  schemathesis against a served instance");
            eprintln!(
                "  bench store [--cases N]...  store benchmarks, written to docs/benchmarks.md"
            );
            std::process::exit(1);
        }
    }
}

/// Rewrites docs/openapi.json with what `casework openapi` prints.
fn openapi() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["run", "--quiet", "-p", "casework-cli", "--", "openapi"])
        .current_dir(tidy::workspace_root())
        .output()
        .context("cannot run casework openapi")?;
    if !out.status.success() {
        bail!(
            "casework openapi failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = tidy::workspace_root().join("docs/openapi.json");
    std::fs::write(&path, &out.stdout)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {} ({} bytes)", path.display(), out.stdout.len());
    Ok(())
}

/// Runs the browser test, which saves its screenshots under `target/screenshots/`, then
/// writes each one, shrunk with pngquant (Debian's package, installed when missing) to a
/// palette of at most 256 colours, to `docs/screenshots/`.
fn screenshots() -> Result<()> {
    let root = tidy::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shots = root.join("target/screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    run(
        "screenshots",
        &cargo,
        &[
            "test",
            "-p",
            "casework-e2e",
            "--test",
            "e2e",
            "--",
            "browser::",
        ],
    )?;
    if Command::new("pngquant").arg("--version").output().is_err() {
        run(
            "screenshots",
            "apt-get",
            &["install", "-y", "-qq", "pngquant"],
        )?;
    }
    let docs = root.join("docs/screenshots");
    std::fs::create_dir_all(&docs).with_context(|| format!("cannot create {}", docs.display()))?;
    let mut names: Vec<_> = std::fs::read_dir(&shots)
        .with_context(|| format!("the browser test wrote no {}", shots.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    names.sort();
    for shot in names {
        let Some(name) = shot.file_name() else {
            continue;
        };
        let out = docs.join(name);
        let status = Command::new("pngquant")
            .args([
                "--quality=70-95",
                "--speed=1",
                "--strip",
                "--force",
                "--output",
            ])
            .arg(&out)
            .arg(&shot)
            .status()
            .context("cannot run pngquant")?;
        if !status.success() {
            // pngquant refuses when it cannot meet the quality: keep the original
            std::fs::copy(&shot, &out)
                .with_context(|| format!("cannot copy {}", shot.display()))?;
        }
        let before = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        let after = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        println!(
            "{}: {} KiB -> {} KiB",
            out.display(),
            before / 1024,
            after / 1024
        );
    }
    Ok(())
}

/// The test environment's Python packages, pinned: aiosmtpd is the SMTP server the email
/// tests deliver to; openapi-spec-validator and openapi-python-client check that the served
/// OpenAPI document validates and generates a complete client (`tests/e2e/openapi.rs`).
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("aiosmtpd", "1.4.6"),
    ("openapi-spec-validator", "0.9.0"),
    ("openapi-python-client", "0.29.1"),
    ("standardwebhooks", "1.1.0"),
];

/// Makes `target/test-venv` with [`TEST_PACKAGES`] unless it has them already.
fn test_env() -> Result<()> {
    let venv = tidy::workspace_root().join("target/test-venv");
    let python = venv.join("bin/python");
    let check = TEST_PACKAGES
        .iter()
        .map(|(name, version)| format!("m.version({name:?}) == {version:?}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let ready = python.exists()
        && Command::new(&python)
            .args([
                "-c",
                &format!("import importlib.metadata as m, sys; sys.exit(0 if {check} else 1)"),
            ])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Ok(());
    }
    let pins: Vec<String> = TEST_PACKAGES
        .iter()
        .map(|(name, version)| format!("{name}=={version}"))
        .collect();
    let venv_text = venv.display().to_string();
    if !python.exists() {
        run("test-env", "python3", &["-m", "venv", &venv_text])?;
    }
    let python_text = python.display().to_string();
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    args.extend(pins.iter().map(String::as_str));
    run("test-env", &python_text, &args)
}

pub(crate) fn run(step: &str, program: &str, args: &[&str]) -> Result<()> {
    eprintln!("==> {step}: {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(tidy::workspace_root())
        .env("CI", "true")
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

fn ci() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run("format", &cargo, &["fmt", "--all", "--check"])?;
    run(
        "clippy",
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    test_env()?;
    run("tests", &cargo, &["test", "--workspace", "--all-features"])?;
    eprintln!("==> ci: all green");
    Ok(())
}
