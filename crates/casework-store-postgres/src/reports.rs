//! The reopen report and its drill-down, in SQL over the closures and reopens copied out of
//! events with their group keys at close (see `casework_core::report` for what each figure
//! means), and the counts `casework doctor` shows.

use std::collections::BTreeMap;

use casework_core::model::CloseMode;
use casework_core::ports::{
    Page, ReportCase, ReportCasesQuery, ReportClosure, ReportGroup, ReportQuery, ReportReopen,
    ReportRow, StatusCount, StoreError, StoreStats,
};
use casework_core::report;
use deadpool_postgres::GenericClient;

use crate::db::{Ts, dec, enc, get, num, number_of, one, rows};

fn key_column(group: ReportGroup) -> &'static str {
    match group {
        ReportGroup::ProductArea => "product_area",
        ReportGroup::Owner => "owner",
        ReportGroup::PrimaryResolution => "primary_resolution",
    }
}

fn mode_of(text: &str) -> Result<CloseMode, StoreError> {
    text.parse()
        .map_err(|e: casework_core::ids::ParseError| StoreError::Internal(e.to_string()))
}

/// The reopen report: closures and reopens counted per key at close, temporary ones apart.
/// The median is PostgreSQL's `percentile_cont(0.5)`: the middle value, or the mean of the
/// middle two, as core's definition says.
pub async fn reopen_report(
    c: &impl GenericClient,
    q: &ReportQuery,
) -> Result<Vec<ReportRow>, StoreError> {
    let col = key_column(q.group_by);
    let closed = rows(
        c,
        &format!(
            "SELECT COALESCE({col}, $3), mode = 'temporary', count(DISTINCT case_number)
             FROM closures
             WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
             GROUP BY 1, 2"
        ),
        &[&q.from.map(Ts), &q.to.map(Ts), &report::NO_KEY],
    )
    .await?;
    let reopened = rows(
        c,
        &format!(
            "SELECT COALESCE({col}, $3), close_mode = 'temporary', count(DISTINCT case_number),
                    percentile_cont(0.5) WITHIN GROUP (
                        ORDER BY extract(epoch FROM at - closed_at)::float8 / 86400)
             FROM reopens
             WHERE ($1::timestamptz IS NULL OR closed_at >= $1)
               AND ($2::timestamptz IS NULL OR closed_at < $2)
             GROUP BY 1, 2"
        ),
        &[&q.from.map(Ts), &q.to.map(Ts), &report::NO_KEY],
    )
    .await?;
    #[derive(Default)]
    struct Acc {
        closed: u64,
        temporary: u64,
        reopened: u64,
        temporary_reopened: u64,
        median: Option<f64>,
    }
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for r in &closed {
        let acc = groups.entry(dec(get(r, 0)?)).or_default();
        let n = get::<i64>(r, 2)? as u64;
        if get::<bool>(r, 1)? {
            acc.temporary = n;
        } else {
            acc.closed = n;
        }
    }
    for r in &reopened {
        let acc = groups.entry(dec(get(r, 0)?)).or_default();
        let n = get::<i64>(r, 2)? as u64;
        if get::<bool>(r, 1)? {
            acc.temporary_reopened = n;
        } else {
            acc.reopened = n;
            acc.median = get(r, 3)?;
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, acc)| ReportRow {
            temporarily_closed: acc.temporary,
            reopened_from_temporary: acc.temporary_reopened,
            // core rounds the median: hand it over as the one value whose median it is
            ..report::row(
                key,
                acc.closed,
                acc.reopened,
                acc.median.into_iter().collect(),
            )
        })
        .collect())
}

/// The cases behind one row of the report, by ascending number, one page: each with its
/// closures in the period and the group, and the reopen that left each of them.
pub async fn reopen_report_cases(
    c: &impl GenericClient,
    q: &ReportCasesQuery,
) -> Result<Page<ReportCase>, StoreError> {
    let col = key_column(q.report.group_by);
    let (from, to) = (q.report.from.map(Ts), q.report.to.map(Ts));
    // `(none)` is the row of closures without the value
    let key = (q.key != report::NO_KEY).then(|| enc(&q.key).into_owned());
    let after = q.page.after.map_or(0, num);
    let period =
        "($3::timestamptz IS NULL OR cl.at >= $3) AND ($4::timestamptz IS NULL OR cl.at < $4)";
    let found = rows(
        c,
        &format!(
            "SELECT cl.case_number, max(c.state->>'title')
             FROM closures cl JOIN cases c ON c.number = cl.case_number
             WHERE cl.{col} IS NOT DISTINCT FROM $1 AND {period} AND cl.case_number > $2
             GROUP BY cl.case_number ORDER BY cl.case_number LIMIT $5"
        ),
        &[&key, &after, &from, &to, &(i64::from(q.page.limit) + 1)],
    )
    .await?;
    let mut items = Vec::with_capacity(found.len());
    for r in &found {
        let n: i64 = get(r, 0)?;
        let closures = rows(
            c,
            &format!(
                "SELECT cl.at, cl.mode, re.at, re.actor, re.closed_at, re.close_mode, re.reason
                 FROM closures cl
                 LEFT JOIN LATERAL (
                     SELECT at, actor, closed_at, close_mode, reason FROM reopens
                     WHERE case_number = cl.case_number AND closed_at = cl.at AND seq > cl.seq
                     ORDER BY seq LIMIT 1) re ON true
                 WHERE cl.case_number = $2 AND cl.{col} IS NOT DISTINCT FROM $1 AND {period}
                 ORDER BY cl.seq"
            ),
            &[&key, &n, &from, &to],
        )
        .await?;
        let mut case = ReportCase {
            number: number_of(n)?,
            title: dec(get::<Option<String>>(r, 1)?.unwrap_or_default()),
            closures: Vec::new(),
            reopens: Vec::new(),
        };
        for cl in &closures {
            case.closures.push(ReportClosure {
                at: get::<Ts>(cl, 0)?.0,
                mode: mode_of(&get::<String>(cl, 1)?)?,
            });
            if let Some(at) = get::<Option<Ts>>(cl, 2)? {
                let closed_at = get::<Ts>(cl, 4)?.0;
                case.reopens.push(ReportReopen {
                    at: at.0,
                    by: dec(get(cl, 3)?),
                    closed_at,
                    close_mode: mode_of(&get::<String>(cl, 5)?)?,
                    days_to_reopen: report::round2(report::days_between(closed_at, at.0)),
                    reason: dec(get(cl, 6)?),
                });
            }
        }
        items.push(case);
    }
    Ok(Page::overfetched(items, q.page.limit, |c: &ReportCase| {
        c.number
    }))
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
    // statuses compare without case, as the case list's status filter does
    let statuses = rows(
        c,
        "SELECT min(status), count(*) FROM cases GROUP BY lower(status) ORDER BY lower(status)",
        &[],
    )
    .await?
    .iter()
    .map(|s| {
        let status = dec(get(s, 0)?);
        Ok(StatusCount {
            status: status
                .parse()
                .map_err(|e: casework_core::ids::ParseError| StoreError::Internal(e.to_string()))?,
            cases: get::<i64>(s, 1)? as u64,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(StoreStats {
        cases: n(0)?,
        events: n(1)?,
        queued_messages: n(2)?,
        people: n(3)?,
        schema_version: Some(get::<i32>(&r, 4)? as u32),
        statuses,
    })
}
