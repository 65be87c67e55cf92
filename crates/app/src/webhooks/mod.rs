//! Webhooks (issue 18, point 2): the commune's other software is told when something
//! happens in the register, instead of asking the API again and again.
//!
//! * **Subscriptions.** A commune administrator subscribes a URL to events
//!   ([`EventType`]: item registered, assigned, due soon, implicit decision born, letter
//!   signed, letter sent), from the administration page or `parapheur webhooks add`. The
//!   signing secret (`whsec_…`, 32 random bytes) is shown once; it is kept sealed with the
//!   commune's data key, since signing needs it. A subscription may be paused.
//! * **Addresses.** HTTPS, and an address of the public internet, as for the mailbox
//!   settings: loopback, private and link-local targets are refused unless the operator
//!   allows internal addresses (`outbound_internal_addresses`), which also allows plain
//!   HTTP (as does `outbound_plain_text`). Checked when subscribing and again at each
//!   delivery, on the addresses the name resolves to then, which are the ones connected
//!   to (`delivery.rs`).
//! * **Events.** Each use case queues its event in the transaction of its change
//!   ([`queue_event`]): one delivery row per active subscription that chose the event, so
//!   nothing is sent for a change rolled back and nothing is lost for one committed. The
//!   body says what happened and to which item (id, chrono number, subject unless the item
//!   is confidential, commune), never file contents nor correspondents.
//! * **Deliveries.** The background sender (`delivery.rs`) signs each (Standard Webhooks:
//!   `domain::webhook`), retries with backoff for about a day, and keeps the last answer;
//!   the administration page lists them with a "Renvoyer" button.

use crate::boxed_future;
pub mod delivery;

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::item::Item;
use parapheur_domain::webhook::{self, EventType};
use parapheur_domain::{Commune, Confidentiality, Permission};
use parapheur_store::WriteTx;
use parapheur_store::parapheur::{FolderRow, FolderState};
use parapheur_store::webhooks::QueuedEvent;
use serde::Serialize;
use uuid::Uuid;

pub use parapheur_store::webhooks::{DeliveryState, WebhookDelivery, WebhookSubscription};

use crate::{Actor, App, AppError};

/// Random bytes in a new secret.
const SECRET_BYTES: usize = 32;
/// Deliveries listed on the administration page and by the command line, at most.
pub const DELIVERIES_LISTED: i64 = 50;

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub label: String,
    pub url: String,
    pub events: Vec<EventType>,
    /// False: created paused.
    pub active: bool,
}

/// A subscription just created: its secret is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedWebhook {
    pub subscription: WebhookSubscription,
    pub secret: String,
}

/// What a seal of a subscription's secret is bound to.
fn secret_context(commune_id: Uuid, id: Uuid) -> String {
    format!("webhook:{commune_id}:{id}")
}

/// An event about to be queued: its type, what makes it once per subscription, and its
/// data (the body's `data`).
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub event_type: EventType,
    pub key: String,
    pub data: serde_json::Value,
}

impl Event {
    /// An event told once (its own id is its key).
    pub(crate) fn new(event_type: EventType, data: serde_json::Value) -> Event {
        Event {
            event_type,
            key: Uuid::now_v7().to_string(),
            data,
        }
    }

    /// The key its deliveries are queued under (one per subscription).
    pub(crate) fn queue_key(&self) -> String {
        format!("{}:{}", self.event_type.code(), self.key)
    }
}

/// What an event says of an item: enough to find it through the API, no more. A
/// confidential item's subject stays in the register.
pub(crate) fn item_data(item: &Item) -> serde_json::Value {
    let confidential = item.confidentiality == Confidentiality::Confidential;
    serde_json::json!({
        "id": item.id,
        "chrono": item.chrono,
        "subject": (!confidential).then_some(item.subject.as_str()),
        "confidential": confidential,
        "direction": item.direction.code(),
        "status": item.status.code(),
        "due_date": item.due_date,
        "service_id": item.service_id,
        "assignee_id": item.assignee_id,
    })
}

/// What an event says of a letter of the parapheur, and of the item it answers.
fn letter_data(folder: &FolderRow, answered: Option<&Item>) -> serde_json::Value {
    serde_json::json!({
        "letter": {
            "id": folder.id,
            "state": folder.state.code(),
            "sent_via": folder.sent_via,
        },
        "answers": answered.map(item_data),
    })
}

/// `letter.signed` when an update of a folder completes its circuit (`before` was not
/// signed, `after` is); `answered` is the item it answers, if any.
pub(crate) fn letter_signed(
    before: &FolderRow,
    after: &FolderRow,
    answered: Option<&Item>,
) -> Option<Event> {
    (after.state == FolderState::Signed && before.state != FolderState::Signed)
        .then(|| Event::new(EventType::LetterSigned, letter_data(after, answered)))
}

/// `letter.sent`: the letter, the outgoing item it was registered as, and the item it
/// answers.
pub(crate) fn letter_sent(folder: &FolderRow, reply: &Item, answered: Option<&Item>) -> Event {
    let mut data = letter_data(folder, answered);
    if let Some(data) = data.as_object_mut() {
        data.insert("item".to_owned(), item_data(reply));
    }
    Event::new(EventType::LetterSent, data)
}

