//! `parapheur archives …`: retention rules, legal holds, eliminations with the visa of the
//! Archives départementales, SEDA transfers. The command line acts for the installation,
//! like its other commands, unless `--as EMAIL` names a person: then it acts as them, and a
//! person without the archivist's role is refused as on the web's Archives page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use parapheur_app::archives::{Elimination, Transfer};
use parapheur_app::domain::Commune;
use parapheur_app::domain::french::{self, long_date};
use parapheur_app::domain::retention::{FinalAction, RetentionRule, StartEvent, Visa};
use parapheur_app::{Actor, App};
use serde_json::json;
use uuid::Uuid;

use crate::output;
use crate::target::{CommuneTarget, open_commune};

const CLI: Actor = Actor::System("cli");

#[derive(Debug, Subcommand)]
pub enum ArchivesCommand {
    /// Tableau de gestion : durée d'utilité administrative et sort final par type
    Rules {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Modifie la règle de conservation d'un type de document
    SetRule {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Code du type de document (par exemple invitation)
        #[arg(value_name = "TYPE")]
        doctype: String,
        /// Durée d'utilité administrative, en années
        #[arg(long)]
        years: u32,
        /// Sort final : keep (C, conserver), destroy (D, détruire) ou sort (T, trier)
        #[arg(long)]
        fate: String,
        /// Point de départ : closing (clôture) ou registration (enregistrement)
        #[arg(long, default_value = "closing")]
        start: String,
    },
    /// Éléments clos dont la durée d'utilité administrative est échue
    Due {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Gèle un élément (contentieux, contrôle…) ou lève le gel avec --lift
    Hold {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(value_name = "NUMÉRO")]
        number: String,
        /// Motif du gel
        #[arg(long, required_unless_present = "lift")]
        reason: Option<String>,
        /// Lève le gel
        #[arg(long, conflicts_with = "reason")]
        lift: bool,
    },
    /// Propose des éléments à l'élimination et écrit le bordereau (PDF) pour les Archives
    Propose {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(required = true, value_name = "NUMÉRO")]
        numbers: Vec<String>,
        /// Bordereau à écrire (par défaut bordereau-elimination-EL-….pdf)
        #[arg(short = 'o', long = "output", value_name = "FICHIER.pdf")]
        output: Option<PathBuf>,
    },
    /// Propositions d'élimination et versements
    List {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Enregistre le visa du directeur des Archives départementales sur une proposition
    Visa {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro de la proposition (EL-2027-001)
        #[arg(value_name = "PROPOSITION")]
        proposal: String,
        /// Signataire du visa
        #[arg(long = "by")]
        signed_by: String,
        /// Date du visa (AAAA-MM-JJ)
        #[arg(long = "on")]
        signed_on: NaiveDate,
        /// Numéro du visa
        #[arg(long)]
        reference: String,
    },
    /// Élimine les éléments d'une proposition visée et écrit le certificat de destruction
    Eliminate {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(value_name = "PROPOSITION")]
        proposal: String,
        /// Certificat à écrire (par défaut certificat-destruction-EL-….pdf)
        #[arg(short = 'o', long = "output", value_name = "FICHIER.pdf")]
        output: Option<PathBuf>,
    },
    /// Verse des éléments clos aux archives : écrit le message SEDA 2.3 (ArchiveTransfer)
    Transfer {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(required = true, value_name = "NUMÉRO")]
        numbers: Vec<String>,
        /// Identifiant du service d'archives (par défaut FRAD et le département)
        #[arg(long)]
        agency: Option<String>,
        /// Message à écrire (par défaut VERS-….xml)
        #[arg(short = 'o', long = "output", value_name = "FICHIER.xml")]
        output: Option<PathBuf>,
    },
    /// Enregistre la réponse des archives à un versement (Acknowledgement ou ArchiveTransferReply)
    Answer {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Identifiant du versement (VERS-…)
        #[arg(value_name = "VERSEMENT")]
        transfer: String,
        #[arg(value_name = "RÉPONSE.xml")]
        file: PathBuf,
    },
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes)
        .with_context(|| format!("écriture de {} impossible", path.display()))
}

