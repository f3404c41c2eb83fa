//! The admin pages: people, passwords, API tokens, the outbox and the quarantine, for those
//! whose role may manage; everyone else is refused by the service, and customers never reach them.

use axum::http::StatusCode;
use casework_core::model::OutboxStatus;

use super::{Desk, JORDAN};
use crate::admin::QUARANTINE_PAGE;

#[tokio::test]
async fn an_admin_adds_a_person_and_sets_their_password_and_an_agent_may_only_look() {
    let desk = Desk::new().await;
    let root = desk.get("/admin/people", Some("root")).await;
    assert_eq!(root.status, StatusCode::OK);
    assert!(
        root.body.contains(">Admin</a>"),
        "the desk links the admin pages"
    );
    for name in ["root", "Ana Lopez", "Lee Park"] {
        assert!(root.body.contains(&format!("<td>{name}</td>")), "{name}");
    }
    // a bad email is refused next to its field, and nothing is added
    let bad = desk
        .post(
            "/admin/people",
            "root",
            &[
                ("name", "Sam Reed"),
                ("role", "agent"),
                ("email", "not an email"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("person", "email").is_some(), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"Sam Reed\""),
        "what was typed is kept"
    );
    let added = desk
        .post(
            "/admin/people",
            "root",
            &[
                ("name", "Sam Reed"),
                ("role", "lead"),
                ("email", "sam@support.example"),
            ],
        )
        .await;
    added.redirects_to("/admin/people?done=person-saved");
    let listed = desk
        .get("/admin/people?done=person-saved", Some("root"))
        .await;
    assert!(listed.body.contains("Person saved."));
    assert!(
        listed
            .body
            .contains("<td>Sam Reed</td><td>Lead</td><td>sam@support.example</td>")
    );
    // a password: too short is refused and never echoed; a good one signs Sam in
    let short = desk
        .post(
            "/admin/people/password",
            "root",
            &[("name", "Sam Reed"), ("password", "hunter2")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = short.field_error("password", "password").unwrap();
    assert!(e.contains("at least 12"), "{e}");
    assert!(!short.body.contains("hunter2"));
    let set = desk
        .post(
            "/admin/people/password",
            "root",
            &[("name", "Sam Reed"), ("password", "correct horse battery")],
        )
        .await;
    set.redirects_to("/admin/people?done=password-set");
    let signed_in = desk
        .svc
        .sign_in("Sam Reed", "correct horse battery", "192.0.2.7")
        .await;
    assert!(signed_in.is_ok());

    // an agent sees the people but no forms, and a change of theirs is refused
    let ana = desk.get("/admin/people", Some("ana")).await;
    assert_eq!(ana.status, StatusCode::OK);
    assert!(!ana.body.contains(">Admin</a>"));
    assert!(!ana.body.contains("action=\"/admin/people\""));
    let refused = desk
        .post(
            "/admin/people",
            "ana",
            &[("name", "Ana Lopez"), ("role", "admin")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let people = desk.svc.people(&desk.actor("root")).await.unwrap();
    let ana = people.iter().find(|p| p.name == "Ana Lopez").unwrap();
    assert_eq!(
        ana.role,
        casework_core::model::Role::Agent,
        "still an agent"
    );
}

#[tokio::test]
async fn an_admin_issues_a_token_shown_once_and_revokes_it() {
    let desk = Desk::new().await;
    let issued = desk
        .post(
            "/admin/tokens",
            "root",
            &[("name", "billing-sync"), ("role", "service")],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK);
    let open = "<code class=\"secret\">";
    let at = issued.body.find(open).unwrap() + open.len();
    let secret = &issued.body[at..at + issued.body[at..].find('<').unwrap()];
    assert!(secret.starts_with("cw_") && secret.len() > 40, "{secret}");
    let actor = desk.svc.authenticate(secret).await.unwrap().unwrap();
    assert_eq!(actor.name, "billing-sync");
    // the list never shows it again
    let list = desk.get("/admin/tokens", Some("root")).await;
    assert!(list.body.contains("<td>billing-sync</td>"));
    assert!(!list.body.contains(secret));
    // a customer token needs the customer's email, said next to the field
    let bad = desk
        .post(
            "/admin/tokens",
            "root",
            &[("name", "portal"), ("role", "customer")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.field_error("token", "customer_email").is_some(),
        "{}",
        bad.body
    );
    // revoked, it opens nothing
    let id = desk.svc.tokens(&desk.actor("root")).await.unwrap()[0]
        .id
        .clone();
    let revoked = desk
        .post(&format!("/admin/tokens/{id}/revoke"), "root", &[])
        .await;
    revoked.redirects_to("/admin/tokens?done=token-revoked");
    assert!(desk.svc.authenticate(secret).await.unwrap().is_none());
    let list = desk.get("/admin/tokens", Some("root")).await;
    assert!(list.body.contains("Revoked "));
    // an agent may not see tokens at all
    let ana = desk.get("/admin/tokens", Some("ana")).await;
    assert_eq!(ana.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_outbox_lists_queued_mail_by_status_for_staff_who_may_read_it() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stopped", "Jordan", JORDAN).await;
    let id = desk.queue_follow_up(n).await;
    let all = desk.get("/admin/outbox", Some("root")).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains(JORDAN));
    assert!(all.body.contains("<td>queued</td>"));
    assert!(all.body.contains("href=\"/cases/1\">00000001</a>"));
    let sent = desk.get("/admin/outbox?status=sent", Some("root")).await;
    assert!(!sent.body.contains(JORDAN) && sent.body.contains("Nothing here."));

    // a queued message offers "Send now" and "Cancel"; cancelled, it offers "Retry" only
    let (retry, cancel) = (
        format!("/admin/outbox/{id}/retry"),
        format!("/admin/outbox/{id}/cancel"),
    );
    for path in [&retry, &cancel] {
        assert!(all.body.contains(&format!("action=\"{path}\"")), "{path}");
    }
    assert!(all.body.contains(">Send now</button>"));
    desk.post(&cancel, "ana", &[])
        .await
        .redirects_to("/admin/outbox?done=email-cancelled");
    let after = desk
        .get("/admin/outbox?done=email-cancelled", Some("ana"))
        .await;
    assert!(after.body.contains("<td>cancelled</td>"));
    assert!(after.body.contains("Email cancelled: it will not be sent."));
    assert!(!after.body.contains(&format!("action=\"{cancel}\"")));
    assert!(after.body.contains(">Retry</button>"));
    let page = desk.get("/cases/1", Some("ana")).await;
    assert!(page.body.contains("cancelled"), "the case page shows it");
    // cancelling twice is refused with the reason, and changes nothing
    let twice = desk.post(&cancel, "ana", &[]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.body.contains("is cancelled"), "{}", twice.body);
    desk.post(&retry, "root", &[])
        .await
        .redirects_to("/admin/outbox?done=email-retried");
    let queued = desk.get("/admin/outbox?status=queued", Some("root")).await;
    assert!(queued.body.contains(JORDAN));
    // without a CSRF token, nothing is done
    let forged = desk.post_raw(&cancel, Some("root"), &[], &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let still = desk
        .svc
        .outbox(&desk.actor("root"), None, 10)
        .await
        .unwrap();
    assert_eq!(still[0].status, OutboxStatus::Queued);
}

#[tokio::test]
async fn kept_mail_is_read_as_text_released_once_its_reason_is_gone_or_dropped() {
    use casework_core::service::Intake;
    let desk = Desk::new().await;
    let root = desk.actor("root");
    let keep =
        async |raw: String| match desk.svc.ingest_or_keep(&root, "http", raw.as_bytes()).await {
            Ok(Intake::Quarantined(kept)) => kept,
            other => panic!("not kept: {other:?}"),
        };
    // markup in a message nobody can take: shown as text, never as markup
    let junk_raw = "Subject: <script>alert(1)</script>\n\nno sender at all";
    let junk = keep(junk_raw.into()).await;
    // a sender over the per-minute limit of new cases by email
    for i in 0..5 {
        let raw =
            format!("From: flood@customer.example\nMessage-ID: <m{i}@x>\nSubject: s{i}\n\nbody");
        desk.svc
            .ingest_or_keep(&root, "http", raw.as_bytes())
            .await
            .unwrap();
    }
    let late =
        keep("From: flood@customer.example\nMessage-ID: <m5@x>\nSubject: s5\n\nbody".into()).await;

    let list = desk.get("/admin/quarantine", Some("root")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("2 kept messages"), "{}", list.body);
    // its size as people read it
    let size = format!("<td>{} bytes</td>", junk_raw.len());
    assert!(list.body.contains(&size), "{size}: {}", list.body);
    assert!(
        list.body
            .contains(&format!("href=\"/admin/quarantine/{}\"", junk.id))
    );
    assert!(!list.body.contains("<script>alert"));
    let shown = desk
        .get(&format!("/admin/quarantine/{}", junk.id), Some("root"))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown
            .body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains("<script>alert"));
    // an agent may not read what anyone wrote about any case
    assert_eq!(
        desk.get("/admin/quarantine", Some("ana")).await.status,
        StatusCode::FORBIDDEN
    );
    let path = format!("/admin/quarantine/{}/drop", late.id);
    assert_eq!(
        desk.post(&path, "ana", &[]).await.status,
        StatusCode::FORBIDDEN
    );

    // released while the sender is still over the limit: it stays, and the page says why
    let release = format!("/admin/quarantine/{}/release", late.id);
    let again = desk.post(&release, "root", &[]).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert!(again.body.contains("Still refused"), "{}", again.body);
    // a minute on, the pipeline takes it: it opens its case and leaves the quarantine
    desk.clock.advance(jiff::SignedDuration::from_secs(120));
    let taken = desk.post(&release, "root", &[]).await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.body);
    assert_eq!(taken.headers["location"], "/cases/6?done=released");
    // dropped for good
    let dropped = desk
        .post(&format!("/admin/quarantine/{}/drop", junk.id), "root", &[])
        .await;
    assert_eq!(
        dropped.headers["location"],
        "/admin/quarantine?done=dropped"
    );
    let list = desk
        .get("/admin/quarantine?done=dropped", Some("root"))
        .await;
    assert!(list.body.contains("Nothing kept."), "{}", list.body);
    assert!(list.body.contains("dropped from the quarantine for good"));
}

#[tokio::test]
async fn the_quarantine_pages_with_a_cursor() {
    let desk = Desk::new().await;
    let root = desk.actor("root");
    // one more than a page: bytes that are no email, each kept (all at one time: the order
    // within a time is by id)
    for i in 0..=QUARANTINE_PAGE {
        desk.svc
            .ingest_or_keep(&root, "http", format!("not an email {i}").as_bytes())
            .await
            .unwrap();
    }
    let first = desk.get("/admin/quarantine", Some("root")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(
        first
            .body
            .contains(&format!("{QUARANTINE_PAGE} kept messages")),
        "{}",
        first.body
    );
    assert!(!first.body.contains("First page"));
    let next = first
        .body
        .split("href=\"")
        .find(|s| s.starts_with("/admin/quarantine?cursor="))
        .and_then(|s| s.split('"').next())
        .expect("a link to the next page")
        .replace("&#38;", "&");
    let second = desk.get(&next, Some("root")).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("1 kept message,"), "{}", second.body);
    assert!(second.body.contains("First page"));
    assert!(!second.body.contains("rel=\"next\""));
    // the message on the second page is the one the first did not show
    let all = desk
        .svc
        .quarantine_list(&root, None, QUARANTINE_PAGE + 1)
        .await
        .unwrap();
    let last = &all.items[QUARANTINE_PAGE as usize];
    assert!(second.body.contains(&last.id));
    assert!(
        !first
            .body
            .contains(&format!("/admin/quarantine/{}\"", last.id))
    );
    // a cursor this page never made is refused, naming it
    let bad = desk.get("/admin/quarantine?cursor=zzz", Some("root")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("cursor"), "{}", bad.body);
}
