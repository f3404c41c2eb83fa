//! Ports: what core needs from the outside world — a case store, a clock, an id generator.
//!
//! Each trait documents the errors an implementation MUST return; the conformance suite
//! (`casework-store-conformance`) checks them for stores.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};
use crate::ids::{CaseNumber, EmailAddress, StatusName};
use crate::model::{
    ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person, RefKind,
    StatusCategory,
};

/// What can go wrong in a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The case, person, article, defect or message does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The case changed since the caller read it; nothing was written.
    #[error("conflict: the case is at version {current_version}, not {expected_version}")]
    Conflict {
        /// The version the caller expected.
        expected_version: u64,
        /// The version it has.
        current_version: u64,
    },
    /// A unique key is taken (defect key, outbox message id, person name); nothing was written.
    #[error("{0} already exists")]
    Duplicate(String),
    /// The request is malformed for the store (bad cursor, events out of sequence).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store cannot be reached or is not usable right now; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A fault inside the store (corruption, a bug); logged with context by the caller.
    #[error("store failure: {0}")]
    Internal(String),
}

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
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseFilter {
    /// Exactly this status.
    pub status: Option<StatusName>,
    /// Statuses of this category.
    pub status_category: Option<StatusCategory>,
    /// Owned by this person.
    pub owner: Option<String>,
    /// Reopened at least once (`true`) or never (`false`).
    pub reopened: Option<bool>,
    /// In this product area.
    pub product_area: Option<String>,
    /// Only this customer's cases, matching only customer-visible text.
    pub customer: Option<EmailAddress>,
    /// Full text: every term must occur in the case's title, description or timeline text
    /// (customer-visible text only when `customer` is set).
    pub q: Option<String>,
}

impl CaseFilter {
    /// The filters set here that only staff may use, by their API name: those on what a
    /// customer's view of a case leaves out (`product_area`), and the staff work-queue
    /// filter `owner`. A customer's list refuses them rather than ignoring them, so a
    /// match on a hidden value can never show as a different answer.
    pub fn staff_only(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.owner.is_some() {
            out.push("owner");
        }
        if self.product_area.is_some() {
            out.push("product_area");
        }
        out
    }
}

/// Largest page a list returns.
pub const MAX_PAGE: u32 = 500;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;

/// Where a page starts: cases are listed by ascending number, so a page is stable while
/// new cases are created (they appear at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageRequest {
    /// At most this many items (1 to [`MAX_PAGE`]).
    #[cfg_attr(feature = "openapi", schema(value_type = u64, maximum = 4294967295_u64))]
    pub limit: u32,
    /// Start after this case.
    pub after: Option<CaseNumber>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE,
            after: None,
        }
    }
}

impl PageRequest {
    /// Builds a page request from API parameters, clamping the limit and decoding the cursor.
    pub fn from_params(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, StoreError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(StoreError::Invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c)?),
        };
        Ok(Self { limit, after })
    }
}

/// Encodes a page cursor: opaque to clients.
pub fn encode_cursor(after: CaseNumber) -> String {
    format!("c{}", after.get())
}

/// Decodes a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<CaseNumber, StoreError> {
    cursor
        .strip_prefix('c')
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(CaseNumber::new)
        .ok_or_else(|| StoreError::Invalid(format!("bad cursor {cursor:?}")))
}

/// A page of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items in case-number order (`number` gives an
    /// item's): fetching one more than the page holds tells whether another page follows,
    /// without counting.
    pub fn overfetched(mut items: Vec<T>, limit: u32, number: impl Fn(&T) -> CaseNumber) -> Self {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|c| encode_cursor(number(c)))
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

impl Page<Case> {
    /// [`Page::overfetched`] for cases.
    pub fn from_overfetch(items: Vec<Case>, limit: u32) -> Self {
        Self::overfetched(items, limit, |c| c.number)
    }
}

/// Whose eyes a search is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Support staff: all cases, all text, articles and defects.
    Staff,
    /// A customer: only their cases, only customer-visible text, and articles.
    Customer(EmailAddress),
}

/// A full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchQuery {
    /// Words to find; every non-stop-word term must match.
    pub text: String,
    /// Only hits of this kind.
    pub kind: Option<RefKind>,
    /// Whose eyes.
    pub scope: Scope,
    /// At most this many hits.
    #[cfg_attr(feature = "openapi", schema(value_type = u64, maximum = 4294967295_u64))]
    pub limit: u32,
}

/// A ranked search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// Case, article or defect.
    pub kind: RefKind,
    /// Case number (zero-padded), article id or defect key.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Title.
    pub title: String,
    /// Relevance, higher is better (BM25).
    pub score: f64,
}

