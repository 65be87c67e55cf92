//! Administration of the commune (administrators only): its letterhead and contact details,
//! services, users and roles, document types; and of the installation's communes (host
//! administrators only, who see counts, never mail).

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::administration::{LogoChange, SettingsForm, UserChange};
use parapheur_app::domain::doctype::{DocumentType, is_valid_code};
use parapheur_app::domain::retention::{FinalAction, RetentionRule};
use parapheur_app::domain::{Delay, Role, SilenceRule};
use parapheur_app::{Actor, AppError, NewUser};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::Me;
use crate::{WebState, assets, templates};
use parapheur_app::capture::dropfolder::sniff;

impl Me {
    pub fn require_admin(&self) -> Result<(), WebError> {
        if self.0.user.role.can_administer() {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "cette page est réservée aux administrateurs de la commune".into(),
            ))
        }
    }

    pub fn require_host_admin(&self) -> Result<(), WebError> {
        if self.0.user.host_admin {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "cette page est réservée aux administrateurs de l'hébergement".into(),
            ))
        }
    }
}

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
    let settings = state.app.store().commune_settings(commune.id).await?;
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
            },
            logo_url => settings.logo_sha256.map(|s| format!("/administration/logo?v={}", &s[..12.min(s.len())])),
            max_logo_kb => parapheur_app::administration::MAX_LOGO_BYTES / 1024,
        },
    )?))
}

pub async fn settings(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    settings_page(&state, &me, None, None).await
}

