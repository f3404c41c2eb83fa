//! What must hold before the workflow acts: the closing checklist (seed steps 7–11), the
//! non-response policy (seed step 6) and how attempts count toward it, an open case, a status
//! the workflow file has, and who may reopen.

use jiff::SignedDuration;

use crate::config::{Permission, WorkflowConfig};
use crate::model::{Case, CloseMode, ContactChannel, PostKind, Resolution, Role};

use super::{Context, MissingItem, WorkflowError};

fn missing(item: &str, message: impl Into<String>) -> MissingItem {
    MissingItem {
        item: item.to_string(),
        message: message.into(),
    }
}

/// The closing checklist (seed steps 7–11) for a case; empty when it holds.
///
/// The resolution is part of the close command, so it is only checked when given here.
pub fn closing_check(
    case: &Case,
    config: &WorkflowConfig,
    resolution: Option<&Resolution>,
) -> Vec<MissingItem> {
    let c = &config.checklist;
    let mut out = Vec::new();
    if c.summary_last_post && case.last_post != Some(PostKind::Summary) {
        out.push(missing(
            "summary",
            "the last post is not a case summary (post one with kind summary)",
        ));
    }
    if c.title_reviewed && !case.title_reviewed {
        out.push(missing(
            "title",
            "the title was not reviewed since the case was opened (edit it, or confirm it)",
        ));
    }
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    if c.technical_details {
        if blank(&case.product) {
            out.push(missing("product", "product is missing"));
        }
        if blank(&case.product_version) {
            out.push(missing("product_version", "product version is missing"));
        }
    }
    if c.categorized {
        let cat = &case.category;
        if blank(&cat.product_area) {
            out.push(missing("product_area", "product area is missing"));
        }
        if blank(&cat.functionality) {
            out.push(missing("functionality", "functionality is missing"));
        }
        if blank(&cat.issue) {
            out.push(missing("issue", "issue category is missing"));
        }
    }
    if c.resolution
        && let Some(r) = resolution
    {
        if r.primary.trim().is_empty() {
            out.push(missing(
                "primary_resolution",
                "primary resolution is missing",
            ));
        }
        if r.secondary.trim().is_empty() {
            out.push(missing(
                "secondary_resolution",
                "secondary resolution is missing",
            ));
        }
    }
    out
}

/// The non-response policy (seed step 6) for a case; empty when a non-response close is allowed.
pub fn non_response_check(case: &Case, config: &WorkflowConfig) -> Vec<MissingItem> {
    let p = &config.non_response;
    let t = &case.contacts;
    let mut out = Vec::new();
    if t.emails < p.emails {
        out.push(missing(
            "email_attempts",
            format!(
                "{} of {} unanswered emails recorded since the customer was last reached",
                t.emails, p.emails
            ),
        ));
    }
    if t.phone_calls < p.phone_calls {
        out.push(missing(
            "phone_attempts",
            format!(
                "{} of {} unanswered phone calls recorded since the customer was last reached",
                t.phone_calls, p.phone_calls
            ),
        ));
    }
    out
}

/// Whether a new unanswered attempt on `channel` counts toward the non-response policy: the
/// first since the customer was last reached does, and then one per `min_gap_hours` on
/// each channel, so five attempts typed in a minute count once.
pub(super) fn attempt_counts(case: &Case, channel: ContactChannel, ctx: &Context<'_>) -> bool {
    let gap = SignedDuration::from_hours(i64::from(ctx.config.non_response.min_gap_hours));
    let last = match channel {
        ContactChannel::Email => case.contacts.last_email_at,
        ContactChannel::Phone => case.contacts.last_phone_at,
    };
    last.is_none_or(|last| ctx.now.duration_since(last) >= gap)
}

/// A case whose status the workflow file no longer has cannot move by the workflow's
/// transitions: say so, and how to move it.
pub(super) fn require_known_status(case: &Case, ctx: &Context<'_>) -> Result<(), WorkflowError> {
    if ctx.config.status(case.status.as_str()).is_none() {
        return Err(WorkflowError::StrandedStatus {
            status: case.status.clone(),
        });
    }
    Ok(())
}

pub(super) fn require_open(case: &Case, hint: &str) -> Result<(), WorkflowError> {
    if case.is_closed() {
        return Err(WorkflowError::CaseClosed {
            status: case.status.clone(),
            hint: hint.to_string(),
        });
    }
    Ok(())
}

/// Whether `role` may reopen `case`: with the reopen permission, or with reopen_temporary
/// when the case was closed temporarily. The reopen command decides with it; a front-end
/// asks it to offer the reopen dialog only to those it would not refuse.
pub fn may_reopen(config: &WorkflowConfig, role: Role, case: &Case) -> bool {
    config.permits(role, Permission::Reopen)
        || (case.close_mode == Some(CloseMode::Temporary)
            && config.permits(role, Permission::ReopenTemporary))
}
