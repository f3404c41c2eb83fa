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
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use casework_core::limits::{MAX_PASSWORD, SESSION_MAX_SECS};
use casework_core::service::SignInError;
use casework_core::{CaseService, ServiceError};

use crate::page::{Area, Chrome, Posted, identified, render, service_error_page};
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
}

fn pre_token(state: &WebState, pre: &str) -> String {
    state.csrf.token(&format!("pre-session:{pre}"))
}

fn sign_in_page(
    state: &WebState,
    parts: &Parts,
    status: StatusCode,
    next: &str,
    name: &str,
    error: Option<String>,
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
    let page = SignInPage {
        chrome,
        next: next_path(next),
        name: name.to_string(),
        error,
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
    sign_in_page(&state, &parts, StatusCode::OK, &next, "", None)
}

/// `POST /sign-in`: a member of staff's name and password.
pub async fn submit(State(state): State<WebState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SIGN_IN_FORM).await else {
        return sign_in_page(
            &state,
            &parts,
            StatusCode::PAYLOAD_TOO_LARGE,
            "/",
            "",
            Some("That is too long for a name and a password.".into()),
        );
    };
    let form = Posted::from_pairs(
        form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    let (next, name) = (form.get("next"), form.get("name"));
    let token_ok = cookie(&parts, PRE_COOKIE).is_some_and(|pre| {
        state
            .csrf
            .verify(&format!("pre-session:{pre}"), form.get(csrf::FIELD))
    });
    if !token_ok {
        let error = "This form has expired (or came from another site). Nothing was sent: \
                     try again."
            .to_string();
        return sign_in_page(
            &state,
            &parts,
            StatusCode::FORBIDDEN,
            next,
            name,
            Some(error),
        );
    }
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
    let signed_in = state
        .service
        .sign_in(name, form.get("password"), &address)
        .await;
    match signed_in {
        Ok(s) => {
            let secure = secure(&state, &parts);
            with_cookies(
                Redirect::to(&next_path(next)).into_response(),
                vec![
                    set_cookie(SESSION_COOKIE, &s.secret, SESSION_MAX_SECS, secure),
                    set_cookie(PRE_COOKIE, "", 0, secure),
                ],
            )
        }
        Err(SignInError::Refused) => sign_in_page(
            &state,
            &parts,
            StatusCode::UNAUTHORIZED,
            next,
            name,
            Some("Wrong name or password.".into()),
        ),
        Err(SignInError::Throttled { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let mut res = sign_in_page(
                &state,
                &parts,
                StatusCode::TOO_MANY_REQUESTS,
                next,
                name,
                Some(format!(
                    "Too many failed sign-ins for this account or from this address. Try \
                     again in {minutes} minutes."
                )),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
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
