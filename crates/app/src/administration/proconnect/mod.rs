//! ProConnect: agents log in with their ProConnect identity (OpenID Connect, authorization
//! code flow with PKCE), mapped to their account by email.
//!
//! One client for the whole installation (`[proconnect]` in `parapheur.toml`): ProConnect
//! registers a service once, with its redirect address, and a hosted server serves every
//! commune from one address. The provider is discovered from its issuer
//! (`/.well-known/openid-configuration`, with its keys), read again every five minutes and
//! at once when an ID token's signature does not verify: a rotation of its keys needs no
//! restart. The ID token (signature, issuer, audience, expiry, nonce, `at_hash`) and the
//! userinfo answer (signed JWT or JSON, its subject the ID token's) are verified by the
//! `openidconnect` crate; its HTTP goes through our reqwest client (rustls, no redirects).
//!
//! Nothing is written before the identity is verified: what the login needs between its
//! steps (state, nonce, PKCE verifier; then the accounts found) is sealed with a key
//! derived from the master key (XChaCha20-Poly1305, bound to its purpose) into a short-lived
//! cookie, the same on every node. A second factor is asked as for a password login
//! (`login_needs_second_factor`), unless the ID token's `acr` (or `amr`) says the provider
//! already checked one.

use crate::boxed_future;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdToken};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    UserInfoClaims,
};
use parapheur_domain::Commune;
use parapheur_store::users::User;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::{LoginError, NewSession, new_token};

mod error;
mod provider;

use crate::{App, AppError};
pub use error::ProConnectError;
pub(crate) use provider::DiscoveryCache;
pub use provider::ProConnectClaims;
use provider::{
    DiscoveredClient, Http, VerifiedIdToken, attests_mfa, equal_in_constant_time, http_client,
    verify_id_token,
};

/// Where the provider sends the person back, after `public_url`.
pub const CALLBACK_PATH: &str = "/connexion/proconnect/retour";
/// How long the person has at the provider to log in.
const FLOW_VALIDITY: Duration = Duration::minutes(10);
/// How long the person has to choose their commune or type their code afterwards.
const PENDING_VALIDITY: Duration = Duration::minutes(5);
/// The scopes asked for besides `openid`: ProConnect names them after its claims.
const SCOPES: &[&str] = &["email", "given_name", "usual_name", "siret", "uid"];
/// The `acr` values that say the provider checked a second factor itself (ProConnect's
/// levels; eIDAS substantial and high).
pub const MFA_ACR_VALUES: &[&str] = &[
    "eidas2",
    "eidas3",
    "https://proconnect.gouv.fr/assurance/self-asserted-2fa",
    "https://proconnect.gouv.fr/assurance/consistency-checked-2fa",
];
const FLOW_CONTEXT: &str = "proconnect:flow";
const PENDING_CONTEXT: &str = "proconnect:pending";
const LOGOUT_CONTEXT: &str = "proconnect:logout";
/// How long the browser keeps what ends the ProConnect session at logout: a session's
/// longest life.
pub const LOGOUT_VALIDITY: Duration = super::auth::SESSION_MAX;
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// How long the provider's metadata and keys are used before they are read again (at
/// once when an ID token's signature does not verify with them: a key rotation).
pub const DISCOVERY_VALIDITY: std::time::Duration = std::time::Duration::from_secs(300);

/// A login begun: where to send the browser, and the sealed state for its cookie.
#[derive(Debug, Clone)]
pub struct ProConnectStart {
    pub authorization_url: String,
    /// For the short-lived cookie read back at [`App::proconnect_finish`].
    pub sealed_flow: String,
}

