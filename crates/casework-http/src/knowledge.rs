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
use casework_core::input::KEY_PATTERN;
use casework_core::limits::{MAX_DEFECT_KEY, MAX_DEFECT_STATE, MAX_SHORT_TEXT, MAX_TEXT, MAX_URL};

use crate::rules::Accepts::{Line, Matching, OptionalLine, OptionalText, Text};
use crate::rules::Field::Property;
use crate::rules::Rule;

/// What the fields of these requests accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Property("ArticleIn", "title"), Line(MAX_SHORT_TEXT)),
    Rule(Property("ArticleIn", "body"), Text(MAX_TEXT)),
    Rule(Property("ArticleIn", "url"), OptionalLine(MAX_URL)),
    Rule(
        Property("DefectIn", "key"),
        Matching(KEY_PATTERN, MAX_DEFECT_KEY),
    ),
    Rule(Property("DefectIn", "title"), Line(MAX_SHORT_TEXT)),
    Rule(Property("DefectIn", "body"), OptionalText(MAX_TEXT)),
    Rule(Property("DefectIn", "state"), Line(MAX_DEFECT_STATE)),
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArticleIn {
    /// Title.
    title: String,
    /// Text.
    body: String,
    /// Where it is published.
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
    key: String,
    /// Title.
    title: String,
    /// Description.
    #[serde(default)]
    body: String,
    /// State in the tracker (`open`, `fixed`, …).
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
