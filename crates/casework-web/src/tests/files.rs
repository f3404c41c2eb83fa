//! Files on the pages: the desk's "Attach files" composer and the portal's reply with
//! files (multipart forms, without JavaScript, CSRF-checked), links on each timeline to what
//! the visitor may see, downloads that are never a page, and the workflow file's limit
//! shown on the page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use casework_core::WorkflowConfig;

use super::{Desk, JORDAN, reply};

/// The links to case `n`'s files on a page, in page order.
fn file_links(body: &str, base: &str) -> Vec<String> {
    body.split(&format!("href=\"{base}/"))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|id| format!("{base}/{id}"))
        .collect()
}

#[tokio::test]
async fn an_agent_attaches_files_and_they_are_linked_on_the_timeline_and_served_as_downloads() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stops", "Jordan", JORDAN).await;
    let page = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    assert!(
        page.body.contains("enctype=\"multipart/form-data\""),
        "the composer works without JavaScript"
    );
    assert!(
        page.body.contains("Up to 25 MB together"),
        "the limit is said"
    );

    let html = b"<!DOCTYPE html><script>alert(document.cookie)</script>";
    let r = desk
        .post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", "customer"), ("text", "The page they sent")],
            &[
                ("<img src=x onerror=alert(1)>.html", html),
                ("notes.txt", b"plain notes"),
            ],
            true,
        )
        .await;
    r.redirects_to(&format!("/cases/{n}?done=files"));
    let r = desk
        .post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", "internal")],
            &[("secret.txt", b"staff only")],
            true,
        )
        .await;
    r.redirects_to(&format!("/cases/{n}?done=files"));

    let page = desk
        .get(&format!("/cases/{n}?done=files"), Some("ana"))
        .await;
    assert!(page.body.contains("Files added to the case."), "the notice");
    assert!(
        page.body
            .contains("download>&#60;img src=x onerror=alert(1)&#62;.html</a>"),
        "the name is escaped"
    );
    assert!(!page.body.contains("<img src=x"));
    assert!(page.body.contains("Attached: secret.txt"));
    let base = format!("/cases/{n}/files");
    let links = file_links(&page.body, &base);
    assert_eq!(links.len(), 3, "{links:?}");

    // the HTML file: a download of opaque bytes, with the download's own strict policy
    let html_link = links
        .iter()
        .find(|l| {
            page.body
                .contains(&format!("href=\"{l}\" download>&#60;img"))
        })
        .unwrap();
    let got = desk.get(html_link, Some("ana")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body.as_bytes(), html);
    assert_eq!(
        got.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(got.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        got.headers[header::CONTENT_SECURITY_POLICY],
        "sandbox; default-src 'none'"
    );
    assert_eq!(
        got.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"<img src=x onerror=alert(1)>.html\"; \
         filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.html"
    );

    // the customer's page links the two customer-visible files, not the internal one
    let portal = desk
        .get(&format!("/portal/cases/{n}"), Some("jordan"))
        .await;
    let theirs = file_links(&portal.body, &format!("/portal/cases/{n}/files"));
    assert_eq!(theirs.len(), 2, "{}", portal.body);
    assert!(!portal.body.contains("secret.txt"));
    for link in &theirs {
        let got = desk.get(link, Some("jordan")).await;
        assert_eq!(got.status, StatusCode::OK, "{link}");
        assert!(
            got.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("attachment; ")
        );
    }
    let secret = links
        .iter()
        .find(|l| !theirs.iter().any(|t| t.ends_with(&l[base.len()..])))
        .unwrap();
    let id = &secret[base.len()..];
    let refused = desk
        .get(&format!("/portal/cases/{n}/files{id}"), Some("jordan"))
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(!refused.body.contains("staff only"));
    // and the desk's address is not for customers
    let refused = desk.get(secret, Some("jordan")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_customer_replies_with_files_from_the_portal_and_an_empty_file_input_is_no_file() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stops", "Jordan", JORDAN).await;
    let page = desk
        .get(&format!("/portal/cases/{n}"), Some("jordan"))
        .await;
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page.body.contains("name=\"files\" type=\"file\" multiple"));
    let r = desk
        .post_files(
            &format!("/portal/cases/{n}/reply"),
            "jordan",
            &[("body", "Here is the log")],
            &[("sync.log", b"ERROR 42")],
            true,
        )
        .await;
    r.redirects_to(&format!("/portal/cases/{n}?done=replied"));
    // a reply whose file input was left empty (a part with no name and no bytes)
    let r = desk
        .post_files(
            &format!("/portal/cases/{n}/reply"),
            "jordan",
            &[("body", "And one more thing")],
            &[("", b"")],
            true,
        )
        .await;
    r.redirects_to(&format!("/portal/cases/{n}?done=replied"));
    let files = desk
        .svc
        .attachments(&desk.actor("ana"), n.to_string().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file_name, "sync.log");
    assert_eq!(files[0].added_by, "Jordan Blake");
    let staff = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    assert!(staff.body.contains("Here is the log") && staff.body.contains("And one more thing"));
    let link = format!("/cases/{n}/files/{}", files[0].id);
    assert!(
        staff
            .body
            .contains(&format!("href=\"{link}\" download>sync.log</a>"))
    );
    assert_eq!(desk.get(&link, Some("ana")).await.body, "ERROR 42");
    // Eve gets nothing of it, under any case number
    for path in [
        format!("/portal/cases/{n}/files/{}", files[0].id),
        format!("/portal/cases/999/files/{}", files[0].id),
    ] {
        let r = desk.get(&path, Some("eve")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.body.contains("ERROR 42"));
    }
    let r = desk
        .post_files(
            &format!("/portal/cases/{n}/reply"),
            "eve",
            &[("body", "mine now")],
            &[("x.txt", b"x")],
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // a form without its token changes nothing
    let r = desk
        .post_files(
            &format!("/portal/cases/{n}/reply"),
            "jordan",
            &[("body", "forged")],
            &[("forged.txt", b"x")],
            false,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = desk
        .post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", "internal")],
            &[("forged.txt", b"x")],
            false,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let after = desk
        .svc
        .attachments(&desk.actor("ana"), n.to_string().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(after.len(), 1, "nothing forged was kept");
}

/// A desk whose workflow file sets `[attachments]` to `limits`, with Jordan's case "Sync
/// stops" and its number.
async fn small_desk(limits: &str) -> (Desk, u64) {
    let text = format!(
        "{}\n[attachments]\n{limits}\n",
        casework_core::config::DEFAULT_WORKFLOW
    );
    let desk = Desk::with_config(WorkflowConfig::parse(&text).unwrap()).await;
    let n = desk.open("Sync stops", "Jordan", JORDAN).await;
    (desk, n)
}

#[tokio::test]
async fn files_over_the_workflow_files_limit_are_refused_with_the_reason_on_the_page() {
    let (desk, n) = small_desk("max_message_bytes = 2000\nmax_file_bytes = 1500").await;
    // more than the route reads at all (the limit plus 1 MiB of form)
    let huge = vec![b'x'; 2000 + crate::MAX_FORM + 1];
    let r = desk
        .post_files(
            &format!("/portal/cases/{n}/reply"),
            "jordan",
            &[("body", "The big one")],
            &[("huge.bin", &huge)],
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.body
            .contains("The files are larger than the 2.0 KB a post may carry"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("aria-invalid=\"true\" aria-errormessage=\"err-reply-files\"")
    );
    // the same at the desk, where the page shows the composer open with the reason
    let r = desk
        .post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", "internal")],
            &[("huge.bin", &huge)],
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("id=\"err-files-files\""), "{}", r.body);
    // read whole, but over a setting: the service's reason, by the field
    let r = desk
        .post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", "internal")],
            &[("big.bin", &[b'x'; 1501])],
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("max_file_bytes"), "{}", r.body);
    assert!(r.body.contains("id=\"err-files-files\""));
    let r = desk
        .post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", "nobody")],
            &[("a.txt", b"a")],
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose who may see the files."));
    let none = desk
        .svc
        .attachments(&desk.actor("ana"), n.to_string().parse().unwrap())
        .await
        .unwrap();
    assert!(none.is_empty(), "nothing refused was kept");
}

/// A multipart upload of `declared` bytes (its `Content-Length`), sent as `chunks` chunks
/// of 64 KiB, counting the bytes the server reads.
fn counted_upload(path: &str, declared: u64, chunks: usize) -> (Request<Body>, Arc<AtomicU64>) {
    use futures_util::StreamExt;
    let read = Arc::new(AtomicU64::new(0));
    let seen = read.clone();
    let stream = futures_util::stream::iter(0..chunks).map(move |_| {
        seen.fetch_add(65536, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b'x'; 65536])
    });
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("x-test-visitor", "jordan")
        .header(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=----WebKitFormBoundaryq7Y2cKc0w9uP3xL1",
        )
        .header(header::CONTENT_LENGTH, declared)
        .body(Body::from_stream(stream))
        .unwrap();
    (req, read)
}

#[tokio::test]
async fn a_form_declared_over_the_limit_gets_the_page_saying_why_unread() {
    let (desk, n) = small_desk("max_message_bytes = 2000").await;
    let path = format!("/portal/cases/{n}/reply");
    // 3 MiB, over the 2,000 bytes and 1 MiB of form the route takes: the page says why
    // without reading it (the request layers of `casework serve` drain it, so the browser,
    // still sending, reads this page: casework-http's tests)
    let chunks = 48;
    let (req, read) = counted_upload(&path, chunks as u64 * 65536, chunks);
    let r = reply(&desk.app, req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.body
            .contains("The files are larger than the 2.0 KB a post may carry"),
        "{}",
        r.body
    );
    assert_eq!(read.load(Ordering::SeqCst), 0);
}
