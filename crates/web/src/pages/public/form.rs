//! A commune's form: the page with its fields, and the submission (limit, honeypot, proof
//! of work, files) answered by the confirmation with the tracking link.

use std::collections::BTreeMap;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use parapheur_app::citizens::{MAX_UPLOADS, PublicForm, SubmitError, Upload, refused_files};
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::request_form::{
    CIVILITIES, CONSENT_KEY, FieldError, FieldKind, IDENTITY_KEYS,
};
use parapheur_app::domain::{Commune, pow};
use serde::Serialize;

use super::ACCEPT;
use super::CHALLENGE;
use super::HONEYPOT;
use super::MAX_BODY_BYTES;
use super::MAX_PARTS;
use super::Mairie;
use super::PublicError;
use super::SOLUTION;
use super::active_form;
use super::commune_of;
use super::local_moment;
use super::mairie;
use super::private;
use super::sentence;
use super::too_many;
use crate::pages::ClientIp;
use crate::{WebState, assets, templates};
use parapheur_app::citizens::{Bucket, PowRefusal};

/// One field as the form template draws it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FieldView {
    key: String,
    /// The element's id (`champ-{key}`), which the error summary links to.
    id: String,
    label: String,
    /// `text`, `email`, `tel`, `date`, `textarea`, `select`, `radio` or `file`.
    kind: &'static str,
    options: Vec<String>,
    /// The `required` attribute (the browser checks it too).
    required: bool,
    /// "(obligatoire)" after the label.
    required_note: bool,
    help: Option<String>,
    value: String,
    error: Option<String>,
    /// Space-separated ids of the help and the error, for `aria-describedby`.
    describedby: String,
    autocomplete: Option<&'static str>,
    inputmode: Option<&'static str>,
}

/// The identity block of R112-9-1, under the keys `validate_submission` reads.
fn identity_fields(values: &BTreeMap<String, String>, errors: &[FieldError]) -> Vec<FieldView> {
    let f = |key, label, kind, required, note, help: Option<&str>| {
        FieldView::new(
            key,
            label,
            kind,
            required,
            note,
            help.map(str::to_owned),
            values,
            errors,
        )
    };
    let mut civility = f("civilite", "Civilité", "select", false, false, None);
    civility.options = CIVILITIES.iter().map(|c| (*c).to_owned()).collect();
    vec![
        civility.autocomplete("honorific-prefix"),
        f("prenom", "Prénom", "text", false, true, None).autocomplete("given-name"),
        f("nom", "Nom", "text", true, true, None).autocomplete("family-name"),
        f(
            "adresse",
            "Adresse",
            "textarea",
            false,
            true,
            Some("Numéro, rue, complément."),
        )
        .autocomplete("street-address"),
        f("code_postal", "Code postal", "text", false, true, None)
            .autocomplete("postal-code")
            .inputmode("numeric"),
        f("ville", "Commune", "text", false, true, None).autocomplete("address-level2"),
        f(
            "courriel",
            "Adresse électronique",
            "email",
            true,
            true,
            Some("Les accusés et la réponse de la mairie vous y sont envoyés."),
        )
        .autocomplete("email"),
        f("telephone", "Téléphone", "tel", false, false, None).autocomplete("tel"),
        f(
            "siret",
            "SIRET",
            "text",
            false,
            false,
            Some("Si vous écrivez pour une entreprise ou une association : ses 14 chiffres."),
        )
        .inputmode("numeric"),
    ]
}

/// The form's own fields, by kind.
fn own_fields(
    public: &PublicForm,
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
    files_lost: bool,
) -> Vec<FieldView> {
    public
        .form
        .fields
        .iter()
        .map(|field| {
            let mut help = field.help.clone().filter(|h| !h.trim().is_empty());
            let kind = match &field.kind {
                FieldKind::Text => "text",
                FieldKind::LongText => "textarea",
                FieldKind::Date => "date",
                FieldKind::File => {
                    if files_lost {
                        let again = "Joignez à nouveau vos fichiers : ils ne sont pas conservés.";
                        help = Some(match help {
                            Some(h) => format!("{h} {again}"),
                            None => again.to_owned(),
                        });
                    }
                    "file"
                }
                // A few short choices read best as radio buttons, more in a list.
                FieldKind::Choice { options } if options.len() <= 4 => "radio",
                FieldKind::Choice { .. } => "select",
            };
            let mut view = FieldView::new(
                &field.key,
                &field.label,
                kind,
                field.required,
                field.required,
                help,
                values,
                errors,
            );
            if let FieldKind::Choice { options } = &field.kind {
                view.options = options.iter().map(|o| o.trim().to_owned()).collect();
            }
            if kind == "file" {
                view.value.clear();
            }
            view
        })
        .collect()
}

