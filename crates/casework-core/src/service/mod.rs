//! The application service: the one door into the core. It resolves the actor, checks what
//! they may see and do against the workflow file, decides, and commits. Every front-end (CLI,
//! HTTP, and later ones) drives the workflow, reads records and reaches the store only
//! through it; there is no public way around it to the store.
//!
//! The methods are grouped by what they serve: `cases.rs` (opening, reading, working and
//! listing cases), `directory.rs` (people and tokens), `knowledge.rs` (search, articles,
//! defects), `reports.rs`, `notify.rs` (the notices every write adds, and each person's
//! settings), `outbox.rs` (reading the outbox; delivery is in
//! [`crate::delivery`]), `inbound.rs` (taking inbound email), `feed.rs` (the change feed),
//! `diagnostics.rs` (`casework doctor`), `storage.rs` (the storage protocol's handle, for
//! principals with the `store` permission) and `transfer.rs` (`casework store copy`, with
//! the same permission), `mailbox.rs` (how far the IMAP poller has read each mailbox).

mod attachments;
mod cases;
mod diagnostics;
mod directory;
mod feed;
mod inbound;
mod knowledge;
mod mailbox;
mod notify;
mod outbox;
mod quarantine;
mod reports;
mod sign_in;
mod storage;
mod transfer;
mod webhooks;

use std::sync::Arc;

use jiff::Timestamp;

use crate::config::{Permission, WorkflowConfig};
use crate::documents::Templates;
use crate::event::{Event, apply_all};
use crate::ids::CaseNumber;
use crate::model::{Actor, Case, LinkTarget, RefKind, Role};
use crate::ports::{CaseStore, Clock, Commit, Credentials, IdGenerator, NoCredentials, StoreError};
use crate::reply_token::ReplyKeys;
use crate::workflow::{Command, Context, WorkflowError, decide, stamp};

pub use attachments::{Attached, FilePost};
pub use cases::{CaseView, ClosingCheck, SkippedCase, StatusMapSummary};
pub use diagnostics::Diagnosis;
pub use feed::FeedPage;
pub use inbound::{BATCH_WAVE, Ingested, MAX_CASES_PER_MESSAGE_ID, MAX_THREAD_LOOKUPS};
pub use notify::NotificationSettings;
pub use quarantine::{Intake, Kept, Released, refused_for_good};
pub use sign_in::{SignInError, SignedIn};
pub use storage::StoreAccess;
pub use webhooks::NewWebhook;

/// How many times a command without an expected version is decided and committed while
/// other writers keep getting in first, before the service answers [`ServiceError::Busy`].
pub const MAX_ATTEMPTS: u32 = 10;

/// The pause before attempt `attempt + 1`: 1 ms, doubling, at most 64 ms (about a quarter
/// of a second over all attempts).
fn backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(1u64 << attempt.saturating_sub(1).min(6))
}

/// What can go wrong when the service runs a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The workflow refused.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// No such case (or not one the actor may see), article, defect or person.
    #[error("{0} not found")]
    NotFound(String),
    /// The acting person is not registered.
    #[error("unknown person {0:?}: register them first (casework agent add)")]
    UnknownActor(String),
    /// The case changed since the caller read it; nothing was written.
    #[error("conflict: the case is now at version {current_version}; reload and try again")]
    Conflict {
        /// The case's version now.
        current_version: u64,
    },
    /// A command without an expected version lost the race to other writers on every
    /// attempt; nothing was written. Never a conflict: the caller stated no version.
    #[error(
        "the case is busy: other writes got in first {attempts} times; nothing was written, \
         try again shortly"
    )]
    Busy {
        /// Attempts made.
        attempts: u32,
    },
    /// The request does not apply to the thing as it stands now (retrying an email that
    /// was sent, cancelling one a worker is delivering); nothing was written.
    #[error("{0}")]
    Refused(String),
    /// The store cannot be reached, or refused a write for a reason of its own (a taken
    /// key).
    #[error(transparent)]
    Store(StoreError),
    /// A fault inside Casework: a bug, or stored data that does not read back. Never the
    /// caller's doing; front-ends log the detail and say something went wrong.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict {
                current_version, ..
            } => ServiceError::Conflict { current_version },
            StoreError::Invalid(m) => ServiceError::Workflow(WorkflowError::Invalid {
                field: "request".into(),
                message: m,
            }),
            StoreError::Internal(m) => ServiceError::Internal(m),
            other => ServiceError::Store(other),
        }
    }
}

