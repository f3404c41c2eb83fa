//! Unit and property tests of `decide` and `evolve`.

use jiff::SignedDuration;
use proptest::prelude::*;

use super::*;
use crate::event::{apply_all, replay};
use crate::ids::CaseNumber;
use crate::model::{Actor, ContactTally, Customer, RefKind, StatusCategory};
use crate::testing::{START, SequentialIds, renamed_workflow};

/// A case driven by decide + evolve alone, keeping its history.
struct Harness {
    config: WorkflowConfig,
    templates: Templates,
    ids: SequentialIds,
    now: Timestamp,
    case: Case,
    history: Vec<Event>,
    outbox: Vec<OutboxMessage>,
    /// How far the clock moves before each command.
    step: SignedDuration,
}

fn person(name: &str, role: Role) -> Actor {
    Actor {
        name: name.into(),
        principal: format!("person:{name}"),
        role,
        email: Some(format!("{name}@example.com").parse().unwrap()),
        phone: None,
        signature: None,
    }
}

fn agent() -> Actor {
    person("ana", Role::Agent)
}

fn lead() -> Actor {
    person("lee", Role::Lead)
}

fn new_case() -> NewCase {
    NewCase {
        title: "Map service fails to publish".into(),
        description: "Error 999999 when publishing".into(),
        origin: Origin::Phone,
        priority: Priority::High,
        customer: Customer {
            name: "Jordan".into(),
            email: "jordan@customer.example".parse().unwrap(),
            phone: None,
            account: None,
        },
        product: None,
        product_version: None,
    }
}

impl Harness {
    fn new() -> Self {
        Self::with_config(WorkflowConfig::default_config())
    }

    fn with_config(config: WorkflowConfig) -> Self {
        let templates = Templates::embedded().unwrap();
        let ids = SequentialIds::default();
        let actor = agent();
        let ctx = Context {
            actor: &actor,
            config: &config,
            templates: &templates,
            now: START,
            ids: &ids,
            reply_keys: None,
        };
        let opened = decide_open(&new_case(), &ctx).unwrap();
        let first = Event {
            case: CaseNumber::new(1027).unwrap(),
            seq: 1,
            at: START,
            actor: "ana".into(),
            kind: opened.into(),
        };
        let case = first.evolve(None).unwrap();
        Self {
            config,
            templates,
            ids,
            now: START,
            case,
            history: vec![first],
            outbox: Vec::new(),
            step: SignedDuration::from_hours(1),
        }
    }

    /// Moves the clock on by whole days.
    fn days_later(&mut self, days: i64) {
        self.now += SignedDuration::from_hours(24 * days);
    }

    fn try_run(&mut self, actor: &Actor, cmd: Command) -> Result<Vec<Event>, WorkflowError> {
        self.now += self.step;
        let ctx = Context {
            actor,
            config: &self.config,
            templates: &self.templates,
            now: self.now,
            ids: &self.ids,
            reply_keys: None,
        };
        let d = decide(&cmd, &self.case, &ctx)?;
        let events = stamp(&self.case, &actor.name, self.now, d.events);
        self.case = apply_all(self.case.clone(), &events).unwrap();
        self.history.extend(events.clone());
        self.outbox.extend(d.outbox);
        Ok(events)
    }

    fn run(&mut self, actor: &Actor, cmd: Command) -> Vec<Event> {
        self.try_run(actor, cmd).unwrap()
    }

    fn make_ready(&mut self) {
        let a = agent();
        self.run(
            &a,
            Command::Edit(CaseEdit {
                title: Some("Publishing fails: data store not registered".into()),
                product: Some("ArcGIS Server".into()),
                product_version: Some("11.3".into()),
                product_area: Some("Publishing".into()),
                functionality: Some("Map services".into()),
                issue: Some("Configuration".into()),
                ..Default::default()
            }),
        );
        self.run(
            &a,
            post(
                PostKind::Summary,
                "Issue, environment, approach, resolution.",
            ),
        );
    }
}

fn post(kind: PostKind, body: &str) -> Command {
    Command::AddPost {
        kind,
        body: body.into(),
        visibility: Visibility::Internal,
    }
}

fn resolved() -> Command {
    Command::Close {
        mode: CloseMode::Resolved,
        resolution: Some(Resolution {
            primary: "Configuration".into(),
            secondary: "Documentation provided".into(),
        }),
        notify_customer: true,
    }
}

fn contact(channel: ContactChannel, outcome: ContactOutcome) -> Command {
    Command::RecordContact {
        channel,
        outcome,
        note: None,
    }
}

#[test]
fn a_new_case_starts_in_the_initial_status_unowned() {
    let h = Harness::new();
    assert_eq!(h.case.status.as_str(), "New");
    assert_eq!(h.case.status_category, StatusCategory::Open);
    assert_eq!(h.case.owner, None);
    assert_eq!(h.case.version, 1);
    assert!(!h.case.title_reviewed);
}

#[test]
fn opening_checks_its_fields() {
    let h = Harness::new();
    let a = agent();
    let ctx = Context {
        actor: &a,
        config: &h.config,
        templates: &h.templates,
        now: START,
        ids: &h.ids,
        reply_keys: None,
    };
    let mut n = new_case();
    n.title = "   ".into();
    assert_eq!(
        decide_open(&n, &ctx).unwrap_err().to_string(),
        "title: is required and may not be blank"
    );
    let mut n = new_case();
    n.title = "x".repeat(300);
    assert!(
        decide_open(&n, &ctx)
            .unwrap_err()
            .to_string()
            .contains("longer than 255")
    );

    let eve = Actor::customer("Eve", "eve@example.org".parse().unwrap());
    let ctx = Context { actor: &eve, ..ctx };
    assert!(matches!(
        decide_open(&new_case(), &ctx),
        Err(WorkflowError::Forbidden {
            role: Role::Customer,
            ..
        })
    ));
}

