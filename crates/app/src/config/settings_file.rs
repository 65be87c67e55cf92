//! `DATA/parapheur.toml`, the settings file: what it may hold, and reading it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{BackupSetting, DropFolderSetting, ProConnectSetting, SmtpSetting};
use crate::AppError;

/// `DATA/parapheur.toml`: every setting optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSettings {
    pub(super) database_url: Option<String>,
    pub(super) master_key_file: Option<PathBuf>,
    pub(super) index_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) drop_folder: Vec<DropFolderSetting>,
    pub(super) public_url: Option<String>,
    pub(super) smtp: Option<SmtpSetting>,
    pub(super) tsa_url: Option<String>,
    pub(super) tsa_ca: Option<PathBuf>,
    pub(super) files: Option<String>,
    pub(super) files_dir: Option<PathBuf>,
    pub(super) files_credentials_file: Option<PathBuf>,
    pub(super) anchors_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    pub(super) ocr_workers: Option<usize>,
    pub(super) poll_seconds: Option<u64>,
    pub(super) pow_bits: Option<u8>,
    pub(super) api_requests_per_minute: Option<u32>,
    pub(super) lock_timeout_ms: Option<u64>,
    pub(super) outbound_internal_addresses: Option<bool>,
    pub(super) outbound_plain_text: Option<bool>,
    pub(super) admin_second_factor: Option<bool>,
    pub(super) backup: Option<BackupSetting>,
    pub(super) background: Option<bool>,
    pub(super) node_name: Option<String>,
    pub(super) metrics_token: Option<String>,
    pub(super) proconnect: Option<ProConnectSetting>,
}

pub(super) fn read_settings(path: &Path) -> Result<FileSettings, AppError> {
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
