//! Retention (durée d'utilité administrative), final disposition, and who may dispose of a
//! record.
//!
//! A commune's records are public archives from the day they are made (Code du patrimoine
//! L211-4): none may be destroyed without the visa of the director of the Archives
//! départementales (L212-2, R212-14), and destroying without it is an offence (L214-3). So an
//! item reaches "détruit" or "archivé" only through the archives' own path (an elimination
//! with its visa recorded, or a SEDA transfer the archives accepted), never through an
//! ordinary status change: [`disposition_refusal`] says why.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::status::Status;

/// The text the default table comes from.
pub const SOURCE: &str = "Instruction DAF/DPACI/RES/2009/018 du 28 août 2009 relative au tri et \
     à la conservation des archives produites par les communes et structures intercommunales";

/// Sort final: what happens once the retention period is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    /// C: conserve (transfer to the archives).
    Keep,
    /// D: destroy, with the visa of the Archives départementales (L212-2, R212-14).
    Destroy,
    /// T: sort (the archivist chooses what to keep).
    Sort,
}

impl FinalAction {
    pub const ALL: [FinalAction; 3] = [FinalAction::Keep, FinalAction::Destroy, FinalAction::Sort];

    pub fn code(self) -> &'static str {
        match self {
            FinalAction::Keep => "keep",
            FinalAction::Destroy => "destroy",
            FinalAction::Sort => "sort",
        }
    }

    /// The letter of the archives' tables (C, D, T) and its meaning.
    pub fn label_fr(self) -> &'static str {
        match self {
            FinalAction::Keep => "C — conserver (versement aux archives)",
            FinalAction::Destroy => "D — détruire (avec le visa des Archives)",
            FinalAction::Sort => "T — trier",
        }
    }

    /// Whether an item of this fate may be proposed for elimination (a sort lets the
    /// archivist propose what is not worth keeping).
    pub fn may_be_eliminated(self) -> bool {
        matches!(self, FinalAction::Destroy | FinalAction::Sort)
    }

    /// Whether an item of this fate may be transferred to the archives.
    pub fn may_be_transferred(self) -> bool {
        matches!(self, FinalAction::Keep | FinalAction::Sort)
    }
}

impl FromStr for FinalAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "keep" | "c" | "conserver" => Ok(FinalAction::Keep),
            "destroy" | "d" | "détruire" => Ok(FinalAction::Destroy),
            "sort" | "t" | "trier" => Ok(FinalAction::Sort),
            _ => Err(format!(
                "sort final inconnu « {s} » : keep (C), destroy (D) ou sort (T)"
            )),
        }
    }
}

/// The event the DUA is counted from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartEvent {
    /// The closing of the item (the affair is over): the usual start of a DUA.
    #[default]
    Closing,
    /// The registration of the item (for what is kept a fixed time whatever happens).
    Registration,
}

impl StartEvent {
    pub const ALL: [StartEvent; 2] = [StartEvent::Closing, StartEvent::Registration];

    pub fn code(self) -> &'static str {
        match self {
            StartEvent::Closing => "closing",
            StartEvent::Registration => "registration",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            StartEvent::Closing => "clôture du dossier",
            StartEvent::Registration => "enregistrement",
        }
    }
}

impl FromStr for StartEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StartEvent::ALL
            .into_iter()
            .find(|e| e.code() == s.trim())
            .ok_or_else(|| format!("point de départ inconnu « {s} » : closing ou registration"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetentionRule {
    /// DUA in years, counted from the start event.
    pub years: u32,
    pub final_action: FinalAction,
}

impl RetentionRule {
    /// Administrative mail: six years, then sorted (DOMAIN: unconfirmed secondhand reading).
    pub const ADMINISTRATIVE_MAIL: RetentionRule = RetentionRule {
        years: 6,
        final_action: FinalAction::Sort,
    };

    /// The first day on which the final action may be taken for an item whose start event
    /// fell on `start`.
    pub fn eligible_on(&self, start: NaiveDate) -> NaiveDate {
        let year = start.year() + self.years as i32;
        // 29 February closes into 28 February of a common year.
        NaiveDate::from_ymd_opt(year, start.month(), start.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, start.month(), 28))
            .unwrap_or(start)
    }
}

/// A document type's retention as the archivist edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub doctype: String,
    pub label: String,
    pub rule: RetentionRule,
    pub start: StartEvent,
}

/// Where an item stands with its retention on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "on")]
pub enum Due {
    /// Still open: the DUA has not started.
    NotStarted,
    /// The DUA runs until the day before this date.
    Running(NaiveDate),
    /// The final action may be taken since this date.
    Since(NaiveDate),
}

