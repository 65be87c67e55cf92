//! Attachments: safe file names and the checks made on PDF files (never executed,
//! never decompressed).

const MAX_FILENAME_CHARS: usize = 200;

/// A file name safe to store and to offer for download: the last path component only,
/// no control or reserved characters, no leading dots, at most 200 characters (the
/// extension is kept when shortening), never empty (`piece-jointe-N.ext`).
pub(crate) fn safe_filename(raw: Option<&str>, media_type: &str, index: usize) -> String {
    let base = raw
        .map(|r| r.rsplit(['/', '\\']).next().unwrap_or(r))
        .unwrap_or_default();
    let mut name: String = base
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect();
    name = crate::text::collapse_ws(&name);
    let name = name
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let mut name = name.to_string();
    if name.is_empty() {
        return format!("piece-jointe-{index}.{}", extension_for(media_type));
    }
    if name.chars().count() > MAX_FILENAME_CHARS {
        let ext: String = match name.rsplit_once('.') {
            Some((_, e)) if !e.is_empty() && e.chars().count() <= 10 => format!(".{e}"),
            _ => String::new(),
        };
        let keep = MAX_FILENAME_CHARS - ext.chars().count();
        crate::text::truncate_chars(&mut name, keep);
        let trimmed = name.trim_end_matches(['.', ' ']).len();
        name.truncate(trimmed);
        name.push_str(&ext);
    }
    name
}

/// Bidirectional overrides and similar characters that make a name lie about its
/// extension ("facture\u{202e}fdp.exe").
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A file extension for a media type, for names made up when the part has none.
pub(crate) fn extension_for(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => "pdf",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/tiff" => "tif",
        "image/bmp" => "bmp",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "image/heic" => "heic",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "text/csv" => "csv",
        "text/vcard" | "text/x-vcard" => "vcf",
        "message/rfc822" | "message/global" => "eml",
        "application/zip" | "application/x-zip-compressed" => "zip",
        "application/ms-tnef" | "application/vnd.ms-tnef" => "dat",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "application/xml" | "text/xml" => "xml",
        "application/json" => "json",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        "application/pgp-signature" => "asc",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

/// True when the bytes or the type say PDF.
pub(crate) fn is_pdf(media_type: &str, filename: &str, bytes: &[u8]) -> bool {
    media_type == "application/pdf"
        || filename.to_ascii_lowercase().ends_with(".pdf")
        || bytes
            .get(..1024)
            .unwrap_or(bytes)
            .windows(5)
            .any(|w| w == b"%PDF-")
}

/// What a PDF's structure says, found by scanning PDF names (never by running it).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PdfFlags {
    pub encrypted: bool,
    /// `/JavaScript` or `/JS`, or an action that runs or opens something (`/Launch`,
    /// `/RichMedia`, `/XFA`): the file is then only ever downloaded, never shown inline.
    pub javascript: bool,
}

/// Most bytes inflated from a PDF's object streams while looking for names: a bigger one
/// counts as scripted (downloaded, not shown), rather than being inflated without limit.
const MAX_INFLATED: usize = 32 * 1024 * 1024;

/// Scans a PDF for the names `/Encrypt`, `/JavaScript`, `/JS`, `/Launch`, `/RichMedia` and
/// `/XFA`, written plainly or with `#xx` escapes (`/J#53`), in the file and inside its
/// compressed object streams (PDF 1.5), where a dictionary can hide from a plain scan.
pub fn pdf_flags(bytes: &[u8]) -> PdfFlags {
    let mut flags = PdfFlags::default();
    scan_names(bytes, &mut flags);
    if flags.javascript {
        return flags;
    }
    let mut inflated = 0usize;
    let mut from = 0;
    while let Some(at) = find(&bytes[from..], b"/ObjStm") {
        let at = from + at;
        from = at + 7;
        let Some(stream) = find(&bytes[at..], b"stream") else {
            break;
        };
        let mut start = at + stream + 6;
        if bytes.get(start) == Some(&b'\r') {
            start += 1;
        }
        if bytes.get(start) == Some(&b'\n') {
            start += 1;
        }
        let end = find(&bytes[start..], b"endstream").map_or(bytes.len(), |e| start + e);
        let mut decoded = Vec::new();
        let budget = MAX_INFLATED.saturating_sub(inflated) as u64 + 1;
        let read = std::io::Read::read_to_end(
            &mut std::io::Read::take(flate2::read::ZlibDecoder::new(&bytes[start..end]), budget),
            &mut decoded,
        );
        inflated += decoded.len();
        if inflated > MAX_INFLATED {
            flags.javascript = true;
            return flags;
        }
        if read.is_ok() || !decoded.is_empty() {
            scan_names(&decoded, &mut flags);
        }
        if flags.javascript {
            break;
        }
        from = end.max(from);
    }
    flags
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn note(name: &[u8], flags: &mut PdfFlags) {
    match name {
        b"Encrypt" => flags.encrypted = true,
        b"JavaScript" | b"JS" | b"Launch" | b"RichMedia" | b"XFA" => flags.javascript = true,
        _ => {}
    }
}

fn scan_names(bytes: &[u8], flags: &mut PdfFlags) {
    let mut i = 0;
    while i < bytes.len() {
        let Some(slash) = bytes[i..].iter().position(|&b| b == b'/') else {
            break;
        };
        let start = i + slash + 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| is_pdf_delimiter(b))
            .map_or(bytes.len(), |p| start + p);
        let name = &bytes[start..end];
        if name.contains(&b'#') {
            note(&decode_name(name), flags);
        } else {
            note(name, flags);
        }
        if flags.encrypted && flags.javascript {
            break;
        }
        i = end.max(start);
    }
}

