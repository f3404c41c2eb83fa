//! Ports: what core needs from the outside world. The case store is split by capability,
//! one trait per file, each stating the errors an implementation MUST return:
//!
//! - [`CaseLog`] (`case_log.rs`) — open, load, commit and read the history of cases;
//! - [`Directory`] (`directory.rs`) — people and API tokens;
//! - [`Knowledge`] (`knowledge.rs`) — articles and defects;
//! - [`CaseQueries`] (`case_queries.rs`) — lists, search and similar cases;
//! - [`Reports`] (`reports.rs`) — the reopen report and its drill-down;
//! - [`OutboxQueue`] (`outbox.rs`) — queued email, claims and delivery outcomes;
//! - [`Diagnostics`] (`diagnostics.rs`) — counts for `casework doctor`;
//! - [`ChangeFeed`] (`feed.rs`) — every committed event at a global position;
//! - [`Sessions`] (`sessions.rs`) — staff passwords, sessions, sign-in links, failed sign-ins;
//! - [`Quarantine`] (`quarantine.rs`) — inbound messages the pipeline refused, kept whole;
//! - [`Webhooks`] (`webhooks.rs`) — webhook endpoints and the deliveries commits write;
//! - [`MailboxPositions`] (`mailbox.rs`) — how far each IMAP mailbox has been read;
//! - [`Attachments`] (`attachments.rs`) — files kept with their posts, written by commits;
//! - [`CaseSurroundings`] (`surroundings.rs`) — a case's messages, files and the people
//!   to assign it to, read together for its page.
//!
//! Beside them, [`StoreTransfer`] (`transfer.rs`) — moving whole stores (`casework store
//! copy`). Only stores that hold their own data have it, so it is not part of
//! [`CaseStore`]; [`TransferStore`] is a whole store that has it too.
//!
//! [`CaseStore`] is a whole store: every capability, implemented for any type that has them
//! all, so wiring stays one `Arc<dyn CaseStore>`. Adding a capability is a trait in a file of
//! its own here, one bound in [`CaseStore`], a group in the conformance suite
//! (`casework-store-conformance`), and an implementation in every store.
//!
//! Beside the store: [`Clock`] and [`IdGenerator`] (`clock.rs`), [`Mailer`] (`mailer.rs`),
//! [`MailParser`] (`mail_parser.rs`), [`Credentials`] (`credentials.rs`: password hashing
//! and secrets) and [`WebhookSender`] (`webhook_sender.rs`).

pub mod attachments;
pub mod case_log;
pub mod case_queries;
pub mod clock;
pub mod credentials;
pub mod delegate;
pub mod diagnostics;
pub mod directory;
pub mod feed;
pub mod knowledge;
pub mod mail_parser;
pub mod mailbox;
pub mod mailer;
pub mod outbox;
pub mod page;
pub mod quarantine;
pub mod reports;
pub mod sessions;
pub mod surroundings;
pub mod transfer;
pub mod webhook_sender;
pub mod webhooks;

pub use attachments::{
    AttachmentFile, AttachmentInfo, Attachments, check_attachments, check_files,
};
pub use case_log::{CaseLog, Commit, Created, key_reused};
pub use case_queries::{CaseFilter, CaseQueries, Scope, SearchHit, SearchQuery};
pub use clock::{Clock, IdGenerator, RandomIds, SystemClock};
pub use credentials::{CredentialError, Credentials, NoCredentials};
pub use diagnostics::{Diagnostics, StatusCount, StoreStats};
pub use directory::Directory;
pub use feed::{ChangeFeed, FeedEntry};
pub use knowledge::Knowledge;
pub use mail_parser::MailParser;
pub use mailbox::{MailboxPosition, MailboxPositions};
pub use mailer::{MailError, Mailer};
pub use outbox::{DeliveryOutcome, OutboxAction, OutboxQueue};
pub use page::{
    CaseOrder, Page, PageError, PageRequest, decode_cursor, encode_cursor, priority_rank,
    updated_key,
};
pub use quarantine::{Quarantine, QuarantineAfter, QuarantineEntry, QuarantinedMessage};
pub use reports::{
    ReportCase, ReportCasesQuery, ReportClosure, ReportGroup, ReportQuery, ReportReopen, ReportRow,
    Reports,
};
pub use sessions::{EndSessions, Session, SessionAndPerson, SessionUser, Sessions, SignInLink};
pub use surroundings::{CaseSurroundings, Surroundings};
pub use transfer::{
    CaseRecord, Imported, StoreTransfer, TransferStore, check_history, check_record, file_clash,
    plan_import,
};
pub use webhook_sender::WebhookSender;
pub use webhooks::Webhooks;

