//! Zendesk's incremental ticket export (`GET /api/v2/incremental/tickets…`, JSON): its
//! `tickets`, each with its `comments` (as `GET /api/v2/tickets/{id}/comments` gives them)
//! and the `users` side-load, turned into Casework histories.
//!
//! A ticket becomes the case of the same number, opened when the ticket was created by its
//! submitter, for its requester (who must have an email address): subject, description,
//! channel (`via.channel`) and priority (`normal` is `medium`) carried; its assignee as
//! owner; every comment after the description as a post at its own time by its author,
//! customer-visible when public, from the customer when the requester wrote it; and its
//! status last, at `updated_at`: `pending` and `hold` move it to the workflow's first
//! pending status, `solved` and `closed` close it as resolved. What else a ticket holds
//! (tags, custom fields, groups, …) is named in the report's unmapped fields.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Importer, append, one_line};
use crate::config::WorkflowConfig;
use crate::event::{Event, EventKind};
use crate::ids::{CaseNumber, EmailAddress};
use crate::model::{CloseMode, Customer, Origin, PostKind, Priority, StatusCategory, Visibility};
use crate::ports::StoreError;

/// One page of the export.
#[derive(Deserialize)]
struct Page {
    tickets: Vec<Value>,
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Ticket {
    id: u64,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    raw_subject: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    status: String,
    requester_id: u64,
    #[serde(default)]
    submitter_id: Option<u64>,
    #[serde(default)]
    assignee_id: Option<u64>,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default)]
    via: Option<Via>,
    #[serde(default)]
    comments: Vec<Comment>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct Via {
    #[serde(default)]
    channel: Option<String>,
}

#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    author_id: Option<u64>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    plain_body: Option<String>,
    #[serde(default = "public")]
    public: bool,
    created_at: Timestamp,
}

fn public() -> bool {
    true
}

/// Fields of a ticket that are Zendesk's own bookkeeping, not the customer's story: not
/// reported as unmapped.
const BOOKKEEPING: &[&str] = &["url", "generated_timestamp", "fields", "is_public"];

/// Reads one page of the export (one file) into the importer: each ticket a record, refused
/// with `file: ticket N: why` when it cannot be a case. A file that is not such a page is
/// refused whole.
pub async fn import_page(
    importer: &mut Importer<'_>,
    file: &str,
    text: &str,
) -> Result<(), StoreError> {
    let page: Page = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            importer.read(1);
            importer.refuse(file, format!("not a Zendesk ticket export: {e}"));
            return Ok(());
        }
    };
    let users: HashMap<u64, User> = page.users.into_iter().map(|u| (u.id, u)).collect();
    for value in page.tickets {
        importer.read(1);
        let id = value.get("id").and_then(Value::as_u64);
        let at = match id {
            Some(id) => format!("{file}: ticket {id}"),
            None => format!("{file}: a ticket"),
        };
        let ticket: Ticket = match serde_json::from_value(value) {
            Ok(t) => t,
            Err(e) => {
                importer.refuse(at, e);
                continue;
            }
        };
        for (k, v) in &ticket.rest {
            let empty = v.is_null()
                || v.as_array().is_some_and(Vec::is_empty)
                || v.as_object().is_some_and(Map::is_empty);
            if !empty && !BOOKKEEPING.contains(&k.as_str()) {
                importer.unmapped(&format!("ticket.{k}"));
            }
        }
        importer
            .add_history(at, history(&ticket, &users, importer.workflow()))
            .await?;
    }
    Ok(())
}

fn name_of(users: &HashMap<u64, User>, id: Option<u64>) -> String {
    match id {
        Some(id) => users
            .get(&id)
            .and_then(|u| u.name.as_deref())
            .map(one_line)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("zendesk user {id}")),
        None => "zendesk".into(),
    }
}

