//! What is done to an item from its page: status, routing, notes, suggestions accepted,
//! missing documents, copies and links.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use parapheur_app::domain::{CloseReason, Status};
use parapheur_app::{Actor, Change};
use serde::Deserialize;
use uuid::Uuid;

use super::apply;
use super::outcome;
use super::render_item;
use super::visible_item;
use crate::WebState;
use crate::error::WebError;
use crate::flash::Done;
use crate::session::{Me, Posted};

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
}

pub async fn change_status(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<StatusForm>,
) -> Result<Response, WebError> {
    // The list opens on an empty choice, so a click without choosing changes nothing.
    if form.to.trim().is_empty() {
        return Err(WebError::BadRequest(
            "Choisissez le nouveau statut : rien n'a été changé.".into(),
        ));
    }
    let to: Status = form.to.parse().map_err(WebError::BadRequest)?;
    let reason = match form.reason.as_str() {
        "" => None,
        r => Some(r.parse::<CloseReason>().map_err(WebError::BadRequest)?),
    };
    // A reason only goes with closing; ignore one left selected for another status.
    let reason = if to == Status::Closed { reason } else { None };
    apply(
        &state,
        &me,
        &id,
        Change::Status { to, reason },
        Done::Status,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    assignee: String,
}

fn optional_id(text: &str) -> Result<Option<Uuid>, WebError> {
    match text.trim() {
        "" => Ok(None),
        t => Uuid::parse_str(t)
            .map(Some)
            .map_err(|_| WebError::BadRequest("choix invalide".into())),
    }
}

pub async fn assign(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<AssignForm>,
) -> Result<Response, WebError> {
    let change = Change::Assign {
        service_id: optional_id(&form.service)?,
        assignee_id: optional_id(&form.assignee)?,
    };
    apply(&state, &me, &id, change, Done::Assigned).await
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    body: String,
}

pub async fn add_note(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<NoteForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let result = state
        .app
        .add_note(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            &form.body,
            Utc::now(),
        )
        .await;
    outcome(&state, &me, &item, result, Done::Note).await
}

#[derive(Debug, Deserialize)]
pub struct SuggestionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    doctype: String,
    #[serde(default)]
    service: String,
}

/// Accepts a suggestion: sets the type (deadlines follow) and routes to the service.
pub async fn accept_suggestion(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<SuggestionForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let actor = Actor::User(me.0.user.id);
    let mut result = Ok(item.clone());
    if !form.doctype.is_empty() && item.doctype_code.is_none() {
        result = state
            .app
            .change_item(
                &me.0.commune,
                &actor,
                item.id,
                Change::Classify {
                    doctype: form.doctype.clone(),
                },
                Utc::now(),
            )
            .await;
    }
    if result.is_ok() && !form.service.is_empty() && item.service_id.is_none() {
        let service = Uuid::parse_str(&form.service)
            .map_err(|_| WebError::BadRequest("service invalide".into()))?;
        result = state
            .app
            .change_item(
                &me.0.commune,
                &actor,
                item.id,
                Change::Assign {
                    service_id: Some(service),
                    assignee_id: None,
                },
                Utc::now(),
            )
            .await;
    }
    outcome(&state, &me, &item, result, Done::Suggestion).await
}

#[derive(Debug, Deserialize)]
pub struct DateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    date: String,
}

fn form_date(text: &str) -> Result<chrono::NaiveDate, WebError> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| WebError::BadRequest("date invalide : attendu AAAA-MM-JJ".into()))
}

#[derive(Debug, Deserialize)]
pub struct MissingForm {
    #[serde(default)]
    csrf: String,
    /// One missing document per line.
    #[serde(default)]
    pieces: String,
    /// The date the documents are expected by (optional).
    #[serde(default)]
    avant_le: String,
}

