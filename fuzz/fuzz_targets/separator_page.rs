//! A page of an uploaded scan, searched for the separator sheet's QR code: `pdftoppm`
//! renders it (the header is poppler's, the pixels follow the untrusted PDF), then our PGM
//! reading and `rqrr`'s QR detection and decoding run on it
//! (`parapheur_extract::separator::has_separator_qr`).
//!
//! Input: the first two bytes are the width and height (1 to 256 pixels), the rest the
//! grey pixels; the raw input is also read as a whole PGM file (headers too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parapheur_extract::separator::has_separator_qr;

fuzz_target!(|data: &[u8]| {
    let _ = has_separator_qr(data);
    if let [w, h, pixels @ ..] = data {
        let (w, h) = (usize::from(*w) + 1, usize::from(*h) + 1);
        let mut pgm = format!("P5\n{w} {h}\n255\n").into_bytes();
        pgm.extend((0..w * h).map(|i| pixels.get(i % pixels.len().max(1)).copied().unwrap_or(255)));
        let _ = has_separator_qr(&pgm);
    }
});
