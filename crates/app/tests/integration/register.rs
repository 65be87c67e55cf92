//! The register's behaviour, run on SQLite and on PostgreSQL: numbering, deadlines, the
//! journal, files, tenants and bad input.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::harness::{Db, Harness, SYSTEM, at, both};
use chrono::{Datelike, NaiveDate, Utc};
use parapheur_app::domain::item::{CopyPurpose, NewItem};
use parapheur_app::domain::journal::JournalProblem;
use parapheur_app::domain::{Channel, CloseReason, Direction, Status};
use parapheur_app::{AppError, Change, FsckOptions, NewFile};
use parapheur_store::StoreError;
use parapheur_store::citizens::OutboxState;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn letter(subject: &str, arrival: NaiveDate) -> NewItem {
    NewItem::incoming(Channel::Paper, subject, arrival)
}

fn pdf(n: usize) -> NewFile {
    NewFile {
        filename: format!("scan-{n}.pdf"),
        media_type: "application/pdf".into(),
        bytes: format!("%PDF-1.4 scan {n}").into_bytes(),
    }
}

both!(
    concurrent_registrations_are_gapless,
    each_direction_and_year_has_its_own_numbers,
    deadlines_follow_the_crpa,
    documents_suspend_a_rejection_for_the_time_given_and_never_revive_a_decision,
    an_edited_journal_entry_is_detected,
    a_deleted_journal_entry_is_detected,
    an_inserted_journal_entry_is_detected,
    reordered_journal_entries_are_detected,
    a_file_altered_on_disk_is_detected,
    fsck_collects_orphans_and_reports_missing_files,
    a_forbidden_transition_changes_nothing,
    one_commune_never_sees_another,
    communes_come_from_the_official_list_once,
    a_wrong_master_key_is_refused,
    contacts_duplicates_are_found,
    a_newer_schema_is_refused,
    the_demo_is_complete_and_consistent,
);

/// Acceptance: 8 concurrent writers registering 500 items each yield 4,000 distinct numbers
/// with no gap, also when other registrations roll back after taking a number.
async fn concurrent_registrations_are_gapless(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = Arc::new(h.commune("01004").await);
    let now = Utc::now();
    let today = parapheur_app::domain::clock::local_date(now, commune.zone());
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..8 {
        let (app, commune) = (h.app.clone(), commune.clone());
        tasks.spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..500 {
                if i % 50 == 7 {
                    // A registration that fails after taking its number: rolled back.
                    let mut tx = app.store().begin(Utc::now()).await.unwrap();
                    tx.next_sequence(commune.id, today.year(), "incoming")
                        .await
                        .unwrap();
                    tx.rollback().await.unwrap();
                }
                let files = if i % 25 == 0 {
                    vec![pdf(writer * 1000 + i)]
                } else {
                    vec![]
                };
                let r = app
                    .register(
                        &commune,
                        &SYSTEM,
                        letter(&format!("w{writer} n{i}"), today),
                        files,
                        Utc::now(),
                    )
                    .await
                    .unwrap();
                numbers.push(r.item.sequence);
            }
            numbers
        });
    }
    let mut all = Vec::new();
    while let Some(numbers) = tasks.join_next().await {
        let numbers = numbers.unwrap();
        // Each writer sees its own numbers increase.
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        all.extend(numbers);
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=4000).collect::<Vec<i64>>(),
        "numbers must be exactly 1..=4000"
    );
    let stored = h
        .app
        .store()
        .sequences(commune.id, today.year(), Direction::Incoming)
        .await
        .unwrap();
    assert_eq!(stored, all);
    let report = h
        .app
        .fsck(&FsckOptions::default(), Utc::now(), |_| {})
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    let verdicts = h.app.verify_journals(|_| {}).await.unwrap();
    assert!(
        verdicts[0].report.is_intact(),
        "{:?}",
        verdicts[0].report.problems
    );
    assert!(verdicts[0].report.entries > 4000);
}

