//! The access matrix on the pages (QUALITY.md recipe 4): a marker planted in every field a
//! customer must not see, on two customers' cases; every page, fragment and form a customer
//! can reach is asked for, and the marker never comes back, nor the other customer's case.

use axum::http::StatusCode;
use casework_core::Command;
use casework_core::attachment::Upload;
use casework_core::model::{
    CloseMode, ContactChannel, ContactOutcome, LinkTarget, PostKind, RefKind, Visibility,
};
use casework_core::service::FilePost;
use casework_core::workflow::CaseEdit;

use super::{Desk, EVE, JORDAN};

const MARKER: &str = "MARKER-7f3a-internal";

/// Jordan's case 1 and Eve's case 2, each with the marker in every internal field: an
/// internal note and internal call notes, the categorization, a contact attempt's note, a
/// swarm question, a transition note, an escalation reason, a reopen reason, a linked
/// defect's key; and one customer-visible note.
async fn planted() -> Desk {
    let desk = Desk::new().await;
    let ana = desk.actor("ana");
    let lee = desk.actor("lee");
    desk.svc
        .add_defect(&ana, &format!("{MARKER}-BUG"), "t", "", "open")
        .await
        .unwrap();
    for (title, name, email) in [
        ("Jordan's case about sync", "Jordan", JORDAN),
        ("Eve's case about sync", "Eve", EVE),
    ] {
        let n = desk
            .open(title, name, email)
            .await
            .to_string()
            .parse()
            .unwrap();
        let run = |who: &casework_core::model::Actor, cmd: Command| {
            let svc = desk.svc.clone();
            let who = who.clone();
            async move { svc.execute(&who, n, None, cmd).await.unwrap() }
        };
        run(
            &ana,
            Command::AddPost {
                kind: PostKind::Note,
                body: format!("{MARKER} note sync"),
                visibility: Visibility::Internal,
            },
        )
        .await;
        run(
            &ana,
            Command::AddPost {
                kind: PostKind::CallNotes,
                body: format!("{MARKER} call notes sync"),
                visibility: Visibility::Internal,
            },
        )
        .await;
        run(
            &ana,
            Command::AddPost {
                kind: PostKind::Note,
                body: "visible note sync".into(),
                visibility: Visibility::Customer,
            },
        )
        .await;
        run(
            &ana,
            Command::Edit(CaseEdit {
                product_area: Some(format!("{MARKER}-area")),
                functionality: Some(format!("{MARKER}-functionality")),
                issue: Some(format!("{MARKER}-issue")),
                ..CaseEdit::default()
            }),
        )
        .await;
        run(
            &ana,
            Command::RecordContact {
                channel: ContactChannel::Email,
                outcome: ContactOutcome::NoResponse,
                note: Some(MARKER.into()),
            },
        )
        .await;
        run(
            &ana,
            Command::Swarm {
                group: "g".into(),
                question: format!("{MARKER} sync"),
            },
        )
        .await;
        run(
            &ana,
            Command::Transition {
                status: "In Progress".into(),
                note: Some(MARKER.into()),
            },
        )
        .await;
        run(
            &lee,
            Command::Escalate {
                reason: MARKER.into(),
            },
        )
        .await;
        run(
            &lee,
            Command::Close {
                mode: CloseMode::Temporary,
                resolution: None,
                notify_customer: false,
            },
        )
        .await;
        run(
            &lee,
            Command::Reopen {
                reason: format!("{MARKER} sync"),
                notify_customer: false,
            },
        )
        .await;
        run(
            &ana,
            Command::Link(LinkTarget {
                kind: RefKind::Defect,
                reference: format!("{MARKER}-BUG"),
            }),
        )
        .await;
        // a customer-visible file, and an internal one carrying the marker
        for (visibility, name, bytes) in [
            (
                Visibility::Customer,
                "visible.txt".to_string(),
                b"visible file".to_vec(),
            ),
            (
                Visibility::Internal,
                format!("{MARKER}.txt"),
                MARKER.as_bytes().to_vec(),
            ),
        ] {
            let post = FilePost {
                note: None,
                visibility,
                files: vec![Upload {
                    file_name: Some(name),
                    content_type: "text/plain".into(),
                    bytes,
                }],
            };
            desk.svc.attach(&ana, n, None, post).await.unwrap();
        }
    }
    desk
}

