//! Errors of the use cases. Each belongs to a kind ([`ErrorKind`]) with a stable code, an
//! HTTP status and an exit code, so that front ends decide by the kind, never by matching a
//! message; each has a French message for the person ([`AppError::user_message`]) apart
//! from the detail for the log (its `Display`), which may name files, servers or SQL.

use parapheur_domain::TransitionError;
use parapheur_domain::item::InvalidItem;
use parapheur_files::{FileError, KeyError};
use parapheur_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Files(#[from] FileError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    InvalidItem(#[from] InvalidItem),
    #[error("code INSEE inconnu « {0} » : aucune commune de la liste officielle ne porte ce code")]
    UnknownInsee(String),
    #[error("la commune {0} n'est pas dans ce registre : créez-la avec « parapheur init »")]
    CommuneNotInRegister(String),
    #[error("type de document inconnu « {0} »")]
    UnknownDoctype(String),
    /// A value the person gave is refused; `field` names the form field when there is one.
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    /// Someone else changed the same thing first: read again, then retry.
    #[error("{0}")]
    Conflict(String),
    #[error("action refusée : {0}")]
    Forbidden(String),
    /// A service the use case needs does not answer (IMAP, SMTP, the time-stamping
    /// authority): nothing was changed, it can be tried again later.
    #[error("{service} injoignable : {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// The configuration is refused (a setting, the master key's file): the operator's
    /// to correct.
    #[error("configuration : {0}")]
    Config(String),
    /// A fault of the program or of its machine (a task that died, a file it cannot write).
    #[error("erreur interne : {0}")]
    Internal(String),
}

/// What kind of failure an error is: how front ends answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Forbidden,
    Invalid,
    Conflict,
    Unavailable,
    Internal,
}

impl ErrorKind {
    /// The stable code the API's JSON errors carry.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Forbidden => 403,
            ErrorKind::Invalid => 400,
            ErrorKind::Conflict => 409,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// The command line's exit code: 1 for what the person can correct, 75 (EX_TEMPFAIL:
    /// try again later) for a service or resource not available now, 70 (EX_SOFTWARE)
    /// for a fault.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::NotFound
            | ErrorKind::Forbidden
            | ErrorKind::Invalid
            | ErrorKind::Conflict => 1,
            ErrorKind::Unavailable => 75,
            ErrorKind::Internal => 70,
        }
    }
}

