//! Logging a phone call in a few seconds: caller, number, subject, message, for whom, and
//! when to call back.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use parapheur_app::domain::Channel;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::item::NewItem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::WebError;
use crate::session::{Me, Posted};
use crate::{WebState, assets, templates};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CallForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    caller: String,
    /// The contact chosen among the suggestions (set by the page's script).
    #[serde(default)]
    caller_id: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    for_whom: String,
    #[serde(default)]
    callback: String,
}

async fn page(
    state: &WebState,
    me: &Me,
    form: &CallForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let today = local_date(Utc::now(), commune.zone())
        .format("%Y-%m-%d")
        .to_string();
    let users: Vec<_> = state
        .app
        .users(commune.id)
        .await?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| ctx! { id => u.id.to_string(), name => u.display_name })
        .collect();
    Ok(Html(templates::render(
        "call.html",
        ctx! {
            title => "Noter un appel", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "call", error, notice, form, users, today,
        },
    )?))
}

pub async fn form(
    State(state): State<WebState>,
    me: Me,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Html<String>, WebError> {
    let notice = q
        .get("enregistre")
        .map(|n| format!("Appel enregistré sous le numéro {n}."));
    page(&state, &me, &CallForm::default(), None, notice).await
}

pub async fn submit(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<CallForm>,
) -> Result<Response, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let today = local_date(now, commune.zone());
    let build = || -> Result<NewItem, String> {
        if form.caller.trim().is_empty() {
            return Err("indiquez l'appelant".into());
        }
        let mut item = NewItem::incoming(Channel::Phone, form.subject.trim(), today);
        item.doctype_code = Some("appel".into());
        item.body = Some(form.message.trim().to_owned()).filter(|m| !m.is_empty());
        item.assignee_id = match form.for_whom.trim() {
            "" => None,
            id => Some(Uuid::parse_str(id).map_err(|_| "choix invalide".to_owned())?),
        };
        item.requested_due = match form.callback.trim() {
            "" => None,
            d => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| "date de rappel invalide".to_owned())?,
            ),
        };
        item.validate(today).map_err(|e| e.to_string())?;
        Ok(item)
    };
    let refused = |message: String| async {
        let html = page(&state, &me, &form, Some(message), None).await?;
        Ok::<Response, WebError>((axum::http::StatusCode::BAD_REQUEST, html).into_response())
    };
    let mut item = match build() {
        Ok(item) => item,
        Err(message) => return refused(message).await,
    };
    let phone = Some(form.phone.as_str()).filter(|p| !p.trim().is_empty());
    let party = match state
        .app
        .resolve_contact(
            commune,
            Some(form.caller_id.trim())
                .filter(|id| Uuid::parse_str(id).is_ok())
                .unwrap_or(&form.caller),
            phone,
        )
        .await
    {
        Ok(party) => party,
        Err(e) => return refused(e.to_string()).await,
    };
    // A known caller whose card has another number (or none): the number given is kept on
    // the call itself, so that the page always says whom to call back where.
    if let (Some(phone), parapheur_app::Party::Existing(id)) = (phone, &party) {
        let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
        let known = state.app.contact(commune.id, *id).await?.phone;
        if known.as_deref().map(digits) != Some(digits(phone)) {
            let line = format!("Numéro à rappeler : {}", phone.trim());
            item.body = Some(match item.body.take() {
                Some(body) => format!("{line}\n\n{body}"),
                None => line,
            });
        }
    }
    match state
        .app
        .register_with_party(commune, &me.0.actor(), item, Some(party), Vec::new(), now)
        .await
    {
        Ok(r) => Ok(Redirect::to(&format!(
            "/appel/nouveau?enregistre={}",
            crate::error::urlencode(&r.item.chrono)
        ))
        .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => refused(e.user_message()).await,
        Err(e) => Err(e.into()),
    }
}

crate::session::csrf_forms!(CallForm);
