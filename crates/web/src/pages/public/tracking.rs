//! The tracking page behind a request's secret link: its state, its public thread, its
//! files and acknowledgements, and the citizen's answer.

use std::net::IpAddr;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::citizens::{MAX_UPLOADS, Upload};
use parapheur_app::domain::{Status, french};
use serde::Deserialize;

use super::ACCEPT;
use super::MAX_PARTS;
use super::PublicError;
use super::form::unreadable;
use super::local_moment;
use super::mairie;
use super::private;
use super::sentence;
use super::too_many;
use crate::pages::ClientIp;
use crate::{WebState, assets, templates};
use parapheur_app::citizens::Bucket;

#[derive(Debug, Default, Deserialize)]
pub struct TrackingQuery {
    #[serde(default)]
    envoye: Option<String>,
}

async fn tracking_page(
    state: &WebState,
    token: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
    message: &str,
) -> Result<Response, PublicError> {
    let view = state.app.tracking(token).await?;
    let commune = &view.commune;
    let mairie = mairie(state, commune).await?;
    let item = &view.item;
    let file_url = |id: uuid::Uuid| format!("/suivi/{token}/fichier/{id}");
    let files: Vec<_> = view
        .attachments
        .iter()
        .map(|a| {
            ctx! {
                url => file_url(a.id), name => a.filename, size => crate::views::size(a.size),
            }
        })
        .collect();
    let messages: Vec<_> = view
        .messages
        .iter()
        .map(|m| {
            let mine: Vec<_> = view
                .attachments
                .iter()
                .filter(|a| m.attachment_ids.contains(&a.id) || m.reply_item_id == Some(a.item_id))
                .map(|a| ctx! { url => file_url(a.id), name => a.filename })
                .collect();
            ctx! {
                date => local_moment(m.created_at, commune),
                subject => m.subject,
                body => m.body,
                from_citizen => m.from_citizen,
                files => mine,
            }
        })
        .collect();
    let missing: Vec<String> = if item.status == Status::AwaitingDocuments {
        item.missing_documents.clone()
    } else {
        Vec::new()
    };
    let open = item.status.is_open() || item.status == Status::ReplySent;
    let html = templates::render(
        "public_tracking.html",
        ctx! {
            title => format!("Suivi de la demande {}", item.chrono),
            mairie, files, messages, missing, open, notice, error, message,
            chrono => item.chrono,
            subject => item.subject,
            received => french::long_date(item.arrival_date),
            status_label => item.status.citizen_label_fr(),
            service => view.service_name,
            ar_url => item.acknowledged_at.map(|_| format!("/suivi/{token}/accuse.pdf")),
            action => format!("/suivi/{token}"),
            accept => ACCEPT,
            max_files => MAX_UPLOADS,
            style_url => assets::style_url(),
        },
    )?;
    Ok((status, Html(html)).into_response())
}

/// GET /suivi/{token}: what the citizen may see of the request, and a form to answer.
pub async fn tracking(
    State(state): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<TrackingQuery>,
) -> Response {
    let notice = q
        .envoye
        .is_some()
        .then_some("Votre message est envoyé à la mairie. Il apparaît ci-dessous.");
    private(
        tracking_page(&state, &token, StatusCode::OK, notice, None, "")
            .await
            .into_response(),
    )
}

/// POST /suivi/{token}: the citizen's message and documents join the request.
pub async fn answer(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    multipart: Multipart,
) -> Response {
    private(
        answer_inner(state, ip, token, multipart)
            .await
            .into_response(),
    )
}

async fn answer_inner(
    state: WebState,
    ip: Option<IpAddr>,
    token: String,
    mut multipart: Multipart,
) -> Result<Response, PublicError> {
    if let Some(wait) = state.app.limit_public(Bucket::Answer, ip).await? {
        let mairie = match state.app.tracking(&token).await {
            Ok(view) => mairie(&state, &view.commune).await.ok(),
            Err(_) => None,
        };
        return Ok(too_many(wait, mairie.as_ref()));
    }
    // An unknown token is not found before anything is read.
    state.app.tracking(&token).await?;
    let mut text = String::new();
    let mut uploads = Vec::new();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(PublicError::BadRequest(
                "Formulaire illisible : trop de champs.".into(),
            ));
        }
        match field.name().unwrap_or_default() {
            "message" => text = field.text().await.map_err(|e| unreadable(&e))?,
            "fichiers" => {
                let filename = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
                if filename.is_empty() && bytes.is_empty() {
                    continue;
                }
                if uploads.len() >= MAX_UPLOADS {
                    return tracking_page(
                        &state,
                        &token,
                        StatusCode::BAD_REQUEST,
                        None,
                        Some(format!(
                            "Au plus {MAX_UPLOADS} fichiers par envoi : joignez à nouveau vos fichiers, en moins grand nombre."
                        )),
                        &text,
                    )
                    .await;
                }
                uploads.push(Upload {
                    field: String::new(),
                    filename,
                    bytes: bytes.to_vec(),
                });
            }
            _ => {}
        }
    }
    let had_files = !uploads.is_empty();
    match state
        .app
        .citizen_answer(&token, &text, uploads, Utc::now())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/suivi/{token}?envoye=1")).into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let message = e.user_message();
            let mut m = sentence(&message);
            if had_files {
                m.push_str(" : joignez à nouveau vos fichiers");
            }
            tracking_page(
                &state,
                &token,
                StatusCode::BAD_REQUEST,
                None,
                Some(format!("{m}.")),
                &text,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// GET /suivi/{token}/fichier/{id}: a document of the thread, always downloaded.
pub async fn tracking_file(
    State(state): State<WebState>,
    Path((token, id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let id = uuid::Uuid::parse_str(&id).map_err(|_| PublicError::NotFound)?;
        let (attachment, bytes) = state.app.tracking_file(&token, id).await?;
        Ok::<_, PublicError>(download(
            bytes,
            &attachment.filename,
            &attachment.media_type,
        ))
    }
    .await;
    private(result.into_response())
}

/// GET /suivi/{token}/accuse.pdf: the accusé de réception, as a PDF letter.
pub async fn tracking_acknowledgement(
    State(state): State<WebState>,
    Path(token): Path<String>,
) -> Response {
    let result = async {
        let (chrono, pdf) = state
            .app
            .tracking_acknowledgement(&token, chrono::Utc::now())
            .await?;
        Ok::<_, PublicError>(download(
            pdf,
            &format!("accuse-de-reception-{chrono}.pdf"),
            "application/pdf",
        ))
    }
    .await;
    private(result.into_response())
}

/// A file as a download: its type, never sniffed, never run, never shown in the page.
fn download(bytes: Vec<u8>, filename: &str, media_type: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        crate::download::content_disposition(false, filename),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}
