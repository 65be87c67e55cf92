//! Capture: a message (from a mailbox, an import or a scan) becomes an item, joins the item
//! it answers, or is quarantined with its reason. Nothing is dropped: the original bytes are
//! kept in the file store whatever happens, and the record of the message is written in the
//! same transaction as the item (and the mailbox cursor), so a message is taken once.

mod batch;
pub mod dropfolder;
pub mod extraction;
pub mod mailboxes;
mod messages;
mod quarantine;
pub mod views;

pub use messages::reconcile_target;

use parapheur_mail::ParsedMail;
use parapheur_store::WriteTx;
use parapheur_store::capture::InboundMessage;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{App, AppError};

/// Longest subject kept on an item (the rest stays in the original message).
const MAX_SUBJECT_CHARS: usize = 300;
/// Longest body kept on an item.
const MAX_BODY_CHARS: usize = 200_000;

/// Where a message comes from and how its source names it.
#[derive(Debug, Clone)]
pub struct MessageSource {
    /// `imap:<mailbox id>`, `import` or `folder`.
    pub source: String,
    /// Its key in the source; `None` for the hash of its bytes.
    pub source_key: Option<String>,
    /// For people: the file path, or the mailbox and UID.
    pub origin: String,
    /// The mailbox cursor to move past this message: (mailbox, UIDVALIDITY, UID).
    pub cursor: Option<(Uuid, i64, i64)>,
    /// Routing rules of the mailbox.
    pub rules: Vec<Rule>,
}

impl MessageSource {
    pub fn import(origin: impl Into<String>) -> Self {
        MessageSource {
            source: "import".into(),
            source_key: None,
            origin: origin.into(),
            cursor: None,
            rules: Vec::new(),
        }
    }
}

/// A routing rule of a mailbox: when a field contains a text, set the type and service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub field: RuleField,
    /// Compared without case or accents.
    pub contains: String,
    pub doctype: Option<String>,
    pub service_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleField {
    /// The sender's address.
    From,
    /// The address it was sent to.
    To,
    Subject,
    /// Subject or body.
    Text,
}

impl RuleField {
    pub const ALL: [RuleField; 4] = [
        RuleField::From,
        RuleField::To,
        RuleField::Subject,
        RuleField::Text,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RuleField::From => "from",
            RuleField::To => "to",
            RuleField::Subject => "subject",
            RuleField::Text => "text",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            RuleField::From => "l'expéditeur contient",
            RuleField::To => "le destinataire contient",
            RuleField::Subject => "l'objet contient",
            RuleField::Text => "l'objet ou le texte contient",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == s)
    }
}

/// `text` cut to `max_chars` characters, with "…" when it was longer.
fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The first rule that matches the message.
pub fn matching_rule<'a>(rules: &'a [Rule], mail: &ParsedMail) -> Option<&'a Rule> {
    use parapheur_domain::contact::fold;
    let from = mail.from.as_ref().map(|a| a.email.as_str()).unwrap_or("");
    let to: String = mail
        .to
        .iter()
        .chain(&mail.cc)
        .map(|a| a.email.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let subject = fold(&mail.subject);
    let text = || format!("{subject} {}", fold(&mail.text_body));
    rules.iter().find(|rule| {
        let needle = fold(&rule.contains);
        if needle.trim().is_empty() {
            return false;
        }
        match rule.field {
            RuleField::From => fold(from).contains(&needle),
            RuleField::To => fold(&to).contains(&needle),
            RuleField::Subject => subject.contains(&needle),
            RuleField::Text => text().contains(&needle),
        }
    })
}

/// What became of one message: one line of `import-mail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CaptureOutcome {
    Registered {
        chrono: String,
        item_id: Uuid,
    },
    Attached {
        chrono: String,
        item_id: Uuid,
    },
    Quarantined {
        reason: String,
        inbound_id: Uuid,
    },
    /// Taken before (same source key): nothing new was written.
    AlreadyTaken {
        chrono: Option<String>,
    },
}

impl std::fmt::Display for CaptureOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureOutcome::Registered { chrono, .. } => write!(f, "{chrono}"),
            CaptureOutcome::Attached { chrono, .. } => write!(f, "attached to {chrono}"),
            CaptureOutcome::Quarantined { reason, .. } => write!(f, "quarantined: {reason}"),
            CaptureOutcome::AlreadyTaken { chrono: Some(c) } => {
                write!(f, "already taken: {c}")
            }
            CaptureOutcome::AlreadyTaken { chrono: None } => write!(f, "already taken"),
        }
    }
}

/// The record of a captured message, written in the registering transaction.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    inbound: InboundMessage,
    cursor: Option<(Uuid, i64, i64)>,
}

impl Captured {
    pub(crate) fn new(inbound: InboundMessage, cursor: Option<(Uuid, i64, i64)>) -> Self {
        Captured { inbound, cursor }
    }

    pub(crate) async fn record(
        mut self,
        tx: &mut WriteTx,
        item_id: Uuid,
        actor: &str,
    ) -> Result<(), AppError> {
        self.inbound.item_id = Some(item_id);
        tx.insert_inbound(&self.inbound, actor).await?;
        if let Some((mailbox, validity, uid)) = self.cursor {
            tx.advance_mailbox(mailbox, validity, uid).await?;
        }
        Ok(())
    }
}

impl App {}
