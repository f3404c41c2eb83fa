//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the types' `ToSchema` derives: served at `/openapi.json` and committed as
//! `docs/openapi.json` (a test fails when the committed file is stale; `cargo xtask openapi`
//! rewrites it).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use casework_core::ids::EmailAddress;
use casework_core::model::OutboxStatus;
use casework_core::workflow::MissingItem;
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, OneOf, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::rules::Rules;

/// An error, as RFC 9457 problem+json.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable summary (`conflict`, `closing checklist does not hold`, …).
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for a person.
    pub detail: String,
    /// For a refused close: every item that does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingItem>>,
    /// For a conflict (412): the case's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// For an invalid request (422): the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For an unknown status (422): the statuses of the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<String>>,
}

/// The errors any API endpoint may answer with.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only a description of responses
pub enum Problems {
    /// Malformed JSON or header.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No token, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The caller's role lacks the permission.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such resource, or a case that is not the customer's.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The workflow refuses (with `missing` for a refused close), or a duplicate.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` is stale (with `current_version`).
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is over the route's limit: 1 MiB for JSON; 40 MiB for a raw inbound
    /// message; the workflow file's `[attachments] max_message_bytes` and 1 MiB of form for
    /// a file upload.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// A field is missing, unknown or invalid (named in `field` where known).
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// `PATCH` without `If-Match`.
    #[response(status = 428, content_type = "application/problem+json")]
    PreconditionRequired(Problem),
    /// The store cannot be reached, the request timed out, or (a write without `If-Match`)
    /// other writes to the case kept getting in first; `Retry-After` says when to try again.
    #[response(
        status = 503,
        content_type = "application/problem+json",
        headers(("Retry-After" = String, description = "Seconds to wait before a retry"))
    )]
    Unavailable(Problem),
}

/// A page of cases.
#[derive(Serialize, ToSchema)]
pub struct CasePage<'a> {
    /// The cases on this page.
    pub items: Vec<casework_core::model::CaseView<'a>>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A history event with its sequence number as `id`.
#[derive(Serialize, ToSchema)]
pub struct EventItem<'a> {
    /// The event's position in the case's history.
    pub id: u64,
    /// The event.
    #[serde(flatten)]
    pub event: &'a casework_core::event::Event,
}

/// A timeline entry with its sequence number as `id`.
#[derive(Serialize, ToSchema)]
pub struct TimelineItem<'a> {
    /// The event's position in the case's history.
    pub id: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: &'a casework_core::model::TimelineEntry,
}

/// A rendered email, not queued.
#[derive(Serialize, ToSchema)]
pub struct EmailPreview<'a> {
    /// Recipient.
    pub to: &'a EmailAddress,
    /// Subject, with the case number.
    pub subject: &'a str,
    /// Plain-text body.
    pub body: &'a str,
}

/// An email queued in the outbox.
#[derive(Serialize, ToSchema)]
pub struct QueuedEmail<'a> {
    /// Outbox message id.
    pub id: &'a str,
    /// Recipient.
    pub to: &'a EmailAddress,
    /// Subject, with the case number.
    pub subject: &'a str,
    /// Plain-text body.
    pub body: &'a str,
    /// Always `queued` here; see the timeline or the outbox for delivery.
    pub status: OutboxStatus,
}

/// `/healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` (with 503) when a background worker of the server is not running.
    pub status: &'static str,
    /// What is wrong, by worker (`delivery`: the email delivery worker).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub problems: std::collections::BTreeMap<String, String>,
}

struct BearerAuth;

/// The operations of a path, whichever methods it has.
pub(crate) fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Operation ids are the handlers' names, and the storage protocol has handlers named like
/// the API's (`add_article`): its operations get a `store_` prefix, so every id is unique.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with(casework_core::protocol::PREFIX) {
                continue;
            }
            for op in operations(item) {
                if let Some(id) = &op.operation_id
                    && !id.starts_with("store_")
                {
                    op.operation_id = Some(format!("store_{id}"));
                }
            }
        }
    }
}

/// Client generators model `allOf` of objects and `oneOf` of objects, not an `allOf` that holds
/// a `oneOf`, which is what `#[serde(flatten)]` of the internally tagged [`EventKind`] makes of
/// `Event`, `EventItem`, `TimelineEntry` and `TimelineItem` (openapi-python-client dropped all
/// four). Such a schema is rewritten as the `oneOf` of its variants, each one object with every
/// property it really has, so the document says the same and a generator makes real types.
/// Every variant of a `oneOf` tagged by `type` gets a title (`EventOpened`, ...), which
/// generators use to name its class.
///
/// [`EventKind`]: casework_core::event::EventKind
struct FlatVariants;

