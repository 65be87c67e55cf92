//! Capture: mailboxes, inbound messages, extracted texts, the job queue, and what the search
//! index needs to follow the journal.

use chrono::{DateTime, Utc};
use parapheur_domain::item::Item;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::Backend;
use crate::error::StoreError;
use crate::items::{ITEM_COLUMNS, item_from_row};
use crate::nodes::Claim;
use crate::pool::Store;
use crate::rows::{instant_text, parse_instant, parse_uuid};
use crate::write::{WriteTx, new_entry};

/// What became of an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundState {
    /// It became a new item.
    Registered,
    /// It was added to an existing item (a reply, a follow-up).
    Attached,
    /// It could not be registered; kept with the reason until someone retries it.
    Quarantined,
}

impl InboundState {
    pub fn code(self) -> &'static str {
        match self {
            InboundState::Registered => "registered",
            InboundState::Attached => "attached",
            InboundState::Quarantined => "quarantined",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "registered" => Ok(InboundState::Registered),
            "attached" => Ok(InboundState::Attached),
            "quarantined" => Ok(InboundState::Quarantined),
            other => Err(StoreError::corrupt(format!(
                "état de message inconnu « {other} »"
            ))),
        }
    }
}

/// A message received by mail, import or drop folder, and its fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundMessage {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// `imap:<mailbox id>`, `import` or `folder`.
    pub source: String,
    /// The message's key in its source: `<uidvalidity>:<uid>`, or the hash of its bytes.
    pub source_key: String,
    /// Where it came from, for people: a file path, a mailbox name and UID.
    pub origin: String,
    pub message_id: Option<String>,
    /// The original bytes in the file store; `None` when they were too large to fetch
    /// (the message is then left where it is, and the reason says so).
    pub sha256: Option<String>,
    pub size: i64,
    pub state: InboundState,
    pub item_id: Option<Uuid>,
    pub reason: Option<String>,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn inbound_from_row(row: &AnyRow) -> Result<InboundMessage, StoreError> {
    Ok(InboundMessage {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        source: row.try_get("source")?,
        source_key: row.try_get("source_key")?,
        origin: row.try_get("origin")?,
        message_id: row.try_get("message_id")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        state: InboundState::parse(&row.try_get::<String, _>("state")?)?,
        item_id: row
            .try_get::<Option<String>, _>("item_id")?
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
        reason: row.try_get("reason")?,
        subject: row.try_get("subject")?,
        sender: row.try_get("sender")?,
        received_at: parse_instant(&row.try_get::<String, _>("received_at")?)?,
        updated_at: parse_instant(&row.try_get::<String, _>("updated_at")?)?,
    })
}

/// A commune's mailbox as stored: its settings stay sealed (they hold a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub label: String,
    pub sealed_config: String,
    pub rules_json: String,
    pub active: bool,
    pub uid_validity: Option<i64>,
    pub last_uid: i64,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn mailbox_from_row(row: &AnyRow) -> Result<MailboxRow, StoreError> {
    Ok(MailboxRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        label: row.try_get("label")?,
        sealed_config: row.try_get("sealed_config")?,
        rules_json: row.try_get("rules_json")?,
        active: row.try_get::<i64, _>("active")? != 0,
        uid_validity: row.try_get("uid_validity")?,
        last_uid: row.try_get("last_uid")?,
        last_polled_at: row
            .try_get::<Option<String>, _>("last_polled_at")?
            .as_deref()
            .map(parse_instant)
            .transpose()?,
        last_error: row.try_get("last_error")?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
    })
}

/// The text of a stored file, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileText {
    pub sha256: String,
    /// `done` or `failed`.
    pub state: String,
    /// `text_layer`, `ocr` or `plain_text`.
    pub method: Option<String>,
    pub text: Option<String>,
    pub reason: Option<String>,
    pub pages: Option<i64>,
    /// The searchable PDF made by OCR, stored beside the original.
    pub searchable_sha256: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn file_text_from_row(row: &AnyRow) -> Result<FileText, StoreError> {
    Ok(FileText {
        sha256: row.try_get("sha256")?,
        state: row.try_get("state")?,
        method: row.try_get("method")?,
        text: row.try_get("text")?,
        reason: row.try_get("reason")?,
        pages: row.try_get("pages")?,
        searchable_sha256: row.try_get("searchable_sha256")?,
        updated_at: parse_instant(&row.try_get::<String, _>("updated_at")?)?,
    })
}

