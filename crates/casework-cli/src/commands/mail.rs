//! `casework mail fetch`: an IMAP mailbox, once (`crate::mailbox`).
//!
//! `casework mail ingest`: one raw message from standard input (an MTA pipe, as Request
//! Tracker's `rt-mailgate` made standard) or a file, through the service's ingestion
//! pipeline. Exit codes speak sysexits, which MTAs understand: 0 taken, or never takeable
//! and kept in the quarantine (the message is safe with Casework: bouncing it would only
//! send backscatter to a sender who may not exist), 75 try later.
//!
//! `casework mail quarantine list|show|release|drop`: what the pipeline refused and kept.

use std::io::Read;

use casework_core::limits::MAX_INBOUND_MESSAGE;
use casework_core::ports::{QuarantineEntry, QuarantinedMessage};
use casework_core::service::{Ingested, Intake, Released, ServiceError};
use jiff::Timestamp;
use serde::Serialize;

use crate::app::Failure;
use crate::cli::*;
use crate::exit;
use crate::output::{out, outln, print_json};

use super::Ctx;

/// `casework mail …`.
pub(crate) async fn mail(cx: &Ctx<'_>, cmd: MailCmd) -> Result<u8, Failure> {
    match cmd {
        MailCmd::Ingest { file } => ingest(cx, file).await,
        MailCmd::Fetch { imap } => fetch(cx, &imap).await,
        MailCmd::Kept(cmd) => quarantine(cx, cmd).await,
    }
}

async fn fetch(cx: &Ctx<'_>, url: &str) -> Result<u8, Failure> {
    let settings =
        casework_mail::imap::ImapSettings::parse(url).map_err(|e| Failure::usage(e.to_string()))?;
    let who = cx.who_or_operator().await?;
    let report = crate::mailbox::fetch_once(&cx.app.service, &who, &settings).await?;
    if cx.json {
        print_json(&report)?;
    } else {
        outln!(
            "Opened {} cases, added {} emails to cases, {} taken before; {} kept in the quarantine, {} left in the mailbox",
            report.opened,
            report.added,
            report.duplicates,
            report.quarantined.len(),
            report.left.len()
        );
        for kept in &report.quarantined {
            outln!("  kept UID {} as {}: {}", kept.uid, kept.id, kept.reason);
        }
        for left in &report.left {
            outln!("  left UID {}: {}", left.uid, left.reason);
        }
        if let Some(change) = &report.uid_validity_changed {
            outln!(
                "  the mailbox's UIDVALIDITY changed from {} to {}: read again from its start",
                change.from,
                change.to
            );
        }
    }
    Ok(0)
}

/// Reads at most one byte over the limit, so an oversized message is refused by the
/// parser with its size rather than read whole.
fn read_message(file: Option<std::path::PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut raw = Vec::new();
    let cap = (MAX_INBOUND_MESSAGE + 1) as u64;
    let read = match &file {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(cap).read_to_end(&mut raw))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        None => std::io::stdin()
            .take(cap)
            .read_to_end(&mut raw)
            .map_err(|e| format!("cannot read standard input: {e}")),
    };
    // a message that cannot be read now may be readable on the next delivery attempt
    read.map_err(|message| Failure {
        code: exit::MAIL_TRY_LATER,
        message,
    })?;
    Ok(raw)
}

/// The exit code for a failure to take a message: 75 for everything that may pass later
/// (the store, a busy case, a fault, a missing permission in the workflow file), so the MTA
/// keeps the message. A message refused for good is not a failure: it is kept in the
/// quarantine and answered 0.
fn ingest_failure(e: ServiceError) -> Failure {
    Failure {
        code: exit::MAIL_TRY_LATER,
        message: e.to_string(),
    }
}

async fn ingest(cx: &Ctx<'_>, file: Option<std::path::PathBuf>) -> Result<u8, Failure> {
    let raw = read_message(file)?;
    let who = cx.who_or_operator().await.map_err(|f| Failure {
        code: exit::MAIL_TRY_LATER,
        message: f.message,
    })?;
    let got = match cx
        .app
        .service
        .ingest_or_keep(&who, "ingest", &raw)
        .await
        .map_err(ingest_failure)?
    {
        Intake::Taken(got) => got,
        Intake::Quarantined(kept) => {
            if cx.json {
                print_json(&Intake::Quarantined(kept))?;
            } else {
                outln!(
                    "Not taken, kept in the quarantine as {}: {}",
                    kept.id,
                    kept.reason
                );
            }
            return Ok(0);
        }
    };
    if cx.json {
        print_json(&Intake::Taken(got))?;
    } else {
        taken_line(&got)?;
    }
    Ok(0)
}