impl From<crate::ports::PageError> for ServiceError {
    fn from(e: crate::ports::PageError) -> Self {
        ServiceError::Workflow(e.into())
    }
}

/// The result of a command: the case after it and the events it added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The case after the command.
    pub case: Case,
    /// Events added (empty when the command changed nothing).
    pub events: Vec<Event>,
}

/// The application service: every operation a front-end offers, as a method that takes the
/// acting [`Actor`] and checks what they may see and do against the workflow file.
///
/// ```
/// use std::sync::Arc;
///
/// use casework_core::model::{Actor, Customer, Person, PostKind, Role, Visibility};
/// use casework_core::ports::{RandomIds, SystemClock};
/// use casework_core::workflow::{Command, NewCase};
/// use casework_core::{CaseService, ServiceError, WorkflowError};
/// use casework_store_memory::MemoryStore;
///
/// # futures::executor::block_on(async {
/// let store = Arc::new(MemoryStore::new());
/// let service = CaseService::with_defaults(store, Arc::new(SystemClock), Arc::new(RandomIds::new()))?;
/// let ana = Actor::from_person(&service.register(None, Person::new("Ana Lopez", Role::Agent)).await?);
///
/// // open a case for a customer, and take it
/// let dana = Customer::new("Dana Smith", "dana@example.com".parse()?);
/// let case = service.open_case(&ana, NewCase::new("Export stops", "At 10%.", dana.clone())).await?;
/// let taken = service.execute(&ana, case.number, None, Command::Take).await?;
/// assert_eq!(taken.case.owner.as_deref(), Some("Ana Lopez"));
///
/// // a note for staff only, then a stale write: the caller read version 1
/// let note = Command::AddPost { kind: PostKind::Note, body: "Seen with SSO".into(), visibility: Visibility::Internal };
/// service.execute(&ana, case.number, None, note).await?;
/// let stale = service.execute(&ana, case.number, Some(1), Command::Take).await;
/// assert!(matches!(stale, Err(ServiceError::Conflict { current_version: 3 })));
///
/// // the customer sees their case without the note, and may not close it
/// let customer = Actor::customer(&dana.name, dana.email.clone());
/// let timeline = service.timeline(&customer, case.number).await?;
/// assert!(timeline.iter().all(|entry| !format!("{entry:?}").contains("Seen with SSO")));
/// let close = Command::Close { mode: casework_core::model::CloseMode::Temporary, resolution: None, notify_customer: false };
/// let refused = service.execute(&customer, case.number, None, close).await;
/// assert!(matches!(refused, Err(ServiceError::Workflow(WorkflowError::Forbidden { .. }))));
///
/// // what is left before it may be closed as resolved
/// let check = service.closing_check(&ana, case.number).await?;
/// assert!(!check.ready && check.missing.iter().any(|m| m.item == "summary"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct CaseService {
    pub(crate) store: Arc<dyn CaseStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: Arc<WorkflowConfig>,
    templates: Arc<Templates>,
    parser: Option<Arc<dyn crate::ports::MailParser>>,
    credentials: Arc<dyn Credentials>,
    reply_keys: Option<Arc<ReplyKeys>>,
}

pub(crate) fn forbidden(role: Role, action: &str) -> ServiceError {
    ServiceError::Workflow(WorkflowError::Forbidden {
        role,
        action: action.to_string(),
    })
}

fn case_not_found(number: CaseNumber) -> ServiceError {
    ServiceError::NotFound(format!("case {number}"))
}

/// What `command` writes to `case`: the decided events numbered after the case's version,
/// the state they lead to and the emails they queue, ready for [`CaseLog::commit`]; `None`
/// when the command changes nothing. The service commits it (deciding again after a lost
/// race); the conformance suite writes with it too, so both decide the same way.
pub fn decide_commit(
    command: &Command,
    case: &Case,
    ctx: &Context<'_>,
) -> Result<Option<Commit>, ServiceError> {
    let decision = decide(command, case, ctx)?;
    if decision.events.is_empty() {
        return Ok(None);
    }
    let events = stamp(case, &ctx.actor.name, ctx.now, decision.events);
    let state = apply_all(case.clone(), &events)
        .map_err(|e| ServiceError::Internal(format!("decided events do not apply: {e}")))?;
    Ok(Some(Commit {
        number: case.number,
        expected_version: case.version,
        events,
        state,
        outbox: decision.outbox,
        attachments: Vec::new(),
    }))
}

