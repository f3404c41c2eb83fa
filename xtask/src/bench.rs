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
        Some("http") => http(),
        Some("rest") => rest(),
        _ => bail!(
            "usage: cargo xtask bench store [--cases N]... [--commits N] | cargo xtask bench cli | cargo xtask bench http | cargo xtask bench rest"
        ),
    }
}

/// The REST store's commit throughput against the same SQLite store used directly.
fn rest() -> Result<()> {
    build_release(&["casework-bench"])?;
    let commits = "20000";
    let table = bench_tool(
        &["rest", "--commits", commits],
        &workspace_root().join("target/bench"),
    )?;
    let body = format!(
        "## REST store (`casework-store-rest` through `casework serve`'s `/store/v1`)\n\n\
         Command: `cargo xtask bench rest` — {} on {} (release build; 32 concurrent writers \
         each committing a note to its own cases, {commits} commits; client and server in one \
         process over loopback, sharing its two cores).\n\n{table}",
        today(),
        machine()
    );
    print!("{body}");
    write_section("rest", &body)
}

/// Builds `packages` in release mode.
fn build_release(packages: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build", "--release"];
    for p in packages {
        args.extend(["-p", p]);
    }
    crate::run("build", &cargo, &args)
}

/// Runs the release `casework-bench` with `args` then `--dir DIR`; its standard output.
fn bench_tool(args: &[&str], dir: &std::path::Path) -> Result<String> {
    let out = Command::new(workspace_root().join("target/release/casework-bench"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .with_context(|| format!("run casework-bench {args:?}"))?;
    if !out.status.success() {
        bail!(
            "casework-bench {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
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
    build_release(&["casework-bench", "casework-cli"])?;
    let dir = root.join("target/bench");
    let db = bench_tool(&["dataset", "--cases", "100000"], &dir)?
        .trim()
        .to_string();
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

/// The `casework` program over one SQLite store, for setting up a benchmark or a fuzz run.
pub(crate) struct Casework {
    exe: String,
    /// The store URL.
    pub(crate) store: String,
}

impl Casework {
    /// `exe` over `sqlite://db`.
    pub(crate) fn new(exe: &str, db: &std::path::Path) -> Self {
        Self {
            exe: exe.to_string(),
            store: format!("sqlite://{}", db.display()),
        }
    }

    /// Runs a command; its standard output, or an error with its standard error.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.exe)
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "casework {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Registers `root`, an admin (the first person may be added by anyone).
    pub(crate) fn first_admin(&self) -> Result<()> {
        let root = [
            "agent",
            "add",
            "root",
            "--role",
            "admin",
            "--email",
            "root@example.com",
        ];
        self.run(&root).map(|_| ())
    }

    /// A new token secret for `name` with `role`, made by root.
    pub(crate) fn token(&self, name: &str, role: &str) -> Result<String> {
        let made: serde_json::Value = serde_json::from_str(&self.run(&[
            "--json", "--as", "root", "token", "create", "--name", name, "--role", role,
        ])?)?;
        Ok(made["token"].as_str().context("token")?.to_string())
    }
}

/// A process that printed `listening on http://ADDR` as its first line.
pub(crate) struct Server {
    child: std::process::Child,
    pub(crate) addr: String,
}

impl Server {
    /// Starts `program` pinned to `core` (taskset) and waits for its address.
    pub(crate) fn start(core: &str, program: &str, args: &[&str]) -> Result<Self> {
        Self::start_with(core, program, args, std::process::Stdio::null())
    }

    /// [`Server::start`] with the server's log (stderr) going to `log`.
    pub(crate) fn start_logged(
        core: &str,
        program: &str,
        args: &[&str],
        log: std::fs::File,
    ) -> Result<Self> {
        Self::start_with(core, program, args, log.into())
    }

    fn start_with(
        core: &str,
        program: &str,
        args: &[&str],
        stderr: std::process::Stdio,
    ) -> Result<Self> {
        use std::io::BufRead;
        let mut child = Command::new("taskset")
            .args(["-c", core, program])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {program}"))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut first = String::new();
        std::io::BufReader::new(stdout).read_line(&mut first)?;
        let addr = first
            .strip_prefix("listening on http://")
            .and_then(|r| r.split_whitespace().next())
            .with_context(|| format!("unexpected first line {first:?}"))?
            .to_string();
        Ok(Self { child, addr })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// What one wrk run measured.
struct Wrk {
    rate: f64,
    p99_ms: f64,
    errors: u64,
}

fn parse_ms(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Some(x) = v.strip_suffix("us") {
        return x.parse::<f64>().ok().map(|x| x / 1000.0);
    }
    if let Some(x) = v.strip_suffix("ms") {
        return x.parse().ok();
    }
    v.strip_suffix('s')
        .and_then(|x| x.parse::<f64>().ok())
        .map(|x| x * 1000.0)
}

fn parse_wrk(out: &str) -> Result<Wrk> {
    let rate = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("wrk printed no Requests/sec")?;
    let p99_ms = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(parse_ms)
        .context("wrk printed no 99% latency (use --latency)")?;
    let errors = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(Wrk {
        rate,
        p99_ms,
        errors,
    })
}

fn wrk(url: &str, script: Option<&std::path::Path>) -> Result<Wrk> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "wrk", "-t1", "-c32", "-d10s", "--latency"]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprint!("{text}");
    parse_wrk(&text)
}

/// HTTP scenarios: create case, status change, GET case; server on core 0, wrk on core 1.
fn http() -> Result<()> {
    tool("wrk", "wrk")?;
    let root = workspace_root();
    build_release(&["casework-bench", "casework-cli"])?;
    let dir = root.join("target/bench/http");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let casework = root.join("target/release/casework").display().to_string();
    let bench = root
        .join("target/release/casework-bench")
        .display()
        .to_string();
    let cw = Casework::new(&casework, &dir.join("cases.db"));
    cw.first_admin()?;
    let token = cw.token("root", "admin")?;
    let store = cw.store.clone();

    // baseline: the raw rusqlite create loop at NORMAL, in this run
    let raw: f64 = bench_tool(&["raw-create", "--commits", "20000"], &dir)?
        .trim()
        .parse()
        .context("raw-create rate")?;

    let auth = format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    let create_lua = dir.join("create.lua");
    std::fs::write(
        &create_lua,
        format!(
            "{auth}wrk.method = \"POST\"\nwrk.body = '{{\"title\":\"Bench case\",\"origin\":\"web\",\"customer\":{{\"name\":\"C\",\"email\":\"c@customer.example\"}}}}'\n"
        ),
    )?;
    let get_lua = dir.join("get.lua");
    std::fs::write(&get_lua, &auth)?;

    let server = Server::start(
        "0",
        &casework,
        &["--store", &store, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let base = format!("http://{}", server.addr);
    let create = wrk(&format!("{base}/api/v1/cases"), Some(&create_lua))?;
    // status changes round-robin over the first cases: every request is a real transition
    let cases = 2000.min(create.rate as u64 * 5).max(1);
    let transition_lua = dir.join("transition.lua");
    std::fs::write(
        &transition_lua,
        format!(
            "{auth}counter = 0\nrequest = function()\n  counter = counter + 1\n  local n = (counter % {cases}) + 1\n  local round = math.floor(counter / {cases})\n  local status = (round % 2 == 0) and \"In Progress\" or \"Pending Customer\"\n  return wrk.format(\"POST\", \"/api/v1/cases/\" .. n .. \"/transition\", nil, '{{\"status\":\"' .. status .. '\"}}')\nend\n"
        ),
    )?;
    let status = wrk(&base, Some(&transition_lua))?;
    let get = wrk(&format!("{base}/api/v1/cases/1"), Some(&get_lua))?;
    drop(server);
    let bare_server = Server::start("0", &bench, &["bare", "--bind", "127.0.0.1:0"])?;
    let bare = wrk(&format!("http://{}/case", bare_server.addr), None)?;
    drop(bare_server);

    let body = format!(
        "## HTTP (`casework serve`, SQLite in its default durable mode)\n\nCommand: `cargo xtask bench http` — {} on {} \
         (release build; server pinned to core 0, wrk on core 1: `wrk -t1 -c32 -d10s --latency`).\n\n\
         | Scenario | Rate | p99 | Non-2xx | Ratio |\n|---|---|---|---|---|\n\
         | raw rusqlite create loop, `synchronous=NORMAL`, one transaction per case | {raw:.0}/s | — | — | baseline |\n\
         | `POST /api/v1/cases` (auth, events, search index, `synchronous=FULL`) | {:.0}/s | {:.2} ms | {} | **{:.2}×** raw (target ≥ 1.0×, p99 ≤ 10 ms) |\n\
         | `POST /api/v1/cases/{{n}}/transition` (version-checked update + event) | {:.0}/s | {:.2} ms | {} | **{:.2}×** create (target ≥ 0.8×) |\n\
         | `GET /api/v1/cases/1` through the full stack | {:.0}/s | {:.2} ms | {} | **{:.2}×** bare (target ≥ 0.6×) |\n\
         | bare axum handler returning constant JSON | {:.0}/s | {:.2} ms | {} | baseline |\n",
        today(),
        machine(),
        create.rate,
        create.p99_ms,
        create.errors,
        create.rate / raw,
        status.rate,
        status.p99_ms,
        status.errors,
        status.rate / create.rate,
        get.rate,
        get.p99_ms,
        get.errors,
        get.rate / bare.rate,
        bare.rate,
        bare.p99_ms,
        bare.errors,
    );
    print!("{body}");
    write_section("http", &body)
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
    build_release(&["casework-bench"])?;
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
        let text = bench_tool(&["store", "--cases", n, "--commits", &commits], &dir)?;
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
    fn wrk_output_is_parsed() {
        let out = "Running 10s test\n  Latency Distribution\n     50%  1.20ms\n     99%  850.00us\n  Non-2xx or 3xx responses: 3\nRequests/sec:  12345.67\n";
        let w = super::parse_wrk(out).unwrap();
        assert_eq!((w.rate, w.p99_ms, w.errors), (12345.67, 0.85, 3));
        assert_eq!(super::parse_ms("1.5s"), Some(1500.0));
        assert!(super::parse_wrk("nothing").is_err());
    }

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
