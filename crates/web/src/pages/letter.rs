//! Registering a paper letter: scans, fields, contact found or created, due date from the
//! document type; then straight on to the next one.

use axum::extract::{Multipart, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use parapheur_app::NewFile;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Confidentiality, Priority};
use serde::Serialize;
use uuid::Uuid;

use super::separators;
use crate::error::WebError;
use crate::session::Me;
use crate::views::Choice;
use crate::{WebState, assets, templates};
use parapheur_app::capture::dropfolder::sniff;

/// One upload of this size at most (the whole request is limited too).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// Letters of one batch scan carried from one form to the next, at most.
const MAX_SEGMENTS: usize = 200;

/// The form's values, kept when a refused form is shown again.
#[derive(Debug, Default, Serialize)]
pub struct LetterForm {
    csrf: String,
    channel: String,
    registered_number: String,
    subject: String,
    sender: String,
    /// The contact chosen among the suggestions (set by the page's script).
    #[serde(default)]
    sender_id: String,
    doctype: String,
    arrival: String,
    letter_date: String,
    /// L114-2 and L114-3: the day another administration received it, for a request forwarded to us.
    #[serde(default)]
    first_receipt: String,
    reference: String,
    service: String,
    assignee: String,
    priority: String,
    confidential: bool,
    then: String,
    /// The answer to "Vouliez-vous dire…": a contact's id, or "new" to create the one typed.
    sender_choice: String,
    /// The documents sent with an earlier post of this form, kept (see [`Kept`]).
    kept: Vec<Kept>,
    /// The next letters of a batch scan split at its separator sheets, kept like
    /// [`Kept`] (`sha256:proof:file name`), registered one after the other.
    pending: Vec<String>,
    /// Contacts close to the typed sender, offered before creating a new one.
    suggestions: Vec<Suggestion>,
}

/// A document of a form shown again, kept in the commune's store instead of being asked
/// again: the form carries its address, type and name, and a proof tied to the person's
/// session so that no other address can be slipped in.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    /// `sha256:proof:file name`.
    value: String,
    filename: String,
}

/// A contact offered for the typed sender (or caller).
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub(crate) id: String,
    pub(crate) label: String,
}

/// Keeps the documents of a form about to be shown again.
async fn keep_files(state: &WebState, me: &Me, files: &[NewFile]) -> Result<Vec<Kept>, WebError> {
    let mut kept = Vec::new();
    for file in files {
        let token = state
            .app
            .stage_upload(me.0.commune.id, me.csrf(), &file.bytes)
            .await?;
        kept.push(Kept {
            value: format!("{token}:{}", file.filename),
            filename: file.filename.clone(),
        });
    }
    Ok(kept)
}

/// The documents kept by an earlier post of the form, back from the store.
async fn kept_files(
    state: &WebState,
    me: &Me,
    values: &[String],
) -> Result<Vec<NewFile>, WebError> {
    let mut files = Vec::new();
    for value in values {
        let mut parts = value.splitn(3, ':');
        let (Some(sha), Some(proof), Some(filename)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(WebError::BadRequest(
                "document gardé illisible : joignez-le de nouveau".into(),
            ));
        };
        let bytes = state
            .app
            .staged_upload(me.0.commune.id, me.csrf(), &format!("{sha}:{proof}"))
            .await?;
        // The type is the file's own, read again.
        let Some(media_type) = sniff(&bytes) else {
            return Err(WebError::BadRequest(
                "document gardé illisible : joignez-le de nouveau".into(),
            ));
        };
        files.push(NewFile {
            filename: filename.to_owned(),
            media_type: media_type.to_owned(),
            bytes,
        });
    }
    Ok(files)
}

