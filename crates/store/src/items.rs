//! Items of the register, their files, notes and links.

use chrono::{DateTime, NaiveDate, Utc};
use parapheur_domain::item::{CopyPurpose, Item, LinkKind};
use parapheur_domain::{CloseReason, Direction, Status};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Store;
use crate::rows::{
    date_text, instant_text, opt_date_text, parse_code, parse_date, parse_instant, parse_opt_date,
    parse_opt_uuid, parse_uuid,
};
use crate::write::{WriteTx, new_entry};

/// A file attached to an item. The bytes are in the file store under `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: Uuid,
    pub item_id: Uuid,
    pub sha256: String,
    pub size: i64,
    pub filename: String,
    pub media_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: Uuid,
    pub item_id: Uuid,
    pub author_id: Option<Uuid>,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What the dashboard needs of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub registered_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub direction: Direction,
    pub status: Status,
    pub service_id: Option<Uuid>,
    pub due_date: Option<NaiveDate>,
}

/// The counts the inbox shows at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboxCounts {
    pub mine: i64,
    pub service: i64,
    pub to_route: i64,
    pub late: i64,
    pub due_within_week: i64,
    pub open: i64,
}

/// The one confidentiality rule, as SQL over the `items` row named `alias`: a confidential
/// item is visible only to the person in charge of it, to its author and to the people it
/// was copied to (élus and administrators read everything and get no clause at all). `n` is the placeholder bound
/// to the reader's id. Every list, count, digest and export that can show an item, or
/// something made from one, filters with this and nothing else.
pub fn confidential_visible(alias: &str, n: &str) -> String {
    format!(
        "({alias}.confidentiality = 'normal' OR {alias}.assignee_id = {n} OR {alias}.created_by = {n} \
          OR EXISTS (SELECT 1 FROM item_copies cv WHERE cv.item_id = {alias}.id AND cv.user_id = {n}))"
    )
}

/// Filters for listing items; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub year: Option<i32>,
    pub direction: Option<Direction>,
    pub channel: Option<parapheur_domain::Channel>,
    pub status: Option<Status>,
    pub service_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// Open items whose due date is before this day.
    pub late_on: Option<NaiveDate>,
    /// Only items still awaiting an answer.
    pub open_only: bool,
    /// Open items due on or before this day.
    pub due_by: Option<NaiveDate>,
    /// Only these statuses (empty: any).
    pub statuses: Vec<Status>,
    /// Hide confidential items from this user unless they are in charge or their author
    /// (`None`: no restriction, for élus and administrators).
    pub confidential_visible_to: Option<Uuid>,
    /// Items that arrived on or after this day…
    pub arrived_from: Option<NaiveDate>,
    /// …and before this day (a month of the register: from the 1st to the next 1st).
    pub arrived_before: Option<NaiveDate>,
    /// The order of the list.
    pub order: ItemOrder,
}

/// How a list of items is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ItemOrder {
    /// Last registered first (the inbox and the register on screen).
    #[default]
    Newest,
    /// First registered first (the order of the legal register).
    Oldest,
    /// Soonest due first, items without a due date last.
    DueSoonest,
}

impl ItemOrder {
    fn sql(self) -> &'static str {
        match self {
            ItemOrder::Newest => "registered_at DESC, id DESC",
            ItemOrder::Oldest => "registered_at ASC, id ASC",
            ItemOrder::DueSoonest => {
                "CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, registered_at, id"
            }
        }
    }
}

/// A filter value: text columns take text, integer columns take integers (PostgreSQL is strict).
enum BindValue {
    Text(String),
    Int(i64),
}

/// Must stay identical to the predicate of the partial indexes of migration 0003.
pub(crate) const OPEN_CLAUSE: &str =
    "status NOT IN ('reply_sent', 'closed', 'archived', 'destroyed')";

