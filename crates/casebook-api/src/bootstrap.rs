//! The first start: a root unit, an administrator, and their token.
//!
//! Nobody can create the first administrator through the rules (nobody may
//! yet), so on an empty log the installer writes the root unit's
//! `unit.created` and the administrator's `person.registered` and
//! `person.role_granted` directly, in one atomic append, and issues one
//! token for them. Everything after that goes through the API.

use casebook_domain::{
    Event, GrantId, Payload, PersonId, PersonRegistered, Role, RoleGranted, UnitCreated, UnitId,
    UnitKind,
};
use casebook_log::{ExpectedRevision, SledLog, StreamAppend};
use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use crate::codec::encode;
use crate::error::ApiError;
use crate::tokens::TokenStore;

/// What the first start created.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The root unit (a provincial command).
    pub root_unit_id: UnitId,
    /// The administrator.
    pub admin_id: PersonId,
    /// The administrator's token: shown once, stored only as a hash.
    pub token: String,
}

/// Names for the first start.
#[derive(Clone, Debug)]
pub struct BootstrapNames {
    /// The root unit's name.
    pub root_unit: String,
    /// The administrator's name.
    pub admin: String,
}

/// Creates the root unit and the administrator if the log is empty;
/// `None` if it is not.
pub async fn bootstrap(
    log: &SledLog,
    tokens: &TokenStore,
    names: &BootstrapNames,
    token_lifetime: TimeDelta,
) -> Result<Option<Bootstrapped>, ApiError> {
    if !log.is_empty() {
        return Ok(None);
    }
    let now = Utc::now();
    let root_unit_id = UnitId(Uuid::new_v4());
    let admin_id = PersonId(Uuid::new_v4());
    let event = |payload| Event {
        actor: admin_id,
        occurred_at: now,
        recorded_at: now,
        payload,
    };
    let unit = event(Payload::UnitCreated(UnitCreated {
        unit_id: root_unit_id,
        kind: UnitKind::ProvincialCommand,
        name: names.root_unit.clone(),
        parent_id: None,
    }));
    let person = [
        event(Payload::PersonRegistered(PersonRegistered {
            person_id: admin_id,
            name: names.admin.clone(),
        })),
        event(Payload::RoleGranted(RoleGranted {
            grant_id: GrantId(Uuid::new_v4()),
            role: Role::Administrator,
            unit_id: root_unit_id,
            from: now,
            until: None,
        })),
    ];
    let command_id = Uuid::new_v4();
    let parts = vec![
        StreamAppend {
            stream: root_unit_id.stream(),
            expected: ExpectedRevision::NoStream,
            events: vec![encode(&unit, command_id, 0)?],
        },
        StreamAppend {
            stream: admin_id.stream(),
            expected: ExpectedRevision::NoStream,
            events: vec![
                encode(&person[0], command_id, 1)?,
                encode(&person[1], command_id, 2)?,
            ],
        },
    ];
    log.append_multi(parts).await?;
    let (token, _) = tokens
        .create(admin_id, "bootstrap administrator", token_lifetime, now)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(%root_unit_id, %admin_id, "bootstrapped an empty case book");
    Ok(Some(Bootstrapped {
        root_unit_id,
        admin_id,
        token,
    }))
}
