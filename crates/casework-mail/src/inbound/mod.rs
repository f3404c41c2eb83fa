//! Inbound mail parsing: raw RFC 5322 bytes become core's
//! [`InboundMessage`](casework_core::inbound::InboundMessage).
//!
//! mail-parser does MIME, charsets (ISO-8859-*, Windows code pages, Shift_JIS, EUC, Big5,
//! …), quoted-printable and base64, and RFC 2047 words in names and subjects. This module
//! chooses the readable body (text/plain first; HTML turned into text by [`html`] when
//! there is none), collects attachments, and reads the signals of automatic mail and
//! bounces ([`signals`]). It is bounded: a message over [`InboundLimits::max_bytes`], or with
//! more MIME parts or deeper nesting than the limits allow, is refused with an
//! [`InboundError`] before or after parsing, never half-taken. It never panics on any input
//! (a property test feeds it arbitrary and mutated bytes).

pub mod html;
mod signals;

use casework_core::inbound::{self, Attachment, BodySource, InboundMessage, Mailbox};
use casework_core::limits::{MAX_INBOUND_SUBJECT, MAX_MESSAGE_ID};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

/// Default largest message taken, in bytes: core's limit (room for the 25 MiB of
/// attachments the pipeline accepts by default once base64 has grown them by a third).
pub const DEFAULT_MAX_BYTES: usize = casework_core::limits::MAX_INBOUND_MESSAGE;

/// Default most MIME parts in one message.
pub const DEFAULT_MAX_PARTS: usize = 1000;

/// Default deepest nesting of multiparts.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// How much a message may hold before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundLimits {
    /// Largest raw message, in bytes.
    pub max_bytes: usize,
    /// Most MIME parts (every part counts, multipart containers included).
    pub max_parts: usize,
    /// Deepest nesting of multiparts inside multiparts.
    pub max_depth: usize,
}

impl Default for InboundLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_parts: DEFAULT_MAX_PARTS,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why a message cannot be taken at all. Each is permanent: the same bytes fail the same
/// way, so the message belongs in quarantine, not in a retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// No bytes at all.
    #[error("the message is empty")]
    Empty,
    /// Bytes, but no header a mail parser can find.
    #[error("not an email: no header found")]
    NoHeaders,
    /// Over the size limit.
    #[error("the message is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Size of the message.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many MIME parts.
    #[error("the message has more than {limit} MIME parts")]
    TooManyParts {
        /// The limit.
        limit: usize,
    },
    /// Multiparts nested too deep.
    #[error("the message nests MIME parts more than {limit} deep")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// Core's mail parser port over [`parse_message`], within its limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parser(pub InboundLimits);

impl casework_core::ports::MailParser for Parser {
    fn parse(&self, raw: &[u8]) -> Result<InboundMessage, String> {
        parse_message(raw, &self.0).map_err(|e| e.to_string())
    }
}

/// Parses one raw message within `limits`.
pub fn parse_message(raw: &[u8], limits: &InboundLimits) -> Result<InboundMessage, InboundError> {
    if raw.is_empty() {
        return Err(InboundError::Empty);
    }
    if raw.len() > limits.max_bytes {
        return Err(InboundError::TooLarge {
            size: raw.len(),
            limit: limits.max_bytes,
        });
    }
    precheck_nesting(raw, limits)?;
    let parsed = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.root_part().headers().is_empty())
        .ok_or(InboundError::NoHeaders)?;
    check_structure(&parsed, limits)?;

    let (body, body_source, body_part) = readable_body(&parsed);
    Ok(InboundMessage {
        message_id: parsed.message_id().and_then(clean_id),
        in_reply_to: id_list(parsed.in_reply_to()),
        references: id_list(parsed.references()),
        from: parsed
            .from()
            .and_then(|a| a.iter().next())
            .map(|a| Mailbox::new(a.name(), a.address().unwrap_or_default())),
        reply_to: mailboxes(parsed.reply_to()),
        to: mailboxes(parsed.to()),
        cc: mailboxes(parsed.cc()),
        delivered_to: delivered_to(&parsed),
        subject: parsed
            .subject()
            .map(|s| inbound::one_line(s, MAX_INBOUND_SUBJECT))
            .unwrap_or_default(),
        date: parsed.date().and_then(timestamp),
        body,
        body_source,
        attachments: attachments(&parsed, body_part),
        auto_signals: signals::auto_signals(&parsed),
        bounce: signals::bounce(&parsed),
        thread_index: parsed
            .header_raw("Thread-Index")
            .map(|t| inbound::one_line(t, 512))
            .filter(|t| !t.is_empty()),
        digest: inbound::digest(raw),
        size: raw.len(),
    })
}

