//! The legal content of an acknowledgement of receipt (accusé de réception, AR) and of the
//! registration acknowledgement (accusé d'enregistrement) of an electronic request.
//!
//! The content matters more than the layout: R112-5 lists what a paper AR must state, and
//! R112-11-1 what an electronic one must state; L112-6 makes the appeal time limits
//! unenforceable against the applicant when the AR lacks a required mention. So this module
//! produces the text, as structured sections (a title, headings, paragraphs and lists) that a
//! PDF, an HTML page or an email body lay out as they like; `plain_text` is the email body.
//!
//! Every date is written in full ("1er avril 2026"), so a citizen reads it without doubt.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::deadline::Deadlines;
use crate::delay::{Delay, SilenceRule};
use crate::french::{long_date, of_name, time_of_day, weekday_date};
use crate::item::Channel;

/// The service in charge of the request, as R112-5 2° requires it be named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceContact {
    pub name: String,
    /// Postal address, one line per line of the envelope.
    pub address: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Everything an acknowledgement states about one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckFacts {
    pub commune_name: String,
    /// The request's chrono number in the register: the reference the applicant quotes.
    pub chrono: String,
    pub subject: String,
    pub doctype_label: Option<String>,
    /// Receipt by the commune (the arrival date), the date the AR must state.
    pub arrival: NaiveDate,
    /// L114-2: the day another administration received the request it forwarded to us.
    #[serde(default)]
    pub first_receipt_elsewhere: Option<NaiveDate>,
    pub channel: Channel,
    pub delay: Delay,
    pub silence: SilenceRule,
    /// From `deadline::compute`: the silence date is `None` while documents are missing.
    pub deadlines: Deadlines,
    /// L114-5: the documents the request lacks; empty when it is complete.
    pub missing_documents: Vec<String>,
    /// L114-5: the date by which the commune asks for the missing documents, if it set one.
    pub documents_due: Option<NaiveDate>,
    pub service: ServiceContact,
    /// The request was received electronically (L112-11): the R112-11-1 wording applies.
    pub electronic: bool,
    /// Where the applicant can follow the request online.
    pub tracking_url: Option<String>,
    /// How an implicit rejection is contested, which depends on what was asked.
    #[serde(default)]
    pub appeal: AppealRoute,
}

/// The means of appeal against an implicit rejection (R112-5 asks the AR to state them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealRoute {
    /// A recours gracieux to the maire, or the administrative court.
    #[default]
    Standard,
    /// A request to communicate documents: the CADA first, which is compulsory before the
    /// court (L342-1, R343-1).
    Cada,
    /// The request is itself a recours administratif: only the court remains, and a second
    /// recours would not keep the time limit open.
    CourtOnly,
}

impl AppealRoute {
    /// The route of a document type, by its stable code (`doctype::default_set`).
    pub fn for_doctype(code: Option<&str>) -> Self {
        match code {
            Some("acces-documents") => AppealRoute::Cada,
            Some("recours-gracieux") => AppealRoute::CourtOnly,
            _ => AppealRoute::Standard,
        }
    }
}

/// An acknowledgement as structured text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub title: String,
    /// The number the applicant quotes: the chrono number.
    pub reference: String,
    pub sections: Vec<AckSection>,
}

/// One section: a heading, paragraphs, then an optional list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckSection {
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub list: Vec<String>,
}

impl AckSection {
    fn new(heading: &str) -> Self {
        AckSection {
            heading: heading.to_owned(),
            paragraphs: Vec::new(),
            list: Vec::new(),
        }
    }

    fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.paragraphs.push(text.into());
        self
    }
}

/// The accusé de réception (L112-3, R112-5; L112-11 and R112-11-1 when electronic).
///
/// Its mentions, in order: the date of receipt; the date on which silence becomes a decision,
/// and which (or that silence decides nothing); for an implicit acceptance, the L232-3
/// certificate; for an implicit rejection, the means and time limits of appeal; the missing
/// documents (L114-5); the service in charge; the articles it rests on.
pub fn acknowledgement_of_receipt(facts: &AckFacts) -> Acknowledgement {
    let mut sections = vec![request_section(facts), decision_section(facts)];
    if !facts.missing_documents.is_empty() {
        sections.push(missing_documents_section(facts));
    }
    match facts.silence {
        SilenceRule::Acceptance => sections.push(certificate_section(facts)),
        SilenceRule::Rejection => sections.push(appeal_section(facts)),
        SilenceRule::None | SilenceRule::Urbanism => {}
    }
    sections.push(service_section(&facts.service));
    if let Some(section) = tracking_section(facts) {
        sections.push(section);
    }
    sections.push(legal_basis_section(facts, false));
    Acknowledgement {
        title: if facts.electronic {
            "Accusé de réception électronique".to_owned()
        } else {
            "Accusé de réception".to_owned()
        },
        reference: facts.chrono.clone(),
        sections,
    }
}

