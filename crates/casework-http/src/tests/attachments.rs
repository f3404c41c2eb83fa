//! Files through the API: a post with files as a multipart form, the list and the download
//! as each principal may see them, downloads that are never a page, names that cannot
//! break a header, the workflow file's limit on the upload's size, and a refused post that
//! leaves no file behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::{StatusCode, header};
use casework_core::ports::CaseStore;
use serde_json::Value;

use super::*;

/// A case of Jordan's (1) and one of Eve's (2), on a fresh store.
async fn two_cases(store: Arc<dyn CaseStore>) -> axum::Router {
    let app = app(store).await;
    two_cases_on(app).await
}

async fn two_cases_on(app: axum::Router) -> axum::Router {
    for (n, email) in [(1, "jordan@customer.example"), (2, "eve@customer.example")] {
        let r = call(
            &app,
            "POST",
            "/api/v1/cases",
            Some(AGENT),
            Some(new_case(email)),
            &[],
        )
        .await;
        assert_eq!(r.body["number"], n, "{}", r.body);
    }
    app
}

fn stores() -> Vec<(&'static str, Arc<dyn CaseStore>)> {
    vec![
        (
            "memory",
            Arc::new(casework_store_memory::MemoryStore::new()),
        ),
        (
            "sqlite",
            Arc::new(casework_store_sqlite::SqliteStore::open_url("sqlite::memory:").unwrap()),
        ),
    ]
}

