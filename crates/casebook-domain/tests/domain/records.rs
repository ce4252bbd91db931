//! The stored shape of every event type (golden files), upcasting, and
//! stream names.
//!
//! Run with `UPDATE_GOLDEN=1` to rewrite the golden files after a deliberate
//! change of shape; review the diff, and add an upcast for the old version.

use std::collections::BTreeSet;
use std::path::PathBuf;

use casebook_domain::*;
use chrono::TimeDelta;
use uuid::Uuid;

use crate::fixture::*;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn sample(payload: Payload) -> Event {
    Event {
        actor: MEMBER_1,
        occurred_at: t0(),
        recorded_at: t0() + TimeDelta::minutes(90),
        payload,
    }
}

/// One event of every type, with every optional field filled where it has one.
pub fn samples() -> Vec<Event> {
    let deadline = hours(24 * 15);
    let text = |s: &str| s.to_owned();
    let payloads = vec![
        Payload::UnitCreated(UnitCreated {
            unit_id: HAMLET_1,
            kind: UnitKind::Hamlet,
            name: text("Ấp Âu Thọ A"),
            parent_id: Some(COMMUNE_X),
        }),
        Payload::UnitRenamed(UnitRenamed {
            name: text("Ấp Âu Thọ B"),
        }),
        Payload::CommuneCovered(CommuneCovered {
            commune_id: COMMUNE_Y,
        }),
        Payload::CommuneUncovered(CommuneUncovered {
            commune_id: COMMUNE_Y,
        }),
        Payload::CommitteeFormed(CommitteeFormed {
            committee_id: HAMLET_1_CELL,
            kind: CommitteeKind::PartyCell,
            name: text("Chi bộ ấp Âu Thọ A"),
        }),
        Payload::PersonRegistered(PersonRegistered {
            person_id: MEMBER_1,
            name: text("Thiếu úy Lê Văn A"),
        }),
        Payload::RoleGranted(RoleGranted {
            grant_id: GrantId(Uuid::from_u128(0x600)),
            role: Role::CommitteeMember {
                committee_id: HAMLET_1_CELL,
            },
            unit_id: HAMLET_1,
            from: setup_time(),
            until: Some(deadline),
        }),
        Payload::RoleEnded(RoleEnded {
            grant_id: GrantId(Uuid::from_u128(0x600)),
            until: t0(),
        }),
        Payload::HouseholdRegistered(HouseholdRegistered {
            household_id: HOUSEHOLD_1,
            hamlet_id: HAMLET_1,
            personal: PersonalDetails {
                head_of_household: text("Nguyễn Thị C"),
                phone: Some(text("0912 345 678")),
                address: Some(text("Tổ 3")),
                note: Some(text("Hộ nghèo")),
            },
            size: 4,
            circumstances: BTreeSet::from([
                Circumstance::PoorHousehold,
                Circumstance::EthnicMinority,
            ]),
        }),
        Payload::HouseholdDetailsUpdated(HouseholdDetailsUpdated {
            personal: PersonalDetails {
                head_of_household: text("Nguyễn Thị C"),
                phone: None,
                address: None,
                note: None,
            },
            size: 5,
            circumstances: BTreeSet::from([Circumstance::PolicyFamily]),
        }),
        Payload::MemberAssigned(MemberAssigned {
            member_id: MEMBER_1,
            from: setup_time(),
        }),
        Payload::AssignmentEnded(AssignmentEnded {
            member_id: MEMBER_1,
            until: t0(),
        }),
        Payload::PersonalDataErased(casebook_domain::PersonalDataErased {
            reason: text("Chủ hộ yêu cầu xoá dữ liệu cá nhân"),
        }),
        Payload::ConcernReported(ConcernReported {
            concern_id: CONCERN,
            subject: Subject::Hamlet {
                household_ids: vec![HOUSEHOLD_1, HOUSEHOLD_2],
            },
            hamlet_id: HAMLET_1,
            coordinates: Some(Coordinates {
                latitude: 9.5,
                longitude: 106.25,
            }),
            kind: ConcernKind::Tip,
            topic: topic("crime_smuggling"),
            priority: Priority::Urgent,
            confidentiality: Confidentiality::ConfidentialTip,
            sealed_informant: Some(SealedInformant {
                name: text("Người báo tin"),
                contact: Some(text("0987 654 321")),
                note: None,
            }),
            text: text("Có đối tượng vận chuyển hàng lậu qua sông vào ban đêm."),
            personal_note: Some(text("Người báo tin sợ bị trả thù")),
        }),
        Payload::ConcernAcknowledged(ConcernAcknowledged {
            topic: topic("livelihood_loans"),
            priority: Priority::Normal,
            deadline,
        }),
        Payload::ConcernAssigned(ConcernAssigned {
            assignee: Assignee::Committee {
                committee_id: HAMLET_1_CELL,
            },
            handling_unit_id: HAMLET_1,
        }),
        Payload::ActionRecorded(ActionRecorded {
            action: ActionKind::Visit,
            summary: text("Đến thăm hộ, ghi nhận hoàn cảnh"),
        }),
        Payload::ConcernEscalated(ConcernEscalated {
            to: EscalationTarget::Committee {
                committee_id: POST_A_COMMITTEE,
                unit_id: POST_A,
            },
            from_unit_id: HAMLET_1,
            reason: text("Vượt thẩm quyền chi bộ"),
        }),
        Payload::ReferredOut(ReferredOut {
            referral_no: 1,
            body: text("Ngân hàng Chính sách xã hội"),
            reason: text("Vay vốn"),
        }),
        Payload::ReferralAnswered(ReferralAnswered {
            referral_no: 1,
            answer: text("Đã giải ngân"),
        }),
        Payload::ClockPaused(ClockPaused {
            reason: text("Chờ UBND xã"),
        }),
        Payload::ClockResumed(ClockResumed {
            paused_seconds: 172_800,
            deadline,
        }),
        Payload::InterimReplied(InterimReplied {
            message: text("Đang xác minh"),
            deadline,
            reason: text("Cần thêm thời gian"),
        }),
        Payload::ConcernResolved(ConcernResolved {
            outcome: Outcome::Declined {
                reason: text("Không thuộc thẩm quyền"),
            },
            summary: text("Đã giải thích cho hộ dân"),
        }),
        Payload::FeedbackRecorded(FeedbackRecorded {
            satisfied: false,
            comment: text("Chưa thỏa đáng"),
        }),
        Payload::AppealOpened(AppealOpened {
            committee_id: POST_A_COMMITTEE,
            unit_id: POST_A,
            reason: text("Chưa thỏa đáng"),
            deadline,
        }),
        Payload::ConcernReopened(ConcernReopened {
            reason: text("Phát sinh mới"),
            deadline,
        }),
        Payload::ConcernClosed(ConcernClosed {
            note: text("Hoàn thành"),
        }),
        Payload::ConcernMerged(ConcernMerged {
            into_concern_id: OTHER_CONCERN,
        }),
        Payload::ConcernWithdrawn(ConcernWithdrawn {
            reason: text("Hộ dân rút lại"),
        }),
        Payload::InformantAccessGranted(InformantAccessGranted {
            person_id: MEMBER_1,
            reason: text("Cần xác minh nguồn tin"),
        }),
        Payload::InformantRead(casebook_domain::InformantRead {}),
        Payload::SyncConflictMarked(SyncConflictMarked {
            command_id: Uuid::from_u128(0x5151),
            command: text("record_action"),
            reason: text("`record_action` is not allowed on a concern that is `closed`"),
        }),
        Payload::DeadlineApproaching(casebook_domain::DeadlineApproaching {
            deadline,
            handling_unit_id: HAMLET_1,
            notify_unit_id: COMMUNE_X,
        }),
        Payload::DeadlinePassed(casebook_domain::DeadlinePassed {
            deadline,
            handling_unit_id: HAMLET_1,
            notify_unit_id: COMMUNE_X,
        }),
    ];
    payloads.into_iter().map(sample).collect()
}

