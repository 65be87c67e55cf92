//! Writing to the sender of an item: the accusé de réception (by email or printed, one at
//! a time or in bulk), and replies by email written from the commune's templates.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::domain::reply_template::VARIABLES;
use serde::Deserialize;

use crate::error::WebError;
use crate::flash::Done;
use crate::pages::item::{file_response, outcome, visible_item};
use crate::session::{CsrfOnly, Me, Posted};
use crate::{WebState, assets, templates};

/// Sends the accusé de réception of an item by email.
pub async fn acknowledge(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let result = state
        .app
        .send_acknowledgement(&me.0.commune, &me.0.actor(), item.id, Utc::now())
        .await;
    outcome(&state, &me, &item, result, Done::Acknowledged).await
}

/// The accusé de réception as a PDF, to print and post.
pub async fn acknowledgement_pdf(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    match state
        .app
        .acknowledgement_pdf(&me.0.commune, item.id, Utc::now())
        .await
    {
        Ok(pdf) => Ok(file_response(
            pdf,
            &format!("accuse-de-reception-{}.pdf", item.chrono),
            "application/pdf",
        )),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            outcome::<()>(&state, &me, &item, Err(e), Done::Acknowledged).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The `ids` and `csrf` of a form listing several items (one `ids` field per chosen
/// item, so the body is read as pairs); at most 200 items.
fn chosen_items(body: &str) -> (String, Vec<String>) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let ids = pairs
        .into_iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v)
        .take(200)
        .collect();
    (csrf, ids)
}

/// Sends the accusé de réception of several items at once; says which could not be sent
/// and why.
pub async fn acknowledge_many(
    State(state): State<WebState>,
    me: Me,
    body: String,
) -> Result<Html<String>, WebError> {
    let (csrf, ids) = chosen_items(&body);
    me.check_csrf(&csrf)?;
    let mut results = Vec::new();
    for id in &ids {
        let Ok(item) = visible_item(&state, &me, id).await else {
            continue;
        };
        let outcome = state
            .app
            .send_acknowledgement(&me.0.commune, &me.0.actor(), item.id, Utc::now())
            .await;
        results.push(ctx! {
            url => format!("/courrier/{}", item.id), chrono => item.chrono, subject => item.subject,
            ok => outcome.is_ok(),
            message => match outcome { Ok(to) => format!("envoyé à {to}"), Err(e) => e.to_string() },
        });
    }
    Ok(Html(results_page(&me, results)?))
}

fn results_page(me: &Me, results: Vec<minijinja::Value>) -> Result<String, WebError> {
    Ok(templates::render(
        "acknowledgements.html",
        ctx! {
            title => "Accusés de réception", style_url => assets::style_url(),
            me => me.view(), csrf => me.csrf(), nav => "inbox",
            results, listing => false,
        },
    )?)
}

/// Prints the accusés de réception of the chosen items in one PDF, recorded as sent by
/// post; when none could be printed, says why for each.
pub async fn print_many(
    State(state): State<WebState>,
    me: Me,
    body: String,
) -> Result<Response, WebError> {
    let (csrf, ids) = chosen_items(&body);
    me.check_csrf(&csrf)?;
    let mut items = Vec::new();
    for id in &ids {
        if let Ok(item) = visible_item(&state, &me, id).await {
            items.push(item.id);
        }
    }
    let done = state
        .app
        .print_acknowledgements(&me.0.commune, &me.0.actor(), &items, Utc::now())
        .await?;
    match done.pdf {
        Some(pdf) => Ok(file_response(
            pdf,
            &format!("accuses-de-reception-{}.pdf", Utc::now().format("%Y-%m-%d")),
            "application/pdf",
        )),
        None => {
            let results = done
                .refused
                .into_iter()
                .map(|(item, reason)| {
                    ctx! {
                        url => format!("/courrier/{}", item.id), chrono => item.chrono,
                        subject => item.subject, ok => false, message => reason,
                    }
                })
                .collect();
            let page = results_page(&me, results)?;
            Ok((axum::http::StatusCode::BAD_REQUEST, Html(page)).into_response())
        }
    }
}

/// Prints one item's accusé de réception, recorded as sent by post.
pub async fn print_one(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let done = state
        .app
        .print_acknowledgements(&me.0.commune, &me.0.actor(), &[item.id], Utc::now())
        .await?;
    match (done.pdf, done.refused.into_iter().next()) {
        (Some(pdf), _) => Ok(file_response(
            pdf,
            &format!("accuse-de-reception-{}.pdf", item.chrono),
            "application/pdf",
        )),
        (None, Some((_, reason))) => {
            outcome::<()>(
                &state,
                &me,
                &item,
                Err(parapheur_app::AppError::invalid(reason)),
                Done::Acknowledged,
            )
            .await
        }
        (None, None) => outcome(&state, &me, &item, Ok(()), Done::Acknowledged).await,
    }
}

/// The requests still without their accusé de réception, to send them all at once.
pub async fn acknowledgements_page(
    State(state): State<WebState>,
    me: Me,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let pending: Vec<_> = state
        .app
        .unacknowledged(commune, me.confidential_filter(), 500)
        .await?
        .into_iter()
        .map(|(i, email)| {
            ctx! {
                id => i.id.to_string(), url => format!("/courrier/{}", i.id), chrono => i.chrono,
                subject => i.subject, arrival => crate::views::date(i.arrival_date),
                channel => i.channel.label_fr(), email,
            }
        })
        .collect();
    let gaps = state.app.acknowledgement_gaps(commune).await?;
    Ok(Html(templates::render(
        "acknowledgements.html",
        ctx! {
            title => "Accusés de réception", style_url => assets::style_url(),
            me => me.view(), csrf => me.csrf(), nav => "inbox",
            pending, listing => true, gaps,
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct ReplyQuery {
    #[serde(default)]
    modele: String,
}

/// The reply composer: a template to start from, the text with `{{variables}}` (typed
/// after `::`), filled when sent.
pub async fn reply_form(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Query(q): Query<ReplyQuery>,
) -> Result<Html<String>, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let templates_list = state.app.reply_templates(me.0.commune.id).await?;
    let chosen = templates_list
        .iter()
        .find(|t| t.code == q.modele && t.active);
    let subject = chosen.map_or_else(
        || format!("Votre demande : {}", item.subject),
        |t| t.subject.clone(),
    );
    let body = chosen.map(|t| t.body.clone()).unwrap_or_default();
    reply_page(&state, &me, &item, &q.modele, &subject, &body, None).await
}

#[allow(clippy::too_many_arguments)]
async fn reply_page(
    state: &WebState,
    me: &Me,
    item: &parapheur_app::domain::Item,
    chosen: &str,
    subject: &str,
    body: &str,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let templates_list = state.app.reply_templates(me.0.commune.id).await?;
    let mut to = None;
    for (role, contact) in state.app.item_contacts(item.id).await? {
        if role == "sender" {
            let c = state.app.contact(me.0.commune.id, contact).await?;
            to = Some(match &c.email {
                Some(e) => format!("{} <{e}>", c.display_name()),
                None => format!("{} (sans adresse électronique)", c.display_name()),
            });
            break;
        }
    }
    let variables: Vec<_> = VARIABLES
        .iter()
        .map(|v| ctx! { name => v.name, label => v.label_fr })
        .collect();
    Ok(Html(templates::render(
        "reply.html",
        ctx! {
            title => format!("Répondre — {}", item.chrono), style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "", error,
            item => ctx! { id => item.id.to_string(), chrono => item.chrono, subject => item.subject },
            to, subject, body, chosen,
            templates => templates_list.iter().filter(|t| t.active).map(|t| ctx! { code => t.code, name => t.name }).collect::<Vec<_>>(),
            variables,
            variable_names => VARIABLES.iter().map(|v| v.name).collect::<Vec<_>>().join(" "),
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    modele: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    texte: String,
    /// The checkbox "this reply is the decision" (absent when unticked).
    #[serde(default)]
    decision: Option<String>,
}

/// Sends the reply: registered as an outgoing item, linked, emailed.
pub async fn reply(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<ReplyForm>,
) -> Result<Response, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    match state
        .app
        .reply_by_email(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            &form.objet,
            &form.texte,
            form.decision.is_some(),
            Utc::now(),
        )
        .await
    {
        Ok(registered) => Ok(Redirect::to(&format!(
            "/courrier/{}?enregistre=1",
            registered.item.id
        ))
        .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let page = reply_page(
                &state,
                &me,
                &item,
                &form.modele,
                &form.objet,
                &form.texte,
                Some(e.to_string()),
            )
            .await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

crate::session::csrf_forms!(ReplyForm);
