//! What wraps every route: a request id (taken from the client or made), a tracing span per
//! request, a cap on the request target (414), a time limit (503), and a body refused as too
//! large (413) read to its end so the client sees why.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use casework_core::limits::MAX_DRAIN;

use crate::{ApiError, server};

/// How long a request may take before it is answered 503.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Answers 414 (problem+json) for a request target longer than [`server::MAX_URI`], and
/// 503 (problem+json) for a request not done within `limit`; a request body refused with 413
/// is read to its end first (up to [`MAX_DRAIN`] past what the route read, within `limit`
/// too; not for a client that asked `Expect: 100-continue`: it waits for the answer and
/// sends nothing more). One middleware for
/// all three: each `from_fn` layer boxes the rest of the stack again on every request.
pub(crate) async fn limits(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > server::MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI too long",
            format!(
                "the request target is {len} bytes; at most {} are accepted",
                server::MAX_URI
            ),
        )
        .into_response();
    }
    let started = tokio::time::Instant::now();
    let (req, rest) = Lent::wrap(req);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => {
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE
                && let Some(rest) = rest
            {
                let left = limit.saturating_sub(started.elapsed());
                let _ = tokio::time::timeout(left, rest.drain()).await;
            }
            response
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request timed out",
            format!(
                "the request was not done within {} s; a write may still have been applied, \
                 so read before retrying",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// A request body lent to the routes, so that what they leave unread can be taken back and
/// drained after they answered 413 ([`limits`]).
struct Lent {
    shared: std::sync::Arc<std::sync::Mutex<Loan>>,
}

/// The body itself and how much of it the routes read.
struct Loan {
    body: Option<axum::body::Body>,
    read: u64,
}

/// What is left to drain of a lent body, when it may be drained at all.
struct Rest {
    shared: std::sync::Arc<std::sync::Mutex<Loan>>,
    declared: Option<u64>,
}

impl Lent {
    /// Lends the body of a request that may carry one; `None` (the request untouched) when it
    /// carries none or its client waits for an answer before sending (`Expect: 100-continue`).
    fn wrap(req: Request) -> (Request, Option<Rest>) {
        use axum::http::header;
        let headers = req.headers();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let waits = headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        if waits || (declared.unwrap_or(0) == 0 && !chunked) {
            return (req, None);
        }
        let (parts, body) = req.into_parts();
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Loan {
            body: Some(body),
            read: 0,
        }));
        let lent = Lent {
            shared: shared.clone(),
        };
        let req = Request::from_parts(parts, axum::body::Body::new(lent));
        (req, Some(Rest { shared, declared }))
    }
}

impl Rest {
    /// Reads and drops what the routes left of the body, up to [`MAX_DRAIN`]; nothing when it
    /// declared more than that past what was read.
    async fn drain(self) {
        use axum::body::HttpBody;
        let (body, read) = {
            let mut loan = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            (loan.body.take(), loan.read)
        };
        let Some(mut body) = body else { return };
        if self
            .declared
            .is_some_and(|n| n.saturating_sub(read) > MAX_DRAIN)
        {
            return;
        }
        let mut drained = 0u64;
        while drained < MAX_DRAIN {
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(frame)) => {
                    drained += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                _ => break,
            }
        }
    }
}

impl axum::body::HttpBody for Lent {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let mut loan = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let Some(body) = loan.body.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let polled = std::pin::Pin::new(body).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
            loan.read += frame.data_ref().map_or(0, |d| d.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let loan = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        loan.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        let loan = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        loan.body
            .as_ref()
            .map_or_else(|| hyper::body::SizeHint::with_exact(0), |b| b.size_hint())
    }
}

/// Makes the id of a request that came without one: UUID-shaped (version 4), from a
/// random start drawn once per process and a counter scrambled by SplitMix64 (a bijection,
/// so ids never repeat within a process), without the system call for fresh randomness a
/// UUID v4 costs on every request.
#[derive(Clone)]
pub(crate) struct NewRequestId {
    start: u64,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl NewRequestId {
    pub(crate) fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // std seeds its hash keys from the operating system's randomness
        let start = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self {
            start,
            next: std::sync::Arc::default(),
        }
    }

    /// The `n`th id: 64 bits unique to `n` in the UUID's fields that carry neither its
    /// version nor its variant, 58 more scrambled bits in the rest.
    fn nth(&self, n: u64) -> String {
        fn mix(mut z: u64) -> u64 {
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        let unique = mix(self
            .start
            .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        let more = mix(unique ^ self.start.rotate_left(32));
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:04x}{:08x}",
            unique >> 32,
            (unique >> 16) & 0xffff,
            more & 0xfff,
            0x8000 | ((more >> 12) & 0x3fff),
            unique & 0xffff,
            (more >> 26) & 0xffff_ffff,
        )
    }
}

impl tower_http::request_id::MakeRequestId for NewRequestId {
    fn make_request_id<B>(
        &mut self,
        _: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&self.nth(n))
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// Wraps routes in the request-id, tracing, URI-length and timeout layers.
pub(crate) fn layered(routes: Router, timeout: std::time::Duration) -> Router {
    use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
    let trace = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
        })
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO));
    routes.layer(
        // outermost first: every answer, a timed-out one too, carries the request id
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(NewRequestId::new()))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(trace)
            .layer(axum::middleware::from_fn_with_state(timeout, limits)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_request_ids_are_version_4_uuids_that_never_repeat() {
        let ids = NewRequestId::new();
        let mut seen = std::collections::HashSet::new();
        for n in (0..50_000).chain(u64::MAX - 50_000..=u64::MAX) {
            let id = ids.nth(n);
            let parsed = uuid_fields(&id);
            assert_eq!(parsed, [8, 4, 4, 4, 12], "{id}");
            assert_eq!(&id[14..15], "4", "version of {id}");
            assert!("89ab".contains(&id[19..20]), "variant of {id}");
            assert!(seen.insert(id.clone()), "{id} repeated");
        }
        // another process starts elsewhere
        assert_ne!(NewRequestId::new().nth(0), ids.nth(0));
    }

    /// The lengths of an id's dash-separated groups of lower-case hex digits.
    fn uuid_fields(id: &str) -> Vec<usize> {
        id.split('-')
            .map(|g| {
                assert!(
                    g.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                    "{id}"
                );
                g.len()
            })
            .collect()
    }
}
