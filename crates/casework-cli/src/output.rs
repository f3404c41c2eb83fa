//! Human output (aligned tables, one line per timeline entry) and JSON output (one document).
//!
//! Everything goes through [`write_out`]: a reader that went away (`casework case show 3 |
//! head -3`) ends the command quietly, as with any Unix tool. Human output never passes a
//! control character or a bidirectional override to the terminal: text customers typed is
//! data, not escape sequences. They are shown as Rust-style escapes (`\n`, `\r`, `\t`,
//! `\u{1b}`), everywhere: in one-line places (table cells, one-line descriptions, headers)
//! a line break too ([`visible`]); in blocks of text (descriptions, emails) line breaks stay
//! ([`visible_block`]). Free text in a table is previewed by its first line (`…`). `--json`
//! output is written exactly as it is.

use std::borrow::Cow;
use std::io::Write;

use casework_core::event::{Event, EventKind};
use casework_core::limits::MAX_PERSON_NAME;
use casework_core::model::{
    Case, ContactOutcome, DeliveryStatus, Field, OutboxMessage, OutboxStatus, TimelineEntry,
    Visibility,
};
use casework_core::ports::{ReportCase, ReportRow, SearchHit};
use casework_core::service::ClosingCheck;
use jiff::Timestamp;
use serde::Serialize;

use crate::app::Failure;

/// Writes text to standard output as it is. A closed pipe ends the command quietly with
/// success ([`Failure::quiet`]); any other write error is reported.
pub fn write_out(text: &str) -> Result<(), Failure> {
    write_bytes(text.as_bytes())
}

/// Writes bytes to standard output as they are (a downloaded file), as [`write_out`] does.
pub fn write_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::quiet()),
        Err(e) => Err(Failure::unavailable(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Writes human output: [`write_out`] of [`visible_block`].
pub fn human(text: &str) -> Result<(), Failure> {
    write_out(&visible_block(text))
}

/// Prints human output (like `print!`), returning from the function on a write failure.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::human(&format!($($arg)*))?
    };
}
pub(crate) use out;

/// Prints a line of human output (like `println!`), returning from the function on a
/// write failure.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::human(&format!("{}\n", format_args!($($arg)*)))?
    };
}
pub(crate) use outln;

/// Writes a line to standard error, escaped like human output; a closed standard error is
/// ignored (there is nowhere left to say anything).
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", visible_block(text));
}

