//! The storage protocol (`/store/v1`, see `docs/store-protocol.md`): the case-store port
//! over HTTP, for `casework-store-rest` and any other client holding a `service` token. Core
//! decides who may use it (the workflow file's `store` permission, [`CaseService::storage`])
//! and checks every write ([`StoreAccess`]): a principal without `store` is answered 403,
//! and this module only moves calls and errors over the wire.
//!
//! [`CaseService::storage`]: casework_core::CaseService::storage

use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use casework_core::ids::CaseNumber;
use casework_core::model::{ApiToken, Defect, OutboxStatus, Person};
use casework_core::ports::{Commit, ReportCasesQuery, ReportQuery, SearchQuery, StoreError};
use casework_core::protocol::{
    AddArticle, AdvanceMailbox, Claim, CreateCase, ErrorBody, Finish, LatestCases, ListCases,
    MailboxKey, MessageIdCases, Revoke, Similar,
};
use casework_core::service::StoreAccess;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::rules::Accepts::Count;
use crate::rules::Field::{Property, Query};
use crate::rules::Rule;
use crate::{ApiError, AppState, Auth, Body, Params};
use casework_core::ports::QuarantineAfter;

/// The storage protocol's counts, in its bodies and in core's request types (applied to the
/// document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Query("/store/v1/outbox", "limit"), Count),
    Rule(Query("/store/v1/feed", "limit"), Count),
    Rule(Query("/store/v1/quarantine", "limit"), Count),
    Rule(Query("/store/v1/webhooks/{id}/deliveries", "limit"), Count),
    Rule(Property("PageRequest", "limit"), Count),
    Rule(Property("SearchQuery", "limit"), Count),
    Rule(Property("Similar", "limit"), Count),
    Rule(Property("Claim", "limit"), Count),
];

/// The protocol's routes (merged into the API router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/store/v1/cases", post(create_case))
        .route("/store/v1/cases/query", post(list_cases))
        .route("/store/v1/cases/latest", post(latest_cases))
        .route("/store/v1/cases/by-message-id", post(cases_with_message_id))
        .route("/store/v1/cases/{n}", get(load_case))
        .route(
            "/store/v1/cases/{n}/commits",
            post(commit).layer(DefaultBodyLimit::max(
                // a post's files may be as big as a message may carry, in base64
                casework_core::limits::MAX_ATTACHMENT_BYTES / 3 * 4 + 4 + crate::MAX_BODY,
            )),
        )
        .route("/store/v1/cases/{n}/attachments", get(attachment_list))
        .route("/store/v1/attachments/{id}", get(attachment_get))
        .route("/store/v1/cases/{n}/history", get(history))
        .route("/store/v1/cases/{n}/similar", post(similar))
        .route("/store/v1/cases/{n}/outbox", get(case_outbox))
        .route("/store/v1/search", post(search))
        .route("/store/v1/reports/reopens", post(reopen_report))
        .route("/store/v1/reports/reopens/cases", post(reopen_report_cases))
        .route("/store/v1/people", get(list_people))
        .route("/store/v1/people/{name}", get(get_person).put(put_person))
        .route("/store/v1/articles", post(add_article))
        .route("/store/v1/articles/{id}", get(get_article))
        .route("/store/v1/defects", post(add_defect))
        .route("/store/v1/defects/{key}", get(get_defect))
        .route("/store/v1/outbox", get(outbox_list))
        .route("/store/v1/outbox/claims", post(outbox_claim))
        .route("/store/v1/outbox/{id}/finish", post(outbox_finish))
        .route("/store/v1/outbox/{id}/bounced", post(outbox_bounced))
        .route("/store/v1/outbox/{id}/act", post(outbox_act))
        .route("/store/v1/tokens", get(list_tokens).post(put_token))
        .route("/store/v1/tokens/by-hash/{hash}", get(find_token))
        .route("/store/v1/tokens/{id}/revoke", post(revoke_token))
        .route("/store/v1/stats", get(stats))
        .route("/store/v1/feed", get(feed))
        .route(
            "/store/v1/quarantine",
            get(quarantine_list)
                .post(quarantine_put)
                .layer(DefaultBodyLimit::max(
                    // a refused message may be as big as any inbound one, its bytes in base64
                    casework_core::limits::MAX_INBOUND_MESSAGE / 3 * 4 + 4 + crate::MAX_BODY,
                )),
        )
        .route(
            "/store/v1/quarantine/{id}",
            get(quarantine_get).delete(quarantine_remove),
        )
        .route("/store/v1/webhooks", get(webhook_list).post(webhook_add))
        .route("/store/v1/webhooks/{id}/remove", post(webhook_remove))
        .route(
            "/store/v1/webhooks/{id}/deliveries",
            get(webhook_deliveries),
        )
        .route("/store/v1/webhook-deliveries/claims", post(webhook_claim))
        .route(
            "/store/v1/webhook-deliveries/{id}/finish",
            post(webhook_finish),
        )
        .route(
            "/store/v1/webhook-deliveries/{id}/redeliver",
            post(webhook_redeliver),
        )
        .route("/store/v1/mailboxes/position", post(mailbox_position))
        .route("/store/v1/mailboxes/advance", post(advance_mailbox))
}

