//! Email delivery end to end: the real `casework` program delivering its outbox to a real
//! SMTP server on loopback (aiosmtpd), whose received mail is parsed by Python's email
//! package. Covers threading and encoding, authentication, TLS, a rejecting, failing, slow
//! or absent server, a worker killed between sending and marking, and two workers at once.

use std::time::Duration;

use casework_e2e::{Cw, SmtpServer};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

const CUSTOMER: &str = "Zoë Ångström";
const TITLE: &str = "Publicación falla: ошибка 999999";

/// A store with an admin and an agent, and one case from a customer with a non-ASCII name.
/// Returns the program and the case number.
fn desk(name: &str) -> (Cw, String) {
    let cw = Cw::new(EXE, &format!("email-{name}"));
    cw.ok(&["init"]);
    cw.first_admin();
    cw.ok(&[
        "--as",
        "root",
        "agent",
        "add",
        "Ana Lopez",
        "--role",
        "agent",
        "--email",
        "ana.lopez@example.com",
        "--signature",
        "Ana Lopez\nSupport Engineer",
    ]);
    let n = ana(
        &cw,
        &[
            "case",
            "open",
            "--title",
            TITLE,
            "--description",
            "El servicio no publica",
            "--customer-name",
            CUSTOMER,
            "--customer-email",
            "zoe@kunde.example",
            "--origin",
            "email",
        ],
    )
    .trim()
    .to_string();
    (cw, n)
}

fn ana(cw: &Cw, args: &[&str]) -> String {
    let mut all = vec!["--as", "Ana Lopez"];
    all.extend_from_slice(args);
    cw.ok(&all)
}

fn ana_json(cw: &Cw, args: &[&str]) -> Value {
    let mut all = vec!["--as", "Ana Lopez"];
    all.extend_from_slice(args);
    cw.json(&all)
}

fn send_initial(cw: &Cw, n: &str) {
    // only the owner sends "I have taken ownership" (taking an owned case again is a no-op)
    ana(cw, &["case", "take", n]);
    ana(cw, &["email", "send", n, "--template", "initial-contact"]);
}

/// Runs `outbox flush` and checks its (sent, retried, failed) report; on a mismatch the
/// message shows the outbox, errors included.
#[track_caller]
fn flush(cw: &Cw, url: &str, expected: (u64, u64, u64)) {
    let r = ana_json(cw, &["outbox", "flush", "--mailer", url]);
    let got = (
        r["sent"].as_u64().unwrap(),
        r["retried"].as_u64().unwrap(),
        r["failed"].as_u64().unwrap(),
    );
    assert_eq!(got, expected, "flush to {url}; outbox: {:#?}", outbox(cw));
}

fn outbox(cw: &Cw) -> Vec<Value> {
    ana_json(cw, &["outbox", "list"])
        .as_array()
        .unwrap()
        .clone()
}

/// The delivery status of each email on the case's timeline, as `case show --json` has it.
fn timeline_deliveries(cw: &Cw, n: &str) -> Vec<Value> {
    let shown = ana_json(cw, &["case", "show", n]);
    shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "email_queued")
        .map(|e| e["delivery"].clone())
        .collect()
}

