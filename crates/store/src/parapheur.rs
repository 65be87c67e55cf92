//! The parapheur's rows: letters (folders) and their circuits, circuit templates,
//! delegations and signing keys. The circuit itself is domain data kept as versioned JSON;
//! this module only stores it, under an optimistic version so two actions never both land.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Store;
use crate::rows::{date_text, instant_text, parse_date, parse_instant, parse_opt_uuid, parse_uuid};
use crate::write::{WriteTx, new_entry};

/// Where a letter is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderState {
    /// Being written; not yet in a circuit.
    Draft,
    /// Going through its visas and signatures.
    Circuit,
    /// Refused by someone of the circuit: back to its author, who may edit and restart.
    Rejected,
    /// Every step is done: ready to be sent.
    Signed,
    /// Sent by email or handed to the post.
    Sent,
}

impl FolderState {
    pub const ALL: [FolderState; 5] = [
        FolderState::Draft,
        FolderState::Circuit,
        FolderState::Rejected,
        FolderState::Signed,
        FolderState::Sent,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FolderState::Draft => "draft",
            FolderState::Circuit => "circuit",
            FolderState::Rejected => "rejected",
            FolderState::Signed => "signed",
            FolderState::Sent => "sent",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            FolderState::Draft => "Brouillon",
            FolderState::Circuit => "En circuit",
            FolderState::Rejected => "Refusé",
            FolderState::Signed => "Signé, à envoyer",
            FolderState::Sent => "Envoyé",
        }
    }
}

impl std::str::FromStr for FolderState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FolderState::ALL
            .into_iter()
            .find(|f| f.code() == s)
            .ok_or_else(|| format!("état de parapheur inconnu « {s} »"))
    }
}

/// A letter and its circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    /// The incoming item this letter answers.
    pub item_id: Option<Uuid>,
    /// The outgoing item registered when the letter was sent.
    pub reply_item_id: Option<Uuid>,
    pub doctype_code: Option<String>,
    pub template_code: Option<String>,
    pub subject: String,
    /// The address block, one line per line.
    pub recipient: String,
    pub body: String,
    /// Whose name the letter's signature block carries.
    pub signer_id: Option<Uuid>,
    pub author_id: Uuid,
    pub state: FolderState,
    pub circuit_json: Option<String>,
    pub pdf_sha256: Option<String>,
    pub pdf_size: Option<i64>,
    pub version: i64,
    /// "email" or "post".
    pub sent_via: Option<String>,
    pub registered_number: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn folder_from_row(row: &AnyRow) -> Result<FolderRow, StoreError> {
    Ok(FolderRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        item_id: parse_opt_uuid(row.try_get("item_id")?)?,
        reply_item_id: parse_opt_uuid(row.try_get("reply_item_id")?)?,
        doctype_code: row.try_get("doctype_code")?,
        template_code: row.try_get("template_code")?,
        subject: row.try_get("subject")?,
        recipient: row.try_get("recipient")?,
        body: row.try_get("body")?,
        signer_id: parse_opt_uuid(row.try_get("signer_id")?)?,
        author_id: parse_uuid(&row.try_get::<String, _>("author_id")?)?,
        state: row
            .try_get::<String, _>("state")?
            .parse()
            .map_err(StoreError::corrupt)?,
        circuit_json: row.try_get("circuit_json")?,
        pdf_sha256: row.try_get("pdf_sha256")?,
        pdf_size: row.try_get("pdf_size")?,
        version: row.try_get("version")?,
        sent_via: row.try_get("sent_via")?,
        registered_number: row.try_get("registered_number")?,
        sent_at: row
            .try_get::<Option<String>, _>("sent_at")?
            .as_deref()
            .map(parse_instant)
            .transpose()?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_instant(&row.try_get::<String, _>("updated_at")?)?,
    })
}

/// A named circuit; with a document type it is that type's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitTemplateRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub code: String,
    pub name: String,
    pub doctype_code: Option<String>,
    /// domain::circuit::CircuitDef as JSON.
    pub definition_json: String,
}

