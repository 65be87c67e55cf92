//! Turns what a user typed into a tantivy query, without tantivy's query parser.
//!
//! The grammar is deliberately small and total (every input gives a query, none an error):
//! - words are ANDed; each word must match in one of the full-text fields
//!   (subject ×3, contacts ×2, body, extracted text, notes) or be the chrono number;
//! - `"a quoted phrase"` matches as a phrase (an unclosed quote is read as plain words);
//! - `-word` or `NOT word` excludes; `a OR b` (or `OU`) accepts either; `AND`/`ET` are ignored;
//! - anything else (`:`, `*`, parentheses, `field:value`) is punctuation for the French
//!   tokenizer, so a user can never address a field by name (e.g. `allowed:`).

use tantivy::Term;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use crate::schema::Fields;

/// Longer input is cut (in characters) before parsing.
pub const MAX_QUERY_CHARS: usize = 1000;
/// At most this many words or phrases are used; the rest is ignored.
pub const MAX_QUERY_ITEMS: usize = 32;
/// Boost of an exact chrono match over the text fields.
const CHRONO_BOOST: f32 = 10.0;

#[derive(Debug, PartialEq)]
enum Lex {
    Word(String),
    Phrase(String),
    Or,
    Not,
}

fn lex(input: &str) -> Vec<Lex> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let mut phrase = String::new();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                phrase.push(c);
            }
            if closed {
                out.push(Lex::Phrase(phrase));
            } else {
                out.extend(phrase.split_whitespace().map(|w| Lex::Word(w.to_owned())));
            }
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '"' {
                break;
            }
            word.push(c);
            chars.next();
        }
        match word.as_str() {
            "OR" | "OU" => out.push(Lex::Or),
            "AND" | "ET" => {}
            "NOT" => out.push(Lex::Not),
            _ => {
                if let Some(rest) = word.strip_prefix('-').filter(|r| !r.is_empty()) {
                    out.push(Lex::Not);
                    out.push(Lex::Word(rest.to_owned()));
                } else if let Some(rest) = word.strip_prefix('+') {
                    out.push(Lex::Word(rest.to_owned()));
                } else {
                    out.push(Lex::Word(word));
                }
            }
        }
    }
    out
}

pub(crate) struct QueryBuilder<'a> {
    pub fields: &'a Fields,
    pub analyzer: TextAnalyzer,
}

/// A query built from what the user typed.
pub(crate) struct Built {
    pub query: Box<dyn Query>,
    /// When the text is words and phrases (no operator or chrono number): the same matches
    /// as `query`, as term queries on `all_text`, ranked by BM25F (the fields weighted by
    /// repetition). A word then reads one posting list instead of a union of five, and one
    /// word is ranked with block-max WAND. `query` still makes the snippets.
    pub ranking: Option<Ranking>,
}

pub(crate) struct Ranking {
    pub query: Box<dyn Query>,
    /// Words only (no phrase): tantivy ranks it with block-max WAND, reading only what may
    /// enter the page, and counts it from posting lists alone. A phrase reads positions for
    /// every match: counted and ranked in one pass.
    pub words_only: bool,
}

