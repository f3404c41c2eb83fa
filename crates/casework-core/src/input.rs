//! The one rule for short text a person types (names, titles, subjects, product fields):
//! it stays on one line and shows what it says. Such text reaches email headers and
//! one-line displays (tables, terminals, subjects), where a line break ends a header, an
//! escape sequence drives a terminal, and a bidirectional override reorders what is shown.
//!
//! Every front-end and adapter asks [`line_problem`] (or the field helpers built on it)
//! instead of keeping its own list of bad characters.

use crate::workflow::{WorkflowError, optional_text, required_text};

/// What [`required_line`] accepts, as a regular expression for the API document (ECMA-262
/// and Python `re` alike): no control character (C0, DEL, C1), line or paragraph separator
/// or bidirectional override/isolate anywhere, and at least one character that is not
/// white space.
pub const LINE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$";

/// What [`optional_line`] accepts (blank is allowed: it clears the field), as a regular
/// expression for the API document.
pub const OPTIONAL_LINE_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$";

/// What a key accepts (a defect's key in the tracker): [`required_line`] with no white
/// space inside, as a regular expression for the API document.
pub const KEY_PATTERN: &str = r"^[^\S\x00-\x1f\x7f-\x9f\u2028\u2029]*[^\s\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+[^\S\x00-\x1f\x7f-\x9f\u2028\u2029]*$";

/// What a required free-text field accepts ([`crate::workflow::required_text`]): something
/// that is not white space.
pub const TEXT_PATTERN: &str = r"\S";

/// Whether `c` is a bidirectional embedding, override or isolate (U+202A–U+202E,
/// U+2066–U+2069): characters that make text display in another order than it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` ends a line somewhere: CR, LF, NEL, and the Unicode line and paragraph
/// separators.
pub fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Why `text` is not one line of plain text, or `None` when it is. Refused anywhere in
/// the text: line breaks, every other control character (C0 such as NUL, backspace and
/// ESC; DEL; C1), and bidirectional overrides and isolates.
pub fn line_problem(text: &str) -> Option<String> {
    let bad = text
        .chars()
        .find(|&c| is_line_break(c) || c.is_control() || is_bidi_control(c))?;
    let code = format!("U+{:04X}", u32::from(bad));
    Some(if is_line_break(bad) {
        format!("contains a line break ({code}); it must fit on one line")
    } else if is_bidi_control(bad) {
        format!("contains a bidirectional override ({code}), which reorders how text is shown")
    } else {
        format!("contains a control character ({code})")
    })
}

/// Checks a field is one line of plain text (see [`line_problem`]).
pub fn check_line(field: &str, value: &str) -> Result<(), WorkflowError> {
    match line_problem(value) {
        None => Ok(()),
        Some(message) => Err(WorkflowError::Invalid {
            field: field.to_string(),
            message,
        }),
    }
}

/// A required one-line field: trimmed, present, at most `max` characters, one line of
/// plain text.
pub fn required_line(field: &str, value: &str, max: usize) -> Result<String, WorkflowError> {
    check_line(field, value)?;
    required_text(field, value, max)
}

