//! Registering an item with its files.

use crate::boxed_future;
pub mod anchors;
pub mod dashboard;
pub mod integrity;
pub mod lifecycle;
pub mod printed;
pub mod reading;
pub mod separators;
pub mod signatures;
pub mod suggest;
pub mod views;

use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::deadline::{self, DeadlineFacts};
use parapheur_domain::item::{Item, NewItem};
use parapheur_domain::{Commune, Direction, DocumentType, Status};
use parapheur_store::WriteTx;
use parapheur_store::items::Attachment;
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, AppError};

/// Largest file accepted with an item (a scanned letter is far smaller).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// A file given with an item.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub filename: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub item: Item,
    pub attachments: Vec<Attachment>,
    /// The signatures of its signed PDFs, verified on arrival, by file hash (the item's
    /// page and the API read them back; not repeated in the command line's output).
    #[serde(skip)]
    pub signatures: Vec<(String, signatures::SignatureCheck)>,
    /// Its senders' and recipients' contacts (the API's answer names them).
    #[serde(skip)]
    pub senders: Vec<Uuid>,
    #[serde(skip)]
    pub recipients: Vec<Uuid>,
}

/// An item checked and its files stored, ready to be written (`App::ready_item`).
#[derive(Clone)]
pub(crate) struct ReadyItem {
    new: NewItem,
    party: Option<crate::Party>,
    files: Vec<StoredFile>,
    doctype: Option<DocumentType>,
    today: NaiveDate,
    now: DateTime<Utc>,
}

