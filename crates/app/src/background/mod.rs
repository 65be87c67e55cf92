//! The server's background work: the job queue (text extraction, OCR), the search index
//! following the journal, mailbox polling, drop folders, the email outbox and the deadline
//! watch. Each loop logs its errors and carries on; none can stop the web server. Each runs
//! supervised: a loop that panics is logged, restarted after a pause (growing to a minute),
//! and its restarts and last panic are kept for the health report (`App::loop_health`).

pub mod deadline_watch;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
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

/// The first pause before a panicked loop is restarted; it doubles up to a minute.
const FIRST_RESTART_PAUSE: Duration = Duration::from_secs(1);

/// What the health report says of one background loop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoopHealth {
    pub name: String,
    /// Times it panicked and was started again.
    pub restarts: u32,
    pub last_panic: Option<String>,
    pub last_panic_at: Option<DateTime<Utc>>,
}

/// Starts every background loop on the current runtime, each supervised.
pub fn spawn(app: &App, config: &Config) {
    let every = config.poll_interval;
    supervise(app, "extraction", job_worker);
    supervise(app, "index", index_follower);
    supervise(app, "mailboxes", move |app| mailbox_poller(app, every));
    supervise(app, "outbox", outbox_sender);
    supervise(app, "deadline watch", deadline_watch);
    for folder in &config.drop_folders {
        let (path, insee) = (folder.path.clone(), folder.commune.clone());
        supervise(app, "drop folder", move |app| {
            drop_folder(app, path.clone(), insee.clone())
        });
    }
}

/// Runs the loop `start` makes, and starts it again whenever it panics.
pub fn supervise<F, Fut>(app: &App, name: &'static str, start: F)
where
    F: Fn(App) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    supervise_pausing(app, name, start, FIRST_RESTART_PAUSE);
}

fn supervise_pausing<F, Fut>(app: &App, name: &'static str, start: F, first_pause: Duration)
where
    F: Fn(App) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let app = app.clone();
    app.record_loop(name, None);
    tokio::spawn(async move {
        let mut pause = first_pause;
        loop {
            match tokio::spawn(start(app.clone())).await {
                // The loops never end; one that does is finished.
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    let payload = e.into_panic();
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panique sans message".to_owned());
                    tracing::error!(%name, panic = %message, "background loop panicked: restarted");
                    app.record_loop(name, Some(message));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(60));
                }
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            }
        }
    });
}

impl App {
    /// Each background loop: its restarts and last panic.
    pub fn loop_health(&self) -> Vec<LoopHealth> {
        match self.loops.lock() {
            Ok(loops) => loops.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        }
    }

    fn record_loop(&self, name: &str, panic: Option<String>) {
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        let entry = loops.entry(name.to_owned()).or_insert_with(|| LoopHealth {
            name: name.to_owned(),
            ..LoopHealth::default()
        });
        if let Some(message) = panic {
            entry.restarts += 1;
            entry.last_panic = Some(message);
            entry.last_panic_at = Some(Utc::now());
        }
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
        // The journal's daily anchor rides on the same round (each commune at most once a
        // day, and only when its journal moved).
        match app.anchor_journals(Utc::now()).await {
            Ok(report) if report.time_stamped + report.emailed > 0 => {
                tracing::info!(?report, "journal anchored");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "journal anchor"),
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
        // L112-11: what came by email is acknowledged at once (accusé d'enregistrement).
        if let Err(e) = app
            .acknowledge_all_email_registrations(chrono::Utc::now())
            .await
        {
            tracing::warn!(error = %e, "accusés d'enregistrement");
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::MasterKeySource;

    #[tokio::test]
    async fn a_panicking_loop_is_restarted_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(
            dir.path(),
            None,
            MasterKeySource::Inline(parapheur_files::MasterKey::generate().unwrap().to_base64()),
        );
        let app = App::open(&config).await.unwrap();
        let starts = Arc::new(AtomicUsize::new(0));
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let done = Arc::new(std::sync::Mutex::new(Some(done)));
        let counter = starts.clone();
        supervise_pausing(
            &app,
            "test loop",
            move |_app| {
                let start = counter.fetch_add(1, Ordering::SeqCst);
                let done = done.clone();
                async move {
                    if start < 2 {
                        panic!("boucle cassée n° {start}");
                    }
                    if let Some(done) = done.lock().unwrap().take() {
                        let _ = done.send(());
                    }
                }
            },
            Duration::from_millis(1),
        );
        tokio::time::timeout(Duration::from_secs(10), finished)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        let health = app.loop_health();
        let test_loop = health.iter().find(|h| h.name == "test loop").unwrap();
        assert_eq!(test_loop.restarts, 2);
        assert_eq!(test_loop.last_panic.as_deref(), Some("boucle cassée n° 1"));
        assert!(test_loop.last_panic_at.is_some());
    }
}
