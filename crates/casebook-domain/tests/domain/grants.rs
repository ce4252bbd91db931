//! The two events the API needed: a grant to read a tip's sealed informant,
//! and the mark a conflicting offline command leaves on its case.

use casebook_domain::{
    permission, ConcernCommand, ConcernKind, Confidentiality, InformantAccessGranted, Payload,
    SealedInformant, SyncConflictMarked,
};
use uuid::Uuid;

use crate::fixture::*;

fn tip() -> ConcernCommand {
    ConcernCommand::Report(casebook_domain::NewConcern {
        kind: ConcernKind::Tip,
        confidentiality: Confidentiality::ConfidentialTip,
        sealed_informant: Some(SealedInformant {
            name: "Người báo tin".to_owned(),
            contact: None,
            note: None,
        }),
        ..new_concern()
    })
}

fn grant(person_id: casebook_domain::PersonId) -> ConcernCommand {
    ConcernCommand::GrantInformantAccess {
        person_id,
        reason: "Cần xác minh nguồn tin".to_owned(),
    }
}

#[test]
fn a_committee_grants_access_to_the_informant_and_the_grantee_may_read_it() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, tip())]);
    let concern = given(&w, history)
        .when(CELL_1, grant(POST_A_CHIEF))
        .then_expect(vec![Payload::InformantAccessGranted(
            InformantAccessGranted {
                person_id: POST_A_CHIEF,
                reason: "Cần xác minh nguồn tin".to_owned(),
            },
        )])
        .expect("exists");
    assert_eq!(
        permission::may_read_sealed_informant(POST_A_CHIEF, &concern),
        Ok(())
    );
    assert!(permission::may_read_sealed_informant(ADMIN, &concern).is_err());
}

#[test]
fn a_member_cannot_grant_access_to_the_informant() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, tip())]);
    given(&w, history)
        .when(MEMBER_1, grant(POST_A_CHIEF))
        .then_refused(casebook_domain::Rule::RoleRequired);
}

#[test]
fn a_case_without_an_informant_grants_nothing() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history)
        .when(CELL_1, grant(POST_A_CHIEF))
        .then_invalid("concern_id");
}

#[test]
fn a_sync_conflict_is_marked_even_on_a_closed_case() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    let command = ConcernCommand::MarkSyncConflict {
        command_id: Uuid::from_u128(7),
        command: "withdraw".to_owned(),
        reason: "the case moved on".to_owned(),
    };
    let concern = given(&w, history)
        .when(MEMBER_1, command)
        .then_expect(vec![Payload::SyncConflictMarked(SyncConflictMarked {
            command_id: Uuid::from_u128(7),
            command: "withdraw".to_owned(),
            reason: "the case moved on".to_owned(),
        })])
        .expect("exists");
    assert_eq!(concern.sync_conflicts, 1);
}

#[test]
fn a_stranger_cannot_mark_a_sync_conflict() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    let command = ConcernCommand::MarkSyncConflict {
        command_id: Uuid::from_u128(7),
        command: "withdraw".to_owned(),
        reason: "the case moved on".to_owned(),
    };
    given(&w, history)
        .when(STRANGER, command)
        .then_refused(casebook_domain::Rule::RoleRequired);
}
