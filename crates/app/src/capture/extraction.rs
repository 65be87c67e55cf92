//! The background job queue: text extraction and OCR of stored files.
//!
//! Registration only queues a job (in its own transaction), never waits for it. Jobs live in
//! the database, so they survive restarts; a worker leases a job while it runs it, and a
//! failure is retried with a growing delay. When the text cannot be had (no OCR programs,
//! an encrypted PDF), the file is marked "texte non extrait" with the reason.
//!
//! OCR uses every core: up to `ocr_workers` files of the queue are extracted at once, and
//! the workers a round leaves free go to the pages of its scans
//! ([`Limits::parallel_pages`]), so that a 40-page scan alone in the queue gets every core
//! and no more than about `ocr_workers` tesseracts ever run together.

use crate::boxed_future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use futures::StreamExt as _;
use parapheur_extract::{ExtractError, Extraction, Limits, Method, Tools};
use parapheur_store::capture::{FileText, Job};
use serde::Serialize;
use uuid::Uuid;

use crate::{App, AppError};

/// How long a worker holds a job before another may take it (a crash mid-OCR).
const LEASE_MINUTES: i64 = 30;
/// Attempts before a transient failure becomes final.
const MAX_ATTEMPTS: i64 = 5;

pub use parapheur_domain::upload::is_extractable;

/// What a round of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkDone {
    pub extracted: u64,
    pub not_extracted: u64,
    pub retried: u64,
}

impl WorkDone {
    pub fn total(&self) -> u64 {
        self.extracted + self.not_extracted + self.retried
    }
}

/// The delay before attempt `n + 1`: 1, 4, 16, 64 minutes…
fn backoff(attempts: i64) -> chrono::Duration {
    let minutes = 4_i64.saturating_pow(u32::try_from(attempts.max(1) - 1).unwrap_or(6));
    chrono::Duration::minutes(minutes.min(24 * 60))
}

/// A failure that will not go away by trying again with the same file and programs.
fn is_final(e: &ExtractError) -> bool {
    !matches!(e, ExtractError::Timeout | ExtractError::Failed(_))
}

fn method_code(m: &Method) -> &'static str {
    match m {
        Method::TextLayer => "text_layer",
        Method::Ocr => "ocr",
        Method::PlainText => "plain_text",
    }
}

impl App {
    /// Wakes the worker: new jobs were queued.
    pub fn work_queued(&self) {
        self.work.notify_one();
    }

