//! Reports in memory: core's reference computation over every history.

use async_trait::async_trait;
use casework_core::ports::{
    Page, ReportCase, ReportCasesQuery, ReportQuery, ReportRow, Reports, StoreError,
};
use casework_core::report;

use crate::MemoryStore;

#[async_trait]
impl Reports for MemoryStore {
    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        let inner = self.lock();
        Ok(report::compute(
            inner.cases.values().map(|r| r.events.as_slice()),
            &query,
        ))
    }

    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError> {
        let inner = self.lock();
        Ok(report::cases(
            inner.cases.values().map(|r| r.events.as_slice()),
            &query,
        ))
    }
}
