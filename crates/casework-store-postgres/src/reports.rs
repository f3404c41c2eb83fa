//! The reopen report, aggregated in one SQL statement over the closures and reopens copied
//! out of events (see `casework_core::report` for what each figure means), and the counts
//! `casework doctor` shows.

use casework_core::ports::{ReportGroup, ReportQuery, ReportRow, StoreError, StoreStats};
use casework_core::report;
use deadpool_postgres::GenericClient;

use crate::db::{Ts, get, one, rows};

/// The reopen report. The median is PostgreSQL's `percentile_cont(0.5)`: the middle value,
/// or the mean of the middle two, as core's definition says.
pub async fn reopen_report(
    c: &impl GenericClient,
    q: &ReportQuery,
) -> Result<Vec<ReportRow>, StoreError> {
    let col = match q.group_by {
        ReportGroup::ProductArea => "product_area",
        ReportGroup::Owner => "owner",
        ReportGroup::PrimaryResolution => "primary_resolution",
    };
    let sql = format!(
        "WITH closed AS (
             SELECT COALESCE(c.{col}, $3) AS k, count(*) AS n
             FROM (SELECT DISTINCT case_number FROM closures
                   WHERE mode <> 'temporary'
                     AND ($1::timestamptz IS NULL OR at >= $1)
                     AND ($2::timestamptz IS NULL OR at < $2)) cl
             JOIN cases c ON c.number = cl.case_number
             GROUP BY 1),
         reopened AS (
             SELECT COALESCE(c.{col}, $3) AS k, count(DISTINCT r.case_number) AS n,
                    percentile_cont(0.5) WITHIN GROUP (
                        ORDER BY extract(epoch FROM r.at - r.closed_at)::float8 / 86400) AS median
             FROM reopens r JOIN cases c ON c.number = r.case_number
             WHERE r.close_mode <> 'temporary'
               AND ($1::timestamptz IS NULL OR r.closed_at >= $1)
               AND ($2::timestamptz IS NULL OR r.closed_at < $2)
             GROUP BY 1)
         SELECT closed.k, closed.n, COALESCE(reopened.n, 0), reopened.median
         FROM closed LEFT JOIN reopened USING (k)
         ORDER BY closed.k COLLATE \"C\""
    );
    let found = rows(c, &sql, &[&q.from.map(Ts), &q.to.map(Ts), &report::NO_KEY]).await?;
    found
        .iter()
        .map(|r| {
            let closed: i64 = get(r, 1)?;
            let reopened: i64 = get(r, 2)?;
            let median: Option<f64> = get(r, 3)?;
            // core rounds the median: hand it over as the one value whose median it is
            Ok(report::row(
                crate::db::dec(get(r, 0)?),
                closed as u64,
                reopened as u64,
                median.into_iter().collect(),
            ))
        })
        .collect()
}

/// Counts, for diagnostics.
pub async fn stats(c: &impl GenericClient) -> Result<StoreStats, StoreError> {
    let r = one(
        c,
        "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM events),
                (SELECT count(*) FROM outbox WHERE status = 'queued'),
                (SELECT count(*) FROM people), (SELECT version FROM casework_schema)",
        &[],
    )
    .await?;
    let n = |i: usize| get::<i64>(&r, i).map(|v| v as u64);
    Ok(StoreStats {
        cases: n(0)?,
        events: n(1)?,
        queued_messages: n(2)?,
        people: n(3)?,
        schema_version: Some(get::<i32>(&r, 4)? as u32),
    })
}
