//! Text analysis for catalog search: what a dataset's text is indexed as, and
//! what a query's text asks for.
//!
//! Chinese has no spaces, so text is cut into words with jieba; because a
//! reader's two-character query (`交通`, `医疗`) must match however jieba cut
//! the indexed text, every run of Chinese characters is also indexed as
//! overlapping character pairs, and queries require the pairs while words
//! jieba finds only add to the score. English words are lower-cased and
//! stemmed (Snowball), and the last word of a query also matches as a prefix.
//!
//! People type Chinese as pinyin, so every pair and jieba word is also indexed
//! as its toneless pinyin and as its initials (交通 → `jiaotong`, `jt`), and a
//! query word of letters matches either: `jiaotong`, `jt` and `beijing 交通`
//! find what `交通` and `北京 交通` find.
//!
//! Terms carry a namespace: `c:` character pair (or the lone last character of
//! a run), `j:` jieba word, `p:` pinyin of a pair or word, `i:` its initials,
//! `s:` English stem (of a word that is not its own), `w:` word as written
//! (lower-cased).

use std::sync::LazyLock;

use jieba_rs::Jieba;
use pinyin::ToPinyin;
use rust_stemmers::{Algorithm, Stemmer};

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);
static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Most terms one query may require.
const MAX_QUERY_TERMS: usize = 24;

/// English words this long or longer match with one typo.
const TYPO_TOLERANT_LENGTH: usize = 5;

/// Where a piece of text sits in a dataset, and how much a match there counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The title.
    Title,
    /// A keyword.
    Keyword,
    /// The publisher's name.
    Publisher,
    /// A column name of one of its tables.
    Column,
    /// The description.
    Description,
}

impl Field {
    /// Every field, from the weightiest.
    pub const ALL: [Field; 5] = [
        Self::Title,
        Self::Keyword,
        Self::Publisher,
        Self::Column,
        Self::Description,
    ];

    /// How many times a match here counts a match in the description (whole numbers: the
    /// index stores a term's weight as its frequency).
    pub fn weight(self) -> u32 {
        match self {
            Self::Title => 5,
            Self::Keyword => 4,
            Self::Publisher => 3,
            Self::Column => 2,
            Self::Description => 1,
        }
    }

    /// The field's name in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Keyword => "keyword",
            Self::Publisher => "publisher",
            Self::Column => "column",
            Self::Description => "description",
        }
    }
}

/// The terms a piece of a dataset's text is indexed as, each once.
pub fn index_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = analyze(text, true).into_iter().flat_map(|piece| piece.terms).collect();
    terms.sort();
    terms.dedup();
    terms
}

/// One thing a query asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueryTerm {
    /// Terms any of which satisfies it (exact matches).
    pub any_of: Vec<String>,
    /// A prefix of terms that also satisfies it.
    pub prefix: Option<String>,
    /// A term one edit away from which also satisfies it (a typo in a longer English word).
    pub near: Option<String>,
    /// Whether a dataset must match it; optional terms only add to the score.
    pub required: bool,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Longer than [`MAX_QUERY_CHARS`].
    #[error("the query is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    /// More distinct terms than a search handles.
    #[error("the query has too many words")]
    TooManyTerms,
}

