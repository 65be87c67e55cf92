//! `POST /api/v1/items`: registering an item with its files, in JSON (files in base64) or
//! multipart (the item as JSON, then the files), once per idempotency key.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{NaiveDate, Utc};
use parapheur_app::api::Answered;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Confidentiality, Direction, Priority};
use parapheur_app::{NewFile, Party};
use serde::Deserialize;
use uuid::Uuid;

use super::items::{FileJson, file_url, item_json, json_response, parsed, to_json};
use super::{ApiError, Caller, PREFIX, REGISTER_BODY_BYTES, idempotency_key, json_body};
use crate::WebState;

/// A file given with a registration in JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRequest {
    filename: String,
    /// The bytes, in standard base64.
    content_base64: String,
}

/// An item to register.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    #[serde(default)]
    direction: Option<String>,
    channel: String,
    subject: String,
    #[serde(default)]
    body: Option<String>,
    /// Today (the commune's) when left out.
    #[serde(default)]
    arrival_date: Option<NaiveDate>,
    #[serde(default)]
    letter_date: Option<NaiveDate>,
    #[serde(default)]
    first_receipt_elsewhere: Option<NaiveDate>,
    #[serde(default)]
    doctype: Option<String>,
    #[serde(default)]
    service_id: Option<Uuid>,
    #[serde(default)]
    assignee_id: Option<Uuid>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    confidential: bool,
    #[serde(default)]
    sender_reference: Option<String>,
    #[serde(default)]
    registered_number: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// A contact of the commune: the sender (the recipient of an outgoing item).
    #[serde(default)]
    correspondent_id: Option<Uuid>,
    /// Or a name or an email address, found in the directory or created with the item.
    #[serde(default)]
    correspondent: Option<String>,
    /// In JSON only; a multipart request sends its files as `file` parts.
    #[serde(default)]
    files: Vec<FileRequest>,
}

/// A file's bytes as a file of the register: its type from its bytes, as on the upload
/// form (PDF, JPEG, PNG, TIFF).
fn new_file(filename: String, bytes: Vec<u8>) -> Result<NewFile, ApiError> {
    let media_type = parapheur_app::domain::upload::sniff(&bytes).ok_or_else(|| {
        ApiError::invalid(format!(
            "le fichier « {filename} » n'est ni un PDF, ni une image JPEG, PNG ou TIFF"
        ))
        .with_field("files")
    })?;
    Ok(NewFile {
        filename,
        media_type: media_type.to_owned(),
        bytes,
    })
}

/// Reads a body up to `limit`: too large is 413.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "corps trop volumineux ({} Mo au plus)",
                limit / (1024 * 1024)
            ),
        )
    })
}

