//! Turning domain values into what pages show (French dates, labels).

use chrono::{DateTime, NaiveDate, Utc};
use parapheur_app::domain::{Commune, Item};
use serde::Serialize;

pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// An instant as the commune's clocks showed it.
pub fn instant(t: DateTime<Utc>, commune: &Commune) -> String {
    t.with_timezone(&commune.zone())
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

/// A size in French units (`domain::french::size`).
pub fn size(bytes: i64) -> String {
    parapheur_app::domain::french::size(u64::try_from(bytes).unwrap_or(0))
}

#[derive(Debug, Serialize)]
pub struct ItemRow {
    pub id: String,
    pub chrono: String,
    pub subject: String,
    pub arrival: String,
    pub channel: &'static str,
    pub status: &'static str,
    /// The status's code, for its badge's class (docs/DESIGN.md, "Status badges").
    pub status_code: &'static str,
    pub due: String,
    pub late: bool,
    /// The first sender's name (filled by [`ItemRow::with_senders`]).
    pub sender: String,
}

impl ItemRow {
    pub fn new(item: &Item, today: NaiveDate) -> Self {
        ItemRow {
            id: item.id.to_string(),
            chrono: item.chrono.clone(),
            subject: item.subject.clone(),
            arrival: date(item.arrival_date),
            channel: item.channel.label_fr(),
            status: item.status.label_fr(),
            status_code: item.status.code(),
            due: item.due_date.map(date).unwrap_or_default(),
            late: item.is_late(today),
            sender: String::new(),
        }
    }

    /// Rows of these items, each with its first sender's name (one query for the page).
    pub async fn with_senders(
        app: &parapheur_app::App,
        commune_id: uuid::Uuid,
        items: &[Item],
        today: NaiveDate,
    ) -> Result<Vec<ItemRow>, parapheur_app::AppError> {
        let ids: Vec<uuid::Uuid> = items.iter().map(|i| i.id).collect();
        let mut senders = app.first_senders(commune_id, &ids).await?;
        Ok(items
            .iter()
            .map(|i| ItemRow {
                sender: senders.remove(&i.id).unwrap_or_default(),
                ..ItemRow::new(i, today)
            })
            .collect())
    }
}

/// A choice in a select.
#[derive(Debug, Serialize)]
pub struct Choice {
    pub code: String,
    pub label: String,
}
