//! Verifying the signatures of a folder's PDF or of any uploaded PDF.

use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Response};
use parapheur_app::parapheur::describe_signature;

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
    verification_page(&state, &me, Some(pdf), Some(folder.subject.clone()), None).await
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

async fn verification_page(
    state: &WebState,
    me: &Me,
    pdf: Option<Vec<u8>>,
    name: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let (report, error) = match pdf {
        None => (None, error),
        Some(pdf) => match state
            .app
            .verify_pdf(&me.0.commune, pdf, chrono::Utc::now())
            .await
        {
            Ok(report) => (Some(report), error),
            Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => (None, Some(e.to_string())),
            Err(e) => return Err(e.into()),
        },
    };
    let signatures: Vec<_> = report
        .iter()
        .flat_map(|r| r.signatures.iter())
        .map(|s| {
            let ok = s.valid();
            let problems: Vec<&String> = s
                .problems
                .iter()
                .chain(&s.trust_problems)
                .chain(&s.warnings)
                .collect();
            ctx! {
                ok, text => describe_signature(s), signer => s.signer, intact => s.intact,
                trusted => s.trusted, changes => s.changes_after, problems,
                time => s.timestamp.or(s.time).map(|t| t.format("%d/%m/%Y %H:%M UTC").to_string()),
                timestamped => s.date_proven(),
            }
        })
        .collect();
    let verdict = report.as_ref().map(|r| {
        if r.signatures.is_empty() {
            "Ce PDF ne porte aucune signature."
        } else if r.valid() {
            "Toutes les signatures sont valides, et rien n'a été modifié après elles."
        } else {
            "Attention : au moins une signature n'est pas valide, ou le document a été modifié après."
        }
    });
    Ok(Html(templates::render(
        "verify.html",
        ctx! {
            title => "Vérifier un PDF signé", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "parapheur", error,
            name, verdict, signatures, revisions => report.as_ref().map(|r| r.revisions),
        },
    )?))
}
