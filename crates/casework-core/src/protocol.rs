//! The storage protocol (`/store/v1`): the case-store port as HTTP resources, so a store can
//! live behind a service boundary. This module holds what both ends share and no I/O: the
//! request bodies, the error body, and [`verify_commit`], the server's refusal to trust a
//! client's claimed state. The routes are in `casework-http`, the client in
//! `casework-store-rest`; `docs/store-protocol.md` describes the whole.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::WorkflowConfig;
use crate::event::{EventKind, Opened};
use crate::ids::{EmailAddress, StatusName};
use crate::model::{Case, CloseMode, NewArticle, OutboxMessage, StatusCategory};
use crate::ports::{CaseFilter, Commit, DeliveryOutcome, PageRequest, Scope, StoreError};
use crate::workflow::{closing_check, is_casework_message_id, message_id};

/// The path prefix of every protocol resource.
pub const PREFIX: &str = "/store/v1";

/// `POST /store/v1/cases`: open a case, at most once per key when one is given. Its schema
/// is `StoreCreateCase`: the API's own body is `CreateCase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = StoreCreateCase))]
pub struct CreateCase {
    /// When it was opened.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Who opened it.
    pub actor: String,
    /// The `opened` event (any other event is refused).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::event::EventKind))]
    pub opened: Opened,
    /// For an idempotent create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once: Option<Once>,
    /// The notices the opening makes (staff notices only), numbered by the store with the
    /// case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<crate::model::OutboxMessage>,
}

/// An idempotency key and the fingerprint of the request it was first used with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Once {
    /// The key.
    pub key: String,
    /// What the request was.
    pub fingerprint: String,
}

/// The answer to a create: the case, and whether an idempotent create was a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedCase {
    /// The case as created.
    pub case: Case,
    /// Whether the key had been used and nothing was created.
    pub replayed: bool,
}

/// `POST /store/v1/cases/query`: a page of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListCases {
    /// Which cases.
    pub filter: CaseFilter,
    /// Which page.
    pub page: PageRequest,
}

/// `POST /store/v1/cases/latest`: a customer's latest cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatestCases {
    /// Whose cases.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub customer: EmailAddress,
    /// At most this many.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
}

/// `POST /store/v1/cases/by-message-id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageIdCases {
    /// The Message-ID, without angle brackets.
    pub message_id: String,
    /// At most this many cases.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
}

/// `POST /store/v1/mailboxes/position`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailboxKey {
    /// The mailbox's key (its IMAP URL without password or options).
    pub mailbox: String,
}

/// `POST /store/v1/mailboxes/advance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdvanceMailbox {
    /// The mailbox's key.
    pub mailbox: String,
    /// The position reached.
    pub position: crate::ports::MailboxPosition,
}

/// `POST /store/v1/cases/{n}/similar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Similar {
    /// Whose eyes.
    pub scope: Scope,
    /// At most this many hits.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
}

/// `POST /store/v1/articles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddArticle {
    /// The article.
    pub article: NewArticle,
    /// When it was added.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// `POST /store/v1/outbox/claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claim {
    /// The claiming worker.
    pub worker: String,
    /// The worker's time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub now: Timestamp,
    /// Until when the claim holds (the worker's `now` plus its lease).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub until: Timestamp,
    /// At most this many messages.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
}

/// `POST /store/v1/outbox/{id}/finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finish {
    /// The worker holding the claim.
    pub worker: String,
    /// The worker's time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub now: Timestamp,
    /// What became of the attempt.
    pub outcome: DeliveryOutcome,
}

/// `POST /store/v1/webhook-deliveries/{id}/finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookFinish {
    /// The worker holding the claim.
    pub worker: String,
    /// The worker's time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub now: Timestamp,
    /// What became of the attempt.
    pub outcome: DeliveryOutcome,
    /// The HTTP status the endpoint answered, if it answered.
    pub response_status: Option<u16>,
}

/// `POST /store/v1/outbox/{id}/bounced`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bounced {
    /// What the bounce said.
    pub error: String,
}

/// `POST /store/v1/outbox/{id}/act`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Act {
    /// Retry or cancel.
    pub action: crate::ports::OutboxAction,
    /// The time the action is taken at (a claim running past it refuses it).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub now: jiff::Timestamp,
}

