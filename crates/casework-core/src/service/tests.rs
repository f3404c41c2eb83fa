//! Unit tests of the service's paths that a real store cannot be made to take, on a mock.

use super::*;
use crate::event::Event;
use crate::ids::EmailAddress;
use crate::limits::MAX_QUERY;
use crate::model::{ApiToken, Person};
use crate::ports::{CaseFilter, MockCaseStore, Page, PageRequest};
use crate::testing::{FixedClock, SequentialIds};

fn service(store: MockCaseStore) -> CaseService {
    CaseService::new(
        Arc::new(store),
        Arc::new(FixedClock::default()),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    )
}

fn agent() -> Actor {
    Actor {
        name: "ana".into(),
        principal: "person:ana".into(),
        role: Role::Agent,
        email: None,
        phone: None,
        signature: None,
    }
}

#[test]
fn an_unavailable_store_is_reported_as_such() {
    let mut store = MockCaseStore::new();
    store
        .expect_load_case()
        .returning(|_| Err(StoreError::Unavailable("connection refused".into())));
    let svc = service(store);
    let n = CaseNumber::new(5).unwrap();
    let err = futures::executor::block_on(svc.case(&agent(), n)).unwrap_err();
    assert_eq!(
        err,
        ServiceError::Store(StoreError::Unavailable("connection refused".into()))
    );
}

#[test]
fn another_customers_case_is_not_found() {
    let mut store = MockCaseStore::new();
    store
        .expect_load_case()
        .returning(|_| Ok(crate::testing::sample_case()));
    let svc = service(store);
    let n = CaseNumber::new(1027).unwrap();
    let eve = Actor::customer("Eve", "eve@example.org".parse().unwrap());
    let err = futures::executor::block_on(svc.case(&eve, n)).unwrap_err();
    assert_eq!(err, ServiceError::NotFound("case 00001027".into()));
    let owner = Actor::customer("Sam", "customer@example.com".parse().unwrap());
    assert!(futures::executor::block_on(svc.case(&owner, n)).is_ok());
}

#[test]
fn a_customer_sees_their_case_without_its_internal_facts() {
    let mut case = crate::testing::sample_case();
    case.links.push(crate::model::LinkTarget {
        kind: RefKind::Defect,
        reference: "BUG-SECRET".into(),
    });
    case.category.product_area = Some("Internal area".into());
    case.contacts.emails = 2;
    let stored = case.clone();
    let mut store = MockCaseStore::new();
    store
        .expect_load_case()
        .returning(move |_| Ok(stored.clone()));
    let svc = service(store);
    let n = CaseNumber::new(1027).unwrap();
    let owner = Actor::customer("Sam", "customer@example.com".parse().unwrap());
    let seen = futures::executor::block_on(svc.case(&owner, n)).unwrap();
    assert!(seen.links.is_empty());
    assert_eq!(seen.category, crate::model::Category::default());
    assert_eq!(seen.contacts.emails, 0);
    assert_eq!(
        (seen.title.as_str(), seen.status.as_str()),
        (case.title.as_str(), "New")
    );
    let staff = futures::executor::block_on(svc.case(&agent(), n)).unwrap();
    assert_eq!(staff, case, "staff see everything");
}

#[test]
fn only_the_first_person_is_registered_without_an_actor() {
    let person = Person {
        name: "root".into(),
        role: Role::Admin,
        email: None,
        phone: None,
        signature: None,
        notifications_off: Vec::new(),
    };
    let mut empty = MockCaseStore::new();
    empty.expect_list_people().returning(|| Ok(Vec::new()));
    // registering asks whether the person is known, to keep their notification settings
    empty
        .expect_get_person()
        .returning(|name| Err(StoreError::NotFound(name)));
    empty.expect_put_person().times(1).returning(|_| Ok(()));
    let svc = service(empty);
    assert!(futures::executor::block_on(svc.register(None, person.clone())).is_ok());

    let mut staffed = MockCaseStore::new();
    let existing = person.clone();
    staffed
        .expect_list_people()
        .returning(move || Ok(vec![existing.clone()]));
    staffed.expect_put_person().never();
    let svc = service(staffed);
    let err = futures::executor::block_on(svc.register(None, person.clone())).unwrap_err();
    assert!(err.to_string().contains("add more as an admin"), "{err}");
    let refused = futures::executor::block_on(svc.register(Some(&agent()), person)).unwrap_err();
    assert!(matches!(
        refused,
        ServiceError::Workflow(WorkflowError::Forbidden { .. })
    ));
}

