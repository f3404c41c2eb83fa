//! Reports: the reopen report and its drill-down, computed from the closures and reopens
//! in case histories ([`crate::report`] is the definition and the reference).

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, StoreError};
use crate::ids::CaseNumber;

/// What a reopen report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReportGroup {
    /// Product area.
    ProductArea,
    /// Owner.
    Owner,
    /// Primary resolution.
    PrimaryResolution,
}

/// A reopen-pattern report request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportQuery {
    /// Grouping.
    pub group_by: ReportGroup,
    /// Closures at or after this time.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub from: Option<Timestamp>,
    /// Closures before this time.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub to: Option<Timestamp>,
}

/// One row of the reopen report. See [`crate::report`] for the exact definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRow {
    /// The group's value at close, or `(none)`.
    pub key: String,
    /// Cases closed (resolved or non-response) in the period.
    pub closed: u64,
    /// Of those, cases reopened after such a closure.
    pub reopened: u64,
    /// `reopened / closed`.
    pub reopen_rate: f64,
    /// Median days from close to reopen, two decimals; `None` with no reopen.
    pub median_days_to_reopen: Option<f64>,
    /// Cases closed temporarily in the period (not in the rate or the median).
    #[serde(default)]
    pub temporarily_closed: u64,
    /// Of those, cases reopened after such a temporary closure.
    #[serde(default)]
    pub reopened_from_temporary: u64,
}

/// The cases behind one row of the reopen report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportCasesQuery {
    /// The report: grouping and period.
    pub report: ReportQuery,
    /// The row's key, as the report gives it (`(none)` for cases without the value).
    pub key: String,
    /// Which page (cases by ascending number).
    pub page: PageRequest,
}

/// A case behind a row of the reopen report: its closures in the period and the group,
/// and the reopens that left them, with their reasons. Staff only: reasons are internal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportCase {
    /// The case.
    pub number: CaseNumber,
    /// Its title now.
    pub title: String,
    /// Its closures in the period and the group, oldest first.
    pub closures: Vec<ReportClosure>,
    /// The reopens that left those closures, oldest first.
    pub reopens: Vec<ReportReopen>,
}

/// A closure in a drill-down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportClosure {
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// How.
    pub mode: crate::model::CloseMode,
}

/// A reopen in a drill-down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportReopen {
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Who reopened.
    pub by: String,
    /// When the closure it left was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub closed_at: Timestamp,
    /// How that closure was made.
    pub close_mode: crate::model::CloseMode,
    /// Days from that closure to the reopen, two decimals.
    pub days_to_reopen: f64,
    /// Why (internal).
    pub reason: String,
}

/// The reopen report. A store records what it needs from events ([`crate::report::facts`])
/// in the same write as the commit that adds them.
#[async_trait]
pub trait Reports: Send + Sync {
    /// The reopen-pattern report; see [`crate::report`] for what each figure means.
    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError>;

    /// The cases behind one row of the reopen report ([`crate::report::cases`] is the
    /// reference), by ascending number.
    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError>;
}
