//! Facet counts over a search's matches.
//!
//! Each segment's facet values are laid out once, when the segment becomes
//! searchable, as plain arrays of term ordinals per document ([`FacetTable`]):
//! counting a match is then a few array reads, with no column decoding and no
//! string. Only the values that occurred are turned into text, in ordinal order
//! so each dictionary is read forward once, and segments are summed by value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, Searcher, SegmentReader};

use crate::domain::{Facet, FacetCount};

/// One facet of one segment: each document's value ordinals, and the dictionary they index.
struct FacetColumn {
    facet: Facet,
    dictionary: StrColumn,
    /// Document `d`'s ordinals are `ords[starts[d]..starts[d + 1]]`.
    starts: Vec<u32>,
    ords: Vec<u32>,
}

/// Every facet of one segment, laid out for counting.
pub(super) struct FacetTable {
    columns: Vec<FacetColumn>,
}

impl FacetTable {
    fn build(segment: &SegmentReader) -> tantivy::Result<Self> {
        let mut columns = Vec::new();
        for facet in Facet::ALL {
            let Some(column) = segment.fast_fields().str(&super::facet_field_name(facet))? else {
                continue;
            };
            let mut starts = Vec::with_capacity(segment.max_doc() as usize + 1);
            let mut ords = Vec::new();
            starts.push(0);
            for doc in 0..segment.max_doc() {
                ords.extend(column.term_ords(doc).filter_map(|ord| u32::try_from(ord).ok()));
                starts.push(u32::try_from(ords.len()).unwrap_or(u32::MAX));
            }
            columns.push(FacetColumn {
                facet,
                dictionary: column,
                starts,
                ords,
            });
        }
        Ok(Self { columns })
    }
}

/// The facet tables of the segments searches see, kept in step with the index's reader.
#[derive(Default)]
pub(super) struct FacetTables {
    by_segment: Mutex<HashMap<SegmentId, Arc<FacetTable>>>,
}

impl FacetTables {
    /// Lays out the segments `searcher` sees that have no table yet and forgets the rest:
    /// called when a commit becomes searchable, so no search waits for a layout.
    pub(super) fn refresh(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let mut fresh = HashMap::new();
        for segment in searcher.segment_readers() {
            let id = segment.segment_id();
            let known = self.lock().get(&id).cloned();
            let table = match known {
                Some(table) => table,
                None => Arc::new(FacetTable::build(segment)?),
            };
            fresh.insert(id, table);
        }
        *self.lock() = fresh;
        Ok(())
    }

    fn table(&self, segment: &SegmentReader) -> tantivy::Result<Arc<FacetTable>> {
        if let Some(table) = self.lock().get(&segment.segment_id()) {
            return Ok(table.clone());
        }
        // A segment the last refresh has not seen (a search racing a commit): laid out now.
        let table = Arc::new(FacetTable::build(segment)?);
        self.lock().insert(segment.segment_id(), table.clone());
        Ok(table)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<FacetTable>>> {
        // The map only ever holds complete tables: one left by a panicking thread is still sound.
        self.by_segment
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counts every value of every facet among the matches.
pub(super) struct FacetCounter<'a> {
    /// The index's facet tables.
    pub(super) tables: &'a FacetTables,
}

/// One segment's counts: per facet, a count per term ordinal.
pub(super) struct SegmentFacetCounts {
    table: Arc<FacetTable>,
    counts: Vec<Vec<u32>>,
}

/// Counts by facet value.
type Counts = HashMap<(Facet, String), u64>;

impl Collector for FacetCounter<'_> {
    type Fruit = Vec<FacetCount>;
    type Child = SegmentFacetCounts;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<SegmentFacetCounts> {
        let table = self.tables.table(segment)?;
        let counts = table
            .columns
            .iter()
            .map(|column| vec![0; column.dictionary.num_terms()])
            .collect();
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
        for (column, counts) in self.table.columns.iter().zip(&mut self.counts) {
            let (Some(&start), Some(&end)) = (column.starts.get(doc), column.starts.get(doc + 1)) else {
                continue;
            };
            for &ord in column.ords.get(start as usize..end as usize).unwrap_or_default() {
                if let Some(count) = counts.get_mut(ord as usize) {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> tantivy::Result<Counts> {
        let mut found = Counts::new();
        for (column, counts) in self.table.columns.iter().zip(self.counts) {
            let occurred: Vec<(u64, u32)> = (0u64..).zip(counts).filter(|(_, count)| *count > 0).collect();
            super::read_terms(&column.dictionary, &occurred, |value, count| {
                let value = String::from_utf8_lossy(value).into_owned();
                *found.entry((column.facet, value)).or_default() += u64::from(count);
            })?;
        }
        Ok(found)
    }
}
