#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Shared helpers for the integration tests: PDFs, a PKI, the external verifier, a TSA.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use lopdf::{Dictionary, Document, Object, Stream, StringFormat, xref::XrefType};
use parapheur_signing::pki::{self, Subject};
use parapheur_signing::{SignOptions, SignerKey, Stamp};

pub const VERIFIER: &str = "/work/shared/acceptance/verify-pades";
pub const TSA: &str = "/work/shared/acceptance/test-tsa";

/// A PDF of `pages` pages of text, classic cross-reference table.
pub fn make_pdf(pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    doc.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
    let pages_id = doc.new_object_id();
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
    let font_id = doc.add_object(Object::Dictionary(font));
    let mut kids = Vec::new();
    for i in 0..pages {
        let content = format!(
            "BT /F1 14 Tf 72 760 Td (Courrier de la mairie - page {}) Tj 0 -20 Td (Objet : demande de subvention) Tj ET",
            i + 1
        );
        let cid = doc.add_object(Object::Stream(Stream::new(
            Dictionary::new(),
            content.into_bytes(),
        )));
        let mut f = Dictionary::new();
        f.set("F1", Object::Reference(font_id));
        let mut res = Dictionary::new();
        res.set("Font", Object::Dictionary(f));
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference(pages_id));
        page.set("Contents", Object::Reference(cid));
        page.set("Resources", Object::Dictionary(res));
        kids.push(Object::Reference(doc.add_object(Object::Dictionary(page))));
    }
    let mut pd = Dictionary::new();
    pd.set("Type", Object::Name(b"Pages".to_vec()));
    pd.set("Count", Object::Integer(pages as i64));
    pd.set("Kids", Object::Array(kids));
    pd.set(
        "MediaBox",
        Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
    );
    doc.objects.insert(pages_id, Object::Dictionary(pd));
    let mut cat = Dictionary::new();
    cat.set("Type", Object::Name(b"Catalog".to_vec()));
    cat.set("Pages", Object::Reference(pages_id));
    let cat_id = doc.add_object(Object::Dictionary(cat));
    doc.trailer.set("Root", Object::Reference(cat_id));
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A one-page PDF with an AcroForm text field (filled) on page 1.
pub fn make_form_pdf() -> Vec<u8> {
    let base = make_pdf(1);
    let mut doc = Document::load_mem(&base).unwrap();
    doc.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
    let page_id = *doc.get_pages().get(&1).unwrap();
    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Tx".to_vec()));
    field.set(
        "T",
        Object::String(b"objet".to_vec(), StringFormat::Literal),
    );
    field.set(
        "V",
        Object::String(b"Demande de permis".to_vec(), StringFormat::Literal),
    );
    field.set(
        "DA",
        Object::String(b"/Helv 10 Tf 0 g".to_vec(), StringFormat::Literal),
    );
    field.set(
        "Rect",
        Object::Array(vec![72.into(), 600.into(), 300.into(), 620.into()]),
    );
    field.set("P", Object::Reference(page_id));
    field.set("F", Object::Integer(4));
    let fid = doc.add_object(Object::Dictionary(field));
    doc.get_dictionary_mut(page_id)
        .unwrap()
        .set("Annots", Object::Array(vec![Object::Reference(fid)]));
    let mut helv = Dictionary::new();
    helv.set("Type", Object::Name(b"Font".to_vec()));
    helv.set("Subtype", Object::Name(b"Type1".to_vec()));
    helv.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
    let mut fonts = Dictionary::new();
    fonts.set("Helv", Object::Dictionary(helv));
    let mut dr = Dictionary::new();
    dr.set("Font", Object::Dictionary(fonts));
    let mut form = Dictionary::new();
    form.set("Fields", Object::Array(vec![Object::Reference(fid)]));
    form.set(
        "DA",
        Object::String(b"/Helv 10 Tf 0 g".to_vec(), StringFormat::Literal),
    );
    form.set("DR", Object::Dictionary(dr));
    let form_id = doc.add_object(Object::Dictionary(form));
    doc.catalog_mut()
        .unwrap()
        .set("AcroForm", Object::Reference(form_id));
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

pub fn qpdf(input: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let i = dir.path().join("in.pdf");
    let o = dir.path().join("out.pdf");
    std::fs::write(&i, input).unwrap();
    let mut cmd = Command::new("qpdf");
    cmd.args(args).arg(&i).arg(&o);
    let st = cmd.status().expect("qpdf is needed by the tests");
    assert!(st.success() || st.code() == Some(3), "qpdf failed: {st}");
    std::fs::read(&o).unwrap()
}

pub struct Pki {
    pub ca: SignerKey,
    pub person: SignerKey,
    pub person2: SignerKey,
    pub seal: SignerKey,
}

pub fn pki() -> &'static Pki {
    static P: OnceLock<Pki> = OnceLock::new();
    P.get_or_init(|| {
        let now = Utc::now();
        let ca = pki::new_ca(
            "Autorité de certification de Saint-Élie",
            "Mairie de Saint-Élie",
            now,
        )
        .unwrap();
        let person = pki::issue(
            &ca,
            &Subject {
                common_name: "Jeanne Martin".into(),
                organisation: "Mairie de Saint-Élie".into(),
                email: Some("jeanne.martin@saint-elie.example".into()),
                title: Some("Maire".into()),
                seal: false,
            },
            now,
            365,
        )
        .unwrap();
        let person2 = pki::issue(
            &ca,
            &Subject {
                common_name: "Éric Durand".into(),
                organisation: "Mairie de Saint-Élie".into(),
                email: Some("eric.durand@saint-elie.example".into()),
                title: Some("Adjoint".into()),
                seal: false,
            },
            now,
            365,
        )
        .unwrap();
        let seal = pki::issue(
            &ca,
            &Subject {
                common_name: "Mairie de Saint-Élie - cachet".into(),
                organisation: "Mairie de Saint-Élie".into(),
                email: None,
                title: None,
                seal: true,
            },
            now,
            365,
        )
        .unwrap();
        // Kept for looking at the signed files by hand (out_dir() has the PDFs).
        let _ = std::fs::write(
            out_dir().join("ca.pem"),
            pki::certificate_pem(&ca.chain_der()[0]),
        );
        Pki {
            ca,
            person,
            person2,
            seal,
        }
    })
}

