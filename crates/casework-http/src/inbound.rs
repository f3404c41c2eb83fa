//! Inbound email: a raw RFC 5322 message from a mail provider's inbound webhook or a
//! Postfix pipe, for roles with `ingest_mail` (the service role and admins by default).
//! The body is the message itself, up to core's `MAX_INBOUND_MESSAGE` bytes; what it does
//! is the service's ingestion pipeline, as for `casework mail ingest`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casework_core::service::{Ingested, Intake, Kept};

use crate::auth::Auth;
use crate::{ApiError, AppState, openapi};

/// The body of `POST /api/v1/inbound/email` as the API document states it: the raw
/// message's bytes (`type: string, format: binary`, which client generators send as a file).
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct RawEmail(pub Vec<u8>);

#[utoipa::path(
    post,
    path = "/api/v1/inbound/email",
    tag = "inbound",
    summary = "Take a raw inbound email onto its case (service or admin token)",
    description = "The body is one RFC 5322 message, as received (up to {MAX_INBOUND_MESSAGE} bytes). It is threaded onto the case it answers (Casework's Message-IDs in In-Reply-To/References, then a case tag in the subject from the case's customer) or opens a new case. A message is taken once: the same message again changes nothing and answers `duplicate: true`. Bytes that can never be taken (no sender, not an email, an auto-reply answering no case) are kept in the quarantine and answered 202 with the quarantine id and why: the message is safe with Casework, so a provider must not retry it; people with the `quarantine` permission release or drop it (`casework mail quarantine`).",
    request_body(content = inline(RawEmail), content_type = "application/octet-stream", description = "The raw message, as received (sent as message/rfc822 or application/octet-stream: either is taken)"),
    responses(
        (status = 201, description = "The message opened a case", body = Ingested, headers(("Location" = String, description = "The case's URL"))),
        (status = 200, description = "The message was added to its case, or had been taken before", body = Ingested),
        (status = 202, description = "The message can never be taken and is kept in the quarantine ", body = Kept),
        openapi::Problems
    )
)]
pub(crate) async fn inbound_email(
    State(s): State<AppState>,
    Auth(actor): Auth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let got = match s.service.ingest_or_keep(&actor, "http", &body).await? {
        Intake::Taken(got) => got,
        Intake::Quarantined(kept) => {
            return Ok((StatusCode::ACCEPTED, Json(kept)).into_response());
        }
    };
    let created = got.created && !got.duplicate;
    let location = format!("/api/v1/cases/{}", got.case.get());
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = (status, Json(got)).into_response();
    if created && let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}