#[test]
fn the_closing_checklist_lists_every_missing_item() {
    let mut h = Harness::new();
    let err = h
        .try_run(
            &agent(),
            Command::Close {
                mode: CloseMode::Resolved,
                resolution: None,
                notify_customer: true,
            },
        )
        .unwrap_err();
    let items: Vec<&str> = err.missing().iter().map(|m| m.item.as_str()).collect();
    assert_eq!(
        items,
        [
            "summary",
            "title",
            "product",
            "product_version",
            "product_area",
            "functionality",
            "issue",
            "primary_resolution",
            "secondary_resolution"
        ]
    );
    assert!(err.to_string().starts_with(
        "closing checklist: the last post is not a case summary (post one with kind summary); the title was not reviewed"
    ));
    assert_eq!(h.case.version, 1, "a refused command changes nothing");
}

#[test]
fn the_summary_must_be_the_last_post() {
    let mut h = Harness::new();
    h.make_ready();
    h.run(&agent(), post(PostKind::Note, "one more thing"));
    let err = h.try_run(&agent(), resolved()).unwrap_err();
    let items: Vec<&str> = err.missing().iter().map(|m| m.item.as_str()).collect();
    assert_eq!(items, ["summary"]);
    h.run(&agent(), post(PostKind::Summary, "final summary"));
    h.run(&agent(), resolved());
    assert_eq!(h.case.status.as_str(), "Closed");
    assert_eq!(h.case.close_mode, Some(CloseMode::Resolved));
    assert_eq!(h.case.resolution.as_ref().unwrap().primary, "Configuration");
}

#[test]
fn a_resolved_close_tells_the_customer_the_resolution_unless_asked_not_to() {
    let mut h = Harness::new();
    h.make_ready();
    let events = h.run(&agent(), resolved());
    assert_eq!(
        events.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
        ["closed", "email_queued"]
    );
    let m = h.outbox.last().unwrap();
    assert_eq!(m.template, TemplateName::ResolutionNotice);
    assert_eq!(m.to.as_str(), "jordan@customer.example");
    assert!(
        m.body
            .contains("Resolution: Configuration / Documentation provided"),
        "{}",
        m.body
    );
    // the customer sees the resolution, on the case and in the closed event
    let seen = h.case.for_customer();
    assert_eq!(seen.resolution, h.case.resolution);
    assert!(seen.resolution.is_some());
    let closed = events[0].for_customer().unwrap();
    assert!(matches!(
        closed.kind,
        EventKind::Closed {
            resolution: Some(_),
            ..
        }
    ));

    h.run(
        &lead(),
        Command::Reopen {
            reason: "came back".into(),
            notify_customer: false,
        },
    );
    h.make_ready();
    let quiet = Command::Close {
        mode: CloseMode::Resolved,
        resolution: Some(Resolution {
            primary: "Configuration".into(),
            secondary: "Documentation provided".into(),
        }),
        notify_customer: false,
    };
    let before = h.outbox.len();
    assert_eq!(h.run(&agent(), quiet).len(), 1);
    assert_eq!(h.outbox.len(), before, "the agent opted out");
}

#[test]
fn a_non_response_close_always_sends_its_closing_email() {
    let mut h = Harness::new();
    reach_out_without_answer(&mut h);
    let quiet = Command::Close {
        mode: CloseMode::NonResponse,
        resolution: None,
        notify_customer: false,
    };
    let err = h.try_run(&agent(), quiet).unwrap_err();
    assert!(
        matches!(&err, WorkflowError::Invalid { field, .. } if field == "notify_customer"),
        "{err}"
    );
}

#[test]
fn a_temporary_close_needs_its_permission_and_the_owner_and_says_how_to_come_back() {
    let temporary = || Command::Close {
        mode: CloseMode::Temporary,
        resolution: None,
        notify_customer: true,
    };
    let mut h = Harness::new();
    assert!(matches!(
        h.try_run(&agent(), temporary()),
        Err(WorkflowError::NotOwner { owner: None, .. })
    ));
    h.run(&agent(), Command::Take);
    let bob = person("bob", Role::Agent);
    let err = h.try_run(&bob, temporary()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "only the case's owner may close the case temporarily; the owner is ana"
    );
    let events = h.run(&agent(), temporary());
    assert_eq!(
        events.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
        ["closed", "email_queued"]
    );
    let m = h.outbox.last().unwrap();
    assert_eq!(m.template, TemplateName::TemporaryCloseNotice);
    assert!(m.body.contains("reply to this email"), "{}", m.body);
    assert!(m.body.contains("support@example.com"), "{}", m.body);

    // a lead may close anyone's case temporarily
    let mut h = Harness::new();
    h.run(&agent(), Command::Take);
    h.run(&lead(), temporary());
    assert!(h.case.is_closed());

    // a workflow file that does not grant close_temporary to agents
    let text = crate::config::DEFAULT_WORKFLOW.replacen(
        r#""close",
         "close_temporary","#,
        r#""close","#,
        1,
    );
    let config = WorkflowConfig::parse(&text).unwrap();
    assert!(config.permits(Role::Agent, Permission::Close));
    assert!(!config.permits(Role::Agent, Permission::CloseTemporary));
    let mut h = Harness::with_config(config);
    h.run(&agent(), Command::Take);
    assert!(matches!(
        h.try_run(&agent(), temporary()),
        Err(WorkflowError::Forbidden {
            role: Role::Agent,
            ..
        })
    ));
}

#[test]
fn confirming_the_title_counts_as_reviewing_it() {
    let mut h = Harness::new();
    let a = agent();
    h.run(
        &a,
        Command::Edit(CaseEdit {
            product: Some("P".into()),
            product_version: Some("1".into()),
            product_area: Some("A".into()),
            functionality: Some("F".into()),
            issue: Some("I".into()),
            ..Default::default()
        }),
    );
    h.run(&a, post(PostKind::Summary, "s"));
    assert_eq!(
        h.try_run(&a, resolved()).unwrap_err().missing()[0].item,
        "title"
    );
    // re-entering the same title is a confirmation, not a change
    let ev = h.run(
        &a,
        Command::Edit(CaseEdit {
            title: Some(h.case.title.clone()),
            ..Default::default()
        }),
    );
    assert_eq!(ev[0].kind, EventKind::TitleConfirmed);
    // the summary is still the last post: a title review is not a post
    h.run(&a, resolved());
    assert!(h.case.is_closed());
}

