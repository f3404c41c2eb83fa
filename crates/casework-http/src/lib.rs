//! Casework's HTTP API (v1) as a library: `router(state)` gives an axum `Router` over the
//! core service. Handlers parse and authenticate, call the service, and shape responses; no
//! workflow rule lives here. The contract is `shared/brief/API.md`.
//!
//! Every case response carries `ETag: "<version>"`; `PATCH` needs `If-Match` (428 without,
//! 412 when stale); actions honour it when sent. Errors are problem+json ([`ApiError`]).

mod error;
pub mod openapi;
pub mod server;
pub(crate) mod store_api;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use casework_core::documents::EmailFields;
use casework_core::event::EventKind;
use casework_core::ids::CaseNumber;
use casework_core::limits::{DEFAULT_HITS, DEFAULT_OUTBOX, MAX_HITS, MAX_OUTBOX};
use casework_core::model::{
    Actor, CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, Customer, LinkTarget,
    NewArticle, Origin, OutboxStatus, PostKind, Priority, RefKind, Resolution, StatusCategory,
    TemplateName, Visibility,
};
use casework_core::ports::{CaseFilter, PageRequest, ReportCasesQuery, ReportGroup, ReportQuery};
use casework_core::service::Outcome;
use casework_core::workflow::{CaseEdit, Command, NewCase};
use casework_core::{CaseService, ServiceError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub use error::ApiError;
pub use server::{ServeLimits, serve};

/// Largest request body accepted (larger: 413).
pub const MAX_BODY: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The core service, over whatever store the composition root chose.
    pub service: CaseService,
    /// Recently authenticated tokens.
    pub auth: std::sync::Arc<AuthCache>,
    /// Whether the server's background workers run, for `/healthz`.
    pub health: std::sync::Arc<Health>,
}

