//! Fetching an IMAP mailbox into the ingestion pipeline: what `casework mail fetch` runs
//! once and `casework serve --imap` runs on an interval. Each fetched message goes through
//! the service (`CaseService::ingest_batch`, a batch at a time, answering as
//! `ingest_or_keep` would for each), and only the ones it took (or had taken before)
//! are confirmed to the server (marked `\Seen`, or moved to the URL's `processed=FOLDER`),
//! so a crash between fetch and commit only means the same messages come back, which the
//! pipeline's idempotency keys make harmless. A message the pipeline refuses for good
//! (unreadable, an auto-reply answering no case) is kept in the quarantine, then confirmed
//! (kept once: its quarantine id is its digest); one over the size limit, which is never
//! fetched whole, is left in the mailbox, unconfirmed, and reported: nothing that arrives
//! is lost. A failure that may pass (the store, the server) stops the run after confirming
//! what was taken or kept.
//!
//! Where reading stands (the mailbox's UIDVALIDITY and the last UID handled) is saved in
//! the store per mailbox ([`ImapSettings::position_key`]) after each batch is committed and
//! confirmed, so the next run, or a restarted server, starts after it: nothing is read
//! twice, nothing skipped. A mailbox found under another UIDVALIDITY (recreated, restored)
//! is read again from its start, as the adapter's `UidValidityChanged` documents; the
//! pipeline's idempotency keys make the re-read harmless.

use casework_core::CaseService;
use casework_core::model::Actor;
use casework_core::ports::MailboxPosition;
use casework_core::service::Intake;
use casework_mail::imap::{Fetched, ImapError, ImapMailbox, ImapSettings, MailboxState};
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
    /// Messages over the size limit, left in the mailbox: UID and why. Reported once: the
    /// saved position moves past them.
    pub left: Vec<LeftMessage>,
    /// The mailbox's UIDVALIDITY was not the one its saved position was read under, so it
    /// was read from its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid_validity_changed: Option<UidValidityChange>,
}

/// A mailbox found under another UIDVALIDITY than its saved position's.
#[derive(Debug, Serialize)]
pub struct UidValidityChange {
    /// The UIDVALIDITY saved.
    pub from: u32,
    /// The mailbox's now.
    pub to: u32,
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

/// Takes every message in the mailbox once, as `actor` (who needs `ingest_mail`), starting
/// after the position saved for the mailbox and saving the new one after each batch is
/// committed and confirmed.
pub async fn fetch_once(
    service: &CaseService,
    actor: &Actor,
    settings: &ImapSettings,
) -> Result<FetchReport, Failure> {
    let key = settings.position_key();
    let mut mailbox = ImapMailbox::connect(settings).await.map_err(imap_failure)?;
    let mut report = FetchReport::default();
    let mut state = match service.mailbox_position(actor, &key).await? {
        Some(p) if p.uid_validity == mailbox.uid_validity() => MailboxState {
            uid_validity: p.uid_validity,
            last_uid: p.last_uid,
        },
        // the mailbox was recreated or restored: its UIDs name other messages now, so it is
        // read again from the start; what was taken before is recognised by its key
        Some(p) => {
            report.uid_validity_changed = Some(UidValidityChange {
                from: p.uid_validity,
                to: mailbox.uid_validity(),
            });
            mailbox.initial_state()
        }
        None => mailbox.initial_state(),
    };
    loop {
        let batch = mailbox.fetch_after(state).await.map_err(imap_failure)?;
        let mut confirm = Vec::new();
        // the highest UID handled with every one before it handled too
        let mut handled = state.last_uid;
        let mut stop = None;
        // the batch's messages go through the pipeline together (stand-alone ones at once);
        // their answers are then read in UID order, as if taken one at a time
        let mut raws = Vec::new();
        let mut order = Vec::new();
        for m in batch.messages {
            match m.content {
                Fetched::Raw(raw) => {
                    raws.push(raw);
                    order.push((m.uid, None));
                }
                Fetched::TooLarge { size, .. } => order.push((m.uid, Some(size))),
            }
        }
        let mut answers = service
            .ingest_batch(actor, "imap", &raws)
            .await?
            .into_iter();
        for (uid, too_large) in order {
            if let Some(size) = too_large {
                report.left.push(LeftMessage {
                    uid,
                    reason: format!("the message is {size} bytes, over the limit"),
                });
                handled = uid;
                continue;
            }
            let Some(answer) = answers.next() else {
                break;
            };
            match answer {
                Ok(Intake::Taken(got)) => {
                    match (got.duplicate, got.created) {
                        (true, _) => report.duplicates += 1,
                        (false, true) => report.opened += 1,
                        (false, false) => report.added += 1,
                    }
                    confirm.push(uid);
                }
                Ok(Intake::Quarantined(kept)) => {
                    report.quarantined.push(KeptMessage {
                        uid,
                        id: kept.id,
                        reason: kept.reason,
                    });
                    confirm.push(uid);
                }
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
            handled = uid;
        }
        // what was committed is confirmed, and the position saved, even when the run stops
        // here; a crash before the save only means those messages are read again
        mailbox.confirm(&confirm).await.map_err(imap_failure)?;
        let reached = if stop.is_none() {
            batch.state
        } else {
            MailboxState {
                last_uid: handled,
                ..batch.state
            }
        };
        if reached != state || report.uid_validity_changed.is_some() {
            let position = MailboxPosition {
                uid_validity: reached.uid_validity,
                last_uid: reached.last_uid,
            };
            service.save_mailbox_position(actor, &key, position).await?;
        }
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
