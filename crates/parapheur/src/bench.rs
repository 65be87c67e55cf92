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

use crate::target::Target;

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
    /// Met en page N lettres de 5 pages puis les signe (PAdES, visible) et vérifie : débits
    Letters {
        #[arg(long, default_value_t = 50)]
        count: usize,
        /// Pages par lettre
        #[arg(long, default_value_t = 5)]
        pages: usize,
    },
    /// Capture N courriels générés (lecture, stockage, indexation ; sans OCR) et mesure le débit
    Ingest {
        #[command(flatten)]
        target: Target,
        /// Code INSEE de la commune de mesure (créée au besoin)
        #[arg(long, default_value = "01004")]
        commune: String,
        #[arg(long, default_value_t = 2000)]
        count: usize,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    let (target, commune, count, file_kb, writers, closed_percent) = match command {
        BenchCommand::Register {
            target,
            commune,
            count,
            file_kb,
            writers,
            closed_percent,
        } => (target, commune, count, file_kb, writers, closed_percent),
        BenchCommand::Ingest {
            target,
            commune,
            count,
        } => return ingest(target, commune, count).await,
        BenchCommand::Letters { count, pages } => return letters(count, pages),
    };
    let config = Config::load(&target.data, target.database_url.clone())?;
    config.ensure_master_key()?;
    let app = App::open(&config).await?;
    let actor = Actor::System("bench");
    let commune = match app.commune_by_insee(&commune).await? {
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
                    local_date(now, commune.zone()),
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

const FIRST_NAMES: [&str; 12] = [
    "Jeanne", "Pierre", "Marie", "Louis", "Camille", "Hugo", "Léa", "Jules", "Chloé", "Émile",
    "Inès", "Gabriel",
];
const LAST_NAMES: [&str; 12] = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent",
];
const TOPICS: [(&str, &str); 8] = [
    (
        "Demande d'acte de naissance",
        "Je souhaiterais obtenir une copie intégrale de mon acte de naissance pour un dossier de mariage.",
    ),
    (
        "Éclairage public en panne",
        "Les lampadaires de notre rue ne s'allument plus depuis plusieurs soirs, ce qui rend le passage dangereux pour les piétons.",
    ),
    (
        "Inscription à la cantine scolaire",
        "Je voudrais inscrire mes deux enfants à la cantine de l'école élémentaire à partir de la rentrée.",
    ),
    (
        "Demande de subvention",
        "Notre association sportive sollicite une subvention de fonctionnement pour l'année prochaine, budget prévisionnel joint.",
    ),
    (
        "Réclamation sur la voirie",
        "Un nid-de-poule s'est formé devant le numéro 12 et s'agrandit après chaque averse.",
    ),
    (
        "Permis de construire",
        "Je vous adresse les pièces complémentaires demandées pour mon permis de construire d'une extension.",
    ),
    (
        "Occupation du domaine public",
        "Nous souhaitons installer une terrasse devant le café pendant la saison estivale.",
    ),
    (
        "Concession au cimetière",
        "Je souhaite renouveler la concession familiale arrivée à échéance cette année.",
    ),
];

/// A realistic citizen email (one in five with a small PDF).
fn generated_mail(n: usize) -> Vec<u8> {
    let first = FIRST_NAMES[n % FIRST_NAMES.len()];
    let last = LAST_NAMES[(n / 7) % LAST_NAMES.len()];
    let (subject, sentence) = TOPICS[(n / 3) % TOPICS.len()];
    let mut body = format!("Bonjour,\r\n\r\n{sentence}\r\n");
    for k in 0..6 {
        body.push_str(&format!(
            "Je reste à votre disposition pour tout renseignement complémentaire (réf. {n}-{k}). {sentence}\r\n"
        ));
    }
    body.push_str(&format!("\r\nCordialement,\r\n{first} {last}\r\n"));
    let headers = format!(
        "From: {first} {last} <{}.{}{}@exemple.fr>\r\nTo: mairie@exemple.fr\r\n\
         Subject: {subject}\r\nMessage-ID: <bench-{n}@exemple.fr>\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n",
        first.to_lowercase(),
        last.to_lowercase(),
        n % 500
    );
    if !n.is_multiple_of(5) {
        return format!(
            "{headers}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
        )
        .into_bytes();
    }
    use base64::Engine as _;
    let pdf = pseudo_scan(20 * 1024, n as u64, 7);
    let mut encoded = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let mut wrapped = String::with_capacity(encoded.len() + encoded.len() / 76 * 2);
    while !encoded.is_empty() {
        let rest = encoded.split_off(encoded.len().min(76));
        wrapped.push_str(&encoded);
        wrapped.push_str("\r\n");
        encoded = rest;
    }
    format!(
        "{headers}Content-Type: multipart/mixed; boundary=\"b{n}\"\r\n\r\n--b{n}\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\
         --b{n}\r\nContent-Type: application/pdf; name=\"piece-{n}.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"piece-{n}.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b{n}--\r\n"
    )
    .into_bytes()
}

/// Messages captured per second: parsing, the original and attachments stored, the item
/// registered (contact matched or created, journal), and the search index caught up.
async fn ingest(target: Target, commune: String, count: usize) -> anyhow::Result<ExitCode> {
    use parapheur_app::capture::MessageSource;
    let config = Config::load(&target.data, target.database_url.clone())?;
    config.ensure_master_key()?;
    let app = App::open(&config).await?;
    let actor = Actor::System("bench");
    let commune = match app.commune_by_insee(&commune).await? {
        Some(c) => c,
        None => app.create_commune(&commune, &actor, Utc::now()).await?,
    };
    let salt = Utc::now().timestamp_micros();
    let mails: Vec<Vec<u8>> = (0..count)
        .map(|n| {
            let mut m = generated_mail(n);
            // Unique bytes per run, so nothing is recognised as already taken.
            m.extend_from_slice(format!("\r\n-- {salt}\r\n").as_bytes());
            m
        })
        .collect();
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let started = Instant::now();
    // As a mailbox poll or an import hands them over: a batch at a time.
    let messages: Vec<_> = mails
        .into_iter()
        .enumerate()
        .map(|(n, mail)| (MessageSource::import(format!("bench-{n}")), Ok(mail)))
        .collect();
    app.capture_messages(&commune, messages, Utc::now()).await?;
    let captured = started.elapsed().as_secs_f64();
    app.index_catch_up(commune.id).await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{}",
        json!({
            "messages": count,
            "megabytes": bytes as f64 / 1e6,
            "capture_seconds": captured,
            "index_seconds": seconds - captured,
            "seconds": seconds,
            "messages_per_second": count as f64 / seconds,
        })
    );
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// A letter of about `pages` pages (the body grows until typst lays it out on that many).
fn long_letter(pages: usize, n: usize) -> parapheur_render::LetterDocument {
    use parapheur_render::{LetterDocument, LetterSection};
    let paragraph = "Par votre demande reçue en mairie, vous avez sollicité l'autorisation d'occuper le domaine public communal devant votre commerce. Après instruction par les services techniques et avis de la commission, la commune vous accorde cette autorisation pour la période demandée, sous réserve du respect des conditions de sécurité et d'accessibilité des cheminements piétons.";
    LetterDocument {
        commune_name: "Mairie de Montbazon".into(),
        letterhead: vec![
            "Place du Marché".into(),
            "37250 Montbazon".into(),
            "Tél. 02 47 26 01 30".into(),
        ],
        logo: None,
        place_and_date: "Montbazon, le 29 novembre 2026".into(),
        recipient: vec![
            "Madame Jeanne Martin".into(),
            "3 rue des Tilleuls".into(),
            "37250 Montbazon".into(),
        ],
        reference: Some(format!("Réf. : votre courrier n° 2026-A-{n:06}")),
        subject: "Objet : occupation du domaine public".into(),
        title: None,
        opening: Some("Madame,".into()),
        sections: vec![LetterSection {
            heading: None,
            paragraphs: vec![paragraph.to_owned(); pages * 7],
            list: Vec::new(),
        }],
        closing: Some(
            "Je vous prie d'agréer, Madame, l'expression de mes salutations distinguées.".into(),
        ),
        signature: vec!["Sylvie Moreau".into(), "Maire".into()],
        footer: None,
        generated_at: Utc::now(),
        signature_zone: true,
    }
}

/// Letters per second (layout to PDF/A) and signatures per second (PAdES B-B with a
/// visible stamp, on a `pages`-page letter), then verifications per second. Pure CPU: no
/// database, one core.
fn letters(count: usize, pages: usize) -> anyhow::Result<ExitCode> {
    use parapheur_app::signing::{SignOptions, Stamp, pki, sign_pdf, verify_pdf};
    let count = count.max(1);
    let started = Instant::now();
    let mut pdf = Vec::new();
    let mut zone = None;
    for n in 0..count {
        let (bytes, z) = parapheur_render::letter_pdf_with_zone(&long_letter(pages, n))?;
        pdf = bytes;
        zone = z;
    }
    let render = started.elapsed();
    // The morning's accusés printed at once: one-page letters laid out in one PDF.
    let batch: Vec<_> = (0..count).map(|n| long_letter(1, n)).collect();
    let started = Instant::now();
    let printed = parapheur_render::letters_pdf(&batch)?;
    let batch_time = started.elapsed();
    let now = Utc::now();
    let ca = pki::new_ca("Bench CA", "Mairie de Montbazon", now)?;
    let key = pki::issue(
        &ca,
        &pki::Subject {
            common_name: "Sylvie Moreau".into(),
            organisation: "Mairie de Montbazon".into(),
            email: Some("maire@montbazon.demo".into()),
            title: Some("Maire".into()),
            seal: false,
        },
        now,
        365,
    )?;
    let options = SignOptions {
        field_name: None,
        reason: Some("Signature du courrier".into()),
        location: Some("Montbazon".into()),
        signer_name: Some("Sylvie Moreau".into()),
        time: now,
        stamp: Some(Stamp {
            lines: vec![
                "Signé par Sylvie Moreau".into(),
                "Maire".into(),
                "le 29 novembre 2026 à 10 h 12".into(),
            ],
            image: None,
            page: zone.map(|z| z.page),
            rect: zone.map(|z| z.rect),
        }),
        timestamper: None,
    };
    let started = Instant::now();
    let mut signed = Vec::new();
    for _ in 0..count {
        signed = sign_pdf(&pdf, &key, &options)?;
    }
    let sign = started.elapsed();
    let anchors = parapheur_app::signing::TrustAnchors {
        signers: vec![key.chain_der().last().cloned().unwrap_or_default()],
        time_stamping: Vec::new(),
    };
    let started = Instant::now();
    for _ in 0..count {
        let report = verify_pdf(&signed, &anchors, now)?;
        anyhow::ensure!(report.valid(), "signature not valid");
    }
    let verify = started.elapsed();
    let per_second = |d: std::time::Duration| count as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "{count} lettres de {pages} pages ({} Ko) : mise en page {:.1}/s ({:.1} ms chacune), signature {:.1}/s ({:.1} ms), vérification {:.1}/s ({:.1} ms)",
        pdf.len() / 1024,
        per_second(render),
        render.as_secs_f64() * 1000.0 / count as f64,
        per_second(sign),
        sign.as_secs_f64() * 1000.0 / count as f64,
        per_second(verify),
        verify.as_secs_f64() * 1000.0 / count as f64,
    );
    println!(
        "impression groupée : {count} lettres d'une page en un PDF de {} Ko en {:.2} s ({:.1} ms par lettre)",
        printed.len() / 1024,
        batch_time.as_secs_f64(),
        batch_time.as_secs_f64() * 1000.0 / count as f64,
    );
    Ok(ExitCode::SUCCESS)
}