fn circuit_template_from_row(row: &AnyRow) -> Result<CircuitTemplateRow, StoreError> {
    Ok(CircuitTemplateRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        doctype_code: row.try_get("doctype_code")?,
        definition_json: row.try_get("definition_json")?,
    })
}

/// "`to_user` acts for `from_user` from `starts_on` to `ends_on`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelegationRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub from_user: Uuid,
    pub to_user: Uuid,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Document type codes; empty for every type.
    pub doctypes: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn delegation_from_row(row: &AnyRow) -> Result<DelegationRow, StoreError> {
    Ok(DelegationRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        from_user: parse_uuid(&row.try_get::<String, _>("from_user")?)?,
        to_user: parse_uuid(&row.try_get::<String, _>("to_user")?)?,
        starts_on: parse_date(&row.try_get::<String, _>("starts_on")?)?,
        ends_on: parse_date(&row.try_get::<String, _>("ends_on")?)?,
        doctypes: serde_json::from_str(&row.try_get::<String, _>("doctypes_json")?)
            .map_err(|e| StoreError::corrupt(e.to_string()))?,
        created_by: parse_opt_uuid(row.try_get("created_by")?)?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
        revoked_at: row
            .try_get::<Option<String>, _>("revoked_at")?
            .as_deref()
            .map(parse_instant)
            .transpose()?,
    })
}

/// What a signing key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The commune's certification authority: issues the others.
    Ca,
    /// The commune's server seal (cachet serveur).
    Seal,
    /// One signer's key.
    Person,
}

impl KeyKind {
    pub fn code(self) -> &'static str {
        match self {
            KeyKind::Ca => "ca",
            KeyKind::Seal => "seal",
            KeyKind::Person => "person",
        }
    }
}

impl std::str::FromStr for KeyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [KeyKind::Ca, KeyKind::Seal, KeyKind::Person]
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| format!("type de clé inconnu « {s} »"))
    }
}

/// A stored signing key: the private part is sealed, never stored in clear.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SigningKeyRow {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub user_id: Option<Uuid>,
    pub kind: KeyKind,
    pub subject: String,
    pub not_after: DateTime<Utc>,
    /// The PKCS#8 key sealed with the commune's data key (encrypted PKCS#8 when
    /// `pin_protected`).
    #[serde(skip)]
    pub sealed_key: String,
    pub pin_protected: bool,
    pub chain_pem: String,
    /// An image of the handwritten signature, in the file store.
    pub image_sha256: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .field("sealed_key", &"<sealed>")
            .finish_non_exhaustive()
    }
}

fn key_from_row(row: &AnyRow) -> Result<SigningKeyRow, StoreError> {
    Ok(SigningKeyRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        user_id: parse_opt_uuid(row.try_get("user_id")?)?,
        kind: row
            .try_get::<String, _>("kind")?
            .parse()
            .map_err(StoreError::corrupt)?,
        subject: row.try_get("subject")?,
        not_after: parse_instant(&row.try_get::<String, _>("not_after")?)?,
        sealed_key: row.try_get("sealed_key")?,
        pin_protected: row.try_get::<i64, _>("pin_protected")? != 0,
        chain_pem: row.try_get("chain_pem")?,
        image_sha256: row.try_get("image_sha256")?,
        created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
    })
}

