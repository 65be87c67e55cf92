//! Moving one commune between installations (`parapheur export` and `import`): from a
//! mairie's box to a hosted platform and back, the réversibilité public contracts demand.
//!
//! The archive is one zip file (docs/ARCHITECTURE.md, "Moving a commune"):
//!
//! - `manifeste.json`, in the clear: format and version, the commune (id, INSEE, name), the
//!   row counts, the journal's head, the SHA-256 of every other member, how the key is
//!   derived from the passphrase, and the keys wrapped by it;
//! - `manifeste.sceau`: the manifest's SHA-256 sealed with the archive key, so that the
//!   manifest cannot be edited without the passphrase;
//! - `tables/TABLE.jsonl`: the commune's rows of each table, one JSON object a line;
//! - `fichiers/SHA256`: each of the commune's files, decrypted from the store;
//! - `ancres/SEQ.json`: the journal's anchors.
//!
//! Every member but the manifest is sealed (XChaCha20-Poly1305, bound to its name) with a
//! fresh archive key. The archive key and the commune's data key travel wrapped by a key
//! derived from the administrator's passphrase (Argon2id). The data key is kept on
//! purpose: it also seals the commune's secrets in the rows (mailbox passwords, second
//! factors, signing keys, extracted texts), which therefore arrive usable; the destination
//! wraps it with its own master key. The files are stored again, encrypted afresh.
//!
//! An import checks everything before writing anything: the format version, the passphrase,
//! the manifest's seal, each member's hash, the journal's chain. Then it stores the files,
//! inserts every row in one transaction, and removes the files it stored if that fails.

use crate::boxed_future;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use parapheur_domain::journal::{ChainVerifier, JournalEntry};
use parapheur_files::{DataKey, KEY_LEN, MasterKey, Zeroizing, sha256_hex};
use parapheur_store::portability::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{App, AppError};

/// What the manifest's `format` says.
pub const FORMAT: &str = "parapheur-commune";
/// The version of the archive's layout this program writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// A passphrase shorter than this is refused at export.
pub const MIN_PASSPHRASE_CHARS: usize = 12;
const MANIFEST: &str = "manifeste.json";
const SEAL: &str = "manifeste.sceau";
const TABLES: &str = "tables/";
const FILES: &str = "fichiers/";
const ANCHORS: &str = "ancres/";
/// Argon2id with 64 MiB and 3 passes (an export is made rarely: it may cost a second).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_ITERATIONS: u32 = 3;
/// What an archive may ask of the importing machine.
const KDF_MAX_MEMORY_KIB: u32 = 1024 * 1024;
const KDF_MAX_ITERATIONS: u32 = 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub made_at: DateTime<Utc>,
    /// The version of parapheur that made it, and its database schema.
    pub software: String,
    pub schema: i64,
    pub commune: ArchivedCommune,
    pub key_derivation: KeyDerivation,
    /// The archive key (seals the members), wrapped by the passphrase's key.
    pub archive_key: String,
    /// The commune's data key, wrapped by the passphrase's key.
    pub commune_key: String,
    pub journal: JournalSummary,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    pub files: u64,
    pub anchors: u64,
    /// Every member but the manifest and its seal, with the SHA-256 of its bytes as stored.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedCommune {
    pub id: Uuid,
    pub insee: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyDerivation {
    pub algorithm: String,
    pub salt: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JournalSummary {
    pub entries: u64,
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// What an export or an import moved.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    pub commune: ArchivedCommune,
    pub rows: u64,
    pub files: u64,
    pub anchors: u64,
    pub journal: JournalSummary,
    pub bytes: u64,
}

fn refused(message: impl Into<String>) -> AppError {
    AppError::invalid(message)
}

fn key_derivation(passphrase: &str, kdf: &KeyDerivation) -> Result<MasterKey, AppError> {
    if kdf.algorithm != "argon2id"
        || kdf.memory_kib > KDF_MAX_MEMORY_KIB
        || kdf.iterations > KDF_MAX_ITERATIONS
        || kdf.parallelism > 16
    {
        return Err(refused(format!(
            "dérivation de clé de l'archive non reconnue ({}, {} Kio, {} passes) : archive \
             altérée ou d'une autre version",
            kdf.algorithm, kdf.memory_kib, kdf.iterations
        )));
    }
    let salt = BASE64
        .decode(&kdf.salt)
        .map_err(|_| refused("sel de l'archive illisible : archive altérée"))?;
    let params = argon2::Params::new(
        kdf.memory_kib,
        kdf.iterations,
        kdf.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|e| refused(format!("dérivation de clé de l'archive refusée : {e}")))?;
    let mut secret = Zeroizing::new([0u8; KEY_LEN]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &salt, secret.as_mut_slice())
        .map_err(|e| refused(format!("dérivation de clé de l'archive impossible : {e}")))?;
    Ok(MasterKey::from_secret(*secret))
}

fn archive_key_context(commune_id: Uuid) -> String {
    format!("export:{commune_id}")
}

fn zip_failed(path: &Path) -> impl Fn(zip::result::ZipError) -> AppError + '_ {
    move |e| {
        refused(format!(
            "archive {} illisible, tronquée ou altérée : {e}",
            path.display()
        ))
    }
}

