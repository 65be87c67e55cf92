//! The history of a folder's circuit, read back from the journal, and its bordereau de
//! signature.

use crate::boxed_future;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use parapheur_domain::clock::{local_date, utc_offset_minutes};
use parapheur_domain::{Commune, french};
use parapheur_render::{LetterDocument, LetterSection};
use parapheur_store::users::User;
use uuid::Uuid;

use super::CircuitEvent;
use super::signing::describe_signature;
use crate::{App, AppError};
use parapheur_render::Job;

impl App {
    /// Who did what on the folder, from the journal: the *bordereau de signature*.
    #[boxed_future]
    pub async fn circuit_history(
        &self,
        commune: &Commune,
        folder_id: Uuid,
    ) -> Result<Vec<CircuitEvent>, AppError> {
        let users: BTreeMap<String, User> = self
            .store()
            .users(commune.id)
            .await?
            .into_iter()
            .map(|u| (format!("user:{}", u.id), u))
            .collect();
        let name_of = |id: &serde_json::Value| -> Option<String> {
            let id = id.as_str()?;
            users
                .get(&format!("user:{id}"))
                .map(|u| u.display_name.clone())
        };
        let mut out = Vec::new();
        for entry in self
            .store()
            .journal_of(commune.id, "folder", &folder_id.to_string())
            .await?
        {
            let who = users
                .get(&entry.actor)
                .map(|u| match &u.title {
                    Some(t) => format!("{} ({t})", u.display_name),
                    None => u.display_name.clone(),
                })
                .unwrap_or_else(|| "Parapheur".to_owned());
            let after: serde_json::Value = entry
                .after
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            let detail = &after["detail"];
            let mut what = match entry.action.as_str() {
                "folder.created" => "Courrier rédigé".to_owned(),
                "folder.edited" => "Courrier modifié".to_owned(),
                "folder.circuit_started" => "Circuit lancé".to_owned(),
                "folder.approve" => "Visa".to_owned(),
                "folder.sign" => "Signature".to_owned(),
                "folder.sign_undone" => "Signature annulée par son signataire".to_owned(),
                "folder.seal" => "Cachet de la commune apposé".to_owned(),
                "folder.reject" => "Refus".to_owned(),
                "folder.transfer" => "Étape transférée".to_owned(),
                "folder.ask_opinion" => "Avis demandé".to_owned(),
                "folder.answer_opinion" => "Avis donné".to_owned(),
                "folder.bypass" => "Étape contournée (administrateur)".to_owned(),
                "folder.sent" => "Courrier envoyé".to_owned(),
                other => other.to_owned(),
            };
            if let Some(name) = name_of(&detail["on_behalf_of"]) {
                what.push_str(&format!(" pour {name}, par délégation"));
            }
            if let Some(comment) = detail["comment"].as_str() {
                what.push_str(&format!(" : « {comment} »"));
            }
            if let Some(via) = detail["via"].as_str() {
                what.push_str(match via {
                    "email" => " par courriel",
                    _ => " par la poste",
                });
            }
            out.push(CircuitEvent {
                at: entry.at,
                who,
                what,
            });
        }
        Ok(out)
    }

    /// The *bordereau de signature* as a PDF: the letter, then every action of its circuit.
    #[boxed_future]
    pub async fn bordereau_pdf(
        &self,
        commune: &Commune,
        folder_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let folder = self.store().folder(commune.id, folder_id).await?;
        let events = self.circuit_history(commune, folder_id).await?;
        let (letterhead, logo) = self.letterhead(commune).await?;
        let offset = |at: DateTime<Utc>| {
            at + chrono::Duration::minutes(utc_offset_minutes(at, commune.zone()))
        };
        let report = match &folder.pdf_sha256 {
            Some(_) => {
                let pdf = self.folder_pdf(commune, &folder).await?;
                Some(self.verify_pdf(commune, pdf, now).await?)
            }
            None => None,
        };
        let mut sections = vec![LetterSection {
            heading: Some("Document".to_owned()),
            paragraphs: vec![format!(
                "« {} » — état : {}. Empreinte SHA-256 du PDF : {}",
                folder.subject,
                folder.state.label_fr(),
                folder.pdf_sha256.as_deref().unwrap_or("aucune")
            )],
            list: Vec::new(),
        }];
        sections.push(LetterSection {
            heading: Some("Circuit".to_owned()),
            paragraphs: Vec::new(),
            list: events
                .iter()
                .map(|e| {
                    let local = offset(e.at);
                    format!(
                        "{} à {} — {} — {}",
                        french::long_date(local.date_naive()),
                        french::time_of_day(local.time()),
                        e.who,
                        e.what
                    )
                })
                .collect(),
        });
        if let Some(report) = report {
            sections.push(LetterSection {
                heading: Some("Signatures du PDF".to_owned()),
                paragraphs: if report.signatures.is_empty() {
                    vec!["Aucune signature.".to_owned()]
                } else {
                    Vec::new()
                },
                list: report
                    .signatures
                    .iter()
                    .map(|s| describe_signature(s, commune.zone()))
                    .collect(),
            });
        }
        let doc = LetterDocument {
            commune_name: format!("Mairie de {}", commune.name),
            letterhead,
            logo,
            place_and_date: format!(
                "{}, le {}",
                commune.name,
                french::long_date(local_date(now, commune.zone()))
            ),
            recipient: Vec::new(),
            reference: None,
            subject: format!("Objet : {}", folder.subject),
            title: Some("Bordereau de signature".to_owned()),
            opening: None,
            sections,
            closing: None,
            signature: Vec::new(),
            footer: Some("Établi à partir du journal chaîné du registre".to_owned()),
            generated_at: now,
            signature_zone: false,
        };
        Ok(self.lay_out(Job::Letter(doc)).await?.pdf)
    }
}
