//! Imports from other systems through the service, on the reference store: a Zendesk
//! incremental ticket export and a Salesforce Data Export become cases with their numbers,
//! dates, comments and statuses; a dry run writes nothing; a rerun changes nothing; what
//! cannot be imported is refused by name with the rest imported.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use casework_core::config::WorkflowConfig;
use casework_core::event::EventKind;
use casework_core::exchange::ImportReport;
use casework_core::ids::CaseNumber;
use casework_core::model::{Actor, Origin, Priority, Visibility};
use casework_core::ports::{CaseLog, Diagnostics, OutboxQueue};
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::{CaseService, Templates};
use casework_store_memory::MemoryStore;
use jiff::Timestamp;

mod zendesk_export {
    use super::*;
    use casework_core::exchange::zendesk::*;

    /// A page as Zendesk's incremental export gives it, with each ticket's comments merged
    /// in and the users side-loaded.
    const PAGE: &str = r#"{
      "tickets": [
        {"id": 35436, "url": "https://x.zendesk.com/api/v2/tickets/35436.json",
         "via": {"channel": "email"}, "created_at": "2024-07-20T22:55:29Z",
         "updated_at": "2024-07-22T10:00:00Z", "type": "incident",
         "subject": "Help, my printer\nis on fire", "description": "The fire is very colorful.",
         "priority": "high", "status": "solved", "requester_id": 20978392,
         "submitter_id": 20978392, "assignee_id": 235323, "tags": ["enterprise"],
         "custom_fields": [{"id": 27642, "value": "745"}], "group_id": null,
         "comments": [
           {"id": 1, "author_id": 20978392, "body": "The fire is very colorful.", "public": true,
            "created_at": "2024-07-20T22:55:29Z"},
           {"id": 2, "author_id": 235323, "body": "Checked the spooler: <b>burnt</b>.",
            "public": false, "created_at": "2024-07-21T09:00:00Z"},
           {"id": 3, "author_id": 235323, "plain_body": "Please unplug it.", "body": "<p>Please unplug it.</p>",
            "public": true, "created_at": "2024-07-21T09:05:00Z"},
           {"id": 4, "author_id": 20978392, "body": "Done, thanks!", "public": true,
            "created_at": "2024-07-21T12:00:00Z"}
         ]},
        {"id": 35437, "via": {"channel": "web"}, "created_at": "2024-07-21T08:00:00Z",
         "updated_at": "2024-07-21T08:30:00Z", "subject": "Waiting", "description": "d",
         "priority": null, "status": "hold", "requester_id": 20978392, "assignee_id": null},
        {"id": 35438, "created_at": "2024-07-21T08:00:00Z", "updated_at": "2024-07-21T08:30:00Z",
         "subject": "No address", "description": "d", "priority": "low", "status": "open",
         "requester_id": 999},
        {"id": 35439, "created_at": "2024-07-21T08:00:00Z", "updated_at": "2024-07-21T08:30:00Z",
         "subject": "Odd", "description": "d", "status": "deleted", "requester_id": 20978392}
      ],
      "users": [
        {"id": 20978392, "name": "Jordan Smith", "email": "jordan@customer.example", "role": "end-user"},
        {"id": 235323, "name": "Ana Lopez", "email": "ana@example.com", "role": "agent"},
        {"id": 999, "name": "Phone Only", "email": null, "role": "end-user"}
      ],
      "end_of_stream": true, "next_page": null
    }"#;

    fn service(store: Arc<MemoryStore>) -> CaseService {
        CaseService::new(
            store,
            Arc::new(FixedClock::default()),
            Arc::new(SequentialIds::default()),
            Arc::new(WorkflowConfig::default_config()),
            Arc::new(Templates::embedded().unwrap()),
        )
    }

    async fn run(svc: &CaseService, store: &MemoryStore, dry_run: bool) -> ImportReport {
        let mut importer = svc
            .importer(&Actor::operator("cli"), store, "zendesk", dry_run, 10)
            .unwrap();
        import_page(&mut importer, "page1.json", PAGE)
            .await
            .unwrap();
        importer.finish().await.unwrap()
    }

    #[test]
    fn tickets_become_cases_with_their_numbers_dates_comments_and_status() {
        futures::executor::block_on(async {
            let store = Arc::new(MemoryStore::new());
            let svc = service(store.clone());
            let dry = run(&svc, &store, true).await;
            assert_eq!((dry.rows, dry.checked), (4, 2));
            assert_eq!(
                store.stats().await.unwrap().cases,
                0,
                "a dry run writes nothing"
            );
            assert_eq!(
                dry.unmapped,
                vec!["ticket.custom_fields", "ticket.tags", "ticket.type"]
            );
            assert_eq!(dry.refused.len(), 2, "{:?}", dry.refused);
            assert!(
                dry.refused[0].starts_with(
                    "page1.json: ticket 35438: its requester 999 has no email address"
                ),
                "{:?}",
                dry.refused
            );
            assert!(
                dry.refused[1].contains("ticket 35439: unknown status \"deleted\""),
                "{:?}",
                dry.refused
            );

            let report = run(&svc, &store, false).await;
            assert_eq!(report.cases.written, 2, "{report:?}");
            let n = CaseNumber::new(35436).unwrap();
            let case = store.load_case(n).await.unwrap();
            assert_eq!(case.title, "Help, my printer is on fire");
            assert_eq!(case.customer.name, "Jordan Smith");
            assert_eq!(case.origin, Origin::Email);
            assert_eq!(case.priority, Priority::High);
            assert_eq!(case.owner.as_deref(), Some("Ana Lopez"));
            assert_eq!(case.status.as_str(), "Closed");
            assert_eq!(
                case.created_at,
                "2024-07-20T22:55:29Z".parse::<Timestamp>().unwrap()
            );
            assert_eq!(
                case.closed_at,
                Some("2024-07-22T10:00:00Z".parse().unwrap())
            );
            let history = store.history(n).await.unwrap();
            let posts: Vec<_> = history
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::PostAdded {
                        body,
                        visibility,
                        from_customer,
                        ..
                    } => Some((e.actor.as_str(), body.as_str(), *visibility, *from_customer)),
                    _ => None,
                })
                .collect();
            assert_eq!(
                posts,
                vec![
                    (
                        "Ana Lopez",
                        "Checked the spooler: <b>burnt</b>.",
                        Visibility::Internal,
                        false
                    ),
                    (
                        "Ana Lopez",
                        "Please unplug it.",
                        Visibility::Customer,
                        false
                    ),
                    ("Jordan Smith", "Done, thanks!", Visibility::Customer, true),
                ],
                "the description is not repeated; private comments stay internal"
            );
            let held = store
                .load_case(CaseNumber::new(35437).unwrap())
                .await
                .unwrap();
            assert_eq!(
                (held.status.as_str(), held.priority),
                ("Pending Customer", Priority::Medium)
            );
            // silent: nothing queued
            assert!(
                OutboxQueue::outbox_list(&*store, None, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );

            // again: nothing changes
            let again = run(&svc, &store, false).await;
            assert_eq!((again.cases.unchanged, again.cases.written), (2, 0));
            assert_eq!(store.history(n).await.unwrap(), history);
        });
    }

    #[test]
    fn a_file_that_is_not_a_ticket_page_is_refused_whole() {
        futures::executor::block_on(async {
            let store = Arc::new(MemoryStore::new());
            let svc = service(store.clone());
            let mut importer = svc
                .importer(&Actor::operator("cli"), &*store, "zendesk", false, 10)
                .unwrap();
            import_page(&mut importer, "x.json", r#"{"users": []}"#)
                .await
                .unwrap();
            let report = importer.finish().await.unwrap();
            assert_eq!(report.refused.len(), 1);
            assert!(
                report.refused[0]
                    .starts_with("x.json: not a Zendesk ticket export: missing field `tickets`"),
                "{:?}",
                report.refused
            );
        });
    }
}

