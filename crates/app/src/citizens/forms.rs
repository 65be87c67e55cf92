//! Public request forms: their definitions, and a citizen's submission registered like any
//! other item (same numbering, same journal) with its tracking link in the same transaction.

use crate::boxed_future;
use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::NewContact;
use parapheur_domain::item::NewItem;
use parapheur_domain::request_form::{self, FieldError, RequestForm, SubmittedFile};
use parapheur_domain::{Channel, Commune};
use parapheur_store::citizens::RequestFormRow;
use uuid::Uuid;

use super::CITIZEN;
use super::FormInput;
use super::MAX_UPLOAD_BYTES;
use super::MAX_UPLOADS;
use super::PublicForm;
use super::SubmitError;
use super::Submitted;
use super::Upload;
use super::not_found;
use crate::register::{NewFile, register_in};
use crate::{Actor, App, AppError, Party};

/// A submission with files that are not what they claim: every error to show at once, the
/// form's own checks with one error per file whose bytes are neither a PDF nor an image
/// (its field's error). `None` when every file's content is accepted. Front ends check this
/// before [`App::submit_request`], so that the person corrects everything in one go.
pub fn refused_files(
    form: &RequestForm,
    values: &BTreeMap<String, String>,
    uploads: &[Upload],
    today: chrono::NaiveDate,
) -> Option<Vec<FieldError>> {
    let refused: Vec<FieldError> = uploads
        .iter()
        .filter(|u| crate::capture::dropfolder::sniff(&u.bytes).is_none())
        .map(|u| FieldError {
            key: u.field.clone(),
            message_fr: format!(
                "Le fichier « {} » n'est ni un PDF ni une image (JPEG, PNG, TIFF) : son contenu ne correspond pas. Joignez un autre fichier.",
                u.filename
            ),
        })
        .collect();
    if refused.is_empty() {
        return None;
    }
    let submitted = submitted_files(uploads);
    let mut errors = request_form::validate_submission(form, values, &submitted, today)
        .err()
        .unwrap_or_default();
    errors.extend(refused);
    Some(errors)
}

/// Checks what a citizen sent: size, count, and a type found from the bytes (a renamed
/// executable is refused whatever its name says).
pub(super) fn check_uploads(uploads: Vec<Upload>) -> Result<Vec<(String, NewFile)>, AppError> {
    if uploads.len() > MAX_UPLOADS {
        return Err(AppError::invalid(format!(
            "au plus {MAX_UPLOADS} fichiers par envoi"
        )));
    }
    let mut files = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let name = safe_filename(&upload.filename);
        if upload.bytes.len() > MAX_UPLOAD_BYTES {
            return Err(AppError::invalid(format!(
                "le fichier « {name} » dépasse {} Mo",
                MAX_UPLOAD_BYTES / (1024 * 1024)
            )));
        }
        let Some(media_type) = crate::capture::dropfolder::sniff(&upload.bytes) else {
            return Err(AppError::invalid(format!(
                "le fichier « {name} » n'est ni un PDF ni une image (JPEG, PNG, TIFF) : son contenu ne correspond pas"
            )));
        };
        files.push((
            upload.field,
            NewFile {
                filename: name,
                media_type: media_type.to_owned(),
                bytes: upload.bytes,
            },
        ));
    }
    Ok(files)
}

/// A file name kept readable but harmless: no path, no control character, 120 characters.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "document".to_owned()
    } else {
        clean
    }
}

impl App {
    /// The commune's forms that citizens can use.
    #[boxed_future]
    pub async fn public_forms(&self, commune: &Commune) -> Result<Vec<PublicForm>, AppError> {
        let mut out = Vec::new();
        for row in self.store().request_forms(commune.id).await? {
            if row.active {
                out.push(self.parse_form(row)?);
            }
        }
        Ok(out)
    }

    fn parse_form(&self, row: RequestFormRow) -> Result<PublicForm, AppError> {
        let fields = request_form::fields_from_json(&row.fields_json)
            .map_err(|e| AppError::invalid(format!("formulaire « {} » : {e}", row.code)))?;
        let form = RequestForm {
            code: row.code.clone(),
            title: row.title.clone(),
            intro: row.intro.clone(),
            doctype_code: row.doctype_code.clone(),
            fields,
            consent: row.consent.clone(),
        };
        Ok(PublicForm { row, form })
    }

    /// One form by its code (active or not: the administrator edits inactive ones too).
    #[boxed_future]
    pub async fn request_form(
        &self,
        commune: &Commune,
        code: &str,
    ) -> Result<PublicForm, AppError> {
        let row = self
            .store()
            .request_form(commune.id, code)
            .await?
            .ok_or_else(|| not_found("formulaire"))?;
        self.parse_form(row)
    }

