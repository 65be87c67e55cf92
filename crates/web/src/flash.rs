//! Saying what was just done: an action's redirect carries `?fait=CODE`, a code of a fixed
//! set, and the page it leads to turns it into a sentence about what happened and what
//! comes next, written from the object's state as it is now. Server-rendered, no script,
//! and no words of the request's own ever reach the page (an unknown code shows nothing).

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    // On a letter of the parapheur.
    Approved,
    Signed,
    SignatureUndone,
    Rejected,
    Transferred,
    OpinionAsked,
    OpinionGiven,
    Bypassed,
    CircuitStarted,
    Saved,
    // On an item.
    Status,
    Assigned,
    Note,
    Suggestion,
    DocumentsRequested,
    DocumentsReceived,
    Arrival,
    Forwarded,
    Copied,
    Linked,
    Acknowledged,
}

const CODES: &[(Done, &str)] = &[
    (Done::Approved, "vise"),
    (Done::Signed, "signe"),
    (Done::SignatureUndone, "signature-annulee"),
    (Done::Rejected, "refuse"),
    (Done::Transferred, "transfere"),
    (Done::OpinionAsked, "avis-demande"),
    (Done::OpinionGiven, "avis-donne"),
    (Done::Bypassed, "contourne"),
    (Done::CircuitStarted, "circuit"),
    (Done::Saved, "enregistre"),
    (Done::Status, "statut"),
    (Done::Assigned, "affecte"),
    (Done::Note, "note"),
    (Done::Suggestion, "suggestion"),
    (Done::DocumentsRequested, "pieces-demandees"),
    (Done::DocumentsReceived, "pieces-recues"),
    (Done::Arrival, "arrivee"),
    (Done::Forwarded, "transmis"),
    (Done::Copied, "copie"),
    (Done::Linked, "lien"),
    (Done::Acknowledged, "accuse"),
];

impl Done {
    pub fn code(self) -> &'static str {
        CODES
            .iter()
            .find(|(d, _)| *d == self)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    /// The code read back from a query; anything else is nothing.
    pub fn parse(code: &str) -> Option<Done> {
        CODES.iter().find(|(_, c)| *c == code).map(|(d, _)| *d)
    }
}

/// The query of a page that may follow an action.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub fait: String,
    /// The letter it was done to, when the page is another one (the list after a signature).
    #[serde(default)]
    pub courrier: String,
}

impl DoneQuery {
    pub fn done(&self) -> Option<Done> {
        Done::parse(&self.fait)
    }
}

/// The redirect after `done`, to `path` (which may already have a query).
pub fn redirect(path: &str, done: Done) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}fait={}", done.code())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back() {
        for (done, code) in CODES {
            assert_eq!(Done::parse(code), Some(*done));
            assert_eq!(done.code(), *code);
        }
        assert_eq!(Done::parse("Vous avez gagné"), None);
    }
}
