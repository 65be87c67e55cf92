//! Password hashing with argon2id (the crate's default algorithm and parameters).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::AppError;

/// Minimum length: long passphrases beat complexity rules.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Refuses passwords too short to resist guessing.
pub fn check_strength(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(format!(
            "le mot de passe doit compter au moins {MIN_PASSWORD_LEN} caractères"
        )));
    }
    Ok(())
}

/// Hashes a password into a PHC string (`$argon2id$…`) with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    check_strength(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::invalid(format!("hachage du mot de passe impossible : {e}")))
}

/// True when `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordVerifier::verify_password(&Argon2::default(), password.as_bytes(), phc).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("wrong horse battery", &phc));
        assert!(hash_password("court").is_err());
        assert!(!verify_password("x", "not a hash"));
    }
}
