//! Inbound email through the service on the whole store: a new sender opens a case once, a
//! reply threads by a signed reply token, by Casework's Message-IDs or by the subject's tag
//! (only for the case's participants), what the reply does to the workflow, and that a redelivered or raced message
//! is taken once. This group needs every capability the service reads.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::documents::EmailFields;
use casework_core::event::{Event, EventKind};
use casework_core::ids::CaseNumber;
use casework_core::inbound::{
    AutoSignal, AutoSignalKind, BodySource, Bounce, InboundMessage, Mailbox, digest,
};
use casework_core::model::PostKind;
use casework_core::model::{
    Actor, CloseMode, Origin, Resolution, Role, StatusCategory, TemplateName, ThreadRule,
    Visibility,
};
use casework_core::ports::CaseStore;
use casework_core::reply_token::ReplyKeys;
use casework_core::service::{CaseService, Ingested};
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::workflow::{CaseEdit, Command};
use casework_core::{Templates, WorkflowConfig};
use jiff::SignedDuration;

use super::{ana, new_case, staff};

pub(crate) const CUSTOMER: &str = "zoe@kunde.example";

struct Bench {
    store: Arc<dyn CaseStore>,
    svc: CaseService,
    clock: Arc<FixedClock>,
    mail: Actor,
}

async fn bench<S: CaseStore + 'static>(store: Arc<S>) -> Bench {
    let store: Arc<dyn CaseStore> = store;
    let clock = Arc::new(FixedClock::default());
    let svc = CaseService::new(
        store.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    );
    store.put_person(staff("ana", Role::Agent)).await.unwrap();
    Bench {
        store,
        svc,
        clock,
        mail: Actor::operator("mail"),
    }
}

/// A message a person wrote, with a Message-ID of its own.
pub(crate) fn mail(id: &str, from: &str, subject: &str, body: &str) -> InboundMessage {
    InboundMessage {
        message_id: Some(format!("{id}@mail.kunde.example")),
        in_reply_to: vec![],
        references: vec![],
        from: Some(Mailbox::new(Some("Zoe Kunde"), from)),
        reply_to: vec![],
        to: vec![Mailbox::new(None, "support@example.com")],
        cc: vec![],
        delivered_to: vec![],
        subject: subject.into(),
        date: None,
        body: body.into(),
        body_source: BodySource::Plain,
        attachments: vec![],
        auto_signals: vec![],
        bounce: None,
        thread_index: None,
        digest: digest(id.as_bytes()),
        size: body.len(),
    }
}

fn reply_to(id: &str, from: &str, to_message: &str) -> InboundMessage {
    let mut m = mail(id, from, "Re: your case", "thanks, here is more");
    m.in_reply_to = vec![to_message.into()];
    m.references = vec![to_message.into()];
    m
}

impl Bench {
    async fn ingest(&self, m: &InboundMessage) -> Ingested {
        self.svc.ingest(&self.mail, m).await.unwrap()
    }

    /// A case for the customer, taken by ana, with the initial-contact email queued; its
    /// number and that email's Message-ID.
    async fn case_with_email(&self) -> (CaseNumber, String) {
        let case = self
            .svc
            .open_case(&ana(), new_case("Printer offline", "d", CUSTOMER))
            .await
            .unwrap();
        self.run(case.number, Command::Take).await;
        self.run(
            case.number,
            Command::SendEmail {
                template: TemplateName::InitialContact,
                fields: EmailFields::default(),
            },
        )
        .await;
        let sent = self.store.outbox_for_case(case.number).await.unwrap();
        (case.number, sent[0].message_id.clone())
    }

    /// Closes a case as resolved, meeting the closing checklist first.
    async fn close(&self, n: CaseNumber) {
        let some = |s: &str| Some(s.to_string());
        self.run(
            n,
            Command::Edit(CaseEdit {
                product: some("Printer"),
                product_version: some("2"),
                product_area: some("Hardware"),
                functionality: some("Printing"),
                issue: some("Offline"),
                ..CaseEdit::default()
            }),
        )
        .await;
        self.run(n, Command::ConfirmTitle).await;
        self.run(
            n,
            Command::AddPost {
                kind: PostKind::Summary,
                body: "fixed the driver".into(),
                visibility: Visibility::Internal,
            },
        )
        .await;
        self.run(
            n,
            Command::Close {
                mode: CloseMode::Resolved,
                resolution: Some(Resolution {
                    primary: "fixed".into(),
                    secondary: "driver".into(),
                }),
                notify_customer: false,
            },
        )
        .await;
    }

    /// Moves a case to the pending status "Pending Customer".
    async fn pending(&self, n: CaseNumber) {
        let status = "Pending Customer".into();
        self.run(n, Command::Transition { status, note: None })
            .await;
    }

    async fn run(&self, n: CaseNumber, cmd: Command) {
        self.svc.execute(&ana(), n, None, cmd).await.unwrap();
    }

    async fn received(&self, n: CaseNumber) -> Vec<Event> {
        self.store
            .history(n)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::EmailReceived { .. }))
            .collect()
    }
}

