//! Administration of what citizens meet: the public request forms, the reply templates, and
//! the outbox of email (what left, what waits, what failed and why).

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::citizens::FormInput;
use parapheur_app::domain::reply_template::VARIABLES;
use parapheur_app::domain::request_form::{FieldKind, FormField};
use serde::Deserialize;

use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::{CsrfOnly, Me, Posted};
use crate::{WebState, assets, templates, views};

/// The fields of a form as the administrator writes them: one per line,
/// `libellé ; type ; obligatoire ; choix, choix`.
pub fn fields_to_lines(fields: &[FormField]) -> String {
    fields
        .iter()
        .map(|f| {
            let (kind, options) = match &f.kind {
                FieldKind::Text => ("texte", String::new()),
                FieldKind::LongText => ("texte long", String::new()),
                FieldKind::Choice { options } => ("choix", options.join(", ")),
                FieldKind::Date => ("date", String::new()),
                FieldKind::File => ("fichier", String::new()),
            };
            let mut line = format!(
                "{} ; {kind} ; {}",
                f.label,
                if f.required {
                    "obligatoire"
                } else {
                    "facultatif"
                }
            );
            if !options.is_empty() {
                line.push_str(&format!(" ; {options}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the lines back; keys are kept for labels that did not change, so answers already
/// received keep their meaning.
pub fn fields_from_lines(text: &str, previous: &[FormField]) -> Result<Vec<FormField>, String> {
    let mut fields: Vec<FormField> = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split(';').map(str::trim).collect();
        let label = parts[0].to_owned();
        if label.is_empty() {
            return Err(format!("ligne {} : le libellé manque", n + 1));
        }
        let kind = match parts.get(1).map(|k| k.to_lowercase()).as_deref() {
            None | Some("texte") | Some("") => FieldKind::Text,
            Some("texte long") => FieldKind::LongText,
            Some("date") => FieldKind::Date,
            Some("fichier") => FieldKind::File,
            Some("choix") => FieldKind::Choice {
                options: parts
                    .get(3)
                    .map(|o| {
                        o.split(',')
                            .map(|x| x.trim().to_owned())
                            .filter(|x| !x.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            Some(other) => {
                return Err(format!(
                    "ligne {} : type « {other} » inconnu (texte, texte long, choix, date ou fichier)",
                    n + 1
                ));
            }
        };
        let required = match parts.get(2).map(|r| r.to_lowercase()).as_deref() {
            None | Some("") | Some("facultatif") => false,
            Some("obligatoire") => true,
            Some(other) => {
                return Err(format!(
                    "ligne {} : « {other} » : écrivez obligatoire ou facultatif",
                    n + 1
                ));
            }
        };
        let key = previous
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.key.clone())
            .unwrap_or_else(|| unique_key(&label, &fields));
        fields.push(FormField {
            key,
            label,
            kind,
            required,
            help: previous
                .iter()
                .find(|f| f.label == parts[0])
                .and_then(|f| f.help.clone()),
        });
    }
    Ok(fields)
}

fn unique_key(label: &str, taken: &[FormField]) -> String {
    let mut base: String = label
        .chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect::<String>()
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    base.truncate(30);
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base = format!("champ_{base}");
    }
    let mut key = base.clone();
    let mut n = 2;
    while taken.iter().any(|f| f.key == key) {
        key = format!("{base}_{n}");
        n += 1;
    }
    key
}

pub async fn forms(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let doctypes = state.app.doctypes(commune.id).await?;
    let services = state.app.services(commune.id).await?;
    let forms: Vec<_> = state
        .app
        .request_forms(commune.id)
        .await?
        .into_iter()
        .map(|f| {
            ctx! {
                code => f.code, title => f.title, active => f.active,
                doctype => f.doctype_code.and_then(|c| doctypes.iter().find(|d| d.code == c).map(|d| d.label.clone())),
                service => f.service_id.and_then(|s| services.iter().find(|x| x.id == s).map(|x| x.name.clone())),
            }
        })
        .collect();
    Ok(Html(templates::render(
        "admin_forms.html",
        ctx! {
            title => "Démarches en ligne", style_url => assets::style_url(), script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "forms",
            forms, public_url => format!("{}/demarches/{}", state.app.public_url(), commune.insee),
        },
    )?))
}

#[derive(Debug, Default, Deserialize)]
pub struct FormEdit {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    intro: String,
    #[serde(default)]
    doctype: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    fields: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    active: String,
}

async fn form_page(
    state: &WebState,
    me: &Me,
    new: bool,
    form: &FormEdit,
    error: Option<String>,
) -> Result<Response, WebError> {
    let commune = &me.0.commune;
    let doctypes = state.app.doctypes(commune.id).await?;
    let services = state.app.services(commune.id).await?;
    let page = templates::render(
        "admin_form.html",
        ctx! {
            title => if new { "Nouveau formulaire".to_owned() } else { form.title.clone() },
            style_url => assets::style_url(), script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "forms", error => error.clone(),
            new,
            form => ctx! {
                code => form.code, title => form.title, intro => form.intro, doctype => form.doctype,
                service => form.service, fields => form.fields, consent => form.consent,
                active => !form.active.is_empty(),
            },
            doctypes => doctypes.iter().map(|d| ctx! { code => d.code, label => d.label }).collect::<Vec<_>>(),
            services => services.iter().filter(|s| s.active).map(|s| ctx! { id => s.id.to_string(), name => s.name }).collect::<Vec<_>>(),
        },
    )?;
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Html(page)).into_response())
}

pub async fn form(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    if code == "nouveau" {
        let blank = FormEdit {
            consent: String::new(),
            active: "1".into(),
            ..FormEdit::default()
        };
        return form_page(&state, &me, true, &blank, None).await;
    }
    let public = state
        .app
        .request_form(&me.0.commune, &code)
        .await
        .map_err(|_| WebError::NotFound)?;
    let edit = FormEdit {
        csrf: String::new(),
        code: public.row.code.clone(),
        title: public.row.title.clone(),
        intro: public.row.intro.clone(),
        doctype: public.row.doctype_code.clone().unwrap_or_default(),
        service: public
            .row
            .service_id
            .map(|s| s.to_string())
            .unwrap_or_default(),
        fields: fields_to_lines(&public.form.fields),
        consent: public.row.consent.clone(),
        active: if public.row.active {
            "1".into()
        } else {
            String::new()
        },
    };
    form_page(&state, &me, false, &edit, None).await
}

pub async fn save_form(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
    Posted(edit): Posted<FormEdit>,
) -> Result<Response, WebError> {
    let new = code == "nouveau";
    let code = if new {
        edit.code.trim().to_owned()
    } else {
        code
    };
    let previous = match state.app.request_form(&me.0.commune, &code).await {
        Ok(existing) if new => {
            return form_page(
                &state,
                &me,
                true,
                &edit,
                Some(format!("le code « {} » est déjà pris", existing.row.code)),
            )
            .await;
        }
        Ok(existing) => existing.form.fields,
        Err(_) => Vec::new(),
    };
    let fields = match fields_from_lines(&edit.fields, &previous) {
        Ok(f) => f,
        Err(e) => return form_page(&state, &me, new, &edit, Some(e)).await,
    };
    let service_id = if edit.service.trim().is_empty() {
        None
    } else {
        Some(parse_id(edit.service.trim())?)
    };
    let input = FormInput {
        code: code.clone(),
        title: edit.title.clone(),
        intro: edit.intro.clone(),
        doctype_code: Some(edit.doctype.trim().to_owned()).filter(|d| !d.is_empty()),
        service_id,
        fields_json: parapheur_app::domain::request_form::fields_to_json(&fields),
        consent: edit.consent.clone(),
        active: !edit.active.is_empty(),
    };
    match state
        .app
        .save_request_form(&me.0.commune, &me.0.actor(), input, Utc::now())
        .await
    {
        Ok(()) => Ok(Redirect::to("/administration/demarches").into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            form_page(&state, &me, new, &edit, Some(e.user_message())).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn reply_templates(
    State(state): State<WebState>,
    me: Me,
) -> Result<Html<String>, WebError> {
    let list: Vec<_> = state
        .app
        .reply_templates(me.0.commune.id)
        .await?
        .into_iter()
        .map(|t| ctx! { code => t.code, name => t.name, subject => t.subject, active => t.active })
        .collect();
    Ok(Html(templates::render(
        "admin_templates.html",
        ctx! {
            title => "Modèles de réponse", style_url => assets::style_url(), script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "templates",
            templates => list,
        },
    )?))
}

#[derive(Debug, Default, Deserialize)]
pub struct TemplateEdit {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    active: String,
}

async fn template_page(
    me: &Me,
    new: bool,
    t: &TemplateEdit,
    error: Option<String>,
) -> Result<Response, WebError> {
    let page = templates::render(
        "admin_template.html",
        ctx! {
            title => if new { "Nouveau modèle".to_owned() } else { t.name.clone() },
            style_url => assets::style_url(), script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "templates", error => error.clone(),
            new,
            template => ctx! { code => t.code, name => t.name, subject => t.subject, body => t.body, active => !t.active.is_empty() },
            variables => VARIABLES.iter().map(|v| ctx! { name => v.name, label => v.label_fr }).collect::<Vec<_>>(),
            variable_names => VARIABLES.iter().map(|v| v.name).collect::<Vec<_>>().join(" "),
        },
    )?;
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Html(page)).into_response())
}

pub async fn reply_template(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    if code == "nouveau" {
        let blank = TemplateEdit {
            active: "1".into(),
            ..TemplateEdit::default()
        };
        return template_page(&me, true, &blank, None).await;
    }
    let t = state
        .app
        .reply_template(me.0.commune.id, &code)
        .await?
        .ok_or(WebError::NotFound)?;
    let edit = TemplateEdit {
        csrf: String::new(),
        code: t.code,
        name: t.name,
        subject: t.subject,
        body: t.body,
        active: if t.active { "1".into() } else { String::new() },
    };
    template_page(&me, false, &edit, None).await
}

pub async fn save_reply_template(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
    Posted(edit): Posted<TemplateEdit>,
) -> Result<Response, WebError> {
    let new = code == "nouveau";
    let code = if new {
        edit.code.trim().to_owned()
    } else {
        code
    };
    if new
        && state
            .app
            .reply_template(me.0.commune.id, &code)
            .await?
            .is_some()
    {
        return template_page(
            &me,
            true,
            &edit,
            Some(format!("le code « {code} » est déjà pris")),
        )
        .await;
    }
    match state
        .app
        .save_reply_template(
            &me.0.commune,
            &me.0.actor(),
            &parapheur_app::citizens::TemplateInput {
                code: code.clone(),
                name: edit.name.clone(),
                subject: edit.subject.clone(),
                body: edit.body.clone(),
                active: !edit.active.is_empty(),
            },
            Utc::now(),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/administration/modeles").into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            template_page(&me, new, &edit, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn outbox(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let counts = state.app.outbox_counts(Some(commune.id)).await?;
    let messages: Vec<_> = state
        .app
        .outbox(commune.id, 200)
        .await?
        .into_iter()
        .map(|m| {
            use parapheur_app::citizens::views::OutboxState;
            ctx! {
                id => m.id.to_string(),
                at => views::instant(m.created_at, commune),
                item => m.item_id.map(|i| format!("/courrier/{i}")),
                subject => m.subject, to => m.recipients, state => m.state.label_fr(),
                failed => m.state == OutboxState::Failed, sent => m.state == OutboxState::Sent,
                sent_at => m.sent_at.map(|s| views::instant(s, commune)),
                error => m.last_error, attempts => m.attempts,
                next => (m.state == OutboxState::Pending && m.attempts > 0).then(|| views::instant(m.next_attempt_at, commune)),
            }
        })
        .collect();
    Ok(Html(templates::render(
        "admin_outbox.html",
        ctx! {
            title => "Courriels envoyés", style_url => assets::style_url(), script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "outbox",
            counts, messages, smtp => state.app.smtp_setting().is_some(),
        },
    )?))
}

pub async fn retry_email(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    let id = parse_id(&id)?;
    state.app.retry_email(&me.0.commune, id, Utc::now()).await?;
    Ok(Redirect::to("/administration/envois").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lines_round_trip_and_keep_keys() {
        let text = "Date souhaitée ; date ; obligatoire\nType de salle ; choix ; facultatif ; Grande salle, Petite salle\nPlan ; fichier";
        let fields = fields_from_lines(text, &[]).unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].key, "date_souhaitee");
        assert!(fields[0].required);
        assert_eq!(
            fields[1].kind,
            FieldKind::Choice {
                options: vec!["Grande salle".into(), "Petite salle".into()]
            }
        );
        let again = fields_from_lines(&fields_to_lines(&fields), &fields).unwrap();
        assert_eq!(again, fields);
        assert!(fields_from_lines("X ; couleur", &[]).is_err());
        assert!(fields_from_lines("X ; texte ; peut-être", &[]).is_err());
    }
}

crate::session::csrf_forms!(FormEdit, TemplateEdit);
