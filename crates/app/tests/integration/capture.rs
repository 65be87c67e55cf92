//! Capture end to end on a real register (SQLite and PostgreSQL): real-world messages,
//! replies joining their item, quarantine and retry, the drop folder, text extraction and
//! full-text search.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::harness::{Db, Harness, SYSTEM, at, both, corpus, corpus_files};
use parapheur_app::capture::dropfolder::{FolderWatch, REFUSED_DIR};
use parapheur_app::capture::{CaptureOutcome, MessageSource, Rule, RuleField};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Status};
use parapheur_app::search::simple_query;
use parapheur_app::{Change, FsckOptions, NewFile};
use parapheur_store::capture::InboundState;

fn mail(from: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: mairie@exemple.fr\r\nSubject: {subject}\r\n\
         Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n{extra_headers}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn every_message_is_taken_once_and_none_is_lost(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let files = corpus_files();
    assert!(files.len() >= 60, "corpus too small: {}", files.len());
    let mut counts = [0usize; 3];
    for (i, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let outcome = h
            .app
            .capture_message(
                &commune,
                MessageSource::import(path.display().to_string()),
                Ok(bytes),
                at(2026, 3, 2) + chrono::Duration::seconds(i as i64),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match outcome {
            CaptureOutcome::Registered { .. } => counts[0] += 1,
            CaptureOutcome::Attached { .. } => counts[1] += 1,
            CaptureOutcome::Quarantined { reason, .. } => {
                assert!(!reason.trim().is_empty());
                counts[2] += 1
            }
            // Two corpus files may hold the same bytes.
            CaptureOutcome::AlreadyTaken { .. } => {}
        }
    }
    eprintln!(
        "corpus: {} files, {} registered, {} attached, {} quarantined",
        files.len(),
        counts[0],
        counts[1],
        counts[2]
    );
    assert!(counts[0] >= 50, "most real messages register: {counts:?}");
    let recorded = h
        .app
        .store()
        .inbound_list(commune.id, None, 10_000)
        .await
        .unwrap();
    assert_eq!(
        recorded.len(),
        counts.iter().sum::<usize>(),
        "one record per message"
    );
    // Every original is kept, whatever became of the message.
    for r in &recorded {
        let sha = r.sha256.as_ref().expect("original kept");
        assert!(!h.app.read_file(commune.id, sha).await.unwrap().is_empty());
    }
    let items_before = h.app.store().item_count(commune.id).await.unwrap();

    // A restart, and the same messages again: nothing new.
    let app = h.reopen().await;
    for path in &files {
        let outcome = app
            .capture_message(
                &commune,
                MessageSource::import(path.display().to_string()),
                Ok(std::fs::read(path).unwrap()),
                at(2026, 3, 3),
            )
            .await
            .unwrap();
        assert!(
            matches!(outcome, CaptureOutcome::AlreadyTaken { .. }),
            "{}: {outcome:?}",
            path.display()
        );
    }
    assert_eq!(
        app.store().item_count(commune.id).await.unwrap(),
        items_before
    );
}

async fn replies_join_their_item(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let first = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("first"),
            Ok(mail(
                "Jeanne Martin <jeanne.martin@exemple.fr>",
                "Demande d'élagage",
                "Message-ID: <first@exemple.fr>\r\n",
                "Bonjour, le tilleul déborde sur la voie.",
            )),
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { chrono, item_id } = first else {
        panic!("{first:?}")
    };
    let item = h.app.store().item(commune.id, item_id).await.unwrap();
    assert_eq!(item.channel, Channel::Email);
    assert!(item.body.as_deref().unwrap().contains("tilleul"));
    let senders = h.app.store().item_contacts(item_id).await.unwrap();
    assert_eq!(senders.len(), 1, "sender matched or created");

    // A reference to a message we received, or a chrono number quoted in a subject, proves
    // nothing about who writes (the trust issue's finding 7): each is registered on its
    // own, with a word for the agent, and the first item gets no file, note or message.
    let by_thread = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("thread"),
            Ok(mail(
                "jeanne.martin@EXEMPLE.fr",
                "Re: Demande",
                "Message-ID: <second@exemple.fr>\r\nIn-Reply-To: <first@exemple.fr>\r\n",
                "Précision : côté rue.",
            )),
            at(2026, 3, 3),
        )
        .await
        .unwrap();
    let by_number = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("number"),
            Ok(mail(
                "voisin@exemple.fr",
                &format!("Votre courrier {chrono}"),
                "",
                "Je suis le voisin.",
            )),
            at(2026, 3, 4),
        )
        .await
        .unwrap();
    for (outcome, words) in [(&by_thread, "côté rue"), (&by_number, "Je suis le voisin")] {
        let CaptureOutcome::Registered {
            item_id: new_id, ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_ne!(*new_id, item_id);
        let new = h.app.store().item(commune.id, *new_id).await.unwrap();
        let body = new.body.unwrap();
        assert!(
            body.contains("[À rapprocher]") && body.contains(&chrono),
            "{body}"
        );
        assert!(body.contains(words), "{body}");
    }
    assert_eq!(h.app.store().item_count(commune.id).await.unwrap(), 3);
    assert!(
        h.app
            .store()
            .notes(commune.id, item_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.app
            .store()
            .item_messages(commune.id, item_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.app
            .store()
            .inbound_of_item(commune.id, item_id)
            .await
            .unwrap()
            .len(),
        1
    );

    // The same sender writing about something else: a new item, the same contact.
    let other = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("other"),
            Ok(mail(
                "jeanne.martin@exemple.fr",
                "Cantine",
                "",
                "Inscription.",
            )),
            at(2026, 3, 5),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered {
        item_id: other_id, ..
    } = other
    else {
        panic!("{other:?}")
    };
    assert_eq!(
        h.app.store().item_contacts(other_id).await.unwrap()[0].1,
        senders[0].1
    );
}

async fn quarantine_keeps_the_message_and_retry_registers_it(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    // Unreadable bytes: quarantined, kept.
    let garbage = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("garbage"),
            Ok(vec![0xff, 0x00, 0x13, 0x37]),
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    let CaptureOutcome::Quarantined { inbound_id, reason } = garbage else {
        panic!("{garbage:?}")
    };
    assert!(!reason.is_empty());
    let kept = h.app.store().inbound(commune.id, inbound_id).await.unwrap();
    assert_eq!(
        h.app
            .read_file(commune.id, kept.sha256.as_deref().unwrap())
            .await
            .unwrap(),
        vec![0xff, 0x00, 0x13, 0x37]
    );
    let err = h
        .app
        .retry_inbound(&commune, &SYSTEM, inbound_id, at(2026, 3, 3))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("illisible"), "{err}");

    // A rule routes to a service that was retired meanwhile: the message waits in
    // quarantine; once the service is back, a retry registers it.
    let service = h
        .app
        .add_service(&commune, "urba", "Urbanisme", &SYSTEM, at(2026, 3, 1))
        .await
        .unwrap();
    let rules = vec![Rule {
        field: RuleField::Subject,
        contains: "permis".into(),
        doctype: None,
        service_id: Some(service.id),
    }];
    let mailbox = h
        .app
        .add_mailbox(
            &commune,
            &SYSTEM,
            parapheur_app::capture::mailboxes::MailboxSettings {
                label: "Urbanisme".into(),
                config: parapheur_mailbox::MailboxConfig {
                    host: "127.0.0.1".into(),
                    port: 1,
                    security: parapheur_mailbox::Security::Plain,
                    username: "urba".into(),
                    password: "secret".into(),
                    folder: "INBOX".into(),
                    after_capture: parapheur_mailbox::AfterCapture::Leave,
                    network: Default::default(),
                },
                rules: rules.clone(),
                active: true,
            },
            at(2026, 3, 1),
        )
        .await
        .unwrap();
    h.app
        .update_service(
            &commune,
            &SYSTEM,
            service.id,
            "Urbanisme",
            "",
            "",
            false,
            at(2026, 3, 1),
        )
        .await
        .unwrap();
    let source = MessageSource {
        source: format!("imap:{mailbox}"),
        source_key: Some("7:1".into()),
        origin: "Urbanisme — UID 1".into(),
        cursor: Some((mailbox, 7, 1)),
        rules,
    };
    let routed = h
        .app
        .capture_message(
            &commune,
            source,
            Ok(mail(
                "a@exemple.fr",
                "Mon PERMIS de construire",
                "",
                "Voici.",
            )),
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    let CaptureOutcome::Quarantined { inbound_id, reason } = routed else {
        panic!("{routed:?}")
    };
    assert!(reason.contains("service"), "{reason}");
    let row = h.app.store().mailbox(commune.id, mailbox).await.unwrap();
    assert_eq!(
        (row.uid_validity, row.last_uid),
        (Some(7), 1),
        "cursor moved with it"
    );
    assert_eq!(h.app.store().quarantine_count(commune.id).await.unwrap(), 2);
    h.app
        .update_service(
            &commune,
            &SYSTEM,
            service.id,
            "Urbanisme",
            "",
            "",
            true,
            at(2026, 3, 3),
        )
        .await
        .unwrap();
    let retried = h
        .app
        .retry_inbound(&commune, &SYSTEM, inbound_id, at(2026, 3, 3))
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = retried else {
        panic!("{retried:?}")
    };
    assert_eq!(
        h.app
            .store()
            .item(commune.id, item_id)
            .await
            .unwrap()
            .service_id,
        Some(service.id)
    );
    let record = h.app.store().inbound(commune.id, inbound_id).await.unwrap();
    assert_eq!(record.state, InboundState::Registered);
    assert_eq!(record.item_id, Some(item_id));
    assert_eq!(h.app.store().quarantine_count(commune.id).await.unwrap(), 1);
    // Too large to fetch: quarantined with the reason, nothing to retry from.
    let big = h
        .app
        .capture_message(
            &commune,
            MessageSource::import("big"),
            Err("message de 1024 Mo : il dépasse la limite".into()),
            at(2026, 3, 3),
        )
        .await
        .unwrap();
    assert!(matches!(big, CaptureOutcome::Quarantined { .. }));
}

async fn copier_scans_by_email_are_paper_items(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    for name in ["scan-ricoh.eml", "scan-canon-fr.eml"] {
        let bytes = std::fs::read(corpus().join("own").join(name)).unwrap();
        let outcome = h
            .app
            .capture_message(
                &commune,
                MessageSource::import(name),
                Ok(bytes),
                at(2026, 3, 2),
            )
            .await
            .unwrap();
        let CaptureOutcome::Registered { item_id, .. } = outcome else {
            panic!("{name}: {outcome:?}")
        };
        let item = h.app.store().item(commune.id, item_id).await.unwrap();
        assert_eq!(item.channel, Channel::Paper, "{name}");
        assert!(
            !h.app
                .store()
                .attachments(commune.id, item_id)
                .await
                .unwrap()
                .is_empty(),
            "{name}: the scan is attached"
        );
    }
}

fn set_old(path: &Path) {
    let old = SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

async fn drop_folder_takes_settled_files_once(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("scan-0001.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% un scan\n%%EOF\n").unwrap();
    set_old(&pdf);
    let growing = dir.path().join("scan-0002.pdf");
    std::fs::write(&growing, b"%PDF-1.4\n").unwrap();
    set_old(&growing);
    std::fs::write(dir.path().join("scan-0003.pdf.part"), b"%PDF-1.4").unwrap();
    let word = dir.path().join("lettre.docx");
    std::fs::write(&word, b"PK\x03\x04 pas un scan").unwrap();
    set_old(&word);

    let mut watch = FolderWatch::default();
    let now = || at(2026, 3, 2);
    // First pass: nothing is taken (a file must be unchanged across two passes).
    assert!(
        h.app
            .scan_drop_folder(&commune, dir.path(), &mut watch, now)
            .await
            .unwrap()
            .is_empty()
    );
    // The copier is still writing the second file.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&growing)
        .unwrap()
        .write_all_at_end(b"more pages");
    let taken = h
        .app
        .scan_drop_folder(&commune, dir.path(), &mut watch, now)
        .await
        .unwrap();
    let names: Vec<&str> = taken.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["lettre.docx", "scan-0001.pdf"], "{taken:?}");
    assert!(matches!(taken[1].1, CaptureOutcome::Registered { .. }));
    assert!(!pdf.exists(), "left the folder once committed");
    assert!(growing.exists(), "still being written: not taken");
    assert!(dir.path().join("scan-0003.pdf.part").exists());
    // The refused file is set aside with its reason, not deleted.
    assert!(dir.path().join(REFUSED_DIR).join("lettre.docx").exists());
    let reason =
        std::fs::read_to_string(dir.path().join(REFUSED_DIR).join("lettre.docx.raison.txt"))
            .unwrap();
    assert!(reason.contains("PDF"), "{reason}");
    let items = h.app.store().item_count(commune.id).await.unwrap();
    assert_eq!(items, 1);
}

trait AppendAtEnd {
    fn write_all_at_end(self, bytes: &[u8]);
}

impl AppendAtEnd for std::fs::File {
    fn write_all_at_end(mut self, bytes: &[u8]) {
        use std::io::Write;
        self.write_all(bytes).unwrap();
        self.sync_all().unwrap();
    }
}

async fn search_finds_words_of_files_and_follows_changes(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let a = h.commune("01004").await;
    let b = h.commune("01053").await;
    let letter =
        |subject: &str| NewItem::incoming(Channel::Paper, subject, at(2026, 3, 2).date_naive());
    let with_text = h
        .app
        .register(
            &a,
            &SYSTEM,
            letter("Courrier de M. Durand"),
            vec![NewFile {
                filename: "lettre.txt".into(),
                media_type: "text/plain".into(),
                bytes: "Les lampadaires de la rue des Écoles ne s'allument plus : éclairage public en panne."
                    .as_bytes()
                    .to_vec(),
            }],
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    let plural = h
        .app
        .register(
            &a,
            &SYSTEM,
            letter("Demandes de subventions des associations"),
            vec![],
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    h.app
        .register(
            &b,
            &SYSTEM,
            letter("Éclairage du stade"),
            vec![],
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    // The file's text is not there before the job ran: registration does not wait.
    let found = h
        .app
        .search_items(a.id, simple_query("lampadaires", 10, false))
        .await
        .unwrap();
    assert_eq!(found.total, 0);
    let done = h.app.drain_jobs().await.unwrap();
    assert_eq!(done.extracted, 1, "{done:?}");
    // The extracted text is sealed with the commune's key in the database (the trust
    // issue's finding 9), and opened for those who read it.
    let sha = &with_text.attachments[0].sha256;
    let stored = h.app.store().file_text(a.id, sha).await.unwrap().unwrap();
    let stored = stored.text.unwrap();
    assert!(
        stored.starts_with("sk1:") && !stored.contains("lampadaires"),
        "{stored}"
    );
    let opened = h.app.file_text(&a, sha).await.unwrap().unwrap();
    assert!(opened.text.unwrap().contains("lampadaires"));
    let found = h
        .app
        .search_items(a.id, simple_query("eclairage", 10, false))
        .await
        .unwrap();
    assert_eq!(found.total, 1, "accents folded, text of the file indexed");
    assert_eq!(found.hits[0].item.id, with_text.item.id);
    assert!(
        found.hits[0].snippet_html.contains("<mark>"),
        "{}",
        found.hits[0].snippet_html
    );
    // Stemming: the singular finds the plural; the other commune's "Éclairage" never shows.
    let found = h
        .app
        .search_items(a.id, simple_query("demande subvention", 10, false))
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].item.id, plural.item.id);
    // A change of status is followed (filters read the index).
    h.app
        .change_item(
            &a,
            &SYSTEM,
            plural.item.id,
            Change::Status {
                to: Status::InProgress,
                reason: None,
            },
            at(2026, 3, 3),
        )
        .await
        .unwrap();
    let mut q = simple_query("", 10, true);
    q.status = Some("in_progress".into());
    let found = h.app.search_items(a.id, q).await.unwrap();
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].item.id, plural.item.id);

    // Rebuilt from the database: the same answers.
    let count = h.app.reindex(a.id, |_| {}).await.unwrap();
    assert_eq!(count, 2);
    let found = h
        .app
        .search_items(a.id, simple_query("lampadaire", 10, false))
        .await
        .unwrap();
    assert_eq!(found.total, 1);
}

async fn the_queue_extracts_several_files_at_once_each_its_own_text(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let mut files = Vec::new();
    for n in 0..7 {
        let registered = h
            .app
            .register(
                &commune,
                &SYSTEM,
                NewItem::incoming(
                    Channel::Paper,
                    format!("Note {n}"),
                    at(2026, 3, 2).date_naive(),
                ),
                vec![NewFile {
                    filename: format!("note-{n}.txt"),
                    media_type: "text/plain; charset=utf-8".into(),
                    bytes: format!("Compte rendu numéro {n} du conseil").into_bytes(),
                }],
                at(2026, 3, 2),
            )
            .await
            .unwrap();
        files.push((n, registered.attachments[0].sha256.clone()));
    }
    // More files than workers: they run side by side, and each text lands on its own file.
    let done = h.app.drain_jobs().await.unwrap();
    assert_eq!(
        (done.extracted, done.not_extracted, done.retried),
        (7, 0, 0)
    );
    for (n, sha) in files {
        let text = h.app.file_text(&commune, &sha).await.unwrap().unwrap();
        assert_eq!(text.state, "done");
        assert_eq!(
            text.text.as_deref(),
            Some(format!("Compte rendu numéro {n} du conseil").as_str())
        );
    }
}

async fn without_ocr_files_are_kept_and_marked_not_extracted(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    // A machine without tesseract nor poppler.
    h.app.use_extract_tools(parapheur_extract::Tools::default());
    let png = b"\x89PNG\r\n\x1a\n scan".to_vec();
    let registered = h
        .app
        .register(
            &commune,
            &SYSTEM,
            NewItem::incoming(
                Channel::Paper,
                "Lettre numérisée",
                at(2026, 3, 2).date_naive(),
            ),
            vec![NewFile {
                filename: "scan.png".into(),
                media_type: "image/png".into(),
                bytes: png.clone(),
            }],
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    let done = h.app.drain_jobs().await.unwrap();
    assert_eq!((done.extracted, done.not_extracted), (0, 1), "{done:?}");
    let text = h
        .app
        .store()
        .file_text(commune.id, &registered.attachments[0].sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text.state, "failed");
    assert!(
        text.reason.as_deref().unwrap().contains("tesseract"),
        "{text:?}"
    );
    // The file itself is untouched and the item is registered.
    assert_eq!(
        h.app
            .read_file(commune.id, &registered.attachments[0].sha256)
            .await
            .unwrap(),
        png
    );
}

/// One batch (group commit) holding a message twice, a reply to a message of the same
/// batch, an unreadable message and a message refused by its mailbox rule: each is taken as
/// if it had come alone, in order, with gapless numbers.
async fn a_batch_takes_each_message_as_if_alone(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let first = mail(
        "Jeanne Martin <jeanne@exemple.fr>",
        "Demande de salle",
        "Message-ID: <salle@exemple.fr>\r\n",
        "Bonjour, je souhaite réserver la salle des fêtes.",
    );
    let reply = mail(
        "Jeanne Martin <jeanne@exemple.fr>",
        "Re: Demande de salle",
        "Message-ID: <salle-2@exemple.fr>\r\nIn-Reply-To: <salle@exemple.fr>\r\n",
        "J'oubliais : pour le 14 juillet.",
    );
    let other = mail(
        "paul@exemple.fr",
        "Voirie",
        "",
        "Un nid-de-poule rue Haute.",
    );
    let refusing_rule = Rule {
        field: RuleField::Subject,
        contains: "urbanisme".into(),
        doctype: Some("inconnu".into()),
        service_id: None,
    };
    let refused = MessageSource {
        rules: vec![refusing_rule],
        ..MessageSource::import("regle")
    };
    let refused_mail = mail("luc@exemple.fr", "Urbanisme", "", "Un permis.");
    let messages = vec![
        (MessageSource::import("a"), Ok(first.clone())),
        (MessageSource::import("b"), Ok(first)),
        (MessageSource::import("c"), Ok(reply)),
        (
            MessageSource::import("d"),
            Err("illisible sur le disque".to_owned()),
        ),
        (refused, Ok(refused_mail)),
        (MessageSource::import("e"), Ok(other)),
    ];
    let outcomes = h
        .app
        .capture_messages(&commune, messages, at(2026, 3, 2))
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    let CaptureOutcome::Registered { chrono, item_id } = &outcomes[0] else {
        panic!("{outcomes:?}");
    };
    assert_eq!(
        outcomes[1],
        CaptureOutcome::AlreadyTaken {
            chrono: Some(chrono.clone())
        }
    );
    // A follow-up of a message of the same batch: the batch is written first, so that it
    // is found; not a reply to one of our emails, it is registered apart, to reconcile.
    let CaptureOutcome::Registered {
        item_id: follow_up, ..
    } = &outcomes[2]
    else {
        panic!("{outcomes:?}");
    };
    assert_ne!(follow_up, item_id);
    let body = h
        .app
        .store()
        .item(commune.id, *follow_up)
        .await
        .unwrap()
        .body
        .unwrap();
    assert!(body.contains(&format!("courrier {chrono}")), "{body}");
    assert!(
        matches!(&outcomes[3], CaptureOutcome::Quarantined { reason, .. } if reason == "illisible sur le disque"),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[4], CaptureOutcome::Quarantined { reason, .. } if reason.contains("inconnu")),
        "{outcomes:?}"
    );
    let CaptureOutcome::Registered { chrono: last, .. } = &outcomes[5] else {
        panic!("{outcomes:?}");
    };
    assert!(
        chrono.ends_with("000001") && last.ends_with("000003"),
        "{outcomes:?}"
    );
    let report = h
        .app
        .fsck(&FsckOptions::default(), chrono::Utc::now(), |_| {})
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    let verdicts = h.app.verify_journals(|_| {}).await.unwrap();
    assert!(verdicts.iter().all(|v| v.report.is_intact()));
}

/// Issue 16, corrections 6 and 7: an email delivered on Friday and polled on Monday arrived
/// on Friday; its sender gets an accusé d'enregistrement saying so, once; a program gets
/// none; the watch announces the accusé de réception due seven days after receipt; and the
/// arrival can be corrected, with a reason, journaled, the deadline following.
async fn emails_count_from_delivery_and_are_acknowledged_at_once(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let received =
        "Received: from mx.exemple.fr by imap.mairie.fr; Fri, 6 Nov 2026 18:40:00 +0100\r\n";
    let monday = at(2026, 11, 9);
    let mut items = Vec::new();
    for (key, from, extra) in [
        ("person", "Jeanne Martin <jeanne.martin@exemple.fr>", ""),
        (
            "program",
            "Lettre d'information <info@exemple.fr>",
            "Precedence: bulk\r\n",
        ),
    ] {
        let outcome = h
            .app
            .capture_message(
                &commune,
                MessageSource::import(key),
                Ok([
                    received.as_bytes(),
                    &mail(from, "Demande de salle", extra, "Bonjour."),
                ]
                .concat()),
                monday,
            )
            .await
            .unwrap();
        let CaptureOutcome::Registered { item_id, .. } = outcome else {
            panic!("{outcome:?}");
        };
        let item = h.app.store().item(commune.id, item_id).await.unwrap();
        assert_eq!(item.arrival_date.to_string(), "2026-11-06", "{key}");
        items.push(item);
    }
    let sent = h
        .app
        .acknowledge_email_registrations(&commune, monday)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    // Once only.
    let again = h
        .app
        .acknowledge_email_registrations(&commune, monday)
        .await;
    assert_eq!(again.unwrap(), 0);
    let thread = h
        .app
        .store()
        .item_messages(commune.id, items[0].id)
        .await
        .unwrap();
    let ack = thread
        .iter()
        .find(|m| m.kind == "ack_registration")
        .unwrap();
    assert!(
        ack.body.contains(
            "Votre demande, reçue le 6 novembre 2026, a été enregistrée le lundi 9 novembre 2026"
        ),
        "{}",
        ack.body
    );
    assert!(
        ack.body
            .contains("Un accusé de réception vous sera adressé au plus tard le 13 novembre 2026"),
        "{}",
        ack.body
    );
    let outbox = h
        .app
        .store()
        .outbox_of_item(commune.id, items[0].id)
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].recipients, "jeanne.martin@exemple.fr");
    let none = h
        .app
        .store()
        .outbox_of_item(commune.id, items[1].id)
        .await
        .unwrap();
    assert!(none.is_empty(), "no reply to a program: {none:?}");

    // The watch: the AR is due on 13 November (seven days), announced from the 11th.
    let watched = h
        .app
        .watched_items(&commune, at(2026, 11, 11))
        .await
        .unwrap();
    let alert = watched
        .iter()
        .find(|w| w.item.id == items[0].id)
        .and_then(|w| w.alerts.first())
        .map(|a| a.label_fr());
    assert_eq!(
        alert.as_deref(),
        Some(
            "accusé de réception électronique à envoyer au plus tard le 13 novembre 2026 (article L112-11)"
        )
    );

    // A wrong arrival corrected, with a reason; the note journals it.
    let corrected = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            items[0].id,
            Change::Arrival {
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 5).unwrap(),
                reason: "remis en main propre la veille".into(),
            },
            at(2026, 11, 10),
        )
        .await
        .unwrap();
    assert_eq!(corrected.arrival_date.to_string(), "2026-11-05");
    let notes = h.app.store().notes(commune.id, items[0].id).await.unwrap();
    assert!(
        notes.iter().any(|n| n.body
            == "Date d'arrivée corrigée du 6 novembre 2026 au 5 novembre 2026. Motif : remis en \
                main propre la veille"),
        "{notes:?}"
    );
}

both!(
    emails_count_from_delivery_and_are_acknowledged_at_once,
    a_batch_takes_each_message_as_if_alone,
    the_queue_extracts_several_files_at_once_each_its_own_text,
    without_ocr_files_are_kept_and_marked_not_extracted,
    every_message_is_taken_once_and_none_is_lost,
    replies_join_their_item,
    quarantine_keeps_the_message_and_retry_registers_it,
    copier_scans_by_email_are_paper_items,
    drop_folder_takes_settled_files_once,
    search_finds_words_of_files_and_follows_changes,
);
