//! The pure rules of inbound email: the keys that thread a message and its idempotency key.

use super::*;
use crate::inbound::{BodySource, Mailbox, digest};

fn message(id: Option<&str>, subject: &str) -> InboundMessage {
    InboundMessage {
        message_id: id.map(Into::into),
        in_reply_to: vec![],
        references: vec![],
        from: Some(Mailbox::new(None, "zoe@kunde.example")),
        reply_to: vec![],
        to: vec![],
        cc: vec![],
        delivered_to: vec![],
        subject: subject.into(),
        date: None,
        body: "b".into(),
        body_source: BodySource::Plain,
        attachments: vec![],
        auto_signals: vec![],
        bounce: None,
        thread_index: None,
        digest: digest(subject.as_bytes()),
        size: 1,
    }
}

#[test]
fn casework_message_ids_name_their_case_on_the_support_domain_only() {
    let n = |s: &str| case_of_message_id(s, "example.com").map(CaseNumber::get);
    assert_eq!(n("ab12.case-00001027@example.com"), Some(1027));
    assert_eq!(n("ab12.case-00001027@EXAMPLE.com"), Some(1027));
    assert_eq!(n("ab12.case-00001027@example.org"), None);
    assert_eq!(n("ab12.case-@example.com"), None);
    assert_eq!(n("ab12.case-0@example.com"), None);
    assert_eq!(n("ab12.case-+12@example.com"), None);
    assert_eq!(n("no-at-sign"), None);
    assert_eq!(n("x.case-99999999999999999999@example.com"), None);
    // with a reply token: the number it claims (the signature is checked elsewhere)
    assert_eq!(n("ab12.c1027.0123456789abcdef0123@example.com"), Some(1027));
    assert_eq!(n("ab12.c1027.0123456789abcdef0123@example.org"), None);
    assert_eq!(n("ab12.c1027.0123@example.com"), None);
}

#[test]
fn the_storage_protocol_knows_casework_message_ids_with_or_without_a_token() {
    use crate::reply_token::ReplyKeys;
    use crate::workflow::{is_casework_message_id, signed_message_id};
    let n = CaseNumber::new(1027).unwrap();
    let keys = ReplyKeys::parse(&"k".repeat(32)).unwrap();
    let plain = signed_message_id("ab12", n, "example.com", None);
    assert_eq!(plain, "ab12.case-00001027@example.com");
    let signed = signed_message_id("ab12", n, "example.com", Some(&keys));
    assert_eq!(signed, format!("ab12.{}@example.com", keys.token(n)));
    for ok in [&plain, &signed] {
        assert!(is_casework_message_id(ok, "ab12", n, "example.com"), "{ok}");
    }
    let other = CaseNumber::new(1028).unwrap();
    for (id, message_id, case) in [
        ("ab12", signed.as_str(), other),
        ("ab13", signed.as_str(), n),
        ("ab12", &signed.replace("example.com", "example.org"), n),
        ("ab12", &signed.replace("ab12.", "ab12.x."), n),
        ("ab12", "ab12.c1027.zz@example.com", n),
    ] {
        assert!(
            !is_casework_message_id(message_id, id, case, "example.com"),
            "{message_id}"
        );
    }
}

#[test]
fn participants_are_the_customer_and_whom_the_case_mailed_or_heard_from() {
    use crate::event::Event;
    use crate::model::TemplateName;
    let case = crate::testing::sample_case();
    let addr = |s: &str| -> EmailAddress { s.parse().unwrap() };
    let event = |kind| Event {
        case: case.number,
        seq: 2,
        at: jiff::Timestamp::UNIX_EPOCH,
        actor: "x".into(),
        kind,
    };
    let received = |from: &str, rule| {
        let mut m = message(Some("m@x"), "s");
        m.from = Some(crate::inbound::Mailbox::new(None, from));
        let from = addr(from);
        let arrival = Arrival {
            message: &m,
            from: &from,
            key: "k",
            rule,
            held_back: None,
        };
        event(arrival.received(Visibility::Internal, false, None))
    };
    let queued = |to: &str| {
        event(EventKind::EmailQueued {
            message: "m1".into(),
            message_id: None,
            template: TemplateName::InitialContact,
            to: addr(to),
            subject: "s".into(),
            body: "b".into(),
            counted: true,
        })
    };
    let history = vec![
        received("cc@kunde.example", ThreadRule::References),
        received("mailer-daemon@mx.example", ThreadRule::Bounce),
        queued("old@kunde.example"),
    ];
    assert!(is_participant(&case, &[], &case.customer.email));
    for yes in ["cc@kunde.example", "old@kunde.example"] {
        assert!(is_participant(&case, &history, &addr(yes)), "{yes}");
    }
    for no in ["mailer-daemon@mx.example", "eve@evil.example"] {
        assert!(!is_participant(&case, &history, &addr(no)), "{no}");
    }
}

