//! Knowledge: articles and known defects, added by roles with `knowledge` and read by
//! those who may search.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use casework_core::model::NewArticle;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::Body;
use crate::{ApiError, AppState, openapi};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArticleIn {
    /// Title.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    title: String,
    /// Text.
    #[schema(pattern = "\\S", max_length = 100000)]
    body: String,
    /// Where it is published.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 2048
    )]
    url: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/articles",
    tag = "knowledge",
    summary = "Add a knowledge article",
    request_body = ArticleIn,
    responses((status = 201, description = "The article", body = casework_core::model::Article), openapi::Problems)
)]
pub(crate) async fn add_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<ArticleIn>,
) -> Result<Response, ApiError> {
    let art = s
        .service
        .add_article(
            &a,
            NewArticle {
                title: b.title,
                body: b.body,
                url: b.url,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(art)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/articles/{id}",
    tag = "knowledge",
    summary = "Read a knowledge article",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, description = "The article", body = casework_core::model::Article), openapi::Problems)
)]
pub(crate) async fn get_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: u64 = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("article {id} not found"),
        )
    })?;
    Ok(Json(s.service.article(&a, id).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DefectIn {
    /// Tracker key, e.g. `BUG-000123456`: no white space inside.
    #[schema(
        pattern = r"^[^\S\x00-\x1f\x7f-\x9f\u2028\u2029]*[^\s\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+[^\S\x00-\x1f\x7f-\x9f\u2028\u2029]*$",
        max_length = 64
    )]
    key: String,
    /// Title.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    title: String,
    /// Description.
    #[serde(default)]
    #[schema(max_length = 100000)]
    body: String,
    /// State in the tracker (`open`, `fixed`, …).
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 32
    )]
    state: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/defects",
    tag = "knowledge",
    summary = "Add a defect",
    request_body = DefectIn,
    responses((status = 201, description = "The defect", body = casework_core::model::Defect), openapi::Problems)
)]
pub(crate) async fn add_defect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<DefectIn>,
) -> Result<Response, ApiError> {
    let d = s
        .service
        .add_defect(&a, &b.key, &b.title, &b.body, &b.state)
        .await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/defects/{key}",
    tag = "knowledge",
    summary = "Read a defect",
    params(("key" = String, Path, description = "Defect key")),
    responses((status = 200, description = "The defect", body = casework_core::model::Defect), openapi::Problems)
)]
pub(crate) async fn get_defect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.defect(&a, &key).await?).into_response())
}
