//! `parapheur sign`, `parapheur pki …` and `parapheur pdf verify`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::Utc;
use parapheur_app::domain::french;
use parapheur_app::parapheur::describe_signature;
use parapheur_app::parapheur::keys::{KeyOwner, pem_chain};
use parapheur_app::signing as parapheur_signing;
use parapheur_app::{Actor, App};
use serde_json::json;

use crate::cli::{PdfCommand, PkiCommand};
use crate::output;
use crate::target::{CommuneTarget, Target, open, open_commune};

/// The largest PDF read from the command line (the signing library refuses more anyway).
const MAX_PDF: u64 = 50 * 1024 * 1024;

fn read_pdf(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("lecture de {} impossible", path.display()))?;
    if meta.len() > MAX_PDF {
        bail!(
            "{} pèse {} Mo : 50 Mo au plus",
            path.display(),
            meta.len() / 1024 / 1024
        );
    }
    std::fs::read(path).with_context(|| format!("lecture de {} impossible", path.display()))
}

pub async fn sign(
    target: &CommuneTarget,
    signer: &str,
    file: &Path,
    output_path: &Path,
    proof: parapheur_app::parapheur::SignerProof<'_>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let pdf = read_pdf(file)?;
    let (app, commune) = open_commune(target).await?;
    let signed = app
        .sign_pdf_as(&commune, signer.trim(), proof, pdf, Utc::now())
        .await?;
    // Written beside, then renamed: a half-written signed PDF never takes the name.
    let partial = output_path.with_extension("pdf.partial");
    std::fs::write(&partial, &signed)
        .with_context(|| format!("écriture de {} impossible", partial.display()))?;
    std::fs::rename(&partial, output_path)
        .with_context(|| format!("écriture de {} impossible", output_path.display()))?;
    if json {
        output::json(&json!({ "file": output_path, "bytes": signed.len(), "signer": signer }))?;
    } else {
        println!(
            "{} signé par {signer} : {}",
            file.display(),
            output_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn pki(command: PkiCommand, json: bool) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match command {
        PkiCommand::CaCert { commune } => {
            let (app, commune) = open_commune(&commune).await?;
            let pem = app.ca_certificate_pem(&commune, now).await?;
            if json {
                output::json(&json!({ "commune": commune.insee, "pem": pem }))?;
            } else {
                print!("{pem}");
            }
        }
        PkiCommand::Issue { commune, user, pin } => {
            let (app, commune) = open_commune(&commune).await?;
            let user_row = user_of(&app, &commune, &user).await?;
            let key = app
                .issue_signer_key(
                    &commune,
                    &Actor::System("cli"),
                    user_row.id,
                    pin.as_deref(),
                    now,
                )
                .await?;
            if json {
                output::json(
                    &json!({ "subject": key.subject, "not_after": key.not_after, "pem": key.chain_pem }),
                )?;
            } else {
                println!(
                    "certificat de {} créé, valable jusqu'au {}",
                    key.subject,
                    key.not_after.format("%d/%m/%Y")
                );
            }
        }
        PkiCommand::Import {
            commune,
            user,
            seal,
            file,
            password,
            pin,
        } => {
            let (app, commune) = open_commune(&commune).await?;
            let owner = match (user, seal) {
                (Some(email), false) => KeyOwner::Person(user_of(&app, &commune, &email).await?.id),
                (None, true) => KeyOwner::Seal,
                _ => bail!("dites pour qui est la clé : --user EMAIL ou --seal"),
            };
            let bytes = std::fs::read(&file)
                .with_context(|| format!("lecture de {} impossible", file.display()))?;
            let key = app
                .import_signing_key(
                    &commune,
                    &Actor::System("cli"),
                    owner,
                    &bytes,
                    &password,
                    pin.as_deref(),
                    now,
                )
                .await?;
            if json {
                output::json(&json!({ "subject": key.subject, "not_after": key.not_after }))?;
            } else {
                println!("clé de {} importée", key.subject);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn user_of(
    app: &App,
    commune: &parapheur_app::domain::Commune,
    email: &str,
) -> anyhow::Result<parapheur_app::administration::views::User> {
    app.user_by_email(commune.id, email.trim())
        .await?
        .with_context(|| format!("aucun utilisateur « {email} » dans cette commune"))
}

pub async fn pdf(command: PdfCommand, json: bool) -> anyhow::Result<ExitCode> {
    let PdfCommand::Verify {
        file,
        trust,
        tsa_trust,
        commune,
        data,
        database_url,
    } = command;
    let pdf = read_pdf(&file)?;
    let read_pems = |paths: &[std::path::PathBuf]| -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("lecture de {} impossible", path.display()))?;
            let certs = pem_chain(&text)?;
            if certs.is_empty() {
                bail!("{} ne contient aucun certificat PEM", path.display());
            }
            out.extend(certs);
        }
        Ok(out)
    };
    let mut anchors = parapheur_signing::TrustAnchors {
        signers: read_pems(&trust)?,
        time_stamping: read_pems(&tsa_trust)?,
    };
    // Times are read in the commune's legal time, Paris's without a register.
    let mut zone = parapheur_app::domain::clock::PARIS;
    if let (Some(insee), Some(data)) = (commune, data) {
        let target = CommuneTarget {
            target: Target { data, database_url },
            commune: insee,
        };
        let app = open(&target.target).await?;
        let commune = app.commune(&target.commune).await?;
        zone = commune.zone();
        anchors.signers.extend(app.trusted_roots(&commune).await?);
        anchors
            .time_stamping
            .extend(app.tsa_anchors().iter().cloned());
    }
    let checks_trust = !anchors.signers.is_empty();
    let now = Utc::now();
    let report = parapheur_signing::verify_pdf(&pdf, &anchors, now)?;
    let valid = report.valid();
    if json {
        output::json(&json!({
            "file": file,
            "revisions": report.revisions,
            "verified_at": report.now,
            "signatures": report.signatures.iter().map(|s| json!({
                "field": s.field_name,
                "kind": match s.kind {
                    parapheur_signing::SignatureKind::Approval => "approval".to_string(),
                    parapheur_signing::SignatureKind::Certification { permission } =>
                        format!("certification P={permission}"),
                    parapheur_signing::SignatureKind::DocumentTimeStamp => "document_timestamp".to_string(),
                },
                "signer": s.signer,
                "signer_email": s.signer_email,
                "time": s.time,
                "timestamp": s.timestamp,
                "timestamp_trusted": s.timestamp_trusted,
                "date_proven": s.date_proven(),
                "judged_at": s.judged_at,
                "intact": s.intact,
                "trusted": s.trusted,
                "covers_revision": s.covers_revision,
                "changes_after": s.changes_after,
                "allowed_changes": s.allowed_changes,
                "problems": s.problems,
                "trust_problems": s.trust_problems,
                "warnings": s.warnings,
                "valid": s.valid(),
                "verdict": s.verdict(),
            })).collect::<Vec<_>>(),
            "valid": valid,
        }))?;
    } else if report.signatures.is_empty() {
        println!("{} : aucune signature", file.display());
    } else {
        println!(
            "{} : {}, {}",
            file.display(),
            french::count(report.signatures.len(), "signature", "signatures"),
            french::count(report.revisions, "révision", "révisions")
        );
        for s in &report.signatures {
            println!("  - {}", describe_signature(s, zone));
        }
        println!(
            "{}",
            if valid {
                "Verdict : valide (signatures intactes, certificats reconnus, rien d'interdit modifié après)"
            } else if !checks_trust {
                "Verdict : NON VALIDE (certificats non vérifiés : donnez --trust ou --commune)"
            } else {
                "Verdict : NON VALIDE"
            }
        );
    }
    Ok(if report.signatures.is_empty() {
        ExitCode::from(3)
    } else if !valid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
