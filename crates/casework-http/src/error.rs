//! One error type for every response that is not a success: RFC 9457 problem+json, with
//! `missing` for a refused close and `current_version` for a conflict. Internal faults are
//! answered with a generic message; the detail goes to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casework_core::ports::StoreError;
use casework_core::{ServiceError, WorkflowError};
use serde_json::{Map, Value, json};

/// A problem to answer with.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short, stable summary (`conflict`, `closing checklist does not hold`, …).
    pub title: String,
    /// What happened, for a person.
    pub detail: String,
    /// Extension members (`missing`, `current_version`, `field`).
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// A problem with no extension members.
    pub fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_string(),
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// 401.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 404 for a case, the same whether it does not exist or is not the caller's.
    pub fn case_not_found(number: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("case {number} not found"),
        )
    }

    /// 422 for a request field.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid request", detail)
            .with("field", json!(field))
    }

    /// 500, the detail logged and never shown.
    pub fn internal(context: &str) -> Self {
        // The detail goes to the log, inside the request's span (with its id); the client
        // sees nothing of it.
        tracing::error!(error = %context, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            "something went wrong on the server; it has been logged",
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use WorkflowError as W;
        let detail = e.to_string();
        match e {
            ServiceError::Workflow(w) => match &w {
                W::Forbidden { .. } => Self::new(StatusCode::FORBIDDEN, "forbidden", detail),
                W::Invalid { field, .. } => Self::invalid(field, detail),
                W::UnknownStatus { field, valid, .. } => Self::invalid(field, detail).with(
                    "statuses",
                    serde_json::to_value(valid).unwrap_or(Value::Null),
                ),
                W::ChecklistIncomplete { missing } | W::PolicyNotMet { missing } => {
                    let title = if matches!(w, W::ChecklistIncomplete { .. }) {
                        "closing checklist does not hold"
                    } else {
                        "non-response policy not met"
                    };
                    Self::new(StatusCode::CONFLICT, title, detail).with(
                        "missing",
                        serde_json::to_value(missing).unwrap_or(Value::Null),
                    )
                }
                W::TransitionNotAllowed { .. }
                | W::NotOwner { .. }
                | W::StrandedStatus { .. }
                | W::CaseClosed { .. }
                | W::NotClosed { .. }
                | W::AlreadyThere { .. } => {
                    Self::new(StatusCode::CONFLICT, "refused by the workflow", detail)
                }
                W::Template(_) => Self::internal(&detail),
            },
            ServiceError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not found", detail),
            ServiceError::UnknownActor(_) => {
                Self::unauthorized("the token's person is not registered")
            }
            ServiceError::Conflict { current_version } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "conflict",
                format!("the case changed: it is at version {current_version}; reload and retry"),
            )
            .with("current_version", json!(current_version)),
            ServiceError::Refused(_) => Self::new(StatusCode::CONFLICT, "refused", detail),
            ServiceError::Busy { attempts } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "case busy",
                format!(
                    "other writes to this case got in first {attempts} times; nothing was \
                     written, try again shortly"
                ),
            ),
            ServiceError::Store(StoreError::Unavailable(_)) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable",
                "the store cannot be reached right now; try again",
            ),
            ServiceError::Store(StoreError::Duplicate(what)) => Self::new(
                StatusCode::CONFLICT,
                "duplicate",
                format!("{what} already exists"),
            ),
            ServiceError::Store(StoreError::ClaimLost(_)) => {
                Self::new(StatusCode::CONFLICT, "claim lost", detail)
            }
            ServiceError::Store(_) | ServiceError::Internal(_) => Self::internal(&detail),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        let status = r.status();
        let title = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported media type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid request body",
            _ => "malformed request body",
        };
        let detail = r.body_text();
        let mut e = Self::new(status, title, detail.clone());
        // serde names an unknown field as: unknown field `foo`, expected …
        if let Some(field) = detail
            .split("unknown field `")
            .nth(1)
            .and_then(|s| s.split('`').next())
        {
            e = e.with("field", json!(field));
        }
        e
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid query",
            r.body_text(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("type".into(), json!("about:blank"));
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // busy, unreachable store, timed out: all worth a retry in a moment
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