impl ReadyItem {
    /// The instant of the registration, as stored (microseconds): the transaction's.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

#[derive(Clone)]
struct StoredFile {
    filename: String,
    media_type: String,
    sha256: String,
    size: u64,
    /// Its signatures, verified on arrival, when it is a signed PDF.
    signatures: Option<signatures::SignatureCheck>,
}

/// Registers `ready` in `tx`: its contact if new, the next chrono number, the item, its
/// attachments and their extraction jobs. Each feature then writes its own rows in the same
/// transaction (the captured message, a tracking link, the folder sent) and commits; after
/// the commit it calls `App::registered`.
pub(crate) async fn register_in(
    tx: &mut WriteTx,
    commune: &Commune,
    actor: &Actor,
    ready: ReadyItem,
) -> Result<Registered, AppError> {
    let ReadyItem {
        mut new,
        party,
        files,
        doctype,
        today,
        now,
    } = ready;
    let who = actor.journal_name();
    let party_id = match party {
        Some(crate::Party::Existing(id)) => Some(id),
        Some(crate::Party::New(contact)) => {
            Some(tx.insert_contact(commune.id, &contact, &who).await?.id)
        }
        None => None,
    };
    if let Some(id) = party_id {
        match new.direction {
            Direction::Outgoing => new.recipient_ids.push(id),
            _ => new.sender_ids.push(id),
        }
    }
    tx.check_contacts(commune.id, &new.sender_ids).await?;
    tx.check_contacts(commune.id, &new.recipient_ids).await?;
    let year = today.year();
    let sequence = tx
        .next_sequence(commune.id, year, new.direction.code())
        .await?;
    let number = commune.chrono_format.format(year, new.direction, sequence);
    let status = if new.service_id.is_some() || new.assignee_id.is_some() {
        Status::Assigned
    } else {
        Status::Registered
    };
    let mut item = Item {
        id: Uuid::now_v7(),
        commune_id: commune.id,
        chrono: number.text,
        year,
        sequence,
        direction: new.direction,
        channel: new.channel,
        registered_number: new.registered_number.map(|n| n.trim().to_owned()),
        doctype_code: new.doctype_code,
        subject: new.subject.trim().to_owned(),
        body: new.body,
        letter_date: new.letter_date,
        arrival_date: new.arrival_date,
        first_receipt_elsewhere: new.first_receipt_elsewhere,
        registered_at: now,
        sender_reference: new.sender_reference,
        priority: new.priority,
        confidentiality: new.confidentiality,
        service_id: new.service_id,
        assignee_id: new.assignee_id,
        status,
        close_reason: None,
        due_date: None,
        silence_date: None,
        incomplete_requested_on: None,
        incomplete_completed_on: None,
        incomplete_deadline: None,
        missing_documents: Vec::new(),
        implicit_decision: None,
        implicit_decision_on: None,
        acknowledged_at: None,
        tags: new.tags,
        created_by: actor.user_id(),
        updated_at: now,
    };
    let dates = deadlines(item.direction, &item, doctype.as_ref(), commune);
    item.due_date = new.requested_due.or(dates.due);
    item.silence_date = dates.silence_date;
    tx.insert_item(&item, &new.sender_ids, &new.recipient_ids, &who)
        .await?;
    let mut attachments = Vec::with_capacity(files.len());
    let mut checked_files = Vec::new();
    for file in files {
        let a = Attachment {
            id: Uuid::now_v7(),
            item_id: item.id,
            sha256: file.sha256,
            size: i64::try_from(file.size).unwrap_or(i64::MAX),
            filename: file.filename,
            media_type: file.media_type,
        };
        tx.insert_attachment(commune.id, &a, &who).await?;
        if let Some(checked) = file.signatures {
            tx.record_file_signatures(commune.id, &checked.to_row(&a.sha256)?, &who)
                .await?;
            checked_files.push((a.sha256.clone(), checked));
        }
        if parapheur_domain::upload::is_extractable(&a.media_type) {
            tx.enqueue_extraction(commune.id, &a.sha256, &a.media_type, &a.filename)
                .await?;
        }
        attachments.push(a);
    }
    let event = crate::webhooks::Event::new(
        parapheur_domain::webhook::EventType::ItemRegistered,
        serde_json::json!({ "item": crate::webhooks::item_data(&item) }),
    );
    crate::webhooks::queue_event(tx, commune, event, now).await?;
    tracing::debug!(chrono = %item.chrono, "item registered");
    Ok(Registered {
        item,
        attachments,
        signatures: checked_files,
        senders: new.sender_ids,
        recipients: new.recipient_ids,
    })
}

/// The deadlines of an incoming item under its document type.
pub(crate) fn deadlines(
    item_direction: Direction,
    facts_from: &Item,
    doctype: Option<&DocumentType>,
    commune: &Commune,
) -> deadline::Deadlines {
    let none = deadline::Deadlines {
        due: None,
        silence_date: None,
        waiting_for_documents: false,
    };
    let Some(doctype) = doctype else { return none };
    if item_direction != Direction::Incoming {
        return none;
    }
    deadline::compute(&DeadlineFacts {
        arrival: facts_from.arrival_date,
        first_receipt_elsewhere: facts_from.first_receipt_elsewhere,
        incomplete: facts_from.incomplete_requested_on.map(|requested_on| {
            deadline::Incompleteness {
                requested_on,
                completed_on: facts_from.incomplete_completed_on,
                deadline: facts_from.incomplete_deadline,
            }
        }),
        delay: doctype.delay,
        silence: doctype.silence,
        zone: commune.holiday_zone(),
    })
}

fn check_file(file: &NewFile) -> Result<(), AppError> {
    if file.bytes.len() > MAX_FILE_BYTES {
        return Err(AppError::invalid(format!(
            "le fichier « {} » dépasse {} Mo",
            file.filename,
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    let name = file.filename.trim();
    if name.is_empty() || name.len() > 255 || name.contains(['/', '\\', '\0']) {
        return Err(AppError::invalid(format!(
            "nom de fichier invalide « {} »",
            file.filename
        )));
    }
    Ok(())
}

impl App {
    /// Registers an item and its files, giving it the next chrono number.
    ///
    /// Files are stored first; the item, its number, its attachments and its journal entry are
    /// then committed in one transaction. If anything fails, the register is unchanged (a file
    /// already stored is left unreferenced and collected by `fsck`).
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn register(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewItem,
        files: Vec<NewFile>,
        now: DateTime<Utc>,
    ) -> Result<Registered, AppError> {
        self.register_with_party(commune, actor, new, None, files, now)
            .await
    }

    /// Registers an item whose sender (recipient, for outgoing mail) is `party`: a new
    /// contact is created in the same transaction as the item, so a refused registration
    /// leaves no contact behind.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn register_with_party(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewItem,
        party: Option<crate::Party>,
        files: Vec<NewFile>,
        now: DateTime<Utc>,
    ) -> Result<Registered, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let ready = self.ready_item(commune, new, party, files, now).await?;
        self.register_ready(commune, actor, ready).await
    }

    /// Registers `ready` in a transaction of its own.
    pub(crate) async fn register_ready(
        &self,
        commune: &Commune,
        actor: &Actor,
        ready: ReadyItem,
    ) -> Result<Registered, AppError> {
        let mut tx = self.store().begin(ready.now).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        tx.commit().await?;
        self.registered(&registered);
        Ok(registered)
    }

    /// After the commit of a registration: wakes the webhook sender, and the extraction
    /// worker for its files.
    pub(crate) fn registered(&self, registered: &Registered) {
        self.webhooks_queued();
        if registered
            .attachments
            .iter()
            .any(|a| parapheur_domain::upload::is_extractable(&a.media_type))
        {
            self.work_queued();
        }
    }

    /// Everything registering does before its transaction: checks the fields, the document
    /// type and the routing, and stores the files (encrypted, content-addressed).
    pub(crate) async fn ready_item(
        &self,
        commune: &Commune,
        new: NewItem,
        party: Option<crate::Party>,
        files: Vec<NewFile>,
        now: DateTime<Utc>,
    ) -> Result<ReadyItem, AppError> {
        // Stored instants keep microseconds; keep the returned item identical to the row.
        let now = now.trunc_subsecs(6);
        let today = local_date(now, commune.zone());
        new.validate(today)?;
        if new.requested_due.is_some_and(|d| d < new.arrival_date) {
            return Err(AppError::invalid("l'échéance ne peut précéder l'arrivée"));
        }
        files.iter().try_for_each(check_file)?;
        let doctype = match &new.doctype_code {
            Some(code) => Some(
                self.store()
                    .doctype(commune.id, code)
                    .await?
                    .ok_or_else(|| AppError::UnknownDoctype(code.clone()))?,
            ),
            None => None,
        };
        self.check_routing(commune, new.service_id, new.assignee_id)
            .await?;
        let key = self.data_key(commune.id).await?;
        let mut stored = Vec::with_capacity(files.len());
        for file in files {
            // Stored as it came (content-addressed: never rewritten); a signed PDF's
            // signatures verified now, on arrival.
            let signatures = self.check_signatures(commune, &file.bytes, now).await?;
            let s = self
                .files()
                .put(&commune.id.to_string(), &key, &file.bytes)
                .await?;
            stored.push(StoredFile {
                filename: file.filename.trim().to_owned(),
                media_type: file.media_type,
                sha256: s.sha256,
                size: s.size,
                signatures,
            });
        }
        Ok(ReadyItem {
            new,
            party,
            files: stored,
            doctype,
            today,
            now,
        })
    }

    /// A service and a person in charge must both belong to the commune.
    pub(crate) async fn check_routing(
        &self,
        commune: &Commune,
        service_id: Option<Uuid>,
        assignee_id: Option<Uuid>,
    ) -> Result<(), AppError> {
        if let Some(s) = service_id
            && !self
                .store()
                .services(commune.id)
                .await?
                .iter()
                .any(|x| x.id == s && x.active)
        {
            return Err(AppError::invalid(
                "service inconnu ou retiré dans cette commune",
            ));
        }
        if let Some(u) = assignee_id
            && !self
                .store()
                .users(commune.id)
                .await?
                .iter()
                .any(|x| x.id == u && x.active)
        {
            return Err(AppError::invalid("personne inconnue dans cette commune"));
        }
        Ok(())
    }
}
