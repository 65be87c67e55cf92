//! A received image laid out as a PDF/A-2b document for the archives, read back with lopdf.

use chrono::{TimeZone, Utc};
use lopdf::{Document, Object};
use parapheur_render::{ImageDocument, ImageFormat, Job, RenderError, image_pdf};

/// A 4×2 red RGB PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x04\x00\x00\x00\x02\x08\x02\x00\x00\x00\xf0\xca\xea\x34\x00\x00\x00\x10IDAT\x78\xda\x63\x38\x21\x27\x07\x47\x0c\xc8\x1c\x00\x6f\x0a\x08\x21\xee\xa4\x7d\xf9\x00\x00\x00\x00IEND\xae\x42\x60\x82";

fn document(bytes: &[u8], format: ImageFormat) -> ImageDocument {
    ImageDocument {
        title: "scan-mairie.png".into(),
        bytes: bytes.to_vec(),
        format,
        generated_at: Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap(),
    }
}

#[test]
fn an_image_becomes_one_pdf_a_page_as_wide_as_a_sheet_and_as_high_as_its_proportions() {
    let pdf = image_pdf(&document(PNG, ImageFormat::Png)).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("<pdfaid:part>2</pdfaid:part>"), "not PDF/A-2");
    assert!(text.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
    assert!(
        text.contains("scan-mairie.png"),
        "the title is the file's name"
    );
    let media = crate::single_page_media_box(&pdf);
    let doc = Document::load_mem(&pdf).unwrap();
    // 210 mm wide, and half as high as wide, like the image.
    assert!((media[2] - 595.27).abs() < 0.1, "{media:?}");
    assert!((media[3] - media[2] / 2.0).abs() < 0.1, "{media:?}");
    let images = doc
        .objects
        .values()
        .filter(|o| match o {
            Object::Stream(s) => s
                .dict
                .get(b"Subtype")
                .is_ok_and(|t| t.as_name().is_ok_and(|n| n == b"Image")),
            _ => false,
        })
        .count();
    assert!(images >= 1, "the image is embedded");
}

#[test]
fn bytes_that_are_not_the_image_they_claim_are_refused() {
    let err = image_pdf(&document(b"pas une image", ImageFormat::Jpeg)).unwrap_err();
    assert!(matches!(err, RenderError::Layout(_)), "{err}");
    assert_eq!(ImageFormat::from_media_type("image/tiff"), None);
    assert_eq!(
        ImageFormat::from_media_type("image/png"),
        Some(ImageFormat::Png)
    );
    // The same job travels to the layout child as JSON.
    let job = Job::Image(document(PNG, ImageFormat::Png));
    let back: Job = serde_json::from_slice(&serde_json::to_vec(&job).unwrap()).unwrap();
    assert!(matches!(&back, Job::Image(d) if d.bytes == PNG));
    assert!(back.run().unwrap().pdf.starts_with(b"%PDF-"));
}
