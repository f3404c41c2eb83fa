//! The server: request ids and timeouts in-process, then connections over real sockets
//! (slow heads, idle connections, the connection cap, long request targets).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::StatusCode;

use super::*;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let made = call(&app, "GET", "/healthz", None, None, &[]).await;
    let id = made.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let other = call(&app, "GET", "/healthz", None, None, &[]).await;
    assert_ne!(
        other.headers["x-request-id"],
        id.as_str(),
        "one per request"
    );
    let kept = call(
        &app,
        "GET",
        "/api/v1/cases",
        None,
        None,
        &[("x-request-id", "client-42")],
    )
    .await;
    assert_eq!(kept.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        kept.headers["x-request-id"], "client-42",
        "the client's id is kept, errors too"
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_is_answered_503() {
    // the production layers around a handler that takes longer than the timeout
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let app = crate::layers::layered(slow, std::time::Duration::from_millis(20));
    let r = call(&app, "GET", "/slow", None, None, &[]).await;
    is_problem(&r, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["title"], "request timed out");
    assert!(
        r.headers.contains_key("x-request-id"),
        "timed-out answers carry the request id too"
    );
}

#[tokio::test]
async fn a_uri_over_the_limit_is_a_problem_414() {
    let app = app(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let long = format!("/api/v1/cases?q={}", "x".repeat(crate::server::MAX_URI));
    let r = call(&app, "GET", &long, Some(AGENT), None, &[]).await;
    is_problem(&r, StatusCode::URI_TOO_LONG);
    assert!(r.headers.contains_key("x-request-id"));
    // at the limit it is served
    let at = format!("/healthz?{}", "x".repeat(crate::server::MAX_URI - 9));
    assert_eq!(at.len(), crate::server::MAX_URI);
    let r = call(&app, "GET", &at, None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Serves a small app on a free port with `limits`; returns its address and a sender that
/// stops it, and the task that ends when it has stopped.
async fn served(
    limits: crate::ServeLimits,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let app = app(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

/// Sends a whole GET on a new connection and reads the status line.
async fn get_status(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Reads until the server closes the connection; `None` if it is still open after `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: std::time::Duration) -> Option<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn half_sent_heads_and_idle_connections_are_closed_by_the_server() {
    use tokio::io::AsyncWriteExt;
    let limits = crate::ServeLimits {
        header_read_timeout: std::time::Duration::from_millis(300),
        max_connections: 64,
    };
    let (addr, stop, task) = served(limits).await;
    let mut half = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        half.push(s);
    }
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    // "eventually": far longer than the timeout, far shorter than forever
    let bound = std::time::Duration::from_secs(10);
    for s in &mut half {
        assert!(
            closed_within(s, bound).await.is_some(),
            "a half-sent head stayed open"
        );
    }
    assert!(
        closed_within(&mut idle, bound).await.is_some(),
        "an idle connection stayed open"
    );
    assert_eq!(get_status(addr, "/healthz").await, "HTTP/1.1 200 OK");
    stop.send(()).unwrap();
    tokio::time::timeout(bound, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = crate::ServeLimits {
        header_read_timeout: std::time::Duration::from_secs(60),
        max_connections: 2,
    };
    let (addr, stop, task) = served(limits).await;
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    // the third connects (the kernel's backlog) but is not served while two are open
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        third.read_to_end(&mut buf),
    )
    .await;
    assert!(early.is_err(), "served past the cap: {buf:?}");
    drop(first);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        third.read_to_end(&mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200 OK"),
        "{buf:?}"
    );
    stop.send(()).unwrap();
    drop(_second);
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_long_uri_over_a_socket_is_a_problem_414() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, stop, task) = served(crate::ServeLimits::default()).await;
    let ask = |target: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).to_string()
    };
    // longer than the router takes, within what hyper surely parses
    let target = format!("/healthz?{}", "a".repeat(crate::server::MAX_HEAD - 200));
    assert!(target.len() > crate::server::MAX_URI);
    let long = ask(target).await;
    assert!(long.starts_with("HTTP/1.1 414"), "{long}");
    assert!(long.contains("application/problem+json"), "{long}");
    assert!(long.contains("\"status\":414"), "{long}");
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}
