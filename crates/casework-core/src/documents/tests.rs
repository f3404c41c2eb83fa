//! Snapshot tests for every generated document, plus edge cases.

use super::*;
use crate::config::WorkflowConfig;
use crate::model::{Category, CloseMode, Resolution, Role};
use crate::testing::sample_case;

fn org() -> Organization {
    WorkflowConfig::default_config().organization
}

fn agent() -> Actor {
    Actor {
        name: "Ana Lopez".into(),
        principal: "person:Ana Lopez".into(),
        role: Role::Agent,
        email: Some("ana.lopez@example.com".parse().unwrap()),
        phone: Some("+1 555 0100 ext. 42".into()),
        signature: Some("Ana Lopez\nSenior Support Engineer, Example Corp".into()),
    }
}

fn case() -> Case {
    let mut c = sample_case();
    c.title = "Map service fails to publish".into();
    c.description = "Publishing the parcels map service fails with error 999999.".into();
    c.customer.name = "Jordan Smith".into();
    c.customer.email = "jordan@customer.example".parse().unwrap();
    c.product = Some("ArcGIS Server".into());
    c.product_version = Some("11.3".into());
    c
}

fn t() -> Templates {
    Templates::embedded().unwrap()
}

fn render(template: TemplateName, case: &Case, agent: &Actor, fields: &EmailFields) -> String {
    let e = t()
        .render_email(template, &org(), case, agent, fields)
        .unwrap();
    format!(
        "To: {} <{}>\nSubject: {}\n\n{}",
        e.to_name, e.to, e.subject, e.body
    )
}

#[test]
fn initial_contact_email() {
    let fields = EmailFields {
        challenge: Some("publishing a map service".into()),
        ..Default::default()
    };
    insta::assert_snapshot!(render(
        TemplateName::InitialContact,
        &case(),
        &agent(),
        &fields
    ));
}

#[test]
fn initial_contact_email_without_optional_fields() {
    let mut a = agent();
    a.signature = None;
    a.phone = None;
    a.email = None;
    insta::assert_snapshot!(render(
        TemplateName::InitialContact,
        &case(),
        &a,
        &EmailFields::default()
    ));
}

#[test]
fn follow_up_email() {
    let fields = EmailFields {
        discussed: Some("We reproduced the failure over a screenshare and found the service definition references a missing data store.".into()),
        next_steps: Some("Register the data store with the server, then publish again. I will call you on Thursday to confirm.".into()),
        documentation: vec![
            "https://example.com/docs/register-data-store".into(),
            "https://example.com/kb/000012345".into(),
        ],
        ..Default::default()
    };
    insta::assert_snapshot!(render(TemplateName::FollowUp, &case(), &agent(), &fields));
}

#[test]
fn follow_up_email_with_only_the_discussion() {
    let fields = EmailFields {
        discussed: Some("We looked at the logs together.".into()),
        ..Default::default()
    };
    insta::assert_snapshot!(render(TemplateName::FollowUp, &case(), &agent(), &fields));
}

#[test]
fn non_response_closure_email() {
    let mut c = case();
    c.contacts.emails = 3;
    c.contacts.phone_calls = 2;
    insta::assert_snapshot!(render(
        TemplateName::NonResponseClosure,
        &c,
        &agent(),
        &EmailFields::default()
    ));
}

#[test]
fn reopen_notice_email() {
    let mut c = case();
    c.status = "In Progress".parse().unwrap();
    insta::assert_snapshot!(render(
        TemplateName::ReopenNotice,
        &c,
        &agent(),
        &EmailFields::default()
    ));
}

#[test]
fn resolution_notice_email() {
    let mut c = case();
    c.status = "Closed".parse().unwrap();
    c.resolution = Some(Resolution {
        primary: "Configuration".into(),
        secondary: "Data store registered".into(),
    });
    insta::assert_snapshot!(render(
        TemplateName::ResolutionNotice,
        &c,
        &agent(),
        &EmailFields::default()
    ));
}

#[test]
fn temporary_close_notice_email() {
    let mut c = case();
    c.status = "Temporarily Closed".parse().unwrap();
    insta::assert_snapshot!(render(
        TemplateName::TemporaryCloseNotice,
        &c,
        &agent(),
        &EmailFields::default()
    ));
}

