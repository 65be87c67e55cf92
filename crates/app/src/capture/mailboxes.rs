//! A commune's mailboxes: settings (the password sealed with the commune's key), routing
//! rules, and polling. Each message is taken in the transaction that moves the mailbox's
//! cursor past it; the server's copy is marked or moved only after that commit.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::Commune;
use parapheur_mailbox::{AfterCapture, Cursor, MailboxConfig, Security};
use parapheur_store::capture::MailboxRow;
use serde::Serialize;
use uuid::Uuid;

use crate::capture::{CaptureOutcome, MessageSource, Rule};
use crate::{Actor, App, AppError};

/// Largest message downloaded; a larger one stays on the server and is quarantined with
/// the reason (nothing is lost: it is still in the mailbox).
pub const MAX_MESSAGE_BYTES: u32 = 100 * 1024 * 1024;
/// Messages fetched per round trip.
const BATCH: usize = 50;

/// What an administrator enters for a mailbox.
#[derive(Debug, Clone)]
pub struct MailboxSettings {
    pub label: String,
    pub config: MailboxConfig,
    pub rules: Vec<Rule>,
    pub active: bool,
}

/// How long a node holds a mailbox while polling it: longer than a poll of a full mailbox
/// takes (messages are fetched and registered in batches).
const MAILBOX_LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// A round of polling one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub registered: u64,
    pub attached: u64,
    pub quarantined: u64,
    pub already_taken: u64,
}

impl PollReport {
    fn count(&mut self, outcome: &CaptureOutcome) {
        match outcome {
            CaptureOutcome::Registered { .. } => self.registered += 1,
            CaptureOutcome::Attached { .. } => self.attached += 1,
            CaptureOutcome::Quarantined { .. } => self.quarantined += 1,
            CaptureOutcome::AlreadyTaken { .. } => self.already_taken += 1,
        }
    }
}

fn seal_context(commune_id: Uuid, mailbox_id: Uuid) -> String {
    format!("mailbox:{commune_id}:{mailbox_id}")
}

fn check_settings(
    settings: &MailboxSettings,
    network: parapheur_mailbox::NetworkPolicy,
) -> Result<(), AppError> {
    let label = settings.label.trim();
    if label.is_empty() || label.chars().count() > 80 {
        return Err(AppError::invalid("nom de la boîte : 1 à 80 caractères"));
    }
    let c = &settings.config;
    if c.host.trim().is_empty() || c.host.contains(['/', ' ', '\0']) {
        return Err(AppError::invalid("serveur IMAP invalide"));
    }
    if c.port == 0 {
        return Err(AppError::invalid("port IMAP invalide"));
    }
    if c.username.trim().is_empty() {
        return Err(AppError::invalid(
            "l'identifiant de la boîte est obligatoire",
        ));
    }
    if c.folder.trim().is_empty() {
        return Err(AppError::invalid(
            "le dossier à relever est obligatoire (INBOX)",
        ));
    }
    if matches!(c.security, Security::Plain) && !network.allow_plain_text {
        return Err(AppError::invalid(
            "une connexion non chiffrée n'est pas permise sur ce serveur : choisissez TLS ou \
             STARTTLS",
        ));
    }
    // A literal address is judged now; a name is judged at each connection, on the
    // addresses it resolves to.
    if let Ok(ip) = c
        .host
        .trim()
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        && !network.allow_internal
        && !parapheur_mailbox::is_public_address(ip)
    {
        return Err(AppError::invalid(
            "ce serveur est une adresse interne (cette machine ou un réseau privé) : elle n'est \
             pas permise sur ce serveur",
        ));
    }
    if let AfterCapture::MoveTo(folder) = &c.after_capture
        && folder.trim().is_empty()
    {
        return Err(AppError::invalid(
            "nommez le dossier où ranger les messages relevés",
        ));
    }
    for rule in &settings.rules {
        if rule.contains.trim().is_empty() || rule.contains.len() > 200 {
            return Err(AppError::invalid(
                "chaque règle a un texte de 1 à 200 caractères",
            ));
        }
    }
    Ok(())
}

