//! Which fields of an event are personal, and sealing them in place.
//!
//! A sealed field's value is replaced by an envelope:
//! `{"$sealed": {"key": "<household or case id>", "nonce": "<48 hex>",
//! "ciphertext": "<hex>"}}`, the XChaCha20-Poly1305 encryption of the
//! field's JSON text, with the event id and the field name as associated
//! data (so a sealed value cannot be moved to another event or field).
//!
//! The nonce is derived, not drawn: HMAC-SHA-256 of the event id, the field
//! and the plaintext under the data key (the SIV construction). A retried
//! command proposes the same event id with the same content, and must seal
//! to the same bytes, or the log would take the retry for a conflicting
//! reuse of the id. Equal nonces happen only for equal (event, field,
//! plaintext), which reveals nothing new.
//!
//! Where a field cannot or must not be read (its key was erased, or the
//! reader is a view that never holds personal data), [`unseal`] puts a
//! placeholder of the field's shape in its place: empty text, no
//! circumstances, no note.

use casebook_domain::StreamId;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{PrivacyError, Result};
use crate::keystore::{DataKey, KeyState, KeyStore};

/// The key of a sealed envelope.
pub const SEALED_TAG: &str = "$sealed";

/// How to open sealed fields.
#[derive(Clone, Copy, Debug)]
pub enum Unsealer<'a> {
    /// Decrypt with these keys; erased fields get placeholders.
    Keys(&'a KeyStore),
    /// Decrypt nothing: every sealed field gets its placeholder (the views).
    Withhold,
}

/// The personal fields of an event type's data.
pub fn personal_fields(event_type: &str) -> &'static [&'static str] {
    match event_type {
        "household.registered" | "household.details_updated" => &["personal", "circumstances"],
        "concern.reported" => &["sealed_informant", "personal_note"],
        _ => &[],
    }
}

/// Seals the personal fields of `event`, appended to `stream`, under the
/// key of its household (made on first use), or of the case when a whole
/// hamlet raised it. Events without personal fields are left as they are.
pub fn seal(event: &mut casebook_log::NewEvent, stream: &str, keys: &KeyStore) -> Result<()> {
    let fields = personal_fields(&event.event_type);
    if fields.iter().all(|f| !needs_sealing(event.data.get(*f))) {
        return Ok(());
    }
    let subject = sealing_subject(stream, &event.data).ok_or_else(|| PrivacyError::Malformed {
        event_id: event.id,
        event_type: event.event_type.clone(),
        reason: format!("cannot tell whose key seals it on stream {stream}"),
    })?;
    let key = keys.key_for_sealing(subject)?;
    for field in fields {
        if let Some(value) = event.data.get_mut(*field) {
            if needs_sealing(Some(value)) {
                *value = seal_value(&key, subject, event.id, field, value)?;
            }
        }
    }
    Ok(())
}

/// Opens the sealed fields of one event's data in place.
pub fn unseal(
    event_type: &str,
    event_id: Uuid,
    data: &mut Value,
    unsealer: Unsealer<'_>,
) -> Result<()> {
    for field in personal_fields(event_type) {
        let Some(value) = data.get_mut(*field) else {
            continue;
        };
        let Some(envelope) = value.get(SEALED_TAG) else {
            continue;
        };
        let opened = match unsealer {
            Unsealer::Withhold => placeholder(field),
            Unsealer::Keys(keys) => open_envelope(keys, event_id, field, envelope)?,
        };
        *value = opened;
    }
    Ok(())
}

fn needs_sealing(value: Option<&Value>) -> bool {
    matches!(value, Some(v) if !v.is_null() && v.get(SEALED_TAG).is_none())
}

/// The household whose key seals an event, or the case for a hamlet's case.
fn sealing_subject(stream: &str, data: &Value) -> Option<Uuid> {
    match StreamId::parse(stream).ok()? {
        StreamId::Household(id) => Some(id.0),
        StreamId::Concern(id) => {
            let household = data
                .pointer("/subject/household/household_id")
                .and_then(Value::as_str)
                .and_then(|text| Uuid::parse_str(text).ok());
            Some(household.unwrap_or(id.0))
        }
        StreamId::Unit(_) | StreamId::Person(_) => None,
    }
}

fn associated_data(event_id: Uuid, field: &str) -> Vec<u8> {
    [event_id.as_bytes().as_slice(), field.as_bytes()].concat()
}

fn derived_nonce(key: &DataKey, event_id: Uuid, field: &str, plain: &[u8]) -> Result<[u8; 24]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).map_err(|e| {
        PrivacyError::Malformed {
            event_id,
            event_type: String::new(),
            reason: e.to_string(),
        }
    })?;
    mac.update(&associated_data(event_id, field));
    mac.update(plain);
    let digest = mac.finalize().into_bytes();
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&digest[..24]);
    Ok(nonce)
}

fn seal_value(
    key: &DataKey,
    subject: Uuid,
    event_id: Uuid,
    field: &str,
    value: &Value,
) -> Result<Value> {
    let plain = Zeroizing::new(value.to_string().into_bytes());
    let nonce = derived_nonce(key, event_id, field, &plain)?;
    let aad = associated_data(event_id, field);
    let ciphertext = cipher(key)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .map_err(|_| PrivacyError::Tampered {
            event_id,
            field: field.to_owned(),
        })?;
    Ok(json!({ SEALED_TAG: {
        "key": subject,
        "nonce": hex::encode(nonce),
        "ciphertext": hex::encode(ciphertext),
    }}))
}

fn open_envelope(keys: &KeyStore, event_id: Uuid, field: &str, envelope: &Value) -> Result<Value> {
    let tampered = || PrivacyError::Tampered {
        event_id,
        field: field.to_owned(),
    };
    let text = |name: &str| {
        envelope
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(tampered)
    };
    let subject = Uuid::parse_str(text("key")?).map_err(|_| tampered())?;
    let key = match keys.state(subject)? {
        KeyState::Present(key) => key,
        KeyState::Erased => return Ok(placeholder(field)),
        KeyState::Absent => return Err(PrivacyError::MissingKey { subject }),
    };
    let nonce = hex::decode(text("nonce")?).map_err(|_| tampered())?;
    let ciphertext = hex::decode(text("ciphertext")?).map_err(|_| tampered())?;
    if nonce.len() != 24 {
        return Err(tampered());
    }
    let aad = associated_data(event_id, field);
    let plain = Zeroizing::new(
        cipher(&key)
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| tampered())?,
    );
    serde_json::from_slice(&plain).map_err(|_| tampered())
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

/// What a field shows when it cannot be read: its shape, with nothing in it.
fn placeholder(field: &str) -> Value {
    match field {
        "personal" => {
            json!({ "head_of_household": "", "phone": null, "address": null, "note": null })
        }
        "circumstances" => json!([]),
        "sealed_informant" => json!({ "name": "", "contact": null, "note": null }),
        _ => Value::Null,
    }
}
