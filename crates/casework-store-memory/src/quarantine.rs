//! Quarantine in memory: refused inbound messages in a list, in the order they were kept.

use async_trait::async_trait;
use casework_core::ports::{
    Quarantine, QuarantineAfter, QuarantineEntry, QuarantinedMessage, StoreError,
};

use crate::MemoryStore;

#[async_trait]
impl Quarantine for MemoryStore {
    async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.quarantine.iter().any(|m| m.id == message.id) {
            return Err(StoreError::Duplicate(format!(
                "quarantined message {}",
                message.id
            )));
        }
        inner.quarantine.push(message);
        Ok(())
    }

    async fn quarantine_list(
        &self,
        after: Option<QuarantineAfter>,
        limit: u32,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        let mut all: Vec<QuarantineEntry> = self
            .lock()
            .quarantine
            .iter()
            .map(QuarantinedMessage::entry)
            .filter(|e| {
                after
                    .as_ref()
                    .is_none_or(|a| (e.received_at, &e.id) > (a.received_at, &a.id))
            })
            .collect();
        all.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        all.truncate(limit as usize);
        Ok(all)
    }

    async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError> {
        self.lock()
            .quarantine
            .iter()
            .find(|m| m.id == id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("quarantined message {id}")))
    }

    async fn quarantine_remove(&self, id: String) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let before = inner.quarantine.len();
        inner.quarantine.retain(|m| m.id != id);
        if inner.quarantine.len() == before {
            return Err(StoreError::NotFound(format!("quarantined message {id}")));
        }
        Ok(())
    }
}
