//! The file store proper: blob layout, blob format v1, and the operations on an object store.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, Payload};
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::keys::{DataKey, random};
use crate::s3::{S3Credentials, S3Location};
use crate::{is_sha256_hex, sha256_hex};

/// Blob format v1: `MAGIC | VERSION | nonce (24) | ciphertext | tag (16)`.
///
/// v1 encrypts the whole file as one buffer, so a `put` or `get` holds about twice the
/// file's size in memory. That is fine for the mail register's scans and attachments, whose
/// size the caller limits at upload time (XChaCha20-Poly1305's own limit, 256 GiB, is far
/// away). A chunked, streamable v2 can come later: readers dispatch on the version byte.
const MAGIC: &[u8; 4] = b"PRPH";
const VERSION_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1 + NONCE_LEN;
const COMMUNES: &str = "communes";
const BLOBS: &str = "blobs";

/// What the store was doing when the backend failed (for the French message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageAction {
    Read,
    Write,
    Delete,
    List,
}

impl fmt::Display for StorageAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "lecture",
            Self::Write => "écriture",
            Self::Delete => "suppression",
            Self::List => "inventaire",
        })
    }
}

/// Errors of the file store. Messages are French, for the people running the town hall.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("le fichier {sha256} est introuvable dans le stockage de la commune {commune_id}")]
    Missing { commune_id: String, sha256: String },
    #[error("le fichier {sha256} est altéré ou corrompu : {reason}")]
    Corrupt { sha256: String, reason: String },
    #[error(
        "identifiant de commune invalide : « {0} » (seuls lettres, chiffres, « - » et « _ » \
         sont permis)"
    )]
    InvalidCommuneId(String),
    #[error(
        "empreinte de fichier invalide : « {0} » (64 chiffres hexadécimaux minuscules attendus)"
    )]
    InvalidSha256(String),
    #[error("le fichier est trop volumineux pour être chiffré ({size} octets)")]
    TooLarge { size: u64 },
    #[error("le générateur aléatoire du système a échoué : {0}")]
    Random(#[source] getrandom::Error),
    #[error("impossible de préparer le dossier des fichiers {path} : {source}")]
    LocalDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("impossible de mettre sur le disque les fichiers reçus dans {path} : {source}")]
    Flush {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("le disque des fichiers est plein : le fichier n'a pas été enregistré")]
    DiskFull {
        #[source]
        source: object_store::Error,
    },
    #[error("{action} impossible dans le stockage des fichiers : {source}")]
    Storage {
        action: StorageAction,
        #[source]
        source: object_store::Error,
    },
    /// A `files` setting or S3 credentials that cannot be used (said at start).
    #[error("stockage des fichiers {0}")]
    Location(String),
    /// The S3 server refuses the connection, resets it, or answers 5xx, after the retries.
    #[error(
        "{action} impossible : le stockage des fichiers {remote} ne répond pas (serveur arrêté, \
         injoignable ou en panne) ; rien n'a été perdu, réessayez plus tard"
    )]
    Unreachable {
        action: StorageAction,
        remote: String,
        #[source]
        source: object_store::Error,
    },
    #[error(
        "{action} impossible : le stockage des fichiers {remote} ne répond pas à temps ; rien \
         n'a été perdu, réessayez plus tard"
    )]
    TimedOut {
        action: StorageAction,
        remote: String,
        #[source]
        source: object_store::Error,
    },
    /// Wrong, unknown or expired key, or a key without rights on the bucket.
    #[error(
        "le stockage des fichiers {remote} refuse l'accès ({reason}) : vérifiez la clé d'accès \
         S3 (fichier d'identifiants ou variables d'environnement) ; rien n'a été perdu"
    )]
    Denied {
        remote: String,
        reason: &'static str,
        #[source]
        source: object_store::Error,
    },
    #[error(
        "le compartiment du stockage des fichiers {remote} n'existe pas : créez-le ou corrigez \
         le réglage files ; rien n'a été perdu"
    )]
    BucketMissing {
        remote: String,
        #[source]
        source: object_store::Error,
    },
}

