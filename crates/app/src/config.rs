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

use crate::boxed_future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use parapheur_files::{FileStore, MasterKey, S3Credentials, S3Location};
use parapheur_store::Store;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// The key itself, base64 (from `PARAPHEUR_MASTER_KEY`).
    Inline(String),
    /// A file holding the key in base64.
    File(PathBuf),
}

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

/// Files on an S3-compatible bucket: where, and the key that opens it (never printed).
#[derive(Debug, Clone)]
pub struct S3Files {
    pub location: S3Location,
    pub credentials: S3Credentials,
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the same machine or network).
    None,
    /// SMTP upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[smtp]` in `parapheur.toml`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSetting {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `none`, `starttls` (the default) or `tls`.
    #[serde(default = "default_smtp_security")]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender address of every email ("Mairie de X" is put before it).
    pub from: String,
    /// Seconds before an unanswering server counts as down.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_seconds: u64,
}

fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
fn default_smtp_timeout() -> u64 {
    30
}

impl std::fmt::Debug for SmtpSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log.
        f.debug_struct("SmtpSetting")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// `[proconnect]` in `parapheur.toml`: the installation's OpenID Connect client at
/// ProConnect (or any OpenID Connect provider). The address ProConnect sends people back
/// to is `public_url` + `/connexion/proconnect/retour`: register that one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProConnectSetting {
    /// The provider's issuer, whose `/.well-known/openid-configuration` is read
    /// (`https://auth.agentconnect.gouv.fr/api/v2` for ProConnect).
    pub issuer: String,
    pub client_id: String,
    /// The client's secret (`PARAPHEUR_PROCONNECT_CLIENT_SECRET` wins).
    #[serde(default)]
    pub client_secret: String,
    /// The `acr_values` asked for (none by default: the provider's own minimum).
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// Only the account of the commune whose SIREN begins the SIRET ProConnect gives (off by
    /// default: an agent may log in under another organisation's SIRET, a CCAS or an
    /// intercommunality; the SIRET still picks the commune among several accounts).
    #[serde(default)]
    pub require_siret: bool,
}

impl std::fmt::Debug for ProConnectSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("ProConnectSetting")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("acr_values", &self.acr_values)
            .field("require_siret", &self.require_siret)
            .finish_non_exhaustive()
    }
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

/// `[backup]` in `parapheur.toml`: where the off-site copies go (see `continuity`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSetting {
    /// A restic repository: a folder (a disk elsewhere), `sftp:…`, `rest:…` or
    /// `s3:https://host/bucket/prefix` (`PARAPHEUR_BACKUP_REPOSITORY`).
    pub repository: String,
    /// Seconds between two looks for changes to copy (30 by default: every change is off
    /// site within a minute).
    pub interval_seconds: Option<u64>,
    /// A file of `NAME=value` lines for restic's environment (the S3 credentials
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`), readable by its owner only.
    pub credentials_file: Option<PathBuf>,
}

/// `[[drop_folder]]` in `parapheur.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropFolderSetting {
    pub path: PathBuf,
    /// The commune's INSEE code.
    pub commune: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key nor a database password.
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_url.as_ref().map(|_| "postgres"))
            .field("files", &self.files_description())
            .finish()
    }
}

