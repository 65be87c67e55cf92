//! What the front ends read of the citizens' side: reply templates, request forms, the
//! messages of an item and the outgoing email.

use crate::boxed_future;
use parapheur_domain::item::Item;
use uuid::Uuid;

pub use parapheur_store::citizens::{
    ItemMessage, OutboxCounts, OutboxMessage, OutboxState, ReplyTemplateRow, RequestFormRow,
};

use crate::{App, AppError};

impl App {
    #[boxed_future]
    pub async fn reply_templates(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<ReplyTemplateRow>, AppError> {
        Ok(self.store.reply_templates(commune_id).await?)
    }

    #[boxed_future]
    pub async fn reply_template(
        &self,
        commune_id: Uuid,
        code: &str,
    ) -> Result<Option<ReplyTemplateRow>, AppError> {
        Ok(self.store.reply_template(commune_id, code).await?)
    }

    #[boxed_future]
    pub async fn request_forms(&self, commune_id: Uuid) -> Result<Vec<RequestFormRow>, AppError> {
        Ok(self.store.request_forms(commune_id).await?)
    }

    #[boxed_future]
    pub async fn item_messages(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<ItemMessage>, AppError> {
        Ok(self.store.item_messages(commune_id, item_id).await?)
    }

    /// The commune's email, newest first.
    #[boxed_future]
    pub async fn outbox(
        &self,
        commune_id: Uuid,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, AppError> {
        Ok(self.store.outbox(commune_id, limit).await?)
    }

    /// Counts of one commune's outbox, or of every commune's.
    #[boxed_future]
    pub async fn outbox_counts(&self, commune_id: Option<Uuid>) -> Result<OutboxCounts, AppError> {
        Ok(self.store.outbox_counts(commune_id).await?)
    }

    #[boxed_future]
    pub async fn outbox_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<OutboxMessage>, AppError> {
        Ok(self.store.outbox_of_item(commune_id, item_id).await?)
    }

    /// Open incoming requests that still need their accusé de réception: typed with a
    /// document type that requires one, and none sent yet. Oldest first.
    /// `confidential_visible_to` as in [`crate::items::ItemFilter`].
    #[boxed_future]
    pub async fn unacknowledged_items(
        &self,
        commune_id: Uuid,
        confidential_visible_to: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Item>, AppError> {
        Ok(self
            .store
            .unacknowledged_items(commune_id, confidential_visible_to, limit)
            .await?)
    }
}
