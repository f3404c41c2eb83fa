//! The desk: the "All Cases" list with its saved views and filters, and the case page with
//! its header, timeline, composers, troubleshooting links and closing panel. Every form
//! posts, and is answered with a redirect back to the case (post/redirect/get) or, when
//! the service refuses, with the page again: what was typed kept, the reason next to the
//! field the service named.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, post};
use casework_core::ServiceError;
use casework_core::config::Permission;
use casework_core::documents::{EmailFields, RenderedEmail};
use casework_core::ids::{CaseNumber, StatusName};
use casework_core::model::{
    CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, LinkTarget, PostKind, Priority,
    RefKind, Resolution, StatusCategory, TemplateName, Visibility,
};
use casework_core::ports::{CaseFilter, CaseOrder, PageRequest, SearchHit};
use casework_core::service::{CaseView, ClosingCheck};
use casework_core::workflow::{CaseEdit, Command, may_reopen};

use crate::files::{self, Filed};
use crate::page::{
    Chrome, Forms, Params, Posted, Staff, Submitted, case_number, done, no_such_case, render,
    service_error_page,
};
use crate::timeline::{self, Span};
use crate::{Visitor, WebState};

/// Where a visitor asking for a case that is not there is sent.
const BACK: (&str, &str) = ("/cases", "All cases");

// ---------------------------------------------------------------------------------------
// The case list

/// A saved view of the case list: its name, label, and the filter it stands for.
struct View {
    key: &'static str,
    label: &'static str,
}

const VIEWS: &[View] = &[
    View {
        key: "all",
        label: "All cases",
    },
    View {
        key: "mine",
        label: "My open cases",
    },
    View {
        key: "unassigned",
        label: "Unassigned",
    },
    View {
        key: "pending",
        label: "Pending customer",
    },
    View {
        key: "reopened",
        label: "Reopened",
    },
    View {
        key: "closed",
        label: "Closed",
    },
];

/// One row of the list.
pub struct Row {
    number: String,
    href: String,
    title: String,
    customer: String,
    status: String,
    category: &'static str,
    owner: String,
    priority: String,
    age: String,
    opened: String,
    reopened: u32,
    /// How long ago the customer last wrote, and when exactly; none if they never did.
    last_reply: Option<(String, String)>,
    updated: String,
}

fn category_class(c: StatusCategory) -> &'static str {
    match c {
        StatusCategory::Open => "open",
        StatusCategory::Pending => "pending",
        StatusCategory::Closed => "closed",
    }
}

fn row(case: &Case, now: jiff::Timestamp) -> Row {
    Row {
        number: case.number.display(),
        href: format!("/cases/{}", case.number.get()),
        title: case.title.clone(),
        customer: case.customer.name.clone(),
        status: case.status.to_string(),
        category: category_class(case.status_category),
        owner: case.owner.clone().unwrap_or_else(|| "—".into()),
        priority: case.priority.to_string(),
        age: timeline::age(case.created_at, now),
        opened: timeline::when(case.created_at),
        reopened: case.reopen_count,
        last_reply: case
            .last_customer_reply_at
            .map(|at| (timeline::age(at, now), timeline::when(at))),
        updated: timeline::when(case.updated_at),
    }
}

