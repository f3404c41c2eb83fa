//! In-process tests of the desk and the portal with `tower::ServiceExt::oneshot`, on the
//! memory store: every page and form, both roles, CSRF, escaping, and the access matrix
//! extended to the pages (a marker planted in every internal field never reaches a
//! customer). A test-only [`Identify`] stands in for sign-in: it names the visitor from a
//! request header and exists only in this module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod files;
mod matrix;
mod sign_in;
mod timeline;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode, header};
use casework_core::model::{Actor, Person, Role};
use casework_core::ports::CaseStore;
use casework_core::workflow::NewCase;
use casework_core::{CaseService, ServiceError, Templates, WorkflowConfig};
use tower::ServiceExt;

use crate::{CsrfKey, Identify, Visitor, WebState, router};

const KEY: [u8; 32] = [42; 32];

/// Names the visitor from `x-test-visitor` (tests only; never shipped).
struct HeaderIdentify(HashMap<String, Actor>);

#[async_trait]
impl Identify for HeaderIdentify {
    async fn identify(&self, request: &Parts) -> Result<Option<Visitor>, ServiceError> {
        let name = request
            .headers
            .get("x-test-visitor")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(self.0.get(name).map(|actor| Visitor {
            actor: actor.clone(),
            session: session(name),
        }))
    }
}

fn session(who: &str) -> String {
    format!("session-of-{who}")
}

/// The test's people: `ana` (agent), `lee` (lead), `root` (admin), and two customers,
/// `jordan` and `eve`.
pub struct Desk {
    pub app: axum::Router,
    pub svc: CaseService,
    /// The service's clock, which tests move.
    pub clock: Arc<casework_core::testing::FixedClock>,
    /// The pages' rendered timelines.
    pub timelines: Arc<crate::TimelineCache>,
}

fn staff(name: &str, role: Role) -> Person {
    Person {
        name: name.into(),
        role,
        email: Some(
            format!("{}@example.com", name.to_lowercase().replace(' ', "."))
                .parse()
                .unwrap(),
        ),
        phone: None,
        signature: Some(format!("{name}\nExample Corp Support")),
        notifications_off: Vec::new(),
    }
}

pub const JORDAN: &str = "jordan@customer.example";
pub const EVE: &str = "eve@customer.example";

impl Desk {
    pub async fn new() -> Self {
        Self::with_config(WorkflowConfig::default_config()).await
    }

    pub async fn with_config(config: WorkflowConfig) -> Self {
        let store: Arc<dyn CaseStore> = Arc::new(casework_store_memory::MemoryStore::new());
        let clock = Arc::new(casework_core::testing::FixedClock::default());
        let svc = CaseService::new(
            store,
            clock.clone(),
            Arc::new(casework_core::testing::SequentialIds::default()),
            Arc::new(config),
            Arc::new(Templates::embedded().unwrap()),
        )
        .with_credentials(Arc::new(crate::SystemCredentials))
        .with_mail_parser(Arc::new(casework_core::testing::HeaderParser));
        let root = svc
            .register(None, staff("root", Role::Admin))
            .await
            .unwrap();
        let root = Actor::from_person(&root);
        let mut actors = HashMap::new();
        actors.insert("root".to_string(), root.clone());
        for (key, name, role) in [
            ("ana", "Ana Lopez", Role::Agent),
            ("lee", "Lee Park", Role::Lead),
        ] {
            let p = svc.add_person(&root, staff(name, role)).await.unwrap();
            actors.insert(key.to_string(), Actor::from_person(&p));
        }
        actors.insert(
            "jordan".into(),
            Actor::customer("Jordan Blake", JORDAN.parse().unwrap()),
        );
        actors.insert(
            "eve".into(),
            Actor::customer("Eve Adams", EVE.parse().unwrap()),
        );
        let state = WebState::new(
            svc.clone(),
            Arc::new(HeaderIdentify(actors)),
            CsrfKey::new(KEY),
        );
        Self {
            timelines: state.timelines.clone(),
            app: router(state),
            svc,
            clock,
        }
    }

    pub fn actor(&self, who: &str) -> Actor {
        match who {
            "jordan" => Actor::customer("Jordan Blake", JORDAN.parse().unwrap()),
            "eve" => Actor::customer("Eve Adams", EVE.parse().unwrap()),
            "ana" => Actor::from_person(&staff("Ana Lopez", Role::Agent)),
            "lee" => Actor::from_person(&staff("Lee Park", Role::Lead)),
            _ => Actor::from_person(&staff("root", Role::Admin)),
        }
    }

    /// Queues a follow-up email on case `n` as the agent; the id of its outbox message.
    pub async fn queue_follow_up(&self, n: u64) -> String {
        let email = casework_core::Command::SendEmail {
            template: casework_core::model::TemplateName::FollowUp,
            fields: casework_core::documents::EmailFields {
                discussed: Some("the sync".into()),
                ..Default::default()
            },
        };
        let done = self
            .svc
            .execute(
                &self.actor("ana"),
                n.to_string().parse().unwrap(),
                None,
                email,
            )
            .await
            .unwrap();
        done.events
            .iter()
            .find_map(|e| match &e.kind {
                casework_core::event::EventKind::EmailQueued { message, .. } => {
                    Some(message.clone())
                }
                _ => None,
            })
            .expect("a follow-up queues an email")
    }

    /// Opens a case for `email` as the agent; returns its number.
    pub async fn open(&self, title: &str, customer: &str, email: &str) -> u64 {
        let new = NewCase {
            title: title.into(),
            description: "It stopped working.".into(),
            origin: casework_core::model::Origin::Phone,
            priority: casework_core::model::Priority::High,
            customer: casework_core::model::Customer {
                name: customer.into(),
                email: email.parse().unwrap(),
                phone: None,
                account: None,
            },
            product: None,
            product_version: None,
        };
        self.svc
            .open_case(&self.actor("ana"), new)
            .await
            .unwrap()
            .number
            .get()
    }

    pub async fn get(&self, path: &str, who: Option<&str>) -> Reply {
        self.send("GET", path, who, None, &[]).await
    }

    pub async fn htmx_get(&self, path: &str, who: &str) -> Reply {
        self.send("GET", path, Some(who), None, &[("hx-request", "true")])
            .await
    }

