//! Fetching an IMAP mailbox into the ingestion pipeline: what `casework mail fetch` runs
//! once and `casework serve --imap` runs on an interval. Each fetched message goes through
//! the service (`CaseService::ingest_or_keep`), and only the ones it took (or had taken before)
//! are confirmed to the server (marked `\Seen`, or moved to the URL's `processed=FOLDER`),
//! so a crash between fetch and commit only means the same messages come back, which the
//! pipeline's idempotency keys make harmless. A message the pipeline refuses for good
//! (unreadable, an auto-reply answering no case) is kept in the quarantine, then confirmed
//! (kept once: its quarantine id is its digest); one over the size limit, which is never
//! fetched whole, is left in the mailbox, unconfirmed, and reported: nothing that arrives
//! is lost. A failure that may pass (the store, the server) stops the run after confirming
//! what was taken or kept.

use casework_core::CaseService;
use casework_core::model::Actor;
use casework_core::service::Intake;
use casework_mail::imap::{Fetched, ImapError, ImapMailbox, ImapSettings};
use serde::Serialize;

use crate::app::Failure;

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct FetchReport {
    /// Messages that opened a case.
    pub opened: u32,
    /// Messages added to a case.
    pub added: u32,
    /// Messages taken before (nothing changed), confirmed again.
    pub duplicates: u32,
    /// Messages refused for good and kept in the quarantine (then confirmed).
    pub quarantined: Vec<KeptMessage>,
    /// Messages over the size limit, left in the mailbox: UID and why.
    pub left: Vec<LeftMessage>,
}

/// A message kept in the quarantine.
#[derive(Debug, Serialize)]
pub struct KeptMessage {
    /// Its UID.
    pub uid: u32,
    /// Its id in the quarantine.
    pub id: String,
    /// Why it was not taken.
    pub reason: String,
}

/// A message left in the mailbox.
#[derive(Debug, Serialize)]
pub struct LeftMessage {
    /// Its UID.
    pub uid: u32,
    /// Why it was not taken.
    pub reason: String,
}

/// An IMAP failure as the CLI reports it: one that may pass (the network, the server) is
/// "unavailable" (exit 4), one that will not (a wrong password or mailbox) a usage error.
fn imap_failure(e: ImapError) -> Failure {
    if e.is_temporary() {
        Failure::unavailable(e.to_string())
    } else {
        Failure::usage(e.to_string())
    }
}

/// Takes every message in the mailbox once, as `actor` (who needs `ingest_mail`).
pub async fn fetch_once(
    service: &CaseService,
    actor: &Actor,
    settings: &ImapSettings,
) -> Result<FetchReport, Failure> {
    let mut mailbox = ImapMailbox::connect(settings).await.map_err(imap_failure)?;
    let mut state = mailbox.initial_state();
    let mut report = FetchReport::default();
    loop {
        let batch = mailbox.fetch_after(state).await.map_err(imap_failure)?;
        let mut confirm = Vec::new();
        let mut stop = None;
        for m in batch.messages {
            let raw = match m.content {
                Fetched::Raw(raw) => raw,
                Fetched::TooLarge { size, .. } => {
                    report.left.push(LeftMessage {
                        uid: m.uid,
                        reason: format!("the message is {size} bytes, over the limit"),
                    });
                    continue;
                }
            };
            match service.ingest_or_keep(actor, "imap", &raw).await {
                Ok(Intake::Taken(got)) => {
                    match (got.duplicate, got.created) {
                        (true, _) => report.duplicates += 1,
                        (false, true) => report.opened += 1,
                        (false, false) => report.added += 1,
                    }
                    confirm.push(m.uid);
                }
                Ok(Intake::Quarantined(kept)) => {
                    report.quarantined.push(KeptMessage {
                        uid: m.uid,
                        id: kept.id,
                        reason: kept.reason,
                    });
                    confirm.push(m.uid);
                }
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
        // what was committed is confirmed even when the run stops here
        mailbox.confirm(&confirm).await.map_err(imap_failure)?;
        if let Some(e) = stop {
            return Err(e.into());
        }
        state = batch.state;
        if !batch.more {
            break;
        }
    }
    mailbox.logout().await.map_err(imap_failure)?;
    Ok(report)
}
