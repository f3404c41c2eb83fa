//! What an inbound email does, as pure rules: the keys that thread it (Casework's own
//! Message-IDs, the subject's case tag), its idempotency key, the case it opens when it
//! answers none, and what it does to the case it answers (a customer's reply is a
//! customer-visible post that reaches them, moves a pending case on, and reopens or links a
//! closed one per the workflow file; anyone else's mail and every machine's stay internal
//! and change nothing). The service looks the cases up and commits
//! (`service/inbound.rs`).

use jiff::Timestamp;

use crate::attachment::UploadRefusal;
use crate::config::{ClosedReply, WorkflowConfig};
use crate::event::{Event, EventKind};
use crate::ids::{CaseNumber, EmailAddress};
use crate::inbound::{Bounce, InboundMessage, one_line};
use crate::limits::{MAX_SHORT_TEXT, MAX_TEXT};
use crate::model::{
    Case, CloseMode, Customer, Origin, PostKind, Priority, StatusCategory, ThreadRule, Visibility,
    sha256_hex,
};
use crate::reply_token::{parse_token, token_of_message_id};

use super::NewCase;

/// The reason recorded (as data, and counted in the reopen report) when a customer's email
/// reopens a case.
pub const CUSTOMER_REPLIED: &str = "customer replied";

/// The reopen reason of a case its customer asked to reopen (the portal's button).
pub const CUSTOMER_ASKED: &str = "customer asked to reopen";

/// The title of a case opened from an email without a subject.
pub const NO_SUBJECT: &str = "(no subject)";

/// The key that makes taking a message idempotent: its Message-ID (or the digest of its
/// bytes when it has none) together with its sender, hashed, so a redelivered copy is
/// recognised and a stranger reusing someone's Message-ID is not mistaken for them.
pub fn inbound_key(message: &InboundMessage, from: &EmailAddress) -> String {
    let text = format!("{}\n{}", message.idempotency_key(), from.as_str());
    format!("email:{}", sha256_hex(text.as_bytes()))
}

/// The case one of Casework's own Message-IDs names when it is on the support domain (ASCII
/// form): `{id}.case-{number}@{domain}` ([`super::message_id`]) or, with a reply token,
/// `{id}.c{number}.{signature}@{domain}` ([`super::signed_message_id`]). Only a claim: the
/// service checks the case's history really holds the id.
pub fn case_of_message_id(id: &str, ascii_domain: &str) -> Option<CaseNumber> {
    if let Some(token) = token_of_message_id(id, ascii_domain) {
        return parse_token(token).map(|(n, _)| n);
    }
    let (local, domain) = id.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(ascii_domain) {
        return None;
    }
    let (_, number) = local.rsplit_once(".case-")?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// Whether `from` is a participant of a case: its customer, or someone the case already
/// received mail from (a bounce's mail system aside) or sent mail to, as its `history`
/// records. Only a participant's subject tag threads a message onto the case.
pub fn is_participant(case: &Case, history: &[Event], from: &EmailAddress) -> bool {
    &case.customer.email == from
        || history.iter().any(|e| match &e.kind {
            EventKind::EmailReceived {
                from: sender, rule, ..
            } => sender == from && *rule != ThreadRule::Bounce,
            EventKind::EmailQueued { to, .. } => to == from,
            _ => false,
        })
}

/// Whether a message can only open a case of its own (or be refused): it refers to no
/// Message-ID, tags no case in its subject, carries no reply token in a recipient and
/// reports no delivery failure. No such message can thread onto a case another message
/// opens, so stand-alone messages from different senders may be taken at the same time
/// ([`CaseService::ingest_batch`](crate::service::CaseService::ingest_batch)); any other
/// message waits until every message before it is taken.
pub fn stands_alone(message: &InboundMessage, support: &EmailAddress) -> bool {
    message.in_reply_to.is_empty()
        && message.references.is_empty()
        && message.bounce.is_none()
        && subject_tag(&message.subject).is_none()
        && !message
            .recipients()
            .any(|r| crate::reply_token::token_of_address(r, support).is_some())
}

/// The case number a subject tags, `[Case 00001027]` or `[Case #00001027]` (any case of
/// the word, the first tag wins); `None` when it has none.
pub fn subject_tag(subject: &str) -> Option<CaseNumber> {
    let mut rest = subject;
    while let Some(at) = rest.find('[') {
        rest = &rest[at + 1..];
        let Some(word) = rest.get(..4) else {
            continue;
        };
        if !word.eq_ignore_ascii_case("case") {
            continue;
        }
        let tail = rest[4..].trim_start();
        let tail = tail.strip_prefix('#').unwrap_or(tail);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && tail[digits..].starts_with(']')
            && let Ok(n) = tail[..digits].parse()
        {
            return Some(n);
        }
    }
    None
}

/// The new case an email that answers no case opens: origin email, the sender as the
/// customer (their display name, else their address), the subject as the title, the body
/// as the description, each cut to its limit.
pub fn new_case(message: &InboundMessage, from: &EmailAddress) -> NewCase {
    let title = one_line(&message.subject, MAX_SHORT_TEXT);
    let name = message
        .from
        .as_ref()
        .and_then(|m| m.name.clone())
        .map(|n| one_line(&n, MAX_SHORT_TEXT))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| from.as_str().to_string());
    NewCase {
        title: if title.is_empty() {
            NO_SUBJECT.to_string()
        } else {
            title
        },
        description: cut(&message.body, MAX_TEXT),
        origin: Origin::Email,
        priority: Priority::Medium,
        customer: Customer {
            name,
            email: from.clone(),
            phone: None,
            account: None,
        },
        product: None,
        product_version: None,
    }
}

