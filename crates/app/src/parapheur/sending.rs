//! Sending a signed letter by email or post: registers the outgoing item, marks the folder
//! sent and queues its email in one transaction, then closes the item it answers.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::item::{Channel, Direction, NewItem};
use parapheur_domain::{CloseReason, Commune, Item, Status};
use parapheur_smtp::{Attachment as MailAttachment, OutgoingMessage};
use parapheur_store::parapheur::FolderState;
use uuid::Uuid;

use super::SendBy;
use crate::register::lifecycle::Change;
use crate::register::{NewFile, Registered, register_in};
use crate::{Actor, App, AppError, Party};

impl App {
    /// Sends a signed letter: by email (the signed PDF attached) or by post. Either way
    /// the outgoing item is registered with its own chrono number and the PDF, linked to
    /// the request, and the request is closed as answered.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn send_letter(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        by: SendBy,
        now: DateTime<Utc>,
    ) -> Result<Registered, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let before = self.store().folder(commune.id, folder_id).await?;
        if before.state != FolderState::Signed {
            return Err(AppError::invalid(match before.state {
                FolderState::Sent => "ce courrier est déjà envoyé",
                _ => "ce courrier n'est pas encore signé",
            }));
        }
        let pdf = self.folder_pdf(commune, &before).await?;
        let filename = format!(
            "courrier-{}.pdf",
            before.id.simple().to_string().get(..8).unwrap_or("signe")
        );
        let item = match before.item_id {
            Some(id) => Some(self.store().item(commune.id, id).await?),
            None => None,
        };
        let sender = match &item {
            Some(item) => self.sender_of(commune, item).await?,
            None => None,
        };
        let channel;
        let mut after = before.clone();
        let email = match &by {
            SendBy::Email => {
                channel = Channel::Email;
                let to = sender
                    .as_ref()
                    .and_then(crate::letters::contact_address)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "le correspondant n'a pas d'adresse électronique : envoyez par la poste",
                        )
                    })?;
                let settings = self.store().commune_settings(commune.id).await?;
                let reference = item
                    .as_ref()
                    .map(|i| format!(" [{}]", i.chrono))
                    .unwrap_or_default();
                let message = OutgoingMessage {
                    from: self.sender_address(commune),
                    to: vec![to],
                    reply_to: self.reply_to(commune, &settings),
                    subject: format!("{}{reference}", before.subject),
                    text: format!(
                        "{},\n\nVeuillez trouver ci-joint la réponse de la mairie de {}, signée électroniquement.\n\n--\nMairie de {}",
                        parapheur_domain::french::salutation(
                            sender.as_ref().and_then(|c| c.civility.as_deref())
                        ),
                        commune.name,
                        commune.name
                    ),
                    html: None,
                    attachments: vec![MailAttachment {
                        filename: filename.clone(),
                        content_type: "application/pdf".to_owned(),
                        bytes: pdf.clone(),
                    }],
                    message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
                    in_reply_to: None,
                    references: Vec::new(),
                    auto_submitted: false,
                };
                after.sent_via = Some("email".to_owned());
                Some(Box::new(
                    self.prepare_email(
                        commune,
                        item.as_ref().map(|i| i.id),
                        "letter",
                        &message,
                        None,
                        now,
                    )
                    .await?,
                ))
            }
            SendBy::Post { registered_number } => {
                channel = Channel::Paper;
                let number = registered_number
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty());
                if let Some(n) = number
                    && (n.chars().count() > 40
                        || !n
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-'))
                {
                    return Err(AppError::invalid(
                        "numéro de recommandé invalide : lettres, chiffres, espaces et tirets, 40 au plus",
                    ));
                }
                after.sent_via = Some("post".to_owned());
                after.registered_number = number.map(str::to_owned);
                None
            }
        };
        // Sending makes the last signature final: what it held in the queues leaves now,
        // before the news of the sending.
        let mut data = super::FolderData::of_row(&before)?;
        let released = match data.undo.take() {
            Some(undo) => {
                after.circuit_json = data.to_json();
                undo.events
            }
            None => Vec::new(),
        };
        after.state = FolderState::Sent;
        after.sent_at = Some(now);
        after.version += 1;
        after.updated_at = now;
        let mut new = NewItem::incoming(
            channel,
            before.subject.clone(),
            local_date(now, commune.zone()),
        );
        new.direction = Direction::Outgoing;
        new.body = Some(before.body.clone());
        new.service_id = item.as_ref().and_then(|i| i.service_id);
        if let Some(number) = &after.registered_number {
            new.channel = Channel::Registered;
            new.registered_number = Some(number.clone());
        }
        let ready = self
            .ready_item(
                commune,
                new,
                sender.as_ref().map(|s| Party::Existing(s.id)),
                vec![NewFile {
                    filename,
                    media_type: "application/pdf".to_owned(),
                    bytes: pdf,
                }],
                now,
            )
            .await?;
        let who = actor.journal_name();
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        if let Some(answers) = &item {
            tx.insert_link(
                commune.id,
                registered.item.id,
                answers.id,
                parapheur_domain::item::LinkKind::ReplyTo,
                &who,
            )
            .await?;
        }
        after.reply_item_id = Some(registered.item.id);
        let via = after.sent_via.clone();
        tx.update_folder(
            &before,
            &after,
            &who,
            "folder.sent",
            Some(serde_json::json!({ "via": via, "item": registered.item.chrono })),
        )
        .await?;
        let queued = match &email {
            Some(email) => tx.insert_outbox(&email.row).await?,
            None => false,
        };
        for key in &released {
            tx.hold_webhook_event(commune.id, key, &now).await?;
        }
        let sent = crate::webhooks::letter_sent(&after, &registered.item, item.as_ref());
        crate::webhooks::queue_event(&mut tx, commune, sent, now).await?;
        tx.commit().await?;
        self.registered(&registered);
        if queued {
            self.outbox_queued();
        }
        if let Some(item) = item {
            let item = self.store().item(commune.id, item.id).await?;
            self.move_item(
                commune,
                actor,
                &item,
                &[Status::ReplySent, Status::Closed],
                now,
            )
            .await?;
        }
        Ok(registered)
    }

    /// Moves an open item along `path` (each status in turn), going through "in progress"
    /// first when the item cannot reach the path's first status directly (a request still
    /// "registered" or "assigned" gets its answer too). A closed item is left alone.
    pub(super) async fn move_item(
        &self,
        commune: &Commune,
        actor: &Actor,
        item: &Item,
        path: &[Status],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let Some(first) = path.first() else {
            return Ok(());
        };
        if !item.status.is_open() && item.status != Status::ReplySent {
            return Ok(());
        }
        let mut status = item.status;
        let mut steps: Vec<Status> = Vec::new();
        if !status.can_move_to(*first) && status != *first && status.can_move_to(Status::InProgress)
        {
            steps.push(Status::InProgress);
            status = Status::InProgress;
        }
        for next in path {
            if status == *next {
                continue;
            }
            if !status.can_move_to(*next) {
                break;
            }
            steps.push(*next);
            status = *next;
        }
        for to in steps {
            let reason = (to == Status::Closed).then_some(CloseReason::Answered);
            self.change_item_as_consequence(
                commune,
                actor,
                item.id,
                Change::Status { to, reason },
                now,
            )
            .await?;
        }
        Ok(())
    }
}
