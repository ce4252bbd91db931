//! The `casebook` command: parse the arguments, run, map errors to exit codes.
//!
//! # Layout
//!
//! - `cli`: the subcommands and flags (clap).
//! - `config`: `config/casebook.toml`, environment and flags, validated
//!   into a typed [`config::Config`].
//! - `run`: what each subcommand does.
//! - `audit_cmd`: `export`, `verify` and `import` (the auditor's checks, backup and restore).
//! - `error`: [`error::CliError`] and its exit codes.

mod audit_cmd;
mod cli;
mod config;
mod error;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("casebook: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
