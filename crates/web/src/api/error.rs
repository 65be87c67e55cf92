//! The API's errors: JSON with a stable code a program can decide on, and a French message
//! for the person reading the log: `{"error":{"code":"token_revoked","message":"…"}}`.
//! The codes are listed in the OpenAPI document (`Error.code`) and docs/API.md; a test
//! checks that every code this module can answer is listed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parapheur_app::api::TokenRefusal;
use parapheur_app::{AppError, ErrorKind};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The form field of a refused value, when the use case names it.
    field: Option<&'static str>,
    /// Seconds before trying again (429).
    retry_after: Option<u64>,
}

/// Every code an error of the API may carry (the OpenAPI document lists the same).
pub const ERROR_CODES: &[&str] = &[
    "token_missing",
    "token_invalid",
    "token_revoked",
    "token_expired",
    "token_owner_inactive",
    "scope_missing",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "invalid",
    "invalid_json",
    "unknown_field",
    "invalid_query",
    "invalid_cursor",
    "invalid_idempotency_key",
    "idempotency_key_reused",
    "unsupported_media_type",
    "payload_too_large",
    "conflict",
    "rate_limited",
    "invalid_call_event",
    "call_unknown",
    "call_out_of_order",
    "unavailable",
    "internal",
];

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        debug_assert!(ERROR_CODES.contains(&code), "{code} is not listed");
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "introuvable, ou hors de portée de ce jeton",
        )
    }

    pub fn refused(refusal: TokenRefusal) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            refusal.code(),
            refusal.message_fr(),
        )
    }

    pub fn rate_limited(wait: std::time::Duration) -> ApiError {
        let seconds = wait.as_secs().max(1);
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("trop de requêtes pour ce jeton : réessayez dans {seconds} s"),
            )
        }
    }

    /// A body or query serde refused: an unknown field has its own code.
    pub fn bad_input(detail: &str) -> ApiError {
        if detail.contains("unknown field") {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_field",
                format!("champ inconnu : {detail}"),
            )
        } else if detail.contains("Failed to deserialize query string") {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail.to_owned())
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("JSON refusé : {detail}"),
            )
        }
    }

    /// A refused value of the request, in French.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub fn with_field(mut self, field: &'static str) -> ApiError {
        self.field = Some(field);
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<AppError> for ApiError {
    /// Decided by the error's kind, as the pages are: the code is the kind's stable code.
    fn from(e: AppError) -> Self {
        let status = StatusCode::from_u16(e.kind().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match e.kind() {
            ErrorKind::NotFound => ApiError::not_found(),
            ErrorKind::Internal => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(
                    status,
                    "internal",
                    "une erreur est survenue ; rien n'a été enregistré à moitié",
                )
            }
            kind => {
                if kind == ErrorKind::Unavailable {
                    tracing::warn!(error = %e, "unavailable");
                }
                let message = match &e {
                    AppError::Forbidden(m) => m.clone(),
                    other => other.user_message(),
                };
                ApiError {
                    field: e.field(),
                    ..ApiError::new(status, kind.code(), message)
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = serde_json::Value::from(field);
        }
        let mut response = (
            self.status,
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"parapheur\""),
            );
        }
        if let Some(seconds) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