/// The accusé d'enregistrement (L112-11): sent at once when an electronic request is
/// registered, when the AR itself cannot be instant (someone must read the request to know
/// its type and whether it is complete). It says when and under which number the request was
/// registered, and that the AR will follow.
pub fn registration_acknowledgement(
    facts: &AckFacts,
    registered_at_local: NaiveDateTime,
) -> Acknowledgement {
    // The accusé d'enregistrement states the date the request was received (R112-11-1 al. 2),
    // which may precede its registration (an email delivered before the mailbox was read).
    let mut registered = AckSection::new("Votre demande").paragraph(format!(
        "Votre demande, reçue le {}, a été enregistrée le {} à {} sous le numéro {}.",
        long_date(facts.arrival),
        weekday_date(registered_at_local.date()),
        time_of_day(registered_at_local.time()),
        facts.chrono
    ));
    registered.list = subject_lines(facts);
    let what_follows = match facts.silence {
        SilenceRule::Acceptance | SilenceRule::Rejection => {
            "il indiquera la date à laquelle, à défaut de décision expresse, votre demande sera \
             réputée acceptée ou rejetée."
        }
        SilenceRule::None => {
            "il indiquera le délai dans lequel la commune s'efforcera de vous répondre."
        }
        SilenceRule::Urbanism => {
            "il indiquera les règles du code de l'urbanisme qui s'appliquent à votre demande."
        }
    };
    let what_follows = format!(
        "Cet accusé d'enregistrement ne vaut pas accusé de réception. Un accusé de réception \
         vous sera adressé au plus tard le {} : {what_follows}",
        long_date(electronic_receipt_due(facts.arrival))
    );
    let mut sections = vec![
        registered,
        AckSection::new("Et ensuite").paragraph(what_follows),
        service_section(&facts.service),
    ];
    if let Some(section) = tracking_section(facts) {
        sections.push(section);
    }
    sections.push(legal_basis_section(facts, true));
    Acknowledgement {
        title: "Accusé d'enregistrement".to_owned(),
        reference: facts.chrono.clone(),
        sections,
    }
}

/// When a request reaches the commune electronically (L112-11), the accusé de réception
/// électronique is due at once or, when not instant, within this many calendar days of
/// receipt, and an accusé d'enregistrement meanwhile, at once or within one working day
/// (R112-11-1 al. 2 and 3 as Légifrance gives it, LEGIARTI000031430621, read on
/// legal.tricoteuses.fr; the numbering R112-11-1 was not checked on Légifrance itself).
/// Service-Public's page F33312 says "10 jours ouvrés" for the accusé de réception: the
/// decree says seven days, and the decree is the law; seven calendar days is also the
/// shorter of the two in every week, so keeping it never makes the commune late.
pub const ELECTRONIC_RECEIPT_DAYS: u64 = 7;

/// The tag capture gives a message sent by a program (auto-reply, mailing list, bulk): no
/// automatic acknowledgement goes back to it (RFC 3834; L112-11 excuses abusive sendings).
pub const AUTOMATED_SENDER_TAG: &str = "envoi-automatique";

/// The last day for the accusé de réception électronique of a request received on `arrival`.
pub fn electronic_receipt_due(arrival: NaiveDate) -> NaiveDate {
    arrival
        .checked_add_days(chrono::Days::new(ELECTRONIC_RECEIPT_DAYS))
        .unwrap_or(arrival)
}

/// The last day for the accusé d'enregistrement électronique (one working day after
/// receipt), when the accusé de réception is not sent at once.
pub fn registration_due(arrival: NaiveDate, zone: crate::calendar::HolidayZone) -> NaiveDate {
    crate::calendar::add_working_days(arrival, 1, zone)
}

