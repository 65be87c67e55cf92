//! The data subject's rights over a contact (RGPD art. 15 to 18), within the archives law.
//!
//! - **Access (art. 15)**: [`App::subject_access_export`], a zip of one JSON file, the
//!   documents and a README (see `export`).
//! - **Rectification (art. 16)**: [`App::rectify_contact`], journaled with the record before
//!   and after.
//! - **Erasure (art. 17)**: [`App::request_erasure`]. A commune's records are public archives
//!   (Code du patrimoine L211-4): an item naming the person that has not been eliminated with
//!   the visa of the Archives départementales (L212-2, R212-14) still needs its names, and
//!   art. 17(3)(b) and (d) exclude erasure then. So erasure is refused, with each item, why it
//!   is kept and until when, and restriction is offered instead. Once nothing retains them,
//!   the contact is pseudonymised: its fields are replaced in place (the row stays, so the
//!   journal and the register lines still resolve), and the journal records the event without
//!   rewriting the entries before it.
//! - **Restriction (art. 18)**: [`App::restrict_contact`], the contact hidden from the
//!   directory and the suggestions, its record kept.
//!
//! Every decision, a refusal included, is journaled on the contact.

use crate::boxed_future;
mod export;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use parapheur_domain::contact::{Contact, NewContact};
use parapheur_domain::french::long_date;
use parapheur_domain::retention::Due;
use parapheur_domain::{Commune, Permission, Status};
use serde::Serialize;
use uuid::Uuid;

pub use export::SubjectExport;
pub use parapheur_store::contacts::ContactRights;

use crate::archives::{due_of, schedule_of, untyped_schedule};
use crate::{Actor, App, AppError};

/// Why one item naming the person keeps their data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retained {
    pub chrono: String,
    /// In French, for the person and the refusal.
    pub reason: String,
    /// The day the retention period ends (the final action becomes possible), when known.
    pub until: Option<NaiveDate>,
}

/// The answer to a request for erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ErasureDecision {
    /// Nothing retains the person: the contact was pseudonymised.
    Pseudonymised { pseudonym: String },
    /// Items still retain the person: erasure refused, for the reasons given.
    Refused { retained: Vec<Retained> },
}

impl ErasureDecision {
    /// The decision as the person reads it, in French.
    pub fn message_fr(&self) -> String {
        match self {
            ErasureDecision::Pseudonymised { pseudonym } => format!(
                "Effacement effectué : la fiche est remplacée par « {pseudonym} » ; aucun \
                 élément conservé ne la nommait."
            ),
            ErasureDecision::Refused { retained } => {
                let mut text = format!(
                    "Effacement refusé : {} du registre nommant cette personne {} \
                     archives publiques qui ne peuvent être détruites ni modifiées hors de la \
                     procédure d'élimination visée par le directeur des Archives départementales \
                     (Code du patrimoine, L212-1 et suivants, L212-2 et R212-14) ; le RGPD \
                     exclut alors l'effacement (art. 17.3 b, obligation légale, et d, archivage \
                     dans l'intérêt public).",
                    if retained.len() >= 2 {
                        format!("{} éléments", retained.len())
                    } else {
                        format!("{} élément", retained.len())
                    },
                    if retained.len() >= 2 {
                        "sont des"
                    } else {
                        "est une"
                    }
                );
                for r in retained {
                    text.push_str(&format!("\n- {} : {}", r.chrono, r.reason));
                }
                text.push_str(
                    "\nCe qui reste possible : limiter le traitement (art. 18) ; la fiche est \
                     alors masquée de l'annuaire et des suggestions, et conservée. L'effacement \
                     pourra être demandé de nouveau après l'élimination de ces éléments.",
                );
                text
            }
        }
    }
}

impl App {
    /// Where a contact stands with restriction and erasure.
    #[boxed_future]
    pub async fn contact_rights(
        &self,
        commune: &Commune,
        id: Uuid,
    ) -> Result<ContactRights, AppError> {
        Ok(self.store().contact_rights(commune.id, id).await?)
    }