/// Posts a form to case `n`'s attachments.
async fn upload(
    app: &axum::Router,
    n: u64,
    token: &str,
    parts: &[(&str, Option<&str>, &str, &[u8])],
    extra: &[(&str, &str)],
) -> Reply {
    let uri = format!("/api/v1/cases/{n}/attachments");
    let (status, headers, bytes) =
        call_raw(app, "POST", &uri, Some(token), Some(form(parts)), extra).await;
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The ids of the files an upload kept.
fn ids(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

async fn download(
    app: &axum::Router,
    n: u64,
    id: &str,
    token: &str,
) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let uri = format!("/api/v1/cases/{n}/attachments/{id}");
    call_raw(app, "GET", &uri, Some(token), None, &[]).await
}

async fn listed(app: &axum::Router, n: u64, token: &str) -> Reply {
    let uri = format!("/api/v1/cases/{n}/attachments");
    call(app, "GET", &uri, Some(token), None, &[]).await
}

#[tokio::test]
async fn several_files_in_one_post_and_each_principal_gets_only_what_they_may_see() {
    for (name, store) in stores() {
        let app = two_cases(store).await;
        let pdf: &[u8] = b"%PDF-1.7\n1 0 obj\n";
        let every_byte: Vec<u8> = (0..=255u8).collect();
        let visible = upload(
            &app,
            1,
            AGENT,
            &[
                ("text", None, "", b"The logs you asked for"),
                ("files", Some("report.pdf"), "application/pdf", pdf),
                (
                    "files",
                    Some("dump.bin"),
                    "application/octet-stream",
                    &every_byte,
                ),
            ],
            &[],
        )
        .await;
        let visible = ids(&visible);
        assert_eq!(visible.len(), 2, "{name}: two files in one post");
        let internal = upload(
            &app,
            1,
            AGENT,
            &[
                ("visibility", None, "", b"internal"),
                (
                    "files",
                    Some("secret.txt"),
                    "text/plain",
                    b"MARKER internal",
                ),
            ],
            &[],
        )
        .await;
        let internal = ids(&internal);
        // the customer's own upload: customer-visible without asking
        let own = upload(
            &app,
            1,
            JORDAN,
            &[("files", Some("screen.txt"), "text/plain", b"my screen")],
            &[],
        )
        .await;
        assert_eq!(own.body["files"][0]["visibility"], "customer", "{name}");
        assert_eq!(own.body["entry"]["from_customer"], true, "{name}");
        let own = ids(&own);

        // the bytes come back as sent, with the post's text on the timeline
        let (status, headers, bytes) = download(&app, 1, &visible[1], JORDAN).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(bytes, every_byte, "{name}: every byte value survives");
        assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
        let (_, headers, bytes) = download(&app, 1, &visible[0], AGENT).await;
        assert_eq!(bytes, pdf);
        assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
        let timeline = call(
            &app,
            "GET",
            "/api/v1/cases/1/timeline",
            Some(JORDAN),
            None,
            &[],
        )
        .await
        .body
        .to_string();
        assert!(timeline.contains("The logs you asked for"), "{name}");
        assert!(!timeline.contains("MARKER"), "{name}: {timeline}");

        // staff list all three posts' files; the customer not the internal one
        let staff = listed(&app, 1, AGENT).await;
        assert_eq!(staff.body.as_array().unwrap().len(), 4, "{name}");
        let mine = listed(&app, 1, JORDAN).await;
        assert_eq!(mine.status, StatusCode::OK);
        let mine: Vec<&str> = mine
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert_eq!(mine, [&visible[0], &visible[1], &own[0]], "{name}");
        // the internal file is not found for the customer, exactly as a case they may not see
        let (status, _, bytes) = download(&app, 1, &internal[0], JORDAN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        assert!(!String::from_utf8_lossy(&bytes).contains("MARKER"));
        assert_eq!(
            download(&app, 1, &internal[0], LEAD).await.0,
            StatusCode::OK
        );
        // another customer gets nothing of case 1: not the list, not a visible file
        assert_eq!(listed(&app, 1, EVE).await.status, StatusCode::NOT_FOUND);
        for id in [&visible[0], &own[0], &internal[0]] {
            let (status, _, _) = download(&app, 1, id, EVE).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name}: Eve fetched {id}");
            // nor through her own case's URL
            let (status, _, _) = download(&app, 2, id, EVE).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{name}: Eve fetched {id} via case 2"
            );
            let (status, _, _) = download(&app, 2, id, AGENT).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{name}: a file is under its case"
            );
        }
        let r = upload(
            &app,
            1,
            EVE,
            &[("files", Some("x.txt"), "text/plain", b"x")],
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{name}: {}", r.body);
        // a customer cannot make their file internal
        let r = upload(
            &app,
            1,
            JORDAN,
            &[
                ("visibility", None, "", b"internal"),
                ("files", Some("x.txt"), "text/plain", b"x"),
            ],
            &[],
        )
        .await;
        is_problem(&r, StatusCode::FORBIDDEN);
        // without a token: 401
        let uri = "/api/v1/cases/1/attachments";
        assert_eq!(
            call(&app, "GET", uri, None, None, &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            listed(&app, 1, AGENT).await.body.as_array().unwrap().len(),
            4
        );
    }
}

#[tokio::test]
async fn an_html_file_is_downloaded_as_an_opaque_attachment_never_as_a_page() {
    let app = two_cases(Arc::new(casework_store_memory::MemoryStore::new())).await;
    let html: &[u8] = b"<!DOCTYPE html><script>alert(document.cookie)</script>";
    let svg: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>";
    let r = upload(
        &app,
        1,
        JORDAN,
        &[
            ("files", Some("page.html"), "text/html", html),
            // declared as a picture: the bytes decide
            ("files", Some("pic.png"), "image/png", svg),
            // plain-looking bytes declared as HTML
            ("files", Some("note.txt"), "text/html", b"just text"),
        ],
        &[],
    )
    .await;
    let files = ids(&r);
    assert_eq!(r.body["files"][0]["content_type"], "text/html");
    assert_eq!(r.body["files"][1]["content_type"], "image/svg+xml");
    for (id, sent) in files.iter().zip([html, svg, b"just text".as_slice()]) {
        for token in [JORDAN, AGENT] {
            let (status, headers, bytes) = download(&app, 1, id, token).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(bytes, sent);
            assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(
                headers["content-security-policy"],
                "sandbox; default-src 'none'"
            );
            let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
            assert!(disposition.starts_with("attachment; "), "{disposition}");
        }
    }
    // the ETag is the SHA-256: asked again with it, nothing is sent
    let (_, headers, _) = download(&app, 1, &files[0], JORDAN).await;
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    assert_eq!(
        etag,
        format!("\"{}\"", r.body["files"][0]["sha256"].as_str().unwrap())
    );
    let uri = format!("/api/v1/cases/1/attachments/{}", files[0]);
    let (status, _, bytes) = call_raw(
        &app,
        "GET",
        &uri,
        Some(JORDAN),
        None,
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(bytes.is_empty());
    // plain text is plain text, declared UTF-8
    let r = upload(
        &app,
        1,
        AGENT,
        &[("files", Some("log.txt"), "text/plain", "café\n".as_bytes())],
        &[],
    )
    .await;
    let (_, headers, _) = download(&app, 1, &ids(&r)[0], AGENT).await;
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
}

#[tokio::test]
async fn a_file_name_with_quotes_line_breaks_and_non_ascii_is_sent_encoded() {
    let app = two_cases(Arc::new(casework_store_memory::MemoryStore::new())).await;
    // as browsers send them (WHATWG HTML): `"` as %22, CR and LF as %0D and %0A, other
    // characters as raw UTF-8; and a path, which is never kept
    let r = upload(
        &app,
        1,
        AGENT,
        &[
            (
                "files",
                Some("Ångström %22q%22 日本.txt"),
                "text/plain",
                b"a",
            ),
            (
                "files",
                Some("..\\..\\evil%0D%0ASet-Cookie: x=1.txt"),
                "text/plain",
                b"b",
            ),
        ],
        &[],
    )
    .await;
    let files = ids(&r);
    assert_eq!(r.body["files"][0]["file_name"], "Ångström %22q%22 日本.txt");
    assert_eq!(
        r.body["files"][1]["file_name"],
        "evil%0D%0ASet-Cookie: x=1.txt"
    );
    let disposition = |headers: &header::HeaderMap| {
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .to_string()
    };
    let (_, headers, _) = download(&app, 1, &files[0], AGENT).await;
    assert_eq!(
        disposition(&headers),
        "attachment; filename=\"_ngstr_m _22q_22 __.txt\"; \
         filename*=UTF-8''%C3%85ngstr%C3%B6m%20%2522q%2522%20%E6%97%A5%E6%9C%AC.txt"
    );
    let (_, headers, _) = download(&app, 1, &files[1], AGENT).await;
    assert_eq!(
        disposition(&headers),
        "attachment; filename=\"evil_0D_0ASet-Cookie: x=1.txt\"; \
         filename*=UTF-8''evil%250D%250ASet-Cookie%3A%20x%3D1.txt"
    );
    assert!(!headers.contains_key(header::SET_COOKIE));
}

/// A router whose workflow file allows `max_message_bytes` for the files of one post.
async fn limited(max_message_bytes: u64) -> axum::Router {
    let text = format!(
        "{}\n[attachments]\nmax_message_bytes = {max_message_bytes}\nmax_file_bytes = 600\n",
        casework_core::config::DEFAULT_WORKFLOW
    );
    let svc = casework_core::CaseService::new(
        Arc::new(casework_store_memory::MemoryStore::new()),
        Arc::new(casework_core::testing::FixedClock::default()),
        Arc::new(casework_core::testing::SequentialIds::default()),
        Arc::new(casework_core::WorkflowConfig::parse(&text).unwrap()),
        Arc::new(casework_core::Templates::embedded().unwrap()),
    );
    two_cases_on(staffed(svc).await).await
}

#[tokio::test]
async fn an_upload_over_the_workflow_files_limit_is_refused_naming_the_field() {
    let app = limited(1000).await;
    let refused = |r: &Reply, status: StatusCode, setting: &str| {
        is_problem(r, status);
        assert_eq!(r.body["field"], "files", "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains(setting),
            "{}",
            r.body
        );
    };
    // the request itself over the route's limit (the setting plus 1 MiB for the rest): 413
    let huge = vec![b'x'; 1000 + crate::MAX_BODY + 1];
    let r = upload(
        &app,
        1,
        AGENT,
        &[("files", Some("huge.bin"), "application/octet-stream", &huge)],
        &[],
    )
    .await;
    refused(&r, StatusCode::PAYLOAD_TOO_LARGE, "max_message_bytes");
    // within the request limit, over the settings: 422
    let r = upload(
        &app,
        1,
        AGENT,
        &[(
            "files",
            Some("big.bin"),
            "application/octet-stream",
            &[b'x'; 601],
        )],
        &[],
    )
    .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "max_file_bytes");
    let five: &[u8] = &[b'x'; 500];
    let r = upload(
        &app,
        1,
        AGENT,
        &[
            ("files", Some("a.bin"), "application/octet-stream", five),
            ("files", Some("b.bin"), "application/octet-stream", five),
            ("files", Some("c.bin"), "application/octet-stream", b"x"),
        ],
        &[],
    )
    .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "max_message_bytes");
    // no files at all: the same field
    let r = upload(&app, 1, AGENT, &[("text", None, "", b"hello")], &[]).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "at least one");
    // nothing was kept, and the limit is met exactly
    assert_eq!(listed(&app, 1, AGENT).await.body, serde_json::json!([]));
    let r = upload(
        &app,
        1,
        AGENT,
        &[
            ("files", Some("a.bin"), "application/octet-stream", five),
            ("files", Some("b.bin"), "application/octet-stream", five),
        ],
        &[],
    )
    .await;
    assert_eq!(ids(&r).len(), 2);
    // the other routes keep their own limit
    let big_post = serde_json::json!({"kind": "note", "body": "x".repeat(crate::MAX_BODY)});
    let r = call(
        &app,
        "POST",
        "/api/v1/cases/1/posts",
        Some(AGENT),
        Some(big_post),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
}

