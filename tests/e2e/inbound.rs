//! Inbound email through the real `casework` program: `casework mail ingest` takes the
//! committed fixture corpus, each message with its expected outcome and exit code (the
//! ones an MTA understands), each exactly once, what can never be taken kept in the
//! quarantine and released or dropped from there; a customer's reply to the email Casework
//! sent lands on the case and starts the non-response count over; a stranger quoting the
//! case number does not get in.

use casework_e2e::Cw;
use serde_json::Value;

use crate::cli::{as_ana, open, staffed};

fn fixture(name: &str) -> std::path::PathBuf {
    casework_e2e::workspace_root()
        .join("crates/casework-mail/tests/fixtures/inbound")
        .join(name)
}

fn ingest_file(cw: &Cw, path: &std::path::Path) -> (i32, Option<Value>, String) {
    let run = cw.run(&[
        "--json",
        "mail",
        "ingest",
        "--file",
        &path.display().to_string(),
    ]);
    let json = serde_json::from_str(&run.stdout).ok();
    (run.code, json, run.stderr)
}

#[test]
fn mail_ingest_takes_every_fixture_once_with_the_exit_code_an_mta_understands() {
    let cw = staffed("mail-ingest");
    // what each message of the corpus must become on an empty store: no case of theirs
    // exists, so people's mail opens cases, and machines' mail is kept in the quarantine
    // (exit 0: the message is safe with Casework, the MTA must not bounce it)
    let refused = [
        ("bounce-exim.eml", "no message Casework sent"),
        ("bounce-plain-text.eml", "no message Casework sent"),
        ("bounce-postfix.eml", "no message Casework sent"),
        ("out-of-office.eml", "automatic message"),
    ];
    let mut names: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    let mut opened = Vec::new();
    for name in &names {
        let path = fixture(name);
        let (code, json, stderr) = ingest_file(&cw, &path);
        match refused.iter().find(|(n, _)| n == name) {
            Some((_, why)) => {
                assert_eq!(code, 0, "{name}: {stderr}");
                let json = json.unwrap();
                assert_eq!(json["outcome"], "quarantined", "{name}: {json}");
                assert!(
                    json["reason"].as_str().unwrap().contains(why),
                    "{name}: {json}"
                );
            }
            None => {
                assert_eq!(code, 0, "{name}: {stderr}");
                let json = json.unwrap();
                assert_eq!(json["created"], true, "{name}: {json}");
                assert_eq!(json["rule"], "new_case", "{name}: {json}");
                opened.push((name.clone(), json["case"].as_u64().unwrap()));
            }
        }
        // delivered again: the same answer, nothing new
        let (again, json, _) = ingest_file(&cw, &path);
        assert_eq!(again, code, "{name}");
        let json = json.unwrap();
        if json["outcome"] == "taken" {
            assert_eq!(json["duplicate"], true, "{name}: {json}");
        }
    }
    let listed = cw.json(&["--as", "Ana Lopez", "case", "list"]);
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        opened.len(),
        "{listed}"
    );
    // the files of the message that carried two: their cleaned names, types and bytes
    let (_, with_files) = opened
        .iter()
        .find(|(name, _)| name == "attachments.eml")
        .expect("attachments.eml opened a case");
    let n = with_files.to_string();
    let files = cw.json(&["--as", "Ana Lopez", "case", "attachments", &n]);
    let files = files.as_array().unwrap();
    let pdf: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
        2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
        3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n\
        trailer<</Root 1 0 R>>\n%%EOF\n";
    // a 1×1 PNG
    let png: &[u8] = &[
        137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6,
        0, 0, 0, 31, 21, 196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 240,
        31, 0, 5, 0, 2, 1, 171, 14, 158, 58, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
    ];
    let expected = [
        ("publish-log.pdf", "application/pdf", pdf),
        ("Bildschirmfoto über.png", "image/png", png),
    ];
    assert_eq!(files.len(), expected.len(), "{files:?}");
    for (file, (name, media, bytes)) in files.iter().zip(expected) {
        assert_eq!(
            (file["file_name"].as_str(), file["content_type"].as_str()),
            (Some(name), Some(media)),
            "{file}"
        );
        assert_eq!(file["size"], bytes.len(), "{file}");
        let id = file["id"].as_str().unwrap();
        let out = cw.dir.join(format!("fixture-{id}"));
        let out_arg = out.display().to_string();
        cw.ok(&[
            "--as",
            "Ana Lopez",
            "case",
            "download",
            &n,
            id,
            "--out",
            &out_arg,
        ]);
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{name}");
    }
    // opened from an email: origin email, the email on its timeline
    let case = cw.json(&["--as", "Ana Lopez", "case", "show", "1"]);
    assert_eq!(case["case"]["origin"], "email", "{case}");
    assert_eq!(case["timeline"][1]["type"], "email_received", "{case}");
    // each refused message is kept once, however often it came
    let kept = cw.json(&["--as", "Lee Park", "mail", "quarantine", "list"])["items"].clone();
    assert_eq!(kept.as_array().unwrap().len(), refused.len(), "{kept}");
    // a page at a time, each message once, in the same order
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec![
            "--as",
            "Lee Park",
            "mail",
            "quarantine",
            "list",
            "--limit",
            "1",
        ];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = cw.json(&args);
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        paged.push(page["items"][0]["id"].clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let all: Vec<_> = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].clone())
        .collect();
    assert_eq!(paged, all);
    let text = cw.ok(&[
        "--as",
        "Lee Park",
        "mail",
        "quarantine",
        "list",
        "--limit",
        "1",
    ]);
    assert!(text.contains("More: add --cursor q"), "{text}");
    let bad = cw.run(&[
        "--as",
        "Lee Park",
        "mail",
        "quarantine",
        "list",
        "--cursor",
        "zzz",
    ]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("cursor"), "{bad:?}");
    // nothing at all, and bytes that are no email: never takeable, kept too
    let empty = cw.run_with(&["mail", "ingest"], Some(""));
    assert_eq!(empty.code, 0, "{empty:?}");
    assert!(empty.stdout.contains("kept in the quarantine"), "{empty:?}");
    let junk = cw.run_with(&["mail", "ingest"], Some("\u{1}\u{2} not an email"));
    assert_eq!(junk.code, 0, "{junk:?}");
    // a store that cannot be used now: the MTA keeps the message and tries later
    let blocked = cw.dir.join("a-file");
    std::fs::write(&blocked, "").unwrap();
    let store = format!("sqlite://{}/x.db", blocked.display());
    let later = cw.run(&[
        "--store",
        &store,
        "mail",
        "ingest",
        "--file",
        &fixture("plain.eml").display().to_string(),
    ]);
    assert_eq!(later.code, 75, "{later:?}");
}

