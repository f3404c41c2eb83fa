//! Shaping answers about cases: a case with its `ETag`, a new timeline entry, and running a
//! command on a case with the caller's `If-Match`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casework_core::model::{Actor, Case};
use casework_core::service::Outcome;
use casework_core::workflow::Command;
use serde_json::json;

use crate::extract::{if_match, number};
use crate::{ApiError, AppState, openapi};

pub(crate) fn case_response(status: StatusCode, case: &Case) -> Response {
    let mut r = (status, Json(case.view())).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", case.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

pub(crate) fn entry_response(outcome: &Outcome) -> Response {
    let mut r = match outcome.events.last() {
        Some(e) => (
            StatusCode::CREATED,
            Json(openapi::EventItem {
                id: e.seq,
                event: e,
            }),
        )
            .into_response(),
        None => (StatusCode::OK, Json(json!({}))).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", outcome.case.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// Runs a command on a case and answers with the case and its new ETag.
pub(crate) async fn act_on_case(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    headers: &HeaderMap,
    cmd: Command,
) -> Result<Response, ApiError> {
    let outcome = act(state, actor, raw, headers, cmd).await?;
    Ok(case_response(StatusCode::OK, &outcome.case))
}

pub(crate) async fn act(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    headers: &HeaderMap,
    cmd: Command,
) -> Result<Outcome, ApiError> {
    let n = number(raw)?;
    Ok(state
        .service
        .execute(actor, n, if_match(headers)?, cmd)
        .await?)
}
