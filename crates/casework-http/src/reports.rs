//! Reports: reopen rates by what a closure had at close, and the cases behind a row.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use casework_core::ports::{CaseOrder, ReportCasesQuery, ReportGroup, ReportQuery};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Auth;
use crate::extract::{Params, given, page_request};
use crate::{ApiError, AppState, openapi};
use casework_core::limits::{MAX_PAGE, MAX_SHORT_TEXT, MAX_TIME_TEXT};
use casework_core::ports::page::CURSOR_PATTERN;

use crate::rules::Accepts::{OptionalText, Pattern, Range, Text};
use crate::rules::Field::Query;
use crate::rules::Rule;

/// What the parameters of these requests accept (applied to the document by
/// [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(
        Query("/api/v1/reports/reopens", "from"),
        OptionalText(MAX_TIME_TEXT),
    ),
    Rule(
        Query("/api/v1/reports/reopens", "to"),
        OptionalText(MAX_TIME_TEXT),
    ),
    Rule(
        Query("/api/v1/reports/reopens/cases", "key"),
        Text(MAX_SHORT_TEXT),
    ),
    Rule(
        Query("/api/v1/reports/reopens/cases", "from"),
        OptionalText(MAX_TIME_TEXT),
    ),
    Rule(
        Query("/api/v1/reports/reopens/cases", "to"),
        OptionalText(MAX_TIME_TEXT),
    ),
    Rule(
        Query("/api/v1/reports/reopens/cases", "limit"),
        Range(1, MAX_PAGE as u64),
    ),
    Rule(
        Query("/api/v1/reports/reopens/cases", "cursor"),
        Pattern(CURSOR_PATTERN),
    ),
];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQ {
    /// What to group the closures by (each closure's value at close).
    group_by: ReportGroup,
    /// Only closures from this time on: a date (`2026-01-01`, midnight UTC) or an RFC 3339
    /// time.
    from: Option<String>,
    /// Only closures before this time: a date (midnight UTC at its start) or an RFC 3339
    /// time.
    to: Option<String>,
}

impl ReportQ {
    fn query(&self) -> Result<ReportQuery, ApiError> {
        let bound = |field: &str, v: &Option<String>| {
            given(v.clone())
                .map(|t| casework_core::report::parse_bound(&t))
                .transpose()
                .map_err(|e| ApiError::invalid(field, format!("{field}: {e}")))
        };
        Ok(ReportQuery {
            group_by: self.group_by,
            from: bound("from", &self.from)?,
            to: bound("to", &self.to)?,
        })
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/reopens",
    tag = "reports",
    summary = "Reopen rates by product area, owner or resolution at close",
    params(ReportQ),
    responses((status = 200, description = "One row per group", body = Vec<casework_core::ports::ReportRow>), openapi::Problems)
)]
pub(crate) async fn reopen_report(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<ReportQ>,
) -> Result<Response, ApiError> {
    let rows = s.service.reopen_report(&a, q.query()?).await?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportCasesQ {
    /// What the report groups by.
    group_by: ReportGroup,
    /// The row's key, as the report gives it (`(none)` for cases without the value).
    key: String,
    /// Only closures from this time on: a date (`2026-01-01`) or an RFC 3339 time.
    from: Option<String>,
    /// Only closures before this time: a date or an RFC 3339 time.
    to: Option<String>,
    /// Page size, 1 to {MAX_PAGE} (default {DEFAULT_PAGE}).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/reopens/cases",
    tag = "reports",
    summary = "The cases behind one row of the reopen report, with their reopen reasons (staff only)",
    params(ReportCasesQ),
    responses((status = 200, description = "A page of cases", body = casework_core::ports::Page<casework_core::ports::ReportCase>), openapi::Problems)
)]
pub(crate) async fn reopen_report_cases(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<ReportCasesQ>,
) -> Result<Response, ApiError> {
    let report = ReportQ {
        group_by: q.group_by,
        from: q.from,
        to: q.to,
    }
    .query()?;
    let page = page_request(CaseOrder::Number, q.limit, q.cursor.as_deref())?;
    let query = ReportCasesQuery {
        report,
        key: q.key,
        page,
    };
    Ok(Json(s.service.reopen_report_cases(&a, query).await?).into_response())
}
