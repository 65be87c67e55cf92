//! `parapheur contacts …`: the data subject's rights over a contact (RGPD art. 15, 17, 18).
//! The command line acts for the installation, like its other commands; the web's buttons
//! are the administrators'.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use chrono::Utc;
use clap::Subcommand;
use parapheur_app::domain::Commune;
use parapheur_app::domain::contact::NewContact;
use parapheur_app::domain::french;
use parapheur_app::privacy::ErasureDecision;
use parapheur_app::{Actor, App};
use serde_json::json;
use uuid::Uuid;

use crate::output;
use crate::target::{CommuneTarget, open_commune};

const CLI: Actor = Actor::System("cli");

#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Copie des données d'une personne (RGPD art. 15) : une archive zip (JSON, pièces, notice)
    Export {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Identifiant du contact, ou son adresse électronique
        #[arg(value_name = "CONTACT")]
        contact: String,
        /// Archive à écrire
        #[arg(long = "out", short = 'o', value_name = "FICHIER.zip")]
        out: PathBuf,
    },
    /// Demande d'effacement (RGPD art. 17) : refusée avec ses motifs tant que le droit des
    /// archives conserve des éléments qui nomment la personne, pseudonymisation sinon
    Erase {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(value_name = "CONTACT")]
        contact: String,
    },
    /// Limitation du traitement (RGPD art. 18) : masque la fiche de l'annuaire, ou la rétablit avec --lift
    Restrict {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(value_name = "CONTACT")]
        contact: String,
        /// Lève la limitation
        #[arg(long)]
        lift: bool,
    },
}

/// A contact named by its id or by its email address (exactly one contact must have it).
async fn contact_id(app: &App, commune: &Commune, given: &str) -> anyhow::Result<Uuid> {
    let given = given.trim();
    if let Ok(id) = Uuid::parse_str(given) {
        app.contact(commune.id, id).await?;
        return Ok(id);
    }
    let probe = NewContact {
        name: given.to_owned(),
        email: Some(given.to_owned()),
        ..Default::default()
    };
    if probe.duplicate_keys().email.is_none() {
        return Err(anyhow!(
            "« {given} » n'est ni un identifiant de contact ni une adresse électronique"
        ));
    }
    match app.likely_duplicates(commune.id, &probe).await?.as_slice() {
        [one] => Ok(one.id),
        [] => Err(anyhow!("aucun contact n'a l'adresse « {given} »")),
        several => Err(anyhow!(
            "{} contacts ont l'adresse « {given} » : donnez l'identifiant de l'un d'eux ({})",
            several.len(),
            several
                .iter()
                .map(|c| c.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub async fn run(command: ContactsCommand, json: bool) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match command {
        ContactsCommand::Export {
            commune,
            contact,
            out,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let id = contact_id(&app, &commune, &contact).await?;
            let export = app.subject_access_export(&commune, &CLI, id, now).await?;
            std::fs::write(&out, &export.zip)
                .with_context(|| format!("écriture de {} impossible", out.display()))?;
            if json {
                output::json(&json!({
                    "contact": id,
                    "file": out,
                    "items": export.items,
                    "files": export.files,
                }))?;
            } else {
                println!(
                    "{} : {}, {}",
                    out.display(),
                    french::count(export.items, "courrier", "courriers"),
                    french::count(export.files, "pièce", "pièces")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ContactsCommand::Erase { commune, contact } => {
            let (app, commune) = open_commune(&commune).await?;
            let id = contact_id(&app, &commune, &contact).await?;
            let decision = app.request_erasure(&commune, &CLI, id, now).await?;
            if json {
                output::json(&decision)?;
            } else {
                println!("{}", decision.message_fr());
            }
            // A refusal is an answer, not a failure of the program: 4 tells scripts apart.
            Ok(match decision {
                ErasureDecision::Pseudonymised { .. } => ExitCode::SUCCESS,
                ErasureDecision::Refused { .. } => ExitCode::from(4),
            })
        }
        ContactsCommand::Restrict {
            commune,
            contact,
            lift,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let id = contact_id(&app, &commune, &contact).await?;
            app.restrict_contact(&commune, &CLI, id, !lift, now).await?;
            let said = if lift {
                "limitation levée : la fiche figure de nouveau dans l'annuaire"
            } else {
                "traitement limité : la fiche est masquée de l'annuaire et des suggestions"
            };
            if json {
                output::json(&json!({ "contact": id, "restricted": !lift }))?;
            } else {
                println!("{said}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