async fn item_ids(app: &App, commune: &Commune, numbers: &[String]) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(numbers.len());
    for n in numbers {
        ids.push(app.item_by_chrono(commune.id, n.trim()).await?.id);
    }
    Ok(ids)
}

async fn proposal(
    app: &App,
    commune: &Commune,
    actor: &Actor,
    number: &str,
) -> anyhow::Result<Elimination> {
    app.eliminations(commune, actor)
        .await?
        .into_iter()
        .find(|e| e.number == number.trim())
        .ok_or_else(|| anyhow!("aucune proposition d'élimination n° « {number} »"))
}

async fn transfer(
    app: &App,
    commune: &Commune,
    actor: &Actor,
    identifier: &str,
) -> anyhow::Result<Transfer> {
    app.transfers(commune, actor)
        .await?
        .into_iter()
        .find(|t| t.identifier == identifier.trim())
        .ok_or_else(|| anyhow!("aucun versement « {identifier} »"))
}

fn print_elimination(e: &Elimination) {
    println!(
        "{} : {}, {}{}",
        e.number,
        french::count(e.items.len(), "élément", "éléments"),
        e.state.label_fr(),
        e.visa
            .as_ref()
            .map(|v| format!(" (visa n° {} du {})", v.reference, long_date(v.signed_on)))
            .unwrap_or_default()
    );
}

/// The installation, or the person `--as` names (who must be of this commune).
async fn acting(app: &App, commune: &Commune, email: Option<&str>) -> anyhow::Result<Actor> {
    let Some(email) = email else {
        return Ok(CLI);
    };
    let user = app
        .user_by_email(commune.id, email.trim())
        .await?
        .with_context(|| format!("aucun utilisateur « {email} » dans cette commune"))?;
    Ok(Actor::User(user.id))
}

