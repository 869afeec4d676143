//! Facet counts over a search's matches, from each facet's fast column.
//!
//! A segment counts by term ordinal in a plain array (no string is touched per
//! match); only the values that occurred are turned into text, in ordinal order
//! so the dictionary is read forward once, and segments are summed by value.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentReader};

use crate::domain::{Facet, FacetCount};

/// Counts every value of every facet among the matches.
pub(super) struct FacetCounter;

/// One segment's counts: per facet, its column and a count per term ordinal.
pub(super) struct SegmentFacetCounts {
    columns: Vec<(Facet, StrColumn, Vec<u32>)>,
}

/// Counts by facet value.
type Counts = HashMap<(Facet, String), u64>;

impl Collector for FacetCounter {
    type Fruit = Vec<FacetCount>;
    type Child = SegmentFacetCounts;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<SegmentFacetCounts> {
        let mut columns = Vec::new();
        for facet in Facet::ALL {
            if let Some(column) = segment.fast_fields().str(&super::facet_field_name(facet))? {
                let counts = vec![0; column.num_terms()];
                columns.push((facet, column, counts));
            }
        }
        Ok(SegmentFacetCounts { columns })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<tantivy::Result<Counts>>) -> tantivy::Result<Vec<FacetCount>> {
        let mut total = Counts::new();
        for segment in segments {
            for (value, count) in segment? {
                *total.entry(value).or_default() += count;
            }
        }
        let mut counts: Vec<FacetCount> = total
            .into_iter()
            .map(|((facet, value), count)| FacetCount { facet, value, count })
            .collect();
        // Facets in their order, each most frequent first.
        counts.sort_by(|a, b| {
            a.facet
                .cmp(&b.facet)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.value.cmp(&b.value))
        });
        Ok(counts)
    }
}

impl SegmentCollector for SegmentFacetCounts {
    type Fruit = tantivy::Result<Counts>;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (_, column, counts) in &mut self.columns {
            for ord in column.term_ords(doc) {
                if let Some(count) = usize::try_from(ord).ok().and_then(|ord| counts.get_mut(ord)) {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> tantivy::Result<Counts> {
        let mut found = Counts::new();
        for (facet, column, counts) in self.columns {
            let occurred: Vec<(u64, u32)> = (0u64..).zip(counts).filter(|(_, count)| *count > 0).collect();
            let mut values = occurred.iter();
            column
                .dictionary()
                .sorted_ords_to_term_cb(occurred.iter().map(|(ord, _)| *ord), |bytes| {
                    if let Some((_, count)) = values.next() {
                        let value = String::from_utf8_lossy(bytes).into_owned();
                        *found.entry((facet, value)).or_default() += u64::from(*count);
                    }
                    Ok(())
                })?;
        }
        Ok(found)
    }
}