fn golden_name(event_type: &str, schema_version: u32) -> String {
    format!("{event_type}.v{schema_version}.json")
}

/// The record as JSON with keys sorted, whatever serde_json's map order is
/// (another crate of the workspace may turn `preserve_order` on).
fn canonical(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(canonical).collect())
        }
        other => other,
    }
}

fn pretty(record: &EventRecord) -> String {
    let value = canonical(serde_json::to_value(record).expect("serialises"));
    serde_json::to_string_pretty(&value).expect("serialises") + "\n"
}

#[test]
fn every_event_type_has_one_sample() {
    let sampled: Vec<&str> = samples().iter().map(|e| e.payload.event_type()).collect();
    let known: Vec<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    assert_eq!(sampled, known);
}

#[test]
fn every_event_type_matches_its_golden_file() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for event in samples() {
        let record = to_record(&event).expect("encodes");
        let path = golden_dir().join(golden_name(&record.event_type, record.schema_version));
        if update {
            std::fs::write(&path, pretty(&record)).expect("writes the golden file");
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
                path.display()
            )
        });
        let stored: EventRecord = serde_json::from_str(&golden).expect("parses");
        assert_eq!(
            canonical(serde_json::to_value(&record).expect("serialises")),
            canonical(serde_json::to_value(&stored).expect("serialises")),
            "{} changed shape: review, then UPDATE_GOLDEN=1",
            path.display()
        );
        assert_eq!(
            from_record(&stored, event.recorded_at).expect("decodes"),
            event
        );
    }
}

