//! The unit tree: provincial commands, border posts, communes and hamlets,
//! each with its committees.
//!
//! A unit lives in the stream `unit-<uuid>`. A post also covers a set of
//! communes (which may hang under another post or straight under the
//! provincial command); that coverage widens the post's jurisdiction.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::context::Context;
use crate::error::{require_text, DomainError};
use crate::event::{Event, Payload};
use crate::ids::{CommitteeId, UnitId};
use crate::permission;

/// The level of a unit in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A provincial border guard command (the root).
    ProvincialCommand,
    /// A border post (đồn biên phòng).
    Post,
    /// A commune, ward or township (xã, phường, thị trấn).
    Commune,
    /// A hamlet or village (ấp, thôn, bản, khóm).
    Hamlet,
}

impl UnitKind {
    /// The kinds a unit of this kind may hang under; empty for the root.
    pub fn allowed_parents(self) -> &'static [UnitKind] {
        match self {
            Self::ProvincialCommand => &[],
            Self::Post => &[Self::ProvincialCommand],
            Self::Commune => &[Self::Post, Self::ProvincialCommand],
            Self::Hamlet => &[Self::Commune],
        }
    }
}

/// The kind of a committee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitteeKind {
    /// A party cell (chi bộ), as in a hamlet.
    PartyCell,
    /// A party committee (đảng ủy), as of a post or a commune.
    PartyCommittee,
    /// A standing committee (ban thường vụ).
    StandingCommittee,
    /// A command board (ban chỉ huy), as of a provincial command.
    Command,
}

/// A committee: the body of a unit that acts on cases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committee {
    /// Its id.
    pub committee_id: CommitteeId,
    /// The unit whose jurisdiction it acts in.
    pub unit_id: UnitId,
    /// Its kind.
    pub kind: CommitteeKind,
    /// Its name.
    pub name: String,
}

/// The state of a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Its id.
    pub id: UnitId,
    /// Its level.
    pub kind: UnitKind,
    /// Its name.
    pub name: String,
    /// The unit above it; `None` for a provincial command.
    pub parent_id: Option<UnitId>,
    /// For a post, the communes it covers besides those below it.
    pub covers: BTreeSet<UnitId>,
    /// Its committees.
    pub committees: Vec<Committee>,
}

/// A command on a unit. Only administrators give them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitCommand {
    /// Create a unit.
    Create {
        /// Its id, chosen by the caller.
        unit_id: UnitId,
        /// Its level.
        kind: UnitKind,
        /// Its name.
        name: String,
        /// The unit above it, of an allowed kind; `None` only for a provincial command.
        parent_id: Option<UnitId>,
    },
    /// Rename it.
    Rename {
        /// The new name.
        name: String,
    },
    /// A post takes a commune into its coverage.
    CoverCommune {
        /// The commune.
        commune_id: UnitId,
    },
    /// A post gives a commune up.
    UncoverCommune {
        /// The commune.
        commune_id: UnitId,
    },
    /// Form a committee in the unit.
    FormCommittee {
        /// Its id, chosen by the caller.
        committee_id: CommitteeId,
        /// Its kind.
        kind: CommitteeKind,
        /// Its name.
        name: String,
    },
}

/// `unit.created` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitCreated {
    /// The unit.
    pub unit_id: UnitId,
    /// Its level.
    pub kind: UnitKind,
    /// Its name.
    pub name: String,
    /// The unit above it.
    pub parent_id: Option<UnitId>,
}

/// `unit.renamed` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRenamed {
    /// The new name.
    pub name: String,
}

/// `unit.commune_covered` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommuneCovered {
    /// The commune the post now covers.
    pub commune_id: UnitId,
}

/// `unit.commune_uncovered` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommuneUncovered {
    /// The commune the post no longer covers.
    pub commune_id: UnitId,
}

/// `unit.committee_formed` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeFormed {
    /// The committee.
    pub committee_id: CommitteeId,
    /// Its kind.
    pub kind: CommitteeKind,
    /// Its name.
    pub name: String,
}

impl UnitCommand {
    /// The snake_case name used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Rename { .. } => "rename",
            Self::CoverCommune { .. } => "cover_commune",
            Self::UncoverCommune { .. } => "uncover_commune",
            Self::FormCommittee { .. } => "form_committee",
        }
    }
}

fn illegal(state: &Option<Unit>, command: &UnitCommand) -> DomainError {
    DomainError::IllegalTransition {
        aggregate: "unit",
        state: if state.is_some() {
            "created"
        } else {
            "not_created"
        },
        command: command.name(),
    }
}

impl Aggregate for Option<Unit> {
    type Command = UnitCommand;

