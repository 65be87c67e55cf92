//! Every setting of a register, in one place: where it lives, how its master key is found,
//! and how the server behaves. `parapheur.toml.example` at the root of the repository lists
//! each with a comment (a test holds the two together).
//!
//! Precedence: command-line flags, then the environment (`PARAPHEUR_…`), then
//! `DATA/parapheur.toml`, then the defaults: SQLite at `DATA/parapheur.sqlite`, files under
//! `DATA/files`, master key in `DATA/master.key` (created by `init`/`demo`; keep a copy off
//! the machine). A misspelt key, or a bad value in the file or the environment, stops the
//! program at start with the key (or variable) and the reason: nothing falls back to a
//! default in silence.
//!
//! This file holds the [`Config`] type and the loading order; `settings_file` the file's
//! keys, `environment` the parsers of the values, `services` the service tables (SMTP,
//! bucket, backup, drop folders, ProConnect), `master_key` the key, `describe` what
//! `config check` prints.

mod describe;
mod environment;
mod master_key;
mod services;
mod settings_file;
#[cfg(test)]
mod tests;

use crate::boxed_future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parapheur_files::{FileStore, S3Location};
use parapheur_store::Store;

use crate::AppError;
use environment::{checked_url, env_bool, env_number, parse_proxies, s3_credentials};
pub use master_key::MasterKeySource;
pub(crate) use master_key::write_private;
pub use services::{
    BackupSetting, DropFolderSetting, ProConnectSetting, S3Files, SmtpSecurity, SmtpSetting,
};
use settings_file::read_settings;

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub master_key: MasterKeySource,
    /// Where this node keeps its search index (a cache rebuilt from the database).
    pub index_dir: PathBuf,
    /// Where the encrypted files are kept on disk (`files` or `files_dir`,
    /// `PARAPHEUR_FILES` or `PARAPHEUR_FILES_DIR`), unless `files_s3` is set.
    pub files_dir: PathBuf,
    /// The bucket the files are kept in instead (`files = "s3://…"`).
    pub files_s3: Option<S3Files>,
    /// Where the journal's anchors are kept, apart from the database (`anchors_dir`,
    /// `PARAPHEUR_ANCHORS_DIR`; `DATA/anchors` by default). Keep it on another disk, or
    /// copied off the machine, with the backups.
    pub anchors_dir: PathBuf,
    /// Folders where copiers scan to, each for one commune.
    pub drop_folders: Vec<DropFolderSetting>,
    /// The address citizens reach this server at, for the links in emails
    /// (`public_url` in the file, `PARAPHEUR_PUBLIC_URL`).
    pub public_url: String,
    /// Whether `public_url` was set rather than defaulted: a default follows the address
    /// the server listens on ([`Config::listening_on`]).
    pub public_url_configured: bool,
    /// The SMTP server outgoing email goes through (`[smtp]`); without it, email waits in
    /// the outbox.
    pub smtp: Option<SmtpSetting>,
    /// An RFC 3161 time-stamping authority (`tsa_url` in the file, `PARAPHEUR_TSA_URL`):
    /// with it, signatures are PAdES B-T (time-stamped); without, B-B.
    pub tsa_url: Option<String>,
    /// A PEM file of the certificates (`tsa_ca` in the file, `PARAPHEUR_TSA_CA`) that
    /// time-stamping authorities must chain to for a time-stamp to prove a signature's
    /// date when verifying (read by [`Config::tsa_anchors`] when the app opens). Without
    /// it, time-stamps are reported as not recognised and certificates are judged at the
    /// time of verification.
    pub tsa_ca: Option<PathBuf>,
    /// The reverse proxies in front of this server (`trusted_proxies` in the file,
    /// `PARAPHEUR_TRUSTED_PROXIES`, comma-separated addresses): for a request coming from
    /// one of them, the citizen's address is read from `X-Forwarded-For`, so the limits per
    /// address apply to each citizen rather than to the proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Text extraction processes (OCR) run at once, files of the queue and pages of a scan
    /// together (`ocr_workers` in the file, `PARAPHEUR_OCR_WORKERS`): the number of cores by
    /// default; each tesseract takes about 150 MB.
    pub ocr_workers: usize,
    /// Time between two polls of the mailboxes (`poll_seconds`, `PARAPHEUR_POLL_SECONDS`).
    pub poll_interval: Duration,
    /// Difficulty of the public forms' proof of work, in leading zero bits (`pow_bits`,
    /// `PARAPHEUR_POW_BITS`, 0 to 32).
    pub pow_bits: u8,
    /// Requests one API token may make per minute (`api_requests_per_minute`,
    /// `PARAPHEUR_API_REQUESTS_PER_MINUTE`): 600 by default. Counted in the database, so
    /// every node counts the same.
    pub api_requests_per_minute: u32,
    /// How long a writer waits behind another's lock (`lock_timeout_ms`,
    /// `PARAPHEUR_LOCK_TIMEOUT_MS`): SQLite's busy timeout, PostgreSQL's lock_timeout.
    pub lock_timeout: Duration,
    /// Off-site copies (`[backup]`, `PARAPHEUR_BACKUP_REPOSITORY`); none when unset.
    pub backup: Option<BackupSetting>,
    /// Lets a commune's mailbox settings and webhooks reach loopback, private and link-local
    /// addresses (`outbound_internal_addresses`, `PARAPHEUR_OUTBOUND_INTERNAL_ADDRESSES`):
    /// off by default, so a commune administrator cannot probe the server's own network.
    pub outbound_internal_addresses: bool,
    /// Lets a commune's mailbox settings connect without TLS, and its webhooks use http://
    /// (`outbound_plain_text`, `PARAPHEUR_OUTBOUND_PLAIN_TEXT`): off by default.
    pub outbound_plain_text: bool,
    /// Administrators log in with their second factor, and reach the administration pages
    /// only once they have enrolled one (`admin_second_factor`,
    /// `PARAPHEUR_ADMIN_SECOND_FACTOR`): on by default.
    pub admin_second_factor: bool,
    /// Whether this node runs the background work (`background`, `PARAPHEUR_BACKGROUND`,
    /// `serve --no-background`): on by default. With several nodes on one database, a
    /// node that only answers requests sets it off.
    pub background: bool,
    /// This node's name on the host administrator's page and in the health report
    /// (`node_name`, `PARAPHEUR_NODE_NAME`): the machine's host name by default.
    pub node_name: String,
    /// The bearer token `/metrics` asks for (`metrics_token`, `PARAPHEUR_METRICS_TOKEN`):
    /// without it, `/metrics` answers 404.
    pub metrics_token: Option<String>,
    /// The ProConnect (OpenID Connect) client of the installation (`[proconnect]`): agents
    /// then may log in with their ProConnect identity. One client for the whole server: the
    /// operator registers it once with ProConnect, for every commune it hosts.
    pub proconnect: Option<ProConnectSetting>,
}