/// What a query asks for; empty when it holds no searchable word (punctuation, operators).
pub fn query_terms(query: &str) -> Result<Vec<QueryTerm>, QueryError> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let pieces = analyze(query, false);
    let last_word = pieces.iter().rposition(|piece| piece.kind == PieceKind::Word);
    let mut terms: Vec<QueryTerm> = Vec::new();
    for (index, piece) in pieces.into_iter().enumerate() {
        match piece.kind {
            PieceKind::Word => {
                let word = piece.text;
                // Every word of a dataset sharing this word's stem: those whose stem differs
                // from them carry it as an `s:` term, the others stand as themselves.
                let stem = STEMMER.stem(&word);
                let mut any_of = vec![format!("s:{stem}"), format!("w:{stem}")];
                if word.bytes().all(|byte| byte.is_ascii_lowercase()) {
                    any_of.extend([format!("p:{word}"), format!("i:{word}")]);
                }
                // One typo is forgiven in words long enough that one edit rarely makes another word.
                let near = (word.chars().count() >= TYPO_TOLERANT_LENGTH
                    && word.bytes().all(|byte| byte.is_ascii_lowercase()))
                .then(|| format!("w:{word}"));
                terms.push(QueryTerm {
                    any_of,
                    prefix: (Some(index) == last_word).then(|| format!("w:{word}")),
                    near,
                    required: true,
                });
            }
            PieceKind::Chinese => {
                // Pairs are required within each word jieba finds, not across word boundaries,
                // so `北京交通` finds `北京市交通流量`.
                for word in JIEBA.cut(&piece.text, true) {
                    let chars: Vec<char> = word.word.chars().collect();
                    if let [single] = chars.as_slice() {
                        // A lone character matches as the first of a pair, or alone.
                        terms.push(QueryTerm {
                            any_of: vec![format!("c:{single}")],
                            prefix: Some(format!("c:{single}")),
                            near: None,
                            required: true,
                        });
                        continue;
                    }
                    for pair in chars.windows(2) {
                        terms.push(QueryTerm {
                            any_of: vec![format!("c:{}{}", pair[0], pair[1])],
                            prefix: None,
                            near: None,
                            required: true,
                        });
                    }
                    terms.push(QueryTerm {
                        any_of: vec![format!("j:{}", word.word)],
                        prefix: None,
                        near: None,
                        required: false,
                    });
                }
            }
        }
    }
    let mut unique: Vec<QueryTerm> = Vec::with_capacity(terms.len());
    for term in terms {
        if !unique.contains(&term) {
            unique.push(term);
        }
    }
    if unique.iter().filter(|t| t.required).count() > MAX_QUERY_TERMS {
        return Err(QueryError::TooManyTerms);
    }
    Ok(unique)
}

/// Longest snippet [`highlight`] returns, in characters.
const SNIPPET_CHARS: usize = 160;

