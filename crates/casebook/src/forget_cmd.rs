//! `casebook forget`: erase a household's personal data with the server
//! stopped.
//!
//! The same path as the API's `POST /v1/households/{id}/erase`: the domain
//! decides on the household's stream as the named administrator (a person
//! without that role is refused), the erasure event is appended and made
//! durable, and only then is the household's key destroyed. A crash in
//! between leaves the event without the destruction; the server finishes
//! it when it folds the event on its next start.

use casebook_domain::{Household, HouseholdCommand, HouseholdId, PersonId, Policy, StreamId};
use casebook_log::SledLog;
use casebook_privacy::KeyStore;

use crate::admin_cmd::{execute, Target};
use crate::error::CliError;

/// What `forget` did.
#[derive(Debug)]
pub struct Forgotten {
    /// The log position of the erasure event.
    pub position: u64,
    /// Whether a key was destroyed now (false: none was ever made).
    pub key_destroyed: bool,
}

/// Erases `household`'s personal data on the authority of `by`: the
/// erasure goes through the runner of every stopped-server command, and
/// the key is destroyed only once it is durable.
pub async fn forget(
    log: &SledLog,
    keys: &KeyStore,
    policy: &Policy,
    household: HouseholdId,
    by: PersonId,
    reason: &str,
) -> Result<Forgotten, CliError> {
    let command = HouseholdCommand::ErasePersonalData {
        reason: reason.to_owned(),
    };
    let stream = StreamId::Household(household);
    let done =
        execute::<Option<Household>>(log, policy, by, stream, Target::Existing, &command).await?;
    let key_destroyed = keys
        .forget(household.0)
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    Ok(Forgotten {
        position: done.position,
        key_destroyed,
    })
}
