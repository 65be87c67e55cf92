//! Verifying the signatures of a folder's PDF or of any uploaded PDF.

use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Response};
use parapheur_app::signing::{SignatureKind, SignatureReport};

use super::MAX_PDF_BYTES;
use super::visible_folder;
use crate::error::WebError;
use crate::session::Me;
use crate::{WebState, assets, templates};

/// The verification of the letter's own PDF.
pub async fn verify_folder(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let pdf = state.app.folder_pdf(&me.0.commune, &folder).await?;
    let back = format!("/parapheur/{}", folder.id);
    verification_page_with(
        &state,
        &me,
        Some(pdf),
        Some(folder.subject.clone()),
        None,
        Some(back),
    )
    .await
}

/// Verify any PDF: the upload form.
pub async fn verify_form(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    verification_page(&state, &me, None, None, None).await
}

/// Verify any PDF: the report.
pub async fn verify_upload(
    State(state): State<WebState>,
    me: Me,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WebError::BadRequest("envoi interrompu ou trop gros (50 Mo au plus)".into()))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("fichier") => {
                let name = field.file_name().unwrap_or("document.pdf").to_owned();
                let bytes = field.bytes().await.map_err(|_| {
                    WebError::BadRequest("envoi interrompu ou trop gros (50 Mo au plus)".into())
                })?;
                if bytes.len() > MAX_PDF_BYTES {
                    return Err(WebError::BadRequest("50 Mo au plus".into()));
                }
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    me.check_csrf(&csrf)?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let page = verification_page(
            &state,
            &me,
            None,
            None,
            Some("choisissez un fichier PDF".into()),
        )
        .await?;
        return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
    };
    Ok(
        verification_page(&state, &me, Some(bytes), Some(name), None)
            .await?
            .into_response(),
    )
}

/// The report on `pdf` (or the upload form alone), under the title `name`; `back` links to
/// the page the PDF belongs to (an item's file), which also hides the upload form.
pub(crate) async fn verification_page(
    state: &WebState,
    me: &Me,
    pdf: Option<Vec<u8>>,
    name: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    verification_page_with(state, me, pdf, name, error, None).await
}

pub(crate) async fn verification_page_with(
    state: &WebState,
    me: &Me,
    pdf: Option<Vec<u8>>,
    name: Option<String>,
    error: Option<String>,
    back: Option<String>,
) -> Result<Html<String>, WebError> {
    let (report, error) = match pdf {
        None => (None, error),
        Some(pdf) => match state
            .app
            .verify_pdf(&me.0.commune, pdf, chrono::Utc::now())
            .await
        {
            Ok(report) => (Some(report), error),
            Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
                (None, Some(e.user_message()))
            }
            Err(e) => return Err(e.into()),
        },
    };
    let signatures: Vec<_> = report
        .iter()
        .flat_map(|r| r.signatures.iter())
        .map(|s| signature_view(s, me.0.commune.zone()))
        .collect();
    let verdict = report.as_ref().map(|r| {
        let sigs = &r.signatures;
        if sigs.is_empty() {
            "Ce PDF ne porte aucune signature."
        } else if r.valid() {
            "Toutes les signatures sont valides, et rien n'a été modifié après elles."
        } else if sigs
            .iter()
            .any(|s| !s.intact || !s.covers_revision || !s.problems.is_empty())
        {
            "Attention : au moins une signature est altérée ou illisible."
        } else if sigs.iter().any(|s| !s.changes_after.is_empty()) {
            "Attention : le document a été modifié après au moins une signature."
        } else {
            "Les signatures sont intactes et rien d'interdit n'a été modifié après elles, mais la commune ne reconnaît pas le certificat d'au moins un signataire."
        }
    });
    Ok(Html(templates::render(
        "verify.html",
        ctx! {
            title => "Vérifier un PDF signé", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "parapheur", error,
            name, verdict, signatures, revisions => report.as_ref().map(|r| r.revisions), back,
        },
    )?))
}

/// What a person reads of one signature: who, what kind, when and whether that date is
/// proven, intact or not, trusted or not and why, what changed after it (forbidden, then
/// allowed), and the verdict.
fn signature_view(s: &SignatureReport, zone: parapheur_app::domain::clock::Tz) -> minijinja::Value {
    let kind = match s.kind {
        SignatureKind::Approval => "signature".to_owned(),
        SignatureKind::Certification { permission } => format!(
            "certification ({})",
            match permission {
                1 => "aucune modification permise",
                2 => "remplissage du formulaire et signatures permis",
                _ => "remplissage, signatures et annotations permis",
            }
        ),
        SignatureKind::DocumentTimeStamp => "horodatage du document".to_owned(),
    };
    let at = |t| parapheur_app::domain::clock::local_instant(t, zone);
    let date = match (s.timestamp, s.date_proven()) {
        (Some(t), true) => Some(format!("{}, prouvée par un horodatage reconnu", at(t))),
        (Some(t), false) => Some(format!(
            "{}, selon un horodatage non reconnu (date non prouvée)",
            at(t)
        )),
        (None, _) => s.time.map(|t| {
            format!(
                "{}, selon l'ordinateur du signataire (date non prouvée)",
                at(t)
            )
        }),
    };
    let integrity = if s.intact && s.covers_revision {
        "intacte : le contenu signé n'a pas changé"
    } else {
        "ALTÉRÉE : le contenu signé a changé"
    };
    let trust = if s.trusted && s.trust_problems.is_empty() {
        "reconnu par la commune".to_owned()
    } else if s.trust_problems.is_empty() {
        "non reconnu : émis par une autorité que la commune n'a pas importée".to_owned()
    } else {
        format!("non reconnu : {}", s.trust_problems.join(" ; "))
    };
    ctx! {
        ok => s.valid(), signer => s.signer, field => s.field_name, kind, date, integrity, trust,
        verdict => s.verdict(), changes => s.changes_after, allowed => s.allowed_changes,
        problems => s.problems, warnings => s.warnings,
    }
}
