//! Signing in and out of the desk: the session cookie, the [`SessionCookies`] identifier,
//! the sign-in form (with a CSRF token bound to a pre-session cookie, so a login form
//! cannot be posted from another site either), sign-out and sign-out everywhere. Who may
//! sign in, expiry and throttling are the service's (`CaseService::sign_in`,
//! `CaseService::session`); this module carries secrets between the browser and it.
//!
//! Cookies are `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the server is told
//! it is behind TLS ([`WebState::secure_cookies`]) or the request says it came over https
//! (`X-Forwarded-Proto: https`, from the proxy that terminates TLS).

use std::net::SocketAddr;

use askama::Template;
use async_trait::async_trait;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use casework_core::limits::{MAX_PASSWORD, SESSION_MAX_SECS, SIGN_IN_LINK_SECS};
use casework_core::service::SignInError;
use casework_core::{CaseService, ServiceError};

use crate::page::{Area, Chrome, Posted, identified, message, render, service_error_page};
use crate::{Identify, Visitor, WebState, credentials, csrf};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "casework_session";

/// The pre-session cookie's name: a random value the sign-in form's CSRF token is bound to.
pub const PRE_COOKIE: &str = "casework_pre";

/// Largest sign-in form accepted (a name, a password at its longest, a token, a path).
const MAX_SIGN_IN_FORM: usize = 4 * MAX_PASSWORD + 4096;

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Identifies visitors by their session cookie, through the service.
#[derive(Clone)]
pub struct SessionCookies {
    service: CaseService,
}

