//! What is done to a case, one command per route: assign, transition, escalate, close,
//! reopen, log a call, post, record a contact attempt, link, ask a group for help. Each
//! honours `If-Match` when sent.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use casework_core::model::{
    CallDirection, CloseMode, ContactChannel, ContactOutcome, LinkTarget, PostKind, RefKind,
    Resolution, Visibility,
};
use casework_core::workflow::Command;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::{Body, CasePath, IfMatch, whole_number};
use crate::respond::{act, act_on_case, entry_response};
use crate::{ApiError, AppState, openapi};
use casework_core::ids::STATUS_PATTERN;
use casework_core::limits::{MAX_CALL_MINUTES, MAX_SHORT_TEXT, MAX_STATUS_NAME, MAX_TEXT};

use crate::rules::Accepts::{Line, Matching, NotBlank, OptionalLine, OptionalText, Range, Text};
use crate::rules::Field::Property;
use crate::rules::Rule;

/// What the fields of these requests accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Property("AssignIn", "owner"), NotBlank),
    Rule(
        Property("TransitionIn", "status"),
        Matching(STATUS_PATTERN, MAX_STATUS_NAME),
    ),
    Rule(Property("TransitionIn", "note"), OptionalText(MAX_TEXT)),
    Rule(Property("ReasonIn", "reason"), Text(MAX_TEXT)),
    Rule(
        Property("CloseIn", "primary_resolution"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(
        Property("CloseIn", "secondary_resolution"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(Property("ReopenIn", "reason"), Text(MAX_TEXT)),
    Rule(
        Property("CallIn", "duration_minutes"),
        Range(1, MAX_CALL_MINUTES as u64),
    ),
    Rule(Property("CallIn", "channel"), OptionalLine(MAX_SHORT_TEXT)),
    Rule(Property("CallIn", "notes"), Text(MAX_TEXT)),
    Rule(Property("PostIn", "body"), Text(MAX_TEXT)),
    Rule(Property("ContactIn", "note"), OptionalText(MAX_TEXT)),
    Rule(Property("LinkIn", "ref"), Line(MAX_SHORT_TEXT)),
    Rule(Property("SwarmIn", "group"), Line(MAX_SHORT_TEXT)),
    Rule(Property("SwarmIn", "question"), Text(MAX_TEXT)),
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignIn {
    /// The agent's name.
    owner: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/assign",
    tag = "cases",
    summary = "Give the case an owner",
    params(CasePath, IfMatch),
    request_body = AssignIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn assign(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<AssignIn>,
) -> Result<Response, ApiError> {
    act_on_case(&s, &a, &n, &h, Command::Assign { owner: b.owner }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionIn {
    /// The status to move to (a name from the workflow file; not a closed one: use close).
    status: String,
    /// Why, for the history.
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/transition",
    tag = "cases",
    summary = "Move the case to another status",
    params(CasePath, IfMatch),
    request_body = TransitionIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn transition(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<TransitionIn>,
) -> Result<Response, ApiError> {
    act_on_case(
        &s,
        &a,
        &n,
        &h,
        Command::Transition {
            status: b.status,
            note: b.note,
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonIn {
    /// Why.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/escalate",
    tag = "cases",
    summary = "Escalate the case",
    params(CasePath, IfMatch),
    request_body = ReasonIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn escalate(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ReasonIn>,
) -> Result<Response, ApiError> {
    act_on_case(&s, &a, &n, &h, Command::Escalate { reason: b.reason }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloseIn {
    /// `resolved` (the closing checklist must hold), `non_response` (the contact policy
    /// must hold) or `temporary`.
    mode: CloseMode,
    /// Required for `resolved`.
    primary_resolution: Option<String>,
    /// Required for `resolved`.
    secondary_resolution: Option<String>,
    /// Tell the customer (default true): a resolved close sends the resolution, a temporary
    /// one how to come back. A non-response close always sends its closing email (`false`
    /// is refused).
    #[serde(default = "yes")]
    notify_customer: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/close",
    tag = "cases",
    summary = "Close: resolved (checklist), non-response (policy) or temporary",
    params(CasePath, IfMatch),
    request_body = CloseIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn close(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<CloseIn>,
) -> Result<Response, ApiError> {
    let resolution = match (b.primary_resolution, b.secondary_resolution) {
        (None, None) => None,
        (p, s) => Some(Resolution {
            primary: p.unwrap_or_default(),
            secondary: s.unwrap_or_default(),
        }),
    };
    act_on_case(
        &s,
        &a,
        &n,
        &h,
        Command::Close {
            mode: b.mode,
            resolution,
            notify_customer: b.notify_customer,
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReopenIn {
    /// Why the case came back: kept as data for the reopen report.
    reason: String,
    /// Queue the reopen notice to the customer (default true).
    #[serde(default = "yes")]
    notify_customer: bool,
}

pub(crate) fn yes() -> bool {
    true
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/reopen",
    tag = "cases",
    summary = "Reopen a closed case with a reason",
    params(CasePath, IfMatch),
    request_body = ReopenIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn reopen(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ReopenIn>,
) -> Result<Response, ApiError> {
    act_on_case(
        &s,
        &a,
        &n,
        &h,
        Command::Reopen {
            reason: b.reason,
            notify_customer: b.notify_customer,
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallIn {
    /// Who called whom.
    direction: CallDirection,
    /// 1 to {MAX_CALL_MINUTES} (a whole number; `25.0` is taken as 25).
    #[serde(deserialize_with = "whole_number")]
    duration_minutes: u32,
    /// Whether the screen was shared.
    #[serde(default)]
    screenshare: bool,
    /// Phone, Teams, …
    channel: Option<String>,
    /// What was found and done (customer-visible).
    notes: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/calls",
    tag = "cases",
    summary = "Log a call",
    params(CasePath, IfMatch),
    request_body = CallIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
pub(crate) async fn log_call(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<CallIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::LogCall {
        direction: b.direction,
        duration_minutes: b.duration_minutes,
        screenshare: b.screenshare,
        channel: b.channel,
        notes: b.notes,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostIn {
    /// What kind of post.
    kind: PostKindIn,
    /// The text.
    body: String,
    /// Default `internal`; customers may only post `customer` notes.
    #[serde(default = "internal")]
    visibility: Visibility,
}

/// The kinds of post a client may add (a reopen reason is written by reopen).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PostKindIn {
    /// A note.
    Note,
    /// Notes of a call (seed step 4).
    CallNotes,
    /// The case summary (seed step 7).
    Summary,
}

impl From<PostKindIn> for PostKind {
    fn from(k: PostKindIn) -> Self {
        match k {
            PostKindIn::Note => PostKind::Note,
            PostKindIn::CallNotes => PostKind::CallNotes,
            PostKindIn::Summary => PostKind::Summary,
        }
    }
}

pub(crate) fn internal() -> Visibility {
    Visibility::Internal
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/posts",
    tag = "cases",
    summary = "Add a note, call notes or the case summary",
    params(CasePath, IfMatch),
    request_body = PostIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
pub(crate) async fn add_post(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<PostIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::AddPost {
        kind: b.kind.into(),
        body: b.body,
        visibility: b.visibility,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactIn {
    /// How the customer was contacted.
    channel: ContactChannel,
    /// Whether they answered.
    outcome: ContactOutcome,
    /// Internal note.
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/contact-attempts",
    tag = "cases",
    summary = "Record an attempt to reach the customer",
    params(CasePath, IfMatch),
    request_body = ContactIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
pub(crate) async fn contact_attempt(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ContactIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::RecordContact {
        channel: b.channel,
        outcome: b.outcome,
        note: b.note,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkIn {
    /// What to link.
    kind: RefKind,
    /// The article id, defect key or case number.
    #[serde(rename = "ref")]
    reference: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/links",
    tag = "cases",
    summary = "Link an article, defect or case",
    params(CasePath, IfMatch),
    request_body = LinkIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
pub(crate) async fn link(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<LinkIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::Link(LinkTarget {
        kind: b.kind,
        reference: b.reference,
    });
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SwarmIn {
    /// The collaboration group.
    group: String,
    /// What to ask.
    question: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/swarm",
    tag = "cases",
    summary = "Ask a collaboration group for help (internal)",
    params(CasePath, IfMatch),
    request_body = SwarmIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
pub(crate) async fn swarm(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<SwarmIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::Swarm {
        group: b.group,
        question: b.question,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}