impl FileError {
    /// A fault of the storage service that goes away by itself or once an operator has
    /// acted (server back, key replaced, bucket created): the work is kept and tried again.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::DiskFull { .. }
                | Self::Unreachable { .. }
                | Self::TimedOut { .. }
                | Self::Denied { .. }
                | Self::BucketMissing { .. }
        )
    }
}

fn storage(action: StorageAction) -> impl FnOnce(object_store::Error) -> FileError {
    move |source| {
        if is_storage_full(&source) {
            FileError::DiskFull { source }
        } else {
            FileError::Storage { action, source }
        }
    }
}

/// Sorts an S3 failure (after object_store's own retries) into what the operator can act
/// on. `object_store` keeps its HTTP error type private: the status and the S3 error code
/// (`<Code>…</Code>` of the answer's body) are read from the error's text.
fn remote_error(action: StorageAction, remote: &str, source: object_store::Error) -> FileError {
    let remote = remote.to_owned();
    let source = match source {
        object_store::Error::Generic { store, source } => match source.downcast::<FileError>() {
            // Our credentials file, read again for this request, is no longer usable.
            Ok(own) => return *own,
            Err(source) => object_store::Error::Generic { store, source },
        },
        other => other,
    };
    let text = error_chain_text(&source);
    let code = s3_code(&text);
    if code == Some("NoSuchBucket") {
        return FileError::BucketMissing { remote, source };
    }
    if matches!(
        source,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || code.is_some_and(|c| denial_reason(c).is_some())
    {
        // A HEAD's answer has no body, hence no code.
        let reason = code
            .and_then(denial_reason)
            .unwrap_or("clé inconnue ou erronée, identifiants expirés ou droits insuffisants");
        return FileError::Denied {
            remote,
            reason,
            source,
        };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&source);
    let mut kind = None;
    while let Some(e) = cause {
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            kind = Some(http.kind());
        }
        cause = e.source();
    }
    use object_store::client::HttpErrorKind as K;
    match kind {
        Some(K::Timeout) => FileError::TimedOut {
            action,
            remote,
            source,
        },
        Some(K::Connect | K::Request | K::Interrupted) => FileError::Unreachable {
            action,
            remote,
            source,
        },
        _ if text.contains("status code: 5") => FileError::Unreachable {
            action,
            remote,
            source,
        },
        _ => FileError::Storage { action, source },
    }
}

/// An S3 server that does not implement `If-None-Match` on PUT (501 NotImplemented).
fn refuses_conditional_put(e: &object_store::Error) -> bool {
    let text = error_chain_text(e);
    s3_code(&text) == Some("NotImplemented") || text.contains("status code: 501")
}

fn error_chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        text.push_str(" | ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// The S3 error code of an answer (`<Code>SignatureDoesNotMatch</Code>`).
fn s3_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(&text[start..start + len])
}

fn denial_reason(code: &str) -> Option<&'static str> {
    Some(match code {
        "InvalidAccessKeyId" => "identifiant de clé d'accès inconnu",
        "SignatureDoesNotMatch" => "clé secrète erronée",
        "ExpiredToken" | "TokenRefreshRequired" | "InvalidToken" => "identifiants expirés",
        "AccessDenied" | "AllAccessDisabled" => "droits insuffisants sur le compartiment",
        "RequestTimeTooSkewed" => "horloge du serveur décalée",
        _ => return None,
    })
}

/// True when an I/O error somewhere in the chain says the disk is full (ENOSPC, EDQUOT).
fn is_storage_full(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// What `put` stored: the address (SHA-256 of the plaintext) and the plaintext size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: String,
    pub size: u64,
}

/// One blob found by [`FileStore::list`] (for fsck: orphans, sizes, ages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: String,
    /// Encrypted size: plaintext + 45 bytes of header and tag.
    pub size_on_disk: u64,
    pub last_modified: DateTime<Utc>,
}