pub(crate) async fn form_page(
    state: &WebState,
    me: &Me,
    form: &LetterForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let store = &state.app;
    let today = local_date(Utc::now(), commune.zone())
        .format("%Y-%m-%d")
        .to_string();
    let doctypes: Vec<_> = store
        .doctypes(commune.id)
        .await?
        .into_iter()
        .map(|d| ctx! { code => d.code, label => d.label, delay => d.delay.label_fr(), silence => d.silence.label_fr() })
        .collect();
    let channels: Vec<Choice> = [
        Channel::Paper,
        Channel::Registered,
        Channel::Counter,
        Channel::Email,
        Channel::Form,
    ]
    .iter()
    .map(|c| Choice {
        code: c.code().into(),
        label: c.label_fr().into(),
    })
    .collect();
    let priorities: Vec<Choice> = [
        ("normal", "normale"),
        ("high", "haute"),
        ("urgent", "urgente"),
        ("low", "basse"),
    ]
    .iter()
    .map(|(c, l)| Choice {
        code: (*c).into(),
        label: (*l).into(),
    })
    .collect();
    let services: Vec<_> = store
        .services(commune.id)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| ctx! { id => s.id.to_string(), name => s.name })
        .collect();
    let users: Vec<_> = store
        .users(commune.id)
        .await?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| ctx! { id => u.id.to_string(), name => u.display_name })
        .collect();
    let mut shown = serde_json::to_value(form).unwrap_or_default();
    if form.arrival.is_empty()
        && let Some(fields) = shown.as_object_mut()
    {
        // A fresh form: today's date, a paper letter, normal priority.
        fields.insert("arrival".into(), today.clone().into());
        fields.insert("channel".into(), "paper".into());
        fields.insert("priority".into(), "normal".into());
    }
    Ok(Html(templates::render(
        "letter.html",
        ctx! {
            title => "Enregistrer un courrier", style_url => assets::style_url(), me => me.view(),
            csrf => me.csrf(), nav => "letter", error, notice, form => shown, today,
            doctypes, channels, priorities, services, users,
        },
    )?))
}

pub async fn form(
    State(state): State<WebState>,
    me: Me,
    axum::extract::Query(pairs): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Html<String>, WebError> {
    // `suite` repeats: the next letters of a batch scan.
    let next: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "suite")
        .map(|(_, v)| v.clone())
        .take(MAX_SEGMENTS)
        .collect();
    let q: std::collections::HashMap<String, String> = pairs.into_iter().collect();
    let mut notice = q
        .get("enregistre")
        .map(|n| format!("Courrier enregistré sous le numéro {n}. Saisissez le suivant."));
    if q.contains_key("abandon") {
        notice = Some(
            "Les courriers restants du scan ont été abandonnés : rien n'a été enregistré pour eux."
                .into(),
        );
    }
    // A batch arrives on one day by one channel: the next letter keeps both.
    let mut form = LetterForm::default();
    if let (Some(arrival), Some(channel)) = (q.get("arrivee"), q.get("canal"))
        && NaiveDate::parse_from_str(arrival, "%Y-%m-%d").is_ok()
        && channel.parse::<Channel>().is_ok()
    {
        form.arrival = arrival.clone();
        form.channel = channel.clone();
        form.priority = "normal".into();
    }
    if !next.is_empty() {
        let files = kept_files(&state, &me, &next[..1]).await?;
        prefill(&state, &me, &mut form, &files).await;
        form.kept = next[..1]
            .iter()
            .zip(&files)
            .map(|(value, file)| Kept {
                value: value.clone(),
                filename: file.filename.clone(),
            })
            .collect();
        form.pending = next[1..].to_vec();
        let left = match next.len() {
            1 => "C'est le dernier courrier du scan.".to_owned(),
            n => format!("Encore {n} courriers du scan, celui-ci compris."),
        };
        let next = format!(
            "Courrier suivant du scan : « {} ». {left}",
            form.kept[0].filename
        );
        notice = Some(match notice {
            Some(saved) => format!("{saved} {next}"),
            None => next,
        });
    }
    form_page(&state, &me, &form, None, notice).await
}

/// Fills the empty subject, sender and letter date from what the scan says (the
/// form's script does it for a file chosen in the page).
async fn prefill(state: &WebState, me: &Me, form: &mut LetterForm, files: &[NewFile]) {
    let Some(file) = files.first() else { return };
    let Ok(reading) = state
        .app
        .read_scan(
            &me.0.commune,
            &me.0.actor(),
            &file.bytes,
            &file.media_type,
            &file.filename,
            Utc::now(),
        )
        .await
    else {
        return;
    };
    if form.subject.trim().is_empty()
        && let Some(subject) = reading.subject
    {
        form.subject = subject;
    }
    if form.sender.trim().is_empty()
        && let Some(sender) = reading.sender
    {
        form.sender = sender;
    }
    if form.letter_date.is_empty()
        && let Some(date) = reading.letter_date
    {
        form.letter_date = date.format("%Y-%m-%d").to_string();
    }
}

