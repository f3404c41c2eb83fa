//! In-process tests of the API with `tower::ServiceExt::oneshot`, on the memory store and
//! on SQLite: the same requests, the same answers. This file holds what every test uses;
//! the tests are by subject: `workflow.rs` (cases through the API), `access.rs` (the access
//! matrix and the storage protocol's door), `server.rs` (sockets, timeouts, limits),
//! `contract.rs` (the OpenAPI document and the fuzzer's findings), `auth.rs` (tokens and
//! their cache), `input.rs` (what input is refused), `inbound.rs` (raw email in),
//! `attachments.rs` (files: upload, list, download).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode, header};
use casework_core::model::{Actor, Person, Role};
use casework_core::ports::CaseStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};

mod access;
mod attachments;
mod auth;
mod contract;
mod inbound;
mod input;
mod server;
mod workflow;

pub(crate) const ADMIN: &str = "cw_admin_0000000000000000000000000000000000";
pub(crate) const AGENT: &str = "cw_agent_0000000000000000000000000000000000";
pub(crate) const LEAD: &str = "cw_lead_00000000000000000000000000000000000";
pub(crate) const JORDAN: &str = "cw_jordan_000000000000000000000000000000000";
pub(crate) const EVE: &str = "cw_eve_0000000000000000000000000000000000000";

pub(crate) async fn app(store: Arc<dyn CaseStore>) -> axum::Router {
    staffed(casework_core::testing::service(store)).await
}

/// The router over `svc` (with the header-only mail parser), after registering the staff
/// and the tokens every test uses.
pub(crate) async fn staffed(svc: casework_core::CaseService) -> axum::Router {
    let svc = svc.with_mail_parser(Arc::new(casework_core::testing::HeaderParser));
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
            notifications_off: Vec::new(),
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

pub(crate) async fn stores() -> Vec<(&'static str, axum::Router)> {
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

pub(crate) struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    body: Value,
}

pub(crate) async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let body = body.map(|b| ("application/json".to_string(), b.to_string().into_bytes()));
    let (status, headers, bytes) = call_raw(app, method, uri, token, body, extra).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// A request with any body (its content type and bytes), answered with the raw bytes.
pub(crate) async fn call_raw(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<(String, Vec<u8>)>,
    extra: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some((content_type, bytes)) => req
            .header(header::CONTENT_TYPE, content_type)
            .body(HttpBody::from(bytes)),
        None => req.body(HttpBody::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

/// A `multipart/form-data` body (its content type and bytes) of `(name, filename, type,
/// bytes)` parts; a part without a file name is a plain field.
pub(crate) fn form(parts: &[(&str, Option<&str>, &str, &[u8])]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "----casework-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file_name, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

pub(crate) fn new_case(email: &str) -> Value {
    json!({
        "title": "Map service fails to publish",
        "description": "Error 999999",
        "origin": "phone",
        "customer": { "name": "Jordan Smith", "email": email }
    })
}

pub(crate) fn is_problem(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(r.body["status"], status.as_u16());
    assert!(
        r.body["title"].is_string() && r.body["detail"].is_string(),
        "{}",
        r.body
    );
}
