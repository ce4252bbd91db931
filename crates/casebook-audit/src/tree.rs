//! The Merkle tree over the whole log, kept in its own sled database.
//!
//! Only perfect subtrees are stored (`N`, level, index → hash): each new
//! leaf is written with every subtree it completes, and the tree's size in
//! the same atomic batch, so the tree is never half-updated. Any root or
//! proof is then computed from at most two subtrees per level
//! ([`crate::merkle`]).

use crate::merkle::{self, Hash, SubtreeSource};
use crate::AuditError;
use std::collections::HashMap;
use std::path::Path;

const SIZE_KEY: &[u8] = b"size";
const NODE_TAG: u8 = b'N';

fn node_key(level: u32, index: u64) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[0] = NODE_TAG;
    key[1..5].copy_from_slice(&level.to_be_bytes());
    key[5..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The stored tree.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    db: sled::Db,
    tree: sled::Tree,
}

impl MerkleTree {
    /// Opens (or creates) the tree in `dir`.
    pub fn open(dir: &Path) -> Result<MerkleTree, AuditError> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(500))
            .open()?;
        let tree = db.open_tree(b"merkle")?;
        Ok(MerkleTree { db, tree })
    }

    /// How many leaves the tree holds.
    pub fn size(&self) -> Result<u64, AuditError> {
        match self.tree.get(SIZE_KEY)? {
            None => Ok(0),
            Some(value) => {
                let bytes: [u8; 8] = value
                    .as_ref()
                    .try_into()
                    .map_err(|_| AuditError::Corrupt("tree size".into()))?;
                Ok(u64::from_be_bytes(bytes))
            }
        }
    }

    /// Adds leaves (their inputs, in log order), atomically.
    pub fn append(&self, inputs: &[Vec<u8>]) -> Result<u64, AuditError> {
        let mut size = self.size()?;
        let mut written: HashMap<(u32, u64), Hash> = HashMap::new();
        let mut batch = sled::Batch::default();
        for input in inputs {
            let (mut level, mut index, mut hash) = (0u32, size, merkle::leaf_hash(input));
            loop {
                batch.insert(&node_key(level, index)[..], &hash[..]);
                written.insert((level, index), hash);
                if index % 2 == 0 {
                    break;
                }
                let left = match written.get(&(level, index - 1)) {
                    Some(left) => *left,
                    None => self.subtree(level, index - 1)?,
                };
                hash = merkle::node_hash(&left, &hash);
                level += 1;
                index /= 2;
            }
            size += 1;
        }
        batch.insert(SIZE_KEY, &size.to_be_bytes()[..]);
        self.tree.apply_batch(batch)?;
        Ok(size)
    }

    /// Makes what was appended durable.
    pub fn flush(&self) -> Result<(), AuditError> {
        self.db.flush()?;
        Ok(())
    }

    /// The root hash of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        self.check_size(size)?;
        merkle::root(self, size)
    }

    /// The proof that leaf `index` is in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(size)?;
        if index >= size {
            return Err(AuditError::OutOfRange(format!(
                "leaf {index} is not in a tree of {size}"
            )));
        }
        merkle::inclusion_proof(self, index, size)
    }

    /// The proof that the tree of `old_size` leaves is a prefix of the tree
    /// of `new_size` leaves.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(AuditError::OutOfRange(format!(
                "{old_size} is larger than {new_size}"
            )));
        }
        merkle::consistency_proof(self, old_size, new_size)
    }

    fn check_size(&self, size: u64) -> Result<(), AuditError> {
        let have = self.size()?;
        if size > have {
            return Err(AuditError::OutOfRange(format!(
                "the tree has {have} leaves, not {size}"
            )));
        }
        Ok(())
    }
}

impl SubtreeSource for MerkleTree {
    type Error = AuditError;

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        let value = self.tree.get(node_key(level, index))?;
        let value = value
            .ok_or_else(|| AuditError::Corrupt(format!("subtree {level}/{index} is missing")))?;
        value
            .as_ref()
            .try_into()
            .map_err(|_| AuditError::Corrupt(format!("subtree {level}/{index} is malformed")))
    }
}
