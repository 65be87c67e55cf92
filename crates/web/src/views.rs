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
    pub due: String,
    pub late: bool,
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
            due: item.due_date.map(date).unwrap_or_default(),
            late: item.is_late(today),
        }
    }
}

/// A choice in a select.
#[derive(Debug, Serialize)]
pub struct Choice {
    pub code: String,
    pub label: String,
}
