//! The behaviours, one async function each, grouped by the store capability they test (one
//! module per capability, as core's `ports` is split). Each takes a fresh, empty store and
//! needs only the capabilities its group names, plus the case log to make cases, so a new
//! store passes group by group: the case log first, then the directory and knowledge, then
//! queries, reports, the outbox and diagnostics, and last the service on the whole store.
//! `transfer` (moving whole stores) takes two stores, a source and a target.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod attachments;
pub mod case_log;
pub mod case_queries;
pub mod diagnostics;
pub mod directory;
pub mod feed;
pub mod inbound;
pub mod knowledge;
pub mod mailbox;
pub mod outbox;
pub mod quarantine;
pub mod reports;
pub mod service;
pub mod sessions;
pub mod surroundings;
pub mod transfer;
pub mod webhooks;

use std::sync::Arc;

use casework_core::documents::EmailFields;
use casework_core::event::EventKind;
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    Actor, Case, CloseMode, Customer, Origin, OutboxMessage, Person, PostKind, Priority,
    Resolution, Role, TemplateName, Visibility,
};
use casework_core::ports::{CaseFilter, CaseLog, CaseQueries, Commit, PageRequest};
use casework_core::service::decide_commit;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::workflow::{CaseEdit, Command, Context, NewCase, decide_open, stamp};
use casework_core::{Templates, WorkflowConfig};
use jiff::{SignedDuration, Timestamp};

pub(crate) fn staff(name: &str, role: Role) -> Person {
    Person {
        name: name.into(),
        role,
        email: Some(format!("{name}@example.com").parse().unwrap()),
        phone: None,
        signature: None,
        notifications_off: Vec::new(),
    }
}

pub(crate) fn actor(name: &str, role: Role) -> Actor {
    Actor::from_person(&staff(name, role))
}

pub(crate) fn ana() -> Actor {
    actor("ana", Role::Agent)
}

pub(crate) fn lee() -> Actor {
    actor("lee", Role::Lead)
}

