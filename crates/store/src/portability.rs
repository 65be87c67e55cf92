//! One commune's rows, out of a register and into another (`parapheur export` and
//! `import`): every table that holds the commune's data, read as plain values and written
//! back verbatim, so identifiers, chrono numbers and the journal's chain are the same at
//! the destination.
//!
//! The rows are generic (column name → JSON value): the schema has only TEXT and BIGINT
//! columns, the same on both backends, so a row read from SQLite goes into PostgreSQL and
//! back unchanged. The list of tables below is the single place that says what belongs to
//! a commune; a test checks that every table of the schema is in it or said left out.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Column as _, Row as _};
use uuid::Uuid;

use crate::backend::Backend;
use crate::error::StoreError;
use crate::pool::Store;

/// One row: column name → value (a string, an integer or null).
pub type Row = Map<String, Value>;

/// How a table's rows belong to a commune.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// The rows whose `column` is the commune's id.
    Column(&'static str),
    /// The rows whose `column` names a row of `parent` that is the commune's.
    Through {
        column: &'static str,
        parent: &'static str,
    },
}

/// The tables a commune is made of, parents before children (the order rows are inserted
/// in: foreign keys are checked at once on both backends).
pub const COMMUNE_TABLES: &[(&str, Scope)] = &[
    ("communes", Scope::Column("id")),
    ("services", Scope::Column("commune_id")),
    ("users", Scope::Column("commune_id")),
    ("doctypes", Scope::Column("commune_id")),
    ("contacts", Scope::Column("commune_id")),
    ("chrono_counters", Scope::Column("commune_id")),
    ("items", Scope::Column("commune_id")),
    (
        "item_contacts",
        Scope::Through {
            column: "item_id",
            parent: "items",
        },
    ),
    (
        "item_tags",
        Scope::Through {
            column: "item_id",
            parent: "items",
        },
    ),
    (
        "item_copies",
        Scope::Through {
            column: "item_id",
            parent: "items",
        },
    ),
    ("item_links", Scope::Column("commune_id")),
    ("notes", Scope::Column("commune_id")),
    ("attachments", Scope::Column("commune_id")),
    ("journal", Scope::Column("commune_id")),
    ("journal_heads", Scope::Column("commune_id")),
    ("mailboxes", Scope::Column("commune_id")),
    ("inbound_messages", Scope::Column("commune_id")),
    ("file_texts", Scope::Column("commune_id")),
    ("file_signatures", Scope::Column("commune_id")),
    ("jobs", Scope::Column("commune_id")),
    ("request_forms", Scope::Column("commune_id")),
    ("tracking_links", Scope::Column("commune_id")),
    ("item_messages", Scope::Column("commune_id")),
    ("reply_templates", Scope::Column("commune_id")),
    ("outbox", Scope::Column("commune_id")),
    ("folders", Scope::Column("commune_id")),
    ("circuit_templates", Scope::Column("commune_id")),
    ("delegations", Scope::Column("commune_id")),
    ("signing_keys", Scope::Column("commune_id")),
    ("legal_holds", Scope::Column("commune_id")),
    ("eliminations", Scope::Column("commune_id")),
    (
        "elimination_items",
        Scope::Through {
            column: "elimination_id",
            parent: "eliminations",
        },
    ),
    ("transfers", Scope::Column("commune_id")),
    (
        "transfer_items",
        Scope::Through {
            column: "transfer_id",
            parent: "transfers",
        },
    ),
    ("personal_data_views", Scope::Column("commune_id")),
    ("daily_runs", Scope::Column("commune_id")),
    // The commune's integrations keep their tokens (only hashes are stored); they change the
    // server's address, not their credentials.
    ("api_tokens", Scope::Column("commune_id")),
    (
        "api_idempotency",
        Scope::Through {
            column: "token_id",
            parent: "api_tokens",
        },
    ),
    // Its webhooks (the secrets are sealed with the commune's key, which moves with it) and
    // their deliveries: a delivery still pending is sent from the destination.
    ("webhook_subscriptions", Scope::Column("commune_id")),
    ("webhook_deliveries", Scope::Column("commune_id")),
    // Its phone calls (the PBX's log, and the callback items of missed ones).
    ("calls", Scope::Column("commune_id")),
];

