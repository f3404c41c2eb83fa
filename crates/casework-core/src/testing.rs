//! Deterministic port implementations and fixtures for tests and snapshots, in this crate
//! and in adapters' tests (no I/O, so they live in core).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};

use crate::ids::{CaseNumber, EmailAddress, StatusName};
use crate::model::{Case, Category, ContactTally, Customer, Origin, Priority, StatusCategory};
use crate::ports::{Clock, IdGenerator};

/// A clock that says what it is told; starts at 2026-01-05 09:00 UTC.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

/// The time a [`FixedClock`] starts at.
pub const START: Timestamp = Timestamp::constant(1_767_603_600, 0);

impl Default for FixedClock {
    fn default() -> Self {
        Self(Mutex::new(START))
    }
}

impl FixedClock {
    /// A clock at `t`.
    pub fn at(t: Timestamp) -> Self {
        Self(Mutex::new(t))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.saturating_add(by).unwrap_or(*t);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Ids `m1`, `m2`, … in order.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> String {
        format!("m{}", self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// A plausible case, used to trial-render templates and in tests.
pub fn sample_case() -> Case {
    Case {
        number: CaseNumber::new(1027).unwrap_or(CaseNumber::MIN),
        version: 1,
        title: "Sample title".into(),
        description: "Sample description".into(),
        status: StatusName::trusted("New"),
        status_category: StatusCategory::Open,
        priority: Priority::Medium,
        origin: Origin::Email,
        customer: Customer {
            name: "Sample Customer".into(),
            email: EmailAddress::trusted("customer@example.com"),
            phone: Some("+1 555 0199".into()),
            account: Some("Sample Account".into()),
        },
        owner: Some("Sample Agent".into()),
        product: Some("Product".into()),
        product_version: Some("1.0".into()),
        category: Category::default(),
        resolution: None,
        close_mode: None,
        reopen_count: 0,
        title_reviewed: false,
        last_post: None,
        contacts: ContactTally::default(),
        links: Vec::new(),
        opened_by: "Sample Agent".into(),
        created_at: START,
        updated_at: START,
        closed_at: None,
    }
}
