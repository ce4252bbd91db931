//! Export, verify from the file alone, restore, and tampering caught.

use crate::log_with;
use casebook_audit::{restore_export, verify_export, write_export, Audit, ExportFault};
use casebook_log::{record::chain_hash, SledLog};

fn export_of(log: &SledLog, audit: &Audit) -> Vec<u8> {
    let mut out = Vec::new();
    write_export(log, audit, &mut out, |_| {}).unwrap();
    out
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

fn fault_of(bytes: &[u8]) -> ExportFault {
    verify_export(bytes, None).unwrap_err()
}

#[tokio::test]
async fn export_restore_export_is_byte_identical() {
    let (log, dir) = log_with(60).await;
    let audit_dir = dir.path().join("audit");
    let audit = Audit::open(&audit_dir).unwrap();
    let first = export_of(&log, &audit);
    let summary = verify_export(&first[..], Some(&audit.public_key_hex())).unwrap();
    assert_eq!(summary.events, 60);
    assert_eq!(
        lines(&first).len(),
        61,
        "one line per event and the signed head"
    );

    // Restore into a fresh data directory, with the signing key backed up.
    let restored = tempfile::tempdir().unwrap();
    assert_eq!(
        restore_export(&first[..], &restored.path().join("log")).unwrap(),
        60
    );
    std::fs::create_dir_all(restored.path().join("audit")).unwrap();
    std::fs::copy(
        audit_dir.join("signing-key"),
        restored.path().join("audit/signing-key"),
    )
    .unwrap();
    let restored_log = SledLog::open(restored.path().join("log")).unwrap();
    let restored_audit = Audit::open(&restored.path().join("audit")).unwrap();
    assert_eq!(export_of(&restored_log, &restored_audit), first);
}

#[tokio::test]
async fn every_kind_of_tampering_is_caught_and_named() {
    let (log, dir) = log_with(40).await;
    let audit = Audit::open(&dir.path().join("audit")).unwrap();
    let good = lines(&export_of(&log, &audit));

    let mut changed = good.clone();
    changed[12] = changed[12].replacen("tâm tư", "tâm sự", 1);
    let fault = fault_of(&join(&changed));
    assert_eq!((fault.line, fault.position), (13, Some(12)), "{fault}");

    let mut removed = good.clone();
    removed.remove(20);
    let fault = fault_of(&join(&removed));
    assert_eq!(fault.position, Some(20), "{fault}");

    let mut swapped = good.clone();
    swapped.swap(7, 8);
    assert_eq!(fault_of(&join(&swapped)).position, Some(7));

    // A forged record that keeps the chain intact is caught by the signed head.
    let last = &good[39];
    let mut forged_record: serde_json::Value = serde_json::from_str(last).unwrap();
    forged_record["position"] = 40.into();
    forged_record["prev_hash"] = forged_record["hash"].clone();
    forged_record["id"] = uuid::Uuid::new_v4().to_string().into();
    let mut forged = good.clone();
    let rehashed = rehash(&forged_record.to_string());
    forged.insert(40, rehashed);
    let fault = fault_of(&join(&forged));
    assert!(
        fault
            .reason
            .contains("signed head covers 40 events but the file holds 41"),
        "{fault}"
    );

    let mut resigned = good.clone();
    let mut head: serde_json::Value = serde_json::from_str(&good[40]).unwrap();
    head["tree_head"]["signature"] = "ab".repeat(64).into();
    resigned[40] = head.to_string();
    assert!(fault_of(&join(&resigned)).reason.contains("signature"));

    let other_key = "11".repeat(32);
    assert!(
        verify_export(&join(&good)[..], Some(&other_key)).is_err(),
        "a head is checked against the trusted key"
    );
}

/// Recomputes a forged line's hash so that the chain itself looks intact.
fn rehash(line: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["hash"] = "00".repeat(32).into();
    let record = reparse(&value.to_string());
    let prev: [u8; 32] = hex::decode(value["prev_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    value["hash"] = hex::encode(chain_hash(&prev, &record.canonical_bytes())).into();
    value.to_string()
}

/// The record an export line holds, parsed by hand.
fn reparse(line: &str) -> casebook_log::RecordedEvent {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    let time = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(value[k].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    casebook_log::RecordedEvent {
        id: value["id"].as_str().unwrap().parse().unwrap(),
        stream: value["stream"].as_str().unwrap().into(),
        revision: value["revision"].as_u64().unwrap(),
        position: value["position"].as_u64().unwrap(),
        event_type: value["event_type"].as_str().unwrap().into(),
        schema_version: value["schema_version"].as_u64().unwrap() as u32,
        data: value["data"].to_string().into_bytes(),
        metadata: casebook_log::Metadata {
            actor: value["actor"].as_str().unwrap().into(),
            correlation_id: value["correlation_id"].as_str().map(|s| s.parse().unwrap()),
            causation_id: value["causation_id"].as_str().map(|s| s.parse().unwrap()),
            occurred_at: time("occurred_at"),
        },
        recorded_at: time("recorded_at"),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}
