//! `decide`: the pure workflow rules. A command, the actor, the case, the configuration and
//! the time give either events (and emails to queue) or a typed refusal that says exactly
//! what is missing or forbidden.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::{Permission, WorkflowConfig};
use crate::documents::{EmailFields, TemplateError, Templates};
use crate::event::{Event, EventKind, Opened};
use crate::ids::{CaseNumber, StatusName};
use crate::input::{optional_line, required_line};
use crate::limits::{MAX_CALL_MINUTES, MAX_PHONE, MAX_SHORT_TEXT, MAX_TEXT, MAX_URL};
use crate::model::{
    Actor, CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, Customer, Field,
    LinkTarget, Origin, OutboxMessage, OutboxStatus, PostKind, Priority, RefKind, Resolution, Role,
    StatusCategory, TemplateName, Visibility,
};
use crate::ports::IdGenerator;

/// A new case, as asked for (seed step 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCase {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Origin.
    pub origin: Origin,
    /// Priority.
    pub priority: Priority,
    /// Customer (for a customer actor, their own address is enforced).
    pub customer: Customer,
    /// Product, if known.
    pub product: Option<String>,
    /// Product version, if known.
    pub product_version: Option<String>,
}

/// Changes to a case's fields (seed steps 8–10); `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEdit {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New priority.
    pub priority: Option<Priority>,
    /// Product.
    pub product: Option<String>,
    /// Product version.
    pub product_version: Option<String>,
    /// Product area.
    pub product_area: Option<String>,
    /// Functionality.
    pub functionality: Option<String>,
    /// Issue.
    pub issue: Option<String>,
}

/// Something an actor asks to do to an existing case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take ownership.
    Take,
    /// Give ownership to a staff member (the service checks they exist and are staff).
    Assign {
        /// New owner's name.
        owner: String,
    },
    /// Move to an open or pending status.
    Transition {
        /// Target status.
        status: String,
        /// Why.
        note: Option<String>,
    },
    /// Escalate.
    Escalate {
        /// Why.
        reason: String,
    },
    /// Edit fields.
    Edit(CaseEdit),
    /// Confirm the title is still right (seed step 8).
    ConfirmTitle,
    /// Log a call (seed step 2).
    LogCall {
        /// Direction.
        direction: CallDirection,
        /// Length in minutes.
        duration_minutes: u32,
        /// Whether a screenshare happened.
        screenshare: bool,
        /// Line it came in over.
        channel: Option<String>,
        /// Notes.
        notes: String,
    },
    /// Add a post (seed steps 4 and 7).
    AddPost {
        /// Kind.
        kind: PostKind,
        /// Text.
        body: String,
        /// Visibility.
        visibility: Visibility,
    },
    /// Record a contact attempt (seed step 6).
    RecordContact {
        /// Channel.
        channel: ContactChannel,
        /// Outcome.
        outcome: ContactOutcome,
        /// Note.
        note: Option<String>,
    },
    /// Queue an email from a template (seed steps 1 and 3).
    SendEmail {
        /// Which template.
        template: TemplateName,
        /// Its fields.
        fields: EmailFields,
    },
    /// Link an article, defect or case (seed step 5; existence checked by the service).
    Link(LinkTarget),
    /// Ask a collaboration group for help (seed step 5).
    Swarm {
        /// Group.
        group: String,
        /// Question.
        question: String,
    },
    /// Close (seed steps 6 and 11).
    Close {
        /// How.
        mode: CloseMode,
        /// Resolution, required for a resolved close.
        resolution: Option<Resolution>,
        /// Tell the customer (default true): the resolution of a resolved close, how to come
        /// back after a temporary one. A non-response close always sends its closing email.
        notify_customer: bool,
    },
    /// Reopen with a reason.
    Reopen {
        /// Why (required).
        reason: String,
        /// Notify the customer (default true).
        notify_customer: bool,
    },
    /// Move a case out of a status the workflow file no longer has (renamed or removed)
    /// into one it has, without the transition rules: `casework status map FROM=TO`.
    MapStatus {
        /// The status the workflow no longer has.
        from: String,
        /// The status to move to.
        to: String,
    },
}

/// One unmet condition for closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingItem {
    /// Machine name: `summary`, `title`, `product`, `product_version`, `product_area`,
    /// `functionality`, `issue`, `primary_resolution`, `secondary_resolution`,
    /// `email_attempts`, `phone_attempts`.
    pub item: String,
    /// What to do about it.
    pub message: String,
}

