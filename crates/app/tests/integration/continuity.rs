//! Off-site copies seen from the use cases: the administrators are told once a day when the
//! copies stop, and the administration page's overview says where they stand. (The copies
//! themselves, made by restic, are tested through the binary: `tests/cli/copies.rs`.)

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
