//! The storage protocol's guarantees, through the REST store and raw requests: only a
//! service token gets in, the server stores the state the core computes (never the one a
//! client claims), refuses what the core would not accept, and the client retries only what
//! is safe to repeat and says clearly when the server is down or the token wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use casework_core::event::{EventKind, Opened};
use casework_core::model::{Actor, CloseMode, PostKind, Role, Visibility};
use casework_core::ports::{CaseLog, CaseStore, Commit, Diagnostics, StoreError};
use casework_core::testing::START;
use casework_core::workflow::stamp;
use casework_store_rest::RestStore;

const SERVICE: &str = "cw_service_protocol_00000000000000000000000";
const AGENT: &str = "cw_agent_protocol_0000000000000000000000000";

async fn served() -> (String, Arc<dyn CaseStore>) {
    let backing: Arc<dyn CaseStore> = Arc::new(casework_store_memory::MemoryStore::new());
    let svc = casework_core::testing::service(backing.clone());
    let root = Actor::system("test");
    svc.create_token(&root, "svc", Role::Service, None, SERVICE)
        .await
        .unwrap();
    svc.create_token(&root, "Ana", Role::Admin, None, AGENT)
        .await
        .unwrap();
    let router = casework_http::router(casework_http::AppState::new(svc));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), backing)
}

fn opened() -> Opened {
    casework_core::testing::opened("Printer offline")
}

fn note(body: &str) -> EventKind {
    EventKind::PostAdded {
        kind: PostKind::Note,
        body: body.into(),
        visibility: Visibility::Internal,
        from_customer: false,
    }
}

