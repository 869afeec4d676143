//! Facet counts over a search's matches.
//!
//! Each segment's facet values are laid out once, when the segment becomes
//! searchable, as one row of value numbers per document ([`FacetTable`]):
//! counting a match is then two nearby array reads, with no column decoding
//! and no string. Only the values that occurred are turned into text, in ordinal order
//! so each dictionary is read forward once, and segments are summed by value.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentReader};

use super::segments::{SegmentTable, SegmentTables};

use crate::domain::{Facet, FacetCount};

/// One facet of one segment: the dictionary its values' ordinals index, and where
/// those ordinals start among the segment's counted values.
struct FacetColumn {
    facet: Facet,
    dictionary: StrColumn,
    /// Its value of ordinal `o` is counted at `first + o`.
    first: u32,
}

/// Every facet of one segment, laid out for counting: document `d`'s values of all
/// facets are `values[starts[d]..starts[d + 1]]`, each its facet's `first` plus its
/// ordinal. Row by row, so a match costs two nearby reads, whatever the number of facets.
pub(super) struct FacetTable {
    columns: Vec<FacetColumn>,
    starts: Vec<u32>,
    values: Vec<u32>,
    /// Values counted in all (the sum of the dictionaries' sizes).
    distinct: usize,
}

impl SegmentTable for FacetTable {
    fn build(segment: &SegmentReader) -> tantivy::Result<Self> {
        let overflow = || tantivy::TantivyError::InternalError("a segment's facet values exceed u32".into());
        let mut columns = Vec::new();
        let mut distinct = 0u32;
        for facet in Facet::ALL {
            let Some(dictionary) = segment.fast_fields().str(&super::facet_field_name(facet))? else {
                continue;
            };
            let terms = u32::try_from(dictionary.num_terms()).map_err(|_| overflow())?;
            columns.push(FacetColumn {
                facet,
                dictionary,
                first: distinct,
            });
            distinct = distinct.checked_add(terms).ok_or_else(overflow)?;
        }
        let mut starts = Vec::with_capacity(segment.max_doc() as usize + 1);
        let mut values = Vec::new();
        starts.push(0);
        for doc in 0..segment.max_doc() {
            for column in &columns {
                for ord in column.dictionary.term_ords(doc) {
                    let value = u32::try_from(ord).ok().and_then(|ord| column.first.checked_add(ord));
                    values.push(value.ok_or_else(overflow)?);
                }
            }
            starts.push(u32::try_from(values.len()).map_err(|_| overflow())?);
        }
        Ok(Self {
            columns,
            starts,
            values,
            distinct: distinct as usize,
        })
    }
}

/// Counts every value of every facet among the matches.
pub(super) struct FacetCounter<'a> {
    /// The index's facet tables.
    pub(super) tables: &'a SegmentTables<FacetTable>,
}

/// One segment's counts: one per value of every facet, as the table numbers them.
pub(super) struct SegmentFacetCounts {
    table: Arc<FacetTable>,
    counts: Vec<u32>,
}

/// Counts by facet value.
type Counts = HashMap<(Facet, String), u64>;

impl Collector for FacetCounter<'_> {
    type Fruit = Vec<FacetCount>;
    type Child = SegmentFacetCounts;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<SegmentFacetCounts> {
        let table = self.tables.table(segment)?;
        let counts = vec![0; table.distinct];
        Ok(SegmentFacetCounts { table, counts })
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
        let doc = doc as usize;
        let table = &self.table;
        let (Some(&start), Some(&end)) = (table.starts.get(doc), table.starts.get(doc + 1)) else {
            return;
        };
        for &value in table.values.get(start as usize..end as usize).unwrap_or_default() {
            if let Some(count) = self.counts.get_mut(value as usize) {
                *count += 1;
            }
        }
    }

    fn harvest(self) -> tantivy::Result<Counts> {
        let mut found = Counts::new();
        for column in &self.table.columns {
            let first = column.first as usize;
            let counts = self
                .counts
                .get(first..first + column.dictionary.num_terms())
                .unwrap_or_default();
            let occurred: Vec<(u64, u32)> = (0u64..)
                .zip(counts.iter().copied())
                .filter(|(_, count)| *count > 0)
                .collect();
            read_terms(&column.dictionary, &occurred, |value, count| {
                let value = String::from_utf8_lossy(value).into_owned();
                *found.entry((column.facet, value)).or_default() += u64::from(count);
            })?;
        }
        Ok(found)
    }
}

/// Reads the terms of a fast column's `ordinals` (ascending, each with a value of the
/// caller's) in one forward walk of its dictionary, handing each term and its value to `found`.
fn read_terms<T: Copy>(
    column: &StrColumn,
    ordinals: &[(u64, T)],
    mut found: impl FnMut(&[u8], T),
) -> tantivy::Result<()> {
    let mut values = ordinals.iter().map(|(_, value)| *value);
    column
        .dictionary()
        .sorted_ords_to_term_cb(ordinals.iter().map(|(ordinal, _)| *ordinal), |term| {
            if let Some(value) = values.next() {
                found(term, value);
            }
            Ok(())
        })?;
    Ok(())
}
