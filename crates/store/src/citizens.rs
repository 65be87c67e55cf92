//! Citizens: public request forms, tracking links, the public thread of an item, reply
//! templates, the outbox of email, and spent proof-of-work challenges.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{ITEM_COLUMNS, OPEN_CLAUSE, item_from_row};
use crate::nodes::{Claim, LeasedQueue};
use crate::pool::Store;
use crate::rows::{date_text, instant_text, parse_instant, parse_opt_uuid, parse_uuid};
use crate::write::{WriteTx, new_entry};

/// A public request form as stored; its fields are domain::request_form's versioned JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestFormRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub code: String,
    pub title: String,
    pub intro: String,
    pub doctype_code: Option<String>,
    pub service_id: Option<Uuid>,
    pub fields_json: String,
    pub consent: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn form_from_row(row: &AnyRow) -> Result<RequestFormRow, StoreError> {
    Ok(RequestFormRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        code: row.try_get("code")?,
        title: row.try_get("title")?,
        intro: row.try_get("intro")?,
        doctype_code: row.try_get("doctype_code")?,
        service_id: parse_opt_uuid(row.try_get("service_id")?)?,
        fields_json: row.try_get("fields_json")?,
        consent: row.try_get("consent")?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_instant(&row.try_get::<String, _>("updated_at")?)?,
    })
}

/// One message of the public thread of an item: what the citizen sees on the tracking page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemMessage {
    pub id: Uuid,
    pub item_id: Uuid,
    /// `ack_registration`, `ack_receipt`, `missing_documents`, `reply`, `citizen`,
    /// `implicit_decision`.
    pub kind: String,
    pub from_citizen: bool,
    pub subject: String,
    pub body: String,
    /// The outgoing item registered for a reply.
    pub reply_item_id: Option<Uuid>,
    /// Attachments of the item that came with this message (documents sent or received).
    pub attachment_ids: Vec<Uuid>,
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn message_from_row(row: &AnyRow) -> Result<ItemMessage, StoreError> {
    let ids: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("attachment_ids")?)
        .map_err(|_| StoreError::corrupt("pièces d'un message"))?;
    Ok(ItemMessage {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        item_id: parse_uuid(&row.try_get::<String, _>("item_id")?)?,
        kind: row.try_get("kind")?,
        from_citizen: row.try_get::<i64, _>("from_citizen")? != 0,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        reply_item_id: parse_opt_uuid(row.try_get("reply_item_id")?)?,
        attachment_ids: ids
            .iter()
            .map(|s| parse_uuid(s))
            .collect::<Result<_, _>>()?,
        author_id: parse_opt_uuid(row.try_get("author_id")?)?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
    })
}

/// A reply template of a commune; its body uses domain::reply_template's `{{variables}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyTemplateRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub code: String,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub active: bool,
}

fn template_from_row(row: &AnyRow) -> Result<ReplyTemplateRow, StoreError> {
    Ok(ReplyTemplateRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

/// Where an email is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its first or next attempt.
    Pending,
    /// Taken by the SMTP server.
    Sent,
    /// Refused for good by the SMTP server (a 5xx answer), or given up after many attempts.
    Failed,
}

impl OutboxState {
    pub fn code(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            OutboxState::Pending => "en attente",
            OutboxState::Sent => "envoyé",
            OutboxState::Failed => "échec",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(OutboxState::Pending),
            "sent" => Ok(OutboxState::Sent),
            "failed" => Ok(OutboxState::Failed),
            _ => Err(StoreError::corrupt("état d'un courriel sortant")),
        }
    }
}

/// An email of the outbox. The message's bytes are the blob `sha256` of the file store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// The item the message is about: the citizen's answers come back to it.
    pub item_id: Option<Uuid>,
    /// `ack_registration`, `ack_receipt`, `missing_documents`, `reply`, `digest`.
    pub kind: String,
    pub message_id: String,
    pub sender: String,
    /// Envelope recipients, comma-separated.
    pub recipients: String,
    pub subject: String,
    pub sha256: String,
    pub size: i64,
    pub state: OutboxState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub dedupe_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn outbox_from_row(row: &AnyRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        item_id: parse_opt_uuid(row.try_get("item_id")?)?,
        kind: row.try_get("kind")?,
        message_id: row.try_get("message_id")?,
        sender: row.try_get("sender")?,
        recipients: row.try_get("recipients")?,
        subject: row.try_get("subject")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        state: OutboxState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: parse_instant(&row.try_get::<String, _>("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
        sent_at: row
            .try_get::<Option<String>, _>("sent_at")?
            .as_deref()
            .map(parse_instant)
            .transpose()?,
        dedupe_key: row.try_get("dedupe_key")?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
    })
}

