//! Setting up and looking around: `init`, `doctor`, `openapi`, `completions`.

use clap::CommandFactory;
use serde_json::json;

use crate::app::{ConfigSource, Failure, default_config_path};
use crate::cli::*;
use crate::output::{self, outln, print_json};

use super::Ctx;

/// `casework openapi`: the HTTP API's document.
pub(crate) fn openapi() -> Result<u8, Failure> {
    output::write_out(&casework_http::openapi::document())?;
    Ok(0)
}

/// `casework completions SHELL`.
pub(crate) fn completions(shell: Shell) -> Result<u8, Failure> {
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "casework", &mut script);
    output::write_out(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// `casework init`: the store made and counted, the workflow file written if absent.
pub(crate) async fn init(cx: &Ctx<'_>, explicit: Option<&std::path::Path>) -> Result<u8, Failure> {
    let (app, json) = (cx.app, cx.json);
    let who = cx.who_or_operator().await?;
    let stats = app.service.diagnose(&who).await?.stats;
    let path = explicit
        .map(std::path::Path::to_path_buf)
        .or_else(default_config_path);
    let mut wrote = None;
    if let Some(p) = &path
        && !p.exists()
    {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(p, casework_core::config::DEFAULT_WORKFLOW)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", p.display())))?;
        wrote = Some(p.clone());
    }
    if json {
        print_json(&json!({
            "store": app.store_url,
            "cases": stats.cases,
            "workflow_file": path.as_ref().map(|p| p.display().to_string()),
            "workflow_file_created": wrote.is_some(),
        }))?;
    } else {
        outln!("Store ready: {} ({} cases)", app.store_url, stats.cases);
        match (&wrote, &path) {
            (Some(p), _) => outln!("Wrote the default workflow file: {}", p.display()),
            (None, Some(p)) => outln!("Workflow file already present: {}", p.display()),
            (None, None) => outln!("Using the built-in workflow (no config folder found)"),
        }
        if stats.people == 0 {
            outln!("Next: casework agent add NAME --role admin --email E");
        }
    }
    Ok(0)
}

/// `casework doctor`: which store and workflow are in use, what the store holds, and the
/// statuses cases are stranded in.
pub(crate) async fn doctor(cx: &Ctx<'_>) -> Result<u8, Failure> {
    let (app, json) = (cx.app, cx.json);
    let who = cx.who_or_operator().await?;
    let diagnosis = app.service.diagnose(&who).await?;
    let (stats, stranded) = (&diagnosis.stats, &diagnosis.stranded);
    let config = match &app.config_source {
        ConfigSource::File(p) => p.display().to_string(),
        ConfigSource::Embedded => "built-in default".to_string(),
    };
    let statuses: Vec<String> = diagnosis.statuses.iter().map(ToString::to_string).collect();
    if json {
        print_json(&json!({
            "store": app.store_url,
            "schema_version": stats.schema_version,
            "cases": stats.cases,
            "events": stats.events,
            "queued_messages": stats.queued_messages,
            "people": stats.people,
            "workflow": config,
            "statuses": statuses,
            "unknown_statuses": stranded,
            "template_overrides": app.template_overrides,
        }))?;
    } else {
        outln!("Store:      {}", app.store_url);
        match stats.schema_version {
            Some(v) => outln!("Schema:     version {v}"),
            None => outln!("Schema:     (in memory)"),
        }
        outln!(
            "Holds:      {} cases, {} events, {} people, {} queued emails",
            stats.cases,
            stats.events,
            stats.people,
            stats.queued_messages
        );
        outln!("Workflow:   {config}");
        outln!("Statuses:   {}", statuses.join(", "));
        for s in stranded {
            outln!(
                "Stranded:   {} case{} in {:?}, which the workflow file does not have: \
                 move them with casework --as ADMIN status map {}=NEW",
                s.cases,
                if s.cases == 1 { "" } else { "s" },
                s.status.as_str(),
                s.status
            );
        }
        if app.template_overrides.is_empty() {
            outln!("Templates:  built-in");
        } else {
            outln!(
                "Templates:  overrides {}",
                app.template_overrides.join(", ")
            );
        }
    }
    Ok(0)
}
