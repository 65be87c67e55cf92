//! A scan's text, as tesseract or a PDF's text layer gives it, read for the letter's date,
//! subject and sender (`parapheur_domain::letter_reading`): the text is anybody's, and the
//! reader slices lines by titles and colons, where a multi-byte character must not split.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use parapheur_domain::letter_reading::read_letter;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    let read = read_letter(&text, today);
    if let Some(date) = read.letter_date {
        assert!(date <= today, "a letter dated after today: {date}");
    }
    if let Some(subject) = &read.subject {
        assert!(!subject.is_empty() && subject.chars().count() <= 200);
    }
});
