//! The application service: resolves the actor, checks what they may see and do, decides, and
//! commits. Both front-ends (CLI and HTTP) drive the workflow only through this.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::{Permission, WorkflowConfig};
use crate::documents::{EmailFields, RenderedEmail, SummaryDraft, Templates};
use crate::event::{Event, EventKind, apply_all};
use crate::ids::CaseNumber;
use crate::ids::EmailAddress;
use crate::input::{MAX_QUERY, optional_line, required_line};
use crate::model::{
    Actor, ApiToken, Article, Case, Defect, DeliveryStatus, LinkTarget, NewArticle, OutboxMessage,
    OutboxStatus, Person, RefKind, Role, TemplateName, TimelineEntry, token_hash,
};
use crate::ports::{
    CaseFilter, CaseStore, Clock, Commit, IdGenerator, Page, PageRequest, ReportCase,
    ReportCasesQuery, ReportQuery, ReportRow, Scope, SearchHit, SearchQuery, StoreError,
    StoreStats,
};
use crate::workflow::{
    Command, Context, MAX_SHORT_TEXT, MAX_TEXT, MissingItem, NewCase, WorkflowError,
    check_status_map, closing_check, decide, decide_open, known_status, non_response_check,
    required_text, stamp,
};

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
    /// The store failed or is unreachable.
    #[error(transparent)]
    Store(StoreError),
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
            other => ServiceError::Store(other),
        }
    }
}

/// The state of the closing checklist and the non-response policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosingCheck {
    /// Whether the case may be closed as resolved (resolutions are given with the close).
    pub ready: bool,
    /// Unmet checklist items.
    pub missing: Vec<MissingItem>,
    /// Whether a non-response close is allowed.
    pub non_response_ready: bool,
    /// Unmet non-response policy items.
    pub non_response_missing: Vec<MissingItem>,
}

/// What `map_status` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusMapSummary {
    /// The status the workflow no longer has.
    pub from: crate::ids::StatusName,
    /// The status the cases moved to.
    pub to: crate::ids::StatusName,
    /// How many cases moved (one `status_mapped` event each).
    pub moved: u64,
    /// The cases that could not move, each with why.
    pub skipped: Vec<SkippedCase>,
}

/// A case a bulk command left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkippedCase {
    /// The case.
    pub number: CaseNumber,
    /// Why it was left alone.
    pub reason: String,
}

/// The result of a command: the case after it and the events it added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The case after the command.
    pub case: Case,
    /// Events added (empty when the command changed nothing).
    pub events: Vec<Event>,
}

/// Most hits a search or a similar-cases query returns (larger limits are clamped).
pub const MAX_HITS: u32 = 100;

/// Most outbox messages one listing returns (larger limits are clamped).
pub const MAX_OUTBOX: u32 = 1000;

/// The application service.
#[derive(Clone)]
pub struct CaseService {
    store: Arc<dyn CaseStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: Arc<WorkflowConfig>,
    templates: Arc<Templates>,
}

fn forbidden(role: Role, action: &str) -> ServiceError {
    ServiceError::Workflow(WorkflowError::Forbidden {
        role,
        action: action.to_string(),
    })
}