/// What a reopen report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReportGroup {
    /// Product area.
    ProductArea,
    /// Owner.
    Owner,
    /// Primary resolution.
    PrimaryResolution,
}

/// A reopen-pattern report request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportQuery {
    /// Grouping.
    pub group_by: ReportGroup,
    /// Closures at or after this time.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub from: Option<Timestamp>,
    /// Closures before this time.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub to: Option<Timestamp>,
}

/// One row of the reopen report. See [`crate::report`] for the exact definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRow {
    /// The group's value at close, or `(none)`.
    pub key: String,
    /// Cases closed (resolved or non-response) in the period.
    pub closed: u64,
    /// Of those, cases reopened after such a closure.
    pub reopened: u64,
    /// `reopened / closed`.
    pub reopen_rate: f64,
    /// Median days from close to reopen, two decimals; `None` with no reopen.
    pub median_days_to_reopen: Option<f64>,
    /// Cases closed temporarily in the period (not in the rate or the median).
    #[serde(default)]
    pub temporarily_closed: u64,
    /// Of those, cases reopened after such a temporary closure.
    #[serde(default)]
    pub reopened_from_temporary: u64,
}

/// The cases behind one row of the reopen report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportCasesQuery {
    /// The report: grouping and period.
    pub report: ReportQuery,
    /// The row's key, as the report gives it (`(none)` for cases without the value).
    pub key: String,
    /// Which page (cases by ascending number).
    pub page: PageRequest,
}

/// A case behind a row of the reopen report: its closures in the period and the group,
/// and the reopens that left them, with their reasons. Staff only: reasons are internal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportCase {
    /// The case.
    pub number: CaseNumber,
    /// Its title now.
    pub title: String,
    /// Its closures in the period and the group, oldest first.
    pub closures: Vec<ReportClosure>,
    /// The reopens that left those closures, oldest first.
    pub reopens: Vec<ReportReopen>,
}

/// A closure in a drill-down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportClosure {
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// How.
    pub mode: crate::model::CloseMode,
}

/// A reopen in a drill-down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportReopen {
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Who reopened.
    pub by: String,
    /// When the closure it left was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub closed_at: Timestamp,
    /// How that closure was made.
    pub close_mode: crate::model::CloseMode,
    /// Days from that closure to the reopen, two decimals.
    pub days_to_reopen: f64,
    /// Why (internal).
    pub reason: String,
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

/// What became of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryOutcome {
    /// Accepted by the mail server.
    Sent,
    /// Failed; try again at this time.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        at: Timestamp,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
    },
}

/// Counts for `casework doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreStats {
    /// Cases.
    pub cases: u64,
    /// Events.
    pub events: u64,
    /// Outbox messages still queued.
    pub queued_messages: u64,
    /// Registered people.
    pub people: u64,
    /// Schema version, for stores that have one.
    pub schema_version: Option<u32>,
    /// How many cases are in each status (as stored), by status name.
    #[serde(default)]
    pub statuses: Vec<StatusCount>,
}

/// How many cases are in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    /// The status, as the cases store it.
    pub status: StatusName,
    /// How many cases are in it.
    pub cases: u64,
}

