//! `casebook unit|person|household …`: the administration of units,
//! people and assignments with the server stopped, and the one runner
//! that every command on a stopped server's log goes through (`forget`
//! too).
//!
//! The runner takes the API's path (`casebook-api`'s `command::execute`)
//! on the data directory's log: read the aggregate's stream, fold it,
//! decide as the person named with `--by` over a [`Directory`] folded from
//! the log, append with the folded revision as expected revision. The
//! domain refuses anyone who may not give the command (exit 4). The
//! command id is the events' correlation id and their ids are UUID v5 of
//! it, as the API makes them.
//!
//! Nothing here seals: units, people, grants and assignments carry no
//! personal data. The runner refuses to append an event with a personal
//! field left plain (a household's registration or details, a report), so
//! such a command cannot slip through it unsealed.

use std::collections::{BTreeMap, BTreeSet};

use casebook_domain::{
    decide, fold, Aggregate, CommitteeId, Context, Directory, Event, GrantId, Household,
    HouseholdCommand, HouseholdId, Person, PersonCommand, PersonId, Policy, Role, RoleGrant,
    StreamId, Unit, UnitCommand, UnitId,
};
use casebook_log::{ExpectedRevision, NewEvent, RecordedEvent, SledLog};
use casebook_privacy::{personal_fields, Unsealer, SEALED_TAG};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::audit_cmd::open_existing_log;
use crate::cli::{Acting, Common, Coverage, HouseholdAction, Listing, PersonAction, UnitAction};
use crate::error::CliError;
use crate::run::{load, print_lines};

/// Whether a command makes its aggregate or acts on one that exists; the
/// runner says so plainly before the domain would answer with a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The stream must be empty (a create or register).
    New,
    /// The stream must hold the aggregate.
    Existing,
}

/// What one command appended.
#[derive(Clone, Copy, Debug)]
pub struct Appended {
    /// The log position of its last event.
    pub position: u64,
}

/// Decides `command` on the aggregate of `stream` as `by` and appends what
/// it causes, guarded by the revision it was decided on.
pub async fn execute<A>(
    log: &SledLog,
    policy: &Policy,
    by: PersonId,
    stream: StreamId,
    target: Target,
    command: &A::Command,
) -> Result<Appended, CliError>
where
    A: Aggregate + Default,
{
    let directory = fold_directory(log)?;
    let name = stream.name();
    let history = crate::stream::read_all(log, &name).await?;
    check_target(stream, target, history.is_empty())?;
    let state: A = fold(&decode_all(&history)?);
    let ctx = Context::new(by, Utc::now(), policy, &directory);
    let decided = decide(&state, command, &ctx).map_err(|e| CliError::Refused(e.to_string()))?;
    if decided.is_empty() {
        return Err(CliError::Refused("the command changes nothing".to_owned()));
    }
    let records = encode_all(&decided, Uuid::new_v4())?;
    let expected = history.last().map_or(ExpectedRevision::NoStream, |r| {
        ExpectedRevision::Exact(r.revision)
    });
    let outcome = log
        .append(&name, expected, records)
        .await
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    Ok(Appended {
        position: outcome.last_position(),
    })
}

/// Units, people and households, as the domain's decisions need them.
pub fn fold_directory(log: &SledLog) -> Result<Directory, CliError> {
    let mut directory = Directory::new();
    for record in log.iter_all(0) {
        let record = record.map_err(|e| CliError::Runtime(e.to_string()))?;
        let Ok(stream) = StreamId::parse(&record.stream) else {
            continue;
        };
        if matches!(stream, StreamId::Concern(_)) {
            continue;
        }
        directory.apply(stream, &decode(&record)?);
    }
    Ok(directory)
}

fn check_target(stream: StreamId, target: Target, empty: bool) -> Result<(), CliError> {
    let name = stream.name();
    let (what, id) = name.split_once('-').unwrap_or((name.as_str(), ""));
    match (target, empty) {
        (Target::Existing, true) => Err(CliError::Usage(format!("no {what} {id}"))),
        (Target::New, false) => Err(CliError::Refused(format!("{what} {id} already exists"))),
        _ => Ok(()),
    }
}

fn decode(record: &RecordedEvent) -> Result<Event, CliError> {
    casebook_privacy::decode(record, Unsealer::Withhold)
        .map_err(|e| CliError::Runtime(e.to_string()))
}

fn decode_all(history: &[RecordedEvent]) -> Result<Vec<Event>, CliError> {
    history.iter().map(decode).collect()
}

/// The records of a command's events, ids derived from `command_id`.
fn encode_all(decided: &[Event], command_id: Uuid) -> Result<Vec<NewEvent>, CliError> {
    decided
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let record = casebook_privacy::encode(
                event,
                casebook_privacy::event_id(command_id, index),
                Some(command_id),
            )
            .map_err(|e| CliError::Runtime(e.to_string()))?;
            refuse_unsealed(&record)?;
            Ok(record)
        })
        .collect()
}

