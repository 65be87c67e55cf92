//! The register with its files on a real S3 server (s3s-fs), configured as an operator would
//! (`PARAPHEUR_FILES=s3://…` and the key in the environment): files stored, read back and
//! checked by fsck in the bucket; the server down refuses a registration clearly, loses
//! nothing and takes no number; back, it works again without a restart.

use crate::harness::{Db, SYSTEM, at, both};
use chrono::{NaiveDate, Utc};
use parapheur_app::capture::{CaptureOutcome, MessageSource};
use parapheur_app::domain::Channel;
use parapheur_app::domain::item::NewItem;
use parapheur_app::{App, Config, ErrorKind, FsckOptions, NewFile};
use parapheur_files::MasterKey;
use parapheur_testkit::S3Server;
use parapheur_testkit::s3::{S3_ACCESS_KEY, S3_SECRET_KEY};

both!(files_on_s3_round_trip_and_outage);

fn scan() -> NewFile {
    NewFile {
        filename: "scan.pdf".into(),
        media_type: "application/pdf".into(),
        bytes: b"%PDF-1.4 courrier de la prefecture".to_vec(),
    }
}

/// An email with a PDF attachment.
fn email() -> Vec<u8> {
    "From: Prefecture <courrier@prefecture.gouv.fr>\r\nTo: mairie@exemple.fr\r\n\
     Subject: Arrete prefectoral\r\nDate: Mon, 5 Jan 2026 09:00:00 +0100\r\n\
     Message-ID: <arrete-1@prefecture.gouv.fr>\r\nMIME-Version: 1.0\r\n\
     Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
     --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVeuillez trouver l'arrete.\r\n\
     --b\r\nContent-Type: application/pdf\r\n\
     Content-Disposition: attachment; filename=\"arrete.pdf\"\r\n\
     Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgYXJyZXRl\r\n--b--\r\n"
        .as_bytes()
        .to_vec()
}

fn letter(subject: &str) -> NewItem {
    NewItem::incoming(
        Channel::Paper,
        subject,
        NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
    )
}

async fn files_on_s3_round_trip_and_outage(db: Db) {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let Some(database) = parapheur_testkit::database(db).await else {
        return;
    };
    let database_url = database.as_ref().map(|d| d.url().to_owned());
    let dir = parapheur_testkit::data_dir();
    let master = MasterKey::generate().unwrap().to_base64();
    let url = server.url("mairies");
    let environment = |name: &str| {
        Some(match name {
            "PARAPHEUR_FILES" => url.clone(),
            "PARAPHEUR_S3_ACCESS_KEY_ID" => S3_ACCESS_KEY.to_owned(),
            "PARAPHEUR_S3_SECRET_ACCESS_KEY" => S3_SECRET_KEY.to_owned(),
            "PARAPHEUR_MASTER_KEY" => master.clone(),
            _ => return None,
        })
    };
    let config = Config::load_with(dir.path(), database_url, &environment).unwrap();
    assert!(!format!("{config:?}").contains(S3_SECRET_KEY));
    let described = config.describe();
    let files = described.iter().find(|(k, _)| *k == "files").unwrap();
    assert!(
        files
            .1
            .starts_with("s3://parapheur-test/mairies (http://127.0.0.1:"),
        "{files:?}"
    );
    assert!(
        files.1.ends_with(&format!("clé {S3_ACCESS_KEY}")),
        "{files:?}"
    );
    let app = App::open(&config).await.unwrap();
    let commune = app
        .create_commune("01004", &SYSTEM, at(2026, 1, 2))
        .await
        .unwrap();

    let first = app
        .register(
            &commune,
            &SYSTEM,
            letter("Avec scan"),
            vec![scan()],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    let sha = &first.attachments[0].sha256;
    assert_eq!(app.read_file(commune.id, sha).await.unwrap(), scan().bytes);
    // In the bucket, encrypted, under the prefix; nothing in the data folder.
    let object = server.object_file(&format!(
        "mairies/communes/{}/blobs/{}/{sha}",
        commune.id,
        &sha[..2]
    ));
    let stored = std::fs::read(&object).unwrap();
    assert!(stored.starts_with(b"PRPH"));
    assert!(!stored.windows(8).any(|w| w == b"%PDF-1.4"));
    assert!(!dir.path().join("files").exists());
    let report = app
        .fsck(&FsckOptions::default(), Utc::now(), |_| {})
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");

    // S3 down: refused with a French message that says nothing was lost.
    server.stop();
    let mut other = scan();
    other.bytes.extend_from_slice(b" (second)");
    let err = app
        .register(
            &commune,
            &SYSTEM,
            letter("Pendant la panne"),
            vec![other.clone()],
            at(2026, 1, 5),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    let message = err.user_message();
    assert!(message.contains("ne répond pas"), "{message}");
    assert!(message.contains("rien n'a été perdu"), "{message}");
    let err = app.read_file(commune.id, sha).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    // A captured email is neither registered nor quarantined: it stays for the next poll.
    let err = app
        .capture_message(
            &commune,
            MessageSource::import("arrete.eml"),
            Ok(email()),
            at(2026, 1, 5),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");

    // Back: the same app registers again, and the failed attempt took no number.
    server.resume();
    let second = app
        .register(
            &commune,
            &SYSTEM,
            letter("Après la panne"),
            vec![other.clone()],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    assert_eq!(second.item.sequence, first.item.sequence + 1);
    let captured = app
        .capture_message(
            &commune,
            MessageSource::import("arrete.eml"),
            Ok(email()),
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    assert!(
        matches!(captured, CaptureOutcome::Registered { .. }),
        "{captured:?}"
    );
    assert_eq!(
        app.read_file(commune.id, &second.attachments[0].sha256)
            .await
            .unwrap(),
        other.bytes
    );
    let report = app
        .fsck(&FsckOptions::default(), Utc::now(), |_| {})
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
}
