//! Items of the register: letters, emails, calls, online requests, and the replies.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::status::{CloseReason, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Arrivée.
    Incoming,
    /// Départ.
    Outgoing,
    /// Interne.
    Internal,
}

impl Direction {
    pub const ALL: [Direction; 3] = [
        Direction::Incoming,
        Direction::Outgoing,
        Direction::Internal,
    ];

    /// The letter in chrono numbers: A arrivée, D départ, I interne.
    pub fn letter(self) -> char {
        match self {
            Direction::Incoming => 'A',
            Direction::Outgoing => 'D',
            Direction::Internal => 'I',
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
            Direction::Internal => "internal",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Direction::Incoming => "entrant",
            Direction::Outgoing => "sortant",
            Direction::Internal => "interne",
        }
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "incoming" | "entrant" | "arrivee" | "arrivée" | "a" => Ok(Direction::Incoming),
            "outgoing" | "sortant" | "depart" | "départ" | "d" => Ok(Direction::Outgoing),
            "internal" | "interne" | "i" => Ok(Direction::Internal),
            _ => Err(format!(
                "sens inconnu « {s} » : incoming, outgoing ou internal"
            )),
        }
    }
}

/// How the item reached (or left) the mairie (nature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Paper,
    Email,
    Phone,
    Form,
    Counter,
    /// Recommandé: carries its La Poste number.
    Registered,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Paper,
        Channel::Email,
        Channel::Phone,
        Channel::Form,
        Channel::Counter,
        Channel::Registered,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Paper => "paper",
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::Form => "form",
            Channel::Counter => "counter",
            Channel::Registered => "registered",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Channel::Paper => "courrier papier",
            Channel::Email => "courriel",
            Channel::Phone => "téléphone",
            Channel::Form => "formulaire en ligne",
            Channel::Counter => "guichet",
            Channel::Registered => "recommandé",
        }
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.code() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!("canal inconnu « {s} » : paper, email, phone, form, counter ou registered")
            })
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn code(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ]
        .into_iter()
        .find(|p| p.code() == s)
        .ok_or_else(|| format!("priorité inconnue « {s} »"))
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    #[default]
    Normal,
    /// Seen only by the people in charge, the élus and the administrators.
    Confidential,
}

impl Confidentiality {
    pub fn code(self) -> &'static str {
        match self {
            Confidentiality::Normal => "normal",
            Confidentiality::Confidential => "confidential",
        }
    }
}

impl FromStr for Confidentiality {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Confidentiality::Normal),
            "confidential" => Ok(Confidentiality::Confidential),
            _ => Err(format!("confidentialité inconnue « {s} »")),
        }
    }
}

/// How two items relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    ReplyTo,
    FollowUpOf,
    DuplicateOf,
}

impl LinkKind {
    pub fn code(self) -> &'static str {
        match self {
            LinkKind::ReplyTo => "reply_to",
            LinkKind::FollowUpOf => "follow_up_of",
            LinkKind::DuplicateOf => "duplicate_of",
        }
    }

    pub const ALL: [LinkKind; 3] = [
        LinkKind::ReplyTo,
        LinkKind::FollowUpOf,
        LinkKind::DuplicateOf,
    ];

    /// How the link reads from the item that holds it ("this item is … that one").
    pub fn label_fr(self) -> &'static str {
        match self {
            LinkKind::ReplyTo => "réponse à",
            LinkKind::FollowUpOf => "suite de",
            LinkKind::DuplicateOf => "doublon de",
        }
    }

    /// How the link reads from the other end.
    pub fn reverse_label_fr(self) -> &'static str {
        match self {
            LinkKind::ReplyTo => "a pour réponse",
            LinkKind::FollowUpOf => "a pour suite",
            LinkKind::DuplicateOf => "a pour doublon",
        }
    }
}

impl FromStr for LinkKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            LinkKind::ReplyTo,
            LinkKind::FollowUpOf,
            LinkKind::DuplicateOf,
        ]
        .into_iter()
        .find(|k| k.code() == s)
        .ok_or_else(|| format!("type de lien inconnu « {s} »"))
    }
}

/// A copy (diffusion) given to someone for information or for opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyPurpose {
    Information,
    Opinion,
}

/// What a person enters to register an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    pub direction: Direction,
    pub channel: Channel,
    /// La Poste number of a registered letter.
    pub registered_number: Option<String>,
    pub doctype_code: Option<String>,
    pub subject: String,
    pub letter_date: Option<NaiveDate>,
    pub arrival_date: NaiveDate,
    /// L114-2: the date another authority first received the request it forwarded here.
    pub first_receipt_elsewhere: Option<NaiveDate>,
    pub sender_ids: Vec<Uuid>,
    pub recipient_ids: Vec<Uuid>,
    pub sender_reference: Option<String>,
    pub priority: Priority,
    pub confidentiality: Confidentiality,
    pub service_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub body: Option<String>,
    /// A due date set by hand (a call to return by a date); replaces the type's delay for
    /// the due date only, never the legal silence date.
    pub requested_due: Option<NaiveDate>,
}

impl NewItem {
    /// A minimal incoming item; callers fill the rest.
    pub fn incoming(channel: Channel, subject: impl Into<String>, arrival_date: NaiveDate) -> Self {
        NewItem {
            direction: Direction::Incoming,
            channel,
            registered_number: None,
            doctype_code: None,
            subject: subject.into(),
            letter_date: None,
            arrival_date,
            first_receipt_elsewhere: None,
            sender_ids: Vec::new(),
            recipient_ids: Vec::new(),
            sender_reference: None,
            priority: Priority::Normal,
            confidentiality: Confidentiality::Normal,
            service_id: None,
            assignee_id: None,
            tags: Vec::new(),
            body: None,
            requested_due: None,
        }
    }

