//! The case log: cases as append-only histories. A store opens a case under the next
//! number, appends events at an expected version, and gives back a case and its history.
//! Every other capability reads what the log wrote.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::event::{Event, Opened};
use crate::ids::CaseNumber;
use crate::model::{Case, OutboxMessage};

/// An atomic write to one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Commit {
    /// The case.
    pub number: CaseNumber,
    /// The version the events were decided against.
    pub expected_version: u64,
    /// New events, numbered from `expected_version + 1`.
    pub events: Vec<Event>,
    /// The state after the events.
    pub state: Case,
    /// Emails produced by the events, queued in the same step.
    pub outbox: Vec<OutboxMessage>,
    /// Files that came with the commit's posts, kept in the same step
    /// ([`check_attachments`](super::check_attachments) says what a store checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<super::AttachmentFile>,
}

/// The result of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The case as it was created (version 1).
    pub case: Case,
    /// Whether this call found the key already used and created nothing.
    pub replayed: bool,
}

/// The error for an idempotency key used with a different request.
pub fn key_reused(key: &str) -> StoreError {
    StoreError::Invalid(format!(
        "idempotency key {key:?} was already used for a different request"
    ))
}

/// Cases and their histories: the first capability a store implements.
///
/// A commit is atomic with everything derived from its events: the state, the outbox
/// messages it carries, and whatever the store's other capabilities keep from events
/// (search passages, report facts), so a reader never sees half of a write.
#[async_trait]
pub trait CaseLog: Send + Sync {
    /// Opens a case: assigns the next number (unique, increasing), stores `opened` as
    /// event 1 and the state that replaying it gives, and queues `outbox` — the notices
    /// the opening makes, given the number with
    /// [`number_notices`](crate::workflow::notify::number_notices) — in the same step.
    ///
    /// MUST return `Duplicate` when an outbox id is taken (writing nothing).
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Case, StoreError>;

    /// Opens a case at most once per idempotency key, atomically: the first call creates it
    /// (as [`CaseLog::create_case`]) and records `key` with `fingerprint`; a later call with
    /// the same key and fingerprint creates nothing and returns the case as it was created
    /// (its state after event 1), with `replayed` set, and queues nothing. Concurrent calls
    /// with one key make one case.
    ///
    /// MUST return `Invalid` when the key was used with another fingerprint ([`key_reused`]).
    async fn create_case_once(
        &self,
        key: String,
        fingerprint: String,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Created, StoreError>;

    /// Loads a case. MUST return `NotFound` for an unknown number.
    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError>;

    /// Writes events, the new state and outgoing emails, all or nothing.
    ///
    /// MUST return `NotFound` for an unknown case, `Conflict` when the stored version is not
    /// `expected_version` (and write nothing), `Invalid` when the events are not numbered
    /// from `expected_version + 1` or its attachments fail
    /// [`check_attachments`](super::check_attachments), and `Duplicate` when an outbox or
    /// attachment id is taken (writing nothing).
    async fn commit(&self, commit: Commit) -> Result<Case, StoreError>;

    /// The case's events, oldest first. MUST return `NotFound` for an unknown case.
    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError>;
}
