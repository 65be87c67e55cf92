//! What the front ends read of capture: the messages received, the quarantine and the
//! mailboxes; and the one write they ask of extraction, putting failed jobs back.

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_store::StoreError;
use uuid::Uuid;

pub use parapheur_store::capture::{InboundMessage, InboundState, MailboxRow};

use crate::administration::auth::Authenticated;
use crate::{App, AppError};

impl App {
    /// A received message this person may read, with its original bytes (the .eml, or the
    /// file of the drop folder). A message of a confidential item they may not read, or one
    /// without an original, is not found.
    #[boxed_future]
    pub async fn readable_inbound(
        &self,
        who: &Authenticated,
        id: Uuid,
    ) -> Result<(InboundMessage, Vec<u8>), AppError> {
        let message = self.store.inbound(who.commune.id, id).await?;
        if !self.inbound_readable(who, &message).await? {
            return Err(StoreError::not_found("message").into());
        }
        let sha = message
            .sha256
            .clone()
            .ok_or_else(|| StoreError::not_found("message"))?;
        let bytes = self.read_file(who.commune.id, &sha).await?;
        Ok((message, bytes))
    }

    /// A received message this person may read, parsed as its sender formatted it and
    /// sanitised (`parapheur_mail::parse`): no script, no form, no remote resource.
    #[boxed_future]
    pub async fn inbound_preview(
        &self,
        who: &Authenticated,
        id: Uuid,
    ) -> Result<(InboundMessage, parapheur_mail::ParsedMail), AppError> {
        let (message, bytes) = self.readable_inbound(who, id).await?;
        let parsed = parapheur_mail::parse(&bytes, &parapheur_mail::Limits::default())
            .map_err(|e| AppError::invalid(e.to_string()))?;
        Ok((message, parsed))
    }

    /// Whether this person may see what a message says: its item, if it has one, must be
    /// visible to them by the confidentiality rule (`Item::is_visible_to`, not counting the
    /// people the item was copied to).
    #[boxed_future]
    pub async fn inbound_readable(
        &self,
        who: &Authenticated,
        message: &InboundMessage,
    ) -> Result<bool, AppError> {
        let (Some(reader), Some(item_id)) = (who.confidential_reader(), message.item_id) else {
            return Ok(true);
        };
        let item = self.store.item(who.commune.id, item_id).await?;
        // The one confidentiality rule, copies included, as on the item's own page.
        self.is_readable_by(&item, Some(reader)).await
    }

    #[boxed_future]
    pub async fn inbound(&self, commune_id: Uuid, id: Uuid) -> Result<InboundMessage, AppError> {
        Ok(self.store.inbound(commune_id, id).await?)
    }

    /// Inbound messages, newest first; only those in `state` when given.
    #[boxed_future]
    pub async fn inbound_list(
        &self,
        commune_id: Uuid,
        state: Option<InboundState>,
        limit: i64,
    ) -> Result<Vec<InboundMessage>, AppError> {
        Ok(self.store.inbound_list(commune_id, state, limit).await?)
    }

    /// The inbound messages that became or joined an item, oldest first.
    #[boxed_future]
    pub async fn inbound_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<InboundMessage>, AppError> {
        Ok(self.store.inbound_of_item(commune_id, item_id).await?)
    }

    #[boxed_future]
    pub async fn quarantine_count(&self, commune_id: Uuid) -> Result<i64, AppError> {
        Ok(self.store.quarantine_count(commune_id).await?)
    }

    #[boxed_future]
    pub async fn mailbox(&self, commune_id: Uuid, id: Uuid) -> Result<MailboxRow, AppError> {
        Ok(self.store.mailbox(commune_id, id).await?)
    }

    #[boxed_future]
    pub async fn mailboxes(&self, commune_id: Uuid) -> Result<Vec<MailboxRow>, AppError> {
        Ok(self.store.mailboxes(commune_id).await?)
    }

    /// Every active mailbox of the installation, for the poller.
    #[boxed_future]
    pub async fn active_mailboxes(&self) -> Result<Vec<MailboxRow>, AppError> {
        Ok(self.store.active_mailboxes().await?)
    }

    /// Sends every failed job of a commune back to the queue (after installing OCR, say).
    #[boxed_future]
    pub async fn requeue_failed_jobs(
        &self,
        commune_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64, AppError> {
        Ok(self.store.requeue_failed_jobs(commune_id, now).await?)
    }
}
