//! The user's guide (issue 17): short, in French, linked from every page's header. Its
//! screens are taken by the browser tests on the demo (`e2e/run.mjs`, "the user's guide"), so
//! that a change to a page changes its picture; they are embedded in the binary and shown on
//! demand, behind a link, so that the guide itself stays a light page on a rural link.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::error::WebError;
use crate::session::Me;
use crate::{assets, templates};

/// A screen of the guide: its file name (without `.jpg`), what it shows, its size.
struct Screen {
    name: &'static str,
    bytes: &'static [u8],
}

macro_rules! screens {
    ($($name:literal),* $(,)?) => {
        &[$(Screen { name: $name, bytes: include_bytes!(concat!("../../assets/aide/", $name, ".jpg")) }),*]
    };
}

const SCREENS: &[Screen] = screens![
    "a-traiter",
    "courrier-nouveau",
    "appel",
    "courrier",
    "recherche",
    "parapheur-telephone",
    "signer-telephone",
    "demarches",
];

/// The size of a screen as the guide's link says it ("82 Ko"), so that nobody opens a picture
/// on a slow link without knowing.
fn size_of(name: &str) -> String {
    SCREENS
        .iter()
        .find(|s| s.name == name)
        .map(|s| parapheur_app::domain::french::size(s.bytes.len() as u64))
        .unwrap_or_default()
}

pub async fn guide(me: Me) -> Result<Html<String>, WebError> {
    let sizes: std::collections::BTreeMap<&str, String> =
        SCREENS.iter().map(|s| (s.name, size_of(s.name))).collect();
    Ok(Html(templates::render(
        "help.html",
        ctx! {
            title => "Aide", style_url => assets::style_url(), me => me.view(),
            csrf => me.csrf(), nav => "help", sizes,
        },
    )?))
}

/// A screen of the guide, cached for a day (a new version of the program may bring new ones).
pub async fn screen(Path(file): Path<String>) -> Response {
    let found = file
        .strip_suffix(".jpg")
        .and_then(|name| SCREENS.iter().find(|s| s.name == name));
    match found {
        Some(screen) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=86400"),
            ],
            screen.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_is_a_jpeg_picture() {
        for screen in SCREENS {
            assert!(
                screen.bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
                "{}.jpg is not a JPEG",
                screen.name
            );
        }
    }

    #[test]
    fn the_guide_links_every_screen_and_only_those() {
        let template = include_str!("../../templates/help.html");
        for screen in SCREENS {
            assert!(
                template.contains(&format!("/aide/ecrans/{}.jpg", screen.name)),
                "the guide does not show {}",
                screen.name
            );
        }
        assert_eq!(template.matches("/aide/ecrans/").count(), SCREENS.len());
    }
}
