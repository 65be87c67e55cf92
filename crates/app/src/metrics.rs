//! This node's counters, for Prometheus (`/metrics`).
//!
//! A handful of monotonic counters kept in atomics and printed in Prometheus' text format
//! by the web front end: the format is a few lines of text (`# TYPE`, `name{labels} value`),
//! so a metrics crate and its registry would add a dependency for no gain.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::App;

/// What this node counts besides HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Extraction jobs completed with their text.
    JobsDone,
    /// Extraction jobs ended without text (given up, or a retry scheduled).
    JobsFailed,
    /// Messages registered from a mailbox or a drop folder.
    MessagesRegistered,
    /// Emails accepted by the SMTP server.
    EmailsSent,
}

impl Counter {
    pub const ALL: [Counter; 4] = [
        Counter::JobsDone,
        Counter::JobsFailed,
        Counter::MessagesRegistered,
        Counter::EmailsSent,
    ];

    /// Its Prometheus name and help line.
    pub fn name_and_help(self) -> (&'static str, &'static str) {
        match self {
            Counter::JobsDone => (
                "parapheur_jobs_done_total",
                "Extraction jobs completed by this node.",
            ),
            Counter::JobsFailed => (
                "parapheur_jobs_failed_total",
                "Extraction jobs that ended without text on this node.",
            ),
            Counter::MessagesRegistered => (
                "parapheur_messages_registered_total",
                "Messages registered from mailboxes and drop folders by this node.",
            ),
            Counter::EmailsSent => (
                "parapheur_emails_sent_total",
                "Emails accepted by the SMTP server from this node.",
            ),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The counters of this process.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: [AtomicU64; 4],
    /// HTTP responses by status code.
    http: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter.index()].load(Ordering::Relaxed)
    }

    /// HTTP responses so far, by status code.
    pub fn http_responses(&self) -> BTreeMap<u16, u64> {
        self.http.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl App {
    /// Adds one to `counter`.
    pub fn count(&self, counter: Counter) {
        self.count_by(counter, 1);
    }

    pub fn count_by(&self, counter: Counter, n: u64) {
        self.metrics.counters[counter.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an HTTP response.
    pub fn count_http(&self, status: u16) {
        *self
            .metrics
            .http
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status)
            .or_default() += 1;
    }

    /// This node's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
