//! French public holidays and working days.
//!
//! Pure date arithmetic: every function takes its dates as parameters. Silence delays are
//! counted in calendar months (`add_calendar_months`); acknowledgements and internal
//! reminders in working days (`add_working_days`, `sub_working_days`).

use chrono::{Datelike, Months, NaiveDate, TimeDelta, Weekday};
use serde::{Deserialize, Serialize};

/// Which set of public holidays applies to a commune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayZone {
    /// The eleven national holidays.
    Metropole,
    /// Moselle, Bas-Rhin and Haut-Rhin (57, 67, 68): also Good Friday and 26 December.
    AlsaceMoselle,
    /// A commune of those départements without a Protestant temple or a mixed church: Good
    /// Friday is a holiday only "dans les communes ayant un temple protestant ou une église
    /// mixte" (code du travail, L3134-13), 26 December everywhere there. A commune setting.
    AlsaceMoselleWithoutGoodFriday,
    // The overseas territories add the day of the abolition of slavery (loi n° 83-550 du
    // 30 juin 1983, décret n° 83-1003 du 23 novembre 1983 as amended), a public holiday
    // there: without it, their working-day counts are a day short.
    /// Guadeloupe (971): 27 May.
    Guadeloupe,
    /// Martinique (972): 22 May.
    Martinique,
    /// Guyane (973): 10 June.
    Guyane,
    /// La Réunion (974): 20 December.
    LaReunion,
    /// Mayotte (976): 27 April.
    Mayotte,
    /// Saint-Barthélemy (977): 9 October.
    SaintBarthelemy,
    /// Saint-Martin (978): 28 May.
    SaintMartin,
}

impl HolidayZone {
    /// The zone of a département code such as "57", "2A" or "971".
    pub fn for_departement(departement: &str) -> Self {
        match departement {
            "57" | "67" | "68" => HolidayZone::AlsaceMoselle,
            "971" => HolidayZone::Guadeloupe,
            "972" => HolidayZone::Martinique,
            "973" => HolidayZone::Guyane,
            "974" => HolidayZone::LaReunion,
            "976" => HolidayZone::Mayotte,
            "977" => HolidayZone::SaintBarthelemy,
            "978" => HolidayZone::SaintMartin,
            _ => HolidayZone::Metropole,
        }
    }

    /// The day (month, day) of the abolition of slavery, a public holiday in this zone.
    fn abolition_of_slavery(self) -> Option<(u32, u32)> {
        match self {
            HolidayZone::Guadeloupe => Some((5, 27)),
            HolidayZone::Martinique => Some((5, 22)),
            HolidayZone::Guyane => Some((6, 10)),
            HolidayZone::LaReunion => Some((12, 20)),
            HolidayZone::Mayotte => Some((4, 27)),
            HolidayZone::SaintBarthelemy => Some((10, 9)),
            HolidayZone::SaintMartin => Some((5, 28)),
            HolidayZone::Metropole
            | HolidayZone::AlsaceMoselle
            | HolidayZone::AlsaceMoselleWithoutGoodFriday => None,
        }
    }
}

/// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    // Euclidean division keeps the algorithm right for the proleptic calendar's negative
    // years, where `%` would give negative remainders.
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let n = h + l - 7 * m + 114;
    // Always March (3) or April (4), day 1..=31: the casts cannot lose a sign.
    let month = n.div_euclid(31) as u32;
    let day = n.rem_euclid(31) as u32 + 1;
    ymd(year, month, day)
}

/// The public holidays of a year in a zone, sorted by date, with their French names.
///
/// One entry per date: when Ascension falls on 1 May or 8 May (1 May in 2008, 8 May in
/// 2059) the two names are merged, so the list is a set of days off.
pub fn public_holidays(year: i32, zone: HolidayZone) -> Vec<(NaiveDate, &'static str)> {
    let mut days: Vec<_> = holidays_unsorted(year, zone).collect();
    days.sort_by_key(|(date, _)| *date);
    // Overseas, the abolition of slavery can fall on Ascension or Whit Monday (Guyane:
    // Whit Monday 10 June 2030; Martinique: Ascension 22 May 2031): one day off.
    days.dedup_by_key(|(date, _)| *date);
    days
}

