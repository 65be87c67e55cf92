//! The outbox: every email the application sends is first built, stored (encrypted, in the
//! file store) and queued in the `outbox` table inside the transaction of the change it
//! belongs to; a background sender then hands it to the SMTP server, retrying with backoff.
//! An SMTP server down for a day loses nothing: the message waits, and the administrator
//! sees it waiting with the last error.

use crate::boxed_future;
use chrono::{DateTime, Duration, Utc};
use parapheur_domain::commune::Commune;
use parapheur_smtp::{Address, Envelope, OutgoingMessage, Security, SendError, SmtpConfig};
use parapheur_store::WriteTx;
use parapheur_store::citizens::{OutboxMessage, OutboxState};
use uuid::Uuid;

use crate::{App, AppError, SmtpSecurity, SmtpSetting};

/// Attempts after the first: 1, 5, 15, 30 minutes, then every hour for three days.
const RETRY_MINUTES: [i64; 4] = [1, 5, 15, 30];
const RETRY_FOR: Duration = Duration::days(3);
/// How long a sender holds the messages it is sending before another may take them: at
/// least this, and longer than the batch can take against a server that answers at the
/// last moment (see [`lease_for`]).
const LEASE: Duration = Duration::minutes(5);
/// Messages claimed in one round.
const BATCH: i64 = 20;

/// The lease of a batch: every message may use its whole send deadline (twice the
/// timeout, plus the time to push a large message), so another node never takes one that
/// is still being sent.
fn lease_for(config: Option<&SmtpConfig>) -> Duration {
    let per_message = config.map_or(0, |c| 2 * c.timeout.as_secs() as i64 + 60);
    LEASE.max(Duration::seconds(per_message * BATCH))
}

/// A message built and stored, ready to be queued by [`WriteTx::insert_outbox`].
pub struct PreparedEmail {
    pub row: OutboxMessage,
}

/// What one round of the sender did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// The delay before attempt `attempts + 1`, or `None` once the message is too old to retry.
pub fn next_attempt(
    attempts: i64,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if now - created_at > RETRY_FOR {
        return None;
    }
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0);
    let minutes = RETRY_MINUTES.get(index).copied().unwrap_or(60);
    Some(now + Duration::minutes(minutes))
}

pub(crate) fn smtp_config(setting: &SmtpSetting) -> Result<SmtpConfig, AppError> {
    let security = match setting.security {
        SmtpSecurity::None => Security::None,
        SmtpSecurity::Starttls => Security::StartTls,
        SmtpSecurity::Tls => Security::Tls,
    };
    Ok(SmtpConfig {
        host: setting.host.clone(),
        port: setting.port,
        security,
        username: setting.username.clone(),
        password: setting.password.clone(),
        timeout: std::time::Duration::from_secs(setting.timeout_seconds.clamp(1, 600)),
        hello_name: None,
        accept_invalid_certs: false,
    })
}

impl App {
    /// The address every email is sent from, and the domain of our Message-IDs.
    pub fn sender_address(&self, commune: &Commune) -> Address {
        let email = self
            .smtp_setting()
            .map(|s| s.from.clone())
            .unwrap_or_else(|| format!("ne-pas-repondre@{}.parapheur.invalid", commune.insee));
        Address {
            name: Some(format!("Mairie de {}", commune.name)),
            email,
        }
    }

    /// Where a citizen's answer to our email goes: the mairie's own address, if set.
    pub(crate) fn reply_to(
        &self,
        commune: &Commune,
        settings: &parapheur_store::communes::CommuneSettings,
    ) -> Option<Address> {
        settings.email.clone().map(|email| Address {
            name: Some(format!("Mairie de {}", commune.name)),
            email,
        })
    }

    /// The domain of the Message-IDs we make: the sender's.
    pub(crate) fn message_id_domain(&self, commune: &Commune) -> String {
        let from = self.sender_address(commune).email;
        from.rsplit_once('@').map_or_else(
            || format!("{}.parapheur.invalid", commune.insee),
            |(_, d)| d.to_owned(),
        )
    }

    /// An automatic message from the mairie to one of its users (a notification, a
    /// digest, a password link): no reply expected.
    pub(crate) fn notice_to(
        &self,
        commune: &Commune,
        user: &parapheur_store::users::User,
        subject: String,
        text: String,
    ) -> OutgoingMessage {
        OutgoingMessage {
            from: self.sender_address(commune),
            to: vec![Address {
                name: Some(user.display_name.clone()),
                email: user.email.clone(),
            }],
            reply_to: None,
            subject,
            text,
            html: None,
            attachments: Vec::new(),
            message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: true,
        }
    }

