//! Text of attachments, for the search index of the mail register.
//!
//! * born-digital PDFs: the text layer, read by `pdftotext` (poppler-utils);
//! * scanned PDFs (no or almost no text layer): each page rendered at 300 dpi by
//!   `pdftoppm`, then French OCR by `tesseract -l fra`, which also writes a searchable PDF
//!   (page image + invisible text) per page; pages are joined by `pdfunite` (or `qpdf`).
//!   Up to [`Limits::parallel_pages`] pages are rendered and OCRed at once (one
//!   single-threaded tesseract per core);
//! * images (PNG, JPEG, TIFF, …): `tesseract -l fra` directly;
//! * `text/*`: decoded as UTF-8 (Windows-1252 when it is not valid UTF-8).
//!
//! Tools are found at run time ([`Tools::detect`]); nothing is linked. Every child process
//! runs in a private temporary directory, with a cleared environment (plus
//! `OMP_THREAD_LIMIT=1`: tesseract is about 6 times faster single-threaded on a small
//! server), stdin closed, stderr captured, a timeout (killed on expiry), and, when `prlimit`
//! (util-linux) is installed, an address-space and file-size cap against PDF/image bombs.
//! Arguments are passed directly (never through a shell); the filename is only used in
//! log messages. The input bytes are never modified: children only see a copy.
//!
//! JavaScript, forms, embedded files, … in a PDF are never executed or opened: only
//! poppler's text extractor and renderer read the file.
//!
//! The searchable PDF produced by tesseract is **not** PDF/A
//! ([`Extraction::searchable_pdf_is_pdfa`] is always `false`): producing a conforming
//! PDF/A needs ghostscript/ocrmypdf (≈5 s per page), which is not used.

pub mod separator;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

/// External programs found on this machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tools {
    /// `pdftotext` (poppler-utils): text layer of PDFs.
    pub pdftotext: Option<PathBuf>,
    /// `pdfinfo` (poppler-utils): page count, encryption.
    pub pdfinfo: Option<PathBuf>,
    /// `pdftoppm` (poppler-utils): renders PDF pages to images for OCR.
    pub pdftoppm: Option<PathBuf>,
    /// `tesseract` (tesseract-ocr).
    pub tesseract: Option<PathBuf>,
    /// `tesseract --list-langs` lists `fra` (tesseract-ocr-fra).
    pub tesseract_has_fra: bool,
    /// `pdfunite` (poppler-utils): joins the per-page searchable PDFs.
    pub pdfunite: Option<PathBuf>,
    /// `qpdf`: fallback to join pages when `pdfunite` is missing.
    pub qpdf: Option<PathBuf>,
    /// `prlimit` (util-linux): memory and file-size caps for children.
    pub prlimit: Option<PathBuf>,
}

impl Tools {
    /// Looks the tools up in `PATH` and asks tesseract whether the French model is there.
    /// Blocking (runs `tesseract --list-langs`, ≈50 ms): call it once at startup, or in
    /// `spawn_blocking`. Logs [`Tools::diagnostics`] as warnings.
    pub fn detect() -> Tools {
        let tesseract = which("tesseract");
        let tesseract_has_fra = tesseract.as_deref().is_some_and(has_fra);
        let tools = Tools {
            pdftotext: which("pdftotext"),
            pdfinfo: which("pdfinfo"),
            pdftoppm: which("pdftoppm"),
            tesseract,
            tesseract_has_fra,
            pdfunite: which("pdfunite"),
            qpdf: which("qpdf"),
            prlimit: which("prlimit"),
        };
        for d in tools.diagnostics() {
            tracing::warn!("{d}");
        }
        tools
    }

    /// Why OCR (of images) cannot run, in French; `None` when it can.
    pub fn missing_for_ocr(&self) -> Option<String> {
        if self.tesseract.is_none() {
            Some("OCR indisponible : tesseract (paquet tesseract-ocr) n'est pas installé".into())
        } else if !self.tesseract_has_fra {
            Some(
                "OCR indisponible : le modèle français de tesseract (paquet tesseract-ocr-fra) manque"
                    .into(),
            )
        } else {
            None
        }
    }

    /// Why OCR of scanned PDFs cannot run, in French; `None` when it can.
    pub fn missing_for_pdf_ocr(&self) -> Option<String> {
        self.missing_for_ocr().or_else(|| {
            self.pdftoppm.is_none().then(|| {
                "OCR des PDF indisponible : pdftoppm (paquet poppler-utils) n'est pas installé"
                    .into()
            })
        })
    }

