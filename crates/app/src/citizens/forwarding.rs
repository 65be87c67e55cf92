//! A request that is not for the commune (L114-2): forwarded to the competent authority,
//! with its files, the citizen told, the item closed as forwarded.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::normalize_email;
use parapheur_domain::item::Item;
use parapheur_domain::{CloseReason, Commune, Direction, Permission, Status, french};
use parapheur_smtp::{Address, Attachment as MailAttachment, OutgoingMessage};
use parapheur_store::items::Note;
use uuid::Uuid;

use super::replies::thread_message;
use crate::letters::contact_address;
use crate::register::lifecycle::Change;
use crate::{Actor, App, AppError};

/// Files larger than this together stay at the mairie: the authority is told to ask.
const MAX_FORWARDED_BYTES: i64 = 15 * 1024 * 1024;

/// The competent authority a request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetentAuthority {
    /// "Préfecture de l'Ain, service des titres", "Communauté de communes…".
    pub name: String,
    /// Where the request is sent; without one, the agent sends it by post.
    pub email: Option<String>,
}

/// What the citizen is told (L114-2: the authority that forwards informs the sender).
pub fn forwarding_notice(
    commune: &Commune,
    item: &Item,
    authority: &str,
    on: chrono::NaiveDate,
) -> String {
    format!(
        "Madame, Monsieur,\n\nVotre demande n° {} (« {} »), reçue le {}, ne relève pas de la \
         compétence de la mairie de {}. En application de l'article L114-2 du code des relations \
         entre le public et l'administration, elle a été transmise le {} à l'autorité \
         compétente : {authority}, qui vous répondra.\n\nSi votre demande peut être acceptée \
         par le silence de l'administration, le délai court à compter de sa réception par cette \
         autorité ; si le silence vaut rejet, à compter de sa réception par la mairie \
         (article L114-3).\n",
        item.chrono,
        item.subject,
        french::long_date(item.arrival_date),
        commune.name,
        french::long_date(on),
    )
}

