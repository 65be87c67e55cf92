//! `/api/v1/items`: the register's items, over the use cases of the item pages (register,
//! read, search, change status, assign).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use parapheur_app::Change;
use parapheur_app::domain::item::Item;
use parapheur_app::domain::{Channel, CloseReason, Confidentiality, Direction, Status};
use parapheur_app::register::signatures::SignatureCheck;
use parapheur_app::register::views::{ItemFilter, TextStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ApiError, ApiQuery, Caller, PREFIX, bad_cursor, decode_cursor, encode_cursor, json_body,
    page_size, path_id,
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
    pub(super) senders: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) recipients: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) files: Option<Vec<FileJson>>,
}

/// A file of an item: its bytes at `url` (as they arrived), what became of its text, and
/// its signatures as verified on arrival.
#[derive(Debug, Serialize)]
pub struct FileJson {
    pub(super) id: Uuid,
    pub(super) filename: String,
    pub(super) media_type: String,
    pub(super) size: i64,
    pub(super) sha256: String,
    /// extracted, ocr, pending, failed or none.
    pub(super) text: &'static str,
    pub(super) signatures: Option<SignatureCheck>,
    pub(super) url: String,
}

pub(super) fn item_json(item: &Item) -> ItemJson {
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

pub(super) fn file_url(item: Uuid, file: Uuid) -> String {
    format!("{PREFIX}/items/{item}/files/{file}")
}

/// One item with its correspondents and files, as read now.
pub(super) async fn item_detail(
    state: &WebState,
    caller: &Caller,
    item: &Item,
) -> Result<ItemJson, ApiError> {
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

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value)
        .map_err(|e| parapheur_app::AppError::internal(e.to_string()).into())
}

pub(super) fn json_response(status: StatusCode, body: String) -> Response {
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

pub(super) fn parsed<T: std::str::FromStr<Err = String>>(
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
