//! Email delivery adapters for the mailer port, chosen by URL:
//!
//! - `dir://PATH` writes each message as an RFC 5322 `.eml` file (what any mail client
//!   opens), named after its Message-ID, so a resend replaces the file instead of adding one;
//! - `smtp://[user:pass@]host[:port]` and `smtps://…` send through an SMTP server (see
//!   [`smtp`]: STARTTLS or implicit TLS, plain only on loopback, optional auth, timeouts);
//! - `log://` only logs a line per message (development).
//!
//! Messages are formatted with lettre's builder: encoded non-ASCII names and subjects,
//! internationalized domains in punycode, a plain-text UTF-8 body, `MIME-Version`,
//! `Message-ID`, `In-Reply-To` and `References` for threading. A message that cannot be
//! formatted (a stored name with a line break, say) fails with the reason: nothing a
//! message holds can make a mailer panic, and [`Isolated`] turns a panic that still
//! happens inside one send into that message's failure, so the queue goes on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use casework_core::ids::EmailAddress;
use casework_core::model::OutboxMessage;
use casework_core::ports::{MailError, Mailer};
use casework_core::reply_token::reply_address;
use lettre::Address;
use lettre::message::header::{ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0};
use lettre::message::{Mailbox, Message};

pub mod imap;
pub mod inbound;
mod net;
pub mod smtp;
pub use net::Security;
pub use smtp::SmtpMailer;

/// A mailer URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailerUrlError(pub String);

impl std::fmt::Display for MailerUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MailerUrlError {}

/// The mailer a URL names.
pub fn mailer_from_url(url: &str) -> Result<Arc<dyn Mailer>, MailerUrlError> {
    let mailer: Arc<dyn Mailer> = if url == "log://" || url == "log:" {
        Arc::new(LogMailer)
    } else if let Some(path) = url.strip_prefix("dir://") {
        if path.is_empty() {
            return Err(MailerUrlError("dir:// needs a folder: dir://PATH".into()));
        }
        Arc::new(DirMailer::new(path))
    } else if url.starts_with("smtp://") || url.starts_with("smtps://") {
        Arc::new(SmtpMailer::from_url(url)?)
    } else {
        return Err(unknown_url(url));
    };
    Ok(Arc::new(Isolated(mailer)))
}

fn unknown_url(url: &str) -> MailerUrlError {
    MailerUrlError(format!(
        "unknown mailer URL {url:?}: expected smtp://[user:pass@]host[:port], smtps://…, \
         dir://PATH or log://"
    ))
}

/// The reason a message cannot be formatted: permanent, as a retry would format it the same.
fn cannot_format(why: String) -> MailError {
    MailError::Permanent(format!("cannot format the message: {why}"))
}

/// A header value as lettre may take it: one line of plain text, by core's rule for short
/// text (a record stored before that rule may hold a line break, which lettre cannot
/// encode and would panic on).
fn header_text<'a>(what: &str, value: &'a str) -> Result<&'a str, MailError> {
    match casework_core::input::line_problem(value) {
        None => Ok(value),
        Some(problem) => Err(cannot_format(format!("the {what} {problem}"))),
    }
}

/// An address as mail needs it: the domain in ASCII (punycode for an internationalized
/// one), parsed by lettre.
pub(crate) fn address(what: &str, a: &EmailAddress) -> Result<Address, MailError> {
    let ascii = a
        .to_ascii()
        .map_err(|e| cannot_format(format!("the {what} {e}")))?;
    ascii
        .parse()
        .map_err(|e| cannot_format(format!("the {what} address {ascii:?}: {e}")))
}

fn mailbox(what: &str, name: &str, a: &EmailAddress) -> Result<Mailbox, MailError> {
    let name = header_text(&format!("{what} name"), name)?.trim();
    let name = (!name.is_empty()).then(|| name.to_string());
    Ok(Mailbox::new(name, address(what, a)?))
}

