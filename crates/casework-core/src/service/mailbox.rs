//! How far the IMAP poller has read each mailbox: read before a run, saved after each
//! batch's messages are committed, so a restart neither reads them again nor skips any. The
//! poller (the CLI's composition of the IMAP adapter) acts with `ingest_mail`, as it does
//! for the messages themselves.

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::model::Actor;
use crate::ports::MailboxPosition;

impl CaseService {
    /// The saved position of `mailbox` (its key: the IMAP URL without password or
    /// options); `None` when it was never read.
    pub async fn mailbox_position(
        &self,
        actor: &Actor,
        mailbox: &str,
    ) -> Result<Option<MailboxPosition>, ServiceError> {
        self.require(actor, Permission::IngestMail, "read mailbox positions")?;
        Ok(self.store.mailbox_position(mailbox.to_string()).await?)
    }

    /// Saves how far `mailbox` has been read, once the messages up to `position` are
    /// committed; it never moves back under one UIDVALIDITY. What is saved after it.
    pub async fn save_mailbox_position(
        &self,
        actor: &Actor,
        mailbox: &str,
        position: MailboxPosition,
    ) -> Result<MailboxPosition, ServiceError> {
        self.require(actor, Permission::IngestMail, "save mailbox positions")?;
        Ok(self
            .store
            .advance_mailbox_position(mailbox.to_string(), position)
            .await?)
    }
}
