//! Users of a commune and their roles.

use parapheur_domain::Role;
use parapheur_domain::french::sort_key;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::{StoreError, is_unique_violation};
use crate::pool::Store;
use crate::rows::{instant_text, parse_code, parse_opt_uuid, parse_uuid};
use crate::write::{WriteTx, new_entry};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub email: String,
    pub display_name: String,
    /// "Maire", "1re adjointe", "Secrétaire de mairie"…
    pub title: Option<String>,
    pub role: Role,
    pub service_id: Option<Uuid>,
    pub active: bool,
    /// Manages the communes of this installation (creates them, names their first
    /// administrator); never reads another commune's mail.
    #[serde(default)]
    pub host_admin: bool,
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    user_from_prefixed_row(row, "")
}

/// Reads a user from columns named with `prefix` (for queries that join several tables).
pub(crate) fn user_from_prefixed_row(row: &AnyRow, prefix: &str) -> Result<User, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(User {
        id: parse_uuid(&row.try_get::<String, _>(&*col("id"))?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>(&*col("commune_id"))?)?,
        email: row.try_get(&*col("email"))?,
        display_name: row.try_get(&*col("display_name"))?,
        title: row.try_get(&*col("title"))?,
        role: parse_code(&row.try_get::<String, _>(&*col("role"))?)?,
        service_id: parse_opt_uuid(row.try_get(&*col("service_id"))?)?,
        active: row.try_get::<i64, _>(&*col("active"))? != 0,
        host_admin: row.try_get::<i64, _>(&*col("host_admin"))? != 0,
    })
}

impl Store {
    pub async fn users(&self, commune_id: Uuid) -> Result<Vec<User>, StoreError> {
        let mut users = sqlx::query("SELECT * FROM users WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // In French order ("Élodie" among the E), which neither database's byte order is.
        users.sort_by_cached_key(|u| sort_key(&u.display_name));
        Ok(users)
    }

    pub async fn user_by_email(
        &self,
        commune_id: Uuid,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        sqlx::query("SELECT * FROM users WHERE commune_id = $1 AND email = $2")
            .bind(commune_id.to_string())
            .bind(email.trim().to_lowercase())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    /// Active users with this email in any commune (one person may serve several).
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        sqlx::query("SELECT * FROM users WHERE email = $1 AND active = 1 ORDER BY created_at")
            .bind(email.trim().to_lowercase())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    pub async fn user(&self, id: Uuid) -> Result<User, StoreError> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("utilisateur"))
    }

    /// The stored argon2id hash (PHC string) of a user's password, if one is set.
    pub async fn password_hash(&self, user_id: Uuid) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::not_found("utilisateur"))?;
        Ok(row.try_get(0)?)
    }
}

