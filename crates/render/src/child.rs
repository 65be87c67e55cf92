//! Laying documents out in a child process. typst needs tens of megabytes while it works
//! (about 150 KB per register row, fonts and caches for a letter), and the allocator keeps
//! that memory once it is freed: a server that lays out in a child (this same program with
//! a hidden command) gives it back to the system when the child exits, so it stays small
//! when idle. Tests and the command line lay out in process.
//!
//! The protocol is one job as JSON on the child's stdin; on its stdout, one line of JSON
//! (what the job reports besides the PDF: the signature zone) and then the PDF's bytes.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::{
    ImageDocument, LetterDocument, RegisterDocument, RenderError, SignatureZone, image_pdf,
    letter_pdf, letter_pdf_with_zone, letters_pdf, register_pdf,
};

/// One document to lay out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Job {
    Register(RegisterDocument),
    Letter(LetterDocument),
    /// Several letters in one PDF (a batch printed for the post).
    Letters(Vec<LetterDocument>),
    /// A letter with a blank zone under its signature block for the stamps.
    LetterWithZone(LetterDocument),
    /// A received image as PDF/A, for the archives.
    Image(ImageDocument),
}

/// A document laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct Laid {
    pub pdf: Vec<u8>,
    /// Where the stamps go, for [`Job::LetterWithZone`].
    pub zone: Option<SignatureZone>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    zone: Option<SignatureZone>,
}

impl Job {
    /// Lays the job out in this process.
    pub fn run(&self) -> Result<Laid, RenderError> {
        let (pdf, zone) = match self {
            Job::Register(doc) => (register_pdf(doc)?, None),
            Job::Letter(doc) => (letter_pdf(doc)?, None),
            Job::Letters(docs) => (letters_pdf(docs)?, None),
            Job::LetterWithZone(doc) => letter_pdf_with_zone(doc)?,
            Job::Image(doc) => (image_pdf(doc)?, None),
        };
        Ok(Laid { pdf, zone })
    }

    /// Whether the job has a logo (a layout that fails may be tried again without it).
    pub fn has_logo(&self) -> bool {
        match self {
            Job::Register(_) | Job::Image(_) => false,
            Job::Letter(doc) | Job::LetterWithZone(doc) => doc.logo.is_some(),
            Job::Letters(docs) => docs.iter().any(|d| d.logo.is_some()),
        }
    }

    /// The same job without its logos.
    pub fn without_logo(self) -> Job {
        let strip = |doc: LetterDocument| LetterDocument { logo: None, ..doc };
        match self {
            Job::Register(doc) => Job::Register(doc),
            Job::Image(doc) => Job::Image(doc),
            Job::Letter(doc) => Job::Letter(strip(doc)),
            Job::LetterWithZone(doc) => Job::LetterWithZone(strip(doc)),
            Job::Letters(docs) => Job::Letters(docs.into_iter().map(strip).collect()),
        }
    }
}

/// Where documents are laid out.
#[derive(Debug, Clone, Default)]
pub enum Layout {
    /// In this process (call from a blocking thread).
    #[default]
    InProcess,
    /// In a child process: this program, run with `argument` (the hidden command that calls
    /// [`serve_stdio`]).
    Child { program: PathBuf, argument: String },
}

impl Layout {
    /// Lays `job` out here or in a child, blocking until it is done.
    pub fn run(&self, job: &Job) -> Result<Laid, RenderError> {
        match self {
            Layout::InProcess => job.run(),
            Layout::Child { program, argument } => run_child(program, argument, job),
        }
    }
}

fn run_child(program: &PathBuf, argument: &str, job: &Job) -> Result<Laid, RenderError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        RenderError::Layout(format!("processus de mise en page ({what}) : {e}"))
    };
    let input = serde_json::to_vec(job)?;
    let mut child = Command::new(program)
        .arg(argument)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed("lancement", &e))?;
    // Written from another thread: a child that fills its stdout before reading all of
    // its stdin must not deadlock with us.
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || match stdin.as_mut() {
        Some(stdin) => stdin.write_all(&input),
        None => Ok(()),
    });
    let output = child
        .wait_with_output()
        .map_err(|e| failed("attente", &e))?;
    writer
        .join()
        .map_err(|_| failed("écriture", &"thread arrêté"))?
        .map_err(|e| failed("écriture", &e))?;
    if !output.status.success() {
        return Err(failed(
            &output.status.to_string(),
            &String::from_utf8_lossy(&output.stderr),
        ));
    }
    let mut reader = std::io::Cursor::new(output.stdout);
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(|e| failed("lecture", &e))?;
    let header: Header = serde_json::from_str(&header)?;
    let mut pdf = Vec::new();
    reader
        .read_to_end(&mut pdf)
        .map_err(|e| failed("lecture", &e))?;
    if !pdf.starts_with(b"%PDF-") {
        return Err(failed("sortie", &"pas un PDF"));
    }
    Ok(Laid {
        pdf,
        zone: header.zone,
    })
}

/// The child's side: a job as JSON on stdin; the header line and the PDF on stdout.
pub fn serve_stdio() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let job: Job = serde_json::from_slice(&input)?;
    let laid = job.run()?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &Header { zone: laid.zone })?;
    out.write_all(b"\n")?;
    out.write_all(&laid.pdf)?;
    out.flush()?;
    Ok(())
}
