//! In-process tests of the API with `tower::ServiceExt::oneshot`, on the memory store and
//! on SQLite: the same requests, the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode, header};
use casework_core::model::{Actor, Person, Role};
use casework_core::ports::CaseStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};

mod input;

const ADMIN: &str = "cw_admin_0000000000000000000000000000000000";
const AGENT: &str = "cw_agent_0000000000000000000000000000000000";
const LEAD: &str = "cw_lead_00000000000000000000000000000000000";
const JORDAN: &str = "cw_jordan_000000000000000000000000000000000";
const EVE: &str = "cw_eve_0000000000000000000000000000000000000";

async fn app(store: Arc<dyn CaseStore>) -> axum::Router {
    let svc = casework_core::testing::service(store);
    let root = Actor {
        name: "root".into(),
        principal: "person:root".into(),
        role: Role::Admin,
        email: None,
        phone: None,
        signature: None,
    };
    for (name, role) in [("Ana Lopez", Role::Agent), ("Lee Park", Role::Lead)] {
        let person = Person {
            name: name.into(),
            role,
            email: Some("staff@example.com".parse().unwrap()),
            phone: None,
            signature: None,
        };
        svc.add_person(&root, person).await.unwrap();
    }
    for (name, role, email, secret) in [
        ("root", Role::Admin, None, ADMIN),
        ("Ana Lopez", Role::Agent, None, AGENT),
        ("Lee Park", Role::Lead, None, LEAD),
        (
            "Jordan",
            Role::Customer,
            Some("jordan@customer.example"),
            JORDAN,
        ),
        ("Eve", Role::Customer, Some("eve@customer.example"), EVE),
    ] {
        svc.create_token(&root, name, role, email.map(|e| e.parse().unwrap()), secret)
            .await
            .unwrap();
    }
    router(AppState::new(svc))
}

async fn stores() -> Vec<(&'static str, axum::Router)> {
    vec![
        (
            "memory",
            app(Arc::new(casework_store_memory::MemoryStore::new())).await,
        ),
        (
            "sqlite",
            app(Arc::new(
                casework_store_sqlite::SqliteStore::open_url("sqlite::memory:").unwrap(),
            ))
            .await,
        ),
    ]
}

struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    body: Value,
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(HttpBody::from(b.to_string())),
        None => req.body(HttpBody::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 4 * 1024 * 1024)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

fn new_case(email: &str) -> Value {
    json!({
        "title": "Map service fails to publish",
        "description": "Error 999999",
        "origin": "phone",
        "customer": { "name": "Jordan Smith", "email": email }
    })
}

