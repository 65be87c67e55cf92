//! Citizens: public request forms, acknowledgements (accusé d'enregistrement and accusé de
//! réception), the tracking link, missing documents (L114-5) and replies by email.
//!
//! A request from a public form is registered like any other item (same numbering, same
//! journal), with a tracking link written in the same transaction. Acknowledgements and
//! replies are emails queued in the outbox (see `outbox`) in the transaction of the change
//! they report, and shown in the item's public thread (`item_messages`), which is all the
//! citizen sees of the item: internal notes never leave the mairie.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use parapheur_domain::acknowledgement::{
    self, AckFacts, Acknowledgement, ServiceContact, plain_text,
};
use parapheur_domain::clock::{local_date, utc_offset_minutes};
use parapheur_domain::contact::{Contact, NewContact};
use parapheur_domain::item::{Item, NewItem};
use parapheur_domain::request_form::{self, FieldError, RequestForm, SubmittedFile};
use parapheur_domain::{Channel, Commune, Direction, Status, french, reply_template};
use parapheur_render::{LetterDocument, LetterSection};
use parapheur_smtp::{Address, Attachment as MailAttachment, OutgoingMessage};
use parapheur_store::citizens::{ItemMessage, ReplyTemplateRow, RequestFormRow};
use parapheur_store::items::Attachment;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::lifecycle::Change;
use crate::register::{NewFile, Registered, deadlines, register_in};
use crate::{Actor, App, AppError, Party};

/// The actor of what citizens do on the public pages.
pub const CITIZEN: Actor = Actor::System("citoyen");

/// A form as the public pages show it.
#[derive(Debug, Clone)]
pub struct PublicForm {
    pub row: RequestFormRow,
    pub form: RequestForm,
}

/// A file sent with a request or an answer, as received.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form field it was sent for ("" for an answer on the tracking page).
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Why a submission was refused: the fields to correct, or another reason.
#[derive(Debug)]
pub enum SubmitError {
    Fields(Vec<FieldError>),
    App(AppError),
}

impl From<AppError> for SubmitError {
    fn from(e: AppError) -> Self {
        SubmitError::App(e)
    }
}

impl From<parapheur_store::StoreError> for SubmitError {
    fn from(e: parapheur_store::StoreError) -> Self {
        SubmitError::App(e.into())
    }
}

/// What [`App::print_acknowledgements`] did: one PDF with every printed letter, the
/// items now recorded as acknowledged by post, and those left out with the reason.
#[derive(Debug)]
pub struct PrintedAcknowledgements {
    pub pdf: Option<Vec<u8>>,
    pub printed: Vec<Item>,
    pub refused: Vec<(Item, String)>,
}

/// A request registered from a public form.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub item: Item,
    /// The citizen's tracking link (the only place the token appears in clear).
    pub tracking_url: String,
}

/// What a citizen sees behind the tracking link.
#[derive(Debug, Clone)]
pub struct TrackingView {
    pub commune: Commune,
    pub item: Item,
    pub messages: Vec<ItemMessage>,
    /// The attachments the thread mentions (never the item's other files).
    pub attachments: Vec<Attachment>,
    pub service_name: Option<String>,
}

/// A new form, or the new version of one (by its code).
#[derive(Debug, Clone)]
pub struct FormInput {
    pub code: String,
    pub title: String,
    pub intro: String,
    pub doctype_code: Option<String>,
    pub service_id: Option<Uuid>,
    pub fields_json: String,
    pub consent: String,
    pub active: bool,
}

/// A new reply template, or the new version of one (by its code).
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub code: String,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub active: bool,
}

/// Files on public pages: at most this many per request or answer.
pub const MAX_UPLOADS: usize = 10;
/// And at most this big each (R112-9-1 says nothing; 20 MB holds a scanned file).
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// A citizen's message on the tracking page.
const MAX_ANSWER_CHARS: usize = 10_000;

fn not_found(what: &str) -> AppError {
    AppError::Store(parapheur_store::StoreError::not_found(what))
}

/// The SHA-256 of a tracking token, the only form the database searches by.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn tracking_context(commune_id: Uuid) -> String {
    format!("tracking:{commune_id}")
}

/// Checks what a citizen sent: size, count, and a type found from the bytes (a renamed
/// executable is refused whatever its name says).
fn check_uploads(uploads: Vec<Upload>) -> Result<Vec<(String, NewFile)>, AppError> {
    if uploads.len() > MAX_UPLOADS {
        return Err(AppError::invalid(format!(
            "au plus {MAX_UPLOADS} fichiers par envoi"
        )));
    }
    let mut files = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let name = safe_filename(&upload.filename);
        if upload.bytes.len() > MAX_UPLOAD_BYTES {
            return Err(AppError::invalid(format!(
                "le fichier « {name} » dépasse {} Mo",
                MAX_UPLOAD_BYTES / (1024 * 1024)
            )));
        }
        let Some(media_type) = crate::dropfolder::sniff(&upload.bytes) else {
            return Err(AppError::invalid(format!(
                "le fichier « {name} » n'est ni un PDF ni une image (JPEG, PNG, TIFF) : son contenu ne correspond pas"
            )));
        };
        files.push((
            upload.field,
            NewFile {
                filename: name,
                media_type: media_type.to_owned(),
                bytes: upload.bytes,
            },
        ));
    }
    Ok(files)
}

/// A file name kept readable but harmless: no path, no control character, 120 characters.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "document".to_owned()
    } else {
        clean
    }
}

fn local_now(now: DateTime<Utc>, commune: &Commune) -> chrono::NaiveDateTime {
    (now + Duration::minutes(utc_offset_minutes(now, &commune.departement))).naive_utc()
}

impl App {
    /// The commune's forms that citizens can use.
    pub async fn public_forms(&self, commune: &Commune) -> Result<Vec<PublicForm>, AppError> {
        let mut out = Vec::new();
        for row in self.store().request_forms(commune.id).await? {
            if row.active {
                out.push(self.parse_form(row)?);
            }
        }
        Ok(out)
    }

    fn parse_form(&self, row: RequestFormRow) -> Result<PublicForm, AppError> {
        let fields = request_form::fields_from_json(&row.fields_json)
            .map_err(|e| AppError::invalid(format!("formulaire « {} » : {e}", row.code)))?;
        let form = RequestForm {
            code: row.code.clone(),
            title: row.title.clone(),
            intro: row.intro.clone(),
            doctype_code: row.doctype_code.clone(),
            fields,
            consent: row.consent.clone(),
        };
        Ok(PublicForm { row, form })
    }

