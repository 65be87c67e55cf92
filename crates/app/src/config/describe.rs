//! How a configuration shows itself, secrets masked: `parapheur config check`'s lines,
//! `Debug`, and where the files are.

use std::path::Path;

use super::{Config, MasterKeySource};

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

impl Config {
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
}