/// The caller's handle on the store: core gives it to a principal the workflow file grants
/// `store`, and refuses everyone else (403).
struct Storage(StoreAccess);

impl axum::extract::FromRequestParts<AppState> for Storage {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let Auth(actor) = Auth::from_request_parts(parts, state).await?;
        Ok(Storage(state.service.storage(&actor)?))
    }
}

/// A store error as problem+json with the protocol's `kind` (and versions for a conflict).
fn store_error(e: StoreError) -> ApiError {
    let status = match &e {
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Conflict { .. } => StatusCode::PRECONDITION_FAILED,
        StoreError::Duplicate(_) | StoreError::ClaimLost(_) => StatusCode::CONFLICT,
        StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Internal(detail) => {
            tracing::error!(error = %detail, "store failure");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
                "something went wrong on the server; it has been logged",
            )
            .with("kind", json!("internal"));
        }
    };
    let body = ErrorBody::of(&e);
    let mut err = ApiError::new(status, &body.kind.replace('_', " "), body.detail.clone())
        .with("kind", json!(body.kind));
    if let (Some(x), Some(c)) = (body.expected_version, body.current_version) {
        err = err
            .with("expected_version", json!(x))
            .with("current_version", json!(c));
    }
    err
}

type Answer = Result<Response, ApiError>;

fn ok<T: Serialize>(value: T) -> Answer {
    Ok(Json(value).into_response())
}

