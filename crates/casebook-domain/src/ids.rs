//! Identifiers and stream names.
//!
//! Every aggregate is identified by a UUID chosen by the caller (the domain
//! never draws random numbers), wrapped in its own type so that a household's
//! id cannot be passed where a unit's is expected. Each aggregate lives in one
//! log stream named `<category>-<uuid>`, where the category is lowercase ASCII
//! letters only, as the log requires.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $category:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The stream category of this kind of aggregate.
            pub const CATEGORY: &'static str = $category;

            /// The name of the log stream that holds this aggregate's events.
            pub fn stream(self) -> String {
                format!("{}-{}", $category, self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A concern (the case). Stream `concern-<uuid>`.
    ConcernId,
    "concern"
);
id_type!(
    /// A household. Stream `household-<uuid>`.
    HouseholdId,
    "household"
);
id_type!(
    /// A unit of the tree (provincial command, post, commune, hamlet). Stream `unit-<uuid>`.
    UnitId,
    "unit"
);
id_type!(
    /// A person who uses the system (member, committee member, auditor, administrator).
    /// Stream `person-<uuid>`.
    PersonId,
    "person"
);

/// A committee of a unit. Committees have no stream of their own: they are
/// formed inside their unit's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommitteeId(pub Uuid);

impl fmt::Display for CommitteeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A role grant, so that a grant can be ended later by naming it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(pub Uuid);

/// Which aggregate a stream name points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamId {
    /// `concern-<uuid>`
    Concern(ConcernId),
    /// `household-<uuid>`
    Household(HouseholdId),
    /// `unit-<uuid>`
    Unit(UnitId),
    /// `person-<uuid>`
    Person(PersonId),
}

impl StreamId {
    /// Parses a stream name such as `concern-0190…`.
    pub fn parse(stream: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::Invalid {
            field: "stream",
            reason: format!("`{stream}` is not `<category>-<uuid>` with a known category"),
        };
        let (category, id) = stream.split_once('-').ok_or_else(invalid)?;
        let uuid = Uuid::parse_str(id).map_err(|_| invalid())?;
        match category {
            ConcernId::CATEGORY => Ok(Self::Concern(ConcernId(uuid))),
            HouseholdId::CATEGORY => Ok(Self::Household(HouseholdId(uuid))),
            UnitId::CATEGORY => Ok(Self::Unit(UnitId(uuid))),
            PersonId::CATEGORY => Ok(Self::Person(PersonId(uuid))),
            _ => Err(invalid()),
        }
    }

    /// The stream name, the inverse of [`StreamId::parse`].
    pub fn name(self) -> String {
        match self {
            Self::Concern(id) => id.stream(),
            Self::Household(id) => id.stream(),
            Self::Unit(id) => id.stream(),
            Self::Person(id) => id.stream(),
        }
    }
}
