//! The subject-access export (RGPD art. 15): one zip with `donnees.json` (everything the
//! register holds that names the person), their documents decrypted under `documents/`, and
//! `LISEZMOI.txt`, in French, with the DPO's contact.
//!
//! **Nothing about anyone else.** The directory record of another contact is never
//! exported; on an item naming other people too, they appear only as a count. An item's
//! content (its text, notes, messages and files) is exported whole only when the person is
//! its sender (they wrote it) or the only person it names; on an item they received
//! together with others, the export gives the register line alone and says that the
//! documents were withheld because they name others (art. 15(4)): the DPO may give a copy
//! with the others' data blacked out. The history of an item gives what was done and when,
//! never who among the staff or the values before and after (they may name others); the
//! history of the person's own record is given whole.

use crate::boxed_future;
use std::io::Write;

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};
use parapheur_domain::{Commune, Permission};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Actor, App, AppError};

/// A finished export: the zip and the name to give it.
#[derive(Debug, Clone)]
pub struct SubjectExport {
    pub filename: String,
    pub zip: Vec<u8>,
    /// Items and files in it, for the journal and the front ends' messages.
    pub items: usize,
    pub files: usize,
}

/// How a system actor or a member of staff appears to the person: a category, not a name.
fn actor_category(actor: &str) -> &'static str {
    if actor.starts_with("user:") {
        "un agent de la commune"
    } else {
        "le système"
    }
}

/// A name usable inside the zip (no folders, no control characters).
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':') {
                '-'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        "document".to_owned()
    } else {
        trimmed.to_owned()
    }
}

const README: &str = "\
Copie de vos données personnelles (RGPD, article 15)
====================================================

Cette archive contient tout ce que le registre du courrier de la commune de {commune}
conserve à votre nom, à la date du {date} :

- donnees.json : votre fiche de contact et son historique (créations, rectifications),
  chaque courrier, demande, réponse ou appel téléphonique où vous êtes expéditeur ou
  destinataire, avec ses dates, son état, ses notes, les messages échangés et son
  historique (ce qui a été fait et quand), ainsi que la liste des consultations de votre
  fiche par les agents ;
- documents/ : les pièces (lettres, courriels, pièces jointes) de ces courriers, en clair.

Les données d'autres personnes n'y figurent pas. Lorsqu'un courrier vous a été adressé en
même temps qu'à d'autres personnes, seule sa ligne du registre est donnée ; ses pièces, qui
les nomment aussi, peuvent vous être communiquées après occultation de leurs données
(article 15.4) : adressez-vous au délégué à la protection des données.

Ces données sont traitées par la commune pour l'exécution de sa mission d'intérêt public
(RGPD, article 6.1.e) et conservées selon les durées d'utilité administrative des archives
publiques (Code du patrimoine, L212-1 et suivants). Vous pouvez demander leur
rectification, leur effacement lorsque le droit des archives le permet, ou la limitation de
leur traitement.

Délégué à la protection des données : {dpo}

Vous pouvez aussi adresser une réclamation à la CNIL (www.cnil.fr).
";

impl App {
    /// Everything the register holds that names contact `id`, as a zip (see the module).
    /// Journaled on the contact.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn subject_access_export(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<SubjectExport, AppError> {
        let now = now.trunc_subsecs(6);
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let store = self.store();
        let contact = store.contact(commune.id, id).await?;
        let rights = store.contact_rights(commune.id, id).await?;
        let merged = store.contacts_merged_into(commune.id, id).await?;
        let mut history = Vec::new();
        for c in std::iter::once(id).chain(merged.iter().map(|m| m.id)) {
            for e in store
                .journal_of(commune.id, "contact", &c.to_string())
                .await?
            {
                history.push(json!({
                    "action": e.action,
                    "le": e.at,
                    "par": actor_category(&e.actor),
                    "avant": e.before.as_deref().and_then(|b| serde_json::from_str::<Value>(b).ok()),
                    "apres": e.after.as_deref().and_then(|a| serde_json::from_str::<Value>(a).ok()),
                }));
            }
        }

