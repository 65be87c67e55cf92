//! The law through the binary (issue 16): every row of the hand-checked reference table
//! registered with `parapheur register`, its arrival corrected (`item arrival`), its
//! documents asked for and received (`item documents`), and its dates read back with
//! `item show --json`; and the refusals of those commands, in French.

use chrono::{Months, NaiveDate};
use parapheur_domain::reference_cases::reference_cases;
use parapheur_domain::{HolidayZone, SilenceRule};
use serde_json::Value;

use super::{Backend, Register, assert_refused, assert_success, json};

/// The instant every command of these tests acts at (after every date of the table).
const CLOCK: &str = "2028-09-01T09:00:00Z";

/// One commune per holiday zone of the table (real INSEE codes).
const COMMUNES: [(HolidayZone, &str); 10] = [
    (HolidayZone::Metropole, "37154"),                      // Montbazon
    (HolidayZone::AlsaceMoselle, "67482"),                  // Strasbourg
    (HolidayZone::AlsaceMoselleWithoutGoodFriday, "57463"), // Metz, Good Friday worked
    (HolidayZone::Guadeloupe, "97105"),                     // Basse-Terre
    (HolidayZone::Martinique, "97209"),                     // Fort-de-France
    (HolidayZone::Guyane, "97302"),                         // Cayenne
    (HolidayZone::LaReunion, "97411"),                      // Saint-Denis
    (HolidayZone::Mayotte, "97611"),                        // Mamoudzou
    (HolidayZone::SaintBarthelemy, "97701"),                // Saint-Barthélemy
    (HolidayZone::SaintMartin, "97801"),                    // Saint-Martin
];

impl Register {
    /// The binary at [`CLOCK`], `--json`, for the commune `insee`; asserts success.
    fn at_clock(&self, sub: &[&str], insee: &str, args: &[&str]) -> Value {
        let out = self.at_clock_raw(sub, insee, args);
        assert_success(&out, &format!("{sub:?} {args:?}"));
        json(&out)
    }

    fn at_clock_raw(&self, sub: &[&str], insee: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--json", "--commune", insee];
        all.extend_from_slice(args);
        self.run_env(sub, &all, &[("PARAPHEUR_TEST_CLOCK", CLOCK)])
    }
}

