//! Signing in for real, in-process: the session cookie's attributes, the sign-in form's
//! own CSRF token, refusals, sign-out and sign-out everywhere, idle and absolute expiry on
//! a clock the test moves, throttling per account and per address, where a sign-in may
//! send the browser next, and customers' one-time links sent through the outbox.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use casework_core::model::{Actor, Role, TemplateName};
use casework_core::ports::CaseStore;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::{CaseService, Templates, WorkflowConfig};
use jiff::SignedDuration;

use super::{Reply, reply, staff};
use crate::{CsrfKey, SessionCookies, SystemCredentials, WebState, router};

const PASSWORD: &str = "correct horse battery staple";

struct Site {
    app: axum::Router,
    clock: Arc<FixedClock>,
    svc: CaseService,
}

async fn make_site(secure: bool) -> Site {
    let store: Arc<dyn CaseStore> = Arc::new(casework_store_memory::MemoryStore::new());
    let clock = Arc::new(FixedClock::default());
    let svc = CaseService::new(
        store,
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    )
    .with_credentials(Arc::new(SystemCredentials));
    let root = Actor::from_person(
        &svc.register(None, staff("root", Role::Admin))
            .await
            .unwrap(),
    );
    svc.add_person(&root, staff("ana", Role::Agent))
        .await
        .unwrap();
    for name in ["root", "ana"] {
        svc.set_password(&root, name, PASSWORD).await.unwrap();
    }
    let state = WebState::new(
        svc.clone(),
        Arc::new(SessionCookies::new(svc.clone())),
        CsrfKey::new([9; 32]),
    )
    .with_secure_cookies(secure)
    .with_public_url("https://desk.example/");
    Site {
        app: router(state),
        clock,
        svc,
    }
}

fn cookies_set(r: &Reply) -> Vec<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// `name=value` of the cookie `name` a reply sets.
fn cookie_pair(r: &Reply, name: &str) -> Option<String> {
    cookies_set(r)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
}

impl Site {
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        form: Option<&[(&str, &str)]>,
        from: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if !cookie.is_empty() {
            req = req.header(header::COOKIE, cookie);
        }
        let body = match form {
            Some(fields) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    s.append_pair(k, v);
                }
                Body::from(s.finish())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        let peer: SocketAddr = format!("{from}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        reply(&self.app, req).await
    }

    /// The sign-in form: its pre-session cookie and its token.
    async fn form(&self) -> (String, String) {
        let r = self.send("GET", "/sign-in", "", None, "10.0.0.1").await;
        assert_eq!(r.status, StatusCode::OK);
        (cookie_pair(&r, "casework_pre").unwrap(), token_of(&r))
    }

    async fn sign_in_from(&self, name: &str, password: &str, from: &str) -> Reply {
        let (pre, token) = self.form().await;
        let fields = [
            ("csrf", token.as_str()),
            ("name", name),
            ("password", password),
            ("next", "/cases?view=mine"),
        ];
        self.send("POST", "/sign-in", &pre, Some(&fields), from)
            .await
    }

    /// Signs in; answers the session cookie pair.
    async fn signed_in(&self, name: &str) -> String {
        let r = self.sign_in_from(name, PASSWORD, "10.0.0.1").await;
        r.redirects_to("/cases?view=mine");
        cookie_pair(&r, "casework_session").unwrap()
    }

    async fn page(&self, session: &str) -> Reply {
        self.send("GET", "/cases", session, None, "10.0.0.1").await
    }
}

fn token_of(r: &Reply) -> String {
    let at = r.body.find("name=\"csrf\" value=\"").unwrap() + 19;
    r.body[at..at + 64].to_string()
}

fn is_signed_in(r: &Reply) -> bool {
    r.status == StatusCode::OK && r.body.contains("Signed in as")
}

