//! The contract: the OpenAPI document lists exactly the routes of API.md and the storage
//! protocol, serves them all, is the committed one, and what the API fuzzer found stays fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use super::*;

/// Every route of the contract (`shared/brief/API.md`), as the document must list it.
pub(crate) const CONTRACT: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{n}"),
    ("patch", "/api/v1/cases/{n}"),
    ("post", "/api/v1/cases/{n}/assign"),
    ("post", "/api/v1/cases/{n}/transition"),
    ("post", "/api/v1/cases/{n}/escalate"),
    ("post", "/api/v1/cases/{n}/close"),
    ("post", "/api/v1/cases/{n}/reopen"),
    ("post", "/api/v1/cases/{n}/calls"),
    ("post", "/api/v1/cases/{n}/posts"),
    ("post", "/api/v1/cases/{n}/contact-attempts"),
    ("post", "/api/v1/cases/{n}/emails/preview"),
    ("post", "/api/v1/cases/{n}/emails"),
    ("get", "/api/v1/cases/{n}/summary-draft"),
    ("get", "/api/v1/cases/{n}/closing-check"),
    ("get", "/api/v1/cases/{n}/timeline"),
    ("get", "/api/v1/cases/{n}/history"),
    ("get", "/api/v1/cases/{n}/similar"),
    ("post", "/api/v1/cases/{n}/links"),
    ("post", "/api/v1/cases/{n}/swarm"),
    ("get", "/api/v1/search"),
    ("post", "/api/v1/articles"),
    ("get", "/api/v1/articles/{id}"),
    ("post", "/api/v1/defects"),
    ("get", "/api/v1/defects/{key}"),
    ("get", "/api/v1/reports/reopens"),
    ("get", "/api/v1/reports/reopens/cases"),
    ("get", "/api/v1/outbox"),
    ("post", "/api/v1/outbox/{id}/retry"),
    ("post", "/api/v1/outbox/{id}/cancel"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("get", "/api/v1/webhooks/{id}/deliveries"),
    (
        "post",
        "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
    ),
    ("post", "/api/v1/statuses/map"),
    ("get", "/api/v1/people/{name}/notifications"),
    ("put", "/api/v1/people/{name}/notifications"),
    ("post", "/api/v1/inbound/email"),
    ("post", "/api/v1/cases/{n}/attachments"),
    ("get", "/api/v1/cases/{n}/attachments"),
    ("get", "/api/v1/cases/{n}/attachments/{id}"),
];

/// The storage protocol's routes (`docs/store-protocol.md`), service tokens only.
pub(crate) const STORE_PROTOCOL: &[(&str, &str)] = &[
    ("post", "/store/v1/cases"),
    ("post", "/store/v1/cases/query"),
    ("post", "/store/v1/cases/latest"),
    ("post", "/store/v1/cases/by-message-id"),
    ("post", "/store/v1/mailboxes/position"),
    ("post", "/store/v1/mailboxes/advance"),
    ("get", "/store/v1/cases/{n}/attachments"),
    ("get", "/store/v1/attachments/{id}"),
    ("get", "/store/v1/cases/{n}"),
    ("post", "/store/v1/cases/{n}/commits"),
    ("get", "/store/v1/cases/{n}/history"),
    ("post", "/store/v1/cases/{n}/similar"),
    ("get", "/store/v1/cases/{n}/outbox"),
    ("post", "/store/v1/search"),
    ("post", "/store/v1/reports/reopens"),
    ("post", "/store/v1/reports/reopens/cases"),
    ("get", "/store/v1/people"),
    ("get", "/store/v1/people/{name}"),
    ("put", "/store/v1/people/{name}"),
    ("post", "/store/v1/articles"),
    ("get", "/store/v1/articles/{id}"),
    ("post", "/store/v1/defects"),
    ("get", "/store/v1/defects/{key}"),
    ("get", "/store/v1/outbox"),
    ("post", "/store/v1/outbox/claims"),
    ("post", "/store/v1/outbox/{id}/finish"),
    ("post", "/store/v1/outbox/{id}/bounced"),
    ("post", "/store/v1/outbox/{id}/act"),
    ("get", "/store/v1/tokens"),
    ("post", "/store/v1/tokens"),
    ("get", "/store/v1/tokens/by-hash/{hash}"),
    ("post", "/store/v1/tokens/{id}/revoke"),
    ("get", "/store/v1/stats"),
    ("get", "/store/v1/feed"),
    ("get", "/store/v1/quarantine"),
    ("post", "/store/v1/quarantine"),
    ("get", "/store/v1/quarantine/{id}"),
    ("delete", "/store/v1/quarantine/{id}"),
    ("get", "/store/v1/webhooks"),
    ("post", "/store/v1/webhooks"),
    ("post", "/store/v1/webhooks/{id}/remove"),
    ("get", "/store/v1/webhooks/{id}/deliveries"),
    ("post", "/store/v1/webhook-deliveries/claims"),
    ("post", "/store/v1/webhook-deliveries/{id}/finish"),
    ("post", "/store/v1/webhook-deliveries/{id}/redeliver"),
];

