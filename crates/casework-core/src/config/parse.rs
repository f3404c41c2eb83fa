//! Reading the workflow file, one function per section: `[organization]`, the `[[status]]`
//! list and its transitions, `[workflow]` (which status each part of the workflow uses),
//! `[permissions]`, `[delivery]`, `[inbound]`, `[notifications]`. Each refuses a bad value with its line; the checklist and
//! non-response and webhooks sections are plain values serde reads whole.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::{
    ChecklistConfig, ClosedReply, ConfigError, InboundPolicy, NonResponsePolicy,
    NotificationPolicy, Organization, Permission, StatusDef, WorkflowConfig,
};
use crate::delivery::DeliveryPolicy;
use crate::ids::{EmailAddress, StatusName};
use crate::model::{NotificationKind, Role, StatusCategory};

/// The `[delivery]` section: whole seconds, so the file stays plain TOML.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDelivery {
    max_attempts: u32,
    first_retry_seconds: u32,
    max_retry_seconds: u32,
    lease_seconds: u32,
}

impl Default for RawDelivery {
    fn default() -> Self {
        let d = DeliveryPolicy::default();
        let secs = |d: jiff::SignedDuration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Self {
            max_attempts: d.max_attempts,
            first_retry_seconds: secs(d.first_retry),
            max_retry_seconds: secs(d.max_retry),
            lease_seconds: secs(d.lease),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    organization: RawOrganization,
    workflow: RawWorkflow,
    status: Vec<RawStatus>,
    permissions: RawPermissions,
    #[serde(default)]
    closing_checklist: ChecklistConfig,
    #[serde(default)]
    non_response: NonResponsePolicy,
    #[serde(default)]
    delivery: Option<Spanned<RawDelivery>>,
    #[serde(default)]
    inbound: Option<RawInbound>,
    #[serde(default)]
    webhooks: super::WebhookPolicy,
    #[serde(default)]
    notifications: Option<RawNotifications>,
    #[serde(default)]
    attachments: Option<RawAttachments>,
}

/// The `[attachments]` section, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttachments {
    #[serde(default)]
    max_message_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    max_file_bytes: Option<Spanned<u64>>,
}

/// The `[notifications]` section, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    #[serde(default)]
    send: Vec<Spanned<String>>,
    #[serde(default)]
    new_case_to: Option<Spanned<String>>,
    #[serde(default)]
    acknowledge_email: bool,
    #[serde(default)]
    groups: BTreeMap<String, Spanned<String>>,
}

/// The `[inbound]` section, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbound {
    #[serde(default)]
    reply_status: Option<Spanned<String>>,
    #[serde(default)]
    closed_reply: Option<Spanned<String>>,
    #[serde(default)]
    reopen_within_days: Option<Spanned<u32>>,
    #[serde(default)]
    sender_cases_per_minute: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    name: Spanned<String>,
    support_email: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    initial_status: Spanned<String>,
    reopen_status: Spanned<String>,
    escalated_status: Spanned<String>,
    closed_status: Spanned<String>,
    temporary_close_status: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    name: Spanned<String>,
    category: Spanned<String>,
    #[serde(default)]
    transitions: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPermissions {
    #[serde(default)]
    admin: Vec<Spanned<String>>,
    #[serde(default)]
    lead: Vec<Spanned<String>>,
    #[serde(default)]
    agent: Vec<Spanned<String>>,
    #[serde(default)]
    customer: Vec<Spanned<String>>,
    #[serde(default)]
    service: Vec<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The file's text, to name the line a value is on.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    /// An error about the value at `span`.
    fn err(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        ConfigError {
            line: line_of(self.0, span.start),
            message,
        }
    }
}

/// The workflow file, section by section.
pub(super) fn parse(text: &str) -> Result<WorkflowConfig, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
        message: e.message().trim().to_string(),
    })?;
    let at = Lines(text);
    let organization = organization(&raw.organization, &at)?;
    let statuses = statuses(&raw.status, &at)?;
    let named = named_statuses(&raw.workflow, &statuses, &at)?;
    let permissions = permissions(&raw.permissions, &at)?;
    let delivery = delivery(raw.delivery.as_ref(), &at)?;
    let inbound = inbound(raw.inbound.as_ref(), &statuses, &named, &at)?;
    let notifications = notifications(raw.notifications.as_ref(), &at)?;
    Ok(WorkflowConfig {
        organization,
        statuses,
        initial_status: named.initial,
        reopen_status: named.reopen,
        escalated_status: named.escalated,
        closed_status: named.closed,
        temporary_close_status: named.temporary_close,
        permissions,
        checklist: raw.closing_checklist,
        non_response: raw.non_response,
        delivery,
        inbound,
        webhooks: raw.webhooks,
        attachments: attachments(raw.attachments.as_ref(), &at)?,
        notifications,
    })
}

