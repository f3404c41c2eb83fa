//! Mailbox positions: how far an IMAP poller has read each mailbox (its UIDVALIDITY and the
//! last UID taken), saved after the messages it took are committed, so a restart neither
//! reads them again nor skips any.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Where reading one mailbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailboxPosition {
    /// The mailbox's UIDVALIDITY when its UIDs were read: UIDs under another value name
    /// other messages.
    pub uid_validity: u32,
    /// The highest UID taken (committed); the next read starts above it.
    pub last_uid: u32,
}

impl MailboxPosition {
    /// What is saved after `self` is saved over `saved`, by the rule of
    /// [`MailboxPositions::advance_mailbox_position`]: the higher `last_uid` under the same
    /// UIDVALIDITY, else `self`.
    pub fn over(self, saved: Option<MailboxPosition>) -> MailboxPosition {
        match saved {
            Some(s) if s.uid_validity == self.uid_validity && s.last_uid > self.last_uid => s,
            _ => self,
        }
    }
}

/// How far each mailbox has been read, by a key naming the mailbox (the IMAP URL without
/// its password and options).
#[async_trait]
pub trait MailboxPositions: Send + Sync {
    /// The saved position of `mailbox`; `None` when it was never read.
    async fn mailbox_position(
        &self,
        mailbox: String,
    ) -> Result<Option<MailboxPosition>, StoreError>;

    /// Saves `position` for `mailbox` and returns what is saved after it. A position under
    /// the saved UIDVALIDITY never moves back (two pollers on one mailbox may finish out
    /// of order): the higher `last_uid` is kept. A position under another UIDVALIDITY
    /// replaces the saved one (the mailbox was recreated). Atomic: two concurrent calls
    /// end with one of the results the rule allows, never a mix.
    async fn advance_mailbox_position(
        &self,
        mailbox: String,
        position: MailboxPosition,
    ) -> Result<MailboxPosition, StoreError>;
}
