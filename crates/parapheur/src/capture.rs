//! Capture and search commands: import-mail, search, reindex, extract, mailbox, watch-folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use chrono::Utc;
use parapheur_app::capture::dropfolder::FolderWatch;
use parapheur_app::capture::mailboxes::MailboxSettings;
use parapheur_app::capture::{CaptureOutcome, MessageSource};
use parapheur_app::domain::french;
use parapheur_app::search::simple_query;
use parapheur_mail::{Limits, read_sources};
use parapheur_mailbox::{AfterCapture, MailboxConfig, Security};
use serde_json::json;

use crate::cli::MailboxCommand;
use crate::output;
use crate::target::{CommuneTarget, Target, open, open_commune};

const CLI: parapheur_app::Actor = parapheur_app::Actor::System("cli");

/// Brings the search index up to date after a command wrote; the server does it too, so a
/// failure (the server holding the index) is only a warning.
async fn catch_up(app: &parapheur_app::App, commune: uuid::Uuid) {
    if let Err(e) = app.index_catch_up(commune).await {
        eprintln!("attention : index de recherche non mis à jour ({e}) ; le serveur le fera");
    }
}

/// Exit code when some message was quarantined (kept, but not registered).
const SOME_QUARANTINED: u8 = 3;

pub async fn import_mail(
    target: &CommuneTarget,
    paths: &[PathBuf],
    json: bool,
) -> anyhow::Result<ExitCode> {
    // Every path is listed before anything is written: a typo changes nothing.
    let limits = Limits::default();
    let mut messages = Vec::new();
    for path in paths {
        let found = read_sources(path, &limits).map_err(|e| anyhow!("{} : {e}", path.display()))?;
        if found.is_empty() {
            bail!("{} : aucun message trouvé", path.display());
        }
        messages.extend(found);
    }
    let (app, commune) = open_commune(target).await?;
    let mut quarantined = 0;
    let mut lines = Vec::new();
    let origins: Vec<String> = messages.iter().map(|m| m.origin.clone()).collect();
    let batch = messages
        .into_iter()
        .map(|m| {
            let raw = m.bytes.map_err(|rejection| rejection.to_string());
            (MessageSource::import(&m.origin), raw)
        })
        .collect();
    let outcomes = app.capture_messages(&commune, batch, Utc::now()).await?;
    for (outcome, origin) in outcomes.into_iter().zip(origins) {
        if matches!(outcome, CaptureOutcome::Quarantined { .. }) {
            quarantined += 1;
        }
        if json {
            lines.push(json!({ "origin": origin, "result": outcome }));
        } else {
            println!("{outcome}\t{origin}");
        }
    }
    app.work_queued();
    catch_up(&app, commune.id).await;
    if json {
        output::json(&lines)?;
    } else if quarantined > 0 {
        eprintln!(
            "{} en quarantaine : conservés avec leur raison dans « Courriels à traiter » ; \
             corrigez puis réessayez depuis l'application.",
            french::count(quarantined, "message", "messages")
        );
    }
    Ok(if quarantined > 0 {
        ExitCode::from(SOME_QUARANTINED)
    } else {
        ExitCode::SUCCESS
    })
}

