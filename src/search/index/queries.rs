//! The two leaf queries of a search, scored by field weight rather than BM25.
//!
//! Every term of a dataset is indexed once, in one text field, repeated as
//! many times as the weights of the fields it stands in add up to; its term
//! frequency is therefore its weight in that dataset, and a match scores it
//! directly. One posting list per query form replaces one per form and field.

use std::sync::{Arc, LazyLock};

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::postings::Postings;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

/// Documents holding `term`, each scoring the term's weight there.
#[derive(Clone, Debug)]
pub(super) struct WeightedTermQuery {
    term: Term,
}

impl WeightedTermQuery {
    /// Matches `term` at its weight.
    pub(super) fn new(term: Term) -> Self {
        Self { term }
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
            Some(postings) => Box::new(WeightedPostings { postings, boost }),
            None => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "weighted term")
    }
}

/// A posting list whose term frequency is the term's weight in each document.
struct WeightedPostings {
    postings: tantivy::postings::SegmentPostings,
    boost: Score,
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
        self.postings.term_freq() as Score * self.boost
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
/// clauses, each scoring the weight of its best such term times `boost`.
#[derive(Clone, Debug)]
pub(super) struct LooseQuery {
    field: tantivy::schema::Field,
    loose: Loose,
    exact: Vec<Vec<u8>>,
    boost: Score,
}

impl LooseQuery {
    /// Matches what `loose` stands for in `field`, leaving out the `exact` terms.
    pub(super) fn new(field: tantivy::schema::Field, loose: Loose, exact: Vec<Vec<u8>>, boost: Score) -> Self {
        Self {
            field,
            loose,
            exact,
            boost,
        }
    }

    /// Every (document, weight) the expanded terms hold in one segment, by document, each once.
    fn matches(&self, reader: &SegmentReader) -> tantivy::Result<Vec<(DocId, u32)>> {
        let index = reader.inverted_index(self.field)?;
        let mut found: Vec<(DocId, u32)> = Vec::new();
        let mut read = |info: &tantivy::postings::TermInfo| -> tantivy::Result<()> {
            let mut postings = index.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
            while postings.doc() != TERMINATED {
                found.push((postings.doc(), postings.term_freq()));
                postings.advance();
            }
            Ok(())
        };
        match &self.loose {
            Loose::Prefix(prefix) => {
                let mut terms = index.terms().range().ge(prefix).into_stream()?;
                while terms.advance() && terms.key().starts_with(prefix) {
                    if !self.exact.iter().any(|exact| exact == terms.key()) {
                        read(terms.value())?;
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
                        read(terms.value())?;
                    }
                }
            }
        }
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
            boost: boost * self.boost,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_with(self.scorer(reader, 1.0)?, doc, "prefix or typo")
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
    boost: Score,
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
            .map_or(0.0, |(_, weight)| *weight as Score * self.boost)
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
