//! Diagnostics: what a store holds, counted, for `casework doctor` and for finding cases
//! stranded in a status the workflow file no longer has.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::StatusName;

/// Counts for `casework doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreStats {
    /// Cases.
    pub cases: u64,
    /// Events.
    pub events: u64,
    /// Outbox messages still queued.
    pub queued_messages: u64,
    /// Registered people.
    pub people: u64,
    /// Schema version, for stores that have one.
    pub schema_version: Option<u32>,
    /// How many cases are in each status (as stored), by status name.
    #[serde(default)]
    pub statuses: Vec<StatusCount>,
}

/// How many cases are in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    /// The status, as the cases store it.
    pub status: StatusName,
    /// How many cases are in it.
    pub cases: u64,
}

/// Counts.
#[async_trait]
pub trait Diagnostics: Send + Sync {
    /// Counts of what the store holds, and how many cases are in each status (statuses
    /// compared without case).
    async fn stats(&self) -> Result<StoreStats, StoreError>;
}