#[test]
fn switched_off_checklist_items_are_not_enforced() {
    let text = crate::config::DEFAULT_WORKFLOW
        .replace("categorized = true", "categorized = false")
        .replace("technical_details = true", "technical_details = false");
    let mut h = Harness::with_config(WorkflowConfig::parse(&text).unwrap());
    let a = agent();
    h.run(&a, Command::ConfirmTitle);
    h.run(&a, post(PostKind::Summary, "s"));
    h.run(&a, resolved());
    assert!(h.case.is_closed());
}

#[test]
fn non_response_close_needs_the_policy_since_the_customer_was_last_reached() {
    use ContactChannel::{Email, Phone};
    use ContactOutcome::{NoResponse, Reached};
    let mut h = Harness::new();
    let a = agent();
    for _ in 0..3 {
        h.days_later(1);
        h.run(&a, contact(Email, NoResponse));
    }
    h.run(&a, contact(Phone, NoResponse));
    let err = h.try_run(&a, non_response()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "non-response policy: 1 of 2 unanswered phone calls recorded since the customer was last reached"
    );
    // the customer answers: the count starts again
    h.run(&a, contact(Phone, Reached));
    assert_eq!(h.case.contacts, ContactTally::default());
    for _ in 0..3 {
        h.days_later(1);
        h.run(&a, contact(Email, NoResponse));
    }
    h.run(&a, contact(Phone, NoResponse));
    h.days_later(1);
    h.run(&a, contact(Phone, NoResponse));
    let events = h.run(&a, non_response());
    assert!(matches!(
        events[0].kind,
        EventKind::EmailQueued {
            template: TemplateName::NonResponseClosure,
            counted: false,
            ..
        }
    ));
    assert_eq!(h.case.close_mode, Some(CloseMode::NonResponse));
    assert_eq!(h.outbox.len(), 1);
    let m = &h.outbox[0];
    assert_eq!(m.to.as_str(), "jordan@customer.example");
    assert!(
        m.body.contains("3 times by email and 2 times by phone"),
        "{}",
        m.body
    );
    assert_eq!(
        m.thread_id, m.message_id,
        "the case's first email starts its thread"
    );
    assert_eq!(m.message_id, "m1.case-00001027@example.com");
}

fn non_response() -> Command {
    Command::Close {
        mode: CloseMode::NonResponse,
        resolution: None,
        notify_customer: true,
    }
}

/// Three emails and two calls a day apart, each unanswered: the seed's policy, met.
fn reach_out_without_answer(h: &mut Harness) {
    use ContactChannel::{Email, Phone};
    let a = agent();
    for channel in [Email, Phone, Email, Phone, Email] {
        h.days_later(1);
        h.run(&a, contact(channel, ContactOutcome::NoResponse));
    }
}

#[test]
fn the_customers_answer_starts_the_non_response_count_over() {
    let mut h = Harness::new();
    reach_out_without_answer(&mut h);
    assert!(non_response_check(&h.case, &h.config).is_empty());
    let jordan = Actor::customer("Jordan", "jordan@customer.example".parse().unwrap());
    h.run(
        &jordan,
        Command::AddPost {
            kind: PostKind::Note,
            body: "Sorry, I was on holiday".into(),
            visibility: Visibility::Customer,
        },
    );
    let err = h.try_run(&agent(), non_response()).unwrap_err();
    assert_eq!(
        err.missing()
            .iter()
            .map(|m| m.item.as_str())
            .collect::<Vec<_>>(),
        ["email_attempts", "phone_attempts"],
        "{err}"
    );
    assert!(h.outbox.is_empty(), "no closing email was queued");
    // an agent's own customer-visible post is not the customer answering
    reach_out_without_answer(&mut h);
    h.run(
        &agent(),
        Command::AddPost {
            kind: PostKind::Note,
            body: "We are still waiting for the logs".into(),
            visibility: Visibility::Customer,
        },
    );
    assert!(non_response_check(&h.case, &h.config).is_empty());
}

#[test]
fn a_logged_call_reaches_the_customer() {
    let mut h = Harness::new();
    reach_out_without_answer(&mut h);
    h.run(
        &agent(),
        Command::LogCall {
            direction: CallDirection::Inbound,
            duration_minutes: 10,
            screenshare: false,
            channel: None,
            notes: "Customer called back".into(),
        },
    );
    assert_eq!(h.case.contacts, ContactTally::default());
    assert!(h.try_run(&agent(), non_response()).is_err());
}

#[test]
fn an_email_sent_to_the_customer_is_an_email_attempt() {
    let mut h = Harness::new();
    let a = agent();
    h.run(&a, Command::Take);
    h.run(
        &a,
        Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields::default(),
        },
    );
    for _ in 0..2 {
        h.days_later(1);
        h.run(
            &a,
            Command::SendEmail {
                template: TemplateName::FollowUp,
                fields: EmailFields {
                    discussed: Some("the logs we still need".into()),
                    ..Default::default()
                },
            },
        );
        h.run(
            &a,
            contact(ContactChannel::Phone, ContactOutcome::NoResponse),
        );
    }
    assert_eq!(
        (h.case.contacts.emails, h.case.contacts.phone_calls),
        (3, 2)
    );
    h.run(&a, non_response());
    assert!(h.case.is_closed());
}

#[test]
fn attempts_typed_in_a_burst_count_once() {
    let mut h = Harness::new();
    h.step = SignedDuration::from_millis(600);
    let a = agent();
    for channel in [
        ContactChannel::Email,
        ContactChannel::Email,
        ContactChannel::Email,
        ContactChannel::Phone,
        ContactChannel::Phone,
    ] {
        h.run(&a, contact(channel, ContactOutcome::NoResponse));
    }
    let err = h.try_run(&a, non_response()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "non-response policy: 1 of 3 unanswered emails recorded since the customer was last reached; 1 of 2 unanswered phone calls recorded since the customer was last reached"
    );
}

