//! Reading a PDF's object graph: loading with a size limit, following references, text
//! strings, and the AcroForm's fields. Shared by signing, stamping and verifying.

use chrono::{DateTime, Utc};
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};

use crate::SignError;

/// Largest PDF accepted, in bytes (50 MB).
pub const MAX_PDF_SIZE: usize = 50 * 1024 * 1024;

/// Loads a PDF with lopdf, refusing oversized and encrypted files, never panicking.
pub(crate) fn load_pdf(pdf: &[u8]) -> Result<Document, SignError> {
    if pdf.len() > MAX_PDF_SIZE {
        return Err(SignError::TooLarge);
    }
    let head = &pdf[..pdf.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(SignError::Unreadable("ce n'est pas un fichier PDF".into()));
    }
    let loaded = std::panic::catch_unwind(|| Document::load_mem(pdf));
    match loaded {
        Ok(Ok(doc)) => {
            if doc.trailer.get(b"Encrypt").is_ok()
                || doc.is_encrypted()
                || doc.encryption_state.is_some()
            {
                return Err(SignError::Encrypted);
            }
            Ok(doc)
        }
        Ok(Err(e)) => {
            if pdf.windows(8).any(|w| w == b"/Encrypt") {
                Err(SignError::Encrypted)
            } else {
                Err(SignError::Unreadable(e.to_string()))
            }
        }
        Err(_) => Err(SignError::Unreadable("structure invalide".into())),
    }
}

/// Whether the file's last `startxref` points at a cross-reference section (a table or
/// an xref stream's object). When it does not, lopdf rebuilds the object table by scanning
/// the file, but an incremental update appended to such a file would chain to nothing:
/// the signer rewrites it whole first.
pub(crate) fn has_sound_xref(pdf: &[u8]) -> bool {
    let Some(at) = pdf.windows(9).rposition(|w| w == b"startxref") else {
        return false;
    };
    let digits: Vec<u8> = pdf[at + 9..]
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace)
        .take_while(u8::is_ascii_digit)
        .collect();
    let Some(offset) = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&o| o < at)
    else {
        return false;
    };
    let section = &pdf[offset..at];
    if section.starts_with(b"xref") {
        return true;
    }
    // "N G obj": an xref stream.
    let mut words = section
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let number = |w: Option<&[u8]>| w.is_some_and(|w| w.iter().all(u8::is_ascii_digit));
    number(words.next())
        && number(words.next())
        && words.next().is_some_and(|w| w.starts_with(b"obj"))
}

pub(crate) fn pdf_err(e: impl std::fmt::Display) -> SignError {
    SignError::Unreadable(e.to_string())
}

/// A PDF text string: literal PDFDocEncoding when ASCII, else UTF-16BE with a BOM.
pub(crate) fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        Object::String(s.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for u in s.encode_utf16() {
            bytes.extend_from_slice(&u.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// Decodes a PDF text string (UTF-16BE with BOM, else PDFDocEncoding approximated as Latin-1).
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    if bytes.len() >= 2 && bytes[0] == 0xFE && bytes[1] == 0xFF {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(&bytes[3..]).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

pub(crate) fn pdf_date(t: DateTime<Utc>) -> String {
    t.format("D:%Y%m%d%H%M%S+00'00'").to_string()
}

/// Follows a reference (a few levels at most).
pub(crate) fn deref<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    let mut cur = obj;
    for _ in 0..8 {
        match cur {
            Object::Reference(id) => cur = doc.get_object(*id).ok()?,
            other => return Some(other),
        }
    }
    None
}

pub(crate) fn dict_get<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    d.get(key).ok().and_then(|o| deref(doc, o))
}

/// Every terminal field of the AcroForm: (full name, field dictionary id or none, dictionary).
pub(crate) fn all_fields(doc: &Document) -> Vec<(String, Option<ObjectId>, Dictionary)> {
    let mut out = Vec::new();
    let Ok(catalog) = doc.catalog() else {
        return out;
    };
    let Some(Object::Dictionary(form)) = dict_get(doc, catalog, b"AcroForm") else {
        return out;
    };
    let Some(Object::Array(fields)) = dict_get(doc, form, b"Fields") else {
        return out;
    };
    let mut stack: Vec<(Object, String, Option<Vec<u8>>, usize)> = fields
        .iter()
        .rev()
        .map(|f| (f.clone(), String::new(), None, 0))
        .collect();
    let mut seen = std::collections::HashSet::new();
    while let Some((obj, prefix, inherited_ft, depth)) = stack.pop() {
        if depth > 32 || out.len() > 10_000 {
            break;
        }
        let id = if let Object::Reference(id) = obj {
            if !seen.insert(id) {
                continue;
            }
            Some(id)
        } else {
            None
        };
        let Some(Object::Dictionary(d)) = deref(doc, &obj) else {
            continue;
        };
        let part = match d.get(b"T") {
            Ok(Object::String(s, _)) => decode_text(s),
            _ => String::new(),
        };
        let name = match (prefix.is_empty(), part.is_empty()) {
            (true, _) => part,
            (false, true) => prefix.clone(),
            (false, false) => format!("{prefix}.{part}"),
        };
        let ft = match d.get(b"FT") {
            Ok(Object::Name(n)) => Some(n.clone()),
            _ => inherited_ft,
        };
        let kids = match dict_get(doc, d, b"Kids") {
            Some(Object::Array(k)) => k.clone(),
            _ => Vec::new(),
        };
        let kid_fields: Vec<Object> = kids
            .into_iter()
            .filter(|k| matches!(deref(doc, k), Some(Object::Dictionary(kd)) if kd.has(b"T")))
            .collect();
        if kid_fields.is_empty() {
            let mut dd = d.clone();
            if let Some(ft) = ft {
                dd.set("FT", Object::Name(ft));
            }
            out.push((name, id, dd));
        } else {
            for k in kid_fields.into_iter().rev() {
                stack.push((k, name.clone(), ft.clone(), depth + 1));
            }
        }
    }
    out
}

pub(crate) fn is_sig_field(d: &Dictionary) -> bool {
    matches!(d.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig")
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
