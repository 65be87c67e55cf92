//! The server's background work: the job queue (text extraction, OCR), the search index
//! following the journal, mailbox polling, drop folders, the email outbox, the webhook
//! sender and the deadline watch. Each loop logs its errors and carries on; none can stop
//! the web server. Each runs supervised: a loop that panics is logged, restarted after a
//! pause (growing to a minute), and its restarts, last panic, last error and last good
//! round are kept for the health report (`App::loop_health`).
//!
//! Several nodes may run these loops on one database: jobs and emails are claimed under a
//! lease token, a mailbox or drop folder is polled by the node holding its lease, a round of
//! the deadline watch by one node at a time and its daily work once per commune and day. A
//! node started with `background = false` runs none of them, only its heartbeat.
//! [`stop`] asks every loop to stop at its next pause (work under way finishes), waits for
//! them, and gives the node's leases back.

use crate::boxed_future;
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
/// How often the webhook sender looks for retries coming due when nothing wakes it.
const WEBHOOKS_EVERY: Duration = Duration::from_secs(15);
/// How often the deadline watch runs (implicit decisions, the morning digest).
const WATCH_EVERY: Duration = Duration::from_secs(600);

/// How often a node writes its heartbeat row.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);
/// How long a node holds a drop folder without renewing it (it renews it at each scan; a
/// node killed leaves it to another after this).
const DROP_LEASE: chrono::Duration = chrono::Duration::minutes(1);
/// How long a node holds the round of email acknowledgements.
const ACK_LEASE: chrono::Duration = chrono::Duration::minutes(10);
/// How long a node holds a round of the deadline watch.
const WATCH_LEASE: chrono::Duration = chrono::Duration::minutes(30);

/// The first pause before a panicked loop is restarted; it doubles up to a minute.
const FIRST_RESTART_PAUSE: Duration = Duration::from_secs(1);

/// What the health report says of one background loop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LoopHealth {
    pub name: String,
    /// Times it panicked and was started again.
    pub restarts: u32,
    pub last_panic: Option<String>,
    pub last_panic_at: Option<DateTime<Utc>>,
    /// The end of its last round without error.
    #[serde(default)]
    pub last_success_at: Option<DateTime<Utc>>,
    /// Its last round's error, cleared by a good round.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Starts the node's heartbeat and, unless the node was set not to, every background loop
/// on the current runtime, each supervised.
pub fn spawn(app: &App, config: &Config) {
    supervise(app, "heartbeat", heartbeat);
    if !app.node().background {
        tracing::info!(node = %app.node().name, "background work off on this node");
        return;
    }
    let every = config.poll_interval;
    supervise(app, "extraction", job_worker);
    supervise(app, "index", index_follower);
    supervise(app, "mailboxes", move |app| mailbox_poller(app, every));
    supervise(app, "outbox", outbox_sender);
    supervise(app, "webhooks", webhook_sender);
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
    let tasks = app.tasks.clone();
    let task = tokio::spawn(async move {
        let mut pause = first_pause;
        loop {
            if app.is_stopping() {
                return;
            }
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
                    if app.pause(pause).await {
                        return;
                    }
                    pause = (pause * 2).min(Duration::from_secs(60));
                }
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            }
        }
    });
    tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task);
}

/// Stops the background work: every loop stops at its next pause (what it was doing
/// finishes), at most `grace` is waited for them, then the node's leases are given back and
/// its heartbeat row says it stopped. A loop still busy after `grace` is abandoned: its
/// leases and claims expire on their own, as if the node had died.
#[boxed_future]
pub async fn stop(app: &App, grace: Duration) {
    app.stopping.send_replace(true);
    let tasks: Vec<_> = std::mem::take(&mut *app.tasks.lock().unwrap_or_else(|p| p.into_inner()));
    let all = futures::future::join_all(tasks);
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!(
            grace_seconds = grace.as_secs(),
            "background loops still busy: abandoned"
        );
    }
    if let Err(e) = app.release_leases().await {
        tracing::warn!(error = %e, "leases not released (they will expire)");
    }
    if let Err(e) = app.heartbeat(true).await {
        tracing::warn!(error = %e, "last heartbeat");
    }
    tracing::info!("background work stopped");
}