    /// Builds `message` and stores its bytes in the commune's file store. Queue the result
    /// in the transaction of the change it belongs to (files before rows, as everywhere).
    pub(crate) async fn prepare_email(
        &self,
        commune: &Commune,
        item_id: Option<Uuid>,
        kind: &str,
        message: &OutgoingMessage,
        dedupe_key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<PreparedEmail, AppError> {
        let bytes = parapheur_smtp::build(message, now)
            .map_err(|e| AppError::invalid(format!("courriel impossible à composer : {e}")))?;
        let key = self.data_key(commune.id).await?;
        let stored = self
            .files()
            .put(&commune.id.to_string(), &key, &bytes)
            .await?;
        Ok(PreparedEmail {
            row: OutboxMessage {
                id: Uuid::now_v7(),
                commune_id: commune.id,
                item_id,
                kind: kind.to_owned(),
                message_id: message.message_id.clone(),
                sender: message.from.email.clone(),
                recipients: message
                    .to
                    .iter()
                    .map(|a| a.email.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                subject: message.subject.clone(),
                sha256: stored.sha256,
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                state: OutboxState::Pending,
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
                sent_at: None,
                dedupe_key,
                created_at: now,
            },
        })
    }

    /// Queues a prepared email in `tx`; false when its deduplication key was queued before.
    pub(crate) async fn queue_email(
        &self,
        tx: &mut WriteTx,
        email: &PreparedEmail,
    ) -> Result<bool, AppError> {
        Ok(tx.insert_outbox(&email.row).await?)
    }

    /// Sends what is due: each message once, a refused one marked failed with the server's
    /// answer, one that could not be delivered now put back for later.
    #[boxed_future]
    pub async fn deliver_outbox(&self, now: DateTime<Utc>) -> Result<DeliveryReport, AppError> {
        let mut report = DeliveryReport::default();
        let config = match self.smtp_setting() {
            Some(setting) => Some(smtp_config(setting)?),
            None => None,
        };
        let claim = self
            .store()
            .claim_outbox(now, lease_for(config.as_ref()), BATCH, self.node().id)
            .await?;
        let token = claim.token;
        // Without a server (the demo's usual case), each attempt would say the same thing:
        // it is said once, in French, and each email's wait is only in the debug log and on
        // the administration's "Envois" page.
        if config.is_none()
            && !claim.items.is_empty()
            && !self
                .smtp_missing_said
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                "aucun serveur SMTP n'est configuré ([smtp] dans parapheur.toml) : les courriels attendent dans la file d'envoi, visible dans Administration, Envois ; ce message ne sera pas répété"
            );
        }
        for message in claim.items {
            let outcome = match &config {
                None => Err(SendError::Temporary(
                    "aucun serveur SMTP n'est configuré ([smtp] dans parapheur.toml) : le courriel attend".to_owned(),
                )),
                Some(config) => self.send_one(config, &message).await,
            };
            match outcome {
                Ok(()) => {
                    if !self.store().outbox_sent(message.id, token, now).await? {
                        tracing::warn!(kind = %message.kind, "email sent after its lease was taken over");
                    }
                    report.sent += 1;
                    self.count(crate::metrics::Counter::EmailsSent);
                    tracing::info!(kind = %message.kind, "email sent");
                }
                Err(e) if e.is_temporary() => {
                    let retry = next_attempt(message.attempts, message.created_at, now);
                    self.store()
                        .outbox_failed(message.id, token, now, &e.to_string(), retry)
                        .await?;
                    if retry.is_some() {
                        report.retried += 1;
                    } else {
                        report.failed += 1;
                    }
                    if config.is_some() {
                        tracing::warn!(kind = %message.kind, error = %e, "email not sent yet");
                    } else {
                        tracing::debug!(kind = %message.kind, "email waits for an SMTP server");
                    }
                }
                Err(e) => {
                    self.store()
                        .outbox_failed(message.id, token, now, &e.to_string(), None)
                        .await?;
                    report.failed += 1;
                    tracing::warn!(kind = %message.kind, error = %e, "email refused");
                }
            }
        }
        Ok(report)
    }

    async fn send_one(
        &self,
        config: &SmtpConfig,
        message: &OutboxMessage,
    ) -> Result<(), SendError> {
        let raw = self
            .read_file(message.commune_id, &message.sha256)
            .await
            .map_err(|e| SendError::Permanent(format!("message illisible : {e}")))?;
        let envelope = Envelope {
            from: message.sender.clone(),
            to: message
                .recipients
                .split(',')
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
        };
        parapheur_smtp::send(config, &envelope, &raw).await
    }

    /// "Renvoyer" on the administrator's page: the message is tried again now.
    #[boxed_future]
    pub async fn retry_email(
        &self,
        commune: &Commune,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        // Another commune's id is "not found", like any other.
        self.store().outbox_message(commune.id, id).await?;
        if !self.store().outbox_retry(commune.id, id, now).await? {
            return Err(AppError::invalid("ce courriel est déjà parti"));
        }
        self.outbox_queued();
        Ok(())
    }

    /// The stored bytes of an outgoing message (to download it from the outbox page).
    #[boxed_future]
    pub async fn email_bytes(&self, commune: &Commune, id: Uuid) -> Result<Vec<u8>, AppError> {
        let message = self.store().outbox_message(commune.id, id).await?;
        self.read_file(commune.id, &message.sha256).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_then_stop_after_three_days() {
        let start = DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            next_attempt(1, start, start),
            Some(start + Duration::minutes(1))
        );
        assert_eq!(
            next_attempt(4, start, start),
            Some(start + Duration::minutes(30))
        );
        let later = start + Duration::hours(20);
        assert_eq!(
            next_attempt(12, start, later),
            Some(later + Duration::minutes(60))
        );
        // An SMTP server down for a whole day: still retried.
        let next_day = start + Duration::hours(26);
        assert!(next_attempt(30, start, next_day).is_some());
        assert_eq!(next_attempt(80, start, start + Duration::days(4)), None);
    }
}