    /// Rectifies a contact's fields (RGPD art. 16); the journal keeps the record before and
    /// after, who and when.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn rectify_contact(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        new: NewContact,
        now: DateTime<Utc>,
    ) -> Result<Contact, AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        if self
            .store()
            .contact_rights(commune.id, id)
            .await?
            .erased_at
            .is_some()
        {
            return Err(AppError::invalid(
                "cette fiche a été effacée (pseudonymisée) : elle ne se rectifie plus",
            ));
        }
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        let (_, after) = tx
            .rectify_contact(commune.id, id, &new, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Restricts the processing of a contact (RGPD art. 18), or lifts the restriction.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn restrict_contact(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        restricted: bool,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        tx.restrict_contact(
            commune.id,
            id,
            restricted,
            "demande de la personne (RGPD art. 18)",
            &actor.journal_name(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Why each item naming the contact still retains their data, on `now`'s local date.
    #[boxed_future]
    pub async fn retained_by(
        &self,
        commune: &Commune,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Retained>, AppError> {
        let today = parapheur_domain::clock::local_date(now, commune.zone());
        let schedules: std::collections::BTreeMap<String, _> = self
            .store()
            .schedules(commune.id)
            .await?
            .into_iter()
            .map(|s| (s.doctype.clone(), s))
            .collect();
        let fallback = untyped_schedule();
        let holds = self.store().legal_holds(commune.id).await?;
        let mut ids: Vec<Uuid> = Vec::new();
        for role in self.store().contact_roles(commune.id, id).await? {
            if !ids.contains(&role.item_id) {
                ids.push(role.item_id);
            }
        }
        let mut out = Vec::new();
        for item_id in ids {
            let item = self.store().item(commune.id, item_id).await?;
            let schedule = schedule_of(&schedules, &item, &fallback);
            let dua = format!(
                "{} à compter de la {}, sort final {}",
                parapheur_domain::french::count(
                    usize::try_from(schedule.rule.years).unwrap_or(0),
                    "an",
                    "ans"
                ),
                schedule.start.label_fr(),
                schedule.rule.final_action.label_fr()
            );
            let (mut reason, until) = match item.status {
                Status::Destroyed => continue,
                Status::Archived => (
                    "versé aux archives : il est conservé par le service d'archives (Code du \
                     patrimoine, L212-1 et suivants)"
                        .to_owned(),
                    None,
                ),
                _ => match due_of(&item, schedule, commune, today) {
                    Due::NotStarted => (
                        format!(
                            "dossier en cours ({}) : sa durée d'utilité administrative ({dua}) \
                             ne court qu'à partir de sa clôture",
                            item.status.label_fr()
                        ),
                        None,
                    ),
                    Due::Running(on) => (
                        format!(
                            "conservé au titre de sa durée d'utilité administrative ({dua}), \
                             jusqu'au {} ; son élimination demandera ensuite le visa des \
                             Archives départementales",
                            long_date(on)
                        ),
                        Some(on),
                    ),
                    Due::Since(on) => (
                        format!(
                            "durée d'utilité administrative échue le {}, mais il reste une \
                             archive publique tant qu'il n'est pas éliminé avec le visa des \
                             Archives départementales (proposez-le à l'élimination)",
                            long_date(on)
                        ),
                        Some(on),
                    ),
                },
            };
            if let Some(hold) = holds.iter().find(|h| h.item_id == item.id) {
                reason.push_str(&format!(" ; gelé : {}", hold.reason));
            }
            out.push(Retained {
                chrono: item.chrono,
                reason,
                until,
            });
        }
        Ok(out)
    }

    /// A request to erase a contact (RGPD art. 17): refused with the reasons while items
    /// naming them are kept under the archives law, the contact pseudonymised otherwise
    /// (with the contacts merged into it). The decision is journaled either way.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn request_erasure(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ErasureDecision, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let rights = self.store().contact_rights(commune.id, id).await?;
        if rights.erased_at.is_some() {
            return Err(AppError::invalid("cette fiche est déjà effacée"));
        }
        let retained = self.retained_by(commune, id, now).await?;
        let who = actor.journal_name();
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        let decision = if retained.is_empty() {
            let pseudonym = pseudonym(id);
            tx.pseudonymise_contact(commune.id, id, &pseudonym, &who)
                .await?;
            for merged in self.store().contacts_merged_into(commune.id, id).await? {
                tx.pseudonymise_contact(commune.id, merged.id, &self::pseudonym(merged.id), &who)
                    .await?;
            }
            ErasureDecision::Pseudonymised { pseudonym }
        } else {
            let decision = ErasureDecision::Refused { retained };
            tx.journal_contact_decision(
                commune.id,
                id,
                "contact.erasure_refused",
                &serde_json::to_value(&decision).unwrap_or_default(),
                &who,
            );
            decision
        };
        tx.commit().await?;
        Ok(decision)
    }
}

/// What an erased contact is called: nothing of the person, and distinct from the others so
/// that they are not taken for duplicates of each other.
fn pseudonym(id: Uuid) -> String {
    let simple = id.simple().to_string();
    format!("Personne effacée n° {}", &simple[simple.len() - 8..])
}
