//! The legal local date of an instant, per commune.
//!
//! Dates in the register (arrival, due, silence) are civil dates where the commune is. Each
//! commune's legal time is an IANA time zone (the tz database, compiled in by `chrono-tz`):
//! by département, and in French Polynesia by commune, since the Marquesas keep UTC-9:30
//! and the Gambier Islands UTC-9 while Tahiti keeps UTC-10. The database carries the
//! summer-time rules (Metropolitan France, Saint-Pierre-et-Miquelon) and their history.

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
pub use chrono_tz::Tz;

/// Metropolitan France's legal time: where no commune says otherwise (a file verified
/// outside any register).
pub const PARIS: Tz = chrono_tz::Europe::Paris;

/// INSEE codes of the communes of the Marquesas Islands (UTC-9:30).
const MARQUESAS: [&str; 6] = [
    "98718", // Fatu-Hiva
    "98723", // Hiva-Oa
    "98731", // Nuku-Hiva
    "98746", // Tahuata
    "98756", // Ua-Huka
    "98757", // Ua-Pou
];
/// INSEE code of the commune of the Gambier Islands (UTC-9).
const GAMBIER: &str = "98719";

/// The legal time zone of the commune `insee` of `departement`.
pub fn time_zone(insee: &str, departement: &str) -> Tz {
    use chrono_tz::{America, Europe, Indian, Pacific};
    match departement {
        "971" => America::Guadeloupe,
        "972" => America::Martinique,
        "973" => America::Cayenne,
        "974" => Indian::Reunion,
        "975" => America::Miquelon,
        "976" => Indian::Mayotte,
        "977" => America::St_Barthelemy,
        "978" => America::Marigot,
        "986" => Pacific::Wallis,
        "987" if MARQUESAS.contains(&insee) => Pacific::Marquesas,
        "987" if insee == GAMBIER => Pacific::Gambier,
        "987" => Pacific::Tahiti,
        "988" => Pacific::Noumea,
        _ => Europe::Paris,
    }
}

/// Offset from UTC, in minutes, of the legal time of `zone` at `now`.
pub fn utc_offset_minutes(now: DateTime<Utc>, zone: Tz) -> i64 {
    i64::from(
        zone.offset_from_utc_datetime(&now.naive_utc())
            .fix()
            .local_minus_utc(),
    ) / 60
}

