//! Retention schedules, legal holds, eliminations and transfers to the archives.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use parapheur_domain::Item;
use parapheur_domain::retention::{
    EliminationState, FinalAction, RetentionRule, Schedule, StartEvent, TransferState, Visa,
};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Attachment, ITEM_COLUMNS, attachment_from_row, item_from_row};
use crate::pool::Store;
use crate::rows::{date_text, instant_text, parse_code, parse_instant, parse_opt_date, parse_uuid};
use crate::write::{WriteTx, new_entry};

/// A legal hold on an item: nothing eliminates or transfers it until it is lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    pub item_id: Uuid,
    pub reason: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// A proposal of elimination, its visa and the elimination done under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Elimination {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// "EL-2026-001".
    pub number: String,
    pub state: EliminationState,
    pub proposed_at: DateTime<Utc>,
    pub proposed_by: String,
    pub visa: Option<Visa>,
    pub visa_recorded_at: Option<DateTime<Utc>>,
    pub visa_recorded_by: Option<String>,
    pub eliminated_at: Option<DateTime<Utc>>,
    pub eliminated_by: Option<String>,
    /// The items proposed, in register order.
    pub items: Vec<Uuid>,
}

/// A SEDA transfer to the archives and what they answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// The message's `MessageIdentifier`.
    pub identifier: String,
    pub state: TransferState,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The ArchiveTransfer message, in the file store.
    pub message_sha256: String,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub reply_code: Option<String>,
    pub reply_identifier: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    /// The archives' reply as received, in the file store.
    pub reply_sha256: Option<String>,
    pub items: Vec<Uuid>,
}

fn opt_instant(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(parse_instant)
        .transpose()
}

fn elimination_from_row(row: &AnyRow, items: Vec<Uuid>) -> Result<Elimination, StoreError> {
    let visa = match (
        row.try_get::<Option<String>, _>("visa_by")?,
        parse_opt_date(row.try_get("visa_on")?)?,
        row.try_get::<Option<String>, _>("visa_reference")?,
    ) {
        (Some(signed_by), Some(signed_on), Some(reference)) => Some(Visa {
            signed_by,
            signed_on,
            reference,
        }),
        _ => None,
    };
    Ok(Elimination {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        number: row.try_get("number")?,
        state: parse_code(&row.try_get::<String, _>("state")?)?,
        proposed_at: parse_instant(&row.try_get::<String, _>("proposed_at")?)?,
        proposed_by: row.try_get("proposed_by")?,
        visa,
        visa_recorded_at: opt_instant(row, "visa_recorded_at")?,
        visa_recorded_by: row.try_get("visa_recorded_by")?,
        eliminated_at: opt_instant(row, "eliminated_at")?,
        eliminated_by: row.try_get("eliminated_by")?,
        items,
    })
}

fn transfer_from_row(row: &AnyRow, items: Vec<Uuid>) -> Result<Transfer, StoreError> {
    Ok(Transfer {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        identifier: row.try_get("identifier")?,
        state: parse_code(&row.try_get::<String, _>("state")?)?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
        created_by: row.try_get("created_by")?,
        message_sha256: row.try_get("message_sha256")?,
        acknowledged_at: opt_instant(row, "acknowledged_at")?,
        reply_code: row.try_get("reply_code")?,
        reply_identifier: row.try_get("reply_identifier")?,
        replied_at: opt_instant(row, "replied_at")?,
        reply_sha256: row.try_get("reply_sha256")?,
        items,
    })
}

const ELIMINATION_ITEMS: (&str, &str) = ("elimination_items", "elimination_id");
const TRANSFER_ITEMS: (&str, &str) = ("transfer_items", "transfer_id");

/// The items of a procedure, in register order.
const PROCEDURE_ITEMS: &str = "SELECT i.id FROM items i JOIN {table} p ON p.item_id = i.id
     WHERE p.{key} = $1 ORDER BY i.year, i.direction, i.sequence";

