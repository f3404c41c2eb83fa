//! How a case's history reads on a page: each timeline entry as a headline, who and when,
//! its text, and — for staff — whether the customer sees it. What a customer may see is
//! decided by core (`Event::for_customer`, applied by the service); this only labels it.
//! [`rendered`] gives a case's timeline as HTML — its newest [`NEWEST_ENTRIES`] entries with
//! a link to the rest, or all of them — kept in the [`TimelineCache`].

use std::sync::Arc;

use askama::Template;
use casework_core::ServiceError;
use casework_core::attachment::size_label;
use casework_core::event::{Event, EventKind};
use casework_core::ids::CaseNumber;
use casework_core::model::{
    CallDirection, CloseMode, ContactOutcome, OutboxStatus, PostKind, Role, TimelineEntry,
};
use casework_core::ports::AttachmentInfo;
use casework_core::service::CaseView;
use jiff::Timestamp;
use jiff::tz::Offset;

use crate::timeline_cache::{Audience, Stamp, TimelineCache};
use crate::{Visitor, WebState};

/// How many of a case's newest entries a case page shows at first, the earlier ones one
/// link away (`?timeline=all`). Fifty is well above what a case gathers in a whole ordinary
/// life (the desk's walk of the seed, from opening to close and reopen, makes 17 entries),
/// so most cases still show whole; a long one shows what happened last, what an agent
/// picking it up reads first.
pub const NEWEST_ENTRIES: usize = 50;

/// How much of a timeline a page shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Span {
    /// The newest [`NEWEST_ENTRIES`], with a link to the page with every entry.
    #[default]
    Newest,
    /// Every entry (`?timeline=all`).
    All,
}

impl Span {
    /// The span a page's `timeline` query parameter asks for: `all` for every entry.
    pub fn asked(value: &str) -> Self {
        if value == "all" {
            Span::All
        } else {
            Span::Newest
        }
    }
}

/// A timeline as HTML: the entries, labelled for staff or not, and how many earlier ones
/// are left out, linked to `page?timeline=all`.
#[derive(Template)]
#[template(path = "timeline.html")]
struct Fragment {
    entries: Vec<Entry>,
    staff: bool,
    earlier: usize,
    page: String,
}

/// Case `case`'s timeline as `v` may see it, as HTML: the desk's (`desk`: newest first,
/// each entry labelled with who sees it, files under `/cases/{n}/files`) or the portal's
/// (oldest first, files under `/portal/cases/{n}/files`); with [`Span::Newest`], only the
/// newest [`NEWEST_ENTRIES`] and a link saying how many earlier ones the visitor may see
/// (counted in what the service gave them: a customer's count has no internal entry in
/// it). Served from the
/// [`TimelineCache`] when the case version, the delivery states and the visitor's files
/// are those it was rendered from; rendered from the history otherwise. `view` is the case,
/// its delivery states and files as the service just gave them to `v`
/// ([`CaseService::case_view`](casework_core::CaseService::case_view)).
pub async fn rendered(
    state: &WebState,
    v: &Visitor,
    view: &CaseView,
    desk: bool,
    span: Span,
) -> Result<Arc<str>, ServiceError> {
    let svc = &state.service;
    let actor = &v.actor;
    let n: CaseNumber = view.case.number;
    let stamp = Stamp {
        version: view.case.version,
        deliveries: view.deliveries.clone(),
        files: view.files.clone(),
    };
    let audience = Audience {
        case: n.get(),
        desk,
        span,
        role: actor.role,
        customer: (actor.role == Role::Customer)
            .then(|| actor.email.as_ref().map(|e| e.to_string()))
            .flatten(),
    };
    let cache: &TimelineCache = &state.timelines;
    if let Some(html) = cache.get(&audience, &stamp) {
        return Ok(html);
    }
    let timeline = svc.timeline(actor, n).await?;
    // what the history was rendered with must be what the stamp says: an email whose
    // state moved in between is shown as it is now, and kept under nothing
    let delivered_as_stamped = timeline.iter().all(|t| match (&t.event.kind, &t.delivery) {
        (EventKind::EmailQueued { message, .. }, d) => {
            stamp
                .deliveries
                .iter()
                .find(|(id, _)| id == message)
                .map(|(_, s)| s)
                == d.as_ref()
        }
        _ => true,
    });
    let earlier = match span {
        Span::Newest => timeline.len().saturating_sub(NEWEST_ENTRIES),
        Span::All => 0,
    };
    let mut entries: Vec<Entry> = timeline[earlier..].iter().map(entry).collect();
    let page = if desk {
        format!("/cases/{}", n.get())
    } else {
        format!("/portal/cases/{}", n.get())
    };
    with_files(&mut entries, &stamp.files, &format!("{page}/files"));
    if desk {
        entries.reverse();
    }
    let html: Arc<str> = Fragment {
        entries,
        staff: desk,
        earlier,
        page,
    }
    .render()
    .map_err(|e| ServiceError::Internal(format!("the timeline could not be rendered: {e}")))?
    .into();
    // the history may have been read after a write that came in since the stamp: keep the
    // fragment only if the case is still at the stamp's version
    if delivered_as_stamped && svc.case(actor, n).await?.version == stamp.version {
        cache.keep(audience, stamp, html.clone());
    }
    Ok(html)
}

