//! The outbox in memory: messages in the order they were queued, each with its claim.

use async_trait::async_trait;
use casework_core::ids::CaseNumber;
use casework_core::model::{OutboxMessage, OutboxStatus};
use casework_core::ports::{DeliveryOutcome, OutboxAction, OutboxQueue, StoreError};
use jiff::Timestamp;

use crate::MemoryStore;

#[async_trait]
impl OutboxQueue for MemoryStore {
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| status.is_none_or(|s| s == m.status))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| m.case == case)
            .cloned()
            .collect())
    }

    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut inner = self.lock();
        let mut claimed = Vec::new();
        for m in inner.outbox.iter_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            let free = m.claimed_until.is_none_or(|u| u <= now);
            if m.status == OutboxStatus::Queued && m.next_attempt_at <= now && free {
                m.claimed_by = Some(worker.clone());
                m.claimed_until = Some(until);
                claimed.push(m.clone());
            }
        }
        Ok(claimed)
    }

    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError> {
        let mut inner = self.lock();
        let m = message_mut(&mut inner.outbox, &id)?;
        if m.claimed_by.as_deref() != Some(worker.as_str()) || m.status != OutboxStatus::Queued {
            return Err(StoreError::ClaimLost(id));
        }
        m.attempts += 1;
        m.claimed_by = None;
        m.claimed_until = None;
        match outcome {
            DeliveryOutcome::Sent => {
                m.status = OutboxStatus::Sent;
                m.sent_at = Some(now);
            }
            DeliveryOutcome::Retry { error, at } => {
                m.last_error = Some(error);
                m.next_attempt_at = at;
            }
            DeliveryOutcome::Failed { error } => {
                m.status = OutboxStatus::Failed;
                m.last_error = Some(error);
            }
        }
        Ok(m.clone())
    }

    async fn outbox_bounced(&self, id: String, error: String) -> Result<OutboxMessage, StoreError> {
        let mut inner = self.lock();
        let m = message_mut(&mut inner.outbox, &id)?;
        m.status = OutboxStatus::Failed;
        m.last_error = Some(error);
        m.claimed_by = None;
        m.claimed_until = None;
        Ok(m.clone())
    }

    async fn outbox_act(
        &self,
        id: String,
        action: OutboxAction,
        now: Timestamp,
    ) -> Result<OutboxMessage, StoreError> {
        let mut inner = self.lock();
        let m = message_mut(&mut inner.outbox, &id)?;
        if let Some(why) = action.refused(m, now) {
            return Err(StoreError::Invalid(why));
        }
        m.status = action.status_after();
        m.claimed_by = None;
        m.claimed_until = None;
        if action == OutboxAction::Retry {
            m.attempts = 0;
            m.next_attempt_at = now;
        }
        Ok(m.clone())
    }
}

/// Outbox message `id`, to change; `NotFound` when there is none.
fn message_mut<'a>(
    outbox: &'a mut [OutboxMessage],
    id: &str,
) -> Result<&'a mut OutboxMessage, StoreError> {
    outbox
        .iter_mut()
        .find(|m| m.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("outbox message {id}")))
}
