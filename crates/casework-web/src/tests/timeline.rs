//! The kept timeline ([`crate::timeline_cache`]): a page served from it shows a change to
//! anything the timeline depends on at once (the case version, an email's delivery state,
//! the files), is never given to another audience, and still carries each visitor's own
//! CSRF token. A long timeline shows its newest entries with the rest one link away, and
//! similar cases come from their own route.

use casework_core::Command;
use casework_core::ids::CaseNumber;
use casework_core::model::{PostKind, Visibility};

use super::*;
use crate::timeline::NEWEST_ENTRIES;

/// The timeline section of a page (what the cache holds, with its heading).
fn timeline_of(page: &str) -> &str {
    let start = page.find("<section id=\"timeline\"").expect("a timeline");
    let end = start + page[start..].find("</section>").expect("its end");
    &page[start..end]
}

/// Ana attaches `staff-only.txt` internally and `shared.txt` for the customer to see.
async fn attach_two_files(desk: &Desk, n: u64) {
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
    let id = desk.queue_follow_up(n).await;
    let queued = desk.get(&page, Some("ana")).await;
    assert!(timeline_of(&queued.body).contains("<dd>queued</dd>"));
    let version = desk.version(n).await;
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
    attach_two_files(&desk, n).await;
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

/// The entries of a timeline section, in the order shown, by their anchor ids.
fn entry_ids(section: &str) -> Vec<String> {
    section
        .split("<li class=\"entry")
        .skip(1)
        .filter_map(|li| {
            let start = li.find(" id=\"")? + 5;
            let end = start + li[start..].find('"')?;
            Some(li[start..end].to_string())
        })
        .collect()
}

/// The "earlier entries" link's text, if the section has one.
fn earlier_link(section: &str) -> Option<&str> {
    let start = section.find("<p class=\"earlier\">")?;
    let text = section[start..].find("Show the ")? + start;
    let end = text + section[text..].find("</a>")?;
    Some(&section[text..end])
}

/// A long case: 70 posts after its opening, the first 20 alternating internal and
/// customer-visible, the rest customer-visible; each post's body names its number.
async fn long_case(desk: &Desk) -> (u64, CaseNumber) {
    let n = desk.open("A long case", "Jordan", JORDAN).await;
    let number: CaseNumber = n.to_string().parse().unwrap();
    let ana = desk.actor("ana");
    for i in 1..=70 {
        let internal = i <= 20 && i % 2 == 0;
        let body = if internal {
            format!("INTERNAL-{i}")
        } else {
            format!("POST-{i}-")
        };
        let visibility = if internal {
            Visibility::Internal
        } else {
            Visibility::Customer
        };
        desk.svc
            .execute(
                &ana,
                number,
                None,
                Command::AddPost {
                    kind: PostKind::Note,
                    body,
                    visibility,
                },
            )
            .await
            .unwrap();
    }
    (n, number)
}

#[tokio::test]
async fn a_long_timeline_shows_its_newest_entries_and_the_earlier_ones_one_link_away() {
    let desk = Desk::new().await;
    let (n, number) = long_case(&desk).await;
    let staff: Vec<String> = desk
        .svc
        .timeline(&desk.actor("ana"), number)
        .await
        .unwrap()
        .iter()
        .map(|t| format!("e{}", t.event.seq))
        .collect();
    assert!(staff.len() > NEWEST_ENTRIES + 10, "{}", staff.len());

    // the desk: the newest 50, newest first, then the link to the rest
    let page = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = timeline_of(&page.body);
    let newest: Vec<String> = staff.iter().rev().take(NEWEST_ENTRIES).cloned().collect();
    assert_eq!(entry_ids(shown), newest);
    assert!(shown.contains("POST-70-") && !shown.contains("POST-1-"));
    let hidden = staff.len() - NEWEST_ENTRIES;
    assert_eq!(
        earlier_link(shown),
        Some(format!("Show the {hidden} earlier entries").as_str())
    );
    assert!(shown.contains(&format!(
        "<a href=\"/cases/{n}?timeline=all#timeline\" hx-get=\"/cases/{n}?timeline=all\" \
         hx-select=\"#timeline-entries\" hx-target=\"#timeline-entries\""
    )));
    // the link after the entries (newest first: the earlier ones are below)
    assert!(shown.find("class=\"earlier\"") > shown.rfind("<li class=\"entry"));
    // every entry, without a link, on the page it points to (and htmx's request for it)
    for all in [
        desk.get(&format!("/cases/{n}?timeline=all"), Some("ana"))
            .await,
        desk.htmx_get(&format!("/cases/{n}?timeline=all"), "ana")
            .await,
    ] {
        let shown = timeline_of(&all.body);
        let every: Vec<String> = staff.iter().rev().cloned().collect();
        assert_eq!(entry_ids(shown), every);
        assert!(shown.contains("POST-1-") && shown.contains("INTERNAL-2"));
        assert_eq!(earlier_link(shown), None);
    }

    // the portal: the customer's newest 50, oldest first, the link above them; counted in
    // what the customer may see, so no internal entry is shown or counted
    let visible: Vec<String> = desk
        .svc
        .timeline(&desk.actor("jordan"), number)
        .await
        .unwrap()
        .iter()
        .map(|t| format!("e{}", t.event.seq))
        .collect();
    assert_eq!(staff.len() - visible.len(), 10, "ten internal posts");
    let portal = desk
        .get(&format!("/portal/cases/{n}"), Some("jordan"))
        .await;
    assert_eq!(portal.status, StatusCode::OK);
    let shown = timeline_of(&portal.body);
    assert_eq!(
        entry_ids(shown),
        visible[visible.len() - NEWEST_ENTRIES..].to_vec()
    );
    let hidden = visible.len() - NEWEST_ENTRIES;
    assert_eq!(
        earlier_link(shown),
        Some(format!("Show the {hidden} earlier entries").as_str())
    );
    assert!(shown.contains(&format!("href=\"/portal/cases/{n}?timeline=all#timeline\"")));
    assert!(shown.find("class=\"earlier\"") < shown.find("<li class=\"entry"));
    let all = desk
        .get(&format!("/portal/cases/{n}?timeline=all"), Some("jordan"))
        .await;
    let shown = timeline_of(&all.body);
    assert_eq!(entry_ids(shown), visible);
    assert!(shown.contains("POST-1-"));
    assert_eq!(earlier_link(shown), None);
    for page in [&portal.body, &all.body] {
        assert!(
            !page.contains("INTERNAL-"),
            "an internal post reached the customer"
        );
    }
    // another customer gets nothing of it
    let eve = desk
        .get(&format!("/portal/cases/{n}?timeline=all"), Some("eve"))
        .await;
    assert_eq!(eve.status, StatusCode::NOT_FOUND);
    assert!(!eve.body.contains("POST-"));

    // each span is kept apart: asked again, each page is what it was
    assert_eq!(desk.timelines.size().0, 4);
    let again = desk.get(&format!("/cases/{n}"), Some("ana")).await;
    assert_eq!(timeline_of(&again.body), timeline_of(&page.body));
    let again = desk
        .get(&format!("/portal/cases/{n}"), Some("jordan"))
        .await;
    assert_eq!(timeline_of(&again.body), timeline_of(&portal.body));
}

#[tokio::test]
async fn a_short_timeline_is_shown_whole_without_a_link() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stopped", "Jordan", JORDAN).await;
    for (path, who) in [
        (format!("/cases/{n}"), "ana"),
        (format!("/portal/cases/{n}"), "jordan"),
    ] {
        let page = desk.get(&path, Some(who)).await;
        let shown = timeline_of(&page.body);
        assert_eq!(entry_ids(shown).len(), 1, "{path}");
        assert_eq!(earlier_link(shown), None, "{path}");
    }
}