#[test]
fn no_golden_file_is_left_without_its_event_type() {
    let expected: BTreeSet<String> = EVENT_TYPES
        .iter()
        .map(|t| golden_name(t.name, t.schema_version))
        .collect();
    let found: BTreeSet<String> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_v1_report_is_upcast_to_v2() {
    let path = golden_dir().join("upcast").join("concern.reported.v1.json");
    let stored: EventRecord =
        serde_json::from_str(&std::fs::read_to_string(path).expect("reads")).expect("parses");
    assert_eq!(stored.schema_version, 1);
    let event = from_record(&stored, t0()).expect("upcasts");
    let expected = ConcernReported {
        concern_id: CONCERN,
        subject: Subject::Household {
            household_id: HOUSEHOLD_1,
        },
        hamlet_id: HAMLET_1,
        coordinates: None,
        kind: ConcernKind::Complaint,
        topic: topic("land"),
        priority: Priority::High,
        confidentiality: Confidentiality::Sensitive,
        sealed_informant: None,
        text: "Tranh chấp ranh giới đất với hộ bên cạnh.".to_owned(),
        personal_note: None,
    };
    assert_eq!(event.payload, Payload::ConcernReported(expected));
    assert_eq!(
        (event.actor, event.occurred_at, event.recorded_at),
        (MEMBER_1, setup_time(), t0())
    );
    let upcast_again = payload_to_record(&event.payload).expect("encodes");
    assert_eq!((upcast_again.0, upcast_again.1), ("concern.reported", 2));
}

#[test]
fn every_event_type_reads_from_its_stored_bytes_as_from_its_json_tree() {
    for event in samples() {
        let record = to_record(&event).expect("encodes");
        let bytes = serde_json::to_vec(&record.data).expect("serialises");
        let direct = payload_from_current_bytes(&record.event_type, record.schema_version, &bytes)
            .expect("decodes");
        assert_eq!(direct, Some(event.payload), "{}", record.event_type);
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b" x");
        assert!(
            matches!(
                payload_from_current_bytes(&record.event_type, record.schema_version, &trailing),
                Err(DomainError::MalformedRecord { .. })
            ),
            "{} with bytes after its data",
            record.event_type
        );
    }
}

#[test]
fn only_current_versions_read_from_bytes_and_bad_bytes_are_refused() {
    let path = golden_dir().join("upcast").join("concern.reported.v1.json");
    let stored: EventRecord =
        serde_json::from_str(&std::fs::read_to_string(path).expect("reads")).expect("parses");
    let bytes = serde_json::to_vec(&stored.data).expect("serialises");
    assert_eq!(
        payload_from_current_bytes("concern.reported", 1, &bytes),
        Ok(None),
        "an older version is left to the upcasting path"
    );
    assert_eq!(
        payload_from_current_bytes("concern.teleported", 1, b"{}"),
        Ok(None)
    );
    for bad in [&b"{"[..], b"{}", b"[1]", b"{\"concern_id\": 3}"] {
        assert!(
            matches!(
                payload_from_current_bytes("concern.closed", 1, bad),
                Err(DomainError::MalformedRecord { .. })
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn unknown_types_and_versions_are_refused() {
    let data = serde_json::json!({});
    assert_eq!(
        payload_from_record("concern.teleported", 1, data.clone()),
        Err(DomainError::UnknownEvent {
            event_type: "concern.teleported".to_owned(),
            schema_version: 1
        })
    );
    assert!(matches!(
        payload_from_record("concern.closed", 2, data.clone()),
        Err(DomainError::UnknownEvent { .. })
    ));
    assert!(matches!(
        payload_from_record("concern.closed", 0, data.clone()),
        Err(DomainError::UnknownEvent { .. })
    ));
    assert!(matches!(
        payload_from_record("concern.closed", 1, data.clone()),
        Err(DomainError::MalformedRecord { .. })
    ));
    assert!(matches!(
        payload_from_record("concern.reported", 1, data),
        Err(DomainError::MalformedRecord { .. })
    ));
}

#[test]
fn metadata_carries_actor_and_field_time() {
    let event = samples().remove(0);
    let record = to_record(&event).expect("encodes");
    let metadata: RecordMetadata = serde_json::from_value(record.metadata).expect("parses");
    assert_eq!(
        metadata,
        RecordMetadata {
            actor: event.actor,
            occurred_at: event.occurred_at
        }
    );
}

#[test]
fn streams_are_named_category_dash_uuid() {
    assert_eq!(
        CONCERN.stream(),
        "concern-00000000-0000-0000-0000-000000000501"
    );
    assert_eq!(
        HOUSEHOLD_1.stream(),
        "household-00000000-0000-0000-0000-000000000401"
    );
    assert_eq!(
        HAMLET_1.stream(),
        "unit-00000000-0000-0000-0000-000000001111"
    );
    assert_eq!(
        MEMBER_1.stream(),
        "person-00000000-0000-0000-0000-000000000301"
    );
    for stream in [
        StreamId::Concern(CONCERN),
        StreamId::Household(HOUSEHOLD_1),
        StreamId::Unit(HAMLET_1),
        StreamId::Person(MEMBER_1),
    ] {
        assert_eq!(StreamId::parse(&stream.name()), Ok(stream));
    }
    for category in [
        ConcernId::CATEGORY,
        HouseholdId::CATEGORY,
        UnitId::CATEGORY,
        PersonId::CATEGORY,
    ] {
        assert!(category.chars().all(|c| c.is_ascii_lowercase()));
    }
    assert!(StreamId::parse("case-00000000-0000-0000-0000-000000000501").is_err());
    assert!(StreamId::parse("concern-42").is_err());
    assert!(StreamId::parse("concern").is_err());
}
