//! For the maire: the dashboard, and the phone-first list of what awaits an élu.

use axum::extract::State;
use axum::response::Html;
use chrono::Utc;
use parapheur_app::domain::clock::local_date;

use crate::error::WebError;
use crate::session::Me;
use crate::views::{self, ItemRow};
use crate::{WebState, assets, templates};

pub async fn dashboard(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let figures = state.app.dashboard(&me.0, Utc::now()).await?;
    let average_days = match figures.average_days {
        None => "—".to_owned(),
        Some(days) => format!("{days:.1}").replace('.', ","),
    };
    let week_max = figures
        .weeks
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    let weeks: Vec<_> = figures
        .weeks
        .iter()
        .map(|(start, count)| ctx! { start => views::date(*start), count })
        .collect();
    let lines: Vec<_> = figures
        .services
        .into_iter()
        .map(|s| ctx! { name => s.name.unwrap_or_else(|| "Non affecté".into()), open => s.open, late => s.late })
        .collect();
    Ok(Html(templates::render(
        "dashboard.html",
        ctx! {
            title => "Tableau de bord", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "dashboard", late => figures.late, open => figures.open, year_total => figures.year_total,
            average_days, weeks, week_max, services => lines,
        },
    )?))
}

/// The élu's page, made for a phone: letters to sign or visa, copies awaiting an opinion,
/// items in their charge, late items.
pub async fn awaiting(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let today = local_date(Utc::now(), me.0.commune.zone());
    let awaiting = state.app.awaiting(&me.0, today).await?;
    let rows = |items: Vec<parapheur_app::domain::Item>| -> Vec<ItemRow> {
        items.iter().map(|i| ItemRow::new(i, today)).collect()
    };
    // First what only this person can do: the letters waiting for their visa or signature.
    let letters = super::parapheur::waiting_rows(&state, &me).await?;
    let sections = vec![
        ctx! { title => "Pour avis ou information", items => rows(awaiting.copies) },
        ctx! { title => "À ma charge", items => rows(awaiting.mine) },
        ctx! { title => "En retard dans la commune", items => rows(awaiting.late) },
    ];
    Ok(Html(templates::render(
        "elu.html",
        ctx! {
            title => "Ce qui m'attend", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "awaiting", letters, sections,
        },
    )?))
}