/// Where an item closed on `closed_on` (if it is closed) and registered on `registered_on`
/// stands with `rule` counted from `start`, on `today`.
pub fn due(
    rule: &RetentionRule,
    start: StartEvent,
    registered_on: NaiveDate,
    closed_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Due {
    // An item still open is never due, whatever its start event: its affair is not over.
    let Some(closed_on) = closed_on else {
        return Due::NotStarted;
    };
    let from = match start {
        StartEvent::Closing => closed_on,
        StartEvent::Registration => registered_on,
    };
    let on = rule.eligible_on(from);
    if on <= today {
        Due::Since(on)
    } else {
        Due::Running(on)
    }
}

/// Why a person may not move an item to `to` by a status change, in French, or `None` when
/// the move is not a final disposition.
pub fn disposition_refusal(to: Status) -> Option<&'static str> {
    match to {
        Status::Destroyed => Some(
            "un élément ne peut être détruit que par une élimination visée par le directeur des \
             Archives départementales (Code du patrimoine, L212-2 et R212-14) : passez par la \
             page Archives",
        ),
        Status::Archived => Some(
            "un élément n'est archivé que par un versement aux archives accepté par le service \
             d'archives : passez par la page Archives",
        ),
        _ => None,
    }
}

/// The default table of a commune's document types: (code, rule, start event, the line of
/// [`SOURCE`] it follows).
///
/// The durations are those the document types already carried; each line names the family
/// of documents of the instruction it follows. They are a starting point to be checked with
/// the Archives départementales, which is why the archivist can edit every line.
pub fn default_table() -> Vec<(&'static str, StartEvent, &'static str)> {
    use StartEvent::*;
    vec![
        (
            "courrier",
            Closing,
            "correspondance administrative courante",
        ),
        (
            "demande-administrative",
            Closing,
            "dossiers d'affaires, demandes des administrés",
        ),
        (
            "demande-sva",
            Closing,
            "dossiers d'affaires, demandes des administrés",
        ),
        (
            "demande-svr",
            Closing,
            "dossiers d'affaires, demandes des administrés",
        ),
        ("reclamation", Closing, "réclamations des administrés"),
        ("recours-gracieux", Closing, "contentieux et recours"),
        ("urbanisme", Closing, "autorisations d'urbanisme"),
        ("etat-civil", Closing, "demandes d'actes d'état civil"),
        (
            "occupation-domaine-public",
            Closing,
            "autorisations d'occupation du domaine public",
        ),
        (
            "acces-documents",
            Closing,
            "communication de documents administratifs",
        ),
        ("subvention", Closing, "subventions"),
        (
            "invitation",
            Registration,
            "invitations, courrier sans suite",
        ),
        ("appel", Registration, "messages téléphoniques"),
        ("facture", Closing, "pièces comptables"),
    ]
}

/// The start event of a document type in the default table (closing for a type it does
/// not list).
pub fn default_start(doctype: &str) -> StartEvent {
    default_table()
        .into_iter()
        .find(|(code, _, _)| *code == doctype)
        .map_or(StartEvent::Closing, |(_, start, _)| start)
}

