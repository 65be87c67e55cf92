//! The provider as seen from here: its metadata and keys cached per node, our HTTP client
//! in the openidconnect crate's shape, and the ID token's verification.

use openidconnect::core::{CoreClient, CoreJwsSigningAlgorithm, CoreTokenResponse};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce,
    OAuth2TokenResponse, ProviderMetadataWithLogout, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::{DISCOVERY_VALIDITY, HTTP_TIMEOUT, MFA_ACR_VALUES, ProConnectError};

/// The provider's metadata and keys last read, on this node.
#[derive(Default)]
pub(crate) struct DiscoveryCache(
    std::sync::Mutex<Option<(std::time::Instant, ProviderMetadataWithLogout)>>,
);

impl DiscoveryCache {
    pub(super) fn get(&self) -> Option<ProviderMetadataWithLogout> {
        let cached = self.0.lock().ok()?;
        cached
            .as_ref()
            .filter(|(read, _)| read.elapsed() < DISCOVERY_VALIDITY)
            .map(|(_, metadata)| metadata.clone())
    }

    pub(super) fn set(&self, metadata: ProviderMetadataWithLogout) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((std::time::Instant::now(), metadata));
        }
    }
}

/// ProConnect's claims beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProConnectClaims {
    /// The SIRET of the person's organisation (for a commune, its SIREN and an
    /// establishment number).
    #[serde(default)]
    pub siret: Option<String>,
    /// The family name ProConnect calls usual.
    #[serde(default)]
    pub usual_name: Option<String>,
}

impl AdditionalClaims for ProConnectClaims {}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct HttpError(String);

pub(super) type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Our HTTP client, as the openidconnect crate calls it (its future named, and `Send`).
pub(super) struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// Our HTTP client for the provider: rustls (ring), no redirects, no proxy, a timeout.
pub(super) fn http_client() -> Result<Http, ProConnectError> {
    // rustls needs one process-wide crypto provider: ring, as for S3, mail and webhooks.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("parapheur/", env!("CARGO_PKG_VERSION")))
        .build()
        .map(Http)
        .map_err(|e| ProConnectError::ProviderUnavailable(format!("client HTTP : {e}")))
}

/// One request of the openidconnect crate, sent with reqwest.
async fn send(
    client: &reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut answer = openidconnect::http::Response::new(body.to_vec());
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

pub(super) fn equal_in_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What the ID token says, once verified.
pub(super) struct VerifiedIdToken {
    pub(super) subject: openidconnect::SubjectIdentifier,
    pub(super) acr: Option<String>,
    pub(super) amr: Vec<String>,
    pub(super) email: Option<String>,
    /// The token itself, the hint of the logout at the provider.
    pub(super) text: String,
}

/// Verifies the ID token of `token` with `client`'s keys: signature (RS256 or ES256),
/// issuer, audience, expiry, `nonce`, and `at_hash` when given.
pub(super) fn verify_id_token(
    client: &DiscoveredClient,
    token: &CoreTokenResponse,
    nonce: &str,
) -> Result<VerifiedIdToken, ProConnectError> {
    let invalid = |e: &dyn std::fmt::Display| ProConnectError::InvalidIdToken(e.to_string());
    let id_token = token
        .id_token()
        .ok_or_else(|| ProConnectError::InvalidIdToken("aucun jeton d'identité".into()))?;
    let verifier = client.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ]);
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| invalid(&e))?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(|e| invalid(&e))?;
        let key = id_token.signing_key(&verifier).map_err(|e| invalid(&e))?;
        let actual =
            AccessTokenHash::from_token(token.access_token(), alg, key).map_err(|e| invalid(&e))?;
        if actual != *expected {
            return Err(ProConnectError::InvalidIdToken(
                "at_hash ne correspond pas au jeton d'accès".into(),
            ));
        }
    }
    Ok(VerifiedIdToken {
        subject: claims.subject().clone(),
        acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
        amr: claims
            .auth_method_refs()
            .map(|refs| refs.iter().map(|r| r.as_str().to_owned()).collect())
            .unwrap_or_default(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        text: id_token.to_string(),
    })
}

/// Whether the ID token says the provider checked a second factor.
pub(super) fn attests_mfa(acr: Option<&str>, amr: &[String]) -> bool {
    acr.is_some_and(|acr| MFA_ACR_VALUES.contains(&acr)) || amr.iter().any(|m| m == "mfa")
}
