//! The drop folder: where the copier scans to. Each file becomes a paper item; a file is
//! taken only once it has stopped changing, and leaves the folder only after its item is
//! committed. A file that cannot be registered goes to a `refusés` subfolder with a text
//! file giving the reason; nothing is deleted unregistered.

use crate::boxed_future;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::item::NewItem;
use parapheur_domain::{Channel, Commune};
use parapheur_store::capture::{InboundMessage, InboundState};
use uuid::Uuid;

use crate::capture::{CaptureOutcome, Captured};
use crate::register::{MAX_FILE_BYTES, NewFile, register_in};
use crate::{Actor, App, AppError, ErrorKind};

/// Where refused files go, inside the drop folder.
pub const REFUSED_DIR: &str = "refusés";
/// A file must be unchanged for this long (and across two scans) to be taken.
const SETTLE: Duration = Duration::from_secs(2);

/// The type of a file from its first bytes (in the domain crate, so that the fuzz targets
/// reach it without building the application).
pub use parapheur_domain::upload::sniff;

/// What a scan of the folder remembers between passes: each file's size and time.
#[derive(Debug, Default)]
pub struct FolderWatch {
    seen: HashMap<PathBuf, (u64, SystemTime)>,
}

/// Copiers and editors write temporary names first; never take those.
fn is_temporary(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with('~')
        || [".tmp", ".part", ".crdownload", ".partial", ".swp", "~"]
            .iter()
            .any(|s| lower.ends_with(s))
}

impl FolderWatch {
    /// The files that have settled since the last pass.
    fn settled(&mut self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut ready = Vec::new();
        let mut present = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !meta.is_file() || is_temporary(&name) {
                continue;
            }
            let state = (meta.len(), meta.modified()?);
            let path = entry.path();
            let old_enough = state.1.elapsed().map(|age| age >= SETTLE).unwrap_or(false);
            if self.seen.get(&path) == Some(&state) && old_enough {
                ready.push(path.clone());
            }
            present.insert(path, state);
        }
        self.seen = present;
        ready.sort();
        Ok(ready)
    }
}

impl App {
    /// One pass over a drop folder: registers each settled file as a paper item.
    /// Returns each file's name and outcome.
    pub async fn scan_drop_folder(
        &self,
        commune: &Commune,
        dir: &Path,
        watch: &mut FolderWatch,
        now: impl Fn() -> DateTime<Utc> + Send + Sync,
    ) -> Result<Vec<(String, CaptureOutcome)>, AppError> {
        self.scan_drop_folder_dyn(commune, dir, watch, &now).await
    }

    /// `scan_drop_folder` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn scan_drop_folder_dyn(
        &self,
        commune: &Commune,
        dir: &Path,
        watch: &mut FolderWatch,
        now: &(dyn Fn() -> DateTime<Utc> + Sync),
    ) -> Result<Vec<(String, CaptureOutcome)>, AppError> {
        let ready = watch
            .settled(dir)
            .map_err(|e| AppError::Config(format!("dossier de dépôt {} : {e}", dir.display())))?;
        let mut outcomes = Vec::new();
        for path in ready {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let outcome = self
                .take_dropped_file(commune, dir, &path, &name, now())
                .await?;
            outcomes.push((name, outcome));
        }
        Ok(outcomes)
    }

    async fn take_dropped_file(
        &self,
        commune: &Commune,
        dir: &Path,
        path: &Path,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let now = now.trunc_subsecs(6);
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let refuse = |reason: String| -> Result<CaptureOutcome, AppError> {
            refuse_file(dir, path, name, &reason)?;
            Ok(CaptureOutcome::Quarantined {
                reason,
                inbound_id: Uuid::nil(),
            })
        };
        if size > MAX_FILE_BYTES as u64 {
            return refuse(format!(
                "fichier de {} Mo : la limite est de {} Mo",
                size / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| AppError::internal(format!("lecture de {} : {e}", path.display())))?;
        let Some(media_type) = sniff(&bytes) else {
            return refuse(
                "ni PDF, ni JPEG, ni PNG, ni TIFF : le copieur doit numériser en PDF".to_owned(),
            );
        };
        let sha = parapheur_files::sha256_hex(&bytes);
        if let Some(taken) = self
            .store()
            .inbound_by_key(commune.id, "folder", &sha)
            .await?
        {
            // Already registered (the copier sent it twice): the copy may go.
            remove_file(path)?;
            return Ok(CaptureOutcome::AlreadyTaken {
                chrono: self.chrono_of(commune.id, taken.item_id).await?,
            });
        }
        let today = local_date(now, commune.zone());
        let subject = format!(
            "Document numérisé « {} »",
            name.chars().take(200).collect::<String>()
        );
        let new = NewItem::incoming(Channel::Paper, subject.clone(), today);
        let inbound = InboundMessage {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            source: "folder".into(),
            source_key: sha.clone(),
            origin: path.display().to_string(),
            message_id: None,
            sha256: Some(sha),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            state: InboundState::Registered,
            item_id: None,
            reason: None,
            subject: Some(subject),
            sender: None,
            received_at: now,
            updated_at: now,
        };
        let file = NewFile {
            filename: name.to_owned(),
            media_type: media_type.to_owned(),
            bytes,
        };
        let actor = Actor::System("dépôt");
        let ready = match self.ready_item(commune, new, None, vec![file], now).await {
            Ok(ready) => ready,
            Err(e) if e.kind() == ErrorKind::Invalid => {
                return refuse(e.to_string());
            }
            Err(e) => return Err(e),
        };
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, &actor, ready).await?;
        Captured::new(inbound, None)
            .record(&mut tx, registered.item.id, &actor.journal_name())
            .await?;
        tx.commit().await?;
        self.registered(&registered);
        // Committed: the scan may leave the folder.
        remove_file(path)?;
        Ok(CaptureOutcome::Registered {
            chrono: registered.item.chrono,
            item_id: registered.item.id,
        })
    }
}

fn remove_file(path: &Path) -> Result<(), AppError> {
    std::fs::remove_file(path)
        .map_err(|e| AppError::internal(format!("suppression de {} : {e}", path.display())))
}

/// Moves a refused file aside, with its reason next to it.
fn refuse_file(dir: &Path, path: &Path, name: &str, reason: &str) -> Result<(), AppError> {
    let refused = dir.join(REFUSED_DIR);
    let io = |e: std::io::Error| AppError::internal(format!("{} : {e}", refused.display()));
    std::fs::create_dir_all(&refused).map_err(io)?;
    std::fs::write(
        refused.join(format!("{name}.raison.txt")),
        format!("{reason}\n"),
    )
    .map_err(io)?;
    std::fs::rename(path, refused.join(name)).map_err(io)?;
    tracing::warn!(file = %name, %reason, "dropped file refused");
    Ok(())
}
