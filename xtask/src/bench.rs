//! `cargo xtask bench`: builds the bench binary in release mode, runs a scenario family, and
//! writes its figures into docs/benchmarks.md between markers, with the command and machine.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::tidy::workspace_root;

pub(crate) fn machine() -> String {
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

pub(crate) fn today() -> String {
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

pub(crate) fn write_section(name: &str, body: &str) -> Result<()> {
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

/// `cargo xtask bench store [--cases N]... [--commits N]`, `cli`, `http`, `rest`, `feed`,
/// `import`, `webhooks`, `mail`, `search [--cases N]...`, `reports [--cases N]...` or `web`
pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("store") => store(args),
        Some("cli") => cli(),
        Some("http") => http(),
        Some("rest") => rest(),
        Some("postgres") => postgres(args),
        Some("feed") => feed(),
        Some("import") => import(),
        Some("webhooks") => webhooks(),
        Some("mail") => mail(),
        Some("search") => search(args),
        Some("reports") => reports(args),
        Some("web") => crate::bench_web::web(),
        Some("memory") => memory(args),
        _ => bail!(
            "usage: cargo xtask bench store [--cases N]... [--commits N] | cargo xtask bench cli | cargo xtask bench http | cargo xtask bench rest | cargo xtask bench postgres [--cases N]... | cargo xtask bench feed | cargo xtask bench import | cargo xtask bench webhooks | cargo xtask bench mail | cargo xtask bench search [--cases N]... | cargo xtask bench reports [--cases N]... | cargo xtask bench web | cargo xtask bench memory [--cases N]..."
        ),
    }
}

/// The reopen report and its drill-down on the synthetic SQLite stores (made if missing,
/// under `target/bench`) against the scan every call made before schema 17.
fn reports(args: &[String]) -> Result<()> {
    let cases = case_counts(args, &["100000", "1000000"])?;
    build_release()?;
    let mut body = format!(
        "## Reopen report (`casework-store-sqlite`, live aggregates)\n\n\
         Command: `cargo xtask bench reports{}` — {} on {} (release build; the store's \
         `reopen_report` and `reopen_report_cases` in process against the statements every \
         call ran before schema 17, on the same file in the same run, each answer checked \
         equal to the scan's; target p95 ≤ 50 ms at 1M cases).\n\n",
        options(args),
        today(),
        machine()
    );
    for n in &cases {
        eprintln!("==> bench reports: {n} cases");
        let text = bench_tool(
            &["reports", "--cases", n],
            &workspace_root().join("target/bench"),
        )?;
        print!("{text}");
        body.push_str(&text);
        body.push('\n');
    }
    write_section("reports", &body)
}

/// The REST store's commit throughput against the same SQLite store used directly.
fn rest() -> Result<()> {
    build_release()?;
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

/// The change feed's catch-up over 1M events against reading the events table directly.
fn feed() -> Result<()> {
    build_release()?;
    let table = bench_tool(
        &["feed", "--events", "1000000"],
        &workspace_root().join("target/bench"),
    )?;
    let body = format!(
        "## Change feed\n\n\
         Command: `cargo xtask bench feed` — {} on {} (release build; SQLite store of synthetic \
         cases imported until it holds 1,000,000 events; each read runs twice, the second is \
         measured, so both read a warm page cache).\n\n{table}",
        today(),
        machine()
    );
    print!("{body}");
    write_section("feed", &body)
}

/// Inbound mail: 10,000 messages from a Maildir through the ingestion pipeline into SQLite,
/// against parsing alone with the same parser in the same run.
fn mail() -> Result<()> {
    build_release()?;
    let table = bench_tool(
        &["mail", "--messages", "10000"],
        &workspace_root().join("target/bench"),
    )?;
    let body = format!(
        "## Inbound mail\n\n\
         Command: `cargo xtask bench mail` — {} on {} (release build; a generated Maildir of \
         realistic messages, read into memory before each run; ingestion is \
         `CaseService::ingest_or_keep`, what `mail ingest`, the IMAP poller and the webhook \
         call: parse, thread, decide, commit, into a fresh SQLite file in its default durable \
         mode, with the default workflow file, so its per-sender limit keeps some of a busy \
         sender's mail in the quarantine).\n\n{table}",
        today(),
        machine()
    );
    print!("{body}");
    write_section("mail", &body)
}

/// `casework import` (NDJSON with opening events; Zendesk and Salesforce) against a raw
/// rusqlite loop writing the same rows in one transaction.
fn import() -> Result<()> {
    build_release()?;
    let casework = workspace_root().join("target/release/casework");
    let table = bench_tool(
        &[
            "import",
            "--cases",
            "200000",
            "--others",
            "50000",
            "--casework",
            &casework.display().to_string(),
        ],
        &workspace_root().join("target/bench"),
    )?;
    let body = format!(
        "## Import\n\n\
         Command: `cargo xtask bench import` — {} on {} (release build; the real `casework \
         import` as a process into a fresh SQLite file in its default durable mode; synthetic \
         cases; the raw loop runs in the benchmark's process).\n\n{table}",
        today(),
        machine()
    );
    print!("{body}");
    write_section("import", &body)
}

/// Case creates with 10 webhook endpoints against none, in the same run.
fn webhooks() -> Result<()> {
    build_release()?;
    let creates = "20000";
    let table = bench_tool(
        &["webhooks", "--creates", creates],
        &workspace_root().join("target/bench"),
    )?;
    let body = format!(
        "## Webhook fan-out\n\n\
         Command: `cargo xtask bench webhooks` — {} on {} (release build; SQLite store in its \
         default durable mode, group commit; two fresh stores, one with 10 endpoints that \
         receive every event; after a warm-up of 1000 creates on each, two runs of each \
         alternate and the better of each is kept; the run checks every endpoint holds one \
         delivery per create).\n\n{table}",
        today(),
        machine()
    );
    print!("{body}");
    write_section("webhooks", &body)
}

/// The packages every bench builds, always together: a release build of one of them alone
/// unifies features differently (the TLS crates), so building another set in between would
/// rebuild them each time.
const BENCH_PACKAGES: [&str; 2] = ["casework-bench", "casework-cli"];

/// Builds the bench tool and the `casework` binary in release mode ([`BENCH_PACKAGES`]).
pub(crate) fn build_release() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build", "--release"];
    for p in BENCH_PACKAGES {
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

pub(crate) fn tool(name: &str, package: &str) -> Result<()> {
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
    build_release()?;
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
        Self::at(exe, &format!("sqlite://{}", db.display()))
    }

    /// `exe` over the store at `url`.
    pub(crate) fn at(exe: &str, url: &str) -> Self {
        Self {
            exe: exe.to_string(),
            store: url.to_string(),
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

impl Server {
    /// The server's process id (taskset runs the program in its own process).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
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
pub(crate) struct Wrk {
    pub(crate) rate: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: u64,
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
    wrk_with(url, script, 32)
}

/// wrk with `connections` connections, pinned to core 1.
pub(crate) fn wrk_with(
    url: &str,
    script: Option<&std::path::Path>,
    connections: u32,
) -> Result<Wrk> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "wrk", "-t1", "--latency", "-d10s"])
        .arg(format!("-c{connections}"));
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprint!("{text}");
    parse_wrk(&text)
}

/// The wrk scripts of the HTTP scenarios, with a token.
struct Scripts {
    dir: std::path::PathBuf,
    auth: String,
    create: std::path::PathBuf,
    get: std::path::PathBuf,
}

impl Scripts {
    fn write(dir: &std::path::Path, token: &str) -> Result<Self> {
        let auth = format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        );
        let create = dir.join("create.lua");
        std::fs::write(
            &create,
            format!(
                "{auth}wrk.method = \"POST\"\nwrk.body = '{{\"title\":\"Bench case\",\"origin\":\"web\",\"customer\":{{\"name\":\"C\",\"email\":\"c@customer.example\"}}}}'\n"
            ),
        )?;
        let get = dir.join("get.lua");
        std::fs::write(&get, &auth)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            auth,
            create,
            get,
        })
    }

    /// Status changes round-robin over the first `cases` cases: every request is a real
    /// transition.
    fn transition(&self, cases: u64) -> Result<std::path::PathBuf> {
        let auth = &self.auth;
        let path = self.dir.join("transition.lua");
        std::fs::write(
            &path,
            format!(
                "{auth}counter = 0\nrequest = function()\n  counter = counter + 1\n  local n = (counter % {cases}) + 1\n  local round = math.floor(counter / {cases})\n  local status = (round % 2 == 0) and \"In Progress\" or \"Pending Customer\"\n  return wrk.format(\"POST\", \"/api/v1/cases/\" .. n .. \"/transition\", nil, '{{\"status\":\"' .. status .. '\"}}')\nend\n"
            ),
        )?;
        Ok(path)
    }
}

