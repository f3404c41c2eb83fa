//! Mailbox positions in memory: a map from mailbox key to position.

use async_trait::async_trait;
use casework_core::ports::{MailboxPosition, MailboxPositions, StoreError};

use crate::MemoryStore;

#[async_trait]
impl MailboxPositions for MemoryStore {
    async fn mailbox_position(
        &self,
        mailbox: String,
    ) -> Result<Option<MailboxPosition>, StoreError> {
        Ok(self.lock().mailboxes.get(&mailbox).copied())
    }

    async fn advance_mailbox_position(
        &self,
        mailbox: String,
        position: MailboxPosition,
    ) -> Result<MailboxPosition, StoreError> {
        let mut inner = self.lock();
        let saved = position.over(inner.mailboxes.get(&mailbox).copied());
        inner.mailboxes.insert(mailbox, saved);
        Ok(saved)
    }
}
