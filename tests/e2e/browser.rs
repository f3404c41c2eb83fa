//! The desk and the portal in a real headless Chromium, driven over WebDriver: pages render
//! under the content security policy, a form submits and comes back (post/redirect/get),
//! htmx previews an email as it is typed, the keyboard reaches the skip link first, and
//! screenshots of the main screens are taken (`target/screenshots/`; `cargo xtask
//! screenshots` shrinks them into `docs/screenshots/`). A member of staff signs in and out
//! through the real form; a customer signs in with a link read from a real SMTP server
//! and replies; the walk through the workflow names its visitors by a test-only cookie
//! (`casework_e2e::browser::CookieIdentify`). Both seed documents are walked whole by an
//! agent and a lead signed in through the form: the eleven steps to a resolved close, then
//! finding the closed case and reopening it with the customer told.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use casework_core::Command;
use casework_core::model::{
    Actor, CloseMode, Customer, NewArticle, Origin, PostKind, Priority, Role, Visibility,
};
use casework_core::workflow::{CaseEdit, NewCase};
use casework_e2e::browser::{Chromedriver, save_screenshot, serve_signed_in, serve_web, visit_as};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

/// Polls `check` (a page-source test) for up to ten seconds.
async fn wait_for(driver: &Client, what: &str, check: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let source = driver.source().await.unwrap();
        if check(&source) {
            return source;
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!("waited 10 s for {what}; the page is:\n{source}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `text` into the control with id `id`.
async fn type_into(driver: &Client, id: &str, text: &str) {
    let control = driver.find(Locator::Id(id)).await.unwrap();
    control.send_keys(text).await.unwrap();
}

/// Clicks the element `css` selects.
async fn click(driver: &Client, css: &str) {
    driver
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn shot(driver: &Client, name: &str) {
    let png = driver.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let path = save_screenshot(name, &png);
    assert!(path.exists());
}

fn customer(name: &str, email: &str) -> Customer {
    Customer {
        name: name.into(),
        email: email.parse().unwrap(),
        phone: Some("+1 555 0142".into()),
        account: Some("Northwind Utilities".into()),
    }
}

/// A store with a few cases at different points of the workflow, for the screens.
async fn desk() -> (casework_core::CaseService, HashMap<String, Actor>) {
    let (svc, _clock) = casework_e2e::service(Arc::new(casework_store_memory::MemoryStore::new()));
    let root = svc
        .register(None, casework_e2e::staff("Root Admin", Role::Admin))
        .await
        .unwrap();
    let root = Actor::from_person(&root);
    let ana = Actor::from_person(
        &svc.add_person(&root, casework_e2e::staff("Ana Lopez", Role::Agent))
            .await
            .unwrap(),
    );
    let lee = Actor::from_person(
        &svc.add_person(&root, casework_e2e::staff("Lee Park", Role::Lead))
            .await
            .unwrap(),
    );
    let jordan = Actor::customer("Jordan Blake", "jordan@northwind.example".parse().unwrap());
    svc.add_article(
        &ana,
        NewArticle {
            title: "Registering a data store with ArcGIS Server".into(),
            body: "Publishing fails with error 999999 when the data store is not registered."
                .into(),
            url: Some("https://support.example.com/kb/000012".into()),
        },
    )
    .await
    .unwrap();
    let open = |title: &str, who: Customer, priority: Priority| NewCase {
        title: title.into(),
        description: "Publishing a map service fails with error 999999 since the upgrade \
                      to 11.3."
            .into(),
        origin: Origin::Phone,
        priority,
        customer: who,
        product: Some("ArcGIS Server".into()),
        product_version: Some("11.3".into()),
    };
    let n1 = svc
        .open_case(
            &ana,
            open(
                "Publishing fails with error 999999",
                customer("Jordan Blake", "jordan@northwind.example"),
                Priority::High,
            ),
        )
        .await
        .unwrap()
        .number;
    let run = |who: &Actor, n, cmd| {
        let svc = svc.clone();
        let who = who.clone();
        async move { svc.execute(&who, n, None, cmd).await.unwrap() }
    };
    run(&ana, n1, Command::Take).await;
    run(
        &ana,
        n1,
        Command::AddPost {
            kind: PostKind::Note,
            body: "Suspect the data store registration; checking the logs.".into(),
            visibility: Visibility::Internal,
        },
    )
    .await;
    for (title, who, email, priority) in [
        (
            "Geocoding service times out",
            "Priya Shah",
            "priya@contoso.example",
            Priority::Medium,
        ),
        (
            "Licence expired after renewal",
            "Sam Okafor",
            "sam@fabrikam.example",
            Priority::Urgent,
        ),
        (
            "Print service returns blank PDF",
            "Jordan Blake",
            "jordan@northwind.example",
            Priority::Low,
        ),
    ] {
        let n = svc
            .open_case(&ana, open(title, customer(who, email), priority))
            .await
            .unwrap()
            .number;
        if priority == Priority::Low {
            run(
                &ana,
                n,
                Command::Edit(CaseEdit {
                    product_area: Some("Printing".into()),
                    ..CaseEdit::default()
                }),
            )
            .await;
            run(
                &lee,
                n,
                Command::Close {
                    mode: CloseMode::Temporary,
                    resolution: None,
                    notify_customer: false,
                },
            )
            .await;
            run(
                &lee,
                n,
                Command::Reopen {
                    reason: "The customer is back from leave".into(),
                    notify_customer: false,
                },
            )
            .await;
        }
    }
    let visitors = HashMap::from([
        ("ana".to_string(), ana),
        ("lee".to_string(), lee),
        ("jordan".to_string(), jordan),
    ]);
    (svc, visitors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_and_out_through_the_form_in_chromium() {
    const PASSWORD: &str = "a password for the browser test";
    let (svc, _) = desk().await;
    let svc = svc.with_credentials(Arc::new(casework_web::SystemCredentials));
    svc.set_password(&Actor::system("test"), "Ana Lopez", PASSWORD)
        .await
        .unwrap();
    let base = serve_signed_in(svc).await;
    let chrome = Chromedriver::start("sign-in");
    let driver = chrome.browser(1280, 900).await;

    // a case's address asks to sign in first, and comes back to the case after
    driver.goto(&format!("{base}/cases/1")).await.unwrap();
    wait_for(&driver, "the sign-in form", |s| {
        s.contains("signin-password")
    })
    .await;
    let url = driver.current_url().await.unwrap();
    assert!(url.as_str().contains("/sign-in?next=%2Fcases%2F1"), "{url}");
    type_into(&driver, "signin-name", "Ana Lopez").await;
    type_into(&driver, "signin-password", "not the password").await;
    click(&driver, "form[action='/sign-in'] button[type=submit]").await;
    wait_for(&driver, "the refusal", |s| {
        s.contains("Wrong name or password.")
    })
    .await;
    shot(&driver, "sign-in").await;
    // the name stays typed; the password does not
    type_into(&driver, "signin-password", PASSWORD).await;
    click(&driver, "form[action='/sign-in'] button[type=submit]").await;
    wait_for(&driver, "the case page", |s| {
        s.contains("Signed in as") && s.contains("Publishing fails")
    })
    .await;
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with("/cases/1")
    );
    let cookies = driver.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "casework_session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    // fantoccini does not re-export the cookie crate's SameSite: compare its name
    assert_eq!(format!("{:?}", session.same_site()), "Some(Lax)");
    assert!(
        cookies.iter().all(|c| c.name() != "casework_pre"),
        "the pre-session is gone"
    );

    // sign out: back to the sign-in page, and the desk asks again
    click(&driver, "form.sign-out button[type=submit]").await;
    wait_for(&driver, "signed out", |s| s.contains("Signed out.")).await;
    driver.goto(&format!("{base}/cases")).await.unwrap();
    wait_for(&driver, "the sign-in form again", |s| {
        s.contains("signin-password")
    })
    .await;
    driver.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_a_case_in_chromium_and_a_customer_sees_their_side() {
    let (svc, visitors) = desk().await;
    let base = serve_web(svc.clone(), visitors).await;
    let chrome = Chromedriver::start("desk");
    let driver = chrome.browser(1280, 900).await;
    visit_as(&driver, &base, "ana").await;

    // the case list
    driver.goto(&format!("{base}/cases")).await.unwrap();
    assert_eq!(driver.title().await.unwrap(), "All cases · Casework");
    let source = driver.source().await.unwrap();
    assert!(source.contains("Geocoding service times out"));
    // the keyboard's first stop is the skip link, and it is visible when focused
    let body = driver.active_element().await.unwrap();
    body.send_keys(&char::from(Key::Tab).to_string())
        .await
        .unwrap();
    let focused = driver.active_element().await.unwrap();
    assert_eq!(focused.text().await.unwrap(), "Skip to main content");
    assert!(focused.is_displayed().await.unwrap());
    driver.goto(&format!("{base}/cases")).await.unwrap();
    shot(&driver, "desk-cases").await;

    // the case page: open the call composer, fill it in, send it
    driver.goto(&format!("{base}/cases/1")).await.unwrap();
    click(&driver, "#compose-call > summary").await;
    type_into(&driver, "f-call-duration_minutes", "25").await;
    click(&driver, "input[name=screenshare]").await;
    type_into(&driver, "f-call-channel", "SPEC line").await;
    type_into(
        &driver,
        "f-call-notes",
        "Screenshare: the data store is not registered on the new server.",
    )
    .await;
    click(&driver, "#compose-call button[type=submit]").await;
    let page = wait_for(&driver, "the call to be logged", |s| {
        s.contains("Call logged.")
    })
    .await;
    assert!(page.contains("Call logged (outbound, 25 min, screenshare)"));
    let url = driver.current_url().await.unwrap();
    assert!(url.as_str().contains("done=call"), "{url}");
    let case = svc
        .case(&Actor::system("check"), "1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(case.version, 4, "the call was not written once");

    // htmx previews the follow-up email while it is typed, under the CSP
    click(&driver, "#compose-email > summary").await;
    type_into(
        &driver,
        "f-email-discussed",
        "We found that the data store was not registered after the upgrade.",
    )
    .await;
    wait_for(&driver, "the live preview", |s| {
        s.contains("[Case 00000001]") && s.contains("was not registered after the upgrade")
    })
    .await;
    driver
        .execute(
            "document.getElementById('f-email-documentation').scrollIntoView({block: 'start'});",
            vec![],
        )
        .await
        .unwrap();
    shot(&driver, "desk-email-preview").await;
    driver.goto(&format!("{base}/cases/1")).await.unwrap();
    shot(&driver, "desk-case").await;

    // the reopen report
    visit_as(&driver, &base, "lee").await;
    driver
        .goto(&format!("{base}/reports/reopens"))
        .await
        .unwrap();
    let report = driver.source().await.unwrap();
    assert!(report.contains("<svg"), "no chart");
    shot(&driver, "reports").await;

    // the same case on a phone
    driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    visit_as(&driver, &base, "ana").await;
    driver.goto(&format!("{base}/cases/1")).await.unwrap();
    let width = driver
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(
        width <= 390,
        "the case page scrolls sideways on a phone ({width}px)"
    );
    shot(&driver, "desk-case-phone").await;

    // the customer's side: their case, customer-visible entries only
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
    visit_as(&driver, &base, "jordan").await;
    driver
        .goto(&format!("{base}/portal/cases/1"))
        .await
        .unwrap();
    let portal = driver.source().await.unwrap();
    assert!(portal.contains("Screenshare: the data store is not registered"));
    assert!(!portal.contains("Suspect the data store registration"));
    shot(&driver, "portal-case").await;
    driver.close().await.unwrap();
}

/// A long case in a browser: the desk and the portal show the newest entries, and the link
/// to the earlier ones brings them in place (htmx, the address following); the customer's
/// never holds an internal entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_timelines_earlier_entries_come_in_on_a_click_in_chromium() {
    let (svc, visitors) = desk().await;
    let ana = visitors["ana"].clone();
    let n: casework_core::ids::CaseNumber = "1".parse().unwrap();
    for i in 1..=60 {
        let internal = i % 10 == 0;
        svc.execute(
            &ana,
            n,
            None,
            Command::AddPost {
                kind: PostKind::Note,
                body: if internal {
                    format!("INTERNAL-{i}")
                } else {
                    format!("POST-{i}-")
                },
                visibility: if internal {
                    Visibility::Internal
                } else {
                    Visibility::Customer
                },
            },
        )
        .await
        .unwrap();
    }
    let base = serve_web(svc.clone(), visitors).await;
    let chrome = Chromedriver::start("timeline");
    let driver = chrome.browser(1280, 900).await;
    for (who, page) in [("ana", "/cases/1"), ("jordan", "/portal/cases/1")] {
        visit_as(&driver, &base, who).await;
        driver.goto(&format!("{base}{page}")).await.unwrap();
        let first = driver.source().await.unwrap();
        assert!(first.contains("POST-59-"), "{who}");
        assert!(
            !first.contains("POST-1-"),
            "{who}: the oldest entry is shown at first"
        );
        let link = driver
            .find(Locator::Css("#timeline p.earlier a"))
            .await
            .unwrap();
        assert!(link.text().await.unwrap().starts_with("Show the "), "{who}");
        link.click().await.unwrap();
        let all = wait_for(&driver, "the earlier entries", |s| s.contains("POST-1-")).await;
        assert!(all.contains("POST-59-"), "{who}");
        assert!(
            !all.contains("class=\"earlier\""),
            "{who}: the link is gone"
        );
        assert_eq!(all.matches("id=\"timeline-entries\"").count(), 1, "{who}");
        assert_eq!(all.matches("<h1").count(), 1, "{who}: one page, not two");
        let url = driver.current_url().await.unwrap();
        assert!(
            url.as_str().ends_with(&format!("{page}?timeline=all")),
            "{url}"
        );
        if who == "jordan" {
            assert!(
                !all.contains("INTERNAL-"),
                "an internal entry reached the customer"
            );
        } else {
            assert!(all.contains("INTERNAL-10"));
        }
    }
    driver.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_in_by_a_link_read_from_the_smtp_server_and_replies() {
    let (svc, _) = desk().await;
    let svc = svc.with_credentials(Arc::new(casework_web::SystemCredentials));
    let base = serve_signed_in(svc.clone()).await;
    let smtp = casework_e2e::SmtpServer::start("browser-link", &[]);
    let chrome = Chromedriver::start("link");
    let driver = chrome.browser(1280, 900).await;

    // the customer asks for a link on the sign-in page
    driver.goto(&format!("{base}/portal")).await.unwrap();
    wait_for(&driver, "the sign-in page", |s| s.contains("link-email")).await;
    type_into(&driver, "link-email", "jordan@northwind.example").await;
    click(&driver, "form[action='/sign-in/link'] button[type=submit]").await;
    wait_for(&driver, "the answer", |s| s.contains("Check your email")).await;

    // the outbox delivers it to a real SMTP server; the link is read from what it took
    let mailer = casework_mail::mailer_from_url(&smtp.url("")).unwrap();
    let report = svc
        .deliver(&Actor::system("test"), "browser-test", mailer.as_ref())
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let got = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(
        got[0]["headers"]["To"],
        "Jordan Blake <jordan@northwind.example>"
    );
    let body = got[0]["body"].as_str().unwrap().to_string();
    let start = body.find(&format!("{base}/sign-in/link/")).unwrap();
    let link: String = body[start..].split_whitespace().next().unwrap().to_string();

    driver.goto(&link).await.unwrap();
    click(
        &driver,
        "form[action='/sign-in/link/use'] button[type=submit]",
    )
    .await;
    let portal = wait_for(&driver, "the portal", |s| s.contains("Publishing fails")).await;
    assert!(portal.contains("Signed in as"));
    assert!(
        !portal.contains("Geocoding service times out"),
        "another customer's case"
    );
    // their case: the customer-visible timeline only; they reply
    driver
        .goto(&format!("{base}/portal/cases/1"))
        .await
        .unwrap();
    let page = wait_for(&driver, "the case", |s| s.contains("f-reply-body")).await;
    assert!(
        !page.contains("Suspect the data store registration"),
        "an internal note"
    );
    type_into(
        &driver,
        "f-reply-body",
        "It fails again since this morning.",
    )
    .await;
    // with a file: the browser sends the form as multipart, no script involved
    let log =
        std::env::temp_dir().join(format!("casework-browser-{}-sync.log", std::process::id()));
    std::fs::write(&log, "ERROR 999999 at 09:14\n").unwrap();
    type_into(&driver, "f-reply-files", log.to_str().unwrap()).await;
    click(
        &driver,
        "form[action='/portal/cases/1/reply'] button[type=submit]",
    )
    .await;
    let page = wait_for(&driver, "the reply on the timeline", |s| {
        s.contains("It fails again since this morning.")
    })
    .await;
    let _ = std::fs::remove_file(&log);
    let name = log.file_name().unwrap().to_str().unwrap().to_string();
    assert!(page.contains(&name), "the file is linked on the page");
    let files = svc
        .attachments(&Actor::system("check"), "1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].file_name, name);
    assert_eq!(files[0].size, 22);
    let history = svc
        .history(&Actor::system("check"), "1".parse().unwrap())
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.actor, "jordan@northwind.example", "{last:?}");
    driver.close().await.unwrap();
}

/// Clears the text control with id `id` and types `text` into it.
async fn retype(driver: &Client, id: &str, text: &str) {
    let control = driver.find(Locator::Id(id)).await.unwrap();
    control.clear().await.unwrap();
    control.send_keys(text).await.unwrap();
}

/// Submits the form `css` selects with its own submit button and waits for `notice`.
async fn submit(driver: &Client, css: &str, notice: &str) -> String {
    click(
        driver,
        &format!("{css} button[type=submit]:not(.secondary)"),
    )
    .await;
    wait_for(driver, notice, |s| s.contains(notice)).await
}

/// Signs `name` in through the real sign-in form, from the page `path` asks it on.
async fn sign_in(driver: &Client, base: &str, path: &str, name: &str, password: &str) {
    driver.goto(&format!("{base}{path}")).await.unwrap();
    wait_for(driver, "the sign-in form", |s| {
        s.contains("signin-password")
    })
    .await;
    type_into(driver, "signin-name", name).await;
    type_into(driver, "signin-password", password).await;
    click(driver, "form[action='/sign-in'] button[type=submit]").await;
    wait_for(driver, "signed in", |s| {
        s.contains("Signed in as") && s.contains(name)
    })
    .await;
}

/// Both seed documents, end to end, by people signing in through the real form: an agent
/// works a new phone case through the eleven steps of "Case Workflow Basics" to a resolved
/// close, then a lead follows "Reopen a case": the Cases tab, the All cases view, a search
/// for the closed case, its status, the reopen dialog with a reason and the customer told,
/// and the Reopened view and report that track it afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_seeds_are_walked_in_chromium_from_sign_in_to_close_and_reopen() {
    const PASSWORD: &str = "a password for the seed walk";
    let (svc, visitors) = desk().await;
    let svc = svc.with_credentials(Arc::new(casework_web::SystemCredentials));
    let system = Actor::system("test");
    for who in ["Ana Lopez", "Lee Park"] {
        svc.set_password(&system, who, PASSWORD).await.unwrap();
    }
    // the customer phoned in: a new, unowned case (the desk's "new case" is the API's job)
    let n = svc
        .open_case(
            &visitors["ana"],
            NewCase {
                title: "Map service will not publish".into(),
                description: "Publishing the parcels map service fails with error 999999 \
                              since the data store moved."
                    .into(),
                origin: Origin::Phone,
                priority: Priority::High,
                customer: customer("Morgan Reyes", "morgan@tailspin.example"),
                product: None,
                product_version: None,
            },
        )
        .await
        .unwrap()
        .number;
    let case = format!("/cases/{}", n.get());
    let base = serve_signed_in(svc.clone()).await;
    let chrome = Chromedriver::start("seed-walk");
    let driver = chrome.browser(1280, 900).await;
    let emails_to_morgan = async || {
        svc.outbox(&system_reader(&visitors), None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.case == n && m.to.as_str() == "morgan@tailspin.example")
            .map(|m| m.template.as_str().to_string())
            .collect::<Vec<_>>()
    };

    // --- Case Workflow Basics, as Ana -------------------------------------------------
    sign_in(&driver, &base, &case, "Ana Lopez", PASSWORD).await;
    wait_for(&driver, "the case page", |s| {
        s.contains("Map service will not publish")
    })
    .await;
    // 1. initial contact: take ownership, then the "I have taken ownership" email
    click(&driver, "form[action$='/take'] button[type=submit]").await;
    wait_for(&driver, "ownership", |s| s.contains("Ana Lopez</dd>")).await;
    click(&driver, "#compose-email > summary").await;
    click(&driver, "#f-email-template option[value=initial_contact]").await;
    submit(&driver, "#compose-email", "Email queued").await;
    // 2. log the call
    click(&driver, "#compose-call > summary").await;
    type_into(&driver, "f-call-duration_minutes", "30").await;
    click(&driver, "#compose-call input[name=screenshare]").await;
    type_into(
        &driver,
        "f-call-notes",
        "Screenshare: the data store moved to a new server and was never re-registered.",
    )
    .await;
    submit(&driver, "#compose-call", "Call logged.").await;
    // 3. the follow-up email: what was discussed, documentation, next steps
    click(&driver, "#compose-email > summary").await;
    click(&driver, "#f-email-template option[value=follow_up]").await;
    type_into(
        &driver,
        "f-email-discussed",
        "The data store was not registered after it moved.",
    )
    .await;
    type_into(
        &driver,
        "f-email-documentation",
        "https://support.example.com/kb/000012",
    )
    .await;
    type_into(
        &driver,
        "f-email-next_steps",
        "Register the data store again, then republish.",
    )
    .await;
    submit(&driver, "#compose-email", "Email queued").await;
    // 4. the call notes post
    click(&driver, "#compose-post > summary").await;
    click(&driver, "#f-post-kind option[value=call_notes]").await;
    type_into(
        &driver,
        "f-post-body",
        "Walked through the server manager; registration page shows no data stores.",
    )
    .await;
    submit(&driver, "#compose-post", "Post added.").await;
    // 5. troubleshoot: link the knowledge article found as similar (htmx fills the list in
    // after the page has loaded), ask the swarm group
    wait_for(&driver, "the similar cases", |s| {
        s.contains("<ul class=\"hits\">")
    })
    .await;
    driver
        .find(Locator::XPath(
            "//section[@id='troubleshoot']//li[contains(., 'Registering a data store')]//button",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&driver, "the link", |s| s.contains("Linked to the case.")).await;
    click(&driver, "#compose-swarm > summary").await;
    type_into(&driver, "f-swarm-group", "Enterprise GIS").await;
    type_into(
        &driver,
        "f-swarm-question",
        "Anyone seen 999999 after moving a data store?",
    )
    .await;
    submit(&driver, "#compose-swarm", "Help requested from the group.").await;
    // 6. confirm the close with the customer: reached by phone
    click(&driver, "#compose-contact > summary").await;
    click(
        &driver,
        "#compose-contact input[name=outcome][value=reached]",
    )
    .await;
    type_into(
        &driver,
        "f-contact-note",
        "Republished fine; happy to close.",
    )
    .await;
    submit(&driver, "#compose-contact", "Contact attempt recorded.").await;
    // 8-10 before 7, as the checklist wants the summary last: title, technical details,
    // category, from the checklist's own links
    let page = driver.source().await.unwrap();
    let missing = page.matches("class=\"missing-mark\"").count();
    assert_eq!(
        missing, 7,
        "summary, title, product and version, area, functionality and issue: {page}"
    );
    click(&driver, "#closing a[href$='open=edit#f-edit-title']").await;
    wait_for(&driver, "the edit form, open", |s| {
        s.contains("<details id=\"edit\" open")
    })
    .await;
    retype(
        &driver,
        "f-edit-title",
        "Publishing fails: data store not registered after a move",
    )
    .await;
    retype(&driver, "f-edit-product", "ArcGIS Server").await;
    retype(&driver, "f-edit-product_version", "11.3").await;
    retype(&driver, "f-edit-product_area", "Publishing").await;
    retype(&driver, "f-edit-functionality", "Data stores").await;
    retype(&driver, "f-edit-issue", "Registration").await;
    click(&driver, "#edit form[action$='/edit'] button[type=submit]").await;
    wait_for(&driver, "the new title", |s| {
        s.contains(
            "<h1 id=\"case-title\">Publishing fails: data store not registered after a move</h1>",
        )
    })
    .await;
    // 7. the case summary, from the draft one click away, as the last post
    click(&driver, "#closing a[href$='draft=summary#compose-post']").await;
    let draft = wait_for(&driver, "the summary draft", |s| {
        s.contains("option value=\"summary\" selected")
    })
    .await;
    assert!(
        draft.contains("Publishing fails: data store not registered"),
        "the draft names the case"
    );
    submit(&driver, "#compose-post", "Post added.").await;
    // 11. close: the checklist holds; primary and secondary resolution
    let ready = wait_for(&driver, "the checklist", |s| {
        s.contains("The closing checklist holds")
    })
    .await;
    assert!(!ready.contains("missing-mark"));
    click(&driver, "#close > summary").await;
    type_into(&driver, "f-close-primary_resolution", "Configuration").await;
    type_into(
        &driver,
        "f-close-secondary_resolution",
        "Data store re-registered",
    )
    .await;
    let closed = submit(&driver, "#close", "Case closed.").await;
    assert!(closed.contains("This case is closed"));
    let case_now = svc.case(&system, n).await.unwrap();
    assert_eq!(case_now.category.issue.as_deref(), Some("Registration"));
    assert_eq!(
        case_now.resolution.as_ref().map(|r| r.secondary.as_str()),
        Some("Data store re-registered")
    );
    assert_eq!(
        emails_to_morgan().await,
        ["initial_contact", "follow_up", "resolution_notice"],
        "each email went through the outbox, in order"
    );
    shot(&driver, "seed-closed").await;
    click(&driver, "form.sign-out button[type=submit]").await;
    wait_for(&driver, "signed out", |s| s.contains("Signed out.")).await;

    // --- Reopen a case, as Lee ----------------------------------------------------------
    // step 1: log in
    sign_in(&driver, &base, "/cases", "Lee Park", PASSWORD).await;
    // step 2: the Cases tab; step 3: the All cases view, keywords, closed cases
    click(&driver, "nav.main-nav a[href='/cases']").await;
    click(
        &driver,
        "nav.views a[href*='view=all'], nav.views li:first-child a",
    )
    .await;
    wait_for(&driver, "the All cases view", |s| {
        s.contains("aria-current=\"page\">All cases")
    })
    .await;
    type_into(&driver, "f-filter-q", "data store registered").await;
    click(&driver, "#f-filter-status_category option[value=closed]").await;
    click(&driver, "form.filters button[type=submit]").await;
    // the filtered page, not the one before it: its form shows the keywords sent
    let found = wait_for(&driver, "the closed case in the list", |s| {
        s.contains("value=\"data store registered\"")
            && s.contains("Publishing fails: data store not registered")
    })
    .await;
    assert!(
        !found.contains("Geocoding service times out"),
        "only the matching closed case is listed"
    );
    // step 4: open the record; step 5: its status is closed
    click(&driver, &format!("a[href='{case}']")).await;
    let record = wait_for(&driver, "the case record", |s| {
        s.contains("This case is closed")
    })
    .await;
    assert!(
        record.contains("class=\"status closed\""),
        "the status field says closed"
    );
    // steps 6-9: the reopen dialog, with the reason; the customer is told (step 10)
    click(&driver, "#reopen > summary").await;
    type_into(
        &driver,
        "f-reopen-reason",
        "The customer reports 999999 again after the weekend patch.",
    )
    .await;
    let reopened = submit(&driver, "#reopen", "Case reopened.").await;
    assert!(!reopened.contains("This case is closed"));
    assert!(
        reopened.contains("The customer reports 999999 again"),
        "the reason is on the timeline"
    );
    let case_now = svc.case(&system, n).await.unwrap();
    assert_eq!(
        (case_now.status.as_str(), case_now.reopen_count),
        ("New", 1)
    );
    assert_eq!(
        emails_to_morgan().await.last().map(String::as_str),
        Some("reopen_notice"),
        "step 10: the customer is told"
    );
    // tips: reopened cases are tracked apart, and reported on
    driver
        .goto(&format!("{base}/cases?view=reopened"))
        .await
        .unwrap();
    wait_for(&driver, "the Reopened view", |s| {
        s.contains("Publishing fails: data store not registered")
    })
    .await;
    driver
        .goto(&format!("{base}/reports/reopens"))
        .await
        .unwrap();
    wait_for(&driver, "the reopen report", |s| s.contains("<svg")).await;
    shot(&driver, "seed-reopened-report").await;
    driver.close().await.unwrap();
}

/// Someone who may read the whole outbox, for the checks.
fn system_reader(visitors: &HashMap<String, Actor>) -> Actor {
    visitors["lee"].clone()
}