/// Similar cases are staff's, as the case page is: a customer's session and a request
/// without one get nothing from their route, htmx's request or not.
#[tokio::test]
async fn similar_cases_are_for_staff_only() {
    let desk = Desk::new().await;
    let earlier = desk
        .open("Publishing fails on the data store", "Eve", EVE)
        .await;
    let n = desk.open("Publishing fails", "Jordan", JORDAN).await;
    let path = format!("/cases/{n}/similar");
    let staff = desk.htmx_get(&path, "ana").await;
    assert!(
        staff.body.contains(&format!("{earlier:08}")),
        "{}",
        staff.body
    );
    for headers in [&[][..], &[("hx-request", "true")][..]] {
        let customer = desk.send("GET", &path, Some("jordan"), None, headers).await;
        assert_eq!(customer.status, StatusCode::FORBIDDEN);
        let nobody = desk.send("GET", &path, None, None, headers).await;
        assert_eq!(nobody.status, StatusCode::SEE_OTHER);
        assert!(nobody.location().starts_with("/sign-in?next="));
        for r in [&customer, &nobody] {
            assert!(!r.body.contains(&format!("{earlier:08}")), "{}", r.body);
            assert!(!r.body.contains("Publishing fails"), "{}", r.body);
            assert!(!r.body.contains("/links"), "{}", r.body);
        }
    }
    // a case that does not exist is not found, for staff too
    let none = desk.htmx_get("/cases/999/similar", "ana").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

/// What the case page reads in one call is what the separate reads give, for staff and for
/// the customer (whose files hold no internal one and who gets no checklist and no
/// people), and nothing for another customer.
#[tokio::test]
async fn the_case_view_is_what_the_separate_reads_give() {
    let desk = Desk::new().await;
    let n = desk.open("Sync stopped", "Jordan", JORDAN).await;
    let number: CaseNumber = n.to_string().parse().unwrap();
    desk.queue_follow_up(n).await;
    attach_two_files(&desk, n).await;
    for (who, files, checklist) in [("ana", 2, true), ("jordan", 1, false)] {
        let actor = desk.actor(who);
        let view = desk.svc.case_view(&actor, number).await.unwrap();
        assert_eq!(
            view.case,
            desk.svc.case(&actor, number).await.unwrap(),
            "{who}"
        );
        assert_eq!(
            view.deliveries,
            desk.svc.deliveries(&actor, number).await.unwrap(),
            "{who}"
        );
        assert_eq!(view.deliveries.len(), 1, "{who}");
        assert_eq!(
            view.files,
            desk.svc.attachments(&actor, number).await.unwrap(),
            "{who}"
        );
        assert_eq!(view.files.len(), files, "{who}");
        assert_eq!(
            view.closing,
            desk.svc.closing_check(&actor, number).await.ok(),
            "{who}"
        );
        assert_eq!(view.closing.is_some(), checklist, "{who}");
        assert_eq!(view.people, desk.svc.people(&actor).await.ok(), "{who}");
        assert_eq!(view.people.is_some(), checklist, "{who}");
    }
    let eve = desk.svc.case_view(&desk.actor("eve"), number).await;
    assert!(matches!(eve, Err(ServiceError::NotFound(_))), "{eve:?}");
}
