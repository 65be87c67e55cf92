//! Schema migrations, embedded in the binary, one folder per backend with matching names.
//!
//! A small runner rather than `sqlx::migrate!`: the macro needs sqlx's `macros` feature
//! (which builds SQLite twice) and does not run over the `Any` driver we share.

use chrono::Utc;
use sqlx::{AnyPool, Row};

use crate::backend::Backend;
use crate::error::StoreError;

struct Migration {
    version: i64,
    name: &'static str,
    sql: Sql,
}

/// Most migrations are the same SQL on both backends; a difference is spelled out.
enum Sql {
    Shared(&'static str),
    #[allow(dead_code)] // the first backend-specific migration will use it
    PerBackend {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

impl Sql {
    fn for_backend(&self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Sql::Shared(sql), _) => sql,
            (Sql::PerBackend { sqlite, .. }, Backend::Sqlite) => sqlite,
            (Sql::PerBackend { postgres, .. }, Backend::Postgres) => postgres,
        }
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "register",
        sql: Sql::Shared(include_str!("../migrations/0001_register.sql")),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: Sql::Shared(include_str!("../migrations/0002_sessions.sql")),
    },
    Migration {
        version: 3,
        name: "open_items",
        sql: Sql::Shared(include_str!("../migrations/0003_open_items.sql")),
    },
    Migration {
        version: 4,
        name: "open_items_covering",
        sql: Sql::Shared(include_str!("../migrations/0004_open_items_covering.sql")),
    },
    Migration {
        version: 5,
        name: "administration",
        sql: Sql::Shared(include_str!("../migrations/0005_administration.sql")),
    },
    Migration {
        version: 6,
        name: "capture",
        sql: Sql::Shared(include_str!("../migrations/0006_capture.sql")),
    },
    Migration {
        version: 7,
        name: "citizens",
        sql: Sql::Shared(include_str!("../migrations/0007_citizens.sql")),
    },
    Migration {
        version: 8,
        name: "parapheur",
        sql: Sql::Shared(include_str!("../migrations/0008_parapheur.sql")),
    },
    Migration {
        version: 9,
        name: "second_factor",
        sql: Sql::Shared(include_str!("../migrations/0009_second_factor.sql")),
    },
    Migration {
        version: 10,
        name: "documents_deadline",
        sql: Sql::Shared(include_str!("../migrations/0010_documents_deadline.sql")),
    },
    Migration {
        version: 11,
        name: "archives",
        sql: Sql::Shared(include_str!("../migrations/0011_archives.sql")),
    },
    Migration {
        version: 12,
        name: "the_law",
        sql: Sql::Shared(include_str!("../migrations/0012_the_law.sql")),
    },
    Migration {
        version: 13,
        name: "nodes",
        sql: Sql::Shared(include_str!("../migrations/0013_nodes.sql")),
    },
    Migration {
        version: 14,
        name: "subject_rights",
        sql: Sql::Shared(include_str!("../migrations/0014_subject_rights.sql")),
    },
    // 15 is another branch's (issue 18 shares its numbers out between branches); the runner
    // applies every version not yet applied, whatever the order they arrive in.
    Migration {
        version: 16,
        name: "ecosystem",
        sql: Sql::Shared(include_str!("../migrations/0016_ecosystem.sql")),
    },
    Migration {
        version: 17,
        name: "webhooks",
        sql: Sql::Shared(include_str!("../migrations/0017_webhooks.sql")),
    },
    Migration {
        version: 18,
        name: "calls",
        sql: Sql::Shared(include_str!("../migrations/0018_calls.sql")),
    },
    // 19 is another branch's.
    Migration {
        version: 20,
        name: "logo_rendition",
        sql: Sql::Shared(include_str!("../migrations/0020_logo_rendition.sql")),
    },
];

/// The newest schema version this program knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    if backend == Backend::Postgres {
        // Two nodes starting together must not both migrate.
        sqlx::query("SELECT pg_advisory_xact_lock(7234001)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    if let Some(newest) = applied.last()
        && *newest > SCHEMA_VERSION
    {
        return Err(StoreError::Invalid(format!(
            "la base de données est au schéma {newest}, plus récent que ce programme (schéma {SCHEMA_VERSION}) : mettez parapheur à jour"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = m.sql.for_backend(backend);
        for statement in split_statements(sql) {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        tracing::info!(version = m.version, name = m.name, "schema migrated");
    }
    tx.commit().await?;
    Ok(())
}

/// Splits a migration file on `;` at line ends, dropping comment-only chunks.
fn split_statements(sql: &str) -> Vec<String> {
    sql.split(";\n")
        .map(|chunk| {
            chunk
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .map(|s| s.trim().trim_end_matches(';').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_split_into_statements() {
        let parts =
            super::split_statements("-- c\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i ON a (x);\n");
        assert_eq!(
            parts,
            vec!["CREATE TABLE a (x TEXT)", "CREATE INDEX i ON a (x)"]
        );
    }

    #[test]
    fn both_backends_have_every_migration() {
        for m in super::MIGRATIONS {
            for backend in [super::Backend::Sqlite, super::Backend::Postgres] {
                assert!(!m.sql.for_backend(backend).is_empty(), "{}", m.name);
            }
        }
        assert_eq!(
            super::MIGRATIONS.last().map(|m| m.version),
            Some(super::SCHEMA_VERSION)
        );
    }
}
