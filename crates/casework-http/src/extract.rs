//! Reading requests: JSON bodies and query parameters whose rejections are problem+json,
//! case numbers in paths, `limit` and cursor parameters, `If-Match`, and the shared header
//! and path parameters the OpenAPI document describes.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use casework_core::ids::CaseNumber;
use casework_core::ports::{CaseOrder, PageRequest};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::ApiError;
use casework_core::limits::MAX_IDEMPOTENCY_KEY;

use crate::rules::Accepts::VisibleAscii;
use crate::rules::Field::Header;
use crate::rules::Rule;

/// What the shared headers accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[Rule(
    Header("Idempotency-Key"),
    VisibleAscii(MAX_IDEMPOTENCY_KEY),
)];

/// A JSON body whose rejections are problem+json (malformed 400, wrong type 415, unknown
/// or mistyped fields 422, too large 413).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// Query parameters whose rejections are problem+json.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(v))
    }
}

pub(crate) fn number(raw: &str) -> Result<CaseNumber, ApiError> {
    raw.parse().map_err(|_| ApiError::case_not_found(raw))
}

/// A `limit` parameter: `default` when absent, 422 outside 1..=max.
pub(crate) fn limit(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(
            "limit",
            format!("limit must be between 1 and {max}"),
        )),
    }
}

/// A JSON number that is whole, as JSON Schema's `integer` means it: `25` or `25.0`.
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let whole = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => Some(u),
        (None, Some(f)) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
            Some(f as u64)
        }
        _ => None,
    };
    whole
        .and_then(|u| u32::try_from(u).ok())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number, found {n}")))
}

/// A page request in `order` from `limit` and `cursor` parameters, 422 naming the one at
/// fault (a cursor another order made is refused).
pub(crate) fn page_request(
    order: CaseOrder,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<PageRequest, ApiError> {
    PageRequest::from_params_in(order, limit, cursor)
        .map_err(|e| ApiError::invalid(e.field(), e.to_string()))
}

/// A blank query parameter is the same as an absent one.
pub(crate) fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The version in `If-Match` (`"7"`, `W/"7"` or `7`), if sent.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid If-Match",
                "If-Match must be an ETag this API sent, like \"7\"",
            )
        })
}

/// A case in the path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // describes the path; handlers take it as a string
pub(crate) struct CasePath {
    /// Case number; leading zeros accepted (`1027` or `00001027`).
    n: String,
}

/// The version a client read, for an optimistic write.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // describes the header; handlers read it with `if_match`
pub(crate) struct IfMatch {
    /// The case's `ETag` as read (`"7"`): a write to a case that changed since is 412.
    #[serde(rename = "If-Match")]
    #[param(value_type = String, required = false, pattern = r#"^(W/)?"?[0-9]{1,19}"?$"#)]
    if_match: Option<String>,
}

/// The version a client read, required for a PATCH.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // describes the header; the handler reads it with `if_match`
pub(crate) struct IfMatchRequired {
    /// The case's `ETag` as read (`"7"`): without it 428, stale 412.
    #[serde(rename = "If-Match")]
    #[param(pattern = r#"^(W/)?"?[0-9]{1,19}"?$"#)]
    if_match: String,
}

/// A key making a create safe to retry.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // describes the header; the handler reads it
pub(crate) struct IdempotencyKey {
    /// Any unique string: a retry with the same key and body answers as the first call did
    /// (`Idempotent-Replayed: true`); the same key with another body is 422.
    #[serde(rename = "Idempotency-Key")]
    #[param(value_type = String, required = false)]
    idempotency_key: Option<String>,
}
