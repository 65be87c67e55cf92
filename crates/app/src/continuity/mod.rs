//! Off-site copies of a mairie box, and its restoration from them.
//!
//! A copy is a restic snapshot (crate `backup`) of three things: a consistent copy of the
//! SQLite register (`VACUUM INTO`, with the configuration file and a manifest beside it),
//! the encrypted files, and the journal's anchors. The search index is left out: it is
//! rebuilt from the register. The master key is left out too: the commune keeps it apart
//! (the recovery sheet), and the repository's password is derived from it, so the copy
//! and the key together restore everything, and neither alone reveals anything.
//!
//! The server copies continuously (`copy_continuously`): every `interval` (start to start)
//! it looks whether the register changed since the last copy (its journal heads, what
//! changes without a journal entry and the anchors, not the node's heartbeat) and, if so,
//! makes one, so every committed change is off site within about max(`interval`, copy)
//! plus the copy's duration. Once a day the retention forgets the snapshots it does not
//! keep. What happened is kept in `DATA/copies.json`, read by the administration page and
//! `parapheur backup status`.

use crate::boxed_future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parapheur_backup::{BackupError, Repository, Restic, Retention, Snapshot};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

mod sheet;

pub use sheet::recovery_sheet_pdf;

use crate::config::BackupSetting;
use crate::{App, AppError, Config};

/// What the repository's password is derived for, from the master key.
const RESTIC_PURPOSE: &str = "off-site copies (restic)";
/// Every snapshot of parapheur carries this tag (a repository may hold other things).
pub const TAG: &str = "parapheur";
/// The host name the snapshots are made under, the same on every machine, so that a
/// restored box carries on the same series.
const HOST: &str = "parapheur";
/// Where the register's copy is prepared, inside the data folder.
const STAGING: &str = "copie-en-cours";
/// What a copy holds beside the register, to put each part back in its place.
const MANIFEST: &str = "manifeste.json";
const STATE_FILE: &str = "copies.json";
/// Looks for changes to copy this often unless configured.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// A copy that takes longer than this is given up (and retried at the next look).
const COPY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Administrators are told when no copy succeeded for this long.
const STOPPED_AFTER: chrono::Duration = chrono::Duration::hours(1);
/// The retention runs at most this often.
const FORGET_EVERY: chrono::Duration = chrono::Duration::hours(24);
/// Environment variables passed on to restic (the S3 credentials), from the server's
/// environment or the credentials file.
const PASSED_ON: [&str; 4] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
];

/// What the box remembers of its copies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CopyState {
    pub last_success_at: Option<DateTime<Utc>>,
    pub snapshot_id: Option<String>,
    /// Bytes the last copy added to the repository, and how long it took.
    pub data_added: u64,
    pub seconds: f64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last failure's message (French), cleared by a success.
    pub last_error: Option<String>,
    /// What the register looked like at the last copy (`fingerprint`).
    pub fingerprint: Option<String>,
    pub last_forget_at: Option<DateTime<Utc>>,
}

/// The manifest stored beside the register's copy.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    made_at: DateTime<Utc>,
    files_dir: PathBuf,
    anchors_dir: PathBuf,
    version: String,
}

/// One copy made.
#[derive(Debug, Clone, Serialize)]
pub struct CopyMade {
    pub snapshot_id: String,
    pub created_repository: bool,
    pub files_new: u64,
    pub data_added: u64,
    pub seconds: f64,
}

/// What `restore` did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub snapshot_id: String,
    pub snapshot_time: DateTime<Utc>,
    pub files: u64,
}

impl From<BackupError> for AppError {
    fn from(e: BackupError) -> Self {
        AppError::Config(e.to_string())
    }
}

/// The repository of `setting`, opened with the password derived from the master key.
fn repository(config: &Config, setting: &BackupSetting) -> Result<Repository, AppError> {
    let master = config.load_master_key()?;
    let password = Zeroizing::new(hex::encode(master.derive(RESTIC_PURPOSE)));
    let mut repository = Repository::new(setting.repository.clone(), password)
        .with_cache_dir(config.data_dir.join("cache").join("restic"))
        .with_timeout(COPY_TIMEOUT);
    for name in PASSED_ON {
        if let Ok(value) = std::env::var(name)
            && !value.is_empty()
        {
            repository = repository.with_env(name, Zeroizing::new(value));
        }
    }
    if let Some(file) = &setting.credentials_file {
        for (name, value) in read_credentials(file)? {
            repository = repository.with_env(&name, value);
        }
    }
    Ok(repository)
}

