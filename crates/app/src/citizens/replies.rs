//! Replies by email from a template: registered as outgoing items, shown in the request's
//! public thread, their email queued in the same transaction.

use crate::boxed_future;
use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::item::{Item, NewItem};
use parapheur_domain::{Channel, Commune, Direction, Status, french, reply_template};
use parapheur_smtp::OutgoingMessage;
use parapheur_store::citizens::{ItemMessage, ReplyTemplateRow};
use uuid::Uuid;

use super::TemplateInput;
use crate::letters::{address_block, contact_address};
use crate::register::lifecycle::Change;
use crate::register::{Registered, register_in};
use crate::{Actor, App, AppError, Party};

/// A message of the public thread.
pub(super) fn thread_message(
    item_id: Uuid,
    kind: &str,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> ItemMessage {
    ItemMessage {
        id: Uuid::now_v7(),
        item_id,
        kind: kind.to_owned(),
        from_citizen: false,
        subject: subject.to_owned(),
        body: body.to_owned(),
        reply_item_id: None,
        attachment_ids: Vec::new(),
        author_id: None,
        created_at: now,
    }
}

impl App {
    /// The values of a reply template's variables for an item.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn template_values(
        &self,
        commune: &Commune,
        actor: &Actor,
        item: &Item,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, String>, AppError> {
        let settings = self.store().commune_settings(commune.id).await?;
        let sender = self.sender_of(commune, item).await?;
        let agent = match actor.user_id() {
            Some(id) => Some(self.store().user(id).await?),
            None => None,
        };
        let mut v = BTreeMap::new();
        let mut put = |k: &str, val: String| {
            v.insert(k.to_owned(), val);
        };
        if let Some(c) = &sender {
            // A letter still opens with "Madame, Monsieur," when the civility is unknown
            // (senders of emails never give one).
            put(
                "contact.civilite",
                french::salutation(c.civility.as_deref()),
            );
            put("contact.prenom", c.first_name.clone().unwrap_or_default());
            put("contact.nom", c.name.clone());
            put("contact.nom_complet", c.display_name());
            put("contact.adresse", address_block(c).join("\n"));
        } else {
            put("contact.civilite", french::salutation(None));
            for k in [
                "contact.prenom",
                "contact.nom",
                "contact.nom_complet",
                "contact.adresse",
            ] {
                put(k, String::new());
            }
        }
        put("courrier.numero", item.chrono.clone());
        put("courrier.objet", item.subject.clone());
        put(
            "courrier.date_arrivee",
            french::long_date(item.arrival_date),
        );
        put(
            "courrier.date_limite",
            item.due_date.map(french::long_date).unwrap_or_default(),
        );
        put("commune.nom", commune.name.clone());
        put("commune.adresse", settings.address.unwrap_or_default());
        put(
            "agent.nom",
            agent
                .as_ref()
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
        );
        put(
            "agent.fonction",
            agent
                .as_ref()
                .and_then(|u| u.title.clone())
                .unwrap_or_default(),
        );
        put(
            "date_du_jour",
            french::long_date(local_date(now, commune.zone())),
        );
        Ok(v)
    }

    /// Replies to an incoming item by email: the reply is registered as an outgoing item
    /// (its own chrono number), linked to the request, shown in its public thread, and
    /// sent threaded to the citizen's messages so that their answer comes back here.
    ///
    /// `decides`: the reply is the answer to the request, which then counts as answered
    /// (status "réponse envoyée": no more deadline warnings, no implicit decision). A
    /// holding reply or a question leaves the request and its deadlines as they are.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn reply_by_email(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        subject: &str,
        body: &str,
        decides: bool,
        now: DateTime<Utc>,
    ) -> Result<Registered, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let item = self.store().item(commune.id, item_id).await?;
        if item.direction != Direction::Incoming {
            return Err(AppError::invalid("on répond à un courrier reçu"));
        }
        let subject = subject.trim();
        if subject.is_empty() || subject.chars().count() > 200 {
            return Err(AppError::invalid("l'objet compte de 1 à 200 caractères"));
        }
        let values = self.template_values(commune, actor, &item, now).await?;
        let text =
            reply_template::fill(body, &values).map_err(|e| AppError::invalid(e.to_string()))?;
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 50_000 {
            return Err(AppError::invalid(
                "la réponse compte de 1 à 50 000 caractères",
            ));
        }
        let Some(sender) = self.sender_of(commune, &item).await? else {
            return Err(AppError::invalid(
                "ce courrier n'a pas d'expéditeur à qui répondre",
            ));
        };
        let Some(to) = contact_address(&sender) else {
            return Err(AppError::invalid(
                "l'expéditeur n'a pas d'adresse électronique : répondez par courrier",
            ));
        };
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        // Thread on what the citizen sent and what we sent them.
        let received: Vec<String> = self
            .store()
            .inbound_of_item(commune.id, item_id)
            .await?
            .into_iter()
            .filter_map(|m| m.message_id)
            .collect();
        let mut references = received.clone();
        references.extend(
            self.store()
                .outbox_of_item(commune.id, item_id)
                .await?
                .into_iter()
                .map(|m| m.message_id),
        );
        // We answer the citizen's latest message, or follow up on our own last one.
        let in_reply_to = received.last().or(references.last()).cloned();
        let settings = self.store().commune_settings(commune.id).await?;
        let full_text = format!(
            "{text}\n\n--\nMairie de {}\nVotre demande {} : {url}\nPour répondre, répondez à ce message ou écrivez depuis ce lien.",
            commune.name, item.chrono
        );
        let message = OutgoingMessage {
            from: self.sender_address(commune),
            to: vec![to.clone()],
            reply_to: self.reply_to(commune, &settings),
            subject: format!("{subject} [{}]", item.chrono),
            text: full_text,
            html: None,
            attachments: Vec::new(),
            message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
            in_reply_to,
            references: references.clone(),
            auto_submitted: false,
        };
        let email = self
            .prepare_email(commune, Some(item_id), "reply", &message, None, now)
            .await?;
        let mut new = NewItem::incoming(
            Channel::Email,
            subject.to_owned(),
            local_date(now, commune.zone()),
        );
        new.direction = Direction::Outgoing;
        new.body = Some(text.clone());
        new.service_id = item.service_id;
        let mut thread = ItemMessage {
            author_id: actor.user_id(),
            ..thread_message(item_id, "reply", subject, &text, now)
        };
        let ready = self
            .ready_item(
                commune,
                new,
                Some(Party::Existing(sender.id)),
                Vec::new(),
                now,
            )
            .await?;
        let who = actor.journal_name();
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        tx.insert_link(
            commune.id,
            registered.item.id,
            item_id,
            parapheur_domain::item::LinkKind::ReplyTo,
            &who,
        )
        .await?;
        thread.reply_item_id = Some(registered.item.id);
        tx.insert_item_message(commune.id, &thread, &who).await?;
        let queued = tx.insert_outbox(&email.row).await?;
        tx.commit().await?;
        self.registered(&registered);
        if queued {
            self.outbox_queued();
        }
        if decides
            && item.status.is_open()
            && item
                .status
                .check_transition(Status::ReplySent, None)
                .is_ok()
        {
            self.change_item_as_consequence(
                commune,
                actor,
                item_id,
                Change::Status {
                    to: Status::ReplySent,
                    reason: None,
                },
                now,
            )
            .await?;
        }
        Ok(registered)
    }

    /// Creates or replaces a reply template, after checking its variables.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn save_reply_template(
        &self,
        commune: &Commune,
        actor: &Actor,
        input: &TemplateInput,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        let TemplateInput {
            code,
            name,
            subject,
            body,
            active,
        } = input;
        let active = *active;
        let code = code.trim();
        if !parapheur_domain::doctype::is_valid_code(code) {
            return Err(AppError::invalid(
                "code de modèle invalide : lettres minuscules, chiffres et tirets",
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("le nom compte de 1 à 100 caractères"));
        }
        if body.trim().is_empty() || body.chars().count() > 50_000 {
            return Err(AppError::invalid(
                "le texte compte de 1 à 50 000 caractères",
            ));
        }
        let unknown = reply_template::unknown_variables(body);
        if !unknown.is_empty() {
            return Err(AppError::invalid(format!(
                "variables inconnues : {}",
                unknown.join(", ")
            )));
        }
        let existing = self.store().reply_template(commune.id, code).await?;
        let row = ReplyTemplateRow {
            id: existing.map_or_else(Uuid::now_v7, |e| e.id),
            commune_id: commune.id,
            code: code.to_owned(),
            name: name.to_owned(),
            subject: subject.trim().to_owned(),
            body: body.trim().to_owned(),
            active,
        };
        let mut tx = self.store().begin(now).await?;
        tx.save_reply_template(&row, now, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