async fn each_direction_and_year_has_its_own_numbers(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let reg = |direction, now| {
        let mut item = letter("Objet", day(2025, 12, 30));
        item.direction = direction;
        let (app, commune) = (h.app.clone(), commune.clone());
        async move {
            app.register(&commune, &SYSTEM, item, vec![], now)
                .await
                .unwrap()
                .item
                .chrono
        }
    };
    // Registered on 31 December 2025 (local), then in January 2026: a new year restarts at 1.
    let dec = at(2025, 12, 31);
    assert_eq!(reg(Direction::Incoming, dec).await, "2025-A-000001");
    assert_eq!(reg(Direction::Incoming, dec).await, "2025-A-000002");
    assert_eq!(reg(Direction::Outgoing, dec).await, "2025-D-000001");
    assert_eq!(reg(Direction::Internal, dec).await, "2025-I-000001");
    let jan = at(2026, 1, 2);
    assert_eq!(reg(Direction::Incoming, jan).await, "2026-A-000001");
    // 23:30 UTC on 31 December 2025 is already 2026 in France.
    let new_year_eve = chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 12, 31, 23, 30, 0).unwrap();
    assert_eq!(
        reg(Direction::Outgoing, new_year_eve).await,
        "2026-D-000001"
    );
    // A commune may choose its own format; numbering goes on.
    h.app
        .set_chrono_format(&commune, "MAIRIE/{year}{dir}/{seq}", &SYSTEM, jan)
        .await
        .unwrap();
    let commune = h.app.commune("01004").await.unwrap();
    let item = h
        .app
        .register(
            &commune,
            &SYSTEM,
            letter("Objet", day(2026, 1, 2)),
            vec![],
            jan,
        )
        .await
        .unwrap()
        .item;
    assert_eq!(item.chrono, "MAIRIE/2026A/2");
    let err = h
        .app
        .set_chrono_format(&commune, "{year}-{seq}", &SYSTEM, jan)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("{dir}"), "{err}");
}

/// Deadlines run from the arrival date in calendar months (L231-1, L231-4), restart or are
/// suspended for incomplete requests (L114-5), and follow forwarding (L114-2).
async fn deadlines_follow_the_crpa(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let now = at(2026, 3, 1);
    let typed = |subject: &str, code: &str, arrival| {
        let mut item = letter(subject, arrival);
        item.doctype_code = Some(code.to_owned());
        item
    };
    // SVA, 2 months: 31 January + 2 months = 31 March (registered later: still from arrival).
    let sva = h
        .app
        .register(
            &commune,
            &SYSTEM,
            typed("SVA", "demande-sva", day(2026, 1, 31)),
            vec![],
            now,
        )
        .await
        .unwrap()
        .item;
    assert_eq!(
        (sva.due_date, sva.silence_date),
        (Some(day(2026, 3, 31)), Some(day(2026, 3, 31)))
    );
    // L114-5, SVA: documents asked on 10 February, received on 20 February: the two months
    // start again from 20 February = 20 April.
    let changed = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            sva.id,
            Change::Assign {
                service_id: None,
                assignee_id: None,
            },
            now,
        )
        .await;
    assert!(
        changed.is_err(),
        "an assignment needs a service or a person"
    );
    let waiting = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            sva.id,
            Change::Incomplete {
                requested_on: day(2026, 2, 10),
                missing: vec!["Plan de situation".to_owned()],
                deadline: None,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        (waiting.status, waiting.due_date, waiting.silence_date),
        (Status::AwaitingDocuments, None, None)
    );
    let done = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            sva.id,
            Change::Completed {
                on: day(2026, 2, 20),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.due_date),
        (Status::InProgress, Some(day(2026, 4, 20)))
    );

    // SVR (réclamation), 2 months from 10 January = 10 March; documents asked 20 January,
    // received 1 February: suspended 12 days, so 22 March.
    let svr = h
        .app
        .register(
            &commune,
            &SYSTEM,
            typed("SVR", "reclamation", day(2026, 1, 10)),
            vec![],
            now,
        )
        .await
        .unwrap()
        .item;
    assert_eq!(svr.due_date, Some(day(2026, 3, 10)));
    h.app
        .change_item(
            &commune,
            &SYSTEM,
            svr.id,
            Change::Incomplete {
                requested_on: day(2026, 1, 20),
                missing: Vec::new(),
                deadline: None,
            },
            now,
        )
        .await
        .unwrap();
    let svr = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            svr.id,
            Change::Completed {
                on: day(2026, 2, 1),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(svr.due_date, Some(day(2026, 3, 22)));

    // L114-2: forwarded here on 15 January after a first receipt elsewhere on 5 January:
    // SVR runs from the first receipt (5 March), SVA from the arrival here (15 March).
    let mut fwd = typed("Transmis", "reclamation", day(2026, 1, 15));
    fwd.first_receipt_elsewhere = Some(day(2026, 1, 5));
    let fwd_svr = h
        .app
        .register(&commune, &SYSTEM, fwd.clone(), vec![], now)
        .await
        .unwrap()
        .item;
    assert_eq!(fwd_svr.due_date, Some(day(2026, 3, 5)));
    fwd.doctype_code = Some("demande-sva".into());
    let fwd_sva = h
        .app
        .register(&commune, &SYSTEM, fwd, vec![], now)
        .await
        .unwrap()
        .item;
    assert_eq!(fwd_sva.due_date, Some(day(2026, 3, 15)));

    // No silence rule: a due date in working days, no implicit decision. 15 working days
    // from Friday 1 May 2026, skipping weekends, 8 May, Ascension (14 May) and Whit Monday
    // (25 May): 4-7 (4), 11-13 (7), 15 (8), 18-22 (13), 26 (14), 27 May (15).
    let plain = h
        .app
        .register(
            &commune,
            &SYSTEM,
            typed("Courrier", "courrier", day(2026, 5, 1)),
            vec![],
            at(2026, 5, 2),
        )
        .await
        .unwrap()
        .item;
    assert_eq!(
        (plain.due_date, plain.silence_date),
        (Some(day(2026, 5, 27)), None)
    );

    // An unknown type is refused and registers nothing.
    let err = h
        .app
        .register(
            &commune,
            &SYSTEM,
            typed("X", "inconnu", day(2026, 1, 10)),
            vec![],
            now,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::UnknownDoctype(_)), "{err}");
    // The stored item reads back the same as the returned one.
    assert_eq!(
        h.app.store().item(commune.id, plain.id).await.unwrap(),
        plain
    );
}

