//! The signs of automatic mail and the contents of bounces, read from a parsed message.
//!
//! Auto-reply signals follow RFC 3834 and what the helpdesks people use treat as automatic:
//! Request Tracker (`Auto-Submitted` not `no`, `Precedence: bulk|junk`, mailer-daemon and
//! postmaster senders, a null return path, `X-FC-Machinegenerated`), Zammad (`X-Loop`,
//! `X-Auto-Response-Suppress`), FreeScout (`X-Autoreply`, `X-Autorespond`,
//! `X-Autoresponder`, `Precedence`/`X-Precedence` of `auto_reply|bulk|junk|list`, a
//! `Delivered-To` naming an autoresponder), plus Exchange's generated-message header and
//! the subject prefixes out-of-office notices use. Bounces are RFC 3464 reports
//! (`multipart/report; report-type=delivery-status`) or, for mail systems that still send
//! plain text, a mailer-daemon sender whose body quotes the original headers.

use casework_core::inbound::{self, AutoSignal, AutoSignalKind, Bounce};
use mail_parser::{Header, Message, MessageParser, MimeHeaders, PartType};

use super::clean_id;

/// Longest evidence kept for a signal, in characters.
const EVIDENCE_MAX: usize = 120;

/// Subject starts (lower-case) that out-of-office and auto-reply notices use, in the
/// languages helpdesk customers write in most.
const OOO_SUBJECTS: &[&str] = &[
    "automatic reply:",
    "auto reply:",
    "autoreply:",
    "auto-reply:",
    "auto:",
    "out of office:",
    "out of office reply:",
    "out of office autoreply:",
    "out of the office:",
    "abwesenheitsnotiz:",
    "automatische antwort:",
    "réponse automatique :",
    "réponse automatique:",
    "absence du bureau :",
    "respuesta automática:",
    "risposta automatica:",
    "resposta automática:",
    "automatisch antwoord:",
    "afwezigheidsbericht:",
    "autosvar:",
    "automaattinen vastaus:",
    "automatyczna odpowiedź:",
    "自動応答:",
    "自动回复:",
];