/// L114-5: asks the sender for the documents missing from a request (one per line); the
/// sender gets the list and the tracking link by email, and the deadline follows the rule.
pub async fn documents_requested(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<MissingForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let missing: Vec<String> = form.pieces.lines().map(str::to_owned).collect();
    let due = match form.avant_le.trim() {
        "" => None,
        text => match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let e = parapheur_app::AppError::invalid("date limite des pièces invalide");
                return outcome::<()>(&state, &me, &item, Err(e), Done::DocumentsRequested).await;
            }
        },
    };
    let result = state
        .app
        .request_documents(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            missing,
            due,
            Utc::now(),
        )
        .await;
    outcome(&state, &me, &item, result, Done::DocumentsRequested).await
}

/// L114-5: the missing documents arrived on that day; the delay restarts or resumes.
pub async fn documents_received(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<DateForm>,
) -> Result<Response, WebError> {
    let on = form_date(&form.date)?;
    apply(
        &state,
        &me,
        &id,
        Change::Completed { on },
        Done::DocumentsReceived,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct ArrivalForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    motif: String,
}

/// Corrects the arrival date, with its reason (journaled); the deadlines follow.
pub async fn correct_arrival(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<ArrivalForm>,
) -> Result<Response, WebError> {
    let date = form_date(&form.date)?;
    let change = Change::Arrival {
        date,
        reason: form.motif,
    };
    apply(&state, &me, &id, change, Done::Arrival).await
}

#[derive(Debug, Deserialize)]
pub struct ForwardForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    autorite: String,
    #[serde(default)]
    courriel: String,
}

/// L114-2: forwards a request that is not for the commune to the competent authority; the
/// sender is told and the item closed as forwarded.
pub async fn forward(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<ForwardForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let authority = parapheur_app::citizens::CompetentAuthority {
        name: form.autorite,
        email: Some(form.courriel).filter(|e| !e.trim().is_empty()),
    };
    let result = state
        .app
        .forward_to_competent_authority(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            authority,
            Utc::now(),
        )
        .await;
    outcome(&state, &me, &item, result, Done::Forwarded).await
}

#[derive(Debug, Deserialize)]
pub struct CopyForm {
    #[serde(default)]
    csrf: String,
    user: String,
    #[serde(default)]
    purpose: String,
}

/// Gives a copy of the item to someone, for information or for an opinion.
pub async fn copy(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<CopyForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let user =
        Uuid::parse_str(&form.user).map_err(|_| WebError::BadRequest("choix invalide".into()))?;
    let purpose = if form.purpose == "opinion" {
        parapheur_app::domain::item::CopyPurpose::Opinion
    } else {
        parapheur_app::domain::item::CopyPurpose::Information
    };
    let result = state
        .app
        .copy_item(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            user,
            purpose,
            Utc::now(),
        )
        .await;
    outcome(&state, &me, &item, result, Done::Copied).await
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    numero: String,
    #[serde(default)]
    kind: String,
}

/// Links the item to another of the commune, named by its number ("2026-A-000123").
pub async fn link(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<LinkForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let kind: parapheur_app::domain::LinkKind = form.kind.parse().map_err(WebError::BadRequest)?;
    let number = form.numero.trim();
    let other = match state.app.item_by_chrono(me.0.commune.id, number).await {
        Ok(other) => other,
        Err(e) if e.kind() == parapheur_app::ErrorKind::NotFound => {
            let error = format!("aucun élément ne porte le numéro « {number} »");
            let page = render_item(&state, &me, &item, None, Some(error)).await?;
            return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let result = if other.id == item.id {
        Err(parapheur_app::AppError::invalid(
            "un élément ne peut pas être lié à lui-même",
        ))
    } else {
        state
            .app
            .link_items(
                &me.0.commune,
                &me.0.actor(),
                item.id,
                other.id,
                kind,
                Utc::now(),
            )
            .await
    };
    outcome(&state, &me, &item, result, Done::Linked).await
}

crate::session::csrf_forms!(
    ArrivalForm,
    AssignForm,
    CopyForm,
    DateForm,
    ForwardForm,
    LinkForm,
    MissingForm,
    NoteForm,
    StatusForm,
    SuggestionForm
);