/// Counts of the outbox, for the administrator's page and the status command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

impl Store {
    pub async fn request_forms(&self, commune_id: Uuid) -> Result<Vec<RequestFormRow>, StoreError> {
        sqlx::query("SELECT * FROM request_forms WHERE commune_id = $1 ORDER BY title, code")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(form_from_row)
            .collect()
    }

    pub async fn request_form(
        &self,
        commune_id: Uuid,
        code: &str,
    ) -> Result<Option<RequestFormRow>, StoreError> {
        sqlx::query("SELECT * FROM request_forms WHERE commune_id = $1 AND code = $2")
            .bind(commune_id.to_string())
            .bind(code.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(form_from_row)
            .transpose()
    }

    /// The item and commune a tracking token's hash leads to.
    pub async fn tracking_target(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Uuid, Uuid)>, StoreError> {
        sqlx::query("SELECT commune_id, item_id FROM tracking_links WHERE token_hash = $1")
            .bind(token_hash.to_owned())
            .fetch_optional(self.reader())
            .await?
            .map(|r| {
                Ok((
                    parse_uuid(&r.try_get::<String, _>(0)?)?,
                    parse_uuid(&r.try_get::<String, _>(1)?)?,
                ))
            })
            .transpose()
    }

    /// The sealed tracking token of an item, if it has one.
    pub async fn tracking_token_of(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query(
            "SELECT sealed_token FROM tracking_links WHERE commune_id = $1 AND item_id = $2
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_optional(self.reader())
        .await?
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .transpose()
    }

    pub async fn item_messages(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<ItemMessage>, StoreError> {
        sqlx::query(
            "SELECT * FROM item_messages WHERE commune_id = $1 AND item_id = $2
             ORDER BY created_at, id",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(message_from_row)
        .collect()
    }

    pub async fn reply_templates(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<ReplyTemplateRow>, StoreError> {
        let mut templates =
            sqlx::query("SELECT * FROM reply_templates WHERE commune_id = $1 ORDER BY code")
                .bind(commune_id.to_string())
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(template_from_row)
                .collect::<Result<Vec<_>, _>>()?;
        templates.sort_by_cached_key(|t| parapheur_domain::french::sort_key(&t.name));
        Ok(templates)
    }

    pub async fn reply_template(
        &self,
        commune_id: Uuid,
        code: &str,
    ) -> Result<Option<ReplyTemplateRow>, StoreError> {
        sqlx::query("SELECT * FROM reply_templates WHERE commune_id = $1 AND code = $2")
            .bind(commune_id.to_string())
            .bind(code.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(template_from_row)
            .transpose()
    }

    /// Takes up to `limit` messages whose attempt is due, leasing each for `lease` under a
    /// new token (see [`Store::claim_due_rows`]).
    pub async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
        holder: Uuid,
    ) -> Result<Claim<OutboxMessage>, StoreError> {
        let (token, rows) = self
            .claim_due_rows(LeasedQueue::Outbox, now, lease, limit, holder)
            .await?;
        let mut items = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|m| (m.created_at, m.id));
        Ok(Claim { token, items })
    }

    /// Records a message sent; false when the lease `token` is no longer this sender's.
    pub async fn outbox_sent(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = $1, last_error = NULL, updated_at = $1,
                lease_token = NULL, leased_by = NULL
             WHERE id = $2 AND lease_token = $3 AND state = 'pending'",
        )
        .bind(instant_text(&now))
        .bind(id.to_string())
        .bind(token.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: retried at `retry_at`, or given up (`None`); false when
    /// the lease `token` is no longer this sender's.
    pub async fn outbox_failed(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let (state, next) = match retry_at {
            Some(at) => (OutboxState::Pending, at),
            None => (OutboxState::Failed, now),
        };
        let done = sqlx::query(
            "UPDATE outbox SET state = $1, next_attempt_at = $2, last_error = $3, updated_at = $4,
                lease_token = NULL, leased_by = NULL
             WHERE id = $5 AND lease_token = $6 AND state = 'pending'",
        )
        .bind(state.code())
        .bind(instant_text(&next))
        .bind(error.to_owned())
        .bind(instant_text(&now))
        .bind(id.to_string())
        .bind(token.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a message back in the queue for an attempt now (the administrator's "Renvoyer").
    pub async fn outbox_retry(
        &self,
        commune_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $1, updated_at = $1
             WHERE commune_id = $2 AND id = $3 AND state <> 'sent'",
        )
        .bind(instant_text(&now))
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The commune's email, newest first.
    pub async fn outbox(
        &self,
        commune_id: Uuid,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        sqlx::query(
            "SELECT * FROM outbox WHERE commune_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(commune_id.to_string())
        .bind(limit)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(outbox_from_row)
        .collect()
    }

    pub async fn outbox_message(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<OutboxMessage, StoreError> {
        sqlx::query("SELECT * FROM outbox WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(outbox_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("courriel sortant"))
    }

    pub async fn outbox_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        sqlx::query(
            "SELECT * FROM outbox WHERE commune_id = $1 AND item_id = $2 ORDER BY created_at, id",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(outbox_from_row)
        .collect()
    }

    /// Counts of one commune's outbox, or of every commune's.
    pub async fn outbox_counts(
        &self,
        commune_id: Option<Uuid>,
    ) -> Result<OutboxCounts, StoreError> {
        const COUNTS: &str =
            "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)
             FROM outbox";
        let row = match commune_id {
            Some(commune) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{COUNTS} WHERE commune_id = $1"
                )))
                .bind(commune.to_string())
                .fetch_one(self.reader())
                .await?
            }
            None => sqlx::query(COUNTS).fetch_one(self.reader()).await?,
        };
        Ok(OutboxCounts {
            pending: row.try_get(0)?,
            sent: row.try_get(1)?,
            failed: row.try_get(2)?,
        })
    }

    /// Whether a message with this deduplication key was already queued.
    pub async fn outbox_has_key(&self, commune_id: Uuid, key: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM outbox WHERE commune_id = $1 AND dedupe_key = $2")
                .bind(commune_id.to_string())
                .bind(key.to_owned())
                .fetch_optional(self.reader())
                .await?
                .is_some(),
        )
    }

    /// Records a proof-of-work challenge as used; false when it already was (a replay).
    /// Expired records are dropped on the way.
    pub async fn spend_challenge(
        &self,
        nonce: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM spent_challenges WHERE expires_at < $1")
            .bind(instant_text(&now))
            .execute(self.writer())
            .await?;
        let done = sqlx::query(
            "INSERT INTO spent_challenges (nonce, expires_at) VALUES ($1, $2)
             ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce.to_owned())
        .bind(instant_text(&expires_at))
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Open items whose deadlines the watch looks at: due by `due_until`, or with a silence
    /// date by `silence_until`, or with a silence date past and no implicit decision recorded.
    pub async fn watched_items(
        &self,
        commune_id: Uuid,
        due_until: NaiveDate,
        silence_until: NaiveDate,
        unacknowledged_since: NaiveDate,
    ) -> Result<Vec<parapheur_domain::item::Item>, StoreError> {
        // Also electronic requests still owed their accusé de réception (L112-11).
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items
             WHERE commune_id = $1 AND {OPEN_CLAUSE} AND direction = 'incoming'
               AND ((due_date IS NOT NULL AND due_date <= $2)
                 OR (silence_date IS NOT NULL AND silence_date <= $3)
                 OR (channel IN ('email', 'form') AND acknowledged_at IS NULL
                     AND arrival_date >= $4))
             ORDER BY due_date, chrono"
        )))
        .bind(commune_id.to_string())
        .bind(date_text(due_until))
        .bind(date_text(silence_until))
        .bind(date_text(unacknowledged_since))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| item_from_row(r, Vec::new())).collect()
    }
}

impl Store {
    /// Open incoming requests that still need their accusé de réception: typed with a
    /// document type that requires one, and none sent yet. Oldest first.
    /// `confidential_visible_to` as in [`crate::items::ItemFilter`].
    pub async fn unacknowledged_items(
        &self,
        commune_id: Uuid,
        confidential_visible_to: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<parapheur_domain::item::Item>, StoreError> {
        let restrict = match confidential_visible_to {
            Some(_) => format!(" AND {}", crate::items::confidential_visible("items", "$3")),
            None => String::new(),
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items
             WHERE commune_id = $1 AND {OPEN_CLAUSE} AND direction = 'incoming'
               AND acknowledged_at IS NULL
               AND doctype_code IN (SELECT code FROM doctypes
                                     WHERE commune_id = $1 AND no_acknowledgement = 0){restrict}
             ORDER BY registered_at, id LIMIT $2"
        )))
        .bind(commune_id.to_string())
        .bind(limit);
        if let Some(reader) = confidential_visible_to {
            query = query.bind(reader.to_string());
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter().map(|r| item_from_row(r, Vec::new())).collect()
    }
}

impl Store {
    /// Open requests received by email since `since` that have had no acknowledgement of
    /// any kind (no AR, no accusé d'enregistrement) and were not sent by a program (tagged
    /// `tag` at capture). Oldest first.
    pub async fn unregistered_email_requests(
        &self,
        commune_id: Uuid,
        since: NaiveDate,
        tag: &str,
        limit: i64,
    ) -> Result<Vec<parapheur_domain::item::Item>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items
             WHERE commune_id = $1 AND {OPEN_CLAUSE} AND direction = 'incoming'
               AND channel = 'email' AND acknowledged_at IS NULL AND arrival_date >= $2
               AND NOT EXISTS (SELECT 1 FROM item_messages m
                               WHERE m.item_id = items.id AND m.kind = 'ack_registration')
               AND NOT EXISTS (SELECT 1 FROM item_tags t
                               WHERE t.item_id = items.id AND t.tag = $3)
             ORDER BY registered_at, id LIMIT $4"
        )))
        .bind(commune_id.to_string())
        .bind(date_text(since))
        .bind(tag.to_owned())
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| item_from_row(r, Vec::new())).collect()
    }
}

