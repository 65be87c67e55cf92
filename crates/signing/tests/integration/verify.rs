//! verify_pdf on intact, tampered and extended documents.
use crate::common::*;
use lopdf::{Document, IncrementalDocument, Object, Stream};
use parapheur_signing::{sign_pdf, verify_pdf};

#[test]
fn intact_and_trusted() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(2), &p.person, &options("Jeanne Martin", false)).unwrap();
    let r = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
    assert_eq!(r.revisions, 2);
    let s = &r.signatures[0];
    assert_eq!(s.field_name, "Signature1");
    assert_eq!(s.signer, "Jeanne Martin");
    assert_eq!(
        s.signer_email.as_deref(),
        Some("jeanne.martin@saint-elie.example")
    );
    assert!(s.intact && s.trusted && s.covers_revision, "{s:#?}");
    assert!(
        s.changes_after.is_empty() && s.problems.is_empty(),
        "{s:#?}"
    );
    assert!(s.time.is_some());
    assert!(s.timestamp.is_none());
}

#[test]
fn untrusted_root() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", false)).unwrap();
    let other = parapheur_signing::pki::new_ca("Autre", "Ailleurs", chrono::Utc::now()).unwrap();
    let r = verify_pdf(&signed, &anchors(&other.chain_der()), now()).unwrap();
    assert!(r.signatures[0].intact);
    assert!(!r.signatures[0].trusted);
    assert!(r.signatures[0].problems.is_empty());
    assert!(!r.signatures[0].trust_problems.is_empty());
    assert!(!r.signatures[0].valid());
}

#[test]
fn flipped_byte_in_signed_range() {
    let p = pki();
    let pdf = make_pdf(2);
    let mut signed = sign_pdf(&pdf, &p.person, &options("Jeanne Martin", false)).unwrap();
    // Flip a byte inside a page's text (part of the signed range).
    let pos = signed.windows(8).position(|w| w == b"Courrier").unwrap();
    signed[pos] = b'K';
    let r = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(!s.intact, "{s:#?}");
    assert!(!s.problems.is_empty());
}

/// Appends an incremental update that replaces page 1's content.
fn append_page_change(signed: &[u8]) -> Vec<u8> {
    let doc = Document::load_mem(signed).unwrap();
    let page1 = *doc.get_pages().get(&1).unwrap();
    let mut inc = IncrementalDocument::create_from(signed.to_vec(), doc);
    inc.opt_clone_object_to_new_document(page1).unwrap();
    let cid = inc.new_document.add_object(Object::Stream(Stream::new(
        lopdf::Dictionary::new(),
        b"BT /F1 14 Tf 72 700 Td (Montant : 1 000 000 EUR) Tj ET".to_vec(),
    )));
    inc.new_document
        .get_dictionary_mut(page1)
        .unwrap()
        .set("Contents", Object::Reference(cid));
    let mut out = Vec::new();
    inc.save_to(&mut out).unwrap();
    out
}

#[test]
fn page_changed_after_signing() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(2), &p.person, &options("Jeanne Martin", false)).unwrap();
    let changed = append_page_change(&signed);
    let r = verify_pdf(&changed, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(s.intact, "the signed bytes are unchanged: {s:#?}");
    assert!(!s.changes_after.is_empty(), "{s:#?}");
    assert!(
        s.changes_after
            .iter()
            .any(|c| c.contains("contenu de la page 1 modifié")),
        "{:?}",
        s.changes_after
    );
    // Even a later signature does not hide the change.
    let resigned = sign_pdf(&changed, &p.person2, &options("Éric Durand", false)).unwrap();
    let r = verify_pdf(&resigned, &anchors(&[ca_der()]), now()).unwrap();
    assert!(
        r.signatures[0]
            .changes_after
            .iter()
            .any(|c| c.contains("page 1"))
    );
    assert!(r.signatures[1].changes_after.is_empty());
}