pub async fn a_new_sender_opens_a_case_once<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let m = mail("first", CUSTOMER, "Printer offline", "it shows error 42");
    let first = b.ingest(&m).await;
    assert!(first.created && !first.duplicate);
    assert_eq!(first.rule, ThreadRule::NewCase);
    let case = b.store.load_case(first.case).await.unwrap();
    assert_eq!(case.origin, Origin::Email);
    assert_eq!(case.title, "Printer offline");
    assert_eq!(case.description, "it shows error 42");
    assert_eq!(case.customer.email.as_str(), CUSTOMER);
    assert_eq!(case.customer.name, "Zoe Kunde");
    // the same message again changes nothing
    let again = b.ingest(&m).await;
    assert_eq!((again.case, again.duplicate), (first.case, true));
    assert_eq!(b.received(first.case).await.len(), 1);
    assert_eq!(b.store.stats().await.unwrap().cases, 1);
    // the same Message-ID from someone else is another message
    let other = b
        .ingest(&mail("first", "eve@elsewhere.example", "Hello", "x"))
        .await;
    assert!(other.created && other.case != first.case);
}

pub async fn a_reply_threads_onto_its_case_and_reaches_the_customer<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let (n, sent) = b.case_with_email().await;
    b.pending(n).await;
    assert_eq!(b.store.load_case(n).await.unwrap().contacts.emails, 1);
    let got = b.ingest(&reply_to("r1", CUSTOMER, &sent)).await;
    assert_eq!(
        (got.case, got.rule, got.created),
        (n, ThreadRule::References, false)
    );
    let case = b.store.load_case(n).await.unwrap();
    assert_eq!(case.contacts.emails, 0, "a reply starts the count over");
    assert_eq!(
        case.status.as_str(),
        "In Progress",
        "a pending case moves on"
    );
    let received = b.received(n).await;
    match &received[0].kind {
        EventKind::EmailReceived {
            visibility,
            from_customer,
            rule,
            body,
            ..
        } => {
            assert_eq!(*visibility, Visibility::Customer);
            assert!(*from_customer);
            assert_eq!(*rule, ThreadRule::References);
            assert_eq!(body, "thanks, here is more");
        }
        other => panic!("{other:?}"),
    }
    // an id that only looks like Casework's does not thread
    let forged = sent.replacen(|c: char| c.is_ascii_alphanumeric(), "x", 1);
    let elsewhere = b.ingest(&reply_to("r2", CUSTOMER, &forged)).await;
    assert!(elsewhere.created && elsewhere.case != n);
}

pub async fn a_subject_tag_threads_only_for_the_cases_participants<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let (n, sent) = b.case_with_email().await;
    let subject = format!("Re: [Case #{}] Printer offline", n.display());
    let stranger = b
        .ingest(&mail("s1", "mallory@evil.example", &subject, "let me in"))
        .await;
    assert!(stranger.created && stranger.case != n, "{stranger:?}");
    assert!(b.received(n).await.is_empty());
    let own = b.ingest(&mail("s2", CUSTOMER, &subject, "more")).await;
    assert_eq!((own.case, own.rule), (n, ThreadRule::SubjectTag));
    // a colleague the customer copied: once the case received mail from them, their
    // subject tag threads too (their mail stays internal: they are not the customer)
    const COLLEAGUE: &str = "colleague@kunde.example";
    let cc = b.ingest(&reply_to("s3", COLLEAGUE, &sent)).await;
    assert_eq!((cc.case, cc.rule), (n, ThreadRule::References));
    let tagged = b.ingest(&mail("s4", COLLEAGUE, &subject, "also")).await;
    assert_eq!((tagged.case, tagged.rule), (n, ThreadRule::SubjectTag));
    assert!(
        b.received(n)
            .await
            .iter()
            .skip(1)
            .all(|e| e.for_customer().is_none())
    );
    // the stranger is still a stranger
    let again = b
        .ingest(&mail("s5", "mallory@evil.example", &subject, "now?"))
        .await;
    assert_ne!(again.case, n);
}

pub async fn a_reply_naming_mail_the_case_received_threads_onto_it<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let first = b
        .ingest(&mail("first", CUSTOMER, "Printer offline", "error 42"))
        .await;
    // a colleague answers all to the customer's mail, not to any Casework sent
    const COLLEAGUE: &str = "colleague@kunde.example";
    let got = b
        .ingest(&reply_to("cc1", COLLEAGUE, "first@mail.kunde.example"))
        .await;
    assert_eq!(
        (got.case, got.rule, got.created),
        (first.case, ThreadRule::References, false)
    );
    // the customer answering the colleague's mail threads too, and reaches them
    let got = b
        .ingest(&reply_to("own", CUSTOMER, "cc1@mail.kunde.example"))
        .await;
    assert_eq!((got.case, got.rule), (first.case, ThreadRule::References));
    assert_eq!(b.received(first.case).await.len(), 3);
    // the store finds every case that holds an id, newest first
    let spoof = b
        .ingest(&mail("first", "eve@elsewhere.example", "Hello", "x"))
        .await;
    assert!(spoof.created);
    let holding = |id: &str, limit| {
        let store = b.store.clone();
        let id = id.to_string();
        async move { store.cases_with_message_id(id, limit).await.unwrap() }
    };
    assert_eq!(
        holding("first@mail.kunde.example", 5).await,
        vec![spoof.case, first.case]
    );
    assert_eq!(
        holding("first@mail.kunde.example", 1).await,
        vec![spoof.case]
    );
    assert!(holding("nobody@mail.kunde.example", 5).await.is_empty());
    // a spoofed copy of the id does not pull the colleague's next reply into its case
    let got = b
        .ingest(&reply_to("cc2", COLLEAGUE, "first@mail.kunde.example"))
        .await;
    assert_eq!(got.case, first.case);
    // the Message-IDs a case sent are found the same way
    let (n, sent) = b.case_with_email().await;
    assert_eq!(holding(&sent, 5).await, vec![n]);
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-current";
const RETIRED: &str = "0123456789abcdef0123456789abcdef-retired";

