//! The data subject's rights (issue 16, part 5), on SQLite and PostgreSQL: the subject-access
//! export holds the person's data and nobody else's, erasure is refused while the archives
//! law keeps their items and pseudonymises otherwise, rectification is journaled.

use std::io::Read;

use crate::harness::{Db, Harness, SYSTEM, at, both};
use parapheur_app::domain::contact::{Contact, ContactKind, NewContact};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, CloseReason, Commune, Direction, Role, Status};
use parapheur_app::privacy::ErasureDecision;
use parapheur_app::{Actor, Change, ErrorKind, NewFile};
use uuid::Uuid;

both!(
    the_export_holds_the_persons_data_and_nobody_elses,
    a_demo_contacts_export_holds_every_item_note_and_file_naming_them,
    erasure_is_refused_while_archives_keep_the_items_and_pseudonymises_otherwise,
    rectification_is_journaled_with_the_values_before_and_after,
);

async fn contact(h: &Harness, commune: &Commune, first: &str, name: &str, email: &str) -> Contact {
    let mut tx = h.app.store().begin(at(2026, 1, 3)).await.unwrap();
    let c = tx
        .insert_contact(
            commune.id,
            &NewContact {
                first_name: Some(first.into()),
                name: name.into(),
                email: Some(email.into()),
                address: Some("3 rue des Écoles".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    c
}

async fn item(
    h: &Harness,
    commune: &Commune,
    direction: Direction,
    subject: &str,
    senders: &[Uuid],
    recipients: &[Uuid],
    file: &str,
) -> parapheur_app::domain::Item {
    let mut new = NewItem::incoming(Channel::Paper, subject, at(2026, 1, 5).date_naive());
    new.direction = direction;
    new.sender_ids = senders.to_vec();
    new.recipient_ids = recipients.to_vec();
    new.doctype_code = Some("invitation".into());
    new.body = Some(format!("Texte de « {subject} »"));
    h.app
        .register(
            commune,
            &SYSTEM,
            new,
            vec![NewFile {
                filename: format!("{subject}.pdf"),
                media_type: "application/pdf".into(),
                bytes: file.as_bytes().to_vec(),
            }],
            at(2026, 1, 5),
        )
        .await
        .unwrap()
        .item
}

async fn agent(h: &Harness, commune: &Commune) -> Actor {
    let user = h
        .app
        .add_user(
            commune,
            parapheur_app::NewUser {
                email: "agent@mairie.fr".into(),
                display_name: "Agent".into(),
                title: None,
                role: Role::Agent,
                service_id: None,
                password: None,
                host_admin: false,
            },
            &SYSTEM,
            at(2026, 1, 2),
        )
        .await
        .unwrap();
    Actor::User(user.id)
}

pub(crate) fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap();
            (f.name().unwrap().to_string(), out)
        })
        .collect()
}

