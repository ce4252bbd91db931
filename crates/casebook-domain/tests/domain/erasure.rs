//! Erasing a household's personal data, and reading a tip's sealed
//! informant on the record.

use casebook_domain::{
    ConcernCommand, ConcernKind, Confidentiality, HouseholdCommand, InformantRead, Payload,
    PersonalDataErased, Rule, SealedInformant, StreamId,
};

use crate::fixture::*;

fn erase() -> HouseholdCommand {
    HouseholdCommand::ErasePersonalData {
        reason: "Chủ hộ yêu cầu xoá dữ liệu cá nhân".to_owned(),
    }
}

fn household_events(w: &World) -> Vec<casebook_domain::Event> {
    w.log
        .iter()
        .filter(|(stream, _)| *stream == StreamId::Household(HOUSEHOLD_1))
        .map(|(_, event)| event.clone())
        .collect()
}

#[test]
fn an_administrator_erases_a_households_personal_data_for_good() {
    let w = world();
    let erased = given(&w, household_events(&w))
        .when(ADMIN, erase())
        .then_expect(vec![Payload::PersonalDataErased(PersonalDataErased {
            reason: "Chủ hộ yêu cầu xoá dữ liệu cá nhân".to_owned(),
        })])
        .expect("exists");
    assert_eq!(erased.personal, casebook_domain::PersonalDetails::erased());
    assert!(erased.circumstances.is_empty());
    let erasure = erased.erasure.as_ref().expect("erasure recorded");
    assert_eq!(erasure.erased_by, ADMIN);
    assert_eq!(erasure.reason, "Chủ hộ yêu cầu xoá dữ liệu cá nhân");
    assert!(erased.current_assignment().is_some(), "assignments stay");
}

#[test]
fn only_an_administrator_erases_and_only_once() {
    let w = world();
    given(&w, household_events(&w))
        .when(POST_A_CHIEF, erase())
        .then_refused(Rule::StructureManagedByAdministrators);
    given(&w, household_events(&w))
        .when(
            ADMIN,
            HouseholdCommand::ErasePersonalData {
                reason: "  ".to_owned(),
            },
        )
        .then_invalid("reason");
    let mut history = household_events(&w);
    let erased = given(&w, history.clone())
        .when(ADMIN, erase())
        .then_events();
    history.extend(erased);
    given(&w, history.clone())
        .when(ADMIN, erase())
        .then_illegal("erased", "erase_personal_data");
    given(&w, history.clone())
        .when(
            ADMIN,
            HouseholdCommand::UpdateDetails {
                personal: personal("Tên mới"),
                size: 3,
                circumstances: Default::default(),
            },
        )
        .then_illegal("erased", "update_details");
    given(&w, history)
        .when(ADMIN, HouseholdCommand::EndAssignment)
        .then_expect_types(&["household.assignment_ended"]);
}

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

#[test]
fn the_taker_and_a_grantee_read_the_informant_on_the_record() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, tip())]);
    given(&w, history.clone())
        .when(MEMBER_1, ConcernCommand::ReadInformant)
        .then_expect(vec![Payload::InformantRead(InformantRead {})]);
    given(&w, history.clone())
        .when(POST_A_CHIEF, ConcernCommand::ReadInformant)
        .then_refused(Rule::SealedIdentityOnlyForItsTaker);
    given(&w, history.clone())
        .when(ADMIN, ConcernCommand::ReadInformant)
        .then_refused(Rule::SealedIdentityOnlyForItsTaker);
    let grant = ConcernCommand::GrantInformantAccess {
        person_id: POST_A_CHIEF,
        reason: "Cần xác minh nguồn tin".to_owned(),
    };
    let granted = with(history, &w, &[(CELL_1, grant)]);
    given(&w, granted)
        .when(POST_A_CHIEF, ConcernCommand::ReadInformant)
        .then_expect_types(&["concern.informant_read"]);
}

#[test]
fn a_case_without_an_informant_has_nothing_to_read() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history)
        .when(MEMBER_1, ConcernCommand::ReadInformant)
        .then_invalid("concern_id");
}

#[test]
fn a_note_marked_personal_is_kept_and_may_not_be_blank() {
    let w = world();
    let with_note = ConcernCommand::Report(casebook_domain::NewConcern {
        personal_note: Some("Con trai đang cai nghiện".to_owned()),
        ..new_concern()
    });
    let concern = given(&w, Vec::new())
        .when(MEMBER_1, with_note)
        .then_expect_types(&["concern.reported"])
        .expect("reported");
    assert_eq!(
        concern.personal_note.as_deref(),
        Some("Con trai đang cai nghiện")
    );
    let blank = ConcernCommand::Report(casebook_domain::NewConcern {
        personal_note: Some(" ".to_owned()),
        ..new_concern()
    });
    given(&w, Vec::new())
        .when(MEMBER_1, blank)
        .then_invalid("personal_note");
}