mod salesforce_export {
    use super::*;
    use casework_core::exchange::salesforce::*;

    fn table(name: &str, text: &str) -> Table {
        let mut lines = text.lines().enumerate();
        let headers = lines
            .next()
            .unwrap()
            .1
            .split('|')
            .map(str::to_string)
            .collect();
        Table {
            name: name.into(),
            headers,
            rows: lines
                .map(|(i, l)| (i as u64 + 1, l.split('|').map(str::to_string).collect()))
                .collect(),
        }
    }

    const CASES: &str = "Id|CaseNumber|Subject|Description|Status|Priority|Origin|SuppliedName|SuppliedEmail|IsClosed|ClosedDate|OwnerId|CreatedDate|CreatedById|Product__c|Area__c|Region__c
    500A|00001027|Map service fails|Error 999999|Closed|High|Phone|Jordan Smith|jordan@customer.example|1|2024-03-02T10:00:00.000Z|005X|2024-03-01T09:00:00.000Z|005X|ArcGIS Server|Publishing|EMEA
    500B|00001028|Waiting|d|Waiting on Customer|Low|Web|Kim Lee|kim@customer.example|0||005Y|2024-03-01T09:30:00.000Z|005Y|||EMEA
    500C|00001029|No address|d|New|Medium|Email|Nobody||0||005Y|2024-03-01T09:30:00.000Z|005Y|||
    500D|00001030|Odd status|d|Working|Medium|Email|Kim Lee|kim@customer.example|0||005Y|2024-03-01T09:30:00.000Z|005Y|||";

    const COMMENTS: &str = "Id|ParentId|IsPublished|CommentBody|CreatedById|CreatedDate
    00a1|500A|0|Checked the logs|005X|2024-03-01T11:00:00.000Z
    00a2|500A|1|Please re-register the data store|005X|2024-03-01T12:00:00.000Z
    00a3|500Z|1|Orphan|005X|2024-03-01T12:00:00.000Z";

