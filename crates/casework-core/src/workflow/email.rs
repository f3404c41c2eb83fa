//! Email a command queues: rendered from its template, given Casework's Message-ID on the
//! support domain, threaded after the case's earlier messages, and put in the outbox in the
//! same commit as its `email_queued` event.

use crate::documents::EmailFields;
use crate::event::EventKind;
use crate::ids::{CaseNumber, EmailAddress};
use crate::model::{Case, OutboxMessage, OutboxStatus, TemplateName};
use crate::reply_token::{ReplyKeys, parse_token};

use super::{Context, Decision, WorkflowError, invalid};

/// The Message-ID Casework gives message `id` of a case (without angle brackets) when no
/// reply secret is configured, on the support domain in ASCII.
pub fn message_id(id: &str, case: CaseNumber, ascii_domain: &str) -> String {
    format!("{id}.case-{}@{ascii_domain}", case.display())
}

/// The Message-ID Casework gives message `id` of a case: with reply keys, one carrying the
/// case's signed reply token (`<id>.c1027.<signature>@<domain>`, see
/// [`crate::reply_token`]); without, [`message_id`].
pub fn signed_message_id(
    id: &str,
    case: CaseNumber,
    ascii_domain: &str,
    keys: Option<&ReplyKeys>,
) -> String {
    match keys {
        Some(keys) => format!("{id}.{}@{ascii_domain}", keys.token(case)),
        None => message_id(id, case, ascii_domain),
    }
}

/// Whether `message_id` is one Casework gives message `id` of `case` on the support domain
/// (ASCII): [`message_id`], or `<id>.<token>@<domain>` with a token of the right shape for
/// the case. The storage protocol refuses an outbox message with any other; it does not
/// know the secret, so the signature is checked on the way in, not here.
pub fn is_casework_message_id(
    message_id_: &str,
    id: &str,
    case: CaseNumber,
    ascii_domain: &str,
) -> bool {
    if message_id_ == message_id(id, case, ascii_domain) {
        return true;
    }
    message_id_
        .strip_prefix(id)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.rsplit_once('@'))
        .is_some_and(|(token, domain)| {
            domain == ascii_domain && parse_token(token).is_some_and(|(n, _)| n == case)
        })
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
    queue_email_to(ctx, case, template, fields, counted, None, decision)
}

/// [`queue_email`] to `to` (address and name) instead of the case's customer, when given.
pub(super) fn queue_email_to(
    ctx: &Context<'_>,
    case: &Case,
    template: TemplateName,
    fields: &EmailFields,
    counted: bool,
    to: Option<(EmailAddress, String)>,
    decision: &mut Decision,
) -> Result<(), WorkflowError> {
    let org = &ctx.config.organization;
    let mut email = ctx
        .templates
        .render_email(template, org, case, ctx.actor, fields)?;
    if let Some((address, name)) = to {
        email.to = address;
        email.to_name = name;
    }
    let id = ctx.ids.new_id();
    // a Message-ID is ASCII: an internationalized support domain goes in punycode
    let domain = org
        .support_email
        .ascii_domain()
        .map_err(|e| invalid("organization.support_email", &e.to_string()))?;
    let message_id = signed_message_id(&id, case.number, &domain, ctx.reply_keys);
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
    decision.outbox.push(queued(
        org,
        case.number,
        template,
        email,
        Threading {
            id,
            message_id,
            thread_id,
            in_reply_to,
        },
        ctx.now,
    ));
    Ok(())
}

/// A message's id, its Message-ID and its place in a thread.
pub(super) struct Threading {
    /// The outbox id.
    pub id: String,
    /// Its Message-ID.
    pub message_id: String,
    /// The first Message-ID of its thread.
    pub thread_id: String,
    /// The message it answers, if any.
    pub in_reply_to: Option<String>,
}

/// A rendered email as an outbox message from the organization's support address, queued
/// at `now`.
pub(super) fn queued(
    org: &crate::config::Organization,
    case: CaseNumber,
    template: TemplateName,
    email: crate::documents::RenderedEmail,
    threading: Threading,
    now: jiff::Timestamp,
) -> OutboxMessage {
    OutboxMessage {
        message_id: threading.message_id,
        thread_id: threading.thread_id,
        in_reply_to: threading.in_reply_to,
        id: threading.id,
        case,
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
        created_at: now,
        next_attempt_at: now,
        claimed_by: None,
        claimed_until: None,
        sent_at: None,
    }
}