/// The history a ticket becomes, or why it cannot.
fn history(
    t: &Ticket,
    users: &HashMap<u64, User>,
    workflow: &WorkflowConfig,
) -> Result<Vec<Event>, String> {
    let case = CaseNumber::new(t.id).ok_or("a ticket id must be 1 or more")?;
    let requester = users.get(&t.requester_id).ok_or_else(|| {
        format!(
            "its requester {} is not in the export's users",
            t.requester_id
        )
    })?;
    let email: EmailAddress = requester
        .email
        .as_deref()
        .ok_or_else(|| {
            format!(
                "its requester {} has no email address (Casework needs one for every customer)",
                t.requester_id
            )
        })?
        .parse()
        .map_err(|e: crate::ids::ParseError| {
            format!("its requester's email address: {}", e.reason)
        })?;
    let customer = Customer::new(name_of(users, Some(t.requester_id)), email);
    let origin = match t.via.as_ref().and_then(|v| v.channel.as_deref()) {
        Some("email") => Origin::Email,
        Some("web") | Some("api") => Origin::Web,
        Some("voice") | Some("phone") => Origin::Phone,
        Some("chat") | Some("native_messaging") | Some("messaging") => Origin::Chat,
        _ => Origin::Other,
    };
    let priority = match t.priority.as_deref() {
        None | Some("normal") => Priority::Medium,
        Some("low") => Priority::Low,
        Some("high") => Priority::High,
        Some("urgent") => Priority::Urgent,
        Some(other) => return Err(format!("unknown priority {other:?}")),
    };
    let title = one_line(
        t.subject
            .as_deref()
            .or(t.raw_subject.as_deref())
            .unwrap_or(""),
    );
    let title = if title.is_empty() {
        "(no subject)".to_string()
    } else {
        title
    };
    let description = t.description.clone().unwrap_or_default();
    let initial = workflow.initial_status.clone();
    let mut events = Vec::new();
    append(
        &mut events,
        case,
        t.created_at,
        name_of(users, t.submitter_id.or(Some(t.requester_id))),
        EventKind::Opened {
            title,
            description: description.clone(),
            origin,
            priority,
            customer,
            product: None,
            product_version: None,
            status: initial.clone(),
            category: workflow.category_of(&initial),
        },
    );
    if let Some(assignee) = t.assignee_id {
        append(
            &mut events,
            case,
            t.created_at,
            "zendesk".into(),
            EventKind::OwnerChanged {
                from: None,
                to: name_of(users, Some(assignee)),
            },
        );
    }
    for (i, c) in t.comments.iter().enumerate() {
        let body = c.plain_body.as_deref().or(c.body.as_deref()).unwrap_or("");
        if i == 0 && body.trim() == description.trim() {
            continue; // the description, already the case's
        }
        append(
            &mut events,
            case,
            c.created_at,
            name_of(users, c.author_id),
            EventKind::PostAdded {
                kind: PostKind::Note,
                body: body.to_string(),
                visibility: if c.public {
                    Visibility::Customer
                } else {
                    Visibility::Internal
                },
                from_customer: c.author_id == Some(t.requester_id),
            },
        );
    }
    let last = events.last().map(|e| e.at).unwrap_or(t.created_at);
    let at = t.updated_at.max(last);
    match t.status.as_str() {
        "new" | "open" => {}
        "pending" | "hold" => {
            let pending = workflow
                .statuses()
                .iter()
                .find(|s| s.category == StatusCategory::Pending)
                .ok_or("the workflow file has no pending status for a pending ticket")?;
            append(
                &mut events,
                case,
                at,
                "zendesk".into(),
                EventKind::StatusChanged {
                    from: initial.clone(),
                    to: pending.name.clone(),
                    category: StatusCategory::Pending,
                    note: Some(format!("zendesk status: {}", t.status)),
                },
            );
        }
        "solved" | "closed" => {
            let from = match events.last().map(|e| &e.kind) {
                Some(EventKind::StatusChanged { to, .. }) => to.clone(),
                _ => initial.clone(),
            };
            append(
                &mut events,
                case,
                at,
                "zendesk".into(),
                EventKind::Closed {
                    mode: CloseMode::Resolved,
                    from,
                    to: workflow.closed_status.clone(),
                    resolution: None,
                },
            );
        }
        other => return Err(format!("unknown status {other:?}")),
    }
    Ok(events)
}
