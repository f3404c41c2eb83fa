//! Moving whole stores (`casework store copy`): listing what the other capabilities do not
//! list, and writing records with their own numbers, ids and histories. Stores that hold
//! their own data implement it (memory, SQLite, PostgreSQL); a store that reaches another
//! server's data (REST) does not, so it is not a bound of [`CaseStore`]: [`TransferStore`]
//! is a whole store that also has it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{AttachmentFile, AttachmentInfo, CaseStore, StoreError, check_files};
use crate::event::Event;
use crate::model::{Article, Case, Defect, OutboxMessage};

/// What became of one imported record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Imported {
    /// It was not there: written whole.
    Written,
    /// It was there with the start of this history: the rest was appended.
    Extended,
    /// It was there already, the same.
    Unchanged,
}

/// A whole case as another store holds it: its history, and its outbox messages with their
/// delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Every event, from `opened`.
    pub history: Vec<Event>,
    /// Its messages, oldest first (none when absent from a record read in).
    #[serde(default)]
    pub outbox: Vec<OutboxMessage>,
    /// Its files with their bytes, in entry order, each naming the post or email of
    /// `history` it belongs to (left out of JSON when there are none, so records written
    /// before files travelled read the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentFile>,
}

impl CaseRecord {
    /// The bytes of its files.
    pub fn file_bytes(&self) -> u64 {
        self.attachments.iter().map(|f| f.bytes.len() as u64).sum()
    }
}

/// Moving whole stores: listing articles and defects in order, importing cases and articles
/// under their own numbers. The conformance suite's `transfer` group checks it.
#[async_trait]
pub trait StoreTransfer: Send + Sync {
    /// Up to `limit` articles by ascending id, after `after`.
    async fn list_articles(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError>;

    /// Up to `limit` defects by key (byte order), after `after`.
    async fn list_defects(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<Defect>, StoreError>;

    /// Writes whole cases under their own numbers, all or nothing. For each, as
    /// [`plan_import`] decides from what is stored: absent, it is written with everything
    /// derived from its events (search, reports) and later creates get higher numbers;
    /// stored with the start of this history, the rest is appended; stored with this very
    /// history, nothing changes. Its outbox messages are added, or take the given delivery
    /// state if they are there.
    ///
    /// Its files are written with it: each one not stored is added, one stored the same
    /// (same metadata, so same bytes) is left as it is.
    ///
    /// MUST return `Invalid` for a history that does not replay or is not numbered from 1,
    /// or a file [`check_record`] refuses; `Duplicate` for a case stored with another
    /// history, an outbox id held by another case, or a file id stored with other metadata
    /// ([`file_clash`]), writing nothing.
    async fn import_cases(&self, cases: Vec<CaseRecord>) -> Result<Vec<Imported>, StoreError>;

    /// Writes an article under its own id (later articles get higher ids): `Unchanged`
    /// when the same article is there. MUST return `Duplicate` when another article has
    /// the id.
    async fn import_article(&self, article: Article) -> Result<Imported, StoreError>;
}

/// A store that can be copied from and to: both ports, for wiring.
pub trait TransferStore: CaseStore + StoreTransfer {}

impl<T: CaseStore + StoreTransfer + ?Sized> TransferStore for T {}

/// The state a history replays to, checked as an import must check it: one case, numbered
/// from 1, replaying. `Invalid` otherwise.
pub fn check_history(history: &[Event]) -> Result<Case, StoreError> {
    let Some(first) = history.first() else {
        return Err(StoreError::Invalid("a case needs its opened event".into()));
    };
    for (i, e) in history.iter().enumerate() {
        if e.case != first.case || e.seq != i as u64 + 1 {
            return Err(StoreError::Invalid(format!(
                "case {}: event {} is out of sequence",
                first.case, e.seq
            )));
        }
    }
    crate::event::replay(history).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// What every store checks of a record before importing it: its history as
/// [`check_history`] does, and its files as a commit's ([`check_files`]) against that
/// history. The state the history replays to, `Invalid` otherwise.
pub fn check_record(record: &CaseRecord) -> Result<Case, StoreError> {
    let state = check_history(&record.history)?;
    check_files(state.number, &record.history, &record.attachments)?;
    Ok(state)
}

/// Whether an imported file is there already: `Ok(true)` when `stored` is its metadata
/// (so, its sha256 checked, its bytes), `Ok(false)` when nothing is stored under its id,
/// the `Duplicate` refusal when another file holds the id.
pub fn file_clash(
    stored: Option<&AttachmentInfo>,
    incoming: &AttachmentInfo,
) -> Result<bool, StoreError> {
    match stored {
        None => Ok(false),
        Some(there) if there == incoming => Ok(true),
        Some(_) => Err(StoreError::Duplicate(format!(
            "attachment {} is stored with other metadata or bytes",
            incoming.id
        ))),
    }
}

/// What an import of `incoming` does given the `stored` history of the same number: the
/// outcome, and how many of the incoming events are already stored (write the rest).
pub fn plan_import(
    stored: Option<&[Event]>,
    incoming: &[Event],
) -> Result<(Imported, usize), StoreError> {
    let Some(stored) = stored else {
        return Ok((Imported::Written, 0));
    };
    if stored.len() <= incoming.len() && incoming[..stored.len()] == *stored {
        return Ok(if stored.len() == incoming.len() {
            (Imported::Unchanged, stored.len())
        } else {
            (Imported::Extended, stored.len())
        });
    }
    let number = incoming
        .first()
        .map(|e| e.case.to_string())
        .unwrap_or_default();
    Err(StoreError::Duplicate(format!(
        "case {number} is stored with a different history"
    )))
}