    /// Why the text layer of PDFs cannot be read, in French; `None` when it can.
    pub fn missing_for_pdf(&self) -> Option<String> {
        let missing: Vec<&str> = [("pdfinfo", &self.pdfinfo), ("pdftotext", &self.pdftotext)]
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(n, _)| *n)
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "lecture des PDF indisponible : {} (paquet poppler-utils) manque",
                missing.join(", ")
            )
        })
    }

    /// Everything missing or degraded, in French, for a startup check / admin page.
    pub fn diagnostics(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.missing_for_pdf());
        out.extend(self.missing_for_pdf_ocr());
        if self.pdfunite.is_none() && self.qpdf.is_none() {
            out.push(
                "PDF consultables des scans de plusieurs pages indisponibles : ni pdfunite \
                 (paquet poppler-utils) ni qpdf (paquet qpdf) n'est installé"
                    .into(),
            );
        }
        if self.prlimit.is_none() {
            out.push(
                "limite mémoire des outils d'extraction non appliquée : prlimit (paquet \
                 util-linux) n'est pas installé"
                    .into(),
            );
        }
        out
    }
}

/// Finds an executable file named `name` in `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn has_fra(tesseract: &Path) -> bool {
    let mut cmd = std::process::Command::new(tesseract);
    cmd.arg("--list-langs")
        .stdin(Stdio::null())
        .env("OMP_THREAD_LIMIT", "1");
    match cmd.output() {
        Ok(out) => {
            // tesseract 4/5 print the list on stdout; some builds used stderr.
            let all = [out.stdout, out.stderr].concat();
            String::from_utf8_lossy(&all)
                .lines()
                .any(|l| l.trim() == "fra")
        }
        Err(e) => {
            tracing::warn!("tesseract --list-langs: {e}");
            false
        }
    }
}

/// Resource limits for one extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longer documents are refused ([`ExtractError::TooManyPages`]).
    pub max_pages: u32,
    /// Time allowed per page (rendering + OCR of that page; for the text layer, the whole
    /// document gets `pages × timeout_per_page`).
    pub timeout_per_page: Duration,
    /// Longer text is cut (at a char boundary) and [`Extraction::truncated`] is set.
    pub max_text_chars: usize,
    /// Address-space cap of each child (`prlimit --as`); 0 = none.
    pub max_memory_bytes: u64,
    /// Largest file a child may write (`prlimit --fsize`); 0 = none.
    pub max_file_bytes: u64,
    /// Pages of one scanned PDF rendered and OCRed at the same time (each page by its own
    /// `pdftoppm` then single-threaded `tesseract`, each child under the caps above and
    /// [`Limits::timeout_per_page`]); 0 or 1 = one page after the other. At most this many
    /// page images (≈9 MB each at 300 dpi) exist at once. Default: the number of CPUs
    /// ([`std::thread::available_parallelism`], 1 if unknown).
    #[serde(default = "available_cores")]
    pub parallel_pages: usize,
}

/// The number of cores this process may use (1 if unknown): one OCR process per core.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pages: 200,
            timeout_per_page: Duration::from_secs(120),
            max_text_chars: 2_000_000,
            max_memory_bytes: 1 << 30,
            max_file_bytes: 512 << 20,
            parallel_pages: available_cores(),
        }
    }
}

/// How the text was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The PDF's own text layer.
    TextLayer,
    /// Character recognition (tesseract, French).
    Ocr,
    /// A `text/*` attachment.
    PlainText,
}

impl Method {
    /// Stable name for storage: `text_layer`, `ocr`, `plain_text`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::TextLayer => "text_layer",
            Method::Ocr => "ocr",
            Method::PlainText => "plain_text",
        }
    }
}

/// The result of [`extract`].
#[derive(Clone, PartialEq)]
pub struct Extraction {
    /// The text; pages are separated by a form feed (`\f`) for PDFs and multi-page images.
    pub text: String,
    pub method: Method,
    /// Pages of the document (1 for images and text).
    pub pages: u32,
    /// Image + invisible-text PDF produced by OCR; `None` for born-digital PDFs and text.
    pub searchable_pdf: Option<Vec<u8>>,
    /// Always `false` for now: tesseract's PDF output is not PDF/A.
    pub searchable_pdf_is_pdfa: bool,
    /// `text` was cut at [`Limits::max_text_chars`].
    pub truncated: bool,
    /// Things worth showing to the user, in French (e.g. OCR unavailable, thin text kept).
    pub notes: Vec<String>,
    /// Wall-clock time of the whole extraction.
    pub seconds: f64,
}

