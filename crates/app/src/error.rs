use parapheur_domain::TransitionError;
use parapheur_domain::item::InvalidItem;
use parapheur_files::{FileError, KeyError};
use parapheur_store::StoreError;

/// Errors of the use cases; each message names the problem in French.
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
    #[error("type de document inconnu « {0} » : « parapheur doctype list » donne les codes")]
    UnknownDoctype(String),
    #[error("{0}")]
    Invalid(String),
    #[error("configuration : {0}")]
    Config(String),
    #[error("action refusée : {0}")]
    Forbidden(String),
}

impl AppError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Invalid(msg.into())
    }
}
