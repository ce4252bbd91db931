//! The audit tree against an independent computation written from the
//! documented formats (`docs/ARCHITECTURE.md` "Record bytes", `docs/audit.md`):
//! canonical bytes encoded by hand, RFC 9162's recursive definitions of the
//! root, PATH and PROOF over the leaf list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod export;

use casebook_audit::{merkle, Audit};
use casebook_log::{conformance::sample_event, ExpectedRevision, RecordedEvent, SledLog};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The record's canonical bytes, from the table in ARCHITECTURE.md.
fn canonical_by_hand(r: &RecordedEvent) -> Vec<u8> {
    let mut b = vec![1u8];
    b.extend(r.position.to_be_bytes());
    b.extend(r.revision.to_be_bytes());
    b.extend(r.id.as_bytes());
    b.extend(r.recorded_at.timestamp_micros().to_be_bytes());
    b.extend(r.metadata.occurred_at.timestamp_micros().to_be_bytes());
    b.extend(r.schema_version.to_be_bytes());
    for text in [&r.stream, &r.event_type, &r.metadata.actor] {
        b.extend((text.len() as u16).to_be_bytes());
        b.extend(text.as_bytes());
    }
    for id in [r.metadata.correlation_id, r.metadata.causation_id] {
        match id {
            Some(id) => {
                b.push(1);
                b.extend(id.as_bytes());
            }
            None => b.push(0),
        }
    }
    b.extend((r.data.len() as u32).to_be_bytes());
    b.extend(&r.data);
    b
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) by RFC 9162's recursive definition.
fn mth(d: &[[u8; 32]]) -> [u8; 32] {
    match d.len() {
        0 => sha(&[]),
        1 => d[0],
        n => sha(&[&[1], &mth(&d[..k(n)]), &mth(&d[k(n)..])]),
    }
}

