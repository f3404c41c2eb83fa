//! Notifications to people (`[notifications]`): which events tell whom, decided once here
//! from the events a write makes — keyed on the event's kind, whichever front-end, command
//! or mail path made it — and written to the email outbox in the same commit.
//!
//! - a new case (`opened`): to the team's address, or every lead;
//! - an assignment (`owner_changed`): to the new owner;
//! - a customer's reply (an email or a portal post the customer wrote): to the owner;
//! - a swarm request: to the group's address from the workflow file;
//! - a reopen: to the owner at the close, and every lead.
//!
//! Nobody is told of what they did themselves, a person who turned a kind off
//! ([`Person::notifications_off`]) or has no address is left out, and one write sends one
//! notice per address. Staff notices go to staff, never to the customer, and carry no
//! `email_queued` event: they tell of the events beside them. The acknowledgement to a
//! customer whose email opened a case ([`acknowledge`]) is an email to the customer like any
//! other, announced by its `email_queued` event.
//!
//! A new case has no number until the store gives it one, so its notices are rendered with
//! a placeholder ([`number_placeholder`]) that the store replaces in the transaction that
//! numbers the case ([`number_notices`]).

use jiff::Timestamp;

use crate::config::WorkflowConfig;
use crate::documents::{EmailFields, Templates};
use crate::event::{Event, EventKind};
use crate::ids::{CaseNumber, EmailAddress};
use crate::model::{
    Actor, Case, NotificationKind, OutboxMessage, Person, Role, TemplateName, ThreadRule,
};
use crate::ports::IdGenerator;

use super::email::{Threading, queued};
use super::inbound::Arrival;
use super::{Context, Decision, WorkflowError, invalid};

/// Everything deciding notices reads besides the events.
pub struct Notifier<'a> {
    /// The workflow (its `[notifications]` section, the organization).
    pub config: &'a WorkflowConfig,
    /// The documents.
    pub templates: &'a Templates,
    /// Ids for outbox messages.
    pub ids: &'a dyn IdGenerator,
    /// Now.
    pub now: Timestamp,
    /// The directory: who the owner and the leads are, their addresses and settings.
    pub people: &'a [Person],
}

/// What an event tells, to whom, with which text.
struct Notice {
    template: TemplateName,
    to: Vec<(EmailAddress, String)>,
    note: Option<String>,
}

/// The kind of notification an event makes, if any (before asking whom it reaches).
pub fn kind_of(event: &EventKind) -> Option<NotificationKind> {
    match event {
        EventKind::Opened { .. } => Some(NotificationKind::NewCase),
        EventKind::OwnerChanged { .. } => Some(NotificationKind::Assigned),
        EventKind::PostAdded {
            from_customer: true,
            ..
        } => Some(NotificationKind::CustomerReply),
        // the email that opens a case is the new case, not a reply to it
        EventKind::EmailReceived {
            from_customer: true,
            rule,
            ..
        } if !opens_case(*rule) => Some(NotificationKind::CustomerReply),
        EventKind::SwarmRequested { .. } => Some(NotificationKind::SwarmRequested),
        EventKind::Reopened { .. } => Some(NotificationKind::Reopened),
        _ => None,
    }
}

fn opens_case(rule: ThreadRule) -> bool {
    matches!(rule, ThreadRule::NewCase | ThreadRule::LinkedCase)
}

/// Whether any of `events` may notify someone under the workflow's `[notifications]`: the
/// service reads the directory only then.
pub fn may_notify(config: &WorkflowConfig, events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| kind_of(&e.kind).is_some_and(|k| config.notifications.sends(k)))
}

/// The person named `name`, if registered.
fn person<'a>(people: &'a [Person], name: &str) -> Option<&'a Person> {
    people.iter().find(|p| p.name == name)
}

/// `person`'s address when they want `kind` and did not cause it.
fn reach(p: &Person, kind: NotificationKind, actor: &Actor) -> Option<(EmailAddress, String)> {
    if p.name == actor.name || !p.wants(kind) {
        return None;
    }
    p.email.clone().map(|e| (e, p.name.clone()))
}

