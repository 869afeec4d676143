//! RFC 9162 Merkle tree hashing, proofs and their verification.
//!
//! Leaves hash as `SHA-256(0x00 ‖ leaf)`, interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`, and a tree of `n` leaves splits at the
//! largest power of two below `n`. Verification follows RFC 9162 §2.1.3.2
//! and §2.1.4.2 step by step and is checked against the transparency-dev
//! test vectors; generation is checked by verifying what it generates.

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

fn node_hash(left: &Hash, right: &Hash) -> Hash {
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
fn split(n: usize) -> usize {
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
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree over `leaves` (RFC 9162 §2.1.3.1).
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::Invalid("index beyond the tree"));
    }
    let mut proof = Vec::new();
    collect_path(index, leaves, &mut proof);
    Ok(proof)
}

fn collect_path(index: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    if index < k {
        collect_path(index, &leaves[..k], proof);
        proof.push(root(&leaves[k..]));
    } else {
        collect_path(index - k, &leaves[k..], proof);
        proof.push(root(&leaves[..k]));
    }
}

/// The consistency proof from the tree's first `old_size` leaves to all of `leaves` (RFC 9162 §2.1.4.1).
pub fn consistency_proof(old_size: usize, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    if old_size == 0 || old_size > leaves.len() {
        return Err(ProofError::Invalid("the old size must be 1 to the new size"));
    }
    let mut proof = Vec::new();
    if old_size < leaves.len() {
        subproof(old_size, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
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