/// The acknowledgement as plain text, for the body of an email: the title, the reference,
/// then each section (heading, paragraphs, list items introduced by "– "), separated by
/// blank lines.
pub fn plain_text(a: &Acknowledgement) -> String {
    let mut out = format!("{}\nRéférence : {}\n", a.title, a.reference);
    for section in &a.sections {
        out.push('\n');
        out.push_str(&section.heading);
        out.push('\n');
        for paragraph in &section.paragraphs {
            out.push('\n');
            out.push_str(paragraph);
            out.push('\n');
        }
        if !section.list.is_empty() {
            out.push('\n');
            for item in &section.list {
                out.push_str("– ");
                out.push_str(item);
                out.push('\n');
            }
        }
    }
    out
}

/// R112-5 1°: the date of receipt, and what the request is.
fn request_section(facts: &AckFacts) -> AckSection {
    let mut section = AckSection::new("Votre demande").paragraph(format!(
        "La commune {} a reçu votre demande le {}, {}. Elle est enregistrée sous le numéro {}.",
        of_name(&facts.commune_name),
        long_date(facts.arrival),
        channel_phrase(facts.channel),
        facts.chrono
    ));
    section.list = subject_lines(facts);
    section
}

fn subject_lines(facts: &AckFacts) -> Vec<String> {
    let mut lines = vec![format!("Objet : {}", facts.subject.trim())];
    if let Some(label) = non_empty(facts.doctype_label.as_deref()) {
        lines.push(format!("Type de demande : {label}"));
    }
    lines
}

/// How the request reached the commune, after "reçu votre demande le …,".
fn channel_phrase(channel: Channel) -> &'static str {
    match channel {
        Channel::Paper => "par courrier",
        Channel::Email => "par courriel",
        Channel::Phone => "par téléphone",
        Channel::Form => "par le formulaire en ligne",
        Channel::Counter => "au guichet de la mairie",
        Channel::Registered => "par lettre recommandée",
    }
}

/// R112-5 1° and R112-11-1: the date on which silence becomes a decision, or that it never
/// does. An electronic AR adds "subject to the request being complete": its date is given
/// before anyone has checked the request.
fn decision_section(facts: &AckFacts) -> AckSection {
    let section = silence_paragraphs(facts);
    forwarding_paragraph(facts, section)
}

fn silence_paragraphs(facts: &AckFacts) -> AckSection {
    let section = AckSection::new("Délai de réponse");
    let condition = if facts.electronic {
        "Sous réserve que votre demande soit complète, et à défaut de décision expresse, elle"
    } else {
        "À défaut de décision expresse, votre demande"
    };
    let delay = facts.delay.label_fr();
    match (facts.silence, facts.deadlines.silence_date) {
        (SilenceRule::Acceptance, Some(on)) => section
            .paragraph(format!(
                "Votre demande est susceptible de donner lieu à une décision implicite \
                 d'acceptation : le silence gardé par la commune pendant {delay} vaut \
                 acceptation."
            ))
            .paragraph(format!(
                "{condition} sera réputée acceptée le {}.",
                long_date(on)
            )),
        (SilenceRule::Acceptance, None) => section
            .paragraph(format!(
                "Votre demande est susceptible de donner lieu à une décision implicite \
                 d'acceptation : le silence gardé par la commune pendant {delay} vaut \
                 acceptation."
            ))
            .paragraph(
                "Votre demande étant incomplète, la date à laquelle elle sera réputée acceptée \
                 vous sera indiquée à la réception des pièces manquantes.",
            ),
        (SilenceRule::Rejection, Some(on)) => {
            let section = section
                .paragraph(format!(
                    "Votre demande est susceptible de donner lieu à une décision implicite de \
                     rejet : le silence gardé par la commune pendant {delay} vaut rejet."
                ))
                .paragraph(format!(
                    "{condition} sera réputée rejetée le {}.",
                    long_date(on)
                ));
            // L114-5 al. 3: the date above counts the whole time given for the documents;
            // produced earlier, they end the suspension sooner.
            match (facts.deadlines.waiting_for_documents, facts.documents_due) {
                (true, Some(by)) => section.paragraph(format!(
                    "Cette date tient compte de la suspension du délai jusqu'au {} : si vous \
                     produisez les pièces manquantes avant, elle sera avancée d'autant de jours.",
                    long_date(by)
                )),
                _ => section,
            }
        }
        (SilenceRule::Rejection, None) => section
            .paragraph(format!(
                "Votre demande est susceptible de donner lieu à une décision implicite de \
                 rejet : le silence gardé par la commune pendant {delay} vaut rejet."
            ))
            .paragraph(
                "Votre demande étant incomplète, la date à laquelle elle sera réputée rejetée vous \
                 sera indiquée à la réception des pièces manquantes.",
            ),
        (SilenceRule::Urbanism, _) => section.paragraph(
            "Votre demande relève du code de l'urbanisme : son délai d'instruction et l'effet du \
                 silence de la commune sont ceux de ce code (articles R423-23 et suivants, \
                 L424-2), non ceux du code des relations entre le public et l'administration. \
                 Dans le mois qui suit son dépôt, la mairie vous notifie, s'il y a lieu, les \
                 pièces manquantes (article R423-38) ou un autre délai d'instruction (article \
                 R423-42) ; à défaut, le délai de droit commun de l'article R423-23 s'applique.",
        ),
        (SilenceRule::None, _) => {
            let section = section.paragraph(
                "Votre demande ne donne pas lieu à une décision implicite : le silence gardé par \
                 la commune ne vaut ni acceptation ni rejet.",
            );
            match facts.deadlines.due {
                Some(due) if facts.deadlines.waiting_for_documents => section.paragraph(format!(
                    "La commune s'efforcera de vous répondre au plus tard le {}, ou plus tôt si \
                     vous produisez les pièces manquantes avant la date indiquée.",
                    long_date(due)
                )),
                Some(due) => section.paragraph(format!(
                    "La commune s'efforcera de vous répondre au plus tard le {}.",
                    long_date(due)
                )),
                None => section.paragraph(
                    "Votre demande étant incomplète, le délai de réponse est suspendu jusqu'à la \
                     réception des pièces manquantes.",
                ),
            }
        }
    }
}