fn keys(list: &str) -> ReplyKeys {
    ReplyKeys::parse(list).unwrap()
}

fn addressed_to(id: &str, to: &str) -> InboundMessage {
    let mut m = mail(id, CUSTOMER, "Printer", "still offline");
    m.to = vec![Mailbox::new(None, to)];
    m
}

pub async fn a_signed_reply_token_threads_first_and_a_forged_one_does_not<
    S: CaseStore + 'static,
>(
    store: Arc<S>,
) {
    let mut b = bench(store).await;
    b.svc = b.svc.clone().with_reply_keys(keys(SECRET));
    let (n, sent) = b.case_with_email().await;
    let token = keys(SECRET).token(n);
    assert!(sent.ends_with(&format!(".{token}@example.com")), "{sent}");
    // no thread header, no tag: the plus-addressed Reply-To alone finds the case
    let got = b
        .ingest(&addressed_to("t1", &format!("support+{token}@example.com")))
        .await;
    assert_eq!(
        (got.case, got.rule, got.created),
        (n, ThreadRule::ReplyToken, false)
    );
    // the token in the Message-ID a reply names comes before the References rule
    let got = b.ingest(&reply_to("t2", CUSTOMER, &sent)).await;
    assert_eq!((got.case, got.rule), (n, ThreadRule::ReplyToken));
    // another case's number with this case's signature is forged: it threads nowhere
    let (other, _) = b.case_with_email().await;
    let signature = token.split_once('.').unwrap().1;
    let forged = format!("support+c{}.{signature}@example.com", other.get());
    let got = b.ingest(&addressed_to("t3", &forged)).await;
    assert!(got.created && got.case != n && got.case != other, "{got:?}");
    assert_eq!(got.rule, ThreadRule::NewCase);
    // a token for a case that does not exist threads nowhere either
    let ghost = keys(SECRET).token(CaseNumber::new(999_999).unwrap());
    let got = b
        .ingest(&addressed_to("t4", &format!("support+{ghost}@example.com")))
        .await;
    assert_eq!(got.rule, ThreadRule::NewCase);
}

pub async fn a_stale_reply_token_falls_to_the_other_rules<S: CaseStore + 'static>(store: Arc<S>) {
    let mut b = bench(store).await;
    b.svc = b.svc.clone().with_reply_keys(keys(RETIRED));
    let (n, sent) = b.case_with_email().await;
    let old = keys(RETIRED).token(n);
    // rotating: the new secret signs, the retired one is still accepted
    b.svc = b
        .svc
        .clone()
        .with_reply_keys(keys(&format!("{SECRET} {RETIRED}")));
    let got = b.ingest(&reply_to("r1", CUSTOMER, &sent)).await;
    assert_eq!((got.case, got.rule), (n, ThreadRule::ReplyToken));
    // retired: the token is stale and not trusted; the Message-ID the case sent still
    // threads by References, and a bare plus address by nothing
    b.svc = b.svc.clone().with_reply_keys(keys(SECRET));
    let got = b.ingest(&reply_to("r2", CUSTOMER, &sent)).await;
    assert_eq!((got.case, got.rule), (n, ThreadRule::References));
    let got = b
        .ingest(&addressed_to("r3", &format!("support+{old}@example.com")))
        .await;
    assert!(got.created && got.case != n, "{got:?}");
}

pub async fn strangers_and_machines_stay_internal_and_change_nothing<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let (n, sent) = b.case_with_email().await;
    b.pending(n).await;
    let before = b.store.load_case(n).await.unwrap();
    let mut away = reply_to("oof", CUSTOMER, &sent);
    away.auto_signals.push(AutoSignal {
        kind: AutoSignalKind::AutoSubmitted,
        evidence: "auto-replied".into(),
    });
    b.ingest(&away).await;
    b.ingest(&reply_to("cc", "colleague@kunde.example", &sent))
        .await;
    let after = b.store.load_case(n).await.unwrap();
    assert_eq!(after.status, before.status);
    assert_eq!(after.contacts, before.contacts);
    let received = b.received(n).await;
    assert_eq!(received.len(), 2);
    for e in &received {
        assert!(e.for_customer().is_none(), "{e:?} is internal");
        assert!(!e.kind.reaches_customer());
    }
    // an auto-reply that answers no case opens none
    let mut lost = mail("oof2", CUSTOMER, "Out of Office", "away");
    lost.auto_signals = away.auto_signals.clone();
    assert!(b.svc.ingest(&b.mail, &lost).await.is_err());
    assert_eq!(b.store.stats().await.unwrap().cases, 1);
    // nor does one reopen a closed case or draw an email, however it says so
    b.close(n).await;
    let queued = b.store.outbox_for_case(n).await.unwrap().len();
    for (i, kind) in [
        AutoSignalKind::AutoSubmitted,
        AutoSignalKind::Precedence,
        AutoSignalKind::AutoReplyHeader,
        AutoSignalKind::OutOfOfficeSubject,
    ]
    .into_iter()
    .enumerate()
    {
        let mut machine = reply_to(&format!("oof-closed-{i}"), CUSTOMER, &sent);
        machine.auto_signals.push(AutoSignal {
            kind,
            evidence: "x".into(),
        });
        assert_eq!(b.ingest(&machine).await.case, n);
    }
    let closed = b.store.load_case(n).await.unwrap();
    assert!(closed.is_closed(), "{:?}", closed.status);
    assert_eq!(closed.reopen_count, 0);
    assert_eq!(b.store.outbox_for_case(n).await.unwrap().len(), queued);
}

