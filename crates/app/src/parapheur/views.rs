//! What the front ends read of the parapheur: folders, circuit templates, delegations and
//! signing keys.

use crate::boxed_future;
use chrono::NaiveDate;
use uuid::Uuid;

pub use parapheur_store::parapheur::{
    CircuitTemplateRow, DelegationRow, FolderRow, FolderState, KeyKind, SigningKeyRow,
};

use crate::{App, AppError};

impl App {
    #[boxed_future]
    pub async fn folder(&self, commune_id: Uuid, id: Uuid) -> Result<FolderRow, AppError> {
        Ok(self.store.folder(commune_id, id).await?)
    }

    /// The commune's letters in the given states, most recently changed first. With
    /// `confidential_visible_to` (as in [`crate::items::ItemFilter`]), a letter answering a
    /// confidential item is listed only to its author and to those who see the item.
    #[boxed_future]
    pub async fn folders_in(
        &self,
        commune_id: Uuid,
        states: &[FolderState],
        confidential_visible_to: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<FolderRow>, AppError> {
        Ok(self
            .store
            .folders_in(commune_id, states, confidential_visible_to, limit)
            .await?)
    }

    /// The letters answering an item, newest first.
    #[boxed_future]
    pub async fn folders_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<FolderRow>, AppError> {
        Ok(self.store.folders_of_item(commune_id, item_id).await?)
    }

    #[boxed_future]
    pub async fn circuit_templates(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<CircuitTemplateRow>, AppError> {
        Ok(self.store.circuit_templates(commune_id).await?)
    }

    /// The delegations of a commune that are not revoked and end on or after `from`.
    #[boxed_future]
    pub async fn delegations(
        &self,
        commune_id: Uuid,
        from: NaiveDate,
    ) -> Result<Vec<DelegationRow>, AppError> {
        Ok(self.store.delegations(commune_id, from).await?)
    }

    /// Every key of the commune, revoked ones included (their certificates stay
    /// trusted for what they signed).
    #[boxed_future]
    pub async fn signing_keys(&self, commune_id: Uuid) -> Result<Vec<SigningKeyRow>, AppError> {
        Ok(self.store.signing_keys(commune_id).await?)
    }

    /// The current key of that kind (and user, for a person's key).
    #[boxed_future]
    pub async fn signing_key(
        &self,
        commune_id: Uuid,
        kind: KeyKind,
        user_id: Option<Uuid>,
    ) -> Result<Option<SigningKeyRow>, AppError> {
        Ok(self.store.signing_key(commune_id, kind, user_id).await?)
    }
}
