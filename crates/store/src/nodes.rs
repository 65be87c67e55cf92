//! Several nodes on one database: their heartbeats, the leases on work only one node may do
//! at a time, the work done once per commune and day, and the rate limits they share.
//!
//! Every claim is one conditional statement (an upsert whose update only happens when the
//! previous holder's time has run out), so two nodes racing for the same lease cannot both
//! win, on SQLite (one writer) as on PostgreSQL (the row's lock).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::Store;
use crate::error::StoreError;
use crate::rows::{date_text, instant_text, parse_instant, parse_uuid};

/// Work claimed under a lease: the rows, and the token that completing each must show.
#[derive(Debug, Clone)]
pub struct Claim<T> {
    pub token: Uuid,
    pub items: Vec<T>,
}

/// One node's heartbeat row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// This process's instance (a new one at each start).
    pub id: Uuid,
    pub name: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Whether it runs the background loops.
    pub background: bool,
    /// Set when it stopped cleanly.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Its loops' health, as the node last reported it (JSON).
    pub loops_json: String,
}

fn node_from_row(row: &AnyRow) -> Result<NodeRow, StoreError> {
    Ok(NodeRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        started_at: parse_instant(&row.try_get::<String, _>("started_at")?)?,
        last_seen: parse_instant(&row.try_get::<String, _>("last_seen")?)?,
        background: row.try_get::<i64, _>("background")? != 0,
        stopped_at: row
            .try_get::<Option<String>, _>("stopped_at")?
            .as_deref()
            .map(parse_instant)
            .transpose()?,
        loops_json: row.try_get("loops_json")?,
    })
}

/// The queues claimed under a lease token (their rows have `state`, `next_attempt_at`,
/// `attempts`, `updated_at`, `lease_token` and `leased_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeasedQueue {
    Outbox,
    WebhookDeliveries,
}

impl LeasedQueue {
    fn table(self) -> &'static str {
        match self {
            LeasedQueue::Outbox => "outbox",
            LeasedQueue::WebhookDeliveries => "webhook_deliveries",
        }
    }
}

