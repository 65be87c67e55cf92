//! Takes new messages from a commune's IMAP mailboxes.
//!
//! The crate is stateless: the application keeps, per mailbox, a [`Cursor`]
//! (the folder's UIDVALIDITY and the last UID it took) in its database and
//! passes it to [`fetch_new`], which returns the messages after it, in UID
//! order. Once the application has committed them it calls [`acknowledge`],
//! which applies the commune's choice ([`AfterCapture`]): leave the mailbox as
//! it is (the default; the folder is opened read-only with `EXAMINE` and bodies
//! are read with `BODY.PEEK[]`, so not even `\Seen` changes), mark the messages
//! `\Seen`, or move them to another folder.
//!
//! # UIDVALIDITY
//!
//! A UID only means something together with the folder's UIDVALIDITY. When the
//! server reports a UIDVALIDITY different from the cursor's (the folder was
//! deleted and recreated, restored from a backup, migrated...), [`fetch_new`]
//! starts again from UID 1 and returns the new UIDVALIDITY: the caller must then
//! store the new cursor and **deduplicate** what it receives (by Message-ID and
//! content hash), since messages it already registered come back with new UIDs.
//!
//! # Robustness
//!
//! Every network step has a timeout ([`CONNECT_TIMEOUT`], [`COMMAND_TIMEOUT`]),
//! so a dead server makes a call fail with [`MailboxError::Timeout`] instead of
//! hanging the poller. A message is never skipped: if the server does not return
//! the body of a message (expunged meanwhile...), the batch stops just before it.

mod conn;
mod mutf7;
mod nesting;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tools;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::conn::{ImapSession, connect, guarded, imap_error, logout, timed};
pub use crate::tools::append;

/// Timeout for establishing the TCP connection, the TLS handshake and the greeting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout for each IMAP command (and for each message of a multi-message answer).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the IMAP server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Implicit TLS (usually port 993), certificates checked against the
    /// Mozilla root store (webpki-roots).
    Tls,
    /// Plain connection upgraded with `STARTTLS` (usually port 143).
    StartTls,
    /// No encryption at all: refused unless the installation allows it
    /// ([`NetworkPolicy::allow_plain_text`]), since the password travels in clear.
    Plain,
}

impl Security {
    /// The usual port for this kind of security.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::Plain => 143,
        }
    }
}

/// What to do with messages once the application has registered them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterCapture {
    /// Leave them untouched (the folder is only ever opened read-only).
    Leave,
    /// Set the `\Seen` flag.
    MarkSeen,
    /// Move them to this folder (UTF-8 name, e.g. "Traités"; created if missing).
    MoveTo(String),
}

/// Where the installation lets a commune's mailbox settings connect. The settings come from
/// a commune administrator; the policy from whoever runs the server. Strict by default: no
/// loopback, private, link-local or other internal address (the settings page would
/// otherwise probe the host's own network), and no connection without TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Allow loopback, private (RFC 1918, fc00::/7), link-local, shared (100.64/10) and
    /// other non-public addresses: a mail server on the mairie's own network.
    pub allow_internal: bool,
    /// Allow [`Security::Plain`]: the password then travels in clear.
    pub allow_plain_text: bool,
}

impl NetworkPolicy {
    /// Everything allowed: tests against a server on this machine.
    pub const PERMISSIVE: NetworkPolicy = NetworkPolicy {
        allow_internal: true,
        allow_plain_text: true,
    };
}

/// Whether `ip` is an address of the public internet (not loopback, private, link-local,
/// shared, documentation, multicast, unspecified or broadcast).
pub fn is_public_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// One mailbox of a commune.
#[derive(Clone, Serialize, Deserialize)]
pub struct MailboxConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: String,
    /// Folder to watch, UTF-8 (encoded to modified UTF-7 on the wire), usually "INBOX".
    pub folder: String,
    pub after_capture: AfterCapture,
    /// Set by the application from the installation's configuration, never stored with
    /// the commune's settings.
    #[serde(skip, default)]
    pub network: NetworkPolicy,
}

impl fmt::Debug for MailboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"<masqué>")
            .field("folder", &self.folder)
            .field("after_capture", &self.after_capture)
            .finish()
    }
}

