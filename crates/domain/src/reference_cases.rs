//! Requests whose deadlines were computed by hand: the shared reference for every layer.
//!
//! The domain's own test (`tests/deadline_table.rs`) checks `deadline::compute` and the
//! acknowledgement against them; the application's tests reuse them to check what it
//! stores and sends, so the same hand-checked dates are asserted from the rule to the email.
//!
//! The traps they cover: month ends (31 December gives the end of February, 29 February in a
//! leap year), holidays that never move a delay in months but are skipped by a delay in
//! working days, the Alsace-Moselle holidays, L114-5 (incomplete request) and L114-2
//! (forwarded request).

use chrono::NaiveDate;

use crate::calendar::HolidayZone;
use crate::deadline::{DeadlineFacts, Incompleteness};
use crate::delay::{Delay, SilenceRule};
use crate::french::long_date;

/// One request and its expected dates. `label` says how the dates were computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceCase {
    pub label: &'static str,
    pub arrival: NaiveDate,
    pub delay: Delay,
    pub silence: SilenceRule,
    pub zone: HolidayZone,
    pub first_receipt_elsewhere: Option<NaiveDate>,
    pub incomplete: Option<Incompleteness>,
    pub expected_due: Option<NaiveDate>,
    pub expected_silence_date: Option<NaiveDate>,
}

impl ReferenceCase {
    /// The facts `deadline::compute` takes.
    pub fn facts(&self) -> DeadlineFacts {
        DeadlineFacts {
            arrival: self.arrival,
            first_receipt_elsewhere: self.first_receipt_elsewhere,
            incomplete: self.incomplete,
            delay: self.delay,
            silence: self.silence,
            zone: self.zone,
        }
    }

    /// Whether the request still waits for documents (L114-5), so has no date yet.
    pub fn waiting_for_documents(&self) -> bool {
        self.incomplete.is_some_and(|i| i.completed_on.is_none())
    }

    /// What the accusé de réception of this request must say, word for word (paper or
    /// `electronic` wording): the receipt date, then the decision date and its meaning, or
    /// why there is none yet; and what it must not say. Every layer checks its AR with these.
    pub fn ar_mentions(&self, electronic: bool) -> (Vec<String>, Vec<&'static str>) {
        let mut must = vec![format!(
            "a reçu votre demande le {}",
            long_date(self.arrival)
        )];
        let condition = if electronic {
            "Sous réserve que votre demande soit complète, et à défaut de décision expresse, elle"
        } else {
            "À défaut de décision expresse, votre demande"
        };
        if let Some(first) = self.first_receipt_elsewhere {
            must.push(format!("d'abord été reçue le {}", long_date(first)));
            must.push("L114-2".to_owned());
        }
        let must_not = match (self.silence, self.expected_silence_date) {
            (SilenceRule::Acceptance, Some(on)) => {
                must.push(format!(
                    "{condition} sera réputée acceptée le {}.",
                    long_date(on)
                ));
                must.push("L232-3".to_owned());
                vec!["réputée rejetée"]
            }
            (SilenceRule::Rejection, Some(on)) => {
                must.push(format!(
                    "{condition} sera réputée rejetée le {}.",
                    long_date(on)
                ));
                must.push("www.telerecours.fr".to_owned());
                vec!["réputée acceptée"]
            }
            (SilenceRule::None, None) => {
                let due = self.expected_due.map(long_date).unwrap_or_default();
                must.push(format!("au plus tard le {due}."));
                must.push("ne vaut ni acceptation ni rejet".to_owned());
                vec!["réputée"]
            }
            // Waiting for documents: no date yet.
            (_, None) => {
                must.push("ne court qu'à compter de la réception".to_owned());
                vec!["sera réputée acceptée le", "sera réputée rejetée le"]
            }
            (SilenceRule::None, Some(_)) => {
                unreachable!("{}: a silence date without a silence rule", self.label)
            }
        };
        (must, must_not)
    }
}

