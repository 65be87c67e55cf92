//! Legal deadlines of an incoming request.
//!
//! The delay counts from receipt by the competent commune (the arrival date, never the
//! registration date), is moved by L114-3 (requests forwarded under L114-2) and L114-5
//! (incomplete requests), and ends on the day the implicit decision is born (L231-1,
//! L231-4).

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{self, HolidayZone};
use crate::delay::{Delay, SilenceRule};

/// L114-5: the request lacked documents; the commune asked for them on `requested_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incompleteness {
    pub requested_on: NaiveDate,
    /// When the missing documents arrived; `None` while still waiting.
    pub completed_on: Option<NaiveDate>,
    /// The date the commune set for the documents (L114-5 al. 1 makes it part of the
    /// request). A rejection by silence is suspended until then at most (al. 3). `None`
    /// only for requests made before it was recorded: they stay suspended until receipt.
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
}

/// The time given to produce missing documents when the agent sets none: one month from
/// the request for them.
pub const DEFAULT_DOCUMENTS_DELAY: Delay = Delay::Months(1);

/// Whether the implicit decision of a request is born by `today`: it is born at the end
/// of its silence date, recorded or not, and a later change (a new type) cannot move it.
pub fn implicit_decision_born(silence_date: Option<NaiveDate>, today: NaiveDate) -> bool {
    silence_date.is_some_and(|on| on < today)
}

/// Why documents may not be asked for on `requested_on`, if they may not: not before the
/// request arrived, not in the future, not after the silence date (the implicit decision
/// was born at its end, and a request for documents cannot revive a delay that has run
/// out), and the time given must end after the request for them. A request for documents
/// made earlier may be recorded late: its own date is what counts.
pub fn check_documents_request(
    arrival: NaiveDate,
    silence_date: Option<NaiveDate>,
    requested_on: NaiveDate,
    deadline: NaiveDate,
    today: NaiveDate,
) -> Result<(), &'static str> {
    if requested_on < arrival || requested_on > today {
        return Err("la demande de pièces doit dater d'entre l'arrivée et aujourd'hui");
    }
    if silence_date.is_some_and(|on| requested_on > on) {
        return Err(
            "la décision implicite est née à la fin du délai : des pièces demandées après ne \
             suspendent ni ne rouvrent rien (article L114-5)",
        );
    }
    if deadline <= requested_on {
        return Err("la date limite des pièces doit suivre leur demande");
    }
    Ok(())
}

/// Everything the deadline of a request depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineFacts {
    /// Receipt by this (competent) commune: the arrival date, never the registration date.
    pub arrival: NaiveDate,
    /// L114-3: first receipt by another authority that forwarded the request here (L114-2).
    pub first_receipt_elsewhere: Option<NaiveDate>,
    pub incomplete: Option<Incompleteness>,
    pub delay: Delay,
    pub silence: SilenceRule,
    pub zone: HolidayZone,
}

/// The computed dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// The day by which the commune should answer; `None` while the delay does not run
    /// (incomplete request not yet completed).
    pub due: Option<NaiveDate>,
    /// The day the implicit decision is born (at the end of that day), when silence has a meaning.
    pub silence_date: Option<NaiveDate>,
    /// True while an L114-5 incompleteness stops or suspends the delay.
    pub waiting_for_documents: bool,
}