/// `POST /store/v1/tokens/{id}/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revoke {
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// The body of every protocol error (problem+json, with the store error's kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// `not_found`, `conflict`, `duplicate`, `claim_lost`, `invalid`, `unavailable` or
    /// `internal`.
    pub kind: String,
    /// What happened.
    pub detail: String,
    /// For a conflict: the version the writer expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// For a conflict: the version stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ErrorBody {
    /// The body for a store error.
    pub fn of(e: &StoreError) -> Self {
        let (kind, detail, versions) = match e {
            StoreError::NotFound(what) => ("not_found", what.clone(), None),
            StoreError::Conflict {
                expected_version,
                current_version,
            } => (
                "conflict",
                e.to_string(),
                Some((*expected_version, *current_version)),
            ),
            StoreError::Duplicate(what) => ("duplicate", what.clone(), None),
            StoreError::ClaimLost(id) => ("claim_lost", id.clone(), None),
            StoreError::Invalid(why) => ("invalid", why.clone(), None),
            StoreError::Unavailable(why) => ("unavailable", why.clone(), None),
            StoreError::Internal(why) => ("internal", why.clone(), None),
        };
        Self {
            kind: kind.into(),
            detail,
            expected_version: versions.map(|v| v.0),
            current_version: versions.map(|v| v.1),
        }
    }

    /// The store error a body stands for.
    pub fn error(self) -> StoreError {
        match self.kind.as_str() {
            "not_found" => StoreError::NotFound(self.detail),
            "conflict" => StoreError::Conflict {
                expected_version: self.expected_version.unwrap_or(0),
                current_version: self.current_version.unwrap_or(0),
            },
            "duplicate" => StoreError::Duplicate(self.detail),
            "claim_lost" => StoreError::ClaimLost(self.detail),
            "invalid" => StoreError::Invalid(self.detail),
            "unavailable" => StoreError::Unavailable(self.detail),
            _ => StoreError::Internal(self.detail),
        }
    }
}

/// How far a writer's clock may be behind the server's: an event dated earlier than this
/// before the server's now is refused as back-dated.
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

fn invalid(why: String) -> StoreError {
    StoreError::Invalid(why)
}

/// An event's time, refused when it is back-dated (see [`MAX_CLOCK_SKEW`]).
fn check_time(at: Timestamp, now: Timestamp) -> Result<(), StoreError> {
    let earliest = now.checked_sub(MAX_CLOCK_SKEW).unwrap_or(now);
    if at < earliest {
        return Err(invalid(format!(
            "an event is dated {at}, more than {} minutes before the server's clock ({now})",
            MAX_CLOCK_SKEW.as_mins()
        )));
    }
    Ok(())
}

/// A status an event moves a case into: one the workflow file has, in its category.
fn check_status(
    config: &WorkflowConfig,
    to: &StatusName,
    category: StatusCategory,
) -> Result<(), StoreError> {
    let known = config
        .statuses()
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>();
    match config.status(to.as_str()) {
        None => Err(invalid(format!(
            "status {to:?} is not in the workflow ({})",
            known.join(", ")
        ))),
        Some(def) if def.category != category => Err(invalid(format!(
            "status {to:?} is {} in the workflow, not {}",
            def.category.as_str(),
            category.as_str()
        ))),
        Some(_) => Ok(()),
    }
}

/// What `POST /store/v1/cases` accepts of an `opened` event: a status of the workflow, in
/// its category, and a time that is not back-dated; its outbox holds only staff notices
/// (an opening announces no email to the customer), from the organization's support
/// address, each with the Message-ID it will have once numbered.
pub fn verify_open(
    opened: &Opened,
    at: Timestamp,
    outbox: &[OutboxMessage],
    config: &WorkflowConfig,
    now: Timestamp,
) -> Result<(), StoreError> {
    check_time(at, now)?;
    check_status(config, &opened.status, opened.category)?;
    let domain = support_domain(config)?;
    for m in outbox {
        if !m.template.is_staff_notice() {
            return Err(invalid(format!(
                "outbox message {} of a new case is a {} email; an opening queues only staff \
                 notices",
                m.id, m.template
            )));
        }
        let expected = format!(
            "{}.case-{}@{domain}",
            m.id,
            crate::workflow::notify::number_placeholder(&m.id)
        );
        check_from(config, m)?;
        if m.message_id != expected {
            return Err(invalid(format!(
                "outbox message {} has Message-ID {:?}; a new case's notice has {expected:?}",
                m.id, m.message_id
            )));
        }
    }
    Ok(())
}

fn support_domain(config: &WorkflowConfig) -> Result<String, StoreError> {
    config
        .organization
        .support_email
        .ascii_domain()
        .map_err(|e| invalid(format!("the organization's support address: {e}")))
}