#[test]
fn a_customer_cannot_filter_on_what_they_cannot_see() {
    let mut store = MockCaseStore::new();
    store.expect_list_cases().times(1).returning(|_, _| {
        Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        })
    });
    let svc = service(store);
    let jordan = Actor::customer("Jordan", "jordan@customer.example".parse().unwrap());
    for (filter, name) in [
        (
            CaseFilter {
                product_area: Some("SECRET".into()),
                ..CaseFilter::default()
            },
            "product_area",
        ),
        (
            CaseFilter {
                owner: Some("Ana Lopez".into()),
                ..CaseFilter::default()
            },
            "owner",
        ),
    ] {
        let err =
            futures::executor::block_on(svc.list(&jordan, filter.clone(), PageRequest::default()))
                .unwrap_err();
        assert_eq!(
            err,
            forbidden(Role::Customer, &format!("filter cases by {name}"))
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    // staff may (the one list_cases call the mock allows)
    let area = CaseFilter {
        product_area: Some("Publishing".into()),
        ..CaseFilter::default()
    };
    assert!(futures::executor::block_on(svc.list(&agent(), area, PageRequest::default())).is_ok());
}

#[test]
fn the_case_list_query_is_capped_like_search() {
    let mut store = MockCaseStore::new();
    store.expect_list_cases().never();
    store.expect_search().never();
    let svc = service(store);
    let long = "word ".repeat(MAX_QUERY / 5 + 1);
    let filter = CaseFilter {
        q: Some(long.clone()),
        ..CaseFilter::default()
    };
    let err = futures::executor::block_on(svc.list(&agent(), filter, PageRequest::default()))
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Workflow(WorkflowError::Invalid { field, .. }) if field == "q"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&MAX_QUERY.to_string()), "{err}");
    let err = futures::executor::block_on(svc.search(&agent(), &long, None, 10)).unwrap_err();
    assert!(err.to_string().contains(&MAX_QUERY.to_string()), "{err}");
}

#[test]
fn idempotency_keys_are_scoped_by_who_calls_not_by_their_name() {
    let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut store = MockCaseStore::new();
    let seen = keys.clone();
    store
        .expect_create_case_once()
        .returning(move |key, _, at, actor, opened, _| {
            seen.lock().unwrap().push(key);
            let event = Event {
                case: CaseNumber::MIN,
                seq: 1,
                at,
                actor,
                kind: opened.into(),
            };
            Ok(crate::ports::Created {
                case: event.evolve(None).unwrap(),
                replayed: false,
            })
        });
    let svc = service(store);
    let email: EmailAddress = "jordan@customer.example".parse().unwrap();
    // two customers who share a display name, each with a token of their own
    let first = Actor::customer("Jordan", email.clone()).with_principal("token:a1");
    let second = Actor::customer("Jordan", email.clone()).with_principal("token:b2");
    let new = crate::workflow::NewCase {
        title: "t".into(),
        description: String::new(),
        origin: crate::model::Origin::Web,
        priority: crate::model::Priority::Low,
        customer: crate::model::Customer {
            name: "Jordan".into(),
            email,
            phone: None,
            account: None,
        },
        product: None,
        product_version: None,
    };
    for who in [&first, &second, &first] {
        futures::executor::block_on(svc.open_case_once(who, "k-1", new.clone())).unwrap();
    }
    let keys = keys.lock().unwrap();
    assert_ne!(
        keys[0], keys[1],
        "same name, another principal: another key"
    );
    assert_eq!(keys[0], keys[2], "the same principal: the same key");
}

#[test]
fn a_token_authenticates_as_its_own_principal() {
    let mut store = MockCaseStore::new();
    store.expect_find_token().returning(|hash| {
        Ok(ApiToken {
            id: "t-42".into(),
            name: "Jordan".into(),
            role: Role::Customer,
            customer_email: Some("jordan@customer.example".parse().unwrap()),
            hash,
            created_at: crate::testing::START,
            revoked_at: None,
        })
    });
    let svc = service(store);
    let actor = futures::executor::block_on(svc.authenticate("secret"))
        .unwrap()
        .unwrap();
    assert_eq!(actor.principal, "token:t-42");
    assert_eq!(actor.name, "Jordan");
}