impl WriteTx {
    /// Creates or replaces a form (by its code), journaled.
    pub async fn save_request_form(
        &mut self,
        form: &RequestFormRow,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO request_forms (id, commune_id, code, title, intro, doctype_code, service_id,
                fields_json, consent, active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (commune_id, code) DO UPDATE SET title = $4, intro = $5,
                doctype_code = $6, service_id = $7, fields_json = $8, consent = $9, active = $10,
                updated_at = $12",
        )
        .bind(form.id.to_string())
        .bind(form.commune_id.to_string())
        .bind(form.code.clone())
        .bind(form.title.clone())
        .bind(form.intro.clone())
        .bind(form.doctype_code.clone())
        .bind(form.service_id.map(|s| s.to_string()))
        .bind(form.fields_json.clone())
        .bind(form.consent.clone())
        .bind(i64::from(form.active))
        .bind(instant_text(&form.created_at))
        .bind(instant_text(&form.updated_at))
        .execute(self.conn())
        .await?;
        self.journal(
            form.commune_id,
            new_entry(
                actor,
                "form.saved",
                "request_form",
                form.id,
                None,
                serde_json::to_string(form).ok(),
            ),
        );
        Ok(())
    }

    pub async fn save_reply_template(
        &mut self,
        template: &ReplyTemplateRow,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reply_templates (id, commune_id, code, name, subject, body, active,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (commune_id, code) DO UPDATE SET name = $4, subject = $5, body = $6,
                active = $7, updated_at = $8",
        )
        .bind(template.id.to_string())
        .bind(template.commune_id.to_string())
        .bind(template.code.clone())
        .bind(template.name.clone())
        .bind(template.subject.clone())
        .bind(template.body.clone())
        .bind(i64::from(template.active))
        .bind(instant_text(&now))
        .execute(self.conn())
        .await?;
        self.journal(
            template.commune_id,
            new_entry(
                actor,
                "template.saved",
                "reply_template",
                template.id,
                None,
                serde_json::to_string(template).ok(),
            ),
        );
        Ok(())
    }