/// An optional one-line field: trimmed, blank is `None`, at most `max` characters, one
/// line of plain text.
pub fn optional_line(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, WorkflowError> {
    if let Some(v) = value {
        check_line(field, v)?;
    }
    optional_text(field, value, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_of_plain_text_is_accepted_in_any_script() {
        for good in [
            "Alice Smith",
            "Zoë Ångström",
            "Ошибка публикации",
            "שלום עולם",
            "مرحبا",
            "O'Brien & Sons, Ltd. (EMEA)",
            "emoji 👩‍💻 with a joiner",
            "tab-free\u{a0}non-breaking space",
        ] {
            assert_eq!(line_problem(good), None, "{good:?}");
            assert_eq!(required_line("name", good, 255).unwrap(), good.trim());
        }
    }

    #[test]
    fn control_characters_line_breaks_and_bidi_overrides_are_refused_by_name() {
        for (bad, why) in [
            ("Alice\nSmith", "line break (U+000A)"),
            ("Alice\rSmith", "line break (U+000D)"),
            ("Alice\r\nBcc: x@evil.example", "line break"),
            ("Alice\u{85}Smith", "line break (U+0085)"),
            ("Alice\u{2028}Smith", "line break (U+2028)"),
            ("Alice\0", "control character (U+0000)"),
            ("\u{1b}]0;owned\u{7}", "control character (U+001B)"),
            ("back\u{8}space", "control character (U+0008)"),
            ("tab\there", "control character (U+0009)"),
            ("del\u{7f}", "control character (U+007F)"),
            ("csi\u{9b}2J", "control character (U+009B)"),
            ("invoice\u{202e}fdp.exe", "bidirectional override (U+202E)"),
            ("a\u{2066}b", "bidirectional override (U+2066)"),
            ("a\u{202a}b", "bidirectional override (U+202A)"),
        ] {
            let err = required_line("customer.name", bad, 255).unwrap_err();
            let WorkflowError::Invalid { field, message } = &err else {
                panic!("{err:?}");
            };
            assert_eq!(field, "customer.name");
            assert!(message.contains(why), "{bad:?}: {message}");
            assert!(optional_line("product", Some(bad), 255).is_err(), "{bad:?}");
        }
        // a line break at the edge is refused too: the API document's pattern says so
        assert!(required_line("title", "Title\n", 255).is_err());
    }

    /// Every short field a command takes, set to `bad` one at a time, is refused by the
    /// workflow with the field's name; long text (descriptions, notes) keeps its lines.
    #[test]
    fn every_short_field_of_a_case_is_one_line() {
        use crate::model::{Actor, CloseMode, LinkTarget, RefKind, Resolution, Role};
        use crate::workflow::{CaseEdit, Command, Context, NewCase, decide, decide_open};
        let config = crate::WorkflowConfig::default_config();
        let templates = crate::Templates::embedded().unwrap();
        let ids = crate::testing::SequentialIds::default();
        let agent = Actor::system("ana");
        assert_eq!(agent.role, Role::Admin);
        let ctx = Context {
            actor: &agent,
            config: &config,
            templates: &templates,
            now: crate::testing::START,
            ids: &ids,
            reply_keys: None,
        };
        const BAD: &str = "Alice\nSmith";
        let bad = BAD;
        let good = || NewCase {
            title: "Map service fails".into(),
            description: "first line\nsecond line".into(),
            origin: crate::model::Origin::Web,
            priority: crate::model::Priority::Low,
            customer: crate::model::Customer {
                name: "Alice Smith".into(),
                email: "alice@customer.example".parse().unwrap(),
                phone: Some("+1 555 0100".into()),
                account: Some("Acme".into()),
            },
            product: Some("Server".into()),
            product_version: Some("11.3".into()),
        };
        assert!(
            decide_open(&good(), &ctx).is_ok(),
            "a description keeps its lines"
        );
        type Spoil = fn(&mut NewCase);
        let opening: [(&str, Spoil); 7] = [
            ("title", |n| n.title = BAD.into()),
            ("customer.name", |n| n.customer.name = BAD.into()),
            ("customer.name", |n| n.customer.name = "Alice\rSmith".into()),
            ("customer.phone", |n| n.customer.phone = Some(BAD.into())),
            ("customer.account", |n| {
                n.customer.account = Some(BAD.into())
            }),
            ("product", |n| n.product = Some(BAD.into())),
            ("product_version", |n| n.product_version = Some(BAD.into())),
        ];
        for (field, spoil) in opening {
            let mut n = good();
            spoil(&mut n);
            match decide_open(&n, &ctx) {
                Err(WorkflowError::Invalid { field: f, message }) => {
                    assert_eq!(f, field);
                    assert!(message.contains("line break"), "{message}");
                }
                other => panic!("{field}: {other:?}"),
            }
        }

        let case = crate::testing::sample_case();
        let edit = |e: CaseEdit| Command::Edit(e);
        let commands = [
            (
                "title",
                edit(CaseEdit {
                    title: Some(bad.into()),
                    ..CaseEdit::default()
                }),
            ),
            (
                "product_area",
                edit(CaseEdit {
                    product_area: Some("Pub\u{1b}[2J".into()),
                    ..CaseEdit::default()
                }),
            ),
            (
                "functionality",
                edit(CaseEdit {
                    functionality: Some(bad.into()),
                    ..CaseEdit::default()
                }),
            ),
            (
                "issue",
                edit(CaseEdit {
                    issue: Some("x\u{202e}y".into()),
                    ..CaseEdit::default()
                }),
            ),
            (
                "product",
                edit(CaseEdit {
                    product: Some(bad.into()),
                    ..CaseEdit::default()
                }),
            ),
            (
                "channel",
                Command::LogCall {
                    direction: crate::model::CallDirection::Inbound,
                    duration_minutes: 5,
                    screenshare: false,
                    channel: Some(bad.into()),
                    notes: "notes\nover lines".into(),
                },
            ),
            (
                "group",
                Command::Swarm {
                    group: bad.into(),
                    question: "a question\nover lines".into(),
                },
            ),
            (
                "ref",
                Command::Link(LinkTarget {
                    kind: RefKind::Defect,
                    reference: bad.into(),
                }),
            ),
        ];
        for (field, command) in commands {
            match decide(&command, &case, &ctx) {
                Err(WorkflowError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(
            decide(
                &edit(CaseEdit {
                    description: Some("one\ntwo".into()),
                    ..CaseEdit::default()
                }),
                &case,
                &ctx
            )
            .is_ok(),
            "a description keeps its lines"
        );

        // resolutions show on one line in reports and lists
        let mut ready = case.clone();
        ready.last_post = Some(crate::model::PostKind::Summary);
        ready.title_reviewed = true;
        ready.category.product_area = Some("a".into());
        ready.category.functionality = Some("f".into());
        ready.category.issue = Some("i".into());
        let close = Command::Close {
            mode: CloseMode::Resolved,
            resolution: Some(Resolution {
                primary: "Configuration".into(),
                secondary: bad.into(),
            }),
            notify_customer: true,
        };
        match decide(&close, &ready, &ctx) {
            Err(WorkflowError::Invalid { field, .. }) => {
                assert_eq!(field, "secondary_resolution")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blank_and_long_values_follow_the_text_rules() {
        assert!(required_line("title", "   ", 255).is_err());
        assert!(required_line("title", &"x".repeat(256), 255).is_err());
        assert_eq!(optional_line("product", Some("  "), 255).unwrap(), None);
        assert_eq!(optional_line("product", None, 255).unwrap(), None);
    }
}