/// Case `n`'s customer-visible and internal file ids.
async fn file_ids(desk: &Desk, n: u64) -> (String, String) {
    let files = desk
        .svc
        .attachments(&desk.actor("ana"), n.to_string().parse().unwrap())
        .await
        .unwrap();
    let id = |v: Visibility| files.iter().find(|f| f.visibility == v).unwrap().id.clone();
    (id(Visibility::Customer), id(Visibility::Internal))
}

#[tokio::test]
async fn staff_see_the_marker_so_the_matrix_would_notice_a_leak() {
    let desk = planted().await;
    let page = desk.get("/cases/1", Some("ana")).await;
    let planted = page.body.matches(MARKER).count();
    assert!(planted >= 11, "only {planted} markers on the staff page");
    let list = desk.get("/cases?q=sync", Some("ana")).await;
    assert!(list.body.contains("Eve&#39;s case"));
}

#[tokio::test]
async fn a_customer_never_receives_an_internal_entry_or_another_customers_case() {
    let desk = planted().await;
    // every page and fragment Jordan can ask for, with the status expected
    let gets: &[(&str, u16)] = &[
        ("/", 303),
        ("/portal", 200),
        ("/portal/new", 200),
        ("/portal/cases/1", 200),
        ("/portal/cases/1?done=replied", 200),
        ("/portal/cases/1?timeline=all", 200),
        ("/portal/cases/2?timeline=all", 404),
        ("/portal/cases/2", 404),
        ("/portal/cases/00000002", 404),
        ("/portal/cases/999", 404),
        ("/portal?cursor=c1", 200),
        ("/cases", 403),
        ("/cases?q=MARKER", 403),
        ("/cases/1", 403),
        ("/cases/2", 403),
        ("/cases/1?draft=summary", 403),
        ("/cases/1?timeline=all", 403),
        ("/cases/1/similar", 403),
        ("/cases/2/similar", 403),
        ("/cases/go?number=2", 403),
        ("/reports/reopens", 403),
        ("/admin/people", 403),
        ("/admin/tokens", 403),
        ("/admin/outbox", 403),
        ("/admin/quarantine", 403),
        ("/admin/quarantine/q-0123", 403),
        ("/reports/reopens/cases?group_by=owner&key=%28none%29", 403),
        ("/sign-in", 200),
        ("/no/such/page", 404),
    ];
    for (path, status) in gets {
        for htmx in [false, true] {
            let r = if htmx {
                desk.htmx_get(path, "jordan").await
            } else {
                desk.get(path, Some("jordan")).await
            };
            assert_eq!(r.status.as_u16(), *status, "GET {path}: {}", r.body);
            assert!(!r.body.contains(MARKER), "GET {path} leaked the marker");
            assert!(
                !r.body.contains("Eve&#39;s case"),
                "GET {path} showed Eve's case"
            );
            assert!(!r.body.contains("eve@customer.example"), "GET {path}");
        }
    }
    // files: Jordan's visible one only, through the portal only
    let (visible, internal) = file_ids(&desk, 1).await;
    let (eves, eves_internal) = file_ids(&desk, 2).await;
    let files: &[(String, u16)] = &[
        (format!("/portal/cases/1/files/{visible}"), 200),
        (format!("/portal/cases/1/files/{internal}"), 404),
        (format!("/portal/cases/1/files/{eves}"), 404),
        (format!("/portal/cases/2/files/{eves}"), 404),
        (format!("/portal/cases/2/files/{eves_internal}"), 404),
        (format!("/portal/cases/2/files/{visible}"), 404),
        ("/portal/cases/1/files/nope".to_string(), 404),
        (format!("/cases/1/files/{visible}"), 403),
        (format!("/cases/1/files/{internal}"), 403),
        (format!("/cases/2/files/{eves}"), 403),
    ];
    for (path, status) in files {
        let r = desk.get(path, Some("jordan")).await;
        assert_eq!(r.status.as_u16(), *status, "GET {path}: {}", r.body);
        assert!(!r.body.contains(MARKER), "GET {path} leaked the marker");
        assert!(!r.body.contains("Eve&#39;s case"), "GET {path}");
    }
    let own = desk.get("/portal/cases/1", Some("jordan")).await;
    assert!(
        own.body
            .contains(&format!("/portal/cases/1/files/{visible}"))
    );
    assert!(
        !own.body.contains(&internal),
        "the internal file is not linked"
    );
    // Jordan's own page has the customer-visible note and not one internal word
    let own = desk.get("/portal/cases/1", Some("jordan")).await;
    assert!(own.body.contains("visible note sync"));
    for internal in [
        "Help requested",
        "Contact attempt",
        "Escalated",
        "Internal</span>",
    ] {
        assert!(!own.body.contains(internal), "{internal}");
    }
    // every form, on Jordan's case and on Eve's
    let before = desk.version(2).await;
    type Post<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);
    let posts: &[Post] = &[
        ("/portal/cases/2/reply", &[("body", "hi")], 404),
        ("/portal/cases/2/reopen", &[("body", "again")], 404),
        ("/portal/cases/1/reply", &[("body", "")], 422),
        ("/portal/cases/1/reopen", &[("body", " ")], 422),
        ("/portal/cases", &[("title", "")], 422),
        (
            "/cases/2/posts",
            &[("kind", "note"), ("body", "x"), ("visibility", "customer")],
            403,
        ),
        (
            "/cases/1/posts",
            &[("kind", "note"), ("body", "x"), ("visibility", "customer")],
            403,
        ),
        (
            "/cases/1/emails/preview",
            &[("template", "follow_up"), ("discussed", "x")],
            403,
        ),
        ("/cases/1/take", &[("version", "1")], 403),
        (
            "/admin/people",
            &[("name", "Mallory"), ("role", "admin")],
            403,
        ),
        (
            "/admin/people/password",
            &[("name", "root"), ("password", "a long enough password")],
            403,
        ),
        ("/admin/tokens", &[("name", "x"), ("role", "admin")], 403),
        ("/admin/quarantine/q-0123/release", &[], 403),
        ("/admin/quarantine/q-0123/drop", &[], 403),
        ("/admin/outbox/m-0123/retry", &[], 403),
        ("/admin/outbox/m-0123/cancel", &[], 403),
        ("/cases/1/close", &[("mode", "temporary")], 403),
    ];
    for (path, fields, status) in posts {
        let r = desk.post(path, "jordan", fields).await;
        assert_eq!(r.status.as_u16(), *status, "POST {path}: {}", r.body);
        assert!(!r.body.contains(MARKER), "POST {path} leaked the marker");
        assert!(
            !r.body.contains("Eve&#39;s case"),
            "POST {path} showed Eve's case"
        );
    }
    // forms with files, on Eve's case and at the desk
    for (path, status) in [
        ("/portal/cases/2/reply", 404),
        ("/cases/1/attachments", 403),
        ("/cases/2/attachments", 403),
    ] {
        let r = desk
            .post_files(
                path,
                "jordan",
                &[("body", "hi"), ("visibility", "customer")],
                &[("x.txt", b"x")],
                true,
            )
            .await;
        assert_eq!(r.status.as_u16(), status, "POST {path}: {}", r.body);
        assert!(!r.body.contains(MARKER), "POST {path} leaked the marker");
    }
    assert_eq!(
        desk.version(2).await,
        before,
        "a customer's form changed Eve's case"
    );
    // what Jordan's own refused reply re-renders is still the customer's view
    let r = desk
        .post("/portal/cases/1/reply", "jordan", &[("body", "")])
        .await;
    assert!(r.body.contains("visible note sync"));
    assert_eq!(StatusCode::UNPROCESSABLE_ENTITY, r.status);
}
