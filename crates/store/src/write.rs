//! The write path: a transaction whose changes are journaled, in the same transaction, onto
//! each commune's hash-chained journal. Apart from the pool (which opens and migrates the
//! database), so that the journal can read through a `Store` without the pool depending on
//! it in turn.

use chrono::{DateTime, Utc};
use parapheur_domain::journal::{JournalEntry, NewJournalEntry};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::backend::Backend;
use crate::error::StoreError;
use crate::pool::Store;

impl Store {
    /// Starts a write transaction whose journal entries are dated `now`.
    pub async fn begin(&self, now: DateTime<Utc>) -> Result<WriteTx, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        };
        Ok(WriteTx {
            tx,
            now,
            pending: Vec::new(),
        })
    }
}

/// A write transaction. Changes are journaled with [`WriteTx::journal`] and the entries
/// are chained onto each commune's journal in [`WriteTx::commit`], inside the transaction:
/// a change and its journal entry are committed together or not at all.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    now: DateTime<Utc>,
    pending: Vec<(Uuid, NewJournalEntry)>,
}

impl WriteTx {
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Locks the row of `table` matching `condition` until the transaction ends and reads it
    /// again: a no-op UPDATE of `column` takes PostgreSQL's row lock (SQLite's writer
    /// already holds the whole database). A read-modify-write then checks that the state it
    /// started from is still the stored one, so a concurrent change is refused instead of
    /// silently overwritten.
    pub(crate) async fn lock_row(
        &mut self,
        table: &'static str,
        column: &'static str,
        condition: &'static str,
        binds: &[String],
    ) -> Result<Option<AnyRow>, StoreError> {
        let mut lock = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = {column} WHERE {condition}"
        )));
        for b in binds {
            lock = lock.bind(b.clone());
        }
        lock.execute(self.conn()).await?;
        let mut read = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM {table} WHERE {condition}"
        )));
        for b in binds {
            read = read.bind(b.clone());
        }
        Ok(read.fetch_optional(self.conn()).await?)
    }

    /// Records a change to be journaled at commit.
    pub fn journal(&mut self, commune_id: Uuid, entry: NewJournalEntry) {
        self.pending.push((commune_id, entry));
    }

    /// Takes the next chrono number of (commune, year, direction). The counter row is
    /// locked until the transaction ends, so concurrent registrations queue here.
    pub async fn next_sequence(
        &mut self,
        commune_id: Uuid,
        year: i32,
        direction: &str,
    ) -> Result<i64, StoreError> {
        let row: AnyRow = sqlx::query(
            "INSERT INTO chrono_counters (commune_id, year, direction, last_seq)
             VALUES ($1, $2, $3, 1)
             ON CONFLICT (commune_id, year, direction)
             DO UPDATE SET last_seq = chrono_counters.last_seq + 1
             RETURNING last_seq",
        )
        .bind(commune_id.to_string())
        .bind(i64::from(year))
        .bind(direction.to_owned())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Chains the pending journal entries and commits. Entries are appended last so the
    /// journal head is locked only for the end of the transaction.
    pub async fn commit(mut self) -> Result<Vec<JournalEntry>, StoreError> {
        let pending = std::mem::take(&mut self.pending);
        let written = crate::journal::append_all(&mut self.tx, self.now, pending).await?;
        self.tx.commit().await?;
        Ok(written)
    }

    /// Abandons the transaction: nothing of it is kept, chrono numbers included.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

pub(crate) fn new_entry(
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: impl ToString,
    before: Option<String>,
    after: Option<String>,
) -> NewJournalEntry {
    NewJournalEntry {
        actor: actor.to_owned(),
        action: action.to_owned(),
        entity: entity.to_owned(),
        entity_id: entity_id.to_string(),
        before,
        after,
    }
}