fn missing(item: &str, message: impl Into<String>) -> MissingItem {
    MissingItem {
        item: item.to_string(),
        message: message.into(),
    }
}

fn join_names(names: &[StatusName]) -> String {
    names
        .iter()
        .map(StatusName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A status of the workflow by name, or the error that lists the valid ones (`field` names
/// the request field that gave it).
pub fn known_status<'c>(
    config: &'c WorkflowConfig,
    field: &str,
    name: &str,
) -> Result<&'c crate::config::StatusDef, WorkflowError> {
    config
        .status(name)
        .ok_or_else(|| WorkflowError::UnknownStatus {
            field: field.to_string(),
            status: name.trim().chars().take(80).collect(),
            valid: config.statuses().iter().map(|d| d.name.clone()).collect(),
        })
}

/// Checks a status map (`casework status map FROM=TO`): `from` must be a status the workflow
/// no longer has (a case in a status it has moves with a transition), `to` one it has.
pub fn check_status_map<'c>(
    config: &'c WorkflowConfig,
    from: &str,
    to: &str,
) -> Result<(StatusName, &'c crate::config::StatusDef), WorkflowError> {
    let from: StatusName = from
        .parse()
        .map_err(|e: crate::ids::ParseError| invalid("from", &e.to_string()))?;
    if let Some(known) = config.status(from.as_str()) {
        return Err(WorkflowError::Invalid {
            field: "from".into(),
            message: format!(
                "{} is a status of the workflow; move its cases with a transition",
                known.name
            ),
        });
    }
    Ok((from, known_status(config, "to", to)?))
}

fn owner_hint(owner: &Option<String>) -> String {
    match owner {
        Some(o) => format!("the owner is {o}"),
        None => "the case has no owner yet (take it first)".into(),
    }
}

fn join_missing(items: &[MissingItem]) -> String {
    items
        .iter()
        .map(|m| m.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why the workflow refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The actor's role lacks the permission.
    #[error("{role} may not {action}")]
    Forbidden {
        /// The role.
        role: Role,
        /// What was attempted.
        action: String,
    },
    /// A field is missing or malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No such status in the workflow.
    #[error("{field}: unknown status {status:?}; the workflow's statuses are {}", join_names(.valid))]
    UnknownStatus {
        /// The field that named it.
        field: String,
        /// The name given.
        status: String,
        /// Every status of the workflow.
        valid: Vec<StatusName>,
    },
    /// The case is in a status the workflow file no longer has (it was renamed or removed).
    #[error(
        "case is in status {status:?}, which the workflow file no longer has; move it with `casework status map {status}=NEW` (POST /api/v1/statuses/map)"
    )]
    StrandedStatus {
        /// The case's status.
        status: StatusName,
    },
    /// The workflow does not allow this move.
    #[error("the workflow does not allow moving from {from} to {to}")]
    TransitionNotAllowed {
        /// Current status.
        from: StatusName,
        /// Target status.
        to: StatusName,
    },
    /// The command needs an open case.
    #[error("case is {status}; {hint}")]
    CaseClosed {
        /// Current status.
        status: StatusName,
        /// What to do instead.
        hint: String,
    },
    /// Only the case's owner may do this (the initial-contact email says "I have taken
    /// ownership of your case").
    #[error("only the case's owner may {action}; {}", owner_hint(.owner))]
    NotOwner {
        /// The case's owner, if it has one.
        owner: Option<String>,
        /// What was attempted.
        action: String,
    },
    /// The case is already where the command would take it (escalating an escalated case).
    #[error("case is already {status}")]
    AlreadyThere {
        /// Current status.
        status: StatusName,
    },
    /// Reopen needs a closed case.
    #[error("case is not closed (status {status}); only a closed case can be reopened")]
    NotClosed {
        /// Current status.
        status: StatusName,
    },
    /// The closing checklist does not hold.
    #[error("closing checklist: {}", join_missing(.missing))]
    ChecklistIncomplete {
        /// Every unmet item.
        missing: Vec<MissingItem>,
    },
    /// The non-response policy is not met.
    #[error("non-response policy: {}", join_missing(.missing))]
    PolicyNotMet {
        /// Every unmet item.
        missing: Vec<MissingItem>,
    },
    /// A document could not be rendered.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

impl WorkflowError {
    /// The unmet items of a refused close, if this is one.
    pub fn missing(&self) -> &[MissingItem] {
        match self {
            WorkflowError::ChecklistIncomplete { missing }
            | WorkflowError::PolicyNotMet { missing } => missing,
            _ => &[],
        }
    }
}

