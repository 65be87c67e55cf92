//! The contact directory: search, a contact's mail, likely duplicates and merging them.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::contact::{Contact, NewContact};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::WebError;
use crate::session::{Me, Posted};
use crate::views::ItemRow;
use crate::{WebState, assets, templates};

fn address(c: &Contact) -> String {
    [
        c.address.as_deref(),
        c.postal_code.as_deref(),
        c.city.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

/// A contact as a choice among others: the name, then what tells homonyms apart (the
/// postal address, else the email, else the phone).
pub(crate) fn described(c: &Contact) -> String {
    let detail = Some(address(c))
        .filter(|a| !a.is_empty())
        .or_else(|| c.email.clone())
        .or_else(|| c.phone.clone());
    match detail {
        Some(d) => format!("{} ({d})", c.display_name()),
        None => c.display_name(),
    }
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn list(
    State(state): State<WebState>,
    me: Me,
    Query(query): Query<SearchQuery>,
) -> Result<Html<String>, WebError> {
    let contacts: Vec<_> = state
        .app
        .search_contacts(me.0.commune.id, &query.q, 200)
        .await?
        .iter()
        .map(|c| ctx! { id => c.id.to_string(), name => c.display_name(), address => address(c), email => c.email, phone => c.phone })
        .collect();
    Ok(Html(templates::render(
        "contacts.html",
        ctx! { title => "Contacts", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(), nav => "contacts", contacts, q => query.q },
    )?))
}

/// Suggestions for the contact fields of the letter and call forms, as JSON: the label
/// shown (name, then email or address to tell homonyms apart) and the id.
pub async fn suggestions(
    State(state): State<WebState>,
    me: Me,
    Query(query): Query<SearchQuery>,
) -> Result<axum::Json<Vec<serde_json::Value>>, WebError> {
    let q = query.q.trim();
    if q.chars().count() < 2 {
        return Ok(axum::Json(Vec::new()));
    }
    let found = state.app.search_contacts(me.0.commune.id, q, 10).await?;
    Ok(axum::Json(
        found
            .iter()
            .map(|c| {
                let detail = c
                    .email
                    .clone()
                    .or_else(|| Some(address(c)).filter(|a| !a.is_empty()))
                    .or_else(|| c.phone.clone());
                let label = match detail {
                    Some(d) => format!("{} — {d}", c.display_name()),
                    None => c.display_name(),
                };
                serde_json::json!({ "id": c.id.to_string(), "label": label })
            })
            .collect(),
    ))
}

pub async fn show(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    render(&state, &me, id, None).await
}

/// The contact's page, with the answer to what was just asked (an erasure's decision, a
/// refused rectification) when there is one.
async fn render(
    state: &WebState,
    me: &Me,
    id: Uuid,
    answer: Option<(bool, String)>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let store = &state.app;
    let contact = store.contact_for(&me.0, id, Utc::now()).await?;
    let probe = NewContact {
        first_name: contact.first_name.clone(),
        name: contact.name.clone(),
        address: contact.address.clone(),
        postal_code: contact.postal_code.clone(),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
        ..Default::default()
    };
    let keys = probe.duplicate_keys();
    let duplicates: Vec<_> = store
        .likely_duplicates(commune.id, &probe)
        .await?
        .into_iter()
        .filter(|d| d.id != contact.id)
        .map(|d| {
            let other = NewContact {
                first_name: d.first_name.clone(),
                name: d.name.clone(),
                address: d.address.clone(),
                postal_code: d.postal_code.clone(),
                email: d.email.clone(),
                phone: d.phone.clone(),
                ..Default::default()
            }
            .duplicate_keys();
            let reason = if keys.email.is_some() && keys.email == other.email {
                "même adresse électronique"
            } else if keys.phone.is_some() && keys.phone == other.phone {
                "même téléphone"
            } else {
                "même nom et même adresse"
            };
            ctx! { id => d.id.to_string(), name => d.display_name(), reason }
        })
        .collect();
    let today = local_date(Utc::now(), commune.zone());
    let items: Vec<ItemRow> = state
        .app
        .contact_items(&me.0, contact.id)
        .await?
        .iter()
        .map(|item| ItemRow::new(item, today))
        .collect();
    let merged = store
        .contact_merged_into(commune.id, contact.id)
        .await?
        .map(|m| m.to_string());
    let rights = store.contact_rights(commune, contact.id).await?;
    let (answer_ok, answer) = match answer {
        Some((ok, text)) => (ok, Some(text)),
        None => (false, None),
    };
    // Administrators see who opened this file lately (RGPD accountability).
    let views = if me.0.user.role.can_administer() {
        let users = store.users(commune.id).await?;
        store
            .contact_views(&me.0, contact.id, 20)
            .await?
            .into_iter()
            .map(|v| {
                let who = v
                    .user_id
                    .and_then(|u| users.iter().find(|x| x.id == u))
                    .map_or_else(|| "—".to_owned(), |u| u.display_name.clone());
                let when = v
                    .viewed_at
                    .with_timezone(&commune.zone())
                    .format("%d/%m/%Y %H:%M")
                    .to_string();
                ctx! { who, when }
            })
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    Ok(Html(templates::render(
        "contact.html",
        ctx! {
            title => contact.display_name(), style_url => assets::style_url(), me => me.view(), csrf => me.csrf(), nav => "contacts",
            contact => ctx! {
                id => contact.id.to_string(), name => contact.display_name(), organisation => contact.organisation,
                address => Some(address(&contact)).filter(|a| !a.is_empty()), email => contact.email, phone => contact.phone, merged,
                civility => contact.civility, first_name => contact.first_name, last_name => contact.name,
                street => contact.address, postal_code => contact.postal_code, city => contact.city,
                restricted => rights.restricted_at.is_some(), erased => rights.erased_at.is_some(),
            },
            duplicates, items, can_merge => me.can_register(), views,
            can_rights => me.0.user.role.can_administer(), answer, answer_ok,
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    doublon: String,
}

pub async fn merge(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<MergeForm>,
) -> Result<Response, WebError> {
    let keep = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    let duplicate = Uuid::parse_str(&form.doublon).map_err(|_| WebError::NotFound)?;
    state
        .app
        .merge_contacts(&me.0.commune, &me.0.actor(), keep, duplicate, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/contacts/{keep}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RectifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    civilite: String,
    #[serde(default)]
    prenom: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    organisme: String,
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    code_postal: String,
    #[serde(default)]
    ville: String,
    #[serde(default)]
    courriel: String,
    #[serde(default)]
    telephone: String,
}

crate::session::csrf_forms!(MergeForm, RectifyForm);

fn filled(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A contact's page answering what was asked: the page again with the decision, or with
/// the reason a bad input was refused (nothing changed then).
async fn answered(
    state: &WebState,
    me: &Me,
    id: Uuid,
    result: Result<String, parapheur_app::AppError>,
) -> Result<Response, WebError> {
    match result {
        Ok(text) => Ok(render(state, me, id, Some((true, text)))
            .await?
            .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let page = render(state, me, id, Some((false, e.user_message()))).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Rectification (RGPD art. 16): the fields as typed, journaled before and after.
pub async fn rectify(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<RectifyForm>,
) -> Result<Response, WebError> {
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    // The form has no SIRET field: the one recorded is kept.
    let current = state.app.contact(me.0.commune.id, id).await?;
    let new = NewContact {
        kind: None,
        civility: filled(&form.civilite),
        first_name: filled(&form.prenom),
        name: form.nom.trim().to_owned(),
        organisation: filled(&form.organisme),
        address: filled(&form.adresse),
        postal_code: filled(&form.code_postal),
        city: filled(&form.ville),
        email: filled(&form.courriel),
        phone: filled(&form.telephone),
        siret: current.siret,
    };
    let result = state
        .app
        .rectify_contact(&me.0.commune, &me.0.actor(), id, new, Utc::now())
        .await
        .map(|_| "Fiche rectifiée ; la modification est inscrite au journal.".to_owned());
    answered(&state, &me, id, result).await
}

/// The copy of everything about the person (RGPD art. 15), as a zip; journaled.
pub async fn export(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<crate::session::CsrfOnly>,
) -> Result<Response, WebError> {
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    let export = state
        .app
        .subject_access_export(&me.0.commune, &me.0.actor(), id, Utc::now())
        .await?;
    let mut response = export.zip.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        crate::download::content_disposition(false, &export.filename),
    );
    Ok(response)
}

/// A request for erasure (RGPD art. 17): refused with its reasons, or done.
pub async fn erase(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<crate::session::CsrfOnly>,
) -> Result<Response, WebError> {
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    let result = state
        .app
        .request_erasure(&me.0.commune, &me.0.actor(), id, Utc::now())
        .await
        .map(|d| d.message_fr());
    answered(&state, &me, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct RestrictForm {
    #[serde(default)]
    csrf: String,
    /// "oui" to restrict, anything else lifts the restriction.
    #[serde(default)]
    limiter: String,
}

crate::session::csrf_forms!(RestrictForm);

/// Restriction of processing (RGPD art. 18), or its lifting.
pub async fn restrict(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<RestrictForm>,
) -> Result<Response, WebError> {
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    let restricted = form.limiter == "oui";
    let result = state
        .app
        .restrict_contact(&me.0.commune, &me.0.actor(), id, restricted, Utc::now())
        .await
        .map(|()| {
            if restricted {
                "Traitement limité : la fiche est masquée de l'annuaire et des suggestions."
            } else {
                "Limitation levée : la fiche figure de nouveau dans l'annuaire."
            }
            .to_owned()
        });
    answered(&state, &me, id, result).await
}
