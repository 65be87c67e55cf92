//! Capture: a message (from a mailbox, an import or a scan) becomes an item, joins the item
//! it answers, or is quarantined with its reason. Nothing is dropped: the original bytes are
//! kept in the file store whatever happens, and the record of the message is written in the
//! same transaction as the item (and the mailbox cursor), so a message is taken once.

pub mod dropfolder;
pub mod extraction;
pub mod mailboxes;

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::Channel;
use parapheur_domain::Commune;
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::NewContact;
use parapheur_domain::item::NewItem;
use parapheur_mail::{Limits, ParsedMail};
use parapheur_store::WriteTx;
use parapheur_store::capture::{InboundMessage, InboundState};
use parapheur_store::items::{Attachment, Note};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::register::{NewFile, register_in};
use crate::{Actor, App, AppError, Party};

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

/// The readable name of a sender: "Jeanne Martin", else the address's local part.
fn sender_contact(address: &parapheur_mail::Address) -> NewContact {
    let name = address
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('@'))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            address
                .email
                .split('@')
                .next()
                .unwrap_or(&address.email)
                .to_owned()
        });
    let (first_name, last_name) = match name.rsplit_once(' ') {
        Some((first, last)) if !first.trim().is_empty() => {
            (Some(first.trim().to_owned()), last.trim().to_owned())
        }
        _ => (None, name.clone()),
    };
    NewContact {
        first_name,
        name: truncate(&last_name, 120),
        email: Some(address.email.clone()),
        ..NewContact::default()
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

impl App {
    /// Takes one message. `raw` is its bytes, or why they could not be read (too large to
    /// fetch, unreadable file): the message is then quarantined with that reason.
    ///
    /// Errors are returned only when nothing could be written (database or file store
    /// down): the message was not taken and the caller tries again later.
    pub async fn capture_message(
        &self,
        commune: &Commune,
        source: MessageSource,
        raw: Result<Vec<u8>, String>,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let now = now.trunc_subsecs(6);
        let actor = Actor::System("capture");
        let sha = raw.as_ref().ok().map(|b| parapheur_files::sha256_hex(b));
        let source_key = match (&source.source_key, &sha) {
            (Some(k), _) => k.clone(),
            (None, Some(h)) => h.clone(),
            (None, None) => format!("unreadable:{}", source.origin),
        };
        let mut taken = self
            .store()
            .inbound_by_key(commune.id, &source.source, &source_key)
            .await?;
        if taken.is_none()
            && let Some(sha) = &sha
        {
            // The same bytes from the same source under another key: a mailbox whose
            // UIDVALIDITY changed hands its messages out again under new UIDs.
            taken = self
                .store()
                .inbound_by_hash(commune.id, &source.source, sha)
                .await?;
        }
        if let Some(taken) = taken {
            if let Some((mailbox, validity, uid)) = source.cursor {
                let mut tx = self.store().begin(now).await?;
                tx.advance_mailbox(mailbox, validity, uid).await?;
                tx.commit().await?;
            }
            return Ok(CaptureOutcome::AlreadyTaken {
                chrono: self.chrono_of(commune.id, taken.item_id).await?,
            });
        }
        let mut inbound = InboundMessage {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            source: source.source.clone(),
            source_key,
            origin: truncate(&source.origin, 500),
            message_id: None,
            sha256: None,
            size: 0,
            state: InboundState::Quarantined,
            item_id: None,
            reason: None,
            subject: None,
            sender: None,
            received_at: now,
            updated_at: now,
        };
        let bytes = match raw {
            Ok(bytes) => bytes,
            Err(reason) => {
                return self
                    .quarantine(inbound, source.cursor, reason, &actor)
                    .await;
            }
        };
        inbound.size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        // The original first: whatever happens next, it is kept.
        let key = self.data_key(commune.id).await?;
        let stored = self
            .files()
            .put(&commune.id.to_string(), &key, &bytes)
            .await?;
        inbound.sha256 = Some(stored.sha256.clone());
        let mail = match parapheur_mail::parse(&bytes, &Limits::default()) {
            Ok(mail) => mail,
            Err(rejection) => {
                return self
                    .quarantine(inbound, source.cursor, rejection.to_string(), &actor)
                    .await;
            }
        };
        inbound.message_id = mail.message_id.clone();
        inbound.subject = Some(truncate(&mail.subject, MAX_SUBJECT_CHARS));
        inbound.sender = mail.from.as_ref().map(|a| a.email.clone());
        if !mail.warnings.is_empty() {
            inbound.reason = Some(mail.warnings.join(" ; "));
        }
        self.take_parsed(commune, &actor, inbound, source, mail, false, now)
            .await
    }

    /// Retries a quarantined message with the current program (after a fix, or once the
    /// reason is dealt with). Its original bytes were kept.
    pub async fn retry_inbound(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let now = now.trunc_subsecs(6);
        let message = self.store().inbound(commune.id, id).await?;
        if message.state != InboundState::Quarantined {
            return Err(AppError::invalid("ce message n'est pas en quarantaine"));
        }
        let Some(sha) = message.sha256.clone() else {
            return Err(AppError::invalid(
                "ce message n'a pas été téléchargé (trop volumineux) : il est resté dans la boîte \
                 aux lettres ; enregistrez-le à la main",
            ));
        };
        let bytes = self.read_file(commune.id, &sha).await?;
        let mail = parapheur_mail::parse(&bytes, &Limits::default())
            .map_err(|r| AppError::invalid(format!("toujours illisible : {r}")))?;
        let rules = match message.source.strip_prefix("imap:").map(Uuid::parse_str) {
            Some(Ok(mailbox)) => self.mailbox_rules(commune.id, mailbox).await?,
            _ => Vec::new(),
        };
        let source = MessageSource {
            source: message.source.clone(),
            source_key: Some(message.source_key.clone()),
            origin: message.origin.clone(),
            cursor: None,
            rules,
        };
        let outcome = self
            .take_parsed(commune, actor, message, source, mail, true, now)
            .await?;
        Ok(outcome)
    }

    pub(crate) async fn chrono_of(
        &self,
        commune_id: Uuid,
        item: Option<Uuid>,
    ) -> Result<Option<String>, AppError> {
        Ok(match item {
            Some(id) => Some(self.store().item(commune_id, id).await?.chrono),
            None => None,
        })
    }

    async fn quarantine(
        &self,
        mut inbound: InboundMessage,
        cursor: Option<(Uuid, i64, i64)>,
        reason: String,
        actor: &Actor,
    ) -> Result<CaptureOutcome, AppError> {
        inbound.state = InboundState::Quarantined;
        inbound.reason = Some(truncate(&reason, 2000));
        let mut tx = self.store().begin(inbound.received_at).await?;
        tx.insert_inbound(&inbound, &actor.journal_name()).await?;
        if let Some((mailbox, validity, uid)) = cursor {
            tx.advance_mailbox(mailbox, validity, uid).await?;
        }
        tx.commit().await?;
        tracing::warn!(origin = %inbound.origin, %reason, "message quarantined");
        Ok(CaptureOutcome::Quarantined {
            reason,
            inbound_id: inbound.id,
        })
    }

    /// The item a message answers: one of its Message-ID references, else a chrono number
    /// of this commune quoted in its subject.
    async fn thread_of(
        &self,
        commune: &Commune,
        mail: &ParsedMail,
    ) -> Result<Option<Uuid>, AppError> {
        let refs: Vec<String> = mail
            .in_reply_to
            .iter()
            .chain(&mail.references)
            .cloned()
            .collect();
        if let Some(item) = self.store().item_of_message_ids(commune.id, &refs).await? {
            return Ok(Some(item));
        }
        for number in commune
            .chrono_format
            .find_in(&mail.subject)
            .into_iter()
            .take(5)
        {
            let upper = number.to_uppercase();
            for candidate in [number, upper] {
                match self.store().item_by_chrono(commune.id, &candidate).await {
                    Ok(item) => return Ok(Some(item.id)),
                    Err(parapheur_store::StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    async fn take_parsed(
        &self,
        commune: &Commune,
        actor: &Actor,
        mut inbound: InboundMessage,
        source: MessageSource,
        mail: ParsedMail,
        retrying: bool,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        if let Some(item_id) = self.thread_of(commune, &mail).await? {
            return self
                .attach_message(
                    commune,
                    actor,
                    inbound,
                    source.cursor,
                    &mail,
                    item_id,
                    retrying,
                    now,
                )
                .await;
        }

        let today = local_date(now, &commune.departement);
        let channel = if mail.looks_like_scan {
            Channel::Paper
        } else {
            Channel::Email
        };
        let subject = match mail.subject.trim() {
            "" if mail.looks_like_scan => "Document numérisé".to_owned(),
            "" => "(sans objet)".to_owned(),
            s => truncate(s, MAX_SUBJECT_CHARS),
        };
        let mut new = NewItem::incoming(channel, subject, today);
        new.letter_date = mail
            .date
            .map(|d| local_date(d, &commune.departement))
            .filter(|d| *d <= today);
        let body = mail.text_body.trim();
        if !body.is_empty() && !mail.looks_like_scan {
            new.body = Some(truncate(body, MAX_BODY_CHARS));
        }
        if let Some(rule) = matching_rule(&source.rules, &mail) {
            new.doctype_code = rule.doctype.clone();
            new.service_id = rule.service_id;
        }
        let party = match &mail.from {
            Some(address) if !mail.looks_like_scan => {
                let candidate = sender_contact(address);
                match self
                    .store()
                    .likely_duplicates(
                        commune.id,
                        &NewContact {
                            email: candidate.email.clone(),
                            name: String::new(),
                            ..NewContact::default()
                        },
                    )
                    .await?
                    .into_iter()
                    .find(|c| c.email.as_deref().map(str::to_lowercase) == candidate.email.clone())
                {
                    Some(existing) => Some(Party::Existing(existing.id)),
                    None if candidate.validate().is_ok() => Some(Party::New(Box::new(candidate))),
                    None => None,
                }
            }
            _ => None,
        };
        let mut files = vec![];
        for a in &mail.attachments {
            files.push(NewFile {
                filename: a.filename.clone(),
                media_type: a.media_type.clone(),
                bytes: a.bytes.clone(),
            });
        }
        inbound.state = InboundState::Registered;
        let captured = Captured {
            inbound: inbound.clone(),
            cursor: source.cursor,
        };
        // The original is referenced by its inbound record (and listed on the item page);
        // it is not repeated as an attachment.
        let ready = match self.ready_item(commune, new, party, files, now).await {
            Ok(ready) => ready,
            // The message itself is refused (a field our rules reject): quarantine it.
            Err(
                e @ (AppError::Invalid(_) | AppError::InvalidItem(_) | AppError::UnknownDoctype(_)),
            ) if !retrying => {
                return self
                    .quarantine(inbound, source.cursor, e.to_string(), actor)
                    .await;
            }
            Err(e) => return Err(e),
        };
        let who = actor.journal_name();
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        if retrying {
            tx.resolve_inbound(
                commune.id,
                inbound.id,
                InboundState::Registered,
                registered.item.id,
                &who,
            )
            .await?;
        } else {
            captured.record(&mut tx, registered.item.id, &who).await?;
        }
        tx.commit().await?;
        self.registered(&registered);
        Ok(CaptureOutcome::Registered {
            chrono: registered.item.chrono,
            item_id: registered.item.id,
        })
    }

    /// Adds a message to the item it answers: its attachments, and a note saying who wrote
    /// and what.
    #[allow(clippy::too_many_arguments)]
    async fn attach_message(
        &self,
        commune: &Commune,
        actor: &Actor,
        mut inbound: InboundMessage,
        cursor: Option<(Uuid, i64, i64)>,
        mail: &ParsedMail,
        item_id: Uuid,
        retrying: bool,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let item = self.store().item(commune.id, item_id).await?;
        let key = self.data_key(commune.id).await?;
        let mut stored = Vec::new();
        for a in &mail.attachments {
            let s = self
                .files()
                .put(&commune.id.to_string(), &key, &a.bytes)
                .await?;
            stored.push((a, s));
        }
        let who = actor.journal_name();
        // The requester writing back (answering our email, sending the missing documents)
        // joins the public thread, which the tracking page shows; anyone else is a note.
        let from_requester = match (&mail.from, self.sender_of(commune, &item).await?) {
            (Some(from), Some(sender)) => sender
                .email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(from.email.trim())),
            _ => false,
        };
        let mut attachment_ids = Vec::new();
        let mut tx = self.store().begin(now).await?;
        for (a, s) in &stored {
            let attachment = Attachment {
                id: Uuid::now_v7(),
                item_id,
                sha256: s.sha256.clone(),
                size: i64::try_from(s.size).unwrap_or(i64::MAX),
                filename: a.filename.clone(),
                media_type: a.media_type.clone(),
            };
            tx.insert_attachment(commune.id, &attachment, &who).await?;
            if crate::capture::extraction::is_extractable(&attachment.media_type) {
                tx.enqueue_extraction(commune.id, &s.sha256, &a.media_type, &a.filename)
                    .await?;
            }
            attachment_ids.push(attachment.id);
        }
        let from = mail
            .from
            .as_ref()
            .map(|a| match &a.name {
                Some(n) if !n.trim().is_empty() => format!("{n} <{}>", a.email),
                _ => a.email.clone(),
            })
            .unwrap_or_else(|| "expéditeur inconnu".into());
        let mut note = format!(
            "Courriel reçu de {from} : « {} ».",
            truncate(mail.subject.trim(), 200)
        );
        let body = mail.text_body.trim();
        if !body.is_empty() {
            note.push_str("\n\n");
            note.push_str(&truncate(body, 20_000));
        }
        let mut completed = false;
        if from_requester {
            let message = parapheur_store::citizens::ItemMessage {
                id: Uuid::now_v7(),
                item_id,
                kind: "citizen".to_owned(),
                from_citizen: true,
                subject: truncate(mail.subject.trim(), 200),
                body: truncate(body, 20_000),
                reply_item_id: None,
                attachment_ids: attachment_ids.clone(),
                author_id: None,
                created_at: now,
            };
            tx.insert_item_message(commune.id, &message, &who).await?;
            if !attachment_ids.is_empty() {
                let before = tx.item_for_update(commune.id, item_id).await?;
                completed = self
                    .complete_with_documents(&mut tx, commune, &before, now, &who)
                    .await?;
            }
        } else {
            tx.insert_note(
                commune.id,
                &Note {
                    id: Uuid::now_v7(),
                    item_id,
                    author_id: None,
                    body: note,
                    created_at: now,
                },
                &who,
            )
            .await?;
        }
        if retrying {
            tx.resolve_inbound(
                commune.id,
                inbound.id,
                InboundState::Attached,
                item_id,
                &who,
            )
            .await?;
        } else {
            inbound.state = InboundState::Attached;
            Captured { inbound, cursor }
                .record(&mut tx, item_id, &who)
                .await?;
        }
        tx.commit().await?;
        self.work_queued();
        if completed {
            self.acknowledge_completion(commune, item_id, now).await;
        }
        Ok(CaptureOutcome::Attached {
            chrono: item.chrono,
            item_id,
        })
    }
}