/// Refuses, before the parser sees it, a message whose multipart declarations alone exceed
/// the part or depth limits: the parser keeps a stack entry per open multipart, so absurd
/// nesting is stopped here rather than walked.
fn precheck_nesting(raw: &[u8], limits: &InboundLimits) -> Result<(), InboundError> {
    let declared = count_multipart_declarations(raw);
    if declared > limits.max_parts {
        return Err(InboundError::TooManyParts {
            limit: limits.max_parts,
        });
    }
    Ok(())
}

/// How many times `multipart/` appears right after `Content-Type:` (any case, any spacing).
fn count_multipart_declarations(raw: &[u8]) -> usize {
    const NEEDLE: &[u8] = b"content-type:";
    let mut count = 0;
    let mut i = 0;
    while i + NEEDLE.len() <= raw.len() {
        if raw[i..i + NEEDLE.len()].eq_ignore_ascii_case(NEEDLE) {
            let mut j = i + NEEDLE.len();
            while j < raw.len() && raw[j].is_ascii_whitespace() {
                j += 1;
            }
            if raw
                .get(j..j + 10)
                .is_some_and(|t| t.eq_ignore_ascii_case(b"multipart/"))
            {
                count += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    count
}

/// Checks the parsed tree: the number of parts and how deep multiparts nest, walking it
/// with an explicit stack (no recursion on input-controlled depth).
fn check_structure(
    m: &mail_parser::Message<'_>,
    limits: &InboundLimits,
) -> Result<(), InboundError> {
    if m.parts.len() > limits.max_parts {
        return Err(InboundError::TooManyParts {
            limit: limits.max_parts,
        });
    }
    let mut stack: Vec<(u32, usize)> = vec![(0, 0)];
    let mut visited = 0usize;
    while let Some((id, depth)) = stack.pop() {
        visited += 1;
        if visited > limits.max_parts {
            return Err(InboundError::TooManyParts {
                limit: limits.max_parts,
            });
        }
        if depth > limits.max_depth {
            return Err(InboundError::TooDeep {
                limit: limits.max_depth,
            });
        }
        if let Some(PartType::Multipart(children)) = m.part(id).map(|p| &p.body) {
            for &child in children {
                // a child id at or before its parent would be a cycle; the parser never
                // makes one, but the walk must end whatever it is given
                if child > id {
                    stack.push((child, depth + 1));
                }
            }
        }
    }
    Ok(())
}

/// The readable text: every text body part mail-parser chose (text/plain where there is
/// one; HTML where that is all there is), joined by blank lines. When there is none and a
/// multipart could not be split (no boundary, or one never found), its content is the
/// text, as written: returned with that part's id so it is not also an attachment.
fn readable_body(m: &mail_parser::Message<'_>) -> (String, BodySource, Option<u32>) {
    let mut texts = Vec::new();
    let mut source = BodySource::None;
    for &id in &m.text_body {
        match m.part(id).map(|p| &p.body) {
            Some(PartType::Text(t)) => {
                texts.push(t.to_string());
                source = BodySource::Plain;
            }
            Some(PartType::Html(h)) => {
                texts.push(html::html_to_text(h));
                if source == BodySource::None {
                    source = BodySource::Html;
                }
            }
            _ => {}
        }
    }
    let text = inbound::clean_text(&texts.join("\n\n"));
    if !text.is_empty() {
        return (text, source, None);
    }
    let broken = m.attachments.iter().copied().find(|&id| {
        m.part(id).is_some_and(|p| {
            !matches!(p.body, PartType::Multipart(_) | PartType::Message(_))
                && p.content_type()
                    .is_some_and(|ct| ct.c_type.eq_ignore_ascii_case("multipart"))
        })
    });
    if let Some(id) = broken
        && let Some(part) = m.part(id)
    {
        let text = inbound::clean_text(&String::from_utf8_lossy(part.contents()));
        if !text.is_empty() {
            return (text, BodySource::Plain, Some(id));
        }
    }
    (String::new(), BodySource::None, None)
}

fn attachments(m: &mail_parser::Message<'_>, body_part: Option<u32>) -> Vec<Attachment> {
    let mut out = Vec::new();
    for &id in &m.attachments {
        if Some(id) == body_part {
            continue;
        }
        let Some(part) = m.part(id) else { continue };
        let (bytes, default_type): (Vec<u8>, &str) = match &part.body {
            PartType::Text(t) => (t.as_bytes().to_vec(), "text/plain"),
            PartType::Html(h) => (h.as_bytes().to_vec(), "text/html"),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                (b.to_vec(), "application/octet-stream")
            }
            PartType::Message(nested) => (nested.raw_message().to_vec(), "message/rfc822"),
            PartType::Multipart(_) => continue,
        };
        let content_type = part
            .content_type()
            .map(|ct| match &ct.c_subtype {
                Some(sub) => format!("{}/{}", ct.c_type, sub),
                None => ct.c_type.to_string(),
            })
            .map(|t| inbound::one_line(&t, 127).to_ascii_lowercase())
            .filter(|t| t.contains('/'))
            .unwrap_or_else(|| default_type.to_string());
        let inline = matches!(part.body, PartType::InlineBinary(_))
            || part.content_disposition().is_some_and(|d| d.is_inline());
        out.push(Attachment {
            file_name: part
                .attachment_name()
                .and_then(casework_core::attachment::file_name),
            content_type,
            inline,
            bytes,
        });
    }
    out
}

fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    addr.map(|a| {
        a.iter()
            .map(|m| Mailbox::new(m.name(), m.address().unwrap_or_default()))
            .collect()
    })
    .unwrap_or_default()
}

/// `Delivered-To` and `X-Original-To` addresses (the parser keeps these headers raw).
fn delivered_to(m: &mail_parser::Message<'_>) -> Vec<Mailbox> {
    let mut out: Vec<Mailbox> = Vec::new();
    for header in m.headers() {
        let name = header.name();
        if !(name.eq_ignore_ascii_case("Delivered-To")
            || name.eq_ignore_ascii_case("X-Original-To"))
        {
            continue;
        }
        let raw = signals::raw_value(m, header);
        let text = raw.trim().trim_start_matches('<').trim_end_matches('>');
        let mailbox = Mailbox::new(None, text);
        if !out.iter().any(|b| b.raw == mailbox.raw) {
            out.push(mailbox);
        }
        if out.len() >= 20 {
            break;
        }
    }
    out
}

/// A message id as kept: no angle brackets, no white space or control character, not
/// empty, not longer than [`MAX_MESSAGE_ID`].
pub(crate) fn clean_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_MESSAGE_ID
        && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| id.to_string())
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in value.as_text_list().unwrap_or_default() {
        if let Some(id) = clean_id(id)
            && !out.contains(&id)
        {
            out.push(id);
        }
        if out.len() >= 100 {
            break;
        }
    }
    out
}

/// The date as a timestamp, when it is a real date with a real offset.
fn timestamp(d: &mail_parser::DateTime) -> Option<jiff::Timestamp> {
    let civil = jiff::civil::DateTime::new(
        i16::try_from(d.year).ok()?,
        i8::try_from(d.month).ok()?,
        i8::try_from(d.day).ok()?,
        i8::try_from(d.hour).ok()?,
        i8::try_from(d.minute).ok()?,
        i8::try_from(d.second).ok()?,
        0,
    )
    .ok()?;
    let seconds = i32::from(d.tz_hour) * 3600 + i32::from(d.tz_minute) * 60;
    let seconds = if d.tz_before_gmt { -seconds } else { seconds };
    jiff::tz::Offset::from_seconds(seconds)
        .ok()?
        .to_timestamp(civil)
        .ok()
}