fn date(v: &Value) -> Option<NaiveDate> {
    v.as_str()
        .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn silence_code(rule: SilenceRule) -> &'static str {
    match rule {
        SilenceRule::Acceptance => "acceptance",
        SilenceRule::Rejection => "rejection",
        SilenceRule::None => "none",
        SilenceRule::Urbanism => "urbanism",
    }
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn reference_rows_through_the_binary(backend: Backend) {
    let Some(r) = Register::new(backend) else {
        return;
    };
    for (_, insee) in COMMUNES {
        assert_success(&r.run_init(insee), &format!("init {insee}"));
    }
    // Good Friday is a commune setting in Alsace-Moselle (L3134-13).
    let metz = r.at_clock(&["commune", "set"], "57463", &["--good-friday", "non"]);
    assert_eq!(metz["good_friday"], false, "{metz}");
    let refused = r.at_clock_raw(&["commune", "set"], "37154", &["--good-friday", "non"]);
    assert_refused(&refused, &["Vendredi saint", "L3134-13"]);

    let cases = reference_cases();
    assert!(cases.len() >= 49, "{} rows", cases.len());
    for (n, case) in cases.iter().enumerate() {
        let insee = COMMUNES
            .iter()
            .find(|(zone, _)| *zone == case.zone)
            .map(|(_, insee)| *insee)
            .unwrap();
        let code = format!("cas-{n}");
        r.at_clock(
            &["doctype", "add"],
            insee,
            &[
                "--code",
                &code,
                "--label",
                &format!("Demande {n}"),
                "--delay",
                &case.delay.to_string(),
                "--silence",
                silence_code(case.silence),
            ],
        );
        let first = ymd(case.registered_as.unwrap_or(case.arrival));
        let subject = format!("Demande n° {n}");
        let mut args = vec![
            "--channel",
            if n % 2 == 1 { "email" } else { "paper" },
            "--subject",
            &subject,
            "--type",
            &code,
            "--arrived",
            &first,
        ];
        let elsewhere = case.first_receipt_elsewhere.map(ymd);
        if let Some(on) = &elsewhere {
            args.extend(["--first-received", on]);
        }
        let registered = r.at_clock(&["register"], insee, &args);
        let chrono = registered["item"]["chrono"].as_str().unwrap().to_owned();
        if case.registered_as.is_some() {
            let item = r.at_clock(
                &["item", "arrival"],
                insee,
                &[
                    &chrono,
                    "--date",
                    &ymd(case.arrival),
                    "--reason",
                    "délivré avant la relève",
                ],
            );
            assert_eq!(
                date(&item["arrival_date"]),
                Some(case.arrival),
                "{}",
                case.label
            );
        }
        if let Some(missing) = case.incomplete {
            // A row without a date for the documents had the default of one month; through
            // the command line a past request must state it where it sets the dates.
            let deadline = missing.deadline.or_else(|| {
                (case.silence != SilenceRule::Acceptance).then(|| {
                    missing
                        .requested_on
                        .checked_add_months(Months::new(1))
                        .unwrap()
                })
            });
            let requested = ymd(missing.requested_on);
            let by = deadline.map(ymd);
            let mut args = vec![
                chrono.as_str(),
                "--requested",
                &requested,
                "--list",
                "Plan de situation",
                "--list",
                "Pièce d'identité",
            ];
            if let Some(by) = &by {
                args.extend(["--deadline", by]);
            }
            let item = r.at_clock(&["item", "documents"], insee, &args);
            assert_eq!(item["status"], "awaiting_documents", "{}", case.label);
            if let Some(on) = missing.completed_on {
                r.at_clock(
                    &["item", "documents"],
                    insee,
                    &[&chrono, "--received", &ymd(on)],
                );
            }
        }
        let shown = r.at_clock(&["item", "show"], insee, &[&chrono]);
        let item = &shown["item"];
        assert_eq!(
            date(&item["arrival_date"]),
            Some(case.arrival),
            "{}",
            case.label
        );
        assert_eq!(
            date(&item["due_date"]),
            case.expected_due,
            "due: {}",
            case.label
        );
        assert_eq!(
            date(&item["silence_date"]),
            case.expected_silence_date,
            "silence date: {}",
            case.label
        );
    }
    r.assert_sound();
}

/// What the law refuses, the commands refuse, with the reason in French.
pub(super) fn deadline_changes_refuse_what_the_law_refuses(backend: Backend) {
    let Some(r) = Register::new(backend) else {
        return;
    };
    let insee = "37154";
    assert_success(&r.run_init(insee), "init");
    for (code, silence) in [("sva", "acceptance"), ("svr", "rejection")] {
        r.at_clock(
            &["doctype", "add"],
            insee,
            &[
                "--code",
                code,
                "--label",
                code,
                "--delay",
                "2m",
                "--silence",
                silence,
            ],
        );
    }
    let register = |arrived: &str| {
        let v = r.at_clock(
            &["register"],
            insee,
            &[
                "--channel",
                "email",
                "--subject",
                "Demande",
                "--arrived",
                arrived,
            ],
        );
        v["item"]["chrono"].as_str().unwrap().to_owned()
    };
    let a = register("2028-03-02");
    let refused = |sub: &[&str], args: &[&str], needles: &[&str]| {
        let out = r.at_clock_raw(sub, insee, args);
        assert_refused(&out, needles);
    };
    // Classify: an unknown type; then a type, and its dates.
    refused(
        &["item", "classify"],
        &[&a, "--type", "inconnu"],
        &["inconnu"],
    );
    let item = r.at_clock(&["item", "classify"], insee, &[&a, "--type", "svr"]);
    assert_eq!(item["silence_date"], "2028-05-02", "{item}");

    // Arrival: no reason, in the future, after the registration, the same date.
    refused(
        &["item", "arrival"],
        &[&a, "--date", "2028-03-01", "--reason", "  "],
        &["motif"],
    );
    refused(
        &["item", "arrival"],
        &[&a, "--date", "2028-09-02", "--reason", "erreur"],
        &["futur"],
    );
    refused(
        &["item", "arrival"],
        &[&a, "--date", "2028-03-02", "--reason", "erreur"],
        &["déjà la date d'arrivée"],
    );
    let item = r.at_clock(
        &["item", "arrival"],
        insee,
        &[
            &a,
            "--date",
            "2028-02-28",
            "--reason",
            "courriel délivré le lundi",
        ],
    );
    assert_eq!(item["arrival_date"], "2028-02-28");
    assert_eq!(
        item["silence_date"], "2028-04-28",
        "the dates follow: {item}"
    );

    // Documents: a past request for an SVR without the date given for them; a request
    // before the arrival; after the silence date; a receipt before the request.
    refused(
        &["item", "documents"],
        &[&a, "--requested", "2028-03-10", "--list", "Plan"],
        &["date fixée", "L114-5"],
    );
    refused(
        &["item", "documents"],
        &[
            &a,
            "--requested",
            "2028-02-01",
            "--list",
            "Plan",
            "--deadline",
            "2028-03-01",
        ],
        &["entre l'arrivée et aujourd'hui"],
    );
    refused(
        &["item", "documents"],
        &[
            &a,
            "--requested",
            "2028-05-10",
            "--list",
            "Plan",
            "--deadline",
            "2028-06-10",
        ],
        &["décision implicite", "L114-5"],
    );
    refused(
        &["item", "documents"],
        &[&a, "--received", "2028-03-10"],
        &["aucune pièce n'a été demandée"],
    );
    let item = r.at_clock(
        &["item", "documents"],
        insee,
        &[
            &a,
            "--requested",
            "2028-03-10",
            "--list",
            "Plan",
            "--deadline",
            "2028-04-10",
        ],
    );
    assert_eq!(
        item["silence_date"], "2028-05-29",
        "suspended 31 days: {item}"
    );
    refused(
        &["item", "documents"],
        &[&a, "--received", "2028-03-09"],
        &["entre leur demande et aujourd'hui"],
    );
    // The arrival cannot move after the request for documents.
    refused(
        &["item", "arrival"],
        &[&a, "--date", "2028-03-11", "--reason", "erreur"],
        &["L114-5"],
    );
    let item = r.at_clock(
        &["item", "documents"],
        insee,
        &[&a, "--received", "2028-03-20"],
    );
    assert_eq!(item["silence_date"], "2028-05-08", "10 days: {item}");

    // Closed, the arrival stays.
    r.at_clock(
        &["item", "status"],
        insee,
        &[&a, "--to", "closed", "--reason", "answered"],
    );
    refused(
        &["item", "arrival"],
        &[&a, "--date", "2028-02-27", "--reason", "erreur"],
        &["clos"],
    );
    refused(&["item", "classify"], &[&a, "--type", "sva"], &["clos"]);

    // L114-2: forwarded to the competent authority, closed as forwarded, once.
    let c = register("2028-08-20");
    refused(
        &["item", "forward"],
        &[&c, "--to", " "],
        &["autorité compétente"],
    );
    let item = r.at_clock(
        &["item", "forward"],
        insee,
        &[&c, "--to", "Préfecture d'Indre-et-Loire"],
    );
    assert_eq!(item["status"], "closed", "{item}");
    assert_eq!(item["close_reason"], "forwarded", "{item}");
    refused(&["item", "forward"], &[&c, "--to", "Autre"], &["L114-2"]);

    // The text output names the dates.
    let b = register("2028-08-01");
    let out = r.run_env(
        &["item", "classify"],
        &["--commune", insee, &b, "--type", "sva"],
        &[("PARAPHEUR_TEST_CLOCK", CLOCK)],
    );
    assert_success(&out, "classify");
    let text = super::stdout(&out);
    assert!(
        text.contains("décision implicite le : 2028-10-01"),
        "{text}"
    );
    r.assert_sound();
}
