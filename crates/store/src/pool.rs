use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use crate::backend::Backend;
use crate::error::StoreError;
use crate::migrate;

/// A handle to the register's database: a pool for reads and a path for writes.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// SQLite: one connection, so writers of this process queue instead of colliding.
    /// PostgreSQL: the same pool as `read`.
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
}

const SQLITE_PRAGMAS: [&str; 5] = [
    "PRAGMA journal_mode = WAL",
    // FULL: a committed registration survives a power cut, not only a crash.
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    // Reads map the file instead of copying pages through read(2) (measured hot spot),
    // and each connection keeps 16 MB of pages.
    "PRAGMA mmap_size = 268435456",
    "PRAGMA cache_size = -16000",
];

/// A SQLite connection unused this long is closed (the next request opens one: about a
/// millisecond, its pages still in the system's cache).
const SQLITE_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A SQLite connection is also closed this long after it opened. The pool hands its idle
/// connections out in turn, so the background loops' small queries (every 2 s) kept every
/// connection of a past burst busy enough never to reach the idle timeout, each still mapping
/// the pages that burst read; reopening one costs about a millisecond a minute.
const SQLITE_MAX_LIFETIME: Duration = Duration::from_secs(60);

/// How long a writer waits for another's lock before giving up, unless the configuration
/// says otherwise: SQLite's busy timeout, PostgreSQL's lock_timeout.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the per-connection settings of SQLite on a connection.
async fn sqlite_settings(
    conn: &mut sqlx::AnyConnection,
    lock_timeout: Duration,
) -> Result<(), sqlx::Error> {
    for pragma in SQLITE_PRAGMAS {
        conn.execute(pragma).await?;
    }
    let busy = format!("PRAGMA busy_timeout = {}", lock_timeout.as_millis());
    conn.execute(sqlx::AssertSqlSafe(busy)).await?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`, and migrates it. A writer
    /// waits up to `lock_timeout` behind another's lock.
    pub async fn open_sqlite(path: &Path, lock_timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let target = path.display().to_string();
        let unavailable = |e| opening_error(e, &target);
        // The register is for its owner only: created 0600 (SQLite gives its -wal and -shm
        // files the same mode), and an existing file made so too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let private = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)));
            if let Err(e) = private {
                return Err(StoreError::Unavailable {
                    target,
                    source: sqlx::Error::Io(e),
                });
            }
        }
        // One connection first: a corrupt file, a full disk or a lock is named at once,
        // instead of being retried by the pool until it times out.
        {
            use sqlx::Connection;
            let mut probe = sqlx::AnyConnection::connect(&url)
                .await
                .map_err(unavailable)?;
            sqlite_settings(&mut probe, lock_timeout)
                .await
                .map_err(unavailable)?;
            sqlx::query("SELECT COUNT(*) FROM sqlite_master")
                .execute(&mut probe)
                .await
                .map_err(unavailable)?;
            probe.close().await.ok();
        }
        let options = |max| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                // Each connection maps the file (`mmap_size`) and keeps its own page cache:
                // an idle server closes them, so that their pages leave its memory.
                .idle_timeout(SQLITE_IDLE_TIMEOUT)
                .max_lifetime(SQLITE_MAX_LIFETIME)
                .after_connect(move |conn, _meta| Box::pin(sqlite_settings(conn, lock_timeout)))
        };
        let write = options(1).connect(&url).await.map_err(unavailable)?;
        let read = options(8).connect(&url).await.map_err(unavailable)?;
        let store = Store {
            backend: Backend::Sqlite,
            write,
            read,
        };
        store.migrate().await?;
        // Refresh the planner's statistics where they are stale, so it picks the selective
        // index (SQLite never analyses by itself).
        sqlx::query("PRAGMA optimize = 0x10002")
            .execute(&store.write)
            .await?;
        Ok(store)
    }

    /// Connects to PostgreSQL at `url` (postgres://…), and migrates it. A writer waits up to
    /// `lock_timeout` behind another's lock.
    pub async fn open_postgres(url: &str, lock_timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    // Waiting behind another writer's lock ends with a clear error.
                    let timeout = format!("SET lock_timeout = {}", lock_timeout.as_millis());
                    conn.execute(sqlx::AssertSqlSafe(timeout)).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|source| StoreError::Unavailable {
                target: redact_url(url),
                source,
            })?;
        let store = Store {
            backend: Backend::Postgres,
            write: pool.clone(),
            read: pool,
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Writes a consistent copy of a SQLite register to `path` (`VACUUM INTO`: one read
    /// transaction, so writers carry on; the copy is compact and holds no WAL). `path` must
    /// not exist. PostgreSQL's copies are made by its own tools (docs/OPERATIONS.md).
    pub async fn snapshot_sqlite(&self, path: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Invalid(
                "la copie de la base par parapheur est réservée à SQLite : PostgreSQL se \
                 sauvegarde avec ses propres outils (pgBackRest, voir OPERATIONS.md)"
                    .into(),
            ));
        }
        let target = path.display().to_string().replace('\'', "''");
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{target}'")))
            .execute(&self.read)
            .await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        migrate::run(&self.write, self.backend).await
    }

    /// The pool for reads.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for writes outside the register (sessions): on SQLite its single connection.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Runs a statement outside the write path. For tests and maintenance tools only: it
    /// bypasses the journal, which is exactly what the tampering tests need.
    #[doc(hidden)]
    pub async fn execute_unchecked(&self, sql: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    /// Closes the pools, waiting for connections to be returned.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// SQLite says "file is not a database" when it opens something else; keep that distinct,
/// and name the file.
fn opening_error(err: sqlx::Error, target: &str) -> StoreError {
    match StoreError::from(err) {
        StoreError::Database(source) => StoreError::Unavailable {
            target: target.to_owned(),
            source,
        },
        StoreError::Corrupt(reason) => StoreError::Corrupt(format!("{target} : {reason}")),
        other => other,
    }
}

/// A URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db.local:5432/parapheur"),
            "postgres://app:***@db.local:5432/parapheur"
        );
        assert_eq!(
            super::redact_url("postgres://localhost/x"),
            "postgres://localhost/x"
        );
    }
}
