//! One module per page or group of pages.

pub mod admin;
pub mod archives;
pub mod auth;
pub mod call;
pub mod capture;
pub mod citizens_admin;
pub mod contacts;
pub mod correspondence;
pub mod dashboard;
pub mod help;
pub mod inbox;
pub mod item;
pub mod letter;
pub mod operations;
pub mod parapheur;
pub mod public;
pub mod register;
pub mod search;
pub mod separators;

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use crate::WebState;
use crate::session::{COOKIE, cookie};

/// The home page: the inbox for a logged-in person, the login page otherwise.
pub async fn home(
    axum::extract::State(state): axum::extract::State<WebState>,
    headers: HeaderMap,
) -> Response {
    let who = match cookie(&headers, COOKIE) {
        Some(token) => state
            .app
            .authenticate(token, chrono::Utc::now())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match who {
        Some(who) => Redirect::to(landing(&state, &who).await).into_response(),
        None => Redirect::to("/connexion").into_response(),
    }
}

/// Where a person lands after logging in when no page was asked for: an élu with letters
/// waiting for their visa or signature lands on them (two taps from login to signed: the
/// letter, then "Signer"); everyone else on "À traiter". Those who register the mail keep
/// their inbox, which says how many letters wait for them.
pub(crate) async fn landing(
    state: &WebState,
    who: &parapheur_app::administration::auth::Authenticated,
) -> &'static str {
    if who.user.role.can_register() {
        return "/a-traiter";
    }
    match state
        .app
        .folders_waiting_for(&who.commune, &who.user, chrono::Utc::now())
        .await
    {
        Ok(waiting) if !waiting.is_empty() => "/parapheur",
        _ => "/a-traiter",
    }
}

/// The commune's logo as an image response: its stored type, the given caching, and a
/// sandbox so that an SVG-like surprise can never run as a page.
pub(crate) fn logo_response(bytes: Vec<u8>, media_type: &str, cache: &'static str) -> Response {
    use axum::http::{HeaderValue, header};
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

/// The client's address, when the server knows it: the peer, or behind a trusted reverse
/// proxy the address that proxy saw (the limits per address depend on it).
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<WebState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(peer.map(|peer| {
            client_address(peer, &forwarded.join(","), state.app.trusted_proxies())
        })))
    }
}

/// The address a request comes from. Only a trusted proxy's `X-Forwarded-For` is read,
/// from the right: each proxy appends the address it saw, so the right-most address that
/// is not one of ours is the client's; what is left of it could be forged by the client.
pub fn client_address(peer: IpAddr, forwarded_for: &str, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    for hop in forwarded_for.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Garbage in the chain: stop at the last address we can vouch for.
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::client_address;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let proxy = [ip("127.0.0.1"), ip("10.0.0.2")];
        // Direct: the header is the client's own words.
        assert_eq!(
            client_address(ip("203.0.113.7"), "198.51.100.1", &proxy),
            ip("203.0.113.7")
        );
        // Through the proxy: the address it saw.
        assert_eq!(
            client_address(ip("127.0.0.1"), "198.51.100.1", &proxy),
            ip("198.51.100.1")
        );
        // A forged left part is ignored; both of our proxies are skipped.
        assert_eq!(
            client_address(ip("127.0.0.1"), "1.2.3.4, 198.51.100.1, 10.0.0.2", &proxy),
            ip("198.51.100.1")
        );
        // No header, garbage, or only our proxies: the peer.
        assert_eq!(client_address(ip("127.0.0.1"), "", &proxy), ip("127.0.0.1"));
        assert_eq!(
            client_address(ip("127.0.0.1"), "n'importe quoi", &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), "10.0.0.2", &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), "2001:db8::1", &proxy),
            ip("2001:db8::1")
        );
    }
}
