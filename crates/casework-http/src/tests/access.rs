//! The access matrix (QUALITY.md recipe 4): every route, every principal, both customers'
//! cases, on both stores; and the storage protocol's door, which the workflow file decides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::StatusCode;
use casework_core::model::{Actor, Role};
use serde_json::{Value, json};

use super::contract::STORE_PROTOCOL;
use super::*;

pub(crate) const MARKER: &str = "MARKER-7f3a-internal";

/// Principals, in the order of the expectation columns; the service principal last, with
/// its own expectations ([`service_expects`]).
pub(crate) const PRINCIPALS: [(&str, Option<&str>); 8] = [
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
pub(crate) fn service_expects(uri: &str) -> u16 {
    if uri == "/healthz" { 200 } else { 403 }
}

pub(crate) const SERVICE: &str = "cw_service_000000000000000000000000000000";

/// Calls and asserts the status: a set-up step that fails would leave the matrix checking
/// less than it claims.
pub(crate) async fn step(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Value,
    status: u16,
) {
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
pub(crate) async fn matrix_app(sqlite: bool) -> axum::Router {
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
        // a customer-visible file and an internal one whose name and bytes carry the marker
        let internal_name = format!("{MARKER}.txt");
        for (visibility, name, bytes) in [
            ("customer", "visible.txt", b"visible file".as_slice()),
            ("internal", internal_name.as_str(), MARKER.as_bytes()),
        ] {
            let parts = form(&[
                ("visibility", None, "", visibility.as_bytes()),
                ("files", Some(name), "text/plain", bytes),
            ]);
            let (status, _, _) = call_raw(
                &app,
                "POST",
                &at("/attachments"),
                Some(AGENT),
                Some(parts),
                &[],
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "set-up {visibility} file");
        }
        let now = call(&app, "GET", &case, Some(AGENT), None, &[]).await;
        assert_eq!(now.body["status"], "New", "{}", now.body);
    }
    app
}

/// The version case `n` is at (the same for both matrix cases).
pub(crate) async fn version_of(app: &axum::Router, n: u64) -> u64 {
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
pub(crate) fn case_routes() -> Vec<(&'static str, &'static str, Option<Value>, [u16; 7])> {
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
        // a multipart form ([`UPLOAD`]); the files' ids are the case's ([`file_ids`])
        (
            "POST",
            "/attachments",
            Some(json!(UPLOAD)),
            [201, 404, 201, 201, 201, 401, 401],
        ),
        (
            "GET",
            "/attachments",
            None,
            [200, 404, 200, 200, 200, 401, 401],
        ),
        (
            "GET",
            "/attachments/VISIBLE",
            None,
            [200, 404, 200, 200, 200, 401, 401],
        ),
        (
            "GET",
            "/attachments/INTERNAL",
            None,
            [404, 404, 200, 200, 200, 401, 401],
        ),
    ]
}

/// The body of the upload route in [`case_routes`]: sent as a multipart form with one file.
pub(crate) const UPLOAD: &str = "multipart upload";

/// The ids of case `n`'s customer-visible and internal files in a [`matrix_app`] (every
/// one makes the same ids).
pub(crate) async fn file_ids(app: &axum::Router, n: u64) -> (String, String) {
    let uri = format!("/api/v1/cases/{n}/attachments");
    let r = call(app, "GET", &uri, Some(AGENT), None, &[]).await;
    let files = r.body.as_array().unwrap();
    let id = |visibility: &str| {
        files
            .iter()
            .find(|f| f["visibility"] == visibility)
            .and_then(|f| f["id"].as_str())
            .unwrap()
            .to_string()
    };
    (id("customer"), id("internal"))
}

/// A matrix request: the upload route's [`UPLOAD`] body as a form, any other as JSON;
/// answered with the status and the body as text (a download's bytes included).
pub(crate) async fn matrix_call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let body = body.map(|b| {
        if b == json!(UPLOAD) {
            form(&[("files", Some("new.txt"), "text/plain", b"new file")])
        } else {
            ("application/json".to_string(), b.to_string().into_bytes())
        }
    });
    let (status, _, bytes) = call_raw(app, method, uri, token, body, extra).await;
    (
        status.as_u16(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Routes not on one case, with the expected status for each principal.
pub(crate) fn other_routes() -> Vec<(&'static str, &'static str, Option<Value>, [u16; 7])> {
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
            "/api/v1/outbox/nope/retry",
            None,
            [403, 403, 404, 404, 404, 401, 401],
        ),
        (
            "POST",
            "/api/v1/outbox/nope/cancel",
            None,
            [403, 403, 404, 404, 404, 401, 401],
        ),
        (
            "GET",
            "/api/v1/events?limit=500",
            None,
            [200, 200, 200, 200, 200, 401, 401],
        ),
        (
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "https://hooks.example.com/casework", "events": ["case.opened"]})),
            [403, 403, 403, 403, 201, 401, 401],
        ),
        (
            "GET",
            "/api/v1/webhooks",
            None,
            [403, 403, 403, 403, 200, 401, 401],
        ),
        (
            "DELETE",
            "/api/v1/webhooks/ep_nope",
            None,
            [403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "GET",
            "/api/v1/webhooks/ep_nope/deliveries",
            None,
            [403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "POST",
            "/api/v1/webhooks/ep_nope/deliveries/msg_1_ep_nope/redeliver",
            None,
            [403, 403, 403, 403, 404, 401, 401],
        ),
        (
            "POST",
            "/api/v1/statuses/map",
            Some(json!({"from": "Gone", "to": "New"})),
            [403, 403, 403, 403, 200, 401, 401],
        ),
        // one's own notification settings, or anyone's for an admin
        (
            "GET",
            "/api/v1/people/Ana%20Lopez/notifications",
            None,
            [403, 403, 200, 403, 200, 401, 401],
        ),
        (
            "PUT",
            "/api/v1/people/Ana%20Lopez/notifications",
            Some(json!({"off": ["assigned"]})),
            [403, 403, 200, 403, 200, 401, 401],
        ),
    ]
}