impl QueryBuilder<'_> {
    /// `None` when the text holds nothing searchable (empty, only stop words...).
    pub(crate) fn build(&mut self, text: &str) -> Option<Built> {
        let text: String = text.chars().take(MAX_QUERY_CHARS).collect();
        let mut groups: Vec<Vec<Box<dyn Query>>> = Vec::new();
        let mut excluded: Vec<Box<dyn Query>> = Vec::new();
        let mut pending_or = false;
        let mut negate = false;
        let mut items = 0;
        // While the text is words and phrases only (no operator, no chrono number): the
        // tokens of each, with their positions.
        let mut plain: Option<Vec<Tokens>> = Some(Vec::new());
        for lexeme in lex(&text) {
            let item = match lexeme {
                Lex::Or => {
                    pending_or = !groups.is_empty();
                    plain = None;
                    continue;
                }
                Lex::Not => {
                    negate = true;
                    plain = None;
                    continue;
                }
                Lex::Word(w) => self.item_alternatives(&w, false),
                Lex::Phrase(p) => self.item_alternatives(&p, true),
            };
            if let Some((alternatives, tokens)) = item {
                let q = one_of(alternatives);
                match (&mut plain, tokens) {
                    (Some(items), Some(tokens)) => items.push(tokens),
                    _ => plain = None,
                }
                items += 1;
                if negate {
                    excluded.push(q);
                } else if let (true, Some(last)) = (pending_or, groups.last_mut()) {
                    last.push(q);
                } else {
                    groups.push(vec![q]);
                }
                if items >= MAX_QUERY_ITEMS {
                    break;
                }
            }
            negate = false;
            pending_or = false;
        }
        if groups.is_empty() && excluded.is_empty() {
            return None;
        }
        let ranking = plain
            .filter(|items| !items.is_empty())
            .map(|items| self.ranking(&items));
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if groups.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        for mut group in groups {
            let q = if group.len() == 1 {
                group.remove(0)
            } else {
                Box::new(BooleanQuery::union(group))
            };
            clauses.push((Occur::Must, q));
        }
        for q in excluded {
            clauses.push((Occur::MustNot, q));
        }
        Some(Built {
            query: Box::new(BooleanQuery::new(clauses)),
            ranking,
        })
    }

    /// Plain words and phrases on `all_text`, all of which must match (BM25F: the fields
    /// weighted by repetition).
    fn ranking(&self, items: &[Tokens]) -> Ranking {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = items
            .iter()
            .filter_map(|tokens| Some((Occur::Must, field_query(self.fields.all_text, tokens)?)))
            .collect();
        Ranking {
            query: match clauses.len() {
                1 => clauses.remove(0).1,
                _ => Box::new(BooleanQuery::new(clauses)),
            },
            words_only: items.iter().all(|tokens| tokens.len() == 1),
        }
    }

    /// One word or phrase: the queries of the text fields (and the chrono field), any of
    /// which it may match in. Also its tokens, unless it may be a chrono number.
    fn item_alternatives(&mut self, raw: &str, phrase: bool) -> Option<Alternatives> {
        let tokens = self.analyze(raw);
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        let trimmed = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let chrono_like = !phrase && trimmed.chars().any(|c| c.is_ascii_digit());
        if chrono_like {
            let term = Term::from_field_text(self.fields.chrono, &trimmed.to_lowercase());
            alternatives.push(Box::new(BoostQuery::new(
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                CHRONO_BOOST,
            )));
        }
        if tokens.is_empty() && !chrono_like {
            return None;
        }
        for (field, boost) in self.fields.text_fields() {
            if let Some(q) = field_query(field, &tokens) {
                alternatives.push(Box::new(BoostQuery::new(q, boost)));
            }
        }
        let plain_tokens = (!chrono_like).then(|| tokens.clone());
        (!alternatives.is_empty()).then_some((alternatives, plain_tokens))
    }

    fn analyze(&mut self, text: &str) -> Tokens {
        let mut out = Vec::new();
        let mut stream = self.analyzer.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            out.push((t.position, t.text.clone()));
        }
        out
    }
}

/// The tokens of a word or phrase, with their positions.
type Tokens = Vec<(usize, String)>;

/// A word's or phrase's queries, one per field, and its tokens unless it may be a chrono.
type Alternatives = (Vec<Box<dyn Query>>, Option<Tokens>);

/// A word's alternatives as one query: a union whose score is the sum of the fields it
/// matches in. (A union that seeks each field instead of filling tantivy's 4,096-document
/// window was tried inside the words' intersection: slower at p95 and p99 at a million
/// items, docs/PERFORMANCE.md.)
fn one_of(mut alternatives: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match alternatives.len() {
        1 => alternatives.remove(0),
        _ => Box::new(BooleanQuery::union(alternatives)),
    }
}

fn field_query(field: Field, tokens: &[(usize, String)]) -> Option<Box<dyn Query>> {
    match tokens {
        [] => None,
        [(_, token)] => Some(Box::new(TermQuery::new(
            Term::from_field_text(field, token),
            IndexRecordOption::WithFreqs,
        ))),
        [(first, _), ..] => {
            let terms = tokens
                .iter()
                .map(|(pos, t)| (pos - first, Term::from_field_text(field, t)))
                .collect();
            Some(Box::new(PhraseQuery::new_with_offset(terms)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_operators_and_quotes() {
        assert_eq!(
            lex(r#"a "b c" OR -d NOT e AND "f"#),
            vec![
                Lex::Word("a".into()),
                Lex::Phrase("b c".into()),
                Lex::Or,
                Lex::Not,
                Lex::Word("d".into()),
                Lex::Not,
                Lex::Word("e".into()),
                Lex::Word("f".into()),
            ]
        );
        assert!(lex("").is_empty());
        assert_eq!(lex("\""), vec![]);
        assert_eq!(lex("-"), vec![Lex::Word("-".into())]);
    }
}