impl App {
    /// Writes the commune's archive to `to` (refused if it exists). The file appears whole
    /// or not at all: it is written beside, then renamed.
    #[boxed_future]
    pub async fn export_commune(
        &self,
        insee: &str,
        to: &Path,
        passphrase: &str,
        now: DateTime<Utc>,
    ) -> Result<Moved, AppError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(refused(format!(
                "phrase de passe trop courte : {MIN_PASSPHRASE_CHARS} caractères au moins"
            )));
        }
        if to.exists() {
            return Err(refused(format!(
                "{} existe déjà : choisissez un autre fichier",
                to.display()
            )));
        }
        let commune = self.commune(insee).await?;
        let commune_key = self.data_key(commune.id).await?;
        let tables = self.store().commune_rows(commune.id).await?;
        let rows_of = |name: &str| {
            tables
                .iter()
                .find(|(t, _)| *t == name)
                .map(|(_, r)| r.as_slice())
                .unwrap_or_default()
        };
        let journal = journal_summary(commune.id, rows_of("journal"), rows_of("journal_heads"))?;

        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| AppError::internal(format!("générateur aléatoire : {e}")))?;
        let kdf = KeyDerivation {
            algorithm: "argon2id".into(),
            salt: BASE64.encode(salt),
            memory_kib: KDF_MEMORY_KIB,
            iterations: KDF_ITERATIONS,
            parallelism: 1,
        };
        let wrapping = key_derivation(passphrase, &kdf)?;
        let archive_key = DataKey::generate()?;

        let partial = partial_path(to);
        let result = self
            .write_archive(
                &partial,
                &commune,
                &tables,
                &commune_key,
                &archive_key,
                |rows, files, anchors, members| {
                    Ok(Manifest {
                        format: FORMAT.into(),
                        version: FORMAT_VERSION,
                        made_at: now,
                        software: env!("CARGO_PKG_VERSION").into(),
                        schema: parapheur_store::SCHEMA_VERSION,
                        commune: ArchivedCommune {
                            id: commune.id,
                            insee: commune.insee.clone(),
                            name: commune.name.clone(),
                        },
                        archive_key: wrapping
                            .wrap(&archive_key, &archive_key_context(commune.id))?,
                        commune_key: wrapping.wrap(&commune_key, &commune.id.to_string())?,
                        key_derivation: kdf.clone(),
                        journal: journal.clone(),
                        rows,
                        files,
                        anchors,
                        members,
                    })
                },
            )
            .await;
        let manifest = match result {
            Ok(manifest) => manifest,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, to).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            AppError::internal(format!("impossible d'écrire {} : {e}", to.display()))
        })?;
        let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
        Ok(Moved {
            commune: manifest.commune,
            rows: manifest.rows.values().sum(),
            files: manifest.files,
            anchors: manifest.anchors,
            journal,
            bytes,
        })
    }

    async fn write_archive(
        &self,
        path: &Path,
        commune: &parapheur_domain::Commune,
        tables: &[(&'static str, Vec<Row>)],
        commune_key: &DataKey,
        archive_key: &DataKey,
        manifest: impl FnOnce(
            BTreeMap<String, u64>,
            u64,
            u64,
            Vec<Member>,
        ) -> Result<Manifest, AppError>,
    ) -> Result<Manifest, AppError> {
        let file = File::create(path).map_err(|e| {
            AppError::internal(format!("impossible de créer {} : {e}", path.display()))
        })?;
        let write_failed =
            |e: &dyn std::fmt::Display| AppError::internal(format!("écriture de l'archive : {e}"));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        let mut zip = zip::ZipWriter::new(file);
        let mut members = Vec::new();
        let mut add =
            |zip: &mut zip::ZipWriter<File>, name: String, plain: &[u8]| -> Result<(), AppError> {
                let sealed = archive_key.seal_bytes(plain, &name)?;
                zip.start_file(name.as_str(), options)
                    .map_err(|e| write_failed(&e))?;
                zip.write_all(&sealed).map_err(|e| write_failed(&e))?;
                members.push(Member {
                    sha256: sha256_hex(&sealed),
                    size: sealed.len() as u64,
                    name,
                });
                Ok(())
            };

        let mut rows = BTreeMap::new();
        for (table, table_rows) in tables {
            let mut lines = Vec::new();
            for row in table_rows {
                serde_json::to_writer(&mut lines, row).map_err(|e| write_failed(&e))?;
                lines.push(b'\n');
            }
            add(&mut zip, format!("{TABLES}{table}.jsonl"), &lines)?;
            rows.insert((*table).to_owned(), table_rows.len() as u64);
        }

        let commune_dir = commune.id.to_string();
        let blobs = self.files().list(&commune_dir).await?;
        for blob in &blobs {
            let plain = self
                .files()
                .get(&commune_dir, commune_key, &blob.sha256)
                .await?;
            add(&mut zip, format!("{FILES}{}", blob.sha256), &plain)?;
        }

        let mut anchors = 0;
        let anchors_dir = self.anchors_dir().join(&commune_dir);
        if let Ok(entries) = std::fs::read_dir(&anchors_dir) {
            let mut names: Vec<_> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect();
            names.sort();
            for name in names {
                let bytes = std::fs::read(anchors_dir.join(&name))
                    .map_err(|e| AppError::internal(format!("ancre {name} illisible : {e}")))?;
                add(&mut zip, format!("{ANCHORS}{name}"), &bytes)?;
                anchors += 1;
            }
        }

        let manifest = manifest(rows, blobs.len() as u64, anchors, members)?;
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| write_failed(&e))?;
        let seal = archive_key.seal_bytes(sha256_hex(&manifest_bytes).as_bytes(), SEAL)?;
        for (name, bytes) in [(MANIFEST, &manifest_bytes), (SEAL, &seal)] {
            zip.start_file(name, options)
                .map_err(|e| write_failed(&e))?;
            zip.write_all(bytes).map_err(|e| write_failed(&e))?;
        }
        let file = zip.finish().map_err(|e| write_failed(&e))?;
        file.sync_all().map_err(|e| write_failed(&e))?;
        Ok(manifest)
    }

    /// Brings an archive's commune into this register. Nothing is written unless all of it
    /// is: a commune already here, or any check of the archive failing, leaves the register
    /// and its files as they were.
    #[boxed_future]
    pub async fn import_commune(&self, archive: OpenedArchive) -> Result<Moved, AppError> {
        let OpenedArchive {
            path,
            manifest,
            mut zip,
            archive_key,
            commune_key,
        } = archive;
        let commune = manifest.commune.clone();
        if let Some(existing) = self
            .store()
            .communes()
            .await?
            .into_iter()
            .find(|c| c.id == commune.id || c.insee == commune.insee)
        {
            return Err(already_here(&existing.name, &existing.insee));
        }

        let mut tables = Vec::new();
        for (table, count) in &manifest.rows {
            let name = format!("{TABLES}{table}.jsonl");
            let plain = open_member(&mut zip, &path, &archive_key, &name)?;
            let mut rows = Vec::new();
            for line in plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let row: Row = serde_json::from_slice(line)
                    .map_err(|e| refused(format!("{name} illisible : {e}")))?;
                rows.push(row);
            }
            if rows.len() as u64 != *count {
                return Err(refused(format!(
                    "{name} : {} ligne(s) au lieu des {count} annoncée(s) : archive altérée",
                    rows.len()
                )));
            }
            tables.push((table.clone(), rows));
        }
        let rows_of = |name: &str| {
            tables
                .iter()
                .find(|(t, _)| t == name)
                .map(|(_, r)| r.as_slice())
                .unwrap_or_default()
        };
        let journal = journal_summary(commune.id, rows_of("journal"), rows_of("journal_heads"))?;
        if journal != manifest.journal {
            return Err(refused(
                "le journal de l'archive ne correspond pas à son manifeste : archive altérée",
            ));
        }
        for (table, rows) in &mut tables {
            for row in rows.iter_mut() {
                match table.as_str() {
                    "communes" => {
                        let wrapped = self.master.wrap(&commune_key, &commune.id.to_string())?;
                        row.insert("wrapped_key".into(), Value::String(wrapped));
                    }
                    // Host rights are given by name on each platform, never carried in.
                    "users" => {
                        row.insert("host_admin".into(), Value::from(0));
                    }
                    _ => {}
                }
            }
        }

        // Files first (the rows name them), removed again if the rows cannot be written.
        let commune_dir = commune.id.to_string();
        let mut stored: Vec<String> = Vec::new();
        let mut anchors_written: Vec<PathBuf> = Vec::new();
        let written = self
            .store_archived_files(
                &mut zip,
                &path,
                &manifest,
                &archive_key,
                &commune_key,
                &mut stored,
                &mut anchors_written,
            )
            .await;
        let inserted = match written {
            Ok(()) => self
                .store()
                .insert_commune_rows(commune.id, &commune.insee, &tables)
                .await
                .map_err(|e| match e {
                    parapheur_store::StoreError::AlreadyExists(_) => {
                        already_here(&commune.name, &commune.insee)
                    }
                    other => other.into(),
                }),
            Err(e) => Err(e),
        };
        if let Err(e) = inserted {
            for sha256 in &stored {
                let _ = self.files().delete(&commune_dir, sha256).await;
            }
            for anchor in &anchors_written {
                let _ = std::fs::remove_file(anchor);
            }
            return Err(e);
        }
        Ok(Moved {
            rows: manifest.rows.values().sum(),
            files: manifest.files,
            anchors: manifest.anchors,
            journal,
            bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            commune,
        })
    }

    /// Whether the commune's journal here ends on the head an archive carried.
    #[boxed_future]
    pub async fn has_journal_head(
        &self,
        commune_id: Uuid,
        journal: &JournalSummary,
    ) -> Result<bool, AppError> {
        Ok(self
            .store()
            .journal_head(commune_id)
            .await?
            .is_some_and(|h| h.seq == journal.head_seq && h.hash == journal.head_hash))
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_archived_files(
        &self,
        zip: &mut zip::ZipArchive<File>,
        path: &Path,
        manifest: &Manifest,
        archive_key: &DataKey,
        commune_key: &DataKey,
        stored: &mut Vec<String>,
        anchors_written: &mut Vec<PathBuf>,
    ) -> Result<(), AppError> {
        let commune_dir = manifest.commune.id.to_string();
        for member in &manifest.members {
            if let Some(sha256) = member.name.strip_prefix(FILES) {
                let plain = open_member(zip, path, archive_key, &member.name)?;
                if sha256_hex(&plain) != sha256 {
                    return Err(refused(format!(
                        "le fichier {sha256} de l'archive ne correspond pas à son empreinte : \
                         archive altérée"
                    )));
                }
                let existed = self.files().exists(&commune_dir, sha256).await?;
                self.files().put(&commune_dir, commune_key, &plain).await?;
                if !existed {
                    stored.push(sha256.to_owned());
                }
            } else if let Some(name) = member.name.strip_prefix(ANCHORS) {
                if name.contains('/') || name.contains("..") || !name.ends_with(".json") {
                    return Err(refused(format!("nom d'ancre refusé « {name} »")));
                }
                let plain = open_member(zip, path, archive_key, &member.name)?;
                let dir = self.anchors_dir().join(&commune_dir);
                let target = dir.join(name);
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&target, plain.as_slice()))
                    .map_err(|e| {
                        AppError::internal(format!(
                            "impossible d'écrire {} : {e}",
                            target.display()
                        ))
                    })?;
                anchors_written.push(target);
            }
        }
        Ok(())
    }
}

