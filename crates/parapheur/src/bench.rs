//! `parapheur bench register`: how many items per second the register takes, each with its
//! own file. Also the workload of the crash tests, which kill it at random moments.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use clap::Subcommand;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, CloseReason, Status};
use parapheur_app::{Actor, App, Change, Config, NewFile};
use serde_json::json;

use crate::cli::Target;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Enregistre N éléments avec un fichier chacun et mesure le débit
    Register {
        #[command(flatten)]
        target: Target,
        /// Code INSEE de la commune de mesure (créée au besoin)
        #[arg(long, default_value = "01004")]
        commune: String,
        #[arg(long, default_value_t = 500)]
        count: usize,
        /// Taille du fichier joint, en kilo-octets (0 : sans fichier)
        #[arg(long, default_value_t = 100)]
        file_kb: usize,
        /// Nombre d'enregistrements simultanés
        #[arg(long, default_value_t = 1)]
        writers: usize,
        /// Pourcentage d'éléments clos aussitôt (un registre réel est surtout clos)
        #[arg(long, default_value_t = 0)]
        closed_percent: usize,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    let BenchCommand::Register {
        target,
        commune,
        count,
        file_kb,
        writers,
        closed_percent,
    } = command;
    let config = Config::load(&target.data, target.database_url.clone())?;
    config.ensure_master_key()?;
    let app = App::open(&config).await?;
    let actor = Actor::System("bench");
    let commune = match app.store().commune_by_insee(&commune).await? {
        Some(c) => c,
        None => app.create_commune(&commune, &actor, Utc::now()).await?,
    };
    let commune = Arc::new(commune);
    let writers = writers.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (app, commune, actor) = (app.clone(), commune.clone(), actor.clone());
        let share = count / writers + usize::from(w < count % writers);
        tasks.push(tokio::spawn(async move {
            for i in 0..share {
                let now = Utc::now();
                let mut new = NewItem::incoming(
                    Channel::Paper,
                    format!("Courrier de mesure {w}-{i}"),
                    local_date(now, &commune.departement),
                );
                new.doctype_code = Some("demande-administrative".into());
                let files = (file_kb > 0)
                    .then(|| NewFile {
                        filename: format!("scan-{w}-{i}.pdf"),
                        media_type: "application/pdf".into(),
                        bytes: pseudo_scan(
                            file_kb * 1024,
                            (w as u64) << 32 | i as u64,
                            now.timestamp_micros(),
                        ),
                    })
                    .into_iter()
                    .collect();
                let registered = app.register(&commune, &actor, new, files, now).await?;
                if (i * 7 + w) % 100 < closed_percent {
                    let close = Change::Status {
                        to: Status::Closed,
                        reason: Some(CloseReason::NoFollowUp),
                    };
                    app.change_item(&commune, &actor, registered.item.id, close, Utc::now())
                        .await?;
                }
                // One line per committed item: the crash test reads the last one it saw.
                println!("{}", registered.item.chrono);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let backend = if config.database_url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    eprintln!(
        "{}",
        json!({
            "backend": backend,
            "items": count,
            "writers": writers,
            "file_bytes": file_kb * 1024,
            "seconds": seconds,
            "items_per_second": count as f64 / seconds,
        })
    );
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Bytes that look like a scan to the store (unique per item, so none is deduplicated).
fn pseudo_scan(len: usize, seed: u64, salt: i64) -> Vec<u8> {
    let mut state = seed ^ (salt as u64) ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
