//! An email as it comes from IMAP, an `.eml` upload or an imported mbox: `parse` must never
//! panic (its own guard turns a panic of mail-parser into a quarantine, but the fuzzer
//! aborts on any panic, caught or not, so that such a panic is seen and reported), and
//! what it returns must be usable by the application: the cid rewriting of its HTML body
//! and the normalisation of its message ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parapheur_mail::{Limits, normalise_message_id, parse, rewrite_cid_urls, split_mbox};

fuzz_target!(|data: &[u8]| {
    // Small limits so that the caps (attachments, recipients, body length) are reached too.
    let limits = Limits {
        max_message_bytes: 1 << 20,
        max_attachment_bytes: 64 * 1024,
        max_attachments: 8,
        max_recipients_kept: 5,
        max_body_chars: 20_000,
    };
    if let Ok(mail) = parse(data, &limits) {
        if let Some(html) = &mail.html_body {
            let _ = rewrite_cid_urls(html, |cid| Some(format!("/fichiers/{}", cid.len())));
        }
        for id in mail
            .message_id
            .iter()
            .chain(&mail.in_reply_to)
            .chain(&mail.references)
        {
            let _ = normalise_message_id(id);
        }
    }
    // The same bytes as an mbox file (`import-mail`).
    for message in split_mbox(data) {
        let _ = message.len();
    }
});
