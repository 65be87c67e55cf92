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

mod export;
mod import;

pub use import::OpenedArchive;

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
