//! Where the register lives and how its master key is found.
//!
//! Precedence: command-line flags, then the environment (`PARAPHEUR_DATABASE_URL`,
//! `PARAPHEUR_MASTER_KEY`, `PARAPHEUR_MASTER_KEY_FILE`), then `DATA/parapheur.toml`, then the
//! defaults: SQLite at `DATA/parapheur.sqlite`, files under `DATA/files`, master key in
//! `DATA/master.key` (created by `init`/`demo`; keep a copy off the machine).

use std::path::{Path, PathBuf};

use parapheur_files::MasterKey;
use parapheur_store::Store;
use serde::Deserialize;

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
    /// Folders where copiers scan to, each for one commune.
    pub drop_folders: Vec<DropFolderSetting>,
    /// The address citizens reach this server at, for the links in emails
    /// (`public_url` in the file, `PARAPHEUR_PUBLIC_URL`).
    pub public_url: String,
    /// The SMTP server outgoing email goes through (`[smtp]`); without it, email waits in
    /// the outbox.
    pub smtp: Option<SmtpSetting>,
    /// An RFC 3161 time-stamping authority (`tsa_url` in the file, `PARAPHEUR_TSA_URL`):
    /// with it, signatures are PAdES B-T (time-stamped); without, B-B.
    pub tsa_url: Option<String>,
    /// The reverse proxies in front of this server (`trusted_proxies` in the file,
    /// `PARAPHEUR_TRUSTED_PROXIES`, comma-separated addresses): for a request coming from
    /// one of them, the citizen's address is read from `X-Forwarded-For`, so the limits per
    /// address apply to each citizen rather than to the proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Text extraction processes (OCR) run at once, files of the queue and pages of a scan
    /// together (`ocr_workers` in the file, `PARAPHEUR_OCR_WORKERS`): the number of cores by
    /// default; each tesseract takes about 150 MB.
    pub ocr_workers: usize,
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
    pub security: String,
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
fn default_smtp_security() -> String {
    "starttls".to_owned()
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

/// Where links in emails point when nothing is configured: the default `serve` address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

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
    #[serde(default)]
    trusted_proxies: Vec<String>,
    ocr_workers: Option<usize>,
}

impl Config {
    pub const FILE_NAME: &'static str = "parapheur.toml";

    /// Builds the configuration of `data_dir`, reading the environment and the config file.
    pub fn load(data_dir: &Path, database_url: Option<String>) -> Result<Config, AppError> {
        let settings = read_settings(&data_dir.join(Self::FILE_NAME))?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
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
        let ocr_workers = match env("PARAPHEUR_OCR_WORKERS") {
            Some(v) => Some(v.trim().parse::<usize>().map_err(|_| {
                AppError::Config(format!(
                    "PARAPHEUR_OCR_WORKERS : un nombre entier est attendu, pas « {v} »"
                ))
            })?),
            None => settings.ocr_workers,
        };
        if ocr_workers == Some(0) {
            return Err(AppError::Config(
                "ocr_workers (PARAPHEUR_OCR_WORKERS) : au moins 1".into(),
            ));
        }
        Ok(Config {
            data_dir: data_dir.to_path_buf(),
            database_url,
            master_key,
            ocr_workers: ocr_workers.unwrap_or_else(parapheur_extract::available_cores),
            index_dir: settings.index_dir.unwrap_or_else(|| data_dir.join("index")),
            drop_folders: settings.drop_folder,
            public_url: env("PARAPHEUR_PUBLIC_URL")
                .or(settings.public_url)
                .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            smtp: settings.smtp,
            tsa_url: env("PARAPHEUR_TSA_URL").or(settings.tsa_url),
            trusted_proxies: parse_proxies(
                env("PARAPHEUR_TRUSTED_PROXIES")
                    .map(|v| v.split(',').map(str::to_owned).collect())
                    .unwrap_or(settings.trusted_proxies),
            )?,
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
            drop_folders: Vec::new(),
            public_url: DEFAULT_PUBLIC_URL.to_owned(),
            smtp: None,
            tsa_url: None,
            trusted_proxies: Vec::new(),
            ocr_workers: parapheur_extract::available_cores(),
        }
    }

    pub fn index_dir(&self) -> PathBuf {
        self.index_dir.clone()
    }

    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("parapheur.sqlite")
    }

    /// True once the register has been set up here.
    pub fn is_initialised(&self) -> bool {
        self.database_url.is_some() || self.sqlite_path().exists()
    }

    pub async fn open_store(&self) -> Result<Store, AppError> {
        Ok(match &self.database_url {
            Some(url) => Store::open_postgres(url).await?,
            None => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    AppError::Config(format!(
                        "impossible de créer le dossier de données {} : {e}",
                        self.data_dir.display()
                    ))
                })?;
                Store::open_sqlite(&self.sqlite_path()).await?
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
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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