    pub async fn insert_tracking_link(
        &mut self,
        commune_id: Uuid,
        item_id: Uuid,
        token_hash: &str,
        sealed_token: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "INSERT INTO tracking_links (token_hash, commune_id, item_id, sealed_token, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash.to_owned())
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .bind(sealed_token.to_owned())
        .bind(instant_text(&now))
        .execute(self.conn())
        .await?;
        // The token itself is a secret: the journal only says a link exists.
        self.journal(
            commune_id,
            new_entry(actor, "tracking.created", "item", item_id, None, None),
        );
        Ok(())
    }

    pub async fn insert_item_message(
        &mut self,
        commune_id: Uuid,
        message: &ItemMessage,
        actor: &str,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = message.attachment_ids.iter().map(Uuid::to_string).collect();
        sqlx::query(
            "INSERT INTO item_messages (id, commune_id, item_id, kind, from_citizen, subject, body,
                reply_item_id, attachment_ids, author_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(message.id.to_string())
        .bind(commune_id.to_string())
        .bind(message.item_id.to_string())
        .bind(message.kind.clone())
        .bind(i64::from(message.from_citizen))
        .bind(message.subject.clone())
        .bind(message.body.clone())
        .bind(message.reply_item_id.map(|i| i.to_string()))
        .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned()))
        .bind(message.author_id.map(|i| i.to_string()))
        .bind(instant_text(&message.created_at))
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "message.added",
                "item",
                message.item_id,
                None,
                serde_json::to_string(message).ok(),
            ),
        );
        Ok(())
    }

    /// Queues an email. False (and nothing written) when its deduplication key was queued
    /// before: a digest or an acknowledgement is sent once.
    pub async fn insert_outbox(&mut self, message: &OutboxMessage) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO outbox (id, commune_id, item_id, kind, message_id, sender, recipients,
                subject, sha256, size, state, attempts, next_attempt_at, last_error, sent_at,
                dedupe_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, NULL, NULL, $13, $14, $14)
             ON CONFLICT (commune_id, dedupe_key) DO NOTHING",
        )
        .bind(message.id.to_string())
        .bind(message.commune_id.to_string())
        .bind(message.item_id.map(|i| i.to_string()))
        .bind(message.kind.clone())
        .bind(message.message_id.clone())
        .bind(message.sender.clone())
        .bind(message.recipients.clone())
        .bind(message.subject.clone())
        .bind(message.sha256.clone())
        .bind(message.size)
        .bind(message.state.code())
        .bind(instant_text(&message.next_attempt_at))
        .bind(message.dedupe_key.clone())
        .bind(instant_text(&message.created_at))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Drops the emails of `kind` whose deduplication key starts with `key_prefix`, still
    /// held after the transaction's time (never tried): what they told was taken back.
    /// The addresses of their stored messages, to remove.
    pub async fn drop_held_outbox(
        &mut self,
        commune_id: Uuid,
        kind: &str,
        key_prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let now = instant_text(&self.now());
        let pattern = format!(
            "{}%",
            key_prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let shas = sqlx::query(
            "SELECT sha256 FROM outbox
             WHERE commune_id = $1 AND kind = $2 AND dedupe_key LIKE $3 ESCAPE '\\'
               AND state = 'pending' AND attempts = 0 AND next_attempt_at > $4",
        )
        .bind(commune_id.to_string())
        .bind(kind)
        .bind(pattern.clone())
        .bind(now.clone())
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("sha256"))
        .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "DELETE FROM outbox
             WHERE commune_id = $1 AND kind = $2 AND dedupe_key LIKE $3 ESCAPE '\\'
               AND state = 'pending' AND attempts = 0 AND next_attempt_at > $4",
        )
        .bind(commune_id.to_string())
        .bind(kind)
        .bind(pattern)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(shas)
    }
}
