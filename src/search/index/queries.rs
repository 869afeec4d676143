//! The queries a search is made of: a word's forms ([`AnyFormQuery`]: its exact terms
//! and the words its prefix or typo reach), scored by BM25F, and filters ([`AnyTermQuery`]).
//!
//! Every term of a dataset is indexed once, in one text field, repeated as
//! many times as the weights of the fields it stands in add up to; its term
//! frequency is therefore its field-weighted frequency in that dataset, which
//! BM25F saturates and multiplies by the form's rarity (its idf, given by the
//! caller from the ranking's statistics). One posting list per query form
//! replaces one per form and field. There is no length normalisation (BM25's
//! `b` is 0): a catalog record's length says how many columns or how long a
//! description it has, not how much it is about a word.

use std::sync::{Arc, LazyLock};

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::postings::{Postings, SegmentPostings, TermInfo};
use tantivy::query::BitSetDocSet;
use tantivy::query::{ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, TantivyError, Term};
use tantivy_common::BitSet;

/// The most words one prefix or typo form reaches in a segment, first in the dictionary's
/// order (Lucene's and Elasticsearch's `max_expansions`): a one-letter prefix would otherwise
/// reach a large part of the vocabulary (`0` every id starting with a zero) and merge all
/// their posting lists on every search.
pub(super) const MAX_EXPANSIONS: usize = 1024;

/// BM25's saturation: how soon more weight stops counting for much.
const K1: Score = 1.2;

/// BM25's inverse document frequency of a form `holding` of `datasets` datasets hold.
pub(super) fn idf(holding: u64, datasets: u64) -> Score {
    let (holding, datasets) = (holding as Score, datasets.max(holding) as Score);
    (1.0 + (datasets - holding + 0.5) / (holding + 0.5)).ln()
}

/// BM25 of a form whose field weights in a dataset sum to `weight`, `idf` its (boosted) idf.
fn bm25(idf: Score, weight: u32) -> Score {
    let weight = weight as Score;
    idf * weight * (K1 + 1.0) / (weight + K1)
}

/// Documents holding `term`, each scoring its BM25F there.
#[derive(Clone, Debug)]
pub(super) struct WeightedTermQuery {
    term: Term,
    idf: Score,
}

impl WeightedTermQuery {
    /// Matches `term`, of inverse document frequency `idf`.
    pub(super) fn new(term: Term, idf: Score) -> Self {
        Self { term, idf }
    }
}

impl Query for WeightedTermQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for WeightedTermQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let postings = reader
            .inverted_index(self.term.field())?
            .read_postings(&self.term, IndexRecordOption::WithFreqs)?;
        Ok(match postings {
            Some(postings) => Box::new(WeightedPostings {
                postings,
                idf: self.idf * boost,
            }),
            None => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "BM25F of a term")
    }
}

/// A posting list whose term frequency is the term's field-weighted frequency in each document.
struct WeightedPostings {
    postings: tantivy::postings::SegmentPostings,
    /// The term's idf times the query's boost.
    idf: Score,
}

impl DocSet for WeightedPostings {
    fn advance(&mut self) -> DocId {
        self.postings.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        // Most seeks of a large search land on the next posting (a word's optional forms
        // hold much the same datasets as its required ones): stepping there first spares
        // the search within the block a seek starts with.
        let doc = self.postings.doc();
        if doc >= target {
            return doc;
        }
        let next = self.postings.advance();
        if next >= target {
            return next;
        }
        self.postings.seek(target)
    }

    fn doc(&self) -> DocId {
        self.postings.doc()
    }

    fn size_hint(&self) -> u32 {
        self.postings.size_hint()
    }
}

impl Scorer for WeightedPostings {
    fn score(&mut self) -> Score {
        bm25(self.idf, self.postings.term_freq())
    }
}

/// The words a loose form stands for: those starting with a prefix, or one edit away from a word.
#[derive(Clone)]
pub(super) enum Loose {
    /// Terms starting with these bytes.
    Prefix(Vec<u8>),
    /// Terms starting with `kind` (`w:`) and then one edit away from the word the automaton was built for.
    Typo { kind: Vec<u8>, automaton: Arc<DFA> },
}

impl std::fmt::Debug for Loose {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Prefix(prefix) => write!(formatter, "Prefix({})", String::from_utf8_lossy(prefix)),
            Self::Typo { kind, .. } => write!(formatter, "Typo({}…)", String::from_utf8_lossy(kind)),
        }
    }
}

/// Builds one-edit automata (transpositions count as one edit); building the builder is the
/// expensive part, so it happens once.
static ONE_EDIT: LazyLock<LevenshteinAutomatonBuilder> = LazyLock::new(|| LevenshteinAutomatonBuilder::new(1, true));