pub(crate) fn all_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    CONTRACT.iter().chain(STORE_PROTOCOL)
}

#[test]
pub(crate) fn the_document_lists_exactly_the_contracts_routes() {
    let doc: Value = serde_json::from_str(&crate::openapi::document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.push((method.clone(), path.clone()));
        }
    }
    listed.sort();
    let mut expected: Vec<(String, String)> = all_routes()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    // every operation but the two public ones needs the bearer token and documents 401
    for (method, path) in all_routes() {
        let op = &doc["paths"][path][method];
        let public = ["/healthz", "/openapi.json"].contains(path);
        assert_eq!(op["security"] == json!([{}]), public, "{method} {path}");
        assert_eq!(
            op["responses"]["401"].is_object(),
            !public,
            "{method} {path}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // limits in the document are the service's, written as literals in the attributes
    let maximum = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .map(|p| p["schema"]["maximum"].as_u64().unwrap())
            .unwrap()
    };
    let hits = u64::from(casework_core::limits::MAX_HITS);
    assert_eq!(maximum("/api/v1/search"), hits);
    assert_eq!(maximum("/api/v1/cases/{n}/similar"), hits);
    let outbox = u64::from(casework_core::limits::MAX_OUTBOX);
    assert_eq!(maximum("/api/v1/outbox"), outbox);
}

#[tokio::test]
pub(crate) async fn every_documented_route_is_served() {
    for (name, app) in stores().await {
        for (method, path) in all_routes() {
            let uri = path
                .replace("{n}", "1")
                .replace("{id}", "1")
                .replace("{key}", "BUG-1")
                .replace("{name}", "root")
                .replace("{hash}", "00");
            let r = call(&app, &method.to_uppercase(), &uri, Some(ADMIN), None, &[]).await;
            assert_ne!(
                r.body["detail"], "no such resource",
                "{name}: {method} {uri} is documented but not routed"
            );
            if path.starts_with("/store/") {
                is_problem(&r, StatusCode::FORBIDDEN); // an admin is not a service
            }
        }
    }
}

#[tokio::test]
pub(crate) async fn the_served_document_is_the_committed_one() {
    let committed = include_str!("../../../../docs/openapi.json");
    let generated = crate::openapi::document();
    assert!(
        generated == committed,
        "docs/openapi.json is stale: run `cargo xtask openapi` and commit it"
    );
    for (_, app) in stores().await {
        let req = Request::get("/openapi.json")
            .body(HttpBody::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(res.into_body(), 4 * 1024 * 1024)
            .await
            .unwrap();
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), committed);
    }
}

