//! `casework` as a library: the command-line front-end and composition root. It reads files
//! and the environment, picks the store from a URL, wires the core service, and maps every
//! outcome to one line on stderr and a documented exit code. The `casework` binary is
//! `main()` and nothing else, so tests can run the very same program under another name.

mod app;
mod cli;
mod commands;
mod demo;
mod durations;
mod log;
mod mailbox;
mod output;
mod progress;
mod worker;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes, as documented in `casework --help`.
pub mod exit {
    /// Bad usage, or something named does not exist.
    pub const USAGE_OR_NOT_FOUND: u8 = 1;
    /// The workflow refused (closing checklist, permissions, transitions…).
    pub const REFUSED: u8 = 2;
    /// Someone else changed the case first.
    pub const CONFLICT: u8 = 3;
    /// The store cannot be reached or used, or the case stayed busy.
    pub const UNAVAILABLE: u8 = 4;
    /// Casework failed inside: a bug, or stored data that does not read back (the message
    /// says what; retrying will not help).
    pub const INTERNAL: u8 = 5;
    /// `mail ingest`: try again later (sysexits' `EX_TEMPFAIL`); the MTA keeps the message
    /// queued.
    pub const MAIL_TRY_LATER: u8 = 75;
}

/// `error: invalid value "Alice\nSmith" for --customer-name <NAME>: contains a line
/// break …`: a value a parser refused, in one line, whatever the value holds.
fn invalid_value(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let why = std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_else(|| "not accepted".into());
    match (
        text(ContextKind::InvalidArg),
        text(ContextKind::InvalidValue),
    ) {
        (Some(arg), Some(value)) => format!("error: invalid value {value:?} for {arg}: {why}"),
        _ => e.to_string().trim_end().to_string(),
    }
}

/// Runs `casework` with the process's arguments; returns its exit code.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    // a closed pipe (`casework --help | head`) is fine: nothing to report
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::ValueValidation => {
                    // one line naming the option, the value shown with its escapes
                    output::err_line(&invalid_value(&e));
                    ExitCode::from(exit::USAGE_OR_NOT_FOUND)
                }
                _ => {
                    output::err_line(e.to_string().trim_end());
                    ExitCode::from(exit::USAGE_OR_NOT_FOUND)
                }
            };
        }
    };
    // One command, one short process: a single-threaded runtime starts fastest. The server
    // gets every core.
    let mut builder = if matches!(cli.command, cli::Top::Serve { .. }) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            output::err_line(&format!("error: cannot start: {e}"));
            return ExitCode::from(exit::UNAVAILABLE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if !failure.message.is_empty() {
                output::err_line(&format!("error: {}", failure.message));
            }
            ExitCode::from(failure.code)
        }
    }
}
