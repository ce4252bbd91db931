//! `casebook user set-password`: gives a person a username and password
//! for the web pages (server stopped: the token database, which holds the
//! argon2 hashes, is opened by one process at a time). The password is
//! read from the `CASEBOOK_PASSWORD` environment variable, or else from
//! the first line of standard input, never from the arguments (which the
//! shell's history and `ps` would show).
//!
//! The demo's people get usernames named after their role and random
//! passwords, printed once beside their tokens.

use std::io::BufRead;

use casebook_api::web::accounts::random_password;
use casebook_api::web::Accounts;
use casebook_api::TokenStore;
use casebook_domain::PersonId;
use casebook_log::{Direction, EventStore, SledLog};
use chrono::Utc;

use crate::cli::UserCommand;
use crate::error::CliError;
use crate::run::{load, print_lines};

/// The environment variable a password may be given in.
pub const PASSWORD_ENV: &str = "CASEBOOK_PASSWORD";

/// Runs a `user` subcommand.
pub async fn run(command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::SetPassword {
            common,
            username,
            person,
        } => {
            let config = load(common, None)?;
            let dir = &config.data_dir;
            let data_error = |message: String| CliError::Data {
                path: dir.clone(),
                message,
            };
            let log = SledLog::open(dir.join("log")).map_err(|e| {
                data_error(format!(
                    "the event log cannot be opened (is a server running on it?): {e}"
                ))
            })?;
            let tokens =
                TokenStore::open(&dir.join("auth")).map_err(|e| data_error(e.to_string()))?;
            let person = PersonId(person);
            let registered = log
                .read_stream(&person.stream(), Direction::Forwards, Some(0), 1)
                .await
                .map_err(|e| CliError::Runtime(e.to_string()))?;
            if registered.is_empty() {
                return Err(CliError::Refused(format!("no person {person}")));
            }
            let password = read_password()?;
            let account = Accounts::new(&tokens)
                .set_password(&username, person, &password, Utc::now())
                .await
                .map_err(|e| CliError::Refused(e.to_string()))?;
            print_lines(&[format!(
                "password set for {} ({})",
                account.username, account.person_id
            )])
        }
    }
}

/// The password from the environment, else the first line of stdin.
fn read_password() -> Result<String, CliError> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Runtime(format!("reading the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::Refused(format!(
            "give the password on standard input or in {PASSWORD_ENV}"
        )));
    }
    Ok(password)
}

/// Gives each demo person the username of their role and a random
/// password; answers the lines to print (shown once).
pub async fn demo_accounts(
    tokens: &TokenStore,
    people: &[(&str, PersonId)],
) -> Result<Vec<String>, CliError> {
    let accounts = Accounts::new(tokens);
    let mut lines = Vec::new();
    for (role, person) in people {
        let password = random_password().map_err(|e| CliError::Runtime(e.to_string()))?;
        accounts
            .set_password(role, *person, &password, Utc::now())
            .await
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        lines.push(format!("password {role} ({person}): {role} {password}"));
    }
    Ok(lines)
}