/// L114-5 al. 3 and the birth of implicit decisions (legal review, points 1 to 3): a
/// rejection by silence is suspended for the time given for the documents at most; that
/// date is stored and said; documents cannot be asked after the silence date, nor once the
/// decision is recorded; a new type does not move a decision already born.
async fn documents_suspend_a_rejection_for_the_time_given_and_never_revive_a_decision(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let typed = |subject: &str, code: &str, arrival| {
        let mut item = letter(subject, arrival);
        item.doctype_code = Some(code.to_owned());
        item
    };
    let register = |new| {
        let app = h.app.clone();
        let commune = commune.clone();
        async move {
            app.register(&commune, &SYSTEM, new, vec![], at(2026, 3, 2))
                .await
                .unwrap()
                .item
        }
    };
    let change = |id, change, now| {
        let app = h.app.clone();
        let commune = commune.clone();
        async move { app.change_item(&commune, &SYSTEM, id, change, now).await }
    };
    // SVR (réclamation), arrival Monday 2 March 2026: normal end Saturday 2 May.
    let svr = register(typed("SVR", "reclamation", day(2026, 3, 2))).await;
    assert_eq!(svr.silence_date, Some(day(2026, 5, 2)));
    // Documents asked on 10 March, to be produced by 10 April and never produced: the
    // rejection is no longer sine die but 2 May + 31 days.
    let waiting = change(
        svr.id,
        Change::Incomplete {
            requested_on: day(2026, 3, 10),
            missing: vec!["Plan de situation".into()],
            deadline: Some(day(2026, 4, 10)),
        },
        at(2026, 3, 10),
    )
    .await
    .unwrap();
    assert_eq!(waiting.incomplete_deadline, Some(day(2026, 4, 10)));
    assert_eq!(
        (waiting.due_date, waiting.silence_date),
        (Some(day(2026, 6, 2)), Some(day(2026, 6, 2)))
    );
    assert_eq!(
        h.app.store().item(commune.id, svr.id).await.unwrap(),
        waiting
    );
    // Produced on 20 March: the suspension ends then, 10 days.
    let done = change(
        svr.id,
        Change::Completed {
            on: day(2026, 3, 20),
        },
        at(2026, 3, 20),
    )
    .await
    .unwrap();
    assert_eq!(done.silence_date, Some(day(2026, 5, 12)));

    // Without a date given, one month from the request.
    let other = register(typed("SVR 2", "reclamation", day(2026, 3, 2))).await;
    let waiting = change(
        other.id,
        Change::Incomplete {
            requested_on: day(2026, 3, 10),
            missing: Vec::new(),
            deadline: None,
        },
        at(2026, 3, 10),
    )
    .await
    .unwrap();
    assert_eq!(waiting.incomplete_deadline, Some(day(2026, 4, 10)));
    // A date for the documents that does not follow their request is refused.
    let third = register(typed("SVR 3", "reclamation", day(2026, 3, 2))).await;
    let err = change(
        third.id,
        Change::Incomplete {
            requested_on: day(2026, 3, 10),
            missing: Vec::new(),
            deadline: Some(day(2026, 3, 10)),
        },
        at(2026, 3, 10),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("doit suivre leur demande"),
        "{err}"
    );

    // SVA (2 months), arrival 2 March: accepted at the end of 2 May (urbanism, used here
    // before, has its own code: issue 16, correction 11). A request for documents dated
    // after that is refused: the acceptance is born and stays.
    let sva = register(typed("SVA", "demande-sva", day(2026, 3, 2))).await;
    assert_eq!(sva.silence_date, Some(day(2026, 5, 2)));
    let err = change(
        sva.id,
        Change::Incomplete {
            requested_on: day(2026, 5, 3),
            missing: vec!["Plan".into()],
            deadline: None,
        },
        at(2026, 5, 3),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("décision implicite est née"),
        "{err}"
    );
    // A new type after the birth does not move it either (SVR, 1 month, would say 2 April).
    let reclassified = change(
        sva.id,
        Change::Classify {
            doctype: "acces-documents".into(),
        },
        at(2026, 5, 10),
    )
    .await
    .unwrap();
    assert_eq!(reclassified.silence_date, Some(day(2026, 5, 2)));
    // Recorded, the decision stays: no request for documents, whatever its date.
    let recorded = register(typed("SVA 2", "demande-sva", day(2026, 3, 2))).await;
    change(
        recorded.id,
        Change::ImplicitDecision {
            decision: "accepted".into(),
            born_on: day(2026, 5, 2),
        },
        at(2026, 5, 3),
    )
    .await
    .unwrap();
    let err = change(
        recorded.id,
        Change::Incomplete {
            requested_on: day(2026, 3, 20),
            missing: Vec::new(),
            deadline: None,
        },
        at(2026, 5, 3),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("déjà enregistrée"), "{err}");
    // A request for documents made before the silence date may be recorded late.
    let late = register(typed("SVA 3", "demande-sva", day(2026, 3, 2))).await;
    let waiting = change(
        late.id,
        Change::Incomplete {
            requested_on: day(2026, 3, 20),
            missing: Vec::new(),
            deadline: Some(day(2026, 4, 20)),
        },
        at(2026, 5, 10),
    )
    .await
    .unwrap();
    assert_eq!(waiting.silence_date, None, "SVA: runs from their receipt");
}