/// Everything the form page needs beyond the form itself.
#[derive(Default)]
struct FormState {
    values: BTreeMap<String, String>,
    errors: Vec<FieldError>,
    /// A message for the whole form (anti-robot check, refused file).
    problem: Option<String>,
    /// Files were sent and are not kept: ask for them again.
    files_lost: bool,
}

async fn form_page(
    state: &WebState,
    commune: &Commune,
    public: &PublicForm,
    status: StatusCode,
    fs: FormState,
    now: DateTime<Utc>,
) -> Result<Response, PublicError> {
    let mairie = mairie(state, commune).await?;
    let challenge = state.app.issue_pow_challenge(now)?;
    let identity = identity_fields(&fs.values, &fs.errors);
    let fields = own_fields(public, &fs.values, &fs.errors, fs.files_lost);
    // RGPD art. 13: what is done with the data, on what basis; no consent is asked (the
    // basis is the mairie's public task, art. 6(1)(e)).
    let privacy =
        parapheur_app::domain::privacy::form_notice(&parapheur_app::domain::privacy::NoticeFacts {
            commune_name: &commune.name,
            address: mairie.address.as_deref(),
            email: mairie.email.as_deref(),
            dpo_contact: mairie.dpo_contact.as_deref(),
            purpose: &public.form.title,
            details: Some(public.form.consent.as_str()),
        });
    // The summary: each error, linked to its field (by label), in the page's order.
    let labels: Vec<(String, String)> = identity
        .iter()
        .chain(fields.iter())
        .map(|f| (f.key.clone(), f.label.clone()))
        .collect();
    let mut summary = Vec::new();
    for (key, label) in &labels {
        for e in fs.errors.iter().filter(|e| &e.key == key) {
            summary.push(ctx! {
                href => format!("#champ-{key}"), label, message => e.message_fr,
            });
        }
    }
    for e in fs
        .errors
        .iter()
        .filter(|e| !labels.iter().any(|(k, _)| *k == e.key))
    {
        summary.push(ctx! { href => "#formulaire", label => e.key, message => e.message_fr });
    }
    let has_errors = !summary.is_empty() || fs.problem.is_some();
    let title = if has_errors {
        format!("Erreur — {}", public.form.title)
    } else {
        public.form.title.clone()
    };
    let html = templates::render(
        "public_form.html",
        ctx! {
            title, mairie, challenge, identity, fields, summary, has_errors,
            form_title => public.form.title,
            intro => public.form.intro,
            action => format!("/demarches/{}/{}", commune.insee, public.form.code),
            privacy,
            problem => fs.problem,
            files_lost => fs.files_lost,
            accept => ACCEPT,
            honeypot => HONEYPOT,
            challenge_name => CHALLENGE,
            solution_name => SOLUTION,
            style_url => assets::style_url(),
            demande_url => assets::demande_url(),
        },
    )?;
    Ok((status, Html(html)).into_response())
}

/// GET /demarches/{insee}/{code}: the form, with a fresh challenge.
pub async fn form(
    State(state): State<WebState>,
    Path((insee, code)): Path<(String, String)>,
) -> Result<Response, PublicError> {
    let commune = commune_of(&state, &insee).await?;
    let public = active_form(&state, &commune, &code).await?;
    form_page(
        &state,
        &commune,
        &public,
        StatusCode::OK,
        FormState::default(),
        Utc::now(),
    )
    .await
}

/// What a submission carried.
#[derive(Default)]
struct Posted {
    values: BTreeMap<String, String>,
    uploads: Vec<Upload>,
    honeypot: bool,
    challenge: String,
    solution: String,
}

/// The refusal of a body that cannot be read whole.
pub(super) fn unreadable(e: &axum::extract::multipart::MultipartError) -> PublicError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PublicError::BadRequest(format!(
            "Votre envoi dépasse {} Mo en tout : joignez des fichiers moins lourds (20 Mo au plus chacun).",
            MAX_BODY_BYTES / (1024 * 1024)
        ))
    } else {
        PublicError::BadRequest("Votre envoi a été interrompu ou est illisible : réessayez.".into())
    }
}