/// Where links in emails point when nothing is configured: the default `serve` address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// How often mailboxes are polled unless configured.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Proof-of-work difficulty unless configured: 2^16 hashes, a fraction of a second in a
/// current browser, a second on an old phone.
pub const DEFAULT_POW_BITS: u8 = 16;
/// Requests one API token may make per minute, unless configured.
pub const DEFAULT_API_REQUESTS_PER_MINUTE: u32 = 600;

impl Config {
    pub const FILE_NAME: &'static str = "parapheur.toml";

    /// Builds the configuration of `data_dir`, reading the environment and the config file.
    pub fn load(data_dir: &Path, database_url: Option<String>) -> Result<Config, AppError> {
        Self::load_with(data_dir, database_url, &|name| std::env::var(name).ok())
    }

    /// [`Config::load`] with the environment read through `environment`.
    pub fn load_with(
        data_dir: &Path,
        database_url: Option<String>,
        environment: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, AppError> {
        let settings = read_settings(&data_dir.join(Self::FILE_NAME))?;
        let env = |name: &str| environment(name).filter(|v| !v.trim().is_empty());
        let database_url = database_url
            .or_else(|| env("PARAPHEUR_DATABASE_URL"))
            .or(settings.database_url);
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(AppError::Config(
                "l'URL de base de données doit commencer par postgres:// (sans URL : SQLite dans le dossier de données)".into(),
            ));
        }
        let master_key = match (
            env("PARAPHEUR_MASTER_KEY"),
            env("PARAPHEUR_MASTER_KEY_FILE"),
        ) {
            (Some(inline), _) => MasterKeySource::Inline(inline),
            (None, Some(file)) => MasterKeySource::File(file.into()),
            (None, None) => MasterKeySource::File(
                settings
                    .master_key_file
                    .unwrap_or_else(|| data_dir.join("master.key")),
            ),
        };
        let ocr_workers = env_number("PARAPHEUR_OCR_WORKERS", env("PARAPHEUR_OCR_WORKERS"))?
            .or(settings.ocr_workers);
        if ocr_workers == Some(0) {
            return Err(AppError::Config(
                "ocr_workers (PARAPHEUR_OCR_WORKERS) : au moins 1".into(),
            ));
        }
        let poll_seconds = env_number("PARAPHEUR_POLL_SECONDS", env("PARAPHEUR_POLL_SECONDS"))?
            .or(settings.poll_seconds);
        if poll_seconds == Some(0) {
            return Err(AppError::Config(
                "poll_seconds (PARAPHEUR_POLL_SECONDS) : au moins 1 seconde".into(),
            ));
        }
        let pow_bits =
            env_number("PARAPHEUR_POW_BITS", env("PARAPHEUR_POW_BITS"))?.or(settings.pow_bits);
        let api_requests_per_minute = env_number(
            "PARAPHEUR_API_REQUESTS_PER_MINUTE",
            env("PARAPHEUR_API_REQUESTS_PER_MINUTE"),
        )?
        .or(settings.api_requests_per_minute);
        if api_requests_per_minute == Some(0) {
            return Err(AppError::Config(
                "api_requests_per_minute (PARAPHEUR_API_REQUESTS_PER_MINUTE) : au moins 1".into(),
            ));
        }
        if pow_bits.is_some_and(|b: u8| b > 32) {
            return Err(AppError::Config(
                "pow_bits (PARAPHEUR_POW_BITS) : de 0 à 32".into(),
            ));
        }
        let lock_timeout_ms = env_number(
            "PARAPHEUR_LOCK_TIMEOUT_MS",
            env("PARAPHEUR_LOCK_TIMEOUT_MS"),
        )?
        .or(settings.lock_timeout_ms);
        if lock_timeout_ms == Some(0) {
            return Err(AppError::Config(
                "lock_timeout_ms (PARAPHEUR_LOCK_TIMEOUT_MS) : au moins 1".into(),
            ));
        }
        let configured_url = env("PARAPHEUR_PUBLIC_URL").or(settings.public_url);
        let public_url_configured = configured_url.is_some();
        let public_url = configured_url.unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned());
        let tsa_url = env("PARAPHEUR_TSA_URL").or(settings.tsa_url);
        let outbound_internal_addresses = env_bool(
            "PARAPHEUR_OUTBOUND_INTERNAL_ADDRESSES",
            env("PARAPHEUR_OUTBOUND_INTERNAL_ADDRESSES"),
        )?
        .or(settings.outbound_internal_addresses)
        .unwrap_or(false);
        let outbound_plain_text = env_bool(
            "PARAPHEUR_OUTBOUND_PLAIN_TEXT",
            env("PARAPHEUR_OUTBOUND_PLAIN_TEXT"),
        )?
        .or(settings.outbound_plain_text)
        .unwrap_or(false);
        let admin_second_factor = env_bool(
            "PARAPHEUR_ADMIN_SECOND_FACTOR",
            env("PARAPHEUR_ADMIN_SECOND_FACTOR"),
        )?
        .or(settings.admin_second_factor)
        .unwrap_or(true);
        let backup = match (env("PARAPHEUR_BACKUP_REPOSITORY"), settings.backup) {
            (Some(repository), Some(setting)) => Some(BackupSetting {
                repository,
                ..setting
            }),
            (Some(repository), None) => Some(BackupSetting {
                repository,
                interval_seconds: None,
                credentials_file: None,
            }),
            (None, setting) => setting,
        };
        if let Some(setting) = &backup {
            if setting.repository.trim().is_empty() {
                return Err(AppError::Config(
                    "[backup] repository : l'emplacement du dépôt de copies est vide".into(),
                ));
            }
            if setting.interval_seconds == Some(0) {
                return Err(AppError::Config(
                    "[backup] interval_seconds : au moins 1 seconde".into(),
                ));
            }
        }
        let background = env_bool("PARAPHEUR_BACKGROUND", env("PARAPHEUR_BACKGROUND"))?
            .or(settings.background)
            .unwrap_or(true);
        let node_name = env("PARAPHEUR_NODE_NAME")
            .or(settings.node_name)
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(host_name);
        let metrics_token = env("PARAPHEUR_METRICS_TOKEN").or(settings.metrics_token);
        if metrics_token.as_ref().is_some_and(|t| t.trim().len() < 16) {
            return Err(AppError::Config(
                "metrics_token (PARAPHEUR_METRICS_TOKEN) : au moins 16 caractères".into(),
            ));
        }
        // PARAPHEUR_FILES_DIR and files_dir, from before buckets, still name a folder.
        let files = env("PARAPHEUR_FILES")
            .or_else(|| env("PARAPHEUR_FILES_DIR"))
            .or(settings.files)
            .or_else(|| settings.files_dir.map(|d| d.display().to_string()));
        let (files_dir, files_s3) = match files {
            Some(url) if S3Location::is_s3_url(&url) => {
                let location = S3Location::parse(&url)
                    .map_err(|e| AppError::Config(format!("files (PARAPHEUR_FILES) : {e}")))?;
                let credentials = s3_credentials(&env, settings.files_credentials_file, data_dir)?;
                (
                    data_dir.join("files"),
                    Some(S3Files {
                        location,
                        credentials,
                    }),
                )
            }
            Some(folder) => (PathBuf::from(folder), None),
            None => (data_dir.join("files"), None),
        };
        let proconnect = match settings.proconnect {
            Some(mut setting) => {
                if let Some(secret) = env("PARAPHEUR_PROCONNECT_CLIENT_SECRET") {
                    setting.client_secret = secret;
                }
                // Checked, but kept as written: the issuer is compared to the provider's own
                // exactly (a final slash included).
                checked_url("[proconnect] issuer", &setting.issuer)?;
                setting.issuer = setting.issuer.trim().to_owned();
                if setting.client_id.trim().is_empty() || setting.client_secret.trim().is_empty() {
                    return Err(AppError::Config(
                        "[proconnect] : client_id et client_secret (ou PARAPHEUR_PROCONNECT_CLIENT_SECRET) sont nécessaires".into(),
                    ));
                }
                Some(setting)
            }
            None => None,
        };
        let tsa_ca = env("PARAPHEUR_TSA_CA")
            .map(PathBuf::from)
            .or(settings.tsa_ca);
        Ok(Config {
            data_dir: data_dir.to_path_buf(),
            database_url,
            master_key,
            ocr_workers: ocr_workers.unwrap_or_else(parapheur_extract::available_cores),
            index_dir: env("PARAPHEUR_INDEX_DIR")
                .map(PathBuf::from)
                .or(settings.index_dir)
                .unwrap_or_else(|| data_dir.join("index")),
            files_dir,
            files_s3,
            anchors_dir: env("PARAPHEUR_ANCHORS_DIR")
                .map(PathBuf::from)
                .or(settings.anchors_dir)
                .unwrap_or_else(|| data_dir.join("anchors")),
            drop_folders: settings.drop_folder,
            public_url: checked_url("public_url (PARAPHEUR_PUBLIC_URL)", &public_url)?,
            public_url_configured,
            smtp: settings.smtp,
            backup,
            tsa_url: tsa_url
                .map(|u| checked_url("tsa_url (PARAPHEUR_TSA_URL)", &u))
                .transpose()?,
            tsa_ca,
            trusted_proxies: parse_proxies(
                env("PARAPHEUR_TRUSTED_PROXIES")
                    .map(|v| v.split(',').map(str::to_owned).collect())
                    .unwrap_or(settings.trusted_proxies),
            )?,
            poll_interval: poll_seconds.map_or(DEFAULT_POLL_INTERVAL, Duration::from_secs),
            pow_bits: pow_bits.unwrap_or(DEFAULT_POW_BITS),
            api_requests_per_minute: api_requests_per_minute
                .unwrap_or(DEFAULT_API_REQUESTS_PER_MINUTE),
            lock_timeout: lock_timeout_ms
                .map_or(parapheur_store::DEFAULT_LOCK_TIMEOUT, Duration::from_millis),
            outbound_internal_addresses,
            outbound_plain_text,
            admin_second_factor,
            background,
            node_name,
            metrics_token,
            proconnect,
        })
    }

    /// A configuration with every other setting at its default (tests, tools).
    pub fn new(
        data_dir: &Path,
        database_url: Option<String>,
        master_key: MasterKeySource,
    ) -> Config {
        Config {
            data_dir: data_dir.to_path_buf(),
            database_url,
            master_key,
            index_dir: data_dir.join("index"),
            files_dir: data_dir.join("files"),
            files_s3: None,
            anchors_dir: data_dir.join("anchors"),
            drop_folders: Vec::new(),
            public_url: DEFAULT_PUBLIC_URL.to_owned(),
            public_url_configured: false,
            smtp: None,
            backup: None,
            tsa_url: None,
            tsa_ca: None,
            trusted_proxies: Vec::new(),
            ocr_workers: parapheur_extract::available_cores(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            pow_bits: DEFAULT_POW_BITS,
            api_requests_per_minute: DEFAULT_API_REQUESTS_PER_MINUTE,
            lock_timeout: parapheur_store::DEFAULT_LOCK_TIMEOUT,
            outbound_internal_addresses: false,
            outbound_plain_text: false,
            admin_second_factor: true,
            background: true,
            node_name: host_name(),
            metrics_token: None,
            proconnect: None,
        }
    }

    /// The certificates of `tsa_ca` (DER), none without the setting.
    pub fn tsa_anchors(&self) -> Result<Vec<Vec<u8>>, AppError> {
        let Some(file) = &self.tsa_ca else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            AppError::Config(format!(
                "tsa_ca (PARAPHEUR_TSA_CA) : lecture de {} impossible : {e}",
                file.display()
            ))
        })?;
        parapheur_signing::pki::certificates_from_pem(&text)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                AppError::Config(format!(
                    "tsa_ca (PARAPHEUR_TSA_CA) : {} ne contient aucun certificat PEM lisible",
                    file.display()
                ))
            })
    }

    /// The configuration of a server listening on `listen`: without a configured
    /// `public_url`, links sent to citizens point to that address (a server started on
    /// another port than 8080 would otherwise send links that lead nowhere). An unspecified
    /// address (0.0.0.0, ::) becomes the loopback of its family.
    pub fn listening_on(mut self, listen: std::net::SocketAddr) -> Config {
        if !self.public_url_configured {
            let mut reachable = listen;
            if listen.ip().is_unspecified() {
                reachable.set_ip(match listen {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            self.public_url = format!("http://{reachable}");
        }
        self
    }

    /// Session cookies are marked Secure when citizens and staff reach the server over
    /// https (behind a TLS proxy in production; plain http on a mairie's own box).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn index_dir(&self) -> PathBuf {
        self.index_dir.clone()
    }

    pub fn files_dir(&self) -> PathBuf {
        self.files_dir.clone()
    }

    /// The file store: the bucket when one is set, else the folder (created if missing).
    pub fn open_files(&self) -> Result<FileStore, AppError> {
        Ok(match &self.files_s3 {
            Some(s3) => FileStore::s3(&s3.location, &s3.credentials)?,
            None => FileStore::local(&self.files_dir)?,
        })
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("parapheur.sqlite")
    }

    /// True once the register has been set up here.
    pub fn is_initialised(&self) -> bool {
        self.database_url.is_some() || self.sqlite_path().exists()
    }

    #[boxed_future]
    pub async fn open_store(&self) -> Result<Store, AppError> {
        Ok(match &self.database_url {
            Some(url) => Store::open_postgres(url, self.lock_timeout).await?,
            None => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    AppError::Config(format!(
                        "impossible de créer le dossier de données {} : {e}",
                        self.data_dir.display()
                    ))
                })?;
                Store::open_sqlite(&self.sqlite_path(), self.lock_timeout).await?
            }
        })
    }
}

/// The machine's host name, the default name of a node.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "parapheur".to_owned())
}