impl Store {
    pub async fn folder(&self, commune_id: Uuid, id: Uuid) -> Result<FolderRow, StoreError> {
        sqlx::query("SELECT * FROM folders WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(folder_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("document du parapheur"))
    }

    /// The letters answering an item, newest first.
    pub async fn folders_of_item(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<FolderRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM folders WHERE commune_id = $1 AND item_id = $2
             ORDER BY created_at DESC",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(folder_from_row)
        .collect()
    }

    /// The commune's letters in the given states, most recently changed first. With
    /// `confidential_visible_to` (as in [`crate::items::ItemFilter`]), a letter answering a
    /// confidential item is listed only to its author and to those who see the item.
    pub async fn folders_in(
        &self,
        commune_id: Uuid,
        states: &[FolderState],
        confidential_visible_to: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<FolderRow>, StoreError> {
        let restrict = match confidential_visible_to {
            Some(_) => format!(
                " AND (folders.item_id IS NULL OR folders.author_id = $4 OR EXISTS (
                     SELECT 1 FROM items WHERE items.id = folders.item_id AND {}))",
                crate::items::confidential_visible("items", "$4")
            ),
            None => String::new(),
        };
        let mut out = Vec::new();
        for state in states {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT * FROM folders WHERE commune_id = $1 AND state = $2{restrict}
                 ORDER BY updated_at DESC LIMIT $3"
            )))
            .bind(commune_id.to_string())
            .bind(state.code())
            .bind(limit);
            if let Some(reader) = confidential_visible_to {
                query = query.bind(reader.to_string());
            }
            let rows = query.fetch_all(self.reader()).await?;
            for row in &rows {
                out.push(folder_from_row(row)?);
            }
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.updated_at));
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }

    pub async fn circuit_templates(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<CircuitTemplateRow>, StoreError> {
        let mut templates = sqlx::query("SELECT * FROM circuit_templates WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(circuit_template_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        templates.sort_by_cached_key(|t| parapheur_domain::french::sort_key(&t.name));
        Ok(templates)
    }

    /// The delegations of a commune that are not revoked and end on or after `from`.
    pub async fn delegations(
        &self,
        commune_id: Uuid,
        from: NaiveDate,
    ) -> Result<Vec<DelegationRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM delegations WHERE commune_id = $1 AND revoked_at IS NULL
               AND ends_on >= $2
             ORDER BY starts_on, created_at",
        )
        .bind(commune_id.to_string())
        .bind(date_text(from))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(delegation_from_row)
        .collect()
    }

    /// The current key of that kind (and user, for a person's key).
    pub async fn signing_key(
        &self,
        commune_id: Uuid,
        kind: KeyKind,
        user_id: Option<Uuid>,
    ) -> Result<Option<SigningKeyRow>, StoreError> {
        let row = match user_id {
            Some(user) => {
                sqlx::query(
                    "SELECT * FROM signing_keys WHERE commune_id = $1 AND kind = $2
                       AND user_id = $3 AND revoked_at IS NULL
                     ORDER BY created_at DESC LIMIT 1",
                )
                .bind(commune_id.to_string())
                .bind(kind.code())
                .bind(user.to_string())
                .fetch_optional(self.reader())
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT * FROM signing_keys WHERE commune_id = $1 AND kind = $2
                       AND user_id IS NULL AND revoked_at IS NULL
                     ORDER BY created_at DESC LIMIT 1",
                )
                .bind(commune_id.to_string())
                .bind(kind.code())
                .fetch_optional(self.reader())
                .await?
            }
        };
        row.as_ref().map(key_from_row).transpose()
    }

    /// Every key of the commune, revoked ones included (their certificates stay
    /// trusted for what they signed).
    pub async fn signing_keys(&self, commune_id: Uuid) -> Result<Vec<SigningKeyRow>, StoreError> {
        sqlx::query("SELECT * FROM signing_keys WHERE commune_id = $1 ORDER BY created_at")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }
}