#[tokio::test]
async fn a_refused_or_conflicting_post_leaves_no_file() {
    for (name, store) in stores() {
        let app = two_cases(store).await;
        let before = call(&app, "GET", "/api/v1/cases/1", Some(AGENT), None, &[]).await;
        let stale = format!("\"{}\"", before.body["version"].as_u64().unwrap());
        let moved = serde_json::json!({"kind": "note", "body": "in between"});
        let r = call(
            &app,
            "POST",
            "/api/v1/cases/1/posts",
            Some(AGENT),
            Some(moved),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = upload(
            &app,
            1,
            AGENT,
            &[("files", Some("late.txt"), "text/plain", b"late")],
            &[("if-match", &stale)],
        )
        .await;
        is_problem(&r, StatusCode::PRECONDITION_FAILED);
        // a form that is not one, an unknown field, a bad visibility: refused whole
        let uri = "/api/v1/cases/1/attachments";
        let json = Some(("application/json".to_string(), b"{}".to_vec()));
        let (status, _, _) = call_raw(&app, "POST", uri, Some(AGENT), json, &[]).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        let r = upload(
            &app,
            1,
            AGENT,
            &[
                ("files", Some("a.txt"), "text/plain", b"a"),
                ("colour", None, "", b"red"),
            ],
            &[],
        )
        .await;
        is_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["field"], "colour");
        let r = upload(
            &app,
            1,
            AGENT,
            &[
                ("visibility", None, "", b"public"),
                ("files", Some("a.txt"), "text/plain", b"a"),
            ],
            &[],
        )
        .await;
        assert_eq!(r.body["field"], "visibility", "{}", r.body);
        let truncated = (form(&[("files", Some("a.txt"), "text/plain", b"a")]).0, {
            let mut b = form(&[("files", Some("a.txt"), "text/plain", b"a")]).1;
            b.truncate(b.len() - 10);
            b
        });
        let (status, _, _) = call_raw(&app, "POST", uri, Some(AGENT), Some(truncated), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(
            listed(&app, 1, AGENT).await.body,
            serde_json::json!([]),
            "{name}: nothing kept"
        );
        let timeline = call(
            &app,
            "GET",
            "/api/v1/cases/1/timeline",
            Some(AGENT),
            None,
            &[],
        )
        .await;
        assert!(!timeline.body.to_string().contains("late.txt"), "{name}");
        // with the current version it goes in, and the case's version moves
        let now = format!("\"{}\"", before.body["version"].as_u64().unwrap() + 1);
        let r = upload(
            &app,
            1,
            AGENT,
            &[("files", Some("late.txt"), "text/plain", b"late")],
            &[("if-match", &now)],
        )
        .await;
        assert_eq!(ids(&r).len(), 1, "{name}");
        let etag = before.body["version"].as_u64().unwrap() + 2;
        assert_eq!(r.headers[header::ETAG], format!("\"{etag}\""));
    }
}

/// A body of `chunks` chunks of 64 KiB that counts what the server reads of it.
struct Counted {
    left: usize,
    read: Arc<std::sync::atomic::AtomicU64>,
}

impl axum::body::HttpBody for Counted {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        self.read
            .fetch_add(65536, std::sync::atomic::Ordering::SeqCst);
        let chunk = axum::body::Bytes::from(vec![b'x'; 65536]);
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(chunk))))
    }
}