pub async fn run(
    command: ArchivesCommand,
    as_user: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match command {
        ArchivesCommand::Rules { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let rules = app.retention_schedules(&commune, &actor).await?;
            if json {
                output::json(&rules)?;
            } else {
                for s in rules {
                    println!(
                        "{:<28} {:>7} depuis {:<20} {}",
                        s.doctype,
                        french::count(s.rule.years, "an", "ans"),
                        s.start.label_fr(),
                        s.rule.final_action.label_fr()
                    );
                }
            }
        }
        ArchivesCommand::SetRule {
            commune,
            doctype,
            years,
            fate,
            start,
        } => {
            let final_action: FinalAction = fate.parse().map_err(|e: String| anyhow!(e))?;
            let start: StartEvent = start.parse().map_err(|e: String| anyhow!(e))?;
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let rule = RetentionRule {
                years,
                final_action,
            };
            let s = app
                .set_retention(&commune, &actor, doctype.trim(), rule, start, now)
                .await?;
            if json {
                output::json(&s)?;
            } else {
                println!(
                    "{} : {} depuis {}, {}",
                    s.doctype,
                    french::count(s.rule.years, "an", "ans"),
                    s.start.label_fr(),
                    s.rule.final_action.label_fr()
                );
            }
        }
        ArchivesCommand::Due { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let due = app.items_due(&commune, &actor, now).await?;
            if json {
                output::json(&due)?;
            } else if due.is_empty() {
                println!("aucun élément dont la durée d'utilité administrative est échue");
            } else {
                for d in due {
                    let note = match (&d.hold, d.in_procedure) {
                        (Some(h), _) => format!(" — gelé : {}", h.reason),
                        (None, true) => " — proposition ou versement en cours".to_owned(),
                        _ => String::new(),
                    };
                    println!(
                        "{} — {} — échu depuis le {} — {}{note}",
                        d.item.chrono,
                        d.item.subject,
                        long_date(d.since),
                        d.schedule.rule.final_action.label_fr()
                    );
                }
            }
        }
        ArchivesCommand::Hold {
            commune,
            number,
            reason,
            lift,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let item = app.item_by_chrono(commune.id, number.trim()).await?;
            let reason = if lift { None } else { reason };
            app.set_legal_hold(&commune, &actor, item.id, reason.as_deref(), now)
                .await?;
            if json {
                output::json(&json!({ "chrono": item.chrono, "hold": reason }))?;
            } else if let Some(r) = reason {
                println!("{} : gelé ({r})", item.chrono);
            } else {
                println!("{} : gel levé", item.chrono);
            }
        }
        ArchivesCommand::Propose {
            commune,
            numbers,
            output,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let ids = item_ids(&app, &commune, &numbers).await?;
            let e = app.propose_elimination(&commune, &actor, &ids, now).await?;
            let pdf = app
                .elimination_proposal_pdf(&commune, &actor, e.id, now)
                .await?;
            let path =
                output.unwrap_or_else(|| format!("bordereau-elimination-{}.pdf", e.number).into());
            write(&path, &pdf)?;
            if json {
                output::json(&json!({ "proposal": e, "file": path }))?;
            } else {
                print_elimination(&e);
                println!(
                    "bordereau à envoyer aux Archives départementales : {}",
                    path.display()
                );
            }
        }
        ArchivesCommand::List { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let eliminations = app.eliminations(&commune, &actor).await?;
            let transfers = app.transfers(&commune, &actor).await?;
            if json {
                output::json(&json!({ "eliminations": eliminations, "transfers": transfers }))?;
            } else {
                eliminations.iter().for_each(print_elimination);
                for t in transfers {
                    println!(
                        "{} : {}, {}",
                        t.identifier,
                        french::count(t.items.len(), "élément", "éléments"),
                        t.state.label_fr()
                    );
                }
            }
        }
        ArchivesCommand::Visa {
            commune,
            proposal: number,
            signed_by,
            signed_on,
            reference,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let e = proposal(&app, &commune, &actor, &number).await?;
            let visa = Visa {
                signed_by,
                signed_on,
                reference,
            };
            let e = app.record_visa(&commune, &actor, e.id, visa, now).await?;
            if json {
                output::json(&e)?;
            } else {
                print_elimination(&e);
            }
        }
        ArchivesCommand::Eliminate {
            commune,
            proposal: number,
            output,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let e = proposal(&app, &commune, &actor, &number).await?;
            let e = app.eliminate(&commune, &actor, e.id, now).await?;
            let pdf = app
                .destruction_certificate_pdf(&commune, &actor, e.id, now)
                .await?;
            let path =
                output.unwrap_or_else(|| format!("certificat-destruction-{}.pdf", e.number).into());
            write(&path, &pdf)?;
            if json {
                output::json(&json!({ "proposal": e, "certificate": path }))?;
            } else {
                print_elimination(&e);
                println!("certificat de destruction : {}", path.display());
            }
        }
        ArchivesCommand::Transfer {
            commune,
            numbers,
            agency,
            output,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let ids = item_ids(&app, &commune, &numbers).await?;
            let (t, message) = app
                .transfer_to_archives(&commune, &actor, &ids, agency.as_deref(), now)
                .await?;
            let path = output.unwrap_or_else(|| format!("{}.xml", t.identifier).into());
            write(&path, &message)?;
            if json {
                output::json(&json!({ "transfer": t, "file": path }))?;
            } else {
                println!(
                    "{} : {}, message SEDA 2.3 écrit dans {}",
                    t.identifier,
                    french::count(t.items.len(), "élément", "éléments"),
                    path.display()
                );
            }
        }
        ArchivesCommand::Answer {
            commune,
            transfer: identifier,
            file,
        } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("lecture de {} impossible", file.display()))?;
            let (app, commune) = open_commune(&commune).await?;
            let actor = acting(&app, &commune, as_user.as_deref()).await?;
            let t = transfer(&app, &commune, &actor, &identifier).await?;
            let t = app
                .record_transfer_answer(&commune, &actor, t.id, &bytes, now)
                .await?;
            if json {
                output::json(&t)?;
            } else {
                println!("{} : {}", t.identifier, t.state.label_fr());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
