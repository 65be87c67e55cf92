//! The archives: retention schedules, legal holds, elimination with the visa of the
//! Archives départementales, and transfers to an archive service (SEDA 2.3).
//!
//! A commune's records are public archives (Code du patrimoine L211-4). Destroying them needs
//! the visa of the director of the Archives départementales (L212-2, R212-14), and doing
//! without it is an offence (L214-3). So the only way to "détruit" is here: the archivist
//! proposes the items whose DUA has run out (a bordereau, laid out as a PDF), records the
//! visa (who, when, its number), and only then eliminates them: each item's files are
//! deleted from the file store, its line stays in the register with "éliminé le … (visa
//! n° …)", and a destruction certificate is printed from what was recorded. The only way to
//! "archivé" is a transfer the archives accepted. An ordinary status change to either is
//! refused (`register::lifecycle`, with `retention::disposition_refusal`).
//!
//! Everything here needs [`Permission::Archive`]: the archivist's role.

use crate::boxed_future;
mod documents;
pub mod seda;
mod transfers;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::french;
use parapheur_domain::retention::{
    self, Due, EliminationState, RetentionRule, Schedule, StartEvent, Visa,
};
use parapheur_domain::{Commune, Item, Permission, Status};
use parapheur_store::items::Note;
use uuid::Uuid;

use crate::{Actor, App, AppError};

pub use parapheur_store::archives::{Elimination, LegalHold, Transfer};

/// An item whose retention has run out, with what decides its fate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DueItem {
    pub item: Item,
    pub schedule: Schedule,
    /// The day the final action became possible.
    pub since: NaiveDate,
    /// A legal hold stops everything until lifted.
    pub hold: Option<LegalHold>,
    /// Already in a proposal or a transfer awaiting its answer.
    pub in_procedure: bool,
}

impl DueItem {
    /// May go in a proposal of elimination now.
    pub fn may_be_proposed(&self) -> bool {
        self.hold.is_none()
            && !self.in_procedure
            && self.schedule.rule.final_action.may_be_eliminated()
    }
}

/// The schedule of an item without a document type: administrative mail.
pub(crate) fn untyped_schedule() -> Schedule {
    Schedule {
        doctype: String::new(),
        label: "Sans type (courrier administratif)".to_owned(),
        rule: RetentionRule::ADMINISTRATIVE_MAIL,
        start: StartEvent::Closing,
    }
}

/// The schedule that applies to `item`.
pub(crate) fn schedule_of<'a>(
    schedules: &'a BTreeMap<String, Schedule>,
    item: &Item,
    fallback: &'a Schedule,
) -> &'a Schedule {
    item.doctype_code
        .as_ref()
        .and_then(|code| schedules.get(code))
        .unwrap_or(fallback)
}

