//! The scanner that decides whether a PDF (an attachment, an upload) may be shown inline:
//! names written plainly or with `#xx` escapes, and inside compressed object streams.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parapheur_mail::pdf_flags(data);
});