fn case_not_found(number: CaseNumber) -> ServiceError {
    ServiceError::NotFound(format!("case {number}"))
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
        }
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<dyn CaseStore> {
        &self.store
    }

    /// The workflow configuration.
    pub fn config(&self) -> &WorkflowConfig {
        &self.config
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn require(
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

    /// Registers or updates a person. Needs the `manage` permission.
    pub async fn add_person(&self, actor: &Actor, person: Person) -> Result<Person, ServiceError> {
        self.require(actor, Permission::Manage, "manage people")?;
        let name = required_line("name", &person.name, 64)?;
        let phone = optional_line("phone", person.phone.as_deref(), 64)?;
        let person = Person {
            name,
            phone,
            ..person
        };
        self.store.put_person(person.clone()).await?;
        Ok(person)
    }

    /// Registers a person as `actor` (who needs `manage`), or with no actor while nobody is
    /// registered yet: the first person of a new store is added by whoever set it up.
    pub async fn register(
        &self,
        actor: Option<&Actor>,
        person: Person,
    ) -> Result<Person, ServiceError> {
        match actor {
            Some(a) => self.add_person(a, person).await,
            None if self.store.list_people().await?.is_empty() => {
                self.add_person(&Actor::system("setup"), person).await
            }
            None => Err(WorkflowError::Invalid {
                field: "actor".into(),
                message: "people are already registered: add more as an admin (--as ADMIN)".into(),
            }
            .into()),
        }
    }

    /// Everyone registered. Needs the `view_case` permission and a staff role.
    pub async fn people(&self, actor: &Actor) -> Result<Vec<Person>, ServiceError> {
        if !actor.role.is_staff() {
            return Err(forbidden(actor.role, "list people"));
        }
        Ok(self.store.list_people().await?)
    }

    /// Opens a case (seed step 1).
    pub async fn open_case(&self, actor: &Actor, new: NewCase) -> Result<Case, ServiceError> {
        let now = self.clock.now();
        let opened = decide_open(&new, &self.ctx(actor, now))?;
        Ok(self
            .store
            .create_case(now, actor.name.clone(), opened)
            .await?)
    }

    /// Opens a case at most once per `(actor, key)`: a retry with the same key and the same
    /// request returns the case as first created, with `true`; the same key with a different
    /// request is refused. Keys are 1 to 255 visible ASCII characters.
    pub async fn open_case_once(
        &self,
        actor: &Actor,
        key: &str,
        new: NewCase,
    ) -> Result<(Case, bool), ServiceError> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WorkflowError::Invalid {
                field: "Idempotency-Key".into(),
                message: "must be 1 to 255 visible ASCII characters".into(),
            }
            .into());
        }
        let now = self.clock.now();
        let opened = decide_open(&new, &self.ctx(actor, now))?;
        // The opened event holds everything the request said (and no time), so equal
        // requests have equal fingerprints.
        let fingerprint = serde_json::to_string(&opened)
            .map(|j| token_hash(&j))
            .map_err(|e| ServiceError::Store(StoreError::Internal(e.to_string())))?;
        // scoped by who is calling, never by a display name two customers may share
        let scoped = format!("{}\u{0}{key}", actor.principal);
        let created = self
            .store
            .create_case_once(scoped, fingerprint, now, actor.name.clone(), opened)
            .await
            .map_err(|e| match e {
                StoreError::Invalid(_) => ServiceError::Workflow(WorkflowError::Invalid {
                    field: "Idempotency-Key".into(),
                    message: format!("{key:?} was already used for a different request"),
                }),
                other => other.into(),
            })?;
        Ok((created.case, created.replayed))
    }

    fn ctx<'a>(&'a self, actor: &'a Actor, now: Timestamp) -> Context<'a> {
        Context {
            actor,
            config: &self.config,
            templates: &self.templates,
            now,
            ids: self.ids.as_ref(),
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

    /// Lists cases; a customer's list holds only their own cases.
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, ServiceError> {
        self.require(actor, Permission::ViewCase, "view cases")?;
        filter.q = crate::workflow::optional_text("q", filter.q.as_deref(), MAX_QUERY)?;
        if let Some(status) = &filter.status {
            // a status the workflow does not have is a mistake, not an empty list
            filter.status = Some(
                known_status(&self.config, "status", status.as_str())?
                    .name
                    .clone(),
            );
        }
        if actor.role == Role::Customer {
            // a filter on what a customer cannot see would answer "is it there?" about it
            if let Some(name) = filter.staff_only().first() {
                return Err(forbidden(actor.role, &format!("filter cases by {name}")));
            }
            filter.customer = actor.email.clone();
            if filter.customer.is_none() {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            }
        }
        let mut page = self.store.list_cases(filter, page).await?;
        if actor.role == Role::Customer {
            page.items = page.items.into_iter().map(|c| c.for_customer()).collect();
        }
        Ok(page)
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
            let decision = decide(&command, &case, &self.ctx(actor, now))?;
            if decision.events.is_empty() {
                return Ok(Outcome {
                    case: Self::as_seen_by(actor, case),
                    events: Vec::new(),
                });
            }
            let events = stamp(&case, &actor.name, now, decision.events);
            let state = apply_all(case.clone(), &events)
                .map_err(|e| ServiceError::Store(StoreError::Internal(e.to_string())))?;
            let commit = Commit {
                number,
                expected_version: case.version,
                events: events.clone(),
                state,
                outbox: decision.outbox,
            };
            match self.store.commit(commit).await {
                Ok(case) => {
                    return Ok(Outcome {
                        case: Self::as_seen_by(actor, case),
                        events,
                    });
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

    /// The timeline the actor may see, oldest first: everything for staff, only
    /// customer-visible entries (with internal parts removed) for a customer. Each email
    /// carries its delivery status as the outbox has it now (customers see only whether and
    /// when it was sent).
    pub async fn timeline(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<Vec<TimelineEntry>, ServiceError> {
        self.case(actor, number).await?;
        let events = self.store.history(number).await?;
        let staff = actor.role != Role::Customer;
        let events: Vec<Event> = if staff {
            events
        } else {
            events.iter().filter_map(Event::for_customer).collect()
        };
        let emails = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::EmailQueued { .. }));
        let outbox = if emails {
            self.store.outbox_for_case(number).await?
        } else {
            Vec::new()
        };
        Ok(events
            .into_iter()
            .map(|event| {
                let delivery = match &event.kind {
                    EventKind::EmailQueued { message, .. } => outbox
                        .iter()
                        .find(|m| &m.id == message)
                        .map(|m| DeliveryStatus::of(m, staff)),
                    _ => None,
                };
                TimelineEntry { event, delivery }
            })
            .collect())
    }

    /// The full event history (staff with `view_history`).
    pub async fn history(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<Vec<Event>, ServiceError> {
        self.case(actor, number).await?;
        self.require(actor, Permission::ViewHistory, "read case histories")?;
        Ok(self.store.history(number).await?)
    }

    /// The closing checklist and non-response policy, item by item.
    pub async fn closing_check(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<ClosingCheck, ServiceError> {
        let case = self.visible_case(actor, number).await?;
        self.require(actor, Permission::WorkCase, "check cases for closing")?;
        let missing = closing_check(&case, &self.config, None);
        let non_response_missing = non_response_check(&case, &self.config);
        Ok(ClosingCheck {
            ready: missing.is_empty(),
            missing,
            non_response_ready: non_response_missing.is_empty(),
            non_response_missing,
        })
    }

    /// Drafts the case summary from the record (seed step 7).
    pub async fn summary_draft(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<SummaryDraft, ServiceError> {
        let case = self.visible_case(actor, number).await?;
        self.require(actor, Permission::WorkCase, "draft case summaries")?;
        let history = self.store.history(number).await?;
        let mut articles = Vec::new();
        for link in case.links.iter().filter(|l| l.kind == RefKind::Article) {
            if let Ok(id) = link.reference.parse::<u64>()
                && let Ok(a) = self.store.get_article(id).await
            {
                articles.push(a);
            }
        }
        Ok(self
            .templates
            .summary_draft(&self.config.organization, &case, &history, &articles, actor)
            .map_err(WorkflowError::from)?)
    }

    /// Renders an email without queuing anything.
    pub async fn preview_email(
        &self,
        actor: &Actor,
        number: CaseNumber,
        template: TemplateName,
        fields: &EmailFields,
    ) -> Result<RenderedEmail, ServiceError> {
        let case = self.visible_case(actor, number).await?;
        self.require(actor, Permission::WorkCase, "preview emails")?;
        crate::workflow::check_email(template, fields)?;
        Ok(self
            .templates
            .render_email(template, &self.config.organization, &case, actor, fields)
            .map_err(WorkflowError::from)?)
    }

    fn scope(actor: &Actor) -> Scope {
        match (&actor.role, &actor.email) {
            (Role::Customer, Some(e)) => Scope::Customer(e.clone()),
            _ => Scope::Staff,
        }
    }

    /// Ranked search over cases, articles and defects.
    pub async fn search(
        &self,
        actor: &Actor,
        text: &str,
        kind: Option<RefKind>,
        limit: u32,
    ) -> Result<Vec<SearchHit>, ServiceError> {
        self.require(actor, Permission::Search, "search")?;
        let text = required_text("q", text, MAX_QUERY)?;
        Ok(self
            .store
            .search(SearchQuery {
                text,
                kind,
                scope: Self::scope(actor),
                limit: limit.clamp(1, MAX_HITS),
            })
            .await?)
    }

    /// Cases, articles and defects similar to a case (seed step 5).
    pub async fn similar(
        &self,
        actor: &Actor,
        number: CaseNumber,
        limit: u32,
    ) -> Result<Vec<SearchHit>, ServiceError> {
        self.case(actor, number).await?;
        self.require(actor, Permission::Search, "search for similar cases")?;
        Ok(self
            .store
            .similar(number, Self::scope(actor), limit.clamp(1, MAX_HITS))
            .await?)
    }

    /// The reopen-pattern report.
    pub async fn reopen_report(
        &self,
        actor: &Actor,
        query: ReportQuery,
    ) -> Result<Vec<ReportRow>, ServiceError> {
        self.require(actor, Permission::Reports, "read reports")?;
        Ok(self.store.reopen_report(query).await?)
    }

    /// The cases behind one row of the reopen report, with their reopen reasons. Reasons are
    /// internal, so this needs the `reports` permission, which no customer holds.
    pub async fn reopen_report_cases(
        &self,
        actor: &Actor,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, ServiceError> {
        self.require(actor, Permission::Reports, "read reports")?;
        let key = required_text("key", &query.key, MAX_SHORT_TEXT)?;
        Ok(self
            .store
            .reopen_report_cases(ReportCasesQuery { key, ..query })
            .await?)
    }

    /// Adds a knowledge article.
    pub async fn add_article(
        &self,
        actor: &Actor,
        article: NewArticle,
    ) -> Result<Article, ServiceError> {
        self.require(actor, Permission::Knowledge, "add articles")?;
        let article = NewArticle {
            title: required_line("title", &article.title, MAX_SHORT_TEXT)?,
            body: required_text("body", &article.body, MAX_TEXT)?,
            url: optional_line("url", article.url.as_deref(), 2048)?,
        };
        Ok(self.store.add_article(article, self.clock.now()).await?)
    }

    /// A knowledge article.
    pub async fn article(&self, actor: &Actor, id: u64) -> Result<Article, ServiceError> {
        self.require(actor, Permission::Search, "read articles")?;
        Ok(self.store.get_article(id).await?)
    }

    /// Adds a known defect.
    pub async fn add_defect(
        &self,
        actor: &Actor,
        key: &str,
        title: &str,
        body: &str,
        state: &str,
    ) -> Result<Defect, ServiceError> {
        self.require(actor, Permission::Knowledge, "add defects")?;
        let key = required_line("key", key, 64)?;
        if key.chars().any(char::is_whitespace) {
            return Err(WorkflowError::Invalid {
                field: "key".into(),
                message: "may not contain white space".into(),
            }
            .into());
        }
        let defect = Defect {
            key,
            title: required_line("title", title, MAX_SHORT_TEXT)?,
            body: crate::workflow::optional_text("body", Some(body), MAX_TEXT)?.unwrap_or_default(),
            state: required_line("state", state, 32)?,
            created_at: self.clock.now(),
        };
        match self.store.add_defect(defect).await {
            Ok(d) => Ok(d),
            Err(e) => Err(e.into()),
        }
    }

    /// A known defect.
    pub async fn defect(&self, actor: &Actor, key: &str) -> Result<Defect, ServiceError> {
        self.require(actor, Permission::Search, "read defects")?;
        Ok(self.store.get_defect(key.trim().to_string()).await?)
    }

    /// Outgoing email, optionally of one status.
    pub async fn outbox(
        &self,
        actor: &Actor,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        self.require(actor, Permission::Outbox, "read the outbox")?;
        Ok(self
            .store
            .outbox_list(status, limit.clamp(1, MAX_OUTBOX))
            .await?)
    }

    /// Makes an API token from a secret the caller generated (at least 32 random
    /// characters); stores only its hash. Needs the `manage` permission. A customer token
    /// names the customer whose cases it sees; other tokens name none.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        customer_email: Option<EmailAddress>,
        secret: &str,
    ) -> Result<ApiToken, ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        let name = required_line("name", name, 64)?;
        let invalid = |field: &str, message: &str| {
            ServiceError::Workflow(WorkflowError::Invalid {
                field: field.into(),
                message: message.into(),
            })
        };
        match (role, &customer_email) {
            (Role::Customer, None) => {
                return Err(invalid(
                    "customer_email",
                    "a customer token needs the customer's email",
                ));
            }
            (Role::Customer, Some(_)) => {}
            (_, Some(_)) => {
                return Err(invalid(
                    "customer_email",
                    "only a customer token names a customer",
                ));
            }
            (_, None) => {}
        }
        if secret.chars().count() < 32 {
            return Err(invalid(
                "secret",
                "a token secret needs at least 32 characters",
            ));
        }
        let hash = token_hash(secret);
        let token = ApiToken {
            id: self.ids.new_id(),
            name,
            role,
            customer_email,
            hash,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.put_token(token.clone()).await?;
        Ok(token)
    }

    /// Every token (hashes included, never secrets). Needs `manage`.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>, ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        Ok(self.store.list_tokens().await?)
    }

    /// Revokes a token. Needs `manage`.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<ApiToken, ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        Ok(self
            .store
            .revoke_token(id.trim().to_string(), self.clock.now())
            .await?)
    }

    /// The actor a token secret stands for; `None` for an unknown or revoked token. A staff
    /// token named after a registered person acts with that person's details.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Actor>, ServiceError> {
        let token = match self.store.find_token(token_hash(secret)).await {
            Ok(t) => t,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if token.revoked_at.is_some() {
            return Ok(None);
        }
        let principal = format!("token:{}", token.id);
        if token.role.is_staff()
            && let Ok(p) = self.store.get_person(token.name.clone()).await
            && p.role == token.role
        {
            return Ok(Some(Actor::from_person(&p).with_principal(principal)));
        }
        Ok(Some(Actor {
            name: token.name,
            principal,
            role: token.role,
            email: token.customer_email,
            phone: None,
            signature: None,
        }))
    }

    /// Moves every case out of a status the workflow file no longer has (`from`, renamed or
    /// removed) into one it has (`to`), one `status_mapped` event per case, as `actor` (who
    /// needs `manage`). A case that cannot move (a map never opens or closes a case) is
    /// skipped with its reason and the rest still move; running it again moves what is left.
    pub async fn map_status(
        &self,
        actor: &Actor,
        from: &str,
        to: &str,
    ) -> Result<StatusMapSummary, ServiceError> {
        self.require(
            actor,
            Permission::Manage,
            "move cases out of a renamed status",
        )?;
        let (from_name, target) = check_status_map(&self.config, from, to)?;
        let mut summary = StatusMapSummary {
            from: from_name.clone(),
            to: target.name.clone(),
            moved: 0,
            skipped: Vec::new(),
        };
        let filter = CaseFilter {
            status: Some(from_name.clone()),
            ..CaseFilter::default()
        };
        let mut after = None;
        loop {
            let page = self
                .store
                .list_cases(
                    filter.clone(),
                    PageRequest {
                        limit: crate::ports::MAX_PAGE,
                        after,
                    },
                )
                .await?;
            for case in &page.items {
                let cmd = Command::MapStatus {
                    from: from_name.to_string(),
                    to: target.name.to_string(),
                };
                match self.execute(actor, case.number, None, cmd).await {
                    Ok(_) => summary.moved += 1,
                    Err(ServiceError::Workflow(e)) => summary.skipped.push(SkippedCase {
                        number: case.number,
                        reason: e.to_string(),
                    }),
                    Err(e) => return Err(e),
                }
            }
            match (page.items.last(), page.next_cursor) {
                (Some(last), Some(_)) => after = Some(last.number),
                _ => return Ok(summary),
            }
        }
    }

    /// Store counts, for diagnostics.
    pub async fn stats(&self) -> Result<StoreStats, ServiceError> {
        Ok(self.store.stats().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockCaseStore;
    use crate::testing::{FixedClock, SequentialIds};

    fn service(store: MockCaseStore) -> CaseService {
        CaseService::new(
            Arc::new(store),
            Arc::new(FixedClock::default()),
            Arc::new(SequentialIds::default()),
            Arc::new(WorkflowConfig::default_config()),
            Arc::new(Templates::embedded().unwrap()),
        )
    }

    fn agent() -> Actor {
        Actor {
            name: "ana".into(),
            principal: "person:ana".into(),
            role: Role::Agent,
            email: None,
            phone: None,
            signature: None,
        }
    }

    #[test]
    fn an_unavailable_store_is_reported_as_such() {
        let mut store = MockCaseStore::new();
        store
            .expect_load_case()
            .returning(|_| Err(StoreError::Unavailable("connection refused".into())));
        let svc = service(store);
        let n = CaseNumber::new(5).unwrap();
        let err = futures::executor::block_on(svc.case(&agent(), n)).unwrap_err();
        assert_eq!(
            err,
            ServiceError::Store(StoreError::Unavailable("connection refused".into()))
        );
    }

    #[test]
    fn another_customers_case_is_not_found() {
        let mut store = MockCaseStore::new();
        store
            .expect_load_case()
            .returning(|_| Ok(crate::testing::sample_case()));
        let svc = service(store);
        let n = CaseNumber::new(1027).unwrap();
        let eve = Actor::customer("Eve", "eve@example.org".parse().unwrap());
        let err = futures::executor::block_on(svc.case(&eve, n)).unwrap_err();
        assert_eq!(err, ServiceError::NotFound("case 00001027".into()));
        let owner = Actor::customer("Sam", "customer@example.com".parse().unwrap());
        assert!(futures::executor::block_on(svc.case(&owner, n)).is_ok());
    }

    #[test]
    fn a_customer_sees_their_case_without_its_internal_facts() {
        let mut case = crate::testing::sample_case();
        case.links.push(crate::model::LinkTarget {
            kind: RefKind::Defect,
            reference: "BUG-SECRET".into(),
        });
        case.category.product_area = Some("Internal area".into());
        case.contacts.emails = 2;
        let stored = case.clone();
        let mut store = MockCaseStore::new();
        store
            .expect_load_case()
            .returning(move |_| Ok(stored.clone()));
        let svc = service(store);
        let n = CaseNumber::new(1027).unwrap();
        let owner = Actor::customer("Sam", "customer@example.com".parse().unwrap());
        let seen = futures::executor::block_on(svc.case(&owner, n)).unwrap();
        assert!(seen.links.is_empty());
        assert_eq!(seen.category, crate::model::Category::default());
        assert_eq!(seen.contacts.emails, 0);
        assert_eq!(
            (seen.title.as_str(), seen.status.as_str()),
            (case.title.as_str(), "New")
        );
        let staff = futures::executor::block_on(svc.case(&agent(), n)).unwrap();
        assert_eq!(staff, case, "staff see everything");
    }

    #[test]
    fn only_the_first_person_is_registered_without_an_actor() {
        let person = Person {
            name: "root".into(),
            role: Role::Admin,
            email: None,
            phone: None,
            signature: None,
        };
        let mut empty = MockCaseStore::new();
        empty.expect_list_people().returning(|| Ok(Vec::new()));
        empty.expect_put_person().times(1).returning(|_| Ok(()));
        let svc = service(empty);
        assert!(futures::executor::block_on(svc.register(None, person.clone())).is_ok());

        let mut staffed = MockCaseStore::new();
        let existing = person.clone();
        staffed
            .expect_list_people()
            .returning(move || Ok(vec![existing.clone()]));
        staffed.expect_put_person().never();
        let svc = service(staffed);
        let err = futures::executor::block_on(svc.register(None, person.clone())).unwrap_err();
        assert!(err.to_string().contains("add more as an admin"), "{err}");
        let refused =
            futures::executor::block_on(svc.register(Some(&agent()), person)).unwrap_err();
        assert!(matches!(
            refused,
            ServiceError::Workflow(WorkflowError::Forbidden { .. })
        ));
    }

    #[test]
    fn a_customer_cannot_filter_on_what_they_cannot_see() {
        let mut store = MockCaseStore::new();
        store.expect_list_cases().times(1).returning(|_, _| {
            Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            })
        });
        let svc = service(store);
        let jordan = Actor::customer("Jordan", "jordan@customer.example".parse().unwrap());
        for (filter, name) in [
            (
                CaseFilter {
                    product_area: Some("SECRET".into()),
                    ..CaseFilter::default()
                },
                "product_area",
            ),
            (
                CaseFilter {
                    owner: Some("Ana Lopez".into()),
                    ..CaseFilter::default()
                },
                "owner",
            ),
        ] {
            let err = futures::executor::block_on(svc.list(
                &jordan,
                filter.clone(),
                PageRequest::default(),
            ))
            .unwrap_err();
            assert_eq!(
                err,
                forbidden(Role::Customer, &format!("filter cases by {name}"))
            );
            assert!(err.to_string().contains(name), "{err}");
        }
        // staff may (the one list_cases call the mock allows)
        let area = CaseFilter {
            product_area: Some("Publishing".into()),
            ..CaseFilter::default()
        };
        assert!(
            futures::executor::block_on(svc.list(&agent(), area, PageRequest::default())).is_ok()
        );
    }

    #[test]
    fn the_case_list_query_is_capped_like_search() {
        let mut store = MockCaseStore::new();
        store.expect_list_cases().never();
        store.expect_search().never();
        let svc = service(store);
        let long = "word ".repeat(MAX_QUERY / 5 + 1);
        let filter = CaseFilter {
            q: Some(long.clone()),
            ..CaseFilter::default()
        };
        let err = futures::executor::block_on(svc.list(&agent(), filter, PageRequest::default()))
            .unwrap_err();
        assert!(
            matches!(&err, ServiceError::Workflow(WorkflowError::Invalid { field, .. }) if field == "q"),
            "{err:?}"
        );
        assert!(err.to_string().contains(&MAX_QUERY.to_string()), "{err}");
        let err = futures::executor::block_on(svc.search(&agent(), &long, None, 10)).unwrap_err();
        assert!(err.to_string().contains(&MAX_QUERY.to_string()), "{err}");
    }

    #[test]
    fn idempotency_keys_are_scoped_by_who_calls_not_by_their_name() {
        let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut store = MockCaseStore::new();
        let seen = keys.clone();
        store
            .expect_create_case_once()
            .returning(move |key, _, at, actor, opened| {
                seen.lock().unwrap().push(key);
                let event = Event {
                    case: CaseNumber::MIN,
                    seq: 1,
                    at,
                    actor,
                    kind: opened,
                };
                Ok(crate::ports::Created {
                    case: event.evolve(None).unwrap(),
                    replayed: false,
                })
            });
        let svc = service(store);
        let email: EmailAddress = "jordan@customer.example".parse().unwrap();
        // two customers who share a display name, each with a token of their own
        let first = Actor::customer("Jordan", email.clone()).with_principal("token:a1");
        let second = Actor::customer("Jordan", email.clone()).with_principal("token:b2");
        let new = crate::workflow::NewCase {
            title: "t".into(),
            description: String::new(),
            origin: crate::model::Origin::Web,
            priority: crate::model::Priority::Low,
            customer: crate::model::Customer {
                name: "Jordan".into(),
                email,
                phone: None,
                account: None,
            },
            product: None,
            product_version: None,
        };
        for who in [&first, &second, &first] {
            futures::executor::block_on(svc.open_case_once(who, "k-1", new.clone())).unwrap();
        }
        let keys = keys.lock().unwrap();
        assert_ne!(
            keys[0], keys[1],
            "same name, another principal: another key"
        );
        assert_eq!(keys[0], keys[2], "the same principal: the same key");
    }

    #[test]
    fn a_token_authenticates_as_its_own_principal() {
        let mut store = MockCaseStore::new();
        store.expect_find_token().returning(|hash| {
            Ok(ApiToken {
                id: "t-42".into(),
                name: "Jordan".into(),
                role: Role::Customer,
                customer_email: Some("jordan@customer.example".parse().unwrap()),
                hash,
                created_at: crate::testing::START,
                revoked_at: None,
            })
        });
        let svc = service(store);
        let actor = futures::executor::block_on(svc.authenticate("secret"))
            .unwrap()
            .unwrap();
        assert_eq!(actor.principal, "token:t-42");
        assert_eq!(actor.name, "Jordan");
    }

    #[test]
    fn without_an_expected_version_contention_is_busy_never_a_conflict() {
        // issue #11: a write with no If-Match answered 412 after five lost races, though the
        // caller stated no precondition to fail. It re-decides with backoff, then gives up
        // as busy (503, retry later): never a conflict.
        let mut store = MockCaseStore::new();
        store
            .expect_load_case()
            .returning(|_| Ok(crate::testing::sample_case()));
        store
            .expect_commit()
            .times(MAX_ATTEMPTS as usize)
            .returning(|c| {
                Err(StoreError::Conflict {
                    expected_version: c.expected_version,
                    current_version: c.expected_version + 1,
                })
            });
        let svc = service(store);
        let n = CaseNumber::new(1027).unwrap();
        let err =
            futures::executor::block_on(svc.execute(&agent(), n, None, Command::ConfirmTitle))
                .unwrap_err();
        assert_eq!(
            err,
            ServiceError::Busy {
                attempts: MAX_ATTEMPTS
            }
        );
    }

    #[test]
    fn retries_back_off_through_the_clock() {
        let mut store = MockCaseStore::new();
        store
            .expect_load_case()
            .returning(|_| Ok(crate::testing::sample_case()));
        let mut lost = 0;
        store.expect_commit().returning(move |c| {
            lost += 1;
            if lost <= 3 {
                Err(StoreError::Conflict {
                    expected_version: c.expected_version,
                    current_version: c.expected_version,
                })
            } else {
                Ok(c.state)
            }
        });
        let mut clock = crate::ports::MockClock::new();
        clock.expect_now().returning(|| crate::testing::START);
        let mut seq = mockall::Sequence::new();
        for pause in [1, 2, 4] {
            clock
                .expect_pause()
                .times(1)
                .in_sequence(&mut seq)
                .withf(move |d| *d == std::time::Duration::from_millis(pause))
                .returning(|_| ());
        }
        let svc = CaseService::new(
            Arc::new(store),
            Arc::new(clock),
            Arc::new(SequentialIds::default()),
            Arc::new(WorkflowConfig::default_config()),
            Arc::new(Templates::embedded().unwrap()),
        );
        let n = CaseNumber::new(1027).unwrap();
        let done =
            futures::executor::block_on(svc.execute(&agent(), n, None, Command::ConfirmTitle))
                .unwrap();
        assert_eq!(done.events.len(), 1, "the fourth attempt went through");
    }

    #[test]
    fn an_explicit_stale_version_is_a_conflict_without_a_commit() {
        let mut store = MockCaseStore::new();
        store
            .expect_load_case()
            .returning(|_| Ok(crate::testing::sample_case()));
        store.expect_commit().never();
        let svc = service(store);
        let n = CaseNumber::new(1027).unwrap();
        let err =
            futures::executor::block_on(svc.execute(&agent(), n, Some(7), Command::ConfirmTitle))
                .unwrap_err();
        assert_eq!(err, ServiceError::Conflict { current_version: 1 });
    }
}
