//! `/api/v1/items`: the register's items, over the use cases of the item pages (register,
//! read, search, change status, assign).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use parapheur_app::api::Answered;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::item::{Item, NewItem};
use parapheur_app::domain::{Channel, CloseReason, Confidentiality, Direction, Priority, Status};
use parapheur_app::register::signatures::SignatureCheck;
use parapheur_app::register::views::{ItemFilter, TextStatus};
use parapheur_app::{Change, NewFile, Party};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ApiError, ApiQuery, Caller, PREFIX, REGISTER_BODY_BYTES, bad_cursor, decode_cursor,
    encode_cursor, idempotency_key, json_body, page_size, path_id,
};
use crate::WebState;

/// An item as the API shows it. `files`, `senders` and `recipients` are given when one item
/// is read (or created, or changed), not in lists.
#[derive(Debug, Serialize)]
pub struct ItemJson {
    id: Uuid,
    chrono: String,
    direction: &'static str,
    channel: &'static str,
    subject: String,
    body: Option<String>,
    status: &'static str,
    close_reason: Option<&'static str>,
    doctype: Option<String>,
    service_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    priority: &'static str,
    confidential: bool,
    arrival_date: NaiveDate,
    letter_date: Option<NaiveDate>,
    first_receipt_elsewhere: Option<NaiveDate>,
    registered_at: DateTime<Utc>,
    due_date: Option<NaiveDate>,
    silence_date: Option<NaiveDate>,
    sender_reference: Option<String>,
    registered_number: Option<String>,
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    senders: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipients: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Vec<FileJson>>,
}

/// A file of an item: its bytes at `url` (as they arrived), what became of its text, and
/// its signatures as verified on arrival.
#[derive(Debug, Serialize)]
pub struct FileJson {
    id: Uuid,
    filename: String,
    media_type: String,
    size: i64,
    sha256: String,
    /// extracted, ocr, pending, failed or none.
    text: &'static str,
    signatures: Option<SignatureCheck>,
    url: String,
}

fn item_json(item: &Item) -> ItemJson {
    ItemJson {
        id: item.id,
        chrono: item.chrono.clone(),
        direction: item.direction.code(),
        channel: item.channel.code(),
        subject: item.subject.clone(),
        body: item.body.clone(),
        status: item.status.code(),
        close_reason: item.close_reason.map(|r| r.code()),
        doctype: item.doctype_code.clone(),
        service_id: item.service_id,
        assignee_id: item.assignee_id,
        priority: item.priority.code(),
        confidential: item.confidentiality == Confidentiality::Confidential,
        arrival_date: item.arrival_date,
        letter_date: item.letter_date,
        first_receipt_elsewhere: item.first_receipt_elsewhere,
        registered_at: item.registered_at,
        due_date: item.due_date,
        silence_date: item.silence_date,
        sender_reference: item.sender_reference.clone(),
        registered_number: item.registered_number.clone(),
        tags: item.tags.clone(),
        senders: None,
        recipients: None,
        files: None,
    }
}

fn file_url(item: Uuid, file: Uuid) -> String {
    format!("{PREFIX}/items/{item}/files/{file}")
}

/// One item with its correspondents and files, as read now.
async fn item_detail(state: &WebState, caller: &Caller, item: &Item) -> Result<ItemJson, ApiError> {
    let commune = caller.0.commune();
    let mut json = item_json(item);
    let mut senders = Vec::new();
    let mut recipients = Vec::new();
    for (role, contact) in state.app.item_contacts(item.id).await? {
        if role == "sender" {
            senders.push(contact);
        } else {
            recipients.push(contact);
        }
    }
    let files = state
        .app
        .item_files(commune, item.id)
        .await?
        .into_iter()
        .map(|f| FileJson {
            url: file_url(item.id, f.attachment.id),
            id: f.attachment.id,
            text: match f.text {
                TextStatus::Extracted { ocr_pages: Some(_) } => "ocr",
                TextStatus::Extracted { ocr_pages: None } => "extracted",
                TextStatus::NotExtracted { .. } => "failed",
                TextStatus::Pending => "pending",
                TextStatus::NotExtractable => "none",
            },
            signatures: f.signatures,
            filename: f.attachment.filename,
            media_type: f.attachment.media_type,
            size: f.attachment.size,
            sha256: f.attachment.sha256,
        })
        .collect();
    json.senders = Some(senders);
    json.recipients = Some(recipients);
    json.files = Some(files);
    Ok(json)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value)
        .map_err(|e| parapheur_app::AppError::internal(e.to_string()).into())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A page of a list and where the next one starts.
#[derive(Debug, Serialize)]
struct Page<T> {
    data: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    direction: Option<String>,
    channel: Option<String>,
    year: Option<i32>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn parsed<T: std::str::FromStr<Err = String>>(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| ApiError::invalid(e).with_field(field))
        })
        .transpose()
}

