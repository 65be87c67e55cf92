//! The separator sheet put in front of each letter of a batch scan: a large QR code
//! carrying a fixed payload, and instructions in French.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::RenderError;
use crate::engine::{self, Asset, Template, template_source};

static TEMPLATE: Template = Template::new(|| {
    template_source(
        "/separateur.typ",
        include_str!("../templates/separateur.typ"),
    )
});

/// Most sheets printed at once.
pub const MAX_SHEETS: u32 = 50;

#[derive(Serialize)]
struct Payload<'a> {
    title: &'a str,
    subtitle: &'a str,
    instructions: [&'a str; 4],
    footer: String,
    count: u32,
}

/// `count` identical separator sheets (1 to [`MAX_SHEETS`]) as a PDF/A-2b document,
/// one A4 page each, whose QR code carries `payload`.
pub fn separator_sheets_pdf(
    payload: &str,
    count: u32,
    created: DateTime<FixedOffset>,
) -> Result<Vec<u8>, RenderError> {
    let svg = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| RenderError::Layout(format!("code QR : {e}")))?
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .min_dimensions(400, 400)
        .build();
    let data = Payload {
        title: "Feuille de séparation",
        subtitle: "Placez-la devant chaque courrier",
        instructions: [
            "Posez une feuille de séparation devant chaque courrier de la pile, puis numérisez toute la pile en un seul PDF.",
            "Joignez ce PDF dans « Enregistrer un courrier » : le parapheur le découpe à chaque feuille et vous propose les courriers un par un.",
            "Les feuilles de séparation ne sont pas gardées. Réutilisez-les : ne les pliez pas, ne les tachez pas.",
            "Un courrier qui porte lui-même un code QR n'est pas découpé : seule cette feuille compte.",
        ],
        footer: format!("Parapheur — {payload}"),
        count: count.clamp(1, MAX_SHEETS),
    };
    engine::render_pdf(
        &TEMPLATE,
        serde_json::to_vec(&data)?,
        vec![Asset {
            path: "/separateur.svg".into(),
            bytes: svg.into_bytes(),
        }],
        created,
        true,
    )
}
