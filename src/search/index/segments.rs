//! Tables laid out once per segment when it becomes searchable, kept in step with the
//! index's reader: what a search would otherwise decode from columns for every match
//! (facet values) or for every result (ids).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{Searcher, SegmentReader};

/// Something laid out from one segment.
pub(super) trait SegmentTable: Sized {
    /// Lays out `segment`.
    fn build(segment: &SegmentReader) -> tantivy::Result<Self>;
}

/// One table per segment searches see.
pub(super) struct SegmentTables<T> {
    by_segment: Mutex<HashMap<SegmentId, Arc<T>>>,
}

impl<T> Default for SegmentTables<T> {
    fn default() -> Self {
        Self {
            by_segment: Mutex::default(),
        }
    }
}

impl<T: SegmentTable> SegmentTables<T> {
    /// Lays out the segments `searcher` sees that have no table yet and forgets the rest:
    /// called when a commit becomes searchable, so no search waits for a layout.
    pub(super) fn refresh(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let mut fresh = HashMap::new();
        for segment in searcher.segment_readers() {
            let id = segment.segment_id();
            let known = self.lock().get(&id).cloned();
            let table = match known {
                Some(table) => table,
                None => Arc::new(T::build(segment)?),
            };
            fresh.insert(id, table);
        }
        *self.lock() = fresh;
        Ok(())
    }

    /// The table of `segment`.
    pub(super) fn table(&self, segment: &SegmentReader) -> tantivy::Result<Arc<T>> {
        if let Some(table) = self.lock().get(&segment.segment_id()) {
            return Ok(table.clone());
        }
        // A segment the last refresh has not seen (a search racing a commit): laid out now.
        let table = Arc::new(T::build(segment)?);
        self.lock().insert(segment.segment_id(), table.clone());
        Ok(table)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<T>>> {
        // The map only ever holds complete tables: one left by a panicking thread is still sound.
        self.by_segment
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A segment's ids by ordinal (their sorted order in the id column's dictionary), and
/// each document's ordinal.
///
/// A page's results are found as ordinals; reading their ids from the dictionary decodes,
/// for each, its block up to it (on average half a block of ids, most of a search's cost
/// after matching), where this table answers each with one slice. A match's ordinal breaks
/// ties between equal keys, and in a catalog of look-alike records most matches tie: read
/// from the id column it cost a column decode per match, here one array read.
#[derive(Default)]
pub(super) struct IdTable {
    /// Every id's bytes, in ordinal order.
    bytes: Vec<u8>,
    /// Where each id ends in `bytes`.
    ends: Vec<u32>,
    /// Each document's id ordinal; [`NO_ID`] for one without an id.
    ordinals: Vec<u32>,
}

/// The ordinal of a document without an id.
const NO_ID: u32 = u32::MAX;

impl IdTable {
    /// The id ordinal of document `doc`, if it has one.
    pub(super) fn ordinal(&self, doc: tantivy::DocId) -> Option<u64> {
        let ordinal = *self.ordinals.get(doc as usize)?;
        (ordinal != NO_ID).then_some(u64::from(ordinal))
    }

    /// The id of ordinal `ordinal`, if the segment has one.
    pub(super) fn id(&self, ordinal: u64) -> Option<&str> {
        let ordinal = usize::try_from(ordinal).ok()?;
        let end = *self.ends.get(ordinal)? as usize;
        let start = match ordinal.checked_sub(1) {
            Some(previous) => *self.ends.get(previous)? as usize,
            None => 0,
        };
        // Only valid keys are ever indexed; anything else is left out, not served.
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }
}

impl SegmentTable for IdTable {
    fn build(segment: &SegmentReader) -> tantivy::Result<Self> {
        let Some(column) = segment.fast_fields().str(super::ID)? else {
            return Ok(Self::default());
        };
        let too_many = || tantivy::TantivyError::InternalError("a segment's ids exceed 4 GiB".into());
        let mut table = Self {
            bytes: Vec::new(),
            ends: Vec::with_capacity(column.num_terms()),
            ordinals: Vec::with_capacity(segment.max_doc() as usize),
        };
        for doc in 0..segment.max_doc() {
            let ordinal = match column.term_ords(doc).next() {
                Some(ordinal) => u32::try_from(ordinal)
                    .ok()
                    .filter(|ordinal| *ordinal != NO_ID)
                    .ok_or_else(too_many)?,
                None => NO_ID,
            };
            table.ordinals.push(ordinal);
        }
        let mut terms = column.dictionary().stream()?;
        while terms.advance() {
            table.bytes.extend_from_slice(terms.key());
            let end = u32::try_from(table.bytes.len()).map_err(|_| too_many())?;
            table.ends.push(end);
        }
        Ok(table)
    }
}
