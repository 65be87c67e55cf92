//! Keys: PKCS#8, PKCS#12 from OpenSSL, validity dates.
use crate::common::*;
use chrono::{Duration, Utc};
use parapheur_signing::pki::{self, Subject};
use parapheur_signing::{KeyError, SignerKey, sign_pdf};

fn pkcs8_pem(der: &[u8]) -> String {
    der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, der).unwrap()
}

#[test]
fn pkcs12_made_by_openssl() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    let cert_path = dir.path().join("cert.pem");
    let ca_path = dir.path().join("ca.pem");
    let p12_path = dir.path().join("id.p12");
    std::fs::write(&key_path, pkcs8_pem(&p.person.to_pkcs8_der())).unwrap();
    let chain = p.person.chain_der();
    std::fs::write(&cert_path, pki::certificate_pem(&chain[0])).unwrap();
    std::fs::write(&ca_path, pki::certificate_pem(&chain[1])).unwrap();
    let st = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:sécret-123"])
        .arg("-inkey")
        .arg(&key_path)
        .arg("-in")
        .arg(&cert_path)
        .arg("-certfile")
        .arg(&ca_path)
        .arg("-out")
        .arg(&p12_path)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&p12_path).unwrap();
    let k = SignerKey::from_pkcs12(&bytes, "sécret-123").unwrap();
    assert_eq!(k.subject_common_name(), "Jeanne Martin");
    assert_eq!(k.chain_der(), chain);
    let e = SignerKey::from_pkcs12(&bytes, "mauvais").unwrap_err();
    assert!(matches!(e, KeyError::WrongPassword), "{e:?}");
    assert_eq!(e.to_string(), "mot de passe de la clé incorrect");
    // The imported key signs.
    sign_pdf(&make_pdf(1), &k, &options("Jeanne Martin", false)).unwrap();
}

#[test]
fn pkcs8_round_trips() {
    let p = pki();
    let chain = p.person.chain_der();
    let enc = p.person.to_encrypted_pkcs8("mot de passe").unwrap();
    let k = SignerKey::from_pkcs8_der(&enc, Some("mot de passe"), &chain).unwrap();
    assert_eq!(k.subject_common_name(), "Jeanne Martin");
    let e = SignerKey::from_pkcs8_der(&enc, Some("faux"), &chain).unwrap_err();
    assert!(matches!(e, KeyError::WrongPassword));
    let plain = p.person.to_pkcs8_der();
    SignerKey::from_pkcs8_der(&plain, None, &chain).unwrap();
    let pem_chain: String = chain.iter().map(|c| pki::certificate_pem(c)).collect();
    SignerKey::from_pkcs8_pem(&pkcs8_pem(&plain), &pem_chain).unwrap();
    // A key with somebody else's certificate.
    let e = SignerKey::from_pkcs8_der(&plain, None, &p.seal.chain_der()).unwrap_err();
    assert!(matches!(e, KeyError::KeyMismatch));
    assert_eq!(e.to_string(), "la clé ne correspond pas au certificat");
}

#[test]
fn expired_certificate_refused() {
    let p = pki();
    let _ = p;
    let past = Utc::now() - Duration::days(30);
    let old_ca = pki::new_ca("Ancienne AC", "Mairie", past - Duration::days(1)).unwrap();
    let old = pki::issue(
        &old_ca,
        &Subject {
            common_name: "Ancien élu".into(),
            organisation: "Mairie".into(),
            ..Default::default()
        },
        past,
        10,
    )
    .unwrap();
    let e = old.check_usable_at(Utc::now()).unwrap_err();
    assert!(matches!(e, KeyError::Expired(_)));
    assert!(e.to_string().starts_with("certificat expiré le "), "{e}");
    assert!(old.check_usable_at(past + Duration::days(1)).is_ok());
    let e = old.check_usable_at(past - Duration::days(1)).unwrap_err();
    assert!(matches!(e, KeyError::NotYetValid(_)));
    assert!(sign_pdf(&make_pdf(1), &old, &options("x", false)).is_err());
    assert!(old.not_after() < Utc::now());
}

#[test]
fn ca_and_certificates_shape() {
    let p = pki();
    assert_eq!(p.ca.chain_der().len(), 1);
    assert_eq!(p.person.chain_der().len(), 2);
    assert!(p.ca.not_after() > Utc::now() + Duration::days(3640));
    assert_eq!(
        p.seal.subject_common_name(),
        "Mairie de Saint-Élie - cachet"
    );
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-inform", "DER"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(&p.person.chain_der()[0])?;
            c.wait_with_output()
        })
        .unwrap();
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(t.contains("Digital Signature, Non Repudiation"), "{t}");
    assert!(t.contains("email:jeanne.martin@saint-elie.example"), "{t}");
    assert!(
        t.contains("title = Maire") || t.contains("title=Maire"),
        "{t}"
    );
}