    /// Checks what can be checked without the database. `today` is the registration day.
    pub fn validate(&self, today: NaiveDate) -> Result<(), InvalidItem> {
        let subject = self.subject.trim();
        if subject.is_empty() {
            return Err(InvalidItem("l'objet est obligatoire".into()));
        }
        if subject.chars().count() > 500 {
            return Err(InvalidItem("l'objet dépasse 500 caractères".into()));
        }
        if self.arrival_date > today {
            return Err(InvalidItem(format!(
                "la date d'arrivée {} est dans le futur",
                self.arrival_date
            )));
        }
        if let Some(letter) = self.letter_date
            && letter > self.arrival_date
            && self.direction == Direction::Incoming
        {
            return Err(InvalidItem(format!(
                "la date du courrier {letter} est postérieure à son arrivée {}",
                self.arrival_date
            )));
        }
        if let Some(first) = self.first_receipt_elsewhere
            && first > self.arrival_date
        {
            return Err(InvalidItem(
                "la première réception ailleurs (L114-2) ne peut suivre l'arrivée en mairie".into(),
            ));
        }
        match (self.channel, &self.registered_number) {
            (Channel::Registered, None) => {
                return Err(InvalidItem(
                    "un recommandé demande son numéro La Poste".into(),
                ));
            }
            (Channel::Registered, Some(n)) if n.trim().is_empty() || n.len() > 40 => {
                return Err(InvalidItem("numéro de recommandé invalide".into()));
            }
            (c, Some(_)) if c != Channel::Registered => {
                return Err(InvalidItem(
                    "seul un recommandé porte un numéro La Poste".into(),
                ));
            }
            _ => {}
        }
        if self
            .tags
            .iter()
            .any(|t| t.trim().is_empty() || t.len() > 60)
        {
            return Err(InvalidItem("étiquette vide ou trop longue".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("élément invalide : {0}")]
pub struct InvalidItem(pub String);

/// An item as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub chrono: String,
    pub year: i32,
    pub sequence: i64,
    pub direction: Direction,
    pub channel: Channel,
    pub registered_number: Option<String>,
    pub doctype_code: Option<String>,
    pub subject: String,
    pub body: Option<String>,
    pub letter_date: Option<NaiveDate>,
    pub arrival_date: NaiveDate,
    pub first_receipt_elsewhere: Option<NaiveDate>,
    pub registered_at: DateTime<Utc>,
    pub sender_reference: Option<String>,
    pub priority: Priority,
    pub confidentiality: Confidentiality,
    pub service_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub status: Status,
    pub close_reason: Option<CloseReason>,
    pub due_date: Option<NaiveDate>,
    pub silence_date: Option<NaiveDate>,
    pub incomplete_requested_on: Option<NaiveDate>,
    pub incomplete_completed_on: Option<NaiveDate>,
    /// L114-5: the date set for the missing documents (absent from the journal's older
    /// entries, hence skipped when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_deadline: Option<NaiveDate>,
    /// L114-5: the documents asked from the sender, as listed to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_documents: Vec<String>,
    /// The implicit decision once born (L231-1, L231-4): "accepted" or "rejected", and the
    /// day it was born on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implicit_decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implicit_decision_on: Option<NaiveDate>,
    /// When the last acknowledgement of receipt was sent or printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

impl Item {
    /// The one confidentiality rule: a confidential item is visible to élus and
    /// administrators (`reader` is `None` for them), to the person in charge, to its author
    /// and to the people it was copied to (`copied_to`). The store's SQL filter
    /// (`items::confidential_visible`) says the same.
    pub fn is_visible_to(&self, reader: Option<Uuid>, copied_to: &[Uuid]) -> bool {
        match reader {
            None => true,
            Some(user) => {
                self.confidentiality == Confidentiality::Normal
                    || self.assignee_id == Some(user)
                    || self.created_by == Some(user)
                    || copied_to.contains(&user)
            }
        }
    }
}

impl Item {
    /// Late: still open and its due date is past.
    pub fn is_late(&self, today: NaiveDate) -> bool {
        self.status.is_open() && self.due_date.is_some_and(|d| d < today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn validation_catches_bad_items() {
        let today = day(2026, 3, 10);
        let ok = NewItem::incoming(Channel::Paper, "Demande de permis", day(2026, 3, 9));
        assert!(ok.validate(today).is_ok());

        let mut empty = ok.clone();
        empty.subject = "   ".into();
        assert!(empty.validate(today).is_err());

        let mut future = ok.clone();
        future.arrival_date = day(2026, 3, 11);
        assert!(future.validate(today).is_err());

        let mut late_letter = ok.clone();
        late_letter.letter_date = Some(day(2026, 3, 10));
        assert!(late_letter.validate(today).is_err());

        let mut registered = ok.clone();
        registered.channel = Channel::Registered;
        assert!(registered.validate(today).is_err());
        registered.registered_number = Some("1A 123 456 7890 1".into());
        assert!(registered.validate(today).is_ok());

        let mut paper_with_number = ok.clone();
        paper_with_number.registered_number = Some("1A".into());
        assert!(paper_with_number.validate(today).is_err());
    }

    #[test]
    fn codes_parse() {
        for c in Channel::ALL {
            assert_eq!(c.code().parse::<Channel>(), Ok(c));
        }
        for d in Direction::ALL {
            assert_eq!(d.code().parse::<Direction>(), Ok(d));
        }
        assert!("fax".parse::<Channel>().is_err());
    }
}