#[test]
fn garbage_appended_after_signing() {
    let p = pki();
    let mut signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", false)).unwrap();
    signed.extend_from_slice(b"\n% une ligne ajoutee\n");
    let r = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
    assert!(!r.signatures[0].changes_after.is_empty());
}

#[test]
fn second_signature_keeps_first_intact() {
    let p = pki();
    let once = sign_pdf(&make_pdf(2), &p.person, &options("Jeanne Martin", true)).unwrap();
    let twice = sign_pdf(&once, &p.seal, &options("Cachet", true)).unwrap();
    let r = verify_pdf(&twice, &anchors(&[ca_der()]), now()).unwrap();
    assert_eq!(r.signatures.len(), 2);
    assert_eq!(r.revisions, 3);
    let first = &r.signatures[0];
    assert!(
        first.intact && first.trusted && first.covers_revision,
        "{first:#?}"
    );
    assert!(!r.signatures[1].field_name.is_empty());
    assert!(first.changes_after.is_empty(), "{:?}", first.changes_after);
    assert_ne!(r.signatures[0].field_name, r.signatures[1].field_name);
}

#[test]
fn stamps_do_not_overlap() {
    let p = pki();
    let mut pdf = make_pdf(1);
    for i in 0..4 {
        pdf = sign_pdf(&pdf, &p.person, &options(&format!("Signataire {i}"), true)).unwrap();
    }
    let doc = Document::load_mem(&pdf).unwrap();
    let page = *doc.get_pages().get(&1).unwrap();
    let annots = doc
        .get_dictionary(page)
        .unwrap()
        .get(b"Annots")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let rects: Vec<Vec<f32>> = annots
        .iter()
        .map(|a| {
            let d = doc.get_dictionary(a.as_reference().unwrap()).unwrap();
            d.get(b"Rect")
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_float().unwrap())
                .collect()
        })
        .collect();
    for i in 0..rects.len() {
        for j in i + 1..rects.len() {
            let (a, b) = (&rects[i], &rects[j]);
            let overlap = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
            assert!(!overlap, "{a:?} overlaps {b:?}");
        }
    }
    let r = verify_pdf(&pdf, &anchors(&[ca_der()]), now()).unwrap();
    assert!(
        r.signatures
            .iter()
            .all(|s| s.intact && s.changes_after.is_empty())
    );
}

#[test]
fn stamp_with_png_and_jpeg_images() {
    let p = pki();
    // A small RGBA PNG.
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 40, 20);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        let data: Vec<u8> = (0..40 * 20)
            .flat_map(|i| [0, 0, 128, (i % 255) as u8])
            .collect();
        w.write_image_data(&data).unwrap();
    }
    let mut o = options("Jeanne Martin", true);
    o.stamp.as_mut().unwrap().image = Some(png_bytes);
    o.stamp.as_mut().unwrap().page = Some(1);
    let signed = sign_pdf(&make_pdf(2), &p.person, &o).unwrap();
    // A real JPEG, rendered by poppler's pdftoppm from a small PDF.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.pdf"), make_pdf(1)).unwrap();
    let ok = std::process::Command::new("pdftoppm")
        .args(["-jpeg", "-r", "10", "-singlefile", "in.pdf", "s"])
        .current_dir(dir.path())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "pdftoppm (poppler-utils) is needed to make a JPEG");
    let jpg = dir.path().join("s.jpg");
    let signed = {
        let mut o = options("Éric Durand", true);
        o.stamp.as_mut().unwrap().image = Some(std::fs::read(&jpg).unwrap());
        sign_pdf(&signed, &p.person2, &o).unwrap()
    };
    std::fs::write(out_dir().join("images.pdf"), &signed).unwrap();
    let r = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
    assert!(
        r.signatures
            .iter()
            .all(|s| s.intact && s.changes_after.is_empty()),
        "{r:#?}"
    );
    // The stamp text is readable with accents.
    let txt = std::process::Command::new("pdftotext")
        .arg(out_dir().join("images.pdf"))
        .arg("-")
        .output();
    if let Ok(t) = txt {
        let t = String::from_utf8_lossy(&t.stdout);
        if !t.is_empty() {
            assert!(t.contains("Signé par Jeanne Martin"), "{t}");
            assert!(t.contains("délégation"), "{t}");
        }
    }
    external_verify(&signed, None);
}