impl Loose {
    /// Terms one edit from `term` after its kind prefix (`w:` in `w:trafic`).
    pub(super) fn typo(term: &str) -> Self {
        let (kind, word) = term.split_at(term.find(':').map_or(0, |colon| colon + 1));
        Self::Typo {
            kind: kind.as_bytes().to_vec(),
            automaton: Arc::new(ONE_EDIT.build_dfa(word)),
        }
    }
}

/// Documents holding any term a loose form stands for but the exact ones it leaves to other
/// clauses, each scoring the BM25F of its best such term at the form's idf.
#[derive(Clone, Debug)]
pub(super) struct LooseQuery {
    field: tantivy::schema::Field,
    loose: Loose,
    exact: Vec<Vec<u8>>,
    idf: Score,
}

impl LooseQuery {
    /// Matches what `loose` stands for in `field`, leaving out the `exact` terms.
    pub(super) fn new(field: tantivy::schema::Field, loose: Loose, exact: Vec<Vec<u8>>) -> Self {
        Self {
            field,
            loose,
            exact,
            idf: 1.0,
        }
    }

    /// The same form scored at inverse document frequency `idf` (boosts included).
    pub(super) fn with_idf(self, idf: Score) -> Self {
        Self { idf, ..self }
    }

    /// Datasets holding the terms the form reaches, summed over those terms and the
    /// searcher's segments (a dataset holding two of them counts twice: the form's
    /// rarity is estimated, not counted).
    pub(super) fn holding(&self, searcher: &Searcher) -> tantivy::Result<u64> {
        let mut holding = 0;
        for reader in searcher.segment_readers() {
            holding += self
                .reached(reader)?
                .iter()
                .map(|info| u64::from(info.doc_freq))
                .sum::<u64>();
        }
        Ok(holding)
    }

    /// The terms of one segment the form reaches (the exact ones left out), the first
    /// [`MAX_EXPANSIONS`] in the dictionary's order.
    fn reached(&self, reader: &SegmentReader) -> tantivy::Result<Vec<TermInfo>> {
        let index = reader.inverted_index(self.field)?;
        let mut reached = Vec::new();
        let mut reach = |key: &[u8], info: &TermInfo| {
            if !self.exact.iter().any(|exact| exact == key) {
                reached.push(info.clone());
            }
            reached.len() < MAX_EXPANSIONS
        };
        match &self.loose {
            Loose::Prefix(prefix) => {
                let mut terms = index.terms().range().ge(prefix).into_stream()?;
                while terms.advance() && terms.key().starts_with(prefix) && reach(terms.key(), terms.value()) {}
            }
            Loose::Typo { kind, automaton } => {
                let automaton = AfterKind {
                    kind,
                    automaton: automaton.as_ref(),
                };
                let mut terms = index.terms().search(automaton).into_stream()?;
                while terms.advance() && reach(terms.key(), terms.value()) {}
            }
        }
        Ok(reached)
    }
}

impl Query for LooseQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for LooseQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let reached = self.reached(reader)?;
        if reached.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        let index = reader.inverted_index(self.field)?;
        let total = reached.iter().map(|info| u64::from(info.doc_freq)).sum();
        let lists = reached
            .iter()
            .map(|info| index.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs));
        Ok(Box::new(MergedScorer::merge(
            lists,
            total,
            reader.max_doc(),
            Some(boost * self.idf),
        )?))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "BM25F of a prefix or typo")
    }
}

fn explain_with(mut scorer: Box<dyn Scorer>, doc: DocId, what: &'static str) -> tantivy::Result<Explanation> {
    if scorer.seek(doc) != doc {
        return Err(TantivyError::InvalidArgument(format!("document {doc} does not match")));
    }
    Ok(Explanation::new(what, scorer.score()))
}

/// The documents of several posting lists, each once with its best weight (its frequency
/// in the list holding it most): the words a prefix or a typo reaches, or a filter's values.
///
/// A few are listed in order; many (from one document in [`DENSE_FROM`] of the segment)
/// are marked in a bitset, with a weight per document of the segment: sorting the hundred
/// thousand postings a one-digit prefix reaches in a million datasets cost more than the
/// rest of the search.
enum MergedDocs {
    /// Listed in order, with the position of the current one.
    Listed { matches: Vec<(DocId, u32)>, at: usize },
    /// Marked, each with its weight (saturated at `u16::MAX`, far past where BM25 has
    /// stopped telling weights apart; empty when the lists carry no weights).
    Dense { docs: BitSetDocSet, weights: Vec<u16> },
}