/// L114-3: a forwarded request (L114-2) says from when its delay runs: the first receipt
/// for a rejection by silence, our own receipt for an acceptance.
fn forwarding_paragraph(facts: &AckFacts, section: AckSection) -> AckSection {
    let Some(first) = facts.first_receipt_elsewhere else {
        return section;
    };
    let first = long_date(first);
    match facts.silence {
        SilenceRule::Rejection => section.paragraph(format!(
            "Votre demande a d'abord été reçue le {first} par une autre administration, qui nous \
             l'a transmise : le délai court depuis cette date (article L114-3 du code des \
             relations entre le public et l'administration)."
        )),
        SilenceRule::Acceptance => section.paragraph(format!(
            "Votre demande a d'abord été reçue le {first} par une autre administration, qui nous \
             l'a transmise : le délai court depuis sa réception par la commune (article L114-3 \
             du code des relations entre le public et l'administration)."
        )),
        SilenceRule::None | SilenceRule::Urbanism => section,
    }
}

/// L114-5: the list of missing documents, the date asked for them, and what their absence
/// does to the delay.
fn missing_documents_section(facts: &AckFacts) -> AckSection {
    let law = "(article L114-5 du code des relations entre le public et l'administration)";
    let effect = match (facts.silence, facts.documents_due) {
        (SilenceRule::Acceptance, _) => format!(
            "Votre demande est incomplète. Le délai au terme duquel elle sera réputée acceptée ne \
             court qu'à compter de la réception des pièces manquantes {law}."
        ),
        // L114-5 al. 3: suspended for the time given, ended earlier by the documents.
        (SilenceRule::Rejection, Some(by)) => format!(
            "Votre demande est incomplète. Le délai au terme duquel elle sera réputée rejetée est \
             suspendu pendant le délai qui vous est imparti pour produire les pièces manquantes, \
             jusqu'au {} au plus tard ; leur réception avant cette date met fin à la suspension \
             {law}.",
            long_date(by)
        ),
        (SilenceRule::None, Some(by)) => format!(
            "Votre demande est incomplète. Le délai de réponse est suspendu pendant le délai qui \
             vous est imparti pour produire les pièces manquantes, jusqu'au {} au plus tard ; \
             leur réception avant cette date met fin à la suspension {law}.",
            long_date(by)
        ),
        // A request for documents made before their date was recorded.
        (SilenceRule::Rejection, None) => format!(
            "Votre demande est incomplète. Le délai au terme duquel elle sera réputée rejetée est \
             suspendu jusqu'à la réception des pièces manquantes {law}."
        ),
        (SilenceRule::None, None) => format!(
            "Votre demande est incomplète. Le délai de réponse est suspendu jusqu'à la réception \
             des pièces manquantes {law}."
        ),
        (SilenceRule::Urbanism, _) => "Votre demande est incomplète. Vous disposez de trois \
             mois pour produire les pièces manquantes ; à défaut, elle fera l'objet d'une \
             décision tacite de rejet (articles R423-38 et R423-39 du code de l'urbanisme)."
            .to_owned(),
    };
    let ask = match facts.documents_due {
        Some(by) => format!(
            "Merci de nous faire parvenir les pièces suivantes avant le {} :",
            long_date(by)
        ),
        None => "Merci de nous faire parvenir les pièces suivantes :".to_owned(),
    };
    let mut section = AckSection::new("Pièces manquantes")
        .paragraph(effect)
        .paragraph(ask);
    section.list = facts
        .missing_documents
        .iter()
        .filter_map(|d| non_empty(Some(d)))
        .map(str::to_owned)
        .collect();
    section
}

