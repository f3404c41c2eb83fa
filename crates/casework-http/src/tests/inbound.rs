//! `POST /api/v1/inbound/email`: who may hand Casework raw mail, what it answers, and that
//! its body limit is the inbound message's, not the JSON API's. The MIME parser is
//! `casework-mail`'s and is tested there and end to end; here core's test parser of plain
//! headers stands in, so these tests are about the route.

use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode, header};
use casework_core::limits::MAX_INBOUND_MESSAGE;
use tower::ServiceExt;

use super::{ADMIN, AGENT, JORDAN, stores};

async fn post(
    app: &axum::Router,
    token: Option<&str>,
    raw: Vec<u8>,
) -> (StatusCode, header::HeaderMap, serde_json::Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/inbound/email")
        .header(header::CONTENT_TYPE, "message/rfc822");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(HttpBody::from(raw)).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), 1024 * 1024)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or_default(),
    )
}

fn message(id: &str, body_len: usize) -> Vec<u8> {
    format!(
        "From: zoe@kunde.example\nSubject: Printer offline\nMessage-ID: {id}@kunde.example\n\n{}",
        "x".repeat(body_len)
    )
    .into_bytes()
}

#[tokio::test]
async fn a_raw_message_opens_a_case_once_for_a_token_with_ingest_mail() {
    for (name, app) in stores().await {
        let (status, headers, body) = post(&app, Some(ADMIN), message("m1", 10)).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(headers[header::LOCATION], "/api/v1/cases/1", "{name}");
        assert_eq!(body["rule"], "new_case", "{name}");
        assert_eq!(body["display_number"], "00000001", "{name}");
        let (status, _, body) = post(&app, Some(ADMIN), message("m1", 10)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(
            (body["case"].as_u64(), &body["duplicate"]),
            (Some(1), &serde_json::json!(true))
        );
        // no sender: never takeable, so kept in the quarantine (202), once
        let (status, _, body) = post(&app, Some(ADMIN), b"Subject: hi\n\nbody".to_vec()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
        assert!(
            body["reason"].as_str().unwrap().contains("no header"),
            "{body}"
        );
        let id = body["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("q-"), "{body}");
        let (status, _, again) = post(&app, Some(ADMIN), b"Subject: hi\n\nbody".to_vec()).await;
        assert_eq!(
            (status, again["id"].as_str()),
            (StatusCode::ACCEPTED, Some(id.as_str()))
        );
    }
}

#[tokio::test]
async fn only_roles_with_ingest_mail_may_post_raw_mail() {
    for (name, app) in stores().await {
        let (status, _, _) = post(&app, None, message("m1", 1)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        for token in [AGENT, JORDAN] {
            let (status, _, body) = post(&app, Some(token), message("m1", 1)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        }
    }
}

#[tokio::test]
async fn a_message_may_be_larger_than_a_json_body_up_to_the_inbound_limit() {
    let app = Arc::new(stores().await.remove(0).1);
    // over the JSON API's 1 MiB, well within the inbound limit
    let (status, _, body) = post(&app, Some(ADMIN), message("big", 3 * 1024 * 1024)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, _) = post(&app, Some(ADMIN), message("huge", MAX_INBOUND_MESSAGE + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
