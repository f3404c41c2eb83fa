//! `casework serve` as a real process on loopback: it prints the address it bound (port 0
//! picks a free one), answers authenticated requests over the chosen store, and stops
//! cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use casework_e2e::Cw;

const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

/// One HTTP/1.1 request on a fresh connection; returns the status code and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
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
    stream.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_answers_over_the_store_and_stops_on_sigterm() {
    let cw = Cw::new(EXE, "serve");
    cw.ok(&[
        "agent",
        "add",
        "root",
        "--role",
        "admin",
        "--email",
        "root@example.com",
    ]);
    let made = cw.json(&[
        "--as", "root", "token", "create", "--name", "root", "--role", "admin",
    ]);
    let token = made["token"].as_str().unwrap().to_string();

    let mut child = Command::new(EXE)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", &cw.dir)
        .env("XDG_DATA_HOME", cw.dir.join("data"))
        .env("XDG_CONFIG_HOME", cw.dir.join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();

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

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest, ["stopped"]);
}