/// The "All Cases" page.
#[derive(Template)]
#[template(path = "cases.html")]
struct ListPage {
    chrome: Chrome,
    view: String,
    views: Vec<(String, &'static str, bool)>,
    rows: Vec<Row>,
    statuses: Vec<String>,
    people: Vec<String>,
    priorities: Vec<&'static str>,
    orders: Vec<(&'static str, &'static str)>,
    order_label: &'static str,
    forms: Forms,
    next: Option<String>,
    first: Option<String>,
    filtered: bool,
}

/// A query string from pairs, empty values left out.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

const LIST_FIELDS: &[&str] = &[
    "status",
    "status_category",
    "owner",
    "priority",
    "reopened",
    "product_area",
    "q",
    "sort",
    "number",
];

/// The orders the list offers, by their `sort` value, with what the table's caption says.
const ORDERS: &[(CaseOrder, &str)] = &[
    (CaseOrder::Number, "Case number (oldest first)"),
    (CaseOrder::Updated, "Recently updated"),
    (CaseOrder::Priority, "Priority (most urgent first)"),
];

/// `GET /cases`: a saved view, narrowed by filters and keywords, a page at a time.
pub async fn list(state: State<WebState>, staff: Staff, Params(p): Params) -> Response {
    list_with(state, staff, p, None).await
}

async fn list_with(
    State(state): State<WebState>,
    Staff(v): Staff,
    p: Posted,
    bad_number: Option<&str>,
) -> Response {
    let svc = &state.service;
    let view = match p.get("view") {
        k if VIEWS.iter().any(|v| v.key == k) => k.to_string(),
        _ => "all".to_string(),
    };
    let mut forms = Forms::sent("filter", &p);
    let mut filter = CaseFilter::default();
    match view.as_str() {
        "mine" => {
            filter.owner = Some(v.actor.name.clone());
            filter.status_category = Some(StatusCategory::Open);
        }
        "unassigned" => {
            filter.unassigned = Some(true);
            filter.status_category = Some(StatusCategory::Open);
        }
        "pending" => filter.status_category = Some(StatusCategory::Pending),
        "reopened" => filter.reopened = Some(true),
        "closed" => filter.status_category = Some(StatusCategory::Closed),
        _ => {}
    }
    let mut status = StatusCode::OK;
    if let Some(text) = bad_number {
        forms.field("number", text);
        status = StatusCode::UNPROCESSABLE_ENTITY;
    }
    if let Some(s) = p.opt("status") {
        match s.parse::<StatusName>() {
            Ok(name) => filter.status = Some(name),
            Err(e) => status = forms.field("status", e.to_string()),
        }
    }
    if let Some(c) = p.opt("status_category") {
        match c.parse::<StatusCategory>() {
            Ok(c) => filter.status_category = Some(c),
            Err(_) => status = forms.field("status_category", "Choose open, pending or closed."),
        }
    }
    if let Some(o) = p.opt("owner") {
        filter.owner = Some(o);
    }
    if let Some(pr) = p.opt("priority") {
        match pr.parse::<Priority>() {
            Ok(pr) => filter.priority = Some(pr),
            Err(_) => status = forms.field("priority", "Choose low, medium, high or urgent."),
        }
    }
    match p.get("reopened") {
        "yes" => filter.reopened = Some(true),
        "no" => filter.reopened = Some(false),
        _ => {}
    }
    let order = match p.opt("sort") {
        None => CaseOrder::Number,
        Some(name) => CaseOrder::parse(&name).unwrap_or_else(|| {
            status = forms.field("sort", "Choose an order from the list.");
            CaseOrder::Number
        }),
    };
    filter.product_area = p.opt("product_area");
    filter.q = p.opt("q");
    let filtered = filter != CaseFilter::default();
    let mut rows = Vec::new();
    let mut next = None;
    let cursor = p.opt("cursor");
    // the page of cases and the staff for the owner filter, read at once
    let list = async {
        if !forms.errors.is_empty() {
            return None;
        }
        Some(
            match PageRequest::from_params_in(order, None, cursor.as_deref()) {
                Ok(page) => svc.list(&v.actor, filter, page).await,
                Err(e) => Err(e.into()),
            },
        )
    };
    let (listed, people) = futures_util::future::join(list, svc.people(&v.actor)).await;
    if let Some(listed) = listed {
        match listed {
            Ok(page) => {
                let now = svc.now();
                rows = page.items.iter().map(|c| row(c, now)).collect();
                next = page.next_cursor.map(|c| {
                    let mut pairs: Vec<(&str, &str)> = LIST_FIELDS
                        .iter()
                        .map(|f| (*f, p.get(f)))
                        .filter(|(f, _)| *f != "number")
                        .collect();
                    pairs.push(("view", &view));
                    pairs.push(("cursor", &c));
                    format!("/cases?{}", query(&pairs))
                });
            }
            Err(e) => status = forms.refuse(&e, LIST_FIELDS),
        }
    }
    let first = cursor.map(|_| {
        let mut pairs: Vec<(&str, &str)> = LIST_FIELDS
            .iter()
            .map(|f| (*f, p.get(f)))
            .filter(|(f, _)| *f != "number")
            .collect();
        pairs.push(("view", &view));
        format!("/cases?{}", query(&pairs))
    });
    let people = match people {
        Ok(people) => people
            .into_iter()
            .filter(|p| p.role.is_staff())
            .map(|p| p.name)
            .collect(),
        Err(_) => Vec::new(),
    };
    let view_label = VIEWS
        .iter()
        .find(|x| x.key == view)
        .map_or("All cases", |x| x.label);
    let page = ListPage {
        chrome: Chrome::new(&state, Some(&v), view_label).at("cases"),
        view: view.clone(),
        views: VIEWS
            .iter()
            .map(|x| (format!("/cases?view={}", x.key), x.label, x.key == view))
            .collect(),
        rows,
        statuses: svc
            .config()
            .statuses()
            .iter()
            .map(|s| s.name.to_string())
            .collect(),
        people,
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        orders: ORDERS
            .iter()
            .map(|(o, label)| (o.as_str(), *label))
            .collect(),
        order_label: ORDERS
            .iter()
            .find(|(o, _)| *o == order)
            .map_or("Case number", |(_, label)| label),
        forms,
        next,
        first,
        filtered,
    };
    render(status, &page)
}

/// `GET /cases/go?number=N`: straight to a case by its number (leading zeros or not).
pub async fn jump(state: State<WebState>, staff: Staff, Params(p): Params) -> Response {
    match p
        .get("number")
        .trim()
        .trim_start_matches('#')
        .parse::<CaseNumber>()
    {
        Ok(n) => Redirect::to(&format!("/cases/{}", n.get())).into_response(),
        Err(_) => {
            // the list, with the number refused next to its field
            let typed = p.get("number").to_string();
            let form = Posted::from_pairs(vec![("number".into(), typed)]);
            list_with(state, staff, form, Some("Give a case number, like 1027.")).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// The case page

/// A similar case, article or defect, with what linking it sends.
struct Hit {
    kind: &'static str,
    kind_value: &'static str,
    reference: String,
    title: String,
    href: Option<String>,
    linked: bool,
}

fn ref_kind(kind: RefKind) -> (&'static str, &'static str) {
    match kind {
        RefKind::Case => ("Case", "case"),
        RefKind::Article => ("Article", "article"),
        RefKind::Defect => ("Defect", "defect"),
    }
}

fn hit(h: &SearchHit, case: &Case) -> Hit {
    let (kind, kind_value) = ref_kind(h.kind);
    let linked = case
        .links
        .iter()
        .any(|l| l.kind == h.kind && l.reference == h.reference);
    Hit {
        kind,
        kind_value,
        reference: h.reference.clone(),
        title: h.title.clone(),
        href: match h.kind {
            RefKind::Case => h
                .reference
                .parse::<CaseNumber>()
                .ok()
                .map(|n| format!("/cases/{}", n.get())),
            _ => None,
        },
        linked,
    }
}

/// One item of the closing checklist, with where to fix it.
struct Check {
    message: String,
    fix: String,
    fix_label: &'static str,
}

fn fix_for(n: u64, item: &str) -> (String, &'static str) {
    let edit = |field: &str| format!("/cases/{n}?open=edit#f-edit-{field}");
    match item {
        "summary" => (
            format!("/cases/{n}?draft=summary#compose-post"),
            "Draft the summary",
        ),
        "title" => (edit("title"), "Review the title"),
        "product" | "product_version" => (edit(item), "Fill in the technical details"),
        "product_area" | "functionality" | "issue" => (edit(item), "Categorize the case"),
        "email_attempts" => (
            format!("/cases/{n}?open=email#compose-email"),
            "Send an email",
        ),
        "phone_attempts" => (
            format!("/cases/{n}?open=contact#compose-contact"),
            "Record a call attempt",
        ),
        _ => (
            format!("/cases/{n}?open=close#close"),
            "Open the close dialog",
        ),
    }
}

fn checks(n: u64, items: &[casework_core::workflow::MissingItem]) -> Vec<Check> {
    items
        .iter()
        .map(|m| {
            let (fix, fix_label) = fix_for(n, &m.item);
            Check {
                message: m.message.clone(),
                fix,
                fix_label,
            }
        })
        .collect()
}

/// The case page.
#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    upload_hint: String,
    case: Case,
    n: u64,
    display: String,
    category: &'static str,
    created: String,
    updated: String,
    /// The timeline, rendered (and escaped) by [`timeline::rendered`].
    timeline: Arc<str>,
    people: Vec<String>,
    transitions: Vec<String>,
    links: Vec<(String, String, Option<String>)>,
    check: Option<ClosingCheck>,
    ready: Vec<Check>,
    non_response: Vec<Check>,
    may_reopen: bool,
    may_close: bool,
    may_close_temporary: bool,
    closed: bool,
    mine: bool,
    forms: Forms,
    preview: Option<RenderedEmail>,
    preview_error: Option<String>,
}

impl CasePage {
    fn priorities(&self) -> &'static [Priority] {
        Priority::ALL
    }
}

/// An email preview shown in the composer: the email, or why it cannot be rendered.
#[derive(Default)]
struct Preview {
    email: Option<RenderedEmail>,
    error: Option<String>,
}

/// What a case page shows besides the case: the notice after a form, an email preview, and
/// how much of the timeline.
#[derive(Default)]
struct Shown<'a> {
    notice: &'a str,
    preview: Preview,
    span: Span,
}

/// Renders the case page for `v`, with a form's state, a notice, an email preview and the
/// timeline's span. Similar cases are not searched for here: the page names their own
/// route ([`similar`]), which htmx fills in after the page (a link without JavaScript).
async fn case_view(
    state: &WebState,
    v: &Visitor,
    n: CaseNumber,
    forms: Forms,
    shown: Shown<'_>,
    status: StatusCode,
) -> Response {
    let Shown {
        notice,
        preview,
        span,
    } = shown;
    let svc = &state.service;
    let actor = &v.actor;
    // the case with what the page shows of it and the staff to assign it to
    let view = match svc.case_view(actor, n).await {
        Ok(view) => view,
        Err(e) => return service_error_page(Some(v), &e),
    };
    let timeline = match timeline::rendered(state, v, &view, true, span).await {
        Ok(t) => t,
        Err(e) => return service_error_page(Some(v), &e),
    };
    // each of these is optional on the page: a role without it sees the rest
    let CaseView {
        case,
        closing: check,
        people,
        ..
    } = view;
    let people = people
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.role.is_staff())
        .map(|p| p.name)
        .collect();
    let config = svc.config();
    let transitions = config
        .statuses()
        .iter()
        .filter(|s| s.category != StatusCategory::Closed && config.allows(&case.status, &s.name))
        .map(|s| s.name.to_string())
        .collect();
    let links = case
        .links
        .iter()
        .map(|l| {
            let href = match l.kind {
                RefKind::Case => l
                    .reference
                    .parse::<CaseNumber>()
                    .ok()
                    .map(|c| format!("/cases/{}", c.get())),
                _ => None,
            };
            (ref_kind(l.kind).0.to_string(), l.reference.clone(), href)
        })
        .collect();
    let ready = check
        .as_ref()
        .map(|c| checks(n.get(), &c.missing))
        .unwrap_or_default();
    let non_response = check
        .as_ref()
        .map(|c| checks(n.get(), &c.non_response_missing))
        .unwrap_or_default();
    let title = format!("{} · {}", n.display(), case.title);
    let page = CasePage {
        chrome: Chrome::new(state, Some(v), title)
            .at("cases")
            .notice(notice),
        n: n.get(),
        display: n.display(),
        category: category_class(case.status_category),
        created: timeline::when(case.created_at),
        updated: timeline::when(case.updated_at),
        timeline,
        people,
        transitions,
        links,
        ready,
        non_response,
        may_reopen: may_reopen(config, actor.role, &case),
        may_close: config.permits(actor.role, Permission::Close),
        may_close_temporary: config.permits(actor.role, Permission::CloseTemporary),
        closed: case.is_closed(),
        mine: case.owner.as_deref() == Some(actor.name.as_str()),
        check,
        case,
        forms,
        preview: preview.email,
        preview_error: preview.error,
        upload_hint: files::upload_hint(state),
    };
    render(status, &page)
}