fn already_here(name: &str, insee: &str) -> AppError {
    refused(format!(
        "la commune {name} ({insee}) existe déjà dans cette installation : rien n'a été importé"
    ))
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partiel");
    to.with_file_name(name)
}

/// The journal's rows checked as `journal verify` checks them; its length and head.
fn journal_summary(
    commune_id: Uuid,
    journal: &[Row],
    heads: &[Row],
) -> Result<JournalSummary, AppError> {
    let text = |row: &Row, column: &str| row.get(column).and_then(Value::as_str).map(str::to_owned);
    let unreadable =
        || refused("une entrée du journal de l'archive est illisible : archive altérée");
    let mut verifier = ChainVerifier::new(commune_id);
    let mut entries: Vec<JournalEntry> = Vec::new();
    for row in journal {
        entries.push(JournalEntry {
            commune_id: text(row, "commune_id")
                .and_then(|s| Uuid::parse_str(&s).ok())
                .ok_or_else(unreadable)?,
            seq: row
                .get("seq")
                .and_then(Value::as_i64)
                .ok_or_else(unreadable)?,
            at: text(row, "at")
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(unreadable)?,
            actor: text(row, "actor").ok_or_else(unreadable)?,
            action: text(row, "action").ok_or_else(unreadable)?,
            entity: text(row, "entity").ok_or_else(unreadable)?,
            entity_id: text(row, "entity_id").ok_or_else(unreadable)?,
            before: text(row, "before_json"),
            after: text(row, "after_json"),
            prev_hash: text(row, "prev_hash").ok_or_else(unreadable)?,
            hash: text(row, "hash").ok_or_else(unreadable)?,
        });
    }
    entries.sort_by_key(|e| e.seq);
    for entry in &entries {
        verifier.push(entry);
    }
    let head = heads.first().map(|row| {
        (
            row.get("seq").and_then(Value::as_i64).unwrap_or(-1),
            text(row, "hash").unwrap_or_default(),
        )
    });
    let report = verifier.finish(head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())));
    if !report.is_intact() {
        return Err(refused(format!(
            "le journal de la commune ne se vérifie pas ({} anomalie(s)) : rien n'a été déplacé",
            report.problems.len()
        )));
    }
    let (head_seq, head_hash) = head.unwrap_or((0, parapheur_domain::journal::GENESIS_HASH.into()));
    Ok(JournalSummary {
        entries: report.entries,
        head_seq,
        head_hash,
    })
}

