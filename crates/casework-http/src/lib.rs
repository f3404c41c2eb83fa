//! Casework's HTTP API (v1) as a library: `router(state)` gives an axum `Router` over the
//! core service. Handlers parse and authenticate, call the service, and shape responses; no
//! workflow rule lives here. The contract is `shared/brief/API.md`.
//!
//! Every case response carries `ETag: "<version>"`; `PATCH` needs `If-Match` (428 without,
//! 412 when stale); actions honour it when sent. Errors are problem+json ([`ApiError`]).
//!
//! Where things are: this file routes and nothing else. `state.rs` (what handlers share),
//! `auth.rs` (bearer tokens and their cache), `extract.rs` (bodies, parameters, `If-Match`),
//! `respond.rs` (a case with its `ETag`), `layers.rs` (request ids, tracing, limits),
//! `error.rs`, `rules.rs` (what each request field accepts, in the document, from core); then one module per resource: `cases.rs`, `case_actions.rs`, `timeline.rs`,
//! `attachments.rs` (files: upload, list, download), `emails.rs`, `search.rs`, `knowledge.rs`, `reports.rs`, `outbox.rs`, `events.rs` (the change feed), `webhooks.rs`, `people.rs` (notification settings), `statuses.rs`,
//! `inbound.rs` (raw email in), `health.rs`, `store_api.rs` (the storage protocol); `openapi.rs` (the document) and
//! `server.rs` (serving it on a socket).

mod attachments;
mod auth;
mod case_actions;
mod cases;
mod emails;
mod error;
mod events;
mod extract;
mod health;
mod inbound;
mod knowledge;
mod layers;
pub mod openapi;
mod outbox;
mod people;
mod reports;
mod respond;
mod rules;
mod search;
pub mod server;
mod state;
mod statuses;
mod store_api;
mod timeline;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub use auth::{AUTH_TTL, Auth, AuthCache, Identified, MonotonicClock};
pub use error::ApiError;
pub use extract::{Body, Params};
pub use health::Health;
pub use inbound::RawEmail;
pub use layers::DEFAULT_TIMEOUT;
pub use server::{ServeLimits, serve};
pub use state::AppState;

/// Largest request body accepted (larger: 413).
pub const MAX_BODY: usize = 1024 * 1024;

/// The API's routes over a service, with a request id per request (`x-request-id`, taken
/// from the client or made), a tracing span per request carrying it, and a timeout.
pub fn router(state: AppState) -> Router {
    router_with_timeout(state, DEFAULT_TIMEOUT)
}

/// [`router`] with another request timeout.
pub fn router_with_timeout(state: AppState, timeout: std::time::Duration) -> Router {
    layers::layered(routes(state), timeout)
}

/// Wraps other routes (the desk's pages) in the API's own layers: the request id, the
/// tracing span, the cap on the request target and the timeout (`DEFAULT_TIMEOUT`), so
/// every path of `casework serve` is served alike.
pub fn with_request_layers(routes: Router) -> Router {
    layers::layered(routes, DEFAULT_TIMEOUT)
}

/// Every route, by resource; each handler lives in its resource's module.
fn routes(state: AppState) -> Router {
    let cases = Router::new()
        .route("/", post(cases::create_case).get(cases::list_cases))
        .route("/{n}", get(cases::get_case).patch(cases::patch_case))
        .route("/{n}/assign", post(case_actions::assign))
        .route("/{n}/transition", post(case_actions::transition))
        .route("/{n}/escalate", post(case_actions::escalate))
        .route("/{n}/close", post(case_actions::close))
        .route("/{n}/reopen", post(case_actions::reopen))
        .route("/{n}/calls", post(case_actions::log_call))
        .route("/{n}/posts", post(case_actions::add_post))
        .route("/{n}/contact-attempts", post(case_actions::contact_attempt))
        .route("/{n}/emails/preview", post(emails::preview_email))
        .route("/{n}/emails", post(emails::send_email))
        .route("/{n}/summary-draft", get(cases::summary_draft))
        .route("/{n}/closing-check", get(cases::closing_check))
        .route("/{n}/timeline", get(timeline::timeline))
        .route("/{n}/history", get(timeline::history))
        .route("/{n}/similar", get(search::similar))
        .route("/{n}/links", post(case_actions::link))
        .route("/{n}/swarm", post(case_actions::swarm))
        .route(
            "/{n}/attachments",
            post(attachments::upload)
                .layer(DefaultBodyLimit::max(attachments::upload_limit(
                    &state.service.config().attachments,
                )))
                .get(attachments::list),
        )
        .route("/{n}/attachments/{id}", get(attachments::download));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .nest("/api/v1/cases", cases)
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/articles", post(knowledge::add_article))
        .route("/api/v1/articles/{id}", get(knowledge::get_article))
        .route("/api/v1/defects", post(knowledge::add_defect))
        .route("/api/v1/defects/{key}", get(knowledge::get_defect))
        .route("/api/v1/reports/reopens", get(reports::reopen_report))
        .route(
            "/api/v1/reports/reopens/cases",
            get(reports::reopen_report_cases),
        )
        .route("/api/v1/outbox", get(outbox::outbox))
        .route("/api/v1/outbox/{id}/retry", post(outbox::retry))
        .route("/api/v1/outbox/{id}/cancel", post(outbox::cancel))
        .route("/api/v1/events", get(events::events))
        .route(
            "/api/v1/webhooks",
            get(webhooks::list_webhooks).post(webhooks::add_webhook),
        )
        .route(
            "/api/v1/webhooks/{id}",
            axum::routing::delete(webhooks::remove_webhook),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/api/v1/statuses/map", post(statuses::map_status))
        .route(
            "/api/v1/people/{name}/notifications",
            get(people::notifications).put(people::set_notifications),
        )
        .route(
            "/api/v1/inbound/email",
            post(inbound::inbound_email).layer(DefaultBodyLimit::max(
                casework_core::limits::MAX_INBOUND_MESSAGE,
            )),
        )
        .merge(store_api::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not found", "no such resource")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[cfg(test)]
mod tests;