pub(crate) fn email(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

pub(crate) fn new_case(title: &str, description: &str, customer: &str) -> NewCase {
    NewCase {
        title: title.into(),
        description: description.into(),
        origin: Origin::Email,
        priority: Priority::Medium,
        customer: Customer {
            name: "Customer".into(),
            email: email(customer),
            phone: None,
            account: None,
        },
        product: None,
        product_version: None,
    }
}

/// A store and what it takes to decide commands against it as the core does, without the
/// service (which needs every capability): the default workflow and templates, a clock the
/// behaviours move, and sequential ids.
pub(crate) struct Desk<S: ?Sized> {
    pub(crate) store: Arc<S>,
    pub(crate) clock: FixedClock,
    ids: SequentialIds,
    config: WorkflowConfig,
    templates: Templates,
}

pub(crate) fn desk<S: ?Sized>(store: Arc<S>) -> Desk<S> {
    Desk {
        store,
        clock: FixedClock::default(),
        ids: SequentialIds::default(),
        config: WorkflowConfig::default_config(),
        templates: Templates::embedded().unwrap(),
    }
}

impl<S: ?Sized> Desk<S> {
    pub(crate) fn now(&self) -> Timestamp {
        casework_core::ports::Clock::now(&self.clock)
    }

    pub(crate) fn advance_days(&self, days: i64) {
        self.clock.advance(SignedDuration::from_hours(24 * days));
    }
}

impl<S: CaseLog + ?Sized> Desk<S> {
    /// Opens a case as ana, as the service would.
    pub(crate) async fn open(&self, title: &str, description: &str, customer: &str) -> Case {
        let who = ana();
        let opened = decide_open(&new_case(title, description, customer), &self.ctx(&who)).unwrap();
        self.store
            .create_case(self.now(), who.name.clone(), opened, Vec::new())
            .await
            .unwrap()
    }

    /// The notices a case being opened as ana with `title` makes under a workflow that
    /// announces new cases to every lead (here `lee`), rendered before the case has its
    /// number, and the `opened` event to create it with.
    pub(crate) fn opening_notices(
        &self,
        title: &str,
    ) -> (
        casework_core::event::Opened,
        Vec<casework_core::model::OutboxMessage>,
    ) {
        use casework_core::workflow::notify::{Notifier, notices};
        let who = ana();
        let opened = decide_open(
            &new_case(title, "d", "jordan@customer.example"),
            &self.ctx(&who),
        )
        .unwrap();
        let config = WorkflowConfig::parse(&format!(
            "{}\n[notifications]\nsend = [\"new_case\"]\n",
            casework_core::config::DEFAULT_WORKFLOW
        ))
        .unwrap();
        let people = [staff("lee", Role::Lead)];
        let n = Notifier {
            config: &config,
            templates: &self.templates,
            ids: &self.ids,
            now: self.now(),
            people: &people,
        };
        let event = opened
            .clone()
            .event(CaseNumber::MIN, self.now(), who.name.clone());
        let state = casework_core::event::replay([&event]).unwrap();
        (opened, notices(&[event], &state, &who, false, &n).unwrap())
    }

    fn ctx<'a>(&'a self, who: &'a Actor) -> Context<'a> {
        Context {
            actor: who,
            config: &self.config,
            templates: &self.templates,
            now: self.now(),
            ids: &self.ids,
            reply_keys: None,
        }
    }

    /// What a command would write to case `n` as it stands now, without writing it.
    pub(crate) async fn plan(&self, who: &Actor, n: CaseNumber, cmd: Command) -> Commit {
        let case = self.store.load_case(n).await.unwrap();
        decide_commit(&cmd, &case, &self.ctx(who))
            .unwrap()
            .expect("the command changes the case")
    }

    /// Runs a command on case `n` as `who`: decided by the core, committed to the store.
    pub(crate) async fn run(&self, who: &Actor, n: CaseNumber, cmd: Command) -> Case {
        let case = self.store.load_case(n).await.unwrap();
        match decide_commit(&cmd, &case, &self.ctx(who)).unwrap() {
            Some(commit) => self.store.commit(commit).await.unwrap(),
            None => case,
        }
    }

    /// [`Desk::try_run`], except that a store refusing the commit as back-dated (the REST
    /// store's protocol refuses events dated before its server's clock, `MAX_CLOCK_SKEW`)
    /// is told apart: `Err(())` then, and nothing was written.
    pub(crate) async fn try_run_dated(
        &self,
        who: &Actor,
        n: CaseNumber,
        cmd: Command,
    ) -> Result<Option<Case>, ()> {
        let case = self.store.load_case(n).await.unwrap();
        match decide_commit(&cmd, &case, &self.ctx(who)) {
            Ok(Some(commit)) => match self.store.commit(commit).await {
                Ok(case) => Ok(Some(case)),
                Err(casework_core::ports::StoreError::Invalid(m))
                    if m.contains("before the server's clock") =>
                {
                    Err(())
                }
                Err(e) => panic!("{e}"),
            },
            Ok(None) => Ok(Some(case)),
            Err(_) => Ok(None),
        }
    }

    /// Runs a command on case `n` as `who` if the core accepts it; `None` when it refuses.
    pub(crate) async fn try_run(&self, who: &Actor, n: CaseNumber, cmd: Command) -> Option<Case> {
        let case = self.store.load_case(n).await.unwrap();
        match decide_commit(&cmd, &case, &self.ctx(who)) {
            Ok(Some(commit)) => Some(self.store.commit(commit).await.unwrap()),
            Ok(None) => Some(case),
            Err(_) => None,
        }
    }

    pub(crate) async fn post(
        &self,
        n: CaseNumber,
        kind: PostKind,
        body: &str,
        visibility: Visibility,
    ) -> Case {
        let post = Command::AddPost {
            kind,
            body: body.into(),
            visibility,
        };
        self.run(&ana(), n, post).await
    }

    /// Everything the checklist needs, then a resolved close.
    pub(crate) async fn close_resolved(&self, n: CaseNumber, area: &str, primary: &str) -> Case {
        let edit = CaseEdit {
            product: Some("Server".into()),
            product_version: Some("11.3".into()),
            product_area: Some(area.into()),
            functionality: Some("F".into()),
            issue: Some("I".into()),
            ..Default::default()
        };
        self.run(&ana(), n, Command::Edit(edit)).await;
        self.run(&ana(), n, Command::ConfirmTitle).await;
        self.post(n, PostKind::Summary, "summary", Visibility::Internal)
            .await;
        let close = Command::Close {
            mode: CloseMode::Resolved,
            resolution: Some(Resolution {
                primary: primary.into(),
                secondary: "Done".into(),
            }),
            notify_customer: true,
        };
        self.run(&ana(), n, close).await
    }

    pub(crate) async fn reopen(&self, n: CaseNumber) -> Case {
        let reopen = Command::Reopen {
            reason: "it came back".into(),
            notify_customer: true,
        };
        self.run(&lee(), n, reopen).await
    }
}

impl<S: CaseQueries + ?Sized> Desk<S> {
    /// The numbers of every case the filter selects (one page of up to 500).
    pub(crate) async fn all(&self, filter: CaseFilter) -> Vec<u64> {
        let page = PageRequest {
            limit: 500,
            after: None,
            ..PageRequest::default()
        };
        let page = self.store.list_cases(filter, page).await.unwrap();
        page.items.iter().map(|c| c.number.get()).collect()
    }
}

/// A follow-up email, which any agent may send.
pub(crate) fn follow_up() -> Command {
    Command::SendEmail {
        template: TemplateName::FollowUp,
        fields: EmailFields {
            discussed: Some("the spooler".into()),
            ..Default::default()
        },
    }
}

/// A commit of one post, decided against `case`, with the given expected version.
pub(crate) fn post_commit(case: &Case, expected_version: u64, body: &str) -> Commit {
    let events = stamp(
        case,
        "ana",
        case.updated_at,
        vec![EventKind::PostAdded {
            kind: PostKind::Note,
            body: body.into(),
            visibility: Visibility::Internal,
            from_customer: false,
        }],
    );
    let state = casework_core::event::apply_all(case.clone(), &events).unwrap();
    Commit {
        number: case.number,
        expected_version,
        events,
        state,
        outbox: Vec::new(),
        attachments: Vec::new(),
    }
}

/// A case with one queued follow-up, and a commit to it that is right in every way but one:
/// its second outbox message reuses the id of the first. A store must refuse it whole
/// (`Duplicate`), so nothing of it shows anywhere: not in the case or its history
/// ([`case_log`]), not in search ([`case_queries`]), not in the outbox ([`outbox`]).
pub(crate) async fn a_failing_commit<S: CaseLog + ?Sized>(
    b: &Desk<S>,
) -> (Case, OutboxMessage, Commit) {
    let n = b.open("t", "d", "a@customer.example").await.number;
    let first = b.plan(&ana(), n, follow_up()).await;
    let existing = first.outbox[0].clone();
    let c = b.store.commit(first).await.unwrap();
    let mut commit = post_commit(&c, c.version, "must not appear");
    let mut fresh = existing.clone();
    fresh.id = "fresh-id".into();
    fresh.message_id =
        casework_core::workflow::message_id(&fresh.id, c.number, fresh.from.domain());
    // each message announced by an email_queued event, as the workflow makes them
    let announce = |m: &OutboxMessage| EventKind::EmailQueued {
        message: m.id.clone(),
        message_id: Some(m.message_id.clone()),
        template: m.template,
        to: m.to.clone(),
        subject: m.subject.clone(),
        body: m.body.clone(),
        counted: false,
    };
    let mut kinds: Vec<EventKind> = commit.events.iter().map(|e| e.kind.clone()).collect();
    kinds.push(announce(&fresh));
    kinds.push(announce(&existing));
    commit.events = stamp(&c, "ana", c.updated_at, kinds);
    commit.state = casework_core::event::apply_all(c.clone(), &commit.events).unwrap();
    commit.outbox = vec![fresh, existing.clone()];
    (c, existing, commit)
}