/// `NAME=value` lines of a file that only its owner may read.
fn read_credentials(path: &Path) -> Result<Vec<(String, Zeroizing<String>)>, AppError> {
    let unreadable = |e: std::io::Error| {
        AppError::Config(format!(
            "fichier d'accès aux copies {} illisible : {e}",
            path.display()
        ))
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(unreadable)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(AppError::Config(format!(
                "le fichier d'accès aux copies {} est lisible par d'autres que son \
                 propriétaire (mode {:o}) : chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text).map_err(unreadable)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(AppError::Config(format!(
                "{} ligne {} : « NOM=valeur » attendu",
                path.display(),
                n + 1
            )));
        };
        let name = name.trim();
        if !PASSED_ON.contains(&name) {
            return Err(AppError::Config(format!(
                "{} ligne {} : {name} n'est pas une variable permise ({})",
                path.display(),
                n + 1,
                PASSED_ON.join(", ")
            )));
        }
        out.push((name.to_owned(), Zeroizing::new(value.trim().to_owned())));
    }
    Ok(out)
}

fn setting(config: &Config) -> Result<&BackupSetting, AppError> {
    config.backup.as_ref().ok_or_else(|| {
        AppError::Config(
            "aucune copie hors site configurée : ajoutez [backup] repository = \"…\" à \
             parapheur.toml (ou PARAPHEUR_BACKUP_REPOSITORY)"
                .into(),
        )
    })
}

/// Where a server's copies go, for the administration page.
#[derive(Debug)]
pub struct CopiesPlace {
    pub repository: String,
    pub state_file: PathBuf,
}

/// What the administration page says of the copies.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CopiesOverview {
    /// A hosted platform: PostgreSQL and the files are copied by the host (pgBackRest, S3
    /// replication), not by parapheur.
    ByTheHost,
    NotConfigured,
    Configured {
        repository: String,
        state: Option<CopyState>,
    },
}

pub(crate) fn state_file(config: &Config) -> PathBuf {
    config.data_dir.join(STATE_FILE)
}

/// What the box remembers of its copies (`None` before the first attempt).
pub fn state(config: &Config) -> Result<Option<CopyState>, AppError> {
    read_state(&state_file(config))
}

fn read_state(path: &Path) -> Result<Option<CopyState>, AppError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AppError::Config(format!("{} illisible : {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::Config(format!(
            "{} illisible : {e}",
            path.display()
        ))),
    }
}

fn save_state(config: &Config, state: &CopyState) -> Result<(), AppError> {
    let path = state_file(config);
    let temporary = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| AppError::internal(format!("état des copies : {e}")))?;
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| AppError::Config(format!("impossible d'écrire {} : {e}", path.display())))
}