/// Checks a visa of the Archives départementales before it is recorded: who signed it, on
/// which day (not after `today`, not before the proposal), and its reference.
pub fn check_visa(
    signed_by: &str,
    reference: &str,
    signed_on: NaiveDate,
    proposed_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), &'static str> {
    if signed_by.trim().is_empty() || signed_by.chars().count() > 200 {
        return Err("indiquez qui a signé le visa (200 caractères au plus)");
    }
    if reference.trim().is_empty() || reference.chars().count() > 100 {
        return Err("indiquez le numéro du visa (100 caractères au plus)");
    }
    if signed_on > today {
        return Err("la date du visa ne peut pas être dans le futur");
    }
    if signed_on < proposed_on {
        return Err("le visa ne peut pas précéder la proposition d'élimination");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn retention_counts_whole_years_from_the_start() {
        let rule = RetentionRule::ADMINISTRATIVE_MAIL;
        assert_eq!(rule.eligible_on(d(2026, 3, 15)), d(2032, 3, 15));
        // Closed on a leap day: the common year has no 29 February.
        assert_eq!(rule.eligible_on(d(2028, 2, 29)), d(2034, 2, 28));
    }

    #[test]
    fn an_item_is_due_from_its_start_event_and_never_while_open() {
        let rule = RetentionRule {
            years: 1,
            final_action: FinalAction::Destroy,
        };
        let reg = d(2024, 1, 10);
        let closed = Some(d(2024, 6, 1));
        assert_eq!(
            due(&rule, StartEvent::Closing, reg, None, d(2030, 1, 1)),
            Due::NotStarted
        );
        assert_eq!(
            due(&rule, StartEvent::Closing, reg, closed, d(2025, 5, 31)),
            Due::Running(d(2025, 6, 1))
        );
        assert_eq!(
            due(&rule, StartEvent::Closing, reg, closed, d(2025, 6, 1)),
            Due::Since(d(2025, 6, 1))
        );
        assert_eq!(
            due(&rule, StartEvent::Registration, reg, closed, d(2025, 2, 1)),
            Due::Since(d(2025, 1, 10))
        );
    }

    #[test]
    fn final_disposition_is_refused_to_a_status_change() {
        assert!(
            disposition_refusal(Status::Destroyed)
                .unwrap()
                .contains("L212-2")
        );
        assert!(disposition_refusal(Status::Archived).is_some());
        assert_eq!(disposition_refusal(Status::Closed), None);
    }

    #[test]
    fn the_default_table_covers_every_default_document_type() {
        for t in crate::doctype::default_set() {
            assert!(
                default_table().iter().any(|(code, _, _)| *code == t.code),
                "{} has no line",
                t.code
            );
        }
    }

    #[test]
    fn a_visa_needs_its_signer_reference_and_a_sensible_date() {
        let ok = check_visa(
            "M. Dupont",
            "2026-114",
            d(2026, 3, 2),
            d(2026, 3, 1),
            d(2026, 3, 5),
        );
        assert_eq!(ok, Ok(()));
        assert!(check_visa("", "1", d(2026, 3, 2), d(2026, 3, 1), d(2026, 3, 5)).is_err());
        assert!(check_visa("X", " ", d(2026, 3, 2), d(2026, 3, 1), d(2026, 3, 5)).is_err());
        assert!(check_visa("X", "1", d(2026, 3, 6), d(2026, 3, 1), d(2026, 3, 5)).is_err());
        assert!(check_visa("X", "1", d(2026, 2, 6), d(2026, 3, 1), d(2026, 3, 5)).is_err());
        assert_eq!(
            "d".parse::<FinalAction>(),
            Ok(FinalAction::Destroy),
            "letters of the tables"
        );
    }
}

/// The visa of the director of the Archives départementales on a proposal of elimination
/// (R212-14): who signed it, when, and its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visa {
    pub signed_by: String,
    pub signed_on: NaiveDate,
    pub reference: String,
}

/// Where a proposal of elimination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EliminationState {
    /// Sent to the Archives départementales, awaiting their visa.
    Proposed,
    /// The visa is recorded: the items may be destroyed.
    Approved,
    /// The items were destroyed; the certificate can be printed.
    Done,
}

impl EliminationState {
    pub fn code(self) -> &'static str {
        match self {
            EliminationState::Proposed => "proposed",
            EliminationState::Approved => "approved",
            EliminationState::Done => "done",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            EliminationState::Proposed => "proposée, en attente du visa",
            EliminationState::Approved => "visée, à éliminer",
            EliminationState::Done => "éliminée",
        }
    }
}

impl FromStr for EliminationState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            EliminationState::Proposed,
            EliminationState::Approved,
            EliminationState::Done,
        ]
        .into_iter()
        .find(|e| e.code() == s)
        .ok_or_else(|| format!("état d'élimination inconnu « {s} »"))
    }
}

/// Where a transfer to the archives stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// The ArchiveTransfer message was produced.
    Sent,
    /// The archives acknowledged receipt (Acknowledgement).
    Acknowledged,
    /// The archives accepted it (ArchiveTransferReply with an OK code): the items are archived.
    Accepted,
    /// The archives refused it: the items stay in the register.
    Rejected,
}

impl TransferState {
    pub fn code(self) -> &'static str {
        match self {
            TransferState::Sent => "sent",
            TransferState::Acknowledged => "acknowledged",
            TransferState::Accepted => "accepted",
            TransferState::Rejected => "rejected",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            TransferState::Sent => "envoyé",
            TransferState::Acknowledged => "reçu par les archives",
            TransferState::Accepted => "accepté",
            TransferState::Rejected => "refusé",
        }
    }

    /// Still waiting for the archives' reply (its items may not be proposed elsewhere).
    pub fn is_pending(self) -> bool {
        matches!(self, TransferState::Sent | TransferState::Acknowledged)
    }
}

impl FromStr for TransferState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            TransferState::Sent,
            TransferState::Acknowledged,
            TransferState::Accepted,
            TransferState::Rejected,
        ]
        .into_iter()
        .find(|e| e.code() == s)
        .ok_or_else(|| format!("état de versement inconnu « {s} »"))
    }
}
