//! How a case's emails thread: the first email's real Message-ID is the root every later
//! email refers to, recorded in the history so a replay (or a later reply) finds it.

use super::email::queue_email;
use super::*;
use crate::event::{Event, replay};
use crate::model::StatusCategory;
use crate::testing::{START, SequentialIds, sample_case};

struct Desk {
    config: WorkflowConfig,
    templates: Templates,
    ids: SequentialIds,
    actor: Actor,
}

impl Desk {
    fn new() -> Self {
        Self {
            config: WorkflowConfig::default_config(),
            templates: Templates::embedded().unwrap(),
            ids: SequentialIds::default(),
            actor: Actor::system("ana"),
        }
    }

    /// Decides `cmd`, applies its events to `history`, and returns the queued emails.
    fn run(&self, history: &mut Vec<Event>, cmd: Command) -> Vec<OutboxMessage> {
        let case = replay(history.iter()).unwrap();
        let ctx = Context {
            actor: &self.actor,
            config: &self.config,
            templates: &self.templates,
            now: START,
            ids: &self.ids,
            reply_keys: None,
        };
        let d = decide(&cmd, &case, &ctx).unwrap();
        history.extend(stamp(&case, "ana", START, d.events));
        d.outbox
    }
}

fn opened() -> Vec<Event> {
    let case = sample_case();
    vec![Event {
        case: case.number,
        seq: 1,
        at: START,
        actor: "ana".into(),
        kind: crate::testing::opened("Map service fails").into(),
    }]
}

fn follow_up() -> Command {
    Command::SendEmail {
        template: TemplateName::FollowUp,
        fields: EmailFields {
            discussed: Some("the logs".into()),
            ..EmailFields::default()
        },
    }
}

#[test]
fn the_first_email_is_the_root_that_every_later_email_refers_to() {
    let desk = Desk::new();
    let mut history = opened();
    // only the owner sends the initial contact
    desk.run(&mut history, Command::Take);
    let first = desk.run(
        &mut history,
        Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields::default(),
        },
    );
    let second = desk.run(&mut history, follow_up());
    let third = desk.run(&mut history, follow_up());
    let (first, second, third) = (&first[0], &second[0], &third[0]);

    // a real Message-ID, never an invented one no message had
    assert_eq!(first.message_id, "m1.case-00001027@example.com");
    assert_eq!(
        first.thread_id, first.message_id,
        "the first starts the thread"
    );
    assert_eq!(first.in_reply_to, None);
    assert_eq!(second.thread_id, first.message_id);
    assert_eq!(
        second.in_reply_to.as_deref(),
        Some(first.message_id.as_str())
    );
    assert_eq!(
        third.thread_id, first.message_id,
        "the root stays the first"
    );
    assert_eq!(
        third.in_reply_to.as_deref(),
        Some(second.message_id.as_str())
    );

    // the history records each Message-ID, so the state (and a replay) knows the thread
    let case = replay(history.iter()).unwrap();
    let thread = case.email_thread.unwrap();
    assert_eq!(thread.root, first.message_id);
    assert_eq!(thread.last, third.message_id);
    let recorded: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::EmailQueued { message_id, .. } => message_id.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        recorded,
        [
            first.message_id.clone(),
            second.message_id.clone(),
            third.message_id.clone()
        ]
    );
}

#[test]
fn two_emails_of_one_command_thread_in_order() {
    // one command may queue more than one email: each refers to the one before it, and
    // the first of the command to the case's last email
    let desk = Desk::new();
    let mut history = opened();
    let first = desk.run(&mut history, follow_up());
    let mut case = replay(history.iter()).unwrap();
    case.status = StatusName::trusted("Closed");
    case.status_category = StatusCategory::Closed;
    case.close_mode = Some(CloseMode::Temporary);
    let ctx = Context {
        actor: &desk.actor,
        config: &desk.config,
        templates: &desk.templates,
        now: START,
        ids: &desk.ids,
        reply_keys: None,
    };
    let mut d = decide(
        &Command::Reopen {
            reason: "back".into(),
            notify_customer: true,
        },
        &case,
        &ctx,
    )
    .unwrap();
    // a second email in the same decision refers to the first one of the decision
    queue_email(
        &ctx,
        &case,
        TemplateName::FollowUp,
        &EmailFields {
            discussed: Some("x".into()),
            ..EmailFields::default()
        },
        false,
        &mut d,
    )
    .unwrap();
    let [notice, next] = &d.outbox[..] else {
        panic!("{:?}", d.outbox);
    };
    assert_eq!(notice.thread_id, first[0].message_id);
    assert_eq!(notice.in_reply_to.as_ref(), Some(&first[0].message_id));
    assert_eq!(next.thread_id, first[0].message_id);
    assert_eq!(next.in_reply_to.as_ref(), Some(&notice.message_id));
}

#[test]
fn histories_written_before_message_ids_were_recorded_still_replay() {
    // an email_queued event as earlier versions stored it: no message_id
    let stored = r#"{"case":1027,"seq":2,"at":"2026-01-05T09:00:00Z","actor":"ana",
        "type":"email_queued","message":"m1","template":"follow_up",
        "to":"c@customer.example","subject":"[Case 00001027] Follow-up","body":"Hello"}"#;
    let legacy: Event = serde_json::from_str(stored).unwrap();
    let mut history = opened();
    history.push(legacy);
    let case = replay(history.iter()).unwrap();
    assert_eq!(case.version, 2);
    assert_eq!(case.email_thread, None, "nothing invented");
    // a stored case state without the field loads too
    let mut state = serde_json::to_value(&case).unwrap();
    state.as_object_mut().unwrap().remove("email_thread");
    let loaded: Case = serde_json::from_value(state).unwrap();
    assert_eq!(loaded, case);
    // the next email starts a thread of its own, with its real Message-ID
    let next = Desk::new().run(&mut history, follow_up());
    assert_eq!(next[0].thread_id, next[0].message_id);
    assert_eq!(next[0].in_reply_to, None);
}

#[test]
fn message_ids_are_ascii_when_the_support_domain_is_internationalized() {
    let mut desk = Desk::new();
    desk.config.organization.support_email = "hilfe@bücher.example".parse().unwrap();
    let mut history = opened();
    let m = desk.run(&mut history, follow_up());
    assert_eq!(m[0].message_id, "m1.case-00001027@xn--bcher-kva.example");
    assert!(m[0].message_id.is_ascii());
}
