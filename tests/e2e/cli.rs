//! The real `casework` program, run as a process against a private SQLite store: the seed
//! workflow, every refusal path with its exit code, `--json` output checked field by field,
//! and snapshots of the human output (times redacted) and of `casework demo`.

use casework_e2e::Cw;
use serde_json::Value;

pub const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

/// Replaces every `YYYY-MM-DD HH:MM UTC` with a placeholder of the same shape.
fn redact_times(text: &str) -> String {
    let b = text.as_bytes();
    let shape = b"dddd-dd-dd dd:dd UTC";
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let fits = i + shape.len() <= b.len()
            && shape
                .iter()
                .zip(&b[i..i + shape.len()])
                .all(|(s, c)| match s {
                    b'd' => c.is_ascii_digit(),
                    other => other == c,
                });
        if fits {
            out.push_str("YYYY-MM-DD hh:mm UTC");
            i += shape.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Runs `args` as Ana Lopez and returns what she was shown.
pub fn as_ana(cw: &Cw, args: &[&str]) -> String {
    let mut all = vec!["--as", "Ana Lopez"];
    all.extend_from_slice(args);
    cw.ok(&all)
}

/// A store with an admin, an agent and a lead.
pub fn staffed(name: &str) -> Cw {
    let cw = Cw::new(EXE, name);
    cw.ok(&["init"]);
    cw.first_admin();
    staff(&cw);
    cw
}

/// Adds the agent Ana Lopez and the lead Lee Park, as root.
pub fn staff(cw: &Cw) {
    cw.ok(&[
        "--as",
        "root",
        "agent",
        "add",
        "Ana Lopez",
        "--role",
        "agent",
        "--email",
        "ana.lopez@example.com",
        "--phone",
        "+1 555 0100",
        "--signature",
        "Ana Lopez\nSupport Engineer",
    ]);
    cw.ok(&[
        "--as",
        "root",
        "agent",
        "add",
        "Lee Park",
        "--role",
        "lead",
        "--email",
        "lee.park@example.com",
    ]);
}

pub fn open(cw: &Cw, title: &str) -> String {
    cw.ok(&[
        "--as",
        "Ana Lopez",
        "case",
        "open",
        "--title",
        title,
        "--description",
        "Publishing fails with error 999999",
        "--customer-name",
        "Jordan Smith",
        "--customer-email",
        "jordan@customer.example",
        "--origin",
        "phone",
        "--priority",
        "high",
    ])
    .trim()
    .to_string()
}

#[test]
fn the_seed_workflow_from_a_terminal() {
    seed_workflow(&staffed("workflow"));
}

/// Every step of the seed documents, from a terminal, on whatever store `cw` uses (with
/// root, Ana Lopez and Lee Park registered and nothing else).
pub fn seed_workflow(cw: &Cw) {
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "Ana Lopez"];
        all.extend_from_slice(args);
        cw.ok(&all)
    };
    let n = open(cw, "Map service fails to publish");
    assert_eq!(n, "00000001");
    // 1. contact and ownership
    assert!(ana(&["case", "take", &n]).contains("owner → Ana Lopez"));
    let sent = ana(&[
        "email",
        "send",
        &n,
        "--template",
        "initial-contact",
        "--challenge",
        "publishing a map service",
    ]);
    assert!(sent.contains("email queued (initial contact) to jordan@customer.example: [Case 00000001] Map service fails to publish"), "{sent}");
    ana(&["case", "transition", "1", "--status", "in progress"]);
    // 2-4. call log, follow-up, call notes (body from standard input)
    assert!(
        ana(&[
            "call",
            "log",
            &n,
            "--duration",
            "1h5m",
            "--screenshare",
            "--channel",
            "SPEC",
            "--notes",
            "Reproduced 999999"
        ])
        .contains("inbound, 65 min, screenshare, via SPEC")
    );
    let preview = ana(&[
        "email",
        "preview",
        &n,
        "--template",
        "follow-up",
        "--discussed",
        "We reproduced it.",
        "--doc",
        "https://example.com/kb/1",
    ]);
    assert!(
        preview.contains("Subject: [Case 00000001] Follow-up: Map service fails to publish"),
        "{preview}"
    );
    assert!(preview.contains("- https://example.com/kb/1"));
    assert!(
        preview.contains("Ana Lopez\nSupport Engineer"),
        "the agent's signature: {preview}"
    );
    ana(&[
        "email",
        "send",
        &n,
        "--template",
        "follow-up",
        "--discussed",
        "We reproduced it.",
    ]);
    let r = cw.run_with(
        &[
            "--as",
            "Ana Lopez",
            "post",
            "add",
            &n,
            "--kind",
            "call-notes",
            "--body",
            "-",
        ],
        Some("Data store not registered.\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 5. troubleshoot
    let article = cw.json(&[
        "--as",
        "Ana Lopez",
        "article",
        "add",
        "--title",
        "Register a data store",
        "--body",
        "Publishing fails with 999999 when the data store is not registered",
        "--url",
        "https://example.com/kb/1",
    ]);
    let id = article["id"].as_u64().unwrap().to_string();
    let similar = cw.json(&["--as", "Ana Lopez", "case", "similar", &n]);
    assert_eq!(similar[0]["kind"], "article", "{similar}");
    assert_eq!(similar[0]["ref"], id.as_str());
    ana(&["case", "link", &n, "--article", &id]);
    ana(&[
        "swarm",
        &n,
        "--group",
        "Server SWARM",
        "--question",
        "Seen 999999?",
    ]);
    // 6. contact attempts; the checklist is not ready: exit 2, every item listed
    ana(&[
        "contact",
        "record",
        &n,
        "--channel",
        "phone",
        "--outcome",
        "reached",
    ]);
    let r = cw.run(&["--as", "Ana Lopez", "case", "check", &n]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("[ ] 7. case summary is the last post"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "[ ] 9. product and product version: product is missing; product version is missing"
        ),
        "{}",
        r.stdout
    );
    // 7-10. summary, title, technical details, categorization
    let draft = ana(&["case", "summary", &n]);
    assert!(
        draft.contains(
            "Troubleshooting approach:\n- Inbound call, 65 min, screenshare: Reproduced 999999"
        ),
        "{draft}"
    );
    let summary_file = cw.dir.join("summary.txt");
    std::fs::write(&summary_file, &draft).unwrap();
    ana(&[
        "case",
        "edit",
        &n,
        "--title",
        "Publishing fails: data store not registered",
        "--product",
        "ArcGIS Server",
        "--product-version",
        "11.3",
    ]);
    ana(&[
        "case",
        "edit",
        &n,
        "--product-area",
        "Publishing",
        "--functionality",
        "Map services",
        "--issue",
        "Configuration",
    ]);
    ana(&[
        "post",
        "add",
        &n,
        "--kind",
        "summary",
        "--body-file",
        summary_file.to_str().unwrap(),
    ]);
    let ready = cw.run(&["--as", "Ana Lopez", "case", "check", &n]);
    assert_eq!(ready.code, 0, "{}", ready.stdout);
    assert!(ready.stdout.contains("Ready to close."));
    // 11. close
    assert!(
        ana(&[
            "case",
            "close",
            &n,
            "--primary",
            "Configuration",
            "--secondary",
            "Data store registered"
        ])
        .contains("closed (resolved) → Closed: Configuration / Data store registered")
    );
    // reopen: refused for the agent, done by the lead
    let refused = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "reopen",
            &n,
            "--reason",
            "back again",
        ],
        2,
    );
    assert_eq!(
        refused,
        "error: agent may not reopen closed cases (a lead or admin can)"
    );
    let reopened = cw.ok(&[
        "--as",
        "Lee Park",
        "case",
        "reopen",
        &n,
        "--reason",
        "Back after the patch",
    ]);
    assert!(
        reopened.contains("reopened → New: Back after the patch"),
        "{reopened}"
    );
    assert!(
        reopened.contains("email queued (reopen notice)"),
        "{reopened}"
    );
    let list = cw.ok(&["--as", "Lee Park", "case", "list", "--reopened"]);
    assert!(
        list.contains("00000001  New")
            && list.contains("Publishing fails: data store not registered"),
        "{list}"
    );
    let outbox = cw.json(&["--as", "Lee Park", "outbox", "list", "--status", "queued"]);
    let templates: Vec<&str> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["template"].as_str().unwrap())
        .collect();
    assert_eq!(
        templates,
        [
            "initial_contact",
            "follow_up",
            "resolution_notice",
            "reopen_notice"
        ]
    );
    let report = cw.json(&[
        "--as",
        "Lee Park",
        "report",
        "reopens",
        "--by",
        "product-area",
    ]);
    assert_eq!(report[0]["key"], "Publishing");
    assert_eq!(report[0]["reopened"], 1);
}

