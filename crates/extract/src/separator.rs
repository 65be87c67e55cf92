//! Separator sheets in a batch scan: pages that carry the product's QR code
//! ([`SEPARATOR_PAYLOAD`]) split one scanned PDF into one document per letter.
//!
//! Pages are rendered small and grey by `pdftoppm` (100 dpi, ≈0.9 MB per A4 page) and
//! read by `rqrr`, a pure-Rust QR decoder. Only the exact payload counts: a QR code on
//! a citizen's letter (a payment slip, a link) never splits it.

use std::ffi::OsStr;
use std::time::Instant;

use crate::{ExtractError, Limits, Tools, Work, page_count, tool_error};

/// What the separator sheet's QR code carries; the number is the sheet's version.
pub const SEPARATOR_PAYLOAD: &str = "PARAPHEUR-SEPARATEUR-1";

/// Resolution of the pages read for a separator: the sheet's QR code is 9 cm wide, its
/// modules ≈3.6 mm, so ≈14 pixels each at this resolution.
const DPI: &str = "100";

/// Whether a decoded QR text is the separator sheet's, exactly.
pub fn is_separator_payload(text: &str) -> bool {
    text == SEPARATOR_PAYLOAD
}

/// Where a batch scan is split.
#[derive(Debug, Clone, PartialEq)]
pub struct Separation {
    /// The document's page count.
    pub pages: u32,
    /// The pages that are separator sheets (1-based, ascending).
    pub separators: Vec<u32>,
    /// Seconds spent rendering and decoding.
    pub seconds: f64,
}

impl Separation {
    /// The letters between the separators: inclusive 1-based page ranges, in order,
    /// without the separator pages and without empty segments.
    pub fn segments(&self) -> Vec<(u32, u32)> {
        segments(self.pages, &self.separators)
    }
}

/// Inclusive page ranges between `separators` in a document of `pages` pages.
pub fn segments(pages: u32, separators: &[u32]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut start = 1;
    for page in 1..=pages {
        if separators.contains(&page) {
            if page > start {
                out.push((start, page - 1));
            }
            start = page + 1;
        }
    }
    if start <= pages {
        out.push((start, pages));
    }
    out
}

