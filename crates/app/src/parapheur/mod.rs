//! The parapheur: a reply letter drafted from the commune's templates, its circuit of
//! visas and signatures (with delegation), PAdES signatures on its PDF, and its sending
//! by email or post, which registers the outgoing item and closes the incoming one.
//!
//! The circuit's rules live in `domain::circuit`; this module reads and writes folders,
//! signs the PDF (each signature an incremental update of the previous revision), and
//! journals every action with the folder's state before and after, so the *bordereau de
//! signature* is read back from the journal.

mod circuits;
mod drafts;
mod history;
pub mod keys;
mod sending;
mod signing;
mod undo;
pub mod views;

pub use signing::describe_signature;

/// What a signer gives to sign: the code of their second factor (always needed to sign)
/// and, for a key protected by its own code, that code.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignerProof<'a> {
    /// The six digits of the signer's authenticator application.
    pub code: Option<&'a str>,
    /// The code protecting the signing key, when it has one.
    pub pin: Option<&'a str>,
}

impl<'a> SignerProof<'a> {
    pub fn code(code: &'a str) -> Self {
        SignerProof {
            code: Some(code),
            pin: None,
        }
    }
}

use chrono::{DateTime, Utc};
use parapheur_domain::circuit::Circuit;
use parapheur_render::SignatureZone;
use parapheur_store::parapheur::FolderRow;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{App, AppError};

/// The version of what `folders.circuit_json` holds.
const FOLDER_DATA_VERSION: u32 = 1;

/// A signing failure shown to the user as it is (the signing crate words it in French).
fn signing_error(e: impl std::fmt::Display) -> AppError {
    AppError::invalid(e.to_string())
}

/// What a folder keeps besides its columns: its circuit and where its stamps go.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FolderData {
    pub v: u32,
    pub circuit: Option<Circuit>,
    /// The blank zone the letter's layout left under the signature block.
    pub zone: Option<SignatureZone>,
    /// The last signature, which its signer may take back for a few seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<SignatureUndo>,
}

/// How long a signer may take their signature back ("Annuler la signature"), in seconds.
/// Until then, nothing the signature sets off leaves the mairie: the emails to the next
/// people and the webhooks' `letter.signed` wait in their queues, and sending the letter
/// ends the window.
pub const SIGNATURE_UNDO_SECONDS: i64 = 10;

/// What taking a signature back restores: the folder as it was before it (its PDF and its
/// circuit; its state was "in circuit"), and what the signature queued, to drop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureUndo {
    /// The signer, the only person who may take it back.
    pub by: Uuid,
    /// The end of the window.
    pub until: DateTime<Utc>,
    pub pdf_sha256: Option<String>,
    pub pdf_size: Option<i64>,
    pub circuit: Circuit,
    /// The PDFs made since (the signed one, the sealed one), to remove once taken back.
    #[serde(default)]
    pub made: Vec<String>,
    /// The webhooks' events queued by the signature (and a seal after it), held.
    #[serde(default)]
    pub events: Vec<String>,
}

impl FolderData {
    /// The signature `user` may still take back at `now`, if any.
    pub fn undo_open(&self, user: Uuid, now: DateTime<Utc>) -> Option<&SignatureUndo> {
        self.undo.as_ref().filter(|u| u.by == user && now < u.until)
    }
}

impl FolderData {
    pub fn of_row(folder: &FolderRow) -> Result<FolderData, AppError> {
        match &folder.circuit_json {
            None => Ok(FolderData {
                v: FOLDER_DATA_VERSION,
                ..FolderData::default()
            }),
            Some(text) => {
                let data: FolderData = serde_json::from_str(text)
                    .map_err(|e| AppError::invalid(format!("circuit illisible : {e}")))?;
                if data.v != FOLDER_DATA_VERSION {
                    return Err(AppError::invalid(format!(
                        "circuit au format {} : mettez parapheur à jour",
                        data.v
                    )));
                }
                Ok(data)
            }
        }
    }

    fn to_json(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}

/// What the author writes: the letter's subject, address block and text, and whose
/// signature block it carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LetterInput {
    pub subject: String,
    pub recipient: String,
    pub body: String,
    pub signer_id: Option<Uuid>,
}

/// How a signed letter leaves the mairie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendBy {
    /// The signed PDF attached to an email to the correspondent.
    Email,
    /// Printed and posted; the registered letter's number when there is one.
    Post { registered_number: Option<String> },
}

/// One line of the *bordereau de signature*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitEvent {
    pub at: DateTime<Utc>,
    pub who: String,
    pub what: String,
}

impl App {}
