//! The behaviours, one async function each. Each takes a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use casework_core::documents::EmailFields;
use casework_core::event::{EventKind, replay};
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    Actor, Case, CloseMode, ContactChannel, ContactOutcome, Customer, Defect, NewArticle, Origin,
    OutboxStatus, Person, PostKind, Priority, RefKind, Resolution, Role, StatusCategory,
    TemplateName, Visibility,
};
use casework_core::ports::{
    CaseFilter, CaseStore, Commit, DeliveryOutcome, PageRequest, ReportCasesQuery, ReportGroup,
    ReportQuery, Scope, SearchQuery, StoreError,
};
use casework_core::service::CaseService;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::workflow::{CaseEdit, Command, NewCase, stamp};
use casework_core::{Templates, WorkflowConfig, report};
use jiff::SignedDuration;

/// A store with a service on top, a controllable clock, and three staff members.
struct Bench {
    store: Arc<dyn CaseStore>,
    svc: CaseService,
    clock: Arc<FixedClock>,
}

fn staff(name: &str, role: Role) -> Person {
    Person {
        name: name.into(),
        role,
        email: Some(format!("{name}@example.com").parse().unwrap()),
        phone: None,
        signature: None,
    }
}

fn actor(name: &str, role: Role) -> Actor {
    Actor::from_person(&staff(name, role))
}

fn ana() -> Actor {
    actor("ana", Role::Agent)
}

fn lee() -> Actor {
    actor("lee", Role::Lead)
}

fn email(s: &str) -> EmailAddress {
    s.parse().unwrap()
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
    for (n, r) in [
        ("ana", Role::Agent),
        ("bob", Role::Agent),
        ("lee", Role::Lead),
    ] {
        store.put_person(staff(n, r)).await.unwrap();
    }
    Bench { store, svc, clock }
}

fn new_case(title: &str, description: &str, customer: &str) -> NewCase {
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

impl Bench {
    async fn open(&self, title: &str, description: &str, customer: &str) -> Case {
        self.svc
            .open_case(&ana(), new_case(title, description, customer))
            .await
            .unwrap()
    }

    async fn run(&self, who: &Actor, n: CaseNumber, cmd: Command) -> Case {
        self.svc.execute(who, n, None, cmd).await.unwrap().case
    }

    async fn post(
        &self,
        n: CaseNumber,
        kind: PostKind,
        body: &str,
        visibility: Visibility,
    ) -> Case {
        self.run(
            &ana(),
            n,
            Command::AddPost {
                kind,
                body: body.into(),
                visibility,
            },
        )
        .await
    }

    fn advance_days(&self, days: i64) {
        self.clock.advance(SignedDuration::from_hours(24 * days));
    }

    /// Everything the checklist needs, then a resolved close.
    async fn close_resolved(&self, n: CaseNumber, area: &str, primary: &str) -> Case {
        self.run(
            &ana(),
            n,
            Command::Edit(CaseEdit {
                product: Some("Server".into()),
                product_version: Some("11.3".into()),
                product_area: Some(area.into()),
                functionality: Some("F".into()),
                issue: Some("I".into()),
                ..Default::default()
            }),
        )
        .await;
        self.run(&ana(), n, Command::ConfirmTitle).await;
        self.post(n, PostKind::Summary, "summary", Visibility::Internal)
            .await;
        self.run(
            &ana(),
            n,
            Command::Close {
                mode: CloseMode::Resolved,
                resolution: Some(Resolution {
                    primary: primary.into(),
                    secondary: "Done".into(),
                }),
                notify_customer: true,
            },
        )
        .await
    }

    async fn reopen(&self, n: CaseNumber) -> Case {
        self.run(
            &lee(),
            n,
            Command::Reopen {
                reason: "it came back".into(),
                notify_customer: true,
            },
        )
        .await
    }

    async fn all(&self, filter: CaseFilter) -> Vec<u64> {
        let page = self
            .store
            .list_cases(
                filter,
                PageRequest {
                    limit: 500,
                    after: None,
                },
            )
            .await
            .unwrap();
        page.items.iter().map(|c| c.number.get()).collect()
    }
}

/// A follow-up email, which any agent may send.
fn follow_up() -> Command {
    Command::SendEmail {
        template: TemplateName::FollowUp,
        fields: EmailFields {
            discussed: Some("the spooler".into()),
            ..Default::default()
        },
    }
}

/// A commit of one post, decided against `case`, with the given expected version.
fn post_commit(case: &Case, expected_version: u64, body: &str) -> Commit {
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
    }
}

// ---------------------------------------------------------------------------------------
// numbers and records

pub async fn numbers_are_unique_and_increasing<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let mut last = 0;
    for i in 0..5 {
        let c = b
            .open(&format!("case {i}"), "d", "a@customer.example")
            .await;
        assert!(c.number.get() > last, "numbers must increase");
        last = c.number.get();
    }
}

pub async fn concurrent_creates_get_unique_numbers<S: CaseStore + 'static>(store: Arc<S>) {
    let b = Arc::new(bench(store).await);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            b.open(&format!("concurrent {i}"), "d", "a@customer.example")
                .await
                .number
                .get()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    let unique: BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(unique.len(), 64, "every create gets its own number");
    let listed = b.all(CaseFilter::default()).await;
    assert_eq!(
        listed,
        unique.into_iter().collect::<Vec<_>>(),
        "listed in number order"
    );
}

pub async fn create_refuses_anything_but_an_opened_event<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let err = b
        .store
        .create_case(b.clock_now(), "ana".into(), EventKind::TitleConfirmed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(b.store.stats().await.unwrap().cases, 0);
}

impl Bench {
    fn clock_now(&self) -> jiff::Timestamp {
        self.svc.now()
    }
}

pub async fn unknown_records_are_not_found<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let n = CaseNumber::new(424_242).unwrap();
    assert!(matches!(
        b.store.load_case(n).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.history(n).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.get_person("nobody".into()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.get_article(99).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.get_defect("BUG-0".into()).await,
        Err(StoreError::NotFound(_))
    ));
    let c = b.open("t", "d", "a@customer.example").await;
    let mut commit = post_commit(&c, 1, "x");
    commit.number = n;
    assert!(matches!(
        b.store.commit(commit).await,
        Err(StoreError::NotFound(_))
    ));
    let similar = b.store.similar(n, Scope::Staff, 5).await;
    assert!(
        matches!(similar, Err(StoreError::NotFound(_))),
        "{similar:?}"
    );
}

pub async fn a_created_case_round_trips<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let c = b
        .open(
            "Zoë's «map» fails",
            "Ünïcode description\nwith lines",
            "zoe@customer.example",
        )
        .await;
    assert_eq!(c.version, 1);
    assert_eq!(b.store.load_case(c.number).await.unwrap(), c);
    let history = b.store.history(c.number).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].seq, 1);
    assert_eq!(replay(&history).unwrap(), c);
}