/// `GET /cases/{n}`: the case page; `?draft=summary` prefills the post composer with the
/// summary draft, `?open=FORM` opens a form (the closing checklist links there).
pub async fn case_page(
    State(state): State<WebState>,
    Staff(v): Staff,
    Path(raw): Path<String>,
    Params(p): Params,
) -> Response {
    let Some(n) = case_number(&raw) else {
        return no_such_case(&v, BACK);
    };
    let mut forms = match p.get("open") {
        "" => Forms::default(),
        form => Forms::opened(form),
    };
    if p.get("draft") == "summary" {
        match state.service.summary_draft(&v.actor, n).await {
            Ok(draft) => {
                forms = Forms::prefill(
                    "post",
                    &[
                        ("kind", "summary".into()),
                        ("visibility", "internal".into()),
                        ("body", draft.text),
                    ],
                );
            }
            Err(e) => {
                forms = Forms::opened("post");
                forms.refuse(&e, &[]);
            }
        }
    }
    let shown = Shown {
        notice: p.get("done"),
        span: Span::asked(p.get("timeline")),
        ..Shown::default()
    };
    case_view(&state, &v, n, forms, shown, StatusCode::OK).await
}

/// Similar cases, articles and defects as a page of their own (without JavaScript).
#[derive(Template)]
#[template(path = "similar.html")]
struct SimilarPage {
    chrome: Chrome,
    n: u64,
    display: String,
    case: Case,
    hits: Vec<Hit>,
}

