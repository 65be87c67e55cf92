//! Communes (tenants).

use parapheur_domain::{ChronoFormat, Commune};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::{StoreError, is_unique_violation};
use crate::pool::Store;
use crate::rows::{instant_text, parse_uuid};
use crate::write::{WriteTx, new_entry};

fn commune_from_row(row: &AnyRow) -> Result<Commune, StoreError> {
    commune_from_prefixed_row(row, "")
}

/// Reads a commune from columns named with `prefix` (for queries that join several tables).
pub(crate) fn commune_from_prefixed_row(row: &AnyRow, prefix: &str) -> Result<Commune, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let pattern: String = row.try_get(&*col("chrono_format"))?;
    Ok(Commune {
        id: parse_uuid(&row.try_get::<String, _>(&*col("id"))?)?,
        insee: row.try_get(&*col("insee"))?,
        name: row.try_get(&*col("name"))?,
        siren: row.try_get(&*col("siren"))?,
        postal_code: row.try_get(&*col("postal_code"))?,
        departement: row.try_get(&*col("departement"))?,
        chrono_format: ChronoFormat::parse(&pattern).map_err(StoreError::corrupt)?,
        good_friday: row.try_get::<i64, _>(&*col("good_friday"))? != 0,
        header_logo: header_logo(
            row.try_get(&*col("logo_small_sha256"))?,
            row.try_get(&*col("logo_small_width"))?,
            row.try_get(&*col("logo_small_height"))?,
        ),
    })
}

/// The header's logo from its three columns (all set, or none).
fn header_logo(
    sha256: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
) -> Option<parapheur_domain::HeaderLogo> {
    Some(parapheur_domain::HeaderLogo {
        sha256: sha256?,
        width: u32::try_from(width?).ok()?,
        height: u32::try_from(height?).ok()?,
    })
}

/// What a commune prints on its letters and shows to citizens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommuneSettings {
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Free text under the logo on letters (services, opening hours…).
    pub letterhead: Option<String>,
    /// The logo in the file store, by content hash, and its media type.
    pub logo_sha256: Option<String>,
    pub logo_type: Option<String>,
    /// How to reach the commune's data protection officer (RGPD art. 13(1)(b), art. 37).
    pub dpo_contact: Option<String>,
    /// The logo's small rendition for the pages' header, made at upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_small: Option<parapheur_domain::HeaderLogo>,
}

/// One line of the host's list of communes: counts only, never their mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommuneSummary {
    pub commune: Commune,
    pub users: i64,
    pub items: i64,
}

impl Store {
    pub async fn commune_settings(&self, id: Uuid) -> Result<CommuneSettings, StoreError> {
        let row = sqlx::query(
            "SELECT address, phone, email, letterhead, logo_sha256, logo_type, dpo_contact,
                    logo_small_sha256, logo_small_width, logo_small_height
             FROM communes WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("commune"))?;
        settings_from_row(&row)
    }

    /// Every commune with its number of users and items, for the host administrator.
    pub async fn commune_summaries(&self) -> Result<Vec<CommuneSummary>, StoreError> {
        let mut out = Vec::new();
        for commune in self.communes().await? {
            let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM users WHERE commune_id = $1),
                        (SELECT COUNT(*) FROM items WHERE commune_id = $1)",
            )
            .bind(commune.id.to_string())
            .fetch_one(self.reader())
            .await?;
            out.push(CommuneSummary {
                users: row.try_get(0)?,
                items: row.try_get(1)?,
                commune,
            });
        }
        Ok(out)
    }

    pub async fn communes(&self) -> Result<Vec<Commune>, StoreError> {
        sqlx::query("SELECT * FROM communes ORDER BY insee")
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(commune_from_row)
            .collect()
    }

    pub async fn commune_by_insee(&self, insee: &str) -> Result<Option<Commune>, StoreError> {
        sqlx::query("SELECT * FROM communes WHERE insee = $1")
            .bind(insee.to_owned())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(commune_from_row)
            .transpose()
    }

    pub async fn commune(&self, id: Uuid) -> Result<Commune, StoreError> {
        sqlx::query("SELECT * FROM communes WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(commune_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("commune"))
    }

    /// The commune's file key, wrapped by the master key.
    pub async fn commune_wrapped_key(&self, id: Uuid) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT wrapped_key FROM communes WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::not_found("commune"))?;
        Ok(row.try_get(0)?)
    }
}