#[test]
fn field_name_must_be_unique() {
    let p = pki();
    let mut o = options("Jeanne Martin", false);
    o.field_name = Some("Visa".into());
    let once = sign_pdf(&make_pdf(1), &p.person, &o).unwrap();
    let e = sign_pdf(&once, &p.person, &o).unwrap_err();
    assert!(matches!(e, parapheur_signing::SignError::FieldExists(_)));
}

#[test]
fn form_field_filled_after_signing() {
    let p = pki();
    let signed = sign_pdf(
        &make_form_pdf(),
        &p.person,
        &options("Jeanne Martin", false),
    )
    .unwrap();
    let doc = Document::load_mem(&signed).unwrap();
    let field_id = doc
        .objects
        .iter()
        .find(|(_, o)| matches!(o, Object::Dictionary(d) if d.get(b"T").ok() == Some(&Object::String(b"objet".to_vec(), lopdf::StringFormat::Literal))))
        .map(|(id, _)| *id)
        .unwrap();
    let mut inc = IncrementalDocument::create_from(signed.clone(), doc);
    inc.opt_clone_object_to_new_document(field_id).unwrap();
    inc.new_document.get_dictionary_mut(field_id).unwrap().set(
        "V",
        Object::String(b"Autre objet".to_vec(), lopdf::StringFormat::Literal),
    );
    let mut changed = Vec::new();
    inc.save_to(&mut changed).unwrap();
    // Filling a form field is what an approval signature allows (as DocMDP P=2 does):
    // not a forbidden change, but the report says it.
    let r = verify_pdf(&changed, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(s.intact && s.valid(), "{s:#?}");
    assert!(
        s.allowed_changes
            .iter()
            .any(|c| c == "champ « objet » rempli : « Autre objet »"),
        "{:?}",
        s.allowed_changes
    );
}

/// Adds, in an incremental update, a signature field "Copie" on page 1 whose value is a
/// copy of the first signature's dictionary (same ByteRange, same /Contents).
fn append_copied_signature(signed: &[u8]) -> Vec<u8> {
    let doc = Document::load_mem(signed).unwrap();
    let page1 = *doc.get_pages().get(&1).unwrap();
    let (_, sig_field) = doc
        .objects
        .iter()
        .find(|(_, o)| matches!(o, Object::Dictionary(d) if d.get(b"FT").ok() == Some(&Object::Name(b"Sig".to_vec())) && d.has(b"V")))
        .unwrap();
    let v = match sig_field.as_dict().unwrap().get(b"V").unwrap() {
        Object::Reference(id) => doc.get_object(*id).unwrap().clone(),
        other => other.clone(),
    };
    let root_id = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let form_id = match doc.catalog().unwrap().get(b"AcroForm").unwrap() {
        Object::Reference(id) => *id,
        _ => root_id,
    };
    let mut inc = IncrementalDocument::create_from(signed.to_vec(), doc);
    let vid = inc.new_document.add_object(v);
    let mut field = lopdf::Dictionary::new();
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set(
        "T",
        Object::String(b"Copie".to_vec(), lopdf::StringFormat::Literal),
    );
    field.set("V", Object::Reference(vid));
    field.set("P", Object::Reference(page1));
    field.set(
        "Rect",
        Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]),
    );
    let fid = inc.new_document.add_object(Object::Dictionary(field));
    inc.opt_clone_object_to_new_document(form_id).unwrap();
    let mut form = inc.new_document.get_dictionary_mut(form_id).unwrap();
    if form_id == root_id {
        form = form.get_mut(b"AcroForm").unwrap().as_dict_mut().unwrap();
    }
    let mut fields = form.get(b"Fields").unwrap().as_array().unwrap().clone();
    fields.push(Object::Reference(fid));
    form.set("Fields", Object::Array(fields));
    let mut out = Vec::new();
    inc.save_to(&mut out).unwrap();
    out
}

