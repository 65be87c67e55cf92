//! A citizen's form submission as the public pages decode it: the Content-Type header's
//! boundary, the multipart body (multer, under axum's `Multipart`) fed in chunks of varying
//! sizes, the fields kept as `read_submission` keeps them (crates/web/src/pages/public/
//! form.rs, not callable without the web server), the files' types sniffed, then the
//! domain's checks: `validate_submission` against a demo form and `pow::verify` of the
//! proof of work.
//!
//! Input: one byte choosing the form and the chunk size, the Content-Type header's value,
//! a newline, the body.
#![no_main]

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use parapheur_domain::request_form::{
    self, CONSENT_KEY, FieldKind, IDENTITY_KEYS, RequestForm, SubmittedFile,
};
use parapheur_domain::{pow, upload};

/// As in crates/web/src/pages/public/mod.rs.
const MAX_PARTS: usize = 200;
const MAX_UPLOADS: usize = 10;
const HONEYPOT: &str = "site-web";
const CHALLENGE: &str = "pow-challenge";
const SOLUTION: &str = "pow-solution";

/// The demo commune's forms, from the application's own file (pure data over the domain's
/// types), so that this target builds without the application.
#[path = "../../crates/app/src/demo/forms.rs"]
#[allow(dead_code)]
mod demo;

fn forms() -> &'static [RequestForm] {
    static FORMS: std::sync::OnceLock<Vec<RequestForm>> = std::sync::OnceLock::new();
    FORMS.get_or_init(demo::demo_forms)
}

#[derive(Default)]
struct Posted {
    values: BTreeMap<String, String>,
    files: Vec<SubmittedFile>,
    challenge: String,
    solution: String,
}

async fn read(body: &[u8], chunk: usize, boundary: String, form: &RequestForm) -> Option<Posted> {
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut multipart = multer::Multipart::new(futures::stream::iter(chunks), boundary);
    let mut posted = Posted::default();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.ok()? {
        parts += 1;
        if parts > MAX_PARTS {
            return None;
        }
        let name = field.name().unwrap_or_default().to_owned();
        let is_file_field = form
            .fields
            .iter()
            .any(|f| f.key == name && f.kind == FieldKind::File);
        if is_file_field {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.ok()?;
            if filename.is_empty() && bytes.is_empty() {
                continue;
            }
            if posted.files.len() >= MAX_UPLOADS {
                return None;
            }
            let _ = upload::sniff(&bytes);
            posted.files.push(SubmittedFile {
                key: name,
                name: filename,
                size: bytes.len() as u64,
            });
            continue;
        }
        let known = IDENTITY_KEYS.contains(&name.as_str())
            || name == CONSENT_KEY
            || name == HONEYPOT
            || name == CHALLENGE
            || name == SOLUTION
            || form.fields.iter().any(|f| f.key == name);
        if !known || field.file_name().is_some() {
            continue;
        }
        let value = field.text().await.ok()?;
        match name.as_str() {
            HONEYPOT => {}
            CHALLENGE => posted.challenge = value.trim().to_owned(),
            SOLUTION => posted.solution = value.trim().to_owned(),
            _ => {
                posted.values.insert(name, value);
            }
        }
    }
    Some(posted)
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let forms = forms();
    let Some(form) = forms.get(usize::from(choice) % forms.len().max(1)) else {
        return;
    };
    let (header, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(boundary) = multer::parse_boundary(String::from_utf8_lossy(header)) else {
        return;
    };
    // The body in one piece, or in chunks of 7 to 441 bytes (a boundary across two chunks).
    let chunk = match usize::from(choice >> 2) {
        0 => body.len().max(1),
        n => n * 7,
    };
    let Some(posted) = futures::executor::block_on(read(body, chunk, boundary, form)) else {
        return;
    };
    let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap_or_default();
    let _ = request_form::validate_submission(form, &posted.values, &posted.files, today);
    let _ = pow::verify(
        b"fuzz key of 32 bytes, not secret",
        &posted.challenge,
        &posted.solution,
        1_773_532_800,
        3600,
    );
});