/// The tables a commune's export leaves out on purpose, and why.
pub const LEFT_OUT: &[(&str, &str)] = &[
    ("schema_migrations", "the destination has its own schema"),
    ("settings", "settings of the installation, not of a commune"),
    (
        "sessions",
        "logins of the source server: people log in again at the destination",
    ),
    (
        "password_resets",
        "short-lived links sent by the source server",
    ),
    (
        "spent_challenges",
        "proofs of work of the source's public forms",
    ),
    ("leases", "work held by the source's nodes"),
    ("nodes", "the source's servers"),
    (
        "rate_events",
        "the source's limits on logins and submissions",
    ),
];

/// A self-reference inserted after its table's rows (the row it names may come later).
const SELF_REFERENCES: &[(&str, &str)] = &[("contacts", "merged_into")];

/// Parameters per statement when inserting: under SQLite's oldest limit (999).
const MAX_PARAMETERS: usize = 900;

fn row_values(row: &AnyRow) -> Result<Row, StoreError> {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = match row.try_get::<Option<i64>, _>(i) {
            Ok(number) => number.map_or(Value::Null, Value::from),
            Err(_) => row
                .try_get::<Option<String>, _>(i)?
                .map_or(Value::Null, Value::String),
        };
        out.insert(column.name().to_owned(), value);
    }
    Ok(out)
}

fn select_sql(table: &str, scope: Scope) -> String {
    match scope {
        Scope::Column(column) => format!("SELECT * FROM {table} WHERE {column} = $1"),
        Scope::Through { column, parent } => format!(
            "SELECT * FROM {table} WHERE {column} IN \
             (SELECT id FROM {parent} WHERE commune_id = $1)"
        ),
    }
}

/// A value bound to a statement, typed by the destination's column.
enum Bound {
    Integer(Option<i64>),
    Text(Option<String>),
}

