//! Runs the examples as their users would and checks what they print: `cargo test` builds
//! every example of this package before its tests run, so the binaries are beside the test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The built example `name`: `target/<profile>/examples/<name>`, beside this test's `deps`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test -p casework-examples` (it builds the examples)",
        path.display()
    );
    path
}

/// Runs an example with `args` for at most a minute and returns what it printed; fails
/// the test if it failed.
fn run(name: &str, args: &[&str]) -> String {
    let mut child = Command::new(example(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} ran for over a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} failed: {stderr}\n{stdout}");
    stdout
}

#[test]
fn the_core_embedded_on_sqlite_opens_takes_and_checks_a_case_on_disk() {
    let dir = std::env::temp_dir().join(format!("casework-example-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("cases.db");
    let url = format!("sqlite://{}", db.display());
    let out = run("embed_sqlite", &[&url]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"case 00000001 is New and owned by Ana Lopez"),
        "{out}"
    );
    // the default workflow's checklist, item by item, named as core names them
    for item in [
        "(summary)",
        "(title)",
        "(product)",
        "(product_area)",
        "(issue)",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("before closing: ") && l.ends_with(item)),
            "no {item} in\n{out}"
        );
    }
    assert!(db.exists(), "the case is in the file");
    // the same file again: the store keeps what it has, the agent is already there
    let again = std::process::Command::new(example("embed_sqlite"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "registering a second first person is refused"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("people are already registered"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_custom_store_sees_every_commit_and_the_rest_goes_through() {
    let out = run("custom_store", &[]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "created case 00000001",
            "committed case 00000001 v2: owner_changed",
            "committed case 00000001 v3: post_added",
            "2 commits through the wrapper; the case's history has 3 events",
        ],
        "{out}"
    );
}

#[test]
fn casework_mounted_in_a_host_app_answers_its_users_as_their_actors() {
    let out = run("host_axum", &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "GET / as nobody: 200",
            "  the host application's home page",
            "GET /support/api/v1/cases as nobody: 401",
            "POST /support/api/v1/cases as s-dana: 201",
            "  case \"00000001\" for \"dana@example.com\"",
            "GET /support/api/v1/cases as s-alice: 200",
            "  1 case(s): Invoice PDF is blank",
            "GET /support/api/v1/cases/1/history as s-dana: 403",
            "GET /support/api/v1/cases/1/history as s-alice: 200",
            "  events: opened",
        ],
        "{out}"
    );
}