fn must_escape(c: char) -> bool {
    c.is_control()
        || casework_core::input::is_line_break(c)
        || casework_core::input::is_bidi_control(c)
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// Text for one line of a terminal: every control character, line break and bidirectional
/// override shown as an escape (`\n`, `\u{1b}`, `\u{202e}`).
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(must_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if must_escape(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a block of lines: like [`visible`], but line feeds (and CRLF) and tabs stay.
pub fn visible_block(s: &str) -> Cow<'_, str> {
    let keep = |c: char| c == '\n' || c == '\t';
    if !s.chars().any(|c| must_escape(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue; // CRLF is a line break
        }
        if must_escape(c) && !keep(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A one-line field for a table cell: [`visible`], cut to `max` characters with `…`.
fn cell(s: &str, max: usize) -> String {
    let v = visible(s);
    if width(&v) <= max {
        v.into_owned()
    } else {
        let mut out: String = v.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A time as people read it, in UTC.
pub fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Free text (a note, a body) previewed in one line: its first line, cut to `max`
/// characters, with `…` when anything was left out; [`visible`] like any cell.
fn clip(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    let line = visible(line);
    if width(&line) <= max && !s.contains('\n') {
        line.into_owned()
    } else {
        let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// An aligned table with a header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    // every cell is one line of visible text, whatever it holds
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| visible(c).into_owned()).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(width(cell));
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(widths[i] - width(cell) + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Prints one JSON document.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::unavailable(format!("cannot encode output: {e}")))?;
    write_out(&format!("{text}\n"))
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

/// The case list.
pub fn case_rows(cases: &[Case]) -> String {
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            vec![
                c.number.display(),
                c.status.to_string(),
                c.priority.to_string(),
                opt(&c.owner).to_string(),
                c.customer.name.clone(),
                if c.reopen_count > 0 {
                    c.reopen_count.to_string()
                } else {
                    String::new()
                },
                cell(&c.title, 60),
            ]
        })
        .collect();
    table(
        &[
            "NUMBER", "STATUS", "PRIORITY", "OWNER", "CUSTOMER", "REOPENED", "TITLE",
        ],
        &rows,
    )
}

/// One case's fields.
pub fn case_card(c: &Case) -> String {
    let mut out = format!("Case {}  {}\n", c.number.display(), visible(&c.title));
    let mut field = |name: &str, value: String| {
        out.push_str(&format!("  {name:<17}{}\n", visible(&value)));
    };
    field("Status", format!("{} ({})", c.status, c.status_category));
    field("Priority", c.priority.to_string());
    field("Origin", c.origin.to_string());
    field("Owner", opt(&c.owner).to_string());
    let mut customer = format!("{} <{}>", c.customer.name, c.customer.email);
    if let Some(p) = &c.customer.phone {
        customer.push_str(&format!(", {p}"));
    }
    if let Some(a) = &c.customer.account {
        customer.push_str(&format!(", {a}"));
    }
    field("Customer", customer);
    field(
        "Product",
        match (&c.product, &c.product_version) {
            (Some(p), Some(v)) => format!("{p} {v}"),
            (Some(p), None) => p.clone(),
            _ => "—".into(),
        },
    );
    let cat = &c.category;
    field(
        "Category",
        format!(
            "{} / {} / {}",
            opt(&cat.product_area),
            opt(&cat.functionality),
            opt(&cat.issue)
        ),
    );
    if let Some(r) = &c.resolution {
        field("Resolution", format!("{} / {}", r.primary, r.secondary));
    }
    if c.reopen_count > 0 {
        field(
            "Reopened",
            format!(
                "{} time{}",
                c.reopen_count,
                if c.reopen_count == 1 { "" } else { "s" }
            ),
        );
    }
    field(
        "Opened",
        format!("{} by {}", when(c.created_at), c.opened_by),
    );
    field(
        "Updated",
        format!("{} (version {})", when(c.updated_at), c.version),
    );
    if !c.description.is_empty() {
        out.push('\n');
        for line in c.description.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

fn vis(v: Visibility) -> &'static str {
    match v {
        Visibility::Internal => "internal",
        Visibility::Customer => "customer-visible",
    }
}

/// What an event did, in one line of visible text.
pub fn describe(e: &Event) -> String {
    visible(&what(e)).into_owned()
}

fn what(e: &Event) -> String {
    match &e.kind {
        EventKind::Opened {
            origin, priority, ..
        } => format!("opened ({origin}, {priority} priority)"),
        EventKind::OwnerChanged { from, to } => match from {
            Some(f) => format!("owner {f} → {to}"),
            None => format!("owner → {to}"),
        },
        EventKind::StatusChanged { from, to, note, .. } => match note {
            Some(n) => format!("status {from} → {to}: {}", clip(n, 60)),
            None => format!("status {from} → {to}"),
        },
        EventKind::StatusMapped { from, to, .. } => {
            format!("status {from} → {to} (renamed in the workflow file)")
        }
        EventKind::Escalated {
            from, to, reason, ..
        } => format!("escalated {from} → {to}: {}", clip(reason, 60)),
        EventKind::FieldChanged { field, from, to } => {
            // the description is free text; every other field is one line
            let shown = |s: &str| match field {
                Field::Description => format!("\"{}\"", clip(s, 40)),
                _ => format!("\"{}\"", cell(s, 40)),
            };
            format!(
                "{} {} → {}",
                field.as_str().replace('_', " "),
                from.as_deref().map(shown).unwrap_or_else(|| "—".into()),
                to.as_deref().map(shown).unwrap_or_else(|| "—".into()),
            )
        }
        EventKind::PriorityChanged { from, to } => format!("priority {from} → {to}"),
        EventKind::TitleConfirmed => "title reviewed and confirmed".into(),
        EventKind::CallLogged {
            direction,
            duration_minutes,
            screenshare,
            channel,
            notes,
            ..
        } => format!(
            "call logged: {direction}, {duration_minutes} min{}{}: {}",
            if *screenshare { ", screenshare" } else { "" },
            channel
                .as_deref()
                .map(|c| format!(", via {c}"))
                .unwrap_or_default(),
            clip(notes, 60)
        ),
        EventKind::PostAdded {
            kind,
            body,
            visibility,
            ..
        } => {
            format!(
                "{} ({}): {}",
                kind.as_str().replace('_', " "),
                vis(*visibility),
                clip(body, 60)
            )
        }
        EventKind::ContactAttempted {
            channel,
            outcome,
            note,
            counted,
        } => format!(
            "contact attempt by {channel}: {}{}{}",
            match outcome {
                ContactOutcome::NoResponse => "no response",
                ContactOutcome::Reached => "reached",
            },
            if *counted {
                ""
            } else if *outcome == ContactOutcome::NoResponse {
                " (not counted: too soon)"
            } else {
                ""
            },
            note.as_deref()
                .map(|n| format!(" — {}", clip(n, 40)))
                .unwrap_or_default()
        ),
        EventKind::EmailQueued {
            template,
            to,
            subject,
            ..
        } => {
            format!(
                "email queued ({}) to {to}: {subject}",
                template.as_str().replace('_', " ")
            )
        }
        EventKind::EmailReceived {
            from,
            subject,
            rule,
            note,
            ..
        } => format!(
            "email from {from} ({}): {subject}{}",
            rule.as_str().replace('_', " "),
            note.as_deref()
                .map(|n| format!(" — {}", clip(n, 60)))
                .unwrap_or_default()
        ),
        EventKind::Linked { target } => format!("linked {} {}", target.kind, target.reference),
        EventKind::SwarmRequested { group, question } => {
            format!("asked {group}: {}", clip(question, 60))
        }
        EventKind::Closed {
            mode,
            to,
            resolution,
            ..
        } => match resolution {
            Some(r) => format!(
                "closed ({}) → {to}: {} / {}",
                mode.as_str().replace('_', "-"),
                r.primary,
                r.secondary
            ),
            None => format!("closed ({}) → {to}", mode.as_str().replace('_', "-")),
        },
        EventKind::Reopened { to, reason, .. } => {
            if reason.is_empty() {
                format!("reopened → {to}")
            } else {
                format!("reopened → {to}: {}", clip(reason, 60))
            }
        }
    }
}

/// One event of the change feed: its position, case, seq, time, actor and what it did.
pub fn feed_line(entry: &casework_core::ports::FeedEntry) -> String {
    let e = &entry.event;
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\n",
        entry.position,
        e.case,
        e.seq,
        e.at.strftime("%Y-%m-%d %H:%M:%S"),
        visible(&e.actor),
        describe(e)
    )
}

/// A history, one line per event.
pub fn history(events: &[Event]) -> String {
    events_table(events.iter().map(|e| (e, None)))
}

/// A timeline, one line per entry; emails say where their delivery stands.
pub fn timeline(entries: &[TimelineEntry]) -> String {
    events_table(entries.iter().map(|t| (&t.event, t.delivery.as_ref())))
}

fn events_table<'a>(
    entries: impl Iterator<Item = (&'a Event, Option<&'a DeliveryStatus>)>,
) -> String {
    let rows: Vec<Vec<String>> = entries
        .map(|(e, d)| {
            let mut what = describe(e);
            if let Some(d) = d {
                what.push_str(&format!(" [{}]", delivery(d)));
            }
            vec![e.seq.to_string(), when(e.at), e.actor.clone(), what]
        })
        .collect();
    table(&["#", "WHEN", "WHO", "WHAT"], &rows)
}

/// Where an email's delivery stands, in a few words.
pub fn delivery(d: &DeliveryStatus) -> String {
    let error = d
        .last_error
        .as_deref()
        .map(|e| format!(": {}", clip(e, 80)))
        .unwrap_or_default();
    match d.status {
        OutboxStatus::Sent => match d.sent_at {
            Some(at) => format!("sent {}", when(at)),
            None => "sent".into(),
        },
        OutboxStatus::Failed => format!("FAILED after {} attempts{error}", d.attempts),
        OutboxStatus::Cancelled => "cancelled (never sent)".into(),
        OutboxStatus::Queued if d.attempts == 0 => "queued".into(),
        OutboxStatus::Queued => {
            let next = d
                .next_attempt_at
                .map(|t| format!(", next try {}", when(t)))
                .unwrap_or_default();
            format!("queued, {} failed attempts{next}{error}", d.attempts)
        }
    }
}

/// The closing checklist, each item ticked or missing.
pub fn checklist(check: &ClosingCheck, config: &casework_core::WorkflowConfig) -> String {
    let c = &config.checklist;
    let missing = |items: &[&str]| {
        check
            .missing
            .iter()
            .filter(|m| items.contains(&m.item.as_str()))
            .collect::<Vec<_>>()
    };
    let mut out = String::from("Closing checklist\n");
    let mut line = |enabled: bool, label: &str, items: &[&str]| {
        if !enabled {
            out.push_str(&format!("  [-] {label} (not required)\n"));
            return;
        }
        let m = missing(items);
        if m.is_empty() {
            out.push_str(&format!("  [x] {label}\n"));
        } else {
            let why: Vec<&str> = m.iter().map(|m| m.message.as_str()).collect();
            out.push_str(&format!("  [ ] {label}: {}\n", why.join("; ")));
        }
    };
    line(
        c.summary_last_post,
        "7. case summary is the last post",
        &["summary"],
    );
    line(c.title_reviewed, "8. title reviewed", &["title"]);
    line(
        c.technical_details,
        "9. product and product version",
        &["product", "product_version"],
    );
    line(
        c.categorized,
        "10. product area, functionality, issue",
        &["product_area", "functionality", "issue"],
    );
    if c.resolution {
        out.push_str("  [·] 11. primary and secondary resolution: given with `case close --primary … --secondary …`\n");
    }
    out.push_str(if check.ready {
        "Ready to close.\n"
    } else {
        "Not ready to close.\n"
    });
    if check.non_response_ready {
        out.push_str("Non-response close: allowed (the contact-attempt policy is met).\n");
    } else {
        let why: Vec<&str> = check
            .non_response_missing
            .iter()
            .map(|m| m.message.as_str())
            .collect();
        out.push_str(&format!(
            "Non-response close: not yet ({}).\n",
            why.join("; ")
        ));
    }
    out
}

/// Ranked hits.
pub fn hits(hits: &[SearchHit]) -> String {
    if hits.is_empty() {
        return "No matches.\n".into();
    }
    // Ranks, not raw BM25 scores: scores only compare within one query, and on a small
    // corpus they are tiny (--json has them).
    let rows: Vec<Vec<String>> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            vec![
                (i + 1).to_string(),
                h.kind.to_string(),
                h.reference.clone(),
                cell(&h.title, 70),
            ]
        })
        .collect();
    table(&["RANK", "KIND", "REF", "TITLE"], &rows)
}

/// The reopen report.
pub fn report(rows: &[ReportRow], by: &str) -> String {
    if rows.is_empty() {
        return "No closed cases in the period.\n".into();
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.key.clone(),
                r.closed.to_string(),
                r.reopened.to_string(),
                format!("{:.1}%", r.reopen_rate * 100.0),
                r.median_days_to_reopen
                    .map(|d| format!("{d:.2}"))
                    .unwrap_or_else(|| "—".into()),
                format!("{} / {}", r.temporarily_closed, r.reopened_from_temporary),
            ]
        })
        .collect();
    table(
        &[
            &format!("{} AT CLOSE", by.to_uppercase()),
            "CLOSED",
            "REOPENED",
            "RATE",
            "MEDIAN DAYS TO REOPEN",
            "TEMPORARY / REOPENED",
        ],
        &rows,
    )
}

/// The cases behind one row of the reopen report, each reopen with its reason.
pub fn report_cases(cases: &[ReportCase]) -> String {
    if cases.is_empty() {
        return "No cases behind that row in the period.\n".into();
    }
    let mut out = String::new();
    for c in cases {
        out.push_str(&format!("{}  {}\n", c.number.display(), clip(&c.title, 60)));
        for cl in &c.closures {
            out.push_str(&format!("    closed {} ({})\n", when(cl.at), cl.mode));
        }
        for r in &c.reopens {
            out.push_str(&format!(
                "    reopened {} by {} after {:.2} days: {}\n",
                when(r.at),
                cell(&r.by, MAX_PERSON_NAME),
                r.days_to_reopen,
                clip(&r.reason, 80)
            ));
        }
    }
    out
}

/// Outbox messages.
pub fn outbox(messages: &[OutboxMessage]) -> String {
    if messages.is_empty() {
        return "The outbox is empty.\n".into();
    }
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.case.display(),
                m.status.to_string(),
                m.attempts.to_string(),
                m.to.to_string(),
                cell(&m.subject, 60),
            ]
        })
        .collect();
    table(
        &["ID", "CASE", "STATUS", "ATTEMPTS", "TO", "SUBJECT"],
        &rows,
    )
}

