//! The audit routes through the real binary, checked with nothing but
//! `docs/audit.md`: the head's signature verified with the key from the
//! well-known route, an inclusion proof recomputed by hashing the event's
//! canonical bytes (taken from an export) by hand, a consistency proof
//! between an old head and a new one; who may call them; every bad
//! parameter.

use std::collections::HashMap;
use std::process::Command;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::server::{assert_problem, binary, Answer};
use crate::world::{reported, world, World};

pub(crate) type Hash = [u8; 32];

pub(crate) fn sha(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn node(left: &Hash, right: &Hash) -> Hash {
    sha(&[&[1], left, right])
}

pub(crate) fn unhex<const N: usize>(text: &Value) -> [u8; N] {
    hex::decode(text.as_str().expect("a hex string"))
        .expect("hex")
        .try_into()
        .expect("length")
}

pub(crate) fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array().expect("a list").iter().map(unhex).collect()
}

/// The head's signature over `casebook-tree-head-v1 ‖ size ‖ timestamp_ms ‖ root`.
pub(crate) fn head_verifies(head: &Value, public_key: &[u8; 32]) -> bool {
    let mut signed = b"casebook-tree-head-v1".to_vec();
    signed.extend(head["size"].as_u64().unwrap().to_be_bytes());
    signed.extend(head["timestamp_ms"].as_i64().unwrap().to_be_bytes());
    signed.extend(unhex::<32>(&head["root_hash"]));
    let key = VerifyingKey::from_bytes(public_key).unwrap();
    let signature = Signature::from_bytes(&unhex::<64>(&head["signature"]));
    key.verify(&signed, &signature).is_ok()
}

/// RFC 9162, 2.1.3.2.
pub(crate) fn inclusion_verifies(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n, mut r) = (index, size - 1, *leaf);
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n % 2 == 1 || f_n == s_n {
            r = node(p, &r);
            while f_n % 2 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// RFC 9162, 2.1.4.2, for `0 < first < second`.
pub(crate) fn consistency_verifies(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    let mut path = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    while f_n % 2 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return false;
        }
        if f_n % 2 == 1 || f_n == s_n {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while f_n % 2 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && fr == *first_root && sr == *second_root
}

/// An export line's canonical bytes, from the table "Record bytes" in
/// `docs/ARCHITECTURE.md`; the line's own chain hash is checked too, so a
/// mistake here cannot pass unnoticed.
fn canonical_bytes(line: &str) -> Vec<u8> {
    let fields: HashMap<String, Box<RawValue>> = serde_json::from_str(line).unwrap();
    let value = |name: &str| -> Value { serde_json::from_str(fields[name].get()).unwrap() };
    let text = |name: &str| value(name).as_str().unwrap().to_owned();
    let micros = |name: &str| {
        chrono::DateTime::parse_from_rfc3339(&text(name))
            .unwrap()
            .timestamp_micros()
    };
    let mut bytes = vec![1u8];
    bytes.extend(value("position").as_u64().unwrap().to_be_bytes());
    bytes.extend(value("revision").as_u64().unwrap().to_be_bytes());
    bytes.extend(uuid::Uuid::parse_str(&text("id")).unwrap().as_bytes());
    bytes.extend(micros("recorded_at").to_be_bytes());
    bytes.extend(micros("occurred_at").to_be_bytes());
    bytes.extend((value("schema_version").as_u64().unwrap() as u32).to_be_bytes());
    for name in ["stream", "event_type", "actor"] {
        let field = text(name);
        bytes.extend((field.len() as u16).to_be_bytes());
        bytes.extend(field.as_bytes());
    }
    for name in ["correlation_id", "causation_id"] {
        match value(name).as_str() {
            Some(id) => {
                bytes.push(1);
                bytes.extend(uuid::Uuid::parse_str(id).unwrap().as_bytes());
            }
            None => bytes.push(0),
        }
    }
    let data = fields["data"].get().as_bytes();
    bytes.extend((data.len() as u32).to_be_bytes());
    bytes.extend(data);
    let prev: Hash = unhex(&value("prev_hash"));
    assert_eq!(
        sha(&[&prev, &bytes]),
        unhex::<32>(&value("hash")),
        "the canonical bytes built by hand match the record's chain hash"
    );
    bytes
}

async fn public_key(w: &World) -> [u8; 32] {
    let s = &w.server;
    let answer = s
        .call(
            Method::GET,
            "/.well-known/casebook-audit-key",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status.as_u16(), 200, "{:?}", answer.body);
    assert_eq!(answer.body["algorithm"], "Ed25519");
    assert_eq!(answer.body["signed_prefix"], "casebook-tree-head-v1");
    unhex(&answer.body["public_key"])
}

async fn head(w: &World, role: &str) -> Value {
    let answer = w.server.get("/v1/audit/head", w.token(role)).await;
    assert_eq!(answer.status.as_u16(), 200, "{:?}", answer.body);
    let mut keys: Vec<&str> = answer
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["root_hash", "signature", "size", "timestamp_ms"],
        "exactly the documented fields"
    );
    answer.body
}

