//! The one limiter: recent events counted per key, in memory, bounded in the keys it
//! remembers. Failed logins (`administration::auth`) and public submissions
//! (`citizens::limiter`) are both "at most N events of this key within this window".
//! Each process limits on its own; the limit holds even after a panic elsewhere.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A point in time the limiter counts with: the monotonic clock, or a civil instant (the
/// logins take it from the use case, so that tests can pass theirs).
pub trait Moment: Copy + Ord {
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    fn since(self, earlier: Self) -> Duration;
}

impl Moment for Instant {
    fn since(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Moment for DateTime<Utc> {
    fn since(self, earlier: Self) -> Duration {
        (self - earlier).to_std().unwrap_or(Duration::ZERO)
    }
}

/// Recent events per key; at most `capacity` keys.
#[derive(Debug)]
pub struct RecentEvents<K, T> {
    events: Mutex<HashMap<K, Vec<T>>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, T: Moment> RecentEvents<K, T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            events: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The map, even after a panic elsewhere while it was held: the limit must not open
    /// because of it (the lists stay valid whatever the panic interrupted).
    fn map(&self) -> MutexGuard<'_, HashMap<K, Vec<T>>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until `key` has fewer than `max` events within `window` of `now`; `None`
    /// when it already has. Asking never adds a key.
    pub fn wait(&self, key: &K, max: usize, window: Duration, now: T) -> Option<Duration> {
        let map = self.map();
        let recent: Vec<&T> = map
            .get(key)?
            .iter()
            .filter(|t| now.since(**t) < window)
            .collect();
        if recent.len() < max {
            return None;
        }
        // The events are in order: the oldest of the last `max` leaves the window first.
        let oldest = recent[recent.len() - max];
        Some(window.saturating_sub(now.since(*oldest)))
    }

    /// Counts an event of `key` at `now`, forgetting its events older than `horizon` and
    /// keeping its `keep` most recent (all a `wait` with `max <= keep` looks at). When the
    /// map is over capacity, keys with nothing within `horizon` go first, then those seen
    /// longest ago, down to nine tenths so that the sort runs once per many events.
    pub fn record(&self, key: K, horizon: Duration, keep: usize, now: T) {
        let mut map = self.map();
        let list = map.entry(key).or_default();
        list.retain(|t| now.since(*t) < horizon);
        list.push(now);
        if list.len() > keep {
            list.drain(..list.len() - keep);
        }
        if map.len() > self.capacity {
            map.retain(|_, list| list.last().is_some_and(|t| now.since(*t) < horizon));
        }
        if map.len() > self.capacity {
            let mut last: Vec<(T, K)> = map
                .iter()
                .map(|(k, list)| (list.last().copied().unwrap_or(now), k.clone()))
                .collect();
            last.sort_unstable_by_key(|(t, _)| *t);
            let excess = map.len() - self.capacity * 9 / 10;
            for (_, key) in last.into_iter().take(excess) {
                map.remove(&key);
            }
        }
    }

    /// Forgets `key` (a successful login clears its own failures).
    pub fn forget(&self, key: &K) {
        self.map().remove(key);
    }

    /// Keys remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    #[cfg(test)]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.events.is_poisoned()
    }

    #[cfg(test)]
    pub(crate) fn hold_and_panic(self: &std::sync::Arc<Self>)
    where
        K: Send + 'static,
        T: Send + 'static,
    {
        let held = self.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.events.lock();
            panic!("poisoned on purpose");
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_oldest_counted_event_leaves_the_window() {
        let limits = RecentEvents::new(10);
        let t0 = Instant::now();
        let window = Duration::from_secs(600);
        for n in 0..3u64 {
            limits.record("a", window, 3, t0 + Duration::from_secs(n));
        }
        assert_eq!(limits.wait(&"a", 4, window, t0), None);
        assert_eq!(
            limits.wait(&"a", 3, window, t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(590))
        );
        assert_eq!(limits.wait(&"b", 1, window, t0), None);
        assert_eq!(limits.len(), 1, "asking adds no key");
        assert_eq!(limits.wait(&"a", 3, window, t0 + window), None);
        limits.forget(&"a");
        assert_eq!(limits.len(), 0);
    }
}