/// The deadlines of a request (L231-1, L231-4, L114-3, L114-5).
pub fn compute(facts: &DeadlineFacts) -> Deadlines {
    let waiting_for_documents = facts
        .incomplete
        .is_some_and(|missing| missing.completed_on.is_none());
    if facts.silence == SilenceRule::Urbanism {
        // The Code de l'urbanisme's own delays (R423-23 ff.): nothing the CRPA computes.
        return Deadlines {
            due: None,
            silence_date: None,
            waiting_for_documents,
        };
    }
    let start = start_of_delay(facts);
    let due = match facts.incomplete {
        None => Some(end_of_delay(start, facts.delay, facts.zone)),
        Some(missing) => match facts.silence {
            // L114-5 al. 2, SVA: the delay runs only from receipt of the missing documents,
            // so it restarts from scratch; while they are missing nothing is known.
            // Documents cannot complete a request before it arrived: an earlier date is a
            // typing error and must not shorten the delay, hence the max.
            SilenceRule::Acceptance => missing
                .completed_on
                .map(|completed| end_of_delay(completed.max(start), facts.delay, facts.zone)),
            // L114-5 al. 3, SVR (and requests without implicit decision, by the same logic):
            // the delay is suspended for the time given to produce the documents, and
            // documents produced earlier end the suspension (CE, 13 janvier 2003, Camara,
            // n° 237034); documents produced late do not stretch it. The normal end moves
            // by the length of the suspension in calendar days. Documents received before
            // they were asked for (a typing error) suspend nothing.
            SilenceRule::Rejection | SilenceRule::None | SilenceRule::Urbanism => {
                let suspension_end = match (missing.completed_on, missing.deadline) {
                    (Some(completed), Some(deadline)) => Some(completed.min(deadline)),
                    (None, Some(deadline)) => Some(deadline),
                    // Asked before deadlines were recorded: suspended until receipt.
                    (Some(completed), None) => Some(completed),
                    (None, None) => None,
                };
                suspension_end.map(|end| {
                    let suspended = (end - missing.requested_on).num_days().max(0);
                    let normal_end = end_of_delay(start, facts.delay, facts.zone);
                    add_days(normal_end, u64::try_from(suspended).unwrap_or(0))
                })
            }
        },
    };
    Deadlines {
        due,
        silence_date: match facts.silence {
            SilenceRule::Acceptance | SilenceRule::Rejection => due,
            SilenceRule::None | SilenceRule::Urbanism => None,
        },
        waiting_for_documents,
    }
}

/// The last day of a delay that starts on `start` (the start day itself does not count).
///
/// Months and calendar days are never moved by a weekend or a holiday: the implicit
/// decision is born at the end of that day whatever it is (L231-1, L231-4).
pub fn end_of_delay(start: NaiveDate, delay: Delay, zone: HolidayZone) -> NaiveDate {
    match delay {
        Delay::Months(n) => calendar::add_calendar_months(start, n),
        Delay::Days(n) => add_days(start, u64::from(n)),
        Delay::WorkingDays(n) => calendar::add_working_days(start, n, zone),
    }
}

/// Whether the answer is overdue on `today`: the due day itself is still on time.
pub fn is_late(due: Option<NaiveDate>, today: NaiveDate) -> bool {
    due.is_some_and(|due| due < today)
}

/// The working day `working_days_before` working days before `due`, to send a reminder.
pub fn reminder_date(due: NaiveDate, working_days_before: u32, zone: HolidayZone) -> NaiveDate {
    calendar::sub_working_days(due, working_days_before, zone)
}

/// Where the delay starts, before any L114-5 incompleteness.
fn start_of_delay(facts: &DeadlineFacts) -> NaiveDate {
    match (facts.silence, facts.first_receipt_elsewhere) {
        // L114-3: the SVR delay runs from the first receipt, by the wrong authority. That
        // receipt cannot be later than ours; if it is (a typing error) the earlier date is
        // the first receipt.
        (SilenceRule::Rejection, Some(first)) => first.min(facts.arrival),
        // L114-3: the SVA delay runs from receipt by the competent authority; with no
        // implicit decision, our own receipt is the natural start as well.
        _ => facts.arrival,
    }
}

