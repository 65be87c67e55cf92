//! Operations: the health report for load balancers (`/sante`, and `/healthz` kept as a
//! bare "ok"), Prometheus' metrics (`/metrics`, behind a bearer token), and the host
//! administrator's page of the nodes and their background loops.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use parapheur_app::metrics::Counter;
use sha2::{Digest, Sha256};

use crate::error::WebError;
use crate::session::Me;
use crate::{WebState, assets, templates};

/// `/sante`: 200 when the node can serve (database and file storage reachable), 503
/// otherwise; the JSON says what was checked, loops and off-site copy included.
pub async fn health(State(state): State<WebState>) -> Response {
    let health = state.app.health().await;
    let status = if health.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(health)).into_response()
}

/// `/metrics`, in Prometheus' text format, for whoever shows the configured bearer token;
/// "not found" when no token is configured or another is shown (nothing tells a scanner
/// that the route exists).
pub async fn metrics(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let Some(expected) = state.app.metrics_token() else {
        return WebError::NotFound.into_response();
    };
    let shown = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared through their hashes: the time taken says nothing of the token.
    if Sha256::digest(shown.trim().as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return WebError::NotFound.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exposition(&state),
    )
        .into_response()
}

/// The text exposition of this node's counters.
fn exposition(state: &WebState) -> String {
    let app = &state.app;
    let metrics = app.metrics();
    let mut out = String::new();
    out.push_str("# HELP parapheur_http_responses_total HTTP responses by status code.\n");
    out.push_str("# TYPE parapheur_http_responses_total counter\n");
    for (status, n) in metrics.http_responses() {
        out.push_str(&format!(
            "parapheur_http_responses_total{{status=\"{status}\"}} {n}\n"
        ));
    }
    for counter in Counter::ALL {
        let (name, help) = counter.name_and_help();
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            metrics.get(counter)
        ));
    }
    out.push_str(
        "# HELP parapheur_loop_restarts_total Restarts of a background loop after a panic.\n",
    );
    out.push_str("# TYPE parapheur_loop_restarts_total counter\n");
    for l in app.loop_health() {
        out.push_str(&format!(
            "parapheur_loop_restarts_total{{loop=\"{}\"}} {}\n",
            l.name.replace(['"', '\\', '\n'], "_"),
            l.restarts
        ));
    }
    out
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "jamais".to_owned(),
        |t| t.format("%d/%m/%Y %H:%M:%S UTC").to_string(),
    )
}

/// The host administrator's page: each node seen in the last day, and each of its loops.
pub async fn nodes(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let nodes: Vec<_> = state
        .app
        .nodes()
        .await?
        .into_iter()
        .map(|n| {
            let loops: Vec<_> = n
                .loops
                .iter()
                .map(|l| {
                    ctx! {
                        name => loop_label(&l.name), restarts => l.restarts,
                        last_panic => l.last_panic, last_panic_at => l.last_panic_at.map(|t| when(Some(t))),
                        last_success => when(l.last_success_at), last_error => l.last_error,
                    }
                })
                .collect();
            ctx! {
                name => n.name, version => n.version, started_at => when(Some(n.started_at)),
                last_seen => when(Some(n.last_seen)), background => n.background,
                running => n.running, this_node => n.this_node, loops,
            }
        })
        .collect();
    Ok(Html(templates::render(
        "host_nodes.html",
        ctx! {
            title => "Nœuds et tâches de fond", style_url => assets::style_url(), me => me.view(),
            csrf => me.csrf(), nav => "host", nodes,
        },
    )?))
}

/// A loop's name, in French.
fn loop_label(name: &str) -> String {
    match name {
        "heartbeat" => "Signal de vie",
        "extraction" => "Extraction du texte (OCR)",
        "index" => "Index de recherche",
        "mailboxes" => "Boîtes aux lettres",
        "outbox" => "Envoi des courriels",
        "webhooks" => "Envoi des webhooks",
        "deadline watch" => "Veille des échéances",
        "drop folder" => "Dossier de dépôt",
        other => other,
    }
    .to_owned()
}

/// Counts each response by status code (`/metrics`).
pub async fn count_responses(
    State(state): State<WebState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    state.app.count_http(response.status().as_u16());
    response
}
