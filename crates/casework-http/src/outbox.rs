//! The outbox: outgoing email and its delivery, for roles with `outbox`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use casework_core::limits::{DEFAULT_OUTBOX, MAX_OUTBOX};
use casework_core::model::OutboxStatus;
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
