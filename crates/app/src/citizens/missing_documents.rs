//! Missing documents (L114-5): the request for them suspends the deadline, and their arrival
//! restarts it and is acknowledged.

use crate::boxed_future;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use parapheur_domain::acknowledgement::{self, plain_text};
use parapheur_domain::clock::local_date;
use parapheur_domain::item::Item;
use parapheur_domain::{Commune, Status, french};
use parapheur_smtp::OutgoingMessage;
use uuid::Uuid;

use super::acknowledgements::Acknowledgeable;
use super::replies::thread_message;
use crate::letters::contact_address;
use crate::register::deadlines;
use crate::register::lifecycle::Change;
use crate::{Actor, App, AppError};

/// The list of missing documents for a request whose type has no AR (L114-5).
fn missing_documents_notice(
    commune: &Commune,
    item: &Item,
    missing: &[String],
    due: Option<chrono::NaiveDate>,
    url: &str,
) -> String {
    let list: String = missing.iter().map(|m| format!("- {m}\n")).collect();
    let by = due.map_or(String::new(), |d| {
        format!(", avant le {}", french::long_date(d))
    });
    format!(
        "Madame, Monsieur,\n\nPour traiter votre demande n° {} (« {} »), la mairie de {} a besoin des pièces suivantes{by} :\n\n{list}\nVous pouvez les déposer depuis votre page de suivi : {url}\n(article L114-5 du code des relations entre le public et l'administration)\n",
        item.chrono, item.subject, commune.name
    )
}