/// `DATA/parapheur.toml`: every setting optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    master_key_file: Option<PathBuf>,
    index_dir: Option<PathBuf>,
    #[serde(default)]
    drop_folder: Vec<DropFolderSetting>,
    public_url: Option<String>,
    smtp: Option<SmtpSetting>,
    tsa_url: Option<String>,
    tsa_ca: Option<PathBuf>,
    files: Option<String>,
    files_dir: Option<PathBuf>,
    files_credentials_file: Option<PathBuf>,
    anchors_dir: Option<PathBuf>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    ocr_workers: Option<usize>,
    poll_seconds: Option<u64>,
    pow_bits: Option<u8>,
    api_requests_per_minute: Option<u32>,
    lock_timeout_ms: Option<u64>,
    outbound_internal_addresses: Option<bool>,
    outbound_plain_text: Option<bool>,
    admin_second_factor: Option<bool>,
    backup: Option<BackupSetting>,
    background: Option<bool>,
    node_name: Option<String>,
    metrics_token: Option<String>,
    proconnect: Option<ProConnectSetting>,
}

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

    /// The configuration in effect, one `key = value` line each, secrets masked: what
    /// `parapheur config check` prints.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let path = |p: &Path| p.display().to_string();
        let mut lines = vec![
            ("data_dir", path(&self.data_dir)),
            (
                "database",
                match &self.database_url {
                    Some(url) => parapheur_store::redact_url(url),
                    None => format!("SQLite, {}", path(&self.sqlite_path())),
                },
            ),
            (
                "master_key",
                match &self.master_key {
                    MasterKeySource::Inline(_) => "PARAPHEUR_MASTER_KEY (masquée)".to_owned(),
                    MasterKeySource::File(file) => path(file),
                },
            ),
            ("files", self.files_description()),
            ("anchors_dir", path(&self.anchors_dir)),
            ("index_dir", path(&self.index_dir)),
            ("public_url", self.public_url.clone()),
            (
                "tsa_url",
                self.tsa_url
                    .clone()
                    .unwrap_or_else(|| "aucune (signatures B-B)".into()),
            ),
            (
                "tsa_ca",
                self.tsa_ca.as_deref().map_or_else(
                    || "aucun (horodatages non reconnus à la vérification)".into(),
                    path,
                ),
            ),
            (
                "trusted_proxies",
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("ocr_workers", self.ocr_workers.to_string()),
            ("poll_seconds", self.poll_interval.as_secs().to_string()),
            ("pow_bits", self.pow_bits.to_string()),
            (
                "api_requests_per_minute",
                self.api_requests_per_minute.to_string(),
            ),
            ("lock_timeout_ms", self.lock_timeout.as_millis().to_string()),
            (
                "outbound_internal_addresses",
                self.outbound_internal_addresses.to_string(),
            ),
            ("outbound_plain_text", self.outbound_plain_text.to_string()),
            ("admin_second_factor", self.admin_second_factor.to_string()),
            (
                "proconnect",
                self.proconnect.as_ref().map_or_else(
                    || "aucun (connexion par mot de passe seulement)".into(),
                    |p| format!("{} (client {}, secret masqué)", p.issuer, p.client_id),
                ),
            ),
            (
                "backup",
                self.backup.as_ref().map_or_else(
                    || "aucune copie hors site".into(),
                    |b| {
                        format!(
                            "{} toutes les {} s{}",
                            parapheur_store::redact_url(&b.repository),
                            b.interval_seconds.unwrap_or(30),
                            b.credentials_file.as_deref().map_or_else(String::new, |f| {
                                format!(", accès dans {}", f.display())
                            })
                        )
                    },
                ),
            ),
            ("background", self.background.to_string()),
            ("node_name", self.node_name.clone()),
            (
                "metrics_token",
                if self.metrics_token.is_some() {
                    "(masqué) : /metrics sur présentation du jeton".to_owned()
                } else {
                    "aucun : /metrics désactivé".to_owned()
                },
            ),
        ];
        match &self.smtp {
            Some(smtp) => lines.push((
                "smtp",
                format!(
                    "{}:{} ({:?}), expéditeur {}, identifiant {}, mot de passe {}",
                    smtp.host,
                    smtp.port,
                    smtp.security,
                    smtp.from,
                    smtp.username.as_deref().unwrap_or("aucun"),
                    if smtp.password.is_some() {
                        "********"
                    } else {
                        "aucun"
                    },
                ),
            )),
            None => lines.push(("smtp", "aucun (les courriels attendent)".into())),
        }
        for folder in &self.drop_folders {
            lines.push((
                "drop_folder",
                format!("{} → commune {}", path(&folder.path), folder.commune),
            ));
        }
        lines
    }

    pub fn index_dir(&self) -> PathBuf {
        self.index_dir.clone()
    }

    pub fn files_dir(&self) -> PathBuf {
        self.files_dir.clone()
    }

    /// Where the files are: the folder, or the bucket with the id of its key (not secret).
    pub fn files_description(&self) -> String {
        match &self.files_s3 {
            None => self.files_dir.display().to_string(),
            Some(s3) => format!(
                "{}, clé {}",
                s3.location,
                s3.credentials
                    .access_key_id()
                    .unwrap_or_else(|e| format!("illisible ({e})"))
            ),
        }
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

    pub fn load_master_key(&self) -> Result<MasterKey, AppError> {
        match &self.master_key {
            MasterKeySource::Inline(text) => Ok(MasterKey::from_base64(text)?),
            MasterKeySource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    AppError::Config(format!(
                        "clé maître illisible ({}) : {e} ; « parapheur init » la crée, ou donnez PARAPHEUR_MASTER_KEY",
                        path.display()
                    ))
                })?;
                Ok(MasterKey::from_base64(&text)?)
            }
        }
    }

    /// Creates the master key file if the key comes from a file that does not exist yet.
    /// Returns true when a new key was written.
    pub fn ensure_master_key(&self) -> Result<bool, AppError> {
        let MasterKeySource::File(path) = &self.master_key else {
            return Ok(false);
        };
        if path.exists() {
            return Ok(false);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                AppError::Config(format!("impossible de créer {} : {e}", dir.display()))
            })?;
        }
        let key = MasterKey::generate()?;
        write_private(path, format!("{}\n", key.to_base64()).as_bytes()).map_err(|e| {
            AppError::Config(format!(
                "impossible d'écrire la clé maître {} : {e}",
                path.display()
            ))
        })?;
        Ok(true)
    }
}