/// No personal field goes into the log plain: this runner has no keys.
fn refuse_unsealed(record: &NewEvent) -> Result<(), CliError> {
    let plain = personal_fields(&record.event_type).iter().find(|field| {
        record
            .data
            .get(**field)
            .is_some_and(|v| !v.is_null() && v.get(SEALED_TAG).is_none())
    });
    match plain {
        Some(field) => Err(CliError::Runtime(format!(
            "`{}` carries personal data (`{field}`) that only the API seals; not appended",
            record.event_type
        ))),
        None => Ok(()),
    }
}

/// The log and the policy of a data directory, for one command.
fn open(common: Common) -> Result<(SledLog, Policy), CliError> {
    let config = load(common, None)?;
    let log = open_existing_log(&config.data_dir)?;
    Ok((log, config.policy))
}

/// Runs one command as `acting.by` and answers where it landed.
async fn act<A: Aggregate + Default>(
    acting: Acting,
    stream: StreamId,
    target: Target,
    command: &A::Command,
) -> Result<u64, CliError> {
    let (log, policy) = open(acting.common)?;
    let by = PersonId(acting.by);
    let done = execute::<A>(&log, &policy, by, stream, target, command).await?;
    Ok(done.position)
}

/// Runs a `unit` subcommand and prints what it did.
pub async fn unit(command: UnitAction) -> Result<(), CliError> {
    let line = match command {
        UnitAction::List(listing) => return list_units(listing),
        UnitAction::Create {
            acting,
            kind,
            name,
            parent,
            id,
        } => {
            let unit_id = UnitId(id.unwrap_or_else(Uuid::new_v4));
            let parent_id = parent.map(UnitId);
            let command = UnitCommand::Create {
                unit_id,
                kind,
                name,
                parent_id,
            };
            let at =
                act::<Option<Unit>>(acting, StreamId::Unit(unit_id), Target::New, &command).await?;
            let kind = serde_word(&kind);
            let under = parent_id.map_or(String::new(), |p| format!(" under {p}"));
            format!("created {kind} unit {unit_id}{under} (log position {at})")
        }
        UnitAction::Rename { acting, unit, name } => {
            let command = UnitCommand::Rename { name };
            let at = on_unit(acting, unit, &command).await?;
            format!("renamed unit {unit} (log position {at})")
        }
        UnitAction::Cover(Coverage {
            acting,
            post,
            commune,
        }) => {
            let command = UnitCommand::CoverCommune {
                commune_id: UnitId(commune),
            };
            let at = on_unit(acting, post, &command).await?;
            format!("post {post} now covers commune {commune} (log position {at})")
        }
        UnitAction::Uncover(Coverage {
            acting,
            post,
            commune,
        }) => {
            let command = UnitCommand::UncoverCommune {
                commune_id: UnitId(commune),
            };
            let at = on_unit(acting, post, &command).await?;
            format!("post {post} no longer covers commune {commune} (log position {at})")
        }
        UnitAction::Committee {
            acting,
            unit,
            kind,
            name,
            id,
        } => {
            let committee_id = CommitteeId(id.unwrap_or_else(Uuid::new_v4));
            let command = UnitCommand::FormCommittee {
                committee_id,
                kind,
                name,
            };
            let at = on_unit(acting, unit, &command).await?;
            let kind = serde_word(&kind);
            format!("formed {kind} committee {committee_id} in unit {unit} (log position {at})")
        }
    };
    print_lines(&[line])
}

async fn on_unit(acting: Acting, unit: Uuid, command: &UnitCommand) -> Result<u64, CliError> {
    let stream = StreamId::Unit(UnitId(unit));
    act::<Option<Unit>>(acting, stream, Target::Existing, command).await
}

/// Runs a `person` subcommand and prints what it did.
pub async fn person(command: PersonAction) -> Result<(), CliError> {
    let line = match command {
        PersonAction::List(listing) => return list_people(listing),
        PersonAction::Register { acting, name, id } => {
            let person_id = PersonId(id.unwrap_or_else(Uuid::new_v4));
            let command = PersonCommand::Register { person_id, name };
            let stream = StreamId::Person(person_id);
            let at = act::<Option<Person>>(acting, stream, Target::New, &command).await?;
            format!("registered person {person_id} (log position {at})")
        }
        PersonAction::Grant {
            acting,
            person,
            role,
            committee,
            unit,
            until,
            id,
        } => {
            let role = role.role(committee).map_err(CliError::Usage)?;
            let grant_id = GrantId(id.unwrap_or_else(Uuid::new_v4));
            let command = PersonCommand::GrantRole {
                grant_id,
                role,
                unit_id: UnitId(unit),
                until,
            };
            let at = on_person(acting, person, &command).await?;
            let role = role_word(role);
            format!(
                "granted {role} in unit {unit} to person {person}: grant {} (log position {at})",
                grant_id.0
            )
        }
        PersonAction::EndRole {
            acting,
            person,
            grant,
        } => {
            let command = PersonCommand::EndRole {
                grant_id: GrantId(grant),
            };
            let at = on_person(acting, person, &command).await?;
            format!("ended grant {grant} of person {person} (log position {at})")
        }
    };
    print_lines(&[line])
}