impl fmt::Debug for Extraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extraction")
            .field("text_chars", &self.text.chars().count())
            .field("method", &self.method)
            .field("pages", &self.pages)
            .field(
                "searchable_pdf_bytes",
                &self.searchable_pdf.as_ref().map(Vec::len),
            )
            .field("searchable_pdf_is_pdfa", &self.searchable_pdf_is_pdfa)
            .field("truncated", &self.truncated)
            .field("notes", &self.notes)
            .field("seconds", &self.seconds)
            .finish()
    }
}

/// Why no text was extracted. `Display` is French, meant to follow
/// "texte non extrait : ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("format non pris en charge pour l'extraction : {0}")]
    Unsupported(String),
    /// The message is complete (French), e.g. from [`Tools::missing_for_ocr`].
    #[error("{0}")]
    ToolMissing(String),
    #[error("le PDF est protégé par un mot de passe")]
    Encrypted,
    #[error("document trop long : {0} pages")]
    TooManyPages(u32),
    #[error("délai dépassé")]
    Timeout,
    #[error("échec de l'extraction : {0}")]
    Failed(String),
    #[error("aucun texte trouvé dans le document")]
    Empty,
}

/// Average non-blank characters per page under which a PDF is treated as a scan.
pub const MIN_CHARS_PER_PAGE: usize = 20;

/// Whether a PDF text layer is too thin to be the real content (a scan, possibly with a
/// stamped header or a scanner's footer).
pub fn needs_ocr(text_layer: &str, pages: u32) -> bool {
    let chars = text_layer.chars().filter(|c| !c.is_whitespace()).count();
    chars < MIN_CHARS_PER_PAGE * pages.max(1) as usize
}

/// Extracts the text of one attachment. `media_type` may carry parameters
/// (`text/plain; charset=…`); `application/octet-stream` is sniffed from the content.
/// `filename` is only used in log messages.
pub async fn extract(
    tools: &Tools,
    limits: &Limits,
    bytes: &[u8],
    media_type: &str,
    filename: &str,
) -> Result<Extraction, ExtractError> {
    let start = Instant::now();
    let kind = classify(media_type, bytes, filename);
    tracing::debug!(filename, media_type, ?kind, len = bytes.len(), "extract");
    let result = match kind {
        Kind::Text { latin1 } => plain_text(limits, bytes, latin1),
        Kind::Pdf => extract_pdf(tools, limits, bytes).await,
        Kind::Image(ext) => extract_image(tools, limits, bytes, ext).await,
        Kind::Unsupported(mt) => Err(ExtractError::Unsupported(mt)),
    };
    match result {
        Ok(mut ex) => {
            ex.seconds = start.elapsed().as_secs_f64();
            tracing::info!(
                filename,
                method = ex.method.as_str(),
                pages = ex.pages,
                seconds = ex.seconds,
                "text extracted"
            );
            Ok(ex)
        }
        Err(e) => {
            tracing::info!(filename, error = %e, "text not extracted");
            Err(e)
        }
    }
}

#[derive(Debug, PartialEq)]
enum Kind {
    Text { latin1: bool },
    Pdf,
    Image(&'static str),
    Unsupported(String),
}

fn classify(media_type: &str, bytes: &[u8], filename: &str) -> Kind {
    let mut parts = media_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase());
    let latin1 = charset.as_deref().is_some_and(|c| {
        matches!(
            c,
            "iso-8859-1" | "iso-8859-15" | "latin1" | "latin-1" | "windows-1252" | "cp1252"
        )
    });
    match essence.as_str() {
        "application/pdf" | "application/x-pdf" => Kind::Pdf,
        "image/png" => Kind::Image("png"),
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Kind::Image("jpg"),
        "image/tiff" | "image/tif" => Kind::Image("tif"),
        "image/bmp" | "image/x-ms-bmp" => Kind::Image("bmp"),
        "image/gif" => Kind::Image("gif"),
        "image/webp" => Kind::Image("webp"),
        t if t.starts_with("text/") => Kind::Text { latin1 },
        "" | "application/octet-stream" | "binary/octet-stream" => sniff(bytes, filename)
            .unwrap_or_else(|| {
                Kind::Unsupported(if essence.is_empty() {
                    "type inconnu".into()
                } else {
                    essence.clone()
                })
            }),
        _ => Kind::Unsupported(essence),
    }
}

