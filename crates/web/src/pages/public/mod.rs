//! The citizens' pages, public and without login: a commune's online procedures, a form and
//! its submission, and the tracking page behind the link each request receives.
//!
//! Abuse is held back without any third party, in this order on every submission: a limit
//! per client address (in memory, per process, checked before the body is read), a
//! honeypot field that people never see, and a proof of work (`domain::pow`) that the
//! browser computes with `demande.js`, whose signed challenge is issued with the page and
//! can be spent only once. Without JavaScript the form still posts, and the answer says
//! what is missing and how else to reach the mairie.
//!
//! The tracking token is the only capability of the tracking page: it never goes in a
//! redirect after a submission (the confirmation is the POST's own answer), and the pages
//! that show it are sent with `Referrer-Policy: same-origin` (no referrer to other sites;
//! `no-referrer` would make browsers send `Origin: null` with the page's own form, which the
//! same-origin check refuses) and `X-Robots-Tag: noindex`.

mod form;
mod tracking;

pub use form::{form, submit};
pub use tracking::{answer, tracking, tracking_acknowledgement, tracking_file};

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use parapheur_app::AppError;
use parapheur_app::citizens::PublicForm;
use parapheur_app::domain::clock::utc_offset_minutes;
use parapheur_app::domain::{Commune, french};
use serde::Serialize;

use crate::error::WebError;
use crate::{WebState, assets, templates};
use form::FieldView;
use parapheur_app::citizens::wait_text;

/// The most a submission or an answer may weigh, files included.
pub const MAX_BODY_BYTES: usize = 60 * 1024 * 1024;
/// Multipart parts read from one request at most (fields and files together).
const MAX_PARTS: usize = 200;
/// The honeypot's name: never a form key (those cannot contain a hyphen).
const HONEYPOT: &str = "site-web";
const CHALLENGE: &str = "pow-challenge";
const SOLUTION: &str = "pow-solution";
/// What a file input accepts (checked again from the bytes on the server).
const ACCEPT: &str = "application/pdf,image/jpeg,image/png,image/tiff";

// ---------------------------------------------------------------------------------------
// Errors and common page parts
// ---------------------------------------------------------------------------------------

/// Errors of the public pages, rendered without any of the agents' navigation.
#[derive(Debug)]
pub enum PublicError {
    NotFound,
    BadRequest(String),
    Unavailable(String),
    Internal(String),
}

impl From<AppError> for PublicError {
    fn from(e: AppError) -> Self {
        match WebError::from(e) {
            WebError::NotFound => PublicError::NotFound,
            WebError::BadRequest(m) | WebError::Forbidden(m) | WebError::Conflict(m) => {
                PublicError::BadRequest(m)
            }
            WebError::Unavailable(m) => PublicError::Unavailable(m),
            WebError::Internal(m) => PublicError::Internal(m),
            WebError::Login { .. } => PublicError::NotFound,
        }
    }
}

impl From<minijinja::Error> for PublicError {
    fn from(e: minijinja::Error) -> Self {
        PublicError::Internal(format!("template: {e:#}"))
    }
}

impl IntoResponse for PublicError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PublicError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Cette page n'existe pas ou n'existe plus. Vérifiez l'adresse, ou contactez votre mairie."
                    .to_owned(),
            ),
            PublicError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Demande refusée", m),
            PublicError::Unavailable(m) => {
                tracing::error!(message = %m, "public page unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "Service indisponible", m)
            }
            PublicError::Internal(detail) => {
                tracing::error!(%detail, "internal error on a public page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur",
                    "Une erreur est survenue ; rien n'a été enregistré. Réessayez dans un instant."
                        .to_owned(),
                )
            }
        };
        message_page(status, title, &message, None)
    }
}

/// A page with a title and a message, and the mairie's contact details when known.
fn message_page(
    status: StatusCode,
    title: &str,
    message: &str,
    mairie: Option<&Mairie>,
) -> Response {
    let html = templates::render(
        "public_message.html",
        ctx! { title, message, mairie, style_url => assets::style_url() },
    )
    .unwrap_or_else(|_| {
        format!("<!doctype html><html lang=\"fr\"><title>{title}</title><p>{message}</p></html>")
    });
    (status, Html(html)).into_response()
}

/// The mairie as the public pages show it: name, and how to reach it otherwise.
#[derive(Debug, Clone, Serialize)]
struct Mairie {
    insee: String,
    name: String,
    /// "Mairie de Montbazon", "Mairie du Havre".
    title: String,
    address: Option<String>,
    phone: Option<String>,
    /// The number for a `tel:` link: digits and "+" only.
    phone_link: Option<String>,
    email: Option<String>,
    /// The commune's logo, its address versioned by its hash (cached for good).
    logo_url: Option<String>,
    /// The data protection officer's contact, for the forms' notice (RGPD art. 13).
    dpo_contact: Option<String>,
}

async fn mairie(state: &WebState, commune: &Commune) -> Result<Mairie, PublicError> {
    let settings = state.app.commune_settings(commune.id).await?;
    let present = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let phone = present(settings.phone);
    Ok(Mairie {
        insee: commune.insee.clone(),
        name: commune.name.clone(),
        title: format!("Mairie {}", french::of_name(&commune.name)),
        address: present(settings.address),
        phone_link: phone.as_ref().map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect()
        }),
        phone,
        email: present(settings.email),
        logo_url: settings
            .logo_sha256
            .as_ref()
            .filter(|_| settings.logo_type.is_some())
            .map(|sha| format!("/logo/{}?v={}", commune.insee, &sha[..sha.len().min(12)])),
        dpo_contact: present(settings.dpo_contact),
    })
}