/// Who sees an entry, as staff are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The customer sees all of it.
    Customer,
    /// The customer sees it without its internal note or reason.
    Partly,
    /// Staff only.
    Internal,
}

/// One entry, ready to show.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Anchor id (`e12`).
    pub id: String,
    /// Headline ("Call logged (outbound, 25 min, screenshare)").
    pub headline: String,
    /// Who.
    pub actor: String,
    /// When, for people.
    pub at: String,
    /// When, machine-readable.
    pub at_iso: String,
    /// The text, shown as typed (white space kept).
    pub body: Option<String>,
    /// Label/value lines.
    pub details: Vec<(String, String)>,
    /// Who sees it.
    pub seen: Seen,
    /// Whether the customer wrote it.
    pub from_customer: bool,
    /// Whether the body is an email (shown folded).
    pub email: bool,
    /// The files that came with it (a post's or an email's), as download links.
    pub files: Vec<FileLink>,
}

/// A file of an entry, as a link to its download.
#[derive(Debug, Clone)]
pub struct FileLink {
    /// The file's name, shown as typed (escaped by the template).
    pub name: String,
    /// Its download address.
    pub href: String,
    /// Its size, for people (`12 KB`).
    pub size: String,
}

/// Puts each file with its entry, linked under `base` (`/cases/7/files`): the files are
/// those the service gave the visitor, so a customer's never include an internal one.
pub fn with_files(entries: &mut [Entry], files: &[AttachmentInfo], base: &str) {
    for f in files {
        let id = format!("e{}", f.entry);
        if let Some(e) = entries.iter_mut().find(|e| e.id == id) {
            let encoded: String = form_urlencoded::byte_serialize(f.id.as_bytes()).collect();
            e.files.push(FileLink {
                name: f.file_name.clone(),
                href: format!("{base}/{encoded}"),
                size: size_label(f.size),
            });
        }
    }
}

impl Entry {
    /// The badge's class.
    pub fn badge_class(&self) -> &'static str {
        match self.seen {
            Seen::Customer => "badge visible",
            Seen::Partly => "badge partly",
            Seen::Internal => "badge internal",
        }
    }

    /// The badge's text: the words carry the meaning, the colour only repeats it.
    pub fn badge(&self) -> &'static str {
        match self.seen {
            Seen::Customer => "Customer-visible",
            Seen::Partly => "Customer sees this without the note",
            Seen::Internal => "Internal",
        }
    }

    /// The entry's class (internal entries are drawn apart: dashed border, tinted).
    pub fn class(&self) -> &'static str {
        match (self.seen, self.from_customer) {
            (_, true) => "entry from-customer",
            (Seen::Internal, _) => "entry internal",
            _ => "entry visible",
        }
    }
}

