//! The parapheur's administration: circuit templates, delegations, signing keys and the
//! commune's certificate.

use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use parapheur_app::AppError;
use parapheur_app::domain::circuit::CircuitDef;
use parapheur_app::domain::clock::local_date;
use parapheur_app::parapheur::keys::KeyOwner;
use parapheur_app::parapheur::views::KeyKind;
use serde::Deserialize;
use uuid::Uuid;

use super::circuit::CircuitForm;
use super::circuit_summary;
use super::user_label;
use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::{CsrfOnly, Me, Posted};
use crate::{WebState, assets, templates};

/// Administration: circuits, delegations, signing keys.
pub async fn admin(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    admin_page(&state, &me, None, None).await
}

async fn admin_page(
    state: &WebState,
    me: &Me,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let users = state.app.users(commune.id).await?;
    let name = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(user_label)
            .unwrap_or_default()
    };
    let today = local_date(Utc::now(), commune.zone());
    let circuits: Vec<_> = state
        .app
        .circuit_templates(commune.id)
        .await?
        .into_iter()
        .map(|c| {
            let summary = serde_json::from_str::<CircuitDef>(&c.definition_json)
                .map(|d| circuit_summary(&d, &users))
                .unwrap_or_default();
            ctx! { code => c.code, name => c.name, doctype => c.doctype_code, summary }
        })
        .collect();
    let delegations: Vec<_> = state
        .app
        .delegations(commune.id, today)
        .await?
        .into_iter()
        .map(|d| {
            ctx! {
                id => d.id.to_string(), from => name(d.from_user), to => name(d.to_user),
                starts => d.starts_on.format("%d/%m/%Y").to_string(),
                ends => d.ends_on.format("%d/%m/%Y").to_string(),
                doctypes => if d.doctypes.is_empty() { "tous".to_owned() } else { d.doctypes.join(", ") },
                active => d.starts_on <= today,
            }
        })
        .collect();
    let keys = state.app.signing_keys(commune.id).await?;
    let signers: Vec<_> = users
        .iter()
        .filter(|u| u.active)
        .map(|u| {
            let key = keys
                .iter()
                .rev()
                .find(|k| k.kind == KeyKind::Person && k.user_id == Some(u.id));
            ctx! {
                id => u.id.to_string(), label => user_label(u), email => u.email,
                key => key.map(|k| ctx! {
                    subject => k.subject, until => k.not_after.format("%d/%m/%Y").to_string(),
                    pin => k.pin_protected,
                }),
            }
        })
        .collect();
    let doctypes: Vec<_> = state
        .app
        .doctypes(commune.id)
        .await?
        .into_iter()
        .map(|d| ctx! { code => d.code, label => d.label })
        .collect();
    Ok(Html(templates::render(
        "admin_parapheur.html",
        ctx! {
            title => "Parapheur — administration", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "parapheur",
            notice, error, circuits, delegations, signers, doctypes,
            people => users.iter().filter(|u| u.active).map(|u| ctx! { id => u.id.to_string(), label => user_label(u) }).collect::<Vec<_>>(),
            today => today.format("%Y-%m-%d").to_string(),
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct CircuitTemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    type_document: String,
    #[serde(flatten)]
    steps: CircuitForm,
}

/// Saves a named circuit.
pub async fn save_circuit(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<CircuitTemplateForm>,
) -> Result<Response, WebError> {
    let def = form.steps.definition();
    let result = match def {
        Ok(def) => {
            state
                .app
                .save_circuit_template(
                    &me.0.commune,
                    &me.0.actor(),
                    &form.code,
                    &form.nom,
                    Some(form.type_document.as_str()),
                    &def,
                    Utc::now(),
                )
                .await
        }
        Err(WebError::BadRequest(m)) => Err(AppError::invalid(m)),
        Err(e) => return Err(e),
    };
    admin_result(&state, &me, result.map(|_| "circuit enregistré".to_owned())).await
}

async fn admin_result(
    state: &WebState,
    me: &Me,
    result: Result<String, AppError>,
) -> Result<Response, WebError> {
    match result {
        Ok(notice) => Ok(admin_page(state, me, Some(notice), None)
            .await?
            .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let page = admin_page(state, me, None, Some(e.to_string())).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct DelegationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    absent: String,
    #[serde(default)]
    delegue: String,
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
    #[serde(default)]
    type_document: String,
}

/// Records a delegation.
pub async fn add_delegation(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<DelegationForm>,
) -> Result<Response, WebError> {
    let date = |text: &str, what: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(format!("date de {what} invalide")))
    };
    let person = |text: &str| {
        Uuid::parse_str(text).map_err(|_| AppError::invalid("choisissez les deux personnes"))
    };
    let result = async {
        let row = state
            .app
            .add_delegation(
                &me.0.commune,
                &me.0.actor(),
                person(&form.absent)?,
                person(&form.delegue)?,
                date(&form.du, "début")?,
                date(&form.au, "fin")?,
                Some(form.type_document.clone())
                    .filter(|d| !d.is_empty())
                    .into_iter()
                    .collect(),
                Utc::now(),
            )
            .await?;
        Ok::<_, AppError>(format!(
            "délégation enregistrée du {} au {}",
            row.starts_on.format("%d/%m/%Y"),
            row.ends_on.format("%d/%m/%Y")
        ))
    }
    .await;
    admin_result(&state, &me, result).await
}

/// Ends a delegation now.
pub async fn revoke_delegation(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    let result = state
        .app
        .revoke_delegation(&me.0.commune, &me.0.actor(), parse_id(&id)?, Utc::now())
        .await
        .map(|_| "délégation révoquée".to_owned());
    admin_result(&state, &me, result).await
}

/// Creates (or renews) a person's certificate from the commune's authority.
pub async fn issue_key(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    let result = state
        .app
        .issue_signer_key(
            &me.0.commune,
            &me.0.actor(),
            parse_id(&id)?,
            // No code chosen by the administrator: what protects a signature is the
            // signer's own second factor.
            None,
            Utc::now(),
        )
        .await
        .map(|k| format!("certificat créé pour {}", k.subject));
    admin_result(&state, &me, result).await
}

/// Imports a PKCS#12 key for a person or for the commune's seal.
pub async fn import_key(
    State(state): State<WebState>,
    me: Me,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let (mut csrf, mut owner, mut password, mut code) =
        (String::new(), String::new(), String::new(), String::new());
    let mut file = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WebError::BadRequest("envoi interrompu ou trop gros".into()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "fichier" {
            file = field
                .bytes()
                .await
                .map_err(|_| WebError::BadRequest("envoi interrompu".into()))?
                .to_vec();
        } else {
            let text = field.text().await.unwrap_or_default();
            match name.as_str() {
                "csrf" => csrf = text,
                "titulaire" => owner = text,
                "mot_de_passe" => password = text,
                "code" => code = text,
                _ => {}
            }
        }
    }
    me.check_csrf(&csrf)?;
    let owner = if owner == "cachet" {
        Ok(KeyOwner::Seal)
    } else {
        Uuid::parse_str(&owner)
            .map(KeyOwner::Person)
            .map_err(|_| AppError::invalid("choisissez le titulaire de la clé"))
    };
    let result = match owner {
        Ok(_) if file.is_empty() => Err(AppError::invalid("choisissez le fichier PKCS#12")),
        Ok(owner) => state
            .app
            .import_signing_key(
                &me.0.commune,
                &me.0.actor(),
                owner,
                &file,
                &password,
                Some(code.as_str()).filter(|c| !c.is_empty()),
                Utc::now(),
            )
            .await
            .map(|k| format!("clé de {} importée", k.subject)),
        Err(e) => Err(e),
    };
    admin_result(&state, &me, result).await
}

/// The commune's CA certificate, for verifiers.
pub async fn ca_certificate(State(state): State<WebState>, me: Me) -> Result<Response, WebError> {
    let pem = state
        .app
        .ca_certificate_pem(&me.0.commune, Utc::now())
        .await?;
    let mut response = pem.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-pem-file"),
    );
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"autorite-commune.pem\""),
    );
    Ok(response)
}

crate::session::csrf_forms!(CircuitTemplateForm, DelegationForm);
