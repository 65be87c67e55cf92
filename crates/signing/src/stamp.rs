//! The visible appearance of a signature: a form XObject with a border, text and an image.
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::pdf::{deref, dict_get};
use crate::{SignError, Stamp};

const MARGIN: f32 = 20.0;
const GAP: f32 = 8.0;
const FONT_SIZE: f32 = 8.5;
const LEADING: f32 = 10.5;

/// The page's MediaBox (inherited if needed), normalised; A4 when absent.
pub(crate) fn media_box(doc: &Document, page_id: ObjectId) -> [f32; 4] {
    let mut cur = doc.get_dictionary(page_id).ok();
    for _ in 0..32 {
        let Some(d) = cur else { break };
        if let Some(Object::Array(a)) = dict_get(doc, d, b"MediaBox") {
            let v: Vec<f32> = a
                .iter()
                .filter_map(|o| deref(doc, o).and_then(|o| o.as_float().ok()))
                .collect();
            if v.len() == 4 {
                return [
                    v[0].min(v[2]),
                    v[1].min(v[3]),
                    v[0].max(v[2]),
                    v[1].max(v[3]),
                ];
            }
        }
        cur = match dict_get(doc, d, b"Parent") {
            Some(Object::Dictionary(p)) => Some(p),
            _ => None,
        };
    }
    [0.0, 0.0, 595.0, 842.0]
}

fn stamp_size(stamp: &Stamp) -> (f32, f32) {
    let lines = stamp.lines.len().max(1) as f32;
    let h = (lines * LEADING + 12.0).max(48.0);
    let w = if stamp.image.is_some() { 250.0 } else { 190.0 };
    (w, h)
}

fn overlaps(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// The first free slot from the bottom right, going left then up.
pub(crate) fn free_slot(media_box: [f32; 4], taken: &[[f32; 4]], stamp: &Stamp) -> [f32; 4] {
    let (w, h) = stamp_size(stamp);
    let [x0, y0, x1, y1] = media_box;
    let cols = (((x1 - x0 - 2.0 * MARGIN + GAP) / (w + GAP)).floor() as usize).clamp(1, 40);
    let rows = (((y1 - y0 - 2.0 * MARGIN + GAP) / (h + GAP)).floor() as usize).clamp(1, 40);
    for i in 0..cols * rows {
        let (row, col) = (i / cols, i % cols);
        let right = x1 - MARGIN - col as f32 * (w + GAP);
        let bottom = y0 + MARGIN + row as f32 * (h + GAP);
        let r = [right - w, bottom, right, bottom + h];
        if !taken.iter().any(|t| overlaps(t, &r)) {
            return r;
        }
    }
    [x1 - MARGIN - w, y0 + MARGIN, x1 - MARGIN, y0 + MARGIN + h]
}

/// A Unicode character in WinAnsiEncoding (Windows-1252), or '?' when it has none.
pub(crate) fn winansi(c: char) -> u8 {
    let u = c as u32;
    match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        '\u{202F}' | '\u{2009}' => 0xA0,
        '\u{2010}' | '\u{2011}' => b'-',
        _ if u < 0x80 || (0xA0..=0xFF).contains(&u) => u as u8,
        _ => b'?',
    }
}

/// A PDF literal string `( … )` in WinAnsi bytes, with ( ) \ escaped.
pub(crate) fn pdf_literal(s: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in s.chars() {
        let b = winansi(c);
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\r' | b'\n' => out.push(b' '),
            _ => out.push(b),
        }
    }
    out.push(b')');
    out
}

/// Approximate width of WinAnsi text in Helvetica, in text space units per point of font size.
fn helvetica_width(s: &str) -> f32 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '\'' | '.' | ',' | ':' | ';' | '!' | '|' => 0.25,
            'f' | 't' | 'r' | 'I' | ' ' | '(' | ')' => 0.32,
            'm' | 'w' | 'M' | 'W' => 0.85,
            'A'..='Z' => 0.68,
            _ => 0.55,
        })
        .sum()
}

struct Image {
    width: u32,
    height: u32,
    id: ObjectId,
}