/// Where the application stopped in a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub uid_validity: u32,
    /// Highest UID already taken (0: none).
    pub last_uid: u32,
}

/// A message found by [`fetch_new`].
#[derive(Clone, PartialEq, Eq)]
pub struct Fetched {
    pub uid_validity: u32,
    pub uid: u32,
    /// RFC822.SIZE as announced by the server.
    pub size: u32,
    /// The whole message (RFC 5322), or `None` when `size` exceeds the
    /// `max_bytes` given to [`fetch_new`]: it was not downloaded.
    pub raw: Option<Vec<u8>>,
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched")
            .field("uid_validity", &self.uid_validity)
            .field("uid", &self.uid)
            .field("size", &self.size)
            .field(
                "raw",
                &self.raw.as_ref().map(|r| format!("{} octets", r.len())),
            )
            .finish()
    }
}

/// State of the watched folder, for the "test the connection" button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderStatus {
    pub uid_validity: u32,
    /// Number of messages in the folder.
    pub messages: u32,
    /// UID the next message will (probably) get.
    pub uid_next: Option<u32>,
    /// Whether the server supports IDLE (push notification of new mail).
    pub idle: bool,
}

/// Errors; their `Display` is in French and may be shown to a secretary.
/// None of them ever contains the password.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("impossible de joindre le serveur de messagerie : {0}")]
    Connect(String),
    #[error("échec de la connexion sécurisée (TLS) au serveur de messagerie : {0}")]
    Tls(String),
    #[error("identifiant ou mot de passe refusé par le serveur")]
    Login,
    #[error("le dossier « {0} » n'existe pas sur le serveur de messagerie")]
    NoFolder(String),
    #[error("réponse inattendue du serveur de messagerie : {0}")]
    Protocol(String),
    #[error("le serveur de messagerie ne répond pas (délai dépassé)")]
    Timeout,
    /// The folder's UIDVALIDITY is no longer the one the UIDs were taken with
    /// ([`acknowledge`]): nothing was changed; fetch again from `None`.
    #[error(
        "le dossier a été réinitialisé sur le serveur (UIDVALIDITY {expected} devenu {found}) : \
         aucune modification faite, les messages seront relevés à nouveau"
    )]
    UidValidityChanged { expected: u32, found: u32 },
}

/// Returns the messages of `config.folder` after `cursor`, at most `batch`, in
/// UID order, and the folder's current UIDVALIDITY.
///
/// If `cursor` is `None` or its UIDVALIDITY differs from the server's, starts
/// from UID 1 (the caller then deduplicates: see the crate documentation).
/// Messages larger than `max_bytes` are returned with `raw: None` (not
/// downloaded), so the caller can record them and move on.
///
/// The next cursor is `Cursor { uid_validity, last_uid: last.uid }` of the last
/// returned message; an empty result means nothing new.
pub async fn fetch_new(
    config: &MailboxConfig,
    cursor: Option<Cursor>,
    max_bytes: u32,
    batch: usize,
) -> Result<(u32, Vec<Fetched>), MailboxError> {
    guarded(async {
        let mut session = connect(config).await?;
        let result = fetch_in(&mut session, config, cursor, max_bytes, batch).await;
        logout(session).await;
        result
    })
    .await
}