fn created<T: Serialize>(value: T) -> Answer {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

fn case_number(raw: &str) -> Result<CaseNumber, ApiError> {
    raw.parse()
        .map_err(|_| store_error(StoreError::NotFound(format!("case {raw}"))))
}

#[utoipa::path(
    post,
    path = "/store/v1/cases",
    tag = "store",
    summary = "Open a case (at most once per key when `once` is given)",
    request_body = casework_core::protocol::CreateCase,
    responses((status = 201, description = "The case", body = casework_core::protocol::CreatedCase), crate::openapi::Problems)
)]
async fn create_case(Storage(s): Storage, Body(b): Body<CreateCase>) -> Answer {
    created(s.create_case(b).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/cases/{n}",
    tag = "store",
    summary = "Load a case",
    params(("n" = String, Path, description = "Case number")),
    responses((status = 200, description = "The case", body = casework_core::model::Case), crate::openapi::Problems)
)]
async fn load_case(Storage(s): Storage, Path(n): Path<String>) -> Answer {
    ok(s.load_case(case_number(&n)?).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/cases/{n}/commits",
    tag = "store",
    summary = "Append events with an expected version; the server computes and stores the state",
    params(("n" = String, Path, description = "Case number")),
    request_body = casework_core::ports::Commit,
    responses((status = 200, description = "The case as stored", body = casework_core::model::Case), crate::openapi::Problems)
)]
async fn commit(Storage(s): Storage, Path(n): Path<String>, Body(c): Body<Commit>) -> Answer {
    ok(s.commit(case_number(&n)?, c).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/cases/query",
    tag = "store",
    summary = "A page of cases",
    request_body = casework_core::protocol::ListCases,
    responses((status = 200, description = "The page", body = casework_core::ports::Page<casework_core::model::Case>), crate::openapi::Problems)
)]
async fn list_cases(Storage(s): Storage, Body(b): Body<ListCases>) -> Answer {
    ok(s.list_cases(b).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/cases/latest",
    tag = "store",
    summary = "A customer's latest cases, newest first",
    request_body = casework_core::protocol::LatestCases,
    responses((status = 200, description = "The cases", body = Vec<casework_core::model::Case>), crate::openapi::Problems)
)]
async fn latest_cases(Storage(s): Storage, Body(b): Body<LatestCases>) -> Answer {
    ok(s.latest_cases_of(b).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/cases/by-message-id",
    tag = "store",
    summary = "The cases that received or sent a Message-ID, newest first",
    request_body = casework_core::protocol::MessageIdCases,
    responses((status = 200, description = "The case numbers", body = Vec<u64>), crate::openapi::Problems)
)]
async fn cases_with_message_id(Storage(s): Storage, Body(b): Body<MessageIdCases>) -> Answer {
    ok(s.cases_with_message_id(b).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/cases/{n}/history",
    tag = "store",
    summary = "Every event of a case",
    params(("n" = String, Path, description = "Case number")),
    responses((status = 200, description = "The events", body = Vec<casework_core::event::Event>), crate::openapi::Problems)
)]
async fn history(Storage(s): Storage, Path(n): Path<String>) -> Answer {
    ok(s.history(case_number(&n)?).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/cases/{n}/similar",
    tag = "store",
    summary = "Similar cases, articles and defects",
    params(("n" = String, Path, description = "Case number")),
    request_body = casework_core::protocol::Similar,
    responses((status = 200, description = "Ranked hits", body = Vec<casework_core::ports::SearchHit>), crate::openapi::Problems)
)]
async fn similar(Storage(s): Storage, Path(n): Path<String>, Body(b): Body<Similar>) -> Answer {
    ok(s.similar(case_number(&n)?, b).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/cases/{n}/outbox",
    tag = "store",
    summary = "A case's outbox messages",
    params(("n" = String, Path, description = "Case number")),
    responses((status = 200, description = "Messages, oldest first", body = Vec<casework_core::model::OutboxMessage>), crate::openapi::Problems)
)]
async fn case_outbox(Storage(s): Storage, Path(n): Path<String>) -> Answer {
    ok(s.outbox_for_case(case_number(&n)?)
        .await
        .map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/search",
    tag = "store",
    summary = "Full-text search",
    request_body = casework_core::ports::SearchQuery,
    responses((status = 200, description = "Ranked hits", body = Vec<casework_core::ports::SearchHit>), crate::openapi::Problems)
)]
async fn search(Storage(s): Storage, Body(q): Body<SearchQuery>) -> Answer {
    ok(s.search(q).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/reports/reopens",
    tag = "store",
    summary = "The reopen report",
    request_body = casework_core::ports::ReportQuery,
    responses((status = 200, description = "Rows", body = Vec<casework_core::ports::ReportRow>), crate::openapi::Problems)
)]
async fn reopen_report(Storage(s): Storage, Body(q): Body<ReportQuery>) -> Answer {
    ok(s.reopen_report(q).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/reports/reopens/cases",
    tag = "store",
    summary = "The cases behind one row of the reopen report",
    request_body = casework_core::ports::ReportCasesQuery,
    responses((status = 200, description = "A page of cases", body = casework_core::ports::Page<casework_core::ports::ReportCase>), crate::openapi::Problems)
)]
async fn reopen_report_cases(Storage(s): Storage, Body(q): Body<ReportCasesQuery>) -> Answer {
    ok(s.reopen_report_cases(q).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/people",
    tag = "store",
    summary = "Everyone, by name",
    responses((status = 200, description = "People", body = Vec<casework_core::model::Person>), crate::openapi::Problems)
)]
async fn list_people(Storage(s): Storage) -> Answer {
    ok(s.list_people().await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/people/{name}",
    tag = "store",
    summary = "A person",
    params(("name" = String, Path, description = "The person's name")),
    responses((status = 200, description = "The person", body = casework_core::model::Person), crate::openapi::Problems)
)]
async fn get_person(Storage(s): Storage, Path(name): Path<String>) -> Answer {
    ok(s.get_person(name).await.map_err(store_error)?)
}

