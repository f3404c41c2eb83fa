//! The portal: a customer's own cases, opening a new one, a case's customer-visible
//! timeline, replying, and asking to reopen a closed case. The service decides what a customer may
//! see: another customer's case does not exist for them, internal entries are never given.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use casework_core::ids::CaseNumber;
use casework_core::model::{
    Case, Customer as CaseCustomer, Origin, PostKind, Priority, RefKind, Visibility,
};
use casework_core::ports::{CaseFilter, PageRequest};
use casework_core::workflow::{Command, NewCase};

use crate::files::{self, Filed};
use crate::page::{
    Chrome, Customer, Forms, Params, Posted, Submitted, case_number, done, message, no_such_case,
    render, service_error_page,
};
use crate::timeline::{self, Span};
use crate::{Visitor, WebState};

/// Where a visitor asking for a case that is not there is sent.
const BACK: (&str, &str) = ("/portal", "My cases");

/// One of the customer's cases, in their list.
struct Row {
    number: String,
    href: String,
    title: String,
    status: String,
    updated: String,
}

/// "My cases".
#[derive(Template)]
#[template(path = "portal_cases.html")]
struct MyCases {
    chrome: Chrome,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

/// `GET /portal`: the customer's cases, newest number last, a page at a time.
pub async fn my_cases(
    State(state): State<WebState>,
    Customer(v): Customer,
    Params(p): Params,
) -> Response {
    let page = PageRequest::from_params(None, p.opt("cursor").as_deref());
    let listed = match page {
        Ok(page) => {
            state
                .service
                .list(&v.actor, CaseFilter::default(), page)
                .await
        }
        Err(e) => Err(e.into()),
    };
    let (rows, next, error, status) = match listed {
        Ok(page) => (
            page.items
                .iter()
                .map(|c| Row {
                    number: c.number.display(),
                    href: format!("/portal/cases/{}", c.number.get()),
                    title: c.title.clone(),
                    status: c.status.to_string(),
                    updated: timeline::when(c.updated_at),
                })
                .collect(),
            page.next_cursor.map(|c| {
                let q: String = form_urlencoded::byte_serialize(c.as_bytes()).collect();
                format!("/portal?cursor={q}")
            }),
            None,
            StatusCode::OK,
        ),
        Err(e) => {
            let (status, _, text) = crate::page::refusal(&e);
            (Vec::new(), None, Some(text), status)
        }
    };
    let chrome = Chrome::new(&state, Some(&v), "My cases")
        .at("portal")
        .notice(p.get("done"));
    render(
        status,
        &MyCases {
            chrome,
            rows,
            next,
            error,
        },
    )
}

/// A suggestion while a customer types a new case's title: an article, or a case of
/// theirs solved before (with a link to it).
pub struct Suggestion {
    title: String,
    href: Option<String>,
    what: String,
}

/// "Open a case".
#[derive(Template)]
#[template(path = "portal_new.html")]
struct NewCasePage {
    chrome: Chrome,
    forms: Forms,
    suggestions: Vec<Suggestion>,
}

/// The suggestions alone, for htmx to swap in under the title as it is typed.
#[derive(Template)]
#[template(path = "suggestions.html")]
struct SuggestionsFragment {
    suggestions: Vec<Suggestion>,
}

const NEW_FIELDS: &[&str] = &["title", "description", "product", "product_version"];

/// What the service suggests for `title` (nothing when it refuses: suggestions only help).
async fn suggest(state: &WebState, v: &Visitor, title: &str) -> Vec<Suggestion> {
    let hits = match state.service.suggestions(&v.actor, title).await {
        Ok(hits) => hits,
        Err(e) => {
            tracing::debug!(error = %e, "no suggestions");
            Vec::new()
        }
    };
    hits.into_iter()
        .map(|h| match h.kind {
            RefKind::Case => {
                let number = h.reference.parse::<CaseNumber>().ok();
                Suggestion {
                    href: number.map(|n| format!("/portal/cases/{}", n.get())),
                    what: format!("Your case {}, solved", h.reference),
                    title: h.title,
                }
            }
            _ => Suggestion {
                title: h.title,
                href: None,
                what: "Article".into(),
            },
        })
        .collect()
}

/// `GET /portal/new`, with the suggestions for `?title=` when one is given.
pub async fn new_case(
    State(state): State<WebState>,
    Customer(v): Customer,
    Params(p): Params,
) -> Response {
    let chrome = Chrome::new(&state, Some(&v), "Open a case").at("new");
    let title = p.get("title").to_string();
    let suggestions = suggest(&state, &v, &title).await;
    let forms = Forms::prefill("new", &[("title", title)]);
    render(
        StatusCode::OK,
        &NewCasePage {
            chrome,
            forms,
            suggestions,
        },
    )
}

/// `GET /portal/suggestions?title=`: the suggestions fragment.
pub async fn suggestions(
    State(state): State<WebState>,
    Customer(v): Customer,
    Params(p): Params,
) -> Response {
    let suggestions = suggest(&state, &v, p.get("title")).await;
    render(StatusCode::OK, &SuggestionsFragment { suggestions })
}

/// `POST /portal/cases`: opens a case for the signed-in customer.
pub async fn open_case(
    State(state): State<WebState>,
    Customer(v): Customer,
    form: Posted,
) -> Response {
    let Some(email) = v.actor.email.clone() else {
        return message(
            Some(&v),
            StatusCode::FORBIDDEN,
            "No address on this account",
            "Cases are kept under your email address, and this account has none.",
            None,
        );
    };
    let new = NewCase {
        title: form.get("title").to_string(),
        description: form.get("description").to_string(),
        origin: Origin::Web,
        priority: Priority::Medium,
        customer: CaseCustomer {
            name: v.actor.name.clone(),
            email,
            phone: None,
            account: None,
        },
        product: form.opt("product"),
        product_version: form.opt("product_version"),
    };
    match state.service.open_case(&v.actor, new).await {
        Ok(case) => done(
            &format!("/portal/cases/{}", case.number.get()),
            "opened",
            "",
        ),
        Err(e) => {
            let mut forms = Forms::sent("new", &form);
            let status = forms.refuse(&e, NEW_FIELDS);
            let chrome = Chrome::new(&state, Some(&v), "Open a case").at("new");
            let suggestions = suggest(&state, &v, form.get("title")).await;
            render(
                status,
                &NewCasePage {
                    chrome,
                    forms,
                    suggestions,
                },
            )
        }
    }
}

/// A customer's case.
#[derive(Template)]
#[template(path = "portal_case.html")]
struct CasePage {
    chrome: Chrome,
    upload_hint: String,
    case: Case,
    n: u64,
    display: String,
    created: String,
    /// The timeline, rendered (and escaped) by [`timeline::rendered`].
    timeline: Arc<str>,
    closed: bool,
    forms: Forms,
}

async fn case_view(
    state: &WebState,
    v: &Visitor,
    n: CaseNumber,
    forms: Forms,
    notice: &str,
    span: Span,
    status: StatusCode,
) -> Response {
    let svc = &state.service;
    let view = match svc.case_view(&v.actor, n).await {
        Ok(view) => view,
        Err(e) => return service_error_page(Some(v), &e),
    };
    // only what the service gives the customer: no internal entry, no file of one
    let timeline = match timeline::rendered(state, v, &view, false, span).await {
        Ok(t) => t,
        Err(e) => return service_error_page(Some(v), &e),
    };
    let case = view.case;
    let title = format!("Case {} · {}", n.display(), case.title);
    let page = CasePage {
        chrome: Chrome::new(state, Some(v), title)
            .at("portal")
            .notice(notice),
        n: n.get(),
        display: n.display(),
        created: timeline::when(case.created_at),
        timeline,
        closed: case.is_closed(),
        case,
        forms,
        upload_hint: files::upload_hint(state),
    };
    render(status, &page)
}

/// `GET /portal/cases/{n}`: the case as the customer may see it.
pub async fn case_page(
    State(state): State<WebState>,
    Customer(v): Customer,
    Path(raw): Path<String>,
    Params(p): Params,
) -> Response {
    match case_number(&raw) {
        Some(n) => {
            case_view(
                &state,
                &v,
                n,
                Forms::default(),
                p.get("done"),
                Span::asked(p.get("timeline")),
                StatusCode::OK,
            )
            .await
        }
        None => no_such_case(&v, BACK),
    }
}

/// Posts the customer's text on their case as a customer-visible note.
async fn post(
    state: &WebState,
    v: &Visitor,
    raw: &str,
    form: &Posted,
    name: &str,
    command: Command,
    done_key: &str,
) -> Response {
    let Some(n) = case_number(raw) else {
        return no_such_case(v, BACK);
    };
    match state.service.execute(&v.actor, n, None, command).await {
        Ok(_) => done(&format!("/portal/cases/{}", n.get()), done_key, "#timeline"),
        Err(e @ casework_core::ServiceError::NotFound(_)) => service_error_page(Some(v), &e),
        Err(e) => {
            let mut forms = Forms::sent(name, form);
            let status = forms.refuse(&e, &["body"]);
            case_view(state, v, n, forms, "", Span::Newest, status).await
        }
    }
}

/// `POST /portal/cases/{n}/reply`: the customer writes on their case, with files if they
/// chose any (the form is multipart then; the files and the text are one post).
pub async fn reply(
    state: State<WebState>,
    customer: Customer,
    raw: Path<String>,
    sent: Submitted,
) -> Response {
    if sent.files.is_empty() && !sent.too_large {
        return customer_note(state, customer, raw, sent.form, "reply", "replied").await;
    }
    let (State(state), Customer(v), Path(raw)) = (state, customer, raw);
    let Some(n) = case_number(&raw) else {
        return no_such_case(&v, BACK);
    };
    match files::attach(&state, &v, n, sent, "reply", "body", Visibility::Customer).await {
        Filed::Done => done(
            &format!("/portal/cases/{}", n.get()),
            "replied",
            "#timeline",
        ),
        Filed::NotFound(e) => service_error_page(Some(&v), &e),
        Filed::Refused(forms, status) => {
            case_view(&state, &v, n, forms, "", Span::Newest, status).await
        }
    }
}

/// `POST /portal/cases/{n}/reopen`: the customer asks to reopen a closed case. The workflow
/// decides (`Command::AskToReopen`): the case reopens when its policy for a customer writing
/// on a closed case says so, else the request stays on the case, in the customer's words,
/// for the support team to decide on. The notice says which happened.
pub async fn reopen(
    State(state): State<WebState>,
    Customer(v): Customer,
    Path(raw): Path<String>,
    form: Posted,
) -> Response {
    let Some(n) = case_number(&raw) else {
        return no_such_case(&v, BACK);
    };
    let cmd = Command::AskToReopen {
        body: form.get("body").to_string(),
    };
    match state.service.execute(&v.actor, n, None, cmd).await {
        Ok(done_) => {
            let key = if done_.case.is_closed() {
                "asked"
            } else {
                "reopened-on-request"
            };
            done(&format!("/portal/cases/{}", n.get()), key, "#timeline")
        }
        Err(e @ casework_core::ServiceError::NotFound(_)) => service_error_page(Some(&v), &e),
        Err(e) => {
            let mut forms = Forms::sent("reopen", &form);
            let status = forms.refuse(&e, &["body"]);
            case_view(&state, &v, n, forms, "", Span::Newest, status).await
        }
    }
}

/// The customer's text from form `name` as a customer-visible note on their case.
async fn customer_note(
    State(state): State<WebState>,
    Customer(v): Customer,
    Path(raw): Path<String>,
    form: Posted,
    name: &str,
    done_key: &str,
) -> Response {
    let cmd = Command::AddPost {
        kind: PostKind::Note,
        body: form.get("body").to_string(),
        visibility: Visibility::Customer,
    };
    post(&state, &v, &raw, &form, name, cmd, done_key).await
}
