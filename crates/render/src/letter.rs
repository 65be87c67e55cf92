//! The official letter of a commune: the acknowledgement of receipt ("accusé de
//! réception") first, reply letters later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::RenderError;
use crate::engine::{self, Asset, Template, template_source};

static TEMPLATE: Template =
    Template::new(|| template_source("/lettre.typ", include_str!("../templates/lettre.typ")));

/// A letter as the caller already wrote it in French: this crate prints the strings as
/// they are (labels such as "Réf. :" or "Objet :" included), never as markup.
///
/// `None`, and `Some` of a blank string, leave the optional parts out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LetterDocument {
    /// "Commune de Montbazon", in bold at the top left.
    pub commune_name: String,
    /// The lines under the commune's name: address, phone, email, website.
    pub letterhead: Vec<String>,
    /// Printed above the commune's name, at most 20 mm high and 60 mm wide.
    pub logo: Option<Logo>,
    /// "Montbazon, le 3 février 2026", under the recipient's address.
    pub place_and_date: String,
    /// The address block, one line each, on the right at 45 mm from the top of the
    /// page: where the window of a DL envelope shows it once the sheet is folded in three.
    pub recipient: Vec<String>,
    /// "Réf. : 2026-A-000042".
    pub reference: Option<String>,
    /// "Objet : demande de permis de construire", in bold.
    pub subject: String,
    /// "Accusé de réception", a centred heading above the body.
    pub title: Option<String>,
    /// "Madame, Monsieur,".
    pub opening: Option<String>,
    /// The body, in order.
    pub sections: Vec<LetterSection>,
    /// "Je vous prie d'agréer, …", kept on the page of the signature.
    pub closing: Option<String>,
    /// "Pour le maire et par délégation,", "Le service Urbanisme": one line each,
    /// in a block on the right.
    pub signature: Vec<String>,
    /// Small print at the bottom of every page (e.g. the legal basis of the letter).
    pub footer: Option<String>,
    /// Leaves a blank zone under the signature block for the signature stamps, kept on
    /// the signature's page; [`letter_pdf_with_zone`] says where it landed.
    #[serde(default)]
    pub signature_zone: bool,
    /// When the letter was produced: the PDF's creation date (PDF/A needs one). Not
    /// printed: the printed date is `place_and_date`.
    pub generated_at: DateTime<Utc>,
}

/// A part of the body: an optional heading, paragraphs, then a bulleted list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterSection {
    /// "Pièces manquantes", in bold; `None` for plain paragraphs.
    pub heading: Option<String>,
    /// One string per paragraph (a `\n` inside breaks the line).
    pub paragraphs: Vec<String>,
    /// Bulleted items printed after the paragraphs; empty for none.
    pub list: Vec<String>,
}

/// A commune's logo, as stored (the file's bytes, not decoded here). Bytes that are
/// not an image of `format` make [`letter_pdf`] fail with [`RenderError::Layout`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logo {
    pub bytes: Vec<u8>,
    pub format: LogoFormat,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo")
            .field("format", &self.format)
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogoFormat {
    Png,
    Jpeg,
    Svg,
}

impl LogoFormat {
    /// The virtual file the template reads: a fixed name per format (see
    /// `engine::Asset`), its extension telling typst how to decode it.
    fn path(self) -> &'static str {
        match self {
            LogoFormat::Png => "/logo.png",
            LogoFormat::Jpeg => "/logo.jpg",
            LogoFormat::Svg => "/logo.svg",
        }
    }
}

/// What the template reads as `data`.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    /// The PDF's title: the letter's title, else its subject, then the commune.
    document_title: String,
    commune_name: &'a str,
    letterhead: &'a [String],
    /// The logo's virtual path, or null.
    logo: Option<&'static str>,
    place_and_date: &'a str,
    recipient: &'a [String],
    reference: Option<&'a str>,
    subject: Option<&'a str>,
    title: Option<&'a str>,
    opening: Option<&'a str>,
    sections: &'a [LetterSection],
    closing: Option<&'a str>,
    signature: &'a [String],
    footer: Option<&'a str>,
    signature_zone: bool,
}

