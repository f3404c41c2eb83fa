//! Quarantine: nothing that arrives is silently lost. A message the ingestion pipeline
//! refuses for good (unreadable, no sender, an auto-reply answering no case) is kept whole
//! in the store's quarantine with when it came, from which input and why
//! ([`CaseService::ingest_or_keep`]); people with the workflow file's `quarantine`
//! permission list, read, release (the pipeline again, on the kept bytes) and drop it.

use serde::{Deserialize, Serialize};

use super::{CaseService, Ingested, ServiceError};
use crate::WorkflowError;
use crate::config::Permission;
use crate::event::EventKind;
use crate::limits::MAX_OUTBOX;
use crate::model::{Actor, sha256_hex};
use crate::ports::{Page, QuarantineAfter, QuarantineEntry, QuarantinedMessage, StoreError};
use crate::workflow::inbound::inbound_key;

/// How many hex digits of the message's SHA-256 name it in the quarantine.
const ID_DIGITS: usize = 20;

/// Whether the pipeline refused a message for good (the same bytes would be refused every
/// time), as opposed to a failure that may pass on a later attempt.
pub fn refused_for_good(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Workflow(WorkflowError::Invalid { .. }))
}

/// Why a message whose files were held back is in the quarantine.
fn held_back_reason(display_number: &str, why: &str) -> String {
    format!("its text is on case {display_number}; its files were not kept: {why}")
}

/// What became of a message handed to [`CaseService::ingest_or_keep`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Intake {
    /// The pipeline took it onto a case.
    Taken(Ingested),
    /// The pipeline refused it for good; it is kept in the quarantine.
    Quarantined(Kept),
}

/// A message kept in the quarantine, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Kept {
    /// Its id in the quarantine.
    pub id: String,
    /// Why the pipeline refused it.
    pub reason: String,
}

/// What a release did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Released {
    /// The pipeline took it; it left the quarantine.
    Taken(Ingested),
    /// The pipeline refused it again; it stays in the quarantine.
    StillRefused(Kept),
}

impl CaseService {
    /// Takes one raw message from `source` (`ingest`, `http`, `imap`) through the pipeline,
    /// as [`CaseService::ingest_raw`] does, except that a message refused for good is kept
    /// in the quarantine instead of being refused. The same bytes are kept once (their id is
    /// their SHA-256), so a redelivered refused message is not kept twice. Errors only for
    /// what may pass later (the store, a busy case) and a missing `ingest_mail` permission.
    pub async fn ingest_or_keep(
        &self,
        actor: &Actor,
        source: &str,
        raw: &[u8],
    ) -> Result<Intake, ServiceError> {
        self.require(actor, Permission::IngestMail, "hand Casework inbound email")?;
        let taken = self.take_raw(raw).await;
        self.keep_refused(source, raw, taken).await
    }

    /// What the pipeline's answer `taken` for `raw` from `source` comes to: taken, or kept
    /// in the quarantine when refused for good.
    pub(crate) async fn keep_refused(
        &self,
        source: &str,
        raw: &[u8],
        taken: Result<Ingested, ServiceError>,
    ) -> Result<Intake, ServiceError> {
        match taken {
            Ok(mut taken) => {
                // its text is on the case; its files wait with the whole message (a
                // redelivery keeps it again, so a failed put is made good by the retry)
                if let Some(why) = &taken.files_held_back {
                    let reason = held_back_reason(&taken.display_number, why);
                    taken.quarantined = Some(self.keep(source, raw, reason).await?.id);
                }
                Ok(Intake::Taken(taken))
            }
            Err(e) if refused_for_good(&e) => Ok(Intake::Quarantined(
                self.keep(source, raw, e.to_string()).await?,
            )),
            Err(e) => Err(e),
        }
    }