impl SessionCookies {
    /// Sessions of `service`'s store.
    pub fn new(service: CaseService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl Identify for SessionCookies {
    async fn identify(&self, request: &Parts) -> Result<Option<Visitor>, ServiceError> {
        let Some(secret) = cookie(request, SESSION_COOKIE) else {
            return Ok(None);
        };
        Ok(self
            .service
            .session(secret)
            .await?
            .map(|(actor, session)| Visitor { actor, session }))
    }
}

fn secure(state: &WebState, parts: &Parts) -> bool {
    state.secure_cookies
        || parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A `Set-Cookie` value: `value` for `max_age` seconds (0 removes it).
fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn with_cookies(mut res: Response, cookies: Vec<Option<HeaderValue>>) -> Response {
    for c in cookies.into_iter().flatten() {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// A query parameter's value, when present and not blank.
fn query(parts: &Parts, name: &str) -> Option<String> {
    form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.into_owned())
}

/// Where to go after signing in: a path on this site only (never `//host` or a URL).
fn next_path(raw: &str) -> String {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.starts_with("/\\")
        && !raw.chars().any(char::is_control)
        && !raw.starts_with("/sign-");
    if ok { raw.to_string() } else { "/".into() }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    chrome: Chrome,
    next: String,
    name: String,
    error: Option<String>,
    email: String,
    email_error: Option<String>,
}

/// What a sign-in page shows again after a refusal: the staff form's or the customers'.
enum Again<'a> {
    /// Nothing typed yet.
    Fresh,
    /// The staff form, with the name typed and why it was refused.
    Staff(&'a str, String),
    /// The customers' form, with the address typed and why it was refused.
    Customer(&'a str, String),
}

fn pre_token(state: &WebState, pre: &str) -> String {
    state.csrf.token(&format!("pre-session:{pre}"))
}

fn sign_in_page(
    state: &WebState,
    parts: &Parts,
    status: StatusCode,
    next: &str,
    again: Again<'_>,
) -> Response {
    // the pre-session value the form's token is bound to: the browser's, or a new one
    let (pre, fresh) = match cookie(parts, PRE_COOKIE) {
        Some(p) if p.len() == 43 => (p.to_string(), false),
        _ => match casework_core::ports::Credentials::secret(&credentials::SystemCredentials) {
            Ok(p) => (p, true),
            Err(e) => return service_error_page(None, &e.into()),
        },
    };
    let mut chrome = Chrome::bare(None, "Sign in");
    chrome.area = Area::Outside;
    chrome.csrf = pre_token(state, &pre);
    if let Some(notice) = query(parts, "done") {
        chrome = chrome.notice(&notice);
    }
    let (mut name, mut error, mut email, mut email_error) =
        (String::new(), None, String::new(), None);
    match again {
        Again::Fresh => {}
        Again::Staff(n, e) => (name, error) = (n.to_string(), Some(e)),
        Again::Customer(m, e) => (email, email_error) = (m.to_string(), Some(e)),
    }
    let page = SignInPage {
        chrome,
        next: next_path(next),
        name,
        error,
        email,
        email_error,
    };
    let res = render(status, &page);
    if fresh {
        let c = set_cookie(PRE_COOKIE, &pre, 3600, secure(state, parts));
        with_cookies(res, vec![c])
    } else {
        res
    }
}

/// `GET /sign-in`.
pub async fn form(State(state): State<WebState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let next = query(&parts, "next").unwrap_or_default();
    sign_in_page(&state, &parts, StatusCode::OK, &next, Again::Fresh)
}

/// The client's address, as the server accepted the connection.
fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

const EXPIRED_FORM: &str =
    "This form has expired (or came from another site). Nothing was sent: try again.";

/// A form posted from outside a session (sign-in, links): its body, refused unless its
/// token is the one for the browser's pre-session cookie. `again` says which form to show
/// again on a refusal.
async fn pre_session_form(
    state: &WebState,
    req: Request,
    customer: bool,
) -> Result<(Parts, Posted), Response> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SIGN_IN_FORM).await else {
        let again = Again::Staff("", "That is too long for a sign-in form.".into());
        return Err(sign_in_page(
            state,
            &parts,
            StatusCode::PAYLOAD_TOO_LARGE,
            "/",
            again,
        ));
    };
    let form = Posted::from_pairs(
        form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    let token_ok = cookie(&parts, PRE_COOKIE).is_some_and(|pre| {
        state
            .csrf
            .verify(&format!("pre-session:{pre}"), form.get(csrf::FIELD))
    });
    if !token_ok {
        let again = if customer {
            Again::Customer(form.get("email"), EXPIRED_FORM.into())
        } else {
            Again::Staff(form.get("name"), EXPIRED_FORM.into())
        };
        let next = form.get("next");
        return Err(sign_in_page(
            state,
            &parts,
            StatusCode::FORBIDDEN,
            next,
            again,
        ));
    }
    Ok((parts, form))
}

/// The answer to a throttled sign-in: 429 with `Retry-After`, the form shown again.
fn throttled<'a>(
    state: &WebState,
    parts: &Parts,
    next: &str,
    retry_after_secs: u64,
    again: impl FnOnce(String) -> Again<'a>,
) -> Response {
    let minutes = retry_after_secs.div_ceil(60);
    let text = format!(
        "Too many attempts for this account or from this address. Try again in {minutes} \
         minutes."
    );
    let mut res = sign_in_page(
        state,
        parts,
        StatusCode::TOO_MANY_REQUESTS,
        next,
        again(text),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Signed in: the session cookie set, the pre-session one cleared, on to `to`.
fn signed_in(state: &WebState, parts: &Parts, secret: &str, to: &str) -> Response {
    let secure = secure(state, parts);
    with_cookies(
        Redirect::to(to).into_response(),
        vec![
            set_cookie(SESSION_COOKIE, secret, SESSION_MAX_SECS, secure),
            set_cookie(PRE_COOKIE, "", 0, secure),
        ],
    )
}

/// `POST /sign-in`: a member of staff's name and password.
pub async fn submit(State(state): State<WebState>, req: Request) -> Response {
    let (parts, form) = match pre_session_form(&state, req, false).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    let (next, name) = (form.get("next"), form.get("name"));
    let address = client_address(&parts);
    let answer = state
        .service
        .sign_in(name, form.get("password"), &address)
        .await;
    match answer {
        Ok(s) => signed_in(&state, &parts, &s.secret, &next_path(next)),
        Err(SignInError::Refused) => {
            let again = Again::Staff(name, "Wrong name or password.".into());
            sign_in_page(&state, &parts, StatusCode::UNAUTHORIZED, next, again)
        }
        Err(SignInError::Throttled { retry_after_secs }) => {
            let again = |text| Again::Staff(name, text);
            throttled(&state, &parts, next, retry_after_secs, again)
        }
        Err(SignInError::Service(e)) => service_error_page(None, &e),
    }
}

/// `POST /sign-in/link`: a customer asks for a sign-in link by email.
pub async fn ask_for_link(State(state): State<WebState>, req: Request) -> Response {
    let (parts, form) = match pre_session_form(&state, req, true).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    let email = form.get("email").trim().to_string();
    let Some(base) = state.public_url.as_deref() else {
        let unavailable = ServiceError::Store(casework_core::StoreError::Unavailable(
            "this server has no public address for sign-in links (serve --public-url)".into(),
        ));
        return service_error_page(None, &unavailable);
    };
    let address = client_address(&parts);
    match state
        .service
        .request_sign_in_link(&email, &address, base)
        .await
    {
        Ok(()) => message(
            None,
            StatusCode::OK,
            "Check your email",
            &format!(
                "If {email} has cases with us, a sign-in link is on its way to it. It works \
                 once, within {} minutes.",
                SIGN_IN_LINK_SECS / 60
            ),
            Some(("/sign-in", "Back to sign-in")),
        ),
        Err(SignInError::Throttled { retry_after_secs }) => {
            let again = |text| Again::Customer(&email, text);
            throttled(&state, &parts, "/portal", retry_after_secs, again)
        }
        Err(SignInError::Service(ServiceError::Workflow(
            casework_core::WorkflowError::Invalid { message: m, .. },
        ))) => {
            let again = Again::Customer(&email, format!("That address does not work: {m}."));
            sign_in_page(
                &state,
                &parts,
                StatusCode::UNPROCESSABLE_ENTITY,
                "/portal",
                again,
            )
        }
        Err(SignInError::Refused) => service_error_page(
            None,
            &ServiceError::Internal("a link request cannot be refused as a sign-in".into()),
        ),
        Err(SignInError::Service(e)) => service_error_page(None, &e),
    }
}

/// The page a sign-in link opens.
#[derive(Template)]
#[template(path = "sign_in_link.html")]
pub struct LinkPage {
    chrome: Chrome,
    secret: String,
}

/// `GET /sign-in/link/{secret}`: a button that uses the link. Opening the link uses
/// nothing, so a mail scanner that fetches it does not spend it.
pub async fn link_page(
    State(state): State<WebState>,
    Path(secret): Path<String>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let (pre, fresh) = match cookie(&parts, PRE_COOKIE) {
        Some(p) if p.len() == 43 => (p.to_string(), false),
        _ => match casework_core::ports::Credentials::secret(&credentials::SystemCredentials) {
            Ok(p) => (p, true),
            Err(e) => return service_error_page(None, &e.into()),
        },
    };
    let mut chrome = Chrome::bare(None, "Sign in to your cases");
    chrome.area = Area::Outside;
    chrome.csrf = pre_token(&state, &pre);
    let res = render(StatusCode::OK, &LinkPage { chrome, secret });
    if fresh {
        let c = set_cookie(PRE_COOKIE, &pre, 3600, secure(&state, &parts));
        with_cookies(res, vec![c])
    } else {
        res
    }
}

/// `POST /sign-in/link/use`: spends the link and signs the customer in.
pub async fn use_link(State(state): State<WebState>, req: Request) -> Response {
    let (parts, form) = match pre_session_form(&state, req, true).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    let address = client_address(&parts);
    match state
        .service
        .sign_in_with_link(form.get("secret"), &address)
        .await
    {
        Ok(s) => signed_in(&state, &parts, &s.secret, "/portal"),
        Err(SignInError::Refused) => message(
            None,
            StatusCode::UNAUTHORIZED,
            "This link no longer works",
            "A sign-in link works once, within 15 minutes. Ask for a new one.",
            Some(("/sign-in", "Ask for a new link")),
        ),
        Err(SignInError::Throttled { retry_after_secs }) => {
            throttled(&state, &parts, "/portal", retry_after_secs, |text| {
                Again::Customer("", text)
            })
        }
        Err(SignInError::Service(e)) => service_error_page(None, &e),
    }
}

fn signed_out(state: &WebState, parts: &Parts, done: &str) -> Response {
    with_cookies(
        Redirect::to(&format!("/sign-in?done={done}")).into_response(),
        vec![set_cookie(SESSION_COOKIE, "", 0, secure(state, parts))],
    )
}

/// The request's parts and its form, whose CSRF token was checked like any form's (so a
/// cross-site post cannot sign anyone out).
async fn checked(state: &WebState, req: Request) -> Result<(Parts, Posted), Response> {
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts.clone(), body);
    let form = <Posted as axum::extract::FromRequest<WebState>>::from_request(req, state).await?;
    Ok((parts, form))
}

/// `POST /sign-out`: ends this session.
pub async fn sign_out(State(state): State<WebState>, req: Request) -> Response {
    let (parts, _) = match checked(&state, req).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    let secret = cookie(&parts, SESSION_COOKIE).unwrap_or("");
    if let Err(e) = state.service.sign_out(secret).await {
        return service_error_page(None, &e);
    }
    signed_out(&state, &parts, "signed-out")
}

/// `POST /sign-out/everywhere`: ends every session of whoever is signed in, this one too.
pub async fn sign_out_everywhere(State(state): State<WebState>, req: Request) -> Response {
    let (parts, _) = match checked(&state, req).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    let Some(visitor) = identified(&parts) else {
        return signed_out(&state, &parts, "signed-out");
    };
    if let Err(e) = state.service.sign_out_everywhere(&visitor.actor).await {
        return service_error_page(Some(&visitor), &e);
    }
    signed_out(&state, &parts, "signed-out-everywhere")
}
