//! The two leaf queries of a search, scored by BM25F.
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
use tantivy::postings::{Postings, TermInfo};
use tantivy::query::{ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, TantivyError, Term};

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
            self.each_term(reader, |info| {
                holding += u64::from(info.doc_freq);
                Ok(())
            })?;
        }
        Ok(holding)
    }

    /// Hands each term of one segment the form reaches (the exact ones left out) to `each`.
    fn each_term(
        &self,
        reader: &SegmentReader,
        mut each: impl FnMut(&TermInfo) -> tantivy::Result<()>,
    ) -> tantivy::Result<()> {
        let index = reader.inverted_index(self.field)?;
        match &self.loose {
            Loose::Prefix(prefix) => {
                let mut terms = index.terms().range().ge(prefix).into_stream()?;
                while terms.advance() && terms.key().starts_with(prefix) {
                    if !self.exact.iter().any(|exact| exact == terms.key()) {
                        each(terms.value())?;
                    }
                }
            }
            Loose::Typo { kind, automaton } => {
                let automaton = AfterKind {
                    kind,
                    automaton: automaton.as_ref(),
                };
                let mut terms = index.terms().search(automaton).into_stream()?;
                while terms.advance() {
                    if !self.exact.iter().any(|exact| exact == terms.key()) {
                        each(terms.value())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every (document, weight) the reached terms hold in one segment, by document, each once
    /// with its best weight.
    fn matches(&self, reader: &SegmentReader) -> tantivy::Result<Vec<(DocId, u32)>> {
        let index = reader.inverted_index(self.field)?;
        let mut found: Vec<(DocId, u32)> = Vec::new();
        self.each_term(reader, |info| {
            let mut postings = index.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
            while postings.doc() != TERMINATED {
                found.push((postings.doc(), postings.term_freq()));
                postings.advance();
            }
            Ok(())
        })?;
        // Best weight first within a document, so the dedup keeps it.
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        found.dedup_by_key(|(doc, _)| *doc);
        Ok(found)
    }
}

impl Query for LooseQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for LooseQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let matches = self.matches(reader)?;
        if matches.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        Ok(Box::new(ListedDocs {
            matches,
            at: 0,
            idf: boost * self.idf,
        }))
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

/// Documents listed in order with their weights.
struct ListedDocs {
    matches: Vec<(DocId, u32)>,
    at: usize,
    /// The form's idf times the query's boost.
    idf: Score,
}

impl DocSet for ListedDocs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.matches.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.matches[self.at..];
        self.at += rest.partition_point(|(doc, _)| *doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.matches.get(self.at).map_or(TERMINATED, |(doc, _)| *doc)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.matches.len() - self.at).unwrap_or(u32::MAX)
    }
}

impl Scorer for ListedDocs {
    fn score(&mut self) -> Score {
        self.matches
            .get(self.at)
            .map_or(0.0, |(_, weight)| bm25(self.idf, *weight))
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
        // Several lists are merged once, in order, each document once (its weight unused).
        let mut matches = Vec::new();
        for mut postings in lists {
            while postings.doc() != TERMINATED {
                matches.push((postings.doc(), 0));
                postings.advance();
            }
        }
        matches.sort_unstable();
        matches.dedup();
        let listed = ListedDocs {
            matches,
            at: 0,
            idf: 0.0,
        };
        Ok(Box::new(ConstScorer::new(listed, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "a filter's term")
    }
}
