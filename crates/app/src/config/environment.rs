//! The parsers of the values given in the environment (and the file): numbers, yes/no,
//! addresses, proxies, and the files' bucket credentials.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use parapheur_files::S3Credentials;

use crate::AppError;

/// The key of the files' bucket: `PARAPHEUR_S3_ACCESS_KEY_ID` and
/// `PARAPHEUR_S3_SECRET_ACCESS_KEY`, else `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// (each with its optional `…SESSION_TOKEN`), else a file readable by its owner only
/// (`PARAPHEUR_S3_CREDENTIALS_FILE`, `files_credentials_file`, or `DATA/s3-credentials`).
pub(super) fn s3_credentials(
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

/// An environment variable holding a number, refused with its name when it holds
/// anything else.
pub(super) fn env_number<T: FromStr>(
    name: &str,
    value: Option<String>,
) -> Result<Option<T>, AppError> {
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
pub(super) fn env_bool(name: &str, value: Option<String>) -> Result<Option<bool>, AppError> {
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
pub(super) fn checked_url(setting: &str, value: &str) -> Result<String, AppError> {
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
pub(super) fn parse_proxies(list: Vec<String>) -> Result<Vec<std::net::IpAddr>, AppError> {
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
