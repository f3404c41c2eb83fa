//! Webhooks in the store: endpoints admins register, and the deliveries each commit writes
//! for them in its own transaction (the outbox pattern), claimed by delivery workers in
//! order per endpoint and case.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{DeliveryOutcome, StoreError};
use crate::webhook::{WebhookDelivery, WebhookEndpoint};

/// Webhook endpoints and their deliveries.
///
/// **The commit's part.** Every event a store appends to the change feed
/// ([`super::ChangeFeed`]) gets, in the same atomic write, the deliveries
/// [`crate::webhook::fan_out`] makes for it from the endpoints registered at that moment
/// (not removed): a committed event is never without them, a refused commit writes none.
///
/// **Order.** A delivery is claimed only when no delivery of the same endpoint and case at a
/// lower position is still queued, so an endpoint receives each case's events in order,
/// and a retry holds back the case's later events (other cases go on).
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Registers an endpoint. MUST return `Duplicate` for an id already used.
    async fn webhook_add(&self, endpoint: WebhookEndpoint) -> Result<(), StoreError>;

    /// Every endpoint, removed ones too, oldest first.
    async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Removes an endpoint at `at`: it gets no new deliveries and its queued ones are never
    /// claimed; its log stays. Removing it again changes nothing. MUST return `NotFound`
    /// for an unknown id.
    async fn webhook_remove(
        &self,
        id: String,
        at: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// The delivery log of an endpoint, newest first, at most `limit`. MUST return
    /// `NotFound` for an unknown endpoint.
    async fn webhook_deliveries(
        &self,
        endpoint: String,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Claims, for `worker` until `until`, up to `limit` queued deliveries due at `now`
    /// whose claim is free or lapsed, whose endpoint is not removed, and that have no
    /// queued delivery of the same endpoint and case at a lower position; lowest position
    /// first. Two workers never hold the same delivery.
    async fn webhook_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Records an attempt by the worker holding the claim (with the HTTP status the
    /// endpoint answered, if it answered) and releases the claim. MUST return `NotFound`
    /// for an unknown id and `ClaimLost` when `worker` no longer holds the claim, writing
    /// nothing.
    async fn webhook_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
        response_status: Option<u16>,
    ) -> Result<WebhookDelivery, StoreError>;

    /// Queues a delivery again, due at `now`, with its attempts counted from zero and its
    /// claim released (manual redelivery): the same id and payload. MUST return `NotFound`
    /// for an unknown id.
    async fn webhook_redeliver(
        &self,
        id: String,
        now: Timestamp,
    ) -> Result<WebhookDelivery, StoreError>;
}
