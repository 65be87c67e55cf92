//! # parapheur-files: the communes' files, encrypted and addressed by content
//!
//! A mail register is only as good as the documents behind its entries: the scanned letter,
//! the e-mail attachment, the signed reply. This crate owns those bytes, and nothing else.
//! The database says which item points at which file; this crate guarantees that what comes
//! back is exactly what went in, or says loudly that it is not.
//!
//! **Content addressing.** A file is named by the SHA-256 of its plaintext, stored per
//! commune at `communes/{commune_id}/blobs/{hash[0..2]}/{hash}`. The same scan attached
//! twice is stored once, a name can never point at different content, and the hash the
//! register records doubles as an integrity proof: [`FileStore::get`] recomputes it on every
//! read and refuses to hand back anything that does not match.
//!
//! **Encryption at rest.** Town halls keep personal data (civil status, social aid, permits),
//! and the files often sit on a shared disk or a hosted bucket. Each commune has its own data
//! key ([`DataKey`]); files are sealed with XChaCha20-Poly1305 under it, with the commune and
//! the hash as associated data, so a blob copied to another address or another commune fails
//! authentication. Data keys are stored only wrapped by the installation's [`MasterKey`], as
//! a short text the caller keeps in its database; the master key lives outside the database
//! (configuration, secret store). Stealing the disk, or the database, alone reveals nothing.
//! One key per commune also means one commune can be exported, or crypto-shredded, alone.
//!
//! **Backends.** Everything goes through [`object_store::ObjectStore`]: a local folder
//! ([`FileStore::local`]) or an S3-compatible bucket ([`FileStore::s3`]: Garage, a French
//! provider's S3), with the same layout, format and checks. Blobs are written only if absent
//! (a conditional PUT on S3), so two writers of the same content never clash. Every S3
//! fault after the client's retries is an error the caller keeps its work on
//! ([`FileError::is_unavailable`]): unreachable, timed out, access denied, bucket missing.
//!
//! What this crate does not do: decide who may read a file, keep the list of files an item
//! has, or limit upload sizes. Those belong to the callers; fsck (orphans, verification)
//! is built by them from [`FileStore::list`], [`FileStore::verify`] and [`FileStore::delete`].

mod keys;
mod s3;
mod store;

pub use keys::{DataKey, KEY_LEN, KeyError, MasterKey};
pub use s3::{S3Credentials, S3Location};
pub use store::{BlobInfo, FileError, FileStore, StagingFile, StorageAction, StoredFile};
pub use zeroize::Zeroizing;

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes` as 64 lowercase hex digits: the address of a file.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` looks like a file address (64 lowercase hex digits).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
