//! The reopen report: closures and reopens grouped by product area, owner or primary
//! resolution, as a table and as a bar chart drawn on the server (SVG, no script), each
//! row leading to the cases behind it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use casework_core::ports::{PageRequest, ReportCasesQuery, ReportGroup, ReportQuery, ReportRow};
use casework_core::report::parse_bound;

use crate::page::{Chrome, Forms, Params, Posted, Staff, render};
use crate::timeline;
use crate::{Visitor, WebState};

const GROUPS: &[(&str, &str)] = &[
    ("product_area", "Product area"),
    ("owner", "Owner"),
    ("primary_resolution", "Primary resolution"),
];

fn group(key: &str) -> ReportGroup {
    match key {
        "owner" => ReportGroup::Owner,
        "primary_resolution" => ReportGroup::PrimaryResolution,
        _ => ReportGroup::ProductArea,
    }
}

/// The report's query from the page's parameters; a bad date is a field error.
fn report_query(p: &Posted, forms: &mut Forms) -> (String, Option<ReportQuery>) {
    let key = match p.get("group_by") {
        k if GROUPS.iter().any(|(g, _)| *g == k) => k.to_string(),
        _ => "product_area".to_string(),
    };
    let mut bound = |field: &str| match p.opt(field) {
        None => None,
        Some(text) => match parse_bound(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                forms.field(field, e);
                None
            }
        },
    };
    let from = bound("from");
    let to = bound("to");
    let query = forms.errors.is_empty().then_some(ReportQuery {
        group_by: group(&key),
        from,
        to,
    });
    (key, query)
}

/// A bar of the chart.
struct Bar {
    label: String,
    y: u32,
    closed_width: u32,
    reopened_width: u32,
    text_y: u32,
    value: String,
}

/// The chart's geometry.
const LABEL_WIDTH: u32 = 180;
const PLOT_WIDTH: u32 = 360;
const ROW_HEIGHT: u32 = 28;

fn bars(rows: &[ReportRow]) -> Vec<Bar> {
    // every closure counts in the bar, temporary ones too; the table tells them apart
    let closures = |r: &ReportRow| r.closed + r.temporarily_closed;
    let reopens = |r: &ReportRow| r.reopened + r.reopened_from_temporary;
    let max = rows.iter().map(closures).max().unwrap_or(0).max(1);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let scale = |v: u64| ((v.min(max) * u64::from(PLOT_WIDTH)) / max) as u32;
            let y = i as u32 * ROW_HEIGHT;
            Bar {
                label: shorten(&r.key, 24),
                y: y + 4,
                closed_width: scale(closures(r)),
                reopened_width: scale(reopens(r)),
                text_y: y + 19,
                value: format!("{} of {} closures reopened", reopens(r), closures(r)),
            }
        })
        .collect()
}

/// The widest a character of the chart's 12px text draws, in user units, rounded up (a
/// sans-serif digit or letter is about 7 px at 12 px; 8 leaves room for wider fonts).
const CHAR_WIDTH: u32 = 8;

