//! OCR speed on this machine.
//!
//! `cargo run --release -p parapheur-extract --example ocr_bench -- FILE [MEDIA_TYPE]`
//! (FILE: a scanned PDF or an image; the media type is guessed from the extension).
//! Prints the method, pages, wall seconds per page and the CPU seconds of the children
//! (from /proc/self/stat, meaningful when other work loads the machine).

use std::process::ExitCode;

use parapheur_extract::{Limits, Tools, extract};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: ocr_bench FILE [MEDIA_TYPE]");
        return ExitCode::FAILURE;
    };
    let media_type = args.next().unwrap_or_else(|| {
        let lower = path.to_ascii_lowercase();
        let mt = if lower.ends_with(".pdf") {
            "application/pdf"
        } else if lower.ends_with(".png") {
            "image/png"
        } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
            "image/jpeg"
        } else if lower.ends_with(".tif") || lower.ends_with(".tiff") {
            "image/tiff"
        } else {
            "application/octet-stream"
        };
        mt.to_owned()
    });
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tools = Tools::detect();
    for d in tools.diagnostics() {
        eprintln!("note: {d}");
    }
    let cpu_before = children_cpu_seconds();
    match extract(&tools, &Limits::default(), &bytes, &media_type, &path).await {
        Ok(ex) => {
            let pages = f64::from(ex.pages.max(1));
            let cpu = children_cpu_seconds()
                .zip(cpu_before)
                .map(|(a, b)| (a - b) / pages);
            println!(
                "{path}: {:?}, {} page(s), {} chars, {:.2} s total, {:.2} s/page wall, \
                 {} s/page CPU of children, searchable PDF {} bytes",
                ex.method,
                ex.pages,
                ex.text.chars().count(),
                ex.seconds,
                ex.seconds / pages,
                cpu.map_or("?".into(), |c| format!("{c:.2}")),
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