/// A time as people read it on the desk: `2026-01-05 09:00 UTC`.
///
/// Formatted from the civil fields rather than with `strftime`, which parses its pattern
/// on every call: a 200-entry timeline formats 400 times, and `strftime` was a tenth of
/// the case page's time.
pub fn when(t: Timestamp) -> String {
    let d = Offset::UTC.to_datetime(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute()
    )
}

/// A time for a `datetime` attribute: `2026-01-05T09:00:00Z`.
pub fn iso(t: Timestamp) -> String {
    let d = Offset::UTC.to_datetime(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// How long ago, short: `45 min`, `5 h`, `3 d`.
pub fn age(since: Timestamp, now: Timestamp) -> String {
    let secs = now.duration_since(since).as_secs().max(0);
    match secs {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

fn post_kind(kind: PostKind) -> &'static str {
    match kind {
        PostKind::Note => "Note",
        PostKind::CallNotes => "Call notes",
        PostKind::Summary => "Case summary",
        PostKind::ReopenReason => "Reopen reason",
    }
}

/// How a close mode reads.
pub fn close_mode(mode: CloseMode) -> &'static str {
    match mode {
        CloseMode::Resolved => "resolved",
        CloseMode::NonResponse => "for non-response",
        CloseMode::Temporary => "temporarily",
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".into())
}

/// The entry for one timeline item; `staff` says whether visibility is labelled.
pub fn entry(item: &TimelineEntry) -> Entry {
    let e = &item.event;
    let seen = seen(e);
    let mut out = Entry {
        id: format!("e{}", e.seq),
        headline: String::new(),
        actor: e.actor.clone(),
        at: when(e.at),
        at_iso: iso(e.at),
        body: None,
        details: Vec::new(),
        seen,
        from_customer: false,
        email: false,
        files: Vec::new(),
    };
    let d = |k: &str, v: String| (k.to_string(), v);
    match &e.kind {
        EventKind::Opened {
            title,
            description,
            origin,
            ..
        } => {
            out.headline = format!("Case opened ({origin}): {title}");
            out.body = (!description.is_empty()).then(|| description.clone());
        }
        EventKind::OwnerChanged { from, to } => {
            out.headline = match from {
                Some(f) => format!("Owner changed from {f} to {to}"),
                None => format!("{to} took ownership"),
            };
        }
        EventKind::StatusChanged { from, to, note, .. } => {
            out.headline = format!("Status changed from {from} to {to}");
            out.body = note.clone();
        }
        EventKind::StatusMapped { from, to, .. } => {
            out.headline = format!("Status {from} renamed to {to}");
        }
        EventKind::Escalated {
            from, to, reason, ..
        } => {
            out.headline = format!("Escalated ({from} to {to})");
            out.body = Some(reason.clone());
        }
        EventKind::FieldChanged { field, from, to } => {
            out.headline = format!("{} changed", field_label(field.as_str()));
            out.details = vec![d("From", opt(from)), d("To", opt(to))];
        }
        EventKind::PriorityChanged { from, to } => {
            out.headline = format!("Priority changed from {from} to {to}");
        }
        EventKind::TitleConfirmed => out.headline = "Title confirmed as still right".into(),
        EventKind::CallLogged {
            direction,
            duration_minutes,
            screenshare,
            channel,
            notes,
            ..
        } => {
            let dir = match direction {
                CallDirection::Inbound => "inbound",
                CallDirection::Outbound => "outbound",
            };
            let share = if *screenshare { ", screenshare" } else { "" };
            out.headline = format!("Call logged ({dir}, {duration_minutes} min{share})");
            if let Some(c) = channel {
                out.details.push(d("Line", c.clone()));
            }
            out.body = Some(notes.clone());
        }
        EventKind::PostAdded {
            kind,
            body,
            from_customer,
            ..
        } => {
            out.from_customer = *from_customer;
            out.headline = if *from_customer {
                "Customer wrote".into()
            } else {
                post_kind(*kind).to_string()
            };
            out.body = Some(body.clone());
        }
        EventKind::ContactAttempted {
            channel,
            outcome,
            note,
            counted,
        } => {
            let result = match outcome {
                ContactOutcome::NoResponse => "no response",
                ContactOutcome::Reached => "reached",
            };
            out.headline = format!("Contact attempt by {channel}: {result}");
            if *outcome == ContactOutcome::NoResponse {
                let c = if *counted {
                    "yes"
                } else {
                    "no (too soon after the last)"
                };
                out.details.push(d("Counts toward non-response", c.into()));
            }
            out.body = note.clone();
        }
        EventKind::EmailQueued {
            to, subject, body, ..
        } => {
            out.headline = format!("Email to {to}: {subject}");
            out.body = Some(body.clone());
            out.email = true;
            if let Some(status) = &item.delivery {
                let s = match status.status {
                    OutboxStatus::Queued => "queued".to_string(),
                    OutboxStatus::Sent => match status.sent_at {
                        Some(t) => format!("sent {}", when(t)),
                        None => "sent".into(),
                    },
                    OutboxStatus::Failed => "failed".into(),
                    OutboxStatus::Cancelled => "cancelled".into(),
                };
                out.details.push(d("Delivery", s));
                if let Some(err) = &status.last_error {
                    out.details.push(d("Last error", err.clone()));
                }
            }
        }
        EventKind::EmailReceived {
            from,
            subject,
            body,
            from_customer,
            rule,
            note,
            ..
        } => {
            out.from_customer = *from_customer;
            out.email = true;
            out.headline = format!("Email from {from}: {subject}");
            out.body = Some(body.clone());
            out.details
                .push(d("Threaded by", rule.as_str().replace('_', " ")));
            if let Some(n) = note {
                out.details.push(d("Note", n.clone()));
            }
        }
        EventKind::Linked { target } => {
            out.headline = format!("Linked {} {}", target.kind, target.reference);
        }
        EventKind::SwarmRequested { group, question } => {
            out.headline = format!("Help requested from {group}");
            out.body = Some(question.clone());
        }
        EventKind::Closed {
            mode, resolution, ..
        } => {
            out.headline = format!("Case closed {}", close_mode(*mode));
            if let Some(r) = resolution {
                out.details = vec![
                    d("Primary resolution", r.primary.clone()),
                    d("Secondary resolution", r.secondary.clone()),
                ];
            }
        }
        EventKind::Reopened {
            reason,
            notify_customer,
            ..
        } => {
            out.headline = "Case reopened".into();
            out.body = (!reason.is_empty()).then(|| reason.clone());
            if seen != Seen::Customer || !reason.is_empty() {
                let n = if *notify_customer { "yes" } else { "no" };
                out.details.push(d("Customer notified", n.into()));
            }
        }
    }
    out
}

/// Whether the customer sees an event, by core's own filter.
fn seen(e: &Event) -> Seen {
    match e.for_customer() {
        None => Seen::Internal,
        Some(c) if c == *e => Seen::Customer,
        Some(_) => Seen::Partly,
    }
}

/// A field's label.
pub fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "Title",
        "description" => "Description",
        "product" => "Product",
        "product_version" => "Product version",
        "product_area" => "Product area",
        "functionality" => "Functionality",
        "issue" => "Issue",
        _ => "Field",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_strftime_would_write_them() {
        // from 1970 to 2100 in uneven steps, so every field and leap day is crossed
        let mut secs: i64 = 0;
        while secs < 4_102_444_800 {
            let t = Timestamp::from_second(secs).unwrap();
            assert_eq!(when(t), t.strftime("%Y-%m-%d %H:%M UTC").to_string());
            assert_eq!(iso(t), t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
            secs += 86_399 * 3 + 3_607;
        }
        let t: Timestamp = "2024-02-29T23:59:59Z".parse().unwrap();
        assert_eq!(when(t), "2024-02-29 23:59 UTC");
        assert_eq!(iso(t), "2024-02-29T23:59:59Z");
    }
}