pub async fn a_reply_to_a_closed_case_reopens_it_or_opens_a_linked_one<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    // within the default 30 days: reopened, reason recorded as data
    let (n, sent) = b.case_with_email().await;
    b.close(n).await;
    b.clock.advance(SignedDuration::from_hours(24));
    let got = b.ingest(&reply_to("c1", CUSTOMER, &sent)).await;
    assert_eq!(got.case, n);
    let case = b.store.load_case(n).await.unwrap();
    assert_eq!(case.status_category, StatusCategory::Open);
    assert_eq!(case.reopen_count, 1);
    let history = b.store.history(n).await.unwrap();
    assert!(history.iter().any(|e| matches!(
        &e.kind,
        EventKind::Reopened { reason, .. } if reason == "customer replied"
    )));
    // closed long ago: a new case, linked to the old one, which stays closed
    b.close(n).await;
    b.clock.advance(SignedDuration::from_hours(24 * 31));
    let got = b.ingest(&reply_to("c2", CUSTOMER, &sent)).await;
    assert!(got.created && got.case != n);
    assert_eq!(got.rule, ThreadRule::LinkedCase);
    assert!(b.store.load_case(n).await.unwrap().is_closed());
    let linked = b.store.load_case(got.case).await.unwrap();
    assert_eq!(linked.links[0].reference, n.get().to_string());
    // delivered again: nothing new anywhere
    let again = b.ingest(&reply_to("c2", CUSTOMER, &sent)).await;
    assert_eq!((again.case, again.duplicate), (got.case, true));
    assert_eq!(b.store.stats().await.unwrap().cases, 2);
}

pub async fn a_bounce_is_recorded_on_the_case_it_is_about<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let (n, sent) = b.case_with_email().await;
    let mut bounce = mail("b1", "MAILER-DAEMON@mx.kunde.example", "Undelivered", "");
    bounce.bounce = Some(Bounce {
        original_message_id: Some(sent),
        recipient: Some(CUSTOMER.into()),
        action: Some("failed".into()),
        status: Some("5.1.1".into()),
        diagnostic: Some("550 5.1.1 user unknown".into()),
        standard_report: true,
    });
    let got = b.ingest(&bounce).await;
    assert_eq!((got.case, got.rule), (n, ThreadRule::Bounce));
    match &b.received(n).await[0].kind {
        EventKind::EmailReceived {
            visibility, note, ..
        } => {
            assert_eq!(*visibility, Visibility::Internal);
            assert!(
                note.as_deref().unwrap().contains("user unknown"),
                "{note:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // the outbox message it is about is failed, with what the bounce said
    let sent = b.store.outbox_for_case(n).await.unwrap();
    assert_eq!(sent[0].status, casework_core::model::OutboxStatus::Failed);
    assert!(
        sent[0].last_error.as_deref().unwrap().contains("5.1.1"),
        "{sent:?}"
    );
    // delivered again: nothing new
    assert!(b.ingest(&bounce).await.duplicate);
    assert_eq!(b.received(n).await.len(), 1);
    // a bounce about a message Casework never sent is refused, not a case
    let mut stray = bounce.clone();
    stray.message_id = Some("b2@mx.kunde.example".into());
    if let Some(b) = stray.bounce.as_mut() {
        b.original_message_id = Some("nothing@example.com".into());
    }
    assert!(b.svc.ingest(&b.mail, &stray).await.is_err());
}

pub async fn concurrent_deliveries_take_a_message_once<S: CaseStore + 'static>(store: Arc<S>) {
    let b = Arc::new(bench(store).await);
    let (n, sent) = b.case_with_email().await;
    let reply = reply_to("race", CUSTOMER, &sent);
    let fresh = mail("race-new", "new@kunde.example", "New problem", "x");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        for m in [reply.clone(), fresh.clone()] {
            let b = b.clone();
            tasks.push(tokio::spawn(async move { b.ingest(&m).await }));
        }
    }
    let mut duplicates = 0;
    for t in tasks {
        duplicates += usize::from(t.await.unwrap().duplicate);
    }
    assert_eq!(
        duplicates, 6,
        "each message taken once, three copies each recognised"
    );
    assert_eq!(b.received(n).await.len(), 1);
    assert_eq!(b.store.stats().await.unwrap().cases, 2);
}

