//! Sealing and unsealing whole events through the codec, as the API and the
//! views do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use casebook_domain::{
    Circumstance, Event, HouseholdId, HouseholdRegistered, Payload, PersonId, PersonalDetails,
    UnitId,
};
use casebook_log::RecordedEvent;
use casebook_privacy::{
    decode, encode, seal, KeyStore, MasterKey, PrivacyError, Unsealer, SEALED_TAG,
};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

const NAME: &str = "Lò Thị Xuyến";

fn registered(household: Uuid) -> Event {
    Event {
        actor: PersonId(Uuid::from_u128(1)),
        occurred_at: Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap(),
        recorded_at: Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 1).unwrap(),
        payload: Payload::HouseholdRegistered(HouseholdRegistered {
            household_id: HouseholdId(household),
            hamlet_id: UnitId(Uuid::from_u128(2)),
            personal: PersonalDetails {
                head_of_household: NAME.to_owned(),
                phone: Some("0912 345 678".to_owned()),
                address: None,
                note: None,
            },
            size: 4,
            circumstances: [Circumstance::PoorHousehold].into(),
        }),
    }
}

/// What the log would hand back for `new` on `stream`.
fn recorded(new: &casebook_log::NewEvent, stream: &str) -> RecordedEvent {
    RecordedEvent {
        id: new.id,
        stream: stream.to_owned(),
        revision: 0,
        position: 0,
        event_type: new.event_type.clone(),
        schema_version: new.schema_version,
        data: serde_json::to_vec(&new.data).unwrap(),
        metadata: new.metadata.clone(),
        recorded_at: Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 1).unwrap(),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

fn sealed(keys: &KeyStore, household: Uuid, id: Uuid) -> casebook_log::NewEvent {
    let mut new = encode(&registered(household), id, None).unwrap();
    seal(&mut new, &format!("household-{household}"), keys).unwrap();
    new
}

/// A key store of its own, in a directory that lives as long as the tuple.
fn key_store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::open(dir.path(), MasterKey::generate()).unwrap();
    (dir, keys)
}

/// Decodes a sealed `registered` record as the views do, and checks that
/// its personal fields came out as placeholders and the rest as written.
fn decode_withheld(record: &RecordedEvent) -> Event {
    let withheld = decode(record, Unsealer::Withhold).unwrap();
    let Payload::HouseholdRegistered(e) = &withheld.payload else {
        panic!("{:?}", withheld.payload)
    };
    assert_eq!(e.personal.head_of_household, "");
    assert!(e.circumstances.is_empty());
    assert_eq!(e.size, 4);
    withheld
}

#[test]
fn personal_fields_are_sealed_and_open_again_with_the_key() {
    let (_dir, keys) = key_store();
    let household = Uuid::new_v4();
    let new = sealed(&keys, household, Uuid::new_v4());
    let text = new.data.to_string();
    assert!(!text.contains(NAME) && !text.contains("0912"), "{text}");
    assert!(!text.contains("poor_household"), "{text}");
    assert!(new.data["personal"].get(SEALED_TAG).is_some());
    assert_eq!(new.data["size"], 4, "what is not personal stays plain");
    let stream = format!("household-{household}");
    let event = decode(&recorded(&new, &stream), Unsealer::Keys(&keys)).unwrap();
    assert_eq!(event.payload, registered(household).payload);
}

#[test]
fn a_retry_seals_to_the_same_bytes() {
    let (_dir, keys) = key_store();
    let (household, id) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        sealed(&keys, household, id).data,
        sealed(&keys, household, id).data
    );
    assert_ne!(
        sealed(&keys, household, id).data,
        sealed(&keys, household, Uuid::new_v4()).data,
        "another event seals under another nonce"
    );
}