/// What a verified ProConnect identity leads to.
#[derive(Debug)]
pub enum ProConnectOutcome {
    /// Logged in.
    LoggedIn {
        session: Box<NewSession>,
        /// The page asked for before the login, if any.
        next: Option<String>,
        /// For the cookie read back at logout ([`App::proconnect_logout_url`]): the ID
        /// token, sealed, to end the session at ProConnect too.
        sealed_logout: String,
    },
    /// One more step: the commune (several accounts have this email) and/or our second
    /// factor (an administrator whose provider did not check one).
    Continue {
        /// For the short-lived cookie read back at [`App::proconnect_continue`].
        sealed_pending: String,
        /// The communes to choose from (empty when the account is known).
        communes: Vec<Commune>,
        second_factor: bool,
        email: String,
    },
}

/// What the browser keeps while the person is at the provider (sealed).
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    pkce_verifier: String,
    next: Option<String>,
    issued_at: i64,
}

/// What the browser keeps between the verified identity and the session (sealed).
#[derive(Serialize, Deserialize)]
struct Pending {
    email: String,
    users: Vec<Uuid>,
    /// The provider attested a second factor (`acr`/`amr`).
    mfa: bool,
    acr: Option<String>,
    next: Option<String>,
    /// The ID token, as the hint of the logout at the provider.
    id_token: String,
    issued_at: i64,
}

/// What the browser keeps until logout (sealed).
#[derive(Serialize, Deserialize)]
struct Logout {
    id_token: String,
    issued_at: i64,
}

/// The callback's query: `code` and `state`, or `error`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CallbackParams {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    /// The provider that answers (RFC 9207), when it says.
    #[serde(default)]
    pub iss: Option<String>,
}

impl App {
    /// Whether agents may log in with ProConnect here.
    pub fn proconnect_enabled(&self) -> bool {
        self.proconnect_setting().is_some()
    }