/// The same list alone, for htmx to put in the case page.
#[derive(Template)]
#[template(path = "similar_list.html")]
struct SimilarList {
    n: u64,
    csrf: String,
    hits: Vec<Hit>,
}

/// `GET /cases/{n}/similar`: cases, articles and defects similar to the case (seed step 5),
/// searched for apart from the case page so the page does not wait for the search. htmx
/// asks for it once the page is loaded and gets the list alone; without JavaScript it is a
/// page of its own, reached by a link on the case page. Staff only, and only for a case the
/// service shows them, as the case page.
pub async fn similar(
    State(state): State<WebState>,
    Staff(v): Staff,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(n) = case_number(&raw) else {
        return no_such_case(&v, BACK);
    };
    let svc = &state.service;
    let case = match svc.case(&v.actor, n).await {
        Ok(c) => c,
        Err(e) => return service_error_page(Some(&v), &e),
    };
    // a role without the search permission is shown nothing similar, as the page was
    let hits = svc
        .similar(&v.actor, n, 8)
        .await
        .unwrap_or_default()
        .iter()
        .map(|h| hit(h, &case))
        .collect();
    let mut res = if headers.contains_key("hx-request") {
        render(
            StatusCode::OK,
            &SimilarList {
                n: n.get(),
                csrf: state.csrf.token(&v.session),
                hits,
            },
        )
    } else {
        let title = format!("Similar to {} · {}", n.display(), case.title);
        render(
            StatusCode::OK,
            &SimilarPage {
                chrome: Chrome::new(&state, Some(&v), title).at("cases"),
                n: n.get(),
                display: n.display(),
                case,
                hits,
            },
        )
    };
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("hx-request"));
    res
}

