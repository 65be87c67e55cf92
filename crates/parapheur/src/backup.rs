//! `parapheur backup …` and `parapheur restore`: the off-site copies of a box.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use parapheur_app::domain::french;
use parapheur_app::{App, BackupSetting, Config, FsckOptions};
use serde_json::json;

use crate::cli::BackupCommand;
use crate::output;
use crate::target::{config, open_with};

pub async fn run(command: BackupCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        BackupCommand::Now { target } => {
            let config = config(&target)?;
            let app = open_with(&target, &config).await?;
            let made = app.copy_off_site(&config).await?;
            if json {
                output::json(&made)?;
            } else {
                if made.created_repository {
                    println!("Dépôt de copies créé.");
                }
                println!(
                    "Copie {} faite en {:.1} s : {}, {} ajoutés au dépôt.",
                    short(&made.snapshot_id),
                    made.seconds,
                    french::count(made.files_new, "fichier nouveau", "fichiers nouveaux"),
                    french::size(made.data_added)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Status { target } => {
            let config = config(&target)?;
            let state = parapheur_app::continuity::state(&config)?;
            if json {
                output::json(&json!({
                    "repository": config.backup.as_ref().map(|b| b.repository.clone()),
                    "state": state,
                }))?;
                return Ok(ExitCode::SUCCESS);
            }
            match &config.backup {
                Some(setting) => println!("Dépôt : {}", setting.repository),
                None => {
                    println!("Aucune copie hors site configurée ([backup] dans parapheur.toml).")
                }
            }
            let Some(state) = state else {
                println!("Aucune copie faite.");
                return Ok(ExitCode::SUCCESS);
            };
            match state.last_success_at {
                Some(at) => println!(
                    "Dernière copie : {} (il y a {}), {}",
                    at.format("%Y-%m-%d %H:%M:%S UTC"),
                    french::elapsed(Utc::now() - at),
                    state.snapshot_id.as_deref().map(short).unwrap_or_default()
                ),
                None => println!("Aucune copie réussie."),
            }
            if let Some(error) = &state.last_error {
                match state.last_attempt_at {
                    Some(at) => println!(
                        "Dernière tentative en échec (il y a {}) : {error}",
                        french::elapsed(Utc::now() - at)
                    ),
                    None => println!("Dernière tentative en échec : {error}"),
                }
                let every = config
                    .backup
                    .as_ref()
                    .and_then(|b| b.interval_seconds)
                    .unwrap_or(parapheur_app::continuity::DEFAULT_INTERVAL.as_secs());
                let how_often = if every == 1 {
                    "chaque seconde".to_owned()
                } else {
                    format!("toutes les {every} s")
                };
                println!(
                    "Rien n'est perdu : ce qui a été enregistré depuis la dernière copie reste \
                     sur ce serveur et partira avec la prochaine copie réussie. Le serveur \
                     (parapheur serve) réessaie de lui-même {how_often}."
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::List { target } => {
            let config = config(&target)?;
            let snapshots = parapheur_app::continuity::list_copies(&config).await?;
            if json {
                output::json(&json!(
                    snapshots
                        .iter()
                        .map(|s| json!({
                            "id": s.id, "time": s.time, "paths": s.paths,
                        }))
                        .collect::<Vec<_>>()
                ))?;
            } else if snapshots.is_empty() {
                println!("Aucune copie dans le dépôt.");
            } else {
                for s in &snapshots {
                    println!("{}  {}", s.short_id, s.time.format("%Y-%m-%d %H:%M:%S UTC"));
                }
                println!("{}.", french::count(snapshots.len(), "copie", "copies"));
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Sheet { target, to } => {
            let config = config(&target)?;
            let app = open_with(&target, &config).await?;
            let communes = app.communes().await?;
            let pdf = tokio::task::spawn_blocking(move || {
                parapheur_app::continuity::recovery_sheet_pdf(&config, &communes, Utc::now())
            })
            .await??;
            write_private_new(&to, &pdf)?;
            if json {
                output::json(&json!({ "written": to, "bytes": pdf.len() }))?;
            } else {
                println!(
                    "Fiche de reprise écrite dans {} : imprimez-la, rangez-la au coffre de la \
                     mairie, puis supprimez le fichier (il contient la clé maître).",
                    to.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Verify { target, quick } => {
            let config = config(&target)?;
            let app = open_with(&target, &config).await?;
            app.verify_copies(&config, !quick).await?;
            if json {
                output::json(&json!({ "clean": true, "read_data": !quick }))?;
            } else if quick {
                println!("Dépôt de copies cohérent (structure vérifiée, données non relues).");
            } else {
                println!("Dépôt de copies intact : chaque objet relu et vérifié.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn restore(
    data: PathBuf,
    from: Option<String>,
    master_key: Option<PathBuf>,
    snapshot: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&data)
        .with_context(|| format!("impossible de créer {}", data.display()))?;
    if let Some(key) = &master_key {
        let text = std::fs::read_to_string(key)
            .with_context(|| format!("clé maître {} illisible", key.display()))?;
        parapheur_app::continuity::place_master_key(&data, &text)?;
    }
    let mut config = Config::load(&data, None)?;
    if let Some(location) = from {
        config.backup = Some(BackupSetting {
            repository: location,
            interval_seconds: None,
            credentials_file: config.backup.and_then(|b| b.credentials_file),
        });
    }
    let restored = parapheur_app::continuity::restore(&config, snapshot.as_deref()).await?;
    // The restored configuration file may place files elsewhere: read it again.
    let config = Config::load(&data, None)?;
    let app = App::open(&config).await?;
    let verdicts = app.verify_journals(|_| {}).await?;
    let journal_clean = verdicts.iter().all(|v| v.is_intact());
    let report = app
        .fsck(
            &FsckOptions {
                collect: false,
                grace: chrono::Duration::minutes(60),
            },
            Utc::now(),
            |_| {},
        )
        .await?;
    let mut indexed = 0;
    for commune in app.communes().await? {
        indexed += app.reindex(commune.id, |_| {}).await?;
    }
    let clean = journal_clean && report.is_clean();
    if json {
        output::json(&json!({
            "restored": restored,
            "journal_clean": journal_clean,
            "fsck_clean": report.is_clean(),
            "indexed": indexed,
        }))?;
    } else {
        println!(
            "Copie {} du {} restaurée dans {} : {}.",
            short(&restored.snapshot_id),
            restored.snapshot_time.format("%Y-%m-%d %H:%M:%S UTC"),
            data.display(),
            french::count(restored.files, "fichier", "fichiers")
        );
        println!(
            "Journal : {}. Fichiers et numérotation : {}. {}.",
            if journal_clean {
                "intact"
            } else {
                "ANOMALIES (parapheur journal verify)"
            },
            if report.is_clean() {
                "intacts"
            } else {
                "ANOMALIES (parapheur fsck)"
            },
            french::count(indexed, "élément indexé", "éléments indexés"),
        );
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes a new file that only its owner may read (it holds the master key).
fn write_private_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "impossible de créer {} (il ne doit pas exister)",
            path.display()
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("impossible d'écrire {}", path.display()))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
