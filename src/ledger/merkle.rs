//! RFC 9162 Merkle tree hashing, proofs and their verification.
//!
//! Leaves hash as `SHA-256(0x00 ‖ leaf)`, interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`, and a tree of `n` leaves splits at the
//! largest power of two below `n`. Verification follows RFC 9162 §2.1.3.2
//! and §2.1.4.2 step by step and is checked against the transparency-dev
//! test vectors; generation is checked by verifying what it generates.
//! Proofs are generated as the leaf ranges whose tree hashes they hold, so
//! the hashes can come from wherever they are kept (see [`super::stored`]).

use std::ops::Range;

use sha2::{Digest as _, Sha256};

/// A node hash.
pub type Hash = [u8; 32];

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The sizes or index are impossible for the claim.
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// The proof has the wrong number of hashes, or a hash of the wrong length.
    #[error("malformed proof")]
    Malformed,
    /// The recomputed root differs from the claimed one.
    #[error("root mismatch")]
    RootMismatch,
}

/// The hash of a leaf's bytes.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// The hash of an interior node over its two children.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: the hash of no bytes.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly below `n` (n ≥ 2).
pub(super) fn split(n: u64) -> u64 {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root of the tree over `leaves` (leaf hashes, in order).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = usize::try_from(split(n as u64)).unwrap_or(n / 2);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The ranges of leaves whose tree hashes make up the audit path of leaf `index`
/// in the tree of `size` leaves, in proof order (RFC 9162 §2.1.3.1).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if index >= size {
        return Err(ProofError::Invalid("index beyond the tree"));
    }
    let mut ranges = Vec::new();
    collect_path(index, 0..size, &mut ranges);
    Ok(ranges)
}

fn collect_path(index: u64, leaves: Range<u64>, ranges: &mut Vec<Range<u64>>) {
    let n = leaves.end - leaves.start;
    if n <= 1 {
        return;
    }
    let middle = leaves.start + split(n);
    if index < middle {
        collect_path(index, leaves.start..middle, ranges);
        ranges.push(middle..leaves.end);
    } else {
        collect_path(index, middle..leaves.end, ranges);
        ranges.push(leaves.start..middle);
    }
}

/// The ranges of leaves whose tree hashes make up the consistency proof from the
/// tree of `old_size` leaves to the tree of `new_size` (RFC 9162 §2.1.4.1).
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::Invalid("the old size must be 1 to the new size"));
    }
    let mut ranges = Vec::new();
    if old_size < new_size {
        subproof(old_size, 0..new_size, true, &mut ranges);
    }
    Ok(ranges)
}

fn subproof(m: u64, leaves: Range<u64>, complete: bool, ranges: &mut Vec<Range<u64>>) {
    let n = leaves.end - leaves.start;
    if m == n {
        if !complete {
            ranges.push(leaves);
        }
        return;
    }
    let middle = leaves.start + split(n);
    if m <= middle - leaves.start {
        subproof(m, leaves.start..middle, complete, ranges);
        ranges.push(middle..leaves.end);
    } else {
        subproof(m - (middle - leaves.start), middle..leaves.end, false, ranges);
        ranges.push(leaves.start..middle);
    }
}

fn as_hash(bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::Malformed)
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &[u8], proof: &[Vec<u8>], root: &[u8]) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Invalid("index beyond the tree"));
    }
    let root = as_hash(root)?;
    let mut r = as_hash(leaf)?;
    let (mut f_n, mut s_n) = (index, size - 1);
    for element in proof {
        let p = as_hash(element)?;
        if s_n == 0 {
            return Err(ProofError::Malformed);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(&p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, &p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Malformed);
    }
    if r == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies that the tree of `old_size` leaves with `old_root` is a prefix of
/// the tree of `new_size` leaves with `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[Vec<u8>],
) -> Result<(), ProofError> {
    if old_size == 0 {
        return Err(ProofError::Invalid("consistency with the empty tree proves nothing"));
    }
    if new_size < old_size {
        return Err(ProofError::Invalid("the new tree is smaller than the old one"));
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::Malformed);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let (old_root, new_root) = (as_hash(old_root)?, as_hash(new_root)?);
    let mut path: Vec<Hash> = proof.iter().map(|p| as_hash(p)).collect::<Result<_, _>>()?;
    if path.is_empty() {
        return Err(ProofError::Malformed);
    }
    if old_size.is_power_of_two() {
        path.insert(0, old_root);
    }
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::Malformed);
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
    if s_n != 0 {
        return Err(ProofError::Malformed);
    }
    if f_r == old_root && s_r == new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    fn bytes(proof: &[Hash]) -> Vec<Vec<u8>> {
        proof.iter().map(|h| h.to_vec()).collect()
    }

    /// A proof's hashes, computed from all the leaves.
    fn hashes(ranges: Vec<Range<u64>>, tree: &[Hash]) -> Vec<Hash> {
        ranges
            .into_iter()
            .map(|r| root(&tree[r.start as usize..r.end as usize]))
            .collect()
    }

    fn inclusion_proof(index: usize, tree: &[Hash]) -> Result<Vec<Hash>, ProofError> {
        Ok(hashes(inclusion_ranges(index as u64, tree.len() as u64)?, tree))
    }

    fn consistency_proof(m: usize, tree: &[Hash]) -> Result<Vec<Hash>, ProofError> {
        Ok(hashes(consistency_ranges(m as u64, tree.len() as u64)?, tree))
    }

    proptest! {
        #[test]
        fn generated_inclusion_proofs_verify_and_tampering_fails(n in 1usize..70, seed in any::<usize>()) {
            let tree = leaves(n);
            let index = seed % n;
            let proof = inclusion_proof(index, &tree).expect("proof");
            let root = root(&tree);
            prop_assert!(verify_inclusion(index as u64, n as u64, &tree[index], &bytes(&proof), &root).is_ok());
            let other = (index + 1) % n;
            if other != index {
                prop_assert!(verify_inclusion(other as u64, n as u64, &tree[index], &bytes(&proof), &root).is_err());
            }
            if let Some(first) = proof.first() {
                let mut tampered = bytes(&proof);
                tampered[0][0] ^= 1;
                prop_assert!(verify_inclusion(index as u64, n as u64, &tree[index], &tampered, &root).is_err());
                prop_assert_ne!(first, &root);
            }
        }

        #[test]
        fn generated_consistency_proofs_verify_and_rewrites_fail(n in 1usize..70, seed in any::<usize>()) {
            let tree = leaves(n);
            let m = seed % n + 1;
            let proof = consistency_proof(m, &tree).expect("proof");
            prop_assert!(verify_consistency(m as u64, n as u64, &root(&tree[..m]), &root(&tree), &bytes(&proof)).is_ok());
            let mut rewritten = tree.clone();
            rewritten[m - 1] = leaf_hash(b"rewritten history");
            if m < n {
                prop_assert!(verify_consistency(m as u64, n as u64, &root(&tree[..m]), &root(&rewritten), &bytes(&proof)).is_err());
            }
        }
    }
}
