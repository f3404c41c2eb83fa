//! Serving the router on a TCP listener with the limits a public server needs: a
//! connection that does not send a request's headers in time is closed (slowloris, idle
//! keep-alive), the number of open connections is capped, request heads are bounded, and a
//! shutdown signal stops accepting and lets requests in flight finish.
//!
//! `axum::serve` cannot set hyper's header-read timer, so this is hyper's HTTP/1 connection
//! builder with hyper-util's tokio timer and graceful-shutdown watcher.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Largest request head (request line and headers) hyper is sure to parse. A longer one may
/// be answered by hyper itself, before the router sees it (431, empty body). One read can
/// overshoot this buffer limit by at most the limit itself, so a head hyper parses stays
/// under the 64 KiB at which it refuses a URI on its own (414, empty body): every URI too
/// long for the router ([`MAX_URI`]) that fits here gets the router's problem+json 414.
pub const MAX_HEAD: usize = 32 * 1024;

/// Longest request target (path and query) the router accepts; longer: 414.
pub const MAX_URI: usize = 8 * 1024;

/// How a server treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// A connection that has not sent a whole request head this long after it opened, or
    /// after its last response (an idle keep-alive connection), is closed.
    pub header_read_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets every
/// open connection finish its request in flight (idle ones close at once), and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        // the semaphore is never closed
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match stream {
            Ok(accepted) => accepted,
            Err(e) => {
                // a connection reset before it was accepted is not the listener's fault; out
                // of file descriptors and the like are, and retrying at once would spin
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) {
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let (stream, peer) = stream;
        // handlers that need the client's address (the desk's sign-in throttle) read it as
        // axum's `ConnectInfo`
        let service = tower::util::MapRequest::new(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
