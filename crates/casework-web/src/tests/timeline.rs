//! The kept timeline ([`crate::timeline_cache`]): a page served from it shows a change to
//! anything the timeline depends on at once (the case version, an email's delivery state,
//! the files), is never given to another audience, and still carries each visitor's own
//! CSRF token.

use super::*;

/// The timeline section of a page (what the cache holds, with its heading).
fn timeline_of(page: &str) -> &str {
    let start = page.find("<section id=\"timeline\"").expect("a timeline");
    let end = start + page[start..].find("</section>").expect("its end");
    &page[start..end]
}

fn token_of(who: &str) -> String {
    CsrfKey::new(KEY).token(&session(who))
}

#[tokio::test]
async fn a_kept_timeline_shows_every_change_it_depends_on_at_once() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stopped", "Jordan", JORDAN).await;
    let page = format!("/cases/{n}");
    let first = desk.get(&page, Some("ana")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(desk.timelines.size().0, 1, "the desk's timeline is kept");
    let again = desk.get(&page, Some("ana")).await;
    assert_eq!(timeline_of(&again.body), timeline_of(&first.body));

    // a new version: a post
    desk.post(
        &format!("/cases/{n}/posts"),
        "ana",
        &[
            ("kind", "note"),
            ("visibility", "internal"),
            ("body", "INTERNAL-ONE <b>bold</b>"),
        ],
    )
    .await
    .redirects_to(&format!("/cases/{n}?done=post#timeline"));
    let posted = desk.get(&page, Some("ana")).await;
    assert!(
        timeline_of(&posted.body).contains("INTERNAL-ONE &#60;b&#62;bold&#60;/b&#62;"),
        "{}",
        timeline_of(&posted.body)
    );

    // a delivery state, which changes without a new version
    desk.queue_follow_up(n).await;
    let queued = desk.get(&page, Some("ana")).await;
    assert!(timeline_of(&queued.body).contains("<dd>queued</dd>"));
    let version = desk.version(n).await;
    let id = desk
        .svc
        .outbox(&desk.actor("root"), None, 10)
        .await
        .unwrap()[0]
        .id
        .clone();
    desk.post(&format!("/admin/outbox/{id}/cancel"), "ana", &[])
        .await
        .redirects_to("/admin/outbox?done=email-cancelled");
    assert_eq!(desk.version(n).await, version, "no new case version");
    let cancelled = desk.get(&page, Some("ana")).await;
    let shown = timeline_of(&cancelled.body);
    assert!(shown.contains("<dd>cancelled</dd>"), "{shown}");
    assert!(!shown.contains("<dd>queued</dd>"), "{shown}");
    let customer = desk
        .get(&format!("/portal/cases/{n}"), Some("jordan"))
        .await;
    assert!(timeline_of(&customer.body).contains("<dd>cancelled</dd>"));
    desk.post(&format!("/admin/outbox/{id}/retry"), "root", &[])
        .await
        .redirects_to("/admin/outbox?done=email-retried");
    let retried = desk.get(&page, Some("ana")).await;
    assert!(timeline_of(&retried.body).contains("<dd>queued</dd>"));
    let customer = desk
        .get(&format!("/portal/cases/{n}"), Some("jordan"))
        .await;
    assert!(timeline_of(&customer.body).contains("<dd>queued</dd>"));

    // files: one for staff only, one the customer sees
    for (visibility, name) in [("internal", "staff-only.txt"), ("customer", "shared.txt")] {
        desk.post_files(
            &format!("/cases/{n}/attachments"),
            "ana",
            &[("visibility", visibility)],
            &[(name, b"bytes")],
            true,
        )
        .await
        .redirects_to(&format!("/cases/{n}?done=files#timeline"));
    }
    let filed = desk.get(&page, Some("ana")).await;
    let shown = timeline_of(&filed.body);
    assert!(shown.contains(">staff-only.txt</a>") && shown.contains(">shared.txt</a>"));

    // the customer's page, asked for after staff's was kept: only what they may see
    let portal = format!("/portal/cases/{n}");
    let jordan = desk.get(&portal, Some("jordan")).await;
    assert_eq!(jordan.status, StatusCode::OK);
    let shown = timeline_of(&jordan.body);
    assert!(shown.contains(">shared.txt</a>"), "{shown}");
    for hidden in [
        "INTERNAL-ONE",
        "staff-only.txt",
        "Internal",
        "href=\"/cases/",
    ] {
        assert!(!shown.contains(hidden), "{hidden} reached the customer");
    }
    // and staff's, asked for after the customer's was kept, still has everything
    let ana = desk.get(&page, Some("ana")).await;
    assert!(timeline_of(&ana.body).contains("INTERNAL-ONE"));
    // another customer gets no page at all, kept timelines or not
    let eve = desk.get(&portal, Some("eve")).await;
    assert_eq!(eve.status, StatusCode::NOT_FOUND);
    assert!(!eve.body.contains("Sync stopped") && !eve.body.contains("INTERNAL-ONE"));
    // the desk for every staff role, the portal for the customer: kept apart
    let lee = desk.get(&page, Some("lee")).await;
    assert_eq!(timeline_of(&lee.body), timeline_of(&ana.body));
    assert_eq!(desk.timelines.size().0, 3);
}

#[tokio::test]
async fn a_page_with_a_kept_timeline_carries_each_visitors_own_csrf_token() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stopped", "Jordan", JORDAN).await;
    let page = format!("/cases/{n}");
    desk.get(&page, Some("ana")).await;
    let (ana, lee) = (token_of("ana"), token_of("lee"));
    assert_ne!(ana, lee);
    for _ in 0..2 {
        let as_ana = desk.get(&page, Some("ana")).await;
        let as_lee = desk.get(&page, Some("lee")).await;
        assert!(as_ana.body.contains(&format!("value=\"{ana}\"")));
        assert!(!as_ana.body.contains(&lee));
        assert!(as_lee.body.contains(&format!("value=\"{lee}\"")));
        assert!(!as_lee.body.contains(&ana));
        // no token in the kept part at all
        assert!(!timeline_of(&as_ana.body).contains("csrf"));
    }
}

/// What the kept timeline is keyed on: the service's delivery states are the timeline's
/// own, for staff and for the customer, and another customer gets none.
#[tokio::test]
async fn the_services_delivery_states_are_those_the_timeline_shows() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stopped", "Jordan", JORDAN).await;
    let number = n.to_string().parse().unwrap();
    desk.queue_follow_up(n).await;
    for who in ["ana", "jordan"] {
        let actor = desk.actor(who);
        let states = desk.svc.deliveries(&actor, number).await.unwrap();
        let shown: Vec<_> = desk
            .svc
            .timeline(&actor, number)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|t| t.delivery)
            .collect();
        assert_eq!(shown.len(), 1, "{who}");
        assert_eq!(
            states.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
            shown,
            "{who}"
        );
    }
    let eve = desk.svc.deliveries(&desk.actor("eve"), number).await;
    assert!(matches!(eve, Err(ServiceError::NotFound(_))), "{eve:?}");
}
