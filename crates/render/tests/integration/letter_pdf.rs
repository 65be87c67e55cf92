//! The official letter as a PDF file, read back with lopdf and (when installed)
//! poppler's pdftotext.

use std::io::Write as _;
use std::process::{Command, Stdio};

use chrono::{TimeZone, Utc};
use lopdf::{Document, Object};
use parapheur_render::{LetterDocument, LetterSection, letter_pdf, letters_pdf};

const RECEIVED: &str = "Votre demande de permis de construire pour l'extension d'une maison individuelle située 12 rue des Lilas a été reçue en mairie le 3 février 2026. Elle est enregistrée sous le numéro 2026-A-000042, à rappeler dans toute correspondance.";
const DEEMED: &str = "Sauf décision contraire qui vous serait notifiée d'ici là, et sous réserve que les pièces manquantes nous parviennent dans le délai indiqué, votre demande sera réputée acceptée le 3 avril 2026.";
const MISSING: &str = "Votre dossier est incomplet. Merci de nous adresser les pièces suivantes dans un délai de trois mois ; le délai d'instruction ne court qu'à compter de leur réception :";
const PIECE_1: &str = "le plan de masse des constructions à édifier ou à modifier (PCMI 2) ;";
const PIECE_2: &str = "la notice décrivant le terrain et présentant le projet (PCMI 4).";
const SERVICE: [&str; 4] = [
    "Service Urbanisme – Mairie de Montbazon",
    "1 place du Marché, 37250 Montbazon",
    "urbanisme@montbazon.fr",
    "02 47 26 01 30",
];
const APPEAL: &str = "Si votre demande fait l'objet d'une décision de refus, vous pourrez former un recours gracieux auprès du maire ou un recours contentieux devant le tribunal administratif d'Orléans dans un délai de deux mois à compter de sa notification.";
const CLOSING: &str =
    "Nous vous prions d'agréer, Madame, l'expression de nos salutations distinguées.";
const FOOTER: &str = "Accusé de réception délivré en application des articles L. 112-3 et R. 112-5 du code des relations entre le public et l'administration.";