fn sniff(bytes: &[u8], filename: &str) -> Option<Kind> {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Some(Kind::Pdf);
    }
    let magic: [(&[u8], &'static str); 6] = [
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff", "jpg"),
        (b"II*\0", "tif"),
        (b"MM\0*", "tif"),
        (b"GIF8", "gif"),
        (b"BM", "bmp"),
    ];
    if let Some((_, ext)) = magic.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Some(Kind::Image(ext));
    }
    let lower = filename.to_ascii_lowercase();
    if [".txt", ".csv", ".md"].iter().any(|e| lower.ends_with(e)) {
        return Some(Kind::Text { latin1: false });
    }
    None
}

fn plain_text(limits: &Limits, bytes: &[u8], latin1: bool) -> Result<Extraction, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(s) if !latin1 => s.to_owned(),
        // Declared Latin-1, or not UTF-8: old Windows files are the usual case in France.
        _ => decode_windows_1252(bytes),
    };
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    let (text, truncated) = truncate(text, limits.max_text_chars);
    Ok(Extraction {
        text,
        method: Method::PlainText,
        pages: 1,
        searchable_pdf: None,
        searchable_pdf_is_pdfa: false,
        truncated,
        notes: Vec::new(),
        seconds: 0.0,
    })
}

fn decode_windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

fn truncate(mut text: String, max_chars: usize) -> (String, bool) {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => {
            text.truncate(at);
            (text, true)
        }
        None => (text, false),
    }
}

// ---------------------------------------------------------------------------------------
// Child processes

/// A private working directory and the way to run tools in it. Shared by reference
/// between the pages of a scan OCRed at the same time.
struct Work<'a> {
    tools: &'a Tools,
    limits: &'a Limits,
    dir: tempfile::TempDir,
    /// Numbers the stderr files of the children.
    runs: AtomicU32,
}

enum RunError {
    Timeout,
    Spawn(String),
    Exit { status: ExitStatus, stderr: String },
}