/// Signature wrapping: a signature value copied into another field does not sign that
/// field's revision (the copy is invalid); the original signature stays valid since an
/// invisible signature field was all that was added.
#[test]
fn copied_signature_value_is_not_a_signature() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", false)).unwrap();
    let copied = append_copied_signature(&signed);
    let r = verify_pdf(&copied, &anchors(&[ca_der()]), now()).unwrap();
    assert_eq!(r.signatures.len(), 2, "{r:#?}");
    let copy = r
        .signatures
        .iter()
        .find(|s| s.field_name == "Copie")
        .unwrap();
    assert!(!copy.valid() && !copy.intact, "{copy:#?}");
    assert!(
        copy.problems
            .iter()
            .any(|p| p.contains("ne contient pas cette signature")),
        "{copy:#?}"
    );
    assert!(!r.valid());
}

/// ByteRange manipulation: a range that does not end at a revision boundary, and one
/// whose gap is not exactly the signature's /Contents, are refused.
#[test]
fn byte_range_must_exclude_exactly_the_contents() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", false)).unwrap();
    let at = signed
        .windows(10)
        .rposition(|w| w == b"/ByteRange")
        .unwrap();
    let open = at + signed[at..].iter().position(|c| *c == b'[').unwrap();
    let close = at + signed[at..].iter().position(|c| *c == b']').unwrap();
    let nums: Vec<usize> = std::str::from_utf8(&signed[open + 1..close])
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    // Same digits count, so that offsets do not move: shrink the first range by one byte
    // (the gap then starts one byte before '<').
    let rewrite = |a: usize, b: usize, c: usize, d: usize| {
        let mut s = format!("{a} {b} {c} {d}");
        let width = close - open - 1;
        assert!(s.len() <= width);
        while s.len() < width {
            s.push(' ');
        }
        let mut out = signed.clone();
        out[open + 1..close].copy_from_slice(s.as_bytes());
        out
    };
    let shifted = rewrite(nums[0], nums[1] - 1, nums[2], nums[3]);
    let r = verify_pdf(&shifted, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(!s.intact && !s.valid(), "{s:#?}");
    assert!(
        s.problems
            .iter()
            .any(|p| p.contains("n'exclut pas exactement")),
        "{s:#?}"
    );
    let short = rewrite(nums[0], nums[1], nums[2], nums[3] - 10);
    let r = verify_pdf(&short, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(!s.covers_revision && !s.valid(), "{s:#?}");
}

/// Finding 3, with our own signatures: an incremental update points the trailer at a new
/// catalog and a new page tree (new object numbers), then a second person signs. The
/// first signature is "modifié après la signature"; the second signed what it saw.
#[test]
fn replaced_catalog_then_second_signature() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", true)).unwrap();
    let doc = Document::load_mem(&signed).unwrap();
    let old_page = doc
        .get_dictionary(*doc.get_pages().get(&1).unwrap())
        .unwrap()
        .clone();
    let acroform = doc.catalog().unwrap().get(b"AcroForm").unwrap().clone();
    let mut inc = IncrementalDocument::create_from(signed.clone(), doc);
    let d = &mut inc.new_document;
    let pages_id = d.new_object_id();
    let content = d.add_object(Object::Stream(Stream::new(
        lopdf::Dictionary::new(),
        b"BT /F1 14 Tf 72 700 Td (Montant : 1 000 000 EUR) Tj ET".to_vec(),
    )));
    let mut page = lopdf::Dictionary::new();
    page.set("Type", Object::Name(b"Page".to_vec()));
    page.set("Parent", Object::Reference(pages_id));
    page.set("Contents", Object::Reference(content));
    page.set("Resources", old_page.get(b"Resources").unwrap().clone());
    page.set("Annots", old_page.get(b"Annots").unwrap().clone());
    let page_id = d.add_object(Object::Dictionary(page));
    let mut pages = lopdf::Dictionary::new();
    pages.set("Type", Object::Name(b"Pages".to_vec()));
    pages.set("Count", Object::Integer(1));
    pages.set("Kids", Object::Array(vec![Object::Reference(page_id)]));
    pages.set(
        "MediaBox",
        Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
    );
    d.objects.insert(pages_id, Object::Dictionary(pages));
    let mut cat = lopdf::Dictionary::new();
    cat.set("Type", Object::Name(b"Catalog".to_vec()));
    cat.set("Pages", Object::Reference(pages_id));
    cat.set("AcroForm", acroform);
    let cat_id = d.add_object(Object::Dictionary(cat));
    d.trailer.set("Root", Object::Reference(cat_id));
    let mut replaced = Vec::new();
    inc.save_to(&mut replaced).unwrap();
    let r = verify_pdf(&replaced, &anchors(&[ca_der()]), now()).unwrap();
    assert!(
        !r.signatures[0].changes_after.is_empty() && !r.valid(),
        "{r:#?}"
    );
    let twice = sign_pdf(&replaced, &p.person2, &options("Éric Durand", true)).unwrap();
    let r = verify_pdf(&twice, &anchors(&[ca_der()]), now()).unwrap();
    let first = &r.signatures[0];
    assert!(first.intact && first.trusted, "{first:#?}");
    assert!(
        first
            .changes_after
            .iter()
            .any(|c| c == "contenu de la page 1 modifié après la signature"),
        "{first:#?}"
    );
    assert_eq!(first.verdict(), "document modifié après la signature");
    assert!(r.signatures[1].valid(), "{:#?}", r.signatures[1]);
    assert!(!r.valid());
}

