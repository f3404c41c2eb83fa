//! What every page shares: who is asking (extractors by role), the checked form body (and
//! one with files),
//! the page frame, the state of a form after a refusal, and the error pages.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use casework_core::ServiceError;
use casework_core::attachment::{OPAQUE, Upload};
use casework_core::model::Role;
use casework_core::ports::StoreError;
use casework_core::workflow::{MissingItem, WorkflowError};

use crate::{MAX_FORM, Visitor, WebState, assets, csrf};

/// The visitor [`crate::Identify`] found for this request (`None`: not signed in).
#[derive(Debug, Clone)]
pub struct Identified(pub Option<Visitor>);

/// The visitor the router identified for this request.
pub(crate) fn identified(parts: &Parts) -> Option<Visitor> {
    parts
        .extensions
        .get::<Identified>()
        .and_then(|i| i.0.clone())
}

/// Where to send someone who is not signed in: the sign-in page, then back here.
fn to_sign_in(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    Redirect::to(&format!("/sign-in?next={next}")).into_response()
}

/// A signed-in member of staff (agent, lead, admin); a customer is shown the way to the
/// portal, anyone else is asked to sign in.
pub struct Staff(pub Visitor);

impl FromRequestParts<WebState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &WebState) -> Result<Self, Response> {
        match identified(parts) {
            Some(v) if v.actor.role.is_staff() => Ok(Staff(v)),
            Some(v) => Err(message(
                Some(&v),
                StatusCode::FORBIDDEN,
                "This is the support desk",
                "The desk is for the support team. Your own cases are in the portal.",
                Some(("/portal", "Go to my cases")),
            )),
            None => Err(to_sign_in(parts)),
        }
    }
}

/// A signed-in customer; staff are sent to the desk.
pub struct Customer(pub Visitor);

impl FromRequestParts<WebState> for Customer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &WebState) -> Result<Self, Response> {
        match identified(parts) {
            Some(v) if v.actor.role == Role::Customer => Ok(Customer(v)),
            Some(v) => Err(message(
                Some(&v),
                StatusCode::FORBIDDEN,
                "This is the customer portal",
                "The portal is where customers follow their own cases; the support team \
                 works cases at the desk.",
                Some(("/cases", "Go to the desk")),
            )),
            None => Err(to_sign_in(parts)),
        }
    }
}

/// The fields of a POSTed form whose CSRF token was checked against the visitor's session.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    pairs: Vec<(String, String)>,
    /// Whether htmx sent it (it wants a fragment, not a page).
    pub htmx: bool,
}

impl Posted {
    /// Builds a form from pairs (tests, and the query-string twin [`Params`]).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs, htmx: false }
    }

    /// The first value of a field, as sent (empty when absent).
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A field's value, `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name);
        (!v.trim().is_empty()).then(|| v.to_string())
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Every field but the CSRF token, for showing a refused form again as it was typed.
    pub fn values(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.pairs {
            if k != csrf::FIELD {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        out
    }

    /// The case version the form was made from, if it carries one.
    pub fn version(&self) -> Option<u64> {
        self.get("version").trim().parse().ok()
    }
}

fn forbidden_form(parts: Option<&Visitor>) -> Response {
    message(
        parts,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form did not carry this session's security token (it may come from another \
         site, or from before you signed in again). Nothing was changed. Go back, reload \
         the page and try again.",
        None,
    )
}

impl FromRequest<WebState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let Some(visitor) = identified(&parts) else {
            return Err(to_sign_in(&parts));
        };
        // a browser says where a request comes from; refuse one another site made
        let cross_site = parts
            .headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"cross-site");
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => {
                return Err(message(
                    Some(&visitor),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "That is too much text",
                    "A form may send at most 1 MiB. Nothing was changed.",
                    None,
                ));
            }
        };
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let form = Posted {
            pairs,
            htmx: parts.headers.contains_key("hx-request"),
        };
        if cross_site || !state.csrf.verify(&visitor.session, form.get(csrf::FIELD)) {
            return Err(forbidden_form(Some(&visitor)));
        }
        Ok(form)
    }
}

