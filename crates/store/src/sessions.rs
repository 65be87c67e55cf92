//! Web sessions and password resets: authentication state, not register content, so they
//! are written outside the journaled write path (a login is not a change to the register).

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::communes::commune_from_prefixed_row;
use crate::error::StoreError;
use crate::pool::Store;
use crate::rows::{instant_text, parse_instant, parse_uuid};
use crate::users::{User, user_from_prefixed_row};
use parapheur_domain::Commune;

/// A live session, found by the hash of its cookie token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: Uuid,
    pub commune_id: Uuid,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Everything a request needs about who is calling, read in one query: the session, its
/// user and commune, and the commune's journal position (the register's version, which
/// read caches compare against).
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub session: Session,
    pub user: User,
    pub commune: Commune,
    /// Sequence number of the commune's last journal entry (0 before the first).
    pub journal_seq: i64,
}

impl Store {
    /// The live session behind a token hash with its user, commune and journal position.
    pub async fn session_context(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionContext>, StoreError> {
        let row = sqlx::query(
            "SELECT s.user_id, s.commune_id AS s_commune_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
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
             FROM sessions s
             JOIN users u ON u.id = s.user_id
             JOIN communes c ON c.id = s.commune_id
             LEFT JOIN journal_heads h ON h.commune_id = s.commune_id
             WHERE s.id_hash = $1 AND s.expires_at > $2",
        )
        .bind(id_hash.to_owned())
        .bind(instant_text(&now))
        .fetch_optional(self.reader())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SessionContext {
            session: Session {
                user_id: parse_uuid(&r.try_get::<String, _>("user_id")?)?,
                commune_id: parse_uuid(&r.try_get::<String, _>("s_commune_id")?)?,
                csrf_token: r.try_get("csrf_token")?,
                created_at: parse_instant(&r.try_get::<String, _>("created_at")?)?,
                last_seen_at: parse_instant(&r.try_get::<String, _>("last_seen_at")?)?,
                expires_at: parse_instant(&r.try_get::<String, _>("expires_at")?)?,
            },
            user: user_from_prefixed_row(&r, "u_")?,
            commune: commune_from_prefixed_row(&r, "c_")?,
            journal_seq: r.try_get("journal_seq")?,
        }))
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user: &User,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, commune_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(id_hash.to_owned())
        .bind(user.id.to_string())
        .bind(user.commune_id.to_string())
        .bind(csrf_token.to_owned())
        .bind(instant_text(&now))
        .bind(instant_text(&expires_at))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Slides the session's idle expiry forward.
    pub async fn touch_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3")
            .bind(instant_text(&now))
            .bind(instant_text(&expires_at))
            .bind(id_hash.to_owned())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends every session of a user (after a password change or reset).
    pub async fn delete_user_sessions(&self, user_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(instant_text(&now))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn create_password_reset(
        &self,
        token_hash: &str,
        user_id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash.to_owned())
        .bind(user_id.to_string())
        .bind(instant_text(&now))
        .bind(instant_text(&expires_at))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// How many password links were made for a user since `since` (to cap the emails a
    /// stranger can trigger with "mot de passe oublié").
    pub async fn password_resets_since(
        &self,
        user_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at >= $2",
        )
        .bind(user_id.to_string())
        .bind(instant_text(&since))
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Marks a reset token used and returns its user, if it is valid at `now` (once only).
    pub async fn consume_password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StoreError> {
        let row = sqlx::query(
            "UPDATE password_resets SET used_at = $1
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
             RETURNING user_id",
        )
        .bind(instant_text(&now))
        .bind(token_hash.to_owned())
        .fetch_optional(self.writer())
        .await?;
        row.map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
            .transpose()
    }
}
