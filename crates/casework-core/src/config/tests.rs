//! The workflow file's parse: the default, each section's checks, and errors with their
//! line.

use super::*;

#[test]
fn the_default_workflow_parses() {
    let c = WorkflowConfig::parse(DEFAULT_WORKFLOW).unwrap();
    assert_eq!(c.statuses().len(), 6);
    assert_eq!(c.initial_status.as_str(), "New");
    assert_eq!(c.reopen_status.as_str(), "New");
    assert_eq!(c.non_response.emails, 3);
    assert_eq!(c.non_response.phone_calls, 2);
    assert!(c.permits(Role::Lead, Permission::Reopen));
    assert!(!c.permits(Role::Agent, Permission::Reopen));
    assert!(c.permits(Role::Admin, Permission::Manage));
    assert!(c.allows(&"New".parse().unwrap(), &"In Progress".parse().unwrap()));
    assert!(!c.allows(&"Closed".parse().unwrap(), &"New".parse().unwrap()));
    assert_eq!(WorkflowConfig::default_config(), c);
}

fn with(from: &str, to: &str) -> String {
    DEFAULT_WORKFLOW.replacen(from, to, 1)
}

fn line_of_text(needle: &str, text: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_reopen_status_can_be_configured() {
    let text = with(
        r#"reopen_status = "New""#,
        r#"reopen_status = "In Progress""#,
    );
    let c = WorkflowConfig::parse(&text).unwrap();
    assert_eq!(c.reopen_status.as_str(), "In Progress");
}

#[test]
fn an_unknown_status_in_a_transition_is_refused_with_its_line() {
    let text = with(
        r#"transitions = ["Pending Customer", "Escalated", "Closed", "Temporarily Closed"]"#,
        r#"transitions = ["Pending Customr"]"#,
    );
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert_eq!(e.line, line_of_text("Pending Customr", &text));
    assert!(
        e.message.contains("unknown status \"Pending Customr\""),
        "{e}"
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let text = with("[non_response]\n", "[non_response]\nemail = 3\n");
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert_eq!(e.line, line_of_text("email = 3", &text));
    assert!(e.message.contains("email"), "{e}");
}

#[test]
fn syntax_errors_and_bad_values_name_their_line() {
    let text = with("emails = 3", "emails = three");
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert_eq!(e.line, line_of_text("emails = three", &text));

    let text = with(
        r#"support_email = "support@example.com""#,
        r#"support_email = "nope""#,
    );
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert_eq!(e.line, line_of_text("support_email", &text));
    assert!(e.to_string().starts_with("workflow file, line"), "{e}");

    // the organization name is the sender's name on every email: one line
    let text = with(
        r#"name = "Example Corp""#,
        r#"name = "Example\r\nBcc: all@example.com""#,
    );
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert!(e.message.contains("line break"), "{e}");
    assert_eq!(e.line, line_of_text("Bcc: all", &text));

    let text = with(r#""reopen", "reopen_temporary""#, r#""reopen", "fly""#);
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert!(e.message.contains("unknown permission \"fly\""), "{e}");
}

#[test]
fn closed_and_open_roles_of_statuses_are_checked() {
    let text = with(r#"reopen_status = "New""#, r#"reopen_status = "Closed""#);
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert!(e.message.contains("closed category"), "{e}");
    let text = with(r#"closed_status = "Closed""#, r#"closed_status = "New""#);
    assert!(WorkflowConfig::parse(&text).is_err());
    let text = with(
        "name = \"Closed\"\ncategory = \"closed\"",
        "name = \"new\"\ncategory = \"closed\"",
    );
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert!(e.message.contains("listed twice"), "{e}");
}

#[test]
fn a_wildcard_grants_everything_but_the_storage_protocol() {
    let c = WorkflowConfig::parse(DEFAULT_WORKFLOW).unwrap();
    assert!(c.permits(Role::Admin, Permission::Manage));
    assert!(
        !c.permits(Role::Admin, Permission::Store),
        "admin = [\"*\"]"
    );
    assert!(c.permits(Role::Service, Permission::Store));
    let named = with(r#"admin = ["*"]"#, r#"admin = ["*", "store"]"#);
    assert!(
        WorkflowConfig::parse(&named)
            .unwrap()
            .permits(Role::Admin, Permission::Store)
    );
    let none = with(r#"service = ["store", "ingest_mail"]"#, r#"service = []"#);
    assert!(
        !WorkflowConfig::parse(&none)
            .unwrap()
            .permits(Role::Service, Permission::Store)
    );
    assert!(!WorkflowConfig::minimal().permits(Role::Admin, Permission::Store));
}

#[test]
fn a_customer_never_gets_staff_permissions() {
    let text = with(
        r#"customer = ["open_case", "view_case", "post_customer"]"#,
        r#"customer = ["*"]"#,
    );
    let c = WorkflowConfig::parse(&text).unwrap();
    assert!(c.permits(Role::Customer, Permission::ViewCase));
    assert!(!c.permits(Role::Customer, Permission::WorkCase));
    assert!(!c.permits(Role::Customer, Permission::Store));
}

#[test]
fn the_delivery_policy_is_configured_in_seconds_and_checked() {
    let c = WorkflowConfig::parse(DEFAULT_WORKFLOW).unwrap();
    assert_eq!(c.delivery, DeliveryPolicy::default());
    let text = with("max_attempts = 8", "max_attempts = 3")
        .replace("first_retry_seconds = 60", "first_retry_seconds = 1")
        .replace("lease_seconds = 300", "lease_seconds = 2");
    let c = WorkflowConfig::parse(&text).unwrap();
    assert_eq!(c.delivery.max_attempts, 3);
    assert_eq!(c.delivery.first_retry, jiff::SignedDuration::from_secs(1));
    assert_eq!(c.delivery.lease, jiff::SignedDuration::from_secs(2));
    assert_eq!(c.delivery.max_retry, jiff::SignedDuration::from_hours(6));
    // a file without the section gets the defaults
    let start = DEFAULT_WORKFLOW.find("\n# Email delivery").unwrap();
    let c = WorkflowConfig::parse(&DEFAULT_WORKFLOW[..start]).unwrap();
    assert_eq!(c.delivery, DeliveryPolicy::default());
    let text = with("max_attempts = 8", "max_attempts = 0");
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert!(e.message.contains("at least 1"), "{e}");
    let line = DEFAULT_WORKFLOW
        .lines()
        .position(|l| l == "[delivery]")
        .unwrap()
        + 1;
    assert_eq!(e.line, line, "{e}");
    let text = with("max_retry_seconds = 21600", "max_retry_seconds = 10");
    let e = WorkflowConfig::parse(&text).unwrap_err();
    assert!(e.message.contains("shorter than"), "{e}");
}

#[test]
fn checklist_items_can_be_switched_off() {
    let text = with("categorized = true", "categorized = false");
    let c = WorkflowConfig::parse(&text).unwrap();
    assert!(!c.checklist.categorized);
    assert!(c.checklist.summary_last_post);
}

#[test]
fn the_inbound_section_names_an_open_status_and_a_closed_reply_policy() {
    use super::ClosedReply;
    let default = WorkflowConfig::default_config();
    assert_eq!(default.inbound.reply_status.as_str(), "In Progress");
    assert_eq!(
        default.inbound.closed_reply,
        ClosedReply::ReopenWithin { days: 30 }
    );
    let with = |section: &str| {
        let text = super::DEFAULT_WORKFLOW.replace(
            "[inbound]\nreply_status = \"In Progress\"\nclosed_reply = \"reopen_within\"\nreopen_within_days = 30\nsender_cases_per_minute = 5\n",
            section,
        );
        WorkflowConfig::parse(&text)
    };
    // absent: the reopen status, and reopen
    let none = with("").unwrap();
    assert_eq!(none.inbound.reply_status, none.reopen_status);
    assert_eq!(none.inbound.closed_reply, ClosedReply::Reopen);
    assert_eq!(none.inbound.sender_cases_per_minute, 5);
    assert_eq!(default.inbound.sender_cases_per_minute, 5);
    assert_eq!(
        with("[inbound]\nsender_cases_per_minute = 20\n")
            .unwrap()
            .inbound
            .sender_cases_per_minute,
        20
    );
    assert_eq!(
        with("[inbound]\nclosed_reply = \"new_case\"\n")
            .unwrap()
            .inbound
            .closed_reply,
        ClosedReply::NewCase
    );
    for (bad, says) in [
        ("[inbound]\nreply_status = \"Closed\"\n", "closed category"),
        ("[inbound]\nreply_status = \"Nope\"\n", "unknown status"),
        (
            "[inbound]\nclosed_reply = \"reopen_within\"\n",
            "needs reopen_within_days",
        ),
        (
            "[inbound]\nclosed_reply = \"reopen_within\"\nreopen_within_days = 0\n",
            "at least 1",
        ),
        ("[inbound]\nclosed_reply = \"ignore\"\n", "not one of"),
        (
            "[inbound]\nsender_cases_per_minute = 0\n",
            "sender_cases_per_minute must be at least 1",
        ),
        ("[inbound]\nsecret = 1\n", "unknown field"),
    ] {
        let err = with(bad).unwrap_err();
        assert!(err.message.contains(says), "{bad}: {err}");
    }
}

#[test]
fn the_notifications_section_names_kinds_addresses_and_groups_and_refuses_mistakes() {
    let with = |section: &str| WorkflowConfig::parse(&format!("{DEFAULT_WORKFLOW}\n{section}"));
    // absent: nothing is sent, no acknowledgement
    let none = with("").unwrap();
    assert!(
        NotificationKind::ALL
            .iter()
            .all(|k| !none.notifications.sends(*k))
    );
    assert!(!none.notifications.acknowledge_email);
    let c = with(
        "[notifications]\nsend = [\"new_case\", \"reopened\"]\nnew_case_to = \"team@example.com\"\nacknowledge_email = true\n[notifications.groups]\nDatabase = \"db@example.com\"\n",
    )
    .unwrap();
    let n = &c.notifications;
    assert!(n.sends(NotificationKind::NewCase) && n.sends(NotificationKind::Reopened));
    assert!(!n.sends(NotificationKind::Assigned));
    assert_eq!(n.new_case_to.as_ref().unwrap().as_str(), "team@example.com");
    assert_eq!(
        n.group_address(" DATABASE ").unwrap().as_str(),
        "db@example.com"
    );
    assert!(n.group_address("Networking").is_none());
    assert!(n.acknowledge_email);
    for (bad, says) in [
        (
            "[notifications]\nsend = [\"everything\"]\n",
            "is not one of new_case",
        ),
        (
            "[notifications]\nsend = [\"assigned\", \"assigned\"]\n",
            "named twice",
        ),
        ("[notifications]\nnew_case_to = \"team\"\n", "new_case_to"),
        (
            "[notifications.groups]\nDatabase = \"not an address\"\n",
            "groups.Database",
        ),
        (
            "[notifications.groups]\nDB = \"a@example.com\"\ndb = \"b@example.com\"\n",
            "named twice",
        ),
        ("[notifications]\nsecret = 1\n", "unknown field"),
    ] {
        let err = with(bad).unwrap_err();
        assert!(err.message.contains(says), "{bad}: {err}");
        assert!(err.line > 1, "{bad}: {err}");
    }
}
