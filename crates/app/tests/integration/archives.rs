//! The archives (issue 16, parts 3 and 4, correction 5), on SQLite and PostgreSQL: an item
//! from registration to elimination with the visa of the Archives départementales, legal
//! holds, retention rules, and SEDA 2.3 transfers checked by the official schema.

use crate::harness::{Db, Harness, SYSTEM, at, both};
use chrono::{Datelike, NaiveDate};
use parapheur_app::archives::seda::{acknowledgement_xml, reply_xml};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::retention::{
    EliminationState, FinalAction, RetentionRule, StartEvent, TransferState, Visa,
};
use parapheur_app::domain::{Channel, CloseReason, Commune, Role, Status};
use parapheur_app::{Actor, AppError, Change, ErrorKind, FsckOptions, NewFile};

both!(
    an_item_goes_from_registration_to_elimination,
    a_legal_hold_stops_an_elimination,
    retention_rules_are_the_archivists_to_edit,
    a_transfer_is_valid_seda_and_archives_on_acceptance,
    a_transfer_missing_a_mandatory_element_is_refused_before_export,
);

/// A 4×2 red RGB PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x04\x00\x00\x00\x02\x08\x02\x00\x00\x00\xf0\xca\xea\x34\x00\x00\x00\x10IDAT\x78\xda\x63\x38\x21\x27\x07\x47\x0c\xc8\x1c\x00\x6f\x0a\x08\x21\xee\xa4\x7d\xf9\x00\x00\x00\x00IEND\xae\x42\x60\x82";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

use parapheur_store::citizens::OutboxState;
use parapheur_testkit::validate_seda_bytes as validate_seda;

async fn user(h: &Harness, commune: &Commune, email: &str, role: Role) -> Actor {
    h.user(commune, email, role).await
}

/// A closed item of `doctype` with one PDF, registered and closed on `on`.
async fn closed_item(
    h: &Harness,
    commune: &Commune,
    doctype: &str,
    subject: &str,
    on: NaiveDate,
) -> parapheur_app::domain::Item {
    let mut new = NewItem::incoming(Channel::Paper, subject, on);
    new.doctype_code = Some(doctype.into());
    new.body = Some(format!("Texte de « {subject} »"));
    let now = at(on.year(), on.month(), on.day());
    let item = h
        .app
        .register(
            commune,
            &SYSTEM,
            new,
            vec![NewFile {
                filename: format!("{subject}.pdf"),
                media_type: "application/pdf".into(),
                bytes: format!("%PDF-1.4 {subject} — pièce unique").into_bytes(),
            }],
            now,
        )
        .await
        .unwrap()
        .item;
    h.app
        .change_item(
            commune,
            &SYSTEM,
            item.id,
            Change::Status {
                to: Status::Closed,
                reason: Some(CloseReason::Answered),
            },
            now,
        )
        .await
        .unwrap()
}

fn visa(on: NaiveDate) -> Visa {
    Visa {
        signed_by: "Mme Martin, directrice des Archives départementales".into(),
        signed_on: on,
        reference: "2027-114".into(),
    }
}