/// Finds the separator pages of a PDF. At most `limits.max_pages` pages (longer:
/// [`ExtractError::TooManyPages`]); `pdftoppm` gets `timeout_per_page` per page.
pub async fn find_separators(
    tools: &Tools,
    limits: &Limits,
    pdf: &[u8],
) -> Result<Separation, ExtractError> {
    let started = Instant::now();
    let (Some(pdfinfo), Some(pdftoppm)) = (&tools.pdfinfo, &tools.pdftoppm) else {
        return Err(ExtractError::ToolMissing(
            "lecture des feuilles de séparation indisponible : pdfinfo et pdftoppm (paquet \
             poppler-utils) ne sont pas installés"
                .into(),
        ));
    };
    let work = Work::new(tools, limits)?;
    work.write("input.pdf", pdf).await?;
    let pages = page_count(&work, pdfinfo).await?;
    let mut separators = Vec::new();
    for page in 1..=pages {
        let n = page.to_string();
        let base = format!("sep-{page:04}");
        work.run(
            pdftoppm,
            &[
                OsStr::new("-r"),
                OsStr::new(DPI),
                OsStr::new("-gray"),
                OsStr::new("-f"),
                OsStr::new(&n),
                OsStr::new("-l"),
                OsStr::new(&n),
                OsStr::new("-singlefile"),
                OsStr::new("input.pdf"),
                OsStr::new(&base),
            ],
            limits.timeout_per_page,
            None,
        )
        .await
        .map_err(|e| tool_error("pdftoppm", e))?;
        let path = work.path(&format!("{base}.pgm"));
        let image = tokio::fs::read(&path)
            .await
            .map_err(|e| ExtractError::Failed(format!("page {page} illisible : {e}")))?;
        let _ = tokio::fs::remove_file(&path).await;
        let found = tokio::task::spawn_blocking(move || has_separator_qr(&image))
            .await
            .map_err(|e| ExtractError::Failed(e.to_string()))?;
        if found {
            separators.push(page);
        }
    }
    Ok(Separation {
        pages,
        separators,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether a binary grey PGM (`P5`, 8 bits) shows the separator's QR code.
pub fn has_separator_qr(pgm: &[u8]) -> bool {
    let Some((width, height, pixels)) = parse_pgm(pgm) else {
        return false;
    };
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    prepared.detect_grids().iter().any(|grid| {
        grid.decode()
            .is_ok_and(|(_, text)| is_separator_payload(&text))
    })
}

/// Width, height and pixels of an 8-bit binary PGM, or `None`.
fn parse_pgm(bytes: &[u8]) -> Option<(usize, usize, &[u8])> {
    let rest = bytes.strip_prefix(b"P5")?;
    let mut fields = [0usize; 3];
    let mut at = 0;
    for field in &mut fields {
        // Whitespace and comments, then digits.
        loop {
            match rest.get(at)? {
                b' ' | b'\t' | b'\r' | b'\n' => at += 1,
                b'#' => {
                    while *rest.get(at)? != b'\n' {
                        at += 1;
                    }
                }
                _ => break,
            }
        }
        let start = at;
        while rest.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        *field = std::str::from_utf8(&rest[start..at]).ok()?.parse().ok()?;
    }
    let [width, height, max] = fields;
    // One whitespace byte ends the header.
    let pixels = rest.get(at + 1..)?;
    let size = width.checked_mul(height)?;
    if max != 255 || width == 0 || height == 0 || width > 20_000 || height > 20_000 {
        return None;
    }
    Some((width, height, pixels.get(..size)?))
}

/// Copies pages `first..=last` of a PDF into a new PDF with `qpdf`.
pub async fn extract_pages(
    tools: &Tools,
    limits: &Limits,
    pdf: &[u8],
    ranges: &[(u32, u32)],
) -> Result<Vec<Vec<u8>>, ExtractError> {
    let Some(qpdf) = &tools.qpdf else {
        return Err(ExtractError::ToolMissing(
            "découpage du PDF indisponible : qpdf n'est pas installé".into(),
        ));
    };
    let work = Work::new(tools, limits)?;
    work.write("input.pdf", pdf).await?;
    let mut out = Vec::new();
    for (i, (first, last)) in ranges.iter().enumerate() {
        let range = format!("{first}-{last}");
        let name = format!("part-{i:04}.pdf");
        work.run(
            qpdf,
            &[
                OsStr::new("--empty"),
                OsStr::new("--pages"),
                OsStr::new("input.pdf"),
                OsStr::new(&range),
                OsStr::new("--"),
                OsStr::new(&name),
            ],
            limits.timeout_per_page.saturating_mul(last - first + 1),
            None,
        )
        .await
        .map_err(|e| tool_error("qpdf", e))?;
        out.push(
            tokio::fs::read(work.path(&name))
                .await
                .map_err(|e| ExtractError::Failed(format!("partie du PDF illisible : {e}")))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_drop_separators_and_empty_parts() {
        assert_eq!(segments(8, &[3, 7]), vec![(1, 2), (4, 6), (8, 8)]);
        assert_eq!(segments(5, &[1, 2, 5]), vec![(3, 4)]);
        assert_eq!(segments(3, &[]), vec![(1, 3)]);
        assert_eq!(segments(2, &[1, 2]), Vec::<(u32, u32)>::new());
    }

    #[test]
    fn only_the_exact_payload_counts() {
        assert!(is_separator_payload("PARAPHEUR-SEPARATEUR-1"));
        assert!(!is_separator_payload("PARAPHEUR-SEPARATEUR-1 "));
        assert!(!is_separator_payload("https://example.org"));
    }

    #[test]
    fn bad_pgm_is_not_a_separator() {
        assert!(!has_separator_qr(b""));
        assert!(!has_separator_qr(b"P5 10 10 255\n"));
        assert!(!has_separator_qr(b"P5 99999999999 1 255\n"));
        assert!(!has_separator_qr(b"P5 2 2 255\n\xff\xff\xff\xff"));
    }
}