pub async fn commits_append_events_and_replay_to_the_state<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let c = b
        .open("Printer offline", "since the update", "a@customer.example")
        .await;
    let n = c.number;
    b.run(&ana(), n, Command::Take).await;
    b.run(
        &ana(),
        n,
        Command::LogCall {
            direction: casework_core::model::CallDirection::Inbound,
            duration_minutes: 25,
            screenshare: true,
            channel: Some("SPEC".into()),
            notes: "walked through the spooler".into(),
        },
    )
    .await;
    b.run(
        &ana(),
        n,
        Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields::default(),
        },
    )
    .await;
    b.close_resolved(n, "Printing", "Configuration").await;
    let after = b.reopen(n).await;
    let stored = b.store.load_case(n).await.unwrap();
    assert_eq!(stored, after);
    let history = b.store.history(n).await.unwrap();
    assert_eq!(history.len() as u64, stored.version);
    assert_eq!(
        replay(&history).unwrap(),
        stored,
        "replay equals the stored state"
    );
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=stored.version).collect::<Vec<_>>());
}

pub async fn a_stale_version_is_a_conflict_and_changes_nothing<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let c = b.open("t", "d", "a@customer.example").await;
    let v2 = b
        .post(c.number, PostKind::Note, "first", Visibility::Internal)
        .await;
    let stale = post_commit(&c, 1, "stale write");
    let err = b.store.commit(stale).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            expected_version: 1,
            current_version: 2,
        }
    );
    assert_eq!(b.store.load_case(c.number).await.unwrap(), v2);
    assert_eq!(b.store.history(c.number).await.unwrap().len(), 2);
}

pub async fn concurrent_commits_on_one_version_let_exactly_one_win<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = Arc::new(bench(store).await);
    let c = b.open("t", "d", "a@customer.example").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (b, c) = (b.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            b.store
                .commit(post_commit(&c, 1, &format!("writer {i}")))
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict {
                current_version, ..
            }) => assert_eq!(current_version, 2),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(b.store.load_case(c.number).await.unwrap().version, 2);
    assert_eq!(b.store.history(c.number).await.unwrap().len(), 2);
}

pub async fn many_writers_lose_no_update<S: CaseStore + 'static>(store: Arc<S>) {
    let b = Arc::new(bench(store).await);
    let c = b.open("t", "d", "a@customer.example").await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for round in 0..10 {
                // read, then write against what was read: a conflict is a lost race, not a loss
                let current = b.store.load_case(c.number).await.unwrap();
                let commit = post_commit(&current, current.version, &format!("w{w} r{round}"));
                match b.store.commit(commit).await {
                    Ok(_) => ok += 1,
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("unexpected error {e:?}"),
                }
            }
            ok
        }));
    }
    let mut successes = 0;
    for t in tasks {
        successes += t.await.unwrap();
    }
    let history = b.store.history(c.number).await.unwrap();
    assert!(successes > 0);
    assert_eq!(
        history.len() as u64,
        1 + successes,
        "one event per successful write"
    );
    assert_eq!(
        replay(&history).unwrap(),
        b.store.load_case(c.number).await.unwrap()
    );
}

pub async fn a_commit_is_all_or_nothing<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let c = b.open("t", "d", "a@customer.example").await;
    let c = b.run(&ana(), c.number, follow_up()).await;
    let existing = b.store.outbox_list(None, 10).await.unwrap();
    assert_eq!(existing.len(), 1);
    // A commit whose state and events are fine but whose second outbox message reuses a
    // taken id: it fails midway, and none of it may be visible.
    // Each message is announced by an email_queued event, as the workflow makes them.
    let mut commit = post_commit(&c, c.version, "must not appear");
    let mut fresh = existing[0].clone();
    fresh.id = "fresh-id".into();
    fresh.message_id =
        casework_core::workflow::message_id(&fresh.id, c.number, fresh.from.domain());
    let announce = |m: &casework_core::model::OutboxMessage| EventKind::EmailQueued {
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
    kinds.push(announce(&existing[0]));
    commit.events = stamp(&c, "ana", c.updated_at, kinds);
    commit.state = casework_core::event::apply_all(c.clone(), &commit.events).unwrap();
    commit.outbox = vec![fresh, existing[0].clone()];
    let err = b.store.commit(commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert_eq!(b.store.load_case(c.number).await.unwrap(), c);
    assert_eq!(
        b.store.history(c.number).await.unwrap().len() as u64,
        c.version
    );
    let after = b.store.outbox_list(None, 10).await.unwrap();
    assert_eq!(after, existing, "no outbox message from the failed commit");
    let hits = b
        .store
        .search(SearchQuery {
            text: "must not appear".into(),
            kind: None,
            scope: Scope::Staff,
            limit: 5,
        })
        .await
        .unwrap();
    assert!(hits.is_empty(), "nothing of a failed commit is indexed");
}

pub async fn misnumbered_events_are_refused<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let c = b.open("t", "d", "a@customer.example").await;
    let mut commit = post_commit(&c, 1, "x");
    commit.events[0].seq = 5;
    let err = b.store.commit(commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(b.store.load_case(c.number).await.unwrap(), c);
}

// ---------------------------------------------------------------------------------------
// lists

pub async fn filters_select_the_right_cases<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let a = b
        .open("Printer offline", "spooler stops", "a@customer.example")
        .await
        .number;
    let c2 = b
        .open("Login fails", "password reset loop", "b@customer.example")
        .await
        .number;
    let c3 = b
        .open(
            "Map export slow",
            "export takes an hour",
            "a@customer.example",
        )
        .await
        .number;
    b.run(&ana(), a, Command::Take).await;
    b.run(
        &ana(),
        c2,
        Command::Transition {
            status: "Pending Customer".into(),
            note: None,
        },
    )
    .await;
    b.close_resolved(c3, "Exporting", "Performance").await;
    b.reopen(c3).await;
    let n = |x: CaseNumber| x.get();

    let f = |f: CaseFilter| f;
    assert_eq!(b.all(CaseFilter::default()).await, [n(a), n(c2), n(c3)]);
    assert_eq!(
        b.all(f(CaseFilter {
            owner: Some("ana".into()),
            ..Default::default()
        }))
        .await,
        [n(a)]
    );
    assert_eq!(
        b.all(CaseFilter {
            status: Some("pending customer".parse().unwrap()),
            ..Default::default()
        })
        .await,
        [n(c2)],
        "status names match without case"
    );
    assert_eq!(
        b.all(CaseFilter {
            status_category: Some(StatusCategory::Pending),
            ..Default::default()
        })
        .await,
        [n(c2)]
    );
    assert_eq!(
        b.all(CaseFilter {
            status_category: Some(StatusCategory::Open),
            ..Default::default()
        })
        .await,
        [n(a), n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            reopened: Some(true),
            ..Default::default()
        })
        .await,
        [n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            reopened: Some(false),
            ..Default::default()
        })
        .await,
        [n(a), n(c2)]
    );
    assert_eq!(
        b.all(CaseFilter {
            product_area: Some("Exporting".into()),
            ..Default::default()
        })
        .await,
        [n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            customer: Some(email("a@customer.example")),
            ..Default::default()
        })
        .await,
        [n(a), n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            q: Some("spooler".into()),
            ..Default::default()
        })
        .await,
        [n(a)]
    );
    assert_eq!(
        b.all(CaseFilter {
            q: Some("EXPORT hour".into()),
            ..Default::default()
        })
        .await,
        [n(c3)],
        "every term must match, case-insensitively"
    );
    assert!(
        b.all(CaseFilter {
            q: Some("export spooler".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        b.all(CaseFilter {
            customer: Some(email("a@customer.example")),
            status_category: Some(StatusCategory::Open),
            owner: Some("ana".into()),
            ..Default::default()
        })
        .await,
        [n(a)],
        "filters combine"
    );
}

pub async fn pagination_walks_every_case_once<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let mut made = Vec::new();
    for i in 0..10 {
        made.push(
            b.open(&format!("c{i}"), "d", "a@customer.example")
                .await
                .number
                .get(),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let req = PageRequest::from_params(Some(3), cursor.as_deref()).unwrap();
        let page = b
            .store
            .list_cases(CaseFilter::default(), req)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|c| c.number.get()));
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, made);
    assert_eq!(pages, 4);
    // an exact multiple of the page size ends without an empty extra page
    let req = PageRequest {
        limit: 10,
        after: None,
    };
    let page = b
        .store
        .list_cases(CaseFilter::default(), req)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.next_cursor, None);
}