/// Acceptance: registration, closing, the DUA running out, the proposal (bordereau PDF),
/// the visa recorded, the elimination, its certificate; the files unreadable, the register
/// line kept with its mention, the journal verified. No way around the visa.
async fn an_item_goes_from_registration_to_elimination(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let archivist = user(&h, &commune, "archives@mairie.fr", Role::Archiviste).await;
    let agent = user(&h, &commune, "agent@mairie.fr", Role::Agent).await;
    // "invitation": one year from registration, then destroyed (the default table).
    let item = closed_item(
        &h,
        &commune,
        "invitation",
        "Invitation au vernissage",
        day(2026, 1, 5),
    )
    .await;
    let file = h
        .app
        .attachments(commune.id, item.id)
        .await
        .unwrap()
        .remove(0);
    let kept = closed_item(
        &h,
        &commune,
        "urbanisme",
        "Permis de construire",
        day(2026, 1, 5),
    )
    .await;
    // The reply the commune emailed about it: a copy of its documents, to an address.
    let sent = h
        .emailed(&commune, Some(item.id), OutboxState::Sent, at(2026, 1, 6))
        .await;

    // Correction 5: no status change reaches "détruit" or "archivé", whoever asks.
    for (actor, to) in [
        (&agent, Status::Destroyed),
        (&SYSTEM, Status::Destroyed),
        (&SYSTEM, Status::Archived),
    ] {
        let err = h
            .app
            .change_item(
                &commune,
                actor,
                item.id,
                Change::Status { to, reason: None },
                at(2027, 2, 1),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        assert!(
            err.user_message().contains("Archives"),
            "{}",
            err.user_message()
        );
    }

    // Not due before its year is out; due after, and only that one (the permit is kept 30 years).
    assert!(
        h.app
            .items_due(&commune, &archivist, at(2026, 12, 1))
            .await
            .unwrap()
            .is_empty()
    );
    let due = h
        .app
        .items_due(&commune, &archivist, at(2027, 2, 1))
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|d| d.item.id).collect::<Vec<_>>(),
        vec![item.id]
    );
    assert!(due[0].may_be_proposed());
    assert_eq!(due[0].since, day(2027, 1, 5));

    // Only the archivist proposes; a kept item cannot be proposed.
    let err = h
        .app
        .propose_elimination(&commune, &agent, &[item.id], at(2027, 2, 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        h.app
            .propose_elimination(&commune, &archivist, &[kept.id], at(2027, 2, 1))
            .await
            .is_err()
    );
    let proposal = h
        .app
        .propose_elimination(&commune, &archivist, &[item.id], at(2027, 2, 1))
        .await
        .unwrap();
    assert_eq!(proposal.number, "EL-2027-001");
    assert_eq!(proposal.state, EliminationState::Proposed);
    let pdf = h
        .app
        .elimination_proposal_pdf(&commune, &archivist, proposal.id, at(2027, 2, 1))
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // In a proposal: not proposed twice.
    assert!(
        h.app
            .propose_elimination(&commune, &archivist, &[item.id], at(2027, 2, 1))
            .await
            .is_err()
    );

    // No elimination without the visa.
    let err = h
        .app
        .eliminate(&commune, &archivist, proposal.id, at(2027, 2, 2))
        .await
        .unwrap_err();
    assert!(
        err.user_message().contains("visa"),
        "{}",
        err.user_message()
    );
    assert_eq!(
        h.app.read_file(commune.id, &file.sha256).await.unwrap(),
        b"%PDF-1.4 Invitation au vernissage \xe2\x80\x94 pi\xc3\xa8ce unique"
    );
    // A visa from the future, or without its number, is refused.
    assert!(
        h.app
            .record_visa(
                &commune,
                &archivist,
                proposal.id,
                visa(day(2027, 3, 1)),
                at(2027, 2, 20)
            )
            .await
            .is_err()
    );
    let approved = h
        .app
        .record_visa(
            &commune,
            &archivist,
            proposal.id,
            visa(day(2027, 2, 15)),
            at(2027, 2, 20),
        )
        .await
        .unwrap();
    assert_eq!(approved.state, EliminationState::Approved);
    assert_eq!(approved.visa.as_ref().unwrap().reference, "2027-114");
    let err = h
        .app
        .eliminate(&commune, &agent, proposal.id, at(2027, 2, 21))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    let done = h
        .app
        .eliminate(&commune, &archivist, proposal.id, at(2027, 2, 21))
        .await
        .unwrap();
    assert_eq!(done.state, EliminationState::Done);
    let certificate = h
        .app
        .destruction_certificate_pdf(&commune, &archivist, proposal.id, at(2027, 2, 21))
        .await
        .unwrap();
    assert!(certificate.starts_with(b"%PDF-"));

    // The line stays, "détruit", with its mention; the file is gone from the store.
    let line = h.app.store().item(commune.id, item.id).await.unwrap();
    assert_eq!(line.status, Status::Destroyed);
    assert_eq!(line.chrono, item.chrono);
    assert_eq!(line.subject, item.subject);
    assert_eq!(line.body, None, "the text goes with the files");
    let notes = h.app.store().notes(commune.id, item.id).await.unwrap();
    assert!(
        notes.iter().any(|n| n
            .body
            .starts_with("Éliminé le 21 février 2027 (visa n° 2027-114")),
        "{notes:?}"
    );
    assert!(
        h.app
            .attachments(commune.id, item.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.app.read_file(commune.id, &file.sha256).await.is_err());
    // The email sent about it: its bytes, its address and its subject are gone.
    assert!(h.app.read_file(commune.id, &sent).await.is_err());
    let outbox = h
        .app
        .store()
        .outbox_of_item(commune.id, item.id)
        .await
        .unwrap();
    assert_eq!(
        (outbox[0].recipients.as_str(), outbox[0].subject.as_str()),
        ("", "")
    );
    assert!(
        !h.app
            .files()
            .exists(&commune.id.to_string(), &file.sha256)
            .await
            .unwrap()
    );
    // The other item's file is untouched; fsck finds nothing missing; the journal holds.
    let other = h
        .app
        .attachments(commune.id, kept.id)
        .await
        .unwrap()
        .remove(0);
    assert!(h.app.read_file(commune.id, &other.sha256).await.is_ok());
    let report = h
        .app
        .fsck(&FsckOptions::default(), at(2027, 2, 21), |_| {})
        .await
        .unwrap();
    assert!(
        report.missing.is_empty() && report.corrupt.is_empty(),
        "{report:?}"
    );
    for verdict in h.app.verify_journals(|_| {}).await.unwrap() {
        assert!(verdict.report.is_intact(), "{:?}", verdict.report.problems);
    }
    // Done once: not again.
    assert!(
        h.app
            .eliminate(&commune, &archivist, proposal.id, at(2027, 2, 22))
            .await
            .is_err()
    );
}

async fn a_legal_hold_stops_an_elimination(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let archivist = user(&h, &commune, "archives@mairie.fr", Role::Archiviste).await;
    let item = closed_item(&h, &commune, "appel", "Appel de M. Durand", day(2026, 2, 2)).await;
    h.app
        .set_legal_hold(
            &commune,
            &archivist,
            item.id,
            Some("contentieux en cours"),
            at(2027, 3, 1),
        )
        .await
        .unwrap();
    let due = h
        .app
        .items_due(&commune, &archivist, at(2027, 3, 1))
        .await
        .unwrap();
    assert!(due[0].hold.is_some() && !due[0].may_be_proposed());
    let err = h
        .app
        .propose_elimination(&commune, &archivist, &[item.id], at(2027, 3, 1))
        .await
        .unwrap_err();
    assert!(
        err.user_message().contains("gelé"),
        "{}",
        err.user_message()
    );
    // Lifted, proposed, visa; held again before the elimination: it stops.
    h.app
        .set_legal_hold(&commune, &archivist, item.id, None, at(2027, 3, 2))
        .await
        .unwrap();
    let p = h
        .app
        .propose_elimination(&commune, &archivist, &[item.id], at(2027, 3, 2))
        .await
        .unwrap();
    h.app
        .record_visa(
            &commune,
            &archivist,
            p.id,
            visa(day(2027, 3, 3)),
            at(2027, 3, 3),
        )
        .await
        .unwrap();
    h.app
        .set_legal_hold(
            &commune,
            &archivist,
            item.id,
            Some("recours"),
            at(2027, 3, 4),
        )
        .await
        .unwrap();
    assert!(
        h.app
            .eliminate(&commune, &archivist, p.id, at(2027, 3, 5))
            .await
            .is_err()
    );
    assert_eq!(
        h.app
            .store()
            .item(commune.id, item.id)
            .await
            .unwrap()
            .status,
        Status::Closed
    );
}

async fn retention_rules_are_the_archivists_to_edit(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let archivist = user(&h, &commune, "archives@mairie.fr", Role::Archiviste).await;
    let admin = user(&h, &commune, "admin@mairie.fr", Role::Administrateur).await;
    let rules = h
        .app
        .retention_schedules(&commune, &archivist)
        .await
        .unwrap();
    let invitation = rules.iter().find(|s| s.doctype == "invitation").unwrap();
    assert_eq!(invitation.start, StartEvent::Registration);
    assert_eq!(invitation.rule.final_action, FinalAction::Destroy);
    let rule = RetentionRule {
        years: 2,
        final_action: FinalAction::Sort,
    };
    let err = h
        .app
        .set_retention(
            &commune,
            &admin,
            "invitation",
            rule,
            StartEvent::Closing,
            at(2026, 3, 1),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let changed = h
        .app
        .set_retention(
            &commune,
            &archivist,
            "invitation",
            rule,
            StartEvent::Closing,
            at(2026, 3, 1),
        )
        .await
        .unwrap();
    assert_eq!((changed.rule, changed.start), (rule, StartEvent::Closing));
    let again = h
        .app
        .retention_schedules(&commune, &archivist)
        .await
        .unwrap();
    assert!(again.contains(&changed));
    assert!(matches!(
        h.app
            .set_retention(
                &commune,
                &archivist,
                "inconnu",
                rule,
                StartEvent::Closing,
                at(2026, 3, 1)
            )
            .await,
        Err(AppError::UnknownDoctype(_))
    ));
}

/// Acceptance: the ArchiveTransfer, the archives' acknowledgement and reply all validate
/// against the SEDA 2.3 schema; once accepted, the items are "archivé".
async fn a_transfer_is_valid_seda_and_archives_on_acceptance(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let archivist = user(&h, &commune, "archives@mairie.fr", Role::Archiviste).await;
    let a = closed_item(
        &h,
        &commune,
        "urbanisme",
        "Permis <Dupont> & fils",
        day(2026, 1, 5),
    )
    .await;
    let b = closed_item(
        &h,
        &commune,
        "subvention",
        "Subvention « Comité des fêtes »",
        day(2026, 1, 6),
    )
    .await;
    let destroy = closed_item(&h, &commune, "invitation", "Invitation", day(2026, 1, 6)).await;
    assert!(
        h.app
            .transfer_to_archives(&commune, &archivist, &[destroy.id], None, at(2026, 6, 1))
            .await
            .is_err(),
        "a D item is not transferred"
    );
    // An item of two files: one child unit per file.
    let mut new = NewItem::incoming(Channel::Email, "Dossier « complet »", day(2026, 1, 7));
    new.doctype_code = Some("urbanisme".into());
    let file = |name: &str| NewFile {
        filename: name.into(),
        media_type: "application/pdf".into(),
        bytes: format!("%PDF-1.4 {name}").into_bytes(),
    };
    let c = h
        .app
        .register(
            &commune,
            &SYSTEM,
            new,
            vec![
                file("plan & coupe.pdf"),
                // A photo joined as an image: it travels with its PDF/A copy.
                NewFile {
                    filename: "photo du terrain.png".into(),
                    media_type: "image/png".into(),
                    bytes: PNG.to_vec(),
                },
            ],
            at(2026, 1, 7),
        )
        .await
        .unwrap()
        .item;
    let close = Change::Status {
        to: Status::Closed,
        reason: Some(CloseReason::Answered),
    };
    h.app
        .change_item(&commune, &SYSTEM, c.id, close, at(2026, 1, 8))
        .await
        .unwrap();
    let (transfer, message) = h
        .app
        .transfer_to_archives(
            &commune,
            &archivist,
            &[a.id, b.id, c.id],
            None,
            at(2026, 6, 1),
        )
        .await
        .unwrap();
    validate_seda(&message);
    let text = String::from_utf8(message.clone()).unwrap();
    assert!(text.contains(&format!(
        "<OriginatingSystemId>{}</OriginatingSystemId>",
        a.chrono
    )));
    assert!(text.contains("<MessageDigest algorithm=\"SHA-512\">"));
    assert!(text.contains("Permis &lt;Dupont&gt; &amp; fils"));
    assert!(text.contains("<DescriptionLevel>File</DescriptionLevel>"));
    // Four files, and the PDF/A-2b copy of the photo beside it in its group.
    assert_eq!(text.matches("<BinaryDataObject ").count(), 5);
    assert_eq!(
        text.matches("<DataObjectVersion>BinaryMaster_2<").count(),
        1
    );
    assert!(
        text.contains("<FormatId>fmt/12</FormatId>"),
        "the PNG original"
    );
    assert!(
        text.contains("<Attachment filename=\"photo du terrain.pdf\">JVBERi0"),
        "the copy is a PDF"
    );
    assert!(text.contains("<FormatId>fmt/477</FormatId>"), "PDF/A-2b");
    assert_eq!(
        h.app
            .transfer_message(&commune, &archivist, transfer.id)
            .await
            .unwrap(),
        message
    );
    // In a transfer awaiting its answer: not in another.
    assert!(
        h.app
            .transfer_to_archives(&commune, &archivist, &[a.id], None, at(2026, 6, 1))
            .await
            .is_err()
    );

    let agency = format!("FRAD{:0>3}", commune.departement);
    let ack = acknowledgement_xml(
        "AR-1",
        &transfer.identifier,
        at(2026, 6, 2),
        &agency,
        &commune.siren,
    );
    validate_seda(ack.as_bytes());
    let reply = reply_xml(
        "REP-1",
        &transfer.identifier,
        "OK",
        at(2026, 6, 3),
        &agency,
        &commune.siren,
    );
    validate_seda(reply.as_bytes());
    // An answer to another message is refused.
    let stray = reply_xml(
        "REP-0",
        "VERS-AUTRE",
        "OK",
        at(2026, 6, 3),
        &agency,
        &commune.siren,
    );
    assert!(
        h.app
            .record_transfer_answer(
                &commune,
                &archivist,
                transfer.id,
                stray.as_bytes(),
                at(2026, 6, 3)
            )
            .await
            .is_err()
    );
    let acked = h
        .app
        .record_transfer_answer(
            &commune,
            &archivist,
            transfer.id,
            ack.as_bytes(),
            at(2026, 6, 2),
        )
        .await
        .unwrap();
    assert_eq!(acked.state, TransferState::Acknowledged);
    assert_eq!(
        h.app.store().item(commune.id, a.id).await.unwrap().status,
        Status::Closed
    );
    let accepted = h
        .app
        .record_transfer_answer(
            &commune,
            &archivist,
            transfer.id,
            reply.as_bytes(),
            at(2026, 6, 3),
        )
        .await
        .unwrap();
    assert_eq!(accepted.state, TransferState::Accepted);
    assert_eq!(accepted.reply_code.as_deref(), Some("OK"));
    for id in [a.id, b.id, c.id] {
        assert_eq!(
            h.app.store().item(commune.id, id).await.unwrap().status,
            Status::Archived
        );
    }
    // The stored messages are referenced: fsck keeps them, the journal holds.
    let report = h
        .app
        .fsck(&FsckOptions::default(), at(2026, 6, 3), |_| {})
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    for verdict in h.app.verify_journals(|_| {}).await.unwrap() {
        assert!(verdict.report.is_intact(), "{:?}", verdict.report.problems);
    }
}

async fn a_transfer_missing_a_mandatory_element_is_refused_before_export(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let archivist = user(&h, &commune, "archives@mairie.fr", Role::Archiviste).await;
    let a = closed_item(&h, &commune, "urbanisme", "Permis", day(2026, 1, 5)).await;
    let err = h
        .app
        .transfer_to_archives(&commune, &archivist, &[a.id], Some("  "), at(2026, 6, 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.user_message().contains("ArchivalAgency"),
        "{}",
        err.user_message()
    );
    assert!(
        h.app
            .transfers(&commune, &archivist)
            .await
            .unwrap()
            .is_empty()
    );
}
