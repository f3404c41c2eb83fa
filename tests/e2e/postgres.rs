//! Recipe 12 of QUALITY.md: many `casework serve` processes on one PostgreSQL database
//! behave as one. Real processes, a real server the tests start themselves (Debian's
//! PostgreSQL, a throw-away cluster under `target/`), the real SMTP test server: unique
//! numbers, one case per idempotency key, one winner per If-Match round, revocation seen by
//! every server, every message sent once, and nothing acknowledged lost when a server is
//! SIGKILLed or PostgreSQL stops with `pg_ctl stop -m immediate`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casework_core::event::replay;
use casework_core::ports::{CaseFilter, CaseLog, CaseQueries, PageRequest};
use casework_e2e::{Cw, SmtpServer};
use casework_store_postgres::PgStore;
use casework_test_postgres::{Cluster, Options};

use crate::cli::EXE;
use crate::serve::{http, request, try_http};

const CASE: &str = r#"{"title":"Printer offline","origin":"web","customer":{"name":"C","email":"c@customer.example"}}"#;

/// A private home whose store is a fresh database on `cluster`, with root and the seed's
/// staff (Ana Lopez, Lee Park); its URL.
fn desk(cluster: &Cluster, name: &str) -> (Cw, String) {
    let url = cluster
        .fresh_database(name)
        .unwrap_or_else(|e| panic!("{e}"));
    let cw = Cw::new(EXE, &format!("pg-{name}")).with_env("CASEWORK_STORE", &url);
    cw.ok(&["init"]);
    cw.first_admin();
    crate::cli::staff(&cw);
    (cw, url)
}

/// Opens the database directly and checks that every case's events replay to its state.
fn every_case_replays(url: &str) -> u64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = PgStore::open_url(url).await.unwrap();
        let mut after = None;
        let mut checked = 0;
        loop {
            let page = store
                .list_cases(
                    CaseFilter::default(),
                    PageRequest {
                        limit: 500,
                        after,
                        ..PageRequest::default()
                    },
                )
                .await
                .unwrap();
            for case in &page.items {
                let history = store.history(case.number).await.unwrap();
                assert_eq!(
                    replay(&history).unwrap(),
                    *case,
                    "case {} replays to its state",
                    case.number
                );
                checked += 1;
            }
            match page.items.last() {
                Some(last) if page.next_cursor.is_some() => after = Some(last.number),
                _ => return checked,
            }
        }
    })
}

