//! Changes to a registered item: status, routing, incompleteness (L114-5), notes, links.

use crate::boxed_future;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use parapheur_domain::Permission;
use parapheur_domain::clock::local_date;
use parapheur_domain::item::{CopyPurpose, Item, LinkKind};
use parapheur_domain::{CloseReason, Commune, Status};
use parapheur_store::WriteTx;
use parapheur_store::items::Note;
use uuid::Uuid;

use crate::register::deadlines;
use crate::{Actor, App, AppError};
use parapheur_domain::deadline::DEFAULT_DOCUMENTS_DELAY;
use parapheur_domain::webhook::EventType;

/// One change to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Moves along the state machine; closing needs a reason.
    Status {
        to: Status,
        reason: Option<CloseReason>,
    },
    /// Routes to a service and/or a person.
    Assign {
        service_id: Option<Uuid>,
        assignee_id: Option<Uuid>,
    },
    /// L114-5: documents were asked from the sender on that day, to be produced by
    /// `deadline` (`None`: one month, [`DEFAULT_DOCUMENTS_DELAY`]); `missing` lists them as
    /// the sender is told (may be empty when the request was made outside parapheur).
    Incomplete {
        requested_on: NaiveDate,
        missing: Vec<String>,
        deadline: Option<NaiveDate>,
    },
    /// L114-5: the missing documents arrived on that day.
    Completed { on: NaiveDate },
    /// Sets the document type (a suggestion accepted); its deadlines follow.
    Classify { doctype: String },
    /// L231-1 / L231-4: silence kept until the end of the silence date gave an implicit
    /// decision ("accepted" or "rejected"), recorded by the deadline watch.
    ImplicitDecision {
        decision: String,
        born_on: NaiveDate,
    },
    /// The arrival date was wrong (an email counted from the day it was polled, a letter
    /// registered days after it came): the delays run from receipt (L231-1), so the dates
    /// follow. The reason is journaled with it, as a note in the same transaction.
    Arrival { date: NaiveDate, reason: String },
}

impl Change {
    fn action(&self) -> &'static str {
        match self {
            Change::Status { .. } => "item.status",
            Change::Assign { .. } => "item.assigned",
            Change::Incomplete { .. } => "item.incomplete",
            Change::Completed { .. } => "item.completed",
            Change::Classify { .. } => "item.classified",
            Change::ImplicitDecision { .. } => "item.implicit_decision",
            Change::Arrival { .. } => "item.arrival_corrected",
        }
    }
}

