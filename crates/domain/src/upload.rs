//! What a file is, from its bytes.

/// Whether a file of this media type can give text (and so gets an extraction job): the
/// register (which queues the job with the item) and capture (which runs it) both ask.
pub fn is_extractable(media_type: &str) -> bool {
    let t = media_type.to_ascii_lowercase();
    let t = t.split(';').next().unwrap_or("").trim();
    matches!(
        t,
        "application/pdf" | "image/png" | "image/jpeg" | "image/tiff" | "text/plain"
    )
}

/// The type of a file from its first bytes, never from its name (uploads and drops alike):
/// a PDF, or a JPEG, PNG or TIFF image; `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else {
        None
    }
}