/// PATH(m, D[n]) by the RFC's definition.
fn path(m: usize, d: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = k(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b) by the RFC's definition.
fn subproof(m: usize, d: &[[u8; 32]], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

pub async fn log_with(events: usize) -> (SledLog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path().join("log")).unwrap();
    for i in 0..events {
        let mut event = sample_event(&i.to_string());
        event.metadata.correlation_id = (i % 3 == 0).then(Uuid::new_v4);
        log.append(
            &format!("concern-{}", i % 7),
            ExpectedRevision::Any,
            vec![event],
        )
        .await
        .unwrap();
    }
    (log, dir)
}

fn leaves_by_hand(log: &SledLog) -> Vec<[u8; 32]> {
    log.iter_all(0)
        .map(|r| sha(&[&[0], &canonical_by_hand(&r.unwrap())]))
        .collect()
}

#[tokio::test]
async fn roots_and_proofs_match_a_computation_by_hand() {
    let (log, dir) = log_with(77).await;
    let audit = Audit::open(&dir.path().join("audit")).unwrap();
    assert_eq!(audit.catch_up(&log).unwrap(), 77);
    let leaves = leaves_by_hand(&log);
    for size in [1u64, 2, 3, 8, 50, 77] {
        assert_eq!(
            audit.tree().root(size).unwrap(),
            mth(&leaves[..size as usize]),
            "root of {size}"
        );
    }
    for (m, n) in [(0, 1), (0, 77), (5, 77), (64, 77), (76, 77), (13, 40)] {
        let proof = audit.inclusion_proof(m, n).unwrap();
        let expected: Vec<String> = path(m as usize, &leaves[..n as usize])
            .iter()
            .map(hex::encode)
            .collect();
        assert_eq!(proof.audit_path, expected, "PATH({m}, D[{n}])");
        assert_eq!(proof.leaf_hash, hex::encode(leaves[m as usize]));
    }
    for (m, n) in [(1, 77), (7, 8), (8, 77), (33, 77), (77, 77), (3, 5)] {
        let proof = audit.consistency_proof(m, n).unwrap();
        let expected: Vec<String> = if m == n {
            vec![]
        } else {
            subproof(m as usize, &leaves[..n as usize], true)
                .iter()
                .map(hex::encode)
                .collect()
        };
        assert_eq!(proof.proof, expected, "PROOF({m}, D[{n}])");
    }
    audit.check_against_log(&log, 77).unwrap();
}

#[tokio::test]
async fn a_signed_head_verifies_and_a_changed_one_does_not() {
    let (log, dir) = log_with(10).await;
    let audit = Audit::open(&dir.path().join("audit")).unwrap();
    audit.catch_up(&log).unwrap();
    let head = audit.signed_head(1_700_000_000_000).unwrap();
    assert_eq!(head.size, 10);
    assert_eq!(head.root_hash, hex::encode(mth(&leaves_by_hand(&log))));
    head.verify(&audit.public_key_hex()).unwrap();
    let mut grown = head.clone();
    grown.size = 11;
    assert!(grown.verify(&audit.public_key_hex()).is_err());
    let mut moved = head.clone();
    moved.timestamp_ms += 1;
    assert!(moved.verify(&audit.public_key_hex()).is_err());
    // The bytes signed are exactly the documented ones.
    let root: [u8; 32] = hex::decode(&head.root_hash).unwrap().try_into().unwrap();
    let mut expected = b"casebook-tree-head-v1".to_vec();
    expected.extend(10u64.to_be_bytes());
    expected.extend(1_700_000_000_000i64.to_be_bytes());
    expected.extend(root);
    assert_eq!(
        casebook_audit::SignedTreeHead::signed_bytes(10, 1_700_000_000_000, &root),
        expected
    );
}

#[tokio::test]
async fn an_old_head_is_proven_a_prefix_of_the_grown_log() {
    let (log, dir) = log_with(20).await;
    let audit = Audit::open(&dir.path().join("audit")).unwrap();
    audit.catch_up(&log).unwrap();
    let old = audit.signed_head(1).unwrap();
    for i in 0..30 {
        log.append(
            "unit-x",
            ExpectedRevision::Any,
            vec![sample_event(&format!("more {i}"))],
        )
        .await
        .unwrap();
    }
    audit.catch_up(&log).unwrap();
    let new = audit.signed_head(2).unwrap();
    let proof = audit.consistency_proof(old.size, new.size).unwrap();
    let hashes: Vec<[u8; 32]> = proof
        .proof
        .iter()
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
        .collect();
    let old_root: [u8; 32] = hex::decode(&old.root_hash).unwrap().try_into().unwrap();
    let new_root: [u8; 32] = hex::decode(&new.root_hash).unwrap().try_into().unwrap();
    assert!(merkle::verify_consistency(
        old.size, new.size, &old_root, &new_root, &hashes
    ));
    let wrong_old = merkle::leaf_hash(b"a rewritten history");
    assert!(!merkle::verify_consistency(
        old.size, new.size, &wrong_old, &new_root, &hashes
    ));
}

#[tokio::test]
async fn the_tree_follows_the_log_and_survives_a_restart() {
    let (log, dir) = log_with(5).await;
    let audit_dir = dir.path().join("audit");
    let public_key = {
        let audit = std::sync::Arc::new(Audit::open(&audit_dir).unwrap());
        let follower = {
            let (audit, log) = (audit.clone(), log.clone());
            tokio::spawn(async move { audit.follow(log).await })
        };
        for i in 0..200 {
            log.append(
                "concern-live",
                ExpectedRevision::Any,
                vec![sample_event(&format!("live {i}"))],
            )
            .await
            .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while audit.tree().size().unwrap() < 205 {
            assert!(
                std::time::Instant::now() < deadline,
                "the tree did not catch up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        follower.abort();
        let _ = follower.await;
        audit.tree().flush().unwrap();
        audit.check_against_log(&log, 205).unwrap();
        audit.public_key_hex()
    };
    let reopened = Audit::open(&audit_dir).unwrap();
    assert_eq!(reopened.tree().size().unwrap(), 205);
    assert_eq!(
        reopened.public_key_hex(),
        public_key,
        "the signing key is kept"
    );
    assert_eq!(reopened.catch_up(&log).unwrap(), 205);
    assert_eq!(
        reopened.tree().root(205).unwrap(),
        mth(&leaves_by_hand(&log))
    );
}
