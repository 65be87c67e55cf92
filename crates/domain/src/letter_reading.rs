//! What a letter's text says about itself (issue 17, "the secrétaire's letter in 30
//! seconds"): the date it was written, its subject (the "Objet :" line) and who wrote it (the
//! sender's block at the top). Read from the scan's text layer or OCR, and only ever
//! *suggested*: the registration form fills its empty fields with them, marked as read from
//! the document, and the person confirms or corrects.
//!
//! French letters follow a stable layout (the sender's block top left, the addressee's top
//! right, "Ville, le 3 décembre 2026", "Objet : …", "Madame, Monsieur,"), which is what this
//! relies on; anything unsure is left out rather than guessed.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// Lower case without French accents, punctuation kept ("Objet :", "02/11/2026" and
/// "Madame, Monsieur," must survive; `contact::fold` removes punctuation).
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'ç' => 'c',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ÿ' => 'y',
            // Non-breaking spaces (before ":" in French typography).
            '\u{a0}' | '\u{202f}' => ' ',
            c => c,
        })
        .collect()
}

/// What was read; each part is absent when the text does not say it clearly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LetterReading {
    pub letter_date: Option<NaiveDate>,
    pub subject: Option<String>,
    pub sender: Option<String>,
}

impl LetterReading {
    pub fn is_empty(&self) -> bool {
        self.letter_date.is_none() && self.subject.is_none() && self.sender.is_none()
    }
}

/// The lines looked at for the date and the sender: a letter's head.
const HEAD_LINES: usize = 30;
/// A subject longer than this is not a subject line but a paragraph.
const MAX_SUBJECT_CHARS: usize = 200;
/// A letter written more than this long before it arrived is more likely a date quoted in
/// its text (a decision, a birth) than its own.
const OLDEST_LETTER_DAYS: i64 = 2 * 366;

const MONTHS: [&str; 12] = [
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
];

/// Reads `text` (a letter's extracted text); `today` bounds the plausible dates.
pub fn read_letter(text: &str, today: NaiveDate) -> LetterReading {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let head = &lines[..lines.len().min(HEAD_LINES)];
    LetterReading {
        letter_date: head
            .iter()
            .filter_map(|l| date_in(l))
            .find(|d| *d <= today && (today - *d).num_days() <= OLDEST_LETTER_DAYS),
        subject: subject_in(&lines),
        sender: sender_in(head),
    }
}

/// The subject: what follows "Objet :" (or "Object :", "Réf. objet :"), on its line or the next.
fn subject_in(lines: &[&str]) -> Option<String> {
    for (i, line) in lines.iter().enumerate() {
        let folded = fold(line);
        let Some(at) = folded.find("objet") else {
            continue;
        };
        // "Objet" must open the line (after an optional "Réf." or bullet), and be followed
        // by a colon.
        if folded[..at].chars().any(char::is_alphanumeric) && !folded[..at].starts_with("ref") {
            continue;
        }
        let after = folded[at + "objet".len()..].trim_start();
        if !after.starts_with(':') {
            continue;
        }
        // The same position in the original line: `fold` keeps one character per character
        // for the letters of "objet" and the colon, but not always before them (œ): cut at
        // the first colon of the original instead.
        let rest = line.split_once(':').map_or("", |(_, r)| r).trim();
        let subject = if rest.is_empty() {
            lines.get(i + 1).copied().unwrap_or("").trim()
        } else {
            rest
        };
        let subject = subject.trim_end_matches(['.', ';', ',']).trim();
        if !subject.is_empty() && subject.chars().count() <= MAX_SUBJECT_CHARS {
            return Some(subject.to_owned());
        }
    }
    None
}

/// The first date of a line: "le 3 décembre 2026", "1er mars 2026", "03/12/2026",
/// "3.12.2026".
fn date_in(line: &str) -> Option<NaiveDate> {
    let folded = fold(line);
    let words: Vec<&str> = folded
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        if let Some(date) = numeric_date(word) {
            return Some(date);
        }
        let Some(month) = MONTHS.iter().position(|m| word == m) else {
            continue;
        };
        let day = i
            .checked_sub(1)
            .and_then(|j| words.get(j))
            .map(|d| d.trim_end_matches("er"))
            .and_then(|d| d.parse::<u32>().ok());
        let year = words.get(i + 1).and_then(|y| {
            y.trim_end_matches(['.', ')'])
                .parse::<i32>()
                .ok()
                .filter(|y| (1900..=2999).contains(y))
        });
        if let (Some(day), Some(year)) = (day, year)
            && let Some(date) = NaiveDate::from_ymd_opt(year, month as u32 + 1, day)
        {
            return Some(date);
        }
    }
    None
}

/// "03/12/2026", "3-12-2026", "03.12.2026" (day first, as in France).
fn numeric_date(word: &str) -> Option<NaiveDate> {
    let word = word.trim_end_matches(['.', ')', ';']);
    let parts: Vec<&str> = word.split(['/', '-', '.']).collect();
    let [d, m, y] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    (date.year() >= 1900).then_some(date)
}

/// Words that mark a line as the mairie's (the addressee), a salutation or a heading, not
/// the sender's name.
const NOT_A_SENDER: [&str; 16] = [
    "maire",
    "mairie",
    "commune",
    "objet",
    "madame, monsieur",
    "monsieur le",
    "madame la",
    "a l'attention",
    "lettre recommandee",
    "reference",
    "ref.",
    "tel.",
    "tel :",
    "telephone",
    "courriel",
    "@",
];

