//! Casework's core: the support-case workflow as a pure state machine, with its ports.
//!
//! Where to start reading:
//!
//! - [`model`] — the vocabulary: [`Case`](model::Case), people, timeline value types.
//! - [`event`] — the history, and `evolve` ([`Event::evolve`](event::Event::evolve)).
//! - [`workflow`] — `decide`: commands, refusals, the closing checklist, the non-response policy.
//! - [`config`] — the workflow file: statuses, transitions, permissions, closing rules.
//! - [`documents`] — the emails and the case-summary draft (minijinja templates).
//! - [`inbound`] — a parsed inbound email: senders, thread ids, text, attachments, auto-reply
//!   and bounce signals (the mail adapter parses; core decides).
//! - [`ports`] — what core needs from outside: the store by capability (the case log,
//!   queries, reports, the directory, knowledge, the outbox, diagnostics), clock, ids, mail.
//! - [`reply_token`] — the signed token in outgoing Message-IDs and the plus-addressed
//!   `Reply-To`, and checking it on the way in.
//! - [`limits`] — every limit on input, for checks, the API document and the CLI.
//! - [`service`] — the application service both front-ends drive.
//! - [`webhook`] — webhook endpoints, the deliveries commits write for them, their
//!   Standard Webhooks signature and the SSRF rules for their URLs.
//! - [`transfer`] — copying a whole store to another (`casework store copy`).
//! - [`exchange`] — `casework export` and `casework import` (NDJSON and other sources).
//!
//! **Architecture invariant:** this crate does no I/O. It depends on no database, HTTP,
//! CLI or mail library and on no async runtime; time and ids come through ports, and
//! configuration and templates arrive as text.

pub mod attachment;
pub mod config;
pub mod delivery;
pub mod documents;
pub mod event;
pub mod exchange;
pub mod ids;
pub mod inbound;
pub mod input;
pub mod limits;
pub mod model;
pub mod ports;
pub mod protocol;
pub mod query;
pub mod reply_token;
pub mod report;
pub mod service;
pub mod testing;
pub mod text;
pub mod transfer;
pub mod webhook;
pub mod workflow;

pub use config::WorkflowConfig;
pub use documents::Templates;
pub use event::{Event, EventKind};
pub use ids::{CaseNumber, EmailAddress, StatusName};
pub use model::Case;
pub use ports::{CaseStore, StoreError};
pub use service::{CaseService, ServiceError};
pub use workflow::{Command, WorkflowError};
