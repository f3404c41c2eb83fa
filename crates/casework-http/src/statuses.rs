//! Statuses: moving every case out of a status the workflow file no longer has.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::Body;
use crate::{ApiError, AppState, openapi};
use casework_core::limits::MAX_STATUS_NAME;

use crate::rules::Accepts::Text;
use crate::rules::Field::Property;
use crate::rules::Rule;

/// What the fields of this request accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Property("StatusMapIn", "from"), Text(MAX_STATUS_NAME)),
    Rule(Property("StatusMapIn", "to"), Text(MAX_STATUS_NAME)),
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusMapIn {
    /// A status the workflow file no longer has (renamed or removed).
    from: String,
    /// A status of the workflow file, of the same kind (a map never opens or closes a case).
    to: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/statuses/map",
    tag = "statuses",
    summary = "Move every case out of a status the workflow file no longer has (admins)",
    request_body = StatusMapIn,
    responses((status = 200, description = "How many cases moved, and which could not", body = casework_core::service::StatusMapSummary), openapi::Problems)
)]
pub(crate) async fn map_status(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<StatusMapIn>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.map_status(&a, &b.from, &b.to).await?).into_response())
}
