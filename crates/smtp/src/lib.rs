//! Outgoing email: builds messages and sends them over SMTP.
//!
//! Two steps, kept apart so the application can store what it sends before sending
//! it (an outbox that survives a restart):
//!
//! 1. [`build`] turns an [`OutgoingMessage`] (sender, recipients, subject, text, an
//!    optional HTML version, attachments, threading headers) into RFC 5322 bytes with
//!    mail-builder. It never touches the network and refuses what could break or
//!    forge a header: a CR or LF in a value, an address that is not a plain
//!    `local@domaine` ([`BuildError`], in French).
//! 2. [`send`] hands those bytes to an SMTP server for an [`Envelope`] (MAIL FROM and
//!    RCPT TO, which the headers do not decide), with lettre over tokio and rustls
//!    (ring provider, Mozilla roots from webpki-roots). [`check`] is the "test the
//!    connection" button.
//!
//! # Errors and retries
//!
//! [`SendError`] says whether trying again later makes sense: [`SendError::Temporary`]
//! for a server that cannot be reached (DNS, refused connection, TLS handshake), that
//! does not answer in time or answers 4xx; [`SendError::Permanent`] for a 5xx answer
//! (recipient or message refused, password refused) and for a configuration the
//! server cannot work with (no STARTTLS, no usable authentication). A permanent error
//! will not go away by itself: the caller reports it instead of retrying.
//!
//! A timeout after the message was sent but before the server's answer leaves it
//! unknown whether the server took the message; like every SMTP client, a retry may
//! then deliver it twice.
//!
//! # Secrets and contents
//!
//! Nothing here logs. `Debug` of [`SmtpConfig`] masks the password, `Debug` of
//! [`OutgoingMessage`] and [`Attachment`] shows sizes, not contents, and no error
//! message carries either.

mod message;
mod send;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::message::build;
pub use crate::send::{check, send};

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// No encryption (a relay on the local network, tests). A password is only
    /// sent this way to a loopback address: elsewhere [`send`] refuses.
    None,
    /// Plain connection upgraded with `STARTTLS`, which must succeed (usually
    /// port 587).
    StartTls,
    /// Implicit TLS from the first byte (usually port 465).
    Tls,
}

impl Security {
    /// The usual port for this kind of security.
    pub fn default_port(self) -> u16 {
        match self {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        }
    }
}

/// How to reach a commune's SMTP server.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Both or neither: with them the client authenticates (PLAIN or LOGIN).
    pub username: Option<String>,
    pub password: Option<String>,
    /// How long to wait for the TCP connection; a whole transaction gets twice this
    /// plus one second per 32 KiB of message (see [`send`]).
    pub timeout: Duration,
    /// The name given in EHLO; `None`: this machine's host name.
    pub hello_name: Option<String>,
    /// Accept any TLS certificate. **Tests only**: this turns TLS into mere obfuscation.
    pub accept_invalid_certs: bool,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<masqué>"))
            .field("timeout", &self.timeout)
            .field("hello_name", &self.hello_name)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish()
    }
}

/// An address in a header: `"Name" <email>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Any Unicode text (encoded by [`build`]); `None` or blank: the bare address.
    pub name: Option<String>,
    /// An ASCII addr-spec, `local@domaine.fr`.
    pub email: String,
}

/// A file joined to a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name shown to the recipient (Unicode allowed).
    pub filename: String,
    /// `type/subtype`, optionally with parameters: `application/pdf`,
    /// `text/csv; charset=utf-8`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("content_type", &self.content_type)
            .field("bytes", &format_args!("{} octets", self.bytes.len()))
            .finish_non_exhaustive()
    }
}

/// A message to build with [`build`].
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub from: Address,
    /// At least one.
    pub to: Vec<Address>,
    pub reply_to: Option<Address>,
    pub subject: String,
    /// The text version, always present.
    pub text: String,
    /// An HTML version of the same text, sent as its `multipart/alternative`.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The Message-ID, without `<>` (see [`new_message_id`]); keep it to thread replies.
    pub message_id: String,
    /// The Message-ID this answers, without `<>`.
    pub in_reply_to: Option<String>,
    /// The thread's Message-IDs, oldest first, without `<>`.
    pub references: Vec<String>,
    /// Adds `Auto-Submitted: auto-generated` (RFC 3834: digests, acknowledgements of
    /// receipt), so that well-behaved servers send no automatic reply to it.
    pub auto_submitted: bool,
}

impl fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("message_id", &self.message_id)
            .field("to", &self.to.len())
            .field("text", &format_args!("{} octets", self.text.len()))
            .field("html", &self.html.as_ref().map(|h| h.len()))
            .field("attachments", &self.attachments)
            .field("auto_submitted", &self.auto_submitted)
            .finish_non_exhaustive()
    }
}