/// What `/healthz` reports beyond "the server answers": each background worker the
/// composition root runs (the email delivery worker) says whether it is running. A worker
/// that is not answers `/healthz` with 503 until it runs again, so a monitor sees a server
/// that answers requests but no longer sends mail.
#[derive(Debug, Default)]
pub struct Health {
    problems: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Health {
    /// Records that `worker` runs (it completed a round).
    pub fn running(&self, worker: &str) {
        self.lock().remove(worker);
    }

    /// Records that `worker` is not running, with a reason fit for anyone to read (the
    /// details belong in the log: `/healthz` needs no token).
    pub fn down(&self, worker: &str, reason: impl Into<String>) {
        self.lock().insert(worker.to_string(), reason.into());
    }

    /// Every worker that is not running, with its reason.
    pub fn problems(&self) -> std::collections::BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, String>> {
        self.problems.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl AppState {
    /// State over a service, remembering authenticated tokens for [`AUTH_TTL`].
    pub fn new(service: CaseService) -> Self {
        Self::with_auth_ttl(service, AUTH_TTL)
    }

    /// State whose token cache keeps entries for `ttl` (zero: no cache).
    pub fn with_auth_ttl(service: CaseService, ttl: std::time::Duration) -> Self {
        Self::with_auth_cache(service, AuthCache::new(ttl))
    }

    /// State with this token cache (one with a test clock, say).
    pub fn with_auth_cache(service: CaseService, auth: AuthCache) -> Self {
        Self {
            service,
            auth: std::sync::Arc::new(auth),
            health: std::sync::Arc::default(),
        }
    }
}

/// The monotonic time the token cache reads.
pub type MonotonicClock = std::sync::Arc<dyn Fn() -> std::time::Instant + Send + Sync>;

/// How long an authenticated token is trusted without asking the store again: a token
/// revoked by `casework token revoke` (another process) stops working within this time.
pub const AUTH_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Tokens known to be valid, by the hash of their secret, each for a short time: it saves
/// two store reads (the token, then its person) on almost every request.
pub struct AuthCache {
    ttl: std::time::Duration,
    clock: MonotonicClock,
    entries: std::sync::Mutex<std::collections::HashMap<String, (Actor, std::time::Instant)>>,
}

impl AuthCache {
    /// Most tokens remembered at once; past it the cache starts over.
    pub const MAX_ENTRIES: usize = 10_000;

    /// A cache keeping entries for `ttl` by the system's monotonic clock.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self::with_clock(ttl, std::sync::Arc::new(std::time::Instant::now))
    }

    /// A cache keeping entries for `ttl` by `clock`.
    pub fn with_clock(ttl: std::time::Duration, clock: MonotonicClock) -> Self {
        Self {
            ttl,
            clock,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The cache's now.
    pub fn now(&self) -> std::time::Instant {
        (self.clock)()
    }

    /// The actor for a token hash, if it was authenticated less than the TTL before `now`.
    pub fn get(&self, hash: &str, now: std::time::Instant) -> Option<Actor> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(actor, _)| actor.clone())
    }

    /// Remembers an authenticated token (only valid ones: unknown secrets are never kept).
    pub fn put(&self, hash: String, actor: Actor, now: std::time::Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < self.ttl);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash, (actor, now));
    }
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

/// Answers 414 (problem+json) for a request target longer than [`server::MAX_URI`].
async fn uri_limit(req: Request, next: axum::middleware::Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > server::MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI too long",
            format!(
                "the request target is {len} bytes; at most {} are accepted",
                server::MAX_URI
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Answers 503 (problem+json) for a request not done within `limit`.
async fn time_limit(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request timed out",
            format!(
                "the request was not done within {} s; a write may still have been applied, \
                 so read before retrying",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// Wraps routes in the request-id, tracing, URI-length and timeout layers.
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
            .layer(axum::middleware::from_fn(uri_limit))
            .layer(axum::middleware::from_fn_with_state(timeout, time_limit)),
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
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi_json))
        .nest("/api/v1/cases", cases)
        .route("/api/v1/search", get(search))
        .route("/api/v1/articles", post(add_article))
        .route("/api/v1/articles/{id}", get(get_article))
        .route("/api/v1/defects", post(add_defect))
        .route("/api/v1/defects/{key}", get(get_defect))
        .route("/api/v1/reports/reopens", get(reopen_report))
        .route("/api/v1/reports/reopens/cases", get(reopen_report_cases))
        .route("/api/v1/outbox", get(outbox))
        .route("/api/v1/statuses/map", post(map_status))
        .merge(store_api::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not found", "no such resource")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    summary = "Whether the server is up",
    security(()),
    responses(
        (status = 200, description = "Up, and every background worker runs", body = openapi::Health),
        (status = 503, description = "Up, but a background worker (email delivery) is not running", body = openapi::Health)
    )
)]
async fn healthz(State(s): State<AppState>) -> Response {
    let problems = s.health.problems();
    if problems.is_empty() {
        let ok = openapi::Health {
            status: "ok",
            problems,
        };
        return Json(ok).into_response();
    }
    let degraded = openapi::Health {
        status: "degraded",
        problems,
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(degraded)).into_response()
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    summary = "This API's OpenAPI 3.1 document",
    security(()),
    responses((status = 200, description = "The document", content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOC.get_or_init(openapi::document).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A case in the path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // describes the path; handlers take it as a string
struct CasePath {
    /// Case number; leading zeros accepted (`1027` or `00001027`).
    n: String,
}

/// The version a client read, for an optimistic write.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // describes the header; handlers read it with `if_match`
struct IfMatch {
    /// The case's `ETag` as read (`"7"`): a write to a case that changed since is 412.
    #[serde(rename = "If-Match")]
    #[param(value_type = String, required = false, pattern = r#"^(W/)?"?[0-9]{1,19}"?$"#)]
    if_match: Option<String>,
}

/// The version a client read, required for a PATCH.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // describes the header; the handler reads it with `if_match`
struct IfMatchRequired {
    /// The case's `ETag` as read (`"7"`): without it 428, stale 412.
    #[serde(rename = "If-Match")]
    #[param(pattern = r#"^(W/)?"?[0-9]{1,19}"?$"#)]
    if_match: String,
}

/// A key making a create safe to retry.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // describes the header; the handler reads it
struct IdempotencyKey {
    /// Any unique string: a retry with the same key and body answers as the first call did
    /// (`Idempotent-Replayed: true`); the same key with another body is 422.
    #[serde(rename = "Idempotency-Key")]
    #[param(value_type = String, required = false, pattern = "^[!-~]{1,255}$")]
    idempotency_key: Option<String>,
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
        // the scheme is case-insensitive (RFC 9110 section 11.1): `bearer`, `BEARER`, …
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.trim_start().split_once([' ', '\t']))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be Bearer <token>")
            })?;
        let hash = casework_core::model::token_hash(secret);
        let now = state.auth.now();
        if let Some(actor) = state.auth.get(&hash, now) {
            return Ok(Auth(actor));
        }
        match state.service.authenticate(secret).await? {
            Some(actor) => {
                state.auth.put(hash, actor.clone(), now);
                Ok(Auth(actor))
            }
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

/// A `limit` parameter: `default` when absent, 422 outside 1..=max.
fn limit(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(
            "limit",
            format!("limit must be between 1 and {max}"),
        )),
    }
}

/// A JSON number that is whole, as JSON Schema's `integer` means it: `25` or `25.0`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let whole = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => Some(u),
        (None, Some(f)) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
            Some(f as u64)
        }
        _ => None,
    };
    whole
        .and_then(|u| u32::try_from(u).ok())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number, found {n}")))
}