/// Five registrations, then tampering done straight in the database by `sql`. The setup
/// journals 21 entries (the commune, 14 document types, a service, 5 items).
async fn tampered(db: Db, sql: &[&str]) -> Option<Vec<JournalProblem>> {
    let h = Harness::new(db).await?;
    let commune = h.commune("01004").await;
    for i in 0..5 {
        h.app
            .register(
                &commune,
                &SYSTEM,
                letter(&format!("Courrier {i}"), day(2026, 1, 5)),
                vec![],
                at(2026, 1, 5),
            )
            .await
            .unwrap();
    }
    let clean = h.app.verify_journals(|_| {}).await.unwrap();
    assert!(clean[0].report.is_intact(), "{:?}", clean[0].report);
    assert_eq!(clean[0].report.entries, 21);
    for statement in sql {
        let n = h.app.store().execute_unchecked(statement).await.unwrap();
        assert!(n > 0, "tampering did nothing: {statement}");
    }
    let verdicts = h.app.verify_journals(|_| {}).await.unwrap();
    assert!(
        !verdicts[0].report.is_intact(),
        "tampering not detected: {sql:?}"
    );
    Some(verdicts[0].report.problems.clone())
}

async fn an_edited_journal_entry_is_detected(db: Db) {
    let Some(problems) = tampered(
        db,
        &["UPDATE journal SET after_json = '{\"subject\":\"falsifié\"}' WHERE seq = 17"],
    )
    .await
    else {
        return;
    };
    assert_eq!(problems, vec![JournalProblem::Altered { seq: 17 }]);
}

async fn a_deleted_journal_entry_is_detected(db: Db) {
    let Some(problems) = tampered(db, &["DELETE FROM journal WHERE seq = 17"]).await else {
        return;
    };
    assert!(
        problems.contains(&JournalProblem::Missing {
            expected_seq: 17,
            found_seq: 18
        }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&JournalProblem::BrokenLink { seq: 18 }),
        "{problems:?}"
    );
}

async fn an_inserted_journal_entry_is_detected(db: Db) {
    // Make room after entry 16, then slip in a copy of entry 16 as number 17, chained to it.
    let Some(problems) = tampered(db, &[
        "UPDATE journal SET seq = seq + 1000 WHERE seq >= 17",
        "UPDATE journal SET seq = seq - 999 WHERE seq >= 1000",
        "INSERT INTO journal (commune_id, seq, at, actor, action, entity, entity_id, before_json, after_json, prev_hash, hash)
         SELECT commune_id, 17, at, actor, action, entity, entity_id, before_json, after_json, hash, hash FROM journal WHERE seq = 16",
    ]).await else { return };
    assert!(
        problems.contains(&JournalProblem::Altered { seq: 17 }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&JournalProblem::HeadMismatch {
            head_seq: 21,
            last_seq: 22
        }),
        "{problems:?}"
    );
}

async fn reordered_journal_entries_are_detected(db: Db) {
    let Some(problems) = tampered(
        db,
        &[
            "UPDATE journal SET seq = -1 WHERE seq = 17",
            "UPDATE journal SET seq = 17 WHERE seq = 18",
            "UPDATE journal SET seq = 18 WHERE seq = -1",
        ],
    )
    .await
    else {
        return;
    };
    assert!(
        problems.contains(&JournalProblem::Altered { seq: 17 }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&JournalProblem::BrokenLink { seq: 17 }),
        "{problems:?}"
    );
}

fn blob_path(h: &Harness, commune: uuid::Uuid, sha: &str) -> std::path::PathBuf {
    h.config
        .files_dir()
        .join(format!("communes/{commune}/blobs/{}/{sha}", &sha[..2]))
}