/// A form on the case page that runs one command: its name (the disclosure it opens and
/// the `Forms` state it keeps), its fields as the service names them, whether it states
/// the version it was made from (those that change what others decide on do; appending a
/// post or a call does not), the notice and anchor after success, and how it reads.
pub struct Action {
    form: &'static str,
    fields: &'static [&'static str],
    versioned: bool,
    done: &'static str,
    anchor: &'static str,
    command: fn(&Posted) -> Result<Command, (String, String)>,
}

/// The `POST /cases/{n}/…` handler of an action.
pub fn route(action: &'static Action) -> MethodRouter<WebState> {
    post(
        move |State(state): State<WebState>,
              Staff(v): Staff,
              Path(raw): Path<String>,
              form: Posted| async move { act(&state, &v, &raw, &form, action).await },
    )
}

/// Runs an action's command and answers: back to the case with its notice on success
/// (post/redirect/get), the page again with the refusal otherwise.
async fn act(state: &WebState, v: &Visitor, raw: &str, form: &Posted, a: &Action) -> Response {
    let Some(n) = case_number(raw) else {
        return no_such_case(v, BACK);
    };
    let mut forms = Forms::sent(a.form, form);
    let command = match (a.command)(form) {
        Ok(c) => c,
        Err((field, text)) => {
            let status = forms.field(&field, text);
            return case_view(state, v, n, forms, Shown::default(), status).await;
        }
    };
    let version = if a.versioned { form.version() } else { None };
    match state.service.execute(&v.actor, n, version, command).await {
        Ok(outcome) => {
            let key = if outcome.events.is_empty() {
                "unchanged"
            } else {
                a.done
            };
            done(&format!("/cases/{}", n.get()), key, a.anchor)
        }
        Err(e @ ServiceError::NotFound(_)) => service_error_page(Some(v), &e),
        Err(e) => {
            let status = forms.refuse(&e, a.fields);
            case_view(state, v, n, forms, Shown::default(), status).await
        }
    }
}