/// The reference table. Weekdays in the labels were checked against a calendar.
pub fn reference_cases() -> Vec<ReferenceCase> {
    use Delay::{Days, Months, WorkingDays};
    use HolidayZone::{AlsaceMoselle, Metropole};
    use SilenceRule::{Acceptance, None as NoSilence, Rejection};

    // A complete request received directly, with its one expected date: for SVA and SVR the
    // due date is the silence date; without implicit decision there is no silence date.
    let case = |label, arrival, delay, silence, zone, due| ReferenceCase {
        label,
        arrival,
        delay,
        silence,
        zone,
        first_receipt_elsewhere: None,
        incomplete: None,
        expected_due: Some(due),
        expected_silence_date: (silence != NoSilence).then_some(due),
    };
    let missing = |requested_on, completed_on| {
        Some(Incompleteness {
            requested_on,
            completed_on,
        })
    };
    vec![
        // --- Month ends: the same day number, else the last day of the month (L231-1).
        case(
            "31 décembre 2025 + 2 mois, SVA : pas de 31 février, dernier jour du mois, \
             samedi 28 février 2026, non reporté",
            d(2025, 12, 31),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 2, 28),
        ),
        case(
            "31 décembre 2027 + 2 mois, SVR : 2028 est bissextile, mardi 29 février 2028",
            d(2027, 12, 31),
            Months(2),
            Rejection,
            Metropole,
            d(2028, 2, 29),
        ),
        case(
            "29 février 2028 + 2 mois, SVA : même quantième, samedi 29 avril 2028",
            d(2028, 2, 29),
            Months(2),
            Acceptance,
            Metropole,
            d(2028, 4, 29),
        ),
        case(
            "29 février 2028 + 12 mois, SVR : pas de 29 février 2029, mercredi 28 février 2029",
            d(2028, 2, 29),
            Months(12),
            Rejection,
            Metropole,
            d(2029, 2, 28),
        ),
        case(
            "31 janvier 2026 + 1 mois, SVA (urbanisme) : pas de 31 février, 28 février 2026",
            d(2026, 1, 31),
            Months(1),
            Acceptance,
            Metropole,
            d(2026, 2, 28),
        ),
        case(
            "30 août 2026 + 2 mois, SVR : vendredi 30 octobre 2026",
            d(2026, 8, 30),
            Months(2),
            Rejection,
            Metropole,
            d(2026, 10, 30),
        ),
        case(
            "31 août 2026 + 1 mois, SVR : pas de 31 septembre, mercredi 30 septembre 2026",
            d(2026, 8, 31),
            Months(1),
            Rejection,
            Metropole,
            d(2026, 9, 30),
        ),
        case(
            "31 août 2026 + 2 mois, SVA : octobre a 31 jours, samedi 31 octobre 2026",
            d(2026, 8, 31),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 10, 31),
        ),
        case(
            "30 janvier 2026 + 30 jours, sans décision implicite : 31 janvier (1), 28 jours \
             de février (29), dimanche 1er mars 2026",
            d(2026, 1, 30),
            Days(30),
            NoSilence,
            Metropole,
            d(2026, 3, 1),
        ),
        // --- Holidays: they never move a delay in months; a delay in working days skips them.
        case(
            "veille du 1er mai : 30 avril 2026 + 2 mois, SVA : mardi 30 juin 2026, les fériés \
             de mai ne déplacent rien",
            d(2026, 4, 30),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 6, 30),
        ),
        case(
            // Fri 1 May off; Mon 4 (1), Tue 5 (2), Wed 6 (3), Thu 7 (4); Fri 8 May off;
            // Mon 11 (5), Tue 12 (6), Wed 13 (7); Thu 14 Ascension off; Fri 15 (8);
            // Mon 18 (9), Tue 19 (10).
            "jeudi 30 avril 2026 + 10 jours ouvrés : 1er mai, 8 mai et Ascension (14 mai) \
             sautés, mardi 19 mai 2026",
            d(2026, 4, 30),
            WorkingDays(10),
            NoSilence,
            Metropole,
            d(2026, 5, 19),
        ),
        case(
            "veille de l'Ascension : 13 mai 2026 + 2 mois, SVR : lundi 13 juillet 2026",
            d(2026, 5, 13),
            Months(2),
            Rejection,
            Metropole,
            d(2026, 7, 13),
        ),
        case(
            // Thu 14 Ascension off; Fri 15 (1); Mon 18 (2), Tue 19 (3).
            "mercredi 13 mai 2026 + 3 jours ouvrés : Ascension sautée, mardi 19 mai 2026",
            d(2026, 5, 13),
            WorkingDays(3),
            NoSilence,
            Metropole,
            d(2026, 5, 19),
        ),
        case(
            "veille du 14 juillet : 13 juillet 2026 + 2 mois, SVA : dimanche 13 septembre \
             2026, non reporté",
            d(2026, 7, 13),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 9, 13),
        ),
        case(
            // Tue 14 off; Wed 15 (1), Thu 16 (2), Fri 17 (3); Mon 20 (4), Tue 21 (5).
            "lundi 13 juillet 2026 + 5 jours ouvrés : 14 juillet sauté, mardi 21 juillet 2026",
            d(2026, 7, 13),
            WorkingDays(5),
            NoSilence,
            Metropole,
            d(2026, 7, 21),
        ),
        // --- Alsace-Moselle: Good Friday and 26 December are holidays too.
        case(
            // Easter 2027 is 28 March. Fri 26 Good Friday off; Sat 27, Sun 28; Mon 29
            // Easter Monday off; Tue 30 (1), Wed 31 (2), Thu 1 Apr (3).
            "Alsace-Moselle, jeudi 25 mars 2027 + 3 jours ouvrés : Vendredi saint et lundi de \
             Pâques sautés, jeudi 1er avril 2027",
            d(2027, 3, 25),
            WorkingDays(3),
            NoSilence,
            AlsaceMoselle,
            d(2027, 4, 1),
        ),
        case(
            // Fri 26 (1); Mon 29 Easter Monday off; Tue 30 (2), Wed 31 (3).
            "même demande hors Alsace-Moselle : le Vendredi saint est ouvré, mercredi 31 mars \
             2027",
            d(2027, 3, 25),
            WorkingDays(3),
            NoSilence,
            Metropole,
            d(2027, 3, 31),
        ),
        case(
            // Thu 25 Christmas off; Fri 26 Saint-Étienne off; Mon 29 (1), Tue 30 (2).
            "Alsace-Moselle, mercredi 24 décembre 2025 + 2 jours ouvrés : 25 et 26 décembre \
             sautés, mardi 30 décembre 2025",
            d(2025, 12, 24),
            WorkingDays(2),
            NoSilence,
            AlsaceMoselle,
            d(2025, 12, 30),
        ),
        case(
            // Thu 25 off; Fri 26 (1); Mon 29 (2).
            "même demande hors Alsace-Moselle : le 26 décembre est ouvré, lundi 29 décembre \
             2025",
            d(2025, 12, 24),
            WorkingDays(2),
            NoSilence,
            Metropole,
            d(2025, 12, 29),
        ),
        // --- L114-5: incomplete requests.
        ReferenceCase {
            incomplete: missing(d(2026, 2, 5), Some(d(2026, 3, 31))),
            ..case(
                "incomplète puis complétée, SVA : reçue le 31 janvier 2026, pièces demandées le \
                 5 février, reçues le 31 mars ; le délai part du 31 mars, dimanche 31 mai 2026",
                d(2026, 1, 31),
                Months(2),
                Acceptance,
                Metropole,
                d(2026, 5, 31),
            )
        },
        ReferenceCase {
            incomplete: missing(d(2026, 1, 10), Some(d(2026, 1, 25))),
            ..case(
                "incomplète puis complétée, SVR : reçue le 31 décembre 2025, fin normale le \
                 28 février 2026 ; suspendu du 10 au 25 janvier, 15 jours, dimanche 15 mars 2026",
                d(2025, 12, 31),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 3, 15),
            )
        },
        ReferenceCase {
            label: "incomplète, pièces attendues, SVA : le délai n'a pas commencé, aucune date",
            arrival: d(2026, 3, 2),
            delay: Months(2),
            silence: Acceptance,
            zone: Metropole,
            first_receipt_elsewhere: None,
            incomplete: missing(d(2026, 3, 10), None),
            expected_due: None,
            expected_silence_date: None,
        },
        // --- L114-2: forwarded by the wrong authority (first receipt 20 December 2025).
        ReferenceCase {
            first_receipt_elsewhere: Some(d(2025, 12, 20)),
            ..case(
                "transmise (L114-2), SVR : première réception le 20 décembre 2025 ailleurs, ici \
                 le 5 janvier 2026 ; le délai part de la première réception, vendredi 20 février \
                 2026",
                d(2026, 1, 5),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 2, 20),
            )
        },
        ReferenceCase {
            first_receipt_elsewhere: Some(d(2025, 12, 20)),
            ..case(
                "transmise (L114-2), SVA : le délai part de la réception ici, le 5 janvier 2026, \
                 jeudi 5 mars 2026",
                d(2026, 1, 5),
                Months(2),
                Acceptance,
                Metropole,
                d(2026, 3, 5),
            )
        },
    ]
}

/// A date of the table. Every literal is a valid date (checked by a test), so the fallback
/// is never taken; it only spares a panic path.
fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        let cases = reference_cases();
        assert!(cases.len() >= 14);
        for c in &cases {
            assert_ne!(c.arrival, NaiveDate::MIN, "{}", c.label);
            assert_ne!(c.expected_due, Some(NaiveDate::MIN), "{}", c.label);
            assert!(!c.label.is_empty());
            assert_eq!(
                c.waiting_for_documents(),
                c.expected_due.is_none(),
                "{}",
                c.label
            );
        }
    }
}