/// A unit of background work. Claiming a job leases it (moves `run_after` forward), so a
/// worker that dies leaves it to be taken again once the lease ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub kind: String,
    /// The file's hash for an extraction.
    pub subject: String,
    pub media_type: String,
    pub filename: String,
    pub state: String,
    pub attempts: i64,
    pub run_after: DateTime<Utc>,
    pub last_error: Option<String>,
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        media_type: row.try_get("media_type")?,
        filename: row.try_get("filename")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        run_after: parse_instant(&row.try_get::<String, _>("run_after")?)?,
        last_error: row.try_get("last_error")?,
    })
}

/// Counts of the job queue, for the status page and the CLI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    pub queued: i64,
    pub done: i64,
    pub failed: i64,
}

/// A journal entry reduced to what the search index needs to follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRef {
    pub seq: i64,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
}

/// An item with everything the search index reads about it.
#[derive(Debug, Clone)]
pub struct SearchSource {
    pub item: Item,
    /// Names, organisations, emails and cities of its correspondents.
    pub contacts: String,
    pub notes: String,
    /// The text of each file as stored: sealed with the commune's key (the application
    /// opens it), or plain in a register older than the sealing.
    pub extracted_texts: Vec<String>,
    /// Who may see it when it is confidential: assignee, author, people it was copied to.
    pub allowed: Vec<Uuid>,
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The inbound message already taken from this source under this key, if any.
    pub async fn inbound_by_key(
        &self,
        commune_id: Uuid,
        source: &str,
        source_key: &str,
    ) -> Result<Option<InboundMessage>, StoreError> {
        sqlx::query(
            "SELECT * FROM inbound_messages WHERE commune_id = $1 AND source = $2 AND source_key = $3",
        )
        .bind(commune_id.to_string())
        .bind(source.to_owned())
        .bind(source_key.to_owned())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(inbound_from_row)
        .transpose()
    }

    /// A message with these bytes already met in this source.
    pub async fn inbound_by_hash(
        &self,
        commune_id: Uuid,
        source: &str,
        sha256: &str,
    ) -> Result<Option<InboundMessage>, StoreError> {
        sqlx::query(
            "SELECT * FROM inbound_messages WHERE commune_id = $1 AND sha256 = $2 AND source = $3
             ORDER BY received_at LIMIT 1",
        )
        .bind(commune_id.to_string())
        .bind(sha256.to_owned())
        .bind(source.to_owned())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(inbound_from_row)
        .transpose()
    }

