//! Off-site copies seen from the use cases: the administrators are told once a day when the
//! copies stop, and the administration page's overview says where they stand; the server's
//! copy loop, with the stock restic and a local repository, copies after a registration and
//! never on an idle box whose heartbeat goes on. (The copies' contents and their restoration
//! are tested through the binary: `tests/cli/copies.rs`.)

use parapheur_app::continuity::CopiesOverview;
use parapheur_app::domain::Role;
use parapheur_app::{App, BackupSetting};

use crate::harness::{Db, Harness, at, both};

const INSEE: &str = "01004";

async fn stopped_copies_are_told_to_the_administrators_once_a_day(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune(INSEE).await;
    h.user(&commune, "maire@mairie.fr", Role::Administrateur)
        .await;
    h.user(&commune, "agent@mairie.fr", Role::Agent).await;
    let mut config = h.config.clone();
    config.backup = Some(BackupSetting {
        repository: "s3:https://s3.example.fr/copies/mairie".into(),
        interval_seconds: None,
        credentials_file: None,
    });
    let app = App::open(&config).await.unwrap();
    let overview = app.copies_overview();
    let postgres = config.database_url.is_some();
    if postgres {
        assert!(
            matches!(overview, CopiesOverview::ByTheHost),
            "{overview:?}"
        );
    } else {
        assert!(
            matches!(&overview, CopiesOverview::Configured { state: None, .. }),
            "{overview:?}"
        );
    }

    // No state yet, then a recent failure: nobody is told.
    assert_eq!(
        app.alert_if_copies_stopped(&config, at(2026, 3, 2))
            .await
            .unwrap(),
        0
    );
    let state = serde_json::json!({
        "last_success_at": "2026-03-01T08:00:00Z",
        "snapshot_id": "0123456789abcdef",
        "data_added": 10, "seconds": 1.0,
        "last_attempt_at": "2026-03-01T09:30:00Z",
        "last_error": "le dépôt de copies s3:https://s3.example.fr/copies/mairie est injoignable : connection refused",
        "fingerprint": null, "last_forget_at": null
    });
    std::fs::write(
        config.data_dir.join("copies.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    let soon = chrono::DateTime::parse_from_rfc3339("2026-03-01T08:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(app.alert_if_copies_stopped(&config, soon).await.unwrap(), 0);

    // Two hours without a copy: the administrator (only) is told, once that day.
    let later = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        app.alert_if_copies_stopped(&config, later).await.unwrap(),
        1
    );
    assert_eq!(
        app.alert_if_copies_stopped(&config, later).await.unwrap(),
        0
    );
    let sent = app.outbox(commune.id, 10).await.unwrap();
    let alert: Vec<_> = sent.iter().filter(|m| m.kind == "copies-stopped").collect();
    assert_eq!(alert.len(), 1, "{sent:?}");
    assert_eq!(alert[0].recipients, "maire@mairie.fr");
    assert!(
        alert[0].subject.contains("copies hors site"),
        "{}",
        alert[0].subject
    );
    // The next day, again.
    assert_eq!(
        app.alert_if_copies_stopped(&config, at(2026, 3, 2))
            .await
            .unwrap(),
        1
    );

    if !postgres {
        let CopiesOverview::Configured {
            state: Some(state), ..
        } = app.copies_overview()
        else {
            panic!("the overview reads the state");
        };
        assert!(state.last_error.unwrap().contains("injoignable"));
    }
}

both!(stopped_copies_are_told_to_the_administrators_once_a_day);

/// The stock restic program, or None (after saying so loudly) outside CI.
fn restic_found() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("restic").is_file()));
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "restic is required in CI (apt-get install restic)"
        );
        eprintln!("SKIPPED: restic not found, the copy loop is not tested");
    }
    found
}