/// A POSTed form that may carry files (`multipart/form-data`, as a form with a file input
/// is sent; a form without one may come URL-encoded): its fields, its files, and whether it
/// was larger than the route allows. Its CSRF token is checked as [`Posted`]'s is, before
/// anything is done with it.
#[derive(Debug, Default)]
pub struct Submitted {
    /// The fields that are not files.
    pub form: Posted,
    /// The files chosen (a file input left empty sends none).
    pub files: Vec<Upload>,
    /// Whether the body went over the route's limit: nothing may be done with it (its
    /// fields and CSRF token may not have been read), only the page shown with the reason.
    pub too_large: bool,
}

impl FromRequest<WebState> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, Response> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"));
        if !multipart {
            let form = Posted::from_request(req, state).await?;
            return Ok(Submitted {
                form,
                ..Submitted::default()
            });
        }
        let (parts, body) = req.into_parts();
        let Some(visitor) = identified(&parts) else {
            return Err(to_sign_in(&parts));
        };
        let htmx = parts.headers.contains_key("hx-request");
        let cross_site = parts
            .headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"cross-site");
        // declared larger than the route takes: nothing of it is read here (the request
        // layers read a refused body to its end, so the browser, still sending, sees why)
        let limit = upload_limit(state) as u64;
        if declared_length(&parts).is_some_and(|n| n > limit) {
            return Ok(Submitted {
                form: Posted {
                    pairs: Vec::new(),
                    htmx,
                },
                too_large: true,
                ..Submitted::default()
            });
        }
        let req = Request::from_parts(parts, body);
        let mut multipart = Multipart::from_request(req, state).await.map_err(|_| {
            message(
                Some(&visitor),
                StatusCode::BAD_REQUEST,
                "That form could not be read",
                "The browser sent a form without its boundary. Nothing was changed.",
                None,
            )
        })?;
        let mut out = Submitted::default();
        let mut pairs = Vec::new();
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => {
                    out.too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                    break;
                }
            };
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let bytes = match field.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    out.too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                    break;
                }
            };
            match file_name {
                // an empty file input sends a part with no name and no bytes
                Some(f) if f.is_empty() && bytes.is_empty() => {}
                Some(f) => out.files.push(Upload {
                    file_name: Some(f),
                    content_type: content_type.unwrap_or_else(|| OPAQUE.to_string()),
                    bytes: bytes.to_vec(),
                }),
                None => pairs.push((name, String::from_utf8_lossy(&bytes).into_owned())),
            }
        }
        out.form = Posted { pairs, htmx };
        // a form too large to read (its token perhaps unread) changes nothing: the handler
        // only shows the visitor's own page again, saying so
        if out.too_large {
            return Ok(out);
        }
        if cross_site
            || !state
                .csrf
                .verify(&visitor.session, out.form.get(csrf::FIELD))
        {
            return Err(forbidden_form(Some(&visitor)));
        }
        Ok(out)
    }
}

/// The `Content-Length` a request declares, if any.
fn declared_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The body limit of a route that takes files: the workflow file's
/// `[attachments] max_message_bytes`, plus [`MAX_FORM`] for the text beside them.
pub fn upload_limit(state: &WebState) -> usize {
    usize::try_from(state.service.config().attachments.max_message_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(MAX_FORM)
}

/// A query string's parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Posted);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Params(Posted::from_pairs(pairs)))
    }
}

/// The frame around every page: title, who is signed in, navigation, assets, the CSRF
/// token its forms carry, and a one-line notice after a change.
pub struct Chrome {
    /// The page's title (also the `<h1>` unless the page says otherwise).
    pub title: String,
    /// Who is signed in, and as what.
    pub user: Option<(String, &'static str)>,
    /// Desk navigation (staff), portal navigation (customers), or none.
    pub area: Area,
    /// Which navigation item is this page.
    pub current: &'static str,
    /// The token for this session's forms.
    pub csrf: String,
    /// The stylesheet's URL.
    pub css: &'static str,
    /// htmx's URL.
    pub htmx: &'static str,
    /// htmx's licence's URL.
    pub licence: &'static str,
    /// What the last action did ("Call logged"), shown once after a redirect.
    pub notice: Option<String>,
    /// Whether the visitor's role may manage people and tokens (the admin pages' link).
    pub admin: bool,
}

/// Which navigation a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Agents, leads, admins.
    Desk,
    /// Customers.
    Portal,
    /// Nobody signed in.
    Outside,
}