pub async fn pagination_is_stable_under_concurrent_inserts<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let mut made = Vec::new();
    for i in 0..6 {
        made.push(
            b.open(&format!("c{i}"), "d", "a@customer.example")
                .await
                .number
                .get(),
        );
    }
    let first = b
        .store
        .list_cases(
            CaseFilter::default(),
            PageRequest {
                limit: 4,
                after: None,
            },
        )
        .await
        .unwrap();
    // new cases arrive between pages
    for i in 0..3 {
        made.push(
            b.open(&format!("late{i}"), "d", "a@customer.example")
                .await
                .number
                .get(),
        );
    }
    let mut seen: Vec<u64> = first.items.iter().map(|c| c.number.get()).collect();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let req = PageRequest::from_params(Some(4), Some(&c)).unwrap();
        let page = b
            .store
            .list_cases(CaseFilter::default(), req)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.number.get()));
        cursor = page.next_cursor;
    }
    assert_eq!(seen, made, "no case skipped or repeated");
}

// ---------------------------------------------------------------------------------------
// search

async fn corpus(b: &Bench) -> [CaseNumber; 4] {
    let printer = b
        .open(
            "Printer offline after update",
            "The office printer shows offline since the driver update",
            "a@customer.example",
        )
        .await
        .number;
    let spooler = b
        .open(
            "Print spooler crashes",
            "Spooler service crashes when printing large PDF files",
            "a@customer.example",
        )
        .await
        .number;
    let login = b
        .open(
            "Login loop on portal",
            "Users are sent back to the login page after entering the password",
            "b@customer.example",
        )
        .await
        .number;
    let export = b
        .open(
            "Slow map export",
            "Exporting a map to PDF takes over an hour on large layouts",
            "b@customer.example",
        )
        .await
        .number;
    b.store
        .add_article(NewArticle {
            title: "Fix a printer that shows offline".into(),
            body: "Reinstall the printer driver and restart the spooler; an offline printer after an update usually needs the new driver.".into(),
            url: Some("https://example.com/kb/1".into()),
        }, b.clock_now())
        .await
        .unwrap();
    b.store
        .add_defect(Defect {
            key: "BUG-000101".into(),
            title: "Spooler crash on large PDF".into(),
            body: "The spooler crashes when a PDF larger than 100 MB is printed.".into(),
            state: "open".into(),
            created_at: b.clock_now(),
        })
        .await
        .unwrap();
    [printer, spooler, login, export]
}

pub async fn search_ranks_a_fixed_corpus<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let [printer, spooler, ..] = corpus(&b).await;
    let q = |text: &str| SearchQuery {
        text: text.into(),
        kind: None,
        scope: Scope::Staff,
        limit: 10,
    };
    let hits = b.store.search(q("printer offline")).await.unwrap();
    let refs: Vec<(RefKind, &str)> = hits
        .iter()
        .map(|h| (h.kind, h.reference.as_str()))
        .collect();
    assert_eq!(refs.len(), 2, "only documents holding every term: {refs:?}");
    assert!(refs.contains(&(RefKind::Case, printer.display().as_str())));
    assert!(refs.contains(&(RefKind::Article, "1")));
    assert!(
        hits.iter().all(|h| h.score > 0.0),
        "scores are positive, higher is better"
    );
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "ranked best first"
    );

    let hits = b.store.search(q("spooler crashes")).await.unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (hits[0].kind, hits[0].reference.as_str()),
        (RefKind::Case, spooler.display().as_str()),
        "the case with both words in its title and text ranks above the defect"
    );
    assert_eq!(hits[1].kind, RefKind::Defect);
    assert_eq!(hits[1].title, "Spooler crash on large PDF");

    assert!(
        b.store
            .search(q("nonexistentword"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.store.search(q("the and of")).await.unwrap().is_empty(),
        "stop words alone match nothing"
    );
    let hits = b.store.search(q("PDF")).await.unwrap();
    assert_eq!(hits.len(), 3, "case-insensitive: {hits:?}");
}

pub async fn search_honours_kind_and_limit<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    corpus(&b).await;
    let q = |kind, limit| SearchQuery {
        text: "pdf".into(),
        kind,
        scope: Scope::Staff,
        limit,
    };
    let hits = b.store.search(q(Some(RefKind::Defect), 10)).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].reference, "BUG-000101");
    let hits = b.store.search(q(Some(RefKind::Case), 10)).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.kind == RefKind::Case));
    assert_eq!(b.store.search(q(None, 1)).await.unwrap().len(), 1);
}

