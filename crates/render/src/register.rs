//! The printed register ("registre chronologique du courrier") for a period.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::RenderError;
use crate::engine::{self, Template, template_source};

static TEMPLATE: Template =
    Template::new(|| template_source("/registre.typ", include_str!("../templates/registre.typ")));

/// A register for one period, as the caller already formatted it in French: this
/// crate prints the strings as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterDocument {
    /// "Saint-Martin-de-Ré".
    pub commune_name: String,
    /// "17369".
    pub insee: String,
    /// "du 1er janvier 2026 au 31 décembre 2026".
    pub period: String,
    /// When the register was produced, in the commune's local time. Printed as
    /// "28/11/2026 à 20:45" and written as the PDF's creation date (PDF/A needs one).
    pub generated_at: DateTime<FixedOffset>,
    /// Human labels of the active filters ("Service : Urbanisme"); empty for the
    /// complete register.
    pub filters: Vec<String>,
    /// In register order.
    pub rows: Vec<RegisterRow>,
}

/// One line of the register.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRow {
    /// "2026-A-000123".
    pub number: String,
    /// "03/02/2026".
    pub received_on: String,
    /// "Arrivée", "Départ" or "Interne".
    pub direction: String,
    /// "Courrier postal", "Courriel", ...
    pub channel: String,
    pub correspondent: String,
    pub subject: String,
    pub service: String,
    pub status: String,
    /// "17/03/2026", or "" when there is no deadline.
    pub due_on: String,
}

/// What the template reads as `data`.
#[derive(Serialize)]
struct Payload<'a> {
    commune_name: &'a str,
    insee: &'a str,
    period: &'a str,
    generated_on: String,
    filters: &'a [String],
    rows: &'a [RegisterRow],
    count_label: String,
}

/// The register as a PDF/A-2b document: A4 landscape, title block, one table whose
/// header repeats on every page, "Page X / Y" in the footer, the count at the end.
///
/// CPU-bound and memory-hungry while it runs: in release, about 1 ms and 150 KB of
/// peak memory per row (1,000 rows: 1 s; 5,000 rows: 5 s and 770 MB), freed when the
/// last render in progress finishes. From async code, call it inside
/// `tokio::task::spawn_blocking`, and let only one or two run at a time.
pub fn register_pdf(doc: &RegisterDocument) -> Result<Vec<u8>, RenderError> {
    // Untagged: see `engine::pdf`; 0.7 MB instead of 9.5 MB at 5,000 rows.
    engine::render_pdf(&TEMPLATE, data(doc)?, Vec::new(), doc.generated_at, false)
}

/// The laid-out pages and typst's warnings (tests check there are none).
#[cfg(test)]
pub(crate) fn layout(
    doc: &RegisterDocument,
) -> Result<(typst_layout::PagedDocument, Vec<String>), RenderError> {
    engine::layout(&TEMPLATE, data(doc)?, Vec::new())
}

/// The JSON the template reads as `data`.
fn data(doc: &RegisterDocument) -> Result<Vec<u8>, RenderError> {
    let payload = Payload {
        commune_name: &doc.commune_name,
        insee: &doc.insee,
        period: &doc.period,
        generated_on: doc.generated_at.format("%d/%m/%Y à %H:%M").to_string(),
        filters: &doc.filters,
        rows: &doc.rows,
        count_label: count_label(doc.rows.len()),
    };
    Ok(serde_json::to_vec(&payload)?)
}

/// "1 enregistrement", "5 000 enregistrements" (narrow no-break space between groups).
pub(crate) fn count_label(count: usize) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('\u{202F}');
        }
        grouped.push(digit);
    }
    let noun = if count > 1 {
        "enregistrements"
    } else {
        "enregistrement"
    };
    format!("{grouped} {noun}")
}
