//! Casework's desk (agents, leads, admins) and portal (customers) as a library:
//! `router(state)` gives an axum `Router` of server-rendered HTML pages over the core
//! service, which the composition root mounts at `/` beside the JSON API.
//!
//! - Every page works without JavaScript: links, GET filter forms, and POST forms answered
//!   with a redirect (post/redirect/get). htmx (vendored, [`assets`]) only enhances: the
//!   email preview follows what the agent types, a case's similar cases are filled in after
//!   its page (a link without JavaScript), a long timeline's earlier entries come in place.
//! - Templates are askama's, compiled into the binary and checked at build time, and they
//!   escape HTML by default: text a customer typed is data, never markup.
//! - Every POST carries a CSRF token bound to the session ([`csrf`]); who is asking comes
//!   from an [`Identify`] ([`identify`]), the seam sign-in plugs into.
//! - No workflow rule lives here: handlers parse, call [`CaseService`], and render what it
//!   answers; a refusal is shown next to the field the service names.
//!
//! Where to start reading: [`router`], then `desk.rs` (the case list and the case page),
//! `portal.rs`, `files.rs` (files posted with a form, and downloads), `reports.rs`, `admin.rs`; `page.rs` holds what every page shares.

mod admin;
pub mod assets;
pub mod credentials;
pub mod csrf;
mod desk;
mod files;
pub mod identify;
mod page;
mod portal;
mod reports;
pub mod sign_in;
mod timeline;
pub mod timeline_cache;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use casework_core::CaseService;

pub use credentials::SystemCredentials;
pub use csrf::CsrfKey;
pub use identify::{Identify, NoSignIn, Visitor};
pub use sign_in::SessionCookies;
pub use timeline_cache::TimelineCache;

/// What the pages share.
#[derive(Clone)]
pub struct WebState {
    /// The core service, over whatever store the composition root chose.
    pub service: CaseService,
    /// Who is asking.
    pub identify: Arc<dyn Identify>,
    /// The CSRF tokens' key.
    pub csrf: Arc<CsrfKey>,
    /// Whether the server is reached over TLS (cookies are then `Secure`); a request with
    /// `X-Forwarded-Proto: https` gets `Secure` cookies either way.
    pub secure_cookies: bool,
    /// The site's address as customers reach it, which emailed sign-in links point to
    /// (never taken from a request's `Host`, which a caller chooses); without it, links are
    /// refused as unavailable.
    pub public_url: Option<String>,
    /// Rendered timelines, per case and audience ([`timeline_cache`]).
    pub timelines: Arc<TimelineCache>,
}

impl WebState {
    /// State over a service, identifying visitors with `identify`.
    pub fn new(service: CaseService, identify: Arc<dyn Identify>, csrf: CsrfKey) -> Self {
        Self {
            service,
            identify,
            csrf: Arc::new(csrf),
            secure_cookies: false,
            public_url: None,
            timelines: Arc::default(),
        }
    }

    /// The same state, with the address sign-in links point to.
    pub fn with_public_url(self, url: impl Into<String>) -> Self {
        Self {
            public_url: Some(url.into()),
            ..self
        }
    }

    /// The same state, marking every cookie `Secure` (the server is behind TLS).
    pub fn with_secure_cookies(self, secure: bool) -> Self {
        Self {
            secure_cookies: secure,
            ..self
        }
    }
}

/// Largest form body accepted (a post may be long); a form with files may also carry the
/// workflow file's `[attachments] max_message_bytes`.
pub const MAX_FORM: usize = 1024 * 1024;

/// The content security policy of every response: nothing but this origin's own files, no
/// inline script or style, no framing, forms posting only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
    object-src 'none'";