/// `<id>` for a Message-ID header: printable ASCII with an `@`, without white space or
/// angle brackets (Casework makes them so; a stored one that is not is refused here).
fn message_id(what: &str, id: &str) -> Result<String, MailError> {
    let ok = id.contains('@')
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    if ok {
        Ok(format!("<{id}>"))
    } else {
        Err(cannot_format(format!(
            "the {what} {id:?} is not a Message-ID"
        )))
    }
}

/// The message as RFC 5322 bytes, or a `Permanent` error saying why it cannot be formatted.
///
/// Every header value is checked before lettre sees it (lettre panics on a line break in
/// a display name), addresses get ASCII domains, and the message carries `MIME-Version:
/// 1.0`. A Message-ID carrying a reply token gets a `Reply-To` of the support address
/// plus-addressed with it (core's `reply_token::reply_address`). A case's first email starts its thread; later ones have `In-Reply-To` (the
/// previous email) and `References` (the first, then the previous). The notices the
/// workflow sends on its own carry `Auto-Submitted` and `X-Auto-Response-Suppress: All`
/// (RFC 3834; core's `TemplateName::auto_submitted` says which), so autoresponders stay
/// quiet and a loop cannot start.
pub fn format_message(m: &OutboxMessage) -> Result<Vec<u8>, MailError> {
    let date = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(m.created_at.as_second()).unwrap_or(0));
    let mut builder = Message::builder()
        .from(mailbox("sender", &m.from_name, &m.from)?)
        .to(mailbox("recipient", &m.to_name, &m.to)?)
        .subject(header_text("subject", &m.subject)?)
        .date(date)
        .message_id(Some(message_id("Message-ID", &m.message_id)?))
        .header(MIME_VERSION_1_0);
    // a Message-ID with a reply token: replies go to the support address plus-addressed
    // with it, so one that loses every thread header still finds its case
    if let Some(reply_to) = reply_address(&m.from, &m.message_id) {
        builder = builder.reply_to(mailbox("reply-to", &m.from_name, &reply_to)?);
    }
    if m.thread_id != m.message_id {
        let root = message_id("thread root", &m.thread_id)?;
        let (reply_to, references) = match &m.in_reply_to {
            Some(previous) if previous != &m.thread_id => {
                let previous = message_id("previous Message-ID", previous)?;
                (previous.clone(), format!("{root} {previous}"))
            }
            _ => (root.clone(), root),
        };
        builder = builder.in_reply_to(reply_to).references(references);
    }
    if let Some(kind) = m.template.auto_submitted() {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                kind.to_string(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".to_string(),
            ));
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone())
        .map_err(|e| cannot_format(format!("{e}")))?;
    Ok(message.formatted())
}

/// The message a panic carried, if it is text.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// Runs each send of another mailer in a task of its own, so a panic inside one (a bug in
/// a mail library, say) fails that message with the reason, and the worker and the rest of
/// the queue go on. [`mailer_from_url`] wraps every mailer in it.
pub struct Isolated(pub Arc<dyn Mailer>);

#[async_trait]
impl Mailer for Isolated {
    async fn send(&self, message: &OutboxMessage) -> Result<(), MailError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.0.send(message).await;
        }
        let (inner, m) = (self.0.clone(), message.clone());
        match tokio::spawn(async move { inner.send(&m).await }).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(MailError::Permanent(format!(
                "the mailer failed unexpectedly on this message: {}",
                panic_text(e.into_panic().as_ref())
            ))),
            Err(e) => Err(MailError::Temporary(format!(
                "delivery was interrupted: {e}"
            ))),
        }
    }
}

/// Writes `.eml` files into a folder.
#[derive(Debug, Clone)]
pub struct DirMailer {
    dir: PathBuf,
}

impl DirMailer {
    /// A mailer writing into `dir` (created on first send).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file a message is written to: its Message-ID, made safe for a file name.
    pub fn path_for(&self, m: &OutboxMessage) -> PathBuf {
        let safe: String = m
            .message_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.eml"))
    }
}

