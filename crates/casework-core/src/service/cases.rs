//! Cases: opening them, reading them as the actor may see them, working them (through
//! [`CaseService::execute`], in `mod.rs`), listing them, and moving them out of a status the
//! workflow file no longer has.

use serde::{Deserialize, Serialize};

use super::{CaseService, ServiceError, forbidden};
use crate::config::Permission;
use crate::documents::{EmailFields, RenderedEmail, SummaryDraft};
use crate::event::{Event, EventKind};
use crate::ids::{CaseNumber, StatusName};
use crate::limits::{MAX_IDEMPOTENCY_KEY, MAX_PAGE, MAX_QUERY};
use crate::model::{
    Actor, Case, DeliveryStatus, OutboxMessage, Person, RefKind, Role, TemplateName, TimelineEntry,
    token_hash,
};
use crate::ports::{AttachmentInfo, CaseFilter, Page, PageRequest, StoreError, Surroundings};
use crate::workflow::{
    Command, MissingItem, NewCase, WorkflowError, check_status_map, closing_check, decide_open,
    known_status, non_response_check,
};

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

/// A case as a page shows it, read with one visibility check ([`CaseService::case_view`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseView {
    /// The case as the actor may see it (a customer's without its internal facts).
    pub case: Case,
    /// Where each email of the case stands, as [`CaseService::deliveries`] gives them.
    pub deliveries: Vec<(String, DeliveryStatus)>,
    /// The case's files the actor may see, as [`CaseService::attachments`] gives them.
    pub files: Vec<AttachmentInfo>,
    /// The closing checklist, for an actor who may work cases
    /// ([`CaseService::closing_check`]); `None` for others.
    pub closing: Option<ClosingCheck>,
    /// Everyone registered, as [`CaseService::people`] gives them, for an actor it answers
    /// (the people a case may be assigned to are among them); `None` for others.
    pub people: Option<Vec<Person>>,
}

/// What `map_status` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusMapSummary {
    /// The status the workflow no longer has.
    pub from: StatusName,
    /// The status the cases moved to.
    pub to: StatusName,
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

impl CaseService {
    /// Opens a case (seed step 1).
    pub async fn open_case(&self, actor: &Actor, new: NewCase) -> Result<Case, ServiceError> {
        let now = self.clock.now();
        let opened = decide_open(&new, &self.ctx(actor, now))?;
        let notices = self.opening_notices(actor, &opened, now).await?;
        Ok(self
            .store
            .create_case(now, actor.name.clone(), opened, notices)
            .await?)
    }

    /// Opens a case at most once per `(actor, key)`: a retry with the same key and the same
    /// request returns the case as first created, with `true`; the same key with a different
    /// request is refused. Keys are 1 to [`MAX_IDEMPOTENCY_KEY`] visible ASCII characters.
    pub async fn open_case_once(
        &self,
        actor: &Actor,
        key: &str,
        new: NewCase,
    ) -> Result<(Case, bool), ServiceError> {
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(WorkflowError::Invalid {
                field: "Idempotency-Key".into(),
                message: format!("must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
            }
            .into());
        }
        let now = self.clock.now();
        let opened = decide_open(&new, &self.ctx(actor, now))?;
        // The opened event holds everything the request said (and no time), so equal
        // requests have equal fingerprints.
        let fingerprint = serde_json::to_string(&opened)
            .map(|j| token_hash(&j))
            .map_err(|e| ServiceError::Internal(format!("a request's fingerprint: {e}")))?;
        // scoped by who is calling, never by a display name two customers may share
        let scoped = format!("{}\u{0}{key}", actor.principal);
        let notices = self.opening_notices(actor, &opened, now).await?;
        let created = self
            .store
            .create_case_once(
                scoped,
                fingerprint,
                now,
                actor.name.clone(),
                opened,
                notices,
            )
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
            self.outbox_states(number, staff).await?
        } else {
            Vec::new()
        };
        Ok(events
            .into_iter()
            .map(|event| {
                let delivery = match &event.kind {
                    EventKind::EmailQueued { message, .. } => outbox
                        .iter()
                        .find(|(id, _)| id == message)
                        .map(|(_, d)| d.clone()),
                    _ => None,
                };
                TimelineEntry { event, delivery }
            })
            .collect())
    }

    /// Where each email of the case stands now, by outbox message id, as
    /// [`timeline`](Self::timeline) shows it to this actor, read without the history: the
    /// only part of a timeline that changes without a new case version, so a front-end that
    /// keeps a rendered timeline keys it on the case version and these.
    pub async fn deliveries(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<Vec<(String, DeliveryStatus)>, ServiceError> {
        self.case(actor, number).await?;
        self.outbox_states(number, actor.role != Role::Customer)
            .await
    }

    async fn outbox_states(
        &self,
        number: CaseNumber,
        staff: bool,
    ) -> Result<Vec<(String, DeliveryStatus)>, ServiceError> {
        let outbox = self.store.outbox_for_case(number).await?;
        Ok(delivery_states(&outbox, staff))
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
        Ok(self.checklist(&case))
    }

    fn checklist(&self, case: &Case) -> ClosingCheck {
        let missing = closing_check(case, &self.config, None);
        let non_response_missing = non_response_check(case, &self.config);
        ClosingCheck {
            ready: missing.is_empty(),
            missing,
            non_response_ready: non_response_missing.is_empty(),
            non_response_missing,
        }
    }

    /// What a case page needs besides the history, after one visibility check: the case as
    /// [`case`](Self::case) gives it, the delivery states as
    /// [`deliveries`](Self::deliveries) does, the files as
    /// [`attachments`](Self::attachments) does (a customer's only those of customer-visible
    /// entries), and the closing checklist as [`closing_check`](Self::closing_check) does
    /// when the actor may work cases, and everyone registered as [`people`](Self::people)
    /// does when it answers the actor: one store read
    /// ([`CaseSurroundings`](crate::ports::CaseSurroundings)) besides the case.
    pub async fn case_view(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<CaseView, ServiceError> {
        let case = self.visible_case(actor, number).await?;
        // the case's messages, its files and the directory in one trip to the store
        let Surroundings {
            outbox,
            mut files,
            people,
        } = self
            .store
            .case_surroundings(number, self.may_list_people(actor))
            .await?;
        let deliveries = delivery_states(&outbox, actor.role != Role::Customer);
        files.retain(|f| super::attachments::may_see(actor, f));
        let closing = self
            .config
            .permits(actor.role, Permission::WorkCase)
            .then(|| self.checklist(&case));
        Ok(CaseView {
            case: Self::as_seen_by(actor, case),
            deliveries,
            files,
            closing,
            people,
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
                        limit: MAX_PAGE,
                        after,
                        ..PageRequest::default()
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
}

/// Where each of a case's messages stands, by id, for staff or for its customer.
fn delivery_states(outbox: &[OutboxMessage], staff: bool) -> Vec<(String, DeliveryStatus)> {
    outbox
        .iter()
        .map(|m| (m.id.clone(), DeliveryStatus::of(m, staff)))
        .collect()
}