async fn a_file_altered_on_disk_is_detected(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let r = h
        .app
        .register(
            &commune,
            &SYSTEM,
            letter("Avec scan", day(2026, 1, 5)),
            vec![pdf(1)],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    let sha = &r.attachments[0].sha256;
    use sha2::Digest;
    assert_eq!(sha, &hex::encode(sha2::Sha256::digest(&pdf(1).bytes)));
    assert_eq!(
        h.app.read_file(commune.id, sha).await.unwrap(),
        pdf(1).bytes
    );
    // Encrypted at rest: the plaintext is not in the stored bytes.
    let path = blob_path(&h, commune.id, sha);
    let mut stored = std::fs::read(&path).unwrap();
    assert!(!stored.windows(8).any(|w| w == b"%PDF-1.4"));
    let last = stored.len() - 1;
    stored[last] ^= 1;
    std::fs::write(&path, &stored).unwrap();
    let err = h.app.read_file(commune.id, sha).await.unwrap_err();
    assert!(err.to_string().contains("altéré"), "{err}");
    let report = h
        .app
        .fsck(&FsckOptions::default(), Utc::now(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert!(!report.is_clean());
}

async fn fsck_collects_orphans_and_reports_missing_files(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let kept = h
        .app
        .register(
            &commune,
            &SYSTEM,
            letter("Gardé", day(2026, 1, 5)),
            vec![pdf(1)],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    // A file stored by a registration that never committed.
    let key = h.app.data_key(commune.id).await.unwrap();
    let orphan = h
        .app
        .files()
        .put(&commune.id.to_string(), &key, b"orphelin")
        .await
        .unwrap();
    // An email waiting in the outbox, and one sent: their bytes are the outbox's, not
    // orphans (fsck once collected them).
    let waiting = h
        .emailed(
            &commune,
            Some(kept.item.id),
            OutboxState::Pending,
            at(2026, 1, 5),
        )
        .await;
    let sent = h
        .emailed(
            &commune,
            Some(kept.item.id),
            OutboxState::Sent,
            at(2026, 1, 5),
        )
        .await;
    let young = h
        .app
        .fsck(&FsckOptions::default(), Utc::now(), |_| {})
        .await
        .unwrap();
    assert_eq!(
        (
            young.orphans.len(),
            young.orphans_too_recent,
            young.collected
        ),
        (1, 1, 0)
    );
    let options = FsckOptions {
        collect: true,
        grace: chrono::Duration::zero(),
    };
    let report = h.app.fsck(&options, Utc::now(), |_| {}).await.unwrap();
    assert_eq!(report.collected, 1);
    assert!(report.is_clean(), "{report:?}");
    assert!(
        !h.app
            .files()
            .exists(&commune.id.to_string(), &orphan.sha256)
            .await
            .unwrap()
    );
    for sha in [&kept.attachments[0].sha256, &waiting, &sent] {
        assert!(
            h.app
                .files()
                .exists(&commune.id.to_string(), sha)
                .await
                .unwrap()
        );
    }
    // A referenced file that disappeared is reported, never "collected".
    std::fs::remove_file(blob_path(&h, commune.id, &kept.attachments[0].sha256)).unwrap();
    let report = h.app.fsck(&options, Utc::now(), |_| {}).await.unwrap();
    assert_eq!(
        report.missing,
        vec![("01004".to_owned(), kept.attachments[0].sha256.clone())]
    );
    // A gap made in the database is found by the numbering check.
    h.app
        .register(
            &commune,
            &SYSTEM,
            letter("Deux", day(2026, 1, 5)),
            vec![],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    h.app
        .register(
            &commune,
            &SYSTEM,
            letter("Trois", day(2026, 1, 5)),
            vec![],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    h.app
        .store()
        .execute_unchecked("DELETE FROM item_contacts")
        .await
        .ok();
    h.app
        .store()
        .execute_unchecked("UPDATE items SET sequence = 9 WHERE sequence = 2")
        .await
        .unwrap();
    let report = h.app.fsck(&options, Utc::now(), |_| {}).await.unwrap();
    assert_eq!(report.numbering.len(), 1, "{report:?}");
}

async fn a_forbidden_transition_changes_nothing(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let item = h
        .app
        .register(
            &commune,
            &SYSTEM,
            letter("Objet", day(2026, 1, 5)),
            vec![],
            at(2026, 1, 5),
        )
        .await
        .unwrap()
        .item;
    let before = h.app.store().journal_len(commune.id).await.unwrap();
    let err = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            item.id,
            Change::Status {
                to: Status::Archived,
                reason: None,
            },
            at(2026, 1, 6),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("interdit"), "{err}");
    let err = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            item.id,
            Change::Status {
                to: Status::Closed,
                reason: None,
            },
            at(2026, 1, 6),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("motif"), "{err}");
    assert_eq!(h.app.store().journal_len(commune.id).await.unwrap(), before);
    assert_eq!(h.app.store().item(commune.id, item.id).await.unwrap(), item);
    // Copies, notes and the allowed path work and are journaled.
    let elu = h
        .app
        .add_user(
            &commune,
            parapheur_app::NewUser {
                email: "maire@a.demo".into(),
                display_name: "Maire".into(),
                title: Some("Maire".into()),
                role: parapheur_app::domain::Role::Elu,
                service_id: None,
                password: None,
                host_admin: false,
            },
            &SYSTEM,
            at(2026, 1, 6),
        )
        .await
        .unwrap();
    h.app
        .copy_item(
            &commune,
            &SYSTEM,
            item.id,
            elu.id,
            CopyPurpose::Opinion,
            at(2026, 1, 6),
        )
        .await
        .unwrap();
    assert_eq!(
        h.app.store().copies(commune.id, item.id).await.unwrap(),
        vec![(elu.id, CopyPurpose::Opinion)]
    );
    let note = h
        .app
        .add_note(
            &commune,
            &SYSTEM,
            item.id,
            "Rappeler le demandeur",
            at(2026, 1, 6),
        )
        .await
        .unwrap();
    assert_eq!(
        h.app.store().notes(commune.id, item.id).await.unwrap(),
        vec![note]
    );
    let closed = h
        .app
        .change_item(
            &commune,
            &SYSTEM,
            item.id,
            Change::Status {
                to: Status::Closed,
                reason: Some(CloseReason::NoFollowUp),
            },
            at(2026, 1, 6),
        )
        .await
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    let history = h
        .app
        .store()
        .journal_of(commune.id, "item", &item.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        [
            "item.registered",
            "item.copied",
            "note.added",
            "item.status"
        ]
    );
    assert!(
        history[3]
            .before
            .as_deref()
            .unwrap()
            .contains("\"registered\"")
    );
    assert!(history[3].after.as_deref().unwrap().contains("\"closed\""));
}

async fn one_commune_never_sees_another(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let a = h.commune("01004").await;
    let b = h.commune("37154").await;
    let mut tx = h.app.store().begin(at(2026, 1, 5)).await.unwrap();
    let contact_a = tx
        .insert_contact(
            a.id,
            &parapheur_app::domain::NewContact {
                name: "Dupont".into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut item = letter("Secret de A", day(2026, 1, 5));
    item.sender_ids = vec![contact_a.id];
    let ra = h
        .app
        .register(&a, &SYSTEM, item, vec![pdf(1)], at(2026, 1, 5))
        .await
        .unwrap();
    let sha = &ra.attachments[0].sha256;

    assert!(matches!(
        h.app.store().item(b.id, ra.item.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        h.app
            .store()
            .item_by_chrono(b.id, &ra.item.chrono)
            .await
            .is_err()
    );
    assert!(
        h.app
            .store()
            .items(b.id, &Default::default(), 100, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.app
            .store()
            .attachments(b.id, ra.item.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.app
            .store()
            .notes(b.id, ra.item.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.app.store().contact(b.id, contact_a.id).await.is_err());
    assert!(
        h.app
            .store()
            .search_contacts(b.id, "Dupont", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.app.read_file(b.id, sha).await.is_err());
    // Writes through B cannot reach A's rows.
    let err = h
        .app
        .change_item(
            &b,
            &SYSTEM,
            ra.item.id,
            Change::Status {
                to: Status::InProgress,
                reason: None,
            },
            at(2026, 1, 6),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("introuvable"), "{err}");
    assert!(
        h.app
            .add_note(&b, &SYSTEM, ra.item.id, "note", at(2026, 1, 6))
            .await
            .is_err()
    );
    let user_b = h
        .app
        .add_user(
            &b,
            parapheur_app::NewUser {
                email: "agent@b.demo".into(),
                display_name: "Agent B".into(),
                title: None,
                role: parapheur_app::domain::Role::Agent,
                service_id: None,
                password: None,
                host_admin: false,
            },
            &SYSTEM,
            at(2026, 1, 6),
        )
        .await
        .unwrap();
    assert!(
        h.app
            .copy_item(
                &b,
                &SYSTEM,
                ra.item.id,
                user_b.id,
                CopyPurpose::Information,
                at(2026, 1, 6)
            )
            .await
            .is_err()
    );
    assert!(
        h.app
            .copy_item(
                &a,
                &SYSTEM,
                ra.item.id,
                user_b.id,
                CopyPurpose::Information,
                at(2026, 1, 6)
            )
            .await
            .is_err()
    );
    assert!(
        h.app
            .store()
            .copies(a.id, ra.item.id)
            .await
            .unwrap()
            .is_empty()
    );
    let mut stolen = letter("Avec le contact de A", day(2026, 1, 5));
    stolen.sender_ids = vec![contact_a.id];
    assert!(
        h.app
            .register(&b, &SYSTEM, stolen, vec![], at(2026, 1, 5))
            .await
            .is_err()
    );
    let rb = h
        .app
        .register(
            &b,
            &SYSTEM,
            letter("À B", day(2026, 1, 5)),
            vec![],
            at(2026, 1, 5),
        )
        .await
        .unwrap();
    assert!(
        h.app
            .link_items(
                &b,
                &SYSTEM,
                rb.item.id,
                ra.item.id,
                parapheur_app::domain::LinkKind::ReplyTo,
                at(2026, 1, 6)
            )
            .await
            .is_err()
    );
    // Each commune has its own numbers and its own journal.
    assert_eq!(rb.item.sequence, 1);
    for v in h.app.verify_journals(|_| {}).await.unwrap() {
        assert!(v.report.is_intact(), "{v:?}");
    }
}

async fn communes_come_from_the_official_list_once(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let c = h.commune("01004").await;
    assert_eq!(
        (c.name.as_str(), c.siren.as_str(), c.postal_code.as_str()),
        ("Ambérieu-en-Bugey", "210100046", "01500")
    );
    assert!(h.app.store().doctypes(c.id).await.unwrap().len() >= 10);
    let err = h
        .app
        .create_commune("01004", &SYSTEM, Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("existe déjà"), "{err}");
    let err = h
        .app
        .create_commune("99999", &SYSTEM, Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::UnknownInsee(_)), "{err}");
    assert_eq!(h.app.store().communes().await.unwrap().len(), 1);
}

async fn a_wrong_master_key_is_refused(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    h.commune("01004").await;
    let mut other = h.config.clone();
    other.master_key = parapheur_app::MasterKeySource::Inline(
        parapheur_files::MasterKey::generate().unwrap().to_base64(),
    );
    let err = parapheur_app::App::open(&other)
        .await
        .err()
        .expect("a wrong key must be refused");
    assert!(err.to_string().contains("clé maître"), "{err}");
    // The right key still opens it.
    h.reopen().await;
}

async fn contacts_duplicates_are_found(db: Db) {
    use parapheur_app::domain::NewContact;
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let c = h.commune("01004").await;
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    let marie = tx
        .insert_contact(
            c.id,
            &NewContact {
                first_name: Some("Marie".into()),
                name: "Lefèvre".into(),
                address: Some("3, rue de l'Église".into()),
                postal_code: Some("01500".into()),
                email: Some("Marie.Lefevre@Example.org".into()),
                phone: Some("06 12 34 56 78".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for probe in [
        NewContact {
            name: "x".into(),
            email: Some("marie.lefevre@example.org".into()),
            ..Default::default()
        },
        NewContact {
            name: "x".into(),
            phone: Some("+33 6 12 34 56 78".into()),
            ..Default::default()
        },
        NewContact {
            first_name: Some("marie".into()),
            name: "LEFEVRE".into(),
            address: Some("3 rue de l eglise".into()),
            postal_code: Some("01500".into()),
            ..Default::default()
        },
    ] {
        let found = h.app.store().likely_duplicates(c.id, &probe).await.unwrap();
        assert_eq!(
            found.iter().map(|f| f.id).collect::<Vec<_>>(),
            vec![marie.id],
            "{probe:?}"
        );
    }
    let stranger = NewContact {
        name: "Autre".into(),
        email: Some("autre@example.org".into()),
        ..Default::default()
    };
    assert!(
        h.app
            .store()
            .likely_duplicates(c.id, &stranger)
            .await
            .unwrap()
            .is_empty()
    );
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    let err = tx
        .insert_contact(
            c.id,
            &NewContact {
                name: "Y".into(),
                email: Some("pas-une-adresse".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("adresse électronique invalide"),
        "{err}"
    );
}

async fn a_newer_schema_is_refused(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    h.app.store().execute_unchecked("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'futur', '2030-01-01')").await.unwrap();
    let err = parapheur_app::App::open(&h.config)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("plus récent"), "{err}");
}

async fn the_demo_is_complete_and_consistent(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let now = at(2026, 11, 28);
    let summary = h.app.seed_demo(now, |_, _| {}).await.unwrap();
    assert!(summary.items >= 300, "{}", summary.items);
    assert!(summary.late > 0);
    let items = h
        .app
        .store()
        .items(summary.commune.id, &Default::default(), 10_000, 0)
        .await
        .unwrap();
    let channels: BTreeSet<_> = items.iter().map(|i| i.channel).collect();
    assert_eq!(channels.len(), Channel::ALL.len(), "{channels:?}");
    // The demo's letters open with the contact's civility: Jean is "Monsieur", Marie
    // "Madame" (they once alternated whatever the first name). Senders of emails give
    // none, and their letters open with "Madame, Monsieur,".
    let contacts = h
        .app
        .store()
        .search_contacts(summary.commune.id, "", 1000)
        .await
        .unwrap();
    let mut checked = 0;
    for c in &contacts {
        let expected = match c.first_name.as_deref() {
            Some("Jean" | "Philippe" | "Éric" | "Mohamed" | "Gérard") => "Monsieur",
            Some("Marie" | "Nathalie" | "Hélène" | "Inès" | "Françoise") => "Madame",
            _ => continue,
        };
        let Some(civility) = c.civility.as_deref() else {
            continue;
        };
        assert_eq!(civility, expected, "{}", c.display_name());
        checked += 1;
    }
    assert!(checked > 5, "{checked}");
    let statuses: BTreeSet<_> = items.iter().map(|i| i.status).collect();
    for s in [
        Status::Registered,
        Status::Assigned,
        Status::InProgress,
        Status::AwaitingDocuments,
        Status::InCircuit,
        Status::ReplySent,
        Status::Closed,
        Status::Archived,
    ] {
        assert!(statuses.contains(&s), "no {s:?} in the demo");
    }
    // Counting and listing agree for every kind of filter, on both backends.
    use parapheur_store::items::ItemFilter;
    let today = day(2026, 11, 28);
    for filter in [
        ItemFilter::default(),
        ItemFilter {
            year: Some(2026),
            ..Default::default()
        },
        ItemFilter {
            year: Some(2019),
            ..Default::default()
        },
        ItemFilter {
            direction: Some(Direction::Outgoing),
            ..Default::default()
        },
        ItemFilter {
            status: Some(Status::Closed),
            ..Default::default()
        },
        ItemFilter {
            late_on: Some(today),
            ..Default::default()
        },
        ItemFilter {
            open_only: true,
            due_by: Some(today + chrono::Duration::days(7)),
            ..Default::default()
        },
        ItemFilter {
            statuses: vec![Status::Registered, Status::ToQualify],
            ..Default::default()
        },
    ] {
        let listed = h
            .app
            .store()
            .items(summary.commune.id, &filter, 10_000, 0)
            .await
            .unwrap();
        let counted = h
            .app
            .store()
            .count_items(summary.commune.id, &filter)
            .await
            .unwrap();
        assert_eq!(listed.len() as i64, counted, "{filter:?}");
    }
    // The inbox's one-pass counts agree with the filters they stand for.
    let secretary = h
        .app
        .store()
        .users(summary.commune.id)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.service_id.is_some())
        .unwrap();
    let week_end = today + chrono::Duration::days(7);
    let tally = h
        .app
        .store()
        .inbox_counts(
            summary.commune.id,
            secretary.id,
            secretary.service_id,
            today,
            week_end,
            Some(secretary.id),
        )
        .await
        .unwrap();
    let count = |filter: ItemFilter| {
        let store = h.app.store().clone();
        let commune = summary.commune.id;
        async move {
            store
                .count_items(
                    commune,
                    &ItemFilter {
                        confidential_visible_to: Some(secretary.id),
                        ..filter
                    },
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(
        tally.mine,
        count(ItemFilter {
            assignee_id: Some(secretary.id),
            open_only: true,
            ..Default::default()
        })
        .await
    );
    assert_eq!(
        tally.service,
        count(ItemFilter {
            service_id: secretary.service_id,
            open_only: true,
            ..Default::default()
        })
        .await
    );
    assert_eq!(
        tally.to_route,
        count(ItemFilter {
            statuses: vec![Status::ToQualify, Status::Registered],
            direction: Some(Direction::Incoming),
            ..Default::default()
        })
        .await
    );
    assert_eq!(
        tally.late,
        count(ItemFilter {
            late_on: Some(today),
            ..Default::default()
        })
        .await
    );
    assert_eq!(
        tally.due_within_week,
        count(ItemFilter {
            due_by: Some(week_end),
            open_only: true,
            ..Default::default()
        })
        .await
    );
    assert_eq!(
        tally.open,
        count(ItemFilter {
            open_only: true,
            ..Default::default()
        })
        .await
    );
    assert!(tally.late > 0 && tally.open > tally.late);
    let late = h
        .app
        .store()
        .count_items(
            summary.commune.id,
            &ItemFilter {
                late_on: Some(today),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        late as usize,
        items.iter().filter(|i| i.is_late(today)).count()
    );
    let directions: BTreeSet<_> = items.iter().map(|i| i.direction).collect();
    assert_eq!(directions.len(), 3);
    assert!(
        items
            .iter()
            .filter_map(|i| i.doctype_code.as_deref())
            .collect::<BTreeSet<_>>()
            .len()
            >= 10
    );
    let verdicts = h.app.verify_journals(|_| {}).await.unwrap();
    assert!(verdicts[0].report.is_intact());
    let report = h
        .app
        .fsck(&FsckOptions::default(), now, |_| {})
        .await
        .unwrap();
    assert!(report.is_clean() && report.files_checked > 50, "{report:?}");
    // The demo is refused a second time rather than duplicated.
    assert!(h.app.seed_demo(now, |_, _| {}).await.is_err());
}
