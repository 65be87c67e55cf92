//! Transfers to an archive service: the SEDA 2.3 `ArchiveTransfer` of a selection of closed
//! items, then the archives' acknowledgement and reply; an accepted transfer makes its items
//! "archivé".

use crate::boxed_future;
use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::french;
use parapheur_domain::retention::{StartEvent, TransferState};
use parapheur_domain::{Commune, Confidentiality, Direction, Permission, Status};
use parapheur_store::items::Note;
use sha2::{Digest, Sha512};
use uuid::Uuid;

use super::seda::{Answer, File, Package, Parties, PdfA, Unit, read_answer};
use super::{Transfer, schedule_of, untyped_schedule};
use crate::{Actor, App, AppError};

impl App {
    /// Every transfer of the commune, newest first.
    #[boxed_future]
    pub async fn transfers(
        &self,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<Vec<Transfer>, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        Ok(self.store().transfers(commune.id).await?)
    }

    #[boxed_future]
    pub async fn transfer(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
    ) -> Result<Transfer, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        Ok(self.store().transfer(commune.id, id).await?)
    }

    /// Writes the SEDA 2.3 `ArchiveTransfer` of `item_ids` for `archival_agency` (the
    /// archives' identifier; `None`: the Archives départementales, "FRAD" and the
    /// département on three characters) and records it. Each item must be closed, of a fate
    /// that allows a transfer (C, or T), under no legal hold and in no other procedure; a
    /// message missing a mandatory element is refused before anything is written. Returns
    /// the transfer and the message.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn transfer_to_archives(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_ids: &[Uuid],
        archival_agency: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Transfer, Vec<u8>), AppError> {
        let now = now.trunc_subsecs(6);
        self.authorize(commune, actor, Permission::Archive).await?;
        if item_ids.is_empty() {
            return Err(AppError::invalid("choisissez au moins un élément à verser"));
        }
        let schedules: BTreeMap<String, _> = self
            .store()
            .schedules(commune.id)
            .await?
            .into_iter()
            .map(|s| (s.doctype.clone(), s))
            .collect();
        let fallback = untyped_schedule();
        let holds = self.store().legal_holds(commune.id).await?;
        let busy = self.store().items_in_procedures(commune.id).await?;
        let key = self.data_key(commune.id).await?;
        let mut units = Vec::with_capacity(item_ids.len());
        let mut ids = Vec::with_capacity(item_ids.len());
        for id in item_ids {
            if ids.contains(id) {
                continue;
            }
            let item = self.store().item(commune.id, *id).await?;
            if item.status != Status::Closed {
                return Err(AppError::invalid(format!(
                    "{} n'est pas clos ({}) : seul un dossier clos se verse aux archives",
                    item.chrono,
                    item.status.label_fr()
                )));
            }
            if let Some(hold) = holds.iter().find(|h| h.item_id == *id) {
                return Err(AppError::invalid(format!(
                    "{} est gelé ({}) : levez le gel avant de le verser",
                    item.chrono, hold.reason
                )));
            }
            if busy.contains(id) {
                return Err(AppError::invalid(format!(
                    "{} figure déjà dans une proposition ou un versement en cours",
                    item.chrono
                )));
            }
            let schedule = schedule_of(&schedules, &item, &fallback);
            if !schedule.rule.final_action.may_be_transferred() {
                return Err(AppError::invalid(format!(
                    "{} est à détruire (sort final D) : il ne se verse pas aux archives",
                    item.chrono
                )));
            }
            let mut senders = Vec::new();
            let mut addressees = Vec::new();
            for (role, contact) in self.store().item_contacts(item.id).await? {
                let name = self
                    .store()
                    .contact(commune.id, contact)
                    .await?
                    .display_name();
                if role == "sender" {
                    senders.push(name);
                } else {
                    addressees.push(name);
                }
            }
            let commune_label = format!("Commune de {}", commune.name);
            match item.direction {
                Direction::Incoming => addressees.push(commune_label),
                Direction::Outgoing => senders.push(commune_label),
                Direction::Internal => {}
            }
            let mut files = Vec::new();
            for a in self.store().attachments(commune.id, item.id).await? {
                let bytes = self
                    .files()
                    .get(&commune.id.to_string(), &key, &a.sha256)
                    .await?;
                let pdf_a = self
                    .pdf_a_copy(&a.filename, &a.media_type, &bytes, now)
                    .await;
                files.push(File {
                    sha512: hex::encode(Sha512::digest(&bytes)),
                    filename: a.filename,
                    media_type: a.media_type,
                    bytes,
                    pdf_a,
                });
            }
            let registered = local_date(item.registered_at, commune.zone());
            units.push(Unit {
                title: item.subject.clone(),
                description: item.body.clone().filter(|b| !b.trim().is_empty()),
                document_type: if schedule.doctype.is_empty() {
                    "Courrier".to_owned()
                } else {
                    schedule.label.clone()
                },
                senders,
                addressees,
                received: (item.direction == Direction::Incoming).then_some(item.arrival_date),
                sent: match item.direction {
                    Direction::Outgoing => Some(item.arrival_date),
                    _ => item.letter_date,
                },
                registered,
                retention_years: schedule.rule.years,
                retention_start: match schedule.start {
                    StartEvent::Closing => local_date(item.updated_at, commune.zone()),
                    StartEvent::Registration => registered,
                },
                final_action: schedule.rule.final_action,
                confidential: item.confidentiality != Confidentiality::Normal,
                files,
                chrono: item.chrono,
            });
            ids.push(*id);
        }
        let year = local_date(now, commune.zone()).format("%Y");
        let count = self.store().transfers(commune.id).await?.len();
        let identifier = format!("VERS-{}-{year}-{:04}", commune.insee, count + 1);
        let agency = archival_agency
            .map(str::trim)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("FRAD{:0>3}", commune.departement));
        let package = Package {
            parties: Parties {
                identifier: identifier.clone(),
                date: now,
                archival_agency: agency,
                siren: commune.siren.clone(),
                commune_name: commune.name.clone(),
            },
            units,
        };
        let message = package.to_xml()?.into_bytes();
        // Files first: the row never points to a message that is not stored.
        let stored = self
            .files()
            .put(&commune.id.to_string(), &key, &message)
            .await?;
        let transfer = Transfer {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            identifier,
            state: TransferState::Sent,
            created_at: now,
            created_by: actor.journal_name(),
            message_sha256: stored.sha256,
            acknowledged_at: None,
            reply_code: None,
            reply_identifier: None,
            replied_at: None,
            reply_sha256: None,
            items: ids,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_transfer(&transfer, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok((transfer, message))
    }

    /// The `ArchiveTransfer` message of a transfer, as it was produced.
    #[boxed_future]
    pub async fn transfer_message(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
    ) -> Result<Vec<u8>, AppError> {
        let transfer = self.transfer(commune, actor, id).await?;
        self.read_file(commune.id, &transfer.message_sha256).await
    }

    /// Records what the archives answered to a transfer: their `Acknowledgement`, then
    /// their `ArchiveTransferReply`. An accepted reply makes the items "archivé", each with
    /// a note on its register line; a refusal leaves them closed, free for another transfer.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn record_transfer_answer(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        answer: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Transfer, AppError> {
        let now = now.trunc_subsecs(6);
        let before = self.transfer(commune, actor, id).await?;
        let text = std::str::from_utf8(answer)
            .map_err(|_| AppError::invalid("la réponse des archives n'est pas un XML en UTF-8"))?;
        let parsed = read_answer(text, &before.identifier)?;
        if !before.state.is_pending() {
            return Err(AppError::invalid(format!(
                "le versement {} est déjà {}",
                before.identifier,
                before.state.label_fr()
            )));
        }
        let key = self.data_key(commune.id).await?;
        let stored = self
            .files()
            .put(&commune.id.to_string(), &key, answer)
            .await?;
        let journal_name = actor.journal_name();
        let mut tx = self.store().begin(now).await?;
        let (after, action) = match parsed {
            Answer::Acknowledgement { .. } => {
                if before.state != TransferState::Sent {
                    return Err(AppError::invalid(
                        "l'accusé de réception est déjà enregistré",
                    ));
                }
                (
                    Transfer {
                        state: TransferState::Acknowledged,
                        acknowledged_at: Some(now),
                        ..before.clone()
                    },
                    "transfer.acknowledged",
                )
            }
            Answer::Reply {
                identifier,
                code,
                accepted,
            } => {
                if accepted {
                    let note = format!(
                        "Versé aux archives le {} (versement {}, réponse {} : {})",
                        french::long_date(local_date(now, commune.zone())),
                        before.identifier,
                        identifier,
                        code
                    );
                    for item_id in &before.items {
                        let item = tx.item_for_update(commune.id, *item_id).await?;
                        if item.status != Status::Closed {
                            return Err(AppError::invalid(format!(
                                "{} n'est plus clos ({}) : le versement ne peut pas être \
                                 enregistré",
                                item.chrono,
                                item.status.label_fr()
                            )));
                        }
                        let mut after = item.clone();
                        after.status = Status::Archived;
                        after.updated_at = now;
                        tx.update_item(&item, &after, "item.archived", &journal_name)
                            .await?;
                        tx.insert_note(
                            commune.id,
                            &Note {
                                id: Uuid::now_v7(),
                                item_id: item.id,
                                author_id: actor.user_id(),
                                body: note.clone(),
                                created_at: now,
                            },
                            &journal_name,
                        )
                        .await?;
                    }
                }
                (
                    Transfer {
                        state: if accepted {
                            TransferState::Accepted
                        } else {
                            TransferState::Rejected
                        },
                        reply_code: Some(code),
                        reply_identifier: Some(identifier),
                        replied_at: Some(now),
                        reply_sha256: Some(stored.sha256),
                        ..before.clone()
                    },
                    if accepted {
                        "transfer.accepted"
                    } else {
                        "transfer.rejected"
                    },
                )
            }
        };
        tx.update_transfer(&before, &after, action, &journal_name)
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The PDF/A-2b copy of an image for the archives (long-term files should be PDF/A;
    /// the original travels beside it untouched), laid out like a letter (in a child
    /// process on a server). `None` for what is not an image typst reads (PDFs, TIFF,
    /// text) and for an image that does not decode: its original is still transferred.
    async fn pdf_a_copy(
        &self,
        filename: &str,
        media_type: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Option<PdfA> {
        let format = parapheur_render::ImageFormat::from_media_type(media_type)?;
        let job = parapheur_render::Job::Image(parapheur_render::ImageDocument {
            title: filename.to_owned(),
            bytes: bytes.to_vec(),
            format,
            generated_at: now,
        });
        match self.lay_out(job).await {
            Ok(laid) => Some(PdfA {
                sha512: hex::encode(Sha512::digest(&laid.pdf)),
                bytes: laid.pdf,
            }),
            Err(e) => {
                tracing::warn!(error = %e, filename, "image illisible : versée sans copie PDF/A");
                None
            }
        }
    }
}
