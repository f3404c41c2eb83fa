//! The change feed in memory: each event's case and seq in commit order, under the one
//! lock every write takes, so a position is visible only with everything before it.

use async_trait::async_trait;
use casework_core::ids::EmailAddress;
use casework_core::ports::{ChangeFeed, FeedEntry, StoreError};

use crate::MemoryStore;

#[async_trait]
impl ChangeFeed for MemoryStore {
    async fn feed(
        &self,
        after: u64,
        limit: u32,
        customer: Option<EmailAddress>,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let inner = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for (i, (n, seq)) in inner.feed.iter().enumerate().skip(start) {
            if out.len() >= limit as usize {
                break;
            }
            let record = inner.cases.get(n).ok_or_else(|| {
                StoreError::Internal(format!("the feed names case {n}, which is not stored"))
            })?;
            if customer
                .as_ref()
                .is_some_and(|c| *c != record.case.customer.email)
            {
                continue;
            }
            let event = usize::try_from(*seq)
                .ok()
                .and_then(|s| record.events.get(s.wrapping_sub(1)))
                .ok_or_else(|| {
                    StoreError::Internal(format!("the feed names event {seq} of case {n}"))
                })?;
            out.push(FeedEntry {
                position: i as u64 + 1,
                event: event.clone(),
            });
        }
        Ok(out)
    }
}
