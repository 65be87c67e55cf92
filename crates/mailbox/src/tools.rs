//! Helpers for tests and tools (demo data, diagnostics). The application
//! itself only needs the functions at the crate root.
//!
//! Folder names are UTF-8, as in [`MailboxConfig::folder`].

use crate::conn::{connect, guarded, logout, timed};
use crate::{MailboxConfig, MailboxError, mutf7, next_item, open_folder};

/// Delivers `raw` (an RFC 5322 message) into `config.folder` by IMAP APPEND.
/// For tests and tools.
pub async fn append(config: &MailboxConfig, raw: &[u8]) -> Result<(), MailboxError> {
    guarded(async {
        let mut session = connect(config).await?;
        let folder = mutf7::encode(&config.folder);
        let result = timed(session.append(&folder, None, None, raw)).await;
        logout(session).await;
        result
    })
    .await
}

/// Flags of every message of `config.folder`, by UID (read-only, changes
/// nothing). For tests and tools.
pub async fn flags(config: &MailboxConfig) -> Result<Vec<(u32, Vec<String>)>, MailboxError> {
    guarded(async {
        let mut session = connect(config).await?;
        let result = async {
            let mailbox = open_folder(&mut session, config, true).await?;
            let mut out = Vec::new();
            if mailbox.exists == 0 {
                return Ok(out);
            }
            let mut answers = timed(session.uid_fetch("1:*", "(UID FLAGS)")).await?;
            while let Some(answer) = next_item(&mut answers).await? {
                if let Some(uid) = answer.uid {
                    let flags = answer.flags().map(|f| flag_name(&f)).collect();
                    out.push((uid, flags));
                }
            }
            out.sort();
            Ok(out)
        }
        .await;
        logout(session).await;
        result
    })
    .await
}

fn flag_name(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(name) => name.to_string(),
    }
}

/// Creates the folder `name`. For tests and tools.
pub async fn create_folder(config: &MailboxConfig, name: &str) -> Result<(), MailboxError> {
    guarded(async {
        let mut session = connect(config).await?;
        let result = timed(session.create(mutf7::encode(name))).await;
        logout(session).await;
        result
    })
    .await
}

/// Deletes the folder `name` and its messages. For tests and tools.
pub async fn delete_folder(config: &MailboxConfig, name: &str) -> Result<(), MailboxError> {
    guarded(async {
        let mut session = connect(config).await?;
        let result = timed(session.delete(mutf7::encode(name))).await;
        logout(session).await;
        result
    })
    .await
}

/// Like [`crate::acknowledge`], but always takes the COPY + `\Deleted` +
/// UID EXPUNGE path used with servers without MOVE. For tests.
#[doc(hidden)]
pub async fn acknowledge_without_move(
    config: &MailboxConfig,
    uid_validity: u32,
    uids: &[u32],
) -> Result<(), MailboxError> {
    guarded(async {
        if uids.is_empty() {
            return Ok(());
        }
        let mut session = connect(config).await?;
        let result = crate::acknowledge_in(&mut session, config, uid_validity, uids, true).await;
        logout(session).await;
        result
    })
    .await
}