fn leads(people: &[Person], kind: NotificationKind, actor: &Actor) -> Vec<(EmailAddress, String)> {
    people
        .iter()
        .filter(|p| p.role == Role::Lead)
        .filter_map(|p| reach(p, kind, actor))
        .collect()
}

fn owner(
    case: &Case,
    n: &Notifier<'_>,
    kind: NotificationKind,
    actor: &Actor,
) -> Vec<(EmailAddress, String)> {
    case.owner
        .as_deref()
        .and_then(|o| person(n.people, o))
        .and_then(|p| reach(p, kind, actor))
        .into_iter()
        .collect()
}

fn notice_of(event: &EventKind, case: &Case, actor: &Actor, n: &Notifier<'_>) -> Option<Notice> {
    let kind = kind_of(event)?;
    if !n.config.notifications.sends(kind) {
        return None;
    }
    let policy = &n.config.notifications;
    let (template, to, note) = match event {
        EventKind::Opened { description, .. } => {
            let to = match &policy.new_case_to {
                Some(team) => vec![(
                    team.clone(),
                    format!("{} Support", n.config.organization.name),
                )],
                None => leads(n.people, kind, actor),
            };
            (TemplateName::NoticeNewCase, to, Some(description.clone()))
        }
        EventKind::OwnerChanged { to, .. } => {
            let to = person(n.people, to)
                .and_then(|p| reach(p, kind, actor))
                .into_iter()
                .collect();
            (TemplateName::NoticeAssigned, to, None)
        }
        EventKind::PostAdded { body, .. } | EventKind::EmailReceived { body, .. } => (
            TemplateName::NoticeCustomerReply,
            owner(case, n, kind, actor),
            Some(body.clone()),
        ),
        EventKind::SwarmRequested { group, question } => {
            let to = policy
                .group_address(group)
                .map(|a| (a.clone(), group.clone()))
                .into_iter()
                .collect();
            (TemplateName::NoticeSwarm, to, Some(question.clone()))
        }
        EventKind::Reopened { reason, .. } => {
            let mut to = owner(case, n, kind, actor);
            to.extend(leads(n.people, kind, actor));
            (TemplateName::NoticeReopened, to, Some(reason.clone()))
        }
        _ => return None,
    };
    Some(Notice {
        template,
        to,
        note: note.filter(|t| !t.trim().is_empty()),
    })
}

/// The placeholder a not-yet-numbered case's notices carry where its number goes (in the
/// subject, the body and the Message-ID); message `id`'s own, so nothing a person typed
/// can match it.
pub fn number_placeholder(id: &str) -> String {
    format!("{{{{case-number:{id}}}}}")
}

/// Gives the notices of a case just opened its number: the placeholder
/// ([`number_placeholder`]) replaced in subject, body, Message-ID and thread. Stores call
/// it in the transaction that numbers the case.
pub fn number_notices(messages: &mut [OutboxMessage], number: CaseNumber) {
    let display = number.display();
    for m in messages {
        let placeholder = number_placeholder(&m.id);
        for text in [
            &mut m.subject,
            &mut m.body,
            &mut m.message_id,
            &mut m.thread_id,
        ] {
            if text.contains(&placeholder) {
                *text = text.replace(&placeholder, &display);
            }
        }
        m.case = number;
    }
}