#[test]
fn the_cli_and_doctor_work_on_postgres() {
    let (cw, url) = desk(Cluster::shared(), "cli");
    let n = crate::cli::open(&cw, "Zoë's map export fails");
    cw.ok(&["--as", "Ana Lopez", "case", "take", &n]);
    let shown = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(shown["case"]["owner"], "Ana Lopez", "{shown}");
    let found = cw.json(&["--as", "Ana Lopez", "search", "export"]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let doctor = cw.json(&["doctor"]);
    assert_eq!(doctor["store"], url.as_str());
    assert_eq!(
        doctor["schema_version"],
        casework_store_postgres::SCHEMA_VERSION
    );
    assert_eq!(doctor["cases"], 1);
    let text = cw.ok(&["doctor"]);
    assert!(text.contains(&format!("Store:      {url}")), "{text}");
    // a password never shows
    let secret = Cw::new(EXE, "pg-secret").with_env(
        "CASEWORK_STORE",
        &url.replace("casework@", "casework:hunter2@"),
    );
    let out = secret.ok(&["doctor"]);
    assert!(
        !out.contains("hunter2") && out.contains("casework:***@"),
        "{out}"
    );
}

#[test]
fn two_servers_on_one_database_behave_as_one() {
    let (cw, _) = desk(Cluster::shared(), "two");
    let token = cw.token("desk", "admin");
    let servers = [cw.serve(&[]), cw.serve(&[])];
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();

    // concurrent creates through both servers: every acknowledged case is there once
    let acks = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (addr, token, acks) = (addrs[i % 2].clone(), token.clone(), acks.clone());
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let (status, body) =
                        http(&addr, "POST", "/api/v1/cases", Some(&token), Some(CASE));
                    assert_eq!(status, 201, "{body}");
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    acks.lock().unwrap().push(v["number"].as_u64().unwrap());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    let unique: BTreeSet<u64> = acks.iter().copied().collect();
    assert_eq!(unique.len(), 200, "every create got its own number");
    let listed = cw.case_numbers();
    assert_eq!(
        listed,
        unique.iter().copied().collect::<Vec<_>>(),
        "each once, in order"
    );

    // one idempotency key, twenty concurrent requests over both servers: one case
    let before = listed.len();
    let replies: Vec<_> = (0..20)
        .map(|i| {
            let (addr, token) = (addrs[i % 2].clone(), token.clone());
            std::thread::spawn(move || {
                let (status, _, body) = request(
                    &addr,
                    "POST",
                    "/api/v1/cases",
                    Some(&token),
                    &[("Idempotency-Key", "same-request-7")],
                    Some(CASE),
                )
                .unwrap();
                assert!(status == 201 || status == 200, "{status} {body}");
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                v["number"].as_u64().unwrap()
            })
        })
        .collect();
    let numbers: BTreeSet<u64> = replies.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(numbers.len(), 1, "one case for one key: {numbers:?}");
    assert_eq!(cw.case_numbers().len(), before + 1);

    // If-Match writers on one case through different servers: exactly one wins each round
    let n = acks[0];
    let note = r#"{"kind":"note","body":"racing","visibility":"internal"}"#;
    for round in 0..10 {
        let (_, headers, _) = request(
            &addrs[0],
            "GET",
            &format!("/api/v1/cases/{n}"),
            Some(&token),
            &[],
            None,
        )
        .unwrap();
        let etag = headers
            .iter()
            .find(|(k, _)| k == "etag")
            .map(|(_, v)| v.clone())
            .unwrap();
        let writers: Vec<_> = addrs
            .iter()
            .map(|addr| {
                let (addr, token, etag) = (addr.clone(), token.clone(), etag.clone());
                std::thread::spawn(move || {
                    request(
                        &addr,
                        "POST",
                        &format!("/api/v1/cases/{n}/posts"),
                        Some(&token),
                        &[("If-Match", &etag)],
                        Some(note),
                    )
                    .unwrap()
                    .0
                })
            })
            .collect();
        let mut statuses: Vec<u16> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 412],
            "round {round}: one winner, one conflict"
        );
    }
    let shown = cw.json(&["--as", "root", "case", "show", &n.to_string()]);
    assert_eq!(shown["case"]["version"], 11, "one event per winning write");

    // a token revoked through one process stops working on every server within the cache's
    // time to live (one second) plus a margin
    let staff = cw.token("temp", "agent");
    for addr in &addrs {
        assert_eq!(
            http(addr, "GET", "/api/v1/cases", Some(&staff), None).0,
            200
        );
    }
    let listed = cw.json(&["--as", "root", "token", "list"]);
    let id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "temp")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .unwrap();
    cw.ok(&["--as", "root", "token", "revoke", &id]);
    let revoked = Instant::now();
    for addr in &addrs {
        while http(addr, "GET", "/api/v1/cases", Some(&staff), None).0 != 401 {
            assert!(
                revoked.elapsed() < Duration::from_secs(3),
                "{addr} still takes a token revoked {:?} ago",
                revoked.elapsed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn two_servers_delivering_send_every_message_once() {
    let smtp = SmtpServer::start("pg-two", &[]);
    let (cw, _) = desk(Cluster::shared(), "mail");
    let n = crate::cli::open(&cw, "Mail");
    cw.ok(&["--as", "Ana Lopez", "case", "take", &n]);
    for _ in 0..30 {
        cw.ok(&[
            "--as",
            "Ana Lopez",
            "email",
            "send",
            &n,
            "--template",
            "follow-up",
            "--discussed",
            "the spooler",
        ]);
    }
    let url = smtp.url("");
    let args = ["--mailer", url.as_str(), "--deliver-every", "1"];
    let servers = [cw.serve(&args), cw.serve(&args)];
    let got = smtp.wait_for(30, Duration::from_secs(60));
    // both workers have had time to look again: nothing more arrives
    let start = Instant::now();
    let sent = |cw: &Cw| {
        cw.json(&["--as", "Ana Lopez", "outbox", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "sent")
    };
    while !sent(&cw) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));
    drop(servers);
    assert_eq!(got.len(), 30);
    let all = smtp.messages();
    let ids: BTreeSet<String> = all
        .iter()
        .map(|m| m["headers"]["Message-ID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        (all.len(), ids.len()),
        (30, 30),
        "every message exactly once"
    );
    assert!(sent(&cw), "and every one marked sent");
}

/// Clients creating cases through `addrs` until `stop`; the numbers acknowledged with 201.
/// Anything else (a refused connection, a 503 while PostgreSQL is down) is not an
/// acknowledgement, and the client goes on.
fn load(
    addrs: Vec<String>,
    token: String,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<u64>>> {
    (0..6)
        .map(|i| {
            let (addrs, token, stop) = (addrs.clone(), token.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut k = i;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    match try_http(
                        &addrs[k % addrs.len()],
                        "POST",
                        "/api/v1/cases",
                        Some(&token),
                        Some(CASE),
                    ) {
                        Ok((201, body)) => {
                            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                            acked.push(v["number"].as_u64().unwrap());
                        }
                        Ok((503, _)) | Ok((0, _)) | Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    }
                }
                acked
            })
        })
        .collect()
}

#[test]
fn nothing_acknowledged_is_lost_when_a_server_is_killed_or_postgres_stops_at_once() {
    // its own cluster: this test stops it
    let cluster = Cluster::start(Options::new("crash")).unwrap_or_else(|e| panic!("{e}"));
    let (cw, url) = desk(&cluster, "crash");
    let token = cw.token("load", "admin");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    eprintln!("postgres crash test seed {seed}");
    let mut pause = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Duration::from_millis(300 + seed % 500)
    };
    let mut acknowledged: Vec<u64> = Vec::new();
    let mut a = cw.serve(&[]);
    let b = cw.serve(&[]);

    // 1. SIGKILL one server mid-load; the other goes on
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(
        vec![a.addr.clone(), b.addr.clone()],
        token.clone(),
        stop.clone(),
    );
    std::thread::sleep(pause());
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    std::thread::sleep(pause());
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        acknowledged.extend(c.join().unwrap());
    }
    assert!(
        !acknowledged.is_empty(),
        "cases were acknowledged before the kill"
    );

    // 2. PostgreSQL stops at once mid-load, then comes back; the servers reconnect
    let a = cw.serve(&[]);
    let addrs = vec![a.addr.clone(), b.addr.clone()];
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(addrs.clone(), token.clone(), stop.clone());
    std::thread::sleep(pause());
    cluster
        .pg_ctl_stop_immediate()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    cluster.pg_ctl_start().unwrap_or_else(|e| panic!("{e}"));
    // both servers answer again, without a restart
    for addr in &addrs {
        let back = Instant::now();
        loop {
            match try_http(addr, "POST", "/api/v1/cases", Some(&token), Some(CASE)) {
                Ok((201, body)) => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    acknowledged.push(v["number"].as_u64().unwrap());
                    break;
                }
                other => {
                    assert!(
                        back.elapsed() < Duration::from_secs(30),
                        "{addr} did not recover: {other:?}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    std::thread::sleep(pause());
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        acknowledged.extend(c.join().unwrap());
    }
    drop((a, b));

    let listed: BTreeSet<u64> = cw.case_numbers().into_iter().collect();
    let unique: BTreeSet<u64> = acknowledged.iter().copied().collect();
    assert_eq!(
        unique.len(),
        acknowledged.len(),
        "no number acknowledged twice"
    );
    let lost: Vec<u64> = unique.difference(&listed).copied().collect();
    assert!(lost.is_empty(), "acknowledged cases lost: {lost:?}");
    let checked = every_case_replays(&url);
    assert_eq!(checked as usize, listed.len());
    eprintln!(
        "{} acknowledged, {} on file, every case replays",
        unique.len(),
        listed.len()
    );
}

/// What a reader sees of the store `cw` uses, engine-independent: every case as shown
/// (timeline with delivery states) and its history, people, tokens, the outbox, the report,
/// and the sets of search and similar-case hits (ranking scores differ between engines;
/// which documents match does not).
fn dump(cw: &Cw) -> serde_json::Value {
    let as_ana = |args: &[&str]| {
        let mut all = vec!["--as", "Ana Lopez"];
        all.extend_from_slice(args);
        cw.json(&all)
    };
    let hits = |v: serde_json::Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| format!("{} {} {}", h["kind"], h["ref"], h["title"]))
            .collect()
    };
    let mut cases = Vec::new();
    for n in cw.case_numbers() {
        let n = n.to_string();
        // each file whole: its metadata and its bytes (base64)
        let files: Vec<_> = as_ana(&["case", "attachments", &n])
            .as_array()
            .unwrap()
            .iter()
            .map(|f| as_ana(&["case", "download", &n, f["id"].as_str().unwrap()]))
            .collect();
        cases.push(serde_json::json!({
            "shown": as_ana(&["case", "show", &n]),
            "history": as_ana(&["case", "history", &n]),
            "files": files,
            "similar": hits(as_ana(&["case", "similar", &n, "--limit", "50"])),
        }));
    }
    let searches: Vec<_> = ["999999", "map service", "publishing", "data store"]
        .iter()
        .map(|q| hits(as_ana(&["search", q, "--limit", "50"])))
        .collect();
    // the inbound quarantine, each message with its bytes
    let quarantine: Vec<_> = cw.json(&["--as", "Lee Park", "mail", "quarantine", "list"])["items"]
        .clone()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let id = m["id"].as_str().unwrap();
            let raw = cw.run(&[
                "--as",
                "Lee Park",
                "mail",
                "quarantine",
                "show",
                id,
                "--raw",
            ]);
            serde_json::json!({"entry": m, "raw": raw.stdout})
        })
        .collect();
    serde_json::json!({
        "cases": cases,
        "searches": searches,
        "people": as_ana(&["agent", "list"]),
        "tokens": cw.json(&["--as", "root", "token", "list"]),
        "outbox": as_ana(&["outbox", "list"]),
        "report": as_ana(&["report", "reopens", "--by", "owner"]),
        "quarantine": quarantine,
    })
}