fn parse_date(text: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    match text.trim() {
        "" => Ok(None),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{what} invalide")),
    }
}

/// Reads the multipart form: fields and files. The fields read are kept even when a file is
/// refused, so the page shown again keeps what the person typed.
async fn read_form(
    multipart: Multipart,
) -> (LetterForm, Vec<NewFile>, Vec<String>, Option<String>) {
    let mut form = LetterForm::default();
    let mut files = Vec::new();
    let mut staged = Vec::new();
    let error = read_fields(multipart, &mut form, &mut files, &mut staged)
        .await
        .err();
    (form, files, staged, error)
}

async fn read_fields(
    mut multipart: Multipart,
    form: &mut LetterForm,
    files: &mut Vec<NewFile>,
    staged: &mut Vec<String>,
) -> Result<(), String> {
    let mut refused = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("envoi interrompu ou trop volumineux : {e}"))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| format!("envoi du fichier interrompu ou trop volumineux : {e}"))?;
            if filename.is_empty() && bytes.is_empty() {
                continue; // an empty file input
            }
            if bytes.len() > MAX_FILE_BYTES {
                refused.get_or_insert(format!("le fichier « {filename} » dépasse 20 Mo"));
                continue;
            }
            match sniff(&bytes) {
                Some(media_type) => files.push(NewFile {
                    filename,
                    media_type: media_type.to_owned(),
                    bytes: bytes.to_vec(),
                }),
                None => {
                    refused.get_or_insert(format!(
                        "le fichier « {filename} » n'est ni un PDF, ni une image JPEG, PNG ou TIFF"
                    ));
                }
            }
            continue;
        }
        let value = field
            .text()
            .await
            .map_err(|e| format!("formulaire illisible : {e}"))?;
        match name.as_str() {
            "csrf" => form.csrf = value,
            "channel" => form.channel = value,
            "registered_number" => form.registered_number = value,
            "subject" => form.subject = value,
            "sender" => form.sender = value,
            "sender_id" => form.sender_id = value,
            "doctype" => form.doctype = value,
            "arrival" => form.arrival = value,
            "letter_date" => form.letter_date = value,
            "first_receipt" => form.first_receipt = value,
            "reference" => form.reference = value,
            "service" => form.service = value,
            "assignee" => form.assignee = value,
            "priority" => form.priority = value,
            "confidential" => form.confidential = !value.is_empty(),
            "then" => form.then = value,
            "sender_choice" => form.sender_choice = value,
            "staged" if staged.len() < 20 => staged.push(value),
            "pending" if form.pending.len() < MAX_SEGMENTS => form.pending.push(value),
            _ => {}
        }
    }
    refused.map_or(Ok(()), Err)
}

fn optional_id(text: &str) -> Result<Option<Uuid>, String> {
    match text.trim() {
        "" => Ok(None),
        t => Uuid::parse_str(t)
            .map(Some)
            .map_err(|_| "choix invalide".to_owned()),
    }
}

fn build_item(form: &LetterForm) -> Result<NewItem, String> {
    let channel: Channel = form.channel.parse()?;
    let arrival =
        parse_date(&form.arrival, "date d'arrivée")?.ok_or("la date d'arrivée est obligatoire")?;
    let mut item = NewItem::incoming(channel, form.subject.trim(), arrival);
    item.letter_date = parse_date(&form.letter_date, "date du courrier")?;
    item.first_receipt_elsewhere = parse_date(&form.first_receipt, "date de première réception")?;
    item.registered_number =
        Some(form.registered_number.trim().to_owned()).filter(|n| !n.is_empty());
    item.doctype_code = Some(form.doctype.clone()).filter(|d| !d.is_empty());
    item.sender_reference = Some(form.reference.trim().to_owned()).filter(|r| !r.is_empty());
    item.service_id = optional_id(&form.service)?;
    item.assignee_id = optional_id(&form.assignee)?;
    item.priority = if form.priority.is_empty() {
        Priority::Normal
    } else {
        form.priority.parse()?
    };
    item.confidentiality = if form.confidential {
        Confidentiality::Confidential
    } else {
        Confidentiality::Normal
    };
    Ok(item)
}

