//! What the integration tests of `app` and `web` share: a fresh register per test, in a
//! temporary data folder, on SQLite or on a fresh PostgreSQL database of the server named by
//! `PARAPHEUR_TEST_DATABASE_URL`. Only ever a dev-dependency: nothing here is for production.

// A test fixture that cannot be built is a failed test: panicking says where.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod s3;

use std::path::Path;

use parapheur_app::{Config, MasterKeySource};
use parapheur_files::MasterKey;
use sqlx::any::AnyPoolOptions;
use tempfile::TempDir;

pub use s3::S3Server;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh database URL on the server of `PARAPHEUR_TEST_DATABASE_URL`, or `None` (said
/// loudly) when PostgreSQL is not available outside CI. In CI its absence is a failure.
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

/// The database URL of a fresh register on `db`: `None` for SQLite (a file in the data
/// folder), `Some(None)` when PostgreSQL is skipped (see [`fresh_postgres`]).
pub async fn database_url(db: Db) -> Option<Option<String>> {
    match db {
        Db::Sqlite => Some(None),
        Db::Postgres => Some(Some(fresh_postgres().await?)),
    }
}

/// A temporary data folder, removed when dropped.
pub fn data_dir() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// The configuration of a test register in `dir`: a fresh inline master key, and outbound
/// mail allowed to the test mail servers, which listen on this machine without TLS.
pub fn config(dir: &Path, database_url: Option<String>) -> Config {
    let mut config = Config::new(
        dir,
        database_url,
        MasterKeySource::Inline(MasterKey::generate().unwrap().to_base64()),
    );
    config.outbound_internal_addresses = true;
    config.outbound_plain_text = true;
    config
}

/// Runs each listed async test function (`async fn name(db: Db)`) on SQLite and on
/// PostgreSQL, as `name::sqlite` and `name::postgres`. The calling crate needs `tokio`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name($crate::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name($crate::Db::Postgres).await
                }
            }
        )*
    };
}

/// A letter approved by two signers one after the other with another PAdES stack
/// (pyHanko 0.38 and its own throwaway PKI: the `--two-approvals` case of the signing
/// crate's `tests/pyhanko/make_cases.py`). Returns the folder holding `a_two_approvals.pdf`,
/// the PKI's `root.pem`, and `cases.tsv` with pyHanko's own verdicts, already checked to be
/// valid for both signatures. pyHanko comes from the venv that the acceptance verifier
/// (`../shared/acceptance/verify-pades`) installs; the test command installs it first.
pub fn signed_twice_by_another_stack() -> TempDir {
    let cache = std::env::var("VERIFY_CACHE").map_or_else(
        |_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/verify-pades"),
        std::path::PathBuf::from,
    );
    let python = cache.join("venv/bin/python");
    assert!(
        python.exists(),
        "\n\n!!! pyHanko is missing ({}): run ../shared/acceptance/verify-pades once, or ./scripts/test.sh, which installs it\n",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../signing/tests/pyhanko/make_cases.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(dir.path())
        .arg("--two-approvals")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let judged = std::fs::read_to_string(dir.path().join("cases.tsv")).unwrap();
    let verdicts: Vec<&str> = judged
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    assert_eq!(
        verdicts,
        ["valid", "valid"],
        "pyHanko's own verdict: {judged}"
    );
    dir
}

/// Checks SEDA 2.3 messages with the acceptance validator, `../shared/acceptance/validate-seda`
/// from the repository's root (the official XSD, offline). Its absence fails the test with a
/// clear message: a message is never left unchecked.
pub fn validate_seda(file: &Path) {
    let validator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/acceptance/validate-seda");
    assert!(
        validator.exists(),
        "validate-seda is missing at {}: the SEDA messages cannot be checked (expected at \
         ../shared/acceptance/validate-seda from the repository's root)",
        validator.display()
    );
    let out = std::process::Command::new(&validator)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("validate-seda could not run: {e}"));
    let message = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        out.status.success(),
        "validate-seda refused {}:\n{}{}\n--- message (start) ---\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        message.chars().take(4000).collect::<String>()
    );
}

/// [`validate_seda`] of a message in memory.
pub fn validate_seda_bytes(xml: &[u8]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary folder: {e}"));
    let file = dir.path().join("message.xml");
    std::fs::write(&file, xml).unwrap_or_else(|e| panic!("writing the message: {e}"));
    validate_seda(&file);
}