#[test]
fn attempts_inside_the_minimum_gap_count_once_per_channel() {
    let mut h = Harness::new();
    let a = agent();
    // the harness advances one hour per command; the default gap is 20 hours
    let ev = h.run(
        &a,
        contact(ContactChannel::Email, ContactOutcome::NoResponse),
    );
    assert!(matches!(
        ev[0].kind,
        EventKind::ContactAttempted { counted: true, .. }
    ));
    // another channel counts at once
    let ev = h.run(
        &a,
        contact(ContactChannel::Phone, ContactOutcome::NoResponse),
    );
    assert!(matches!(
        ev[0].kind,
        EventKind::ContactAttempted { counted: true, .. }
    ));
    let ev = h.run(
        &a,
        contact(ContactChannel::Phone, ContactOutcome::NoResponse),
    );
    assert!(matches!(
        ev[0].kind,
        EventKind::ContactAttempted { counted: false, .. }
    ));
    h.now += SignedDuration::from_hours(18);
    // 20 hours after the first phone attempt
    h.run(
        &a,
        contact(ContactChannel::Phone, ContactOutcome::NoResponse),
    );
    assert_eq!(
        (h.case.contacts.emails, h.case.contacts.phone_calls),
        (1, 2)
    );
    // a workflow file may count every attempt
    let text = crate::config::DEFAULT_WORKFLOW.replace("min_gap_hours = 20", "min_gap_hours = 0");
    let mut h = Harness::with_config(WorkflowConfig::parse(&text).unwrap());
    for _ in 0..3 {
        h.run(
            &a,
            contact(ContactChannel::Email, ContactOutcome::NoResponse),
        );
    }
    assert_eq!(h.case.contacts.emails, 3);
}

#[test]
fn reopening_needs_the_permission_a_reason_and_a_closed_case() {
    let mut h = Harness::new();
    let reopen = |reason: &str| Command::Reopen {
        reason: reason.into(),
        notify_customer: true,
    };
    assert!(matches!(
        h.try_run(&lead(), reopen("again")),
        Err(WorkflowError::NotClosed { .. })
    ));
    h.make_ready();
    h.run(&agent(), resolved());
    let err = h
        .try_run(&agent(), reopen("customer called back"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "agent may not reopen closed cases (a lead or admin can)"
    );
    let err = h.try_run(&lead(), reopen("  ")).unwrap_err();
    assert_eq!(err.to_string(), "reason: is required and may not be blank");

    let events = h.run(&lead(), reopen("Error came back after the upgrade"));
    let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names, ["reopened", "post_added", "email_queued"]);
    assert_eq!(h.case.status.as_str(), "New");
    assert_eq!(h.case.reopen_count, 1);
    assert_eq!(h.case.last_post, Some(PostKind::ReopenReason));
    assert!(!h.case.title_reviewed);
    assert_eq!(
        h.outbox.last().unwrap().template,
        TemplateName::ReopenNotice
    );
    // the reason is internal: the customer sees the reopen but not why
    let for_customer = events[0].for_customer().unwrap();
    assert!(matches!(&for_customer.kind, EventKind::Reopened { reason, .. } if reason.is_empty()));
    assert!(events[1].for_customer().is_none());
}

#[test]
fn a_reopen_can_skip_the_notice_and_go_to_a_configured_status() {
    let text = crate::config::DEFAULT_WORKFLOW.replace(
        r#"reopen_status = "New""#,
        r#"reopen_status = "In Progress""#,
    );
    let mut h = Harness::with_config(WorkflowConfig::parse(&text).unwrap());
    h.make_ready();
    h.run(&agent(), resolved());
    let events = h.run(
        &lead(),
        Command::Reopen {
            reason: "more info".into(),
            notify_customer: false,
        },
    );
    assert_eq!(events.len(), 2);
    assert!(
        h.outbox
            .iter()
            .all(|m| m.template != TemplateName::ReopenNotice)
    );
    assert_eq!(h.case.status.as_str(), "In Progress");
}

#[test]
fn a_temporary_close_can_be_reopened_by_an_agent() {
    let mut h = Harness::new();
    h.run(&agent(), Command::Take);
    h.run(
        &agent(),
        Command::Close {
            mode: CloseMode::Temporary,
            resolution: None,
            notify_customer: true,
        },
    );
    assert_eq!(h.case.status.as_str(), "Temporarily Closed");
    assert_eq!(h.case.status_category, StatusCategory::Closed);
    h.run(
        &agent(),
        Command::Reopen {
            reason: "customer has time to troubleshoot now".into(),
            notify_customer: true,
        },
    );
    assert_eq!(h.case.status.as_str(), "New");
    assert_eq!(h.case.reopen_count, 1);
}

