//! Webhooks end to end: the real `casework` program delivering to a real HTTP receiver on
//! loopback (`tests/webhook/receiver.py`) that verifies every signature with the
//! `standardwebhooks` package from PyPI. The receiver fails the first attempts; a worker
//! is killed between the send and the mark; a private address is refused by default.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

use casework_e2e::{Cw, test_python, workspace_root};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

/// 32 bytes, base64: the endpoint's signing secret, which the receiver verifies with.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";

/// The receiver, stopped on drop.
struct Receiver {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Receiver {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("casework-hook-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = std::process::Command::new("timeout")
            .arg("300")
            .arg(test_python())
            .arg(workspace_root().join("tests/webhook/receiver.py"))
            .arg(&dir)
            .arg(SECRET)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
        Self { child, port, dir }
    }

    fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).unwrap();
    }

    /// Every verified attempt, in order of arrival.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Requests whose signature did not verify.
    fn bad(&self) -> u32 {
        std::fs::read_to_string(self.dir.join("bad"))
            .map(|t| t.trim().parse().unwrap())
            .unwrap_or(0)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        casework_e2e::stop_by_pid(&mut self.child, &self.dir);
    }
}

/// A store with an admin and an agent; `private` lets endpoints be on loopback; retries
/// come after a second and claims lapse after one.
fn desk(name: &str, private: bool) -> Cw {
    let cw = Cw::new(EXE, &format!("webhooks-{name}"));
    cw.ok(&["init"]);
    cw.first_admin();
    cw.ok(&[
        "--as",
        "root",
        "agent",
        "add",
        "ana",
        "--role",
        "agent",
        "--email",
        "ana@example.com",
    ]);
    let path = cw.config_path();
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (line, set) in [
        ("first_retry_seconds = 60", "first_retry_seconds = 1"),
        ("max_retry_seconds = 21600", "max_retry_seconds = 1"),
        ("lease_seconds = 300", "lease_seconds = 1"),
        (
            "allow_private_networks = false",
            if private {
                "allow_private_networks = true"
            } else {
                "allow_private_networks = false"
            },
        ),
    ] {
        assert!(text.contains(line), "{line}");
        text = text.replacen(line, set, 1);
    }
    std::fs::write(&path, text).unwrap();
    cw
}

fn open(cw: &Cw, title: &str) -> String {
    cw.ok(&[
        "--as",
        "ana",
        "case",
        "open",
        "--title",
        title,
        "--description",
        "d",
        "--customer-name",
        "C",
        "--customer-email",
        "c@customer.example",
        "--origin",
        "web",
    ])
    .trim()
    .to_string()
}

fn flush(cw: &Cw) -> Value {
    cw.json(&["--as", "ana", "outbox", "flush", "--mailer", "log://"])
}

