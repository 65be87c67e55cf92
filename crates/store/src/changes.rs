//! What the register holds, summed up for the off-site copies to tell whether anything worth
//! a copy changed since the last one (`app::continuity`).

use crate::error::StoreError;
use crate::pool::Store;

impl Store {
    /// What the register holds, in a few cheap reads, for the off-site copies to tell
    /// whether anything changed since the last copy: every commune's journal head (every
    /// change to the register is journaled) and, for what changes without a journal entry
    /// (the outbox's and the webhook deliveries' states, the captured and quarantined
    /// messages, the text extraction, the mailboxes' cursors, passwords and second
    /// factors, revoked tokens), counts and latest updates. The node's heartbeat, the
    /// leases, the sessions and the rate limits are left out: they change on an idle box
    /// and a restored box does without them. Equal marks: nothing worth a copy changed.
    /// Each read sees the register as it is then: a change committed during the reads
    /// makes the mark differ from the next one (a copy too many, never one missed).
    pub async fn change_mark(&self) -> Result<String, StoreError> {
        use sqlx::Row as _;
        let mut mark = String::new();
        let heads =
            sqlx::query("SELECT commune_id, seq, hash FROM journal_heads ORDER BY commune_id")
                .fetch_all(self.reader())
                .await?;
        for row in &heads {
            let commune: String = row.try_get(0)?;
            let seq: i64 = row.try_get(1)?;
            let hash: String = row.try_get(2)?;
            mark.push_str(&format!("journal {commune} {seq} {hash}\n"));
        }
        for table in [
            "outbox",
            "webhook_deliveries",
            "webhook_subscriptions",
            "inbound_messages",
            "jobs",
            "file_texts",
            "contacts",
            "request_forms",
            "reply_templates",
            "circuit_templates",
        ] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT count(*), max(updated_at) FROM {table}"
            )))
            .fetch_one(self.reader())
            .await?;
            let count: i64 = row.try_get(0)?;
            let latest: Option<String> = row.try_get(1)?;
            mark.push_str(&format!("{table} {count} {}\n", latest.unwrap_or_default()));
        }
        let rows =
            sqlx::query("SELECT id, uid_validity, last_uid, active FROM mailboxes ORDER BY id")
                .fetch_all(self.reader())
                .await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let validity: Option<i64> = row.try_get(1)?;
            let last: i64 = row.try_get(2)?;
            let active: i64 = row.try_get(3)?;
            mark.push_str(&format!("mailbox {id} {validity:?} {last} {active}\n"));
        }
        let rows = sqlx::query(
            "SELECT id, password_hash, totp_sealed, totp_pending_sealed FROM users ORDER BY id",
        )
        .fetch_all(self.reader())
        .await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let password: Option<String> = row.try_get(1)?;
            let totp: Option<String> = row.try_get(2)?;
            let pending: Option<String> = row.try_get(3)?;
            mark.push_str(&format!("user {id} {password:?} {totp:?} {pending:?}\n"));
        }
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM api_tokens), (SELECT count(revoked_at) FROM api_tokens),
                    (SELECT count(*) FROM signing_keys), (SELECT count(*) FROM password_resets)",
        )
        .fetch_one(self.reader())
        .await?;
        let counts = (0..4)
            .map(|i| row.try_get::<i64, _>(i).map(|n| n.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        mark.push_str(&format!("counts {}\n", counts.join(" ")));
        Ok(mark)
    }
}