    fn seal_json<T: Serialize>(&self, value: &T, context: &str) -> Result<String, AppError> {
        let json = serde_json::to_vec(value)
            .map_err(|e| AppError::internal(format!("ProConnect : {e}")))?;
        let sealed = self.proconnect_key().seal_bytes(&json, context)?;
        Ok(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sealed,
        ))
    }

    fn open_json<T: for<'de> Deserialize<'de>>(&self, sealed: &str, context: &str) -> Option<T> {
        let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sealed)
            .ok()?;
        let json = self.proconnect_key().open_bytes(&raw, context).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Discovers the provider (its metadata and keys, read again after
    /// [`DISCOVERY_VALIDITY`] or when `fresh`) and builds the client; with the provider's
    /// logout address, if it has one.
    async fn proconnect_client(
        &self,
        http: &Http,
        fresh: bool,
    ) -> Result<(DiscoveredClient, Option<openidconnect::EndSessionUrl>), ProConnectError> {
        let setting = self
            .proconnect_setting()
            .ok_or(ProConnectError::NotConfigured)?;
        let issuer = IssuerUrl::new(setting.issuer.clone())
            .map_err(|e| ProConnectError::ProviderUnavailable(format!("issuer : {e}")))?;
        let cached = (!fresh)
            .then(|| self.proconnect_discovery().get())
            .flatten();
        let metadata = match cached {
            Some(metadata) => metadata,
            None => {
                let metadata = ProviderMetadataWithLogout::discover_async(issuer, http)
                    .await
                    .map_err(|e| {
                        ProConnectError::ProviderUnavailable(format!("découverte : {e}"))
                    })?;
                self.proconnect_discovery().set(metadata.clone());
                metadata
            }
        };
        let redirect = RedirectUrl::new(format!(
            "{}{CALLBACK_PATH}",
            self.public_url().trim_end_matches('/')
        ))
        .map_err(|e| ProConnectError::App(AppError::internal(format!("redirect_uri : {e}"))))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(setting.client_id.clone()),
            Some(ClientSecret::new(setting.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        Ok((client, end_session))
    }

    /// Begins a ProConnect login: the provider's authorization address (state, nonce, PKCE
    /// challenge, scopes, asked `acr`) and the sealed state for the browser's cookie.
    #[boxed_future]
    pub async fn proconnect_start(
        &self,
        next: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ProConnectStart, ProConnectError> {
        let setting = self
            .proconnect_setting()
            .ok_or(ProConnectError::NotConfigured)?;
        let acr_values = setting.acr_values.clone();
        let http = http_client()?;
        let (client, _) = self.proconnect_client(&http, false).await?;
        let (state, _) = new_token()?;
        let (nonce, _) = new_token()?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                {
                    let state = state.clone();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.clone();
                    move || Nonce::new(nonce)
                },
            )
            .set_pkce_challenge(challenge);
        for scope in SCOPES {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        for acr in acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr));
        }
        let (url, _, _) = request.url();
        let flow = Flow {
            state,
            nonce,
            pkce_verifier: verifier.secret().clone(),
            next: next.map(str::to_owned),
            issued_at: now.timestamp(),
        };
        Ok(ProConnectStart {
            authorization_url: url.to_string(),
            sealed_flow: self.seal_json(&flow, FLOW_CONTEXT)?,
        })
    }

    /// The provider sent the person back: checks the state against the browser's sealed
    /// one, exchanges the code (with the PKCE verifier), verifies the ID token and its
    /// nonce, reads the userinfo, finds the account by email; then opens the session, or
    /// says what is still needed (commune, second factor).
    #[boxed_future]
    pub async fn proconnect_finish(
        &self,
        sealed_flow: Option<&str>,
        params: &CallbackParams,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<ProConnectOutcome, ProConnectError> {
        if !self.proconnect_enabled() {
            return Err(ProConnectError::NotConfigured);
        }
        let flow: Flow = sealed_flow
            .and_then(|sealed| self.open_json(sealed, FLOW_CONTEXT))
            .ok_or(ProConnectError::StateMismatch)?;
        let given_state = params.state.as_deref().unwrap_or_default();
        if !equal_in_constant_time(&flow.state, given_state) {
            return Err(ProConnectError::StateMismatch);
        }
        if now.timestamp() - flow.issued_at > FLOW_VALIDITY.num_seconds() {
            return Err(ProConnectError::Expired);
        }
        // RFC 9207: an answer that names another issuer is not our provider's.
        if let (Some(iss), Some(setting)) = (&params.iss, self.proconnect_setting())
            && iss != &setting.issuer
        {
            return Err(ProConnectError::ProviderRefused(format!(
                "réponse d'un autre fournisseur d'identité ({})",
                iss.chars().take(100).collect::<String>()
            )));
        }
        if let Some(error) = &params.error {
            let error: String = error.chars().take(80).collect();
            return Err(ProConnectError::ProviderRefused(
                match &params.error_description {
                    Some(description) => {
                        format!(
                            "{error} : {}",
                            description.chars().take(200).collect::<String>()
                        )
                    }
                    None => error,
                },
            ));
        }
        let code = params
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ProConnectError::ProviderRefused("aucun code d'autorisation".into()))?;

        let http = http_client()?;
        let (client, _) = self.proconnect_client(&http, false).await?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| ProConnectError::ProviderUnavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => {
                    ProConnectError::ProviderRefused(answer.error().to_string())
                }
                other => ProConnectError::ProviderUnavailable(format!("jeton : {other}")),
            })?;

        // Keys read a while ago may have been rotated since: once more with fresh ones.
        let (client, verified) = match verify_id_token(&client, &token, &flow.nonce) {
            Ok(verified) => (client, verified),
            Err(first) => {
                let (fresh, _) = self.proconnect_client(&http, true).await?;
                match verify_id_token(&fresh, &token, &flow.nonce) {
                    Ok(verified) => (fresh, verified),
                    Err(_) => return Err(first),
                }
            }
        };
        let VerifiedIdToken {
            subject,
            acr,
            amr,
            email: token_email,
            text: id_token_text,
        } = verified;

        let (email, siret) = match client.user_info(token.access_token().clone(), Some(subject)) {
            Ok(request) => {
                let info: UserInfoClaims<ProConnectClaims, CoreGenderClaim> = request
                    .request_async(&http)
                    .await
                    .map_err(|e| ProConnectError::InvalidUserInfo(e.to_string()))?;
                (
                    info.email().map(|e| e.as_str().to_owned()).or(token_email),
                    info.additional_claims().siret.clone(),
                )
            }
            // No userinfo endpoint: the ID token's own claims.
            Err(_) => (token_email, None),
        };
        let email = email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@'))
            .ok_or_else(|| {
                ProConnectError::InvalidUserInfo("aucune adresse électronique".into())
            })?;

        if let Some(minutes) = self.login_blocked(&email, ip, now).await? {
            tracing::warn!(?ip, "ProConnect login rate limited");
            return Err(LoginError::TooManyAttempts(minutes).into());
        }
        let mut users = self
            .store()
            .users_by_email(&email)
            .await
            .map_err(AppError::from)?;
        if users.is_empty() {
            self.record_login_failure(&email, ip, now).await?;
            return Err(ProConnectError::UnknownIdentity(email));
        }
        // The SIRET's SIREN (its first 9 digits) names the commune when it is one: with
        // `require_siret`, only that commune's account; otherwise it picks among several.
        let siren = siret
            .as_deref()
            .map(str::trim)
            .filter(|s| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|s| s[..9].to_owned());
        let mut of_siren = Vec::new();
        for user in &users {
            let commune = self
                .store()
                .commune(user.commune_id)
                .await
                .map_err(AppError::from)?;
            let commune_siren = parapheur_communes::by_insee(&commune.insee).map(|r| r.siren);
            if siren.is_some() && commune_siren == siren.as_deref() {
                of_siren.push(user.id);
            }
        }
        let require_siret = self.proconnect_setting().is_some_and(|p| p.require_siret);
        if require_siret && of_siren.is_empty() {
            self.record_login_failure(&email, ip, now).await?;
            return Err(ProConnectError::SiretMismatch {
                email,
                siret: siret.unwrap_or_else(|| "absent".into()),
            });
        }
        if !of_siren.is_empty() {
            users.retain(|u| of_siren.contains(&u.id));
        }
        let pending = Pending {
            email,
            users: users.iter().map(|u| u.id).collect(),
            mfa: attests_mfa(acr.as_deref(), &amr),
            acr,
            next: flow.next,
            id_token: id_token_text,
            issued_at: now.timestamp(),
        };
        self.proconnect_step(pending, None, None, ip, now).await
    }

    /// The step after the provider: the commune chosen and/or the second factor's code,
    /// with the sealed state the browser kept.
    #[boxed_future]
    pub async fn proconnect_continue(
        &self,
        sealed_pending: Option<&str>,
        commune_insee: Option<&str>,
        second_factor: Option<&str>,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<ProConnectOutcome, ProConnectError> {
        let pending: Pending = sealed_pending
            .and_then(|sealed| self.open_json(sealed, PENDING_CONTEXT))
            .ok_or(ProConnectError::StateMismatch)?;
        if now.timestamp() - pending.issued_at > PENDING_VALIDITY.num_seconds() {
            return Err(ProConnectError::Expired);
        }
        self.proconnect_step(pending, commune_insee, second_factor, ip, now)
            .await
    }

    /// Where to send the browser at logout to end its ProConnect session too (RP-initiated
    /// logout), from what it kept since the login: none when the provider has no logout
    /// address, or cannot be reached (the person is logged out here all the same).
    #[boxed_future]
    pub async fn proconnect_logout_url(
        &self,
        sealed_logout: &str,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let setting = self.proconnect_setting()?;
        let logout: Logout = self.open_json(sealed_logout, LOGOUT_CONTEXT)?;
        if now.timestamp() - logout.issued_at > LOGOUT_VALIDITY.num_seconds() {
            return None;
        }
        let id_token: CoreIdToken = logout.id_token.parse().ok()?;
        let http = http_client().ok()?;
        let end_session = match self.proconnect_client(&http, false).await {
            Ok((_, end_session)) => end_session?,
            Err(e) => {
                tracing::warn!(code = e.code(), detail = %e.detail(), "ProConnect logout: provider unreachable");
                return None;
            }
        };
        let back = PostLogoutRedirectUrl::new(format!(
            "{}/connexion",
            self.public_url().trim_end_matches('/')
        ))
        .ok()?;
        let (state, _) = new_token().ok()?;
        Some(
            LogoutRequest::from(end_session)
                .set_id_token_hint(&id_token)
                .set_client_id(ClientId::new(setting.client_id.clone()))
                .set_post_logout_redirect_uri(back)
                .set_state(CsrfToken::new(state))
                .http_get_url()
                .to_string(),
        )
    }

    async fn proconnect_step(
        &self,
        mut pending: Pending,
        commune_insee: Option<&str>,
        second_factor: Option<&str>,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<ProConnectOutcome, ProConnectError> {
        if let Some(minutes) = self.login_blocked(&pending.email, ip, now).await? {
            return Err(LoginError::TooManyAttempts(minutes).into());
        }
        // The accounts again: one may have been closed since.
        let mut accounts: Vec<(User, Commune)> = Vec::new();
        for user in self
            .store()
            .users_by_email(&pending.email)
            .await
            .map_err(AppError::from)?
        {
            if pending.users.contains(&user.id) {
                let commune = self
                    .store()
                    .commune(user.commune_id)
                    .await
                    .map_err(AppError::from)?;
                accounts.push((user, commune));
            }
        }
        if accounts.is_empty() {
            return Err(ProConnectError::UnknownIdentity(pending.email));
        }
        let chosen = match (accounts.len(), commune_insee) {
            (1, _) => 0,
            (_, Some(insee)) => accounts
                .iter()
                .position(|(_, c)| c.insee == insee)
                .ok_or(ProConnectError::StateMismatch)?,
            (_, None) => {
                return Ok(ProConnectOutcome::Continue {
                    sealed_pending: self.seal_json(&pending, PENDING_CONTEXT)?,
                    communes: accounts.into_iter().map(|(_, c)| c).collect(),
                    second_factor: false,
                    email: pending.email,
                });
            }
        };
        let (user, commune) = accounts.swap_remove(chosen);
        pending.users = vec![user.id];
        if !pending.mfa && self.login_needs_second_factor(&user).await? {
            let Some(code) = second_factor.map(str::trim).filter(|c| !c.is_empty()) else {
                return Ok(ProConnectOutcome::Continue {
                    sealed_pending: self.seal_json(&pending, PENDING_CONTEXT)?,
                    communes: Vec::new(),
                    second_factor: true,
                    email: pending.email,
                });
            };
            match self
                .check_second_factor(&commune, &user, Some(code), now)
                .await
            {
                Ok(()) => {}
                Err(e) if e.kind() == crate::ErrorKind::Invalid => {
                    self.record_login_failure(&pending.email, ip, now).await?;
                    return Err(LoginError::BadSecondFactor.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.clear_login_failures(&pending.email, ip).await?;
        let session = self.open_session(user, commune, now).await?;
        tracing::info!(
            user = %session.user.id,
            commune = %session.commune.insee,
            method = "proconnect",
            acr = pending.acr.as_deref().unwrap_or("-"),
            provider_second_factor = pending.mfa,
            "login"
        );
        let sealed_logout = self.seal_json(
            &Logout {
                id_token: pending.id_token,
                issued_at: now.timestamp(),
            },
            LOGOUT_CONTEXT,
        )?;
        Ok(ProConnectOutcome::LoggedIn {
            session: Box::new(session),
            sealed_logout,
            next: pending.next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_second_factor_level_or_mfa_method_counts() {
        assert!(!attests_mfa(Some("eidas1"), &["pwd".into()]));
        assert!(!attests_mfa(None, &[]));
        assert!(attests_mfa(Some("eidas2"), &[]));
        assert!(attests_mfa(
            Some("https://proconnect.gouv.fr/assurance/consistency-checked-2fa"),
            &[]
        ));
        assert!(attests_mfa(Some("eidas1"), &["pwd".into(), "mfa".into()]));
    }
}