/// The pages and their assets. Serve them inside the JSON API's request layers
/// (`casework_http::with_request_layers`, as `casework serve` does): among them, the one that
/// reads a form refused as too large to its end, so a browser, which sends a whole form
/// before it reads an answer, shows the page saying why rather than a reset connection.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(page::home))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-in/link", post(sign_in::ask_for_link))
        .route("/sign-in/link/use", post(sign_in::use_link))
        .route("/sign-in/link/{secret}", get(sign_in::link_page))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/sign-out/everywhere", post(sign_in::sign_out_everywhere))
        .route("/assets/{file}", get(assets::serve))
        // the desk
        .route("/cases", get(desk::list))
        .route("/cases/go", get(desk::jump))
        .route("/cases/{number}", get(desk::case_page))
        .route("/cases/{number}/similar", get(desk::similar))
        .route("/cases/{number}/edit", desk::route(&desk::EDIT))
        .route(
            "/cases/{number}/confirm-title",
            desk::route(&desk::CONFIRM_TITLE),
        )
        .route("/cases/{number}/take", desk::route(&desk::TAKE))
        .route("/cases/{number}/assign", desk::route(&desk::ASSIGN))
        .route("/cases/{number}/transition", desk::route(&desk::TRANSITION))
        .route("/cases/{number}/escalate", desk::route(&desk::ESCALATE))
        .route("/cases/{number}/calls", desk::route(&desk::LOG_CALL))
        .route("/cases/{number}/posts", desk::route(&desk::ADD_POST))
        .route(
            "/cases/{number}/contacts",
            desk::route(&desk::RECORD_CONTACT),
        )
        .route("/cases/{number}/emails/preview", post(desk::preview_email))
        .route("/cases/{number}/emails", desk::route(&desk::SEND_EMAIL))
        .route("/cases/{number}/links", desk::route(&desk::LINK))
        .route("/cases/{number}/swarm", desk::route(&desk::SWARM))
        .route("/cases/{number}/close", desk::route(&desk::CLOSE))
        .route("/cases/{number}/reopen", desk::route(&desk::REOPEN))
        .route(
            "/cases/{number}/attachments",
            post(desk::attach_files).layer(DefaultBodyLimit::max(page::upload_limit(&state))),
        )
        .route("/cases/{number}/files/{id}", get(files::desk_download))
        .route("/admin/people", get(admin::people).post(admin::save_person))
        .route("/admin/people/password", post(admin::set_password))
        .route("/admin/tokens", get(admin::tokens).post(admin::issue_token))
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/admin/outbox", get(admin::outbox))
        .route("/admin/outbox/{id}/retry", post(admin::retry_email))
        .route("/admin/outbox/{id}/cancel", post(admin::cancel_email))
        .route("/admin/quarantine", get(admin::quarantine))
        .route("/admin/quarantine/{id}", get(admin::quarantined))
        .route(
            "/admin/quarantine/{id}/release",
            post(admin::release_quarantined),
        )
        .route("/admin/quarantine/{id}/drop", post(admin::drop_quarantined))
        .route("/reports/reopens", get(reports::reopens))
        .route("/reports/reopens/cases", get(reports::reopen_cases))
        // the portal
        .route("/portal", get(portal::my_cases))
        .route("/portal/new", get(portal::new_case))
        .route("/portal/suggestions", get(portal::suggestions))
        .route("/portal/cases", post(portal::open_case))
        .route("/portal/cases/{number}", get(portal::case_page))
        .route(
            "/portal/cases/{number}/reply",
            post(portal::reply).layer(DefaultBodyLimit::max(page::upload_limit(&state))),
        )
        .route(
            "/portal/cases/{number}/files/{id}",
            get(files::portal_download),
        )
        .route("/portal/cases/{number}/reopen", post(portal::reopen))
        .fallback(page::not_found)
        // no page takes a larger body (the extractors cap their own reads at it too)
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            identify_visitor,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Finds the visitor once per request and hands it to the handlers as an extension.
async fn identify_visitor(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match state.identify.identify(&parts).await {
        Ok(visitor) => {
            parts.extensions.insert(page::Identified(visitor));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => page::service_error_page(None, &e),
    }
}

/// Adds the security headers to every response; pages (not assets) are never cached, since
/// they show one person's cases.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    // a download brings its own, stricter policy (a sandbox that runs and loads nothing)
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        set(h, header::CONTENT_SECURITY_POLICY, CSP);
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}
