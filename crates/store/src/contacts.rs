//! Contacts and likely duplicates.

use parapheur_domain::contact::{Contact, ContactKind, NewContact};
use parapheur_domain::french::sort_key;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Store;
use crate::rows::{instant_text, parse_uuid};
use crate::write::{WriteTx, new_entry};

pub(crate) fn contact_from_row(row: &AnyRow) -> Result<Contact, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(Contact {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        kind: ContactKind::parse(&kind).ok_or_else(|| StoreError::corrupt("type de contact"))?,
        civility: row.try_get("civility")?,
        first_name: row.try_get("first_name")?,
        name: row.try_get("name")?,
        organisation: row.try_get("organisation")?,
        address: row.try_get("address")?,
        postal_code: row.try_get("postal_code")?,
        city: row.try_get("city")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        siret: row.try_get("siret")?,
    })
}

impl Store {
    pub async fn contact(&self, commune_id: Uuid, id: Uuid) -> Result<Contact, StoreError> {
        sqlx::query("SELECT * FROM contacts WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(contact_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("contact"))
    }

    /// Contacts whose name, first name, organisation or email contains each word of `q`,
    /// in any order ("Martin Jeanne" finds Jeanne Martin), in French order of names.
    pub async fn search_contacts(
        &self,
        commune_id: Uuid,
        q: &str,
        limit: i64,
    ) -> Result<Vec<Contact>, StoreError> {
        // Four words are enough to find anyone; a slot without a word matches everything.
        let mut words = q
            .split_whitespace()
            .map(|w| format!("%{}%", w.to_lowercase()));
        let mut slot = || words.next().unwrap_or_else(|| "%".to_owned());
        let mut contacts = sqlx::query(
            "SELECT * FROM contacts WHERE commune_id = $1 AND merged_into IS NULL
               AND restricted_at IS NULL AND erased_at IS NULL
               AND (lower(name) LIKE $3 OR lower(coalesce(first_name, '')) LIKE $3
                    OR lower(coalesce(organisation, '')) LIKE $3 OR coalesce(email_key, '') LIKE $3)
               AND (lower(name) LIKE $4 OR lower(coalesce(first_name, '')) LIKE $4
                    OR lower(coalesce(organisation, '')) LIKE $4 OR coalesce(email_key, '') LIKE $4)
               AND (lower(name) LIKE $5 OR lower(coalesce(first_name, '')) LIKE $5
                    OR lower(coalesce(organisation, '')) LIKE $5 OR coalesce(email_key, '') LIKE $5)
               AND (lower(name) LIKE $6 OR lower(coalesce(first_name, '')) LIKE $6
                    OR lower(coalesce(organisation, '')) LIKE $6 OR coalesce(email_key, '') LIKE $6)
             ORDER BY name, first_name LIMIT $2",
        )
        .bind(commune_id.to_string())
        .bind(limit)
        .bind(slot())
        .bind(slot())
        .bind(slot())
        .bind(slot())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(contact_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        // Byte order puts "Étienne" after "Zola": the page shows French order.
        contacts.sort_by_cached_key(|c| {
            (
                sort_key(&c.name),
                sort_key(c.first_name.as_deref().unwrap_or("")),
            )
        });
        Ok(contacts)
    }

    /// A page of the directory in creation order (ids are time-ordered), after the contact
    /// `after`; `q` as in [`Store::search_contacts`] (every word somewhere in the name,
    /// first name, organisation or email). Merged, restricted and erased contacts are left
    /// out, as from the directory.
    pub async fn contacts_page(
        &self,
        commune_id: Uuid,
        q: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Contact>, StoreError> {
        let mut words = q
            .split_whitespace()
            .map(|w| format!("%{}%", w.to_lowercase()));
        let mut slot = || words.next().unwrap_or_else(|| "%".to_owned());
        sqlx::query(
            "SELECT * FROM contacts WHERE commune_id = $1 AND merged_into IS NULL
               AND restricted_at IS NULL AND erased_at IS NULL AND id > $3
               AND (lower(name) LIKE $4 OR lower(coalesce(first_name, '')) LIKE $4
                    OR lower(coalesce(organisation, '')) LIKE $4 OR coalesce(email_key, '') LIKE $4)
               AND (lower(name) LIKE $5 OR lower(coalesce(first_name, '')) LIKE $5
                    OR lower(coalesce(organisation, '')) LIKE $5 OR coalesce(email_key, '') LIKE $5)
               AND (lower(name) LIKE $6 OR lower(coalesce(first_name, '')) LIKE $6
                    OR lower(coalesce(organisation, '')) LIKE $6 OR coalesce(email_key, '') LIKE $6)
               AND (lower(name) LIKE $7 OR lower(coalesce(first_name, '')) LIKE $7
                    OR lower(coalesce(organisation, '')) LIKE $7 OR coalesce(email_key, '') LIKE $7)
             ORDER BY id LIMIT $2",
        )
        .bind(commune_id.to_string())
        .bind(limit)
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(slot())
        .bind(slot())
        .bind(slot())
        .bind(slot())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(contact_from_row)
        .collect()
    }

    /// Existing contacts that are probably the same as `candidate`: same email, same phone,
    /// or same name and address once folded.
    pub async fn likely_duplicates(
        &self,
        commune_id: Uuid,
        candidate: &NewContact,
    ) -> Result<Vec<Contact>, StoreError> {
        let keys = candidate.duplicate_keys();
        sqlx::query(
            "SELECT * FROM contacts WHERE commune_id = $1 AND merged_into IS NULL
               AND (email_key = $2 OR phone_key = $3 OR name_address_key = $4)
             ORDER BY created_at LIMIT 20",
        )
        .bind(commune_id.to_string())
        .bind(keys.email)
        .bind(keys.phone)
        .bind(keys.name_address)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(contact_from_row)
        .collect()
    }

    pub async fn contact_count(&self, commune_id: Uuid) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM contacts WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get(0)?)
    }
}

impl Store {
    /// The contact this one was merged into, if any.
    pub async fn contact_merged_into(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Uuid>, StoreError> {
        let row = sqlx::query("SELECT merged_into FROM contacts WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(r) => r
                .try_get::<Option<String>, _>(0)?
                .as_deref()
                .map(parse_uuid)
                .transpose(),
            None => Err(StoreError::not_found("contact")),
        }
    }

    /// The items a contact sent or received, newest first.
    pub async fn contact_item_ids(
        &self,
        commune_id: Uuid,
        contact_id: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT i.id, i.registered_at FROM items i JOIN item_contacts ic ON ic.item_id = i.id
             WHERE i.commune_id = $1 AND ic.contact_id = $2 ORDER BY i.registered_at DESC LIMIT 200",
        )
        .bind(commune_id.to_string())
        .bind(contact_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
        .collect()
    }
}

impl WriteTx {
    /// Merges `duplicate` into `keep`: its items now name `keep`, and it is marked merged
    /// (kept, never deleted, so the history still reads).
    pub async fn merge_contact(
        &mut self,
        commune_id: Uuid,
        keep: Uuid,
        duplicate: Uuid,
        actor: &str,
    ) -> Result<(), StoreError> {
        if keep == duplicate {
            return Err(StoreError::Invalid(
                "un contact ne peut être fusionné avec lui-même".into(),
            ));
        }
        // Both rows locked (in a fixed order, so two merges of the same pair cannot
        // deadlock) before they are read: of two concurrent merges of one contact, the
        // second sees the first's result and is refused, never a cycle or a lost merge.
        let mut pair = [keep, duplicate];
        pair.sort();
        for id in pair {
            let row = self
                .lock_row(
                    "contacts",
                    "merged_into",
                    "commune_id = $1 AND id = $2",
                    &[commune_id.to_string(), id.to_string()],
                )
                .await?
                .ok_or_else(|| StoreError::not_found("contact"))?;
            // Another commune's contact is "not found" above; one of ours already merged
            // (two people merging at once) is said plainly.
            if row.try_get::<Option<String>, _>("merged_into")?.is_some() {
                return Err(StoreError::Invalid(
                    "ce contact a déjà été fusionné avec un autre".into(),
                ));
            }
        }
        // Items already naming both keep one line for `keep`.
        sqlx::query(
            "DELETE FROM item_contacts WHERE contact_id = $1 AND EXISTS (
                SELECT 1 FROM item_contacts k WHERE k.item_id = item_contacts.item_id
                AND k.role = item_contacts.role AND k.contact_id = $2)",
        )
        .bind(duplicate.to_string())
        .bind(keep.to_string())
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE item_contacts SET contact_id = $1 WHERE contact_id = $2")
            .bind(keep.to_string())
            .bind(duplicate.to_string())
            .execute(self.conn())
            .await?;
        sqlx::query("UPDATE contacts SET merged_into = $1, updated_at = $2 WHERE id = $3")
            .bind(keep.to_string())
            .bind(instant_text(&self.now()))
            .bind(duplicate.to_string())
            .execute(self.conn())
            .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "contact.merged",
                "contact",
                duplicate,
                None,
                serde_json::to_string(&serde_json::json!({ "merged_into": keep })).ok(),
            ),
        );
        Ok(())
    }

    pub async fn insert_contact(
        &mut self,
        commune_id: Uuid,
        new: &NewContact,
        actor: &str,
    ) -> Result<Contact, StoreError> {
        new.validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let keys = new.duplicate_keys();
        let kind = new.kind.unwrap_or(if new.first_name.is_some() {
            ContactKind::Person
        } else {
            ContactKind::Organisation
        });
        let contact = Contact {
            id: Uuid::now_v7(),
            commune_id,
            kind,
            civility: new.civility.clone(),
            first_name: new.first_name.clone(),
            name: new.name.trim().to_owned(),
            organisation: new.organisation.clone(),
            address: new.address.clone(),
            postal_code: new.postal_code.clone(),
            city: new.city.clone(),
            email: new.email.as_deref().map(str::trim).map(str::to_owned),
            phone: new.phone.clone(),
            siret: new.siret.clone(),
        };
        let now = instant_text(&self.now());
        sqlx::query(
            "INSERT INTO contacts (id, commune_id, kind, civility, first_name, name, organisation,
                 address, postal_code, city, email, phone, siret, email_key, phone_key,
                 name_address_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
        )
        .bind(contact.id.to_string())
        .bind(commune_id.to_string())
        .bind(kind.code())
        .bind(contact.civility.clone())
        .bind(contact.first_name.clone())
        .bind(contact.name.clone())
        .bind(contact.organisation.clone())
        .bind(contact.address.clone())
        .bind(contact.postal_code.clone())
        .bind(contact.city.clone())
        .bind(contact.email.clone())
        .bind(contact.phone.clone())
        .bind(contact.siret.clone())
        .bind(keys.email)
        .bind(keys.phone)
        .bind(keys.name_address)
        .bind(now)
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "contact.created",
                "contact",
                contact.id,
                None,
                serde_json::to_string(&contact).ok(),
            ),
        );
        Ok(contact)
    }

    /// Checks that every id names a live contact of this commune (never another's).
    pub async fn check_contacts(
        &mut self,
        commune_id: Uuid,
        ids: &[Uuid],
    ) -> Result<(), StoreError> {
        for id in ids {
            let found = sqlx::query("SELECT 1 FROM contacts WHERE commune_id = $1 AND id = $2")
                .bind(commune_id.to_string())
                .bind(id.to_string())
                .fetch_optional(self.conn())
                .await?;
            if found.is_none() {
                return Err(StoreError::not_found(format!("le contact {id}")));
            }
        }
        Ok(())
    }
}