/// A page request from `limit` and `cursor` parameters, 422 naming the one at fault.
fn page_request(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    PageRequest::from_params(limit, cursor).map_err(|e| ApiError::invalid(e.field(), e.to_string()))
}

/// A blank query parameter is the same as an absent one.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
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
        Some(e) => (
            StatusCode::CREATED,
            Json(openapi::EventItem {
                id: e.seq,
                event: e,
            }),
        )
            .into_response(),
        None => (StatusCode::OK, Json(json!({}))).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", outcome.case.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CustomerIn {
    /// The customer's name: one line, no control characters or bidirectional overrides.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    name: String,
    /// Where emails go: one `@` between a name and a domain with a dot.
    #[schema(value_type = casework_core::ids::EmailAddress)]
    email: String,
    /// Phone number.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 64
    )]
    phone: Option<String>,
    /// Account or company.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    account: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCase {
    /// Short title: one line.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    title: String,
    /// What the customer reported.
    #[serde(default)]
    #[schema(max_length = 100000)]
    description: String,
    /// How the customer reached support.
    origin: Origin,
    /// Default `medium`.
    #[serde(default = "medium")]
    priority: Priority,
    /// Who the case is for. A customer token opens cases for its own address only.
    customer: CustomerIn,
    /// Product.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    product: Option<String>,
    /// Product version.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    product_version: Option<String>,
}