/// What the register holds (`Store::change_mark`: the journal heads and what changes without
/// a journal entry) and the anchors kept beside it (a time-stamped anchor is a file written
/// with no commit), hashed: equal between two looks when nothing worth a copy changed. The
/// node's heartbeat, written every 15 s, is not in it: an idle box makes no copy. The
/// encrypted files are written before the commits that name them.
async fn fingerprint(app: &App, config: &Config) -> Result<String, AppError> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(app.store().change_mark().await?.as_bytes());
    let mut anchors = Vec::new();
    list_files(&config.anchors_dir, &mut anchors);
    anchors.sort();
    for (path, size) in anchors {
        hasher.update(format!("anchor {} {size}\n", path.display()).as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Every file under `dir`, with its size.
fn list_files(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        match entry.metadata() {
            Ok(m) if m.is_dir() => list_files(&entry.path(), out),
            Ok(m) => out.push((entry.path(), m.len())),
            Err(_) => {}
        }
    }
}

impl App {
    /// The copies as the administration page shows them.
    pub fn copies_overview(&self) -> CopiesOverview {
        if self.store().backend() == parapheur_store::Backend::Postgres {
            return CopiesOverview::ByTheHost;
        }
        match &self.copies {
            None => CopiesOverview::NotConfigured,
            Some(place) => CopiesOverview::Configured {
                repository: place.repository.clone(),
                // An unreadable state reads as "no copy yet": the page must still show.
                state: read_state(&place.state_file).ok().flatten(),
            },
        }
    }

    /// Makes one off-site copy now, creating the repository on first use.
    #[boxed_future]
    pub async fn copy_off_site(&self, config: &Config) -> Result<CopyMade, AppError> {
        let setting = setting(config)?;
        let restic = Restic::find()?;
        let repository = repository(config, setting)?;
        let mut state = state(config)?.unwrap_or_default();
        if state.last_error.is_some() {
            // The last attempt failed, perhaps with the link cut in the middle: the lock it
            // left would block this copy. Only stale locks go; a failure here is the copy's.
            if let Err(e) = repository.unlock(&restic).await {
                tracing::debug!(error = %e, "off-site copies: stale locks not removed");
            }
        }
        state.last_attempt_at = Some(Utc::now());
        let result = self.copy_with(config, &restic, &repository).await;
        match &result {
            Ok((made, seen)) => {
                state.last_success_at = state.last_attempt_at;
                state.snapshot_id = Some(made.snapshot_id.clone());
                state.data_added = made.data_added;
                state.seconds = made.seconds;
                state.last_error = None;
                state.fingerprint = Some(seen.clone());
            }
            Err(e) => state.last_error = Some(e.to_string()),
        }
        save_state(config, &state)?;
        result.map(|(made, _)| made)
    }

    async fn copy_with(
        &self,
        config: &Config,
        restic: &Restic,
        repository: &Repository,
    ) -> Result<(CopyMade, String), AppError> {
        let started = std::time::Instant::now();
        let created_repository = repository.open_or_init(restic).await?;
        // restic records the paths as they are given, and the restore finds each part under
        // its recorded path: a relative `--data` would make a copy that does not restore.
        let absolute = |path: &Path| {
            std::path::absolute(path).map_err(|e| {
                AppError::Config(format!("chemin de {} introuvable : {e}", path.display()))
            })
        };
        let files_dir = absolute(&config.files_dir)?;
        let anchors_dir = absolute(&config.anchors_dir)?;
        let staging = absolute(&config.data_dir.join(STAGING))?;
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| {
            AppError::Config(format!("impossible de créer {} : {e}", staging.display()))
        })?;
        // Read before the copy: a change committed during it makes the next look copy again.
        let seen = fingerprint(self, config).await?;
        self.store()
            .snapshot_sqlite(&staging.join("parapheur.sqlite"))
            .await?;
        let settings_file = config.data_dir.join(Config::FILE_NAME);
        if settings_file.exists() {
            std::fs::copy(&settings_file, staging.join(Config::FILE_NAME)).map_err(|e| {
                AppError::Config(format!("copie de {} : {e}", settings_file.display()))
            })?;
        }
        let manifest = Manifest {
            format: 1,
            made_at: Utc::now(),
            files_dir: files_dir.clone(),
            anchors_dir: anchors_dir.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        std::fs::write(
            staging.join(MANIFEST),
            serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
        )
        .map_err(|e| AppError::Config(format!("manifeste de la copie : {e}")))?;
        // The files are written before the rows that name them: files read after the
        // register hold at least what it names.
        std::fs::create_dir_all(&files_dir).ok();
        std::fs::create_dir_all(&anchors_dir).ok();
        let paths = [staging.clone(), files_dir, anchors_dir];
        let summary = repository.backup(restic, &paths, &[TAG], HOST).await;
        let _ = std::fs::remove_dir_all(&staging);
        let summary = summary?;
        Ok((
            CopyMade {
                snapshot_id: summary.snapshot_id,
                created_repository,
                files_new: summary.files_new,
                data_added: summary.data_added,
                seconds: started.elapsed().as_secs_f64(),
            },
            seen,
        ))
    }

    /// The snapshots of the repository, oldest first.
    #[boxed_future]
    pub async fn list_copies(&self, config: &Config) -> Result<Vec<Snapshot>, AppError> {
        list_copies(config).await
    }

    /// Checks the repository; with `read_data`, re-reads every object it holds.
    #[boxed_future]
    pub async fn verify_copies(&self, config: &Config, read_data: bool) -> Result<(), AppError> {
        let setting = setting(config)?;
        let restic = Restic::find()?;
        repository(config, setting)?
            .check(&restic, read_data)
            .await
            .map_err(Into::into)
    }

    /// Tells each commune's administrators, once a day, that the copies have stopped: no
    /// success for `STOPPED_AFTER` and the last attempt failed. Returns the emails queued.
    #[boxed_future]
    pub async fn alert_if_copies_stopped(
        &self,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let Some(current) = state(config)? else {
            return Ok(0);
        };
        let Some(error) = &current.last_error else {
            return Ok(0);
        };
        let since = current.last_success_at.or(current.last_attempt_at);
        if since.is_none_or(|at| now - at < STOPPED_AFTER) {
            return Ok(0);
        }
        let last = match current.last_success_at {
            Some(at) => format!(
                "La dernière copie réussie date du {}.",
                at.format("%d/%m/%Y à %H:%M UTC")
            ),
            None => "Aucune copie n'a encore réussi.".to_owned(),
        };
        let mut queued = 0;
        for commune in self.store().communes().await? {
            let today = parapheur_domain::clock::local_date(now, commune.zone());
            for user in self.store().users(commune.id).await? {
                if !user.active || user.role != parapheur_domain::Role::Administrateur {
                    continue;
                }
                let key = format!("copies-stopped:{}:{today}", user.id);
                if self.store().outbox_has_key(commune.id, &key).await? {
                    continue;
                }
                let text = format!(
                    "Bonjour,\n\nLes copies hors site du registre du courrier ne se font plus. \
                     {last}\n\nDernière erreur : {error}\n\nTant qu'elles ne reprennent pas, la \
                     perte de ce serveur ferait perdre les courriers enregistrés depuis. \
                     Vérifiez la connexion à internet et le dépôt des copies, ou prévenez votre \
                     prestataire.\n\nParapheur\n"
                );
                let message = self.notice_to(
                    &commune,
                    &user,
                    "Les copies hors site du registre sont interrompues".to_owned(),
                    text,
                );
                let email = self
                    .prepare_email(&commune, None, "copies-stopped", &message, Some(key), now)
                    .await?;
                let mut tx = self.store().begin(now).await?;
                if self.queue_email(&mut tx, &email).await? {
                    queued += 1;
                }
                tx.commit().await?;
            }
        }
        if queued > 0 {
            self.outbox_queued();
        }
        Ok(queued)
    }

    /// Forgets the snapshots the retention does not keep (at most once a day).
    async fn keep_what_retention_keeps(&self, config: &Config) -> Result<(), AppError> {
        let mut current = state(config)?.unwrap_or_default();
        let now = Utc::now();
        if current
            .last_forget_at
            .is_some_and(|at| now - at < FORGET_EVERY)
        {
            return Ok(());
        }
        let setting = setting(config)?;
        let restic = Restic::find()?;
        repository(config, setting)?
            .forget(&restic, TAG, &Retention::default())
            .await?;
        current.last_forget_at = Some(now);
        save_state(config, &current)
    }
}

/// The snapshots of the configured repository, oldest first (no register needed).
#[boxed_future]
pub async fn list_copies(config: &Config) -> Result<Vec<Snapshot>, AppError> {
    let setting = setting(config)?;
    let restic = Restic::find()?;
    Ok(repository(config, setting)?
        .snapshots(&restic, Some(TAG))
        .await?)
}

/// Puts the copied installation's master key (`text`, base64) in the data folder `dir`,
/// readable by its owner only, before a restore; never over an existing key.
pub fn place_master_key(dir: &Path, text: &str) -> Result<(), AppError> {
    let target = dir.join("master.key");
    if target.exists() {
        return Err(AppError::Config(format!(
            "{} existe déjà : restaurez dans un dossier vide",
            target.display()
        )));
    }
    parapheur_files::MasterKey::from_base64(text.trim())?;
    std::fs::create_dir_all(dir)
        .and_then(|()| crate::config::write_private(&target, text.trim().as_bytes()))
        .map_err(|e| AppError::Config(format!("impossible d'écrire {} : {e}", target.display())))
}

/// Restores a copy into the empty data folder of `config`: the register, its files, its
/// anchors and the configuration file (unless the folder already has one). The master key
/// must be the one of the copied installation; the caller then opens the register, verifies
/// its journal and rebuilds the index.
#[boxed_future]
pub async fn restore(config: &Config, snapshot: Option<&str>) -> Result<Restored, AppError> {
    let setting = setting(config)?;
    if config.database_url.is_some() {
        return Err(AppError::Config(
            "la restauration d'une copie hors site vise une installation SQLite ; \
             PostgreSQL se restaure avec pgBackRest (voir OPERATIONS.md)"
                .into(),
        ));
    }
    let database = config.sqlite_path();
    if database.exists() {
        return Err(AppError::Config(format!(
            "{} existe déjà : restaurez dans un dossier de données vide",
            database.display()
        )));
    }
    let restic = Restic::find()?;
    let repository = repository(config, setting)?;
    let snapshots = repository.snapshots(&restic, Some(TAG)).await?;
    let chosen = match snapshot {
        None | Some("latest") => snapshots.last(),
        Some(id) => snapshots
            .iter()
            .find(|s| s.id.starts_with(id) || s.short_id == id),
    }
    .cloned()
    .ok_or_else(|| BackupError::NoSnapshot {
        location: setting.repository.clone(),
    })?;
    let landing = config.data_dir.join("restauration-en-cours");
    let _ = std::fs::remove_dir_all(&landing);
    std::fs::create_dir_all(&landing).map_err(|e| {
        AppError::Config(format!("impossible de créer {} : {e}", landing.display()))
    })?;
    repository.restore(&restic, &chosen.id, &landing).await?;
    let result = place(config, &landing, &chosen);
    let _ = std::fs::remove_dir_all(&landing);
    let files = result?;
    Ok(Restored {
        snapshot_id: chosen.id,
        snapshot_time: chosen.time,
        files,
    })
}

/// Moves what restic put under `landing` to where `config` wants it.
fn place(config: &Config, landing: &Path, snapshot: &Snapshot) -> Result<u64, AppError> {
    let under = |original: &Path| landing.join(original.strip_prefix("/").unwrap_or(original));
    let staging = snapshot
        .paths
        .iter()
        .map(|p| under(Path::new(p)))
        .find(|p| p.join(MANIFEST).is_file())
        .ok_or_else(|| {
            AppError::Config(format!(
                "la copie {} n'est pas une copie de parapheur (pas de {MANIFEST})",
                snapshot.short_id
            ))
        })?;
    let manifest: Manifest = std::fs::read(staging.join(MANIFEST))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::Config(format!("{MANIFEST} illisible dans la copie")))?;
    let moved = |from: &Path, to: &Path| -> Result<(), AppError> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        if to.is_dir() && std::fs::read_dir(to).is_ok_and(|mut d| d.next().is_none()) {
            std::fs::remove_dir(to).ok();
        }
        std::fs::rename(from, to).map_err(|e| {
            AppError::Config(format!(
                "impossible de placer {} en {} : {e}",
                from.display(),
                to.display()
            ))
        })
    };
    moved(&staging.join("parapheur.sqlite"), &config.sqlite_path())?;
    let settings_file = config.data_dir.join(Config::FILE_NAME);
    if staging.join(Config::FILE_NAME).is_file() && !settings_file.exists() {
        moved(&staging.join(Config::FILE_NAME), &settings_file)?;
    }
    let files_from = under(&manifest.files_dir);
    let count = count_files(&files_from);
    if files_from.is_dir() {
        moved(&files_from, &config.files_dir)?;
    }
    let anchors_from = under(&manifest.anchors_dir);
    if anchors_from.is_dir() {
        moved(&anchors_from, &config.anchors_dir)?;
    }
    Ok(count)
}

