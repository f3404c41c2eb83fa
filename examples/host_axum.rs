//! Casework inside an existing axum application: its router mounted under `/support`, and
//! the host's own sign-in (here, a session header the host checks against its own users)
//! mapped to Casework's actors, so the host's users need no Casework token. Run with
//! `cargo run --example host_axum` (a few requests in-process, printed) or with
//! `-- --serve 127.0.0.1:8080` to serve it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Router, body::to_bytes};
use casework_core::CaseService;
use casework_core::model::{Actor, Person, Role};
use casework_core::ports::{RandomIds, SystemClock};
use casework_http::{AppState, Identified};
use casework_store_sqlite::SqliteStore;
use tower::ServiceExt;

/// The host application's own users, by session: who they are to Casework.
#[derive(Clone)]
struct HostUsers {
    agent: Actor,
}

impl HostUsers {
    fn by_session(&self, session: &str) -> Option<Actor> {
        match session {
            "s-alice" => Some(self.agent.clone()),
            "s-dana" => "dana@example.com"
                .parse()
                .ok()
                .map(|email| Actor::customer("Dana Smith", email).with_principal("host:dana")),
            _ => None,
        }
    }
}

/// The host's authentication, mapped to Casework's actors: a request with a known session
/// reaches Casework as that actor; any other reaches it as nobody (Casework then asks for a
/// token, and answers 401 without one).
async fn sign_in(State(users): State<HostUsers>, mut request: Request, next: Next) -> Response {
    let session = request
        .headers()
        .get("x-host-session")
        .and_then(|v| v.to_str().ok());
    if let Some(actor) = session.and_then(|s| users.by_session(s)) {
        request.extensions_mut().insert(Identified(actor));
    }
    next.run(request).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(SqliteStore::open_url("sqlite::memory:")?);
    let (clock, ids) = (Arc::new(SystemClock), Arc::new(RandomIds::new()));
    let service = CaseService::with_defaults(store, clock, ids)?;
    let alice = service
        .register(None, Person::new("Alice Kim", Role::Agent))
        .await?;
    let users = HostUsers {
        agent: Actor::from_person(&alice).with_principal("host:alice"),
    };

    let casework = casework_http::router(AppState::new(service));
    let app = Router::new()
        .route("/", get(|| async { "the host application's home page" }))
        .nest("/support", casework)
        .layer(middleware::from_fn_with_state(users, sign_in));

    if let Some(addr) = std::env::args().skip_while(|a| a != "--serve").nth(1) {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("serving on http://{addr}/ (Casework under /support)");
        axum::serve(listener, app).await?;
        return Ok(());
    }

    let new_case = r#"{"title": "Invoice PDF is blank", "description": "Since Monday.",
        "origin": "web", "customer": {"name": "Dana Smith", "email": "dana@example.com"}}"#;
    for (method, path, session, body) in [
        ("GET", "/", None, None),
        ("GET", "/support/api/v1/cases", None, None),
        (
            "POST",
            "/support/api/v1/cases",
            Some("s-dana"),
            Some(new_case),
        ),
        ("GET", "/support/api/v1/cases", Some("s-alice"), None),
        (
            "GET",
            "/support/api/v1/cases/1/history",
            Some("s-dana"),
            None,
        ),
        (
            "GET",
            "/support/api/v1/cases/1/history",
            Some("s-alice"),
            None,
        ),
    ] {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(s) = session {
            request = request.header("x-host-session", s);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(body.map_or_else(Body::empty, Body::from))?;
        let response = app.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 20).await?;
        println!(
            "{method} {path} as {}: {}",
            session.unwrap_or("nobody"),
            status.as_u16()
        );
        if status == StatusCode::OK || status == StatusCode::CREATED {
            println!("  {}", summary(&bytes));
        }
    }
    Ok(())
}

/// One line about a response body: its items, its events or its case.
fn summary(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text.into_owned();
    };
    if let Some(items) = value.get("items").and_then(|i| i.as_array()) {
        let titles: Vec<&str> = items.iter().filter_map(|c| c["title"].as_str()).collect();
        return format!("{} case(s): {}", items.len(), titles.join("; "));
    }
    if let Some(events) = value.as_array() {
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        return format!("events: {}", kinds.join(", "));
    }
    format!(
        "case {} for {}",
        value["display_number"], value["customer"]["email"]
    )
}