async fn fetch_in(
    session: &mut ImapSession,
    config: &MailboxConfig,
    cursor: Option<Cursor>,
    max_bytes: u32,
    batch: usize,
) -> Result<(u32, Vec<Fetched>), MailboxError> {
    let read_only = config.after_capture == AfterCapture::Leave;
    let mailbox = open_folder(session, config, read_only).await?;
    let uid_validity = required_uid_validity(&mailbox)?;
    let last_uid = match cursor {
        Some(c) if c.uid_validity == uid_validity => c.last_uid,
        Some(c) => {
            tracing::warn!(
                folder = %config.folder,
                old = c.uid_validity,
                new = uid_validity,
                "UIDVALIDITY changed: fetching the folder again from UID 1"
            );
            0
        }
        None => 0,
    };
    let Some(first) = last_uid.checked_add(1) else {
        return Ok((uid_validity, Vec::new()));
    };
    if batch == 0 || mailbox.exists == 0 || mailbox.uid_next.is_some_and(|next| next <= first) {
        return Ok((uid_validity, Vec::new()));
    }

    // Sizes first. "N:*" always includes the highest UID even when it is
    // below N (RFC 3501 6.4.8), and unilateral FETCH answers may show up:
    // keep only answers with a UID >= first and a size.
    let mut sizes: BTreeMap<u32, u32> = BTreeMap::new();
    {
        let mut answers =
            timed(session.uid_fetch(format!("{first}:*"), "(UID RFC822.SIZE)")).await?;
        while let Some(answer) = next_item(&mut answers).await? {
            if let (Some(uid), Some(size)) = (answer.uid, answer.size)
                && uid >= first
            {
                sizes.insert(uid, size);
            }
        }
    }
    let selected: Vec<(u32, u32)> = sizes.into_iter().take(batch).collect();
    let wanted: Vec<u32> = selected
        .iter()
        .filter(|(_, size)| *size <= max_bytes)
        .map(|(uid, _)| *uid)
        .collect();

    let mut bodies: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    if !wanted.is_empty() {
        let mut answers = timed(session.uid_fetch(uid_set(&wanted), "(UID BODY.PEEK[])")).await?;
        while let Some(answer) = next_item(&mut answers).await? {
            if let (Some(uid), Some(body)) = (answer.uid, answer.body())
                && wanted.binary_search(&uid).is_ok()
            {
                bodies.insert(uid, body.to_vec());
            }
        }
    }

    let mut fetched = Vec::with_capacity(selected.len());
    for (uid, size) in selected {
        let raw = if size <= max_bytes {
            match bodies.remove(&uid) {
                Some(body) => Some(body),
                None => {
                    // Never skip a message: stop before it, the next poll retries.
                    tracing::warn!(uid, folder = %config.folder, "server sent no body; batch stops here");
                    break;
                }
            }
        } else {
            None
        };
        fetched.push(Fetched {
            uid_validity,
            uid,
            size,
            raw,
        });
    }
    Ok((uid_validity, fetched))
}

/// Applies `config.after_capture` to messages the application has committed.
///
/// `Leave` does nothing (no connection). `MarkSeen` sets `\Seen`. `MoveTo`
/// creates the target folder if needed, then uses `UID MOVE` when the server
/// has MOVE, else `UID COPY` + `\Deleted` + `UID EXPUNGE` (UIDPLUS; without
/// UIDPLUS the originals stay flagged `\Deleted`, to avoid expunging messages
/// someone else deleted). Fails with [`MailboxError::UidValidityChanged`],
/// changing nothing, if the folder's UIDVALIDITY is no longer `uid_validity`.
pub async fn acknowledge(
    config: &MailboxConfig,
    uid_validity: u32,
    uids: &[u32],
) -> Result<(), MailboxError> {
    guarded(async {
        if config.after_capture == AfterCapture::Leave || uids.is_empty() {
            return Ok(());
        }
        let mut session = connect(config).await?;
        let result = acknowledge_in(&mut session, config, uid_validity, uids, false).await;
        logout(session).await;
        result
    })
    .await
}

pub(crate) async fn acknowledge_in(
    session: &mut ImapSession,
    config: &MailboxConfig,
    uid_validity: u32,
    uids: &[u32],
    force_copy: bool,
) -> Result<(), MailboxError> {
    let mailbox = open_folder(session, config, false).await?;
    let found = required_uid_validity(&mailbox)?;
    if found != uid_validity {
        return Err(MailboxError::UidValidityChanged {
            expected: uid_validity,
            found,
        });
    }
    let set = uid_set(uids);
    match &config.after_capture {
        AfterCapture::Leave => Ok(()),
        AfterCapture::MarkSeen => store_flags(session, &set, "+FLAGS.SILENT (\\Seen)").await,
        AfterCapture::MoveTo(target) => {
            let target = mutf7::encode(target);
            // CREATE fails when the folder exists: ignore, a real problem shows at MOVE/COPY.
            if let Err(e) = timed(session.create(&target)).await {
                tracing::debug!(error = %e, "CREATE of the target folder refused (probably exists)");
            } else {
                let _ = timed(session.subscribe(&target)).await;
            }
            let capabilities = timed(session.capabilities()).await?;
            if capabilities.has_str("MOVE") && !force_copy {
                timed(session.uid_mv(&set, &target)).await
            } else {
                timed(session.uid_copy(&set, &target)).await?;
                store_flags(session, &set, "+FLAGS.SILENT (\\Deleted)").await?;
                if capabilities.has_str("UIDPLUS") {
                    let expunged = timed(session.uid_expunge(&set)).await?;
                    let mut expunged = std::pin::pin!(expunged);
                    while next_item(&mut expunged).await?.is_some() {}
                } else {
                    tracing::warn!(
                        "server without UIDPLUS: copied messages left flagged \\Deleted"
                    );
                }
                Ok(())
            }
        }
    }
}

