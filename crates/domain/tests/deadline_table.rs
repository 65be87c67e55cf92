//! The hand-checked reference table (`reference_cases`), from the deadline rule to the text
//! of the acknowledgement of receipt.
//!
//! Each row's computation is written in its label, in `src/reference_cases.rs`; the rows
//! are:
//!
//! | arrival | delay | rule | expected | why |
//! |---|---|---|---|---|
//! | 31 Dec 2025 | 2 months | SVA | 28 Feb 2026 | no 31 Feb: last day; a Saturday, kept |
//! | 31 Dec 2027 | 2 months | SVR | 29 Feb 2028 | leap year |
//! | 29 Feb 2028 | 2 months | SVA | 29 Apr 2028 | same day number |
//! | 29 Feb 2028 | 12 months | SVR | 28 Feb 2029 | no 29 Feb 2029 |
//! | 31 Jan 2026 | 1 month | SVA | 28 Feb 2026 | no 31 Feb |
//! | 30 Aug 2026 | 2 months | SVR | 30 Oct 2026 | same day number |
//! | 31 Aug 2026 | 1 month | SVR | 30 Sep 2026 | no 31 Sep |
//! | 31 Aug 2026 | 2 months | SVA | 31 Oct 2026 | October has 31 days |
//! | 30 Jan 2026 | 30 days | none | 1 Mar 2026 | 1 (31 Jan) + 28 (Feb) + 1 |
//! | 30 Apr 2026 | 2 months | SVA | 30 Jun 2026 | 1 May moves no month |
//! | 30 Apr 2026 | 10 working days | none | 19 May 2026 | skips 1 May, 8 May, Ascension |
//! | 13 May 2026 | 2 months | SVR | 13 Jul 2026 | Ascension moves no month |
//! | 13 May 2026 | 3 working days | none | 19 May 2026 | skips Ascension |
//! | 13 Jul 2026 | 2 months | SVA | 13 Sep 2026 | a Sunday, kept |
//! | 13 Jul 2026 | 5 working days | none | 21 Jul 2026 | skips 14 July |
//! | 25 Mar 2027, Alsace-Moselle | 3 working days | none | 1 Apr 2027 | skips Good Friday, Easter Monday |
//! | 25 Mar 2027 | 3 working days | none | 31 Mar 2027 | Good Friday is worked |
//! | 24 Dec 2025, Alsace-Moselle | 2 working days | none | 30 Dec 2025 | skips 25 and 26 Dec |
//! | 24 Dec 2025 | 2 working days | none | 29 Dec 2025 | 26 Dec is worked |
//! | 31 Jan 2026, documents 5 Feb → 31 Mar | 2 months | SVA | 31 May 2026 | L114-5: restarts |
//! | 31 Dec 2025, documents 10 → 25 Jan | 2 months | SVR | 15 Mar 2026 | L114-5: 28 Feb + 15 days |
//! | 2 Mar 2026, documents awaited | 2 months | SVA | none | L114-5: not started |
//! | 5 Jan 2026, first received 20 Dec 2025 | 2 months | SVR | 20 Feb 2026 | L114-2: first receipt |
//! | 5 Jan 2026, first received 20 Dec 2025 | 2 months | SVA | 5 Mar 2026 | L114-2: receipt here |

#![allow(clippy::unwrap_used, clippy::panic)]