/// Acceptance: every item and file naming the person, nothing of the other correspondent
/// of a shared item, nothing of an item that does not name them.
async fn the_export_holds_the_persons_data_and_nobody_elses(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let jeanne = contact(&h, &commune, "Jeanne", "Martin", "jeanne.martin@example.fr").await;
    let paul = contact(&h, &commune, "Paul", "Durandal", "paul.durandal@example.fr").await;
    let hers = item(
        &h,
        &commune,
        Direction::Incoming,
        "Demande de salle",
        &[jeanne.id],
        &[],
        "%PDF-1.4 lettre de Jeanne",
    )
    .await;
    let shared = item(
        &h,
        &commune,
        Direction::Outgoing,
        "Réponse aux riverains",
        &[],
        &[jeanne.id, paul.id],
        "%PDF-1.4 lettre commune",
    )
    .await;
    item(
        &h,
        &commune,
        Direction::Incoming,
        "Plainte de voisinage",
        &[paul.id],
        &[],
        "%PDF-1.4 lettre privée",
    )
    .await;

    let err = h
        .app
        .subject_access_export(
            &commune,
            &agent(&h, &commune).await,
            jeanne.id,
            at(2026, 2, 1),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    let export = h
        .app
        .subject_access_export(&commune, &SYSTEM, jeanne.id, at(2026, 2, 1))
        .await
        .unwrap();
    assert_eq!((export.items, export.files), (2, 1));
    let entries = unzip(&export.zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"LISEZMOI.txt") && names.contains(&"donnees.json"));
    let (path, pdf) = entries
        .iter()
        .find(|(n, _)| n.starts_with("documents/"))
        .unwrap();
    assert_eq!(pdf, b"%PDF-1.4 lettre de Jeanne");
    let json_text = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| n == "donnees.json")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let data: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(data["contact"]["email"], "jeanne.martin@example.fr");
    let items = data["courriers"].as_array().unwrap();
    let numbers: Vec<&str> = items
        .iter()
        .map(|i| i["numero"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, vec![hers.chrono.as_str(), shared.chrono.as_str()]);
    assert_eq!(items[0]["documents"][0]["fichier"], path.as_str());
    assert_eq!(items[0]["texte"], "Texte de « Demande de salle »");
    // The shared reply: its line, the others as a count, no content.
    assert_eq!(items[1]["autres_correspondants"], 1);
    assert!(items[1].get("documents").is_none() && items[1].get("texte").is_none());
    assert!(items[1]["documents_retenus"].is_string());
    // Nothing of Paul anywhere, nor of his own letter.
    for leak in [
        "Paul",
        "Durandal",
        "paul.durandal",
        &paul.id.to_string(),
        "Plainte",
        "privée",
    ] {
        assert!(!json_text.contains(leak), "{leak} leaked");
        for (name, bytes) in &entries {
            assert!(
                !String::from_utf8_lossy(bytes).contains(leak) && !name.contains(leak),
                "{leak} leaked in {name}"
            );
        }
    }
    let readme = String::from_utf8(entries[0].1.clone()).unwrap();
    assert!(
        readme.contains("Délégué à la protection des données"),
        "{readme}"
    );
    // Journaled on the contact.
    let journal = h
        .app
        .store()
        .journal_of(commune.id, "contact", &jeanne.id.to_string())
        .await
        .unwrap();
    assert_eq!(journal.last().unwrap().action, "contact.exported");
}