pub fn ca_der() -> Vec<u8> {
    pki().ca.chain_der().remove(0)
}

pub fn options(name: &str, stamp: bool) -> SignOptions {
    let mut o = SignOptions::at(Utc::now());
    o.signer_name = Some(name.to_string());
    o.reason = Some("Approbation du courrier".into());
    o.location = Some("Saint-Élie".into());
    if stamp {
        o.stamp = Some(Stamp {
            lines: vec![
                format!("Signé par {name}"),
                "Maire".into(),
                "pour le maire absent, par délégation (intérim)".into(),
                "le 29 novembre 2026 à 10 h 12".into(),
            ],
            image: None,
            page: None,
            rect: None,
        });
    }
    o
}

/// Runs the independent verifier; fails loudly if it is missing (unless explicitly skipped).
pub fn external_verify(pdf: &[u8], extra_ca_pem: Option<&str>) -> Option<String> {
    if std::env::var("PARAPHEUR_SKIP_PADES_VERIFIER").as_deref() == Ok("1") {
        eprintln!("PARAPHEUR_SKIP_PADES_VERIFIER=1: external PAdES verification skipped");
        return None;
    }
    assert!(
        Path::new(VERIFIER).exists(),
        "\n\n!!! {VERIFIER} is missing: the PAdES acceptance verifier is required.\n!!! Set PARAPHEUR_SKIP_PADES_VERIFIER=1 to skip it knowingly.\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let pdf_path = dir.path().join("signed.pdf");
    std::fs::write(&pdf_path, pdf).unwrap();
    let mut pem = pki::certificate_pem(&ca_der());
    if let Some(extra) = extra_ca_pem {
        pem.push_str(extra);
    }
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, pem).unwrap();
    let out = Command::new(VERIFIER)
        .arg(&pdf_path)
        .arg(&ca_path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !(out.status.success() && text.contains("ACCEPT")) {
        let keep = std::env::temp_dir().join(format!("rejected-{}.pdf", std::process::id()));
        let _ = std::fs::write(&keep, pdf);
        panic!(
            "verify-pades rejected the PDF (kept at {}):\n{text}",
            keep.display()
        );
    }
    Some(text)
}

/// A running test TSA, killed on drop.
pub struct Tsa {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tsa {
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.crt")).unwrap()
    }
}

/// The test TSA with its own test PKI (made by the script).
pub fn start_tsa() -> Tsa {
    start_tsa_in(tempfile::tempdir().unwrap())
}

/// The test TSA with a TSA certificate issued by our test CA, so that verify-pades (which
/// takes exactly one trusted certificate) can trust both the signer and the time-stamp.
/// The files are laid out as `test-tsa` lays them out itself on first use.
pub fn start_tsa_with_our_ca() -> Tsa {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ca.crt"), pki::certificate_pem(&ca_der())).unwrap();
    let key_pem = der::pem::encode_string(
        "PRIVATE KEY",
        der::pem::LineEnding::LF,
        &pki().ca.to_pkcs8_der(),
    )
    .unwrap();
    std::fs::write(d.join("ca.key"), key_pem).unwrap();
    let run = |args: &[&str]| {
        let st = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=Test TSA/O=Test",
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
    ]);
    std::fs::write(
        d.join("tsa.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        "tsa.ext",
        "-out",
        "tsa.crt",
    ]);
    std::fs::write(d.join("tsaserial"), "01\n").unwrap();
    let dir_s = d.display();
    std::fs::write(
        d.join("tsa.cnf"),
        format!(
            "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\ndir = {dir_s}\nserial = $dir/tsaserial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.crt\ncerts = $dir/ca.crt\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
        ),
    )
    .unwrap();
    start_tsa_in(dir)
}

fn start_tsa_in(dir: tempfile::TempDir) -> Tsa {
    assert!(Path::new(TSA).exists(), "{TSA} is missing");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(TSA)
        .arg(dir.path())
        .arg(port.to_string())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "test TSA did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Tsa {
        child,
        url: format!("http://127.0.0.1:{port}/"),
        dir,
    }
}

pub fn out_dir() -> PathBuf {
    // One folder per test binary, since each binary makes its own CA.
    let exe = std::env::current_exe().unwrap();
    let stem = exe.file_stem().unwrap().to_string_lossy();
    let binary = stem.split('-').next().unwrap_or("tests").to_string();
    let p = std::env::temp_dir()
        .join("parapheur-signing-tests")
        .join(binary);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Trust anchors with these signer roots and no time-stamping authority.
pub fn anchors(signers: &[Vec<u8>]) -> parapheur_signing::TrustAnchors {
    parapheur_signing::TrustAnchors {
        signers: signers.to_vec(),
        time_stamping: Vec::new(),
    }
}

pub fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}
