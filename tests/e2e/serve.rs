//! `casework serve` as a real process on loopback: it prints the address it bound (port 0
//! picks a free one), answers authenticated requests over the chosen store, and stops
//! cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use casework_e2e::Cw;

const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

/// One HTTP/1.1 request on a fresh connection; returns the status code and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    try_http(addr, method, path, token, body).unwrap()
}

/// The same, reporting a broken connection (a killed server) as an error.
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    request(addr, method, path, token, &[], body).map(|(status, _, body)| (status, body))
}

/// A response: status, headers (lower-case names) and body.
pub type Response = (u16, Vec<(String, String)>, String);

/// One HTTP/1.1 request with extra headers; the status, the response's headers (lower-case
/// names) and its body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers, body.to_string()))
}

fn admin_token(cw: &Cw) -> String {
    cw.first_admin();
    cw.token("root", "admin")
}

#[test]
fn serve_answers_over_the_store_and_stops_on_sigterm() {
    let cw = Cw::new(EXE, "serve");
    let token = admin_token(&cw);
    let served = cw.serve(&[]);
    let addr = served.addr.clone();

    assert_eq!(http(&addr, "GET", "/healthz", None, None).0, 200);
    assert_eq!(http(&addr, "GET", "/api/v1/cases", None, None).0, 401);
    let body = r#"{"title":"Served","origin":"web","customer":{"name":"Jordan","email":"jordan@customer.example"}}"#;
    let (status, created) = http(&addr, "POST", "/api/v1/cases", Some(&token), Some(body));
    assert_eq!(status, 201, "{created}");
    assert!(
        created.contains("\"display_number\":\"00000001\""),
        "{created}"
    );
    // the CLI sees what the server wrote: one store
    let shown = cw.ok(&["--as", "root", "case", "show", "1"]);
    assert!(shown.contains("Served"), "{shown}");

    // the server delivers queued email in the background (here: log://, the default)
    let owner = r#"{"owner":"root"}"#;
    let assign = "/api/v1/cases/1/assign";
    assert_eq!(
        http(&addr, "POST", assign, Some(&token), Some(owner)).0,
        200
    );
    let email = r#"{"template":"initial_contact"}"#;
    let (status, _) = http(
        &addr,
        "POST",
        "/api/v1/cases/1/emails",
        Some(&token),
        Some(email),
    );
    assert_eq!(status, 201);
    let mut sent = false;
    for _ in 0..150 {
        let (_, body) = http(
            &addr,
            "GET",
            "/api/v1/outbox?status=sent",
            Some(&token),
            None,
        );
        if body.contains("initial_contact") {
            sent = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(sent, "the delivery worker sent the queued email");
    let mut served = served;
    let term = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = served.child.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
    let rest: Vec<String> = (&mut served.lines).map_while(Result::ok).collect();
    let desk = format!("the desk: http://{addr}/sign-in");
    assert_eq!(rest, [desk.as_str(), "stopped"]);
}

/// The server logs one line per request with its request id to standard error, written
/// off the request's path in batches: none is lost under a burst, and the last are written
/// before the server exits on SIGTERM.
#[test]
fn serve_logs_every_request_with_its_id_and_writes_the_last_at_stop() {
    let cw = Cw::new(EXE, "serve-log");
    let log_path = cw.dir.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut served = cw.serve_logging(&[], log.into());
    let addr = served.addr.clone();
    let requests = 300;
    std::thread::scope(|s| {
        for t in 0..4 {
            let addr = &addr;
            s.spawn(move || {
                for i in (t..requests).step_by(4) {
                    let header = format!("X-Request-Id: burst-{i}-end\r\n");
                    let answer = raw(addr, "GET", "/healthz", &header, "");
                    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                }
            });
        }
    });
    let term = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(served.child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log_path).unwrap();
    for i in 0..requests {
        let lines = text
            .lines()
            .filter(|l| l.contains(&format!("id=burst-{i}-end ")))
            .count();
        assert_eq!(lines, 1, "request {i} is logged once:\n{text}");
    }
    assert!(
        text.lines()
            .filter(|l| l.contains("burst-"))
            .all(|l| l.contains("status=200")),
        "{text}"
    );
}

/// The server keeps hot cases in memory (the SQLite store's read cache); another process
/// writing to the same file (here the CLI) is seen by the very next request, every time.
#[test]
fn a_case_another_process_changes_is_served_new_at_once() {
    let cw = Cw::new(EXE, "serve-cache");
    let token = admin_token(&cw);
    let served = cw.serve(&[]);
    let addr = served.addr.clone();
    let body = r#"{"title":"Cached","origin":"web","customer":{"name":"Jordan","email":"jordan@customer.example"}}"#;
    let (status, created) = http(&addr, "POST", "/api/v1/cases", Some(&token), Some(body));
    assert_eq!(status, 201, "{created}");
    let version = |body: &str| -> u64 {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["version"].as_u64().unwrap()
    };
    let mut seen = version(&created);
    for round in 0..5 {
        for _ in 0..3 {
            let (status, got) = http(&addr, "GET", "/api/v1/cases/1", Some(&token), None);
            assert_eq!((status, version(&got)), (200, seen), "{got}");
        }
        let text = format!("written by another process, round {round}");
        cw.ok(&[
            "--as", "root", "post", "add", "1", "--kind", "note", "--body", &text,
        ]);
        let (status, got) = http(&addr, "GET", "/api/v1/cases/1", Some(&token), None);
        assert_eq!(status, 200, "{got}");
        assert_eq!(version(&got), seen + 1, "round {round}: {got}");
        seen += 1;
        // and the server's own write right after is served too
        let post = format!(r#"{{"kind":"note","body":"the server's own, round {round}"}}"#);
        let (status, posted) = http(
            &addr,
            "POST",
            "/api/v1/cases/1/posts",
            Some(&token),
            Some(&post),
        );
        assert_eq!(status, 201, "{posted}");
        let (_, got) = http(&addr, "GET", "/api/v1/cases/1", Some(&token), None);
        assert_eq!(version(&got), seen + 1, "{got}");
        seen += 1;
    }
}

/// The desk keeps each case's rendered timeline; a post another process (the CLI) adds, and
/// an email it cancels (a delivery state: no new case version), are on the very next page.
#[test]
fn a_case_page_another_process_changes_is_served_new_at_once() {
    let cw = Cw::new(EXE, "serve-page-cache");
    cw.first_admin();
    let password = "a desk password for root";
    let set = cw.run_with(
        &["--as", "root", "agent", "password", "root"],
        Some(&format!("{password}\n")),
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    cw.ok(&[
        "--as",
        "root",
        "case",
        "open",
        "--title",
        "Kept timeline",
        "--description",
        "d",
        "--customer-name",
        "Jordan",
        "--customer-email",
        "jordan@example.org",
    ]);
    let served = cw.serve(&[]);
    let addr = served.addr.clone();
    let signed_in = sign_in(&addr, "root", password);
    let session = set_cookie(&signed_in, "casework_session").unwrap();
    let cookie = format!("Cookie: {session}\r\n");
    let page = || raw(&addr, "GET", "/cases/1", &cookie, "");
    for round in 0..3 {
        let before = page();
        assert!(before.starts_with("HTTP/1.1 200"), "{before}");
        // served again, now from the kept timeline
        assert!(page().contains("Timeline <span class=\"count\">"));
        let text = format!("written by another process, round {round}");
        cw.ok(&[
            "--as", "root", "post", "add", "1", "--kind", "note", "--body", &text,
        ]);
        let after = page();
        assert!(after.contains(&text), "round {round}: {after}");
    }
    cw.ok(&["--as", "root", "case", "take", "1"]);
    cw.ok(&[
        "--as",
        "root",
        "email",
        "send",
        "1",
        "--template",
        "initial-contact",
    ]);
    assert!(page().contains("<dd>queued</dd>"));
    let queued = cw.json(&["--as", "root", "outbox", "list", "--status", "queued"]);
    let id = queued[0]["id"].as_str().unwrap().to_string();
    cw.ok(&["--as", "root", "outbox", "cancel", &id]);
    let cancelled = page();
    assert!(cancelled.contains("<dd>cancelled</dd>"), "{cancelled}");
    assert!(!cancelled.contains("<dd>queued</dd>"), "{cancelled}");
}

/// The server crash test: SIGKILLs `casework serve` under load, so it proves durability
/// against a process crash, not a power loss (see `durability.rs`).
#[test]
fn a_process_crash_of_the_server_loses_no_acknowledged_case() {
    let cw = Cw::new(EXE, "serve-crash");
    let token = admin_token(&cw);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    eprintln!("http crash test seed {seed}");
    let mut acknowledged: Vec<u64> = Vec::new();
    for round in 0..3 {
        let mut server = cw.serve(&[]);
        let addr = server.addr.clone();
        let acks = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (addr, token, acks, stop) = (addr.clone(), token.clone(), acks.clone(), stop.clone());
                std::thread::spawn(move || {
                    let body = r#"{"title":"Crash","origin":"web","customer":{"name":"C","email":"c@customer.example"}}"#;
                    while !stop.load(Ordering::Relaxed) {
                        match try_http(&addr, "POST", "/api/v1/cases", Some(&token), Some(body)) {
                            Ok((201, created)) => {
                                let v: serde_json::Value = serde_json::from_str(&created).unwrap();
                                acks.lock().unwrap().push(v["number"].as_u64().unwrap());
                            }
                            Ok((0, _)) | Err(_) => return, // the server is gone
                            Ok((status, other)) => panic!("unexpected {status}: {other}"),
                        }
                    }
                })
            })
            .collect();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = 200 + seed % 500;
        std::thread::sleep(Duration::from_millis(wait));
        // a server that died by itself is a failure, not a crash this test made
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "round {round}: the server exited before it was killed"
        );
        server.child.kill().unwrap(); // SIGKILL: no flush, no graceful anything
        let status = server.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "round {round}: the server ended by our SIGKILL, not otherwise: {status:?}"
        );
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        let got = acks.lock().unwrap().clone();
        assert!(
            !got.is_empty(),
            "round {round}: nothing acknowledged in {wait} ms"
        );
        acknowledged.extend(got);
        // every case that got a 201, this round and before, is on file
        let on_file = cw.case_numbers();
        for n in &acknowledged {
            assert!(
                on_file.contains(n),
                "round {round}: acknowledged case {n} is lost"
            );
        }
        // the file is sound and every case replays to its stored state
        let acks = crate::durability::Acks {
            cases: acknowledged.iter().copied().collect(),
            posts: Default::default(),
        };
        let db = cw.dir.join("data/casework/casework.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let total = runtime.block_on(crate::durability::verify(&db, &acks));
        assert_eq!(total as usize, on_file.len(), "round {round}");
        eprintln!(
            "round {round}: killed after {wait} ms; {} acknowledged, {} on file",
            acknowledged.len(),
            on_file.len()
        );
    }
}

#[test]
fn slow_and_idle_connections_are_dropped_and_the_server_keeps_serving() {
    // issue #11: sockets that sent part of a request's headers stayed open for good
    let cw = Cw::new(EXE, "serve-slow");
    let mut served = cw.serve(&["--header-timeout", "1"]);
    let (child, addr) = (&mut served.child, served.addr.clone());
    let mut half = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            // half a head; the rest never comes
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        } // else: connected, silent
        half.push(s);
    }
    // normal requests are answered meanwhile
    assert_eq!(http(&addr, "GET", "/healthz", None, None).0, 200);
    // every one is closed by the server: "eventually" is a generous bound, not a timing
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for (i, s) in half.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 256];
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) => {
                    break !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                }
            }
        };
        assert!(closed, "connection {i} still open 30 s after its last byte");
    }
    assert_eq!(http(&addr, "GET", "/healthz", None, None).0, 200);
    // a URI too long is a problem+json 414, like every other error
    let (status, body) = http(
        &addr,
        "GET",
        &format!("/api/v1/cases?q={}", "x".repeat(20_000)),
        None,
        None,
    );
    assert_eq!(status, 414, "{body}");
    assert!(body.contains("\"status\":414"), "{body}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_token_revoked_with_the_cli_stops_working_on_a_running_server() {
    let cw = Cw::new(EXE, "serve-revoke");
    cw.first_admin();
    let made = cw.json(&[
        "--as", "root", "token", "create", "--name", "root", "--role", "admin",
    ]);
    let secret = made["token"].as_str().unwrap().to_string();
    let listed = cw.json(&["--as", "root", "token", "list"]);
    let id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "root")
        .and_then(|t| t["id"].as_str())
        .unwrap()
        .to_string();
    let mut served = cw.serve(&[]);
    let (child, addr) = (&mut served.child, served.addr.clone());
    assert_eq!(
        http(&addr, "GET", "/api/v1/cases", Some(&secret), None).0,
        200
    );
    // another process, the CLI, revokes it in the store the server reads
    cw.ok(&["--as", "root", "token", "revoke", &id]);
    // the server's cache trusts a token for AUTH_TTL (1 s): refused well within 10 s
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut status = 200;
    while std::time::Instant::now() < deadline {
        status = http(&addr, "GET", "/api/v1/cases", Some(&secret), None).0;
        if status == 401 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status, 401, "the revoked token still works 10 s later");
    // and it stays refused
    assert_eq!(
        http(&addr, "GET", "/api/v1/cases", Some(&secret), None).0,
        401
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

/// The whole response to a GET, head and body, as text.
fn raw_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// One raw HTTP/1.1 exchange with extra header lines (`Cookie: …`) and a form body.
fn raw(addr: &str, method: &str, path: &str, headers: &str, form: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `name=value` of a cookie a response sets.
fn set_cookie(response: &str, name: &str) -> Option<String> {
    response
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
}

/// Signs in through the form as a browser would; answers the response to the POST.
fn sign_in(addr: &str, name: &str, password: &str) -> String {
    let form = raw(addr, "GET", "/sign-in", "", "");
    let pre = set_cookie(&form, "casework_pre").unwrap();
    let at = form.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = &form[at..at + 64];
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", token)
        .append_pair("name", name)
        .append_pair("password", password)
        .append_pair("next", "/cases")
        .finish();
    raw(
        addr,
        "POST",
        "/sign-in",
        &format!("Cookie: {pre}\r\n"),
        &body,
    )
}

#[test]
fn the_first_run_prints_an_admin_password_and_agent_password_replaces_it() {
    // a machine that never ran Casework: no `init`, no store, no workflow file
    let cw = Cw::new(EXE, "serve-first-run");
    let db = cw.dir.join("data/casework/casework.db");
    assert!(!db.exists());
    let mut served = cw.serve(&[]);
    // the desk runs on the embedded SQLite default
    assert!(db.is_file(), "{}", db.display());
    let addr = served.addr.clone();
    let line = served.lines.next().unwrap().unwrap();
    let prefix = format!("first run: sign in at http://{addr}/sign-in as admin with password ");
    let password = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert_eq!(password.len(), 43, "{line}");
    let signed_in = sign_in(&addr, "admin", &password);
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    let session = set_cookie(&signed_in, "casework_session").unwrap();
    let cases = raw(
        &addr,
        "GET",
        "/cases",
        &format!("Cookie: {session}\r\n"),
        "",
    );
    assert!(cases.starts_with("HTTP/1.1 200"), "{cases}");
    assert!(
        cases.contains("Signed in as <strong>admin</strong>"),
        "{cases}"
    );
    // the pages carry the API's layers: a request id, made or taken from the client
    assert!(cases.contains("\r\nx-request-id: "), "{cases}");
    let traced = raw(&addr, "GET", "/cases", "X-Request-Id: trace-me-16\r\n", "");
    assert!(
        traced.contains("\r\nx-request-id: trace-me-16\r\n"),
        "{traced}"
    );

    // the password is read from standard input, never from the command line
    let new = "a new password for the admin";
    let set = cw.run_with(
        &["--as", "admin", "agent", "password", "admin"],
        Some(&format!("{new}\n")),
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    let short = cw.run_with(
        &["--as", "admin", "agent", "password", "admin"],
        Some("short\n"),
    );
    assert_eq!(short.code, 1);
    assert!(
        short.stderr.contains("at least 12 characters"),
        "{}",
        short.stderr
    );
    assert!(sign_in(&addr, "admin", &password).starts_with("HTTP/1.1 401"));
    assert!(sign_in(&addr, "admin", new).starts_with("HTTP/1.1 303"));
    drop(served);
    // a second start registers nobody and prints no password
    let mut served = cw.serve(&[]);
    let line = served.lines.next().unwrap().unwrap();
    assert_eq!(line, format!("the desk: http://{}/sign-in", served.addr));
}

#[test]
fn serve_mounts_the_pages_beside_the_api_and_they_ask_to_sign_in() {
    let cw = Cw::new(EXE, "serve-web");
    let token = admin_token(&cw);
    cw.ok(&[
        "--as",
        "root",
        "case",
        "open",
        "--title",
        "Secret title",
        "--description",
        "d",
        "--customer-name",
        "Jordan",
        "--customer-email",
        "jordan@example.org",
    ]);
    let mut served = cw.serve(&[]);
    let (child, addr) = (&mut served.child, served.addr.clone());
    // no session: every page sends to sign-in, and nothing of a case shows
    for path in [
        "/",
        "/cases",
        "/cases/1",
        "/portal/cases/1",
        "/reports/reopens",
    ] {
        let r = raw_get(&addr, path);
        assert!(r.starts_with("HTTP/1.1 303"), "{path}: {r}");
        assert!(
            r.to_lowercase().contains("location: /sign-in?next="),
            "{path}: {r}"
        );
        assert!(!r.contains("Secret title"), "{path}");
    }
    let sign_in = raw_get(&addr, "/sign-in").to_lowercase();
    assert!(sign_in.starts_with("http/1.1 200"), "{sign_in}");
    assert!(sign_in.contains("content-security-policy: default-src 'self'"));
    assert!(sign_in.contains("x-content-type-options: nosniff"));
    // the API keeps its paths and its problem+json
    assert_eq!(
        http(&addr, "GET", "/api/v1/cases/1", Some(&token), None).0,
        200
    );
    let missing = raw_get(&addr, "/api/v1/nothing");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains("application/problem+json"), "{missing}");
    assert_eq!(http(&addr, "GET", "/healthz", None, None).0, 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    // --no-web: the API alone
    drop(served);
    let mut served = cw.serve(&["--no-web"]);
    let (child, addr) = (&mut served.child, served.addr.clone());
    for path in ["/", "/sign-in", "/cases"] {
        let r = raw_get(&addr, path);
        assert!(r.starts_with("HTTP/1.1 404"), "{path}: {r}");
        assert!(r.contains("application/problem+json"), "{path}: {r}");
    }
    assert_eq!(
        http(&addr, "GET", "/api/v1/cases/1", Some(&token), None).0,
        200
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