fn count_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// Copies continuously while the server runs: a look every `interval`, counted from the
/// start of the previous look (a copy that took longer than the interval is followed by the
/// next look at once), and a copy if the register changed since the last copy (or the last
/// attempt failed). So a change committed just after a copy took its snapshot is off site
/// within about max(`interval`, copy) + copy. Failures are kept in the state (shown on the
/// administration page) and retried at the next look (the locks a cut-off attempt left are
/// removed first); the copies catch up by themselves when the link returns.
#[boxed_future]
pub async fn copy_continuously(app: App, config: Config) {
    let Some(setting) = config.backup.clone() else {
        return;
    };
    let every = setting
        .interval_seconds
        .map_or(DEFAULT_INTERVAL, Duration::from_secs);
    let mut next_look = tokio::time::Instant::now() + every;
    loop {
        // A copy under way finishes; the loop ends when the server stops.
        let wait = next_look.saturating_duration_since(tokio::time::Instant::now());
        if app.pause(wait).await {
            return;
        }
        next_look = tokio::time::Instant::now() + every;
        let last = state(&config).ok().flatten().unwrap_or_default();
        let changed = match fingerprint(&app, &config).await {
            Ok(now) => last.fingerprint.as_deref() != Some(now.as_str()),
            Err(e) => {
                tracing::warn!(error = %e, "off-site copies: register not read, copied anyway");
                true
            }
        };
        if !changed && last.last_error.is_none() {
            continue;
        }
        match app.copy_off_site(&config).await {
            Ok(made) => {
                tracing::info!(snapshot = %made.snapshot_id, bytes = made.data_added, seconds = made.seconds, "off-site copy made");
                if let Err(e) = app.keep_what_retention_keeps(&config).await {
                    tracing::warn!(error = %e, "off-site copies: retention");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "off-site copy failed: retried at the next look");
                if let Err(e) = app.alert_if_copies_stopped(&config, Utc::now()).await {
                    tracing::warn!(error = %e, "off-site copies: alerting the administrators");
                }
            }
        }
    }
}