        let mut roles: Vec<(Uuid, Vec<String>)> = Vec::new();
        for r in store.contact_roles(commune.id, id).await? {
            match roles.iter_mut().find(|(item, _)| *item == r.item_id) {
                Some((_, rs)) => rs.push(r.role),
                None => roles.push((r.item_id, vec![r.role])),
            }
        }

        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut items = Vec::new();
        for (item_id, their_roles) in &roles {
            let item = store.item(commune.id, *item_id).await?;
            let parties = store.item_contacts(item.id).await?;
            let others = parties.iter().filter(|(_, c)| *c != id).count();
            let whole = others == 0 || their_roles.iter().any(|r| r == "sender");
            let steps: Vec<Value> = store
                .journal_of(commune.id, "item", &item.id.to_string())
                .await?
                .into_iter()
                .map(|e| json!({ "action": e.action, "le": e.at, "par": actor_category(&e.actor) }))
                .collect();
            let mut line = json!({
                "numero": item.chrono,
                "sens": item.direction.label_fr(),
                "canal": item.channel.label_fr(),
                "type": item.doctype_code,
                "objet": item.subject,
                "vos_roles": their_roles.iter().map(|r| if r == "sender" { "expéditeur" } else { "destinataire" }).collect::<Vec<_>>(),
                "autres_correspondants": others,
                "date_du_courrier": item.letter_date,
                "arrivee": item.arrival_date,
                "enregistre_le": item.registered_at,
                "etat": item.status.label_fr(),
                "echeance": item.due_date,
                "date_de_naissance_decision_implicite": item.silence_date,
                "decision_implicite": item.implicit_decision,
                "pieces_manquantes": item.missing_documents,
                "historique": steps,
            });
            if whole {
                let notes: Vec<Value> = store
                    .notes(commune.id, item.id)
                    .await?
                    .into_iter()
                    .map(|n| json!({ "le": n.created_at, "texte": n.body }))
                    .collect();
                let messages: Vec<Value> = store
                    .item_messages(commune.id, item.id)
                    .await?
                    .into_iter()
                    .map(|m| {
                        json!({
                            "le": m.created_at,
                            "sorte": m.kind,
                            "de_vous": m.from_citizen,
                            "objet": m.subject,
                            "texte": m.body,
                        })
                    })
                    .collect();
                let mut documents = Vec::new();
                for a in store.attachments(commune.id, item.id).await? {
                    let path = format!(
                        "documents/{}/{}-{}",
                        safe_name(&item.chrono),
                        files.len() + 1,
                        safe_name(&a.filename)
                    );
                    files.push((path.clone(), self.read_file(commune.id, &a.sha256).await?));
                    documents.push(json!({
                        "nom": a.filename,
                        "type": a.media_type,
                        "taille": a.size,
                        "sha256": a.sha256,
                        "fichier": path,
                    }));
                }
                line["texte"] = json!(item.body);
                line["notes"] = json!(notes);
                line["messages"] = json!(messages);
                line["documents"] = json!(documents);
            } else {
                line["documents_retenus"] = json!(
                    "ce courrier nomme aussi d'autres personnes : ses pièces et son texte ne \
                     sont donnés qu'après occultation de leurs données, sur demande au délégué \
                     à la protection des données (RGPD art. 15.4)"
                );
            }
            items.push(line);
        }

        let views: Vec<Value> = store
            .personal_data_views(commune.id, id, 10_000)
            .await?
            .into_iter()
            .map(|v| json!({ "le": v.viewed_at, "par": "un agent de la commune" }))
            .collect();
        let calls: Vec<Value> = store
            .calls_of_contact(commune.id, id)
            .await?
            .into_iter()
            .map(|c| {
                json!({
                    "le": c.started_at,
                    "sens": if c.direction == "in" { "appel reçu" } else { "appel passé" },
                    "de": c.from_number,
                    "vers": c.to_number,
                    "decroche_le": c.answered_at,
                    "fini_le": c.ended_at,
                    "manque": c.missed,
                })
            })
            .collect();
        let settings = store.commune_settings(commune.id).await?;
        let dpo = settings
            .dpo_contact
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or(settings.email.clone())
            .unwrap_or_else(|| format!("la mairie de {}", commune.name));
        let data = json!({
            "format": "parapheur-acces-rgpd-1",
            "commune": { "insee": commune.insee, "nom": commune.name },
            "etabli_le": now,
            "regle_des_courriers_partages": "Un courrier qui nomme aussi d'autres personnes \
                n'est donné en entier que si vous en êtes l'expéditeur ; sinon seule sa ligne \
                du registre figure ici, et les autres personnes n'apparaissent que par leur \
                nombre.",
            "contact": contact,
            "limitation_du_traitement_depuis": rights.restricted_at,
            "fiches_fusionnees": merged,
            "historique_de_la_fiche": history,
            "courriers": items,
            "consentements": [],
            "consentements_note": "Les démarches en ligne de la commune ne recueillent pas de \
                consentement : le traitement repose sur sa mission d'intérêt public (RGPD \
                art. 6.1.e).",
            "appels": calls,
            "consultations_de_la_fiche": views,
            "delegue_a_la_protection_des_donnees": dpo,
        });

        let local = now.with_timezone(&commune.zone());
        let readme = README
            .replace("{commune}", &commune.name)
            .replace(
                "{date}",
                &parapheur_domain::french::long_date(local.date_naive()),
            )
            .replace("{dpo}", &dpo);
        let zip = write_zip(
            local.naive_local(),
            std::iter::once(("LISEZMOI.txt".to_owned(), readme.into_bytes()))
                .chain(std::iter::once((
                    "donnees.json".to_owned(),
                    serde_json::to_vec_pretty(&data)
                        .map_err(|e| AppError::internal(format!("export : {e}")))?,
                )))
                .chain(files.iter().cloned()),
        )?;

        let export = SubjectExport {
            filename: format!("donnees-personnelles-{}.zip", contact.id),
            zip,
            items: items.len(),
            files: files.len(),
        };
        let mut tx = store.begin(now).await?;
        tx.journal_contact_decision(
            commune.id,
            id,
            "contact.exported",
            &json!({ "courriers": export.items, "documents": export.files }),
            &actor.journal_name(),
        );
        tx.commit().await?;
        Ok(export)
    }
}

/// The entries, deflated, dated `at` (the commune's local time, as zip wants it).
fn write_zip(
    at: chrono::NaiveDateTime,
    entries: impl Iterator<Item = (String, Vec<u8>)>,
) -> Result<Vec<u8>, AppError> {
    let failed = |e: &dyn std::fmt::Display| AppError::internal(format!("archive zip : {e}"));
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer.start_file(name, options).map_err(|e| failed(&e))?;
        writer.write_all(&bytes).map_err(|e| failed(&e))?;
    }
    Ok(writer.finish().map_err(|e| failed(&e))?.into_inner())
}
