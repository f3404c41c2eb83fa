//! Cases: open (idempotent with a key), list, read, edit (`If-Match` required), and the
//! closing check and summary draft of one case.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casework_core::model::{Case, Customer, Origin, Priority, StatusCategory};
use casework_core::ports::{CaseFilter, CaseOrder};
use casework_core::workflow::{CaseEdit, Command, NewCase};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::{
    Body, CasePath, IdempotencyKey, IfMatchRequired, Params, given, if_match, number, page_request,
};
use crate::respond::case_response;
use crate::{ApiError, AppState, openapi};
use casework_core::ids::OPTIONAL_STATUS_PATTERN;
use casework_core::limits::{
    MAX_PAGE, MAX_PHONE, MAX_QUERY, MAX_SHORT_TEXT, MAX_STATUS_NAME, MAX_TEXT,
};
use casework_core::ports::page::LIST_CURSOR_PATTERN;

use crate::rules::Accepts::{Line, Matching, OptionalLine, OptionalText, Pattern, Range};
use crate::rules::Field::{Property, Query};
use crate::rules::Rule;

/// What the fields of these requests accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Property("CustomerIn", "name"), Line(MAX_SHORT_TEXT)),
    Rule(Property("CustomerIn", "phone"), OptionalLine(MAX_PHONE)),
    Rule(
        Property("CustomerIn", "account"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(Property("CreateCase", "title"), Line(MAX_SHORT_TEXT)),
    Rule(
        Property("CreateCase", "description"),
        OptionalText(MAX_TEXT),
    ),
    Rule(
        Property("CreateCase", "product"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(
        Property("CreateCase", "product_version"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(
        Query("/api/v1/cases", "status"),
        Matching(OPTIONAL_STATUS_PATTERN, MAX_STATUS_NAME),
    ),
    Rule(Query("/api/v1/cases", "q"), OptionalText(MAX_QUERY)),
    Rule(Query("/api/v1/cases", "limit"), Range(1, MAX_PAGE as u64)),
    Rule(
        Query("/api/v1/cases", "cursor"),
        Pattern(LIST_CURSOR_PATTERN),
    ),
    Rule(
        Property("CategoryIn", "product_area"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(
        Property("CategoryIn", "functionality"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(
        Property("CategoryIn", "issue"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(Property("PatchCase", "title"), Line(MAX_SHORT_TEXT)),
    Rule(Property("PatchCase", "description"), OptionalText(MAX_TEXT)),
    Rule(
        Property("PatchCase", "product"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
    Rule(
        Property("PatchCase", "product_version"),
        OptionalLine(MAX_SHORT_TEXT),
    ),
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerIn {
    /// The customer's name: one line, no control characters or bidirectional overrides.
    name: String,
    /// Where emails go: one `@` between a name and a domain with a dot.
    #[schema(value_type = casework_core::ids::EmailAddress)]
    email: String,
    /// Phone number.
    phone: Option<String>,
    /// Account or company.
    account: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateCase {
    /// Short title: one line.
    title: String,
    /// What the customer reported.
    #[serde(default)]
    description: String,
    /// How the customer reached support.
    origin: Origin,
    /// Default `medium`.
    #[serde(default = "medium")]
    priority: Priority,
    /// Who the case is for. A customer token opens cases for its own address only.
    customer: CustomerIn,
    /// Product.
    product: Option<String>,
    /// Product version.
    product_version: Option<String>,
}

pub(crate) fn medium() -> Priority {
    Priority::Medium
}

#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "cases",
    summary = "Open a case",
    params(IdempotencyKey),
    request_body = CreateCase,
    responses((status = 201, description = "The new case (or, for a replayed Idempotency-Key, the first answer)", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"), ("Location" = String, description = "The case's URL"))), openapi::Problems)
)]
pub(crate) async fn create_case(
    State(s): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Body(b): Body<CreateCase>,
) -> Result<Response, ApiError> {
    let email = b
        .customer
        .email
        .parse()
        .map_err(|e: casework_core::ids::ParseError| {
            ApiError::invalid("customer.email", e.to_string())
        })?;
    let new = NewCase {
        title: b.title,
        description: b.description,
        origin: b.origin,
        priority: b.priority,
        customer: Customer {
            name: b.customer.name,
            email,
            phone: b.customer.phone,
            account: b.customer.account,
        },
        product: b.product,
        product_version: b.product_version,
    };
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))?
                .to_string(),
        ),
        None => None,
    };
    let (case, replayed) = match key {
        // a replay answers exactly as the first call did
        Some(k) => s.service.open_case_once(&actor, &k, new).await?,
        None => (s.service.open_case(&actor, new).await?, false),
    };
    let mut r = case_response(StatusCode::CREATED, &case);
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/cases/{}", case.number.get())) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only this status (a name from the workflow file).
    status: Option<String>,
    /// Only this status category.
    status_category: Option<StatusCategory>,
    /// Only cases this person owns (staff only).
    owner: Option<String>,
    /// Only reopened (true) or never reopened (false) cases.
    reopened: Option<bool>,
    /// Only this product area (staff only).
    product_area: Option<String>,
    /// Only cases of this priority.
    priority: Option<Priority>,
    /// Only cases nobody owns (true) or someone owns (false); staff only.
    unassigned: Option<bool>,
    /// The list's order: `number` (oldest first, the default), `updated` (most recently
    /// changed first) or `priority` (most urgent first, then oldest). A cursor belongs to
    /// its order: pass the same `sort` with it.
    sort: Option<CaseOrder>,
    /// Full-text query over what the caller may see: every word must match; `"a phrase"`,
    /// `-excluded` words and phrases, and the last word as a prefix (docs/operations.md,
    /// "Search queries"). At most {MAX_QUERY}
    /// characters, as for search. Customers may not filter by `owner` or `product_area`
    /// (403).
    q: Option<String>,
    /// Page size, 1 to {MAX_PAGE} (default {DEFAULT_PAGE}).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    summary = "List cases the caller may see",
    params(ListQuery),
    responses((status = 200, description = "A page of cases", body = openapi::CasePage), openapi::Problems)
)]
pub(crate) async fn list_cases(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let page = page_request(q.sort.unwrap_or_default(), q.limit, q.cursor.as_deref())?;
    let filter = CaseFilter {
        status: given(q.status).map(|v| v.parse()).transpose().map_err(
            |e: casework_core::ids::ParseError| ApiError::invalid("status", e.to_string()),
        )?,
        status_category: q.status_category,
        owner: given(q.owner),
        reopened: q.reopened,
        product_area: given(q.product_area),
        priority: q.priority,
        unassigned: q.unassigned,
        customer: None,
        q: given(q.q),
    };
    let page = s.service.list(&actor, filter, page).await?;
    let items: Vec<_> = page.items.iter().map(Case::view).collect();
    Ok(Json(openapi::CasePage {
        items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}",
    tag = "cases",
    summary = "Read a case",
    params(CasePath),
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn get_case(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    let case = s.service.case(&actor, number(&n)?).await?;
    Ok(case_response(StatusCode::OK, &case))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryIn {
    /// Product area.
    product_area: Option<String>,
    /// Functionality.
    functionality: Option<String>,
    /// Issue.
    issue: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchCase {
    /// New title; the same title again confirms it (closing checklist item 8).
    title: Option<String>,
    /// New description; blank clears it.
    description: Option<String>,
    /// New priority.
    priority: Option<Priority>,
    /// Product; blank clears it.
    product: Option<String>,
    /// Product version; blank clears it.
    product_version: Option<String>,
    /// Categorization (closing checklist item 10); blank clears a part.
    category: Option<CategoryIn>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/cases/{n}",
    tag = "cases",
    summary = "Edit fields (If-Match required)",
    params(CasePath, IfMatchRequired),
    request_body = PatchCase,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
pub(crate) async fn patch_case(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(n): Path<String>,
    headers: HeaderMap,
    Body(b): Body<PatchCase>,
) -> Result<Response, ApiError> {
    let number = number(&n)?;
    // see the case (404 for a stranger's) before asking for a precondition
    s.service.case(&actor, number).await?;
    let Some(version) = if_match(&headers)? else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "If-Match required",
            "send If-Match with the ETag of the case you edited",
        ));
    };
    let (product_area, functionality, issue) = match b.category {
        Some(c) => (c.product_area, c.functionality, c.issue),
        None => (None, None, None),
    };
    let edit = CaseEdit {
        title: b.title,
        description: b.description,
        priority: b.priority,
        product: b.product,
        product_version: b.product_version,
        product_area,
        functionality,
        issue,
    };
    let outcome = s
        .service
        .execute(&actor, number, Some(version), Command::Edit(edit))
        .await?;
    Ok(case_response(StatusCode::OK, &outcome.case))
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/summary-draft",
    tag = "cases",
    summary = "Draft the case summary from the timeline",
    params(CasePath),
    responses((status = 200, description = "The draft", body = casework_core::documents::SummaryDraft), openapi::Problems)
)]
pub(crate) async fn summary_draft(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.summary_draft(&a, number(&n)?).await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/closing-check",
    tag = "cases",
    summary = "The closing checklist, item by item",
    params(CasePath),
    responses((status = 200, description = "What holds and what is missing", body = casework_core::service::ClosingCheck), openapi::Problems)
)]
pub(crate) async fn closing_check(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.closing_check(&a, number(&n)?).await?).into_response())
}
