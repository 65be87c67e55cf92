//! The web application, served by the same binary: server-rendered French HTML that works
//! without JavaScript, over the use cases of `parapheur-app`.
//!
//! Every route is declared once, with who may call it, in `routes.rs`: the router is built
//! from that table and each route gets its guard from it (the security matrix test iterates
//! the same table). Handlers extract the request (the `Me` extractor; `Posted`, a form whose
//! CSRF token is checked as it is read), call the use cases of `app`, which check the
//! person's rights again, and render a template. Pages live in
//! `pages/`, one file or folder per feature as in `app`; reads go through `app` too (each
//! feature's `views`), never to the store or the file store. Every query names the commune of
//! the logged-in person, so another commune's ids are simply "not found". Security headers are
//! set once for every response: a strict Content-Security-Policy (no inline script or
//! style), no framing by other sites, no MIME sniffing.

#[macro_use]
mod templates;
pub mod api;
mod assets;
mod cache;
mod download;
mod error;
mod flash;
mod pages;
mod request_id;
pub mod routes;
mod session;
mod views;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use parapheur_app::App;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::WebError;

/// Uploads larger than this are refused before they are read (a scan is far smaller).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The largest body of the login and password forms.
pub const SMALL_FORM_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct WebState {
    pub app: App,
    /// Mark cookies Secure: on when the public address is https.
    pub secure_cookies: bool,
    /// Reads of the busiest pages, valid while the commune's journal has not moved.
    cache: std::sync::Arc<cache::ReadCache>,
}

/// Builds the router over an open register (printed documents are laid out where the
/// register's `App::layout` says).
pub fn router(app: App, secure_cookies: bool) -> Router {
    let state = WebState {
        app,
        secure_cookies,
        cache: Default::default(),
    };
    // blob: images are the previews of scans chosen for upload, made in the browser; media
    // are the voice messages of phone items.
    let csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
               img-src 'self' blob:; media-src 'self'; frame-src 'self'; \
               form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    let headers = [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Pages hold personal data: never kept by shared caches or on disk. Assets and
        // documents set their own caching.
        (header::CACHE_CONTROL, "no-store"),
    ];
    let mut router = routes::routes(&state)
        // The HTTP API (api/): JSON, tokens instead of sessions, its own table of routes.
        .nest(api::PREFIX, api::router(&state))
        .fallback(|| async { WebError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::with_navigation,
        ))
        .layer(axum::middleware::from_fn(session::same_origin_posts))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::operations::count_responses,
        ))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        // Outermost of ours: every log line of a request, its errors included, carries its id.
        .layer(axum::middleware::from_fn(request_id::with_request_id))
        .with_state(state);
    for (name, value) in headers {
        // File responses set their own (stricter) policy; keep it.
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    // The fastest gzip level: pages are a few KB of repetitive HTML that compress well at
    // any level, and the CPU is better spent on requests.
    router.layer(
        tower_http::compression::CompressionLayer::new()
            .quality(tower_http::CompressionLevel::Fastest),
    )
}

/// Listens on `listen`; the listener's `local_addr` is the address reached (the port the
/// system chose when `listen`'s is 0).
pub async fn bind(listen: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await
}

/// How long requests under way may take to finish once the server is asked to stop.
pub const REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long background loops may take to reach a safe point once the server stopped.
pub const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves until Ctrl-C or SIGTERM, then stops gracefully: no new connection is accepted,
/// requests under way get [`REQUEST_GRACE`] to finish, then the background loops stop at
/// their next safe point (at most [`BACKGROUND_GRACE`]) and the node's leases are given
/// back, so that another node takes its mailboxes over at once.
///
/// `listener` is bound by the caller ([`bind`]), which reads the address it got (the port the
/// system chose for port 0) before the configuration's public address is settled.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    secure_cookies: bool,
) -> std::io::Result<()> {
    let listen = listener.local_addr()?;
    tracing::info!(%listen, node = %app.node().name, "serving");
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let streams = app.clone();
    let signal = async move {
        shutdown_signal().await;
        tracing::info!("stopping: no new connections, requests under way finish");
        // The call sheets' streams would otherwise hold the stop for its whole grace.
        streams.end_call_streams();
        let _ = stopping.send(());
    };
    let server = axum::serve(
        listener,
        router(app.clone(), secure_cookies).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    let overdue = async {
        if stopped.await.is_ok() {
            tokio::time::sleep(REQUEST_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served?,
        () = overdue => tracing::warn!(
            grace_seconds = REQUEST_GRACE.as_secs(),
            "requests still under way: closed"
        ),
    }
    parapheur_app::background::stop(&app, BACKGROUND_GRACE).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
