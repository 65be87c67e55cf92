//! The versioned HTTP API at `/api/v1`: JSON over the same use cases as the web pages
//! (`parapheur-app`), for the commune's other software. Never a second path to the
//! register: a call acts as its token's owner, whose role and the confidentiality rule the
//! use cases check exactly as for the owner's own pages, and every write is journaled as
//! theirs.
//!
//! Every operation is declared once in [`API_ROUTES`], with the scope its token needs: the
//! router is built from that table, each operation gets its guard from it (token, rate,
//! scope), the security matrix of the tests iterates it, and a test checks the OpenAPI
//! document (`openapi.json`, served at `/api/v1/openapi.json`) against it both ways.
//!
//! Errors are JSON with a stable code (`{"error":{"code":"token_revoked","message":"…"}}`,
//! [`ApiError`]); request bodies refuse unknown fields; lists are read after a cursor;
//! creations take an `Idempotency-Key`. docs/API.md is the guide.

mod contacts;
mod cti;
mod error;
mod items;
mod registration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use chrono::Utc;
use parapheur_app::api::{ApiCaller, Scope};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use error::{ApiError, ERROR_CODES};

use crate::WebState;

/// Where the API lives; a later incompatible version would live beside it.
pub const PREFIX: &str = "/api/v1";

/// The largest body of a registration: a 64 MB file in base64, and the fields.
pub const REGISTER_BODY_BYTES: usize = 90 * 1024 * 1024;
/// The largest body of any other call.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

/// One operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRoute {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Under [`PREFIX`], as the OpenAPI document writes it.
    pub path: &'static str,
    /// The scope a token needs; `None`: no token (the OpenAPI document).
    pub scope: Option<Scope>,
    /// The OpenAPI document's `operationId` of it.
    pub operation_id: &'static str,
}

/// Declares [`API_ROUTES`] and the router built from it, from one list.
macro_rules! api_table {
    ($( $method:ident $path:literal $scope:ident $op:literal => $handler:expr, limit $limit:expr ; )*) => {
        /// Every operation of the API, with the scope it needs.
        pub const API_ROUTES: &[ApiRoute] = &[
            $( ApiRoute { method: method_name(stringify!($method)), path: $path, scope: scope!($scope), operation_id: $op }, )*
        ];

        fn routes(state: &WebState) -> Router<WebState> {
            Router::new()
            $(
                .route(
                    $path,
                    guarded($method($handler).layer(DefaultBodyLimit::max($limit)), scope!($scope), state),
                )
            )*
        }
    };
}

macro_rules! scope {
    (none) => {
        None
    };
    ($scope:ident) => {
        Some(Scope::$scope)
    };
}

const fn method_name(method: &str) -> &'static str {
    match method.as_bytes() {
        b"get" => "GET",
        _ => "POST",
    }
}

api_table! {
    get "/openapi.json" none "getOpenApi" => openapi, limit SMALL_BODY_BYTES;
    get "/items" ItemsRead "listItems" => items::list, limit SMALL_BODY_BYTES;
    post "/items" ItemsWrite "registerItem" => registration::register, limit REGISTER_BODY_BYTES;
    get "/items/search" ItemsRead "searchItems" => items::search, limit SMALL_BODY_BYTES;
    get "/items/{id}" ItemsRead "getItem" => items::show, limit SMALL_BODY_BYTES;
    get "/items/{id}/files/{file}" ItemsRead "getItemFile" => items::file, limit SMALL_BODY_BYTES;
    post "/items/{id}/status" ItemsWrite "changeItemStatus" => items::change_status, limit SMALL_BODY_BYTES;
    post "/items/{id}/assignment" ItemsWrite "assignItem" => items::assign, limit SMALL_BODY_BYTES;
    get "/contacts" ContactsRead "listContacts" => contacts::list, limit SMALL_BODY_BYTES;
    post "/contacts" ContactsWrite "createContact" => contacts::create, limit SMALL_BODY_BYTES;
    get "/contacts/{id}" ContactsRead "getContact" => contacts::show, limit SMALL_BODY_BYTES;
    post "/cti/{token}" CtiEvents "postCallEvent" => cti::event, limit SMALL_BODY_BYTES;
}

