//! Drafting a reply letter from an item, and editing it before its circuit starts.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::AppError;
use parapheur_app::parapheur::LetterInput;
use parapheur_app::parapheur::views::FolderRow;
use serde::Deserialize;
use uuid::Uuid;

use super::folder_page;
use super::visible_folder;
use crate::WebState;
use crate::error::WebError;
use crate::pages::item::visible_item;
use crate::session::{Me, Posted};

#[derive(Debug, Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    modele: String,
}

/// Drafts a reply letter to an item (from the item page).
pub async fn draft(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<DraftForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let folder = state
        .app
        .draft_letter(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            Some(form.modele.as_str()).filter(|m| !m.is_empty()),
            Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/parapheur/{}", folder.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    destinataire: String,
    #[serde(default)]
    texte: String,
    #[serde(default)]
    signataire: String,
}

/// Saves the draft's text (and lays the letter out again).
pub async fn save(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<EditForm>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    if !(me.can_register() || folder.author_id == me.0.user.id) {
        return Err(WebError::Forbidden(
            "seul le service peut modifier ce courrier".into(),
        ));
    }
    let input = LetterInput {
        subject: form.objet,
        recipient: form.destinataire,
        body: form.texte,
        signer_id: Uuid::parse_str(&form.signataire).ok(),
    };
    match state
        .app
        .save_letter(&me.0.commune, &me.0.actor(), folder.id, &input, Utc::now())
        .await
    {
        Ok(_) => Ok(crate::flash::redirect(
            &format!("/parapheur/{}", folder.id),
            crate::flash::Done::Saved,
        )),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            refused(&state, &me, &folder, e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The page again with the reason, status 400: nothing was changed.
pub(super) async fn refused(
    state: &WebState,
    me: &Me,
    folder: &FolderRow,
    e: AppError,
) -> Result<Response, WebError> {
    let folder = state.app.folder(me.0.commune.id, folder.id).await?;
    let page = folder_page(state, me, &folder, None, Some(e.to_string())).await?;
    Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
}

crate::session::csrf_forms!(DraftForm, EditForm);
