//! The CLI in a terminal (issue #11): output into a closed pipe (`| head`) ends quietly;
//! text customers typed reaches the terminal escaped, never as control sequences, while
//! `--json` keeps it exact; one-line options are refused as the command line is parsed,
//! naming the option.

use casework_e2e::Cw;

use crate::cli::{open, staffed as desk};

fn ana(cw: &Cw, args: &[&str]) -> String {
    let mut all = vec!["--as", "Ana Lopez"];
    all.extend_from_slice(args);
    cw.ok(&all)
}

/// Whether text holds a character a terminal would act on (a line feed excepted).
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || casework_core::input::is_bidi_control(c)
                || c == '\u{2028}'
        })
        .collect()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let cw = desk("pipe");
    let n = open(&cw, "Map service fails to publish");
    // more output than a pipe buffers, so the program surely writes into the closed pipe
    let long: String = (0..2400).map(|i| format!("log line {i:>30}\n")).collect();
    ana(&cw, &["case", "edit", &n, "--description", &long]);
    for args in [
        vec!["case", "show", n.as_str()],
        vec!["--json", "case", "show", n.as_str()],
        vec!["case", "summary", n.as_str()],
    ] {
        let mut all = vec!["--as", "Ana Lopez"];
        all.extend_from_slice(&args);
        let r = cw.run_into_closed_pipe(&all);
        assert_eq!(r.code, 0, "casework {args:?}: {}", r.stderr);
        assert_eq!(r.stderr, "", "casework {args:?}: nothing to say about it");
    }
}

#[test]
fn text_customers_typed_is_shown_escaped_and_json_keeps_it_exact() {
    let cw = desk("escape");
    let n = open(&cw, "Map service fails to publish");
    let hostile = "Logs attached\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nsee gnp.exe\u{202e}";
    ana(
        &cw,
        &[
            "post",
            "add",
            &n,
            "--kind",
            "note",
            "--customer-visible",
            "--body",
            hostile,
        ],
    );
    ana(&cw, &["case", "edit", &n, "--description", hostile]);
    // a name stored before names were checked
    let legacy = cw.open_stored_case(
        "Second case",
        "Alice\u{1b}[31m\nSmith",
        "alice@customer.example",
    );

    let shown = ana(&cw, &["case", "show", &n]);
    assert_eq!(raw_controls(&shown), Vec::<char>::new(), "{shown}");
    assert!(
        shown.contains(r"Logs attached\u{1b}]0;pwned\u{7}\u{1b}[2J"),
        "{shown}"
    );
    assert!(shown.contains(r"gnp.exe\u{202e}"), "{shown}");

    let list = ana(&cw, &["case", "list"]);
    assert_eq!(raw_controls(&list), Vec::<char>::new(), "{list}");
    assert_eq!(
        list.lines().count(),
        3,
        "a header and one row per case:\n{list}"
    );
    assert!(list.contains(r"Alice\u{1b}[31m\nSmith"), "{list}");
    let card = ana(&cw, &["case", "show", &legacy.to_string()]);
    assert!(
        card.contains(r"Customer         Alice\u{1b}[31m\nSmith <alice@"),
        "{card}"
    );

    // --json is the data as it is
    let json = cw.json(&["--as", "Ana Lopez", "case", "show", &n]);
    assert_eq!(json["case"]["description"], hostile);
    let post = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "post_added")
        .unwrap();
    assert_eq!(post["body"], hostile);
}

#[test]
fn one_line_options_are_refused_naming_the_option() {
    let cw = desk("options");
    let n = open(&cw, "Map service fails to publish");
    let open_with = |option: &'static str, value: &'static str| {
        let mut args = vec![
            "--as",
            "Ana Lopez",
            "case",
            "open",
            "--title",
            "T",
            "--customer-name",
            "Jordan",
            "--customer-email",
            "jordan@customer.example",
        ];
        match args.iter().position(|a| *a == option) {
            Some(i) => args[i + 1] = value,
            None => args.extend([option, value]),
        }
        args
    };
    for (args, option) in [
        (
            open_with("--customer-name", "Alice\nSmith"),
            "--customer-name",
        ),
        (
            open_with("--customer-name", "Alice\rSmith"),
            "--customer-name",
        ),
        (open_with("--title", "T\u{1b}[2J"), "--title"),
        (
            open_with("--customer-account", "Acme\u{202e}"),
            "--customer-account",
        ),
        (
            open_with("--customer-email", r"a(b)\c:d@cust.example"),
            "--customer-email",
        ),
        (
            vec![
                "--as",
                "Ana Lopez",
                "case",
                "edit",
                n.as_str(),
                "--product-area",
                "Pub\nlishing",
            ],
            "--product-area",
        ),
        (
            vec![
                "--as",
                "root",
                "agent",
                "add",
                "Ana\nLopez",
                "--role",
                "agent",
                "--email",
                "a@example.com",
            ],
            "<NAME>",
        ),
    ] {
        let line = cw.fails(&args, 1);
        assert!(line.contains(option), "{args:?}: {line}");
        assert_eq!(raw_controls(&line), Vec::<char>::new(), "{line:?}");
    }
    let list = ana(&cw, &["case", "list"]);
    assert_eq!(list.lines().count(), 2, "only the first case:\n{list}");
}