#[cfg(any(test, feature = "mocks"))]
pub use clock::{MockClock, MockIdGenerator};
#[cfg(any(test, feature = "mocks"))]
pub use mailer::MockMailer;

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
    /// A unique key is taken (defect key, outbox message id, token id or hash); nothing was
    /// written.
    #[error("{0} already exists")]
    Duplicate(String),
    /// The worker finishing an outbox message no longer holds its claim (the deadline
    /// passed and another worker took it over, or it is finished); nothing was written.
    #[error(
        "the claim on outbox message {0} was lost: its deadline passed and another worker may hold it"
    )]
    ClaimLost(String),
    /// The request is malformed for the store (events out of sequence, a state that does not
    /// follow them, an idempotency key used for another request).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store cannot be reached or is not usable right now; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A fault inside the store (corruption, a bug); logged with context by the caller.
    #[error("store failure: {0}")]
    Internal(String),
}

/// A whole case store: every capability. Nothing here assumes one process: numbers,
/// versions and outbox claims come from the store, so a networked store may serve many
/// servers.
///
/// It has no methods of its own and is implemented for every type that has all the
/// capabilities, so a store implements the capability traits and is a `CaseStore` by that
/// alone. A new capability is one more bound here (and in the blanket impl below).
pub trait CaseStore:
    CaseLog
    + CaseQueries
    + Reports
    + Directory
    + Knowledge
    + OutboxQueue
    + Diagnostics
    + ChangeFeed
    + Sessions
    + Quarantine
    + Webhooks
    + MailboxPositions
    + Attachments
    + CaseSurroundings
{
}

impl<T> CaseStore for T where
    T: CaseLog
        + CaseQueries
        + Reports
        + Directory
        + Knowledge
        + OutboxQueue
        + Diagnostics
        + ChangeFeed
        + Sessions
        + Quarantine
        + Webhooks
        + MailboxPositions
        + Attachments
        + CaseSurroundings
        + ?Sized
{
}

#[cfg(any(test, feature = "mocks"))]
mod mock {
    //! A whole store whose every method is a mockall expectation, for tests of the service's
    //! paths that a real store cannot be made to take (an unreachable store, a lost race).

    use async_trait::async_trait;
    use jiff::Timestamp;

    use super::*;
    use crate::event::{Event, Opened};
    use crate::ids::CaseNumber;
    use crate::model::{
        ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person,
    };
    use crate::webhook::{WebhookDelivery, WebhookEndpoint};