/// Create, then status changes over the cases created, then GET, against one server.
fn create_status_get(server: &Server, scripts: &Scripts) -> Result<(Wrk, Wrk, Wrk)> {
    let base = format!("http://{}", server.addr);
    let create = wrk(&format!("{base}/api/v1/cases"), Some(&scripts.create))?;
    let cases = 2000.min(create.rate as u64 * 5).max(1);
    let status = wrk(&base, Some(&scripts.transition(cases)?))?;
    let get = wrk(&format!("{base}/api/v1/cases/1"), Some(&scripts.get))?;
    Ok((create, status, get))
}

/// HTTP scenarios: create case, status change, GET case; server on core 0, wrk on core 1.
fn http() -> Result<()> {
    tool("wrk", "wrk")?;
    let root = workspace_root();
    build_release()?;
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

    let scripts = Scripts::write(&dir, &token)?;
    let server = Server::start(
        "0",
        &casework,
        &["--store", &store, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let (create, status, get) = create_status_get(&server, &scripts)?;
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

/// Runs the release `casework-bench` with `args`; its standard output.
fn bench_bin(args: &[&str]) -> Result<String> {
    let out = Command::new(workspace_root().join("target/release/casework-bench"))
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("run casework-bench {args:?}"))?;
    if !out.status.success() {
        bail!("casework-bench {args:?} failed");
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Two wrk runs at once, one per server, `connections / 2` each; rates summed, the worse
/// p99 and the errors of both.
fn wrk_pair(urls: [&str; 2], script: &std::path::Path, connections: u32) -> Result<Wrk> {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| wrk_with(urls[0], Some(script), connections / 2));
        let b = s.spawn(|| wrk_with(urls[1], Some(script), connections / 2));
        (a.join(), b.join())
    });
    let (a, b) = (
        a.map_err(|_| anyhow::anyhow!("wrk thread"))??,
        b.map_err(|_| anyhow::anyhow!("wrk thread"))??,
    );
    Ok(Wrk {
        rate: a.rate + b.rate,
        p99_ms: a.p99_ms.max(b.p99_ms),
        errors: a.errors + b.errors,
    })
}

/// A SQL string literal.
fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `pgbench` inserting what one create writes (case row, event, title search row), one
/// transaction per case, 32 clients on core 1: cases per second.
fn pgbench_creates(
    cluster: &casework_test_postgres::Cluster,
    casework: &str,
    dir: &std::path::Path,
) -> Result<f64> {
    let url = cluster.fresh_database("raw").map_err(anyhow::Error::msg)?;
    let db = url.rsplit('/').next().context("database name")?.to_string();
    // the schema, and one real case whose rows the script copies
    let cw = Casework::at(casework, &url);
    cw.first_admin()?;
    cw.run(&[
        "--as",
        "root",
        "case",
        "open",
        "--title",
        "Bench case",
        "--description",
        "",
        "--customer-name",
        "C",
        "--customer-email",
        "c@customer.example",
        "--origin",
        "web",
    ])?;
    let get = |sql: &str| cluster.psql(&db, sql).map_err(anyhow::Error::msg);
    let state = get("SELECT state::text FROM cases WHERE number = 1")?;
    let event = get("SELECT body::text FROM events WHERE case_number = 1")?;
    let tsv = get("SELECT tsv::text FROM search_public WHERE kind = 'case' AND doc = 1")?;
    let script = dir.join("create.sql");
    std::fs::write(
        &script,
        format!(
            "BEGIN;\n\
             INSERT INTO cases (number, version, status, status_category, owner, customer_email, product_area, primary_resolution, reopen_count, settled_after, state) \
             VALUES (nextval('case_numbers'), 1, 'New', 'open', NULL, 'c@customer.example', NULL, NULL, 0, pg_current_xact_id(), {}::jsonb);\n\
             INSERT INTO events (case_number, seq, kind, body) VALUES (currval('case_numbers'), 1, 'opened', {}::jsonb);\n\
             INSERT INTO search_public (kind, doc, seq, customer, tsv) VALUES ('case', currval('case_numbers'), 0, 'c@customer.example', {}::tsvector);\n\
             END;\n",
            sql_quote(&state),
            sql_quote(&event),
            sql_quote(&tsv)
        ),
    )?;
    let out = Command::new("taskset")
        .args(["-c", "1"])
        .arg(cluster.bin_dir().join("pgbench"))
        .args(["-n", "-c", "32", "-j", "1", "-T", "10", "-f"])
        .arg(&script)
        .args(["-h", "127.0.0.1", "-p", &cluster.port().to_string()])
        .args(["-U", "casework", &db])
        .output()
        .context("run pgbench")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprint!("{text}{}", String::from_utf8_lossy(&out.stderr));
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("pgbench printed no tps")
}

/// `cargo xtask bench postgres [--cases N]...`: over HTTP, create with one and two
/// `casework serve` processes on PostgreSQL, one on SQLite and `pgbench` inserting the same
/// rows; status change and GET on PostgreSQL; then similar cases (and the reopen report)
/// at each size (default 100000) against the raw query with the same terms. The server it
/// starts is durable (`fsync` on) and gone afterwards.
fn postgres(args: &[String]) -> Result<()> {
    let sizes = case_counts(args, &["100000"])?;
    tool("wrk", "wrk")?;
    let root = workspace_root();
    build_release()?;
    let dir = root.join("target/bench/pg");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut opts = casework_test_postgres::Options::new("bench");
    opts.dir = Some(dir.clone());
    opts.durable = true;
    opts.lifetime = std::time::Duration::from_secs(8 * 3600);
    opts.settings = vec![
        ("shared_buffers".into(), "'1GB'".into()),
        ("work_mem".into(), "'16MB'".into()),
        ("maintenance_work_mem".into(), "'256MB'".into()),
        ("max_wal_size".into(), "'4GB'".into()),
    ];
    let cluster = casework_test_postgres::Cluster::start(opts).map_err(anyhow::Error::msg)?;
    let casework = root.join("target/release/casework").display().to_string();
    let fresh = |name: &str| cluster.fresh_database(name).map_err(anyhow::Error::msg);

    // one server on PostgreSQL: create, status change, GET
    let url = fresh("http1")?;
    let cw = Casework::at(&casework, &url);
    cw.first_admin()?;
    let scripts = Scripts::write(&dir, &cw.token("root", "admin")?)?;
    let server = Server::start(
        "0",
        &casework,
        &["--store", &url, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let (create1, status, get) = create_status_get(&server, &scripts)?;
    drop(server);

    // two servers on one database, the same 32 connections split between them
    let url = fresh("http2")?;
    let cw = Casework::at(&casework, &url);
    cw.first_admin()?;
    let scripts2 = Scripts::write(&folder(dir.join("two"))?, &cw.token("root", "admin")?)?;
    let a = Server::start(
        "0",
        &casework,
        &["--store", &url, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let b = Server::start(
        "0",
        &casework,
        &["--store", &url, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let (ua, ub) = (
        format!("http://{}/api/v1/cases", a.addr),
        format!("http://{}/api/v1/cases", b.addr),
    );
    let create2 = wrk_pair([&ua, &ub], &scripts2.create, 32)?;
    drop((a, b));

    // the same on SQLite, in this run
    let sqlite_dir = folder(dir.join("sqlite"))?;
    let cw = Casework::new(&casework, &sqlite_dir.join("cases.db"));
    cw.first_admin()?;
    let scripts3 = Scripts::write(&sqlite_dir, &cw.token("root", "admin")?)?;
    let server = Server::start(
        "0",
        &casework,
        &["--store", &cw.store, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let sqlite = wrk(
        &format!("http://{}/api/v1/cases", server.addr),
        Some(&scripts3.create),
    )?;
    drop(server);

    // the raw baseline: pgbench inserting the same rows
    let raw = pgbench_creates(&cluster, &casework, &dir)?;

    let mut body = format!(
        "## PostgreSQL (`casework-store-postgres`)\n\nCommand: `cargo xtask bench postgres{}` — {} on {} \
         (release build; PostgreSQL 15 from Debian, durable: `fsync` and `synchronous_commit` on, \
         `shared_buffers` 1 GB; every `casework serve` pinned to core 0, wrk and pgbench to core 1, \
         PostgreSQL's own processes on either core).\n\n\
         ### Over HTTP (32 connections, 10 s each)\n\n\
         | Scenario | Rate | p99 | Non-2xx | Ratio |\n|---|---|---|---|---|\n\
         | `pgbench`, 32 clients: the rows of one create (case, event, search row), one transaction each | {raw:.0}/s | — | — | baseline |\n\
         | `POST /api/v1/cases`, one `casework serve` on PostgreSQL | {:.0}/s | {:.2} ms | {} | **{:.2}×** pgbench |\n\
         | `POST /api/v1/cases`, two `casework serve` on one database (16 connections each) | {:.0}/s | {:.2} ms | {} | **{:.2}×** pgbench, **{:.2}×** one server |\n\
         | `POST /api/v1/cases`, one `casework serve` on SQLite (`synchronous=FULL`) | {:.0}/s | {:.2} ms | {} | PostgreSQL = **{:.2}×** SQLite |\n\
         | `POST /api/v1/cases/{{n}}/transition` on PostgreSQL | {:.0}/s | {:.2} ms | {} | **{:.2}×** create |\n\
         | `GET /api/v1/cases/1` on PostgreSQL | {:.0}/s | {:.2} ms | {} | **{:.2}×** create |\n\n\
         What limits it here: every create is its own transaction ending in a WAL flush \
         (about 3.4 ms on this disk by `pg_test_fsync`); PostgreSQL lets concurrent commits share \
         a flush, which is what 32 connections buy. pgbench sends the same inserts with nothing \
         else to do; `casework serve` also parses, authenticates, decides, takes the number \
         under its short lock and answers. SQLite's writer gathers many creates into one \
         transaction and one flush inside the server's process, with no socket per statement. \
         On 2 cores two servers cannot be faster than one: both are pinned to core 0 and share \
         it, PostgreSQL's processes take what is left of both cores, and the load generator \
         needs core 1. What a second server adds here is availability (a server killed \
         mid-load loses nothing acknowledged, the other goes on: `tests/e2e/postgres.rs`); on a \
         machine with more cores, CPU for HTTP and JSON, which is where one server spends most.\n\n",
        options(args),
        today(),
        machine(),
        create1.rate,
        create1.p99_ms,
        create1.errors,
        create1.rate / raw,
        create2.rate,
        create2.p99_ms,
        create2.errors,
        create2.rate / raw,
        create2.rate / create1.rate,
        sqlite.rate,
        sqlite.p99_ms,
        sqlite.errors,
        create1.rate / sqlite.rate,
        status.rate,
        status.p99_ms,
        status.errors,
        status.rate / create1.rate,
        get.rate,
        get.p99_ms,
        get.errors,
        get.rate / create1.rate,
    );
    for n in &sizes {
        eprintln!("==> bench postgres: {n} cases");
        let url = fresh(&format!("similar_{n}"))?;
        let loaded = bench_bin(&["pg-dataset", "--url", &url, "--cases", n])?;
        let text = bench_bin(&["pg-similar", "--url", &url, "--cases", n])?;
        body.push_str(&format!(
            "### Similar cases and the reopen report, {n} cases\n\nData set {}.\n\n{text}\n",
            loaded.trim()
        ));
    }
    body.push_str(
        "What similar cases cost: GIN finds the rows holding any chosen term, then every such \
         row is read from the heap (its document and its `tsvector`) and ranked with `ts_rank`, \
         so the time follows the postings of the chosen terms, not the size of the store. Core \
         already prunes before ranking: only terms held by at most 1% of documents, rarest \
         first, at most 2,000 postings in all and no term alone over it. The store adds one \
         round trip for the case's texts and the title lookups of the ten hits; document \
         frequencies are counted only up to where a term stops being chosen (a portal read a \
         batch at a time) and cached. Parallel \
         workers are off for these reads (their start-up cost more than such a query on 2 \
         cores), and the GIN indexes keep a small pending list, so new rows do not slow \
         lookups until a vacuum.\n",
    );
    print!("{body}");
    drop(cluster);
    write_section("postgres", &body)
}

/// A subcommand's options as typed, for the command line a section quotes.
fn options(args: &[String]) -> String {
    args[1..].iter().map(|a| format!(" {a}")).collect()
}

/// The `--cases N` options of a subcommand (its only option), or `default`.
fn case_counts(args: &[String], default: &[&str]) -> Result<Vec<String>> {
    let mut cases = Vec::new();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cases" => cases.push(it.next().context("--cases needs a number")?.clone()),
            other => bail!("unknown option {other}"),
        }
    }
    if cases.is_empty() {
        cases = default.iter().map(|c| c.to_string()).collect();
    }
    Ok(cases)
}

/// `cargo xtask bench search [--cases N]...` (100,000 and 1,000,000 by default): keyword
/// queries through `casework serve` on a synthetic store (server on core 0, the clients on
/// core 1), against `GET /api/v1/cases/{n}` in the same run. A data set over 5 GB is
/// deleted afterwards.
fn search(args: &[String]) -> Result<()> {
    let cases = case_counts(args, &["100000", "1000000"])?;
    build_release()?;
    let mut body = format!(
        "## Search (`casework serve` on SQLite)\n\n\
         Command: `cargo xtask bench search{}` — {} on {} (release build; server pinned to \
         core 0, the clients on core 1; each query 200 times from one client, then 10 times \
         from each of 32 clients at once, after one warm-up pass; the baseline is \
         `GET /api/v1/cases/{{n}}` in the same run).\n\n",
        options(args),
        today(),
        machine(),
    );
    for n in &cases {
        eprintln!("==> bench search: {n} cases");
        let (text, db) = against_a_served_dataset("search", n)?;
        print!("{text}");
        body.push_str(&text);
        let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        if size > 5_000_000_000 {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            eprintln!("==> removed {} ({} MB)", db.display(), size / 1_000_000);
        }
    }
    write_section("search", &body)
}

/// `cargo xtask bench memory [--cases N]...` (100,000 and 1,000,000 by default): the
/// resident memory of `casework serve` over a synthetic store, phase by phase (server on
/// core 0, 32 clients on core 1), against the 64 MiB target.
fn memory(args: &[String]) -> Result<()> {
    let cases = case_counts(args, &["100000", "1000000"])?;
    build_release()?;
    let mut body = format!(
        "## Memory (`casework serve` on SQLite)\n\n\
         Command: `cargo xtask bench memory{}` — {} on {} (release build; server pinned to \
         core 0, 32 clients on core 1; `VmRSS` of the server after each phase; the store is \
         the synthetic data set, cases created by a phase stay for the next; target ≤ 64 MiB \
         resident at 1M cases).\n\n",
        options(args),
        today(),
        machine(),
    );
    for n in &cases {
        eprintln!("==> bench memory: {n} cases");
        let (text, _) = against_a_served_dataset("memory", n)?;
        print!("{text}");
        body.push_str(&text);
    }
    write_section("memory", &body)
}

/// `casework serve` (core 0) over the synthetic data set of `n` cases (made if missing, under
/// `target/bench`), measured by `casework-bench TOOL --db PATH --url … --token … --pid …
/// --cases N` on core 1: the tool's output and the data set's path.
fn against_a_served_dataset(tool: &str, n: &str) -> Result<(String, std::path::PathBuf)> {
    let root = workspace_root();
    let casework = root.join("target/release/casework").display().to_string();
    let db = std::path::PathBuf::from(
        bench_tool(&["dataset", "--cases", n], &root.join("target/bench"))?.trim(),
    );
    let cw = Casework::new(&casework, &db);
    // a data set kept from an earlier run has its admin already
    let _ = cw.first_admin();
    let token = cw.token(&format!("bench-{tool}"), "admin")?;
    let server = Server::start(
        "0",
        &casework,
        &["--store", &cw.store, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let out = Command::new("taskset")
        .args(["-c", "1"])
        .arg(root.join("target/release/casework-bench"))
        .args([tool, "--db"])
        .arg(&db)
        .args([
            "--url",
            &format!("http://{}", server.addr),
            "--token",
            &token,
        ])
        .args(["--pid", &server.pid().to_string(), "--cases", n])
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("run casework-bench {tool}"))?;
    drop(server);
    if !out.status.success() {
        bail!("casework-bench {tool} failed");
    }
    Ok((String::from_utf8(out.stdout)?, db))
}

/// A folder, created if absent.
fn folder(path: std::path::PathBuf) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(&path)?;
    Ok(path)
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
    build_release()?;
    let dir = root.join("target/bench");
    let mut body = format!(
        "## Store (`casework-store-sqlite`)\n\nCommand: `cargo xtask bench store{}` — {} on {} ({}).\n\
         Each ratio compares runs made in the same invocation.\n\n",
        options(args),
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
