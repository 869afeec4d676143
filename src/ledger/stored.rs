//! The Merkle tree as it is stored: the hash of every complete, aligned
//! subtree, written as the log grows, so that the root of any size and any
//! proof read O(log n) stored hashes instead of every leaf.
//!
//! A subtree at `level` L and `index` i covers leaves `i·2^L .. (i+1)·2^L`
//! (the stored-hash layout of Go's `golang.org/x/mod/sumdb/tlog`). Appending
//! leaf n writes its level-0 node and every node it completes (one per
//! trailing one-bit of n). Any range of leaves that RFC 9162's recursion asks
//! for splits into at most 2·log₂ n such subtrees.

use std::collections::HashMap;
use std::ops::Range;

use super::merkle::{Hash, node_hash, split};

/// A complete, aligned subtree of `2^level` leaves: the `index`-th of its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtree {
    /// Height: 0 for a leaf.
    pub level: u32,
    /// Position among the subtrees of this height.
    pub index: u64,
}

impl Subtree {
    /// The leaf `index` itself.
    pub fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The subtree this one completes with its left sibling, when it is a right child.
    pub fn completes(&self) -> Option<(Subtree, Subtree)> {
        (self.index % 2 == 1).then(|| {
            (
                Subtree {
                    level: self.level,
                    index: self.index - 1,
                },
                Subtree {
                    level: self.level + 1,
                    index: self.index / 2,
                },
            )
        })
    }
}

/// The stored subtrees whose hashes make up the tree hash of `leaves`, left to right.
pub fn parts(leaves: Range<u64>) -> Vec<Subtree> {
    let mut parts = Vec::new();
    collect_parts(leaves, &mut parts);
    parts
}

fn collect_parts(leaves: Range<u64>, parts: &mut Vec<Subtree>) {
    let n = leaves.end - leaves.start;
    if n == 0 {
        return;
    }
    if n.is_power_of_two() && leaves.start % n == 0 {
        let level = n.trailing_zeros();
        parts.push(Subtree {
            level,
            index: leaves.start >> level,
        });
        return;
    }
    let middle = leaves.start + split(n);
    collect_parts(leaves.start..middle, parts);
    collect_parts(middle..leaves.end, parts);
}

/// The tree hash of `leaves` (non-empty) from stored subtree hashes; `None` when one is missing.
pub fn range_hash(leaves: Range<u64>, stored: &HashMap<Subtree, Hash>) -> Option<Hash> {
    let n = leaves.end - leaves.start;
    if n.is_power_of_two() && leaves.start % n == 0 {
        let level = n.trailing_zeros();
        return stored
            .get(&Subtree {
                level,
                index: leaves.start >> level,
            })
            .copied();
    }
    if n < 2 {
        return None;
    }
    let middle = leaves.start + split(n);
    Some(node_hash(
        &range_hash(leaves.start..middle, stored)?,
        &range_hash(middle..leaves.end, stored)?,
    ))
}