impl AppError {
    /// A refused value, without a form field to point at.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: None,
            message: message.into(),
        }
    }

    /// A refused value of the form field `field`.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        AppError::Internal(detail.into())
    }

    pub fn unavailable(service: &'static str, detail: impl std::fmt::Display) -> Self {
        AppError::Unavailable {
            service,
            detail: detail.to_string(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Store(e) => match e {
                StoreError::NotFound(_) => ErrorKind::NotFound,
                StoreError::AlreadyExists(_) | StoreError::Changed(_) => ErrorKind::Conflict,
                StoreError::Invalid(_) => ErrorKind::Invalid,
                StoreError::Locked(_)
                | StoreError::DiskFull(_)
                | StoreError::Unavailable { .. } => ErrorKind::Unavailable,
                StoreError::Corrupt(_) | StoreError::Database(_) => ErrorKind::Internal,
            },
            AppError::Files(e) => match e {
                FileError::Missing { .. } => ErrorKind::NotFound,
                FileError::TooLarge { .. } | FileError::InvalidCommuneId(_) => ErrorKind::Invalid,
                // Kept and tried again: capture does not quarantine, a form keeps its input.
                e if e.is_unavailable() => ErrorKind::Unavailable,
                FileError::Location(_) => ErrorKind::Invalid,
                _ => ErrorKind::Internal,
            },
            // A wrong or unreadable master key, a refused setting: the operator corrects it.
            AppError::Key(
                KeyError::InvalidMasterKey { .. }
                | KeyError::WrongMasterKey { .. }
                | KeyError::WrongCommune { .. },
            )
            | AppError::Config(_) => ErrorKind::Invalid,
            AppError::Key(_) | AppError::Internal(_) => ErrorKind::Internal,
            AppError::Transition(_)
            | AppError::InvalidItem(_)
            | AppError::UnknownInsee(_)
            | AppError::UnknownDoctype(_)
            | AppError::Invalid { .. } => ErrorKind::Invalid,
            AppError::CommuneNotInRegister(_) => ErrorKind::NotFound,
            AppError::Conflict(_) => ErrorKind::Conflict,
            AppError::Forbidden(_) => ErrorKind::Forbidden,
            AppError::Unavailable { .. } => ErrorKind::Unavailable,
        }
    }

    /// The form field a refused value came from, if the use case knows it.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Invalid { field, .. } => *field,
            _ => None,
        }
    }

    /// What the person is told, in French. A fault is not described (its detail goes to
    /// the log); a refusal says what to change; an unavailable service says to retry.
    pub fn user_message(&self) -> String {
        // Read alone on a page, a message is a sentence: a capital first.
        parapheur_domain::french::sentence(&self.lowercase_message())
    }

    fn lowercase_message(&self) -> String {
        match (self.kind(), self) {
            (
                _,
                AppError::Store(StoreError::DiskFull(_))
                | AppError::Files(FileError::DiskFull { .. }),
            ) => "le disque du serveur est plein : rien n'a été enregistré. Prévenez la personne \
                 qui s'occupe du serveur."
                .to_owned(),
            (_, AppError::Store(StoreError::Locked(_))) => {
                "le registre est momentanément occupé : réessayez dans un instant".to_owned()
            }
            (ErrorKind::NotFound, _) => {
                "introuvable : ce qui est demandé n'existe pas ou plus".to_owned()
            }
            (ErrorKind::Unavailable, AppError::Unavailable { service, .. }) => {
                format!("{service} ne répond pas : rien n'a été changé, réessayez plus tard")
            }
            // The storage's own message says which fault and that nothing was lost.
            (ErrorKind::Unavailable, AppError::Files(e)) => e.to_string(),
            (ErrorKind::Unavailable, _) => {
                "le service est momentanément indisponible : réessayez plus tard".to_owned()
            }
            (ErrorKind::Internal, _) => {
                "erreur interne du serveur : rien n'a été changé, l'incident est noté dans le \
                 journal du serveur"
                    .to_owned()
            }
            _ => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each kind: the person's message, the HTTP status, the exit code.
    #[test]
    fn each_kind_has_its_message_status_and_exit_code() {
        let cases = [
            (
                AppError::Store(StoreError::not_found("courrier 2026-A-000001")),
                ErrorKind::NotFound,
                "introuvable",
                404,
                1,
            ),
            (
                AppError::Forbidden("seul le maire signe".into()),
                ErrorKind::Forbidden,
                "seul le maire signe",
                403,
                1,
            ),
            (
                AppError::invalid_field("subject", "l'objet est vide"),
                ErrorKind::Invalid,
                "l'objet est vide",
                400,
                1,
            ),
            (
                AppError::UnknownDoctype("urba".into()),
                ErrorKind::Invalid,
                "type de document inconnu « urba »",
                400,
                1,
            ),
            (
                AppError::Conflict("le parapheur a changé entre-temps".into()),
                ErrorKind::Conflict,
                "le parapheur a changé entre-temps",
                409,
                1,
            ),
            (
                AppError::unavailable("le serveur IMAP", "connexion refusée (imap.exemple.fr:993)"),
                ErrorKind::Unavailable,
                "le serveur IMAP ne répond pas",
                503,
                75,
            ),
            (
                AppError::internal("tâche de mise en page arrêtée : /tmp/x"),
                ErrorKind::Internal,
                "erreur interne du serveur",
                500,
                70,
            ),
        ];
        for (error, kind, message, status, exit) in cases {
            assert_eq!(error.kind(), kind, "{error}");
            let read = error.user_message();
            assert!(read.contains(&message[1..]), "{read}");
            // Shown alone on a page: a sentence, with its capital.
            assert!(read.starts_with(char::is_uppercase), "{read}");
            assert_eq!(kind.http_status(), status);
            assert_eq!(kind.exit_code(), exit);
        }
        // The detail stays in the log, never in the person's message.
        let fault = AppError::internal("tâche de mise en page arrêtée : /tmp/x");
        assert!(fault.to_string().contains("/tmp/x"));
        assert!(!fault.user_message().contains("/tmp/x"));
        let down = AppError::unavailable("le serveur IMAP", "imap.exemple.fr:993");
        assert!(!down.user_message().contains("imap.exemple.fr"));
        assert_eq!(
            AppError::invalid_field("subject", "vide").field(),
            Some("subject")
        );
        let codes: Vec<&str> = [
            ErrorKind::NotFound,
            ErrorKind::Forbidden,
            ErrorKind::Invalid,
            ErrorKind::Conflict,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ]
        .iter()
        .map(|k| k.code())
        .collect();
        assert_eq!(
            codes,
            [
                "not_found",
                "forbidden",
                "invalid",
                "conflict",
                "unavailable",
                "internal"
            ]
        );
    }
}