impl App {
    /// L114-2: forwards a request sent to the commune by mistake to the competent
    /// authority (by email with its files when an address is given), tells the sender, and
    /// closes the item with the reason "forwarded", all in one transaction.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn forward_to_competent_authority(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        authority: CompetentAuthority,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        let now = now.trunc_subsecs(6);
        let item = self.store().item(commune.id, item_id).await?;
        self.authorize_item(commune, actor, Permission::ProcessMail, &item)
            .await?;
        let name = authority.name.trim();
        if name.is_empty() || name.chars().count() > 300 {
            return Err(AppError::invalid(
                "nommez l'autorité compétente (300 caractères au plus)",
            ));
        }
        let to_authority = match authority.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(normalize_email(text).ok_or_else(|| {
                AppError::invalid(format!("adresse de l'autorité invalide « {text} »"))
            })?),
        };
        if item.direction != Direction::Incoming || !item.status.is_open() {
            return Err(AppError::invalid(
                "seule une demande reçue et encore ouverte se transmet (article L114-2)",
            ));
        }
        item.status
            .check_transition(Status::Closed, Some(CloseReason::Forwarded))?;
        let today = local_date(now, commune.zone());
        let settings = self.store().commune_settings(commune.id).await?;
        let notice = forwarding_notice(commune, &item, name, today);
        let sender = self.sender_of(commune, &item).await?;
        let to_citizen = sender.as_ref().and_then(contact_address);
        let mut emails = Vec::new();
        if let Some(to) = to_citizen {
            let message = OutgoingMessage {
                from: self.sender_address(commune),
                to: vec![to],
                reply_to: self.reply_to(commune, &settings),
                subject: format!("Demande transmise — {} [{}]", item.subject, item.chrono),
                text: notice.clone(),
                html: None,
                attachments: Vec::new(),
                message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
                in_reply_to: None,
                references: Vec::new(),
                auto_submitted: true,
            };
            let key = Some(format!("forwarded_notice:{}", item.id));
            emails.push(
                self.prepare_email(commune, Some(item.id), "forwarded", &message, key, now)
                    .await?,
            );
        }
        if let Some(email) = &to_authority {
            let message = self
                .forwarded_request(commune, &item, name, email, &settings)
                .await?;
            let key = Some(format!("forwarded_request:{}", item.id));
            emails.push(
                self.prepare_email(commune, Some(item.id), "forwarded", &message, key, now)
                    .await?,
            );
        }
        let mut tx = self.store().begin(now).await?;
        let closed = self
            .apply_change(
                &mut tx,
                commune,
                actor,
                item_id,
                Change::Status {
                    to: Status::Closed,
                    reason: Some(CloseReason::Forwarded),
                },
                now,
            )
            .await?;
        let how = to_authority.map_or_else(
            || "à envoyer par la poste".to_owned(),
            |email| format!("par courriel à {email}"),
        );
        let note = Note {
            id: Uuid::now_v7(),
            item_id,
            author_id: actor.user_id(),
            body: format!(
                "Transmise le {} à l'autorité compétente : {name} ({how}), article L114-2.",
                french::long_date(today)
            ),
            created_at: now,
        };
        tx.insert_note(commune.id, &note, &actor.journal_name())
            .await?;
        for email in &emails {
            self.queue_email(&mut tx, email).await?;
        }
        tx.insert_item_message(
            commune.id,
            &thread_message(item_id, "forwarded", "Demande transmise", &notice, now),
            &actor.journal_name(),
        )
        .await?;
        tx.commit().await?;
        self.outbox_queued();
        Ok(closed)
    }

    /// The email that carries the request to the competent authority: what was received,
    /// when, from whom, and its files (up to [`MAX_FORWARDED_BYTES`] together).
    async fn forwarded_request(
        &self,
        commune: &Commune,
        item: &Item,
        authority: &str,
        email: &str,
        settings: &parapheur_store::communes::CommuneSettings,
    ) -> Result<OutgoingMessage, AppError> {
        let files = self.store().attachments(commune.id, item.id).await?;
        let total: i64 = files.iter().map(|f| f.size).sum();
        let mut attachments = Vec::new();
        if total <= MAX_FORWARDED_BYTES {
            for f in &files {
                attachments.push(MailAttachment {
                    filename: f.filename.clone(),
                    content_type: f.media_type.clone(),
                    bytes: self.read_file(commune.id, &f.sha256).await?,
                });
            }
        }
        let sender = self
            .sender_of(commune, item)
            .await?
            .map_or_else(|| "inconnu".to_owned(), |c| c.display_name());
        let files_line = match (files.len(), attachments.len()) {
            (0, _) => String::new(),
            (1, 0) => "\n1 fichier, trop volumineux pour ce courriel : demandez-le à la mairie.\n"
                .to_owned(),
            (n, 0) => format!(
                "\n{n} fichiers, trop volumineux pour ce courriel : demandez-les à la mairie.\n"
            ),
            (1, _) => "\n1 fichier joint.\n".to_owned(),
            (n, _) => format!("\n{n} fichiers joints.\n"),
        };
        let text = format!(
            "Madame, Monsieur,\n\nLa mairie de {} a reçu le {} la demande ci-dessous, qui relève \
             de votre compétence : elle vous la transmet en application de l'article L114-2 du \
             code des relations entre le public et l'administration ({authority}). Son auteur en \
             est informé.\n\nNuméro à la mairie : {}\nExpéditeur : {sender}\nObjet : {}\n{}\n{}",
            commune.name,
            french::long_date(item.arrival_date),
            item.chrono,
            item.subject,
            item.body.as_deref().unwrap_or_default(),
            files_line,
        );
        Ok(OutgoingMessage {
            from: self.sender_address(commune),
            to: vec![Address {
                name: Some(authority.to_owned()),
                email: email.to_owned(),
            }],
            reply_to: self.reply_to(commune, settings),
            subject: format!("Demande transmise (article L114-2) — {}", item.subject),
            text,
            html: None,
            attachments,
            message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: false,
        })
    }
}