#[test]
fn refusals_have_their_exit_code_and_one_clear_line() {
    let cw = staffed("refusals");
    let n = open(&cw, "Printer offline");
    // usage and not found: 1
    assert_eq!(
        cw.fails(&["case", "show", &n], 1),
        "error: who is acting? pass --as NAME or set CASEWORK_USER (see `casework agent list`)"
    );
    assert_eq!(
        cw.fails(&["--as", "nobody", "case", "show", &n], 1),
        "error: unknown person \"nobody\": register them first (casework agent add)"
    );
    assert_eq!(
        cw.fails(&["--as", "Ana Lopez", "case", "show", "999"], 1),
        "error: case 00000999 not found"
    );
    assert!(
        cw.fails(&["--as", "Ana Lopez", "case", "show", "12ab"], 1)
            .contains("invalid case number \"12ab\"")
    );
    assert!(
        cw.fails(
            &[
                "--as",
                "Ana Lopez",
                "call",
                "log",
                &n,
                "--duration",
                "25s",
                "--notes",
                "x"
            ],
            1
        )
        .contains("invalid duration \"25s\"")
    );
    assert!(
        cw.fails(
            &[
                "--as",
                "Ana Lopez",
                "case",
                "transition",
                &n,
                "--status",
                "Nowhere"
            ],
            1
        )
        .contains("unknown status \"Nowhere\"")
    );
    assert!(
        cw.fails(
            &[
                "--as",
                "Ana Lopez",
                "case",
                "open",
                "--title",
                " ",
                "--customer-name",
                "x",
                "--customer-email",
                "x@customer.example"
            ],
            1
        )
        .contains("title: is required")
    );
    assert!(
        cw.fails(
            &[
                "--as",
                "Ana Lopez",
                "case",
                "open",
                "--title",
                "t",
                "--customer-name",
                "x",
                "--customer-email",
                "not-an-email"
            ],
            1
        )
        .contains("invalid email address")
    );
    assert!(
        cw.fails(
            &[
                "agent",
                "add",
                "eve",
                "--role",
                "admin",
                "--email",
                "eve@example.com"
            ],
            1
        )
        .contains("add more as an admin")
    );
    // clap's own usage errors are exit 1 too, not 2 (2 means "the workflow refused")
    let r = cw.run(&["case", "close"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = cw.run(&["case", "close", &n, "--primary", "x"]);
    assert_eq!(
        r.code, 1,
        "a resolved close needs both resolutions: {}",
        r.stderr
    );
    // refused by the workflow: 2, with every missing item in the one line
    let e = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "close",
            &n,
            "--primary",
            "Configuration",
            "--secondary",
            "Done",
        ],
        2,
    );
    assert!(
        e.starts_with("error: closing checklist: the last post is not a case summary"),
        "{e}"
    );
    for item in [
        "title was not reviewed",
        "product is missing",
        "product version is missing",
        "product area is missing",
        "functionality is missing",
        "issue category is missing",
    ] {
        assert!(e.contains(item), "{item} missing from {e}");
    }
    let e = cw.fails(
        &["--as", "Ana Lopez", "case", "close", &n, "--non-response"],
        2,
    );
    assert_eq!(
        e,
        "error: non-response policy: 0 of 3 unanswered emails recorded since the customer was last reached; 0 of 2 unanswered phone calls recorded since the customer was last reached"
    );
    assert_eq!(
        cw.fails(
            &["--as", "Ana Lopez", "case", "escalate", &n, "--reason", "x"],
            2
        ),
        "error: agent may not escalate cases"
    );
    cw.ok(&[
        "--as",
        "Ana Lopez",
        "case",
        "transition",
        &n,
        "--status",
        "Pending Customer",
    ]);
    assert!(
        cw.fails(
            &["--as", "Ana Lopez", "case", "reopen", &n, "--reason", "x"],
            2
        )
        .contains("may not reopen")
    );
    assert!(
        cw.fails(
            &["--as", "Lee Park", "case", "reopen", &n, "--reason", "x"],
            2
        )
        .contains("case is not closed")
    );
    // the store is unusable: 4
    let not_db = cw.dir.join("notes.txt");
    std::fs::write(&not_db, "just text").unwrap();
    let url = format!("sqlite://{}", not_db.display());
    let e = cw.fails(&["--store", &url, "doctor"], 4);
    assert!(
        e.contains("not an SQLite database") && e.contains("the file was not changed"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&not_db).unwrap(), "just text");
    assert!(
        cw.fails(&["--store", "mysql://db", "doctor"], 1)
            .contains("unknown store URL")
    );
    // a PostgreSQL URL that names no user, with no PGUSER or USER to fall back on
    let e = cw.fails(&["--store", "postgres://db", "doctor"], 1);
    assert!(e.contains("no user") && e.contains("PGUSER"), "{e}");
    // a broken workflow file names its line
    let cfg = cw.dir.join("workflow.toml");
    std::fs::write(
        &cfg,
        "[organization]\nname = \"X\"\nsuport_email = \"s@example.com\"\n",
    )
    .unwrap();
    let e = cw.fails(&["--config", cfg.to_str().unwrap(), "doctor"], 1);
    assert!(e.contains("workflow file, line 3"), "{e}");
}

