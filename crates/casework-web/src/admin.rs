//! Admin pages: the people who work cases (add or change one, set a password), API tokens
//! (issue one, its secret shown once; revoke), the outbox (what is queued, sent, failed or
//! cancelled; retry or cancel one message) and the inbound quarantine (mail the pipeline refused and kept: read it as text, release
//! it through the pipeline again, or drop it). Every page and form asks the service, which
//! checks the workflow file's permissions (`manage`, `outbox`, `quarantine`); a visitor
//! without them is refused by the service.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use casework_core::attachment::size_label;
use casework_core::ids::EmailAddress;
use casework_core::limits::MAX_OUTBOX;
use casework_core::model::{OutboxStatus, Person, Role};
use casework_core::ports::OutboxAction;
use casework_core::service::Released;

use crate::WebState;
use crate::page::{
    Chrome, Forms, Params, Posted, Staff, done, render, role_label, service_error_page,
};
use crate::timeline;

/// The roles a person may be given here, by their wire name.
const STAFF_ROLES: &[Role] = &[Role::Agent, Role::Lead, Role::Admin];

/// A person as the list shows them.
struct PersonRow {
    name: String,
    role: &'static str,
    email: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "admin_people.html")]
struct PeoplePage {
    chrome: Chrome,
    people: Vec<PersonRow>,
    roles: Vec<&'static str>,
    staff_names: Vec<String>,
    forms: Forms,
}

const PERSON_FIELDS: &[&str] = &["name", "role", "email", "phone", "signature"];
const PASSWORD_FIELDS: &[&str] = &["name", "password"];

/// `GET /admin/people`.
pub async fn people(state: State<WebState>, staff: Staff, Params(p): Params) -> Response {
    people_page(
        &state,
        &staff,
        Forms::default(),
        p.get("done"),
        StatusCode::OK,
    )
    .await
}

async fn people_page(
    state: &WebState,
    Staff(v): &Staff,
    forms: Forms,
    notice: &str,
    status: StatusCode,
) -> Response {
    let svc = &state.service;
    // listing people is open to staff; the forms are shown to those whose role may manage
    // (`chrome.admin`), and the service checks `manage` again on every change
    let people = match svc.people(&v.actor).await {
        Ok(p) => p,
        Err(e) => return service_error_page(Some(v), &e),
    };
    let page = PeoplePage {
        chrome: Chrome::new(state, Some(v), "People")
            .at("admin")
            .notice(notice),
        staff_names: people
            .iter()
            .filter(|p| p.role.is_staff())
            .map(|p| p.name.clone())
            .collect(),
        people: people
            .iter()
            .map(|p| PersonRow {
                name: p.name.clone(),
                role: role_label(p.role),
                email: p.email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
                phone: p.phone.clone().unwrap_or_default(),
            })
            .collect(),
        roles: STAFF_ROLES.iter().map(|r| r.as_str()).collect(),
        forms,
    };
    render(status, &page)
}

/// `POST /admin/people`: adds a person, or changes the one of that name (role, email,
/// phone, signature).
pub async fn save_person(State(state): State<WebState>, staff: Staff, form: Posted) -> Response {
    let mut forms = Forms::sent("person", &form);
    let role = match form.get("role").parse::<Role>() {
        Ok(r) if STAFF_ROLES.contains(&r) => Some(r),
        _ => {
            forms.field("role", "Choose agent, lead or admin.");
            None
        }
    };
    let email = match form.opt("email").map(|e| e.parse::<EmailAddress>()) {
        None => None,
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            forms.field("email", e.to_string());
            None
        }
    };
    let Some(role) = role.filter(|_| forms.errors.is_empty()) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return people_page(&state, &staff, forms, "", status).await;
    };
    let person = Person {
        email,
        phone: form.opt("phone"),
        signature: form.opt("signature"),
        ..Person::new(form.get("name").trim(), role)
    };
    match state.service.add_person(&staff.0.actor, person).await {
        Ok(_) => done("/admin/people", "person-saved", ""),
        Err(e) => {
            let status = forms.refuse(&e, PERSON_FIELDS);
            people_page(&state, &staff, forms, "", status).await
        }
    }
}

/// `POST /admin/people/password`: sets a member of staff's password (the service hashes
/// it; it is never shown again).
pub async fn set_password(State(state): State<WebState>, staff: Staff, form: Posted) -> Response {
    let name = form.get("name").to_string();
    let result = state
        .service
        .set_password(&staff.0.actor, &name, form.get("password"))
        .await;
    match result {
        Ok(()) => done("/admin/people", "password-set", ""),
        Err(e) => {
            let mut forms = Forms::sent("password", &form);
            // never send a password back into the page
            forms.values.remove("password");
            let status = forms.refuse(&e, PASSWORD_FIELDS);
            people_page(&state, &staff, forms, "", status).await
        }
    }
}

/// A token as the list shows it (never its secret: only its hash is kept).
struct TokenRow {
    id: String,
    name: String,
    role: &'static str,
    customer: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    roles: Vec<&'static str>,
    /// A token just issued: its name and its secret, shown this once.
    issued: Option<(String, String)>,
    forms: Forms,
}

