//! The legal local date of an instant, per commune.
//!
//! Dates in the register (arrival, due, silence) are civil dates where the commune is. Metropolitan
//! France follows the EU summer-time rule (UTC+1, UTC+2 from the last Sunday of March to the last
//! Sunday of October, switching at 01:00 UTC); overseas départements keep a fixed offset, except
//! Saint-Pierre-et-Miquelon, which follows the North American rule. Encoded here rather than with a
//! time-zone database: these rules are stable and this keeps the domain free of data files.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// The last `weekday` of a month.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let next_month = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let mut day = next_month
        .unwrap_or(NaiveDate::MAX)
        .pred_opt()
        .unwrap_or(NaiveDate::MIN);
    while day.weekday() != weekday {
        day = day.pred_opt().unwrap_or(NaiveDate::MIN);
    }
    day
}

/// The n-th `weekday` of a month (n from 1).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap_or(NaiveDate::MIN)
}

fn at_utc(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

/// Offset from UTC, in minutes, of the commune's legal time at `now`.
pub fn utc_offset_minutes(now: DateTime<Utc>, departement: &str) -> i64 {
    let year = now.year();
    match departement {
        "971" | "972" | "977" | "978" => -4 * 60, // Guadeloupe, Martinique, St-Barthélemy, St-Martin
        "973" => -3 * 60,                         // Guyane
        "974" => 4 * 60,                          // La Réunion
        "976" => 3 * 60,                          // Mayotte
        "975" => {
            // Saint-Pierre-et-Miquelon: UTC-3, UTC-2 from the 2nd Sunday of March 05:00 UTC
            // to the 1st Sunday of November 04:00 UTC.
            let start = at_utc(nth_weekday(year, 3, Weekday::Sun, 2), 5);
            let end = at_utc(nth_weekday(year, 11, Weekday::Sun, 1), 4);
            if now >= start && now < end {
                -2 * 60
            } else {
                -3 * 60
            }
        }
        "986" => 12 * 60,  // Wallis-et-Futuna
        "987" => -10 * 60, // Polynésie (Tahiti)
        "988" => 11 * 60,  // Nouvelle-Calédonie
        _ => {
            let start = at_utc(last_weekday(year, 3, Weekday::Sun), 1);
            let end = at_utc(last_weekday(year, 10, Weekday::Sun), 1);
            if now >= start && now < end { 120 } else { 60 }
        }
    }
}

/// The civil date at the commune at instant `now`.
pub fn local_date(now: DateTime<Utc>, departement: &str) -> NaiveDate {
    (now + Duration::minutes(utc_offset_minutes(now, departement))).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn metropolitan_dates_follow_summer_time() {
        // Winter, UTC+1: 23:30 UTC on 31 December is already New Year's Day in Paris.
        assert_eq!(local_date(utc(2025, 12, 31, 23, 30), "01"), day(2026, 1, 1));
        assert_eq!(
            local_date(utc(2025, 12, 31, 22, 59), "01"),
            day(2025, 12, 31)
        );
        // Summer, UTC+2: 22:30 UTC on 30 June is 00:30 on 1 July.
        assert_eq!(local_date(utc(2026, 6, 30, 22, 30), "57"), day(2026, 7, 1));
        // 2026 switches on Sunday 29 March at 01:00 UTC and Sunday 25 October at 01:00 UTC.
        assert_eq!(utc_offset_minutes(utc(2026, 3, 29, 0, 59), "75"), 60);
        assert_eq!(utc_offset_minutes(utc(2026, 3, 29, 1, 0), "75"), 120);
        assert_eq!(utc_offset_minutes(utc(2026, 10, 25, 0, 59), "75"), 120);
        assert_eq!(utc_offset_minutes(utc(2026, 10, 25, 1, 0), "75"), 60);
    }

    #[test]
    fn overseas_offsets() {
        // 02:00 UTC on 1 March is still 28 February in Guadeloupe (UTC-4)…
        assert_eq!(local_date(utc(2026, 3, 1, 2, 0), "971"), day(2026, 2, 28));
        // …and already 06:00 on 1 March in La Réunion (UTC+4).
        assert_eq!(local_date(utc(2026, 2, 28, 21, 0), "974"), day(2026, 3, 1));
        // Saint-Pierre-et-Miquelon: summer time from Sunday 8 March 2026.
        assert_eq!(utc_offset_minutes(utc(2026, 3, 8, 4, 59), "975"), -180);
        assert_eq!(utc_offset_minutes(utc(2026, 3, 8, 5, 0), "975"), -120);
    }
}
