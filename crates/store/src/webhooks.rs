//! Webhooks (issue 18, point 2): a commune's subscriptions, and the queue of their
//! deliveries.
//!
//! Subscribing, pausing and removing go through the journaled write path (they send the
//! commune's events elsewhere). A delivery is queued inside the transaction of the change
//! it tells of ([`WriteTx::queue_webhook_event`]), so an event is never lost nor sent for
//! a change that was rolled back; the sender claims due deliveries under a lease token as
//! the outbox's sender does ([`Store::claim_due_rows`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::StoreError;
use crate::nodes::{Claim, LeasedQueue};
use crate::pool::Store;
use crate::rows::{instant_text, parse_instant, parse_uuid};
use crate::write::{WriteTx, new_entry};

/// A commune's subscription of a URL to events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookSubscription {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub label: String,
    pub url: String,
    /// Event codes (`item.registered`…).
    pub events: Vec<String>,
    /// The signing secret, sealed with the commune's data key: never shown.
    #[serde(skip)]
    pub secret_sealed: String,
    /// Paused subscriptions get no new deliveries.
    pub active: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Given up after the last retry (or refused for good): "Renvoyer" tries it again.
    Failed,
}

impl DeliveryState {
    pub fn code(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(code: &str) -> Result<Self, StoreError> {
        match code {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::Invalid(format!(
                "état d'envoi inconnu « {other} »"
            ))),
        }
    }
}

/// One event for one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDelivery {
    /// Also the `webhook-id` header: the same at every attempt.
    pub id: Uuid,
    pub commune_id: Uuid,
    pub subscription_id: Uuid,
    pub event_type: String,
    pub event_key: String,
    /// The JSON body sent.
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer, if one came.
    pub last_status: Option<i64>,
    /// The start of the last answer, or why none came (short, on one line).
    pub last_answer: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An event to queue for each active subscription of the commune that chose its type.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    pub event_type: String,
    /// What makes the event once per subscription (its id, or the item and due date).
    pub event_key: String,
    pub payload: String,
}

/// What a failed attempt leaves.
#[derive(Debug, Clone)]
pub struct FailedAttempt {
    pub status: Option<i64>,
    pub answer: String,
    /// The next attempt, or `None`: given up.
    pub retry_at: Option<DateTime<Utc>>,
}

fn opt_instant(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(parse_instant)
        .transpose()
}

