//! `casework export` and `casework import` through the real program on SQLite files: the
//! round trip (export, import into an empty store, export again: the same bytes, files
//! included), a rerun
//! that changes nothing, a killed import resumed, the dry run's report, refusals listed by
//! line with the rest imported, and the `store` permission.

use casework_e2e::Cw;

use crate::cli::{EXE, open, staffed};

#[test]
fn an_export_imports_into_an_empty_store_and_exports_the_same_bytes() {
    let src = staffed("export-src");
    let one = open(&src, "Map service fails");
    open(&src, "Printer offline");
    src.ok(&[
        "--as",
        "Ana Lopez",
        "post",
        "add",
        &one,
        "--kind",
        "note",
        "--body",
        "internal: <b>not markup</b>",
    ]);
    src.ok(&[
        "--as",
        "Ana Lopez",
        "article",
        "add",
        "--title",
        "Registering a data store",
        "--body",
        "Steps",
    ]);
    // files travel too: every byte value on a customer-visible post, a text on an internal one
    let binary: Vec<u8> = (0..=255u8).cycle().take(5_000).collect();
    let bin = src.dir.join("trace.bin");
    std::fs::write(&bin, &binary).unwrap();
    let notes = src.dir.join("notes.txt");
    std::fs::write(&notes, "internal only\n").unwrap();
    for (path, visibility) in [(&bin, None), (&notes, Some("--internal"))] {
        let mut args = vec!["--as", "Ana Lopez", "case", "attach", &one];
        args.push(path.to_str().unwrap());
        args.extend(visibility);
        src.ok(&args);
    }
    let file = src.dir.join("export.ndjson");
    let out = src.ok(&["export", "--out", file.to_str().unwrap()]);
    assert!(out.is_empty(), "the export goes to the file: {out}");
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        exported,
        src.ok(&["export"]),
        "--out and stdout write the same"
    );
    assert_eq!(
        exported
            .lines()
            .filter(|l| l.contains(r#""kind":"case""#))
            .count(),
        2
    );

    let dst = Cw::new(EXE, "export-dst");
    // a killed import: the first batches are in, the rest not yet
    let lines: Vec<&str> = exported.lines().collect();
    let part = dst.dir.join("part.ndjson");
    std::fs::write(&part, lines[..lines.len() - 1].join("\n")).unwrap();
    let run = dst.run(&["import", part.to_str().unwrap(), "--batch", "1"]);
    assert_eq!(run.code, 0, "{}{}", run.stderr, run.stdout);
    assert!(
        run.stdout.contains("Cases      1 written"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("imported "),
        "plain progress lines off a terminal: {}",
        run.stderr
    );
    // resumed with the whole file: the rest goes in, what is there stays
    let again = dst.json(&["import", file.to_str().unwrap()]);
    assert_eq!(again["cases"]["written"], 1, "{again}");
    assert_eq!(again["cases"]["unchanged"], 1, "{again}");
    assert_eq!(dst.ok(&["export"]), exported, "nothing lost on the way");
    // run again: nothing changes
    let third = dst.json(&["import", file.to_str().unwrap()]);
    assert_eq!(third["cases"]["unchanged"], 2, "{third}");
    assert_eq!(third["files"], 2, "{third}");
    assert_eq!(
        (
            third["cases"]["written"].as_u64(),
            third["cases"]["updated"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(dst.ok(&["export"]), exported);
    // the imported store works as the source did: search, the internal note, the outbox
    assert_eq!(
        dst.json(&["--as", "Ana Lopez", "case", "history", &one]),
        src.json(&["--as", "Ana Lopez", "case", "history", &one])
    );
    assert_eq!(
        dst.json(&["--as", "Ana Lopez", "search", "999999"]),
        src.json(&["--as", "Ana Lopez", "search", "999999"])
    );
    // the files: the same metadata and visibility, and the very bytes
    let listed = dst.json(&["--as", "Ana Lopez", "case", "attachments", &one]);
    assert_eq!(
        listed,
        src.json(&["--as", "Ana Lopez", "case", "attachments", &one])
    );
    let visibility: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["visibility"].as_str().unwrap())
        .collect();
    assert_eq!(visibility, ["customer", "internal"], "{listed}");
    for (f, bytes) in listed
        .as_array()
        .unwrap()
        .iter()
        .zip([binary.as_slice(), b"internal only\n".as_slice()])
    {
        let id = f["id"].as_str().unwrap();
        let out = dst.dir.join(format!("{id}.out"));
        dst.ok(&[
            "--as",
            "Ana Lopez",
            "case",
            "download",
            &one,
            id,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{f}");
    }
}

#[test]
fn a_dry_run_reports_and_writes_nothing_and_bad_lines_are_listed() {
    let src = staffed("import-bad-src");
    open(&src, "Map service fails");
    let mut text = src.ok(&["export"]);
    text.push_str("{\"kind\":\"case\",\"history\":[]}\n");
    text.push_str("not json at all\n");
    let file = src.dir.join("bad.ndjson");
    std::fs::write(&file, &text).unwrap();
    let name = file.display().to_string();
    let n = text.lines().count();

    let dst = Cw::new(EXE, "import-bad-dst");
    let dry = dst.run(&["import", "--dry-run", &name]);
    assert_eq!(dry.code, 3, "{}{}", dry.stderr, dry.stdout);
    assert!(
        dry.stdout.contains("Dry run: nothing was written"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(&format!("{n} read from ndjson")),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stderr.contains(&format!(
            "not imported: {name}:{}: a case needs its opened event",
            n - 1
        )),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr
            .contains(&format!("not imported: {name}:{}: ", n)),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr.contains("error: 2 record(s) were not imported"),
        "{}",
        dry.stderr
    );

    // for real: the good records go in, the bad ones are listed (exit 3)
    let run = dst.run(&["--json", "import", &name]);
    assert_eq!(run.code, 3, "{}{}", run.stderr, run.stdout);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["cases"]["written"], 1,
        "the dry run wrote nothing: {report}"
    );
    assert_eq!(report["refused"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(dst.case_numbers(), vec![1]);
}

#[test]
fn only_the_store_permission_exports_or_imports() {
    let src = staffed("import-perm");
    open(&src, "Map service fails");
    let file = src.dir.join("e.ndjson");
    src.ok(&["export", "--out", file.to_str().unwrap()]);
    for who in ["Ana Lopez", "root"] {
        let e = src.fails(&["--as", who, "export"], 2);
        assert!(e.contains("export the store"), "{who}: {e}");
        let e = src.fails(&["--as", who, "import", file.to_str().unwrap()], 2);
        assert!(e.contains("import into the store"), "{who}: {e}");
    }
}

#[test]
fn zendesk_and_salesforce_exports_import_through_the_program() {
    let cw = staffed("import-sources");
    // Zendesk: a page of the incremental ticket export, comments merged in, users side-loaded
    let page = cw.dir.join("tickets-1.json");
    std::fs::write(
        &page,
        r#"{"tickets": [{"id": 4242, "via": {"channel": "web"}, "created_at": "2024-07-20T22:55:29Z",
            "updated_at": "2024-07-21T10:00:00Z", "subject": "Portal login loops",
            "description": "It keeps asking", "priority": "urgent", "status": "open",
            "requester_id": 1, "assignee_id": 2, "tags": ["vip"],
            "comments": [{"author_id": 1, "body": "It keeps asking", "public": true, "created_at": "2024-07-20T22:55:29Z"},
                         {"author_id": 2, "body": "Cleared the session store", "public": false, "created_at": "2024-07-21T09:00:00Z"}]}],
          "users": [{"id": 1, "name": "Jordan Smith", "email": "jordan@customer.example"},
                    {"id": 2, "name": "Ana Lopez", "email": "ana@example.com"}],
          "end_of_stream": true}"#,
    )
    .unwrap();
    let page = page.to_str().unwrap();
    let dry = cw.run(&["import", "--from", "zendesk", "--dry-run", page]);
    assert_eq!(dry.code, 0, "{}{}", dry.stderr, dry.stdout);
    assert!(
        dry.stdout.contains("Unmapped   ticket.tags"),
        "{}",
        dry.stdout
    );
    let report = cw.json(&["import", "--from", "zendesk", page]);
    assert_eq!(report["cases"]["written"], 1, "{report}");
    let case = &cw.json(&["--as", "Ana Lopez", "case", "show", "4242"])["case"];
    assert_eq!(case["title"], "Portal login loops", "{case}");
    assert_eq!(case["priority"], "urgent");
    assert_eq!(case["owner"], "Ana Lopez");
    assert_eq!(case["created_at"], "2024-07-20T22:55:29Z");
    let again = cw.json(&["import", "--from", "zendesk", page]);
    assert_eq!(again["cases"]["unchanged"], 1, "{again}");

    // Salesforce: a Data Export's CSVs (quoted fields with commas and line breaks) and a
    // mapping file for the org's own columns
    let dir = cw.dir.join("sf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Case.csv"),
        "\u{feff}\"Id\",\"CaseNumber\",\"Subject\",\"Description\",\"Status\",\"Priority\",\"Origin\",\"SuppliedName\",\"SuppliedEmail\",\"IsClosed\",\"CreatedDate\",\"Product__c\"\n\
         \"500A\",\"00007001\",\"Sync fails, again\",\"Line one\nline two\",\"New\",\"High\",\"Email\",\"Kim Lee\",\"kim@customer.example\",\"0\",\"2024-03-01T09:00:00.000Z\",\"Field Maps\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("CaseComment.csv"),
        "Id,ParentId,IsPublished,CommentBody,CreatedById,CreatedDate\n00a1,500A,1,\"Try again, please\",005X,2024-03-01T10:00:00.000Z\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mapping.toml"),
        "[fields]\nProduct__c = \"product\"\n",
    )
    .unwrap();
    let files = [
        dir.join("Case.csv").display().to_string(),
        dir.join("CaseComment.csv").display().to_string(),
    ];
    let mapping = dir.join("mapping.toml").display().to_string();
    let report = cw.json(&[
        "import",
        "--from",
        "salesforce",
        "--mapping",
        &mapping,
        &files[0],
        &files[1],
    ]);
    assert_eq!(report["cases"]["written"], 1, "{report}");
    let case = &cw.json(&["--as", "Ana Lopez", "case", "show", "7001"])["case"];
    assert_eq!(case["title"], "Sync fails, again", "{case}");
    assert_eq!(case["description"], "Line one\nline two");
    assert_eq!(case["product"], "Field Maps");
    let history = cw.json(&["--as", "Ana Lopez", "case", "history", "7001"]);
    assert!(
        history.to_string().contains("Try again, please"),
        "{history}"
    );
    // a file that is not part of a Data Export is named
    let e = cw.fails(&["import", "--from", "salesforce", &mapping], 1);
    assert!(
        e.contains("Case.csv, CaseComment.csv and EmailMessage.csv"),
        "{e}"
    );
}