impl App {
    /// Each background loop: its restarts and last panic.
    pub fn loop_health(&self) -> Vec<LoopHealth> {
        match self.loops.lock() {
            Ok(loops) => loops.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        }
    }

    /// True once the node is stopping.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Sleeps `length`, or less when the node starts stopping: true if it is.
    #[boxed_future]
    pub async fn pause(&self, length: Duration) -> bool {
        let mut stopping = self.stopping.subscribe();
        if *stopping.borrow_and_update() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(length) => self.is_stopping(),
            _ = stopping.changed() => true,
        }
    }

    fn loop_entry(&self, name: &str, change: impl FnOnce(&mut LoopHealth)) {
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        let entry = loops.entry(name.to_owned()).or_insert_with(|| LoopHealth {
            name: name.to_owned(),
            ..LoopHealth::default()
        });
        change(entry);
    }

    fn record_loop(&self, name: &str, panic: Option<String>) {
        self.loop_entry(name, |entry| {
            if let Some(message) = panic {
                entry.restarts += 1;
                entry.last_panic = Some(message);
                entry.last_panic_at = Some(Utc::now());
            }
        });
    }

    /// Records the outcome of a loop's round.
    fn loop_round<T, E: std::fmt::Display>(&self, name: &str, outcome: &Result<T, E>) {
        self.loop_entry(name, |entry| match outcome {
            Ok(_) => {
                entry.last_success_at = Some(Utc::now());
                entry.last_error = None;
            }
            Err(e) => entry.last_error = Some(e.to_string()),
        });
    }
}

async fn heartbeat(app: App) {
    loop {
        let outcome = app.heartbeat(false).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "heartbeat");
        }
        app.loop_round("heartbeat", &outcome);
        if app.pause(HEARTBEAT_EVERY).await {
            return;
        }
    }
}

async fn job_worker(app: App) {
    loop {
        let outcome = app.run_due_jobs(Utc::now, 4).await;
        app.loop_round("extraction", &outcome);
        match outcome {
            Ok(done) if done.total() > 0 && !app.is_stopping() => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "job queue"),
        }
        // Woken at once by new jobs; otherwise look again for retries coming due.
        tokio::select! {
            _ = app.wait_for_work(Duration::from_secs(30)) => {}
            _ = app.pause(Duration::from_secs(30)) => {}
        }
        if app.is_stopping() {
            return;
        }
    }
}