#[test]
fn transitions_follow_the_workflow_file() {
    let mut h = Harness::new();
    let a = agent();
    let to = |s: &str| Command::Transition {
        status: s.into(),
        note: None,
    };
    h.run(&a, to("in progress"));
    assert_eq!(h.case.status.as_str(), "In Progress");
    assert!(matches!(
        h.try_run(&a, to("New")),
        Err(WorkflowError::TransitionNotAllowed { .. })
    ));
    let err = h.try_run(&a, to("Nowhere")).unwrap_err();
    assert!(
        matches!(&err, WorkflowError::UnknownStatus { field, .. } if field == "status"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "status: unknown status \"Nowhere\"; the workflow's statuses are New, In Progress, Escalated, Pending Customer, Temporarily Closed, Closed"
    );
    assert!(
        h.try_run(&a, to("Closed"))
            .unwrap_err()
            .to_string()
            .contains("its own command")
    );
    h.run(&a, to("Pending Customer"));
    assert_eq!(h.case.status_category, StatusCategory::Pending);
    assert!(
        h.run(&a, to("Pending Customer")).is_empty(),
        "no-op transitions add nothing"
    );
}

#[test]
fn a_status_map_moves_cases_out_of_a_status_the_workflow_no_longer_has() {
    let root = person("root", Role::Admin);
    let map = |from: &str, to: &str| Command::MapStatus {
        from: from.into(),
        to: to.into(),
    };
    // a case opened as "New"; then the organization renames New to Open
    let mut h = Harness::new();
    h.config = renamed_workflow();
    let err = h
        .try_run(
            &agent(),
            Command::Transition {
                status: "In Progress".into(),
                note: None,
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        WorkflowError::StrandedStatus {
            status: "New".parse().unwrap()
        }
    );
    assert!(
        err.to_string().contains("casework status map New=NEW"),
        "{err}"
    );
    assert!(matches!(
        h.try_run(&lead(), map("New", "Open")),
        Err(WorkflowError::Forbidden {
            role: Role::Lead,
            ..
        })
    ));
    assert!(matches!(
        h.try_run(&root, map("In Progress", "Open")),
        Err(WorkflowError::Invalid { field, .. }) if field == "from"
    ));
    assert!(matches!(
        h.try_run(&root, map("New", "Nope")),
        Err(WorkflowError::UnknownStatus { field, .. }) if field == "to"
    ));
    assert!(
        matches!(
            h.try_run(&root, map("Gone", "Open")),
            Err(WorkflowError::Invalid { field, .. }) if field == "from"
        ),
        "the case is not in that status"
    );
    // a map never closes an open case
    assert!(matches!(
        h.try_run(&root, map("new", "Resolved")),
        Err(WorkflowError::Invalid { field, .. }) if field == "to"
    ));
    assert_eq!(h.case.version, 1, "refusals change nothing");
    let events = h.run(&root, map("new", "open"));
    assert_eq!(
        events[0].kind,
        EventKind::StatusMapped {
            from: "New".parse().unwrap(),
            to: "Open".parse().unwrap(),
            category: StatusCategory::Open,
        }
    );
    assert_eq!(h.case.status.as_str(), "Open");
    assert!(
        events[0].for_customer().is_some(),
        "the customer sees the new name"
    );
    // the case moves by the workflow again
    h.run(
        &agent(),
        Command::Transition {
            status: "In Progress".into(),
            note: None,
        },
    );

    // a closed case keeps being closed: Closed renamed Resolved
    let mut h = Harness::new();
    h.make_ready();
    h.run(&agent(), resolved());
    h.config = renamed_workflow();
    assert!(matches!(
        h.try_run(&root, map("Closed", "Open")),
        Err(WorkflowError::Invalid { field, .. }) if field == "to"
    ));
    h.run(&root, map("Closed", "Resolved"));
    assert_eq!(h.case.status.as_str(), "Resolved");
    assert!(h.case.is_closed());
    assert_eq!(h.case.close_mode, Some(CloseMode::Resolved));
    assert_eq!(h.case.check_invariants(), Ok(()));
    // and reopens as the renamed workflow says
    h.run(
        &lead(),
        Command::Reopen {
            reason: "back".into(),
            notify_customer: false,
        },
    );
    assert_eq!(h.case.status.as_str(), "Open");
}

#[test]
fn stranded_statuses_are_the_ones_the_workflow_does_not_have() {
    use crate::ports::StatusCount;
    let count = |s: &str, n| StatusCount {
        status: s.parse().unwrap(),
        cases: n,
    };
    let stranded = renamed_workflow().stranded(&[
        count("New", 3),
        count("open", 2),
        count("Closed", 1),
        count("In Progress", 4),
    ]);
    assert_eq!(stranded, [count("New", 3), count("Closed", 1)]);
}

#[test]
fn only_leads_escalate_and_reassign_by_default() {
    let mut h = Harness::new();
    let esc = Command::Escalate {
        reason: "P1 outage".into(),
    };
    assert!(matches!(
        h.try_run(&agent(), esc.clone()),
        Err(WorkflowError::Forbidden { .. })
    ));
    h.run(&lead(), esc);
    assert_eq!(h.case.status.as_str(), "Escalated");

    h.run(&agent(), Command::Take);
    assert_eq!(h.case.owner.as_deref(), Some("ana"));
    let bob = person("bob", Role::Agent);
    let err = h.try_run(&bob, Command::Take).unwrap_err();
    assert!(err.to_string().contains("owned by ana"), "{err}");
    assert!(matches!(
        h.try_run(
            &bob,
            Command::Assign {
                owner: "bob".into()
            }
        ),
        Err(WorkflowError::Forbidden { .. })
    ));
    h.run(
        &lead(),
        Command::Assign {
            owner: "bob".into(),
        },
    );
    assert_eq!(h.case.owner.as_deref(), Some("bob"));
}

#[test]
fn only_the_owner_sends_the_initial_contact_email_on_an_open_case() {
    let mut h = Harness::new();
    let initial = || Command::SendEmail {
        template: TemplateName::InitialContact,
        fields: EmailFields::default(),
    };
    assert_eq!(
        h.try_run(&agent(), initial()),
        Err(WorkflowError::NotOwner {
            owner: None,
            action: "send the initial-contact email".into(),
        })
    );
    h.run(&agent(), Command::Take);
    let bob = person("bob", Role::Agent);
    let err = h.try_run(&bob, initial()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "only the case's owner may send the initial-contact email; the owner is ana"
    );
    assert!(
        matches!(h.try_run(&lead(), initial()), Err(WorkflowError::NotOwner { owner: Some(o), .. }) if o == "ana"),
        "not even a lead: the email says \"I have taken ownership\""
    );
    assert!(h.outbox.is_empty());
    h.run(&agent(), initial());
    assert_eq!(h.outbox.len(), 1);
    // a follow-up is not bound to the owner
    h.run(
        &bob,
        Command::SendEmail {
            template: TemplateName::FollowUp,
            fields: EmailFields {
                discussed: Some("covering for Ana".into()),
                ..Default::default()
            },
        },
    );
    h.run(
        &agent(),
        Command::Close {
            mode: CloseMode::Temporary,
            resolution: None,
            notify_customer: true,
        },
    );
    assert!(matches!(
        h.try_run(&agent(), initial()),
        Err(WorkflowError::CaseClosed { .. })
    ));
}

#[test]
fn moving_into_the_escalated_status_is_an_escalation() {
    let mut h = Harness::new();
    let to_escalated = |note: Option<&str>| Command::Transition {
        status: "escalated".into(),
        note: note.map(str::to_string),
    };
    assert!(matches!(
        h.try_run(&agent(), to_escalated(Some("P1 outage"))),
        Err(WorkflowError::Forbidden {
            role: Role::Agent,
            ..
        })
    ));
    let err = h.try_run(&lead(), to_escalated(None)).unwrap_err();
    assert_eq!(err.to_string(), "note: an escalation needs a reason");
    assert_eq!(h.case.version, 1);
    let events = h.run(&lead(), to_escalated(Some("P1 outage")));
    assert_eq!(
        events.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
        ["escalated"]
    );
    assert!(
        matches!(&events[0].kind, EventKind::Escalated { reason, .. } if reason == "P1 outage")
    );
    assert_eq!(h.case.status.as_str(), "Escalated");
    assert!(
        h.run(&lead(), to_escalated(Some("again"))).is_empty(),
        "already there: nothing changes, as for any transition"
    );
    // moving out of it is an ordinary transition
    let events = h.run(
        &agent(),
        Command::Transition {
            status: "In Progress".into(),
            note: None,
        },
    );
    assert_eq!(events[0].kind.name(), "status_changed");
}

#[test]
fn customers_may_only_add_customer_visible_notes() {
    let mut h = Harness::new();
    let jordan = Actor::customer("Jordan", "jordan@customer.example".parse().unwrap());
    let ev = h.run(
        &jordan,
        Command::AddPost {
            kind: PostKind::Note,
            body: "Here is the log".into(),
            visibility: Visibility::Customer,
        },
    );
    assert!(ev[0].for_customer().is_some());
    for cmd in [
        post(PostKind::Note, "internal"),
        post(PostKind::Summary, "s"),
        Command::Take,
        Command::ConfirmTitle,
        contact(ContactChannel::Email, ContactOutcome::Reached),
        resolved(),
    ] {
        assert!(
            matches!(
                h.try_run(&jordan, cmd.clone()),
                Err(WorkflowError::Forbidden { .. })
            ),
            "{cmd:?}"
        );
    }
}

#[test]
fn internal_text_never_reaches_the_customer_view() {
    let mut h = Harness::new();
    let a = agent();
    h.run(&a, post(PostKind::Note, "SECRET-MARKER internal"));
    h.run(
        &a,
        Command::Swarm {
            group: "g".into(),
            question: "SECRET-MARKER?".into(),
        },
    );
    h.run(
        &a,
        Command::Transition {
            status: "In Progress".into(),
            note: Some("SECRET-MARKER".into()),
        },
    );
    h.run(
        &lead(),
        Command::Escalate {
            reason: "SECRET-MARKER".into(),
        },
    );
    h.run(
        &a,
        Command::RecordContact {
            channel: ContactChannel::Email,
            outcome: ContactOutcome::NoResponse,
            note: Some("SECRET-MARKER".into()),
        },
    );
    let visible: Vec<Event> = h.history.iter().filter_map(Event::for_customer).collect();
    let json = serde_json::to_string(&visible).unwrap();
    assert!(!json.contains("SECRET-MARKER"), "{json}");
    assert!(
        visible
            .iter()
            .any(|e| matches!(e.kind, EventKind::StatusChanged { .. }))
    );
}

#[test]
fn follow_up_needs_a_summary_of_the_discussion() {
    let mut h = Harness::new();
    let err = h
        .try_run(
            &agent(),
            Command::SendEmail {
                template: TemplateName::FollowUp,
                fields: EmailFields::default(),
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "discussed: a follow-up email needs a summary of what was discussed"
    );
}

#[test]
fn links_are_recorded_once_and_never_to_the_case_itself() {
    let mut h = Harness::new();
    let link = Command::Link(LinkTarget {
        kind: RefKind::Article,
        reference: "12".into(),
    });
    assert_eq!(h.run(&agent(), link.clone()).len(), 1);
    assert!(h.run(&agent(), link).is_empty());
    assert_eq!(h.case.links.len(), 1);
    let own = Command::Link(LinkTarget {
        kind: RefKind::Case,
        reference: "00001027".into(),
    });
    assert!(h.try_run(&agent(), own).is_err());
    let other = |r: &str| {
        Command::Link(LinkTarget {
            kind: RefKind::Case,
            reference: r.into(),
        })
    };
    assert_eq!(h.run(&agent(), other("42")).len(), 1);
    assert!(
        h.run(&agent(), other("00000042")).is_empty(),
        "one spelling per case"
    );
    assert_eq!(h.case.links[1].reference, "00000042");
    assert!(h.try_run(&agent(), other("forty-two")).is_err());
}

#[test]
fn replay_refuses_histories_that_do_not_fit() {
    let h = Harness::new();
    let mut second = h.history[0].clone();
    second.seq = 2;
    assert!(replay([&h.history[0], &second]).is_err(), "opened twice");
    let mut gap = h.history[0].clone();
    gap.kind = EventKind::TitleConfirmed;
    gap.seq = 3;
    assert!(replay([&h.history[0], &gap]).is_err(), "sequence gap");
    assert!(replay([&gap]).is_err(), "no opened event");
    assert_eq!(replay([]).unwrap_err(), crate::event::ReplayError::Empty);
}

// ---------------------------------------------------------------------------------------
// Property tests: random command sequences.

fn arb_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(agent()),
        Just(lead()),
        Just(person("bob", Role::Agent)),
        Just(person("root", Role::Admin)),
        Just(Actor::customer(
            "Jordan",
            "jordan@customer.example".parse().unwrap()
        )),
    ]
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  ".to_string()),
        "[a-zA-Zé ]{1,20}"
    ]
}