#[test]
fn the_closing_notices_can_be_overridden() {
    let t = Templates::with_overrides(vec![
        (
            "resolution_notice.body.j2".into(),
            "Solved #{{ case.display_number }}{% if case.resolution %}: {{ case.resolution.primary }}{% endif %}".into(),
        ),
        (
            "temporary_close_notice.subject.j2".into(),
            "On hold".into(),
        ),
    ])
    .unwrap();
    let mut c = case();
    c.resolution = Some(Resolution {
        primary: "Configuration".into(),
        secondary: "x".into(),
    });
    let e = t
        .render_email(
            TemplateName::ResolutionNotice,
            &org(),
            &c,
            &agent(),
            &EmailFields::default(),
        )
        .unwrap();
    assert_eq!(e.body, "Solved #00001027: Configuration\n");
    let e = t
        .render_email(
            TemplateName::TemporaryCloseNotice,
            &org(),
            &c,
            &agent(),
            &EmailFields::default(),
        )
        .unwrap();
    assert_eq!(e.subject, "[Case 00001027] On hold");
    // the resolution may be absent (a workflow file can switch its checklist item off), so
    // an override must say what to write then: refused at load, not when a case closes
    let e = Templates::with_overrides(vec![(
        "resolution_notice.body.j2".into(),
        "{{ case.resolution.primary }}".into(),
    )])
    .unwrap_err();
    assert!(e.message.contains("undefined"), "{e}");
}

#[test]
fn non_ascii_names_and_long_text_render_intact() {
    let mut c = case();
    c.customer.name = "Zoë Ångström-Nuñez 王小明".into();
    c.title = "Ошибка публикации — «карта»".into();
    let long = "word ".repeat(2000);
    let fields = EmailFields {
        discussed: Some(long.trim().to_string()),
        ..Default::default()
    };
    let e = t()
        .render_email(TemplateName::FollowUp, &org(), &c, &agent(), &fields)
        .unwrap();
    assert_eq!(
        e.subject,
        "[Case 00001027] Follow-up: Ошибка публикации — «карта»"
    );
    assert!(e.body.starts_with("Hello Zoë Ångström-Nuñez 王小明,\n"));
    assert!(e.body.contains(long.trim()));
}

#[test]
fn the_subject_always_carries_the_case_tag() {
    let t = Templates::with_overrides(vec![(
        "follow_up.subject.j2".into(),
        "[Case {{ case.display_number }}] Notes".into(),
    )])
    .unwrap();
    let fields = EmailFields {
        discussed: Some("x".into()),
        ..Default::default()
    };
    let e = t
        .render_email(TemplateName::FollowUp, &org(), &case(), &agent(), &fields)
        .unwrap();
    assert_eq!(e.subject, "[Case 00001027] Notes");
    let e = t
        .render_email(
            TemplateName::InitialContact,
            &org(),
            &case(),
            &agent(),
            &fields,
        )
        .unwrap();
    assert_eq!(e.subject, "[Case 00001027] Map service fails to publish");
}

#[test]
fn overrides_replace_embedded_templates() {
    let t = Templates::with_overrides(vec![(
        "reopen_notice.body.j2".into(),
        "Hi {{ case.customer.name }}, {{ org.name }} reopened #{{ case.display_number }}.".into(),
    )])
    .unwrap();
    let e = t
        .render_email(
            TemplateName::ReopenNotice,
            &org(),
            &case(),
            &agent(),
            &EmailFields::default(),
        )
        .unwrap();
    assert_eq!(
        e.body,
        "Hi Jordan Smith, Example Corp reopened #00001027.\n"
    );
}