impl<'a> Work<'a> {
    fn new(tools: &'a Tools, limits: &'a Limits) -> Result<Self, ExtractError> {
        let dir = tempfile::Builder::new()
            .prefix("parapheur-extract-")
            .tempdir()
            .map_err(|e| {
                ExtractError::Failed(format!("répertoire temporaire impossible à créer : {e}"))
            })?;
        Ok(Work {
            tools,
            limits,
            dir,
            runs: AtomicU32::new(0),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, ExtractError> {
        let p = self.path(name);
        tokio::fs::write(&p, bytes)
            .await
            .map_err(|e| ExtractError::Failed(format!("copie temporaire impossible : {e}")))?;
        Ok(p)
    }

    /// Runs `program args…` in the work dir; stdout goes to `stdout_file` (in the work
    /// dir) or nowhere. Several runs may go on at once (distinct output files).
    async fn run(
        &self,
        program: &Path,
        args: &[&OsStr],
        timeout: Duration,
        stdout_file: Option<&str>,
    ) -> Result<(), RunError> {
        let run = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        let stderr_path = self.path(&format!("stderr-{run}.txt"));
        let mut cmd = match &self.tools.prlimit {
            Some(prlimit) if self.limits.max_memory_bytes > 0 || self.limits.max_file_bytes > 0 => {
                let mut c = tokio::process::Command::new(prlimit);
                if self.limits.max_memory_bytes > 0 {
                    c.arg(format!("--as={}", self.limits.max_memory_bytes));
                }
                if self.limits.max_file_bytes > 0 {
                    c.arg(format!("--fsize={}", self.limits.max_file_bytes));
                }
                c.arg("--").arg(program);
                c
            }
            _ => tokio::process::Command::new(program),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("OMP_THREAD_LIMIT", "1")
            .env("LC_ALL", "C.UTF-8")
            .env("TMPDIR", self.dir.path())
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(prefix) = std::env::var_os("TESSDATA_PREFIX") {
            cmd.env("TESSDATA_PREFIX", prefix);
        }
        let stderr =
            std::fs::File::create(&stderr_path).map_err(|e| RunError::Spawn(e.to_string()))?;
        cmd.stderr(stderr);
        match stdout_file {
            Some(name) => {
                let f = std::fs::File::create(self.path(name))
                    .map_err(|e| RunError::Spawn(e.to_string()))?;
                cmd.stdout(f);
            }
            None => {
                cmd.stdout(Stdio::null());
            }
        }
        let mut child = cmd.spawn().map_err(|e| RunError::Spawn(e.to_string()))?;
        let status = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(RunError::Spawn(e.to_string())),
            Err(_) => {
                // Kill now rather than waiting for the drop, and reap the process.
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Err(RunError::Timeout);
            }
        };
        if status.success() {
            return Ok(());
        }
        let stderr = read_capped(&stderr_path, 4096).await.unwrap_or_default();
        Err(RunError::Exit {
            status,
            stderr: shorten(&String::from_utf8_lossy(&stderr), 300),
        })
    }
}

fn tool_error(tool: &str, e: RunError) -> ExtractError {
    use std::os::unix::process::ExitStatusExt;
    match e {
        RunError::Timeout => ExtractError::Timeout,
        RunError::Spawn(e) => ExtractError::Failed(format!("{tool} n'a pas pu être lancé : {e}")),
        RunError::Exit { status, stderr } => {
            let how = match (status.code(), status.signal()) {
                (Some(code), _) => format!("{tool} a échoué (code {code})"),
                // SIGXFSZ (Linux): `prlimit --fsize`.
                (None, Some(25)) => {
                    format!("{tool} interrompu : fichier produit trop gros (limite atteinte)")
                }
                (None, Some(sig)) => {
                    format!("{tool} interrompu par le signal {sig} (limite de mémoire atteinte ?)")
                }
                _ => format!("{tool} a échoué"),
            };
            if stderr.is_empty() {
                ExtractError::Failed(how)
            } else {
                ExtractError::Failed(format!("{how} : {stderr}"))
            }
        }
    }
}

async fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let f = tokio::fs::File::open(path).await?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf).await?;
    Ok(buf)
}

/// Whitespace collapsed, at most `max` chars (with "…").
fn shorten(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Reads a UTF-8 text file written by a tool, reading at most what `max_chars` may need.
async fn read_text(path: &Path, max_chars: usize) -> Result<String, ExtractError> {
    let cap = (max_chars as u64).saturating_mul(4).saturating_add(4);
    let bytes = read_capped(path, cap)
        .await
        .map_err(|e| ExtractError::Failed(format!("sortie illisible : {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn page_timeout(limits: &Limits, pages: u32) -> Duration {
    limits.timeout_per_page.saturating_mul(pages.max(1))
}

// ---------------------------------------------------------------------------------------
// PDF

/// The page count of `input.pdf` in the work dir, by `pdfinfo`; refused past
/// [`Limits::max_pages`].
async fn page_count(work: &Work<'_>, pdfinfo: &Path) -> Result<u32, ExtractError> {
    let limits = work.limits;
    let info = work
        .run(
            pdfinfo,
            &[OsStr::new("input.pdf")],
            limits.timeout_per_page,
            Some("info.txt"),
        )
        .await;
    if let Err(e) = info {
        return Err(match e {
            RunError::Exit { ref stderr, .. } if stderr.contains("Incorrect password") => {
                ExtractError::Encrypted
            }
            e => match tool_error("pdfinfo", e) {
                ExtractError::Failed(m) => ExtractError::Failed(format!("PDF illisible ({m})")),
                other => other,
            },
        });
    }
    let info = read_text(&work.path("info.txt"), 64 * 1024).await?;
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if pages == 0 {
        return Err(ExtractError::Failed("PDF sans aucune page lisible".into()));
    }
    if pages > limits.max_pages {
        return Err(ExtractError::TooManyPages(pages));
    }
    Ok(pages)
}

async fn extract_pdf(
    tools: &Tools,
    limits: &Limits,
    bytes: &[u8],
) -> Result<Extraction, ExtractError> {
    let (Some(pdfinfo), Some(pdftotext)) = (&tools.pdfinfo, &tools.pdftotext) else {
        return Err(ExtractError::ToolMissing(
            tools.missing_for_pdf().unwrap_or_default(),
        ));
    };
    let work = Work::new(tools, limits)?;
    work.write("input.pdf", bytes).await?;

    let pages = page_count(&work, pdfinfo).await?;
    if pages > limits.max_pages {
        return Err(ExtractError::TooManyPages(pages));
    }

    // An owner password only (copy/print restrictions) does not prevent reading; the
    // register keeps the document for the commune's own use, so the text is indexed.
    work.run(
        pdftotext,
        &[
            OsStr::new("-layout"),
            OsStr::new("-enc"),
            OsStr::new("UTF-8"),
            OsStr::new("input.pdf"),
            OsStr::new("text.txt"),
        ],
        page_timeout(limits, pages),
        None,
    )
    .await
    .map_err(|e| match e {
        RunError::Exit { ref stderr, .. } if stderr.contains("Incorrect password") => {
            ExtractError::Encrypted
        }
        e => tool_error("pdftotext", e),
    })?;
    let mut layer = read_text(&work.path("text.txt"), limits.max_text_chars).await?;
    // pdftotext ends every page with a form feed; keep them only between pages, as OCR does.
    layer.truncate(layer.trim_end_matches(['\n', '\u{c}']).len());
    layer.push('\n');

    if !needs_ocr(&layer, pages) {
        let (text, truncated) = truncate(layer, limits.max_text_chars);
        return Ok(Extraction {
            text,
            method: Method::TextLayer,
            pages,
            searchable_pdf: None,
            searchable_pdf_is_pdfa: false,
            truncated,
            notes: Vec::new(),
            seconds: 0.0,
        });
    }

    if let Some(reason) = tools.missing_for_pdf_ocr() {
        if layer.trim().is_empty() {
            return Err(ExtractError::ToolMissing(reason));
        }
        // A thin layer is better than nothing; say why it is thin.
        let (text, truncated) = truncate(layer, limits.max_text_chars);
        return Ok(Extraction {
            text,
            method: Method::TextLayer,
            pages,
            searchable_pdf: None,
            searchable_pdf_is_pdfa: false,
            truncated,
            notes: vec![format!(
                "texte très partiel, document probablement scanné ; {reason}"
            )],
            seconds: 0.0,
        });
    }
    ocr_pdf(&work, pages).await
}

async fn ocr_pdf(work: &Work<'_>, pages: u32) -> Result<Extraction, ExtractError> {
    let tools = work.tools;
    let limits = work.limits;
    let (Some(pdftoppm), Some(tesseract)) = (&tools.pdftoppm, &tools.tesseract) else {
        return Err(ExtractError::ToolMissing(
            tools.missing_for_pdf_ocr().unwrap_or_default(),
        ));
    };
    // Up to `parallel_pages` pages at once; the first error ends the scan, and the pages
    // still running are dropped, which kills their children (`kill_on_drop`).
    futures::stream::iter((1..=pages).map(Ok))
        .try_for_each_concurrent(limits.parallel_pages.max(1), |page| {
            ocr_page(work, pdftoppm, tesseract, page)
        })
        .await?;
    // In page order; the page texts were left on disk so that memory stays bounded by
    // `max_text_chars` whatever the number of pages.
    let mut text = String::new();
    let mut page_pdfs: Vec<String> = Vec::new();
    for page in 1..=pages {
        let out = ocr_output(page);
        if text.len() < limits.max_text_chars.saturating_mul(4) {
            let page_text =
                read_text(&work.path(&format!("{out}.txt")), limits.max_text_chars).await?;
            if page > 1 {
                text.push('\u{c}');
            }
            text.push_str(page_text.trim_end_matches(['\n', '\u{c}']));
            text.push('\n');
        }
        page_pdfs.push(format!("{out}.pdf"));
    }
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    let mut notes = Vec::new();
    let searchable_pdf = join_pdfs(work, &page_pdfs, &mut notes).await?;
    let (text, truncated) = truncate(text, limits.max_text_chars);
    Ok(Extraction {
        text,
        method: Method::Ocr,
        pages,
        searchable_pdf,
        searchable_pdf_is_pdfa: false,
        truncated,
        notes,
        seconds: 0.0,
    })
}

/// Base name of the OCR outputs of `page` (`.txt` and `.pdf`, written by tesseract).
fn ocr_output(page: u32) -> String {
    format!("ocr-{page:04}")
}

/// Renders `page` of `input.pdf` and OCRs it into [`ocr_output`]`.txt`/`.pdf`, within
/// [`Limits::timeout_per_page`]. The page image is deleted before returning.
async fn ocr_page(
    work: &Work<'_>,
    pdftoppm: &Path,
    tesseract: &Path,
    page: u32,
) -> Result<(), ExtractError> {
    let limits = work.limits;
    let started = Instant::now();
    let n = page.to_string();
    let image_base = format!("page-{page:04}");
    let image = format!("{image_base}.pgm");
    // Gray PGM (8.7 MB per A4 page, deleted after OCR): 0.26 s CPU to render a scanned
    // page, vs 1.6 s for PNG (zlib). tesseract then embeds it as JPEG: ≈290 KB per
    // scanned page in the searchable PDF (PNG input: ≈470 KB, kept losslessly).
    let rendered = work
        .run(
            pdftoppm,
            &[
                OsStr::new("-r"),
                OsStr::new("300"),
                OsStr::new("-gray"),
                OsStr::new("-f"),
                OsStr::new(&n),
                OsStr::new("-l"),
                OsStr::new(&n),
                OsStr::new("-singlefile"),
                OsStr::new("input.pdf"),
                OsStr::new(&image_base),
            ],
            limits.timeout_per_page,
            None,
        )
        .await
        .map_err(|e| tool_error("pdftoppm", e));
    let result = match rendered {
        Err(e) => Err(e),
        Ok(()) => match limits.timeout_per_page.saturating_sub(started.elapsed()) {
            Duration::ZERO => Err(ExtractError::Timeout),
            remaining => {
                let out = ocr_output(page);
                work.run(
                    tesseract,
                    &[
                        OsStr::new(&image),
                        OsStr::new(&out),
                        OsStr::new("-l"),
                        OsStr::new("fra"),
                        OsStr::new("--dpi"),
                        OsStr::new("300"),
                        OsStr::new("txt"),
                        OsStr::new("pdf"),
                    ],
                    remaining,
                    None,
                )
                .await
                .map_err(|e| tool_error("tesseract", e))
            }
        },
    };
    let _ = tokio::fs::remove_file(work.path(&image)).await;
    result
}

async fn join_pdfs(
    work: &Work<'_>,
    page_pdfs: &[String],
    notes: &mut Vec<String>,
) -> Result<Option<Vec<u8>>, ExtractError> {
    let read = |p: PathBuf| async move {
        tokio::fs::read(&p)
            .await
            .map_err(|e| ExtractError::Failed(format!("PDF consultable illisible : {e}")))
    };
    if let [single] = page_pdfs {
        return read(work.path(single)).await.map(Some);
    }
    let timeout = page_timeout(work.limits, 1);
    let pages = page_pdfs.iter().map(OsStr::new);
    let result = if let Some(pdfunite) = &work.tools.pdfunite {
        let args: Vec<&OsStr> = pages.chain([OsStr::new("searchable.pdf")]).collect();
        work.run(pdfunite, &args, timeout, None)
            .await
            .map_err(|e| tool_error("pdfunite", e))
    } else if let Some(qpdf) = &work.tools.qpdf {
        let args: Vec<&OsStr> = [OsStr::new("--empty"), OsStr::new("--pages")]
            .into_iter()
            .chain(pages)
            .chain([OsStr::new("--"), OsStr::new("searchable.pdf")])
            .collect();
        work.run(qpdf, &args, timeout, None)
            .await
            .map_err(|e| tool_error("qpdf", e))
    } else {
        notes.push(
            "PDF consultable non produit : ni pdfunite (paquet poppler-utils) ni qpdf n'est \
             installé"
                .into(),
        );
        return Ok(None);
    };
    match result {
        Ok(()) => read(work.path("searchable.pdf")).await.map(Some),
        Err(ExtractError::Timeout) => Err(ExtractError::Timeout),
        Err(e) => {
            // The text is what matters; keep it and say why the PDF is missing.
            tracing::warn!("searchable PDF not joined: {e}");
            notes.push(format!("PDF consultable non produit : {e}"));
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Images

async fn extract_image(
    tools: &Tools,
    limits: &Limits,
    bytes: &[u8],
    ext: &str,
) -> Result<Extraction, ExtractError> {
    let Some(tesseract) = tools.tesseract.as_ref().filter(|_| tools.tesseract_has_fra) else {
        return Err(ExtractError::ToolMissing(
            tools.missing_for_ocr().unwrap_or_default(),
        ));
    };
    let pages = if ext == "tif" {
        tiff_pages(bytes, limits.max_pages.saturating_add(1)).unwrap_or(1)
    } else {
        1
    };
    if pages > limits.max_pages {
        return Err(ExtractError::TooManyPages(pages));
    }
    let work = Work::new(tools, limits)?;
    let input = format!("input.{ext}");
    work.write(&input, bytes).await?;
    // No --dpi: tesseract uses the image's resolution, or estimates it from text height.
    work.run(
        tesseract,
        &[
            OsStr::new(&input),
            OsStr::new("ocr"),
            OsStr::new("-l"),
            OsStr::new("fra"),
            OsStr::new("txt"),
            OsStr::new("pdf"),
        ],
        page_timeout(limits, pages),
        None,
    )
    .await
    .map_err(|e| tool_error("tesseract", e))?;
    let text = read_text(&work.path("ocr.txt"), limits.max_text_chars).await?;
    let text = text.trim_end_matches(['\n', '\u{c}']).to_owned();
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    let pdf = tokio::fs::read(work.path("ocr.pdf"))
        .await
        .map_err(|e| ExtractError::Failed(format!("PDF consultable illisible : {e}")))?;
    let (text, truncated) = truncate(text + "\n", limits.max_text_chars);
    Ok(Extraction {
        text,
        method: Method::Ocr,
        pages,
        searchable_pdf: Some(pdf),
        searchable_pdf_is_pdfa: false,
        truncated,
        notes: Vec::new(),
        seconds: 0.0,
    })
}

/// Number of images (IFDs) in a classic TIFF, counting at most `cap`; `None` if the
/// header is not understood (BigTIFF, garbage): the caller then assumes one page.
fn tiff_pages(b: &[u8], cap: u32) -> Option<u32> {
    let le = match b.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    };
    let mut seen = HashSet::new();
    let mut offset = u32_at(4)? as usize;
    let mut count = 0;
    while offset != 0 && count < cap && seen.insert(offset) {
        count += 1;
        let entries = usize::from(u16_at(offset)?);
        offset = u32_at(offset + 2 + 12 * entries)? as usize;
    }
    Some(count.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thin_layer_needs_ocr() {
        assert!(needs_ocr("", 1));
        assert!(needs_ocr(" \n\u{c}Scan Xerox\n", 1));
        assert!(needs_ocr(&"a".repeat(100), 10));
        assert!(!needs_ocr("Monsieur le Maire, je vous écris", 1));
    }

    #[test]
    fn media_types() {
        assert_eq!(classify("Application/PDF", b"", "x"), Kind::Pdf);
        assert_eq!(
            classify("text/plain; charset=ISO-8859-1", b"", "x"),
            Kind::Text { latin1: true }
        );
        assert_eq!(
            classify("application/octet-stream", b"%PDF-1.7\n", "x.bin"),
            Kind::Pdf
        );
        assert_eq!(
            classify("application/octet-stream", b"\x89PNG\r\n\x1a\n", "x"),
            Kind::Image("png")
        );
        assert_eq!(
            classify("application/octet-stream", b"PK\x03\x04", "x.zip"),
            Kind::Unsupported("application/octet-stream".into())
        );
        assert_eq!(
            classify("application/zip", b"PK\x03\x04", "x.zip"),
            Kind::Unsupported("application/zip".into())
        );
    }

    #[test]
    fn windows_1252_fallback() {
        let limits = Limits::default();
        let ex = plain_text(&limits, b"caf\xe9 \x9cuvre \x80", false).unwrap();
        assert_eq!(ex.text, "café œuvre €");
        let ex = plain_text(&limits, "\u{feff}déjà".as_bytes(), false).unwrap();
        assert_eq!(ex.text, "déjà");
        assert_eq!(plain_text(&limits, b" \n", false), Err(ExtractError::Empty));
    }

    #[test]
    fn truncation_at_char_boundary() {
        assert_eq!(truncate("éàç".into(), 2), ("éà".into(), true));
        assert_eq!(truncate("éàç".into(), 3), ("éàç".into(), false));
    }

    #[test]
    fn tiff_page_count() {
        // II*\0, first IFD at 8: 0 entries, next at 14: 0 entries, next 0.
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        t.extend_from_slice(&[0, 0, 14, 0, 0, 0]);
        t.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        assert_eq!(tiff_pages(&t, 10), Some(2));
        // A loop is cut.
        let mut l = b"II*\0\x08\0\0\0".to_vec();
        l.extend_from_slice(&[0, 0, 8, 0, 0, 0]);
        assert_eq!(tiff_pages(&l, 10), Some(1));
        assert_eq!(tiff_pages(b"GIF89a", 10), None);
    }

    #[test]
    fn shorten_collapses() {
        assert_eq!(shorten("a\n\n b", 10), "a b");
        assert_eq!(shorten(&"x".repeat(400), 300).chars().count(), 300);
    }
}