impl Store {
    /// Every active document type's retention.
    pub async fn schedules(&self, commune_id: Uuid) -> Result<Vec<Schedule>, StoreError> {
        sqlx::query(
            "SELECT code, label, retention_years, final_action, retention_start FROM doctypes
             WHERE commune_id = $1 AND active = 1 ORDER BY label",
        )
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| {
            Ok(Schedule {
                doctype: row.try_get("code")?,
                label: row.try_get("label")?,
                rule: RetentionRule {
                    years: u32::try_from(row.try_get::<i64, _>("retention_years")?)
                        .map_err(|_| StoreError::corrupt("durée de conservation"))?,
                    final_action: parse_code::<FinalAction>(
                        &row.try_get::<String, _>("final_action")?,
                    )?,
                },
                start: parse_code::<StartEvent>(&row.try_get::<String, _>("retention_start")?)?,
            })
        })
        .collect()
    }

    /// The commune's closed items, oldest first: those whose retention may run out.
    pub async fn closed_items(&self, commune_id: Uuid) -> Result<Vec<Item>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE commune_id = $1 AND status = 'closed'
             ORDER BY year, direction, sequence"
        )))
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| item_from_row(row, Vec::new()))
        .collect()
    }

    pub async fn legal_holds(&self, commune_id: Uuid) -> Result<Vec<LegalHold>, StoreError> {
        sqlx::query("SELECT * FROM legal_holds WHERE commune_id = $1 ORDER BY set_at")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(LegalHold {
                    item_id: parse_uuid(&row.try_get::<String, _>("item_id")?)?,
                    reason: row.try_get("reason")?,
                    set_by: row.try_get("set_by")?,
                    set_at: parse_instant(&row.try_get::<String, _>("set_at")?)?,
                })
            })
            .collect()
    }

    /// Items in a proposal awaiting its elimination or in a transfer awaiting its reply:
    /// none of them may be put in another.
    pub async fn items_in_procedures(
        &self,
        commune_id: Uuid,
    ) -> Result<BTreeSet<Uuid>, StoreError> {
        sqlx::query(
            "SELECT ei.item_id FROM elimination_items ei
               JOIN eliminations e ON e.id = ei.elimination_id
              WHERE e.commune_id = $1 AND e.state <> 'done'
             UNION SELECT ti.item_id FROM transfer_items ti
               JOIN transfers t ON t.id = ti.transfer_id
              WHERE t.commune_id = $1 AND t.state IN ('sent', 'acknowledged')",
        )
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| parse_uuid(&row.try_get::<String, _>(0)?))
        .collect()
    }

    async fn procedure_items(
        &self,
        table: &str,
        key: &str,
        id: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        let sql = PROCEDURE_ITEMS
            .replace("{table}", table)
            .replace("{key}", key);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| parse_uuid(&row.try_get::<String, _>(0)?))
            .collect()
    }

    /// The files an elimination destroyed (their rows stay, for the certificate).
    pub async fn eliminated_attachments(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<Attachment>, StoreError> {
        sqlx::query(
            "SELECT * FROM attachments WHERE commune_id = $1 AND item_id = $2
               AND eliminated_at IS NOT NULL ORDER BY created_at, id",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(attachment_from_row)
        .collect()
    }

    /// Rows of a procedure table, each with its items.
    async fn with_items<T>(
        &self,
        rows: Vec<AnyRow>,
        (table, key): (&str, &str),
        from_row: fn(&AnyRow, Vec<Uuid>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = parse_uuid(&row.try_get::<String, _>("id")?)?;
            out.push(from_row(row, self.procedure_items(table, key, id).await?)?);
        }
        Ok(out)
    }

    /// Rows of `sql` (its `$1` the commune, its `$2`, if any, `id`).
    async fn rows(
        &self,
        sql: &'static str,
        commune_id: Uuid,
        id: Option<Uuid>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let mut query = sqlx::query(sql).bind(commune_id.to_string());
        if let Some(id) = id {
            query = query.bind(id.to_string());
        }
        Ok(query.fetch_all(self.reader()).await?)
    }

    pub async fn elimination(&self, commune_id: Uuid, id: Uuid) -> Result<Elimination, StoreError> {
        let rows = self
            .rows(
                "SELECT * FROM eliminations WHERE commune_id = $1 AND id = $2",
                commune_id,
                Some(id),
            )
            .await?;
        self.with_items(rows, ELIMINATION_ITEMS, elimination_from_row)
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found("proposition d'élimination"))
    }

    /// Every proposal of the commune, newest first.
    pub async fn eliminations(&self, commune_id: Uuid) -> Result<Vec<Elimination>, StoreError> {
        let rows = self
            .rows(
                "SELECT * FROM eliminations WHERE commune_id = $1
                 ORDER BY proposed_at DESC, number DESC",
                commune_id,
                None,
            )
            .await?;
        self.with_items(rows, ELIMINATION_ITEMS, elimination_from_row)
            .await
    }

    /// The number the next proposal of `year` takes ("EL-2026-003").
    pub async fn next_elimination_number(
        &self,
        commune_id: Uuid,
        year: i32,
    ) -> Result<String, StoreError> {
        let prefix = format!("EL-{year}-");
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) FROM eliminations WHERE commune_id = $1 AND number LIKE $2",
        )
        .bind(commune_id.to_string())
        .bind(format!("{prefix}%"))
        .fetch_one(self.reader())
        .await?
        .try_get(0)?;
        Ok(format!("{prefix}{:03}", count + 1))
    }

    pub async fn transfer(&self, commune_id: Uuid, id: Uuid) -> Result<Transfer, StoreError> {
        let rows = self
            .rows(
                "SELECT * FROM transfers WHERE commune_id = $1 AND id = $2",
                commune_id,
                Some(id),
            )
            .await?;
        self.with_items(rows, TRANSFER_ITEMS, transfer_from_row)
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found("versement"))
    }

    /// Every transfer of the commune, newest first.
    pub async fn transfers(&self, commune_id: Uuid) -> Result<Vec<Transfer>, StoreError> {
        let rows = self
            .rows(
                "SELECT * FROM transfers WHERE commune_id = $1
                 ORDER BY created_at DESC, identifier DESC",
                commune_id,
                None,
            )
            .await?;
        self.with_items(rows, TRANSFER_ITEMS, transfer_from_row)
            .await
    }
}

