//! The search engine each replica embeds: a tantivy index of the catalog's
//! datasets, in memory or on local disk.
//!
//! The database is the source of truth; the index is a copy each replica keeps
//! by applying the search feed in order ([`SearchIndex::apply`]), and every
//! commit records the feed position it reached, so a replica restarted with
//! its index on disk resumes where it stopped. Text is indexed as the terms
//! [`super::analysis`] makes, all in one field, each term's frequency the sum
//! of the weights of the [`Field`]s it stands in ([`queries`]); facet values as
//! one fast string column per facet, counted in the same pass as the page
//! ([`facets`]) or, for a search asked again, taken from what it counted in each
//! segment before ([`kept`]); sort keys as fast fields.
//!
//! Relevance is BM25F: per query form, its field weights in a dataset summed,
//! saturated and multiplied by its idf (an exact form at full weight, a prefix
//! or a typo at half). idf needs collection statistics, which change with every
//! publication and differ between replicas (deleted documents not yet merged
//! away), so a later page would score on another scale and a keyset cursor
//! would repeat and skip results. A ranking's statistics are therefore taken
//! once, at its first page, and frozen: the answer returns them
//! ([`RankingStatistics`]), the cursor carries them, and every later page of
//! that crawl, on any replica, scores with them.

use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, Weight};
use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, SegmentReader, TantivyDocument, Term,
};
use tokio::sync::watch;

use super::analysis::{Field, QueryTerm};
use super::{IndexedItem, SearchChange, SearchKey};
use crate::domain::{DATASET_KIND, Facet, FacetCount, FilterField, SearchFilter, SearchOrder, TimeRange};

mod facets;
mod kept;
mod queries;
mod segments;
mod tokenizer;

use facets::{FacetCounter, FacetTable, SegmentFacetCounts};
use kept::{KeptCounts, Matching, SegmentCounts, SegmentState};
use queries::{AnyFormQuery, AnyTermQuery, Loose, LooseQuery, WeightedTermQuery};
use segments::{IdTable, SegmentTables};

/// The index's layout version: raise it when the schema or the analysis changes, and
/// replicas rebuild their indexes from the database.
const FORMAT: u32 = 6;

/// Memory the writer buffers before it writes a segment.
const WRITER_MEMORY: usize = 64 << 20;

/// How much a prefix or near (typo) match counts, relative to an exact one in the same fields.
const LOOSE_MATCH_WEIGHT: f32 = 0.5;

/// Why the search index failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchIndexError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Engine(#[from] tantivy::TantivyError),
    /// Its directory could not be opened.
    #[error("search index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// Something else (a poisoned lock, an unreadable column).
    #[error("search index: {0}")]
    Other(String),
}

/// A search the index answers.
#[derive(Clone, Debug, Default)]
pub struct IndexQuery {
    /// What the query text asks for; empty matches every dataset.
    pub terms: Vec<QueryTerm>,
    /// Conditions every result meets.
    pub filters: Vec<SearchFilter>,
    /// When results were last updated.
    pub updated: TimeRange,
    /// When results were first published.
    pub created: TimeRange,
    /// The order.
    pub order: SearchOrder,
    /// Resume after this item (a previous page's last).
    pub after: Option<SortPosition>,
    /// Results wanted (0: only the total and the facet counts).
    pub limit: usize,
    /// The statistics of the ranking this page continues (from its cursor); forms they
    /// do not hold are counted now.
    pub statistics: Option<RankingStatistics>,
}

/// The collection statistics a relevance ranking scores with, frozen for a whole crawl.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RankingStatistics {
    /// Datasets in the index.
    pub datasets: u64,
    /// Datasets holding each query form: an exact form by its term (`s:traffic`), a prefix
    /// by its term and `*`, a typo by its term and `~`.
    pub holding: BTreeMap<String, u64>,
}

impl RankingStatistics {
    /// The idf of `form`; 1 when it is unknown.
    fn idf(&self, form: &str) -> f32 {
        self.holding
            .get(form)
            .map_or(1.0, |holding| queries::idf(*holding, self.datasets))
    }
}

/// Where an item stands in an order: its sort key (larger first), then its id (smaller first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortPosition {
    /// The order's key: the score's bits (relevance), update time in µs (newest),
    /// downloads, or 0 (name).
    pub key: i64,
    /// The item, by its [`SearchKey::text`].
    pub id: String,
}

/// What a search found.
#[derive(Clone, Debug, Default)]
pub struct IndexAnswer {
    /// The page, in order.
    pub hits: Vec<SortPosition>,
    /// Datasets matching in all.
    pub total: u64,
    /// Every facet value among the matches with its count, most frequent first within each facet.
    pub facets: Vec<FacetCount>,
    /// What a relevance ranking scored with, for the next page to score the same way.
    pub statistics: Option<RankingStatistics>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: tantivy::schema::Field,
    text: tantivy::schema::Field,
    facets: [tantivy::schema::Field; Facet::ALL.len()],
    updated: tantivy::schema::Field,
    created: tantivy::schema::Field,
    downloads: tantivy::schema::Field,
}

const UPDATED: &str = "updated";
const DOWNLOADS: &str = "downloads";
const ID: &str = "id";

/// The name of a facet's field: indexed to filter on, a fast column to count.
fn facet_field_name(facet: Facet) -> String {
    format!("facet.{}", facet.as_str())
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let id = builder.add_text_field(ID, STRING | FAST);
    // Frequencies carry the weights; nothing is ranked by length or position.
    let text_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer::NAME)
            .set_index_option(IndexRecordOption::WithFreqs)
            .set_fieldnorms(false),
    );
    let text = builder.add_text_field("text", text_options);
    let facets = Facet::ALL.map(|facet| builder.add_text_field(&facet_field_name(facet), STRING | FAST));
    let updated = builder.add_i64_field(UPDATED, INDEXED | FAST);
    let created = builder.add_i64_field("created", INDEXED | FAST);
    let downloads = builder.add_i64_field(DOWNLOADS, FAST);
    let fields = Fields {
        id,
        text,
        facets,
        updated,
        created,
        downloads,
    };
    (builder.build(), fields)
}

