//! Notifications end to end: the real `casework` program with a `[notifications]` section,
//! people who turned some kinds off, and the outbox delivered to the real SMTP test server
//! on loopback (aiosmtpd): each event's notice reaches the people the workflow names, and
//! nobody who turned it off or caused it; a customer whose email opens a case gets the
//! acknowledgement, marked as an automatic answer.

use casework_e2e::{Cw, SmtpServer};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

const SECTION: &str = r#"
[notifications]
send = ["new_case", "assigned", "customer_reply", "swarm_requested", "reopened"]
acknowledge_email = true

[notifications.groups]
Database = "db-swarm@example.com"
"#;

fn add(cw: &Cw, name: &str, role: &str, email: &str) {
    cw.ok(&[
        "--as", "root", "agent", "add", name, "--role", role, "--email", email,
    ]);
}

fn as_(cw: &Cw, who: &str, args: &[&str]) -> String {
    let mut all = vec!["--as", who];
    all.extend_from_slice(args);
    cw.ok(&all)
}

fn settings(cw: &Cw, who: &str, args: &[&str]) -> Value {
    let mut all = vec!["--as", who, "agent", "notifications"];
    all.extend_from_slice(args);
    cw.json(&all)
}

/// A customer's email, raw.
fn email(from: &str, subject: &str, id: &str, body: &str) -> String {
    format!(
        "From: Jordan Smith <{from}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

fn ingest(cw: &Cw, raw: &str) -> Value {
    let run = cw.run_with(&["--json", "mail", "ingest"], Some(raw));
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap()
}

/// The outbox as (template, recipient) pairs, in order.
fn queued(cw: &Cw) -> Vec<(String, String)> {
    cw.json(&["--as", "root", "outbox", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["template"].as_str().unwrap().to_string(),
                m["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(t, to)| (t.to_string(), to.to_string()))
        .collect()
}

#[test]
fn notices_reach_the_people_the_workflow_names_over_smtp_and_not_those_who_turned_them_off() {
    let smtp = SmtpServer::start("notify", &[]);
    let cw = Cw::new(EXE, "notifications");
    cw.ok(&["init"]);
    cw.first_admin();
    cw.append_to_config(SECTION);
    add(&cw, "Ana Lopez", "agent", "ana@example.com");
    add(&cw, "Ben Ode", "agent", "ben@example.com");
    add(&cw, "Lee Park", "lead", "lee@example.com");
    add(&cw, "Kim Sato", "lead", "kim@example.com");

    // Kim turns new cases off for herself; Ana may not touch Kim's settings
    let kim = settings(&cw, "Kim Sato", &["Kim Sato", "--off", "new_case"]);
    assert_eq!(kim["off"], serde_json::json!(["new_case"]), "{kim}");
    assert!(!kim["on"].as_array().unwrap().contains(&"new_case".into()));
    let refused = cw.run(&[
        "--as",
        "Ana Lopez",
        "agent",
        "notifications",
        "Kim Sato",
        "--on",
        "new_case",
    ]);
    assert_ne!(refused.code, 0, "{refused:?}");
    // updating Kim's entry keeps her settings
    add(&cw, "Kim Sato", "lead", "kim@example.com");
    assert_eq!(
        settings(&cw, "root", &["Kim Sato"])["off"],
        serde_json::json!(["new_case"])
    );

    // a new case: the leads (not Kim)
    let n = as_(
        &cw,
        "Ana Lopez",
        &[
            "case",
            "open",
            "--title",
            "Export stops at 10%",
            "--description",
            "Since Monday",
            "--customer-name",
            "Jordan Smith",
            "--customer-email",
            "jordan@customer.example",
        ],
    )
    .trim()
    .to_string();
    let display = format!("{n:0>8}");
    // an assignment: the new owner
    as_(&cw, "Lee Park", &["case", "assign", &n, "--to", "Ben Ode"]);
    // the customer writes: the owner hears of it, until he turns it off
    let subject = format!("Re: [Case {display}] Export stops at 10%");
    let reply = ingest(
        &cw,
        &email(
            "jordan@customer.example",
            &subject,
            "r1@customer.example",
            "Still stuck.",
        ),
    );
    assert_eq!(reply["created"], false, "{reply}");
    settings(&cw, "Ben Ode", &["Ben Ode", "--off", "customer_reply"]);
    ingest(
        &cw,
        &email(
            "jordan@customer.example",
            &subject,
            "r2@customer.example",
            "And again.",
        ),
    );
    // help from a group: its address
    as_(
        &cw,
        "Ben Ode",
        &[
            "swarm",
            &n,
            "--group",
            "database",
            "--question",
            "Seen this lock?",
        ],
    );
    // a reopen: the owner at the close and the leads, but not the lead who reopened it
    as_(&cw, "Ben Ode", &["case", "close", &n, "--temporary"]);
    as_(
        &cw,
        "Lee Park",
        &["case", "reopen", &n, "--reason", "Came back", "--no-notify"],
    );
    // a new customer's email opens a case: the acknowledgement, and the leads hear of it
    let opened = ingest(
        &cw,
        &email(
            "sam@other.example",
            "Login loops",
            "new1@other.example",
            "I cannot sign in.",
        ),
    );
    assert_eq!(opened["created"], true, "{opened}");
    let second = opened["display_number"].as_str().unwrap().to_string();

    let expected = pairs(&[
        ("notice_new_case", "lee@example.com"),
        ("notice_assigned", "ben@example.com"),
        ("notice_customer_reply", "ben@example.com"),
        ("notice_swarm", "db-swarm@example.com"),
        ("temporary_close_notice", "jordan@customer.example"),
        ("notice_reopened", "ben@example.com"),
        ("notice_reopened", "kim@example.com"),
        ("notice_new_case", "lee@example.com"),
        ("acknowledgement", "sam@other.example"),
    ]);
    let mut got = queued(&cw);
    let mut want = expected.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // delivered over SMTP, each to its own recipient
    let flushed = cw.json(&["--as", "root", "outbox", "flush", "--mailer", &smtp.url("")]);
    assert_eq!(flushed["sent"], expected.len() as u64, "{flushed}");
    let mail = smtp.messages();
    assert_eq!(mail.len(), expected.len());
    let mut delivered: Vec<(String, String)> = mail
        .iter()
        .map(|m| {
            let to = m["rcpt_tos"].as_array().unwrap();
            assert_eq!(to.len(), 1, "{m}");
            (
                to[0].as_str().unwrap().to_string(),
                m["headers"]["Subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    delivered.sort();
    let subject_of = |to: &str, start: &str| {
        delivered
            .iter()
            .any(|(r, s)| r == to && s.starts_with(start))
    };
    assert!(
        subject_of(
            "lee@example.com",
            &format!("[Case {display}] New case: Export stops")
        ),
        "{delivered:?}"
    );
    assert!(
        subject_of(
            "ben@example.com",
            &format!("[Case {display}] Assigned to you:")
        ),
        "{delivered:?}"
    );
    assert!(
        subject_of(
            "ben@example.com",
            &format!("[Case {display}] The customer wrote:")
        ),
        "{delivered:?}"
    );
    assert!(
        subject_of(
            "db-swarm@example.com",
            &format!("[Case {display}] Help asked:")
        ),
        "{delivered:?}"
    );
    assert!(
        subject_of("kim@example.com", &format!("[Case {display}] Reopened:")),
        "{delivered:?}"
    );
    assert!(
        subject_of(
            "lee@example.com",
            &format!("[Case {second}] New case: Login loops")
        ),
        "{delivered:?}"
    );
    // nobody who turned a kind off or caused the event heard of it
    assert!(
        !delivered.iter().any(|(r, _)| r == "ana@example.com"),
        "{delivered:?}"
    );
    assert!(
        !delivered
            .iter()
            .any(|(r, s)| r == "kim@example.com" && s.contains("New case"))
    );
    assert!(
        !delivered
            .iter()
            .any(|(r, s)| r == "lee@example.com" && s.contains("Reopened"))
    );
    let replies = delivered
        .iter()
        .filter(|(_, s)| s.contains("The customer wrote"))
        .count();
    assert_eq!(replies, 1, "{delivered:?}");
    // the customer's text reaches the owner as the notice's body
    let reply_mail = mail
        .iter()
        .find(|m| {
            m["headers"]["Subject"]
                .as_str()
                .unwrap()
                .contains("The customer wrote")
        })
        .unwrap();
    assert!(
        reply_mail["body"]
            .as_str()
            .unwrap()
            .contains("Still stuck."),
        "{reply_mail}"
    );
    // the acknowledgement: to the customer, an automatic answer no autoresponder answers
    let ack = mail
        .iter()
        .find(|m| m["rcpt_tos"][0] == "sam@other.example")
        .unwrap();
    assert_eq!(ack["headers"]["Auto-Submitted"], "auto-replied", "{ack}");
    assert!(ack["body"].as_str().unwrap().contains(&second), "{ack}");
    // staff notices are not on the customer's timeline; the acknowledgement is
    let customer_view = cw.json(&["--as", "root", "case", "show", &second]);
    let emails: Vec<&Value> = customer_view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "email_queued")
        .collect();
    assert_eq!(emails.len(), 1, "{customer_view}");
    assert_eq!(emails[0]["template"], "acknowledgement");
}