pub async fn internal_text_is_never_matched_for_a_customer<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let [printer, ..] = corpus(&b).await;
    b.post(
        printer,
        PostKind::Note,
        "zebracorn internal suspicion",
        Visibility::Internal,
    )
    .await;
    b.run(
        &ana(),
        printer,
        Command::Swarm {
            group: "printing".into(),
            question: "zebracorn seen before?".into(),
        },
    )
    .await;
    b.post(
        printer,
        PostKind::Note,
        "visible giraffe update",
        Visibility::Customer,
    )
    .await;
    let q = |text: &str, scope: Scope| SearchQuery {
        text: text.into(),
        kind: None,
        scope,
        limit: 10,
    };
    let a = Scope::Customer(email("a@customer.example"));
    let other = Scope::Customer(email("b@customer.example"));
    assert_eq!(
        b.store
            .search(q("zebracorn", Scope::Staff))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        b.store
            .search(q("zebracorn", a.clone()))
            .await
            .unwrap()
            .is_empty(),
        "internal text is not matched for the customer"
    );
    assert_eq!(
        b.store.search(q("giraffe", a.clone())).await.unwrap().len(),
        1,
        "customer-visible text is"
    );
    assert!(
        b.store
            .search(q("giraffe", other.clone()))
            .await
            .unwrap()
            .is_empty(),
        "another customer's case does not exist"
    );
    assert!(
        b.store
            .search(q("spooler", other.clone()))
            .await
            .unwrap()
            .iter()
            .all(|h| h.kind != RefKind::Case)
    );
    let defect_hits = b.store.search(q("spooler crash", a.clone())).await.unwrap();
    assert!(
        defect_hits.iter().all(|h| h.kind != RefKind::Defect),
        "defects are internal"
    );
    let similar = b.store.similar(printer, a, 10).await.unwrap();
    assert!(similar.iter().all(|h| h.kind != RefKind::Defect));
    let similar_other = b.store.similar(printer, other, 10).await.unwrap();
    assert!(
        similar_other
            .iter()
            .all(|h| h.kind != RefKind::Case || h.reference != printer.display())
    );
}

pub async fn a_customer_list_query_matches_only_visible_text<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let c = b
        .open("Printer offline", "d", "a@customer.example")
        .await
        .number;
    b.post(c, PostKind::Note, "okapi internal", Visibility::Internal)
        .await;
    let mine = |q: &str| CaseFilter {
        customer: Some(email("a@customer.example")),
        q: Some(q.into()),
        ..Default::default()
    };
    assert!(b.all(mine("okapi")).await.is_empty());
    assert_eq!(
        b.all(CaseFilter {
            q: Some("okapi".into()),
            ..Default::default()
        })
        .await,
        [c.get()]
    );
    assert_eq!(b.all(mine("printer")).await, [c.get()]);
}

pub async fn search_reads_a_whole_case_and_follows_its_edits<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let c = b
        .open("Printer offline", "Office printer", "a@customer.example")
        .await
        .number;
    b.post(
        c,
        PostKind::Note,
        "the tray jammed again",
        Visibility::Customer,
    )
    .await;
    b.post(c, PostKind::Note, "toner suspicion", Visibility::Internal)
        .await;
    let find = |text: &str, scope: Scope| {
        let q = SearchQuery {
            text: text.into(),
            kind: None,
            scope,
            limit: 10,
        };
        let store = b.store.clone();
        async move {
            store
                .search(q)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.reference, h.title))
                .collect::<Vec<_>>()
        }
    };
    let a = || Scope::Customer(email("a@customer.example"));
    let this = vec![(c.display(), "Printer offline".to_string())];
    // every term must be in the case, not in one post of it
    assert_eq!(find("printer jammed", Scope::Staff).await, this);
    assert_eq!(find("offline toner jammed", Scope::Staff).await, this);
    assert_eq!(find("printer jammed", a()).await, this);
    assert!(
        find("printer toner", a()).await.is_empty(),
        "a term only in internal text does not complete a customer's query"
    );
    let list = |q: &str, customer: Option<&str>| CaseFilter {
        q: Some(q.into()),
        customer: customer.map(email),
        ..Default::default()
    };
    assert_eq!(b.all(list("printer jammed", None)).await, [c.get()]);
    assert_eq!(
        b.all(list("printer jammed", Some("a@customer.example")))
            .await,
        [c.get()]
    );
    assert!(
        b.all(list("printer toner", Some("a@customer.example")))
            .await
            .is_empty()
    );
    // an edit of the title or description replaces what they matched
    for (title, description) in [
        ("Scanner offline", "Lobby scanner"),
        ("Scanner stuck", "Lobby"),
    ] {
        b.run(
            &ana(),
            c,
            Command::Edit(CaseEdit {
                title: Some(title.into()),
                description: Some(description.into()),
                ..Default::default()
            }),
        )
        .await;
    }
    assert!(find("printer", Scope::Staff).await.is_empty());
    assert!(find("offline", Scope::Staff).await.is_empty());
    let renamed = vec![(c.display(), "Scanner stuck".to_string())];
    assert_eq!(find("scanner jammed toner", Scope::Staff).await, renamed);
    assert_eq!(find("stuck lobby jammed", a()).await, renamed);
    assert!(find("scanner toner", a()).await.is_empty());
}

pub async fn similar_cases_exclude_the_case_and_respect_scope<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let [printer, spooler, login, _export] = corpus(&b).await;
    let hits = b.store.similar(printer, Scope::Staff, 10).await.unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|h| !(h.kind == RefKind::Case && h.reference == printer.display())),
        "the case itself is excluded"
    );
    assert_eq!(
        (hits[0].kind, hits[0].reference.as_str()),
        (RefKind::Article, "1"),
        "the printer-offline article is the best match: {hits:?}"
    );
    assert!(
        !hits.iter().any(|h| h.reference == login.display()),
        "unrelated cases do not match"
    );
    // a case that repeats its own terms (emails, notes) does not make them look common
    for _ in 0..6 {
        b.post(
            printer,
            PostKind::Note,
            "printer offline after the driver update, office printer still offline",
            Visibility::Customer,
        )
        .await;
    }
    let hits = b.store.similar(printer, Scope::Staff, 10).await.unwrap();
    assert_eq!(
        hits.first().map(|h| (h.kind, h.reference.as_str())),
        Some((RefKind::Article, "1")),
        "{hits:?}"
    );
    // the case summary feeds the query too
    let vague = b
        .open("Question", "Customer question", "a@customer.example")
        .await
        .number;
    let before = b.store.similar(vague, Scope::Staff, 10).await.unwrap();
    assert!(
        !before.iter().any(|h| h.reference == spooler.display()),
        "{before:?}"
    );
    b.post(
        vague,
        PostKind::Summary,
        "Root cause was the spooler crashing on PDF files",
        Visibility::Internal,
    )
    .await;
    let hits = b.store.similar(vague, Scope::Staff, 10).await.unwrap();
    assert!(
        hits.iter().any(|h| h.reference == spooler.display()),
        "{hits:?}"
    );
    assert_eq!(
        b.store
            .similar(printer, Scope::Staff, 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit holds"
    );
}

// ---------------------------------------------------------------------------------------
// reports

