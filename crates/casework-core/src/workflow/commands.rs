//! What each command decides, one function per command: its permission, its checks, and
//! the events (and emails) it adds to the decision. [`super::decide`] dispatches to them.

use crate::config::Permission;
use crate::documents::EmailFields;
use crate::event::EventKind;
use crate::ids::CaseNumber;
use crate::input::{optional_line, required_line};
use crate::limits::{MAX_CALL_MINUTES, MAX_SHORT_TEXT, MAX_TEXT};
use crate::model::{
    CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, Field, LinkTarget, PostKind,
    RefKind, Resolution, Role, StatusCategory, TemplateName, Visibility,
};

use super::checks::{
    attempt_counts, closing_check, may_reopen, non_response_check, require_known_status,
    require_open,
};
use super::email::queue_email;
use super::validate::{check_email, check_status_map, known_status, optional_text, required_text};
use super::{CaseEdit, Context, Decision, WorkflowError, invalid};

/// Take ownership: an unowned case, or one's own; another's only with `assign_case`.
pub(super) fn take(case: &Case, ctx: &Context<'_>, d: &mut Decision) -> Result<(), WorkflowError> {
    let actor = ctx.actor;
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
    Ok(())
}

/// Give the case an owner: oneself when free (with `take_case`), anyone with `assign_case`.
pub(super) fn assign(
    owner: &str,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    let actor = ctx.actor;
    let to_self = owner == actor.name;
    let free = case.owner.is_none() || case.owner.as_deref() == Some(&actor.name);
    if !(to_self && free && ctx.config.permits(actor.role, Permission::TakeCase)) {
        ctx.require(Permission::AssignCase, "assign cases to others")?;
    }
    if case.owner.as_deref() != Some(owner) {
        d.events.push(EventKind::OwnerChanged {
            from: case.owner.clone(),
            to: owner.to_string(),
        });
    }
    Ok(())
}

/// Move between open and pending statuses by the workflow's transitions; into the escalated status
/// only as an escalation.
pub(super) fn transition(
    status: &str,
    note: Option<&str>,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
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
        return Ok(());
    }
    if target.name == ctx.config.escalated_status {
        // moving into the escalated status is an escalation, with its permission,
        // its reason and its event, whichever command asks for it
        ctx.require(Permission::Escalate, "escalate cases")?;
        let reason = match note.filter(|n| !n.trim().is_empty()) {
            Some(n) => required_text("note", n, MAX_TEXT)?,
            None => return Err(invalid("note", "an escalation needs a reason")),
        };
        escalation(reason, case, ctx, d)?;
        return Ok(());
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
        note: optional_text("note", note, MAX_TEXT)?,
    });
    Ok(())
}

/// Escalate an open case that is not escalated yet, with a reason.
pub(super) fn escalate(
    reason: &str,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    ctx.require(Permission::Escalate, "escalate cases")?;
    let reason = required_text("reason", reason, MAX_TEXT)?;
    require_open(case, "reopen it first")?;
    if case.status == ctx.config.escalated_status {
        return Err(WorkflowError::AlreadyThere {
            status: case.status.clone(),
        });
    }
    escalation(reason, case, ctx, d)?;
    Ok(())
}

/// Edit fields (`work_case`).
pub(super) fn edit(
    edit: &CaseEdit,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    ctx.require(Permission::WorkCase, "edit cases")?;
    decide_edit(edit, case, d)?;
    Ok(())
}

/// Confirm the title is still right (seed step 8).
pub(super) fn confirm_title(ctx: &Context<'_>, d: &mut Decision) -> Result<(), WorkflowError> {
    ctx.require(Permission::WorkCase, "review titles")?;
    d.events.push(EventKind::TitleConfirmed);
    Ok(())
}

/// Log a call: one to a day long; the customer was reached.
pub(super) fn log_call(
    direction: CallDirection,
    duration_minutes: u32,
    screenshare: bool,
    channel: Option<&str>,
    notes: &str,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    ctx.require(Permission::WorkCase, "log calls")?;
    if duration_minutes == 0 || duration_minutes > MAX_CALL_MINUTES {
        return Err(invalid(
            "duration_minutes",
            "must be between 1 minute and 24 hours",
        ));
    }
    d.events.push(EventKind::CallLogged {
        direction,
        duration_minutes,
        screenshare,
        channel: optional_line("channel", channel, MAX_SHORT_TEXT)?,
        notes: required_text("notes", notes, MAX_TEXT)?,
        // a logged call is a conversation: the customer was reached
        reached: true,
    });
    Ok(())
}

