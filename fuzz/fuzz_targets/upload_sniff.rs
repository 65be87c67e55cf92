//! What the server does first with an uploaded or dropped file: it sniffs its type from its
//! bytes (`upload::sniff`, the gate of the citizens' forms, the letters and the drop
//! folder), then classifies it for text extraction (declared type, sniffing, plain-text
//! decoding in UTF-8 or Windows-1252, truncation). The extraction tools are left out
//! (`Tools::default()`): no child process runs, only our own parsing.
//!
//! Input: the declared media type, a newline, the file name, a newline, the file's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parapheur_extract::{Limits, Tools};

fn line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = parapheur_domain::upload::sniff(data);
    let (media_type, rest) = line(data);
    let (filename, bytes) = line(rest);
    let media_type = String::from_utf8_lossy(media_type);
    let filename = String::from_utf8_lossy(filename);
    let _ = parapheur_domain::upload::sniff(bytes);
    let limits = Limits {
        max_text_chars: 1_000,
        ..Limits::default()
    };
    let tools = Tools::default();
    let _ = futures::executor::block_on(parapheur_extract::extract(
        &tools,
        &limits,
        bytes,
        &media_type,
        &filename,
    ));
});