/// A replica's search index and how far into the search feed it has applied.
pub struct SearchIndex {
    fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    facet_tables: SegmentTables<FacetTable>,
    /// Each segment's ids by ordinal, to name a page's results.
    id_tables: SegmentTables<IdTable>,
    /// The counts of searches asked again, by segment.
    kept_counts: KeptCounts,
    /// The feed position the index held when opened, to be checked against the database.
    opened_at: Option<u64>,
    /// The feed position searches may rely on: `None` until the index is built or its
    /// opening position is found sound ([`Self::resume`]).
    applied: watch::Sender<Option<u64>>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SearchIndex")
            .field("applied", &*self.applied.borrow())
            .finish()
    }
}

impl SearchIndex {
    /// Opens the index kept under `directory` (created when missing, emptied when it was
    /// written in another format), or a new one in memory.
    pub fn open(directory: Option<&Path>) -> Result<Self, SearchIndexError> {
        let (schema, fields) = schema();
        let index = match directory {
            None => Index::create_in_ram(schema),
            Some(parent) => {
                // An index of an earlier format is rebuilt in its own directory: the old one is
                // only disk to give back.
                for earlier in 1..FORMAT {
                    let _ = std::fs::remove_dir_all(parent.join(format!("v{earlier}")));
                }
                let directory = parent.join(format!("v{FORMAT}"));
                std::fs::create_dir_all(&directory).map_err(|error| SearchIndexError::Other(error.to_string()))?;
                Index::open_or_create(MmapDirectory::open(&directory)?, schema)?
            }
        };
        index.tokenizers().register(tokenizer::NAME, tokenizer::WeightedTerms);
        let opened_at = index.load_metas()?.payload.and_then(|payload| payload.parse().ok());
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|error| match error {
                tantivy::TantivyError::LockFailure(..) => SearchIndexError::Other(format!(
                    "{} is in use by another process: give each replica its own search_index directory",
                    directory.map_or_else(String::new, |path| path.display().to_string())
                )),
                other => other.into(),
            })?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let (facet_tables, id_tables) = (SegmentTables::default(), SegmentTables::default());
        facet_tables.refresh(&reader.searcher())?;
        id_tables.refresh(&reader.searcher())?;
        Ok(Self {
            fields,
            writer: Mutex::new(writer),
            reader,
            facet_tables,
            id_tables,
            kept_counts: KeptCounts::default(),
            opened_at,
            applied: watch::Sender::new(None),
        })
    }

    /// The feed position the index held when it was opened; `None` when it had never been built.
    pub fn opened_at(&self) -> Option<u64> {
        self.opened_at
    }

    /// Lets searches rely on the index as it was opened, once its position is known to be one
    /// of this database's feed.
    pub fn resume(&self) {
        self.applied.send_replace(self.opened_at);
    }

    /// The last feed position applied; `None` until the index has been built.
    pub fn applied(&self) -> Option<u64> {
        *self.applied.borrow()
    }

    /// Waits until the index has applied the feed up to `sequence`; false when `patience` ran out first.
    pub async fn wait_for(&self, sequence: u64, patience: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(
            patience,
            applied.wait_for(|applied| applied.is_some_and(|applied| applied >= sequence)),
        )
        .await
        .is_ok_and(|seen| seen.is_ok())
    }

    /// Empties the index before a rebuild; searches wait until the rebuild commits.
    pub fn clear(&self) -> Result<(), SearchIndexError> {
        self.applied.send_replace(None);
        let writer = self.lock_writer()?;
        // No merge of its own until the build merges everything: one started by a commit of
        // the build would take segments from under that final merge.
        writer.set_merge_policy(Box::new(NoMergePolicy));
        writer.delete_all_documents()?;
        Ok(())
    }

    /// Adds datasets and demands without committing (a rebuild's pages).
    pub fn add(&self, items: &[IndexedItem]) -> Result<(), SearchIndexError> {
        let writer = self.lock_writer()?;
        for item in items {
            self.replace(&writer, &item.key, Some(item))?;
        }
        Ok(())
    }

    /// Applies changes of the feed and commits, recording `through` as the position reached.
    pub fn apply(&self, changes: &[SearchChange], through: u64) -> Result<(), SearchIndexError> {
        let mut writer = self.lock_writer()?;
        for change in changes {
            self.replace(&writer, &change.key, change.item.as_ref())?;
        }
        Self::commit(&mut writer, through)?;
        drop(writer);
        self.publish(through)
    }

    /// Commits a rebuild's pages at feed position `through`, merged into one segment (the
    /// fastest to search) before searches see them.
    pub fn finish_build(&self, through: u64) -> Result<(), SearchIndexError> {
        let mut writer = self.lock_writer()?;
        Self::commit(&mut writer, through)?;
        let segments = writer.index().searchable_segment_ids()?;
        if segments.len() > 1 {
            writer.merge(&segments).wait()?;
        }
        writer.set_merge_policy(Box::new(LogMergePolicy::default()));
        drop(writer);
        self.publish(through)
    }

    fn commit(writer: &mut IndexWriter, through: u64) -> Result<(), SearchIndexError> {
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&through.to_string());
        commit.commit()?;
        Ok(())
    }

    /// Lets searches see the last commit, which reached feed position `through`.
    fn publish(&self, through: u64) -> Result<(), SearchIndexError> {
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        self.facet_tables.refresh(&searcher)?;
        self.id_tables.refresh(&searcher)?;
        self.kept_counts.retain(&searcher);
        self.applied.send_replace(Some(through));
        Ok(())
    }

    fn lock_writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchIndexError> {
        self.writer
            .lock()
            .map_err(|_| SearchIndexError::Other("the index writer panicked".into()))
    }

    fn replace(
        &self,
        writer: &IndexWriter,
        key: &SearchKey,
        item: Option<&IndexedItem>,
    ) -> Result<(), SearchIndexError> {
        writer.delete_term(Term::from_field_text(self.fields.id, &key.text()));
        if let Some(item) = item {
            writer.add_document(self.document(item))?;
        }
        Ok(())
    }

    fn document(&self, dataset: &IndexedItem) -> TantivyDocument {
        let mut document = TantivyDocument::default();
        document.add_text(self.fields.id, dataset.key.text());
        // A dataset's stored search document predates kinds; a demand's names its own.
        if dataset.key.dataset().is_some() {
            document.add_text(self.facet_field(Facet::Kind), DATASET_KIND);
        }
        // One value per field the dataset has text in (its keywords joined, so that a term
        // in two of them counts once for the keyword field); the tokenizer weighs each.
        for field in Field::ALL {
            let texts: Vec<&str> = dataset
                .document
                .texts
                .iter()
                .filter(|(of, _)| *of == field)
                .map(|(_, text)| text.as_str())
                .collect();
            if !texts.is_empty() {
                document.add_text(self.fields.text, tokenizer::tagged(field, &texts.join("\n")));
            }
        }
        for (facet, value) in &dataset.document.facets {
            document.add_text(self.facet_field(*facet), value);
        }
        document.add_i64(self.fields.updated, dataset.updated_at.timestamp_micros());
        document.add_i64(self.fields.created, dataset.created_at.timestamp_micros());
        document.add_i64(
            self.fields.downloads,
            i64::try_from(dataset.downloads).unwrap_or(i64::MAX),
        );
        document
    }

    /// Answers a search from the last committed state: a page, the total and the facet
    /// counts in one pass over the matches. CPU-bound: call it off the async threads.
    pub fn search(&self, query: &IndexQuery) -> Result<IndexAnswer, SearchIndexError> {
        let searcher = self.reader.searcher();
        let statistics = if query.order == SearchOrder::Relevance && !query.terms.is_empty() {
            Some(self.statistics(&searcher, query)?)
        } else {
            None
        };
        let answer = AnswerCollector {
            matching: &Matching::of(query),
            kept: &self.kept_counts,
            facets: FacetCounter {
                tables: &self.facet_tables,
            },
            page: PageCollector {
                order: query.order,
                after: query.after.clone(),
                keep: query.limit,
                id_tables: &self.id_tables,
            },
        };
        let (total, facets, hits) = searcher.search(&*self.query(&searcher, query, statistics.as_ref()), &answer)?;
        Ok(IndexAnswer {
            hits,
            total,
            facets,
            statistics,
        })
    }

    /// The statistics a relevance ranking of `query` scores with: those its cursor carries,
    /// and the index's now for the forms they do not hold.
    fn statistics(&self, searcher: &Searcher, query: &IndexQuery) -> Result<RankingStatistics, SearchIndexError> {
        let mut statistics = query.statistics.clone().unwrap_or_else(|| RankingStatistics {
            datasets: searcher.num_docs(),
            holding: BTreeMap::new(),
        });
        for term in &query.terms {
            for form in &term.any_of {
                if let Entry::Vacant(unknown) = statistics.holding.entry(form.clone()) {
                    unknown.insert(searcher.doc_freq(&Term::from_field_text(self.fields.text, form))?);
                }
            }
            for (key, loose) in self.loose_forms(term) {
                if let Entry::Vacant(unknown) = statistics.holding.entry(key) {
                    unknown.insert(loose.holding(searcher)?);
                }
            }
        }
        Ok(statistics)
    }

    fn facet_field(&self, facet: Facet) -> tantivy::schema::Field {
        let position = Facet::ALL.iter().position(|of| *of == facet).unwrap_or_default();
        self.fields.facets[position]
    }

    fn query(&self, searcher: &Searcher, query: &IndexQuery, statistics: Option<&RankingStatistics>) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &query.terms {
            let occur = if term.required { Occur::Must } else { Occur::Should };
            clauses.push((occur, self.term_query(term, statistics)));
        }
        for filter in &query.filters {
            let terms: Vec<Term> = filter
                .values
                .iter()
                .map(|value| match &filter.field {
                    FilterField::Facet(facet) => Term::from_field_text(self.facet_field(*facet), value),
                    FilterField::Id => Term::from_field_text(self.fields.id, value),
                })
                .collect();
            // An exclusion no dataset holds (the board's kinds in a catalog of datasets
            // alone) excludes nothing: left out, no match has to be looked up in it.
            if filter.negated
                && terms
                    .iter()
                    .all(|term| searcher.doc_freq(term).is_ok_and(|held| held == 0))
            {
                continue;
            }
            let occur = if filter.negated { Occur::MustNot } else { Occur::Must };
            clauses.push((occur, Box::new(AnyTermQuery::new(terms))));
        }
        for (field, range) in [
            (self.fields.updated, query.updated),
            (self.fields.created, query.created),
        ] {
            if range.is_unbounded() {
                continue;
            }
            let bound = |time: Option<chrono::DateTime<chrono::Utc>>| {
                time.map_or(Bound::Unbounded, |time| {
                    Bound::Included(Term::from_field_i64(field, time.timestamp_micros()))
                })
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(bound(range.since), bound(range.until))),
            ));
        }
        // Optional words alone, or exclusions alone, select nothing in a boolean query.
        if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// One query term: any of its forms, each scored by its BM25F; a prefix or typo at half
    /// for the words they reach beyond the exact forms. Unranked without statistics.
    fn term_query(&self, term: &QueryTerm, statistics: Option<&RankingStatistics>) -> Box<dyn Query> {
        let idf = |form: &str| statistics.map_or(1.0, |statistics| statistics.idf(form));
        let exact = term
            .any_of
            .iter()
            .map(|form| WeightedTermQuery::new(Term::from_field_text(self.fields.text, form), idf(form)))
            .collect();
        let loose = self
            .loose_forms(term)
            .into_iter()
            .map(|(key, loose)| loose.with_idf(LOOSE_MATCH_WEIGHT * idf(&key)))
            .collect();
        Box::new(AnyFormQuery::new(exact, loose))
    }

    /// A term's prefix and typo forms, each with its key in [`RankingStatistics`].
    fn loose_forms(&self, term: &QueryTerm) -> Vec<(String, LooseQuery)> {
        // A loose form never counts the word it was made from: the exact forms hold its datasets.
        let exact: Vec<Vec<u8>> = term
            .any_of
            .iter()
            .chain(&term.prefix)
            .chain(&term.near)
            .map(|form| form.as_bytes().to_vec())
            .collect();
        let prefix = term.prefix.as_ref().map(|prefix| {
            let loose = Loose::Prefix(prefix.as_bytes().to_vec());
            (format!("{prefix}*"), loose)
        });
        let typo = term.near.as_deref().map(|near| (format!("{near}~"), Loose::typo(near)));
        [prefix, typo]
            .into_iter()
            .flatten()
            .map(|(key, loose)| (key, LooseQuery::new(self.fields.text, loose, exact.clone())))
            .collect()
    }
}