#[tokio::test]
async fn only_a_service_token_may_use_the_protocol() {
    let (base, _) = served().await;
    let http = reqwest::Client::new();
    let url = format!("{base}/store/v1/stats");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let as_admin = http.get(&url).bearer_auth(AGENT).send().await.unwrap();
    assert_eq!(as_admin.status(), 403, "an admin is not a service");
    let as_service = http.get(&url).bearer_auth(SERVICE).send().await.unwrap();
    assert_eq!(as_service.status(), 200);
    // and through the client: a clear error, not a parse failure
    let wrong = RestStore::open(&base, AGENT).unwrap();
    let e = wrong.stats().await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Unavailable(m) if m.contains("refused the token") && m.contains("service")),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_server_stores_the_state_the_core_computes_not_the_claimed_one() {
    let (base, backing) = served().await;
    let store = RestStore::open(&base, SERVICE).unwrap();
    let case = store
        .create_case(START, "ana".into(), opened(), Vec::new())
        .await
        .unwrap();
    // a client claims a title change that no event carries
    let events = stamp(&case, "ana", START, vec![note("checked the spooler")]);
    let mut forged = casework_core::event::apply_all(case.clone(), &events).unwrap();
    forged.title = "Forged title".into();
    forged.owner = Some("mallory".into());
    let stored = store
        .commit(Commit {
            number: case.number,
            expected_version: case.version,
            events,
            state: forged,
            outbox: Vec::new(),
            attachments: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(stored.title, "Printer offline");
    assert_eq!(stored.owner, None);
    assert_eq!(stored.version, 2);
    let in_backing = backing.load_case(case.number).await.unwrap();
    assert_eq!(
        in_backing, stored,
        "the backing store holds the computed state"
    );
}

#[tokio::test]
async fn commits_the_core_would_not_accept_are_422_and_change_nothing() {
    let (base, backing) = served().await;
    let store = RestStore::open(&base, SERVICE).unwrap();
    let case = store
        .create_case(START, "ana".into(), opened(), Vec::new())
        .await
        .unwrap();
    let commit = |kinds: Vec<EventKind>| {
        let events = stamp(&case, "ana", START, kinds);
        Commit {
            number: case.number,
            expected_version: case.version,
            state: case.clone(),
            events,
            outbox: Vec::new(),
            attachments: Vec::new(),
        }
    };
    // closed as resolved without resolutions: breaks an invariant
    let no_resolution = commit(vec![EventKind::Closed {
        mode: CloseMode::Resolved,
        from: "New".parse().unwrap(),
        to: "Closed".parse().unwrap(),
        resolution: None,
    }]);
    // a second opened event
    let reopened_twice = commit(vec![opened().into()]);
    // misnumbered events
    let mut misnumbered = commit(vec![note("x")]);
    misnumbered.events[0].seq = 7;
    // an outbox message no event announced
    let mut unannounced = commit(vec![note("x")]);
    unannounced.outbox = vec![casework_core::model::OutboxMessage {
        case: case.number,
        ..casework_core::testing::sample_message()
    }];

    for (what, c) in [
        ("no resolution", no_resolution),
        ("opened twice", reopened_twice),
        ("misnumbered", misnumbered),
        ("unannounced email", unannounced),
    ] {
        let e = store.commit(c).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{what}: {e:?}");
    }
    assert_eq!(backing.load_case(case.number).await.unwrap(), case);
    assert_eq!(backing.history(case.number).await.unwrap().len(), 1);
    assert!(backing.outbox_list(None, 10).await.unwrap().is_empty());
    // and a stale version is a conflict with both versions
    let ok = commit(vec![note("first")]);
    store.commit(ok.clone()).await.unwrap();
    let e = store.commit(ok).await.unwrap_err();
    assert_eq!(
        e,
        StoreError::Conflict {
            expected_version: 1,
            current_version: 2
        }
    );
}

/// Issue #11: the server re-checks what the core would decide with the server's workflow
/// file and clock, not only that the events apply.
#[tokio::test]
async fn commits_the_workflow_would_refuse_are_422_and_change_nothing() {
    use casework_core::model::{Resolution, StatusCategory, TemplateName};
    let (base, backing) = served().await;
    let store = RestStore::open(&base, SERVICE).unwrap();
    let case = store
        .create_case(START, "ana".into(), opened(), Vec::new())
        .await
        .unwrap();
    let at = |kinds: Vec<EventKind>, when: jiff::Timestamp| {
        let events = stamp(&case, "ana", when, kinds);
        Commit {
            number: case.number,
            expected_version: case.version,
            state: case.clone(),
            events,
            outbox: Vec::new(),
            attachments: Vec::new(),
        }
    };
    let commit = |kinds: Vec<EventKind>| at(kinds, START);
    let status = |to: &str, category: StatusCategory| EventKind::StatusChanged {
        from: "New".parse().unwrap(),
        to: to.parse().unwrap(),
        category,
        note: None,
    };
    // a resolved close with both resolutions, but nothing of the checklist done
    let skipped_checklist = commit(vec![EventKind::Closed {
        mode: CloseMode::Resolved,
        from: "New".parse().unwrap(),
        to: "Closed".parse().unwrap(),
        resolution: Some(Resolution {
            primary: "Fixed".into(),
            secondary: "Patch".into(),
        }),
    }]);
    let unknown_status = commit(vec![status("Nowhere", StatusCategory::Open)]);
    let wrong_category = commit(vec![status("In Progress", StatusCategory::Closed)]);
    let back_dated = at(
        vec![note("written last year")],
        START
            .checked_sub(jiff::SignedDuration::from_hours(24 * 365))
            .unwrap(),
    );
    // an email as the core would queue it, then each header forged
    let email = |edit: &dyn Fn(&mut casework_core::model::OutboxMessage)| {
        let mut m = casework_core::model::OutboxMessage {
            id: "m9".into(),
            case: case.number,
            template: TemplateName::FollowUp,
            to: case.customer.email.clone(),
            to_name: case.customer.name.clone(),
            subject: "[Case 00000001] Follow-up".into(),
            body: "Hello".into(),
            message_id: format!("m9.case-{}@example.com", case.number.display()),
            ..casework_core::testing::sample_message()
        };
        edit(&mut m);
        let mut c = commit(vec![EventKind::EmailQueued {
            message: m.id.clone(),
            message_id: Some(m.message_id.clone()),
            template: m.template,
            to: m.to.clone(),
            subject: m.subject.clone(),
            body: m.body.clone(),
            counted: false,
        }]);
        c.outbox = vec![m];
        c
    };
    let forged_from = email(&|m| m.from = "ceo@elsewhere.example".parse().unwrap());
    let forged_id = email(&|m| m.message_id = "m9@elsewhere.example".into());
    let other_recipient = email(&|m| m.to = "someone@else.example".parse().unwrap());

    for (what, c) in [
        ("checklist skipped", skipped_checklist),
        ("unknown status", unknown_status),
        ("wrong category", wrong_category),
        ("back-dated", back_dated),
        ("forged From", forged_from),
        ("forged Message-ID", forged_id),
        ("not the customer", other_recipient),
    ] {
        let e = store.commit(c).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{what}: {e:?}");
    }
    assert_eq!(backing.load_case(case.number).await.unwrap(), case);
    assert_eq!(backing.history(case.number).await.unwrap().len(), 1);
    assert!(backing.outbox_list(None, 10).await.unwrap().is_empty());
    // what the core itself queues passes: an email as the core builds it, a known status
    let fine = email(&|_| {});
    store.commit(fine).await.unwrap();
    assert_eq!(backing.outbox_list(None, 10).await.unwrap().len(), 1);
    // a staff notice tells of the commit's events: to staff, announced by no event; but
    // still from the support address, with Casework's Message-ID, about this case
    let now = backing.load_case(case.number).await.unwrap();
    let notice = |edit: &dyn Fn(&mut casework_core::model::OutboxMessage)| {
        let mut m = casework_core::model::OutboxMessage {
            id: format!("n{}", now.version),
            case: case.number,
            template: TemplateName::NoticeAssigned,
            to: "lee@example.com".parse().unwrap(),
            to_name: "Lee".into(),
            message_id: format!(
                "n{}.case-{}@example.com",
                now.version,
                case.number.display()
            ),
            ..casework_core::testing::sample_message()
        };
        edit(&mut m);
        let events = stamp(&now, "ana", START, vec![note("assigned elsewhere")]);
        Commit {
            number: case.number,
            expected_version: now.version,
            state: now.clone(),
            events,
            outbox: vec![m],
            attachments: Vec::new(),
        }
    };
    for (what, c) in [
        (
            "a notice from elsewhere",
            notice(&|m| m.from = "x@elsewhere.example".parse().unwrap()),
        ),
        (
            "a notice about another case",
            notice(&|m| m.case = casework_core::ids::CaseNumber::new(7).unwrap()),
        ),
        (
            "a customer email dressed as a notice",
            notice(&|m| m.template = TemplateName::FollowUp),
        ),
    ] {
        let e = store.commit(c).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{what}: {e:?}");
    }
    store.commit(notice(&|_| {})).await.unwrap();
    assert_eq!(backing.outbox_list(None, 10).await.unwrap().len(), 2);
    let moved = stamp(
        &backing.load_case(case.number).await.unwrap(),
        "ana",
        START,
        vec![status("In Progress", StatusCategory::Open)],
    );
    let now = backing.load_case(case.number).await.unwrap();
    store
        .commit(Commit {
            number: case.number,
            expected_version: now.version,
            state: now.clone(),
            events: moved,
            outbox: Vec::new(),
            attachments: Vec::new(),
        })
        .await
        .unwrap();
    // and a create in a status the workflow does not have, or back-dated, is refused too
    let mut nowhere = opened();
    nowhere.status = "Nowhere".parse().unwrap();
    let e = store
        .create_case(START, "ana".into(), nowhere, Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let old = START
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let e = store
        .create_case(old, "ana".into(), opened(), Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    // a create queues staff notices only, each with the Message-ID it gets once numbered
    let opening = |template, message_id: &str| casework_core::model::OutboxMessage {
        id: "o1".into(),
        template,
        to: "lee@example.com".parse().unwrap(),
        message_id: message_id.into(),
        ..casework_core::testing::sample_message()
    };
    let placeholder = format!(
        "o1.case-{}@example.com",
        casework_core::workflow::notify::number_placeholder("o1")
    );
    for (what, m) in [
        (
            "an email to the customer",
            opening(TemplateName::FollowUp, &placeholder),
        ),
        (
            "a guessed number",
            opening(TemplateName::NoticeNewCase, "o1.case-00000002@example.com"),
        ),
    ] {
        let e = store
            .create_case(START, "ana".into(), opened(), vec![m])
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{what}: {e:?}");
    }
    assert_eq!(backing.stats().await.unwrap().cases, 1);
}

#[tokio::test]
async fn the_core_deciding_over_the_protocol_passes_every_check() {
    // a whole workflow decided by a service on the REST store: every commit is re-checked
    // by the server and none is refused
    use casework_core::model::{Resolution, TemplateName};
    use casework_core::workflow::{CaseEdit, Command};
    let (base, _backing) = served().await;
    let store: Arc<dyn CaseStore> = Arc::new(RestStore::open(&base, SERVICE).unwrap());
    let svc = casework_core::testing::service(store.clone());
    let ana = casework_core::model::Person {
        name: "ana".into(),
        role: Role::Agent,
        email: Some("ana@example.com".parse().unwrap()),
        phone: None,
        signature: None,
        notifications_off: Vec::new(),
    };
    store.put_person(ana.clone()).await.unwrap();
    let ana = Actor::from_person(&ana);
    let case = svc
        .open_case(&ana, casework_core::testing::new_case("Printer offline"))
        .await
        .unwrap();
    let n = case.number;
    let run = |cmd: Command| {
        let (svc, ana) = (svc.clone(), ana.clone());
        async move { svc.execute(&ana, n, None, cmd).await.unwrap() }
    };
    run(Command::Take).await;
    run(Command::SendEmail {
        template: TemplateName::InitialContact,
        fields: Default::default(),
    })
    .await;
    run(Command::Edit(CaseEdit {
        product: Some("Server".into()),
        product_version: Some("11.3".into()),
        product_area: Some("Publishing".into()),
        functionality: Some("F".into()),
        issue: Some("I".into()),
        ..Default::default()
    }))
    .await;
    run(Command::ConfirmTitle).await;
    run(Command::AddPost {
        kind: PostKind::Summary,
        body: "Fixed by the patch".into(),
        visibility: Visibility::Internal,
    })
    .await;
    let closed = run(Command::Close {
        mode: CloseMode::Resolved,
        resolution: Some(Resolution {
            primary: "Fixed".into(),
            secondary: "Patch".into(),
        }),
        notify_customer: true,
    })
    .await;
    assert_eq!(closed.case.close_mode, Some(CloseMode::Resolved));
}

/// A fake server answering 503 to its first `failures` requests, counting them.
async fn flaky(failures: u32) -> (String, Arc<AtomicU32>) {
    use axum::http::StatusCode;
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    let answer = move || {
        let counter = counter.clone();
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < failures {
                (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
            } else {
                axum::Json(casework_core::ports::StoreStats::default()).into_response()
            }
        }
    };
    use axum::response::IntoResponse;
    let router = axum::Router::new()
        .route("/store/v1/stats", axum::routing::get(answer.clone()))
        .route("/store/v1/cases/{n}/commits", axum::routing::post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn reads_are_retried_with_backoff_and_writes_are_not() {
    let (base, seen) = flaky(2).await;
    let store = RestStore::open(&base, SERVICE).unwrap();
    store.stats().await.unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "two failures, then the answer"
    );

    let (base, seen) = flaky(5).await;
    let store = RestStore::open(&base, SERVICE).unwrap();
    let e = store.stats().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 3, "bounded: three attempts");

    let (base, seen) = flaky(1).await;
    let store = RestStore::open(&base, SERVICE).unwrap();
    let case = casework_core::testing::sample_case();
    let e = store
        .commit(Commit {
            number: case.number,
            expected_version: case.version,
            events: Vec::new(),
            state: case,
            outbox: Vec::new(),
            attachments: Vec::new(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a write is never repeated");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_clear_unavailable_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = RestStore::open(&format!("http://127.0.0.1:{port}"), SERVICE).unwrap();
    let e = store.stats().await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Unavailable(m) if m.contains("cannot reach") && m.contains("casework serve")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_quarantine_cursor_is_a_time_and_an_id_together() {
    let (base, _) = served().await;
    let http = reqwest::Client::new();
    let get = |query: &'static str| {
        let http = http.clone();
        let url = format!("{base}/store/v1/quarantine?limit=10{query}");
        async move { http.get(&url).bearer_auth(SERVICE).send().await.unwrap() }
    };
    let both = get("&after_at=2026-01-05T09:00:00Z&after_id=q-1").await;
    assert_eq!(both.status(), 200);
    for half in ["&after_id=q-1", "&after_at=2026-01-05T09:00:00Z"] {
        let r = get(half).await;
        assert_eq!(r.status(), 422, "{half}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert_eq!(problem["field"], "after_at", "{half}: {problem}");
    }
}
