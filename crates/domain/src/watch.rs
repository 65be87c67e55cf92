//! The deadline watch: what an open request needs someone to notice today.
//!
//! Three alerts (late, due soon, implicit acceptance soon) and the implicit decision itself,
//! once silence has turned into one. An implicit acceptance is the costliest thing a
//! commune can let happen by inattention (the applicant holds a right it never chose to
//! give), so it is announced earlier than an ordinary due date.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{self, HolidayZone};
use crate::delay::SilenceRule;
use crate::french::long_date;

/// The accusé de réception électronique is announced this many calendar days ahead, today
/// included: from the fifth day after receipt of the seven (L112-11).
pub const ELECTRONIC_RECEIPT_SOON_DAYS: i64 = 3;
/// An ordinary due date is announced this many calendar days ahead, today included.
pub const DUE_SOON_DAYS: i64 = 7;
/// An implicit acceptance is announced this many calendar days ahead, today included.
pub const ACCEPTANCE_SOON_DAYS: i64 = 15;

/// What the watch needs to know about one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchFacts {
    pub status_open: bool,
    pub due: Option<NaiveDate>,
    pub silence: SilenceRule,
    pub silence_date: Option<NaiveDate>,
    /// L114-5: documents asked for and not received; the delay does not run.
    pub waiting_for_documents: bool,
    /// The implicit decision has already been written down in the register.
    pub implicit_decision_recorded: bool,
    /// A request received electronically (L112-11) whose accusé de réception is not sent
    /// yet: the last day to send it ([`crate::acknowledgement::electronic_receipt_due`]).
    #[serde(default)]
    pub electronic_receipt_due: Option<NaiveDate>,
}

/// Something to tell the person in charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// The due date has passed by `days` calendar days (at least 1).
    Late { days: i64 },
    /// The due date is within the next seven days; `days_left` is 0 on the day itself.
    /// `working_days_left` counts the working days from today to the due date, both
    /// included: the days someone is actually at the mairie to answer.
    DueSoon {
        due: NaiveDate,
        days_left: i64,
        working_days_left: u32,
    },
    /// An implicit acceptance (SVA) is born at the end of `on`, within fifteen days.
    AcceptanceSoon {
        on: NaiveDate,
        days_left: i64,
        working_days_left: u32,
    },
    /// The accusé de réception of an electronic request is due by `due` (L112-11), within
    /// three days, or overdue when `days_left` is negative.
    ElectronicReceiptDue { due: NaiveDate, days_left: i64 },
}

impl Alert {
    /// A stable code, for styles and filters.
    pub fn code(&self) -> &'static str {
        match self {
            Alert::Late { .. } => "late",
            Alert::DueSoon { .. } => "due_soon",
            Alert::AcceptanceSoon { .. } => "acceptance_soon",
            Alert::ElectronicReceiptDue { .. } => "electronic_receipt_due",
        }
    }

    /// "en retard de 3 jours", "échéance demain (4 février 2026)", …
    pub fn label_fr(&self) -> String {
        match *self {
            Alert::Late { days: 1 } => "en retard d'un jour".to_owned(),
            Alert::Late { days } => format!("en retard de {days} jours"),
            Alert::DueSoon { due, days_left, .. } => match days_left {
                0 => "échéance aujourd'hui".to_owned(),
                1 => format!("échéance demain ({})", long_date(due)),
                n => format!("échéance dans {n} jours ({})", long_date(due)),
            },
            Alert::AcceptanceSoon { on, days_left, .. } => match days_left {
                0 => "acceptation implicite ce soir sans réponse".to_owned(),
                1 => format!(
                    "acceptation implicite demain soir sans réponse ({})",
                    long_date(on)
                ),
                n => format!(
                    "acceptation implicite dans {n} jours sans réponse ({})",
                    long_date(on)
                ),
            },
            Alert::ElectronicReceiptDue { due, days_left } if days_left < 0 => format!(
                "accusé de réception électronique en retard : dû le {} (article L112-11)",
                long_date(due)
            ),
            Alert::ElectronicReceiptDue { due, .. } => format!(
                "accusé de réception électronique à envoyer au plus tard le {} (article L112-11)",
                long_date(due)
            ),
        }
    }
}