/// The key of the files' bucket: `PARAPHEUR_S3_ACCESS_KEY_ID` and
/// `PARAPHEUR_S3_SECRET_ACCESS_KEY`, else `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// (each with its optional `…SESSION_TOKEN`), else a file readable by its owner only
/// (`PARAPHEUR_S3_CREDENTIALS_FILE`, `files_credentials_file`, or `DATA/s3-credentials`).
fn s3_credentials(
    env: &dyn Fn(&str) -> Option<String>,
    file_setting: Option<PathBuf>,
    data_dir: &Path,
) -> Result<S3Credentials, AppError> {
    for prefix in ["PARAPHEUR_S3_", "AWS_"] {
        let (id_var, secret_var) = (
            format!("{prefix}ACCESS_KEY_ID"),
            format!("{prefix}SECRET_ACCESS_KEY"),
        );
        match (env(&id_var), env(&secret_var)) {
            (Some(id), Some(secret)) => {
                let token = env(&format!("{prefix}SESSION_TOKEN"));
                return Ok(S3Credentials::new(id, secret, token));
            }
            (None, None) => {}
            _ => {
                return Err(AppError::Config(format!(
                    "{id_var} et {secret_var} vont ensemble : l'une est donnée sans l'autre"
                )));
            }
        }
    }
    let default = data_dir.join("s3-credentials");
    let file = env("PARAPHEUR_S3_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or(file_setting)
        .or_else(|| default.exists().then_some(default));
    match file {
        Some(file) => S3Credentials::from_file(&file).map_err(|e| {
            AppError::Config(format!(
                "files_credentials_file (PARAPHEUR_S3_CREDENTIALS_FILE) : {e}"
            ))
        }),
        None => Err(AppError::Config(
            "files = s3://… : identifiants S3 manquants. Donnez PARAPHEUR_S3_ACCESS_KEY_ID et \
             PARAPHEUR_S3_SECRET_ACCESS_KEY (ou AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY), ou \
             un fichier files_credentials_file (PARAPHEUR_S3_CREDENTIALS_FILE) en mode 0600"
                .into(),
        )),
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

fn read_settings(path: &Path) -> Result<FileSettings, AppError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| AppError::Config(format!("{} : {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileSettings::default()),
        Err(e) => Err(AppError::Config(format!(
            "{} illisible : {e}",
            path.display()
        ))),
    }
}

/// Writes a secret readable by its owner only, created fresh (never overwriting).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// An environment variable holding a number, refused with its name when it holds
/// anything else.
fn env_number<T: FromStr>(name: &str, value: Option<String>) -> Result<Option<T>, AppError> {
    match value {
        Some(value) => value.trim().parse().map(Some).map_err(|_| {
            AppError::Config(format!(
                "{name} : un nombre entier positif est attendu, pas « {value} »"
            ))
        }),
        None => Ok(None),
    }
}

/// An environment variable holding a yes/no, refused with its name when it holds anything
/// else.
fn env_bool(name: &str, value: Option<String>) -> Result<Option<bool>, AppError> {
    match value.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if matches!(v.as_str(), "1" | "true" | "oui" | "yes") => Ok(Some(true)),
        Some(v) if matches!(v.as_str(), "0" | "false" | "non" | "no") => Ok(Some(false)),
        Some(v) => Err(AppError::Config(format!(
            "{name} : true ou false est attendu, pas « {v} »"
        ))),
    }
}

/// An http(s) address, without its trailing slash.
fn checked_url(setting: &str, value: &str) -> Result<String, AppError> {
    let refused = |why: &str| AppError::Config(format!("{setting} : « {value} » {why}"));
    let url = url::Url::parse(value.trim())
        .map_err(|e| refused(&format!("n'est pas une adresse ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(refused(
            "doit commencer par http:// ou https:// suivi d'un nom de machine",
        ));
    }
    Ok(value.trim().trim_end_matches('/').to_owned())
}

/// The proxies' addresses, each checked: a typo must not silently disable the limits.
fn parse_proxies(list: Vec<String>) -> Result<Vec<std::net::IpAddr>, AppError> {
    list.iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse().map_err(|_| {
                AppError::Config(format!(
                    "trusted_proxies : « {a} » n'est pas une adresse IP (exemple : 127.0.0.1)"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_public_url_follows_the_listen_address_and_a_setting_wins() {
        let dir = tempfile::tempdir().unwrap();
        let listen: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let config = Config::load(dir.path(), None).unwrap().listening_on(listen);
        assert_eq!(config.public_url, "http://127.0.0.1:3000");
        let any: std::net::SocketAddr = "0.0.0.0:9000".parse().unwrap();
        let config = Config::load(dir.path(), None).unwrap().listening_on(any);
        assert_eq!(config.public_url, "http://127.0.0.1:9000");
        let any6: std::net::SocketAddr = "[::]:9000".parse().unwrap();
        let config = Config::load(dir.path(), None).unwrap().listening_on(any6);
        assert_eq!(config.public_url, "http://[::1]:9000");
        std::fs::write(
            dir.path().join(Config::FILE_NAME),
            "public_url = 'https://courrier.mairie.fr'\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap().listening_on(listen);
        assert_eq!(config.public_url, "https://courrier.mairie.fr");
    }

    #[test]
    fn the_proconnect_secret_comes_from_the_environment_and_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(Config::FILE_NAME),
            "[proconnect]\nissuer = 'https://proconnect.gouv.fr/api/v2'\nclient_id = 'service'\n",
        )
        .unwrap();
        let refused = Config::load_with(dir.path(), None, &|_| None).unwrap_err();
        assert!(refused.to_string().contains("client_secret"), "{refused}");
        let config = Config::load_with(dir.path(), None, &|name| {
            (name == "PARAPHEUR_PROCONNECT_CLIENT_SECRET").then(|| "tres-secret-oidc".to_owned())
        })
        .unwrap();
        let setting = config.proconnect.clone().unwrap();
        assert_eq!(setting.client_secret, "tres-secret-oidc");
        assert_eq!(setting.issuer, "https://proconnect.gouv.fr/api/v2");
        let shown = format!("{config:?} {setting:?} {:?}", config.describe());
        assert!(
            shown.contains("https://proconnect.gouv.fr/api/v2"),
            "{shown}"
        );
        assert!(!shown.contains("tres-secret-oidc"), "{shown}");
        std::fs::write(
            dir.path().join(Config::FILE_NAME),
            "[proconnect]\nissuer = 'proconnect.gouv.fr'\nclient_id = 'service'\nclient_secret = 's'\n",
        )
        .unwrap();
        let refused = Config::load_with(dir.path(), None, &|_| None).unwrap_err();
        assert!(refused.to_string().contains("issuer"), "{refused}");
    }

    #[test]
    fn files_are_a_folder_or_a_bucket_with_a_private_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let load = |pairs| Config::load_with(dir.path(), None, &env(pairs));
        let config = load(&[]).unwrap();
        assert_eq!(config.files_dir, dir.path().join("files"));
        assert!(config.files_s3.is_none());
        let config = load(&[("PARAPHEUR_FILES", "/srv/fichiers")]).unwrap();
        assert_eq!(config.files_dir, PathBuf::from("/srv/fichiers"));

        const BUCKET: &str = "s3://mairies/prod?endpoint=https://s3.fr-par.scw.cloud&region=fr-par";
        let config = load(&[
            ("PARAPHEUR_FILES", BUCKET),
            ("AWS_ACCESS_KEY_ID", "SCWKEY"),
            ("AWS_SECRET_ACCESS_KEY", "tres-secret"),
        ])
        .unwrap();
        let s3 = config.files_s3.as_ref().unwrap();
        assert_eq!(
            (s3.location.bucket.as_str(), s3.location.prefix.as_str()),
            ("mairies", "prod")
        );
        let shown = format!("{config:?} {:?}", config.describe());
        assert!(
            shown.contains(
                "s3://mairies/prod (https://s3.fr-par.scw.cloud, région fr-par), clé SCWKEY"
            ),
            "{shown}"
        );
        assert!(!shown.contains("tres-secret"), "{shown}");
        // The PARAPHEUR_ pair wins over the AWS_ one.
        let config = load(&[
            ("PARAPHEUR_FILES", BUCKET),
            ("PARAPHEUR_S3_ACCESS_KEY_ID", "GKPROPRE"),
            ("PARAPHEUR_S3_SECRET_ACCESS_KEY", "s"),
            ("AWS_ACCESS_KEY_ID", "SCWKEY"),
            ("AWS_SECRET_ACCESS_KEY", "tres-secret"),
        ])
        .unwrap();
        assert!(config.files_description().ends_with("clé GKPROPRE"));

        for (pairs, expected) in [
            (
                &[("PARAPHEUR_FILES", BUCKET)][..],
                "identifiants S3 manquants",
            ),
            (
                &[("PARAPHEUR_FILES", BUCKET), ("AWS_ACCESS_KEY_ID", "SCWKEY")][..],
                "AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY vont ensemble",
            ),
            (
                &[(
                    "PARAPHEUR_FILES",
                    "s3://mairies/x?endpoint=http://s3.exemple.fr",
                )][..],
                "seul https est permis",
            ),
        ] {
            let err = load(pairs).unwrap_err().to_string();
            assert!(err.contains(expected), "{pairs:?}: {err}");
        }

        // A credentials file: refused unless private, then read.
        let file = dir.path().join("s3-credentials");
        std::fs::write(
            &file,
            "aws_access_key_id = GKFICHIER
aws_secret_access_key = x
",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load(&[("PARAPHEUR_FILES", BUCKET)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("(mode 0640) : refusé") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = load(&[("PARAPHEUR_FILES", BUCKET)]).unwrap();
        assert!(config.files_description().ends_with("clé GKFICHIER"));
        let config = load(&[
            ("PARAPHEUR_FILES", BUCKET),
            ("PARAPHEUR_S3_CREDENTIALS_FILE", "/nulle/part"),
        ]);
        let err = config.unwrap_err().to_string();
        assert!(err.contains("/nulle/part : illisible"), "{err}");
    }

    #[test]
    fn a_bad_config_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(Config::FILE_NAME), "databse_url = 'x'\n").unwrap();
        let err = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(
            err.contains("parapheur.toml") && err.contains("databse_url"),
            "{err}"
        );
    }

    #[test]
    fn trusted_proxies_are_read_and_a_typo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(Config::FILE_NAME);
        std::fs::write(&file, "trusted_proxies = ['127.0.0.1', '::1']\n").unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        std::fs::write(&file, "trusted_proxies = ['127.0.0.l']\n").unwrap();
        let err = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("127.0.0.l"), "{err}");
    }

    #[test]
    fn ocr_workers_default_to_the_cores_and_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(Config::FILE_NAME);
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(config.ocr_workers, parapheur_extract::available_cores());
        std::fs::write(&file, "ocr_workers = 3\n").unwrap();
        assert_eq!(Config::load(dir.path(), None).unwrap().ocr_workers, 3);
        std::fs::write(&file, "ocr_workers = 0\n").unwrap();
        let err = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("ocr_workers"), "{err}");
        std::fs::write(&file, "ocr_workers = 'deux'\n").unwrap();
        let err = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("ocr_workers"), "{err}");
    }

    /// The fields a struct asks serde for: what its configuration file may hold.
    fn fields_of<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        struct Recorder<'a>(&'a mut Vec<&'static str>);
        impl<'de> serde::Deserializer<'de> for Recorder<'_> {
            type Error = Stop;
            fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                self.0.extend(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut fields = Vec::new();
        let _ = T::deserialize(Recorder(&mut fields));
        assert!(!fields.is_empty());
        fields
    }

    /// `parapheur.toml.example` names every setting, each after a comment, and nothing
    /// else: a setting added to the structs and not to the example (or the reverse) fails.
    #[test]
    fn the_example_file_lists_every_setting() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../parapheur.toml.example");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut uncommented = String::new();
        let mut previous = "";
        for line in text.lines() {
            let setting = line.strip_prefix('#').filter(|rest| {
                rest.starts_with('[')
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    })
            });
            match setting {
                Some(rest) => {
                    if !rest.starts_with('[') {
                        assert!(
                            previous.starts_with("# ") || previous.starts_with("#["),
                            "no comment before « {line} »"
                        );
                    }
                    uncommented.push_str(rest);
                }
                None => uncommented.push_str(line),
            }
            uncommented.push('\n');
            previous = line;
        }
        let table: toml::Table = toml::from_str(&uncommented).unwrap();
        let keys = |t: &toml::Table| {
            let mut k: Vec<String> = t.keys().cloned().collect();
            k.sort();
            k
        };
        let sorted = |mut v: Vec<&'static str>| {
            v.sort_unstable();
            v.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(keys(&table), sorted(fields_of::<FileSettings>()));
        assert_eq!(
            keys(table["smtp"].as_table().unwrap()),
            sorted(fields_of::<SmtpSetting>())
        );
        assert_eq!(
            keys(table["backup"].as_table().unwrap()),
            sorted(fields_of::<BackupSetting>())
        );
        assert_eq!(
            keys(table["proconnect"].as_table().unwrap()),
            sorted(fields_of::<ProConnectSetting>())
        );
        assert_eq!(
            keys(
                table["drop_folder"].as_array().unwrap()[0]
                    .as_table()
                    .unwrap()
            ),
            sorted(fields_of::<DropFolderSetting>())
        );
        // And every value in it is one the program accepts.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(Config::FILE_NAME), &uncommented).unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(config.smtp.unwrap().security, SmtpSecurity::Starttls);
        assert_eq!(config.poll_interval, Duration::from_secs(60));
        assert_eq!(config.proconnect.unwrap().acr_values, ["eidas1"]);
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(Config::FILE_NAME);
        for (text, key) in [
            (
                "[smtp]\nhost = 'h'\nfrom = 'a@b.fr'\nsecurity = 'starttsl'\n",
                "starttsl",
            ),
            ("public_url = 'courrier.mairie.fr'\n", "public_url"),
            ("public_url = 'ftp://courrier.mairie.fr'\n", "public_url"),
            ("tsa_url = 'pas une adresse'\n", "tsa_url"),
            ("pow_bits = 40\n", "pow_bits"),
            ("poll_seconds = 0\n", "poll_seconds"),
            ("lock_timeout_ms = -5\n", "lock_timeout_ms"),
            ("index_dri = '/tmp'\n", "index_dri"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = Config::load(dir.path(), None).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn an_environment_variable_with_a_bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let with = |name: &'static str, value: &'static str| {
            move |n: &str| (n == name).then(|| value.to_owned())
        };
        for (name, value) in [
            ("PARAPHEUR_LOCK_TIMEOUT_MS", "dix"),
            ("PARAPHEUR_POLL_SECONDS", "1m"),
            ("PARAPHEUR_POW_BITS", "-1"),
            ("PARAPHEUR_OCR_WORKERS", "deux"),
            ("PARAPHEUR_PUBLIC_URL", "mairie.fr"),
            ("PARAPHEUR_TRUSTED_PROXIES", "127.0.0.l"),
        ] {
            let err = Config::load_with(dir.path(), None, &with(name, value))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name) || err.contains(value), "{name}: {err}");
            assert!(err.contains(value), "{name}: {err}");
        }
        let config =
            Config::load_with(dir.path(), None, &with("PARAPHEUR_LOCK_TIMEOUT_MS", "2500"))
                .unwrap();
        assert_eq!(config.lock_timeout, Duration::from_millis(2500));
        let config = Config::load_with(
            dir.path(),
            None,
            &with("PARAPHEUR_FILES_DIR", "/srv/fichiers"),
        )
        .unwrap();
        assert_eq!(config.files_dir(), PathBuf::from("/srv/fichiers"));
    }

    #[test]
    fn the_description_masks_secrets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(Config::FILE_NAME),
            "database_url = 'postgres://parapheur:secret-pg@db/parapheur'\n\
             [smtp]\nhost = 'h'\nfrom = 'a@b.fr'\nusername = 'u'\npassword = 'secret-smtp'\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        let text = format!("{:?}", config.describe());
        assert!(!text.contains("secret"), "{text}");
        assert!(
            text.contains("********") && text.contains("parapheur:***@db"),
            "{text}"
        );
    }

    /// `tsa_ca` names a PEM file of the TSA's CA, read when the app opens.
    #[test]
    fn the_tsa_ca_is_read_from_its_pem_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = parapheur_signing::pki::new_ca("TSA CA", "Test", chrono::Utc::now()).unwrap();
        let pem = parapheur_signing::pki::certificate_pem(&ca.chain_der()[0]);
        std::fs::write(dir.path().join("tsa-ca.pem"), pem).unwrap();
        std::fs::write(
            dir.path().join(Config::FILE_NAME),
            format!("tsa_ca = '{}'\n", dir.path().join("tsa-ca.pem").display()),
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(config.tsa_anchors().unwrap(), ca.chain_der());
        let missing = Config::load_with(dir.path(), None, &|name| {
            (name == "PARAPHEUR_TSA_CA").then(|| "/nulle/part.pem".to_owned())
        })
        .unwrap();
        let err = missing.tsa_anchors().unwrap_err().to_string();
        assert!(
            err.contains("tsa_ca") && err.contains("impossible"),
            "{err}"
        );
        assert!(
            Config::new(dir.path(), None, MasterKeySource::Inline(String::new()))
                .tsa_anchors()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_non_postgres_url_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path(), Some("mysql://x".into())).unwrap_err();
        assert!(err.to_string().contains("postgres://"));
    }

    #[test]
    fn the_master_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(
            dir.path(),
            None,
            MasterKeySource::File(dir.path().join("master.key")),
        );
        assert!(config.ensure_master_key().unwrap());
        let first = config.load_master_key().unwrap().fingerprint();
        assert!(!config.ensure_master_key().unwrap());
        assert_eq!(config.load_master_key().unwrap().fingerprint(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{config:?}").contains("master"));
    }
}
