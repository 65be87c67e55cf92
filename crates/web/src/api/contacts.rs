//! `/api/v1/contacts`: the commune's directory of correspondents (list, read, create),
//! over the use cases of the contact pages.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use parapheur_app::domain::contact::{Contact, ContactKind, NewContact};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ApiError, ApiQuery, Caller, bad_cursor, decode_cursor, encode_cursor, idempotency_key,
    json_body, page_size, path_id,
};
use crate::WebState;

/// A contact as the API shows it.
#[derive(Debug, Serialize)]
struct ContactJson {
    id: Uuid,
    kind: &'static str,
    display_name: String,
    civility: Option<String>,
    first_name: Option<String>,
    name: String,
    organisation: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    siret: Option<String>,
}

fn contact_json(c: &Contact) -> ContactJson {
    ContactJson {
        id: c.id,
        kind: c.kind.code(),
        display_name: c.display_name(),
        civility: c.civility.clone(),
        first_name: c.first_name.clone(),
        name: c.name.clone(),
        organisation: c.organisation.clone(),
        address: c.address.clone(),
        postal_code: c.postal_code.clone(),
        city: c.city.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        siret: c.siret.clone(),
    }
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_string(value)
        .map_err(|e| ApiError::from(parapheur_app::AppError::internal(e.to_string())))?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// The directory in creation order (as the directory page, merged, restricted and erased
/// contacts left out); `q` keeps those whose name, first name, organisation or email holds
/// every word.
pub async fn list(
    State(state): State<WebState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = page_size(q.limit)?;
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(Uuid::parse_str(&decode_cursor(c)?).map_err(|_| bad_cursor())?),
    };
    let mut contacts = state
        .app
        .contacts_page(&caller.0.who, &q.q, after, limit + 1)
        .await?;
    let size = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = contacts.len() > size;
    contacts.truncate(size);
    #[derive(Serialize)]
    struct Page {
        data: Vec<ContactJson>,
        next_cursor: Option<String>,
    }
    json_response(
        StatusCode::OK,
        &Page {
            next_cursor: more
                .then(|| contacts.last())
                .flatten()
                .map(|c| encode_cursor(&c.id.to_string())),
            data: contacts.iter().map(contact_json).collect(),
        },
    )
}

/// One contact of the commune; the reading is logged as the contact page's is (RGPD
/// accountability: who opened whose file), in the owner's name.
pub async fn show(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let contact = state
        .app
        .contact_for(&caller.0.who, path_id(&id)?, Utc::now())
        .await?;
    json_response(StatusCode::OK, &contact_json(&contact))
}

/// A contact to create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewContactRequest {
    /// person or organisation; person when a first name is given, else organisation.
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    civility: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    /// Last name of a person, or the name of an organisation.
    name: String,
    #[serde(default)]
    organisation: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    postal_code: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    siret: Option<String>,
}

/// Creates a contact (refused, 409, when it looks like an existing one: use that one). With
/// an `Idempotency-Key`, a retry creates nothing more and is answered the same.
pub async fn create(
    State(state): State<WebState>,
    caller: Caller,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&caller.0, &headers, "POST", uri.path(), &body)?;
    let request: NewContactRequest = json_body(&headers, &body)?;
    let kind = match request.kind.as_deref() {
        None => None,
        Some(k) => Some(ContactKind::parse(k.trim()).ok_or_else(|| {
            ApiError::invalid("kind : person ou organisation").with_field("kind")
        })?),
    };
    let filled = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let new = NewContact {
        kind,
        civility: filled(request.civility),
        first_name: filled(request.first_name),
        name: request.name.trim().to_owned(),
        organisation: filled(request.organisation),
        address: filled(request.address),
        postal_code: filled(request.postal_code),
        city: filled(request.city),
        email: filled(request.email),
        phone: filled(request.phone),
        siret: filled(request.siret),
    };
    let (answered, _) = state
        .app
        .create_contact_once(
            caller.0.commune(),
            &caller.0.actor(),
            new,
            Utc::now(),
            key.as_ref(),
            |contact| {
                serde_json::to_string(&contact_json(contact))
                    .map_err(|e| parapheur_app::AppError::internal(e.to_string()))
            },
        )
        .await?;
    Ok(super::registration::created(answered, "contacts"))
}
