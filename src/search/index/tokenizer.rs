//! The catalog's text analysis as a tantivy tokenizer, so the index runs it (on its
//! own indexing thread) and names it in its schema.
//!
//! Ranking is BM25F over one indexed field: a term's frequency there is the summed
//! weight of the dataset's fields that hold it (title 5 … description 1), each field
//! counted once however often it repeats the term. So a document gives the text field
//! one value per dataset field, tagged with that field ([`tagged`]), and the tokenizer
//! emits each distinct term of a value as many times as the tag's weight; tantivy adds
//! the values' frequencies up.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

use crate::search::analysis::{Field, index_terms};

/// The tokenizer's name in the index's schema.
pub(super) const NAME: &str = "shulian-weighted";

/// Separates a value's field tag from its text; the analysis never keeps it in a term.
const TAG_END: char = '\u{1f}';

/// A text field value holding `text` as it stands in `field`.
pub(super) fn tagged(field: Field, text: &str) -> String {
    format!("{}{TAG_END}{text}", field.as_str())
}

/// Splits a tagged value; an untagged one is weighed as description.
fn untag(value: &str) -> (Field, &str) {
    value
        .split_once(TAG_END)
        .and_then(|(tag, text)| {
            Field::ALL
                .into_iter()
                .find(|field| field.as_str() == tag)
                .map(|field| (field, text))
        })
        .unwrap_or((Field::Description, value))
}

/// Analyses a tagged value into its terms, each repeated by its field's weight.
#[derive(Clone, Debug, Default)]
pub(super) struct WeightedTerms;

impl Tokenizer for WeightedTerms {
    type TokenStream<'a> = WeightedTermStream;

    fn token_stream<'a>(&'a mut self, value: &'a str) -> Self::TokenStream<'a> {
        let (field, text) = untag(value);
        let mut terms = index_terms(text);
        terms.reverse();
        WeightedTermStream {
            terms,
            weight: field.weight(),
            left: 0,
            token: Token::default(),
        }
    }
}

/// The terms of one value, each given `weight` times.
pub(super) struct WeightedTermStream {
    /// Terms not yet given, the next last.
    terms: Vec<String>,
    weight: u32,
    /// How many more times the current token is given.
    left: u32,
    token: Token,
}

impl TokenStream for WeightedTermStream {
    fn advance(&mut self) -> bool {
        if self.left == 0 {
            match self.terms.pop() {
                Some(term) => {
                    self.token.text = term;
                    self.left = self.weight;
                }
                None => return false,
            }
        }
        self.left -= 1;
        // Only frequencies are indexed: positions just have to grow.
        self.token.position = self.token.position.wrapping_add(1);
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(value: &str) -> Vec<String> {
        let mut tokenizer = WeightedTerms;
        let mut stream = tokenizer.token_stream(value);
        let mut found = Vec::new();
        while stream.advance() {
            found.push(stream.token().text.clone());
        }
        found
    }

    #[test]
    fn a_value_gives_each_distinct_term_as_often_as_its_field_weighs() {
        let title = tokens(&tagged(Field::Title, "Traffic traffic"));
        assert_eq!(
            title,
            vec!["w:traffic"; 5],
            "five for the title, the repeat counted once"
        );
        let description = tokens(&tagged(Field::Description, "traffic flows"));
        assert_eq!(description, ["s:flow", "w:flows", "w:traffic"]);
    }

    #[test]
    fn chinese_text_carries_its_pairs_words_and_pinyin() {
        let keyword = tokens(&tagged(Field::Keyword, "交通"));
        for term in ["c:交通", "p:jiaotong", "i:jt"] {
            assert_eq!(
                keyword.iter().filter(|token| *token == term).count(),
                4,
                "{term} in {keyword:?}"
            );
        }
    }

    #[test]
    fn an_untagged_value_is_weighed_as_description() {
        assert_eq!(tokens("traffic"), ["w:traffic"]);
        assert_eq!(
            tokens("nofield\u{1f}traffic"),
            tokens(&tagged(Field::Description, "nofield\u{1f}traffic"))
        );
    }
}
