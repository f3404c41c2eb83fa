//! A parsed inbound email, as the ingestion pipeline needs it to decide: who wrote, what it
//! answers, what it says, what came with it, and whether a machine sent it.
//!
//! The mail adapter turns raw RFC 5322 bytes into an [`InboundMessage`] (MIME, charsets and
//! encodings are its business); core only reads the result. Nothing here does I/O or knows
//! a parser. Text that reaches one-line places (names, the subject) is cleaned with
//! [`one_line`], so a header can never smuggle a line break or a terminal escape into a
//! title; an address that core's rules refuse is kept as written, beside `None`, so a
//! message from an unparseable sender can still be quarantined and shown, never a panic.

use crate::ids::EmailAddress;
use crate::input::{is_bidi_control, is_line_break};
use crate::limits::{MAX_INBOUND_ADDRESS, MAX_INBOUND_NAME};

/// One inbound email, parsed. Every field is data from outside: nothing in it has been
/// checked against a case, a person or a signature yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The `Message-ID`, without angle brackets; `None` when the message has none (or one
    /// that is not a usable id). With [`Self::digest`] it makes the idempotency key
    /// ([`Self::idempotency_key`]).
    pub message_id: Option<String>,
    /// The ids in `In-Reply-To`, without angle brackets, in order: what the sender's client
    /// says this message answers (usually one id).
    pub in_reply_to: Vec<String>,
    /// The ids in `References`, without angle brackets, oldest first: the thread as the
    /// sender's client knows it.
    pub references: Vec<String>,
    /// The `From` mailbox (the first, when a header lists several); `None` when there is
    /// no `From` at all. Its [`Mailbox::address`] is `None` when core's address rules
    /// refuse what was written.
    pub from: Option<Mailbox>,
    /// `Reply-To` mailboxes, in order: where the sender asks answers to go.
    pub reply_to: Vec<Mailbox>,
    /// `To` mailboxes, in order (members of groups included). A plus-addressed reply token
    /// such as `support+c1027.SIGNATURE@…` is found here or in [`Self::cc`] or
    /// [`Self::delivered_to`].
    pub to: Vec<Mailbox>,
    /// `Cc` mailboxes, in order.
    pub cc: Vec<Mailbox>,
    /// Addresses from `Delivered-To` (and `X-Original-To`) headers, which MTAs add with the
    /// envelope recipient: the plus-addressed token survives there when a client or a
    /// forwarder rewrote `To`.
    pub delivered_to: Vec<Mailbox>,
    /// The subject, decoded (RFC 2047) and on one line; empty when there is none.
    pub subject: String,
    /// The `Date` header, when it parses.
    pub date: Option<jiff::Timestamp>,
    /// The readable text of the message: the text/plain body, or the HTML body turned into
    /// text (paragraphs, line breaks, links as `text (url)`, no markup, nothing of scripts
    /// or styles). Line breaks are `\n`; no control character but `\n` and `\t`. Quoted
    /// history and signatures are left in: cutting them is a later decision.
    pub body: String,
    /// Where [`Self::body`] came from.
    pub body_source: BodySource,
    /// Files that came with the message, in order (inline images included, marked).
    pub attachments: Vec<Attachment>,
    /// Signs that a machine sent the message (an auto-reply, a list, a vacation notice);
    /// empty for mail a person wrote. Recorded, never answered (RFC 3834).
    pub auto_signals: Vec<AutoSignal>,
    /// Delivery-failure information when the message is a bounce.
    pub bounce: Option<Bounce>,
    /// Outlook's `Thread-Index` header as written (base64), when present: Outlook keeps a
    /// conversation by it even when it drops `References`.
    pub thread_index: Option<String>,
    /// The SHA-256 of the raw bytes, lower-case hex ([`digest`]): the idempotency key of a
    /// message without a Message-ID, and a fingerprint for quarantine.
    pub digest: String,
    /// The size of the raw message, in bytes.
    pub size: usize,
}

impl InboundMessage {
    /// The key that makes taking a message idempotent: `message-id:<id>` when it has a
    /// Message-ID, else `sha256:<digest>` of its bytes (so a redelivered copy of the same
    /// bytes is recognised either way).
    pub fn idempotency_key(&self) -> String {
        match &self.message_id {
            Some(id) => format!("message-id:{id}"),
            None => format!("sha256:{}", self.digest),
        }
    }

    /// Whether anything says a machine sent this message: an auto-reply signal or a bounce.
    /// Such mail is recorded but never answered, never reopens a case and never counts as
    /// the customer being reached.
    pub fn is_automatic(&self) -> bool {
        !self.auto_signals.is_empty() || self.bounce.is_some()
    }

    /// Every address the message was sent to (`To`, `Cc`, `Delivered-To`), parsed ones
    /// only, in that order: where a plus-addressed reply token is looked for.
    pub fn recipients(&self) -> impl Iterator<Item = &EmailAddress> {
        self.to
            .iter()
            .chain(&self.cc)
            .chain(&self.delivered_to)
            .filter_map(|m| m.address.as_ref())
    }