#[async_trait]
impl Mailer for DirMailer {
    async fn send(&self, message: &OutboxMessage) -> Result<(), MailError> {
        let bytes = format_message(message)?;
        let io = |e: std::io::Error| MailError::Temporary(format!("{}: {e}", self.dir.display()));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let path = self.path_for(message);
        // write then rename: a reader never sees half a message
        let tmp = path.with_extension("eml.tmp");
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}

/// Logs a line per message to standard error and sends nothing.
#[derive(Debug, Clone, Copy)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, m: &OutboxMessage) -> Result<(), MailError> {
        format_message(m)?;
        eprintln!(
            "mail (log only): to {} <{}>: {} [{}]",
            m.to_name, m.to, m.subject, m.message_id
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> OutboxMessage {
        casework_core::testing::sample_message()
    }

    #[test]
    fn messages_carry_threading_headers_and_encoded_text() {
        let text = String::from_utf8(format_message(&message()).unwrap()).unwrap();
        assert!(
            text.contains("Message-ID: <m1.case-00001027@example.com>\r\n"),
            "{text}"
        );
        // the second email of the case: it answers the first, the thread's root
        assert!(
            text.contains("In-Reply-To: <m0.case-00001027@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("References: <m0.case-00001027@example.com>\r\n"),
            "{text}"
        );
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        assert!(
            text.contains("From: \"Example Corp Support\" <support@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Date: Mon, 05 Jan 2026 09:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        // non-ASCII headers are RFC 2047 encoded, never raw
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(headers.is_ascii(), "{headers}");
        // only the non-ASCII words are encoded: the case tag stays readable to mail filters
        assert!(
            headers.contains("Subject: [Case 00001027] Follow-up: =?utf-8?b?"),
            "{headers}"
        );
        assert!(headers.contains("<zoe@kunde.example>"), "{headers}");
    }

    fn headers(m: &OutboxMessage) -> String {
        let text = String::from_utf8(format_message(m).unwrap()).unwrap();
        text.split("\r\n\r\n").next().unwrap().to_string()
    }

    #[test]
    fn a_message_id_with_a_reply_token_gets_a_plus_addressed_reply_to() {
        // without a token, no Reply-To: replies go to From
        assert!(!headers(&message()).contains("\r\nReply-To:"));
        let token = casework_core::reply_token::ReplyKeys::parse(&"s".repeat(32))
            .unwrap()
            .token(casework_core::ids::CaseNumber::new(1027).unwrap());
        let signed = OutboxMessage {
            message_id: format!("m1.{token}@example.com"),
            ..message()
        };
        let h = headers(&signed);
        assert!(
            h.contains(&format!(
                "\r\nReply-To: \"Example Corp Support\" <support+{token}@example.com>\r\n"
            )),
            "{h}"
        );
        // what a client answers to is found again on the way in
        let raw = format_message(&signed).unwrap();
        let parsed = inbound::parse_message(&raw, &inbound::InboundLimits::default()).unwrap();
        let support = &signed.from;
        assert_eq!(
            parsed
                .reply_to
                .iter()
                .filter_map(|m| m.address.as_ref())
                .find_map(|a| casework_core::reply_token::token_of_address(a, support)),
            Some(token.as_str())
        );
    }

    #[test]
    fn notices_the_workflow_sends_on_its_own_ask_for_no_automatic_answer() {
        use casework_core::model::TemplateName;
        for (template, kind) in [
            (TemplateName::ResolutionNotice, "auto-generated"),
            (TemplateName::TemporaryCloseNotice, "auto-generated"),
            (TemplateName::ReopenNotice, "auto-generated"),
            (TemplateName::NonResponseClosure, "auto-generated"),
            // notifications to staff, and the acknowledgement that answers a customer's mail
            (TemplateName::NoticeNewCase, "auto-generated"),
            (TemplateName::NoticeAssigned, "auto-generated"),
            (TemplateName::NoticeCustomerReply, "auto-generated"),
            (TemplateName::NoticeSwarm, "auto-generated"),
            (TemplateName::NoticeReopened, "auto-generated"),
            (TemplateName::Acknowledgement, "auto-replied"),
            (TemplateName::FilesRefused, "auto-replied"),
        ] {
            let notice = OutboxMessage {
                template,
                ..message()
            };
            let h = headers(&notice);
            assert!(
                h.contains(&format!("\r\nAuto-Submitted: {kind}\r\n")),
                "{h}"
            );
            assert!(h.contains("\r\nX-Auto-Response-Suppress: All\r\n"), "{h}");
            // and Casework's own inbound side knows it for what it is, should it come back
            let raw = format_message(&notice).unwrap();
            let parsed = inbound::parse_message(&raw, &inbound::InboundLimits::default());
            assert!(parsed.unwrap().is_automatic(), "{template:?}");
        }
        // what an agent writes to the customer is a person's mail: answers are welcome
        for template in [TemplateName::InitialContact, TemplateName::FollowUp] {
            let h = headers(&OutboxMessage {
                template,
                ..message()
            });
            assert!(!h.contains("Auto-Submitted"), "{h}");
            assert!(!h.contains("X-Auto-Response-Suppress"), "{h}");
        }
    }

    #[test]
    fn the_first_email_starts_the_thread_and_later_ones_name_root_and_previous() {
        let first = OutboxMessage {
            message_id: "m0.case-00001027@example.com".into(),
            thread_id: "m0.case-00001027@example.com".into(),
            in_reply_to: None,
            ..message()
        };
        let h = headers(&first);
        assert!(!h.contains("In-Reply-To"), "{h}");
        assert!(!h.contains("References"), "{h}");
        let third = OutboxMessage {
            message_id: "m2.case-00001027@example.com".into(),
            in_reply_to: Some("m1.case-00001027@example.com".into()),
            ..message()
        };
        let h = headers(&third);
        assert!(
            h.contains("In-Reply-To: <m1.case-00001027@example.com>\r\n"),
            "{h}"
        );
        assert!(
            h.contains("References: <m0.case-00001027@example.com> <m1.case-00001027@example.com>"),
            "{h}"
        );
        // queued before Casework recorded the previous email: the root alone, as then
        let legacy = OutboxMessage {
            thread_id: "case-00001027@example.com".into(),
            in_reply_to: None,
            ..message()
        };
        let h = headers(&legacy);
        assert!(
            h.contains("In-Reply-To: <case-00001027@example.com>\r\n"),
            "{h}"
        );
        assert!(
            h.contains("References: <case-00001027@example.com>\r\n"),
            "{h}"
        );
    }

    #[test]
    fn a_header_value_a_mail_cannot_carry_fails_the_message_with_the_reason() {
        // stored before names were checked: lettre panicked on these
        for (name, why) in [
            ("Alice\nSmith", "line break"),
            ("Alice\rSmith", "line break"),
            ("Alice\r\nBcc: everyone@example.com", "line break"),
            ("Alice\u{1b}[2J", "control character"),
            ("Alice\u{202e}htims", "bidirectional override"),
        ] {
            let m = OutboxMessage {
                to_name: name.into(),
                ..message()
            };
            match format_message(&m) {
                Err(MailError::Permanent(e)) => {
                    assert!(e.contains("recipient name"), "{e}");
                    assert!(e.contains(why), "{e}");
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
        let m = OutboxMessage {
            subject: "Hello\nBcc: x@example.com".into(),
            ..message()
        };
        assert!(
            matches!(format_message(&m), Err(MailError::Permanent(e)) if e.contains("subject"))
        );
        let m = OutboxMessage {
            thread_id: "root>\r\nBcc: x@example.com".into(),
            ..message()
        };
        assert!(
            matches!(format_message(&m), Err(MailError::Permanent(e)) if e.contains("thread root"))
        );
        // an address stored before addresses were checked as lettre checks them
        let m = OutboxMessage {
            to: serde_json_address(r"a(b)\c:d@cust.example"),
            ..message()
        };
        match format_message(&m) {
            Err(MailError::Permanent(e)) => assert!(e.contains("recipient address"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    /// An address as a store reads one it holds (written before the current rules).
    fn serde_json_address(text: &str) -> EmailAddress {
        serde_json::from_value(serde_json::Value::String(text.into())).unwrap()
    }

    #[test]
    fn internationalized_domains_are_written_in_punycode() {
        let m = OutboxMessage {
            to: "zoe@bücher.example".parse().unwrap(),
            ..message()
        };
        let h = headers(&m);
        assert!(h.is_ascii(), "{h}");
        assert!(h.contains("@xn--bcher-kva.example>"), "{h}");
        assert!(!h.contains("bücher"), "{h}");
    }

    /// Mostly characters an address may hold, sometimes one it may not.
    fn address_char(valid: &'static str) -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        let invalid: Vec<char> = "()<>[]:;,\\\"@ \u{1b}\n\u{202e}_".chars().collect();
        prop_oneof![
            12 => proptest::sample::select(valid.chars().collect::<Vec<_>>()),
            1 => proptest::sample::select(invalid),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Whatever core accepts as an address, lettre takes: so an address accepted when
        /// it is entered never fails in the mailer.
        #[test]
        fn every_address_core_accepts_lettre_accepts(
            local in proptest::collection::vec(address_char("aZ09.!#$%&'*+-/=?^`{|}~ü"), 1..12),
            labels in proptest::collection::vec(
                proptest::collection::vec(address_char("ab09-üZ"), 0..6),
                1..4,
            ),
        ) {
            let domain: Vec<String> = labels.iter().map(|l| l.iter().collect()).collect();
            let text = format!("{}@{}", local.iter().collect::<String>(), domain.join("."));
            if let Ok(a) = text.parse::<EmailAddress>() {
                let parsed = address("recipient", &a);
                proptest::prop_assert!(parsed.is_ok(), "{text:?}: {parsed:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_panic_inside_one_send_fails_that_message_and_the_next_goes_out() {
        struct Fragile;
        #[async_trait]
        impl Mailer for Fragile {
            async fn send(&self, m: &OutboxMessage) -> Result<(), MailError> {
                if m.id == "poison" {
                    panic!("a bug in a mail library");
                }
                Ok(())
            }
        }
        let mailer = Isolated(Arc::new(Fragile));
        let poison = OutboxMessage {
            id: "poison".into(),
            ..message()
        };
        match mailer.send(&poison).await {
            Err(MailError::Permanent(e)) => assert!(e.contains("a bug in a mail library"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(mailer.send(&message()).await, Ok(()));
    }

    #[tokio::test]
    async fn the_directory_mailer_writes_one_file_per_message_id() {
        let dir = std::env::temp_dir().join(format!("casework-mail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mailer = DirMailer::new(&dir);
        let m = message();
        mailer.send(&m).await.unwrap();
        mailer.send(&m).await.unwrap(); // a resend after a crash
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "a resend replaces the file");
        let text = std::fs::read_to_string(mailer.path_for(&m)).unwrap();
        assert!(text.contains("Message-ID: <m1.case-00001027@example.com>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mailer_urls_are_checked() {
        assert!(mailer_from_url("log://").is_ok());
        assert!(mailer_from_url("dir:///tmp/x").is_ok());
        assert!(mailer_from_url("dir://").is_err());
        assert!(mailer_from_url("smtp://localhost:2525").is_ok());
        assert!(mailer_from_url("smtps://u:p@mail.example.com").is_ok());
        let clear = mailer_from_url("smtp://mail.example.com?tls=none")
            .err()
            .unwrap();
        assert!(clear.0.contains("only allowed on loopback"), "{clear}");
        assert!(mailer_from_url("ftp://x").is_err());
    }
}