fn deliveries(cw: &Cw, endpoint: &str) -> Vec<Value> {
    cw.json(&["--as", "root", "webhook", "deliveries", endpoint])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn deliveries_reach_a_receiver_that_fails_at_first_once_each_and_in_order_per_case() {
    let receiver = Receiver::start("retry");
    receiver.set_mode("fail:2");
    let cw = desk("retry", true);
    let url = format!("http://127.0.0.1:{}/hooks", receiver.port);
    let added = cw.json(&["--as", "root", "webhook", "add", &url, "--secret", SECRET]);
    let endpoint = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["secret"], SECRET, "shown once, when added");
    let listed = cw.json(&["--as", "root", "webhook", "list"]);
    assert!(listed[0].get("secret").is_none(), "never listed: {listed}");

    let (a, b) = (open(&cw, "first"), open(&cw, "second"));
    for n in [&a, &b] {
        cw.ok(&["--as", "ana", "case", "take", n]);
        cw.ok(&[
            "--as", "ana", "post", "add", n, "--kind", "note", "--body", "looking",
        ]);
    }
    let expected = deliveries(&cw, &endpoint);
    assert_eq!(
        expected.len(),
        6,
        "three events on each case: {expected:#?}"
    );

    let start = Instant::now();
    loop {
        flush(&cw);
        let done = deliveries(&cw, &endpoint)
            .iter()
            .all(|d| d["status"] == "sent");
        if done {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{:#?}",
            deliveries(&cw, &endpoint)
        );
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert_eq!(receiver.bad(), 0, "every signature verified");
    let received = receiver.received();
    let accepted: Vec<&Value> = received.iter().filter(|r| r["answered"] == 204).collect();
    let mut ids: Vec<&str> = accepted.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6, "each delivery accepted once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "no delivery accepted twice");
    // in order per case: each case's accepted events follow their positions
    let mut per_case: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for r in &accepted {
        let data = &r["payload"]["data"];
        per_case
            .entry(data["event"]["case"].as_u64().unwrap())
            .or_default()
            .push(data["position"].as_u64().unwrap());
    }
    for (case, positions) in &per_case {
        assert_eq!(positions.len(), 3, "case {case}");
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "case {case}: {positions:?}"
        );
    }
    // the first two attempts of each failed, the third got through, and the log says so
    for d in deliveries(&cw, &endpoint) {
        assert_eq!(
            (d["attempts"].as_u64(), d["response_status"].as_u64()),
            (Some(3), Some(204)),
            "{d}"
        );
        let tries = received.iter().filter(|r| r["id"] == d["id"]).count();
        assert_eq!(tries, 3, "{d}");
    }
    // manual redelivery: the same webhook-id once more
    let first = expected.last().unwrap()["id"].as_str().unwrap().to_string();
    cw.ok(&["--as", "root", "webhook", "redeliver", &endpoint, &first]);
    receiver.set_mode("accept");
    flush(&cw);
    let again: Vec<Value> = receiver
        .received()
        .into_iter()
        .filter(|r| r["id"] == first.as_str())
        .collect();
    assert_eq!(again.len(), 4, "{again:#?}");
    assert_eq!(again[3]["answered"], 204);
}

#[test]
fn a_worker_killed_between_send_and_mark_repeats_the_delivery_with_the_same_webhook_id() {
    let receiver = Receiver::start("kill");
    let cw = desk("kill", true);
    let url = format!("http://127.0.0.1:{}/hooks", receiver.port);
    let endpoint = cw.json(&[
        "--as",
        "root",
        "webhook",
        "add",
        &url,
        "--secret",
        SECRET,
        "--event",
        "case.opened",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    open(&cw, "killed mid-delivery");
    // the receiver takes the delivery, then holds back its answer
    receiver.set_mode("hold:30");
    let mut worker = cw.spawn(&["--as", "ana", "outbox", "flush", "--mailer", "log://"]);
    let start = Instant::now();
    while receiver.received().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the receiver got nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    let d = &deliveries(&cw, &endpoint)[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64()),
        (Some("queued"), Some(0)),
        "{d}"
    );

    receiver.set_mode("accept");
    std::thread::sleep(Duration::from_millis(1100));
    let report = flush(&cw);
    assert_eq!(report["webhooks"]["sent"], 1, "{report}");
    let got = receiver.received();
    assert_eq!(got.len(), 2, "delivered twice: at least once, never lost");
    assert_eq!(
        got[0]["id"], got[1]["id"],
        "the same webhook-id, so the receiver can deduplicate"
    );
    assert_eq!(got[0]["payload"], got[1]["payload"]);
    assert_eq!(deliveries(&cw, &endpoint)[0]["status"], "sent");
    assert_eq!(receiver.bad(), 0);
}

#[test]
fn loopback_and_private_endpoints_are_refused_unless_the_operator_allows_them() {
    let cw = desk("ssrf", false);
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
    ] {
        let line = cw.fails(&["--as", "root", "webhook", "add", url], 1);
        assert!(line.contains("allow_private_networks"), "{url}: {line}");
    }
    let line = cw.fails(&["--as", "root", "webhook", "add", "ftp://example.com/"], 1);
    assert!(line.contains("http"), "{line}");
    let line = cw.fails(&["--as", "ana", "webhook", "list"], 2);
    assert!(line.contains("manage"), "{line}");
}
