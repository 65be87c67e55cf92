//! Taking messages: each is deduplicated, its original stored first, parsed, then planned
//! (registered, joined to the item it answers, or quarantined) and written. A batch of
//! messages shares one transaction and one commit (group commit): the fsync and the pages
//! the items share are paid once per batch, and nothing is reported taken before the commit.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::Channel;
use parapheur_domain::Commune;
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::NewContact;
use parapheur_domain::item::NewItem;
use parapheur_mail::{Limits, ParsedMail};
use parapheur_store::capture::{InboundMessage, InboundState};
use parapheur_store::items::{Attachment, Note};
use std::collections::HashSet;

use futures::StreamExt;

use uuid::Uuid;

use super::batch::{Attach, Batch, Content, MAX_BATCH, Plan, RECEIVED_AHEAD, RECEIVING, Received};
use super::{
    CaptureOutcome, Captured, MAX_BODY_CHARS, MAX_SUBJECT_CHARS, MessageSource, matching_rule,
    truncate,
};
use crate::register::NewFile;
use crate::{Actor, App, AppError, ErrorKind, Party};

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

impl App {
    /// Takes one message. `raw` is its bytes, or why they could not be read (too large to
    /// fetch, unreadable file): the message is then quarantined with that reason.
    ///
    /// Errors are returned only when nothing could be written (database or file store
    /// down): the message was not taken and the caller tries again later.
    #[boxed_future]
    pub async fn capture_message(
        &self,
        commune: &Commune,
        source: MessageSource,
        raw: Result<Vec<u8>, String>,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let mut outcomes = self
            .capture_messages(commune, vec![(source, raw)], now)
            .await?;
        outcomes
            .pop()
            .ok_or_else(|| AppError::internal("aucun message pris"))
    }

    /// Takes messages in order, committing up to [`MAX_BATCH`] of them in one transaction
    /// (group commit). An outcome is returned only once its message is committed: an error
    /// means the messages from the failing one on were not taken (the ones before were),
    /// and taking them again later is safe.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, messages = messages.len()))]
    #[boxed_future]
    pub async fn capture_messages(
        &self,
        commune: &Commune,
        messages: Vec<(MessageSource, Result<Vec<u8>, String>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaptureOutcome>, AppError> {
        let now = now.trunc_subsecs(6);
        let mut batch = Batch {
            app: self,
            commune,
            actor: Actor::System("capture"),
            pending: Vec::new(),
            keys: HashSet::new(),
            hashes: HashSet::new(),
            message_ids: HashSet::new(),
            outcomes: vec![None; messages.len()],
        };
        // Receiving runs ahead in a task of its own, RECEIVING messages at once and in
        // order, and goes on while messages are planned and batches written, up to
        // RECEIVED_AHEAD messages ahead. If taking stops early, the channel closes and the
        // task stops at its next message (the originals it stored are kept, as always).
        let (ahead, mut received) = tokio::sync::mpsc::channel(RECEIVED_AHEAD);
        let app = self.clone();
        let commune_id = commune.id;
        tokio::spawn(async move {
            let mut receiving = futures::stream::iter(messages.into_iter().enumerate())
                .map(|(n, (source, raw))| {
                    let app = &app;
                    async move { (n, app.receive(commune_id, source, raw).await) }
                })
                .buffered(RECEIVING);
            while let Some(message) = receiving.next().await {
                if ahead.send(message).await.is_err() {
                    break;
                }
            }
        });
        while let Some((n, message)) = received.recv().await {
            let planned = match message {
                Ok(message) => self.plan_message(&mut batch, n, message, now).await,
                Err(e) => Err(e),
            };
            if let Err(e) = planned {
                // What was planned before it is still taken.
                batch.flush().await?;
                return Err(e);
            }
            if batch.pending.len() >= MAX_BATCH {
                batch.flush().await?;
            }
        }
        batch.flush().await?;
        batch
            .outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| AppError::internal("message sans issue")))
            .collect()
    }

    /// Stores a message's original and parses it. Its files are written without waiting for
    /// the disk: whoever commits the message syncs the file store first (one flush a batch).
    async fn receive(
        &self,
        commune_id: Uuid,
        source: MessageSource,
        raw: Result<Vec<u8>, String>,
    ) -> Result<Received, AppError> {
        let bytes = match raw {
            Ok(bytes) => bytes,
            Err(reason) => {
                return Ok(Received {
                    source,
                    content: Err(reason),
                });
            }
        };
        let key = self.data_key(commune_id).await?;
        let stored = self
            .files()
            .put_deferred(&commune_id.to_string(), &key, &bytes)
            .await?;
        let mail = parapheur_mail::parse(&bytes, &Limits::default()).map_err(|r| r.to_string());
        if let Ok(mail) = &mail {
            // Its attachments stored now, concurrently with the other messages: registering
            // it finds them stored (content-addressed) and only checks they are there. If it
            // is not registered after all, they are unreferenced files that `fsck` collects.
            for a in mail
                .attachments
                .iter()
                .filter(|a| a.bytes.len() <= crate::register::MAX_FILE_BYTES)
            {
                self.files()
                    .put_deferred(&commune_id.to_string(), &key, &a.bytes)
                    .await?;
            }
        }
        Ok(Received {
            source,
            content: Ok(Content {
                sha256: stored.sha256,
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                mail,
            }),
        })
    }

