//! What happened to a case: the timeline the caller may see (with each email's delivery)
//! and the full history (staff with `view_history`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::auth::Auth;
use crate::extract::{CasePath, number};
use crate::{ApiError, AppState, openapi};

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/timeline",
    tag = "cases",
    summary = "The entries the caller may see, oldest first",
    params(CasePath),
    responses((status = 200, description = "The timeline", body = Vec<openapi::TimelineItem>), openapi::Problems)
)]
pub(crate) async fn timeline(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    let events = s.service.timeline(&a, number(&n)?).await?;
    Ok(Json(
        events
            .iter()
            .map(|t| openapi::TimelineItem {
                id: t.event.seq,
                entry: t,
            })
            .collect::<Vec<_>>(),
    )
    .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/history",
    tag = "cases",
    summary = "Every event (staff only)",
    params(CasePath),
    responses((status = 200, description = "The history", body = Vec<casework_core::event::Event>), openapi::Problems)
)]
pub(crate) async fn history(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.history(&a, number(&n)?).await?).into_response())
}