#[test]
fn without_an_expected_version_contention_is_busy_never_a_conflict() {
    // issue #11: a write with no If-Match answered 412 after five lost races, though the
    // caller stated no precondition to fail. It re-decides with backoff, then gives up
    // as busy (503, retry later): never a conflict.
    let mut store = MockCaseStore::new();
    store
        .expect_load_case()
        .returning(|_| Ok(crate::testing::sample_case()));
    store
        .expect_commit()
        .times(MAX_ATTEMPTS as usize)
        .returning(|c| {
            Err(StoreError::Conflict {
                expected_version: c.expected_version,
                current_version: c.expected_version + 1,
            })
        });
    let svc = service(store);
    let n = CaseNumber::new(1027).unwrap();
    let err = futures::executor::block_on(svc.execute(&agent(), n, None, Command::ConfirmTitle))
        .unwrap_err();
    assert_eq!(
        err,
        ServiceError::Busy {
            attempts: MAX_ATTEMPTS
        }
    );
}

#[test]
fn retries_back_off_through_the_clock() {
    let mut store = MockCaseStore::new();
    store
        .expect_load_case()
        .returning(|_| Ok(crate::testing::sample_case()));
    let mut lost = 0;
    store.expect_commit().returning(move |c| {
        lost += 1;
        if lost <= 3 {
            Err(StoreError::Conflict {
                expected_version: c.expected_version,
                current_version: c.expected_version,
            })
        } else {
            Ok(c.state)
        }
    });
    let mut clock = crate::ports::MockClock::new();
    clock.expect_now().returning(|| crate::testing::START);
    let mut seq = mockall::Sequence::new();
    for pause in [1, 2, 4] {
        clock
            .expect_pause()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |d| *d == std::time::Duration::from_millis(pause))
            .returning(|_| ());
    }
    let svc = CaseService::new(
        Arc::new(store),
        Arc::new(clock),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    );
    let n = CaseNumber::new(1027).unwrap();
    let done =
        futures::executor::block_on(svc.execute(&agent(), n, None, Command::ConfirmTitle)).unwrap();
    assert_eq!(done.events.len(), 1, "the fourth attempt went through");
}

#[test]
fn an_explicit_stale_version_is_a_conflict_without_a_commit() {
    let mut store = MockCaseStore::new();
    store
        .expect_load_case()
        .returning(|_| Ok(crate::testing::sample_case()));
    store.expect_commit().never();
    let svc = service(store);
    let n = CaseNumber::new(1027).unwrap();
    let err = futures::executor::block_on(svc.execute(&agent(), n, Some(7), Command::ConfirmTitle))
        .unwrap_err();
    assert_eq!(err, ServiceError::Conflict { current_version: 1 });
}

fn service_with(store: MockCaseStore, config: WorkflowConfig) -> CaseService {
    CaseService::new(
        Arc::new(store),
        Arc::new(FixedClock::default()),
        Arc::new(SequentialIds::default()),
        Arc::new(config),
        Arc::new(Templates::embedded().unwrap()),
    )
}

