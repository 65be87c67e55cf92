//! The use cases of the register, shared by every front end (CLI, web, capture).
//!
//! Each use case takes the acting person and "now" as parameters, checks what it must,
//! calls the domain rules, writes through one store transaction (which numbers and journals
//! the change), and returns plain values. The web and the CLI call only this crate, for
//! reads (each feature's `views`) as for changes; they never talk to the store or the file
//! store, which this crate does not re-export.
//!
//! Files are written to the content-addressed store *before* the transaction that refers to
//! them commits: a crash in between leaves an unreferenced file (which `fsck` collects),
//! never a row that points to a missing file.

/// Every public use case returns a boxed future. An `async fn`'s body is otherwise compiled
/// again into each crate that awaits it (rustc does not export coroutines), so `web` and the
/// binary each carried a copy of all of `app` and `store`: minutes of the cold release build.
/// Boxed, the body is compiled once, here; the cost is one allocation per call.
pub(crate) use async_recursion::async_recursion as boxed_future;
pub mod administration;
pub mod api;
pub mod archives;
pub mod background;
pub mod calls;
pub mod capture;
pub mod citizens;
mod config;
pub mod continuity;
mod demo;
mod error;
mod letters;
pub(crate) mod limits;
pub mod metrics;
pub mod nodes;
pub mod outbox;
pub mod parapheur;
pub mod portability;
pub mod privacy;
pub mod register;
pub mod search;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use parapheur_files::{DataKey, FileStore, MasterKey};
use parapheur_store::Store;
use uuid::Uuid;

pub use administration::password::{hash_password, verify_password};
pub use administration::setup::{NewUser, Party};
pub use config::{
    BackupSetting, Config, DEFAULT_POLL_INTERVAL, DEFAULT_POW_BITS, DEFAULT_PUBLIC_URL,
    MasterKeySource, ProConnectSetting, S3Files, SmtpSecurity, SmtpSetting,
};
pub use demo::{DEMO_INSEE, DEMO_PASSWORD, DEMO_SECOND_FACTOR, DemoLogin, DemoSummary, demo_forms};
pub use error::{AppError, ErrorKind};
pub use register::integrity::{FsckOptions, FsckReport, JournalVerdict};
pub use register::lifecycle::Change;
pub use register::{NewFile, Registered};

pub use parapheur_domain as domain;
pub use parapheur_signing as signing;

/// Who is acting: a user of a commune, or the system itself (CLI, capture, demo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    System(&'static str),
}

impl Actor {
    /// How the journal names the actor.
    pub fn journal_name(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::System(name) => format!("system:{name}"),
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Actor::User(id) => Some(*id),
            Actor::System(_) => None,
        }
    }
}

