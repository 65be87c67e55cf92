//! Acknowledgements: the accusé d'enregistrement and the accusé de réception with the
//! mandatory mentions (L112-3, R112-5, R112-11-1), by email or printed for the post.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::acknowledgement::{
    self, AckFacts, Acknowledgement, ServiceContact, plain_text,
};
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::Contact;
use parapheur_domain::item::Item;
use parapheur_domain::{Channel, Commune, Direction, french};
use parapheur_render::{LetterDocument, LetterSection};
use parapheur_smtp::{Address, Attachment as MailAttachment, OutgoingMessage};
use uuid::Uuid;

use super::PrintedAcknowledgements;
use super::local_now;
use super::replies::thread_message;
use crate::letters::{address_block, contact_address};
use crate::register::deadlines;
use crate::{Actor, App, AppError};
use parapheur_render::Job;

/// The accusé de réception as a letter from the commune, on its letterhead.
fn ack_letter(
    commune: &Commune,
    ack: &Acknowledgement,
    recipient: Option<&Contact>,
    letterhead: Vec<String>,
    logo: Option<parapheur_render::Logo>,
    now: DateTime<Utc>,
) -> LetterDocument {
    let today = local_date(now, commune.zone());
    LetterDocument {
        commune_name: format!("Mairie de {}", commune.name),
        letterhead,
        logo,
        place_and_date: format!("{}, le {}", commune.name, french::long_date(today)),
        recipient: recipient.map(address_block).unwrap_or_default(),
        reference: Some(format!("Réf. : {}", ack.reference)),
        subject: format!("Objet : {}", ack.title),
        title: Some(ack.title.clone()),
        opening: Some(format!(
            "{},",
            french::salutation(recipient.and_then(|c| c.civility.as_deref()))
        )),
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

/// Whether an item has an accusé de réception.
pub enum Acknowledgeable {
    /// What it states, and the person it goes to.
    Yes(Box<(AckFacts, Option<Contact>)>),
    No(NoAcknowledgement),
}

/// Why an item has no accusé de réception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAcknowledgement {
    /// Mail the mairie sent.
    Outgoing,
    /// No document type yet: the AR's dates depend on it.
    Untyped,
    /// A type dispensed from AR (R112-4 CRPA), by its label.
    Dispensed(String),
}

impl std::fmt::Display for NoAcknowledgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAcknowledgement::Outgoing => {
                f.write_str("seul un courrier reçu a un accusé de réception")
            }
            NoAcknowledgement::Untyped => f.write_str(
                "indiquez d'abord le type de la demande : les dates de l'accusé de réception en dépendent",
            ),
            NoAcknowledgement::Dispensed(label) => write!(
                f,
                "« {label} » est dispensé d'accusé de réception (article R112-4 du CRPA)"
            ),
        }
    }
}

impl App {
    /// The facts an acknowledgement states about `item`, and the person it goes to; an
    /// item without an acknowledgement is refused with the reason.
    #[boxed_future]
    pub async fn acknowledgement_facts(
        &self,
        commune: &Commune,
        item: &Item,
        tracking_url: Option<String>,
    ) -> Result<(AckFacts, Option<Contact>), AppError> {
        match self.acknowledgeable(commune, item, tracking_url).await? {
            Acknowledgeable::Yes(found) => Ok(*found),
            Acknowledgeable::No(reason) => Err(AppError::invalid(reason.to_string())),
        }
    }

