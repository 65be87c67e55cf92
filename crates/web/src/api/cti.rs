//! The phone system's call events (issue 18, point 3): `POST /api/v1/cti/{token}`, in
//! Zammad's generic CTI format so that the bridges written for Zammad post here unchanged.
//! The body is a form (`application/x-www-form-urlencoded`, as most bridges send it, with
//! `user[]` repeated) or a JSON object (`user` a string or an array). Fields a bridge adds
//! are ignored, as Zammad does. The answer is Zammad's: `200 {}` (no action asked of the
//! PBX); a refusal is the API's JSON error with its stable code.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use parapheur_app::domain::cti::{CallEvent, CallRefusal};

use super::{ApiError, Caller};
use crate::WebState;

/// The fields of the body, as (name, value) pairs.
fn pairs(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match content_type.as_str() {
        "application/json" => {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_input(&e.to_string()))?;
            let object = value.as_object().ok_or_else(|| {
                ApiError::bad_input("un objet JSON est attendu (champs event, callId…)")
            })?;
            let mut pairs = Vec::new();
            for (key, value) in object {
                let key = key.trim_end_matches("[]").to_owned();
                match value {
                    serde_json::Value::String(s) => pairs.push((key, s.clone())),
                    serde_json::Value::Number(n) => pairs.push((key, n.to_string())),
                    serde_json::Value::Array(items) => pairs.extend(
                        items
                            .iter()
                            .filter_map(|i| i.as_str())
                            .map(|s| (key.clone(), s.to_owned())),
                    ),
                    _ => {}
                }
            }
            Ok(pairs)
        }
        "application/x-www-form-urlencoded" | "" => Ok(form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "corps attendu en formulaire (application/x-www-form-urlencoded) ou en JSON",
        )),
    }
}

/// The API's error of a refused event.
fn refused(refusal: &CallRefusal) -> ApiError {
    let status = match refusal {
        CallRefusal::Invalid(_) => StatusCode::BAD_REQUEST,
        CallRefusal::Unknown => StatusCode::NOT_FOUND,
        CallRefusal::OutOfOrder { .. } => StatusCode::CONFLICT,
    };
    ApiError::new(status, refusal.code(), refusal.message_fr())
}

/// Takes one call event.
pub async fn event(
    axum::extract::State(state): axum::extract::State<WebState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pairs = pairs(&headers, &body)?;
    let event = CallEvent::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|r| refused(&r))?;
    match state
        .app
        .call_event(caller.commune(), &caller.actor(), event, Utc::now())
        .await?
    {
        Ok(_) => Ok((StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()),
        Err(refusal) => Err(refused(&refusal)),
    }
}
