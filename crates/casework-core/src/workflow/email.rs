//! Email a command queues: rendered from its template, given Casework's Message-ID on the
//! support domain, threaded after the case's earlier messages, and put in the outbox in the
//! same commit as its `email_queued` event.

use crate::documents::EmailFields;
use crate::event::EventKind;
use crate::ids::CaseNumber;
use crate::model::{Case, OutboxMessage, OutboxStatus, TemplateName};

use super::{Context, Decision, WorkflowError, invalid};

/// The Message-ID Casework gives message `id` of a case (without angle brackets), on the
/// support domain in ASCII: the storage protocol refuses an outbox message with any other.
pub fn message_id(id: &str, case: CaseNumber, ascii_domain: &str) -> String {
    format!("{id}.case-{}@{ascii_domain}", case.display())
}

/// Queues an email; `counted` says whether it counts as an email attempt toward the
/// non-response policy.
pub(super) fn queue_email(
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