pub async fn save_settings(
    State(state): State<WebState>,
    me: Me,
    mut multipart: Multipart,
) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    let mut form = SettingsForm::default();
    let mut csrf = String::new();
    let mut chrono_format = String::new();
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
    match saved {
        Ok(()) => {
            // The session still holds the old commune (numbering format): read it anew.
            let me = Me(parapheur_app::administration::auth::Authenticated {
                commune: state.app.store().commune(commune.id).await?,
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
    let settings = state.app.store().commune_settings(me.0.commune.id).await?;
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

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ServiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    active: String,
}

async fn services_page(
    state: &WebState,
    me: &Me,
    form: &ServiceForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let services: Vec<_> = state
        .app
        .store()
        .services(me.0.commune.id)
        .await?
        .into_iter()
        .map(|s| ctx! { id => s.id.to_string(), code => s.code, name => s.name, email => s.email, phone => s.phone, active => s.active })
        .collect();
    Ok(Html(templates::render(
        "admin_services.html",
        ctx! {
            title => "Services", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "services", error, notice, services, form,
        },
    )?))
}

pub async fn services(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    services_page(&state, &me, &ServiceForm::default(), None, None).await
}

pub async fn add_service(
    State(state): State<WebState>,
    me: Me,
    Form(form): Form<ServiceForm>,
) -> Result<Html<String>, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let code = form.code.trim().to_lowercase();
    if form.name.trim().is_empty() {
        let error = Some("le nom du service est obligatoire".to_owned());
        return services_page(&state, &me, &form, error, None).await;
    }
    match state
        .app
        .add_service(&me.0.commune, &code, &form.name, &actor(&me), Utc::now())
        .await
    {
        Ok(s) => {
            let notice = Some(format!("Service « {} » créé.", s.name));
            services_page(&state, &me, &ServiceForm::default(), None, notice).await
        }
        Err(e) => {
            let error = bad(e)?;
            services_page(&state, &me, &form, error, None).await
        }
    }
}

async fn service_page(
    state: &WebState,
    me: &Me,
    id: Uuid,
    form: Option<&ServiceForm>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let service = state
        .app
        .store()
        .services(me.0.commune.id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(WebError::NotFound)?;
    let form = match form {
        Some(f) => {
            ctx! { name => f.name, email => f.email, phone => f.phone, active => !f.active.is_empty() }
        }
        None => {
            ctx! { name => service.name, email => service.email, phone => service.phone, active => service.active }
        }
    };
    Ok(Html(templates::render(
        "admin_service.html",
        ctx! {
            title => "Modifier un service", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "services", error, id => id.to_string(), code => service.code, form,
        },
    )?))
}

pub async fn service(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    service_page(&state, &me, parse_id(&id)?, None, None).await
}

pub async fn update_service(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<ServiceForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let id = parse_id(&id)?;
    match state
        .app
        .update_service(
            &me.0.commune,
            &actor(&me),
            id,
            &form.name,
            &form.email,
            &form.phone,
            !form.active.is_empty(),
            Utc::now(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/administration/services").into_response()),
        Err(e) => {
            let error = bad(e)?;
            Ok(service_page(&state, &me, id, Some(&form), error)
                .await?
                .into_response())
        }
    }
}

// ---- Users ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    host_admin: String,
}

impl UserForm {
    fn role(&self) -> Result<Role, String> {
        self.role.parse::<Role>()
    }

    fn service(&self) -> Result<Option<Uuid>, String> {
        match self.service.trim() {
            "" => Ok(None),
            s => Uuid::parse_str(s)
                .map(Some)
                .map_err(|_| "service invalide".to_owned()),
        }
    }
}

fn roles() -> Vec<minijinja::Value> {
    Role::ALL
        .iter()
        .map(|r| ctx! { code => r.code(), label => r.label_fr() })
        .collect()
}

async fn service_choices(state: &WebState, me: &Me) -> Result<Vec<minijinja::Value>, WebError> {
    Ok(state
        .app
        .store()
        .services(me.0.commune.id)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| ctx! { id => s.id.to_string(), name => s.name })
        .collect())
}

async fn users_page(
    state: &WebState,
    me: &Me,
    form: &UserForm,
    error: Option<String>,
    invitation: Option<minijinja::Value>,
) -> Result<Html<String>, WebError> {
    let store = state.app.store();
    let services = store.services(me.0.commune.id).await?;
    let users: Vec<_> = store
        .users(me.0.commune.id)
        .await?
        .into_iter()
        .map(|u| {
            let service = u
                .service_id
                .and_then(|id| services.iter().find(|s| s.id == id))
                .map(|s| s.name.clone());
            ctx! {
                id => u.id.to_string(), name => u.display_name, email => u.email, title => u.title,
                role => u.role.label_fr(), service, active => u.active, host_admin => u.host_admin,
            }
        })
        .collect();
    Ok(Html(templates::render(
        "admin_users.html",
        ctx! {
            title => "Utilisateurs", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "users", error, users, form, roles => roles(),
            services => service_choices(state, me).await?, invitation,
        },
    )?))
}

pub async fn users(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    users_page(&state, &me, &UserForm::default(), None, None).await
}

pub async fn invite_user(
    State(state): State<WebState>,
    me: Me,
    Form(form): Form<UserForm>,
) -> Result<Html<String>, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let parsed = form.role().and_then(|role| Ok((role, form.service()?)));
    let (role, service_id) = match parsed {
        Ok(p) => p,
        Err(error) => return users_page(&state, &me, &form, Some(error), None).await,
    };
    let new = NewUser {
        email: form.email.clone(),
        display_name: form.name.clone(),
        title: Some(form.title.clone()),
        role,
        service_id,
        password: None,
        host_admin: false,
    };
    match state
        .app
        .invite_user(&me.0.commune, &actor(&me), new, Utc::now())
        .await
    {
        Ok(invitation) => {
            let url = invitation_url(&invitation.token);
            let shown =
                ctx! { name => invitation.user.display_name, email => invitation.user.email, url };
            users_page(&state, &me, &UserForm::default(), None, Some(shown)).await
        }
        Err(e) => {
            let error = bad(e)?;
            users_page(&state, &me, &form, error, None).await
        }
    }
}

async fn user_page(
    state: &WebState,
    me: &Me,
    id: Uuid,
    form: Option<&UserForm>,
    error: Option<String>,
    invitation: Option<String>,
) -> Result<Html<String>, WebError> {
    let user = state.app.store().user(id).await?;
    if user.commune_id != me.0.commune.id {
        return Err(WebError::NotFound);
    }
    let form = match form {
        Some(f) => ctx! {
            name => f.name, title => f.title, role => f.role, service => f.service,
            active => !f.active.is_empty(), host_admin => !f.host_admin.is_empty(),
        },
        None => ctx! {
            name => user.display_name, title => user.title, role => user.role.code(),
            service => user.service_id.map(|s| s.to_string()), active => user.active, host_admin => user.host_admin,
        },
    };
    Ok(Html(templates::render(
        "admin_user.html",
        ctx! {
            title => "Modifier un utilisateur", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "users", error, id => id.to_string(), email => user.email, form,
            roles => roles(), services => service_choices(state, me).await?,
            may_grant_host => me.0.user.host_admin, is_me => user.id == me.0.user.id, invitation,
        },
    )?))
}

pub async fn user(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    user_page(&state, &me, parse_id(&id)?, None, None, None).await
}

pub async fn update_user(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<UserForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let id = parse_id(&id)?;
    let parsed = form.role().and_then(|role| Ok((role, form.service()?)));
    let (role, service_id) = match parsed {
        Ok(p) => p,
        Err(error) => {
            return Ok(user_page(&state, &me, id, Some(&form), Some(error), None)
                .await?
                .into_response());
        }
    };
    let change = UserChange {
        display_name: form.name.clone(),
        title: Some(form.title.clone()),
        role,
        service_id,
        active: !form.active.is_empty(),
        host_admin: !form.host_admin.is_empty(),
    };
    match state
        .app
        .update_user(&me.0.commune, &me.0.user, id, change, Utc::now())
        .await
    {
        Ok(_) => Ok(Redirect::to("/administration/utilisateurs").into_response()),
        Err(e) => {
            let error = match WebError::from(e) {
                WebError::BadRequest(m) | WebError::Forbidden(m) => Some(m),
                other => return Err(other),
            };
            Ok(user_page(&state, &me, id, Some(&form), error, None)
                .await?
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A new link for a user to choose a password (lost invitation, forgotten password).
pub async fn new_link(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Html<String>, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let id = parse_id(&id)?;
    let user = state.app.store().user(id).await?;
    if user.commune_id != me.0.commune.id {
        return Err(WebError::NotFound);
    }
    let token = state.app.invitation_link(&user, Utc::now()).await?;
    let url = invitation_url(&token);
    user_page(&state, &me, id, None, None, Some(url)).await
}

// ---- Document types ------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DoctypeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    delay_count: String,
    #[serde(default)]
    delay_unit: String,
    #[serde(default)]
    silence: String,
    #[serde(default)]
    retention_years: String,
    #[serde(default)]
    final_action: String,
    #[serde(default)]
    no_acknowledgement: String,
    #[serde(default)]
    active: String,
}

impl DoctypeForm {
    fn from_doctype(d: &DocumentType, active: bool) -> Self {
        let (count, unit) = match d.delay {
            Delay::Months(n) => (n, "m"),
            Delay::Days(n) => (n, "d"),
            Delay::WorkingDays(n) => (n, "wd"),
        };
        DoctypeForm {
            csrf: String::new(),
            code: d.code.clone(),
            label: d.label.clone(),
            delay_count: count.to_string(),
            delay_unit: unit.into(),
            silence: d.silence.code().into(),
            retention_years: d.retention.years.to_string(),
            final_action: final_action_code(d.retention.final_action).into(),
            no_acknowledgement: if d.no_acknowledgement { "on" } else { "" }.into(),
            active: if active { "on" } else { "" }.into(),
        }
    }

    fn doctype(&self) -> Result<DocumentType, String> {
        let code = self.code.trim().to_lowercase();
        if !is_valid_code(&code) {
            return Err(format!(
                "code invalide « {code} » : 1 à 40 lettres minuscules, chiffres, - ou _"
            ));
        }
        let delay: Delay = format!("{}{}", self.delay_count.trim(), self.delay_unit)
            .parse()
            .map_err(|_| "délai invalide : un nombre de 1 à 3650 et une unité".to_owned())?;
        let silence: SilenceRule = self.silence.parse()?;
        let years: u32 = self
            .retention_years
            .trim()
            .parse()
            .ok()
            .filter(|y| *y <= 200)
            .ok_or("durée de conservation invalide : un nombre d'années de 0 à 200")?;
        let final_action = match self.final_action.as_str() {
            "keep" => FinalAction::Keep,
            "destroy" => FinalAction::Destroy,
            "sort" => FinalAction::Sort,
            _ => return Err("sort final invalide".into()),
        };
        Ok(DocumentType {
            code,
            label: self.label.trim().to_owned(),
            delay,
            silence,
            retention: RetentionRule {
                years,
                final_action,
            },
            no_acknowledgement: !self.no_acknowledgement.is_empty(),
        })
    }
}

fn final_action_code(a: FinalAction) -> &'static str {
    match a {
        FinalAction::Keep => "keep",
        FinalAction::Destroy => "destroy",
        FinalAction::Sort => "sort",
    }
}

fn final_action_label(a: FinalAction) -> &'static str {
    match a {
        FinalAction::Keep => "conservation",
        FinalAction::Destroy => "destruction",
        FinalAction::Sort => "tri",
    }
}

fn doctype_choices() -> minijinja::Value {
    ctx! {
        units => vec![
            ctx! { code => "d", label => "jours calendaires" },
            ctx! { code => "wd", label => "jours ouvrés" },
            ctx! { code => "m", label => "mois" },
        ],
        silences => [SilenceRule::None, SilenceRule::Acceptance, SilenceRule::Rejection]
            .iter()
            .map(|s| ctx! { code => s.code(), label => s.label_fr() })
            .collect::<Vec<_>>(),
        final_actions => [FinalAction::Sort, FinalAction::Keep, FinalAction::Destroy]
            .iter()
            .map(|a| ctx! { code => final_action_code(*a), label => final_action_label(*a) })
            .collect::<Vec<_>>(),
    }
}

async fn doctypes_page(
    state: &WebState,
    me: &Me,
    form: &DoctypeForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let doctypes: Vec<_> = state
        .app
        .store()
        .all_doctypes(me.0.commune.id)
        .await?
        .into_iter()
        .map(|(d, active)| {
            ctx! {
                code => d.code, label => d.label, delay => d.delay.label_fr(), silence => d.silence.label_fr(),
                retention => format!("{} an(s), puis {}", d.retention.years, final_action_label(d.retention.final_action)),
                no_acknowledgement => d.no_acknowledgement, active,
            }
        })
        .collect();
    Ok(Html(templates::render(
        "admin_doctypes.html",
        ctx! {
            title => "Types de documents", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "doctypes", error, notice, doctypes, form, choices => doctype_choices(),
        },
    )?))
}

pub async fn doctypes(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    let blank = DoctypeForm {
        delay_count: "2".into(),
        delay_unit: "m".into(),
        silence: "none".into(),
        retention_years: "6".into(),
        final_action: "sort".into(),
        ..DoctypeForm::default()
    };
    doctypes_page(&state, &me, &blank, None, None).await
}

pub async fn add_doctype(
    State(state): State<WebState>,
    me: Me,
    Form(form): Form<DoctypeForm>,
) -> Result<Html<String>, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let doctype = match form.doctype() {
        Ok(d) => d,
        Err(error) => return doctypes_page(&state, &me, &form, Some(error), None).await,
    };
    match state
        .app
        .add_doctype(&me.0.commune, &doctype, &actor(&me), Utc::now())
        .await
    {
        Ok(()) => {
            let notice = Some(format!("Type « {} » ajouté.", doctype.label));
            let blank = DoctypeForm::from_doctype(&doctype, true);
            let blank = DoctypeForm {
                code: String::new(),
                label: String::new(),
                ..blank
            };
            doctypes_page(&state, &me, &blank, None, notice).await
        }
        Err(e) => {
            let error = bad(e)?;
            doctypes_page(&state, &me, &form, error, None).await
        }
    }
}

async fn doctype_page(
    state: &WebState,
    me: &Me,
    code: &str,
    form: Option<&DoctypeForm>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let (doctype, active) = state
        .app
        .store()
        .all_doctypes(me.0.commune.id)
        .await?
        .into_iter()
        .find(|(d, _)| d.code == code)
        .ok_or(WebError::NotFound)?;
    let current = DoctypeForm::from_doctype(&doctype, active);
    Ok(Html(templates::render(
        "admin_doctype.html",
        ctx! {
            title => "Modifier un type de document", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "doctypes", error, code, form => form.unwrap_or(&current),
            choices => doctype_choices(),
        },
    )?))
}

pub async fn doctype(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
) -> Result<Html<String>, WebError> {
    me.require_admin()?;
    doctype_page(&state, &me, &code, None, None).await
}

pub async fn update_doctype(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
    Form(mut form): Form<DoctypeForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    form.code = code.clone();
    let doctype = match form.doctype() {
        Ok(d) => d,
        Err(error) => {
            return Ok(doctype_page(&state, &me, &code, Some(&form), Some(error))
                .await?
                .into_response());
        }
    };
    match state
        .app
        .update_doctype(
            &me.0.commune,
            &actor(&me),
            doctype,
            !form.active.is_empty(),
            Utc::now(),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/administration/types").into_response()),
        Err(e) => {
            let error = bad(e)?;
            Ok(doctype_page(&state, &me, &code, Some(&form), error)
                .await?
                .into_response())
        }
    }
}

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
        .store()
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
    me.require_host_admin()?;
    host_page(&state, &me, &CommuneForm::default(), None, None).await
}

pub async fn create_commune(
    State(state): State<WebState>,
    me: Me,
    Form(form): Form<CommuneForm>,
) -> Result<Html<String>, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_host_admin()?;
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
            let url = invitation_url(&invitation.token);
            let created = ctx! { name => commune.name, insee => commune.insee, email => invitation.user.email, url };
            host_page(&state, &me, &CommuneForm::default(), None, Some(created)).await
        }
        Err(e) => {
            let error = bad(e)?;
            host_page(&state, &me, &form, error, None).await
        }
    }
}