/// The notices `events` make, about `case` as they leave it, as `actor`'s doing. `numbered`
/// says whether the case has its number yet (false for the `opened` event of a case being
/// created: see [`number_notices`]).
pub fn notices(
    events: &[Event],
    case: &Case,
    actor: &Actor,
    numbered: bool,
    n: &Notifier<'_>,
) -> Result<Vec<OutboxMessage>, WorkflowError> {
    let org = &n.config.organization;
    let domain = org
        .support_email
        .ascii_domain()
        .map_err(|e| invalid("organization.support_email", &e.to_string()))?;
    let mut out: Vec<OutboxMessage> = Vec::new();
    for event in events {
        let Some(notice) = notice_of(&event.kind, case, actor, n) else {
            continue;
        };
        for (to, to_name) in notice.to {
            // one notice per address and write
            if out.iter().any(|m| m.to == to) {
                continue;
            }
            let id = n.ids.new_id();
            let display = if numbered {
                case.number.display()
            } else {
                number_placeholder(&id)
            };
            let fields = EmailFields {
                note: notice.note.clone(),
                ..EmailFields::default()
            };
            let email = n.templates.render_notice(
                notice.template,
                org,
                case,
                actor,
                &fields,
                (to, to_name),
                display.clone(),
            )?;
            let message_id = format!("{id}.case-{display}@{domain}");
            let threading = Threading {
                id,
                thread_id: message_id.clone(),
                message_id,
                in_reply_to: None,
            };
            out.push(queued(
                org,
                case.number,
                notice.template,
                email,
                threading,
                n.now,
            ));
        }
    }
    Ok(out)
}

/// The acknowledgement to a customer whose email opened a case (`[notifications]
/// acknowledge_email`): when `kinds` put the email that opened `case` on it, an
/// `acknowledgement` email to the customer, queued with its `email_queued` event like every
/// email to a customer. Never for an auto-reply or a bounce (they open no case, and are not
/// the customer's own writing).
pub fn acknowledge(
    kinds: &[EventKind],
    case: &Case,
    ctx: &Context<'_>,
) -> Result<Decision, WorkflowError> {
    let mut d = Decision::default();
    let opened_by_email = kinds.iter().any(|k| {
        matches!(
            k,
            EventKind::EmailReceived {
                from_customer: true,
                rule,
                ..
            } if opens_case(*rule)
        )
    });
    if ctx.config.notifications.acknowledge_email && opened_by_email {
        super::email::queue_email(
            ctx,
            case,
            TemplateName::Acknowledgement,
            &EmailFields::default(),
            false,
            &mut d,
        )?;
    }
    Ok(d)
}