/// Collects a search's answer in one pass over its matches: the page, and the matches'
/// total and facet counts, taken from the counts kept of the segments that hold them.
struct AnswerCollector<'a> {
    matching: &'a Matching,
    kept: &'a KeptCounts,
    facets: FacetCounter<'a>,
    page: PageCollector<'a>,
}

/// How a segment's matches are counted.
enum Counting {
    /// As an earlier search counted them.
    Kept(Arc<SegmentCounts>),
    /// Now, one by one.
    Now { total: u64, facets: SegmentFacetCounts },
}

/// Collects one segment of an answer.
struct AnswerSegment {
    state: SegmentState,
    counting: Counting,
    page: PageSegment,
}

/// One segment's part of an answer.
struct SegmentAnswer {
    state: SegmentState,
    counts: Arc<SegmentCounts>,
    /// Counted by this search, not kept from an earlier one.
    counted: bool,
    page: Vec<SortPosition>,
}

impl Collector for AnswerCollector<'_> {
    type Fruit = (u64, Vec<FacetCount>, Vec<SortPosition>);
    type Child = AnswerSegment;

    fn for_segment(&self, ordinal: u32, segment: &SegmentReader) -> tantivy::Result<AnswerSegment> {
        let state = SegmentState::of(segment);
        EachMatch {
            answer: self,
            state,
            kept: self.kept.get(self.matching, state),
        }
        .for_segment(ordinal, segment)
    }

    fn requires_scoring(&self) -> bool {
        self.page.requires_scoring()
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ordinal: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<tantivy::Result<SegmentAnswer>> {
        let state = SegmentState::of(segment);
        let kept = self.kept.get(self.matching, state);
        // Counts alone (a summary, a CKAN organization's datasets), kept: none of the
        // segment's matches needs reading, however many it holds.
        if self.page.keep == 0
            && let Some(counts) = kept
        {
            return Ok(Ok(SegmentAnswer {
                state,
                counts,
                counted: false,
                page: Vec::new(),
            }));
        }
        EachMatch {
            answer: self,
            state,
            kept,
        }
        .collect_segment(weight, ordinal, segment)
    }

    fn merge_fruits(&self, segments: Vec<tantivy::Result<SegmentAnswer>>) -> tantivy::Result<Self::Fruit> {
        let mut total = 0;
        let mut counts = Vec::with_capacity(segments.len());
        let mut pages = Vec::with_capacity(segments.len());
        for segment in segments {
            let segment = segment?;
            if segment.counted {
                self.kept.keep(self.matching, segment.state, segment.counts.clone());
            }
            total += segment.counts.total;
            counts.push(segment.counts);
            pages.push(Ok(segment.page));
        }
        let facets = facets::merged(counts.iter().map(|counts| &counts.facets));
        Ok((total, facets, self.page.merge_fruits(pages)?))
    }
}

