//! Casework's HTTP API (v1) as a library: `router(state)` gives an axum `Router` over the
//! core service. Handlers parse and authenticate, call the service, and shape responses; no
//! workflow rule lives here. The contract is `shared/brief/API.md`.
//!
//! Every case response carries `ETag: "<version>"`; `PATCH` needs `If-Match` (428 without,
//! 412 when stale); actions honour it when sent. Errors are problem+json ([`ApiError`]).

mod error;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use casework_core::documents::EmailFields;
use casework_core::event::EventKind;
use casework_core::ids::CaseNumber;
use casework_core::model::{
    Actor, CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, Customer, LinkTarget,
    NewArticle, Origin, OutboxStatus, PostKind, Priority, RefKind, Resolution, StatusCategory,
    TemplateName, Visibility,
};
use casework_core::ports::{CaseFilter, PageRequest, ReportGroup, ReportQuery};
use casework_core::service::Outcome;
use casework_core::workflow::{CaseEdit, Command, NewCase};
use casework_core::{CaseService, ServiceError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use error::ApiError;

/// Largest request body accepted (larger: 413).
pub const MAX_BODY: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The core service, over whatever store the composition root chose.
    pub service: CaseService,
}

/// How long a request may take before it is answered 503.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The API's routes over a service, with a request id per request (`x-request-id`, taken
/// from the client or made), a tracing span per request carrying it, and a timeout.
pub fn router(state: AppState) -> Router {
    router_with_timeout(state, DEFAULT_TIMEOUT)
}

/// [`router`] with another request timeout.
pub fn router_with_timeout(state: AppState, timeout: std::time::Duration) -> Router {
    layered(routes(state), timeout)
}

/// Wraps routes in the request-id, tracing and timeout layers.
fn layered(routes: Router, timeout: std::time::Duration) -> Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let trace = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
        })
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO));
    routes.layer(
        // outermost first: every answer, a timed-out one too, carries the request id
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(trace)
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                timeout,
            )),
    )
}

fn routes(state: AppState) -> Router {
    let cases = Router::new()
        .route("/", post(create_case).get(list_cases))
        .route("/{n}", get(get_case).patch(patch_case))
        .route("/{n}/assign", post(assign))
        .route("/{n}/transition", post(transition))
        .route("/{n}/escalate", post(escalate))
        .route("/{n}/close", post(close))
        .route("/{n}/reopen", post(reopen))
        .route("/{n}/calls", post(log_call))
        .route("/{n}/posts", post(add_post))
        .route("/{n}/contact-attempts", post(contact_attempt))
        .route("/{n}/emails/preview", post(preview_email))
        .route("/{n}/emails", post(send_email))
        .route("/{n}/summary-draft", get(summary_draft))
        .route("/{n}/closing-check", get(closing_check))
        .route("/{n}/timeline", get(timeline))
        .route("/{n}/history", get(history))
        .route("/{n}/similar", get(similar))
        .route("/{n}/links", post(link))
        .route("/{n}/swarm", post(swarm));
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .nest("/api/v1/cases", cases)
        .route("/api/v1/search", get(search))
        .route("/api/v1/articles", post(add_article))
        .route("/api/v1/articles/{id}", get(get_article))
        .route("/api/v1/defects", post(add_defect))
        .route("/api/v1/defects/{key}", get(get_defect))
        .route("/api/v1/reports/reopens", get(reopen_report))
        .route("/api/v1/outbox", get(outbox))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not found", "no such resource")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// extractors

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be Bearer <token>")
            })?;
        match state.service.authenticate(secret).await? {
            Some(actor) => Ok(Auth(actor)),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

/// A JSON body whose rejections are problem+json (malformed 400, wrong type 415, unknown
/// or mistyped fields 422, too large 413).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// Query parameters whose rejections are problem+json.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(v))
    }
}

fn number(raw: &str) -> Result<CaseNumber, ApiError> {
    raw.parse().map_err(|_| ApiError::case_not_found(raw))
}

/// The version in `If-Match` (`"7"`, `W/"7"` or `7`), if sent.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid If-Match",
                "If-Match must be an ETag this API sent, like \"7\"",
            )
        })
}

// ---------------------------------------------------------------------------------------
// responses

fn case_response(status: StatusCode, case: &Case) -> Response {
    let mut r = (status, Json(case.view())).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", case.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn entry_response(outcome: &Outcome) -> Response {
    let mut r = match outcome.events.last() {
        Some(e) => (StatusCode::CREATED, Json(entry(e, e.seq))).into_response(),
        None => (StatusCode::OK, Json(json!({}))).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", outcome.case.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// A timeline entry: the event (with its delivery status, on the timeline) and its sequence
/// number as `id`.
fn entry(e: &impl Serialize, seq: u64) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(seq));
    }
    v
}

