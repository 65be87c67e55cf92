//! Tests on the laid-out pages (text read from typst's frames, no PDF reader needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, FixedOffset};
use typst::layout::{Frame, FrameItem};
use typst_layout::PagedDocument;

use crate::engine::{self, Asset, Template, template_source};
use crate::register::{self, count_label};
use crate::{RegisterDocument, RegisterRow, RenderError};

fn generated_at() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-28T20:45:00+01:00").unwrap()
}

pub(crate) fn row(n: usize) -> RegisterRow {
    RegisterRow {
        number: format!("2026-A-{n:06}"),
        received_on: "03/02/2026".into(),
        direction: "Arrivée".into(),
        channel: "Courrier postal".into(),
        correspondent: format!("Mme Dupont {n}"),
        subject: format!("Demande de permis de construire n° {n}"),
        service: "Urbanisme".into(),
        status: "En cours".into(),
        due_on: "17/03/2026".into(),
    }
}

fn doc(rows: Vec<RegisterRow>) -> RegisterDocument {
    RegisterDocument {
        commune_name: "Saint-Martin-de-Ré".into(),
        insee: "17369".into(),
        period: "du 1er janvier 2026 au 31 décembre 2026".into(),
        generated_at: generated_at(),
        filters: vec![],
        rows,
    }
}

