//! OCR speed on this machine.
//!
//! ```text
//! cargo run --release -p parapheur-extract --example ocr_bench -- \
//!     FILE [MEDIA_TYPE] [--parallel N] [--repeat N]
//! ```
//!
//! FILE: a scanned PDF or an image; the media type is guessed from the extension.
//! `--parallel N` sets [`Limits::parallel_pages`] (default: the number of CPUs).
//! `--repeat N` (PDF only) first builds an N-page PDF by repeating FILE's pages with
//! `qpdf --empty --pages FILE FILE … --` (or `pdfunite`), in a temporary directory.
//!
//! Prints the method, pages, wall time, pages per second (wall), and the CPU seconds of the
//! children (from /proc/self/stat: pdftoppm, tesseract, … — meaningful when other work
//! loads the machine).
//!
//! A one-page, image-only scan to start from (Debian packages poppler-utils, img2pdf):
//!
//! ```text
//! pdftoppm -r 300 -gray -jpeg -singlefile letter.pdf scan   # any PDF with text
//! img2pdf --pagesize A4 -o scan.pdf scan.jpg                # no text layer
//! pdffonts scan.pdf                                         # lists no font
//! ```

use std::process::{Command, ExitCode};

use parapheur_extract::{Limits, Tools, extract};

const USAGE: &str = "usage: ocr_bench FILE [MEDIA_TYPE] [--parallel N] [--repeat N]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut path: Option<String> = None;
    let mut media_type: Option<String> = None;
    let mut parallel: Option<usize> = None;
    let mut repeat: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let number = |v: Option<String>| v.and_then(|v| v.parse::<usize>().ok());
        match arg.as_str() {
            "--parallel" => match number(args.next()) {
                Some(n) => parallel = Some(n),
                None => return usage(),
            },
            "--repeat" => match number(args.next()) {
                Some(n) if n >= 1 => repeat = Some(n),
                _ => return usage(),
            },
            _ if path.is_none() => path = Some(arg),
            _ if media_type.is_none() => media_type = Some(arg),
            _ => return usage(),
        }
    }
    let Some(path) = path else {
        return usage();
    };
    let media_type = media_type.unwrap_or_else(|| guess_media_type(&path).to_owned());
    let mut bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(n) = repeat {
        if media_type != "application/pdf" {
            eprintln!("--repeat: FILE must be a PDF");
            return ExitCode::FAILURE;
        }
        bytes = match repeat_pdf(&bytes, n) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("--repeat {n}: {e}");
                return ExitCode::FAILURE;
            }
        };
    }
    let tools = Tools::detect();
    for d in tools.diagnostics() {
        eprintln!("note: {d}");
    }
    let mut limits = Limits::default();
    if let Some(n) = parallel {
        limits.parallel_pages = n;
    }
    let cpu_before = children_cpu_seconds();
    match extract(&tools, &limits, &bytes, &media_type, &path).await {
        Ok(ex) => {
            let pages = f64::from(ex.pages.max(1));
            let cpu = children_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
            println!(
                "{path}: {:?}, {} page(s), parallel_pages {}, {} chars, {:.2} s wall, \
                 {:.3} pages/s (wall), {:.2} s/page wall, CPU of children {} s \
                 ({} s/page), searchable PDF {} bytes",
                ex.method,
                ex.pages,
                limits.parallel_pages,
                ex.text.chars().count(),
                ex.seconds,
                pages / ex.seconds,
                ex.seconds / pages,
                cpu.map_or("?".into(), |c| format!("{c:.2}")),
                cpu.map_or("?".into(), |c| format!("{:.2}", c / pages)),
                ex.searchable_pdf.as_ref().map_or(0, Vec::len),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: texte non extrait : {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::FAILURE
}

fn guess_media_type(path: &str) -> &'static str {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".pdf") {
        "application/pdf"
    } else if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else if lower.ends_with(".tif") || lower.ends_with(".tiff") {
        "image/tiff"
    } else {
        "application/octet-stream"
    }
}

/// `pdf` with its pages repeated `n` times, by `qpdf` or else `pdfunite`.
fn repeat_pdf(pdf: &[u8], n: usize) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("in.pdf"), pdf).map_err(|e| e.to_string())?;
    let inputs = std::iter::repeat_n("in.pdf", n);
    let qpdf = Command::new("qpdf")
        .args(["--empty", "--pages"])
        .args(inputs.clone())
        .args(["--", "out.pdf"])
        .current_dir(dir.path())
        .status();
    let ok = match qpdf {
        Ok(st) => st.success(),
        Err(_) => Command::new("pdfunite")
            .args(inputs)
            .arg("out.pdf")
            .current_dir(dir.path())
            .status()
            .map_err(|e| format!("ni qpdf ni pdfunite : {e}"))?
            .success(),
    };
    if !ok {
        return Err("qpdf/pdfunite a échoué".into());
    }
    std::fs::read(dir.path().join("out.pdf")).map_err(|e| e.to_string())
}

/// User + system CPU time of waited-for children (fields cutime, cstime of
/// /proc/self/stat, in clock ticks, assumed 100 per second as on Linux/x86 and arm64).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / 100.0)
}
