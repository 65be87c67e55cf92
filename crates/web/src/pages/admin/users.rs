//! The commune's users, their roles and services, invitations and password links.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::NewUser;
use parapheur_app::administration::UserChange;
use parapheur_app::domain::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::actor;
use super::bad;
use super::invitation_url;
use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::{CsrfOnly, Me, Posted};
use crate::{WebState, assets, templates};

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
    /// The extension (or direct line) ringing on the person's desk, for the phone system.
    #[serde(default)]
    phone_extension: String,
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
    let services = state.app.services(me.0.commune.id).await?;
    let users: Vec<_> = state
        .app
        .managed_users(&me.0.commune, &me.0.user)
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
    users_page(&state, &me, &UserForm::default(), None, None).await
}

pub async fn invite_user(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<UserForm>,
) -> Result<Html<String>, WebError> {
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
            let url = invitation.shown_token.as_deref().map(invitation_url);
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
    invitation: Option<minijinja::Value>,
) -> Result<Html<String>, WebError> {
    let user = state
        .app
        .managed_user(&me.0.commune, &me.0.user, id)
        .await?;
    let extension = current_extension(state, me, id).await?;
    let form = match form {
        Some(f) => ctx! {
            name => f.name, title => f.title, role => f.role, service => f.service,
            active => !f.active.is_empty(), phone_extension => f.phone_extension,
        },
        None => ctx! {
            name => user.display_name, title => user.title, role => user.role.code(),
            service => user.service_id.map(|s| s.to_string()), active => user.active,
            phone_extension => extension,
        },
    };
    Ok(Html(templates::render(
        "admin_user.html",
        ctx! {
            title => "Modifier un utilisateur", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "users", error, id => id.to_string(), email => user.email, form,
            roles => roles(), services => service_choices(state, me).await?,
            host_admin => user.host_admin,
            second_factor => state.app.has_second_factor(user.id).await?, is_me => user.id == me.0.user.id, invitation,
        },
    )?))
}

/// The extension set for a user of the commune, if any.
async fn current_extension(
    state: &WebState,
    me: &Me,
    id: Uuid,
) -> Result<Option<String>, WebError> {
    Ok(state
        .app
        .phone_extensions(&me.0.commune)
        .await?
        .into_iter()
        .find(|(user, _)| *user == id)
        .map(|(_, extension)| extension))
}

pub async fn user(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    user_page(&state, &me, parse_id(&id)?, None, None, None).await
}

pub async fn update_user(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<UserForm>,
) -> Result<Response, WebError> {
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
    };
    match state
        .app
        .update_user(&me.0.commune, &me.0.user, id, change, Utc::now())
        .await
    {
        Ok(_)
            if form.phone_extension.trim()
                != current_extension(&state, &me, id)
                    .await?
                    .unwrap_or_default() =>
        {
            match state
                .app
                .set_phone_extension(
                    &me.0.commune,
                    &actor(&me),
                    id,
                    &form.phone_extension,
                    Utc::now(),
                )
                .await
            {
                Ok(()) => Ok(Redirect::to("/administration/utilisateurs").into_response()),
                Err(e) => {
                    let error = match WebError::from(e) {
                        WebError::BadRequest(m) | WebError::Forbidden(m) => Some(format!(
                            "le reste est enregistré, mais pas le poste téléphonique : {m}"
                        )),
                        other => return Err(other),
                    };
                    Ok(user_page(&state, &me, id, Some(&form), error, None)
                        .await?
                        .into_response())
                }
            }
        }
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

/// A new link for a user to choose a password (lost invitation, forgotten password): sent to
/// the user's own address, shown here only for an account that never had a password.
pub async fn new_link(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let id = parse_id(&id)?;
    let sent = state
        .app
        .new_password_link(&me.0.commune, &me.0.user, id, Utc::now())
        .await?;
    let url = sent.shown_token.as_deref().map(invitation_url);
    user_page(&state, &me, id, None, None, Some(ctx! { url })).await
}

/// Resets a user's second factor (a lost phone): journaled, the user told by email, their
/// signing key re-issued.
pub async fn reset_second_factor(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let id = parse_id(&id)?;
    let user = state
        .app
        .reset_second_factor(&me.0.commune, &actor(&me), id, Utc::now())
        .await?;
    let notice = format!(
        "Double authentification de {} réinitialisée : un courriel l'en avertit ; son certificat de signature a été renouvelé.",
        user.display_name
    );
    user_page(&state, &me, id, None, None, Some(ctx! { notice })).await
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

crate::session::csrf_forms!(UserForm);