/// Add a post: staff any kind but a reopen reason; a customer only customer-visible notes.
pub(super) fn add_post(
    kind: PostKind,
    body: &str,
    visibility: Visibility,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    let actor = ctx.actor;
    let body = required_text("body", body, MAX_TEXT)?;
    if kind == PostKind::ReopenReason {
        return Err(invalid(
            "kind",
            "a reopen reason is written by the reopen command",
        ));
    }
    if ctx.config.permits(actor.role, Permission::WorkCase) {
        d.events.push(EventKind::PostAdded {
            kind,
            body,
            visibility,
            from_customer: false,
        });
    } else {
        ctx.require(Permission::PostCustomer, "post on cases")?;
        if kind != PostKind::Note || visibility != Visibility::Customer {
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
    Ok(())
}

/// A customer asks to reopen their closed case: their note, customer-visible, and the
/// reopen itself when the workflow's policy for a customer writing on a closed case says so
/// ([`super::inbound::customer_reopens`]).
pub(super) fn ask_to_reopen(
    body: &str,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    ctx.require(Permission::PostCustomer, "ask to reopen cases")?;
    let body = required_text("body", body, MAX_TEXT)?;
    if !case.is_closed() {
        return Err(WorkflowError::NotClosed {
            status: case.status.clone(),
        });
    }
    if super::inbound::customer_reopens(case, ctx.config, ctx.now) {
        let to = ctx.config.reopen_status.clone();
        let reason = super::inbound::CUSTOMER_ASKED;
        d.events.push(EventKind::Reopened {
            from: case.status.clone(),
            category: ctx.config.category_of(&to),
            to,
            reason: reason.into(),
            notify_customer: false,
            close_mode: case.close_mode.unwrap_or(CloseMode::Resolved),
            closed_at: case.closed_at.unwrap_or(case.updated_at),
        });
        d.events.push(EventKind::PostAdded {
            kind: PostKind::ReopenReason,
            body: reason.into(),
            visibility: Visibility::Internal,
            from_customer: false,
        });
    }
    d.events.push(EventKind::PostAdded {
        kind: PostKind::Note,
        body,
        visibility: Visibility::Customer,
        from_customer: ctx.actor.role == Role::Customer,
    });
    Ok(())
}

/// Record an attempt to reach the customer, counted by the non-response policy.
pub(super) fn record_contact(
    channel: ContactChannel,
    outcome: ContactOutcome,
    note: Option<&str>,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    ctx.require(Permission::WorkCase, "record contact attempts")?;
    let counted = outcome == ContactOutcome::NoResponse && attempt_counts(case, channel, ctx);
    d.events.push(EventKind::ContactAttempted {
        channel,
        outcome,
        note: optional_text("note", note, MAX_TEXT)?,
        counted,
    });
    Ok(())
}

/// Queue an email from a template; the initial contact only from the owner of an open case.
pub(super) fn send_email(
    template: TemplateName,
    fields: &EmailFields,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    let actor = ctx.actor;
    ctx.require(Permission::WorkCase, "send emails")?;
    if template == TemplateName::InitialContact {
        require_open(case, "reopen it first")?;
        if case.owner.as_deref() != Some(actor.name.as_str()) {
            return Err(WorkflowError::NotOwner {
                owner: case.owner.clone(),
                action: "send the initial-contact email".into(),
            });
        }
    }
    check_email(template, fields)?;
    let counted = template.reaches_out() && attempt_counts(case, ContactChannel::Email, ctx);
    queue_email(ctx, case, template, fields, counted, d)?;
    Ok(())
}

/// Link an article, defect or another case, once, in one spelling.
pub(super) fn link(
    target: &LinkTarget,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
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
    Ok(())
}

/// Ask a collaboration group for help (internal).
pub(super) fn swarm(
    group: &str,
    question: &str,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    ctx.require(Permission::WorkCase, "ask for help")?;
    d.events.push(EventKind::SwarmRequested {
        group: required_line("group", group, MAX_SHORT_TEXT)?,
        question: required_text("question", question, MAX_TEXT)?,
    });
    Ok(())
}

/// Close: resolved (the checklist) or for non-response (the policy) with `close`, temporarily with
/// `close_temporary` by the owner or one who may assign.
pub(super) fn close(
    mode: CloseMode,
    resolution: Option<&Resolution>,
    notify_customer: bool,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
    let actor = ctx.actor;
    if mode == CloseMode::Temporary {
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
    if mode == CloseMode::NonResponse && !notify_customer {
        return Err(invalid(
            "notify_customer",
            "a non-response close always sends the closing email the policy requires",
        ));
    }
    decide_close(mode, resolution, notify_customer, case, ctx, d)?;
    Ok(())
}

/// Move a case out of a status the workflow file no longer has, without the transition rules
/// (`manage`).
pub(super) fn map_status(
    from: &str,
    to: &str,
    case: &Case,
    ctx: &Context<'_>,
    d: &mut Decision,
) -> Result<(), WorkflowError> {
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
    Ok(())
}

/// The escalation of an open case that is not escalated yet, with its reason.
fn escalation(
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

pub(super) fn reopen(
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
