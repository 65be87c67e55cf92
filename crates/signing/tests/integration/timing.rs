//! Signing and verifying a 5-page PDF again and again: every signature verifies, and the time
//! each takes is printed (run with --release --nocapture; `parapheur bench letters` is the
//! benchmark, no time is asserted here).
use crate::common::*;
use parapheur_signing::{sign_pdf, verify_pdf};
use std::time::Instant;

#[test]
fn sign_and_verify_five_pages() {
    let p = pki();
    let pdf = make_pdf(5);
    let _ = sign_pdf(&pdf, &p.person, &options("Jeanne Martin", true)).unwrap();
    let n = 20;
    let t = Instant::now();
    let mut signed = Vec::new();
    for _ in 0..n {
        signed.push(sign_pdf(&pdf, &p.person, &options("Jeanne Martin", true)).unwrap());
    }
    let sign = t.elapsed() / n;
    let t = Instant::now();
    for one in &signed {
        let r = verify_pdf(one, &anchors(&[ca_der()]), now()).unwrap();
        assert!(r.signatures[0].intact);
    }
    let verify = t.elapsed() / n;
    println!(
        "5-page PDF ({} bytes): sign_pdf {sign:?}, verify_pdf {verify:?}",
        pdf.len()
    );
}
