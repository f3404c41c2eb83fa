//! Inbound parsing against the fixture corpus (`tests/fixtures/inbound/*.eml`, written for
//! these tests): each message's parse outcome is a reviewed snapshot, and a few properties
//! hold for every input, hostile or random: no panic, bounded output, the limits refused
//! with their reason.

use casework_core::inbound::{AutoSignalKind, BodySource, InboundMessage, Mailbox};
use casework_mail::inbound::{InboundError, InboundLimits, parse_message};
use serde_json::{Value, json};

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> InboundMessage {
    parse_message(&fixture(name), &InboundLimits::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn mailbox(m: &Mailbox) -> Value {
    json!({
        "name": m.name,
        "raw": m.raw,
        "address": m.address.as_ref().map(|a| a.as_str()),
    })
}

/// What a parse says, as JSON for the snapshot: attachments by size and digest.
fn summary(m: &InboundMessage) -> Value {
    json!({
        "message_id": m.message_id,
        "in_reply_to": m.in_reply_to,
        "references": m.references,
        "from": m.from.as_ref().map(mailbox),
        "reply_to": m.reply_to.iter().map(mailbox).collect::<Vec<_>>(),
        "to": m.to.iter().map(mailbox).collect::<Vec<_>>(),
        "cc": m.cc.iter().map(mailbox).collect::<Vec<_>>(),
        "delivered_to": m.delivered_to.iter().map(mailbox).collect::<Vec<_>>(),
        "subject": m.subject,
        "date": m.date.map(|d| d.to_string()),
        "body_source": format!("{:?}", m.body_source),
        "body": m.body,
        "attachments": m.attachments.iter().map(|a| json!({
            "file_name": a.file_name,
            "content_type": a.content_type,
            "inline": a.inline,
            "size": a.bytes.len(),
            "sha256": casework_core::inbound::digest(&a.bytes),
        })).collect::<Vec<_>>(),
        "auto_signals": m.auto_signals.iter()
            .map(|s| format!("{:?}: {}", s.kind, s.evidence))
            .collect::<Vec<_>>(),
        "bounce": m.bounce.as_ref().map(|b| json!({
            "original_message_id": b.original_message_id,
            "recipient": b.recipient,
            "action": b.action,
            "status": b.status,
            "diagnostic": b.diagnostic,
            "standard_report": b.standard_report,
            "permanent": b.is_permanent(),
        })),
        "thread_index": m.thread_index,
        "idempotency_key": m.idempotency_key(),
        "automatic": m.is_automatic(),
        "size": m.size,
    })
}

const FIXTURES: &[&str] = &[
    "plain.eml",
    "html-only.eml",
    "alternative.eml",
    "quoted-printable.eml",
    "base64.eml",
    "iso-8859-1.eml",
    "shift-jis.eml",
    "encoded-names.eml",
    "reply-gmail.eml",
    "reply-outlook.eml",
    "reply-apple-mail.eml",
    "reply-thunderbird.eml",
    "reply-token.eml",
    "out-of-office.eml",
    "bounce-postfix.eml",
    "bounce-exim.eml",
    "bounce-plain-text.eml",
    "attachments.eml",
    "no-message-id.eml",
    "malformed.eml",
    "missing-boundary.eml",
];

#[test]
fn every_fixture_has_a_reviewed_outcome_and_every_file_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "a fixture without an expected outcome");
    for name in FIXTURES {
        let m = parse(name);
        insta::assert_json_snapshot!(name.trim_end_matches(".eml"), summary(&m));
    }
}

// The snapshots hold every field; the tests below state the facts each fixture is there
// for, so a reader need not find them in the JSON.

#[test]
fn text_is_preferred_and_html_only_mail_becomes_readable_text() {
    let alt = parse("alternative.eml");
    assert_eq!(alt.body_source, BodySource::Plain);
    assert!(alt.body.contains("File > Export > PDF"), "{}", alt.body);
    assert!(!alt.body.contains("<b>"));

    let html = parse("html-only.eml");
    assert_eq!(html.body_source, BodySource::Html);
    for expected in [
        "the login page (https://portal.example.com/login?next=%2Fcases&lang=es)",
        "Sesión expirada — every time.",
        "- Browser: Firefox 124",
        "Thanks,\nRafael",
    ] {
        assert!(
            html.body.contains(expected),
            "{expected:?} in {}",
            html.body
        );
    }
    for absent in ["<", "track(", "font-family", "tracking pixel", "Portal"] {
        assert!(!html.body.contains(absent), "{absent:?} in {}", html.body);
    }
}