/// The closing checklist (seed steps 7–11) for a case; empty when it holds.
///
/// The resolution is part of the close command, so it is only checked when given here.
pub fn closing_check(
    case: &Case,
    config: &WorkflowConfig,
    resolution: Option<&Resolution>,
) -> Vec<MissingItem> {
    let c = &config.checklist;
    let mut out = Vec::new();
    if c.summary_last_post && case.last_post != Some(PostKind::Summary) {
        out.push(missing(
            "summary",
            "the last post is not a case summary (post one with kind summary)",
        ));
    }
    if c.title_reviewed && !case.title_reviewed {
        out.push(missing(
            "title",
            "the title was not reviewed since the case was opened (edit it, or confirm it)",
        ));
    }
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    if c.technical_details {
        if blank(&case.product) {
            out.push(missing("product", "product is missing"));
        }
        if blank(&case.product_version) {
            out.push(missing("product_version", "product version is missing"));
        }
    }
    if c.categorized {
        let cat = &case.category;
        if blank(&cat.product_area) {
            out.push(missing("product_area", "product area is missing"));
        }
        if blank(&cat.functionality) {
            out.push(missing("functionality", "functionality is missing"));
        }
        if blank(&cat.issue) {
            out.push(missing("issue", "issue category is missing"));
        }
    }
    if c.resolution
        && let Some(r) = resolution
    {
        if r.primary.trim().is_empty() {
            out.push(missing(
                "primary_resolution",
                "primary resolution is missing",
            ));
        }
        if r.secondary.trim().is_empty() {
            out.push(missing(
                "secondary_resolution",
                "secondary resolution is missing",
            ));
        }
    }
    out
}

/// The non-response policy (seed step 6) for a case; empty when a non-response close is allowed.
pub fn non_response_check(case: &Case, config: &WorkflowConfig) -> Vec<MissingItem> {
    let p = &config.non_response;
    let t = &case.contacts;
    let mut out = Vec::new();
    if t.emails < p.emails {
        out.push(missing(
            "email_attempts",
            format!(
                "{} of {} unanswered emails recorded since the customer was last reached",
                t.emails, p.emails
            ),
        ));
    }
    if t.phone_calls < p.phone_calls {
        out.push(missing(
            "phone_attempts",
            format!(
                "{} of {} unanswered phone calls recorded since the customer was last reached",
                t.phone_calls, p.phone_calls
            ),
        ));
    }
    out
}

/// What a command decided: events to append and emails to queue with them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// New events, in order.
    pub events: Vec<EventKind>,
    /// Emails, queued in the same commit.
    pub outbox: Vec<OutboxMessage>,
}

/// Everything `decide` reads besides the command and the case.
pub struct Context<'a> {
    /// Who acts.
    pub actor: &'a Actor,
    /// The workflow.
    pub config: &'a WorkflowConfig,
    /// The documents.
    pub templates: &'a Templates,
    /// Now.
    pub now: Timestamp,
    /// Ids for outbox messages.
    pub ids: &'a dyn IdGenerator,
}

impl Context<'_> {
    fn require(&self, permission: Permission, action: &str) -> Result<(), WorkflowError> {
        if self.config.permits(self.actor.role, permission) {
            Ok(())
        } else {
            Err(WorkflowError::Forbidden {
                role: self.actor.role,
                action: action.to_string(),
            })
        }
    }
}

fn invalid(field: &str, message: &str) -> WorkflowError {
    WorkflowError::Invalid {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Trims a text field and checks it is present and not too long.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, WorkflowError> {
    // the length is the client's text as sent, so it means what the API schema's maxLength says
    check_len(field, value, max)?;
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "is required and may not be blank"));
    }
    Ok(v.to_string())
}

fn check_len(field: &str, v: &str, max: usize) -> Result<(), WorkflowError> {
    if v.chars().count() > max {
        return Err(WorkflowError::Invalid {
            field: field.to_string(),
            message: format!("is longer than {max} characters"),
        });
    }
    Ok(())
}

/// Whether an email may be rendered from these fields: an email template (not the summary
/// draft), `discussed` for a follow-up, and every field within its length.
pub fn check_email(template: TemplateName, fields: &EmailFields) -> Result<(), WorkflowError> {
    if !template.is_email() {
        return Err(invalid(
            "template",
            "the case summary is not an email; see the summary draft",
        ));
    }
    if template == TemplateName::FollowUp
        && fields
            .discussed
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        return Err(invalid(
            "discussed",
            "a follow-up email needs a summary of what was discussed",
        ));
    }
    for (field, value) in [
        ("challenge", &fields.challenge),
        ("discussed", &fields.discussed),
        ("next_steps", &fields.next_steps),
        ("note", &fields.note),
    ] {
        if let Some(v) = value {
            check_len(field, v, MAX_TEXT)?;
        }
    }
    for url in &fields.documentation {
        check_len("documentation", url, MAX_URL)?;
    }
    Ok(())
}