/// The JSON body of an event: `{"type", "timestamp", "data": {"commune", …}}`.
fn body(commune: &Commune, event: &Event, now: DateTime<Utc>) -> String {
    let mut data = serde_json::json!({ "commune": commune.insee });
    if let (Some(into), serde_json::Value::Object(from)) = (data.as_object_mut(), &event.data) {
        into.extend(from.clone());
    }
    serde_json::json!({
        "type": event.event_type.code(),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

/// Queues `event` in `tx` for each active subscription of the commune that chose it; the
/// sender delivers it once the transaction has committed. Call [`App::webhooks_queued`]
/// after the commit to deliver at once rather than at the sender's next round.
pub(crate) async fn queue_event(
    tx: &mut WriteTx,
    commune: &Commune,
    event: Event,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let queued = QueuedEvent {
        event_type: event.event_type.code().to_owned(),
        event_key: event.queue_key(),
        payload: body(commune, &event, now),
    };
    Ok(tx.queue_webhook_event(commune.id, &queued).await?)
}

impl App {
    /// Subscribes a URL of the commune's other software to events: an administrator's act,
    /// journaled. The address is checked now and again at each delivery.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn create_webhook(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewWebhook,
        now: DateTime<Utc>,
    ) -> Result<CreatedWebhook, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let now = now.trunc_subsecs(6);
        let label = new.label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(AppError::invalid_field(
                "label",
                "donnez à l'abonnement un nom de 1 à 100 caractères (le logiciel qui le reçoit)",
            ));
        }
        let mut events = new.events.clone();
        events.sort();
        events.dedup();
        if events.is_empty() {
            return Err(AppError::invalid_field(
                "events",
                "choisissez au moins un événement",
            ));
        }
        let url = delivery::check_url(new.url.trim(), self.network)?;
        delivery::check_resolved(&url, self.network).await?;
        let mut key = zeroize::Zeroizing::new([0u8; SECRET_BYTES]);
        getrandom::fill(&mut key[..])
            .map_err(|e| AppError::internal(format!("aléa indisponible : {e}")))?;
        let id = Uuid::now_v7();
        let sealed = self
            .data_key(commune.id)
            .await?
            .seal(&key[..], &secret_context(commune.id, id))?;
        let subscription = WebhookSubscription {
            id,
            commune_id: commune.id,
            label: label.to_owned(),
            url: url.to_string(),
            events: events.iter().map(|e| e.code().to_owned()).collect(),
            secret_sealed: sealed,
            active: new.active,
            created_by: actor.journal_name(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_webhook(&subscription, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(CreatedWebhook {
            subscription,
            secret: webhook::secret_text(&key[..]),
        })
    }

    /// The commune's subscriptions (never their secrets), newest first: administrators.
    #[boxed_future]
    pub async fn webhooks(
        &self,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<Vec<WebhookSubscription>, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        Ok(self.store().webhooks(commune.id).await?)
    }

    /// Pauses (nothing new is queued for it) or resumes a subscription. Journaled.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn set_webhook_active(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<WebhookSubscription, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        let after = tx
            .set_webhook_active(commune.id, id, active, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes a subscription and its deliveries. Journaled.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn delete_webhook(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<WebhookSubscription, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        let removed = tx
            .delete_webhook(commune.id, id, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// The commune's latest deliveries (of one subscription, or all), newest first, with
    /// their last answer: administrators.
    #[boxed_future]
    pub async fn webhook_deliveries(
        &self,
        commune: &Commune,
        actor: &Actor,
        subscription: Option<Uuid>,
    ) -> Result<Vec<WebhookDelivery>, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        if let Some(id) = subscription {
            self.store().webhook(commune.id, id).await?;
        }
        Ok(self
            .store()
            .webhook_deliveries(commune.id, subscription, DELIVERIES_LISTED)
            .await?)
    }

    /// "Renvoyer": a delivered or failed delivery is sent again now, with the same id and
    /// body (a new timestamp and signature). Refused while it is still waiting.
    #[boxed_future]
    pub async fn redeliver_webhook(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<WebhookDelivery, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        // Another commune's id is "not found", like any other.
        self.store().webhook_delivery(commune.id, id).await?;
        if !self
            .store()
            .webhook_redeliver(commune.id, id, now.trunc_subsecs(6))
            .await?
        {
            return Err(AppError::invalid(
                "cet envoi attend déjà sa prochaine tentative",
            ));
        }
        self.webhooks_queued();
        Ok(self.store().webhook_delivery(commune.id, id).await?)
    }

    /// The item a letter answers, for its events: read before the transaction that
    /// changes the letter, and only when it will be told (`signed`).
    pub(crate) async fn answered_item(
        &self,
        commune: &Commune,
        folder: &FolderRow,
        signed: bool,
    ) -> Result<Option<Item>, AppError> {
        match folder.item_id {
            Some(id) if signed => Ok(Some(self.store().item(commune.id, id).await?)),
            _ => Ok(None),
        }
    }

    /// Wakes the webhook sender (something was queued or put back).
    pub(crate) fn webhooks_queued(&self) {
        self.webhook_work.notify_one();
    }

    /// Waits until a webhook delivery is queued (the sender's loop).
    #[boxed_future]
    pub async fn webhooks_wait(&self) {
        self.webhook_work.notified().await;
    }
}