use chrono::NaiveDate;
use parapheur_domain::Channel;
use parapheur_domain::acknowledgement::{
    AckFacts, ServiceContact, acknowledgement_of_receipt, plain_text,
};
use parapheur_domain::deadline::compute;
use parapheur_domain::reference_cases::{ReferenceCase, reference_cases};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn ack_facts(case: &ReferenceCase, electronic: bool) -> AckFacts {
    let deadlines = compute(&case.facts());
    AckFacts {
        commune_name: "Saint-Martin-des-Champs".into(),
        chrono: "2026-A-000123".into(),
        subject: "Demande de référence".into(),
        doctype_label: None,
        arrival: case.arrival,
        first_receipt_elsewhere: case.first_receipt_elsewhere,
        channel: if electronic {
            Channel::Form
        } else {
            Channel::Paper
        },
        delay: case.delay,
        silence: case.silence,
        missing_documents: if deadlines.waiting_for_documents {
            vec!["Plan de situation".into()]
        } else {
            Vec::new()
        },
        deadlines,
        documents_due: case.incomplete.and_then(|i| i.deadline),
        service: ServiceContact {
            name: "Secrétariat de mairie".into(),
            address: "Mairie\n1 place de l'Église\n29600 Saint-Martin-des-Champs".into(),
            email: Some("mairie@saint-martin.example".into()),
            phone: Some("02 98 00 00 00".into()),
        },
        electronic,
        tracking_url: None,
        appeal: Default::default(),
    }
}

#[test]
fn the_reference_table_has_enough_rows() {
    let cases = reference_cases();
    assert!(cases.len() >= 49, "{} rows", cases.len());
    assert!(cases.iter().any(|c| c.registered_as.is_some()));
    assert!(
        cases
            .iter()
            .any(|c| c.zone == parapheur_domain::HolidayZone::AlsaceMoselleWithoutGoodFriday)
    );
    // Each kind of trap is present.
    assert!(cases.iter().any(|c| c.first_receipt_elsewhere.is_some()));
    assert!(
        cases
            .iter()
            .any(|c| c.incomplete.is_some_and(|i| i.completed_on.is_some()))
    );
    assert!(
        cases
            .iter()
            .any(|c| c.zone == parapheur_domain::HolidayZone::AlsaceMoselle)
    );
    assert!(cases.iter().any(|c| c.arrival == d(2028, 2, 29)));
}

#[test]
fn deadlines_match_the_hand_computed_dates() {
    for case in reference_cases() {
        let got = compute(&case.facts());
        assert_eq!(got.due, case.expected_due, "due: {}", case.label);
        assert_eq!(
            got.silence_date, case.expected_silence_date,
            "silence date: {}",
            case.label
        );
        assert_eq!(
            got.waiting_for_documents,
            case.waiting_for_documents(),
            "{}",
            case.label
        );
    }
}

#[test]
fn acknowledgements_state_the_hand_computed_dates() {
    for (i, case) in reference_cases().iter().enumerate() {
        // Paper and electronic alternately, so both wordings meet every kind of row.
        let electronic = i % 2 == 1;
        let text = plain_text(&acknowledgement_of_receipt(&ack_facts(case, electronic)));
        let (must, must_not) = case.ar_mentions(electronic);
        for mention in must {
            assert!(text.contains(&mention), "{}: {mention}\n{text}", case.label);
        }
        for mention in must_not {
            assert!(!text.contains(mention), "{}: {mention}\n{text}", case.label);
        }
        if case.waiting_for_documents() {
            assert!(text.contains("– Plan de situation\n"), "{}", case.label);
        }
    }
}

#[test]
fn forwarded_requests_acknowledge_our_own_receipt() {
    // L114-2: the AR states the date the commune received the request, even when the SVR
    // delay runs from an earlier receipt elsewhere.
    for case in reference_cases()
        .iter()
        .filter(|c| c.first_receipt_elsewhere.is_some())
    {
        let text = plain_text(&acknowledgement_of_receipt(&ack_facts(case, false)));
        assert!(text.contains("le 5 janvier 2026, par courrier."), "{text}");
        // The first receipt elsewhere is told as such, with where the delay runs from.
        assert!(
            !text.contains("a reçu votre demande le 20 décembre 2025"),
            "{text}"
        );
        let from = match case.silence {
            parapheur_domain::SilenceRule::Rejection => "le délai court depuis cette date",
            _ => "le délai court depuis sa réception par la commune",
        };
        assert!(
            text.contains("d'abord été reçue le 20 décembre 2025") && text.contains(from),
            "{text}"
        );
    }
}
