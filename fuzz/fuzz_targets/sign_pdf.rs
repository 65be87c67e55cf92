//! Signing any PDF given to the parapheur: `sign_pdf` must answer, never panic, and what it
//! signed is verified (`verify_pdf` must not panic either).
//!
//! A signed PDF must also verify with its new signature intact (an oracle, not only a crash
//! detector); `PARAPHEUR_FUZZ_SIGN_ORACLE=0` turns that off. The inputs of
//! fuzz/crashes/sign_pdf, which once failed it, pass it (docs/FUZZING.md).
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use parapheur_signing::pki::{self, Subject};
use parapheur_signing::{SignOptions, SignerKey};

/// A field name no seed uses.
const FIELD: &str = "SignatureFuzz7f3a";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() // 2026-01-01
}

/// A signer under a test CA, made once per process.
fn key() -> Option<&'static (SignerKey, Vec<Vec<u8>>)> {
    static KEY: OnceLock<Option<(SignerKey, Vec<Vec<u8>>)>> = OnceLock::new();
    KEY.get_or_init(|| {
        let ca = pki::new_ca("Fuzz CA", "Commune de Fuzz", now()).ok()?;
        let subject = Subject {
            common_name: "Élu Fuzz".into(),
            title: Some("Maire".into()),
            organisation: "Commune de Fuzz".into(),
            email: None,
            seal: false,
        };
        let signer = pki::issue(&ca, &subject, now(), 365).ok()?;
        Some((signer, ca.chain_der()))
    })
    .as_ref()
}

fn oracle() -> bool {
    static ORACLE: OnceLock<bool> = OnceLock::new();
    *ORACLE.get_or_init(|| std::env::var_os("PARAPHEUR_FUZZ_SIGN_ORACLE").is_none_or(|v| v != "0"))
}

fuzz_target!(|data: &[u8]| {
    let Some((signer, roots)) = key() else {
        return;
    };
    let mut options = SignOptions::at(now());
    options.reason = Some("Approuvé".into());
    options.field_name = Some(FIELD.into());
    let Ok(signed) = parapheur_signing::sign_pdf(data, signer, &options) else {
        return;
    };
    let anchors = parapheur_signing::TrustAnchors {
        signers: roots.clone(),
        time_stamping: Vec::new(),
    };
    let report = parapheur_signing::verify_pdf(&signed, &anchors, now());
    if !oracle() {
        return;
    }
    let report = report.unwrap_or_else(|e| panic!("a PDF we signed does not verify: {e}"));
    assert!(
        report
            .signatures
            .iter()
            .any(|s| s.field_name == FIELD && s.intact),
        "our new signature is not intact: {:?}",
        report.signatures
    );
});
