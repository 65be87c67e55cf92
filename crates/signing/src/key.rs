use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use p256::ecdsa::{SigningKey, VerifyingKey};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncryptedPrivateKeyInfo};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::KeyError;
use crate::cmsutil;

/// A P-256 signing key with its certificate chain (leaf first).
#[derive(Clone)]
pub struct SignerKey {
    key: SigningKey,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerKey")
            .field("subject", &self.subject_common_name())
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

fn bad_key(e: impl std::fmt::Display) -> KeyError {
    KeyError::InvalidKey(e.to_string())
}

fn bad_cert(e: impl std::fmt::Display) -> KeyError {
    KeyError::InvalidCertificate(e.to_string())
}

impl SignerKey {
    /// Pairs a key with its chain, checking that the leaf certificate carries the key's public key.
    pub fn new(key: SigningKey, chain: Vec<Certificate>) -> Result<Self, KeyError> {
        let leaf = chain.first().ok_or(KeyError::EmptyChain)?;
        let spk = leaf
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let cert_key = VerifyingKey::from_sec1_bytes(spk).map_err(|_| KeyError::KeyMismatch)?;
        if &cert_key != key.verifying_key() {
            return Err(KeyError::KeyMismatch);
        }
        Ok(Self { key, chain })
    }

    /// Reads an unencrypted PKCS#8 PEM key and a PEM chain (leaf first).
    pub fn from_pkcs8_pem(key_pem: &str, chain_pem: &str) -> Result<Self, KeyError> {
        if key_pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(KeyError::InvalidKey(
                "clé chiffrée : utilisez l'import avec mot de passe".into(),
            ));
        }
        let key = SigningKey::from_pkcs8_pem(key_pem).map_err(bad_key)?;
        let chain = Certificate::load_pem_chain(chain_pem.as_bytes()).map_err(bad_cert)?;
        Self::new(key, chain)
    }

    /// Reads a PKCS#12 file (as written by OpenSSL 3 by default).
    pub fn from_pkcs12(bytes: &[u8], password: &str) -> Result<Self, KeyError> {
        use p12_keystore::error::Error as P12Error;
        use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
        let store = KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed).map_err(
            |e| match e {
                P12Error::MacError(_) | P12Error::UnpadError => KeyError::WrongPassword,
                other => KeyError::Pkcs12(other.to_string()),
            },
        )?;
        let (_, kc) = store
            .private_key_chain()
            .ok_or_else(|| KeyError::Pkcs12("aucune clé privée dans le fichier".into()))?;
        let key = SigningKey::from_pkcs8_der(kc.key().as_der()).map_err(bad_key)?;
        let mut certs = kc
            .certs()
            .iter()
            .map(|c| Certificate::from_der(c.as_der()).map_err(bad_cert))
            .collect::<Result<Vec<_>, _>>()?;
        // Put the certificate of the key first.
        if let Some(pos) = certs.iter().position(|c| {
            VerifyingKey::from_sec1_bytes(
                c.tbs_certificate
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes(),
            )
            .is_ok_and(|k| &k == key.verifying_key())
        }) {
            let leaf = certs.remove(pos);
            certs.insert(0, leaf);
        }
        Self::new(key, certs)
    }

    /// The private key alone, as DER EncryptedPrivateKeyInfo (PBES2, scrypt + AES-256-CBC).
    pub fn to_encrypted_pkcs8(&self, password: &str) -> Result<Vec<u8>, KeyError> {
        let doc = self
            .key
            .to_pkcs8_encrypted_der(&mut rand_core::OsRng, password)
            .map_err(bad_key)?;
        Ok(doc.as_bytes().to_vec())
    }

    /// The private key alone, as unencrypted DER PKCS#8 (wiped on drop).
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            self.key
                .to_pkcs8_der()
                .map(|d| d.as_bytes().to_vec())
                .unwrap_or_default(),
        )
    }

    /// Reads a DER PKCS#8 key (encrypted when `password` is given) and a DER chain (leaf first).
    pub fn from_pkcs8_der(
        key_der: &[u8],
        password: Option<&str>,
        chain_der: &[Vec<u8>],
    ) -> Result<Self, KeyError> {
        let key = match password {
            Some(pw) => {
                let enc = EncryptedPrivateKeyInfo::try_from(key_der).map_err(bad_key)?;
                let doc = enc.decrypt(pw).map_err(|_| KeyError::WrongPassword)?;
                SigningKey::from_pkcs8_der(doc.as_bytes()).map_err(bad_key)?
            }
            None => SigningKey::from_pkcs8_der(key_der).map_err(bad_key)?,
        };
        let chain = chain_der
            .iter()
            .map(|d| Certificate::from_der(d).map_err(bad_cert))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(key, chain)
    }

    /// The chain as DER, leaf first.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain.iter().filter_map(|c| c.to_der().ok()).collect()
    }

    /// The common name of the leaf certificate's subject.
    pub fn subject_common_name(&self) -> String {
        self.chain.first().map(cmsutil::cert_cn).unwrap_or_default()
    }

    /// End of validity of the leaf certificate.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.chain
            .first()
            .map(cmsutil::not_after)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Refuses a leaf certificate that is expired or not yet valid at `now`.
    pub fn check_usable_at(&self, now: DateTime<Utc>) -> Result<(), KeyError> {
        let leaf = self.chain.first().ok_or(KeyError::EmptyChain)?;
        let nb = cmsutil::not_before(leaf);
        if now < nb {
            return Err(KeyError::NotYetValid(nb));
        }
        let na = cmsutil::not_after(leaf);
        if now > na {
            return Err(KeyError::Expired(na));
        }
        Ok(())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub(crate) fn chain(&self) -> &[Certificate] {
        &self.chain
    }
}
