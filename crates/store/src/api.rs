//! What opening the register to the commune's other software needs (issue 18): the
//! signatures of files verified on arrival, the HTTP API's tokens, and the answers kept
//! for its idempotency keys.
//!
//! Tokens are created and revoked through the journaled write path (they give access to
//! the register); using one is not a change to the register, so it writes nothing to the
//! journal (like a session). An idempotency answer is written in the transaction of the
//! creation it answers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::communes::commune_from_prefixed_row;
use crate::error::{StoreError, is_unique_violation};
use crate::pool::Store;
use crate::rows::{instant_text, parse_instant, parse_uuid};
use crate::users::{User, user_from_prefixed_row};
use crate::write::{WriteTx, new_entry};
use parapheur_domain::Commune;

/// The signatures of a stored file, as verified when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSignatures {
    pub sha256: String,
    /// valid, untrusted, modified, altered or unreadable (`app::register::signatures`).
    pub verdict: String,
    /// How many signatures the file carries.
    pub signatures: i64,
    /// Each signature's facts (JSON written by `app`).
    pub report_json: String,
    pub verified_at: DateTime<Utc>,
}

fn file_signatures_from_row(row: &AnyRow) -> Result<FileSignatures, StoreError> {
    Ok(FileSignatures {
        sha256: row.try_get("sha256")?,
        verdict: row.try_get("verdict")?,
        signatures: row.try_get("signatures")?,
        report_json: row.try_get("report_json")?,
        verified_at: parse_instant(&row.try_get::<String, _>("verified_at")?)?,
    })
}

impl WriteTx {
    /// Records the verification of a file's signatures made on its arrival; a file already
    /// verified keeps its first verification (the evidence of what arrived). Journaled
    /// (`file.signatures`), so the hash chain covers the verdict shown.
    pub async fn record_file_signatures(
        &mut self,
        commune_id: Uuid,
        checked: &FileSignatures,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO file_signatures (commune_id, sha256, verdict, signatures, report_json,
                verified_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (commune_id, sha256) DO NOTHING",
        )
        .bind(commune_id.to_string())
        .bind(checked.sha256.clone())
        .bind(checked.verdict.clone())
        .bind(checked.signatures)
        .bind(checked.report_json.clone())
        .bind(instant_text(&checked.verified_at))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.journal(
            commune_id,
            new_entry(
                actor,
                "file.signatures",
                "file",
                &checked.sha256,
                None,
                Some(checked.report_json.clone()),
            ),
        );
        Ok(true)
    }
}

impl Store {
    /// The verified signatures of an item's files.
    pub async fn file_signatures_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<FileSignatures>, StoreError> {
        sqlx::query(
            "SELECT s.* FROM file_signatures s
             WHERE s.commune_id = $1 AND s.sha256 IN
                (SELECT sha256 FROM attachments WHERE commune_id = $1 AND item_id = $2)",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(file_signatures_from_row)
        .collect()
    }

    /// The verified signatures of one file of a commune.
    pub async fn file_signatures(
        &self,
        commune_id: Uuid,
        sha256: &str,
    ) -> Result<Option<FileSignatures>, StoreError> {
        sqlx::query("SELECT * FROM file_signatures WHERE commune_id = $1 AND sha256 = $2")
            .bind(commune_id.to_string())
            .bind(sha256.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(file_signatures_from_row)
            .transpose()
    }
}

/// An API token, never with its secret (only its hash is stored, and not returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// The user the token acts for: their role and the confidentiality rule apply.
    pub owner_id: Uuid,
    pub label: String,
    /// The first characters of the token, to recognise it in a list.
    pub hint: String,
    /// Scope codes (`items:read`…).
    pub scopes: Vec<String>,
    /// The journal's name of who created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

fn opt_instant(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(parse_instant)
        .transpose()
}

fn api_token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        owner_id: parse_uuid(&row.try_get::<String, _>("owner_id")?)?,
        label: row.try_get("label")?,
        hint: row.try_get("hint")?,
        scopes: row
            .try_get::<String, _>("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        created_by: row.try_get("created_by")?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
        expires_at: opt_instant(row, "expires_at")?,
        last_used_at: opt_instant(row, "last_used_at")?,
        revoked_at: opt_instant(row, "revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
    })
}

/// What the journal says of a token: everything but its hash.
fn token_json(token: &ApiToken) -> String {
    serde_json::json!({
        "label": token.label,
        "owner": token.owner_id,
        "scopes": token.scopes,
        "hint": token.hint,
        "expires_at": token.expires_at.as_ref().map(instant_text),
        "revoked_at": token.revoked_at.as_ref().map(instant_text),
    })
    .to_string()
}

/// Everything an API call needs about its caller, read in one query: the token, its owner
/// and commune, and the commune's journal position.
#[derive(Debug, Clone)]
pub struct ApiTokenContext {
    pub token: ApiToken,
    pub owner: User,
    pub commune: Commune,
    pub journal_seq: i64,
}

impl WriteTx {
    /// Stores a new token (its hash only). Journaled: who gave which access to whom.
    pub async fn insert_api_token(
        &mut self,
        token: &ApiToken,
        token_hash: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, commune_id, owner_id, label, token_hash, hint, scopes,
                created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(token.id.to_string())
        .bind(token.commune_id.to_string())
        .bind(token.owner_id.to_string())
        .bind(token.label.clone())
        .bind(token_hash.to_owned())
        .bind(token.hint.clone())
        .bind(token.scopes.join(" "))
        .bind(token.created_by.clone())
        .bind(instant_text(&token.created_at))
        .bind(token.expires_at.as_ref().map(instant_text))
        .execute(self.conn())
        .await?;
        self.journal(
            token.commune_id,
            new_entry(
                actor,
                "api_token.created",
                "api_token",
                token.id,
                None,
                Some(token_json(token)),
            ),
        );
        Ok(())
    }