    /// Creates or replaces a form, after checking its definition.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn save_request_form(
        &self,
        commune: &Commune,
        actor: &Actor,
        input: FormInput,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        let now = now.trunc_subsecs(6);
        let fields = request_form::fields_from_json(&input.fields_json)
            .map_err(|e| AppError::invalid(e.to_string()))?;
        let form = RequestForm {
            code: input.code.trim().to_owned(),
            title: input.title.trim().to_owned(),
            intro: input.intro.trim().to_owned(),
            doctype_code: input.doctype_code.filter(|c| !c.trim().is_empty()),
            fields,
            consent: input.consent.trim().to_owned(),
        };
        request_form::validate_definition(&form).map_err(|e| AppError::invalid(e.to_string()))?;
        if let Some(code) = &form.doctype_code
            && self.store().doctype(commune.id, code).await?.is_none()
        {
            return Err(AppError::UnknownDoctype(code.clone()));
        }
        self.check_routing(commune, input.service_id, None).await?;
        let existing = self.store().request_form(commune.id, &form.code).await?;
        let row = RequestFormRow {
            id: existing.as_ref().map_or_else(Uuid::now_v7, |e| e.id),
            commune_id: commune.id,
            code: form.code.clone(),
            title: form.title,
            intro: form.intro,
            doctype_code: form.doctype_code,
            service_id: input.service_id,
            fields_json: request_form::fields_to_json(&form.fields),
            consent: form.consent,
            active: input.active,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        };
        let mut tx = self.store().begin(now).await?;
        tx.save_request_form(&row, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers a citizen's request from a public form, with its tracking link, then sends
    /// the accusé d'enregistrement and the accusé de réception.
    #[boxed_future]
    pub async fn submit_request(
        &self,
        commune: &Commune,
        form_code: &str,
        values: &BTreeMap<String, String>,
        uploads: Vec<Upload>,
        now: DateTime<Utc>,
    ) -> Result<Submitted, SubmitError> {
        let now = now.trunc_subsecs(6);
        let today = local_date(now, commune.zone());
        let public = self.request_form(commune, form_code).await?;
        if !public.row.active {
            return Err(not_found("formulaire").into());
        }
        let submitted = submitted_files(&uploads);
        let valid = request_form::validate_submission(&public.form, values, &submitted, today)
            .map_err(SubmitError::Fields)?;
        let files = check_uploads(uploads)?;

        let identity = &valid.identity;
        let candidate = NewContact {
            kind: None,
            civility: identity.civility.clone(),
            first_name: Some(identity.first_name.clone()).filter(|s| !s.is_empty()),
            name: identity.name.clone(),
            organisation: None,
            address: Some(identity.address.clone()).filter(|s| !s.is_empty()),
            postal_code: Some(identity.postal_code.clone()).filter(|s| !s.is_empty()),
            city: Some(identity.city.clone()).filter(|s| !s.is_empty()),
            email: Some(identity.email.clone()),
            phone: identity.phone.clone(),
            siret: identity.siret.clone(),
        };
        // The same person writing again: same address and same name. An address alone
        // could be shared (a family), and the form is public.
        let party = match self
            .store()
            .likely_duplicates(commune.id, &candidate)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .find(|c| {
                c.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&identity.email))
                    && c.name.eq_ignore_ascii_case(&candidate.name)
            }) {
            Some(existing) => Party::Existing(existing.id),
            None => Party::New(Box::new(candidate)),
        };

        let mut body = String::new();
        for (label, value) in &valid.summary {
            body.push_str(&format!("{label} : {value}\n"));
        }
        let mut new = NewItem::incoming(Channel::Form, valid.subject.clone(), today);
        new.letter_date = Some(today);
        new.doctype_code = public.row.doctype_code.clone();
        new.service_id = public.row.service_id;
        new.body = Some(body.trim_end().to_owned());
        new.tags = vec![format!("formulaire:{}", public.row.code)];

        let (token, token_hash, sealed) = self.new_tracking_token(commune).await?;
        let ready = self
            .ready_item(
                commune,
                new,
                Some(party),
                files.into_iter().map(|(_, f)| f).collect(),
                now,
            )
            .await?;
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, &CITIZEN, ready).await?;
        tx.insert_tracking_link(
            commune.id,
            registered.item.id,
            &token_hash,
            &sealed,
            &CITIZEN.journal_name(),
        )
        .await?;
        tx.commit().await?;
        self.registered(&registered);
        let item = registered.item;
        // The request is registered: an acknowledgement that cannot be queued now (an
        // unreadable logo, say) must not turn it into an error; the watch sends it later.
        if let Err(e) = self.acknowledge_submission(commune, &item, now).await {
            tracing::warn!(chrono = %item.chrono, error = %e, "acknowledgement deferred");
        }
        Ok(Submitted {
            tracking_url: self.tracking_url(&token),
            item,
        })
    }
}

/// What the form's rules see of the uploaded files: their field, name and size.
fn submitted_files(uploads: &[Upload]) -> Vec<SubmittedFile> {
    uploads
        .iter()
        .map(|u| SubmittedFile {
            key: u.field.clone(),
            name: u.filename.clone(),
            size: u.bytes.len() as u64,
        })
        .collect()
}
