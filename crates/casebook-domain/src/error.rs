//! The one error type of the crate.
//!
//! Every refusal the domain can give is a variant here, documented with the
//! HTTP status the API maps it to, so that the API crate needs no judgement of
//! its own. A permission refusal names the [`Rule`] that refused it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A permission rule, named so that a refusal says which rule refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A member reports only for households assigned to them at the field
    /// time of the report.
    MemberReportsForAssignedHouseholds,
    /// A member follows up (actions, feedback, withdrawal) only the cases they
    /// reported, the cases of households assigned to them, or the cases
    /// assigned to them in person.
    MemberFollowsOwnCases,
    /// A committee acts only on cases in its jurisdiction (its unit and the
    /// units below it, and for a post the communes it covers) or assigned to it.
    CommitteeActsWithinJurisdiction,
    /// Escalation goes only to a unit strictly above the one handling the case.
    EscalationGoesUpwards,
    /// An auditor reads and replays; an auditor changes nothing.
    AuditorChangesNothing,
    /// An administrator manages units, people and assignments, and does not
    /// act on cases.
    AdministratorManagesStructureOnly,
    /// Units, people and assignments are managed by administrators (and
    /// assignments also by a committee within its jurisdiction).
    StructureManagedByAdministrators,
    /// The identity of a tip's informant is readable only by the member who
    /// took the tip. An administrator cannot read it.
    SealedIdentityOnlyForItsTaker,
    /// The actor holds no role, at the field time, that allows this command.
    RoleRequired,
}

impl Rule {
    /// The stable snake_case code of the rule, as shown to API clients.
    pub fn code(self) -> &'static str {
        match self {
            Self::MemberReportsForAssignedHouseholds => "member_reports_for_assigned_households",
            Self::MemberFollowsOwnCases => "member_follows_own_cases",
            Self::CommitteeActsWithinJurisdiction => "committee_acts_within_jurisdiction",
            Self::EscalationGoesUpwards => "escalation_goes_upwards",
            Self::AuditorChangesNothing => "auditor_changes_nothing",
            Self::AdministratorManagesStructureOnly => "administrator_manages_structure_only",
            Self::StructureManagedByAdministrators => "structure_managed_by_administrators",
            Self::SealedIdentityOnlyForItsTaker => "sealed_identity_only_for_its_taker",
            Self::RoleRequired => "role_required",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Everything the domain can refuse or fail at.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A permission rule refused the command. HTTP 403.
    #[error("refused by rule `{rule}`: {detail}")]
    Refused {
        /// The rule that refused.
        rule: Rule,
        /// What, in this case, broke the rule.
        detail: String,
    },

    /// The command is not allowed in the aggregate's current state (for
    /// example resolving a case that is only reported). HTTP 409.
    #[error("`{command}` is not allowed on a {aggregate} that is `{state}`")]
    IllegalTransition {
        /// The kind of aggregate: `concern`, `household`, `unit`, `person`.
        aggregate: &'static str,
        /// The current state, in snake_case (`not_created` before the first event).
        state: &'static str,
        /// The command, in snake_case.
        command: &'static str,
    },

    /// The field time of the command lies in the future beyond the
    /// tolerance for clock drift. HTTP 422.
    #[error(
        "field time {occurred_at} is in the future (now {now}, tolerance {tolerance_seconds} s)"
    )]
    FieldTimeInFuture {
        /// The field time given by the caller.
        occurred_at: DateTime<Utc>,
        /// The clock reading given in the context.
        now: DateTime<Utc>,
        /// The tolerance allowed for clock drift.
        tolerance_seconds: i64,
    },

    /// A field of the command is invalid (empty reason, unknown topic, a
    /// deadline before the report…). HTTP 422.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field that is wrong.
        field: &'static str,
        /// Why it is wrong.
        reason: String,
    },

    /// Something the command names does not exist in the lookups (a unit, a
    /// committee, a household, a person). HTTP 404.
    #[error("{what} {id} not found")]
    NotFound {
        /// The kind of thing: `unit`, `committee`, `household`, `person`, `role grant`.
        what: &'static str,
        /// Its id.
        id: String,
    },

    /// A stored record has an event type this version does not know, or a
    /// schema version newer than it knows. HTTP 400 when the record comes
    /// from a client (an import); from our own log it is a deployment fault.
    #[error("unknown event `{event_type}` version {schema_version}")]
    UnknownEvent {
        /// The event type of the record.
        event_type: String,
        /// The schema version of the record.
        schema_version: u32,
    },

    /// A stored record's data does not match its declared type and version.
    /// HTTP 400, with the same caveat as [`DomainError::UnknownEvent`].
    #[error("malformed `{event_type}` record: {reason}")]
    MalformedRecord {
        /// The event type of the record.
        event_type: String,
        /// What serde said.
        reason: String,
    },
}

impl DomainError {
    /// The HTTP status the API maps this error to.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Refused { .. } => 403,
            Self::IllegalTransition { .. } => 409,
            Self::FieldTimeInFuture { .. } | Self::Invalid { .. } => 422,
            Self::NotFound { .. } => 404,
            Self::UnknownEvent { .. } | Self::MalformedRecord { .. } => 400,
        }
    }

    /// A refusal by `rule`.
    pub(crate) fn refused(rule: Rule, detail: impl Into<String>) -> Self {
        Self::Refused {
            rule,
            detail: detail.into(),
        }
    }

    /// An invalid field.
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// A missing lookup.
    pub(crate) fn not_found(what: &'static str, id: impl fmt::Display) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

/// Refuses an empty or blank text field.
pub(crate) fn require_text(field: &'static str, text: &str) -> Result<(), DomainError> {
    if text.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    Ok(())
}
