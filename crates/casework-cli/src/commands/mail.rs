//! `casework mail fetch`: an IMAP mailbox, once (`crate::mailbox`).
//!
//! `casework mail ingest`: one raw message from standard input (an MTA pipe, as Request
//! Tracker's `rt-mailgate` made standard) or a file, through the service's ingestion
//! pipeline. Exit codes speak sysexits, which MTAs understand: 0 taken, 65 never takeable,
//! 75 try later.

use std::io::Read;

use casework_core::WorkflowError;
use casework_core::limits::MAX_INBOUND_MESSAGE;
use casework_core::service::{Ingested, ServiceError};

use crate::app::Failure;
use crate::cli::*;
use crate::exit;
use crate::output::{outln, print_json};

use super::Ctx;

/// `casework mail …`.
pub(crate) async fn mail(cx: &Ctx<'_>, cmd: MailCmd) -> Result<u8, Failure> {
    match cmd {
        MailCmd::Ingest { file } => ingest(cx, file).await,
        MailCmd::Fetch { imap } => fetch(cx, &imap).await,
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
            "Opened {} cases, added {} emails to cases, {} taken before; {} left in the mailbox",
            report.opened,
            report.added,
            report.duplicates,
            report.left.len()
        );
        for left in &report.left {
            outln!("  left UID {}: {}", left.uid, left.reason);
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

/// The exit code for a failure to take a message: 65 when these bytes can never be taken
/// (the service refused them), 75 for everything that may pass later (the store, a busy
/// case, a fault, a missing permission in the workflow file), so the MTA keeps the message.
fn ingest_failure(e: ServiceError) -> Failure {
    let code = match &e {
        ServiceError::Workflow(WorkflowError::Invalid { .. }) => exit::MAIL_REFUSED,
        _ => exit::MAIL_TRY_LATER,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

async fn ingest(cx: &Ctx<'_>, file: Option<std::path::PathBuf>) -> Result<u8, Failure> {
    let raw = read_message(file)?;
    let who = cx.who_or_operator().await.map_err(|f| Failure {
        code: exit::MAIL_TRY_LATER,
        message: f.message,
    })?;
    let got: Ingested = cx
        .app
        .service
        .ingest_raw(&who, &raw)
        .await
        .map_err(ingest_failure)?;
    if cx.json {
        print_json(&got)?;
    } else if got.duplicate {
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
    Ok(0)
}
