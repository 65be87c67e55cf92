//! "À traiter": what awaits the person, with counts at a glance.

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{Duration, Utc};
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::{Direction, Status};
use parapheur_app::register::views::{ItemFilter, ItemOrder};
use serde::Deserialize;

use crate::error::WebError;
use crate::session::Me;
use crate::views::ItemRow;
use crate::{WebState, assets, templates};

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    vue: String,
    #[serde(default)]
    page: i64,
    /// "recent" (default), "ancien" or "echeance".
    #[serde(default)]
    tri: String,
}

/// The sort orders offered: key, label, order.
const ORDERS: [(&str, &str, ItemOrder); 3] = [
    ("recent", "arrivée la plus récente", ItemOrder::Newest),
    ("ancien", "arrivée la plus ancienne", ItemOrder::Oldest),
    ("echeance", "échéance la plus proche", ItemOrder::DueSoonest),
];

/// The inbox views: key, label, filter.
fn views(me: &Me, today: chrono::NaiveDate) -> Vec<(&'static str, &'static str, ItemFilter)> {
    let user = &me.0.user;
    let mut views = vec![(
        "moi",
        "Pour moi",
        ItemFilter {
            assignee_id: Some(user.id),
            open_only: true,
            ..Default::default()
        },
    )];
    if let Some(service) = user.service_id {
        views.push((
            "service",
            "Mon service",
            ItemFilter {
                service_id: Some(service),
                open_only: true,
                ..Default::default()
            },
        ));
    }
    views.extend([
        (
            "nouveaux",
            "À affecter",
            ItemFilter {
                statuses: vec![Status::ToQualify, Status::Registered],
                direction: Some(Direction::Incoming),
                ..Default::default()
            },
        ),
        (
            "retard",
            "En retard",
            ItemFilter {
                late_on: Some(today),
                ..Default::default()
            },
        ),
        (
            "semaine",
            "Échéance sous 7 jours",
            ItemFilter {
                due_by: Some(today + Duration::days(7)),
                open_only: true,
                ..Default::default()
            },
        ),
        (
            "ouverts",
            "Tout ce qui est ouvert",
            ItemFilter {
                open_only: true,
                ..Default::default()
            },
        ),
    ]);
    views
}

pub async fn inbox(
    State(state): State<WebState>,
    me: Me,
    Query(q): Query<InboxQuery>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let today = local_date(Utc::now(), commune.zone());
    let mut all = views(&me, today);
    for (_, _, filter) in &mut all {
        filter.confidential_visible_to = me.confidential_filter();
    }
    let chosen = all.iter().position(|(key, ..)| *key == q.vue).unwrap_or(0);
    let (sort, _, order) = ORDERS
        .iter()
        .find(|(key, ..)| *key == q.tri)
        .unwrap_or(&ORDERS[0]);
    all[chosen].2.order = *order;
    let (key, label, filter) = &all[chosen];
    let page = q.page.max(0);
    let store = &state.app;
    // The counts and the page of items, read once per journal position (see cache.rs).
    let cache_key = format!("inbox:{}:{key}:{sort}:{page}", me.0.user.id);
    let loaded = state
        .cache
        .get_or_load(cache_key, me.version(today), async {
            let tally = store
                .inbox_counts(
                    commune.id,
                    me.0.user.id,
                    me.0.user.service_id,
                    today,
                    today + Duration::days(7),
                    me.confidential_filter(),
                )
                .await?;
            let found = store
                .items(commune.id, filter, PAGE_SIZE, page * PAGE_SIZE)
                .await?;
            let items = ItemRow::with_senders(store, commune.id, &found, today).await?;
            // What the deadline watch says must not be missed: silence about to mean
            // acceptance; and the requests still without their accusé de réception.
            let acceptance: Vec<(String, String, String)> = state
                .app
                .watched_items(commune, Utc::now())
                .await?
                .into_iter()
                .filter_map(|w| {
                    w.alerts
                        .iter()
                        .find(|a| {
                            matches!(
                                a,
                                parapheur_app::domain::watch::Alert::AcceptanceSoon { .. }
                            )
                        })
                        .map(|a| {
                            (
                                w.item.id.to_string(),
                                format!("{} — {}", w.item.chrono, w.item.subject),
                                a.label_fr(),
                            )
                        })
                })
                .take(10)
                .collect();
            let unacknowledged = if me.can_register() {
                store
                    .unacknowledged_items(commune.id, me.confidential_filter(), 500)
                    .await?
                    .len()
            } else {
                0
            };
            Ok::<_, WebError>((tally, items, acceptance, unacknowledged))
        })
        .await?;
    let (tally, items, acceptance, unacknowledged) = &*loaded;
    let acceptance: Vec<_> = acceptance
        .iter()
        .map(|(id, what, when)| ctx! { url => format!("/courrier/{id}"), what, when })
        .collect();
    let count_of = |key: &str| match key {
        "moi" => tally.mine,
        "service" => tally.service,
        "nouveaux" => tally.to_route,
        "retard" => tally.late,
        "semaine" => tally.due_within_week,
        _ => tally.open,
    };
    let counts: Vec<_> = all
        .iter()
        .map(|(key, label, _)| ctx! { key, label, count => count_of(key) })
        .collect();
    // Letters waiting for this person's visa or signature are in the parapheur, not in
    // these views: say so, or an élu reads "Rien à traiter ici" while a letter waits.
    let waiting_letters = state
        .app
        .folders_waiting_for(commune, &me.0.user, Utc::now())
        .await?
        .len();
    let total = count_of(key);
    let next_page = ((page + 1) * PAGE_SIZE < total).then_some(page + 1);
    let prev_page = (page > 0).then_some(page - 1);
    Ok(Html(templates::render(
        "inbox.html",
        ctx! {
            title => "À traiter", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "inbox", views => counts, view => key, caption => label, total, items, sort,
            sorts => ORDERS.iter().map(|(key, label, _)| ctx! { key, label }).collect::<Vec<_>>(),
            next_page, prev_page, acceptance, unacknowledged, waiting_letters,
            ringing => crate::pages::call::ringing(&state, &me).await?,
        },
    )?))
}