/// The OpenAPI 3.1 document of this API, written by hand and checked against
/// [`API_ROUTES`] by the tests (both ways: no operation without its description, no
/// description without its operation).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The API's router, to nest under [`PREFIX`]: unknown paths and methods answer JSON too.
pub(crate) fn router(state: &WebState) -> Router<WebState> {
    routes(state)
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "méthode non permise sur cette adresse",
            )
        })
}

fn guarded(
    route: MethodRouter<WebState>,
    scope: Option<Scope>,
    state: &WebState,
) -> MethodRouter<WebState> {
    match scope {
        None => route,
        Some(scope) => route.route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), scope),
            guard,
        )),
    }
}

/// The bearer token of a request, if it carries one.
fn bearer(parts: &axum::http::HeaderMap) -> Option<&str> {
    let value = parts.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The token of a request: in the address for the phone system's events (Zammad's bridges
/// put it there, and send no header), in the `Authorization` header for every other call.
fn presented_token(scope: Scope, request: &Request) -> Option<String> {
    if scope == Scope::CtiEvents {
        let path = request.uri().path();
        return path
            .rsplit_once("/cti/")
            .map(|(_, token)| token.trim_end_matches('/').to_owned())
            .filter(|t| !t.is_empty() && !t.contains('/'))
            .and_then(|t| {
                percent_encoding::percent_decode_str(&t)
                    .decode_utf8()
                    .ok()
                    .map(|t| t.into_owned())
            });
    }
    bearer(request.headers()).map(str::to_owned)
}

/// Lets the call through only with a live token of the scope, within its rate: the token
/// found (and its owner) is left in the request for the handler's [`Caller`].
async fn guard(
    State((state, scope)): State<(WebState, Scope)>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = Utc::now();
    let Some(secret) = presented_token(scope, &request) else {
        return ApiError::refused(parapheur_app::api::TokenRefusal::Missing).into_response();
    };
    let caller = match state.app.authenticate_token(&secret, now).await {
        Ok(Ok(caller)) => caller,
        Ok(Err(refusal)) => return ApiError::refused(refusal).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match state.app.api_rate(&caller.token, now).await {
        Ok(None) => {}
        Ok(Some(wait)) => return ApiError::rate_limited(wait).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    if !caller.has(scope) {
        return ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "scope_missing",
            format!(
                "ce jeton n'a pas la permission « {} » ({})",
                scope.code(),
                scope.label_fr()
            ),
        )
        .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The caller of the request, found by the route's guard.
pub struct Caller(pub ApiCaller);

impl FromRequestParts<WebState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &WebState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<ApiCaller>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::refused(parapheur_app::api::TokenRefusal::Missing))
    }
}

/// Query parameters, unknown ones refused, errors as JSON.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<WebState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &WebState) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_input(&e.body_text()))
    }
}

/// A JSON body read into `T`, unknown fields refused (`deny_unknown_fields` on every
/// request type), errors as JSON.
pub fn json_body<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "corps attendu en JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_input(&e.to_string()))
}

/// The `Idempotency-Key` of a creation, with the request's fingerprint (method, path,
/// body): `None` without the header.
pub fn idempotency_key(
    caller: &ApiCaller,
    headers: &axum::http::HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Option<parapheur_app::api::IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| {
            !k.is_empty()
                && k.len() <= parapheur_app::api::MAX_IDEMPOTENCY_KEY
                && k.chars().all(|c| c.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key : de 1 à {} caractères ASCII visibles",
                    parapheur_app::api::MAX_IDEMPOTENCY_KEY
                ),
            )
        })?;
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    Ok(Some(parapheur_app::api::IdempotencyKey {
        token_id: caller.token.id,
        key: key.to_owned(),
        fingerprint: hex::encode(hash.finalize()),
    }))
}

/// An id in a path: a malformed one is "not found", like another commune's.
pub fn path_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text).map_err(|_| ApiError::not_found())
}

/// A page size: 50 by default, 1 to 100.
pub fn page_size(limit: Option<u32>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=100) => Ok(i64::from(n)),
        Some(_) => Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit : de 1 à 100",
        )),
    }
}

/// Cursors are opaque to clients: base64url of what the next page starts after.
pub fn encode_cursor(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad_cursor)
}

/// A cursor this server did not give.
pub fn bad_cursor() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "curseur illisible : reprenez celui de la page précédente (next_cursor)",
    )
}