    /// POSTs a form with the visitor's CSRF token.
    pub async fn post(&self, path: &str, who: &str, fields: &[(&str, &str)]) -> Reply {
        let token = CsrfKey::new(KEY).token(&session(who));
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, Some(who), &all, &[]).await
    }

    /// POSTs exactly these fields (no token added).
    pub async fn post_raw(
        &self,
        path: &str,
        who: Option<&str>,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        self.send("POST", path, who, Some(body.finish()), headers)
            .await
    }

    /// POSTs a multipart form (as a form with a file input is sent): the fields, then the
    /// `files` parts as `(name, bytes)`; with the visitor's CSRF token unless `token` is
    /// false.
    pub async fn post_files(
        &self,
        path: &str,
        who: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
        token: bool,
    ) -> Reply {
        const BOUNDARY: &str = "----WebKitFormBoundaryq7Y2cKc0w9uP3xL1";
        let mut body = Vec::new();
        let csrf = CsrfKey::new(KEY).token(&session(who));
        let mut all = Vec::new();
        if token {
            all.push(("csrf", csrf.as_str()));
        }
        all.extend_from_slice(fields);
        for (k, v) in all {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; \
                     filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header("x-test-visitor", who)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap();
        reply(&self.app, req).await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(w) = who {
            req = req.header("x-test-visitor", w);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        reply(&self.app, req).await
    }

    /// Closes case `n` temporarily and reopens it with `reason`, as the lead.
    pub async fn close_and_reopen(&self, n: u64, reason: &str) {
        let lee = self.actor("lee");
        let number = n.to_string().parse().unwrap();
        for cmd in [
            casework_core::Command::Close {
                mode: casework_core::model::CloseMode::Temporary,
                resolution: None,
                notify_customer: false,
            },
            casework_core::Command::Reopen {
                reason: reason.into(),
                notify_customer: false,
            },
        ] {
            self.svc.execute(&lee, number, None, cmd).await.unwrap();
        }
    }

    pub async fn version(&self, n: u64) -> String {
        let case = self
            .svc
            .case(&self.actor("root"), n.to_string().parse().unwrap())
            .await
            .unwrap();
        case.version.to_string()
    }
}

/// Runs one request through `app` in-process and reads the whole answer.
pub async fn reply(app: &axum::Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a redirect after a change (post/redirect/get) to `to`.
    pub fn redirects_to(&self, to: &str) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        assert!(
            self.location().starts_with(to),
            "redirect to {} rather than {to}",
            self.location()
        );
    }

    /// The text of the field error shown for `form`'s `field`.
    pub fn field_error(&self, form: &str, field: &str) -> Option<String> {
        let id = format!("id=\"err-{form}-{field}\">");
        let start = self.body.find(&id)? + id.len();
        let end = self.body[start..].find("</p>")?;
        Some(self.body[start..start + end].to_string())
    }
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_response_carries_the_security_headers_and_pages_are_never_cached() {
    let desk = Desk::new().await;
    for (path, who) in [
        ("/cases", Some("ana")),
        ("/portal", Some("jordan")),
        ("/sign-in", None),
        ("/nowhere", None),
    ] {
        let r = desk.get(path, who).await;
        let h = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let csp = h("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "same-origin", "{path}");
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("cache-control"), "no-store", "{path}");
    }
}

#[tokio::test]
async fn assets_are_served_at_hashed_urls_cached_for_a_year_with_htmx_and_its_licence() {
    let desk = Desk::new().await;
    let page = desk.get("/cases", Some("ana")).await;
    for asset in crate::assets::all() {
        let r = desk.get(&asset.url, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", asset.url);
        let cache = r.headers[header::CACHE_CONTROL].to_str().unwrap();
        assert!(cache.contains("immutable") && cache.contains("max-age=31536000"));
        assert!(
            r.headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src")
        );
        assert!(!r.body.is_empty());
    }
    // the page links the stylesheet and htmx by their hashed URLs, and htmx's licence
    for asset in crate::assets::all() {
        assert!(page.body.contains(&asset.url), "{} not linked", asset.url);
    }
    let licence = desk.get(&crate::assets::HTMX_LICENSE.url, None).await;
    assert!(licence.body.contains("Zero-Clause BSD"));
    let htmx = desk.get(&crate::assets::HTMX.url, None).await;
    assert!(htmx.body.starts_with("var htmx="));
    assert!(
        htmx.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // an old hash, or a name that is not an asset, is not found
    for bad in [
        "/assets/casework-000000000000.css",
        "/assets/htmx.min.js",
        "/assets/..%2fCargo.toml",
    ] {
        assert_eq!(
            desk.get(bad, None).await.status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn nobody_signed_in_is_sent_to_sign_in_and_changes_nothing() {
    let desk = Desk::new().await;
    let n = desk.open("Secret title", "Jordan", JORDAN).await;
    for path in [
        "/".to_string(),
        "/cases".into(),
        format!("/cases/{n}"),
        format!("/cases/{n}/similar"),
        "/reports/reopens".into(),
        "/portal".into(),
        format!("/portal/cases/{n}"),
    ] {
        let r = desk.get(&path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(r.location().starts_with("/sign-in?next="), "{path}");
        assert!(!r.body.contains("Secret"), "{path}");
    }
    let before = desk.version(n).await;
    let r = desk
        .post_raw(
            &format!("/cases/{n}/posts"),
            None,
            &[("kind", "note"), ("body", "x"), ("visibility", "internal")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(desk.version(n).await, before);
    let sign_in = desk.get("/sign-in", None).await;
    assert_eq!(sign_in.status, StatusCode::OK);
    assert!(sign_in.body.contains("name=\"password\""));
}

#[tokio::test]
async fn the_desk_is_for_staff_and_the_portal_for_customers() {
    let desk = Desk::new().await;
    let n = desk.open("Printer on fire", "Jordan", JORDAN).await;
    assert!(desk.get("/", Some("ana")).await.location() == "/cases");
    assert!(desk.get("/", Some("jordan")).await.location() == "/portal");
    for path in [
        "/cases".to_string(),
        format!("/cases/{n}"),
        format!("/cases/{n}/similar"),
        "/reports/reopens".into(),
    ] {
        let r = desk.get(&path, Some("jordan")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("href=\"/portal\""), "{path}");
        assert!(!r.body.contains("Printer on fire"), "{path}");
    }
    let r = desk.get("/portal", Some("ana")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("href=\"/cases\""));
}

// ---------------------------------------------------------------------------------------
// CSRF

#[tokio::test]
async fn a_form_without_its_sessions_token_is_refused_and_changes_nothing() {
    let desk = Desk::new().await;
    let n = desk.open("Token test", "Jordan", JORDAN).await;
    let before = desk.version(n).await;
    let path = format!("/cases/{n}/posts");
    let fields = [
        ("kind", "note"),
        ("body", "hello"),
        ("visibility", "internal"),
    ];
    // no token
    let r = desk.post_raw(&path, Some("ana"), &fields, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("This form has expired"));
    // another session's token (a valid token, for someone else)
    let other = CsrfKey::new(KEY).token(&session("lee"));
    let mut with_other = vec![("csrf", other.as_str())];
    with_other.extend_from_slice(&fields);
    let r = desk.post_raw(&path, Some("ana"), &with_other, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // the right token under another server secret
    let foreign = CsrfKey::new([1; 32]).token(&session("ana"));
    let mut with_foreign = vec![("csrf", foreign.as_str())];
    with_foreign.extend_from_slice(&fields);
    let r = desk.post_raw(&path, Some("ana"), &with_foreign, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // the right token, but the browser says another site sent it
    let good = CsrfKey::new(KEY).token(&session("ana"));
    let mut with_good = vec![("csrf", good.as_str())];
    with_good.extend_from_slice(&fields);
    let r = desk
        .post_raw(
            &path,
            Some("ana"),
            &with_good,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        desk.version(n).await,
        before,
        "a refused form changed the case"
    );
    // the portal's forms are guarded the same way
    let r = desk
        .post_raw(
            &format!("/portal/cases/{n}/reply"),
            Some("jordan"),
            &[("body", "hi")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(desk.version(n).await, before);
    // and with the token, it goes through
    let r = desk
        .post_raw(
            &path,
            Some("ana"),
            &with_good,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    r.redirects_to(&format!("/cases/{n}?done=post"));
    assert_ne!(desk.version(n).await, before);
}

#[tokio::test]
async fn every_form_on_a_page_carries_the_visitors_token() {
    let desk = Desk::new().await;
    let n = desk.open("Forms", "Jordan", JORDAN).await;
    let token = CsrfKey::new(KEY).token(&session("ana"));
    let page = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    let posts = page.body.matches("method=\"post\"").count();
    let tokens = page
        .body
        .matches(&format!("name=\"csrf\" value=\"{token}\""))
        .count();
    assert!(posts >= 10, "only {posts} forms");
    assert_eq!(posts, tokens, "a POST form without the token");
}

// ---------------------------------------------------------------------------------------
// Escaping

#[tokio::test]
async fn what_a_customer_types_is_shown_as_text_on_every_page() {
    let desk = Desk::new().await;
    let evil = "<script>alert(1)</script>";
    let n = desk.open(evil, "<b>Jordan</b> \"quoted\"", JORDAN).await;
    // the customer writes markup too, and an article carries it
    let r = desk
        .post(
            &format!("/portal/cases/{n}/reply"),
            "jordan",
            &[("body", "<img src=x onerror=alert(2)>")],
        )
        .await;
    r.redirects_to(&format!("/portal/cases/{n}"));
    desk.svc
        .add_article(
            &desk.actor("ana"),
            casework_core::model::NewArticle {
                title: format!("{evil} script article"),
                body: "script".into(),
                url: None,
            },
        )
        .await
        .unwrap();
    desk.close_and_reopen(n, evil).await;
    let pages = [
        ("/cases", "ana"),
        ("/cases?q=alert", "ana"),
        (&format!("/cases/{n}") as &str, "ana"),
        (&format!("/cases/{n}?draft=summary"), "ana"),
        ("/portal", "jordan"),
        (&format!("/portal/cases/{n}"), "jordan"),
        ("/reports/reopens", "lee"),
        (
            "/reports/reopens/cases?group_by=product_area&key=(none)",
            "lee",
        ),
    ];
    for (path, who) in pages {
        let r = desk.get(path, Some(who)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(
            !r.body.contains("<script>alert"),
            "{path} carries live markup"
        );
        assert!(!r.body.contains("<img src=x"), "{path} carries live markup");
        assert!(!r.body.contains("<b>Jordan"), "{path} carries live markup");
    }
    let case = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    assert!(
        case.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(case.body.contains("&#60;img src=x onerror=alert(2)&#62;"));
    // inside attribute values too (the edit form keeps the title in a value)
    assert!(
        case.body
            .contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\"")
    );
    assert!(
        case.body
            .contains("&#60;b&#62;Jordan&#60;/b&#62; &#34;quoted&#34;")
    );
    // the email preview fragment shows the customer's name as text
    let preview = desk
        .post(
            &format!("/cases/{n}/emails/preview"),
            "ana",
            &[("template", "follow_up"), ("discussed", "<i>x</i>")],
        )
        .await;
    assert!(!preview.body.contains("<b>Jordan"));
    assert!(!preview.body.contains("<i>x</i>"));
    assert!(preview.body.contains("&#60;i&#62;x&#60;/i&#62;"));
}

// ---------------------------------------------------------------------------------------
// The case list

#[tokio::test]
async fn the_case_list_has_saved_views_filters_keywords_and_a_jump_to_a_number() {
    let desk = Desk::new().await;
    let a = desk
        .open("Publishing fails with error 999999", "Jordan", JORDAN)
        .await;
    let b = desk.open("Geocoding is slow", "Eve", EVE).await;
    let c = desk.open("Licence expired", "Eve", EVE).await;
    let ana = desk.actor("ana");
    let num = |n: u64| n.to_string().parse().unwrap();
    desk.svc
        .execute(&ana, num(a), None, casework_core::Command::Take)
        .await
        .unwrap();
    desk.svc
        .execute(
            &ana,
            num(b),
            None,
            casework_core::Command::Transition {
                status: "Pending Customer".into(),
                note: None,
            },
        )
        .await
        .unwrap();
    let all = desk.get("/cases", Some("ana")).await;
    assert_eq!(all.status, StatusCode::OK);
    for title in ["Publishing fails", "Geocoding is slow", "Licence expired"] {
        assert!(all.body.contains(title), "{title}");
    }
    // the columns an agent scans
    for col in [
        "Number",
        "Title",
        "Customer",
        "Status",
        "Owner",
        "Priority",
        "Age",
        "Last customer reply",
    ] {
        assert!(
            all.body.contains(&format!("<th scope=\"col\">{col}</th>")),
            "{col}"
        );
    }
    assert!(all.body.contains("00000001"));
    let mine = desk.get("/cases?view=mine", Some("ana")).await;
    assert!(mine.body.contains("Publishing fails"));
    assert!(!mine.body.contains("Geocoding") && !mine.body.contains("Licence"));
    assert!(mine.body.contains("aria-current=\"page\">My open cases"));
    let pending = desk.get("/cases?view=pending", Some("ana")).await;
    assert!(pending.body.contains("Geocoding") && !pending.body.contains("Licence"));
    let q = desk.get("/cases?q=licence", Some("ana")).await;
    assert!(q.body.contains("Licence expired") && !q.body.contains("Geocoding"));
    assert!(q.body.contains("Clear filters"));
    let by_status = desk.get("/cases?status=New", Some("ana")).await;
    assert!(by_status.body.contains("Licence") && !by_status.body.contains("Geocoding"));
    let owner = desk.get("/cases?owner=Ana+Lopez", Some("ana")).await;
    assert!(owner.body.contains("Publishing") && !owner.body.contains("Licence"));
    // a status the workflow does not have is refused next to its field
    let bad = desk.get("/cases?status=Nope", Some("ana")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = bad.field_error("filter", "status").unwrap();
    assert!(e.contains("Nope"), "{e}");
    // jump to a number, with or without leading zeros
    let r = desk
        .get(&format!("/cases/go?number=0000000{c}"), Some("ana"))
        .await;
    r.redirects_to(&format!("/cases/{c}"));
    let r = desk.get("/cases/go?number=abc", Some("ana")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Give a case number"));

    // Unassigned: open cases nobody owns (a is taken, b is pending)
    let unassigned = desk.get("/cases?view=unassigned", Some("ana")).await;
    assert!(unassigned.body.contains("aria-current=\"page\">Unassigned"));
    assert!(unassigned.body.contains("Licence expired"));
    assert!(!unassigned.body.contains("Publishing") && !unassigned.body.contains("Geocoding"));
    // priority: c becomes urgent, a minute later
    desk.clock.advance(jiff::SignedDuration::from_mins(1));
    let urgent = casework_core::workflow::CaseEdit {
        priority: Some(casework_core::model::Priority::Urgent),
        ..Default::default()
    };
    desk.svc
        .execute(&ana, num(c), None, casework_core::Command::Edit(urgent))
        .await
        .unwrap();
    let by_priority = desk.get("/cases?priority=urgent", Some("ana")).await;
    assert!(by_priority.body.contains("Licence") && !by_priority.body.contains("Geocoding"));
    let bad = desk.get("/cases?priority=whenever", Some("ana")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("filter", "priority").is_some());
    // the last customer reply: when the customer last wrote, or never
    desk.clock.advance(jiff::SignedDuration::from_mins(1));
    let jordan = desk.actor("jordan");
    let reply = casework_core::Command::AddPost {
        kind: casework_core::model::PostKind::Note,
        body: "Still failing.".into(),
        visibility: casework_core::model::Visibility::Customer,
    };
    desk.svc
        .execute(&jordan, num(a), None, reply)
        .await
        .unwrap();
    let all = desk.get("/cases", Some("ana")).await;
    let row = |title: &str| {
        let at = all.body.find(title).unwrap();
        let end = at + all.body[at..].find("</tr>").unwrap();
        all.body[at..end].to_string()
    };
    assert!(
        row("Publishing fails").contains(" ago</time>"),
        "{}",
        row("Publishing fails")
    );
    assert!(
        row("Geocoding is slow").contains(">never<"),
        "{}",
        row("Geocoding is slow")
    );
    // sorted: by priority (most urgent first, then oldest), by the last change (most
    // recent first, then the higher number), and back to numbers for a sort it does not know
    let order = |body: &str| {
        let mut at: Vec<(usize, &str)> = ["Publishing fails", "Geocoding", "Licence"]
            .into_iter()
            .map(|t| (body.find(t).unwrap(), t))
            .collect();
        at.sort();
        at.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    let sorted = desk.get("/cases?sort=priority", Some("ana")).await;
    assert_eq!(
        order(&sorted.body),
        ["Licence", "Publishing fails", "Geocoding"]
    );
    assert!(sorted.body.contains("by priority (most urgent first)"));
    let sorted = desk.get("/cases?sort=updated", Some("ana")).await;
    assert_eq!(
        order(&sorted.body),
        ["Publishing fails", "Licence", "Geocoding"]
    );
    let bad = desk.get("/cases?sort=shoe-size", Some("ana")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("filter", "sort").is_some());
}

#[tokio::test]
async fn the_case_list_pages_with_a_cursor() {
    let desk = Desk::new().await;
    for i in 0..53 {
        desk.open(&format!("Case number {i:02}"), "Jordan", JORDAN)
            .await;
    }
    let first = desk.get("/cases", Some("ana")).await;
    assert!(first.body.contains("Case number 49") && !first.body.contains("Case number 50"));
    let rel = first.body.find("\" rel=\"next\"").expect("no next link");
    let href_start = first.body[..rel].rfind("href=\"").unwrap() + 6;
    let next_link = &first.body[href_start..rel].replace("&#38;", "&");
    assert!(next_link.contains("cursor="), "{next_link}");
    let second = desk.get(next_link, Some("ana")).await;
    assert!(second.body.contains("Case number 50") && second.body.contains("Case number 52"));
    assert!(!second.body.contains("Case number 49"));
    assert!(second.body.contains("First page"));
    assert!(!second.body.contains("rel=\"next\""));
    let bad = desk.get("/cases?cursor=zzz", Some("ana")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // in another order the cursor is that order's, and the link keeps the order
    let first = desk.get("/cases?sort=priority", Some("ana")).await;
    let rel = first.body.find("\" rel=\"next\"").expect("no next link");
    let href_start = first.body[..rel].rfind("href=\"").unwrap() + 6;
    let next_link = &first.body[href_start..rel].replace("&#38;", "&");
    assert!(
        next_link.contains("sort=priority") && next_link.contains("cursor=p1."),
        "{next_link}"
    );
    let second = desk.get(next_link, Some("ana")).await;
    assert!(second.body.contains("Case number 50") && second.body.contains("Case number 52"));
    assert!(!second.body.contains("Case number 49"));
    // a cursor of one order is refused in another
    let swapped = next_link.replace("sort=priority", "sort=updated");
    let bad = desk.get(&swapped, Some("ana")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

// ---------------------------------------------------------------------------------------
// The case page and its forms

#[tokio::test]
async fn the_case_page_shows_the_header_and_tells_internal_entries_apart() {
    let desk = Desk::new().await;
    let n = desk.open("Publishing fails", "Jordan", JORDAN).await;
    let r = desk
        .post(
            &format!("/cases/{n}/posts"),
            "ana",
            &[
                ("kind", "note"),
                ("visibility", "internal"),
                ("body", "Suspect the data store"),
            ],
        )
        .await;
    r.redirects_to(&format!("/cases/{n}?done=post"));
    let r = desk
        .post(
            &format!("/cases/{n}/calls"),
            "ana",
            &[
                ("direction", "outbound"),
                ("duration_minutes", "25"),
                ("screenshare", "on"),
                ("channel", "SPEC"),
                ("notes", "Walked through the publishing steps"),
            ],
        )
        .await;
    r.redirects_to(&format!("/cases/{n}?done=call#timeline"));
    let page = desk
        .get(&r.location().replace("#timeline", ""), Some("ana"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("role=\"status\">Call logged."));
    assert!(
        page.body
            .contains("<h1 id=\"case-title\">Publishing fails</h1>")
    );
    assert!(page.body.contains("Jordan &lt;jordan@customer.example&gt;"));
    assert!(
        page.body
            .contains("Call logged (outbound, 25 min, screenshare)")
    );
    // the internal note is drawn apart, with the word, not only a colour
    let note = page.body.find("Suspect the data store").unwrap();
    let entry_start = page.body[..note].rfind("<li class=\"entry").unwrap();
    let entry = &page.body[entry_start..note];
    assert!(entry.contains("entry internal"), "{entry}");
    assert!(entry.contains(">Internal</span>"), "{entry}");
    let call = page.body.find("Walked through").unwrap();
    let call_start = page.body[..call].rfind("<li class=\"entry").unwrap();
    assert!(page.body[call_start..call].contains(">Customer-visible</span>"));
    // landmarks, the skip link and labelled controls
    assert!(page.body.contains("<a class=\"skip\" href=\"#main\">"));
    assert!(page.body.contains("<main id=\"main\""));
    assert!(page.body.contains("<label for=\"f-call-notes\">"));
    assert!(page.body.contains("id=\"f-call-notes\""));
}

#[tokio::test]
async fn a_refused_form_shows_the_reason_next_to_the_field_and_keeps_what_was_typed() {
    let desk = Desk::new().await;
    let n = desk.open("Errors", "Jordan", JORDAN).await;
    // a value the page cannot read
    let r = desk
        .post(
            &format!("/cases/{n}/calls"),
            "ana",
            &[
                ("direction", "inbound"),
                ("duration_minutes", "half an hour"),
                ("notes", "Kept text"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.field_error("call", "duration_minutes")
            .unwrap()
            .contains("whole minutes")
    );
    assert!(r.body.contains(">Kept text</textarea>"));
    assert!(
        r.body
            .contains("id=\"compose-call\" class=\"composer\" open")
    );
    // a field the service names
    let r = desk
        .post(
            &format!("/cases/{n}/calls"),
            "ana",
            &[
                ("direction", "inbound"),
                ("duration_minutes", "0"),
                ("notes", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = r.field_error("call", "duration_minutes").unwrap();
    assert!(e.contains("between 1 minute and 24 hours"), "{e}");
    let r = desk
        .post(
            &format!("/cases/{n}/swarm"),
            "ana",
            &[("group", "Server SWARM"), ("question", "  ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("swarm", "question").is_some(), "{}", r.body);
    assert!(
        r.body
            .contains("aria-invalid=\"true\" aria-errormessage=\"err-swarm-question\"")
    );
    // a refusal that names no field of the form is said for the whole form
    let r = desk
        .post(
            &format!("/cases/{n}/reopen"),
            "lee",
            &[("reason", "why"), ("notify_customer", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("role=\"alert\""));
    assert!(r.body.contains("only a closed case can be reopened"));
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_that_keeps_the_typing_and_says_reload() {
    let desk = Desk::new().await;
    let n = desk.open("Old title", "Jordan", JORDAN).await;
    let stale = desk.version(n).await;
    // someone else edits first
    let r = desk
        .post(
            &format!("/cases/{n}/edit"),
            "lee",
            &[
                ("version", &stale),
                ("title_was", "Old title"),
                ("title", "Lee's title"),
                ("priority", "high"),
            ],
        )
        .await;
    r.redirects_to(&format!("/cases/{n}?done=edited"));
    let r = desk
        .post(
            &format!("/cases/{n}/edit"),
            "ana",
            &[
                ("version", &stale),
                ("title_was", "Old title"),
                ("title", "Ana's title"),
                ("priority", "high"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Someone else changed this case"));
    assert!(r.body.contains("Reload</a>"));
    assert!(r.body.contains("value=\"Ana&#39;s title\""), "typing lost");
    assert!(r.body.contains("Lee&#39;s title"), "their change not shown");
    // nothing of Ana's was written
    let case = desk
        .svc
        .case(&desk.actor("ana"), n.to_string().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(case.title, "Lee's title");
}

#[tokio::test]
async fn the_email_composer_previews_live_then_queues() {
    let desk = Desk::new().await;
    let n = desk.open("Email", "Jordan", JORDAN).await;
    let fields = [
        ("template", "follow_up"),
        ("discussed", "We re-registered the data store."),
        (
            "documentation",
            "https://example.com/doc-1\n\nhttps://example.com/doc-2",
        ),
    ];
    // htmx asks for the fragment
    let mut with_htmx = fields.to_vec();
    let token = CsrfKey::new(KEY).token(&session("ana"));
    with_htmx.push(("csrf", &token));
    let frag = desk
        .post_raw(
            &format!("/cases/{n}/emails/preview"),
            Some("ana"),
            &with_htmx,
            &[("hx-request", "true")],
        )
        .await;
    assert_eq!(frag.status, StatusCode::OK);
    assert!(!frag.body.contains("<html"), "a fragment, not a page");
    assert!(frag.body.contains("[Case 00000001]"));
    assert!(frag.body.contains("We re-registered the data store."));
    assert!(frag.body.contains("https://example.com/doc-2"));
    // a refusal comes back in the fragment too
    let bad = desk
        .post_raw(
            &format!("/cases/{n}/emails/preview"),
            Some("ana"),
            &[("csrf", &token), ("template", "follow_up")],
            &[("hx-request", "true")],
        )
        .await;
    assert!(
        bad.body.contains("needs a summary of what was discussed"),
        "{}",
        bad.body
    );
    // without JavaScript: the whole page, the preview in it, the form kept
    let page = desk
        .post(&format!("/cases/{n}/emails/preview"), "ana", &fields)
        .await;
    assert!(page.body.contains("<html"));
    assert!(page.body.contains("[Case 00000001]"));
    assert!(
        page.body
            .contains("id=\"compose-email\" class=\"composer\" open")
    );
    // previewing queued nothing
    assert!(
        !desk
            .get(&format!("/cases/{n}"), Some("ana"))
            .await
            .body
            .contains("Email to")
    );
    let r = desk
        .post(&format!("/cases/{n}/emails"), "ana", &fields)
        .await;
    r.redirects_to(&format!("/cases/{n}?done=email"));
    let after = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    assert!(after.body.contains("Email to jordan@customer.example"));
    assert!(after.body.contains("Delivery"));
}

/// Walks the seed: call, follow-up, notes, troubleshoot (similar, link, swarm), contact,
/// the checklist with its links, summary draft, title, details, category, close; then a
/// lead reopens it.
#[tokio::test]
async fn the_closing_panel_walks_the_checklist_to_a_close_and_a_lead_reopens() {
    let desk = Desk::new().await;
    let earlier = desk
        .open("Publishing fails on the data store", "Eve", EVE)
        .await;
    let n = desk.open("Publishing fails", "Jordan", JORDAN).await;
    desk.svc
        .add_defect(
            &desk.actor("ana"),
            "BUG-000123",
            "Publishing fails on 11.3",
            "",
            "open",
        )
        .await
        .unwrap();
    let case = format!("/cases/{n}");
    let v = desk.version(n).await;
    desk.post(&format!("{case}/take"), "ana", &[("version", &v)])
        .await
        .redirects_to(&format!("{case}?done=taken"));
    // the checklist lists every missing item, each with a link to the control that fixes it
    let page = desk.get(&case, Some("ana")).await;
    for (text, link) in [
        (
            "the last post is not a case summary",
            format!("/cases/{n}?draft=summary#compose-post"),
        ),
        (
            "the title was not reviewed",
            format!("/cases/{n}?open=edit#f-edit-title"),
        ),
        (
            "product is missing",
            format!("/cases/{n}?open=edit#f-edit-product"),
        ),
        (
            "product area is missing",
            format!("/cases/{n}?open=edit#f-edit-product_area"),
        ),
    ] {
        assert!(page.body.contains(text), "{text}");
        assert!(page.body.contains(&link.replace('&', "&#38;")), "{link}");
    }
    let opened = desk.get(&format!("{case}?open=edit"), Some("ana")).await;
    assert!(opened.body.contains("id=\"edit\" open"));
    assert!(opened.body.contains("id=\"f-edit-product\""));
    // similar cases with one-click linking, from their own route: the page does not wait
    // for the search, htmx fills it in (a link without JavaScript)
    assert!(page.body.contains(&format!(
        "hx-get=\"/cases/{n}/similar\" hx-trigger=\"load\""
    )));
    assert!(
        page.body
            .contains(&format!("<a href=\"/cases/{n}/similar\">"))
    );
    assert!(
        !page.body.contains(&format!("{:08}", earlier)),
        "the page searched for similar cases itself"
    );
    let listed = desk.htmx_get(&format!("{case}/similar"), "ana").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed.body.trim_start().starts_with("<div id=\"similar\">"),
        "{}",
        listed.body
    );
    assert!(!listed.body.contains("<html"), "htmx gets the list alone");
    let token = CsrfKey::new(KEY).token(&session("ana"));
    for similar in [
        listed,
        desk.get(&format!("{case}/similar"), Some("ana")).await,
    ] {
        assert_eq!(similar.status, StatusCode::OK);
        assert!(
            similar
                .body
                .contains(&format!("<a href=\"/cases/{earlier}\">{earlier:08}</a>")),
            "similar case not offered: {}",
            similar.body
        );
        assert!(similar.body.contains(&format!(
            "<form method=\"post\" action=\"/cases/{n}/links\" class=\"inline\">\n        <input type=\"hidden\" name=\"csrf\" value=\"{token}\">"
        )));
    }
    let own_page = desk.get(&format!("{case}/similar"), Some("ana")).await;
    assert!(
        own_page.body.contains("<html"),
        "without htmx, a page of its own"
    );
    assert!(
        own_page
            .body
            .contains(&format!("href=\"/cases/{n}#troubleshoot\""))
    );
    let r = desk
        .post(
            &format!("{case}/links"),
            "ana",
            &[("kind", "case"), ("ref", &format!("{earlier:08}"))],
        )
        .await;
    r.redirects_to(&format!("{case}?done=linked"));
    let r = desk
        .post(
            &format!("{case}/links"),
            "ana",
            &[("kind", "defect"), ("ref", "BUG-404")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("link", "ref").unwrap().contains("BUG-404"));
    desk.post(
        &format!("{case}/links"),
        "ana",
        &[("kind", "defect"), ("ref", "BUG-000123")],
    )
    .await
    .redirects_to(&format!("{case}?done=linked"));
    desk.post(
        &format!("{case}/swarm"),
        "ana",
        &[("group", "Server SWARM"), ("question", "Seen this?")],
    )
    .await
    .redirects_to(&format!("{case}?done=swarm"));
    desk.post(
        &format!("{case}/contacts"),
        "ana",
        &[("channel", "phone"), ("outcome", "reached")],
    )
    .await
    .redirects_to(&format!("{case}?done=contact"));
    // closing too early: refused, every missing item listed in the dialog
    let v = desk.version(n).await;
    let r = desk
        .post(
            &format!("{case}/close"),
            "ana",
            &[
                ("version", &v),
                ("mode", "resolved"),
                ("primary_resolution", "Configuration"),
                ("secondary_resolution", "Data store re-registered"),
                ("notify_customer", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("closing checklist is not complete"));
    assert!(r.body.contains("<li>product version is missing</li>"));
    // title, details and category in one edit
    let r = desk
        .post(
            &format!("{case}/edit"),
            "ana",
            &[
                ("version", &v),
                ("title_was", "Publishing fails"),
                ("title", "Publishing fails: data store not registered"),
                ("description_was", "It stopped working."),
                ("description", "It stopped working."),
                ("priority", "high"),
                ("product", "ArcGIS Server"),
                ("product_version", "11.3"),
                ("product_area", "Publishing"),
                ("functionality", "Map services"),
                ("issue", "Configuration"),
            ],
        )
        .await;
    r.redirects_to(&format!("{case}?done=edited"));
    // the summary draft is one click away, in the post composer
    let draft = desk
        .get(&format!("{case}?draft=summary"), Some("ana"))
        .await;
    assert!(
        draft
            .body
            .contains("id=\"compose-post\" class=\"composer\" open")
    );
    assert!(draft.body.contains("<option value=\"summary\" selected>"));
    let body_start = draft.body.find("id=\"f-post-body\"").unwrap();
    let text = &draft.body[body_start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</textarea>").unwrap()];
    assert!(text.contains("Publishing"), "{text}");
    let text = text
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&");
    desk.post(
        &format!("{case}/posts"),
        "ana",
        &[
            ("kind", "summary"),
            ("visibility", "internal"),
            ("body", &text),
        ],
    )
    .await
    .redirects_to(&format!("{case}?done=post"));
    let ready = desk.get(&case, Some("ana")).await;
    assert!(
        ready.body.contains("The closing checklist holds"),
        "{}",
        ready.body
    );
    // an agent may not reopen a resolved case: no dialog for them after the close
    let v = desk.version(n).await;
    desk.post(
        &format!("{case}/close"),
        "ana",
        &[
            ("version", &v),
            ("mode", "resolved"),
            ("primary_resolution", "Configuration"),
            ("secondary_resolution", "Data store re-registered"),
            ("notify_customer", "on"),
        ],
    )
    .await
    .redirects_to(&format!("{case}?done=closed"));
    let closed = desk.get(&case, Some("ana")).await;
    assert!(closed.body.contains("This case is closed"));
    assert!(!closed.body.contains("action=\"/cases/2/reopen\""));
    let lead = desk.get(&case, Some("lee")).await;
    assert!(lead.body.contains(&format!("action=\"/cases/{n}/reopen\"")));
    // the reason is required
    let v = desk.version(n).await;
    let r = desk
        .post(
            &format!("{case}/reopen"),
            "lee",
            &[("version", &v), ("reason", " "), ("notify_customer", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("reopen", "reason").is_some());
    desk.post(
        &format!("{case}/reopen"),
        "lee",
        &[
            ("version", &v),
            ("reason", "The error came back after the upgrade"),
        ],
    )
    .await
    .redirects_to(&format!("{case}?done=reopened"));
    let reopened = desk.get(&case, Some("lee")).await;
    assert!(reopened.body.contains("Reopened</dt><dd>1 time</dd>"));
    assert!(
        reopened
            .body
            .contains("The error came back after the upgrade")
    );
    assert!(reopened.body.contains("Customer notified</dt><dd>no</dd>"));
}

#[tokio::test]
async fn take_assign_transition_and_escalate_from_the_page() {
    let desk = Desk::new().await;
    let n = desk.open("Moves", "Jordan", JORDAN).await;
    let case = format!("/cases/{n}");
    let v = desk.version(n).await;
    desk.post(
        &format!("{case}/assign"),
        "lee",
        &[("version", &v), ("owner", "Ana Lopez")],
    )
    .await
    .redirects_to(&format!("{case}?done=assigned"));
    let v = desk.version(n).await;
    let r = desk
        .post(
            &format!("{case}/assign"),
            "lee",
            &[("version", &v), ("owner", "Nobody Known")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Unknown agent &#34;Nobody Known&#34;"),
        "{}",
        r.body
    );
    // the transitions offered are the workflow's from the current status
    let page = desk.get(&case, Some("ana")).await;
    assert!(page.body.contains("<option>In Progress</option>"));
    assert!(!page.body.contains("<option>Closed</option>"));
    desk.post(
        &format!("{case}/transition"),
        "ana",
        &[("version", &v), ("status", "In Progress")],
    )
    .await
    .redirects_to(&format!("{case}?done=moved"));
    let v = desk.version(n).await;
    let r = desk
        .post(
            &format!("{case}/transition"),
            "ana",
            &[("version", &v), ("status", "Limbo")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("unknown status"));
    // an agent may not escalate; a lead may
    let r = desk
        .post(
            &format!("{case}/escalate"),
            "ana",
            &[("version", &v), ("reason", "Stuck")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Agent may not escalate"));
    desk.post(
        &format!("{case}/escalate"),
        "lee",
        &[("version", &v), ("reason", "Stuck")],
    )
    .await
    .redirects_to(&format!("{case}?done=escalated"));
    let page = desk.get(&case, Some("lee")).await;
    assert!(page.body.contains("status open\">Escalated"));
    // a case that does not exist
    let r = desk
        .post("/cases/999/take", "ana", &[("version", "1")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        desk.get("/cases/999", Some("ana")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        desk.get("/cases/not-a-number", Some("ana")).await.status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------
// Reports

#[tokio::test]
async fn the_reopen_report_draws_a_chart_and_drills_down_to_the_cases() {
    let desk = Desk::new().await;
    let n = desk.open("Keeps coming back", "Jordan", JORDAN).await;
    desk.close_and_reopen(n, "Back again").await;
    let r = desk
        .get("/reports/reopens?group_by=owner", Some("lee"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<svg role=\"img\""));
    assert!(
        r.body
            .contains("<title id=\"chart-title\">Closed and reopened cases by Owner</title>")
    );
    assert!(r.body.contains("<th scope=\"row\">(none)</th>"));
    assert!(r.body.contains("<rect"), "no bar drawn: {}", r.body);
    assert!(r.body.contains("1 of 1 closures reopened"));
    let drill = "/reports/reopens/cases?group_by=owner&#38;key=%28none%29";
    assert!(r.body.contains(drill), "{}", r.body);
    let d = desk.get(&drill.replace("&#38;", "&"), Some("lee")).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.body.contains("Keeps coming back"));
    assert!(d.body.contains("Back again"));
    let bad = desk
        .get("/reports/reopens?from=yesterday", Some("lee"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.field_error("report", "from")
            .unwrap()
            .contains("YYYY-MM-DD")
    );
    assert_eq!(
        desk.get(
            "/reports/reopens?from=2026-01-01&to=2026-02-01",
            Some("lee")
        )
        .await
        .status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------
// The portal

#[tokio::test]
async fn a_customer_opens_a_case_replies_and_asks_to_reopen() {
    let desk = Desk::new().await;
    let form = desk.get("/portal/new", Some("jordan")).await;
    assert!(form.body.contains("<label for=\"f-new-title\">"));
    let r = desk
        .post(
            "/portal/cases",
            "jordan",
            &[("title", " "), ("description", "d")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("new", "title").is_some(), "{}", r.body);
    let r = desk
        .post(
            "/portal/cases",
            "jordan",
            &[
                ("title", "Cannot sign in"),
                ("description", "Since this morning"),
                ("product", "Portal"),
            ],
        )
        .await;
    r.redirects_to("/portal/cases/1?done=opened");
    let mine = desk.get("/portal", Some("jordan")).await;
    assert!(mine.body.contains("Cannot sign in"));
    assert!(
        !desk
            .get("/portal", Some("eve"))
            .await
            .body
            .contains("Cannot sign in")
    );
    desk.post(
        "/portal/cases/1/reply",
        "jordan",
        &[("body", "It works on my phone")],
    )
    .await
    .redirects_to("/portal/cases/1?done=replied");
    let page = desk
        .get("/portal/cases/1?done=replied", Some("jordan"))
        .await;
    assert!(page.body.contains("It works on my phone"));
    assert!(page.body.contains("From the customer"));
    assert!(page.body.contains("Your reply was added"));
    // staff see the reply as the customer's
    let staff = desk.get("/cases/1", Some("ana")).await;
    assert!(staff.body.contains("Customer wrote"));
    // closed at the customer's request (temporarily): asking reopens it, as the workflow's
    // policy for a customer writing on a closed case says
    let lee = desk.actor("lee");
    desk.svc
        .execute(
            &lee,
            "1".parse().unwrap(),
            None,
            casework_core::Command::Close {
                mode: casework_core::model::CloseMode::Temporary,
                resolution: None,
                notify_customer: false,
            },
        )
        .await
        .unwrap();
    let closed = desk.get("/portal/cases/1", Some("jordan")).await;
    assert!(closed.body.contains("Ask to reopen"));
    assert!(closed.body.contains("the support team will decide"));
    let r = desk
        .post("/portal/cases/1/reopen", "jordan", &[("body", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("reopen", "body").is_some(), "{}", r.body);
    desk.post(
        "/portal/cases/1/reopen",
        "jordan",
        &[("body", "It is back")],
    )
    .await
    .redirects_to("/portal/cases/1?done=reopened-on-request");
    let reopened = desk.svc.case(&lee, "1".parse().unwrap()).await.unwrap();
    assert!(!reopened.is_closed());
    assert_eq!(reopened.reopen_count, 1);
    let page = desk
        .get("/portal/cases/1?done=reopened-on-request", Some("jordan"))
        .await;
    assert!(page.body.contains("Your case is open again"));
    assert!(!page.body.contains("Ask to reopen"));
    let staff = desk.get("/cases/1", Some("lee")).await;
    assert!(staff.body.contains("It is back") && staff.body.contains("customer asked to reopen"));
    // an open case has nothing to reopen
    let r = desk
        .post("/portal/cases/1/reopen", "jordan", &[("body", "again")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

// ---------------------------------------------------------------------------------------
// Suggestions while a customer types a new case's title

/// Everything the closing checklist needs, then a resolved close, as Lee.
async fn solve(desk: &Desk, n: u64) {
    use casework_core::model::{CloseMode, PostKind, Resolution, Visibility};
    let lee = desk.actor("lee");
    let number = n.to_string().parse().unwrap();
    let edit = casework_core::workflow::CaseEdit {
        product: Some("Maps".into()),
        product_version: Some("2.1".into()),
        product_area: Some("Export".into()),
        functionality: Some("PDF".into()),
        issue: Some("Timeout".into()),
        ..Default::default()
    };
    for cmd in [
        casework_core::Command::Edit(edit),
        casework_core::Command::ConfirmTitle,
        casework_core::Command::AddPost {
            kind: PostKind::Summary,
            body: "Raised the timeout.".into(),
            visibility: Visibility::Internal,
        },
        casework_core::Command::Close {
            mode: CloseMode::Resolved,
            resolution: Some(Resolution {
                primary: "Configuration".into(),
                secondary: "Timeout raised".into(),
            }),
            notify_customer: false,
        },
    ] {
        desk.svc.execute(&lee, number, None, cmd).await.unwrap();
    }
}

#[tokio::test]
async fn a_customer_typing_a_title_is_shown_articles_and_their_own_solved_cases_only() {
    let desk = Desk::new().await;
    let own_solved = desk.open("Map export times out", "Jordan", JORDAN).await;
    let own_open = desk.open("Map export is blurry", "Jordan", JORDAN).await;
    let others = desk
        .open("Eve's map export times out too", "Eve", EVE)
        .await;
    solve(&desk, own_solved).await;
    solve(&desk, others).await;
    desk.svc
        .add_article(
            &desk.actor("ana"),
            casework_core::model::NewArticle {
                title: "Exporting large maps".into(),
                body: "Raise the export timeout for large maps.".into(),
                url: None,
            },
        )
        .await
        .unwrap();
    let r = desk
        .htmx_get("/portal/suggestions?title=map+export+timeout", "jordan")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Exporting large maps"), "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "<a href=\"/portal/cases/{own_solved}\">Map export times out</a>"
        )),
        "{}",
        r.body
    );
    assert!(!r.body.contains("blurry"), "an open case is no answer yet");
    assert!(!r.body.contains("Eve"), "never another customer's case");
    assert!(!r.body.contains("<html"), "a fragment");
    let _ = own_open;
    // the page itself shows them for ?title= (and a blank title shows none)
    let page = desk
        .get("/portal/new?title=export+timeout", Some("jordan"))
        .await;
    assert!(page.body.contains("These may already answer it"));
    assert!(page.body.contains("value=\"export timeout\""));
    let blank = desk.get("/portal/new", Some("jordan")).await;
    assert!(!blank.body.contains("These may already answer it"));
    // Eve sees her own solved case, not Jordan's
    let eve = desk
        .htmx_get("/portal/suggestions?title=map+export+timeout", "eve")
        .await;
    assert!(
        eve.body.contains("Eve&#39;s map export") || eve.body.contains("Eve's map export"),
        "{}",
        eve.body
    );
    assert!(!eve.body.contains("Map export times out<"), "{}", eve.body);
    // staff are at the desk, not here
    let ana = desk.get("/portal/suggestions?title=map", Some("ana")).await;
    assert_eq!(ana.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn without_the_suggest_permission_nothing_is_suggested() {
    let text = casework_core::config::DEFAULT_WORKFLOW
        .replace("\"post_customer\", \"suggest\"]", "\"post_customer\"]");
    let desk = Desk::with_config(WorkflowConfig::parse(&text).unwrap()).await;
    let n = desk.open("Map export times out", "Jordan", JORDAN).await;
    solve(&desk, n).await;
    let r = desk
        .htmx_get("/portal/suggestions?title=map+export", "jordan")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("Map export"), "{}", r.body);
}