/// An archive whose every member was checked against the manifest, and its keys, unlocked
/// with the passphrase. Nothing was written anywhere yet.
pub struct OpenedArchive {
    path: PathBuf,
    pub manifest: Manifest,
    zip: zip::ZipArchive<File>,
    archive_key: DataKey,
    commune_key: DataKey,
}

impl std::fmt::Debug for OpenedArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedArchive")
            .field("path", &self.path)
            .field("commune", &self.manifest.commune)
            .finish_non_exhaustive()
    }
}

impl OpenedArchive {
    /// Reads and checks the archive at `path`: format version, passphrase, the manifest's
    /// seal, and the hash of every member (a truncated or altered archive is refused here).
    pub fn open(path: &Path, passphrase: &str) -> Result<OpenedArchive, AppError> {
        let file = File::open(path)
            .map_err(|e| refused(format!("archive {} illisible : {e}", path.display())))?;
        let mut zip = zip::ZipArchive::new(file).map_err(zip_failed(path))?;
        let manifest_bytes = read_member(&mut zip, path, MANIFEST)?;
        let head: Value = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| refused(format!("{MANIFEST} illisible : {e}")))?;
        if head.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(refused(format!(
                "{} n'est pas une archive de commune de parapheur",
                path.display()
            )));
        }
        let version = head.get("version").and_then(Value::as_u64).unwrap_or(0);
        if version != u64::from(FORMAT_VERSION) {
            return Err(refused(format!(
                "archive au format {version}, que cette version de parapheur ne lit pas (elle \
                 lit le format {FORMAT_VERSION}) : importez-la avec la version qui l'a faite \
                 ou une plus récente"
            )));
        }
        let manifest: Manifest = serde_json::from_value(head)
            .map_err(|e| refused(format!("{MANIFEST} illisible : {e}")))?;
        if manifest.schema > parapheur_store::SCHEMA_VERSION {
            return Err(refused(format!(
                "archive faite par parapheur {} (schéma {}), plus récent que ce programme \
                 (schéma {}) : mettez parapheur à jour avant d'importer",
                manifest.software,
                manifest.schema,
                parapheur_store::SCHEMA_VERSION
            )));
        }
        let wrapping = key_derivation(passphrase, &manifest.key_derivation)?;
        let wrong_passphrase = |_| {
            refused(
                "phrase de passe incorrecte pour cette archive (ou archive altérée) : rien n'a \
                 été importé",
            )
        };
        let archive_key = wrapping
            .unwrap(
                &manifest.archive_key,
                &archive_key_context(manifest.commune.id),
            )
            .map_err(wrong_passphrase)?;
        let commune_key = wrapping
            .unwrap(&manifest.commune_key, &manifest.commune.id.to_string())
            .map_err(wrong_passphrase)?;
        let seal = read_member(&mut zip, path, SEAL)?;
        let sealed_hash = archive_key
            .open_bytes(&seal, SEAL)
            .map_err(|_| refused("le sceau du manifeste ne se vérifie pas : archive altérée"))?;
        if sealed_hash.as_slice() != sha256_hex(&manifest_bytes).as_bytes() {
            return Err(refused(
                "le manifeste a été modifié depuis l'export : archive altérée",
            ));
        }

        let mut names: Vec<String> = Vec::with_capacity(zip.len());
        for name in zip.file_names() {
            names.push(name.map_err(zip_failed(path))?.into_owned());
        }
        for name in &names {
            if name != MANIFEST && name != SEAL && !manifest.members.iter().any(|m| &m.name == name)
            {
                return Err(refused(format!(
                    "l'archive contient « {name} », que son manifeste ne nomme pas : archive \
                     altérée"
                )));
            }
        }
        for member in &manifest.members {
            if !names.contains(&member.name) {
                return Err(refused(format!(
                    "« {} » manque dans l'archive : archive tronquée ou altérée",
                    member.name
                )));
            }
            let bytes = read_member(&mut zip, path, &member.name)?;
            if bytes.len() as u64 != member.size || sha256_hex(&bytes) != member.sha256 {
                return Err(refused(format!(
                    "« {} » ne correspond pas à son empreinte SHA-256 : archive altérée ou \
                     tronquée, rien n'a été importé",
                    member.name
                )));
            }
        }
        Ok(OpenedArchive {
            path: path.to_owned(),
            manifest,
            zip,
            archive_key,
            commune_key,
        })
    }
}

fn read_member(
    zip: &mut zip::ZipArchive<File>,
    path: &Path,
    name: &str,
) -> Result<Vec<u8>, AppError> {
    let mut entry = zip.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => refused(format!(
            "« {name} » manque dans l'archive {} : archive tronquée ou altérée",
            path.display()
        )),
        other => zip_failed(path)(other),
    })?;
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.read_to_end(&mut bytes).map_err(|e| {
        refused(format!(
            "« {name} » illisible dans l'archive {} : {e} (archive tronquée ou altérée)",
            path.display()
        ))
    })?;
    Ok(bytes)
}

fn open_member(
    zip: &mut zip::ZipArchive<File>,
    path: &Path,
    key: &DataKey,
    name: &str,
) -> Result<Zeroizing<Vec<u8>>, AppError> {
    let sealed = read_member(zip, path, name)?;
    key.open_bytes(&sealed, name)
        .map_err(|_| refused(format!("« {name} » ne se déchiffre pas : archive altérée")))
}