impl Store {
    /// Takes up to `limit` rows of `queue` whose attempt is due, leasing each for `lease`
    /// (moving its next attempt, counting the attempt) under a new token, in one statement:
    /// one sender only takes a row (PostgreSQL skips rows another node is claiming), and a
    /// sender that dies leaves it to be taken again once the lease has run out. Recording
    /// the outcome checks the token.
    pub(crate) async fn claim_due_rows(
        &self,
        queue: LeasedQueue,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
        holder: Uuid,
    ) -> Result<(Uuid, Vec<AnyRow>), StoreError> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let table = queue.table();
        let sql = format!(
            "UPDATE {table} SET next_attempt_at = $1, attempts = attempts + 1, updated_at = $2,
                lease_token = $3, leased_by = $5
             WHERE id IN (SELECT id FROM {table} WHERE state = 'pending'
                            AND next_attempt_at <= $2
                          ORDER BY next_attempt_at, id LIMIT $4{lock})
             RETURNING *"
        );
        let token = Uuid::new_v4();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(instant_text(&(now + lease)))
            .bind(instant_text(&now))
            .bind(token.to_string())
            .bind(limit)
            .bind(holder.to_string())
            .fetch_all(self.writer())
            .await?;
        Ok((token, rows))
    }

    /// Writes this node's heartbeat (its row is created on the first).
    pub async fn node_heartbeat(&self, node: &NodeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nodes (id, name, version, started_at, last_seen, background, stopped_at,
                loops_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,
                stopped_at = excluded.stopped_at, loops_json = excluded.loops_json",
        )
        .bind(node.id.to_string())
        .bind(node.name.clone())
        .bind(node.version.clone())
        .bind(instant_text(&node.started_at))
        .bind(instant_text(&node.last_seen))
        .bind(i64::from(node.background))
        .bind(node.stopped_at.as_ref().map(instant_text))
        .bind(node.loops_json.clone())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The nodes seen since `since` (and those stopped since then), most recent first.
    pub async fn nodes(&self, since: DateTime<Utc>) -> Result<Vec<NodeRow>, StoreError> {
        sqlx::query("SELECT * FROM nodes WHERE last_seen >= $1 ORDER BY started_at DESC, id")
            .bind(instant_text(&since))
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(node_from_row)
            .collect()
    }

    /// Takes or renews the lease `name` for `holder` until `until`: true when held. Taken
    /// only when free, expired, or already this holder's.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: Uuid,
        node_name: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, node_name, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                node_name = excluded.node_name, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < $5",
        )
        .bind(name.to_owned())
        .bind(holder.to_string())
        .bind(node_name.to_owned())
        .bind(instant_text(&until))
        .bind(instant_text(&now))
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease back (only if `holder` still holds it).
    pub async fn release_lease(&self, name: &str, holder: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name.to_owned())
            .bind(holder.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Gives back every lease and unfinished daily claim of `holder` (a node stopping).
    pub async fn release_all_leases(&self, holder: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE holder = $1")
            .bind(holder.to_string())
            .execute(self.writer())
            .await?;
        sqlx::query("DELETE FROM daily_runs WHERE holder = $1 AND done_at IS NULL")
            .bind(holder.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Claims `task` of `commune` for `day` until `until`: true when this node is to do it.
    /// Not when it was done, nor while another node's claim runs.
    pub async fn claim_daily(
        &self,
        task: &str,
        commune_id: Uuid,
        day: NaiveDate,
        holder: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO daily_runs (task, commune_id, day, holder, lease_until)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (task, commune_id, day) DO UPDATE SET holder = excluded.holder,
                lease_until = excluded.lease_until
             WHERE daily_runs.done_at IS NULL AND daily_runs.lease_until < $6",
        )
        .bind(task.to_owned())
        .bind(commune_id.to_string())
        .bind(date_text(day))
        .bind(holder.to_string())
        .bind(instant_text(&until))
        .bind(instant_text(&now))
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a claimed daily task done (`ok`), or gives the claim back so that the next
    /// round, on any node, does it.
    pub async fn finish_daily(
        &self,
        task: &str,
        commune_id: Uuid,
        day: NaiveDate,
        holder: Uuid,
        ok: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (task, commune, day, holder) = (
            task.to_owned(),
            commune_id.to_string(),
            date_text(day),
            holder.to_string(),
        );
        if ok {
            sqlx::query(
                "UPDATE daily_runs SET done_at = $1
                 WHERE task = $2 AND commune_id = $3 AND day = $4 AND holder = $5",
            )
            .bind(instant_text(&now))
            .bind(task)
            .bind(commune)
            .bind(day)
            .bind(holder)
            .execute(self.writer())
            .await?;
        } else {
            sqlx::query(
                "DELETE FROM daily_runs
                 WHERE task = $1 AND commune_id = $2 AND day = $3 AND holder = $4
                   AND done_at IS NULL",
            )
            .bind(task)
            .bind(commune)
            .bind(day)
            .bind(holder)
            .execute(self.writer())
            .await?;
        }
        Ok(())
    }

    /// Events of `key` at or after `since`, oldest first.
    pub async fn rate_events(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        sqlx::query("SELECT at FROM rate_events WHERE rate_key = $1 AND at >= $2 ORDER BY at")
            .bind(key.to_owned())
            .bind(instant_text(&since))
            .fetch_all(self.writer())
            .await?
            .iter()
            .map(|r| parse_instant(&r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Counts an event of `key` at `now`, and forgets that key's events before `horizon`.
    pub async fn record_rate_event(
        &self,
        key: &str,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rate_events WHERE rate_key = $1 AND at < $2")
            .bind(key.to_owned())
            .bind(instant_text(&horizon))
            .execute(self.writer())
            .await?;
        sqlx::query("INSERT INTO rate_events (rate_key, at) VALUES ($1, $2)")
            .bind(key.to_owned())
            .bind(instant_text(&now))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Forgets every event of `key` (a successful login clears its failures).
    pub async fn forget_rate_events(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rate_events WHERE rate_key = $1")
            .bind(key.to_owned())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Forgets every event before `horizon`, all keys (the housekeeping of a limit whose
    /// keys are many: client addresses).
    pub async fn prune_rate_events(&self, horizon: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM rate_events WHERE at < $1")
            .bind(instant_text(&horizon))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// The database answers (the health report).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }
}
