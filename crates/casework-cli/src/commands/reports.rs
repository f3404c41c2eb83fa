//! `casework report reopens`, and with `--key` the cases behind a row.

use casework_core::ports::{PageRequest, ReportCasesQuery, ReportGroup, ReportQuery};

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::{Ctx, parse_time};

/// `casework report reopens`.
pub(crate) async fn reopens(cx: &Ctx<'_>, cmd: ReportCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let ReportCmd::Reopens {
        by,
        from,
        to,
        key,
        limit,
        cursor,
    } = cmd;
    let who = cx.who().await?;
    let (group_by, label) = match by {
        ReportBy::ProductArea => (ReportGroup::ProductArea, "product area"),
        ReportBy::Owner => (ReportGroup::Owner, "owner"),
        ReportBy::Resolution => (ReportGroup::PrimaryResolution, "resolution"),
    };
    let query = ReportQuery {
        group_by,
        from: from.as_deref().map(|s| parse_time(s, "from")).transpose()?,
        to: to.as_deref().map(|s| parse_time(s, "to")).transpose()?,
    };
    if let Some(key) = key {
        let page = PageRequest::from_params(Some(limit), cursor.as_deref())
            .map_err(|e| Failure::usage(e.to_string()))?;
        let query = ReportCasesQuery {
            report: query,
            key,
            page,
        };
        let page = svc.reopen_report_cases(&who, query).await?;
        if json {
            print_json(&page)?;
        } else {
            out!("{}", output::report_cases(&page.items));
            if let Some(c) = page.next_cursor {
                outln!("More: add --cursor {c}");
            }
        }
        return Ok(0);
    }
    let rows = svc.reopen_report(&who, query).await?;
    if json {
        print_json(&rows)?;
    } else {
        out!("{}", output::report(&rows, label));
    }
    Ok(0)
}