/// What `cargo xtask fuzz-api` (schemathesis) found, kept fixed: each was a 500, a schema
/// that did not match what the server does, or a status the contract does not give.
#[tokio::test]
pub(crate) async fn what_the_api_fuzzer_found_stays_fixed() {
    for (name, app) in stores().await {
        let c = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        assert_eq!(c.status, StatusCode::CREATED, "{name}");
        let n = c.body["number"].as_u64().unwrap();
        let case = |rest: &str| format!("/api/v1/cases/{n}{rest}");

        // the summary draft is not an email: was a 500 from the preview
        let r = call(
            &app,
            "POST",
            &case("/emails/preview"),
            Some(AGENT),
            Some(json!({"template": "case_summary"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        // preview checks lengths as sending does
        let long = "x".repeat(100_001);
        let r = call(
            &app,
            "POST",
            &case("/emails/preview"),
            Some(AGENT),
            Some(json!({"template": "initial_contact", "next_steps": long})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "next_steps", "{name}");

        // blank filters are absent filters; limits are checked, and named
        let r = call(
            &app,
            "GET",
            "/api/v1/cases?status=&owner=&product_area=&q=",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        let r = call(&app, "GET", "/api/v1/cases?limit=0", Some(AGENT), None, &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "limit");
        for uri in [
            "/api/v1/outbox?limit=2147483648",
            "/api/v1/search?q=x&limit=0",
            &case("/similar?limit=101"),
        ] {
            let r = call(&app, "GET", uri, Some(AGENT), None, &[]).await;
            is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(r.body["field"], "limit", "{uri}");
        }

        // a whole number is a whole number, 25.0 included
        let call_body = |minutes: Value| json!({"direction": "inbound", "duration_minutes": minutes, "notes": "n"});
        let r = call(
            &app,
            "POST",
            &case("/calls"),
            Some(AGENT),
            Some(call_body(json!(25.0))),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
        assert_eq!(r.body["duration_minutes"], 25);
        let r = call(
            &app,
            "POST",
            &case("/calls"),
            Some(AGENT),
            Some(call_body(json!(25.5))),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);

        // a reopen reason is only written by reopen
        let r = call(
            &app,
            "POST",
            &case("/posts"),
            Some(AGENT),
            Some(json!({"kind": "reopen_reason", "body": "b"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);

        // escalating an escalated case is a workflow refusal (409), not a bad request
        let r = call(
            &app,
            "POST",
            &case("/escalate"),
            Some(LEAD),
            Some(json!({"reason": "VIP"})),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
        let r = call(
            &app,
            "POST",
            &case("/escalate"),
            Some(LEAD),
            Some(json!({"reason": "VIP"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);

        // a taken defect key is a conflict; a length counts what was sent, spaces included
        let defect = |key: &str| json!({"key": key, "title": "t", "state": "open"});
        let r = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(defect("BUG-7")),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}");
        let r = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(defect("BUG-7")),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);
        let padded = format!("BUG-8{}", " ".repeat(60));
        let r = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(defect(&padded)),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

/// Every `maxLength`, `maximum` and `maxItems` of the served document, by where it is.
fn constraints(v: &Value, at: String, out: &mut Vec<(String, String, u64)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let here = format!("{at}/{k}");
                match (k.as_str(), x.as_u64()) {
                    ("maxLength" | "maximum" | "maxItems", Some(n)) => {
                        out.push((at.clone(), k.clone(), n));
                    }
                    _ => constraints(x, here, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                // a parameter is found by its name, not its position
                let key = x["name"].as_str().map_or(i.to_string(), str::to_string);
                constraints(x, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_limit_the_document_states_is_one_of_cores_limits() {
    // issue #12: the attributes held literals (64, 255, 100000 …) that could drift from
    // what core checks; now each comes from casework_core::limits through crate::rules
    let text = crate::openapi::document();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut found = Vec::new();
    constraints(&doc, String::new(), &mut found);
    assert!(
        found.len() > 60,
        "the walk sees the constraints: {}",
        found.len()
    );
    let values: Vec<u64> = casework_core::limits::ALL.iter().map(|(_, v)| *v).collect();
    // where each rule writes, in the walk's terms
    let targets: Vec<String> = crate::rules::all()
        .map(|crate::rules::Rule(field, _)| match field {
            crate::rules::Field::Property(schema, p) => {
                format!("/components/schemas/{schema}/properties/{p}")
            }
            crate::rules::Field::Query(path, name) => {
                format!("/paths/{path}/get/parameters/{name}/schema")
            }
            crate::rules::Field::Header(name) => format!("/parameters/{name}/schema"),
        })
        .collect();
    // core's own schemas, written in code from the same limits
    let core_owned = [
        "/components/schemas/EmailAddress",
        "/components/schemas/CaseNumber",
    ];
    for (at, keyword, n) in &found {
        assert!(
            values.contains(n),
            "{at}: {keyword} {n} is not a limit of casework_core::limits"
        );
        let from_a_rule = targets.iter().any(|t| at.ends_with(t.as_str()))
            || core_owned.iter().any(|c| at.starts_with(c));
        assert!(
            from_a_rule,
            "{at}: {keyword} {n} comes from no rule: state it in the module's RULES"
        );
    }
    // and every rule found its field
    let mut fresh = <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi();
    assert_eq!(crate::rules::Rules::unapplied(&mut fresh), Vec::new());
    // descriptions quote limits by name; none is left unfilled
    let unfilled: Vec<&str> = text
        .match_indices('{')
        .map(|(i, _)| &text[i..text[i..].find('}').map_or(i, |j| i + j + 1)])
        .filter(|s| {
            s.len() > 2
                && s[1..s.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .collect();
    assert!(unfilled.is_empty(), "{unfilled:?}");
    let max_query = casework_core::limits::MAX_QUERY;
    assert!(
        text.contains(&format!("At most {max_query}")),
        "a quoted limit is filled"
    );
}
