//! Signed tree heads: the tree's size and root, a time, and an Ed25519
//! signature over them, so an auditor who keeps one can later prove that the
//! log has only grown since (with a consistency proof).
//!
//! The signing key is made on first start and kept in the data directory
//! (`signing-key`, 32 bytes as hex, readable by the owner only). The bytes
//! signed are specified in `docs/audit.md`:
//! `"casebook-tree-head-v1" ‖ size (u64 BE) ‖ timestamp_ms (i64 BE) ‖ root (32 bytes)`.

use crate::merkle::Hash;
use crate::AuditError;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the signed bytes start with, so a signature can't be replayed as
/// anything else.
const HEAD_DOMAIN: &[u8] = b"casebook-tree-head-v1";
const KEY_FILE: &str = "signing-key";

/// A tree head and its signature, as served and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTreeHead {
    /// Leaves in the tree (= events of the log it covers).
    pub size: u64,
    /// The root hash, hex.
    pub root_hash: String,
    /// When it was signed, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The Ed25519 signature over [`SignedTreeHead::signed_bytes`], hex.
    pub signature: String,
}

impl SignedTreeHead {
    /// The exact bytes the signature covers.
    pub fn signed_bytes(size: u64, timestamp_ms: i64, root: &Hash) -> Vec<u8> {
        let mut bytes = HEAD_DOMAIN.to_vec();
        bytes.extend_from_slice(&size.to_be_bytes());
        bytes.extend_from_slice(&timestamp_ms.to_be_bytes());
        bytes.extend_from_slice(root);
        bytes
    }

    /// Checks the signature with a public key (32 bytes, hex).
    pub fn verify(&self, public_key_hex: &str) -> Result<(), AuditError> {
        let bad = |what: &str| AuditError::BadSignature(what.to_owned());
        let key: [u8; 32] =
            decode_hex(public_key_hex).ok_or_else(|| bad("public key is not 32 bytes of hex"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| bad("public key is not a valid Ed25519 key"))?;
        let root: [u8; 32] =
            decode_hex(&self.root_hash).ok_or_else(|| bad("root hash is not 32 bytes of hex"))?;
        let signature: [u8; 64] =
            decode_hex(&self.signature).ok_or_else(|| bad("signature is not 64 bytes of hex"))?;
        let bytes = Self::signed_bytes(self.size, self.timestamp_ms, &root);
        key.verify(&bytes, &Signature::from_bytes(&signature))
            .map_err(|_| bad("the signature does not match"))
    }
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The key that signs tree heads.
pub struct HeadSigner {
    key: SigningKey,
}

impl std::fmt::Debug for HeadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret half.
        f.debug_struct("HeadSigner")
            .field("public_key", &self.public_key_hex())
            .finish()
    }
}

impl HeadSigner {
    /// Loads the key from `dir`, or makes and saves one on first start.
    pub fn load_or_create(dir: &Path) -> Result<HeadSigner, AuditError> {
        let path = dir.join(KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)?;
            let secret: [u8; 32] = decode_hex(text.trim())
                .ok_or_else(|| AuditError::Corrupt(format!("{} is not a key", path.display())))?;
            return Ok(HeadSigner {
                key: SigningKey::from_bytes(&secret),
            });
        }
        let secret: [u8; 32] = rand::random();
        std::fs::create_dir_all(dir)?;
        write_private(&path, &hex::encode(secret))?;
        tracing::info!(path = %path.display(), "made a new tree-head signing key");
        Ok(HeadSigner {
            key: SigningKey::from_bytes(&secret),
        })
    }

    /// The public key, hex: what auditors check heads with.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Signs a head for a tree of `size` leaves with this `root`, at `timestamp_ms`.
    pub fn sign(&self, size: u64, root: &Hash, timestamp_ms: i64) -> SignedTreeHead {
        let signature = self
            .key
            .sign(&SignedTreeHead::signed_bytes(size, timestamp_ms, root));
        SignedTreeHead {
            size,
            root_hash: hex::encode(root),
            timestamp_ms,
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// Writes a file only its owner can read, durably.
fn write_private(path: &Path, contents: &str) -> Result<(), AuditError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