    mockall::mock! {
        /// A mock of every capability of [`CaseStore`].
        pub CaseStore {}

        #[async_trait]
        impl CaseLog for CaseStore {
            async fn create_case(&self, at: Timestamp, actor: String, opened: Opened, outbox: Vec<OutboxMessage>) -> Result<Case, StoreError>;
            async fn create_case_once(&self, key: String, fingerprint: String, at: Timestamp, actor: String, opened: Opened, outbox: Vec<OutboxMessage>) -> Result<Created, StoreError>;
            async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError>;
            async fn commit(&self, commit: Commit) -> Result<Case, StoreError>;
            async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError>;
        }

        #[async_trait]
        impl CaseQueries for CaseStore {
            async fn list_cases(&self, filter: CaseFilter, page: PageRequest) -> Result<Page<Case>, StoreError>;
            async fn latest_cases_of(&self, customer: crate::ids::EmailAddress, limit: u32) -> Result<Vec<Case>, StoreError>;
            async fn cases_with_message_id(&self, message_id: String, limit: u32) -> Result<Vec<CaseNumber>, StoreError>;
            async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError>;
            async fn similar(&self, number: CaseNumber, scope: Scope, limit: u32) -> Result<Vec<SearchHit>, StoreError>;
        }

        #[async_trait]
        impl Reports for CaseStore {
            async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError>;
            async fn reopen_report_cases(&self, query: ReportCasesQuery) -> Result<Page<ReportCase>, StoreError>;
        }

        #[async_trait]
        impl Directory for CaseStore {
            async fn put_person(&self, person: Person) -> Result<(), StoreError>;
            async fn get_person(&self, name: String) -> Result<Person, StoreError>;
            async fn list_people(&self) -> Result<Vec<Person>, StoreError>;
            async fn put_token(&self, token: ApiToken) -> Result<(), StoreError>;
            async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError>;
            async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
            async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError>;
        }

        #[async_trait]
        impl Knowledge for CaseStore {
            async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError>;
            async fn get_article(&self, id: u64) -> Result<Article, StoreError>;
            async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError>;
            async fn get_defect(&self, key: String) -> Result<Defect, StoreError>;
        }

        #[async_trait]
        impl OutboxQueue for CaseStore {
            async fn outbox_list(&self, status: Option<OutboxStatus>, limit: u32) -> Result<Vec<OutboxMessage>, StoreError>;
            async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError>;
            async fn outbox_claim(&self, worker: String, now: Timestamp, until: Timestamp, limit: u32) -> Result<Vec<OutboxMessage>, StoreError>;
            async fn outbox_finish(&self, id: String, worker: String, now: Timestamp, outcome: DeliveryOutcome) -> Result<OutboxMessage, StoreError>;
            async fn outbox_bounced(&self, id: String, error: String) -> Result<OutboxMessage, StoreError>;
            async fn outbox_act(&self, id: String, action: OutboxAction, now: Timestamp) -> Result<OutboxMessage, StoreError>;
        }

        #[async_trait]
        impl Diagnostics for CaseStore {
            async fn stats(&self) -> Result<StoreStats, StoreError>;
        }

        #[async_trait]
        impl ChangeFeed for CaseStore {
            async fn feed(&self, after: u64, limit: u32, customer: Option<crate::ids::EmailAddress>) -> Result<Vec<FeedEntry>, StoreError>;
        }

        #[async_trait]
        impl Sessions for CaseStore {
            async fn set_password(&self, person: String, hash: String) -> Result<(), StoreError>;
            async fn password(&self, person: String) -> Result<String, StoreError>;
            async fn put_session(&self, session: Session) -> Result<(), StoreError>;
            async fn get_session(&self, id: String) -> Result<Session, StoreError>;
            async fn session_and_person(&self, id: String) -> Result<SessionAndPerson, StoreError>;
            async fn touch_session(&self, id: String, at: Timestamp) -> Result<(), StoreError>;
            async fn end_sessions(&self, which: EndSessions) -> Result<u64, StoreError>;
            async fn put_sign_in_link(&self, link: SignInLink, message: OutboxMessage) -> Result<(), StoreError>;
            async fn use_sign_in_link(&self, hash: String, now: Timestamp) -> Result<SignInLink, StoreError>;
            async fn sign_in_failed(&self, keys: Vec<String>, at: Timestamp, forget_before: Timestamp) -> Result<(), StoreError>;
            async fn sign_in_failures(&self, key: String, since: Timestamp) -> Result<u32, StoreError>;
        }

        #[async_trait]
        impl Quarantine for CaseStore {
            async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError>;
            async fn quarantine_list(&self, after: Option<QuarantineAfter>, limit: u32) -> Result<Vec<QuarantineEntry>, StoreError>;
            async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError>;
            async fn quarantine_remove(&self, id: String) -> Result<(), StoreError>;
        }

        #[async_trait]
        impl Webhooks for CaseStore {
            async fn webhook_add(&self, endpoint: WebhookEndpoint) -> Result<(), StoreError>;
            async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;
            async fn webhook_remove(&self, id: String, at: Timestamp) -> Result<WebhookEndpoint, StoreError>;
            async fn webhook_deliveries(&self, endpoint: String, limit: u32) -> Result<Vec<WebhookDelivery>, StoreError>;
            async fn webhook_claim(&self, worker: String, now: Timestamp, until: Timestamp, limit: u32) -> Result<Vec<WebhookDelivery>, StoreError>;
            async fn webhook_finish(&self, id: String, worker: String, now: Timestamp, outcome: DeliveryOutcome, response_status: Option<u16>) -> Result<WebhookDelivery, StoreError>;
            async fn webhook_redeliver(&self, id: String, now: Timestamp) -> Result<WebhookDelivery, StoreError>;
        }

        #[async_trait]
        impl MailboxPositions for CaseStore {
            async fn mailbox_position(&self, mailbox: String) -> Result<Option<MailboxPosition>, StoreError>;
            async fn advance_mailbox_position(&self, mailbox: String, position: MailboxPosition) -> Result<MailboxPosition, StoreError>;
        }

        #[async_trait]
        impl Attachments for CaseStore {
            async fn attachment_list(&self, case: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError>;
            async fn attachment_get(&self, id: String) -> Result<AttachmentFile, StoreError>;
        }

        #[async_trait]
        impl CaseSurroundings for CaseStore {
            async fn case_surroundings(&self, case: CaseNumber, people: bool) -> Result<Surroundings, StoreError>;
        }
    }
}

#[cfg(any(test, feature = "mocks"))]
pub use mock::MockCaseStore;