#[test]
fn charsets_and_transfer_encodings_decode() {
    let qp = parse("quoted-printable.eml");
    assert!(qp.body.starts_with("Grüße aus Zürich!"), "{}", qp.body);
    assert!(
        qp.body.contains("wirklich nichts."),
        "soft line breaks join: {}",
        qp.body
    );
    assert_eq!(qp.subject, "Veröffentlichung schlägt fehl");
    assert_eq!(qp.from.unwrap().name.as_deref(), Some("Jörg Müller"));

    let b64 = parse("base64.eml");
    assert_eq!(b64.subject, "地图服务无法发布");
    assert!(b64.body.contains("错误代码 999999"), "{}", b64.body);

    let latin = parse("iso-8859-1.eml");
    assert_eq!(latin.subject, "Problème de publication à résoudre");
    assert!(
        latin.body.contains("« dépôt verrouillé »"),
        "{}",
        latin.body
    );
    assert_eq!(
        latin.from.unwrap().name.as_deref(),
        Some("François Lefèvre")
    );

    let sjis = parse("shift-jis.eml");
    assert_eq!(sjis.subject, "地図の公開エラー");
    assert_eq!(sjis.from.unwrap().name.as_deref(), Some("山田太郎"));
    assert!(
        sjis.body.contains("地図サービスが公開できません。"),
        "{}",
        sjis.body
    );
}

#[test]
fn encoded_names_and_groups_are_decoded_and_addresses_parsed() {
    let m = parse("encoded-names.eml");
    let from = m.from.unwrap();
    assert_eq!(from.name.as_deref(), Some("Zoë Ångström"));
    assert_eq!(from.address.unwrap().as_str(), "zoe@kunde.example");
    assert_eq!(m.to[0].name.as_deref(), Some("Soporte Técnico"));
    assert_eq!(m.to.len(), 2);
    assert_eq!(m.cc[0].name.as_deref(), Some("Иван Петров"));
    assert_eq!(m.cc.len(), 2, "group members count: {:?}", m.cc);
    assert_eq!(m.subject, "Publicación falla: ошибка 999999");
}

#[test]
fn replies_carry_their_thread_in_each_clients_shape() {
    // Gmail: In-Reply-To the message answered, References the whole chain
    let g = parse("reply-gmail.eml");
    assert_eq!(g.in_reply_to, ["m2.case-00001027@example.com"]);
    assert_eq!(
        g.references,
        [
            "m1.case-00001027@example.com",
            "m2.case-00001027@example.com"
        ]
    );
    assert!(
        g.body.contains("> we deployed a fix"),
        "quoted history kept: {}",
        g.body
    );
    // Outlook: a Thread-Index, and only the message answered in References
    let o = parse("reply-outlook.eml");
    assert_eq!(
        o.thread_index.as_deref(),
        Some("AQHaXk3m7b2o1Y2xT0y6Vn8Qd3s4ZgAABuPw")
    );
    assert_eq!(o.in_reply_to, ["m1.case-00001028@example.com"]);
    assert!(o.body.contains("la sesión expira"), "{}", o.body);
    assert!(!o.is_automatic());
    // Apple Mail: both headers, a lower-case Message-Id header name
    let a = parse("reply-apple-mail.eml");
    assert_eq!(
        a.message_id.as_deref(),
        Some("8D4C2B1A-6E5F-4A3B-9C8D-7E6F5A4B3C2D@kunde.example")
    );
    assert_eq!(a.referenced_ids()[0], "m3.case-00001027@example.com");
    assert_eq!(a.subject, "Re: [Case 00001027] Publicación falla");
    // Thunderbird: a folded References header, format=flowed, a signature
    let t = parse("reply-thunderbird.eml");
    assert_eq!(
        t.references,
        [
            "m1.case-00001030@example.com",
            "m2.case-00001030@example.com"
        ]
    );
    assert!(
        t.body
            .ends_with("\n-- \nJörg Müller\nFirma GmbH, Abteilung GIS"),
        "{}",
        t.body
    );
}

#[test]
fn a_plus_addressed_reply_token_is_found_among_the_recipients() {
    let m = parse("reply-token.eml");
    assert!(m.in_reply_to.is_empty() && m.references.is_empty());
    let recipients: Vec<&str> = m.recipients().map(|a| a.as_str()).collect();
    assert_eq!(
        recipients,
        [
            "support+c1027.k7q2m9x4p1w8@example.com",
            "support+c1027.k7q2m9x4p1w8@example.com"
        ],
        "To, then Delivered-To and X-Original-To as one"
    );
}