/// The commune's logo for its public pages (the same picture its letters carry).
pub async fn logo(State(state): State<WebState>, Path(insee): Path<String>) -> Response {
    let result = async {
        let commune = commune_of(&state, &insee).await?;
        let settings = state.app.commune_settings(commune.id).await?;
        let (Some(sha), Some(media_type)) = (settings.logo_sha256, settings.logo_type) else {
            return Err(PublicError::NotFound);
        };
        let bytes = state.app.read_file(commune.id, &sha).await?;
        // The address changes with the picture (?v=hash): keep it a year.
        Ok::<_, PublicError>(super::logo_response(
            bytes,
            &media_type,
            "public, max-age=31536000, immutable",
        ))
    }
    .await;
    result.into_response()
}

/// The small rendition of the commune's logo, for the pages' header (its address changes
/// with the picture: kept a year).
pub async fn header_logo(State(state): State<WebState>, Path(insee): Path<String>) -> Response {
    let result = async {
        let commune = commune_of(&state, &insee).await?;
        let settings = state.app.commune_settings(commune.id).await?;
        let Some(small) = settings.logo_small else {
            return Err(PublicError::NotFound);
        };
        let bytes = state.app.read_file(commune.id, &small.sha256).await?;
        let media_type = if bytes.starts_with(b"\x89PNG") {
            "image/png"
        } else {
            "image/jpeg"
        };
        Ok::<_, PublicError>(super::logo_response(
            bytes,
            media_type,
            "public, max-age=31536000, immutable",
        ))
    }
    .await;
    result.into_response()
}

/// The commune of a public address: only communes of this installation.
async fn commune_of(state: &WebState, insee: &str) -> Result<Commune, PublicError> {
    if insee.len() != 5 || !insee.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PublicError::NotFound);
    }
    state
        .app
        .commune_by_insee(insee)
        .await?
        .ok_or(PublicError::NotFound)
}

/// An active form of the commune, or not found.
async fn active_form(
    state: &WebState,
    commune: &Commune,
    code: &str,
) -> Result<PublicForm, PublicError> {
    let public = state.app.request_form(commune, code).await?;
    if public.row.active {
        Ok(public)
    } else {
        Err(PublicError::NotFound)
    }
}

/// "12 mars 2026 à 14 h 05", in the commune's time.
fn local_moment(instant: DateTime<Utc>, commune: &Commune) -> String {
    let local = (instant + chrono::Duration::minutes(utc_offset_minutes(instant, commune.zone())))
        .naive_utc();
    format!(
        "{} à {}",
        french::long_date(local.date()),
        french::time_of_day(local.time())
    )
}

/// A message of the use cases ("le fichier … est refusé") as the start of a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Marks a response private: no referrer leaves it, no search engine keeps it.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    response
}

/// The "too many requests" answer, with the other ways to reach the mairie.
fn too_many(wait: Duration, mairie: Option<&Mairie>) -> Response {
    let message = format!(
        "Trop de demandes depuis votre connexion : réessayez dans {}, ou contactez la mairie.",
        wait_text(wait)
    );
    let mut response = message_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Trop de demandes",
        &message,
        mairie,
    );
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

// ---------------------------------------------------------------------------------------
// The commune's page
// ---------------------------------------------------------------------------------------

/// GET /demarches/{insee}: the commune's online procedures.
pub async fn commune(
    State(state): State<WebState>,
    Path(insee): Path<String>,
) -> Result<Response, PublicError> {
    let commune = commune_of(&state, &insee).await?;
    let mairie = mairie(&state, &commune).await?;
    let forms: Vec<_> = state
        .app
        .public_forms(&commune)
        .await?
        .into_iter()
        .map(|f| {
            ctx! {
                url => format!("/demarches/{}/{}", commune.insee, f.form.code),
                title => f.form.title,
                intro => f.form.intro,
            }
        })
        .collect();
    let title = "Démarches en ligne";
    Ok(Html(templates::render(
        "public_forms.html",
        ctx! { title, mairie, forms, style_url => assets::style_url() },
    )?)
    .into_response())
}

/// The accessibility statement of the public pages (loi n° 2005-102 art. 47, RGAA 4.1): its
/// status (non conforme: no audit has been made, and only an audit allows more), what is
/// known not to be accessible, how it was checked, whom to tell, and the appeal to the
/// Défenseur des droits. Every public page links to it in its footer.
pub async fn accessibility(
    State(state): State<WebState>,
    Path(insee): Path<String>,
) -> Result<Response, PublicError> {
    let commune = commune_of(&state, &insee).await?;
    let mairie = mairie(&state, &commune).await?;
    Ok(Html(templates::render(
        "public_accessibility.html",
        ctx! {
            title => "Déclaration d'accessibilité", mairie,
            established => ACCESSIBILITY_STATEMENT_DATE, style_url => assets::style_url(),
        },
    )?)
    .into_response())
}

/// When the statement was last written (to be updated with each audit or change of status).
const ACCESSIBILITY_STATEMENT_DATE: &str = "6 décembre 2026";

// ---------------------------------------------------------------------------------------
// A form
// ---------------------------------------------------------------------------------------

impl FieldView {}

// ---------------------------------------------------------------------------------------
// Tracking
// ---------------------------------------------------------------------------------------
