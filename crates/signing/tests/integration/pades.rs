//! Signed PDFs checked by the independent verifier (pyHanko + pdfsig + OpenSSL).
use crate::common::*;
use parapheur_signing::{HttpTimeStamper, SignError, sign_pdf, verify_pdf};

fn check_ours(pdf: &[u8], n: usize) {
    let r = verify_pdf(pdf, &anchors(&[ca_der()]), now()).unwrap();
    assert_eq!(r.signatures.len(), n, "{r:#?}");
    for s in &r.signatures {
        assert!(s.intact && s.trusted && s.covers_revision, "{s:#?}");
        assert!(s.changes_after.is_empty(), "{s:#?}");
    }
}

#[test]
fn one_invisible_signature() {
    let p = pki();
    let pdf = make_pdf(5);
    let signed = sign_pdf(&pdf, &p.person, &options("Jeanne Martin", false)).unwrap();
    assert_eq!(
        &signed[..pdf.len()],
        &pdf[..],
        "the original bytes must be kept"
    );
    std::fs::write(out_dir().join("one.pdf"), &signed).unwrap();
    check_ours(&signed, 1);
    if let Some(out) = external_verify(&signed, None) {
        println!("{out}");
    }
}

#[test]
fn visible_then_second_person() {
    let p = pki();
    let pdf = make_pdf(3);
    let once = sign_pdf(&pdf, &p.person, &options("Jeanne Martin", true)).unwrap();
    let twice = sign_pdf(&once, &p.person2, &options("Éric Durand", true)).unwrap();
    std::fs::write(out_dir().join("two.pdf"), &twice).unwrap();
    check_ours(&twice, 2);
    external_verify(&twice, None);
}

#[test]
fn seal_then_signature_then_third() {
    let p = pki();
    let pdf = make_pdf(2);
    let mut o = options("Mairie de Saint-Élie", true);
    o.field_name = Some("Cachet".into());
    let a = sign_pdf(&pdf, &p.seal, &o).unwrap();
    let b = sign_pdf(&a, &p.person, &options("Jeanne Martin", true)).unwrap();
    let c = sign_pdf(&b, &p.person2, &options("Éric Durand", false)).unwrap();
    std::fs::write(out_dir().join("three.pdf"), &c).unwrap();
    check_ours(&c, 3);
    let r = verify_pdf(&c, &anchors(&[ca_der()]), now()).unwrap();
    assert_eq!(r.signatures[0].field_name, "Cachet");
    assert!(r.signatures[0].signer.contains("cachet"));
    external_verify(&c, None);
}

#[test]
fn xref_stream_source() {
    let p = pki();
    let src = qpdf(&make_pdf(4), &["--object-streams=generate"]);
    assert!(
        src.windows(9)
            .any(|w| w == b"/Type/XRe" || w == b"/Type /XR"),
        "qpdf made no xref stream"
    );
    let once = sign_pdf(&src, &p.person, &options("Jeanne Martin", true)).unwrap();
    let twice = sign_pdf(&once, &p.seal, &options("Cachet", true)).unwrap();
    std::fs::write(out_dir().join("xrefstream.pdf"), &twice).unwrap();
    check_ours(&twice, 2);
    external_verify(&twice, None);
}

#[test]
fn acroform_source_keeps_fields() {
    let p = pki();
    let src = make_form_pdf();
    let signed = sign_pdf(&src, &p.person, &options("Jeanne Martin", true)).unwrap();
    let doc = lopdf::Document::load_mem(&signed).unwrap();
    let form_ref = doc
        .catalog()
        .unwrap()
        .get(b"AcroForm")
        .unwrap()
        .as_reference()
        .unwrap();
    let form = doc.get_dictionary(form_ref).unwrap();
    let fields = form.get(b"Fields").unwrap().as_array().unwrap();
    assert_eq!(fields.len(), 2, "the text field must be kept");
    assert!(form.has(b"DR") && form.has(b"DA"));
    check_ours(&signed, 1);
    external_verify(&signed, None);
}

#[test]
fn b_t_with_test_tsa_own_pki() {
    // The TSA with its own PKI: our verifier checks the token (imprint, its CMS signature).
    let p = pki();
    let tsa = start_tsa();
    let mut o = options("Jeanne Martin", false);
    o.timestamper = Some(Box::new(HttpTimeStamper::new(&tsa.url)));
    let signed = sign_pdf(&make_pdf(1), &p.person, &o).unwrap();
    let r = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(s.intact && s.trusted && s.timestamp.is_some(), "{s:#?}");
    // Its TSA is not among the time-stamping anchors: the date is not proven, the
    // certificate is judged now, and the report says so; the signature is still valid.
    assert!(!s.date_proven() && s.valid(), "{s:#?}");
    assert_eq!(s.judged_at, r.now);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.starts_with("horodatage non reconnu")),
        "{s:#?}"
    );
    // With the TSA's own CA as the time-stamping anchor, it is proven.
    let tsa_ca = parapheur_signing::pki::certificates_from_pem(&tsa.ca_pem()).unwrap();
    let with_tsa = parapheur_signing::TrustAnchors {
        signers: vec![ca_der()],
        time_stamping: tsa_ca,
    };
    let r = verify_pdf(&signed, &with_tsa, now()).unwrap();
    let s = &r.signatures[0];
    assert!(
        s.date_proven() && s.valid() && s.warnings.is_empty(),
        "{s:#?}"
    );
    assert_eq!(Some(s.judged_at), s.timestamp);
    // Trusting the signers' CA for time-stamps does not make this TSA trusted.
    let wrong = parapheur_signing::TrustAnchors {
        signers: vec![ca_der()],
        time_stamping: vec![ca_der()],
    };
    let r = verify_pdf(&signed, &wrong, now()).unwrap();
    assert!(!r.signatures[0].date_proven(), "{r:#?}");
    // Signed again on top, the first B-T signature stays valid.
    let twice = sign_pdf(&signed, &p.seal, &options("Cachet", true)).unwrap();
    let r = verify_pdf(&twice, &anchors(&[ca_der()]), now()).unwrap();
    assert!(
        r.signatures
            .iter()
            .all(|s| s.intact && s.changes_after.is_empty()),
        "{r:#?}"
    );
    // A TSA that does not answer: a clear error.
    let mut o = options("Jeanne Martin", false);
    o.timestamper = Some(Box::new(HttpTimeStamper::new("http://127.0.0.1:9/")));
    let e = sign_pdf(&make_pdf(1), &p.person, &o).unwrap_err();
    assert!(matches!(e, SignError::Timestamp(_)), "{e:?}");
}