/// Polls the state of the copies until `done` holds (a bound against a hung test, not a
/// measure).
async fn wait_for_state(
    config: &parapheur_app::Config,
    what: &str,
    done: impl Fn(&parapheur_app::continuity::CopyState) -> bool,
) -> parapheur_app::continuity::CopyState {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        if let Some(state) = parapheur_app::continuity::state(config).unwrap()
            && done(&state)
        {
            return state;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the loop did not {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An idle box makes no copy, however often its heartbeat changes the SQLite file; a
/// registration makes one, and then the box is idle again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_loop_copies_changes_and_leaves_an_idle_box_alone() {
    if !restic_found() {
        return;
    }
    let Some(h) = Harness::new(Db::Sqlite).await else {
        return;
    };
    let commune = h.commune(INSEE).await;
    let mut config = h.config.clone();
    config.backup = Some(BackupSetting {
        repository: h.dir.path().join("depot").display().to_string(),
        interval_seconds: Some(1),
        credentials_file: None,
    });
    let app = App::open(&config).await.unwrap();
    let snapshots = async || app.list_copies(&config).await.unwrap().len();
    let looping = tokio::spawn(parapheur_app::continuity::copy_continuously(
        app.clone(),
        config.clone(),
    ));

    // The first look copies the register (never copied yet), and the retention runs after
    // it (its exclusive lock gone once it is recorded).
    let first = wait_for_state(&config, "make its first copy", |s| {
        s.last_success_at.is_some() && s.last_forget_at.is_some()
    })
    .await;
    assert_eq!(snapshots().await, 1);

    // Idle: heartbeats, each followed by more than one interval (so by looks of the loop).
    let wal = {
        let mut path = config.sqlite_path().into_os_string();
        path.push("-wal");
        std::path::PathBuf::from(path)
    };
    let metadata = |path: &std::path::Path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    let before = (metadata(&config.sqlite_path()), metadata(&wal));
    for _ in 0..5 {
        app.heartbeat(false).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    let nodes = app
        .store()
        .nodes(first.last_success_at.unwrap())
        .await
        .unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n.last_seen > first.last_success_at.unwrap()),
        "the heartbeats were written: {nodes:?}"
    );
    assert_ne!(
        before,
        (metadata(&config.sqlite_path()), metadata(&wal)),
        "the heartbeats changed the SQLite files (what the loop used to compare)"
    );
    let idle = parapheur_app::continuity::state(&config).unwrap().unwrap();
    assert_eq!(
        idle.snapshot_id, first.snapshot_id,
        "no copy of an idle box"
    );
    assert_eq!(idle.last_attempt_at, first.last_attempt_at);
    assert_eq!(snapshots().await, 1);

    // A registration: the next look copies it.
    h.app
        .register(
            &commune,
            &crate::harness::SYSTEM,
            parapheur_app::domain::item::NewItem::incoming(
                parapheur_app::domain::Channel::Paper,
                "Demande de permis",
                chrono::Utc::now().date_naive(),
            ),
            vec![],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let after = wait_for_state(&config, "copy the registration", |s| {
        s.last_success_at > first.last_success_at
    })
    .await;
    assert!(after.last_error.is_none(), "{after:?}");
    assert_eq!(snapshots().await, 2);

    // Idle again: no more copies.
    for _ in 0..3 {
        app.heartbeat(false).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    let idle = parapheur_app::continuity::state(&config).unwrap().unwrap();
    assert_eq!(
        idle.snapshot_id, after.snapshot_id,
        "no copy of an idle box"
    );
    assert_eq!(snapshots().await, 2);

    // A time-stamped anchor is a file written without a commit: it is copied too.
    let anchors = config.anchors_dir.join(commune.id.to_string());
    std::fs::create_dir_all(&anchors).unwrap();
    std::fs::write(anchors.join("1.json"), b"{}").unwrap();
    let anchored = wait_for_state(&config, "copy the anchor", |s| {
        s.last_success_at > after.last_success_at
    })
    .await;
    assert!(anchored.last_error.is_none(), "{anchored:?}");
    assert_eq!(snapshots().await, 3);

    parapheur_app::background::stop(&app, std::time::Duration::from_secs(60)).await;
    looping.await.unwrap();
}
