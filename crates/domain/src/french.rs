//! Dates, times and names as French prose writes them.
//!
//! Letters, acknowledgements and alerts quote dates in full ("1er février 2026"): a numeric
//! date is ambiguous to a reader abroad and looks like a form, and the first of the month is
//! written as an ordinal ("1er"), every other day as a cardinal.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

/// Month names, January first, lower case as French writes them inside a sentence.
pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// Weekday names, Monday first (chrono's `num_days_from_monday`).
pub const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

/// The French name of the month of `d`: "février".
pub fn month_name(d: NaiveDate) -> &'static str {
    // month0 is 0..=11 by construction, so the index is always in range.
    MONTHS.get(d.month0() as usize).copied().unwrap_or("")
}

/// The French name of the weekday of `d`: "mardi".
pub fn weekday_name(d: NaiveDate) -> &'static str {
    WEEKDAYS
        .get(d.weekday().num_days_from_monday() as usize)
        .copied()
        .unwrap_or("")
}

/// "1er février 2026", "3 février 2026": a date in a French sentence.
pub fn long_date(d: NaiveDate) -> String {
    let day = match d.day() {
        1 => "1er".to_owned(),
        n => n.to_string(),
    };
    format!("{day} {} {}", month_name(d), d.year())
}

/// "mardi 3 février 2026": a date with its weekday, for a day someone must act on.
pub fn weekday_date(d: NaiveDate) -> String {
    format!("{} {}", weekday_name(d), long_date(d))
}

/// "14 h 05", "9 h 00": a time of day as French typography writes it.
pub fn time_of_day(t: NaiveTime) -> String {
    format!("{} h {:02}", t.hour(), t.minute())
}

/// "de Paris", "d'Orléans", "du Havre", "des Andelys", "de La Rochelle": the name of a
/// commune after "de", with the contractions French requires ("commune du Havre", never
/// "commune de Le Havre").
///
/// An initial "H" is left alone ("de Hautefort"): whether it is mute cannot be told from the
/// spelling, and "de" is never wrong enough to confuse a reader.
pub fn of_name(name: &str) -> String {
    let name = name.trim();
    if let Some(rest) = name.strip_prefix("Le ") {
        return format!("du {rest}");
    }
    if let Some(rest) = name.strip_prefix("Les ") {
        return format!("des {rest}");
    }
    let starts_with_vowel = name.chars().next().is_some_and(|c| {
        "AEIOUYÂÀÉÈÊËÎÏÔÛÙÜaeiouyâàéèêëîïôûùü"
            .chars()
            .any(|v| v == c)
    });
    if starts_with_vowel {
        format!("d'{name}")
    } else {
        format!("de {name}")
    }
}

/// "Le registre est occupé": a message as a sentence, its first letter a capital.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "0 demande", "1 demande", "3 demandes": a count and its noun, singular below 2 as French
/// counts. `plural` is given whole for nouns that do not take an s ("travaux", "avis").
/// Any integer type: the command line counts in `u64` and `i64` as well as `usize`.
pub fn count<N>(n: N, singular: &str, plural: &str) -> String
where
    N: Copy + std::fmt::Display + TryInto<i128>,
{
    let many = n.try_into().is_ok_and(|n: i128| n >= 2);
    format!("{n} {}", if many { plural } else { singular })
}

/// A key that sorts French names as a reader expects: accents and case do not count
/// ("Émile" between "Dupont" and "Fabre", not after "Zoé"); the name itself breaks ties.
pub fn sort_key(name: &str) -> (String, String) {
    (crate::contact::fold(name), name.to_owned())
}

/// "Madame", "Monsieur", or "Madame, Monsieur" when the civility is unknown: how a letter
/// or an email addresses its reader (followed by a comma as it opens, and repeated in the
/// closing formula).
pub fn salutation(civility: Option<&str>) -> String {
    match civility.map(str::trim) {
        Some(c) if !c.is_empty() => c.to_owned(),
        _ => "Madame, Monsieur".to_owned(),
    }
}

/// How long ago, as a person says it: "40 s", "12 min", "3 h", "1 jour", "5 jours".
pub fn elapsed(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h", seconds / 3600),
        86400..172800 => "1 jour".to_owned(),
        _ => format!("{} jours", seconds / 86400),
    }
}

