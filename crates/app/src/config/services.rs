//! The settings of the services a register talks to, each a table of `parapheur.toml`:
//! the files' bucket, SMTP, ProConnect, off-site backups and the copiers' drop folders.

use std::path::PathBuf;

use parapheur_files::{S3Credentials, S3Location};
use serde::{Deserialize, Serialize};

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
