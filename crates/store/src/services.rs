//! Services of a commune (accueil, urbanisme, état civil…).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

use crate::error::{StoreError, is_unique_violation};
use crate::pool::{Store, WriteTx, new_entry};
use crate::rows::parse_uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Store {
    pub async fn services(&self, commune_id: Uuid) -> Result<Vec<Service>, StoreError> {
        sqlx::query("SELECT * FROM services WHERE commune_id = $1 ORDER BY name")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(Service {
                    id: parse_uuid(&row.try_get::<String, _>("id")?)?,
                    commune_id,
                    code: row.try_get("code")?,
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                    phone: row.try_get("phone")?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    pub async fn insert_service(&mut self, s: &Service, actor: &str) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO services (id, commune_id, code, name, email, phone)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.to_string())
        .bind(s.commune_id.to_string())
        .bind(s.code.clone())
        .bind(s.name.clone())
        .bind(s.email.clone())
        .bind(s.phone.clone())
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
}