/// A snippet of `text` for a result page: the stretch around the first place the query's
/// words appear (Chinese as written, English words and their beginnings, case folded), cut
/// into pieces, `true` for those to highlight. Pinyin is not highlighted: it has no place
/// in the text to point at.
pub fn highlight(query: &str, text: &str) -> Vec<(String, bool)> {
    let mut needles: Vec<Vec<char>> = Vec::new();
    for piece in analyze(query, false) {
        let chars: Vec<char> = piece.text.chars().collect();
        match piece.kind {
            PieceKind::Word => needles.push(chars),
            // Every pair, so a query matches however the text continues; a lone character alone.
            PieceKind::Chinese if chars.len() == 1 => needles.push(chars),
            PieceKind::Chinese => needles.extend(chars.windows(2).map(<[char]>::to_vec)),
        }
    }
    let folded: Vec<char> = normalize(text).chars().collect();
    let original: Vec<char> = text.chars().collect();
    // Folding keeps one character for one (lower-casing aside): fall back to no marks when it did not.
    if folded.len() != original.len() {
        return vec![(original.into_iter().take(SNIPPET_CHARS).collect(), false)];
    }
    let mut marked = vec![false; folded.len()];
    for start in 0..folded.len() {
        for needle in &needles {
            if folded[start..].starts_with(needle) {
                marked[start..start + needle.len()]
                    .iter_mut()
                    .for_each(|mark| *mark = true);
            }
        }
    }
    let first = marked.iter().position(|mark| *mark).unwrap_or(0);
    let from = if original.len() <= SNIPPET_CHARS {
        0
    } else {
        first
            .saturating_sub(SNIPPET_CHARS / 4)
            .min(original.len() - SNIPPET_CHARS)
    };
    let to = original.len().min(from + SNIPPET_CHARS);
    let mut pieces: Vec<(String, bool)> = Vec::new();
    if from > 0 {
        pieces.push(("…".into(), false));
    }
    for index in from..to {
        match pieces.last_mut() {
            Some((piece, mark)) if *mark == marked[index] && !(from > 0 && piece == "…") => {
                piece.push(original[index])
            }
            _ => pieces.push((original[index].to_string(), marked[index])),
        }
    }
    if to < original.len() {
        pieces.push(("…".into(), false));
    }
    pieces
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PieceKind {
    /// Letters and digits (English, pinyin, numbers).
    Word,
    /// A run of Chinese characters.
    Chinese,
}

/// A piece of text and the terms it yields.
struct Piece {
    kind: PieceKind,
    text: String,
    terms: Vec<String>,
}

/// Splits normalized text into words and Chinese runs; `for_index` adds stems and words as written.
fn analyze(text: &str, for_index: bool) -> Vec<Piece> {
    let normalized = normalize(text);
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut kind = None;
    let mut flush = |current: &mut String, kind: Option<PieceKind>| {
        if let Some(kind) = kind.filter(|_| !current.is_empty()) {
            pieces.push(piece(kind, std::mem::take(current), for_index));
        }
        current.clear();
    };
    for c in normalized.chars() {
        let this = if is_chinese(c) {
            Some(PieceKind::Chinese)
        } else if c.is_alphanumeric() {
            Some(PieceKind::Word)
        } else {
            None
        };
        if this != kind {
            flush(&mut current, kind);
            kind = this;
        }
        if this.is_some() {
            current.push(c);
        }
    }
    flush(&mut current, kind);
    pieces
}

fn piece(kind: PieceKind, text: String, for_index: bool) -> Piece {
    let mut terms = Vec::new();
    match kind {
        PieceKind::Word => {
            // A word that is its own stem is not indexed twice: a query for the stem looks for
            // it as a word too (see `query_terms`), and each posting read once is the hot path.
            if for_index {
                let stem = STEMMER.stem(&text);
                if stem != text {
                    terms.push(format!("s:{stem}"));
                }
            }
            terms.push(format!("w:{text}"));
        }
        // Queries cut their Chinese runs themselves (see `query_terms`).
        PieceKind::Chinese if !for_index => {}
        PieceKind::Chinese => {
            let chars: Vec<char> = text.chars().collect();
            // Every character but a run's last starts a pair; the last stands alone too, so a
            // one-character query (a lone `c:` term or any pair it starts) finds it anywhere.
            if let Some(last) = chars.last() {
                terms.push(format!("c:{last}"));
            }
            let pairs: Vec<String> = chars.windows(2).map(|pair| pair.iter().collect()).collect();
            let words: Vec<&str> = JIEBA
                .cut_for_search(&text, true)
                .into_iter()
                .map(|token| token.word)
                .filter(|word| word.chars().count() >= 2)
                .collect();
            terms.extend(pairs.iter().map(|pair| format!("c:{pair}")));
            terms.extend(words.iter().map(|word| format!("j:{word}")));
            for spoken in pairs.iter().map(String::as_str).chain(words.iter().copied()) {
                if let Some((full, initials)) = pinyin_of(spoken) {
                    terms.extend([format!("p:{full}"), format!("i:{initials}")]);
                }
            }
        }
    }
    Piece { kind, text, terms }
}

/// The toneless pinyin of Chinese text and its initials, when every character has a reading.
fn pinyin_of(text: &str) -> Option<(String, String)> {
    let (mut full, mut initials) = (String::new(), String::new());
    for reading in text.to_pinyin() {
        let reading = reading?;
        full.push_str(reading.plain());
        initials.push_str(reading.first_letter());
    }
    Some((full, initials))
}

/// Lower-case, with full-width letters and digits folded to ASCII.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// CJK ideographs (the Unified blocks and their extensions A, B and compatibility forms).
fn is_chinese(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2A6DF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of(text: &str) -> Vec<String> {
        index_terms(text)
    }

    #[test]
    fn chinese_is_indexed_as_words_and_pairs() {
        let terms = terms_of("北京市交通流量（2024）");
        for expected in ["c:交通", "c:通流", "c:流量", "j:交通", "j:北京", "w:2024"] {
            assert!(terms.contains(&expected.to_owned()), "{expected} in {terms:?}");
        }
        assert!(
            !terms.contains(&"s:2024".to_owned()),
            "a word that is its own stem, once"
        );
        let query = query_terms("交通").expect("query");
        assert!(query.iter().any(|t| t.required && t.any_of == ["c:交通"]));
        let across = query_terms("北京交通").expect("query");
        let required: Vec<&str> = across
            .iter()
            .filter(|t| t.required)
            .map(|t| t.any_of[0].as_str())
            .collect();
        assert_eq!(required, ["c:北京", "c:交通"], "no pair across the words");
    }

    #[test]
    fn chinese_is_indexed_as_pinyin_and_initials_too() {
        let terms = terms_of("北京市交通流量");
        for expected in ["p:jiaotong", "i:jt", "p:beijing", "i:bj", "p:liuliang"] {
            assert!(terms.contains(&expected.to_owned()), "{expected} in {terms:?}");
        }
        let query = query_terms("jiaotong").expect("query");
        assert!(query[0].any_of.contains(&"p:jiaotong".to_owned()), "{query:?}");
        assert!(query_terms("jt").expect("query")[0].any_of.contains(&"i:jt".to_owned()));
        // Digits and capitals-folded words still match, but only letters are read as pinyin.
        assert!(
            query_terms("2024").expect("query")[0]
                .any_of
                .iter()
                .all(|term| !term.starts_with("p:"))
        );
    }

    #[test]
    fn a_single_character_is_found_wherever_it_stands() {
        let terms = terms_of("饮用水（水质）");
        let query = query_terms("水").expect("query");
        let [only] = query.as_slice() else { panic!("{query:?}") };
        let prefix = only.prefix.as_deref().expect("prefix");
        for at in ["c:饮用", "c:用水", "c:水质"] {
            assert!(terms.contains(&at.to_owned()), "{at} in {terms:?}");
        }
        // The end of a run is a lone term; the start of a pair is a prefix match.
        assert!(
            terms.contains(&"c:水".to_owned()) && only.any_of == ["c:水"],
            "{terms:?}"
        );
        assert!(terms.iter().any(|term| term.starts_with(prefix) && term != "c:水"));
    }

    #[test]
    fn english_is_stemmed_and_prefixed_and_case_folded() {
        let terms = terms_of("Hourly Traffic Flows");
        assert!(terms.contains(&"s:flow".to_owned()) && terms.contains(&"w:flows".to_owned()));
        assert!(terms.contains(&"w:traffic".to_owned()) && !terms.contains(&"s:traffic".to_owned()));
        // `flow` finds `Flows` by its stem and `flow` as written; `flows` finds both the same way.
        let query = query_terms("FLOW traf").expect("query");
        assert_eq!(query[0].any_of[..2], ["s:flow", "w:flow"]);
        assert_eq!(
            query_terms("flows").expect("query")[0].any_of[..2],
            ["s:flow", "w:flow"]
        );
        assert_eq!(query[1].prefix.as_deref(), Some("w:traf"));
        let wide = query_terms("ＴＲＡＦＦＩＣ").expect("query");
        assert_eq!(wide[0].any_of[1], "w:traffic");
    }

    #[test]
    fn snippets_mark_what_the_query_found() {
        let marked = |query: &str, text: &str| -> Vec<String> {
            highlight(query, text)
                .into_iter()
                .filter(|(_, mark)| *mark)
                .map(|(piece, _)| piece)
                .collect()
        };
        assert_eq!(
            marked("交通 flow", "北京市交通流量 Hourly Traffic Flows"),
            ["交通", "Flow"]
        );
        assert_eq!(marked("traf", "Traffic and TRAFFIC"), ["Traf", "TRAF"]);
        assert!(marked("jiaotong", "北京市交通").is_empty(), "pinyin points at nothing");
        let long = format!("{}交通{}", "很".repeat(300), "长".repeat(300));
        let snippet: String = highlight("交通", &long).into_iter().map(|(piece, _)| piece).collect();
        assert!(snippet.contains("交通") && snippet.starts_with('…') && snippet.ends_with('…'));
        assert!(snippet.chars().count() <= SNIPPET_CHARS + 2);
    }

    #[test]
    fn operators_and_junk_are_not_terms() {
        assert_eq!(query_terms("\" OR 1=1 -- ; * : ( ) '").expect("query").len(), 3);
        assert!(query_terms("").expect("query").is_empty());
        assert!(query_terms("*** ::: ---").expect("query").is_empty());
        assert_eq!(query_terms(&"数".repeat(201)), Err(QueryError::TooLong));
    }
}
