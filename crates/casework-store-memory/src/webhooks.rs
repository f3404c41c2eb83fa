//! Webhooks in memory: endpoints, and the deliveries [`fan_out`] makes for each event as it
//! enters the feed, under the one lock the commit holds.

use async_trait::async_trait;
use casework_core::event::Event;
use casework_core::model::OutboxStatus;
use casework_core::ports::{DeliveryOutcome, StoreError, Webhooks};
use casework_core::webhook::{WebhookDelivery, WebhookEndpoint, fan_out};
use jiff::Timestamp;

use crate::{Inner, MemoryStore};

impl Inner {
    /// Appends `event` of case `n` to the feed, with its webhook deliveries.
    pub(crate) fn append_feed(&mut self, n: u64, event: &Event) {
        self.feed.push((n, event.seq));
        let position = self.feed.len() as u64;
        let made = fan_out(&self.webhooks, position, event);
        self.deliveries.extend(made);
    }
}

#[async_trait]
impl Webhooks for MemoryStore {
    async fn webhook_add(&self, endpoint: WebhookEndpoint) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.webhooks.iter().any(|e| e.id == endpoint.id) {
            return Err(StoreError::Duplicate(format!("webhook {}", endpoint.id)));
        }
        inner.webhooks.push(endpoint);
        Ok(())
    }

    async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        Ok(self.lock().webhooks.clone())
    }

    async fn webhook_remove(
        &self,
        id: String,
        at: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut inner = self.lock();
        let e = inner
            .webhooks
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
        e.removed_at.get_or_insert(at);
        Ok(e.clone())
    }

    async fn webhook_deliveries(
        &self,
        endpoint: String,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let inner = self.lock();
        if !inner.webhooks.iter().any(|e| e.id == endpoint) {
            return Err(StoreError::NotFound(format!("webhook {endpoint}")));
        }
        Ok(inner
            .deliveries
            .iter()
            .rev()
            .filter(|d| d.endpoint == endpoint)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn webhook_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut claimed = Vec::new();
        // deliveries are in position order: the first queued one of each endpoint and case
        // is the only one that may go
        let mut waiting = std::collections::BTreeSet::new();
        for d in inner.deliveries.iter_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            if d.status != OutboxStatus::Queued {
                continue;
            }
            if !waiting.insert((d.endpoint.clone(), d.case)) {
                continue;
            }
            let live = inner
                .webhooks
                .iter()
                .any(|e| e.id == d.endpoint && e.removed_at.is_none());
            if live && d.claimable(now) {
                d.claim(&worker, until);
                claimed.push(d.clone());
            }
        }
        Ok(claimed)
    }

    async fn webhook_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
        response_status: Option<u16>,
    ) -> Result<WebhookDelivery, StoreError> {
        let mut inner = self.lock();
        let d = delivery_mut(&mut inner.deliveries, &id)?;
        d.record(&worker, now, outcome, response_status)?;
        Ok(d.clone())
    }

    async fn webhook_redeliver(
        &self,
        id: String,
        now: Timestamp,
    ) -> Result<WebhookDelivery, StoreError> {
        let mut inner = self.lock();
        let d = delivery_mut(&mut inner.deliveries, &id)?;
        d.requeue(now);
        Ok(d.clone())
    }
}

fn delivery_mut<'a>(
    all: &'a mut [WebhookDelivery],
    id: &str,
) -> Result<&'a mut WebhookDelivery, StoreError> {
    all.iter_mut()
        .find(|d| d.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("webhook delivery {id}")))
}