#[utoipa::path(
    put,
    path = "/store/v1/people/{name}",
    tag = "store",
    summary = "Add or replace a person",
    params(("name" = String, Path, description = "The person's name")),
    request_body = casework_core::model::Person,
    responses((status = 204, description = "Stored"), crate::openapi::Problems)
)]
async fn put_person(
    Storage(s): Storage,
    Path(name): Path<String>,
    Body(p): Body<Person>,
) -> Answer {
    s.put_person(&name, p).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post,
    path = "/store/v1/articles",
    tag = "store",
    summary = "Add an article",
    request_body = casework_core::protocol::AddArticle,
    responses((status = 201, description = "The article", body = casework_core::model::Article), crate::openapi::Problems)
)]
async fn add_article(Storage(s): Storage, Body(b): Body<AddArticle>) -> Answer {
    created(s.add_article(b).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/articles/{id}",
    tag = "store",
    summary = "An article",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, description = "The article", body = casework_core::model::Article), crate::openapi::Problems)
)]
async fn get_article(Storage(s): Storage, Path(id): Path<String>) -> Answer {
    let id: u64 = id
        .parse()
        .map_err(|_| store_error(StoreError::NotFound(format!("article {id}"))))?;
    ok(s.get_article(id).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/defects",
    tag = "store",
    summary = "Add a defect",
    request_body = casework_core::model::Defect,
    responses((status = 201, description = "The defect", body = casework_core::model::Defect), crate::openapi::Problems)
)]
async fn add_defect(Storage(s): Storage, Body(d): Body<Defect>) -> Answer {
    created(s.add_defect(d).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/defects/{key}",
    tag = "store",
    summary = "A defect",
    params(("key" = String, Path, description = "Defect key")),
    responses((status = 200, description = "The defect", body = casework_core::model::Defect), crate::openapi::Problems)
)]
async fn get_defect(Storage(s): Storage, Path(key): Path<String>) -> Answer {
    ok(s.get_defect(key).await.map_err(store_error)?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    /// Only messages with this status.
    status: Option<OutboxStatus>,
    /// At most this many.
    #[param(value_type = u64)]
    limit: u32,
}

#[utoipa::path(
    get,
    path = "/store/v1/outbox",
    tag = "store",
    summary = "Outbox messages, oldest first",
    params(OutboxQuery),
    responses((status = 200, description = "Messages", body = Vec<casework_core::model::OutboxMessage>), crate::openapi::Problems)
)]
async fn outbox_list(Storage(s): Storage, Params(q): Params<OutboxQuery>) -> Answer {
    ok(s.outbox_list(q.status, q.limit)
        .await
        .map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/outbox/claims",
    tag = "store",
    summary = "Claim due messages for a worker until a deadline",
    request_body = casework_core::protocol::Claim,
    responses((status = 200, description = "The claimed messages", body = Vec<casework_core::model::OutboxMessage>), crate::openapi::Problems)
)]
async fn outbox_claim(Storage(s): Storage, Body(c): Body<Claim>) -> Answer {
    ok(s.outbox_claim(c).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/outbox/{id}/finish",
    tag = "store",
    summary = "Record a delivery attempt and release the claim",
    params(("id" = String, Path, description = "Message id")),
    request_body = casework_core::protocol::Finish,
    responses((status = 200, description = "The message", body = casework_core::model::OutboxMessage), crate::openapi::Problems)
)]
async fn outbox_finish(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(f): Body<Finish>,
) -> Answer {
    ok(s.outbox_finish(id, f).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/outbox/{id}/bounced",
    tag = "store",
    summary = "Mark a message failed because a bounce came back for it",
    params(("id" = String, Path, description = "Message id")),
    request_body = casework_core::protocol::Bounced,
    responses((status = 200, description = "The message", body = casework_core::model::OutboxMessage), crate::openapi::Problems)
)]
async fn outbox_bounced(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(b): Body<casework_core::protocol::Bounced>,
) -> Answer {
    ok(s.outbox_bounced(id, b).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/outbox/{id}/act",
    tag = "store",
    summary = "Retry or cancel a message, when the action applies to it",
    params(("id" = String, Path, description = "Message id")),
    request_body = casework_core::protocol::Act,
    responses((status = 200, description = "The message", body = casework_core::model::OutboxMessage), crate::openapi::Problems)
)]
async fn outbox_act(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(a): Body<casework_core::protocol::Act>,
) -> Answer {
    ok(s.outbox_act(id, a).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/tokens",
    tag = "store",
    summary = "Store a token (hashed)",
    request_body = casework_core::model::ApiToken,
    responses((status = 204, description = "Stored"), crate::openapi::Problems)
)]
async fn put_token(Storage(s): Storage, Body(t): Body<ApiToken>) -> Answer {
    s.put_token(t).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/store/v1/tokens/by-hash/{hash}",
    tag = "store",
    summary = "A token by the SHA-256 of its secret",
    params(("hash" = String, Path, description = "Hex SHA-256 of the secret")),
    responses((status = 200, description = "The token", body = casework_core::model::ApiToken), crate::openapi::Problems)
)]
async fn find_token(Storage(s): Storage, Path(hash): Path<String>) -> Answer {
    ok(s.find_token(hash).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/tokens",
    tag = "store",
    summary = "Every token, oldest first",
    responses((status = 200, description = "Tokens", body = Vec<casework_core::model::ApiToken>), crate::openapi::Problems)
)]
async fn list_tokens(Storage(s): Storage) -> Answer {
    ok(s.list_tokens().await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/tokens/{id}/revoke",
    tag = "store",
    summary = "Revoke a token",
    params(("id" = String, Path, description = "Token id")),
    request_body = casework_core::protocol::Revoke,
    responses((status = 200, description = "The token", body = casework_core::model::ApiToken), crate::openapi::Problems)
)]
async fn revoke_token(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(r): Body<Revoke>,
) -> Answer {
    ok(s.revoke_token(id, r).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/stats",
    tag = "store",
    summary = "Counts, for diagnostics",
    responses((status = 200, description = "Counts", body = casework_core::ports::StoreStats), crate::openapi::Problems)
)]
async fn stats(Storage(s): Storage) -> Answer {
    ok(s.stats().await.map_err(store_error)?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    /// Events after this position (0: from the start).
    #[param(value_type = u64)]
    after: u64,
    /// At most this many.
    #[param(value_type = u64)]
    limit: u32,
    /// Only the events of this customer's cases.
    #[param(value_type = Option<String>)]
    customer: Option<casework_core::ids::EmailAddress>,
}

#[utoipa::path(
    get,
    path = "/store/v1/feed",
    tag = "store",
    summary = "Committed events after a position, in commit order",
    params(FeedQuery),
    responses((status = 200, description = "Events with their positions", body = Vec<casework_core::ports::FeedEntry>), crate::openapi::Problems)
)]
async fn feed(Storage(s): Storage, Params(q): Params<FeedQuery>) -> Answer {
    ok(s.feed(q.after, q.limit, q.customer)
        .await
        .map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/webhooks",
    tag = "store",
    summary = "Register a webhook endpoint",
    request_body = casework_core::webhook::WebhookEndpoint,
    responses((status = 204, description = "Stored"), crate::openapi::Problems)
)]
async fn webhook_add(
    Storage(s): Storage,
    Body(e): Body<casework_core::webhook::WebhookEndpoint>,
) -> Answer {
    s.webhook_add(e).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/store/v1/webhooks",
    tag = "store",
    summary = "Every webhook endpoint, oldest first",
    responses((status = 200, description = "Endpoints, secrets included", body = Vec<casework_core::webhook::WebhookEndpoint>), crate::openapi::Problems)
)]
async fn webhook_list(Storage(s): Storage) -> Answer {
    ok(s.webhook_list().await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/webhooks/{id}/remove",
    tag = "store",
    summary = "Remove a webhook endpoint (once; safe to repeat)",
    params(("id" = String, Path, description = "Endpoint id")),
    request_body = casework_core::protocol::Revoke,
    responses((status = 200, description = "The endpoint", body = casework_core::webhook::WebhookEndpoint), crate::openapi::Problems)
)]
async fn webhook_remove(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(r): Body<Revoke>,
) -> Answer {
    ok(s.webhook_remove(id, r).await.map_err(store_error)?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    /// At most this many.
    #[param(value_type = u64)]
    limit: u32,
}

#[utoipa::path(
    get,
    path = "/store/v1/webhooks/{id}/deliveries",
    tag = "store",
    summary = "An endpoint's deliveries, newest first",
    params(("id" = String, Path, description = "Endpoint id"), DeliveriesQuery),
    responses((status = 200, description = "Deliveries", body = Vec<casework_core::webhook::WebhookDelivery>), crate::openapi::Problems)
)]
async fn webhook_deliveries(
    Storage(s): Storage,
    Path(id): Path<String>,
    Params(q): Params<DeliveriesQuery>,
) -> Answer {
    ok(s.webhook_deliveries(id, q.limit)
        .await
        .map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/webhook-deliveries/claims",
    tag = "store",
    summary = "Claim due webhook deliveries for a worker until a deadline",
    request_body = casework_core::protocol::Claim,
    responses((status = 200, description = "The claimed deliveries", body = Vec<casework_core::webhook::WebhookDelivery>), crate::openapi::Problems)
)]
async fn webhook_claim(Storage(s): Storage, Body(c): Body<Claim>) -> Answer {
    ok(s.webhook_claim(c).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/webhook-deliveries/{id}/finish",
    tag = "store",
    summary = "Record a webhook attempt and release the claim",
    params(("id" = String, Path, description = "Delivery id")),
    request_body = casework_core::protocol::WebhookFinish,
    responses((status = 200, description = "The delivery", body = casework_core::webhook::WebhookDelivery), crate::openapi::Problems)
)]
async fn webhook_finish(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(f): Body<casework_core::protocol::WebhookFinish>,
) -> Answer {
    ok(s.webhook_finish(id, f).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/webhook-deliveries/{id}/redeliver",
    tag = "store",
    summary = "Queue a webhook delivery again, due at the given time",
    params(("id" = String, Path, description = "Delivery id")),
    request_body = casework_core::protocol::Revoke,
    responses((status = 200, description = "The delivery", body = casework_core::webhook::WebhookDelivery), crate::openapi::Problems)
)]
async fn webhook_redeliver(
    Storage(s): Storage,
    Path(id): Path<String>,
    Body(r): Body<Revoke>,
) -> Answer {
    ok(s.webhook_redeliver(id, r).await.map_err(store_error)?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct QuarantineQuery {
    /// At most this many.
    #[param(value_type = u64)]
    limit: u32,
    /// Go on after the entry received at this time (RFC 3339), with `after_id`.
    #[param(value_type = Option<String>, format = DateTime)]
    after_at: Option<jiff::Timestamp>,
    /// Go on after the entry with this id, with `after_at`.
    after_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/store/v1/quarantine",
    tag = "store",
    summary = "Keep a refused inbound message",
    request_body = casework_core::ports::QuarantinedMessage,
    responses((status = 204, description = "Kept"), crate::openapi::Problems)
)]
async fn quarantine_put(
    Storage(s): Storage,
    Body(m): Body<casework_core::ports::QuarantinedMessage>,
) -> Answer {
    s.quarantine_put(m).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/store/v1/quarantine",
    tag = "store",
    summary = "Refused inbound messages, oldest first",
    params(QuarantineQuery),
    responses((status = 200, description = "Messages", body = Vec<casework_core::ports::QuarantineEntry>), crate::openapi::Problems)
)]
async fn quarantine_list(Storage(s): Storage, Params(q): Params<QuarantineQuery>) -> Answer {
    let after = match (q.after_at, q.after_id) {
        (Some(received_at), Some(id)) => Some(QuarantineAfter { received_at, id }),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "after_at",
                "`after_at` and `after_id` go together: the last listed entry's time and id",
            ));
        }
    };
    ok(s.quarantine_list(after, q.limit)
        .await
        .map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/quarantine/{id}",
    tag = "store",
    summary = "One refused inbound message",
    params(("id" = String, Path, description = "Quarantine id")),
    responses((status = 200, description = "The message", body = casework_core::ports::QuarantinedMessage), crate::openapi::Problems)
)]
async fn quarantine_get(Storage(s): Storage, Path(id): Path<String>) -> Answer {
    ok(s.quarantine_get(id).await.map_err(store_error)?)
}

