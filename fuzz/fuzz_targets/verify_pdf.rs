//! Verification of the signatures of any PDF a citizen, a mail or an agent brings in:
//! `verify_pdf` must answer (a report or an error), never panic, whatever the bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// One trusted root for signers and for time-stamps, so that the chain building is reached.
fn anchors() -> &'static parapheur_signing::TrustAnchors {
    static ANCHORS: OnceLock<parapheur_signing::TrustAnchors> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let roots =
            parapheur_signing::pki::new_ca("Fuzz CA", "Commune de Fuzz", chrono::Utc::now())
                .map(|ca| ca.chain_der())
                .unwrap_or_default();
        parapheur_signing::TrustAnchors {
            signers: roots.clone(),
            time_stamping: roots,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parapheur_signing::verify_pdf(data, anchors(), chrono::Utc::now());
});