const TOKEN_FIELDS: &[&str] = &["name", "role", "customer_email"];

/// `GET /admin/tokens`.
pub async fn tokens(state: State<WebState>, staff: Staff, Params(p): Params) -> Response {
    let forms = Forms::default();
    tokens_page(&state, &staff, forms, None, p.get("done"), StatusCode::OK).await
}

async fn tokens_page(
    state: &WebState,
    Staff(v): &Staff,
    forms: Forms,
    issued: Option<(String, String)>,
    notice: &str,
    status: StatusCode,
) -> Response {
    let tokens = match state.service.tokens(&v.actor).await {
        Ok(t) => t,
        Err(e) => return service_error_page(Some(v), &e),
    };
    let page = TokensPage {
        chrome: Chrome::new(state, Some(v), "API tokens")
            .at("admin")
            .notice(notice),
        tokens: tokens
            .iter()
            .map(|t| TokenRow {
                id: t.id.clone(),
                name: t.name.clone(),
                role: role_label(t.role),
                customer: t
                    .customer_email
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
                created: timeline::when(t.created_at),
                revoked: t.revoked_at.map(timeline::when),
            })
            .collect(),
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        issued,
        forms,
    };
    render(status, &page)
}

/// `POST /admin/tokens`: issues a token. The answer is the page itself (not a redirect),
/// since its secret is shown once and kept nowhere; pages are never cached.
pub async fn issue_token(State(state): State<WebState>, staff: Staff, form: Posted) -> Response {
    let mut forms = Forms::sent("token", &form);
    let role = form.get("role").parse::<Role>();
    let email = form
        .opt("customer_email")
        .map(|e| e.parse::<EmailAddress>());
    let (role, email) = match (role, email) {
        (Ok(r), None) => (r, None),
        (Ok(r), Some(Ok(e))) => (r, Some(e)),
        (Err(e), _) => {
            let status = forms.field("role", e.to_string());
            return tokens_page(&state, &staff, forms, None, "", status).await;
        }
        (_, Some(Err(e))) => {
            let status = forms.field("customer_email", e.to_string());
            return tokens_page(&state, &staff, forms, None, "", status).await;
        }
    };
    let issued = state
        .service
        .issue_token(&staff.0.actor, form.get("name"), role, email)
        .await;
    match issued {
        Ok((token, secret)) => {
            let shown = Some((token.name, secret));
            tokens_page(&state, &staff, Forms::default(), shown, "", StatusCode::OK).await
        }
        Err(e) => {
            let status = forms.refuse(&e, TOKEN_FIELDS);
            tokens_page(&state, &staff, forms, None, "", status).await
        }
    }
}

/// `POST /admin/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    match state.service.revoke_token(&staff.0.actor, &id).await {
        Ok(_) => done("/admin/tokens", "token-revoked", ""),
        Err(e) => service_error_page(Some(&staff.0), &e),
    }
}

/// A message as the outbox list shows it.
struct MessageRow {
    id: String,
    case: String,
    case_href: String,
    to: String,
    subject: String,
    status: &'static str,
    attempts: u32,
    last_error: String,
    when: String,
    /// Which of retry and cancel apply to it, by core's rule.
    can_retry: bool,
    can_cancel: bool,
}

#[derive(Template)]
#[template(path = "admin_outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    status: String,
    statuses: Vec<&'static str>,
    messages: Vec<MessageRow>,
    limit: u32,
}

