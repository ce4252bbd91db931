//! Proof that nothing in the log changed.
//!
//! A Merkle tree in the style of RFC 9162 (Certificate Transparency) is kept
//! over the whole log, one leaf per event in position order, the leaf input
//! being the record's canonical bytes (the same bytes its chain hash
//! covers). From it come signed tree heads (size, root, time, Ed25519),
//! inclusion proofs (this event is in the log as of that head) and
//! consistency proofs (the log of that old head is a prefix of this one).
//! The exact bytes are specified in `docs/audit.md`, so that an auditor can
//! check everything with their own tools.
//!
//! # Layout
//! - [`merkle`]: the RFC's hashing, proofs and proof checks, as pure functions.
//! - `tree`: [`MerkleTree`], the perfect subtrees kept in sled.
//! - `head`: [`SignedTreeHead`] and [`HeadSigner`], the data directory's key.
//! - `export`: the log as JSON Lines with a signed head; checking and restoring one.

mod export;
mod head;
mod line;
pub mod merkle;
mod tree;
mod verify;

pub use export::{restore_export, write_export, ExportFault, ExportSummary};
pub use head::{HeadSigner, SignedTreeHead};
pub use tree::MerkleTree;
pub use verify::verify_export;

use casebook_log::{Position, SledLog, Subscription, SubscriptionFilter};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Leaves added to the tree per atomic batch while catching up.
const CATCH_UP_BATCH_EVENTS: usize = 1024;

/// Least time between two live batches of the follower that were not full:
/// under a steady stream of commands it would otherwise add every event or
/// two as its own batch, rewriting the same partial tiles each time (10 ms
/// apart, the tree's appends took 2.7 % of the server's CPU under the HTTP
/// benchmark's command load; 50 ms apart, 1.8 %). A request for a size the
/// tree has not reached yet waits for it (the API's bound is seconds).
const FOLLOW_BATCH_SPACING: std::time::Duration = std::time::Duration::from_millis(50);

/// Everything that can go wrong in the audit crate.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The tree's store failed (HTTP 500).
    #[error("audit store: {0}")]
    Store(#[from] sled::Error),
    /// A file could not be read or written (HTTP 500).
    #[error("audit file: {0}")]
    Io(#[from] std::io::Error),
    /// The log failed or refused to serve a damaged record (HTTP 500).
    #[error(transparent)]
    Log(#[from] casebook_log::LogError),
    /// Stored audit data is damaged (HTTP 500).
    #[error("audit data is damaged: {0}")]
    Corrupt(String),
    /// A proof was asked for sizes or positions the tree does not have (HTTP 404).
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A signature or key does not check out (HTTP 422 when given by a client).
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The thread that wrote to the tree stopped before it finished (HTTP 500).
    #[error("the audit tree's writer stopped: {0}")]
    Stopped(String),
    /// The tree disagrees with the log it claims to cover (HTTP 500).
    #[error("the Merkle tree disagrees with the log at size {size}")]
    Mismatch {
        /// The tree size at which the roots differ.
        size: u64,
    },
}

/// An inclusion proof as served: hex hashes, from the leaf up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The event's position (= its leaf index).
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The leaf's hash, hex.
    pub leaf_hash: String,
    /// The audit path, hex, from the leaf up.
    pub audit_path: Vec<String>,
}

/// A consistency proof as served: hex hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub old_size: u64,
    /// The newer tree's size.
    pub new_size: u64,
    /// The proof's hashes, hex, in the RFC's order.
    pub proof: Vec<String>,
}

/// The audit trail of one data directory: its tree and its signing key.
#[derive(Debug)]
pub struct Audit {
    tree: MerkleTree,
    signer: HeadSigner,
}

impl Audit {
    /// Opens the tree and the key in `dir` (made on first start).
    pub fn open(dir: &Path) -> Result<Audit, AuditError> {
        let tree = MerkleTree::open(&dir.join("merkle"))?;
        let signer = HeadSigner::load_or_create(dir)?;
        Ok(Audit { tree, signer })
    }

    /// The stored tree.
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// The public key that tree heads are signed with, hex.
    pub fn public_key_hex(&self) -> String {
        self.signer.public_key_hex()
    }

    /// Adds every durable log record the tree does not hold yet.
    pub fn catch_up(&self, log: &SledLog) -> Result<u64, AuditError> {
        catch_up(&self.tree, log)
    }

