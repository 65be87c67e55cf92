//! Reads email messages into what parapheur registers.
//!
//! A town hall receives mail by email: letters from residents, replies to its own
//! letters, scans sent by the copier down the corridor. This crate turns the raw bytes of
//! one message (an `.eml` file, one message of an mbox or maildir, or what the IMAP
//! mailbox crate fetched) into a [`ParsedMail`]: sender, recipients, subject, a readable
//! plain-text body, a sanitised HTML body for display, and the attachments to keep.
//!
//! What it owns and why:
//! - **Robustness.** Mail is hostile and often broken. [`parse`] never panics; what it
//!   cannot read at all becomes a [`Rejection`] whose `Display` is a French sentence the
//!   application stores as the quarantine reason. Everything else is parsed on a best
//!   effort basis, and what was odd (unknown charset, truncated message, attachment too
//!   large, encrypted PDF...) is reported in [`ParsedMail::warnings`], in French, so the
//!   clerk knows what to check against the original (the application always keeps the
//!   original message).
//! - **Safety of what is shown.** [`ParsedMail::html_body`] has no script, no form, no
//!   frame, no event handler and no remote resource: opening a message never tells the
//!   sender it was read. Inline images are kept as `cid:` URLs; [`rewrite_cid_urls`] maps
//!   them to the application's own URLs when displaying.
//! - **Bounded work.** [`Limits`] caps the message size (checked before parsing), the
//!   size and count of attachments, the recipients kept and the body length. Archives are
//!   never unpacked.
//!
//! It does no network, no database and no file writing; [`read_sources`] only reads
//! `.eml` files, mbox files and maildirs for the `import-mail` command.
//!
//! MIME parsing itself is mail-parser's (0.11); HTML sanitising is ammonia's.

mod attach;
mod html;
mod parse;
mod scan;
mod sources;
mod text;

pub use attach::{PdfFlags, pdf_flags};
pub use html::rewrite_cid_urls;
pub use parse::{normalise_message_id, parse};
pub use sources::{SourceMessage, read_sources, split_mbox};

use serde::{Deserialize, Serialize};

/// Bounds on the work and memory spent on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// A larger message is rejected before parsing (default 100 MiB).
    pub max_message_bytes: usize,
    /// A larger attachment (decoded) is not kept; it stays in the original (default 64 MiB).
    pub max_attachment_bytes: usize,
    /// Attachments beyond this count are not kept (default 200).
    pub max_attachments: usize,
    /// Recipients kept in `to` and `cc` together (default 50).
    pub max_recipients_kept: usize,
    /// Characters kept of the text body, and of the HTML body before sanitising
    /// (default 1,000,000).
    pub max_body_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 100 * 1024 * 1024,
            max_attachment_bytes: 64 * 1024 * 1024,
            max_attachments: 200,
            max_recipients_kept: 50,
            max_body_chars: 1_000_000,
        }
    }
}

/// A mailbox address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The display name, decoded, whitespace collapsed; `None` when absent or empty.
    pub name: Option<String>,
    /// The address, trimmed, without angle brackets, its domain lowercased.
    pub email: String,
}

/// An attachment kept from a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailAttachment {
    /// A safe file name: no `/`, `\`, NUL or control characters, at most 200 characters,
    /// never empty (`piece-jointe-3.pdf` is made up from the media type when needed).
    pub filename: String,
    /// The media type, lowercased, without parameters (`application/pdf`).
    pub media_type: String,
    /// The decoded content. A nested message (`message/rfc822`) is kept whole as `.eml`.
    pub bytes: Vec<u8>,
    /// True for a part meant to be shown inside the body (an image of an HTML message).
    pub inline: bool,
    /// The Content-ID without `< >`, for mapping `cid:` URLs of the HTML body.
    pub content_id: Option<String>,
}