/// A size in French binary units: `"512 octets"`, `"1,5 Ko"`, `"64 Mo"`, `"1,2 Go"`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["Ko", "Mo", "Go", "To"];
    if bytes < 1024 {
        return format!("{} octet{}", bytes, if bytes > 1 { "s" } else { "" });
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let rounded = (value * 10.0).round() / 10.0;
    let s = if rounded.fract() == 0.0 || rounded >= 100.0 {
        format!("{}", rounded.round() as u64)
    } else {
        format!("{rounded:.1}").replace('.', ",")
    };
    format!("{s} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_counts_and_sorting() {
        assert_eq!(sentence("introuvable : rien"), "Introuvable : rien");
        assert_eq!(sentence("échec"), "Échec");
        assert_eq!(sentence(""), "");
        assert_eq!(count(0, "demande", "demandes"), "0 demande");
        assert_eq!(count(1, "demande", "demandes"), "1 demande");
        assert_eq!(count(2, "demande", "demandes"), "2 demandes");
        let mut names = vec!["Zoé Abel", "Émile Bernard", "Dupont", "eric", "Fabre"];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(
            names,
            ["Dupont", "Émile Bernard", "eric", "Fabre", "Zoé Abel"]
        );
    }

    #[test]
    fn the_salutation_follows_the_civility() {
        assert_eq!(salutation(Some("Monsieur")), "Monsieur");
        assert_eq!(salutation(Some("Madame")), "Madame");
        assert_eq!(salutation(Some(" ")), "Madame, Monsieur");
        assert_eq!(salutation(None), "Madame, Monsieur");
    }

    #[test]
    fn sizes_in_french_units() {
        assert_eq!(size(0), "0 octet");
        assert_eq!(size(1), "1 octet");
        assert_eq!(size(512), "512 octets");
        assert_eq!(size(1536), "1,5 Ko");
        assert_eq!(elapsed(chrono::Duration::seconds(40)), "40 s");
        assert_eq!(elapsed(chrono::Duration::minutes(125)), "2 h");
        assert_eq!(elapsed(chrono::Duration::hours(30)), "1 jour");
        assert_eq!(elapsed(chrono::Duration::days(3)), "3 jours");
        assert_eq!(elapsed(chrono::Duration::seconds(-5)), "0 s");
        assert_eq!(size(20 * 1024 * 1024), "20 Mo");
        assert_eq!(size(1_288_490_189), "1,2 Go");
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn long_dates() {
        assert_eq!(long_date(d(2026, 2, 1)), "1er février 2026");
        assert_eq!(long_date(d(2026, 2, 3)), "3 février 2026");
        assert_eq!(long_date(d(2026, 8, 31)), "31 août 2026");
        assert_eq!(long_date(d(2028, 2, 29)), "29 février 2028");
        assert_eq!(long_date(d(2025, 12, 11)), "11 décembre 2025");
        // Every month has its name.
        for m in 1..=12 {
            assert!(!month_name(d(2026, m, 1)).is_empty());
        }
    }

    #[test]
    fn weekday_dates() {
        assert_eq!(weekday_date(d(2026, 2, 3)), "mardi 3 février 2026");
        assert_eq!(weekday_date(d(2026, 3, 1)), "dimanche 1er mars 2026");
        assert_eq!(weekday_date(d(2026, 7, 13)), "lundi 13 juillet 2026");
    }

    #[test]
    fn times() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 59).unwrap();
        assert_eq!(time_of_day(t(14, 5)), "14 h 05");
        assert_eq!(time_of_day(t(9, 0)), "9 h 00");
        assert_eq!(time_of_day(t(0, 30)), "0 h 30");
    }

    #[test]
    fn names_after_de() {
        assert_eq!(of_name("Paris"), "de Paris");
        assert_eq!(of_name("Orléans"), "d'Orléans");
        assert_eq!(of_name("Le Havre"), "du Havre");
        assert_eq!(of_name("Les Andelys"), "des Andelys");
        assert_eq!(of_name("La Rochelle"), "de La Rochelle");
        assert_eq!(of_name("L'Isle-Adam"), "de L'Isle-Adam");
        assert_eq!(of_name("Évry"), "d'Évry");
        assert_eq!(of_name("Yvetot"), "d'Yvetot");
        assert_eq!(of_name("Hautefort"), "de Hautefort");
        assert_eq!(of_name(" Metz "), "de Metz");
    }
}
