//! Where printed documents are laid out. Typst needs about 150 KB per register row while it
//! works, and the allocator keeps that memory after it is freed: the server therefore lays
//! documents out in a child process (`parapheur render-register`), whose memory goes back to
//! the system when it exits, so an idle server stays small. Tests lay out in process.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;

use parapheur_render::RegisterDocument;
use tokio::io::AsyncWriteExt;

use crate::error::WebError;

#[derive(Debug, Clone, Default)]
pub enum Layout {
    /// In this process, on a blocking thread.
    #[default]
    InProcess,
    /// In a child process: this program with `render-register`.
    Child(PathBuf),
}

impl Layout {
    /// The child-process layout with this program, when its path is known.
    pub fn child_of_current_exe() -> Layout {
        std::env::current_exe()
            .map(Layout::Child)
            .unwrap_or(Layout::InProcess)
    }

    pub async fn register_pdf(&self, document: RegisterDocument) -> Result<Vec<u8>, WebError> {
        match self {
            Layout::InProcess => {
                tokio::task::spawn_blocking(move || parapheur_render::register_pdf(&document))
                    .await
                    .map_err(|e| WebError::Internal(format!("register pdf task: {e}")))?
                    .map_err(|e| WebError::Internal(format!("register pdf: {e}")))
            }
            Layout::Child(exe) => {
                let input = serde_json::to_vec(&document)
                    .map_err(|e| WebError::Internal(format!("register pdf input: {e}")))?;
                let mut child = tokio::process::Command::new(exe)
                    .arg("render-register")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| WebError::Internal(format!("register pdf process: {e}")))?;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin
                        .write_all(&input)
                        .await
                        .map_err(|e| WebError::Internal(format!("register pdf input: {e}")))?;
                }
                let output = child
                    .wait_with_output()
                    .await
                    .map_err(|e| WebError::Internal(format!("register pdf process: {e}")))?;
                if output.status.success() && output.stdout.starts_with(b"%PDF-") {
                    Ok(output.stdout)
                } else {
                    Err(WebError::Internal(format!(
                        "register pdf process {}: {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr)
                    )))
                }
            }
        }
    }
}

/// The child's side: a register as JSON on stdin, its PDF on stdout.
pub fn render_register_from_stdio() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let document: RegisterDocument = serde_json::from_slice(&input)?;
    let pdf = parapheur_render::register_pdf(&document)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&pdf)?;
    out.flush()?;
    Ok(())
}