/// `<mark>` around matches becomes [brackets] in a terminal.
fn plain_snippet(html: &str) -> String {
    html.replace("<mark>", "[")
        .replace("</mark>", "]")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `parapheur ar`: the accusé de réception of an item as a PDF file.
pub async fn acknowledgement(
    target: &CommuneTarget,
    number: &str,
    output: Option<std::path::PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (app, commune) = open_commune(target).await?;
    let item = match app.item_by_chrono(commune.id, number.trim()).await {
        Ok(item) => item,
        Err(e) if e.kind() == parapheur_app::ErrorKind::NotFound => {
            anyhow::bail!("aucun courrier n° « {number} » dans cette commune")
        }
        Err(e) => return Err(e.into()),
    };
    let pdf = app
        .acknowledgement_pdf(&commune, item.id, chrono::Utc::now())
        .await?;
    let path = output.unwrap_or_else(|| format!("accuse-de-reception-{}.pdf", item.chrono).into());
    std::fs::write(&path, &pdf)
        .map_err(|e| anyhow::anyhow!("écriture de {} impossible : {e}", path.display()))?;
    if json {
        output::json(&json!({ "chrono": item.chrono, "file": path, "bytes": pdf.len() }))?;
    } else {
        println!(
            "{} : accusé de réception écrit dans {}",
            item.chrono,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn search(
    target: &CommuneTarget,
    query: &str,
    limit: usize,
    by_date: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (app, commune) = open_commune(target).await?;
    let found = app
        .search_items(
            commune.id,
            simple_query(query, limit.clamp(1, 1000), by_date),
        )
        .await?;
    if json {
        let hits: Vec<_> = found
            .hits
            .iter()
            .map(|h| {
                json!({
                    "chrono": h.item.chrono,
                    "id": h.item.id,
                    "arrival_date": h.item.arrival_date,
                    "subject": h.item.subject,
                    "status": h.item.status.code(),
                    "snippet_html": h.snippet_html,
                })
            })
            .collect();
        output::json(&json!({ "total": found.total, "hits": hits }))?;
    } else {
        for h in &found.hits {
            println!(
                "{}\t{}\t{}\t{}",
                h.item.chrono,
                h.item.arrival_date,
                h.item.subject,
                plain_snippet(&h.snippet_html).replace('\n', " ")
            );
        }
        eprintln!("{}", french::count(found.total, "résultat", "résultats"));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn reindex(target: &Target, insee: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let app = open(target).await?;
    let communes = match insee {
        Some(code) => vec![app.commune(code).await?],
        None => app.communes().await?,
    };
    let mut report = Vec::new();
    for commune in communes {
        let total = app.item_count(commune.id).await?;
        let bar = output::progress(u64::try_from(total).unwrap_or(0), "Indexation", json);
        bar.set_message(commune.name.clone());
        let started = std::time::Instant::now();
        let count = app.reindex(commune.id, |n| bar.set_position(n)).await?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        if json {
            report.push(json!({ "insee": commune.insee, "items": count, "seconds": seconds }));
        } else {
            println!(
                "{} ({}) : {count} éléments indexés en {seconds:.1} s.",
                commune.name, commune.insee
            );
        }
    }
    if json {
        output::json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn extract(target: &Target, retry: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let app = open(target).await?;
    if let Some(code) = retry {
        let commune = app.commune(code).await?;
        let n = app.requeue_failed_jobs(commune.id, Utc::now()).await?;
        if !json {
            println!(
                "{} en file.",
                french::count(n, "extraction remise", "extractions remises")
            );
        }
    }
    let tools = app.extract_tools().await;
    if let Some(missing) = tools.missing_for_ocr()
        && !json
    {
        eprintln!(
            "attention : {missing} ; les images et les scans seront marqués « texte non extrait »."
        );
    }
    let done = app.drain_jobs().await?;
    for commune in app.communes().await? {
        catch_up(&app, commune.id).await;
    }
    if json {
        output::json(&done)?;
    } else {
        println!(
            "{}, {}, {} plus tard.",
            french::count(done.extracted, "texte extrait", "textes extraits"),
            french::count(done.not_extracted, "non extrait", "non extraits"),
            french::count(done.retried, "à réessayer", "à réessayer")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_after(text: &str) -> anyhow::Result<AfterCapture> {
    match text.trim() {
        "leave" => Ok(AfterCapture::Leave),
        "seen" => Ok(AfterCapture::MarkSeen),
        t => match t.strip_prefix("move:") {
            Some(folder) if !folder.trim().is_empty() => {
                Ok(AfterCapture::MoveTo(folder.trim().to_owned()))
            }
            _ => bail!("--after : leave, seen ou move:DOSSIER (reçu « {t} »)"),
        },
    }
}

pub fn parse_security(text: &str) -> anyhow::Result<Security> {
    match text.trim() {
        "tls" => Ok(Security::Tls),
        "starttls" => Ok(Security::StartTls),
        "plain" => Ok(Security::Plain),
        t => bail!("--security : tls, starttls ou plain (reçu « {t} »)"),
    }
}

fn mailbox_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("PARAPHEUR_MAILBOX_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!("mot de passe de la boîte requis : donnez-le dans PARAPHEUR_MAILBOX_PASSWORD");
    }
    Ok(rpassword::prompt_password("Mot de passe de la boîte : ")?)
}

pub async fn mailbox(command: MailboxCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        MailboxCommand::Add {
            commune,
            label,
            host,
            port,
            security,
            user,
            folder,
            after,
        } => {
            let config = MailboxConfig {
                host,
                port,
                security: parse_security(&security)?,
                username: user,
                password: mailbox_password()?,
                folder,
                after_capture: parse_after(&after)?,
                network: Default::default(),
            };
            let (app, commune) = open_commune(&commune).await?;
            let settings = MailboxSettings {
                label,
                config,
                rules: Vec::new(),
                active: true,
            };
            let id = app
                .add_mailbox(&commune, &CLI, settings, Utc::now())
                .await?;
            if json {
                output::json(&json!({ "id": id }))?;
            } else {
                println!("Boîte ajoutée ({id}) ; elle sera relevée par « parapheur serve ».");
            }
            Ok(ExitCode::SUCCESS)
        }
        MailboxCommand::List { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let rows = app.mailboxes(commune.id).await?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.id, "label": r.label, "active": r.active,
                            "uid_validity": r.uid_validity, "last_uid": r.last_uid,
                            "last_polled_at": r.last_polled_at, "last_error": r.last_error,
                        })
                    })
                    .collect();
                output::json(&list)?;
            } else {
                for r in rows {
                    println!(
                        "{}\t{}\t{}\tdernier UID {}\t{}",
                        r.id,
                        r.label,
                        if r.active { "active" } else { "arrêtée" },
                        r.last_uid,
                        r.last_error.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        MailboxCommand::Poll { target } => {
            let app = open(&target).await?;
            let mut failed = false;
            let mut reports = Vec::new();
            for row in app.active_mailboxes().await? {
                let commune = app.commune_by_id(row.commune_id).await?;
                match app.poll_mailbox(&commune, &row, Utc::now).await {
                    Ok(report) => {
                        if !json {
                            println!(
                                "{} : {}, {}, {} en quarantaine",
                                row.label,
                                french::count(report.registered, "enregistré", "enregistrés"),
                                french::count(report.attached, "rattaché", "rattachés"),
                                report.quarantined
                            );
                        }
                        reports.push(json!({ "mailbox": row.id, "report": report }));
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("{} : {e}", row.label);
                        reports.push(json!({ "mailbox": row.id, "error": e.to_string() }));
                    }
                }
                catch_up(&app, commune.id).await;
            }
            // L112-11, as the server does after each round: the accusés d'enregistrement.
            let registrations = app.acknowledge_all_email_registrations(Utc::now()).await?;
            if !json && registrations > 0 {
                println!(
                    "{} d'enregistrement en file d'envoi",
                    french::count(registrations, "accusé", "accusés")
                );
            }
            if json {
                output::json(&reports)?;
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

pub async fn watch_folder(
    target: &CommuneTarget,
    folder: &Path,
    once: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if !folder.is_dir() {
        bail!("{} n'est pas un dossier", folder.display());
    }
    let (app, commune) = open_commune(target).await?;
    let mut watch = FolderWatch::default();
    // A file is taken once it is unchanged across two passes: --once makes both passes,
    // 2.5 seconds apart.
    let passes = if once { 2 } else { usize::MAX };
    for pass in 0..passes {
        if pass > 0 {
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        for (name, outcome) in app
            .scan_drop_folder(&commune, folder, &mut watch, Utc::now)
            .await?
        {
            if json {
                println!("{}", json!({ "file": name, "result": outcome }));
            } else {
                println!("{outcome}\t{name}");
            }
        }
    }
    app.work_queued();
    catch_up(&app, commune.id).await;
    Ok(ExitCode::SUCCESS)
}