#[test]
fn mail_quarantine_lists_shows_releases_and_drops_what_was_kept() {
    let cw = staffed("mail-quarantine");
    let n = open(&cw, "Map service fails to publish");
    let ana = |args: &[&str]| as_ana(&cw, args);
    ana(&["case", "take", &n]);
    // an out-of-office answering no case: kept, with the bytes as they came
    let ooo = std::fs::read(fixture("out-of-office.eml")).unwrap();
    let (code, json, stderr) = ingest_file(&cw, &fixture("out-of-office.eml"));
    assert_eq!(code, 0, "{stderr}");
    let id = json.unwrap()["id"].as_str().unwrap().to_string();
    let junk = cw.run_with(
        &["--json", "mail", "ingest"],
        Some("\u{1b}[31m not an email"),
    );
    let junk: Value = serde_json::from_str(&junk.stdout).unwrap();
    let junk_id = junk["id"].as_str().unwrap().to_string();

    // an agent may not read it; a lead may
    let denied = cw.run(&["--as", "Ana Lopez", "mail", "quarantine", "list"]);
    assert_ne!(denied.code, 0, "{denied:?}");
    let lee = |args: &[&str]| {
        let mut all = vec!["--as", "Lee Park", "mail", "quarantine"];
        all.extend_from_slice(args);
        cw.run(&all)
    };
    let listed = cw.json(&["--as", "Lee Park", "mail", "quarantine", "list"])["items"].clone();
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed[0]["source"], "ingest", "{listed}");
    assert_eq!(listed[0]["size"], ooo.len(), "{listed}");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("automatic message")
    );
    let table = lee(&["list"]);
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("automatic"),
        "{table:?}"
    );
    // --raw gives the bytes exactly; the text view escapes what a terminal would obey
    let raw = cw.run(&[
        "--as",
        "Lee Park",
        "mail",
        "quarantine",
        "show",
        &id,
        "--raw",
    ]);
    assert_eq!(raw.stdout.as_bytes(), ooo.as_slice());
    let shown = lee(&["show", &junk_id]);
    assert!(shown.stdout.contains("\\u{1b}[31m"), "{shown:?}");
    assert!(!shown.stdout.contains('\u{1b}'), "{shown:?}");

    // released while nothing changed, it is refused again and stays
    let again = cw.json(&["--as", "Lee Park", "mail", "quarantine", "release", &id]);
    assert_eq!(again["outcome"], "still_refused", "{again}");
    // dropped: gone, and dropping again is not found
    let dropped = lee(&["drop", &junk_id]);
    assert_eq!(dropped.code, 0, "{dropped:?}");
    assert_ne!(lee(&["drop", &junk_id]).code, 0);
    let left = cw.json(&["--as", "Lee Park", "mail", "quarantine", "list"])["items"].clone();
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
}