/// A header's value as written, unfolded (line breaks with their indentation become one
/// space), RFC 2047 words left as they are.
pub(crate) fn raw_value(m: &Message<'_>, h: &Header<'_>) -> String {
    let bytes = m
        .raw_message()
        .get(h.offset_start() as usize..h.offset_end() as usize)
        .unwrap_or_default();
    String::from_utf8_lossy(bytes)
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn signal(kind: AutoSignalKind, evidence: &str) -> AutoSignal {
    AutoSignal {
        kind,
        evidence: inbound::one_line(evidence, EVIDENCE_MAX),
    }
}

/// Every sign that a machine sent `m`, in header order, then the sender, then the subject.
pub(crate) fn auto_signals(m: &Message<'_>) -> Vec<AutoSignal> {
    let mut out = Vec::new();
    for h in m.headers() {
        let name = h.name().to_ascii_lowercase();
        let value = raw_value(m, h);
        let v = value.to_ascii_lowercase();
        let kind = match name.as_str() {
            "auto-submitted"
                if !v.is_empty() && v.split(';').next().map(str::trim) != Some("no") =>
            {
                Some(AutoSignalKind::AutoSubmitted)
            }
            "precedence" | "x-precedence"
                if ["bulk", "junk", "list", "auto_reply", "auto-reply"].contains(&v.trim()) =>
            {
                Some(AutoSignalKind::Precedence)
            }
            "x-autoreply" | "x-autorespond" | "x-autoresponder" | "x-autoreply-from"
            | "x-mail-autoreply" => Some(AutoSignalKind::AutoReplyHeader),
            "x-auto-response-suppress"
                if v.split(',')
                    .map(str::trim)
                    .any(|t| matches!(t, "all" | "oof" | "autoreply")) =>
            {
                Some(AutoSignalKind::SuppressAutoResponse)
            }
            "x-ms-exchange-generated-message-source" => Some(AutoSignalKind::ExchangeGenerated),
            "x-loop" => Some(AutoSignalKind::LoopHeader),
            "x-fc-machinegenerated" if v.starts_with("true") => Some(AutoSignalKind::LoopHeader),
            "return-path" if v.trim() == "<>" => Some(AutoSignalKind::NullReturnPath),
            "delivered-to" if v.contains("autoresponder") => {
                Some(AutoSignalKind::DeliveredToAutoresponder)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            let evidence = if value.is_empty() { h.name() } else { &value };
            out.push(signal(kind, evidence));
        }
        if out.len() >= 32 {
            break;
        }
    }
    if let Some(local) = daemon_sender(m) {
        out.push(signal(AutoSignalKind::DaemonSender, &local));
    }
    if let Some(subject) = m.subject() {
        let lower = subject.trim_start().to_lowercase();
        if let Some(prefix) = OOO_SUBJECTS.iter().find(|p| lower.starts_with(*p)) {
            out.push(signal(AutoSignalKind::OutOfOfficeSubject, prefix));
        }
    }
    out
}

/// The sender's address when it is a mail system's (`mailer-daemon@…`, `postmaster@…`).
fn daemon_sender(m: &Message<'_>) -> Option<String> {
    let address = m.from()?.first()?.address()?;
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let l = local.to_ascii_lowercase();
    (l == "mailer-daemon" || l == "postmaster").then(|| address.to_string())
}

/// What a bounce says, when `m` is one: a standard delivery-status report, or a plain-text
/// notice from a mailer daemon.
pub(crate) fn bounce(m: &Message<'_>) -> Option<Bounce> {
    let root_type = m.root_part().content_type();
    let is_report = root_type.is_some_and(|ct| {
        ct.c_type.eq_ignore_ascii_case("multipart")
            && ct
                .c_subtype
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    if is_report {
        return Some(report(m));
    }
    daemon_sender(m)?;
    // a plain-text notice: the original's headers are quoted in the body
    let mut bounce = Bounce {
        original_message_id: None,
        recipient: None,
        action: None,
        status: None,
        diagnostic: None,
        standard_report: false,
    };
    let text = m
        .text_body
        .iter()
        .filter_map(|&id| match m.part(id).map(|p| &p.body) {
            Some(PartType::Text(t)) => Some(t.as_ref()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    for line in text.lines() {
        let t = line.trim();
        if bounce.diagnostic.is_none() && smtp_reply(t) {
            bounce.diagnostic = Some(inbound::one_line(t, 500));
            bounce.status = enhanced_status(t);
        }
        if bounce.original_message_id.is_none()
            && let Some((name, value)) = t.split_once(':')
            && name.trim().eq_ignore_ascii_case("message-id")
        {
            bounce.original_message_id = clean_id(value);
        }
    }
    // attachments of the original, when the notice attached it
    if bounce.original_message_id.is_none() {
        bounce.original_message_id = returned_message_id(m);
    }
    Some(bounce)
}

/// Whether a line looks like an SMTP server's refusal: a 4xx/5xx code and text.
fn smtp_reply(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 4
        && matches!(b[0], b'4' | b'5')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && matches!(b[3], b' ' | b'-')
}

/// An enhanced status code (`5.1.1`) in a line, when there is one.
fn enhanced_status(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ')' | '#' | '[' | ']'))
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
}

/// Reads a standard report: the delivery-status part, then the returned message or headers.
fn report(m: &Message<'_>) -> Bounce {
    let mut bounce = Bounce {
        original_message_id: returned_message_id(m),
        recipient: None,
        action: None,
        status: None,
        diagnostic: None,
        standard_report: true,
    };
    let status_part = m.parts.iter().find(|p| {
        p.content_type().is_some_and(|ct| {
            ct.c_subtype.as_deref().is_some_and(|s| {
                s.eq_ignore_ascii_case("delivery-status")
                    || s.eq_ignore_ascii_case("global-delivery-status")
            })
        })
    });
    if let Some(part) = status_part {
        let text = String::from_utf8_lossy(part.contents()).into_owned();
        read_delivery_status(&text, &mut bounce);
    }
    bounce
}

/// Fills the per-recipient fields of an RFC 3464 `message/delivery-status` body: the first
/// recipient whose action is `failed`, else the first recipient.
fn read_delivery_status(text: &str, bounce: &mut Bounce) {
    // unfold, then split into blocks at blank lines; the first block is per-message
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.replace("\r\n", "\n").split('\n') {
        if line.trim().is_empty() {
            if blocks.last().is_some_and(|b| !b.is_empty()) {
                blocks.push(Vec::new());
            }
            continue;
        }
        let current = blocks.last_mut();
        if let Some(current) = current {
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = current.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                current.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        if blocks.len() > 200 {
            break;
        }
    }
    let field = |block: &[(String, String)], name: &str| {
        block
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let recipients: Vec<&Vec<(String, String)>> = blocks
        .iter()
        .filter(|b| {
            field(b, "final-recipient").is_some() || field(b, "original-recipient").is_some()
        })
        .collect();
    let chosen = recipients
        .iter()
        .find(|b| field(b, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed")))
        .or(recipients.first());
    let Some(block) = chosen else { return };
    let typed = |v: String| {
        let v = v.split_once(';').map_or(v.as_str(), |(_, a)| a).trim();
        inbound::one_line(v, 500)
    };
    bounce.recipient = field(block, "final-recipient")
        .or_else(|| field(block, "original-recipient"))
        .map(typed)
        .filter(|r| !r.is_empty());
    bounce.action = field(block, "action")
        .map(|a| inbound::one_line(&a, 40).to_ascii_lowercase())
        .filter(|a| !a.is_empty());
    bounce.status = field(block, "status")
        .map(|s| inbound::one_line(s.split_whitespace().next().unwrap_or(""), 20))
        .filter(|s| !s.is_empty());
    bounce.diagnostic = field(block, "diagnostic-code")
        .map(typed)
        .filter(|d| !d.is_empty());
}

/// The Message-ID of the message a report returns: in a `message/rfc822` part, or in a
/// `text/rfc822-headers` (or `message/rfc822-headers`) part.
fn returned_message_id(m: &Message<'_>) -> Option<String> {
    for part in &m.parts {
        match &part.body {
            PartType::Message(nested) => {
                if let Some(id) = nested.message_id().and_then(clean_id) {
                    return Some(id);
                }
            }
            _ if part.content_type().is_some_and(|ct| {
                ct.c_subtype
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
            }) =>
            {
                let headers = MessageParser::default().parse_headers(part.contents());
                if let Some(id) = headers
                    .as_ref()
                    .and_then(|h| h.message_id())
                    .and_then(clean_id)
                {
                    return Some(id);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_replies_and_status_codes() {
        assert!(smtp_reply("550 5.1.1 <x@y>: Recipient address rejected"));
        assert!(smtp_reply("421-4.7.0 try again later"));
        assert!(!smtp_reply("5500 bytes"));
        assert!(!smtp_reply("Subject: 550"));
        assert_eq!(
            enhanced_status("550 5.1.1 <x@y>: rejected").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(enhanced_status("550 rejected (1.2.3.4)"), None);
    }

    #[test]
    fn a_delivery_status_with_several_recipients_reports_the_failed_one() {
        let mut b = Bounce {
            original_message_id: None,
            recipient: None,
            action: None,
            status: None,
            diagnostic: None,
            standard_report: true,
        };
        read_delivery_status(
            "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; ok@a.example\n\
             Action: delivered\nStatus: 2.0.0\n\nFinal-Recipient: rfc822; gone@b.example\n\
             Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such\n  user here\n",
            &mut b,
        );
        assert_eq!(b.recipient.as_deref(), Some("gone@b.example"));
        assert_eq!(b.action.as_deref(), Some("failed"));
        assert_eq!(b.status.as_deref(), Some("5.1.1"));
        assert_eq!(b.diagnostic.as_deref(), Some("550 5.1.1 no such user here"));
    }
}
