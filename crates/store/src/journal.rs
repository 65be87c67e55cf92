//! Appending to and reading back the per-commune hash-chained journal.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use parapheur_domain::journal::{
    self, ChainReport, ChainVerifier, GENESIS_HASH, JournalEntry, JournalProblem, NewJournalEntry,
};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Store;
use crate::rows::{parse_instant, parse_uuid};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalHead {
    pub seq: i64,
    pub hash: String,
}

/// Journal rows written by one `INSERT` (11 parameters each: well under the limits of
/// both backends).
const ROWS_PER_INSERT: usize = 50;

/// Chains `entries`, in order, after each commune's head, inside the caller's transaction:
/// each head is locked and read once, the entries are inserted a few dozen rows per
/// statement, and each head is moved once, to the last entry.
pub(crate) async fn append_all(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    entries: Vec<(Uuid, NewJournalEntry)>,
) -> Result<Vec<JournalEntry>, StoreError> {
    // (commune, seq, hash) of each head met, in the order met.
    let mut heads: Vec<(Uuid, i64, String)> = Vec::new();
    let mut chained = Vec::with_capacity(entries.len());
    for (commune_id, entry) in entries {
        let at = match heads.iter().position(|(c, _, _)| *c == commune_id) {
            Some(at) => at,
            None => {
                let (seq, hash) = lock_head(conn, commune_id).await?;
                heads.push((commune_id, seq, hash));
                heads.len() - 1
            }
        };
        let (_, seq, hash) = &mut heads[at];
        let next = journal::chain(commune_id, *seq, hash, now, entry);
        *seq = next.seq;
        hash.clone_from(&next.hash);
        chained.push(next);
    }
    for rows in chained.chunks(ROWS_PER_INSERT) {
        let values = (0..rows.len())
            .map(|r| {
                let p = r * 11;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9,
                    p + 10,
                    p + 11
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO journal (commune_id, seq, at, actor, action, entity, entity_id,
                                  before_json, after_json, prev_hash, hash)
             VALUES {values}"
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in rows {
            insert = insert
                .bind(e.commune_id.to_string())
                .bind(e.seq)
                .bind(journal::timestamp_text(&e.at))
                .bind(e.actor.clone())
                .bind(e.action.clone())
                .bind(e.entity.clone())
                .bind(e.entity_id.clone())
                .bind(e.before.clone())
                .bind(e.after.clone())
                .bind(e.prev_hash.clone())
                .bind(e.hash.clone());
        }
        insert.execute(&mut *conn).await?;
    }
    for (commune_id, seq, hash) in heads {
        sqlx::query("UPDATE journal_heads SET seq = $1, hash = $2 WHERE commune_id = $3")
            .bind(seq)
            .bind(hash)
            .bind(commune_id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(chained)
}

/// Locks a commune's journal head until the transaction ends and reads it (created at the
/// genesis hash for a commune's first entry).
async fn lock_head(
    conn: &mut AnyConnection,
    commune_id: Uuid,
) -> Result<(i64, String), StoreError> {
    let commune = commune_id.to_string();
    // A no-op UPDATE locks the head row on both backends (SQLite has no FOR UPDATE) and,
    // on PostgreSQL, re-reads it after any concurrent writer commits.
    let head =
        sqlx::query("UPDATE journal_heads SET seq = seq WHERE commune_id = $1 RETURNING seq, hash")
            .bind(commune.clone())
            .fetch_optional(&mut *conn)
            .await?;
    match head {
        Some(row) => Ok((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)),
        None => {
            sqlx::query("INSERT INTO journal_heads (commune_id, seq, hash) VALUES ($1, 0, $2)")
                .bind(commune)
                .bind(GENESIS_HASH)
                .execute(&mut *conn)
                .await?;
            Ok((0, GENESIS_HASH.to_owned()))
        }
    }
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<JournalEntry, StoreError> {
    Ok(JournalEntry {
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        seq: row.try_get("seq")?,
        at: parse_instant(&row.try_get::<String, _>("at")?)?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        entity: row.try_get("entity")?,
        entity_id: row.try_get("entity_id")?,
        before: row.try_get("before_json")?,
        after: row.try_get("after_json")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    pub async fn journal_head(&self, commune_id: Uuid) -> Result<Option<JournalHead>, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM journal_heads WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.map(|r| {
            Ok(JournalHead {
                seq: r.try_get(0)?,
                hash: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Every commune's journal position, in one query (for the search index follower).
    pub async fn journal_heads(&self) -> Result<Vec<(Uuid, i64)>, StoreError> {
        sqlx::query("SELECT commune_id, seq FROM journal_heads")
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| {
                Ok((
                    crate::rows::parse_uuid(&r.try_get::<String, _>(0)?)?,
                    r.try_get::<i64, _>(1)?,
                ))
            })
            .collect()
    }

    /// The journal entries about one entity, oldest first.
    pub async fn journal_of(
        &self,
        commune_id: Uuid,
        entity: &str,
        entity_id: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        sqlx::query(
            "SELECT * FROM journal WHERE commune_id = $1 AND entity = $2 AND entity_id = $3
             ORDER BY seq",
        )
        .bind(commune_id.to_string())
        .bind(entity.to_owned())
        .bind(entity_id.to_owned())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    /// Every journal entry of a commune, oldest first (exports, tests).
    pub async fn journal_entries(&self, commune_id: Uuid) -> Result<Vec<JournalEntry>, StoreError> {
        sqlx::query("SELECT * FROM journal WHERE commune_id = $1 ORDER BY seq")
            .bind(commune_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// The hash of the commune's journal entry `seq`, if there is one.
    pub async fn journal_hash_at(
        &self,
        commune_id: Uuid,
        seq: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT hash FROM journal WHERE commune_id = $1 AND seq = $2")
                .bind(commune_id.to_string())
                .bind(seq)
                .fetch_optional(self.reader())
                .await?
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?,
        )
    }

    /// The number of journal entries of a commune (for progress bars).
    pub async fn journal_len(&self, commune_id: Uuid) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM journal WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// Walks a commune's whole journal in sequence order and checks the chain and its head.
/// `progress` is called with the number of entries checked so far.
///
/// The head is read first and the entries up to it after: the register may be written
/// meanwhile (a live server), and entries committed after the head was read belong to a
/// later head. Entries missing below the head, or a head beyond the last entry, are still
/// reported.
pub async fn verify_journal(
    store: &Store,
    commune_id: Uuid,
    mut progress: impl FnMut(u64),
) -> Result<ChainReport, StoreError> {
    let head = store.journal_head(commune_id).await?;
    let mut verifier = ChainVerifier::new(commune_id);
    let mut rows =
        sqlx::query("SELECT * FROM journal WHERE commune_id = $1 AND seq <= $2 ORDER BY seq, hash")
            .bind(commune_id.to_string())
            .bind(head.as_ref().map_or(i64::MAX, |h| h.seq))
            .fetch(store.reader());
    let mut n = 0u64;
    while let Some(row) = rows.try_next().await? {
        verifier.push(&entry_from_row(&row)?);
        n += 1;
        if n.is_multiple_of(1000) {
            progress(n);
        }
    }
    progress(n);
    drop(rows);
    let mut report = verifier.finish(head.as_ref().map(|h| (h.seq, h.hash.as_str())));
    // Entries beyond the head read first are a later write's, unless the head, read
    // again, still does not reach them: then they were slipped in without it.
    if let Some(first) = &head {
        let beyond: Option<i64> =
            sqlx::query("SELECT MAX(seq) FROM journal WHERE commune_id = $1 AND seq > $2")
                .bind(commune_id.to_string())
                .bind(first.seq)
                .fetch_one(store.reader())
                .await?
                .try_get(0)?;
        let now = store.journal_head(commune_id).await?.map_or(0, |h| h.seq);
        if let Some(last) = beyond.filter(|last| *last > now) {
            report.problems.push(JournalProblem::HeadMismatch {
                head_seq: now,
                last_seq: last,
            });
        }
    }
    Ok(report)
}
