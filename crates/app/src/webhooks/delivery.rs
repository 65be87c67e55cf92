//! The webhook sender: claims the deliveries that are due (under a lease token, as the
//! outbox's sender does, so two nodes never send the same one at once), checks the
//! target's address again, posts the signed body, and records the answer: delivered on a
//! 2xx, otherwise retried with backoff (`domain::webhook::retry_after`) for about a day,
//! then failed.
//!
//! The address is resolved here and the request goes to the addresses checked (the client
//! is pinned to them), so a name that moved to an internal address since the subscription
//! is refused, and no second lookup can move it in between. Redirects are not followed
//! and no proxy is used: the request goes where the check said.

use crate::boxed_future;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use parapheur_domain::webhook;
use parapheur_mailbox::{NetworkPolicy, is_public_address};
use parapheur_store::webhooks::{FailedAttempt, WebhookDelivery, WebhookSubscription};
use url::{Host, Url};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::secret_context;
use crate::{App, AppError};

/// How long a receiver has to answer (connection, request and answer together).
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting, and resolving the name, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deliveries claimed in one round.
const BATCH: i64 = 20;
/// Receivers served at once in a round (each receiver's deliveries stay one at a time).
const RECEIVERS_AT_ONCE: usize = 4;
/// How long a sender holds what it claimed: longer than the batch can take (each
/// delivery's resolution and request).
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// The start of an answer kept: bytes read, characters kept.
const ANSWER_BYTES: usize = 4096;
const ANSWER_CHARS: usize = 300;
/// The longest URL accepted.
const MAX_URL: usize = 2000;

/// What one round of the sender did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebhookReport {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// What an attempt came to.
enum Attempt {
    Delivered {
        status: i64,
        answer: String,
    },
    Failed {
        status: Option<i64>,
        answer: String,
    },
    /// Not sent, and not to be retried by itself (paused, secret unreadable).
    Abandoned(String),
}

/// Whether `host` is this machine or a private network, as far as it can be told without
/// resolving it.
fn internal_host(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => !is_public_address(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => !is_public_address(IpAddr::V6(*ip)),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

const INTERNAL: &str = "cette adresse est interne (cette machine ou un réseau privé) : elle n'est \
                        pas permise sur ce serveur";

/// Checks a subscription's URL: HTTPS (HTTP only where the operator allows internal
/// addresses or plain text), no credentials in it, and not an internal address unless
/// allowed.
pub(crate) fn check_url(text: &str, network: NetworkPolicy) -> Result<Url, AppError> {
    let refuse = |message: &str| AppError::invalid_field("url", message.to_owned());
    if text.is_empty() || text.len() > MAX_URL {
        return Err(refuse(
            "indiquez l'adresse (https://…) qui recevra les événements",
        ));
    }
    let mut url = Url::parse(text).map_err(|e| {
        AppError::invalid_field("url", format!("adresse invalide « {text} » : {e}"))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if network.allow_internal || network.allow_plain_text => {}
        "http" => {
            return Err(refuse(
                "une adresse https:// est exigée : les événements ne circulent pas en clair",
            ));
        }
        _ => return Err(refuse("l'adresse doit commencer par https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "l'adresse ne doit pas contenir d'identifiants : la signature authentifie les envois",
        ));
    }
    let Some(host) = url.host() else {
        return Err(refuse("l'adresse n'a pas de nom de serveur"));
    };
    if !network.allow_internal && internal_host(&host) {
        return Err(refuse(INTERNAL));
    }
    url.set_fragment(None);
    Ok(url)
}

/// At subscription: a name that resolves now to an internal address is refused (unless
/// allowed). A name that does not resolve yet is accepted: each delivery checks it.
pub(crate) async fn check_resolved(url: &Url, network: NetworkPolicy) -> Result<(), AppError> {
    if network.allow_internal {
        return Ok(());
    }
    if let Ok(addrs) = resolve(url).await
        && addrs.iter().any(|a| !is_public_address(a.ip()))
    {
        return Err(AppError::invalid_field("url", INTERNAL));
    }
    Ok(())
}

/// The addresses of the URL's host (an address itself is its own).
async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let host = match url.host() {
        Some(Host::Ipv4(ip)) => return Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(Host::Ipv6(ip)) => return Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(Host::Domain(name)) => name.to_owned(),
        None => return Err("l'adresse n'a pas de nom de serveur".to_owned()),
    };
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    {
        Err(_) => Err(format!("« {host} » : pas de réponse du DNS")),
        Ok(Err(e)) => Err(format!("adresse « {host} » introuvable : {e}")),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(format!("adresse « {host} » introuvable"))
            } else {
                Ok(addrs)
            }
        }
    }
}