/// Webhook endpoints as a table.
pub fn webhooks(endpoints: &[casework_core::webhook::WebhookEndpoint]) -> String {
    if endpoints.is_empty() {
        return "No webhook endpoints.\n".into();
    }
    let rows: Vec<Vec<String>> = endpoints
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                cell(&e.url, 60),
                if e.events.is_empty() {
                    "all".into()
                } else {
                    e.events.join(",")
                },
                if e.removed_at.is_some() {
                    "removed"
                } else {
                    "active"
                }
                .into(),
            ]
        })
        .collect();
    table(&["ID", "URL", "EVENTS", "STATE"], &rows)
}

/// A webhook delivery log as a table.
pub fn webhook_deliveries(deliveries: &[casework_core::webhook::WebhookDelivery]) -> String {
    if deliveries.is_empty() {
        return "No deliveries.\n".into();
    }
    let rows: Vec<Vec<String>> = deliveries
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.case.display(),
                d.event_type.clone(),
                d.status.to_string(),
                d.attempts.to_string(),
                d.response_status.map(|c| c.to_string()).unwrap_or_default(),
                cell(d.last_error.as_deref().unwrap_or(""), 50),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "CASE",
            "TYPE",
            "STATUS",
            "ATTEMPTS",
            "RESPONSE",
            "LAST ERROR",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_characters_not_bytes() {
        let t = table(
            &["A", "B"],
            &[
                vec!["Zoë".into(), "x".into()],
                vec!["Al".into(), "yy".into()],
            ],
        );
        assert_eq!(t, "A    B\nZoë  x\nAl   yy\n");
    }

    #[test]
    fn text_a_customer_typed_never_drives_the_terminal() {
        let hostile = "Alice\u{1b}]0;owned\u{7}\u{1b}[2J\r\nSmith\u{202e}\u{9b}";
        assert_eq!(
            visible(hostile),
            "Alice\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\r\\nSmith\\u{202e}\\u{9b}"
        );
        // a block keeps its lines (CRLF too) and tabs, and escapes the rest
        assert_eq!(visible_block("a\r\nb\tc\rd\u{1b}"), "a\nb\tc\\rd\\u{1b}");
        assert!(matches!(visible("plain Zoë"), Cow::Borrowed(_)));
        // a table row stays one row, and no cell holds a raw control character
        let t = table(&["NAME", "X"], &[vec![hostile.into(), "1".into()]]);
        assert_eq!(t.lines().count(), 2, "{t}");
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        // escaping what is already escaped changes nothing
        assert_eq!(visible(&visible(hostile)), visible(hostile));
    }

    #[test]
    fn one_line_fields_show_their_line_breaks_and_free_text_its_first_line() {
        assert_eq!(cell("Alice\nSmith", 60), "Alice\\nSmith");
        assert_eq!(cell("abcdefghijk", 5), "abcd…");
        assert_eq!(clip("first\nsecond", 60), "first…");
        assert_eq!(clip("esc\u{1b}[2J", 60), "esc\\u{1b}[2J");
    }

    #[test]
    fn long_and_multiline_text_is_clipped() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("two\nlines", 10), "two…");
        assert_eq!(clip("abcdefghijk", 5), "abcd…");
    }
}