const TITLES: [&str; 7] = [
    "monsieur ",
    "madame ",
    "mademoiselle ",
    "mme ",
    "mlle ",
    "m. ",
    "mr ",
];

/// The sender: a titled name ("Mme Jeanne Martin") in the letter's head, else the head's
/// first line when it reads as a name ("Jeanne Martin", "Club de tennis de Montbazon").
fn sender_in(head: &[&str]) -> Option<String> {
    // The head before the date and subject lines: after them comes the body.
    let before_body: Vec<&str> = head
        .iter()
        .take_while(|l| date_in(l).is_none() && !fold(l).starts_with("objet"))
        .copied()
        .collect();
    let plausible = |line: &str| {
        let folded = fold(line);
        let words = line.split_whitespace().count();
        (2..=6).contains(&words)
            && !NOT_A_SENDER.iter().any(|w| folded.contains(w))
            && !line.chars().any(|c| c.is_ascii_digit())
            && line.chars().filter(|c| c.is_alphabetic()).count() >= 4
    };
    for line in &before_body {
        let folded = format!("{} ", fold(line));
        if let Some(title) = TITLES.iter().find(|t| folded.starts_with(**t)) {
            // Cut by characters: the text comes from OCR, anything may be in it.
            let skip = title.trim_end().chars().count();
            let name = line
                .char_indices()
                .nth(skip)
                .map_or("", |(at, _)| &line[at..])
                .trim_start_matches('.')
                .trim();
            if plausible(&format!("x {name}")) && name.split_whitespace().count() >= 1 {
                return Some(name.to_owned());
            }
        }
    }
    before_body
        .first()
        .filter(|l| plausible(l))
        .map(|l| (*l).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    const LETTER: &str = "Jeanne Martin
12 rue des Écoles
37250 Montbazon

Monsieur le Maire
Mairie de Montbazon
Place de la Mairie

Montbazon, le 3 décembre 2026

Objet : Demande de réservation de la salle des fêtes

Monsieur le Maire,

Je souhaite réserver la salle des fêtes le 14 février 2027 pour un mariage.
Veuillez agréer, Monsieur le Maire, mes salutations distinguées.

Jeanne Martin";

    #[test]
    fn a_typical_letter_gives_its_date_subject_and_sender() {
        assert_eq!(
            read_letter(LETTER, today()),
            LetterReading {
                letter_date: d(2026, 12, 3),
                subject: Some("Demande de réservation de la salle des fêtes".into()),
                sender: Some("Jeanne Martin".into()),
            }
        );
    }

    #[test]
    fn a_titled_sender_loses_the_title_and_numeric_dates_are_day_first() {
        let text = "Mme Sophie Lambert\n4 allée des Tilleuls\n\nLe 02/11/2026\nOBJET: inscription cantine.\n";
        let read = read_letter(text, today());
        assert_eq!(read.sender.as_deref(), Some("Sophie Lambert"));
        assert_eq!(read.letter_date, d(2026, 11, 2));
        assert_eq!(read.subject.as_deref(), Some("inscription cantine"));
    }

    #[test]
    fn the_subject_may_be_on_the_next_line_and_the_first_of_the_month_is_1er() {
        let text = "Association Les Amis du Vieux Pont\nTours, le 1er mars 2026\nObjet :\nSubvention 2026\n";
        let read = read_letter(text, today());
        assert_eq!(read.subject.as_deref(), Some("Subvention 2026"));
        assert_eq!(read.letter_date, d(2026, 3, 1));
        assert_eq!(
            read.sender.as_deref(),
            Some("Association Les Amis du Vieux Pont")
        );
    }

    #[test]
    fn what_is_unsure_is_left_out() {
        // A date in the future, or years old, is a date quoted in the text, not the letter's.
        let text =
            "Bonjour,\nle mariage aura lieu le 14 février 2027.\nJe suis né le 3 mai 1980.\n";
        let read = read_letter(text, today());
        assert_eq!(read.letter_date, None);
        assert_eq!(read.subject, None);
        // "Bonjour," is one word: not a name.
        assert_eq!(read.sender, None);
        assert!(read_letter("", today()).is_empty());
        // The mairie's own block and the salutation are never the sender.
        let text = "Monsieur le Maire\nMairie de Montbazon\nMadame, Monsieur,\n";
        assert_eq!(read_letter(text, today()).sender, None);
    }

    #[test]
    fn any_text_is_read_without_panicking() {
        for text in [
            "MÂDAME Ä",
            "Mme",
            "M.",
            "Objet",
            "Objet :",
            "le 1er",
            "décembre 2026",
            "ÉÉÉ: ::",
            "İİİ Objet : x",
        ] {
            let _ = read_letter(text, today());
        }
    }

    #[test]
    fn impossible_dates_are_not_dates() {
        assert_eq!(date_in("le 31 février 2026"), None);
        assert_eq!(date_in("31/02/2026"), None);
        assert_eq!(date_in("n° 12/2026"), None);
        assert_eq!(date_in("Montbazon, le 7 décembre 2026."), d(2026, 12, 7));
    }
}