/// A client that connects only to `addrs` for the URL's host: no redirect, no proxy.
fn pinned_client(url: &Url, addrs: &[SocketAddr]) -> Result<reqwest::Client, String> {
    // rustls needs one process-wide crypto provider: ring, as for S3 and mail.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("parapheur-webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(Host::Domain(name)) = url.host() {
        builder = builder.resolve_to_addrs(name, addrs);
    }
    builder
        .build()
        .map_err(|e| format!("client HTTP indisponible : {e}"))
}

/// The start of an answer's body, on one line.
async fn answer_of(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(ANSWER_BYTES);
    webhook::answer_excerpt(&String::from_utf8_lossy(&bytes), ANSWER_CHARS)
}

/// Why a request got no answer, in French.
fn failure_of(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        format!("pas de réponse en {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "connexion impossible".to_owned()
    } else {
        "échec de la requête".to_owned()
    };
    // The error's chain says why (refused, reset, certificate); without the URL again.
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let text = if cause.is_empty() {
        what
    } else {
        format!("{what} : {cause}")
    };
    webhook::answer_excerpt(&text, ANSWER_CHARS)
}

/// A subscription ready to sign with.
struct Signer {
    subscription: WebhookSubscription,
    key: Zeroizing<Vec<u8>>,
}

impl App {
    /// Sends the deliveries that are due: each once (2xx: delivered), a failed one put back
    /// for its next attempt or, after the last, failed with its last answer. Each receiver
    /// gets its deliveries in order, one at a time; up to [`RECEIVERS_AT_ONCE`] receivers are
    /// served together, so that one that takes its 10 s to answer delays nobody else.
    #[boxed_future]
    pub async fn deliver_webhooks(&self, now: DateTime<Utc>) -> Result<WebhookReport, AppError> {
        let claim = self
            .store()
            .claim_webhook_deliveries(now, LEASE, BATCH, self.node().id)
            .await?;
        let token = claim.token;
        // The claim's order kept within each subscription.
        let mut groups: Vec<Vec<WebhookDelivery>> = Vec::new();
        let mut group_of: HashMap<Uuid, usize> = HashMap::new();
        for delivery in claim.items {
            let next = groups.len();
            let index = *group_of.entry(delivery.subscription_id).or_insert(next);
            if index == next {
                groups.push(Vec::new());
            }
            groups[index].push(delivery);
        }
        // The futures are made first: a closure inside the stream would not be `Send` for
        // every lifetime, which the spawned sender needs.
        let rounds: Vec<_> = groups
            .into_iter()
            .map(|deliveries| self.deliver_to_one_receiver(deliveries, token, now))
            .collect();
        let outcomes: Vec<Result<WebhookReport, AppError>> = futures::stream::iter(rounds)
            .buffer_unordered(RECEIVERS_AT_ONCE)
            .collect()
            .await;
        let mut report = WebhookReport::default();
        for outcome in outcomes {
            let one = outcome?;
            report.delivered += one.delivered;
            report.retried += one.retried;
            report.failed += one.failed;
        }
        Ok(report)
    }