/// A DSS (PAdES B-LT) after a signature is allowed; one carrying anything else is not.
#[test]
fn dss_after_signing() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", false)).unwrap();
    let with_dss = |extra: Option<(&str, Object)>| {
        let doc = Document::load_mem(&signed).unwrap();
        let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
        let mut inc = IncrementalDocument::create_from(signed.clone(), doc);
        let cert = inc.new_document.add_object(Object::Stream(Stream::new(
            lopdf::Dictionary::new(),
            ca_der(),
        )));
        let mut dss = lopdf::Dictionary::new();
        dss.set("Certs", Object::Array(vec![Object::Reference(cert)]));
        if let Some((k, v)) = extra {
            dss.set(k, v);
        }
        let dss = inc.new_document.add_object(Object::Dictionary(dss));
        inc.opt_clone_object_to_new_document(root).unwrap();
        inc.new_document
            .get_dictionary_mut(root)
            .unwrap()
            .set("DSS", Object::Reference(dss));
        let mut out = Vec::new();
        inc.save_to(&mut out).unwrap();
        out
    };
    let r = verify_pdf(&with_dss(None), &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(s.valid(), "{s:#?}");
    assert_eq!(
        s.allowed_changes,
        vec!["informations de validation (DSS) ajoutées".to_string()]
    );
    let bad = with_dss(Some((
        "JS",
        Object::String(b"app.alert(1)".to_vec(), lopdf::StringFormat::Literal),
    )));
    let r = verify_pdf(&bad, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(!s.valid(), "{s:#?}");
    assert!(
        s.changes_after
            .iter()
            .any(|c| c.starts_with("DSS invalide : entrée inattendue (/JS)")),
        "{s:#?}"
    );
}