    /// One form by its code (active or not: the administrator edits inactive ones too).
    pub async fn request_form(
        &self,
        commune: &Commune,
        code: &str,
    ) -> Result<PublicForm, AppError> {
        let row = self
            .store()
            .request_form(commune.id, code)
            .await?
            .ok_or_else(|| not_found("formulaire"))?;
        self.parse_form(row)
    }

    /// Creates or replaces a form, after checking its definition.
    pub async fn save_request_form(
        &self,
        commune: &Commune,
        actor: &Actor,
        input: FormInput,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let now = now.trunc_subsecs(6);
        let fields = request_form::fields_from_json(&input.fields_json)
            .map_err(|e| AppError::invalid(e.to_string()))?;
        let form = RequestForm {
            code: input.code.trim().to_owned(),
            title: input.title.trim().to_owned(),
            intro: input.intro.trim().to_owned(),
            doctype_code: input.doctype_code.filter(|c| !c.trim().is_empty()),
            fields,
            consent: input.consent.trim().to_owned(),
        };
        request_form::validate_definition(&form).map_err(|e| AppError::invalid(e.to_string()))?;
        if let Some(code) = &form.doctype_code
            && self.store().doctype(commune.id, code).await?.is_none()
        {
            return Err(AppError::UnknownDoctype(code.clone()));
        }
        self.check_routing(commune, input.service_id, None).await?;
        let existing = self.store().request_form(commune.id, &form.code).await?;
        let row = RequestFormRow {
            id: existing.as_ref().map_or_else(Uuid::now_v7, |e| e.id),
            commune_id: commune.id,
            code: form.code.clone(),
            title: form.title,
            intro: form.intro,
            doctype_code: form.doctype_code,
            service_id: input.service_id,
            fields_json: request_form::fields_to_json(&form.fields),
            consent: form.consent,
            active: input.active,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        };
        let mut tx = self.store().begin(now).await?;
        tx.save_request_form(&row, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers a citizen's request from a public form, with its tracking link, then sends
    /// the accusé d'enregistrement and the accusé de réception.
    pub async fn submit_request(
        &self,
        commune: &Commune,
        form_code: &str,
        values: &BTreeMap<String, String>,
        uploads: Vec<Upload>,
        now: DateTime<Utc>,
    ) -> Result<Submitted, SubmitError> {
        let now = now.trunc_subsecs(6);
        let today = local_date(now, &commune.departement);
        let public = self.request_form(commune, form_code).await?;
        if !public.row.active {
            return Err(not_found("formulaire").into());
        }
        let submitted: Vec<SubmittedFile> = uploads
            .iter()
            .map(|u| SubmittedFile {
                key: u.field.clone(),
                name: u.filename.clone(),
                size: u.bytes.len() as u64,
            })
            .collect();
        let valid = request_form::validate_submission(&public.form, values, &submitted, today)
            .map_err(SubmitError::Fields)?;
        let files = check_uploads(uploads)?;

        let identity = &valid.identity;
        let candidate = NewContact {
            kind: None,
            civility: identity.civility.clone(),
            first_name: Some(identity.first_name.clone()).filter(|s| !s.is_empty()),
            name: identity.name.clone(),
            organisation: None,
            address: Some(identity.address.clone()).filter(|s| !s.is_empty()),
            postal_code: Some(identity.postal_code.clone()).filter(|s| !s.is_empty()),
            city: Some(identity.city.clone()).filter(|s| !s.is_empty()),
            email: Some(identity.email.clone()),
            phone: identity.phone.clone(),
            siret: identity.siret.clone(),
        };
        // The same person writing again: same address and same name. An address alone
        // could be shared (a family), and the form is public.
        let party = match self
            .store()
            .likely_duplicates(commune.id, &candidate)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .find(|c| {
                c.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&identity.email))
                    && c.name.eq_ignore_ascii_case(&candidate.name)
            }) {
            Some(existing) => Party::Existing(existing.id),
            None => Party::New(Box::new(candidate)),
        };

        let mut body = String::new();
        for (label, value) in &valid.summary {
            body.push_str(&format!("{label} : {value}\n"));
        }
        let mut new = NewItem::incoming(Channel::Form, valid.subject.clone(), today);
        new.letter_date = Some(today);
        new.doctype_code = public.row.doctype_code.clone();
        new.service_id = public.row.service_id;
        new.body = Some(body.trim_end().to_owned());
        new.tags = vec![format!("formulaire:{}", public.row.code)];

        let (token, token_hash, sealed) = self.new_tracking_token(commune).await?;
        let ready = self
            .ready_item(
                commune,
                new,
                Some(party),
                files.into_iter().map(|(_, f)| f).collect(),
                now,
            )
            .await?;
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, &CITIZEN, ready).await?;
        tx.insert_tracking_link(
            commune.id,
            registered.item.id,
            &token_hash,
            &sealed,
            &CITIZEN.journal_name(),
        )
        .await?;
        tx.commit().await?;
        self.registered(&registered);
        let item = registered.item;
        // The request is registered: an acknowledgement that cannot be queued now (an
        // unreadable logo, say) must not turn it into an error; the watch sends it later.
        if let Err(e) = self.acknowledge_submission(commune, &item, now).await {
            tracing::warn!(chrono = %item.chrono, error = %e, "acknowledgement deferred");
        }
        Ok(Submitted {
            tracking_url: self.tracking_url(&token),
            item,
        })
    }

    async fn new_tracking_token(
        &self,
        commune: &Commune,
    ) -> Result<(String, String, String), AppError> {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(|e| AppError::Config(format!("aléa : {e}")))?;
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
        let key = self.data_key(commune.id).await?;
        let sealed = key
            .seal(token.as_bytes(), &tracking_context(commune.id))
            .map_err(|e| AppError::Config(format!("lien de suivi : {e}")))?;
        let hash = token_hash(&token);
        Ok((token, hash, sealed))
    }

    pub fn tracking_url(&self, token: &str) -> String {
        format!("{}/suivi/{token}", self.public_url())
    }

    /// The item's tracking link, created now if it has none (a paper or email request).
    async fn ensure_tracking_url(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        if let Some(sealed) = self.store().tracking_token_of(commune.id, item_id).await? {
            let key = self.data_key(commune.id).await?;
            let token = key
                .open(&sealed, &tracking_context(commune.id))
                .map_err(|e| AppError::Config(format!("lien de suivi illisible : {e}")))?;
            return Ok(self.tracking_url(&String::from_utf8_lossy(&token)));
        }
        let (token, hash, sealed) = self.new_tracking_token(commune).await?;
        let mut tx = self.store().begin(now).await?;
        tx.item_for_update(commune.id, item_id).await?;
        tx.insert_tracking_link(commune.id, item_id, &hash, &sealed, "system:suivi")
            .await?;
        tx.commit().await?;
        Ok(self.tracking_url(&token))
    }

    /// The facts an acknowledgement states about `item`, and the person it goes to.
    pub async fn acknowledgement_facts(
        &self,
        commune: &Commune,
        item: &Item,
        tracking_url: Option<String>,
    ) -> Result<(AckFacts, Option<Contact>), AppError> {
        if item.direction != Direction::Incoming {
            return Err(AppError::invalid(
                "seul un courrier reçu a un accusé de réception",
            ));
        }
        let Some(code) = &item.doctype_code else {
            return Err(AppError::invalid(
                "indiquez d'abord le type de la demande : les dates de l'accusé de réception en dépendent",
            ));
        };
        let doctype = self
            .store()
            .doctype(commune.id, code)
            .await?
            .ok_or_else(|| AppError::UnknownDoctype(code.clone()))?;
        if doctype.no_acknowledgement {
            return Err(AppError::invalid(format!(
                "« {} » est dispensé d'accusé de réception (article R112-4 du CRPA)",
                doctype.label
            )));
        }
        let settings = self.store().commune_settings(commune.id).await?;
        let service = match item.service_id {
            Some(id) => self
                .store()
                .services(commune.id)
                .await?
                .into_iter()
                .find(|s| s.id == id),
            None => None,
        };
        let address = settings
            .address
            .clone()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| format!("Mairie\n{} {}", commune.postal_code, commune.name));
        let service = ServiceContact {
            name: service.as_ref().map_or_else(
                || format!("Mairie de {}", commune.name),
                |s| format!("{} — Mairie de {}", s.name, commune.name),
            ),
            address,
            email: service
                .as_ref()
                .and_then(|s| s.email.clone())
                .or(settings.email.clone()),
            phone: service
                .as_ref()
                .and_then(|s| s.phone.clone())
                .or(settings.phone.clone()),
        };
        let sender = self.sender_of(commune, item).await?;
        let facts = AckFacts {
            commune_name: commune.name.clone(),
            chrono: item.chrono.clone(),
            subject: item.subject.clone(),
            doctype_label: Some(doctype.label.clone()),
            arrival: item.arrival_date,
            first_receipt_elsewhere: item.first_receipt_elsewhere,
            channel: item.channel,
            delay: doctype.delay,
            silence: doctype.silence,
            deadlines: deadlines(item.direction, item, Some(&doctype), commune),
            missing_documents: if item.incomplete_completed_on.is_none() {
                item.missing_documents.clone()
            } else {
                Vec::new()
            },
            documents_due: None,
            service,
            electronic: matches!(item.channel, Channel::Form | Channel::Email),
            tracking_url,
        };
        Ok((facts, sender))
    }

    /// What the commune's settings lack for its ARs to carry every mention of R112-5 2°
    /// (postal address and phone of the service); an AR without them leaves the appeal
    /// time limits unenforceable (L112-6). Shown where ARs are sent and in the settings.
    pub async fn acknowledgement_gaps(
        &self,
        commune: &Commune,
    ) -> Result<Vec<&'static str>, AppError> {
        let settings = self.store().commune_settings(commune.id).await?;
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
        let mut gaps = Vec::new();
        if blank(&settings.address) {
            gaps.push("l'adresse postale de la mairie");
        }
        if blank(&settings.phone) {
            gaps.push("le téléphone de la mairie");
        }
        Ok(gaps)
    }

    /// The requests still waiting for their accusé de réception, oldest first, each with
    /// whether its sender can get it by email (otherwise it is printed and posted).
    pub async fn unacknowledged(
        &self,
        commune: &Commune,
        limit: i64,
    ) -> Result<Vec<(Item, bool)>, AppError> {
        let mut out = Vec::new();
        for item in self.store().unacknowledged_items(commune.id, limit).await? {
            let by_email = self
                .sender_of(commune, &item)
                .await?
                .as_ref()
                .and_then(contact_address)
                .is_some();
            out.push((item, by_email));
        }
        Ok(out)
    }

    /// The first sender of an item, if it has one.
    pub(crate) async fn sender_of(
        &self,
        commune: &Commune,
        item: &Item,
    ) -> Result<Option<Contact>, AppError> {
        for (role, id) in self.store().item_contacts(item.id).await? {
            if role == "sender" {
                return Ok(Some(self.store().contact(commune.id, id).await?));
            }
        }
        Ok(None)
    }

    /// The accusé de réception of an item as a PDF letter, to look at before sending it
    /// (nothing is recorded: [`App::print_acknowledgements`] records a posted one).
    pub async fn acknowledgement_pdf(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let item = self.store().item(commune.id, item_id).await?;
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        let (facts, sender) = self
            .acknowledgement_facts(commune, &item, Some(url))
            .await?;
        let ack = acknowledgement::acknowledgement_of_receipt(&facts);
        self.letter_of(commune, &ack, sender.as_ref(), now).await
    }

    /// The accusés de réception of several items in one PDF to print and post, each
    /// recorded as sent by post in the item's thread and journal. An item that cannot
    /// have one (no type yet, a type dispensed by R112-4, an outgoing letter) is left
    /// out with the reason; nothing is recorded unless the PDF was laid out.
    pub async fn print_acknowledgements(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<PrintedAcknowledgements, AppError> {
        let now = now.trunc_subsecs(6);
        let (letterhead, logo) = self.letterhead(commune).await?;
        let mut letters = Vec::new();
        let mut printed = Vec::new();
        let mut refused = Vec::new();
        for &id in item_ids {
            let item = self.store().item(commune.id, id).await?;
            let url = self.ensure_tracking_url(commune, id, now).await?;
            match self.acknowledgement_facts(commune, &item, Some(url)).await {
                Ok((facts, sender)) => {
                    let ack = acknowledgement::acknowledgement_of_receipt(&facts);
                    letters.push(ack_letter(
                        commune,
                        &ack,
                        sender.as_ref(),
                        letterhead.clone(),
                        logo.clone(),
                        now,
                    ));
                    printed.push((item, ack));
                }
                Err(AppError::Invalid(reason)) => refused.push((item, reason)),
                Err(e) => return Err(e),
            }
        }
        if letters.is_empty() {
            return Ok(PrintedAcknowledgements {
                pdf: None,
                printed: Vec::new(),
                refused,
            });
        }
        let pdf = tokio::task::spawn_blocking(move || {
            crate::parapheur::lay_out_batch(letters, parapheur_render::letters_pdf)
        })
        .await
        .map_err(|e| AppError::Config(format!("mise en page interrompue : {e}")))?
        .map_err(|e| AppError::Config(e.to_string()))?;
        let mut tx = self.store().begin(now).await?;
        for (item, ack) in &printed {
            let title = format!("{} (imprimé pour un envoi par courrier)", ack.title);
            record_acknowledged(&mut tx, commune, actor, item.id, &title, ack, now).await?;
        }
        tx.commit().await?;
        Ok(PrintedAcknowledgements {
            pdf: Some(pdf),
            printed: printed.into_iter().map(|(item, _)| item).collect(),
            refused,
        })
    }

    async fn letter_of(
        &self,
        commune: &Commune,
        ack: &Acknowledgement,
        recipient: Option<&Contact>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let (letterhead, logo) = self.letterhead(commune).await?;
        let doc = ack_letter(commune, ack, recipient, letterhead, logo, now);
        tokio::task::spawn_blocking(move || {
            crate::parapheur::lay_out(doc, parapheur_render::letter_pdf)
        })
        .await
        .map_err(|e| AppError::Config(format!("mise en page interrompue : {e}")))?
        .map_err(|e| AppError::Config(e.to_string()))
    }

    /// The accusé d'enregistrement and the accusé de réception of a request just received
    /// from a public form: queued once each (deduplicated), whatever the retries.
    pub(crate) async fn acknowledge_submission(
        &self,
        commune: &Commune,
        item: &Item,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let url = self.ensure_tracking_url(commune, item.id, now).await?;
        let (facts, sender) = match self
            .acknowledgement_facts(commune, item, Some(url.clone()))
            .await
        {
            Ok(found) => found,
            // A form without a type, or a type dispensed from AR: only the registration.
            Err(AppError::Invalid(_)) => {
                return self.send_registration_only(commune, item, &url, now).await;
            }
            Err(e) => return Err(e),
        };
        let Some(to) = sender.as_ref().and_then(contact_address) else {
            return Ok(());
        };
        let registration = acknowledgement::registration_acknowledgement(
            &facts,
            local_now(item.registered_at, commune),
        );
        let receipt = acknowledgement::acknowledgement_of_receipt(&facts);
        let pdf = self
            .letter_of(commune, &receipt, sender.as_ref(), now)
            .await?;
        let first = self
            .ack_email(
                commune,
                item,
                &to,
                &registration,
                None,
                "ack_registration",
                now,
            )
            .await?;
        let second = self
            .ack_email(commune, item, &to, &receipt, Some(pdf), "ack_receipt", now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        let before = tx.item_for_update(commune.id, item.id).await?;
        let mut queued = false;
        for (email, ack, kind) in [
            (&first, &registration, "ack_registration"),
            (&second, &receipt, "ack_receipt"),
        ] {
            if self.queue_email(&mut tx, email).await? {
                queued = true;
                tx.insert_item_message(
                    commune.id,
                    &thread_message(item.id, kind, &ack.title, &plain_text(ack), now),
                    "system:accusé",
                )
                .await?;
            }
        }
        if queued {
            let mut after = before.clone();
            after.acknowledged_at = Some(now);
            tx.update_item(&before, &after, "item.acknowledged", "system:accusé")
                .await?;
        }
        tx.commit().await?;
        self.outbox_queued();
        Ok(())
    }

    async fn send_registration_only(
        &self,
        commune: &Commune,
        item: &Item,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let Some(sender) = self.sender_of(commune, item).await? else {
            return Ok(());
        };
        let Some(to) = contact_address(&sender) else {
            return Ok(());
        };
        let settings = self.store().commune_settings(commune.id).await?;
        let facts = AckFacts {
            commune_name: commune.name.clone(),
            chrono: item.chrono.clone(),
            subject: item.subject.clone(),
            doctype_label: None,
            arrival: item.arrival_date,
            first_receipt_elsewhere: item.first_receipt_elsewhere,
            channel: item.channel,
            delay: parapheur_domain::Delay::Months(2),
            silence: parapheur_domain::SilenceRule::None,
            deadlines: parapheur_domain::deadline::Deadlines {
                due: item.due_date,
                silence_date: None,
                waiting_for_documents: false,
            },
            missing_documents: Vec::new(),
            documents_due: None,
            service: ServiceContact {
                name: format!("Mairie de {}", commune.name),
                address: settings.address.unwrap_or_default(),
                email: settings.email,
                phone: settings.phone,
            },
            electronic: true,
            tracking_url: Some(url.to_owned()),
        };
        let registration = acknowledgement::registration_acknowledgement(
            &facts,
            local_now(item.registered_at, commune),
        );
        let email = self
            .ack_email(
                commune,
                item,
                &to,
                &registration,
                None,
                "ack_registration",
                now,
            )
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.item_for_update(commune.id, item.id).await?;
        if self.queue_email(&mut tx, &email).await? {
            tx.insert_item_message(
                commune.id,
                &thread_message(
                    item.id,
                    "ack_registration",
                    &registration.title,
                    &plain_text(&registration),
                    now,
                ),
                "system:accusé",
            )
            .await?;
        }
        tx.commit().await?;
        self.outbox_queued();
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn ack_email(
        &self,
        commune: &Commune,
        item: &Item,
        to: &Address,
        ack: &Acknowledgement,
        pdf: Option<Vec<u8>>,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::outbox::PreparedEmail, AppError> {
        let settings = self.store().commune_settings(commune.id).await?;
        let message = OutgoingMessage {
            from: self.sender_address(commune),
            to: vec![to.clone()],
            reply_to: self.reply_to(commune, &settings),
            subject: format!("{} — {} [{}]", ack.title, item.subject, item.chrono),
            text: plain_text(ack),
            html: None,
            attachments: pdf
                .map(|bytes| MailAttachment {
                    filename: format!("accuse-de-reception-{}.pdf", item.chrono),
                    content_type: "application/pdf".to_owned(),
                    bytes,
                })
                .into_iter()
                .collect(),
            message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: true,
        };
        self.prepare_email(
            commune,
            Some(item.id),
            kind,
            &message,
            match kind {
                "ack_registration" | "ack_receipt" => Some(format!("{kind}:{}", item.id)),
                // Once per completion: documents asked for again, then completed again,
                // give a new AR.
                "ack_completed" => item
                    .incomplete_completed_on
                    .map(|on| format!("{kind}:{}:{on}", item.id)),
                _ => None,
            },
            now,
        )
        .await
    }

    pub(crate) fn reply_to(
        &self,
        commune: &Commune,
        settings: &parapheur_store::communes::CommuneSettings,
    ) -> Option<Address> {
        settings.email.clone().map(|email| Address {
            name: Some(format!("Mairie de {}", commune.name)),
            email,
        })
    }

    pub(crate) fn message_id_domain(&self, commune: &Commune) -> String {
        let from = self.sender_address(commune).email;
        from.rsplit_once('@').map_or_else(
            || format!("{}.parapheur.invalid", commune.insee),
            |(_, d)| d.to_owned(),
        )
    }

    /// Sends the accusé de réception of an item by email (from the item page), again if
    /// asked: the AR may need repeating after documents were asked for.
    pub async fn send_acknowledgement(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        let now = now.trunc_subsecs(6);
        let item = self.store().item(commune.id, item_id).await?;
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        let (facts, sender) = self
            .acknowledgement_facts(commune, &item, Some(url))
            .await?;
        let Some(to) = sender.as_ref().and_then(contact_address) else {
            return Err(AppError::invalid(
                "l'expéditeur n'a pas d'adresse électronique : imprimez l'accusé de réception",
            ));
        };
        let receipt = acknowledgement::acknowledgement_of_receipt(&facts);
        let pdf = self
            .letter_of(commune, &receipt, sender.as_ref(), now)
            .await?;
        let email = self
            .ack_email(
                commune,
                &item,
                &to,
                &receipt,
                Some(pdf),
                "ack_receipt_manual",
                now,
            )
            .await?;
        let mut tx = self.store().begin(now).await?;
        self.queue_email(&mut tx, &email).await?;
        record_acknowledged(
            &mut tx,
            commune,
            actor,
            item_id,
            &receipt.title,
            &receipt,
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox_queued();
        Ok(to.email)
    }

    /// L114-5: asks the sender for missing documents. The deadline follows the rule (SVA:
    /// it will run from their receipt; SVR: suspended), and the sender gets the list with
    /// the tracking link to send them.
    ///
    /// `due`: the date the commune sets for the documents (R112-5 asks the AR to state
    /// it); after today and within a year.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_documents(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        missing: Vec<String>,
        due: Option<chrono::NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        let now = now.trunc_subsecs(6);
        let missing: Vec<String> = missing
            .into_iter()
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect();
        if missing.is_empty() {
            return Err(AppError::invalid("indiquez au moins une pièce manquante"));
        }
        let today = local_date(now, &commune.departement);
        if let Some(due) = due
            && (due <= today || due > today + Duration::days(366))
        {
            return Err(AppError::invalid(
                "la date limite des pièces doit tomber après aujourd'hui, dans l'année",
            ));
        }
        // With a type that has an AR, the list goes in a new AR (R112-5 names the missing
        // documents); otherwise (no type yet, R112-4) in a plain notice.
        let current = self.store().item(commune.id, item_id).await?;
        let with_ar = match self.acknowledgement_facts(commune, &current, None).await {
            Ok(_) => true,
            Err(AppError::Invalid(_)) => false,
            Err(e) => return Err(e),
        };
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        // The change, the email and the thread message land together or not at all.
        let mut tx = self.store().begin(now).await?;
        let item = self
            .apply_change(
                &mut tx,
                commune,
                actor,
                item_id,
                Change::Incomplete {
                    requested_on: today,
                    missing: missing.clone(),
                },
                now,
            )
            .await?;
        let sender = self.sender_of(commune, &item).await?;
        let to = sender.as_ref().and_then(contact_address);
        let (text, email) = if with_ar {
            let (mut facts, _) = self
                .acknowledgement_facts(commune, &item, Some(url))
                .await?;
            facts.documents_due = due;
            let ack = acknowledgement::acknowledgement_of_receipt(&facts);
            let email = match &to {
                Some(to) => {
                    let pdf = self.letter_of(commune, &ack, sender.as_ref(), now).await?;
                    Some(
                        self.ack_email(
                            commune,
                            &item,
                            to,
                            &ack,
                            Some(pdf),
                            "missing_documents",
                            now,
                        )
                        .await?,
                    )
                }
                None => None,
            };
            (plain_text(&ack), email)
        } else {
            let text = missing_documents_notice(commune, &item, &missing, due, &url);
            let email = match &to {
                Some(to) => {
                    let settings = self.store().commune_settings(commune.id).await?;
                    let message = OutgoingMessage {
                        from: self.sender_address(commune),
                        to: vec![to.clone()],
                        reply_to: self.reply_to(commune, &settings),
                        subject: format!("Pièces manquantes — {} [{}]", item.subject, item.chrono),
                        text: text.clone(),
                        html: None,
                        attachments: Vec::new(),
                        message_id: parapheur_smtp::new_message_id(
                            &self.message_id_domain(commune),
                        ),
                        in_reply_to: None,
                        references: Vec::new(),
                        auto_submitted: true,
                    };
                    Some(
                        self.prepare_email(
                            commune,
                            Some(item.id),
                            "missing_documents",
                            &message,
                            None,
                            now,
                        )
                        .await?,
                    )
                }
                None => None,
            };
            (text, email)
        };
        if let Some(email) = &email {
            self.queue_email(&mut tx, email).await?;
        }
        tx.insert_item_message(
            commune.id,
            &thread_message(
                item_id,
                "missing_documents",
                "Pièces manquantes",
                &text,
                now,
            ),
            &actor.journal_name(),
        )
        .await?;
        let item = if with_ar && email.is_some() && item.acknowledged_at.is_none() {
            let mut after = item.clone();
            after.acknowledged_at = Some(now);
            tx.update_item(&item, &after, "item.acknowledged", &actor.journal_name())
                .await?;
            after
        } else {
            item
        };
        tx.commit().await?;
        self.outbox_queued();
        Ok(item)
    }

    /// Documents from the requester complete a request that waited for them (L114-5): the
    /// delay runs again from today. False when it was not waiting.
    pub(crate) async fn complete_with_documents(
        &self,
        tx: &mut parapheur_store::WriteTx,
        commune: &Commune,
        before: &Item,
        now: DateTime<Utc>,
        who: &str,
    ) -> Result<bool, AppError> {
        if before.status != Status::AwaitingDocuments {
            return Ok(false);
        }
        let today = local_date(now, &commune.departement);
        let mut after = before.clone();
        after.status = Status::InProgress;
        after.incomplete_completed_on =
            Some(today.max(before.incomplete_requested_on.unwrap_or(today)));
        after.updated_at = now;
        let doctype = match &after.doctype_code {
            Some(code) => tx.doctype(commune.id, code).await?,
            None => None,
        };
        let dates = deadlines(after.direction, &after, doctype.as_ref(), commune);
        after.due_date = dates.due;
        after.silence_date = dates.silence_date;
        tx.update_item(before, &after, "item.completed", who)
            .await?;
        Ok(true)
    }

    /// L114-5 and R112-5: once the missing documents are in, the sender gets the
    /// accusé de réception again with the dates that now run (once per completion). No
    /// email address, no type with an AR: nothing to send (the AR can be printed). Called
    /// once the documents are committed: a failure is logged, and the AR can be sent again
    /// from the item page.
    pub(crate) async fn acknowledge_completion(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) {
        if let Err(e) = self.completion_acknowledgement(commune, item_id, now).await {
            tracing::warn!(error = %e, "accusé de réception après complément");
        }
    }

    async fn completion_acknowledgement(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let now = now.trunc_subsecs(6);
        let item = self.store().item(commune.id, item_id).await?;
        if item.incomplete_completed_on.is_none() {
            return Ok(());
        }
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        let (facts, sender) = match self.acknowledgement_facts(commune, &item, Some(url)).await {
            Ok(found) => found,
            Err(AppError::Invalid(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(to) = sender.as_ref().and_then(contact_address) else {
            return Ok(());
        };
        let ack = acknowledgement::acknowledgement_of_receipt(&facts);
        let pdf = self.letter_of(commune, &ack, sender.as_ref(), now).await?;
        let email = self
            .ack_email(commune, &item, &to, &ack, Some(pdf), "ack_completed", now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.item_for_update(commune.id, item_id).await?;
        if self.queue_email(&mut tx, &email).await? {
            let title = format!("{} (dossier complet)", ack.title);
            tx.insert_item_message(
                commune.id,
                &thread_message(item_id, "ack_receipt", &title, &plain_text(&ack), now),
                "system:accusé",
            )
            .await?;
        }
        tx.commit().await?;
        self.outbox_queued();
        Ok(())
    }

    /// What the tracking link shows; `NotFound` for a token that leads nowhere (guessed,
    /// altered or from another installation), the same answer whatever the reason.
    pub async fn tracking(&self, token: &str) -> Result<TrackingView, AppError> {
        if token.len() < 20 || token.len() > 64 {
            return Err(not_found("suivi"));
        }
        let Some((commune_id, item_id)) = self.store().tracking_target(&token_hash(token)).await?
        else {
            return Err(not_found("suivi"));
        };
        let commune = self.store().commune(commune_id).await?;
        let item = self.store().item(commune_id, item_id).await?;
        let messages = self.store().item_messages(commune_id, item_id).await?;
        let wanted: std::collections::HashSet<Uuid> = messages
            .iter()
            .flat_map(|m| m.attachment_ids.iter().copied())
            .collect();
        let mut attachments: Vec<Attachment> = self
            .store()
            .attachments(commune_id, item_id)
            .await?
            .into_iter()
            .filter(|a| wanted.contains(&a.id))
            .collect();
        // Replies: their letters are files of the outgoing item.
        for reply in messages.iter().filter_map(|m| m.reply_item_id) {
            attachments.extend(self.store().attachments(commune_id, reply).await?);
        }
        let service_name = match item.service_id {
            Some(id) => self
                .store()
                .services(commune_id)
                .await?
                .into_iter()
                .find(|s| s.id == id)
                .map(|s| s.name),
            None => None,
        };
        Ok(TrackingView {
            commune,
            item,
            messages,
            attachments,
            service_name,
        })
    }

    /// A file the tracking page lists, for the citizen to download.
    pub async fn tracking_file(
        &self,
        token: &str,
        attachment_id: Uuid,
    ) -> Result<(Attachment, Vec<u8>), AppError> {
        let view = self.tracking(token).await?;
        let attachment = view
            .attachments
            .into_iter()
            .find(|a| a.id == attachment_id)
            .ok_or_else(|| not_found("fichier"))?;
        let bytes = self.read_file(view.commune.id, &attachment.sha256).await?;
        Ok((attachment, bytes))
    }

    /// The accusé de réception of the request behind a tracking link, as the letter the
    /// commune would post, once the AR was given (by email or post).
    pub async fn tracking_acknowledgement(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<u8>), AppError> {
        let view = self.tracking(token).await?;
        if view.item.acknowledged_at.is_none() {
            return Err(not_found("accusé de réception"));
        }
        let pdf = self
            .acknowledgement_pdf(&view.commune, view.item.id, now)
            .await?;
        Ok((view.item.chrono, pdf))
    }

    /// The citizen answers on the tracking page, with documents: they join the item. If
    /// documents were asked for, the request is complete today and its delay restarts
    /// (SVA) or resumes (SVR); the agent still sees everything and may ask again.
    pub async fn citizen_answer(
        &self,
        token: &str,
        text: &str,
        uploads: Vec<Upload>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let now = now.trunc_subsecs(6);
        let view = self.tracking(token).await?;
        let commune = view.commune;
        let text = text.trim();
        if text.chars().count() > MAX_ANSWER_CHARS {
            return Err(AppError::invalid(format!(
                "un message compte au plus {MAX_ANSWER_CHARS} caractères"
            )));
        }
        if text.is_empty() && uploads.is_empty() {
            return Err(AppError::invalid(
                "écrivez un message ou joignez un document",
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(AppError::invalid(
                "le message contient des caractères invalides",
            ));
        }
        if !view.item.status.is_open() && view.item.status != Status::ReplySent {
            return Err(AppError::invalid(
                "ce dossier est clos : écrivez à la mairie pour une nouvelle demande",
            ));
        }
        let files = check_uploads(uploads)?;
        let key = self.data_key(commune.id).await?;
        let mut stored = Vec::with_capacity(files.len());
        for (_, file) in &files {
            stored.push(
                self.files()
                    .put(&commune.id.to_string(), &key, &file.bytes)
                    .await?,
            );
        }
        let who = CITIZEN.journal_name();
        let mut tx = self.store().begin(now).await?;
        let before = tx.item_for_update(commune.id, view.item.id).await?;
        let mut ids = Vec::new();
        for ((_, file), s) in files.iter().zip(&stored) {
            let a = Attachment {
                id: Uuid::now_v7(),
                item_id: before.id,
                sha256: s.sha256.clone(),
                size: i64::try_from(s.size).unwrap_or(i64::MAX),
                filename: file.filename.clone(),
                media_type: file.media_type.clone(),
            };
            tx.insert_attachment(commune.id, &a, &who).await?;
            if crate::jobs::is_extractable(&a.media_type) {
                tx.enqueue_extraction(commune.id, &a.sha256, &a.media_type, &a.filename)
                    .await?;
            }
            ids.push(a.id);
        }
        let mut message = thread_message(
            before.id,
            "citizen",
            if ids.is_empty() {
                "Message du demandeur"
            } else {
                "Documents du demandeur"
            },
            text,
            now,
        );
        message.from_citizen = true;
        message.attachment_ids = ids.clone();
        tx.insert_item_message(commune.id, &message, &who).await?;
        let completed = !ids.is_empty()
            && self
                .complete_with_documents(&mut tx, &commune, &before, now, &who)
                .await?;
        tx.commit().await?;
        self.work_queued();
        if completed {
            self.acknowledge_completion(&commune, before.id, now).await;
        }
        Ok(())
    }

    /// The values of a reply template's variables for an item.
    pub async fn template_values(
        &self,
        commune: &Commune,
        actor: &Actor,
        item: &Item,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, String>, AppError> {
        let settings = self.store().commune_settings(commune.id).await?;
        let sender = self.sender_of(commune, item).await?;
        let agent = match actor.user_id() {
            Some(id) => Some(self.store().user(id).await?),
            None => None,
        };
        let mut v = BTreeMap::new();
        let mut put = |k: &str, val: String| {
            v.insert(k.to_owned(), val);
        };
        if let Some(c) = &sender {
            // A letter still opens with "Madame, Monsieur," when the civility is unknown
            // (senders of emails never give one).
            put(
                "contact.civilite",
                c.civility
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(|| "Madame, Monsieur".to_owned()),
            );
            put("contact.prenom", c.first_name.clone().unwrap_or_default());
            put("contact.nom", c.name.clone());
            put("contact.nom_complet", c.display_name());
            put("contact.adresse", address_block(c).join("\n"));
        } else {
            put("contact.civilite", "Madame, Monsieur".to_owned());
            for k in [
                "contact.prenom",
                "contact.nom",
                "contact.nom_complet",
                "contact.adresse",
            ] {
                put(k, String::new());
            }
        }
        put("courrier.numero", item.chrono.clone());
        put("courrier.objet", item.subject.clone());
        put(
            "courrier.date_arrivee",
            french::long_date(item.arrival_date),
        );
        put(
            "courrier.date_limite",
            item.due_date.map(french::long_date).unwrap_or_default(),
        );
        put("commune.nom", commune.name.clone());
        put("commune.adresse", settings.address.unwrap_or_default());
        put(
            "agent.nom",
            agent
                .as_ref()
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
        );
        put(
            "agent.fonction",
            agent
                .as_ref()
                .and_then(|u| u.title.clone())
                .unwrap_or_default(),
        );
        put(
            "date_du_jour",
            french::long_date(local_date(now, &commune.departement)),
        );
        Ok(v)
    }

    /// Replies to an incoming item by email: the reply is registered as an outgoing item
    /// (its own chrono number), linked to the request, shown in its public thread, and
    /// sent threaded to the citizen's messages so that their answer comes back here.
    ///
    /// `decides`: the reply is the answer to the request, which then counts as answered
    /// (status "réponse envoyée": no more deadline warnings, no implicit decision). A
    /// holding reply or a question leaves the request and its deadlines as they are.
    #[allow(clippy::too_many_arguments)]
    pub async fn reply_by_email(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        subject: &str,
        body: &str,
        decides: bool,
        now: DateTime<Utc>,
    ) -> Result<Registered, AppError> {
        let now = now.trunc_subsecs(6);
        let item = self.store().item(commune.id, item_id).await?;
        if item.direction != Direction::Incoming {
            return Err(AppError::invalid("on répond à un courrier reçu"));
        }
        let subject = subject.trim();
        if subject.is_empty() || subject.chars().count() > 200 {
            return Err(AppError::invalid("l'objet compte de 1 à 200 caractères"));
        }
        let values = self.template_values(commune, actor, &item, now).await?;
        let text =
            reply_template::fill(body, &values).map_err(|e| AppError::invalid(e.to_string()))?;
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 50_000 {
            return Err(AppError::invalid(
                "la réponse compte de 1 à 50 000 caractères",
            ));
        }
        let Some(sender) = self.sender_of(commune, &item).await? else {
            return Err(AppError::invalid(
                "ce courrier n'a pas d'expéditeur à qui répondre",
            ));
        };
        let Some(to) = contact_address(&sender) else {
            return Err(AppError::invalid(
                "l'expéditeur n'a pas d'adresse électronique : répondez par courrier",
            ));
        };
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        // Thread on what the citizen sent and what we sent them.
        let received: Vec<String> = self
            .store()
            .inbound_of_item(commune.id, item_id)
            .await?
            .into_iter()
            .filter_map(|m| m.message_id)
            .collect();
        let mut references = received.clone();
        references.extend(
            self.store()
                .outbox_of_item(commune.id, item_id)
                .await?
                .into_iter()
                .map(|m| m.message_id),
        );
        // We answer the citizen's latest message, or follow up on our own last one.
        let in_reply_to = received.last().or(references.last()).cloned();
        let settings = self.store().commune_settings(commune.id).await?;
        let full_text = format!(
            "{text}\n\n--\nMairie de {}\nVotre demande {} : {url}\nPour répondre, répondez à ce message ou écrivez depuis ce lien.",
            commune.name, item.chrono
        );
        let message = OutgoingMessage {
            from: self.sender_address(commune),
            to: vec![to.clone()],
            reply_to: self.reply_to(commune, &settings),
            subject: format!("{subject} [{}]", item.chrono),
            text: full_text,
            html: None,
            attachments: Vec::new(),
            message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
            in_reply_to,
            references: references.clone(),
            auto_submitted: false,
        };
        let email = self
            .prepare_email(commune, Some(item_id), "reply", &message, None, now)
            .await?;
        let mut new = NewItem::incoming(
            Channel::Email,
            subject.to_owned(),
            local_date(now, &commune.departement),
        );
        new.direction = Direction::Outgoing;
        new.body = Some(text.clone());
        new.service_id = item.service_id;
        let mut thread = ItemMessage {
            author_id: actor.user_id(),
            ..thread_message(item_id, "reply", subject, &text, now)
        };
        let ready = self
            .ready_item(
                commune,
                new,
                Some(Party::Existing(sender.id)),
                Vec::new(),
                now,
            )
            .await?;
        let who = actor.journal_name();
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        tx.insert_link(
            commune.id,
            registered.item.id,
            item_id,
            parapheur_domain::item::LinkKind::ReplyTo,
            &who,
        )
        .await?;
        thread.reply_item_id = Some(registered.item.id);
        tx.insert_item_message(commune.id, &thread, &who).await?;
        let queued = tx.insert_outbox(&email.row).await?;
        tx.commit().await?;
        self.registered(&registered);
        if queued {
            self.outbox_queued();
        }
        if decides
            && item.status.is_open()
            && item
                .status
                .check_transition(Status::ReplySent, None)
                .is_ok()
        {
            self.change_item(
                commune,
                actor,
                item_id,
                Change::Status {
                    to: Status::ReplySent,
                    reason: None,
                },
                now,
            )
            .await?;
        }
        Ok(registered)
    }

    /// Creates or replaces a reply template, after checking its variables.
    pub async fn save_reply_template(
        &self,
        commune: &Commune,
        actor: &Actor,
        input: &TemplateInput,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let TemplateInput {
            code,
            name,
            subject,
            body,
            active,
        } = input;
        let active = *active;
        let code = code.trim();
        if !parapheur_domain::doctype::is_valid_code(code) {
            return Err(AppError::invalid(
                "code de modèle invalide : lettres minuscules, chiffres et tirets",
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("le nom compte de 1 à 100 caractères"));
        }
        if body.trim().is_empty() || body.chars().count() > 50_000 {
            return Err(AppError::invalid(
                "le texte compte de 1 à 50 000 caractères",
            ));
        }
        let unknown = reply_template::unknown_variables(body);
        if !unknown.is_empty() {
            return Err(AppError::invalid(format!(
                "variables inconnues : {}",
                unknown.join(", ")
            )));
        }
        let existing = self.store().reply_template(commune.id, code).await?;
        let row = ReplyTemplateRow {
            id: existing.map_or_else(Uuid::now_v7, |e| e.id),
            commune_id: commune.id,
            code: code.to_owned(),
            name: name.to_owned(),
            subject: subject.trim().to_owned(),
            body: body.trim().to_owned(),
            active,
        };
        let mut tx = self.store().begin(now).await?;
        tx.save_reply_template(&row, now, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The accusé de réception as a letter from the commune, on its letterhead.
fn ack_letter(
    commune: &Commune,
    ack: &Acknowledgement,
    recipient: Option<&Contact>,
    letterhead: Vec<String>,
    logo: Option<parapheur_render::Logo>,
    now: DateTime<Utc>,
) -> LetterDocument {
    let today = local_date(now, &commune.departement);
    LetterDocument {
        commune_name: format!("Mairie de {}", commune.name),
        letterhead,
        logo,
        place_and_date: format!("{}, le {}", commune.name, french::long_date(today)),
        recipient: recipient.map(address_block).unwrap_or_default(),
        reference: Some(format!("Réf. : {}", ack.reference)),
        subject: format!("Objet : {}", ack.title),
        title: Some(ack.title.clone()),
        opening: Some("Madame, Monsieur,".to_owned()),
        sections: ack
            .sections
            .iter()
            .map(|s| LetterSection {
                heading: Some(s.heading.clone()),
                paragraphs: s.paragraphs.clone(),
                list: s.list.clone(),
            })
            .collect(),
        closing: None,
        signature: vec![
            format!("Pour le maire de {},", commune.name),
            "le service".to_owned(),
        ],
        // The articles that apply are in the body ("Textes applicables"), chosen for
        // this request (paper or electronic, silence rule).
        footer: None,
        generated_at: now,
        signature_zone: false,
    }
}

/// Records that an item's accusé de réception left (by email or post): its text in the
/// public thread, the date on the item, both journaled.
async fn record_acknowledged(
    tx: &mut parapheur_store::WriteTx,
    commune: &Commune,
    actor: &Actor,
    item_id: Uuid,
    title: &str,
    ack: &Acknowledgement,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let before = tx.item_for_update(commune.id, item_id).await?;
    let message = thread_message(item_id, "ack_receipt", title, &plain_text(ack), now);
    tx.insert_item_message(commune.id, &message, &actor.journal_name())
        .await?;
    let mut after = before.clone();
    after.acknowledged_at = Some(now);
    tx.update_item(&before, &after, "item.acknowledged", &actor.journal_name())
        .await?;
    Ok(())
}

/// The list of missing documents for a request whose type has no AR (L114-5).
fn missing_documents_notice(
    commune: &Commune,
    item: &Item,
    missing: &[String],
    due: Option<chrono::NaiveDate>,
    url: &str,
) -> String {
    let list: String = missing.iter().map(|m| format!("- {m}\n")).collect();
    let by = due.map_or(String::new(), |d| {
        format!(", avant le {}", french::long_date(d))
    });
    format!(
        "Madame, Monsieur,\n\nPour traiter votre demande n° {} (« {} »), la mairie de {} a besoin des pièces suivantes{by} :\n\n{list}\nVous pouvez les déposer depuis votre page de suivi : {url}\n(article L114-5 du code des relations entre le public et l'administration)\n",
        item.chrono, item.subject, commune.name
    )
}

/// A message of the public thread.
fn thread_message(
    item_id: Uuid,
    kind: &str,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> ItemMessage {
    ItemMessage {
        id: Uuid::now_v7(),
        item_id,
        kind: kind.to_owned(),
        from_citizen: false,
        subject: subject.to_owned(),
        body: body.to_owned(),
        reply_item_id: None,
        attachment_ids: Vec::new(),
        author_id: None,
        created_at: now,
    }
}

pub(crate) fn contact_address(contact: &Contact) -> Option<Address> {
    let email = contact.email.as_deref()?.trim();
    if email.is_empty() {
        return None;
    }
    Some(Address {
        name: Some(contact.display_name()),
        email: email.to_owned(),
    })
}

/// The lines of a contact's postal address block.
pub(crate) fn address_block(c: &Contact) -> Vec<String> {
    let mut lines = vec![c.display_name()];
    if let Some(org) = c.organisation.as_ref().filter(|o| !o.is_empty()) {
        lines.push(org.clone());
    }
    if let Some(address) = &c.address {
        lines.extend(address.lines().map(str::to_owned));
    }
    let city = [c.postal_code.clone(), c.city.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !city.trim().is_empty() {
        lines.push(city);
    }
    lines
}
