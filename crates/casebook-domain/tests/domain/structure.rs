//! Units, people, households and assignments.

use std::collections::BTreeSet;

use casebook_domain::{
    fold, permission, AssignmentEnded, CommitteeKind, CommuneCovered, GrantId, Household,
    HouseholdCommand, HouseholdDetailsUpdated, MemberAssigned, Payload, PersonCommand, Role,
    RoleEnded, Rule, StreamId, UnitCommand, UnitCreated, UnitId, UnitKind,
};
use uuid::Uuid;

use crate::fixture::*;

fn stream_events(w: &World, stream: StreamId) -> Vec<casebook_domain::Event> {
    w.log
        .iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, e)| e.clone())
        .collect()
}

const NEW_UNIT: UnitId = UnitId(Uuid::from_u128(0x999));

fn create(kind: UnitKind, parent_id: Option<UnitId>) -> UnitCommand {
    UnitCommand::Create {
        unit_id: NEW_UNIT,
        kind,
        name: "Ấp mới".to_owned(),
        parent_id,
    }
}

#[test]
fn an_administrator_creates_a_hamlet_under_a_commune() {
    let w = world();
    given(&w, vec![])
        .when(ADMIN, create(UnitKind::Hamlet, Some(COMMUNE_X)))
        .then_expect(vec![Payload::UnitCreated(UnitCreated {
            unit_id: NEW_UNIT,
            kind: UnitKind::Hamlet,
            name: "Ấp mới".to_owned(),
            parent_id: Some(COMMUNE_X),
        })]);
}

#[test]
fn units_hang_only_under_allowed_kinds() {
    let w = world();
    given(&w, vec![])
        .when(ADMIN, create(UnitKind::Hamlet, Some(POST_A)))
        .then_invalid("parent_id");
    given(&w, vec![])
        .when(ADMIN, create(UnitKind::Post, None))
        .then_invalid("parent_id");
    given(&w, vec![])
        .when(ADMIN, create(UnitKind::ProvincialCommand, None))
        .then_expect_types(&["unit.created"]);
    given(&w, vec![])
        .when(ADMIN, create(UnitKind::Commune, Some(PROVINCE)))
        .then_expect_types(&["unit.created"]);
}

#[test]
fn only_an_administrator_manages_units_and_people() {
    let w = world();
    given(&w, vec![])
        .when(POST_A_CHIEF, create(UnitKind::Hamlet, Some(COMMUNE_X)))
        .then_refused(Rule::StructureManagedByAdministrators);
    let register = PersonCommand::Register {
        person_id: casebook_domain::PersonId(Uuid::from_u128(0x999)),
        name: "X".to_owned(),
    };
    given(&w, vec![])
        .when(MEMBER_1, register)
        .then_refused(Rule::StructureManagedByAdministrators);
}

#[test]
fn only_a_post_covers_communes() {
    let w = world();
    let cover = UnitCommand::CoverCommune {
        commune_id: COMMUNE_Y,
    };
    given(&w, stream_events(&w, StreamId::Unit(POST_A)))
        .when(ADMIN, cover.clone())
        .then_expect(vec![Payload::CommuneCovered(CommuneCovered {
            commune_id: COMMUNE_Y,
        })]);
    given(&w, stream_events(&w, StreamId::Unit(COMMUNE_X)))
        .when(ADMIN, cover.clone())
        .then_invalid("unit");
    given(&w, stream_events(&w, StreamId::Unit(POST_B)))
        .when(ADMIN, cover)
        .then_invalid("commune_id");
    let hamlet = UnitCommand::CoverCommune {
        commune_id: HAMLET_1,
    };
    given(&w, stream_events(&w, StreamId::Unit(POST_A)))
        .when(ADMIN, hamlet)
        .then_invalid("commune_id");
    let uncover = UnitCommand::UncoverCommune {
        commune_id: COMMUNE_Y,
    };
    let post_b = given(&w, stream_events(&w, StreamId::Unit(POST_B)))
        .when(ADMIN, uncover)
        .then_expect_types(&["unit.commune_uncovered"]);
    assert!(post_b.expect("exists").covers.is_empty());
}

#[test]
fn a_unit_is_renamed_and_forms_committees() {
    let w = world();
    let events = stream_events(&w, StreamId::Unit(HAMLET_1));
    let rename = UnitCommand::Rename {
        name: "Ấp Âu Thọ B".to_owned(),
    };
    assert_eq!(
        given(&w, events.clone())
            .when(ADMIN, rename)
            .then_expect_types(&["unit.renamed"])
            .expect("exists")
            .name,
        "Ấp Âu Thọ B"
    );
    let again = UnitCommand::FormCommittee {
        committee_id: HAMLET_1_CELL,
        kind: CommitteeKind::PartyCell,
        name: "x".to_owned(),
    };
    given(&w, events)
        .when(ADMIN, again)
        .then_invalid("committee_id");
}

#[test]
fn jurisdiction_is_the_unit_below_and_the_covered_communes() {
    let w = world();
    let d = &w.directory;
    assert!(permission::is_within(d, HAMLET_1, HAMLET_1));
    assert!(permission::is_within(d, COMMUNE_X, HAMLET_1));
    assert!(permission::is_within(d, POST_A, HAMLET_1));
    assert!(permission::is_within(d, PROVINCE, HAMLET_2));
    assert!(
        permission::is_within(d, POST_B, HAMLET_2),
        "post B covers commune Y"
    );
    assert!(permission::is_within(d, POST_B, COMMUNE_Y));
    assert!(!permission::is_within(d, POST_A, HAMLET_2));
    assert!(!permission::is_within(d, HAMLET_1, COMMUNE_X));
    assert!(!permission::is_above(d, HAMLET_1, HAMLET_1));
    assert!(permission::is_above(d, PROVINCE, POST_B));
}

