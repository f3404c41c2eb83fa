//! `casework store copy --from URL --to URL`: the composition root opens both stores and
//! the service copies (`CaseService::copy_store`, with the workflow file's `store`
//! permission), showing progress as a bar on a terminal and as plain lines otherwise (a log,
//! a pipe), then a summary; records the target refused go to stderr.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use casework_core::transfer::{CopyReport, Stage};

use super::Ctx;
use crate::app::{Copying, Failure};
use crate::cli::Cli;
use crate::output::print_json;

/// How progress is shown.
enum Display {
    Bar(indicatif::ProgressBar),
    Lines { last: Option<Instant> },
}

impl Display {
    fn new() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg:>10} [{bar:40}] {pos}/{len} cases, {elapsed_precise} (eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            Self::Bar(bar)
        } else {
            Self::Lines { last: None }
        }
    }

    fn show(&mut self, stage: Stage) {
        match (self, stage) {
            (Self::Bar(bar), Stage::People) => bar.set_message("people"),
            (Self::Bar(bar), Stage::Articles) => bar.set_message("knowledge"),
            (Self::Bar(bar), Stage::Cases { done, total }) => {
                bar.set_message("cases");
                bar.set_length(total);
                bar.set_position(done);
            }
            (Self::Lines { .. }, Stage::People) => eprintln!("copying people and tokens"),
            (Self::Lines { .. }, Stage::Articles) => eprintln!("copying articles and defects"),
            (Self::Lines { last }, Stage::Cases { done, total }) => {
                // at most one line a second, and the first and the last
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if due || done == total {
                    eprintln!("copied {done}/{total} cases");
                    *last = Some(Instant::now());
                }
            }
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Runs the copy as whoever `--as` names (resolved on the source), else the operator;
/// exit 0 when everything was copied and verified, 3 when some records were refused by the
/// target (each reported).
pub(crate) async fn copy(cli: &Cli, from: &str, to: &str, batch: u32) -> Result<u8, Failure> {
    let copying = Copying::open(from, to, cli.config.as_deref(), cli.templates.as_deref()).await?;
    let cx = Ctx {
        app: &copying.app,
        actor: &cli.actor,
        json: cli.json,
    };
    let actor = cx.who_or_operator().await?;
    let mut display = Display::new();
    let report = copying.run(&actor, batch, &mut |s| display.show(s)).await;
    display.finish();
    let report = report.map_err(Failure::from)?;
    for f in &report.failures {
        eprintln!("not copied: {f}");
    }
    if cx.json {
        print_json(&report)?;
    } else {
        print!("{}", summary(&report));
    }
    if report.failures.is_empty() {
        Ok(0)
    } else {
        Err(Failure {
            code: crate::exit::CONFLICT,
            message: format!(
                "{} record(s) were not copied (listed above); everything else was",
                report.failures.len()
            ),
        })
    }
}

fn summary(r: &CopyReport) -> String {
    let c = |name: &str, n: &casework_core::transfer::Counts| {
        format!(
            "{name:<10} {} written, {} updated, {} unchanged\n",
            n.written, n.updated, n.unchanged
        )
    };
    let mut out = format!("{:<10} {} written\n", "People", r.people);
    out.push_str(&c("Tokens", &r.tokens));
    out.push_str(&c("Articles", &r.articles));
    out.push_str(&c("Defects", &r.defects));
    out.push_str(&c("Cases", &r.cases));
    out.push_str(&format!(
        "{:<10} {} carried with their cases\n{:<10} {} cases replay to their state on the target\n",
        "Emails", r.messages, "Verified", r.verified
    ));
    out
}
