//! `cargo xtask bench web`: the desk's case page with a 200-entry timeline against
//! `GET /api/v1/cases/{n}` of the same case, through one `casework serve`, in the same run.
//!
//! The store is made with the real CLI: an admin with a desk password, 200 other cases for
//! the similar-cases search to run over (their words are common ones, so it finds nothing;
//! its cost is the search's), and the measured case with 199 posts
//! and calls after its opening (internal and customer-visible). The session cookie comes
//! from signing in through the form as a browser does; the page is checked to hold the
//! newest 50 timeline entries and the link to the other 150, the page with every entry to
//! hold 200, and similar cases to answer, before anything is timed. Besides the page:
//! its similar cases (their own route, which htmx asks for after the page), the page with
//! the whole timeline, and the case list.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};

use crate::bench::{
    Casework, Server, build_release, machine, today, tool, write_section, wrk_with,
};
use crate::tidy::workspace_root;

/// Timeline entries on the measured case, its opening included.
const ENTRIES: usize = 200;
/// The newest entries the case page shows (casework-web's `NEWEST_ENTRIES`).
const NEWEST: usize = 50;
/// Other cases in the store, for similar cases to rank.
const OTHERS: usize = 200;
/// The desk password given to `root`.
const PASSWORD: &str = "bench password for the desk";

/// Words the generated texts are made of: product vocabulary, so similar cases match.
const WORDS: &[&str] = &[
    "map",
    "service",
    "timeout",
    "publishing",
    "layer",
    "tile",
    "cache",
    "proxy",
    "login",
    "export",
    "report",
    "licence",
    "server",
    "upgrade",
    "error",
    "slow",
    "query",
    "index",
    "portal",
    "sync",
    "token",
    "renderer",
    "symbol",
    "geocoder",
    "route",
    "print",
];

