//! Reading messages from files for the `import-mail` command: one `.eml` file, an mbox
//! file, a maildir, or a directory of `.eml` files.
//!
//! Sizes are checked from metadata before reading, and an mbox is read line by line, so
//! an oversized message is never loaded into memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{Limits, Rejection};

/// One message read from a source, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMessage {
    /// Where it came from: the file path, or `path#3` for the third message of an mbox.
    pub origin: String,
    /// The raw message, or a rejection (too large, empty, unreadable) to quarantine.
    pub bytes: Result<Vec<u8>, Rejection>,
}

/// Reads the messages at `path`:
/// - a directory with `cur/` or `new/` is a maildir: every file of `cur` and `new`
///   (hidden files skipped), sorted by path;
/// - another directory: its `.eml` files (not recursive), sorted by path;
/// - a file whose first line starts with `From ` is an mbox, split on `From ` lines
///   (mboxrd `>From ` lines unescaped);
/// - any other file is one message.
///
/// Errors about one message are in its [`SourceMessage::bytes`]; the `io::Error` is for
/// `path` itself (missing, unreadable directory).
pub fn read_sources(path: &Path, limits: &Limits) -> io::Result<Vec<SourceMessage>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        let is_maildir = path.join("cur").is_dir() || path.join("new").is_dir();
        let files = if is_maildir {
            let mut files = Vec::new();
            for sub in ["cur", "new"] {
                let dir = path.join(sub);
                if dir.is_dir() {
                    files.extend(list_files(&dir, |_| true)?);
                }
            }
            files.sort();
            files
        } else {
            list_files(path, |p| {
                p.extension().is_some_and(|e| e.eq_ignore_ascii_case("eml"))
            })?
        };
        Ok(files.iter().map(|f| read_one(f, limits)).collect())
    } else if starts_like_mbox(path)? {
        read_mbox(path, limits)
    } else {
        Ok(vec![read_one(path, limits)])
    }
}

fn list_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let path = entry.path();
        if !hidden && path.is_file() && keep(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn starts_like_mbox(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 5];
    let mut file = File::open(path)?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(&head[..filled] == b"From ")
}

fn read_one(path: &Path, limits: &Limits) -> SourceMessage {
    let origin = path.display().to_string();
    let bytes = match std::fs::metadata(path) {
        Err(e) => Err(Rejection::Unreadable(io_reason(&e))),
        Ok(m) if m.len() > limits.max_message_bytes as u64 => Err(Rejection::TooLarge {
            size: m.len(),
            limit: limits.max_message_bytes as u64,
        }),
        Ok(m) if m.len() == 0 => Err(Rejection::Empty),
        Ok(_) => {
            // Read at most the limit + 1, in case the file grew since the metadata.
            let mut buf = Vec::new();
            match File::open(path).and_then(|f| {
                f.take(limits.max_message_bytes as u64 + 1)
                    .read_to_end(&mut buf)
            }) {
                Err(e) => Err(Rejection::Unreadable(io_reason(&e))),
                Ok(n) if n > limits.max_message_bytes => Err(Rejection::TooLarge {
                    size: n as u64,
                    limit: limits.max_message_bytes as u64,
                }),
                Ok(_) => Ok(buf),
            }
        }
    };
    SourceMessage { origin, bytes }
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "fichier introuvable".to_string(),
        io::ErrorKind::PermissionDenied => "accès refusé".to_string(),
        _ => format!("erreur de lecture ({e})"),
    }
}

fn read_mbox(path: &Path, limits: &Limits) -> io::Result<Vec<SourceMessage>> {
    let display = path.display().to_string();
    let mut reader = BufReader::new(File::open(path)?);
    let mut splitter = MboxSplitter::new(Some(limits.max_message_bytes));
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if let Some(done) = splitter.push_line(&line) {
            out.push(done);
        }
    }
    out.extend(splitter.finish());
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| SourceMessage {
            origin: format!("{display}#{}", i + 1),
            bytes,
        })
        .collect())
}

/// Splits an mbox into its messages: a line starting with `From ` starts a message
/// (that line is dropped), and `>From `, `>>From `… lines lose one `>` (mboxrd).
/// Bytes before the first `From ` line are a message of their own if not blank.
pub fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut splitter = MboxSplitter::new(None);
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if let Some(Ok(m)) = splitter.push_line(line) {
            out.push(m);
        }
    }
    out.extend(splitter.finish().into_iter().filter_map(Result::ok));
    out
}

/// Streaming mbox splitter; with a limit, a message over it is counted, not kept.
struct MboxSplitter {
    limit: Option<usize>,
    current: Vec<u8>,
    current_size: usize,
    started: bool,
}

impl MboxSplitter {
    fn new(limit: Option<usize>) -> Self {
        MboxSplitter {
            limit,
            current: Vec::new(),
            current_size: 0,
            started: false,
        }
    }

    fn push_line(&mut self, line: &[u8]) -> Option<Result<Vec<u8>, Rejection>> {
        if line.starts_with(b"From ") {
            let done = self.take();
            self.started = true;
            return done;
        }
        let line = match line.iter().position(|&b| b != b'>') {
            Some(p) if p > 0 && line[p..].starts_with(b"From ") => &line[1..],
            _ => line,
        };
        self.current_size += line.len();
        if self.limit.is_none_or(|l| self.current_size <= l) {
            self.current.extend_from_slice(line);
        } else if !self.current.is_empty() {
            self.current = Vec::new(); // release the memory at once
        }
        None
    }

    fn take(&mut self) -> Option<Result<Vec<u8>, Rejection>> {
        let size = std::mem::take(&mut self.current_size);
        let mut bytes = std::mem::take(&mut self.current);
        if !self.started && bytes.iter().all(u8::is_ascii_whitespace) && size == bytes.len() {
            return None;
        }
        if let Some(limit) = self.limit
            && size > limit
        {
            return Some(Err(Rejection::TooLarge {
                size: size as u64,
                limit: limit as u64,
            }));
        }
        // The blank line before the next "From " belongs to the mbox, not the message.
        if bytes.ends_with(b"\r\n\r\n") {
            bytes.truncate(bytes.len() - 2);
        } else if bytes.ends_with(b"\n\n") {
            bytes.truncate(bytes.len() - 1);
        }
        if bytes.is_empty() {
            return Some(Err(Rejection::Empty));
        }
        Some(Ok(bytes))
    }

    fn finish(mut self) -> Option<Result<Vec<u8>, Rejection>> {
        self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_split_and_unescape() {
        let mbox = b"From a@x Mon Jan  1 00:00:00 2026\nSubject: one\n\nHello\n>From the start\n>>From deeper\n\nFrom b@x Mon Jan  1 00:00:01 2026\nSubject: two\n\nBye\n";
        let parts = split_mbox(mbox);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            b"Subject: one\n\nHello\nFrom the start\n>From deeper\n".to_vec()
        );
        assert_eq!(parts[1], b"Subject: two\n\nBye\n".to_vec());
        assert!(split_mbox(b"").is_empty());
    }
}