impl App {
    /// L114-5: asks the sender for missing documents. The deadline follows the rule (SVA:
    /// it will run from their receipt; SVR: suspended), and the sender gets the list with
    /// the tracking link to send them.
    ///
    /// `due`: the date the commune sets for the documents (R112-5 asks the AR to state
    /// it); after today and within a year.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn request_documents(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        missing: Vec<String>,
        due: Option<chrono::NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let missing: Vec<String> = missing
            .into_iter()
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect();
        if missing.is_empty() {
            return Err(AppError::invalid("indiquez au moins une pièce manquante"));
        }
        let today = local_date(now, commune.zone());
        if let Some(due) = due
            && (due <= today || due > today + Duration::days(366))
        {
            return Err(AppError::invalid(
                "la date limite des pièces doit tomber après aujourd'hui, dans l'année",
            ));
        }
        // With a type that has an AR, the list goes in a new AR (R112-5 names the missing
        // documents); otherwise (no type yet, R112-4) in a plain notice.
        let current = self.store().item(commune.id, item_id).await?;
        let with_ar = matches!(
            self.acknowledgeable(commune, &current, None).await?,
            Acknowledgeable::Yes(_)
        );
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        // The change, the email and the thread message land together or not at all.
        let mut tx = self.store().begin(now).await?;
        let item = self
            .apply_change(
                &mut tx,
                commune,
                actor,
                item_id,
                Change::Incomplete {
                    requested_on: today,
                    missing: missing.clone(),
                    deadline: due,
                },
                now,
            )
            .await?;
        let sender = self.sender_of(commune, &item).await?;
        let to = sender.as_ref().and_then(contact_address);
        let (text, email) = if with_ar {
            let (facts, _) = self
                .acknowledgement_facts(commune, &item, Some(url))
                .await?;
            let ack = acknowledgement::acknowledgement_of_receipt(&facts);
            let email = match &to {
                Some(to) => {
                    let pdf = self.letter_of(commune, &ack, sender.as_ref(), now).await?;
                    Some(
                        self.ack_email(
                            commune,
                            &item,
                            to,
                            &ack,
                            Some(pdf),
                            "missing_documents",
                            now,
                        )
                        .await?,
                    )
                }
                None => None,
            };
            (plain_text(&ack), email)
        } else {
            let text =
                missing_documents_notice(commune, &item, &missing, item.incomplete_deadline, &url);
            let email = match &to {
                Some(to) => {
                    let settings = self.store().commune_settings(commune.id).await?;
                    let message = OutgoingMessage {
                        from: self.sender_address(commune),
                        to: vec![to.clone()],
                        reply_to: self.reply_to(commune, &settings),
                        subject: format!("Pièces manquantes — {} [{}]", item.subject, item.chrono),
                        text: text.clone(),
                        html: None,
                        attachments: Vec::new(),
                        message_id: parapheur_smtp::new_message_id(
                            &self.message_id_domain(commune),
                        ),
                        in_reply_to: None,
                        references: Vec::new(),
                        auto_submitted: true,
                    };
                    Some(
                        self.prepare_email(
                            commune,
                            Some(item.id),
                            "missing_documents",
                            &message,
                            None,
                            now,
                        )
                        .await?,
                    )
                }
                None => None,
            };
            (text, email)
        };
        if let Some(email) = &email {
            self.queue_email(&mut tx, email).await?;
        }
        tx.insert_item_message(
            commune.id,
            &thread_message(
                item_id,
                "missing_documents",
                "Pièces manquantes",
                &text,
                now,
            ),
            &actor.journal_name(),
        )
        .await?;
        let item = if with_ar && email.is_some() && item.acknowledged_at.is_none() {
            let mut after = item.clone();
            after.acknowledged_at = Some(now);
            tx.update_item(&item, &after, "item.acknowledged", &actor.journal_name())
                .await?;
            after
        } else {
            item
        };
        tx.commit().await?;
        self.outbox_queued();
        Ok(item)
    }

    /// L114-5: records a request for documents made on `requested_on`. Made today, it is
    /// [`App::request_documents`] (the sender gets the list). Made earlier (by letter, at
    /// the counter), it is recorded as it was made, and nothing is sent: then the date given
    /// to produce them is required where it sets the dates (silence worth rejection, or no
    /// implicit decision: the suspension lasts until it at most, al. 3), since a default
    /// would invent what the sender was told; with silence worth acceptance the delay only
    /// starts at their receipt (al. 2), and the one-month default stands.
    #[allow(clippy::too_many_arguments)]
    #[boxed_future]
    pub async fn record_documents_request(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        requested_on: chrono::NaiveDate,
        missing: Vec<String>,
        deadline: Option<chrono::NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        if requested_on == local_date(now, commune.zone()) {
            return self
                .request_documents(commune, actor, item_id, missing, deadline, now)
                .await;
        }
        if missing.iter().all(|m| m.trim().is_empty()) {
            return Err(AppError::invalid("indiquez au moins une pièce manquante"));
        }
        let item = self.store().item(commune.id, item_id).await?;
        let silence = match &item.doctype_code {
            Some(code) => self
                .store()
                .doctype(commune.id, code)
                .await?
                .map(|d| d.silence),
            None => None,
        };
        if deadline.is_none() && silence != Some(parapheur_domain::SilenceRule::Acceptance) {
            return Err(AppError::invalid(
                "indiquez la date fixée au demandeur pour produire les pièces : elle borne la \
                 suspension du délai (article L114-5)",
            ));
        }
        self.change_item(
            commune,
            actor,
            item_id,
            Change::Incomplete {
                requested_on,
                missing,
                deadline,
            },
            now,
        )
        .await
    }

    /// Documents from the requester complete a request that waited for them (L114-5): the
    /// delay runs again from today. False when it was not waiting.
    pub(crate) async fn complete_with_documents(
        &self,
        tx: &mut parapheur_store::WriteTx,
        commune: &Commune,
        before: &Item,
        now: DateTime<Utc>,
        who: &str,
    ) -> Result<bool, AppError> {
        if before.status != Status::AwaitingDocuments {
            return Ok(false);
        }
        let today = local_date(now, commune.zone());
        let mut after = before.clone();
        after.status = Status::InProgress;
        after.incomplete_completed_on =
            Some(today.max(before.incomplete_requested_on.unwrap_or(today)));
        after.updated_at = now;
        let doctype = match &after.doctype_code {
            Some(code) => tx.doctype(commune.id, code).await?,
            None => None,
        };
        let dates = deadlines(after.direction, &after, doctype.as_ref(), commune);
        after.due_date = dates.due;
        after.silence_date = dates.silence_date;
        tx.update_item(before, &after, "item.completed", who)
            .await?;
        Ok(true)
    }

    /// L114-5 and R112-5: once the missing documents are in, the sender gets the
    /// accusé de réception again with the dates that now run (once per completion). No
    /// email address, no type with an AR: nothing to send (the AR can be printed). Called
    /// once the documents are committed: a failure is logged, and the AR can be sent again
    /// from the item page.
    pub(crate) async fn acknowledge_completion(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) {
        if let Err(e) = self.completion_acknowledgement(commune, item_id, now).await {
            tracing::warn!(error = %e, "accusé de réception après complément");
        }
    }

    async fn completion_acknowledgement(
        &self,
        commune: &Commune,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let now = now.trunc_subsecs(6);
        let item = self.store().item(commune.id, item_id).await?;
        if item.incomplete_completed_on.is_none() {
            return Ok(());
        }
        let url = self.ensure_tracking_url(commune, item_id, now).await?;
        let (facts, sender) = match self.acknowledgeable(commune, &item, Some(url)).await? {
            Acknowledgeable::Yes(found) => *found,
            Acknowledgeable::No(_) => return Ok(()),
        };
        let Some(to) = sender.as_ref().and_then(contact_address) else {
            return Ok(());
        };
        let ack = acknowledgement::acknowledgement_of_receipt(&facts);
        let pdf = self.letter_of(commune, &ack, sender.as_ref(), now).await?;
        let email = self
            .ack_email(commune, &item, &to, &ack, Some(pdf), "ack_completed", now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.item_for_update(commune.id, item_id).await?;
        if self.queue_email(&mut tx, &email).await? {
            let title = format!("{} (dossier complet)", ack.title);
            tx.insert_item_message(
                commune.id,
                &thread_message(item_id, "ack_receipt", &title, &plain_text(&ack), now),
                "system:accusé",
            )
            .await?;
        }
        tx.commit().await?;
        self.outbox_queued();
        Ok(())
    }
}
