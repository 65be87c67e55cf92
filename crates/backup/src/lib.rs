//! Off-site copies of a parapheur box, made by the stock `restic` program.
//!
//! The copies are restic repositories (docs/ARCHITECTURE.md, "Off-site copies", says why):
//! encrypted on the box with a password derived from the installation's master key, so the
//! storage operator reads nothing; deduplicated and incremental by restic's content-defined
//! chunks; kept by a retention policy (recent, daily, weekly, monthly). A commune can be
//! restored with the stock `restic` alone, without parapheur.
//!
//! This crate only drives the program: it knows nothing of items, databases or keys. The
//! application decides what goes into a snapshot and where the password comes from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::process::Command;
use zeroize::Zeroizing;

/// Errors of the copies, in French for the people who run the town hall.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "le programme restic est introuvable ({0}) : installez-le (apt-get install restic) ou \
         donnez son chemin dans PARAPHEUR_RESTIC"
    )]
    ProgramMissing(String),
    #[error(
        "la clé ne déverrouille pas le dépôt de copies {location} : ce n'est pas la clé \
         maître de cette installation, ou ce dépôt est celui d'une autre"
    )]
    WrongKey { location: String },
    #[error("aucun dépôt de copies à {location} (créez-le avec « parapheur backup now »)")]
    NoRepository { location: String },
    #[error("le dépôt de copies {location} est injoignable : {detail}")]
    Unreachable { location: String, detail: String },
    #[error("le dépôt de copies {location} n'a pas répondu en {seconds} s")]
    TimedOut { location: String, seconds: u64 },
    #[error("la vérification du dépôt {location} a trouvé des erreurs : {detail}")]
    Damaged { location: String, detail: String },
    #[error("aucune copie dans le dépôt {location}")]
    NoSnapshot { location: String },
    #[error("restic a échoué ({action}) : {detail}")]
    Failed {
        action: &'static str,
        detail: String,
    },
    #[error("impossible de lancer restic : {0}")]
    Spawn(#[source] std::io::Error),
}

/// The restic program this installation uses.
#[derive(Debug, Clone)]
pub struct Restic {
    program: PathBuf,
}

impl Restic {
    /// `PARAPHEUR_RESTIC` if set, else `restic` on the `PATH`.
    pub fn find() -> Result<Restic, BackupError> {
        let named = std::env::var_os("PARAPHEUR_RESTIC").filter(|v| !v.is_empty());
        let program = match named {
            Some(path) => PathBuf::from(path),
            None => std::env::var_os("PATH")
                .and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join("restic"))
                        .find(|candidate| candidate.is_file())
                })
                .ok_or_else(|| BackupError::ProgramMissing("absent du PATH".into()))?,
        };
        if !program.is_file() {
            return Err(BackupError::ProgramMissing(program.display().to_string()));
        }
        Ok(Restic { program })
    }

    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// A restic repository and what opens it. The password and the credentials are never
/// printed (`Debug` leaves them out).
#[derive(Clone)]
pub struct Repository {
    /// restic's repository string: a folder, `sftp:…`, `rest:…` or `s3:https://host/bucket/prefix`.
    pub location: String,
    password: Zeroizing<String>,
    /// Extra environment of the program (the S3 credentials).
    env: Vec<(String, Zeroizing<String>)>,
    /// restic's local cache of the repository's index (restic's default is in `$HOME`).
    cache_dir: Option<PathBuf>,
    /// Longest a command may run before it is given up (a remote down for a day).
    timeout: Option<Duration>,
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("location", &self.location)
            .field("password", &"<secret>")
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

/// One snapshot of the repository.
#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What one copy sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BackupSummary {
    pub snapshot_id: String,
    #[serde(default)]
    pub files_new: u64,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub files_unmodified: u64,
    /// Bytes added to the repository (after deduplication, before compression).
    #[serde(default)]
    pub data_added: u64,
    #[serde(default)]
    pub total_files_processed: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
    #[serde(default)]
    pub total_duration: f64,
}

/// Which snapshots are kept: every one of the recent days, then one a day, a week, a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_within_days: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_within_days: 2,
            daily: 14,
            weekly: 8,
            monthly: 24,
        }
    }
}

impl Repository {
    pub fn new(location: impl Into<String>, password: Zeroizing<String>) -> Repository {
        Repository {
            location: location.into(),
            password,
            env: Vec::new(),
            cache_dir: None,
            timeout: None,
        }
    }

    /// Adds a variable to the program's environment (S3 credentials, for instance).
    pub fn with_env(mut self, name: &str, value: Zeroizing<String>) -> Repository {
        self.env.push((name.to_owned(), value));
        self
    }