/// Reads a submission: the known text fields, the files of the form's file fields (at
/// most [`MAX_UPLOADS`]), the honeypot and the proof of work. Anything else is dropped.
async fn read_submission(
    mut multipart: Multipart,
    public: &PublicForm,
) -> Result<Posted, PublicError> {
    let mut posted = Posted::default();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(PublicError::BadRequest(
                "Formulaire illisible : trop de champs.".into(),
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let is_file_field = public
            .form
            .fields
            .iter()
            .any(|f| f.key == name && f.kind == FieldKind::File);
        if is_file_field {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
            if filename.is_empty() && bytes.is_empty() {
                continue; // a file input left empty
            }
            if posted.uploads.len() >= MAX_UPLOADS {
                return Err(PublicError::BadRequest(format!(
                    "Au plus {MAX_UPLOADS} fichiers par demande : retirez-en et envoyez à nouveau."
                )));
            }
            posted.uploads.push(Upload {
                field: name,
                filename,
                bytes: bytes.to_vec(),
            });
            continue;
        }
        let known = IDENTITY_KEYS.contains(&name.as_str())
            || name == CONSENT_KEY
            || name == HONEYPOT
            || name == CHALLENGE
            || name == SOLUTION
            || public.form.fields.iter().any(|f| f.key == name);
        if !known || field.file_name().is_some() {
            continue;
        }
        let value = field.text().await.map_err(|e| unreadable(&e))?;
        match name.as_str() {
            HONEYPOT => posted.honeypot |= !value.trim().is_empty(),
            CHALLENGE => posted.challenge = value.trim().to_owned(),
            SOLUTION => posted.solution = value.trim().to_owned(),
            _ => {
                posted.values.insert(name, value);
            }
        }
    }
    Ok(posted)
}

/// POST /demarches/{insee}/{code}: checks, in order, the rate limit, the honeypot and the
/// proof of work, then registers the request and answers with the confirmation.
pub async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Path((insee, code)): Path<(String, String)>,
    multipart: Multipart,
) -> Result<Response, PublicError> {
    if let Some(wait) = state.app.limit_public(Bucket::Submit, ip).await? {
        let mairie = match commune_of(&state, &insee).await {
            Ok(c) => mairie(&state, &c).await.ok(),
            Err(_) => None,
        };
        return Ok(too_many(wait, mairie.as_ref()));
    }
    let now = Utc::now();
    let commune = commune_of(&state, &insee).await?;
    let public = active_form(&state, &commune, &code).await?;
    let posted = read_submission(multipart, &public).await?;
    if posted.honeypot {
        tracing::info!(%insee, %code, "public form: honeypot filled, nothing registered");
        return Err(PublicError::BadRequest(
            "Votre demande n'a pas pu être enregistrée. Si vous êtes une personne, écrivez ou téléphonez à la mairie."
                .into(),
        ));
    }
    let files_lost = !posted.uploads.is_empty();
    let refuse = |problem: String, values: BTreeMap<String, String>| FormState {
        values,
        errors: Vec::new(),
        problem: Some(problem),
        files_lost,
    };
    match state
        .app
        .check_pow(&posted.challenge, &posted.solution, now)
        .await?
    {
        Ok(()) => {}
        Err(refusal) => {
            let problem = match refusal {
                PowRefusal::NoScript => no_script_message(&mairie(&state, &commune).await?),
                PowRefusal::Invalid(pow::PowError::Expired) => "La vérification anti-robot a expiré : le formulaire est resté ouvert plus d'une heure. Vérifiez vos réponses, puis envoyez à nouveau.".to_owned(),
                PowRefusal::Invalid(e) => {
                    tracing::info!(%insee, %code, error = %e, "public form: proof of work refused");
                    "La vérification anti-robot a échoué. Vérifiez vos réponses, puis envoyez à nouveau.".to_owned()
                }
                PowRefusal::Replayed => "Ce formulaire a déjà été envoyé une fois. Si vous n'avez pas reçu de numéro d'enregistrement, vérifiez vos réponses et envoyez-le à nouveau.".to_owned(),
            };
            let fs = refuse(problem, posted.values);
            return form_page(&state, &commune, &public, StatusCode::BAD_REQUEST, fs, now).await;
        }
    }
    // Files that are not what they claim, with the form's own checks, all at once.
    let today = local_date(now, commune.zone());
    if let Some(errors) = refused_files(&public.form, &posted.values, &posted.uploads, today) {
        let fs = FormState {
            values: posted.values,
            errors,
            problem: None,
            files_lost,
        };
        return form_page(&state, &commune, &public, StatusCode::BAD_REQUEST, fs, now).await;
    }
    let email = posted
        .values
        .get("courriel")
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    match state
        .app
        .submit_request(&commune, &code, &posted.values, posted.uploads, now)
        .await
    {
        Ok(submitted) => {
            let mairie = mairie(&state, &commune).await?;
            let receipt = match &public.form.doctype_code {
                Some(dt) => state
                    .app
                    .doctype(commune.id, dt)
                    .await?
                    .is_some_and(|d| !d.no_acknowledgement),
                None => false,
            };
            let item = submitted.item;
            let html = templates::render(
                "public_done.html",
                ctx! {
                    title => format!("Demande enregistrée — {}", public.form.title),
                    mairie, email, receipt,
                    form_title => public.form.title,
                    chrono => item.chrono,
                    registered => local_moment(item.registered_at, &commune),
                    tracking_url => submitted.tracking_url,
                    style_url => assets::style_url(),
                },
            )?;
            Ok(private(Html(html).into_response()))
        }
        Err(SubmitError::Fields(errors)) => {
            let fs = FormState {
                values: posted.values,
                errors,
                problem: None,
                files_lost,
            };
            form_page(&state, &commune, &public, StatusCode::OK, fs, now).await
        }
        Err(SubmitError::App(e)) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let message = e.user_message();
            let fs = refuse(format!("{}.", sentence(&message)), posted.values);
            form_page(&state, &commune, &public, StatusCode::BAD_REQUEST, fs, now).await
        }
        Err(SubmitError::App(e)) => Err(e.into()),
    }
}

