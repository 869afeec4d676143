//! The counts of a search's matches in each segment (how many, and their facet values),
//! kept for the searches asked again.
//!
//! A segment's documents never change once written; some get deleted, and deletions only
//! grow. So a segment and its count of deletions name which of its documents are alive,
//! and which of those a search matches, how many, and with which facet values, stay fixed
//! while the segment lives. Counting every match (each answer carries the exact total and
//! every facet) is a third of a popular search over a large catalog; kept, a repeat pays
//! only for ranking its page. A publication adds a small segment, counted afresh, and
//! leaves the large segments' counts standing, where a cache of whole answers would be
//! cleared by every publication. As in Lucene's query cache, only counts worth keeping are
//! kept (a segment with many matches), within a bound, the least recently used let go first.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SegmentReader};

use super::facets::Counts;
use crate::domain::{SearchFilter, TimeRange};
use crate::search::QueryTerm;

/// A segment's matches fewer than this are counted afresh: cheaper than keeping them.
const KEEP_FROM: u64 = 1_024;

/// Searches whose counts are kept, at most.
const SEARCHES_KEPT: usize = 1_024;

/// Facet values kept in all, at most (a few tens of MiB).
const VALUES_KEPT: usize = 1 << 18;

/// What decides which datasets a search matches; its order, page and ranking statistics do not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Matching {
    /// The query's terms.
    pub(super) terms: Vec<QueryTerm>,
    /// Its filters.
    pub(super) filters: Vec<SearchFilter>,
    /// Its span of update times.
    pub(super) updated: TimeRange,
    /// Its span of publication times.
    pub(super) created: TimeRange,
}

impl Matching {
    /// What decides the matches of `query`.
    pub(super) fn of(query: &super::IndexQuery) -> Self {
        Self {
            terms: query.terms.clone(),
            filters: query.filters.clone(),
            updated: query.updated,
            created: query.created,
        }
    }
}

/// A segment as its alive documents stand: deletions only grow, so their count names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct SegmentState {
    id: SegmentId,
    deleted: DocId,
}

impl SegmentState {
    /// The state `segment` is in.
    pub(super) fn of(segment: &SegmentReader) -> Self {
        Self {
            id: segment.segment_id(),
            deleted: segment.num_deleted_docs(),
        }
    }
}

/// A search's matches in one segment.
#[derive(Debug, Default)]
pub(super) struct SegmentCounts {
    /// How many.
    pub(super) total: u64,
    /// Their facet values, each with its count.
    pub(super) facets: Counts,
}

/// Counts kept by search and segment.
#[derive(Default)]
pub(super) struct KeptCounts {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    searches: HashMap<Matching, KeptSearch>,
    /// Facet values held by all searches.
    values: usize,
    /// Ticks at each use, so the least recently used search is the one with the lowest.
    clock: u64,
}

struct KeptSearch {
    segments: HashMap<SegmentState, Arc<SegmentCounts>>,
    last_used: u64,
}

impl KeptCounts {
    /// The counts kept of `matching` in `segment`, if any.
    pub(super) fn get(&self, matching: &Matching, segment: SegmentState) -> Option<Arc<SegmentCounts>> {
        let mut kept = self.lock();
        kept.clock += 1;
        let now = kept.clock;
        let search = kept.searches.get_mut(matching)?;
        search.last_used = now;
        search.segments.get(&segment).cloned()
    }

    /// Keeps `counts` of `matching` in `segment` if they are worth it, letting go of the
    /// least recently used searches beyond the bounds.
    pub(super) fn keep(&self, matching: &Matching, segment: SegmentState, counts: Arc<SegmentCounts>) {
        let values = counts.facets.len();
        if counts.total < KEEP_FROM || values > VALUES_KEPT {
            return;
        }
        let mut guard = self.lock();
        let kept = &mut *guard;
        kept.clock += 1;
        let search = kept.searches.entry(matching.clone()).or_insert_with(|| KeptSearch {
            segments: HashMap::new(),
            last_used: 0,
        });
        search.last_used = kept.clock;
        if let Some(replaced) = search.segments.insert(segment, counts) {
            kept.values -= replaced.facets.len();
        }
        kept.values += values;
        while kept.values > VALUES_KEPT || kept.searches.len() > SEARCHES_KEPT {
            let Some(oldest) = kept
                .searches
                .iter()
                .min_by_key(|(_, search)| search.last_used)
                .map(|(matching, _)| matching.clone())
            else {
                break;
            };
            if let Some(gone) = kept.searches.remove(&oldest) {
                kept.values -= gone.values();
            }
        }
    }

    /// Lets go of the counts of segments `searcher` no longer sees (merged away, or with
    /// more deletions): called when a commit becomes searchable. A search still running on
    /// an older searcher may keep counts of a state let go here; no later searcher shows
    /// that state, so they are never read, and the next commit lets them go.
    pub(super) fn retain(&self, searcher: &Searcher) {
        let live: HashSet<SegmentState> = searcher.segment_readers().iter().map(SegmentState::of).collect();
        let mut guard = self.lock();
        let kept = &mut *guard;
        for search in kept.searches.values_mut() {
            search.segments.retain(|segment, counts| {
                let alive = live.contains(segment);
                if !alive {
                    kept.values -= counts.facets.len();
                }
                alive
            });
        }
        kept.searches.retain(|_, search| !search.segments.is_empty());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Every change to the map is whole before the lock is let go: one left by a
        // panicking thread is still sound.
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl KeptSearch {
    fn values(&self) -> usize {
        self.segments.values().map(|counts| counts.facets.len()).sum()
    }
}