/// Whether a sender has opened as many cases by email within the minute before `now` as
/// the workflow file allows (`[inbound] sender_cases_per_minute`), so the next message that
/// would open one is a storm (a loop with another robot, a flood) and goes to the
/// quarantine. `latest` are the sender's latest cases, newest first (at least `per_minute`
/// of them when they have that many); only cases their own email opened count, not those
/// staff opened for them.
pub fn sender_over_rate(latest: &[Case], per_minute: u32, now: Timestamp) -> bool {
    let since = now - jiff::SignedDuration::from_secs(60);
    let recent = latest
        .iter()
        .filter(|c| {
            c.origin == Origin::Email
                && c.opened_by == c.customer.email.as_str()
                && c.created_at > since
        })
        .count();
    recent >= per_minute as usize
}

/// `text` cut to at most `max` characters.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// What a bounce says, on one line: `delivery failed for RECIPIENT (STATUS): DIAGNOSTIC`
/// (delayed for a notice that is not final), what the case and the outbox message keep.
pub fn bounce_summary(b: &Bounce) -> String {
    let mut parts = vec![if b.is_permanent() {
        "delivery failed".to_string()
    } else {
        "delivery delayed".to_string()
    }];
    if let Some(r) = &b.recipient {
        parts.push(format!("for {r}"));
    }
    if let Some(s) = &b.status {
        parts.push(format!("({s})"));
    }
    if let Some(d) = &b.diagnostic {
        parts.push(format!(": {d}"));
    }
    one_line(&parts.join(" ").replace(" :", ":"), MAX_SHORT_TEXT)
}

/// An email on its way onto a case: the message, its sender's address, its key and the rule
/// that threaded it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// The parsed message.
    pub message: &'a InboundMessage,
    /// Its sender, parsed.
    pub from: &'a EmailAddress,
    /// Its idempotency key ([`inbound_key`]).
    pub key: &'a str,
    /// The threading rule that matched.
    pub rule: ThreadRule,
    /// Why its files are held back, when they break the workflow file's `[attachments]`
    /// limits: the email is taken without them (its text is not held hostage by its files),
    /// the whole message waits in the quarantine, and its sender is told
    /// ([`files_refused`](super::notify::files_refused)).
    pub held_back: Option<&'a UploadRefusal>,
}