impl App {
    /// Adds a mailbox to a commune (administrators).
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn add_mailbox(
        &self,
        commune: &Commune,
        actor: &Actor,
        settings: MailboxSettings,
        now: DateTime<Utc>,
    ) -> Result<Uuid, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        check_settings(&settings, self.network)?;
        self.check_rules(commune, &settings.rules).await?;
        let id = Uuid::now_v7();
        let key = self.data_key(commune.id).await?;
        let config =
            serde_json::to_vec(&settings.config).map_err(|e| AppError::invalid(e.to_string()))?;
        let row = MailboxRow {
            id,
            commune_id: commune.id,
            label: settings.label.trim().to_owned(),
            sealed_config: key.seal(&config, &seal_context(commune.id, id))?,
            rules_json: serde_json::to_string(&settings.rules)
                .map_err(|e| AppError::invalid(e.to_string()))?,
            active: settings.active,
            uid_validity: None,
            last_uid: 0,
            last_polled_at: None,
            last_error: None,
            created_at: now.trunc_subsecs(6),
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_mailbox(&row, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a mailbox. `password: None` keeps the stored one.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn update_mailbox(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        mut settings: MailboxSettings,
        keep_password: bool,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        let before = self.store().mailbox(commune.id, id).await?;
        let mut row = before.clone();
        if keep_password {
            settings.config.password = self.mailbox_config(&row).await?.password;
        }
        check_settings(&settings, self.network)?;
        self.check_rules(commune, &settings.rules).await?;
        let key = self.data_key(commune.id).await?;
        let config =
            serde_json::to_vec(&settings.config).map_err(|e| AppError::invalid(e.to_string()))?;
        row.label = settings.label.trim().to_owned();
        row.sealed_config = key.seal(&config, &seal_context(commune.id, id))?;
        row.rules_json =
            serde_json::to_string(&settings.rules).map_err(|e| AppError::invalid(e.to_string()))?;
        row.active = settings.active;
        let mut tx = self.store().begin(now).await?;
        tx.update_mailbox(&before, &row, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn check_rules(&self, commune: &Commune, rules: &[Rule]) -> Result<(), AppError> {
        for rule in rules {
            if let Some(code) = &rule.doctype
                && self.store().doctype(commune.id, code).await?.is_none()
            {
                return Err(AppError::UnknownDoctype(code.clone()));
            }
        }
        let services: Vec<Uuid> = rules.iter().filter_map(|r| r.service_id).collect();
        for s in services {
            self.check_routing(commune, Some(s), None).await?;
        }
        Ok(())
    }

    /// The settings of a mailbox, unsealed.
    #[boxed_future]
    pub async fn mailbox_config(&self, row: &MailboxRow) -> Result<MailboxConfig, AppError> {
        let key = self.data_key(row.commune_id).await?;
        let plain = key.open(&row.sealed_config, &seal_context(row.commune_id, row.id))?;
        let mut config: MailboxConfig = serde_json::from_slice(&plain)
            .map_err(|e| AppError::internal(format!("réglages de boîte illisibles : {e}")))?;
        config.network = self.network;
        Ok(config)
    }

    #[boxed_future]
    pub async fn mailbox_rules(&self, commune_id: Uuid, id: Uuid) -> Result<Vec<Rule>, AppError> {
        let row = self.store().mailbox(commune_id, id).await?;
        Ok(serde_json::from_str(&row.rules_json).unwrap_or_default())
    }

    /// Takes every new message of a mailbox. Errors of the server (unreachable, password
    /// refused) are recorded on the mailbox for the administration page, and returned.
    pub async fn poll_mailbox(
        &self,
        commune: &Commune,
        row: &MailboxRow,
        now: impl Fn() -> DateTime<Utc> + Send + Sync,
    ) -> Result<PollReport, AppError> {
        self.poll_mailbox_dyn(commune, row, &now).await
    }

    /// `poll_mailbox` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn poll_mailbox_dyn(
        &self,
        commune: &Commune,
        row: &MailboxRow,
        now: &(dyn Fn() -> DateTime<Utc> + Sync),
    ) -> Result<PollReport, AppError> {
        let result = self.poll_mailbox_inner(commune, row, &now).await;
        let error = result.as_ref().err().map(|e| e.to_string());
        self.store()
            .record_poll(row.id, now(), error.as_deref())
            .await?;
        result
    }

    async fn poll_mailbox_inner(
        &self,
        commune: &Commune,
        row: &MailboxRow,
        now: &(impl Fn() -> DateTime<Utc> + Sync),
    ) -> Result<PollReport, AppError> {
        let config = self.mailbox_config(row).await?;
        let rules: Vec<Rule> = serde_json::from_str(&row.rules_json).unwrap_or_default();
        let mut cursor = row.uid_validity.map(|v| Cursor {
            uid_validity: u32::try_from(v).unwrap_or(0),
            last_uid: u32::try_from(row.last_uid).unwrap_or(0),
        });
        let mut report = PollReport::default();
        loop {
            let (validity, fetched) =
                parapheur_mailbox::fetch_new(&config, cursor, MAX_MESSAGE_BYTES, BATCH)
                    .await
                    .map_err(|e| {
                        AppError::unavailable(
                            "la boîte aux lettres",
                            format!("{} : {e}", row.label),
                        )
                    })?;
            let count = fetched.len();
            let mut taken = Vec::with_capacity(count);
            let mut messages = Vec::with_capacity(count);
            for message in fetched {
                let raw = message.raw.ok_or_else(|| {
                    format!(
                        "message de {} Mo : il dépasse la limite de {} Mo ; il est resté dans la \
                         boîte aux lettres sans être téléchargé",
                        message.size / (1024 * 1024),
                        MAX_MESSAGE_BYTES / (1024 * 1024)
                    )
                });
                let source = MessageSource {
                    source: format!("imap:{}", row.id),
                    source_key: Some(format!("{validity}:{}", message.uid)),
                    origin: format!("{} — UID {}", row.label, message.uid),
                    cursor: Some((row.id, i64::from(validity), i64::from(message.uid))),
                    rules: rules.clone(),
                };
                messages.push((source, raw));
                taken.push(message.uid);
            }
            // Committed together (group commit); then the server's copies may be touched.
            for outcome in self.capture_messages(commune, messages, now()).await? {
                report.count(&outcome);
            }
            if let Some(&last_uid) = taken.last() {
                cursor = Some(Cursor {
                    uid_validity: validity,
                    last_uid,
                });
            }
            if !taken.is_empty()
                && let Err(e) = parapheur_mailbox::acknowledge(&config, validity, &taken).await
            {
                tracing::warn!(mailbox = %row.label, error = %e, "messages taken but not marked");
            }
            if count < BATCH {
                break;
            }
        }
        Ok(report)
    }

    /// Polls every active mailbox of the installation once.
    #[boxed_future]
    pub async fn poll_all_mailboxes(&self) -> Result<PollReport, AppError> {
        let mut total = PollReport::default();
        for row in self.store().active_mailboxes().await? {
            // With several nodes, the one holding the mailbox's lease polls it; the others
            // pass (a node killed mid-poll leaves it to them once the lease runs out).
            let lease = format!("mailbox:{}", row.id);
            if !self.take_lease(&lease, MAILBOX_LEASE).await? {
                continue;
            }
            let commune = self.store().commune(row.commune_id).await?;
            let polled = self.poll_mailbox(&commune, &row, Utc::now).await;
            self.release_lease(&lease).await?;
            match polled {
                Ok(r) => {
                    total.registered += r.registered;
                    total.attached += r.attached;
                    total.quarantined += r.quarantined;
                    total.already_taken += r.already_taken;
                }
                Err(e) => tracing::warn!(mailbox = %row.label, error = %e, "mailbox not polled"),
            }
        }
        Ok(total)
    }
}