fn parse<T: std::str::FromStr>(
    form: &Posted,
    field: &str,
    what: &str,
) -> Result<T, (String, String)> {
    form.get(field)
        .parse()
        .map_err(|_| (field.to_string(), format!("Choose {what}.")))
}

/// Edit: title, description, priority, technical details, categorization.
pub static EDIT: Action = Action {
    form: "edit",
    fields: &[
        "title",
        "description",
        "priority",
        "product",
        "product_version",
        "product_area",
        "functionality",
        "issue",
    ],
    versioned: true,
    done: "edited",
    anchor: "",
    command: |form| {
        // the title is sent only when it changed: re-entering the same title is the
        // workflow's way to confirm it, which has its own button
        let changed = |field: &str| {
            let now = form.get(field);
            (now != form.get(&format!("{field}_was"))).then(|| now.to_string())
        };
        Ok(Command::Edit(CaseEdit {
            title: changed("title"),
            description: changed("description"),
            priority: Some(parse(form, "priority", "a priority")?),
            product: Some(form.get("product").to_string()),
            product_version: Some(form.get("product_version").to_string()),
            product_area: Some(form.get("product_area").to_string()),
            functionality: Some(form.get("functionality").to_string()),
            issue: Some(form.get("issue").to_string()),
        }))
    },
};

/// The title is still right (seed step 8).
pub static CONFIRM_TITLE: Action = Action {
    form: "edit",
    fields: &[],
    versioned: true,
    done: "title-confirmed",
    anchor: "",
    command: |_| Ok(Command::ConfirmTitle),
};

/// Take ownership.
pub static TAKE: Action = Action {
    form: "take",
    fields: &[],
    versioned: true,
    done: "taken",
    anchor: "",
    command: |_| Ok(Command::Take),
};

/// Give the case to someone.
pub static ASSIGN: Action = Action {
    form: "assign",
    fields: &["owner"],
    versioned: true,
    done: "assigned",
    anchor: "",
    command: |form| {
        Ok(Command::Assign {
            owner: form.get("owner").to_string(),
        })
    },
};

/// Move to another open or pending status.
pub static TRANSITION: Action = Action {
    form: "transition",
    fields: &["status", "note"],
    versioned: true,
    done: "moved",
    anchor: "",
    command: |form| {
        Ok(Command::Transition {
            status: form.get("status").to_string(),
            note: form.opt("note"),
        })
    },
};

