//! The commune's phone calls (issue 18, point 3), as its PBX tells of them, and the
//! extension that rings on each user's desk.
//!
//! A call's row moves only forward (ringing, answered, ended): every change is a
//! conditional update on the state read, so that two deliveries of one event racing each
//! other change it once. Calls are a log, not the register: only a missed call's
//! consequences (its callback item, `call.missed`) and an extension's change are journaled.

use chrono::{DateTime, Utc};
use parapheur_domain::contact::Contact;
use parapheur_domain::cti::CallState;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::contacts::contact_from_row;
use crate::error::StoreError;
use crate::pool::Store;
use crate::rows::{instant_text, parse_instant, parse_opt_uuid, parse_uuid};
use crate::users::User;
use crate::write::{WriteTx, new_entry};

/// One call of the commune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// The PBX's `callId`.
    pub call_ref: String,
    /// `in` or `out`.
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    /// The outside party's number in the contacts' form, when it is a phone number.
    pub caller_number: Option<String>,
    pub contact_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    /// `user[]` as the PBX named them.
    pub users: Vec<String>,
    #[serde(serialize_with = "state_code")]
    pub state: CallState,
    pub cause: Option<String>,
    pub missed: bool,
    /// A missed call's callback item.
    pub item_id: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

fn state_code<S: serde::Serializer>(state: &CallState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.code())
}

fn opt_instant(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(parse_instant)
        .transpose()
}

fn call_from_row(row: &AnyRow) -> Result<Call, StoreError> {
    let users: String = row.try_get("users")?;
    Ok(Call {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        call_ref: row.try_get("call_ref")?,
        direction: row.try_get("direction")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        caller_number: row.try_get("caller_number")?,
        contact_id: parse_opt_uuid(row.try_get("contact_id")?)?,
        agent_id: parse_opt_uuid(row.try_get("agent_id")?)?,
        users: users
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        state: CallState::parse(&row.try_get::<String, _>("state")?)
            .ok_or_else(|| StoreError::corrupt("état d'appel"))?,
        cause: row.try_get("cause")?,
        missed: row.try_get::<i64, _>("missed")? != 0,
        item_id: parse_opt_uuid(row.try_get("item_id")?)?,
        started_at: parse_instant(&row.try_get::<String, _>("started_at")?)?,
        answered_at: opt_instant(row, "answered_at")?,
        ended_at: opt_instant(row, "ended_at")?,
    })
}