    /// The message already taken from this source: under this key, else (when `sha256` is
    /// given) the first met with these bytes. [`Store::inbound_by_key`] then
    /// [`Store::inbound_by_hash`] in one statement, for capture's per-message lookup.
    pub async fn inbound_taken(
        &self,
        commune_id: Uuid,
        source: &str,
        source_key: &str,
        sha256: Option<&str>,
    ) -> Result<Option<InboundMessage>, StoreError> {
        let Some(sha256) = sha256 else {
            return self.inbound_by_key(commune_id, source, source_key).await;
        };
        sqlx::query(
            "SELECT * FROM (
                SELECT k.*, 0 AS preference FROM inbound_messages k
                 WHERE k.commune_id = $1 AND k.source = $2 AND k.source_key = $3
                UNION ALL
                SELECT * FROM (
                    SELECT h.*, 1 AS preference FROM inbound_messages h
                     WHERE h.commune_id = $1 AND h.sha256 = $4 AND h.source = $2
                     ORDER BY h.received_at LIMIT 1
                ) by_hash
             ) taken ORDER BY preference LIMIT 1",
        )
        .bind(commune_id.to_string())
        .bind(source.to_owned())
        .bind(source_key.to_owned())
        .bind(sha256.to_owned())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(inbound_from_row)
        .transpose()
    }

    pub async fn inbound(&self, commune_id: Uuid, id: Uuid) -> Result<InboundMessage, StoreError> {
        sqlx::query("SELECT * FROM inbound_messages WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(inbound_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("message"))
    }

    /// Inbound messages, newest first; only those in `state` when given.
    pub async fn inbound_list(
        &self,
        commune_id: Uuid,
        state: Option<InboundState>,
        limit: i64,
    ) -> Result<Vec<InboundMessage>, StoreError> {
        let rows = match state {
            Some(s) => {
                sqlx::query(
                    "SELECT * FROM inbound_messages WHERE commune_id = $1 AND state = $2
                     ORDER BY received_at DESC, id DESC LIMIT $3",
                )
                .bind(commune_id.to_string())
                .bind(s.code())
                .bind(limit)
                .fetch_all(self.reader())
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT * FROM inbound_messages WHERE commune_id = $1
                     ORDER BY received_at DESC, id DESC LIMIT $2",
                )
                .bind(commune_id.to_string())
                .bind(limit)
                .fetch_all(self.reader())
                .await?
            }
        };
        rows.iter().map(inbound_from_row).collect()
    }

    pub async fn quarantine_count(&self, commune_id: Uuid) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM inbound_messages WHERE commune_id = $1 AND state = 'quarantined'",
        )
        .bind(commune_id.to_string())
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The item that an earlier message with one of these Message-IDs became or joined.
    /// The item one of our own emails belongs to, if `message_ids` name one: our
    /// Message-IDs are random (122 bits), so quoting one proves the writer received that
    /// email, sent to the item's correspondent.
    pub async fn item_of_sent_message_ids(
        &self,
        commune_id: Uuid,
        message_ids: &[String],
    ) -> Result<Option<Uuid>, StoreError> {
        let ids: Vec<&String> = message_ids.iter().take(50).collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT item_id FROM outbox
             WHERE commune_id = $1 AND item_id IS NOT NULL AND message_id IN ({})
             ORDER BY created_at DESC LIMIT 1",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
        for id in ids {
            q = q.bind(id.clone());
        }
        q.fetch_optional(self.reader())
            .await?
            .map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
            .transpose()
    }

    pub async fn item_of_message_ids(
        &self,
        commune_id: Uuid,
        message_ids: &[String],
    ) -> Result<Option<Uuid>, StoreError> {
        let ids: Vec<&String> = message_ids.iter().take(50).collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            // A message we received, or one we sent (an acknowledgement, a reply): the
            // citizen's answer to either comes back to the same item.
            "SELECT item_id FROM (
                SELECT item_id, received_at AS at FROM inbound_messages
                 WHERE commune_id = $1 AND item_id IS NOT NULL AND message_id IN ({0})
                UNION ALL
                SELECT item_id, created_at AS at FROM outbox
                 WHERE commune_id = $1 AND item_id IS NOT NULL AND message_id IN ({0})
             ) threads ORDER BY at DESC LIMIT 1",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
        for id in ids {
            q = q.bind(id.clone());
        }
        q.fetch_optional(self.reader())
            .await?
            .map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
            .transpose()
    }

    /// The inbound messages that became or joined an item, oldest first.
    pub async fn inbound_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<InboundMessage>, StoreError> {
        sqlx::query(
            "SELECT * FROM inbound_messages WHERE commune_id = $1 AND item_id = $2
             ORDER BY received_at, id",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(inbound_from_row)
        .collect()
    }

    pub async fn mailboxes(&self, commune_id: Uuid) -> Result<Vec<MailboxRow>, StoreError> {
        sqlx::query("SELECT * FROM mailboxes WHERE commune_id = $1 ORDER BY label, id")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(mailbox_from_row)
            .collect()
    }

    /// Every active mailbox of the installation, for the poller.
    pub async fn active_mailboxes(&self) -> Result<Vec<MailboxRow>, StoreError> {
        sqlx::query("SELECT * FROM mailboxes WHERE active = 1 ORDER BY created_at, id")
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(mailbox_from_row)
            .collect()
    }

    pub async fn mailbox(&self, commune_id: Uuid, id: Uuid) -> Result<MailboxRow, StoreError> {
        sqlx::query("SELECT * FROM mailboxes WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(mailbox_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("boîte aux lettres"))
    }

    /// Notes when a mailbox was last polled and how it went. Operational state, outside
    /// the journal (like sessions): it changes nothing in the register.
    pub async fn record_poll(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE mailboxes SET last_polled_at = $1, last_error = $2 WHERE id = $3")
            .bind(instant_text(&at))
            .bind(error.map(str::to_owned))
            .bind(id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn file_text(
        &self,
        commune_id: Uuid,
        sha256: &str,
    ) -> Result<Option<FileText>, StoreError> {
        sqlx::query("SELECT * FROM file_texts WHERE commune_id = $1 AND sha256 = $2")
            .bind(commune_id.to_string())
            .bind(sha256.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(file_text_from_row)
            .transpose()
    }

    /// Takes up to `limit` jobs whose time has come, leasing each for `lease` under a new
    /// token: one statement, so a job goes to one worker only (PostgreSQL skips the rows
    /// another node is claiming). Completing a job checks the token: a worker whose lease
    /// ran out and was taken over cannot complete it a second time.
    pub async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
        holder: Uuid,
    ) -> Result<Claim<Job>, StoreError> {
        let sql = match self.backend() {
            Backend::Postgres => {
                "UPDATE jobs SET run_after = $1, attempts = attempts + 1, updated_at = $2,
                    lease_token = $3, leased_by = $5
                 WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= $2
                              ORDER BY run_after, id LIMIT $4 FOR UPDATE SKIP LOCKED)
                 RETURNING *"
            }
            Backend::Sqlite => {
                "UPDATE jobs SET run_after = $1, attempts = attempts + 1, updated_at = $2,
                    lease_token = $3, leased_by = $5
                 WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= $2
                              ORDER BY run_after, id LIMIT $4)
                 RETURNING *"
            }
        };
        let token = Uuid::new_v4();
        let mut items = sqlx::query(sql)
            .bind(instant_text(&(now + lease)))
            .bind(instant_text(&now))
            .bind(token.to_string())
            .bind(limit)
            .bind(holder.to_string())
            .fetch_all(self.writer())
            .await?
            .iter()
            .map(job_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|j| j.id);
        Ok(Claim { token, items })
    }

    /// Puts a job back for later, or gives up on it (`retry_at` None); false when the
    /// lease `token` is no longer this worker's (nothing written).
    pub async fn job_failed(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let (state, run_after) = match retry_at {
            Some(at) => ("queued", at),
            None => ("failed", now),
        };
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, run_after = $2, last_error = $3, updated_at = $4,
                lease_token = NULL, leased_by = NULL
             WHERE id = $5 AND lease_token = $6 AND state = 'queued'",
        )
        .bind(state)
        .bind(instant_text(&run_after))
        .bind(error.to_owned())
        .bind(instant_text(&now))
        .bind(id.to_string())
        .bind(token.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)
             FROM jobs",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(JobCounts {
            queued: row.try_get(0)?,
            done: row.try_get(1)?,
            failed: row.try_get(2)?,
        })
    }

    /// Sends every failed job of a commune back to the queue (after installing OCR, say).
    pub async fn requeue_failed_jobs(
        &self,
        commune_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_after = $1, attempts = 0, updated_at = $1
             WHERE commune_id = $2 AND state = 'failed'",
        )
        .bind(instant_text(&now))
        .bind(commune_id.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }

    /// Journal entries after `after_seq`, oldest first.
    pub async fn journal_refs_since(
        &self,
        commune_id: Uuid,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalRef>, StoreError> {
        sqlx::query(
            "SELECT seq, action, entity, entity_id FROM journal
             WHERE commune_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(commune_id.to_string())
        .bind(after_seq)
        .bind(limit)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| {
            Ok(JournalRef {
                seq: r.try_get(0)?,
                action: r.try_get(1)?,
                entity: r.try_get(2)?,
                entity_id: r.try_get(3)?,
            })
        })
        .collect()
    }

    /// Items of the commune that hold a file, for re-indexing after its text changed.
    pub async fn items_with_blob(
        &self,
        commune_id: Uuid,
        sha256: &str,
    ) -> Result<Vec<Uuid>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT item_id FROM attachments WHERE commune_id = $1 AND sha256 = $2",
        )
        .bind(commune_id.to_string())
        .bind(sha256.to_owned())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
        .collect()
    }

    /// The ids of a commune's items after `after` (by id), `limit` at a time: the pages of
    /// a full re-index.
    pub async fn item_ids_page(
        &self,
        commune_id: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        sqlx::query("SELECT id FROM items WHERE commune_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(commune_id.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Everything the search index reads about these items (of this commune only), in
    /// five queries whatever their number. Ids of another commune are ignored.
    pub async fn search_sources(
        &self,
        commune_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<SearchSource>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(400) {
            out.extend(self.search_sources_chunk(commune_id, chunk).await?);
        }
        Ok(out)
    }

    async fn search_sources_chunk(
        &self,
        commune_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<SearchSource>, StoreError> {
        use std::collections::HashMap;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = placeholders(2, ids.len());
        let bind_all = |sql: String| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
            for id in ids {
                q = q.bind(id.to_string());
            }
            q
        };
        let items: Vec<Item> = bind_all(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE commune_id = $1 AND id IN ({list})"
        ))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| item_from_row(r, Vec::new()))
        .collect::<Result<_, _>>()?;

        let mut contacts: HashMap<String, String> = HashMap::new();
        for r in bind_all(format!(
            "SELECT ic.item_id, c.first_name, c.name, c.organisation, c.email, c.city, c.postal_code
             FROM item_contacts ic JOIN contacts c ON c.id = ic.contact_id
             WHERE c.commune_id = $1 AND ic.item_id IN ({list})"
        ))
        .fetch_all(self.reader())
        .await?
        {
            let entry = contacts.entry(r.try_get::<String, _>(0)?).or_default();
            for i in 1..=6 {
                if let Some(v) = r.try_get::<Option<String>, _>(i)? {
                    entry.push_str(&v);
                    entry.push(' ');
                }
            }
        }
        let mut notes: HashMap<String, String> = HashMap::new();
        for r in bind_all(format!(
            "SELECT item_id, body FROM notes WHERE commune_id = $1 AND item_id IN ({list})
             ORDER BY created_at"
        ))
        .fetch_all(self.reader())
        .await?
        {
            let entry = notes.entry(r.try_get::<String, _>(0)?).or_default();
            entry.push_str(&r.try_get::<String, _>(1)?);
            entry.push('\n');
        }
        let mut texts: HashMap<String, Vec<String>> = HashMap::new();
        for r in bind_all(format!(
            "SELECT a.item_id, t.text FROM attachments a
             JOIN file_texts t ON t.commune_id = a.commune_id AND t.sha256 = a.sha256
             WHERE a.commune_id = $1 AND t.state = 'done' AND a.item_id IN ({list})
             ORDER BY a.created_at"
        ))
        .fetch_all(self.reader())
        .await?
        {
            if let Some(text) = r.try_get::<Option<String>, _>(1)? {
                texts
                    .entry(r.try_get::<String, _>(0)?)
                    .or_default()
                    .push(text);
            }
        }
        let mut copies: HashMap<String, Vec<Uuid>> = HashMap::new();
        for r in bind_all(format!(
            "SELECT cp.item_id, cp.user_id FROM item_copies cp JOIN items i ON i.id = cp.item_id
             WHERE i.commune_id = $1 AND cp.item_id IN ({list})"
        ))
        .fetch_all(self.reader())
        .await?
        {
            copies
                .entry(r.try_get::<String, _>(0)?)
                .or_default()
                .push(parse_uuid(&r.try_get::<String, _>(1)?)?);
        }

        Ok(items
            .into_iter()
            .map(|item| {
                let key = item.id.to_string();
                let mut allowed = copies.remove(&key).unwrap_or_default();
                allowed.extend(item.assignee_id);
                allowed.extend(item.created_by);
                SearchSource {
                    contacts: contacts.remove(&key).unwrap_or_default(),
                    notes: notes.remove(&key).unwrap_or_default(),
                    extracted_texts: texts.remove(&key).unwrap_or_default(),
                    allowed,
                    item,
                }
            })
            .collect())
    }
}