/// `[notifications]`: the kinds sent (each a [`NotificationKind`], once), the team's
/// address for new cases, each group's address (a group named once), and the customer's
/// acknowledgement. Absent: nothing is sent.
fn notifications(
    raw: Option<&RawNotifications>,
    at: &Lines<'_>,
) -> Result<NotificationPolicy, ConfigError> {
    let Some(raw) = raw else {
        return Ok(NotificationPolicy::default());
    };
    let address = |s: &Spanned<String>, what: &str| -> Result<EmailAddress, ConfigError> {
        s.get_ref().parse().map_err(|e: crate::ids::ParseError| {
            at.err(s.span(), format!("notifications: {what}: {e}"))
        })
    };
    let mut send = BTreeSet::new();
    for kind in &raw.send {
        let parsed: NotificationKind = kind.get_ref().parse().map_err(|_| {
            at.err(
                kind.span(),
                format!(
                    "notifications: send: {:?} is not one of {}",
                    kind.get_ref(),
                    NotificationKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if !send.insert(parsed) {
            return Err(at.err(
                kind.span(),
                format!("notifications: send: {parsed} is named twice"),
            ));
        }
    }
    let new_case_to = match &raw.new_case_to {
        Some(s) => Some(address(s, "new_case_to")?),
        None => None,
    };
    let mut groups = BTreeMap::new();
    for (name, addr) in &raw.groups {
        let trimmed = name.trim();
        if trimmed.is_empty()
            || groups
                .keys()
                .any(|g: &String| g.eq_ignore_ascii_case(trimmed))
        {
            return Err(at.err(
                addr.span(),
                format!("notifications: groups: {name:?} is empty or named twice"),
            ));
        }
        groups.insert(
            trimmed.to_string(),
            address(addr, &format!("groups.{trimmed}"))?,
        );
    }
    Ok(NotificationPolicy {
        send,
        new_case_to,
        groups,
        acknowledge_email: raw.acknowledge_email,
    })
}

/// `[inbound]`: the status a pending case's reply moves it to (open or pending; the reopen
/// status when absent) and what a reply to a closed case does (`reopen`, `new_case`, or
/// `reopen_within` with `reopen_within_days` of at least 1; `reopen` when absent), and how
/// `[attachments]`: each limit from 1 byte to what the largest inbound message can carry;
/// one file's limit no more than the message's.
fn attachments(
    raw: Option<&RawAttachments>,
    at: &Lines<'_>,
) -> Result<super::AttachmentPolicy, ConfigError> {
    let default = super::AttachmentPolicy::default();
    let Some(raw) = raw else {
        return Ok(default);
    };
    let max = crate::limits::MAX_ATTACHMENT_BYTES as u64;
    let read = |v: Option<&Spanned<u64>>, name: &str| match v {
        None => Ok(None),
        Some(n) if (1..=max).contains(n.get_ref()) => Ok(Some(*n.get_ref())),
        Some(n) => Err(at.err(
            n.span(),
            format!("attachments: {name} must be from 1 to {max} (bytes)"),
        )),
    };
    let message = read(raw.max_message_bytes.as_ref(), "max_message_bytes")?
        .unwrap_or(default.max_message_bytes);
    let file = read(raw.max_file_bytes.as_ref(), "max_file_bytes")?.unwrap_or(message);
    if file > message
        && let Some(n) = &raw.max_file_bytes
    {
        return Err(at.err(
            n.span(),
            format!("attachments: max_file_bytes ({file}) is over max_message_bytes ({message})"),
        ));
    }
    Ok(super::AttachmentPolicy {
        max_message_bytes: message,
        max_file_bytes: file,
    })
}

/// many cases one sender may open by email in a minute (at least 1; 5 when absent).
fn inbound(
    raw: Option<&RawInbound>,
    statuses: &[StatusDef],
    named: &Named,
    at: &Lines<'_>,
) -> Result<InboundPolicy, ConfigError> {
    let Some(raw) = raw else {
        return Ok(InboundPolicy {
            reply_status: named.reopen.clone(),
            closed_reply: ClosedReply::Reopen,
            sender_cases_per_minute: InboundPolicy::DEFAULT_SENDER_CASES_PER_MINUTE,
        });
    };
    let sender_cases_per_minute = match &raw.sender_cases_per_minute {
        None => InboundPolicy::DEFAULT_SENDER_CASES_PER_MINUTE,
        Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
        Some(n) => {
            return Err(at.err(
                n.span(),
                "inbound: sender_cases_per_minute must be at least 1".into(),
            ));
        }
    };
    let reply_status = match &raw.reply_status {
        Some(s) => {
            let status = resolve(statuses, s, at)?;
            let closed = statuses
                .iter()
                .any(|d| d.name == status && d.category == StatusCategory::Closed);
            if closed {
                return Err(at.err(
                    s.span(),
                    format!(
                        "status {status:?} is in the closed category; it must be open or pending"
                    ),
                ));
            }
            status
        }
        None => named.reopen.clone(),
    };
    let days = raw.reopen_within_days.as_ref();
    let closed_reply = match raw
        .closed_reply
        .as_ref()
        .map(|s| (s.get_ref().trim(), s.span()))
    {
        None | Some(("reopen", _)) => ClosedReply::Reopen,
        Some(("new_case", _)) => ClosedReply::NewCase,
        Some(("reopen_within", span)) => match days {
            Some(d) if *d.get_ref() >= 1 => ClosedReply::ReopenWithin { days: *d.get_ref() },
            Some(d) => {
                return Err(at.err(
                    d.span(),
                    "inbound: reopen_within_days must be at least 1".into(),
                ));
            }
            None => {
                return Err(at.err(
                    span,
                    "inbound: closed_reply = \"reopen_within\" needs reopen_within_days".into(),
                ));
            }
        },
        Some((other, span)) => {
            return Err(at.err(
                span,
                format!(
                    "inbound: closed_reply {other:?} is not one of reopen, new_case, reopen_within"
                ),
            ));
        }
    };
    Ok(InboundPolicy {
        reply_status,
        closed_reply,
        sender_cases_per_minute,
    })
}

/// `[organization]`: a name (one line: it is the sender's name on every email) and the
/// support address.
fn organization(o: &RawOrganization, at: &Lines<'_>) -> Result<Organization, ConfigError> {
    let name = o.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(at.err(o.name.span(), "organization name is empty".into()));
    }
    if let Some(problem) = crate::input::line_problem(o.name.get_ref()) {
        return Err(at.err(o.name.span(), format!("organization name {problem}")));
    }
    let support_email: EmailAddress = o
        .support_email
        .get_ref()
        .parse()
        .map_err(|e: crate::ids::ParseError| at.err(o.support_email.span(), e.to_string()))?;
    Ok(Organization {
        name,
        support_email,
    })
}

/// A status the file lists, by a name written anywhere in it (case does not matter).
fn resolve(
    statuses: &[StatusDef],
    spanned: &Spanned<String>,
    at: &Lines<'_>,
) -> Result<StatusName, ConfigError> {
    statuses
        .iter()
        .find(|d| d.name.same(spanned.get_ref()))
        .map(|d| d.name.clone())
        .ok_or_else(|| {
            at.err(
                spanned.span(),
                format!("unknown status {:?}", spanned.get_ref()),
            )
        })
}

/// `[[status]]`: each status once, with a known category, and transitions to statuses the
/// file lists.
fn statuses(raw: &[RawStatus], at: &Lines<'_>) -> Result<Vec<StatusDef>, ConfigError> {
    let mut statuses: Vec<StatusDef> = Vec::new();
    for s in raw {
        let name: StatusName = s
            .name
            .get_ref()
            .parse()
            .map_err(|e: crate::ids::ParseError| at.err(s.name.span(), e.to_string()))?;
        if statuses.iter().any(|d| d.name.same(name.as_str())) {
            return Err(at.err(s.name.span(), format!("status {name:?} is listed twice")));
        }
        let category: StatusCategory = s.category.get_ref().parse().map_err(|_| {
            at.err(
                s.category.span(),
                format!(
                    "unknown category {:?}: expected open, pending or closed",
                    s.category.get_ref()
                ),
            )
        })?;
        statuses.push(StatusDef {
            name,
            category,
            transitions: Vec::new(),
        });
    }
    if statuses.is_empty() {
        return Err(ConfigError {
            line: 1,
            message: "no statuses are defined".into(),
        });
    }
    let mut transitions = Vec::new();
    for s in raw {
        let mut ts = Vec::new();
        for t in &s.transitions {
            ts.push(resolve(&statuses, t, at)?);
        }
        transitions.push(ts);
    }
    for (def, ts) in statuses.iter_mut().zip(transitions) {
        def.transitions = ts;
    }
    Ok(statuses)
}

/// The statuses `[workflow]` names.
struct Named {
    initial: StatusName,
    reopen: StatusName,
    escalated: StatusName,
    closed: StatusName,
    temporary_close: StatusName,
}

/// `[workflow]`: which status each part of the workflow uses; a new, reopened or escalated
/// case is open or pending, a closed one closed.
fn named_statuses(
    w: &RawWorkflow,
    statuses: &[StatusDef],
    at: &Lines<'_>,
) -> Result<Named, ConfigError> {
    let category_of = |name: &StatusName| {
        statuses
            .iter()
            .find(|d| &d.name == name)
            .map(|d| d.category)
            .unwrap_or(StatusCategory::Open)
    };
    let named = Named {
        initial: resolve(statuses, &w.initial_status, at)?,
        reopen: resolve(statuses, &w.reopen_status, at)?,
        escalated: resolve(statuses, &w.escalated_status, at)?,
        closed: resolve(statuses, &w.closed_status, at)?,
        temporary_close: resolve(statuses, &w.temporary_close_status, at)?,
    };
    for (spanned, name) in [
        (&w.initial_status, &named.initial),
        (&w.reopen_status, &named.reopen),
        (&w.escalated_status, &named.escalated),
    ] {
        if category_of(name) == StatusCategory::Closed {
            return Err(at.err(
                spanned.span(),
                format!("status {name:?} is in the closed category; it must be open or pending"),
            ));
        }
    }
    for (spanned, name) in [
        (&w.closed_status, &named.closed),
        (&w.temporary_close_status, &named.temporary_close),
    ] {
        if category_of(name) != StatusCategory::Closed {
            return Err(at.err(
                spanned.span(),
                format!("status {name:?} must be in the closed category"),
            ));
        }
    }
    Ok(named)
}

/// `[permissions]`: known permissions per role, `"*"` for everything but `store`; a customer
/// keeps only what a customer may do, whatever the file says.
fn permissions(
    p: &RawPermissions,
    at: &Lines<'_>,
) -> Result<BTreeMap<Role, BTreeSet<Permission>>, ConfigError> {
    let mut permissions = BTreeMap::new();
    for (role, list) in [
        (Role::Admin, &p.admin),
        (Role::Lead, &p.lead),
        (Role::Agent, &p.agent),
        (Role::Customer, &p.customer),
        (Role::Service, &p.service),
    ] {
        let mut set = BTreeSet::new();
        for item in list {
            if item.get_ref() == "*" {
                set.extend(Permission::wildcard());
                continue;
            }
            let perm: Permission = item.get_ref().parse().map_err(|_| {
                at.err(
                    item.span(),
                    format!(
                        "unknown permission {:?}; known: *, {}",
                        item.get_ref(),
                        Permission::ALL
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            set.insert(perm);
        }
        permissions.insert(role, set);
    }
    if let Some(set) = permissions.get_mut(&Role::Customer) {
        set.retain(|p| {
            matches!(
                p,
                Permission::OpenCase
                    | Permission::ViewCase
                    | Permission::PostCustomer
                    | Permission::Suggest
            )
        });
    }
    Ok(permissions)
}

/// `[delivery]`, in whole seconds: every number at least 1, the longest wait no shorter than
/// the first. Absent, the defaults.
fn delivery(
    raw: Option<&Spanned<RawDelivery>>,
    at: &Lines<'_>,
) -> Result<DeliveryPolicy, ConfigError> {
    let (d, span) = match raw {
        Some(spanned) => (*spanned.get_ref(), spanned.span()),
        None => (RawDelivery::default(), 0..0),
    };
    if d.max_attempts == 0 || d.first_retry_seconds == 0 || d.lease_seconds == 0 {
        return Err(at.err(
            span,
            "delivery: max_attempts, first_retry_seconds and lease_seconds must be at least 1"
                .into(),
        ));
    }
    if d.max_retry_seconds < d.first_retry_seconds {
        return Err(at.err(
            span,
            "delivery: max_retry_seconds is shorter than first_retry_seconds".into(),
        ));
    }
    let seconds = |n: u32| jiff::SignedDuration::from_secs(i64::from(n));
    Ok(DeliveryPolicy {
        max_attempts: d.max_attempts,
        first_retry: seconds(d.first_retry_seconds),
        max_retry: seconds(d.max_retry_seconds),
        lease: seconds(d.lease_seconds),
        ..DeliveryPolicy::default()
    })
}
