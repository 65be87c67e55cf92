//! The bordereau d'élimination sent to the Archives départementales, and the destruction
//! certificate, both laid out as the commune's letters (PDF/A).

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_domain::Commune;
use parapheur_domain::clock::local_date;
use parapheur_domain::french;
use parapheur_domain::retention::{EliminationState, SOURCE};
use parapheur_render::{Job, LetterDocument, LetterSection};
use uuid::Uuid;

use super::Elimination;
use crate::{Actor, App, AppError};

impl App {
    /// The *bordereau d'élimination*: the proposal as the Archives départementales receive
    /// it, one line per item (number, date, subject, type, DUA and fate, files), with the
    /// place for their visa.
    #[boxed_future]
    pub async fn elimination_proposal_pdf(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let elimination = self.elimination(commune, actor, id).await?;
        let lines = self.elimination_lines(commune, &elimination, false).await?;
        let mut sections = vec![LetterSection {
            heading: None,
            paragraphs: vec![format!(
                "La commune de {} propose l'élimination des {} documents ci-dessous, dont la \
                 durée d'utilité administrative est échue, conformément aux articles L212-2 et \
                 R212-14 du Code du patrimoine. Durées et sorts finaux : {SOURCE}, tels que la \
                 commune les applique.",
                commune.name,
                elimination.items.len()
            )],
            list: Vec::new(),
        }];
        sections.push(LetterSection {
            heading: Some("Documents proposés à l'élimination".to_owned()),
            paragraphs: Vec::new(),
            list: lines,
        });
        sections.push(LetterSection {
            heading: Some("Visa du directeur des Archives départementales".to_owned()),
            paragraphs: vec![match &elimination.visa {
                Some(v) => format!(
                    "Visa n° {} accordé par {} le {}.",
                    v.reference,
                    v.signed_by,
                    french::long_date(v.signed_on)
                ),
                None => {
                    "Visa n° ……………… accordé le ……………… par ………………………………\n\nSignature :".to_owned()
                }
            }],
            list: Vec::new(),
        });
        let doc = self
            .archives_letter(
                commune,
                format!("Objet : proposition d'élimination {}", elimination.number),
                "Bordereau d'élimination",
                sections,
                now,
            )
            .await?;
        Ok(self.lay_out(Job::Letter(doc)).await?.pdf)
    }

    /// The destruction certificate of a proposal eliminated: what was destroyed, under
    /// which visa, when, and the SHA-256 of each file deleted.
    #[boxed_future]
    pub async fn destruction_certificate_pdf(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let elimination = self.elimination(commune, actor, id).await?;
        let (EliminationState::Done, Some(visa), Some(at)) = (
            elimination.state,
            elimination.visa.as_ref(),
            elimination.eliminated_at,
        ) else {
            return Err(AppError::invalid(
                "le certificat de destruction n'existe qu'une fois l'élimination faite",
            ));
        };
        let lines = self.elimination_lines(commune, &elimination, true).await?;
        let sections = vec![
            LetterSection {
                heading: None,
                paragraphs: vec![format!(
                    "Le {}, les {} documents ci-dessous ont été éliminés : leurs fichiers ont \
                     été supprimés du stockage chiffré du registre, dont les lignes sont \
                     conservées avec la mention de l'élimination. Élimination autorisée par le \
                     visa n° {} des Archives départementales, accordé par {} le {} sur la \
                     proposition {}.",
                    french::long_date(local_date(at, commune.zone())),
                    elimination.items.len(),
                    visa.reference,
                    visa.signed_by,
                    french::long_date(visa.signed_on),
                    elimination.number,
                )],
                list: Vec::new(),
            },
            LetterSection {
                heading: Some("Documents détruits".to_owned()),
                paragraphs: Vec::new(),
                list: lines,
            },
        ];
        let doc = self
            .archives_letter(
                commune,
                format!("Objet : élimination {}", elimination.number),
                "Certificat de destruction",
                sections,
                now,
            )
            .await?;
        Ok(self.lay_out(Job::Letter(doc)).await?.pdf)
    }

    /// One line per item of a proposal; with `files`, the SHA-256 of each file destroyed.
    async fn elimination_lines(
        &self,
        commune: &Commune,
        elimination: &Elimination,
        destroyed: bool,
    ) -> Result<Vec<String>, AppError> {
        let schedules = self.store().schedules(commune.id).await?;
        let mut lines = Vec::with_capacity(elimination.items.len());
        for id in &elimination.items {
            let item = self.store().item(commune.id, *id).await?;
            let schedule = item
                .doctype_code
                .as_ref()
                .and_then(|c| schedules.iter().find(|s| &s.doctype == c));
            let files = if destroyed {
                self.store().eliminated_attachments(commune.id, *id).await?
            } else {
                self.store().attachments(commune.id, *id).await?
            };
            let mut line = format!(
                "{} du {} — {} — {} — DUA {}, {}",
                item.chrono,
                french::long_date(item.arrival_date),
                item.subject,
                schedule.map_or("sans type", |s| s.label.as_str()),
                french::count(
                    usize::try_from(schedule.map_or(6, |s| s.rule.years)).unwrap_or(0),
                    "an",
                    "ans"
                ),
                schedule.map_or("T — trier", |s| s.rule.final_action.label_fr()),
            );
            if files.is_empty() {
                line.push_str(" — sans fichier");
            }
            for f in files {
                line.push_str(&format!(
                    "\n{} ({} octets{})",
                    f.filename,
                    f.size,
                    if destroyed {
                        format!(", SHA-256 {}", f.sha256)
                    } else {
                        String::new()
                    }
                ));
            }
            lines.push(line);
        }
        Ok(lines)
    }

    async fn archives_letter(
        &self,
        commune: &Commune,
        subject: String,
        title: &str,
        sections: Vec<LetterSection>,
        now: DateTime<Utc>,
    ) -> Result<LetterDocument, AppError> {
        let (letterhead, logo) = self.letterhead(commune).await?;
        Ok(LetterDocument {
            commune_name: format!("Mairie de {}", commune.name),
            letterhead,
            logo,
            place_and_date: format!(
                "{}, le {}",
                commune.name,
                french::long_date(local_date(now, commune.zone()))
            ),
            recipient: vec![
                "Monsieur ou Madame le directeur".to_owned(),
                format!("des Archives départementales ({})", commune.departement),
            ],
            reference: None,
            subject,
            title: Some(title.to_owned()),
            opening: None,
            sections,
            closing: None,
            signature: vec!["L'archiviste de la commune".to_owned()],
            footer: Some(
                "Code du patrimoine, articles L212-2, R212-14 et L214-3 — établi à partir du \
                 registre et de son journal chaîné"
                    .to_owned(),
            ),
            generated_at: now,
            signature_zone: false,
        })
    }
}