#[test]
fn store_copy_moves_a_sqlite_store_to_postgres_and_back() {
    // a SQLite store with every kind of record
    let src = crate::cli::staffed("copy-src");
    crate::cli::seed_workflow(&src);
    let extra = crate::cli::open(&src, "Second case: data store lost after upgrade");
    src.ok(&[
        "--as",
        "Ana Lopez",
        "post",
        "add",
        &extra,
        "--kind",
        "note",
        "--body",
        "zebracorn internal suspicion",
    ]);
    src.ok(&[
        "--as",
        "root",
        "defect",
        "add",
        "--key",
        "BUG-000123",
        "--title",
        "Data store registration lost on upgrade",
        "--body",
        "Upgrading drops the registration.",
    ]);
    let binary: Vec<u8> = (0..=255u8).cycle().take(4_096).collect();
    let bin = src.dir.join("dump.bin");
    std::fs::write(&bin, &binary).unwrap();
    for visibility in [None, Some("--internal")] {
        let mut args = vec!["--as", "Ana Lopez", "case", "attach", &extra];
        args.push(bin.to_str().unwrap());
        args.extend(visibility);
        src.ok(&args);
    }
    let mail = src.dir.join("mail");
    src.ok(&[
        "--as",
        "Ana Lopez",
        "outbox",
        "flush",
        "--mailer",
        &format!("dir://{}", mail.display()),
    ]);
    src.ok(&["--as", "Ana Lopez", "case", "take", &extra]);
    src.ok(&[
        "--as",
        "Ana Lopez",
        "email",
        "send",
        &extra,
        "--template",
        "initial-contact",
    ]);
    let revoked = src.json(&[
        "--as", "root", "token", "create", "--name", "old", "--role", "agent",
    ]);
    src.ok(&[
        "--as",
        "root",
        "token",
        "revoke",
        revoked["id"].as_str().unwrap(),
    ]);
    src.token("kept", "lead");
    // an out-of-office reply: kept in the quarantine, never a case
    let ooo = "From: Zoe Kunde <zoe@kunde.example>\r\nTo: support@example.com\r\n\
               Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\
               Message-ID: <away-1@kunde.example>\r\n\r\nBack on Monday.\r\n";
    let kept = src.run_with(&["mail", "ingest"], Some(ooo));
    assert!(kept.stdout.contains("kept in the quarantine"), "{kept:?}");
    let source_url = format!(
        "sqlite://{}",
        src.dir.join("data/casework/casework.db").display()
    );
    let source = dump(&src);
    assert_eq!(
        source["quarantine"][0]["raw"], ooo,
        "{}",
        source["quarantine"]
    );
    assert!(
        source["outbox"].as_array().unwrap().len() >= 3,
        "{}",
        source["outbox"]
    );
    let files = source["cases"][1]["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{}", source["cases"][1]["files"]);
    assert_eq!(files[1]["info"]["visibility"], "internal");

    // to PostgreSQL
    let pg_url = Cluster::shared().fresh_database("copy").unwrap();
    let run = src.run(&["store", "copy", "--from", &source_url, "--to", &pg_url]);
    assert_eq!(run.code, 0, "{}{}", run.stderr, run.stdout);
    assert!(run.stdout.contains("Verified"), "{}", run.stdout);
    assert!(
        run.stderr.contains("copied 2/2 cases"),
        "plain progress lines off a terminal: {}",
        run.stderr
    );
    let on_pg = Cw::new(EXE, "copy-pg").with_env("CASEWORK_STORE", &pg_url);
    assert_eq!(dump(&on_pg), source, "PostgreSQL holds what SQLite held");

    // and back, into a new SQLite file
    let back_path = src.dir.join("back/cases.db");
    let back_url = format!("sqlite://{}", back_path.display());
    let run = src.run(&["store", "copy", "--from", &pg_url, "--to", &back_url]);
    assert_eq!(run.code, 0, "{}{}", run.stderr, run.stdout);
    let back = Cw::new(EXE, "copy-back").with_env("CASEWORK_STORE", &back_url);
    assert_eq!(dump(&back), source);
    // same engine, same ranking: search answers equal score for score
    for q in ["999999", "data store"] {
        assert_eq!(
            back.json(&["--as", "Ana Lopez", "search", q]),
            src.json(&["--as", "Ana Lopez", "search", q]),
        );
    }

    // a rerun changes nothing; after the source moves on, it catches up
    let again = src.json(&["store", "copy", "--from", &source_url, "--to", &pg_url]);
    assert_eq!(again["cases"]["unchanged"], 2, "{again}");
    assert_eq!(again["cases"]["written"], 0);
    assert_eq!(again["files"], 2, "{again}");
    assert_eq!(again["quarantine"]["unchanged"], 1, "{again}");
    src.ok(&[
        "--as",
        "Ana Lopez",
        "post",
        "add",
        &extra,
        "--kind",
        "note",
        "--body",
        "after the move",
    ]);
    let caught = src.json(&["store", "copy", "--from", &source_url, "--to", &pg_url]);
    assert_eq!(caught["cases"]["updated"], 1, "{caught}");
    assert_eq!(dump(&on_pg), dump(&src));

    // the workflow file's `store` permission decides who may copy: an agent and an admin
    // are refused (exit 2) and the target gets no record
    let refused_url = Cluster::shared().fresh_database("copy-refused").unwrap();
    for who in ["Ana Lopez", "root"] {
        let e = src.fails(
            &[
                "--as",
                who,
                "store",
                "copy",
                "--from",
                &source_url,
                "--to",
                &refused_url,
            ],
            2,
        );
        assert!(e.contains("copy a whole store"), "{who}: {e}");
    }
    let refused = Cw::new(EXE, "copy-refused").with_env("CASEWORK_STORE", &refused_url);
    let doctor = refused.json(&["doctor"]);
    assert_eq!(
        (&doctor["cases"], &doctor["people"]),
        (&0.into(), &0.into()),
        "{doctor}"
    );

    // refused: the same store twice, a remote server
    let e = src.fails(&["store", "copy", "--from", &pg_url, "--to", &pg_url], 1);
    assert!(e.contains("same store"), "{e}");
    let e = src.fails(
        &[
            "store",
            "copy",
            "--from",
            "http://127.0.0.1:1",
            "--to",
            &pg_url,
        ],
        1,
    );
    assert!(e.contains("remote server"), "{e}");
}