/// Uploads `chunks` × 64 KiB to case 1 declaring `declared` bytes (a client that sends the
/// whole form before reading the answer, as browsers do), with `extra` headers; the answer
/// and how many bytes the server read.
async fn counted_upload(
    app: &axum::Router,
    declared: u64,
    chunks: usize,
    extra: &[(&str, &str)],
) -> (StatusCode, Value, u64) {
    use tower::ServiceExt;
    let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/cases/1/attachments")
        .header(header::AUTHORIZATION, format!("Bearer {AGENT}"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=b1")
        .header(header::CONTENT_LENGTH, declared);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let body = axum::body::Body::new(Counted {
        left: chunks,
        read: read.clone(),
    });
    let r = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let problem = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (
        status,
        problem,
        read.load(std::sync::atomic::Ordering::SeqCst),
    )
}

#[tokio::test]
async fn an_upload_refused_as_too_large_is_read_to_its_end_so_the_client_sees_why() {
    let app = limited(1000).await;
    // 3 MiB, over the 1,000 bytes and 1 MiB of form the route takes: read whole, then 413
    let chunks = 48;
    let all = chunks as u64 * 65536;
    let (status, problem, read) = counted_upload(&app, all, chunks, &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(problem["field"], "files", "{problem}");
    assert_eq!(read, all, "the refused body is read to its end");
    // declaring more than the drain bound: answered without reading it all
    let (status, _, read) =
        counted_upload(&app, all + casework_core::limits::MAX_DRAIN, chunks, &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(read < all, "read {read} of a body declared past the bound");
    // a client waiting for `100 Continue` sends nothing more after the answer: nothing read
    let (status, _, read) = counted_upload(&app, all, chunks, &[("expect", "100-continue")]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(read < all, "read {read} of a body whose client waits");
    // a body the route takes is read once, as it was sent (nothing drained twice)
    let five = [b'x'; 5];
    let r = upload(
        &app,
        1,
        AGENT,
        &[("files", Some("a.bin"), "application/octet-stream", &five)],
        &[],
    )
    .await;
    assert_eq!(ids(&r).len(), 1);
}