fn section(heading: Option<&str>, paragraphs: &[&str], list: &[&str]) -> LetterSection {
    LetterSection {
        heading: heading.map(str::to_owned),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        list: list.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// A realistic acknowledgement of receipt (articles L. 112-3 and R. 112-5 of the CRPA).
fn accuse_de_reception() -> LetterDocument {
    LetterDocument {
        commune_name: "Commune de Montbazon".into(),
        letterhead: vec![
            "1 place du Marché – 37250 Montbazon".into(),
            "Tél. 02 47 26 01 30".into(),
            "mairie@montbazon.fr".into(),
            "www.montbazon.fr".into(),
        ],
        logo: None,
        place_and_date: "Montbazon, le 3 février 2026".into(),
        recipient: vec![
            "Madame Jeanne Dupont".into(),
            "12 rue des Lilas".into(),
            "37250 Montbazon".into(),
        ],
        reference: Some("Réf. : 2026-A-000042".into()),
        subject: "Objet : demande de permis de construire – extension d'une maison individuelle"
            .into(),
        title: Some("Accusé de réception".into()),
        opening: Some("Madame,".into()),
        sections: vec![
            section(None, &[RECEIVED], &[]),
            section(Some("Délai d'instruction"), &[DEEMED], &[]),
            section(Some("Pièces manquantes"), &[MISSING], &[PIECE_1, PIECE_2]),
            section(
                Some("Service chargé de votre demande"),
                &[&SERVICE.join("\n")],
                &[],
            ),
            section(Some("Voies et délais de recours"), &[APPEAL], &[]),
        ],
        closing: Some(CLOSING.into()),
        signature: vec![
            "Pour le maire et par délégation,".into(),
            "Le service Urbanisme".into(),
        ],
        footer: Some(FOOTER.into()),
        generated_at: Utc.with_ymd_and_hms(2026, 2, 3, 9, 30, 0).unwrap(),
        signature_zone: false,
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

/// The text poppler reads from the file in its reading order (not `-layout`: the
/// letterhead and the address are side by side), or None (with a loud note) without
/// pdftotext. Pages are separated by form feeds.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let Ok(mut child) = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-", "-"])
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

/// Whitespace (line breaks of wrapped lines, no-break spaces) collapsed to one space.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that every `expected` text is in `text`, in this order.
fn assert_in_order(text: &str, expected: &[&str]) {
    let text = words(text);
    let mut from = 0;
    for part in expected {
        let part = words(part);
        let Some(at) = text[from..].find(&part) else {
            let anywhere = if text.contains(&part) {
                "out of order"
            } else {
                "missing"
            };
            panic!("{part:?} {anywhere} in {text:?}");
        };
        from += at + part.len();
    }
}

#[test]
fn acknowledgement_prints_every_mention_in_reading_order() {
    let pdf = letter_pdf(&accuse_de_reception()).unwrap();
    assert_eq!(pages(&pdf), 1);
    let Some(text) = pdftotext(&pdf) else { return };
    let mut expected = vec![
        "Commune de Montbazon",
        "1 place du Marché – 37250 Montbazon",
        "Tél. 02 47 26 01 30",
        "mairie@montbazon.fr",
        "www.montbazon.fr",
        "Madame Jeanne Dupont",
        "12 rue des Lilas",
        "37250 Montbazon",
        "Montbazon, le 3 février 2026",
        "Réf. : 2026-A-000042",
        "Objet : demande de permis de construire – extension d'une maison individuelle",
        "Accusé de réception",
        "Madame,",
        RECEIVED,
        "Délai d'instruction",
        DEEMED,
        "Pièces manquantes",
        MISSING,
        PIECE_1,
        PIECE_2,
        "Service chargé de votre demande",
    ];
    expected.extend(SERVICE);
    expected.extend([
        "Voies et délais de recours",
        APPEAL,
        CLOSING,
        "Pour le maire et par délégation,",
        "Le service Urbanisme",
        FOOTER,
    ]);
    assert_in_order(&text, &expected);
    for mention in [
        "reçue en mairie le 3 février 2026",
        "sera réputée acceptée le 3 avril 2026",
        "dans un délai de deux mois",
    ] {
        assert!(words(&text).contains(mention), "{mention:?} in {text}");
    }
    assert!(!text.contains("Page"), "one page has no number: {text}");
}

#[test]
fn markup_in_the_subject_and_the_address_is_printed_literally() {
    let hostile = r"#set page(width: 1cm) ] \ $x$ <script>alert(1)</script>";
    let mut letter = accuse_de_reception();
    letter.subject = format!("Objet : {hostile}");
    letter.recipient = vec![
        "#set page(width: 1cm)".into(),
        "M. Martin ] [ \\ $ <script>".into(),
        "37250 Montbazon".into(),
    ];
    let pdf = letter_pdf(&letter).unwrap();

    // Still one A4 page.
    let media_box = crate::single_page_media_box(&pdf);
    assert!((media_box[2] - 595.28).abs() < 0.5, "{media_box:?}");
    assert!((media_box[3] - 841.89).abs() < 0.5, "{media_box:?}");

    let Some(text) = pdftotext(&pdf) else { return };
    assert_in_order(
        &text,
        &[
            "#set page(width: 1cm)",
            r"M. Martin ] [ \ $ <script>",
            "37250 Montbazon",
            &format!("Objet : {hostile}"),
            "sera réputée acceptée le 3 avril 2026",
        ],
    );
}

#[test]
fn a_long_letter_has_numbered_pages_and_recalls_the_reference() {
    let mut letter = accuse_de_reception();
    letter.sections = vec![LetterSection {
        heading: Some("Observations".into()),
        paragraphs: (1..=60)
            .map(|n| {
                format!(
                    "Paragraphe {n}. Les observations du service sur votre projet sont détaillées ici, point par point, afin que vous puissiez compléter votre dossier."
                )
            })
            .collect(),
        list: vec![],
    }];
    let pdf = letter_pdf(&letter).unwrap();
    let count = pages(&pdf);
    assert!(count >= 2, "60 paragraphs on {count} page(s)");
    let Some(text) = pdftotext(&pdf) else { return };
    let per_page: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(per_page.len(), count);
    assert!(text.contains("Page 2 / "), "{text}");
    for (i, page) in per_page.iter().enumerate() {
        let number = format!("Page {} / {count}", i + 1);
        assert!(page.contains(&number), "{number:?} missing: {page}");
        assert!(words(page).contains(FOOTER), "no footer on page {}", i + 1);
        if i > 0 {
            assert!(page.contains("Commune de Montbazon"), "page {}", i + 1);
            assert!(page.contains("Réf. : 2026-A-000042"), "page {}", i + 1);
        }
    }
    let paragraphs: Vec<String> = (1..=60).map(|n| format!("Paragraphe {n}.")).collect();
    let mut expected: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
    expected.extend([CLOSING, "Le service Urbanisme"]);
    assert_in_order(&text, &expected);
    assert!(per_page[count - 1].contains("Le service Urbanisme"));
}

/// A batch to print at once: each letter starts on its own page, with its own page
/// numbers, header and recipient; a one-page letter after a long one has no number.
#[test]
fn a_batch_prints_each_letter_on_its_own_pages() {
    let mut long = accuse_de_reception();
    long.sections = vec![section(
        Some("Observations"),
        &(1..=60)
            .map(|_| "Les observations du service sur votre projet sont détaillées ici, point par point, afin que vous puissiez compléter votre dossier.")
            .collect::<Vec<_>>(),
        &[],
    )];
    let mut short = accuse_de_reception();
    short.recipient = vec!["Monsieur Paul Martin".into(), "3 rue du Lavoir".into()];
    short.reference = Some("Réf. : 2026-A-000043".into());
    let alone = pages(&letter_pdf(&long).unwrap());
    let pdf = letters_pdf(&[long, short.clone(), short]).unwrap();
    assert_eq!(pages(&pdf), alone + 2);
    assert!(letters_pdf(&[]).is_err());
    let Some(text) = pdftotext(&pdf) else { return };
    let per_page: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(per_page.len(), alone + 2);
    for (i, page) in per_page[..alone].iter().enumerate() {
        assert!(
            page.contains(&format!("Page {} / {alone}", i + 1)),
            "{page}"
        );
        assert!(!page.contains("Paul Martin"), "{page}");
    }
    for page in &per_page[alone..] {
        assert!(page.contains("Monsieur Paul Martin"), "{page}");
        assert!(page.contains("Réf. : 2026-A-000043"), "{page}");
        assert!(
            !page.contains("Page "),
            "a one-page letter is not numbered: {page}"
        );
        assert!(page.contains(CLOSING), "{page}");
    }
}

#[test]
fn pdf_is_pdf_a_2b_tagged_dated_with_embedded_fonts() {
    let pdf = letter_pdf(&accuse_de_reception()).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let xmp = xmp(&pdf);
    assert!(xmp.contains("<pdfaid:part>2</pdfaid:part>"), "{xmp}");
    assert!(
        xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "{xmp}"
    );
    assert!(xmp.contains("2026-02-03T09:30:00"), "creation date: {xmp}");
    assert!(
        xmp.contains("Accusé de réception – Commune de Montbazon"),
        "title: {xmp}"
    );
    let document = Document::load_mem(&pdf).unwrap();
    let catalog = document.catalog().unwrap();
    assert!(catalog.get(b"OutputIntents").is_ok());
    assert!(catalog.get(b"StructTreeRoot").is_ok(), "not tagged");
    let mut descriptors = 0;
    for object in document.objects.values() {
        let Ok(dict) = object.as_dict() else { continue };
        if dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"FontDescriptor") {
            descriptors += 1;
            assert!(
                [&b"FontFile"[..], b"FontFile2", b"FontFile3"]
                    .iter()
                    .any(|key| dict.has(key)),
                "font not embedded: {dict:?}"
            );
        }
    }
    assert!(descriptors > 0, "no font descriptor");
}

/// The zone left for signature stamps lies on the page of the signature block, inside the
/// page, below the signature block: on the one page of a short letter, on the last page
/// of a long one.
#[test]
fn the_signature_zone_follows_the_signature_block() {
    let short = accuse_de_reception();
    let (pdf, zone) = parapheur_render::letter_pdf_with_zone(&short).unwrap();
    let zone = zone.expect("a zone");
    assert_eq!(zone.page, pages(&pdf));
    let [x1, y1, x2, y2] = zone.rect;
    assert!(x1 > 0.0 && x2 < 595.5 && x1 < x2, "{:?}", zone.rect);
    assert!(y1 > 0.0 && y2 < 842.0 && y1 < y2, "{:?}", zone.rect);
    // 36 mm high.
    assert!(((y2 - y1) - 102.05).abs() < 0.5, "{:?}", zone.rect);

    let mut long = accuse_de_reception();
    long.sections = vec![section(None, &[RECEIVED; 40], &[])];
    let (pdf, zone) = parapheur_render::letter_pdf_with_zone(&long).unwrap();
    let zone = zone.expect("a zone");
    assert!(pages(&pdf) > 1);
    assert_eq!(zone.page, pages(&pdf), "the zone is on the last page");
    // Without asking, no zone and the same layout as before.
    assert!(!short.signature_zone);
}
