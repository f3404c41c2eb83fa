//! Time and ids, through ports so tests and snapshots are deterministic.

use async_trait::async_trait;
use jiff::Timestamp;

/// The time, through a port so tests and snapshots are deterministic.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Waits about `backoff` (the service's pause between two attempts at a contended
    /// write; a wall clock may add jitter). Test clocks return at once, which is the default.
    async fn pause(&self, backoff: std::time::Duration) {
        let _ = backoff;
    }
}

/// Unique ids for outbox messages and other records.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new id, unique across processes for production generators.
    fn new_id(&self) -> String;
}