    /// Revokes a token of the commune (at once, on every node: each call reads it). A token
    /// already revoked stays as it was.
    pub async fn revoke_api_token(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        actor: &str,
    ) -> Result<ApiToken, StoreError> {
        let before = self
            .lock_row(
                "api_tokens",
                "label",
                "id = $1 AND commune_id = $2",
                &[id.to_string(), commune_id.to_string()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("jeton"))?;
        let before = api_token_from_row(&before)?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let now = self.now();
        sqlx::query("UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3")
            .bind(instant_text(&now))
            .bind(actor.to_owned())
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        let after = ApiToken {
            revoked_at: Some(now),
            revoked_by: Some(actor.to_owned()),
            ..before.clone()
        };
        self.journal(
            commune_id,
            new_entry(
                actor,
                "api_token.revoked",
                "api_token",
                id,
                Some(token_json(&before)),
                Some(token_json(&after)),
            ),
        );
        Ok(after)
    }

    /// Keeps what a creation answered under its idempotency key, in the creation's own
    /// transaction. A key already used by this token (a concurrent retry that committed
    /// first) is `AlreadyExists`: the transaction is then rolled back, and the caller
    /// answers what the first one stored.
    pub async fn record_idempotent_answer(
        &mut self,
        token_id: Uuid,
        key: &str,
        answer: &IdempotentAnswer,
    ) -> Result<(), StoreError> {
        let now = instant_text(&self.now());
        sqlx::query(
            "INSERT INTO api_idempotency (token_id, idempotency_key, fingerprint, status,
                response, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_id.to_string())
        .bind(key.to_owned())
        .bind(answer.fingerprint.clone())
        .bind(answer.status)
        .bind(answer.response.clone())
        .bind(now)
        .execute(self.conn())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::AlreadyExists("cette clé d'idempotence".into())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }
}

/// What a creation answered, kept under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    /// SHA-256 of the request (method, path, body).
    pub fingerprint: String,
    pub status: i64,
    /// The JSON body answered.
    pub response: String,
}

impl Store {
    /// The live or revoked token behind a hash, with its owner, commune and the commune's
    /// journal position.
    pub async fn api_token_context(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenContext>, StoreError> {
        let row = sqlx::query(
            "SELECT t.*,
                    u.id AS u_id, u.commune_id AS u_commune_id, u.email AS u_email,
                    u.display_name AS u_display_name, u.title AS u_title, u.role AS u_role,
                    u.service_id AS u_service_id, u.active AS u_active, u.host_admin AS u_host_admin,
                    c.id AS c_id, c.insee AS c_insee, c.name AS c_name, c.siren AS c_siren,
                    c.postal_code AS c_postal_code, c.departement AS c_departement,
                    c.chrono_format AS c_chrono_format, c.good_friday AS c_good_friday,
                    c.logo_small_sha256 AS c_logo_small_sha256,
                    c.logo_small_width AS c_logo_small_width,
                    c.logo_small_height AS c_logo_small_height,
                    COALESCE(h.seq, 0) AS journal_seq
             FROM api_tokens t
             JOIN users u ON u.id = t.owner_id
             JOIN communes c ON c.id = t.commune_id
             LEFT JOIN journal_heads h ON h.commune_id = t.commune_id
             WHERE t.token_hash = $1",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(self.reader())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(ApiTokenContext {
            token: api_token_from_row(&r)?,
            owner: user_from_prefixed_row(&r, "u_")?,
            commune: commune_from_prefixed_row(&r, "c_")?,
            journal_seq: r.try_get("journal_seq")?,
        }))
    }

    /// The commune's tokens, newest first.
    pub async fn api_tokens(&self, commune_id: Uuid) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query("SELECT * FROM api_tokens WHERE commune_id = $1 ORDER BY created_at DESC, id")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(api_token_from_row)
            .collect()
    }

    /// Notes when a token was last used (at most once a minute: see the caller).
    pub async fn touch_api_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(instant_text(&now))
            .bind(id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// What a token's earlier request with this idempotency key was answered.
    pub async fn idempotent_answer(
        &self,
        token_id: Uuid,
        key: &str,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        let row = sqlx::query(
            "SELECT fingerprint, status, response FROM api_idempotency
             WHERE token_id = $1 AND idempotency_key = $2",
        )
        .bind(token_id.to_string())
        .bind(key.to_owned())
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| {
            Ok(IdempotentAnswer {
                fingerprint: r.try_get("fingerprint")?,
                status: r.try_get("status")?,
                response: r.try_get("response")?,
            })
        })
        .transpose()
    }

    /// Forgets the idempotency answers older than `before` (a retry comes within minutes;
    /// they are kept a day).
    pub async fn prune_idempotency(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM api_idempotency WHERE created_at < $1")
            .bind(instant_text(&before))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }
}