fn arb_command() -> impl Strategy<Value = Command> {
    let status = prop_oneof![
        Just("New"),
        Just("In Progress"),
        Just("Escalated"),
        Just("Pending Customer"),
        Just("Closed"),
        Just("Temporarily Closed"),
        Just("Bogus")
    ];
    let kind = prop_oneof![
        Just(PostKind::Note),
        Just(PostKind::CallNotes),
        Just(PostKind::Summary),
        Just(PostKind::ReopenReason)
    ];
    let vis = prop_oneof![Just(Visibility::Internal), Just(Visibility::Customer)];
    let mode = prop_oneof![
        Just(CloseMode::Resolved),
        Just(CloseMode::NonResponse),
        Just(CloseMode::Temporary)
    ];
    let chan = prop_oneof![Just(ContactChannel::Email), Just(ContactChannel::Phone)];
    let outcome = prop_oneof![
        Just(ContactOutcome::NoResponse),
        Just(ContactOutcome::Reached)
    ];
    let opt = || proptest::option::of(arb_text());
    prop_oneof![
        Just(Command::Take),
        prop_oneof![Just("ana"), Just("bob"), Just("lee")]
            .prop_map(|o| Command::Assign { owner: o.into() }),
        (status, proptest::option::of(arb_text())).prop_map(|(s, note)| Command::Transition {
            status: s.into(),
            note
        }),
        arb_text().prop_map(|reason| Command::Escalate { reason }),
        (opt(), opt(), opt(), opt(), opt(), opt()).prop_map(
            |(title, product, product_version, product_area, functionality, issue)| {
                Command::Edit(CaseEdit {
                    title,
                    product,
                    product_version,
                    product_area,
                    functionality,
                    issue,
                    ..Default::default()
                })
            }
        ),
        Just(Command::ConfirmTitle),
        (0u32..2000, any::<bool>(), arb_text()).prop_map(|(d, s, notes)| Command::LogCall {
            direction: CallDirection::Inbound,
            duration_minutes: d,
            screenshare: s,
            channel: None,
            notes
        }),
        (kind, arb_text(), vis).prop_map(|(kind, body, visibility)| Command::AddPost {
            kind,
            body,
            visibility
        }),
        (chan, outcome).prop_map(|(c, o)| contact(c, o)),
        (mode, opt(), opt(), any::<bool>()).prop_map(|(mode, p, s, notify_customer)| {
            Command::Close {
                mode,
                resolution: match (p, s) {
                    (None, None) => None,
                    (p, s) => Some(Resolution {
                        primary: p.unwrap_or_default(),
                        secondary: s.unwrap_or_default(),
                    }),
                },
                notify_customer,
            }
        }),
        (arb_text(), any::<bool>()).prop_map(|(reason, notify_customer)| Command::Reopen {
            reason,
            notify_customer
        }),
        arb_text().prop_map(|note| Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields {
                note: Some(note),
                ..Default::default()
            },
        }),
        arb_text().prop_map(|discussed| Command::SendEmail {
            template: TemplateName::FollowUp,
            fields: EmailFields {
                discussed: Some(discussed),
                ..Default::default()
            },
        }),
    ]
}