/// Trims an optional field; blank becomes `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, WorkflowError> {
    if let Some(raw) = value {
        check_len(field, raw, max)?;
    }
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// Decides the `opened` event for a new case.
pub fn decide_open(new: &NewCase, ctx: &Context<'_>) -> Result<Opened, WorkflowError> {
    ctx.require(Permission::OpenCase, "open cases")?;
    if ctx.actor.role == Role::Customer && ctx.actor.email.as_ref() != Some(&new.customer.email) {
        return Err(WorkflowError::Forbidden {
            role: Role::Customer,
            action: "open a case for another customer".into(),
        });
    }
    let status = ctx.config.initial_status.clone();
    let category = ctx.config.category_of(&status);
    Ok(Opened {
        title: required_line("title", &new.title, MAX_SHORT_TEXT)?,
        description: optional_text("description", Some(&new.description), MAX_TEXT)?
            .unwrap_or_default(),
        origin: new.origin,
        priority: new.priority,
        customer: Customer {
            name: required_line("customer.name", &new.customer.name, MAX_SHORT_TEXT)?,
            email: new.customer.email.clone(),
            phone: optional_line("customer.phone", new.customer.phone.as_deref(), MAX_PHONE)?,
            account: optional_line(
                "customer.account",
                new.customer.account.as_deref(),
                MAX_SHORT_TEXT,
            )?,
        },
        product: optional_line("product", new.product.as_deref(), MAX_SHORT_TEXT)?,
        product_version: optional_line(
            "product_version",
            new.product_version.as_deref(),
            MAX_SHORT_TEXT,
        )?,
        status,
        category,
    })
}

/// A case whose status the workflow file no longer has cannot move by the workflow's
/// transitions: say so, and how to move it.
fn require_known_status(case: &Case, ctx: &Context<'_>) -> Result<(), WorkflowError> {
    if ctx.config.status(case.status.as_str()).is_none() {
        return Err(WorkflowError::StrandedStatus {
            status: case.status.clone(),
        });
    }
    Ok(())
}

fn require_open(case: &Case, hint: &str) -> Result<(), WorkflowError> {
    if case.is_closed() {
        return Err(WorkflowError::CaseClosed {
            status: case.status.clone(),
            hint: hint.to_string(),
        });
    }
    Ok(())
}

/// The Message-ID Casework gives message `id` of a case (without angle brackets), on the
/// support domain in ASCII: the storage protocol refuses an outbox message with any other.
pub fn message_id(id: &str, case: CaseNumber, ascii_domain: &str) -> String {
    format!("{id}.case-{}@{ascii_domain}", case.display())
}

/// Whether a new unanswered attempt on `channel` counts toward the non-response policy: the
/// first since the customer was last reached does, and then one per `min_gap_hours` on
/// each channel, so five attempts typed in a minute count once.
fn attempt_counts(case: &Case, channel: ContactChannel, ctx: &Context<'_>) -> bool {
    let gap = SignedDuration::from_hours(i64::from(ctx.config.non_response.min_gap_hours));
    let last = match channel {
        ContactChannel::Email => case.contacts.last_email_at,
        ContactChannel::Phone => case.contacts.last_phone_at,
    };
    last.is_none_or(|last| ctx.now.duration_since(last) >= gap)
}