/// The case store: where cases, their histories, people, knowledge and the outbox live.
///
/// Nothing here assumes one process: numbers, versions and outbox claims come from the
/// store, so a networked store may serve many servers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Opens a case: assigns the next number (unique, increasing), stores the `opened`
    /// event as event 1 and the state that replaying it gives.
    ///
    /// MUST return `Invalid` if `opened` is not an `Opened` event.
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: EventKind,
    ) -> Result<Case, StoreError>;

    /// Opens a case at most once per idempotency key, atomically: the first call creates it
    /// (as [`CaseStore::create_case`]) and records `key` with `fingerprint`; a later call with
    /// the same key and fingerprint creates nothing and returns the case as it was created
    /// (its state after event 1), with `replayed` set. Concurrent calls with one key make
    /// one case.
    ///
    /// MUST return `Invalid` when the key was used with another fingerprint.
    async fn create_case_once(
        &self,
        key: String,
        fingerprint: String,
        at: Timestamp,
        actor: String,
        opened: EventKind,
    ) -> Result<Created, StoreError>;

    /// Loads a case. MUST return `NotFound` for an unknown number.
    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError>;

    /// Writes events, the new state and outgoing emails, all or nothing.
    ///
    /// MUST return `NotFound` for an unknown case, `Conflict` when the stored version is not
    /// `expected_version` (and write nothing), `Invalid` when the events are not numbered
    /// from `expected_version + 1`, and `Duplicate` when an outbox id is taken (writing
    /// nothing).
    async fn commit(&self, commit: Commit) -> Result<Case, StoreError>;

    /// Lists cases by ascending number. MUST return `Invalid` for a bad cursor.
    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError>;

    /// The case's events, oldest first. MUST return `NotFound` for an unknown case.
    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError>;

    /// Ranked full-text search (BM25) over cases, articles and defects, respecting the scope:
    /// text the scope may not see is never matched.
    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError>;

    /// Cases, articles and defects like this case: an any-term query of its
    /// [`crate::text::similar_terms`], excluding the case itself, respecting the scope.
    async fn similar(
        &self,
        number: CaseNumber,
        scope: Scope,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError>;

    /// The reopen-pattern report; see [`crate::report`] for what each figure means.
    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError>;

    /// The cases behind one row of the reopen report ([`crate::report::cases`] is the
    /// reference), by ascending number. MUST return `Invalid` for a bad cursor.
    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError>;

    /// Adds or replaces a person by name.
    async fn put_person(&self, person: Person) -> Result<(), StoreError>;

    /// A person by name. MUST return `NotFound` for an unknown name.
    async fn get_person(&self, name: String) -> Result<Person, StoreError>;

    /// Everyone, by name.
    async fn list_people(&self) -> Result<Vec<Person>, StoreError>;

    /// Adds a knowledge article and gives it an id.
    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError>;

    /// An article. MUST return `NotFound` for an unknown id.
    async fn get_article(&self, id: u64) -> Result<Article, StoreError>;

    /// Adds a defect. MUST return `Duplicate` when the key is taken.
    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError>;

    /// A defect. MUST return `NotFound` for an unknown key.
    async fn get_defect(&self, key: String) -> Result<Defect, StoreError>;

    /// Outbox messages, oldest first, optionally of one status.
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Every outbox message of one case, oldest first (for the delivery status shown on its
    /// timeline). An unknown case has none.
    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Claims up to `limit` queued messages due at `now` whose claim is free or lapsed,
    /// for `worker`, until `now + lease`. Two workers never hold the same message.
    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records a delivery attempt by the worker holding the claim, and releases it.
    ///
    /// MUST return `NotFound` for an unknown id and `Conflict` when `worker` no longer holds
    /// the claim (versions are not used: both fields are 0).
    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError>;

    /// Stores a new API token. MUST return `Duplicate` when the id or the hash is taken.
    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError>;

    /// The token with this hash, revoked or not. MUST return `NotFound` for an unknown hash.
    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError>;

    /// Every token, oldest first.
    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Marks a token revoked (a second revoke keeps the first time). MUST return `NotFound`
    /// for an unknown id.
    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError>;

    /// Counts, for diagnostics.
    async fn stats(&self) -> Result<StoreStats, StoreError>;
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth trying again later (server down, slow, 4xx).
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// Will never succeed (bad address, 5xx rejection).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers outgoing email.
///
/// An implementation MUST send the message with `Message-ID: <message_id>` (so a resend is
/// recognisable) and, unless it starts its thread (`thread_id` is its own Message-ID), with
/// `In-Reply-To: <in_reply_to>` (or `<thread_id>` when that is unknown) and `References`
/// listing `<thread_id>` then `<in_reply_to>`, so a case's emails thread in mail clients.
/// A message that cannot be formatted (a header value a mail could not carry) MUST be a
/// `Permanent` error naming the reason, never a panic.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: &OutboxMessage) -> Result<(), MailError>;
}

/// The time, through a port so tests and snapshots are deterministic.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Waits about `backoff` (the service's pause between two attempts at a contended
    /// write; a wall clock may add jitter). Test clocks return at once, which is the default.
    async fn pause(&self, backoff: std::time::Duration) {
        let _ = backoff;
    }
}

/// Unique ids for outbox messages and other records.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new id, unique across processes for production generators.
    fn new_id(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let n = CaseNumber::new(1027).unwrap();
        assert_eq!(decode_cursor(&encode_cursor(n)).unwrap(), n);
        for bad in ["", "1027", "cx", "c0", "c-1"] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
        assert!(PageRequest::from_params(Some(0), None).is_err());
        assert!(PageRequest::from_params(Some(501), None).is_err());
        let p = PageRequest::from_params(None, Some("c7")).unwrap();
        assert_eq!(p.limit, DEFAULT_PAGE);
        assert_eq!(p.after, CaseNumber::new(7));
    }
}