impl Store {
    /// A call of the commune by the PBX's `callId`.
    pub async fn call_by_ref(
        &self,
        commune_id: Uuid,
        call_ref: &str,
    ) -> Result<Option<Call>, StoreError> {
        sqlx::query("SELECT * FROM calls WHERE commune_id = $1 AND call_ref = $2")
            .bind(commune_id.to_string())
            .bind(call_ref.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(call_from_row)
            .transpose()
    }

    /// A call of the commune by its id.
    pub async fn call(&self, commune_id: Uuid, id: Uuid) -> Result<Option<Call>, StoreError> {
        sqlx::query("SELECT * FROM calls WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(call_from_row)
            .transpose()
    }

    /// The calls with a contact (RGPD subject access), oldest first.
    pub async fn calls_of_contact(
        &self,
        commune_id: Uuid,
        contact_id: Uuid,
    ) -> Result<Vec<Call>, StoreError> {
        sqlx::query(
            "SELECT * FROM calls WHERE commune_id = $1 AND contact_id = $2 ORDER BY started_at, id",
        )
        .bind(commune_id.to_string())
        .bind(contact_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(call_from_row)
        .collect()
    }

    /// The call a callback item was registered for.
    pub async fn call_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Option<Call>, StoreError> {
        sqlx::query("SELECT * FROM calls WHERE commune_id = $1 AND item_id = $2")
            .bind(commune_id.to_string())
            .bind(item_id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(call_from_row)
            .transpose()
    }

    /// The commune's calls ringing now (started after `since`), newest first; those of one
    /// agent when given (with those ringing for no one).
    pub async fn ringing_calls(
        &self,
        commune_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<Call>, StoreError> {
        sqlx::query(
            "SELECT * FROM calls WHERE commune_id = $1 AND state = 'ringing'
               AND started_at > $2 ORDER BY started_at DESC LIMIT 20",
        )
        .bind(commune_id.to_string())
        .bind(instant_text(&since))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(call_from_row)
        .collect()
    }

    /// The contacts whose phone is this number (in the contacts' normalised form), not
    /// merged into another, nor erased or restricted.
    pub async fn contacts_by_phone(
        &self,
        commune_id: Uuid,
        phone_key: &str,
    ) -> Result<Vec<Contact>, StoreError> {
        sqlx::query(
            "SELECT * FROM contacts WHERE commune_id = $1 AND phone_key = $2
               AND merged_into IS NULL AND restricted_at IS NULL AND erased_at IS NULL
             ORDER BY created_at LIMIT 5",
        )
        .bind(commune_id.to_string())
        .bind(phone_key.to_owned())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(contact_from_row)
        .collect()
    }

    /// The extension of each user of the commune that has one.
    pub async fn phone_extensions(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        sqlx::query(
            "SELECT id, phone_extension FROM users
             WHERE commune_id = $1 AND phone_extension IS NOT NULL",
        )
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| {
            Ok((
                parse_uuid(&row.try_get::<String, _>("id")?)?,
                row.try_get::<String, _>("phone_extension")?,
            ))
        })
        .collect()
    }
}

impl WriteTx {
    /// Records a new call; `false` when the commune already has one with this `callId`
    /// (a replay racing the first delivery): nothing is written then.
    pub async fn insert_call(&mut self, call: &Call) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO calls (id, commune_id, call_ref, direction, from_number, to_number,
                caller_number, contact_id, agent_id, users, state, cause, missed, item_id,
                started_at, answered_at, ended_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18)
             ON CONFLICT (commune_id, call_ref) DO NOTHING",
        )
        .bind(call.id.to_string())
        .bind(call.commune_id.to_string())
        .bind(call.call_ref.clone())
        .bind(call.direction.clone())
        .bind(call.from_number.clone())
        .bind(call.to_number.clone())
        .bind(call.caller_number.clone())
        .bind(call.contact_id.map(|c| c.to_string()))
        .bind(call.agent_id.map(|a| a.to_string()))
        .bind(call.users.join("\n"))
        .bind(call.state.code())
        .bind(call.cause.clone())
        .bind(i64::from(call.missed))
        .bind(call.item_id.map(|i| i.to_string()))
        .bind(instant_text(&call.started_at))
        .bind(call.answered_at.as_ref().map(instant_text))
        .bind(call.ended_at.as_ref().map(instant_text))
        .bind(instant_text(&call.started_at))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a call from the state it was read in to `after`'s (state, agent, cause,
    /// missed, callback item, instants); `false` when it moved meanwhile (nothing written).
    pub async fn advance_call(
        &mut self,
        read: CallState,
        after: &Call,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE calls SET state = $1, agent_id = $2, cause = $3, missed = $4, item_id = $5,
                answered_at = $6, ended_at = $7, updated_at = $8
             WHERE id = $9 AND commune_id = $10 AND state = $11",
        )
        .bind(after.state.code())
        .bind(after.agent_id.map(|a| a.to_string()))
        .bind(after.cause.clone())
        .bind(i64::from(after.missed))
        .bind(after.item_id.map(|i| i.to_string()))
        .bind(after.answered_at.as_ref().map(instant_text))
        .bind(after.ended_at.as_ref().map(instant_text))
        .bind(instant_text(&self.now()))
        .bind(after.id.to_string())
        .bind(after.commune_id.to_string())
        .bind(read.code())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Erases the calls of a commune that began before `before` (the call log's retention),
    /// journaled with their number; returns it.
    pub async fn purge_calls_before(
        &mut self,
        commune_id: Uuid,
        before: DateTime<Utc>,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let purged = sqlx::query("DELETE FROM calls WHERE commune_id = $1 AND started_at < $2")
            .bind(commune_id.to_string())
            .bind(instant_text(&before))
            .execute(self.conn())
            .await?
            .rows_affected();
        if purged > 0 {
            self.journal(
                commune_id,
                new_entry(
                    actor,
                    "calls.purged",
                    "commune",
                    commune_id,
                    None,
                    serde_json::to_string(&serde_json::json!({
                        "calls": purged,
                        "started_before": instant_text(&before),
                    }))
                    .ok(),
                ),
            );
        }
        Ok(purged)
    }

    /// Journals a missed call (`call.missed`), in the transaction of its hang-up.
    pub fn journal_missed_call(&mut self, call: &Call, actor: &str) {
        self.journal(
            call.commune_id,
            new_entry(
                actor,
                "call.missed",
                "call",
                call.id,
                None,
                serde_json::to_string(call).ok(),
            ),
        );
    }

    /// Sets (or clears) the extension that rings on a user's desk: journaled.
    pub async fn set_phone_extension(
        &mut self,
        user: &User,
        extension: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE users SET phone_extension = $1 WHERE id = $2 AND commune_id = $3")
                .bind(extension.map(str::to_owned))
                .bind(user.id.to_string())
                .bind(user.commune_id.to_string())
                .execute(self.conn())
                .await
                .map_err(|e| {
                    if crate::error::is_unique_violation(&e) {
                        StoreError::Invalid("ce poste est déjà celui d'une autre personne".into())
                    } else {
                        e.into()
                    }
                })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("utilisateur"));
        }
        self.journal(
            user.commune_id,
            new_entry(
                actor,
                "user.phone_extension",
                "user",
                user.id,
                None,
                Some(serde_json::json!({ "phone_extension": extension }).to_string()),
            ),
        );
        Ok(())
    }
}