/// An answer's collector running tantivy's own loop over one segment's matches, with the
/// counts kept of that segment looked up once.
struct EachMatch<'a, 'b> {
    answer: &'b AnswerCollector<'a>,
    state: SegmentState,
    kept: Option<Arc<SegmentCounts>>,
}

impl Collector for EachMatch<'_, '_> {
    type Fruit = (u64, Vec<FacetCount>, Vec<SortPosition>);
    type Child = AnswerSegment;

    fn for_segment(&self, ordinal: u32, segment: &SegmentReader) -> tantivy::Result<AnswerSegment> {
        let counting = match &self.kept {
            Some(counts) => Counting::Kept(counts.clone()),
            None => Counting::Now {
                total: 0,
                facets: self.answer.facets.for_segment(segment)?,
            },
        };
        Ok(AnswerSegment {
            state: self.state,
            counting,
            page: self.answer.page.for_segment(ordinal, segment)?,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.answer.requires_scoring()
    }

    fn merge_fruits(&self, segments: Vec<tantivy::Result<SegmentAnswer>>) -> tantivy::Result<Self::Fruit> {
        self.answer.merge_fruits(segments)
    }
}

impl SegmentCollector for AnswerSegment {
    type Fruit = tantivy::Result<SegmentAnswer>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Counting::Now { total, facets } = &mut self.counting {
            *total += 1;
            facets.count(doc);
        }
        self.page.collect(doc, score);
    }

    fn harvest(self) -> tantivy::Result<SegmentAnswer> {
        let (counts, counted) = match self.counting {
            Counting::Kept(counts) => (counts, false),
            Counting::Now { total, facets } => (
                Arc::new(SegmentCounts {
                    total,
                    facets: facets.harvest()?,
                }),
                true,
            ),
        };
        Ok(SegmentAnswer {
            state: self.state,
            counts,
            counted,
            page: self.page.harvest()?,
        })
    }
}

/// Collects one page in a [`SearchOrder`], after a [`SortPosition`]: each segment keeps
/// its best `keep` in a heap (ties between equal keys go to the smaller id, compared by
/// the segment's sorted id ordinals), and only those have their ids read.
struct PageCollector<'a> {
    order: SearchOrder,
    after: Option<SortPosition>,
    keep: usize,
    id_tables: &'a SegmentTables<IdTable>,
}

