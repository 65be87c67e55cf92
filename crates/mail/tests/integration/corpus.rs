//! Every message of `tests/corpus/` (real-world messages from other projects, see
//! `SOURCES.md`, and our own hard cases) is parsed; then truncations and byte flips of
//! each are fed to `parse`, which must never panic.

use std::path::{Path, PathBuf};

use parapheur_mail::{Limits, Rejection, parse};

fn corpus_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .file_name()
                .is_some_and(|n| n != "SOURCES.md" && !n.to_string_lossy().starts_with('.'))
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"),
        &mut files,
    );
    files.sort();
    files
}

#[test]
fn every_corpus_message_parses_or_is_rejected_with_a_reason() {
    let files = corpus_files();
    assert!(files.len() >= 60 + 14, "corpus too small: {}", files.len());
    let (mut parsed, mut rejected, mut with_warnings, mut attachments) = (0, 0, 0, 0);
    let limits = Limits::default();
    let start = std::time::Instant::now();
    for file in &files {
        let raw = std::fs::read(file).unwrap();
        match parse(&raw, &limits) {
            Ok(m) => {
                parsed += 1;
                let has_content = m.from.is_some()
                    || !m.subject.is_empty()
                    || !m.text_body.trim().is_empty()
                    || !m.attachments.is_empty();
                assert!(has_content, "{}: parsed to nothing", file.display());
                for a in &m.attachments {
                    let name = &a.filename;
                    assert!(!name.is_empty() && name.chars().count() <= 200, "{name:?}");
                    assert!(
                        !name.contains(['/', '\\', '\0']) && !name.chars().any(char::is_control),
                        "{name:?}"
                    );
                }
                if let Some(html) = &m.html_body {
                    let lower = html.to_lowercase();
                    assert!(
                        !lower.contains("<script") && !lower.contains("javascript:"),
                        "{}",
                        file.display()
                    );
                    assert!(
                        !lower.contains("src=\"http") && !lower.contains("src=\"//"),
                        "{}",
                        file.display()
                    );
                }
                if !m.warnings.is_empty() {
                    with_warnings += 1;
                }
                attachments += m.attachments.len();
            }
            Err(e) => {
                rejected += 1;
                let reason = e.to_string();
                assert!(reason.len() > 10, "{}: {reason}", file.display());
                assert!(
                    !matches!(e, Rejection::Internal(_)),
                    "{}: {reason}",
                    file.display()
                );
                eprintln!("rejected {}: {reason}", file.display());
            }
        }
    }
    eprintln!(
        "corpus: {} files, {parsed} parsed ({with_warnings} with warnings, {attachments} attachments), {rejected} rejected, in {:?}",
        files.len(),
        start.elapsed()
    );
    // Real-world messages are messages: at most a handful of odd ones may be refused.
    assert!(rejected * 20 <= files.len(), "{rejected} rejected");
}

/// xorshift64*: a tiny deterministic generator, so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const MAIL_PARSER_DEBUG_ASSERTS: &[&str] = &[
    "Invalid part ID",
    "could not find",
    "Failed to restore parent message",
    "This should not have happened",
];

#[test]
fn mutated_corpus_never_panics() {
    let limits = Limits::default();
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let start = std::time::Instant::now();
    let mut runs = 0;
    let mut caught = 0;
    // MAIL_FUZZ_ROUNDS=200 for a longer hunt; the default keeps the test near a second.
    let rounds: usize = std::env::var("MAIL_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(6);
    for file in corpus_files() {
        let raw = std::fs::read(&file).unwrap();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        // Truncations: at random points and right after each boundary-ish line start.
        for _ in 0..rounds {
            variants.push(raw[..rng.below(raw.len())].to_vec());
        }
        // Byte flips, insertions of MIME-significant bytes, deletions.
        for _ in 0..rounds {
            let mut v = raw.clone();
            for _ in 0..1 + rng.below(8) {
                if v.is_empty() {
                    break;
                }
                let i = rng.below(v.len());
                match rng.below(4) {
                    0 => v[i] ^= 1 << rng.below(8),
                    1 => {
                        const SPECIAL: &[u8] = b"\r\n:;=?\"<>-\0\xff";
                        v[i] = SPECIAL[rng.below(SPECIAL.len())]
                    }
                    2 => {
                        v.remove(i);
                    }
                    _ => {
                        let j = rng.below(v.len());
                        let chunk = v[i.min(j)..i.max(j).min(i.min(j) + 64)].to_vec();
                        v.splice(i..i, chunk);
                    }
                }
            }
            variants.push(v);
        }
        for v in variants {
            runs += 1;
            if let Err(Rejection::Internal(reason)) = parse(&v, &limits) {
                // mail-parser 0.11 has debug_assert!s on states it recovers from in
                // release builds; parse() catches them. Anything else is our bug.
                let known = MAIL_PARSER_DEBUG_ASSERTS.iter().any(|m| reason.contains(m));
                assert!(
                    cfg!(debug_assertions) && known,
                    "{}: internal error on a mutation: {reason}",
                    file.display()
                );
                caught += 1;
            }
        }
    }
    eprintln!(
        "{runs} mutated messages parsed in {:?} ({caught} debug assertions of mail-parser caught)",
        start.elapsed()
    );
}

/// `cargo test -p parapheur-mail --test corpus -- --ignored --nocapture` prints what was
/// read from each message, to eyeball.
#[test]
#[ignore]
fn print_summary() {
    for file in corpus_files() {
        let raw = std::fs::read(&file).unwrap();
        let name = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .display()
            .to_string();
        match parse(&raw, &Limits::default()) {
            Ok(m) => {
                let text: String = m.text_body.chars().take(70).collect();
                println!(
                    "{name}\n  from={:?} subject={:?} date={:?}\n  text={:?} html={} scan={}\n  attachments={:?}\n  warnings={:?}",
                    m.from.map(|a| a.email),
                    m.subject,
                    m.date,
                    text,
                    m.html_body.map_or(0, |h| h.len()),
                    m.looks_like_scan,
                    m.attachments
                        .iter()
                        .map(|a| format!("{} {} {}", a.filename, a.media_type, a.bytes.len()))
                        .collect::<Vec<_>>(),
                    m.warnings
                );
            }
            Err(e) => println!("{name}\n  REJECTED {e}"),
        }
    }
}