/// Six cases with closes and reopens at known times; returns their numbers.
async fn report_data(b: &Bench) -> Vec<CaseNumber> {
    let mut ns = Vec::new();
    for i in 0..6 {
        ns.push(
            b.open(&format!("report {i}"), "d", "a@customer.example")
                .await
                .number,
        );
    }
    // day 0: close 0 (Printing/Configuration), 1 (Printing/Training), 2 (Exporting/Configuration)
    b.close_resolved(ns[0], "Printing", "Configuration").await;
    b.close_resolved(ns[1], "Printing", "Training").await;
    b.close_resolved(ns[2], "Exporting", "Configuration").await;
    // case 3 is closed temporarily (by its owner): never counted
    b.run(&ana(), ns[3], Command::Take).await;
    b.run(
        &ana(),
        ns[3],
        Command::Close {
            mode: CloseMode::Temporary,
            resolution: None,
            notify_customer: true,
        },
    )
    .await;
    b.advance_days(2);
    b.reopen(ns[0]).await; // 2 days
    b.reopen(ns[3]).await; // a temporary close: not counted
    b.advance_days(4);
    b.reopen(ns[2]).await; // 6 days
    // case 0 closes again on day 6 and reopens on day 7
    b.close_resolved(ns[0], "Printing", "Configuration").await;
    b.advance_days(1);
    b.reopen(ns[0]).await; // 1 day
    // case 4 closes for non-response after five attempts, each 21 hours after the last
    b.run(&ana(), ns[4], Command::Take).await;
    for ch in [
        ContactChannel::Email,
        ContactChannel::Phone,
        ContactChannel::Email,
        ContactChannel::Phone,
        ContactChannel::Email,
    ] {
        b.clock.advance(SignedDuration::from_hours(21));
        b.run(
            &ana(),
            ns[4],
            Command::RecordContact {
                channel: ch,
                outcome: ContactOutcome::NoResponse,
                note: None,
            },
        )
        .await;
    }
    b.run(
        &ana(),
        ns[4],
        Command::Close {
            mode: CloseMode::NonResponse,
            resolution: None,
            notify_customer: true,
        },
    )
    .await;
    ns
}

async fn histories(b: &Bench, ns: &[CaseNumber]) -> Vec<(Case, Vec<casework_core::Event>)> {
    let mut out = Vec::new();
    for n in ns {
        out.push((
            b.store.load_case(*n).await.unwrap(),
            b.store.history(*n).await.unwrap(),
        ));
    }
    out
}

pub async fn the_reopen_report_matches_the_reference_on_a_fixed_data_set<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let ns = report_data(&b).await;
    let q = |group_by| ReportQuery {
        group_by,
        from: None,
        to: None,
    };

    let rows = b
        .store
        .reopen_report(q(ReportGroup::ProductArea))
        .await
        .unwrap();
    type Row<'a> = (&'a str, u64, u64, f64, Option<f64>, u64, u64);
    let got: Vec<Row> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.closed,
                r.reopened,
                r.reopen_rate,
                r.median_days_to_reopen,
                r.temporarily_closed,
                r.reopened_from_temporary,
            )
        })
        .collect();
    // case 3's temporary close (and its reopen) counts apart from the rate
    assert_eq!(
        got,
        [
            ("(none)", 1, 0, 0.0, None, 1, 1),
            ("Exporting", 1, 1, 1.0, Some(6.0), 0, 0),
            ("Printing", 2, 1, 0.5, Some(1.5), 0, 0),
        ]
    );

    let rows = b
        .store
        .reopen_report(q(ReportGroup::PrimaryResolution))
        .await
        .unwrap();
    let got: Vec<(&str, u64, u64)> = rows
        .iter()
        .map(|r| (r.key.as_str(), r.closed, r.reopened))
        .collect();
    assert_eq!(
        got,
        [
            ("(none)", 1, 0),
            ("Configuration", 2, 2),
            ("Training", 1, 0)
        ]
    );

    let by_owner = || async {
        let rows = b.store.reopen_report(q(ReportGroup::Owner)).await.unwrap();
        rows.iter()
            .map(|r| (r.key.clone(), r.closed, r.reopened, r.temporarily_closed))
            .collect::<Vec<_>>()
    };
    let owners = [
        ("(none)".to_string(), 3, 2, 0),
        ("ana".to_string(), 1, 0, 1),
    ];
    assert_eq!(by_owner().await, owners);
    // reassigning closed cases does not rewrite the report: closures keep their owner
    for n in [ns[1], ns[4]] {
        b.run(
            &lee(),
            n,
            Command::Assign {
                owner: "bob".into(),
            },
        )
        .await;
    }
    assert_eq!(by_owner().await, owners, "grouped by the owner at close");

    // and it agrees with the reference computation over the same histories
    let data = histories(&b, &ns).await;
    for g in [
        ReportGroup::ProductArea,
        ReportGroup::Owner,
        ReportGroup::PrimaryResolution,
    ] {
        let reference = report::compute(data.iter().map(|(_, e)| e.as_slice()), &q(g));
        assert_eq!(b.store.reopen_report(q(g)).await.unwrap(), reference);
    }
}