/// Encrypted, content-addressed files of every commune, over any `object_store` backend.
#[derive(Debug, Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    /// The same backend for [`FileStore::put_deferred`]: on a local folder, writes that are
    /// not fsynced one by one but by the next [`FileStore::sync`]; elsewhere, `store` itself.
    deferred: Arc<dyn ObjectStore>,
    /// A deferred write may not be on disk yet: a `put` that finds its content already there
    /// then syncs before it returns, since that content may be one of those writes.
    unsynced: Arc<std::sync::atomic::AtomicBool>,
    /// The folder of a local store, where interrupted writes may leave staging files.
    local_root: Option<std::path::PathBuf>,
    /// The bucket of a remote store, as named in messages (`s3://bucket/prefix (…)`).
    remote: Option<Arc<str>>,
}

/// A staging file left by a write that never finished (the process was killed between
/// writing and renaming): invisible to listings, so swept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingFile {
    pub path: std::path::PathBuf,
    pub last_modified: DateTime<Utc>,
}

impl FileStore {
    /// A store over any backend (local disk now, S3 later).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            deferred: store.clone(),
            store,
            unsynced: Arc::default(),
            local_root: None,
            remote: None,
        }
    }

    /// A bucket on AWS or an S3-compatible server (Garage, OVHcloud, Scaleway, Outscale…),
    /// with the local folder's layout and format under the location's prefix. Nothing is
    /// asked of the server here: a server that is down at start is retried at each use.
    pub fn s3(location: &S3Location, credentials: &S3Credentials) -> Result<Self, FileError> {
        let mut store = Self::new(crate::s3::open(location, credentials)?);
        store.remote = Some(location.to_string().into());
        Ok(store)
    }

    /// The error for a failed backend call.
    fn failed(&self, action: StorageAction) -> impl FnOnce(object_store::Error) -> FileError {
        let remote = self.remote.clone();
        move |source| match remote {
            Some(remote) if !is_storage_full(&source) => remote_error(action, &remote, source),
            _ => storage(action)(source),
        }
    }

    /// Whether an object store "not found" is about the object (not about a missing bucket).
    fn is_not_found(&self, e: &object_store::Error) -> bool {
        matches!(e, object_store::Error::NotFound { .. })
            && !(self.remote.is_some() && s3_code(&error_chain_text(e)) == Some("NoSuchBucket"))
    }

    /// Staging files (`<sha256>#<n>`) of a local store's commune, left by interrupted writes.
    /// Always empty for remote stores, whose uploads are atomic.
    pub fn staging_files(&self, commune_id: &str) -> Result<Vec<StagingFile>, FileError> {
        check_commune_id(commune_id)?;
        let Some(root) = &self.local_root else {
            return Ok(Vec::new());
        };
        let blobs = root.join(COMMUNES).join(commune_id).join(BLOBS);
        let mut found = Vec::new();
        let Ok(fans) = std::fs::read_dir(&blobs) else {
            return Ok(found);
        };
        for fan in fans.flatten() {
            let Ok(entries) = std::fs::read_dir(fan.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some((hash, counter)) = name.to_str().and_then(|n| n.split_once('#')) else {
                    continue;
                };
                if !is_sha256_hex(hash) || !counter.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_else(|_| Utc::now());
                found.push(StagingFile {
                    path: entry.path(),
                    last_modified: modified,
                });
            }
        }
        Ok(found)
    }

    /// Removes a staging file found by [`FileStore::staging_files`].
    pub fn remove_staging_file(&self, file: &StagingFile) -> Result<(), FileError> {
        match std::fs::remove_file(&file.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(FileError::LocalDir {
                path: file.path.clone(),
                source,
            }),
        }
    }

    /// The default backend: a folder on local disk, created if missing.
    ///
    /// Durability: `LocalFileSystem` writes to a temporary file then renames it into place, so
    /// a reader never sees half a blob; but it only fsyncs when asked, so we enable
    /// `with_fsync(true)` (file and parent directory synced before `put` returns). Deletes are
    /// not fsynced, which is harmless: a blob that comes back after a crash is an orphan for
    /// fsck. Empty directories are removed on delete (`with_automatic_cleanup`), so that
    /// `list_communes` sees, as on S3, only communes that still have blobs.
    pub fn local(dir: &FsPath) -> Result<Self, FileError> {
        let local_dir = |source| FileError::LocalDir {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(local_dir)?;
        let local = |fsync| {
            LocalFileSystem::new_with_prefix(dir)
                .map(|fs| fs.with_fsync(fsync).with_automatic_cleanup(true))
                .map_err(storage(StorageAction::Write))
        };
        // Where the whole file system can be flushed at once, deferred writes wait for it.
        let deferred = local(!cfg!(target_os = "linux"))?;
        Ok(Self {
            store: Arc::new(local(true)?),
            deferred: Arc::new(deferred),
            unsynced: Arc::default(),
            local_root: Some(dir.to_owned()),
            remote: None,
        })
    }

    /// Like [`FileStore::put`], but on a local folder the file is durable only once
    /// [`FileStore::sync`] has returned. For writers that store many files and then commit
    /// them together (a mailbox import): one flush of the file system replaces two fsyncs a
    /// file (the file and its folder), which were most of an import's time.
    pub async fn put_deferred(
        &self,
        commune_id: &str,
        key: &DataKey,
        bytes: &[u8],
    ) -> Result<StoredFile, FileError> {
        let (stored, _) = self
            .put_into(&*self.deferred, commune_id, key, bytes)
            .await?;
        self.unsynced.store(true, Ordering::Release);
        Ok(stored)
    }

    /// Makes every [`FileStore::put_deferred`] that has returned durable: `syncfs` on the
    /// local folder's file system (data, inodes and the renames into place, in one journal
    /// commit). Nothing to do for remote stores, whose writes are durable when they return.
    pub async fn sync(&self) -> Result<(), FileError> {
        #[cfg(target_os = "linux")]
        if let Some(root) = self.local_root.clone() {
            // Cleared first: a deferred write that ends during the flush sets it again.
            self.unsynced.store(false, Ordering::Release);
            let synced = tokio::task::spawn_blocking(move || {
                std::fs::File::open(&root).and_then(|folder| Ok(rustix::fs::syncfs(&folder)?))
            })
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
            if synced.is_err() {
                self.unsynced.store(true, Ordering::Release);
            }
            return synced.map_err(|source| FileError::Flush {
                path: self.local_root.clone().unwrap_or_default(),
                source,
            });
        }
        Ok(())
    }

    /// Encrypts and stores `bytes` for the commune; returns its address. Idempotent: content
    /// already stored is not rewritten (nor checked: that is `verify`'s job).
    pub async fn put(
        &self,
        commune_id: &str,
        key: &DataKey,
        bytes: &[u8],
    ) -> Result<StoredFile, FileError> {
        let (stored, written) = self.put_into(&*self.store, commune_id, key, bytes).await?;
        if !written && self.unsynced.load(Ordering::Acquire) {
            self.sync().await?;
        }
        Ok(stored)
    }

    async fn put_into(
        &self,
        store: &dyn ObjectStore,
        commune_id: &str,
        key: &DataKey,
        bytes: &[u8],
    ) -> Result<(StoredFile, bool), FileError> {
        check_commune_id(commune_id)?;
        let sha256 = sha256_hex(bytes);
        let stored = StoredFile {
            sha256,
            size: bytes.len() as u64,
        };
        let path = blob_path(commune_id, &stored.sha256);
        // Asked as part of the write: a failure here is reported as a failed write.
        if self.head(&path, StorageAction::Write).await?.is_some() {
            return Ok((stored, false));
        }
        let nonce: [u8; NONCE_LEN] = random().map_err(FileError::Random)?;
        let aad = blob_aad(commune_id, &stored.sha256);
        let sealed = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: bytes,
                    aad: &aad,
                },
            )
            .map_err(|_| FileError::TooLarge { size: stored.size })?;
        let mut blob = Vec::with_capacity(HEADER_LEN + sealed.len());
        blob.extend_from_slice(MAGIC);
        blob.push(VERSION_V1);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        // A concurrent put of the same content may win the race: its blob is a valid
        // encryption of the same plaintext at the same address, so "already there" is a
        // success. On S3 the write is conditional (If-None-Match), so the first blob stays;
        // on disk a rename into place replaces it atomically (a hard link, object_store's
        // conditional write there, is not available on every file system towns use).
        let mode = if self.remote.is_some() {
            PutMode::Create
        } else {
            PutMode::Overwrite
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(blob);
        let written = match store.put_opts(&path, payload.clone(), options).await {
            Err(e) if self.remote.is_some() && refuses_conditional_put(&e) => {
                // A server without conditional writes: a plain PUT overwrites at worst an
                // equivalent blob (same plaintext, same address), which is harmless.
                store.put(&path, payload).await.map(drop)
            }
            other => other.map(drop),
        };
        match written {
            Ok(()) => Ok((stored, true)),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok((stored, false)),
            Err(e) => Err(self.failed(StorageAction::Write)(e)),
        }
    }

    /// Reads, decrypts and checks a file. Any mismatch (format, authentication tag, hash)
    /// is [`FileError::Corrupt`]; nothing unchecked is ever returned.
    pub async fn get(
        &self,
        commune_id: &str,
        key: &DataKey,
        sha256: &str,
    ) -> Result<Vec<u8>, FileError> {
        let path = checked_path(commune_id, sha256)?;
        let blob = match self.store.get(&path).await {
            Ok(result) => result.bytes().await,
            Err(e) => Err(e),
        }
        .map_err(|e| {
            if self.is_not_found(&e) {
                FileError::Missing {
                    commune_id: commune_id.to_owned(),
                    sha256: sha256.to_owned(),
                }
            } else {
                self.failed(StorageAction::Read)(e)
            }
        })?;
        let corrupt = |reason: String| FileError::Corrupt {
            sha256: sha256.to_owned(),
            reason,
        };
        if blob.len() < HEADER_LEN + TAG_LEN {
            return Err(corrupt(format!("tronqué ({} octets)", blob.len())));
        }
        let (header, sealed) = blob.split_at(HEADER_LEN);
        if &header[..MAGIC.len()] != MAGIC {
            return Err(corrupt(
                "en-tête inconnu (ce n'est pas un fichier chiffré de parapheur)".into(),
            ));
        }
        let version = header[MAGIC.len()];
        if version != VERSION_V1 {
            return Err(corrupt(format!("version de format inconnue ({version})")));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&header[MAGIC.len() + 1..]);
        let aad = blob_aad(commune_id, sha256);
        let plain = key
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                corrupt(
                    "échec du contrôle d'authenticité (contenu modifié, fichier déplacé depuis \
                     une autre adresse ou commune, ou clé de commune différente)"
                        .into(),
                )
            })?;
        let actual = sha256_hex(&plain);
        if actual != sha256 {
            return Err(corrupt(format!(
                "le contenu déchiffré a pour empreinte {actual}"
            )));
        }
        Ok(plain)
    }

    /// Reads and checks a file, discarding its content.
    pub async fn verify(
        &self,
        commune_id: &str,
        key: &DataKey,
        sha256: &str,
    ) -> Result<(), FileError> {
        self.get(commune_id, key, sha256).await.map(drop)
    }

    /// Whether the commune has a blob at this address (not checked: see `verify`).
    pub async fn exists(&self, commune_id: &str, sha256: &str) -> Result<bool, FileError> {
        let path = checked_path(commune_id, sha256)?;
        Ok(self.head(&path, StorageAction::Read).await?.is_some())
    }

    /// Removes a blob. Removing a missing blob is not an error (as on S3).
    pub async fn delete(&self, commune_id: &str, sha256: &str) -> Result<(), FileError> {
        let path = checked_path(commune_id, sha256)?;
        match self.store.delete(&path).await {
            Ok(()) => Ok(()),
            Err(e) if self.is_not_found(&e) => Ok(()),
            Err(e) => Err(self.failed(StorageAction::Delete)(e)),
        }
    }

    /// Every blob of the commune, sorted by hash. Objects whose name is not a well-placed
    /// hash (junk, foreign files) are skipped with a warning.
    pub async fn list(&self, commune_id: &str) -> Result<Vec<BlobInfo>, FileError> {
        check_commune_id(commune_id)?;
        let prefix = Path::from_iter([COMMUNES, commune_id, BLOBS]);
        let metas: Vec<_> = match self.store.list(Some(&prefix)).try_collect().await {
            Ok(metas) => metas,
            Err(e) if self.is_not_found(&e) => Vec::new(),
            Err(e) => return Err(self.failed(StorageAction::List)(e)),
        };
        let mut blobs = Vec::with_capacity(metas.len());
        for meta in metas {
            let parts: Vec<_> = meta.location.parts().collect();
            let well_placed = match parts.as_slice() {
                [_, _, _, fan, name] => {
                    is_sha256_hex(name.as_ref()) && name.as_ref().get(..2) == Some(fan.as_ref())
                }
                _ => false,
            };
            match meta.location.filename() {
                Some(name) if well_placed => blobs.push(BlobInfo {
                    sha256: name.to_owned(),
                    size_on_disk: meta.size,
                    last_modified: meta.last_modified,
                }),
                _ => {
                    tracing::warn!(location = %meta.location, "objet inattendu dans le stockage des fichiers, ignoré")
                }
            }
        }
        blobs.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(blobs)
    }

    /// The ids of the communes that have blobs, sorted.
    pub async fn list_communes(&self) -> Result<Vec<String>, FileError> {
        let prefix = Path::from(COMMUNES);
        let listing = match self.store.list_with_delimiter(Some(&prefix)).await {
            Ok(listing) => listing,
            Err(e) if self.is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(self.failed(StorageAction::List)(e)),
        };
        let mut ids: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .filter(|id| check_commune_id(id).is_ok())
            .map(str::to_owned)
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn head(
        &self,
        path: &Path,
        action: StorageAction,
    ) -> Result<Option<object_store::ObjectMeta>, FileError> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(e) if self.is_not_found(&e) => Ok(None),
            Err(e) => Err(self.failed(action)(e)),
        }
    }
}