impl WriteTx {
    /// Replaces a user's password hash (argon2id PHC string), journaling the fact, not the hash.
    pub async fn set_password_hash(
        &mut self,
        user: &User,
        password_hash: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash.to_owned())
            .bind(user.id.to_string())
            .execute(self.conn())
            .await?;
        self.journal(
            user.commune_id,
            new_entry(actor, "user.password_changed", "user", user.id, None, None),
        );
        Ok(())
    }

    /// Adds a user; `password_hash` is already an argon2id PHC string (never a password).
    pub async fn insert_user(
        &mut self,
        user: &User,
        password_hash: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (id, commune_id, email, display_name, title, role, service_id,
                                password_hash, active, created_at, host_admin)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(user.id.to_string())
        .bind(user.commune_id.to_string())
        .bind(user.email.trim().to_lowercase())
        .bind(user.display_name.clone())
        .bind(user.title.clone())
        .bind(user.role.code())
        .bind(user.service_id.map(|s| s.to_string()))
        .bind(password_hash.map(str::to_owned))
        .bind(i64::from(user.active))
        .bind(instant_text(&self.now()))
        .bind(i64::from(user.host_admin))
        .execute(self.conn())
        .await;
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(format!(
                    "l'utilisateur {}",
                    user.email
                )));
            }
            other => other?,
        };
        // The journal records who exists and their role, never the password hash.
        self.journal(
            user.commune_id,
            new_entry(
                actor,
                "user.created",
                "user",
                user.id,
                None,
                serde_json::to_string(user).ok(),
            ),
        );
        Ok(())
    }

    /// Changes a user's name, title, role, service, host rights or activity (never the
    /// email, which identifies the account, nor the password).
    pub async fn update_user(
        &mut self,
        before: &User,
        after: &User,
        actor: &str,
    ) -> Result<(), StoreError> {
        let current = self
            .lock_row(
                "users",
                "id",
                "id = $1 AND commune_id = $2",
                &[before.id.to_string(), before.commune_id.to_string()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("utilisateur"))?;
        if user_from_row(&current)? != *before {
            return Err(StoreError::Changed("ce compte".into()));
        }
        sqlx::query(
            "UPDATE users SET display_name = $1, title = $2, role = $3, service_id = $4,
                              active = $5, host_admin = $6
             WHERE id = $7 AND commune_id = $8",
        )
        .bind(after.display_name.clone())
        .bind(after.title.clone())
        .bind(after.role.code())
        .bind(after.service_id.map(|s| s.to_string()))
        .bind(i64::from(after.active))
        .bind(i64::from(after.host_admin))
        .bind(before.id.to_string())
        .bind(before.commune_id.to_string())
        .execute(self.conn())
        .await?;
        if !after.active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(before.id.to_string())
                .execute(self.conn())
                .await?;
        }
        self.journal(
            before.commune_id,
            new_entry(
                actor,
                "user.updated",
                "user",
                before.id,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }

    /// Active administrators of a commune, read inside the transaction (the last one may
    /// not be removed).
    pub async fn active_administrators(&mut self, commune_id: Uuid) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM users WHERE commune_id = $1 AND role = 'administrateur' AND active = 1",
        )
        .bind(commune_id.to_string())
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get(0)?)
    }
}

/// A person's second factor as stored: sealed secrets (opened by the application with the
/// commune's key) and the last time step a code was accepted for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondFactor {
    pub sealed: Option<String>,
    pub pending_sealed: Option<String>,
    pub last_step: i64,
}

impl Store {
    pub async fn second_factor(&self, user_id: Uuid) -> Result<SecondFactor, StoreError> {
        let row = sqlx::query(
            "SELECT totp_sealed, totp_pending_sealed, totp_last_step FROM users WHERE id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("utilisateur"))?;
        Ok(SecondFactor {
            sealed: row.try_get("totp_sealed")?,
            pending_sealed: row.try_get("totp_pending_sealed")?,
            last_step: row.try_get("totp_last_step")?,
        })
    }

    /// Keeps a secret shown to its owner until a code confirms it (not journaled: nothing
    /// changes until then).
    pub async fn set_pending_second_factor(
        &self,
        user_id: Uuid,
        sealed: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET totp_pending_sealed = $1 WHERE id = $2")
            .bind(sealed.to_owned())
            .bind(user_id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }
}

impl WriteTx {
    /// Records that a code of time step `step` was used: true the first time only, so a
    /// code seen by someone else (over a shoulder, in a proxy's log) cannot be replayed.
    pub async fn use_second_factor_step(
        &mut self,
        user_id: Uuid,
        step: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(user_id.to_string())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes the pending secret the person's second factor (journaled, without the secret).
    pub async fn confirm_second_factor(
        &mut self,
        user: &User,
        sealed: &str,
        step: i64,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET totp_sealed = $1, totp_pending_sealed = NULL, totp_last_step = $2
             WHERE id = $3",
        )
        .bind(sealed.to_owned())
        .bind(step)
        .bind(user.id.to_string())
        .execute(self.conn())
        .await?;
        self.journal(
            user.commune_id,
            new_entry(
                actor,
                "user.second_factor.enrolled",
                "user",
                user.id,
                None,
                Some(r#"{"second_factor":"totp"}"#.to_owned()),
            ),
        );
        Ok(())
    }

    /// Removes a person's second factor (an administrator's reset), journaled.
    pub async fn reset_second_factor(
        &mut self,
        user: &User,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET totp_sealed = NULL, totp_pending_sealed = NULL WHERE id = $1",
        )
        .bind(user.id.to_string())
        .execute(self.conn())
        .await?;
        self.journal(
            user.commune_id,
            new_entry(
                actor,
                "user.second_factor.reset",
                "user",
                user.id,
                Some(r#"{"second_factor":"totp"}"#.to_owned()),
                None,
            ),
        );
        Ok(())
    }
}