/// Queues an email; `counted` says whether it counts as an email attempt toward the
/// non-response policy.
fn queue_email(
    ctx: &Context<'_>,
    case: &Case,
    template: TemplateName,
    fields: &EmailFields,
    counted: bool,
    decision: &mut Decision,
) -> Result<(), WorkflowError> {
    let org = &ctx.config.organization;
    let email = ctx
        .templates
        .render_email(template, org, case, ctx.actor, fields)?;
    let id = ctx.ids.new_id();
    // a Message-ID is ASCII: an internationalized support domain goes in punycode
    let domain = org
        .support_email
        .ascii_domain()
        .map_err(|e| invalid("organization.support_email", &e.to_string()))?;
    let message_id = message_id(&id, case.number, &domain);
    // the thread: this decision's previous email, else the case's, else this one starts it
    let (thread_id, in_reply_to) = match (decision.outbox.last(), &case.email_thread) {
        (Some(previous), _) => (
            previous.thread_id.clone(),
            Some(previous.message_id.clone()),
        ),
        (None, Some(thread)) => (thread.root.clone(), Some(thread.last.clone())),
        (None, None) => (message_id.clone(), None),
    };
    decision.events.push(EventKind::EmailQueued {
        message: id.clone(),
        message_id: Some(message_id.clone()),
        template,
        to: email.to.clone(),
        subject: email.subject.clone(),
        body: email.body.clone(),
        counted,
    });
    decision.outbox.push(OutboxMessage {
        message_id,
        thread_id,
        in_reply_to,
        id,
        case: case.number,
        template,
        from_name: format!("{} Support", org.name),
        from: org.support_email.clone(),
        to_name: email.to_name,
        to: email.to,
        subject: email.subject,
        body: email.body,
        status: OutboxStatus::Queued,
        attempts: 0,
        last_error: None,
        created_at: ctx.now,
        next_attempt_at: ctx.now,
        claimed_by: None,
        claimed_until: None,
        sent_at: None,
    });
    Ok(())
}

