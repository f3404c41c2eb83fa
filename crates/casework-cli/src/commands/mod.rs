//! Each command: turn arguments into a core request, run it through the service, print the
//! outcome. No workflow rule lives here; refusals come from core. [`run`] only dispatches;
//! the commands are grouped as the CLI is: `cases.rs` (with `files.rs`, a case's files), `work.rs` (calls, posts, contacts,
//! emails, swarms), `people.rs` (agents and tokens), `knowledge.rs` (articles, defects,
//! search), `reports.rs`, `statuses.rs`, `outbox.rs`, `mail.rs`, `setup.rs` (init,
//! doctor, openapi, completions), `serve.rs`, `store.rs` (`store copy`) and `exchange.rs`
//! (`import`, `export`).

mod cases;
mod events;
mod exchange;
mod files;
mod knowledge;
mod mail;
mod outbox;
mod people;
mod reports;
mod serve;
mod setup;
mod statuses;
mod store;
mod webhook;
mod work;

use std::io::Read;

use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::Actor;
use casework_core::service::Outcome;
use serde_json::json;

use crate::app::{App, Failure};
use crate::cli::*;
use crate::output::{self, outln, print_json};

/// What every command gets: the wired app, who `--as` names, and whether to print JSON.
pub(crate) struct Ctx<'a> {
    pub(crate) app: &'a App,
    pub(crate) actor: &'a Option<String>,
    pub(crate) json: bool,
}

impl Ctx<'_> {
    /// The person `--as` names (required).
    pub(crate) async fn who(&self) -> Result<Actor, Failure> {
        actor(self.app, self.actor).await
    }

    /// The person `--as` names, or else whoever holds the store's credentials
    /// ([`Actor::operator`]): what `agent list`, `doctor` and `init` act as before anyone
    /// is named.
    pub(crate) async fn who_or_operator(&self) -> Result<Actor, Failure> {
        match self.actor {
            Some(_) => self.who().await,
            None => Ok(Actor::operator("cli")),
        }
    }
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> Result<u8, Failure> {
    // commands that need no store
    match &cli.command {
        Top::Demo => return crate::demo::run(cli.json).await,
        Top::Openapi => return setup::openapi(),
        Top::Completions { shell } => return setup::completions(*shell),
        // two stores, opened by the composition root
        Top::Store(StoreCmd::Copy { from, to, batch }) => {
            return store::copy(&cli, from, to, *batch).await;
        }
        // the store as a database of its own (bulk load)
        Top::Import(args) => return exchange::import(&cli, args).await,
        Top::Export(args) => return exchange::export(&cli, args).await,
        _ => {}
    }
    let one_shot = !matches!(cli.command, Top::Serve { .. });
    // an MTA keeps a message it cannot hand over now (75) instead of bouncing it
    let mail = matches!(cli.command, Top::Mail(_));
    let app = App::build(
        cli.store.as_deref(),
        cli.config.as_deref(),
        cli.templates.as_deref(),
        one_shot,
    )
    .await
    .map_err(|f| match mail {
        true => Failure {
            code: crate::exit::MAIL_TRY_LATER,
            ..f
        },
        false => f,
    })?;
    let cx = Ctx {
        app: &app,
        actor: &cli.actor,
        json: cli.json,
    };
    match cli.command {
        Top::Demo
        | Top::Openapi
        | Top::Completions { .. }
        | Top::Store(_)
        | Top::Import(_)
        | Top::Export(_) => Ok(0),
        Top::Init => setup::init(&cx, cli.config.as_deref()).await,
        Top::Doctor => setup::doctor(&cx).await,
        Top::Serve {
            bind,
            mailer,
            deliver_every,
            header_timeout,
            max_connections,
            no_web,
            imap,
            imap_every,
            secure_cookies,
            public_url,
        } => {
            let workers = serve::Workers {
                deliver_every,
                imap,
                imap_every,
            };
            let (timeout, max) = (header_timeout, max_connections);
            let web = (!no_web).then_some(serve::Pages {
                secure_cookies,
                public_url,
            });
            serve::serve(&app, &bind, &mailer, workers, timeout, max, web).await
        }
        Top::Agent(cmd) => people::agent(&cx, cmd).await,
        Top::Token(cmd) => people::token(&cx, cmd).await,
        Top::Case(cmd) => cases::case(&cx, cmd).await,
        Top::Call(cmd) => work::call(&cx, cmd).await,
        Top::Post(cmd) => work::post(&cx, cmd).await,
        Top::Contact(cmd) => work::contact(&cx, cmd).await,
        Top::Email(cmd) => work::email(&cx, cmd).await,
        Top::Swarm(args) => work::swarm(&cx, args).await,
        Top::Article(cmd) => knowledge::article(&cx, cmd).await,
        Top::Defect(cmd) => knowledge::defect(&cx, cmd).await,
        Top::Search(args) => knowledge::search(&cx, args).await,
        Top::Report(cmd) => reports::reopens(&cx, cmd).await,
        Top::Status(cmd) => statuses::map(&cx, cmd).await,
        Top::Outbox(cmd) => outbox::outbox(&cx, cmd).await,
        Top::Mail(cmd) => mail::mail(&cx, cmd).await,
        Top::Events(cmd) => events::events(&cx, cmd).await,
        Top::Webhook(cmd) => webhook::webhook(&cx, cmd).await,
    }
}

/// A case number as typed (`1027` or `00001027`).
pub(crate) fn number(s: &str) -> Result<CaseNumber, Failure> {
    s.parse()
        .map_err(|e: casework_core::ids::ParseError| Failure::usage(e.to_string()))
}

/// An email address as typed, by core's rules.
pub(crate) fn address(s: &str) -> Result<EmailAddress, Failure> {
    s.parse()
        .map_err(|e: casework_core::ids::ParseError| Failure::usage(e.to_string()))
}

/// The person `--as` names, resolved by the service; a usage error when nobody is named.
pub(crate) async fn actor(app: &App, cli_actor: &Option<String>) -> Result<Actor, Failure> {
    let Some(name) = cli_actor else {
        return Err(Failure::usage(
            "who is acting? pass --as NAME or set CASEWORK_USER (see `casework agent list`)",
        ));
    };
    Ok(app.service.resolve_actor(name).await?)
}

/// A body from `--body TEXT`, `--body -` (standard input) or `--body-file FILE`.
pub(crate) fn read_body(
    body: Option<String>,
    file: Option<std::path::PathBuf>,
) -> Result<String, Failure> {
    match (body, file) {
        (Some(b), _) if b == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
            Ok(s)
        }
        (Some(b), _) => Ok(b),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display()))),
        (None, None) => Err(Failure::usage(
            "give --body TEXT, --body -, or --body-file FILE",
        )),
    }
}

/// Prints what a command changed: the case and its new events as JSON, or one line per
/// event.
pub(crate) fn changed(json: bool, outcome: &Outcome) -> Result<u8, Failure> {
    if json {
        print_json(&json!({ "case": outcome.case.view(), "events": outcome.events }))?;
    } else if outcome.events.is_empty() {
        outln!("Case {}: nothing changed", outcome.case.number.display());
    } else {
        for e in &outcome.events {
            outln!(
                "Case {}: {}",
                outcome.case.number.display(),
                output::describe(e)
            );
        }
    }
    Ok(0)
}

/// A report's `--from`/`--to`, read as core reads a period's bound.
pub(crate) fn parse_time(s: &str, what: &str) -> Result<jiff::Timestamp, Failure> {
    casework_core::report::parse_bound(s).map_err(|e| Failure::usage(format!("--{what}: {e}")))
}