/// The non-response rule written again from the history alone, without `evolve` or the
/// events' `counted` flags: the unanswered attempts per channel (emails, phone calls) made
/// after the last event for which `resets` holds, one per `min_gap_hours` on each channel.
fn attempts_after(
    history: &[Event],
    gap_hours: u32,
    resets: impl Fn(&Event) -> bool,
) -> (u32, u32) {
    let start = history.iter().rposition(&resets).map_or(0, |i| i + 1);
    let gap = SignedDuration::from_hours(i64::from(gap_hours));
    let (mut emails, mut phones): (Vec<Timestamp>, Vec<Timestamp>) = (Vec::new(), Vec::new());
    for e in &history[start..] {
        let list = match &e.kind {
            EventKind::ContactAttempted {
                channel: ContactChannel::Email,
                outcome: ContactOutcome::NoResponse,
                ..
            } => &mut emails,
            EventKind::ContactAttempted {
                channel: ContactChannel::Phone,
                outcome: ContactOutcome::NoResponse,
                ..
            } => &mut phones,
            EventKind::EmailQueued {
                template: TemplateName::InitialContact | TemplateName::FollowUp,
                ..
            } => &mut emails,
            _ => continue,
        };
        if list
            .last()
            .is_none_or(|last| e.at.duration_since(*last) >= gap)
        {
            list.push(e.at);
        }
    }
    (emails.len() as u32, phones.len() as u32)
}

/// Steps weighted toward reaching the customer: attempts, emails, the customer's posts,
/// calls, non-response closes and reopens, with any other step now and then.
fn arb_reach_step() -> impl Strategy<Value = (Actor, Command)> {
    let jordan = Actor::customer("Jordan", "jordan@customer.example".parse().unwrap());
    let chan = prop_oneof![Just(ContactChannel::Email), Just(ContactChannel::Phone)];
    let said = |visibility| Command::AddPost {
        kind: PostKind::Note,
        body: "Any news?".into(),
        visibility,
    };
    prop_oneof![
        6 => chan.clone().prop_map(|c| (agent(), contact(c, ContactOutcome::NoResponse))),
        1 => chan.prop_map(|c| (agent(), contact(c, ContactOutcome::Reached))),
        2 => Just((agent(), Command::SendEmail {
            template: TemplateName::FollowUp,
            fields: EmailFields { discussed: Some("the logs".into()), ..Default::default() },
        })),
        1 => Just((agent(), Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields::default(),
        })),
        2 => Just((jordan, said(Visibility::Customer))),
        1 => Just((agent(), said(Visibility::Customer))),
        1 => Just((agent(), Command::LogCall {
            direction: CallDirection::Outbound,
            duration_minutes: 5,
            screenshare: false,
            channel: None,
            notes: "talked".into(),
        })),
        3 => Just((agent(), non_response())),
        1 => Just((lead(), Command::Reopen { reason: "back".into(), notify_customer: true })),
        1 => Just((agent(), Command::Take)),
        1 => (arb_actor(), arb_command()),
    ]
}

