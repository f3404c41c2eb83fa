//! What wraps every route: a request id (taken from the client or made), a tracing span per
//! request, a cap on the request target (414) and a time limit (503).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, server};

/// How long a request may take before it is answered 503.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Answers 414 (problem+json) for a request target longer than [`server::MAX_URI`], and
/// 503 (problem+json) for a request not done within `limit`. One middleware for both: each
/// `from_fn` layer boxes the rest of the stack again on every request.
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
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
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

/// Wraps routes in the request-id, tracing, URI-length and timeout layers.
pub(crate) fn layered(routes: Router, timeout: std::time::Duration) -> Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
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
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(trace)
            .layer(axum::middleware::from_fn_with_state(timeout, limits)),
    )
}