/// `GET /admin/outbox?status=`: outgoing email, newest first as the store lists it.
pub async fn outbox(State(state): State<WebState>, Staff(v): Staff, Params(p): Params) -> Response {
    let status = p.opt("status").and_then(|s| s.parse::<OutboxStatus>().ok());
    let listed = state.service.outbox(&v.actor, status, MAX_OUTBOX).await;
    let messages = match listed {
        Ok(m) => m,
        Err(e) => return service_error_page(Some(&v), &e),
    };
    let page = OutboxPage {
        chrome: Chrome::new(&state, Some(&v), "Outbox")
            .at("admin")
            .notice(p.get("done")),
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        statuses: OutboxStatus::ALL.iter().map(|s| s.as_str()).collect(),
        limit: MAX_OUTBOX,
        messages: messages
            .iter()
            .map(|m| MessageRow {
                id: m.id.clone(),
                case: m.case.display(),
                case_href: format!("/cases/{}", m.case.get()),
                to: m.to.to_string(),
                subject: m.subject.clone(),
                status: m.status.as_str(),
                attempts: m.attempts,
                last_error: m.last_error.clone().unwrap_or_default(),
                when: timeline::when(m.sent_at.unwrap_or(m.created_at)),
                can_retry: OutboxAction::Retry.applies_to().contains(&m.status),
                can_cancel: OutboxAction::Cancel.applies_to().contains(&m.status),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

/// `POST /admin/outbox/{id}/retry`: back in the queue, due now.
pub async fn retry_email(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    outbox_act(&state, &staff, &id, OutboxAction::Retry).await
}

/// `POST /admin/outbox/{id}/cancel`: never sent.
pub async fn cancel_email(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    outbox_act(&state, &staff, &id, OutboxAction::Cancel).await
}

/// Retries or cancels one message and goes back to the outbox, saying what was done; a
/// refusal (the message was sent meanwhile, or a worker holds it) is shown with its reason.
async fn outbox_act(state: &WebState, staff: &Staff, id: &str, action: OutboxAction) -> Response {
    match state.service.outbox_act(&staff.0.actor, id, action).await {
        Ok(_) => {
            let said = match action {
                OutboxAction::Retry => "email-retried",
                OutboxAction::Cancel => "email-cancelled",
            };
            done("/admin/outbox", said, "")
        }
        Err(e) => service_error_page(Some(&staff.0), &e),
    }
}

/// At most this many kept messages on the quarantine page.
pub(crate) const QUARANTINE_PAGE: u32 = 200;

/// At most this many bytes of a kept message are shown on its page (the rest is counted).
const QUARANTINE_SHOWN: usize = 64 * 1024;

/// A kept message as the quarantine list shows it.
struct KeptRow {
    id: String,
    received: String,
    source: String,
    reason: String,
    size: String,
}

#[derive(Template)]
#[template(path = "admin_quarantine.html")]
struct QuarantinePage {
    chrome: Chrome,
    kept: Vec<KeptRow>,
    limit: u32,
    /// The next page's address, when one follows.
    next: Option<String>,
    /// Whether this is a later page (a link back to the first is shown).
    later: bool,
    /// Why a release just failed to take a message, if it did.
    still_refused: Option<String>,
}

/// `GET /admin/quarantine`: inbound mail kept because the pipeline refused it, oldest first.
pub async fn quarantine(state: State<WebState>, staff: Staff, Params(p): Params) -> Response {
    quarantine_page(&state, &staff, p.get("done"), p.opt("cursor"), None).await
}

async fn quarantine_page(
    state: &WebState,
    Staff(v): &Staff,
    notice: &str,
    cursor: Option<String>,
    still_refused: Option<String>,
) -> Response {
    let kept = match state
        .service
        .quarantine_list(&v.actor, cursor.as_deref(), QUARANTINE_PAGE)
        .await
    {
        Ok(k) => k,
        Err(e) => return service_error_page(Some(v), &e),
    };
    let page = QuarantinePage {
        chrome: Chrome::new(state, Some(v), "Quarantine")
            .at("admin")
            .notice(notice),
        next: kept.next_cursor.map(|c| {
            let q: String = form_urlencoded::byte_serialize(c.as_bytes()).collect();
            format!("/admin/quarantine?cursor={q}")
        }),
        later: cursor.is_some(),
        kept: kept
            .items
            .into_iter()
            .map(|k| KeptRow {
                received: timeline::when(k.received_at),
                size: size_label(k.size),
                id: k.id,
                source: k.source,
                reason: k.reason,
            })
            .collect(),
        limit: QUARANTINE_PAGE,
        still_refused,
    };
    let status = if page.still_refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "admin_quarantined.html")]
struct KeptPage {
    chrome: Chrome,
    id: String,
    received: String,
    source: String,
    reason: String,
    size: String,
    /// The message's first bytes as text (never markup: the template escapes it).
    text: String,
    /// How many bytes are not shown.
    cut: usize,
}

/// `GET /admin/quarantine/{id}`: one kept message, its bytes shown as text.
pub async fn quarantined(
    State(state): State<WebState>,
    Staff(v): Staff,
    Path(id): Path<String>,
) -> Response {
    let kept = match state.service.quarantine_show(&v.actor, &id).await {
        Ok(k) => k,
        Err(e) => return service_error_page(Some(&v), &e),
    };
    let shown = &kept.raw[..kept.raw.len().min(QUARANTINE_SHOWN)];
    let page = KeptPage {
        chrome: Chrome::new(&state, Some(&v), "Quarantined message").at("admin"),
        received: timeline::when(kept.received_at),
        size: size_label(kept.raw.len() as u64),
        text: String::from_utf8_lossy(shown).into_owned(),
        cut: kept.raw.len() - shown.len(),
        id: kept.id,
        source: kept.source,
        reason: kept.reason,
    };
    render(StatusCode::OK, &page)
}

/// `POST /admin/quarantine/{id}/release`: the pipeline takes the message again; taken, it
/// leaves the quarantine and the answer goes to its case; refused again, it stays and the
/// list says why.
pub async fn release_quarantined(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    match state.service.quarantine_release(&staff.0.actor, &id).await {
        Ok(Released::Taken(taken)) => done(&format!("/cases/{}", taken.case.get()), "released", ""),
        Ok(Released::StillRefused(kept)) => {
            quarantine_page(&state, &staff, "", None, Some(kept.reason)).await
        }
        Err(e) => service_error_page(Some(&staff.0), &e),
    }
}

/// `POST /admin/quarantine/{id}/drop`: removes a kept message for good.
pub async fn drop_quarantined(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    match state.service.quarantine_drop(&staff.0.actor, &id).await {
        Ok(()) => done("/admin/quarantine", "dropped", ""),
        Err(e) => service_error_page(Some(&staff.0), &e),
    }
}