impl CaseService {
    /// Wires the service to its ports.
    pub fn new(
        store: Arc<dyn CaseStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        config: Arc<WorkflowConfig>,
        templates: Arc<Templates>,
    ) -> Self {
        Self {
            store,
            clock,
            ids,
            config,
            templates,
            parser: None,
            credentials: Arc::new(NoCredentials),
            reply_keys: None,
        }
    }

    /// The same service, signing a reply token into every outgoing Message-ID with `keys`
    /// and threading inbound mail by the tokens they verify ([`crate::reply_token`]).
    /// Without keys, outgoing mail carries no token and the rule never matches.
    pub fn with_reply_keys(self, keys: ReplyKeys) -> Self {
        Self {
            reply_keys: Some(Arc::new(keys)),
            ..self
        }
    }

    /// The same service, hashing passwords and making session secrets with `credentials`
    /// (without them, every sign-in is refused as unavailable).
    pub fn with_credentials(self, credentials: Arc<dyn Credentials>) -> Self {
        Self {
            credentials,
            ..self
        }
    }

    /// Wires the service with the default workflow file and the embedded templates: what an
    /// embedder starts with before writing a workflow file of their own.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use casework_core::CaseService;
    /// use casework_core::ports::{RandomIds, SystemClock};
    ///
    /// # fn wire(store: Arc<dyn casework_core::CaseStore>) -> Result<CaseService, casework_core::documents::TemplateError> {
    /// let service = CaseService::with_defaults(store, Arc::new(SystemClock), Arc::new(RandomIds::new()))?;
    /// assert_eq!(service.config().initial_status.as_str(), "New");
    /// # Ok(service) }
    /// ```
    pub fn with_defaults(
        store: Arc<dyn CaseStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Result<Self, crate::documents::TemplateError> {
        let templates = Templates::embedded()?;
        Ok(Self::new(
            store,
            clock,
            ids,
            Arc::new(WorkflowConfig::default_config()),
            Arc::new(templates),
        ))
    }

    /// The workflow configuration.
    pub fn config(&self) -> &WorkflowConfig {
        &self.config
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn require(
        &self,
        actor: &Actor,
        permission: Permission,
        action: &str,
    ) -> Result<(), ServiceError> {
        if self.config.permits(actor.role, permission) {
            Ok(())
        } else {
            Err(forbidden(actor.role, action))
        }
    }

    /// The actor for a registered person's name.
    pub async fn resolve_actor(&self, name: &str) -> Result<Actor, ServiceError> {
        match self.store.get_person(name.trim().to_string()).await {
            Ok(p) => Ok(Actor::from_person(&p)),
            Err(StoreError::NotFound(_)) => {
                Err(ServiceError::UnknownActor(name.trim().to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn ctx<'a>(&'a self, actor: &'a Actor, now: Timestamp) -> Context<'a> {
        Context {
            actor,
            config: &self.config,
            templates: &self.templates,
            now,
            ids: self.ids.as_ref(),
            reply_keys: self.reply_keys.as_deref(),
        }
    }

    /// Loads a case the actor may see, as they may see it: another customer's case does not
    /// exist for them, and a customer's own case comes without its internal facts.
    pub async fn case(&self, actor: &Actor, number: CaseNumber) -> Result<Case, ServiceError> {
        let case = self.visible_case(actor, number).await?;
        Ok(Self::as_seen_by(actor, case))
    }

    /// The whole case, if the actor may see it at all; for deciding, never for showing.
    async fn visible_case(&self, actor: &Actor, number: CaseNumber) -> Result<Case, ServiceError> {
        self.require(actor, Permission::ViewCase, "view cases")?;
        let case = self.store.load_case(number).await?;
        if !actor.can_see(&case) {
            return Err(case_not_found(number));
        }
        Ok(case)
    }

    fn as_seen_by(actor: &Actor, case: Case) -> Case {
        if actor.role == Role::Customer {
            case.for_customer()
        } else {
            case
        }
    }

    /// Runs a command against a case.
    ///
    /// With `expected_version`, a case that changed since is a conflict. Without it, the
    /// command is decided against the current state and re-decided if another writer got
    /// in first (pausing [`backoff`] through the clock), up to [`MAX_ATTEMPTS`] times, then
    /// [`ServiceError::Busy`]: a caller who stated no version never gets a conflict.
    pub async fn execute(
        &self,
        actor: &Actor,
        number: CaseNumber,
        expected_version: Option<u64>,
        command: Command,
    ) -> Result<Outcome, ServiceError> {
        self.run(actor, number, expected_version, command, &[])
            .await
            .map(|(outcome, _)| outcome)
    }

    /// [`CaseService::execute`], keeping `files` with the post the command adds, in its
    /// commit (checked against the limits by the caller).
    async fn run(
        &self,
        actor: &Actor,
        number: CaseNumber,
        expected_version: Option<u64>,
        command: Command,
        files: &[crate::attachment::Upload],
    ) -> Result<(Outcome, Vec<crate::ports::AttachmentInfo>), ServiceError> {
        self.prepare(&command).await?;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let case = self.visible_case(actor, number).await?;
            if let Some(v) = expected_version
                && v != case.version
            {
                return Err(ServiceError::Conflict {
                    current_version: case.version,
                });
            }
            let now = self.clock.now();
            let Some(mut commit) = decide_commit(&command, &case, &self.ctx(actor, now))? else {
                let outcome = Outcome {
                    case: Self::as_seen_by(actor, case),
                    events: Vec::new(),
                };
                return Ok((outcome, Vec::new()));
            };
            self.keep_files(&mut commit, files)?;
            self.add_notices(&mut commit, actor, now).await?;
            let events = commit.events.clone();
            let kept = commit.attachments.iter().map(|a| a.info.clone()).collect();
            match self.store.commit(commit).await {
                Ok(case) => {
                    let outcome = Outcome {
                        case: Self::as_seen_by(actor, case),
                        events,
                    };
                    return Ok((outcome, kept));
                }
                Err(StoreError::Conflict { .. }) if expected_version.is_none() => {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(ServiceError::Busy { attempts: attempt });
                    }
                    self.clock.pause(backoff(attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Keeps `files` with the email `commit` receives, else with its last post, each under a
    /// new id.
    pub(crate) fn keep_files(
        &self,
        commit: &mut Commit,
        files: &[crate::attachment::Upload],
    ) -> Result<(), ServiceError> {
        if files.is_empty() {
            return Ok(());
        }
        // the email the files came with, else the post they were attached to
        let entry = commit
            .events
            .iter()
            .find(|e| matches!(e.kind, crate::event::EventKind::EmailReceived { .. }))
            .or_else(|| {
                commit
                    .events
                    .iter()
                    .rev()
                    .find(|e| matches!(e.kind, crate::event::EventKind::PostAdded { .. }))
            })
            .ok_or_else(|| ServiceError::Internal("files with no post to keep them".into()))?
            .clone();
        for f in files {
            let kept = crate::attachment::keep(
                self.ids.new_id(),
                &entry,
                f.file_name.as_deref(),
                &f.content_type,
                f.bytes.clone(),
            )
            .ok_or_else(|| ServiceError::Internal("files with no post to keep them".into()))?;
            commit.attachments.push(kept);
        }
        Ok(())
    }

    /// Checks what a command refers to exists: an assignee who is staff, a linked record.
    async fn prepare(&self, command: &Command) -> Result<(), ServiceError> {
        let invalid = |field: &str, message: String| {
            ServiceError::Workflow(WorkflowError::Invalid {
                field: field.into(),
                message,
            })
        };
        match command {
            Command::Assign { owner } => {
                match self.store.get_person(owner.trim().to_string()).await {
                    Ok(p) if p.role.is_staff() => Ok(()),
                    Ok(_) => Err(invalid(
                        "owner",
                        format!("{owner} is not an agent, lead or admin"),
                    )),
                    Err(StoreError::NotFound(_)) => {
                        Err(invalid("owner", format!("unknown agent {owner:?}")))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Command::Link(LinkTarget { kind, reference }) => {
                let r = reference.trim().to_string();
                let found = match kind {
                    RefKind::Article => match r.parse::<u64>() {
                        Ok(id) => self.store.get_article(id).await.map(|_| ()),
                        Err(_) => Err(StoreError::NotFound(format!("article {r}"))),
                    },
                    RefKind::Defect => self.store.get_defect(r.clone()).await.map(|_| ()),
                    RefKind::Case => match r.parse::<CaseNumber>() {
                        Ok(n) => self.store.load_case(n).await.map(|_| ()),
                        Err(_) => Err(StoreError::NotFound(format!("case {r}"))),
                    },
                };
                match found {
                    Ok(()) => Ok(()),
                    Err(StoreError::NotFound(_)) => {
                        Err(invalid("ref", format!("no {kind} {r:?} to link")))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