fn text(seed: usize, words: usize) -> String {
    (0..words)
        .map(|i| WORDS[(seed * 7 + i * 13 + i * i) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// `casework --store S --as root ARGS…` with `stdin`.
fn run_with_stdin(cw: &Casework, args: &[&str], stdin: &str) -> Result<()> {
    let exe = workspace_root().join("target/release/casework");
    let mut child = Command::new(exe)
        .args(["--store", &cw.store, "--as", "root"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(stdin.as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "casework {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`); the whole response.
fn raw(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> Result<String> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// `name=value` of a cookie the response sets.
fn cookie(response: &str, name: &str) -> Option<String> {
    response
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

/// Form-encodes the few characters the sign-in fields can hold here.
fn form_value(v: &str) -> String {
    v.replace('%', "%25").replace(' ', "+").replace('&', "%26")
}

/// Signs `root` in through the form as a browser would: the session cookie.
fn sign_in(addr: &str) -> Result<String> {
    let form = raw(addr, "GET", "/sign-in", "", "")?;
    let pre = cookie(&form, "casework_pre").context("the sign-in form set no pre-session")?;
    let marker = "name=\"csrf\" value=\"";
    let at = form
        .find(marker)
        .context("the sign-in form has no CSRF field")?
        + marker.len();
    let token = form.get(at..at + 64).context("short CSRF token")?;
    let body = format!(
        "csrf={token}&name=root&password={}&next=%2Fcases",
        form_value(PASSWORD)
    );
    let answer = raw(
        addr,
        "POST",
        "/sign-in",
        &format!("Cookie: {pre}\r\n"),
        &body,
    )?;
    ensure!(
        answer.starts_with("HTTP/1.1 303"),
        "signing in failed: {}",
        answer.lines().next().unwrap_or_default()
    );
    cookie(&answer, "casework_session").context("signing in set no session cookie")
}

/// The store: root with a password, the other cases, then the measured case (the last
/// opened, so its number is `OTHERS + 1`) with its entries. Answers its number.
fn fill(cw: &Casework) -> Result<usize> {
    cw.first_admin()?;
    run_with_stdin(cw, &["agent", "password", "root"], &format!("{PASSWORD}\n"))?;
    for i in 0..=OTHERS {
        let (title, description) = (text(i, 6), text(i + 1, 60));
        let email = format!("customer{}@example.com", i % 40);
        cw.run(&[
            "--as",
            "root",
            "case",
            "open",
            "--title",
            &title,
            "--description",
            &description,
            "--customer-name",
            "Customer",
            "--customer-email",
            &email,
        ])?;
    }
    let n = (OTHERS + 1).to_string();
    for i in 1..ENTRIES {
        let body = text(i * 3, 40 + i % 50);
        let args: Vec<&str> = match i % 3 {
            0 => vec!["post", "add", &n, "--kind", "note", "--body", &body],
            1 => vec![
                "post",
                "add",
                &n,
                "--kind",
                "call-notes",
                "--customer-visible",
                "--body",
                &body,
            ],
            _ => vec![
                "call",
                "log",
                &n,
                "--duration",
                "15m",
                "--outbound",
                "--notes",
                &body,
            ],
        };
        let mut all = vec!["--as", "root"];
        all.extend(args);
        cw.run(&all)?;
    }
    Ok(OTHERS + 1)
}

/// `cargo xtask bench web`.
pub fn web() -> Result<()> {
    tool("wrk", "wrk")?;
    let root = workspace_root();
    build_release()?;
    let dir = root.join("target/bench/web");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let casework = root.join("target/release/casework").display().to_string();
    let cw = Casework::new(&casework, &dir.join("cases.db"));
    eprintln!("==> filling the store ({OTHERS} cases, then one with {ENTRIES} entries)");
    let n = fill(&cw)?;
    let token = cw.token("root", "admin")?;

    let server = Server::start(
        "0",
        &casework,
        &["--store", &cw.store, "serve", "--bind", "127.0.0.1:0"],
    )?;
    let session = sign_in(&server.addr)?;
    let page = raw(
        &server.addr,
        "GET",
        &format!("/cases/{n}"),
        &format!("Cookie: {session}\r\n"),
        "",
    )?;
    ensure!(
        page.starts_with("HTTP/1.1 200"),
        "the case page answered {}",
        page.lines().next().unwrap_or_default()
    );
    let shown = page.matches("class=\"entry-head\"").count();
    ensure!(
        shown == NEWEST,
        "the case page shows {shown} timeline entries, not the newest {NEWEST}"
    );
    let earlier = format!("Show the {} earlier entries", ENTRIES - NEWEST);
    ensure!(
        page.contains(&earlier),
        "the case page has no link saying {earlier:?}"
    );
    let bytes = page.len();
    let get = |path: &str| {
        raw(
            &server.addr,
            "GET",
            path,
            &format!("Cookie: {session}\r\nHX-Request: true\r\n"),
            "",
        )
    };
    let all = get(&format!("/cases/{n}?timeline=all"))?;
    let shown = all.matches("class=\"entry-head\"").count();
    ensure!(
        shown == ENTRIES,
        "the whole timeline shows {shown} entries, not {ENTRIES}"
    );
    let all_bytes = all.len();
    let similar = get(&format!("/cases/{n}/similar"))?;
    // the generated texts are common words only, so the search runs and finds nothing
    ensure!(
        similar.starts_with("HTTP/1.1 200") && similar.contains("<div id=\"similar\">"),
        "similar cases answered {}",
        similar.lines().next().unwrap_or_default()
    );
    let api_script = dir.join("api.lua");
    std::fs::write(
        &api_script,
        format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
    )?;
    let page_script = dir.join("page.lua");
    std::fs::write(
        &page_script,
        format!("wrk.headers[\"Cookie\"] = \"{session}\"\n"),
    )?;
    let base = format!("http://{}", server.addr);
    let api = wrk_with(&format!("{base}/api/v1/cases/{n}"), Some(&api_script), 32)?;
    let desk = wrk_with(&format!("{base}/cases/{n}"), Some(&page_script), 32)?;
    let htmx_script = dir.join("htmx.lua");
    std::fs::write(
        &htmx_script,
        format!(
            "wrk.headers[\"Cookie\"] = \"{session}\"\nwrk.headers[\"HX-Request\"] = \"true\"\n"
        ),
    )?;
    let similar = wrk_with(&format!("{base}/cases/{n}/similar"), Some(&htmx_script), 32)?;
    let whole = wrk_with(
        &format!("{base}/cases/{n}?timeline=all"),
        Some(&page_script),
        32,
    )?;
    let list = wrk_with(&format!("{base}/cases"), Some(&page_script), 32)?;
    drop(server);
    let row = |what: &str, r: &crate::bench::Wrk, target: &str| {
        format!(
            "| {what} | {:.0}/s | {:.2} ms | {} | **{:.2}×**{target} |\n",
            r.rate,
            r.p99_ms,
            r.errors,
            r.rate / api.rate
        )
    };

    let body = format!(
        "## Desk case page\n\nCommand: `cargo xtask bench web` — {} on {} (release build; \
         `casework serve` over SQLite in its default durable mode, pinned to core 0, wrk on \
         core 1: `wrk -t1 -c32 -d10s --latency`). The store holds {OTHERS} other cases; the \
         measured case has {ENTRIES} timeline entries (notes, customer-visible call notes, \
         calls). The page is the desk case page a signed-in admin gets ({} KiB of HTML): \
         header, the newest {NEWEST} timeline entries and the link to the {} earlier ones, \
         closing checklist, the composers; similar cases come after it from their own route \
         (htmx), measured on their own, as are the page with the whole timeline ({} KiB) and \
         the case list. The baseline is the same case through the JSON API with a token.\n\n\
         | Scenario | Rate | p99 | Non-2xx | Ratio |\n|---|---|---|---|---|\n\
         | `GET /api/v1/cases/{{n}}` (token) | {:.0}/s | {:.2} ms | {} | baseline |\n{}{}{}{}",
        today(),
        machine(),
        bytes / 1024,
        ENTRIES - NEWEST,
        all_bytes / 1024,
        api.rate,
        api.p99_ms,
        api.errors,
        row(
            "`GET /cases/{n}`, the desk's case page (session cookie)",
            &desk,
            " (target ≥ 0.5×, p99 ≤ 20 ms)"
        ),
        row(
            "`GET /cases/{n}/similar`, its similar cases (htmx, after the page)",
            &similar,
            ""
        ),
        row(
            "`GET /cases/{n}?timeline=all`, the page with every entry",
            &whole,
            ""
        ),
        row("`GET /cases`, the case list (All cases)", &list, ""),
    );
    println!("{body}");
    write_section("web", &body)
}
