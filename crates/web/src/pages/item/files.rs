//! An item's files: downloads (checked, with safe headers) and the searchable PDF of a scan.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::parse_id;
use super::visible_item;
use crate::WebState;
use crate::error::WebError;
use crate::session::Me;

/// A file of an item this person may see.
async fn visible_attachment(
    state: &WebState,
    me: &Me,
    item: &str,
    file: &str,
) -> Result<parapheur_app::register::views::Attachment, WebError> {
    let item = visible_item(state, me, item).await?;
    let file_id = parse_id(file)?;
    state
        .app
        .attachments(me.0.commune.id, item.id)
        .await?
        .into_iter()
        .find(|a| a.id == file_id)
        .ok_or(WebError::NotFound)
}

/// A document of the item, checked on read; PDFs and images inline, anything else downloaded.
pub async fn file(
    State(state): State<WebState>,
    me: Me,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let attachment = visible_attachment(&state, &me, &id, &file).await?;
    let bytes = state
        .app
        .read_file(me.0.commune.id, &attachment.sha256)
        .await?;
    Ok(file_response(
        bytes,
        &attachment.filename,
        &attachment.media_type,
    ))
}

/// The signatures a PDF of the item carries (a letter signed elsewhere, an arrêté from the
/// préfecture), checked as `parapheur pdf verify` does: who signed, intact or not, what
/// changed after each signature.
pub async fn file_signatures(
    State(state): State<WebState>,
    me: Me,
    Path((id, file)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let attachment = visible_attachment(&state, &me, &id, &file).await?;
    if attachment.media_type != "application/pdf" {
        return Err(WebError::NotFound);
    }
    let bytes = state
        .app
        .read_file(me.0.commune.id, &attachment.sha256)
        .await?;
    let back = format!("/courrier/{id}");
    crate::pages::parapheur::verification_page_with(
        &state,
        &me,
        Some(bytes),
        Some(attachment.filename),
        None,
        Some(back),
    )
    .await
}

/// The searchable PDF that OCR made of a scan, beside the untouched original.
pub async fn searchable_pdf(
    State(state): State<WebState>,
    me: Me,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let attachment = visible_attachment(&state, &me, &id, &file).await?;
    let searchable = state
        .app
        .file_text(&me.0.commune, &attachment.sha256)
        .await?
        .and_then(|t| t.searchable_sha256)
        .ok_or(WebError::NotFound)?;
    let bytes = state.app.read_file(me.0.commune.id, &searchable).await?;
    let stem = attachment
        .filename
        .rsplit_once('.')
        .map_or(attachment.filename.as_str(), |(stem, _)| stem);
    Ok(file_response(
        bytes,
        &format!("{stem}-texte.pdf"),
        "application/pdf",
    ))
}

/// Whether a PDF carries scripts or actions (escaped names and object streams included):
/// it is then downloaded, never opened in the browser.
fn pdf_has_scripts(bytes: &[u8]) -> bool {
    parapheur_mail::pdf_flags(bytes).javascript
}

/// A stored file as a response: PDFs, images and voice messages shown or played in the
/// browser (unless scripted),
/// anything else downloaded; a strict policy either way.
pub(crate) fn file_response(bytes: Vec<u8>, filename: &str, media_type: &str) -> Response {
    // Voice messages (a PBX's voicemail) play in the item page's `<audio>` element.
    let inline = matches!(
        media_type,
        "application/pdf" | "image/png" | "image/jpeg" | "audio/wav" | "audio/mpeg"
    ) && !(media_type == "application/pdf" && pdf_has_scripts(&bytes));
    let content_type = if inline {
        media_type
    } else {
        "application/octet-stream"
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        crate::download::content_disposition(inline, filename),
    );
    // A document may be framed by our own item page only. PDFs keep the browser's viewer
    // (a stricter policy would block it); anything else may load nothing at all.
    let policy = if content_type == "application/pdf" {
        "frame-ancestors 'self'"
    } else {
        "default-src 'none'; frame-ancestors 'self'; sandbox"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    response
}