/// Commune ids become path segments: only `[0-9A-Za-z_-]`, 1 to 128 characters.
fn check_commune_id(commune_id: &str) -> Result<(), FileError> {
    let ok = !commune_id.is_empty()
        && commune_id.len() <= 128
        && commune_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(FileError::InvalidCommuneId(commune_id.to_owned()))
    }
}

fn checked_path(commune_id: &str, sha256: &str) -> Result<Path, FileError> {
    check_commune_id(commune_id)?;
    if !is_sha256_hex(sha256) {
        return Err(FileError::InvalidSha256(sha256.to_owned()));
    }
    Ok(blob_path(commune_id, sha256))
}

/// `communes/{commune_id}/blobs/{hash[0..2]}/{hash}`; both parts already validated.
fn blob_path(commune_id: &str, sha256: &str) -> Path {
    let fan = sha256.get(..2).unwrap_or_default();
    Path::from_iter([COMMUNES, commune_id, BLOBS, fan, sha256])
}

/// Binds a blob to its address: it cannot be moved to another hash or another commune.
fn blob_aad(commune_id: &str, sha256: &str) -> Vec<u8> {
    format!("{commune_id}:{sha256}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commune_ids_are_checked() {
        assert!(check_commune_id("0190f3a1-7c2e-7d4b-9a55-123456789abc").is_ok());
        assert!(check_commune_id("saint_andre-2").is_ok());
        for bad in ["", "..", "a/b", "a b", "é", "a:b", &"x".repeat(129)] {
            let err = check_commune_id(bad).unwrap_err();
            assert!(matches!(err, FileError::InvalidCommuneId(_)), "{bad}");
        }
    }

    #[test]
    fn blob_path_layout() {
        let h = sha256_hex(b"abc");
        assert_eq!(
            blob_path("c1", &h).as_ref(),
            format!("communes/c1/blobs/ba/{h}")
        );
    }
}