/// An outbox message is from the organization's support address.
fn check_from(config: &WorkflowConfig, m: &OutboxMessage) -> Result<(), StoreError> {
    let org = &config.organization;
    if m.from != org.support_email {
        return Err(invalid(format!(
            "outbox message {} is from {}, not the organization's {}",
            m.id, m.from, org.support_email
        )));
    }
    Ok(())
}

/// The state a commit really leads to, computed from the stored case and the commit's
/// events; the commit's own `state` is ignored. Refuses (`Invalid`) what the core would not
/// have decided:
///
/// - events the core cannot apply (another case's, out of sequence, a second `opened`, …),
///   and a result that breaks [`Case::check_invariants`];
/// - a move into a status the workflow file does not have, or in another category;
/// - a resolved close while the closing checklist does not hold (as [`closing_check`] says,
///   on the case as it was just before the close);
/// - an event dated more than [`MAX_CLOCK_SKEW`] before the server's `now`;
/// - an outbox message whose headers are not Casework's own (From the organization's
///   support address, the Message-ID on the support domain ([`is_casework_message_id`])), an
///   email to anyone but the case's customer, or that no `email_queued` event of the
///   commit announced, unless it is a staff notice (its template says so), which tells of
///   the commit's events and whose recipient is trusted like the words.
///
/// What it cannot know, a service token is trusted with: who the actor is and what their
/// role permits, and the words of notes and emails.
///
/// `current` is the stored case; a version mismatch is a `Conflict`.
pub fn verify_commit(
    current: Case,
    commit: &Commit,
    config: &WorkflowConfig,
    now: Timestamp,
) -> Result<Case, StoreError> {
    if current.version != commit.expected_version {
        return Err(StoreError::Conflict {
            expected_version: commit.expected_version,
            current_version: current.version,
        });
    }
    if commit.events.is_empty() {
        return Err(StoreError::Invalid(
            "a commit needs at least one event".into(),
        ));
    }
    // event by event: each is checked against the case as it stands before it
    let mut state = current;
    for e in &commit.events {
        check_time(e.at, now)?;
        match &e.kind {
            EventKind::StatusChanged { to, category, .. }
            | EventKind::Escalated { to, category, .. }
            | EventKind::Reopened { to, category, .. } => check_status(config, to, *category)?,
            EventKind::Closed {
                mode,
                to,
                resolution,
                ..
            } => {
                check_status(config, to, StatusCategory::Closed)?;
                if *mode == CloseMode::Resolved {
                    let missing = closing_check(&state, config, resolution.as_ref());
                    if !missing.is_empty() {
                        let items: Vec<&str> = missing.iter().map(|m| m.item.as_str()).collect();
                        return Err(invalid(format!(
                            "a resolved close while the closing checklist does not hold \
                             (missing: {})",
                            items.join(", ")
                        )));
                    }
                }
            }
            _ => {}
        }
        // `evolve` refuses events of another case, out of sequence, or a second `opened`
        state = e
            .evolve(Some(state))
            .map_err(|e| invalid(format!("the core refuses these events: {e}")))?;
    }
    state.check_invariants().map_err(StoreError::Invalid)?;
    let domain = support_domain(config)?;
    for m in &commit.outbox {
        check_from(config, m)?;
        if m.case != commit.number {
            return Err(invalid(format!(
                "outbox message {} is about case {}, not {}",
                m.id, m.case, commit.number
            )));
        }
        if !is_casework_message_id(&m.message_id, &m.id, commit.number, &domain) {
            let expected = message_id(&m.id, commit.number, &domain);
            return Err(invalid(format!(
                "outbox message {} has Message-ID {:?}; Casework's is {expected:?} (or \
                 {}.c{}.<reply token signature>@{domain})",
                m.id,
                m.message_id,
                m.id,
                commit.number.get()
            )));
        }
        if m.template.is_staff_notice() {
            // a notice to staff tells of the commit's events; it announces nothing itself
            continue;
        }
        if m.to != state.customer.email {
            return Err(invalid(format!(
                "outbox message {} is to {}, not the case's customer",
                m.id, m.to
            )));
        }
        let announced = commit.events.iter().any(|e| match &e.kind {
            EventKind::EmailQueued {
                message,
                message_id,
                to,
                subject,
                body,
                ..
            } => {
                message == &m.id
                    && message_id.as_ref().is_none_or(|id| id == &m.message_id)
                    && to == &m.to
                    && subject == &m.subject
                    && body == &m.body
                    && m.case == commit.number
            }
            _ => false,
        });
        if !announced {
            return Err(StoreError::Invalid(format!(
                "outbox message {} matches no email_queued event of this commit",
                m.id
            )));
        }
    }
    Ok(state)
}
