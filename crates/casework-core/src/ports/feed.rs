//! The change feed: every committed event at a global position, for consumers that follow
//! what happens to cases without polling each case.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::event::Event;
use crate::ids::EmailAddress;

/// A committed event and its place in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedEntry {
    /// The event's position: unique, increasing in commit order, stable for ever.
    pub position: u64,
    /// The event.
    pub event: Event,
}

/// The change feed.
///
/// Every event a commit (or a create) writes gets a **position** in the same atomic write:
/// positions are unique and increase in commit order across all cases, and never change
/// (not across restarts, compaction or upgrades). They may skip numbers, so a consumer
/// keeps the last position it handled, never a count. Events of one commit have
/// consecutive positions in their case order.
///
/// The guarantee a consumer relies on: once a read has returned an event at position `p`,
/// no event at a position below `p` appears later (a store whose writers commit in
/// parallel must hold back an event until every lower position is committed or abandoned).
/// So a consumer that reads after its stored position sees every committed event exactly
/// once, in commit order, and in `seq` order per case.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Up to `limit` committed events with a position above `after`, in position order;
    /// with `customer`, only the events of cases whose customer is that address (every
    /// event of those cases: what the customer may see of each is core's to decide). An
    /// empty list when there is nothing after `after`. Errors: `Unavailable`, `Internal`.
    async fn feed(
        &self,
        after: u64,
        limit: u32,
        customer: Option<EmailAddress>,
    ) -> Result<Vec<FeedEntry>, StoreError>;
}
