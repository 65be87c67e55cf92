//! Why a ProConnect login did not open a session, each reason with its stable code.

use super::super::auth::LoginError;
use crate::AppError;

/// Why a ProConnect login did not open a session: each has a stable code
/// ([`ProConnectError::code`]) shown with its French message; the detail is for the log.
#[derive(Debug, thiserror::Error)]
pub enum ProConnectError {
    #[error("la connexion avec ProConnect n'est pas configurée sur ce serveur")]
    NotConfigured,
    #[error(
        "ProConnect ne répond pas pour le moment : réessayez dans quelques minutes, ou connectez-vous avec votre mot de passe"
    )]
    ProviderUnavailable(String),
    #[error(
        "cette connexion ProConnect n'a pas été commencée depuis ce navigateur ou a déjà servi : recommencez depuis la page de connexion"
    )]
    StateMismatch,
    #[error("cette connexion ProConnect a expiré : recommencez depuis la page de connexion")]
    Expired,
    #[error(
        "ProConnect n'a pas confirmé votre identité ({0}) : recommencez depuis la page de connexion"
    )]
    ProviderRefused(String),
    #[error(
        "le jeton d'identité envoyé par ProConnect n'est pas valide : la connexion est refusée ; si cela se reproduit, prévenez l'hébergeur"
    )]
    InvalidIdToken(String),
    #[error(
        "les informations d'identité envoyées par ProConnect sont incomplètes ou incohérentes : la connexion est refusée ; si cela se reproduit, prévenez l'hébergeur"
    )]
    InvalidUserInfo(String),
    #[error(
        "Aucun compte actif n'est lié à cette identité ProConnect ({0}) ; demandez à l'administrateur de votre commune de créer votre compte avec cette adresse, ou de la corriger."
    )]
    UnknownIdentity(String),
    #[error(
        "votre identité ProConnect ({email}) est rattachée au SIRET {siret}, qui n'est pas celui d'une commune où vous avez un compte : choisissez la bonne organisation dans ProConnect, ou demandez à l'administrateur de votre commune"
    )]
    SiretMismatch { email: String, siret: String },
    #[error(transparent)]
    Login(LoginError),
    #[error(transparent)]
    App(#[from] AppError),
}

impl ProConnectError {
    /// The stable code of the error, shown to the person and written in the log.
    pub fn code(&self) -> &'static str {
        match self {
            ProConnectError::NotConfigured => "oidc_not_configured",
            ProConnectError::ProviderUnavailable(_) => "oidc_provider_unavailable",
            ProConnectError::StateMismatch => "oidc_state_mismatch",
            ProConnectError::Expired => "oidc_expired",
            ProConnectError::ProviderRefused(_) => "oidc_provider_refused",
            ProConnectError::InvalidIdToken(_) => "oidc_invalid_id_token",
            ProConnectError::InvalidUserInfo(_) => "oidc_invalid_userinfo",
            ProConnectError::UnknownIdentity(_) => "oidc_unknown_identity",
            ProConnectError::SiretMismatch { .. } => "oidc_siret_mismatch",
            ProConnectError::Login(LoginError::TooManyAttempts(_)) => "login_rate_limited",
            ProConnectError::Login(LoginError::BadSecondFactor) => "login_bad_second_factor",
            ProConnectError::Login(_) => "login_refused",
            ProConnectError::App(e) => e.kind().code(),
        }
    }

    /// The HTTP status of the page that says it.
    pub fn status(&self) -> u16 {
        match self {
            ProConnectError::NotConfigured => 404,
            ProConnectError::ProviderUnavailable(_) => 502,
            ProConnectError::UnknownIdentity(_) | ProConnectError::SiretMismatch { .. } => 403,
            ProConnectError::Login(LoginError::TooManyAttempts(_)) => 429,
            ProConnectError::Login(_) => 401,
            ProConnectError::App(e) => e.kind().http_status(),
            _ => 400,
        }
    }

    /// What the log says besides the code (never a token).
    pub fn detail(&self) -> String {
        match self {
            ProConnectError::ProviderUnavailable(d)
            | ProConnectError::InvalidIdToken(d)
            | ProConnectError::InvalidUserInfo(d)
            | ProConnectError::ProviderRefused(d) => d.clone(),
            other => other.to_string(),
        }
    }
}

impl From<LoginError> for ProConnectError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::App(e) => ProConnectError::App(e),
            other => ProConnectError::Login(other),
        }
    }
}
