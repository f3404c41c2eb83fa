//! Webhooks: endpoints admins (`manage`) register, list and remove, each endpoint's delivery
//! log, and manual redelivery. Delivering is the outbox worker's (`casework serve`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use casework_core::limits::{DEFAULT_OUTBOX, MAX_OUTBOX, MAX_URL};
use casework_core::service::NewWebhook;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::{Body, Params, limit};
use crate::rules::Accepts::{Range, Text};
use crate::rules::Field::{Property, Query};
use crate::rules::Rule;
use crate::{ApiError, AppState, openapi};

/// What the fields of these requests accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Property("WebhookIn", "url"), Text(MAX_URL)),
    Rule(
        Query("/api/v1/webhooks/{id}/deliveries", "limit"),
        Range(1, MAX_OUTBOX as u64),
    ),
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookIn {
    /// Where to post: http or https, not a loopback, private or link-local address (unless
    /// the workflow file's `[webhooks] allow_private_networks` is on).
    url: String,
    /// Event types to receive (`case.opened`, `case.closed`, …); all when absent or empty.
    #[serde(default)]
    events: Vec<String>,
    /// The signing secret, `whsec_` and base64 of {MIN_WEBHOOK_KEY} to {MAX_WEBHOOK_KEY} random bytes; generated when
    /// absent. Returned once, in this response.
    secret: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "Register a webhook endpoint (admins); the answer holds its secret, shown once",
    request_body = WebhookIn,
    responses((status = 201, description = "The endpoint, with its signing secret", body = casework_core::webhook::WebhookEndpoint), openapi::Problems)
)]
pub(crate) async fn add_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<WebhookIn>,
) -> Result<Response, ApiError> {
    let secret = match b.secret {
        Some(secret) => secret,
        None => casework_webhook::new_secret().map_err(|e| ApiError::internal(&e))?,
    };
    let new = NewWebhook {
        url: b.url,
        events: b.events,
        secret,
    };
    let endpoint = s.service.add_webhook(&a, new).await?;
    Ok((StatusCode::CREATED, Json(endpoint)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "Every webhook endpoint, removed ones too, without secrets (admins)",
    responses((status = 200, description = "Endpoints, oldest first", body = Vec<casework_core::webhook::WebhookEndpoint>), openapi::Problems)
)]
pub(crate) async fn list_webhooks(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.webhooks(&a).await?).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Remove a webhook endpoint; its log stays, its queued deliveries are not sent (admins)",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint, removed", body = casework_core::webhook::WebhookEndpoint), openapi::Problems)
)]
pub(crate) async fn remove_webhook(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.remove_webhook(&a, &id).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQ {
    /// At most this many (1 to {MAX_OUTBOX}, default {DEFAULT_OUTBOX}).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "An endpoint's delivery log: status, response code, attempts (admins)",
    params(("id" = String, Path, description = "Endpoint id"), DeliveriesQ),
    responses((status = 200, description = "Deliveries, newest first", body = Vec<casework_core::webhook::WebhookDelivery>), openapi::Problems)
)]
pub(crate) async fn deliveries(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Params(q): Params<DeliveriesQ>,
) -> Result<Response, ApiError> {
    let limit = limit(q.limit, DEFAULT_OUTBOX, MAX_OUTBOX)?;
    Ok(Json(s.service.webhook_deliveries(&a, &id, limit).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
    tag = "webhooks",
    summary = "Send a delivery again, with the same webhook-id (admins)",
    params(
        ("id" = String, Path, description = "Endpoint id"),
        ("delivery" = String, Path, description = "Delivery id (its webhook-id)")
    ),
    responses((status = 200, description = "The delivery, queued again", body = casework_core::webhook::WebhookDelivery), openapi::Problems)
)]
pub(crate) async fn redeliver(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.redeliver_webhook(&a, &id, &delivery).await?).into_response())
}