/// The open register: database, files and keys.
#[derive(Clone)]
pub struct App {
    store: Store,
    files: FileStore,
    master: Arc<MasterKey>,
    /// Unwrapped commune keys, so each is unwrapped once per process.
    keys: Arc<Mutex<HashMap<Uuid, Arc<DataKey>>>>,
    /// The full-text index, one per commune, kept up with the journal.
    search: Arc<parapheur_search::SearchIndex>,
    /// One index writer at a time in this process.
    index_lock: Arc<tokio::sync::Mutex<()>>,
    /// Wakes the job worker when jobs are queued.
    work: Arc<tokio::sync::Notify>,
    /// The extraction programs of this machine, found on first use.
    tools: Arc<OnceLock<Arc<parapheur_extract::Tools>>>,
    /// Where citizens reach this server (links in emails), without a trailing slash.
    public_url: Arc<str>,
    /// The SMTP server of outgoing email, if configured.
    smtp: Option<Arc<SmtpSetting>>,
    /// Wakes the email sender when a message is queued.
    outbox_work: Arc<tokio::sync::Notify>,
    /// Wakes the webhook sender when a delivery is queued.
    webhook_work: Arc<tokio::sync::Notify>,
    /// Tells the pages open that a call rang, was answered or ended (the call sheet).
    call_notices: tokio::sync::broadcast::Sender<calls::CallNotice>,
    /// Said once: no SMTP server is configured, so emails wait (not once per attempt).
    smtp_missing_said: Arc<std::sync::atomic::AtomicBool>,
    /// The time-stamping authority signatures are stamped by, if configured.
    tsa_url: Option<Arc<str>>,
    /// The certificates time-stamping authorities must chain to when verifying (DER).
    tsa_anchors: Arc<[Vec<u8>]>,
    trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Extraction processes at once (files and pages together).
    ocr_workers: usize,
    /// Difficulty of the public forms' proof of work.
    pow_bits: u8,
    /// Calls one API token may make per minute.
    api_requests_per_minute: u32,
    /// Where the communes' mailbox settings may connect.
    network: parapheur_mailbox::NetworkPolicy,
    /// Where the journal's anchors are kept (apart from the database).
    anchors_dir: Arc<std::path::Path>,
    /// Administrators need their second factor.
    admin_second_factor: bool,
    /// The ProConnect client of the installation, if configured.
    proconnect: Option<Arc<config::ProConnectSetting>>,
    /// The ProConnect provider's metadata and keys last read.
    proconnect_discovery: Arc<administration::proconnect::DiscoveryCache>,
    /// The background loops' restarts and last panics, for the health report.
    loops: Arc<Mutex<std::collections::BTreeMap<String, background::LoopHealth>>>,
    /// Where letters are laid out: in a child process on a server, so that typst's memory
    /// goes back to the system.
    layout: parapheur_render::Layout,
    /// Where the off-site copies go and what the box remembers of them, if configured.
    copies: Option<Arc<continuity::CopiesPlace>>,
    /// This node's counters (`/metrics`).
    metrics: Arc<metrics::Metrics>,
    /// The bearer token `/metrics` asks for; none: no metrics served.
    metrics_token: Option<Arc<str>>,
    /// Who this process is among the nodes of the database.
    node: Arc<nodes::NodeIdentity>,
    /// Tells the background loops to stop at their next safe point (graceful shutdown).
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// The supervised loops' tasks, awaited when stopping.
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl App {
    /// Opens the register described by `config`: database (migrated), files and master key.
    #[boxed_future]
    pub async fn open(config: &Config) -> Result<App, AppError> {
        let master = config.load_master_key()?;
        let tsa_anchors = config.tsa_anchors()?;
        let store = config.open_store().await?;
        let files = config.open_files()?;
        let search = parapheur_search::SearchIndex::open(&config.index_dir())
            .map_err(|e| AppError::internal(format!("index de recherche : {e}")))?;
        let app = App {
            store,
            files,
            master: Arc::new(master),
            keys: Arc::default(),
            search: Arc::new(search),
            index_lock: Arc::default(),
            work: Arc::default(),
            tools: Arc::default(),
            public_url: Arc::from(config.public_url.as_str()),
            smtp: config.smtp.clone().map(Arc::new),
            outbox_work: Arc::default(),
            webhook_work: Arc::default(),
            call_notices: tokio::sync::broadcast::channel(64).0,
            smtp_missing_said: Arc::default(),
            tsa_url: config.tsa_url.as_deref().map(Arc::from),
            tsa_anchors: tsa_anchors.into(),
            trusted_proxies: config.trusted_proxies.clone().into(),
            ocr_workers: config.ocr_workers,
            pow_bits: config.pow_bits,
            api_requests_per_minute: config.api_requests_per_minute,
            network: parapheur_mailbox::NetworkPolicy {
                allow_internal: config.outbound_internal_addresses,
                allow_plain_text: config.outbound_plain_text,
            },
            anchors_dir: Arc::from(config.anchors_dir.as_path()),
            admin_second_factor: config.admin_second_factor,
            proconnect: config.proconnect.clone().map(Arc::new),
            proconnect_discovery: Arc::default(),
            loops: Arc::default(),
            layout: parapheur_render::Layout::InProcess,
            copies: config.backup.as_ref().map(|setting| {
                Arc::new(continuity::CopiesPlace {
                    repository: setting.repository.clone(),
                    state_file: continuity::state_file(config),
                })
            }),
            metrics: Arc::default(),
            metrics_token: config.metrics_token.as_deref().map(|t| Arc::from(t.trim())),
            node: Arc::new(nodes::NodeIdentity::new(
                config.node_name.clone(),
                config.background,
            )),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
            tasks: Arc::default(),
        };
        app.check_master_key().await?;
        Ok(app)
    }

    /// Lays documents out as `layout` says (the server: in a child process).
    pub fn set_layout(&mut self, layout: parapheur_render::Layout) {
        self.layout = layout;
    }

    /// Where documents are laid out.
    pub fn layout(&self) -> &parapheur_render::Layout {
        &self.layout
    }

    /// The database, for this crate's use cases; front ends read through the use cases and
    /// the `views` of each feature. Tests reach it with the `testing` feature, for fixtures.
    #[cfg(not(feature = "testing"))]
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The database, opened to tests (the `testing` feature) for fixtures and checks.
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The file store, for this crate's use cases.
    #[cfg(not(feature = "testing"))]
    pub(crate) fn files(&self) -> &FileStore {
        &self.files
    }

    /// The file store, opened to tests (the `testing` feature) for fixtures and checks.
    #[cfg(feature = "testing")]
    pub fn files(&self) -> &FileStore {
        &self.files
    }

    /// The secret that ties an upload kept for a form shown again to its session.
    pub(crate) fn staging_secret(&self) -> [u8; 32] {
        self.master.derive("kept-upload")
    }

    /// The secret that signs the proof-of-work challenges of public forms.
    pub(crate) fn pow_secret(&self) -> [u8; 32] {
        self.master.derive("public-form-pow")
    }

    /// The key that seals what a ProConnect login leaves in the browser between its steps
    /// (the same on every node: derived from the master key).
    pub(crate) fn proconnect_key(&self) -> DataKey {
        DataKey::from_secret(self.master.derive("proconnect-login"))
    }

    /// The ProConnect client of the installation, if configured.
    pub(crate) fn proconnect_setting(&self) -> Option<&config::ProConnectSetting> {
        self.proconnect.as_deref()
    }

    /// The ProConnect provider's metadata and keys last read, on this node.
    pub(crate) fn proconnect_discovery(&self) -> &administration::proconnect::DiscoveryCache {
        &self.proconnect_discovery
    }

    /// Difficulty of the public forms' proof of work, in leading zero bits.
    pub(crate) fn pow_bits(&self) -> u8 {
        self.pow_bits
    }

    /// The bearer token of `/metrics`, if metrics are served.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_deref()
    }