/// One opening of a contact's file (RGPD accountability): who, when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonalDataView {
    pub user_id: Option<Uuid>,
    pub viewed_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Records that `user_id` opened the file of `contact_id` (outside the journal: a view
    /// changes nothing, see migration 0012).
    pub async fn record_personal_data_view(
        &self,
        commune_id: Uuid,
        contact_id: Uuid,
        user_id: Option<Uuid>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO personal_data_views (id, commune_id, contact_id, user_id, viewed_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(commune_id.to_string())
        .bind(contact_id.to_string())
        .bind(user_id.map(|u| u.to_string()))
        .bind(crate::rows::instant_text(&at))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The latest openings of a contact's file, newest first.
    pub async fn personal_data_views(
        &self,
        commune_id: Uuid,
        contact_id: Uuid,
        limit: i64,
    ) -> Result<Vec<PersonalDataView>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, viewed_at FROM personal_data_views
             WHERE commune_id = $1 AND contact_id = $2
             ORDER BY viewed_at DESC, id DESC LIMIT $3",
        )
        .bind(commune_id.to_string())
        .bind(contact_id.to_string())
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PersonalDataView {
                    user_id: crate::rows::parse_opt_uuid(r.try_get("user_id")?)?,
                    viewed_at: crate::rows::parse_instant(&r.try_get::<String, _>("viewed_at")?)?,
                })
            })
            .collect()
    }
}