impl Store {
    /// Every row of the commune, table by table in [`COMMUNE_TABLES`] order, read in one
    /// snapshot (a live server may be writing).
    pub async fn commune_rows(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<(&'static str, Vec<Row>)>, StoreError> {
        let mut tx = self.reader().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let mut tables = Vec::with_capacity(COMMUNE_TABLES.len());
        for (table, scope) in COMMUNE_TABLES {
            let mut sql = select_sql(table, *scope);
            if *table == "journal" {
                sql.push_str(" ORDER BY seq");
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(commune_id.to_string())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(row_values)
                .collect::<Result<Vec<_>, _>>()?;
            tables.push((*table, rows));
        }
        tx.rollback().await?;
        Ok(tables)
    }

    /// The tables of the schema (for the check that each is exported or left out).
    pub async fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT table_name::TEXT FROM information_schema.tables \
                 WHERE table_schema = current_schema() ORDER BY table_name"
            }
        };
        sqlx::query(sql)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// The columns of `table` and whether each holds integers.
    async fn columns(&self, table: &str) -> Result<Vec<(String, bool)>, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1)",
            Backend::Postgres => {
                "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        sqlx::query(sql)
            .bind(table.to_owned())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let kind: String = r.try_get(1)?;
                Ok((name, kind.to_ascii_uppercase().contains("INT")))
            })
            .collect()
    }

    /// Writes a commune's rows, as [`Store::commune_rows`] read them elsewhere, in one
    /// transaction: all or nothing. Refused if the commune (its id or its INSEE code)
    /// is already in this register.
    pub async fn insert_commune_rows(
        &self,
        commune_id: Uuid,
        insee: &str,
        tables: &[(String, Vec<Row>)],
    ) -> Result<(), StoreError> {
        // Every table and column known here, before anything is written.
        let mut plans = Vec::with_capacity(tables.len());
        for (table, scope) in COMMUNE_TABLES {
            let Some((_, rows)) = tables.iter().find(|(t, _)| t.as_str() == *table) else {
                continue;
            };
            let columns = self.columns(table).await?;
            let parents: Vec<&str> = match scope {
                Scope::Column(_) => Vec::new(),
                Scope::Through { parent, .. } => tables
                    .iter()
                    .filter(|(t, _)| t.as_str() == *parent)
                    .flat_map(|(_, rows)| rows.iter().filter_map(|r| r.get("id")?.as_str()))
                    .collect(),
            };
            for row in rows {
                check_row(table, *scope, row, &columns, commune_id, &parents)?;
            }
            plans.push((*table, columns, rows));
        }
        if let Some((unknown, _)) = tables
            .iter()
            .find(|(t, _)| !COMMUNE_TABLES.iter().any(|(known, _)| *known == t.as_str()))
        {
            return Err(StoreError::Invalid(format!(
                "table inconnue « {unknown} » dans les données importées"
            )));
        }
        let mut tx = match self.backend() {
            Backend::Sqlite => self.writer().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer().begin().await?,
        };
        let existing = sqlx::query("SELECT insee FROM communes WHERE id = $1 OR insee = $2")
            .bind(commune_id.to_string())
            .bind(insee.to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            return Err(StoreError::AlreadyExists(format!(
                "la commune {insee} (identifiant {commune_id})"
            )));
        }
        for (table, columns, rows) in plans {
            let deferred = SELF_REFERENCES
                .iter()
                .find(|(t, _)| *t == table)
                .map(|(_, column)| *column);
            let present: Vec<&(String, bool)> = columns
                .iter()
                .filter(|(name, _)| rows.iter().any(|r| r.contains_key(name)))
                .collect();
            if present.is_empty() {
                continue;
            }
            let per_statement = (MAX_PARAMETERS / present.len()).max(1);
            for chunk in rows.chunks(per_statement) {
                let names = present
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut n = 0;
                let values = chunk
                    .iter()
                    .map(|_| {
                        let placeholders = present
                            .iter()
                            .map(|_| {
                                n += 1;
                                format!("${n}")
                            })
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("({placeholders})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!("INSERT INTO {table} ({names}) VALUES {values}");
                let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
                for row in chunk {
                    for (name, integer) in &present {
                        let value = if Some(name.as_str()) == deferred {
                            &Value::Null
                        } else {
                            row.get(name).unwrap_or(&Value::Null)
                        };
                        insert = match bound(table, name, *integer, value)? {
                            Bound::Integer(v) => insert.bind(v),
                            Bound::Text(v) => insert.bind(v),
                        };
                    }
                }
                insert.execute(&mut *tx).await?;
            }
            if let Some(column) = deferred {
                for row in rows {
                    let (Some(Value::String(target)), Some(Value::String(id))) =
                        (row.get(column), row.get("id"))
                    else {
                        continue;
                    };
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {table} SET {column} = $1 WHERE id = $2"
                    )))
                    .bind(target.clone())
                    .bind(id.clone())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A row must have only known columns, and belong to the commune being imported.
fn check_row(
    table: &str,
    scope: Scope,
    row: &Row,
    columns: &[(String, bool)],
    commune_id: Uuid,
    parents: &[&str],
) -> Result<(), StoreError> {
    if let Some(unknown) = row.keys().find(|k| !columns.iter().any(|(c, _)| c == *k)) {
        return Err(StoreError::Invalid(format!(
            "colonne inconnue « {table}.{unknown} » dans les données importées (archive d'une \
             version plus récente de parapheur ?)"
        )));
    }
    let belongs = match scope {
        Scope::Column(column) => {
            row.get(column).and_then(Value::as_str) == Some(commune_id.to_string().as_str())
        }
        Scope::Through { column, .. } => row
            .get(column)
            .and_then(Value::as_str)
            .is_some_and(|id| parents.contains(&id)),
    };
    if !belongs {
        return Err(StoreError::Invalid(format!(
            "une ligne de la table « {table} » n'appartient pas à la commune importée"
        )));
    }
    Ok(())
}

fn bound(table: &str, column: &str, integer: bool, value: &Value) -> Result<Bound, StoreError> {
    let refused = || {
        StoreError::Invalid(format!(
            "valeur inattendue pour « {table}.{column} » dans les données importées : {value}"
        ))
    };
    Ok(match (integer, value) {
        (true, Value::Null) => Bound::Integer(None),
        (false, Value::Null) => Bound::Text(None),
        (true, Value::Number(n)) => Bound::Integer(Some(n.as_i64().ok_or_else(refused)?)),
        (false, Value::String(s)) => Bound::Text(Some(s.clone())),
        _ => return Err(refused()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A migration that adds a table must say whether a commune's export carries it.
    #[tokio::test]
    async fn every_table_is_exported_or_left_out_on_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("r.sqlite"), crate::DEFAULT_LOCK_TIMEOUT)
            .await
            .unwrap();
        let tables = store.table_names().await.unwrap();
        for table in &tables {
            assert!(
                COMMUNE_TABLES.iter().any(|(t, _)| *t == table.as_str())
                    || LEFT_OUT.iter().any(|(t, _)| *t == table.as_str()),
                "table {table} is neither in COMMUNE_TABLES nor in LEFT_OUT"
            );
        }
        let named = COMMUNE_TABLES
            .iter()
            .map(|(t, _)| t)
            .chain(LEFT_OUT.iter().map(|(t, _)| t));
        for table in named {
            assert!(
                tables.iter().any(|t| t.as_str() == *table),
                "no table {table}"
            );
        }
    }
}