/// The stored subtrees that make up the tree hashes of `ranges`, sorted, each once.
pub fn parts_of(ranges: &[Range<u64>]) -> Vec<Subtree> {
    let mut wanted: Vec<Subtree> = ranges.iter().flat_map(|range| parts(range.clone())).collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// The tree hashes of `ranges` from the subtree hashes [`parts_of`] named; `Err` names a
/// range whose parts are missing.
pub fn range_hashes(ranges: &[Range<u64>], stored: &HashMap<Subtree, Hash>) -> Result<Vec<Hash>, Range<u64>> {
    ranges
        .iter()
        .map(|range| range_hash(range.clone(), stored).ok_or_else(|| range.clone()))
        .collect()
}

/// Builds the stored subtrees of a log from its leaves in order, keeping only the
/// rightmost incomplete path in memory (O(log n)): how an existing log is converted.
#[derive(Clone, Debug, Default)]
pub struct TreeBuilder {
    /// Complete subtrees still waiting for a right sibling, lowest last.
    pending: Vec<(Subtree, Hash)>,
    next: u64,
}

impl TreeBuilder {
    /// Continues a tree of `size` leaves from the hashes of its [`parts`]`(0..size)`, left to right.
    pub fn resume(size: u64, frontier: Vec<Hash>) -> Option<Self> {
        let parts = parts(0..size);
        (parts.len() == frontier.len()).then(|| Self {
            pending: parts.into_iter().zip(frontier).collect(),
            next: size,
        })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.next
    }

    /// The RFC 9162 root of the leaves pushed so far (the empty root for none).
    pub fn root(&self) -> Hash {
        self.pending
            .iter()
            .rev()
            .map(|(_, hash)| *hash)
            .reduce(|right, left| node_hash(&left, &right))
            .unwrap_or_else(super::merkle::empty_root)
    }

    /// Adds the next leaf; returns every subtree it stores (its own node first).
    pub fn push(&mut self, leaf: Hash) -> Vec<(Subtree, Hash)> {
        let mut node = (Subtree::leaf(self.next), leaf);
        self.next += 1;
        let mut stored = vec![node];
        while let Some((left, parent)) = node.0.completes() {
            let Some((sibling, left_hash)) = self.pending.pop() else {
                break;
            };
            debug_assert_eq!(sibling, left);
            node = (parent, node_hash(&left_hash, &node.1));
            stored.push(node);
        }
        self.pending.push(node);
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::super::merkle::{self, consistency_ranges, inclusion_ranges, leaf_hash, root};
    use super::*;
    use proptest::prelude::*;

    fn build(n: u64) -> (Vec<Hash>, HashMap<Subtree, Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect();
        let mut builder = TreeBuilder::default();
        let stored = leaves.iter().flat_map(|leaf| builder.push(*leaf)).collect();
        (leaves, stored)
    }

    fn from_leaves(leaves: &[Hash], range: Range<u64>) -> Hash {
        root(&leaves[range.start as usize..range.end as usize])
    }

    #[test]
    fn appends_store_each_completed_subtree_once() {
        let (_, stored) = build(8);
        // 8 leaves + 4 pairs + 2 quads + 1 octet.
        assert_eq!(stored.len(), 15);
        assert_eq!(parts(0..8), vec![Subtree { level: 3, index: 0 }]);
        assert_eq!(parts(0..7).len(), 3);
        assert!(parts(0..(1 << 40) - 1).len() <= 40);
    }

    proptest! {
        #[test]
        fn a_resumed_builder_continues_the_same_tree(n in 0u64..200, more in 1u64..70) {
            let (leaves, stored) = build(n + more);
            let frontier = parts(0..n).iter().map(|part| stored[part]).collect();
            let mut resumed = TreeBuilder::resume(n, frontier).expect("frontier fits");
            prop_assert_eq!(resumed.root(), root(&leaves[..n as usize]));
            let grown: HashMap<Subtree, Hash> =
                leaves[n as usize..].iter().flat_map(|leaf| resumed.push(*leaf)).collect();
            prop_assert_eq!(resumed.root(), root(&leaves));
            for (subtree, hash) in grown {
                prop_assert_eq!(stored.get(&subtree), Some(&hash));
            }
        }

        #[test]
        fn stored_roots_and_proofs_equal_those_from_all_leaves(n in 1u64..300, seed in any::<u64>()) {
            let (leaves, stored) = build(n);
            for size in [n, seed % n + 1] {
                prop_assert_eq!(range_hash(0..size, &stored), Some(root(&leaves[..size as usize])));
            }
            let index = seed % n;
            for range in inclusion_ranges(index, n).expect("ranges") {
                prop_assert_eq!(range_hash(range.clone(), &stored), Some(from_leaves(&leaves, range)));
            }
            let old = seed % n + 1;
            let proof: Vec<Vec<u8>> = consistency_ranges(old, n)
                .expect("ranges")
                .into_iter()
                .map(|range| range_hash(range, &stored).expect("stored").to_vec())
                .collect();
            prop_assert!(merkle::verify_consistency(
                old, n, &root(&leaves[..old as usize]), &root(&leaves), &proof
            ).is_ok());
        }
    }
}