impl Modify for FlatVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let all = components.schemas.clone();
        for (name, schema) in components.schemas.iter_mut() {
            if let RefOr::T(Schema::AllOf(all_of)) = schema
                && let Some(variants) = flatten(&RefOr::T(Schema::AllOf(all_of.clone())), &all)
                && variants.len() > 1
            {
                let mut one_of = OneOf::new();
                one_of.description = all_of.description.clone();
                one_of.items = variants
                    .into_iter()
                    .map(|v| RefOr::T(Schema::Object(v)))
                    .collect();
                *schema = RefOr::T(Schema::OneOf(one_of));
            }
            if let RefOr::T(Schema::OneOf(one_of)) = schema {
                for item in &mut one_of.items {
                    if let RefOr::T(Schema::Object(o)) = item
                        && let Some(tag) = tag_of(o)
                    {
                        o.title = Some(format!("{name}{}", pascal(&tag)));
                    }
                }
            }
        }
    }
}

/// The objects a schema may be, with `allOf` merged and `oneOf` spread; `None` when it is
/// anything else.
fn flatten(schema: &RefOr<Schema>, all: &Schemas) -> Option<Vec<Object>> {
    match schema {
        RefOr::Ref(r) => {
            let name = r.ref_location.rsplit('/').next()?;
            flatten(all.get(name)?, all)
        }
        RefOr::T(Schema::Object(o)) => Some(vec![o.clone()]),
        RefOr::T(Schema::OneOf(one_of)) => {
            let mut out = Vec::new();
            for item in &one_of.items {
                out.extend(flatten(item, all)?);
            }
            Some(out)
        }
        RefOr::T(Schema::AllOf(all_of)) => {
            let mut out = vec![Object::new()];
            for item in &all_of.items {
                let parts = flatten(item, all)?;
                out = out
                    .iter()
                    .flat_map(|left| parts.iter().map(move |right| merge(left, right)))
                    .collect();
            }
            Some(out)
        }
        RefOr::T(_) => None,
    }
}

type Schemas = std::collections::BTreeMap<String, RefOr<Schema>>;

