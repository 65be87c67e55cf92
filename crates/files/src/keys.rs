//! Key hierarchy: one master key (KEK) for the installation, one data key (DEK) per commune.
//!
//! The master key never encrypts files: it only wraps data keys. A wrapped data key is a
//! short text the caller stores next to the commune in its database:
//!
//! ```text
//! pk1:BASE64( master key id (8) | nonce (24) | XChaCha20-Poly1305(DEK) (32 + 16 tag) )
//! ```
//!
//! The AAD binds the commune id, so a wrapped key copied to another commune's row does not
//! open. The master key id (a hash of the master key, not secret) lets `unwrap` tell "this is
//! the wrong master key" apart from "this wrapped key belongs elsewhere or was altered".

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Length of every key, in bytes (256 bits).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_ID_LEN: usize = 8;
const WRAP_PREFIX: &str = "pk1:";
const SEAL_PREFIX: &str = "sk1:";
const WRAPPED_LEN: usize = KEY_ID_LEN + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Errors about keys. Messages are shown to administrators, in French.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text given as master key is not 32 bytes of base64.
    #[error("clé maître invalide : {reason} (attendu : 32 octets encodés en base64)")]
    InvalidMasterKey { reason: String },
    /// The wrapped data key cannot even be parsed (truncated, unknown version, bad base64).
    #[error("la clé chiffrée de la commune {commune_id} est illisible : {reason}")]
    MalformedWrappedKey { commune_id: String, reason: String },
    /// The wrapped data key was made with another master key.
    #[error(
        "la clé maître ne correspond pas à celle qui a chiffré les données de cette commune \
         ({commune_id}) : vérifiez la clé maître configurée"
    )]
    WrongMasterKey { commune_id: String },
    /// Right master key, but the wrapped key was made for another commune or was altered.
    #[error(
        "la clé chiffrée enregistrée pour la commune {commune_id} n'a pas été émise pour cette \
         commune, ou elle a été altérée"
    )]
    WrongCommune { commune_id: String },
    /// A sealed secret cannot be opened.
    #[error("secret chiffré illisible : {0}")]
    Sealed(String),
    /// The operating system's random generator failed.
    #[error("le générateur aléatoire du système a échoué : {0}")]
    Random(#[source] getrandom::Error),
}

/// Fills a fresh array with OS randomness.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// The installation's master key (key-encryption key). Debug never shows it.
pub struct MasterKey([u8; KEY_LEN]);

/// A commune's data key: encrypts that commune's files. Debug never shows it.
///
/// It has no export method on purpose: it leaves memory only wrapped by a [`MasterKey`].
pub struct DataKey([u8; KEY_LEN]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id {}, secret masqué)", self.fingerprint())
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(secret masqué)")
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<Self, KeyError> {
        random().map(Self).map_err(KeyError::Random)
    }

    /// Reads a master key from standard base64 (surrounding whitespace is ignored).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let decoded =
            Zeroizing::new(
                BASE64
                    .decode(text.trim())
                    .map_err(|_| KeyError::InvalidMasterKey {
                        reason: "ce n'est pas du base64 valide".into(),
                    })?,
            );
        let bytes: [u8; KEY_LEN] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::InvalidMasterKey {
                    reason: format!("{} octets décodés", decoded.len()),
                })?;
        Ok(Self(bytes))
    }

    /// A key-encryption key from 32 secret bytes derived elsewhere (from the passphrase of
    /// a commune's export): it wraps the data keys the export carries.
    pub fn from_secret(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key as standard base64, for the operator to save. Handle with care.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// A short public identifier of this master key (16 hex digits), safe to log. It is the
    /// start of a SHA-256 over the key, so it reveals nothing usable about the key.
    pub fn fingerprint(&self) -> String {
        hex::encode(self.key_id())
    }

    /// A secret for another purpose (signing proof-of-work challenges, say), derived from
    /// the master key and the purpose's name: stable across restarts and nodes, and
    /// revealing nothing about the master key or about other purposes' secrets.
    pub fn derive(&self, purpose: &str) -> [u8; KEY_LEN] {
        let digest = Sha256::new()
            .chain_update(b"parapheur derived secret v1\0")
            .chain_update(self.0)
            .chain_update(purpose.as_bytes())
            .finalize();
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(&digest);
        out
    }

    fn key_id(&self) -> [u8; KEY_ID_LEN] {
        let digest = Sha256::new()
            .chain_update(b"parapheur master key id v1\0")
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }

    /// Encrypts `dek` for `commune_id`. The result is text for the caller's database.
    pub fn wrap(&self, dek: &DataKey, commune_id: &str) -> Result<String, KeyError> {
        let key_id = self.key_id();
        let nonce: [u8; NONCE_LEN] = random().map_err(KeyError::Random)?;
        let aad = wrap_aad(&key_id, commune_id);
        let sealed = cipher(&self.0)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &dek.0,
                    aad: &aad,
                },
            )
            // Only fails for plaintexts beyond 256 GiB; a key is 32 bytes.
            .map_err(|_| KeyError::MalformedWrappedKey {
                commune_id: commune_id.to_owned(),
                reason: "chiffrement impossible".into(),
            })?;
        let mut raw = Vec::with_capacity(WRAPPED_LEN);
        raw.extend_from_slice(&key_id);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(format!("{WRAP_PREFIX}{}", BASE64.encode(raw)))
    }

    /// Decrypts a data key made by [`MasterKey::wrap`] for the same `commune_id`.
    pub fn unwrap(&self, wrapped: &str, commune_id: &str) -> Result<DataKey, KeyError> {
        let malformed = |reason: &str| KeyError::MalformedWrappedKey {
            commune_id: commune_id.to_owned(),
            reason: reason.to_owned(),
        };
        let wrapped = wrapped.trim();
        let Some(body) = wrapped.strip_prefix(WRAP_PREFIX) else {
            return Err(malformed(
                "format inconnu (préfixe « pk1: » attendu ; version plus récente du logiciel ?)",
            ));
        };
        let raw = BASE64
            .decode(body)
            .map_err(|_| malformed("ce n'est pas du base64 valide"))?;
        if raw.len() != WRAPPED_LEN {
            return Err(malformed("longueur incorrecte"));
        }
        let (key_id, rest) = raw.split_at(KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        if key_id != self.key_id() {
            return Err(KeyError::WrongMasterKey {
                commune_id: commune_id.to_owned(),
            });
        }
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        let aad = wrap_aad(&self.key_id(), commune_id);
        let plain = Zeroizing::new(
            cipher(&self.0)
                .decrypt(
                    &XNonce::from(nonce_bytes),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeyError::WrongCommune {
                    commune_id: commune_id.to_owned(),
                })?,
        );
        let bytes: [u8; KEY_LEN] = plain
            .as_slice()
            .try_into()
            .map_err(|_| malformed("longueur de clé incorrecte"))?;
        Ok(DataKey(bytes))
    }
}

