//! Input the workflow reads from a command before it decides: text fields within their
//! limits, email fields, and status names the workflow file has.

use crate::config::{StatusDef, WorkflowConfig};
use crate::documents::EmailFields;
use crate::ids::StatusName;
use crate::limits::{MAX_TEXT, MAX_URL};
use crate::model::TemplateName;

use super::{WorkflowError, invalid};

/// Trims a text field and checks it is present and not too long.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, WorkflowError> {
    // the length is the client's text as sent, so it means what the API schema's maxLength says
    check_len(field, value, max)?;
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "is required and may not be blank"));
    }
    Ok(v.to_string())
}

fn check_len(field: &str, v: &str, max: usize) -> Result<(), WorkflowError> {
    if v.chars().count() > max {
        return Err(WorkflowError::Invalid {
            field: field.to_string(),
            message: format!("is longer than {max} characters"),
        });
    }
    Ok(())
}

/// Trims an optional field; blank becomes `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, WorkflowError> {
    if let Some(raw) = value {
        check_len(field, raw, max)?;
    }
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// Whether an email may be rendered from these fields: an email template staff send from a
/// case (not the summary draft, not the sign-in link), `discussed` for a follow-up, and every field within its length.
pub fn check_email(template: TemplateName, fields: &EmailFields) -> Result<(), WorkflowError> {
    if !template.is_email() {
        return Err(invalid(
            "template",
            "the case summary is not an email; see the summary draft",
        ));
    }
    if !template.is_case_email() {
        return Err(invalid(
            "template",
            "the sign-in link is sent only when a customer asks for one",
        ));
    }
    if template == TemplateName::FollowUp
        && fields
            .discussed
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        return Err(invalid(
            "discussed",
            "a follow-up email needs a summary of what was discussed",
        ));
    }
    for (field, value) in [
        ("challenge", &fields.challenge),
        ("discussed", &fields.discussed),
        ("next_steps", &fields.next_steps),
        ("note", &fields.note),
    ] {
        if let Some(v) = value {
            check_len(field, v, MAX_TEXT)?;
        }
    }
    for url in &fields.documentation {
        check_len("documentation", url, MAX_URL)?;
    }
    Ok(())
}

/// A status of the workflow by name, or the error that lists the valid ones (`field` names
/// the request field that gave it).
pub fn known_status<'c>(
    config: &'c WorkflowConfig,
    field: &str,
    name: &str,
) -> Result<&'c StatusDef, WorkflowError> {
    config
        .status(name)
        .ok_or_else(|| WorkflowError::UnknownStatus {
            field: field.to_string(),
            status: name.trim().chars().take(80).collect(),
            valid: config.statuses().iter().map(|d| d.name.clone()).collect(),
        })
}

/// Checks a status map (`casework status map FROM=TO`): `from` must be a status the workflow
/// no longer has (a case in a status it has moves with a transition), `to` one it has.
pub fn check_status_map<'c>(
    config: &'c WorkflowConfig,
    from: &str,
    to: &str,
) -> Result<(StatusName, &'c StatusDef), WorkflowError> {
    let from: StatusName = from
        .parse()
        .map_err(|e: crate::ids::ParseError| invalid("from", &e.to_string()))?;
    if let Some(known) = config.status(from.as_str()) {
        return Err(WorkflowError::Invalid {
            field: "from".into(),
            message: format!(
                "{} is a status of the workflow; move its cases with a transition",
                known.name
            ),
        });
    }
    Ok((from, known_status(config, "to", to)?))
}