/// A reply as a mail client writes it: answering `message_id`, from `from`.
fn reply(from: &str, message_id: &str, subject: &str, own_id: &str) -> String {
    format!(
        "From: Jordan Smith <{from}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{own_id}>\r\nIn-Reply-To: <{message_id}>\r\nReferences: <{message_id}>\r\n\
         Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         It still fails after the update.\r\n"
    )
}

#[test]
fn a_customer_reply_lands_on_its_case_and_a_stranger_quoting_the_number_does_not() {
    let cw = staffed("mail-reply");
    let n = open(&cw, "Map service fails to publish");
    let ana = |args: &[&str]| as_ana(&cw, args);
    ana(&["case", "take", &n]);
    ana(&["email", "send", &n, "--template", "initial-contact"]);
    let outbox = cw.json(&["--as", "Ana Lopez", "outbox", "list"]);
    let sent = outbox[0]["message_id"].as_str().unwrap().to_string();
    let subject = format!("Re: {}", outbox[0]["subject"].as_str().unwrap());
    let before = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(before["case"]["contacts"]["emails"], 1, "{before}");

    let taken = cw.run_with(
        &["mail", "ingest"],
        Some(&reply(
            "jordan@customer.example",
            &sent,
            &subject,
            "r1@customer.example",
        )),
    );
    assert_eq!(taken.code, 0, "{taken:?}");
    assert!(
        taken
            .stdout
            .contains(&format!("Added to case {n} (references)")),
        "{taken:?}"
    );
    let after = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(after["case"]["contacts"]["emails"], 0, "{after}");
    let shown = ana(&["case", "show", &n]);
    assert!(
        shown.contains("email from jordan@customer.example (references)"),
        "{shown}"
    );

    // a stranger with the case tag in the subject gets a case of their own
    let stranger = cw.run_with(
        &["--json", "mail", "ingest"],
        Some(&reply(
            "mallory@evil.example",
            "unknown@evil.example",
            &subject,
            "m1@evil.example",
        )),
    );
    assert_eq!(stranger.code, 0, "{stranger:?}");
    let json: Value = serde_json::from_str(&stranger.stdout).unwrap();
    assert_eq!(json["created"], true);
    assert_ne!(json["display_number"], n.as_str());
    let history = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(history["case"]["contacts"]["emails"], 0, "{history}");
    assert!(!ana(&["case", "show", &n]).contains("mallory"));
}

