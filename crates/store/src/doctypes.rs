//! Document types of a commune.

use parapheur_domain::{DocumentType, RetentionRule};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::{StoreError, is_unique_violation};
use crate::pool::Store;
use crate::rows::parse_code;
use crate::write::{WriteTx, new_entry};

fn doctype_from_row(row: &AnyRow) -> Result<DocumentType, StoreError> {
    let final_action: String = row.try_get("final_action")?;
    Ok(DocumentType {
        code: row.try_get("code")?,
        label: row.try_get("label")?,
        delay: parse_code(&row.try_get::<String, _>("delay")?)?,
        silence: parse_code(&row.try_get::<String, _>("silence")?)?,
        retention: RetentionRule {
            years: u32::try_from(row.try_get::<i64, _>("retention_years")?)
                .map_err(|_| StoreError::corrupt("durée de conservation"))?,
            final_action: serde_json::from_value(serde_json::Value::String(final_action))
                .map_err(|_| StoreError::corrupt("sort final"))?,
        },
        no_acknowledgement: row.try_get::<i64, _>("no_acknowledgement")? != 0,
    })
}

fn final_action_code(d: &DocumentType) -> String {
    serde_json::to_value(d.retention.final_action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Store {
    /// Every document type, retired ones included (with `false`), for the administration.
    pub async fn all_doctypes(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<(DocumentType, bool)>, StoreError> {
        sqlx::query("SELECT * FROM doctypes WHERE commune_id = $1 ORDER BY active DESC, label")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok((
                    doctype_from_row(row)?,
                    row.try_get::<i64, _>("active")? != 0,
                ))
            })
            .collect()
    }

    pub async fn doctypes(&self, commune_id: Uuid) -> Result<Vec<DocumentType>, StoreError> {
        sqlx::query("SELECT * FROM doctypes WHERE commune_id = $1 AND active = 1 ORDER BY label")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(doctype_from_row)
            .collect()
    }

    pub async fn doctype(
        &self,
        commune_id: Uuid,
        code: &str,
    ) -> Result<Option<DocumentType>, StoreError> {
        sqlx::query("SELECT * FROM doctypes WHERE commune_id = $1 AND code = $2")
            .bind(commune_id.to_string())
            .bind(code.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(doctype_from_row)
            .transpose()
    }
}

impl WriteTx {
    pub async fn insert_doctype(
        &mut self,
        commune_id: Uuid,
        d: &DocumentType,
        actor: &str,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO doctypes (commune_id, code, label, delay, silence, retention_years,
                                   final_action, no_acknowledgement, active, retention_start)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)",
        )
        .bind(commune_id.to_string())
        .bind(d.code.clone())
        .bind(d.label.clone())
        .bind(d.delay.to_string())
        .bind(d.silence.code())
        .bind(i64::from(d.retention.years))
        .bind(final_action_code(d))
        .bind(i64::from(d.no_acknowledgement))
        .bind(parapheur_domain::retention::default_start(&d.code).code())
        .execute(self.conn())
        .await;
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(format!(
                    "le type de document « {} »",
                    d.code
                )));
            }
            other => other?,
        };
        self.journal(
            commune_id,
            new_entry(
                actor,
                "doctype.added",
                "doctype",
                &d.code,
                None,
                serde_json::to_string(d).ok(),
            ),
        );
        Ok(())
    }

    /// Reads a document type inside the transaction (to compute an item's deadlines).
    pub async fn doctype(
        &mut self,
        commune_id: Uuid,
        code: &str,
    ) -> Result<Option<DocumentType>, StoreError> {
        sqlx::query("SELECT * FROM doctypes WHERE commune_id = $1 AND code = $2 AND active = 1")
            .bind(commune_id.to_string())
            .bind(code.to_owned())
            .fetch_optional(self.conn())
            .await?
            .as_ref()
            .map(doctype_from_row)
            .transpose()
    }

    /// Changes a document type (its code stays: items and imports refer to it). Items
    /// already registered keep the deadlines computed when they arrived.
    pub async fn update_doctype(
        &mut self,
        commune_id: Uuid,
        before: &DocumentType,
        after: &DocumentType,
        active: bool,
        actor: &str,
    ) -> Result<(), StoreError> {
        let current = self
            .lock_row(
                "doctypes",
                "code",
                "commune_id = $1 AND code = $2",
                &[commune_id.to_string(), before.code.clone()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("type de document"))?;
        if doctype_from_row(&current)? != *before {
            return Err(StoreError::Changed("ce type de document".into()));
        }
        sqlx::query(
            "UPDATE doctypes SET label = $1, delay = $2, silence = $3, retention_years = $4,
                                 final_action = $5, no_acknowledgement = $6, active = $7
             WHERE commune_id = $8 AND code = $9",
        )
        .bind(after.label.clone())
        .bind(after.delay.to_string())
        .bind(after.silence.code())
        .bind(i64::from(after.retention.years))
        .bind(final_action_code(after))
        .bind(i64::from(after.no_acknowledgement))
        .bind(i64::from(active))
        .bind(commune_id.to_string())
        .bind(before.code.clone())
        .execute(self.conn())
        .await?;
        #[derive(serde::Serialize)]
        struct State<'a> {
            #[serde(flatten)]
            doctype: &'a DocumentType,
            active: bool,
        }
        self.journal(
            commune_id,
            new_entry(
                actor,
                "doctype.updated",
                "doctype",
                &before.code,
                serde_json::to_string(before).ok(),
                serde_json::to_string(&State {
                    doctype: after,
                    active,
                })
                .ok(),
            ),
        );
        Ok(())
    }
}