#[test]
fn out_of_office_replies_are_automatic() {
    let m = parse("out-of-office.eml");
    let kinds: Vec<AutoSignalKind> = m.auto_signals.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            AutoSignalKind::AutoSubmitted,
            AutoSignalKind::SuppressAutoResponse,
            AutoSignalKind::OutOfOfficeSubject
        ]
    );
    assert!(m.is_automatic());
    assert!(m.bounce.is_none());
    // mail a person wrote has no signal at all
    for name in [
        "plain.eml",
        "reply-gmail.eml",
        "reply-outlook.eml",
        "reply-thunderbird.eml",
    ] {
        assert!(parse(name).auto_signals.is_empty(), "{name}");
    }
}

#[test]
fn bounces_name_the_message_casework_sent_and_the_reason() {
    for (name, id, recipient, status, standard) in [
        (
            "bounce-postfix.eml",
            "m1.case-00001031@example.com",
            Some("gone@cliente.example"),
            Some("5.1.1"),
            true,
        ),
        (
            "bounce-exim.eml",
            "m2.case-00001032@example.com",
            Some("nobody@kunde.example"),
            Some("5.0.0"),
            true,
        ),
        (
            "bounce-plain-text.eml",
            "m5.case-00001033@example.com",
            None,
            Some("5.7.1"),
            false,
        ),
    ] {
        let m = parse(name);
        let b = m
            .bounce
            .clone()
            .unwrap_or_else(|| panic!("{name}: no bounce"));
        assert_eq!(b.original_message_id.as_deref(), Some(id), "{name}");
        assert_eq!(b.recipient.as_deref(), recipient, "{name}");
        assert_eq!(b.status.as_deref(), status, "{name}");
        assert_eq!(b.standard_report, standard, "{name}");
        assert!(b.is_permanent(), "{name}");
        assert!(b.diagnostic.unwrap_or_default().contains("55"), "{name}");
        assert!(m.is_automatic(), "{name}");
        assert!(
            m.auto_signals
                .iter()
                .any(|s| s.kind == AutoSignalKind::DaemonSender),
            "{name}"
        );
    }
}

