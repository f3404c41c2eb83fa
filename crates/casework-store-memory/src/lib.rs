//! The in-memory case store: the reference adapter. Read this before writing a new store.
//!
//! Everything lives in one `Mutex<Inner>`, so every method is trivially atomic: it checks all
//! it must check, then changes state, and never awaits while holding the lock. Each store
//! capability of core's ports is implemented in a file of its own, named as the port's:
//! `case_log.rs`, `directory.rs`, `knowledge.rs`, `case_queries.rs` (search is a plain BM25
//! over passages, a document's head and each event's text, built on the fly and ranked as
//! the SQLite store ranks them: linear in the number of cases, fine for tests, demos and
//! small embedded uses, and obviously correct), `reports.rs`, `outbox.rs`,
//! `diagnostics.rs`, `sessions.rs`, `feed.rs`, `webhooks.rs` and `attachments.rs`. Together they make a whole
//! [`casework_core::ports::CaseStore`]; `transfer.rs` adds
//! [`casework_core::ports::StoreTransfer`] (`casework store copy`).

mod attachments;
mod case_log;
mod case_queries;
mod diagnostics;
mod directory;
mod feed;
mod knowledge;
mod mailbox;
mod outbox;
mod quarantine;
mod reports;
mod sessions;
mod surroundings;
mod transfer;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use casework_core::event::Event;
use casework_core::model::{ApiToken, Article, Case, Defect, OutboxMessage, Person};
use casework_core::ports::{Session, SignInLink};
use jiff::Timestamp;

/// A case store held in memory; everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_number: u64,
    cases: BTreeMap<u64, Record>,
    people: BTreeMap<String, Person>,
    last_article: u64,
    articles: BTreeMap<u64, Article>,
    defects: BTreeMap<String, Defect>,
    /// Outbox messages in the order they were queued.
    outbox: Vec<OutboxMessage>,
    /// API tokens in the order they were made.
    tokens: Vec<ApiToken>,
    /// Idempotency keys: fingerprint and the case they created.
    keys: BTreeMap<String, (String, u64)>,
    /// The change feed: every event's case and seq in commit order; position = index + 1.
    feed: Vec<(u64, u64)>,
    /// Staff password hashes by person.
    passwords: BTreeMap<String, String>,
    /// Sessions by id.
    sessions: BTreeMap<String, Session>,
    /// Unused sign-in links by hash.
    links: BTreeMap<String, SignInLink>,
    /// Failed sign-ins: key and time.
    failures: Vec<(String, Timestamp)>,
    /// Refused inbound messages in the order they were kept.
    quarantine: Vec<casework_core::ports::QuarantinedMessage>,
    /// Webhook endpoints in the order they were added.
    webhooks: Vec<casework_core::webhook::WebhookEndpoint>,
    /// Webhook deliveries in position order (then endpoint order).
    deliveries: Vec<casework_core::webhook::WebhookDelivery>,
    /// IMAP mailbox positions by mailbox key.
    mailboxes: BTreeMap<String, casework_core::ports::MailboxPosition>,
    /// Attached files by id, written by the commits of their posts.
    attachments: BTreeMap<String, casework_core::ports::AttachmentFile>,
}

#[derive(Debug, Clone)]
struct Record {
    case: Case,
    events: Vec<Event>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock cannot leave Inner half-written (every
        // method checks before it writes), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    casework_store_conformance::suite!(std::sync::Arc::new(crate::MemoryStore::new()));
    casework_store_conformance::transfer_suite!(std::sync::Arc::new(crate::MemoryStore::new()));
}
