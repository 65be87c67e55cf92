//! Hostile input never panics.
use crate::common::*;
use parapheur_signing::{sign_pdf, verify_pdf};
use proptest::prelude::*;

fn signed_sample() -> &'static Vec<u8> {
    static S: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let p = pki();
        let a = sign_pdf(&make_pdf(1), &p.person, &options("Jeanne Martin", true)).unwrap();
        sign_pdf(&a, &p.seal, &options("Cachet", false)).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn flipped_bytes_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut pdf = signed_sample().clone();
        let n = pdf.len();
        for (pos, b) in flips {
            pdf[pos % n] ^= b | 1;
        }
        let _ = verify_pdf(&pdf, &anchors(&[ca_der()]), now());
        let _ = sign_pdf(&pdf, &pki().person, &options("x", false));
    }

    #[test]
    fn truncations_never_panic(cut in 0usize..100_000) {
        let pdf = signed_sample();
        let cut = cut % pdf.len();
        let _ = verify_pdf(&pdf[..cut], &anchors(&[ca_der()]), now());
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend_from_slice(&data);
        let _ = verify_pdf(&pdf, &anchors(&[]), now());
    }
}

/// What fuzzing found (fuzz/crashes/sign_pdf): a PDF without a cross-reference section was
/// "signed", but the update chained to nothing and no reader found the signature. Now the
/// file is rewritten whole first, and what we sign verifies, with the reference verifiers
/// too; without a page it is refused with a reason.
#[test]
fn a_pdf_without_cross_references_is_repaired_then_signed() {
    let crashes =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/crashes/sign_pdf");
    let mut signed_any = 0;
    for entry in std::fs::read_dir(&crashes).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        match sign_pdf(&input, &pki().person, &options("Jeanne Martin", true)) {
            Ok(signed) => {
                let report = verify_pdf(&signed, &anchors(&[ca_der()]), now()).unwrap();
                let ours: Vec<_> = report
                    .signatures
                    .iter()
                    .filter(|s| s.signer == "Jeanne Martin")
                    .collect();
                assert_eq!(ours.len(), 1, "{}: {report:?}", path.display());
                assert!(ours[0].valid(), "{}: {:?}", path.display(), ours[0]);
                external_verify(&signed, None);
                signed_any += 1;
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
        }
    }
    assert!(
        signed_any >= 1,
        "at least the crash input with pages is signed"
    );
    // A well-formed file keeps its bytes: the signature is an update appended to it.
    let pdf = make_pdf(1);
    let signed = sign_pdf(&pdf, &pki().person, &options("Jeanne Martin", true)).unwrap();
    assert!(signed.starts_with(&pdf));
}
