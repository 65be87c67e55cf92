//! One module per page or group of pages.

pub mod admin;
pub mod auth;
pub mod call;
pub mod capture;
pub mod citizens_admin;
pub mod contacts;
pub mod correspondence;
pub mod dashboard;
pub mod inbox;
pub mod item;
pub mod letter;
pub mod parapheur;
pub mod public;
pub mod register;
pub mod search;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use crate::WebState;
use crate::session::{COOKIE, cookie};

/// The home page: the inbox for a logged-in person, the login page otherwise.
pub async fn home(
    axum::extract::State(state): axum::extract::State<WebState>,
    headers: HeaderMap,
) -> Response {
    let logged_in = match cookie(&headers, COOKIE) {
        Some(token) => matches!(
            state.app.authenticate(token, chrono::Utc::now()).await,
            Ok(Some(_))
        ),
        None => false,
    };
    Redirect::to(if logged_in {
        "/a-traiter"
    } else {
        "/connexion"
    })
    .into_response()
}

/// The client's address, when the server knows it.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
