//! Deliveries of licensed files: which bytes a buyer has received, and the receipt for a whole file.
//!
//! A download may arrive as many `Range` requests; their union is tracked
//! until it covers the file, and only then is the delivery complete.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// The `type` of a delivery receipt.
pub const RECEIPT_TYPE: &str = "ShulianDeliveryReceipt";

/// Most separate ranges kept per delivery; beyond it a delivery must start over.
pub const MAX_TRACKED_RANGES: usize = 4096;

/// A set of byte ranges, kept sorted, disjoint and merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByteRanges(Vec<(u64, u64)>);

impl ByteRanges {
    /// Adds a half-open range, merging it with any it touches.
    pub fn add(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        let (mut start, mut end) = (range.start, range.end);
        let mut kept = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if b < start || a > end {
                kept.push((a, b));
            } else {
                start = start.min(a);
                end = end.max(b);
            }
        }
        kept.push((start, end));
        kept.sort_unstable();
        self.0 = kept;
    }

    /// Whether the ranges cover `0..size`.
    pub fn covers(&self, size: u64) -> bool {
        size == 0 || self.0.first().is_some_and(|&(a, b)| a == 0 && b >= size)
    }

    /// How many separate ranges are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no byte is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_merge_and_cover() {
        let mut ranges = ByteRanges::default();
        ranges.add(10..20);
        ranges.add(30..40);
        assert!(!ranges.covers(40));
        ranges.add(0..10);
        ranges.add(20..30);
        assert_eq!(ranges, ByteRanges(vec![(0, 40)]));
        assert!(ranges.covers(40));
        assert!(!ranges.covers(41));
    }

    proptest! {
        #[test]
        fn any_order_of_chunks_covers_exactly_when_all_arrived(size in 1u64..500, cuts in proptest::collection::vec(0u64..500, 0..12), skip in any::<bool>()) {
            let mut points: Vec<u64> = cuts.into_iter().filter(|c| *c < size).collect();
            points.extend([0, size]);
            points.sort_unstable();
            points.dedup();
            let chunks: Vec<Range<u64>> = points.windows(2).map(|w| w[0]..w[1]).collect();
            let mut ranges = ByteRanges::default();
            let skipped = if skip && chunks.len() > 1 { Some(chunks.len() / 2) } else { None };
            for (index, chunk) in chunks.iter().enumerate().rev() {
                if Some(index) != skipped {
                    ranges.add(chunk.clone());
                }
            }
            prop_assert_eq!(ranges.covers(size), skipped.is_none());
        }
    }
}
