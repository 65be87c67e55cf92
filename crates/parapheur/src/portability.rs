//! `parapheur export` and `parapheur import`: one commune moved between installations
//! (a mairie's box and a hosted platform, both ways), in one encrypted archive.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;
use parapheur_app::domain::french;
use parapheur_app::portability::{MIN_PASSPHRASE_CHARS, Moved, OpenedArchive};
use parapheur_app::{App, FsckOptions};
use serde_json::json;

use crate::output;
use crate::target::{CommuneTarget, Target, config, open_commune};

const PASSPHRASE_VARIABLE: &str = "PARAPHEUR_ARCHIVE_PASSPHRASE";

/// The archive's passphrase: the variable, or typed (twice when exporting).
fn passphrase(confirm: bool) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSPHRASE_VARIABLE)
        && !p.is_empty()
    {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("phrase de passe de l'archive requise : donnez-la dans {PASSPHRASE_VARIABLE}");
    }
    let first = rpassword::prompt_password(format!(
        "Phrase de passe de l'archive ({MIN_PASSPHRASE_CHARS} caractères au moins) : "
    ))?;
    if confirm {
        let second = rpassword::prompt_password("Confirmez : ")?;
        if first != second {
            bail!("les deux saisies diffèrent");
        }
    }
    Ok(first)
}

fn summary(moved: &Moved) -> String {
    format!(
        "{} du registre, {}, {} ; journal : {}, tête {} ({})",
        french::count(moved.rows, "ligne", "lignes"),
        french::count(moved.files, "fichier", "fichiers"),
        french::count(moved.anchors, "ancre", "ancres"),
        french::count(moved.journal.entries, "entrée", "entrées"),
        moved.journal.head_seq,
        moved.journal.head_hash
    )
}

pub async fn export(target: CommuneTarget, to: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let passphrase = passphrase(true)?;
    let (app, commune) = open_commune(&target).await?;
    let moved = app
        .export_commune(&commune.insee, to, &passphrase, Utc::now())
        .await?;
    if json {
        output::json(&moved)?;
    } else {
        println!(
            "Archive de {} ({}) écrite dans {} ({}).",
            moved.commune.name,
            moved.commune.insee,
            to.display(),
            french::size(moved.bytes)
        );
        println!("{}.", summary(&moved));
        println!(
            "Elle contient des données personnelles, chiffrées par la phrase de passe : \
             transmettez la phrase de passe par un autre moyen que l'archive."
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn import(target: Target, from: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let passphrase = passphrase(false)?;
    // The whole archive is checked before anything is created or written.
    let archive = OpenedArchive::open(from, &passphrase)?;
    let config = config(&target)?;
    let created = !config.is_initialised();
    let new_key = config.ensure_master_key()?;
    let app = match App::open(&config).await {
        Ok(app) => app,
        Err(e) => {
            if created {
                forget_new_register(&config, new_key);
            }
            return Err(e.into());
        }
    };
    let moved = match app.import_commune(archive).await {
        Ok(moved) => moved,
        Err(e) => {
            if created {
                app.close().await;
                forget_new_register(&config, new_key);
            }
            return Err(e.into());
        }
    };
    let commune = app.commune(&moved.commune.insee).await?;
    let indexed = app.reindex(commune.id, |_| {}).await?;
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
    let same_head = app.has_journal_head(commune.id, &moved.journal).await?;
    let clean = journal_clean && report.is_clean() && same_head;
    if json {
        output::json(&json!({
            "imported": moved,
            "indexed": indexed,
            "journal_clean": journal_clean && same_head,
            "fsck_clean": report.is_clean(),
        }))?;
    } else {
        println!(
            "{} ({}) importée depuis {}.",
            moved.commune.name,
            moved.commune.insee,
            from.display()
        );
        println!("{}.", summary(&moved));
        println!(
            "Journal : {}. Fichiers et numérotation : {}. {}.",
            if journal_clean && same_head {
                "intact, même tête qu'à l'export"
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
        if new_key {
            println!(
                "Clé maître créée dans {} : gardez-en une copie hors de cette machine, sans elle \
                 les fichiers sont illisibles.",
                target.data.join("master.key").display()
            );
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Removes the empty register an import created before it was refused: the data folder
/// is left as it was found.
fn forget_new_register(config: &parapheur_app::Config, new_key: bool) {
    let database = config.sqlite_path();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    if new_key {
        let _ = std::fs::remove_file(config.data_dir.join("master.key"));
    }
}