impl DataKey {
    /// A new random data key, for a new commune.
    pub fn generate() -> Result<Self, KeyError> {
        random().map(Self).map_err(KeyError::Random)
    }

    /// A key from 32 secret bytes derived elsewhere ([`MasterKey::derive`]): it seals what
    /// the server hands a browser to keep for a few minutes (the ProConnect login's state).
    pub fn from_secret(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub(crate) fn cipher(&self) -> XChaCha20Poly1305 {
        cipher(&self.0)
    }

    /// Encrypts a small secret (a mailbox password) for the database, bound to `context`
    /// (what it is and whose) so it cannot be moved to another row:
    /// `sk1:BASE64(nonce (24) | XChaCha20-Poly1305(secret))`.
    pub fn seal(&self, secret: &[u8], context: &str) -> Result<String, KeyError> {
        Ok(format!(
            "{SEAL_PREFIX}{}",
            BASE64.encode(self.seal_bytes(secret, context)?)
        ))
    }

    /// Decrypts what [`DataKey::seal`] made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let body = sealed
            .trim()
            .strip_prefix(SEAL_PREFIX)
            .ok_or_else(|| KeyError::Sealed("format inconnu (préfixe « sk1: » attendu)".into()))?;
        let raw = BASE64
            .decode(body)
            .map_err(|_| KeyError::Sealed("ce n'est pas du base64 valide".into()))?;
        self.open_bytes(&raw, context)
    }

    /// [`DataKey::seal`] without the text armour, for bytes of any size (the members of a
    /// commune's export): `nonce (24) | XChaCha20-Poly1305(bytes)`, bound to `context`.
    pub fn seal_bytes(&self, bytes: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        let nonce: [u8; NONCE_LEN] = random().map_err(KeyError::Random)?;
        let aad = [SEAL_PREFIX.as_bytes(), context.as_bytes()].concat();
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: bytes,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Sealed("chiffrement impossible".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Decrypts what [`DataKey::seal_bytes`] made for the same `context`.
    pub fn open_bytes(&self, raw: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(KeyError::Sealed("longueur incorrecte".into()));
        }
        let (nonce, msg) = raw.split_at(NONCE_LEN);
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        let aad = [SEAL_PREFIX.as_bytes(), context.as_bytes()].concat();
        self.cipher()
            .decrypt(&XNonce::from(nonce_bytes), Payload { msg, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Sealed("altéré, ou scellé pour une autre donnée".into()))
    }
}

fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*key))
}

fn wrap_aad(key_id: &[u8], commune_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_PREFIX.len() + key_id.len() + commune_id.len());
    aad.extend_from_slice(WRAP_PREFIX.as_bytes());
    aad.extend_from_slice(key_id);
    aad.extend_from_slice(commune_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_context() {
        let key = DataKey::generate().unwrap();
        let sealed = key.seal(b"mot de passe", "mailbox:1").unwrap();
        assert!(!sealed.contains("mot"));
        assert_eq!(
            key.open(&sealed, "mailbox:1").unwrap().as_slice(),
            b"mot de passe"
        );
        assert!(key.open(&sealed, "mailbox:2").is_err());
        assert!(
            DataKey::generate()
                .unwrap()
                .open(&sealed, "mailbox:1")
                .is_err()
        );
        assert!(key.open("sk1:AAAA", "mailbox:1").is_err());
    }

    #[test]
    fn wrapped_key_has_expected_shape() {
        let kek = MasterKey::generate().unwrap();
        let dek = DataKey::generate().unwrap();
        let wrapped = kek.wrap(&dek, "c1").unwrap();
        assert!(wrapped.starts_with("pk1:"));
        let raw = BASE64.decode(&wrapped[4..]).unwrap();
        assert_eq!(raw.len(), WRAPPED_LEN);
        assert_eq!(kek.unwrap(&wrapped, "c1").unwrap().0, dek.0);
    }

    #[test]
    fn base64_round_trip() {
        let kek = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&format!("  {}\n", kek.to_base64())).unwrap();
        assert_eq!(kek.0, again.0);
        assert_eq!(kek.fingerprint(), again.fingerprint());
    }
}
