//! Emails to the customer: render one without queueing it, or queue it in the outbox.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use casework_core::ServiceError;
use casework_core::documents::EmailFields;
use casework_core::event::EventKind;
use casework_core::model::{OutboxStatus, TemplateName};
use casework_core::workflow::Command;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::{Body, CasePath, IfMatch, number};
use crate::respond::act;
use crate::{ApiError, AppState, openapi};
use casework_core::limits::MAX_TEXT;

use crate::rules::Accepts::OptionalText;
use crate::rules::Field::Property;
use crate::rules::Rule;

/// What the fields of these requests accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Property("EmailIn", "challenge"), OptionalText(MAX_TEXT)),
    Rule(Property("EmailIn", "discussed"), OptionalText(MAX_TEXT)),
    Rule(Property("EmailIn", "next_steps"), OptionalText(MAX_TEXT)),
    Rule(Property("EmailIn", "note"), OptionalText(MAX_TEXT)),
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailIn {
    /// Which email.
    template: EmailTemplate,
    /// The customer's challenge (initial contact; default: the case description).
    challenge: Option<String>,
    /// What was discussed (required for a follow-up).
    discussed: Option<String>,
    /// Next steps.
    next_steps: Option<String>,
    /// Documentation links.
    #[serde(default)]
    documentation: Vec<String>,
    /// A note to add.
    note: Option<String>,
}

/// The documents that are emails (the summary draft has its own endpoint).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EmailTemplate {
    /// Step 1: ownership taken.
    InitialContact,
    /// Step 3: what was discussed, documentation, next steps.
    FollowUp,
    /// Step 6: closing after no response.
    NonResponseClosure,
    /// A reopened case.
    ReopenNotice,
}

impl From<EmailTemplate> for TemplateName {
    fn from(t: EmailTemplate) -> Self {
        match t {
            EmailTemplate::InitialContact => TemplateName::InitialContact,
            EmailTemplate::FollowUp => TemplateName::FollowUp,
            EmailTemplate::NonResponseClosure => TemplateName::NonResponseClosure,
            EmailTemplate::ReopenNotice => TemplateName::ReopenNotice,
        }
    }
}

impl EmailIn {
    fn fields(&self) -> EmailFields {
        EmailFields {
            challenge: self.challenge.clone(),
            discussed: self.discussed.clone(),
            next_steps: self.next_steps.clone(),
            documentation: self.documentation.clone(),
            note: self.note.clone(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/emails/preview",
    tag = "cases",
    summary = "Render an email without queueing it",
    params(CasePath),
    request_body = EmailIn,
    responses((status = 200, description = "The rendered email", body = openapi::EmailPreview), openapi::Problems)
)]
pub(crate) async fn preview_email(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    Body(b): Body<EmailIn>,
) -> Result<Response, ApiError> {
    let e = s
        .service
        .preview_email(&a, number(&n)?, b.template.into(), &b.fields())
        .await?;
    Ok(Json(openapi::EmailPreview {
        to: &e.to,
        subject: &e.subject,
        body: &e.body,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/emails",
    tag = "cases",
    summary = "Queue an email to the customer",
    params(CasePath, IfMatch),
    request_body = EmailIn,
    responses((status = 201, description = "The queued message", body = openapi::QueuedEmail), openapi::Problems)
)]
pub(crate) async fn send_email(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<EmailIn>,
) -> Result<Response, ApiError> {
    let o = act(
        &s,
        &a,
        &n,
        &h,
        Command::SendEmail {
            template: b.template.into(),
            fields: b.fields(),
        },
    )
    .await?;
    let queued = o.events.iter().find_map(|e| match &e.kind {
        EventKind::EmailQueued {
            message,
            to,
            subject,
            body,
            ..
        } => Some(openapi::QueuedEmail {
            id: message,
            to,
            subject,
            body,
            status: OutboxStatus::Queued,
        }),
        _ => None,
    });
    match queued {
        Some(v) => Ok((StatusCode::CREATED, Json(v)).into_response()),
        None => Err(ApiError::from(ServiceError::Internal(
            "an email was sent but none was queued".into(),
        ))),
    }
}
