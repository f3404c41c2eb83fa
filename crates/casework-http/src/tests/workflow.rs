//! Cases through the API: visibility, optimistic writes, bad bodies, the seed workflow and
//! what a customer sees of it, pages, idempotent creates, emails, closes, reports, statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn authentication_and_case_visibility() {
    for (name, app) in stores().await {
        let r = call(&app, "GET", "/healthz", None, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        let r = call(&app, "GET", "/api/v1/cases", None, None, &[]).await;
        is_problem(&r, StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
        is_problem(
            &call(&app, "GET", "/api/v1/cases", Some("cw_nope"), None, &[]).await,
            StatusCode::UNAUTHORIZED,
        );

        let created = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{name}: {}",
            created.body
        );
        assert_eq!(created.headers[header::LOCATION], "/api/v1/cases/1");
        assert_eq!(created.headers[header::ETAG], "\"1\"");
        assert_eq!(created.body["number"], 1);
        assert_eq!(created.body["display_number"], "00000001");
        assert_eq!(created.body["priority"], "medium", "the default priority");

        // the customer sees their case; another customer gets the same 404 as a missing case
        let mine = call(
            &app,
            "GET",
            "/api/v1/cases/00000001",
            Some(JORDAN),
            None,
            &[],
        )
        .await;
        assert_eq!(
            mine.status,
            StatusCode::OK,
            "{name}: leading zeros accepted"
        );
        let theirs = call(&app, "GET", "/api/v1/cases/1", Some(EVE), None, &[]).await;
        let missing = call(&app, "GET", "/api/v1/cases/999", Some(EVE), None, &[]).await;
        is_problem(&theirs, StatusCode::NOT_FOUND);
        assert_eq!(theirs.body["title"], missing.body["title"]);
        is_problem(
            &call(&app, "GET", "/api/v1/cases/abc", Some(AGENT), None, &[]).await,
            StatusCode::NOT_FOUND,
        );
        let list = call(&app, "GET", "/api/v1/cases", Some(EVE), None, &[]).await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0, "{name}");
        // a customer may not act as staff, nor open a case for someone else
        is_problem(
            &call(
                &app,
                "GET",
                "/api/v1/cases/1/history",
                Some(JORDAN),
                None,
                &[],
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        is_problem(
            &call(
                &app,
                "POST",
                "/api/v1/cases",
                Some(JORDAN),
                Some(new_case("eve@customer.example")),
                &[],
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        let own = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(JORDAN),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        assert_eq!(own.status, StatusCode::CREATED, "{name}");
    }
}

#[tokio::test]
async fn patch_needs_if_match_and_stale_versions_conflict() {
    for (name, app) in stores().await {
        call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let edit =
            json!({ "title": "Publishing fails", "category": { "product_area": "Publishing" } });
        is_problem(
            &call(
                &app,
                "PATCH",
                "/api/v1/cases/1",
                Some(AGENT),
                Some(edit.clone()),
                &[],
            )
            .await,
            StatusCode::PRECONDITION_REQUIRED,
        );
        let ok = call(
            &app,
            "PATCH",
            "/api/v1/cases/1",
            Some(AGENT),
            Some(edit.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "{name}: {}", ok.body);
        assert_eq!(ok.body["title"], "Publishing fails");
        assert_eq!(ok.body["category"]["product_area"], "Publishing");
        assert_eq!(ok.headers[header::ETAG], "\"3\"");
        let stale = call(
            &app,
            "PATCH",
            "/api/v1/cases/1",
            Some(AGENT),
            Some(edit),
            &[("if-match", "\"1\"")],
        )
        .await;
        is_problem(&stale, StatusCode::PRECONDITION_FAILED);
        assert_eq!(stale.body["current_version"], 3);
        // actions honour If-Match when it is sent
        let stale = call(
            &app,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[("if-match", "\"2\"")],
        )
        .await;
        is_problem(&stale, StatusCode::PRECONDITION_FAILED);
        let fresh = call(
            &app,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[],
        )
        .await;
        assert_eq!(fresh.body["status"], "In Progress", "{name}");
    }
}

#[tokio::test]
async fn bad_bodies_are_problems_never_500s() {
    for (name, app) in stores().await {
        let send = |body: &'static str, ctype: &'static str| {
            let app = app.clone();
            async move {
                let req = Request::builder()
                    .method("POST")
                    .uri("/api/v1/cases")
                    .header(header::AUTHORIZATION, format!("Bearer {AGENT}"))
                    .header(header::CONTENT_TYPE, ctype)
                    .body(HttpBody::from(body))
                    .unwrap();
                let res = app.oneshot(req).await.unwrap();
                let status = res.status();
                let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
                    .await
                    .unwrap();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            }
        };
        let (s, _) = send("{not json", "application/json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");
        let (s, _) = send("{}", "text/plain").await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        let mut body = new_case("jordan@customer.example");
        body["colour"] = json!("blue");
        let r = call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(body), &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "colour");
        let mut body = new_case("not-an-email");
        body["title"] = json!("t");
        let r = call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(body), &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "customer.email");
        let mut big = new_case("jordan@customer.example");
        big["description"] = json!("x".repeat(crate::MAX_BODY + 10));
        is_problem(
            &call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(big), &[]).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        );
        let r = call(&app, "GET", "/api/v1/cases?limit=0", Some(AGENT), None, &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        let r = call(&app, "GET", "/api/v1/cases?bogus=1", Some(AGENT), None, &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        is_problem(
            &call(&app, "GET", "/nowhere", Some(AGENT), None, &[]).await,
            StatusCode::NOT_FOUND,
        );
    }
}

#[tokio::test]
async fn the_workflow_over_http_and_what_a_customer_sees() {
    for (name, app) in stores().await {
        let post = |uri: String, token: &'static str, body: Value| {
            let app = app.clone();
            async move { call(&app, "POST", &uri, Some(token), Some(body), &[]).await }
        };
        post(
            "/api/v1/cases".into(),
            AGENT,
            new_case("jordan@customer.example"),
        )
        .await;
        let call_log = post("/api/v1/cases/1/calls".into(), AGENT, json!({"direction": "inbound", "duration_minutes": 25, "screenshare": true, "notes": "Reproduced"})).await;
        assert_eq!(
            call_log.status,
            StatusCode::CREATED,
            "{name}: {}",
            call_log.body
        );
        assert_eq!(call_log.body["type"], "call_logged");
        assert_eq!(call_log.body["id"], 2);
        let note = post(
            "/api/v1/cases/1/posts".into(),
            AGENT,
            json!({"kind": "note", "body": "MARKER-INTERNAL suspicion"}),
        )
        .await;
        assert_eq!(
            note.body["visibility"], "internal",
            "posts are internal by default"
        );
        post(
            "/api/v1/cases/1/posts".into(),
            JORDAN,
            json!({"kind": "note", "body": "logs attached", "visibility": "customer"}),
        )
        .await;
        let email = post(
            "/api/v1/cases/1/emails".into(),
            AGENT,
            json!({"template": "follow_up", "discussed": "We reproduced it"}),
        )
        .await;
        assert_eq!(email.status, StatusCode::CREATED, "{name}: {}", email.body);
        assert_eq!(email.body["status"], "queued");
        assert!(
            email.body["subject"]
                .as_str()
                .unwrap()
                .starts_with("[Case 00000001]")
        );
        let preview = post(
            "/api/v1/cases/1/emails/preview".into(),
            AGENT,
            json!({"template": "initial_contact"}),
        )
        .await;
        assert_eq!(preview.status, StatusCode::OK);
        assert_eq!(preview.body["to"], "jordan@customer.example");

        let refused = post(
            "/api/v1/cases/1/close".into(),
            AGENT,
            json!({"mode": "resolved", "primary_resolution": "A", "secondary_resolution": "B"}),
        )
        .await;
        is_problem(&refused, StatusCode::CONFLICT);
        let items: Vec<&str> = refused.body["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["item"].as_str().unwrap())
            .collect();
        assert_eq!(
            items,
            [
                "summary",
                "title",
                "product",
                "product_version",
                "product_area",
                "functionality",
                "issue"
            ]
        );
        let check = call(
            &app,
            "GET",
            "/api/v1/cases/1/closing-check",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(check.body["ready"], false);
        is_problem(
            &post(
                "/api/v1/cases/1/reopen".into(),
                LEAD,
                json!({"reason": "x"}),
            )
            .await,
            StatusCode::CONFLICT,
        );
        post(
            "/api/v1/cases/1/close".into(),
            LEAD,
            json!({"mode": "temporary"}),
        )
        .await;
        let r = post(
            "/api/v1/cases/1/reopen".into(),
            LEAD,
            json!({"reason": "customer is back", "notify_customer": false}),
        )
        .await;
        assert_eq!(r.body["reopen_count"], 1, "{name}: {}", r.body);
        is_problem(
            &post(
                "/api/v1/cases/1/escalate".into(),
                AGENT,
                json!({"reason": "x"}),
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        is_problem(
            &post(
                "/api/v1/cases/1/transition".into(),
                AGENT,
                json!({"status": "Nowhere"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );

        let staff = call(
            &app,
            "GET",
            "/api/v1/cases/1/timeline",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert!(staff.body.to_string().contains("MARKER-INTERNAL"));
        let customer = call(
            &app,
            "GET",
            "/api/v1/cases/1/timeline",
            Some(JORDAN),
            None,
            &[],
        )
        .await;
        assert_eq!(customer.status, StatusCode::OK);
        let text = customer.body.to_string();
        assert!(!text.contains("MARKER-INTERNAL"), "{name}: {text}");
        assert!(
            !text.contains("customer is back"),
            "the reopen reason is internal"
        );
        assert!(text.contains("Reproduced") && text.contains("logs attached"));
        let found = call(
            &app,
            "GET",
            "/api/v1/search?q=marker",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(found.body.as_array().unwrap().len(), 1, "{name}");
        is_problem(
            &call(
                &app,
                "GET",
                "/api/v1/search?q=marker",
                Some(JORDAN),
                None,
                &[],
            )
            .await,
            StatusCode::FORBIDDEN,
        );
        let report = call(
            &app,
            "GET",
            "/api/v1/reports/reopens?group_by=owner",
            Some(LEAD),
            None,
            &[],
        )
        .await;
        assert_eq!(report.status, StatusCode::OK, "{name}: {}", report.body);
        let outbox = call(
            &app,
            "GET",
            "/api/v1/outbox?status=queued",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        let templates: Vec<&str> = outbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["template"].as_str().unwrap())
            .collect();
        assert_eq!(templates, ["follow_up", "temporary_close_notice"]);
        is_problem(
            &call(&app, "GET", "/api/v1/outbox", Some(JORDAN), None, &[]).await,
            StatusCode::FORBIDDEN,
        );
    }
}

#[tokio::test]
async fn the_list_filters_by_priority_and_owner_and_pages_in_each_order() {
    for (name, app) in stores().await {
        for priority in ["medium", "urgent", "high", "medium"] {
            let mut body = new_case("jordan@customer.example");
            body["priority"] = json!(priority);
            let r = call(&app, "POST", "/api/v1/cases", Some(AGENT), Some(body), &[]).await;
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.body);
        }
        let r = call(
            &app,
            "POST",
            "/api/v1/cases/1/assign",
            Some(LEAD),
            Some(json!({"owner": "Ana Lopez"})),
            &[("if-match", "\"1\"")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        let numbers = |v: &Value| -> Vec<u64> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["number"].as_u64().unwrap())
                .collect()
        };
        let list = async |query: &str, token: &str| {
            call(
                &app,
                "GET",
                &format!("/api/v1/cases?{query}"),
                Some(token),
                None,
                &[],
            )
            .await
        };
        assert_eq!(numbers(&list("priority=urgent", AGENT).await.body), [2]);
        assert_eq!(
            numbers(&list("unassigned=true", AGENT).await.body),
            [2, 3, 4]
        );
        assert_eq!(numbers(&list("unassigned=false", AGENT).await.body), [1]);
        // most urgent first, then oldest, two at a time with the order's own cursor
        let first = list("sort=priority&limit=2", AGENT).await;
        assert_eq!(numbers(&first.body), [2, 3], "{name}");
        let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
        let second = list(&format!("sort=priority&limit=2&cursor={cursor}"), AGENT).await;
        assert_eq!(numbers(&second.body), [1, 4], "{name}");
        assert_eq!(second.body["next_cursor"], Value::Null);
        // a cursor is bound to its order: without its sort it is refused by name
        let r = list(&format!("limit=2&cursor={cursor}"), AGENT).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "cursor", "{name}");
        let r = list("sort=shoe-size", AGENT).await;
        assert_eq!(r.status.as_u16() / 100, 4, "{name}: {}", r.body);
        // by the last change, every case once over the pages (this app's clock stands still,
        // so all changed at the same time and the newest number comes first)
        let (mut seen, mut cursor) = (Vec::<u64>::new(), String::new());
        loop {
            let page = list(&format!("sort=updated&limit=3&cursor={cursor}"), AGENT).await;
            assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
            seen.extend(numbers(&page.body));
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, [4, 3, 2, 1], "{name}");
        // a customer may sort and filter on what they see, not on ownership
        let mine = list("sort=priority&priority=urgent", JORDAN).await;
        assert_eq!(numbers(&mine.body), [2], "{name}");
        let r = list("unassigned=true", JORDAN).await;
        is_problem(&r, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn lists_page_with_cursors_and_knowledge_round_trips() {
    for (name, app) in stores().await {
        for _ in 0..5 {
            call(
                &app,
                "POST",
                "/api/v1/cases",
                Some(AGENT),
                Some(new_case("jordan@customer.example")),
                &[],
            )
            .await;
        }
        let first = call(&app, "GET", "/api/v1/cases?limit=2", Some(AGENT), None, &[]).await;
        let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
        let second = call(
            &app,
            "GET",
            &format!("/api/v1/cases?limit=2&cursor={cursor}"),
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(second.body["items"][0]["number"], 3, "{name}");
        let last = call(
            &app,
            "GET",
            "/api/v1/cases?limit=2&cursor=c4",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(last.body["next_cursor"], Value::Null);
        let a = call(
            &app,
            "POST",
            "/api/v1/articles",
            Some(AGENT),
            Some(json!({"title": "KB", "body": "text"})),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED);
        let got = call(
            &app,
            "GET",
            &format!("/api/v1/articles/{}", a.body["id"]),
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(got.body["title"], "KB");
        let d = call(
            &app,
            "POST",
            "/api/v1/defects",
            Some(AGENT),
            Some(json!({"key": "BUG-1", "title": "t", "state": "open"})),
            &[],
        )
        .await;
        assert_eq!(d.status, StatusCode::CREATED, "{name}: {}", d.body);
        is_problem(
            &call(
                &app,
                "POST",
                "/api/v1/defects",
                Some(AGENT),
                Some(json!({"key": "BUG-1", "title": "t", "state": "open"})),
                &[],
            )
            .await,
            StatusCode::CONFLICT, // a taken key
        );
        is_problem(
            &call(
                &app,
                "GET",
                "/api/v1/defects/BUG-404",
                Some(AGENT),
                None,
                &[],
            )
            .await,
            StatusCode::NOT_FOUND,
        );
        let link = call(
            &app,
            "POST",
            "/api/v1/cases/1/links",
            Some(AGENT),
            Some(json!({"kind": "defect", "ref": "BUG-1"})),
            &[],
        )
        .await;
        assert_eq!(link.status, StatusCode::CREATED, "{name}: {}", link.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_makes_one_case() {
    for (name, app) in stores().await {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                call(
                    &app,
                    "POST",
                    "/api/v1/cases",
                    Some(AGENT),
                    Some(new_case("jordan@customer.example")),
                    &[("idempotency-key", "order-7")],
                )
                .await
            }));
        }
        let mut replays = 0;
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.body);
            assert_eq!(r.body["number"], 1, "{name}");
            assert_eq!(r.headers[header::ETAG], "\"1\"");
            replays += usize::from(r.headers.contains_key("idempotent-replayed"));
        }
        assert_eq!(replays, 99, "{name}");
        let list = call(&app, "GET", "/api/v1/cases", Some(AGENT), None, &[]).await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            1,
            "{name}: one case"
        );
        // the same key with another body is refused; another caller's same key is their own
        let mut other = new_case("jordan@customer.example");
        other["title"] = json!("something else");
        let r = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(other.clone()),
            &[("idempotency-key", "order-7")],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "Idempotency-Key");
        let lee = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(LEAD),
            Some(other),
            &[("idempotency-key", "order-7")],
        )
        .await;
        assert_eq!(lee.status, StatusCode::CREATED);
        assert_eq!(
            lee.body["number"], 2,
            "{name}: keys are scoped to the caller"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_patches_with_one_if_match_let_exactly_one_win() {
    for (name, app) in stores().await {
        call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        for round in 0..10u64 {
            let version = (1 + round).to_string();
            let etag = format!("\"{version}\"");
            let tasks: Vec<_> = ["first", "second"]
                .into_iter()
                .map(|who| {
                    let (app, etag) = (app.clone(), etag.clone());
                    tokio::spawn(async move {
                        let body = json!({ "title": format!("{who} round {round}") });
                        call(
                            &app,
                            "PATCH",
                            "/api/v1/cases/1",
                            Some(AGENT),
                            Some(body),
                            &[("if-match", etag.as_str())],
                        )
                        .await
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.unwrap().status.as_u16());
            }
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 412], "{name} round {round}");
        }
        let history = call(
            &app,
            "GET",
            "/api/v1/cases/1/history",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(
            history.body.as_array().unwrap().len(),
            11,
            "{name}: one event per winning write"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_without_if_match_under_contention_never_answer_412() {
    // issue #11: a write that sent no precondition answered 412 after five lost races
    for (name, app) in stores().await {
        let made = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let start = made.body["version"].as_u64().unwrap();
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for j in 0..4 {
                        let body = json!({"kind": "note", "body": format!("note {i}.{j}")});
                        let r = call(
                            &app,
                            "POST",
                            "/api/v1/cases/1/posts",
                            Some(AGENT),
                            Some(body),
                            &[],
                        )
                        .await;
                        if r.status == StatusCode::SERVICE_UNAVAILABLE {
                            is_problem(&r, StatusCode::SERVICE_UNAVAILABLE);
                            assert_eq!(r.headers[header::RETRY_AFTER], "1");
                        }
                        out.push(r.status.as_u16());
                    }
                    out
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.extend(t.await.unwrap());
        }
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 503),
            "{name}: {statuses:?}"
        );
        let written = statuses.iter().filter(|s| **s == 201).count() as u64;
        assert!(written > 0, "{name}");
        let case = call(&app, "GET", "/api/v1/cases/1", Some(AGENT), None, &[]).await;
        assert_eq!(
            case.body["version"].as_u64().unwrap(),
            start + written,
            "{name}: one event per acknowledged write, none for a busy one"
        );
    }
}

/// A new case for Jordan, taken by Ana, with the initial-contact email queued: its number.
async fn a_case_with_its_initial_email(app: &axum::Router, name: &str) -> u64 {
    let c = call(
        app,
        "POST",
        "/api/v1/cases",
        Some(AGENT),
        Some(new_case("jordan@customer.example")),
        &[],
    )
    .await;
    let n = c.body["number"].as_u64().unwrap();
    let take = json!({"owner": "Ana Lopez"});
    let uri = format!("/api/v1/cases/{n}/assign");
    call(app, "POST", &uri, Some(AGENT), Some(take), &[]).await;
    let email = json!({"template": "initial_contact"});
    let uri = format!("/api/v1/cases/{n}/emails");
    let sent = call(app, "POST", &uri, Some(AGENT), Some(email), &[]).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{name}: {:?}", sent.body);
    n
}

#[tokio::test]
async fn the_timeline_shows_each_emails_delivery_and_customers_see_only_whether_it_went() {
    for (name, app) in stores().await {
        let n = a_case_with_its_initial_email(&app, name).await;
        for (token, staff) in [(AGENT, true), (JORDAN, false)] {
            let t = call(
                &app,
                "GET",
                &format!("/api/v1/cases/{n}/timeline"),
                Some(token),
                None,
                &[],
            )
            .await;
            assert_eq!(t.status, StatusCode::OK, "{name}");
            let emails: Vec<&Value> = t
                .body
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "email_queued")
                .collect();
            assert_eq!(emails.len(), 1, "{name}: {}", t.body);
            let d = &emails[0]["delivery"];
            assert_eq!(d["status"], "queued", "{name}: {d}");
            assert_eq!(d["next_attempt_at"].is_string(), staff, "{name}: {d}");
            assert_eq!(d["attempts"], 0, "{name}: {d}");
            // other entries carry no delivery
            assert!(
                t.body
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["type"] != "email_queued")
                    .all(|e| e.get("delivery").is_none()),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn staff_cancel_a_queued_email_and_retry_it_and_the_timeline_follows() {
    for (name, app) in stores().await {
        let n = a_case_with_its_initial_email(&app, name).await;
        let queued = call(&app, "GET", "/api/v1/outbox", Some(AGENT), None, &[]).await;
        let id = queued.body[0]["id"].as_str().unwrap().to_owned();
        let delivery = |t: &Value| {
            t.as_array()
                .unwrap()
                .iter()
                .find(|e| e["type"] == "email_queued")
                .unwrap()["delivery"]["status"]
                .clone()
        };

        let cancel = format!("/api/v1/outbox/{id}/cancel");
        // a customer may not touch the outbox, even for their own case's mail
        is_problem(
            &call(&app, "POST", &cancel, Some(JORDAN), None, &[]).await,
            StatusCode::FORBIDDEN,
        );
        let done = call(&app, "POST", &cancel, Some(AGENT), None, &[]).await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        assert_eq!(done.body["status"], "cancelled", "{name}");
        let timeline = format!("/api/v1/cases/{n}/timeline");
        for token in [AGENT, JORDAN] {
            let t = call(&app, "GET", &timeline, Some(token), None, &[]).await;
            assert_eq!(delivery(&t.body), "cancelled", "{name}");
        }
        // twice: refused with the reason, naming the state
        let again = call(&app, "POST", &cancel, Some(AGENT), None, &[]).await;
        is_problem(&again, StatusCode::CONFLICT);
        assert!(
            again.body["detail"]
                .as_str()
                .unwrap()
                .contains("is cancelled"),
            "{name}: {}",
            again.body
        );

        let retry = format!("/api/v1/outbox/{id}/retry");
        let back = call(&app, "POST", &retry, Some(LEAD), None, &[]).await;
        assert_eq!(back.status, StatusCode::OK, "{name}: {}", back.body);
        assert_eq!(
            (&back.body["status"], &back.body["attempts"]),
            (&json!("queued"), &json!(0))
        );
        let t = call(&app, "GET", &timeline, Some(AGENT), None, &[]).await;
        assert_eq!(delivery(&t.body), "queued", "{name}");
        is_problem(
            &call(
                &app,
                "POST",
                "/api/v1/outbox/nope/retry",
                Some(AGENT),
                None,
                &[],
            )
            .await,
            StatusCode::NOT_FOUND,
        );
    }
}

#[tokio::test]
async fn moving_into_the_escalated_status_is_an_escalation_over_http() {
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
        let n = c.body["number"].as_u64().unwrap();
        let uri = format!("/api/v1/cases/{n}/transition");
        let to = |note: Option<&str>| match note {
            Some(n) => json!({"status": "Escalated", "note": n}),
            None => json!({"status": "Escalated"}),
        };
        let r = call(&app, "POST", &uri, Some(AGENT), Some(to(Some("x"))), &[]).await;
        is_problem(&r, StatusCode::FORBIDDEN);
        let r = call(&app, "POST", &uri, Some(LEAD), Some(to(None)), &[]).await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "note", "{name}: {}", r.body);
        let r = call(&app, "POST", &uri, Some(LEAD), Some(to(Some("P1"))), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        assert_eq!(r.body["status"], "Escalated");
        let h = call(
            &app,
            "GET",
            &format!("/api/v1/cases/{n}/history"),
            Some(LEAD),
            None,
            &[],
        )
        .await;
        let last = h.body.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "escalated", "{name}: {last}");
        assert_eq!(last["reason"], "P1");
        // the initial-contact email of an unowned case is refused, naming why
        let r = call(
            &app,
            "POST",
            &format!("/api/v1/cases/{n}/emails"),
            Some(AGENT),
            Some(json!({"template": "initial_contact"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);
        assert!(
            r.body["detail"].as_str().unwrap().contains("no owner"),
            "{name}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_resolved_close_tells_the_customer_who_then_sees_the_resolution() {
    for (name, app) in stores().await {
        let req = |method: &'static str, uri: String, token: &'static str, body: Option<Value>| {
            let app = app.clone();
            async move { call(&app, method, &uri, Some(token), body, &[]).await }
        };
        let mut numbers = Vec::new();
        for _ in 0..2 {
            let c = req(
                "POST",
                "/api/v1/cases".into(),
                AGENT,
                Some(new_case("jordan@customer.example")),
            )
            .await;
            let n = c.body["number"].as_u64().unwrap();
            let edit = json!({"title": "Publishing fails", "product": "Server", "product_version": "11.3",
                "category": {"product_area": "Publishing", "functionality": "Services", "issue": "Config"}});
            let uri = format!("/api/v1/cases/{n}");
            let r = call(
                &app,
                "PATCH",
                &uri,
                Some(AGENT),
                Some(edit),
                &[("if-match", "\"1\"")],
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
            let summary = json!({"kind": "summary", "body": "Issue, environment, resolution."});
            req("POST", format!("{uri}/posts"), AGENT, Some(summary)).await;
            numbers.push(n);
        }
        let close = |notify: bool| {
            json!({"mode": "resolved", "primary_resolution": "Configuration",
                   "secondary_resolution": "Data store registered", "notify_customer": notify})
        };
        let r = req(
            "POST",
            format!("/api/v1/cases/{}/close", numbers[0]),
            AGENT,
            Some(close(true)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        let r = req(
            "POST",
            format!("/api/v1/cases/{}/close", numbers[1]),
            AGENT,
            Some(close(false)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        let outbox = req("GET", "/api/v1/outbox".into(), AGENT, None).await;
        let notices: Vec<u64> = outbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template"] == "resolution_notice")
            .map(|m| m["case"].as_u64().unwrap())
            .collect();
        assert_eq!(
            notices,
            [numbers[0]],
            "{name}: only the case closed with notify_customer"
        );
        // the customer sees the resolution on the case and on the closed entry of the timeline
        let seen = req("GET", format!("/api/v1/cases/{}", numbers[0]), JORDAN, None).await;
        assert_eq!(
            seen.body["resolution"]["primary"], "Configuration",
            "{name}: {}",
            seen.body
        );
        let timeline = req(
            "GET",
            format!("/api/v1/cases/{}/timeline", numbers[0]),
            JORDAN,
            None,
        )
        .await;
        let closed = timeline
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "closed")
            .unwrap()
            .clone();
        assert_eq!(
            closed["resolution"]["secondary"], "Data store registered",
            "{name}: {closed}"
        );
        // a non-response close cannot skip its closing email
        let c = req(
            "POST",
            "/api/v1/cases".into(),
            AGENT,
            Some(new_case("jordan@customer.example")),
        )
        .await;
        let n = c.body["number"].as_u64().unwrap();
        let quiet = json!({"mode": "non_response", "notify_customer": false});
        let r = req(
            "POST",
            format!("/api/v1/cases/{n}/close"),
            AGENT,
            Some(quiet),
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "notify_customer");
    }
}

#[tokio::test]
async fn the_reopen_report_takes_plain_dates_and_drills_down_for_staff_only() {
    for (name, app) in stores().await {
        let get = |uri: &str, token: &'static str| {
            let (app, uri) = (app.clone(), uri.to_string());
            async move { call(&app, "GET", &uri, Some(token), None, &[]).await }
        };
        // a case closed temporarily by its owner and reopened with a reason
        let c = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case("jordan@customer.example")),
            &[],
        )
        .await;
        let n = c.body["number"].as_u64().unwrap();
        for (uri, token, body) in [
            ("assign", AGENT, json!({"owner": "Ana Lopez"})),
            ("close", AGENT, json!({"mode": "temporary"})),
            (
                "reopen",
                LEAD,
                json!({"reason": "MARKER-REASON the customer is back"}),
            ),
        ] {
            let r = call(
                &app,
                "POST",
                &format!("/api/v1/cases/{n}/{uri}"),
                Some(token),
                Some(body),
                &[],
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{name} {uri}: {}", r.body);
        }
        // the fixed clock stands at 2026-01-05: plain dates around it
        let rows = get(
            "/api/v1/reports/reopens?group_by=owner&from=2026-01-01&to=2026-02-01",
            LEAD,
        )
        .await;
        assert_eq!(rows.status, StatusCode::OK, "{name}: {}", rows.body);
        assert_eq!(rows.body[0]["key"], "Ana Lopez", "{name}: {}", rows.body);
        assert_eq!(rows.body[0]["temporarily_closed"], 1);
        assert_eq!(rows.body[0]["reopened_from_temporary"], 1);
        let none = get(
            "/api/v1/reports/reopens?group_by=owner&from=2026-01-06",
            LEAD,
        )
        .await;
        assert_eq!(none.body, json!([]), "{name}: nothing closed from the 6th");
        let timed = get(
            "/api/v1/reports/reopens?group_by=owner&to=2026-01-05T09:00:00Z",
            LEAD,
        )
        .await;
        assert_eq!(
            timed.body,
            json!([]),
            "{name}: the close is after 09:00, the end is excluded"
        );
        let bad = get("/api/v1/reports/reopens?group_by=owner&from=January", LEAD).await;
        is_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.body["field"], "from", "{name}: {}", bad.body);
        // the drill-down: the case and its reopen reason, for staff
        let uri = "/api/v1/reports/reopens/cases?group_by=owner&key=Ana%20Lopez&from=2026-01-01";
        let cases = get(uri, LEAD).await;
        assert_eq!(cases.status, StatusCode::OK, "{name}: {}", cases.body);
        assert_eq!(cases.body["items"][0]["number"], n);
        assert_eq!(
            cases.body["items"][0]["reopens"][0]["reason"],
            "MARKER-REASON the customer is back"
        );
        assert_eq!(cases.body["next_cursor"], Value::Null);
        // reasons are internal: no customer reads them
        for token in [JORDAN, EVE] {
            let r = get(uri, token).await;
            is_problem(&r, StatusCode::FORBIDDEN);
            assert!(!r.body.to_string().contains("MARKER-REASON"));
        }
        let blank = get("/api/v1/reports/reopens/cases?group_by=owner&key=%20", LEAD).await;
        is_problem(&blank, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(blank.body["field"], "key", "{name}: {}", blank.body);
    }
}

#[tokio::test]
async fn renaming_a_status_strands_nothing_an_admin_cannot_move() {
    let stores: Vec<(&str, Arc<dyn CaseStore>)> = vec![
        (
            "memory",
            Arc::new(casework_store_memory::MemoryStore::new()),
        ),
        (
            "sqlite",
            Arc::new(casework_store_sqlite::SqliteStore::open_url("sqlite::memory:").unwrap()),
        ),
    ];
    for (name, store) in stores {
        // two cases opened under the default workflow ("New")
        let before = app(store.clone()).await;
        for _ in 0..2 {
            let r = call(
                &before,
                "POST",
                "/api/v1/cases",
                Some(AGENT),
                Some(new_case("jordan@customer.example")),
                &[],
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        // the same store, served with a workflow file that renamed New to Open
        let svc = casework_core::CaseService::new(
            store.clone(),
            Arc::new(casework_core::testing::FixedClock::default()),
            Arc::new(casework_core::testing::SequentialIds::default()),
            Arc::new(casework_core::testing::renamed_workflow()),
            Arc::new(casework_core::Templates::embedded().unwrap()),
        );
        let after = router(AppState::new(svc));
        // an unknown status in a filter is an error naming the field and the statuses
        for status in ["Nope", "New"] {
            let r = call(
                &after,
                "GET",
                &format!("/api/v1/cases?status={status}"),
                Some(AGENT),
                None,
                &[],
            )
            .await;
            is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(r.body["field"], "status", "{name}: {}", r.body);
            assert!(
                r.body["statuses"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("Open")),
                "{name}: {}",
                r.body
            );
            assert!(
                r.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Open, In Progress"),
                "{name}: {}",
                r.body
            );
        }
        let r = call(
            &after,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "Nope"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "status");
        // a stranded case cannot move by transitions, and says how to fix it
        let r = call(
            &after,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::CONFLICT);
        assert!(
            r.body["detail"].as_str().unwrap().contains("status map"),
            "{name}: {}",
            r.body
        );
        // only admins map statuses
        let map = json!({"from": "New", "to": "Open"});
        for token in [AGENT, LEAD, JORDAN] {
            let r = call(
                &after,
                "POST",
                "/api/v1/statuses/map",
                Some(token),
                Some(map.clone()),
                &[],
            )
            .await;
            is_problem(&r, StatusCode::FORBIDDEN);
        }
        let r = call(
            &after,
            "POST",
            "/api/v1/statuses/map",
            Some(ADMIN),
            Some(json!({"from": "New", "to": "Nope"})),
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "to", "{name}: {}", r.body);
        let r = call(
            &after,
            "POST",
            "/api/v1/statuses/map",
            Some(ADMIN),
            Some(map.clone()),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        assert_eq!(
            r.body,
            json!({"from": "New", "to": "Open", "moved": 2, "skipped": []})
        );
        let open = call(
            &after,
            "GET",
            "/api/v1/cases?status=open",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert_eq!(
            open.body["items"].as_array().unwrap().len(),
            2,
            "{name}: {}",
            open.body
        );
        let h = call(
            &after,
            "GET",
            "/api/v1/cases/2/history",
            Some(LEAD),
            None,
            &[],
        )
        .await;
        let last = h.body.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "status_mapped", "{name}: {last}");
        assert_eq!(
            (last["from"].clone(), last["to"].clone()),
            (json!("New"), json!("Open"))
        );
        // nothing is left to move; the cases move by the workflow again
        let r = call(
            &after,
            "POST",
            "/api/v1/statuses/map",
            Some(ADMIN),
            Some(map),
            &[],
        )
        .await;
        assert_eq!(r.body["moved"], 0);
        let r = call(
            &after,
            "POST",
            "/api/v1/cases/1/transition",
            Some(AGENT),
            Some(json!({"status": "In Progress"})),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
    }
}
