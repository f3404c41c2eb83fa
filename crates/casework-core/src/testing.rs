//! Deterministic port implementations and fixtures for tests and snapshots, in this crate
//! and in adapters' tests (no I/O, so they live in core).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::event::Opened;
use crate::ids::{CaseNumber, EmailAddress, StatusName};
use crate::model::{
    Case, Category, ContactTally, Customer, Origin, OutboxMessage, OutboxStatus, Priority,
    StatusCategory, TemplateName,
};
use crate::ports::{CaseStore, Clock, IdGenerator};
use crate::service::CaseService;
use crate::{Templates, WorkflowConfig};

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
        email_thread: None,
        last_customer_reply_at: None,
    }
}

/// A service over `store` with the default workflow and templates, a [`FixedClock`] and
/// [`SequentialIds`]: what tests and benchmarks need to drive a store or a server.
pub fn service(store: Arc<dyn CaseStore>) -> CaseService {
    let templates = match Templates::embedded() {
        Ok(t) => t,
        Err(e) => panic!("the embedded templates must load: {e}"),
    };
    CaseService::new(
        store,
        Arc::new(FixedClock::default()),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(templates),
    )
}

/// A new web case titled `title`, from customer `c@customer.example`, as a front-end would
/// ask the service to open it (the request behind [`opened`]).
pub fn new_case(title: &str) -> crate::workflow::NewCase {
    crate::workflow::NewCase {
        title: title.into(),
        description: "d".into(),
        origin: Origin::Web,
        priority: Priority::Low,
        customer: Customer {
            name: "c".into(),
            email: EmailAddress::trusted("c@customer.example"),
            phone: None,
            account: None,
        },
        product: None,
        product_version: None,
    }
}

/// The default workflow as an organization may rename it (as the reopen seed says, one
/// organization's "New" is another's "Open"): `New` renamed to `Open`, `Closed` to
/// `Resolved`, for tests of cases left in a status the file no longer has.
pub fn renamed_workflow() -> WorkflowConfig {
    let text = crate::config::DEFAULT_WORKFLOW
        .replace(r#"name = "New""#, r#"name = "Open""#)
        .replace(r#"initial_status = "New""#, r#"initial_status = "Open""#)
        .replace(r#"reopen_status = "New""#, r#"reopen_status = "Open""#)
        .replace(r#"name = "Closed""#, r#"name = "Resolved""#)
        .replace(r#""Closed""#, r#""Resolved""#);
    match WorkflowConfig::parse(&text) {
        Ok(c) => c,
        Err(e) => panic!("the renamed default workflow must parse: {e}"),
    }
}

/// An `opened` event for a web case titled `title`, from customer `c@customer.example`.
pub fn opened(title: &str) -> Opened {
    Opened {
        title: title.into(),
        description: "d".into(),
        origin: Origin::Web,
        priority: Priority::Low,
        customer: Customer {
            name: "c".into(),
            email: EmailAddress::trusted("c@customer.example"),
            phone: None,
            account: None,
        },
        product: None,
        product_version: None,
        status: StatusName::trusted("New"),
        category: StatusCategory::Open,
    }
}

/// A queued follow-up to a non-ASCII customer of [`sample_case`], never tried: the case's
/// second email, replying to its first (`m0`).
pub fn sample_message() -> OutboxMessage {
    OutboxMessage {
        id: "m1".into(),
        case: sample_case().number,
        template: TemplateName::FollowUp,
        from_name: "Example Corp Support".into(),
        from: EmailAddress::trusted("support@example.com"),
        to_name: "Zoë Ångström".into(),
        to: EmailAddress::trusted("zoe@kunde.example"),
        subject: "[Case 00001027] Follow-up: Ошибка публикации".into(),
        body: "Hello Zoë,\n\nThe data store was not registered.\n".into(),
        message_id: "m1.case-00001027@example.com".into(),
        thread_id: "m0.case-00001027@example.com".into(),
        in_reply_to: Some("m0.case-00001027@example.com".into()),
        status: OutboxStatus::Queued,
        attempts: 0,
        last_error: None,
        created_at: START,
        next_attempt_at: START,
        claimed_by: None,
        claimed_until: None,
        sent_at: None,
    }
}

/// Reads `Name: value` lines up to the first blank line; the rest is the body. Refuses
/// bytes without a `From` line, as a real parser refuses what is no email. For tests of a
/// front-end's mail routes and pages; the MIME parser is `casework-mail`'s.
pub struct HeaderParser;

impl crate::ports::MailParser for HeaderParser {
    fn parse(&self, raw: &[u8]) -> Result<crate::inbound::InboundMessage, String> {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let from = field("From:").ok_or("not an email: no header found")?;
        Ok(crate::inbound::InboundMessage {
            message_id: field("Message-ID:"),
            in_reply_to: vec![],
            references: vec![],
            from: Some(crate::inbound::Mailbox::new(None, &from)),
            reply_to: vec![],
            to: vec![],
            cc: vec![],
            delivered_to: vec![],
            subject: field("Subject:").unwrap_or_default(),
            date: None,
            body: body.trim().to_string(),
            body_source: crate::inbound::BodySource::Plain,
            attachments: vec![],
            auto_signals: vec![],
            bounce: None,
            thread_index: None,
            digest: crate::inbound::digest(raw),
            size: raw.len(),
        })
    }
}