impl Arrival<'_> {
    /// The `email_received` event for this arrival.
    pub fn received(
        &self,
        visibility: Visibility,
        from_customer: bool,
        note: Option<String>,
    ) -> EventKind {
        EventKind::EmailReceived {
            message_id: self.message.message_id.clone(),
            key: self.key.to_string(),
            from: self.from.clone(),
            from_name: self.message.from.as_ref().and_then(|m| m.name.clone()),
            subject: one_line(&self.message.subject, MAX_SHORT_TEXT),
            body: cut(&self.message.body, MAX_TEXT),
            visibility,
            from_customer,
            rule: self.rule,
            note,
        }
    }

    /// Why an automatic message is only recorded: its signals, or its bounce.
    fn automatic_note(&self) -> String {
        if let Some(b) = &self.message.bounce {
            return bounce_summary(b);
        }
        let signs: Vec<String> = self
            .message
            .auto_signals
            .iter()
            .map(|s| s.evidence.clone())
            .collect();
        one_line(
            &format!(
                "automatic message ({}): recorded, not answered",
                signs.join(", ")
            ),
            MAX_SHORT_TEXT,
        )
    }
}

/// What an email does to the case it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyPlan {
    /// These events go on the case.
    Append(Vec<EventKind>),
    /// The case is closed and its policy says a new case, linked to it, takes the reply.
    NewLinkedCase,
}

/// Decides what an email does to the case it answers:
///
/// - from anyone but the case's customer: an internal post for an agent to review, nothing
///   else (never a reopen, never a reach);
/// - automatic mail (auto-replies, bounces), even from the customer: recorded internally,
///   nothing else;
/// - the customer's own reply: a customer-visible post that reaches them; a pending case
///   moves to `[inbound] reply_status`; a temporarily closed case reopens; a closed case
///   reopens or hands the reply to a new linked case per `[inbound] closed_reply`.
pub fn decide_reply(
    arrival: &Arrival<'_>,
    case: &Case,
    config: &WorkflowConfig,
    now: Timestamp,
) -> ReplyPlan {
    let automatic = arrival.message.is_automatic();
    if arrival.from != &case.customer.email {
        let note = if automatic {
            arrival.automatic_note()
        } else {
            format!(
                "from {}, who is not the case's customer: kept internal for an agent to review",
                arrival.from
            )
        };
        return ReplyPlan::Append(vec![arrival.received(
            Visibility::Internal,
            false,
            Some(note),
        )]);
    }
    if automatic {
        return ReplyPlan::Append(vec![arrival.received(
            Visibility::Internal,
            false,
            Some(arrival.automatic_note()),
        )]);
    }
    let received = arrival.received(Visibility::Customer, true, None);
    match case.status_category {
        StatusCategory::Open => ReplyPlan::Append(vec![received]),
        StatusCategory::Pending => {
            let to = config.inbound.reply_status.clone();
            let mut events = vec![received];
            if to != case.status {
                events.push(EventKind::StatusChanged {
                    from: case.status.clone(),
                    category: config.category_of(&to),
                    to,
                    note: Some("the customer replied by email".into()),
                });
            }
            ReplyPlan::Append(events)
        }
        StatusCategory::Closed => {
            let closed_at = case.closed_at.unwrap_or(case.updated_at);
            if !customer_reopens(case, config, now) {
                return ReplyPlan::NewLinkedCase;
            }
            let to = config.reopen_status.clone();
            ReplyPlan::Append(vec![
                EventKind::Reopened {
                    from: case.status.clone(),
                    category: config.category_of(&to),
                    to,
                    reason: CUSTOMER_REPLIED.into(),
                    notify_customer: false,
                    close_mode: case.close_mode.unwrap_or(CloseMode::Resolved),
                    closed_at,
                },
                EventKind::PostAdded {
                    kind: PostKind::ReopenReason,
                    body: CUSTOMER_REPLIED.into(),
                    visibility: Visibility::Internal,
                    from_customer: false,
                },
                received,
            ])
        }
    }
}

/// Whether the customer writing on their closed case reopens it, per `[inbound]
/// closed_reply`: always after a temporary close; else when the policy reopens, or reopens
/// within a number of days of the close. An emailed reply and the portal's "ask to reopen"
/// both follow it.
pub fn customer_reopens(case: &Case, config: &WorkflowConfig, now: Timestamp) -> bool {
    let closed_at = case.closed_at.unwrap_or(case.updated_at);
    case.close_mode == Some(CloseMode::Temporary)
        || match config.inbound.closed_reply {
            ClosedReply::Reopen => true,
            ClosedReply::NewCase => false,
            ClosedReply::ReopenWithin { days } => {
                let within = jiff::SignedDuration::from_hours(i64::from(days) * 24);
                now.duration_since(closed_at) <= within
            }
        }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