#[test]
fn roles_are_held_over_periods() {
    let w = world();
    let events = stream_events(&w, StreamId::Person(MEMBER_1));
    let grant = GrantId(MEMBER_1.0);
    let person = given(&w, events.clone())
        .at(t0())
        .when(ADMIN, PersonCommand::EndRole { grant_id: grant })
        .then_expect(vec![Payload::RoleEnded(RoleEnded {
            grant_id: grant,
            until: t0(),
        })]);
    let person = person.expect("exists");
    assert_eq!(person.grants_at(hours(-1)).len(), 1);
    assert!(person.grants_at(t0()).is_empty());
    let committee_elsewhere = PersonCommand::GrantRole {
        grant_id: GrantId(Uuid::from_u128(0x777)),
        role: Role::CommitteeMember {
            committee_id: POST_B_COMMITTEE,
        },
        unit_id: POST_A,
        until: None,
    };
    given(&w, events.clone())
        .when(ADMIN, committee_elsewhere)
        .then_invalid("unit_id");
    let reused = PersonCommand::GrantRole {
        grant_id: grant,
        role: Role::Auditor,
        unit_id: PROVINCE,
        until: None,
    };
    given(&w, events)
        .when(ADMIN, reused)
        .then_invalid("grant_id");
}

#[test]
fn reassignment_keeps_the_history() {
    let w = world();
    let events = stream_events(&w, StreamId::Household(HOUSEHOLD_1));
    let household: Option<Household> = given(&w, events)
        .at(t0())
        .when(
            POST_A_CHIEF,
            HouseholdCommand::AssignMember {
                member_id: MEMBER_2,
            },
        )
        .then_expect(vec![
            Payload::AssignmentEnded(AssignmentEnded {
                member_id: MEMBER_1,
                until: t0(),
            }),
            Payload::MemberAssigned(MemberAssigned {
                member_id: MEMBER_2,
                from: t0(),
            }),
        ]);
    let household = household.expect("exists");
    assert_eq!(household.assignments.len(), 2);
    assert_eq!(household.member_at(hours(-1)), Some(MEMBER_1));
    assert_eq!(household.member_at(t0()), Some(MEMBER_2));
    assert_eq!(
        household.member_at(setup_time() - chrono::TimeDelta::days(1)),
        None
    );
}

#[test]
fn an_assignment_ends_and_can_start_again() {
    let w = world();
    let events = stream_events(&w, StreamId::Household(HOUSEHOLD_1));
    let ended = given(&w, events.clone())
        .at(t0())
        .when(ADMIN, HouseholdCommand::EndAssignment)
        .then_expect_types(&["household.assignment_ended"]);
    assert_eq!(ended.expect("exists").current_assignment(), None);
    given(&w, events.clone())
        .when(
            ADMIN,
            HouseholdCommand::AssignMember {
                member_id: MEMBER_1,
            },
        )
        .then_invalid("member_id");
    given(&w, events)
        .when(ADMIN, HouseholdCommand::AssignMember { member_id: CELL_1 })
        .then_invalid("member_id");
}

#[test]
fn a_committee_assigns_only_within_its_jurisdiction() {
    let w = world();
    let events = stream_events(&w, StreamId::Household(HOUSEHOLD_1));
    given(&w, events)
        .when(
            POST_B_CHIEF,
            HouseholdCommand::AssignMember {
                member_id: MEMBER_2,
            },
        )
        .then_refused(Rule::StructureManagedByAdministrators);
}

#[test]
fn household_details_are_updated_and_personal_data_stays_grouped() {
    let w = world();
    let events = stream_events(&w, StreamId::Household(HOUSEHOLD_1));
    let circumstances = BTreeSet::from([casebook_domain::Circumstance::EthnicMinority]);
    let update = HouseholdCommand::UpdateDetails {
        personal: personal("Nguyễn Thị C"),
        size: 5,
        circumstances: circumstances.clone(),
    };
    given(&w, events.clone())
        .when(ADMIN, update)
        .then_expect(vec![Payload::HouseholdDetailsUpdated(
            HouseholdDetailsUpdated {
                personal: personal("Nguyễn Thị C"),
                size: 5,
                circumstances,
            },
        )]);
    let empty = HouseholdCommand::UpdateDetails {
        personal: personal(""),
        size: 5,
        circumstances: BTreeSet::new(),
    };
    given(&w, events.clone())
        .when(ADMIN, empty)
        .then_invalid("head_of_household");
    let zero = HouseholdCommand::UpdateDetails {
        personal: personal("A"),
        size: 0,
        circumstances: BTreeSet::new(),
    };
    given(&w, events).when(ADMIN, zero).then_invalid("size");
}

#[test]
fn a_household_lives_in_a_hamlet() {
    let w = world();
    let register = HouseholdCommand::Register {
        household_id: casebook_domain::HouseholdId(Uuid::from_u128(0x999)),
        hamlet_id: COMMUNE_X,
        personal: personal("A"),
        size: 3,
        circumstances: BTreeSet::new(),
    };
    given(&w, vec![])
        .when(ADMIN, register)
        .then_invalid("hamlet_id");
}

#[test]
fn the_directory_is_a_fold_of_the_log() {
    let w = world();
    let mut again = casebook_domain::Directory::new();
    again.apply_all(w.log.iter().map(|(s, e)| (*s, e)));
    assert_eq!(again, w.directory);
    let household: Option<Household> = fold(&stream_events(&w, StreamId::Household(HOUSEHOLD_2)));
    assert_eq!(household.expect("exists").member_at(t0()), Some(MEMBER_2));
}