async fn store_flags(
    session: &mut ImapSession,
    set: &str,
    query: &str,
) -> Result<(), MailboxError> {
    let mut answers = timed(session.uid_store(set, query)).await?;
    while next_item(&mut answers).await?.is_some() {}
    Ok(())
}

/// Waits until something changes in `config.folder` (new message, expunge,
/// flag change), or `timeout`. Returns whether something changed.
///
/// Uses IDLE when the server supports it; otherwise sleeps for `timeout` and
/// returns `true` ("maybe": poll now). Keep `timeout` under 29 minutes (RFC
/// 2177). A message arriving between the previous [`fetch_new`] and this call
/// is not noticed: prefer [`wait_for_new`] when a cursor is at hand.
pub async fn wait_for_change(
    config: &MailboxConfig,
    timeout: Duration,
) -> Result<bool, MailboxError> {
    guarded(async { wait_in(config, None, timeout).await }).await
}

/// Like [`wait_for_change`], but returns `true` at once if the folder already
/// has messages after `cursor` (or a different UIDVALIDITY), closing the gap
/// between the last [`fetch_new`] and the start of IDLE.
pub async fn wait_for_new(
    config: &MailboxConfig,
    cursor: Option<Cursor>,
    timeout: Duration,
) -> Result<bool, MailboxError> {
    guarded(async {
        match cursor {
            Some(cursor) => wait_in(config, Some(cursor), timeout).await,
            // Nothing taken yet: fetching is always worth it.
            None => Ok(true),
        }
    })
    .await
}

async fn wait_in(
    config: &MailboxConfig,
    cursor: Option<Cursor>,
    timeout: Duration,
) -> Result<bool, MailboxError> {
    let mut session = connect(config).await?;
    let mailbox = match open_folder(&mut session, config, true).await {
        Ok(mailbox) => mailbox,
        Err(e) => {
            logout(session).await;
            return Err(e);
        }
    };
    if let Some(cursor) = cursor {
        let changed = mailbox.uid_validity != Some(cursor.uid_validity)
            || mailbox
                .uid_next
                .is_some_and(|next| next > cursor.last_uid.saturating_add(1));
        if changed {
            logout(session).await;
            return Ok(true);
        }
    }
    let capabilities = match timed(session.capabilities()).await {
        Ok(c) => c,
        Err(e) => {
            logout(session).await;
            return Err(e);
        }
    };
    if !capabilities.has_str("IDLE") {
        logout(session).await;
        tokio::time::sleep(timeout).await;
        return Ok(true);
    }

    let mut idle = session.idle();
    timed(idle.init()).await?;
    let changed = {
        let (wait, stop) = idle.wait_with_timeout(timeout);
        let outcome = tokio::time::timeout(timeout, wait).await;
        drop(stop);
        match outcome {
            Err(_) => false,
            Ok(Ok(IdleResponse::NewData(data))) => {
                tracing::debug!(response = ?data.parsed(), "IDLE: change in the folder");
                true
            }
            Ok(Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt)) => false,
            Ok(Err(e)) => return Err(imap_error(e)),
        }
    };
    // Leaving IDLE cleanly is a courtesy: the answer is already known.
    if let Ok(Ok(session)) = tokio::time::timeout(COMMAND_TIMEOUT, idle.done()).await {
        logout(session).await;
    }
    Ok(changed)
}