    const EMAILS: &str = "Id|ParentId|Subject|TextBody|FromName|FromAddress|ToAddress|Incoming|MessageDate|MessageIdentifier
    02s1|500A|Re: Map service|It works now, thanks|Jordan Smith|jordan@customer.example|support@example.com|1|2024-03-01T15:00:00.000Z|<abc@customer.example>
    02s2|500A|Your case|We fixed it|Ana Lopez|support@example.com|jordan@customer.example|0|2024-03-01T14:00:00.000Z|";

    const MAPPING: &str = r#"
    [fields]
    Product__c = "product"
    Area__c = "product_area"

    [statuses]
    "Waiting on Customer" = "Pending Customer"

    [owners]
    "005X" = "Ana Lopez"
    "#;

    async fn run(store: &Arc<MemoryStore>, dry_run: bool) -> ImportReport {
        let svc = CaseService::new(
            store.clone(),
            Arc::new(FixedClock::default()),
            Arc::new(SequentialIds::default()),
            Arc::new(WorkflowConfig::default_config()),
            Arc::new(Templates::embedded().unwrap()),
        );
        let mut importer = svc
            .importer(&Actor::operator("cli"), &**store, "salesforce", dry_run, 10)
            .unwrap();
        import(
            &mut importer,
            &table("Case.csv", CASES),
            &table("CaseComment.csv", COMMENTS),
            &table("EmailMessage.csv", EMAILS),
            &Mapping::parse(MAPPING).unwrap(),
        )
        .await
        .unwrap();
        importer.finish().await.unwrap()
    }

    #[test]
    fn a_data_export_becomes_cases_with_their_numbers_dates_comments_and_emails() {
        futures::executor::block_on(async {
            let store = Arc::new(MemoryStore::new());
            let dry = run(&store, true).await;
            assert_eq!(
                store.stats().await.unwrap().cases,
                0,
                "a dry run writes nothing"
            );
            assert_eq!(dry.rows, 4 + 3 + 2);
            assert_eq!(dry.unmapped, vec!["Case.csv.Region__c"]);
            assert_eq!(dry.refused.len(), 3, "{:?}", dry.refused);
            assert!(
                dry.refused[0].starts_with("Case.csv:4: no SuppliedEmail or ContactEmail"),
                "{:?}",
                dry.refused
            );
            assert!(
                dry.refused[1].starts_with(
                    "Case.csv:5: Status \"Working\" is not a status of the workflow file"
                ),
                "{:?}",
                dry.refused
            );
            assert!(
                dry.refused[2].starts_with("case 500Z: comments or emails name a case"),
                "{:?}",
                dry.refused
            );

            let report = run(&store, false).await;
            assert_eq!(report.cases.written, 2, "{report:?}");
            let n = CaseNumber::new(1027).unwrap();
            let case = store.load_case(n).await.unwrap();
            assert_eq!(case.title, "Map service fails");
            assert_eq!(case.product.as_deref(), Some("ArcGIS Server"));
            assert_eq!(case.category.product_area.as_deref(), Some("Publishing"));
            assert_eq!(case.owner.as_deref(), Some("Ana Lopez"));
            assert_eq!(
                (case.origin, case.priority),
                (Origin::Phone, Priority::High)
            );
            assert_eq!(case.status.as_str(), "Closed");
            assert_eq!(
                case.created_at,
                "2024-03-01T09:00:00Z".parse::<Timestamp>().unwrap()
            );
            assert_eq!(
                case.closed_at,
                Some("2024-03-02T10:00:00Z".parse().unwrap())
            );
            let kinds: Vec<_> = store
                .history(n)
                .await
                .unwrap()
                .iter()
                .map(|e| match &e.kind {
                    EventKind::PostAdded { visibility, .. } => format!("post {visibility}"),
                    EventKind::EmailReceived {
                        visibility,
                        from_customer,
                        ..
                    } => {
                        format!("email {visibility} {from_customer}")
                    }
                    other => other.name().to_string(),
                })
                .collect();
            assert_eq!(
                kinds,
                vec![
                    "opened",
                    "field_changed",
                    "owner_changed",
                    "post internal",
                    "post customer",
                    "post customer",
                    "email customer true",
                    "closed"
                ],
                "comments and emails at their own times, in order"
            );
            let waiting = store
                .load_case(CaseNumber::new(1028).unwrap())
                .await
                .unwrap();
            assert_eq!(waiting.status.as_str(), "Pending Customer");
            assert_eq!(
                waiting.owner, None,
                "an owner not in the mapping is left out"
            );
            let again = run(&store, false).await;
            assert_eq!((again.cases.unchanged, again.cases.written), (2, 0));
        });
    }

    #[test]
    fn a_mapping_file_names_what_is_wrong() {
        let e = Mapping::parse("[fields]\nProduct__c = \"colour\"\n").unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = Mapping::parse("[feilds]\n").unwrap_err();
        assert!(e.contains("feilds"), "{e}");
    }
}