/// Acceptance (issue 16): the export of a contact of the demo commune, whose year of mail
/// was made through the use cases, holds every item, note and file that names them, and
/// nothing of anyone else. The expected content is gathered from the register itself.
async fn a_demo_contacts_export_holds_every_item_note_and_file_naming_them(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let demo = h.app.seed_demo(at(2026, 11, 28), |_, _| {}).await.unwrap();
    let commune = demo.commune;
    let store = h.app.store();
    let all = store
        .items(commune.id, &Default::default(), 10_000, 0)
        .await
        .unwrap();
    let mut parties = std::collections::HashMap::new();
    for item in &all {
        parties.insert(item.id, store.item_contacts(item.id).await.unwrap());
    }
    // The demo contact with the most items among those with a note on one of them.
    let mut best: Option<(usize, Uuid)> = None;
    for item in &all {
        if store.notes(commune.id, item.id).await.unwrap().is_empty() {
            continue;
        }
        for (_, c) in &parties[&item.id] {
            let count = parties
                .values()
                .filter(|p| p.iter().any(|(_, x)| x == c))
                .count();
            if best.is_none_or(|(n, _)| count > n) {
                best = Some((count, *c));
            }
        }
    }
    let (_, person) = best.expect("the demo has notes on items with a correspondent");
    let theirs: Vec<&parapheur_app::domain::Item> = all
        .iter()
        .filter(|i| parties[&i.id].iter().any(|(_, c)| *c == person))
        .collect();
    assert!(theirs.len() >= 2, "{}", theirs.len());

    let export = h
        .app
        .subject_access_export(&commune, &SYSTEM, person, at(2026, 11, 28))
        .await
        .unwrap();
    let entries = unzip(&export.zip);
    let data: serde_json::Value =
        serde_json::from_slice(&entries.iter().find(|(n, _)| n == "donnees.json").unwrap().1)
            .unwrap();
    assert_eq!(data["contact"]["id"], person.to_string());
    let lines = data["courriers"].as_array().unwrap();
    let mut numbers: Vec<&str> = lines
        .iter()
        .map(|l| l["numero"].as_str().unwrap())
        .collect();
    numbers.sort_unstable();
    let mut expected: Vec<&str> = theirs.iter().map(|i| i.chrono.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(numbers, expected, "every item naming them, and only those");

    let mut notes_seen = 0;
    let mut files_seen = 0;
    for item in &theirs {
        let line = lines
            .iter()
            .find(|l| l["numero"] == item.chrono.as_str())
            .unwrap();
        // Demo items name one correspondent: each is given whole.
        assert_eq!(parties[&item.id].len(), 1, "{}", item.chrono);
        for note in store.notes(commune.id, item.id).await.unwrap() {
            assert!(
                line["notes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["texte"] == note.body.as_str()),
                "note of {} missing",
                item.chrono
            );
            notes_seen += 1;
        }
        let documents = line["documents"].as_array().unwrap();
        let attachments = store.attachments(commune.id, item.id).await.unwrap();
        assert_eq!(documents.len(), attachments.len(), "{}", item.chrono);
        for a in attachments {
            let doc = documents
                .iter()
                .find(|d| d["sha256"] == a.sha256.as_str())
                .unwrap();
            let (_, bytes) = entries
                .iter()
                .find(|(n, _)| doc["fichier"] == n.as_str())
                .expect("the file is in the zip");
            assert_eq!(
                *bytes,
                h.app.read_file(commune.id, &a.sha256).await.unwrap()
            );
            files_seen += 1;
        }
    }
    assert!(
        notes_seen >= 1 && files_seen >= 1,
        "{notes_seen} notes, {files_seen} files"
    );
    assert_eq!(export.files, files_seen);
    assert_eq!(
        entries.len(),
        files_seen + 2,
        "LISEZMOI, donnees.json and the files"
    );

    // Nothing of anyone else: no other correspondent's address or name, no other item.
    let me = store.contact(commune.id, person).await.unwrap();
    let text: String = entries
        .iter()
        .map(|(n, b)| format!("{n}\n{}\n", String::from_utf8_lossy(b)))
        .collect();
    for other in store.search_contacts(commune.id, "", 10_000).await.unwrap() {
        if other.id == person {
            continue;
        }
        if let Some(email) = other
            .email
            .as_deref()
            .filter(|e| Some(*e) != me.email.as_deref())
        {
            assert!(!text.contains(email), "{email} leaked");
        }
        // A person's name (an organisation's may be the subject of a letter: "Comité des
        // fêtes").
        let name = other.display_name();
        if other.kind == ContactKind::Person && name != me.display_name() {
            assert!(!text.contains(&name), "{name} leaked");
        }
        assert!(!text.contains(&other.id.to_string()), "{} leaked", other.id);
    }
}

async fn erasure_is_refused_while_archives_keep_the_items_and_pseudonymises_otherwise(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let jeanne = contact(&h, &commune, "Jeanne", "Martin", "jeanne.martin@example.fr").await;
    let marc = contact(&h, &commune, "Marc", "Lenoir", "marc.lenoir@example.fr").await;
    let kept = item(
        &h,
        &commune,
        Direction::Incoming,
        "Invitation",
        &[jeanne.id],
        &[],
        "%PDF-1.4 invitation",
    )
    .await;
    h.app
        .change_item(
            &commune,
            &SYSTEM,
            kept.id,
            Change::Status {
                to: Status::Closed,
                reason: Some(CloseReason::Answered),
            },
            at(2026, 1, 6),
        )
        .await
        .unwrap();

    // An agent may not decide it.
    let err = h
        .app
        .request_erasure(
            &commune,
            &agent(&h, &commune).await,
            jeanne.id,
            at(2026, 3, 1),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    // The invitation is kept one year from its registration: refused, with the date.
    let decision = h
        .app
        .request_erasure(&commune, &SYSTEM, jeanne.id, at(2026, 3, 1))
        .await
        .unwrap();
    let ErasureDecision::Refused { retained } = &decision else {
        panic!("{decision:?}");
    };
    assert_eq!(retained.len(), 1);
    assert_eq!(retained[0].chrono, kept.chrono);
    let message = decision.message_fr();
    assert!(message.starts_with("Effacement refusé"), "{message}");
    assert!(message.contains("Code du patrimoine"), "{message}");
    assert!(message.contains("art. 17.3"), "{message}");
    assert!(message.contains("jusqu'au 5 janvier 2027"), "{message}");
    assert!(message.contains("limiter le traitement"), "{message}");
    let still = h.app.contact(commune.id, jeanne.id).await.unwrap();
    assert_eq!(still.name, "Martin");

    // What is allowed: restriction hides her from the directory, the record stays.
    assert_eq!(
        h.app
            .search_contacts(commune.id, "Jeanne", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    h.app
        .restrict_contact(&commune, &SYSTEM, jeanne.id, true, at(2026, 3, 1))
        .await
        .unwrap();
    assert!(
        h.app
            .search_contacts(commune.id, "Jeanne", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.app
            .contact_rights(&commune, jeanne.id)
            .await
            .unwrap()
            .restricted_at
            .is_some()
    );

    // Nothing retains Marc: pseudonymised, no longer found by name nor email.
    assert_eq!(
        h.app
            .search_contacts(commune.id, "Lenoir", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let decision = h
        .app
        .request_erasure(&commune, &SYSTEM, marc.id, at(2026, 3, 1))
        .await
        .unwrap();
    assert!(
        matches!(decision, ErasureDecision::Pseudonymised { .. }),
        "{decision:?}"
    );
    for q in ["Lenoir", "Marc", "marc.lenoir"] {
        assert!(
            h.app
                .search_contacts(commune.id, q, 10)
                .await
                .unwrap()
                .is_empty(),
            "{q}"
        );
    }
    let erased = h.app.contact(commune.id, marc.id).await.unwrap();
    assert!(
        erased.name.starts_with("Personne effacée"),
        "{}",
        erased.name
    );
    assert_eq!(
        (erased.first_name, erased.email, erased.address),
        (None, None, None)
    );
    assert!(
        h.app
            .request_erasure(&commune, &SYSTEM, marc.id, at(2026, 3, 2))
            .await
            .is_err()
    );

    // Every decision journaled, history untouched, the chain intact.
    let actions = |id: Uuid| {
        let h = &h;
        async move {
            h.app
                .store()
                .journal_of(commune.id, "contact", &id.to_string())
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        actions(jeanne.id).await,
        [
            "contact.created",
            "contact.erasure_refused",
            "contact.restricted"
        ]
    );
    let marc_journal = h
        .app
        .store()
        .journal_of(commune.id, "contact", &marc.id.to_string())
        .await
        .unwrap();
    assert_eq!(marc_journal.last().unwrap().action, "contact.pseudonymised");
    assert!(
        !marc_journal
            .last()
            .unwrap()
            .after
            .as_deref()
            .unwrap()
            .contains("Lenoir")
    );
    for verdict in h.app.verify_journals(|_| {}).await.unwrap() {
        assert!(verdict.report.is_intact(), "{:?}", verdict.report.problems);
    }
}

async fn rectification_is_journaled_with_the_values_before_and_after(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let jeanne = contact(&h, &commune, "Jeanne", "Martin", "jeanne.martin@example.fr").await;
    let agent = agent(&h, &commune).await;
    let after = h
        .app
        .rectify_contact(
            &commune,
            &agent,
            jeanne.id,
            NewContact {
                first_name: Some("Jeanne".into()),
                name: "Martin-Roux".into(),
                email: Some("jeanne.roux@example.fr".into()),
                ..Default::default()
            },
            at(2026, 2, 1),
        )
        .await
        .unwrap();
    assert_eq!(after.name, "Martin-Roux");
    assert_eq!(h.app.contact(commune.id, jeanne.id).await.unwrap(), after);
    assert_eq!(
        h.app
            .search_contacts(commune.id, "Roux", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Bad input changes nothing.
    let err = h
        .app
        .rectify_contact(
            &commune,
            &agent,
            jeanne.id,
            NewContact {
                name: "Martin".into(),
                email: Some("pas une adresse".into()),
                ..Default::default()
            },
            at(2026, 2, 2),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(h.app.contact(commune.id, jeanne.id).await.unwrap(), after);
    let entry = h
        .app
        .store()
        .journal_of(commune.id, "contact", &jeanne.id.to_string())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.action, "contact.rectified");
    assert_eq!(entry.actor, agent.journal_name());
    assert!(entry.before.unwrap().contains("jeanne.martin@example.fr"));
    assert!(entry.after.unwrap().contains("jeanne.roux@example.fr"));
    for verdict in h.app.verify_journals(|_| {}).await.unwrap() {
        assert!(verdict.report.is_intact(), "{:?}", verdict.report.problems);
    }
}
