//! Administration of the commune (administrators only): its letterhead and contact details,
//! services, users and roles, document types; and of the installation's communes (host
//! administrators only, who see counts, never mail).

mod doctypes;
mod services;
mod tokens;
mod users;
mod webhooks;

pub use doctypes::{add_doctype, doctype, doctypes, processing_record, update_doctype};
pub use services::{add_service, service, services, update_service};
pub use tokens::{create_token, revoke_token, tokens};
pub use users::{invite_user, new_link, reset_second_factor, update_user, user, users};
pub use webhooks::{create_webhook, delete_webhook, redeliver_webhook, toggle_webhook, webhooks};

use axum::extract::{Multipart, State};
use axum::response::{Html, Response};
use chrono::Utc;
use parapheur_app::administration::{LogoChange, SettingsForm};
use parapheur_app::{Actor, AppError};
use serde::{Deserialize, Serialize};

use crate::error::WebError;
use crate::session::{Me, Posted};
use crate::{WebState, assets, templates};
use doctypes::DoctypeForm;
use parapheur_app::capture::dropfolder::sniff;
use users::UserForm;

fn actor(me: &Me) -> Actor {
    me.0.actor()
}

/// The link a new user opens to choose a password. Until outgoing mail exists it is shown
/// to the administrator (who hands it over) and written to the server log.
fn invitation_url(token: &str) -> String {
    format!("/mot-de-passe-oublie/nouveau?jeton={token}")
}

fn bad(e: AppError) -> Result<Option<String>, WebError> {
    match WebError::from(e) {
        WebError::BadRequest(m) => Ok(Some(m)),
        other => Err(other),
    }
}

// ---- Commune settings ----------------------------------------------------------------

async fn settings_page(
    state: &WebState,
    me: &Me,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let settings = state.app.commune_settings(commune.id).await?;
    let gaps = state.app.acknowledgement_gaps(commune).await?;
    Ok(Html(templates::render(
        "admin_commune.html",
        ctx! {
            title => "Administration", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "commune", error, notice, gaps,
            commune => ctx! { name => commune.name, insee => commune.insee, siren => commune.siren, postal_code => commune.postal_code, chrono_format => commune.chrono_format.pattern() },
            settings => ctx! {
                address => settings.address, phone => settings.phone, email => settings.email,
                letterhead => settings.letterhead, has_logo => settings.logo_sha256.is_some(),
                dpo_contact => settings.dpo_contact,
            },
            alsace_moselle => alsace_moselle(commune), good_friday => commune.good_friday,
            logo_url => settings.logo_sha256.map(|s| format!("/administration/logo?v={}", &s[..12.min(s.len())])),
            max_logo_kb => parapheur_app::administration::MAX_LOGO_BYTES / 1024,
            copies => copies_line(&state.app.copies_overview(), chrono::Utc::now()),
        },
    )?))
}

/// The off-site copies in one sentence, and whether it is an alarm (copies failing, or none
/// for more than a day).
fn copies_line(
    overview: &parapheur_app::continuity::CopiesOverview,
    now: chrono::DateTime<chrono::Utc>,
) -> minijinja::Value {
    use parapheur_app::continuity::CopiesOverview;
    let (line, alarm) = match overview {
        CopiesOverview::ByTheHost => (
            "Copies hors site assurées par l'hébergeur (base de données et fichiers).".to_owned(),
            false,
        ),
        CopiesOverview::NotConfigured => (
            "Aucune copie hors site configurée : si ce serveur est perdu, le registre l'est \
             aussi. Demandez à votre prestataire de renseigner [backup] dans parapheur.toml."
                .to_owned(),
            true,
        ),
        CopiesOverview::Configured { state, .. } => {
            let last = state.as_ref().and_then(|s| s.last_success_at);
            let error = state.as_ref().and_then(|s| s.last_error.clone());
            match (last, error) {
                (Some(at), None) => (
                    format!(
                        "Dernière copie hors site : il y a {}.",
                        parapheur_app::domain::french::elapsed(now - at)
                    ),
                    now - at > chrono::Duration::hours(24),
                ),
                (Some(at), Some(e)) => (
                    format!(
                        "Dernière copie hors site : il y a {}. La dernière tentative a échoué : {e}",
                        parapheur_app::domain::french::elapsed(now - at)
                    ),
                    true,
                ),
                (None, Some(e)) => (format!("Aucune copie hors site réussie : {e}"), true),
                (None, None) => (
                    "Copies hors site configurées : la première sera faite sous une minute."
                        .to_owned(),
                    false,
                ),
            }
        }
    };
    ctx! { line, alarm }
}

fn alsace_moselle(commune: &parapheur_app::domain::Commune) -> bool {
    matches!(
        commune.holiday_zone(),
        parapheur_app::domain::HolidayZone::AlsaceMoselle
            | parapheur_app::domain::HolidayZone::AlsaceMoselleWithoutGoodFriday
    )
}

pub async fn settings(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    settings_page(&state, &me, None, None).await
}

