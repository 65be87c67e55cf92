//! One id per request, in every log line written while it is served and in the answer's
//! `X-Request-Id` header: a person reporting a problem gives the id, and the log shows
//! everything that request did. The span names the route's pattern, never the path itself
//! (a tracking link's path is the citizen's secret).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// An id from the reverse proxy is kept when it looks like one (so that its log and ours
/// match); anything else gets a new one.
fn incoming(request: &Request) -> Option<String> {
    let value = request.headers().get(HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    sane.then(|| value.to_owned())
}

pub async fn with_request_id(request: Request, next: Next) -> Response {
    let id = incoming(&request).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(aucune route)", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", id = %id, method = %request.method(), route = %route);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.in_scope(|| {
        let ms = started.elapsed().as_millis();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
