//! The tracking link: a secret URL where the citizen follows the request, downloads its
//! acknowledgements and answers the mairie. Only the token's hash is stored.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::{Commune, Status};
use parapheur_store::items::Attachment;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::CITIZEN;
use super::MAX_ANSWER_CHARS;
use super::TrackingView;
use super::Upload;
use super::forms::check_uploads;
use super::not_found;
use super::replies::thread_message;
use crate::{App, AppError};

/// The SHA-256 of a tracking token, the only form the database searches by.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn tracking_context(commune_id: Uuid) -> String {
    format!("tracking:{commune_id}")
}

impl App {
    pub(super) async fn new_tracking_token(
        &self,
        commune: &Commune,
    ) -> Result<(String, String, String), AppError> {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(|e| AppError::internal(format!("aléa : {e}")))?;
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
        let key = self.data_key(commune.id).await?;
        let sealed = key
            .seal(token.as_bytes(), &tracking_context(commune.id))
            .map_err(|e| AppError::internal(format!("lien de suivi : {e}")))?;
        let hash = token_hash(&token);
        Ok((token, hash, sealed))
    }

    pub fn tracking_url(&self, token: &str) -> String {
        format!("{}/suivi/{token}", self.public_url())
    }

    /// The item's tracking link, created now if it has none (a paper or email request).
    pub(super) async fn ensure_tracking_url(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        if let Some(sealed) = self.store().tracking_token_of(commune.id, item_id).await? {
            let key = self.data_key(commune.id).await?;
            let token = key
                .open(&sealed, &tracking_context(commune.id))
                .map_err(|e| AppError::internal(format!("lien de suivi illisible : {e}")))?;
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

    /// What the tracking link shows; `NotFound` for a token that leads nowhere (guessed,
    /// altered or from another installation), the same answer whatever the reason.
    #[boxed_future]
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
    #[boxed_future]
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
    #[boxed_future]
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
    #[boxed_future]
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
            let signatures = self.check_signatures(&commune, &file.bytes, now).await?;
            stored.push((
                self.files()
                    .put(&commune.id.to_string(), &key, &file.bytes)
                    .await?,
                signatures,
            ));
        }
        let who = CITIZEN.journal_name();
        let mut tx = self.store().begin(now).await?;
        let before = tx.item_for_update(commune.id, view.item.id).await?;
        let mut ids = Vec::new();
        for ((_, file), (s, signatures)) in files.iter().zip(&stored) {
            let a = Attachment {
                id: Uuid::now_v7(),
                item_id: before.id,
                sha256: s.sha256.clone(),
                size: i64::try_from(s.size).unwrap_or(i64::MAX),
                filename: file.filename.clone(),
                media_type: file.media_type.clone(),
            };
            tx.insert_attachment(commune.id, &a, &who).await?;
            if let Some(checked) = signatures {
                tx.record_file_signatures(commune.id, &checked.to_row(&a.sha256)?, &who)
                    .await?;
            }
            if parapheur_domain::upload::is_extractable(&a.media_type) {
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
}
