//! Facet counts over a search's matches.
//!
//! Each segment's facet values are laid out once, when the segment becomes
//! searchable, as one row of value numbers per document ([`FacetTable`]):
//! counting a match is then two nearby array reads, with no column decoding
//! and no string. Only the values that occurred are turned into text, in ordinal order
//! so each dictionary is read forward once, and segments are summed by value.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::columnar::StrColumn;
use tantivy::{DocId, SegmentReader};

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
    values: ValueNumbers,
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
            values: ValueNumbers::narrowed(values, distinct),
            distinct: distinct as usize,
        })
    }
}

/// A segment's value numbers, each as narrow as the segment's count of distinct values
/// allows. Counting a large search waits on reading its matches' rows (rarely in cache):
/// a catalog with fewer than 256 facet values in all reads a quarter of the bytes.
enum ValueNumbers {
    /// Under 2⁸ values.
    Narrow(Vec<u8>),
    /// Under 2¹⁶ values.
    Medium(Vec<u16>),
    /// The rest.
    Wide(Vec<u32>),
}

impl ValueNumbers {
    /// `values` narrowed to fit `distinct` values.
    fn narrowed(values: Vec<u32>, distinct: u32) -> Self {
        fn narrow<T: TryFrom<u32>>(values: &[u32]) -> Option<Vec<T>> {
            values.iter().map(|value| T::try_from(*value).ok()).collect()
        }
        if distinct <= u32::from(u8::MAX) + 1
            && let Some(narrow) = narrow(&values)
        {
            return Self::Narrow(narrow);
        }
        if distinct <= u32::from(u16::MAX) + 1
            && let Some(medium) = narrow(&values)
        {
            return Self::Medium(medium);
        }
        Self::Wide(values)
    }

    /// Adds one to the count of each value in `range`.
    fn count(&self, range: std::ops::Range<usize>, counts: &mut [u32]) {
        fn add<T: Copy + Into<u32>>(values: Option<&[T]>, counts: &mut [u32]) {
            for value in values.unwrap_or_default() {
                if let Some(count) = counts.get_mut((*value).into() as usize) {
                    *count += 1;
                }
            }
        }
        match self {
            Self::Narrow(values) => add(values.get(range), counts),
            Self::Medium(values) => add(values.get(range), counts),
            Self::Wide(values) => add(values.get(range), counts),
        }
    }
}

/// Counts every value of every facet among a search's matches, segment by segment.
pub(super) struct FacetCounter<'a> {
    /// The index's facet tables.
    pub(super) tables: &'a SegmentTables<FacetTable>,
}

impl FacetCounter<'_> {
    /// Starts counting the matches of `segment`.
    pub(super) fn for_segment(&self, segment: &SegmentReader) -> tantivy::Result<SegmentFacetCounts> {
        let table = self.tables.table(segment)?;
        let counts = vec![0; table.distinct];
        Ok(SegmentFacetCounts { table, counts })
    }
}

/// One segment's counts: one per value of every facet, as the table numbers them.
pub(super) struct SegmentFacetCounts {
    table: Arc<FacetTable>,
    counts: Vec<u32>,
}

/// Counts by facet value.
pub(super) type Counts = HashMap<(Facet, String), u64>;

/// The counts of every segment summed, facets in their order, each most frequent first.
pub(super) fn merged<'a>(segments: impl Iterator<Item = &'a Counts>) -> Vec<FacetCount> {
    let mut total = Counts::new();
    for segment in segments {
        for (value, count) in segment {
            *total.entry(value.clone()).or_default() += count;
        }
    }
    let mut counts: Vec<FacetCount> = total
        .into_iter()
        .map(|((facet, value), count)| FacetCount { facet, value, count })
        .collect();
    counts.sort_by(|a, b| {
        a.facet
            .cmp(&b.facet)
            .then(b.count.cmp(&a.count))
            .then_with(|| a.value.cmp(&b.value))
    });
    counts
}

impl SegmentFacetCounts {
    /// Counts the facet values of match `doc`.
    pub(super) fn count(&mut self, doc: DocId) {
        let doc = doc as usize;
        let table = &self.table;
        let (Some(&start), Some(&end)) = (table.starts.get(doc), table.starts.get(doc + 1)) else {
            return;
        };
        table.values.count(start as usize..end as usize, &mut self.counts);
    }

    /// The values counted, by facet and value text.
    pub(super) fn harvest(self) -> tantivy::Result<Counts> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts of `values`, each row of two, narrowed for `distinct` values.
    fn counted(values: Vec<u32>, distinct: u32) -> (&'static str, Vec<u32>) {
        let numbers = ValueNumbers::narrowed(values.clone(), distinct);
        let width = match numbers {
            ValueNumbers::Narrow(_) => "u8",
            ValueNumbers::Medium(_) => "u16",
            ValueNumbers::Wide(_) => "u32",
        };
        let mut counts = vec![0; distinct as usize];
        for row in (0..values.len()).step_by(2) {
            numbers.count(row..row + 2, &mut counts);
        }
        (width, counts)
    }

    #[test]
    fn value_numbers_are_as_narrow_as_the_values_allow_and_count_alike() {
        let (width, counts) = counted(vec![0, 255, 255, 3], 256);
        assert_eq!(width, "u8");
        assert_eq!((counts[0], counts[3], counts[255]), (1, 1, 2));
        let (width, counts) = counted(vec![256, 1, 256, 65_535], 65_536);
        assert_eq!(width, "u16");
        assert_eq!((counts[1], counts[256], counts[65_535]), (1, 2, 1));
        let (width, counts) = counted(vec![65_536, 0, 70_000, 65_536], 70_001);
        assert_eq!(width, "u32");
        assert_eq!((counts[0], counts[65_536], counts[70_000]), (1, 2, 1));
    }
}