/// Escalate, with a reason.
pub static ESCALATE: Action = Action {
    form: "escalate",
    fields: &["reason"],
    versioned: true,
    done: "escalated",
    anchor: "",
    command: |form| {
        Ok(Command::Escalate {
            reason: form.get("reason").to_string(),
        })
    },
};

/// A call log (seed step 2; customer-visible).
pub static LOG_CALL: Action = Action {
    form: "call",
    fields: &["direction", "duration_minutes", "channel", "notes"],
    versioned: false,
    done: "call",
    anchor: "#timeline",
    command: |form| {
        let minutes = form.get("duration_minutes").trim();
        let duration_minutes = minutes.parse::<u32>().map_err(|_| {
            (
                "duration_minutes".to_string(),
                "Give the call's length in whole minutes.".to_string(),
            )
        })?;
        Ok(Command::LogCall {
            direction: parse::<CallDirection>(form, "direction", "inbound or outbound")?,
            duration_minutes,
            screenshare: form.checked("screenshare"),
            channel: form.opt("channel"),
            notes: form.get("notes").to_string(),
        })
    },
};

/// A note, call notes or the case summary (seed steps 4 and 7).
pub static ADD_POST: Action = Action {
    form: "post",
    fields: &["kind", "body", "visibility"],
    versioned: false,
    done: "post",
    anchor: "#timeline",
    command: |form| {
        Ok(Command::AddPost {
            kind: parse::<PostKind>(form, "kind", "what kind of post this is")?,
            body: form.get("body").to_string(),
            visibility: parse::<Visibility>(form, "visibility", "who may see it")?,
        })
    },
};

/// `POST /cases/{n}/attachments`: a post with files (the "Attach files" composer, a
/// multipart form), back to the case on success, the page again with the reason by the
/// field otherwise.
pub async fn attach_files(
    State(state): State<WebState>,
    Staff(v): Staff,
    Path(raw): Path<String>,
    sent: Submitted,
) -> Response {
    let Some(n) = case_number(&raw) else {
        return no_such_case(&v, BACK);
    };
    let visibility = match sent.form.get("visibility").parse::<Visibility>() {
        Ok(visibility) => visibility,
        // too large a form was not read: `attach` says so and writes nothing
        Err(_) if sent.too_large => Visibility::Internal,
        Err(_) => {
            let mut forms = Forms::sent("files", &sent.form);
            let status = forms.field("visibility", "Choose who may see the files.");
            return case_view(&state, &v, n, forms, Shown::default(), status).await;
        }
    };
    match files::attach(&state, &v, n, sent, "files", "text", visibility).await {
        Filed::Done => done(&format!("/cases/{}", n.get()), "files", "#timeline"),
        Filed::NotFound(e) => service_error_page(Some(&v), &e),
        Filed::Refused(forms, status) => {
            case_view(&state, &v, n, forms, Shown::default(), status).await
        }
    }
}

/// A contact attempt (seed step 6).
pub static RECORD_CONTACT: Action = Action {
    form: "contact",
    fields: &["channel", "outcome", "note"],
    versioned: false,
    done: "contact",
    anchor: "#timeline",
    command: |form| {
        Ok(Command::RecordContact {
            channel: parse::<ContactChannel>(form, "channel", "email or phone")?,
            outcome: parse::<ContactOutcome>(form, "outcome", "whether the customer answered")?,
            note: form.opt("note"),
        })
    },
};

const EMAIL_FIELDS: &[&str] = &[
    "template",
    "challenge",
    "discussed",
    "next_steps",
    "documentation",
    "note",
];

fn email_fields(form: &Posted) -> Result<(TemplateName, EmailFields), (String, String)> {
    let template = parse::<TemplateName>(form, "template", "a template")?;
    Ok((
        template,
        EmailFields {
            challenge: form.opt("challenge"),
            discussed: form.opt("discussed"),
            next_steps: form.opt("next_steps"),
            documentation: form
                .get("documentation")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            note: form.opt("note"),
        },
    ))
}