pub async fn the_reopen_report_drills_down_to_cases_and_reasons<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    let b = bench(store).await;
    let ns = report_data(&b).await;
    let start = casework_core::testing::START;
    let day = |d: i64| start + SignedDuration::from_hours(24 * d);
    let q = |group_by, key: &str, from, limit, after| ReportCasesQuery {
        report: ReportQuery {
            group_by,
            from,
            to: None,
        },
        key: key.into(),
        page: PageRequest { limit, after },
    };
    let page = b
        .store
        .reopen_report_cases(q(ReportGroup::ProductArea, "Printing", None, 50, None))
        .await
        .unwrap();
    assert_eq!(page.next_cursor, None);
    let numbers: Vec<CaseNumber> = page.items.iter().map(|c| c.number).collect();
    assert_eq!(numbers, [ns[0], ns[1]]);
    let first = &page.items[0];
    assert_eq!(first.title, "report 0");
    assert_eq!(
        first
            .closures
            .iter()
            .map(|c| (c.at, c.mode))
            .collect::<Vec<_>>(),
        [(day(0), CloseMode::Resolved), (day(6), CloseMode::Resolved)]
    );
    let reopens: Vec<(&str, &str, f64, CloseMode)> = first
        .reopens
        .iter()
        .map(|r| {
            (
                r.reason.as_str(),
                r.by.as_str(),
                r.days_to_reopen,
                r.close_mode,
            )
        })
        .collect();
    assert_eq!(
        reopens,
        [
            ("it came back", "lee", 2.0, CloseMode::Resolved),
            ("it came back", "lee", 1.0, CloseMode::Resolved)
        ]
    );
    assert!(page.items[1].reopens.is_empty());
    // "(none)": the closures without a product area, temporary ones too
    let none = b
        .store
        .reopen_report_cases(q(ReportGroup::ProductArea, "(none)", None, 50, None))
        .await
        .unwrap();
    let got: Vec<(CaseNumber, Vec<CloseMode>, usize)> = none
        .items
        .iter()
        .map(|c| {
            (
                c.number,
                c.closures.iter().map(|x| x.mode).collect(),
                c.reopens.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (ns[3], vec![CloseMode::Temporary], 1),
            (ns[4], vec![CloseMode::NonResponse], 0)
        ]
    );
    // pages
    let one = b
        .store
        .reopen_report_cases(q(ReportGroup::ProductArea, "Printing", None, 1, None))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let cursor = one.next_cursor.clone().expect("a second page");
    let after = casework_core::ports::decode_cursor(&cursor).unwrap();
    let two = b
        .store
        .reopen_report_cases(q(
            ReportGroup::ProductArea,
            "Printing",
            None,
            1,
            Some(after),
        ))
        .await
        .unwrap();
    assert_eq!(
        two.items.iter().map(|c| c.number).collect::<Vec<_>>(),
        [ns[1]]
    );
    assert_eq!(two.next_cursor, None);
    // the period: from day 1, only case 0's second closure and its reopen
    let later = b
        .store
        .reopen_report_cases(q(
            ReportGroup::ProductArea,
            "Printing",
            Some(day(1)),
            50,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(later.items.len(), 1);
    assert_eq!(later.items[0].closures.len(), 1);
    assert_eq!(later.items[0].reopens.len(), 1);
    assert_eq!(later.items[0].reopens[0].days_to_reopen, 1.0);
    // an unknown key has no cases
    let nobody = b
        .store
        .reopen_report_cases(q(ReportGroup::Owner, "nobody", None, 50, None))
        .await
        .unwrap();
    assert!(nobody.items.is_empty());
    // every row of every grouping agrees with the reference computation
    let data = histories(&b, &ns).await;
    for g in [
        ReportGroup::ProductArea,
        ReportGroup::Owner,
        ReportGroup::PrimaryResolution,
    ] {
        for from in [None, Some(day(1))] {
            let rows = b
                .store
                .reopen_report(ReportQuery {
                    group_by: g,
                    from,
                    to: None,
                })
                .await
                .unwrap();
            for row in rows {
                let query = q(g, &row.key, from, 50, None);
                let reference = report::cases(data.iter().map(|(_, e)| e.as_slice()), &query);
                let got = b.store.reopen_report_cases(query).await.unwrap();
                assert_eq!(got, reference, "{g:?} {}", row.key);
                let closed: BTreeSet<CaseNumber> = got
                    .items
                    .iter()
                    .filter(|c| c.closures.iter().any(|x| x.mode != CloseMode::Temporary))
                    .map(|c| c.number)
                    .collect();
                assert_eq!(
                    closed.len() as u64,
                    row.closed,
                    "the row's cases are its cases"
                );
            }
        }
    }
}

pub async fn the_reopen_report_honours_its_period<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let ns = report_data(&b).await;
    let start = casework_core::testing::START;
    let day = |d: i64| start + SignedDuration::from_hours(24 * d);
    // closures from day 1 on: case 0's second close (day 6) and case 4's (day 11)
    let q = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: Some(day(1)),
        to: None,
    };
    let rows = b.store.reopen_report(q).await.unwrap();
    let got: Vec<(&str, u64, u64, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.closed,
                r.reopened,
                r.median_days_to_reopen,
            )
        })
        .collect();
    assert_eq!(got, [("(none)", 1, 0, None), ("Printing", 1, 1, Some(1.0))]);
    // before day 1 only
    let q = ReportQuery {
        group_by: ReportGroup::ProductArea,
        from: None,
        to: Some(day(1)),
    };
    let rows = b.store.reopen_report(q).await.unwrap();
    let got: Vec<(&str, u64, u64, Option<f64>, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.closed,
                r.reopened,
                r.median_days_to_reopen,
                r.temporarily_closed,
            )
        })
        .collect();
    // case 3's temporary close on day 0 makes a row of its own
    assert_eq!(
        got,
        [
            ("(none)", 0, 0, None, 1),
            ("Exporting", 1, 1, Some(6.0), 0),
            ("Printing", 2, 1, Some(2.0), 0)
        ]
    );
    let data = histories(&b, &ns).await;
    let reference = report::compute(data.iter().map(|(_, e)| e.as_slice()), &q);
    assert_eq!(rows, reference);
}

// ---------------------------------------------------------------------------------------
// people, knowledge, outbox

