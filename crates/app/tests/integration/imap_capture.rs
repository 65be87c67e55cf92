//! Mailbox capture against a real Dovecot (scripts/dovecot.sh): the whole corpus of
//! real-world messages is delivered, taken, the program restarts, takes again: none is lost
//! or duplicated; a new UIDVALIDITY hands the same messages out again and none is taken
//! twice; a wrong password is reported on the mailbox without losing anything.

use std::path::{Path, PathBuf};

use crate::harness::{Db, Harness, SYSTEM, both, corpus_files};
use parapheur_app::capture::mailboxes::MailboxSettings;
use parapheur_mailbox::AfterCapture;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dovecot.sh")
}

async fn mailbox_capture_takes_everything_once(db: Db) {
    let Some(server) = parapheur_mailbox::testing::start(&script()).unwrap() else {
        return;
    };
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    // A folder of its own: INBOX cannot be deleted, and the test recreates the folder.
    let mut config = server.config("mairie-a@test", AfterCapture::Leave);
    config.folder = "Mairie".into();
    parapheur_mailbox::tools::create_folder(&config, "Mairie")
        .await
        .unwrap();
    // Only what an IMAP server accepts as a message (it refuses a few corpus stubs).
    let mut delivered = 0;
    for path in corpus_files() {
        let raw = std::fs::read(&path).unwrap();
        if parapheur_mailbox::append(&config, &raw).await.is_ok() {
            delivered += 1;
        }
    }
    assert!(delivered >= 50, "only {delivered} messages delivered");
    let id = h
        .app
        .add_mailbox(
            &commune,
            &SYSTEM,
            MailboxSettings {
                label: "Accueil".into(),
                config: config.clone(),
                rules: Vec::new(),
                active: true,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let row = h.app.store().mailbox(commune.id, id).await.unwrap();
    let report = h
        .app
        .poll_mailbox(&commune, &row, chrono::Utc::now)
        .await
        .unwrap();
    let taken = report.registered + report.attached + report.quarantined;
    // Two corpus files hold the same bytes: the second is recognised, not taken twice.
    assert_eq!(
        (taken + report.already_taken) as usize,
        delivered,
        "{report:?}"
    );
    assert!(report.already_taken <= 2, "{report:?}");
    assert!(report.registered >= 50, "{report:?}");
    let items = h.app.store().item_count(commune.id).await.unwrap();
    let records = h
        .app
        .store()
        .inbound_list(commune.id, None, 10_000)
        .await
        .unwrap()
        .len();
    assert_eq!(records, taken as usize);

    // A restart: the cursor was saved with each message; nothing is taken again.
    let app = h.reopen().await;
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    assert!(row.last_uid >= delivered as i64);
    let again = app
        .poll_mailbox(&commune, &row, chrono::Utc::now)
        .await
        .unwrap();
    assert_eq!(
        again.registered + again.attached + again.quarantined + again.already_taken,
        0
    );

    // Two new messages: exactly those.
    for n in 0..2 {
        let raw = format!(
            "From: nouveau{n}@exemple.fr\r\nSubject: Nouvelle demande {n}\r\n\
             Message-ID: <nouveau-{n}@exemple.fr>\r\n\r\nBonjour.\r\n"
        );
        parapheur_mailbox::append(&config, raw.as_bytes())
            .await
            .unwrap();
    }
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    let new = app
        .poll_mailbox(&commune, &row, chrono::Utc::now)
        .await
        .unwrap();
    assert_eq!(new.registered, 2, "{new:?}");
    assert_eq!(app.store().item_count(commune.id).await.unwrap(), items + 2);
    // The server's copies were left as they were (Leave): nothing marked \Seen.
    let flags = parapheur_mailbox::tools::flags(&config).await.unwrap();
    assert!(
        flags
            .iter()
            .all(|(_, f)| !f.iter().any(|x| x.contains("Seen")))
    );

    // The folder is recreated (new UIDVALIDITY) with the same messages: the cursor
    // restarts, and each message is recognised by its bytes.
    parapheur_mailbox::tools::delete_folder(&config, "Mairie")
        .await
        .unwrap();
    parapheur_mailbox::tools::create_folder(&config, "Mairie")
        .await
        .unwrap();
    let inbox_again = corpus_files().into_iter().take(10);
    for path in inbox_again {
        let raw = std::fs::read(&path).unwrap();
        let _ = parapheur_mailbox::append(&config, &raw).await;
    }
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    let replay = app
        .poll_mailbox(&commune, &row, chrono::Utc::now)
        .await
        .unwrap();
    assert_eq!(replay.registered + replay.attached, 0, "{replay:?}");
    assert_eq!(app.store().item_count(commune.id).await.unwrap(), items + 2);

    // A wrong password: the error is kept on the mailbox, the password never shown.
    let mut wrong = config.clone();
    wrong.password = "mauvais-mot-de-passe".into();
    app.update_mailbox(
        &commune,
        &SYSTEM,
        id,
        MailboxSettings {
            label: "Accueil".into(),
            config: wrong,
            rules: Vec::new(),
            active: true,
        },
        false,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    let err = app
        .poll_mailbox(&commune, &row, chrono::Utc::now)
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("mauvais-mot-de-passe"), "{err}");
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    assert!(row.last_error.is_some());
    assert!(
        !row.sealed_config.contains("mauvais"),
        "the password is sealed"
    );
}

both!(mailbox_capture_takes_everything_once);