/// The storage protocol's routes (every one, the document's list is checked against it),
/// with what a service token gets; everyone else is refused (403, or 401 without a valid
/// token). Bodies are valid where a 2xx is cheap to reach, and otherwise pass the gate and
/// fail on the body (422), which still shows the gate let the service in.
pub(crate) fn store_routes() -> Vec<(&'static str, String, Option<Value>, u16)> {
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
        (
            "POST",
            "/store/v1/cases/latest",
            Some(json!({"customer": "c@customer.example", "limit": 5})),
            200,
        ),
        (
            "POST",
            "/store/v1/cases/by-message-id",
            Some(json!({"message_id": "a@customer.example", "limit": 5})),
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
        (
            "POST",
            "/store/v1/outbox/nope/bounced",
            Some(json!({"error": "550 5.1.1 user unknown"})),
            404,
        ),
        (
            "POST",
            "/store/v1/outbox/nope/act",
            Some(json!({"action": "cancel", "now": "2026-01-01T00:00:00Z"})),
            404,
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
        ("GET", "/store/v1/feed?after=0&limit=10", None, 200),
        (
            "POST",
            "/store/v1/quarantine",
            Some(json!({
                "id": "q-new", "received_at": "2026-01-05T09:00:00Z", "source": "http",
                "reason": "r", "raw": "RnJvbTogeA=="
            })),
            204,
        ),
        ("GET", "/store/v1/quarantine?limit=10", None, 200),
        ("GET", "/store/v1/quarantine/nope", None, 404),
        ("GET", "/store/v1/cases/1/attachments", None, 200),
        ("GET", "/store/v1/attachments/nope", None, 404),
        ("DELETE", "/store/v1/quarantine/nope", None, 404),
        (
            "POST",
            "/store/v1/mailboxes/position",
            Some(json!({"mailbox": "imap://desk@127.0.0.1:143/INBOX"})),
            200,
        ),
        (
            "POST",
            "/store/v1/mailboxes/advance",
            Some(json!({
                "mailbox": "imap://desk@127.0.0.1:143/INBOX",
                "position": {"uid_validity": 7, "last_uid": 3}
            })),
            200,
        ),
        ("GET", "/store/v1/webhooks", None, 200),
        (
            "POST",
            "/store/v1/webhooks",
            Some(json!({
                "id": "ep_x", "url": "https://hooks.example.com/x", "events": [],
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "created_by": "x",
                "created_at": "2026-01-05T09:00:00Z", "removed_at": null
            })),
            204,
        ),
        (
            "POST",
            "/store/v1/webhooks/nope/remove",
            Some(json!({"at": "2026-01-05T09:00:00Z"})),
            404,
        ),
        (
            "GET",
            "/store/v1/webhooks/nope/deliveries?limit=5",
            None,
            404,
        ),
        (
            "POST",
            "/store/v1/webhook-deliveries/claims",
            Some(
                json!({"worker": "w", "now": "2026-01-05T09:00:00Z", "until": "2026-01-05T09:05:00Z", "limit": 5}),
            ),
            200,
        ),
        (
            "POST",
            "/store/v1/webhook-deliveries/nope/finish",
            Some(json!({"worker": "w"})),
            422,
        ),
        (
            "POST",
            "/store/v1/webhook-deliveries/nope/redeliver",
            Some(json!({"at": "2026-01-05T09:00:00Z"})),
            404,
        ),
    ];
    let hash = casework_core::model::token_hash(AGENT);
    routes
        .into_iter()
        .map(|(m, uri, body, status)| (m, uri.replace("HASH", &hash), body, status))
        .collect()
}

#[tokio::test]
pub(crate) async fn the_access_matrix_holds_for_every_route_principal_and_case() {
    let mut cells = 0;
    for sqlite in [false, true] {
        let store = if sqlite { "sqlite" } else { "memory" };
        let version = version_of(&matrix_app(sqlite).await, 1).await;
        let etag = format!("\"{version}\"");
        // object routes, on A's case (1) and on B's case (2): the customer columns swap
        for (number, owner_first) in [(1, true), (2, false)] {
            let (visible, internal) = file_ids(&matrix_app(sqlite).await, number).await;
            for (method, suffix, body, expected) in case_routes() {
                for (i, (who, token)) in PRINCIPALS.iter().enumerate() {
                    let app = matrix_app(sqlite).await;
                    let suffix = suffix
                        .replace("VISIBLE", &visible)
                        .replace("INTERNAL", &internal);
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
                    let (status, text) =
                        matrix_call(&app, method, &uri, *token, body.clone(), extra).await;
                    assert_eq!(status, want, "{store}: {who} {method} {uri}: {text}");
                    if i < 2 {
                        assert!(
                            !text.contains(MARKER),
                            "{store}: {who} {method} {uri} leaked an internal field: {text}"
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
    assert_eq!(cells, 2 * (2 * 23 + 18 + 49) * 8);
}

#[tokio::test]
pub(crate) async fn the_workflow_file_decides_who_speaks_the_storage_protocol() {
    // issue #12: /store/v1 checked `role == service` in HTTP, and the workflow file's
    // `service = ["store"]` was never read; now core decides with the `store` permission
    let default = casework_core::config::DEFAULT_WORKFLOW;
    let without = default.replace(r#"service = ["store", "ingest_mail"]"#, "service = []");
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
pub(crate) fn the_matrix_covers_every_storage_protocol_route() {
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
                .replace("/tokens/nope/", "/tokens/{id}/")
                .replace("/quarantine/nope", "/quarantine/{id}")
                .replace("/attachments/nope", "/attachments/{id}")
                .replace("/webhooks/nope/", "/webhooks/{id}/")
                .replace("/webhook-deliveries/nope/", "/webhook-deliveries/{id}/");
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
pub(crate) async fn staff_see_the_marker_so_the_matrix_would_notice_a_leak() {
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
    // the internal file: its name in the staff list, its bytes in the staff download
    let (_, internal) = file_ids(&app, 1).await;
    let (_, list) = matrix_call(
        &app,
        "GET",
        "/api/v1/cases/1/attachments",
        Some(AGENT),
        None,
        &[],
    )
    .await;
    assert!(list.contains(MARKER), "{list}");
    let uri = format!("/api/v1/cases/1/attachments/{internal}");
    let (status, bytes) = matrix_call(&app, "GET", &uri, Some(AGENT), None, &[]).await;
    assert_eq!((status, bytes.as_str()), (200, MARKER));
}

#[tokio::test]
async fn a_customers_feed_holds_their_cases_as_they_may_see_them_and_staff_get_everything() {
    for sqlite in [false, true] {
        let app = matrix_app(sqlite).await;
        let feed = |token: &'static str, after: u64, limit: u32| {
            let app = app.clone();
            async move {
                let uri = format!("/api/v1/events?after={after}&limit={limit}");
                let r = call(&app, "GET", &uri, Some(token), None, &[]).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                r.body
            }
        };
        let staff = feed(AGENT, 0, 500).await;
        let all = staff["items"].as_array().unwrap();
        let cases = |items: &[Value]| -> std::collections::BTreeSet<u64> {
            items
                .iter()
                .map(|i| i["event"]["case"].as_u64().unwrap())
                .collect()
        };
        assert_eq!(cases(all), [1, 2].into(), "staff follow every case");
        assert!(staff.to_string().contains(MARKER), "staff get whole events");
        let history = call(
            &app,
            "GET",
            "/api/v1/cases/1/history",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        let of_one: Vec<&Value> = all
            .iter()
            .filter(|i| i["event"]["case"] == 1)
            .map(|i| &i["event"])
            .collect();
        assert_eq!(
            of_one,
            history.body.as_array().unwrap().iter().collect::<Vec<_>>()
        );
        assert_eq!(staff["next_after"], all.last().unwrap()["position"]);

        let mine = feed(JORDAN, 0, 500).await;
        let items = mine["items"].as_array().unwrap();
        assert!(!items.is_empty());
        assert_eq!(cases(items), [1].into(), "only the customer's own case");
        assert!(
            !mine.to_string().contains(MARKER),
            "nothing internal: {mine}"
        );
        assert!(mine.to_string().contains("visible note"));
        // followed a page at a time, the customer sees the same, each once
        let (mut after, mut seen) = (0, Vec::new());
        loop {
            let page = feed(JORDAN, after, 2).await;
            let next = page["next_after"].as_u64().unwrap();
            if next == after {
                break;
            }
            seen.extend(page["items"].as_array().unwrap().iter().cloned());
            after = next;
        }
        assert_eq!(&seen, items);
        // past the end: empty, and the position stays
        let end = feed(JORDAN, after, 10).await;
        assert_eq!(end["items"], json!([]));
        assert_eq!(end["next_after"], after);
    }
}

#[tokio::test]
async fn a_long_poll_answers_when_an_event_is_committed_and_its_wait_is_bounded() {
    let app = matrix_app(false).await;
    let end = call(
        &app,
        "GET",
        "/api/v1/events?limit=500",
        Some(AGENT),
        None,
        &[],
    )
    .await;
    let after = end.body["next_after"].as_u64().unwrap();
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move {
            let uri = format!("/api/v1/events?after={after}&wait=20");
            call(&app, "GET", &uri, Some(AGENT), None, &[]).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "nothing new: it waits");
    let post = json!({"kind": "note", "body": "news"});
    step(&app, "POST", "/api/v1/cases/2/posts", AGENT, post, 201).await;
    let r = waiting.await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.body);
    assert_eq!(items[0]["event"]["body"], "news");
    // a wait past the bound is refused, naming the field
    let r = call(
        &app,
        "GET",
        "/api/v1/events?wait=26",
        Some(AGENT),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains("wait"), "{}", r.body);
}