/// What the application registers from one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedMail {
    /// The Message-ID, normalised by [`normalise_message_id`] (no `< >`).
    pub message_id: Option<String>,
    /// In-Reply-To message ids, normalised.
    pub in_reply_to: Vec<String>,
    /// References message ids, normalised, oldest first.
    pub references: Vec<String>,
    pub from: Option<Address>,
    pub reply_to: Option<Address>,
    /// The first recipients of To (and then Cc), up to [`Limits::max_recipients_kept`]
    /// together.
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Count of To and Cc addresses before truncation.
    pub recipients_total: usize,
    /// Decoded (RFC 2047), whitespace collapsed; may be empty.
    pub subject: String,
    pub date: Option<chrono::DateTime<chrono::Utc>>,
    /// The date of the topmost Received header: when the last server, the commune's own
    /// mail provider, took the message in for the mailbox. See [`ParsedMail::delivered_at`].
    #[serde(default)]
    pub received: Option<chrono::DateTime<chrono::Utc>>,
    /// Sent by a program, not a person (RFC 3834 Auto-Submitted, Precedence bulk/list/junk,
    /// a mailing list's List-Id): no automatic reply goes back to it.
    #[serde(default)]
    pub automated: bool,
    /// Readable plain text: the text/plain body, or text derived from the HTML body.
    /// Quoted reply tails are kept (a reply quoting "Votre courrier 2026-A-000123" must
    /// stay findable).
    pub text_body: String,
    /// Sanitised HTML for display, or `None` for a plain-text message. Inline images are
    /// `cid:` URLs (see [`rewrite_cid_urls`]); no remote resource remains.
    pub html_body: Option<String>,
    pub attachments: Vec<MailAttachment>,
    /// French sentences for the clerk about what was odd in this message.
    pub warnings: Vec<String>,
    /// True for a scan sent by a copier: a PDF or image attached and no real body.
    pub looks_like_scan: bool,
}

/// How far back a Received date may go before the capture: further, the message cannot have
/// waited in the mailbox that long unread by the relève, or the header was made up.
const RECEIVED_BOUND: chrono::TimeDelta = chrono::TimeDelta::days(366);
/// How far back the sender's own Date may go: it is written by the sender's program, so it
/// is only believed when close to the capture (a weekend in the mailbox, a late relève).
const DATE_BOUND: chrono::TimeDelta = chrono::TimeDelta::days(7);

impl ParsedMail {
    /// When the message reached the commune, for its arrival date (the delays run from
    /// receipt, L231-1, not from the day the mailbox was read). The most reliable first:
    /// the topmost Received header, written by the receiving server on delivery (the sender
    /// can forge lower ones, not the one added after them); else the Date header, the
    /// sender's clock, believed only within [`DATE_BOUND`]; else `captured`. Each is bounded:
    /// never after the capture (a clock ahead), never before its bound (a made-up header).
    /// The agent corrects what remains wrong, with a reason.
    pub fn delivered_at(
        &self,
        captured: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        let within = |at: Option<chrono::DateTime<chrono::Utc>>, bound| {
            at.filter(|at| *at >= captured - bound)
                .map(|at| at.min(captured))
        };
        within(self.received, RECEIVED_BOUND)
            .or_else(|| within(self.date, DATE_BOUND))
            .unwrap_or(captured)
    }
}

/// Why a message could not be read at all. `Display` is French: the application shows it
/// as the reason the original was put in quarantine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Larger than [`Limits::max_message_bytes`] (checked before any parsing).
    #[error("message trop volumineux : {} pour une limite de {}", text::size_fr(*size), text::size_fr(*limit))]
    TooLarge { size: u64, limit: u64 },
    /// No bytes, only blank lines, or headers saying neither who, what nor anything else
    /// (no sender, subject, text or attachment).
    #[error("message vide")]
    Empty,
    /// The bytes are not a message (no header line at the start, a PDF, an image...).
    #[error("ce n'est pas un message électronique : {0}")]
    NotAMessage(String),
    /// For callers that know a transfer was cut. [`parse`] never returns it: a truncated
    /// message is parsed with a "message tronqué" warning, since nothing is lost (the
    /// application keeps the original).
    #[error("message tronqué : {0}")]
    Truncated(String),
    /// [`read_sources`] could not read the file.
    #[error("fichier illisible : {0}")]
    Unreadable(String),
    /// A panic inside the parser, caught. Seen so far only in debug builds: mail-parser
    /// 0.11 has `debug_assert!`s on broken MIME structures that it recovers from in
    /// release builds (51,000 mutated corpus messages tried).
    #[error("erreur interne pendant la lecture du message : {0}")]
    Internal(String),
}
