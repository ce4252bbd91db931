//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1,
//! as pure functions over a source of subtree hashes.
//!
//! - leaf hash: `SHA-256(0x00 ‖ leaf input)`
//! - node hash: `SHA-256(0x01 ‖ left ‖ right)`
//! - the tree over `n` leaves splits at `k`, the largest power of two
//!   smaller than `n`; the root of the empty tree is `SHA-256("")`.
//!
//! Every range a proof needs splits into *perfect* subtrees (a power of two
//! of leaves, aligned to its size), so the store only keeps those: the hash
//! of leaves `[i·2^l, (i+1)·2^l)` under `(level l, index i)`. The proofs and
//! their verification follow the RFC's algorithms (2.1.3 and 2.1.4).

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf's input bytes.
pub fn leaf_hash(input: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(input);
    hasher.finalize().into()
}

/// The hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Where perfect-subtree hashes come from (a sled tree, or memory in tests).
pub trait SubtreeSource {
    /// The error reading the source can give.
    type Error;
    /// The hash of the perfect subtree at `level` and `index`.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `[start, end)`: the RFC's MTH over that range.
pub fn range_hash<S: SubtreeSource>(source: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start % n == 0 {
        return source.subtree(n.trailing_zeros(), start / n);
    }
    let k = split_point(n);
    let left = range_hash(source, start, start + k)?;
    let right = range_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree over the first `size` leaves.
pub fn root<S: SubtreeSource>(source: &S, size: u64) -> Result<Hash, S::Error> {
    range_hash(source, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves
/// (RFC 9162, 2.1.3.1: `PATH(m, D[n])`), from the leaf up.
pub fn inclusion_proof<S: SubtreeSource>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut path = Vec::new();
    path_of(source, index, 0, size, &mut path)?;
    Ok(path)
}

fn path_of<S: SubtreeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path_of(source, m, start, start + k, path)?;
        path.push(range_hash(source, start + k, end)?);
    } else {
        path_of(source, m - k, start + k, end, path)?;
        path.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of `old_size` and `new_size`
/// leaves (RFC 9162, 2.1.4.1: `PROOF(m, D[n])`).
pub fn consistency_proof<S: SubtreeSource>(
    source: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new_size {
        subproof(source, old_size, 0, new_size, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: SubtreeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    proof: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            proof.push(range_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, start + k, whole, proof)?;
        proof.push(range_hash(source, start + k, end)?);
    } else {
        subproof(source, m - k, start + k, end, false, proof)?;
        proof.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// Checks an inclusion proof (RFC 9162, 2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Checks a consistency proof (RFC 9162, 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *old_root && s_r == *new_root && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::convert::Infallible;

    /// Perfect subtrees computed the slow way, straight from the leaves.
    struct Leaves(Vec<Hash>, HashMap<(u32, u64), Hash>);

    impl Leaves {
        fn new(count: u64) -> Leaves {
            let leaves: Vec<Hash> = (0..count).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut subtrees = HashMap::new();
            for (i, leaf) in leaves.iter().enumerate() {
                subtrees.insert((0, i as u64), *leaf);
            }
            let mut level = 0;
            while (1u64 << (level + 1)) <= count {
                for i in 0..count >> (level + 1) {
                    let hash =
                        node_hash(&subtrees[&(level, 2 * i)], &subtrees[&(level, 2 * i + 1)]);
                    subtrees.insert((level + 1, i), hash);
                }
                level += 1;
            }
            Leaves(leaves, subtrees)
        }
    }

    impl SubtreeSource for Leaves {
        type Error = Infallible;
        fn subtree(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
            Ok(self.1[&(level, index)])
        }
    }

    /// The RFC's MTH, recursively over the leaf list: the reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        for size in 0..70u64 {
            let tree = Leaves::new(size);
            assert_eq!(root(&tree, size).unwrap(), mth(&tree.0), "size {size}");
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        for size in 1..40u64 {
            let tree = Leaves::new(size);
            let root = root(&tree, size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(&tree, index, size).unwrap();
                assert!(verify_inclusion(
                    &tree.0[index as usize],
                    index,
                    size,
                    &proof,
                    &root
                ));
                let other = (index + 1) % size;
                if other != index {
                    assert!(!verify_inclusion(
                        &tree.0[other as usize],
                        index,
                        size,
                        &proof,
                        &root
                    ));
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_changed_history_does_not() {
        for new_size in 1..40u64 {
            let tree = Leaves::new(new_size);
            let new_root = root(&tree, new_size).unwrap();
            for old_size in 1..=new_size {
                let old_root = root(&tree, old_size).unwrap();
                let proof = consistency_proof(&tree, old_size, new_size).unwrap();
                assert!(
                    verify_consistency(old_size, new_size, &old_root, &new_root, &proof),
                    "{old_size}->{new_size}"
                );
                let forged = leaf_hash(b"forged");
                if old_size < new_size {
                    assert!(!verify_consistency(
                        old_size, new_size, &forged, &new_root, &proof
                    ));
                }
            }
        }
    }

    #[test]
    fn a_known_vector_from_the_empty_tree() {
        // SHA-256 of the empty string, as RFC 9162 defines the empty root.
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // A one-leaf tree's root is that leaf's hash.
        let one = Leaves::new(1);
        assert_eq!(root(&one, 1).unwrap(), leaf_hash(&0u64.to_be_bytes()));
    }
}
