//! What each request field accepts, written into the OpenAPI document from core: the lengths
//! and numbers of `casework_core::limits`, and the patterns of core's input rules. The request
//! types carry descriptions only; each resource module lists its fields' [`Rule`]s (`RULES`),
//! the [`Rules`] modifier applies them, and [`fill_limits`] replaces each `{LIMIT_NAME}` in a
//! description with that limit's value. So the document states exactly what core checks, and
//! no number in it can drift: a test walks the served document and finds every `maxLength`,
//! `maximum` and `maxItems` here or in core's own schemas.

use std::borrow::Cow;

use casework_core::input::{LINE_PATTERN, OPTIONAL_LINE_PATTERN, TEXT_PATTERN};
use casework_core::limits::PROTOCOL_COUNT;
use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};

use crate::openapi::operations;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::{OpenApi, RefOr};

/// What a field accepts: core's rule for it, with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepts {
    /// One line with something visible, at most this many characters
    /// (`casework_core::input::required_line`).
    Line(usize),
    /// One line or blank, at most this many characters (`optional_line`).
    OptionalLine(usize),
    /// Text with something not blank, at most this many characters (`required_text`).
    Text(usize),
    /// Any text, at most this many characters (`optional_text`).
    OptionalText(usize),
    /// At most this many characters, matching a pattern of core's.
    Matching(&'static str, usize),
    /// Something not blank, no more.
    NotBlank,
    /// A pattern of core's, no length.
    Pattern(&'static str),
    /// Visible ASCII, 1 to this many characters (an `Idempotency-Key`).
    VisibleAscii(usize),
    /// A whole number from the first to the second.
    Range(u64, u64),
    /// A count on the storage protocol: at most [`PROTOCOL_COUNT`].
    Count,
}

/// Where a field is: a property of a request body's schema, or a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `property` of the component schema `schema` (a request body's, or one it holds).
    Property(&'static str, &'static str),
    /// The query parameter `name` of the operations on `path`.
    Query(&'static str, &'static str),
    /// The header parameter `name`, wherever an operation takes it.
    Header(&'static str),
}

/// One field and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule(pub Field, pub Accepts);

/// Every resource module's rules.
pub(crate) fn all() -> impl Iterator<Item = &'static Rule> {
    [
        crate::cases::RULES,
        crate::case_actions::RULES,
        crate::emails::RULES,
        crate::knowledge::RULES,
        crate::search::RULES,
        crate::reports::RULES,
        crate::outbox::RULES,
        crate::events::RULES,
        crate::webhooks::RULES,
        crate::statuses::RULES,
        crate::extract::RULES,
        crate::store_api::RULES,
    ]
    .into_iter()
    .flatten()
}

impl Accepts {
    /// `maxLength`, `pattern`, `minimum`, `maximum` for this rule.
    fn apply(self, o: &mut Object) {
        use utoipa::Number::UInt;
        let (max_length, pattern): (Option<usize>, Option<Cow<'static, str>>) = match self {
            Accepts::Line(n) => (Some(n), Some(LINE_PATTERN.into())),
            Accepts::OptionalLine(n) => (Some(n), Some(OPTIONAL_LINE_PATTERN.into())),
            Accepts::Text(n) => (Some(n), Some(TEXT_PATTERN.into())),
            Accepts::OptionalText(n) => (Some(n), None),
            Accepts::Matching(p, n) => (Some(n), Some(p.into())),
            Accepts::NotBlank => (None, Some(TEXT_PATTERN.into())),
            Accepts::Pattern(p) => (None, Some(p.into())),
            Accepts::VisibleAscii(n) => (None, Some(format!("^[!-~]{{1,{n}}}$").into())),
            Accepts::Range(min, max) => {
                o.minimum = Some(UInt(min as usize));
                o.maximum = Some(UInt(max as usize));
                (None, None)
            }
            Accepts::Count => {
                o.maximum = Some(UInt(PROTOCOL_COUNT as usize));
                (None, None)
            }
        };
        if max_length.is_some() {
            o.max_length = max_length;
        }
        if let Some(p) = pattern {
            o.pattern = Some(p.into_owned());
        }
    }
}

/// Applies every [`Rule`] to the document. A rule that finds no field is a stale rule:
/// [`Rules::unapplied`] lists them (a test requires none).
pub(crate) struct Rules;

#[cfg(test)]
impl Rules {
    /// The rules that match nothing in `doc`.
    pub(crate) fn unapplied(doc: &mut OpenApi) -> Vec<Rule> {
        all().filter(|r| !apply(doc, r)).copied().collect()
    }
}

impl Modify for Rules {
    fn modify(&self, doc: &mut OpenApi) {
        for rule in all() {
            apply(doc, rule);
        }
    }
}

fn object(schema: &mut RefOr<Schema>) -> Option<&mut Object> {
    match schema {
        RefOr::T(Schema::Object(o)) => Some(o),
        _ => None,
    }
}

/// Applies one rule; whether it found its field.
fn apply(doc: &mut OpenApi, Rule(field, accepts): &Rule) -> bool {
    let mut found = false;
    match *field {
        Field::Property(schema, property) => {
            let target = doc
                .components
                .as_mut()
                .and_then(|c| c.schemas.get_mut(schema))
                .and_then(object)
                .and_then(|o| o.properties.get_mut(property))
                .and_then(object);
            if let Some(o) = target {
                accepts.apply(o);
                found = true;
            }
        }
        Field::Query(path, name) => {
            if let Some(item) = doc.paths.paths.get_mut(path) {
                found = apply_to_params(operations(item), ParameterIn::Query, name, *accepts);
            }
        }
        Field::Header(name) => {
            for item in doc.paths.paths.values_mut() {
                found |= apply_to_params(operations(item), ParameterIn::Header, name, *accepts);
            }
        }
    }
    found
}

fn apply_to_params<'a>(
    ops: impl Iterator<Item = &'a mut Operation>,
    place: ParameterIn,
    name: &str,
    accepts: Accepts,
) -> bool {
    let mut found = false;
    for op in ops {
        for p in op.parameters.iter_mut().flatten() {
            let RefOr::T(p) = p else { continue };
            if p.name == name
                && p.parameter_in == place
                && let Some(o) = p.schema.as_mut().and_then(object)
            {
                accepts.apply(o);
                found = true;
            }
        }
    }
    found
}

/// The document's text with each `{LIMIT_NAME}` (a name of `casework_core::limits::ALL`)
/// replaced by that limit's value, so descriptions quote limits without holding numbers.
pub(crate) fn fill_limits(text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in casework_core::limits::ALL {
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    out
}