#[test]
fn the_storage_protocol_is_for_whom_the_workflow_file_grants_store() {
    let token = |role| Actor {
        role,
        ..Actor::operator("sync")
    };
    let svc = service(MockCaseStore::new());
    assert!(svc.storage(&token(Role::Service)).is_ok());
    for role in [Role::Admin, Role::Lead, Role::Agent, Role::Customer] {
        let refused = svc.storage(&token(role)).err().unwrap();
        assert_eq!(refused, forbidden(role, "use the storage protocol"));
    }
    // the file decides: without `store`, not even the service role
    let text = crate::config::DEFAULT_WORKFLOW
        .replace(r#"service = ["store", "ingest_mail"]"#, "service = []");
    let svc = service_with(MockCaseStore::new(), WorkflowConfig::parse(&text).unwrap());
    assert!(svc.storage(&token(Role::Service)).is_err());
}

#[test]
fn people_and_diagnostics_are_for_staff_admins_and_the_stores_operator() {
    let mut store = MockCaseStore::new();
    store.expect_list_people().returning(|| Ok(Vec::new()));
    store
        .expect_stats()
        .returning(|| Ok(crate::ports::StoreStats::default()));
    let svc = service(store);
    let operator = Actor::operator("cli");
    let customer = Actor::customer("Jordan", "jordan@customer.example".parse().unwrap());
    assert!(futures::executor::block_on(svc.people(&agent())).is_ok());
    assert!(futures::executor::block_on(svc.people(&operator)).is_ok());
    assert!(futures::executor::block_on(svc.people(&customer)).is_err());
    assert!(futures::executor::block_on(svc.diagnose(&operator)).is_ok());
    assert!(
        futures::executor::block_on(svc.diagnose(&Actor::system("setup"))).is_ok(),
        "admins"
    );
    let refused = futures::executor::block_on(svc.diagnose(&agent())).unwrap_err();
    assert_eq!(
        refused,
        forbidden(Role::Agent, "read the store's diagnostics")
    );
    // without `store` in the file, the operator must name an admin
    let text = crate::config::DEFAULT_WORKFLOW
        .replace(r#"service = ["store", "ingest_mail"]"#, "service = []");
    let mut store = MockCaseStore::new();
    store.expect_list_people().never();
    store.expect_stats().never();
    let svc = service_with(store, WorkflowConfig::parse(&text).unwrap());
    assert!(futures::executor::block_on(svc.people(&operator)).is_err());
    assert!(futures::executor::block_on(svc.diagnose(&operator)).is_err());
}

#[test]
fn a_decode_fault_is_internal_never_store_unavailable() {
    let mut store = MockCaseStore::new();
    store.expect_load_case().returning(|_| {
        Err(StoreError::Internal(
            "a stored event does not decode".into(),
        ))
    });
    let svc = service(store);
    let n = CaseNumber::new(5).unwrap();
    let err = futures::executor::block_on(svc.case(&agent(), n)).unwrap_err();
    assert_eq!(
        err,
        ServiceError::Internal("a stored event does not decode".into())
    );
}

#[test]
fn delivery_claims_until_now_plus_the_lease_and_a_lost_claim_is_not_an_error() {
    use crate::ports::MockMailer;
    let mut store = MockCaseStore::new();
    let lease = WorkflowConfig::default_config().delivery.lease;
    let mut claims = 0;
    store
        .expect_outbox_claim()
        .withf(move |_, now, until, _| *until == *now + lease)
        .returning(move |_, _, _, _| {
            claims += 1;
            Ok(if claims == 1 {
                vec![crate::testing::sample_message()]
            } else {
                Vec::new()
            })
        });
    store
        .expect_outbox_finish()
        .times(1)
        .returning(|id, _, _, _| Err(StoreError::ClaimLost(id)));
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Ok(()));
    let svc = service(store);
    let report =
        futures::executor::block_on(svc.deliver(&Actor::system("delivery"), "w", &mailer)).unwrap();
    assert_eq!(report.sent, 1, "sent; another worker's record of it wins");
    let refused = futures::executor::block_on(svc.deliver(
        &Actor::customer("Jordan", "jordan@customer.example".parse().unwrap()),
        "w",
        &mailer,
    ));
    assert!(refused.is_err());
}

#[test]
fn mailbox_positions_are_for_whom_may_hand_casework_mail() {
    use crate::ports::MailboxPosition;
    let at = MailboxPosition {
        uid_validity: 7,
        last_uid: 3,
    };
    let mut store = MockCaseStore::new();
    store
        .expect_mailbox_position()
        .times(1)
        .returning(move |_| Ok(Some(at)));
    store
        .expect_advance_mailbox_position()
        .times(1)
        .returning(|_, p| Ok(p));
    let svc = service(store);
    let key = "imap://desk@mail.example.com:993/INBOX";
    let poller = Actor::operator("mail");
    let read = futures::executor::block_on(svc.mailbox_position(&poller, key));
    assert_eq!(read, Ok(Some(at)));
    let saved = futures::executor::block_on(svc.save_mailbox_position(&poller, key, at));
    assert_eq!(saved, Ok(at));
    // an agent may not move the poller's position (the mock answers once each, so a
    // refused call that reached the store would fail the test)
    let refused = futures::executor::block_on(svc.save_mailbox_position(&agent(), key, at));
    assert_eq!(
        refused,
        Err(forbidden(Role::Agent, "save mailbox positions"))
    );
    let refused = futures::executor::block_on(svc.mailbox_position(&agent(), key));
    assert!(refused.is_err());
}