    /// Plans message `n` of a batch, flushing the batch first when the message depends on
    /// it; a reply joining its item is written at once (after the batch before it).
    async fn plan_message(
        &self,
        batch: &mut Batch<'_>,
        n: usize,
        received: Received,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let Received { source, content } = received;
        let sha = content.as_ref().ok().map(|c| c.sha256.clone());
        let source_key = match (&source.source_key, &sha) {
            (Some(k), _) => k.clone(),
            (None, Some(h)) => h.clone(),
            (None, None) => format!("unreadable:{}", source.origin),
        };
        let batch_key = format!("{}\n{source_key}", source.source);
        let batch_sha = sha.as_ref().map(|h| format!("{}\n{h}", source.source));
        if batch.waits_for_pending(&batch_key, batch_sha.as_deref()) {
            batch.flush().await?;
        }
        // Taken under this key, else the same bytes from the same source under another key
        // (a mailbox whose UIDVALIDITY changed hands its messages out again under new
        // UIDs): one statement.
        let taken = self
            .store()
            .inbound_taken(
                batch.commune.id,
                &source.source,
                &source_key,
                sha.as_deref(),
            )
            .await?;
        if let Some(taken) = taken {
            let chrono = self.chrono_of(batch.commune.id, taken.item_id).await?;
            let plan = Plan::AlreadyTaken {
                cursor: source.cursor,
                chrono,
            };
            batch.push(n, batch_key, batch_sha, plan);
            return Ok(());
        }
        let mut inbound = InboundMessage {
            id: Uuid::now_v7(),
            commune_id: batch.commune.id,
            source: source.source.clone(),
            source_key,
            origin: truncate(&source.origin, 500),
            message_id: None,
            sha256: sha,
            size: 0,
            state: InboundState::Quarantined,
            item_id: None,
            reason: None,
            subject: None,
            sender: None,
            received_at: now,
            updated_at: now,
        };
        let mail = match content {
            Ok(content) => {
                inbound.size = content.size;
                content.mail
            }
            Err(reason) => Err(reason),
        };
        let mail = match mail {
            Ok(mail) => mail,
            Err(reason) => {
                let plan = Plan::Quarantine {
                    inbound: Box::new(inbound),
                    cursor: source.cursor,
                    reason,
                };
                batch.push(n, batch_key, batch_sha, plan);
                return Ok(());
            }
        };
        inbound.message_id = mail.message_id.clone();
        inbound.subject = Some(truncate(&mail.subject, MAX_SUBJECT_CHARS));
        inbound.sender = mail.from.as_ref().map(|a| a.email.clone());
        if !mail.warnings.is_empty() {
            inbound.reason = Some(mail.warnings.join(" ; "));
        }
        if batch.answers_pending(&mail) {
            batch.flush().await?;
        }
        let commune = batch.commune;
        match self
            .plan_parsed(commune, inbound, source, mail, false, now)
            .await?
        {
            Plan::Attach(attach) => {
                // Written alone, and after what was planned before it.
                batch.flush().await?;
                let outcome = self
                    .attach_message(commune, &batch.actor.clone(), *attach, now)
                    .await?;
                batch.outcomes[n] = Some(outcome);
            }
            plan => batch.push(n, batch_key, batch_sha, plan),
        }
        Ok(())
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

    /// The item a message answers, and whether its writer is known to be one of the
    /// item's correspondents. Only a reply to one of our own emails (its references name a
    /// Message-ID we sent: random, known only to who received it) is; a reference to a
    /// message we received, or a chrono number quoted in the subject, anyone can forge.
    async fn thread_of(
        &self,
        commune: &Commune,
        mail: &ParsedMail,
    ) -> Result<Option<Thread>, AppError> {
        let refs: Vec<String> = mail
            .in_reply_to
            .iter()
            .chain(&mail.references)
            .cloned()
            .collect();
        if let Some(item_id) = self
            .store()
            .item_of_sent_message_ids(commune.id, &refs)
            .await?
        {
            return Ok(Some(Thread {
                item_id,
                authenticated: true,
            }));
        }
        if let Some(item_id) = self.store().item_of_message_ids(commune.id, &refs).await? {
            return Ok(Some(Thread {
                item_id,
                authenticated: false,
            }));
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
                    Ok(item) => {
                        return Ok(Some(Thread {
                            item_id: item.id,
                            authenticated: false,
                        }));
                    }
                    Err(parapheur_store::StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(None)
    }

    /// What taking a parsed message will write: joining the item it answers, registering
    /// a new item (its files stored now, before any transaction), or a quarantine when the
    /// register refuses it.
    pub(super) async fn plan_parsed(
        &self,
        commune: &Commune,
        mut inbound: InboundMessage,
        source: MessageSource,
        mail: ParsedMail,
        retrying: bool,
        now: DateTime<Utc>,
    ) -> Result<Plan, AppError> {
        let thread = self.thread_of(commune, &mail).await?;
        if let Some(Thread {
            item_id,
            authenticated: true,
        }) = thread
        {
            return Ok(Plan::Attach(Box::new(Attach {
                inbound,
                cursor: source.cursor,
                mail,
                item_id,
                retrying,
            })));
        }
        // Anything else that seems to belong to an item is registered on its own, with a
        // word for the agent: joining it would let anyone add files to any item, or
        // complete a request in its sender's name and restart its legal delay.
        let to_reconcile = match thread {
            Some(Thread { item_id, .. }) => {
                Some(self.store().item(commune.id, item_id).await?.chrono)
            }
            None => None,
        };

        let today = local_date(now, commune.zone());
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
        // Arrival: when the message was delivered, not when it was polled (an email of Friday
        // read on Monday arrived on Friday).
        let arrival = local_date(mail.delivered_at(now), commune.zone()).min(today);
        let mut new = NewItem::incoming(channel, subject, arrival);
        new.letter_date = mail
            .date
            .map(|d| local_date(d, commune.zone()))
            .filter(|d| *d <= arrival);
        if mail.automated {
            new.tags
                .push(parapheur_domain::acknowledgement::AUTOMATED_SENDER_TAG.to_owned());
        }
        let body = mail.text_body.trim();
        if !body.is_empty() && !mail.looks_like_scan {
            new.body = Some(truncate(body, MAX_BODY_CHARS));
        }
        if let Some(chrono) = to_reconcile {
            let hint = format!(
                "{RECONCILE} {chrono}, mais rien ne prouve que son expéditeur en est le \
                 correspondant : il est enregistré à part. S'il s'agit de la même affaire, liez \
                 les deux courriers."
            );
            new.body = Some(match new.body.take() {
                Some(body) => truncate(&format!("{hint}\n\n{body}"), MAX_BODY_CHARS),
                None => hint,
            });
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
        // A voice message the PBX emailed: a phone item of the caller, not an email of the
        // PBX (`calls::voicemail`).
        let party = if mail.looks_like_scan {
            party
        } else {
            self.voicemail(
                commune,
                &mail.subject,
                &mail.text_body,
                &mut new,
                &mut files,
            )
            .await?
            .unwrap_or(party)
        };
        inbound.state = InboundState::Registered;
        let captured = Captured {
            inbound: inbound.clone(),
            cursor: source.cursor,
        };
        // The original is referenced by its inbound record (and listed on the item page);
        // it is not repeated as an attachment.
        match self.ready_item(commune, new, party, files, now).await {
            Ok(ready) => Ok(Plan::Register {
                ready: Box::new(ready),
                captured: Box::new(captured),
                retrying,
            }),
            // The message itself is refused (a field our rules reject): quarantine it.
            Err(e) if e.kind() == ErrorKind::Invalid && !retrying => Ok(Plan::Quarantine {
                inbound: Box::new(inbound),
                cursor: source.cursor,
                reason: e.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Adds a message to the item it answers: its attachments, and a note saying who wrote
    /// and what.
    pub(super) async fn attach_message(
        &self,
        commune: &Commune,
        actor: &Actor,
        attach: Attach,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let Attach {
            mut inbound,
            cursor,
            mail,
            item_id,
            retrying,
        } = attach;
        let item = self.store().item(commune.id, item_id).await?;
        let key = self.data_key(commune.id).await?;
        let mut stored = Vec::new();
        for a in &mail.attachments {
            let signatures = self.check_signatures(commune, &a.bytes, now).await?;
            let s = self
                .files()
                .put(&commune.id.to_string(), &key, &a.bytes)
                .await?;
            stored.push((a, s, signatures));
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
        // Its original and attachments were stored deferred (see `receive`).
        self.files().sync().await?;
        let mut tx = self.store().begin(now).await?;
        for (a, s, signatures) in &stored {
            let attachment = Attachment {
                id: Uuid::now_v7(),
                item_id,
                sha256: s.sha256.clone(),
                size: i64::try_from(s.size).unwrap_or(i64::MAX),
                filename: a.filename.clone(),
                media_type: a.media_type.clone(),
            };
            tx.insert_attachment(commune.id, &attachment, &who).await?;
            if let Some(checked) = signatures {
                tx.record_file_signatures(commune.id, &checked.to_row(&s.sha256)?, &who)
                    .await?;
            }
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

/// The item a message seems to answer.
#[derive(Debug, Clone, Copy)]
struct Thread {
    item_id: Uuid,
    /// Its writer received one of our emails about the item.
    authenticated: bool,
}

/// How a registered message that seems to follow another item opens its text.
const RECONCILE: &str = "[À rapprocher] Ce courriel semble faire suite au courrier";

/// The number of the item a message registered apart seems to follow, as its text says
/// (for the item page's one-button "Rapprocher").
pub fn reconcile_target(body: &str) -> Option<&str> {
    body.strip_prefix(RECONCILE)?
        .trim_start()
        .split([',', ' '])
        .next()
        .filter(|n| !n.is_empty())
}
