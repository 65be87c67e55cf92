//! Taking a signature back: for [`super::SIGNATURE_UNDO_SECONDS`] after signing, before the
//! letter is sent, its signer may undo it. The signature was applied and journaled; the
//! undo is journaled too (the journal says both, as they happened), the folder gets back
//! its PDF and circuit from before, and what the signature set off and held until the end
//! of the window (emails, webhooks' events) is dropped unsent.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::Commune;
use parapheur_store::parapheur::{FolderRow, FolderState};
use uuid::Uuid;

use super::FolderData;
use crate::{Actor, App, AppError};

impl App {
    /// "Annuler la signature": the signer's own last signature, within its window, puts the
    /// letter back to their signature. Refused to anyone else, after the window, or once
    /// anything else was done to the letter.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn undo_signature(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Member)
            .await?;
        let now = now.trunc_subsecs(6);
        let Some(user_id) = actor.user_id() else {
            return Err(AppError::invalid(
                "une signature est annulée par la personne qui l'a faite",
            ));
        };
        let before = self.store().folder(commune.id, folder_id).await?;
        let mut data = FolderData::of_row(&before)?;
        let Some(undo) = data.undo.clone() else {
            return Err(AppError::invalid(
                "il n'y a plus de signature à annuler sur ce courrier : elle est définitive",
            ));
        };
        if undo.by != user_id {
            return Err(AppError::Forbidden(
                "seule la personne qui a signé peut annuler sa signature".into(),
            ));
        }
        if now >= undo.until {
            return Err(AppError::invalid(format!(
                "le délai de {} secondes pour annuler est passé : la signature est définitive ; si le courrier ne doit pas partir, prévenez son rédacteur",
                super::SIGNATURE_UNDO_SECONDS
            )));
        }
        if !matches!(before.state, FolderState::Circuit | FolderState::Signed) {
            return Err(AppError::invalid(
                "ce courrier est déjà parti : sa signature est définitive",
            ));
        }
        let mut after = before.clone();
        data.circuit = Some(undo.circuit.clone());
        data.undo = None;
        after.circuit_json = data.to_json();
        after.pdf_sha256 = undo.pdf_sha256.clone();
        after.pdf_size = undo.pdf_size;
        after.state = FolderState::Circuit;
        after.version += 1;
        after.updated_at = now;
        let mut tx = self.store().begin(now).await?;
        tx.update_folder(
            &before,
            &after,
            &actor.journal_name(),
            "folder.sign_undone",
            Some(serde_json::json!({ "action": "sign_undone" })),
        )
        .await?;
        for key in &undo.events {
            tx.drop_held_webhook_event(commune.id, key).await?;
        }
        let emails = tx
            .drop_held_outbox(commune.id, "circuit", &format!("circuit:{}:", folder_id))
            .await?;
        tx.commit().await?;
        // The signed PDFs and the held emails are nobody's now.
        let dir = commune.id.to_string();
        for sha in undo.made.iter().chain(&emails) {
            if Some(sha) != undo.pdf_sha256.as_ref()
                && let Err(e) = self.files().delete(&dir, sha).await
            {
                tracing::warn!(error = %e, "a file of a signature taken back stays");
            }
        }
        Ok(after)
    }
}
