//! Several nodes on one database: leases, claims with tokens, daily work, heartbeats and a
//! graceful stop. Each "node" is another `App` opened on the same register, as another
//! process would be.

use chrono::{Duration, Utc};
use parapheur_app::NewFile;
use parapheur_app::domain::Channel;
use parapheur_app::domain::item::NewItem;
use parapheur_store::capture::FileText;
use uuid::Uuid;

use crate::harness::{Db, Harness, SYSTEM, at, both};

both!(
    a_lease_is_held_by_one_node_until_released_or_expired,
    a_job_taken_over_is_completed_once,
    an_email_taken_over_is_recorded_once,
    daily_work_is_claimed_once_per_commune_and_day,
    a_stopping_node_gives_its_leases_back,
    a_node_without_background_work_runs_only_its_heartbeat,
);

async fn a_node_without_background_work_runs_only_its_heartbeat(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let mut config = h.config.clone();
    config.background = false;
    let web = parapheur_app::App::open(&config).await.unwrap();
    parapheur_app::background::spawn(&web, &config);
    let loops: Vec<String> = web.loop_health().into_iter().map(|l| l.name).collect();
    assert_eq!(loops, ["heartbeat"]);
    parapheur_app::background::stop(&web, std::time::Duration::from_secs(60)).await;
    let nodes = h.app.nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(!nodes[0].background && !nodes[0].running);
}