/// The items the owner may read, newest first.
pub async fn list(
    State(state): State<WebState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = page_size(q.limit)?;
    let before = match q.cursor.as_deref() {
        None => None,
        Some(cursor) => {
            let text = decode_cursor(cursor)?;
            let (at, id) = text
                .split_once('|')
                .and_then(|(at, id)| {
                    Some((
                        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
                        Uuid::parse_str(id).ok()?,
                    ))
                })
                .ok_or_else(bad_cursor)?;
            Some((at, id))
        }
    };
    let filter = ItemFilter {
        status: parsed::<Status>(q.status.as_deref(), "status")?,
        direction: parsed::<Direction>(q.direction.as_deref(), "direction")?,
        channel: parsed::<Channel>(q.channel.as_deref(), "channel")?,
        year: q.year,
        ..ItemFilter::default()
    };
    let mut items = state
        .app
        .items_page(&caller.0.who, filter, before, limit + 1)
        .await?;
    let more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more.then(|| items.last()).flatten().map(|last| {
        encode_cursor(&format!(
            "{}|{}",
            last.registered_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            last.id
        ))
    });
    let page = Page {
        data: items.iter().map(item_json).collect(),
        next_cursor,
    };
    Ok(json_response(StatusCode::OK, to_json(&page)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    status: Option<String>,
    direction: Option<String>,
    channel: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Deepest a search is paged (as on the search page).
const MAX_SEARCH_OFFSET: usize = 10_000;

/// Full-text search of the items the owner may read: by relevance, or newest first
/// without words.
pub async fn search(
    State(state): State<WebState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> Result<Response, ApiError> {
    let limit = usize::try_from(page_size(q.limit)?).unwrap_or(50);
    let offset = match q.cursor.as_deref() {
        None => 0,
        Some(cursor) => decode_cursor(cursor)?
            .strip_prefix("o:")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= MAX_SEARCH_OFFSET)
            .ok_or_else(bad_cursor)?,
    };
    parsed::<Status>(q.status.as_deref(), "status")?;
    parsed::<Direction>(q.direction.as_deref(), "direction")?;
    parsed::<Channel>(q.channel.as_deref(), "channel")?;
    let query = parapheur_search::SearchQuery {
        text: q.q.chars().take(1000).collect(),
        status: q.status.clone(),
        channel: q.channel.clone(),
        direction: q.direction.clone(),
        viewer: caller.0.who.confidential_reader(),
        order: if q.q.trim().is_empty() {
            parapheur_search::SearchOrder::Newest
        } else {
            parapheur_search::SearchOrder::Relevance
        },
        offset,
        limit,
        ..parapheur_search::SearchQuery::default()
    };
    let found = state.app.search_items(caller.0.commune().id, query).await?;
    let next = offset + found.hits.len();
    #[derive(Serialize)]
    struct Hit {
        #[serde(flatten)]
        item: ItemJson,
        /// HTML-escaped text with `<mark>…</mark>` around the words found.
        snippet_html: String,
    }
    let page = Page {
        data: found
            .hits
            .iter()
            .map(|h| Hit {
                item: item_json(&h.item),
                snippet_html: h.snippet_html.clone(),
            })
            .collect(),
        next_cursor: (next < found.total && !found.hits.is_empty() && next <= MAX_SEARCH_OFFSET)
            .then(|| encode_cursor(&format!("o:{next}"))),
    };
    Ok(json_response(StatusCode::OK, to_json(&page)?))
}

/// One item the owner may read (another commune's, or a confidential one they may not
/// read, is "not found").
pub async fn show(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let item = state
        .app
        .readable_item(&caller.0.who, path_id(&id)?)
        .await?;
    let json = item_detail(&state, &caller, &item).await?;
    Ok(json_response(StatusCode::OK, to_json(&json)?))
}

/// A file of an item, byte for byte as it arrived (its SHA-256 in `X-Content-SHA256`).
pub async fn file(
    State(state): State<WebState>,
    caller: Caller,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let item = state
        .app
        .readable_item(&caller.0.who, path_id(&id)?)
        .await?;
    let file_id = path_id(&file)?;
    let commune = caller.0.commune();
    let attachment = state
        .app
        .attachments(commune.id, item.id)
        .await?
        .into_iter()
        .find(|a| a.id == file_id)
        .ok_or_else(ApiError::not_found)?;
    let bytes = state.app.read_file(commune.id, &attachment.sha256).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        crate::download::content_disposition(false, &attachment.filename),
    );
    if let Ok(v) = HeaderValue::from_str(&attachment.sha256) {
        headers.insert("x-content-sha256", v);
    }
    Ok(response)
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    /// The status code to move to.
    to: String,
    /// Required to close: answered, forwarded, no_follow_up…
    #[serde(default)]
    reason: Option<String>,
}

/// Moves an item along its state machine, as the item page's "Changer le statut".
pub async fn change_status(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: StatusRequest = json_body(&headers, &body)?;
    let to: Status = request
        .to
        .parse()
        .map_err(|e: String| ApiError::invalid(e).with_field("to"))?;
    let reason = parsed::<CloseReason>(request.reason.as_deref(), "reason")?;
    apply(&state, &caller, &id, Change::Status { to, reason }).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    #[serde(default)]
    service_id: Option<Uuid>,
    #[serde(default)]
    assignee_id: Option<Uuid>,
}

/// Routes an item to a service and/or a person, as the item page's "Affecter".
pub async fn assign(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AssignRequest = json_body(&headers, &body)?;
    let change = Change::Assign {
        service_id: request.service_id,
        assignee_id: request.assignee_id,
    };
    apply(&state, &caller, &id, change).await
}

/// A change to an item the owner may read, through the same use case as the item page.
async fn apply(
    state: &WebState,
    caller: &Caller,
    id: &str,
    change: Change,
) -> Result<Response, ApiError> {
    let item = state.app.readable_item(&caller.0.who, path_id(id)?).await?;
    let changed = state
        .app
        .change_item(
            caller.0.commune(),
            &caller.0.actor(),
            item.id,
            change,
            Utc::now(),
        )
        .await?;
    let json = item_detail(state, caller, &changed).await?;
    Ok(json_response(StatusCode::OK, to_json(&json)?))
}
