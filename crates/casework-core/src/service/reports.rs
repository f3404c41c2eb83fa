//! Reports through the service: the reopen report and its drill-down, for roles with the
//! `reports` permission.

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::limits::MAX_SHORT_TEXT;
use crate::model::Actor;
use crate::ports::{Page, ReportCase, ReportCasesQuery, ReportQuery, ReportRow};
use crate::workflow::required_text;

impl CaseService {
    /// The reopen-pattern report.
    pub async fn reopen_report(
        &self,
        actor: &Actor,
        query: ReportQuery,
    ) -> Result<Vec<ReportRow>, ServiceError> {
        self.require(actor, Permission::Reports, "read reports")?;
        Ok(self.store.reopen_report(query).await?)
    }

    /// The cases behind one row of the reopen report, with their reopen reasons. Reasons are
    /// internal, so this needs the `reports` permission, which no customer holds.
    pub async fn reopen_report_cases(
        &self,
        actor: &Actor,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, ServiceError> {
        self.require(actor, Permission::Reports, "read reports")?;
        let key = required_text("key", &query.key, MAX_SHORT_TEXT)?;
        Ok(self
            .store
            .reopen_report_cases(ReportCasesQuery { key, ..query })
            .await?)
    }
}