    /// Every Message-ID this message refers to: `In-Reply-To` first, then `References`
    /// newest first, without repeats. Threading tries them in this order.
    pub fn referenced_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for id in self.in_reply_to.iter().chain(self.references.iter().rev()) {
            if !out.contains(&id.as_str()) {
                out.push(id);
            }
        }
        out
    }
}

/// A mailbox from an address header: a display name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, decoded and on one line ([`one_line`]); `None` when absent.
    pub name: Option<String>,
    /// The address as written (trimmed, cut at [`MAX_INBOUND_ADDRESS`] characters, on one
    /// line): kept even when it does not parse, to show and to quarantine.
    pub raw: String,
    /// The address parsed with core's rules ([`EmailAddress`]); `None` when they refuse it.
    pub address: Option<EmailAddress>,
}

impl Mailbox {
    /// A mailbox from a name and an address as a parser found them: the name cleaned to
    /// one line, the address parsed with core's rules (a refused one leaves `address`
    /// `None`). Never fails.
    pub fn new(name: Option<&str>, address: &str) -> Self {
        let name = name
            .map(|n| one_line(n, MAX_INBOUND_NAME))
            .filter(|n| !n.is_empty());
        let raw = one_line(address, MAX_INBOUND_ADDRESS);
        let parsed = address.trim().parse::<EmailAddress>().ok();
        Self {
            name,
            raw,
            address: parsed,
        }
    }
}

/// Where the readable body text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySource {
    /// A text/plain part.
    Plain,
    /// An HTML part turned into text (the message had no text/plain alternative).
    Html,
    /// The message has no readable body (attachments only, or nothing).
    None,
}

/// A file that came with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the sender gave (decoded, on one line, without any directory part,
    /// cut at [`MAX_FILE_NAME`]); `None` when it gave none.
    pub file_name: Option<String>,
    /// The declared content type, lower-case `type/subtype` (`application/octet-stream`
    /// when none was declared). Declared, not checked: the bytes may say otherwise.
    pub content_type: String,
    /// Whether the part was marked inline (`Content-Disposition: inline`, or an image
    /// referenced from the HTML body by `Content-ID`), such as a logo in a signature.
    pub inline: bool,
    /// The decoded content.
    pub bytes: Vec<u8>,
}

/// One sign that a machine sent a message, with the evidence (the header value or subject
/// that showed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSignal {
    /// What kind of sign it is.
    pub kind: AutoSignalKind,
    /// What was seen, cleaned to one line: e.g. `auto-replied`, `bulk`, `Automatic reply:`.
    pub evidence: String,
}

/// The kinds of auto-reply and loop signals, as RFC 3834 and the helpdesks people use
/// (Request Tracker, Zammad, FreeScout) read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AutoSignalKind {
    /// `Auto-Submitted` with a value other than `no` (RFC 3834: `auto-replied`,
    /// `auto-generated`, `auto-notified`).
    AutoSubmitted,
    /// `Precedence` or `X-Precedence` of `bulk`, `junk`, `list` or `auto_reply`.
    Precedence,
    /// A vendor auto-reply header: `X-Autoreply`, `X-Autorespond`, `X-Autoresponder`,
    /// `X-Autoreply-From`, `X-Mail-Autoreply`.
    AutoReplyHeader,
    /// `X-Auto-Response-Suppress` asking for no auto-replies (`All`, `OOF`, `AutoReply`):
    /// what Exchange and other automatic senders, Casework included, put on their mail.
    SuppressAutoResponse,
    /// Exchange generated the message (`X-MS-Exchange-Generated-Message-Source`, e.g. an
    /// inbox rule or a mailbox agent).
    ExchangeGenerated,
    /// A loop marker: `X-Loop`, or First Class's `X-FC-Machinegenerated: true`.
    LoopHeader,
    /// A null return path (`Return-Path: <>`): what bounces and auto-replies carry.
    NullReturnPath,
    /// The sender is a mail system (`mailer-daemon@`, `postmaster@`).
    DaemonSender,
    /// A `Delivered-To` naming an autoresponder.
    DeliveredToAutoresponder,
    /// A subject starting the way out-of-office notices do (`Automatic reply:`,
    /// `Out of Office:`, `Auto:`, `Abwesenheitsnotiz:`, `Réponse automatique :`, …).
    OutOfOfficeSubject,
}

/// What a delivery-failure report (bounce) says about the message that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-ID (without angle brackets) of the message that bounced, found in the
    /// report's returned message (`message/rfc822`) or headers (`text/rfc822-headers`), or
    /// in the quoted headers of a plain-text bounce; `None` when the report carries none.
    pub original_message_id: Option<String>,
    /// The recipient that failed (`Final-Recipient`, else `Original-Recipient`), without
    /// the `rfc822;` type.
    pub recipient: Option<String>,
    /// The `Action` of the report (`failed`, `delayed`, …), lower-case.
    pub action: Option<String>,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    /// The remote server's answer (`Diagnostic-Code` without its `smtp;` type), on one line.
    pub diagnostic: Option<String>,
    /// Whether the message was a standard report (`multipart/report;
    /// report-type=delivery-status`) rather than recognised by its sender and shape.
    pub standard_report: bool,
}