#[utoipa::path(
    delete,
    path = "/store/v1/quarantine/{id}",
    tag = "store",
    summary = "Remove a refused inbound message",
    params(("id" = String, Path, description = "Quarantine id")),
    responses((status = 204, description = "Removed"), crate::openapi::Problems)
)]
async fn quarantine_remove(Storage(s): Storage, Path(id): Path<String>) -> Answer {
    s.quarantine_remove(id).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post,
    path = "/store/v1/mailboxes/position",
    tag = "store",
    summary = "How far an IMAP mailbox has been read (null when never)",
    request_body = casework_core::protocol::MailboxKey,
    responses((status = 200, description = "The saved position, or null", body = Option<casework_core::ports::MailboxPosition>), crate::openapi::Problems)
)]
async fn mailbox_position(Storage(s): Storage, Body(b): Body<MailboxKey>) -> Answer {
    ok(s.mailbox_position(b).await.map_err(store_error)?)
}

#[utoipa::path(
    post,
    path = "/store/v1/mailboxes/advance",
    tag = "store",
    summary = "Save how far an IMAP mailbox has been read (never back under one UIDVALIDITY)",
    request_body = casework_core::protocol::AdvanceMailbox,
    responses((status = 200, description = "The position saved", body = casework_core::ports::MailboxPosition), crate::openapi::Problems)
)]
async fn advance_mailbox(Storage(s): Storage, Body(b): Body<AdvanceMailbox>) -> Answer {
    ok(s.advance_mailbox_position(b).await.map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/cases/{n}/attachments",
    tag = "store",
    summary = "A case's attached files without their bytes, in entry order",
    params(("n" = String, Path, description = "Case number")),
    responses((status = 200, description = "The files", body = Vec<casework_core::ports::AttachmentInfo>), crate::openapi::Problems)
)]
async fn attachment_list(Storage(s): Storage, Path(n): Path<String>) -> Answer {
    ok(s.attachment_list(case_number(&n)?)
        .await
        .map_err(store_error)?)
}

#[utoipa::path(
    get,
    path = "/store/v1/attachments/{id}",
    tag = "store",
    summary = "One attached file with its bytes (standard base64)",
    params(("id" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "The file", body = casework_core::ports::AttachmentFile), crate::openapi::Problems)
)]
async fn attachment_get(Storage(s): Storage, Path(id): Path<String>) -> Answer {
    ok(s.attachment_get(id).await.map_err(store_error)?)
}
