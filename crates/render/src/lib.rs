//! Structured data to PDF documents, laid out by typst.
//!
//! This crate owns the printed documents: the legal register of the mail
//! ("registre chronologique du courrier") and the commune's official letters with its
//! letterhead: acknowledgements of receipt, replies drafted in the parapheur, and the
//! bordereau de signature; and the PDF/A copy of a received image, for the archives.
//! Each document is a `.typ` template embedded from `templates/`, fed with its data as
//! one JSON value (`sys.inputs.data`), so text from users is always inserted as text
//! and never interpreted as markup: nothing is escaped by hand.
//!
//! The output is PDF/A-2b with the fonts embedded (Libertinus Serif, shipped inside
//! the binary): no system font, file or network access at render time.
//!
//! Rendering is CPU-bound and synchronous. From async code, run it in
//! `tokio::task::spawn_blocking`. Renders on several threads are independent; the
//! fonts are loaded once per process and shared.
//!
//! typst is a large dependency (minutes of release build, tens of MB of binary), which
//! is why it lives in this crate alone: crates that do not print do not pay for it.

pub mod child;
mod engine;
mod image;
mod letter;
mod register;
mod separator;

#[cfg(test)]
mod tests;

pub use child::{Job, Laid, Layout};
pub use image::{ImageDocument, ImageFormat, image_pdf};
pub use letter::{
    LetterDocument, LetterSection, Logo, LogoFormat, SignatureZone, letter_pdf,
    letter_pdf_with_zone, letters_pdf,
};
pub use register::{RegisterDocument, RegisterRow, register_pdf};
pub use separator::{MAX_SHEETS, separator_sheets_pdf};

/// Why a document could not be produced. The texts are French; `Layout` and `Pdf`
/// carry typst's diagnostics (`/registre.typ:12:3: message`) for the developer.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The data could not be turned into JSON for the template.
    #[error("données du document illisibles : {0}")]
    Data(#[from] serde_json::Error),
    /// A virtual file has an invalid path.
    #[error("fichier joint « {path} » refusé : {reason}")]
    Asset { path: String, reason: String },
    /// The generation date cannot be written in the PDF.
    #[error("date d'édition du document invalide")]
    Date,
    /// typst could not lay out the template with this data.
    #[error("mise en page du document impossible : {0}")]
    Layout(String),
    /// The PDF export failed (for example a PDF/A rule was broken).
    #[error("export PDF impossible : {0}")]
    Pdf(String),
}