/// "06/12/2026 à 14:05": an instant as the clocks of `zone` showed it, never in UTC
/// (which reads an hour or two off in France).
pub fn local_instant(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

/// The civil date in `zone` at instant `now`.
pub fn local_date(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
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

    /// The zone of a commune of département `dep` other than the Polynesian exceptions.
    fn zone(dep: &str) -> Tz {
        time_zone("", dep)
    }

    #[test]
    fn metropolitan_dates_follow_summer_time() {
        // Winter, UTC+1: 23:30 UTC on 31 December is already New Year's Day in Paris.
        assert_eq!(
            local_date(utc(2025, 12, 31, 23, 30), zone("01")),
            day(2026, 1, 1)
        );
        assert_eq!(
            local_date(utc(2025, 12, 31, 22, 59), zone("01")),
            day(2025, 12, 31)
        );
        // Summer, UTC+2: 22:30 UTC on 30 June is 00:30 on 1 July.
        assert_eq!(
            local_date(utc(2026, 6, 30, 22, 30), zone("57")),
            day(2026, 7, 1)
        );
        // 2026 switches on Sunday 29 March at 01:00 UTC and Sunday 25 October at 01:00 UTC.
        assert_eq!(utc_offset_minutes(utc(2026, 3, 29, 0, 59), zone("75")), 60);
        assert_eq!(utc_offset_minutes(utc(2026, 3, 29, 1, 0), zone("75")), 120);
        assert_eq!(
            utc_offset_minutes(utc(2026, 10, 25, 0, 59), zone("75")),
            120
        );
        assert_eq!(utc_offset_minutes(utc(2026, 10, 25, 1, 0), zone("75")), 60);
    }

    #[test]
    fn overseas_offsets() {
        // 02:00 UTC on 1 March is still 28 February in Guadeloupe (UTC-4)…
        assert_eq!(
            local_date(utc(2026, 3, 1, 2, 0), zone("971")),
            day(2026, 2, 28)
        );
        // …and already 06:00 on 1 March in La Réunion (UTC+4).
        assert_eq!(
            local_date(utc(2026, 2, 28, 21, 0), zone("974")),
            day(2026, 3, 1)
        );
        // Saint-Pierre-et-Miquelon: summer time from Sunday 8 March 2026.
        assert_eq!(
            utc_offset_minutes(utc(2026, 3, 8, 4, 59), zone("975")),
            -180
        );
        assert_eq!(utc_offset_minutes(utc(2026, 3, 8, 5, 0), zone("975")), -120);
    }

    #[test]
    fn polynesia_keeps_three_times() {
        // 09:15 UTC on 1 March: 23:15 the day before in Tahiti (UTC-10), 23:45 in the
        // Marquesas (UTC-9:30), already 00:15 on 1 March in the Gambier Islands (UTC-9).
        let now = utc(2026, 3, 1, 9, 15);
        assert_eq!(local_date(now, time_zone("98735", "987")), day(2026, 2, 28)); // Papeete
        assert_eq!(local_date(now, time_zone("98731", "987")), day(2026, 2, 28)); // Nuku-Hiva
        assert_eq!(local_date(now, time_zone("98719", "987")), day(2026, 3, 1)); // Gambier
        assert_eq!(utc_offset_minutes(now, time_zone("98735", "987")), -600);
        assert_eq!(utc_offset_minutes(now, time_zone("98723", "987")), -570); // Hiva-Oa
        assert_eq!(utc_offset_minutes(now, time_zone("98719", "987")), -540);
        // 09:45 UTC: midnight has passed in the Marquesas, not in Tahiti.
        let now = utc(2026, 3, 1, 9, 45);
        assert_eq!(local_date(now, time_zone("98731", "987")), day(2026, 3, 1));
        assert_eq!(local_date(now, time_zone("98735", "987")), day(2026, 2, 28));
    }

    #[test]
    fn the_nights_of_the_change() {
        // Saint-Pierre-et-Miquelon goes back to UTC-3 on Sunday 1 November 2026 at 04:00 UTC.
        assert_eq!(
            utc_offset_minutes(utc(2026, 11, 1, 3, 59), zone("975")),
            -120
        );
        assert_eq!(
            utc_offset_minutes(utc(2026, 11, 1, 4, 0), zone("975")),
            -180
        );
        // Paris, night of 28 to 29 March 2026: 00:30 UTC is 01:30, then 01:30 UTC is 03:30.
        assert_eq!(
            local_date(utc(2026, 3, 28, 23, 30), zone("75")),
            day(2026, 3, 29)
        );
        assert_eq!(
            local_date(utc(2026, 3, 28, 22, 30), zone("75")),
            day(2026, 3, 28)
        );
        // 25 October 2026: 22:30 UTC on the 24th is already the 25th (UTC+2), 23:30 UTC on
        // the 25th is the 26th (UTC+1 since 01:00 UTC).
        assert_eq!(
            local_date(utc(2026, 10, 24, 22, 30), zone("75")),
            day(2026, 10, 25)
        );
        assert_eq!(
            local_date(utc(2026, 10, 25, 22, 59), zone("75")),
            day(2026, 10, 25)
        );
        assert_eq!(
            local_date(utc(2026, 10, 25, 23, 0), zone("75")),
            day(2026, 10, 26)
        );
        // Corsica, Alsace-Moselle and every other département of the mainland: Paris.
        assert_eq!(zone("2A"), chrono_tz::Europe::Paris);
        assert_eq!(zone("57"), chrono_tz::Europe::Paris);
    }
}