/// Whether `date` is a public holiday in `zone`.
pub fn is_public_holiday(date: NaiveDate, zone: HolidayZone) -> bool {
    holidays_unsorted(date.year(), zone).any(|(d, _)| d == date)
}

/// The French name of the public holiday on `date`, if it is one.
pub fn holiday_name(date: NaiveDate, zone: HolidayZone) -> Option<&'static str> {
    holidays_unsorted(date.year(), zone)
        .find(|(d, _)| *d == date)
        .map(|(_, name)| name)
}

/// Monday to Friday and not a public holiday (jour ouvré).
pub fn is_working_day(date: NaiveDate, zone: HolidayZone) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_public_holiday(date, zone)
}

/// The n-th working day strictly after `date` (n = 0 gives `date` itself).
///
/// Saturates at `NaiveDate::MAX` rather than panicking at the end of chrono's range.
pub fn add_working_days(date: NaiveDate, n: u32, zone: HolidayZone) -> NaiveDate {
    step_working_days(date, n, zone, NaiveDate::succ_opt, NaiveDate::MAX)
}

/// The n-th working day strictly before `date` (n = 0 gives `date` itself).
///
/// Saturates at `NaiveDate::MIN`.
pub fn sub_working_days(date: NaiveDate, n: u32, zone: HolidayZone) -> NaiveDate {
    step_working_days(date, n, zone, NaiveDate::pred_opt, NaiveDate::MIN)
}

