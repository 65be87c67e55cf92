//! The server's background work: the job queue (text extraction, OCR), the search index
//! following the journal, mailbox polling, drop folders, the email outbox and the deadline
//! watch. Each loop logs its errors and
//! carries on; none can stop the web server.

pub mod deadline_watch;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use crate::capture::dropfolder::FolderWatch;
use crate::{App, Config};

/// How often the index looks for journal entries it has not followed yet.
const INDEX_EVERY: Duration = Duration::from_secs(2);
/// How often drop folders are scanned.
const DROP_EVERY: Duration = Duration::from_secs(5);
/// How often the outbox looks for retries coming due when nothing wakes it.
const OUTBOX_EVERY: Duration = Duration::from_secs(30);
/// How often the deadline watch runs (implicit decisions, the morning digest).
const WATCH_EVERY: Duration = Duration::from_secs(600);

/// Starts every background loop on the current runtime.
pub fn spawn(app: &App, config: &Config) {
    tokio::spawn(job_worker(app.clone()));
    tokio::spawn(index_follower(app.clone()));
    tokio::spawn(mailbox_poller(app.clone(), config.poll_interval));
    tokio::spawn(outbox_sender(app.clone()));
    tokio::spawn(deadline_watch(app.clone()));
    for folder in &config.drop_folders {
        tokio::spawn(drop_folder(
            app.clone(),
            folder.path.clone(),
            folder.commune.clone(),
        ));
    }
}

async fn job_worker(app: App) {
    loop {
        match app.run_due_jobs(Utc::now, 4).await {
            Ok(done) if done.total() > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "job queue"),
        }
        // Woken at once by new jobs; otherwise look again for retries coming due.
        app.wait_for_work(Duration::from_secs(30)).await;
    }
}

async fn index_follower(app: App) {
    // One query for every commune's position: only communes whose journal moved are
    // looked at (thousands of communes on a hosted node).
    let mut followed: HashMap<Uuid, i64> = HashMap::new();
    loop {
        match app.store().journal_heads().await {
            Ok(heads) => {
                for (commune, head) in heads {
                    if followed.get(&commune) == Some(&head) {
                        continue;
                    }
                    match app.index_catch_up(commune).await {
                        Ok(_) => {
                            followed.insert(commune, head);
                        }
                        Err(e) => tracing::warn!(%commune, error = %e, "search index"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "search index"),
        }
        tokio::time::sleep(INDEX_EVERY).await;
    }
}

async fn outbox_sender(app: App) {
    loop {
        match app.deliver_outbox(Utc::now()).await {
            Ok(report) if report.sent + report.retried + report.failed > 0 => {
                tracing::info!(?report, "outbox");
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox"),
        }
        let _ = tokio::time::timeout(OUTBOX_EVERY, app.outbox_wait()).await;
    }
}

async fn deadline_watch(app: App) {
    loop {
        match app.run_deadline_watch(Utc::now()).await {
            Ok(report) if report.decisions + report.digests > 0 => {
                tracing::info!(?report, "deadline watch");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deadline watch"),
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

async fn mailbox_poller(app: App, every: Duration) {
    loop {
        match app.poll_all_mailboxes().await {
            Ok(report) if report.registered + report.attached + report.quarantined > 0 => {
                tracing::info!(?report, "mailboxes polled");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "mailboxes"),
        }
        tokio::time::sleep(every).await;
    }
}

async fn drop_folder(app: App, path: std::path::PathBuf, insee: String) {
    let mut watch = FolderWatch::default();
    loop {
        match app.commune(&insee).await {
            Ok(commune) => match app
                .scan_drop_folder(&commune, &path, &mut watch, Utc::now)
                .await
            {
                Ok(outcomes) => {
                    for (name, outcome) in outcomes {
                        tracing::info!(file = %name, %outcome, "drop folder");
                    }
                }
                Err(e) => tracing::warn!(folder = %path.display(), error = %e, "drop folder"),
            },
            Err(e) => tracing::warn!(commune = %insee, error = %e, "drop folder"),
        }
        tokio::time::sleep(DROP_EVERY).await;
    }
}