#[test]
fn b_t_with_test_tsa() {
    let p = pki();
    let tsa = start_tsa_with_our_ca();
    let mut o = options("Jeanne Martin", true);
    o.timestamper = Some(Box::new(HttpTimeStamper::new(&tsa.url)));
    let signed = sign_pdf(&make_pdf(2), &p.person, &o).unwrap();
    std::fs::write(out_dir().join("bt.pdf"), &signed).unwrap();
    let r = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
    let s = &r.signatures[0];
    assert!(s.intact && s.trusted, "{s:#?}");
    let ts = s.timestamp.expect("a verified time-stamp");
    assert!((ts - chrono::Utc::now()).num_seconds().abs() < 120);
    // The TSA is certified by our CA with the critical timeStamping EKU: trusted when our
    // CA is a time-stamping anchor.
    let both = parapheur_signing::TrustAnchors {
        signers: vec![ca_der()],
        time_stamping: vec![ca_der()],
    };
    let r = verify_pdf(&signed, &both, now()).unwrap();
    assert!(r.signatures[0].date_proven() && r.valid(), "{r:#?}");
    let out = external_verify(&signed, None);
    if let Some(out) = out {
        assert!(out.contains("B-T"), "{out}");
        println!("{out}");
    }
}

#[test]
fn encrypted_broken_and_large_sources_refused() {
    let p = pki();
    let pdf = make_pdf(1);
    let enc = qpdf(&pdf, &["--encrypt", "u", "o", "256", "--"]);
    let e = sign_pdf(&enc, &p.person, &options("x", false)).unwrap_err();
    assert!(matches!(e, SignError::Encrypted), "{e:?}");
    assert_eq!(
        e.to_string(),
        "le PDF est chiffré : il ne peut pas être signé"
    );

    let e = sign_pdf(&pdf[..pdf.len() / 3], &p.person, &options("x", false)).unwrap_err();
    assert!(matches!(e, SignError::Unreadable(_)), "{e:?}");
    assert!(e.to_string().starts_with("le PDF est illisible"));

    let e = sign_pdf(b"this is not a pdf at all", &p.person, &options("x", false)).unwrap_err();
    assert!(matches!(e, SignError::Unreadable(_)), "{e:?}");

    let mut big = pdf.clone();
    big.resize(parapheur_signing::MAX_PDF_SIZE + 1, b' ');
    let e = sign_pdf(&big, &p.person, &options("x", false)).unwrap_err();
    assert!(matches!(e, SignError::TooLarge));
    assert_eq!(e.to_string(), "le PDF dépasse 50 Mo");
}

/// pyHanko (installed by verify-pades) signs with an RSA key: our verifier reads it, and our
/// signature on top keeps it valid.
#[test]
fn foreign_rsa_signature_from_pyhanko() {
    let p = pki();
    let signed = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", false)).unwrap();
    let pyhanko = std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".cache/verify-pades/venv/bin/pyhanko");
    if !pyhanko.exists() && external_verify(&signed, None).is_none() {
        return; // verifier explicitly skipped
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let st = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args([
            "-subj",
            "/CN=RSA Signer/O=Ailleurs",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(st.status.success());
    std::fs::write(d.join("in.pdf"), &signed).unwrap();
    let st = std::process::Command::new(&pyhanko)
        .args([
            "sign",
            "addsig",
            "--field",
            "PyHankoSig",
            "pemder",
            "--key",
            "key.pem",
        ])
        .args(["--cert", "cert.pem", "--no-pass", "in.pdf", "out.pdf"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let theirs = std::fs::read(d.join("out.pdf")).unwrap();
    let rsa_pem = std::fs::read_to_string(d.join("cert.pem")).unwrap();
    let rsa_der = der::Document::from_pem(&rsa_pem)
        .unwrap()
        .1
        .as_bytes()
        .to_vec();
    let ours_again = sign_pdf(&theirs, &p.seal, &options("Cachet", true)).unwrap();
    let r = verify_pdf(&ours_again, &anchors(&[ca_der(), rsa_der]), now()).unwrap();
    assert_eq!(r.signatures.len(), 3, "{r:#?}");
    for s in &r.signatures {
        assert!(
            s.intact && s.trusted && s.changes_after.is_empty(),
            "{s:#?}"
        );
    }
    assert!(r.signatures.iter().any(|s| s.signer == "RSA Signer"));
}
