//! One case through every step of both seed documents, on the memory store, through the
//! application service: what an agent's day looks like to the core.

use std::sync::Arc;

use casework_core::documents::EmailFields;
use casework_core::event::{EventKind, replay};
use casework_core::model::{
    Actor, CallDirection, CloseMode, ContactChannel, ContactOutcome, Customer, LinkTarget,
    NewArticle, Origin, OutboxStatus, PostKind, Priority, RefKind, Resolution, Role, TemplateName,
    Visibility,
};
use casework_core::ports::{CaseFilter, PageRequest, ReportGroup, ReportQuery};
use casework_core::workflow::{CaseEdit, Command, NewCase};
use casework_core::{ServiceError, WorkflowError};
use casework_e2e::{service, staff};
use casework_store_memory::MemoryStore;
use jiff::SignedDuration;

#[tokio::test]
async fn one_case_through_every_seed_step() {
    let store = Arc::new(MemoryStore::new());
    let (svc, clock) = service(store.clone());
    let admin = Actor::from_person(&staff("Root", Role::Admin));
    for (name, role) in [("Ana Lopez", Role::Agent), ("Lee Park", Role::Lead)] {
        svc.add_person(&admin, staff(name, role)).await.unwrap();
    }
    let ana = svc.resolve_actor("Ana Lopez").await.unwrap();
    let lee = svc.resolve_actor("Lee Park").await.unwrap();
    let jordan = Actor::customer("Jordan Smith", "jordan@customer.example".parse().unwrap());
    let later = |mins| clock.advance(SignedDuration::from_mins(mins));

    // Troubleshooting material that already exists.
    let article = svc
        .add_article(&ana, NewArticle {
            title: "Register a data store before publishing".into(),
            body: "Publishing a map service fails with error 999999 when the data store is not registered.".into(),
            url: Some("https://example.com/kb/000012345".into()),
        })
        .await
        .unwrap();
    let older = svc
        .open_case(
            &ana,
            NewCase {
                title: "Error 999999 publishing map service".into(),
                description: "Publishing fails; data store missing".into(),
                origin: Origin::Email,
                priority: Priority::Medium,
                customer: Customer {
                    name: "Other".into(),
                    email: "other@customer.example".parse().unwrap(),
                    phone: None,
                    account: None,
                },
                product: None,
                product_version: None,
            },
        )
        .await
        .unwrap();

    // 1. Initial contact: the case is opened and Ana takes ownership.
    let case = svc
        .open_case(
            &ana,
            NewCase {
                title: "Map service fails to publish".into(),
                description: "Publishing the parcels map service fails with error 999999.".into(),
                origin: Origin::Phone,
                priority: Priority::High,
                customer: Customer {
                    name: "Jordan Smith".into(),
                    email: "jordan@customer.example".parse().unwrap(),
                    phone: Some("+1 555 0199".into()),
                    account: Some("County GIS".into()),
                },
                product: None,
                product_version: None,
            },
        )
        .await
        .unwrap();
    let n = case.number;
    assert_eq!(case.status.as_str(), "New");
    let run = |who: &Actor, cmd: Command| {
        let (svc, who) = (svc.clone(), who.clone());
        async move { svc.execute(&who, n, None, cmd).await }
    };
    let c = run(&ana, Command::Take).await.unwrap().case;
    assert_eq!(c.owner.as_deref(), Some("Ana Lopez"));
    later(5);
    run(
        &ana,
        Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields {
                challenge: Some("publishing a map service".into()),
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();
    run(
        &ana,
        Command::Transition {
            status: "In Progress".into(),
            note: None,
        },
    )
    .await
    .unwrap();

    // 2. Log a call: customer-visible.
    later(30);
    run(
        &ana,
        Command::LogCall {
            direction: CallDirection::Inbound,
            duration_minutes: 25,
            screenshare: true,
            channel: Some("SPEC".into()),
            notes: "Reproduced error 999999 over a screenshare.".into(),
        },
    )
    .await
    .unwrap();

    // 3. Follow-up email: discussion, documentation, next steps, signature.
    run(
        &ana,
        Command::SendEmail {
            template: TemplateName::FollowUp,
            fields: EmailFields {
                discussed: Some("We reproduced the failure together.".into()),
                next_steps: Some("Register the data store and publish again.".into()),
                documentation: vec![article.url.clone().unwrap()],
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();

    // 4. Call notes: internal.
    run(&ana, Command::AddPost {
        kind: PostKind::CallNotes,
        body: "Service definition references an unregistered data store; INTERNAL-ONLY hunch about the upgrade.".into(),
        visibility: Visibility::Internal,
    })
    .await
    .unwrap();

    // 5. Troubleshoot: similar cases and articles, link the one that helps, ask the swarm.
    let similar = svc.similar(&ana, n, 5).await.unwrap();
    assert!(
        similar
            .iter()
            .any(|h| h.kind == RefKind::Article && h.reference == article.id.to_string()),
        "{similar:?}"
    );
    assert!(
        similar
            .iter()
            .any(|h| h.kind == RefKind::Case && h.reference == older.number.display()),
        "{similar:?}"
    );
    run(
        &ana,
        Command::Link(LinkTarget {
            kind: RefKind::Article,
            reference: article.id.to_string(),
        }),
    )
    .await
    .unwrap();
    let bad_link = run(
        &ana,
        Command::Link(LinkTarget {
            kind: RefKind::Defect,
            reference: "BUG-404".into(),
        }),
    )
    .await;
    assert!(matches!(
        bad_link,
        Err(ServiceError::Workflow(WorkflowError::Invalid { .. }))
    ));
    run(
        &ana,
        Command::Swarm {
            group: "Server SWARM".into(),
            question: "Seen 999999 on 11.3?".into(),
        },
    )
    .await
    .unwrap();

    // 6. Confirm close: contact attempts are recorded; the customer is reached.
    run(
        &ana,
        Command::RecordContact {
            channel: ContactChannel::Email,
            outcome: ContactOutcome::NoResponse,
            note: None,
        },
    )
    .await
    .unwrap();
    run(
        &ana,
        Command::RecordContact {
            channel: ContactChannel::Phone,
            outcome: ContactOutcome::Reached,
            note: Some("confirmed fixed".into()),
        },
    )
    .await
    .unwrap();
    let check = svc.closing_check(&ana, n).await.unwrap();
    assert!(!check.ready);
    assert!(
        !check.non_response_ready,
        "the customer was reached: no non-response close"
    );
    let early = run(
        &ana,
        Command::Close {
            mode: CloseMode::Resolved,
            resolution: Some(Resolution {
                primary: "Configuration".into(),
                secondary: "Data store registered".into(),
            }),
            notify_customer: true,
        },
    )
    .await;
    let Err(ServiceError::Workflow(WorkflowError::ChecklistIncomplete { missing })) = early else {
        panic!("{early:?}")
    };
    let items: Vec<&str> = missing.iter().map(|m| m.item.as_str()).collect();
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

    // 7. Case summary: drafted from the record, posted as the last post.
    let draft = svc.summary_draft(&ana, n).await.unwrap();
    assert!(
        draft
            .troubleshooting
            .contains("Inbound call, 25 min, screenshare"),
        "{}",
        draft.troubleshooting
    );
    assert!(
        draft
            .documentation
            .contains("Register a data store before publishing")
    );
    // 8. Update the title. 9. Technical details. 10. Categorize.
    run(
        &ana,
        Command::Edit(CaseEdit {
            title: Some("Publishing fails: data store not registered".into()),
            product: Some("ArcGIS Server".into()),
            product_version: Some("11.3".into()),
            product_area: Some("Publishing".into()),
            functionality: Some("Map services".into()),
            issue: Some("Configuration".into()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    run(
        &ana,
        Command::AddPost {
            kind: PostKind::Summary,
            body: draft.text.clone(),
            visibility: Visibility::Internal,
        },
    )
    .await
    .unwrap();
    assert!(svc.closing_check(&ana, n).await.unwrap().ready);

    // 11. Close with a primary and a secondary resolution.
    let closed = run(
        &ana,
        Command::Close {
            mode: CloseMode::Resolved,
            resolution: Some(Resolution {
                primary: "Configuration".into(),
                secondary: "Data store registered".into(),
            }),
            notify_customer: true,
        },
    )
    .await
    .unwrap()
    .case;
    assert_eq!(closed.status.as_str(), "Closed");
    // the customer is told, and sees the resolution on their case
    let customer = Actor::customer("Jordan", closed.customer.email.clone());
    let seen = svc.case(&customer, n).await.unwrap();
    assert_eq!(seen.resolution, closed.resolution);

    // Reopen: refused for the agent, done by the lead with a reason, customer notified.
    clock.advance(SignedDuration::from_hours(72));
    let refused = run(
        &ana,
        Command::Reopen {
            reason: "customer says it is back".into(),
            notify_customer: true,
        },
    )
    .await;
    assert!(matches!(
        refused,
        Err(ServiceError::Workflow(WorkflowError::Forbidden {
            role: Role::Agent,
            ..
        }))
    ));
    let reopened = run(
        &lee,
        Command::Reopen {
            reason: "Error 999999 is back after the 11.3.1 patch".into(),
            notify_customer: true,
        },
    )
    .await
    .unwrap()
    .case;
    assert_eq!(reopened.status.as_str(), "New");
    assert_eq!(reopened.reopen_count, 1);

    let outbox = svc
        .outbox(&ana, Some(OutboxStatus::Queued), 50)
        .await
        .unwrap();
    let templates: Vec<TemplateName> = outbox.iter().map(|m| m.template).collect();
    assert_eq!(
        templates,
        [
            TemplateName::InitialContact,
            TemplateName::FollowUp,
            TemplateName::ResolutionNotice,
            TemplateName::ReopenNotice
        ]
    );
    let notice = outbox.last().unwrap();
    assert_eq!(notice.to.as_str(), "jordan@customer.example");
    assert!(
        notice
            .subject
            .starts_with(&format!("[Case {}]", n.display()))
    );
    assert!(notice.body.contains("has been reopened"));

    // Reopened cases are tracked separately.
    let reopened_list = svc
        .list(
            &lee,
            CaseFilter {
                reopened: Some(true),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        reopened_list
            .items
            .iter()
            .map(|c| c.number)
            .collect::<Vec<_>>(),
        [n]
    );
    let report = svc
        .reopen_report(
            &lee,
            ReportQuery {
                group_by: ReportGroup::ProductArea,
                from: None,
                to: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(
        (report[0].key.as_str(), report[0].closed, report[0].reopened),
        ("Publishing", 1, 1)
    );
    assert_eq!(report[0].median_days_to_reopen, Some(3.0));

    // The record: every change is an event, and replay gives the state.
    let history = svc.history(&lee, n).await.unwrap();
    assert_eq!(replay(&history).unwrap(), svc.case(&lee, n).await.unwrap());
    assert!(history.iter().any(|e| matches!(&e.kind, EventKind::PostAdded { kind: PostKind::ReopenReason, body, .. } if body.contains("11.3.1"))));

    // The customer sees their case, the customer-visible timeline, and nothing internal.
    let timeline = svc.timeline(&jordan, n).await.unwrap();
    let json = serde_json::to_string(&timeline).unwrap();
    assert!(!json.contains("INTERNAL-ONLY"));
    assert!(!json.contains("Seen 999999 on 11.3?"));
    assert!(
        !json.contains("11.3.1 patch"),
        "the reopen reason is internal"
    );
    assert!(
        json.contains("Reproduced error 999999"),
        "the call log is customer-visible"
    );
    let eve = Actor::customer("Eve", "eve@customer.example".parse().unwrap());
    assert_eq!(
        svc.case(&eve, n).await.unwrap_err(),
        ServiceError::NotFound(format!("case {n}"))
    );
    assert!(matches!(
        svc.history(&jordan, n).await,
        Err(ServiceError::Workflow(WorkflowError::Forbidden { .. }))
    ));
}
