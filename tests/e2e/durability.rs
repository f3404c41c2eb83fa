//! Recipes 1 and 6 of QUALITY.md on the SQLite store: a writer SIGKILLed at a random moment
//! loses no acknowledged write and leaves a sound file; two processes writing one file see
//! no busy error and lose nothing.
//!
//! What a SIGKILL proves is durability against a *process* crash: what the process handed
//! the kernel survives it in the page cache, so a store at `synchronous=NORMAL` or `OFF`
//! would pass too. Durability against power loss rests on the writer's `synchronous=FULL`
//! (and WAL), which `crates/casework-store-sqlite/tests/opening.rs` asserts on the writer's
//! own connection.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use casework_core::event::{EventKind, replay};
use casework_core::ids::CaseNumber;
use casework_core::ports::{CaseLog, Diagnostics};
use casework_store_sqlite::SqliteStore;

const WRITER: &str = env!("CARGO_BIN_EXE_casework-test-writer");

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("casework-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("cases.db")
}

/// A small xorshift generator seeded from the clock: a different kill moment each run,
/// printed so a failure can be reproduced by hand.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(1);
    (nanos as u64) | 1
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Everything acknowledged on a writer's stdout.
#[derive(Default)]
pub struct Acks {
    /// Cases whose creation was acknowledged.
    pub cases: BTreeSet<u64>,
    /// Cases with an acknowledged post.
    pub posts: BTreeSet<u64>,
}

fn collect(lines: impl Iterator<Item = String>) -> Acks {
    let mut acks = Acks::default();
    for line in lines {
        match line.split_once(' ') {
            Some(("case", n)) => {
                acks.cases.insert(n.parse().unwrap());
            }
            Some(("post", n)) => {
                acks.posts.insert(n.parse().unwrap());
            }
            _ => panic!("unexpected writer output {line:?}"),
        }
    }
    acks
}

/// Opens the store after the fact and checks every acknowledged write, the file's
/// integrity, and that every case's events replay to its stored state.
pub async fn verify(path: &Path, acks: &Acks) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let store = SqliteStore::open_url(&format!("sqlite://{}", path.display())).unwrap();
    let stats = store.stats().await.unwrap();
    for n in 1..=stats.cases {
        let number = CaseNumber::new(n).unwrap();
        let case = store.load_case(number).await.unwrap();
        let history = store.history(number).await.unwrap();
        assert_eq!(
            replay(&history).unwrap(),
            case,
            "case {n} replays to its state"
        );
    }
    for n in &acks.cases {
        store
            .load_case(CaseNumber::new(*n).unwrap())
            .await
            .unwrap_or_else(|e| panic!("acknowledged case {n} lost: {e}"));
    }
    for n in &acks.posts {
        let history = store.history(CaseNumber::new(*n).unwrap()).await.unwrap();
        assert!(
            history
                .iter()
                .any(|e| matches!(e.kind, EventKind::PostAdded { .. })),
            "acknowledged post on case {n} lost"
        );
    }
    stats.cases
}

#[tokio::test]
async fn a_process_crash_of_the_writer_loses_no_acknowledged_write() {
    let path = temp_db("crash");
    let url = format!("sqlite://{}", path.display());
    let mut rng = seed();
    eprintln!("crash test seed {rng}");
    let mut all = Acks::default();
    for round in 0..5 {
        let mut child = Command::new(WRITER)
            .args([url.as_str(), "16", "100000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, acked) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let mut first_ack = Some(first_ack);
            collect(
                BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .inspect(move |_| {
                        if let Some(tx) = first_ack.take() {
                            let _ = tx.send(());
                        }
                    }),
            )
        });
        // the kill comes at a random moment once the writer is writing: on a loaded machine,
        // starting it and opening (in round 0, creating) the store can take longer than any
        // fixed delay, and a kill before the first write would test nothing
        let writing = acked.recv_timeout(Duration::from_secs(60));
        let wait = next(&mut rng) % 600;
        if writing.is_ok() {
            std::thread::sleep(Duration::from_millis(wait));
        }
        child.kill().unwrap(); // SIGKILL on Unix: no chance to flush or clean up
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        assert!(
            writing.is_ok() && !acks.cases.is_empty(),
            "round {round}: the writer acknowledged nothing within 60 s"
        );
        let total = verify(&path, &acks).await;
        assert!(total >= acks.cases.len() as u64);
        all.cases.extend(acks.cases);
        all.posts.extend(acks.posts);
        eprintln!(
            "round {round}: killed {wait} ms after the first acknowledgement, {} cases on file",
            total
        );
    }
    verify(&path, &all).await;
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn two_processes_on_one_file_see_no_busy_error_and_lose_nothing() {
    let path = temp_db("two-procs");
    let url = format!("sqlite://{}", path.display());
    // create the schema first, so both writers open an existing database
    drop(SqliteStore::open_url(&url).unwrap());
    let spawn = || {
        Command::new(WRITER)
            .args([url.as_str(), "8", "40"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut acks = Acks::default();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a writer failed: {stderr}");
        assert!(!stderr.to_lowercase().contains("busy"), "{stderr}");
        let got = collect(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
        assert_eq!(got.cases.len(), 320);
        assert!(
            acks.cases.is_disjoint(&got.cases),
            "two processes got the same case number"
        );
        acks.cases.extend(got.cases);
        acks.posts.extend(got.posts);
    }
    let total = verify(&path, &acks).await;
    assert_eq!(total, 640);
    assert_eq!(
        acks.cases,
        (1..=640).collect(),
        "numbers are unique and without gaps"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