impl Bounce {
    /// Whether the failure is final: the action is `failed`, or the status is 5.x.x. A
    /// delayed-delivery notice is not.
    pub fn is_permanent(&self) -> bool {
        match (&self.action, &self.status) {
            (Some(a), _) if a == "failed" => true,
            (Some(_), _) => false,
            (None, Some(s)) => s.starts_with('5'),
            (None, None) => true,
        }
    }
}

/// The SHA-256 of `raw`, lower-case hex: what [`InboundMessage::digest`] holds, so every
/// input path keys a message without a Message-ID the same way.
pub fn digest(raw: &[u8]) -> String {
    crate::model::sha256_hex(raw)
}

/// `text` on one line: line breaks, tabs and other control characters become spaces,
/// bidirectional overrides are dropped, runs of white space collapse to one space, the
/// ends are trimmed, and it is cut at `max` characters. For names and subjects that come
/// from outside and will be shown or put into headers.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        if is_bidi_control(c) {
            continue;
        }
        if c.is_whitespace() || is_line_break(c) || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            if count + 1 >= max {
                break;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        if count >= max {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Multi-line text from outside made safe to keep: `\r\n` and lone `\r` become `\n`,
/// control characters other than `\n` and `\t` are dropped, trailing white space is
/// trimmed from each line (but the signature separator `-- ` keeps its space, RFC 3676),
/// runs of more than two blank lines collapse to two, and the whole is trimmed.
pub fn clean_text(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len());
    let mut blank_run = 0;
    for line in unified.split('\n') {
        let line: String = line
            .chars()
            .filter(|&c| c == '\t' || !c.is_control())
            .collect();
        let line = if line == "-- " {
            &line
        } else {
            line.trim_end()
        };
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 2 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> InboundMessage {
        InboundMessage {
            message_id: None,
            in_reply_to: vec![],
            references: vec![],
            from: None,
            reply_to: vec![],
            to: vec![],
            cc: vec![],
            delivered_to: vec![],
            subject: String::new(),
            date: None,
            body: String::new(),
            body_source: BodySource::None,
            attachments: vec![],
            auto_signals: vec![],
            bounce: None,
            thread_index: None,
            digest: digest(b"x"),
            size: 1,
        }
    }

    #[test]
    fn the_idempotency_key_is_the_message_id_else_the_digest() {
        let mut m = message();
        assert_eq!(
            m.idempotency_key(),
            "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        m.message_id = Some("abc@example.com".into());
        assert_eq!(m.idempotency_key(), "message-id:abc@example.com");
    }

    #[test]
    fn an_unparseable_sender_is_kept_as_written() {
        let m = Mailbox::new(Some("Eve\r\nBcc: x@y.example"), "not an address");
        assert_eq!(m.name.as_deref(), Some("Eve Bcc: x@y.example"));
        assert_eq!(m.raw, "not an address");
        assert_eq!(m.address, None);
        let m = Mailbox::new(None, " Zoe@Kunde.Example ");
        assert_eq!(m.address.unwrap().as_str(), "zoe@kunde.example");
        assert_eq!(Mailbox::new(Some("  "), "a@b.example").name, None);
    }

    #[test]
    fn one_line_removes_breaks_escapes_and_overrides_and_cuts() {
        assert_eq!(
            one_line("  a\r\n\tb \u{1b}[31m c\u{202e}d  ", 100),
            "a b [31m cd"
        );
        assert_eq!(one_line("abcdef", 3), "abc");
        assert_eq!(one_line("ab cdef", 3), "ab");
        assert_eq!(one_line("", 3), "");
        assert!(one_line(&"é ".repeat(1000), 50).chars().count() <= 50);
    }

    #[test]
    fn clean_text_keeps_lines_and_drops_controls() {
        assert_eq!(
            clean_text("a\r\nb\u{7}  \rc\n\n\n\n\nd\t\n-- \nZoe "),
            "a\nb\nc\n\n\nd\n-- \nZoe"
        );
    }

    #[test]
    fn automatic_mail_and_thread_references() {
        let mut m = message();
        assert!(!m.is_automatic());
        m.in_reply_to = vec!["b@x".into()];
        m.references = vec!["a@x".into(), "b@x".into(), "c@x".into()];
        assert_eq!(m.referenced_ids(), vec!["b@x", "c@x", "a@x"]);
        m.auto_signals.push(AutoSignal {
            kind: AutoSignalKind::AutoSubmitted,
            evidence: "auto-replied".into(),
        });
        assert!(m.is_automatic());
        let bounce = |action: Option<&str>, status: Option<&str>| Bounce {
            original_message_id: None,
            recipient: None,
            action: action.map(Into::into),
            status: status.map(Into::into),
            diagnostic: None,
            standard_report: true,
        };
        assert!(bounce(Some("failed"), Some("4.4.1")).is_permanent());
        assert!(!bounce(Some("delayed"), Some("4.4.1")).is_permanent());
        assert!(bounce(None, Some("5.1.1")).is_permanent());
        assert!(!bounce(None, Some("4.2.2")).is_permanent());
    }
}