fn medium() -> Priority {
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only this status (a name from the workflow file).
    #[param(max_length = 64, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    status: Option<String>,
    /// Only this status category.
    status_category: Option<StatusCategory>,
    /// Only cases this person owns (staff only).
    owner: Option<String>,
    /// Only reopened (true) or never reopened (false) cases.
    reopened: Option<bool>,
    /// Only this product area (staff only).
    product_area: Option<String>,
    /// Full-text query over what the caller may see: every term must match. At most 1000
    /// characters, as for search. Customers may not filter by `owner` or `product_area`
    /// (403).
    #[param(max_length = 1000)]
    q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^(c[1-9][0-9]{0,17})?$")]
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
async fn list_cases(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let page = page_request(q.limit, q.cursor.as_deref())?;
    let filter = CaseFilter {
        status: given(q.status).map(|v| v.parse()).transpose().map_err(
            |e: casework_core::ids::ParseError| ApiError::invalid("status", e.to_string()),
        )?,
        status_category: q.status_category,
        owner: given(q.owner),
        reopened: q.reopened,
        product_area: given(q.product_area),
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
async fn get_case(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    let case = s.service.case(&actor, number(&n)?).await?;
    Ok(case_response(StatusCode::OK, &case))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CategoryIn {
    /// Product area.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    product_area: Option<String>,
    /// Functionality.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    functionality: Option<String>,
    /// Issue.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    issue: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchCase {
    /// New title; the same title again confirms it (closing checklist item 8).
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    title: Option<String>,
    /// New description; blank clears it.
    #[schema(max_length = 100000)]
    description: Option<String>,
    /// New priority.
    priority: Option<Priority>,
    /// Product; blank clears it.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    product: Option<String>,
    /// Product version; blank clears it.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignIn {
    /// The agent's name.
    #[schema(pattern = "\\S")]
    owner: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/assign",
    tag = "cases",
    summary = "Give the case an owner",
    params(CasePath, IfMatch),
    request_body = AssignIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
async fn assign(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<AssignIn>,
) -> Result<Response, ApiError> {
    act_on_case(&s, &a, &n, &h, Command::Assign { owner: b.owner }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TransitionIn {
    /// The status to move to (a name from the workflow file; not a closed one: use close).
    #[schema(
        max_length = 64,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    status: String,
    /// Why, for the history.
    #[schema(max_length = 100000)]
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/transition",
    tag = "cases",
    summary = "Move the case to another status",
    params(CasePath, IfMatch),
    request_body = TransitionIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReasonIn {
    /// Why.
    #[schema(pattern = "\\S", max_length = 100000)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/escalate",
    tag = "cases",
    summary = "Escalate the case",
    params(CasePath, IfMatch),
    request_body = ReasonIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
async fn escalate(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<ReasonIn>,
) -> Result<Response, ApiError> {
    act_on_case(&s, &a, &n, &h, Command::Escalate { reason: b.reason }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CloseIn {
    /// `resolved` (the closing checklist must hold), `non_response` (the contact policy
    /// must hold) or `temporary`.
    mode: CloseMode,
    /// Required for `resolved`.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    primary_resolution: Option<String>,
    /// Required for `resolved`.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    secondary_resolution: Option<String>,
    /// Tell the customer (default true): a resolved close sends the resolution, a temporary
    /// one how to come back. A non-response close always sends its closing email (`false`
    /// is refused).
    #[serde(default = "yes")]
    notify_customer: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/close",
    tag = "cases",
    summary = "Close: resolved (checklist), non-response (policy) or temporary",
    params(CasePath, IfMatch),
    request_body = CloseIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
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
            notify_customer: b.notify_customer,
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReopenIn {
    /// Why the case came back: kept as data for the reopen report.
    #[schema(pattern = "\\S", max_length = 100000)]
    reason: String,
    /// Queue the reopen notice to the customer (default true).
    #[serde(default = "yes")]
    notify_customer: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/reopen",
    tag = "cases",
    summary = "Reopen a closed case with a reason",
    params(CasePath, IfMatch),
    request_body = ReopenIn,
    responses((status = 200, description = "The case", body = casework_core::model::CaseView, headers(("ETag" = String, description = "The case's version, quoted"))), openapi::Problems)
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CallIn {
    /// Who called whom.
    direction: CallDirection,
    /// 1 to 1440 (a whole number; `25.0` is taken as 25).
    #[schema(minimum = 1, maximum = 1440)]
    #[serde(deserialize_with = "whole_number")]
    duration_minutes: u32,
    /// Whether the screen was shared.
    #[serde(default)]
    screenshare: bool,
    /// Phone, Teams, …
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    channel: Option<String>,
    /// What was found and done (customer-visible).
    #[schema(pattern = "\\S", max_length = 100000)]
    notes: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/calls",
    tag = "cases",
    summary = "Log a call",
    params(CasePath, IfMatch),
    request_body = CallIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PostIn {
    /// What kind of post.
    kind: PostKindIn,
    /// The text.
    #[schema(pattern = "\\S", max_length = 100000)]
    body: String,
    /// Default `internal`; customers may only post `customer` notes.
    #[serde(default = "internal")]
    visibility: Visibility,
}

/// The kinds of post a client may add (a reopen reason is written by reopen).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum PostKindIn {
    /// A note.
    Note,
    /// Notes of a call (seed step 4).
    CallNotes,
    /// The case summary (seed step 7).
    Summary,
}

impl From<PostKindIn> for PostKind {
    fn from(k: PostKindIn) -> Self {
        match k {
            PostKindIn::Note => PostKind::Note,
            PostKindIn::CallNotes => PostKind::CallNotes,
            PostKindIn::Summary => PostKind::Summary,
        }
    }
}

fn internal() -> Visibility {
    Visibility::Internal
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/posts",
    tag = "cases",
    summary = "Add a note, call notes or the case summary",
    params(CasePath, IfMatch),
    request_body = PostIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
async fn add_post(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<PostIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::AddPost {
        kind: b.kind.into(),
        body: b.body,
        visibility: b.visibility,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ContactIn {
    /// How the customer was contacted.
    channel: ContactChannel,
    /// Whether they answered.
    outcome: ContactOutcome,
    /// Internal note.
    #[schema(max_length = 100000)]
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/contact-attempts",
    tag = "cases",
    summary = "Record an attempt to reach the customer",
    params(CasePath, IfMatch),
    request_body = ContactIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EmailIn {
    /// Which email.
    template: EmailTemplate,
    /// The customer's challenge (initial contact; default: the case description).
    #[schema(max_length = 100000)]
    challenge: Option<String>,
    /// What was discussed (required for a follow-up).
    #[schema(max_length = 100000)]
    discussed: Option<String>,
    /// Next steps.
    #[schema(max_length = 100000)]
    next_steps: Option<String>,
    /// Documentation links.
    #[serde(default)]
    documentation: Vec<String>,
    /// A note to add.
    #[schema(max_length = 100000)]
    note: Option<String>,
}

/// The documents that are emails (the summary draft has its own endpoint).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum EmailTemplate {
    /// Step 1: ownership taken.
    InitialContact,
    /// Step 3: what was discussed, documentation, next steps.
    FollowUp,
    /// Step 6: closing after no response.
    NonResponseClosure,
    /// A reopened case.
    ReopenNotice,
}

impl From<EmailTemplate> for TemplateName {
    fn from(t: EmailTemplate) -> Self {
        match t {
            EmailTemplate::InitialContact => TemplateName::InitialContact,
            EmailTemplate::FollowUp => TemplateName::FollowUp,
            EmailTemplate::NonResponseClosure => TemplateName::NonResponseClosure,
            EmailTemplate::ReopenNotice => TemplateName::ReopenNotice,
        }
    }
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

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/emails/preview",
    tag = "cases",
    summary = "Render an email without queueing it",
    params(CasePath),
    request_body = EmailIn,
    responses((status = 200, description = "The rendered email", body = openapi::EmailPreview), openapi::Problems)
)]
async fn preview_email(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    Body(b): Body<EmailIn>,
) -> Result<Response, ApiError> {
    let e = s
        .service
        .preview_email(&a, number(&n)?, b.template.into(), &b.fields())
        .await?;
    Ok(Json(openapi::EmailPreview {
        to: &e.to,
        subject: &e.subject,
        body: &e.body,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/emails",
    tag = "cases",
    summary = "Queue an email to the customer",
    params(CasePath, IfMatch),
    request_body = EmailIn,
    responses((status = 201, description = "The queued message", body = openapi::QueuedEmail), openapi::Problems)
)]
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
            template: b.template.into(),
            fields: b.fields(),
        },
    )
    .await?;
    let queued = o.events.iter().find_map(|e| match &e.kind {
        EventKind::EmailQueued {
            message,
            to,
            subject,
            body,
            ..
        } => Some(openapi::QueuedEmail {
            id: message,
            to,
            subject,
            body,
            status: OutboxStatus::Queued,
        }),
        _ => None,
    });
    match queued {
        Some(v) => Ok((StatusCode::CREATED, Json(v)).into_response()),
        None => Err(ApiError::from(ServiceError::Internal(
            "an email was sent but none was queued".into(),
        ))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/summary-draft",
    tag = "cases",
    summary = "Draft the case summary from the timeline",
    params(CasePath),
    responses((status = 200, description = "The draft", body = casework_core::documents::SummaryDraft), openapi::Problems)
)]
async fn summary_draft(
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
async fn closing_check(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.closing_check(&a, number(&n)?).await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/timeline",
    tag = "cases",
    summary = "The entries the caller may see, oldest first",
    params(CasePath),
    responses((status = 200, description = "The timeline", body = Vec<openapi::TimelineItem>), openapi::Problems)
)]
async fn timeline(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    let events = s.service.timeline(&a, number(&n)?).await?;
    Ok(Json(
        events
            .iter()
            .map(|t| openapi::TimelineItem {
                id: t.event.seq,
                entry: t,
            })
            .collect::<Vec<_>>(),
    )
    .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/history",
    tag = "cases",
    summary = "Every event (staff only)",
    params(CasePath),
    responses((status = 200, description = "The history", body = Vec<casework_core::event::Event>), openapi::Problems)
)]
async fn history(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.history(&a, number(&n)?).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    /// At most this many (1 to 100, default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/similar",
    tag = "cases",
    summary = "Similar cases, articles and defects",
    params(CasePath, LimitQuery),
    responses((status = 200, description = "Ranked hits", body = Vec<casework_core::ports::SearchHit>), openapi::Problems)
)]
async fn similar(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    Params(q): Params<LimitQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .similar(&a, number(&n)?, limit(q.limit, DEFAULT_HITS, MAX_HITS)?)
            .await?,
    )
    .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkIn {
    /// What to link.
    kind: RefKind,
    /// The article id, defect key or case number.
    #[serde(rename = "ref")]
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    reference: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/links",
    tag = "cases",
    summary = "Link an article, defect or case",
    params(CasePath, IfMatch),
    request_body = LinkIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
async fn link(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<LinkIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::Link(LinkTarget {
        kind: b.kind,
        reference: b.reference,
    });
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SwarmIn {
    /// The collaboration group.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    group: String,
    /// What to ask.
    #[schema(pattern = "\\S", max_length = 100000)]
    question: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/swarm",
    tag = "cases",
    summary = "Ask a collaboration group for help (internal)",
    params(CasePath, IfMatch),
    request_body = SwarmIn,
    responses((status = 201, description = "The new timeline entry", body = openapi::EventItem), openapi::Problems)
)]
async fn swarm(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    Body(b): Body<SwarmIn>,
) -> Result<Response, ApiError> {
    let cmd = Command::Swarm {
        group: b.group,
        question: b.question,
    };
    Ok(entry_response(&act(&s, &a, &n, &h, cmd).await?))
}

// ---------------------------------------------------------------------------------------
// search, knowledge, reports, outbox

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQ {
    /// The query.
    #[param(pattern = "\\S", max_length = 1000)]
    q: String,
    /// Only hits of this kind.
    kind: Option<RefKind>,
    /// At most this many (1 to 100, default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "knowledge",
    summary = "Full-text search over what the caller may see",
    params(SearchQ),
    responses((status = 200, description = "Ranked hits", body = Vec<casework_core::ports::SearchHit>), openapi::Problems)
)]
async fn search(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<SearchQ>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .search(&a, &q.q, q.kind, limit(q.limit, DEFAULT_HITS, MAX_HITS)?)
            .await?,
    )
    .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ArticleIn {
    /// Title.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    title: String,
    /// Text.
    #[schema(pattern = "\\S", max_length = 100000)]
    body: String,
    /// Where it is published.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 2048
    )]
    url: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/articles",
    tag = "knowledge",
    summary = "Add a knowledge article",
    request_body = ArticleIn,
    responses((status = 201, description = "The article", body = casework_core::model::Article), openapi::Problems)
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/articles/{id}",
    tag = "knowledge",
    summary = "Read a knowledge article",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, description = "The article", body = casework_core::model::Article), openapi::Problems)
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DefectIn {
    /// Tracker key, e.g. `BUG-000123456`: no white space inside.
    #[schema(
        pattern = r"^[^\S\x00-\x1f\x7f-\x9f\u2028\u2029]*[^\s\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+[^\S\x00-\x1f\x7f-\x9f\u2028\u2029]*$",
        max_length = 64
    )]
    key: String,
    /// Title.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 255
    )]
    title: String,
    /// Description.
    #[serde(default)]
    #[schema(max_length = 100000)]
    body: String,
    /// State in the tracker (`open`, `fixed`, …).
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$",
        max_length = 32
    )]
    state: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/defects",
    tag = "knowledge",
    summary = "Add a defect",
    request_body = DefectIn,
    responses((status = 201, description = "The defect", body = casework_core::model::Defect), openapi::Problems)
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/defects/{key}",
    tag = "knowledge",
    summary = "Read a defect",
    params(("key" = String, Path, description = "Defect key")),
    responses((status = 200, description = "The defect", body = casework_core::model::Defect), openapi::Problems)
)]
async fn get_defect(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.defect(&a, &key).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportQ {
    /// What to group the closures by (each closure's value at close).
    group_by: ReportGroup,
    /// Only closures from this time on: a date (`2026-01-01`, midnight UTC) or an RFC 3339
    /// time.
    #[param(max_length = 64)]
    from: Option<String>,
    /// Only closures before this time: a date (midnight UTC at its start) or an RFC 3339
    /// time.
    #[param(max_length = 64)]
    to: Option<String>,
}

impl ReportQ {
    fn query(&self) -> Result<ReportQuery, ApiError> {
        let bound = |field: &str, v: &Option<String>| {
            given(v.clone())
                .map(|t| casework_core::report::parse_bound(&t))
                .transpose()
                .map_err(|e| ApiError::invalid(field, format!("{field}: {e}")))
        };
        Ok(ReportQuery {
            group_by: self.group_by,
            from: bound("from", &self.from)?,
            to: bound("to", &self.to)?,
        })
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/reopens",
    tag = "reports",
    summary = "Reopen rates by product area, owner or resolution at close",
    params(ReportQ),
    responses((status = 200, description = "One row per group", body = Vec<casework_core::ports::ReportRow>), openapi::Problems)
)]
async fn reopen_report(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<ReportQ>,
) -> Result<Response, ApiError> {
    let rows = s.service.reopen_report(&a, q.query()?).await?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportCasesQ {
    /// What the report groups by.
    group_by: ReportGroup,
    /// The row's key, as the report gives it (`(none)` for cases without the value).
    #[param(pattern = "\\S", max_length = 255)]
    key: String,
    /// Only closures from this time on: a date (`2026-01-01`) or an RFC 3339 time.
    #[param(max_length = 64)]
    from: Option<String>,
    /// Only closures before this time: a date or an RFC 3339 time.
    #[param(max_length = 64)]
    to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^(c[1-9][0-9]{0,17})?$")]
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/reopens/cases",
    tag = "reports",
    summary = "The cases behind one row of the reopen report, with their reopen reasons (staff only)",
    params(ReportCasesQ),
    responses((status = 200, description = "A page of cases", body = casework_core::ports::Page<casework_core::ports::ReportCase>), openapi::Problems)
)]
async fn reopen_report_cases(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<ReportCasesQ>,
) -> Result<Response, ApiError> {
    let report = ReportQ {
        group_by: q.group_by,
        from: q.from,
        to: q.to,
    }
    .query()?;
    let page = page_request(q.limit, q.cursor.as_deref())?;
    let query = ReportCasesQuery {
        report,
        key: q.key,
        page,
    };
    Ok(Json(s.service.reopen_report_cases(&a, query).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OutboxQ {
    /// Only messages with this status.
    status: Option<OutboxStatus>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/outbox",
    tag = "outbox",
    summary = "Outgoing email and its delivery (staff only)",
    params(OutboxQ),
    responses((status = 200, description = "Messages, oldest first", body = Vec<casework_core::model::OutboxMessage>), openapi::Problems)
)]
async fn outbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<OutboxQ>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.service
            .outbox(&a, q.status, limit(q.limit, DEFAULT_OUTBOX, MAX_OUTBOX)?)
            .await?,
    )
    .into_response())
}

// ---------------------------------------------------------------------------------------
// statuses

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusMapIn {
    /// A status the workflow file no longer has (renamed or removed).
    #[schema(pattern = "\\S", max_length = 64)]
    from: String,
    /// A status of the workflow file, of the same kind (a map never opens or closes a case).
    #[schema(pattern = "\\S", max_length = 64)]
    to: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/statuses/map",
    tag = "statuses",
    summary = "Move every case out of a status the workflow file no longer has (admins)",
    request_body = StatusMapIn,
    responses((status = 200, description = "How many cases moved, and which could not", body = casework_core::service::StatusMapSummary), openapi::Problems)
)]
async fn map_status(
    State(s): State<AppState>,
    Auth(a): Auth,
    Body(b): Body<StatusMapIn>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.map_status(&a, &b.from, &b.to).await?).into_response())
}

#[cfg(test)]
mod tests;