/// R112-5, implicit acceptance: the applicant can obtain the L232-3 certificate.
fn certificate_section(facts: &AckFacts) -> AckSection {
    AckSection::new("Attestation de décision implicite").paragraph(format!(
        "Si votre demande est acceptée implicitement, vous pourrez obtenir, sur simple demande \
         adressée à la mairie {}, une attestation de cette décision implicite d'acceptation \
         (article L232-3 du code des relations entre le public et l'administration).",
        of_name(&facts.commune_name)
    ))
}

/// R112-5, implicit rejection: the means and time limits of appeal. Without them, L112-6
/// keeps the time limits from running against the applicant.
fn appeal_section(facts: &AckFacts) -> AckSection {
    let court = "le tribunal administratif territorialement compétent, y compris par \
                 l'application Télérecours citoyens accessible sur le site www.telerecours.fr";
    match facts.appeal {
        AppealRoute::Standard => {
            let mut section = AckSection::new("Voies et délais de recours").paragraph(
                "Si votre demande est rejetée implicitement, vous pourrez contester cette \
                 décision dans un délai de deux mois à compter de la date à laquelle elle est née :",
            );
            section.list = vec![
                format!(
                    "par un recours gracieux adressé au maire {} ; formé dans ce délai, ce \
                     recours vous permet ensuite de saisir le tribunal administratif dans les deux \
                     mois qui suivent la réponse du maire, ou son rejet implicite ;",
                    of_name(&facts.commune_name)
                ),
                format!("par un recours contentieux devant {court}."),
            ];
            section
        }
        AppealRoute::Cada => AckSection::new("Voies et délais de recours")
            .paragraph(
                "Si la communication des documents vous est refusée implicitement, vous pourrez \
                 saisir la Commission d'accès aux documents administratifs (CADA, www.cada.fr) \
                 dans un délai de deux mois à compter de la date à laquelle ce refus est né. \
                 Cette saisine est obligatoire avant tout recours contentieux (articles L342-1 et \
                 R343-1 du code des relations entre le public et l'administration).",
            )
            .paragraph(format!(
                "Après l'avis de la commission, si le refus est maintenu, vous pourrez saisir \
                 {court}, dans un délai de deux mois."
            )),
        AppealRoute::CourtOnly => AckSection::new("Voies et délais de recours").paragraph(format!(
            "Votre demande est un recours administratif. S'il est rejeté implicitement, vous \
                 pourrez saisir {court}, dans un délai de deux mois à compter de la date à \
                 laquelle ce rejet est né ; un nouveau recours administratif ne prolongerait pas \
                 ce délai."
        )),
    }
}

/// R112-5 2°: the service's name, postal address, email and phone, each only if known.
fn service_section(service: &ServiceContact) -> AckSection {
    let mut section = AckSection::new("Service chargé de votre demande");
    if let Some(name) = non_empty(Some(&service.name)) {
        section.paragraphs.push(name.to_owned());
    }
    let address: Vec<&str> = service
        .address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !address.is_empty() {
        section
            .list
            .push(format!("Adresse postale : {}", address.join(", ")));
    }
    if let Some(email) = non_empty(service.email.as_deref()) {
        section.list.push(format!("Courriel : {email}"));
    }
    if let Some(phone) = non_empty(service.phone.as_deref()) {
        section.list.push(format!("Téléphone : {phone}"));
    }
    section
}