/// Decides what a command does to a case.
pub fn decide(cmd: &Command, case: &Case, ctx: &Context<'_>) -> Result<Decision, WorkflowError> {
    let mut d = Decision::default();
    let actor = ctx.actor;
    match cmd {
        Command::Take => {
            ctx.require(Permission::TakeCase, "take cases")?;
            match &case.owner {
                Some(o) if o == &actor.name => {}
                Some(o) if !ctx.config.permits(actor.role, Permission::AssignCase) => {
                    return Err(WorkflowError::Forbidden {
                        role: actor.role,
                        action: format!("take a case owned by {o} (a lead can reassign it)"),
                    });
                }
                _ => d.events.push(EventKind::OwnerChanged {
                    from: case.owner.clone(),
                    to: actor.name.clone(),
                }),
            }
        }
        Command::Assign { owner } => {
            let to_self = owner == &actor.name;
            let free = case.owner.is_none() || case.owner.as_deref() == Some(&actor.name);
            if !(to_self && free && ctx.config.permits(actor.role, Permission::TakeCase)) {
                ctx.require(Permission::AssignCase, "assign cases to others")?;
            }
            if case.owner.as_deref() != Some(owner.as_str()) {
                d.events.push(EventKind::OwnerChanged {
                    from: case.owner.clone(),
                    to: owner.clone(),
                });
            }
        }
        Command::Transition { status, note } => {
            ctx.require(Permission::Transition, "change a case's status")?;
            let target = known_status(ctx.config, "status", status)?;
            require_open(case, "reopen it to change its status")?;
            require_known_status(case, ctx)?;
            if target.category == StatusCategory::Closed {
                return Err(invalid(
                    "status",
                    "closing has its own command, which checks the closing checklist",
                ));
            }
            if target.name == case.status {
                return Ok(d);
            }
            if target.name == ctx.config.escalated_status {
                // moving into the escalated status is an escalation, with its permission,
                // its reason and its event, whichever command asks for it
                ctx.require(Permission::Escalate, "escalate cases")?;
                let reason = match note.as_deref().filter(|n| !n.trim().is_empty()) {
                    Some(n) => required_text("note", n, MAX_TEXT)?,
                    None => return Err(invalid("note", "an escalation needs a reason")),
                };
                escalate(reason, case, ctx, &mut d)?;
                return Ok(d);
            }
            if !ctx.config.allows(&case.status, &target.name) {
                return Err(WorkflowError::TransitionNotAllowed {
                    from: case.status.clone(),
                    to: target.name.clone(),
                });
            }
            d.events.push(EventKind::StatusChanged {
                from: case.status.clone(),
                to: target.name.clone(),
                category: target.category,
                note: optional_text("note", note.as_deref(), MAX_TEXT)?,
            });
        }
        Command::Escalate { reason } => {
            ctx.require(Permission::Escalate, "escalate cases")?;
            let reason = required_text("reason", reason, MAX_TEXT)?;
            require_open(case, "reopen it first")?;
            if case.status == ctx.config.escalated_status {
                return Err(WorkflowError::AlreadyThere {
                    status: case.status.clone(),
                });
            }
            escalate(reason, case, ctx, &mut d)?;
        }
        Command::Edit(edit) => {
            ctx.require(Permission::WorkCase, "edit cases")?;
            decide_edit(edit, case, &mut d)?;
        }
        Command::ConfirmTitle => {
            ctx.require(Permission::WorkCase, "review titles")?;
            d.events.push(EventKind::TitleConfirmed);
        }
        Command::LogCall {
            direction,
            duration_minutes,
            screenshare,
            channel,
            notes,
        } => {
            ctx.require(Permission::WorkCase, "log calls")?;
            if *duration_minutes == 0 || *duration_minutes > MAX_CALL_MINUTES {
                return Err(invalid(
                    "duration_minutes",
                    "must be between 1 minute and 24 hours",
                ));
            }
            d.events.push(EventKind::CallLogged {
                direction: *direction,
                duration_minutes: *duration_minutes,
                screenshare: *screenshare,
                channel: optional_line("channel", channel.as_deref(), MAX_SHORT_TEXT)?,
                notes: required_text("notes", notes, MAX_TEXT)?,
                // a logged call is a conversation: the customer was reached
                reached: true,
            });
        }
        Command::AddPost {
            kind,
            body,
            visibility,
        } => {
            let body = required_text("body", body, MAX_TEXT)?;
            if *kind == PostKind::ReopenReason {
                return Err(invalid(
                    "kind",
                    "a reopen reason is written by the reopen command",
                ));
            }
            if ctx.config.permits(actor.role, Permission::WorkCase) {
                d.events.push(EventKind::PostAdded {
                    kind: *kind,
                    body,
                    visibility: *visibility,
                    from_customer: false,
                });
            } else {
                ctx.require(Permission::PostCustomer, "post on cases")?;
                if *kind != PostKind::Note || *visibility != Visibility::Customer {
                    return Err(WorkflowError::Forbidden {
                        role: actor.role,
                        action: "write anything but customer-visible notes".into(),
                    });
                }
                d.events.push(EventKind::PostAdded {
                    kind: PostKind::Note,
                    body,
                    visibility: Visibility::Customer,
                    from_customer: actor.role == Role::Customer,
                });
            }
        }
        Command::RecordContact {
            channel,
            outcome,
            note,
        } => {
            ctx.require(Permission::WorkCase, "record contact attempts")?;
            let counted =
                *outcome == ContactOutcome::NoResponse && attempt_counts(case, *channel, ctx);
            d.events.push(EventKind::ContactAttempted {
                channel: *channel,
                outcome: *outcome,
                note: optional_text("note", note.as_deref(), MAX_TEXT)?,
                counted,
            });
        }
        Command::SendEmail { template, fields } => {
            ctx.require(Permission::WorkCase, "send emails")?;
            if *template == TemplateName::InitialContact {
                require_open(case, "reopen it first")?;
                if case.owner.as_deref() != Some(actor.name.as_str()) {
                    return Err(WorkflowError::NotOwner {
                        owner: case.owner.clone(),
                        action: "send the initial-contact email".into(),
                    });
                }
            }
            check_email(*template, fields)?;
            let counted =
                template.reaches_out() && attempt_counts(case, ContactChannel::Email, ctx);
            queue_email(ctx, case, *template, fields, counted, &mut d)?;
        }
        Command::Link(target) => {
            ctx.require(Permission::WorkCase, "link records to cases")?;
            let mut reference = required_line("ref", &target.reference, MAX_SHORT_TEXT)?;
            if target.kind == RefKind::Case {
                let other: CaseNumber = reference
                    .parse()
                    .map_err(|e: crate::ids::ParseError| invalid("ref", &e.to_string()))?;
                if other == case.number {
                    return Err(invalid("ref", "a case cannot be linked to itself"));
                }
                // one spelling per case, so "1027" and "00001027" are the same link
                reference = other.display();
            }
            let target = LinkTarget {
                kind: target.kind,
                reference,
            };
            if !case.links.contains(&target) {
                d.events.push(EventKind::Linked { target });
            }
        }
        Command::Swarm { group, question } => {
            ctx.require(Permission::WorkCase, "ask for help")?;
            d.events.push(EventKind::SwarmRequested {
                group: required_line("group", group, MAX_SHORT_TEXT)?,
                question: required_text("question", question, MAX_TEXT)?,
            });
        }
        Command::Close {
            mode,
            resolution,
            notify_customer,
        } => {
            if *mode == CloseMode::Temporary {
                ctx.require(Permission::CloseTemporary, "close cases temporarily")?;
                let own = case.owner.as_deref() == Some(actor.name.as_str());
                if !own && !ctx.config.permits(actor.role, Permission::AssignCase) {
                    return Err(WorkflowError::NotOwner {
                        owner: case.owner.clone(),
                        action: "close the case temporarily".into(),
                    });
                }
            } else {
                ctx.require(Permission::Close, "close cases")?;
            }
            require_open(case, "it is already closed")?;
            if *mode == CloseMode::NonResponse && !notify_customer {
                return Err(invalid(
                    "notify_customer",
                    "a non-response close always sends the closing email the policy requires",
                ));
            }
            decide_close(
                *mode,
                resolution.as_ref(),
                *notify_customer,
                case,
                ctx,
                &mut d,
            )?;
        }
        Command::Reopen {
            reason,
            notify_customer,
        } => decide_reopen(reason, *notify_customer, case, ctx, &mut d)?,
        Command::MapStatus { from, to } => {
            ctx.require(Permission::Manage, "move cases out of a renamed status")?;
            let (from, target) = check_status_map(ctx.config, from, to)?;
            if !case.status.same(from.as_str()) {
                return Err(invalid(
                    "from",
                    &format!("the case is in status {}, not {from}", case.status),
                ));
            }
            // a renamed status keeps its meaning: a map never opens or closes a case
            let closed = target.category == StatusCategory::Closed;
            if closed != case.is_closed() {
                return Err(invalid(
                    "to",
                    &format!(
                        "{} is {} status and the case is {}; a status map never opens or closes a case",
                        target.name,
                        if closed { "a closed" } else { "an open" },
                        if case.is_closed() { "closed" } else { "open" },
                    ),
                ));
            }
            d.events.push(EventKind::StatusMapped {
                from: case.status.clone(),
                to: target.name.clone(),
                category: target.category,
            });
        }
    }
    Ok(d)
}