/// Queue an email from a template (seed steps 1 and 3).
pub static SEND_EMAIL: Action = Action {
    form: "email",
    fields: EMAIL_FIELDS,
    versioned: false,
    done: "email",
    anchor: "#timeline",
    command: |form| {
        email_fields(form).map(|(template, fields)| Command::SendEmail { template, fields })
    },
};

/// Link a similar case, an article or a defect (seed step 5).
pub static LINK: Action = Action {
    form: "link",
    fields: &["kind", "ref"],
    versioned: false,
    done: "linked",
    anchor: "#troubleshoot",
    command: |form| {
        Ok(Command::Link(LinkTarget {
            kind: parse::<RefKind>(form, "kind", "a case, an article or a defect")?,
            reference: form.get("ref").to_string(),
        }))
    },
};

/// Ask a collaboration group for help (seed step 5).
pub static SWARM: Action = Action {
    form: "swarm",
    fields: &["group", "question"],
    versioned: false,
    done: "swarm",
    anchor: "#timeline",
    command: |form| {
        Ok(Command::Swarm {
            group: form.get("group").to_string(),
            question: form.get("question").to_string(),
        })
    },
};

/// Close: resolved (with both resolutions), for non-response, or temporarily (seed steps
/// 6 and 11).
pub static CLOSE: Action = Action {
    form: "close",
    fields: &[
        "mode",
        "primary_resolution",
        "secondary_resolution",
        "notify_customer",
    ],
    versioned: true,
    done: "closed",
    anchor: "",
    command: |form| {
        let mode = parse::<CloseMode>(form, "mode", "how the case is closed")?;
        let resolution = (mode == CloseMode::Resolved).then(|| Resolution {
            primary: form.get("primary_resolution").to_string(),
            secondary: form.get("secondary_resolution").to_string(),
        });
        Ok(Command::Close {
            mode,
            resolution,
            notify_customer: form.checked("notify_customer"),
        })
    },
};

/// Reopen, with a reason, telling the customer unless unticked.
pub static REOPEN: Action = Action {
    form: "reopen",
    fields: &["reason", "notify_customer"],
    versioned: true,
    done: "reopened",
    anchor: "",
    command: |form| {
        Ok(Command::Reopen {
            reason: form.get("reason").to_string(),
            notify_customer: form.checked("notify_customer"),
        })
    },
};

#[derive(Template)]
#[template(path = "email_preview.html")]
struct PreviewFragment {
    preview: Option<RenderedEmail>,
    preview_error: Option<String>,
}

/// `POST /cases/{n}/emails/preview`: what the email would say, nothing queued. htmx gets
/// the preview alone, a browser without JavaScript the case page with it.
pub async fn preview_email(
    State(state): State<WebState>,
    Staff(v): Staff,
    Path(raw): Path<String>,
    form: Posted,
) -> Response {
    let Some(n) = case_number(&raw) else {
        return no_such_case(&v, BACK);
    };
    let mut forms = Forms::sent("email", &form);
    let (preview, error, status) = match email_fields(&form) {
        Ok((template, fields)) => {
            match state
                .service
                .preview_email(&v.actor, n, template, &fields)
                .await
            {
                Ok(p) => (Some(p), None, StatusCode::OK),
                Err(e) => {
                    let status = forms.refuse(&e, EMAIL_FIELDS);
                    let (_, _, text) = crate::page::refusal(&e);
                    (None, Some(text), status)
                }
            }
        }
        Err((field, text)) => (None, Some(text.clone()), forms.field(&field, text)),
    };
    if form.htmx {
        // htmx swaps only successful answers by default: the fragment carries the refusal
        return render(
            StatusCode::OK,
            &PreviewFragment {
                preview,
                preview_error: error,
            },
        );
    }
    let shown = Shown {
        preview: Preview {
            email: preview,
            error,
        },
        ..Shown::default()
    };
    case_view(&state, &v, n, forms, shown, status).await
}