fn tracking_section(facts: &AckFacts) -> Option<AckSection> {
    let url = non_empty(facts.tracking_url.as_deref())?;
    Some(AckSection::new("Suivi de votre demande").paragraph(format!(
        "Vous pouvez suivre l'avancement de votre demande à l'adresse suivante : {url}"
    )))
}

/// The articles the acknowledgement rests on, so a reader can check it.
fn legal_basis_section(facts: &AckFacts, registration: bool) -> AckSection {
    let articles: Vec<&str> = if registration {
        vec!["L112-11"]
    } else {
        let mut a = vec!["L112-3"];
        if facts.electronic {
            a.push("L112-11");
        }
        if !facts.missing_documents.is_empty() || facts.deadlines.waiting_for_documents {
            a.push("L114-5");
        }
        match facts.silence {
            SilenceRule::Acceptance => a.extend(["L231-1", "L232-3"]),
            SilenceRule::Rejection => a.push("L231-4"),
            SilenceRule::None | SilenceRule::Urbanism => {}
        }
        if facts.silence == SilenceRule::Rejection && facts.appeal == AppealRoute::Cada {
            a.extend(["L342-1", "R343-1"]);
        }
        a.push("R112-5");
        if facts.electronic {
            a.push("R112-11-1");
        }
        a
    };
    let text = match articles.as_slice() {
        [one] => format!("Article {one}"),
        [init @ .., last] => format!("Articles {} et {last}", init.join(", ")),
        [] => String::new(),
    };
    AckSection::new("Textes applicables").paragraph(format!(
        "{text} du code des relations entre le public et l'administration."
    ))
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::HolidayZone;
    use crate::deadline::{DeadlineFacts, Incompleteness, compute};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn facts(silence: SilenceRule, incomplete: Option<Incompleteness>) -> AckFacts {
        let arrival = d(2026, 2, 1);
        let delay = Delay::Months(2);
        AckFacts {
            commune_name: "Le Havre".into(),
            chrono: "2026-A-000042".into(),
            subject: "Terrasse du café de la place".into(),
            doctype_label: Some("Demande administrative".into()),
            arrival,
            first_receipt_elsewhere: None,
            channel: Channel::Paper,
            delay,
            silence,
            deadlines: compute(&DeadlineFacts {
                arrival,
                first_receipt_elsewhere: None,
                incomplete,
                delay,
                silence,
                zone: HolidayZone::Metropole,
            }),
            missing_documents: Vec::new(),
            documents_due: None,
            service: ServiceContact {
                name: "Service urbanisme".into(),
                address: "Hôtel de ville\n1 place de la Mairie\n\n76600 Le Havre".into(),
                email: Some("urbanisme@mairie.example".into()),
                phone: None,
            },
            electronic: false,
            tracking_url: None,
            appeal: AppealRoute::Standard,
        }
    }

    #[test]
    fn acceptance_states_both_dates_and_the_certificate() {
        let text = plain_text(&acknowledgement_of_receipt(&facts(
            SilenceRule::Acceptance,
            None,
        )));
        assert!(text.starts_with("Accusé de réception\nRéférence : 2026-A-000042\n"));
        assert!(text.contains(
            "La commune du Havre a reçu votre demande le 1er février 2026, par courrier."
        ));
        assert!(text.contains(
            "À défaut de décision expresse, votre demande sera réputée acceptée le 1er avril 2026."
        ));
        assert!(text.contains("une attestation de cette décision implicite d'acceptation"));
        assert!(text.contains("L232-3"));
        assert!(!text.contains("réputée rejetée"));
        assert!(!text.contains("Télérecours"));
        assert!(!text.contains("sous réserve que votre demande soit complète"));
        assert!(text.contains("– Objet : Terrasse du café de la place\n"));
        assert!(text.contains("– Type de demande : Demande administrative\n"));
        // The service: name, address on one line, email; no phone line when unknown.
        assert!(text.contains("\nService urbanisme\n"));
        assert!(text.contains(
            "– Adresse postale : Hôtel de ville, 1 place de la Mairie, 76600 Le Havre\n"
        ));
        assert!(text.contains("– Courriel : urbanisme@mairie.example\n"));
        assert!(!text.contains("Téléphone"));
        assert!(text.contains(
            "Articles L112-3, L231-1, L232-3 et R112-5 du code des relations entre le public et \
             l'administration."
        ));
    }

    #[test]
    fn rejection_states_the_means_of_appeal() {
        let mut f = facts(SilenceRule::Rejection, None);
        f.service.phone = Some("02 35 00 00 00".into());
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(text.contains("votre demande sera réputée rejetée le 1er avril 2026."));
        assert!(text.contains("recours gracieux adressé au maire du Havre"));
        assert!(text.contains("tribunal administratif territorialement compétent"));
        assert!(text.contains("Télérecours citoyens"));
        assert!(text.contains("www.telerecours.fr"));
        assert!(text.contains("délai de deux mois"));
        assert!(text.contains("– Téléphone : 02 35 00 00 00\n"));
        assert!(!text.contains("réputée acceptée"));
        assert!(!text.contains("L232-3"));
        assert!(text.contains("Articles L112-3, L231-4 et R112-5 "));
    }

    #[test]
    fn no_implicit_decision_gives_the_target_date() {
        let text = plain_text(&acknowledgement_of_receipt(&facts(SilenceRule::None, None)));
        assert!(text.contains("ne vaut ni acceptation ni rejet"));
        assert!(text.contains("au plus tard le 1er avril 2026."));
        assert!(!text.contains("réputée"));
        assert!(!text.contains("recours"));
        assert!(text.contains("Articles L112-3 et R112-5 "));
    }

    #[test]
    fn electronic_wording_and_tracking_link() {
        let mut f = facts(SilenceRule::Acceptance, None);
        f.electronic = true;
        f.channel = Channel::Form;
        f.tracking_url = Some("https://mairie.example/suivi/abc".into());
        let ack = acknowledgement_of_receipt(&f);
        assert_eq!(ack.title, "Accusé de réception électronique");
        let text = plain_text(&ack);
        assert!(text.contains(
            "Sous réserve que votre demande soit complète, et à défaut de décision expresse, \
             elle sera réputée acceptée le 1er avril 2026."
        ));
        assert!(text.contains("le 1er février 2026, par le formulaire en ligne."));
        assert!(text.contains("https://mairie.example/suivi/abc"));
        assert!(text.contains("L112-11"));
        assert!(text.contains("R112-11-1"));
    }

    /// The means of appeal follow what was asked: the CADA first for documents, the court
    /// alone against the rejection of a recours gracieux.
    #[test]
    fn appeals_depend_on_the_request() {
        let mut f = facts(SilenceRule::Rejection, None);
        f.appeal = AppealRoute::for_doctype(Some("acces-documents"));
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(
            text.contains("Commission d'accès aux documents administratifs"),
            "{text}"
        );
        assert!(
            text.contains("obligatoire avant tout recours contentieux"),
            "{text}"
        );
        assert!(
            !text.contains("recours gracieux adressé au maire"),
            "{text}"
        );
        assert!(text.contains("L231-4, L342-1, R343-1 et R112-5"), "{text}");
        f.appeal = AppealRoute::for_doctype(Some("recours-gracieux"));
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(
            text.contains("Votre demande est un recours administratif"),
            "{text}"
        );
        assert!(text.contains("www.telerecours.fr"), "{text}");
        assert!(
            !text.contains("recours gracieux adressé au maire"),
            "{text}"
        );
        assert!(!text.contains("CADA"), "{text}");
        assert_eq!(
            AppealRoute::for_doctype(Some("reclamation")),
            AppealRoute::Standard
        );
        assert_eq!(AppealRoute::for_doctype(None), AppealRoute::Standard);
    }

    #[test]
    fn incomplete_sva_lists_documents_and_gives_no_date() {
        let mut f = facts(
            SilenceRule::Acceptance,
            Some(Incompleteness {
                requested_on: d(2026, 2, 1),
                completed_on: None,
                deadline: None,
            }),
        );
        f.missing_documents = vec!["Plan de situation".into(), "  ".into(), "Photo".into()];
        f.documents_due = Some(d(2026, 3, 1));
        assert_eq!(f.deadlines.silence_date, None);
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(text.contains("avant le 1er mars 2026 :\n\n– Plan de situation\n– Photo\n"));
        assert!(text.contains("ne court qu'à compter de la réception des pièces manquantes"));
        assert!(text.contains("vous sera indiquée à la réception des pièces manquantes"));
        assert!(!text.contains("avril"));
        assert!(text.contains("L114-5"));
        // The certificate still has to be announced (R112-5).
        assert!(text.contains("L232-3"));
    }

    #[test]
    fn incomplete_svr_is_suspended() {
        let mut f = facts(
            SilenceRule::Rejection,
            Some(Incompleteness {
                requested_on: d(2026, 2, 1),
                completed_on: None,
                deadline: None,
            }),
        );
        f.missing_documents = vec!["Statuts de l'association".into()];
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(text.contains(
            "Merci de nous faire parvenir les pièces suivantes :\n\n– Statuts de l'association\n"
        ));
        assert!(text.contains("réputée rejetée est suspendu jusqu'à la réception des pièces"));
        assert!(text.contains("Télérecours"));
        assert!(!text.contains("avril"));
    }

    /// L114-5 al. 3: suspended for the time given at most, so the AR already has a date,
    /// and says that documents produced earlier bring it forward.
    #[test]
    fn incomplete_svr_is_suspended_until_the_date_given() {
        let mut f = facts(
            SilenceRule::Rejection,
            Some(Incompleteness {
                requested_on: d(2026, 2, 10),
                completed_on: None,
                deadline: Some(d(2026, 3, 10)),
            }),
        );
        f.missing_documents = vec!["Statuts de l'association".into()];
        f.documents_due = Some(d(2026, 3, 10));
        assert!(f.deadlines.silence_date.is_some());
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(
            text.contains(
                "est suspendu pendant le délai qui vous est imparti pour produire les pièces \
             manquantes, jusqu'au 10 mars 2026 au plus tard ; leur réception avant cette date met \
             fin à la suspension"
            ),
            "{text}"
        );
        assert!(text.contains("sera réputée rejetée le"), "{text}");
        assert!(
            text.contains(
                "Cette date tient compte de la suspension du délai jusqu'au 10 mars 2026"
            ),
            "{text}"
        );
        assert!(!text.contains("suspendu jusqu'à la réception"), "{text}");
    }

    #[test]
    fn incomplete_without_implicit_decision() {
        let mut f = facts(
            SilenceRule::None,
            Some(Incompleteness {
                requested_on: d(2026, 2, 1),
                completed_on: None,
                deadline: None,
            }),
        );
        f.missing_documents = vec!["Devis".into()];
        let text = plain_text(&acknowledgement_of_receipt(&f));
        assert!(text.contains("le délai de réponse est suspendu"));
        assert!(!text.contains("au plus tard"));
    }

    #[test]
    fn registration_acknowledgement_says_the_ar_follows() {
        let mut f = facts(SilenceRule::Rejection, None);
        f.electronic = true;
        f.tracking_url = Some("https://mairie.example/suivi/abc".into());
        let at = d(2026, 2, 3).and_hms_opt(14, 5, 12).unwrap();
        let ack = registration_acknowledgement(&f, at);
        assert_eq!(ack.title, "Accusé d'enregistrement");
        let text = plain_text(&ack);
        assert!(text.contains(
            "Votre demande, reçue le 1er février 2026, a été enregistrée le mardi 3 février 2026 à \
             14 h 05 sous le numéro 2026-A-000042."
        ));
        // Seven days after receipt (R112-11-1), not Service-Public's ten working days.
        assert!(text.contains(
            "Un accusé de réception vous sera adressé au plus tard le 8 février 2026 : il \
             indiquera la date à laquelle"
        ));
        assert!(text.contains("https://mairie.example/suivi/abc"));
        assert!(text.contains("Article L112-11 du code"));
        let none = plain_text(&registration_acknowledgement(
            &facts(SilenceRule::None, None),
            at,
        ));
        assert!(none.contains("le délai dans lequel la commune s'efforcera de vous répondre"));
    }

    #[test]
    fn plain_text_layout() {
        let a = Acknowledgement {
            title: "T".into(),
            reference: "R".into(),
            sections: vec![AckSection {
                heading: "H".into(),
                paragraphs: vec!["P1".into(), "P2".into()],
                list: vec!["a".into(), "b".into()],
            }],
        };
        assert_eq!(
            plain_text(&a),
            "T\nRéférence : R\n\nH\n\nP1\n\nP2\n\n– a\n– b\n"
        );
    }

    #[test]
    fn every_channel_reads_well() {
        for channel in Channel::ALL {
            let mut f = facts(SilenceRule::None, None);
            f.channel = channel;
            let text = plain_text(&acknowledgement_of_receipt(&f));
            assert!(text.contains(&format!(
                "le 1er février 2026, {}.",
                channel_phrase(channel)
            )));
        }
    }
}
