//! Issue 18, point 6: a signed PDF that arrives (email, upload, drop folder) is stored byte
//! for byte, its signatures are verified on arrival by the product's verifier, and text
//! extraction and OCR work on a copy, never on the original.

use std::time::{Duration, SystemTime};

use crate::harness::{Db, Harness, SYSTEM, both};
use chrono::Utc;
use parapheur_app::NewFile;
use parapheur_app::capture::dropfolder::FolderWatch;
use parapheur_app::capture::{CaptureOutcome, MessageSource};
use parapheur_app::domain::Channel;
use parapheur_app::domain::item::NewItem;
use parapheur_app::register::signatures::Verdict;
use parapheur_testkit::{altered, mail_with_pdf, signed_pdf};
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The one file of an item: its stored hash and bytes, and its signatures' verdict.
async fn the_file(
    h: &Harness,
    commune: &parapheur_app::domain::Commune,
    item_id: uuid::Uuid,
) -> (
    String,
    Vec<u8>,
    Option<parapheur_app::register::signatures::SignatureCheck>,
) {
    let files = h.app.item_files(commune, item_id).await.unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let f = &files[0];
    let bytes = h
        .app
        .read_file(commune.id, &f.attachment.sha256)
        .await
        .unwrap();
    (f.attachment.sha256.clone(), bytes, f.signatures.clone())
}

async fn signed_pdfs_by_email_are_kept_byte_for_byte_and_verified(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let signed = signed_pdf(
        &h.app,
        &commune,
        "maire@exemple.fr",
        "Sylvie Moreau",
        "Arrete du maire",
    )
    .await;
    let outcome = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("signé"),
            Ok(mail_with_pdf(
                "Préfecture <courrier@prefecture.example>",
                "Arrêté signé",
                "arrete.pdf",
                &signed,
            )),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let (sha, bytes, check) = the_file(&h, &commune, item_id).await;
    assert_eq!(
        sha,
        sha256(&signed),
        "stored under the hash of what was sent"
    );
    assert_eq!(bytes, signed, "byte for byte");
    let check = check.expect("verified on arrival");
    assert_eq!(check.verdict, Verdict::Valid, "{check:?}");
    assert_eq!(check.signatures.len(), 1);
    let s = &check.signatures[0];
    assert_eq!(s.signer, "Sylvie Moreau");
    assert!(s.intact && s.trusted && s.changes_after.is_empty(), "{s:?}");
    let line = s.line_fr(commune.zone());
    assert!(
        line.starts_with("Signé par Sylvie Moreau le ") && line.ends_with(", intact"),
        "{line}"
    );
    // The verdict is journaled: the hash chain covers what the page shows.
    let journal = h
        .app
        .store()
        .journal_of(commune.id, "file", &sha)
        .await
        .unwrap();
    assert!(
        journal.iter().any(|e| e.action == "file.signatures"),
        "{journal:?}"
    );

    // The same document, one letter of its signed content changed: kept as it came, and
    // said altered.
    let tampered = altered(&signed, "Arrete du maire");
    let outcome = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("altéré"),
            Ok(mail_with_pdf(
                "Inconnu <x@exemple.fr>",
                "Arrêté",
                "arrete.pdf",
                &tampered,
            )),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let (sha, bytes, check) = the_file(&h, &commune, item_id).await;
    assert_eq!(sha, sha256(&tampered));
    assert_eq!(bytes, tampered, "an altered file is stored as is too");
    let check = check.expect("verified on arrival");
    assert_eq!(check.verdict, Verdict::Altered, "{check:?}");
    assert!(!check.signatures[0].intact);
    assert!(
        check.signatures[0]
            .line_fr(commune.zone())
            .ends_with(", signature altérée")
    );
    assert!(!check.verdict.intact());
}

