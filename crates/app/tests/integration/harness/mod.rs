//! A fresh register per test, on SQLite (a temp dir) or PostgreSQL (a fresh database on the
//! server named by `PARAPHEUR_TEST_DATABASE_URL`). `both!` runs a test on each backend.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use parapheur_app::domain::Commune;
use parapheur_app::{Actor, App, Config, MasterKeySource};
use parapheur_files::MasterKey;
use sqlx::any::AnyPoolOptions;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub app: App,
    pub config: Config,
    pub dir: TempDir,
}

pub const SYSTEM: Actor = Actor::System("test");

/// A fixed "now" for tests whose dates matter.
pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

/// A fresh database URL, or `None` when PostgreSQL is not available outside CI.
pub async fn fresh_postgres() -> Option<String> {
    let Ok(admin) = std::env::var("PARAPHEUR_TEST_DATABASE_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "PostgreSQL is required in CI: set PARAPHEUR_TEST_DATABASE_URL (scripts/test.sh does)"
            );
        }
        eprintln!("SKIPPED (PostgreSQL): PARAPHEUR_TEST_DATABASE_URL unset; run ./scripts/test.sh");
        return None;
    };
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .unwrap();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

impl Harness {
    pub async fn new(db: Db) -> Option<Harness> {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(fresh_postgres().await?),
        };
        let mut config = Config::new(
            dir.path(),
            database_url,
            MasterKeySource::Inline(MasterKey::generate().unwrap().to_base64()),
        );
        // The test mail servers listen on this machine, without TLS.
        config.outbound_internal_addresses = true;
        config.outbound_plain_text = true;
        let app = App::open(&config).await.unwrap();
        Some(Harness { app, config, dir })
    }

    /// Opens the same register again (another process would see the same).
    pub async fn reopen(&self) -> App {
        App::open(&self.config).await.unwrap()
    }

    pub async fn commune(&self, insee: &str) -> Commune {
        self.app
            .create_commune(insee, &SYSTEM, at(2026, 1, 2))
            .await
            .unwrap()
    }
}

/// Runs each listed async test function on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name($crate::harness::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name($crate::harness::Db::Postgres).await
                }
            }
        )*
    };
}

/// The mail corpus of `crates/mail/tests/corpus` (real-world messages and our hard cases).
pub fn corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mail/tests/corpus")
}

/// Every message file of the corpus, sorted.
pub fn corpus_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, files);
            } else if !name.starts_with('.') && !name.ends_with(".md") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&corpus(), &mut files);
    files.sort();
    files
}