async fn index_follower(app: App) {
    // One query for every commune's position: only communes whose journal moved are
    // looked at (thousands of communes on a hosted node).
    let mut followed: HashMap<Uuid, i64> = HashMap::new();
    loop {
        let outcome = app.store().journal_heads().await;
        app.loop_round("index", &outcome);
        match outcome {
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
        if app.pause(INDEX_EVERY).await {
            return;
        }
    }
}

async fn outbox_sender(app: App) {
    loop {
        let outcome = app.deliver_outbox(Utc::now()).await;
        app.loop_round("outbox", &outcome);
        match outcome {
            Ok(report) if report.sent + report.retried + report.failed > 0 => {
                // Without an SMTP server the waits were said once (deliver_outbox).
                if app.smtp_setting().is_some() {
                    tracing::info!(?report, "outbox");
                } else {
                    tracing::debug!(?report, "outbox");
                }
                if !app.is_stopping() {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox"),
        }
        tokio::select! {
            _ = tokio::time::timeout(OUTBOX_EVERY, app.outbox_wait()) => {}
            _ = app.pause(OUTBOX_EVERY) => {}
        }
        if app.is_stopping() {
            return;
        }
    }
}

async fn webhook_sender(app: App) {
    loop {
        let outcome = app.deliver_webhooks(Utc::now()).await;
        app.loop_round("webhooks", &outcome);
        match outcome {
            Ok(report) if report.delivered + report.retried + report.failed > 0 => {
                tracing::debug!(?report, "webhooks");
                if !app.is_stopping() {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhooks"),
        }
        tokio::select! {
            _ = tokio::time::timeout(WEBHOOKS_EVERY, app.webhooks_wait()) => {}
            _ = app.pause(WEBHOOKS_EVERY) => {}
        }
        if app.is_stopping() {
            return;
        }
    }
}

async fn deadline_watch(app: App) {
    loop {
        // One node at a time runs a round; its daily work is claimed per commune and day.
        match app.take_lease("deadline-watch", WATCH_LEASE).await {
            Ok(true) => {
                deadline_watch_round(&app).await;
                if let Err(e) = app.release_lease("deadline-watch").await {
                    tracing::warn!(error = %e, "deadline watch lease");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "deadline watch lease"),
        }
        if app.pause(WATCH_EVERY).await {
            return;
        }
    }
}

async fn deadline_watch_round(app: &App) {
    {
        let outcome = app.run_deadline_watch(Utc::now()).await;
        app.loop_round("deadline watch", &outcome);
        match outcome {
            Ok(report) if report.decisions + report.digests > 0 => {
                tracing::info!(?report, "deadline watch");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deadline watch"),
        }
        // Rate-limit events older than a day go on the same round.
        if let Err(e) = app.prune_limits(Utc::now()).await {
            tracing::warn!(error = %e, "rate limits");
        }
        // And the API's idempotency answers older than a day.
        if let Err(e) = app.prune_idempotency(Utc::now()).await {
            tracing::warn!(error = %e, "idempotency keys");
        }
        // Logos uploaded before the header showed them get their small rendition.
        match app.make_missing_logo_renditions(Utc::now()).await {
            Ok(0) => {}
            Ok(made) => tracing::info!(made, "logo renditions made"),
            Err(e) => tracing::warn!(error = %e, "logo renditions"),
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
    }
}

async fn mailbox_poller(app: App, every: Duration) {
    loop {
        let outcome = app.poll_all_mailboxes().await;
        app.loop_round("mailboxes", &outcome);
        match outcome {
            Ok(report) if report.registered + report.attached + report.quarantined > 0 => {
                app.count_by(
                    crate::metrics::Counter::MessagesRegistered,
                    report.registered,
                );
                tracing::info!(?report, "mailboxes polled");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "mailboxes"),
        }
        // L112-11: what came by email is acknowledged at once (accusé d'enregistrement);
        // by one node at a time (each email also carries a deduplication key).
        match app.take_lease("email-acknowledgements", ACK_LEASE).await {
            Ok(true) => {
                if let Err(e) = app
                    .acknowledge_all_email_registrations(chrono::Utc::now())
                    .await
                {
                    tracing::warn!(error = %e, "accusés d'enregistrement");
                }
                if let Err(e) = app.release_lease("email-acknowledgements").await {
                    tracing::warn!(error = %e, "accusés d'enregistrement");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "accusés d'enregistrement"),
        }
        if app.pause(every).await {
            return;
        }
    }
}

async fn drop_folder(app: App, path: std::path::PathBuf, insee: String) {
    let mut watch = FolderWatch::default();
    // Nodes sharing the folder (a network share) take turns: one scans it at a time.
    let lease = format!("drop-folder:{insee}:{}", path.display());
    loop {
        match app.take_lease(&lease, DROP_LEASE).await {
            Ok(true) => {
                let outcome = match app.commune(&insee).await {
                    Ok(commune) => {
                        app.scan_drop_folder(&commune, &path, &mut watch, Utc::now)
                            .await
                    }
                    Err(e) => Err(e),
                };
                app.loop_round("drop folder", &outcome);
                match outcome {
                    Ok(outcomes) => {
                        for (name, outcome) in outcomes {
                            if matches!(outcome, crate::capture::CaptureOutcome::Registered { .. })
                            {
                                app.count(crate::metrics::Counter::MessagesRegistered);
                            }
                            tracing::info!(file = %name, %outcome, "drop folder");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(folder = %path.display(), commune = %insee, error = %e, "drop folder")
                    }
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "drop folder lease"),
        }
        if app.pause(DROP_EVERY).await {
            if let Err(e) = app.release_lease(&lease).await {
                tracing::warn!(error = %e, "drop folder lease");
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_loop_is_restarted_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _) = crate::testing_app(dir.path()).await;
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
