//! The one limiter: recent events counted per key, in the database (`rate_events`), so
//! that every node sharing it counts the same (on SQLite, the one box counts alone as
//! before). Failed logins (`administration::auth`) and public submissions
//! (`citizens::limiter`) are both "at most N events of this key within this window".

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{App, AppError};

/// How long until fewer than `max` of `events` (oldest first) fall within `window` of
/// `now`; `None` when they already do.
pub(crate) fn wait_within(
    events: &[DateTime<Utc>],
    max: usize,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let since = |t: &DateTime<Utc>| (now - *t).to_std().unwrap_or(Duration::ZERO);
    let recent: Vec<&DateTime<Utc>> = events.iter().filter(|t| since(t) < window).collect();
    if recent.len() < max || max == 0 {
        return (max == 0).then_some(window);
    }
    // The events are in order: the oldest of the last `max` leaves the window first.
    Some(window.saturating_sub(since(recent[recent.len() - max])))
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl App {
    /// How long `key` waits under `rules` (at most `max` events per `window`, each), or
    /// `None` when one more event is allowed. Asking records nothing.
    pub(crate) async fn limit_wait(
        &self,
        key: &str,
        rules: &[(usize, Duration)],
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, AppError> {
        let longest = rules.iter().map(|(_, w)| *w).max().unwrap_or_default();
        let events = self
            .store()
            .rate_events(key, now - chrono_of(longest))
            .await?;
        Ok(rules
            .iter()
            .filter_map(|(max, window)| wait_within(&events, *max, *window, now))
            .max())
    }

    /// Counts an event of `key` at `now`; its events older than `horizon` are forgotten.
    pub(crate) async fn limit_record(
        &self,
        key: &str,
        horizon: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        Ok(self
            .store()
            .record_rate_event(key, now, now - chrono_of(horizon))
            .await?)
    }

    /// Forgets `key` (a successful login clears its own failures).
    pub(crate) async fn limit_forget(&self, key: &str) -> Result<(), AppError> {
        Ok(self.store().forget_rate_events(key).await?)
    }

    /// Forgets every event older than a day, every key (keys are addresses and accounts,
    /// many of them seen once): run with the deadline watch.
    pub(crate) async fn prune_limits(&self, now: DateTime<Utc>) -> Result<u64, AppError> {
        Ok(self
            .store()
            .prune_rate_events(now - chrono::Duration::days(1))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_oldest_counted_event_leaves_the_window() {
        let t0 = Utc::now();
        let s = |n: i64| t0 + chrono::Duration::seconds(n);
        let window = Duration::from_secs(600);
        let events = [s(0), s(1), s(2)];
        assert_eq!(wait_within(&events, 4, window, s(2)), None);
        assert_eq!(
            wait_within(&events, 3, window, s(10)),
            Some(Duration::from_secs(590))
        );
        assert_eq!(wait_within(&[], 1, window, t0), None);
        assert_eq!(wait_within(&events, 3, window, s(600)), None);
        // Only the last `max` count: with two allowed, the second event decides.
        assert_eq!(
            wait_within(&events, 2, window, s(10)),
            Some(Duration::from_secs(591))
        );
    }
}