impl WriteTx {
    pub async fn insert_commune(
        &mut self,
        commune: &Commune,
        wrapped_key: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = instant_text(&self.now());
        let result = sqlx::query(
            "INSERT INTO communes (id, insee, name, siren, postal_code, departement,
                                   chrono_format, wrapped_key, created_at, good_friday)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(commune.id.to_string())
        .bind(commune.insee.clone())
        .bind(commune.name.clone())
        .bind(commune.siren.clone())
        .bind(commune.postal_code.clone())
        .bind(commune.departement.clone())
        .bind(commune.chrono_format.pattern().to_owned())
        .bind(wrapped_key.to_owned())
        .bind(now)
        .bind(i64::from(commune.good_friday))
        .execute(self.conn())
        .await;
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(format!(
                    "la commune {} ({})",
                    commune.name, commune.insee
                )));
            }
            other => other?,
        };
        let after = serde_json::to_string(commune).ok();
        self.journal(
            commune.id,
            new_entry(actor, "commune.created", "commune", commune.id, None, after),
        );
        Ok(())
    }

    pub async fn set_chrono_format(
        &mut self,
        commune: &Commune,
        format: &ChronoFormat,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE communes SET chrono_format = $1 WHERE id = $2")
            .bind(format.pattern().to_owned())
            .bind(commune.id.to_string())
            .execute(self.conn())
            .await?;
        self.journal(
            commune.id,
            new_entry(
                actor,
                "commune.chrono_format",
                "commune",
                commune.id,
                serde_json::to_string(commune.chrono_format.pattern()).ok(),
                serde_json::to_string(format.pattern()).ok(),
            ),
        );
        Ok(())
    }

    /// Alsace-Moselle: whether Good Friday is a holiday in this commune (L3134-13).
    pub async fn set_good_friday(
        &mut self,
        commune: &Commune,
        good_friday: bool,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE communes SET good_friday = $1 WHERE id = $2")
            .bind(i64::from(good_friday))
            .bind(commune.id.to_string())
            .execute(self.conn())
            .await?;
        self.journal(
            commune.id,
            new_entry(
                actor,
                "commune.good_friday",
                "commune",
                commune.id,
                serde_json::to_string(&commune.good_friday).ok(),
                serde_json::to_string(&good_friday).ok(),
            ),
        );
        Ok(())
    }

    pub async fn set_commune_settings(
        &mut self,
        commune_id: Uuid,
        before: &CommuneSettings,
        after: &CommuneSettings,
        actor: &str,
    ) -> Result<(), StoreError> {
        let current = self
            .lock_row("communes", "id", "id = $1", &[commune_id.to_string()])
            .await?
            .ok_or_else(|| StoreError::not_found("commune"))?;
        if settings_from_row(&current)? != *before {
            return Err(StoreError::Changed("la fiche de la commune".into()));
        }
        sqlx::query(
            "UPDATE communes SET address = $1, phone = $2, email = $3, letterhead = $4,
                                 logo_sha256 = $5, logo_type = $6, dpo_contact = $8,
                                 logo_small_sha256 = $9, logo_small_width = $10,
                                 logo_small_height = $11
             WHERE id = $7",
        )
        .bind(after.address.clone())
        .bind(after.phone.clone())
        .bind(after.email.clone())
        .bind(after.letterhead.clone())
        .bind(after.logo_sha256.clone())
        .bind(after.logo_type.clone())
        .bind(commune_id.to_string())
        .bind(after.dpo_contact.clone())
        .bind(after.logo_small.as_ref().map(|l| l.sha256.clone()))
        .bind(after.logo_small.as_ref().map(|l| i64::from(l.width)))
        .bind(after.logo_small.as_ref().map(|l| i64::from(l.height)))
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "commune.settings",
                "commune",
                commune_id,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }
}

fn settings_from_row(row: &sqlx::any::AnyRow) -> Result<CommuneSettings, StoreError> {
    Ok(CommuneSettings {
        address: row.try_get("address")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        letterhead: row.try_get("letterhead")?,
        logo_sha256: row.try_get("logo_sha256")?,
        logo_type: row.try_get("logo_type")?,
        dpo_contact: row.try_get("dpo_contact")?,
        logo_small: header_logo(
            row.try_get("logo_small_sha256")?,
            row.try_get("logo_small_width")?,
            row.try_get("logo_small_height")?,
        ),
    })
}