fn img_err(e: impl std::fmt::Display) -> SignError {
    SignError::Image(e.to_string())
}

/// Width, height and components of a JPEG, from its SOF marker.
fn jpeg_info(data: &[u8]) -> Option<(u32, u32, u8)> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return None;
    }
    let mut i = 2usize;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = data.get(i + 4..i + 2 + len)?;
            if seg.len() < 6 {
                return None;
            }
            let h = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let w = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            return Some((w, h, seg[5]));
        }
        i += 2 + len;
    }
    None
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, SignError> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).map_err(img_err)?;
    enc.finish().map_err(img_err)
}

fn add_image(doc: &mut Document, data: &[u8]) -> Result<Image, SignError> {
    if let Some((w, h, comps)) = jpeg_info(data) {
        let cs = match comps {
            1 => "DeviceGray",
            4 => "DeviceCMYK",
            _ => "DeviceRGB",
        };
        let mut d = Dictionary::new();
        d.set("Type", Object::Name(b"XObject".to_vec()));
        d.set("Subtype", Object::Name(b"Image".to_vec()));
        d.set("Width", Object::Integer(i64::from(w)));
        d.set("Height", Object::Integer(i64::from(h)));
        d.set("ColorSpace", Object::Name(cs.as_bytes().to_vec()));
        d.set("BitsPerComponent", Object::Integer(8));
        d.set("Filter", Object::Name(b"DCTDecode".to_vec()));
        let mut s = Stream::new(d, data.to_vec());
        s.allows_compression = false;
        let id = doc.add_object(Object::Stream(s));
        return Ok(Image {
            width: w,
            height: h,
            id,
        });
    }
    if !data.starts_with(b"\x89PNG") {
        return Err(SignError::Image(
            "format non reconnu (PNG ou JPEG attendu)".into(),
        ));
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(img_err)?;
    let (w, h) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if u64::from(w) * u64::from(h) > 4_000_000 {
        return Err(SignError::Image("image trop grande".into()));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| SignError::Image("image trop grande".into()))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(img_err)?;
    let pixels = &buf[..frame.buffer_size()];
    let n = (w as usize) * (h as usize);
    let mut rgb = Vec::with_capacity(n * 3);
    let mut alpha = Vec::with_capacity(n);
    let mut has_alpha = false;
    match frame.color_type {
        png::ColorType::Rgb => rgb.extend_from_slice(pixels),
        png::ColorType::Rgba => {
            for p in pixels.chunks_exact(4) {
                rgb.extend_from_slice(&p[..3]);
                alpha.push(p[3]);
            }
            has_alpha = true;
        }
        png::ColorType::Grayscale => {
            for &g in pixels {
                rgb.extend_from_slice(&[g, g, g]);
            }
        }
        png::ColorType::GrayscaleAlpha => {
            for p in pixels.chunks_exact(2) {
                rgb.extend_from_slice(&[p[0], p[0], p[0]]);
                alpha.push(p[1]);
            }
            has_alpha = true;
        }
        png::ColorType::Indexed => {
            return Err(SignError::Image("PNG indexé non pris en charge".into()));
        }
    }
    if rgb.len() != n * 3 {
        return Err(SignError::Image("données PNG incomplètes".into()));
    }
    let mut d = Dictionary::new();
    d.set("Type", Object::Name(b"XObject".to_vec()));
    d.set("Subtype", Object::Name(b"Image".to_vec()));
    d.set("Width", Object::Integer(i64::from(w)));
    d.set("Height", Object::Integer(i64::from(h)));
    d.set("ColorSpace", Object::Name(b"DeviceRGB".to_vec()));
    d.set("BitsPerComponent", Object::Integer(8));
    d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    if has_alpha {
        let mut sd = Dictionary::new();
        sd.set("Type", Object::Name(b"XObject".to_vec()));
        sd.set("Subtype", Object::Name(b"Image".to_vec()));
        sd.set("Width", Object::Integer(i64::from(w)));
        sd.set("Height", Object::Integer(i64::from(h)));
        sd.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
        sd.set("BitsPerComponent", Object::Integer(8));
        sd.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let mut s = Stream::new(sd, deflate(&alpha)?);
        s.allows_compression = false;
        let smask = doc.add_object(Object::Stream(s));
        d.set("SMask", Object::Reference(smask));
    }
    let mut s = Stream::new(d, deflate(&rgb)?);
    s.allows_compression = false;
    let id = doc.add_object(Object::Stream(s));
    Ok(Image {
        width: w,
        height: h,
        id,
    })
}

/// Builds the appearance XObject of `stamp` for `rect` and returns its id.
pub(crate) fn appearance(
    doc: &mut Document,
    stamp: &Stamp,
    rect: [f32; 4],
) -> Result<ObjectId, SignError> {
    let w = (rect[2] - rect[0]).abs().max(1.0);
    let h = (rect[3] - rect[1]).abs().max(1.0);
    let mut content: Vec<u8> = Vec::new();
    // Light border and background.
    content.extend_from_slice(
        format!(
            "q 0.97 0.97 1 rg 0.55 0.6 0.75 RG 0.8 w 0.4 0.4 {:.2} {:.2} re B Q\n",
            w - 0.8,
            h - 0.8
        )
        .as_bytes(),
    );
    let mut resources = Dictionary::new();
    let mut text_x = 6.0f32;
    if let Some(data) = &stamp.image {
        let img = add_image(doc, data)?;
        let box_w = (w * 0.38).min(w - 12.0).max(1.0);
        let box_h = (h - 8.0).max(1.0);
        let aspect = img.width.max(1) as f32 / img.height.max(1) as f32;
        let (iw, ih) = if box_w / box_h > aspect {
            (box_h * aspect, box_h)
        } else {
            (box_w, box_w / aspect)
        };
        let ix = 4.0 + (box_w - iw) / 2.0;
        let iy = (h - ih) / 2.0;
        content.extend_from_slice(
            format!("q {iw:.2} 0 0 {ih:.2} {ix:.2} {iy:.2} cm /Im1 Do Q\n").as_bytes(),
        );
        let mut xo = Dictionary::new();
        xo.set("Im1", Object::Reference(img.id));
        resources.set("XObject", Object::Dictionary(xo));
        text_x = box_w + 10.0;
    }
    let avail = (w - text_x - 4.0).max(10.0);
    let widest = stamp
        .lines
        .iter()
        .map(|l| helvetica_width(l))
        .fold(0.0f32, f32::max);
    let lines = stamp.lines.len().max(1) as f32;
    let mut size = FONT_SIZE;
    if widest * size > avail {
        size = (avail / widest).max(4.0);
    }
    let leading_scale = size / FONT_SIZE;
    let leading = LEADING * leading_scale;
    let block = lines * leading;
    let first_y = (h + block) / 2.0 - size;
    content.extend_from_slice(
        format!("BT 0.1 0.1 0.2 rg /F1 {size:.2} Tf {leading:.2} TL {text_x:.2} {first_y:.2} Td\n")
            .as_bytes(),
    );
    for (i, line) in stamp.lines.iter().enumerate() {
        if i > 0 {
            content.extend_from_slice(b"T* ");
        }
        content.extend_from_slice(&pdf_literal(line));
        content.extend_from_slice(b" Tj\n");
    }
    content.extend_from_slice(b"ET\n");

    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
    font.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
    let mut fonts = Dictionary::new();
    fonts.set("F1", Object::Dictionary(font));
    resources.set("Font", Object::Dictionary(fonts));

    let mut d = Dictionary::new();
    d.set("Type", Object::Name(b"XObject".to_vec()));
    d.set("Subtype", Object::Name(b"Form".to_vec()));
    d.set(
        "BBox",
        Object::Array(vec![
            Object::Real(0.0),
            Object::Real(0.0),
            Object::Real(w),
            Object::Real(h),
        ]),
    );
    d.set("Resources", Object::Dictionary(resources));
    d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    let mut s = Stream::new(d, deflate(&content)?);
    s.allows_compression = false;
    Ok(doc.add_object(Object::Stream(s)))
}
