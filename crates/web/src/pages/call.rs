//! Logging a phone call in a few seconds: caller, number, subject, message, for whom, and
//! when to call back.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use parapheur_app::calls::Call;
use parapheur_app::domain::Channel;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::cti::{CallState, CallerNumber};
use parapheur_app::domain::item::NewItem;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::error::WebError;
use crate::session::{Me, Posted};
use crate::{WebState, assets, templates};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// The answer to "Vouliez-vous dire…": a contact's id, or "new" to create the one typed.
    #[serde(default)]
    caller_choice: String,
    /// Contacts close to the typed caller, offered before creating a new one.
    #[serde(default, skip_deserializing)]
    suggestions: Vec<crate::pages::letter::Suggestion>,
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
    // The call sheet of a call the phone system told of: caller, contact and agent filled.
    let form = match q.get("appel").and_then(|id| Uuid::parse_str(id).ok()) {
        Some(id) => match state.app.call(&me.0.commune, id).await? {
            Some(call) => sheet(&state, &me, &call).await?,
            None => return Err(WebError::NotFound),
        },
        None => CallForm::default(),
    };
    page(&state, &me, &form, None, notice).await
}

/// The call form filled from a call of the phone system.
async fn sheet(state: &WebState, me: &Me, call: &Call) -> Result<CallForm, WebError> {
    let (contact, number) = state.app.call_party(&me.0.commune, call).await?;
    Ok(CallForm {
        caller: contact
            .as_ref()
            .map_or_else(|| number.display(), |c| c.display_name()),
        caller_id: contact.map(|c| c.id.to_string()).unwrap_or_default(),
        phone: match &number {
            CallerNumber::Phone(_) => number.display(),
            _ => String::new(),
        },
        for_whom: call.agent_id.map(|a| a.to_string()).unwrap_or_default(),
        ..CallForm::default()
    })
}

/// How a call is named on its sheet and in the lists: "Jeanne Martin (06 12 34 56 78)".
async fn call_label(state: &WebState, me: &Me, call: &Call) -> Result<String, WebError> {
    let (contact, number) = state.app.call_party(&me.0.commune, call).await?;
    Ok(match contact {
        Some(c) => format!("Appel de {} ({})", c.display_name(), number.display()),
        None => format!("Appel du {}", number.display()),
    })
}

/// The calls ringing on this person's phone, for the pages' lists (without JavaScript).
pub(crate) async fn ringing(state: &WebState, me: &Me) -> Result<Vec<minijinja::Value>, WebError> {
    let mut out = Vec::new();
    for call in state
        .app
        .ringing_for(&me.0.commune, me.0.user.id, Utc::now())
        .await?
    {
        let label = call_label(state, me, &call).await?;
        out.push(ctx! { label, url => format!("/appel/nouveau?appel={}", call.id) });
    }
    Ok(out)
}

/// How long one call sheet stream lasts before the browser opens it again (and the
/// session is checked again).
const STREAM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The call sheet's stream (server-sent events): a call ringing on this person's phone is
/// an `appel` event (its label and the filled form's address), a call answered or ended
/// an `appel-fini` event; the page's script shows and hides a banner. Nothing is polled.
pub async fn stream(
    State(state): State<WebState>,
    me: Me,
) -> Sse<impl futures::Stream<Item = Result<Event, std::convert::Infallible>>> {
    // Listening first, then the calls ringing already (a page opened, or shown again, while
    // the phone rings): none is missed between the two, a repeat only refreshes a banner.
    let notices = state.app.call_notices();
    let commune = me.0.commune.id;
    let user = me.0.user.id;
    let mut already = Vec::new();
    if let Ok(calls) = state.app.ringing_for(&me.0.commune, user, Utc::now()).await {
        for call in calls {
            if let Ok(label) = call_label(&state, &me, &call).await {
                already.push(Ok(ringing_event(&call, label)));
            }
        }
    }
    let ends = tokio::time::Instant::now() + STREAM_LIFETIME;
    let stream = futures::stream::unfold(
        (notices, state, me),
        move |(mut notices, state, me)| async move {
            loop {
                // The stream ends after a while: the browser opens it again by itself, and
                // its session is checked again then (a logout ends the sheets within
                // STREAM_LIFETIME).
                let Ok(received) = tokio::time::timeout_at(ends, notices.recv()).await else {
                    return None;
                };
                let notice = match received {
                    Ok(n) => n,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                };
                if notice.commune_id.is_nil() {
                    return None;
                }
                if notice.commune_id != commune || notice.agent_id != Some(user) {
                    continue;
                }
                let event = if notice.state == CallState::Ringing {
                    let Ok(Some(call)) = state.app.call(&me.0.commune, notice.call_id).await else {
                        continue;
                    };
                    let Ok(label) = call_label(&state, &me, &call).await else {
                        continue;
                    };
                    ringing_event(&call, label)
                } else {
                    let data = serde_json::json!({ "id": notice.call_id });
                    Event::default().event("appel-fini").data(data.to_string())
                };
                return Some((Ok(event), (notices, state, me)));
            }
        },
    );
    Sse::new(futures::StreamExt::chain(
        futures::stream::iter(already),
        stream,
    ))
    .keep_alive(KeepAlive::default())
}

/// The `appel` event of a call ringing: its id, its label, the filled form's address.
fn ringing_event(call: &Call, label: String) -> Event {
    let data = serde_json::json!({
        "id": call.id, "label": label,
        "url": format!("/appel/nouveau?appel={}", call.id),
    });
    Event::default().event("appel").data(data.to_string())
}

pub async fn submit(
    State(state): State<WebState>,
    me: Me,
    Posted(mut form): Posted<CallForm>,
) -> Result<Response, WebError> {
    let commune = &me.0.commune;
    // "Vouliez-vous dire…" answered: a contact chosen, or the one typed to create.
    let create_typed = form.caller_choice == "new";
    if Uuid::parse_str(form.caller_choice.trim()).is_ok() {
        form.caller_id = form.caller_choice.trim().to_owned();
    }
    let form = form;
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
    // A name no contact has exactly, but close to some: asked before creating a duplicate.
    if let parapheur_app::Party::New(_) = &party
        && !create_typed
    {
        let close = state
            .app
            .close_contacts(commune.id, form.caller.trim(), 5)
            .await?;
        if !close.is_empty() {
            let mut asked = form.clone();
            asked.caller_choice.clear();
            asked.suggestions = close
                .iter()
                .map(|c| crate::pages::letter::Suggestion {
                    id: c.id.to_string(),
                    label: crate::pages::contacts::described(c),
                })
                .collect();
            let question = format!(
                "L'appelant « {} » ressemble à un contact connu : choisissez-le ou confirmez la création, puis enregistrez.",
                form.caller.trim()
            );
            return Ok(page(&state, &me, &asked, None, Some(question))
                .await?
                .into_response());
        }
    }
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