    /// Waits until jobs are queued or `timeout` passes.
    #[boxed_future]
    pub async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }

    /// The OCR and PDF programs found on this machine, looked up once (it runs
    /// `tesseract --list-langs`: off the async threads).
    #[boxed_future]
    pub async fn extract_tools(&self) -> Arc<Tools> {
        if let Some(tools) = self.tools.get() {
            return tools.clone();
        }
        let found = tokio::task::spawn_blocking(Tools::detect)
            .await
            .unwrap_or_default();
        self.tools.get_or_init(|| Arc::new(found)).clone()
    }

    /// Sets the extraction programs instead of looking them up (tests: a machine without
    /// OCR). Has no effect once they were looked up.
    #[doc(hidden)]
    pub fn use_extract_tools(&self, tools: Tools) {
        let _ = self.tools.set(Arc::new(tools));
    }

    /// Runs the jobs whose time has come, `batch` at most, up to `ocr_workers` at once;
    /// `now` is read for each job.
    pub async fn run_due_jobs(
        &self,
        now: impl Fn() -> DateTime<Utc> + Send + Sync,
        batch: i64,
    ) -> Result<WorkDone, AppError> {
        self.run_due_jobs_dyn(&now, batch).await
    }

    /// `run_due_jobs` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn run_due_jobs_dyn(
        &self,
        now: &(dyn Fn() -> DateTime<Utc> + Sync),
        batch: i64,
    ) -> Result<WorkDone, AppError> {
        let claim = self
            .store()
            .claim_jobs(
                now(),
                chrono::Duration::minutes(LEASE_MINUTES),
                batch,
                self.node().id,
            )
            .await?;
        let (token, jobs) = (claim.token, claim.items);
        let workers = self.ocr_workers.max(1);
        let limits = Limits {
            parallel_pages: (workers / jobs.len().clamp(1, workers)).max(1),
            ..Limits::default()
        };
        let now = &now;
        let limits = &limits;
        // The futures are made first: a closure inside the stream would not be `Send` for
        // every lifetime, which the spawned job worker needs.
        let runs: Vec<_> = jobs
            .iter()
            .map(|job| async move { (job, self.run_job(job, token, limits, now).await) })
            .collect();
        let outcomes: Vec<_> = futures::stream::iter(runs)
            .buffer_unordered(workers)
            .collect()
            .await;
        let mut done = WorkDone::default();
        for (job, outcome) in outcomes {
            match outcome {
                Ok(true) => {
                    done.extracted += 1;
                    self.count(crate::metrics::Counter::JobsDone);
                }
                Ok(false) => {
                    done.not_extracted += 1;
                    self.count(crate::metrics::Counter::JobsFailed);
                }
                Err(e) => {
                    // Database or file store trouble: leave the job for later (unless
                    // another node took it over meanwhile).
                    tracing::warn!(job = %job.id, error = %e, "job postponed");
                    let at = now();
                    self.store()
                        .job_failed(
                            job.id,
                            token,
                            at,
                            &e.to_string(),
                            Some(at + backoff(job.attempts)),
                        )
                        .await?;
                    done.retried += 1;
                }
            }
        }
        Ok(done)
    }

    /// Runs every job now due, until none is left (for the CLI and tests).
    #[boxed_future]
    pub async fn drain_jobs(&self) -> Result<WorkDone, AppError> {
        let mut all = WorkDone::default();
        loop {
            let round = self.run_due_jobs(Utc::now, 16).await?;
            if round.total() == 0 {
                return Ok(all);
            }
            all.extracted += round.extracted;
            all.not_extracted += round.not_extracted;
            all.retried += round.retried;
        }
    }

    /// Extracts one file. Ok(true): text stored; Ok(false): marked "texte non extrait".
    async fn run_job(
        &self,
        job: &Job,
        token: Uuid,
        limits: &Limits,
        now: &(impl Fn() -> DateTime<Utc> + Sync),
    ) -> Result<bool, AppError> {
        if job.kind != "extract" {
            self.store()
                .job_failed(job.id, token, now(), "type de tâche inconnu", None)
                .await?;
            return Ok(false);
        }
        let bytes = self.read_file(job.commune_id, &job.subject).await?;
        let tools = self.extract_tools().await;
        let result =
            parapheur_extract::extract(&tools, limits, &bytes, &job.media_type, &job.filename)
                .await;
        drop(bytes);
        match result {
            Ok(extraction) => {
                self.store_extraction(job, token, extraction, now().trunc_subsecs(6))
                    .await?;
                Ok(true)
            }
            Err(e) => {
                let at = now().trunc_subsecs(6);
                let give_up = is_final(&e) || job.attempts >= MAX_ATTEMPTS;
                tracing::info!(job = %job.id, file = %job.filename, reason = %e, give_up, "text not extracted");
                if give_up {
                    let text = FileText {
                        sha256: job.subject.clone(),
                        state: "failed".into(),
                        method: None,
                        text: None,
                        reason: Some(e.to_string()),
                        pages: None,
                        searchable_sha256: None,
                        updated_at: at,
                    };
                    let mut tx = self.store().begin(at).await?;
                    tx.record_file_text(job.commune_id, &text, None, "system:extraction")
                        .await?;
                    tx.commit().await?;
                    self.store()
                        .job_failed(job.id, token, at, &e.to_string(), None)
                        .await?;
                } else {
                    self.store()
                        .job_failed(
                            job.id,
                            token,
                            at,
                            &e.to_string(),
                            Some(at + backoff(job.attempts)),
                        )
                        .await?;
                }
                Ok(false)
            }
        }
    }

    async fn store_extraction(
        &self,
        job: &Job,
        token: Uuid,
        extraction: Extraction,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let searchable_sha256 = match &extraction.searchable_pdf {
            Some(pdf) => {
                let key = self.data_key(job.commune_id).await?;
                Some(
                    self.files()
                        .put(&job.commune_id.to_string(), &key, pdf)
                        .await?
                        .sha256,
                )
            }
            None => None,
        };
        let sealed = self.seal_text(job.commune_id, &extraction.text).await?;
        let text = FileText {
            sha256: job.subject.clone(),
            state: "done".into(),
            method: Some(method_code(&extraction.method).into()),
            text: Some(sealed),
            reason: None,
            pages: Some(i64::from(extraction.pages)),
            searchable_sha256,
            updated_at: at,
        };
        let mut tx = self.store().begin(at).await?;
        tx.record_file_text(
            job.commune_id,
            &text,
            Some((job.id, token)),
            "system:extraction",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What ties a sealed text to its commune (a text moved to another commune's rows does
/// not open).
fn text_context(commune_id: uuid::Uuid) -> String {
    format!("file-text:{commune_id}")
}

/// The mark of a sealed value (`parapheur_files`' format).
const SEALED: &str = "sk1:";

impl App {
    /// The text extracted from a file, sealed with the commune's key like the file itself:
    /// the database alone does not reveal it, and destroying the commune's key makes it
    /// unreadable with the files.
    pub(crate) async fn seal_text(
        &self,
        commune_id: uuid::Uuid,
        text: &str,
    ) -> Result<String, AppError> {
        let key = self.data_key(commune_id).await?;
        Ok(key.seal(text.as_bytes(), &text_context(commune_id))?)
    }

    /// A stored text, opened (a register older than the sealing holds some in clear).
    pub(crate) async fn open_text(
        &self,
        commune_id: uuid::Uuid,
        stored: &str,
    ) -> Result<String, AppError> {
        if !stored.starts_with(SEALED) {
            return Ok(stored.to_owned());
        }
        let key = self.data_key(commune_id).await?;
        let plain = key.open(stored, &text_context(commune_id))?;
        Ok(String::from_utf8_lossy(&plain).into_owned())
    }

    /// The texts of an item's files, opened, in order, one line between them.
    pub(crate) async fn item_text(
        &self,
        commune_id: uuid::Uuid,
        item_id: uuid::Uuid,
    ) -> Result<String, AppError> {
        let mut text = String::new();
        for stored in self.store().item_texts(commune_id, item_id).await? {
            text.push_str(&self.open_text(commune_id, &stored).await?);
            text.push('\n');
        }
        Ok(text)
    }

    /// What was extracted from one file of the commune, its text opened.
    #[boxed_future]
    pub async fn file_text(
        &self,
        commune: &parapheur_domain::Commune,
        sha256: &str,
    ) -> Result<Option<FileText>, AppError> {
        match self.store().file_text(commune.id, sha256).await? {
            Some(mut t) => {
                if let Some(stored) = &t.text {
                    t.text = Some(self.open_text(commune.id, stored).await?);
                }
                Ok(Some(t))
            }
            None => Ok(None),
        }
    }

    /// What was extracted from each file of an item, the texts opened.
    #[boxed_future]
    pub async fn file_texts_of_item(
        &self,
        commune: &parapheur_domain::Commune,
        item_id: uuid::Uuid,
    ) -> Result<Vec<FileText>, AppError> {
        let mut out = Vec::new();
        for mut t in self.store().file_texts_of_item(commune.id, item_id).await? {
            if let Some(stored) = &t.text {
                t.text = Some(self.open_text(commune.id, stored).await?);
            }
            out.push(t);
        }
        Ok(out)
    }
}
