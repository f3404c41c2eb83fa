//! Fixtures the stores' schema-upgrade tests share: data written by this build, read back
//! after the test took the store back to an older version and opened it again, so every
//! store's migration is checked against the same expectations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Cases an upgrade test opens before it takes a store back to a version without the case
/// list's sort keys and last customer replies ([`open_cases_for_the_list_orders`]).
#[derive(Debug, Clone, Copy)]
pub struct ListOrderCases {
    /// Opened first; the customer replies on it last.
    pub a: casework_core::ids::CaseNumber,
    /// Opened second, then made urgent.
    pub b: casework_core::ids::CaseNumber,
    /// Opened last; never replied to.
    pub c: casework_core::ids::CaseNumber,
    /// When the customer replied on `a`.
    pub reply_at: jiff::Timestamp,
}

/// Opens three cases through `svc` as an agent, a step of a minute and some nanoseconds
/// apart (finer than a stored key keeps), makes the second urgent and has the first's
/// customer reply: by the last change `a, b, c`, by priority `b, a, c`. The stores' upgrade
/// tests then take the store back and check what the migration filled with
/// [`check_the_list_orders_after_an_upgrade`].
pub async fn open_cases_for_the_list_orders(
    svc: &casework_core::CaseService,
    clock: &casework_core::testing::FixedClock,
) -> ListOrderCases {
    use casework_core::model::{Actor, PostKind, Priority, Role, Visibility};
    use casework_core::workflow::{CaseEdit, Command};
    let step = jiff::SignedDuration::from_nanos(60_000_000_999);
    let ana = Actor {
        role: Role::Agent,
        ..Actor::operator("ana")
    };
    let mut numbers = Vec::new();
    for title in ["a", "b", "c"] {
        clock.advance(step);
        let case = casework_core::testing::new_case(title);
        numbers.push(svc.open_case(&ana, case).await.unwrap().number);
    }
    let (a, b, c) = (numbers[0], numbers[1], numbers[2]);
    clock.advance(step);
    let urgent = CaseEdit {
        priority: Some(Priority::Urgent),
        ..Default::default()
    };
    svc.execute(&ana, b, None, Command::Edit(urgent))
        .await
        .unwrap();
    clock.advance(step);
    let customer = Actor::customer("C", "c@customer.example".parse().unwrap());
    let reply = Command::AddPost {
        kind: PostKind::Note,
        body: "still broken".into(),
        visibility: Visibility::Customer,
    };
    let replied = svc.execute(&customer, a, None, reply).await.unwrap();
    let reply_at = replied.case.last_customer_reply_at.expect("a reply time");
    ListOrderCases { a, b, c, reply_at }
}

/// After the upgrade: every stored state is what its history replays to (the last customer
/// reply included), and the lists by the last change and by priority read the filled keys,
/// two cases a page.
pub async fn check_the_list_orders_after_an_upgrade<S: crate::CaseStore + ?Sized>(
    store: &S,
    cases: &ListOrderCases,
) {
    use casework_core::ports::{CaseFilter, CaseOrder};
    let ListOrderCases { a, b, c, reply_at } = *cases;
    for n in [a, b, c] {
        let case = store.load_case(n).await.unwrap();
        let history = store.history(n).await.unwrap();
        assert_eq!(
            casework_core::event::replay(&history).unwrap(),
            case,
            "case {n}"
        );
    }
    let reply = |n| async move { store.load_case(n).await.unwrap().last_customer_reply_at };
    assert_eq!(reply(a).await, Some(reply_at));
    assert_eq!(reply(c).await, None);
    let walk = async |order| {
        crate::list_pages(store, CaseFilter::default(), order, 2)
            .await
            .concat()
    };
    assert_eq!(walk(CaseOrder::Updated).await, [a, b, c]);
    assert_eq!(walk(CaseOrder::Priority).await, [b, a, c]);
}
