//! The `casebook` command: parse the arguments, run, map errors to exit codes.
//!
//! # Layout
//!
//! - `cli`: the subcommands and flags (clap).
//! - `config`: `config/casebook.toml`, environment and flags, validated
//!   into a typed [`config::Config`].
//! - `run`: what each subcommand does.
//! - `audit_cmd`: `export`, `verify` and `import` (the auditor's checks, backup and restore),
//!   and `audit key|head|inclusion|consistency` (the tree-head key, heads and proofs).
//! - `replay_cmd`: `replay`, the views as of a past position or time.
//! - `projections_cmd`: `projections status|rebuild`.
//! - `user_cmd`: `user set-password`, and the demo people's web accounts.
//! - `admin_cmd`: `unit`, `person` and `household` (units, people, roles and
//!   assignments), and the one runner of every command on a stopped
//!   server's log (`forget` too).
//! - `forget_cmd`: `forget`, erasing a household's personal data.
//! - `case_cmd`: `case`, one case now or as of a moment on either clock.
//! - `stream`: reading one stream whole from a stopped server's log.
//! - `error`: [`error::CliError`] and its exit codes.

mod admin_cmd;
mod audit_cmd;
mod case_cmd;
mod cli;
mod config;
mod error;
mod forget_cmd;
mod projections_cmd;
mod replay_cmd;
mod run;
mod stream;
mod user_cmd;

/// jemalloc instead of glibc's malloc: the views, the log and HTTP make
/// many small, short-lived allocations across threads; with jemalloc the
/// server takes about a fifth more commands a second (measured in
/// `docs/PERFORMANCE.md`, "The allocator"). Its default configuration
/// (huge pages for its memory) is set where it is built, in
/// `.cargo/config.toml`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    match run::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("casebook: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Prints help and version as clap does; any other argument error on one
/// line (`casebook: …`), exit 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = error.print();
        return ExitCode::from(2);
    }
    let text = error.render().to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    eprintln!("casebook: {}", line.join(" "));
    ExitCode::from(2)
}