#[tokio::test]
async fn heads_and_proofs_check_out_by_hand_against_the_published_key() {
    let w = world().await;
    let key = public_key(&w).await;
    let old = head(&w, "auditor_in").await;
    assert_eq!(old["size"].as_u64(), Some(w.server.log_len().await));
    assert!(head_verifies(&old, &key));
    let mut forged = old.clone();
    forged["size"] = Value::from(old["size"].as_u64().unwrap() + 1);
    assert!(!head_verifies(&forged, &key), "a changed head fails");

    reported(&w).await;
    reported(&w).await;
    let new = head(&w, "admin").await;
    assert!(head_verifies(&new, &key));
    let (m, n) = (old["size"].as_u64().unwrap(), new["size"].as_u64().unwrap());
    assert_eq!(n, w.server.log_len().await);
    assert!(m < n);

    let path = format!("/v1/audit/consistency?from={m}&to={n}");
    let proof = w.server.get(&path, w.token("auditor_out")).await;
    assert_eq!(proof.status.as_u16(), 200, "{:?}", proof.body);
    assert_eq!(proof.body["old_size"].as_u64(), Some(m));
    assert_eq!(proof.body["new_size"].as_u64(), Some(n));
    let steps = hashes(&proof.body["proof"]);
    let (old_root, new_root) = (unhex(&old["root_hash"]), unhex(&new["root_hash"]));
    assert!(consistency_verifies(m, n, &old_root, &new_root, &steps));
    assert!(
        !consistency_verifies(m, n, &new_root, &new_root, &steps),
        "the proof does not fit another old root"
    );
    let same = w
        .server
        .get(
            &format!("/v1/audit/consistency?from={n}&to={n}"),
            w.token("admin"),
        )
        .await;
    assert_eq!(same.body["proof"], Value::Array(vec![]));

    let mut proofs = Vec::new();
    for position in [0, m, n - 1] {
        let path = format!("/v1/audit/inclusion?position={position}&size={n}");
        let proof = w.server.get(&path, w.token("auditor_in")).await;
        assert_eq!(proof.status.as_u16(), 200, "{:?}", proof.body);
        assert_eq!(proof.body["leaf_index"].as_u64(), Some(position));
        assert_eq!(proof.body["tree_size"].as_u64(), Some(n));
        let leaf: Hash = unhex(&proof.body["leaf_hash"]);
        let audit_path = hashes(&proof.body["audit_path"]);
        assert!(inclusion_verifies(
            &leaf,
            position,
            n,
            &audit_path,
            &new_root
        ));
        assert!(!inclusion_verifies(
            &leaf,
            position,
            n,
            &audit_path,
            &old_root
        ));
        proofs.push((position, leaf));
    }
    let default_size = w
        .server
        .get(
            &format!("/v1/audit/inclusion?position={m}"),
            w.token("admin"),
        )
        .await;
    assert_eq!(default_size.body["tree_size"].as_u64(), Some(n));

    let (status, data) = w.server.terminate();
    assert!(status.success());
    let file = data.path().join("export.jsonl");
    let exported = Command::new(binary())
        .args(["export", "--data"])
        .arg(data.path())
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{exported:?}");
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    for (position, leaf) in proofs {
        let bytes = canonical_bytes(&lines[position as usize]);
        assert_eq!(
            sha(&[&[0], &bytes]),
            leaf,
            "leaf {position} is SHA-256(0x00 ‖ canonical bytes)"
        );
    }
}

