//! Verification of the signatures of any PDF a citizen, a mail or an agent brings in:
//! `verify_pdf` must answer (a report or an error), never panic, whatever the bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// One trusted root, so that the chain building is reached too.
fn roots() -> &'static [Vec<u8>] {
    static ROOTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        parapheur_signing::pki::new_ca("Fuzz CA", "Commune de Fuzz", chrono::Utc::now())
            .map(|ca| ca.chain_der())
            .unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parapheur_signing::verify_pdf(data, roots());
});