/// A parser that cannot read anything until it is fixed (a newer release), and never reads
/// bytes that start with `junk`.
#[derive(Default)]
struct Mending(std::sync::atomic::AtomicBool);

impl casework_core::ports::MailParser for Mending {
    fn parse(&self, raw: &[u8]) -> Result<InboundMessage, String> {
        if raw.starts_with(b"junk") || !self.0.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("not an email Casework can read".into());
        }
        let id = String::from_utf8_lossy(raw).into_owned();
        Ok(mail(&id, CUSTOMER, "Printer offline", "it shows error 42"))
    }
}

pub async fn a_storm_from_one_sender_is_kept_in_the_quarantine<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    use casework_core::service::{Intake, Released};

    let b = bench(store).await;
    let parser = Arc::new(Mending::default());
    parser.0.store(true, std::sync::atomic::Ordering::SeqCst);
    let svc = b.svc.clone().with_mail_parser(parser);
    let per_minute = WorkflowConfig::default_config()
        .inbound
        .sender_cases_per_minute;
    // a case staff opened for the customer is no storm
    b.svc
        .open_case(&ana(), new_case("By phone", "d", CUSTOMER))
        .await
        .unwrap();
    for i in 0..per_minute {
        let got = svc
            .ingest_or_keep(&b.mail, "ingest", format!("s{i}").as_bytes())
            .await
            .unwrap();
        assert!(
            matches!(got, Intake::Taken(ref t) if t.created),
            "{i}: {got:?}"
        );
        b.clock.advance(SignedDuration::from_secs(5));
    }
    // one more within the minute: kept for a person, no case
    let Intake::Quarantined(kept) = svc.ingest_or_keep(&b.mail, "imap", b"storm").await.unwrap()
    else {
        panic!("the message over the rate is kept")
    };
    assert!(
        kept.reason.contains("sender_cases_per_minute"),
        "{}",
        kept.reason
    );
    let cases = u64::from(per_minute) + 1;
    assert_eq!(b.store.stats().await.unwrap().cases, cases);
    // a redelivery of a message that opened a case is a duplicate, not a storm
    let last = format!("s{}", per_minute - 1);
    let again = svc
        .ingest_or_keep(&b.mail, "ingest", last.as_bytes())
        .await
        .unwrap();
    assert!(
        matches!(again, Intake::Taken(ref t) if t.duplicate),
        "{again:?}"
    );
    // a minute after the first, a release takes it
    b.clock.advance(SignedDuration::from_secs(60));
    let admin = super::actor("root", Role::Admin);
    let released = svc.quarantine_release(&admin, &kept.id).await.unwrap();
    assert!(
        matches!(released, Released::Taken(ref t) if t.created),
        "{released:?}"
    );
    assert_eq!(b.store.stats().await.unwrap().cases, cases + 1);
}

pub async fn refused_mail_is_kept_then_released_or_dropped<S: CaseStore + 'static>(store: Arc<S>) {
    use casework_core::service::{Intake, Released};
    use casework_core::{ServiceError, WorkflowError};

    let b = bench(store).await;
    let parser = Arc::new(Mending::default());
    let svc = b.svc.clone().with_mail_parser(parser.clone());
    let Intake::Quarantined(kept) = svc.ingest_or_keep(&b.mail, "ingest", b"m1").await.unwrap()
    else {
        panic!("an unreadable message is kept")
    };
    assert!(kept.reason.contains("not an email"), "{}", kept.reason);
    // the same bytes again are kept once
    let again = svc.ingest_or_keep(&b.mail, "imap", b"m1").await.unwrap();
    assert_eq!(again, Intake::Quarantined(kept.clone()));
    let junk = svc.ingest_or_keep(&b.mail, "http", b"junk").await.unwrap();
    let Intake::Quarantined(junk) = junk else {
        panic!("junk is kept")
    };
    assert_ne!(junk.id, kept.id);

    // the workflow file decides who reads it: an agent not, an admin and a lead yes
    let agent = super::actor("ana", Role::Agent);
    let admin = super::actor("root", Role::Admin);
    let lead = super::actor("lee", Role::Lead);
    assert!(matches!(
        svc.quarantine_list(&agent, None, 10).await,
        Err(ServiceError::Workflow(WorkflowError::Forbidden { .. }))
    ));
    let listed = svc.quarantine_list(&lead, None, 10).await.unwrap().items;
    assert_eq!(
        listed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [kept.id.as_str(), junk.id.as_str()]
    );
    let shown = svc.quarantine_show(&admin, &kept.id).await.unwrap();
    assert_eq!(
        (shown.raw.as_slice(), shown.source.as_str()),
        (&b"m1"[..], "ingest")
    );
    assert_eq!(shown.received_at, b.svc.now());
    assert_eq!(b.store.stats().await.unwrap().cases, 0);

    // released while still unreadable, it stays
    let r = svc.quarantine_release(&admin, &kept.id).await.unwrap();
    assert!(
        matches!(&r, Released::StillRefused(k) if k.id == kept.id),
        "{r:?}"
    );
    assert_eq!(kept_count(&svc, &admin).await, 2);

    // once the parser reads it, a release takes it onto a case and out of the quarantine
    parser.0.store(true, std::sync::atomic::Ordering::SeqCst);
    let Released::Taken(taken) = svc.quarantine_release(&admin, &kept.id).await.unwrap() else {
        panic!("a readable message is taken")
    };
    assert!(taken.created);
    assert_eq!(
        b.store.load_case(taken.case).await.unwrap().title,
        "Printer offline"
    );
    assert!(matches!(
        svc.quarantine_show(&admin, &kept.id).await,
        Err(ServiceError::NotFound(_))
    ));

    // junk is dropped for good, once
    assert!(matches!(
        svc.quarantine_drop(&agent, &junk.id).await,
        Err(ServiceError::Workflow(WorkflowError::Forbidden { .. }))
    ));
    svc.quarantine_drop(&lead, &junk.id).await.unwrap();
    assert!(matches!(
        svc.quarantine_drop(&lead, &junk.id).await,
        Err(ServiceError::NotFound(_))
    ));
    assert_eq!(kept_count(&svc, &admin).await, 0);
}

