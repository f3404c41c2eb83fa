//! Search over what the caller may see, and the cases, articles and defects similar to a
//! case.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use casework_core::limits::{DEFAULT_HITS, MAX_HITS};
use casework_core::model::RefKind;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Auth;
use crate::extract::{CasePath, Params, limit, number};
use crate::{ApiError, AppState, openapi};
use casework_core::limits::MAX_QUERY;

use crate::rules::Accepts::{Range, Text};
use crate::rules::Field::Query;
use crate::rules::Rule;

/// What the parameters of these requests accept (applied to the document by
/// [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Query("/api/v1/search", "q"), Text(MAX_QUERY)),
    Rule(Query("/api/v1/search", "limit"), Range(1, MAX_HITS as u64)),
    Rule(
        Query("/api/v1/cases/{n}/similar", "limit"),
        Range(1, MAX_HITS as u64),
    ),
];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQ {
    /// The query: words that must all match, `"a phrase"`, `-excluded` words and phrases,
    /// the last word as a prefix (docs/operations.md, "Search queries").
    q: String,
    /// Only hits of this kind.
    kind: Option<RefKind>,
    /// At most this many (1 to {MAX_HITS}, default {DEFAULT_HITS}).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "knowledge",
    summary = "Full-text search over what the caller may see",
    params(SearchQ),
    responses((status = 200, description = "Ranked hits", body = Vec<casework_core::ports::SearchHit>), openapi::Problems)
)]
pub(crate) async fn search(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<SearchQ>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .search(&a, &q.q, q.kind, limit(q.limit, DEFAULT_HITS, MAX_HITS)?)
            .await?,
    )
    .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitQuery {
    /// At most this many (1 to {MAX_HITS}, default {DEFAULT_HITS}).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/similar",
    tag = "cases",
    summary = "Similar cases, articles and defects",
    params(CasePath, LimitQuery),
    responses((status = 200, description = "Ranked hits", body = Vec<casework_core::ports::SearchHit>), openapi::Problems)
)]
pub(crate) async fn similar(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    Params(q): Params<LimitQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .similar(&a, number(&n)?, limit(q.limit, DEFAULT_HITS, MAX_HITS)?)
            .await?,
    )
    .into_response())
}