pub async fn save_settings(
    State(state): State<WebState>,
    me: Me,
    mut multipart: Multipart,
) -> Result<Html<String>, WebError> {
    let mut form = SettingsForm::default();
    let mut csrf = String::new();
    let mut chrono_format = String::new();
    let mut good_friday = false;
    let mut refused = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("envoi interrompu ou trop volumineux : {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "logo" {
            let bytes = field.bytes().await.map_err(|e| {
                WebError::BadRequest(format!("envoi du logo interrompu ou trop volumineux : {e}"))
            })?;
            if bytes.is_empty() {
                continue;
            }
            match sniff(&bytes) {
                Some(t @ ("image/png" | "image/jpeg")) => {
                    if !matches!(form.logo, LogoChange::Remove) {
                        form.logo = LogoChange::Replace {
                            bytes: bytes.to_vec(),
                            media_type: t.to_owned(),
                        };
                    }
                }
                _ => refused = Some("le logo doit être une image PNG ou JPEG".to_owned()),
            }
            continue;
        }
        let value = field
            .text()
            .await
            .map_err(|e| WebError::BadRequest(format!("formulaire illisible : {e}")))?;
        match name.as_str() {
            "csrf" => csrf = value,
            "address" => form.address = value,
            "phone" => form.phone = value,
            "email" => form.email = value,
            "letterhead" => form.letterhead = value,
            "dpo_contact" => form.dpo_contact = value,
            "good_friday" => good_friday = !value.is_empty(),
            "chrono_format" => chrono_format = value,
            "remove_logo" if !value.is_empty() => form.logo = LogoChange::Remove,
            _ => {}
        }
    }
    me.check_csrf(&csrf)?;
    if let Some(refused) = refused {
        return settings_page(&state, &me, Some(refused), None).await;
    }
    let now = Utc::now();
    let commune = &me.0.commune;
    // Both changes are checked before either is saved: a refused form saves nothing.
    let chrono_format = chrono_format.trim();
    let new_format = (!chrono_format.is_empty()
        && chrono_format != commune.chrono_format.pattern())
    .then_some(chrono_format);
    if let Some(Err(e)) = new_format.map(parapheur_app::domain::ChronoFormat::parse) {
        return settings_page(&state, &me, Some(e.to_string()), None).await;
    }
    let saved = match state
        .app
        .update_commune_settings(commune, &actor(&me), form, now)
        .await
    {
        Ok(_) => match new_format {
            Some(pattern) => state
                .app
                .set_chrono_format(commune, pattern, &actor(&me), now)
                .await
                .map(|_| ()),
            None => Ok(()),
        },
        Err(e) => Err(e),
    };
    // The box is on the page of an Alsace-Moselle commune only (L3134-13).
    let saved = match saved {
        Ok(()) if alsace_moselle(commune) && good_friday != commune.good_friday => state
            .app
            .set_good_friday(commune, good_friday, &actor(&me), now)
            .await
            .map(|_| ()),
        other => other,
    };
    match saved {
        Ok(()) => {
            // The session still holds the old commune (numbering format): read it anew.
            let me = Me(parapheur_app::administration::auth::Authenticated {
                commune: state.app.commune_by_id(commune.id).await?,
                ..me.0
            });
            settings_page(&state, &me, None, Some("Paramètres enregistrés.".into())).await
        }
        Err(e) => {
            let error = bad(e)?;
            settings_page(&state, &me, error, None).await
        }
    }
}
/// The commune's logo, for any of its users (it is printed on every letter).
pub async fn logo(State(state): State<WebState>, me: Me) -> Result<Response, WebError> {
    let settings = state.app.commune_settings(me.0.commune.id).await?;
    let (Some(sha), Some(media_type)) = (settings.logo_sha256, settings.logo_type) else {
        return Err(WebError::NotFound);
    };
    let bytes = state.app.read_file(me.0.commune.id, &sha).await?;
    Ok(super::logo_response(
        bytes,
        &media_type,
        "private, max-age=86400",
    ))
}

// ---- Services ------------------------------------------------------------------------

// ---- Users ---------------------------------------------------------------------------

impl UserForm {}

// ---- Document types ------------------------------------------------------------------

impl DoctypeForm {}

// ---- Host: the installation's communes ------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CommuneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    insee: String,
    #[serde(default)]
    admin_email: String,
    #[serde(default)]
    admin_name: String,
}

async fn host_page(
    state: &WebState,
    me: &Me,
    form: &CommuneForm,
    error: Option<String>,
    created: Option<minijinja::Value>,
) -> Result<Html<String>, WebError> {
    let communes: Vec<_> = state
        .app
        .commune_summaries()
        .await?
        .into_iter()
        .map(|s| ctx! { insee => s.commune.insee, name => s.commune.name, siren => s.commune.siren, users => s.users, items => s.items })
        .collect();
    Ok(Html(templates::render(
        "host.html",
        ctx! {
            title => "Communes hébergées", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "host", error, communes, form, created,
        },
    )?))
}

pub async fn host(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    host_page(&state, &me, &CommuneForm::default(), None, None).await
}

pub async fn create_commune(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<CommuneForm>,
) -> Result<Html<String>, WebError> {
    match state
        .app
        .create_commune_with_admin(
            &form.insee,
            &form.admin_email,
            &form.admin_name,
            &actor(&me),
            Utc::now(),
        )
        .await
    {
        Ok((commune, invitation)) => {
            let created = ctx! { name => commune.name, insee => commune.insee, email => invitation.user.email };
            host_page(&state, &me, &CommuneForm::default(), None, Some(created)).await
        }
        Err(e) => {
            let error = bad(e)?;
            host_page(&state, &me, &form, error, None).await
        }
    }
}

crate::session::csrf_forms!(CommuneForm);