impl WriteTx {
    pub async fn insert_folder(
        &mut self,
        folder: &FolderRow,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO folders (id, commune_id, item_id, reply_item_id, doctype_code,
                template_code, subject, recipient, body, signer_id, author_id, state,
                circuit_json, pdf_sha256, pdf_size, version, sent_via, registered_number,
                sent_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19, $20, $21)",
        )
        .bind(folder.id.to_string())
        .bind(folder.commune_id.to_string())
        .bind(folder.item_id.map(|u| u.to_string()))
        .bind(folder.reply_item_id.map(|u| u.to_string()))
        .bind(folder.doctype_code.clone())
        .bind(folder.template_code.clone())
        .bind(folder.subject.clone())
        .bind(folder.recipient.clone())
        .bind(folder.body.clone())
        .bind(folder.signer_id.map(|u| u.to_string()))
        .bind(folder.author_id.to_string())
        .bind(folder.state.code())
        .bind(folder.circuit_json.clone())
        .bind(folder.pdf_sha256.clone())
        .bind(folder.pdf_size)
        .bind(folder.version)
        .bind(folder.sent_via.clone())
        .bind(folder.registered_number.clone())
        .bind(folder.sent_at.as_ref().map(instant_text))
        .bind(instant_text(&folder.created_at))
        .bind(instant_text(&folder.updated_at))
        .execute(self.conn())
        .await?;
        self.journal(
            folder.commune_id,
            new_entry(
                actor,
                "folder.created",
                "folder",
                folder.id,
                None,
                Some(folder_journal_text(folder)),
            ),
        );
        Ok(())
    }

    /// Writes `after` over the folder if nobody changed it since `before` was read (same
    /// version); journals `action` with both states. The caller bumps `after.version`.
    pub async fn update_folder(
        &mut self,
        before: &FolderRow,
        after: &FolderRow,
        actor: &str,
        action: &str,
        detail: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE folders SET reply_item_id = $3, doctype_code = $4, template_code = $5,
                subject = $6, recipient = $7, body = $8, signer_id = $9, state = $10,
                circuit_json = $11, pdf_sha256 = $12, pdf_size = $13, version = $14,
                sent_via = $15, registered_number = $16, sent_at = $17, updated_at = $18
             WHERE commune_id = $1 AND id = $2 AND version = $19",
        )
        .bind(after.commune_id.to_string())
        .bind(after.id.to_string())
        .bind(after.reply_item_id.map(|u| u.to_string()))
        .bind(after.doctype_code.clone())
        .bind(after.template_code.clone())
        .bind(after.subject.clone())
        .bind(after.recipient.clone())
        .bind(after.body.clone())
        .bind(after.signer_id.map(|u| u.to_string()))
        .bind(after.state.code())
        .bind(after.circuit_json.clone())
        .bind(after.pdf_sha256.clone())
        .bind(after.pdf_size)
        .bind(after.version)
        .bind(after.sent_via.clone())
        .bind(after.registered_number.clone())
        .bind(after.sent_at.as_ref().map(instant_text))
        .bind(instant_text(&after.updated_at))
        .bind(before.version)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Changed("ce document".to_owned()));
        }
        let mut after_text = serde_json::to_value(folder_summary(after)).unwrap_or_default();
        if let (Some(detail), Some(map)) = (detail, after_text.as_object_mut()) {
            map.insert("detail".to_owned(), detail);
        }
        self.journal(
            after.commune_id,
            new_entry(
                actor,
                action,
                "folder",
                after.id,
                Some(folder_journal_text(before)),
                Some(after_text.to_string()),
            ),
        );
        Ok(())
    }

    pub async fn save_circuit_template(
        &mut self,
        template: &CircuitTemplateRow,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO circuit_templates (id, commune_id, code, name, doctype_code,
                definition_json, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (commune_id, code) DO UPDATE SET name = $4, doctype_code = $5,
                definition_json = $6, updated_at = $7",
        )
        .bind(template.id.to_string())
        .bind(template.commune_id.to_string())
        .bind(template.code.clone())
        .bind(template.name.clone())
        .bind(template.doctype_code.clone())
        .bind(template.definition_json.clone())
        .bind(instant_text(&now))
        .execute(self.conn())
        .await?;
        self.journal(
            template.commune_id,
            new_entry(
                actor,
                "circuit_template.saved",
                "circuit_template",
                template.id,
                None,
                serde_json::to_string(template).ok(),
            ),
        );
        Ok(())
    }

    pub async fn insert_delegation(
        &mut self,
        delegation: &DelegationRow,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO delegations (id, commune_id, from_user, to_user, starts_on, ends_on,
                doctypes_json, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(delegation.id.to_string())
        .bind(delegation.commune_id.to_string())
        .bind(delegation.from_user.to_string())
        .bind(delegation.to_user.to_string())
        .bind(date_text(delegation.starts_on))
        .bind(date_text(delegation.ends_on))
        .bind(serde_json::to_string(&delegation.doctypes).unwrap_or_else(|_| "[]".to_owned()))
        .bind(delegation.created_by.map(|u| u.to_string()))
        .bind(instant_text(&delegation.created_at))
        .execute(self.conn())
        .await?;
        self.journal(
            delegation.commune_id,
            new_entry(
                actor,
                "delegation.created",
                "delegation",
                delegation.id,
                None,
                serde_json::to_string(delegation).ok(),
            ),
        );
        Ok(())
    }

    pub async fn revoke_delegation(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE delegations SET revoked_at = $3
             WHERE commune_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .bind(instant_text(&now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::not_found("délégation"));
        }
        self.journal(
            commune_id,
            new_entry(actor, "delegation.revoked", "delegation", id, None, None),
        );
        Ok(())
    }

    /// Stores a key; the previous key of the same owner and kind is revoked.
    pub async fn insert_signing_key(
        &mut self,
        key: &SigningKeyRow,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = instant_text(&key.created_at);
        match key.user_id {
            Some(user) => {
                sqlx::query(
                    "UPDATE signing_keys SET revoked_at = $4 WHERE commune_id = $1
                       AND kind = $2 AND user_id = $3 AND revoked_at IS NULL",
                )
                .bind(key.commune_id.to_string())
                .bind(key.kind.code())
                .bind(user.to_string())
                .bind(now.clone())
                .execute(self.conn())
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE signing_keys SET revoked_at = $3 WHERE commune_id = $1
                       AND kind = $2 AND user_id IS NULL AND revoked_at IS NULL",
                )
                .bind(key.commune_id.to_string())
                .bind(key.kind.code())
                .bind(now.clone())
                .execute(self.conn())
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO signing_keys (id, commune_id, user_id, kind, subject, not_after,
                sealed_key, pin_protected, chain_pem, image_sha256, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(key.id.to_string())
        .bind(key.commune_id.to_string())
        .bind(key.user_id.map(|u| u.to_string()))
        .bind(key.kind.code())
        .bind(key.subject.clone())
        .bind(instant_text(&key.not_after))
        .bind(key.sealed_key.clone())
        .bind(i64::from(key.pin_protected))
        .bind(key.chain_pem.clone())
        .bind(key.image_sha256.clone())
        .bind(now)
        .execute(self.conn())
        .await?;
        // The journal records the certificate, never the key.
        self.journal(
            key.commune_id,
            new_entry(
                actor,
                "signing_key.added",
                "signing_key",
                key.id,
                None,
                serde_json::to_string(key).ok(),
            ),
        );
        Ok(())
    }
}

/// What the journal keeps of a folder: everything but the letter's text, which the file
/// store has (and which may hold personal data the journal should not copy).
#[derive(Serialize)]
struct FolderSummary<'a> {
    id: Uuid,
    item_id: Option<Uuid>,
    reply_item_id: Option<Uuid>,
    subject: &'a str,
    state: FolderState,
    circuit: Option<serde_json::Value>,
    pdf_sha256: Option<&'a str>,
    version: i64,
    sent_via: Option<&'a str>,
    registered_number: Option<&'a str>,
}

fn folder_summary(f: &FolderRow) -> FolderSummary<'_> {
    FolderSummary {
        id: f.id,
        item_id: f.item_id,
        reply_item_id: f.reply_item_id,
        subject: &f.subject,
        state: f.state,
        circuit: f
            .circuit_json
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()),
        pdf_sha256: f.pdf_sha256.as_deref(),
        version: f.version,
        sent_via: f.sent_via.as_deref(),
        registered_number: f.registered_number.as_deref(),
    }
}

fn folder_journal_text(f: &FolderRow) -> String {
    serde_json::to_string(&folder_summary(f)).unwrap_or_default()
}