    /// One subscription's deliveries of this round, in order.
    async fn deliver_to_one_receiver(
        &self,
        deliveries: Vec<WebhookDelivery>,
        token: Uuid,
        now: DateTime<Utc>,
    ) -> Result<WebhookReport, AppError> {
        let mut report = WebhookReport::default();
        let Some(first) = deliveries.first() else {
            return Ok(report);
        };
        let signer = self.signer(first).await;
        for delivery in deliveries {
            let outcome = match &signer {
                Ok(signer) if signer.subscription.active => {
                    self.attempt(signer, &delivery, now).await
                }
                Ok(_) => Attempt::Abandoned(
                    "abonnement en pause : non envoyé (« Renvoyer » une fois repris)".to_owned(),
                ),
                Err(why) => Attempt::Abandoned(why.clone()),
            };
            let recorded = match outcome {
                Attempt::Delivered { status, answer } => {
                    report.delivered += 1;
                    tracing::info!(event = %delivery.event_type, status, "webhook delivered");
                    self.store()
                        .webhook_delivered(delivery.id, token, now, status, &answer)
                        .await?
                }
                Attempt::Failed { status, answer } => {
                    let retry_at = webhook::retry_after(delivery.attempts)
                        .map(|seconds| now + chrono::Duration::seconds(seconds));
                    if retry_at.is_some() {
                        report.retried += 1;
                    } else {
                        report.failed += 1;
                    }
                    tracing::warn!(event = %delivery.event_type, ?status, %answer, "webhook not delivered");
                    let failed = FailedAttempt {
                        status,
                        answer,
                        retry_at,
                    };
                    self.store()
                        .webhook_attempt_failed(delivery.id, token, now, &failed)
                        .await?
                }
                Attempt::Abandoned(answer) => {
                    report.failed += 1;
                    let failed = FailedAttempt {
                        status: None,
                        answer,
                        retry_at: None,
                    };
                    self.store()
                        .webhook_attempt_failed(delivery.id, token, now, &failed)
                        .await?
                }
            };
            if !recorded {
                tracing::warn!(event = %delivery.event_type, "webhook attempt recorded after its lease was taken over");
            }
        }
        Ok(report)
    }

    /// The subscription of a delivery and its secret's key.
    async fn signer(&self, delivery: &WebhookDelivery) -> Result<Signer, String> {
        let subscription = self
            .store()
            .webhook(delivery.commune_id, delivery.subscription_id)
            .await
            .map_err(|e| format!("abonnement illisible : {e}"))?;
        let key = self
            .data_key(delivery.commune_id)
            .await
            .and_then(|k| {
                k.open(
                    &subscription.secret_sealed,
                    &secret_context(subscription.commune_id, subscription.id),
                )
                .map_err(AppError::from)
            })
            .map_err(|e| format!("secret de l'abonnement illisible : {e}"))?;
        Ok(Signer { subscription, key })
    }

    /// One attempt: the address checked again, then the signed request.
    async fn attempt(
        &self,
        signer: &Signer,
        delivery: &WebhookDelivery,
        now: DateTime<Utc>,
    ) -> Attempt {
        let failed = |answer: String| Attempt::Failed {
            status: None,
            answer,
        };
        // The operator's policy may have changed since the subscription: refused now,
        // retried later (the setting, or the name's addresses, may change back).
        let url = match check_url(&signer.subscription.url, self.network) {
            Ok(url) => url,
            Err(e) => return failed(e.to_string()),
        };
        let addrs = match resolve(&url).await {
            Ok(addrs) => addrs,
            Err(why) => return failed(why),
        };
        if !self.network.allow_internal && addrs.iter().any(|a| !is_public_address(a.ip())) {
            return failed(format!(
                "« {} » désigne maintenant une adresse interne : refusée",
                url.host_str().unwrap_or_default()
            ));
        }
        let client = match pinned_client(&url, &addrs) {
            Ok(client) => client,
            Err(why) => return failed(why),
        };
        let id = delivery.id.to_string();
        let timestamp = now.timestamp();
        let signature = webhook::sign(&signer.key, &id, timestamp, delivery.payload.as_bytes());
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        match sent {
            Err(e) => failed(failure_of(&e)),
            Ok(response) => {
                let status = i64::from(response.status().as_u16());
                let success = response.status().is_success();
                let answer = answer_of(response).await;
                if success {
                    Attempt::Delivered { status, answer }
                } else {
                    Attempt::Failed {
                        status: Some(status),
                        answer,
                    }
                }
            }
        }
    }
}