    /// Where citizens reach this server, for links in emails.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[std::net::IpAddr] {
        &self.trusted_proxies
    }

    /// Whether administrators need their second factor (to log in, and to reach the
    /// administration once logged in).
    pub fn admin_second_factor(&self) -> bool {
        self.admin_second_factor
    }

    /// Where the journal's anchors are kept.
    pub fn anchors_dir(&self) -> &std::path::Path {
        &self.anchors_dir
    }

    pub fn tsa_url(&self) -> Option<&str> {
        self.tsa_url.as_deref()
    }

    /// The certificates a time-stamp's authority must chain to for the time-stamp to
    /// prove a date (`tsa_ca`).
    pub fn tsa_anchors(&self) -> &[Vec<u8>] {
        &self.tsa_anchors
    }

    pub fn smtp_setting(&self) -> Option<&SmtpSetting> {
        self.smtp.as_deref()
    }

    /// Wakes the email sender (something was queued or put back).
    pub(crate) fn outbox_queued(&self) {
        self.outbox_work.notify_one();
    }

    /// Waits until an email is queued (the sender's loop).
    #[boxed_future]
    pub async fn outbox_wait(&self) {
        self.outbox_work.notified().await;
    }

    /// Refuses at once a master key other than the one the register was set up with.
    async fn check_master_key(&self) -> Result<(), AppError> {
        if let Some(commune) = self.store.communes().await?.first() {
            self.data_key(commune.id).await?;
        }
        Ok(())
    }

    /// The commune's file key, unwrapped with the master key.
    #[boxed_future]
    pub async fn data_key(&self, commune_id: Uuid) -> Result<Arc<DataKey>, AppError> {
        if let Some(key) = self.cached_key(commune_id) {
            return Ok(key);
        }
        let wrapped = self.store.commune_wrapped_key(commune_id).await?;
        let key = Arc::new(self.master.unwrap(&wrapped, &commune_id.to_string())?);
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(commune_id, key.clone());
        }
        Ok(key)
    }

    fn cached_key(&self, commune_id: Uuid) -> Option<Arc<DataKey>> {
        self.keys.lock().ok()?.get(&commune_id).cloned()
    }

    /// Reads a file of a commune, checking its integrity.
    #[boxed_future]
    pub async fn read_file(&self, commune_id: Uuid, sha256: &str) -> Result<Vec<u8>, AppError> {
        let key = self.data_key(commune_id).await?;
        Ok(self
            .files
            .get(&commune_id.to_string(), &key, sha256)
            .await?)
    }

    #[boxed_future]
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// A register in `dir` on SQLite with a fresh master key, and its configuration (open it
/// again for a second node): this crate's unit tests.
#[cfg(test)]
pub(crate) async fn testing_app(dir: &std::path::Path) -> (App, Config) {
    let config = Config::new(
        dir,
        None,
        MasterKeySource::Inline(MasterKey::generate().unwrap().to_base64()),
    );
    let app = App::open(&config).await.unwrap();
    (app, config)
}