    /// Keeps `raw` from `source` in the quarantine for `reason`, once: the same bytes kept
    /// before are left as they are.
    async fn keep(&self, source: &str, raw: &[u8], reason: String) -> Result<Kept, ServiceError> {
        let kept = Kept {
            id: format!("q-{}", &sha256_hex(raw)[..ID_DIGITS]),
            reason,
        };
        let message = QuarantinedMessage {
            id: kept.id.clone(),
            received_at: self.now(),
            source: source.to_string(),
            reason: kept.reason.clone(),
            raw: raw.to_vec(),
        };
        match self.store.quarantine_put(message).await {
            // the same bytes, kept before
            Ok(()) | Err(StoreError::Duplicate(_)) => Ok(kept),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of up to `limit` kept messages (1 to [`MAX_OUTBOX`]), oldest first, after
    /// `cursor` (the `next_cursor` of the page before) when given; needs `quarantine`.
    pub async fn quarantine_list(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<QuarantineEntry>, ServiceError> {
        self.require(actor, Permission::Quarantine, "read the quarantine")?;
        let limit = limit.clamp(1, MAX_OUTBOX);
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(QuarantineAfter::from_cursor(c)?),
        };
        // one more than the page holds says whether another page follows
        let items = self.store.quarantine_list(after, limit + 1).await?;
        Ok(Page::overfetched_by(items, limit, |e| e.after().cursor()))
    }

    /// One kept message with its bytes; needs `quarantine`.
    pub async fn quarantine_show(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<QuarantinedMessage, ServiceError> {
        self.require(actor, Permission::Quarantine, "read the quarantine")?;
        Ok(self.store.quarantine_get(id.to_string()).await?)
    }

    /// Runs the pipeline again on a kept message's bytes (after the workflow file or a case
    /// changed): taken, it leaves the quarantine; refused again, it stays. The message is
    /// taken once, so a release that fails after the commit is safe to repeat. Needs
    /// `quarantine`.
    pub async fn quarantine_release(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Released, ServiceError> {
        self.require(actor, Permission::Quarantine, "release quarantined email")?;
        let kept = self.store.quarantine_get(id.to_string()).await?;
        match self.take_raw(&kept.raw).await {
            // its text is on the case, its files are still over the limits
            Ok(taken) if taken.files_held_back.is_some() => Ok(Released::StillRefused(Kept {
                reason: held_back_reason(
                    &taken.display_number,
                    taken.files_held_back.as_deref().unwrap_or_default(),
                ),
                id: kept.id,
            })),
            // taken before without its files, which now fit: they cannot join that email
            // after the fact, so the message stays for a person to attach them by hand
            Ok(taken) if taken.duplicate && self.files_left_out(&kept.raw, &taken).await? => {
                Ok(Released::StillRefused(Kept {
                    reason: format!(
                        "its text was taken onto case {} before, without its files: save them \
                         from this message, attach them to the case, then drop it",
                        taken.display_number
                    ),
                    id: kept.id,
                }))
            }
            Ok(taken) => {
                match self.store.quarantine_remove(kept.id).await {
                    // a release racing this one removed it first
                    Ok(()) | Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(Released::Taken(taken))
            }
            Err(e) if refused_for_good(&e) => Ok(Released::StillRefused(Kept {
                id: kept.id,
                reason: e.to_string(),
            })),
            Err(e) => Err(e),
        }
    }

    /// Whether `raw`, taken as `taken`, carries files and none of them is on the case with
    /// its email.
    async fn files_left_out(&self, raw: &[u8], taken: &Ingested) -> Result<bool, ServiceError> {
        let message = self.parse(raw)?;
        if message.attachments.is_empty() {
            return Ok(false);
        }
        let Some(from) = message.from.as_ref().and_then(|m| m.address.as_ref()) else {
            return Ok(false);
        };
        let key = inbound_key(&message, from);
        let history = self.store.history(taken.case).await?;
        let Some(entry) = history
            .iter()
            .find(|e| matches!(&e.kind, EventKind::EmailReceived { key: k, .. } if *k == key))
        else {
            return Ok(false);
        };
        let files = self.store.attachment_list(taken.case).await?;
        Ok(!files.iter().any(|f| f.entry == entry.seq))
    }

    /// Removes a kept message for good; needs `quarantine`.
    pub async fn quarantine_drop(&self, actor: &Actor, id: &str) -> Result<(), ServiceError> {
        self.require(actor, Permission::Quarantine, "drop quarantined email")?;
        Ok(self.store.quarantine_remove(id.to_string()).await?)
    }
}
