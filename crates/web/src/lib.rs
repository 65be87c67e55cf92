//! The web front end, served by the same binary.
//!
//! For now a read-only overview of each commune's register (the full application for staff
//! and élus is the web issue's work). Pages are server-rendered French HTML with strict
//! security headers: no script, no inline style, nothing loaded from elsewhere.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use parapheur_app::App;
use parapheur_app::domain::clock::local_date;
use parapheur_app::store::items::ItemFilter;
use tower_http::set_header::SetResponseHeaderLayer;

/// Builds the router over an open register.
pub fn router(app: App) -> Router {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    let mut router = Router::new()
        .route("/", get(overview))
        .route("/healthz", get(|| async { "ok" }))
        .route("/style.css", get(stylesheet))
        .with_state(app);
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.layer(tower_http::compression::CompressionLayer::new())
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(app: App, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "serving");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
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

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1e1e1e}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd}\
.late{color:#a00;font-weight:bold}caption{text-align:left;font-weight:bold;padding:.5rem 0}";

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn overview(State(app): State<App>) -> Response {
    match render_overview(&app).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "overview failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><html lang=\"fr\"><title>Erreur</title><p>Une erreur est survenue. Réessayez dans un instant.</p></html>".to_owned()),
            )
                .into_response()
        }
    }
}

async fn render_overview(app: &App) -> Result<String, parapheur_app::AppError> {
    let now = chrono::Utc::now();
    let mut html = String::from(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Parapheur — registre du courrier</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><main><h1>Registre du courrier</h1>",
    );
    let communes = app.store().communes().await?;
    if communes.is_empty() {
        html.push_str("<p>Aucune commune : créez-en une avec <code>parapheur init</code>.</p>");
    }
    for commune in communes {
        let today = local_date(now, &commune.departement);
        let total = app.store().item_count(commune.id).await?;
        let late = app
            .store()
            .items(
                commune.id,
                &ItemFilter {
                    late_on: Some(today),
                    ..ItemFilter::default()
                },
                1000,
                0,
            )
            .await?
            .len();
        let items = app
            .store()
            .items(commune.id, &ItemFilter::default(), 50, 0)
            .await?;
        let _ = write!(
            html,
            "<section><h2>{} ({})</h2><p>{total} éléments enregistrés, dont {late} en retard.</p>\
             <table><caption>Derniers enregistrements</caption><thead><tr><th scope=\"col\">Numéro</th>\
             <th scope=\"col\">Arrivée</th><th scope=\"col\">Canal</th><th scope=\"col\">Objet</th>\
             <th scope=\"col\">Statut</th><th scope=\"col\">Échéance</th></tr></thead><tbody>",
            escape(&commune.name),
            escape(&commune.insee)
        );
        for item in items {
            let due = item
                .due_date
                .map(|d| d.format("%d/%m/%Y").to_string())
                .unwrap_or_default();
            let late_mark = if item.is_late(today) {
                " class=\"late\""
            } else {
                ""
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{late_mark}>{}</td></tr>",
                escape(&item.chrono),
                item.arrival_date.format("%d/%m/%Y"),
                item.channel.label_fr(),
                escape(&item.subject),
                item.status.label_fr(),
                if item.is_late(today) {
                    format!("{due} (en retard)")
                } else {
                    due
                },
            );
        }
        html.push_str("</tbody></table></section>");
    }
    html.push_str("</main></body></html>");
    Ok(html)
}