/// Merged postings are laid out densely from one document in this many of the segment.
const DENSE_FROM: u64 = 64;

/// [`MergedDocs`] scored by BM25F at an idf.
struct MergedScorer {
    docs: MergedDocs,
    /// The form's idf times the query's boost.
    idf: Score,
}

impl MergedScorer {
    /// Merges `lists` of a segment of `max_doc` documents, `total` postings in all, opened
    /// one at a time; scored at `idf`, or unweighted (`None`: lists read without
    /// frequencies, that select and never rank).
    fn merge(
        lists: impl Iterator<Item = std::io::Result<SegmentPostings>>,
        total: u64,
        max_doc: DocId,
        idf: Option<Score>,
    ) -> tantivy::Result<MergedScorer> {
        let weighted = idf.is_some();
        let docs = if total.saturating_mul(DENSE_FROM) >= u64::from(max_doc) {
            let mut docs = BitSet::with_max_value(max_doc);
            let mut weights = if weighted {
                vec![0u16; max_doc as usize]
            } else {
                Vec::new()
            };
            for list in lists {
                let mut list = list?;
                while list.doc() != TERMINATED {
                    let doc = list.doc();
                    docs.insert(doc);
                    if let Some(weight) = weights.get_mut(doc as usize) {
                        *weight = (*weight).max(u16::try_from(list.term_freq()).unwrap_or(u16::MAX));
                    }
                    list.advance();
                }
            }
            MergedDocs::Dense {
                docs: BitSetDocSet::from(docs),
                weights,
            }
        } else {
            let mut matches = Vec::with_capacity(usize::try_from(total).unwrap_or_default());
            for list in lists {
                let mut list = list?;
                while list.doc() != TERMINATED {
                    matches.push((list.doc(), if weighted { list.term_freq() } else { 0 }));
                    list.advance();
                }
            }
            // Best weight first within a document, so the dedup keeps it.
            matches.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            matches.dedup_by_key(|(doc, _)| *doc);
            MergedDocs::Listed { matches, at: 0 }
        };
        Ok(Self {
            docs,
            idf: idf.unwrap_or_default(),
        })
    }
}

impl DocSet for MergedScorer {
    fn advance(&mut self) -> DocId {
        match &mut self.docs {
            MergedDocs::Listed { matches, at } => {
                *at = (*at + 1).min(matches.len());
            }
            MergedDocs::Dense { docs, .. } => {
                docs.advance();
            }
        }
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        match &mut self.docs {
            MergedDocs::Listed { matches, at } => {
                let rest = &matches[*at..];
                *at += rest.partition_point(|(doc, _)| *doc < target);
            }
            MergedDocs::Dense { docs, .. } => {
                if docs.doc() < target {
                    docs.seek(target);
                }
            }
        }
        self.doc()
    }

    fn doc(&self) -> DocId {
        match &self.docs {
            MergedDocs::Listed { matches, at } => matches.get(*at).map_or(TERMINATED, |(doc, _)| *doc),
            MergedDocs::Dense { docs, .. } => docs.doc(),
        }
    }

    fn size_hint(&self) -> u32 {
        match &self.docs {
            MergedDocs::Listed { matches, at } => u32::try_from(matches.len() - at).unwrap_or(u32::MAX),
            MergedDocs::Dense { docs, .. } => docs.size_hint(),
        }
    }
}

impl Scorer for MergedScorer {
    fn score(&mut self) -> Score {
        let weight = match &self.docs {
            MergedDocs::Listed { matches, at } => matches.get(*at).map_or(0, |(_, weight)| *weight),
            MergedDocs::Dense { docs, weights } => {
                weights.get(docs.doc() as usize).map_or(0, |weight| u32::from(*weight))
            }
        };
        bm25(self.idf, weight)
    }
}

/// Documents holding any form of one query word: its exact forms and its loose ones, each
/// document scoring the sum of the forms it holds.
///
/// Not a boolean query of the forms: most forms of a word are held by no dataset of a
/// segment (an English word has four exact forms, a catalog rarely holds more than one),
/// and a boolean query would still merge the one list that is left through a union. Here
/// the forms a segment does not hold are left out before anything is merged, and a single
/// list is read as it is.
#[derive(Clone, Debug)]
pub(super) struct AnyFormQuery {
    exact: Vec<WeightedTermQuery>,
    loose: Vec<LooseQuery>,
}

impl AnyFormQuery {
    /// Matches documents holding any of the `exact` terms or of the terms `loose` forms reach.
    pub(super) fn new(exact: Vec<WeightedTermQuery>, loose: Vec<LooseQuery>) -> Self {
        Self { exact, loose }
    }
}

