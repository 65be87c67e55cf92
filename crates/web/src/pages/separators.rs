//! Separator sheets: the PDF to print and put in front of each letter of a pile, and how a
//! batch scan's letters are named on the form once it is split at them.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::WebState;
use crate::error::WebError;
use crate::session::Me;

/// "pages 1 à 2, 4 à 6 et 8".
pub(super) fn page_ranges(segments: &[parapheur_app::register::separators::Segment]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .map(|s| {
            if s.first == s.last {
                format!("page {}", s.first)
            } else {
                format!("pages {} à {}", s.first, s.last)
            }
        })
        .collect();
    match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} et {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Separator sheets to print and put in front of each letter of a pile before scanning
/// it whole (`?nombre=` sheets, 10 by default).
pub async fn separator_sheets(
    State(state): State<WebState>,
    me: Me,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, WebError> {
    let count = q
        .get("nombre")
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(10);
    let pdf = state
        .app
        .separator_sheets(&me.0.commune, &me.0.actor(), count, Utc::now())
        .await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/pdf"),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                crate::download::content_disposition(true, "feuilles-de-separation.pdf"),
            ),
        ],
        pdf,
    )
        .into_response())
}