/// The alerts of an item on `today`, the most serious first.
///
/// A closed item, or one waiting for documents (L114-5: its delay does not run), has none.
pub fn alerts(f: &WatchFacts, today: NaiveDate, zone: HolidayZone) -> Vec<Alert> {
    let mut out = Vec::new();
    if !f.status_open {
        return out;
    }
    if let Some(due) = f.electronic_receipt_due {
        let days_left = (due - today).num_days();
        if days_left < ELECTRONIC_RECEIPT_SOON_DAYS {
            out.push(Alert::ElectronicReceiptDue { due, days_left });
        }
    }
    if f.waiting_for_documents {
        return out;
    }
    if let Some(due) = f.due
        && due < today
    {
        out.push(Alert::Late {
            days: (today - due).num_days(),
        });
    }
    if f.silence == SilenceRule::Acceptance
        && !f.implicit_decision_recorded
        && let Some(on) = f.silence_date
        && let Some(days_left) = within(today, on, ACCEPTANCE_SOON_DAYS)
    {
        out.push(Alert::AcceptanceSoon {
            on,
            days_left,
            working_days_left: working_days_until(today, on, zone),
        });
    }
    if let Some(due) = f.due
        && let Some(days_left) = within(today, due, DUE_SOON_DAYS)
    {
        out.push(Alert::DueSoon {
            due,
            days_left,
            working_days_left: working_days_until(today, due, zone),
        });
    }
    out
}

/// Which implicit decision silence has produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplicitKind {
    Accepted,
    Rejected,
}

impl ImplicitKind {
    pub fn code(self) -> &'static str {
        match self {
            ImplicitKind::Accepted => "accepted",
            ImplicitKind::Rejected => "rejected",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            ImplicitKind::Accepted => "acceptation implicite",
            ImplicitKind::Rejected => "rejet implicite",
        }
    }
}

/// An implicit decision born of silence (L231-1, L231-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImplicitDecision {
    pub kind: ImplicitKind,
    /// The day at the end of which the decision was born: the silence date.
    pub born_on: NaiveDate,
}

impl ImplicitDecision {
    /// "demande réputée acceptée le 1er avril 2026".
    pub fn label_fr(&self) -> String {
        let verb = match self.kind {
            ImplicitKind::Accepted => "acceptée",
            ImplicitKind::Rejected => "rejetée",
        };
        format!("demande réputée {verb} le {}", long_date(self.born_on))
    }
}

/// The implicit decision that silence has produced by `today`, if one has and it is not yet
/// recorded.
///
/// The decision is born at the end of the silence date, so on that day the commune can still
/// answer: there is one only from the next day on. None while documents are missing (the
/// delay does not run), on a closed item (it was answered), or without a silence rule.
pub fn implicit_decision(f: &WatchFacts, today: NaiveDate) -> Option<ImplicitDecision> {
    if !f.status_open || f.waiting_for_documents || f.implicit_decision_recorded {
        return None;
    }
    let kind = match f.silence {
        SilenceRule::Acceptance => ImplicitKind::Accepted,
        SilenceRule::Rejection => ImplicitKind::Rejected,
        SilenceRule::None | SilenceRule::Urbanism => return None,
    };
    let born_on = f.silence_date?;
    (today > born_on).then_some(ImplicitDecision { kind, born_on })
}

/// Days from `today` to `date` when `date` is today or within the next `window - 1` days.
fn within(today: NaiveDate, date: NaiveDate, window: i64) -> Option<i64> {
    let left = (date - today).num_days();
    (0..window).contains(&left).then_some(left)
}