    /// Whether `item` has an accusé de réception and, if so, what it states.
    #[boxed_future]
    pub async fn acknowledgeable(
        &self,
        commune: &Commune,
        item: &Item,
        tracking_url: Option<String>,
    ) -> Result<Acknowledgeable, AppError> {
        if item.direction != Direction::Incoming {
            return Ok(Acknowledgeable::No(NoAcknowledgement::Outgoing));
        }
        let Some(code) = &item.doctype_code else {
            return Ok(Acknowledgeable::No(NoAcknowledgement::Untyped));
        };
        let doctype = self
            .store()
            .doctype(commune.id, code)
            .await?
            .ok_or_else(|| AppError::UnknownDoctype(code.clone()))?;
        if doctype.no_acknowledgement {
            return Ok(Acknowledgeable::No(NoAcknowledgement::Dispensed(
                doctype.label,
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
            // L114-5: every AR sent while documents are awaited states their date.
            documents_due: item
                .incomplete_deadline
                .filter(|_| item.incomplete_completed_on.is_none()),
            service,
            electronic: matches!(item.channel, Channel::Form | Channel::Email),
            tracking_url,
            appeal: parapheur_domain::acknowledgement::AppealRoute::for_doctype(Some(
                &doctype.code,
            )),
        };
        Ok(Acknowledgeable::Yes(Box::new((facts, sender))))
    }

    /// What the commune's settings lack for its ARs to carry every mention of R112-5 2°
    /// (postal address and phone of the service); an AR without them leaves the appeal
    /// time limits unenforceable (L112-6). Shown where ARs are sent and in the settings.
    #[boxed_future]
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
    #[boxed_future]
    pub async fn unacknowledged(
        &self,
        commune: &Commune,
        reader: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(Item, bool)>, AppError> {
        let mut out = Vec::new();
        for item in self
            .store()
            .unacknowledged_items(commune.id, reader, limit)
            .await?
        {
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
    #[boxed_future]
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
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn print_acknowledgements(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<PrintedAcknowledgements, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let (letterhead, logo) = self.letterhead(commune).await?;
        let mut letters = Vec::new();
        let mut printed = Vec::new();
        let mut refused = Vec::new();
        for &id in item_ids {
            let item = self.store().item(commune.id, id).await?;
            let url = self.ensure_tracking_url(commune, id, now).await?;
            match self.acknowledgeable(commune, &item, Some(url)).await? {
                Acknowledgeable::Yes(found) => {
                    let (facts, sender) = *found;
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
                Acknowledgeable::No(reason) => refused.push((item, reason.to_string())),
            }
        }
        if letters.is_empty() {
            return Ok(PrintedAcknowledgements {
                pdf: None,
                printed: Vec::new(),
                refused,
            });
        }
        let pdf = self.lay_out(Job::Letters(letters)).await?.pdf;
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

    pub(super) async fn letter_of(
        &self,
        commune: &Commune,
        ack: &Acknowledgement,
        recipient: Option<&Contact>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let (letterhead, logo) = self.letterhead(commune).await?;
        let doc = ack_letter(commune, ack, recipient, letterhead, logo, now);
        Ok(self.lay_out(Job::Letter(doc)).await?.pdf)
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
            .acknowledgeable(commune, item, Some(url.clone()))
            .await?
        {
            Acknowledgeable::Yes(found) => *found,
            // A form without a type, or a type dispensed from AR: only the registration.
            Acknowledgeable::No(_) => {
                return self.send_registration_only(commune, item, &url, now).await;
            }
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

    /// L112-11: each request received by email in the last seven days that has had no
    /// acknowledgement yet gets its accusé d'enregistrement électronique, stating the day it
    /// was received (due within one working day, [`acknowledgement::registration_due`]);
    /// its accusé de réception follows once the agent has typed it (the watch reminds them,
    /// seven days at most). Not to programs ([`acknowledgement::AUTOMATED_SENDER_TAG`]),
    /// nor to a sender without an address. Each is sent once (the outbox deduplicates).
    /// Returns how many were queued.
    #[boxed_future]
    pub async fn acknowledge_email_registrations(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let now = now.trunc_subsecs(6);
        let today = local_date(now, commune.zone());
        let since = today - chrono::Duration::days(acknowledgement::ELECTRONIC_RECEIPT_DAYS as i64);
        let items = self
            .store()
            .unregistered_email_requests(
                commune.id,
                since,
                acknowledgement::AUTOMATED_SENDER_TAG,
                100,
            )
            .await?;
        let mut sent = 0;
        for item in items {
            if self
                .sender_of(commune, &item)
                .await?
                .as_ref()
                .and_then(contact_address)
                .is_none()
            {
                continue;
            }
            let url = self.ensure_tracking_url(commune, item.id, now).await?;
            self.send_registration_only(commune, &item, &url, now)
                .await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// [`App::acknowledge_email_registrations`] for every commune (after mailboxes are read).
    #[boxed_future]
    pub async fn acknowledge_all_email_registrations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let mut sent = 0;
        for commune in self.store().communes().await? {
            sent += self.acknowledge_email_registrations(&commune, now).await?;
        }
        Ok(sent)
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
            appeal: Default::default(),
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
    pub(super) async fn ack_email(
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

    /// Sends the accusé de réception of an item by email (from the item page), again if
    /// asked: the AR may need repeating after documents were asked for.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn send_acknowledgement(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
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
}
