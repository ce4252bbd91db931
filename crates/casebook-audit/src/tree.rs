//! The Merkle tree over the whole log, kept in its own sled database.
//!
//! Only perfect subtrees are stored, in *tiles*: the hashes of
//! [`TILE_HASHES`] neighbouring subtrees of one level under one key (`T`,
//! level, tile index → up to 16 × 32 bytes, left to right). Appending a
//! batch of leaves rewrites each tile it touches once, with the tree's size,
//! in one atomic batch, so the tree is never half-updated; a batch of n
//! leaves writes about n / 8 keys instead of 2n. Any root or proof is then
//! computed from at most two subtrees per level ([`crate::merkle`]).
//!
//! A tree written by the earlier layout (one key per subtree, no `format`
//! key) is cleared on open and built again from the log by the caller's
//! catch-up.

use crate::merkle::{self, Hash, SubtreeSource};
use crate::AuditError;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const SIZE_KEY: &[u8] = b"size";
/// The layout the tree is stored in; absent in the first layout.
const FORMAT_KEY: &[u8] = b"format";
/// Tiles of [`TILE_HASHES`] subtree hashes.
const FORMAT_TILES: u8 = 2;
const TILE_TAG: u8 = b'T';
/// Subtree hashes in one tile.
const TILE_HASHES: u64 = 16;
const HASH_LEN: usize = 32;

fn tile_key(level: u32, tile: u64) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[0] = TILE_TAG;
    key[1..5].copy_from_slice(&level.to_be_bytes());
    key[5..].copy_from_slice(&tile.to_be_bytes());
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
        // A reopen right after a close can find sled's lock still held
        // for a moment; wait for it as the log does.
        let config = sled::Config::new().path(dir).flush_every_ms(Some(500));
        let db = casebook_log::open_sled_when_released(&config)?;
        let tree = db.open_tree(b"merkle")?;
        if tree.get(FORMAT_KEY)?.as_deref() != Some(&[FORMAT_TILES][..]) {
            if !tree.is_empty() {
                tracing::info!("the audit tree is in an earlier layout; building it again");
            }
            tree.clear()?;
            tree.insert(FORMAT_KEY, &[FORMAT_TILES][..])?;
            db.flush()?;
        }
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
        // The new subtrees of each touched tile, left to right.
        let mut tiles: BTreeMap<(u32, u64), Vec<(u64, Hash)>> = BTreeMap::new();
        for input in inputs {
            let (mut level, mut index, mut hash) = (0u32, size, merkle::leaf_hash(input));
            loop {
                written.insert((level, index), hash);
                tiles
                    .entry((level, index / TILE_HASHES))
                    .or_default()
                    .push((index, hash));
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
        let mut batch = sled::Batch::default();
        for ((level, tile), hashes) in tiles {
            batch.insert(
                &tile_key(level, tile)[..],
                self.extended_tile(level, tile, &hashes)?,
            );
        }
        batch.insert(SIZE_KEY, &size.to_be_bytes()[..]);
        self.tree.apply_batch(batch)?;
        Ok(size)
    }

    /// The tile's stored hashes followed by `hashes`, which must continue it.
    fn extended_tile(
        &self,
        level: u32,
        tile: u64,
        hashes: &[(u64, Hash)],
    ) -> Result<Vec<u8>, AuditError> {
        let first = hashes.first().map_or(0, |(index, _)| index % TILE_HASHES);
        let mut value = if first == 0 {
            Vec::with_capacity(hashes.len() * HASH_LEN)
        } else {
            self.tile(level, tile)?
                .map(|stored| stored.to_vec())
                .unwrap_or_default()
        };
        if value.len() as u64 != first * HASH_LEN as u64 {
            return Err(AuditError::Corrupt(format!(
                "tile {level}/{tile} holds {} bytes where {first} subtrees were expected",
                value.len()
            )));
        }
        for (_, hash) in hashes {
            value.extend_from_slice(hash);
        }
        Ok(value)
    }

    fn tile(&self, level: u32, tile: u64) -> Result<Option<sled::IVec>, AuditError> {
        Ok(self.tree.get(tile_key(level, tile))?)
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
        let missing = || AuditError::Corrupt(format!("subtree {level}/{index} is missing"));
        let tile = self.tile(level, index / TILE_HASHES)?.ok_or_else(missing)?;
        let start = (index % TILE_HASHES) as usize * HASH_LEN;
        tile.get(start..start + HASH_LEN)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162's MTH, recursively over the leaf hashes: the reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => merkle::empty_root(),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                merkle::node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn inputs(from: usize, count: usize) -> Vec<Vec<u8>> {
        (from..from + count)
            .map(|i| i.to_be_bytes().to_vec())
            .collect()
    }

    #[test]
    fn batches_of_any_size_give_every_root_of_the_reference_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut appended = 0;
        for (round, batches) in [[1, 3, 16, 17], [5, 100, 1, 31]].iter().enumerate() {
            let tree = MerkleTree::open(dir.path()).unwrap();
            assert_eq!(tree.size().unwrap(), appended as u64, "round {round}");
            for &count in batches {
                tree.append(&inputs(appended, count)).unwrap();
                appended += count;
            }
            tree.flush().unwrap();
        }
        let tree = MerkleTree::open(dir.path()).unwrap();
        let leaves: Vec<Hash> = inputs(0, appended)
            .iter()
            .map(|input| merkle::leaf_hash(input))
            .collect();
        for size in 0..=appended {
            assert_eq!(
                tree.root(size as u64).unwrap(),
                mth(&leaves[..size]),
                "size {size}"
            );
        }
    }

    #[test]
    fn a_tree_in_the_earlier_layout_is_cleared_to_be_built_again() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let old = db.open_tree(b"merkle").unwrap();
            old.insert(b"N\0\0\0\0\0\0\0\0\0\0\0\0", &[7u8; 32][..])
                .unwrap();
            old.insert(SIZE_KEY, &1u64.to_be_bytes()[..]).unwrap();
            db.flush().unwrap();
        }
        let tree = MerkleTree::open(dir.path()).unwrap();
        assert_eq!(tree.size().unwrap(), 0);
        tree.append(&inputs(0, 3)).unwrap();
        let leaves: Vec<Hash> = inputs(0, 3).iter().map(|i| merkle::leaf_hash(i)).collect();
        assert_eq!(tree.root(3).unwrap(), mth(&leaves));
    }
}
