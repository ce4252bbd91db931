//! The unit tree as each keyed view keeps it, under the `u` tag of its own
//! tree, so that it is always exactly as far as the view's checkpoint.
//!
//! A case belongs to its hamlet; a view keeps it under units of the path
//! from the root to that hamlet (each view says which), so that "this unit
//! and everything below it" is a prefix scan or a merge of a few. A post's
//! jurisdiction also holds the communes it covers (which hang elsewhere in
//! the tree): queries scan those communes' prefixes too
//! ([`jurisdiction_roots`]). Units never move in the tree (the domain has
//! no command for it), so stored paths stay right.

use casebook_domain::{Payload, UnitId, UnitKind};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::keys::{id, key};
use crate::staging::{Source, Staging};
use crate::view_tree::{Key, ViewTree};

/// Tag of unit nodes.
const TAG_UNIT: u8 = b'u';
/// Most units gathered below a jurisdiction: a whole country's posts,
/// communes and hamlets with room to spare; more means damaged data.
const UNITS_MAX: usize = 100_000;
/// Deepest path followed: province, post, commune, hamlet, with room to
/// spare; a longer walk means a cycle in damaged data and is cut.
const DEPTH_MAX: usize = 8;

/// One unit as the views need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitNode {
    /// Its level.
    pub kind: UnitKind,
    /// Its name.
    pub name: String,
    /// The unit above it, if any.
    pub parent: Option<UnitId>,
    /// The units right below it.
    pub children: Vec<UnitId>,
    /// For a post: the communes it covers.
    pub covers: Vec<UnitId>,
}

fn unit_key(unit: UnitId) -> Key {
    key(TAG_UNIT, &[&id(unit.0)])
}

/// A unit node.
pub fn node(source: &impl Source, view: &'static str, unit: UnitId) -> Result<Option<UnitNode>> {
    source.read(view, &unit_key(unit))
}

/// Folds a unit event in (other events are ignored).
pub fn apply<X>(
    staging: &mut Staging<X>,
    view: &'static str,
    unit: UnitId,
    payload: &Payload,
) -> Result<()> {
    staging.unit_paths().clear();
    match payload {
        Payload::UnitCreated(e) => {
            let created = UnitNode {
                kind: e.kind,
                name: e.name.clone(),
                parent: e.parent_id,
                children: Vec::new(),
                covers: Vec::new(),
            };
            staging.put(unit_key(unit), &created)?;
            if let Some(parent) = e.parent_id {
                update(staging, view, parent, |n| {
                    push_unique(&mut n.children, unit)
                })?;
            }
        }
        Payload::UnitRenamed(e) => update(staging, view, unit, |n| n.name = e.name.clone())?,
        Payload::CommuneCovered(e) => update(staging, view, unit, |n| {
            push_unique(&mut n.covers, e.commune_id)
        })?,
        Payload::CommuneUncovered(e) => update(staging, view, unit, |n| {
            n.covers.retain(|c| *c != e.commune_id)
        })?,
        _ => {}
    }
    Ok(())
}

fn push_unique(list: &mut Vec<UnitId>, unit: UnitId) {
    if !list.contains(&unit) {
        list.push(unit);
    }
}

fn update<X>(
    staging: &mut Staging<X>,
    view: &'static str,
    unit: UnitId,
    change: impl FnOnce(&mut UnitNode),
) -> Result<()> {
    if let Some(mut n) = node(staging, view, unit)? {
        change(&mut n);
        staging.put(unit_key(unit), &n)?;
    }
    Ok(())
}

/// The path from the root down to `unit`, both included. A unit the view
/// does not know is a path of itself alone.
pub fn path(source: &impl Source, view: &'static str, unit: UnitId) -> Result<Vec<UnitId>> {
    let mut path = vec![unit];
    let mut current = unit;
    while path.len() < DEPTH_MAX {
        match node(source, view, current)?.and_then(|n| n.parent) {
            Some(parent) => {
                path.push(parent);
                current = parent;
            }
            None => break,
        }
    }
    path.reverse();
    Ok(path)
}

/// [`path`], remembered in the staging until the next unit event: every
/// case of a hamlet has the same path.
pub fn path_cached<X>(
    staging: &mut Staging<X>,
    view: &'static str,
    unit: UnitId,
) -> Result<Vec<UnitId>> {
    if let Some(known) = staging.unit_paths().get(&unit) {
        return Ok(known.clone());
    }
    let walked = path(staging, view, unit)?;
    staging.unit_paths().insert(unit, walked.clone());
    Ok(walked)
}

/// The units whose subtrees make up `unit`'s jurisdiction: itself, and for
/// a post the communes it covers that are not already below it.
pub fn jurisdiction_roots(
    source: &impl Source,
    view: &'static str,
    unit: UnitId,
) -> Result<Vec<UnitId>> {
    let mut roots = vec![unit];
    if let Some(n) = node(source, view, unit)? {
        for commune in n.covers {
            if !path(source, view, commune)?.contains(&unit) {
                roots.push(commune);
            }
        }
    }
    Ok(roots)
}

/// The communes and hamlets whose subtrees together make up the subtrees
/// of `roots`: a commune or a hamlet stands for itself, a unit above them
/// for every commune below it, and a unit the view does not know for itself.
/// A view that indexes cases under their commune and hamlet only lists a
/// post or a province by merging these.
pub fn indexed_roots(
    source: &impl Source,
    view: &'static str,
    roots: &[UnitId],
) -> Result<Vec<UnitId>> {
    let mut out = Vec::new();
    walk(source, view, roots, |unit, node| match node {
        Some(n) if !matches!(n.kind, UnitKind::Commune | UnitKind::Hamlet) => true,
        _ => {
            out.push(unit);
            false
        }
    })?;
    Ok(out)
}

/// Every unit in the subtrees of `roots`, the roots included.
pub fn below(source: &impl Source, view: &'static str, roots: &[UnitId]) -> Result<Vec<UnitId>> {
    let mut out = Vec::new();
    walk(source, view, roots, |unit, _| {
        out.push(unit);
        true
    })?;
    Ok(out)
}

/// Visits the units of `roots`' subtrees breadth first, each once (at most
/// [`UNITS_MAX`] of them), with its node if the view knows it; `visit`
/// answers whether to go on below the unit.
fn walk(
    source: &impl Source,
    view: &'static str,
    roots: &[UnitId],
    mut visit: impl FnMut(UnitId, Option<&UnitNode>) -> bool,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<UnitId> = roots.iter().copied().collect();
    while let Some(unit) = queue.pop_front() {
        if seen.len() >= UNITS_MAX || !seen.insert(unit) {
            continue;
        }
        let node = node(source, view, unit)?;
        if visit(unit, node.as_ref()) {
            if let Some(n) = node {
                queue.extend(n.children);
            }
        }
    }
    Ok(())
}

/// The units without a parent (the provinces), from a view's tree.
pub fn roots(tree: &ViewTree, view: &'static str) -> Result<Vec<UnitId>> {
    let mut out = Vec::new();
    for (k, v) in tree.scan_prefix([TAG_UNIT]) {
        let n: UnitNode =
            serde_json::from_slice(v).map_err(|e| crate::ProjectionError::Corrupt {
                view,
                reason: e.to_string(),
            })?;
        if n.parent.is_none() {
            if let Some(id) = crate::keys::uuid_from(&k[1..]) {
                out.push(UnitId(id));
            }
        }
    }
    Ok(out)
}