/// One line on what became of a taken message.
fn taken_line(got: &Ingested) -> Result<(), Failure> {
    if got.duplicate {
        outln!("Already taken: case {}", got.display_number);
    } else if got.created {
        outln!(
            "Opened case {} from the email ({})",
            got.display_number,
            got.rule.as_str().replace('_', " ")
        );
    } else {
        outln!(
            "Added to case {} ({})",
            got.display_number,
            got.rule.as_str().replace('_', " ")
        );
    }
    if let Some(why) = &got.files_held_back {
        match &got.quarantined {
            Some(id) => outln!(
                "Its files were not kept ({why}); the whole message is in the quarantine as {id}"
            ),
            None => outln!("Its files were not kept ({why})"),
        }
    }
    Ok(())
}

/// A kept message as the CLI shows it: its text (lossy UTF-8) instead of its bytes.
#[derive(Serialize)]
struct KeptView {
    id: String,
    received_at: Timestamp,
    source: String,
    reason: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl KeptView {
    fn of(e: QuarantineEntry, text: Option<String>) -> Self {
        Self {
            id: e.id,
            received_at: e.received_at,
            source: e.source,
            reason: e.reason,
            size: e.size,
            text,
        }
    }

    fn with_text(m: &QuarantinedMessage) -> Self {
        Self::of(
            m.entry(),
            Some(String::from_utf8_lossy(&m.raw).into_owned()),
        )
    }
}

async fn quarantine(cx: &Ctx<'_>, cmd: QuarantineCmd) -> Result<u8, Failure> {
    let svc = &cx.app.service;
    let who = cx.who().await?;
    match cmd {
        QuarantineCmd::List { limit, cursor } => {
            let kept = svc.quarantine_list(&who, cursor.as_deref(), limit).await?;
            let views: Vec<KeptView> = kept
                .items
                .into_iter()
                .map(|e| KeptView::of(e, None))
                .collect();
            if cx.json {
                print_json(
                    &serde_json::json!({ "items": views, "next_cursor": kept.next_cursor }),
                )?;
            } else if views.is_empty() {
                outln!("The quarantine is empty.");
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        vec![
                            v.id.clone(),
                            crate::output::when(v.received_at),
                            v.source.clone(),
                            v.size.to_string(),
                            crate::output::visible(&v.reason).into_owned(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    crate::output::table(&["ID", "RECEIVED", "FROM", "BYTES", "REASON"], &rows)
                );
                if let Some(c) = kept.next_cursor {
                    outln!("More: add --cursor {c}");
                }
            }
        }
        QuarantineCmd::Show { id, raw } => {
            let kept = svc.quarantine_show(&who, &id).await?;
            if raw {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(&kept.raw)
                    .and_then(|()| stdout.flush())
                    .map_err(|e| Failure::unavailable(format!("cannot write the message: {e}")))?;
            } else if cx.json {
                print_json(&KeptView::with_text(&kept))?;
            } else {
                let v = KeptView::with_text(&kept);
                outln!(
                    "{} received {} from {} ({} bytes)\nRefused: {}\n",
                    v.id,
                    crate::output::when(v.received_at),
                    v.source,
                    v.size,
                    crate::output::visible(&v.reason)
                );
                out!("{}", v.text.unwrap_or_default());
            }
        }
        QuarantineCmd::Release { id } => {
            let released = svc.quarantine_release(&who, &id).await?;
            if cx.json {
                print_json(&released)?;
            } else {
                match &released {
                    Released::Taken(got) => taken_line(got)?,
                    Released::StillRefused(kept) => {
                        outln!(
                            "Still refused, kept in the quarantine as {}: {}",
                            kept.id,
                            kept.reason
                        )
                    }
                }
            }
            // still refused is an answer, not a failure: the message is where it was
        }
        QuarantineCmd::Drop { id } => {
            svc.quarantine_drop(&who, &id).await?;
            if cx.json {
                print_json(&serde_json::json!({ "dropped": id }))?;
            } else {
                outln!("Dropped {id} from the quarantine");
            }
        }
    }
    Ok(0)
}