#[test]
fn json_output_is_one_document_with_the_contract_fields() {
    let cw = staffed("json");
    let opened = cw.json(&[
        "--as",
        "Ana Lopez",
        "case",
        "open",
        "--title",
        "Login loop",
        "--customer-name",
        "Zoë Ångström",
        "--customer-email",
        "zoe@kunde.example",
        "--product",
        "Portal",
    ]);
    assert_eq!(opened["number"], 1);
    assert_eq!(opened["display_number"], "00000001");
    assert_eq!(opened["status"], "New");
    assert_eq!(opened["status_category"], "open");
    assert_eq!(opened["priority"], "medium");
    assert_eq!(opened["origin"], "email");
    assert_eq!(opened["customer"]["name"], "Zoë Ångström");
    assert_eq!(opened["customer"]["email"], "zoe@kunde.example");
    assert_eq!(opened["product"], "Portal");
    assert_eq!(opened["reopen_count"], 0);
    assert_eq!(opened["version"], 1);

    let took = cw.json(&["--as", "Ana Lopez", "case", "take", "1"]);
    assert_eq!(took["case"]["owner"], "Ana Lopez");
    assert_eq!(took["events"][0]["type"], "owner_changed");
    assert_eq!(took["events"][0]["seq"], 2);

    let shown = cw.json(&["--as", "Ana Lopez", "case", "show", "00000001"]);
    assert_eq!(shown["case"]["version"], 2);
    let timeline = shown["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0]["type"], "opened");
    assert_eq!(timeline[0]["actor"], "Ana Lopez");

    // not ready: exit 2, and still one JSON document on stdout
    let r = cw.run(&["--json", "--as", "Ana Lopez", "case", "check", "1"]);
    assert_eq!(r.code, 2);
    let check: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(check["ready"], false);
    let items: Vec<&str> = check["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap())
        .collect();
    assert_eq!(
        items,
        [
            "summary",
            "title",
            "product_version",
            "product_area",
            "functionality",
            "issue"
        ]
    );
    assert!(
        check["missing"][0]["message"]
            .as_str()
            .unwrap()
            .contains("case summary")
    );

    let list = cw.json(&["--as", "Ana Lopez", "case", "list", "--mine"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_cursor"], Value::Null);
    let hits = cw.json(&["--as", "Ana Lopez", "search", "login loop"]);
    assert_eq!(hits[0]["kind"], "case");
    assert_eq!(hits[0]["ref"], "00000001");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    let doctor = cw.json(&["doctor"]);
    assert_eq!(doctor["cases"], 1);
    assert_eq!(
        doctor["schema_version"],
        casework_store_sqlite::SCHEMA_VERSION
    );
    assert_eq!(doctor["people"], 3);
}

#[test]
fn pages_continue_with_the_printed_cursor() {
    let cw = staffed("pages");
    for i in 0..5 {
        open(&cw, &format!("case {i}"));
    }
    let first = cw.json(&["--as", "Ana Lopez", "case", "list", "--limit", "2"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = cw.json(&[
        "--as",
        "Ana Lopez",
        "case",
        "list",
        "--limit",
        "2",
        "--cursor",
        &cursor,
    ]);
    assert_eq!(second["items"][0]["number"], 3);
    let human = cw.ok(&["--as", "Ana Lopez", "case", "list", "--limit", "2"]);
    assert!(
        human.contains(&format!("More: add --cursor {cursor}")),
        "{human}"
    );
    assert!(
        cw.fails(
            &["--as", "Ana Lopez", "case", "list", "--cursor", "bogus"],
            1
        )
        .contains("bad cursor")
    );
}

#[test]
fn the_list_sorts_and_filters_by_priority_and_ownership() {
    let cw = staffed("sorts");
    for i in 0..3 {
        open(&cw, &format!("case {i}"));
    }
    cw.ok(&[
        "--as",
        "Ana Lopez",
        "case",
        "edit",
        "2",
        "--priority",
        "urgent",
    ]);
    cw.ok(&["--as", "Ana Lopez", "case", "take", "1"]);
    let numbers = |args: &[&str]| -> Vec<u64> {
        let mut all = vec!["--as", "Ana Lopez", "case", "list"];
        all.extend_from_slice(args);
        cw.json(&all)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(numbers(&["--unassigned"]), [2, 3]);
    assert_eq!(numbers(&["--priority", "urgent"]), [2]);
    assert_eq!(numbers(&["--sort", "priority"]), [2, 1, 3]);
    // the printed way on keeps the order, and only works in it
    let human = cw.ok(&[
        "--as",
        "Ana Lopez",
        "case",
        "list",
        "--sort",
        "priority",
        "--limit",
        "1",
    ]);
    let more = human
        .lines()
        .find_map(|l| l.strip_prefix("More: add --sort priority --cursor "))
        .unwrap_or_else(|| panic!("no way on: {human}"))
        .to_string();
    assert_eq!(
        numbers(&["--sort", "priority", "--limit", "1", "--cursor", &more]),
        [1]
    );
    assert!(
        cw.fails(&["--as", "Ana Lopez", "case", "list", "--cursor", &more], 1)
            .contains("bad cursor")
    );
}

#[test]
fn human_output_of_a_case() {
    let cw = staffed("human");
    let n = open(&cw, "Map service fails to publish");
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "Ana Lopez"];
        all.extend_from_slice(args);
        cw.ok(&all)
    };
    ana(&["case", "take", &n]);
    ana(&[
        "call",
        "log",
        &n,
        "--duration",
        "25m",
        "--screenshare",
        "--notes",
        "Reproduced 999999",
    ]);
    ana(&[
        "post",
        "add",
        &n,
        "--kind",
        "note",
        "--customer-visible",
        "--body",
        "Logs received, thanks",
    ]);
    ana(&[
        "contact",
        "record",
        &n,
        "--channel",
        "email",
        "--outcome",
        "no-response",
    ]);
    ana(&[
        "case",
        "edit",
        &n,
        "--confirm-title",
        "--product",
        "ArcGIS Server",
    ]);
    insta::assert_snapshot!("case_show", redact_times(&ana(&["case", "show", &n])));
    let r = cw.run(&["--as", "Ana Lopez", "case", "check", &n]);
    insta::assert_snapshot!("case_check", r.stdout);
    insta::assert_snapshot!("case_list", ana(&["case", "list"]));
}

#[test]
fn the_demo_walks_the_whole_workflow() {
    let cw = Cw::new(EXE, "demo");
    let out = cw.ok(&["demo"]);
    insta::assert_snapshot!("demo", out);
    let json = cw.json(&["demo"]);
    assert_eq!(json["case"]["reopen_count"], 1);
    // initial contact, follow-up, resolution notice, reopen notice
    assert_eq!(json["emails"].as_array().unwrap().len(), 4);
}

#[test]
fn help_completions_and_doctor() {
    let cw = Cw::new(EXE, "help");
    let help = cw.ok(&["case", "close", "--help"]);
    assert!(
        help.contains("Examples:") && help.contains("casework case close 1027 --non-response"),
        "{help}"
    );
    let top = cw.ok(&["--help"]);
    assert!(
        top.contains("Exit codes:") && top.contains("2  refused by the workflow"),
        "{top}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = cw.ok(&["completions", shell]);
        assert!(script.contains("casework"), "{shell}");
        assert!(script.contains("reopen"), "{shell} completes subcommands");
    }
    let first = cw.ok(&["init"]);
    assert!(first.contains("Wrote the default workflow file"), "{first}");
    let again = cw.ok(&["init"]);
    assert!(
        again.contains("Workflow file already present"),
        "init is idempotent: {again}"
    );
    let doctor = cw.ok(&["doctor"]);
    assert!(
        doctor.contains(&format!(
            "Schema:     version {}",
            casework_store_sqlite::SCHEMA_VERSION
        )),
        "{doctor}"
    );
    assert!(
        doctor.contains(&format!(
            "{}",
            cw.dir.join("config/casework/workflow.toml").display()
        )),
        "{doctor}"
    );
}

#[test]
fn tokens_from_the_terminal() {
    let cw = staffed("tokens");
    let made = cw.json(&[
        "--as",
        "root",
        "token",
        "create",
        "--name",
        "Ana Lopez",
        "--role",
        "agent",
    ]);
    let secret = made["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("cw_") && secret.len() == 67, "{secret}");
    let id = made["id"].as_str().unwrap().to_string();
    let human = cw.ok(&[
        "--as",
        "root",
        "token",
        "create",
        "--name",
        "Jordan",
        "--role",
        "customer",
        "--customer-email",
        "jordan@customer.example",
    ]);
    assert!(human.contains("it is not shown again"), "{human}");
    let listed = cw.ok(&["--json", "--as", "root", "token", "list"]);
    assert!(!listed.contains(&secret), "list never shows a secret");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["customer_email"], "jordan@customer.example");
    assert!(
        cw.fails(
            &[
                "--as", "root", "token", "create", "--name", "x", "--role", "customer"
            ],
            1
        )
        .contains("needs the customer's email")
    );
    assert_eq!(
        cw.fails(&["--as", "Ana Lopez", "token", "list"], 2),
        "error: agent may not manage tokens"
    );
    assert!(
        cw.ok(&["--as", "root", "token", "revoke", &id])
            .contains("revoked")
    );
    let listed = cw.json(&["--as", "root", "token", "list"]);
    assert!(listed[0]["revoked_at"].is_string());
    assert!(
        cw.fails(&["--as", "root", "token", "revoke", "nope"], 1)
            .contains("not found")
    );
}

#[test]
fn the_outbox_is_flushed_to_eml_files_and_failures_are_kept() {
    let cw = staffed("flush");
    let n = open(&cw, "Map service fails to publish");
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "Ana Lopez"];
        all.extend_from_slice(args);
        cw.ok(&all)
    };
    ana(&["case", "take", &n]);
    ana(&["email", "send", &n, "--template", "initial-contact"]);
    ana(&[
        "email",
        "send",
        &n,
        "--template",
        "follow-up",
        "--discussed",
        "We reproduced it.",
    ]);
    // a mailer that cannot write: the messages stay queued, with the error and a retry time
    let blocked = cw.dir.join("not-a-folder");
    std::fs::write(&blocked, "a file where the folder should be").unwrap();
    let url = format!("dir://{}", blocked.display());
    let report = cw.json(&["--as", "Ana Lopez", "outbox", "flush", "--mailer", &url]);
    assert_eq!(
        (report["sent"].as_u64(), report["retried"].as_u64()),
        (Some(0), Some(2))
    );
    let queued = cw.json(&["--as", "Ana Lopez", "outbox", "list", "--status", "queued"]);
    assert_eq!(queued[0]["attempts"], 1);
    assert!(
        queued[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("not-a-folder"),
        "{queued}"
    );
    // not due yet: a flush right away sends nothing
    let spool = cw.dir.join("spool");
    let url = format!("dir://{}", spool.display());
    let report = cw.json(&["--as", "Ana Lopez", "outbox", "flush", "--mailer", &url]);
    assert_eq!(report["sent"], 0, "retries wait for their time");
    // a new message goes out at once, as an .eml file a mail client opens
    ana(&["email", "send", &n, "--template", "initial-contact"]);
    let human = ana(&["outbox", "flush", "--mailer", &url]);
    assert_eq!(human.trim(), "Sent 1, to retry 0, failed 0");
    let files: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        eml.contains("To: \"Jordan Smith\" <jordan@customer.example>"),
        "{eml}"
    );
    assert!(
        eml.contains("Subject: [Case 00000001] Map service fails to publish"),
        "{eml}"
    );
    // the case's third email: it answers the second, in the thread the first started
    let ids: Vec<String> = queued
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_string())
        .collect();
    assert!(eml.contains(&format!("In-Reply-To: <{}>", ids[1])), "{eml}");
    let unfolded = eml.replace("\r\n ", " ");
    assert!(
        unfolded.contains(&format!("References: <{}> <{}>", ids[0], ids[1])),
        "{eml}"
    );
    assert!(eml.contains("MIME-Version: 1.0"), "{eml}");
    let sent = cw.json(&["--as", "Ana Lopez", "outbox", "list", "--status", "sent"]);
    assert_eq!(sent.as_array().unwrap().len(), 1);
    // the two that failed wait for their next try: "retry" sends one now, "cancel" withdraws
    // the other for good
    let (first, second) = (
        queued[0]["id"].as_str().unwrap(),
        queued[1]["id"].as_str().unwrap(),
    );
    assert!(ana(&["outbox", "retry", first]).starts_with("Queued again: "));
    assert!(ana(&["outbox", "cancel", second]).starts_with("Cancelled: "));
    let twice = cw.fails(&["--as", "Ana Lopez", "outbox", "cancel", second], 2);
    assert!(twice.contains("is cancelled"), "{twice}");
    let report = cw.json(&["--as", "Ana Lopez", "outbox", "flush", "--mailer", &url]);
    assert_eq!(
        (report["sent"].as_u64(), report["retried"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 2);
    let cancelled = cw.json(&[
        "--as",
        "Ana Lopez",
        "outbox",
        "list",
        "--status",
        "cancelled",
    ]);
    assert_eq!(cancelled[0]["id"].as_str(), Some(second));
    let resent = cw.fails(&["--as", "Ana Lopez", "outbox", "retry", first], 2);
    assert!(
        resent.contains("is sent"),
        "a sent email never goes twice: {resent}"
    );
    assert!(
        cw.fails(
            &[
                "--as",
                "Ana Lopez",
                "outbox",
                "flush",
                "--mailer",
                "ftp://x"
            ],
            1
        )
        .contains("unknown mailer URL")
    );
    assert_eq!(
        cw.fails(&["--as", "Jordan", "outbox", "flush"], 1),
        "error: unknown person \"Jordan\": register them first (casework agent add)"
    );
}

#[test]
fn the_reopen_report_drills_down_from_a_terminal() {
    let cw = staffed("report-drill");
    let n = open(&cw, "Map service fails to publish");
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "Ana Lopez"];
        all.extend_from_slice(args);
        cw.ok(&all)
    };
    ana(&["case", "take", &n]);
    ana(&["case", "close", &n, "--temporary", "--no-notify"]);
    cw.ok(&[
        "--as",
        "Lee Park",
        "case",
        "reopen",
        &n,
        "--reason",
        "The customer has time again",
    ]);
    let rows = ana(&["report", "reopens", "--by", "owner", "--from", "2000-01-01"]);
    assert!(rows.contains("OWNER AT CLOSE"), "{rows}");
    assert!(rows.contains("Ana Lopez"), "{rows}");
    let cases = ana(&[
        "report",
        "reopens",
        "--by",
        "owner",
        "--key",
        "Ana Lopez",
        "--from",
        "2000-01-01",
    ]);
    assert!(
        cases.starts_with("00000001  Map service fails to publish"),
        "{cases}"
    );
    assert!(cases.contains("(temporary)"), "{cases}");
    assert!(
        cases.contains("by Lee Park after 0.00 days: The customer has time again"),
        "{cases}"
    );
    let json = cw.json(&[
        "--as",
        "Ana Lopez",
        "report",
        "reopens",
        "--by",
        "owner",
        "--key",
        "Ana Lopez",
    ]);
    assert_eq!(
        json["items"][0]["reopens"][0]["reason"],
        "The customer has time again"
    );
    let r = cw.run(&[
        "--as",
        "Ana Lopez",
        "report",
        "reopens",
        "--from",
        "January",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--from"), "{}", r.stderr);
}

#[test]
fn a_renamed_status_is_reported_by_doctor_and_its_cases_mapped() {
    let cw = staffed("status-map");
    let n = open(&cw, "Map service fails to publish");
    open(&cw, "Printing fails");
    // the organization renames New to Open in its workflow file
    let path = cw.config_path();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(r#"name = "New""#, r#"name = "Open""#)
        .replace(r#"initial_status = "New""#, r#"initial_status = "Open""#)
        .replace(r#"reopen_status = "New""#, r#"reopen_status = "Open""#);
    std::fs::write(&path, text).unwrap();
    let doctor = cw.ok(&["doctor"]);
    assert!(
        doctor.contains("Stranded:   2 cases in \"New\", which the workflow file does not have"),
        "{doctor}"
    );
    let json = cw.json(&["doctor"]);
    assert_eq!(
        json["unknown_statuses"],
        serde_json::json!([{"status": "New", "cases": 2}])
    );
    // a filter on a status the workflow does not have is an error listing the valid ones
    let e = cw.fails(&["--as", "Ana Lopez", "case", "list", "--status", "New"], 1);
    assert!(
        e.contains("the workflow's statuses are Open, In Progress, Escalated"),
        "{e}"
    );
    // a stranded case cannot move by the workflow, and the error says how to fix it
    let e = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "transition",
            &n,
            "--status",
            "In Progress",
        ],
        2,
    );
    assert!(e.contains("casework status map New=NEW"), "{e}");
    // only an admin moves them
    cw.fails(&["--as", "Lee Park", "status", "map", "New=Open"], 2);
    cw.fails(&["--as", "root", "status", "map", "New"], 1);
    let out = cw.ok(&["--as", "root", "status", "map", "New=Open"]);
    assert_eq!(out, "Moved 2 cases from New to Open\n");
    assert!(!cw.ok(&["doctor"]).contains("Stranded"));
    let history = cw.ok(&["--as", "Ana Lopez", "case", "history", &n]);
    assert!(
        history.contains("status New → Open (renamed in the workflow file)"),
        "{history}"
    );
    cw.ok(&[
        "--as",
        "Ana Lopez",
        "case",
        "transition",
        &n,
        "--status",
        "In Progress",
    ]);
}

#[test]
fn events_tail_prints_the_feed_once_and_follow_prints_new_events_as_they_land() {
    use std::io::BufRead;
    let cw = staffed("events-tail");
    let a = open(&cw, "First");
    let b = open(&cw, "Second");
    cw.ok(&["--as", "Ana Lopez", "case", "take", &a]);
    let (a, b) = (
        a.parse::<u64>().unwrap().to_string(),
        b.parse::<u64>().unwrap().to_string(),
    );
    let lines = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = lines(&cw.ok(&[
        "--as",
        "Ana Lopez",
        "--json",
        "events",
        "tail",
        "--limit",
        "1",
    ]));
    let keys: Vec<(String, u64)> = all
        .iter()
        .map(|e| {
            (
                e["event"]["case"].as_u64().unwrap().to_string(),
                e["event"]["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [(a.clone(), 1), (b.clone(), 1), (a.clone(), 2)],
        "commit order, a page at a time"
    );
    let last = all[2]["position"].as_u64().unwrap().to_string();
    assert_eq!(
        cw.ok(&["--as", "Ana Lopez", "events", "tail", "--after", &last]),
        ""
    );
    let human = cw.ok(&[
        "--as",
        "Ana Lopez",
        "events",
        "tail",
        "--after",
        &all[1]["position"].to_string(),
    ]);
    assert!(human.starts_with(&format!("{last}\t")), "{human}");
    assert!(
        human.contains("owner") && human.contains("Ana Lopez"),
        "{human}"
    );

    // --follow: prints what lands later, then keeps waiting
    let mut follower = cw.spawn_reading(&[
        "--as",
        "Ana Lopez",
        "--json",
        "events",
        "tail",
        "--after",
        &last,
        "--follow",
    ]);
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    cw.ok(&[
        "--as",
        "Ana Lopez",
        "post",
        "add",
        &b,
        "--kind",
        "note",
        "--body",
        "later",
    ]);
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the follower prints the new event");
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["event"]["body"], "later");
    assert!(entry["position"].as_u64().unwrap() > last.parse::<u64>().unwrap());
    assert!(matches!(follower.try_wait(), Ok(None)), "still following");
    casework_e2e::stop_by_pid(
        &mut follower,
        &std::env::temp_dir().join("casework-no-such-dir"),
    );
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(50))
            .is_err(),
        "each event once"
    );

    // a page size out of range is refused before anything is read
    let bad = cw.fails(&["--as", "Ana Lopez", "events", "tail", "--limit", "0"], 1);
    assert!(bad.contains("limit"), "{bad}");
}

#[test]
fn files_go_onto_a_case_and_come_back_byte_for_byte() {
    let cw = staffed("files");
    let n = open(&cw, "Export stops at 10%");
    let dir = cw.dir.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    // every byte value, then a run no text encoding would keep
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend((0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let log = dir.join("server log.bin");
    std::fs::write(&log, &binary).unwrap();
    let page = dir.join("page.html");
    std::fs::write(&page, "<!DOCTYPE html><script>alert(1)</script>").unwrap();
    let (log_arg, page_arg) = (log.to_str().unwrap(), page.to_str().unwrap());

    let done = cw.json(&[
        "--as",
        "Ana Lopez",
        "case",
        "attach",
        &n,
        log_arg,
        page_arg,
        "--text",
        "The logs",
    ]);
    let files = done["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{done}");
    assert_eq!(
        files[0]["file_name"], "server log.bin",
        "the name without its folder"
    );
    assert_eq!(files[0]["size"], binary.len());
    assert_eq!(files[0]["visibility"], "customer");
    assert_eq!(files[1]["content_type"], "text/html");
    assert_eq!(done["events"][0]["body"], "The logs");
    let internal = as_ana(&cw, &["case", "attach", &n, log_arg, "--internal"]);
    assert!(
        internal.contains("attached server log.bin (70256 bytes, internal) as "),
        "{internal}"
    );

    let listed = cw.json(&["--as", "Ana Lopez", "case", "attachments", &n]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    assert_eq!(listed[2]["visibility"], "internal");
    let table = as_ana(&cw, &["case", "attachments", &n]);
    assert!(table.starts_with("ID  "), "{table}");
    assert!(
        table.contains("server log.bin") && table.contains("page.html"),
        "{table}"
    );

    // --out: the bytes as attached
    let out = dir.join("copy.bin");
    let out_arg = out.to_str().unwrap();
    let saved = as_ana(&cw, &["case", "download", &n, ids[0], "--out", out_arg]);
    assert!(
        saved.starts_with("Saved server log.bin (70256 bytes) to "),
        "{saved}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), binary);
    // an existing file is kept unless --force
    let refused = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "download",
            &n,
            ids[1],
            "--out",
            out_arg,
        ],
        1,
    );
    assert!(refused.contains("exists: pass --force"), "{refused}");
    assert_eq!(std::fs::read(&out).unwrap(), binary, "untouched");
    as_ana(
        &cw,
        &["case", "download", &n, ids[1], "--out", out_arg, "--force"],
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "<!DOCTYPE html><script>alert(1)</script>"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        3,
        "no temporary file left beside it"
    );
    // standard output (a pipe): the bytes; --json: metadata and base64 bytes
    let piped = as_ana(&cw, &["case", "download", &n, ids[1]]);
    assert_eq!(piped, "<!DOCTYPE html><script>alert(1)</script>");
    let whole = cw.json(&["--as", "Ana Lopez", "case", "download", &n, ids[1]]);
    assert_eq!(whole["info"]["file_name"], "page.html");
    assert_eq!(
        whole["bytes"],
        "PCFET0NUWVBFIGh0bWw+PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="
    );

    // refusals: an unknown file, a file of another case, no such path, --force alone
    let missing = cw.fails(&["--as", "Ana Lopez", "case", "download", &n, "nope"], 1);
    assert!(missing.contains("not found"), "{missing}");
    let other = open(&cw, "Another case");
    let elsewhere = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "download",
            &other,
            ids[0],
            "--out",
            "x",
        ],
        1,
    );
    assert!(elsewhere.contains("not found"), "{elsewhere}");
    let unreadable = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "attach",
            &n,
            "/nonexistent/x.pdf",
        ],
        1,
    );
    assert!(
        unreadable.contains("cannot read /nonexistent/x.pdf"),
        "{unreadable}"
    );
    let alone = cw.run(&[
        "--as",
        "Ana Lopez",
        "case",
        "download",
        &n,
        ids[0],
        "--force",
    ]);
    assert_eq!(alone.code, 1, "--force needs --out: {}", alone.stderr);
    assert_eq!(
        cw.json(&["--as", "Ana Lopez", "case", "attachments", &n])
            .as_array()
            .unwrap()
            .len(),
        3,
        "nothing refused was kept"
    );
}

#[test]
fn a_file_over_the_workflow_files_limit_is_refused_before_it_is_read() {
    let cw = staffed("files-limit");
    cw.append_to_config("[attachments]\nmax_message_bytes = 1000");
    let n = open(&cw, "Big file");
    let big = cw.dir.join("big.bin");
    std::fs::write(&big, vec![7u8; 1001]).unwrap();
    let refused = cw.fails(
        &[
            "--as",
            "Ana Lopez",
            "case",
            "attach",
            &n,
            big.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        refused.contains("files: ")
            && refused.contains("1001 bytes")
            && refused.contains("max_message_bytes"),
        "{refused}"
    );
    let two = cw.dir.join("half.bin");
    std::fs::write(&two, vec![7u8; 600]).unwrap();
    let two = two.to_str().unwrap();
    let refused = cw.fails(&["--as", "Ana Lopez", "case", "attach", &n, two, two], 1);
    assert!(refused.contains("1200 bytes together"), "{refused}");
    let none = cw.ok(&["--as", "Ana Lopez", "case", "attachments", &n]);
    assert_eq!(none.trim(), "No files.");
}