/// The escalation of an open case that is not escalated yet, with its reason.
fn escalate(
    reason: String,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    require_known_status(case, ctx)?;
    let to = ctx.config.escalated_status.clone();
    if !ctx.config.allows(&case.status, &to) {
        return Err(WorkflowError::TransitionNotAllowed {
            from: case.status.clone(),
            to,
        });
    }
    let category = ctx.config.category_of(&to);
    d.events.push(EventKind::Escalated {
        from: case.status.clone(),
        to,
        category,
        reason,
    });
    Ok(())
}

fn decide_edit(edit: &CaseEdit, case: &Case, d: &mut Decision) -> Result<(), WorkflowError> {
    if let Some(title) = &edit.title {
        let title = required_line("title", title, MAX_SHORT_TEXT)?;
        if title == case.title {
            // Re-entering the same title is the agent confirming it is still right.
            d.events.push(EventKind::TitleConfirmed);
        } else {
            d.events.push(EventKind::FieldChanged {
                field: Field::Title,
                from: Some(case.title.clone()),
                to: Some(title),
            });
        }
    }
    if let Some(p) = edit.priority
        && p != case.priority
    {
        d.events.push(EventKind::PriorityChanged {
            from: case.priority,
            to: p,
        });
    }
    let fields = [
        (Field::Description, &edit.description, MAX_TEXT),
        (Field::Product, &edit.product, MAX_SHORT_TEXT),
        (Field::ProductVersion, &edit.product_version, MAX_SHORT_TEXT),
        (Field::ProductArea, &edit.product_area, MAX_SHORT_TEXT),
        (Field::Functionality, &edit.functionality, MAX_SHORT_TEXT),
        (Field::Issue, &edit.issue, MAX_SHORT_TEXT),
    ];
    for (field, value, max) in fields {
        let Some(value) = value else { continue };
        // every field but the description is one line: it shows in lists and subjects
        let new = if field == Field::Description {
            optional_text(field.as_str(), Some(value), max)?
        } else {
            optional_line(field.as_str(), Some(value), max)?
        };
        let old = case.field(field).map(str::to_string);
        let old = old.filter(|s| !s.is_empty());
        if new != old {
            d.events.push(EventKind::FieldChanged {
                field,
                from: old,
                to: new,
            });
        }
    }
    Ok(())
}