    fn decide_payloads(
        &self,
        command: &UnitCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Payload>, DomainError> {
        permission::may_manage_structure(ctx)?;
        match (self, command) {
            (
                None,
                UnitCommand::Create {
                    unit_id,
                    kind,
                    name,
                    parent_id,
                },
            ) => create(ctx, *unit_id, *kind, name, *parent_id),
            (Some(_), UnitCommand::Rename { name }) => {
                require_text("name", name)?;
                Ok(vec![Payload::UnitRenamed(UnitRenamed {
                    name: name.clone(),
                })])
            }
            (Some(unit), UnitCommand::CoverCommune { commune_id }) => cover(ctx, unit, *commune_id),
            (Some(unit), UnitCommand::UncoverCommune { commune_id }) => uncover(unit, *commune_id),
            (
                Some(unit),
                UnitCommand::FormCommittee {
                    committee_id,
                    kind,
                    name,
                },
            ) => form_committee(unit, *committee_id, *kind, name),
            _ => Err(illegal(self, command)),
        }
    }

    fn apply(self, event: &Event) -> Self {
        match (self, &event.payload) {
            (_, Payload::UnitCreated(e)) => Some(Unit {
                id: e.unit_id,
                kind: e.kind,
                name: e.name.clone(),
                parent_id: e.parent_id,
                covers: BTreeSet::new(),
                committees: Vec::new(),
            }),
            (Some(unit), payload) => Some(apply_to_unit(unit, payload)),
            (None, _) => None,
        }
    }
}

fn apply_to_unit(mut unit: Unit, payload: &Payload) -> Unit {
    match payload {
        Payload::UnitRenamed(e) => unit.name = e.name.clone(),
        Payload::CommuneCovered(e) => {
            unit.covers.insert(e.commune_id);
        }
        Payload::CommuneUncovered(e) => {
            unit.covers.remove(&e.commune_id);
        }
        Payload::CommitteeFormed(e) => unit.committees.push(Committee {
            committee_id: e.committee_id,
            unit_id: unit.id,
            kind: e.kind,
            name: e.name.clone(),
        }),
        _ => {}
    }
    unit
}

fn create(
    ctx: &Context<'_>,
    unit_id: UnitId,
    kind: UnitKind,
    name: &str,
    parent_id: Option<UnitId>,
) -> Result<Vec<Payload>, DomainError> {
    require_text("name", name)?;
    check_parent(ctx, kind, parent_id)?;
    Ok(vec![Payload::UnitCreated(UnitCreated {
        unit_id,
        kind,
        name: name.to_owned(),
        parent_id,
    })])
}

fn check_parent(
    ctx: &Context<'_>,
    kind: UnitKind,
    parent_id: Option<UnitId>,
) -> Result<(), DomainError> {
    let allowed = kind.allowed_parents();
    match parent_id {
        None if allowed.is_empty() => Ok(()),
        None => Err(DomainError::invalid(
            "parent_id",
            format!("a {kind:?} needs a parent"),
        )),
        Some(parent_id) => {
            let parent = ctx
                .lookups
                .unit(parent_id)
                .ok_or_else(|| DomainError::not_found("unit", parent_id))?;
            if allowed.contains(&parent.kind) {
                Ok(())
            } else {
                Err(DomainError::invalid(
                    "parent_id",
                    format!("a {kind:?} cannot hang under a {:?}", parent.kind),
                ))
            }
        }
    }
}

fn cover(ctx: &Context<'_>, post: &Unit, commune_id: UnitId) -> Result<Vec<Payload>, DomainError> {
    if post.kind != UnitKind::Post {
        return Err(DomainError::invalid("unit", "only a post covers communes"));
    }
    let commune = ctx
        .lookups
        .unit(commune_id)
        .ok_or_else(|| DomainError::not_found("unit", commune_id))?;
    if commune.kind != UnitKind::Commune {
        return Err(DomainError::invalid(
            "commune_id",
            "a post covers communes only",
        ));
    }
    if post.covers.contains(&commune_id) {
        return Err(DomainError::invalid("commune_id", "already covered"));
    }
    Ok(vec![Payload::CommuneCovered(CommuneCovered { commune_id })])
}

fn uncover(post: &Unit, commune_id: UnitId) -> Result<Vec<Payload>, DomainError> {
    if !post.covers.contains(&commune_id) {
        return Err(DomainError::invalid(
            "commune_id",
            "not covered by this post",
        ));
    }
    Ok(vec![Payload::CommuneUncovered(CommuneUncovered {
        commune_id,
    })])
}

fn form_committee(
    unit: &Unit,
    committee_id: CommitteeId,
    kind: CommitteeKind,
    name: &str,
) -> Result<Vec<Payload>, DomainError> {
    require_text("name", name)?;
    if unit
        .committees
        .iter()
        .any(|c| c.committee_id == committee_id)
    {
        return Err(DomainError::invalid("committee_id", "already formed"));
    }
    Ok(vec![Payload::CommitteeFormed(CommitteeFormed {
        committee_id,
        kind,
        name: name.to_owned(),
    })])
}