async fn on_person(acting: Acting, person: Uuid, command: &PersonCommand) -> Result<u64, CliError> {
    let stream = StreamId::Person(PersonId(person));
    act::<Option<Person>>(acting, stream, Target::Existing, command).await
}

/// Runs a `household` subcommand and prints what it did.
pub async fn household(command: HouseholdAction) -> Result<(), CliError> {
    let line = match command {
        HouseholdAction::Assign {
            acting,
            household,
            member,
        } => {
            let command = HouseholdCommand::AssignMember {
                member_id: PersonId(member),
            };
            let at = on_household(acting, household, &command).await?;
            format!("assigned member {member} to household {household} (log position {at})")
        }
        HouseholdAction::Unassign { acting, household } => {
            let command = HouseholdCommand::EndAssignment;
            let at = on_household(acting, household, &command).await?;
            format!("ended the assignment of household {household} (log position {at})")
        }
    };
    print_lines(&[line])
}

async fn on_household(
    acting: Acting,
    household: Uuid,
    command: &HouseholdCommand,
) -> Result<u64, CliError> {
    let stream = StreamId::Household(HouseholdId(household));
    act::<Option<Household>>(acting, stream, Target::Existing, command).await
}

/// The name serde gives a value (`commune`, `party_cell`).
fn serde_word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        _ => String::new(),
    }
}

/// A role's name, and its committee for a committee member.
fn role_word(role: Role) -> String {
    match role {
        Role::Member => "member".to_owned(),
        Role::CommitteeMember { committee_id } => format!("committee_member of {committee_id}"),
        Role::Auditor => "auditor".to_owned(),
        Role::Administrator => "administrator".to_owned(),
    }
}

/// The directory of a data directory, for a listing.
fn directory_of(common: Common) -> Result<Directory, CliError> {
    let (log, _policy) = open(common)?;
    fold_directory(&log)
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Runtime(e.to_string()))?;
    print_lines(&[text])
}

/// `unit list`: every unit, parents before their children.
fn list_units(listing: Listing) -> Result<(), CliError> {
    let directory = directory_of(listing.common)?;
    let units = tree_order(&directory);
    if listing.json {
        return print_json(&json!(units));
    }
    let mut lines = vec!["id\tkind\tname\tparent".to_owned()];
    lines.extend(units.iter().map(|u| {
        let parent = u.parent_id.map_or("-".to_owned(), |p| p.to_string());
        format!("{}\t{}\t{}\t{parent}", u.id, serde_word(&u.kind), u.name)
    }));
    print_lines(&lines)
}

/// The units depth first from each root, siblings by name. A unit whose
/// parent is unknown is listed as a root.
fn tree_order(directory: &Directory) -> Vec<&Unit> {
    let ids: BTreeSet<UnitId> = directory.units().map(|u| u.id).collect();
    let mut children: BTreeMap<Option<UnitId>, Vec<&Unit>> = BTreeMap::new();
    for unit in directory.units() {
        let parent = unit.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(unit);
    }
    // Reversed, because the walk pops from the end.
    for siblings in children.values_mut() {
        siblings.sort_by(|a, b| b.name.cmp(&a.name));
    }
    let mut ordered = Vec::new();
    let mut pending = children.remove(&None).unwrap_or_default();
    while let Some(unit) = pending.pop() {
        ordered.push(unit);
        pending.extend(children.remove(&Some(unit.id)).unwrap_or_default());
    }
    ordered
}

/// `person list`: every person with the roles they hold now.
fn list_people(listing: Listing) -> Result<(), CliError> {
    let directory = directory_of(listing.common)?;
    let now = Utc::now();
    if listing.json {
        let people: Vec<_> = directory
            .people()
            .map(|p| json!({"id": p.id, "name": p.name, "roles": p.grants_at(now)}))
            .collect();
        return print_json(&json!(people));
    }
    let mut lines = vec!["id\tname\troles".to_owned()];
    lines.extend(directory.people().map(|p| {
        let roles: Vec<String> = p.grants_at(now).iter().map(grant_word).collect();
        let roles = if roles.is_empty() {
            "-".to_owned()
        } else {
            roles.join(", ")
        };
        format!("{}\t{}\t{roles}", p.id, p.name)
    }));
    print_lines(&lines)
}

/// `member in <unit> (grant <id>[, until <time>])`.
fn grant_word(grant: &RoleGrant) -> String {
    let until = grant
        .until
        .map_or(String::new(), |t| format!(", until {}", t.to_rfc3339()));
    format!(
        "{} in {} (grant {}{until})",
        role_word(grant.role),
        grant.unit_id,
        grant.grant_id.0
    )
}
