use std::fmt;

/// What can go wrong in the store, worded for the person at the keyboard.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "la base de données est verrouillée par un autre programme ; réessayez dans un instant"
    )]
    Locked(#[source] sqlx::Error),
    #[error("la base de données est corrompue ou n'est pas une base parapheur ({0})")]
    Corrupt(String),
    #[error("le disque est plein ou en erreur : la base de données ne peut plus écrire")]
    DiskFull(#[source] sqlx::Error),
    #[error("impossible d'ouvrir la base de données {target} : {source}")]
    Unavailable {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{0} introuvable")]
    NotFound(String),
    #[error("{0} existe déjà")]
    AlreadyExists(String),
    #[error("{0}")]
    Invalid(String),
    /// A read-modify-write found the row changed since it was read (by another person or
    /// another node): nothing was written.
    #[error(
        "{0} a été modifié entre-temps par quelqu'un d'autre : rechargez la page et recommencez"
    )]
    Changed(String),
    #[error("erreur de la base de données : {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    pub fn not_found(what: impl fmt::Display) -> Self {
        StoreError::NotFound(what.to_string())
    }

    pub fn corrupt(what: impl fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

/// SQLite primary result codes (the low byte of extended codes) and PostgreSQL SQLSTATEs.
fn classify(err: sqlx::Error) -> StoreError {
    let Some(db) = err.as_database_error() else {
        return StoreError::Database(err);
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    if let Ok(n) = code.parse::<i64>() {
        return match n & 0xff {
            5 | 6 => StoreError::Locked(err),
            11 | 26 => StoreError::Corrupt(db.message().to_owned()),
            // SQLITE_FULL, and SQLITE_IOERR (a full disk often shows as a failed write or
            // a shared-memory file that cannot be created).
            10 | 13 => StoreError::DiskFull(err),
            _ => StoreError::Database(err),
        };
    }
    match code.as_str() {
        "53100" => StoreError::DiskFull(err),
        "55P03" | "40P01" => StoreError::Locked(err),
        "XX001" | "XX002" => StoreError::Corrupt(db.message().to_owned()),
        _ => StoreError::Database(err),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        classify(err)
    }
}

/// True when the error is a unique-constraint violation (SQLite 2067/1555, PostgreSQL 23505).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
}