impl App {
    /// Every active document type's retention.
    #[boxed_future]
    pub async fn retention_schedules(
        &self,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<Vec<Schedule>, AppError> {
        self.authorize(commune, actor, Permission::Member).await?;
        Ok(self.store().schedules(commune.id).await?)
    }

    /// Changes a document type's retention: DUA in years (at most 200), start event, fate.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn set_retention(
        &self,
        commune: &Commune,
        actor: &Actor,
        doctype: &str,
        rule: RetentionRule,
        start: StartEvent,
        now: DateTime<Utc>,
    ) -> Result<Schedule, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        if rule.years > 200 {
            return Err(AppError::invalid(
                "une durée d'utilité administrative de 200 ans au plus",
            ));
        }
        let before = self
            .store()
            .schedules(commune.id)
            .await?
            .into_iter()
            .find(|s| s.doctype == doctype)
            .ok_or_else(|| AppError::UnknownDoctype(doctype.to_owned()))?;
        let after = Schedule {
            rule,
            start,
            ..before.clone()
        };
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        tx.set_schedule(commune.id, &before, &after, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Puts a legal hold on an item (`Some(reason)`: a dispute, an audit, a request for
    /// access in progress) or lifts it (`None`).
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn set_legal_hold(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let item = self.store().item(commune.id, item_id).await?;
        self.authorize_item(commune, actor, Permission::Archive, &item)
            .await?;
        let reason = reason.map(str::trim);
        if let Some(r) = reason
            && (r.is_empty() || r.chars().count() > 500)
        {
            return Err(AppError::invalid(
                "indiquez le motif du gel (500 caractères au plus)",
            ));
        }
        if matches!(item.status, Status::Destroyed | Status::Archived) {
            return Err(AppError::invalid("cet élément a déjà quitté le registre"));
        }
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        tx.set_legal_hold(
            commune.id,
            item_id,
            reason,
            &actor.journal_name(),
            now.trunc_subsecs(6),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[boxed_future]
    pub async fn legal_holds(
        &self,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<Vec<LegalHold>, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        Ok(self.store().legal_holds(commune.id).await?)
    }

    /// The closed items whose retention has run out on `now`'s local date, oldest first,
    /// with their schedule, hold and procedure.
    #[boxed_future]
    pub async fn items_due(
        &self,
        commune: &Commune,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<DueItem>, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        let today = local_date(now, commune.zone());
        let schedules: BTreeMap<String, Schedule> = self
            .store()
            .schedules(commune.id)
            .await?
            .into_iter()
            .map(|s| (s.doctype.clone(), s))
            .collect();
        let fallback = untyped_schedule();
        let holds: BTreeMap<Uuid, LegalHold> = self
            .store()
            .legal_holds(commune.id)
            .await?
            .into_iter()
            .map(|h| (h.item_id, h))
            .collect();
        let busy = self.store().items_in_procedures(commune.id).await?;
        let mut out = Vec::new();
        for item in self.store().closed_items(commune.id).await? {
            let schedule = schedule_of(&schedules, &item, &fallback);
            if let Due::Since(since) = due_of(&item, schedule, commune, today) {
                out.push(DueItem {
                    since,
                    hold: holds.get(&item.id).cloned(),
                    in_procedure: busy.contains(&item.id),
                    schedule: schedule.clone(),
                    item,
                });
            }
        }
        Ok(out)
    }

    /// Every proposal of elimination, newest first.
    #[boxed_future]
    pub async fn eliminations(
        &self,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<Vec<Elimination>, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        Ok(self.store().eliminations(commune.id).await?)
    }

    #[boxed_future]
    pub async fn elimination(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
    ) -> Result<Elimination, AppError> {
        self.authorize(commune, actor, Permission::Archive).await?;
        Ok(self.store().elimination(commune.id, id).await?)
    }

    /// Proposes items for elimination: each must be closed, past its DUA, of a fate that
    /// allows it (D, or T at the archivist's choice), under no legal hold and in no other
    /// procedure. The proposal awaits the visa of the Archives départementales.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn propose_elimination(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Elimination, AppError> {
        let now = now.trunc_subsecs(6);
        if item_ids.is_empty() {
            return Err(AppError::invalid(
                "choisissez au moins un élément à proposer",
            ));
        }
        let due: BTreeMap<Uuid, DueItem> = self
            .items_due(commune, actor, now)
            .await?
            .into_iter()
            .map(|d| (d.item.id, d))
            .collect();
        let mut items = Vec::new();
        for id in item_ids {
            let Some(d) = due.get(id) else {
                let chrono = self.store().item(commune.id, *id).await?.chrono;
                return Err(AppError::invalid(format!(
                    "{chrono} n'est pas à éliminer : il doit être clos et sa durée d'utilité \
                     administrative écoulée"
                )));
            };
            if let Some(hold) = &d.hold {
                return Err(AppError::invalid(format!(
                    "{} est gelé ({}) : levez le gel avant de le proposer",
                    d.item.chrono, hold.reason
                )));
            }
            if d.in_procedure {
                return Err(AppError::invalid(format!(
                    "{} figure déjà dans une proposition ou un versement en cours",
                    d.item.chrono
                )));
            }
            if !d.schedule.rule.final_action.may_be_eliminated() {
                return Err(AppError::invalid(format!(
                    "{} est à conserver (sort final C) : il se verse aux archives, il ne se \
                     détruit pas",
                    d.item.chrono
                )));
            }
            if !items.contains(id) {
                items.push(*id);
            }
        }
        // Register order, as the bordereau lists them.
        items.sort_by_key(|id| {
            due.get(id)
                .map(|d| (d.item.year, d.item.direction.code(), d.item.sequence))
        });
        let year = local_date(now, commune.zone()).format("%Y").to_string();
        let number = self
            .store()
            .next_elimination_number(commune.id, year.parse().unwrap_or(0))
            .await?;
        let elimination = Elimination {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            number,
            state: EliminationState::Proposed,
            proposed_at: now,
            proposed_by: actor.journal_name(),
            visa: None,
            visa_recorded_at: None,
            visa_recorded_by: None,
            eliminated_at: None,
            eliminated_by: None,
            items,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_elimination(&elimination, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(elimination)
    }

    /// Records the visa of the director of the Archives départementales on a proposal.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn record_visa(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        visa: Visa,
        now: DateTime<Utc>,
    ) -> Result<Elimination, AppError> {
        let now = now.trunc_subsecs(6);
        let before = self.elimination(commune, actor, id).await?;
        if before.state != EliminationState::Proposed {
            return Err(AppError::invalid(format!(
                "la proposition {} est déjà {}",
                before.number,
                before.state.label_fr()
            )));
        }
        let today = local_date(now, commune.zone());
        let proposed_on = local_date(before.proposed_at, commune.zone());
        retention::check_visa(
            &visa.signed_by,
            &visa.reference,
            visa.signed_on,
            proposed_on,
            today,
        )
        .map_err(AppError::invalid)?;
        let after = Elimination {
            state: EliminationState::Approved,
            visa: Some(Visa {
                signed_by: visa.signed_by.trim().to_owned(),
                signed_on: visa.signed_on,
                reference: visa.reference.trim().to_owned(),
            }),
            visa_recorded_at: Some(now),
            visa_recorded_by: Some(actor.journal_name()),
            ..before.clone()
        };
        let mut tx = self.store().begin(now).await?;
        tx.update_elimination(&before, &after, "elimination.visa", &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Eliminates the items of a proposal whose visa is recorded: each becomes "détruit",
    /// its files are deleted from the file store, and a note on its register line says
    /// "éliminé le … (visa n° …)". An item put under a legal hold since the visa, or no
    /// longer closed, stops the whole elimination.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn eliminate(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Elimination, AppError> {
        let now = now.trunc_subsecs(6);
        let before = self.elimination(commune, actor, id).await?;
        let visa = match (&before.state, &before.visa) {
            (EliminationState::Approved, Some(visa)) => visa.clone(),
            (EliminationState::Proposed, _) => {
                return Err(AppError::invalid(
                    "aucun visa des Archives départementales n'est enregistré pour cette \
                     proposition : l'élimination est interdite sans lui (Code du patrimoine, \
                     L212-2 et R212-14)",
                ));
            }
            _ => {
                return Err(AppError::invalid(format!(
                    "la proposition {} est déjà éliminée",
                    before.number
                )));
            }
        };
        let holds = self.store().legal_holds(commune.id).await?;
        if let Some(hold) = holds.iter().find(|h| before.items.contains(&h.item_id)) {
            let chrono = self.store().item(commune.id, hold.item_id).await?.chrono;
            return Err(AppError::invalid(format!(
                "{chrono} a été gelé depuis la proposition ({}) : levez le gel ou refaites la \
                 proposition sans lui",
                hold.reason
            )));
        }
        let today = local_date(now, commune.zone());
        let note = format!(
            "Éliminé le {} (visa n° {} des Archives départementales, signé par {} le {} ; \
             proposition {})",
            french::long_date(today),
            visa.reference,
            visa.signed_by,
            french::long_date(visa.signed_on),
            before.number
        );
        let journal_name = actor.journal_name();
        let mut tx = self.store().begin(now).await?;
        let mut hashes = Vec::new();
        for item_id in &before.items {
            let item = tx.item_for_update(commune.id, *item_id).await?;
            if item.status != Status::Closed {
                return Err(AppError::invalid(format!(
                    "{} n'est plus clos ({}) : il ne peut pas être éliminé",
                    item.chrono,
                    item.status.label_fr()
                )));
            }
            let mut after = item.clone();
            after.status = Status::Destroyed;
            after.body = None;
            after.updated_at = now;
            tx.update_item(&item, &after, "item.eliminated", &journal_name)
                .await?;
            hashes.extend(
                tx.eliminate_files(commune.id, item.id, &journal_name, now)
                    .await?,
            );
            tx.insert_note(
                commune.id,
                &Note {
                    id: Uuid::now_v7(),
                    item_id: item.id,
                    author_id: actor.user_id(),
                    body: note.clone(),
                    created_at: now,
                },
                &journal_name,
            )
            .await?;
        }
        let after = Elimination {
            state: EliminationState::Done,
            eliminated_at: Some(now),
            eliminated_by: Some(journal_name.clone()),
            ..before.clone()
        };
        tx.update_elimination(&before, &after, "elimination.done", &journal_name)
            .await?;
        tx.commit().await?;
        // Rows first, files second: a crash here leaves orphan blobs for fsck to collect,
        // never a row pointing to a deleted file.
        self.delete_unreferenced(commune, hashes).await?;
        Ok(after)
    }

    /// Deletes the blobs among `hashes` that no row of the commune refers to any more.
    async fn delete_unreferenced(
        &self,
        commune: &Commune,
        hashes: Vec<String>,
    ) -> Result<(), AppError> {
        let referenced: std::collections::BTreeSet<String> = self
            .store()
            .referenced_blobs(commune.id)
            .await?
            .into_iter()
            .collect();
        for sha in hashes {
            if !referenced.contains(&sha) {
                self.files().delete(&commune.id.to_string(), &sha).await?;
            }
        }
        Ok(())
    }
}

/// Where `item` stands with `schedule` on `today`.
pub(crate) fn due_of(item: &Item, schedule: &Schedule, commune: &Commune, today: NaiveDate) -> Due {
    // The closing is the item's last change while it is closed: a later edit only
    // postpones the end of the DUA, the safe side.
    let closed_on =
        (item.status == Status::Closed).then(|| local_date(item.updated_at, commune.zone()));
    retention::due(
        &schedule.rule,
        schedule.start,
        local_date(item.registered_at, commune.zone()),
        closed_on,
        today,
    )
}