/// The chart's whole width: the labels, the plot, and room for the longest value drawn
/// after its bar, so no value is cut off at the edge (a fixed margin cut "reopened").
fn chart_width(bars: &[Bar]) -> u32 {
    let ends = bars
        .iter()
        .map(|b| b.closed_width + 6 + CHAR_WIDTH * b.value.chars().count() as u32);
    LABEL_WIDTH + ends.max().unwrap_or(0).max(PLOT_WIDTH) + 8
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// A row of the table, with its drill-down link.
struct Line {
    key: String,
    closed: u64,
    reopened: u64,
    rate: String,
    median: String,
    temporarily_closed: u64,
    reopened_from_temporary: u64,
    href: String,
}

/// The report page.
#[derive(Template)]
#[template(path = "reports.html")]
struct ReportPage {
    chrome: Chrome,
    groups: Vec<(&'static str, &'static str, bool)>,
    group_label: &'static str,
    lines: Vec<Line>,
    bars: Vec<Bar>,
    chart_height: u32,
    chart_width: u32,
    label_width: u32,
    forms: Forms,
}

fn drill_href(key: &str, group_by: &str, p: &Posted, cursor: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("group_by", group_by);
    s.append_pair("key", key);
    for f in ["from", "to"] {
        if let Some(v) = p.opt(f) {
            s.append_pair(f, &v);
        }
    }
    if let Some(c) = cursor {
        s.append_pair("cursor", c);
    }
    format!("/reports/reopens/cases?{}", s.finish())
}

/// `GET /reports/reopens?group_by=&from=&to=`.
pub async fn reopens(
    State(state): State<WebState>,
    Staff(v): Staff,
    Params(p): Params,
) -> Response {
    let mut forms = Forms::sent("report", &p);
    let (key, query) = report_query(&p, &mut forms);
    let mut status = if forms.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut rows = Vec::new();
    if let Some(q) = query {
        match state.service.reopen_report(&v.actor, q).await {
            Ok(r) => rows = r,
            Err(e) => status = forms.refuse(&e, &["group_by", "from", "to"]),
        }
    }
    let lines = rows
        .iter()
        .map(|r| Line {
            key: r.key.clone(),
            closed: r.closed,
            reopened: r.reopened,
            rate: format!("{:.0}%", r.reopen_rate * 100.0),
            median: r
                .median_days_to_reopen
                .map_or_else(|| "—".into(), |d| format!("{d:.1}")),
            temporarily_closed: r.temporarily_closed,
            reopened_from_temporary: r.reopened_from_temporary,
            href: drill_href(&r.key, &key, &p, None),
        })
        .collect();
    let group_label = GROUPS
        .iter()
        .find(|(g, _)| *g == key)
        .map_or("Product area", |(_, l)| l);
    let chart = bars(&rows);
    let page = ReportPage {
        chrome: Chrome::new(&state, Some(&v), "Reopened cases").at("reports"),
        groups: GROUPS.iter().map(|(g, l)| (*g, *l, *g == key)).collect(),
        group_label,
        chart_width: chart_width(&chart),
        bars: chart,
        chart_height: (rows.len() as u32).max(1) * ROW_HEIGHT + 8,
        label_width: LABEL_WIDTH,
        lines,
        forms,
    };
    render(status, &page)
}

/// A case behind a row.
struct DrillCase {
    number: String,
    href: String,
    title: String,
    closures: Vec<String>,
    reopens: Vec<(String, String, String)>,
}

/// The cases behind a row.
#[derive(Template)]
#[template(path = "report_cases.html")]
struct DrillPage {
    chrome: Chrome,
    back: String,
    cases: Vec<DrillCase>,
    next: Option<String>,
    error: Option<String>,
}

/// `GET /reports/reopens/cases?group_by=&key=&from=&to=&cursor=`: the cases behind one
/// row, with each reopen's reason (staff only: reasons are internal).
pub async fn reopen_cases(
    State(state): State<WebState>,
    Staff(v): Staff,
    Params(p): Params,
) -> Response {
    drill(&state, &v, &p).await
}

async fn drill(state: &WebState, v: &Visitor, p: &Posted) -> Response {
    let mut forms = Forms::sent("report", p);
    let (group_by, query) = report_query(p, &mut forms);
    let key = p.get("key").to_string();
    let back = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("group_by", &group_by);
        for f in ["from", "to"] {
            if let Some(val) = p.opt(f) {
                q.append_pair(f, &val);
            }
        }
        format!("/reports/reopens?{}", q.finish())
    };
    let mut cases = Vec::new();
    let mut next = None;
    let mut error = forms.errors.values().next().cloned();
    let mut status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    if let Some(report) = query {
        let page = PageRequest::from_params(None, p.opt("cursor").as_deref());
        let result = match page {
            Ok(page) => {
                state
                    .service
                    .reopen_report_cases(
                        &v.actor,
                        ReportCasesQuery {
                            report,
                            key: key.clone(),
                            page,
                        },
                    )
                    .await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(page) => {
                cases = page
                    .items
                    .iter()
                    .map(|c| DrillCase {
                        number: c.number.display(),
                        href: format!("/cases/{}", c.number.get()),
                        title: c.title.clone(),
                        closures: c
                            .closures
                            .iter()
                            .map(|cl| {
                                format!(
                                    "Closed {} on {}",
                                    timeline::close_mode(cl.mode),
                                    timeline::when(cl.at)
                                )
                            })
                            .collect(),
                        reopens: c
                            .reopens
                            .iter()
                            .map(|r| {
                                (
                                    format!(
                                        "Reopened by {} on {}, {:.1} days after closing",
                                        r.by,
                                        timeline::when(r.at),
                                        r.days_to_reopen
                                    ),
                                    r.reason.clone(),
                                    timeline::iso(r.at),
                                )
                            })
                            .collect(),
                    })
                    .collect();
                next = page
                    .next_cursor
                    .map(|c| drill_href(&key, &group_by, p, Some(&c)));
            }
            Err(e) => {
                let (s, _, text) = crate::page::refusal(&e);
                status = s;
                error = Some(text);
            }
        }
    }
    let page = DrillPage {
        chrome: Chrome::new(state, Some(v), format!("Reopened cases: {key}")).at("reports"),
        back,
        cases,
        next,
        error,
    };
    render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_wide_enough_for_every_value_after_its_bar() {
        let row = |key: &str, closed: u64, reopened: u64| ReportRow {
            key: key.into(),
            closed,
            reopened,
            reopen_rate: 1.0,
            median_days_to_reopen: None,
            temporarily_closed: 0,
            reopened_from_temporary: 0,
        };
        let rows = [row("Printing", 12345, 12345), row("Publishing", 3, 1)];
        let drawn = bars(&rows);
        let width = chart_width(&drawn);
        for b in &drawn {
            // the value starts 6 after its bar and needs its characters' room
            let end = LABEL_WIDTH + b.closed_width + 6 + 7 * b.value.chars().count() as u32;
            assert!(
                end <= width,
                "{} ends at {end}, the chart is {width} wide",
                b.value
            );
        }
        assert!(
            drawn[0].closed_width == PLOT_WIDTH,
            "the largest row fills the plot"
        );
        assert!(chart_width(&[]) >= LABEL_WIDTH + PLOT_WIDTH);
    }
}
