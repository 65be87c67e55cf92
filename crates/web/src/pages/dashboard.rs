//! For the maire: the dashboard, and the phone-first list of what awaits an élu.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Html;
use chrono::{Datelike, Duration, Utc};
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::{Direction, Status};
use parapheur_app::register::views::ItemFilter;
use serde::Serialize;

use crate::error::WebError;
use crate::session::Me;
use crate::views::{self, ItemRow};
use crate::{WebState, assets, templates};

#[derive(Debug, Serialize)]
struct ServiceLine {
    name: String,
    open: usize,
    late: usize,
}

pub async fn dashboard(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let today = local_date(now, commune.zone());
    let store = &state.app;
    let activity = store
        .activity_since(commune.id, now - Duration::days(366))
        .await?;

    // Incoming mail per week (weeks starting on Monday), the last 12 weeks.
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let mut weeks: BTreeMap<chrono::NaiveDate, usize> = (0..12)
        .map(|i| (this_monday - Duration::weeks(i), 0))
        .collect();
    let mut answered_days = Vec::new();
    let mut by_service: BTreeMap<Option<uuid::Uuid>, (usize, usize)> = BTreeMap::new();
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
    let average_days = if answered_days.is_empty() {
        "—".to_owned()
    } else {
        format!(
            "{:.1}",
            answered_days.iter().sum::<f64>() / answered_days.len() as f64
        )
        .replace('.', ",")
    };
    let week_max = weeks.values().copied().max().unwrap_or(0).max(1);
    let weeks: Vec<_> = weeks
        .iter()
        .rev()
        .map(|(start, count)| ctx! { start => views::date(*start), count })
        .collect();
    let services = store.services(commune.id).await?;
    let mut lines: Vec<ServiceLine> = by_service
        .iter()
        .map(|(id, (open, late))| ServiceLine {
            name: id
                .and_then(|id| services.iter().find(|s| s.id == id).map(|s| s.name.clone()))
                .unwrap_or_else(|| "Non affecté".into()),
            open: *open,
            late: *late,
        })
        .collect();
    lines.sort_by(|a, b| b.late.cmp(&a.late).then(b.open.cmp(&a.open)));
    let confidential = me.confidential_filter();
    let late = store
        .count_items(
            commune.id,
            &ItemFilter {
                late_on: Some(today),
                confidential_visible_to: confidential,
                ..Default::default()
            },
        )
        .await?;
    let open = store
        .count_items(
            commune.id,
            &ItemFilter {
                open_only: true,
                confidential_visible_to: confidential,
                ..Default::default()
            },
        )
        .await?;
    let year_total = store
        .count_items(
            commune.id,
            &ItemFilter {
                year: Some(today.year()),
                direction: Some(Direction::Incoming),
                ..Default::default()
            },
        )
        .await?;
    Ok(Html(templates::render(
        "dashboard.html",
        ctx! {
            title => "Tableau de bord", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "dashboard", late, open, year_total, average_days, weeks, week_max, services => lines,
        },
    )?))
}

/// The élu's page, made for a phone: copies awaiting an opinion, items in their charge, late items.
pub async fn awaiting(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let today = local_date(Utc::now(), commune.zone());
    let store = &state.app;
    let rows = |items: Vec<parapheur_app::domain::Item>| -> Vec<ItemRow> {
        items.iter().map(|i| ItemRow::new(i, today)).collect()
    };
    let copies = rows(store.copied_to(commune.id, me.0.user.id, 50).await?);
    let mine = rows(
        store
            .items(
                commune.id,
                &ItemFilter {
                    assignee_id: Some(me.0.user.id),
                    open_only: true,
                    ..Default::default()
                },
                50,
                0,
            )
            .await?,
    );
    let late = rows(
        store
            .items(
                commune.id,
                &ItemFilter {
                    late_on: Some(today),
                    confidential_visible_to: me.confidential_filter(),
                    ..Default::default()
                },
                20,
                0,
            )
            .await?,
    );
    let sections = vec![
        ctx! { title => "Pour avis ou information", items => copies },
        ctx! { title => "À ma charge", items => mine },
        ctx! { title => "En retard dans la commune", items => late },
    ];
    Ok(Html(templates::render(
        "elu.html",
        ctx! {
            title => "Ce qui m'attend", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "awaiting", sections,
        },
    )?))
}