/// Where a contact stands with the data subject's rights (RGPD art. 17 and 18).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContactRights {
    /// Processing restricted since (art. 18): hidden from the directory.
    pub restricted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Pseudonymised since (art. 17): the fields hold a pseudonym only.
    pub erased_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One item naming a contact, and as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRole {
    pub item_id: Uuid,
    /// `sender` or `recipient`.
    pub role: String,
}

impl Store {
    pub async fn contact_rights(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<ContactRights, StoreError> {
        let row = sqlx::query(
            "SELECT restricted_at, erased_at FROM contacts WHERE commune_id = $1 AND id = $2",
        )
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("contact"))?;
        let instant = |c: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
            row.try_get::<Option<String>, _>(c)?
                .as_deref()
                .map(crate::rows::parse_instant)
                .transpose()
        };
        Ok(ContactRights {
            restricted_at: instant("restricted_at")?,
            erased_at: instant("erased_at")?,
        })
    }

    /// Every item naming a contact (all of them: a subject-access export or an erasure
    /// must not stop at a page), in register order.
    pub async fn contact_roles(
        &self,
        commune_id: Uuid,
        contact_id: Uuid,
    ) -> Result<Vec<ContactRole>, StoreError> {
        sqlx::query(
            "SELECT ic.item_id, ic.role FROM item_contacts ic JOIN items i ON i.id = ic.item_id
             WHERE i.commune_id = $1 AND ic.contact_id = $2
             ORDER BY i.registered_at, i.id, ic.role",
        )
        .bind(commune_id.to_string())
        .bind(contact_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| {
            Ok(ContactRole {
                item_id: parse_uuid(&r.try_get::<String, _>(0)?)?,
                role: r.try_get(1)?,
            })
        })
        .collect()
    }

    /// The contacts merged into this one (their records are the same person's).
    pub async fn contacts_merged_into(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<Vec<Contact>, StoreError> {
        sqlx::query("SELECT * FROM contacts WHERE commune_id = $1 AND merged_into = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(contact_from_row)
            .collect()
    }
}

impl WriteTx {
    /// Locks a live contact of this commune and reads it.
    async fn contact_for_update(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<Contact, StoreError> {
        let row = self
            .lock_row(
                "contacts",
                "updated_at",
                "commune_id = $1 AND id = $2",
                &[commune_id.to_string(), id.to_string()],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("contact"))?;
        contact_from_row(&row)
    }

    /// Rectifies a contact (RGPD art. 16): its fields become `new`'s, and the journal keeps
    /// the record before and after, who and when.
    pub async fn rectify_contact(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        new: &NewContact,
        actor: &str,
    ) -> Result<(Contact, Contact), StoreError> {
        new.validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let before = self.contact_for_update(commune_id, id).await?;
        let after = Contact {
            kind: new.kind.unwrap_or(before.kind),
            civility: new.civility.clone(),
            first_name: new.first_name.clone(),
            name: new.name.trim().to_owned(),
            organisation: new.organisation.clone(),
            address: new.address.clone(),
            postal_code: new.postal_code.clone(),
            city: new.city.clone(),
            email: new.email.as_deref().map(str::trim).map(str::to_owned),
            phone: new.phone.clone(),
            siret: new.siret.clone(),
            ..before.clone()
        };
        self.write_contact(&after).await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "contact.rectified",
                "contact",
                id,
                serde_json::to_string(&before).ok(),
                serde_json::to_string(&after).ok(),
            ),
        );
        Ok((before, after))
    }

    /// Replaces every field of a contact that identifies a person by `pseudonym` or nothing
    /// (RGPD art. 17, where the archives law allows it). History is not rewritten: the
    /// journal records the pseudonymisation and which fields it emptied, not their values.
    pub async fn pseudonymise_contact(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        pseudonym: &str,
        actor: &str,
    ) -> Result<Contact, StoreError> {
        let before = self.contact_for_update(commune_id, id).await?;
        let after = Contact {
            id: before.id,
            commune_id,
            kind: before.kind,
            civility: None,
            first_name: None,
            name: pseudonym.to_owned(),
            organisation: None,
            address: None,
            postal_code: None,
            city: None,
            email: None,
            phone: None,
            siret: None,
        };
        self.write_contact(&after).await?;
        sqlx::query("UPDATE contacts SET erased_at = $1 WHERE id = $2")
            .bind(instant_text(&self.now()))
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        // The phone system's log keeps the call (when, who answered), not the person's number.
        let calls = sqlx::query(
            "UPDATE calls SET caller_number = NULL,
                 from_number = CASE WHEN direction = 'in' THEN '' ELSE from_number END,
                 to_number = CASE WHEN direction = 'out' THEN '' ELSE to_number END
             WHERE commune_id = $1 AND contact_id = $2",
        )
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .execute(self.conn())
        .await?
        .rows_affected();
        let emptied: Vec<&str> = [
            ("civility", before.civility.is_some()),
            ("first_name", before.first_name.is_some()),
            ("name", true),
            ("organisation", before.organisation.is_some()),
            ("address", before.address.is_some()),
            ("postal_code", before.postal_code.is_some()),
            ("city", before.city.is_some()),
            ("email", before.email.is_some()),
            ("phone", before.phone.is_some()),
            ("siret", before.siret.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, had)| had.then_some(field))
        .collect();
        self.journal(
            commune_id,
            new_entry(
                actor,
                "contact.pseudonymised",
                "contact",
                id,
                serde_json::to_string(&serde_json::json!({ "emptied": emptied, "calls": calls }))
                    .ok(),
                serde_json::to_string(&after).ok(),
            ),
        );
        Ok(after)
    }

    /// Restricts the processing of a contact (RGPD art. 18) or lifts the restriction.
    pub async fn restrict_contact(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        restricted: bool,
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.contact_for_update(commune_id, id).await?;
        let now = instant_text(&self.now());
        sqlx::query("UPDATE contacts SET restricted_at = $1, updated_at = $2 WHERE id = $3")
            .bind(restricted.then(|| now.clone()))
            .bind(now)
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                if restricted {
                    "contact.restricted"
                } else {
                    "contact.restriction_lifted"
                },
                "contact",
                id,
                None,
                serde_json::to_string(&serde_json::json!({ "reason": reason })).ok(),
            ),
        );
        Ok(())
    }

    /// Journals a decision on a request about a contact that changes nothing (an erasure
    /// refused, a subject-access export), with what was decided and why.
    pub fn journal_contact_decision(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        action: &str,
        detail: &serde_json::Value,
        actor: &str,
    ) {
        self.journal(
            commune_id,
            new_entry(
                actor,
                action,
                "contact",
                id,
                None,
                serde_json::to_string(detail).ok(),
            ),
        );
    }

    async fn write_contact(&mut self, c: &Contact) -> Result<(), StoreError> {
        let keys = NewContact {
            first_name: c.first_name.clone(),
            name: c.name.clone(),
            address: c.address.clone(),
            postal_code: c.postal_code.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            ..Default::default()
        }
        .duplicate_keys();
        sqlx::query(
            "UPDATE contacts SET kind = $1, civility = $2, first_name = $3, name = $4,
                 organisation = $5, address = $6, postal_code = $7, city = $8, email = $9,
                 phone = $10, siret = $11, email_key = $12, phone_key = $13,
                 name_address_key = $14, updated_at = $15
             WHERE id = $16",
        )
        .bind(c.kind.code())
        .bind(c.civility.clone())
        .bind(c.first_name.clone())
        .bind(c.name.clone())
        .bind(c.organisation.clone())
        .bind(c.address.clone())
        .bind(c.postal_code.clone())
        .bind(c.city.clone())
        .bind(c.email.clone())
        .bind(c.phone.clone())
        .bind(c.siret.clone())
        .bind(keys.email)
        .bind(keys.phone)
        .bind(keys.name_address)
        .bind(instant_text(&self.now()))
        .bind(c.id.to_string())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
