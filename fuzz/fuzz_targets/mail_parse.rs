//! An email as it comes from IMAP, an `.eml` upload or an imported mbox: `parse` must never
//! panic, and what it returns must be usable by the application: the cid rewriting of its
//! HTML body and the normalisation of its message ids. `parse` guards mail-parser with
//! `catch_unwind` (a panic there quarantines the message): such a panic is tolerated, any
//! other is a crash (see `parapheur_fuzz::guarded`).
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
    let parsed = parapheur_fuzz::guarded(&["mail-parser"], || parse(data, &limits));
    if let Ok(mail) = parsed {
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
