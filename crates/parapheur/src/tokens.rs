//! `parapheur tokens …`: the commune's API tokens (docs/API.md). The command line acts for
//! the installation, as its other commands do; on the web, the commune's administrators
//! manage them (Administration → Jetons d'API).

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use parapheur_app::Actor;
use parapheur_app::api::{NewToken, Scope};
use serde_json::json;
use uuid::Uuid;

use crate::output;
use crate::target::{CommuneTarget, open_commune};

const CLI: Actor = Actor::System("cli");

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Crée un jeton d'API pour une personne de la commune ; il n'est affiché qu'une fois
    Create {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Nom du jeton (le logiciel qui l'utilisera)
        #[arg(long, value_name = "NOM")]
        label: String,
        /// Adresse de la personne au nom de qui le jeton agit (son rôle s'applique)
        #[arg(long, value_name = "EMAIL")]
        owner: String,
        /// Permission (répétable, ou séparées par des virgules) : items:read, items:write,
        /// contacts:read, contacts:write, cti:events (standard téléphonique, seule)
        #[arg(
            long = "scope",
            value_name = "PERMISSION",
            required = true,
            value_delimiter = ','
        )]
        scopes: Vec<String>,
        /// Dernier jour de validité (AAAA-MM-JJ, heure de la commune)
        #[arg(long, value_name = "DATE")]
        expires: Option<NaiveDate>,
    },
    /// Liste les jetons de la commune (jamais leur secret)
    List {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Révoque un jeton, immédiatement
    Revoke {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Identifiant du jeton (voir « tokens list »)
        #[arg(value_name = "ID")]
        id: Uuid,
    },
}

pub async fn run(command: TokensCommand, json: bool) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match command {
        TokensCommand::Create {
            commune,
            label,
            owner,
            scopes,
            expires,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let owner = app
                .user_by_email(commune.id, owner.trim())
                .await?
                .ok_or_else(|| anyhow!("aucun utilisateur « {owner} » dans cette commune"))?;
            let scopes = scopes
                .iter()
                .map(|s| {
                    Scope::parse(s).ok_or_else(|| {
                        anyhow!(
                            "permission inconnue « {s} » : {}",
                            Scope::ALL.map(Scope::code).join(", ")
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let expires_at = match expires {
                None => None,
                Some(day) => Some(
                    day.succ_opt()
                        .and_then(|next| next.and_hms_opt(0, 0, 0))
                        .and_then(|m| m.and_local_timezone(commune.zone()).earliest())
                        .map(|t| t.with_timezone(&Utc))
                        .context("date d'expiration hors calendrier")?,
                ),
            };
            let created = app
                .create_api_token(
                    &commune,
                    &CLI,
                    NewToken {
                        label,
                        owner_id: owner.id,
                        scopes,
                        expires_at,
                    },
                    now,
                )
                .await?;
            if json {
                output::json(&json!({
                    "id": created.token.id,
                    "label": created.token.label,
                    "owner": owner.email,
                    "scopes": created.token.scopes,
                    "expires_at": created.token.expires_at,
                    "token": created.secret,
                }))?;
            } else {
                println!(
                    "Jeton « {} » créé ({}), au nom de {} : {}",
                    created.token.label,
                    created.token.id,
                    owner.display_name,
                    created.token.scopes.join(", ")
                );
                println!("Copiez-le maintenant, il ne sera plus affiché :");
                println!("{}", created.secret);
                if created
                    .token
                    .scopes
                    .iter()
                    .any(|s| s == parapheur_app::api::Scope::CtiEvents.code())
                {
                    println!(
                        "Adresse à donner au pont du standard (format « CTI générique » de Zammad) : \
                         https://<adresse de ce serveur>/api/v1/cti/{}",
                        created.secret
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::List { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let tokens = app.api_tokens(&commune, &CLI).await?;
            let users = app.users(commune.id).await?;
            let email_of = |id: Uuid| {
                users
                    .iter()
                    .find(|u| u.id == id)
                    .map_or_else(|| id.to_string(), |u| u.email.clone())
            };
            if json {
                output::json(
                    &tokens
                        .iter()
                        .map(|t| {
                            json!({
                                "id": t.id, "label": t.label, "hint": t.hint,
                                "owner": email_of(t.owner_id), "scopes": t.scopes,
                                "created_at": t.created_at, "expires_at": t.expires_at,
                                "last_used_at": t.last_used_at, "revoked_at": t.revoked_at,
                            })
                        })
                        .collect::<Vec<_>>(),
                )?;
            } else if tokens.is_empty() {
                println!("aucun jeton");
            } else {
                for t in &tokens {
                    let state = if t.revoked_at.is_some() {
                        "révoqué"
                    } else if t.expires_at.is_some_and(|at| at <= now) {
                        "expiré"
                    } else {
                        "actif"
                    };
                    println!(
                        "{}  {:<8}  {}…  {}  {}  {}",
                        t.id,
                        state,
                        t.hint,
                        t.label,
                        email_of(t.owner_id),
                        t.scopes.join(",")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::Revoke { commune, id } => {
            let (app, commune) = open_commune(&commune).await?;
            let token = app.revoke_api_token(&commune, &CLI, id, now).await?;
            if json {
                output::json(&json!({ "id": token.id, "revoked_at": token.revoked_at }))?;
            } else {
                println!("jeton « {} » révoqué", token.label);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
