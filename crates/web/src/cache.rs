//! A small read cache for the busiest pages (the inbox and the register), validated by the
//! commune's journal position.
//!
//! Every change to a commune's register goes through one write path that appends to its
//! journal, and each request reads the journal position together with the session (one
//! query). What was read at position N for a given key is therefore still exactly true at
//! position N: a cached value is used only when the position (and the local date, for
//! lateness) is the same. Nothing is ever served stale, also with several servers on one
//! database, since the position comes from the database on every request.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

/// Entries kept at most; beyond, entries of older positions go first, then everything.
const MAX_ENTRIES: usize = 512;

/// What a cached value depends on besides its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub journal_seq: i64,
    pub today: NaiveDate,
}

struct Entry {
    version: Version,
    value: Arc<dyn Any + Send + Sync>,
}

#[derive(Default)]
pub struct ReadCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ReadCache {
    /// The value for `key` at `version`, loaded (and kept) when absent or older.
    pub async fn get_or_load<T, E, F>(
        &self,
        key: String,
        version: Version,
        load: F,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        if let Some(hit) = self.lookup::<T>(&key, version) {
            return Ok(hit);
        }
        let value = Arc::new(load.await?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.version == version);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                version,
                value: value.clone(),
            },
        );
        Ok(value)
    }

    fn lookup<T: Send + Sync + 'static>(&self, key: &str, version: Version) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key).filter(|e| e.version == version)?;
        entry.value.clone().downcast::<T>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: i64) -> Version {
        Version {
            journal_seq: seq,
            today: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default(),
        }
    }

    #[tokio::test]
    async fn a_value_is_reused_at_the_same_position_only() {
        let cache = ReadCache::default();
        let load = |n: u32| async move { Ok::<_, ()>(n) };
        assert_eq!(
            *cache
                .get_or_load("k".into(), at(1), load(1))
                .await
                .unwrap_or_default(),
            1
        );
        assert_eq!(
            *cache
                .get_or_load("k".into(), at(1), load(2))
                .await
                .unwrap_or_default(),
            1
        );
        assert_eq!(
            *cache
                .get_or_load("k".into(), at(2), load(3))
                .await
                .unwrap_or_default(),
            3
        );
        let next_day = Version {
            today: at(2).today.succ_opt().unwrap_or_default(),
            ..at(2)
        };
        assert_eq!(
            *cache
                .get_or_load("k".into(), next_day, load(4))
                .await
                .unwrap_or_default(),
            4
        );
        // A failed load keeps nothing.
        let failed = cache
            .get_or_load("e".into(), at(2), async { Err::<u32, _>("no") })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            *cache
                .get_or_load("e".into(), at(2), load(5))
                .await
                .unwrap_or_default(),
            5
        );
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let cache = ReadCache::default();
        for i in 0..(MAX_ENTRIES * 3) {
            let _ = cache
                .get_or_load(format!("k{i}"), at(i as i64), async { Ok::<_, ()>(i) })
                .await;
        }
        let len = cache.entries.lock().map(|e| e.len()).unwrap_or_default();
        assert!(len <= MAX_ENTRIES, "{len}");
    }
}
