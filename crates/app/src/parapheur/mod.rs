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
