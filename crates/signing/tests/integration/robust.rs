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