/// The letter as a tagged PDF/A-2b document: A4 portrait, the commune's letterhead at
/// the top left, the recipient on the right at the window-envelope position, the
/// place and date, the reference and subject, the centred title, the body, the
/// signature block on the right. The footer repeats on every page, with "Page X / Y"
/// when there is more than one; pages after the first recall the commune and the
/// reference at the top.
///
/// CPU-bound (tens of milliseconds for a page in release): from async code, call it
/// inside `tokio::task::spawn_blocking`.
pub fn letter_pdf(doc: &LetterDocument) -> Result<Vec<u8>, RenderError> {
    // Tagged: a letter is read by screen readers, and it is small.
    engine::render_pdf(
        &TEMPLATE,
        data(doc)?,
        assets(doc),
        doc.generated_at.fixed_offset(),
        true,
    )
}

/// Several letters in one PDF, to print them at once (the accusés de réception of the
/// morning's paper mail): each starts on a new page and numbers its own pages. The PDF's
/// title is the first letter's. An empty batch is an error, not an empty file.
pub fn letters_pdf(docs: &[LetterDocument]) -> Result<Vec<u8>, RenderError> {
    let Some(first) = docs.first() else {
        return Err(RenderError::Layout(
            "aucun courrier à mettre en page".to_owned(),
        ));
    };
    let payloads: Vec<Payload<'_>> = docs.iter().map(payload).collect();
    let data = serde_json::to_vec(&serde_json::json!({ "letters": payloads }))?;
    // The letters of one commune share its logo: each format's virtual file once.
    let mut files: Vec<Asset> = Vec::new();
    for asset in docs.iter().flat_map(assets) {
        if !files.iter().any(|a| a.path == asset.path) {
            files.push(asset);
        }
    }
    engine::render_pdf(
        &TEMPLATE,
        data,
        files,
        first.generated_at.fixed_offset(),
        true,
    )
}

/// Height of the blank zone left for signature stamps (in points: 36 mm).
const ZONE_HEIGHT_PT: f64 = 36.0 * 72.0 / 25.4;

/// Where the signature stamps go: a page (from 1) and a rectangle in PDF user space
/// (points, origin at the bottom left): `[x1, y1, x2, y2]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignatureZone {
    pub page: usize,
    pub rect: [f32; 4],
}

/// [`letter_pdf`] with `doc.signature_zone` set, and where the zone landed.
pub fn letter_pdf_with_zone(
    doc: &LetterDocument,
) -> Result<(Vec<u8>, Option<SignatureZone>), RenderError> {
    let doc = LetterDocument {
        signature_zone: true,
        ..doc.clone()
    };
    let (pdf, placed) = engine::render_pdf_locating(
        &TEMPLATE,
        data(&doc)?,
        assets(&doc),
        doc.generated_at.fixed_offset(),
        true,
        "signature-zone",
    )?;
    let zone = placed.map(|p| {
        // Symmetric horizontal margins: the zone spans the text width.
        let x2 = p.page_width - p.x;
        let top = p.page_height - p.y;
        SignatureZone {
            page: p.page,
            rect: [
                p.x as f32,
                (top - ZONE_HEIGHT_PT) as f32,
                x2 as f32,
                top as f32,
            ],
        }
    });
    Ok((pdf, zone))
}

/// The laid-out pages and typst's warnings (tests check there are none).
#[cfg(test)]
pub(crate) fn layout(
    doc: &LetterDocument,
) -> Result<(typst_layout::PagedDocument, Vec<String>), RenderError> {
    engine::layout(&TEMPLATE, data(doc)?, assets(doc))
}

fn assets(doc: &LetterDocument) -> Vec<Asset> {
    doc.logo
        .iter()
        .map(|logo| Asset {
            path: logo.format.path().to_owned(),
            bytes: logo.bytes.clone(),
        })
        .collect()
}

/// The JSON the template reads as `data`.
fn data(doc: &LetterDocument) -> Result<Vec<u8>, RenderError> {
    Ok(serde_json::to_vec(&payload(doc))?)
}