#[tokio::test]
async fn only_auditors_and_administrators_read_heads_and_proofs() {
    let w = world().await;
    let routes = [
        "/v1/audit/head",
        "/v1/audit/inclusion?position=0&size=1",
        "/v1/audit/consistency?from=1&to=2",
    ];
    for route in routes {
        for role in ["auditor_in", "auditor_out", "admin"] {
            let answer = w.server.get(route, w.token(role)).await;
            assert_eq!(
                answer.status.as_u16(),
                200,
                "{role} {route}: {:?}",
                answer.body
            );
        }
        for role in [
            "member_in",
            "member_out",
            "committee_in",
            "committee_out",
            "post_a_chief",
        ] {
            let answer = w.server.get(route, w.token(role)).await;
            assert_problem(&answer, 403, None);
            assert_eq!(
                answer.body["rule"], "audit_by_auditors_and_administrators",
                "{role} {route}"
            );
        }
        let anonymous = w.server.call(Method::GET, route, None, None, &[]).await;
        assert_problem(&anonymous, 401, None);
    }
    let key = w
        .server
        .call(
            Method::GET,
            "/.well-known/casebook-audit-key",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(key.status.as_u16(), 200);
}

#[tokio::test]
async fn every_bad_audit_parameter_is_named_and_nothing_is_written() {
    let w = world().await;
    let len = w.server.log_len().await;
    let beyond = len + 1;
    let cases: Vec<(String, u16, &str)> = vec![
        ("/v1/audit/head?size=3".into(), 400, "size"),
        ("/v1/audit/inclusion".into(), 400, "position"),
        ("/v1/audit/inclusion?size=3".into(), 400, "position"),
        ("/v1/audit/inclusion?position=abc".into(), 400, "position"),
        ("/v1/audit/inclusion?position=-1".into(), 400, "position"),
        ("/v1/audit/inclusion?position=1.5".into(), 400, "position"),
        ("/v1/audit/inclusion?position=".into(), 400, "position"),
        (
            "/v1/audit/inclusion?position=1&position=2".into(),
            400,
            "position",
        ),
        ("/v1/audit/inclusion?position=0&size=0".into(), 400, "size"),
        ("/v1/audit/inclusion?position=0&size=x".into(), 400, "size"),
        (
            "/v1/audit/inclusion?position=3&size=3".into(),
            400,
            "position",
        ),
        ("/v1/audit/inclusion?position=0&tree=3".into(), 400, "tree"),
        (
            format!("/v1/audit/inclusion?position={len}"),
            404,
            "position",
        ),
        (
            format!("/v1/audit/inclusion?position=0&size={beyond}"),
            404,
            "size",
        ),
        ("/v1/audit/consistency?to=3".into(), 400, "from"),
        ("/v1/audit/consistency?from=1".into(), 400, "to"),
        ("/v1/audit/consistency?from=0&to=3".into(), 400, "from"),
        ("/v1/audit/consistency?from=0&to=0".into(), 400, "from"),
        ("/v1/audit/consistency?from=4&to=3".into(), 400, "from"),
        (
            "/v1/audit/consistency?from=1&to=99999999999999999999".into(),
            400,
            "to",
        ),
        ("/v1/audit/consistency?from=1&to=2&old=1".into(), 400, "old"),
        (
            format!("/v1/audit/consistency?from=1&to={beyond}"),
            404,
            "to",
        ),
    ];
    for (path, status, parameter) in &cases {
        let answer: Answer = w.server.get(path, w.token("auditor_in")).await;
        if *status == 400 {
            assert_problem(&answer, 400, Some(parameter));
        } else {
            assert_problem(&answer, *status, None);
            let detail = answer.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("`{parameter}`")),
                "{path}: {detail}"
            );
        }
    }
    let post = w
        .server
        .call(
            Method::POST,
            "/v1/audit/head",
            Some(w.token("admin")),
            None,
            &[],
        )
        .await;
    assert_problem(&post, 405, None);
    assert_eq!(w.server.log_len().await, len, "no audit request writes");
}