/// Registers an item with its files: JSON (files in base64), or multipart/form-data (an
/// `item` part in JSON, then `file` parts). With an `Idempotency-Key`, a retry registers
/// nothing more and is answered the same.
pub async fn register(
    State(state): State<WebState>,
    caller: Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_body(body, REGISTER_BODY_BYTES).await?;
    let key = idempotency_key(&caller.0, &parts.headers, "POST", parts.uri.path(), &body)?;
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let (request, files) = if multipart {
        read_multipart(&state, parts.headers.clone(), body.clone()).await?
    } else {
        let mut request: RegisterRequest = json_body(&parts.headers, &body)?;
        let mut files = Vec::with_capacity(request.files.len());
        for f in std::mem::take(&mut request.files) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f.content_base64.trim())
                .map_err(|_| {
                    ApiError::invalid(format!("le fichier « {} » n'est pas en base64", f.filename))
                        .with_field("files")
                })?;
            files.push(new_file(f.filename, bytes)?);
        }
        (request, files)
    };
    drop(body);
    let commune = caller.0.commune().clone();
    let now = Utc::now();
    let today = local_date(now, commune.zone());
    let direction = parsed::<Direction>(request.direction.as_deref(), "direction")?
        .unwrap_or(Direction::Incoming);
    let channel: Channel = request
        .channel
        .parse()
        .map_err(|e: String| ApiError::invalid(e).with_field("channel"))?;
    let mut new = NewItem::incoming(
        channel,
        request.subject.trim(),
        request.arrival_date.unwrap_or(today),
    );
    new.direction = direction;
    new.body = request.body.filter(|b| !b.trim().is_empty());
    new.letter_date = request.letter_date;
    new.first_receipt_elsewhere = request.first_receipt_elsewhere;
    new.doctype_code = request.doctype.filter(|d| !d.trim().is_empty());
    new.service_id = request.service_id;
    new.assignee_id = request.assignee_id;
    new.priority = parsed::<Priority>(request.priority.as_deref(), "priority")?.unwrap_or_default();
    new.confidentiality = if request.confidential {
        Confidentiality::Confidential
    } else {
        Confidentiality::Normal
    };
    new.sender_reference = request.sender_reference.filter(|r| !r.trim().is_empty());
    new.registered_number = request.registered_number.filter(|r| !r.trim().is_empty());
    new.tags = request.tags;
    let party = match (request.correspondent_id, request.correspondent.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "donnez correspondent_id ou correspondent, pas les deux",
            )
            .with_field("correspondent"));
        }
        (Some(id), None) => {
            state.app.contact(commune.id, id).await.map_err(|_| {
                ApiError::invalid("contact inconnu dans cette commune")
                    .with_field("correspondent_id")
            })?;
            Some(Party::Existing(id))
        }
        (None, Some(text)) if !text.trim().is_empty() => Some(
            state
                .app
                .resolve_contact(&commune, text, None)
                .await
                .map_err(|e| ApiError::from(e).with_field("correspondent"))?,
        ),
        (None, _) => None,
    };
    let files_of = |registered: &parapheur_app::Registered| -> Vec<FileJson> {
        registered
            .attachments
            .iter()
            .map(|a| FileJson {
                id: a.id,
                filename: a.filename.clone(),
                media_type: a.media_type.clone(),
                size: a.size,
                sha256: a.sha256.clone(),
                text: if parapheur_app::domain::upload::is_extractable(&a.media_type) {
                    "pending"
                } else {
                    "none"
                },
                signatures: registered
                    .signatures
                    .iter()
                    .find(|(sha, _)| *sha == a.sha256)
                    .map(|(_, s)| s.clone()),
                url: file_url(a.item_id, a.id),
            })
            .collect()
    };
    let (answered, _) = state
        .app
        .register_once(
            &commune,
            &caller.0.actor(),
            new,
            party,
            files,
            now,
            key.as_ref(),
            |registered| {
                let mut json = item_json(&registered.item);
                json.senders = Some(registered.senders.clone());
                json.recipients = Some(registered.recipients.clone());
                json.files = Some(files_of(registered));
                to_json(&json).map_err(|_| parapheur_app::AppError::internal("réponse JSON"))
            },
        )
        .await?;
    Ok(created(answered, "items"))
}

/// The answer to a creation: 201 with its `Location`, the same again for a retry (with
/// `Idempotent-Replayed: true`), 422 when the key was used for another request.
pub(super) fn created(answered: Answered, collection: &str) -> Response {
    let (status, body, replayed) = match answered {
        Answered::Created { status, body } => (status, body, false),
        Answered::Replayed { status, body } => (status, body, true),
        Answered::KeyReused => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "cette clé d'idempotence a déjà servi pour une autre requête",
            )
            .into_response();
        }
    };
    let id = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
    let mut response = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
        body,
    );
    if let Some(id) = id
        && let Ok(v) = HeaderValue::from_str(&format!("{PREFIX}/{collection}/{id}"))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A multipart registration: the `item` part (JSON, as a JSON registration without
/// `files`) and `file` parts.
async fn read_multipart(
    state: &WebState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(RegisterRequest, Vec<NewFile>), ApiError> {
    let mut request = Request::new(Body::from(body));
    *request.headers_mut() = headers;
    let mut multipart = Multipart::from_request(request, state).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("multipart illisible : {e}"),
        )
    })?;
    let mut item = None;
    let mut files = Vec::new();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("multipart illisible : {e}"),
        )
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "item" => {
                let text = field.bytes().await.map_err(unreadable)?;
                let parsed: RegisterRequest = serde_json::from_slice(&text)
                    .map_err(|e| ApiError::bad_input(&e.to_string()))?;
                if !parsed.files.is_empty() {
                    return Err(ApiError::invalid(
                        "en multipart, les fichiers sont des parties « file », pas un champ « files »",
                    )
                    .with_field("files"));
                }
                item = Some(parsed);
            }
            "file" => {
                let filename = field
                    .file_name()
                    .map(str::to_owned)
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid("chaque partie « file » a un nom de fichier")
                            .with_field("files")
                    })?;
                let bytes = field.bytes().await.map_err(unreadable)?;
                files.push(new_file(filename, bytes.to_vec())?);
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_field",
                    format!("partie inconnue « {other} » : « item » et « file » seulement"),
                ));
            }
        }
    }
    let item = item
        .ok_or_else(|| ApiError::invalid("la partie « item » (JSON) manque").with_field("item"))?;
    Ok((item, files))
}
