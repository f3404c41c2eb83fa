//! Human output (aligned tables, one line per timeline entry) and JSON output (one document).

use casework_core::event::{Event, EventKind};
use casework_core::model::{
    Case, ContactOutcome, DeliveryStatus, OutboxMessage, OutboxStatus, TimelineEntry, Visibility,
};
use casework_core::ports::{ReportRow, SearchHit};
use casework_core::service::ClosingCheck;
use jiff::Timestamp;
use serde::Serialize;

/// A time as people read it, in UTC.
pub fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn clip(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if width(line) <= max && !s.contains('\n') {
        line.to_string()
    } else {
        let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// An aligned table with a header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
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
pub fn print_json<T: Serialize>(value: &T) -> Result<(), crate::app::Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::app::Failure::unavailable(format!("cannot encode output: {e}")))?;
    println!("{text}");
    Ok(())
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
                clip(&c.title, 60),
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
    let mut out = format!("Case {}  {}\n", c.number.display(), c.title);
    let mut field = |name: &str, value: String| {
        out.push_str(&format!("  {name:<17}{value}\n"));
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

/// What an event did, in one line.
pub fn describe(e: &Event) -> String {
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
        EventKind::Escalated {
            from, to, reason, ..
        } => format!("escalated {from} → {to}: {}", clip(reason, 60)),
        EventKind::FieldChanged { field, from, to } => format!(
            "{} {} → {}",
            field.as_str().replace('_', " "),
            from.as_deref()
                .map(|s| format!("{:?}", clip(s, 40)))
                .unwrap_or_else(|| "—".into()),
            to.as_deref()
                .map(|s| format!("{:?}", clip(s, 40)))
                .unwrap_or_else(|| "—".into()),
        ),
        EventKind::PriorityChanged { from, to } => format!("priority {from} → {to}"),
        EventKind::TitleConfirmed => "title reviewed and confirmed".into(),
        EventKind::CallLogged {
            direction,
            duration_minutes,
            screenshare,
            channel,
            notes,
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
                clip(&h.title, 70),
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
            ]
        })
        .collect();
    table(
        &[
            &by.to_uppercase(),
            "CLOSED",
            "REOPENED",
            "RATE",
            "MEDIAN DAYS TO REOPEN",
        ],
        &rows,
    )
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
                clip(&m.subject, 60),
            ]
        })
        .collect();
    table(
        &["ID", "CASE", "STATUS", "ATTEMPTS", "TO", "SUBJECT"],
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
    fn long_and_multiline_text_is_clipped() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("two\nlines", 10), "two…");
        assert_eq!(clip("abcdefghijk", 5), "abcd…");
    }
}