impl Chrome {
    /// The frame for `visitor`'s page titled `title`, its forms carrying the session's token.
    pub fn new(state: &WebState, visitor: Option<&Visitor>, title: impl Into<String>) -> Self {
        let mut chrome = Self::bare(visitor, title);
        if let Some(v) = visitor {
            chrome.csrf = state.csrf.token(&v.session);
            chrome.admin = v.actor.role.is_staff()
                && state
                    .service
                    .config()
                    .permits(v.actor.role, casework_core::config::Permission::Manage);
        }
        chrome
    }

    /// The frame of a page without forms (messages, sign-in).
    pub fn bare(visitor: Option<&Visitor>, title: impl Into<String>) -> Self {
        let (user, area) = match visitor {
            Some(v) => (
                Some((v.actor.name.clone(), role_label(v.actor.role))),
                if v.actor.role == Role::Customer {
                    Area::Portal
                } else {
                    Area::Desk
                },
            ),
            None => (None, Area::Outside),
        };
        Self {
            title: title.into(),
            user,
            area,
            current: "",
            csrf: String::new(),
            css: &assets::CSS.url,
            htmx: &assets::HTMX.url,
            licence: &assets::HTMX_LICENSE.url,
            notice: None,
            admin: false,
        }
    }

    /// Marks the navigation item this page is.
    pub fn at(mut self, current: &'static str) -> Self {
        self.current = current;
        self
    }

    /// Shows the notice `done` names (a fixed vocabulary: nothing from the URL is echoed).
    pub fn notice(mut self, done: &str) -> Self {
        self.notice = notice_text(done).map(str::to_string);
        self
    }

    /// Whether this is the desk's frame.
    pub fn desk(&self) -> bool {
        self.area == Area::Desk
    }

    /// Whether this is the portal's frame.
    pub fn portal(&self) -> bool {
        self.area == Area::Portal
    }

    /// `aria-current` for a navigation item.
    pub fn current_if(&self, item: &str) -> &'static str {
        if self.current == item {
            "page"
        } else {
            "false"
        }
    }
}

fn notice_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "edited" => "Case updated.",
        "signed-out" => "Signed out.",
        "signed-out-everywhere" => "Signed out on every device.",
        "title-confirmed" => "Title confirmed as still right.",
        "taken" => "You now own this case.",
        "assigned" => "Owner changed.",
        "moved" => "Status changed.",
        "escalated" => "Case escalated.",
        "call" => "Call logged.",
        "post" => "Post added.",
        "files" => "Files added to the case.",
        "contact" => "Contact attempt recorded.",
        "email" => "Email queued; it goes out with the next delivery run.",
        "linked" => "Linked to the case.",
        "swarm" => "Help requested from the group.",
        "closed" => "Case closed.",
        "reopened" => "Case reopened.",
        "opened" => "Your case is open. We will be in touch.",
        "replied" => "Your reply was added to the case.",
        "asked" => {
            "Your request was sent to the support team, who will decide whether to \
                    reopen the case."
        }
        "unchanged" => "Nothing to change.",
        "reopened-on-request" => "Your case is open again. We will be in touch.",
        "person-saved" => "Person saved.",
        "password-set" => "Password set. It is not shown again.",
        "token-revoked" => "Token revoked: it no longer opens anything.",
        "email-retried" => "Email queued again: it goes out with the next delivery run.",
        "email-cancelled" => "Email cancelled: it will not be sent.",
        "released" => "Released from the quarantine: the message is on this case now.",
        "dropped" => "Message dropped from the quarantine for good.",
        _ => return None,
    })
}

/// How a role reads in the header.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::Lead => "Lead",
        Role::Agent => "Agent",
        Role::Customer => "Customer",
        Role::Service => "Service",
    }
}