fn payload(doc: &LetterDocument) -> Payload<'_> {
    let subject = present(Some(&doc.subject));
    let title = present(doc.title.as_ref());
    let document_title = match title.or(subject) {
        Some(main) => format!("{main} – {}", doc.commune_name),
        None => doc.commune_name.clone(),
    };
    Payload {
        document_title,
        commune_name: &doc.commune_name,
        letterhead: &doc.letterhead,
        logo: doc.logo.as_ref().map(|logo| logo.format.path()),
        place_and_date: &doc.place_and_date,
        recipient: &doc.recipient,
        reference: present(doc.reference.as_ref()),
        subject,
        title,
        opening: present(doc.opening.as_ref()),
        sections: &doc.sections,
        closing: present(doc.closing.as_ref()),
        signature: &doc.signature,
        footer: present(doc.footer.as_ref()),
        signature_zone: doc.signature_zone,
    }
}

/// The text, unless it is missing or blank.
fn present(text: Option<&String>) -> Option<&str> {
    text.map(String::as_str).filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use chrono::TimeZone;
    use serde_json::{Value, json};
    use typst::layout::{Frame, FrameItem, Point};

    use super::*;

    const SVG: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="navy"/></svg>"#;

    /// A 4 × 2 RGB PNG.
    const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x04\x00\x00\x00\x02\x08\x02\x00\x00\x00\xf0\xca\xea\x34\x00\x00\x00\x10\x49\x44\x41\x54\x78\xda\x63\x90\xf5\xeb\x84\x23\x06\x64\x0e\x00\x5f\xda\x07\xa1\x17\x50\x46\xc4\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

    /// An 8 × 8 grey baseline JPEG (one DC coefficient, one-code Huffman tables).
    const JPEG: &[u8] = b"\xff\xd8\xff\xdb\x00\x43\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\xff\xc0\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00\xff\xc4\x00\x14\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xc4\x00\x14\x10\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x3f\xff\xd9";

    fn letter() -> LetterDocument {
        LetterDocument {
            commune_name: "Commune de Montbazon".into(),
            letterhead: vec![
                "Place du 11 Novembre, 37250 Montbazon".into(),
                "02 47 34 00 00".into(),
            ],
            logo: None,
            place_and_date: "Montbazon, le 3 février 2026".into(),
            recipient: vec!["Mme Jeanne Dupont".into(), "12 rue des Lilas".into()],
            reference: Some("Réf. : 2026-A-000042".into()),
            subject: "Objet : demande de permis de construire".into(),
            title: Some("Accusé de réception".into()),
            opening: Some("Madame,".into()),
            sections: vec![LetterSection {
                heading: Some("Pièces manquantes".into()),
                paragraphs: vec!["Il manque :".into()],
                list: vec!["le plan de masse".into(), "le plan de coupe".into()],
            }],
            closing: Some("Veuillez agréer, Madame, mes salutations distinguées.".into()),
            signature: vec!["Pour le maire,".into(), "Le service Urbanisme".into()],
            footer: Some("Code des relations entre le public et l'administration".into()),
            generated_at: Utc.with_ymd_and_hms(2026, 2, 3, 9, 30, 0).unwrap(),
            signature_zone: false,
        }
    }

    fn json_of(doc: &LetterDocument) -> Value {
        serde_json::from_slice(&data(doc).unwrap()).unwrap()
    }

    /// The text runs of each page, whitespace collapsed.
    fn page_texts(doc: &LetterDocument) -> Vec<String> {
        fn walk(frame: &Frame, out: &mut Vec<String>) {
            for (_, item) in frame.items() {
                match item {
                    FrameItem::Group(group) => walk(&group.frame, out),
                    FrameItem::Text(text) => out.push(text.text.to_string()),
                    _ => {}
                }
            }
        }
        let (document, warnings) = layout(doc).unwrap();
        assert!(warnings.is_empty(), "typst warnings: {warnings:?}");
        document
            .pages()
            .iter()
            .map(|page| {
                let mut runs = Vec::new();
                walk(&page.frame, &mut runs);
                runs.join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn has_image(frame: &Frame) -> bool {
        frame.items().any(|(_, item)| match item {
            FrameItem::Image(..) => true,
            FrameItem::Group(group) => has_image(&group.frame),
            _ => false,
        })
    }

    #[test]
    fn data_maps_every_field() {
        let value = json_of(&letter());
        assert_eq!(
            value,
            json!({
                "document_title": "Accusé de réception – Commune de Montbazon",
                "commune_name": "Commune de Montbazon",
                "letterhead": ["Place du 11 Novembre, 37250 Montbazon", "02 47 34 00 00"],
                "logo": null,
                "place_and_date": "Montbazon, le 3 février 2026",
                "recipient": ["Mme Jeanne Dupont", "12 rue des Lilas"],
                "reference": "Réf. : 2026-A-000042",
                "subject": "Objet : demande de permis de construire",
                "title": "Accusé de réception",
                "opening": "Madame,",
                "sections": [{
                    "heading": "Pièces manquantes",
                    "paragraphs": ["Il manque :"],
                    "list": ["le plan de masse", "le plan de coupe"],
                }],
                "closing": "Veuillez agréer, Madame, mes salutations distinguées.",
                "signature": ["Pour le maire,", "Le service Urbanisme"],
                "footer": "Code des relations entre le public et l'administration",
                "signature_zone": false,
            })
        );
    }

    #[test]
    fn blank_optional_parts_are_null_and_the_title_falls_back() {
        let mut doc = letter();
        doc.title = Some("  ".into());
        doc.reference = Some(String::new());
        doc.opening = None;
        doc.closing = Some("\n".into());
        doc.footer = None;
        let value = json_of(&doc);
        for key in ["title", "reference", "opening", "closing", "footer", "logo"] {
            assert_eq!(value[key], Value::Null, "{key}");
        }
        assert_eq!(
            value["document_title"],
            "Objet : demande de permis de construire – Commune de Montbazon"
        );
        doc.subject = String::new();
        let value = json_of(&doc);
        assert_eq!(value["subject"], Value::Null);
        assert_eq!(value["document_title"], "Commune de Montbazon");
    }

    #[test]
    fn each_logo_format_has_its_own_virtual_file() {
        for (format, path) in [
            (LogoFormat::Png, "/logo.png"),
            (LogoFormat::Jpeg, "/logo.jpg"),
            (LogoFormat::Svg, "/logo.svg"),
        ] {
            let mut doc = letter();
            doc.logo = Some(Logo {
                bytes: vec![1, 2, 3],
                format,
            });
            assert_eq!(json_of(&doc)["logo"], path);
            assert_eq!(
                assets(&doc),
                vec![Asset {
                    path: path.into(),
                    bytes: vec![1, 2, 3],
                }]
            );
        }
        assert!(assets(&letter()).is_empty());
    }

    #[test]
    fn logo_debug_does_not_dump_the_bytes() {
        let logo = Logo {
            bytes: vec![0; 5000],
            format: LogoFormat::Png,
        };
        assert_eq!(
            format!("{logo:?}"),
            "Logo { format: Png, bytes: 5000 bytes }"
        );
    }

    #[test]
    fn every_part_is_laid_out_in_reading_order() {
        let texts = page_texts(&letter());
        assert_eq!(texts.len(), 1, "{texts:?}");
        let text = &texts[0];
        let mut from = 0;
        for expected in [
            "Commune de Montbazon",
            "Place du 11 Novembre, 37250 Montbazon",
            "02 47 34 00 00",
            "Mme Jeanne Dupont",
            "12 rue des Lilas",
            "Montbazon, le 3 février 2026",
            "Réf. : 2026-A-000042",
            "Objet : demande de permis de construire",
            "Accusé de réception",
            "Madame,",
            "Pièces manquantes",
            "Il manque :",
            "le plan de masse",
            "le plan de coupe",
            "Veuillez agréer, Madame, mes salutations distinguées.",
            "Pour le maire,",
            "Le service Urbanisme",
            "Code des relations entre le public et l'administration",
        ] {
            let at = text[from..]
                .find(expected)
                .unwrap_or_else(|| panic!("{expected:?} missing or out of order in {text:?}"));
            from += at + expected.len();
        }
        assert!(!text.contains("Page"), "no page number on one page: {text}");
    }

    /// Where the text run starting with `needle` is on the first page: its left end
    /// and its baseline, in mm from the top left corner.
    fn position_of(doc: &LetterDocument, needle: &str) -> (f64, f64) {
        fn find(frame: &Frame, origin: Point, needle: &str) -> Option<Point> {
            frame.items().find_map(|(pos, item)| match item {
                FrameItem::Group(group) => find(&group.frame, origin + *pos, needle),
                FrameItem::Text(text) if text.text.starts_with(needle) => Some(origin + *pos),
                _ => None,
            })
        }
        let (document, _) = layout(doc).unwrap();
        let at = find(&document.pages()[0].frame, Point::zero(), needle)
            .unwrap_or_else(|| panic!("{needle:?} not laid out"));
        (at.x.to_mm(), at.y.to_mm())
    }

    #[test]
    fn the_address_is_at_the_window_and_the_signature_on_the_right() {
        let doc = letter();
        let (x, y) = position_of(&doc, "Mme");
        assert!((109.5..=110.5).contains(&x), "address {x} mm from the left");
        assert!(
            (45.0..=50.0).contains(&y),
            "address baseline {y} mm from the top"
        );
        let (x, _) = position_of(&doc, "Pour");
        assert!(
            (109.5..=110.5).contains(&x),
            "signature {x} mm from the left"
        );
        let (x, _) = position_of(&doc, "Commune");
        assert!((19.5..=20.5).contains(&x), "commune {x} mm from the left");
    }

    #[test]
    fn a_minimal_letter_lays_out() {
        let doc = LetterDocument {
            commune_name: "Lagrasse".into(),
            subject: "Objet : essai".into(),
            ..LetterDocument::default()
        };
        let texts = page_texts(&doc);
        assert_eq!(texts, vec!["Lagrasse Objet : essai".to_owned()]);
    }

    #[test]
    fn logos_of_every_format_are_drawn() {
        for (bytes, format) in [
            (SVG, LogoFormat::Svg),
            (PNG, LogoFormat::Png),
            (JPEG, LogoFormat::Jpeg),
        ] {
            let mut doc = letter();
            doc.logo = Some(Logo {
                bytes: bytes.to_vec(),
                format,
            });
            let (document, warnings) = layout(&doc).unwrap();
            assert!(warnings.is_empty(), "{format:?}: {warnings:?}");
            assert!(has_image(&document.pages()[0].frame), "{format:?}");
            let pdf = letter_pdf(&doc).unwrap();
            assert!(pdf.starts_with(b"%PDF-"), "{format:?}");
        }
        let (document, _) = layout(&letter()).unwrap();
        assert!(!has_image(&document.pages()[0].frame));
    }

    #[test]
    fn a_logo_that_is_not_an_image_is_a_layout_error() {
        let mut doc = letter();
        doc.logo = Some(Logo {
            bytes: b"not a png".to_vec(),
            format: LogoFormat::Png,
        });
        let err = letter_pdf(&doc).unwrap_err();
        assert!(matches!(err, RenderError::Layout(_)), "{err:?}");
    }

    #[test]
    fn a_wide_logo_is_scaled_into_its_box() {
        let wide = br#"<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="10"><rect width="1000" height="10"/></svg>"#;
        let mut doc = letter();
        doc.logo = Some(Logo {
            bytes: wide.to_vec(),
            format: LogoFormat::Svg,
        });
        let (document, warnings) = layout(&doc).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        fn widest_image(frame: &Frame) -> f64 {
            frame
                .items()
                .map(|(_, item)| match item {
                    FrameItem::Image(_, size, _) => size.x.to_mm(),
                    FrameItem::Group(group) => widest_image(&group.frame),
                    _ => 0.0,
                })
                .fold(0.0, f64::max)
        }
        let width = widest_image(&document.pages()[0].frame);
        assert!((59.0..=60.5).contains(&width), "logo {width} mm wide");
    }
}