/// Each page's text runs, in layout order, joined by a space, whitespace collapsed (a
/// wrapped line reads as one).
fn page_texts(document: &PagedDocument) -> Vec<String> {
    fn walk(frame: &Frame, out: &mut Vec<String>) {
        for (_, item) in frame.items() {
            match item {
                FrameItem::Group(group) => walk(&group.frame, out),
                FrameItem::Text(text) => out.push(text.text.to_string()),
                _ => {}
            }
        }
    }
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

fn layout(doc: &RegisterDocument) -> (PagedDocument, Vec<String>) {
    let (document, warnings) = register::layout(doc).unwrap();
    assert!(warnings.is_empty(), "typst warnings: {warnings:?}");
    let texts = page_texts(&document);
    (document, texts)
}

#[test]
fn count_labels_are_french() {
    assert_eq!(count_label(0), "0 enregistrement");
    assert_eq!(count_label(1), "1 enregistrement");
    assert_eq!(count_label(2), "2 enregistrements");
    assert_eq!(count_label(999), "999 enregistrements");
    assert_eq!(count_label(5000), "5\u{202F}000 enregistrements");
    assert_eq!(
        count_label(1_234_567),
        "1\u{202F}234\u{202F}567 enregistrements"
    );
}

#[test]
fn title_block_and_rows_are_printed() {
    let mut d = doc((1..=3).map(row).collect());
    d.filters = vec!["Service : Urbanisme".into(), "Sens : Arrivée".into()];
    let (document, texts) = layout(&d);
    assert_eq!(document.pages().len(), 1);
    let text = &texts[0];
    for expected in [
        "Saint-Martin-de-Ré",
        "INSEE 17369",
        "Registre chronologique du courrier",
        "Période : du 1er janvier 2026 au 31 décembre 2026",
        "Édité le 28/11/2026 à 20:45",
        "Filtres appliqués : Service : Urbanisme ; Sens : Arrivée",
        "2026-A-000001",
        "2026-A-000003",
        "Demande de permis de construire n° 2",
        "Mme Dupont 3",
        "17/03/2026",
        "3 enregistrements",
        "Page 1 / 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    assert!(!text.contains("Aucun courrier"));
}

#[test]
fn no_filter_says_the_register_is_complete() {
    let (_, texts) = layout(&doc(vec![row(1)]));
    assert!(texts[0].contains("Registre complet de la période (aucun filtre)."));
    assert!(texts[0].contains("1 enregistrement"));
}

#[test]
fn empty_register_says_so() {
    let (document, texts) = layout(&doc(vec![]));
    assert_eq!(document.pages().len(), 1);
    assert!(texts[0].contains("Aucun courrier enregistré sur la période."));
    assert!(
        !texts[0].contains("N° d’ordre"),
        "no table header when empty"
    );
    assert!(!texts[0].contains("enregistrement"));
}

#[test]
fn header_and_page_numbers_repeat_on_every_page() {
    let (document, texts) = layout(&doc((1..=200).map(row).collect()));
    let pages = document.pages().len();
    assert!(pages >= 4, "200 rows on {pages} pages");
    for (i, text) in texts.iter().enumerate() {
        assert!(
            text.contains("N° d’ordre"),
            "no table header on page {}",
            i + 1
        );
        assert!(
            text.contains("Échéance"),
            "no table header on page {}",
            i + 1
        );
        let footer = format!("Page {} / {pages}", i + 1);
        assert!(
            text.contains(&footer),
            "{footer:?} missing on page {}",
            i + 1
        );
    }
    // Every row once, in order, and the count on the last page only.
    let all = texts.join("\n");
    let mut from = 0;
    for n in 1..=200 {
        let number = format!("2026-A-{n:06}");
        let at = all[from..].find(&number).expect(&number);
        from += at + number.len();
    }
    assert!(texts[pages - 1].contains("200 enregistrements"));
    assert!(!texts[0].contains("200 enregistrements"));
}

#[test]
fn markup_characters_are_printed_literally() {
    let mut r = row(1);
    r.subject = r"#set page(fill: red) *gras* _it_ $x^2$ <lbl> @ref \n [crochets] ]".into();
    r.correspondent = "Dupont & Fils `code` // non ~ commentaire".into();
    r.service = "= Titre".into();
    r.status = "#panic(\"x\")".into();
    let mut d = doc(vec![r]);
    d.commune_name = "*Bourg* #sym.arrow".into();
    d.filters = vec!["Objet : #import \"x\"".into()];
    let (_, texts) = layout(&d);
    let text = &texts[0];
    for expected in [
        r"#set page(fill: red) *gras* _it_ $x^2$ <lbl> @ref \n [crochets] ]",
        "Dupont & Fils `code` // non ~ commentaire",
        "= Titre",
        "#panic(\"x\")",
        "*Bourg* #sym.arrow",
        "Filtres appliqués : Objet : #import \"x\"",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
}

#[test]
fn long_text_wraps_inside_its_cell() {
    let mut r = row(1);
    r.subject = "Très long objet ".repeat(40);
    let (document, texts) = layout(&doc(vec![r, row(2)]));
    assert_eq!(document.pages().len(), 1);
    assert!(texts[0].contains("2026-A-000002"));
}

#[test]
fn pdf_is_pdf_a_2b_and_dated() {
    let pdf = crate::register_pdf(&doc(vec![row(1)])).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("<pdfaid:part>2</pdfaid:part>"),
        "no PDF/A part"
    );
    assert!(text.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
    assert!(
        text.contains("2026-11-28T20:45:00+01:00"),
        "no creation date"
    );
}

static LOGO_TEMPLATE: Template = Template::new(|| {
    template_source(
        "/test-logo.typ",
        "#set page(width: 5cm, height: 3cm)\n#let d = json(sys.inputs.data)\n#image(\"/logo.svg\", width: 1cm)\n#d.name",
    )
});

const SVG: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="blue"/></svg>"#;

#[test]
fn assets_are_virtual_files() {
    let assets = vec![Asset {
        path: "/logo.svg".into(),
        bytes: SVG.to_vec(),
    }];
    let (document, warnings) =
        engine::layout(&LOGO_TEMPLATE, br#"{"name":"Mairie"}"#.to_vec(), assets).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    fn has_image(frame: &Frame) -> bool {
        frame.items().any(|(_, item)| match item {
            FrameItem::Image(..) => true,
            FrameItem::Group(group) => has_image(&group.frame),
            _ => false,
        })
    }
    assert!(has_image(&document.pages()[0].frame));
    assert!(page_texts(&document)[0].contains("Mairie"));
    let pdf = engine::pdf(&document, generated_at(), true).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn a_missing_file_is_a_located_layout_error() {
    let err = engine::layout(&LOGO_TEMPLATE, br#"{"name":"x"}"#.to_vec(), vec![]).unwrap_err();
    let RenderError::Layout(message) = &err else {
        panic!("unexpected error {err:?}");
    };
    assert!(message.starts_with("/test-logo.typ:3:"), "{message}");
    assert!(message.contains("logo.svg"), "{message}");
    assert!(
        err.to_string()
            .starts_with("mise en page du document impossible")
    );
}

#[test]
fn bad_data_is_a_layout_error_not_a_panic() {
    let err = engine::layout(&LOGO_TEMPLATE, b"{not json".to_vec(), vec![]).unwrap_err();
    assert!(matches!(err, RenderError::Layout(_)), "{err:?}");
}

#[test]
fn an_invalid_asset_path_is_refused() {
    let assets = vec![Asset {
        path: "../../etc/passwd".into(),
        bytes: vec![],
    }];
    let err = engine::layout(&LOGO_TEMPLATE, br#"{"name":"x"}"#.to_vec(), assets).unwrap_err();
    let RenderError::Asset { path, .. } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(path, "../../etc/passwd");
}

#[test]
fn renders_on_several_threads() {
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let pdf = crate::register_pdf(&doc((1..=20 + t).map(row).collect())).unwrap();
                assert!(pdf.starts_with(b"%PDF-"));
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}