pub async fn people_articles_and_defects_round_trip<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let mut p = staff("zoë", Role::Admin);
    p.signature = Some("Zoë\nSupport".into());
    p.phone = Some("+1 555".into());
    b.store.put_person(p.clone()).await.unwrap();
    assert_eq!(b.store.get_person("zoë".into()).await.unwrap(), p);
    p.role = Role::Lead;
    b.store.put_person(p.clone()).await.unwrap();
    assert_eq!(
        b.store.get_person("zoë".into()).await.unwrap().role,
        Role::Lead,
        "put replaces"
    );
    let names: Vec<String> = b
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["ana", "bob", "lee", "zoë"]);

    let a1 = b
        .store
        .add_article(
            NewArticle {
                title: "A".into(),
                body: "a".into(),
                url: None,
            },
            b.clock_now(),
        )
        .await
        .unwrap();
    let a2 = b
        .store
        .add_article(
            NewArticle {
                title: "B".into(),
                body: "b".into(),
                url: Some("https://x.example/b".into()),
            },
            b.clock_now(),
        )
        .await
        .unwrap();
    assert_ne!(a1.id, a2.id);
    assert_eq!(b.store.get_article(a2.id).await.unwrap(), a2);

    let d = Defect {
        key: "BUG-1".into(),
        title: "t".into(),
        body: "b".into(),
        state: "open".into(),
        created_at: b.clock_now(),
    };
    assert_eq!(b.store.add_defect(d.clone()).await.unwrap(), d);
    assert!(matches!(
        b.store.add_defect(d.clone()).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(b.store.get_defect("BUG-1".into()).await.unwrap(), d);
}

pub async fn emails_are_queued_with_their_commit<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let c = b
        .open("Printer offline", "d", "jordan@customer.example")
        .await
        .number;
    b.run(
        &ana(),
        c,
        Command::SendEmail {
            template: TemplateName::FollowUp,
            fields: EmailFields {
                discussed: Some("We restarted the spooler.".into()),
                ..Default::default()
            },
        },
    )
    .await;
    let queued = b
        .store
        .outbox_list(Some(OutboxStatus::Queued), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let m = &queued[0];
    assert_eq!(m.case, c);
    assert_eq!(m.to.as_str(), "jordan@customer.example");
    assert_eq!(
        m.subject,
        format!("[Case {}] Follow-up: Printer offline", c.display())
    );
    assert!(m.body.contains("We restarted the spooler."));
    let history = b.store.history(c).await.unwrap();
    assert!(
        matches!(&history.last().unwrap().kind, EventKind::EmailQueued { message, .. } if *message == m.id)
    );
    assert!(
        b.store
            .outbox_list(Some(OutboxStatus::Sent), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_cases_outbox_holds_only_its_messages<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let first = b.open("First", "d", "a@customer.example").await.number;
    let second = b.open("Second", "d", "b@customer.example").await.number;
    for case in [first, second] {
        b.run(&ana(), case, Command::Take).await;
    }
    for (case, template) in [
        (first, TemplateName::InitialContact),
        (second, TemplateName::InitialContact),
        (first, TemplateName::FollowUp),
    ] {
        b.run(
            &ana(),
            case,
            Command::SendEmail {
                template,
                fields: EmailFields {
                    discussed: Some("the spooler".into()),
                    ..Default::default()
                },
            },
        )
        .await;
    }
    let all = b.store.outbox_list(None, 10).await.unwrap();
    let of_first = b.store.outbox_for_case(first).await.unwrap();
    assert_eq!(
        of_first,
        vec![all[0].clone(), all[2].clone()],
        "oldest first"
    );
    assert_eq!(
        of_first.iter().map(|m| m.template).collect::<Vec<_>>(),
        vec![TemplateName::InitialContact, TemplateName::FollowUp]
    );
    assert_eq!(
        b.store.outbox_for_case(second).await.unwrap(),
        vec![all[1].clone()]
    );
    let unknown = CaseNumber::new(999_999).unwrap();
    assert!(b.store.outbox_for_case(unknown).await.unwrap().is_empty());
    // delivery state is current, not a copy from queueing time
    let claimed = b
        .store
        .outbox_claim("w".into(), b.clock_now(), SignedDuration::from_mins(5), 10)
        .await
        .unwrap();
    let m = claimed.iter().find(|m| m.case == second).unwrap();
    b.store
        .outbox_finish(
            m.id.clone(),
            "w".into(),
            b.clock_now(),
            DeliveryOutcome::Sent,
        )
        .await
        .unwrap();
    let of_second = b.store.outbox_for_case(second).await.unwrap();
    assert_eq!(of_second[0].status, OutboxStatus::Sent);
}

async fn queue_three(b: &Bench) {
    let c = b.open("t", "d", "a@customer.example").await.number;
    for _ in 0..3 {
        b.run(&ana(), c, follow_up()).await;
    }
}

pub async fn outbox_claims_are_exclusive_and_leases_lapse<S: CaseStore + 'static>(store: Arc<S>) {
    let b = Arc::new(bench(store).await);
    queue_three(&b).await;
    let now = b.clock_now();
    let lease = SignedDuration::from_mins(5);
    let (w1, w2) = {
        let (b1, b2) = (b.clone(), b.clone());
        let t1 = tokio::spawn(async move {
            b1.store
                .outbox_claim("w1".into(), now, lease, 2)
                .await
                .unwrap()
        });
        let t2 = tokio::spawn(async move {
            b2.store
                .outbox_claim("w2".into(), now, lease, 2)
                .await
                .unwrap()
        });
        (t1.await.unwrap(), t2.await.unwrap())
    };
    let ids1: BTreeSet<String> = w1.iter().map(|m| m.id.clone()).collect();
    let ids2: BTreeSet<String> = w2.iter().map(|m| m.id.clone()).collect();
    assert!(ids1.is_disjoint(&ids2), "no message is claimed twice");
    assert_eq!(ids1.len() + ids2.len(), 3);
    assert!(
        b.store
            .outbox_claim("w3".into(), now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "all are held"
    );
    // the lease lapses: another worker may take them over
    let later = now + SignedDuration::from_mins(6);
    let taken = b
        .store
        .outbox_claim("w3".into(), later, lease, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 3);
    // the old holder can no longer finish
    let id = w1.first().or(w2.first()).unwrap().id.clone();
    let old = if ids1.contains(&id) { "w1" } else { "w2" };
    let err = b
        .store
        .outbox_finish(id.clone(), old.into(), later, DeliveryOutcome::Sent)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(matches!(
        b.store
            .outbox_finish("nope".into(), "w3".into(), later, DeliveryOutcome::Sent)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn outbox_outcomes_are_recorded<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    queue_three(&b).await;
    let now = b.clock_now();
    let lease = SignedDuration::from_mins(5);
    let claimed = b
        .store
        .outbox_claim("w".into(), now, lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let (a, r, f) = (&claimed[0].id, &claimed[1].id, &claimed[2].id);
    let sent = b
        .store
        .outbox_finish(a.clone(), "w".into(), now, DeliveryOutcome::Sent)
        .await
        .unwrap();
    assert_eq!(
        (sent.status, sent.attempts, sent.sent_at),
        (OutboxStatus::Sent, 1, Some(now))
    );
    let retry_at = now + SignedDuration::from_mins(10);
    let retried = b
        .store
        .outbox_finish(
            r.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Retry {
                error: "421 try later".into(),
                at: retry_at,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (retried.status, retried.attempts),
        (OutboxStatus::Queued, 1)
    );
    assert_eq!(retried.last_error.as_deref(), Some("421 try later"));
    let failed = b
        .store
        .outbox_finish(
            f.clone(),
            "w".into(),
            now,
            DeliveryOutcome::Failed {
                error: "550 no such user".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, OutboxStatus::Failed);
    // a retried message is not due before its time
    let early = b
        .store
        .outbox_claim("w".into(), now + SignedDuration::from_mins(9), lease, 10)
        .await
        .unwrap();
    assert!(early.is_empty());
    let due = b
        .store
        .outbox_claim("w".into(), retry_at, lease, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(&due[0].id, r);
    assert_eq!(
        b.store
            .outbox_list(Some(OutboxStatus::Sent), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        b.store
            .outbox_list(Some(OutboxStatus::Failed), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let all: Vec<String> = b
        .store
        .outbox_list(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        all,
        claimed.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        "oldest first"
    );
}

pub async fn stats_count_what_is_stored<S: CaseStore + 'static>(store: Arc<S>) {
    let b = bench(store).await;
    let c = b.open("t", "d", "a@customer.example").await.number;
    b.run(&ana(), c, follow_up()).await;
    b.open("u", "d", "a@customer.example").await;
    let s = b.store.stats().await.unwrap();
    assert_eq!(
        (s.cases, s.events, s.queued_messages, s.people),
        (2, 3, 1, 3)
    );
    let status = |s: &casework_core::ports::StoreStats| {
        let mut v: Vec<(String, u64)> = s
            .statuses
            .iter()
            .map(|c| (c.status.to_string(), c.cases))
            .collect();
        v.sort();
        v
    };
    assert_eq!(status(&s), [("New".to_string(), 2)]);
    b.run(
        &ana(),
        c,
        Command::Transition {
            status: "Pending Customer".into(),
            note: None,
        },
    )
    .await;
    let s = b.store.stats().await.unwrap();
    assert_eq!(
        status(&s),
        [("New".to_string(), 1), ("Pending Customer".to_string(), 1)],
        "cases per status, for casework doctor"
    );
}

pub async fn tokens_are_found_by_hash_and_revoked<S: CaseStore + 'static>(store: Arc<S>) {
    use casework_core::model::{ApiToken, token_hash};
    let b = bench(store).await;
    // a networked store's own access token may be there already: only new ones count
    let before: Vec<String> = b
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let token = |id: &str, secret: &str, role, customer: Option<&str>| ApiToken {
        id: id.into(),
        name: format!("{id} holder"),
        role,
        customer_email: customer.map(email),
        hash: token_hash(secret),
        created_at: b.clock_now(),
        revoked_at: None,
    };
    let staff = token("t1", "secret-one", Role::Agent, None);
    let customer = token(
        "t2",
        "secret-two",
        Role::Customer,
        Some("jordan@customer.example"),
    );
    b.store.put_token(staff.clone()).await.unwrap();
    b.store.put_token(customer.clone()).await.unwrap();
    assert_eq!(
        b.store.find_token(token_hash("secret-two")).await.unwrap(),
        customer
    );
    assert!(matches!(
        b.store.find_token(token_hash("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    let same_id = token("t1", "other", Role::Admin, None);
    assert!(matches!(
        b.store.put_token(same_id).await,
        Err(StoreError::Duplicate(_))
    ));
    let same_hash = token("t3", "secret-one", Role::Admin, None);
    assert!(matches!(
        b.store.put_token(same_hash).await,
        Err(StoreError::Duplicate(_))
    ));
    let ids: Vec<String> = b
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(
        ids,
        ["t1", "t2"],
        "oldest first, nothing of the refused puts"
    );
    let first = b.clock_now();
    let revoked = b.store.revoke_token("t1".into(), first).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    b.advance_days(1);
    let again = b
        .store
        .revoke_token("t1".into(), b.clock_now())
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(first),
        "a second revoke keeps the first time"
    );
    assert_eq!(
        b.store
            .find_token(token_hash("secret-one"))
            .await
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert!(matches!(
        b.store.revoke_token("t9".into(), first).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn idempotent_creates_make_one_case<S: CaseStore + 'static>(store: Arc<S>) {
    let b = Arc::new(bench(store).await);
    let opened = casework_core::testing::opened;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (b, kind) = (b.clone(), opened("once"));
        tasks.push(tokio::spawn(async move {
            b.store
                .create_case_once(
                    "ana\u{0}k1".into(),
                    "fp1".into(),
                    b.clock_now(),
                    "ana".into(),
                    kind,
                )
                .await
                .unwrap()
        }));
    }
    let mut numbers = BTreeSet::new();
    let mut fresh = 0;
    for t in tasks {
        let created = t.await.unwrap();
        numbers.insert(created.case.number);
        fresh += usize::from(!created.replayed);
    }
    assert_eq!(
        numbers.len(),
        1,
        "concurrent calls with one key make one case"
    );
    assert_eq!(fresh, 1, "exactly one call created it");
    assert_eq!(b.store.stats().await.unwrap().cases, 1);
    let n = *numbers.iter().next().unwrap();
    // the case changes; a replay still answers with the case as created
    b.post(n, PostKind::Note, "later", Visibility::Internal)
        .await;
    let again = b
        .store
        .create_case_once(
            "ana\u{0}k1".into(),
            "fp1".into(),
            b.clock_now(),
            "ana".into(),
            opened("once"),
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.case.version, 1);
    assert_eq!(
        again.case,
        replay(&b.store.history(n).await.unwrap()[..1]).unwrap()
    );
    // the same key for a different request is refused and creates nothing
    let reused = b
        .store
        .create_case_once(
            "ana\u{0}k1".into(),
            "fp2".into(),
            b.clock_now(),
            "ana".into(),
            opened("other"),
        )
        .await;
    assert!(matches!(reused, Err(StoreError::Invalid(_))), "{reused:?}");
    let other = b
        .store
        .create_case_once(
            "ana\u{0}k2".into(),
            "fp2".into(),
            b.clock_now(),
            "ana".into(),
            opened("other"),
        )
        .await
        .unwrap();
    assert!(!other.replayed);
    assert_ne!(other.case.number, n);
    assert_eq!(b.store.stats().await.unwrap().cases, 2);
}

// ---------------------------------------------------------------------------------------
// random command sequences against a model

/// Sequences of random commands by random people, through the service: after every step
/// the stored case is what replaying its stored history gives; an accepted command changed
/// exactly what the model (`crate::model`, written without `evolve`) says, recorded the
/// events it says and queued its emails; a refused one changed nothing in the store.
pub async fn random_commands_change_what_an_independent_model_says<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    use crate::model::{Expected, Facts, Rng, actor, actors, command, describe, expect, pause};
    let b = bench(store).await;
    let config = WorkflowConfig::default_config();
    // cases 1 and 2, for links
    for title in ["link target one", "link target two"] {
        b.open(title, "d", "other@customer.example").await;
    }
    let (mut accepted, mut refused) = (0, 0);
    for seed in 0..16u64 {
        let mut rng = Rng::new(seed);
        let customer = Actor::customer("Jordan", email("jordan@customer.example"));
        let people = actors(&customer);
        let n = b
            .open(&format!("sequence {seed}"), "d", "jordan@customer.example")
            .await
            .number;
        let mut facts = Facts::of(&b.store.load_case(n).await.unwrap());
        let mut outbox = 0;
        for step in 0..50 {
            b.clock.advance(pause(&mut rng));
            let actor = actor(&mut rng, &people);
            let cmd = command(&mut rng);
            let what = describe(seed, step, n, &actor, &cmd);
            let history_before = b.store.history(n).await.unwrap();
            let result = b.svc.execute(&actor, n, None, cmd.clone()).await;
            let case = b.store.load_case(n).await.unwrap();
            let history = b.store.history(n).await.unwrap();
            assert_eq!(
                replay(&history).unwrap(),
                case,
                "{what}: replay equals state"
            );
            assert_eq!(case.version, history.len() as u64, "{what}");
            assert_eq!(case.check_invariants(), Ok(()), "{what}");
            let queued = b.store.outbox_for_case(n).await.unwrap().len();
            match result {
                Err(e) => {
                    refused += 1;
                    assert!(
                        !matches!(e, casework_core::ServiceError::Store(_)),
                        "{what}: {e}"
                    );
                    assert_eq!(
                        history, history_before,
                        "{what}: refused ({e}), yet written"
                    );
                    assert_eq!(
                        Facts::of(&case),
                        facts,
                        "{what}: refused ({e}), yet changed"
                    );
                    assert_eq!(queued, outbox, "{what}: refused ({e}), yet an email");
                }
                Ok(outcome) => {
                    accepted += 1;
                    let Expected {
                        facts: want,
                        events,
                        emails,
                    } = expect(&config, &facts, &actor, &cmd, b.svc.now());
                    let got: Vec<&str> = outcome.events.iter().map(|e| e.kind.name()).collect();
                    assert_eq!(got, events, "{what}: events");
                    assert_eq!(&history[history_before.len()..], outcome.events, "{what}");
                    assert_eq!(Facts::of(&case), want, "{what}: the case");
                    assert_eq!(queued, outbox + emails, "{what}: emails queued");
                    facts = want;
                    outbox = queued;
                }
            }
        }
    }
    // the sequences really exercise both sides
    assert!(
        accepted > 300 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}
