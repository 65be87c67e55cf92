use chrono::{DateTime, Utc};

fn date_fr(d: &DateTime<Utc>) -> String {
    d.format("%d/%m/%Y à %H:%M UTC").to_string()
}

/// Errors about keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("mot de passe de la clé incorrect")]
    WrongPassword,
    #[error("la clé ne correspond pas au certificat")]
    KeyMismatch,
    #[error("la chaîne de certificats est vide")]
    EmptyChain,
    #[error("clé privée illisible : {0}")]
    InvalidKey(String),
    #[error("certificat illisible : {0}")]
    InvalidCertificate(String),
    #[error("fichier PKCS#12 illisible : {0}")]
    Pkcs12(String),
    #[error("certificat expiré le {}", date_fr(.0))]
    Expired(DateTime<Utc>),
    #[error("certificat pas encore valide (valide à partir du {})", date_fr(.0))]
    NotYetValid(DateTime<Utc>),
    #[error("création du certificat impossible : {0}")]
    Generation(String),
}

/// Errors while signing or verifying a PDF.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("le PDF dépasse 50 Mo")]
    TooLarge,
    #[error("le PDF est chiffré : il ne peut pas être signé")]
    Encrypted,
    #[error("le PDF est illisible : {0}")]
    Unreadable(String),
    #[error("la page {0} n'existe pas dans le document")]
    NoSuchPage(usize),
    #[error("un champ nommé « {0} » existe déjà dans le document")]
    FieldExists(String),
    #[error(
        "la signature ({needed} octets) ne tient pas dans l'espace réservé ({reserved} octets)"
    )]
    SignatureTooLarge { needed: usize, reserved: usize },
    #[error("image de signature illisible : {0}")]
    Image(String),
    #[error("construction de la signature CMS impossible : {0}")]
    Cms(String),
    #[error("horodatage impossible : {0}")]
    Timestamp(String),
    #[error("écriture du PDF impossible : {0}")]
    Write(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}