    pub fn with_cache_dir(mut self, dir: PathBuf) -> Repository {
        self.cache_dir = Some(dir);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Repository {
        self.timeout = Some(timeout);
        self
    }

    /// Opens the repository, creating it when there is none. Returns whether it was created.
    /// A repository that exists but does not open with this password is an error, never
    /// overwritten.
    pub async fn open_or_init(&self, restic: &Restic) -> Result<bool, BackupError> {
        match self.run(restic, "ouverture", &["cat", "config"]).await {
            Ok(_) => Ok(false),
            Err(BackupError::NoRepository { .. }) => {
                self.run(restic, "création du dépôt", &["init"]).await?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Copies `paths` as one snapshot tagged with `tags`, under the host name `host`.
    pub async fn backup(
        &self,
        restic: &Restic,
        paths: &[PathBuf],
        tags: &[&str],
        host: &str,
    ) -> Result<BackupSummary, BackupError> {
        let mut args: Vec<String> = vec!["backup".into(), "--json".into(), "--host".into()];
        args.push(host.to_owned());
        for tag in tags {
            args.push("--tag".into());
            args.push((*tag).to_owned());
        }
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let out = self.run_owned(restic, "copie", &args).await?;
        // `--json` prints a status line per second, then the summary.
        out.lines()
            .rev()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|v| v["message_type"] == "summary")
            .find_map(|v| serde_json::from_value::<BackupSummary>(v).ok())
            .ok_or_else(|| BackupError::Failed {
                action: "copie",
                detail: "restic n'a pas donné de résumé".into(),
            })
    }

    /// Snapshots carrying `tag` (every one if `None`), oldest first.
    pub async fn snapshots(
        &self,
        restic: &Restic,
        tag: Option<&str>,
    ) -> Result<Vec<Snapshot>, BackupError> {
        let mut args = vec!["snapshots", "--json"];
        if let Some(tag) = tag {
            args.extend(["--tag", tag]);
        }
        let out = self.run(restic, "liste des copies", &args).await?;
        let mut list: Vec<Snapshot> =
            serde_json::from_str(out.trim()).map_err(|e| BackupError::Failed {
                action: "liste des copies",
                detail: format!("réponse illisible : {e}"),
            })?;
        list.sort_by_key(|s| s.time);
        Ok(list)
    }

    /// Forgets the snapshots the retention does not keep, and prunes their data.
    pub async fn forget(
        &self,
        restic: &Restic,
        tag: &str,
        retention: &Retention,
    ) -> Result<(), BackupError> {
        let args = [
            "forget".to_owned(),
            "--tag".to_owned(),
            tag.to_owned(),
            "--keep-within".to_owned(),
            format!("{}d", retention.keep_within_days),
            "--keep-daily".to_owned(),
            retention.daily.to_string(),
            "--keep-weekly".to_owned(),
            retention.weekly.to_string(),
            "--keep-monthly".to_owned(),
            retention.monthly.to_string(),
            "--prune".to_owned(),
        ];
        self.run_owned(restic, "rétention", &args).await.map(drop)
    }

    /// Removes the stale locks: those of restic processes that died (on this machine) or
    /// that are older than 30 minutes. A copy or a retention cut off with the link leaves its
    /// lock in the repository (it could not remove it), and an exclusive one would block
    /// every later copy. Locks of running processes stay.
    pub async fn unlock(&self, restic: &Restic) -> Result<(), BackupError> {
        self.run(restic, "déverrouillage", &["unlock"])
            .await
            .map(drop)
    }

    /// Checks the repository's structure; with `read_data`, re-reads and verifies every
    /// stored object (restic's `check --read-data`).
    pub async fn check(&self, restic: &Restic, read_data: bool) -> Result<(), BackupError> {
        let mut args = vec!["check"];
        if read_data {
            args.push("--read-data");
        }
        match self.run(restic, "vérification", &args).await {
            Ok(_) => Ok(()),
            Err(BackupError::Failed { detail, .. }) => Err(BackupError::Damaged {
                location: self.location.clone(),
                detail,
            }),
            Err(e) => Err(e),
        }
    }

    /// Restores `snapshot` (an id, or `latest`) under `target`: each copied path lands at
    /// `target` joined with its absolute path at the time of the copy.
    pub async fn restore(
        &self,
        restic: &Restic,
        snapshot: &str,
        target: &Path,
    ) -> Result<(), BackupError> {
        let args = [
            "restore".to_owned(),
            snapshot.to_owned(),
            "--target".to_owned(),
            target.display().to_string(),
        ];
        self.run_owned(restic, "restauration", &args)
            .await
            .map(drop)
    }

    async fn run(
        &self,
        restic: &Restic,
        action: &'static str,
        args: &[&str],
    ) -> Result<String, BackupError> {
        let owned: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        self.run_owned(restic, action, &owned).await
    }

    async fn run_owned(
        &self,
        restic: &Restic,
        action: &'static str,
        args: &[String],
    ) -> Result<String, BackupError> {
        let mut command = Command::new(&restic.program);
        // Only what restic needs: nothing of the server's environment (its own secrets, or
        // a RESTIC_* variable pointing elsewhere) reaches the program.
        command.env_clear();
        for name in ["PATH", "HOME", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .env("RESTIC_REPOSITORY", &self.location)
            .env("RESTIC_PASSWORD", self.password.as_str())
            .env("RESTIC_PROGRESS_FPS", "1");
        match &self.cache_dir {
            Some(dir) => command.env("RESTIC_CACHE_DIR", dir),
            None => command.arg("--no-cache"),
        };
        for (name, value) in &self.env {
            command.env(name, value.as_str());
        }
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.output();
        let output = match self.timeout {
            Some(limit) => {
                tokio::time::timeout(limit, child)
                    .await
                    .map_err(|_| BackupError::TimedOut {
                        location: self.location.clone(),
                        seconds: limit.as_secs(),
                    })?
            }
            None => child.await,
        }
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                BackupError::ProgramMissing(restic.program.display().to_string())
            } else {
                BackupError::Spawn(e)
            }
        })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(classify(&self.location, action, &stderr))
    }
}

/// What restic (Go's network stack) says when the remote does not answer.
const NETWORK_FAILURES: [&str; 6] = [
    "connection refused",
    "connection reset by peer",
    "no such host",
    "i/o timeout",
    "network is unreachable",
    "dial tcp",
];

/// Names what went wrong from restic's message (restic 0.14 has one exit code for most
/// failures).
fn classify(location: &str, action: &'static str, stderr: &str) -> BackupError {
    let lower = stderr.to_lowercase();
    let detail = last_lines(stderr);
    let location = location.to_owned();
    // A remote that does not answer is never taken for a missing repository: restic 0.14
    // says "unable to open config file … connection refused / Is there a repository…?"
    // when S3 is down, and creating a repository there must not even be tried.
    if lower.contains("wrong password") {
        BackupError::WrongKey { location }
    } else if let Some(line) = stderr.lines().find(|line| {
        let line = line.to_lowercase();
        NETWORK_FAILURES.iter().any(|marker| line.contains(marker))
    }) {
        // The line that names the network failure, without restic's guess that follows.
        BackupError::Unreachable {
            location,
            detail: line.trim().to_owned(),
        }
    } else if lower.contains("is there a repository at the following location")
        || lower.contains("unable to open config file")
        || lower.contains("repository does not exist")
    {
        BackupError::NoRepository { location }
    } else if lower.contains("no matching id found") || lower.contains("no snapshot found") {
        BackupError::NoSnapshot { location }
    } else {
        BackupError::Failed { action, detail }
    }
}

/// The end of restic's message: its last lines say what failed.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_messages_are_named() {
        let at = "/srv/copies";
        assert!(matches!(
            classify(at, "ouverture", "Fatal: wrong password or no key found\n"),
            BackupError::WrongKey { .. }
        ));
        assert!(matches!(
            classify(
                at,
                "ouverture",
                "Fatal: unable to open config file: stat /srv/copies/config: no such file or directory\nIs there a repository at the following location?\n/srv/copies\n"
            ),
            BackupError::NoRepository { .. }
        ));
        assert!(matches!(
            classify(
                at,
                "copie",
                "Fatal: unable to open repository: Get \"http://127.0.0.1:9/b/?location=\": dial tcp 127.0.0.1:9: connect: connection refused\n"
            ),
            BackupError::Unreachable { .. }
        ));
        // S3 down, as restic 0.14 says it when opening: unreachable, not "no repository".
        let down = classify(
            "s3:http://127.0.0.1:9/b/r",
            "ouverture",
            "Fatal: unable to open config file: Stat: Get \"http://127.0.0.1:9/b/?location=\": dial tcp 127.0.0.1:9: connect: connection refused\nIs there a repository at the following location?\ns3:http://127.0.0.1:9/b/r\n",
        );
        assert!(matches!(down, BackupError::Unreachable { .. }), "{down:?}");
        let said = down.to_string();
        assert!(
            said.starts_with("le dépôt de copies s3:http://127.0.0.1:9/b/r est injoignable : ")
                && said.ends_with("connection refused"),
            "{said}"
        );
        let other = classify(at, "copie", "one\ntwo\nthree\nfour\n");
        assert_eq!(
            other.to_string(),
            "restic a échoué (copie) : two / three / four"
        );
    }

    #[test]
    fn the_password_never_shows() {
        let repository = Repository::new("/srv/copies", Zeroizing::new("s3cr3t-pw".into()))
            .with_env("AWS_SECRET_ACCESS_KEY", Zeroizing::new("k3y".into()));
        let shown = format!("{repository:?}");
        assert!(
            !shown.contains("s3cr3t-pw") && !shown.contains("k3y"),
            "{shown}"
        );
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY"));
    }
}
