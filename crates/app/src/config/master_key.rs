//! The register's master key: where it comes from, reading it, creating its file.

use std::path::{Path, PathBuf};

use parapheur_files::MasterKey;

use super::Config;
use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// The key itself, base64 (from `PARAPHEUR_MASTER_KEY`).
    Inline(String),
    /// A file holding the key in base64.
    File(PathBuf),
}

impl Config {
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