/// How past items were routed: (type, service, how many), most frequent first.
pub type RoutingCounts = Vec<(Option<String>, Option<Uuid>, i64)>;

impl Store {
    /// How the earlier items of these correspondents were typed and routed.
    pub async fn routing_of_contacts(
        &self,
        commune_id: Uuid,
        contacts: &[Uuid],
        except_item: Uuid,
    ) -> Result<RoutingCounts, StoreError> {
        let contacts: Vec<&Uuid> = contacts.iter().take(20).collect();
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT i.doctype_code, i.service_id, COUNT(*) FROM items i
             JOIN item_contacts ic ON ic.item_id = i.id
             WHERE i.commune_id = $1 AND i.id <> $2 AND ic.contact_id IN ({})
               AND (i.doctype_code IS NOT NULL OR i.service_id IS NOT NULL)
             GROUP BY i.doctype_code, i.service_id ORDER BY 3 DESC LIMIT 5",
            placeholders(3, contacts.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(commune_id.to_string())
            .bind(except_item.to_string());
        for c in contacts {
            q = q.bind(c.to_string());
        }
        routing_counts(q.fetch_all(self.reader()).await?)
    }

    /// The services that items of this type went to, most frequent first.
    pub async fn routing_of_doctype(
        &self,
        commune_id: Uuid,
        doctype: &str,
    ) -> Result<RoutingCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT doctype_code, service_id, COUNT(*) FROM items
             WHERE commune_id = $1 AND doctype_code = $2 AND service_id IS NOT NULL
             GROUP BY doctype_code, service_id ORDER BY 3 DESC LIMIT 5",
        )
        .bind(commune_id.to_string())
        .bind(doctype.to_owned())
        .fetch_all(self.reader())
        .await?;
        routing_counts(rows)
    }

    /// The text extracted from an item's files, in order, as stored (see
    /// [`SearchSource::extracted_texts`]).
    pub async fn item_texts(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<String>, StoreError> {
        let mut texts = Vec::new();
        for r in sqlx::query(
            "SELECT t.text FROM attachments a
             JOIN file_texts t ON t.commune_id = a.commune_id AND t.sha256 = a.sha256
             WHERE a.commune_id = $1 AND a.item_id = $2 AND t.state = 'done'
             ORDER BY a.created_at",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        {
            if let Some(t) = r.try_get::<Option<String>, _>(0)? {
                texts.push(t);
            }
        }
        Ok(texts)
    }

    /// The texts of these files, by hash (for the item page).
    pub async fn file_texts_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<FileText>, StoreError> {
        sqlx::query(
            "SELECT t.* FROM file_texts t
             WHERE t.commune_id = $1 AND t.sha256 IN
                (SELECT sha256 FROM attachments WHERE commune_id = $1 AND item_id = $2)",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(file_text_from_row)
        .collect()
    }
}

fn routing_counts(rows: Vec<AnyRow>) -> Result<RoutingCounts, StoreError> {
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<Option<String>, _>(0)?,
                r.try_get::<Option<String>, _>(1)?
                    .as_deref()
                    .map(parse_uuid)
                    .transpose()?,
                r.try_get::<i64, _>(2)?,
            ))
        })
        .collect()
}