/// Whether an event is the customer writing: a post by the customer actor of the tests.
fn customer_wrote(e: &Event) -> bool {
    e.actor == "Jordan" && matches!(e.kind, EventKind::PostAdded { .. })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random command sequences never panic; a case closed as resolved has both
    /// resolutions; the reopen count equals the reopen events; every email event has its
    /// outbox message. (That replaying the history gives the stored state is checked
    /// through the service on every store: `casework-store-conformance`.)
    #[test]
    fn random_command_sequences_keep_the_invariants(
        steps in proptest::collection::vec((arb_actor(), arb_command(), 0i64..1800), 1..60)
    ) {
        let mut h = Harness::new();
        for (actor, cmd, minutes) in steps {
            h.step = SignedDuration::from_mins(minutes);
            let _ = h.try_run(&actor, cmd);
            prop_assert_eq!(h.case.version, h.history.len() as u64);
            prop_assert_eq!(h.case.check_invariants(), Ok(()));
            let reopens = h.history.iter().filter(|e| matches!(e.kind, EventKind::Reopened { .. })).count();
            prop_assert_eq!(h.case.reopen_count as usize, reopens);
            let queued = h.history.iter().filter(|e| matches!(e.kind, EventKind::EmailQueued { .. })).count();
            prop_assert_eq!(queued, h.outbox.len());
        }
    }

    /// Whatever commands come, customer posts, calls, contact attempts and emails among
    /// them: a non-response close never happens after the customer's last message unless
    /// the policy's attempts came after it; and the closing check says a non-response close
    /// is allowed exactly when the attempts since the customer was last reached (or the case
    /// reopened) meet the policy, counted from the history without `evolve`.
    #[test]
    fn a_non_response_close_needs_the_attempts_after_the_customers_last_message(
        steps in proptest::collection::vec((arb_reach_step(), 0i64..1800), 1..80)
    ) {
        let mut h = Harness::new();
        let policy = h.config.non_response;
        for ((actor, cmd), minutes) in steps {
            h.step = SignedDuration::from_mins(minutes);
            let closing = matches!(cmd, Command::Close { mode: CloseMode::NonResponse, .. });
            let before = h.history.len();
            if h.try_run(&actor, cmd).is_ok() && closing {
                let (emails, phones) = attempts_after(&h.history[..before], policy.min_gap_hours, customer_wrote);
                prop_assert!(
                    emails >= policy.emails && phones >= policy.phone_calls,
                    "closed for non-response with {} emails and {} calls after the customer's last message",
                    emails,
                    phones
                );
            }
            if !h.case.is_closed() {
                let reached = |e: &Event| {
                    customer_wrote(e)
                        || matches!(
                            e.kind,
                            EventKind::CallLogged { .. }
                                | EventKind::Reopened { .. }
                                | EventKind::ContactAttempted { outcome: ContactOutcome::Reached, .. }
                        )
                };
                let (emails, phones) = attempts_after(&h.history, policy.min_gap_hours, reached);
                prop_assert_eq!(
                    non_response_check(&h.case, &h.config).is_empty(),
                    emails >= policy.emails && phones >= policy.phone_calls,
                    "model: {} emails, {} calls; case: {:?}", emails, phones, h.case.contacts
                );
            }
        }
    }
}

#[test]
fn a_customer_asking_to_reopen_reopens_as_the_closed_reply_policy_says() {
    let customer = Actor::customer("Jordan", h_email());
    let ask = |body: &str| Command::AskToReopen { body: body.into() };
    let names = |events: &[Event]| events.iter().map(|e| e.kind.name()).collect::<Vec<_>>();

    // open: nothing to reopen
    let mut h = Harness::new();
    assert!(matches!(
        h.try_run(&customer, ask("again")),
        Err(WorkflowError::NotClosed { .. })
    ));
    // closed as resolved, asked within the default 30 days: reopened, the words kept
    h.make_ready();
    h.run(&agent(), resolved());
    let err = h.try_run(&customer, ask("  ")).unwrap_err();
    assert_eq!(err.to_string(), "body: is required and may not be blank");
    h.days_later(29);
    let events = h.run(&customer, ask("The error is back"));
    assert_eq!(names(&events), ["reopened", "post_added", "post_added"]);
    assert!(!h.case.is_closed());
    assert_eq!(h.case.reopen_count, 1);
    assert!(
        matches!(&events[0].kind, EventKind::Reopened { reason, .. } if reason == "customer asked to reopen")
    );
    assert!(matches!(
        &events[2].kind,
        EventKind::PostAdded { body, visibility: Visibility::Customer, from_customer: true, .. }
            if body == "The error is back"
    ));
    assert_eq!(h.case.last_customer_reply_at, Some(events[2].at));

    // closed longer ago than the policy allows: only the words, for the team to decide
    let mut h = Harness::new();
    h.make_ready();
    h.run(&agent(), resolved());
    h.days_later(31);
    let events = h.run(&customer, ask("Still broken"));
    assert_eq!(names(&events), ["post_added"]);
    assert!(h.case.is_closed());

    // a policy of new cases never reopens from the portal either, but a temporary close
    // (the customer's own request) always does
    let text = crate::config::DEFAULT_WORKFLOW.replace(
        "closed_reply = \"reopen_within\"",
        "closed_reply = \"new_case\"",
    );
    let mut h = Harness::with_config(WorkflowConfig::parse(&text).unwrap());
    h.make_ready();
    h.run(&agent(), resolved());
    assert_eq!(names(&h.run(&customer, ask("hm"))), ["post_added"]);
    let mut h = Harness::with_config(WorkflowConfig::parse(&text).unwrap());
    h.run(
        &lead(),
        Command::Close {
            mode: CloseMode::Temporary,
            resolution: None,
            notify_customer: false,
        },
    );
    let events = h.run(&customer, ask("Ready to continue"));
    assert_eq!(names(&events), ["reopened", "post_added", "post_added"]);

    // a customer without post_customer may not ask
    let text = crate::config::DEFAULT_WORKFLOW.replace(
        "customer = [\"open_case\", \"view_case\", \"post_customer\", \"suggest\"]",
        "customer = [\"open_case\", \"view_case\", \"suggest\"]",
    );
    assert_ne!(text, crate::config::DEFAULT_WORKFLOW);
    let mut h = Harness::with_config(WorkflowConfig::parse(&text).unwrap());
    h.make_ready();
    h.run(&agent(), resolved());
    assert!(matches!(
        h.try_run(&customer, ask("again")),
        Err(WorkflowError::Forbidden { .. })
    ));
}

fn h_email() -> crate::ids::EmailAddress {
    crate::ids::EmailAddress::trusted("jordan@customer.example")
}