fn decide_close(
    mode: CloseMode,
    resolution: Option<&Resolution>,
    notify_customer: bool,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    let config = ctx.config;
    let to = match mode {
        CloseMode::Temporary => config.temporary_close_status.clone(),
        CloseMode::Resolved | CloseMode::NonResponse => config.closed_status.clone(),
    };
    require_known_status(case, ctx)?;
    if !config.allows(&case.status, &to) {
        return Err(WorkflowError::TransitionNotAllowed {
            from: case.status.clone(),
            to,
        });
    }
    let resolution = match mode {
        CloseMode::Resolved => {
            let given = resolution.cloned().unwrap_or(Resolution {
                primary: String::new(),
                secondary: String::new(),
            });
            let missing = closing_check(case, config, Some(&given));
            if !missing.is_empty() {
                return Err(WorkflowError::ChecklistIncomplete { missing });
            }
            if given.primary.trim().is_empty() && given.secondary.trim().is_empty() {
                None
            } else {
                Some(Resolution {
                    primary: optional_line(
                        "primary_resolution",
                        Some(&given.primary),
                        MAX_SHORT_TEXT,
                    )?
                    .unwrap_or_default(),
                    secondary: optional_line(
                        "secondary_resolution",
                        Some(&given.secondary),
                        MAX_SHORT_TEXT,
                    )?
                    .unwrap_or_default(),
                })
            }
        }
        CloseMode::NonResponse => {
            let missing = non_response_check(case, config);
            if !missing.is_empty() {
                return Err(WorkflowError::PolicyNotMet { missing });
            }
            queue_email(
                ctx,
                case,
                TemplateName::NonResponseClosure,
                &EmailFields::default(),
                false,
                d,
            )?;
            None
        }
        CloseMode::Temporary => None,
    };
    // (a non-response close queued its closing email above, whatever was asked)
    let notice = match mode {
        CloseMode::Resolved => Some(TemplateName::ResolutionNotice),
        CloseMode::Temporary => Some(TemplateName::TemporaryCloseNotice),
        CloseMode::NonResponse => None,
    };
    // the notice shows the case as the close leaves it
    let mut closed = case.clone();
    closed.status = to.clone();
    closed.status_category = StatusCategory::Closed;
    closed.close_mode = Some(mode);
    if resolution.is_some() {
        closed.resolution = resolution.clone();
    }
    d.events.push(EventKind::Closed {
        mode,
        from: case.status.clone(),
        to,
        resolution,
    });
    if notify_customer && let Some(notice) = notice {
        queue_email(ctx, &closed, notice, &EmailFields::default(), false, d)?;
    }
    Ok(())
}

/// Whether `role` may reopen `case`: with the reopen permission, or with reopen_temporary
/// when the case was closed temporarily. The reopen command decides with it; a front-end
/// asks it to offer the reopen dialog only to those it would not refuse.
pub fn may_reopen(config: &WorkflowConfig, role: Role, case: &Case) -> bool {
    config.permits(role, Permission::Reopen)
        || (case.close_mode == Some(CloseMode::Temporary)
            && config.permits(role, Permission::ReopenTemporary))
}

fn decide_reopen(
    reason: &str,
    notify_customer: bool,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    let temporary = case.close_mode == Some(CloseMode::Temporary);
    if !may_reopen(ctx.config, ctx.actor.role, case) {
        return Err(WorkflowError::Forbidden {
            role: ctx.actor.role,
            action: if temporary {
                "reopen temporarily closed cases".into()
            } else {
                "reopen closed cases (a lead or admin can)".into()
            },
        });
    }
    let reason = required_text("reason", reason, MAX_TEXT)?;
    if !case.is_closed() {
        return Err(WorkflowError::NotClosed {
            status: case.status.clone(),
        });
    }
    let to = ctx.config.reopen_status.clone();
    let category = ctx.config.category_of(&to);
    d.events.push(EventKind::Reopened {
        from: case.status.clone(),
        to: to.clone(),
        category,
        reason: reason.clone(),
        notify_customer,
        close_mode: case.close_mode.unwrap_or(CloseMode::Resolved),
        closed_at: case.closed_at.unwrap_or(case.updated_at),
    });
    d.events.push(EventKind::PostAdded {
        kind: PostKind::ReopenReason,
        body: reason,
        visibility: Visibility::Internal,
        from_customer: false,
    });
    if notify_customer {
        // The notice shows the status the case is in after reopening.
        let mut reopened = case.clone();
        reopened.status = to;
        reopened.status_category = category;
        queue_email(
            ctx,
            &reopened,
            TemplateName::ReopenNotice,
            &EmailFields::default(),
            false,
            d,
        )?;
    }
    Ok(())
}

/// Numbers decided events as the next events of a case.
pub fn stamp(case: &Case, actor: &str, at: Timestamp, kinds: Vec<EventKind>) -> Vec<Event> {
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            case: case.number,
            seq: case.version + 1 + i as u64,
            at,
            actor: actor.to_string(),
            kind,
        })
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod threading_tests;