/// Rewrites one line of the `[delivery]` section of the store's workflow file.
fn set_delivery(cw: &Cw, key: &str, value: u32) {
    let path = cw.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap()
        .to_string();
    std::fs::write(&path, text.replacen(&line, &format!("{key} = {value}"), 1)).unwrap();
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn smtp_delivers_threaded_and_encoded_mail_that_a_mime_parser_reads_back() {
    let smtp = SmtpServer::start("deliver", &[]);
    let (cw, n) = desk("deliver");
    send_initial(&cw, &n);
    ana(
        &cw,
        &[
            "email",
            "send",
            &n,
            "--template",
            "follow-up",
            "--discussed",
            "Revisamos el registro — данные.",
        ],
    );
    assert_eq!(
        timeline_deliveries(&cw, &n)
            .iter()
            .map(|d| d["status"].clone())
            .collect::<Vec<_>>(),
        vec!["queued", "queued"]
    );

    flush(&cw, &smtp.url(""), (2, 0, 0));

    let got = smtp.messages();
    assert_eq!(got.len(), 2, "{got:?}");
    let queued = outbox(&cw);
    let display = format!("{:0>8}", n);
    // the first email starts the case's thread; the second answers it, by its real
    // Message-ID (never one no message had)
    let first = format!("<{}>", queued[0]["message_id"].as_str().unwrap());
    assert_eq!(got[0]["headers"]["Message-ID"], first);
    assert!(got[0]["headers"].get("In-Reply-To").is_none(), "{}", got[0]);
    assert!(got[0]["headers"].get("References").is_none(), "{}", got[0]);
    assert_eq!(got[1]["headers"]["In-Reply-To"], first);
    assert_eq!(got[1]["headers"]["References"], first);
    for (m, q) in got.iter().zip(&queued) {
        // the envelope
        assert_eq!(m["mail_from"], "support@example.com");
        assert_eq!(m["rcpt_tos"], serde_json::json!(["zoe@kunde.example"]));
        // headers, decoded by the parser
        let h = &m["headers"];
        assert_eq!(h["To"], format!("{CUSTOMER} <zoe@kunde.example>"));
        assert_eq!(h["From"], "Example Corp Support <support@example.com>");
        assert_eq!(h["Subject"], q["subject"]);
        assert!(
            h["Subject"]
                .as_str()
                .unwrap()
                .starts_with(&format!("[Case {display}]")),
            "{h}"
        );
        assert!(h["Subject"].as_str().unwrap().contains(TITLE), "{h}");
        assert_eq!(
            h["Message-ID"],
            format!("<{}>", q["message_id"].as_str().unwrap())
        );
        assert_eq!(h["MIME-Version"], "1.0");
        // a UTF-8 plain-text body, decoded back to the text that was queued
        assert_eq!(m["content_type"], "text/plain");
        assert_eq!(m["charset"], "utf-8");
        assert_eq!(
            m["body"].as_str().unwrap().replace("\r\n", "\n").trim_end(),
            q["body"].as_str().unwrap().trim_end()
        );
        // on the wire, headers are 7-bit: non-ASCII is RFC 2047 encoded
        let raw = m["raw"].as_str().unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(head.is_ascii(), "{head}");
    }
    assert!(
        got[1]["body"]
            .as_str()
            .unwrap()
            .contains("Revisamos el registro — данные."),
        "{}",
        got[1]["body"]
    );
    assert_ne!(
        got[0]["headers"]["Message-ID"],
        got[1]["headers"]["Message-ID"]
    );

    // the case's timeline shows both as sent, with the time
    for d in timeline_deliveries(&cw, &n) {
        assert_eq!(d["status"], "sent", "{d}");
        assert!(d["sent_at"].is_string(), "{d}");
    }
    let shown = ana(&cw, &["case", "show", &n]);
    assert!(shown.contains("[sent 20"), "{shown}");
    // nothing is left to send
    flush(&cw, &smtp.url(""), (0, 0, 0));
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn smtp_authentication_is_used_and_a_wrong_password_is_retried_not_dropped() {
    let smtp = SmtpServer::start("auth", &["--auth", "desk:s3cr%t"]);
    let (cw, n) = desk("auth");
    send_initial(&cw, &n);
    // a wrong password: the operator's mistake to fix, so the message waits for a retry
    let wrong = format!("smtp://desk:nope@127.0.0.1:{}", smtp.port);
    flush(&cw, &wrong, (0, 1, 0));
    let q = &outbox(&cw)[0];
    assert_eq!(q["status"], "queued");
    assert!(
        q["last_error"].as_str().unwrap().contains("535"),
        "the server's refusal is kept: {q}"
    );
    assert!(
        !q["last_error"].as_str().unwrap().contains("nope"),
        "never the password: {q}"
    );
    assert!(smtp.messages().is_empty());

    // the right one, percent-encoded in the URL; the retry is not due yet, so send a new one
    send_initial(&cw, &n);
    let right = format!("smtp://desk:s3cr%25t@127.0.0.1:{}", smtp.port);
    flush(&cw, &right, (1, 0, 0));
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn a_rejecting_server_fails_the_message_for_good_with_its_reason() {
    let smtp = SmtpServer::start("reject", &[]);
    smtp.set_mode("reject");
    let (cw, n) = desk("reject");
    send_initial(&cw, &n);
    flush(&cw, &smtp.url(""), (0, 0, 1));
    let failed = ana_json(&cw, &["outbox", "list", "--status", "failed"]);
    let error = failed[0]["last_error"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    assert!(error.contains("No such mailbox"), "{error}");
    let d = &timeline_deliveries(&cw, &n)[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["last_error"], error);
    let shown = ana(&cw, &["case", "show", &n]);
    assert!(shown.contains("[FAILED after 1 attempts: "), "{shown}");
    // a failed message is never tried again, and the desk keeps working
    smtp.set_mode("accept");
    flush(&cw, &smtp.url(""), (0, 0, 0));
    ana(
        &cw,
        &[
            "post",
            "add",
            &n,
            "--kind",
            "note",
            "--body",
            "Called instead.",
        ],
    );
    assert_eq!(smtp.attempts(), 1);
}

#[test]
fn a_down_slow_or_busy_server_is_retried_with_backoff_then_failed() {
    let smtp = SmtpServer::start("retry", &[]);
    let (cw, n) = desk("retry");
    set_delivery(&cw, "max_attempts", 2);
    set_delivery(&cw, "first_retry_seconds", 1);

    // down: nothing listens on the port
    send_initial(&cw, &n);
    let down = format!("smtp://127.0.0.1:{}?timeout=2s", free_port());
    flush(&cw, &down, (0, 1, 0));
    let q = &outbox(&cw)[0];
    assert_eq!(
        (q["status"].as_str(), q["attempts"].as_u64()),
        (Some("queued"), Some(1))
    );
    assert!(
        q["last_error"].as_str().unwrap().contains("127.0.0.1"),
        "the error names the server: {q}"
    );
    // not due before its retry time; after it, the second attempt is the last
    flush(&cw, &down, (0, 0, 0));
    std::thread::sleep(Duration::from_millis(1100));
    flush(&cw, &down, (0, 0, 1));
    let q = &outbox(&cw)[0];
    assert_eq!(q["status"], "failed");
    assert!(
        q["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{q}"
    );

    // slow: the server answers after the client's timeout
    smtp.set_mode("slow:5");
    send_initial(&cw, &n);
    let started = std::time::Instant::now();
    flush(&cw, &smtp.url("?timeout=1s"), (0, 1, 0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout held"
    );
    let slow = outbox(&cw)
        .into_iter()
        .find(|m| m["status"] == "queued")
        .unwrap();
    assert!(
        slow["last_error"].as_str().unwrap().contains("timed out")
            || slow["last_error"].as_str().unwrap().contains("timeout"),
        "{slow}"
    );

    // busy (451), then well again: the retry goes through
    smtp.set_mode("tempfail");
    std::thread::sleep(Duration::from_millis(1100));
    flush(&cw, &smtp.url(""), (0, 0, 1)); // its second and last attempt
    send_initial(&cw, &n);
    flush(&cw, &smtp.url(""), (0, 1, 0));
    let busy = outbox(&cw)
        .into_iter()
        .find(|m| m["status"] == "queued")
        .unwrap();
    assert!(
        busy["last_error"].as_str().unwrap().contains("451"),
        "{busy}"
    );
    smtp.set_mode("accept");
    std::thread::sleep(Duration::from_millis(1100));
    flush(&cw, &smtp.url(""), (1, 0, 0));
    let statuses: Vec<Value> = timeline_deliveries(&cw, &n)
        .iter()
        .map(|d| d["status"].clone())
        .collect();
    assert_eq!(statuses, vec!["failed", "failed", "sent"]);
}

#[test]
fn a_worker_killed_between_sending_and_marking_resends_with_the_same_message_id() {
    let smtp = SmtpServer::start("kill", &[]);
    let (cw, n) = desk("kill");
    set_delivery(&cw, "lease_seconds", 1);
    send_initial(&cw, &n);
    // the server takes the message, then holds back its "250 OK"
    smtp.set_mode("hold:30");
    let url = smtp.url("");
    let mut worker = cw.spawn(&["--as", "Ana Lopez", "outbox", "flush", "--mailer", &url]);
    let got = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "the server received the message");
    worker.kill().unwrap();
    worker.wait().unwrap();

    // the store never heard of the send: still queued, nothing lost
    let q = &outbox(&cw)[0];
    assert_eq!(q["status"], "queued", "{q}");
    assert_eq!(q["attempts"], 0, "{q}");

    // once the dead worker's lease lapses, another worker sends it again
    smtp.set_mode("accept");
    std::thread::sleep(Duration::from_millis(1100));
    flush(&cw, &url, (1, 0, 0));
    let got = smtp.messages();
    assert_eq!(got.len(), 2, "delivered twice: at least once, never lost");
    assert_eq!(
        got[0]["headers"]["Message-ID"], got[1]["headers"]["Message-ID"],
        "the duplicate carries the same Message-ID, so mail clients fold it"
    );
    assert_eq!(
        got[0]["headers"]["Message-ID"],
        format!("<{}>", q["message_id"].as_str().unwrap())
    );
    assert_eq!(outbox(&cw)[0]["status"], "sent");
    flush(&cw, &url, (0, 0, 0));
}

#[test]
fn two_worker_processes_never_send_one_message_twice() {
    let smtp = SmtpServer::start("two", &[]);
    let (cw, n) = desk("two");
    for _ in 0..30 {
        send_initial(&cw, &n);
    }
    let url = smtp.url("");
    let a = cw.spawn(&["--as", "Ana Lopez", "outbox", "flush", "--mailer", &url]);
    let b = cw.spawn(&["--as", "Ana Lopez", "outbox", "flush", "--mailer", &url]);
    for mut w in [a, b] {
        assert!(w.wait().unwrap().success());
    }
    let got = smtp.messages();
    assert_eq!(got.len(), 30);
    let mut ids: Vec<String> = got
        .iter()
        .map(|m| m["headers"]["Message-ID"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "every message once");
    assert!(outbox(&cw).iter().all(|m| m["status"] == "sent"));
}

#[test]
fn starttls_and_implicit_tls_are_verified_against_a_private_ca() {
    let (cw, n) = desk("tls");
    let (ca, cert, key) = casework_e2e::certificates(&cw.dir.join("tls"));
    let starttls = SmtpServer::start("starttls", &["--cert", &cert, "--key", &key]);
    let implicit = SmtpServer::start(
        "implicit",
        &["--cert", &cert, "--key", &key, "--implicit-tls"],
    );
    let ca = format!("&ca={ca}");

    // an unknown certificate is refused, and the message waits
    send_initial(&cw, &n);
    let untrusted = format!("smtp://localhost:{}?tls=starttls", starttls.port);
    flush(&cw, &untrusted, (0, 1, 0));
    let q = &outbox(&cw)[0];
    assert!(
        q["last_error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{q}"
    );
    assert!(starttls.messages().is_empty());

    // STARTTLS with the certificate trusted through ca=
    send_initial(&cw, &n);
    let url = format!("smtp://localhost:{}?tls=starttls{ca}", starttls.port);
    flush(&cw, &url, (1, 0, 0));
    assert_eq!(starttls.messages().len(), 1);

    // implicit TLS (smtps://)
    send_initial(&cw, &n);
    let url = format!("smtps://localhost:{}?{}", implicit.port, &ca[1..]);
    flush(&cw, &url, (1, 0, 0));
    let got = implicit.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["zoe@kunde.example"]));
}

#[test]
fn serve_delivers_queued_mail_in_the_background() {
    let smtp = SmtpServer::start("serve", &[]);
    let (cw, n) = desk("serve");
    let url = smtp.url("");
    let mut server = cw.spawn(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--mailer",
        &url,
        "--deliver-every",
        "1",
    ]);
    // queued by another process on the same store; the server's worker finds it
    send_initial(&cw, &n);
    let got = smtp.wait_for(1, Duration::from_secs(20));
    // the server took it; the worker marks it sent right after (poll: not a fixed sleep)
    let start = std::time::Instant::now();
    while outbox(&cw)[0]["status"] != "sent" && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(got.len(), 1, "the worker inside serve delivered it");
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["zoe@kunde.example"]));
    assert_eq!(outbox(&cw)[0]["status"], "sent");
    assert_eq!(smtp.messages().len(), 1, "and only once");
}

#[test]
fn a_name_with_a_line_break_never_reaches_the_mailer_and_a_stored_one_fails_alone() {
    let smtp = SmtpServer::start("poison", &[]);
    let (cw, n) = desk("poison");
    // at entry: refused, naming the option, and nothing is queued
    for name in ["Alice\nSmith", "Alice\rSmith"] {
        let line = cw.fails(
            &[
                "--as",
                "Ana Lopez",
                "case",
                "open",
                "--title",
                "Second case",
                "--customer-name",
                name,
                "--customer-email",
                "alice@kunde.example",
            ],
            1,
        );
        assert!(line.contains("--customer-name"), "{line}");
        assert!(line.contains("line break"), "{line}");
    }
    assert!(outbox(&cw).is_empty());

    // stored before names were checked (below the service, as an earlier version did):
    // its email is queued first, then a good one, then one to a stored address that
    // lettre refuses
    let legacy = cw
        .open_stored_case("Old case", "Alice\r\nSmith", "alice@kunde.example")
        .to_string();
    send_initial(&cw, &legacy);
    send_initial(&cw, &n);
    let bad_address = cw
        .open_stored_case("Older case", "Bob", r"b(o)\b:x@kunde.example")
        .to_string();
    send_initial(&cw, &bad_address);

    // one flush: the two poison messages fail with their reasons, the good one goes out
    flush(&cw, &smtp.url(""), (1, 0, 2));
    let got = smtp.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["zoe@kunde.example"]));
    let failed = ana_json(&cw, &["outbox", "list", "--status", "failed"]);
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let reason = |case: &str| {
        failed
            .iter()
            .find(|m| m["case"].as_u64().unwrap().to_string() == case)
            .map(|m| m["last_error"].as_str().unwrap().to_string())
            .unwrap()
    };
    let name = reason(&legacy);
    assert!(name.contains("recipient name"), "{name}");
    assert!(name.contains("line break"), "{name}");
    assert!(reason(&bad_address).contains("recipient address"));
    // the desk shows why, and the failed ones are never tried again
    let shown = ana(&cw, &["case", "show", &legacy]);
    assert!(shown.contains("[FAILED after 1 attempts: "), "{shown}");
    send_initial(&cw, &n);
    flush(&cw, &smtp.url(""), (1, 0, 0));
    assert_eq!(smtp.messages().len(), 2);
}