/// What someone without JavaScript reads: why, and the other ways to write.
fn no_script_message(mairie: &Mairie) -> String {
    let mut ways = Vec::new();
    if let Some(phone) = &mairie.phone {
        ways.push(format!("par téléphone au {phone}"));
    }
    if let Some(email) = &mairie.email {
        ways.push(format!("par courriel à {email}"));
    }
    if let Some(address) = &mairie.address {
        ways.push(format!(
            "par courrier à l'adresse : {}",
            address
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let others = if ways.is_empty() {
        "ou adressez-vous à la mairie".to_owned()
    } else {
        format!("ou adressez-vous à la mairie {}", ways.join(", "))
    };
    format!(
        "La vérification anti-robot de ce formulaire a besoin de JavaScript, qui semble désactivé dans votre navigateur : activez-le et envoyez à nouveau, {others}."
    )
}

impl FieldView {
    #[allow(clippy::too_many_arguments)]
    fn new(
        key: &str,
        label: &str,
        kind: &'static str,
        required: bool,
        required_note: bool,
        help: Option<String>,
        values: &BTreeMap<String, String>,
        errors: &[FieldError],
    ) -> Self {
        let error = {
            let mine: Vec<&str> = errors
                .iter()
                .filter(|e| e.key == key)
                .map(|e| e.message_fr.as_str())
                .collect();
            (!mine.is_empty()).then(|| mine.join(" "))
        };
        let describedby = [
            help.as_ref().map(|_| format!("aide-{key}")),
            error.as_ref().map(|_| format!("erreur-{key}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        FieldView {
            key: key.to_owned(),
            id: format!("champ-{key}"),
            label: label.trim().to_owned(),
            kind,
            options: Vec::new(),
            required,
            required_note,
            help,
            value: values.get(key).cloned().unwrap_or_default(),
            error,
            describedby,
            autocomplete: None,
            inputmode: None,
        }
    }

    fn autocomplete(mut self, token: &'static str) -> Self {
        self.autocomplete = Some(token);
        self
    }

    fn inputmode(mut self, mode: &'static str) -> Self {
        self.inputmode = Some(mode);
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_identity_block_has_every_reserved_key() {
        let keys: Vec<String> = identity_fields(&BTreeMap::new(), &[])
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(keys, IDENTITY_KEYS);
    }
}