/// A candidate of a segment: larger keys first, then smaller ids.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Candidate {
    key: i64,
    ord: u64,
}

impl Ord for Candidate {
    /// Worse candidates are greater, so the heap's top is the one to let go first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key).then(self.ord.cmp(&other.ord))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct PageSegment {
    order: SearchOrder,
    key: Option<Column<i64>>,
    /// The segment's ids by ordinal, and its documents' ordinals.
    id_table: std::sync::Arc<IdTable>,
    /// The cursor's key and the first id ordinal of this segment after the cursor's id.
    after: Option<(i64, u64)>,
    keep: usize,
    heap: BinaryHeap<Candidate>,
}

impl Collector for PageCollector<'_> {
    type Fruit = Vec<SortPosition>;
    type Child = PageSegment;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<PageSegment> {
        let fast = segment.fast_fields();
        let key = match self.order {
            SearchOrder::Newest => Some(fast.i64(UPDATED)?),
            SearchOrder::Downloads => Some(fast.i64(DOWNLOADS)?),
            SearchOrder::Relevance | SearchOrder::Name => None,
        };
        let ids = fast.str(ID)?;
        let after = match (&self.after, &ids) {
            (Some(after), Some(ids)) => {
                let (lower, _) = ids
                    .dictionary()
                    .term_bounds_to_ord(Bound::Excluded(after.id.as_str()), Bound::Unbounded)?;
                let first_after = match lower {
                    Bound::Excluded(ord) => ord.saturating_add(1),
                    Bound::Included(ord) => ord,
                    Bound::Unbounded => 0,
                };
                Some((after.key, first_after))
            }
            _ => None,
        };
        Ok(PageSegment {
            order: self.order,
            key,
            id_table: self.id_tables.table(segment)?,
            after,
            keep: self.keep,
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.order == SearchOrder::Relevance
    }

    fn merge_fruits(&self, segments: Vec<tantivy::Result<Vec<SortPosition>>>) -> tantivy::Result<Vec<SortPosition>> {
        let mut merged = Vec::new();
        for segment in segments {
            merged.extend(segment?);
        }
        merged.sort_by(|a, b| b.key.cmp(&a.key).then_with(|| a.id.as_str().cmp(b.id.as_str())));
        merged.truncate(self.keep);
        Ok(merged)
    }
}

impl SegmentCollector for PageSegment {
    type Fruit = tantivy::Result<Vec<SortPosition>>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.keep == 0 {
            return;
        }
        let key = match (&self.key, self.order) {
            (Some(column), _) => column.first(doc).unwrap_or(0),
            // Scores are never negative, and non-negative floats order as their bits do.
            (None, SearchOrder::Relevance) => i64::from(score.max(0.0).to_bits()),
            (None, _) => 0,
        };
        // Most matches are settled by their key alone: the id is read only to break a tie.
        let before_cursor = self.after.is_some_and(|(after_key, _)| key > after_key);
        let worse_than_kept = self.heap.len() >= self.keep && self.heap.peek().is_some_and(|worst| key < worst.key);
        if before_cursor || worse_than_kept {
            return;
        }
        let Some(ord) = self.id_table.ordinal(doc) else {
            return;
        };
        if let Some((after_key, first_after)) = self.after
            && key == after_key
            && ord < first_after
        {
            return;
        }
        let candidate = Candidate { key, ord };
        if self.heap.len() < self.keep {
            self.heap.push(candidate);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
    }

    fn harvest(self) -> tantivy::Result<Vec<SortPosition>> {
        Ok(self
            .heap
            .iter()
            .filter_map(|candidate| {
                let id = self.id_table.id(candidate.ord)?;
                Some(SortPosition {
                    key: candidate.key,
                    id: id.to_owned(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{SearchDocument, query_terms};

    fn dataset(id: &str, title: &str, downloads: u64) -> IndexedItem {
        IndexedItem {
            key: id.parse().expect("id"),
            document: SearchDocument {
                texts: vec![(Field::Title, title.to_owned())],
                facets: vec![(Facet::Access, "open".into()), (Facet::Keyword, "a/b".into())],
            },
            downloads,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn described(id: &str, texts: &[(Field, &str)]) -> IndexedItem {
        let mut dataset = dataset(id, "", 0);
        dataset.document.texts = texts.iter().map(|(field, text)| (*field, (*text).to_owned())).collect();
        dataset
    }

    /// Each hit's score, by id.
    fn scores(index: &SearchIndex, query: &str) -> Vec<(String, f32)> {
        index
            .search(&IndexQuery {
                terms: query_terms(query).expect("terms"),
                order: SearchOrder::Relevance,
                limit: 10,
                ..Default::default()
            })
            .expect("search")
            .hits
            .into_iter()
            .map(|hit| {
                let bits = u32::try_from(hit.key).expect("a score's bits");
                (hit.id.to_string(), f32::from_bits(bits))
            })
            .collect()
    }

    #[test]
    fn a_word_scores_bm25f_of_its_field_weights_and_a_loose_match_half() {
        let index = SearchIndex::open(None).expect("index");
        let datasets = [
            described(
                "in-title",
                &[(Field::Title, "Traffic counts"), (Field::Description, "traffic")],
            ),
            described("in-description", &[(Field::Description, "Road traffic")]),
            described("prefixed", &[(Field::Title, "Trafficking")]),
            described("typo", &[(Field::Keyword, "trafic")]),
        ];
        let changes: Vec<SearchChange> = (0..).zip(datasets).map(|(n, dataset)| change(n, dataset)).collect();
        // Two commits, so words are looked up in two segments.
        index.apply(&changes[..2], 1).expect("apply");
        index.apply(&changes[2..], 3).expect("apply");
        // BM25F (k1 1.2, no length normalisation) of the field weights summed: the word in
        // the title (5) and the description (1), held by 2 of the 4 datasets; the prefix
        // `traffic…` of a title word held by 1, at half; a keyword one edit away (`trafic`,
        // 4) held by 1, at half; the word in a description.
        let expected = [
            ("in-title", 2f32.ln() * 6.0 * 2.2 / 7.2),
            ("prefixed", 0.5 * (10f32 / 3.0).ln() * 5.0 * 2.2 / 6.2),
            ("typo", 0.5 * (10f32 / 3.0).ln() * 4.0 * 2.2 / 5.2),
            ("in-description", 2f32.ln()),
        ];
        assert_scores(&scores(&index, "traffic"), &expected);
        // A word of the same stem is an exact match, whichever of the two is typed.
        assert_scores(&scores(&index, "traffics"), &[expected[0], expected[3]]);
    }

    fn assert_scores(found: &[(String, f32)], expected: &[(&str, f32)]) {
        let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
        let expected_ids: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, expected_ids, "{found:?}");
        for ((_, score), (id, wanted)) in found.iter().zip(expected) {
            assert!(
                (score - wanted).abs() < 1e-5,
                "{id}: {score} where {wanted} was expected"
            );
        }
    }

    /// An index of `reaching` datasets titled with a word starting `traf` among `of` in all.
    fn traf_among(reaching: usize, of: usize) -> SearchIndex {
        let index = SearchIndex::open(None).expect("index");
        let changes: Vec<SearchChange> = (0..of)
            .map(|n| {
                let title = if n < reaching { "Trafficking" } else { "Weather records" };
                change(n as u64, described(&format!("ds-{n:04}"), &[(Field::Title, title)]))
            })
            .collect();
        index.apply(&changes, of as u64).expect("apply");
        index
    }

    #[test]
    fn a_prefix_scores_alike_whether_its_few_postings_are_listed_or_its_many_marked() {
        // One in 200 reaches the prefix (listed and sorted), then 150 in 200 (marked in a bitset):
        // each match scores half the BM25F of its title weight (5) at the prefix's idf.
        for (reaching, of) in [(1, 200), (150, 200)] {
            let index = traf_among(reaching, of);
            let idf = queries::idf(reaching as u64, of as u64);
            let expected = 0.5 * idf * 5.0 * 2.2 / 6.2;
            let answer = index
                .search(&IndexQuery {
                    terms: query_terms("traf").expect("terms"),
                    order: SearchOrder::Relevance,
                    limit: 3,
                    ..Default::default()
                })
                .expect("search");
            assert_eq!(answer.total, reaching as u64);
            let ids: Vec<String> = (0..reaching.min(3)).map(|n| format!("ds-{n:04}")).collect();
            let wanted: Vec<(&str, f32)> = ids.iter().map(|id| (id.as_str(), expected)).collect();
            assert_scores(&scores(&index, "traf")[..reaching.min(3)], &wanted);
        }
    }

    #[test]
    fn a_prefix_reaches_at_most_max_expansions_words() {
        let index = SearchIndex::open(None).expect("index");
        let words = queries::MAX_EXPANSIONS + 100;
        let changes: Vec<SearchChange> = (0..words)
            .map(|n| change(n as u64, dataset(&format!("ds-{n:04}"), &format!("x{n:04}"), 0)))
            .collect();
        index.apply(&changes, words as u64).expect("apply");
        let answer = index
            .search(&IndexQuery {
                terms: query_terms("x").expect("terms"),
                limit: 1,
                ..Default::default()
            })
            .expect("search");
        // The first words in the dictionary's order: x0000 and on.
        assert_eq!(answer.total, queries::MAX_EXPANSIONS as u64);
        assert_eq!(answer.hits[0].id, "ds-0000");
    }

    fn change(sequence: u64, dataset: IndexedItem) -> SearchChange {
        SearchChange {
            sequence,
            key: dataset.key.clone(),
            item: Some(dataset),
        }
    }

    #[test]
    fn pages_follow_the_order_and_resume_after_the_cursor() {
        let index = SearchIndex::open(None).expect("index");
        let changes: Vec<SearchChange> = (0..25)
            .map(|n| change(n, dataset(&format!("ds-{n:02}"), "traffic flow", n % 3)))
            .collect();
        // Two commits: two segments, so pages merge across them.
        index.apply(&changes[..12], 11).expect("apply");
        index.apply(&changes[12..], 24).expect("apply");
        assert_eq!(index.applied(), Some(24));
        for order in [SearchOrder::Name, SearchOrder::Downloads, SearchOrder::Relevance] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let answer = index
                    .search(&IndexQuery {
                        terms: query_terms("trafic").expect("terms"),
                        order,
                        after: after.clone(),
                        limit: 4,
                        ..Default::default()
                    })
                    .expect("search");
                assert_eq!(answer.total, 25, "a typo is forgiven");
                let Some(last) = answer.hits.last().cloned() else { break };
                seen.extend(answer.hits.into_iter().map(|hit| (hit.key, hit.id.to_string())));
                after = Some(last);
            }
            assert_eq!(seen.len(), 25, "{order:?}: every dataset once");
            let mut expected = seen.clone();
            expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            assert_eq!(seen, expected, "{order:?}");
        }
    }

    #[test]
    fn a_ranking_scores_on_the_statistics_of_its_first_page() {
        let index = SearchIndex::open(None).expect("index");
        index
            .apply(
                &[
                    change(1, dataset("ds-a", "traffic", 0)),
                    change(2, dataset("ds-b", "air", 0)),
                ],
                2,
            )
            .expect("apply");
        let query = IndexQuery {
            terms: query_terms("traffic").expect("terms"),
            order: SearchOrder::Relevance,
            limit: 10,
            ..Default::default()
        };
        let first = index.search(&query).expect("search");
        let statistics = first.statistics.clone().expect("a relevance ranking's statistics");
        assert_eq!(statistics.datasets, 2);
        assert_eq!(statistics.holding.get("w:traffic"), Some(&1));
        // Publications after the first page make `traffic` commoner.
        let more: Vec<SearchChange> = (3..9)
            .map(|n| change(n, dataset(&format!("ds-{n}"), "traffic", 0)))
            .collect();
        index.apply(&more, 8).expect("apply");
        let key_of_a = |answer: &IndexAnswer| {
            answer
                .hits
                .iter()
                .find(|hit| hit.id.as_str() == "ds-a")
                .map(|hit| hit.key)
        };
        let frozen = index
            .search(&IndexQuery {
                statistics: Some(statistics),
                ..query.clone()
            })
            .expect("search");
        assert_eq!(key_of_a(&frozen), key_of_a(&first), "the same scale on every page");
        let fresh = index.search(&query).expect("search");
        assert!(key_of_a(&fresh) < key_of_a(&first), "a new ranking counts anew");
    }

    #[test]
    fn a_filter_of_several_values_selects_each_once_and_leaves_ranking_alone() {
        let index = SearchIndex::open(None).expect("index");
        let mut both = dataset("ds-both", "交通", 0);
        both.document.facets.push((Facet::Keyword, "c".into()));
        let mut other = dataset("ds-c", "交通", 0);
        other.document.facets = vec![(Facet::Keyword, "c".into())];
        let mut unfiltered = dataset("ds-none", "交通", 0);
        unfiltered.document.facets = vec![(Facet::Access, "open".into())];
        let changes: Vec<_> = [both, other, unfiltered]
            .into_iter()
            .zip(1..)
            .map(|(item, sequence)| change(sequence, item))
            .collect();
        index.apply(&changes, 3).expect("apply");
        let search = |negated: bool| {
            index
                .search(&IndexQuery {
                    filters: vec![SearchFilter {
                        field: FilterField::Facet(Facet::Keyword),
                        values: vec!["a/b".into(), "c".into()],
                        negated,
                    }],
                    terms: query_terms("交通").expect("terms"),
                    order: SearchOrder::Relevance,
                    limit: 10,
                    ..Default::default()
                })
                .expect("search")
        };
        let kept = search(false);
        let ids: Vec<&str> = kept.hits.iter().map(|hit| hit.id.as_str()).collect();
        assert_eq!(kept.total, 2, "{ids:?}");
        assert_eq!(ids, ["ds-both", "ds-c"]);
        // Holding both values selects it once and scores no more: the filter does not rank.
        assert_eq!(kept.hits[0].key, kept.hits[1].key, "the same title, the same score");
        let left = search(true);
        assert_eq!(left.total, 1);
        assert_eq!(left.hits[0].id.as_str(), "ds-none");
    }

    /// A search's total and one facet's counts, by value.
    fn counted(index: &SearchIndex, query: &IndexQuery) -> (u64, BTreeMap<String, u64>, Vec<SortPosition>) {
        let answer = index.search(query).expect("search");
        let keywords = answer
            .facets
            .into_iter()
            .filter(|count| count.facet == Facet::Keyword)
            .map(|count| (count.value, count.count))
            .collect();
        (answer.total, keywords, answer.hits)
    }

    /// The totals kept of `query` for the segments the index shows now, in order.
    fn kept(index: &SearchIndex, query: &IndexQuery) -> Vec<Option<u64>> {
        let matching = Matching::of(query);
        let mut kept: Vec<Option<u64>> = index
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|segment| {
                let kept = index.kept_counts.get(&matching, SegmentState::of(segment));
                kept.map(|counts| counts.total)
            })
            .collect();
        kept.sort();
        kept
    }

    #[test]
    fn a_search_asked_again_counts_from_kept_counts_and_a_segment_changed_afresh() {
        let index = SearchIndex::open(None).expect("index");
        let keyworded = |n: usize, title: &str| {
            let mut dataset = dataset(&format!("ds-{n:04}"), title, 0);
            let parity = if n % 2 == 0 { "even" } else { "odd" };
            dataset.document.facets = vec![(Facet::Keyword, parity.into())];
            dataset
        };
        let many = 1_500;
        let changes: Vec<SearchChange> = (0..many)
            .map(|n| change(n as u64, keyworded(n, "traffic flow")))
            .collect();
        index.apply(&changes, many as u64).expect("apply");
        let traffic = IndexQuery {
            terms: query_terms("traffic").expect("terms"),
            limit: 5,
            ..Default::default()
        };
        let few = IndexQuery {
            filters: vec![SearchFilter {
                field: FilterField::Id,
                values: vec!["ds-0001".into()],
                negated: false,
            }],
            ..traffic.clone()
        };
        assert_eq!(kept(&index, &traffic), [None]);
        let first = counted(&index, &traffic);
        assert_eq!(first.0, 1_500);
        assert_eq!(first.1, BTreeMap::from([("even".into(), 750), ("odd".into(), 750)]));
        assert_eq!(kept(&index, &traffic), [Some(1_500)], "many matches are kept");
        assert_eq!(counted(&index, &traffic), first, "and counted alike from what was kept");
        assert_eq!(counted(&index, &few).0, 1);
        assert_eq!(kept(&index, &few), [None], "a few matches are counted afresh each time");

        // One match of the kept segment deleted (its version no longer matches), one added
        // in a new segment: both counted, neither from the old counts.
        let changed = [
            change(2_000, keyworded(0, "weather")),
            change(2_001, keyworded(9_999, "traffic")),
        ];
        index.apply(&changed, 2_001).expect("apply");
        assert_eq!(
            kept(&index, &traffic),
            [None, None],
            "the changed segment's counts are let go"
        );
        let after = counted(&index, &traffic);
        assert_eq!(after.0, 1_500);
        assert_eq!(after.1, BTreeMap::from([("even".into(), 749), ("odd".into(), 751)]));
        assert_eq!(kept(&index, &traffic), [None, Some(1_499)]);
        assert_eq!(counted(&index, &traffic), after);
        // Counts alone read no match of a kept segment, and count the same.
        let summary = IndexQuery {
            limit: 0,
            ..traffic.clone()
        };
        assert_eq!(counted(&index, &summary), (after.0, after.1, Vec::new()));
    }

    #[test]
    fn facets_are_counted_and_filter_with_slashes_in_values() {
        let index = SearchIndex::open(None).expect("index");
        index
            .apply(
                &[
                    change(1, dataset("ds-a", "空气质量", 0)),
                    change(2, dataset("ds-b", "交通", 0)),
                ],
                2,
            )
            .expect("apply");
        let answer = index
            .search(&IndexQuery {
                filters: vec![SearchFilter::facet(Facet::Keyword, "a/b")],
                terms: query_terms("kongqi").expect("terms"),
                limit: 10,
                ..Default::default()
            })
            .expect("search");
        assert_eq!(answer.total, 1);
        assert_eq!(answer.hits[0].id.as_str(), "ds-a");
        assert!(answer.facets.contains(&FacetCount {
            facet: Facet::Keyword,
            value: "a/b".into(),
            count: 1
        }));
        // Gone from the feed: gone from the index.
        index
            .apply(
                &[SearchChange {
                    sequence: 3,
                    key: "ds-a".parse().expect("id"),
                    item: None,
                }],
                3,
            )
            .expect("apply");
        let all = index
            .search(&IndexQuery {
                limit: 10,
                ..Default::default()
            })
            .expect("search");
        assert_eq!(all.total, 1);
        assert_eq!(
            all.facets,
            vec![
                FacetCount {
                    facet: Facet::Access,
                    value: "open".into(),
                    count: 1
                },
                FacetCount {
                    facet: Facet::Keyword,
                    value: "a/b".into(),
                    count: 1
                },
                FacetCount {
                    facet: Facet::Kind,
                    value: DATASET_KIND.into(),
                    count: 1
                },
            ],
            "a deleted dataset is no longer counted"
        );
    }

    #[test]
    fn an_index_on_disk_resumes_where_it_stopped() {
        let directory = tempfile::tempdir().expect("dir");
        {
            let index = SearchIndex::open(Some(directory.path())).expect("index");
            assert_eq!(index.opened_at(), None, "never built");
            index
                .apply(&[change(7, dataset("ds-a", "traffic", 0))], 7)
                .expect("apply");
        }
        std::fs::create_dir_all(directory.path().join("v1")).expect("an index of the first format");
        let index = SearchIndex::open(Some(directory.path())).expect("index");
        assert!(
            !directory.path().join("v1").exists(),
            "an earlier format's directory is removed"
        );
        assert_eq!(index.opened_at(), Some(7));
        assert_eq!(
            index.applied(),
            None,
            "not relied on before the feed's follower checks it"
        );
        index.resume();
        assert_eq!(index.applied(), Some(7));
        assert_eq!(index.search(&IndexQuery::default()).expect("search").total, 1);
    }

    /// A rebuild that commits as it goes (the feed's changes arriving meanwhile) leaves
    /// many segments; none may be merged behind the build's back, or its final merge
    /// would ask for segments that are gone and the build would fail, again and again.
    #[test]
    fn a_build_committed_in_many_steps_ends_as_one_segment_holding_every_dataset() {
        const PAGE: u64 = 3_000;
        let directory = tempfile::tempdir().expect("dir");
        let index = SearchIndex::open(Some(directory.path())).expect("index");
        index
            .apply(&[change(1, dataset("ds-old", "stale", 0))], 1)
            .expect("apply");
        index.clear().expect("clear");
        // Eight commits of a few thousand documents: tantivy's default policy would start
        // merging them at the eighth, just as the build merges them itself.
        for step in 0..8u64 {
            let page: Vec<_> = (0..PAGE)
                .map(|item| dataset(&format!("ds-{step}-{item}"), "traffic", item))
                .collect();
            index.add(&page).expect("add");
            index
                .apply(
                    &[change(step + 2, dataset(&format!("ds-fed-{step}"), "traffic", 0))],
                    step + 2,
                )
                .expect("a commit during the build");
        }
        index.finish_build(9).expect("the build's merge");
        let searcher = index.reader.searcher();
        assert_eq!(searcher.segment_readers().len(), 1, "merged into one segment");
        assert_eq!(index.applied(), Some(9));
        let everything = index.search(&IndexQuery::default()).expect("search");
        assert_eq!(
            everything.total,
            8 * (PAGE + 1),
            "every page and every change, nothing from before the build"
        );
    }
}
