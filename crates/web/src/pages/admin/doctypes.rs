//! The commune's document types: deadlines, silence rules and retention.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::domain::doctype::{DocumentType, is_valid_code};
use parapheur_app::domain::retention::{FinalAction, RetentionRule};
use parapheur_app::domain::{Delay, SilenceRule};
use serde::{Deserialize, Serialize};

use super::actor;
use super::bad;
use crate::error::WebError;
use crate::session::{Me, Posted};
use crate::{WebState, assets, templates};

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

pub async fn doctype(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
) -> Result<Html<String>, WebError> {
    doctype_page(&state, &me, &code, None, None).await
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
        .all_doctypes(me.0.commune.id)
        .await?
        .into_iter()
        .map(|(d, active)| {
            ctx! {
                code => d.code, label => d.label, delay => d.delay.label_fr(), silence => d.silence.label_fr(),
                retention => format!("{}, puis {}", parapheur_app::domain::french::count(d.retention.years as usize, "an", "ans"), final_action_label(d.retention.final_action)),
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

/// RGPD art. 30: the record of processing activities, drawn from the commune's settings
/// and its document types' retention.
pub async fn processing_record(
    State(state): State<WebState>,
    me: Me,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let settings = state.app.commune_settings(commune.id).await?;
    let retention: Vec<String> = state
        .app
        .all_doctypes(commune.id)
        .await?
        .into_iter()
        .filter(|(_, active)| *active)
        .map(|(d, _)| {
            format!(
                "{} : {}, puis {}",
                d.label,
                parapheur_app::domain::french::count(
                    usize::try_from(d.retention.years).unwrap_or(0),
                    "an",
                    "ans"
                ),
                final_action_label(d.retention.final_action)
            )
        })
        .collect();
    let webhooks: Vec<String> = state
        .app
        .webhooks(commune, &me.0.actor())
        .await?
        .into_iter()
        .filter(|w| w.active)
        .map(|w| {
            // The address's host, enough to say which software receives the data.
            let after_scheme = w.url.split_once("://").map_or(w.url.as_str(), |(_, r)| r);
            let host = after_scheme
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default();
            format!("{} ({host})", w.label)
        })
        .collect();
    let (header, activities) = parapheur_app::domain::privacy::processing_record(
        &parapheur_app::domain::privacy::RecordFacts {
            commune_name: &commune.name,
            address: settings.address.as_deref(),
            email: settings.email.as_deref(),
            dpo_contact: settings.dpo_contact.as_deref(),
            retention,
            webhooks,
        },
    );
    let activities: Vec<_> = activities
        .into_iter()
        .map(|a| ctx! { name => a.name, entries => a.entries })
        .collect();
    Ok(Html(templates::render(
        "admin_record.html",
        ctx! {
            title => "Registre des activités de traitement", style_url => assets::style_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "record",
            header, activities,
        },
    )?))
}

pub async fn doctypes(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
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
    Posted(form): Posted<DoctypeForm>,
) -> Result<Html<String>, WebError> {
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

pub async fn update_doctype(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
    Posted(mut form): Posted<DoctypeForm>,
) -> Result<Response, WebError> {
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

crate::session::csrf_forms!(DoctypeForm);
