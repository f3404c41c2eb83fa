//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the types' `ToSchema` derives: served at `/openapi.json` and committed as
//! `docs/openapi.json` (a test fails when the committed file is stale; `cargo xtask openapi`
//! rewrites it).

use casework_core::ids::EmailAddress;
use casework_core::model::OutboxStatus;
use casework_core::workflow::MissingItem;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An error, as RFC 9457 problem+json.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable summary (`conflict`, `closing checklist does not hold`, …).
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for a person.
    pub detail: String,
    /// For a refused close: every item that does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingItem>>,
    /// For a conflict (412): the case's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// For an invalid request (422): the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The errors any API endpoint may answer with.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only a description of responses
pub enum Problems {
    /// Malformed JSON or header.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No token, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The caller's role lacks the permission.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such resource, or a case that is not the customer's.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The workflow refuses (with `missing` for a refused close), or a duplicate.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` is stale (with `current_version`).
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is over 1 MiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// A field is missing, unknown or invalid (named in `field` where known).
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// `PATCH` without `If-Match`.
    #[response(status = 428, content_type = "application/problem+json")]
    PreconditionRequired(Problem),
    /// The store cannot be reached, the request timed out, or (a write without `If-Match`)
    /// other writes to the case kept getting in first; `Retry-After` says when to try again.
    #[response(
        status = 503,
        content_type = "application/problem+json",
        headers(("Retry-After" = String, description = "Seconds to wait before a retry"))
    )]
    Unavailable(Problem),
}

/// A page of cases.
#[derive(Serialize, ToSchema)]
pub struct CasePage<'a> {
    /// The cases on this page.
    pub items: Vec<casework_core::model::CaseView<'a>>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A history event with its sequence number as `id`.
#[derive(Serialize, ToSchema)]
pub struct EventItem<'a> {
    /// The event's position in the case's history.
    pub id: u64,
    /// The event.
    #[serde(flatten)]
    pub event: &'a casework_core::event::Event,
}

/// A timeline entry with its sequence number as `id`.
#[derive(Serialize, ToSchema)]
pub struct TimelineItem<'a> {
    /// The event's position in the case's history.
    pub id: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: &'a casework_core::model::TimelineEntry,
}

/// A rendered email, not queued.
#[derive(Serialize, ToSchema)]
pub struct EmailPreview<'a> {
    /// Recipient.
    pub to: &'a EmailAddress,
    /// Subject, with the case number.
    pub subject: &'a str,
    /// Plain-text body.
    pub body: &'a str,
}

/// An email queued in the outbox.
#[derive(Serialize, ToSchema)]
pub struct QueuedEmail<'a> {
    /// Outbox message id.
    pub id: &'a str,
    /// Recipient.
    pub to: &'a EmailAddress,
    /// Subject, with the case number.
    pub subject: &'a str,
    /// Plain-text body.
    pub body: &'a str,
    /// Always `queued` here; see the timeline or the outbox for delivery.
    pub status: OutboxStatus,
}

/// `/healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` (with 503) when a background worker of the server is not running.
    pub status: &'static str,
    /// What is wrong, by worker (`delivery`: the email delivery worker).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub problems: std::collections::BTreeMap<String, String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Casework API",
        version = "1",
        description = "Support cases as a workflow: opened, owned, worked, closed when the \
                       closing checklist holds, reopened with a reason. Contract: \
                       shared/brief/API.md. Authenticate with `Authorization: Bearer <token>` \
                       (tokens from `casework token create`)."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, casework_core::ports::ReportGroup)),
    security(("bearer" = [])),
    paths(
        crate::healthz,
        crate::openapi_json,
        crate::create_case,
        crate::list_cases,
        crate::get_case,
        crate::patch_case,
        crate::assign,
        crate::transition,
        crate::escalate,
        crate::close,
        crate::reopen,
        crate::log_call,
        crate::add_post,
        crate::contact_attempt,
        crate::preview_email,
        crate::send_email,
        crate::summary_draft,
        crate::closing_check,
        crate::timeline,
        crate::history,
        crate::similar,
        crate::link,
        crate::swarm,
        crate::search,
        crate::add_article,
        crate::get_article,
        crate::add_defect,
        crate::get_defect,
        crate::reopen_report,
        crate::outbox,
        crate::store_api::create_case,
        crate::store_api::list_cases,
        crate::store_api::load_case,
        crate::store_api::commit,
        crate::store_api::history,
        crate::store_api::similar,
        crate::store_api::case_outbox,
        crate::store_api::search,
        crate::store_api::reopen_report,
        crate::store_api::list_people,
        crate::store_api::get_person,
        crate::store_api::put_person,
        crate::store_api::add_article,
        crate::store_api::get_article,
        crate::store_api::add_defect,
        crate::store_api::get_defect,
        crate::store_api::outbox_list,
        crate::store_api::outbox_claim,
        crate::store_api::outbox_finish,
        crate::store_api::put_token,
        crate::store_api::find_token,
        crate::store_api::list_tokens,
        crate::store_api::revoke_token,
        crate::store_api::stats,
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON, with a final newline (as committed).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