fn is_pdf_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'\0'
            | b'\t'
            | b'\n'
            | b'\x0c'
            | b'\r'
            | b' '
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'/'
            | b'%'
    )
}

/// PDF names may hide letters as `#xx` escapes (`/J#61vaScript`).
fn decode_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        if name[i] == b'#'
            && let Some(h) = name.get(i + 1..i + 3)
            && let Ok(s) = std::str::from_utf8(h)
            && let Ok(v) = u8::from_str_radix(s, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(name[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_safe() {
        assert_eq!(
            safe_filename(Some("../../etc/passwd"), "text/plain", 1),
            "passwd"
        );
        assert_eq!(
            safe_filename(Some("C:\\Users\\x\\lettre.pdf"), "application/pdf", 1),
            "lettre.pdf"
        );
        assert_eq!(
            safe_filename(Some("a\0b\x07c\n.pdf"), "application/pdf", 1),
            "abc .pdf"
        );
        assert_eq!(
            safe_filename(Some(""), "application/pdf", 3),
            "piece-jointe-3.pdf"
        );
        assert_eq!(safe_filename(None, "image/jpeg", 2), "piece-jointe-2.jpg");
        assert_eq!(safe_filename(Some("..."), "x/y", 4), "piece-jointe-4.bin");
        assert_eq!(safe_filename(Some(".htaccess"), "x/y", 4), "htaccess");
        assert_eq!(
            safe_filename(Some("facture\u{202e}fdp.exe"), "x/y", 1),
            "facturefdp.exe"
        );
        let long = format!("{}.pdf", "é".repeat(500));
        let safe = safe_filename(Some(&long), "application/pdf", 1);
        assert_eq!(safe.chars().count(), 200);
        assert!(safe.ends_with("é.pdf"));
    }

    #[test]
    fn pdf_names() {
        assert_eq!(
            pdf_flags(b"%PDF-1.4\ntrailer<</Root 1 0 R/Encrypt 5 0 R>>"),
            PdfFlags {
                encrypted: true,
                javascript: false
            }
        );
        assert_eq!(
            pdf_flags(b"<</S/JavaScript/JS(app.alert(1))>>"),
            PdfFlags {
                encrypted: false,
                javascript: true
            }
        );
        assert_eq!(
            pdf_flags(b"<</OpenAction<</S/J#61vaScript>>>>"),
            PdfFlags {
                encrypted: false,
                javascript: true
            }
        );
        assert_eq!(
            pdf_flags(b"<</EncryptMetadata false/JSON 1/Type/Page>>"),
            PdfFlags::default()
        );
        assert_eq!(pdf_flags(b"/"), PdfFlags::default());
        assert_eq!(pdf_flags(b"//#"), PdfFlags::default());
    }
}

#[cfg(test)]
mod pdf_flag_tests {
    use super::pdf_flags;

    #[test]
    fn escaped_names_and_object_streams_are_seen() {
        assert!(pdf_flags(b"%PDF-1.7 << /S /JavaScript /JS (x) >>").javascript);
        assert!(pdf_flags(b"%PDF-1.7 << /S /Java#53cript /J#53 (x) >>").javascript);
        assert!(pdf_flags(b"%PDF-1.7 << /#4A#53 (x) >>").javascript);
        assert!(pdf_flags(b"%PDF-1.7 << /S /Launch /F (calc.exe) >>").javascript);
        assert!(!pdf_flags(b"%PDF-1.7 << /Type /Page /JSON 1 >>").javascript);
        // A dictionary inside a compressed object stream, invisible to a plain scan.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let body = "<< /Type /Page /Parent 2 0 R >> ".repeat(200)
            + "<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>";
        std::io::Write::write_all(&mut z, body.as_bytes()).unwrap();
        let hidden = z.finish().unwrap();
        let mut pdf =
            b"%PDF-1.7\n5 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
                .to_vec();
        pdf.extend_from_slice(format!("{} >>\nstream\n", hidden.len()).as_bytes());
        pdf.extend_from_slice(&hidden);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        assert!(!hidden.windows(3).any(|w| w == b"/JS"));
        assert!(pdf_flags(&pdf).javascript);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, b"1 0 << /Type /Page >>").unwrap();
        let clean = z.finish().unwrap();
        let mut pdf =
            b"%PDF-1.7\n5 0 obj << /Type /ObjStm /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend_from_slice(&clean);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        assert!(!pdf_flags(&pdf).javascript);
    }
}
