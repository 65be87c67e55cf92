//! `parapheur webhooks …`: the commune's webhooks (docs/API.md, "Webhooks"). The command
//! line acts for the installation, as its other commands do; on the web, the commune's
//! administrators manage them (Administration → Webhooks). The server's background loop
//! delivers what is queued.

use std::process::ExitCode;

use anyhow::anyhow;
use chrono::Utc;
use clap::Subcommand;
use parapheur_app::Actor;
use parapheur_app::domain::webhook::EventType;
use parapheur_app::webhooks::{NewWebhook, WebhookDelivery, WebhookSubscription};
use serde_json::json;
use uuid::Uuid;

use crate::output;
use crate::target::{CommuneTarget, open_commune};

const CLI: Actor = Actor::System("cli");

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Abonne une adresse à des événements ; son secret n'est affiché qu'une fois
    Add {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Nom de l'abonnement (le logiciel qui reçoit les événements)
        #[arg(long, value_name = "NOM")]
        label: String,
        /// Adresse qui reçoit les événements (https://…)
        #[arg(long, value_name = "URL")]
        url: String,
        /// Événement (répétable, ou séparés par des virgules) : item.registered,
        /// item.assigned, item.due_soon, item.implicit_decision, letter.signed, letter.sent
        #[arg(
            long = "event",
            value_name = "ÉVÉNEMENT",
            required = true,
            value_delimiter = ','
        )]
        events: Vec<String>,
        /// Crée l'abonnement en pause (rien n'est envoyé avant « resume »)
        #[arg(long)]
        paused: bool,
    },
    /// Liste les abonnements de la commune (jamais leur secret)
    List {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Met un abonnement en pause : aucun nouvel événement ne lui est envoyé
    Pause {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Identifiant de l'abonnement (voir « webhooks list »)
        #[arg(value_name = "ID")]
        id: Uuid,
    },
    /// Reprend un abonnement en pause
    Resume {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(value_name = "ID")]
        id: Uuid,
    },
    /// Supprime un abonnement et ses envois
    Remove {
        #[command(flatten)]
        commune: CommuneTarget,
        #[arg(value_name = "ID")]
        id: Uuid,
    },
    /// Les derniers envois, avec leur dernière réponse
    Deliveries {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Seulement ceux de cet abonnement
        #[arg(long, value_name = "ID")]
        webhook: Option<Uuid>,
    },
    /// Renvoie un envoi remis ou en échec, dès que le serveur le peut
    Redeliver {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Identifiant de l'envoi (voir « webhooks deliveries »)
        #[arg(value_name = "ID")]
        id: Uuid,
    },
}

fn subscription_json(s: &WebhookSubscription) -> serde_json::Value {
    json!({
        "id": s.id, "label": s.label, "url": s.url, "events": s.events,
        "active": s.active, "created_at": s.created_at,
    })
}

fn delivery_json(d: &WebhookDelivery) -> serde_json::Value {
    json!({
        "id": d.id, "webhook": d.subscription_id, "type": d.event_type,
        "state": d.state, "attempts": d.attempts, "next_attempt_at": d.next_attempt_at,
        "last_attempt_at": d.last_attempt_at, "last_status": d.last_status,
        "last_answer": d.last_answer, "delivered_at": d.delivered_at,
        "created_at": d.created_at,
    })
}

fn parse_events(codes: &[String]) -> anyhow::Result<Vec<EventType>> {
    codes
        .iter()
        .map(|code| {
            EventType::parse(code).ok_or_else(|| {
                anyhow!(
                    "événement inconnu « {code} » : {}",
                    EventType::ALL.map(EventType::code).join(", ")
                )
            })
        })
        .collect()
}

async fn set_active(
    commune: &CommuneTarget,
    id: Uuid,
    active: bool,
    json: bool,
) -> anyhow::Result<()> {
    let (app, commune) = open_commune(commune).await?;
    let after = app
        .set_webhook_active(&commune, &CLI, id, active, Utc::now())
        .await?;
    if json {
        output::json(&subscription_json(&after))?;
    } else {
        println!(
            "abonnement « {} » {}",
            after.label,
            if after.active { "actif" } else { "en pause" }
        );
    }
    Ok(())
}

pub async fn run(command: WebhooksCommand, json: bool) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match command {
        WebhooksCommand::Add {
            commune,
            label,
            url,
            events,
            paused,
        } => {
            let events = parse_events(&events)?;
            let (app, commune) = open_commune(&commune).await?;
            let new = NewWebhook {
                label,
                url,
                events,
                active: !paused,
            };
            let created = app.create_webhook(&commune, &CLI, new, now).await?;
            if json {
                let mut shown = subscription_json(&created.subscription);
                if let Some(shown) = shown.as_object_mut() {
                    shown.insert("secret".to_owned(), json!(created.secret));
                }
                output::json(&shown)?;
            } else {
                let s = &created.subscription;
                println!(
                    "Abonnement « {} » créé ({}) : {} reçoit {}{}",
                    s.label,
                    s.id,
                    s.url,
                    s.events.join(", "),
                    if s.active { "" } else { " (en pause)" }
                );
                println!("Secret de signature, à copier maintenant (il ne sera plus affiché) :");
                println!("{}", created.secret);
            }
        }
        WebhooksCommand::List { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let subscriptions = app.webhooks(&commune, &CLI).await?;
            if json {
                output::json(
                    &subscriptions
                        .iter()
                        .map(subscription_json)
                        .collect::<Vec<_>>(),
                )?;
            } else if subscriptions.is_empty() {
                println!("aucun abonnement");
            } else {
                for s in &subscriptions {
                    println!(
                        "{}  {:<8}  {}  {}  {}",
                        s.id,
                        if s.active { "actif" } else { "en pause" },
                        s.label,
                        s.url,
                        s.events.join(",")
                    );
                }
            }
        }
        WebhooksCommand::Pause { commune, id } => set_active(&commune, id, false, json).await?,
        WebhooksCommand::Resume { commune, id } => set_active(&commune, id, true, json).await?,
        WebhooksCommand::Remove { commune, id } => {
            let (app, commune) = open_commune(&commune).await?;
            let removed = app.delete_webhook(&commune, &CLI, id, now).await?;
            if json {
                output::json(&json!({ "id": removed.id, "removed": true }))?;
            } else {
                println!("abonnement « {} » supprimé", removed.label);
            }
        }
        WebhooksCommand::Deliveries { commune, webhook } => {
            let (app, commune) = open_commune(&commune).await?;
            let deliveries = app.webhook_deliveries(&commune, &CLI, webhook).await?;
            if json {
                output::json(&deliveries.iter().map(delivery_json).collect::<Vec<_>>())?;
            } else if deliveries.is_empty() {
                println!("aucun envoi");
            } else {
                for d in &deliveries {
                    println!(
                        "{}  {:<9}  {}  {} tentative(s)  {}  {}",
                        d.id,
                        d.state.code(),
                        d.event_type,
                        d.attempts,
                        d.last_status
                            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                        d.last_answer.as_deref().unwrap_or("")
                    );
                }
            }
        }
        WebhooksCommand::Redeliver { commune, id } => {
            let (app, commune) = open_commune(&commune).await?;
            let delivery = app.redeliver_webhook(&commune, &CLI, id, now).await?;
            if json {
                output::json(&delivery_json(&delivery))?;
            } else {
                println!(
                    "envoi {} remis dans la file : le serveur l'enverra à sa prochaine ronde",
                    delivery.id
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
