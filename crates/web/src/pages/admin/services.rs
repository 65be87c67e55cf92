//! The commune's services.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::actor;
use super::bad;
use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::{Me, Posted};
use crate::{WebState, assets, templates};

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
    services_page(&state, &me, &ServiceForm::default(), None, None).await
}

pub async fn add_service(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<ServiceForm>,
) -> Result<Html<String>, WebError> {
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
    service_page(&state, &me, parse_id(&id)?, None, None).await
}

pub async fn update_service(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<ServiceForm>,
) -> Result<Response, WebError> {
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

crate::session::csrf_forms!(ServiceForm);