impl ItemFilter {
    /// The WHERE clause (after `commune_id = $1`) with its values.
    fn sql(&self) -> Params {
        let mut p = Params::after(1);
        if let Some(y) = self.year {
            p.and("year =", BindValue::Int(i64::from(y)));
        }
        if let Some(d) = self.arrived_from {
            p.and("arrival_date >=", BindValue::Text(date_text(d)));
        }
        if let Some(d) = self.arrived_before {
            p.and("arrival_date <", BindValue::Text(date_text(d)));
        }
        if let Some(d) = self.direction {
            p.and("direction =", BindValue::Text(d.code().to_owned()));
        }
        if let Some(c) = self.channel {
            p.and("channel =", BindValue::Text(c.code().to_owned()));
        }
        if let Some(s) = self.status {
            p.and("status =", BindValue::Text(s.code().to_owned()));
        }
        if let Some(s) = self.service_id {
            p.and("service_id =", BindValue::Text(s.to_string()));
        }
        if let Some(a) = self.assignee_id {
            p.and("assignee_id =", BindValue::Text(a.to_string()));
        }
        if let Some(d) = self.late_on {
            p.and(
                &format!("{OPEN_CLAUSE} AND due_date <"),
                BindValue::Text(date_text(d)),
            );
        }
        if let Some(d) = self.due_by {
            p.and(
                &format!("{OPEN_CLAUSE} AND due_date <="),
                BindValue::Text(date_text(d)),
            );
        }
        if self.open_only {
            p.sql.push_str(&format!(" AND {OPEN_CLAUSE}"));
        }
        if let Some(user) = self.confidential_visible_to {
            let n = p.bind(BindValue::Text(user.to_string()));
            p.sql
                .push_str(&format!(" AND {}", confidential_visible("items", &n)));
        }
        if !self.statuses.is_empty() {
            // Status codes are our own constants, never user text.
            let list: Vec<String> = self
                .statuses
                .iter()
                .map(|s| format!("'{}'", s.code()))
                .collect();
            p.sql
                .push_str(&format!(" AND status IN ({})", list.join(", ")));
        }
        p
    }
}

/// SQL with numbered parameters that number themselves. sqlx's `QueryBuilder` writes `?`
/// for the `Any` driver, which PostgreSQL refuses; the shared SQL uses `$n`.
struct Params {
    sql: String,
    values: Vec<BindValue>,
    /// Parameters bound before these (`$1` for the commune).
    before: usize,
}

impl Params {
    fn after(before: usize) -> Params {
        Params {
            sql: String::new(),
            values: Vec::new(),
            before,
        }
    }

    /// Adds a value; returns its placeholder.
    fn bind(&mut self, value: BindValue) -> String {
        self.values.push(value);
        format!("${}", self.before + self.values.len())
    }

    /// ` AND {clause} $n`.
    fn and(&mut self, clause: &str, value: BindValue) {
        let n = self.bind(value);
        self.sql.push_str(&format!(" AND {clause} {n}"));
    }

    fn bind_all<'q>(
        self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for v in self.values {
            q = match v {
                BindValue::Text(t) => q.bind(t),
                BindValue::Int(i) => q.bind(i),
            };
        }
        q
    }
}

pub(crate) fn item_from_row(row: &AnyRow, tags: Vec<String>) -> Result<Item, StoreError> {
    Ok(Item {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        commune_id: parse_uuid(&row.try_get::<String, _>("commune_id")?)?,
        chrono: row.try_get("chrono")?,
        year: i32::try_from(row.try_get::<i64, _>("year")?)
            .map_err(|_| StoreError::corrupt("année"))?,
        sequence: row.try_get("sequence")?,
        direction: parse_code(&row.try_get::<String, _>("direction")?)?,
        channel: parse_code(&row.try_get::<String, _>("channel")?)?,
        registered_number: row.try_get("registered_number")?,
        doctype_code: row.try_get("doctype_code")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        letter_date: parse_opt_date(row.try_get("letter_date")?)?,
        arrival_date: parse_date(&row.try_get::<String, _>("arrival_date")?)?,
        first_receipt_elsewhere: parse_opt_date(row.try_get("first_receipt_elsewhere")?)?,
        registered_at: parse_instant(&row.try_get::<String, _>("registered_at")?)?,
        sender_reference: row.try_get("sender_reference")?,
        priority: parse_code(&row.try_get::<String, _>("priority")?)?,
        confidentiality: parse_code(&row.try_get::<String, _>("confidentiality")?)?,
        service_id: parse_opt_uuid(row.try_get("service_id")?)?,
        assignee_id: parse_opt_uuid(row.try_get("assignee_id")?)?,
        status: parse_code(&row.try_get::<String, _>("status")?)?,
        close_reason: row
            .try_get::<Option<String>, _>("close_reason")?
            .as_deref()
            .map(parse_code::<CloseReason>)
            .transpose()?,
        due_date: parse_opt_date(row.try_get("due_date")?)?,
        silence_date: parse_opt_date(row.try_get("silence_date")?)?,
        incomplete_requested_on: parse_opt_date(row.try_get("incomplete_requested_on")?)?,
        incomplete_completed_on: parse_opt_date(row.try_get("incomplete_completed_on")?)?,
        incomplete_deadline: parse_opt_date(row.try_get("incomplete_deadline")?)?,
        missing_documents: match row.try_get::<Option<String>, _>("missing_documents")? {
            Some(json) => {
                serde_json::from_str(&json).map_err(|_| StoreError::corrupt("pièces manquantes"))?
            }
            None => Vec::new(),
        },
        implicit_decision: row.try_get("implicit_decision")?,
        implicit_decision_on: parse_opt_date(row.try_get("implicit_decision_on")?)?,
        acknowledged_at: row
            .try_get::<Option<String>, _>("acknowledged_at")?
            .as_deref()
            .map(parse_instant)
            .transpose()?,
        tags,
        created_by: parse_opt_uuid(row.try_get("created_by")?)?,
        updated_at: parse_instant(&row.try_get::<String, _>("updated_at")?)?,
    })
}

