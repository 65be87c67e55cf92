//! Errors as pages: a French message for people, details only in the log.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use parapheur_app::{AppError, ErrorKind};

#[derive(Debug)]
pub enum WebError {
    /// Not logged in: go to the login page, then come back.
    Login {
        next: String,
    },
    NotFound,
    Forbidden(String),
    /// A refused form or value: shown to the user as is.
    BadRequest(String),
    /// Someone else changed it first: shown as is.
    Conflict(String),
    /// The server cannot do it now (full disk…): shown as is, nothing was saved.
    Unavailable(String),
    Internal(String),
}

impl From<AppError> for WebError {
    /// Decided by the error's kind: the person reads its French message, the log its detail.
    fn from(e: AppError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => WebError::NotFound,
            ErrorKind::Forbidden => WebError::Forbidden(match e {
                AppError::Forbidden(message) => message,
                other => other.user_message(),
            }),
            ErrorKind::Invalid => WebError::BadRequest(e.user_message()),
            ErrorKind::Conflict => WebError::Conflict(e.user_message()),
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "unavailable");
                WebError::Unavailable(e.user_message())
            }
            ErrorKind::Internal => WebError::Internal(e.to_string()),
        }
    }
}

impl From<minijinja::Error> for WebError {
    fn from(e: minijinja::Error) -> Self {
        WebError::Internal(format!("template: {e:#}"))
    }
}

/// An error page's words, kept on the response so that `session::with_navigation` can render
/// it again with the header and menu of the person logged in.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub(crate) title: String,
    pub(crate) message: String,
}

/// The person an error page is shown to, when they are logged in: their header (the
/// session's view of them) and the token of its forms.
pub(crate) struct Navigation {
    pub(crate) me: minijinja::Value,
    pub(crate) csrf: String,
}

pub(crate) fn render_page(title: &str, message: &str, nav: Option<Navigation>) -> String {
    let (me, csrf) = match nav {
        Some(nav) => (Some(nav.me), Some(nav.csrf)),
        None => (None, None),
    };
    crate::templates::render(
        "message.html",
        ctx! {
            title, message, style_url => crate::assets::style_url(),
            me, csrf,
            back_url => "/a-traiter", back_label => "Retour à la liste",
        },
    )
    .unwrap_or_else(|_| {
        format!("<!doctype html><html lang=\"fr\"><title>{title}</title><p>{message}</p></html>")
    })
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    // The message may come from a use case's error, worded to follow a colon elsewhere.
    let message = &parapheur_app::domain::french::sentence(message);
    let mut response = (status, Html(render_page(title, message, None))).into_response();
    response.extensions_mut().insert(ErrorPage {
        title: title.to_owned(),
        message: message.to_owned(),
    });
    response
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Login { next } => {
                let target = if next.starts_with('/') && !next.starts_with("//") {
                    format!("/connexion?suite={}", urlencode(&next))
                } else {
                    "/connexion".to_owned()
                };
                Redirect::to(&target).into_response()
            }
            WebError::NotFound => page(
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Cette page n'existe pas, ou vous n'y avez pas accès.",
            ),
            WebError::Forbidden(m) => page(StatusCode::FORBIDDEN, "Accès refusé", &m),
            WebError::BadRequest(m) => page(StatusCode::BAD_REQUEST, "Demande refusée", &m),
            WebError::Conflict(m) => page(StatusCode::CONFLICT, "Modifié entre-temps", &m),
            WebError::Unavailable(m) => {
                tracing::error!(message = %m, "service unavailable");
                page(StatusCode::SERVICE_UNAVAILABLE, "Service indisponible", &m)
            }
            WebError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur",
                    "Une erreur est survenue ; rien n'a été enregistré à moitié. Réessayez dans un instant.",
                )
            }
        }
    }
}

pub use crate::download::urlencode;