/// A form's state when the page is shown again after a refusal: which form, what was
/// typed, what is wrong with which field, and a message for the whole form.
#[derive(Debug, Clone, Default)]
pub struct Forms {
    /// The form that was sent (`call`, `post`, …), whose disclosure is shown open.
    pub active: String,
    /// What was typed, by field.
    pub values: BTreeMap<String, String>,
    /// What is wrong, by field name as the service names it.
    pub errors: BTreeMap<String, String>,
    /// A message for the whole form.
    pub banner: Option<String>,
    /// A refused close's unmet items.
    pub missing: Vec<MissingItem>,
    /// Whether the refusal was a version conflict.
    pub conflict: bool,
    /// Whether `values` is what was typed (an absent field was left empty, an absent
    /// checkbox unticked) rather than a prefill over the defaults.
    pub typed: bool,
}

impl Forms {
    /// The state of form `active` as sent.
    pub fn sent(active: &str, form: &Posted) -> Self {
        Self {
            active: active.to_string(),
            values: form.values(),
            typed: true,
            ..Self::default()
        }
    }

    /// Form `active` shown open, fresh.
    pub fn opened(active: &str) -> Self {
        Self {
            active: active.to_string(),
            ..Self::default()
        }
    }

    /// Prefills form `active` (not an error: the summary draft, say).
    pub fn prefill(active: &str, values: &[(&str, String)]) -> Self {
        Self {
            active: active.to_string(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Self::default()
        }
    }

    /// Whether `form` is the one sent.
    pub fn is(&self, form: &str) -> bool {
        self.active == form
    }

    /// `open` for the disclosure of the form sent.
    pub fn open(&self, form: &str) -> &'static str {
        if self.is(form) { "open" } else { "" }
    }

