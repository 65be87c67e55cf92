//! The proof of work of the public forms: a signed challenge issued with the page, spent
//! once, solved by the browser (`demande.js`).

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_domain::pow;
use sha2::{Digest, Sha256};

use crate::{App, AppError};

/// How long a challenge stays usable: the time a person may take to fill in a form.
pub const POW_MAX_AGE_SECS: i64 = 3600;

/// Why the anti-robot check failed.
#[derive(Debug)]
pub enum PowRefusal {
    /// No solution: the browser did not run the script.
    NoScript,
    Invalid(pow::PowError),
    Replayed,
}

impl App {
    /// The key that signs the challenges: derived from the installation's secret, so every
    /// process of the installation (and only it) recognises them.
    fn pow_key(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"parapheur-pow-v1");
        hasher.update(self.pow_secret());
        hasher.finalize().into()
    }

    /// A new signed challenge, with a nonce from the system's secure random source.
    pub fn issue_pow_challenge(&self, now: DateTime<Utc>) -> Result<String, AppError> {
        // A random 256-bit token's hash: 32 hex digits of it make the 16-byte nonce.
        let (_, random) = crate::administration::auth::new_token()?;
        let mut nonce = [0u8; 16];
        let bytes = hex::decode(random.get(..32).unwrap_or_default())
            .map_err(|e| AppError::internal(format!("nonce: {e}")))?;
        if bytes.len() != nonce.len() {
            return Err(AppError::internal("nonce: short random"));
        }
        nonce.copy_from_slice(&bytes);
        Ok(pow::issue(
            &self.pow_key(),
            now.timestamp(),
            nonce,
            self.pow_bits(),
        ))
    }

    /// Verifies the challenge and its solution, then spends the challenge (a second use is
    /// refused, on every process sharing the database).
    #[boxed_future]
    pub async fn check_pow(
        &self,
        challenge: &str,
        solution: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), PowRefusal>, AppError> {
        if challenge.is_empty() || solution.is_empty() {
            return Ok(Err(PowRefusal::NoScript));
        }
        let key = self.pow_key();
        if let Err(e) = pow::verify(&key, challenge, solution, now.timestamp(), POW_MAX_AGE_SECS) {
            return Ok(Err(PowRefusal::Invalid(e)));
        }
        // Verified, so well formed: v1.{issued}.{nonce}.{difficulty}.{signature}.
        let mut parts = challenge.split('.');
        let issued: i64 = parts.nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let nonce = parts.next().unwrap_or_default();
        let expires = DateTime::from_timestamp(
            issued
                .saturating_add(POW_MAX_AGE_SECS)
                .saturating_add(pow::MAX_CLOCK_SKEW_SECS),
            0,
        )
        .unwrap_or(now);
        if self.store().spend_challenge(nonce, expires, now).await? {
            Ok(Ok(()))
        } else {
            Ok(Err(PowRefusal::Replayed))
        }
    }
}