/// Runs a command on a case and answers with the case and its new ETag.
async fn act_on_case(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    headers: &HeaderMap,
    cmd: Command,
) -> Result<Response, ApiError> {
    let outcome = act(state, actor, raw, headers, cmd).await?;
    Ok(case_response(StatusCode::OK, &outcome.case))
}

async fn act(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    headers: &HeaderMap,
    cmd: Command,
) -> Result<Outcome, ApiError> {
    let n = number(raw)?;
    Ok(state
        .service
        .execute(actor, n, if_match(headers)?, cmd)
        .await?)
}

// ---------------------------------------------------------------------------------------
// cases

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerIn {
    name: String,
    email: String,
    phone: Option<String>,
    account: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCase {
    title: String,
    #[serde(default)]
    description: String,
    origin: Origin,
    #[serde(default = "medium")]
    priority: Priority,
    customer: CustomerIn,
    product: Option<String>,
    product_version: Option<String>,
}

fn medium() -> Priority {
    Priority::Medium
}

async fn create_case(
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    status_category: Option<StatusCategory>,
    owner: Option<String>,
    reopened: Option<bool>,
    product_area: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_cases(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_params(q.limit, q.cursor.as_deref())
        .map_err(|e| ApiError::invalid("cursor", e.to_string()))?;
    let filter = CaseFilter {
        status: q.status.map(|v| v.parse()).transpose().map_err(
            |e: casework_core::ids::ParseError| ApiError::invalid("status", e.to_string()),
        )?,
        status_category: q.status_category,
        owner: q.owner,
        reopened: q.reopened,
        product_area: q.product_area,
        customer: None,
        q: q.q,
    };
    let page = s.service.list(&actor, filter, page).await?;
    let items: Vec<_> = page.items.iter().map(Case::view).collect();
    Ok(Json(json!({ "items": items, "next_cursor": page.next_cursor })).into_response())
}

async fn get_case(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    let case = s.service.case(&actor, number(&n)?).await?;
    Ok(case_response(StatusCode::OK, &case))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryIn {
    product_area: Option<String>,
    functionality: Option<String>,
    issue: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchCase {
    title: Option<String>,
    description: Option<String>,
    priority: Option<Priority>,
    product: Option<String>,
    product_version: Option<String>,
    category: Option<CategoryIn>,
}

async fn patch_case(
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignIn {
    owner: String,
}

async fn assign(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<AssignIn>,
) -> Result<Response, ApiError> {
    act_on_case(&s, &a, &n, &h, Command::Assign { owner: b.owner }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionIn {
    status: String,
    note: Option<String>,
}

async fn transition(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<TransitionIn>,
) -> Result<Response, ApiError> {
    act_on_case(
        &s,
        &a,
        &n,
        &h,
        Command::Transition {
            status: b.status,
            note: b.note,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonIn {
    reason: String,
}

async fn escalate(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ReasonIn>,
) -> Result<Response, ApiError> {
    act_on_case(&s, &a, &n, &h, Command::Escalate { reason: b.reason }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseIn {
    mode: CloseMode,
    primary_resolution: Option<String>,
    secondary_resolution: Option<String>,
}

async fn close(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<CloseIn>,
) -> Result<Response, ApiError> {
    let resolution = match (b.primary_resolution, b.secondary_resolution) {
        (None, None) => None,
        (p, s) => Some(Resolution {
            primary: p.unwrap_or_default(),
            secondary: s.unwrap_or_default(),
        }),
    };
    act_on_case(
        &s,
        &a,
        &n,
        &h,
        Command::Close {
            mode: b.mode,
            resolution,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReopenIn {
    reason: String,
    #[serde(default = "yes")]
    notify_customer: bool,
}

fn yes() -> bool {
    true
}

async fn reopen(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ReopenIn>,
) -> Result<Response, ApiError> {
    act_on_case(
        &s,
        &a,
        &n,
        &h,
        Command::Reopen {
            reason: b.reason,
            notify_customer: b.notify_customer,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallIn {
    direction: CallDirection,
    duration_minutes: u32,
    #[serde(default)]
    screenshare: bool,
    channel: Option<String>,
    notes: String,
}

async fn log_call(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<CallIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::LogCall {
        direction: b.direction,
        duration_minutes: b.duration_minutes,
        screenshare: b.screenshare,
        channel: b.channel,
        notes: b.notes,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostIn {
    kind: PostKind,
    body: String,
    #[serde(default = "internal")]
    visibility: Visibility,
}

fn internal() -> Visibility {
    Visibility::Internal
}

async fn add_post(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<PostIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::AddPost {
        kind: b.kind,
        body: b.body,
        visibility: b.visibility,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactIn {
    channel: ContactChannel,
    outcome: ContactOutcome,
    note: Option<String>,
}

async fn contact_attempt(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ContactIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::RecordContact {
        channel: b.channel,
        outcome: b.outcome,
        note: b.note,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailIn {
    template: TemplateName,
    challenge: Option<String>,
    discussed: Option<String>,
    next_steps: Option<String>,
    #[serde(default)]
    documentation: Vec<String>,
    note: Option<String>,
}

impl EmailIn {
    fn fields(&self) -> EmailFields {
        EmailFields {
            challenge: self.challenge.clone(),
            discussed: self.discussed.clone(),
            next_steps: self.next_steps.clone(),
            documentation: self.documentation.clone(),
            note: self.note.clone(),
        }
    }
}

async fn preview_email(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    Body(b): Body<EmailIn>,
) -> Result<Response, ApiError> {
    let e = s
        .service
        .preview_email(&a, number(&n)?, b.template, &b.fields())
        .await?;
    Ok(Json(json!({ "to": e.to, "subject": e.subject, "body": e.body })).into_response())
}

async fn send_email(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<EmailIn>,
) -> Result<Response, ApiError> {
    let o = act(
        &s,
        &a,
        &n,
        &h,
        Command::SendEmail {
            template: b.template,
            fields: b.fields(),
        },
    )
    .await?;
    let queued = o.events.iter().find_map(|e| match &e.kind {
        EventKind::EmailQueued { message, to, subject, body, .. } => {
            Some(json!({ "id": message, "to": to, "subject": subject, "body": body, "status": OutboxStatus::Queued }))
        }
        _ => None,
    });
    match queued {
        Some(v) => Ok((StatusCode::CREATED, Json(v)).into_response()),
        None => Err(ApiError::from(ServiceError::Store(
            casework_core::StoreError::Internal("no email was queued".into()),
        ))),
    }
}

async fn summary_draft(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.summary_draft(&a, number(&n)?).await?).into_response())
}

async fn closing_check(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.closing_check(&a, number(&n)?).await?).into_response())
}

async fn timeline(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    let events = s.service.timeline(&a, number(&n)?).await?;
    Ok(Json(
        events
            .iter()
            .map(|t| entry(t, t.event.seq))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

async fn history(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.history(&a, number(&n)?).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<u32>,
}

async fn similar(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    Params(q): Params<LimitQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .similar(&a, number(&n)?, q.limit.unwrap_or(10))
            .await?,
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkIn {
    kind: RefKind,
    #[serde(rename = "ref")]
    reference: String,
}

async fn link(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<LinkIn>,
) -> Result<Response, ApiError> {
    let o = act(
        &s,
        &a,
        &n,
        &h,
        Command::Link(LinkTarget {
            kind: b.kind,
            reference: b.reference,
        }),
    )
    .await?;
    Ok(entry_response(&o))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwarmIn {
    group: String,
    question: String,
}

async fn swarm(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<SwarmIn>,
) -> Result<Response, ApiError> {
    let o = act(
        &s,
        &a,
        &n,
        &h,
        Command::Swarm {
            group: b.group,
            question: b.question,
        },
    )
    .await?;
    Ok(entry_response(&o))
}

// ---------------------------------------------------------------------------------------
// search, knowledge, reports, outbox

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQ {
    q: String,
    kind: Option<RefKind>,
    limit: Option<u32>,
}

async fn search(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<SearchQ>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .search(&a, &q.q, q.kind, q.limit.unwrap_or(10))
            .await?,
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArticleIn {
    title: String,
    body: String,
    url: Option<String>,
}

async fn add_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<ArticleIn>,
) -> Result<Response, ApiError> {
    let art = s
        .service
        .add_article(
            &a,
            NewArticle {
                title: b.title,
                body: b.body,
                url: b.url,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(art)).into_response())
}

async fn get_article(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: u64 = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("article {id} not found"),
        )
    })?;
    Ok(Json(s.service.article(&a, id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefectIn {
    key: String,
    title: String,
    #[serde(default)]
    body: String,
    state: String,
}

async fn add_defect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<DefectIn>,
) -> Result<Response, ApiError> {
    let d = s
        .service
        .add_defect(&a, &b.key, &b.title, &b.body, &b.state)
        .await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

async fn get_defect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.defect(&a, &key).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQ {
    group_by: ReportGroup,
    from: Option<jiff::Timestamp>,
    to: Option<jiff::Timestamp>,
}

async fn reopen_report(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<ReportQ>,
) -> Result<Response, ApiError> {
    let rows = s
        .service
        .reopen_report(
            &a,
            ReportQuery {
                group_by: q.group_by,
                from: q.from,
                to: q.to,
            },
        )
        .await?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxQ {
    status: Option<OutboxStatus>,
    limit: Option<u32>,
}

async fn outbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<OutboxQ>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .outbox(&a, q.status, q.limit.unwrap_or(100))
            .await?,
    )
    .into_response())
}

#[cfg(test)]
mod tests;
