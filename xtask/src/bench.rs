//! `cargo xtask bench`: builds the bench binary in release mode, runs a scenario family, and
//! writes its figures into docs/benchmarks.md between markers, with the command and machine.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::tidy::workspace_root;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

fn today() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Replaces the text between `<!-- begin NAME -->` and `<!-- end NAME -->`, or appends it.
fn splice(doc: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- begin {name} -->");
    let end = format!("<!-- end {name} -->");
    let section = format!("{begin}\n{body}\n{end}");
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{section}{}", &doc[..b], &doc[e + end.len()..]),
        _ => format!("{}\n\n{section}\n", doc.trim_end()),
    }
}

fn write_section(name: &str, body: &str) -> Result<()> {
    let path = workspace_root().join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nEvery figure is a ratio against a baseline measured in the same run, on \
         the machine named with it; absolute times drift between runs on shared 2-core machines.\n"
            .into()
    });
    std::fs::write(&path, splice(&doc, name, body.trim_end()))?;
    eprintln!("==> wrote {}", path.display());
    Ok(())
}

/// `cargo xtask bench store [--cases N]... [--commits N]` or `cargo xtask bench cli`
pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("store") => store(args),
        Some("cli") => cli(),
        _ => bail!(
            "usage: cargo xtask bench store [--cases N]... [--commits N] | cargo xtask bench cli"
        ),
    }
}

fn tool(name: &str, package: &str) -> Result<()> {
    if Command::new(name).arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("==> installing {package} (apt-get)");
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("apt-get update -qq && apt-get install -y -qq {package}"),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!("{name} is needed: apt-get install {package}");
    }
    Ok(())
}

/// `casework case show N` as a whole process against `sqlite3 DB 'select …'`, with hyperfine.
fn cli() -> Result<()> {
    tool("hyperfine", "hyperfine")?;
    tool("sqlite3", "sqlite3")?;
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(
        "build",
        &cargo,
        &[
            "build",
            "--release",
            "-p",
            "casework-bench",
            "-p",
            "casework-cli",
        ],
    )?;
    let dir = root.join("target/bench");
    let out = Command::new(root.join("target/release/casework-bench"))
        .args(["dataset", "--cases", "100000", "--dir"])
        .arg(&dir)
        .output()
        .context("run casework-bench dataset")?;
    if !out.status.success() {
        bail!(
            "casework-bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = String::from_utf8(out.stdout)?.trim().to_string();
    let casework = root.join("target/release/casework").display().to_string();
    let store = format!("sqlite://{db}");
    // someone to act as (the generated store has no people yet; adding the first is allowed)
    let _ = Command::new(&casework)
        .args([
            "--store",
            &store,
            "agent",
            "add",
            "bench",
            "--role",
            "admin",
            "--email",
            "bench@example.com",
        ])
        .output();
    let show = format!("{casework} --store {store} --as bench case show 50000");
    let raw = format!("sqlite3 {db} 'select state from cases where number = 50000'");
    let json = dir.join("cli.json");
    crate::run(
        "hyperfine",
        "hyperfine",
        &[
            "--warmup",
            "5",
            "--runs",
            "60",
            "-N",
            "--export-json",
            &json.display().to_string(),
            &show,
            &raw,
        ],
    )?;
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let mean = |i: usize| report["results"][i]["mean"].as_f64().unwrap_or(f64::NAN);
    let stddev = |i: usize| report["results"][i]["stddev"].as_f64().unwrap_or(f64::NAN);
    let (c, s) = (mean(0), mean(1));
    let body = format!(
        "## CLI (`casework case show N` as a whole process)\n\nCommand: `cargo xtask bench cli` — {} on {} \
         (release build, hyperfine, 5 warm-up and 60 measured runs each, 100,000-case store).\n\n\
         | Command | Mean | ± | Ratio |\n|---|---|---|---|\n\
         | `casework --store sqlite://store-100000.db --as bench case show 50000` | {:.2} ms | {:.2} ms | **{:.2}×** the sqlite3 time (target ≤ 2×) |\n\
         | `sqlite3 store-100000.db 'select state from cases where number = 50000'` | {:.2} ms | {:.2} ms | baseline |\n",
        today(),
        machine(),
        c * 1000.0,
        stddev(0) * 1000.0,
        c / s,
        s * 1000.0,
        stddev(1) * 1000.0,
    );
    print!("{body}");
    write_section("cli", &body)
}

fn store(args: &[String]) -> Result<()> {
    let mut cases = Vec::new();
    let mut commits = "20000".to_string();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cases" => cases.push(it.next().context("--cases needs a number")?.clone()),
            "--commits" => commits = it.next().context("--commits needs a number")?.clone(),
            other => bail!("unknown option {other}"),
        }
    }
    if cases.is_empty() {
        cases = vec!["100000".into(), "1000000".into()];
    }
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(
        "build bench",
        &cargo,
        &["build", "--release", "-p", "casework-bench"],
    )?;
    let exe = root.join("target/release/casework-bench");
    let dir = root.join("target/bench");
    let mut body = format!(
        "## Store (`casework-store-sqlite`)\n\nCommand: `cargo xtask bench store{}` — {} on {} ({}).\n\
         Each ratio compares runs made in the same invocation.\n\n",
        args[1..]
            .iter()
            .map(|a| format!(" {a}"))
            .collect::<String>(),
        today(),
        machine(),
        "release build"
    );
    for n in &cases {
        eprintln!("==> bench store: {n} cases");
        let out = Command::new(&exe)
            .args(["store", "--cases", n, "--commits", &commits, "--dir"])
            .arg(&dir)
            .output()
            .context("run casework-bench")?;
        if !out.status.success() {
            bail!(
                "casework-bench failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8(out.stdout)?;
        print!("{text}");
        body.push_str(&format!(
            "### {n} cases\n\n{}",
            text.replace("### ", "#### ")
        ));
    }
    write_section("store", &body)
}

#[cfg(test)]
mod tests {
    use super::splice;

    #[test]
    fn sections_are_replaced_in_place_or_appended() {
        let doc = "# B\n\n<!-- begin store -->\nold\n<!-- end store -->\n\ntail\n";
        assert_eq!(
            splice(doc, "store", "new"),
            "# B\n\n<!-- begin store -->\nnew\n<!-- end store -->\n\ntail\n"
        );
        assert_eq!(
            splice("# B\n", "http", "x"),
            "# B\n\n<!-- begin http -->\nx\n<!-- end http -->\n"
        );
    }
}
