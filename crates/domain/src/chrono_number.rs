//! Chronological numbers: unique and gapless per commune, year and direction.
//!
//! The sequence itself is kept by the store, inside the registering transaction; this
//! module only says how a (year, direction, sequence) triple is written, following a
//! per-commune pattern.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::item::Direction;

/// A registered number: the triple that identifies it and its printed form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChronoNumber {
    pub year: i32,
    pub direction: Direction,
    pub sequence: i64,
    pub text: String,
}

impl fmt::Display for ChronoNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A numbering pattern such as `{year}-{dir}-{seq:6}` (the default: `2026-A-000042`).
///
/// Tokens: `{year}` (four digits), `{yy}` (two digits), `{dir}` (A arrivée, D départ,
/// I interne), `{seq}` (no padding) or `{seq:N}` (zero-padded to N digits, 1 to 12).
/// Anything else is copied as is. The pattern must contain `{seq}` and one year token,
/// and `{dir}` so that the three registers never print the same number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChronoFormat {
    pattern: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Year,
    ShortYear,
    Direction,
    Sequence { width: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format de numéro chrono invalide « {pattern} » : {reason}")]
pub struct InvalidChronoFormat {
    pub pattern: String,
    pub reason: String,
}

impl ChronoFormat {
    pub const DEFAULT: &'static str = "{year}-{dir}-{seq:6}";

    pub fn parse(pattern: &str) -> Result<Self, InvalidChronoFormat> {
        let fail = |reason: &str| InvalidChronoFormat {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or_else(|| fail("accolade non fermée"))?;
                    let token = &rest[1..end];
                    parts.push(match token {
                        "year" => Part::Year,
                        "yy" => Part::ShortYear,
                        "dir" => Part::Direction,
                        "seq" => Part::Sequence { width: 0 },
                        t if t.starts_with("seq:") => {
                            let width: usize = t[4..]
                                .parse()
                                .map_err(|_| fail("largeur de {seq:N} non numérique"))?;
                            if !(1..=12).contains(&width) {
                                return Err(fail("largeur de {seq:N} entre 1 et 12"));
                            }
                            Part::Sequence { width }
                        }
                        other => return Err(fail(&format!("jeton inconnu {{{other}}}"))),
                    });
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = &rest[..end];
                    if literal.contains('}') {
                        return Err(fail("accolade fermante isolée"));
                    }
                    parts.push(Part::Literal(literal.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        let count = |pred: fn(&Part) -> bool| parts.iter().filter(|p| pred(p)).count();
        if count(|p| matches!(p, Part::Sequence { .. })) != 1 {
            return Err(fail("il faut exactement un {seq}"));
        }
        if count(|p| matches!(p, Part::Year | Part::ShortYear)) != 1 {
            return Err(fail("il faut exactement un {year} ou {yy}"));
        }
        if count(|p| matches!(p, Part::Direction)) != 1 {
            return Err(fail("il faut exactement un {dir}"));
        }
        if pattern.len() > 64 {
            return Err(fail("64 caractères au plus"));
        }
        Ok(ChronoFormat {
            pattern: pattern.to_owned(),
            parts,
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn format(&self, year: i32, direction: Direction, sequence: i64) -> ChronoNumber {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => text.push_str(s),
                Part::Year => text.push_str(&format!("{year:04}")),
                Part::ShortYear => text.push_str(&format!("{:02}", year.rem_euclid(100))),
                Part::Direction => text.push(direction.letter()),
                Part::Sequence { width } => text.push_str(&format!("{sequence:0width$}")),
            }
        }
        ChronoNumber {
            year,
            direction,
            sequence,
            text,
        }
    }
}

impl ChronoFormat {
    /// The numbers written in this format that appear in `text` (a reply's subject quoting
    /// "Votre courrier 2026-A-000123"), each once, in order. A number glued to other letters
    /// or digits is not one.
    pub fn find_in(&self, text: &str) -> Vec<String> {
        let bytes = text.as_bytes();
        let mut found: Vec<String> = Vec::new();
        for start in 0..bytes.len() {
            if !text.is_char_boundary(start)
                || (start > 0 && bytes[start - 1].is_ascii_alphanumeric())
            {
                continue;
            }
            if let Some(end) = self.match_at(bytes, start)
                && bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric())
            {
                let number = text[start..end].to_owned();
                if !found.contains(&number) {
                    found.push(number);
                }
            }
        }
        found
    }

    /// The end of a number in this format starting at `start`, if one does.
    fn match_at(&self, bytes: &[u8], start: usize) -> Option<usize> {
        let digits = |at: usize, n: usize| -> Option<usize> {
            let run = bytes.get(at..at + n)?;
            run.iter().all(u8::is_ascii_digit).then_some(at + n)
        };
        let mut at = start;
        for part in &self.parts {
            at = match part {
                Part::Literal(s) => {
                    let run = bytes.get(at..at + s.len())?;
                    run.eq_ignore_ascii_case(s.as_bytes())
                        .then_some(at + s.len())?
                }
                Part::Year => digits(at, 4)?,
                Part::ShortYear => digits(at, 2)?,
                Part::Direction => match bytes.get(at)? {
                    b'A' | b'D' | b'I' | b'a' | b'd' | b'i' => at + 1,
                    _ => return None,
                },
                Part::Sequence { width: 0 } => {
                    let n = bytes[at..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    if n == 0 || n > 12 {
                        return None;
                    }
                    at + n
                }
                Part::Sequence { width } => digits(at, *width)?,
            };
        }
        Some(at)
    }
}

impl Default for ChronoFormat {
    fn default() -> Self {
        ChronoFormat {
            pattern: Self::DEFAULT.to_owned(),
            parts: vec![
                Part::Year,
                Part::Literal("-".to_owned()),
                Part::Direction,
                Part::Literal("-".to_owned()),
                Part::Sequence { width: 6 },
            ],
        }
    }
}

impl TryFrom<String> for ChronoFormat {
    type Error = InvalidChronoFormat;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ChronoFormat::parse(&s)
    }
}

impl From<ChronoFormat> for String {
    fn from(f: ChronoFormat) -> String {
        f.pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_in_a_reply() {
        let f = ChronoFormat::default();
        assert_eq!(
            f.find_in("RE: Votre courrier 2026-A-000123 (et 2026-d-000007), pas X2026-A-000001"),
            vec!["2026-A-000123".to_owned(), "2026-d-000007".to_owned()]
        );
        assert!(
            f.find_in("2026-A-00012 ou 2026-A-0001234 ou rien")
                .is_empty()
        );
        let custom = ChronoFormat::parse("CH{yy}/{dir}{seq}").unwrap();
        assert_eq!(
            custom.find_in("réf. CH26/A42."),
            vec!["CH26/A42".to_owned()]
        );
        assert!(custom.find_in("é à ü").is_empty());
    }

    #[test]
    fn default_format_matches_the_issue() {
        let f = ChronoFormat::default();
        assert_eq!(f, ChronoFormat::parse(ChronoFormat::DEFAULT).unwrap());
        assert_eq!(
            f.format(2026, Direction::Incoming, 42).text,
            "2026-A-000042"
        );
        assert_eq!(f.format(2026, Direction::Outgoing, 1).text, "2026-D-000001");
        assert_eq!(f.format(2026, Direction::Internal, 7).text, "2026-I-000007");
    }

    #[test]
    fn maarch_style_format() {
        let f = ChronoFormat::parse("MAIRIE/{year}{dir}/{seq}").unwrap();
        assert_eq!(
            f.format(2026, Direction::Incoming, 42).text,
            "MAIRIE/2026A/42"
        );
        let f = ChronoFormat::parse("{dir}{yy}-{seq:4}").unwrap();
        assert_eq!(f.format(2031, Direction::Outgoing, 5).text, "D31-0005");
    }

    #[test]
    fn invalid_formats_are_refused_with_a_reason() {
        for bad in [
            "",
            "{year}-{dir}",
            "{year}-{seq}",
            "{dir}-{seq}",
            "{year}-{dir}-{seq}-{seq}",
            "{year}-{dir}-{seq:0}",
            "{year}-{dir}-{seq:x}",
            "{year}-{dir}-{seq",
            "{year}-{dir}-{sequence}",
            "{year}}-{dir}-{seq}",
        ] {
            let err = ChronoFormat::parse(bad).expect_err(bad);
            assert!(!err.reason.is_empty());
        }
    }
}