/// `GET /healthz` on a local port: (status code, body).
fn healthz(port: u16) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Some((code, body))
}

/// The status of every outbox message, oldest first.
fn statuses(cw: &Cw) -> Vec<String> {
    outbox(cw)
        .iter()
        .map(|m| m["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Polls until the outbox holds these statuses (at most 20 s); returns the last seen.
fn wait_for_statuses(cw: &Cw, expected: &[&str]) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let now = statuses(cw);
        if now == expected || start.elapsed() > Duration::from_secs(20) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_delivers_past_a_poison_message_and_stays_healthy() {
    let smtp = SmtpServer::start("serve-poison", &[]);
    let (cw, n) = desk("serve-poison");
    let legacy = cw
        .open_stored_case("Old case", "Alice\nSmith", "alice@kunde.example")
        .to_string();
    send_initial(&cw, &legacy);
    send_initial(&cw, &n);
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let url = smtp.url("");
    let mut server = cw.spawn(&[
        "serve",
        "--bind",
        &bind,
        "--mailer",
        &url,
        "--deliver-every",
        "1",
    ]);
    let first_round = wait_for_statuses(&cw, &["failed", "sent"]);
    // the worker lives on: a message queued now goes out too
    send_initial(&cw, &n);
    let later = wait_for_statuses(&cw, &["failed", "sent", "sent"]);
    let health = healthz(port);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(first_round, ["failed", "sent"], "{:#?}", outbox(&cw));
    assert_eq!(later, ["failed", "sent", "sent"], "{:#?}", outbox(&cw));
    let got = smtp.messages();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter()
            .all(|m| m["rcpt_tos"] == serde_json::json!(["zoe@kunde.example"]))
    );
    let (code, body) = health.expect("/healthz answered");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"ok\""), "{body}");
}