    /// Keeps the tree up with the log as events are appended, until the log
    /// closes or a record fails its check.
    ///
    /// The tree's reads and writes block, so they run off the async
    /// workers that serve requests.
    pub async fn follow(&self, log: SledLog) -> Result<(), AuditError> {
        let (tree, history) = (self.tree.clone(), log.clone());
        let size = tokio::task::spawn_blocking(move || catch_up(&tree, &history))
            .await
            .map_err(|err| AuditError::Stopped(err.to_string()))??;
        let after: Option<Position> = size.checked_sub(1);
        let mut subscription = Subscription::new(log, SubscriptionFilter::All, after);
        loop {
            let first = subscription.next().await?;
            let mut leaves = vec![first.canonical_bytes()];
            for record in subscription.next_available(CATCH_UP_BATCH_EVENTS).await? {
                leaves.push(record.canonical_bytes());
            }
            let full = leaves.len() > CATCH_UP_BATCH_EVENTS;
            let tree = self.tree.clone();
            tokio::task::spawn_blocking(move || tree.append(&leaves))
                .await
                .map_err(|err| AuditError::Stopped(err.to_string()))??;
            if !full {
                tokio::time::sleep(FOLLOW_BATCH_SPACING).await;
            }
        }
    }

    /// A signed head for the tree as it stands.
    pub fn signed_head(&self, timestamp_ms: i64) -> Result<SignedTreeHead, AuditError> {
        let size = self.tree.size()?;
        let root = self.tree.root(size)?;
        Ok(self.signer.sign(size, &root, timestamp_ms))
    }

    /// A signed head for the tree of the first `size` leaves, at a given time.
    pub fn signed_head_at(
        &self,
        size: u64,
        timestamp_ms: i64,
    ) -> Result<SignedTreeHead, AuditError> {
        let root = self.tree.root(size)?;
        Ok(self.signer.sign(size, &root, timestamp_ms))
    }

    /// The proof that the event at `position` is in the tree of `tree_size`.
    pub fn inclusion_proof(
        &self,
        position: Position,
        tree_size: u64,
    ) -> Result<InclusionProof, AuditError> {
        let path = self.tree.inclusion_proof(position, tree_size)?;
        let leaf = merkle::range_hash(&self.tree, position, position + 1)?;
        Ok(InclusionProof {
            leaf_index: position,
            tree_size,
            leaf_hash: hex::encode(leaf),
            audit_path: path.iter().map(hex::encode).collect(),
        })
    }

    /// The proof that the tree of `old_size` is a prefix of the tree of `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, AuditError> {
        let proof = self.tree.consistency_proof(old_size, new_size)?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            proof: proof.iter().map(hex::encode).collect(),
        })
    }

    /// Recomputes the root from the log's records and compares it with the
    /// tree's, for the first `size` events.
    pub fn check_against_log(&self, log: &SledLog, size: u64) -> Result<(), AuditError> {
        let leaves: Vec<merkle::Hash> = log
            .iter_all(0)
            .take(size as usize)
            .map(|record| record.map(|record| merkle::leaf_hash(&record.canonical_bytes())))
            .collect::<Result<_, _>>()?;
        let recomputed = merkle::root(&LeafList(leaves), size)?;
        if recomputed != self.tree.root(size)? {
            return Err(AuditError::Mismatch { size });
        }
        Ok(())
    }
}

/// Leaves in memory, as a subtree source (perfect subtrees computed on demand).
pub(crate) struct LeafList(pub(crate) Vec<merkle::Hash>);

impl merkle::SubtreeSource for LeafList {
    type Error = AuditError;

    fn subtree(&self, level: u32, index: u64) -> Result<merkle::Hash, AuditError> {
        let width = 1u64 << level;
        let start = index * width;
        if level == 0 {
            return self
                .0
                .get(start as usize)
                .copied()
                .ok_or_else(|| AuditError::OutOfRange(format!("leaf {start}")));
        }
        let half = width / 2;
        let left = self.subtree(level - 1, start / half)?;
        let right = self.subtree(level - 1, start / half + 1)?;
        Ok(merkle::node_hash(&left, &right))
    }
}

/// Adds to `tree` every durable log record it does not hold yet.
fn catch_up(tree: &MerkleTree, log: &SledLog) -> Result<u64, AuditError> {
    let mut size = tree.size()?;
    let mut leaves = Vec::with_capacity(CATCH_UP_BATCH_EVENTS);
    for record in log.iter_all(size) {
        leaves.push(record?.canonical_bytes());
        if leaves.len() == CATCH_UP_BATCH_EVENTS {
            size = tree.append(&leaves)?;
            leaves.clear();
        }
    }
    if !leaves.is_empty() {
        size = tree.append(&leaves)?;
    }
    tree.flush()?;
    Ok(size)
}