impl OutgoingMessage {
    /// The usual envelope: MAIL FROM the sender, RCPT TO every recipient of `to`.
    pub fn envelope(&self) -> Envelope {
        Envelope {
            from: self.from.email.clone(),
            to: self.to.iter().map(|a| a.email.clone()).collect(),
        }
    }
}

/// A new random Message-ID for `domain`, without `<>`: 32 hexadecimal digits (a
/// version 4 UUID), `@`, the domain. A `domain` that is not a host name is replaced
/// by `parapheur.invalid`.
pub fn new_message_id(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.');
    let domain = if message::is_domain(domain) {
        domain.to_ascii_lowercase()
    } else {
        "parapheur.invalid".to_owned()
    };
    format!("{}@{domain}", uuid::Uuid::new_v4().simple())
}

/// Why [`build`] refused a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(
        "le champ « {field} » contient un retour à la ligne ou un caractère de contrôle : \
         il est refusé"
    )]
    HeaderInjection { field: &'static str },
    #[error("adresse électronique invalide dans le champ « {field} » : « {address} »")]
    Address {
        field: &'static str,
        address: String,
    },
    #[error("le message n'a aucun destinataire")]
    NoRecipient,
    #[error("identifiant de message invalide dans le champ « {field} » : « {value} »")]
    MessageId { field: &'static str, value: String },
    #[error(
        "type de pièce jointe invalide : « {0} » (attendu : type/sous-type, par exemple application/pdf)"
    )]
    ContentType(String),
    #[error("nom de pièce jointe invalide : « {0} »")]
    AttachmentName(String),
    #[error("erreur à la construction du message : {0}")]
    Io(String),
}

/// Why [`send`] or [`check`] failed. The text is French, for the user; it never
/// contains the password or the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: unreachable server, timeout, TLS failure, 4xx.
    #[error("{0}")]
    Temporary(String),
    /// Will not succeed as it is: 5xx (address or message refused, password
    /// refused) or a configuration the server does not support.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_temporary(&self) -> bool {
        matches!(self, SendError::Temporary(_))
    }
}

/// The SMTP envelope: who the server sends bounces to, and who receives the message
/// (also Bcc recipients, who appear in no header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM; empty for the null sender `<>` (automatic replies, RFC 3834).
    pub from: String,
    /// RCPT TO, at least one.
    pub to: Vec<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn message_ids_are_random_and_well_formed() {
        let a = new_message_id("Mairie-Exemple.fr");
        let b = new_message_id("mairie-exemple.fr");
        assert_ne!(a, b);
        let (left, right) = a.split_once('@').unwrap();
        assert_eq!(left.len(), 32);
        assert!(left.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(right, "mairie-exemple.fr");
        assert!(new_message_id("bad domain\r\n").ends_with("@parapheur.invalid"));
        assert!(new_message_id("").ends_with("@parapheur.invalid"));
    }

    #[test]
    fn debug_hides_the_password_and_the_contents() {
        let config = SmtpConfig {
            host: "smtp.example.fr".into(),
            port: 587,
            security: Security::StartTls,
            username: Some("mairie".into()),
            password: Some("tres-secret".into()),
            timeout: Duration::from_secs(30),
            hello_name: None,
            accept_invalid_certs: false,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("tres-secret"), "{debug}");
        assert!(debug.contains("<masqué>"));

        let msg = OutgoingMessage {
            from: Address {
                name: None,
                email: "a@b.fr".into(),
            },
            to: vec![],
            reply_to: None,
            subject: "s".into(),
            text: "contenu confidentiel".into(),
            html: Some("<p>contenu confidentiel</p>".into()),
            attachments: vec![Attachment {
                filename: "f.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"contenu confidentiel".to_vec(),
            }],
            message_id: "x@b.fr".into(),
            in_reply_to: None,
            references: vec![],
            auto_submitted: false,
        };
        let debug = format!("{msg:?}");
        assert!(!debug.contains("confidentiel"), "{debug}");
    }

    #[test]
    fn envelope_of_a_message() {
        let msg = OutgoingMessage {
            from: Address {
                name: Some("Mairie".into()),
                email: "mairie@b.fr".into(),
            },
            to: vec![
                Address {
                    name: None,
                    email: "x@y.fr".into(),
                },
                Address {
                    name: Some("Z".into()),
                    email: "z@y.fr".into(),
                },
            ],
            reply_to: None,
            subject: String::new(),
            text: String::new(),
            html: None,
            attachments: vec![],
            message_id: "x@b.fr".into(),
            in_reply_to: None,
            references: vec![],
            auto_submitted: false,
        };
        assert_eq!(
            msg.envelope(),
            Envelope {
                from: "mairie@b.fr".into(),
                to: vec!["x@y.fr".into(), "z@y.fr".into()],
            }
        );
    }
}
