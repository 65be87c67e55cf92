//! Services of a commune (accueil, urbanisme, état civil…).

use parapheur_domain::french::sort_key;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

use crate::error::{StoreError, is_unique_violation};
use crate::pool::Store;
use crate::rows::parse_uuid;
use crate::write::{WriteTx, new_entry};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// A retired service keeps its items and history but takes no new mail.
    pub active: bool,
}

impl Store {
    pub async fn services(&self, commune_id: Uuid) -> Result<Vec<Service>, StoreError> {
        let mut services = sqlx::query("SELECT * FROM services WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| service_from_row(row, commune_id))
            .collect::<Result<Vec<_>, _>>()?;
        // In French order ("État civil" among the E), which neither database's byte order is.
        services.sort_by_cached_key(|s| (!s.active, sort_key(&s.name)));
        Ok(services)
    }
}

impl WriteTx {
    pub async fn insert_service(&mut self, s: &Service, actor: &str) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO services (id, commune_id, code, name, email, phone, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id.to_string())
        .bind(s.commune_id.to_string())
        .bind(s.code.clone())
        .bind(s.name.clone())
        .bind(s.email.clone())
        .bind(s.phone.clone())
        .bind(i64::from(s.active))
        .execute(self.conn())
        .await;
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(format!("le service {}", s.code)));
            }
            other => other?,
        };
        self.journal(
            s.commune_id,
            new_entry(
                actor,
                "service.created",
                "service",
                s.id,
                None,
                serde_json::to_string(s).ok(),
            ),
        );
        Ok(())
    }

    /// Renames a service, changes its contact details or retires it (its code stays).
    pub async fn update_service(
        &mut self,
        before: &Service,
        after: &Service,
        actor: &str,
    ) -> Result<(), StoreError> {
        let current = self
            .lock_row(
                "services",
                "id",
                "id = $1 AND commune_id = $2",
                &[before.id.to_string(), before.commune_id.to_string()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("service"))?;
        if service_from_row(&current, before.commune_id)? != *before {
            return Err(StoreError::Changed("ce service".into()));
        }
        sqlx::query(
            "UPDATE services SET name = $1, email = $2, phone = $3, active = $4
             WHERE id = $5 AND commune_id = $6",
        )
        .bind(after.name.clone())
        .bind(after.email.clone())
        .bind(after.phone.clone())
        .bind(i64::from(after.active))
        .bind(before.id.to_string())
        .bind(before.commune_id.to_string())
        .execute(self.conn())
        .await?;
        self.journal(
            before.commune_id,
            new_entry(
                actor,
                "service.updated",
                "service",
                before.id,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }
}

fn service_from_row(row: &sqlx::any::AnyRow, commune_id: Uuid) -> Result<Service, StoreError> {
    Ok(Service {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}