#[tokio::test]
async fn staff_sign_in_with_a_password_and_get_a_hardened_session_cookie() {
    let site = make_site(false).await;
    let wrong = site
        .sign_in_from("ana", "not the password!", "10.0.0.1")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong name or password."));
    assert_eq!(cookie_pair(&wrong, "casework_session"), None);
    let unknown = site.sign_in_from("nobody", PASSWORD, "10.0.0.1").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(
        unknown.body.contains("Wrong name or password."),
        "the same words"
    );

    let ok = site.sign_in_from("ana", PASSWORD, "10.0.0.1").await;
    ok.redirects_to("/cases?view=mine");
    let set = cookies_set(&ok);
    let session = set
        .iter()
        .find(|c| c.starts_with("casework_session="))
        .unwrap();
    for attribute in [
        "; Path=/",
        "; HttpOnly",
        "; SameSite=Lax",
        "; Max-Age=604800",
    ] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain http here: {session}");
    let pair = cookie_pair(&ok, "casework_session").unwrap();
    let page = site.page(&pair).await;
    assert!(is_signed_in(&page), "{}", page.body);
    assert!(page.body.contains("<strong>ana</strong>"));
    // a made-up session is nobody
    let forged = site
        .page("casework_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);

    // behind TLS, every cookie is Secure; a proxy's X-Forwarded-Proto says the same
    let tls = make_site(true).await;
    let r = tls.sign_in_from("ana", PASSWORD, "10.0.0.1").await;
    assert!(
        cookies_set(&r).iter().all(|c| c.contains("; Secure")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_sign_in_form_without_its_token_is_refused() {
    let site = make_site(false).await;
    let (pre, token) = site.form().await;
    let other = site.form().await.0;
    for (cookie, fields) in [
        (pre.as_str(), vec![("name", "ana"), ("password", PASSWORD)]),
        (
            "",
            vec![
                ("csrf", token.as_str()),
                ("name", "ana"),
                ("password", PASSWORD),
            ],
        ),
        (
            other.as_str(),
            vec![
                ("csrf", token.as_str()),
                ("name", "ana"),
                ("password", PASSWORD),
            ],
        ),
    ] {
        let r = site
            .send("POST", "/sign-in", cookie, Some(&fields), "10.0.0.1")
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{cookie}");
        assert_eq!(cookie_pair(&r, "casework_session"), None);
    }
}

#[tokio::test]
async fn sign_out_ends_one_session_and_sign_out_everywhere_ends_them_all() {
    let site = make_site(false).await;
    let (laptop, phone, other) = (
        site.signed_in("ana").await,
        site.signed_in("ana").await,
        site.signed_in("root").await,
    );
    let page = site.page(&laptop).await;
    let token = token_of(&page);
    // without the token nothing happens
    let r = site
        .send("POST", "/sign-out", &laptop, Some(&[]), "10.0.0.1")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(is_signed_in(&site.page(&laptop).await));
    // with it, this session ends and the cookie is cleared
    let r = site
        .send(
            "POST",
            "/sign-out",
            &laptop,
            Some(&[("csrf", &token)]),
            "10.0.0.1",
        )
        .await;
    r.redirects_to("/sign-in?done=signed-out");
    assert!(
        cookies_set(&r)
            .iter()
            .any(|c| c.starts_with("casework_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(site.page(&laptop).await.status, StatusCode::SEE_OTHER);
    assert!(
        is_signed_in(&site.page(&phone).await),
        "the phone stays signed in"
    );

    let tablet = site.signed_in("ana").await;
    let token = token_of(&site.page(&phone).await);
    let r = site
        .send(
            "POST",
            "/sign-out/everywhere",
            &phone,
            Some(&[("csrf", &token)]),
            "10.0.0.1",
        )
        .await;
    r.redirects_to("/sign-in?done=signed-out-everywhere");
    for s in [&phone, &tablet] {
        assert_eq!(site.page(s).await.status, StatusCode::SEE_OTHER);
    }
    assert!(
        is_signed_in(&site.page(&other).await),
        "root's session is root's"
    );
}

#[tokio::test]
async fn sessions_end_after_eight_idle_hours_and_seven_days_in_all() {
    let site = make_site(false).await;
    let s = site.signed_in("ana").await;
    // used every seven hours, it lives on...
    for _ in 0..23 {
        site.clock.advance(SignedDuration::from_hours(7));
        assert!(is_signed_in(&site.page(&s).await));
    }
    // ...until seven days after sign-in, however busy
    site.clock.advance(SignedDuration::from_hours(7));
    assert_eq!(site.page(&s).await.status, StatusCode::SEE_OTHER);

    let idle = site.signed_in("ana").await;
    site.clock.advance(SignedDuration::from_hours(8));
    let r = site.page(&idle).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/sign-in?next="));
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_and_per_address() {
    let site = make_site(false).await;
    // five wrong passwords for ana, from five addresses
    for i in 0..5 {
        let r = site
            .sign_in_from("ana", "wrong password!", &format!("10.0.1.{i}"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // now even the right one is refused, from anywhere, and says when to come back
    let r = site.sign_in_from("ana", PASSWORD, "10.0.2.1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "900");
    assert_eq!(cookie_pair(&r, "casework_session"), None);
    // root is not affected
    site.signed_in("root").await;
    // once the window has passed, ana signs in again
    site.clock.advance(SignedDuration::from_secs(15 * 60 + 1));
    site.signed_in("ana").await;

    // twenty failures from one address, on any accounts, close that address
    for i in 0..20 {
        let r = site
            .sign_in_from(&format!("guess{i}"), "wrong password!", "10.9.9.9")
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = site.sign_in_from("root", PASSWORD, "10.9.9.9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    site.sign_in_from("root", PASSWORD, "10.0.0.1")
        .await
        .redirects_to("/cases");
}

#[tokio::test]
async fn after_sign_in_the_browser_goes_only_to_a_path_on_this_site() {
    let site = make_site(false).await;
    for (next, to) in [
        ("/cases/1027", "/cases/1027"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/sign-out", "/"),
        ("", "/"),
    ] {
        let (pre, token) = site.form().await;
        let fields = [
            ("csrf", token.as_str()),
            ("name", "ana"),
            ("password", PASSWORD),
            ("next", next),
        ];
        let r = site
            .send("POST", "/sign-in", &pre, Some(&fields), "10.0.0.1")
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(r.location(), to, "{next}");
    }
}

impl Site {
    /// Opens a case for `email` as ana.
    async fn case_for(&self, title: &str, email: &str) {
        let ana = Actor::from_person(&staff("ana", Role::Agent));
        let mut new = casework_core::testing::new_case(title);
        new.customer.email = email.parse().unwrap();
        new.customer.name = "Jordan Blake".into();
        self.svc.open_case(&ana, new).await.unwrap();
    }

    /// The sign-in emails queued so far.
    async fn links_sent(&self) -> Vec<casework_core::model::OutboxMessage> {
        let root = Actor::system("test");
        let all = self.svc.outbox(&root, None, 100).await.unwrap();
        all.into_iter()
            .filter(|m| m.template == TemplateName::SignInLink)
            .collect()
    }

    async fn ask_for_link(&self, email: &str, from: &str) -> Reply {
        let (pre, token) = self.form().await;
        let fields = [("csrf", token.as_str()), ("email", email)];
        self.send("POST", "/sign-in/link", &pre, Some(&fields), from)
            .await
    }

    /// Uses a link's secret as the button on its page does; answers the reply.
    async fn use_link(&self, secret: &str, from: &str) -> Reply {
        let page = self
            .send("GET", &format!("/sign-in/link/{secret}"), "", None, from)
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(
            cookie_pair(&page, "casework_session"),
            None,
            "opening uses nothing"
        );
        let pre = cookie_pair(&page, "casework_pre").unwrap();
        let token = token_of(&page);
        let fields = [("csrf", token.as_str()), ("secret", secret)];
        self.send("POST", "/sign-in/link/use", &pre, Some(&fields), from)
            .await
    }
}

/// The secret of the link in a sign-in email.
fn secret_in(message: &casework_core::model::OutboxMessage) -> String {
    let at = message
        .body
        .find("https://desk.example/sign-in/link/")
        .unwrap()
        + 34;
    message.body[at..at + 43].to_string()
}

#[tokio::test]
async fn a_customer_signs_in_once_with_a_link_emailed_through_the_outbox() {
    let site = make_site(false).await;
    site.case_for("Printer on fire", "jordan@customer.example")
        .await;
    site.case_for("Someone else's case", "eve@customer.example")
        .await;

    let r = site
        .ask_for_link("jordan@customer.example", "10.0.0.1")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("a sign-in link is on its way"));
    // an address without cases gets the same answer, and no email
    let stranger = site
        .ask_for_link("nobody@customer.example", "10.0.0.1")
        .await;
    assert_eq!(stranger.status, StatusCode::OK);
    assert!(stranger.body.contains("a sign-in link is on its way"));
    let sent = site.links_sent().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), "jordan@customer.example");
    assert!(sent[0].body.contains("It works once, within 15 minutes"));
    let secret = secret_in(&sent[0]);

    let r = site.use_link(&secret, "10.0.0.1").await;
    r.redirects_to("/portal");
    let session = cookie_pair(&r, "casework_session").unwrap();
    let portal = site
        .send("GET", "/portal", &session, None, "10.0.0.1")
        .await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(portal.body.contains("Printer on fire"));
    assert!(
        !portal.body.contains("Someone else"),
        "only their own cases"
    );
    // the desk is not theirs
    let desk = site.send("GET", "/cases", &session, None, "10.0.0.1").await;
    assert_eq!(desk.status, StatusCode::FORBIDDEN);

    // once only
    let again = site.use_link(&secret, "10.0.0.1").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.body.contains("This link no longer works"));
    assert_eq!(cookie_pair(&again, "casework_session"), None);

    // and only within 15 minutes
    site.ask_for_link("jordan@customer.example", "10.0.0.1")
        .await;
    let late = secret_in(&site.links_sent().await[1]);
    site.clock.advance(SignedDuration::from_mins(15));
    assert_eq!(
        site.use_link(&late, "10.0.0.1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn link_requests_are_throttled_and_a_link_is_never_sent_from_a_case() {
    let site = make_site(false).await;
    site.case_for("Printer on fire", "jordan@customer.example")
        .await;
    for i in 0..5 {
        let r = site
            .ask_for_link("jordan@customer.example", &format!("10.0.3.{i}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = site
        .ask_for_link("jordan@customer.example", "10.0.4.1")
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(site.links_sent().await.len(), 5);
    // an address that is not one is said so, next to the field
    let bad = site.ask_for_link("not an address", "10.0.0.1").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"link-error\""), "{}", bad.body);
    // staff cannot preview or send the sign-in email from a case
    let ana = Actor::from_person(&staff("ana", Role::Agent));
    let refused = site
        .svc
        .preview_email(
            &ana,
            "1".parse().unwrap(),
            TemplateName::SignInLink,
            &Default::default(),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(casework_core::ServiceError::Workflow(
                casework_core::WorkflowError::Invalid { ref field, .. }
            )) if field == "template"
        ),
        "{refused:?}"
    );
}

/// A session's person is read with it on every request: a role changed in the directory
/// counts at the very next page, with no sign-in again and no cache in between.
#[tokio::test]
async fn a_changed_role_counts_at_the_next_request() {
    let site = make_site(false).await;
    let root = Actor::from_person(&staff("root", Role::Admin));
    let ana = site.signed_in("ana").await;
    for (role, admin) in [
        (Role::Agent, false),
        (Role::Admin, true),
        (Role::Agent, false),
    ] {
        site.svc
            .add_person(&root, staff("ana", role))
            .await
            .unwrap();
        let page = site.page(&ana).await;
        assert!(is_signed_in(&page), "{role:?}");
        assert_eq!(page.body.contains("href=\"/admin"), admin, "{role:?}");
    }
    // taken off the staff: the same cookie no longer opens the desk
    site.svc
        .add_person(&root, staff("ana", Role::Customer))
        .await
        .unwrap();
    let r = site.page(&ana).await;
    assert!(!is_signed_in(&r), "{}", r.body);
    r.redirects_to("/sign-in?next=%2Fcases");
}