    /// What was typed into a field of `form`, or `default` for a fresh form.
    pub fn value<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        if self.is(form) {
            if let Some(v) = self.values.get(field) {
                return v;
            }
            if self.typed {
                return "";
            }
        }
        default
    }

    /// Whether a select's option is the chosen one.
    pub fn selected(&self, form: &str, field: &str, option: &str, default: &str) -> bool {
        self.value(form, field, default) == option
    }

    /// Whether a checkbox is ticked (`default` for a fresh form).
    pub fn ticked(&self, form: &str, field: &str, default: bool) -> bool {
        if self.is(form) && self.typed {
            self.values.contains_key(field)
        } else {
            default
        }
    }

    /// What is wrong with a field of `form`.
    pub fn error(&self, form: &str, field: &str) -> Option<&str> {
        if self.is(form) {
            self.errors.get(field).map(String::as_str)
        } else {
            None
        }
    }

    /// The message for the whole of `form`.
    pub fn banner_for(&self, form: &str) -> Option<&str> {
        if self.is(form) {
            self.banner.as_deref()
        } else {
            None
        }
    }

    /// Records a refusal, next to the field the service named when it is one of the
    /// form's `fields`, else for the whole form. Returns the status to answer with.
    pub fn refuse(&mut self, err: &ServiceError, fields: &[&str]) -> StatusCode {
        let (status, field, text) = refusal(err);
        match field {
            Some(f) if fields.contains(&f.as_str()) => {
                self.errors.insert(f, text);
            }
            _ => self.banner = Some(text),
        }
        self.missing = match err {
            ServiceError::Workflow(w) => w.missing().to_vec(),
            _ => Vec::new(),
        };
        self.conflict = matches!(err, ServiceError::Conflict { .. });
        status
    }

    /// Records a field the front-end could not even read (a number that is not one).
    pub fn field(&mut self, field: &str, text: impl Into<String>) -> StatusCode {
        self.errors.insert(field.to_string(), text.into());
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// How a service error reads on a form: the status, the field it names, the sentence.
pub fn refusal(err: &ServiceError) -> (StatusCode, Option<String>, String) {
    match err {
        ServiceError::Workflow(w) => {
            let field = match w {
                WorkflowError::Invalid { field, .. }
                | WorkflowError::UnknownStatus { field, .. } => Some(field.clone()),
                _ => None,
            };
            let status = match w {
                WorkflowError::Forbidden { .. } => StatusCode::FORBIDDEN,
                WorkflowError::Invalid { .. } | WorkflowError::UnknownStatus { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                WorkflowError::Template(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            let text = match w {
                WorkflowError::Invalid { message, .. } => capitalized(message),
                WorkflowError::ChecklistIncomplete { .. } => {
                    "The case cannot be closed yet: the closing checklist is not complete.".into()
                }
                WorkflowError::PolicyNotMet { .. } => {
                    "The case cannot be closed for non-response yet: the contact policy is \
                     not met."
                        .into()
                }
                other => capitalized(&other.to_string()),
            };
            (status, field, text)
        }
        ServiceError::Conflict { .. } => (
            StatusCode::CONFLICT,
            None,
            "Someone else changed this case while you were working on it. The page now \
             shows their change; what you typed is kept below. Check it, then send again \
             — or reload to start over."
                .into(),
        ),
        ServiceError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            None,
            capitalized(&format!("{what} not found")),
        ),
        ServiceError::UnknownActor(_) => (
            StatusCode::FORBIDDEN,
            None,
            "Your account is not registered any more.".into(),
        ),
        ServiceError::Refused(why) => (StatusCode::CONFLICT, None, capitalized(why)),
        ServiceError::Busy { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "The case is busy right now; nothing was changed. Try again in a moment.".into(),
        ),
        ServiceError::Store(StoreError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "The case store cannot be reached right now; nothing was changed. Try again \
             shortly."
                .into(),
        ),
        ServiceError::Store(_) | ServiceError::Internal(_) => {
            tracing::error!(error = %err, "failure behind a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Something went wrong on our side; nothing was changed.".into(),
            )
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A case number from a path; `None` for anything that is not one.
pub fn case_number(raw: &str) -> Option<casework_core::ids::CaseNumber> {
    raw.parse().ok()
}

/// The page for a case number that is not one (or not one this visitor may see).
pub fn no_such_case(v: &Visitor, back: (&str, &str)) -> Response {
    message(
        Some(v),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no case with that number.",
        Some(back),
    )
}

/// Renders a page with a status; a template that fails to render is a 500, logged.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

/// After a change: back to `to` (post/redirect/get), with the notice `done`.
pub fn done(to: &str, done: &str, anchor: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}done={done}{anchor}")).into_response()
}

/// A page with a title, a sentence, and a link onwards.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    chrome: Chrome,
    text: String,
    link: Option<(String, String)>,
}

/// A message page for `visitor` (the frame needs no service state: no CSRF forms on it).
pub fn message(
    visitor: Option<&Visitor>,
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let chrome = Chrome::bare(visitor, title);
    render(
        status,
        &MessagePage {
            chrome,
            text: text.to_string(),
            link: link.map(|(a, b)| (a.to_string(), b.to_string())),
        },
    )
}

/// The page for a service error outside any form (a case that does not exist, a store
/// that is down).
pub fn service_error_page(visitor: Option<&Visitor>, err: &ServiceError) -> Response {
    let (status, _, text) = refusal(err);
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::SERVICE_UNAVAILABLE => "Try again shortly",
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
        _ => "That did not work",
    };
    let mut res = message(visitor, status, title, &text, Some(("/", "Start page")));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// `GET /`: the desk for staff, the portal for customers, sign-in for anyone else.
pub async fn home(req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match identified(&parts) {
        Some(v) if v.actor.role.is_staff() => Redirect::to("/cases").into_response(),
        Some(v) if v.actor.role == Role::Customer => Redirect::to("/portal").into_response(),
        Some(v) => message(
            Some(&v),
            StatusCode::FORBIDDEN,
            "Nothing here for this account",
            "This account is for machines; it has no pages.",
            None,
        ),
        None => to_sign_in(&parts),
    }
}

/// Any other path.
pub async fn not_found(req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let visitor = identified(&parts);
    message(
        visitor.as_ref(),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
        Some(("/", "Start page")),
    )
}
