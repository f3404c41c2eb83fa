//! `casework` as a library: the command-line front-end and composition root. It reads files
//! and the environment, picks the store from a URL, wires the core service, and maps every
//! outcome to one line on stderr and a documented exit code. The `casework` binary is
//! `main()` and nothing else, so tests can run the very same program under another name.

mod app;
mod cli;
mod commands;
mod demo;
mod durations;
mod output;

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
    /// The store cannot be reached or used.
    pub const UNAVAILABLE: u8 = 4;
}

/// Runs `casework` with the process's arguments; returns its exit code.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::USAGE_OR_NOT_FOUND,
                _ => exit::USAGE_OR_NOT_FOUND,
            };
            let _ = e.print();
            return ExitCode::from(code);
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
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(exit::UNAVAILABLE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
