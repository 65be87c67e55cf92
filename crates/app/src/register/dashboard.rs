//! The maire's figures: the dashboard (incoming mail per week, answer time, open and late
//! items per service) and the élu's list of what awaits them. Counts and lists follow the
//! confidentiality filter of the person asking, as the register does.

use crate::boxed_future;
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::item::Item;
use parapheur_domain::{Direction, Status};
use parapheur_store::items::ItemFilter;
use uuid::Uuid;

use crate::administration::auth::Authenticated;
use crate::{App, AppError};

/// One service's open and late items (`name` is `None` for items of no service).
#[derive(Debug, Clone)]
pub struct ServiceLoad {
    pub name: Option<String>,
    pub open: usize,
    pub late: usize,
}

/// The dashboard's figures, as of one day of the commune.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Late items the person may read.
    pub late: i64,
    /// Open items the person may read.
    pub open: i64,
    /// Incoming items registered this year (numbers, which every member sees).
    pub year_total: i64,
    /// Average days from registration to answer of incoming items answered in the last
    /// year, if any was.
    pub average_days: Option<f64>,
    /// Incoming items per week (weeks from Monday), the last 12, newest first.
    pub weeks: Vec<(NaiveDate, usize)>,
    /// Open and late incoming items per service, the most late first.
    pub services: Vec<ServiceLoad>,
}

/// What awaits an élu: copies for an opinion, items in their charge, late items.
#[derive(Debug, Clone)]
pub struct Awaiting {
    pub copies: Vec<Item>,
    pub mine: Vec<Item>,
    pub late: Vec<Item>,
}

impl App {
    /// The dashboard of the person's commune at `now`.
    #[boxed_future]
    pub async fn dashboard(
        &self,
        who: &Authenticated,
        now: DateTime<Utc>,
    ) -> Result<Dashboard, AppError> {
        let commune = &who.commune;
        let today = local_date(now, commune.zone());
        let activity = self
            .store
            .activity_since(commune.id, now - Duration::days(366))
            .await?;

        let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        let mut weeks: BTreeMap<NaiveDate, usize> = (0..12)
            .map(|i| (this_monday - Duration::weeks(i), 0))
            .collect();
        let mut answered_days = Vec::new();
        let mut by_service: BTreeMap<Option<Uuid>, (usize, usize)> = BTreeMap::new();
        for a in &activity {
            if a.direction != Direction::Incoming {
                continue;
            }
            let day = local_date(a.registered_at, commune.zone());
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            if let Some(n) = weeks.get_mut(&monday) {
                *n += 1;
            }
            if matches!(
                a.status,
                Status::ReplySent | Status::Closed | Status::Archived
            ) {
                answered_days.push((a.updated_at - a.registered_at).num_hours() as f64 / 24.0);
            }
            if a.status.is_open() {
                let entry = by_service.entry(a.service_id).or_default();
                entry.0 += 1;
                if a.due_date.is_some_and(|d| d < today) {
                    entry.1 += 1;
                }
            }
        }
        let average_days = (!answered_days.is_empty())
            .then(|| answered_days.iter().sum::<f64>() / answered_days.len() as f64);
        let services = self.store.services(commune.id).await?;
        let mut lines: Vec<ServiceLoad> = by_service
            .iter()
            .map(|(id, (open, late))| ServiceLoad {
                name: id
                    .and_then(|id| services.iter().find(|s| s.id == id).map(|s| s.name.clone())),
                open: *open,
                late: *late,
            })
            .collect();
        lines.sort_by(|a, b| b.late.cmp(&a.late).then(b.open.cmp(&a.open)));
        let confidential = who.confidential_reader();
        let late = self
            .store
            .count_items(
                commune.id,
                &ItemFilter {
                    late_on: Some(today),
                    confidential_visible_to: confidential,
                    ..Default::default()
                },
            )
            .await?;
        let open = self
            .store
            .count_items(
                commune.id,
                &ItemFilter {
                    open_only: true,
                    confidential_visible_to: confidential,
                    ..Default::default()
                },
            )
            .await?;
        let year_total = self
            .store
            .count_items(
                commune.id,
                &ItemFilter {
                    year: Some(today.year()),
                    direction: Some(Direction::Incoming),
                    ..Default::default()
                },
            )
            .await?;
        Ok(Dashboard {
            late,
            open,
            year_total,
            average_days,
            weeks: weeks.into_iter().rev().collect(),
            services: lines,
        })
    }

    /// What awaits the person on `today` of their commune.
    #[boxed_future]
    pub async fn awaiting(
        &self,
        who: &Authenticated,
        today: NaiveDate,
    ) -> Result<Awaiting, AppError> {
        let commune_id = who.commune.id;
        let copies = self.store.copied_to(commune_id, who.user.id, 50).await?;
        let mine = self
            .store
            .items(
                commune_id,
                &ItemFilter {
                    assignee_id: Some(who.user.id),
                    open_only: true,
                    ..Default::default()
                },
                50,
                0,
            )
            .await?;
        let late = self
            .store
            .items(
                commune_id,
                &ItemFilter {
                    late_on: Some(today),
                    confidential_visible_to: who.confidential_reader(),
                    ..Default::default()
                },
                20,
                0,
            )
            .await?;
        Ok(Awaiting { copies, mine, late })
    }
}