fn merge(left: &Object, right: &Object) -> Object {
    let mut o = left.clone();
    o.schema_type = right.schema_type.clone();
    o.properties
        .extend(right.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
    for r in &right.required {
        if !o.required.contains(r) {
            o.required.push(r.clone());
        }
    }
    if right.description.is_some() {
        o.description = right.description.clone();
    }
    o
}

/// The one value of an object's `type` property, if it is a tag.
fn tag_of(o: &Object) -> Option<String> {
    match o.properties.get("type")? {
        RefOr::T(Schema::Object(t)) => match t.enum_values.as_deref()? {
            [serde_json::Value::String(tag)] => Some(tag.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// `email_queued` as `EmailQueued`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    summary = "This API's OpenAPI 3.1 document",
    security(()),
    responses((status = 200, description = "The document", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOC.get_or_init(document).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Casework API",
        version = "1",
        description = "Support cases as a workflow: opened, owned, worked, closed when the \
                       closing checklist holds, reopened with a reason. Contract: \
                       shared/brief/API.md. Authenticate with `Authorization: Bearer <token>` \
                       (tokens from `casework token create`)."
    ),
    modifiers(&Rules, &BearerAuth, &UniqueOperationIds, &FlatVariants),
    components(schemas(Problem, casework_core::ports::ReportGroup)),
    security(("bearer" = [])),
    paths(
        crate::health::healthz,
        crate::openapi::openapi_json,
        crate::cases::create_case,
        crate::cases::list_cases,
        crate::cases::get_case,
        crate::cases::patch_case,
        crate::case_actions::assign,
        crate::case_actions::transition,
        crate::case_actions::escalate,
        crate::case_actions::close,
        crate::case_actions::reopen,
        crate::case_actions::log_call,
        crate::case_actions::add_post,
        crate::case_actions::contact_attempt,
        crate::emails::preview_email,
        crate::emails::send_email,
        crate::cases::summary_draft,
        crate::cases::closing_check,
        crate::timeline::timeline,
        crate::timeline::history,
        crate::search::similar,
        crate::case_actions::link,
        crate::case_actions::swarm,
        crate::search::search,
        crate::knowledge::add_article,
        crate::knowledge::get_article,
        crate::knowledge::add_defect,
        crate::knowledge::get_defect,
        crate::reports::reopen_report,
        crate::reports::reopen_report_cases,
        crate::outbox::outbox,
        crate::outbox::retry,
        crate::outbox::cancel,
        crate::events::events,
        crate::webhooks::add_webhook,
        crate::webhooks::list_webhooks,
        crate::webhooks::remove_webhook,
        crate::webhooks::deliveries,
        crate::webhooks::redeliver,
        crate::statuses::map_status,
        crate::people::notifications,
        crate::people::set_notifications,
        crate::inbound::inbound_email,
        crate::attachments::upload,
        crate::attachments::list,
        crate::attachments::download,
        crate::store_api::create_case,
        crate::store_api::list_cases,
        crate::store_api::latest_cases,
        crate::store_api::cases_with_message_id,
        crate::store_api::load_case,
        crate::store_api::commit,
        crate::store_api::history,
        crate::store_api::similar,
        crate::store_api::case_outbox,
        crate::store_api::search,
        crate::store_api::reopen_report,
        crate::store_api::reopen_report_cases,
        crate::store_api::list_people,
        crate::store_api::get_person,
        crate::store_api::put_person,
        crate::store_api::add_article,
        crate::store_api::get_article,
        crate::store_api::add_defect,
        crate::store_api::get_defect,
        crate::store_api::outbox_list,
        crate::store_api::feed,
        crate::store_api::webhook_add,
        crate::store_api::webhook_list,
        crate::store_api::webhook_remove,
        crate::store_api::webhook_deliveries,
        crate::store_api::webhook_claim,
        crate::store_api::webhook_finish,
        crate::store_api::webhook_redeliver,
        crate::store_api::outbox_claim,
        crate::store_api::outbox_finish,
        crate::store_api::outbox_bounced,
        crate::store_api::outbox_act,
        crate::store_api::put_token,
        crate::store_api::find_token,
        crate::store_api::list_tokens,
        crate::store_api::revoke_token,
        crate::store_api::stats,
        crate::store_api::quarantine_put,
        crate::store_api::quarantine_list,
        crate::store_api::quarantine_get,
        crate::store_api::quarantine_remove,
        crate::store_api::mailbox_position,
        crate::store_api::advance_mailbox,
        crate::store_api::attachment_list,
        crate::store_api::attachment_get,
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON, with a final newline (as committed), each `{LIMIT_NAME}` of
/// a description replaced by the limit's value ([`crate::rules::fill_limits`]).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    crate::rules::fill_limits(&text)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// Every schema each operation registers, by the name it registers it under: what the
    /// derive collects into `components` (where a second schema of the same name silently
    /// replaces the first). The list must name every operation of [`ApiDoc`].
    fn registered() -> (Vec<(String, RefOr<Schema>)>, usize) {
        let mut schemas = Vec::new();
        macro_rules! each {
            ($($p:path),* $(,)?) => {{
                $( <$p as utoipa::__dev::SchemaReferences>::schemas(&mut schemas); )*
                [$(stringify!($p)),*].len()
            }};
        }
        let listed = each!(
            crate::health::__path_healthz,
            crate::openapi::__path_openapi_json,
            crate::cases::__path_create_case,
            crate::cases::__path_list_cases,
            crate::cases::__path_get_case,
            crate::cases::__path_patch_case,
            crate::case_actions::__path_assign,
            crate::case_actions::__path_transition,
            crate::case_actions::__path_escalate,
            crate::case_actions::__path_close,
            crate::case_actions::__path_reopen,
            crate::case_actions::__path_log_call,
            crate::case_actions::__path_add_post,
            crate::case_actions::__path_contact_attempt,
            crate::emails::__path_preview_email,
            crate::emails::__path_send_email,
            crate::cases::__path_summary_draft,
            crate::cases::__path_closing_check,
            crate::timeline::__path_timeline,
            crate::timeline::__path_history,
            crate::search::__path_similar,
            crate::case_actions::__path_link,
            crate::case_actions::__path_swarm,
            crate::search::__path_search,
            crate::knowledge::__path_add_article,
            crate::knowledge::__path_get_article,
            crate::knowledge::__path_add_defect,
            crate::knowledge::__path_get_defect,
            crate::reports::__path_reopen_report,
            crate::reports::__path_reopen_report_cases,
            crate::outbox::__path_outbox,
            crate::outbox::__path_retry,
            crate::outbox::__path_cancel,
            crate::events::__path_events,
            crate::webhooks::__path_add_webhook,
            crate::webhooks::__path_list_webhooks,
            crate::webhooks::__path_remove_webhook,
            crate::webhooks::__path_deliveries,
            crate::webhooks::__path_redeliver,
            crate::statuses::__path_map_status,
            crate::people::__path_notifications,
            crate::people::__path_set_notifications,
            crate::inbound::__path_inbound_email,
            crate::attachments::__path_upload,
            crate::attachments::__path_list,
            crate::attachments::__path_download,
            crate::store_api::__path_create_case,
            crate::store_api::__path_list_cases,
            crate::store_api::__path_latest_cases,
            crate::store_api::__path_cases_with_message_id,
            crate::store_api::__path_load_case,
            crate::store_api::__path_commit,
            crate::store_api::__path_history,
            crate::store_api::__path_similar,
            crate::store_api::__path_case_outbox,
            crate::store_api::__path_search,
            crate::store_api::__path_reopen_report,
            crate::store_api::__path_reopen_report_cases,
            crate::store_api::__path_list_people,
            crate::store_api::__path_get_person,
            crate::store_api::__path_put_person,
            crate::store_api::__path_add_article,
            crate::store_api::__path_get_article,
            crate::store_api::__path_add_defect,
            crate::store_api::__path_get_defect,
            crate::store_api::__path_outbox_list,
            crate::store_api::__path_feed,
            crate::store_api::__path_outbox_claim,
            crate::store_api::__path_outbox_finish,
            crate::store_api::__path_outbox_bounced,
            crate::store_api::__path_outbox_act,
            crate::store_api::__path_put_token,
            crate::store_api::__path_find_token,
            crate::store_api::__path_list_tokens,
            crate::store_api::__path_revoke_token,
            crate::store_api::__path_stats,
            crate::store_api::__path_quarantine_put,
            crate::store_api::__path_quarantine_list,
            crate::store_api::__path_quarantine_get,
            crate::store_api::__path_quarantine_remove,
            crate::store_api::__path_webhook_add,
            crate::store_api::__path_webhook_list,
            crate::store_api::__path_webhook_remove,
            crate::store_api::__path_webhook_deliveries,
            crate::store_api::__path_webhook_claim,
            crate::store_api::__path_webhook_finish,
            crate::store_api::__path_webhook_redeliver,
            crate::store_api::__path_mailbox_position,
            crate::store_api::__path_advance_mailbox,
            crate::store_api::__path_attachment_list,
            crate::store_api::__path_attachment_get
        );
        <Problem as ToSchema>::schemas(&mut schemas);
        schemas.push((
            <Problem as ToSchema>::name().to_string(),
            <Problem as utoipa::PartialSchema>::schema(),
        ));
        (schemas, listed)
    }

    #[test]
    fn every_schema_name_names_one_schema() {
        // issue #11: two types named CreateCase, so POST /api/v1/cases pointed at the
        // storage protocol's body
        let (schemas, listed) = registered();
        let doc = ApiDoc::openapi();
        let operations: usize = doc
            .paths
            .paths
            .values()
            .map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .iter()
                    .filter(|op| op.is_some())
                    .count()
            })
            .sum();
        assert_eq!(listed, operations, "list every operation of ApiDoc above");
        let mut by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, schema) in schemas {
            let text = serde_json::to_string(&schema).unwrap_or_default();
            by_name.entry(name).or_default().insert(text);
        }
        let clashes: Vec<&String> = by_name
            .iter()
            .filter(|(_, versions)| versions.len() > 1)
            .map(|(name, _)| name)
            .collect();
        assert!(
            clashes.is_empty(),
            "schema names used by two types: {clashes:?}"
        );
        assert!(
            by_name.len() > 50,
            "the collection sees the schemas: {}",
            by_name.len()
        );
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = ApiDoc::openapi();
        let mut seen = BTreeSet::new();
        for item in doc.paths.paths.values() {
            for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(seen.insert(id.clone()), "operation id {id:?} repeats");
            }
        }
        assert!(seen.contains("add_article") && seen.contains("store_add_article"));
    }

    #[test]
    fn no_schema_is_an_all_of_around_a_one_of() {
        let doc = ApiDoc::openapi();
        let all = doc.components.map(|c| c.schemas).unwrap_or_default();
        for name in ["Event", "EventItem", "TimelineEntry", "TimelineItem"] {
            let Some(RefOr::T(Schema::OneOf(one_of))) = all.get(name) else {
                panic!("{name} is not a oneOf of its variants");
            };
            let mut titles = BTreeSet::new();
            for item in &one_of.items {
                let RefOr::T(Schema::Object(o)) = item else {
                    panic!("{name}: a variant is not an object");
                };
                for common in ["case", "seq", "at", "actor", "type"] {
                    assert!(o.required.iter().any(|r| r == common), "{name}: {common}");
                }
                titles.insert(o.title.clone().unwrap_or_default());
            }
            assert_eq!(titles.len(), one_of.items.len(), "{name}: {titles:?}");
            assert!(titles.contains(&format!("{name}EmailQueued")), "{titles:?}");
        }
        let Some(RefOr::T(Schema::OneOf(items))) = all.get("TimelineItem") else {
            return;
        };
        let RefOr::T(Schema::Object(first)) = &items.items[0] else {
            return;
        };
        for p in ["id", "delivery", "title", "customer"] {
            assert!(
                first.properties.contains_key(p),
                "TimelineItemOpened lacks {p}"
            );
        }
    }
}
