//! Quarantined messages taken again: parsed with the current program once the reason is
//! dealt with, or, for a scan that reached the mailbox instead of a message, registered as
//! the scanned paper document it is.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::item::NewItem;
use parapheur_domain::{Channel, Commune};
use parapheur_mail::Limits;
use parapheur_store::capture::{InboundMessage, InboundState};
use uuid::Uuid;

use super::batch::Plan;
use super::{CaptureOutcome, MessageSource};
use crate::register::NewFile;
use crate::{Actor, App, AppError};

impl App {
    /// Retries a quarantined message with the current program (after a fix, or once the
    /// reason is dealt with). Its original bytes were kept.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn retry_inbound(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let message = self.store().inbound(commune.id, id).await?;
        if message.state != InboundState::Quarantined {
            return Err(AppError::invalid("ce message n'est pas en quarantaine"));
        }
        let Some(sha) = message.sha256.clone() else {
            return Err(AppError::invalid(
                "ce message n'a pas été téléchargé (trop volumineux) : il est resté dans la boîte \
                 aux lettres ; enregistrez-le à la main",
            ));
        };
        let bytes = self.read_file(commune.id, &sha).await?;
        // A scan where a message was expected (the copier's PDF sent to the mailbox, or
        // imported with the messages) is no message to parse again: it is registered as a
        // scanned paper document, as the drop folder would have.
        if let Some(media_type) = super::dropfolder::sniff(&bytes) {
            return self
                .register_quarantined_scan(commune, actor, message, bytes, media_type, now)
                .await;
        }
        let mail = parapheur_mail::parse(&bytes, &Limits::default())
            .map_err(|r| AppError::invalid(format!("toujours illisible : {r}")))?;
        let rules = match message.source.strip_prefix("imap:").map(Uuid::parse_str) {
            Some(Ok(mailbox)) => self.mailbox_rules(commune.id, mailbox).await?,
            _ => Vec::new(),
        };
        let source = MessageSource {
            source: message.source.clone(),
            source_key: Some(message.source_key.clone()),
            origin: message.origin.clone(),
            cursor: None,
            rules,
        };
        match self
            .plan_parsed(commune, message, source, mail, true, now)
            .await?
        {
            Plan::Attach(attach) => self.attach_message(commune, actor, *attach, now).await,
            plan => {
                let mut tx = self.store().begin(now).await?;
                let (outcome, after) = plan.write(&mut tx, commune, actor).await?;
                tx.commit().await?;
                self.after_commit(vec![after]);
                Ok(outcome)
            }
        }
    }

    /// Registers a quarantined scan as a paper item with its file; the message then
    /// points to it.
    async fn register_quarantined_scan(
        &self,
        commune: &Commune,
        actor: &Actor,
        message: InboundMessage,
        bytes: Vec<u8>,
        media_type: &str,
        now: DateTime<Utc>,
    ) -> Result<CaptureOutcome, AppError> {
        let name = message
            .origin
            .rsplit(['/', '\\'])
            .next()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("document numérisé")
            .chars()
            .take(200)
            .collect::<String>();
        let subject = format!("Document numérisé « {name} »");
        let new = NewItem::incoming(Channel::Paper, subject, local_date(now, commune.zone()));
        let file = NewFile {
            filename: name,
            media_type: media_type.to_owned(),
            bytes,
        };
        let ready = self.ready_item(commune, new, None, vec![file], now).await?;
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = crate::register::register_in(&mut tx, commune, actor, ready).await?;
        tx.resolve_inbound(
            commune.id,
            message.id,
            InboundState::Registered,
            registered.item.id,
            &actor.journal_name(),
        )
        .await?;
        tx.commit().await?;
        self.registered(&registered);
        Ok(CaptureOutcome::Registered {
            chrono: registered.item.chrono,
            item_id: registered.item.id,
        })
    }
}