pub async fn submit(
    State(state): State<WebState>,
    me: Me,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let (mut form, mut files, staged, error) = read_form(multipart).await;
    me.check_csrf(&form.csrf)?;
    if form.then == "drop" {
        // The rest of a batch scan abandoned: nothing registered, the series goes on.
        let mut target = "/courrier/nouveau?abandon=1".to_owned();
        if let (Ok(arrival), Ok(channel)) = (
            NaiveDate::parse_from_str(&form.arrival, "%Y-%m-%d"),
            form.channel.parse::<Channel>(),
        ) {
            target.push_str(&format!(
                "&arrivee={}&canal={}",
                arrival.format("%Y-%m-%d"),
                channel.code()
            ));
        }
        return Ok(Redirect::to(&target).into_response());
    }
    // One new PDF with separator sheets: split, and its first letter shown to register.
    let batch = error.is_none()
        && staged.is_empty()
        && form.pending.is_empty()
        && matches!(files.as_slice(), [f] if f.media_type == "application/pdf");
    if batch {
        let split = match state
            .app
            .split_batch_scan(&me.0.commune, &me.0.actor(), &files[0].bytes)
            .await
        {
            Ok(split) => split,
            Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
                // Shown again with the file kept: nothing lost.
                form.kept = keep_files(&state, &me, &files).await?;
                let page = form_page(&state, &me, &form, Some(e.user_message()), None).await?;
                return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(split) = split {
            let stem = files[0]
                .filename
                .trim_end_matches(".pdf")
                .trim_end_matches(".PDF")
                .to_owned();
            let stem = if stem.is_empty() {
                "scan".to_owned()
            } else {
                stem
            };
            let parts: Vec<NewFile> = split
                .segments
                .iter()
                .map(|s| NewFile {
                    filename: if s.first == s.last {
                        format!("{stem} (page {}).pdf", s.first)
                    } else {
                        format!("{stem} (pages {} à {}).pdf", s.first, s.last)
                    },
                    media_type: "application/pdf".into(),
                    bytes: s.pdf.clone(),
                })
                .collect();
            // The whole scan too, in the commune's store, until the letters are registered:
            // its address is logged, so a series abandoned by mistake can be found again.
            let whole = keep_files(&state, &me, &files).await?;
            tracing::info!(
                scan = %whole[0].value.split(':').next().unwrap_or_default(),
                letters = split.segments.len(),
                pages = split.pages,
                "batch scan split at its separator sheets"
            );
            let kept = keep_files(&state, &me, &parts).await?;
            prefill(&state, &me, &mut form, &parts[..1]).await;
            form.kept = kept[..1].to_vec();
            form.pending = kept[1..].iter().map(|k| k.value.clone()).collect();
            let count = split.segments.len();
            let found = if count == 1 {
                "1 courrier trouvé".to_owned()
            } else {
                format!("{count} courriers trouvés")
            };
            let notice = format!(
                "{found} dans ce scan ({}), les feuilles de séparation retirées. Vérifiez et \
                 enregistrez le premier : le suivant s'affichera ensuite.",
                separators::page_ranges(&split.segments)
            );
            let page = form_page(&state, &me, &form, None, Some(notice)).await?;
            return Ok(page.into_response());
        }
    }
    files.extend(kept_files(&state, &me, &staged).await?);
    // Shown again: what was typed and the documents sent are kept.
    let again = |mut form: LetterForm,
                 files: Vec<NewFile>,
                 error: Option<String>,
                 notice: Option<String>| {
        let (state, me) = (&state, &me);
        async move {
            let status = if error.is_some() {
                axum::http::StatusCode::BAD_REQUEST
            } else {
                axum::http::StatusCode::OK
            };
            form.kept = keep_files(state, me, &files).await?;
            let page = form_page(state, me, &form, error, notice).await?;
            Ok::<Response, WebError>((status, page).into_response())
        }
    };
    let refused = |form, files, message| again(form, files, Some(message), None);
    if let Some(message) = error {
        return refused(form, files, message).await;
    }
    let item = match build_item(&form) {
        Ok(item) => item,
        Err(message) => return refused(form, files, message).await,
    };
    let commune = &me.0.commune;
    let now = Utc::now();
    if let Err(e) = item.validate(local_date(now, commune.zone())) {
        return refused(form, files, e.to_string()).await;
    }
    // "Vouliez-vous dire…" answered: a contact chosen, or the one typed to create.
    let create_typed = form.sender_choice == "new";
    if Uuid::parse_str(form.sender_choice.trim()).is_ok() {
        form.sender_id = form.sender_choice.trim().to_owned();
    }
    // A new sender is created with the item, so a refused letter leaves no contact behind.
    let party = if form.sender.trim().is_empty() && form.sender_id.trim().is_empty() {
        None
    } else {
        // A suggestion chosen in the page names the contact by its id (checked to be of
        // this commune); otherwise the typed text is resolved.
        let chosen = Some(form.sender_id.trim()).filter(|id| Uuid::parse_str(id).is_ok());
        let text = chosen.unwrap_or(&form.sender);
        match state.app.resolve_contact(commune, text, None).await {
            Ok(party) => Some(party),
            Err(e) => return refused(form, files, e.to_string()).await,
        }
    };
    // A name no contact has exactly, but close to some (another order, accents, a slip):
    // asked before creating a duplicate, without script.
    if let Some(parapheur_app::Party::New(new)) = &party
        && new.email.is_none()
        && !create_typed
    {
        let close = state
            .app
            .close_contacts(commune.id, form.sender.trim(), 5)
            .await?;
        if !close.is_empty() {
            form.suggestions = close
                .iter()
                .map(|c| Suggestion {
                    id: c.id.to_string(),
                    label: crate::pages::contacts::described(c),
                })
                .collect();
            form.sender_choice.clear();
            let question = format!(
                "L'expéditeur « {} » ressemble à un contact connu : choisissez-le ou confirmez la création, puis enregistrez.",
                form.sender.trim()
            );
            return again(form, files, None, Some(question)).await;
        }
    }
    match state
        .app
        .register_with_party(commune, &me.0.actor(), item, party, files.clone(), now)
        .await
    {
        Ok(registered) if !form.pending.is_empty() => {
            // The next letter of the batch scan, on the same day and channel.
            let mut target = format!(
                "/courrier/nouveau?enregistre={}&arrivee={}&canal={}",
                crate::error::urlencode(&registered.item.chrono),
                registered.item.arrival_date.format("%Y-%m-%d"),
                registered.item.channel.code(),
            );
            for next in &form.pending {
                target.push_str("&suite=");
                target.push_str(&crate::error::urlencode(next));
            }
            Ok(Redirect::to(&target).into_response())
        }
        Ok(registered) => {
            let target = if form.then == "show" {
                format!("/courrier/{}?enregistre=1", registered.item.id)
            } else {
                format!(
                    "/courrier/nouveau?enregistre={}&arrivee={}&canal={}",
                    crate::error::urlencode(&registered.item.chrono),
                    registered.item.arrival_date.format("%Y-%m-%d"),
                    registered.item.channel.code(),
                )
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            refused(form, files, e.user_message()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads a scan chosen in the form (the page's script sends it as soon as it is chosen) for
/// its date, subject and sender, which the form offers to confirm. Nothing is stored: the
/// file goes into the register only when the form is saved.
pub async fn read_scan(
    State(state): State<WebState>,
    me: Me,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let mut form = LetterForm::default();
    let mut files = Vec::new();
    read_fields(multipart, &mut form, &mut files, &mut Vec::new())
        .await
        .map_err(WebError::BadRequest)?;
    me.check_csrf(&form.csrf)?;
    let Some(file) = files.first() else {
        return Err(WebError::BadRequest(
            "aucun document à lire : choisissez un PDF ou une image".into(),
        ));
    };
    let reading = state
        .app
        .read_scan(
            &me.0.commune,
            &me.0.actor(),
            &file.bytes,
            &file.media_type,
            &file.filename,
            Utc::now(),
        )
        .await?;
    Ok(axum::Json(serde_json::json!({
        "letter_date": reading.letter_date.map(|d| d.format("%Y-%m-%d").to_string()),
        "subject": reading.subject,
        "sender": reading.sender,
    }))
    .into_response())
}