/// Connects, logs in and opens the folder read-only: for the administrator's
/// "test the connection" button.
pub async fn check(config: &MailboxConfig) -> Result<FolderStatus, MailboxError> {
    guarded(async {
        let mut session = connect(config).await?;
        let result = async {
            let mailbox = open_folder(&mut session, config, true).await?;
            let capabilities = timed(session.capabilities()).await?;
            Ok(FolderStatus {
                uid_validity: required_uid_validity(&mailbox)?,
                messages: mailbox.exists,
                uid_next: mailbox.uid_next,
                idle: capabilities.has_str("IDLE"),
            })
        }
        .await;
        logout(session).await;
        result
    })
    .await
}

/// SELECT (read-write) or EXAMINE (read-only) the configured folder.
pub(crate) async fn open_folder(
    session: &mut ImapSession,
    config: &MailboxConfig,
    read_only: bool,
) -> Result<async_imap::types::Mailbox, MailboxError> {
    let name = mutf7::encode(&config.folder);
    let opened = if read_only {
        tokio::time::timeout(COMMAND_TIMEOUT, session.examine(&name)).await
    } else {
        tokio::time::timeout(COMMAND_TIMEOUT, session.select(&name)).await
    };
    match opened {
        Err(_) => Err(MailboxError::Timeout),
        Ok(Ok(mailbox)) => Ok(mailbox),
        Ok(Err(async_imap::error::Error::No(_))) => {
            Err(MailboxError::NoFolder(config.folder.clone()))
        }
        Ok(Err(e)) => Err(imap_error(e)),
    }
}

fn required_uid_validity(mailbox: &async_imap::types::Mailbox) -> Result<u32, MailboxError> {
    mailbox
        .uid_validity
        .ok_or_else(|| MailboxError::Protocol("le serveur n'indique pas d'UIDVALIDITY".into()))
}

/// Next item of a command's answer stream, with [`COMMAND_TIMEOUT`].
pub(crate) async fn next_item<S, T>(stream: &mut S) -> Result<Option<T>, MailboxError>
where
    S: futures::Stream<Item = async_imap::error::Result<T>> + Unpin,
{
    match tokio::time::timeout(COMMAND_TIMEOUT, stream.next()).await {
        Err(_) => Err(MailboxError::Timeout),
        Ok(None) => Ok(None),
        Ok(Some(item)) => item.map(Some).map_err(imap_error),
    }
}

/// Compact IMAP sequence set: [1,2,3,5,7,8] -> "1:3,5,7:8".
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut iter = sorted.into_iter();
    let Some(mut start) = iter.next() else {
        return String::new();
    };
    let mut end = start;
    for uid in iter {
        if uid == end + 1 {
            end = uid;
        } else {
            parts.push(range(start, end));
            start = uid;
            end = uid;
        }
    }
    parts.push(range(start, end));
    parts.join(",")
}

fn range(start: u32, end: u32) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}:{end}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MailboxConfig {
        MailboxConfig {
            host: "imap.example.fr".into(),
            port: 993,
            security: Security::Tls,
            username: "mairie@example.fr".into(),
            password: "Tr3s-S3cret!".into(),
            folder: "INBOX".into(),
            after_capture: AfterCapture::MoveTo("Traités".into()),
            network: NetworkPolicy::default(),
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?} {:#?}", config(), config());
        assert!(!text.contains("Tr3s-S3cret!"), "{text}");
        assert!(text.contains("mairie@example.fr"));
        assert!(text.contains("<masqué>"));
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[8, 1, 2, 3, 5, 7, 3]), "1:3,5,7:8");
    }

    #[test]
    fn errors_are_french_and_without_password() {
        let text = MailboxError::Login.to_string();
        assert_eq!(text, "identifiant ou mot de passe refusé par le serveur");
        assert!(MailboxError::Timeout.to_string().contains("ne répond pas"));
        assert!(
            MailboxError::NoFolder("Traités".into())
                .to_string()
                .contains("« Traités »")
        );
    }

    #[test]
    fn default_ports() {
        assert_eq!(Security::Tls.default_port(), 993);
        assert_eq!(Security::StartTls.default_port(), 143);
    }
}