/// `date` plus `days` calendar days, saturating at the end of chrono's range.
fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::HolidayZone::{AlsaceMoselle, Metropole};
    use crate::delay::SilenceRule::{Acceptance, None as NoSilence, Rejection};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A complete request received directly by the commune, in metropolitan France.
    fn facts(arrival: NaiveDate, delay: Delay, silence: SilenceRule) -> DeadlineFacts {
        DeadlineFacts {
            arrival,
            first_receipt_elsewhere: None,
            incomplete: None,
            delay,
            silence,
            zone: Metropole,
        }
    }

    fn missing(requested_on: NaiveDate, completed_on: Option<NaiveDate>) -> Option<Incompleteness> {
        Some(Incompleteness {
            requested_on,
            completed_on,
            deadline: None,
        })
    }

    struct Case {
        why: &'static str,
        facts: DeadlineFacts,
        due: Option<NaiveDate>,
        silence_date: Option<NaiveDate>,
        waiting: bool,
    }

    /// A case whose silence date is the due date (SVA or SVR, delay running).
    fn silent(why: &'static str, facts: DeadlineFacts, due: NaiveDate) -> Case {
        Case {
            why,
            facts,
            due: Some(due),
            silence_date: Some(due),
            waiting: false,
        }
    }

    #[test]
    fn deadlines_table() {
        use Delay::{Days, Months, WorkingDays};
        let cases = [
            // --- Calendar months (L231-1, L231-4): same day number, clamped, never moved.
            silent(
                "SVA 2 months: 1 Feb -> 1 Apr, the DOMAIN example",
                facts(d(2026, 2, 1), Months(2), Acceptance),
                d(2026, 4, 1),
            ),
            silent(
                "SVR 2 months from 31 Dec: no 31 Feb 2026, last day; a Saturday, not moved",
                facts(d(2025, 12, 31), Months(2), Rejection),
                d(2026, 2, 28),
            ),
            silent(
                "SVA 2 months from 31 Dec 2027: 2028 is leap, last day is 29 Feb",
                facts(d(2027, 12, 31), Months(2), Acceptance),
                d(2028, 2, 29),
            ),
            silent(
                "SVA 1 month from 30 Jan: no 30 Feb, last day 28 Feb",
                facts(d(2026, 1, 30), Months(1), Acceptance),
                d(2026, 2, 28),
            ),
            silent(
                "SVA 2 months from 31 Mar: 31 May 2026, a Sunday, not moved",
                facts(d(2026, 3, 31), Months(2), Acceptance),
                d(2026, 5, 31),
            ),
            silent(
                "SVR 4 months from 31 Oct: no 31 Feb 2027, last day 28 Feb",
                facts(d(2026, 10, 31), Months(4), Rejection),
                d(2027, 2, 28),
            ),
            silent(
                "SVA 2 months from 14 May: 14 Jul, Fête nationale, not moved",
                facts(d(2026, 5, 14), Months(2), Acceptance),
                d(2026, 7, 14),
            ),
            silent(
                "SVR 2 months from 25 Oct: 25 Dec, Noël, not moved",
                facts(d(2026, 10, 25), Months(2), Rejection),
                d(2026, 12, 25),
            ),
            silent(
                "SVA 2 months from 5 Feb: 5 Apr 2026, Easter Sunday, not moved",
                facts(d(2026, 2, 5), Months(2), Acceptance),
                d(2026, 4, 5),
            ),
            // --- Calendar days: start + n, never moved.
            silent(
                "30 days from 15 Jan: 15 + 30 = 45 = 31 Jan + 14 -> Sat 14 Feb, not moved",
                facts(d(2026, 1, 15), Days(30), Rejection),
                d(2026, 2, 14),
            ),
            silent(
                "15 days from 20 Dec: 20 + 15 = 35 = 31 Dec + 4 -> 4 Jan 2027",
                facts(d(2026, 12, 20), Days(15), Acceptance),
                d(2027, 1, 4),
            ),
            // --- Working days: weekends and holidays are skipped in the count.
            silent(
                // From Fri 1 May (itself a holiday, not counted anyway): Sat 2, Sun 3 skip;
                // Mon 4 (1), Tue 5 (2), Wed 6 (3), Thu 7 (4); Fri 8 May (Victoire) skip;
                // Sat 9, Sun 10 skip; Mon 11 (5), Tue 12 (6), Wed 13 (7); Thu 14
                // (Ascension) skip; Fri 15 (8); Sat 16, Sun 17 skip; Mon 18 (9), Tue 19 (10).
                "10 working days from 1 May 2026 skip 8 May and Ascension",
                facts(d(2026, 5, 1), WorkingDays(10), Acceptance),
                d(2026, 5, 19),
            ),
            silent(
                // Thu 2 (1), Fri 3 Good Friday skip, Sat 4, Sun 5, Mon 6 Easter Monday
                // skip, Tue 7 (2), Wed 8 (3).
                "Alsace-Moselle: 3 working days from Wed 1 Apr 2026 skip Good Friday",
                DeadlineFacts {
                    zone: AlsaceMoselle,
                    ..facts(d(2026, 4, 1), WorkingDays(3), Rejection)
                },
                d(2026, 4, 8),
            ),
            silent(
                // Thu 2 (1), Fri 3 (2), Sat 4, Sun 5, Mon 6 Easter Monday skip, Tue 7 (3).
                "Metropole: the same count works on Good Friday",
                facts(d(2026, 4, 1), WorkingDays(3), Rejection),
                d(2026, 4, 7),
            ),
            silent(
                // Wed 24 (1), Thu 25 Noël skip, Fri 26 Saint-Étienne skip, Sat 27, Sun 28
                // skip, Mon 29 (2).
                "Alsace-Moselle: 2 working days from Tue 23 Dec 2025 skip 26 Dec",
                DeadlineFacts {
                    zone: AlsaceMoselle,
                    ..facts(d(2025, 12, 23), WorkingDays(2), Acceptance)
                },
                d(2025, 12, 29),
            ),
            silent(
                // Wed 24 (1), Thu 25 Noël skip, Fri 26 (2).
                "Metropole: 26 Dec is a working day",
                facts(d(2025, 12, 23), WorkingDays(2), Acceptance),
                d(2025, 12, 26),
            ),
            // --- No implicit decision: a due date but no silence date.
            Case {
                why: "no silence rule: 15 days from 1 Feb -> 16 Feb, no implicit decision",
                facts: facts(d(2026, 2, 1), Days(15), NoSilence),
                due: Some(d(2026, 2, 16)),
                silence_date: None,
                waiting: false,
            },
            // --- L114-3: forwarded by the wrong authority (first receipt 15 Jan, here 2 Feb).
            silent(
                "L114-3 SVR runs from the first receipt: 15 Jan + 2 months = 15 Mar",
                DeadlineFacts {
                    first_receipt_elsewhere: Some(d(2026, 1, 15)),
                    ..facts(d(2026, 2, 2), Months(2), Rejection)
                },
                d(2026, 3, 15),
            ),
            silent(
                "L114-3 SVA runs from receipt here: 2 Feb + 2 months = 2 Apr",
                DeadlineFacts {
                    first_receipt_elsewhere: Some(d(2026, 1, 15)),
                    ..facts(d(2026, 2, 2), Months(2), Acceptance)
                },
                d(2026, 4, 2),
            ),
            Case {
                why: "L114-3 without implicit decision: from receipt here, 2 Feb -> 2 Apr",
                facts: DeadlineFacts {
                    first_receipt_elsewhere: Some(d(2026, 1, 15)),
                    ..facts(d(2026, 2, 2), Months(2), NoSilence)
                },
                due: Some(d(2026, 4, 2)),
                silence_date: None,
                waiting: false,
            },
            silent(
                "L114-3 SVR, first receipt typed after arrival: the earlier date, 2 Feb -> 2 Apr",
                DeadlineFacts {
                    first_receipt_elsewhere: Some(d(2026, 2, 10)),
                    ..facts(d(2026, 2, 2), Months(2), Rejection)
                },
                d(2026, 4, 2),
            ),
            // --- L114-5: incomplete request (arrival 2 Mar 2026, 2 months: normally 2 May).
            silent(
                "L114-5 SVA restarts from the documents: 20 Apr + 2 months = 20 Jun",
                DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), Some(d(2026, 4, 20))),
                    ..facts(d(2026, 3, 2), Months(2), Acceptance)
                },
                d(2026, 6, 20),
            ),
            silent(
                // Suspended 10 Mar -> 20 Apr: 21 days left in March (31 - 10) + 20 in
                // April = 41 days. Normal end 2 May + 41 = 43 May = 31 May + 12 -> 12 Jun.
                "L114-5 SVR is suspended: 2 May shifted by 41 days = 12 Jun",
                DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), Some(d(2026, 4, 20))),
                    ..facts(d(2026, 3, 2), Months(2), Rejection)
                },
                d(2026, 6, 12),
            ),
            Case {
                // Arrival 2 Mar + 1 month = 2 Apr; suspended 5 Mar -> 15 Mar = 10 days;
                // 2 Apr + 10 = 12 Apr.
                why: "L114-5 without implicit decision is suspended like SVR",
                facts: DeadlineFacts {
                    incomplete: missing(d(2026, 3, 5), Some(d(2026, 3, 15))),
                    ..facts(d(2026, 3, 2), Months(1), NoSilence)
                },
                due: Some(d(2026, 4, 12)),
                silence_date: None,
                waiting: false,
            },
            silent(
                // Normal end Tue 19 May (see the 10 working days case); suspended
                // Mon 4 May -> Mon 11 May = 7 calendar days; 19 + 7 = 26 May.
                "L114-5 SVR on working days: shifted by calendar days",
                DeadlineFacts {
                    incomplete: missing(d(2026, 5, 4), Some(d(2026, 5, 11))),
                    ..facts(d(2026, 5, 1), WorkingDays(10), Rejection)
                },
                d(2026, 5, 26),
            ),
            silent(
                "L114-5 SVR completed the day it was asked: 0 days, 2 May",
                DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), Some(d(2026, 3, 10))),
                    ..facts(d(2026, 3, 2), Months(2), Rejection)
                },
                d(2026, 5, 2),
            ),
            silent(
                "L114-5 SVR completed before it was asked (typing error): 0 days, 2 May",
                DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), Some(d(2026, 3, 5))),
                    ..facts(d(2026, 3, 2), Months(2), Rejection)
                },
                d(2026, 5, 2),
            ),
            silent(
                "L114-5 SVA completed before arrival (typing error): from arrival, 2 May",
                DeadlineFacts {
                    incomplete: missing(d(2026, 3, 1), Some(d(2026, 3, 1))),
                    ..facts(d(2026, 3, 2), Months(2), Acceptance)
                },
                d(2026, 5, 2),
            ),
            Case {
                why: "L114-5 SVA still waiting: the delay has not started",
                facts: DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), None),
                    ..facts(d(2026, 3, 2), Months(2), Acceptance)
                },
                due: None,
                silence_date: None,
                waiting: true,
            },
            Case {
                why: "L114-5 SVR still waiting: suspended for an unknown length",
                facts: DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), None),
                    ..facts(d(2026, 3, 2), Months(2), Rejection)
                },
                due: None,
                silence_date: None,
                waiting: true,
            },
            Case {
                why: "L114-5 without implicit decision still waiting",
                facts: DeadlineFacts {
                    incomplete: missing(d(2026, 3, 10), None),
                    ..facts(d(2026, 3, 2), Days(30), NoSilence)
                },
                due: None,
                silence_date: None,
                waiting: true,
            },
            // --- L114-3 then L114-5 (first receipt 15 Jan 2026, here 2 Feb, 2 months).
            silent(
                // From the first receipt: 15 Jan + 2 months = 15 Mar; suspended
                // 5 Feb -> 25 Feb = 20 days; 15 Mar + 20 = 4 Apr.
                "forwarded and incomplete SVR: first receipt, then suspension",
                DeadlineFacts {
                    first_receipt_elsewhere: Some(d(2026, 1, 15)),
                    incomplete: missing(d(2026, 2, 5), Some(d(2026, 2, 25))),
                    ..facts(d(2026, 2, 2), Months(2), Rejection)
                },
                d(2026, 4, 4),
            ),
            silent(
                "forwarded and incomplete SVA: restarts from the documents, 25 Feb -> 25 Apr",
                DeadlineFacts {
                    first_receipt_elsewhere: Some(d(2026, 1, 15)),
                    incomplete: missing(d(2026, 2, 5), Some(d(2026, 2, 25))),
                    ..facts(d(2026, 2, 2), Months(2), Acceptance)
                },
                d(2026, 4, 25),
            ),
        ];
        for case in cases {
            let got = compute(&case.facts);
            assert_eq!(
                got,
                Deadlines {
                    due: case.due,
                    silence_date: case.silence_date,
                    waiting_for_documents: case.waiting,
                },
                "{}",
                case.why
            );
        }
    }

    #[test]
    fn lateness() {
        for (due, today, late) in [
            (None, d(2026, 4, 2), false),                 // no due date, never late
            (Some(d(2026, 4, 1)), d(2026, 3, 31), false), // the day before
            (Some(d(2026, 4, 1)), d(2026, 4, 1), false),  // the due day is still on time
            (Some(d(2026, 4, 1)), d(2026, 4, 2), true),   // the day after
            (Some(d(2025, 12, 31)), d(2026, 1, 1), true), // across the new year
        ] {
            assert_eq!(is_late(due, today), late, "{due:?} on {today}");
        }
    }

    #[test]
    fn reminders() {
        for (due, before, zone, expected) in [
            (d(2026, 4, 1), 0, Metropole, d(2026, 4, 1)), // 0 days: the due date
            (d(2026, 4, 1), 2, Metropole, d(2026, 3, 30)), // Wed 1 Apr: Tue 31 (1), Mon 30 (2)
            (d(2026, 2, 28), 1, Metropole, d(2026, 2, 27)), // due Saturday: Friday before
            (d(2026, 4, 7), 1, Metropole, d(2026, 4, 3)), // skip Easter Monday, weekend
            (d(2026, 4, 7), 1, AlsaceMoselle, d(2026, 4, 2)), // also skip Good Friday
            // Tue 19 May: Mon 18 (1), weekend, Fri 15 (2), Thu 14 Ascension skip,
            // Wed 13 (3), Tue 12 (4), Mon 11 (5).
            (d(2026, 5, 19), 5, Metropole, d(2026, 5, 11)), // skip Ascension
            // Mon 29 Dec 2025: weekend, Fri 26 (1), Thu 25 skip, Wed 24 (2), Tue 23 (3).
            (d(2025, 12, 29), 3, Metropole, d(2025, 12, 23)), // Metropole Christmas
            // Weekend, Fri 26 and Thu 25 skip, Wed 24 (1), Tue 23 (2), Mon 22 (3).
            (d(2025, 12, 29), 3, AlsaceMoselle, d(2025, 12, 22)), // Alsace-Moselle Christmas
        ] {
            assert_eq!(
                reminder_date(due, before, zone),
                expected,
                "{due} - {before} {zone:?}"
            );
        }
    }

    #[test]
    fn zero_delay_is_the_start_and_ends_saturate() {
        // The start day does not count, whatever the unit: 0 units is the start itself.
        for delay in [Delay::Months(0), Delay::Days(0), Delay::WorkingDays(0)] {
            assert_eq!(end_of_delay(d(2026, 5, 1), delay, Metropole), d(2026, 5, 1));
        }
        assert_eq!(
            end_of_delay(NaiveDate::MAX, Delay::Days(1), Metropole),
            NaiveDate::MAX
        );
    }
}
