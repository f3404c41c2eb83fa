//! People: each person's notification settings (their own, or anyone's for an admin).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use casework_core::model::NotificationKind;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::Body;
use crate::{ApiError, AppState, openapi};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationsIn {
    /// Kinds to turn off (`new_case`, `assigned`, `customer_reply`, `swarm_requested`,
    /// `reopened`).
    #[serde(default)]
    off: Vec<NotificationKind>,
    /// Kinds to turn back on.
    #[serde(default)]
    on: Vec<NotificationKind>,
}

#[utoipa::path(
    get,
    path = "/api/v1/people/{name}/notifications",
    tag = "people",
    summary = "A person's notification settings (their own; anyone's for admins)",
    params(("name" = String, Path, description = "The person's name")),
    responses((status = 200, description = "What they turned off, and what reaches them", body = casework_core::service::NotificationSettings), openapi::Problems)
)]
pub(crate) async fn notifications(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.notification_settings(&a, &name).await?).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/people/{name}/notifications",
    tag = "people",
    summary = "Turn notifications off or on for a person (their own; anyone's for admins)",
    params(("name" = String, Path, description = "The person's name")),
    request_body = NotificationsIn,
    responses((status = 200, description = "The settings now", body = casework_core::service::NotificationSettings), openapi::Problems)
)]
pub(crate) async fn set_notifications(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(name): Path<String>,
    Body(b): Body<NotificationsIn>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .set_notifications(&a, &name, &b.off, &b.on)
            .await?,
    )
    .into_response())
}