/// The same day number `months` calendar months later; where that day does not exist,
/// the last day of that month (31 December + 2 months = end of February).
pub fn add_calendar_months(date: NaiveDate, months: u32) -> NaiveDate {
    // chrono clamps to the last day of the target month, and counts from the original
    // day number (31 Jan + 2 months = 31 Mar, not 28 Feb + 1 month).
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// All holidays of a year, unsorted and without allocating: `is_public_holiday` runs once
/// per day counted, and the list stays in one place for both uses.
fn holidays_unsorted(
    year: i32,
    zone: HolidayZone,
) -> impl Iterator<Item = (NaiveDate, &'static str)> {
    let easter = easter_sunday(year);
    let ascension = shift(easter, 39);
    let may_1 = ymd(year, 5, 1);
    let may_8 = ymd(year, 5, 8);
    // Easter is 22 March..25 April, so Ascension (E+39) is 30 April..3 June and can only
    // meet 1 May or 8 May; the other movable feasts never meet a fixed one.
    let (may_1_name, may_8_name) = if ascension == may_1 {
        ("Fête du Travail et Ascension", "Victoire 1945")
    } else if ascension == may_8 {
        ("Fête du Travail", "Victoire 1945 et Ascension")
    } else {
        ("Fête du Travail", "Victoire 1945")
    };
    let alsace = matches!(
        zone,
        HolidayZone::AlsaceMoselle | HolidayZone::AlsaceMoselleWithoutGoodFriday
    );
    [
        Some((ymd(year, 1, 1), "Jour de l'an")),
        // Local law of Alsace-Moselle (code du travail, L3134-13).
        (zone == HolidayZone::AlsaceMoselle).then(|| (shift(easter, -2), "Vendredi saint")),
        Some((shift(easter, 1), "Lundi de Pâques")),
        Some((may_1, may_1_name)),
        Some((may_8, may_8_name)),
        (ascension != may_1 && ascension != may_8).then_some((ascension, "Ascension")),
        // Some employers work on Whit Monday (journée de solidarité), but it stays a
        // public holiday (code du travail, L3133-1), so administrative working days skip it.
        Some((shift(easter, 50), "Lundi de Pentecôte")),
        Some((ymd(year, 7, 14), "Fête nationale")),
        Some((ymd(year, 8, 15), "Assomption")),
        Some((ymd(year, 11, 1), "Toussaint")),
        Some((ymd(year, 11, 11), "Armistice")),
        Some((ymd(year, 12, 25), "Noël")),
        alsace.then(|| (ymd(year, 12, 26), "Saint-Étienne")),
        zone.abolition_of_slavery()
            .map(|(month, day)| (ymd(year, month, day), "Abolition de l'esclavage")),
    ]
    .into_iter()
    .flatten()
}

fn step_working_days(
    date: NaiveDate,
    n: u32,
    zone: HolidayZone,
    step: fn(&NaiveDate) -> Option<NaiveDate>,
    limit: NaiveDate,
) -> NaiveDate {
    let mut day = date;
    let mut left = n;
    while left > 0 {
        match step(&day) {
            Some(next) => day = next,
            None => return limit,
        }
        if is_working_day(day, zone) {
            left -= 1;
        }
    }
    day
}

/// A valid calendar date; only a year outside chrono's range (about ±262,000) can miss,
/// and then the nearest end of the range is the least surprising answer.
fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(if year < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

/// `date` moved by `days` calendar days, saturating at the ends of chrono's range.
fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(if days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

#[cfg(test)]
mod tests {
    use super::HolidayZone::{AlsaceMoselle, Metropole};
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn overseas_zones_add_the_abolition_of_slavery() {
        use HolidayZone::*;
        for (departement, zone, day) in [
            ("971", Guadeloupe, d(2026, 5, 27)),
            ("972", Martinique, d(2026, 5, 22)),
            ("973", Guyane, d(2026, 6, 10)),
            ("974", LaReunion, d(2026, 12, 20)),
            ("976", Mayotte, d(2026, 4, 27)),
            ("977", SaintBarthelemy, d(2026, 10, 9)),
            ("978", SaintMartin, d(2026, 5, 28)),
        ] {
            assert_eq!(HolidayZone::for_departement(departement), zone);
            assert_eq!(holiday_name(day, zone), Some("Abolition de l'esclavage"));
            assert!(!is_public_holiday(day, Metropole), "{day}");
            assert_eq!(public_holidays(2026, zone).len(), 12, "{zone:?}");
        }
        assert_eq!(HolidayZone::for_departement("975"), Metropole);
        // Guyane 2030: Whit Monday is 10 June, one day off, listed once.
        let days = public_holidays(2030, Guyane);
        assert_eq!(
            days.iter().filter(|(d0, _)| *d0 == d(2030, 6, 10)).count(),
            1
        );
        assert_eq!(days.len(), 11);
        // Wednesday 26 May 2027 + 2 working days in Guadeloupe: Thursday 27 is off.
        assert_eq!(
            add_working_days(d(2027, 5, 26), 2, Guadeloupe),
            d(2027, 5, 31)
        );
        assert_eq!(
            add_working_days(d(2027, 5, 26), 2, Metropole),
            d(2027, 5, 28)
        );
    }

    #[test]
    fn easter_matches_published_dates() {
        for (year, expected) in [
            (2024, d(2024, 3, 31)),
            (2025, d(2025, 4, 20)),
            (2026, d(2026, 4, 5)),
            (2027, d(2027, 3, 28)),
            (2038, d(2038, 4, 25)), // latest possible date
            (2285, d(2285, 3, 22)), // earliest possible date
            (2000, d(2000, 4, 23)), // century year that is a leap year
            (2100, d(2100, 3, 28)), // century year that is not
            (2019, d(2019, 4, 21)),
            (2008, d(2008, 3, 23)),
            (2011, d(2011, 4, 24)),
            (1943, d(1943, 4, 25)),
            (1818, d(1818, 3, 22)),
            (1583, d(1583, 4, 10)), // first full Gregorian year
        ] {
            assert_eq!(easter_sunday(year), expected, "Easter {year}");
        }
    }

    #[test]
    fn easter_is_always_a_sunday_between_22_march_and_25_april() {
        for year in 1583..=4099 {
            let e = easter_sunday(year);
            assert_eq!(e.weekday(), Weekday::Sun, "{year}");
            assert!(e >= d(year, 3, 22) && e <= d(year, 4, 25), "{year}: {e}");
        }
    }

    #[test]
    fn holidays_2026_metropole() {
        // Easter 2026 is Sunday 5 April.
        assert_eq!(
            public_holidays(2026, Metropole),
            vec![
                (d(2026, 1, 1), "Jour de l'an"),
                (d(2026, 4, 6), "Lundi de Pâques"), // E+1
                (d(2026, 5, 1), "Fête du Travail"),
                (d(2026, 5, 8), "Victoire 1945"),
                (d(2026, 5, 14), "Ascension"), // E+39, a Thursday
                (d(2026, 5, 25), "Lundi de Pentecôte"), // E+50
                (d(2026, 7, 14), "Fête nationale"),
                (d(2026, 8, 15), "Assomption"),
                (d(2026, 11, 1), "Toussaint"),
                (d(2026, 11, 11), "Armistice"),
                (d(2026, 12, 25), "Noël"),
            ]
        );
    }

    #[test]
    fn holidays_2026_alsace_moselle() {
        assert_eq!(
            public_holidays(2026, AlsaceMoselle),
            vec![
                (d(2026, 1, 1), "Jour de l'an"),
                (d(2026, 4, 3), "Vendredi saint"), // E-2
                (d(2026, 4, 6), "Lundi de Pâques"),
                (d(2026, 5, 1), "Fête du Travail"),
                (d(2026, 5, 8), "Victoire 1945"),
                (d(2026, 5, 14), "Ascension"),
                (d(2026, 5, 25), "Lundi de Pentecôte"),
                (d(2026, 7, 14), "Fête nationale"),
                (d(2026, 8, 15), "Assomption"),
                (d(2026, 11, 1), "Toussaint"),
                (d(2026, 11, 11), "Armistice"),
                (d(2026, 12, 25), "Noël"),
                (d(2026, 12, 26), "Saint-Étienne"),
            ]
        );
    }

    #[test]
    fn ascension_on_1_may_2008_is_merged() {
        // Easter 2008 was 23 March, so Ascension (E+39) fell on Thursday 1 May.
        let days = public_holidays(2008, Metropole);
        assert_eq!(days.len(), 10);
        assert!(days.contains(&(d(2008, 5, 1), "Fête du Travail et Ascension")));
        assert!(days.contains(&(d(2008, 5, 8), "Victoire 1945")));
        assert!(days.contains(&(d(2008, 5, 12), "Lundi de Pentecôte"))); // E+50
        assert!(is_public_holiday(d(2008, 5, 1), Metropole));
        assert!(!is_working_day(d(2008, 5, 1), Metropole));
        // The Friday after is an ordinary working day.
        assert!(is_working_day(d(2008, 5, 2), Metropole));
        assert_eq!(public_holidays(2008, AlsaceMoselle).len(), 12);
    }

    #[test]
    fn ascension_on_8_may_2059_is_merged() {
        // Easter 2059 is 30 March, so Ascension (E+39) falls on Thursday 8 May.
        let days = public_holidays(2059, Metropole);
        assert_eq!(days.len(), 10);
        assert!(days.contains(&(d(2059, 5, 8), "Victoire 1945 et Ascension")));
        assert!(days.contains(&(d(2059, 5, 1), "Fête du Travail")));
        assert_eq!(
            holiday_name(d(2059, 5, 8), Metropole),
            Some("Victoire 1945 et Ascension")
        );
        assert!(is_public_holiday(d(2059, 5, 8), AlsaceMoselle));
    }

    #[test]
    fn holiday_lists_are_sorted_sets_within_the_year() {
        for year in 1583..=2600 {
            for (zone, full) in [(Metropole, 11), (AlsaceMoselle, 13)] {
                let days = public_holidays(year, zone);
                assert!(days.windows(2).all(|w| w[0].0 < w[1].0), "{year} {zone:?}");
                assert!(days.iter().all(|(date, _)| date.year() == year));
                let asc = easter_sunday(year) + TimeDelta::days(39);
                let merged = asc == d(year, 5, 1) || asc == d(year, 5, 8);
                assert_eq!(days.len(), if merged { full - 1 } else { full }, "{year}");
                for (date, name) in &days {
                    assert!(is_public_holiday(*date, zone));
                    assert_eq!(holiday_name(*date, zone), Some(*name));
                }
            }
        }
    }

    #[test]
    fn working_days() {
        for (date, zone, expected) in [
            (d(2026, 1, 9), Metropole, true),        // an ordinary Friday
            (d(2026, 1, 10), Metropole, false),      // Saturday
            (d(2026, 1, 11), Metropole, false),      // Sunday
            (d(2026, 1, 1), Metropole, false),       // Jour de l'an, a Thursday
            (d(2026, 4, 3), Metropole, true),        // Good Friday outside Alsace-Moselle
            (d(2026, 4, 3), AlsaceMoselle, false),   // Good Friday in Alsace-Moselle
            (d(2026, 4, 6), Metropole, false),       // Easter Monday
            (d(2026, 5, 14), Metropole, false),      // Ascension Thursday
            (d(2026, 5, 15), Metropole, true),       // the Friday after Ascension
            (d(2026, 5, 25), Metropole, false),      // Whit Monday stays a holiday
            (d(2025, 12, 26), Metropole, true),      // 26 Dec (Friday) outside Alsace-Moselle
            (d(2025, 12, 26), AlsaceMoselle, false), // Saint-Étienne in Alsace-Moselle
            (d(2026, 8, 15), Metropole, false),      // Assomption on a Saturday: weekend anyway
        ] {
            assert_eq!(is_working_day(date, zone), expected, "{date} {zone:?}");
        }
    }

    #[test]
    fn adding_working_days() {
        for (start, n, zone, expected) in [
            (d(2026, 1, 9), 0, Metropole, d(2026, 1, 9)), // n = 0 is the date itself
            (d(2026, 1, 10), 0, Metropole, d(2026, 1, 10)), // even on a Saturday
            (d(2026, 1, 9), 1, Metropole, d(2026, 1, 12)), // Fri + 1: skip Sat 10, Sun 11
            (d(2026, 1, 10), 1, Metropole, d(2026, 1, 12)), // Sat + 1: Mon 12
            (d(2026, 1, 12), 5, Metropole, d(2026, 1, 19)), // a full week
            (d(2025, 12, 31), 1, Metropole, d(2026, 1, 2)), // skip Jour de l'an (Thu 1)
            // Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr.
            (d(2026, 4, 2), 1, Metropole, d(2026, 4, 3)), // Good Friday works here
            (d(2026, 4, 3), 1, Metropole, d(2026, 4, 7)), // skip Sat 4, Sun 5, Mon 6
            (d(2026, 4, 2), 1, AlsaceMoselle, d(2026, 4, 7)), // skip Fri 3 to Mon 6
            (d(2026, 4, 2), 2, AlsaceMoselle, d(2026, 4, 8)), // Tue 7 (1), Wed 8 (2)
            // Ascension Thu 14 May 2026; the Friday after it is a working day.
            (d(2026, 5, 13), 1, Metropole, d(2026, 5, 15)), // skip Thu 14
            (d(2026, 5, 13), 2, Metropole, d(2026, 5, 18)), // Fri 15 (1), Mon 18 (2)
            (d(2026, 5, 7), 1, Metropole, d(2026, 5, 11)),  // skip Fri 8 May, Sat, Sun
            (d(2026, 5, 22), 1, Metropole, d(2026, 5, 26)), // skip Whit Monday 25
            (d(2026, 7, 13), 1, Metropole, d(2026, 7, 15)), // skip Tue 14 Jul
            // Mon 4 May: 5 (1), 6 (2), 7 (3), Fri 8 holiday, 11 (4), 12 (5), 13 (6),
            // Thu 14 Ascension, 15 (7), 18 (8), 19 (9), 20 (10).
            (d(2026, 5, 4), 10, Metropole, d(2026, 5, 20)), // two holidays crossed
            // Christmas 2025: Thu 25, Fri 26.
            (d(2025, 12, 24), 1, Metropole, d(2025, 12, 26)), // skip Thu 25 only
            (d(2025, 12, 24), 1, AlsaceMoselle, d(2025, 12, 29)), // skip 25, 26, weekend
            (d(2025, 12, 23), 2, Metropole, d(2025, 12, 26)), // Wed 24 (1), Fri 26 (2)
            (d(2025, 12, 23), 2, AlsaceMoselle, d(2025, 12, 29)), // Wed 24 (1), Mon 29 (2)
            // Christmas 2026 is a Friday and 26 Dec a Saturday: both zones agree.
            (d(2026, 12, 24), 1, Metropole, d(2026, 12, 28)), // skip Fri 25, weekend
            (d(2026, 12, 24), 1, AlsaceMoselle, d(2026, 12, 28)), // 26 Dec is Saturday
        ] {
            assert_eq!(
                add_working_days(start, n, zone),
                expected,
                "{start} + {n} {zone:?}"
            );
        }
    }

    #[test]
    fn subtracting_working_days() {
        for (start, n, zone, expected) in [
            (d(2026, 1, 12), 0, Metropole, d(2026, 1, 12)), // n = 0 is the date itself
            (d(2026, 1, 12), 1, Metropole, d(2026, 1, 9)),  // Mon - 1: Fri 9
            (d(2026, 3, 14), 1, Metropole, d(2026, 3, 13)), // Sat - 1: Fri 13
            (d(2026, 4, 7), 1, Metropole, d(2026, 4, 3)),   // skip Easter Monday, weekend
            (d(2026, 4, 7), 1, AlsaceMoselle, d(2026, 4, 2)), // also skip Good Friday
            (d(2026, 5, 15), 1, Metropole, d(2026, 5, 13)), // skip Ascension Thu 14
            (d(2025, 12, 29), 1, Metropole, d(2025, 12, 26)), // Fri 26 works here
            (d(2025, 12, 29), 1, AlsaceMoselle, d(2025, 12, 24)), // skip 26, 25
            (d(2026, 1, 2), 1, Metropole, d(2025, 12, 31)), // skip Jour de l'an
        ] {
            assert_eq!(
                sub_working_days(start, n, zone),
                expected,
                "{start} - {n} {zone:?}"
            );
        }
    }

    #[test]
    fn working_day_steps_are_consistent() {
        // Over several years and both zones: the result is a working day, nothing between
        // counts, and going back n working days from a working day returns to it.
        let mut day = d(2024, 12, 1);
        while day <= d(2029, 1, 31) {
            for zone in [Metropole, AlsaceMoselle] {
                for n in 1..=12 {
                    let later = add_working_days(day, n, zone);
                    assert!(is_working_day(later, zone), "{day} + {n}");
                    let counted = day
                        .iter_days()
                        .skip(1)
                        .take_while(|x| *x <= later)
                        .filter(|x| is_working_day(*x, zone))
                        .count();
                    assert_eq!(counted, n as usize, "{day} + {n} {zone:?}");
                    if is_working_day(day, zone) {
                        assert_eq!(sub_working_days(later, n, zone), day);
                    }
                }
            }
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn working_day_steps_saturate_at_the_ends_of_the_range() {
        assert_eq!(
            add_working_days(NaiveDate::MAX, 1, Metropole),
            NaiveDate::MAX
        );
        assert_eq!(
            sub_working_days(NaiveDate::MIN, 1, Metropole),
            NaiveDate::MIN
        );
        assert_eq!(add_calendar_months(NaiveDate::MAX, 1), NaiveDate::MAX);
    }

    #[test]
    fn adding_calendar_months() {
        for (start, months, expected) in [
            (d(2026, 2, 1), 2, d(2026, 4, 1)), // same day number (DOMAIN: 1 Feb -> 1 Apr)
            (d(2026, 1, 31), 1, d(2026, 2, 28)), // no 31 Feb: last day, common year
            (d(2028, 1, 31), 1, d(2028, 2, 29)), // no 31 Feb: last day, leap year 2028
            (d(2025, 12, 30), 2, d(2026, 2, 28)), // no 30 Feb: last day
            (d(2027, 12, 31), 2, d(2028, 2, 29)), // no 31 Feb: last day, leap year 2028
            (d(2026, 1, 30), 1, d(2026, 2, 28)), // no 30 Feb: last day
            (d(2026, 3, 31), 1, d(2026, 4, 30)), // no 31 Apr: last day
            (d(2026, 8, 31), 1, d(2026, 9, 30)), // no 31 Sep: last day
            (d(2028, 2, 29), 12, d(2029, 2, 28)), // no 29 Feb in 2029: last day
            (d(2028, 2, 29), 48, d(2032, 2, 29)), // 2032 is a leap year again
            (d(2026, 11, 15), 2, d(2027, 1, 15)), // across the new year
            (d(2026, 1, 31), 2, d(2026, 3, 31)), // counted from 31, not from 28 Feb
            (d(2026, 10, 31), 4, d(2027, 2, 28)), // no 31 Feb 2027: last day
            (d(2026, 5, 14), 0, d(2026, 5, 14)), // zero months is the date itself
        ] {
            assert_eq!(
                add_calendar_months(start, months),
                expected,
                "{start} + {months}"
            );
        }
    }

    #[test]
    fn zones_of_departements() {
        for (code, zone) in [
            ("57", AlsaceMoselle),
            ("67", AlsaceMoselle),
            ("68", AlsaceMoselle),
            ("75", Metropole),
            ("2A", Metropole),
            ("971", HolidayZone::Guadeloupe),
            ("975", Metropole),
        ] {
            assert_eq!(HolidayZone::for_departement(code), zone, "{code}");
        }
    }
}