impl WriteTx {
    /// Records an inbound message and what became of it.
    pub async fn insert_inbound(
        &mut self,
        message: &InboundMessage,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO inbound_messages (id, commune_id, source, source_key, origin, message_id,
                sha256, size, state, item_id, reason, subject, sender, received_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(message.id.to_string())
        .bind(message.commune_id.to_string())
        .bind(message.source.clone())
        .bind(message.source_key.clone())
        .bind(message.origin.clone())
        .bind(message.message_id.clone())
        .bind(message.sha256.clone())
        .bind(message.size)
        .bind(message.state.code())
        .bind(message.item_id.map(|i| i.to_string()))
        .bind(message.reason.clone())
        .bind(message.subject.clone())
        .bind(message.sender.clone())
        .bind(instant_text(&message.received_at))
        .bind(instant_text(&message.updated_at))
        .execute(self.conn())
        .await?;
        self.journal(
            message.commune_id,
            new_entry(
                actor,
                &format!("inbound.{}", message.state.code()),
                "inbound",
                message.id,
                None,
                serde_json::to_string(message).ok(),
            ),
        );
        Ok(())
    }

    /// A quarantined message retried with success: it now points to its item.
    pub async fn resolve_inbound(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        state: InboundState,
        item_id: Uuid,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let done = sqlx::query(
            "UPDATE inbound_messages SET state = $1, item_id = $2, updated_at = $3
             WHERE commune_id = $4 AND id = $5 AND state = 'quarantined'",
        )
        .bind(state.code())
        .bind(item_id.to_string())
        .bind(instant_text(&now))
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Invalid(
                "ce message n'est plus en quarantaine".into(),
            ));
        }
        self.journal(
            commune_id,
            new_entry(
                actor,
                &format!("inbound.{}", state.code()),
                "inbound",
                id,
                None,
                Some(format!("{{\"item_id\":\"{item_id}\"}}")),
            ),
        );
        Ok(())
    }

    /// Moves a mailbox's cursor past a message, in the transaction that took it. A new
    /// UIDVALIDITY restarts the cursor.
    pub async fn advance_mailbox(
        &mut self,
        mailbox_id: Uuid,
        uid_validity: i64,
        uid: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mailboxes SET
                last_uid = CASE WHEN uid_validity = $1 AND last_uid > $2 THEN last_uid ELSE $2 END,
                uid_validity = $1
             WHERE id = $3",
        )
        .bind(uid_validity)
        .bind(uid)
        .bind(mailbox_id.to_string())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn insert_mailbox(
        &mut self,
        row: &MailboxRow,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mailboxes (id, commune_id, label, sealed_config, rules_json, active,
                uid_validity, last_uid, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, $7)",
        )
        .bind(row.id.to_string())
        .bind(row.commune_id.to_string())
        .bind(row.label.clone())
        .bind(row.sealed_config.clone())
        .bind(row.rules_json.clone())
        .bind(i64::from(row.active))
        .bind(instant_text(&row.created_at))
        .execute(self.conn())
        .await?;
        // The journal keeps the label and rules, never the sealed settings.
        self.journal(
            row.commune_id,
            new_entry(
                actor,
                "mailbox.created",
                "mailbox",
                row.id,
                None,
                Some(format!(
                    "{{\"label\":{},\"rules\":{}}}",
                    serde_json::to_string(&row.label).unwrap_or_default(),
                    row.rules_json
                )),
            ),
        );
        Ok(())
    }

    /// Writes a mailbox's settings if they are still those of `before` (the poller's cursor
    /// and status may have moved meanwhile: they are not settings); refused with
    /// [`StoreError::Changed`] otherwise, so a concurrent edit is never overwritten.
    pub async fn update_mailbox(
        &mut self,
        before: &MailboxRow,
        row: &MailboxRow,
        actor: &str,
    ) -> Result<(), StoreError> {
        let current = self
            .lock_row(
                "mailboxes",
                "label",
                "id = $1 AND commune_id = $2",
                &[before.id.to_string(), before.commune_id.to_string()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("boîte aux lettres"))?;
        let current = mailbox_from_row(&current)?;
        let settings = |m: &MailboxRow| {
            (
                m.label.clone(),
                m.sealed_config.clone(),
                m.rules_json.clone(),
                m.active,
            )
        };
        if settings(&current) != settings(before) {
            return Err(StoreError::Changed("cette boîte aux lettres".into()));
        }
        sqlx::query(
            "UPDATE mailboxes SET label = $1, sealed_config = $2, rules_json = $3, active = $4
             WHERE commune_id = $5 AND id = $6",
        )
        .bind(row.label.clone())
        .bind(row.sealed_config.clone())
        .bind(row.rules_json.clone())
        .bind(i64::from(row.active))
        .bind(row.commune_id.to_string())
        .bind(row.id.to_string())
        .execute(self.conn())
        .await?;
        self.journal(
            row.commune_id,
            new_entry(
                actor,
                "mailbox.updated",
                "mailbox",
                row.id,
                None,
                Some(format!(
                    "{{\"label\":{},\"active\":{},\"rules\":{}}}",
                    serde_json::to_string(&row.label).unwrap_or_default(),
                    row.active,
                    row.rules_json
                )),
            ),
        );
        Ok(())
    }

    /// Queues the extraction of a stored file's text (once per file and commune).
    pub async fn enqueue_extraction(
        &mut self,
        commune_id: Uuid,
        sha256: &str,
        media_type: &str,
        filename: &str,
    ) -> Result<(), StoreError> {
        let now = instant_text(&self.now());
        sqlx::query(
            "INSERT INTO jobs (id, commune_id, kind, subject, media_type, filename, state,
                attempts, run_after, created_at, updated_at)
             VALUES ($1, $2, 'extract', $3, $4, $5, 'queued', 0, $6, $6, $6)
             ON CONFLICT (commune_id, kind, subject) DO NOTHING",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(commune_id.to_string())
        .bind(sha256.to_owned())
        .bind(media_type.to_owned())
        .bind(filename.to_owned())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores the text of a file (or why there is none) and closes its job. Journaled: the
    /// search index follows it to re-index the items that hold the file.
    pub async fn record_file_text(
        &mut self,
        commune_id: Uuid,
        text: &FileText,
        job: Option<(Uuid, Uuid)>,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO file_texts (commune_id, sha256, state, method, text, reason, pages,
                searchable_sha256, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (commune_id, sha256) DO UPDATE SET state = excluded.state,
                method = excluded.method, text = excluded.text, reason = excluded.reason,
                pages = excluded.pages, searchable_sha256 = excluded.searchable_sha256,
                updated_at = excluded.updated_at",
        )
        .bind(commune_id.to_string())
        .bind(text.sha256.clone())
        .bind(text.state.clone())
        .bind(text.method.clone())
        .bind(text.text.clone())
        .bind(text.reason.clone())
        .bind(text.pages)
        .bind(text.searchable_sha256.clone())
        .bind(instant_text(&text.updated_at))
        .execute(self.conn())
        .await?;
        if let Some((job, token)) = job
            && text.state == "done"
        {
            // Only under this worker's lease: a job taken over is completed once.
            let done = sqlx::query(
                "UPDATE jobs SET state = 'done', updated_at = $1, lease_token = NULL,
                    leased_by = NULL
                 WHERE id = $2 AND lease_token = $3 AND state = 'queued'",
            )
            .bind(instant_text(&text.updated_at))
            .bind(job.to_string())
            .bind(token.to_string())
            .execute(self.conn())
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Changed(
                    "la tâche (reprise par un autre nœud)".into(),
                ));
            }
        }
        self.journal(
            commune_id,
            new_entry(
                actor,
                &format!("file.text_{}", text.state),
                "file",
                &text.sha256,
                None,
                Some(format!(
                    "{{\"method\":{},\"reason\":{},\"pages\":{},\"searchable\":{}}}",
                    serde_json::to_string(&text.method).unwrap_or_default(),
                    serde_json::to_string(&text.reason).unwrap_or_default(),
                    text.pages.unwrap_or(0),
                    serde_json::to_string(&text.searchable_sha256).unwrap_or_default(),
                )),
            ),
        );
        Ok(())
    }
}
