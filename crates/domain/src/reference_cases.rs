//! Requests whose deadlines were computed by hand: the shared reference for every layer.
//!
//! The domain's own test (`tests/deadline_table.rs`) checks `deadline::compute` and the
//! acknowledgement against them; the application's tests reuse them to check what it
//! stores and sends, so the same hand-checked dates are asserted from the rule to the email.
//!
//! The traps they cover: month ends (31 December gives the end of February, 29 February in a
//! leap year), holidays that never move a delay in months but are skipped by a delay in
//! working days, the Alsace-Moselle and overseas holidays, L114-5 (incomplete request: the
//! suspension bounded by the time given for the documents) and L114-3 (forwarded request),
//! an arrival corrected to the delivery of an email, and Good Friday as a commune setting
//! in Alsace-Moselle. Each label names the rule and article that give its dates.

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
    /// The arrival first recorded, then corrected to `arrival` (issue 16, correction 6: an
    /// email counted from the day it was polled, not delivered). The dates follow `arrival`.
    pub registered_as: Option<NaiveDate>,
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
            must.push("(article L114-3".to_owned());
        }
        // L114-5 al. 3: while documents are awaited with a date to produce them by, the
        // suspension lasts until that date at most, and the AR says so (not "until receipt").
        let awaited_by = self
            .incomplete
            .filter(|i| i.completed_on.is_none())
            .and_then(|i| i.deadline);
        if let (Some(by), SilenceRule::Rejection | SilenceRule::None) = (awaited_by, self.silence) {
            must.push(format!(
                "pour produire les pièces manquantes, jusqu'au {} au plus tard",
                long_date(by)
            ));
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
                if let Some(by) = awaited_by {
                    must.push(format!(
                        "Cette date tient compte de la suspension du délai jusqu'au {}",
                        long_date(by)
                    ));
                }
                vec!["réputée acceptée", "suspendu jusqu'à la réception"]
            }
            (SilenceRule::None, None) => {
                let due = self.expected_due.map(long_date).unwrap_or_default();
                must.push(format!("au plus tard le {due}"));
                must.push("ne vaut ni acceptation ni rejet".to_owned());
                vec!["réputée", "suspendu jusqu'à la réception"]
            }
            // The Code de l'urbanisme's own delays: no CRPA date, and the AR says why.
            (SilenceRule::Urbanism, _) => {
                must.push("Votre demande relève du code de l'urbanisme".to_owned());
                must.push("articles R423-23 et suivants".to_owned());
                vec!["réputée", "www.telerecours.fr", "L232-3"]
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
    use HolidayZone::{
        AlsaceMoselle, AlsaceMoselleWithoutGoodFriday, Guadeloupe, Guyane, LaReunion, Martinique,
        Mayotte, Metropole, SaintBarthelemy, SaintMartin,
    };
    use SilenceRule::{Acceptance, None as NoSilence, Rejection, Urbanism};

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
        registered_as: None,
        expected_due: Some(due),
        expected_silence_date: (silence != NoSilence).then_some(due),
    };
    let missing = |requested_on, completed_on| {
        Some(Incompleteness {
            requested_on,
            completed_on,
            deadline: None,
        })
    };
    // L114-5 as the law has it since deadlines are recorded: asked with a date to produce
    // the documents by.
    let missing_by = |requested_on, deadline, completed_on| {
        Some(Incompleteness {
            requested_on,
            completed_on,
            deadline: Some(deadline),
        })
    };
    vec![
        // --- Month ends: the same day number, else the last day of the month (L231-1).
        case(
            "31 décembre 2025 + 2 mois, SVA : pas de 31 février, dernier jour du mois, \
             samedi 28 février 2026, non reporté (L231-1)",
            d(2025, 12, 31),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 2, 28),
        ),
        case(
            "31 décembre 2027 + 2 mois, SVR : 2028 est bissextile, mardi 29 février 2028 (L231-4)",
            d(2027, 12, 31),
            Months(2),
            Rejection,
            Metropole,
            d(2028, 2, 29),
        ),
        case(
            "29 février 2028 + 2 mois, SVA : même quantième, samedi 29 avril 2028 (L231-1)",
            d(2028, 2, 29),
            Months(2),
            Acceptance,
            Metropole,
            d(2028, 4, 29),
        ),
        case(
            "29 février 2028 + 12 mois, SVR : pas de 29 février 2029, mercredi 28 février 2029 (L231-4)",
            d(2028, 2, 29),
            Months(12),
            Rejection,
            Metropole,
            d(2029, 2, 28),
        ),
        case(
            "31 janvier 2026 + 1 mois, SVA : pas de 31 février, 28 février 2026 (L231-1)",
            d(2026, 1, 31),
            Months(1),
            Acceptance,
            Metropole,
            d(2026, 2, 28),
        ),
        case(
            "30 août 2026 + 2 mois, SVR : vendredi 30 octobre 2026 (L231-4)",
            d(2026, 8, 30),
            Months(2),
            Rejection,
            Metropole,
            d(2026, 10, 30),
        ),
        case(
            "31 août 2026 + 1 mois, SVR : pas de 31 septembre, mercredi 30 septembre 2026 (L231-4)",
            d(2026, 8, 31),
            Months(1),
            Rejection,
            Metropole,
            d(2026, 9, 30),
        ),
        case(
            "31 août 2026 + 2 mois, SVA : octobre a 31 jours, samedi 31 octobre 2026 (L231-1)",
            d(2026, 8, 31),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 10, 31),
        ),
        case(
            "30 janvier 2026 + 30 jours, sans décision implicite : 31 janvier (1), 28 jours \
             de février (29), dimanche 1er mars 2026 (comme l'article 641 du code de procédure civile)",
            d(2026, 1, 30),
            Days(30),
            NoSilence,
            Metropole,
            d(2026, 3, 1),
        ),
        // --- Holidays: they never move a delay in months; a delay in working days skips them.
        case(
            "veille du 1er mai : 30 avril 2026 + 2 mois, SVA : mardi 30 juin 2026, les fériés \
             de mai ne déplacent rien (L231-1)",
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
             sautés, mardi 19 mai 2026 (fériés : code du travail, L3133-1)",
            d(2026, 4, 30),
            WorkingDays(10),
            NoSilence,
            Metropole,
            d(2026, 5, 19),
        ),
        case(
            "veille de l'Ascension : 13 mai 2026 + 2 mois, SVR : lundi 13 juillet 2026 (L231-4)",
            d(2026, 5, 13),
            Months(2),
            Rejection,
            Metropole,
            d(2026, 7, 13),
        ),
        case(
            // Thu 14 Ascension off; Fri 15 (1); Mon 18 (2), Tue 19 (3).
            "mercredi 13 mai 2026 + 3 jours ouvrés : Ascension sautée, mardi 19 mai 2026 (fériés : code du travail, L3133-1)",
            d(2026, 5, 13),
            WorkingDays(3),
            NoSilence,
            Metropole,
            d(2026, 5, 19),
        ),
        case(
            "veille du 14 juillet : 13 juillet 2026 + 2 mois, SVA : dimanche 13 septembre \
             2026, non reporté (L231-1)",
            d(2026, 7, 13),
            Months(2),
            Acceptance,
            Metropole,
            d(2026, 9, 13),
        ),
        case(
            // Tue 14 off; Wed 15 (1), Thu 16 (2), Fri 17 (3); Mon 20 (4), Tue 21 (5).
            "lundi 13 juillet 2026 + 5 jours ouvrés : 14 juillet sauté, mardi 21 juillet 2026 (fériés : code du travail, L3133-1)",
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
             Pâques sautés, jeudi 1er avril 2027 (code du travail, L3134-13)",
            d(2027, 3, 25),
            WorkingDays(3),
            NoSilence,
            AlsaceMoselle,
            d(2027, 4, 1),
        ),
        case(
            // Fri 26 (1); Mon 29 Easter Monday off; Tue 30 (2), Wed 31 (3).
            "même demande hors Alsace-Moselle : le Vendredi saint est ouvré, mercredi 31 mars \
             2027 (fériés : code du travail, L3133-1)",
            d(2027, 3, 25),
            WorkingDays(3),
            NoSilence,
            Metropole,
            d(2027, 3, 31),
        ),
        case(
            // Thu 25 Christmas off; Fri 26 Saint-Étienne off; Mon 29 (1), Tue 30 (2).
            "Alsace-Moselle, mercredi 24 décembre 2025 + 2 jours ouvrés : 25 et 26 décembre \
             sautés, mardi 30 décembre 2025 (code du travail, L3134-13)",
            d(2025, 12, 24),
            WorkingDays(2),
            NoSilence,
            AlsaceMoselle,
            d(2025, 12, 30),
        ),
        case(
            // Thu 25 off; Fri 26 (1); Mon 29 (2).
            "même demande hors Alsace-Moselle : le 26 décembre est ouvré, lundi 29 décembre \
             2025 (fériés : code du travail, L3133-1)",
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
                 5 février, reçues le 31 mars ; le délai part du 31 mars, dimanche 31 mai 2026 (L114-5 al. 2)",
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
                 28 février 2026 ; suspendu du 10 au 25 janvier, 15 jours, dimanche 15 mars 2026 (L114-5 al. 3)",
                d(2025, 12, 31),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 3, 15),
            )
        },
        ReferenceCase {
            label: "incomplète, pièces attendues, SVA : le délai n'a pas commencé, aucune date (L114-5 al. 2)",
            arrival: d(2026, 3, 2),
            delay: Months(2),
            silence: Acceptance,
            zone: Metropole,
            first_receipt_elsewhere: None,
            registered_as: None,
            incomplete: missing(d(2026, 3, 10), None),
            expected_due: None,
            expected_silence_date: None,
        },
        // --- L114-5 al. 3 (Camara, CE 13 janvier 2003): the suspension lasts the time given
        // for the documents at most; documents produced earlier end it. Arrival Monday
        // 2 March 2026, 2 months: normal end Saturday 2 May 2026.
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 10), d(2026, 4, 10), None),
            ..case(
                "SVR, pièces demandées le 10 mars pour le 10 avril, jamais produites : suspendu \
                 du 10 mars au 10 avril, 31 jours ; 2 mai + 31 jours, mardi 2 juin 2026 (L114-5 al. 3)",
                d(2026, 3, 2),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 6, 2),
            )
        },
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 10), d(2026, 4, 10), Some(d(2026, 3, 20))),
            ..case(
                "SVR, pièces demandées le 10 mars pour le 10 avril, produites le 20 mars : la \
                 suspension finit le 20 mars, 10 jours ; mardi 12 mai 2026 (L114-5 al. 3)",
                d(2026, 3, 2),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 5, 12),
            )
        },
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 10), d(2026, 4, 10), Some(d(2026, 4, 20))),
            ..case(
                "SVR, pièces produites le 20 avril, après la date fixée (10 avril) : le retard \
                 n'allonge rien, 31 jours ; mardi 2 juin 2026 (L114-5 al. 3)",
                d(2026, 3, 2),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 6, 2),
            )
        },
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 10), d(2026, 3, 11), None),
            ..case(
                "SVR, pièces demandées le 10 mars pour le lendemain, jamais produites : un jour \
                 de suspension ; dimanche 3 mai 2026, non reporté (L114-5 al. 3)",
                d(2026, 3, 2),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 5, 3),
            )
        },
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 5), d(2026, 4, 5), None),
            ..case(
                "sans décision implicite, 30 jours : fin normale mercredi 1er avril 2026 ; \
                 pièces demandées le 5 mars pour le 5 avril, jamais produites, 31 jours ; \
                 samedi 2 mai 2026 (L114-5, suspension bornée comme à l'al. 3)",
                d(2026, 3, 2),
                Days(30),
                NoSilence,
                Metropole,
                d(2026, 5, 2),
            )
        },
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 5), d(2026, 4, 5), Some(d(2026, 3, 12))),
            ..case(
                "sans décision implicite, 30 jours, pièces produites le 12 mars : 7 jours ; \
                 mercredi 8 avril 2026 (L114-5, suspension bornée comme à l'al. 3)",
                d(2026, 3, 2),
                Days(30),
                NoSilence,
                Metropole,
                d(2026, 4, 8),
            )
        },
        ReferenceCase {
            label: "SVA, pièces demandées le 10 mars pour le 10 avril, jamais produites : le \
                    délai ne commence pas, aucune date (L114-5 al. 2)",
            arrival: d(2026, 3, 2),
            delay: Months(2),
            silence: Acceptance,
            zone: Metropole,
            first_receipt_elsewhere: None,
            registered_as: None,
            incomplete: missing_by(d(2026, 3, 10), d(2026, 4, 10), None),
            expected_due: None,
            expected_silence_date: None,
        },
        ReferenceCase {
            incomplete: missing_by(d(2026, 3, 10), d(2026, 4, 10), Some(d(2026, 4, 20))),
            ..case(
                "SVA, pièces produites le 20 avril, après la date fixée : le délai part de leur \
                 réception, samedi 20 juin 2026 (L114-5 al. 2)",
                d(2026, 3, 2),
                Months(2),
                Acceptance,
                Metropole,
                d(2026, 6, 20),
            )
        },
        // --- Overseas: the abolition of slavery is a public holiday (loi n° 83-550, décret
        // n° 83-1003): skipped by delays in working days, never moving a delay in months.
        case(
            // Wed 27 May off; Thu 28 (1), Fri 29 (2), Mon 1 June (3).
            "Guadeloupe, mardi 26 mai 2026 + 3 jours ouvrés : 27 mai férié, lundi 1er juin 2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 5, 26),
            WorkingDays(3),
            NoSilence,
            Guadeloupe,
            d(2026, 6, 1),
        ),
        case(
            // Wed 27 (1), Thu 28 (2), Fri 29 (3).
            "même demande en métropole : vendredi 29 mai 2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 5, 26),
            WorkingDays(3),
            NoSilence,
            Metropole,
            d(2026, 5, 29),
        ),
        case(
            // Fri 22 off; Mon 25 Whit Monday off; Tue 26 (1), Wed 27 (2).
            "Martinique, jeudi 21 mai 2026 + 2 jours ouvrés : 22 mai et lundi de Pentecôte \
             fériés, mercredi 27 mai 2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 5, 21),
            WorkingDays(2),
            NoSilence,
            Martinique,
            d(2026, 5, 27),
        ),
        case(
            "Guyane, mardi 9 juin 2026 + 1 jour ouvré : 10 juin férié, jeudi 11 juin 2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 6, 9),
            WorkingDays(1),
            NoSilence,
            Guyane,
            d(2026, 6, 11),
        ),
        case(
            // Mon 20 Dec off; Tue 21 (1), Wed 22 (2).
            "La Réunion, vendredi 17 décembre 2027 + 2 jours ouvrés : 20 décembre férié, \
             mercredi 22 décembre 2027 (loi n° 83-550, décret n° 83-1003)",
            d(2027, 12, 17),
            WorkingDays(2),
            NoSilence,
            LaReunion,
            d(2027, 12, 22),
        ),
        case(
            "Mayotte, vendredi 24 avril 2026 + 1 jour ouvré : 27 avril férié, mardi 28 avril \
             2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 4, 24),
            WorkingDays(1),
            NoSilence,
            Mayotte,
            d(2026, 4, 28),
        ),
        case(
            "Saint-Martin, mercredi 27 mai 2026 + 1 jour ouvré : 28 mai férié, vendredi 29 mai \
             2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 5, 27),
            WorkingDays(1),
            NoSilence,
            SaintMartin,
            d(2026, 5, 29),
        ),
        case(
            "Saint-Barthélemy, jeudi 8 octobre 2026 + 1 jour ouvré : 9 octobre férié, lundi \
             12 octobre 2026 (loi n° 83-550, décret n° 83-1003)",
            d(2026, 10, 8),
            WorkingDays(1),
            NoSilence,
            SaintBarthelemy,
            d(2026, 10, 12),
        ),
        case(
            "Guadeloupe, SVR, 27 mars 2026 + 2 mois : mercredi 27 mai 2026, jour férié, non \
             reporté (L231-4 ; loi n° 83-550)",
            d(2026, 3, 27),
            Months(2),
            Rejection,
            Guadeloupe,
            d(2026, 5, 27),
        ),
        // --- L114-3: forwarded (L114-2) by the wrong authority (first receipt 20 December 2025).
        ReferenceCase {
            first_receipt_elsewhere: Some(d(2025, 12, 20)),
            ..case(
                "transmise (L114-2, délai L114-3), SVR : première réception le 20 décembre 2025 ailleurs, ici \
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
                "transmise (L114-2, délai L114-3), SVA : le délai part de la réception ici, le 5 janvier 2026, \
                 jeudi 5 mars 2026",
                d(2026, 1, 5),
                Months(2),
                Acceptance,
                Metropole,
                d(2026, 3, 5),
            )
        },
        // --- The arrival corrected (issue 16, correction 6): an email counts from its
        // delivery (its topmost Received header), not from the day the mailbox was polled,
        // and a wrong arrival is corrected with a reason; the delays run from receipt.
        ReferenceCase {
            registered_as: Some(d(2026, 11, 9)),
            ..case(
                "courriel délivré le vendredi 6 novembre 2026, relevé le lundi 9 : arrivée \
                 corrigée au 6, SVA ; mercredi 6 janvier 2027 (L231-1)",
                d(2026, 11, 6),
                Months(2),
                Acceptance,
                Metropole,
                d(2027, 1, 6),
            )
        },
        ReferenceCase {
            registered_as: Some(d(2026, 11, 2)),
            ..case(
                "courriel délivré le samedi 31 octobre 2026, relevé le lundi 2 novembre : \
                 arrivée corrigée au 31, SVR ; jeudi 31 décembre 2026 (L231-4)",
                d(2026, 10, 31),
                Months(2),
                Rejection,
                Metropole,
                d(2026, 12, 31),
            )
        },
        ReferenceCase {
            registered_as: Some(d(2026, 11, 3)),
            ..case(
                // Mon 2 (1), Tue 3 (2), Wed 4 (3), Thu 5 (4), Fri 6 (5), Mon 9 (6), Tue 10
                // (7); Wed 11 Armistice off; Thu 12 (8), Fri 13 (9), Mon 16 (10).
                "courriel délivré le vendredi 30 octobre 2026, relevé le mardi 3 novembre : \
                 arrivée corrigée au 30 ; + 10 jours ouvrés, 11 novembre sauté, lundi 16 \
                 novembre 2026 (fériés : code du travail, L3133-1)",
                d(2026, 10, 30),
                WorkingDays(10),
                NoSilence,
                Metropole,
                d(2026, 11, 16),
            )
        },
        ReferenceCase {
            registered_as: Some(d(2026, 3, 2)),
            ..case(
                "lettre enregistrée par erreur comme arrivée le 2 mars 2026, arrivée le jeudi \
                 12 mars : arrivée corrigée au 12, SVA ; mardi 12 mai 2026 (L231-1)",
                d(2026, 3, 12),
                Months(2),
                Acceptance,
                Metropole,
                d(2026, 5, 12),
            )
        },
        ReferenceCase {
            registered_as: Some(d(2026, 11, 9)),
            incomplete: missing_by(d(2026, 11, 16), d(2026, 12, 16), Some(d(2026, 11, 26))),
            ..case(
                "courriel délivré le vendredi 6 novembre 2026, relevé le lundi 9, arrivée \
                 corrigée au 6, SVR : fin normale mercredi 6 janvier 2027 ; pièces demandées le \
                 16 novembre pour le 16 décembre, produites le 26 novembre, 10 jours de \
                 suspension ; samedi 16 janvier 2027 (L231-4, L114-5 al. 3)",
                d(2026, 11, 6),
                Months(2),
                Rejection,
                Metropole,
                d(2027, 1, 16),
            )
        },
        // --- Good Friday, a commune setting in Alsace-Moselle (issue 16, correction 10): a
        // holiday only in communes with a Protestant temple or a mixed church; 26 December
        // in all of them (code du travail, L3134-13). Easter 2026 is 5 April.
        case(
            // Fri 26 (1); Mon 29 Easter Monday off; Tue 30 (2), Wed 31 (3).
            "Alsace-Moselle, commune sans temple protestant ni église mixte, jeudi 25 mars 2027 \
             + 3 jours ouvrés : Vendredi saint ouvré, lundi de Pâques sauté, mercredi 31 mars \
             2027 (code du travail, L3134-13)",
            d(2027, 3, 25),
            WorkingDays(3),
            NoSilence,
            AlsaceMoselleWithoutGoodFriday,
            d(2027, 3, 31),
        ),
        case(
            // Thu 25 off; Fri 26 Saint-Étienne off all the same; Mon 29 (1), Tue 30 (2).
            "Alsace-Moselle, commune sans temple protestant ni église mixte, mercredi 24 \
             décembre 2025 + 2 jours ouvrés : le 26 décembre reste férié, mardi 30 décembre \
             2025 (code du travail, L3134-13)",
            d(2025, 12, 24),
            WorkingDays(2),
            NoSilence,
            AlsaceMoselleWithoutGoodFriday,
            d(2025, 12, 30),
        ),
        case(
            // Fri 3 Good Friday off; Sat 4, Sun 5; Mon 6 Easter Monday off; Tue 7 (1).
            "Alsace-Moselle, commune ayant un temple protestant, jeudi 2 avril 2026 + 1 jour \
             ouvré : Vendredi saint et lundi de Pâques sautés, mardi 7 avril 2026 (code du \
             travail, L3134-13)",
            d(2026, 4, 2),
            WorkingDays(1),
            NoSilence,
            AlsaceMoselle,
            d(2026, 4, 7),
        ),
        // --- Urbanism (issue 16, correction 11): the Code de l'urbanisme sets its own delays
        // (R423-23: one month for a déclaration préalable, two for a house's permit, three
        // for other permits), which run from a complete file and can be changed within the
        // month (R423-38, R423-42): no CRPA date is computed.
        ReferenceCase {
            label: "déclaration préalable reçue le lundi 2 mars 2026 : code de l'urbanisme, \
                    aucune date du CRPA, le délai d'un mois de l'article R423-23 court du \
                    dossier complet (R423-19)",
            arrival: d(2026, 3, 2),
            delay: Months(1),
            silence: Urbanism,
            zone: Metropole,
            first_receipt_elsewhere: None,
            incomplete: None,
            registered_as: None,
            expected_due: None,
            expected_silence_date: None,
        },
        ReferenceCase {
            label: "permis de construire reçu le samedi 31 janvier 2026, pièces demandées le \
                    10 février : code de l'urbanisme, trois mois pour les produire (R423-39), \
                    aucune date du CRPA",
            arrival: d(2026, 1, 31),
            delay: Months(2),
            silence: Urbanism,
            zone: Metropole,
            first_receipt_elsewhere: None,
            incomplete: missing_by(d(2026, 2, 10), d(2026, 5, 10), None),
            registered_as: None,
            expected_due: None,
            expected_silence_date: None,
        },
        case(
            // Fri 3 (1).
            "Alsace-Moselle, commune sans temple protestant ni église mixte, jeudi 2 avril \
             2026 + 1 jour ouvré : vendredi 3 avril 2026, Vendredi saint ouvré (code du \
             travail, L3134-13)",
            d(2026, 4, 2),
            WorkingDays(1),
            NoSilence,
            AlsaceMoselleWithoutGoodFriday,
            d(2026, 4, 3),
        ),
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
        // 24 before issue 16, which asked for 25 more.
        assert!(cases.len() >= 49, "{} rows", cases.len());
        for c in &cases {
            // Each row says which rule and article give its dates.
            assert!(
                [
                    "L231-1", "L231-4", "L114-", "L3133-1", "L3134-13", "83-550", "641", "R423",
                    "L112-"
                ]
                .iter()
                .any(|article| c.label.contains(article)),
                "no article: {}",
                c.label
            );
            if c.silence == SilenceRule::Urbanism {
                assert_eq!((c.expected_due, c.expected_silence_date), (None, None));
                continue;
            }
            if let Some(first) = c.registered_as {
                assert_ne!(first, c.arrival, "{}", c.label);
            }
            assert_ne!(c.arrival, NaiveDate::MIN, "{}", c.label);
            assert_ne!(c.expected_due, Some(NaiveDate::MIN), "{}", c.label);
            assert!(!c.label.is_empty());
            // Only an awaited document with no end to the suspension leaves no date: SVA
            // (the delay has not started) or a request made without a date for them.
            let open_ended = c.incomplete.is_some_and(|i| {
                i.completed_on.is_none()
                    && (c.silence == SilenceRule::Acceptance || i.deadline.is_none())
            });
            assert_eq!(open_ended, c.expected_due.is_none(), "{}", c.label);
        }
    }
}
