//! The outbox: outgoing email and its delivery, and retrying or cancelling one message, for
//! roles with `outbox`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use casework_core::limits::{DEFAULT_OUTBOX, MAX_OUTBOX};
use casework_core::model::OutboxStatus;
use casework_core::ports::OutboxAction;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Auth;
use crate::extract::{Params, limit};
use crate::rules::Accepts::Range;
use crate::rules::Field::Query;
use crate::rules::Rule;
use crate::{ApiError, AppState, openapi};

/// What the parameters of this request accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[Rule(
    Query("/api/v1/outbox", "limit"),
    Range(1, MAX_OUTBOX as u64),
)];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQ {
    /// Only messages with this status.
    status: Option<OutboxStatus>,
    /// At most this many (1 to {MAX_OUTBOX}, default {DEFAULT_OUTBOX}).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/outbox",
    tag = "outbox",
    summary = "Outgoing email and its delivery (staff only)",
    params(OutboxQ),
    responses((status = 200, description = "Messages, oldest first", body = Vec<casework_core::model::OutboxMessage>), openapi::Problems)
)]
pub(crate) async fn outbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<OutboxQ>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .outbox(&a, q.status, limit(q.limit, DEFAULT_OUTBOX, MAX_OUTBOX)?)
            .await?,
    )
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/outbox/{id}/retry",
    tag = "outbox",
    summary = "Put a failed or cancelled email back in the queue, due now (staff with `outbox`)",
    description = "Also sends a queued message now rather than at its next try. Its attempts start over from zero; its last error stays until the next attempt. A sent message, or one a worker is delivering right now, is refused with 409 and the reason.",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "The message, queued", body = casework_core::model::OutboxMessage), openapi::Problems)
)]
pub(crate) async fn retry(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.outbox_act(&a, &id, OutboxAction::Retry).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/outbox/{id}/cancel",
    tag = "outbox",
    summary = "Withdraw a queued email so it is never sent (staff with `outbox`)",
    description = "The message stays listed, as `cancelled`, and its case's timeline shows it; retrying puts it back. Only a queued message can be cancelled, and not while a worker is delivering it (409 with the reason).",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "The message, cancelled", body = casework_core::model::OutboxMessage), openapi::Problems)
)]
pub(crate) async fn cancel(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.outbox_act(&a, &id, OutboxAction::Cancel).await?).into_response())
}
