//! `read_sources`: .eml files, mbox files, maildirs, directories of .eml files.

use std::path::Path;

use parapheur_mail::{Limits, Rejection, parse, read_sources};

fn corpus(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(rel)
}

#[test]
fn single_eml_file() {
    let path = corpus("own/reply-chrono.eml");
    let got = read_sources(&path, &Limits::default()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].origin, path.display().to_string());
    assert_eq!(
        got[0].bytes.as_ref().unwrap(),
        &std::fs::read(&path).unwrap()
    );
}

#[test]
fn maildir_reads_cur_and_new_sorted() {
    let path = corpus("mail-parser/maildir");
    let got = read_sources(&path, &Limits::default()).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got[0].origin.contains("/cur/"), "{}", got[0].origin);
    assert!(got[1].origin.contains("/new/"));
    // mail-parser's maildir fixtures are stubs ("a\n"): read, then refused as no message.
    for s in &got {
        let bytes = s.bytes.as_ref().unwrap();
        assert!(matches!(
            parse(bytes, &Limits::default()),
            Err(Rejection::NotAMessage(_))
        ));
    }
}

#[test]
fn directory_of_eml_files() {
    let got = read_sources(&corpus("own"), &Limits::default()).unwrap();
    assert_eq!(got.len(), std::fs::read_dir(corpus("own")).unwrap().count());
    let mut origins: Vec<_> = got.iter().map(|s| s.origin.clone()).collect();
    let sorted = {
        origins.sort();
        origins.clone()
    };
    assert_eq!(
        got.iter().map(|s| s.origin.clone()).collect::<Vec<_>>(),
        sorted
    );
}

#[test]
fn mbox_is_split_and_oversized_messages_are_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("archive.mbox");
    let big_body = "x".repeat(5000);
    let content = format!(
        "From a@x.fr Mon Jan 12 10:00:00 2026\nFrom: a@x.fr\nSubject: un\n\nPremier\n>From the mboxrd escape\n\n\
         From b@x.fr Mon Jan 12 10:00:01 2026\nFrom: b@x.fr\nSubject: gros\n\n{big_body}\n\n\
         From c@x.fr Mon Jan 12 10:00:02 2026\nFrom: c@x.fr\nSubject: trois\n\nDernier\n"
    );
    std::fs::write(&mbox, content).unwrap();
    let limits = Limits {
        max_message_bytes: 1000,
        ..Limits::default()
    };
    let got = read_sources(&mbox, &limits).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].origin, format!("{}#1", mbox.display()));
    assert_eq!(got[2].origin, format!("{}#3", mbox.display()));
    let first = parse(got[0].bytes.as_ref().unwrap(), &limits).unwrap();
    assert_eq!(first.subject, "un");
    assert_eq!(first.text_body, "Premier\nFrom the mboxrd escape");
    assert!(
        matches!(got[1].bytes, Err(Rejection::TooLarge { limit: 1000, .. })),
        "{:?}",
        got[1].bytes
    );
    assert_eq!(
        parse(got[2].bytes.as_ref().unwrap(), &limits)
            .unwrap()
            .subject,
        "trois"
    );
}

#[test]
fn too_large_and_empty_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.eml");
    // A sparse 2 GiB file: reading it would take seconds and gigabytes; metadata says no.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    std::fs::write(dir.path().join("empty.eml"), b"").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored: not .eml").unwrap();
    let start = std::time::Instant::now();
    let got = read_sources(dir.path(), &Limits::default()).unwrap();
    assert!(start.elapsed().as_secs() < 1);
    assert_eq!(got.len(), 2);
    let big = &got[0];
    assert!(big.origin.ends_with("big.eml"));
    let err = big.bytes.clone().unwrap_err();
    assert_eq!(
        err,
        Rejection::TooLarge {
            size: 2 << 30,
            limit: 100 << 20
        }
    );
    assert_eq!(
        err.to_string(),
        "message trop volumineux : 2 Go pour une limite de 100 Mo"
    );
    assert_eq!(got[1].bytes, Err(Rejection::Empty));
    assert!(read_sources(&dir.path().join("missing"), &Limits::default()).is_err());
}