fn is_problem(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(r.body["status"], status.as_u16());
    assert!(
        r.body["title"].is_string() && r.body["detail"].is_string(),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn authentication_and_case_visibility() {
    for (name, app) in stores().await {
        let r = call(&app, "GET", "/healthz", None, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        let r = call(&app, "GET", "/api/v1/cases", None, None, &[]).await;
        is_problem(&r, StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
        is_problem(
            &call(&app, "GET", "/api/v1/cases", Some("cw_nope"), None, &[]).await,
            StatusCode::UNAUTHORIZED,
        );

        let created = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{name}: {}",
            created.body
        );
        assert_eq!(created.headers[header::LOCATION], "/api/v1/cases/1");
        assert_eq!(created.headers[header::ETAG], "\"1\"");
        assert_eq!(created.body["number"], 1);
        assert_eq!(created.body["display_number"], "00000001");
        assert_eq!(created.body["priority"], "medium", "the default priority");

        // the customer sees their case; another customer gets the same 404 as a missing case
        let mine = call(
            &app,
            "GET",
            "/api/v1/cases/00000001",
            Some(JORDAN),
            None,
            &[],
        )
        .await;
        assert_eq!(
            mine.status,
            StatusCode::OK,
            "{name}: leading zeros accepted"
        );
        let theirs = call(&app, "GET", "/api/v1/cases/1", Some(EVE), None, &[]).await;
        let missing = call(&app, "GET", "/api/v1/cases/999", Some(EVE), None, &[]).await;
        is_problem(&theirs, StatusCode::NOT_FOUND);
        assert_eq!(theirs.body["title"], missing.body["title"]);
        is_problem(
            &call(&app, "GET", "/api/v1/cases/abc", Some(AGENT), None, &[]).await,
            StatusCode::NOT_FOUND,
        );
        let list = call(&app, "GET", "/api/v1/cases", Some(EVE), None, &[]).await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0, "{name}");
        // a customer may not act as staff, nor open a case for someone else
        is_problem(
            &call(
                &app,
                "GET",
                "/api/v1/cases/1/history",
                Some(JORDAN),
                None,
                &[],
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        is_problem(
            &call(
                &app,
                "POST",
                "/api/v1/cases",
                Some(JORDAN),
                Some(new_case("eve@customer.example")),
                &[],
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        let own = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(JORDAN),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        assert_eq!(own.status, StatusCode::CREATED, "{name}");
    }
}

#[tokio::test]
async fn patch_needs_if_match_and_stale_versions_conflict() {
    for (name, app) in stores().await {
        call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let edit =
            json!({ "title": "Publishing fails", "category": { "product_area": "Publishing" } });
        is_problem(
            &call(
                &app,
                "PATCH",
                "/api/v1/cases/1",
                Some(AGENT),
                Some(edit.clone()),
                &[],
            )
            .await,
            StatusCode::PRECONDITION_REQUIRED,
        );
        let ok = call(
            &app,
            "PATCH",
            "/api/v1/cases/1",
            Some(AGENT),
            Some(edit.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "{name}: {}", ok.body);
        assert_eq!(ok.body["title"], "Publishing fails");
        assert_eq!(ok.body["category"]["product_area"], "Publishing");
        assert_eq!(ok.headers[header::ETAG], "\"3\"");
        let stale = call(
            &app,
            "PATCH",
            "/api/v1/cases/1",
            Some(AGENT),
            Some(edit),
            &[("if-match", "\"1\"")],
        )
        .await;
        is_problem(&stale, StatusCode::PRECONDITION_FAILED);
        assert_eq!(stale.body["current_version"], 3);
        // actions honour If-Match when it is sent
        let stale = call(
            &app,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[("if-match", "\"2\"")],
        )
        .await;
        is_problem(&stale, StatusCode::PRECONDITION_FAILED);
        let fresh = call(
            &app,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[],
        )
        .await;
        assert_eq!(fresh.body["status"], "In Progress", "{name}");
    }
}

#[tokio::test]
async fn bad_bodies_are_problems_never_500s() {
    for (name, app) in stores().await {
        let send = |body: &'static str, ctype: &'static str| {
            let app = app.clone();
            async move {
                let req = Request::builder()
                    .method("POST")
                    .uri("/api/v1/cases")
                    .header(header::AUTHORIZATION, format!("Bearer {AGENT}"))
                    .header(header::CONTENT_TYPE, ctype)
                    .body(HttpBody::from(body))
                    .unwrap();
                let res = app.oneshot(req).await.unwrap();
                let status = res.status();
                let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
                    .await
                    .unwrap();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            }
        };
        let (s, _) = send("{not json", "application/json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");
        let (s, _) = send("{}", "text/plain").await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        let mut body = new_case("jordan@customer.example");
        body["colour"] = json!("blue");
        let r = call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(body), &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "colour");
        let mut body = new_case("not-an-email");
        body["title"] = json!("t");
        let r = call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(body), &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "customer.email");
        let mut big = new_case("jordan@customer.example");
        big["description"] = json!("x".repeat(super::MAX_BODY + 10));
        is_problem(
            &call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(big), &[]).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        );
        let r = call(&app, "GET", "/api/v1/cases?limit=0", Some(AGENT), None, &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        let r = call(&app, "GET", "/api/v1/cases?bogus=1", Some(AGENT), None, &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        is_problem(
            &call(&app, "GET", "/nowhere", Some(AGENT), None, &[]).await,
            StatusCode::NOT_FOUND,
        );
    }
}

#[tokio::test]
async fn the_workflow_over_http_and_what_a_customer_sees() {
    for (name, app) in stores().await {
        let post = |uri: String, token: &'static str, body: Value| {
            let app = app.clone();
            async move { call(&app, "POST", &uri, Some(token), Some(body), &[]).await }
        };
        post(
            "/api/v1/cases".into(),
            AGENT,
            new_case("jordan@customer.example"),
        )
        .await;
        let call_log = post("/api/v1/cases/1/calls".into(), AGENT, json!({"direction": "inbound", "duration_minutes": 25, "screenshare": true, "notes": "Reproduced"})).await;
        assert_eq!(
            call_log.status,
            StatusCode::CREATED,
            "{name}: {}",
            call_log.body
        );
        assert_eq!(call_log.body["type"], "call_logged");
        assert_eq!(call_log.body["id"], 2);
        let note = post(
            "/api/v1/cases/1/posts".into(),
            AGENT,
            json!({"kind": "note", "body": "MARKER-INTERNAL suspicion"}),
        )
        .await;
        assert_eq!(
            note.body["visibility"], "internal",
            "posts are internal by default"
        );
        post(
            "/api/v1/cases/1/posts".into(),
            JORDAN,
            json!({"kind": "note", "body": "logs attached", "visibility": "customer"}),
        )
        .await;
        let email = post(
            "/api/v1/cases/1/emails".into(),
            AGENT,
            json!({"template": "follow_up", "discussed": "We reproduced it"}),
        )
        .await;
        assert_eq!(email.status, StatusCode::CREATED, "{name}: {}", email.body);
        assert_eq!(email.body["status"], "queued");
        assert!(
            email.body["subject"]
                .as_str()
                .unwrap()
                .starts_with("[Case 00000001]")
        );
        let preview = post(
            "/api/v1/cases/1/emails/preview".into(),
            AGENT,
            json!({"template": "initial_contact"}),
        )
        .await;
        assert_eq!(preview.status, StatusCode::OK);
        assert_eq!(preview.body["to"], "jordan@customer.example");

        let refused = post(
            "/api/v1/cases/1/close".into(),
            AGENT,
            json!({"mode": "resolved", "primary_resolution": "A", "secondary_resolution": "B"}),
        )
        .await;
        is_problem(&refused, StatusCode::CONFLICT);
        let items: Vec<&str> = refused.body["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["item"].as_str().unwrap())
            .collect();
        assert_eq!(
            items,
            [
                "summary",
                "title",
                "product",
                "product_version",
                "product_area",
                "functionality",
                "issue"
            ]
        );
        let check = call(
            &app,
            "GET",
            "/api/v1/cases/1/closing-check",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(check.body["ready"], false);
        is_problem(
            &post(
                "/api/v1/cases/1/reopen".into(),
                LEAD,
                json!({"reason": "x"}),
            )
            .await,
            StatusCode::CONFLICT,
        );
        post(
            "/api/v1/cases/1/close".into(),
            LEAD,
            json!({"mode": "temporary"}),
        )
        .await;
        let r = post(
            "/api/v1/cases/1/reopen".into(),
            LEAD,
            json!({"reason": "customer is back", "notify_customer": false}),
        )
        .await;
        assert_eq!(r.body["reopen_count"], 1, "{name}: {}", r.body);
        is_problem(
            &post(
                "/api/v1/cases/1/escalate".into(),
                AGENT,
                json!({"reason": "x"}),
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        is_problem(
            &post(
                "/api/v1/cases/1/transition".into(),
                AGENT,
                json!({"status": "Nowhere"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );

        let staff = call(
            &app,
            "GET",
            "/api/v1/cases/1/timeline",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert!(staff.body.to_string().contains("MARKER-INTERNAL"));
        let customer = call(
            &app,
            "GET",
            "/api/v1/cases/1/timeline",
            Some(JORDAN),
            None,
            &[],
        )
        .await;
        assert_eq!(customer.status, StatusCode::OK);
        let text = customer.body.to_string();
        assert!(!text.contains("MARKER-INTERNAL"), "{name}: {text}");
        assert!(
            !text.contains("customer is back"),
            "the reopen reason is internal"
        );
        assert!(text.contains("Reproduced") && text.contains("logs attached"));
        let found = call(
            &app,
            "GET",
            "/api/v1/search?q=marker",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(found.body.as_array().unwrap().len(), 1, "{name}");
        is_problem(
            &call(
                &app,
                "GET",
                "/api/v1/search?q=marker",
                Some(JORDAN),
                None,
                &[],
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        let report = call(
            &app,
            "GET",
            "/api/v1/reports/reopens?group_by=owner",
            Some(LEAD),
            None,
            &[],
        )
        .await;
        assert_eq!(report.status, StatusCode::OK, "{name}: {}", report.body);
        let outbox = call(
            &app,
            "GET",
            "/api/v1/outbox?status=queued",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        let templates: Vec<&str> = outbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["template"].as_str().unwrap())
            .collect();
        assert_eq!(templates, ["follow_up", "temporary_close_notice"]);
        is_problem(
            &call(&app, "GET", "/api/v1/outbox", Some(JORDAN), None, &[]).await,
            StatusCode::FORBIDDEN,
        );
    }
}

#[tokio::test]
async fn lists_page_with_cursors_and_knowledge_round_trips() {
    for (name, app) in stores().await {
        for _ in 0..5 {
            call(
                &app,
                "POST",
                "/api/v1/cases",
                Some(AGENT),
                Some(new_case("jordan@customer.example")),
                &[],
            )
            .await;
        }
        let first = call(&app, "GET", "/api/v1/cases?limit=2", Some(AGENT), None, &[]).await;
        let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
        let second = call(
            &app,
            "GET",
            &format!("/api/v1/cases?limit=2&cursor={cursor}"),
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(second.body["items"][0]["number"], 3, "{name}");
        let last = call(
            &app,
            "GET",
            "/api/v1/cases?limit=2&cursor=c4",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(last.body["next_cursor"], Value::Null);
        let a = call(
            &app,
            "POST",
            "/api/v1/articles",
            Some(AGENT),
            Some(json!({"title": "KB", "body": "text"})),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED);
        let got = call(
            &app,
            "GET",
            &format!("/api/v1/articles/{}", a.body["id"]),
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(got.body["title"], "KB");
        let d = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(json!({"key": "BUG-1", "title": "t", "state": "open"})),
            &[],
        )
        .await;
        assert_eq!(d.status, StatusCode::CREATED, "{name}: {}", d.body);
        is_problem(
            &call(
                &app,
                "POST",
                "/api/v1/defects",
                Some(AGENT),
                Some(json!({"key": "BUG-1", "title": "t", "state": "open"})),
                &[],
            )
            .await,
            StatusCode::CONFLICT, // a taken key
        );
        is_problem(
            &call(
                &app,
                "GET",
                "/api/v1/defects/BUG-404",
                Some(AGENT),
                None,
                &[],
            )
            .await,
            StatusCode::NOT_FOUND,
        );
        let link = call(
            &app,
            "POST",
            "/api/v1/cases/1/links",
            Some(AGENT),
            Some(json!({"kind": "defect", "ref": "BUG-1"})),
            &[],
        )
        .await;
        assert_eq!(link.status, StatusCode::CREATED, "{name}: {}", link.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_makes_one_case() {
    for (name, app) in stores().await {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                call(
                    &app,
                    "POST",
                    "/api/v1/cases",
                    Some(AGENT),
                    Some(new_case("jordan@customer.example")),
                    &[("idempotency-key", "order-7")],
                )
                .await
            }));
        }
        let mut replays = 0;
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.body);
            assert_eq!(r.body["number"], 1, "{name}");
            assert_eq!(r.headers[header::ETAG], "\"1\"");
            replays += usize::from(r.headers.contains_key("idempotent-replayed"));
        }
        assert_eq!(replays, 99, "{name}");
        let list = call(&app, "GET", "/api/v1/cases", Some(AGENT), None, &[]).await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            1,
            "{name}: one case"
        );
        // the same key with another body is refused; another caller's same key is their own
        let mut other = new_case("jordan@customer.example");
        other["title"] = json!("something else");
        let r = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(other.clone()),
            &[("idempotency-key", "order-7")],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "Idempotency-Key");
        let lee = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(LEAD),
            Some(other),
            &[("idempotency-key", "order-7")],
        )
        .await;
        assert_eq!(lee.status, StatusCode::CREATED);
        assert_eq!(
            lee.body["number"], 2,
            "{name}: keys are scoped to the caller"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The access matrix (QUALITY.md recipe 4).

const MARKER: &str = "MARKER-7f3a-internal";

/// Principals, in the order of the expectation columns; the service principal last, with
/// its own expectations ([`service_expects`]).
const PRINCIPALS: [(&str, Option<&str>); 8] = [
    ("customer A", Some(JORDAN)),
    ("customer B", Some(EVE)),
    ("agent", Some(AGENT)),
    ("lead", Some(LEAD)),
    ("admin", Some(ADMIN)),
    ("no token", None),
    (
        "bad token",
        Some("cw_not_a_token_0000000000000000000000000"),
    ),
    ("service", Some(SERVICE)),
];

/// A service token on the API: it speaks only the storage protocol.
fn service_expects(uri: &str) -> u16 {
    if uri == "/healthz" { 200 } else { 403 }
}

const SERVICE: &str = "cw_service_000000000000000000000000000000";

/// Calls and asserts the status: a set-up step that fails would leave the matrix checking
/// less than it claims.
async fn step(app: &axum::Router, method: &str, uri: &str, token: &str, body: Value, status: u16) {
    let r = call(app, method, uri, Some(token), Some(body), &[]).await;
    assert_eq!(
        r.status.as_u16(),
        status,
        "set-up {method} {uri}: {}",
        r.body
    );
}

/// A fresh store with A's case (1) and B's case (2), each carrying the marker in every field
/// a customer must not see (an internal note and internal call notes, the categorization,
/// a contact attempt's note, a swarm question, a transition note, an escalation reason, a
/// reopen reason, a linked defect's key) and a customer-visible note; an article, a defect,
/// and a service token. Each case ends in its initial status, owned by nobody.
async fn matrix_app(sqlite: bool) -> axum::Router {
    let store: Arc<dyn CaseStore> = if sqlite {
        Arc::new(casework_store_sqlite::SqliteStore::open_url("sqlite::memory:").unwrap())
    } else {
        Arc::new(casework_store_memory::MemoryStore::new())
    };
    store
        .put_token(casework_core::model::ApiToken {
            id: "svc-matrix".into(),
            name: "sync".into(),
            role: Role::Service,
            customer_email: None,
            hash: casework_core::model::token_hash(SERVICE),
            created_at: casework_core::testing::START,
            revoked_at: None,
        })
        .await
        .unwrap();
    let app = app(store).await;
    step(
        &app,
        "POST",
        "/api/v1/articles",
        AGENT,
        json!({"title": "KB", "body": "text"}),
        201,
    )
    .await;
    let defect = json!({"key": "BUG-1", "title": "t", "state": "open"});
    step(&app, "POST", "/api/v1/defects", AGENT, defect, 201).await;
    let key = format!("{MARKER}-BUG");
    let defect = json!({"key": key, "title": "t", "state": "open"});
    step(&app, "POST", "/api/v1/defects", AGENT, defect, 201).await;
    for (n, email) in [(1, "jordan@customer.example"), (2, "eve@customer.example")] {
        let r = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case(email)),
            &[],
        )
        .await;
        assert_eq!(r.body["number"], n);
        let case = format!("/api/v1/cases/{n}");
        let at = |suffix: &str| format!("{case}{suffix}");
        let internal = json!({"kind": "note", "body": MARKER});
        step(&app, "POST", &at("/posts"), AGENT, internal, 201).await;
        let call_notes = json!({"kind": "call_notes", "body": MARKER, "visibility": "internal"});
        step(&app, "POST", &at("/posts"), AGENT, call_notes, 201).await;
        let visible = json!({"kind": "note", "body": "visible note", "visibility": "customer"});
        step(&app, "POST", &at("/posts"), AGENT, visible, 201).await;
        let version = call(&app, "GET", &case, Some(AGENT), None, &[]).await.body["version"]
            .as_u64()
            .unwrap()
            .to_string();
        let etag = format!("\"{version}\"");
        let categorized = json!({"category": {
            "product_area": format!("{MARKER}-area"),
            "functionality": format!("{MARKER}-functionality"),
            "issue": format!("{MARKER}-issue"),
        }});
        let r = call(
            &app,
            "PATCH",
            &case,
            Some(AGENT),
            Some(categorized),
            &[("if-match", &etag)],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "set-up categorization: {}",
            r.body
        );
        let attempt = json!({"channel": "email", "outcome": "no_response", "note": MARKER});
        step(&app, "POST", &at("/contact-attempts"), AGENT, attempt, 201).await;
        let swarm = json!({"group": "g", "question": MARKER});
        step(&app, "POST", &at("/swarm"), AGENT, swarm, 201).await;
        let moved = json!({"status": "In Progress", "note": MARKER});
        step(&app, "POST", &at("/transition"), AGENT, moved, 200).await;
        step(
            &app,
            "POST",
            &at("/escalate"),
            LEAD,
            json!({"reason": MARKER}),
            200,
        )
        .await;
        step(
            &app,
            "POST",
            &at("/close"),
            LEAD,
            json!({"mode": "temporary"}),
            200,
        )
        .await;
        let reopen = json!({"reason": MARKER, "notify_customer": false});
        step(&app, "POST", &at("/reopen"), LEAD, reopen, 200).await;
        step(
            &app,
            "POST",
            &at("/links"),
            AGENT,
            json!({"kind": "defect", "ref": key}),
            201,
        )
        .await;
        let now = call(&app, "GET", &case, Some(AGENT), None, &[]).await;
        assert_eq!(now.body["status"], "New", "{}", now.body);
    }
    app
}

/// The version case `n` is at (the same for both matrix cases).
async fn version_of(app: &axum::Router, n: u64) -> u64 {
    let r = call(
        app,
        "GET",
        &format!("/api/v1/cases/{n}"),
        Some(AGENT),
        None,
        &[],
    )
    .await;
    r.body["version"].as_u64().unwrap()
}

/// Routes on a case, with the expected status for [owner, other customer, agent, lead,
/// admin, no token, bad token].
fn case_routes() -> Vec<(&'static str, &'static str, Option<Value>, [u16; 7])> {
    let staff_read = [403, 404, 200, 200, 200, 401, 401];
    let staff_write = [403, 404, 200, 200, 200, 401, 401];
    let staff_entry = [403, 404, 201, 201, 201, 401, 401];
    vec![
        ("GET", "", None, [200, 404, 200, 200, 200, 401, 401]),
        ("PATCH", "", Some(json!({"title": "Renamed"})), staff_write),
        (
            "POST",
            "/assign",
            Some(json!({"owner": "Ana Lopez"})),
            staff_write,
        ),
        (
            "POST",
            "/transition",
            Some(json!({"status": "In Progress"})),
            staff_write,
        ),
        (
            "POST",
            "/escalate",
            Some(json!({"reason": "outage"})),
            [403, 404, 403, 200, 200, 401, 401],
        ),
        (
            "POST",
            "/close",
            Some(json!({"mode": "temporary"})),
            // an agent temporarily closes only the cases they own (these have no owner)
            [403, 404, 409, 200, 200, 401, 401],
        ),
        (
            "POST",
            "/reopen",
            Some(json!({"reason": "back"})),
            [403, 404, 403, 409, 409, 401, 401],
        ),
        (
            "POST",
            "/calls",
            Some(json!({"direction": "inbound", "duration_minutes": 5, "notes": "n"})),
            staff_entry,
        ),
        (
            "POST",
            "/posts",
            Some(json!({"kind": "note", "body": "hi", "visibility": "customer"})),
            [201, 404, 201, 201, 201, 401, 401],
        ),
        (
            "POST",
            "/contact-attempts",
            Some(json!({"channel": "email", "outcome": "no_response"})),
            staff_entry,
        ),
        (
            "POST",
            "/emails/preview",
            Some(json!({"template": "initial_contact"})),
            staff_read,
        ),
        (
            "POST",
            "/emails",
            Some(json!({"template": "follow_up", "discussed": "d"})),
            staff_entry,
        ),
        ("GET", "/summary-draft", None, staff_read),
        ("GET", "/closing-check", None, staff_read),
        (
            "GET",
            "/timeline",
            None,
            [200, 404, 200, 200, 200, 401, 401],
        ),
        ("GET", "/history", None, staff_read),
        ("GET", "/similar", None, staff_read),
        (
            "POST",
            "/links",
            Some(json!({"kind": "article", "ref": "1"})),
            staff_entry,
        ),
        (
            "POST",
            "/swarm",
            Some(json!({"group": "g", "question": "q"})),
            staff_entry,
        ),
    ]
}

/// Routes not on one case, with the expected status for each principal.
fn other_routes() -> Vec<(&'static str, &'static str, Option<Value>, [u16; 7])> {
    let staff_only = [403, 403, 200, 200, 200, 401, 401];
    vec![
        ("GET", "/healthz", None, [200; 7]),
        (
            "GET",
            "/api/v1/cases",
            None,
            [200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "POST",
            "/api/v1/cases",
            Some(new_case("jordan@customer.example")),
            [201, 403, 201, 201, 201, 401, 401],
        ),
        ("GET", "/api/v1/search?q=marker", None, staff_only),
        (
            "POST",
            "/api/v1/articles",
            Some(json!({"title": "t", "body": "b"})),
            [403, 403, 201, 201, 201, 401, 401],
        ),
        ("GET", "/api/v1/articles/1", None, staff_only),
        (
            "POST",
            "/api/v1/defects",
            Some(json!({"key": "BUG-2", "title": "t", "state": "open"})),
            [403, 403, 201, 201, 201, 401, 401],
        ),
        ("GET", "/api/v1/defects/BUG-1", None, staff_only),
        (
            "GET",
            "/api/v1/reports/reopens?group_by=owner",
            None,
            staff_only,
        ),
        (
            "GET",
            "/api/v1/reports/reopens/cases?group_by=owner&key=Ana%20Lopez",
            None,
            staff_only,
        ),
        ("GET", "/api/v1/outbox", None, staff_only),
        (
            "POST",
            "/api/v1/statuses/map",
            Some(json!({"from": "Gone", "to": "New"})),
            [403, 403, 403, 403, 200, 401, 401],
        ),
    ]
}

/// The storage protocol's routes (every one, the document's list is checked against it),
/// with what a service token gets; everyone else is refused (403, or 401 without a valid
/// token). Bodies are valid where a 2xx is cheap to reach, and otherwise pass the gate and
/// fail on the body (422), which still shows the gate let the service in.
fn store_routes() -> Vec<(&'static str, String, Option<Value>, u16)> {
    let opened = json!({
        "type": "opened", "title": "t", "description": "d", "origin": "web",
        "priority": "low", "customer": {"name": "c", "email": "c@customer.example"},
        "product": null, "product_version": null, "status": "New", "category": "open"
    });
    let token = json!({
        "id": "t-new", "name": "x", "role": "agent", "customer_email": null,
        "hash": "0".repeat(64), "created_at": "2026-01-05T09:00:00Z", "revoked_at": null
    });
    let person = json!({"name": "Ana Lopez", "role": "agent", "email": "staff@example.com"});
    let routes: Vec<(&str, &str, Option<Value>, u16)> = vec![
        (
            "POST",
            "/store/v1/cases",
            Some(json!({"at": "2026-01-05T09:00:00Z", "actor": "x", "opened": opened})),
            201,
        ),
        (
            "POST",
            "/store/v1/cases/query",
            Some(json!({"filter": {}, "page": {"limit": 10}})),
            200,
        ),
        ("GET", "/store/v1/cases/1", None, 200),
        (
            "POST",
            "/store/v1/cases/1/commits",
            Some(json!({"number": 1})),
            422,
        ),
        ("GET", "/store/v1/cases/1/history", None, 200),
        (
            "POST",
            "/store/v1/cases/1/similar",
            Some(json!({"scope": "staff", "limit": 5})),
            200,
        ),
        ("GET", "/store/v1/cases/1/outbox", None, 200),
        (
            "POST",
            "/store/v1/search",
            Some(json!({"text": "marker", "kind": null, "scope": "staff", "limit": 5})),
            200,
        ),
        (
            "POST",
            "/store/v1/reports/reopens",
            Some(json!({"group_by": "owner", "from": null, "to": null})),
            200,
        ),
        (
            "POST",
            "/store/v1/reports/reopens/cases",
            Some(json!({
                "report": {"group_by": "owner", "from": null, "to": null},
                "key": "Ana Lopez",
                "page": {"limit": 10}
            })),
            200,
        ),
        ("GET", "/store/v1/people", None, 200),
        ("GET", "/store/v1/people/Ana%20Lopez", None, 200),
        ("PUT", "/store/v1/people/Ana%20Lopez", Some(person), 204),
        (
            "POST",
            "/store/v1/articles",
            Some(json!({"article": {"title": "t", "body": "b"}, "at": "2026-01-05T09:00:00Z"})),
            201,
        ),
        ("GET", "/store/v1/articles/1", None, 200),
        (
            "POST",
            "/store/v1/defects",
            Some(
                json!({"key": "BUG-9", "title": "t", "body": "b", "state": "open", "created_at": "2026-01-05T09:00:00Z"}),
            ),
            201,
        ),
        ("GET", "/store/v1/defects/BUG-1", None, 200),
        ("GET", "/store/v1/outbox?limit=10", None, 200),
        (
            "POST",
            "/store/v1/outbox/claims",
            Some(
                json!({"worker": "w", "now": "2026-01-05T09:00:00Z", "until": "2026-01-05T09:05:00Z", "limit": 5}),
            ),
            200,
        ),
        (
            "POST",
            "/store/v1/outbox/nope/finish",
            Some(json!({"worker": "w"})),
            422,
        ),
        ("GET", "/store/v1/tokens", None, 200),
        ("POST", "/store/v1/tokens", Some(token), 204),
        ("GET", "/store/v1/tokens/by-hash/HASH", None, 200),
        (
            "POST",
            "/store/v1/tokens/nope/revoke",
            Some(json!({"at": "2026-01-05T09:00:00Z"})),
            404,
        ),
        ("GET", "/store/v1/stats", None, 200),
    ];
    let hash = casework_core::model::token_hash(AGENT);
    routes
        .into_iter()
        .map(|(m, uri, body, status)| (m, uri.replace("HASH", &hash), body, status))
        .collect()
}

#[tokio::test]
async fn the_access_matrix_holds_for_every_route_principal_and_case() {
    let mut cells = 0;
    for sqlite in [false, true] {
        let store = if sqlite { "sqlite" } else { "memory" };
        let version = version_of(&matrix_app(sqlite).await, 1).await;
        let etag = format!("\"{version}\"");
        // object routes, on A's case (1) and on B's case (2): the customer columns swap
        for (number, owner_first) in [(1, true), (2, false)] {
            for (method, suffix, body, expected) in case_routes() {
                for (i, (who, token)) in PRINCIPALS.iter().enumerate() {
                    let app = matrix_app(sqlite).await;
                    let uri = format!("/api/v1/cases/{number}{suffix}");
                    let want = match (i, owner_first) {
                        (7, _) => service_expects(&uri),
                        (0, false) => expected[1],
                        (1, false) => expected[0],
                        (i, _) => expected[i],
                    };
                    let extra: &[(&str, &str)] = if method == "PATCH" {
                        &[("if-match", etag.as_str())]
                    } else {
                        &[]
                    };
                    let r = call(&app, method, &uri, *token, body.clone(), extra).await;
                    assert_eq!(
                        r.status.as_u16(),
                        want,
                        "{store}: {who} {method} {uri}: {}",
                        r.body
                    );
                    if i < 2 {
                        assert!(
                            !r.body.to_string().contains(MARKER),
                            "{store}: {who} {method} {uri} leaked an internal field: {}",
                            r.body
                        );
                    }
                    cells += 1;
                }
            }
        }
        for (method, uri, body, expected) in other_routes() {
            for (i, (who, token)) in PRINCIPALS.iter().enumerate() {
                let app = matrix_app(sqlite).await;
                let want = if i == 7 {
                    service_expects(uri)
                } else {
                    expected[i]
                };
                let r = call(&app, method, uri, *token, body.clone(), &[]).await;
                assert_eq!(
                    r.status.as_u16(),
                    want,
                    "{store}: {who} {method} {uri}: {}",
                    r.body
                );
                if i < 2 {
                    assert!(
                        !r.body.to_string().contains(MARKER),
                        "{store}: {who} {method} {uri} leaked: {}",
                        r.body
                    );
                }
                cells += 1;
            }
        }
        // the storage protocol reaches every record and mints tokens: service only
        for (method, uri, body, service) in store_routes() {
            for (i, (who, token)) in PRINCIPALS.iter().enumerate() {
                let app = matrix_app(sqlite).await;
                let want = match i {
                    7 => service,
                    5 | 6 => 401,
                    _ => 403,
                };
                let r = call(&app, method, &uri, *token, body.clone(), &[]).await;
                assert_eq!(
                    r.status.as_u16(),
                    want,
                    "{store}: {who} {method} {uri}: {}",
                    r.body
                );
                if i != 7 {
                    assert!(
                        !r.body.to_string().contains(MARKER),
                        "{store}: {who} {method} {uri} leaked: {}",
                        r.body
                    );
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 2 * (2 * 19 + 12 + 25) * 8);
}

#[tokio::test]
async fn the_workflow_file_decides_who_speaks_the_storage_protocol() {
    // issue #12: /store/v1 checked `role == service` in HTTP, and the workflow file's
    // `service = ["store"]` was never read; now core decides with the `store` permission
    let default = casework_core::config::DEFAULT_WORKFLOW;
    let without = default.replace(r#"service = ["store"]"#, "service = []");
    assert_ne!(without, default);
    for (text, granted) in [(default.to_string(), true), (without, false)] {
        let svc = casework_core::CaseService::new(
            Arc::new(casework_store_memory::MemoryStore::new()),
            Arc::new(casework_core::testing::FixedClock::default()),
            Arc::new(casework_core::testing::SequentialIds::default()),
            Arc::new(casework_core::WorkflowConfig::parse(&text).unwrap()),
            Arc::new(casework_core::Templates::embedded().unwrap()),
        );
        let setup = Actor::system("setup");
        svc.create_token(&setup, "sync", Role::Service, None, SERVICE)
            .await
            .unwrap();
        let app = router(AppState::new(svc));
        let stats = call(&app, "GET", "/store/v1/stats", Some(SERVICE), None, &[]).await;
        if granted {
            assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
            continue;
        }
        for (method, uri, body, _) in store_routes() {
            let r = call(&app, method, &uri, Some(SERVICE), body, &[]).await;
            is_problem(&r, StatusCode::FORBIDDEN);
            assert!(
                r.body["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("storage protocol"),
                "{method} {uri}: {}",
                r.body
            );
        }
    }
}

#[test]
fn the_matrix_covers_every_storage_protocol_route() {
    let mut covered: Vec<(String, String)> = store_routes()
        .iter()
        .map(|(m, uri, _, _)| {
            let path = uri.split('?').next().unwrap_or_default();
            let shape = path
                .replace("/cases/1", "/cases/{n}")
                .replace("/people/Ana%20Lopez", "/people/{name}")
                .replace("/articles/1", "/articles/{id}")
                .replace("/defects/BUG-1", "/defects/{key}")
                .replace("/outbox/nope/", "/outbox/{id}/")
                .replace("/tokens/nope/", "/tokens/{id}/");
            let shape = match shape.find("/by-hash/") {
                Some(i) => format!("{}/by-hash/{{hash}}", &shape[..i]),
                None => shape,
            };
            (m.to_lowercase(), shape)
        })
        .collect();
    covered.sort();
    let mut all: Vec<(String, String)> = STORE_PROTOCOL
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    all.sort();
    assert_eq!(covered, all);
}

#[tokio::test]
async fn staff_see_the_marker_so_the_matrix_would_notice_a_leak() {
    let app = matrix_app(false).await;
    let staff = call(
        &app,
        "GET",
        "/api/v1/cases/1/timeline",
        Some(AGENT),
        None,
        &[],
    )
    .await;
    // every planted field shows for staff: two internal posts, the contact note, the swarm
    // question, the transition note, the escalation and reopen reasons
    let planted = staff.body.to_string().matches(MARKER).count();
    assert!(planted >= 7, "only {planted} markers on the staff timeline");
    let case = call(&app, "GET", "/api/v1/cases/1", Some(AGENT), None, &[]).await;
    let category = case.body["category"].to_string();
    assert_eq!(category.matches(MARKER).count(), 3, "{category}");
    let search = call(
        &app,
        "GET",
        "/api/v1/search?q=marker",
        Some(AGENT),
        None,
        &[],
    )
    .await;
    assert_eq!(
        search.body.as_array().unwrap().len(),
        3,
        "two cases and the defect"
    );
    let case = call(&app, "GET", "/api/v1/cases/1", Some(AGENT), None, &[]).await;
    assert!(
        case.body["links"].to_string().contains(MARKER),
        "staff see the links"
    );
    let own = call(&app, "GET", "/api/v1/cases/1", Some(JORDAN), None, &[]).await;
    assert_eq!(own.body["links"], json!([]), "the customer does not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_patches_with_one_if_match_let_exactly_one_win() {
    for (name, app) in stores().await {
        call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        for round in 0..10u64 {
            let version = (1 + round).to_string();
            let etag = format!("\"{version}\"");
            let tasks: Vec<_> = ["first", "second"]
                .into_iter()
                .map(|who| {
                    let (app, etag) = (app.clone(), etag.clone());
                    tokio::spawn(async move {
                        let body = json!({ "title": format!("{who} round {round}") });
                        call(
                            &app,
                            "PATCH",
                            "/api/v1/cases/1",
                            Some(AGENT),
                            Some(body),
                            &[("if-match", etag.as_str())],
                        )
                        .await
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.unwrap().status.as_u16());
            }
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 412], "{name} round {round}");
        }
        let history = call(
            &app,
            "GET",
            "/api/v1/cases/1/history",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(
            history.body.as_array().unwrap().len(),
            11,
            "{name}: one event per winning write"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_without_if_match_under_contention_never_answer_412() {
    // issue #11: a write that sent no precondition answered 412 after five lost races
    for (name, app) in stores().await {
        let made = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let start = made.body["version"].as_u64().unwrap();
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for j in 0..4 {
                        let body = json!({"kind": "note", "body": format!("note {i}.{j}")});
                        let r = call(
                            &app,
                            "POST",
                            "/api/v1/cases/1/posts",
                            Some(AGENT),
                            Some(body),
                            &[],
                        )
                        .await;
                        if r.status == StatusCode::SERVICE_UNAVAILABLE {
                            is_problem(&r, StatusCode::SERVICE_UNAVAILABLE);
                            assert_eq!(r.headers[header::RETRY_AFTER], "1");
                        }
                        out.push(r.status.as_u16());
                    }
                    out
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.extend(t.await.unwrap());
        }
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 503),
            "{name}: {statuses:?}"
        );
        let written = statuses.iter().filter(|s| **s == 201).count() as u64;
        assert!(written > 0, "{name}");
        let case = call(&app, "GET", "/api/v1/cases/1", Some(AGENT), None, &[]).await;
        assert_eq!(
            case.body["version"].as_u64().unwrap(),
            start + written,
            "{name}: one event per acknowledged write, none for a busy one"
        );
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let made = call(&app, "GET", "/healthz", None, None, &[]).await;
    let id = made.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let other = call(&app, "GET", "/healthz", None, None, &[]).await;
    assert_ne!(
        other.headers["x-request-id"],
        id.as_str(),
        "one per request"
    );
    let kept = call(
        &app,
        "GET",
        "/api/v1/cases",
        None,
        None,
        &[("x-request-id", "client-42")],
    )
    .await;
    assert_eq!(kept.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        kept.headers["x-request-id"], "client-42",
        "the client's id is kept, errors too"
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_is_answered_503() {
    // the production layers around a handler that takes longer than the timeout
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let app = super::layered(slow, std::time::Duration::from_millis(20));
    let r = call(&app, "GET", "/slow", None, None, &[]).await;
    is_problem(&r, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["title"], "request timed out");
    assert!(
        r.headers.contains_key("x-request-id"),
        "timed-out answers carry the request id too"
    );
}

#[tokio::test]
async fn a_uri_over_the_limit_is_a_problem_414() {
    let app = app(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let long = format!("/api/v1/cases?q={}", "x".repeat(crate::server::MAX_URI));
    let r = call(&app, "GET", &long, Some(AGENT), None, &[]).await;
    is_problem(&r, StatusCode::URI_TOO_LONG);
    assert!(r.headers.contains_key("x-request-id"));
    // at the limit it is served
    let at = format!("/healthz?{}", "x".repeat(crate::server::MAX_URI - 9));
    assert_eq!(at.len(), crate::server::MAX_URI);
    let r = call(&app, "GET", &at, None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

// ---------------------------------------------------------------------------------------
// the server: connections over real sockets

/// Serves a small app on a free port with `limits`; returns its address and a sender that
/// stops it, and the task that ends when it has stopped.
async fn served(
    limits: crate::ServeLimits,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let app = app(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

/// Sends a whole GET on a new connection and reads the status line.
async fn get_status(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Reads until the server closes the connection; `None` if it is still open after `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: std::time::Duration) -> Option<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn half_sent_heads_and_idle_connections_are_closed_by_the_server() {
    use tokio::io::AsyncWriteExt;
    let limits = crate::ServeLimits {
        header_read_timeout: std::time::Duration::from_millis(300),
        max_connections: 64,
    };
    let (addr, stop, task) = served(limits).await;
    let mut half = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        half.push(s);
    }
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    // "eventually": far longer than the timeout, far shorter than forever
    let bound = std::time::Duration::from_secs(10);
    for s in &mut half {
        assert!(
            closed_within(s, bound).await.is_some(),
            "a half-sent head stayed open"
        );
    }
    assert!(
        closed_within(&mut idle, bound).await.is_some(),
        "an idle connection stayed open"
    );
    assert_eq!(get_status(addr, "/healthz").await, "HTTP/1.1 200 OK");
    stop.send(()).unwrap();
    tokio::time::timeout(bound, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = crate::ServeLimits {
        header_read_timeout: std::time::Duration::from_secs(60),
        max_connections: 2,
    };
    let (addr, stop, task) = served(limits).await;
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    // the third connects (the kernel's backlog) but is not served while two are open
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        third.read_to_end(&mut buf),
    )
    .await;
    assert!(early.is_err(), "served past the cap: {buf:?}");
    drop(first);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        third.read_to_end(&mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200 OK"),
        "{buf:?}"
    );
    stop.send(()).unwrap();
    drop(_second);
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_long_uri_over_a_socket_is_a_problem_414() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, stop, task) = served(crate::ServeLimits::default()).await;
    let ask = |target: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).to_string()
    };
    // longer than the router takes, within what hyper surely parses
    let target = format!("/healthz?{}", "a".repeat(crate::server::MAX_HEAD - 200));
    assert!(target.len() > crate::server::MAX_URI);
    let long = ask(target).await;
    assert!(long.starts_with("HTTP/1.1 414"), "{long}");
    assert!(long.contains("application/problem+json"), "{long}");
    assert!(long.contains("\"status\":414"), "{long}");
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// the OpenAPI document

/// Every route of the contract (`shared/brief/API.md`), as the document must list it.
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{n}"),
    ("patch", "/api/v1/cases/{n}"),
    ("post", "/api/v1/cases/{n}/assign"),
    ("post", "/api/v1/cases/{n}/transition"),
    ("post", "/api/v1/cases/{n}/escalate"),
    ("post", "/api/v1/cases/{n}/close"),
    ("post", "/api/v1/cases/{n}/reopen"),
    ("post", "/api/v1/cases/{n}/calls"),
    ("post", "/api/v1/cases/{n}/posts"),
    ("post", "/api/v1/cases/{n}/contact-attempts"),
    ("post", "/api/v1/cases/{n}/emails/preview"),
    ("post", "/api/v1/cases/{n}/emails"),
    ("get", "/api/v1/cases/{n}/summary-draft"),
    ("get", "/api/v1/cases/{n}/closing-check"),
    ("get", "/api/v1/cases/{n}/timeline"),
    ("get", "/api/v1/cases/{n}/history"),
    ("get", "/api/v1/cases/{n}/similar"),
    ("post", "/api/v1/cases/{n}/links"),
    ("post", "/api/v1/cases/{n}/swarm"),
    ("get", "/api/v1/search"),
    ("post", "/api/v1/articles"),
    ("get", "/api/v1/articles/{id}"),
    ("post", "/api/v1/defects"),
    ("get", "/api/v1/defects/{key}"),
    ("get", "/api/v1/reports/reopens"),
    ("get", "/api/v1/reports/reopens/cases"),
    ("get", "/api/v1/outbox"),
    ("post", "/api/v1/statuses/map"),
];

/// The storage protocol's routes (`docs/store-protocol.md`), service tokens only.
const STORE_PROTOCOL: &[(&str, &str)] = &[
    ("post", "/store/v1/cases"),
    ("post", "/store/v1/cases/query"),
    ("get", "/store/v1/cases/{n}"),
    ("post", "/store/v1/cases/{n}/commits"),
    ("get", "/store/v1/cases/{n}/history"),
    ("post", "/store/v1/cases/{n}/similar"),
    ("get", "/store/v1/cases/{n}/outbox"),
    ("post", "/store/v1/search"),
    ("post", "/store/v1/reports/reopens"),
    ("post", "/store/v1/reports/reopens/cases"),
    ("get", "/store/v1/people"),
    ("get", "/store/v1/people/{name}"),
    ("put", "/store/v1/people/{name}"),
    ("post", "/store/v1/articles"),
    ("get", "/store/v1/articles/{id}"),
    ("post", "/store/v1/defects"),
    ("get", "/store/v1/defects/{key}"),
    ("get", "/store/v1/outbox"),
    ("post", "/store/v1/outbox/claims"),
    ("post", "/store/v1/outbox/{id}/finish"),
    ("get", "/store/v1/tokens"),
    ("post", "/store/v1/tokens"),
    ("get", "/store/v1/tokens/by-hash/{hash}"),
    ("post", "/store/v1/tokens/{id}/revoke"),
    ("get", "/store/v1/stats"),
];

fn all_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    CONTRACT.iter().chain(STORE_PROTOCOL)
}

#[test]
fn the_document_lists_exactly_the_contracts_routes() {
    let doc: Value = serde_json::from_str(&crate::openapi::document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.push((method.clone(), path.clone()));
        }
    }
    listed.sort();
    let mut expected: Vec<(String, String)> = all_routes()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    // every operation but the two public ones needs the bearer token and documents 401
    for (method, path) in all_routes() {
        let op = &doc["paths"][path][method];
        let public = ["/healthz", "/openapi.json"].contains(path);
        assert_eq!(op["security"] == json!([{}]), public, "{method} {path}");
        assert_eq!(
            op["responses"]["401"].is_object(),
            !public,
            "{method} {path}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // limits in the document are the service's, written as literals in the attributes
    let maximum = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .map(|p| p["schema"]["maximum"].as_u64().unwrap())
            .unwrap()
    };
    let hits = u64::from(casework_core::limits::MAX_HITS);
    assert_eq!(maximum("/api/v1/search"), hits);
    assert_eq!(maximum("/api/v1/cases/{n}/similar"), hits);
    let outbox = u64::from(casework_core::limits::MAX_OUTBOX);
    assert_eq!(maximum("/api/v1/outbox"), outbox);
}

#[tokio::test]
async fn every_documented_route_is_served() {
    for (name, app) in stores().await {
        for (method, path) in all_routes() {
            let uri = path
                .replace("{n}", "1")
                .replace("{id}", "1")
                .replace("{key}", "BUG-1")
                .replace("{name}", "root")
                .replace("{hash}", "00");
            let r = call(&app, &method.to_uppercase(), &uri, Some(ADMIN), None, &[]).await;
            assert_ne!(
                r.body["detail"], "no such resource",
                "{name}: {method} {uri} is documented but not routed"
            );
            if path.starts_with("/store/") {
                is_problem(&r, StatusCode::FORBIDDEN); // an admin is not a service
            }
        }
    }
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let committed = include_str!("../../../docs/openapi.json");
    let generated = crate::openapi::document();
    assert!(
        generated == committed,
        "docs/openapi.json is stale: run `cargo xtask openapi` and commit it"
    );
    for (_, app) in stores().await {
        let req = Request::get("/openapi.json")
            .body(HttpBody::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(res.into_body(), 4 * 1024 * 1024)
            .await
            .unwrap();
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), committed);
    }
}

/// What `cargo xtask fuzz-api` (schemathesis) found, kept fixed: each was a 500, a schema
/// that did not match what the server does, or a status the contract does not give.
#[tokio::test]
async fn what_the_api_fuzzer_found_stays_fixed() {
    for (name, app) in stores().await {
        let c = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        assert_eq!(c.status, StatusCode::CREATED, "{name}");
        let n = c.body["number"].as_u64().unwrap();
        let case = |rest: &str| format!("/api/v1/cases/{n}{rest}");

        // the summary draft is not an email: was a 500 from the preview
        let r = call(
            &app,
            "POST",
            &case("/emails/preview"),
            Some(AGENT),
            Some(json!({"template": "case_summary"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        // preview checks lengths as sending does
        let long = "x".repeat(100_001);
        let r = call(
            &app,
            "POST",
            &case("/emails/preview"),
            Some(AGENT),
            Some(json!({"template": "initial_contact", "next_steps": long})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "next_steps", "{name}");

        // blank filters are absent filters; limits are checked, and named
        let r = call(
            &app,
            "GET",
            "/api/v1/cases?status=&owner=&product_area=&q=",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        let r = call(&app, "GET", "/api/v1/cases?limit=0", Some(AGENT), None, &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "limit");
        for uri in [
            "/api/v1/outbox?limit=2147483648",
            "/api/v1/search?q=x&limit=0",
            &case("/similar?limit=101"),
        ] {
            let r = call(&app, "GET", uri, Some(AGENT), None, &[]).await;
            is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(r.body["field"], "limit", "{uri}");
        }

        // a whole number is a whole number, 25.0 included
        let call_body = |minutes: Value| json!({"direction": "inbound", "duration_minutes": minutes, "notes": "n"});
        let r = call(
            &app,
            "POST",
            &case("/calls"),
            Some(AGENT),
            Some(call_body(json!(25.0))),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
        assert_eq!(r.body["duration_minutes"], 25);
        let r = call(
            &app,
            "POST",
            &case("/calls"),
            Some(AGENT),
            Some(call_body(json!(25.5))),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);

        // a reopen reason is only written by reopen
        let r = call(
            &app,
            "POST",
            &case("/posts"),
            Some(AGENT),
            Some(json!({"kind": "reopen_reason", "body": "b"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);

        // escalating an escalated case is a workflow refusal (409), not a bad request
        let r = call(
            &app,
            "POST",
            &case("/escalate"),
            Some(LEAD),
            Some(json!({"reason": "VIP"})),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
        let r = call(
            &app,
            "POST",
            &case("/escalate"),
            Some(LEAD),
            Some(json!({"reason": "VIP"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);

        // a taken defect key is a conflict; a length counts what was sent, spaces included
        let defect = |key: &str| json!({"key": key, "title": "t", "state": "open"});
        let r = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(defect("BUG-7")),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}");
        let r = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(defect("BUG-7")),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);
        let padded = format!("BUG-8{}", " ".repeat(60));
        let r = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(defect(&padded)),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn a_revoked_token_works_from_the_cache_until_its_ttl_then_stops() {
    // issue #11: the old version of this test passed with no cache at all. A test clock makes
    // both sides exact: the cached answer just inside the TTL, the refusal just past it.
    let svc = casework_core::testing::service(Arc::new(casework_store_memory::MemoryStore::new()));
    let root = Actor::system("test");
    let token = svc
        .create_token(&root, "Ana Lopez", Role::Admin, None, AGENT)
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let now = Arc::new(std::sync::Mutex::new(t0));
    let clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().unwrap()) as crate::MonotonicClock
    };
    let ttl = std::time::Duration::from_secs(1);
    let margin = std::time::Duration::from_millis(1);
    let app = router(AppState::with_auth_cache(
        svc.clone(),
        crate::AuthCache::with_clock(ttl, clock),
    ));
    let get = || call(&app, "GET", "/api/v1/cases", Some(AGENT), None, &[]);
    assert_eq!(get().await.status, StatusCode::OK, "authenticated at t0");
    svc.revoke_token(&root, &token.id).await.unwrap();
    *now.lock().unwrap() = t0 + ttl - margin;
    assert_eq!(
        get().await.status,
        StatusCode::OK,
        "inside the TTL the cached answer stands (the store already says revoked)"
    );
    *now.lock().unwrap() = t0 + ttl + margin;
    assert_eq!(
        get().await.status,
        StatusCode::UNAUTHORIZED,
        "past the TTL the store's answer does"
    );
    // and the refusal is not cached: it holds on every later request
    *now.lock().unwrap() = t0 + ttl * 2;
    assert_eq!(get().await.status, StatusCode::UNAUTHORIZED);

    // with no cache, a revocation takes effect on the next request
    let fresh = svc
        .create_token(&root, "Lee Park", Role::Admin, None, LEAD)
        .await
        .unwrap();
    let uncached = router(AppState::with_auth_ttl(
        svc.clone(),
        std::time::Duration::ZERO,
    ));
    let r = call(&uncached, "GET", "/api/v1/cases", Some(LEAD), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    svc.revoke_token(&root, &fresh.id).await.unwrap();
    let r = call(&uncached, "GET", "/api/v1/cases", Some(LEAD), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_auth_cache_forgets_after_its_ttl_and_stays_bounded() {
    let cache = crate::AuthCache::new(std::time::Duration::from_secs(1));
    let t0 = std::time::Instant::now();
    let actor = Actor::system("a");
    cache.put("h".into(), actor.clone(), t0);
    assert_eq!(
        cache.get("h", t0 + std::time::Duration::from_millis(999)),
        Some(actor.clone())
    );
    assert_eq!(cache.get("h", t0 + std::time::Duration::from_secs(1)), None);
    assert_eq!(cache.get("other", t0), None);
    for i in 0..crate::AuthCache::MAX_ENTRIES + 5 {
        cache.put(format!("k{i}"), actor.clone(), t0);
    }
    let size = cache.entries.lock().unwrap().len();
    assert!(size <= crate::AuthCache::MAX_ENTRIES, "{size}");
    let off = crate::AuthCache::new(std::time::Duration::ZERO);
    off.put("h".into(), actor, t0);
    assert_eq!(off.get("h", t0), None);
}

#[tokio::test]
async fn the_timeline_shows_each_emails_delivery_and_customers_see_only_whether_it_went() {
    for (name, app) in stores().await {
        let c = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let n = c.body["number"].as_u64().unwrap();
        let take = json!({"owner": "Ana Lopez"});
        let uri = format!("/api/v1/cases/{n}/assign");
        call(&app, "POST", &uri, Some(AGENT), Some(take), &[]).await;
        let sent = call(
            &app,
            "POST",
            &format!("/api/v1/cases/{n}/emails"),
            Some(AGENT),
            Some(json!({"template": "initial_contact"})),
            &[],
        )
        .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{name}: {:?}", sent.body);
        for (token, staff) in [(AGENT, true), (JORDAN, false)] {
            let t = call(
                &app,
                "GET",
                &format!("/api/v1/cases/{n}/timeline"),
                Some(token),
                None,
                &[],
            )
            .await;
            assert_eq!(t.status, StatusCode::OK, "{name}");
            let emails: Vec<&Value> = t
                .body
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "email_queued")
                .collect();
            assert_eq!(emails.len(), 1, "{name}: {}", t.body);
            let d = &emails[0]["delivery"];
            assert_eq!(d["status"], "queued", "{name}: {d}");
            assert_eq!(d["next_attempt_at"].is_string(), staff, "{name}: {d}");
            assert_eq!(d["attempts"], 0, "{name}: {d}");
            // other entries carry no delivery
            assert!(
                t.body
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["type"] != "email_queued")
                    .all(|e| e.get("delivery").is_none()),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn moving_into_the_escalated_status_is_an_escalation_over_http() {
    for (name, app) in stores().await {
        let c = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let n = c.body["number"].as_u64().unwrap();
        let uri = format!("/api/v1/cases/{n}/transition");
        let to = |note: Option<&str>| match note {
            Some(n) => json!({"status": "Escalated", "note": n}),
            None => json!({"status": "Escalated"}),
        };
        let r = call(&app, "POST", &uri, Some(AGENT), Some(to(Some("x"))), &[]).await;
        is_problem(&r, StatusCode::FORBIDDEN);
        let r = call(&app, "POST", &uri, Some(LEAD), Some(to(None)), &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "note", "{name}: {}", r.body);
        let r = call(&app, "POST", &uri, Some(LEAD), Some(to(Some("P1"))), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        assert_eq!(r.body["status"], "Escalated");
        let h = call(
            &app,
            "GET",
            &format!("/api/v1/cases/{n}/history"),
            Some(LEAD),
            None,
            &[],
        )
        .await;
        let last = h.body.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "escalated", "{name}: {last}");
        assert_eq!(last["reason"], "P1");
        // the initial-contact email of an unowned case is refused, naming why
        let r = call(
            &app,
            "POST",
            &format!("/api/v1/cases/{n}/emails"),
            Some(AGENT),
            Some(json!({"template": "initial_contact"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);
        assert!(
            r.body["detail"].as_str().unwrap().contains("no owner"),
            "{name}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_resolved_close_tells_the_customer_who_then_sees_the_resolution() {
    for (name, app) in stores().await {
        let req = |method: &'static str, uri: String, token: &'static str, body: Option<Value>| {
            let app = app.clone();
            async move { call(&app, method, &uri, Some(token), body, &[]).await }
        };
        let mut numbers = Vec::new();
        for _ in 0..2 {
            let c = req(
                "POST",
                "/api/v1/cases".into(),
                AGENT,
                Some(new_case("jordan@customer.example")),
            )
            .await;
            let n = c.body["number"].as_u64().unwrap();
            let edit = json!({"title": "Publishing fails", "product": "Server", "product_version": "11.3",
                "category": {"product_area": "Publishing", "functionality": "Services", "issue": "Config"}});
            let uri = format!("/api/v1/cases/{n}");
            let r = call(
                &app,
                "PATCH",
                &uri,
                Some(AGENT),
                Some(edit),
                &[("if-match", "\"1\"")],
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
            let summary = json!({"kind": "summary", "body": "Issue, environment, resolution."});
            req("POST", format!("{uri}/posts"), AGENT, Some(summary)).await;
            numbers.push(n);
        }
        let close = |notify: bool| {
            json!({"mode": "resolved", "primary_resolution": "Configuration",
                   "secondary_resolution": "Data store registered", "notify_customer": notify})
        };
        let r = req(
            "POST",
            format!("/api/v1/cases/{}/close", numbers[0]),
            AGENT,
            Some(close(true)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        let r = req(
            "POST",
            format!("/api/v1/cases/{}/close", numbers[1]),
            AGENT,
            Some(close(false)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        let outbox = req("GET", "/api/v1/outbox".into(), AGENT, None).await;
        let notices: Vec<u64> = outbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template"] == "resolution_notice")
            .map(|m| m["case"].as_u64().unwrap())
            .collect();
        assert_eq!(
            notices,
            [numbers[0]],
            "{name}: only the case closed with notify_customer"
        );
        // the customer sees the resolution on the case and on the closed entry of the timeline
        let seen = req("GET", format!("/api/v1/cases/{}", numbers[0]), JORDAN, None).await;
        assert_eq!(
            seen.body["resolution"]["primary"], "Configuration",
            "{name}: {}",
            seen.body
        );
        let timeline = req(
            "GET",
            format!("/api/v1/cases/{}/timeline", numbers[0]),
            JORDAN,
            None,
        )
        .await;
        let closed = timeline
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "closed")
            .unwrap()
            .clone();
        assert_eq!(
            closed["resolution"]["secondary"], "Data store registered",
            "{name}: {closed}"
        );
        // a non-response close cannot skip its closing email
        let c = req(
            "POST",
            "/api/v1/cases".into(),
            AGENT,
            Some(new_case("jordan@customer.example")),
        )
        .await;
        let n = c.body["number"].as_u64().unwrap();
        let quiet = json!({"mode": "non_response", "notify_customer": false});
        let r = req(
            "POST",
            format!("/api/v1/cases/{n}/close"),
            AGENT,
            Some(quiet),
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "notify_customer");
    }
}

#[tokio::test]
async fn the_reopen_report_takes_plain_dates_and_drills_down_for_staff_only() {
    for (name, app) in stores().await {
        let get = |uri: &str, token: &'static str| {
            let (app, uri) = (app.clone(), uri.to_string());
            async move { call(&app, "GET", &uri, Some(token), None, &[]).await }
        };
        // a case closed temporarily by its owner and reopened with a reason
        let c = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let n = c.body["number"].as_u64().unwrap();
        for (uri, token, body) in [
            ("assign", AGENT, json!({"owner": "Ana Lopez"})),
            ("close", AGENT, json!({"mode": "temporary"})),
            (
                "reopen",
                LEAD,
                json!({"reason": "MARKER-REASON the customer is back"}),
            ),
        ] {
            let r = call(
                &app,
                "POST",
                &format!("/api/v1/cases/{n}/{uri}"),
                Some(token),
                Some(body),
                &[],
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{name} {uri}: {}", r.body);
        }
        // the fixed clock stands at 2026-01-05: plain dates around it
        let rows = get(
            "/api/v1/reports/reopens?group_by=owner&from=2026-01-01&to=2026-02-01",
            LEAD,
        )
        .await;
        assert_eq!(rows.status, StatusCode::OK, "{name}: {}", rows.body);
        assert_eq!(rows.body[0]["key"], "Ana Lopez", "{name}: {}", rows.body);
        assert_eq!(rows.body[0]["temporarily_closed"], 1);
        assert_eq!(rows.body[0]["reopened_from_temporary"], 1);
        let none = get(
            "/api/v1/reports/reopens?group_by=owner&from=2026-01-06",
            LEAD,
        )
        .await;
        assert_eq!(none.body, json!([]), "{name}: nothing closed from the 6th");
        let timed = get(
            "/api/v1/reports/reopens?group_by=owner&to=2026-01-05T09:00:00Z",
            LEAD,
        )
        .await;
        assert_eq!(
            timed.body,
            json!([]),
            "{name}: the close is after 09:00, the end is excluded"
        );
        let bad = get("/api/v1/reports/reopens?group_by=owner&from=January", LEAD).await;
        is_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.body["field"], "from", "{name}: {}", bad.body);
        // the drill-down: the case and its reopen reason, for staff
        let uri = "/api/v1/reports/reopens/cases?group_by=owner&key=Ana%20Lopez&from=2026-01-01";
        let cases = get(uri, LEAD).await;
        assert_eq!(cases.status, StatusCode::OK, "{name}: {}", cases.body);
        assert_eq!(cases.body["items"][0]["number"], n);
        assert_eq!(
            cases.body["items"][0]["reopens"][0]["reason"],
            "MARKER-REASON the customer is back"
        );
        assert_eq!(cases.body["next_cursor"], Value::Null);
        // reasons are internal: no customer reads them
        for token in [JORDAN, EVE] {
            let r = get(uri, token).await;
            is_problem(&r, StatusCode::FORBIDDEN);
            assert!(!r.body.to_string().contains("MARKER-REASON"));
        }
        let blank = get("/api/v1/reports/reopens/cases?group_by=owner&key=%20", LEAD).await;
        is_problem(&blank, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(blank.body["field"], "key", "{name}: {}", blank.body);
    }
}

#[tokio::test]
async fn renaming_a_status_strands_nothing_an_admin_cannot_move() {
    let stores: Vec<(&str, Arc<dyn CaseStore>)> = vec![
        (
            "memory",
            Arc::new(casework_store_memory::MemoryStore::new()),
        ),
        (
            "sqlite",
            Arc::new(casework_store_sqlite::SqliteStore::open_url("sqlite::memory:").unwrap()),
        ),
    ];
    for (name, store) in stores {
        // two cases opened under the default workflow ("New")
        let before = app(store.clone()).await;
        for _ in 0..2 {
            let r = call(
                &before,
                "POST",
                "/api/v1/cases",
                Some(AGENT),
                Some(new_case("jordan@customer.example")),
                &[],
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        // the same store, served with a workflow file that renamed New to Open
        let svc = casework_core::CaseService::new(
            store.clone(),
            Arc::new(casework_core::testing::FixedClock::default()),
            Arc::new(casework_core::testing::SequentialIds::default()),
            Arc::new(casework_core::testing::renamed_workflow()),
            Arc::new(casework_core::Templates::embedded().unwrap()),
        );
        let after = router(AppState::new(svc));
        // an unknown status in a filter is an error naming the field and the statuses
        for status in ["Nope", "New"] {
            let r = call(
                &after,
                "GET",
                &format!("/api/v1/cases?status={status}"),
                Some(AGENT),
                None,
                &[],
            )
            .await;
            is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(r.body["field"], "status", "{name}: {}", r.body);
            assert!(
                r.body["statuses"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("Open")),
                "{name}: {}",
                r.body
            );
            assert!(
                r.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Open, In Progress"),
                "{name}: {}",
                r.body
            );
        }
        let r = call(
            &after,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "Nope"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "status");
        // a stranded case cannot move by transitions, and says how to fix it
        let r = call(
            &after,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);
        assert!(
            r.body["detail"].as_str().unwrap().contains("status map"),
            "{name}: {}",
            r.body
        );
        // only admins map statuses
        let map = json!({"from": "New", "to": "Open"});
        for token in [AGENT, LEAD, JORDAN] {
            let r = call(
                &after,
                "POST",
                "/api/v1/statuses/map",
                Some(token),
                Some(map.clone()),
                &[],
            )
            .await;
            is_problem(&r, StatusCode::FORBIDDEN);
        }
        let r = call(
            &after,
            "POST",
            "/api/v1/statuses/map",
            Some(ADMIN),
            Some(json!({"from": "New", "to": "Nope"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "to", "{name}: {}", r.body);
        let r = call(
            &after,
            "POST",
            "/api/v1/statuses/map",
            Some(ADMIN),
            Some(map.clone()),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        assert_eq!(
            r.body,
            json!({"from": "New", "to": "Open", "moved": 2, "skipped": []})
        );
        let open = call(
            &after,
            "GET",
            "/api/v1/cases?status=open",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(
            open.body["items"].as_array().unwrap().len(),
            2,
            "{name}: {}",
            open.body
        );
        let h = call(
            &after,
            "GET",
            "/api/v1/cases/2/history",
            Some(LEAD),
            None,
            &[],
        )
        .await;
        let last = h.body.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "status_mapped", "{name}: {last}");
        assert_eq!(
            (last["from"].clone(), last["to"].clone()),
            (json!("New"), json!("Open"))
        );
        // nothing is left to move; the cases move by the workflow again
        let r = call(
            &after,
            "POST",
            "/api/v1/statuses/map",
            Some(ADMIN),
            Some(map),
            &[],
        )
        .await;
        assert_eq!(r.body["moved"], 0);
        let r = call(
            &after,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
    }
}
