//! Diagnostics in memory: counts over everything held.

use async_trait::async_trait;
use casework_core::model::{Case, OutboxStatus};
use casework_core::ports::{Diagnostics, StatusCount, StoreError, StoreStats};

use crate::MemoryStore;

/// How many cases are in each status, statuses compared without case (as SQLite's
/// `COLLATE NOCASE` column does), in the first spelling met.
fn status_counts<'a>(cases: impl Iterator<Item = &'a Case>) -> Vec<StatusCount> {
    let mut out: Vec<StatusCount> = Vec::new();
    for c in cases {
        match out.iter_mut().find(|s| s.status.same(c.status.as_str())) {
            Some(s) => s.cases += 1,
            None => out.push(StatusCount {
                status: c.status.clone(),
                cases: 1,
            }),
        }
    }
    out
}

#[async_trait]
impl Diagnostics for MemoryStore {
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let inner = self.lock();
        Ok(StoreStats {
            cases: inner.cases.len() as u64,
            events: inner.cases.values().map(|r| r.events.len() as u64).sum(),
            queued_messages: inner
                .outbox
                .iter()
                .filter(|m| m.status == OutboxStatus::Queued)
                .count() as u64,
            people: inner.people.len() as u64,
            schema_version: None,
            statuses: status_counts(inner.cases.values().map(|r| &r.case)),
        })
    }
}