#[test]
fn attachments_keep_their_bytes_and_lose_any_directory() {
    let m = parse("attachments.eml");
    assert_eq!(m.attachments.len(), 2);
    let pdf = &m.attachments[0];
    assert_eq!(pdf.file_name.as_deref(), Some("publish-log.pdf"));
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-1.4") && pdf.bytes.ends_with(b"%%EOF\n"));
    let png = &m.attachments[1];
    assert_eq!(png.file_name.as_deref(), Some("Bildschirmfoto über.png"));
    assert_eq!(png.content_type, "image/png");
    assert!(png.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(
        m.body,
        "Attached: the publishing log as PDF and a screenshot."
    );
}

#[test]
fn a_message_without_a_message_id_is_keyed_by_its_digest() {
    let raw = fixture("no-message-id.eml");
    let m = parse("no-message-id.eml");
    assert_eq!(m.message_id, None);
    assert_eq!(m.date, None);
    assert_eq!(
        m.idempotency_key(),
        format!("sha256:{}", casework_core::inbound::digest(&raw))
    );
    assert_eq!(
        m.from.unwrap().address.unwrap().as_str(),
        "kiosk@terminal.example"
    );
}

#[test]
fn malformed_mime_is_read_as_far_as_it_goes() {
    let m = parse("malformed.eml");
    assert!(m.body.contains("The upload stops halfway"), "{}", m.body);
    assert_eq!(m.date, None, "an impossible date is no date");
    assert_eq!(m.message_id.as_deref(), Some("malformed-1@kunde.example"));
    let m = parse("missing-boundary.eml");
    assert!(
        m.body.contains("Text that was meant to be the plain part."),
        "{}",
        m.body
    );
}

#[test]
fn limits_are_refused_with_their_reason() {
    let small = InboundLimits {
        max_bytes: 100,
        ..InboundLimits::default()
    };
    let raw = fixture("plain.eml");
    assert_eq!(
        parse_message(&raw, &small),
        Err(InboundError::TooLarge {
            size: raw.len(),
            limit: 100
        })
    );
    assert_eq!(
        parse_message(b"", &InboundLimits::default()),
        Err(InboundError::Empty)
    );
    assert_eq!(
        parse_message(b"\n\n\n", &InboundLimits::default()),
        Err(InboundError::NoHeaders)
    );

    // 500 multiparts nested in each other: parsed, then refused for depth
    let mut deep = String::from("From: a@b.example\r\nSubject: deep\r\n");
    for i in 0..500 {
        deep.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    deep.push_str("Content-Type: text/plain\r\n\r\nbottom\r\n");
    let e = parse_message(deep.as_bytes(), &InboundLimits::default());
    assert_eq!(e, Err(InboundError::TooDeep { limit: 32 }));
    assert_eq!(
        e.unwrap_err().to_string(),
        "the message nests MIME parts more than 32 deep"
    );

    // more multipart declarations than parts allowed: refused before parsing
    let mut many = String::from("From: a@b.example\r\n");
    for i in 0..1001 {
        many.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    assert_eq!(
        parse_message(many.as_bytes(), &InboundLimits::default()),
        Err(InboundError::TooManyParts { limit: 1000 })
    );

    // many flat parts
    let mut flat =
        String::from("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n");
    for _ in 0..1200 {
        flat.push_str("--x\r\nContent-Type: text/plain\r\n\r\npart\r\n");
    }
    flat.push_str("--x--\r\n");
    assert_eq!(
        parse_message(flat.as_bytes(), &InboundLimits::default()),
        Err(InboundError::TooManyParts { limit: 1000 })
    );
}

#[test]
fn hostile_headers_never_reach_one_line_fields_as_markup_or_breaks() {
    let raw = "From: =?utf-8?q?Eve=0D=0ABcc:_x@y.example?= <eve@evil.example>\r\n\
               Subject: =?utf-8?q?hello=0Aworld=1B[31m=E2=80=AE?=\r\n\
               Message-ID: <has space@evil.example>\r\n\
               In-Reply-To: <a@b> <c\x01d@e>\r\n\
               Content-Type: multipart/related; boundary=\"r\"\r\n\r\n\
               --r\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"/etc/passwd\r\n x\"\r\n\r\nAAAA\r\n--r--\r\n";
    let m = parse_message(raw.as_bytes(), &InboundLimits::default()).unwrap();
    let from = m.from.unwrap();
    assert_eq!(from.name.as_deref(), Some("Eve Bcc: x@y.example"));
    assert_eq!(m.subject, "hello world [31m", "the escape became a space");
    assert_eq!(m.message_id, None, "an id with white space is no id");
    assert_eq!(m.in_reply_to, ["a@b"]);
    for a in &m.attachments {
        let name = a.file_name.clone().unwrap_or_default();
        assert!(!name.contains('/') && !name.contains('\n'), "{name:?}");
    }
}

/// Properties of every parse: bounded, one-line fields on one line, body without control
/// characters but newlines and tabs.
fn check_invariants(raw: &[u8], m: &InboundMessage) {
    let one_line = |s: &str| !s.chars().any(|c| c.is_control());
    assert!(one_line(&m.subject));
    for b in m
        .from
        .iter()
        .chain(&m.to)
        .chain(&m.cc)
        .chain(&m.reply_to)
        .chain(&m.delivered_to)
    {
        assert!(one_line(&b.raw) && b.name.as_deref().is_none_or(one_line));
    }
    assert!(
        !m.body
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    );
    assert!(m.body.len() <= raw.len() * 4 + 64);
    let attached: usize = m.attachments.iter().map(|a| a.bytes.len()).sum();
    assert!(
        attached <= raw.len() * 2,
        "attachments {attached} from {} bytes",
        raw.len()
    );
    assert_eq!(m.size, raw.len());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1500))]

    /// Any bytes: a message or a refusal, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        if let Ok(m) = parse_message(&raw, &InboundLimits::default()) {
            check_invariants(&raw, &m);
        }
    }

    /// Fixtures with bytes flipped, cut, and spliced: the same.
    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>(), 0u8..4), 1..12),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let mut raw = fixture(FIXTURES[which]);
        for (at, byte, op) in edits {
            if raw.is_empty() { break; }
            let i = at.index(raw.len());
            match op {
                0 => raw[i] = byte,
                1 => { raw.remove(i); }
                2 => raw.insert(i, byte),
                _ => {
                    // repeat a slice: boundaries, headers, encoded words twice
                    let end = (i + 40).min(raw.len());
                    let piece = raw[i..end].to_vec();
                    raw.splice(i..i, piece);
                }
            }
        }
        let keep = cut.index(raw.len() + 1);
        raw.truncate(keep.max(raw.len() / 2));
        if let Ok(m) = parse_message(&raw, &InboundLimits::default()) {
            check_invariants(&raw, &m);
        }
    }
}
