//! A private SMTP server for tests (`scripts/smtp-sink.py`, on Debian's python3-aiosmtpd),
//! shared by this crate's tests and the application's outbox tests. Not for production
//! use: behind the `testing` feature.
//!
//! ```text
//! let sink = parapheur_smtp::testing::start().await;
//! parapheur_smtp::send(&sink.config(), &envelope, &raw).await?;
//! let got = sink.wait_for(1, Duration::from_secs(5)).await;
//! ```
//!
//! The server runs until the [`SmtpSink`] is dropped, and also stops by itself when the
//! test process dies (it watches its standard input).

#![allow(clippy::panic, clippy::expect_used)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::{Security, SmtpConfig};

/// The user the sink accepts in AUTH (PLAIN or LOGIN, offered without TLS).
pub const USER: &str = "mairie";
/// That user's password; any other gets 535.
pub const PASSWORD: &str = "secret";

/// What the sink does with the next transactions (read at each step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Accept every message (the default).
    Accept,
    /// 451 at RCPT TO (and at DATA).
    TempFail,
    /// 550 at RCPT TO.
    PermFail,
    /// Never answer the end of DATA.
    Hang,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Accept => "accept",
            Mode::TempFail => "tempfail",
            Mode::PermFail => "permfail",
            Mode::Hang => "hang",
        }
    }
}

/// A message the sink accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA bytes as received (dot-stuffing undone).
    pub data: Vec<u8>,
}

impl fmt::Debug for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Received")
            .field("mail_from", &self.mail_from)
            .field("rcpt_to", &self.rcpt_to)
            .field("data", &format_args!("{} octets", self.data.len()))
            .finish()
    }
}

/// One file written by the sink: `DIR/NNNNNN.json`.
#[derive(Deserialize)]
struct Record {
    mail_from: String,
    rcpt_tos: Vec<String>,
    /// base64
    data: String,
}

/// A running sink on 127.0.0.1; stopped (and its folder removed) when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
    /// Held open: the sink exits when it closes.
    _stdin: ChildStdin,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The repository's `scripts/smtp-sink.py`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py")
}

/// The first Python that has aiosmtpd: Debian's (where apt installs python3-aiosmtpd),
/// then the one on the PATH (which may be another installation, such as pyenv's).
async fn python() -> PathBuf {
    let mut found_python = false;
    for candidate in ["/usr/bin/python3", "python3"] {
        let status = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        match status {
            Ok(s) if s.success() => return PathBuf::from(candidate),
            Ok(_) => found_python = true,
            Err(_) => {}
        }
    }
    let missing = if found_python {
        "the Python module aiosmtpd is missing"
    } else {
        "python3 is not installed"
    };
    panic!(
        "\n\n!!!!!!!! {missing}: the SMTP tests need a real SMTP server (scripts/smtp-sink.py).\n\
         !!!!!!!! Run scripts/test.sh, which installs it, or: apt-get install python3-aiosmtpd\n"
    );
}

/// Starts a sink on a port the system chooses and waits until it listens.
pub async fn start() -> SmtpSink {
    let python = python().await;
    let script = script();
    let dir = tempfile::Builder::new()
        .prefix("parapheur-smtp-sink.")
        .tempdir()
        .expect("temporary folder for the SMTP sink");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg("0")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", python.display(), script.display()));
    let stdin = child.stdin.take().expect("sink stdin");
    let stdout = child.stdout.take().expect("sink stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    let port = match ready {
        Ok(Ok(Some(line))) => line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .unwrap_or_else(|| panic!("smtp-sink.py said {line:?} instead of \"ready PORT\"")),
        Ok(Ok(None)) => panic!("smtp-sink.py exited before listening (see its errors above)"),
        Ok(Err(e)) => panic!("reading smtp-sink.py's output: {e}"),
        Err(_) => panic!("smtp-sink.py did not say \"ready\" within 20 s"),
    };
    SmtpSink {
        port,
        dir,
        child,
        _stdin: stdin,
    }
}

impl SmtpSink {
    /// Settings to reach the sink: 127.0.0.1, no TLS, no login, 5 s timeout.
    pub fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            security: Security::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(5),
            hello_name: None,
            accept_invalid_certs: false,
        }
    }

    /// The folder where the sink writes what it receives (and reads its mode).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Changes how the sink answers, from the next SMTP command on.
    pub fn set_mode(&self, mode: Mode) {
        let tmp = self.dir.path().join(".mode.tmp");
        std::fs::write(&tmp, mode.as_str()).expect("writing the sink's mode");
        std::fs::rename(&tmp, self.dir.path().join("mode")).expect("writing the sink's mode");
    }

    /// Every message accepted so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("reading the sink's folder")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| {
                name.strip_suffix(".json")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|name| {
                let path = self.dir.path().join(name);
                let text = std::fs::read(&path).expect("reading a received message");
                let record: Record = serde_json::from_slice(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                Received {
                    mail_from: record.mail_from,
                    rcpt_to: record.rcpt_tos,
                    data: base64::engine::general_purpose::STANDARD
                        .decode(record.data)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived and returns them all; panics after
    /// `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if start.elapsed() >= timeout {
                panic!(
                    "the SMTP sink received {} message(s) within {timeout:?}, expected {n}",
                    received.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
