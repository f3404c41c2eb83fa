//! Quarantine: inbound messages the pipeline refused, kept whole with when they came, from
//! which input and why, so nothing that arrives is silently lost.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A refused inbound message, kept as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantinedMessage {
    /// Its id in the quarantine, unique.
    pub id: String,
    /// When it arrived.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: Timestamp,
    /// The input it came from (`ingest`, `http`, `imap`).
    pub source: String,
    /// Why the pipeline refused it.
    pub reason: String,
    /// The message's bytes, exactly as they arrived.
    pub raw: Vec<u8>,
}

/// Refused inbound messages.
#[async_trait]
pub trait Quarantine: Send + Sync {
    /// Keeps `message`. `Duplicate` if its id is taken (nothing written).
    async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError>;

    /// Up to `limit` kept messages, oldest first (ties by id).
    async fn quarantine_list(&self, limit: u32) -> Result<Vec<QuarantinedMessage>, StoreError>;

    /// One kept message; `NotFound` if there is none with `id`.
    async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError>;

    /// Removes a kept message; `NotFound` if there is none with `id`.
    async fn quarantine_remove(&self, id: String) -> Result<(), StoreError>;
}