pub(crate) fn attachment_from_row(row: &AnyRow) -> Result<Attachment, StoreError> {
    Ok(Attachment {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        item_id: parse_uuid(&row.try_get::<String, _>("item_id")?)?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        filename: row.try_get("filename")?,
        media_type: row.try_get("media_type")?,
    })
}

pub(crate) const ITEM_COLUMNS: &str = "id, commune_id, chrono, year, direction, sequence, channel, \
    registered_number, doctype_code, subject, body, letter_date, arrival_date, \
    first_receipt_elsewhere, registered_at, sender_reference, priority, confidentiality, \
    service_id, assignee_id, status, close_reason, due_date, silence_date, \
    incomplete_requested_on, incomplete_completed_on, missing_documents, implicit_decision, \
    implicit_decision_on, acknowledged_at, created_by, updated_at, incomplete_deadline";

impl Store {
    async fn tags_of(&self, item_id: Uuid) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT tag FROM item_tags WHERE item_id = $1 ORDER BY tag")
            .bind(item_id.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// An item of this commune; an item of another commune is "not found", never shown.
    pub async fn item(&self, commune_id: Uuid, id: Uuid) -> Result<Item, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE commune_id = $1 AND id = $2"
        )))
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("élément"))?;
        item_from_row(&row, self.tags_of(id).await?)
    }

    pub async fn item_by_chrono(&self, commune_id: Uuid, chrono: &str) -> Result<Item, StoreError> {
        let row = sqlx::query("SELECT id FROM items WHERE commune_id = $1 AND chrono = $2")
            .bind(commune_id.to_string())
            .bind(chrono.trim().to_owned())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::not_found(format!("l'élément {chrono}")))?;
        self.item(commune_id, parse_uuid(&row.try_get::<String, _>(0)?)?)
            .await
    }

    /// Items, newest first. Tags are not loaded here (lists don't show them).
    pub async fn items(
        &self,
        commune_id: Uuid,
        filter: &ItemFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let mut params = filter.sql();
        let limit = params.bind(BindValue::Int(limit));
        let offset = params.bind(BindValue::Int(offset));
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE commune_id = $1{}
             ORDER BY {} LIMIT {limit} OFFSET {offset}",
            params.sql,
            filter.order.sql(),
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
        params
            .bind_all(q)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| item_from_row(row, Vec::new()))
            .collect()
    }

    /// A page of items newest first (`registered_at`, then id), after the last item of the
    /// previous page (`before`: its registration instant and id). Keyset pagination: an
    /// item registered meanwhile shifts nothing, where an offset would repeat or skip.
    pub async fn items_page(
        &self,
        commune_id: Uuid,
        filter: &ItemFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let mut params = filter.sql();
        if let Some((at, id)) = before {
            let at = params.bind(BindValue::Text(instant_text(&at)));
            let id = params.bind(BindValue::Text(id.to_string()));
            params.sql.push_str(&format!(
                " AND (registered_at < {at} OR (registered_at = {at} AND id < {id}))"
            ));
        }
        let limit = params.bind(BindValue::Int(limit));
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE commune_id = $1{}
             ORDER BY registered_at DESC, id DESC LIMIT {limit}",
            params.sql,
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
        params
            .bind_all(q)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| item_from_row(row, Vec::new()))
            .collect()
    }

    /// The inbox's counts in one pass over the commune's open items (instead of one query
    /// per view). `user` and `service` are the person's; `confidential_visible_to` as in
    /// [`ItemFilter`].
    pub async fn inbox_counts(
        &self,
        commune_id: Uuid,
        user: Uuid,
        service: Option<Uuid>,
        today: NaiveDate,
        week_end: NaiveDate,
        confidential_visible_to: Option<Uuid>,
    ) -> Result<InboxCounts, StoreError> {
        let restrict = if confidential_visible_to.is_some() {
            format!(" AND {}", confidential_visible("items", "$6"))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT
                COALESCE(SUM(CASE WHEN assignee_id = $2 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN service_id = $3 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN direction = 'incoming' AND status IN ('to_qualify', 'registered') THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN due_date < $4 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN due_date <= $5 THEN 1 ELSE 0 END), 0),
                COUNT(*)
             FROM items WHERE commune_id = $1 AND {OPEN_CLAUSE}{restrict}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(commune_id.to_string())
            .bind(user.to_string())
            .bind(service.map(|s| s.to_string()).unwrap_or_default())
            .bind(date_text(today))
            .bind(date_text(week_end));
        if let Some(viewer) = confidential_visible_to {
            query = query.bind(viewer.to_string());
        }
        let row = query.fetch_one(self.reader()).await?;
        Ok(InboxCounts {
            mine: row.try_get(0)?,
            service: row.try_get(1)?,
            to_route: row.try_get(2)?,
            late: row.try_get(3)?,
            due_within_week: row.try_get(4)?,
            open: row.try_get(5)?,
        })
    }

    /// How many items match a filter.
    pub async fn count_items(
        &self,
        commune_id: Uuid,
        filter: &ItemFilter,
    ) -> Result<i64, StoreError> {
        let params = filter.sql();
        let sql = format!(
            "SELECT COUNT(*) FROM items WHERE commune_id = $1{}",
            params.sql
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
        Ok(params
            .bind_all(q)
            .fetch_one(self.reader())
            .await?
            .try_get(0)?)
    }

    pub async fn item_count(&self, commune_id: Uuid) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM items WHERE commune_id = $1")
            .bind(commune_id.to_string())
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Every sequence number given for (year, direction), ascending: for gap checks.
    pub async fn sequences(
        &self,
        commune_id: Uuid,
        year: i32,
        direction: Direction,
    ) -> Result<Vec<i64>, StoreError> {
        sqlx::query(
            "SELECT sequence FROM items WHERE commune_id = $1 AND year = $2 AND direction = $3
             ORDER BY sequence",
        )
        .bind(commune_id.to_string())
        .bind(i64::from(year))
        .bind(direction.code())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<i64, _>(0)?))
        .collect()
    }

    /// The counters' view: (year, direction, last sequence given).
    pub async fn chrono_counters(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<(i32, Direction, i64)>, StoreError> {
        sqlx::query(
            "SELECT year, direction, last_seq FROM chrono_counters WHERE commune_id = $1
             ORDER BY year, direction",
        )
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| {
            Ok((
                i32::try_from(r.try_get::<i64, _>(0)?).map_err(|_| StoreError::corrupt("année"))?,
                parse_code(&r.try_get::<String, _>(1)?)?,
                r.try_get::<i64, _>(2)?,
            ))
        })
        .collect()
    }

    pub async fn attachments(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<Attachment>, StoreError> {
        sqlx::query(
            "SELECT * FROM attachments WHERE commune_id = $1 AND item_id = $2
               AND eliminated_at IS NULL ORDER BY created_at, id",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(attachment_from_row)
        .collect()
    }

    /// Every file hash that some row of the commune refers to (for fsck).
    pub async fn referenced_blobs(&self, commune_id: Uuid) -> Result<Vec<String>, StoreError> {
        sqlx::query(
            "SELECT sha256 FROM attachments WHERE commune_id = $1 AND eliminated_at IS NULL
             UNION SELECT logo_sha256 FROM communes WHERE id = $1 AND logo_sha256 IS NOT NULL
             UNION SELECT logo_small_sha256 FROM communes
                   WHERE id = $1 AND logo_small_sha256 IS NOT NULL
             UNION SELECT sha256 FROM inbound_messages WHERE commune_id = $1 AND sha256 IS NOT NULL
             UNION SELECT searchable_sha256 FROM file_texts
                   WHERE commune_id = $1 AND searchable_sha256 IS NOT NULL
             UNION SELECT message_sha256 FROM transfers WHERE commune_id = $1
             UNION SELECT reply_sha256 FROM transfers
                   WHERE commune_id = $1 AND reply_sha256 IS NOT NULL
             UNION SELECT sha256 FROM outbox
                   WHERE commune_id = $1 AND (state = 'pending' OR recipients <> '')
             ORDER BY 1",
        )
        .bind(commune_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
    }

    /// The senders and recipients of every item of a year, by item, in their order on the
    /// item (for the printed register: one query instead of one per item).
    pub async fn correspondents_of_year(
        &self,
        commune_id: Uuid,
        year: i32,
    ) -> Result<std::collections::HashMap<Uuid, Vec<String>>, StoreError> {
        let rows = sqlx::query(
            "SELECT ic.item_id, c.kind, c.first_name, c.name FROM item_contacts ic
             JOIN items i ON i.id = ic.item_id
             JOIN contacts c ON c.id = ic.contact_id
             WHERE i.commune_id = $1 AND i.year = $2
             ORDER BY ic.item_id, ic.position",
        )
        .bind(commune_id.to_string())
        .bind(i64::from(year))
        .fetch_all(self.reader())
        .await?;
        let mut out: std::collections::HashMap<Uuid, Vec<String>> = Default::default();
        for r in &rows {
            let kind: String = r.try_get(1)?;
            let first: Option<String> = r.try_get(2)?;
            let name: String = r.try_get(3)?;
            let shown = match first {
                Some(first) if kind == "person" => format!("{first} {name}"),
                _ => name,
            };
            out.entry(parse_uuid(&r.try_get::<String, _>(0)?)?)
                .or_default()
                .push(shown);
        }
        Ok(out)
    }

    /// The links of an item in both directions: (other item's id and number, kind, true when
    /// this item holds the link).
    pub async fn links_of(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<(Uuid, String, LinkKind, bool)>, StoreError> {
        sqlx::query(
            "SELECT i.id, i.chrono, l.kind, 1 FROM item_links l JOIN items i ON i.id = l.to_item
             WHERE l.commune_id = $1 AND l.from_item = $2
             UNION ALL
             SELECT i.id, i.chrono, l.kind, 0 FROM item_links l JOIN items i ON i.id = l.from_item
             WHERE l.commune_id = $1 AND l.to_item = $2
             ORDER BY 2",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| {
            Ok((
                parse_uuid(&r.try_get::<String, _>(0)?)?,
                r.try_get::<String, _>(1)?,
                parse_code(&r.try_get::<String, _>(2)?)?,
                r.try_get::<i64, _>(3)? != 0,
            ))
        })
        .collect()
    }

    pub async fn notes(&self, commune_id: Uuid, item_id: Uuid) -> Result<Vec<Note>, StoreError> {
        sqlx::query(
            "SELECT * FROM notes WHERE commune_id = $1 AND item_id = $2 ORDER BY created_at",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| {
            Ok(Note {
                id: parse_uuid(&row.try_get::<String, _>("id")?)?,
                item_id,
                author_id: parse_opt_uuid(row.try_get("author_id")?)?,
                body: row.try_get("body")?,
                created_at: parse_instant(&row.try_get::<String, _>("created_at")?)?,
            })
        })
        .collect()
    }

    /// The few fields the dashboard aggregates, for items registered since `since`.
    pub async fn activity_since(
        &self,
        commune_id: Uuid,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Activity>, StoreError> {
        sqlx::query(
            "SELECT registered_at, updated_at, direction, status, service_id, due_date
             FROM items WHERE commune_id = $1 AND registered_at >= $2",
        )
        .bind(commune_id.to_string())
        .bind(instant_text(&since))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| {
            Ok(Activity {
                registered_at: parse_instant(&r.try_get::<String, _>(0)?)?,
                updated_at: parse_instant(&r.try_get::<String, _>(1)?)?,
                direction: parse_code(&r.try_get::<String, _>(2)?)?,
                status: parse_code(&r.try_get::<String, _>(3)?)?,
                service_id: parse_opt_uuid(r.try_get(4)?)?,
                due_date: parse_opt_date(r.try_get(5)?)?,
            })
        })
        .collect()
    }

    /// Items copied to a user (diffusion), newest first, that are still open.
    pub async fn copied_to(
        &self,
        commune_id: Uuid,
        user_id: Uuid,
        limit: i64,
    ) -> Result<Vec<Item>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM items i JOIN item_copies c ON c.item_id = i.id
             WHERE i.commune_id = $1 AND c.user_id = $2 AND i.{OPEN_CLAUSE}
             ORDER BY i.registered_at DESC LIMIT $3",
            ITEM_COLUMNS
                .split(", ")
                .map(|c| format!("i.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .bind(commune_id.to_string())
        .bind(user_id.to_string())
        .bind(limit)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| item_from_row(row, Vec::new()))
        .collect()
    }

    /// The people an item was copied to (diffusion), with the purpose.
    pub async fn copies(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<(Uuid, CopyPurpose)>, StoreError> {
        sqlx::query(
            "SELECT c.user_id, c.purpose FROM item_copies c JOIN items i ON i.id = c.item_id
             WHERE i.commune_id = $1 AND c.item_id = $2 ORDER BY c.created_at",
        )
        .bind(commune_id.to_string())
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| {
            let purpose = match r.try_get::<String, _>(1)?.as_str() {
                "opinion" => CopyPurpose::Opinion,
                "information" => CopyPurpose::Information,
                other => return Err(StoreError::corrupt(format!("diffusion « {other} »"))),
            };
            Ok((parse_uuid(&r.try_get::<String, _>(0)?)?, purpose))
        })
        .collect()
    }

    /// (role, contact id) pairs of an item, senders first.
    /// The first sender of each of these items, by name (the lists' "Expéditeur" column),
    /// in one query per hundred items.
    pub async fn first_senders(
        &self,
        commune_id: Uuid,
        item_ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, String>, StoreError> {
        let mut names = std::collections::HashMap::new();
        for chunk in item_ids.chunks(100) {
            let list = (2..2 + chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            // Lower positions last, so that the first sender is the one kept.
            let sql = format!(
                "SELECT ic.item_id, c.kind, c.first_name, c.name FROM item_contacts ic
                 JOIN contacts c ON c.id = ic.contact_id
                 WHERE c.commune_id = $1 AND ic.role = 'sender' AND ic.item_id IN ({list})
                 ORDER BY ic.position DESC"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(commune_id.to_string());
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for row in q.fetch_all(self.reader()).await? {
                let item = parse_uuid(&row.try_get::<String, _>(0)?)?;
                let kind: String = row.try_get(1)?;
                let first: Option<String> = row.try_get(2)?;
                let name: String = row.try_get(3)?;
                let shown = match first.filter(|f| !f.trim().is_empty() && kind == "person") {
                    Some(first) => format!("{first} {name}"),
                    None => name,
                };
                names.insert(item, shown);
            }
        }
        Ok(names)
    }

    pub async fn item_contacts(&self, item_id: Uuid) -> Result<Vec<(String, Uuid)>, StoreError> {
        sqlx::query(
            "SELECT role, contact_id FROM item_contacts WHERE item_id = $1 ORDER BY role DESC, position",
        )
        .bind(item_id.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, parse_uuid(&r.try_get::<String, _>(1)?)?)))
        .collect()
    }
}

impl WriteTx {
    /// Inserts a fully formed item (its number already taken with `next_sequence`).
    pub async fn insert_item(
        &mut self,
        item: &Item,
        senders: &[Uuid],
        recipients: &[Uuid],
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO items ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
                $27, $28, $29, $30, $31, $32, $33)"
        )))
        .bind(item.id.to_string())
        .bind(item.commune_id.to_string())
        .bind(item.chrono.clone())
        .bind(i64::from(item.year))
        .bind(item.direction.code())
        .bind(item.sequence)
        .bind(item.channel.code())
        .bind(item.registered_number.clone())
        .bind(item.doctype_code.clone())
        .bind(item.subject.clone())
        .bind(item.body.clone())
        .bind(opt_date_text(item.letter_date))
        .bind(date_text(item.arrival_date))
        .bind(opt_date_text(item.first_receipt_elsewhere))
        .bind(instant_text(&item.registered_at))
        .bind(item.sender_reference.clone())
        .bind(item.priority.code())
        .bind(item.confidentiality.code())
        .bind(item.service_id.map(|s| s.to_string()))
        .bind(item.assignee_id.map(|s| s.to_string()))
        .bind(item.status.code())
        .bind(item.close_reason.map(|r| r.code()))
        .bind(opt_date_text(item.due_date))
        .bind(opt_date_text(item.silence_date))
        .bind(opt_date_text(item.incomplete_requested_on))
        .bind(opt_date_text(item.incomplete_completed_on))
        .bind(if item.missing_documents.is_empty() {
            None
        } else {
            serde_json::to_string(&item.missing_documents).ok()
        })
        .bind(item.implicit_decision.clone())
        .bind(opt_date_text(item.implicit_decision_on))
        .bind(item.acknowledged_at.as_ref().map(instant_text))
        .bind(item.created_by.map(|s| s.to_string()))
        .bind(instant_text(&item.updated_at))
        .bind(opt_date_text(item.incomplete_deadline))
        .execute(self.conn())
        .await?;
        for (role, ids) in [("sender", senders), ("recipient", recipients)] {
            for (position, contact) in ids.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO item_contacts (item_id, contact_id, role, position) VALUES ($1, $2, $3, $4)",
                )
                .bind(item.id.to_string())
                .bind(contact.to_string())
                .bind(role)
                .bind(position as i64)
                .execute(self.conn())
                .await?;
            }
        }
        for tag in &item.tags {
            sqlx::query(
                "INSERT INTO item_tags (item_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(item.id.to_string())
            .bind(tag.trim().to_owned())
            .execute(self.conn())
            .await?;
        }
        self.journal(
            item.commune_id,
            new_entry(
                actor,
                "item.registered",
                "item",
                item.id,
                None,
                serde_json::to_string(item).ok(),
            ),
        );
        Ok(())
    }

    /// Reads an item inside the transaction, for a change based on its current state.
    pub async fn item_for_update(
        &mut self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<Item, StoreError> {
        // A no-op UPDATE first: on PostgreSQL it locks the row until the transaction ends,
        // so a second change of the same item waits and then reads this one's result
        // instead of overwriting it (SQLite's BEGIN IMMEDIATE already serializes writers).
        sqlx::query("UPDATE items SET id = id WHERE commune_id = $1 AND id = $2")
            .bind(commune_id.to_string())
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE commune_id = $1 AND id = $2"
        )))
        .bind(commune_id.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("élément"))?;
        item_from_row(&row, Vec::new())
    }

    /// Writes the mutable fields of `after` over the stored item, journaling both states.
    pub async fn update_item(
        &mut self,
        before: &Item,
        after: &Item,
        action: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE items SET status = $1, close_reason = $2, service_id = $3, assignee_id = $4,
                due_date = $5, silence_date = $6, incomplete_requested_on = $7,
                incomplete_completed_on = $8, priority = $9, confidentiality = $10,
                doctype_code = $11, subject = $12, updated_at = $13, missing_documents = $14,
                implicit_decision = $15, implicit_decision_on = $16, acknowledged_at = $17,
                incomplete_deadline = $20, arrival_date = $21
             WHERE commune_id = $18 AND id = $19",
        )
        .bind(after.status.code())
        .bind(after.close_reason.map(|r| r.code()))
        .bind(after.service_id.map(|s| s.to_string()))
        .bind(after.assignee_id.map(|s| s.to_string()))
        .bind(opt_date_text(after.due_date))
        .bind(opt_date_text(after.silence_date))
        .bind(opt_date_text(after.incomplete_requested_on))
        .bind(opt_date_text(after.incomplete_completed_on))
        .bind(after.priority.code())
        .bind(after.confidentiality.code())
        .bind(after.doctype_code.clone())
        .bind(after.subject.clone())
        .bind(instant_text(&after.updated_at))
        .bind(if after.missing_documents.is_empty() {
            None
        } else {
            serde_json::to_string(&after.missing_documents).ok()
        })
        .bind(after.implicit_decision.clone())
        .bind(opt_date_text(after.implicit_decision_on))
        .bind(after.acknowledged_at.as_ref().map(instant_text))
        .bind(after.commune_id.to_string())
        .bind(after.id.to_string())
        .bind(opt_date_text(after.incomplete_deadline))
        .bind(date_text(after.arrival_date))
        .execute(self.conn())
        .await?;
        self.journal(
            after.commune_id,
            new_entry(
                actor,
                action,
                "item",
                after.id,
                serde_json::to_string(before).ok(),
                serde_json::to_string(after).ok(),
            ),
        );
        Ok(())
    }

    /// Records a file already written to the file store.
    pub async fn insert_attachment(
        &mut self,
        commune_id: Uuid,
        a: &Attachment,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO attachments (id, commune_id, item_id, sha256, size, filename, media_type, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.id.to_string())
        .bind(commune_id.to_string())
        .bind(a.item_id.to_string())
        .bind(a.sha256.clone())
        .bind(a.size)
        .bind(a.filename.clone())
        .bind(a.media_type.clone())
        .bind(instant_text(&self.now()))
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "attachment.added",
                "item",
                a.item_id,
                None,
                serde_json::to_string(a).ok(),
            ),
        );
        Ok(())
    }

    pub async fn insert_note(
        &mut self,
        commune_id: Uuid,
        note: &Note,
        actor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notes (id, commune_id, item_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(note.id.to_string())
        .bind(commune_id.to_string())
        .bind(note.item_id.to_string())
        .bind(note.author_id.map(|a| a.to_string()))
        .bind(note.body.clone())
        .bind(instant_text(&note.created_at))
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "note.added",
                "item",
                note.item_id,
                None,
                serde_json::to_string(note).ok(),
            ),
        );
        Ok(())
    }

    /// Gives a copy of an item to a user (for information or for opinion); once per user.
    pub async fn insert_copy(
        &mut self,
        commune_id: Uuid,
        item_id: Uuid,
        user_id: Uuid,
        purpose: CopyPurpose,
        actor: &str,
    ) -> Result<(), StoreError> {
        let purpose_code = match purpose {
            CopyPurpose::Information => "information",
            CopyPurpose::Opinion => "opinion",
        };
        sqlx::query(
            "INSERT INTO item_copies (item_id, user_id, purpose, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (item_id, user_id) DO UPDATE SET purpose = excluded.purpose",
        )
        .bind(item_id.to_string())
        .bind(user_id.to_string())
        .bind(purpose_code)
        .bind(instant_text(&self.now()))
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "item.copied",
                "item",
                item_id,
                None,
                serde_json::to_string(&serde_json::json!({"user": user_id, "purpose": purpose}))
                    .ok(),
            ),
        );
        Ok(())
    }

    pub async fn insert_link(
        &mut self,
        commune_id: Uuid,
        from: Uuid,
        to: Uuid,
        kind: LinkKind,
        actor: &str,
    ) -> Result<(), StoreError> {
        // Both ends must be items of this commune.
        let found =
            sqlx::query("SELECT COUNT(*) FROM items WHERE commune_id = $1 AND id IN ($2, $3)")
                .bind(commune_id.to_string())
                .bind(from.to_string())
                .bind(to.to_string())
                .fetch_one(self.conn())
                .await?
                .try_get::<i64, _>(0)?;
        if found != 2 || from == to {
            return Err(StoreError::not_found("élément à lier"));
        }
        sqlx::query(
            "INSERT INTO item_links (commune_id, from_item, to_item, kind, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .bind(commune_id.to_string())
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(kind.code())
        .bind(instant_text(&self.now()))
        .execute(self.conn())
        .await?;
        self.journal(
            commune_id,
            new_entry(
                actor,
                "item.linked",
                "item",
                from,
                None,
                serde_json::to_string(&serde_json::json!({"to": to, "kind": kind})).ok(),
            ),
        );
        Ok(())
    }
}