async fn uploads_and_dropped_scans_are_verified_too_and_unsigned_files_are_not_parsed(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let signed = signed_pdf(
        &h.app,
        &commune,
        "maire@exemple.fr",
        "Sylvie Moreau",
        "Convention signee",
    )
    .await;
    let today = chrono::Utc::now().date_naive();
    // An upload (the web form and the API register through this use case).
    let registered = h
        .app
        .register(
            &commune,
            &SYSTEM,
            NewItem::incoming(Channel::Paper, "Convention", today),
            vec![
                NewFile {
                    filename: "convention.pdf".into(),
                    media_type: "application/pdf".into(),
                    bytes: signed.clone(),
                },
                NewFile {
                    filename: "annexe.pdf".into(),
                    media_type: "application/pdf".into(),
                    bytes: parapheur_testkit::tiny_pdf("Annexe"),
                },
            ],
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(registered.attachments[0].sha256, sha256(&signed));
    assert_eq!(
        registered.signatures.len(),
        1,
        "the unsigned annex has none"
    );
    assert_eq!(registered.signatures[0].1.verdict, Verdict::Valid);
    let files = h
        .app
        .item_files(&commune, registered.item.id)
        .await
        .unwrap();
    assert!(files[0].signatures.is_some());
    assert!(files[1].signatures.is_none());

    // A scan dropped by the copier: another commune's signature (unknown authority, so
    // intact but not trusted), kept as it came.
    let other = h.commune("37154").await;
    let foreign = signed_pdf(
        &h.app,
        &other,
        "maire@ailleurs.fr",
        "Jean Dupont",
        "Courrier de Montbazon",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan-signe.pdf");
    std::fs::write(&path, &foreign).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let mut watch = FolderWatch::default();
    for _ in 0..2 {
        h.app
            .scan_drop_folder(&commune, dir.path(), &mut watch, Utc::now)
            .await
            .unwrap();
    }
    let inbound = h
        .app
        .store()
        .inbound_list(commune.id, None, 10)
        .await
        .unwrap();
    let item_id = inbound
        .iter()
        .find(|m| m.source == "folder")
        .and_then(|m| m.item_id)
        .expect("the scan registered");
    let (sha, bytes, check) = the_file(&h, &commune, item_id).await;
    assert_eq!((sha, bytes), (sha256(&foreign), foreign.clone()));
    let check = check.unwrap();
    assert_eq!(check.verdict, Verdict::Untrusted, "{check:?}");
    assert!(check.signatures[0].intact && !check.signatures[0].trusted);
}

/// Text extraction and OCR read a copy: after the job ran, the original is the same
/// bytes under the same hash, its signature still verifies, and OCR's searchable PDF is
/// another file.
async fn extraction_and_ocr_never_touch_the_original(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    // A short text layer: the extractor treats it as a scan and OCRs it (when tesseract
    // and its French model are installed; the original must be untouched either way).
    let signed = parapheur_testkit::signed_invisibly("Avis favorable");
    let outcome = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("ocr"),
            Ok(mail_with_pdf("a@exemple.fr", "Avis", "avis.pdf", &signed)),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let done = h.app.drain_jobs().await.unwrap();
    assert_eq!(done.total(), 1, "{done:?}");
    let (sha, bytes, check) = the_file(&h, &commune, item_id).await;
    assert_eq!(sha, sha256(&signed));
    assert_eq!(bytes, signed, "extraction left the original as it came");
    assert_eq!(check.unwrap().verdict, Verdict::Untrusted);
    let report = h.app.verify_pdf(&commune, bytes, Utc::now()).await.unwrap();
    assert!(
        report
            .signatures
            .iter()
            .all(|s| s.intact && s.covers_revision),
        "{report:?}"
    );
    let text = h.app.file_text(&commune, &sha).await.unwrap().unwrap();
    let tools = h.app.extract_tools().await;
    if tools.missing_for_pdf_ocr().is_none() && tools.missing_for_pdf().is_none() {
        assert_eq!(text.state, "done", "{text:?}");
        assert_eq!(text.method.as_deref(), Some("ocr"), "{text:?}");
        assert!(
            text.text
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains("avis"),
            "{text:?}"
        );
        let searchable = text.searchable_sha256.as_ref().expect("a searchable copy");
        assert_ne!(searchable, &sha, "OCR's searchable PDF is another file");
        let copy = h.app.read_file(commune.id, searchable).await.unwrap();
        assert_ne!(copy, signed);
        eprintln!(
            "measured: original {} bytes kept as {sha}; OCR read a copy and wrote a searchable \
             PDF of {} bytes as {searchable}",
            signed.len(),
            copy.len()
        );
    } else {
        eprintln!("SKIPPED (OCR): {:?}", tools.diagnostics());
    }
    let attachments = h.app.attachments(commune.id, item_id).await.unwrap();
    assert_eq!(
        attachments.len(),
        1,
        "the searchable copy is not an attachment"
    );
    assert_eq!(attachments[0].sha256, sha);
}

both!(
    signed_pdfs_by_email_are_kept_byte_for_byte_and_verified,
    uploads_and_dropped_scans_are_verified_too_and_unsigned_files_are_not_parsed,
    extraction_and_ocr_never_touch_the_original,
);