impl Query for AnyFormQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for AnyFormQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut held = Vec::new();
        let forms = (self.exact.iter().map(|form| form as &dyn Weight))
            .chain(self.loose.iter().map(|form| form as &dyn Weight));
        for form in forms {
            let scorer = form.scorer(reader, boost)?;
            if scorer.doc() != TERMINATED {
                held.push(scorer);
            }
        }
        Ok(match held.len() {
            0 => Box::new(EmptyScorer),
            1 => held.swap_remove(0),
            _ => Box::new(FormUnion::new(held)),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "BM25F of a word's forms")
    }
}

/// The union of a word's few forms held in a segment: each document once, scoring the sum
/// of its forms' scores. Walks the forms side by side, as there are only a handful.
struct FormUnion {
    forms: Vec<Box<dyn Scorer>>,
    doc: DocId,
}

impl FormUnion {
    fn new(forms: Vec<Box<dyn Scorer>>) -> Self {
        let mut union = Self { forms, doc: 0 };
        union.settle();
        union
    }

    /// Stands the union on the smallest document its forms stand on.
    fn settle(&mut self) -> DocId {
        self.doc = self.forms.iter().map(|form| form.doc()).min().unwrap_or(TERMINATED);
        self.doc
    }
}

impl DocSet for FormUnion {
    fn advance(&mut self) -> DocId {
        let current = self.doc;
        for form in &mut self.forms {
            if form.doc() == current {
                form.advance();
            }
        }
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        for form in &mut self.forms {
            if form.doc() < target {
                form.seek(target);
            }
        }
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.forms.iter().map(|form| form.size_hint()).max().unwrap_or(0)
    }
}

impl Scorer for FormUnion {
    fn score(&mut self) -> Score {
        let current = self.doc;
        self.forms
            .iter_mut()
            .filter(|form| form.doc() == current)
            .map(|form| form.score())
            .sum()
    }
}

/// A one-edit automaton applied after a fixed kind prefix, so `w:trafic` reaches `w:traffic`
/// but never another kind's `s:trafic`.
struct AfterKind<'a> {
    kind: &'a [u8],
    automaton: &'a DFA,
}

impl tantivy_fst::Automaton for AfterKind<'_> {
    /// Bytes of the kind matched so far, or past it (`kind.len()`) the word automaton's state.
    type State = (usize, u32);

    fn start(&self) -> Self::State {
        (0, self.automaton.initial_state())
    }

    fn is_match(&self, (matched, state): &Self::State) -> bool {
        *matched == self.kind.len() && matches!(self.automaton.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, (matched, state): &Self::State) -> bool {
        *matched <= self.kind.len() && *state != SINK_STATE
    }

    fn accept(&self, (matched, state): &Self::State, byte: u8) -> Self::State {
        match self.kind.get(*matched) {
            Some(expected) if *expected == byte => (matched + 1, *state),
            // Off the kind: a dead state.
            Some(_) => (self.kind.len() + 1, *state),
            None => (*matched, self.automaton.transition(*state, byte)),
        }
    }
}

/// Documents holding any of some terms, each scoring the boost alone: the filters of a
/// search (facet values, ids, kinds left out), which select and never rank.
///
/// Not tantivy's `TermSetQuery`: that compiles its terms into an FST per search, and an
/// FST builder starts by allocating a registry of 20,000 nodes — most of a search's time
/// when the filter is two or three words.
#[derive(Clone, Debug)]
pub(super) struct AnyTermQuery {
    terms: Vec<Term>,
}

impl AnyTermQuery {
    /// Matches documents holding any of `terms`.
    pub(super) fn new(terms: Vec<Term>) -> Self {
        Self { terms }
    }
}

impl Query for AnyTermQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for AnyTermQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut lists = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            let postings = reader
                .inverted_index(term.field())?
                .read_postings(term, IndexRecordOption::Basic)?;
            lists.extend(postings);
        }
        if lists.len() <= 1 {
            // One list is read lazily, skipping as the search seeks.
            return Ok(match lists.pop() {
                Some(postings) => Box::new(ConstScorer::new(postings, boost)),
                None => Box::new(EmptyScorer),
            });
        }
        // Several lists are merged once, each document once (unweighted: filters do not rank).
        let total = lists.iter().map(|list| u64::from(list.size_hint())).sum();
        let merged = MergedScorer::merge(lists.into_iter().map(Ok), total, reader.max_doc(), None)?;
        Ok(Box::new(ConstScorer::new(merged, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "a filter's term")
    }
}
