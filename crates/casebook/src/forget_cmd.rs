//! `casebook forget`: erase a household's personal data with the server
//! stopped.
//!
//! The same path as the API's `POST /v1/households/{id}/erase`: the domain
//! decides on the household's stream as the named administrator (a person
//! without that role is refused), the erasure event is appended and made
//! durable, and only then is the household's key destroyed. A crash in
//! between leaves the event without the destruction; the server finishes
//! it when it folds the event on its next start.

use casebook_domain::{
    decide, fold, Context, Directory, Event, Household, HouseholdCommand, HouseholdId, PersonId,
    Policy, StreamId,
};
use casebook_log::{ExpectedRevision, SledLog};
use casebook_privacy::{KeyStore, Unsealer};
use chrono::Utc;
use uuid::Uuid;

use crate::error::CliError;

/// What `forget` did.
#[derive(Debug)]
pub struct Forgotten {
    /// The log position of the erasure event.
    pub position: u64,
    /// Whether a key was destroyed now (false: none was ever made).
    pub key_destroyed: bool,
}

/// Erases `household`'s personal data on the authority of `by`.
pub async fn forget(
    log: &SledLog,
    keys: &KeyStore,
    policy: &Policy,
    household: HouseholdId,
    by: PersonId,
    reason: &str,
) -> Result<Forgotten, CliError> {
    let directory = fold_directory(log)?;
    let stream = household.stream();
    let history = crate::stream::read_all(log, &stream).await?;
    let events = history
        .iter()
        .map(|r| casebook_privacy::decode(r, Unsealer::Withhold))
        .collect::<Result<Vec<Event>, _>>()
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let state: Option<Household> = fold(&events);
    if state.is_none() {
        return Err(CliError::Usage(format!("no household {}", household.0)));
    }
    let now = Utc::now();
    let ctx = Context::new(by, now, policy, &directory);
    let command = HouseholdCommand::ErasePersonalData {
        reason: reason.to_owned(),
    };
    let decided = decide(&state, &command, &ctx).map_err(|e| CliError::Refused(e.to_string()))?;
    let command_id = Uuid::new_v4();
    let records = decided
        .iter()
        .enumerate()
        .map(|(index, event)| {
            casebook_privacy::encode(
                event,
                casebook_privacy::event_id(command_id, index),
                Some(command_id),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let expected = history.last().map_or(ExpectedRevision::NoStream, |r| {
        ExpectedRevision::Exact(r.revision)
    });
    let outcome = log
        .append(&stream, expected, records)
        .await
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let key_destroyed = keys
        .forget(household.0)
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    Ok(Forgotten {
        position: outcome.last_position(),
        key_destroyed,
    })
}

/// Units, people and households, as the domain's decisions need them.
fn fold_directory(log: &SledLog) -> Result<Directory, CliError> {
    let mut directory = Directory::new();
    for record in log.iter_all(0) {
        let record = record.map_err(|e| CliError::Runtime(e.to_string()))?;
        let Ok(stream) = StreamId::parse(&record.stream) else {
            continue;
        };
        if matches!(stream, StreamId::Concern(_)) {
            continue;
        }
        let event = casebook_privacy::decode(&record, Unsealer::Withhold)
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        directory.apply(stream, &event);
    }
    Ok(directory)
}
