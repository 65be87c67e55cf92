//! One function per command: build the configuration, open the register, call a use case,
//! print the result.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use chrono::{NaiveDate, Utc};
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::contact::normalize_email;
use parapheur_app::domain::french;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::retention::{FinalAction, RetentionRule};
use parapheur_app::domain::{Channel, CloseReason, Direction, DocumentType, Role, Status};
use parapheur_app::{Actor, App, Change, Config, FsckOptions, NewFile, NewUser};
use serde_json::json;

use crate::cli::{
    Cli, Command, CommuneCommand, ConfigCommand, DoctypeCommand, HostAdminCommand, ItemCommand,
    JournalCommand, RegisterArgs,
};
use crate::output;
use crate::target::{CommuneTarget, Target, config, open, open_commune, open_with};

const CLI: Actor = Actor::System("cli");

/// The instant a command acts at. Debug builds (the tests') take it from
/// `PARAPHEUR_TEST_CLOCK` (RFC 3339) when set, so that requests of any date in the reference
/// table can be registered through this binary; a release build always reads the clock.
fn now() -> chrono::DateTime<Utc> {
    #[cfg(debug_assertions)]
    if let Ok(text) = std::env::var("PARAPHEUR_TEST_CLOCK")
        && let Ok(at) = chrono::DateTime::parse_from_rfc3339(&text)
    {
        return at.with_timezone(&Utc);
    }
    Utc::now()
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let json = cli.json;
    match cli.command {
        Command::Init {
            commune,
            admin,
            admin_name,
        } => init(commune, &admin, admin_name, json).await,
        Command::Demo {
            data,
            listen,
            no_serve,
        } => demo(data, listen, no_serve, json).await,
        Command::HostAdmin { command } => host_admin(command, json).await,
        Command::Config {
            command: ConfigCommand::Check { target },
        } => {
            let config = config(&target)?;
            let mut lines = config.describe();
            if config.files_s3.is_some() {
                // A bucket is asked once: wrong key, missing bucket or S3 down said now,
                // in French, rather than at the first letter (exit code 75).
                let communes = config
                    .open_files()?
                    .list_communes()
                    .await
                    .map_err(parapheur_app::AppError::from)?;
                lines.push((
                    "files_check",
                    format!(
                        "compartiment accessible ({})",
                        french::count(communes.len(), "commune", "communes")
                    ),
                ));
            }
            if json {
                let object: serde_json::Map<String, serde_json::Value> = lines
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value.into()))
                    .collect();
                output::json(&object)?;
            } else {
                for (key, value) in lines {
                    println!("{key} = {value}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            target,
            listen,
            no_background,
        } => {
            // Bound first: with port 0 the system chooses the port, and the links sent to
            // citizens must carry the one it chose.
            let listener = parapheur_web::bind(listen)
                .await
                .with_context(|| format!("impossible d'écouter sur {listen}"))?;
            let listen = listener.local_addr()?;
            let mut config = config(&target)?.listening_on(listen);
            if no_background {
                config.background = false;
            }
            let mut app = open_with(&target, &config).await?;
            app.set_layout(layout_in_child());
            parapheur_app::background::spawn(&app, &config);
            if config.backup.is_some() {
                let copies = config.clone();
                parapheur_app::background::supervise(&app, "off-site copies", move |app| {
                    parapheur_app::continuity::copy_continuously(app, copies.clone())
                });
            }
            crate::memory::spawn_trimmer();
            println!("Parapheur écoute sur http://{listen}/");
            parapheur_web::serve(app, listener, config.secure_cookies())
                .await
                .with_context(|| format!("serveur arrêté sur une erreur ({listen})"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Register(args) => register(args, json).await,
        Command::Doctype { command } => doctype(command, json).await,
        Command::Item { command } => item(command, json).await,
        Command::Archives { command, as_user } => {
            crate::archives::run(command, as_user, json).await
        }
        Command::Contacts { command } => crate::contacts::run(command, json).await,
        Command::Tokens { command } => crate::tokens::run(command, json).await,
        Command::Webhooks { command } => crate::webhooks::run(command, json).await,
        Command::Commune {
            command:
                CommuneCommand::Set {
                    commune,
                    good_friday,
                },
        } => commune_set(commune, good_friday, json).await,
        Command::Journal {
            command: JournalCommand::Verify { target },
        } => journal_verify(&target, json).await,
        Command::Fsck {
            target,
            no_collect,
            grace_minutes,
        } => fsck(&target, !no_collect, grace_minutes, json).await,
        Command::Backup { command } => crate::backup::run(command, json).await,
        Command::Restore {
            data,
            from,
            master_key,
            snapshot,
        } => crate::backup::restore(data, from, master_key, snapshot, json).await,
        Command::Export { commune, to } => crate::portability::export(commune, &to, json).await,
        Command::Import { target, from } => crate::portability::import(target, &from, json).await,
        Command::Bench { command } => crate::bench::run(command).await,
        Command::ImportMail { commune, paths } => {
            crate::capture::import_mail(&commune, &paths, json).await
        }
        Command::Ar {
            commune,
            number,
            output,
        } => crate::capture::acknowledgement(&commune, &number, output, json).await,
        Command::Search {
            commune,
            query,
            limit,
            by_date,
        } => crate::capture::search(&commune, &query.join(" "), limit, by_date, json).await,
        Command::Reindex { target, commune } => {
            crate::capture::reindex(&target, commune.as_deref(), json).await
        }
        Command::Extract {
            target,
            retry_failed,
        } => crate::capture::extract(&target, retry_failed.as_deref(), json).await,
        Command::Mailbox { command } => crate::capture::mailbox(command, json).await,
        Command::WatchFolder {
            commune,
            folder,
            once,
        } => crate::capture::watch_folder(&commune, &folder, once, json).await,
        Command::Sign {
            commune,
            signer,
            file,
            output,
            code,
            pin,
        } => {
            let proof = parapheur_app::parapheur::SignerProof {
                code: code.as_deref(),
                pin: pin.as_deref(),
            };
            crate::signing::sign(&commune, &signer, &file, &output, proof, json).await
        }
        Command::Pki { command } => crate::signing::pki(command, json).await,
        Command::Pdf { command } => crate::signing::pdf(command, json).await,
        Command::Render => {
            parapheur_render::child::serve_stdio().map_err(|e| anyhow::anyhow!(e))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The server lays documents out in a child process (this program's hidden `render`
/// command), so that typst's memory goes back to the system after each document.
fn layout_in_child() -> parapheur_render::Layout {
    match std::env::current_exe() {
        Ok(program) => parapheur_render::Layout::Child {
            program,
            argument: "render".to_owned(),
        },
        Err(e) => {
            tracing::warn!(error = %e, "program path unknown: documents laid out in process");
            parapheur_render::Layout::InProcess
        }
    }
}

fn admin_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("PARAPHEUR_ADMIN_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("mot de passe de l'administrateur requis : donnez-le dans PARAPHEUR_ADMIN_PASSWORD");
    }
    let first = rpassword::prompt_password("Mot de passe de l'administrateur : ")?;
    let second = rpassword::prompt_password("Confirmez : ")?;
    if first != second {
        bail!("les deux saisies diffèrent");
    }
    Ok(first)
}

async fn init(
    target: CommuneTarget,
    admin: &str,
    admin_name: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // Check everything that can be checked before touching the disk.
    let record = parapheur_communes::by_insee(target.commune.trim())
        .ok_or_else(|| parapheur_app::AppError::UnknownInsee(target.commune.clone()))?;
    if normalize_email(admin).is_none() {
        bail!("adresse de l'administrateur invalide « {admin} »");
    }
    let password = admin_password()?;
    parapheur_app::hash_password(&password)?; // the length rule, before anything is created
    let config = config(&target.target)?;
    let new_key = config.ensure_master_key()?;
    let app = App::open(&config).await?;
    let now = Utc::now();
    let commune = app.create_commune(record.insee, &CLI, now).await?;
    let user = app
        .add_user(
            &commune,
            NewUser {
                email: admin.to_owned(),
                display_name: admin_name.unwrap_or_else(|| admin.to_owned()),
                title: Some("Administrateur".into()),
                role: Role::Administrateur,
                service_id: None,
                password: Some(password),
                // Host rights are given by name only (`parapheur host-admin add`).
                host_admin: false,
            },
            &CLI,
            now,
        )
        .await?;
    if json {
        output::json(&json!({ "commune": commune, "admin": user }))?;
    } else {
        println!(
            "Registre créé pour {} ({}), SIREN {}.",
            commune.name, commune.insee, commune.siren
        );
        println!("Administrateur : {}", user.email);
        if new_key {
            println!(
                "Clé maître créée dans {}/master.key : gardez-en une copie hors de cette machine, sans elle les fichiers sont illisibles.",
                target.target.data.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn host_admin(command: HostAdminCommand, json: bool) -> anyhow::Result<ExitCode> {
    let (target, change) = match command {
        HostAdminCommand::Add { target, email } => (target, Some((email, true))),
        HostAdminCommand::Remove { target, email } => (target, Some((email, false))),
        HostAdminCommand::List { target } => (target, None),
    };
    let app = open(&target).await?;
    if let Some((email, grant)) = change {
        let user = app.set_host_admin(&email, grant, &CLI, Utc::now()).await?;
        if json {
            output::json(&json!({ "email": user.email, "host_admin": user.host_admin }))?;
        } else if grant {
            println!("{} administre l'hébergement.", user.email);
        } else {
            println!("{} n'administre plus l'hébergement.", user.email);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let admins = app.host_admins().await?;
    if json {
        let emails: Vec<&str> = admins.iter().map(|u| u.email.as_str()).collect();
        output::json(&json!({ "host_admins": emails }))?;
    } else if admins.is_empty() {
        println!("Aucun administrateur de l'hébergement (parapheur host-admin add EMAIL).");
    } else {
        for user in admins {
            println!("{} ({})", user.email, user.display_name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    data: std::path::PathBuf,
    listen: std::net::SocketAddr,
    no_serve: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // The demo's letters and emails carry links to the address it is served at.
    let config = Config::load(&data, None)?.listening_on(listen);
    config.ensure_master_key()?;
    let mut app = App::open(&config).await?;
    // Also while seeding: the demo's letters leave no typst memory behind in the server.
    app.set_layout(layout_in_child());
    let existing = app.commune_by_insee(parapheur_app::DEMO_INSEE).await?;
    if existing.is_none() {
        let bar = output::progress(0, "Création de la commune de démonstration", json);
        let summary = app
            .seed_demo(Utc::now(), |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
        bar.finish_and_clear();
        if json {
            output::json(&summary)?;
        } else {
            println!(
                "Commune de démonstration : {} ({}) — {} éléments, {} contacts, {} en retard.",
                summary.commune.name,
                summary.commune.insee,
                summary.items,
                summary.contacts,
                summary.late
            );
            println!(
                "Comptes de démonstration (mot de passe « {} ») :",
                parapheur_app::DEMO_PASSWORD
            );
            for login in &summary.logins {
                println!(
                    "  {:<38} {:<20} {}",
                    login.email,
                    login.role.label_fr(),
                    login.name
                );
            }
            println!(
                "Les élus (pour signer) et l'administratrice (pour se connecter) donnent le code \
                 de leur application d'authentification : ajoutez-y la clé {} (démonstration).",
                parapheur_app::DEMO_SECOND_FACTOR
            );
        }
    } else if !json {
        println!("Démonstration déjà présente dans {}.", data.display());
    }
    if no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    if existing.is_none() {
        // Seeding leaves memory in the allocator's per-thread arenas that trimming does not
        // reach (20 MB, measured in docs/PERFORMANCE.md): the server starts afresh, as
        // `serve` on the same folder, in this same process.
        app.close().await;
        return Err(serve_afresh(&data, listen));
    }
    parapheur_app::background::spawn(&app, &config);
    crate::memory::spawn_trimmer();
    let listener = parapheur_web::bind(listen)
        .await
        .with_context(|| format!("impossible d'écouter sur {listen}"))?;
    println!(
        "Ouvrez http://{}/ (Ctrl-C pour arrêter)",
        listener.local_addr()?
    );
    parapheur_web::serve(app, listener, config.secure_cookies())
        .await
        .with_context(|| format!("serveur arrêté sur une erreur ({listen})"))?;
    Ok(ExitCode::SUCCESS)
}

/// Replaces this process by `parapheur serve --data DATA --listen LISTEN`; returns only
/// if that failed.
fn serve_afresh(data: &std::path::Path, listen: std::net::SocketAddr) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return anyhow!("impossible de relancer le serveur : {e}"),
    };
    let error = std::process::Command::new(program)
        .arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(listen.to_string())
        // The demo is always the SQLite register of its folder.
        .env_remove("PARAPHEUR_DATABASE_URL")
        .exec();
    anyhow!("impossible de relancer le serveur : {error}")
}

fn parse_date(text: &str, what: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow!("{what} invalide « {text} » : attendu AAAA-MM-JJ"))
}

fn media_type(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("tif" | "tiff") => "image/tiff",
        Some("txt") => "text/plain",
        Some("eml") => "message/rfc822",
        Some("odt") => "application/vnd.oasis.opendocument.text",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

async fn register(args: RegisterArgs, json: bool) -> anyhow::Result<ExitCode> {
    let channel: Channel = args.channel.parse().map_err(|e: String| anyhow!(e))?;
    let direction: Direction = args.direction.parse().map_err(|e: String| anyhow!(e))?;
    // Read every file before opening anything: an unreadable file changes nothing.
    let mut files = Vec::new();
    for path in &args.files {
        let bytes = std::fs::read(path)
            .with_context(|| format!("impossible de lire le fichier {}", path.display()))?;
        let filename = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("fichier")
            .to_owned();
        files.push(NewFile {
            filename,
            media_type: media_type(path).to_owned(),
            bytes,
        });
    }
    let (app, commune) = open_commune(&args.commune).await?;
    let now = now();
    let arrival = match &args.arrived {
        Some(d) => parse_date(d, "date d'arrivée")?,
        None => local_date(now, commune.zone()),
    };
    let mut new = NewItem::incoming(channel, args.subject.clone(), arrival);
    new.direction = direction;
    new.doctype_code = args.doctype.clone();
    new.registered_number = args.registered_number.clone();
    new.sender_reference = args.reference.clone();
    new.letter_date = args
        .letter_date
        .as_deref()
        .map(|d| parse_date(d, "date du courrier"))
        .transpose()?;
    new.first_receipt_elsewhere = args
        .first_received
        .as_deref()
        .map(|d| parse_date(d, "date de première réception"))
        .transpose()?;
    // Validate before creating a contact, so a refused item leaves nothing behind.
    new.validate(local_date(now, commune.zone()))?;
    if let Some(code) = &new.doctype_code
        && app.doctype(commune.id, code).await?.is_none()
    {
        return Err(parapheur_app::AppError::UnknownDoctype(code.clone()).into());
    }
    // A new sender is created with the item, in its transaction: a refused registration
    // leaves no contact behind.
    let party = match &args.from {
        Some(from) => Some(app.resolve_contact(&commune, from, None).await?),
        None => None,
    };
    let registered = app
        .register_with_party(&commune, &CLI, new, party, files, now)
        .await?;
    if json {
        output::json(&registered)?;
    } else {
        println!("{}", registered.item.chrono);
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn doctype(command: DoctypeCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        DoctypeCommand::Add {
            commune,
            code,
            label,
            delay,
            silence,
            retention_years,
            final_action,
            no_acknowledgement,
        } => {
            let final_action = match final_action.as_str() {
                "keep" | "conserver" | "C" => FinalAction::Keep,
                "destroy" | "detruire" | "D" => FinalAction::Destroy,
                "sort" | "trier" | "T" => FinalAction::Sort,
                other => bail!("sort final inconnu « {other} » : keep, destroy ou sort"),
            };
            let doctype = DocumentType {
                code,
                label,
                delay: delay.parse()?,
                silence: silence.parse().map_err(|e: String| anyhow!(e))?,
                retention: RetentionRule {
                    years: retention_years,
                    final_action,
                },
                no_acknowledgement,
            };
            let (app, commune) = open_commune(&commune).await?;
            app.add_doctype(&commune, &doctype, &CLI, now()).await?;
            if json {
                output::json(&doctype)?;
            } else {
                println!(
                    "Type « {} » ajouté : {}, {}.",
                    doctype.code,
                    doctype.delay.label_fr(),
                    doctype.silence.label_fr()
                );
            }
        }
        DoctypeCommand::List { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let types = app.doctypes(commune.id).await?;
            if json {
                output::json(&types)?;
            } else {
                for t in types {
                    println!(
                        "{:<28} {:<18} {:<28} {}",
                        t.code,
                        t.delay.label_fr(),
                        t.silence.label_fr(),
                        t.label
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn item(command: ItemCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        ItemCommand::Show { commune, number } => {
            let (app, commune) = open_commune(&commune).await?;
            let item = app.item_by_chrono(commune.id, &number).await?;
            let attachments = app.attachments(commune.id, item.id).await?;
            let eliminated = app.eliminated_attachments(commune.id, item.id).await?;
            if json {
                output::json(&json!({
                    "item": item,
                    "attachments": attachments,
                    "eliminated_files": eliminated,
                }))?;
            } else {
                println!("{} — {}", item.chrono, item.subject);
                println!("  statut : {}", item.status.label_fr());
                println!("  arrivée : {}", item.arrival_date);
                if let Some(d) = item.due_date {
                    println!("  échéance : {d}");
                }
                if let Some(d) = item.silence_date {
                    println!("  décision implicite le : {d}");
                }
                for a in attachments {
                    println!(
                        "  fichier : {} ({} octets, sha256 {})",
                        a.filename, a.size, a.sha256
                    );
                }
                for a in eliminated {
                    println!(
                        "  fichier éliminé : {} ({} octets, sha256 {})",
                        a.filename, a.size, a.sha256
                    );
                }
            }
        }
        ItemCommand::Status {
            commune,
            number,
            to,
            reason,
        } => {
            let to: Status = to.parse().map_err(|e: String| anyhow!(e))?;
            let reason: Option<CloseReason> = reason
                .map(|r| r.parse().map_err(|e: String| anyhow!(e)))
                .transpose()?;
            let (item, changed) = change(&commune, &number, Change::Status { to, reason }).await?;
            if json {
                output::json(&changed)?;
            } else {
                println!(
                    "{} : {} → {}",
                    changed.chrono,
                    item.status.label_fr(),
                    changed.status.label_fr()
                );
            }
        }
        ItemCommand::Classify {
            commune,
            number,
            doctype,
        } => {
            let (_, changed) = change(&commune, &number, Change::Classify { doctype }).await?;
            print_dates(&changed, json, "type")?;
        }
        ItemCommand::Documents {
            commune,
            number,
            requested,
            list,
            deadline,
            received,
        } => {
            let deadline = deadline
                .as_deref()
                .map(|d| parse_date(d, "date limite des pièces"))
                .transpose()?;
            let changed = match (requested, received) {
                (Some(on), _) => {
                    let on = parse_date(&on, "date de la demande")?;
                    let (app, commune) = open_commune(&commune).await?;
                    let item = app.item_by_chrono(commune.id, &number).await?;
                    app.record_documents_request(&commune, &CLI, item.id, on, list, deadline, now())
                        .await?
                }
                (None, Some(on)) => {
                    let on = parse_date(&on, "date de réception des pièces")?;
                    change(&commune, &number, Change::Completed { on }).await?.1
                }
                (None, None) => bail!("indiquez --requested ou --received"),
            };
            print_dates(&changed, json, "pièces")?;
        }
        ItemCommand::Forward {
            commune,
            number,
            authority,
            email,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let item = app.item_by_chrono(commune.id, &number).await?;
            let authority = parapheur_app::citizens::CompetentAuthority {
                name: authority,
                email,
            };
            let closed = app
                .forward_to_competent_authority(&commune, &CLI, item.id, authority, now())
                .await?;
            if json {
                output::json(&closed)?;
            } else {
                println!(
                    "{} : transmis à l'autorité compétente, {}.",
                    closed.chrono,
                    closed.status.label_fr()
                );
            }
        }
        ItemCommand::Arrival {
            commune,
            number,
            date,
            reason,
        } => {
            let date = parse_date(&date, "date d'arrivée")?;
            let (_, changed) = change(&commune, &number, Change::Arrival { date, reason }).await?;
            print_dates(&changed, json, "arrivée")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies `change` to the item numbered `number`: the item before and after.
async fn change(
    target: &CommuneTarget,
    number: &str,
    change: Change,
) -> anyhow::Result<(
    parapheur_app::domain::item::Item,
    parapheur_app::domain::item::Item,
)> {
    let (app, commune) = open_commune(target).await?;
    let item = app.item_by_chrono(commune.id, number).await?;
    let changed = app
        .change_item(&commune, &CLI, item.id, change, now())
        .await?;
    Ok((item, changed))
}

/// After a change that moves the deadlines: the item (JSON) or its dates (text).
fn print_dates(
    item: &parapheur_app::domain::item::Item,
    json: bool,
    what: &str,
) -> anyhow::Result<()> {
    if json {
        return output::json(item);
    }
    println!("{} : {what} enregistré(e).", item.chrono);
    println!("  arrivée : {}", item.arrival_date);
    match (item.due_date, item.silence_date) {
        (None, _) => println!("  échéance : aucune (le délai ne court pas)"),
        (Some(due), None) => println!("  échéance : {due}"),
        (Some(due), Some(on)) => {
            println!("  échéance : {due}");
            println!("  décision implicite le : {on}");
        }
    }
    Ok(())
}

async fn commune_set(
    target: CommuneTarget,
    good_friday: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(good_friday) = good_friday else {
        bail!("rien à changer : --good-friday oui|non");
    };
    let good_friday = match good_friday.as_str() {
        "oui" | "yes" | "true" => true,
        "non" | "no" | "false" => false,
        other => bail!("--good-friday attend oui ou non, pas « {other} »"),
    };
    let (app, commune) = open_commune(&target).await?;
    let commune = app
        .set_good_friday(&commune, good_friday, &CLI, now())
        .await?;
    if json {
        output::json(&commune)?;
    } else if good_friday {
        println!("{} : le Vendredi saint est férié.", commune.name);
    } else {
        println!("{} : le Vendredi saint n'est pas férié.", commune.name);
    }
    Ok(ExitCode::SUCCESS)
}

async fn journal_verify(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let app = open(target).await?;
    let bar = output::progress(app.journal_size().await?, "Vérification du journal", json);
    let verdicts = app.verify_journals(|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    let intact = verdicts.iter().all(|v| v.is_intact());
    if json {
        output::json(&json!({ "intact": intact, "communes": verdicts }))?;
    } else {
        for v in &verdicts {
            if v.is_intact() {
                println!(
                    "{} ({}) : journal intact, {} entrées ; {}{}.",
                    v.name,
                    v.insee,
                    v.report.entries,
                    v.anchors.protection.describe_fr(),
                    match (v.anchors.anchors, v.anchors.last) {
                        (0, _) | (_, None) => String::new(),
                        (n, Some(last)) => format!(
                            " ({}, la dernière le {})",
                            french::count(n, "ancre vérifiée", "ancres vérifiées"),
                            last.format("%d/%m/%Y")
                        ),
                    }
                );
                for w in &v.anchors.warnings {
                    println!("  ! {w}");
                }
            } else {
                println!("{} ({}) : JOURNAL ALTÉRÉ", v.name, v.insee);
                for p in &v.report.problems {
                    println!("  - {}", p.describe_fr());
                }
                for p in &v.anchors.problems {
                    println!("  - {p}");
                }
            }
        }
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn fsck(
    target: &Target,
    collect: bool,
    grace_minutes: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let app = open(target).await?;
    let options = FsckOptions {
        collect,
        grace: chrono::Duration::minutes(grace_minutes.max(0)),
    };
    let bar = output::progress(0, "Vérification des fichiers", json);
    let report = app
        .fsck(&options, Utc::now(), |n| bar.set_position(n as u64))
        .await?;
    bar.finish_and_clear();
    if json {
        output::json(&json!({ "clean": report.is_clean(), "report": report }))?;
    } else {
        println!(
            "{}, {}, {} dont {} et {} pour l'être.",
            french::count(report.communes, "commune", "communes"),
            french::count(report.files_checked, "fichier vérifié", "fichiers vérifiés"),
            french::count(report.orphans.len(), "orphelin", "orphelins"),
            french::count(report.collected, "supprimé", "supprimés"),
            french::count(report.orphans_too_recent, "trop récent", "trop récents")
        );
        for (insee, sha) in &report.missing {
            println!("  FICHIER MANQUANT : commune {insee}, {sha}");
        }
        for (insee, sha, reason) in &report.corrupt {
            println!("  FICHIER ALTÉRÉ : commune {insee}, {sha} : {reason}");
        }
        for problem in &report.numbering {
            println!("  NUMÉROTATION : {problem}");
        }
        if report.is_clean() {
            println!("Aucune anomalie.");
        }
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