#[test]
fn template_errors_are_clear_errors_at_load() {
    let e = Templates::with_overrides(vec![(
        "follow_up.body.j2".into(),
        "Hello\n{% if %}\n".into(),
    )])
    .unwrap_err();
    assert_eq!(e.template, "follow_up.body.j2");
    assert_eq!(e.line, Some(2));
    assert!(
        e.to_string()
            .starts_with("template follow_up.body.j2, line 2: syntax error"),
        "{e}"
    );

    let e = Templates::with_overrides(vec![(
        "follow_up.body.j2".into(),
        "Hello {{ case.custmer.name }}".into(),
    )])
    .unwrap_err();
    assert_eq!(e.template, "follow_up.body.j2");
    assert!(e.message.contains("undefined"), "{e}");

    let e = Templates::with_overrides(vec![("follow_up.body.j2".into(), "{# nothing #}".into())])
        .unwrap_err();
    assert!(e.message.contains("rendered nothing"), "{e}");

    let e = Templates::with_overrides(vec![("folow_up.body.j2".into(), "x".into())]).unwrap_err();
    assert!(e.message.contains("not a Casework template"), "{e}");

    // a subject is a header: a control character in it is refused when the file loads
    let e = Templates::with_overrides(vec![(
        "follow_up.subject.j2".into(),
        "Follow-up \u{1b}[2J{{ case.title }}".into(),
    )])
    .unwrap_err();
    assert_eq!(e.template, "follow_up.subject.j2");
    assert!(e.message.contains("control character"), "{e}");
    // line breaks in a subject template are folded, as before
    assert!(
        Templates::with_overrides(vec![(
            "follow_up.subject.j2".into(),
            "Follow-up:\n{{ case.title }}\n".into(),
        )])
        .is_ok()
    );
}

#[test]
fn case_summary_draft_from_the_record() {
    use crate::event::{Event, EventKind};
    use crate::model::{CallDirection, LinkTarget, PostKind, RefKind, Visibility};
    let mut c = case();
    c.category = Category {
        product_area: Some("Publishing".into()),
        functionality: Some("Map services".into()),
        issue: Some("Data store not registered".into()),
    };
    c.resolution = Some(Resolution {
        primary: "Configuration".into(),
        secondary: "Data store registered".into(),
    });
    c.close_mode = Some(CloseMode::Resolved);
    let ev = |seq, kind| Event {
        case: c.number,
        seq,
        at: crate::testing::START,
        actor: "Ana Lopez".into(),
        kind,
    };
    let history = vec![
        ev(
            2,
            EventKind::CallLogged {
                direction: CallDirection::Inbound,
                duration_minutes: 25,
                screenshare: true,
                channel: Some("SPEC".into()),
                notes: "Reproduced error 999999 while publishing.\nMore detail.".into(),
                reached: true,
            },
        ),
        ev(
            3,
            EventKind::PostAdded {
                kind: PostKind::CallNotes,
                body: "Service definition points at an unregistered data store.".into(),
                visibility: Visibility::Internal,
                from_customer: false,
            },
        ),
        ev(
            4,
            EventKind::SwarmRequested {
                group: "Server SWARM".into(),
                question: "Anyone seen 999999 on publish with 11.3?".into(),
            },
        ),
        ev(
            5,
            EventKind::Linked {
                target: LinkTarget {
                    kind: RefKind::Article,
                    reference: "12".into(),
                },
            },
        ),
        ev(
            6,
            EventKind::Linked {
                target: LinkTarget {
                    kind: RefKind::Defect,
                    reference: "BUG-000123".into(),
                },
            },
        ),
    ];
    let articles = vec![Article {
        id: 12,
        title: "Register a data store with ArcGIS Server".into(),
        body: "…".into(),
        url: Some("https://example.com/kb/12".into()),
        created_at: crate::testing::START,
    }];
    let d = t()
        .summary_draft(&org(), &c, &history, &articles, &agent())
        .unwrap();
    insta::assert_snapshot!(d.text);
}

#[test]
fn case_summary_draft_of_a_fresh_case_says_what_is_not_recorded() {
    let mut c = case();
    c.product = None;
    c.product_version = None;
    let d = t().summary_draft(&org(), &c, &[], &[], &agent()).unwrap();
    assert_eq!(d.environment, "Not recorded yet.");
    assert_eq!(d.troubleshooting, "Not recorded yet.");
    assert!(d.resolution.starts_with("To be given when closing"));
    insta::assert_snapshot!(d.text);
}