impl App {
    /// Applies a change to an item of the commune, inside one transaction, journaled with
    /// the item's state before and after.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn change_item(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        let item = self.store().item(commune.id, item_id).await?;
        self.authorize_item(commune, actor, Permission::ProcessMail, &item)
            .await?;
        self.change_item_as_consequence(commune, actor, item_id, change, now)
            .await
    }

    /// [`App::change_item`] without the check of the actor's rights, for a change that
    /// follows from a use case that already made it (a refusal in the parapheur sends the
    /// item back, a letter sent closes it).
    pub(crate) async fn change_item_as_consequence(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        let now = now.trunc_subsecs(6);
        if let Change::Assign {
            service_id,
            assignee_id,
        } = &change
        {
            self.check_routing(commune, *service_id, *assignee_id)
                .await?;
        }
        let completed = matches!(change, Change::Completed { .. });
        let mut tx = self.store().begin(now).await?;
        let after = self
            .apply_change(&mut tx, commune, actor, item_id, change, now)
            .await?;
        tx.commit().await?;
        self.webhooks_queued();
        if completed {
            self.acknowledge_completion(commune, item_id, now).await;
        }
        Ok(after)
    }

    /// [`App::change_item`] inside the caller's transaction, for a change that must land
    /// together with other writes (the implicit decision and its message to the citizen).
    pub(crate) async fn apply_change(
        &self,
        tx: &mut WriteTx,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<Item, AppError> {
        let now = now.trunc_subsecs(6);
        let today = local_date(now, commune.zone());
        let before = tx.item_for_update(commune.id, item_id).await?;
        let mut after = before.clone();
        after.updated_at = now;
        let action = change.action();
        let reclassified = matches!(change, Change::Classify { .. });
        let mut arrival_note = None;
        match change {
            Change::Status { to, reason } => {
                before.status.check_transition(to, reason)?;
                // Only the archives' own path destroys or archives (Code du patrimoine
                // L212-2, R212-14): see `archives`.
                if let Some(refusal) = parapheur_domain::retention::disposition_refusal(to) {
                    return Err(AppError::Forbidden(refusal.into()));
                }
                after.status = to;
                after.close_reason = reason;
            }
            Change::Assign {
                service_id,
                assignee_id,
            } => {
                if service_id.is_none() && assignee_id.is_none() {
                    return Err(AppError::invalid("indiquez un service ou une personne"));
                }
                if before.status != Status::Assigned {
                    before.status.check_transition(Status::Assigned, None)?;
                }
                after.status = Status::Assigned;
                after.service_id = service_id.or(before.service_id);
                after.assignee_id = assignee_id;
            }
            Change::Incomplete {
                requested_on,
                missing,
                deadline,
            } => {
                let missing: Vec<String> = missing
                    .iter()
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
                if missing.len() > 30 || missing.iter().any(|m| m.chars().count() > 300) {
                    return Err(AppError::invalid(
                        "au plus 30 pièces manquantes, de 300 caractères chacune",
                    ));
                }
                let deadline = deadline.unwrap_or_else(|| {
                    parapheur_domain::deadline::end_of_delay(
                        requested_on,
                        DEFAULT_DOCUMENTS_DELAY,
                        commune.holiday_zone(),
                    )
                });
                if before.implicit_decision.is_some() {
                    return Err(AppError::invalid(
                        "la décision implicite est déjà enregistrée : des pièces ne peuvent plus \
                         être demandées pour suspendre ou rouvrir le délai (article L114-5)",
                    ));
                }
                parapheur_domain::deadline::check_documents_request(
                    before.arrival_date,
                    before.silence_date,
                    requested_on,
                    deadline,
                    today,
                )
                .map_err(AppError::invalid)?;
                before
                    .status
                    .check_transition(Status::AwaitingDocuments, None)?;
                after.status = Status::AwaitingDocuments;
                after.incomplete_requested_on = Some(requested_on);
                after.incomplete_completed_on = None;
                after.incomplete_deadline = Some(deadline);
                after.missing_documents = missing;
            }
            Change::Completed { on } => {
                let Some(requested_on) = before.incomplete_requested_on else {
                    return Err(AppError::invalid("aucune pièce n'a été demandée"));
                };
                if on < requested_on || on > today {
                    return Err(AppError::invalid(
                        "la réception des pièces doit dater d'entre leur demande et aujourd'hui",
                    ));
                }
                before.status.check_transition(Status::InProgress, None)?;
                after.status = Status::InProgress;
                after.incomplete_completed_on = Some(on);
            }
            Change::Classify { doctype } => {
                if tx.doctype(commune.id, &doctype).await?.is_none() {
                    return Err(AppError::UnknownDoctype(doctype));
                }
                if !before.status.is_open() {
                    return Err(AppError::invalid(
                        "un élément clos garde le type qu'il avait",
                    ));
                }
                after.doctype_code = Some(doctype);
            }
            Change::ImplicitDecision { decision, born_on } => {
                if !matches!(decision.as_str(), "accepted" | "rejected") {
                    return Err(AppError::invalid("décision implicite inconnue"));
                }
                if before.implicit_decision.is_some() {
                    return Err(AppError::invalid(
                        "la décision implicite est déjà enregistrée",
                    ));
                }
                after.implicit_decision = Some(decision);
                after.implicit_decision_on = Some(born_on);
            }
            Change::Arrival { date, reason } => {
                let reason = reason.trim();
                if reason.is_empty() || reason.chars().count() > 1000 {
                    return Err(AppError::invalid(
                        "indiquez le motif de la correction (1 000 caractères au plus)",
                    ));
                }
                let registered_on = local_date(before.registered_at, commune.zone());
                check_arrival_correction(&before, date, registered_on, today)
                    .map_err(AppError::invalid)?;
                after.arrival_date = date;
                arrival_note = Some(format!(
                    "Date d'arrivée corrigée du {} au {}. Motif : {reason}",
                    parapheur_domain::french::long_date(before.arrival_date),
                    parapheur_domain::french::long_date(date)
                ));
            }
        }
        // Once recorded, the implicit decision stays: nothing moves its dates. Born but not
        // yet recorded (the watch runs later), a new type does not move it either; a request
        // for documents dated before the silence date, or their receipt, are facts of the
        // delay itself and are counted.
        let frozen = before.implicit_decision.is_some()
            || (reclassified
                && parapheur_domain::deadline::implicit_decision_born(before.silence_date, today));
        if !frozen
            && (before.incomplete_requested_on != after.incomplete_requested_on
                || before.incomplete_completed_on != after.incomplete_completed_on
                || before.incomplete_deadline != after.incomplete_deadline
                || before.doctype_code != after.doctype_code
                || before.arrival_date != after.arrival_date)
        {
            let doctype = match &after.doctype_code {
                Some(code) => tx.doctype(commune.id, code).await?,
                None => None,
            };
            let dates = deadlines(after.direction, &after, doctype.as_ref(), commune);
            after.due_date = dates.due;
            after.silence_date = dates.silence_date;
        }
        tx.update_item(&before, &after, action, &actor.journal_name())
            .await?;
        let told = match action {
            "item.assigned" => Some((EventType::ItemAssigned, serde_json::json!({}))),
            "item.implicit_decision" => Some((
                EventType::ImplicitDecision,
                serde_json::json!({
                    "decision": after.implicit_decision,
                    "born_on": after.implicit_decision_on,
                }),
            )),
            _ => None,
        };
        if let Some((event_type, mut data)) = told {
            if let Some(data) = data.as_object_mut() {
                data.insert("item".to_owned(), crate::webhooks::item_data(&after));
            }
            let event = crate::webhooks::Event::new(event_type, data);
            crate::webhooks::queue_event(tx, commune, event, now).await?;
        }
        if let Some(body) = arrival_note {
            let note = Note {
                id: Uuid::now_v7(),
                item_id,
                author_id: actor.user_id(),
                body,
                created_at: now,
            };
            tx.insert_note(commune.id, &note, &actor.journal_name())
                .await?;
        }
        Ok(after)
    }

    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn add_note(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Note, AppError> {
        let item = self.store().item(commune.id, item_id).await?;
        self.authorize_item(commune, actor, Permission::Member, &item)
            .await?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > 10_000 {
            return Err(AppError::invalid(
                "une note compte de 1 à 10 000 caractères",
            ));
        }
        let note = Note {
            id: Uuid::now_v7(),
            item_id,
            author_id: actor.user_id(),
            body: body.to_owned(),
            created_at: now,
        };
        let mut tx = self.store().begin(now).await?;
        tx.item_for_update(commune.id, item_id).await?;
        tx.insert_note(commune.id, &note, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(note)
    }

    /// Copies an item to a user of the same commune (diffusion).
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn copy_item(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        user_id: Uuid,
        purpose: CopyPurpose,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        self.check_routing(commune, None, Some(user_id)).await?;
        let mut tx = self.store().begin(now).await?;
        tx.item_for_update(commune.id, item_id).await?;
        tx.insert_copy(commune.id, item_id, user_id, purpose, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn link_items(
        &self,
        commune: &Commune,
        actor: &Actor,
        from: Uuid,
        to: Uuid,
        kind: LinkKind,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.insert_link(commune.id, from, to, kind, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Why an item's arrival date may not become `date`, if it may not: only a received item
/// that is still open and whose implicit decision is not recorded (a decision born stays
/// born, L231-1); never in the future nor after the item was registered; never before the
/// letter's own date, its first receipt elsewhere (L114-3) or a request for documents.
fn check_arrival_correction(
    item: &Item,
    date: NaiveDate,
    registered_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), &'static str> {
    if item.direction != parapheur_domain::Direction::Incoming {
        return Err("seul un courrier reçu a une date d'arrivée");
    }
    if !item.status.is_open() {
        return Err("un élément clos garde sa date d'arrivée");
    }
    if item.implicit_decision.is_some() {
        return Err(
            "la décision implicite est déjà enregistrée : la date d'arrivée dont elle est née \
             ne change plus (article L231-1)",
        );
    }
    if date == item.arrival_date {
        return Err("c'est déjà la date d'arrivée");
    }
    if date > today {
        return Err("la date d'arrivée ne peut être dans le futur");
    }
    if date > registered_on.max(item.arrival_date) {
        return Err("un courrier ne peut arriver après avoir été enregistré");
    }
    if item.letter_date.is_some_and(|letter| date < letter) {
        return Err("la date d'arrivée ne peut précéder la date du courrier");
    }
    if item
        .first_receipt_elsewhere
        .is_some_and(|first| date < first)
    {
        return Err(
            "la date d'arrivée ne peut précéder la première réception par une autre autorité \
             (article L114-3)",
        );
    }
    if item
        .incomplete_requested_on
        .is_some_and(|asked| date > asked)
    {
        return Err("la date d'arrivée ne peut suivre la demande de pièces (article L114-5)");
    }
    Ok(())
}