#[test]
fn a_subject_tag_is_found_with_or_without_hash() {
    let t = |s: &str| subject_tag(s).map(CaseNumber::get);
    assert_eq!(t("Re: [Case #00001027] Printer"), Some(1027));
    assert_eq!(t("AW: [case 00001027] Drucker"), Some(1027));
    assert_eq!(t("[Ticket 5] [Case 7]"), Some(7));
    assert_eq!(t("[Case #] x"), None);
    assert_eq!(t("[Case 12 x]"), None);
    assert_eq!(t("[Cas"), None);
    assert_eq!(t("[Casé 1]"), None);
    assert_eq!(t("[Casé 1] [Case 2]"), Some(2));
    assert_eq!(t("Case 1027"), None);
}

#[test]
fn the_key_is_the_message_id_with_its_sender_else_the_digest() {
    let zoe: EmailAddress = "zoe@kunde.example".parse().unwrap();
    let eve: EmailAddress = "eve@evil.example".parse().unwrap();
    let a = message(Some("m1@x"), "s");
    let mut b = message(Some("m1@x"), "other bytes");
    assert_eq!(inbound_key(&a, &zoe), inbound_key(&b, &zoe));
    assert_ne!(inbound_key(&a, &zoe), inbound_key(&a, &eve));
    b.message_id = None;
    let c = message(None, "s");
    assert_ne!(inbound_key(&b, &zoe), inbound_key(&c, &zoe));
    assert!(inbound_key(&a, &zoe).len() <= crate::limits::MAX_IDEMPOTENCY_KEY);
}

#[test]
fn a_new_case_takes_subject_sender_and_body_within_limits() {
    let zoe: EmailAddress = "zoe@kunde.example".parse().unwrap();
    let mut m = message(None, "");
    m.body = "é".repeat(MAX_TEXT + 5);
    let new = new_case(&m, &zoe);
    assert_eq!(new.title, NO_SUBJECT);
    assert_eq!(new.customer.name, "zoe@kunde.example");
    assert_eq!(new.description.chars().count(), MAX_TEXT);
    assert_eq!(new.origin, Origin::Email);
}

#[test]
fn a_sender_is_over_the_rate_with_as_many_email_cases_in_the_last_minute() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let case = |origin: Origin, seconds_ago: i64| {
        let mut c = crate::testing::sample_case();
        c.origin = origin;
        c.opened_by = c.customer.email.as_str().to_string();
        c.created_at = now - jiff::SignedDuration::from_secs(seconds_ago);
        c
    };
    let two_recent = [case(Origin::Email, 1), case(Origin::Email, 59)];
    assert!(sender_over_rate(&two_recent, 2, now));
    assert!(!sender_over_rate(&two_recent, 3, now));
    assert!(!sender_over_rate(&[], 1, now));
    // a minute old, or opened by staff: not part of a storm
    let mixed = [case(Origin::Email, 1), case(Origin::Email, 60)];
    assert!(!sender_over_rate(&mixed, 2, now));
    let staff = [case(Origin::Email, 1), case(Origin::Phone, 2)];
    assert!(!sender_over_rate(&staff, 2, now));
    let mut typed_in = case(Origin::Email, 2);
    typed_in.opened_by = "Ana Lopez".into();
    assert!(!sender_over_rate(
        &[case(Origin::Email, 1), typed_in],
        2,
        now
    ));
}

#[test]
fn only_a_message_that_can_open_nothing_but_its_own_case_stands_alone() {
    let support: EmailAddress = "support@example.com".parse().unwrap();
    let fresh = message(Some("a@kunde.example"), "Printer offline");
    assert!(stands_alone(&fresh, &support));
    let mut reply = fresh.clone();
    reply.in_reply_to = vec!["x@example.com".into()];
    assert!(!stands_alone(&reply, &support));
    let mut referencing = fresh.clone();
    referencing.references = vec!["x@example.com".into()];
    assert!(!stands_alone(&referencing, &support));
    let tagged = message(Some("b@kunde.example"), "Re: [Case #00000012] offline");
    assert!(!stands_alone(&tagged, &support));
    let mut tokened = fresh.clone();
    tokened.to = vec![Mailbox::new(
        None,
        "support+c12.0123456789abcdef0123@example.com",
    )];
    assert!(!stands_alone(&tokened, &support));
    // plus-addressing of another address is no token
    let mut other = fresh.clone();
    other.to = vec![Mailbox::new(
        None,
        "sales+c12.0123456789abcdef0123@example.com",
    )];
    assert!(stands_alone(&other, &support));
    let mut bounce = fresh;
    bounce.bounce = Some(Bounce {
        original_message_id: None,
        recipient: None,
        action: Some("failed".into()),
        status: None,
        diagnostic: None,
        standard_report: true,
    });
    assert!(!stands_alone(&bounce, &support));
}