#[tokio::test]
async fn mail_fetch_takes_an_imap_mailbox_once_and_keeps_what_it_cannot_take() {
    use casework_e2e::dovecot::Dovecot;
    use casework_mail::imap::{ImapMailbox, ImapSettings};
    let server = Dovecot::start("cli-fetch");
    let url = server.url("INBOX", "?batch=2");
    let mut mailbox = ImapMailbox::connect(&ImapSettings::parse(&url).unwrap())
        .await
        .unwrap();
    for name in [
        "plain.eml",
        "out-of-office.eml",
        "html-only.eml",
        "bounce-exim.eml",
        "shift-jis.eml",
    ] {
        mailbox
            .append(&std::fs::read(fixture(name)).unwrap())
            .await
            .unwrap();
    }
    mailbox.logout().await.unwrap();
    let cw = staffed("mail-fetch");
    let first = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(first["opened"], 3, "{first}");
    // what can never be taken is kept in the quarantine and confirmed, not left behind
    assert_eq!(first["quarantined"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(first["left"].as_array().unwrap().len(), 0, "{first}");
    let kept = cw.json(&["--as", "Lee Park", "mail", "quarantine", "list"])["items"].clone();
    assert_eq!(kept.as_array().unwrap().len(), 2, "{kept}");
    assert_eq!(kept[0]["source"], "imap", "{kept}");
    // a second run (a restart) starts after the saved position: nothing is read again
    let second = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(
        (second["opened"].as_u64(), second["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{second}"
    );
    let listed = cw.json(&["--as", "Ana Lopez", "case", "list"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 3, "{listed}");
    // the position belongs to the mailbox, not the URL's options: with processed=FOLDER
    // only new mail is read, and once taken it leaves the inbox
    deliver(&url, &note("late@customer.example", "Arrived later")).await;
    let moving = server.url("INBOX", "?processed=Archive");
    let third = cw.json(&["mail", "fetch", "--imap", &moving]);
    assert_eq!(
        (third["opened"].as_u64(), third["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{third}"
    );
    let mut archive =
        ImapMailbox::connect(&ImapSettings::parse(&server.url("Archive", "")).unwrap())
            .await
            .unwrap();
    let archived = archive.fetch_after(archive.initial_state()).await.unwrap();
    assert_eq!(archived.messages.len(), 1, "{archived:?}");
    archive.logout().await.unwrap();
    let fourth = cw.json(&["mail", "fetch", "--imap", &moving]);
    assert_eq!(
        (
            fourth["opened"].as_u64(),
            fourth["duplicates"].as_u64(),
            fourth["left"].as_array().unwrap().len()
        ),
        (Some(0), Some(0), 0),
        "{fourth}"
    );
    // a wrong password is a clear usage error
    let wrong = url.replace("imap://desk:", "imap://desk:wrong");
    let failed = cw.run(&["mail", "fetch", "--imap", &wrong]);
    assert_ne!(failed.code, 0, "{failed:?}");
}

#[tokio::test]
async fn serve_with_imap_polls_the_mailbox_into_cases() {
    use casework_e2e::dovecot::Dovecot;
    use casework_mail::imap::{ImapMailbox, ImapSettings};
    let server = Dovecot::start("serve-imap");
    let url = server.url("INBOX", "?processed=Archive");
    let cw = staffed("serve-imap");
    let mut child = cw.spawn(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--no-web",
        "--imap",
        &url,
        "--imap-every",
        "1",
    ]);
    let mut mailbox = ImapMailbox::connect(&ImapSettings::parse(&url).unwrap())
        .await
        .unwrap();
    mailbox
        .append(&std::fs::read(fixture("plain.eml")).unwrap())
        .await
        .unwrap();
    mailbox.logout().await.unwrap();
    let start = std::time::Instant::now();
    let mut cases = 0;
    while start.elapsed() < std::time::Duration::from_secs(30) {
        let listed = cw.json(&["--as", "Ana Lopez", "case", "list"]);
        cases = listed["items"].as_array().unwrap().len();
        if cases > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let dir = cw.dir.clone();
    casework_e2e::stop_by_pid(&mut child, &dir);
    assert_eq!(cases, 1, "the poller took the message within 30 s");
}

/// What ingesting `raw` into a fresh memory store gives: a case the message is on, or the
/// pipeline's refusal; anything else (a fault, a panic) fails the property.
fn ingest_anything(raw: &[u8]) -> Result<(), String> {
    use casework_core::model::Actor;
    use casework_core::service::ServiceError;
    use casework_core::{EventKind, WorkflowError};
    let store = std::sync::Arc::new(casework_store_memory::MemoryStore::new());
    let (svc, _) = casework_e2e::service(store.clone());
    let svc = svc.with_mail_parser(std::sync::Arc::new(
        casework_mail::inbound::Parser::default(),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match svc.ingest_raw(&Actor::operator("mta"), raw).await {
            Ok(got) => {
                use casework_core::ports::CaseLog;
                let history = store.history(got.case).await.unwrap();
                let on_case = history
                    .iter()
                    .filter(|e| matches!(e.kind, EventKind::EmailReceived { .. }))
                    .count();
                if on_case != 1 {
                    return Err(format!("{got:?}: {on_case} emails on the case"));
                }
                // and taken once
                let again = svc.ingest_raw(&Actor::operator("mta"), raw).await;
                match again {
                    Ok(a) if a.duplicate && a.case == got.case => Ok(()),
                    other => Err(format!("again: {other:?}")),
                }
            }
            Err(ServiceError::Workflow(WorkflowError::Invalid { message, .. }))
                if !message.is_empty() =>
            {
                Ok(())
            }
            Err(other) => Err(format!("not a clear refusal: {other:?}")),
        }
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any bytes given to the pipeline end as a case (once) or a clear refusal.
    #[test]
    fn any_bytes_end_as_a_case_or_a_clear_refusal(
        raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)
    ) {
        proptest::prop_assert_eq!(ingest_anything(&raw), Ok(()));
    }

    /// Real-shaped messages with bytes changed: the same.
    #[test]
    fn changed_fixtures_end_as_a_case_or_a_clear_refusal(
        which in 0usize..21,
        at in proptest::prelude::any::<proptest::sample::Index>(),
        byte in proptest::prelude::any::<u8>(),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let mut names: Vec<_> = std::fs::read_dir(fixture("")).unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        let mut raw = std::fs::read(&names[which % names.len()]).unwrap();
        let i = at.index(raw.len());
        raw[i] = byte;
        raw.truncate(cut.index(raw.len()) + 1);
        proptest::prop_assert_eq!(ingest_anything(&raw), Ok(()));
    }
}

/// A new message from a customer, with a Message-ID of its own.
fn note(id: &str, subject: &str) -> String {
    format!(
        "From: Jordan Smith <jordan@customer.example>\r\nTo: support@example.com\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Tue, 24 Nov 2026 08:00:00 +0000\r\n\r\n{subject}, in detail.\r\n"
    )
}

#[tokio::test]
async fn mail_fetch_reads_on_from_the_saved_position_and_again_after_a_uidvalidity_change() {
    use casework_e2e::dovecot::Dovecot;
    let server = Dovecot::start("cli-position");
    let url = server.url("Support", "");
    deliver(&url, &note("p1@customer.example", "First problem")).await;
    let cw = staffed("mail-position");
    let first = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(first["opened"], 1, "{first}");
    // a restart reads only what came since: nothing twice, nothing skipped
    deliver(&url, &note("p2@customer.example", "Second problem")).await;
    let second = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(
        (second["opened"].as_u64(), second["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{second}"
    );
    assert!(second.get("uid_validity_changed").is_none(), "{second}");
    // the folder is recreated (restored from a backup): its UIDs start again under a new
    // UIDVALIDITY, so the saved position no longer applies; it is read from its start, and
    // what was taken before is recognised, not taken again
    std::fs::remove_dir_all(server.maildir("Support")).unwrap();
    deliver(&url, &note("p2@customer.example", "Second problem")).await;
    deliver(&url, &note("p3@customer.example", "Third problem")).await;
    let third = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(
        (third["opened"].as_u64(), third["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{third}"
    );
    assert!(third["uid_validity_changed"]["from"].is_u64(), "{third}");
    assert_ne!(
        third["uid_validity_changed"]["from"],
        third["uid_validity_changed"]["to"]
    );
    let fourth = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(
        (fourth["opened"].as_u64(), fourth["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{fourth}"
    );
    let listed = cw.json(&["--as", "Ana Lopez", "case", "list"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 3, "{listed}");
}

/// Whatever reply `raw` is, appended to the mailbox at `url` over IMAP.
async fn deliver(url: &str, raw: &str) {
    use casework_mail::imap::{ImapMailbox, ImapSettings};
    let mut mailbox = ImapMailbox::connect(&ImapSettings::parse(url).unwrap())
        .await
        .unwrap();
    mailbox.append(raw.as_bytes()).await.unwrap();
    mailbox.logout().await.unwrap();
}

#[tokio::test]
async fn a_reply_to_mail_sent_over_smtp_comes_back_over_imap_onto_its_case() {
    use casework_e2e::SmtpServer;
    use casework_e2e::dovecot::Dovecot;
    let smtp = SmtpServer::start("inbound-reply", &[]);
    let imap = Dovecot::start("inbound-reply");
    let url = imap.url("INBOX", "?processed=Archive");
    let cw = staffed("mail-roundtrip").with_env(
        "CASEWORK_REPLY_SECRET",
        "e2e-reply-secret-0123456789abcdef-0001",
    );
    let n = open(&cw, "Map service fails to publish");
    let ana = |args: &[&str]| as_ana(&cw, args);
    ana(&["case", "take", &n]);
    ana(&["email", "send", &n, "--template", "initial-contact"]);
    ana(&["outbox", "flush", "--mailer", &smtp.url("")]);
    let sent = &smtp.wait_for(1, std::time::Duration::from_secs(10))[0];
    let id = sent["headers"]["Message-ID"].as_str().unwrap();
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let subject = format!("Re: {}", sent["headers"]["Subject"].as_str().unwrap());
    // the signed reply token, in the Message-ID and in a plus-addressed Reply-To
    let token = id.split_once('.').unwrap().1.split_once('@').unwrap().0;
    assert!(
        token.starts_with(&format!("c{}.", n.trim_start_matches('0'))),
        "{id}"
    );
    let reply_to = sent["headers"]["Reply-To"].as_str().unwrap_or_default();
    assert!(
        reply_to.contains(&format!("<support+{token}@example.com>")),
        "{sent}"
    );

    // the customer answers; a stranger quotes the case number; the customer writes again
    // from a client that keeps no thread header, to the Reply-To address
    deliver(
        &url,
        &reply(
            "jordan@customer.example",
            &id,
            &subject,
            "a1@customer.example",
        ),
    )
    .await;
    deliver(
        &url,
        &reply(
            "mallory@evil.example",
            "x@evil.example",
            &subject,
            "s1@evil.example",
        ),
    )
    .await;
    deliver(
        &url,
        &format!(
            "From: Jordan Smith <jordan@customer.example>\r\nTo: support+{token}@example.com\r\n\
             Subject: One more thing\r\nMessage-ID: <a0@customer.example>\r\n\
             Date: Tue, 24 Nov 2026 08:05:00 +0000\r\n\r\nAnd the log says 503.\r\n"
        ),
    )
    .await;
    let got = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(
        (got["added"].as_u64(), got["opened"].as_u64()),
        (Some(2), Some(1)),
        "{got}"
    );
    let case = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(
        case["case"]["contacts"]["emails"], 0,
        "the reply reached: {case}"
    );
    let timeline = case["timeline"].as_array().unwrap();
    let received: Vec<&Value> = timeline
        .iter()
        .filter(|e| e["type"] == "email_received")
        .collect();
    assert_eq!(received.len(), 2, "the stranger is not on the case: {case}");
    for r in received {
        assert_eq!(r["from"], "jordan@customer.example");
        assert_eq!(r["visibility"], "customer");
        assert_eq!(r["rule"], "reply_token", "{r}");
    }

    // closed for now at the customer's request; their next email reopens it
    ana(&["case", "close", &n, "--temporary"]);
    deliver(
        &url,
        &reply(
            "jordan@customer.example",
            &id,
            &subject,
            "a2@customer.example",
        ),
    )
    .await;
    let got = cw.json(&["mail", "fetch", "--imap", &url]);
    assert_eq!(got["added"], 1, "{got}");
    let case = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(case["case"]["status_category"], "open", "{case}");
    assert_eq!(case["case"]["reopen_count"], 1, "{case}");

    // a secret too short to sign with stops a command with the reason, not unsigned mail
    let short =
        cw.with_env("CASEWORK_REPLY_SECRET", "short")
            .run(&["--as", "Ana Lopez", "case", "list"]);
    assert_eq!(short.code, 1, "a usage error: {short:?}");
    assert!(short.stderr.contains("CASEWORK_REPLY_SECRET"), "{short:?}");
}

#[test]
fn mail_whose_files_break_the_limits_is_taken_without_them_kept_whole_and_its_sender_told() {
    let cw = staffed("mail-held-back");
    cw.append_to_config("[attachments]\nmax_message_bytes = 1000\nmax_file_bytes = 1000");
    // a 2001-byte attachment ("AAA…" in base64, 76 characters a line)
    let encoded = "QUFB".repeat(667);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let raw = format!(
        "From: Zoe Kunde <zoe@kunde.example>\r\nTo: support@example.com\r\n\
         Subject: Export fails\r\nMessage-ID: <big-logs@kunde.example>\r\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         The export fails, logs attached.\r\n\
         --b1\r\nContent-Type: application/zip\r\n\
         Content-Disposition: attachment; filename=\"logs.zip\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        lines.join("\r\n")
    );
    let path = cw.dir.join("big.eml");
    std::fs::write(&path, &raw).unwrap();
    let (code, json, stderr) = ingest_file(&cw, &path);
    assert_eq!(code, 0, "{stderr}");
    let json = json.unwrap();
    assert_eq!(
        (&json["outcome"], &json["created"]),
        (&Value::from("taken"), &Value::from(true)),
        "{json}"
    );
    let why = json["files_held_back"].as_str().unwrap();
    assert!(
        why.contains("logs.zip is 2001 bytes") && why.contains("max_file_bytes"),
        "{json}"
    );
    let id = json["quarantined"].as_str().unwrap().to_string();
    let n = json["case"].as_u64().unwrap().to_string();

    // the text is on the case without the file, and the sender is told why
    let case = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    let timeline = case["timeline"].as_array().unwrap();
    assert!(
        timeline.iter().any(|e| e["type"] == "email_received"
            && e["body"].as_str().unwrap().contains("logs attached")),
        "{case}"
    );
    let told = timeline
        .iter()
        .find(|e| e["type"] == "email_queued" && e["template"] == "files_refused")
        .unwrap_or_else(|| panic!("no notice: {case}"));
    assert_eq!(told["to"], "zoe@kunde.example", "{told}");
    assert!(
        told["body"]
            .as_str()
            .unwrap()
            .contains("logs.zip is 2.0 KB, and we keep files of at most 1000 bytes"),
        "{told}"
    );
    let files = cw.ok(&["--as", "Ana Lopez", "case", "attachments", &n]);
    assert_eq!(files.trim(), "No files.");

    // the whole message waits in the quarantine, byte for byte, saying where its text went
    let kept = cw.json(&["--as", "Lee Park", "mail", "quarantine", "list"])["items"].clone();
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept[0]["id"], id.as_str(), "{kept}");
    assert!(
        kept[0]["reason"].as_str().unwrap().contains(&format!(
            "its text is on case {}",
            json["display_number"].as_str().unwrap()
        )),
        "{kept}"
    );
    let shown = cw.run(&[
        "--as",
        "Lee Park",
        "mail",
        "quarantine",
        "show",
        &id,
        "--raw",
    ]);
    assert_eq!(shown.stdout, raw);

    // delivered again: already taken, said in words, nothing more sent or kept
    let again = cw.run(&["mail", "ingest", "--file", &path.display().to_string()]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains("Already taken")
            && again.stdout.contains(&format!("in the quarantine as {id}")),
        "{again:?}"
    );
    let case = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    let notices = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["template"] == "files_refused")
        .count();
    assert_eq!(notices, 1, "{case}");
    // released while the file is still too big, it stays
    let still = cw.json(&["--as", "Lee Park", "mail", "quarantine", "release", &id]);
    assert_eq!(still["outcome"], "still_refused", "{still}");
}