/// The notice to the sender of an email whose files were held back ([`Arrival::held_back`]):
/// a `files_refused` email saying why (`fields.note`), to the sender — who may be a
/// participant rather than the case's customer — queued with its `email_queued` event after
/// what `d` already queues, so it threads after the acknowledgement. Never to automatic mail
/// (an auto-reply or a bounce is not answered).
pub fn files_refused(
    d: &mut Decision,
    case: &Case,
    arrival: &Arrival<'_>,
    ctx: &Context<'_>,
) -> Result<(), WorkflowError> {
    let Some(refusal) = arrival.held_back else {
        return Ok(());
    };
    if arrival.message.is_automatic() {
        return Ok(());
    }
    let name = arrival
        .message
        .from
        .as_ref()
        .and_then(|m| m.name.clone())
        .unwrap_or_default();
    let fields = EmailFields {
        note: Some(refusal.for_sender()),
        ..EmailFields::default()
    };
    super::email::queue_email_to(
        ctx,
        case,
        TemplateName::FilesRefused,
        &fields,
        false,
        Some((arrival.from.clone(), name)),
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_WORKFLOW;
    use crate::model::{PostKind, Visibility};
    use crate::testing::{START, SequentialIds, sample_case};

    const SECTION: &str = r#"
[notifications]
send = ["new_case", "assigned", "customer_reply", "swarm_requested", "reopened"]
acknowledge_email = true

[notifications.groups]
Database = "db-swarm@example.com"
"#;

    fn config(extra: &str) -> WorkflowConfig {
        WorkflowConfig::parse(&format!("{DEFAULT_WORKFLOW}{extra}")).unwrap()
    }

    fn staff(name: &str, role: Role, off: &[NotificationKind]) -> Person {
        Person {
            email: Some(EmailAddress::trusted(&format!(
                "{}@example.com",
                name.to_lowercase().replace(' ', ".")
            ))),
            notifications_off: off.to_vec(),
            ..Person::new(name, role)
        }
    }

    fn people() -> Vec<Person> {
        vec![
            staff("Sample Agent", Role::Agent, &[]),
            staff("Ben Ode", Role::Agent, &[NotificationKind::Assigned]),
            staff("Lee Park", Role::Lead, &[]),
            staff("Kim Sato", Role::Lead, &[NotificationKind::NewCase]),
            Person::new("No Address", Role::Lead),
        ]
    }

    /// The recipients (sorted) and templates of the notices `kind` makes as `actor`'s doing.
    fn sent(
        config: &WorkflowConfig,
        kind: EventKind,
        actor: &Actor,
    ) -> Vec<(String, TemplateName)> {
        let (templates, ids, people) = (
            Templates::embedded().unwrap(),
            SequentialIds::default(),
            people(),
        );
        let n = Notifier {
            config,
            templates: &templates,
            ids: &ids,
            now: START,
            people: &people,
        };
        let event = Event {
            case: sample_case().number,
            seq: 2,
            at: START,
            actor: actor.name.clone(),
            kind,
        };
        let mut out: Vec<(String, TemplateName)> =
            notices(&[event], &sample_case(), actor, true, &n)
                .unwrap()
                .into_iter()
                .map(|m| {
                    assert!(m.subject.starts_with("[Case 00001027]"), "{}", m.subject);
                    assert_eq!(m.message_id, format!("{}.case-00001027@example.com", m.id));
                    assert_eq!(m.thread_id, m.message_id);
                    assert_eq!(m.from, config.organization.support_email);
                    assert!(m.template.is_staff_notice());
                    (m.to.to_string(), m.template)
                })
                .collect();
        out.sort();
        out
    }

    fn lead() -> Actor {
        Actor::from_person(&staff("Lee Park", Role::Lead, &[]))
    }

    fn customer() -> Actor {
        Actor::customer(
            "Sample Customer",
            EmailAddress::trusted("customer@example.com"),
        )
    }

    fn opened() -> EventKind {
        crate::testing::opened("Export stops").into()
    }

    #[test]
    fn each_event_reaches_the_people_the_workflow_names_and_not_those_who_turned_it_off() {
        let c = config(SECTION);
        let agent = Actor::from_person(&staff("Sample Agent", Role::Agent, &[]));
        // a new case: every lead with an address, but Kim turned new cases off
        assert_eq!(
            sent(&c, opened(), &agent),
            vec![("lee.park@example.com".into(), TemplateName::NoticeNewCase)]
        );
        // a lead opening it is not told of their own doing
        assert_eq!(sent(&c, opened(), &lead()), vec![]);
        // an assignment: the new owner, unless they turned it off
        let assign = |to: &str| EventKind::OwnerChanged {
            from: None,
            to: to.into(),
        };
        assert_eq!(
            sent(&c, assign("Sample Agent"), &lead()),
            vec![(
                "sample.agent@example.com".into(),
                TemplateName::NoticeAssigned
            )]
        );
        assert_eq!(sent(&c, assign("Ben Ode"), &lead()), vec![]);
        // taking a case oneself tells nobody
        assert_eq!(sent(&c, assign("Sample Agent"), &agent), vec![]);
        // a customer's post and a customer's email: the owner
        let post = EventKind::PostAdded {
            kind: PostKind::Note,
            body: "Still failing".into(),
            visibility: Visibility::Customer,
            from_customer: true,
        };
        assert_eq!(
            sent(&c, post, &customer()),
            vec![(
                "sample.agent@example.com".into(),
                TemplateName::NoticeCustomerReply
            )]
        );
        // a staff post is no customer reply
        let note = EventKind::PostAdded {
            kind: PostKind::Note,
            body: "Seen".into(),
            visibility: Visibility::Internal,
            from_customer: false,
        };
        assert_eq!(sent(&c, note, &agent), vec![]);
        // a swarm: the group's address; a group the file does not name, nobody
        let swarm = |group: &str| EventKind::SwarmRequested {
            group: group.into(),
            question: "Seen this?".into(),
        };
        assert_eq!(
            sent(&c, swarm("database"), &agent),
            vec![("db-swarm@example.com".into(), TemplateName::NoticeSwarm)]
        );
        assert_eq!(sent(&c, swarm("Networking"), &agent), vec![]);
        // a reopen: the owner at the close and every lead, but not who reopened it
        let reopened = EventKind::Reopened {
            from: crate::ids::StatusName::trusted("Closed"),
            to: crate::ids::StatusName::trusted("In Progress"),
            category: crate::model::StatusCategory::Open,
            reason: "Came back".into(),
            notify_customer: false,
            close_mode: crate::model::CloseMode::Temporary,
            closed_at: START,
        };
        assert_eq!(
            sent(&c, reopened.clone(), &lead()),
            vec![
                ("kim.sato@example.com".into(), TemplateName::NoticeReopened),
                (
                    "sample.agent@example.com".into(),
                    TemplateName::NoticeReopened
                ),
            ]
        );
        // a kind the file does not send is sent to nobody; without the section, nothing
        let only_new = config("\n[notifications]\nsend = [\"new_case\"]\n");
        assert_eq!(sent(&only_new, reopened.clone(), &lead()), vec![]);
        assert_eq!(sent(&config(""), opened(), &agent), vec![]);
        // a team address takes new cases instead of the leads
        let team = config(
            "\n[notifications]\nsend = [\"new_case\"]\nnew_case_to = \"team@example.com\"\n",
        );
        assert_eq!(
            sent(&team, opened(), &lead()),
            vec![("team@example.com".into(), TemplateName::NoticeNewCase)]
        );
    }

    #[test]
    fn a_new_cases_notices_carry_a_placeholder_the_store_replaces_with_its_number() {
        let c = config(SECTION);
        let (templates, ids, people) = (
            Templates::embedded().unwrap(),
            SequentialIds::default(),
            people(),
        );
        let n = Notifier {
            config: &c,
            templates: &templates,
            ids: &ids,
            now: START,
            people: &people,
        };
        // a title that looks like a placeholder is the customer's text, kept as typed
        let typed = number_placeholder("m9");
        let case = Case {
            title: typed.clone(),
            ..sample_case()
        };
        let event = Event {
            case: case.number,
            seq: 1,
            at: START,
            actor: "Sample Agent".into(),
            kind: opened(),
        };
        let actor = Actor::from_person(&people[0]);
        let mut out = notices(&[event], &case, &actor, false, &n).unwrap();
        assert_eq!(out.len(), 1);
        let placeholder = number_placeholder(&out[0].id);
        assert!(out[0].subject.contains(&placeholder), "{}", out[0].subject);
        assert!(out[0].message_id.contains(&placeholder));
        number_notices(&mut out, CaseNumber::new(42).unwrap());
        let m = &out[0];
        assert_eq!(m.case.get(), 42);
        assert!(m.subject.starts_with("[Case 00000042]"), "{}", m.subject);
        assert!(m.body.contains("#00000042"), "{}", m.body);
        assert_eq!(m.message_id, format!("{}.case-00000042@example.com", m.id));
        assert_eq!(m.thread_id, m.message_id);
        assert!(!m.subject.contains("case-number:m1") && m.subject.contains(&typed));
    }

    #[test]
    fn the_acknowledgement_answers_only_the_customers_own_email_that_opened_the_case() {
        let templates = Templates::embedded().unwrap();
        let ids = SequentialIds::default();
        let sender = customer();
        let received = |from_customer: bool, rule: ThreadRule| EventKind::EmailReceived {
            message_id: Some("abc@mail.example".into()),
            key: "k".into(),
            from: EmailAddress::trusted("customer@example.com"),
            from_name: None,
            subject: "Export stops".into(),
            body: "It stops".into(),
            visibility: Visibility::Customer,
            from_customer,
            rule,
            note: None,
        };
        let ack = |config: &WorkflowConfig, kind: EventKind| {
            let ctx = Context {
                actor: &sender,
                config,
                templates: &templates,
                now: START,
                ids: &ids,
                reply_keys: None,
            };
            acknowledge(&[kind], &sample_case(), &ctx).unwrap()
        };
        let on = config(SECTION);
        let d = ack(&on, received(true, ThreadRule::NewCase));
        assert_eq!(d.outbox.len(), 1);
        let m = &d.outbox[0];
        assert_eq!(m.template, TemplateName::Acknowledgement);
        assert_eq!(m.to.as_str(), "customer@example.com");
        assert!(m.subject.starts_with("[Case 00001027]"), "{}", m.subject);
        // announced like every email to a customer, and counted as no attempt to reach them
        assert!(matches!(
            &d.events[..],
            [EventKind::EmailQueued {
                template: TemplateName::Acknowledgement,
                counted: false,
                ..
            }]
        ));
        assert_eq!(
            ack(&on, received(true, ThreadRule::LinkedCase))
                .outbox
                .len(),
            1
        );
        // a reply to an open case, an automatic message, or the switch off: nothing
        assert_eq!(
            ack(&on, received(true, ThreadRule::SubjectTag)),
            Decision::default()
        );
        assert_eq!(
            ack(&on, received(false, ThreadRule::NewCase)),
            Decision::default()
        );
        let off = config("\n[notifications]\nsend = [\"new_case\"]\n");
        assert_eq!(
            ack(&off, received(true, ThreadRule::NewCase)),
            Decision::default()
        );
    }

    #[test]
    fn a_sender_whose_files_were_held_back_is_told_unless_a_machine_sent_them() {
        use crate::attachment::UploadRefusal;
        use crate::inbound::{AutoSignal, AutoSignalKind, BodySource, InboundMessage, Mailbox};

        let templates = Templates::embedded().unwrap();
        let ids = SequentialIds::default();
        let config = config("");
        let sender = customer();
        let ctx = Context {
            actor: &sender,
            config: &config,
            templates: &templates,
            now: START,
            ids: &ids,
            reply_keys: None,
        };
        // a colleague of the customer wrote, not the customer: the notice goes to them
        let from = EmailAddress::trusted("tom@kunde.example");
        let mut message = InboundMessage {
            message_id: Some("m1@kunde.example".into()),
            in_reply_to: vec![],
            references: vec![],
            from: Some(Mailbox::new(Some("Tom Kunde"), "tom@kunde.example")),
            reply_to: vec![],
            to: vec![],
            cc: vec![],
            delivered_to: vec![],
            subject: "Logs".into(),
            date: None,
            body: "attached".into(),
            body_source: BodySource::Plain,
            attachments: vec![],
            auto_signals: vec![],
            bounce: None,
            thread_index: None,
            digest: crate::inbound::digest(b"m1"),
            size: 1,
        };
        let refusal = UploadRefusal::TooMuch {
            total: 30 * 1024 * 1024,
            limit: 25 * 1024 * 1024,
        };
        let tell = |message: &InboundMessage, held: Option<&UploadRefusal>| {
            let arrival = Arrival {
                message,
                from: &from,
                key: "k",
                rule: ThreadRule::ReplyToken,
                held_back: held,
            };
            let mut d = Decision::default();
            files_refused(&mut d, &sample_case(), &arrival, &ctx).unwrap();
            d
        };
        let d = tell(&message, Some(&refusal));
        assert_eq!(d.outbox.len(), 1);
        let m = &d.outbox[0];
        assert_eq!(m.template, TemplateName::FilesRefused);
        assert_eq!(
            (m.to.as_str(), m.to_name.as_str()),
            ("tom@kunde.example", "Tom Kunde")
        );
        assert!(m.subject.starts_with("[Case 00001027]"), "{}", m.subject);
        assert!(
            m.body.contains(
                "its files come to 30 MB together, and we keep at most 25 MB from one message"
            ),
            "{}",
            m.body
        );
        assert!(matches!(
            &d.events[..],
            [EventKind::EmailQueued {
                template: TemplateName::FilesRefused,
                counted: false,
                ..
            }]
        ));
        // nothing held back, or a machine's mail (never answered): nothing
        assert_eq!(tell(&message, None), Decision::default());
        message.auto_signals = vec![AutoSignal {
            kind: AutoSignalKind::AutoSubmitted,
            evidence: "auto-replied".into(),
        }];
        assert_eq!(tell(&message, Some(&refusal)), Decision::default());
    }
}