fn subscription_from_row(row: &AnyRow) -> Result<WebhookSubscription, StoreError> {
    Ok(WebhookSubscription {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        label: row.try_get("label")?,
        url: row.try_get("url")?,
        events: row
            .try_get::<String, _>("events")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        secret_sealed: row.try_get("secret_sealed")?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_by: row.try_get("created_by")?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_instant(&row.try_get::<String, _>("updated_at")?)?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        subscription_id: parse_uuid(&row.try_get::<String, _>("subscription_id")?)?,
        event_type: row.try_get("event_type")?,
        event_key: row.try_get("event_key")?,
        payload: row.try_get("payload")?,
        state: DeliveryState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: parse_instant(&row.try_get::<String, _>("next_attempt_at")?)?,
        last_attempt_at: opt_instant(row, "last_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_answer: row.try_get("last_answer")?,
        delivered_at: opt_instant(row, "delivered_at")?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
    })
}

/// What the journal says of a subscription: everything but its secret.
fn subscription_json(s: &WebhookSubscription) -> String {
    serde_json::json!({
        "label": s.label,
        "url": s.url,
        "events": s.events,
        "active": s.active,
    })
    .to_string()
}

impl WriteTx {
    /// Stores a new subscription. Journaled: where the commune's events go.
    pub async fn insert_webhook(
        &mut self,
        s: &WebhookSubscription,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_subscriptions (id, commune_id, label, url, events, secret_sealed,
                active, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id.to_string())
        .bind(s.commune_id.to_string())
        .bind(s.label.clone())
        .bind(s.url.clone())
        .bind(s.events.join(" "))
        .bind(s.secret_sealed.clone())
        .bind(i64::from(s.active))
        .bind(s.created_by.clone())
        .bind(instant_text(&s.created_at))
        .bind(instant_text(&s.updated_at))
        .execute(self.conn())
        .await?;
        self.journal(
            s.commune_id,
            new_entry(
                actor,
                "webhook.created",
                "webhook",
                s.id,
                None,
                Some(subscription_json(s)),
            ),
        );
        Ok(())
    }

    async fn webhook_for_update(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<WebhookSubscription, StoreError> {
        let row = self
            .lock_row(
                "webhook_subscriptions",
                "label",
                "id = $1 AND commune_id = $2",
                &[id.to_string(), commune_id.to_string()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("abonnement"))?;
        subscription_from_row(&row)
    }

    /// Pauses or resumes a subscription of the commune. Journaled when it changes.
    pub async fn set_webhook_active(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        active: bool,
        actor: &str,
    ) -> Result<WebhookSubscription, StoreError> {
        let before = self.webhook_for_update(commune_id, id).await?;
        if before.active == active {
            return Ok(before);
        }
        let now = self.now();
        sqlx::query("UPDATE webhook_subscriptions SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind(instant_text(&now))
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        let after = WebhookSubscription {
            active,
            updated_at: now,
            ..before.clone()
        };
        self.journal(
            commune_id,
            new_entry(
                actor,
                if active {
                    "webhook.resumed"
                } else {
                    "webhook.paused"
                },
                "webhook",
                id,
                Some(subscription_json(&before)),
                Some(subscription_json(&after)),
            ),
        );
        Ok(after)
    }

    /// Removes a subscription of the commune and its deliveries (sent or not). Journaled.
    pub async fn delete_webhook(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        actor: &str,
    ) -> Result<WebhookSubscription, StoreError> {
        let before = self.webhook_for_update(commune_id, id).await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE subscription_id = $1")
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "webhook.deleted",
                "webhook",
                id,
                Some(subscription_json(&before)),
                None,
            ),
        );
        Ok(before)
    }

    /// Queues `event` for each active subscription of the commune that chose its type, in
    /// this transaction; an event already queued for a subscription (same key) is not
    /// queued again. Returns how many deliveries were queued.
    pub async fn queue_webhook_event(
        &mut self,
        commune_id: Uuid,
        event: &QueuedEvent,
    ) -> Result<usize, StoreError> {
        let subscriptions: Vec<String> = sqlx::query(
            "SELECT id FROM webhook_subscriptions
             WHERE commune_id = $1 AND active = 1 AND (' ' || events || ' ') LIKE $2
             ORDER BY id",
        )
        .bind(commune_id.to_string())
        .bind(format!("% {} %", event.event_type))
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
        let now = instant_text(&self.now());
        let mut queued = 0;
        for subscription in subscriptions {
            let done = sqlx::query(
                "INSERT INTO webhook_deliveries (id, commune_id, subscription_id, event_type,
                    event_key, payload, state, attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)
                 ON CONFLICT (subscription_id, event_key) DO NOTHING",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(commune_id.to_string())
            .bind(subscription)
            .bind(event.event_type.clone())
            .bind(event.event_key.clone())
            .bind(event.payload.clone())
            .bind(now.clone())
            .execute(self.conn())
            .await?;
            queued += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        Ok(queued)
    }

    /// Holds the deliveries of one event, not yet tried, until `until` (a signature its
    /// signer may still take back): the sender does not claim them before.
    pub async fn hold_webhook_event(
        &mut self,
        commune_id: Uuid,
        event_key: &str,
        until: &DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $3
             WHERE commune_id = $1 AND event_key = $2 AND state = 'pending' AND attempts = 0",
        )
        .bind(commune_id.to_string())
        .bind(event_key)
        .bind(instant_text(until))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Drops the deliveries of one event still held after the transaction's time (never
    /// tried, never claimed): the signature they told of was taken back. How many.
    pub async fn drop_held_webhook_event(
        &mut self,
        commune_id: Uuid,
        event_key: &str,
    ) -> Result<u64, StoreError> {
        let now = instant_text(&self.now());
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries
             WHERE commune_id = $1 AND event_key = $2 AND state = 'pending' AND attempts = 0
               AND lease_token IS NULL AND next_attempt_at > $3",
        )
        .bind(commune_id.to_string())
        .bind(event_key)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// The commune's subscriptions, newest first.
    pub async fn webhooks(&self, commune_id: Uuid) -> Result<Vec<WebhookSubscription>, StoreError> {
        sqlx::query(
            "SELECT * FROM webhook_subscriptions WHERE commune_id = $1
             ORDER BY created_at DESC, id DESC",
        )
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(subscription_from_row)
        .collect()
    }

    /// One subscription of the commune (another commune's is "not found").
    pub async fn webhook(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<WebhookSubscription, StoreError> {
        sqlx::query("SELECT * FROM webhook_subscriptions WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(subscription_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("abonnement"))
    }

    /// Whether the commune has an active subscription to `event_type` (to skip the work of
    /// finding events nobody listens to).
    pub async fn webhook_listened(
        &self,
        commune_id: Uuid,
        event_type: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM webhook_subscriptions
             WHERE commune_id = $1 AND active = 1 AND (' ' || events || ' ') LIKE $2",
        )
        .bind(commune_id.to_string())
        .bind(format!("% {event_type} %"))
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Takes up to `limit` deliveries whose attempt is due, under a lease (see
    /// [`Store::claim_due_rows`]), oldest first.
    pub async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
        holder: Uuid,
    ) -> Result<Claim<WebhookDelivery>, StoreError> {
        let (token, rows) = self
            .claim_due_rows(LeasedQueue::WebhookDeliveries, now, lease, limit, holder)
            .await?;
        let mut items = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|d| (d.created_at, d.id));
        Ok(Claim { token, items })
    }

    /// Records a delivery answered with `status` (2xx); false when the lease `token` is no
    /// longer this sender's.
    pub async fn webhook_delivered(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        status: i64,
        answer: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $1,
                last_attempt_at = $1, updated_at = $1, last_status = $2, last_answer = $3,
                lease_token = NULL, leased_by = NULL
             WHERE id = $4 AND lease_token = $5 AND state = 'pending'",
        )
        .bind(instant_text(&now))
        .bind(status)
        .bind(answer.to_owned())
        .bind(id.to_string())
        .bind(token.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: retried at its `retry_at`, or given up; false when the
    /// lease `token` is no longer this sender's.
    pub async fn webhook_attempt_failed(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        failed: &FailedAttempt,
    ) -> Result<bool, StoreError> {
        let (state, next) = match failed.retry_at {
            Some(at) => (DeliveryState::Pending, at),
            None => (DeliveryState::Failed, now),
        };
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, last_attempt_at = $3,
                updated_at = $3, last_status = $4, last_answer = $5,
                lease_token = NULL, leased_by = NULL
             WHERE id = $6 AND lease_token = $7 AND state = 'pending'",
        )
        .bind(state.code())
        .bind(instant_text(&next))
        .bind(instant_text(&now))
        .bind(failed.status)
        .bind(failed.answer.clone())
        .bind(id.to_string())
        .bind(token.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a delivery of the commune back in the queue for an attempt now, its attempts
    /// counted afresh (the administrator's "Renvoyer"): false when it is waiting already.
    pub async fn webhook_redeliver(
        &self,
        commune_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1,
                updated_at = $1, delivered_at = NULL, lease_token = NULL, leased_by = NULL
             WHERE commune_id = $2 AND id = $3 AND state <> 'pending'",
        )
        .bind(instant_text(&now))
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One delivery of the commune (another commune's is "not found").
    pub async fn webhook_delivery(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<WebhookDelivery, StoreError> {
        sqlx::query("SELECT * FROM webhook_deliveries WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(delivery_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("envoi"))
    }

    /// The commune's latest deliveries (of one subscription, or all), newest first.
    pub async fn webhook_deliveries(
        &self,
        commune_id: Uuid,
        subscription_id: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        sqlx::query(
            "SELECT * FROM webhook_deliveries
             WHERE commune_id = $1 AND ($2 = '' OR subscription_id = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(commune_id.to_string())
        .bind(subscription_id.map(|id| id.to_string()).unwrap_or_default())
        .bind(limit)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }
}
