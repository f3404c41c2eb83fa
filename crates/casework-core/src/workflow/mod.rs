//! `decide`: the pure workflow rules. A command, the actor, the case, the configuration and
//! the time give either events (and emails to queue) or a typed refusal that says exactly
//! what is missing or forbidden.
//!
//! This file holds the vocabulary (commands, refusals, the decision) and [`decide`], a table
//! from each command to what decides it: `commands.rs`, one function per command, over
//! `validate.rs` (input: text within its limits, email fields, status names), `checks.rs`
//! (the closing checklist, the non-response policy, an open case, who may reopen) and
//! `email.rs` (rendering, Message-IDs and threading of what a command queues).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::{Permission, WorkflowConfig};
use crate::documents::{EmailFields, TemplateError, Templates};
use crate::event::{Event, EventKind, Opened};
use crate::ids::StatusName;
use crate::input::{optional_line, required_line};
use crate::limits::{MAX_PHONE, MAX_SHORT_TEXT, MAX_TEXT};
use crate::model::{
    Actor, CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, Customer, LinkTarget,
    Origin, OutboxMessage, PostKind, Priority, Resolution, Role, TemplateName, Visibility,
};
use crate::ports::IdGenerator;

mod checks;
mod commands;
mod email;
pub mod inbound;
pub mod notify;
mod validate;

pub use checks::{closing_check, may_reopen, non_response_check};
pub use email::{is_casework_message_id, message_id, signed_message_id};
pub use validate::{check_email, check_status_map, known_status, optional_text, required_text};

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

impl NewCase {
    /// A case with a title, a description and a customer; from the web, at medium
    /// priority, with no product yet. Set the other fields on the value as needed.
    pub fn new(
        title: impl Into<String>,
        description: impl Into<String>,
        customer: Customer,
    ) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            origin: Origin::Web,
            priority: Priority::Medium,
            customer,
            product: None,
            product_version: None,
        }
    }
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
    /// The customer asks to reopen their closed case, in their words: a customer-visible
    /// note, and a reopen when `[inbound] closed_reply` would reopen the case for an emailed
    /// reply (always after a temporary close); otherwise the support team decides.
    AskToReopen {
        /// Why, in the customer's words.
        body: String,
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

fn join_names(names: &[StatusName]) -> String {
    names
        .iter()
        .map(StatusName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
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
    /// The secrets outgoing Message-IDs are signed with ([`crate::reply_token`]); `None`
    /// when none is configured (Message-IDs then carry no reply token).
    pub reply_keys: Option<&'a crate::reply_token::ReplyKeys>,
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

pub(super) fn invalid(field: &str, message: &str) -> WorkflowError {
    WorkflowError::Invalid {
        field: field.to_string(),
        message: message.to_string(),
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

/// Decides what a command does to a case: a table from each command to the function in
/// `commands.rs` that decides it. Pure: the same case, command and context always give the
/// same decision, and nothing is written; [`crate::service::decide_commit`] turns it into a
/// commit.
///
/// ```
/// use casework_core::event::EventKind;
/// use casework_core::model::{Actor, Role};
/// use casework_core::testing::{SequentialIds, sample_case};
/// use casework_core::workflow::{Command, Context, WorkflowError, decide};
/// use casework_core::{Templates, WorkflowConfig};
///
/// let (config, templates, ids) = (WorkflowConfig::default_config(), Templates::embedded()?, SequentialIds::default());
/// let lee = Actor::operator("Lee Park");
/// let lee = Actor { role: Role::Agent, ..lee };
/// let ctx = Context { actor: &lee, config: &config, templates: &templates, now: jiff::Timestamp::UNIX_EPOCH, ids: &ids, reply_keys: None };
///
/// // an unowned case: taking it makes one event, the change of owner
/// let unowned = casework_core::Case { owner: None, ..sample_case() };
/// let taken = decide(&Command::Take, &unowned, &ctx)?;
/// assert!(matches!(&taken.events[..], [EventKind::OwnerChanged { .. }]));
///
/// // the sample case is Sample Agent's: an agent may not take it (a lead may reassign it)
/// let refused = decide(&Command::Take, &sample_case(), &ctx);
/// assert!(matches!(refused, Err(WorkflowError::Forbidden { .. })));
///
/// // moving to a status the workflow does not know is refused, naming it
/// let refused = decide(&Command::Transition { status: "Nowhere".into(), note: None }, &sample_case(), &ctx);
/// assert!(matches!(refused, Err(WorkflowError::UnknownStatus { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decide(cmd: &Command, case: &Case, ctx: &Context<'_>) -> Result<Decision, WorkflowError> {
    use commands as c;
    let mut d = Decision::default();
    let out = &mut d;
    match cmd {
        Command::Take => c::take(case, ctx, out),
        Command::Assign { owner } => c::assign(owner, case, ctx, out),
        Command::Transition { status, note } => {
            c::transition(status, note.as_deref(), case, ctx, out)
        }
        Command::Escalate { reason } => c::escalate(reason, case, ctx, out),
        Command::Edit(edit) => c::edit(edit, case, ctx, out),
        Command::ConfirmTitle => c::confirm_title(ctx, out),
        Command::LogCall {
            direction,
            duration_minutes,
            screenshare,
            channel,
            notes,
        } => c::log_call(
            *direction,
            *duration_minutes,
            *screenshare,
            channel.as_deref(),
            notes,
            ctx,
            out,
        ),
        Command::AddPost {
            kind,
            body,
            visibility,
        } => c::add_post(*kind, body, *visibility, ctx, out),
        Command::AskToReopen { body } => c::ask_to_reopen(body, case, ctx, out),
        Command::RecordContact {
            channel,
            outcome,
            note,
        } => c::record_contact(*channel, *outcome, note.as_deref(), case, ctx, out),
        Command::SendEmail { template, fields } => c::send_email(*template, fields, case, ctx, out),
        Command::Link(target) => c::link(target, case, ctx, out),
        Command::Swarm { group, question } => c::swarm(group, question, ctx, out),
        Command::Close {
            mode,
            resolution,
            notify_customer,
        } => c::close(*mode, resolution.as_ref(), *notify_customer, case, ctx, out),
        Command::Reopen {
            reason,
            notify_customer,
        } => c::reopen(reason, *notify_customer, case, ctx, out),
        Command::MapStatus { from, to } => c::map_status(from, to, case, ctx, out),
    }?;
    Ok(d)
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
