//! The register as a PDF file, read back with lopdf and (when installed) poppler's
//! pdftotext.

use std::io::Write as _;
use std::process::{Command, Stdio};

use chrono::DateTime;
use lopdf::{Document, Object};
use parapheur_render::{RegisterDocument, RegisterRow, register_pdf};

fn row(n: usize) -> RegisterRow {
    RegisterRow {
        number: format!("2026-A-{n:06}"),
        received_on: "03/02/2026".into(),
        direction: if n.is_multiple_of(2) {
            "Départ"
        } else {
            "Arrivée"
        }
        .into(),
        channel: "Courriel".into(),
        correspondent: format!("Association des parents d'élèves {n}"),
        subject: format!("Demande de subvention pour la kermesse {n}"),
        service: "Enfance".into(),
        status: "À traiter".into(),
        due_on: String::new(),
    }
}

fn register(rows: Vec<RegisterRow>) -> RegisterDocument {
    RegisterDocument {
        commune_name: "Lagrasse".into(),
        insee: "11185".into(),
        period: "du 1er janvier 2026 au 31 décembre 2026".into(),
        generated_at: DateTime::parse_from_rfc3339("2026-11-28T20:45:00+01:00").unwrap(),
        filters: vec![],
        rows,
    }
}

fn pages(pdf: &[u8]) -> usize {
    Document::load_mem(pdf).unwrap().get_pages().len()
}

/// The decoded XMP packet the catalog points to.
fn xmp(pdf: &[u8]) -> String {
    let document = Document::load_mem(pdf).unwrap();
    let catalog = document.catalog().unwrap();
    let reference = catalog.get(b"Metadata").unwrap().as_reference().unwrap();
    let Object::Stream(stream) = document.get_object(reference).unwrap() else {
        panic!("/Metadata is not a stream");
    };
    let bytes = stream
        .decompressed_content()
        .unwrap_or_else(|_| stream.content.clone());
    String::from_utf8(bytes).unwrap()
}

/// The text poppler reads from the file, or None (with a loud note) without pdftotext.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let Ok(mut child) = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "!!! pdftotext not found (apt-get install poppler-utils): text extraction from the PDF NOT checked"
        );
        return None;
    };
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "pdftotext failed");
    Some(String::from_utf8(output.stdout).unwrap())
}

#[test]
fn starts_with_pdf_header_and_declares_pdf_a_2b() {
    let pdf = register_pdf(&register(vec![row(1)])).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let xmp = xmp(&pdf);
    assert!(xmp.contains("<pdfaid:part>2</pdfaid:part>"), "{xmp}");
    assert!(
        xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "{xmp}"
    );
    assert!(
        xmp.contains("2026-11-28T20:45:00+01:00"),
        "creation date: {xmp}"
    );
    assert!(
        xmp.contains("Registre chronologique du courrier"),
        "title: {xmp}"
    );
    // PDF/A-2b also needs an output intent and embedded fonts.
    let document = Document::load_mem(&pdf).unwrap();
    assert!(document.catalog().unwrap().get(b"OutputIntents").is_ok());
}

#[test]
fn page_count_grows_with_rows() {
    let one = pages(&register_pdf(&register(vec![row(1)])).unwrap());
    let hundred = pages(&register_pdf(&register((1..=100).map(row).collect())).unwrap());
    let thousand = pages(&register_pdf(&register((1..=1000).map(row).collect())).unwrap());
    assert_eq!(one, 1);
    assert!(hundred > one, "{hundred} pages for 100 rows");
    assert!(
        thousand > 5 * hundred,
        "{thousand} pages for 1000 rows vs {hundred} for 100"
    );
}

#[test]
fn empty_register_is_one_page_with_the_sentence() {
    let pdf = register_pdf(&register(vec![])).unwrap();
    assert_eq!(pages(&pdf), 1);
    if let Some(text) = pdftotext(&pdf) {
        assert!(
            text.contains("Aucun courrier enregistré sur la période."),
            "{text}"
        );
        assert!(text.contains("Page 1 / 1"), "{text}");
    }
}

#[test]
fn markup_characters_survive_in_the_pdf_text() {
    let mut tricky = row(7);
    tricky.subject = r"Facture #42 *urgent* _bis_ $100 <b> @maire \\ [x]".into();
    tricky.correspondent = "O'Brien & \"Fils\"".into();
    let pdf = register_pdf(&register(vec![row(6), tricky, row(8)])).unwrap();
    let Some(text) = pdftotext(&pdf) else { return };
    assert!(
        text.contains(r"Facture #42 *urgent* _bis_ $100 <b> @maire \\ [x]"),
        "{text}"
    );
    assert!(text.contains("O'Brien & \"Fils\""), "{text}");
    assert!(text.contains("2026-A-000008"), "{text}");
    assert!(text.contains("3 enregistrements"), "{text}");
}

#[test]
fn every_page_has_the_header_and_its_number() {
    let pdf = register_pdf(&register((1..=150).map(row).collect())).unwrap();
    let count = pages(&pdf);
    assert!(count > 1);
    let Some(text) = pdftotext(&pdf) else { return };
    let per_page: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(per_page.len(), count);
    for (i, page) in per_page.iter().enumerate() {
        assert!(
            page.contains("Correspondant"),
            "no header on page {}",
            i + 1
        );
        assert!(
            page.contains(&format!("Page {} / {count}", i + 1)),
            "no page number on page {}",
            i + 1
        );
    }
    assert!(per_page[count - 1].contains("150 enregistrements"));
}