/// Working days from `today` to `last`, both included.
fn working_days_until(today: NaiveDate, last: NaiveDate, zone: HolidayZone) -> u32 {
    let mut count = 0;
    let mut day = today;
    while day <= last {
        if calendar::is_working_day(day, zone) {
            count += 1;
        }
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use HolidayZone::Metropole;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// An open SVA request whose delay ends on 1 April 2026.
    fn sva() -> WatchFacts {
        WatchFacts {
            status_open: true,
            due: Some(d(2026, 4, 1)),
            silence: SilenceRule::Acceptance,
            silence_date: Some(d(2026, 4, 1)),
            waiting_for_documents: false,
            implicit_decision_recorded: false,
            electronic_receipt_due: None,
        }
    }

    fn no_silence(due: NaiveDate) -> WatchFacts {
        WatchFacts {
            silence: SilenceRule::None,
            silence_date: None,
            due: Some(due),
            ..sva()
        }
    }

    #[test]
    fn the_electronic_receipt_is_announced_three_days_ahead_and_when_late() {
        // Received Monday 2 March 2026: the accusé de réception is due Monday 9 March.
        let f = WatchFacts {
            electronic_receipt_due: Some(crate::acknowledgement::electronic_receipt_due(d(
                2026, 3, 2,
            ))),
            ..no_silence(d(2026, 5, 2))
        };
        let due = d(2026, 3, 9);
        assert_eq!(alerts(&f, d(2026, 3, 6), Metropole), vec![]);
        let soon = alerts(&f, d(2026, 3, 7), Metropole);
        assert_eq!(
            soon,
            vec![Alert::ElectronicReceiptDue { due, days_left: 2 }]
        );
        assert_eq!(
            soon[0].label_fr(),
            "accusé de réception électronique à envoyer au plus tard le 9 mars 2026 (article \
             L112-11)"
        );
        let late = alerts(&f, d(2026, 3, 10), Metropole);
        assert_eq!(
            late[0].label_fr(),
            "accusé de réception électronique en retard : dû le 9 mars 2026 (article L112-11)"
        );
        // Waiting for documents, the AR is still due.
        let waiting = WatchFacts {
            waiting_for_documents: true,
            ..f.clone()
        };
        assert_eq!(alerts(&waiting, d(2026, 3, 10), Metropole).len(), 1);
    }

    #[test]
    fn due_soon_window_is_seven_days_including_today() {
        let f = no_silence(d(2026, 4, 10));
        assert_eq!(alerts(&f, d(2026, 4, 3), Metropole), vec![]); // 7 days left: not yet
        // Sat 4 Apr: 6 days left.
        assert_eq!(
            alerts(&f, d(2026, 4, 4), Metropole),
            vec![Alert::DueSoon {
                due: d(2026, 4, 10),
                days_left: 6,
                // Sat 4, Sun 5 and Easter Monday 6 are off: Tue 7, Wed 8, Thu 9, Fri 10.
                working_days_left: 4,
            }]
        );
        assert_eq!(
            alerts(&f, d(2026, 4, 10), Metropole),
            vec![Alert::DueSoon {
                due: d(2026, 4, 10),
                days_left: 0,
                working_days_left: 1,
            }]
        );
        assert_eq!(
            alerts(&f, d(2026, 4, 11), Metropole),
            vec![Alert::Late { days: 1 }]
        );
        assert_eq!(
            alerts(&f, d(2026, 5, 10), Metropole),
            vec![Alert::Late { days: 30 }]
        );
    }

    #[test]
    fn acceptance_is_announced_fifteen_days_ahead() {
        let f = sva();
        assert_eq!(alerts(&f, d(2026, 3, 17), Metropole), vec![]); // 15 days left
        assert_eq!(
            alerts(&f, d(2026, 3, 18), Metropole),
            vec![Alert::AcceptanceSoon {
                on: d(2026, 4, 1),
                days_left: 14,
                // Wed 18 Mar .. Wed 1 Apr: 11 working days (two weekends off).
                working_days_left: 11,
            }]
        );
        // Within seven days both fire, the acceptance first.
        let both = alerts(&f, d(2026, 3, 30), Metropole);
        assert_eq!(
            both.iter().map(Alert::code).collect::<Vec<_>>(),
            ["acceptance_soon", "due_soon"]
        );
        // The day after: late, and no more "soon".
        assert_eq!(
            alerts(&f, d(2026, 4, 2), Metropole),
            vec![Alert::Late { days: 1 }]
        );
        // Already recorded: only the due-date alert remains.
        let recorded = WatchFacts {
            implicit_decision_recorded: true,
            ..sva()
        };
        assert_eq!(
            alerts(&recorded, d(2026, 3, 30), Metropole)
                .iter()
                .map(Alert::code)
                .collect::<Vec<_>>(),
            ["due_soon"]
        );
    }

    #[test]
    fn rejection_has_no_early_warning_beyond_the_due_date() {
        let f = WatchFacts {
            silence: SilenceRule::Rejection,
            ..sva()
        };
        assert_eq!(alerts(&f, d(2026, 3, 20), Metropole), vec![]);
    }

    #[test]
    fn closed_or_waiting_items_are_quiet() {
        let closed = WatchFacts {
            status_open: false,
            ..sva()
        };
        let waiting = WatchFacts {
            waiting_for_documents: true,
            due: None,
            silence_date: None,
            ..sva()
        };
        for f in [closed, waiting] {
            assert_eq!(alerts(&f, d(2026, 3, 31), Metropole), vec![]);
            assert_eq!(alerts(&f, d(2026, 5, 1), Metropole), vec![]);
            assert_eq!(implicit_decision(&f, d(2026, 5, 1)), None);
        }
    }

    #[test]
    fn implicit_decisions_are_born_after_the_silence_date() {
        let f = sva();
        assert_eq!(implicit_decision(&f, d(2026, 4, 1)), None); // still that day
        let born = implicit_decision(&f, d(2026, 4, 2)).unwrap();
        assert_eq!(
            born,
            ImplicitDecision {
                kind: ImplicitKind::Accepted,
                born_on: d(2026, 4, 1)
            }
        );
        assert_eq!(
            born.label_fr(),
            "demande réputée acceptée le 1er avril 2026"
        );
        let svr = WatchFacts {
            silence: SilenceRule::Rejection,
            ..sva()
        };
        assert_eq!(
            implicit_decision(&svr, d(2026, 6, 1)).map(|i| i.label_fr()),
            Some("demande réputée rejetée le 1er avril 2026".to_owned())
        );
        let recorded = WatchFacts {
            implicit_decision_recorded: true,
            ..sva()
        };
        assert_eq!(implicit_decision(&recorded, d(2026, 4, 2)), None);
        assert_eq!(
            implicit_decision(&no_silence(d(2026, 4, 1)), d(2026, 4, 2)),
            None
        );
    }

    #[test]
    fn labels() {
        assert_eq!(Alert::Late { days: 1 }.label_fr(), "en retard d'un jour");
        assert_eq!(Alert::Late { days: 4 }.label_fr(), "en retard de 4 jours");
        let soon = |days_left| Alert::DueSoon {
            due: d(2026, 2, 4),
            days_left,
            working_days_left: 1,
        };
        assert_eq!(soon(0).label_fr(), "échéance aujourd'hui");
        assert_eq!(soon(1).label_fr(), "échéance demain (4 février 2026)");
        assert_eq!(soon(3).label_fr(), "échéance dans 3 jours (4 février 2026)");
        let acc = |days_left| Alert::AcceptanceSoon {
            on: d(2026, 4, 1),
            days_left,
            working_days_left: 1,
        };
        assert_eq!(
            acc(0).label_fr(),
            "acceptation implicite ce soir sans réponse"
        );
        assert_eq!(
            acc(1).label_fr(),
            "acceptation implicite demain soir sans réponse (1er avril 2026)"
        );
        assert_eq!(
            acc(9).label_fr(),
            "acceptation implicite dans 9 jours sans réponse (1er avril 2026)"
        );
        assert_eq!(ImplicitKind::Accepted.label_fr(), "acceptation implicite");
        assert_eq!(ImplicitKind::Rejected.label_fr(), "rejet implicite");
    }

    #[test]
    fn working_days_at_the_end_of_the_calendar() {
        assert!(working_days_until(NaiveDate::MAX, NaiveDate::MAX, Metropole) <= 1);
        assert_eq!(
            working_days_until(d(2026, 4, 2), d(2026, 4, 1), Metropole),
            0
        );
    }
}
