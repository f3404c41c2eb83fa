//! `casework store copy --from URL --to URL`: the composition root opens both stores and
//! the service copies (`CaseService::copy_store`, with the workflow file's `store`
//! permission), showing progress as a bar on a terminal and as plain lines otherwise (a log,
//! a pipe), then a summary; records the target refused go to stderr.

use casework_core::transfer::{CopyReport, Stage};

use super::Ctx;
use crate::app::{Copying, Failure};
use crate::cli::Cli;
use crate::output::print_json;
use crate::progress::Progress;

fn show(p: &mut Progress, stage: Stage) {
    match stage {
        Stage::People => p.stage("people", "copying people and tokens"),
        Stage::Articles => p.stage("knowledge", "copying articles and defects"),
        Stage::Cases { done, total } => {
            p.message("cases".into());
            p.at(done, total, || format!("copied {done}/{total} cases"));
        }
        Stage::WebhookEndpoints => p.stage("webhooks", "copying webhook endpoints"),
        Stage::QuarantinedMail => p.stage("quarantine", "copying the quarantine"),
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
    let mut progress =
        Progress::new("{msg:>10} [{bar:40}] {pos}/{len} cases, {elapsed_precise} (eta {eta})");
    let report = copying
        .run(&actor, batch, &mut |s| show(&mut progress, s))
        .await;
    progress.finish();
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
    let c = super::exchange::counts_line;
    let mut out = format!("{:<10} {} written\n", "People", r.people);
    out.push_str(&c("Tokens", &r.tokens));
    out.push_str(&c("Articles", &r.articles));
    out.push_str(&c("Defects", &r.defects));
    out.push_str(&c("Cases", &r.cases));
    out.push_str(&format!(
        "{:<10} {} carried with their cases\n{:<10} {} carried with their cases\n\
         {:<10} {} cases replay to their state on the target\n",
        "Emails", r.messages, "Files", r.files, "Verified", r.verified
    ));
    out.push_str(&c("Webhooks", &r.webhooks));
    out.push_str(&c("Quarantine", &r.quarantine));
    out
}