#[test]
fn views_and_erased_households_see_placeholders() {
    let (_dir, keys) = key_store();
    let household = Uuid::new_v4();
    let stream = format!("household-{household}");
    let record = recorded(&sealed(&keys, household, Uuid::new_v4()), &stream);
    let withheld = decode_withheld(&record);
    keys.forget(household).unwrap();
    let erased = decode(&record, Unsealer::Keys(&keys)).unwrap();
    assert_eq!(erased.payload, withheld.payload);
}

#[test]
fn an_altered_or_moved_envelope_is_caught() {
    let (_dir, keys) = key_store();
    let household = Uuid::new_v4();
    let stream = format!("household-{household}");
    let mut new = sealed(&keys, household, Uuid::new_v4());
    let cipher = new.data["personal"][SEALED_TAG]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        if cipher.starts_with('0') { "1" } else { "0" },
        &cipher[1..]
    );
    new.data["personal"][SEALED_TAG]["ciphertext"] = flipped.into();
    let err = decode(&recorded(&new, &stream), Unsealer::Keys(&keys)).unwrap_err();
    assert!(
        matches!(err, PrivacyError::Tampered { ref field, .. } if field == "personal"),
        "{err}"
    );

    let mut moved = sealed(&keys, household, Uuid::new_v4());
    moved.id = Uuid::new_v4();
    let err = decode(&recorded(&moved, &stream), Unsealer::Keys(&keys)).unwrap_err();
    assert!(matches!(err, PrivacyError::Tampered { .. }), "{err}");
}

#[test]
fn a_key_store_without_the_key_fails_loudly() {
    let (_dir, keys) = key_store();
    let household = Uuid::new_v4();
    let record = recorded(
        &sealed(&keys, household, Uuid::new_v4()),
        &format!("household-{household}"),
    );
    let (_empty_dir, empty) = key_store();
    let err = decode(&record, Unsealer::Keys(&empty)).unwrap_err();
    assert!(matches!(err, PrivacyError::MissingKey { .. }), "{err}");
}

#[test]
fn a_sealed_household_gets_no_new_personal_data_after_erasure() {
    let (_dir, keys) = key_store();
    let household = Uuid::new_v4();
    sealed(&keys, household, Uuid::new_v4());
    keys.forget(household).unwrap();
    let mut new = encode(&registered(household), Uuid::new_v4(), None).unwrap();
    let err = seal(&mut new, &format!("household-{household}"), &keys).unwrap_err();
    assert!(matches!(err, PrivacyError::Erased { .. }), "{err}");
}

#[test]
fn an_event_with_nothing_sealed_decodes_as_written() {
    let household = Uuid::new_v4();
    let stream = format!("household-{household}");
    let mentioning_the_tag = {
        let mut event = registered(household);
        if let Payload::HouseholdRegistered(e) = &mut event.payload {
            e.personal.note = Some(format!(
                "Ghi chú có chữ {SEALED_TAG} mà không niêm phong gì"
            ));
        }
        event
    };
    for event in [registered(household), mentioning_the_tag] {
        // Left plain, as a store without keys would hold it.
        let record = recorded(&encode(&event, Uuid::new_v4(), None).unwrap(), &stream);
        let decoded = decode(&record, Unsealer::Withhold).unwrap();
        assert_eq!(decoded.payload, event.payload);
        assert_eq!(decoded.actor, event.actor);
        assert_eq!(decoded.occurred_at, event.occurred_at);
    }
}

#[test]
fn an_envelope_under_an_escaped_key_is_still_withheld() {
    let (_dir, keys) = key_store();
    let household = Uuid::new_v4();
    let stream = format!("household-{household}");
    let mut record = recorded(&sealed(&keys, household, Uuid::new_v4()), &stream);
    let text = String::from_utf8(record.data.clone()).unwrap();
    let escaped = text.replace("\"$sealed\"", "\"\\u0024sealed\"");
    assert_ne!(escaped, text, "the record holds an envelope");
    record.data = escaped.into_bytes();
    decode_withheld(&record);
}
