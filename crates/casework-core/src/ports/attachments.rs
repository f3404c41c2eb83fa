//! Attachments: files kept with the post (timeline entry) they came with, bytes and all.
//! A file is written by the commit that adds its post ([`Commit::attachments`]), so a post
//! and its files are one atomic write, and it has that post's visibility.

use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::case_log::Commit;
use crate::attachment::{file_name, media_type};
use crate::event::{Event, EventKind};
use crate::ids::CaseNumber;
use crate::limits::{MAX_ATTACHMENT_ID, MAX_MEDIA_TYPE};
use crate::model::{Visibility, sha256_hex};

/// What is known of a kept file: everything but its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentInfo {
    /// Its id, unique in the store.
    pub id: String,
    /// The case it belongs to.
    pub case: CaseNumber,
    /// The timeline entry (event `seq`) it came with: a post or a received email.
    pub entry: u64,
    /// Its file name: no directory part, one line, no control character, at most
    /// [`MAX_FILE_NAME`](crate::limits::MAX_FILE_NAME) characters.
    pub file_name: String,
    /// The content type the sender declared (lower-case `type/subtype`).
    pub declared_type: String,
    /// The content type its bytes show ([`sniff`](crate::attachment::sniff)).
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
    /// Who may see it: its entry's visibility.
    pub visibility: Visibility,
    /// Who added it (its entry's actor).
    pub added_by: String,
    /// When (its entry's time).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub added_at: Timestamp,
}

/// A kept file with its bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentFile {
    /// What is known of it.
    pub info: AttachmentInfo,
    /// Its bytes (standard base64 in JSON).
    #[serde(with = "super::quarantine::base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub bytes: Vec<u8>,
}

impl fmt::Debug for AttachmentFile {
    // the bytes may be tens of MiB: a debug print shows their count
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachmentFile")
            .field("info", &self.info)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .finish()
    }
}

/// Files kept with posts. Written only by [`CaseLog::commit`](super::CaseLog::commit),
/// with their post, after [`check_attachments`].
#[async_trait]
pub trait Attachments: Send + Sync {
    /// The files of a case without their bytes, in entry order (then id order).
    ///
    /// MUST return `NotFound` for an unknown case.
    async fn attachment_list(&self, case: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError>;

    /// One file with its bytes. MUST return `NotFound` when there is none with `id`.
    async fn attachment_get(&self, id: String) -> Result<AttachmentFile, StoreError>;
}

/// What every store checks of a commit's files before writing anything: each belongs to
/// the commit's case and to a post or received email of the commit, with that entry's
/// visibility, actor and time; its name and types are as core keeps them; its size and
/// SHA-256 are its bytes'; no id is used twice. `Invalid` otherwise. (An id the store
/// already holds is the store's `Duplicate`.)
pub fn check_attachments(commit: &Commit) -> Result<(), StoreError> {
    check_files(commit.number, &commit.events, &commit.attachments)
}

/// The checks of [`check_attachments`] for `files` of case `number` against `events`: a
/// commit's new events, or a whole history an import writes
/// ([`CaseRecord::attachments`](super::CaseRecord::attachments)).
pub fn check_files(
    number: CaseNumber,
    events: &[Event],
    files: &[AttachmentFile],
) -> Result<(), StoreError> {
    let invalid = |id: &str, why: String| StoreError::Invalid(format!("attachment {id:?}: {why}"));
    for (i, file) in files.iter().enumerate() {
        let a = &file.info;
        if a.id.is_empty() || a.id.len() > MAX_ATTACHMENT_ID || !a.id.is_ascii() {
            return Err(invalid(
                &a.id,
                format!("the id must be 1 to {MAX_ATTACHMENT_ID} ASCII characters"),
            ));
        }
        if files[..i].iter().any(|o| o.info.id == a.id) {
            return Err(invalid(&a.id, "the id is used twice in one commit".into()));
        }
        if a.case != number {
            return Err(invalid(&a.id, format!("it belongs to case {}", a.case)));
        }
        let entry = events.iter().find(|e| e.seq == a.entry);
        let visibility = match entry.map(|e| &e.kind) {
            Some(EventKind::PostAdded { visibility, .. })
            | Some(EventKind::EmailReceived { visibility, .. }) => *visibility,
            _ => {
                return Err(invalid(
                    &a.id,
                    format!(
                        "entry {} is no post or email of this case's events",
                        a.entry
                    ),
                ));
            }
        };
        if a.visibility != visibility {
            return Err(invalid(
                &a.id,
                format!("it is {} but its entry is {}", a.visibility, visibility),
            ));
        }
        if let Some(e) = entry
            && (e.actor != a.added_by || e.at != a.added_at)
        {
            return Err(invalid(
                &a.id,
                "who added it and when must be its entry's".into(),
            ));
        }
        if file_name(&a.file_name).as_deref() != Some(a.file_name.as_str()) {
            return Err(invalid(
                &a.id,
                format!(
                    "the file name {:?} must be one line, without a directory or control \
                     characters, at most {} characters",
                    a.file_name,
                    crate::limits::MAX_FILE_NAME
                ),
            ));
        }
        for (what, t) in [("declared", &a.declared_type), ("content", &a.content_type)] {
            if t.len() > MAX_MEDIA_TYPE || media_type(t).as_deref() != Some(t.as_str()) {
                return Err(invalid(
                    &a.id,
                    format!("the {what} type {t:?} is not a lower-case type/subtype"),
                ));
            }
        }
        if a.size != file.bytes.len() as u64 {
            return Err(invalid(
                &a.id,
                format!(
                    "its size is {} but it has {} bytes",
                    a.size,
                    file.bytes.len()
                ),
            ));
        }
        if a.sha256 != sha256_hex(&file.bytes) {
            return Err(invalid(&a.id, "its sha256 is not its bytes'".into()));
        }
    }
    Ok(())
}
