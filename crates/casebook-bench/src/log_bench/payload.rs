//! The one payload every store writes: a realistic concern report.
//!
//! Built once per run so that every store and every configuration writes the
//! same bytes: about 500 bytes of JSON with Vietnamese text (multi-byte
//! UTF-8), ids, a topic and a priority, as a member's phone would send it.

use crate::error::Result;
use casebook_log::{Metadata, NewEvent};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// The event type our log records the payload under.
const EVENT_TYPE: &str = "concern.reported";
/// The payload's schema version.
const SCHEMA_VERSION: u32 = 1;
/// The member who reports, as the metadata's actor.
const ACTOR: &str = "person-0b8f6a1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b";

/// A report and its forms: JSON for our log, bytes for the raw stores.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The report as JSON, as our log takes it.
    pub json: Value,
    /// The same report serialised, as the raw file, raw sled and SQLite store it.
    pub bytes: Arc<[u8]>,
    /// Who, why and when, the same for every event.
    pub metadata: Metadata,
}

impl Payload {
    /// Builds the report once.
    pub fn build() -> Result<Self> {
        let json = concern_report();
        let bytes: Arc<[u8]> = serde_json::to_vec(&json)?.into();
        let metadata = Metadata {
            actor: ACTOR.to_owned(),
            correlation_id: Some(Uuid::new_v4()),
            causation_id: None,
            occurred_at: field_time(),
        };
        Ok(Payload {
            json,
            bytes,
            metadata,
        })
    }

    /// `count` events for our log, each with a fresh id.
    pub fn new_events(&self, count: usize) -> Vec<NewEvent> {
        (0..count)
            .map(|_| NewEvent {
                id: Uuid::new_v4(),
                event_type: EVENT_TYPE.to_owned(),
                schema_version: SCHEMA_VERSION,
                data: self.json.clone(),
                metadata: self.metadata.clone(),
            })
            .collect()
    }
}

/// When the concern was noticed in the field: a fixed time, so runs compare.
fn field_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 2, 30, 0)
        .single()
        .unwrap_or_default()
}

fn concern_report() -> Value {
    json!({
        "concern_id": "4a6f2b9e-8d1c-4f3a-9b7e-2c5d8e1f0a3b",
        "household_id": "9c3e7a1b-5f2d-4c8e-a6b9-0d1e2f3a4b5c",
        "unit_id": "ap-3-xa-tan-phu",
        "topic": "an_sinh_xa_hoi",
        "priority": "cao",
        "channel": "tham_ho",
        "title": "Gia đình khó khăn sau khi người mẹ mất việc",
        "description": "Chị Hương mất việc ở xưởng may từ tháng trước, hai cháu nhỏ \
                        nghỉ học buổi chiều. Ông nội bị tai biến, cần thuốc thường xuyên. \
                        Đề nghị hỗ trợ gạo.",
        "people_concerned": 4,
        "follow_up_requested": true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_about_500_bytes() {
        let payload = Payload::build().unwrap();
        let len = payload.bytes.len();
        assert!((400..=600).contains(&len), "payload is {len} bytes");
    }
}
