//! A private Dovecot for tests (`scripts/dovecot.sh`), shared by this crate's tests and the
//! application's capture tests. Not for production use.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{AfterCapture, MailboxConfig, Security};

/// A running private Dovecot; stopped when dropped.
pub struct TestDovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
    script: PathBuf,
}

impl Drop for TestDovecot {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

impl TestDovecot {
    /// The settings of a test user's INBOX (`mairie-a@test` or `mairie-b@test`).
    pub fn config(&self, user: &str, after_capture: AfterCapture) -> MailboxConfig {
        MailboxConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            security: Security::Plain,
            username: user.into(),
            password: "secret".into(),
            folder: "INBOX".into(),
            after_capture,
            network: crate::NetworkPolicy::PERMISSIVE,
        }
    }
}

fn dovecot_installed() -> bool {
    Path::new("/usr/sbin/dovecot").exists()
        || Command::new("sh")
            .args(["-c", "command -v dovecot"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
}

pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts a private Dovecot with `script` (the repository's `scripts/dovecot.sh`).
/// `Ok(None)`: Dovecot is not installed and `CI` is unset (the caller skips, loudly);
/// with `CI` set, a missing Dovecot is an error.
pub fn start(script: &Path) -> Result<Option<TestDovecot>, String> {
    if !dovecot_installed() {
        if std::env::var_os("CI").is_some() {
            return Err(
                "dovecot is not installed and CI is set: apt-get install dovecot-imapd".into(),
            );
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED: dovecot is not installed (apt-get install dovecot-imapd); \
             the IMAP tests did not run !!!!!!!!\n"
        );
        return Ok(None);
    }
    let mut last_error = String::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| e.to_string())?;
        let out = Command::new(script)
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if out.status.success() {
            return Ok(Some(TestDovecot {
                dir,
                port,
                script: script.to_path_buf(),
            }));
        }
        let _ = Command::new(script).arg("stop").arg(dir.path()).status();
        last_error = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Err(format!("could not start dovecot: {last_error}"))
}