async fn a_lease_is_held_by_one_node_until_released_or_expired(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let other = h.reopen().await;
    assert_ne!(h.app.node().id, other.node().id);
    let ten = Duration::minutes(10);
    assert!(h.app.take_lease("mailbox:x", ten).await.unwrap());
    assert!(!other.take_lease("mailbox:x", ten).await.unwrap());
    // The holder renews it; another lease is free.
    assert!(h.app.take_lease("mailbox:x", ten).await.unwrap());
    assert!(other.take_lease("mailbox:y", ten).await.unwrap());
    h.app.release_lease("mailbox:x").await.unwrap();
    assert!(other.take_lease("mailbox:x", ten).await.unwrap());
    // A node that died leaves its lease to expire: taken over once its time is past.
    let (dead, now) = (Uuid::now_v7(), Utc::now());
    let store = h.app.store();
    assert!(
        store
            .take_lease("folder", dead, "mort", now, now + ten)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_lease(
                "folder",
                other.node().id,
                "b",
                now + Duration::minutes(9),
                now + ten
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .take_lease(
                "folder",
                other.node().id,
                "b",
                now + Duration::minutes(11),
                now + ten * 2
            )
            .await
            .unwrap()
    );
}

async fn a_job_taken_over_is_completed_once(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let registered = h
        .app
        .register(
            &commune,
            &SYSTEM,
            NewItem::incoming(Channel::Paper, "Éclairage", at(2026, 3, 2).date_naive()),
            vec![NewFile {
                filename: "lettre.txt".into(),
                media_type: "text/plain".into(),
                bytes: b"Les lampadaires ne s'allument plus.".to_vec(),
            }],
            at(2026, 3, 2),
        )
        .await
        .unwrap();
    let sha = registered.attachments[0].sha256.clone();
    let store = h.app.store();
    let now = Utc::now();
    let lease = Duration::minutes(30);
    let first = store
        .claim_jobs(now, lease, 10, h.app.node().id)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    // Claimed: no one else takes it while the lease runs.
    assert!(
        store
            .claim_jobs(now + Duration::minutes(1), lease, 10, Uuid::now_v7())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // The first worker stalls past its lease; another node takes the job over.
    let second = store
        .claim_jobs(now + Duration::minutes(31), lease, 10, Uuid::now_v7())
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_ne!(first.token, second.token);
    let job = second.items[0].id;
    let text = |words: &str| FileText {
        sha256: sha.clone(),
        state: "done".into(),
        method: Some("plain_text".into()),
        text: Some(words.into()),
        reason: None,
        pages: Some(1),
        searchable_sha256: None,
        updated_at: now,
    };
    // The stalled worker finishes: its completion is refused and writes nothing.
    let mut tx = store.begin(now).await.unwrap();
    let late = tx
        .record_file_text(
            commune.id,
            &text("premier"),
            Some((job, first.token)),
            "system:extraction",
        )
        .await;
    assert!(late.is_err(), "{late:?}");
    drop(tx);
    assert!(
        !store
            .job_failed(job, first.token, now, "trop tard", None)
            .await
            .unwrap()
    );
    let mut tx = store.begin(now).await.unwrap();
    tx.record_file_text(
        commune.id,
        &text("second"),
        Some((job, second.token)),
        "system:extraction",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let done: Vec<_> = store
        .journal_entries(commune.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "file.text_done")
        .collect();
    assert_eq!(done.len(), 1, "the job is done once");
    assert_eq!(store.job_counts().await.unwrap().done, 1);
    // Done: nobody claims it again.
    assert!(
        store
            .claim_jobs(now + Duration::days(1), lease, 10, Uuid::now_v7())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn an_email_taken_over_is_recorded_once(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    // An invitation queues an email in the outbox.
    h.app
        .invite_user(
            &commune,
            &SYSTEM,
            parapheur_app::NewUser {
                email: "agent@montbazon.fr".into(),
                display_name: "Agent".into(),
                title: None,
                role: parapheur_app::domain::Role::Agent,
                service_id: None,
                password: None,
                host_admin: false,
            },
            at(2026, 1, 2),
        )
        .await
        .unwrap();
    let store = h.app.store();
    let now = Utc::now();
    let lease = Duration::minutes(5);
    let first = store
        .claim_outbox(now, lease, 20, h.app.node().id)
        .await
        .unwrap();
    assert!(!first.items.is_empty(), "an email was queued");
    let id = first.items[0].id;
    let second = store
        .claim_outbox(now + Duration::minutes(6), lease, 20, Uuid::now_v7())
        .await
        .unwrap();
    assert!(second.items.iter().any(|m| m.id == id));
    // The node whose lease ran out cannot record the outcome; the one holding it can.
    assert!(!store.outbox_sent(id, first.token, now).await.unwrap());
    assert!(
        !store
            .outbox_failed(id, first.token, now, "trop tard", None)
            .await
            .unwrap()
    );
    assert!(store.outbox_sent(id, second.token, now).await.unwrap());
    assert!(!store.outbox_sent(id, second.token, now).await.unwrap());
    let message = store.outbox_message(commune.id, id).await.unwrap();
    assert_eq!(message.state.code(), "sent");
}

async fn daily_work_is_claimed_once_per_commune_and_day(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let store = h.app.store();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let day = at(2026, 3, 2).date_naive();
    let now = Utc::now();
    let claim = Duration::minutes(30);
    assert!(
        store
            .claim_daily("digests", commune.id, day, a, now, now + claim)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_daily("digests", commune.id, day, b, now, now + claim)
            .await
            .unwrap()
    );
    // Another task, another day: their own claims.
    assert!(
        store
            .claim_daily("decisions", commune.id, day, b, now, now + claim)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_daily(
                "digests",
                commune.id,
                day.succ_opt().unwrap(),
                b,
                now,
                now + claim
            )
            .await
            .unwrap()
    );
    // Done: never again that day, even once the claim's time is past.
    store
        .finish_daily("digests", commune.id, day, a, true, now)
        .await
        .unwrap();
    let later = now + Duration::hours(2);
    assert!(
        !store
            .claim_daily("digests", commune.id, day, b, later, later + claim)
            .await
            .unwrap()
    );
    // A node that died with its claim: another takes it once the claim ran out, not before.
    assert!(
        !store
            .claim_daily(
                "decisions",
                commune.id,
                day,
                a,
                now + Duration::minutes(10),
                later
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_daily("decisions", commune.id, day, a, later, later + claim)
            .await
            .unwrap()
    );
    // A failed round gives its claim back at once.
    store
        .finish_daily("decisions", commune.id, day, a, false, later)
        .await
        .unwrap();
    assert!(
        store
            .claim_daily("decisions", commune.id, day, b, later, later + claim)
            .await
            .unwrap()
    );
}

async fn a_stopping_node_gives_its_leases_back(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let other = h.reopen().await;
    let ten = Duration::minutes(10);
    parapheur_app::background::spawn(&h.app, &h.config);
    assert!(h.app.take_lease("mailbox:z", ten).await.unwrap());
    assert!(!other.take_lease("mailbox:z", ten).await.unwrap());
    parapheur_app::background::stop(&h.app, std::time::Duration::from_secs(60)).await;
    assert!(h.app.is_stopping());
    assert!(other.take_lease("mailbox:z", ten).await.unwrap());
    // Its heartbeat row says it stopped; the other node, never started, is not listed.
    let nodes = other.nodes().await.unwrap();
    let stopped = nodes.iter().find(|n| n.name == h.app.node().name).unwrap();
    assert!(!stopped.running);
    assert!(stopped.background);
    assert!(stopped.loops.iter().any(|l| l.name == "outbox"));
    assert_eq!(nodes.len(), 1);
}
