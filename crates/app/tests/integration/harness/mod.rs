//! A fresh register per test (made by `parapheur-testkit`, on SQLite or PostgreSQL) and what
//! only the use-case tests need: a system actor, fixed dates, the mail corpus. `both!` runs a
//! test on each backend.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use parapheur_app::domain::{Commune, Role};
use parapheur_app::{Actor, App, Config};
use parapheur_store::citizens::{OutboxMessage, OutboxState};
use tempfile::TempDir;

pub use parapheur_testkit::{Db, TestDatabase, both};

pub struct Harness {
    pub app: App,
    pub config: Config,
    pub dir: TempDir,
    /// The PostgreSQL database, dropped after the register is.
    _database: Option<TestDatabase>,
}

pub const SYSTEM: Actor = Actor::System("test");

/// A fixed "now" for tests whose dates matter.
pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

impl Harness {
    pub async fn new(db: Db) -> Option<Harness> {
        let dir = parapheur_testkit::data_dir();
        let database = parapheur_testkit::database(db).await?;
        let url = database.as_ref().map(|d| d.url().to_owned());
        let config = parapheur_testkit::config(dir.path(), url);
        let app = App::open(&config).await.unwrap();
        Some(Harness {
            app,
            config,
            dir,
            _database: database,
        })
    }

    /// Opens the same register again (another process would see the same).
    pub async fn reopen(&self) -> App {
        App::open(&self.config).await.unwrap()
    }

    /// A user of `commune` with `role`, named after their email.
    pub async fn user(&self, commune: &Commune, email: &str, role: Role) -> Actor {
        let user = self
            .app
            .add_user(
                commune,
                parapheur_app::NewUser {
                    email: email.into(),
                    display_name: email.into(),
                    title: None,
                    role,
                    service_id: None,
                    password: None,
                    host_admin: false,
                },
                &SYSTEM,
                at(2026, 1, 2),
            )
            .await
            .unwrap();
        Actor::User(user.id)
    }

    /// An email of the commune's outbox about `item_id`, stored as the outbox stores it (its
    /// bytes a blob of the file store) and left in `state`; returns the blob's hash.
    pub async fn emailed(
        &self,
        commune: &Commune,
        item_id: Option<uuid::Uuid>,
        state: OutboxState,
        when: DateTime<Utc>,
    ) -> String {
        let email = b"To: jeanne.martin@example.fr\r\nSubject: Votre demande\r\n\r\nMerci.\r\n";
        let key = self.app.data_key(commune.id).await.unwrap();
        let blob = self
            .app
            .files()
            .put(&commune.id.to_string(), &key, email)
            .await
            .unwrap();
        let mut tx = self.app.store().begin(when).await.unwrap();
        tx.insert_outbox(&OutboxMessage {
            id: uuid::Uuid::now_v7(),
            commune_id: commune.id,
            item_id,
            kind: "reply".into(),
            message_id: format!("<{}@mairie.fr>", uuid::Uuid::now_v7()),
            sender: "mairie@mairie.fr".into(),
            recipients: "jeanne.martin@example.fr".into(),
            subject: "Votre demande".into(),
            sha256: blob.sha256.clone(),
            size: email.len() as i64,
            state,
            attempts: 0,
            next_attempt_at: when,
            last_error: None,
            sent_at: (state == OutboxState::Sent).then_some(when),
            dedupe_key: None,
            created_at: when,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        blob.sha256
    }

    pub async fn commune(&self, insee: &str) -> Commune {
        self.app
            .create_commune(insee, &SYSTEM, at(2026, 1, 2))
            .await
            .unwrap()
    }
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