pub async fn a_messages_files_are_kept_with_its_email_and_too_much_is_held_back<
    S: CaseStore + 'static,
>(
    store: Arc<S>,
) {
    use casework_core::inbound::Attachment;

    let b = bench(store).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR inline logo".to_vec();
    let mut m = mail("files", CUSTOMER, "Export fails", "log attached");
    m.attachments = vec![
        Attachment {
            file_name: Some("export.log".into()),
            content_type: "text/plain".into(),
            inline: false,
            bytes: b"ERROR 42 at step 7".to_vec(),
        },
        // an image the HTML body shows inline is kept too
        Attachment {
            file_name: None,
            content_type: "image/png".into(),
            inline: true,
            bytes: png.clone(),
        },
    ];
    let first = b.ingest(&m).await;
    let email = b.received(first.case).await[0].clone();
    let files = b.svc.attachments(&ana(), first.case).await.unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert_eq!(f.entry, email.seq);
        assert_eq!(f.visibility, Visibility::Customer);
        assert_eq!(f.added_by, CUSTOMER);
    }
    let mut names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["attachment", "export.log"]);
    let customer = Actor::customer("Zoe Kunde", CUSTOMER.parse().unwrap());
    let logo = files.iter().find(|f| f.file_name == "attachment").unwrap();
    assert_eq!(logo.content_type, "image/png");
    let got = b
        .svc
        .attachment(&customer, first.case, &logo.id)
        .await
        .unwrap();
    assert_eq!(got.bytes, png);
    // delivered again: nothing more is kept
    assert!(b.ingest(&m).await.duplicate);
    assert_eq!(
        b.svc.attachments(&ana(), first.case).await.unwrap().len(),
        2
    );

    // over [attachments] max_message_bytes: the text is taken without the files, which
    // are held back, naming the setting
    let limit = b.svc.config().attachments.max_message_bytes as usize;
    let mut big = mail("big", CUSTOMER, "Huge", "see the video");
    // two halves, each within the per-file limit, one byte over together
    let half = |name: &str, extra: usize| Attachment {
        file_name: Some(name.into()),
        content_type: "video/mp4".into(),
        inline: false,
        bytes: vec![0; limit / 2 + extra],
    };
    big.attachments = vec![half("part1.mp4", 0), half("part2.mp4", 1 + limit % 2)];
    let got = b.ingest(&big).await;
    assert!(got.created);
    let why = got.files_held_back.expect("the files are held back");
    assert!(why.contains("max_message_bytes"), "{why}");
    // a parsed message has no bytes to keep: the caller keeps it
    assert_eq!(got.quarantined, None);
    assert_eq!(b.store.stats().await.unwrap().cases, 2);
    assert!(
        b.svc
            .attachments(&ana(), got.case)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Reads `ID|SIZE` as the customer's message "Logs attached" carrying `logs.zip` of SIZE
/// bytes.
struct WithFile;

impl casework_core::ports::MailParser for WithFile {
    fn parse(&self, raw: &[u8]) -> Result<InboundMessage, String> {
        let text = String::from_utf8_lossy(raw);
        let (id, size) = text
            .split_once('|')
            .ok_or("not an email Casework can read")?;
        let size: usize = size.parse().map_err(|_| "not an email Casework can read")?;
        let mut m = mail(id, CUSTOMER, "Logs attached", "see the logs");
        m.attachments = vec![casework_core::inbound::Attachment {
            file_name: Some("logs.zip".into()),
            content_type: "application/zip".into(),
            inline: false,
            bytes: vec![b'z'; size],
        }];
        Ok(m)
    }
}

pub async fn files_over_the_limits_are_held_back_kept_whole_and_the_sender_told<
    S: CaseStore + 'static,
>(
    store: Arc<S>,
) {
    use casework_core::config::DEFAULT_WORKFLOW;
    use casework_core::service::{Intake, Released};

    let b = bench(store).await;
    let ids = Arc::new(SequentialIds::default());
    let service = |extra: &str| {
        let config = WorkflowConfig::parse(&format!("{DEFAULT_WORKFLOW}\n{extra}")).unwrap();
        CaseService::new(
            b.store.clone(),
            b.clock.clone(),
            ids.clone(),
            Arc::new(config),
            Arc::new(Templates::embedded().unwrap()),
        )
        .with_mail_parser(Arc::new(WithFile))
    };
    let small = service("[attachments]\nmax_message_bytes = 1000\nmax_file_bytes = 1000\n");
    let admin = super::actor("root", Role::Admin);
    let raw = b"logs|1500";

    let Intake::Taken(got) = small.ingest_or_keep(&b.mail, "imap", raw).await.unwrap() else {
        panic!("the text is taken")
    };
    assert!(got.created && !got.duplicate);
    let why = got.files_held_back.clone().expect("held back");
    assert!(
        why.contains("logs.zip is 1500 bytes") && why.contains("max_file_bytes"),
        "{why}"
    );
    // the text is on the case, the files are not
    let case = b.store.load_case(got.case).await.unwrap();
    assert_eq!(case.title, "Logs attached");
    let history = b.store.history(got.case).await.unwrap();
    assert!(history.iter().any(|e| matches!(
        &e.kind,
        EventKind::EmailReceived { body, .. } if body == "see the logs"
    )));
    assert!(
        small
            .attachments(&ana(), got.case)
            .await
            .unwrap()
            .is_empty()
    );
    // the whole message waits in the quarantine, saying where its text went
    let id = got.quarantined.clone().expect("kept");
    let kept = small.quarantine_show(&admin, &id).await.unwrap();
    assert_eq!(kept.raw, raw);
    assert!(
        kept.reason
            .contains(&format!("its text is on case {}", got.display_number))
            && kept.reason.contains("logs.zip"),
        "{}",
        kept.reason
    );
    // the sender is told, in words, on the case's thread, with its event on the timeline
    let sent = b.store.outbox_for_case(got.case).await.unwrap();
    let notice: Vec<_> = sent
        .iter()
        .filter(|m| m.template == TemplateName::FilesRefused)
        .collect();
    assert_eq!(notice.len(), 1, "{sent:?}");
    assert_eq!(notice[0].to.as_str(), CUSTOMER);
    assert!(
        notice[0]
            .body
            .contains("logs.zip is 1.5 KB, and we keep files of at most 1000 bytes")
            && !notice[0].body.contains("max_file_bytes"),
        "{}",
        notice[0].body
    );
    assert!(history.iter().any(|e| matches!(
        &e.kind,
        EventKind::EmailQueued {
            template: TemplateName::FilesRefused,
            counted: false,
            ..
        }
    )));

    // delivered again: nothing more is written or sent, the same entry is kept
    let Intake::Taken(again) = small.ingest_or_keep(&b.mail, "imap", raw).await.unwrap() else {
        panic!("a duplicate is taken")
    };
    assert!(again.duplicate);
    assert_eq!(again.quarantined.as_deref(), Some(id.as_str()));
    assert_eq!(
        b.store.outbox_for_case(got.case).await.unwrap().len(),
        sent.len()
    );
    assert_eq!(kept_count(&small, &admin).await, 1);

    // released while the files are still too big, it stays
    let r = small.quarantine_release(&admin, &id).await.unwrap();
    assert!(
        matches!(&r, Released::StillRefused(k) if k.id == id && k.reason.contains("not kept")),
        "{r:?}"
    );
    // with the limits raised the files would fit, but the email is on the case without
    // them: it stays for a person to attach them, never dropped with the files unkept
    let roomy = service("");
    let r = roomy.quarantine_release(&admin, &id).await.unwrap();
    assert!(
        matches!(&r, Released::StillRefused(k) if k.reason.contains("without its files")),
        "{r:?}"
    );
    assert_eq!(kept_count(&roomy, &admin).await, 1);

    // a message within the limits keeps its files and leaves nothing in the quarantine
    let Intake::Taken(fits) = small
        .ingest_or_keep(&b.mail, "imap", b"small|500")
        .await
        .unwrap()
    else {
        panic!("taken")
    };
    assert_eq!((fits.files_held_back, fits.quarantined), (None, None));
    assert_eq!(small.attachments(&ana(), fits.case).await.unwrap().len(), 1);
    assert_eq!(kept_count(&small, &admin).await, 1);
}

/// How many messages the quarantine keeps (up to 10), as `who` lists them.
async fn kept_count(svc: &CaseService, who: &Actor) -> usize {
    svc.quarantine_list(who, None, 10)
        .await
        .unwrap()
        .items
        .len()
}

/// Reads `ID|FROM|IN-REPLY-TO|SUBJECT` as a message (an empty `IN-REPLY-TO` answers
/// nothing); bytes that start with `junk` are unreadable.
struct Fields;

impl casework_core::ports::MailParser for Fields {
    fn parse(&self, raw: &[u8]) -> Result<InboundMessage, String> {
        let text = String::from_utf8_lossy(raw);
        let parts: Vec<&str> = text.split('|').collect();
        let [id, from, answers, subject] = parts[..] else {
            return Err("not an email Casework can read".into());
        };
        let mut m = mail(id, from, subject, "it shows error 42");
        if !answers.is_empty() {
            let answered = format!("{answers}@mail.kunde.example");
            m.in_reply_to = vec![answered.clone()];
            m.references = vec![answered];
        }
        Ok(m)
    }
}

pub async fn a_batch_is_taken_as_one_message_at_a_time_would_be<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    use casework_core::service::{BATCH_WAVE, Intake};

    let b = bench(store).await;
    let svc = b.svc.clone().with_mail_parser(Arc::new(Fields));
    let zoe = CUSTOMER;
    let mut raws: Vec<String> = vec![
        format!("a|{zoe}||Printer offline"),
        "b|max@firma.example||Scanner jams".into(),
        // a colleague's reply to the first, in the same batch: it waits for it and
        // threads onto it
        "c|tom@kunde.example|a|Re: Printer offline".into(),
        // a redelivery of the second
        "b|max@firma.example||Scanner jams".into(),
        "junk".into(),
        // the same sender again: not in the same wave as her first
        format!("d|{zoe}||Toner low"),
        "e|lea@werk.example||Badge reader".into(),
        format!("a|{zoe}||Printer offline"),
    ];
    // more stand-alone senders than one wave holds
    raws.extend((0..BATCH_WAVE + 3).map(|i| format!("f{i}|p{i}@many.example||Case {i}")));
    let raws: Vec<Vec<u8>> = raws.into_iter().map(String::into_bytes).collect();
    let answers = svc.ingest_batch(&b.mail, "imap", &raws).await.unwrap();
    assert_eq!(answers.len(), raws.len());
    let taken = |i: usize| match &answers[i] {
        Ok(Intake::Taken(t)) => t.clone(),
        other => panic!("message {i}: {other:?}"),
    };
    let (a, bb, c, b_again, d, e, a_again) = (
        taken(0),
        taken(1),
        taken(2),
        taken(3),
        taken(5),
        taken(6),
        taken(7),
    );
    assert!(a.created && bb.created && d.created && e.created);
    assert_eq!(
        (c.case, c.rule, c.created),
        (a.case, ThreadRule::References, false)
    );
    assert_eq!((b_again.case, b_again.duplicate), (bb.case, true));
    assert_eq!((a_again.case, a_again.duplicate), (a.case, true));
    assert!(
        matches!(answers[4], Ok(Intake::Quarantined(_))),
        "{:?}",
        answers[4]
    );
    let mut opened: Vec<CaseNumber> = vec![a.case, bb.case, d.case, e.case];
    for i in 8..raws.len() {
        let t = taken(i);
        assert!(t.created && !t.duplicate, "{i}: {t:?}");
        opened.push(t.case);
    }
    // one case per new message, no more
    let mut distinct = opened.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), opened.len());
    assert_eq!(b.store.stats().await.unwrap().cases, opened.len() as u64);
    // the first case holds its opening email and the reply, each once
    let history = b.store.history(a.case).await.unwrap();
    let received = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::EmailReceived { .. }))
        .count();
    assert_eq!(received, 2);

    // the same batch again changes nothing: every message is a duplicate or kept before
    let again = svc.ingest_batch(&b.mail, "imap", &raws).await.unwrap();
    for (i, answer) in again.iter().enumerate() {
        match answer {
            Ok(Intake::Taken(t)) => assert!(t.duplicate, "{i}: {t:?}"),
            Ok(Intake::Quarantined(_)) => assert_eq!(i, 4),
            Err(e) => panic!("{i}: {e}"),
        }
    }
    assert_eq!(b.store.stats().await.unwrap().cases, opened.len() as u64);
    // without ingest_mail, nothing is taken
    assert!(svc.ingest_batch(&ana(), "imap", &raws).await.is_err());

    // replies to a case from before the batch, among new messages: each reply lands on
    // it in the batch's order, as one at a time
    let replies: Vec<Vec<u8>> = [
        "g1|g1@new.example||New one",
        "g2|g2@new.example||New two",
        "r3|lea@werk.example|g2|Re: New two",
        "g3|g3@new.example||New three",
        "r1|tom@kunde.example|a|Re: Printer offline",
        "g4|g4@new.example||New four",
        "r2|max@firma.example|a|Re: Printer offline",
    ]
    .iter()
    .map(|m| m.as_bytes().to_vec())
    .collect();
    let answers = svc.ingest_batch(&b.mail, "imap", &replies).await.unwrap();
    let taken: Vec<_> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Ok(Intake::Taken(t)) => t.clone(),
            other => panic!("reply batch, message {i}: {other:?}"),
        })
        .collect();
    for new in [0, 1, 3, 5] {
        assert!(taken[new].created, "{new}: {:?}", taken[new]);
    }
    assert_eq!((taken[4].case, taken[4].created), (a.case, false));
    assert_eq!((taken[6].case, taken[6].created), (a.case, false));
    // a reply to a message of the same batch threads onto the case that message opened
    assert_eq!(
        (taken[2].case, taken[2].rule, taken[2].created),
        (taken[1].case, ThreadRule::References, false)
    );
    let senders: Vec<String> = b
        .store
        .history(a.case)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::EmailReceived { from, .. } => Some(from.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        senders,
        [
            zoe,
            "tom@kunde.example",
            "tom@kunde.example",
            "max@firma.example"
        ]
    );
}
