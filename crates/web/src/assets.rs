//! Static assets embedded in the binary and served under a content-hashed name, so browsers
//! cache them forever and a new version is a new URL.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/app.js");
/// The proof of work of the public forms (citizens' pages only).
const DEMANDE: &str = include_str!("../assets/demande.js");
/// The tab's icon: declared by every page, so browsers do not ask for a missing
/// /favicon.ico.
const ICON: &str = include_str!("../assets/icon.svg");

struct Asset {
    name: String,
    content_type: &'static str,
    body: &'static str,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let hashed = |stem: &str, ext: &str, body: &str| {
            let digest = hex::encode(Sha256::digest(body.as_bytes()));
            format!("{stem}-{}.{ext}", &digest[..12])
        };
        vec![
            Asset {
                name: hashed("style", "css", STYLE),
                content_type: "text/css; charset=utf-8",
                body: STYLE,
            },
            Asset {
                name: hashed("app", "js", SCRIPT),
                content_type: "text/javascript; charset=utf-8",
                body: SCRIPT,
            },
            Asset {
                name: hashed("demande", "js", DEMANDE),
                content_type: "text/javascript; charset=utf-8",
                body: DEMANDE,
            },
            Asset {
                name: hashed("icone", "svg", ICON),
                content_type: "image/svg+xml",
                body: ICON,
            },
        ]
    })
}

/// The URL of the stylesheet.
pub fn style_url() -> String {
    format!("/static/{}", assets()[0].name)
}

/// The URL of the script (loaded deferred; pages work without it).
pub fn script_url() -> String {
    format!("/static/{}", assets()[1].name)
}

/// The URL of the public forms' script (proof of work; forms post without it).
pub fn demande_url() -> String {
    format!("/static/{}", assets()[2].name)
}

/// The URL of the tab's icon.
pub fn icon_url() -> String {
    format!("/static/{}", assets()[3].name)
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match assets().iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