impl WriteTx {
    /// Changes a document type's retention, journaled with the schedule before and after.
    pub async fn set_schedule(
        &mut self,
        commune_id: Uuid,
        before: &Schedule,
        after: &Schedule,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE doctypes SET retention_years = $1, final_action = $2, retention_start = $3
             WHERE commune_id = $4 AND code = $5",
        )
        .bind(i64::from(after.rule.years))
        .bind(after.rule.final_action.code())
        .bind(after.start.code())
        .bind(commune_id.to_string())
        .bind(after.doctype.clone())
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "doctype.retention",
                "doctype",
                &after.doctype,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }

    /// Puts a legal hold on an item (`Some(reason)`) or lifts it (`None`).
    pub async fn set_legal_hold(
        &mut self,
        commune_id: Uuid,
        item_id: Uuid,
        reason: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let before =
            sqlx::query("SELECT reason FROM legal_holds WHERE commune_id = $1 AND item_id = $2")
                .bind(commune_id.to_string())
                .bind(item_id.to_string())
                .fetch_optional(self.conn())
                .await?
                .map(|row| row.try_get::<String, _>(0))
                .transpose()?;
        sqlx::query("DELETE FROM legal_holds WHERE commune_id = $1 AND item_id = $2")
            .bind(commune_id.to_string())
            .bind(item_id.to_string())
            .execute(self.conn())
            .await?;
        if let Some(reason) = reason {
            sqlx::query(
                "INSERT INTO legal_holds (commune_id, item_id, reason, set_by, set_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(commune_id.to_string())
            .bind(item_id.to_string())
            .bind(reason.to_owned())
            .bind(actor.to_owned())
            .bind(instant_text(&now))
            .execute(self.conn())
            .await?;
        }
        let json = |r: Option<&str>| r.map(|r| serde_json::json!({ "reason": r }).to_string());
        self.journal(
            commune_id,
            new_entry(
                actor,
                if reason.is_some() {
                    "item.legal_hold"
                } else {
                    "item.legal_hold_lifted"
                },
                "item",
                item_id,
                json(before.as_deref()),
                json(reason),
            ),
        );
        Ok(())
    }

    pub async fn insert_elimination(
        &mut self,
        e: &Elimination,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO eliminations (id, commune_id, number, state, proposed_at, proposed_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.id.to_string())
        .bind(e.commune_id.to_string())
        .bind(e.number.clone())
        .bind(e.state.code())
        .bind(instant_text(&e.proposed_at))
        .bind(e.proposed_by.clone())
        .execute(self.conn())
        .await?;
        for item in &e.items {
            sqlx::query("INSERT INTO elimination_items (elimination_id, item_id) VALUES ($1, $2)")
                .bind(e.id.to_string())
                .bind(item.to_string())
                .execute(self.conn())
                .await?;
        }
        self.journal(
            e.commune_id,
            new_entry(
                actor,
                "elimination.proposed",
                "elimination",
                e.id,
                None,
                serde_json::to_string(e).ok(),
            ),
        );
        Ok(())
    }

    /// Writes a proposal's visa and elimination, guarded by its state before: two people
    /// recording at once cannot both land.
    pub async fn update_elimination(
        &mut self,
        before: &Elimination,
        after: &Elimination,
        action: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let visa = after.visa.as_ref();
        let done = sqlx::query(
            "UPDATE eliminations SET state = $1, visa_by = $2, visa_on = $3, visa_reference = $4,
                visa_recorded_at = $5, visa_recorded_by = $6, eliminated_at = $7, eliminated_by = $8
             WHERE commune_id = $9 AND id = $10 AND state = $11",
        )
        .bind(after.state.code())
        .bind(visa.map(|v| v.signed_by.clone()))
        .bind(visa.map(|v| date_text(v.signed_on)))
        .bind(visa.map(|v| v.reference.clone()))
        .bind(after.visa_recorded_at.as_ref().map(instant_text))
        .bind(after.visa_recorded_by.clone())
        .bind(after.eliminated_at.as_ref().map(instant_text))
        .bind(after.eliminated_by.clone())
        .bind(after.commune_id.to_string())
        .bind(after.id.to_string())
        .bind(before.state.code())
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Changed("la proposition d'élimination".into()));
        }
        self.journal(
            after.commune_id,
            new_entry(
                actor,
                action,
                "elimination",
                after.id,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }

    /// Marks the files of an eliminated item and clears its text: its attachments' rows stay (the register says
    /// what there was) but no longer refer to their blobs; the original email's blob and
    /// sender's address, the messages exchanged, the emails sent about it (their bytes,
    /// recipients and subject) and the extracted text of files nothing else uses go too. Returns the hashes whose blobs
    /// may be deleted once committed (those still referenced elsewhere are kept by the
    /// caller, which asks [`Store::referenced_blobs`]).
    pub async fn eliminate_files(
        &mut self,
        commune_id: Uuid,
        item_id: Uuid,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let commune = commune_id.to_string();
        let item = item_id.to_string();
        // The emails the commune sent about the item (an acknowledgement, the reply with its
        // letter) are copies of its documents, addressed to the person: they go too, once
        // sent or given up (a message still waiting keeps its bytes for the sender).
        let mut hashes: Vec<String> = sqlx::query(
            "SELECT sha256 FROM attachments
              WHERE commune_id = $1 AND item_id = $2 AND eliminated_at IS NULL
             UNION SELECT sha256 FROM inbound_messages
              WHERE commune_id = $1 AND item_id = $2 AND sha256 IS NOT NULL
             UNION SELECT sha256 FROM outbox
              WHERE commune_id = $1 AND item_id = $2 AND state <> 'pending' AND recipients <> ''",
        )
        .bind(commune.clone())
        .bind(item.clone())
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
        sqlx::query(
            "UPDATE attachments SET eliminated_at = $1
              WHERE commune_id = $2 AND item_id = $3 AND eliminated_at IS NULL",
        )
        .bind(instant_text(&now))
        .bind(commune.clone())
        .bind(item.clone())
        .execute(self.conn())
        .await?;
        // The text of an email is the document itself: it goes with the files; the
        // register line (number, dates, correspondents, subject) stays.
        sqlx::query("UPDATE items SET body = NULL WHERE commune_id = $1 AND id = $2")
            .bind(commune.clone())
            .bind(item.clone())
            .execute(self.conn())
            .await?;
        // The sender's address and the messages exchanged with them go with the documents;
        // the register line names the correspondent.
        sqlx::query(
            "UPDATE inbound_messages SET sha256 = NULL, sender = NULL
              WHERE commune_id = $1 AND item_id = $2",
        )
        .bind(commune.clone())
        .bind(item.clone())
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE item_messages SET body = '' WHERE commune_id = $1 AND item_id = $2")
            .bind(commune.clone())
            .bind(item.clone())
            .execute(self.conn())
            .await?;
        sqlx::query(
            "UPDATE outbox SET recipients = '', subject = '', updated_at = $1
              WHERE commune_id = $2 AND item_id = $3 AND state <> 'pending'",
        )
        .bind(instant_text(&now))
        .bind(commune.clone())
        .bind(item.clone())
        .execute(self.conn())
        .await?;
        let mut searchable = Vec::new();
        for sha in &hashes {
            let still_used: i64 = sqlx::query(
                "SELECT COUNT(*) FROM attachments
                  WHERE commune_id = $1 AND sha256 = $2 AND eliminated_at IS NULL",
            )
            .bind(commune.clone())
            .bind(sha.clone())
            .fetch_one(self.conn())
            .await?
            .try_get(0)?;
            if still_used > 0 {
                continue;
            }
            if let Some(row) = sqlx::query(
                "DELETE FROM file_texts WHERE commune_id = $1 AND sha256 = $2
                 RETURNING searchable_sha256",
            )
            .bind(commune.clone())
            .bind(sha.clone())
            .fetch_optional(self.conn())
            .await?
                && let Some(s) = row.try_get::<Option<String>, _>(0)?
            {
                searchable.push(s);
            }
        }
        hashes.extend(searchable);
        hashes.sort();
        hashes.dedup();
        self.journal(
            commune_id,
            new_entry(
                actor,
                "item.files_eliminated",
                "item",
                item_id,
                None,
                Some(serde_json::json!({ "files": hashes }).to_string()),
            ),
        );
        Ok(hashes)
    }

    pub async fn insert_transfer(&mut self, t: &Transfer, actor: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO transfers (id, commune_id, identifier, state, created_at, created_by,
                                    message_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.to_string())
        .bind(t.commune_id.to_string())
        .bind(t.identifier.clone())
        .bind(t.state.code())
        .bind(instant_text(&t.created_at))
        .bind(t.created_by.clone())
        .bind(t.message_sha256.clone())
        .execute(self.conn())
        .await?;
        for item in &t.items {
            sqlx::query("INSERT INTO transfer_items (transfer_id, item_id) VALUES ($1, $2)")
                .bind(t.id.to_string())
                .bind(item.to_string())
                .execute(self.conn())
                .await?;
        }
        self.journal(
            t.commune_id,
            new_entry(
                actor,
                "transfer.sent",
                "transfer",
                t.id,
                None,
                serde_json::to_string(t).ok(),
            ),
        );
        Ok(())
    }

    /// Records what the archives answered, guarded by the state before.
    pub async fn update_transfer(
        &mut self,
        before: &Transfer,
        after: &Transfer,
        action: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE transfers SET state = $1, acknowledged_at = $2, reply_code = $3,
                reply_identifier = $4, replied_at = $5, reply_sha256 = $6
             WHERE commune_id = $7 AND id = $8 AND state = $9",
        )
        .bind(after.state.code())
        .bind(after.acknowledged_at.as_ref().map(instant_text))
        .bind(after.reply_code.clone())
        .bind(after.reply_identifier.clone())
        .bind(after.replied_at.as_ref().map(instant_text))
        .bind(after.reply_sha256.clone())
        .bind(after.commune_id.to_string())
        .bind(after.id.to_string())
        .bind(before.state.code())
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Changed("le versement".into()));
        }
        self.journal(
            after.commune_id,
            new_entry(
                actor,
                action,
                "transfer",
                after.id,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }
}
