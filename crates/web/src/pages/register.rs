//! The register itself: every item of a year, filtered, on screen and as CSV.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::{Channel, Direction, Status};
use parapheur_app::register::views::ItemFilter;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{WebError, urlencode};
use crate::session::Me;
use crate::views::{self, Choice, ItemRow};
use crate::{WebState, assets, templates};

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RegisterQuery {
    #[serde(default)]
    annee: Option<i32>,
    #[serde(default)]
    sens: String,
    #[serde(default)]
    canal: String,
    #[serde(default)]
    statut: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    page: i64,
    /// 1 to 12: one month of the year (by arrival date); empty: the whole year.
    #[serde(default)]
    mois: String,
}

impl RegisterQuery {
    /// The month chosen, if any, with its first day and the first day of the next.
    fn month(&self, year: i32) -> Result<Option<(u32, NaiveDate, NaiveDate)>, WebError> {
        if self.mois.is_empty() {
            return Ok(None);
        }
        let bad = || WebError::BadRequest("filtre invalide : mois".into());
        let month: u32 = self.mois.parse().map_err(|_| bad())?;
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(bad)?;
        Ok(Some((month, first, next)))
    }

    fn filter(&self, year: i32, me: &Me) -> Result<ItemFilter, WebError> {
        let bad = |what: &str| WebError::BadRequest(format!("filtre invalide : {what}"));
        let month = self.month(year)?;
        Ok(ItemFilter {
            arrived_from: month.map(|(_, first, _)| first),
            arrived_before: month.map(|(_, _, next)| next),
            year: Some(year),
            direction: (!self.sens.is_empty())
                .then(|| self.sens.parse::<Direction>())
                .transpose()
                .map_err(|_| bad("sens"))?,
            channel: (!self.canal.is_empty())
                .then(|| self.canal.parse::<Channel>())
                .transpose()
                .map_err(|_| bad("canal"))?,
            status: (!self.statut.is_empty())
                .then(|| self.statut.parse::<Status>())
                .transpose()
                .map_err(|_| bad("statut"))?,
            service_id: (!self.service.is_empty())
                .then(|| Uuid::parse_str(&self.service))
                .transpose()
                .map_err(|_| bad("service"))?,
            confidential_visible_to: me.confidential_filter(),
            ..ItemFilter::default()
        })
    }

    /// The query string of the filters (without the page).
    fn query_string(&self, year: i32) -> String {
        format!(
            "annee={year}&mois={}&sens={}&canal={}&statut={}&service={}",
            urlencode(&self.mois),
            urlencode(&self.sens),
            urlencode(&self.canal),
            urlencode(&self.statut),
            urlencode(&self.service)
        )
    }
}

pub async fn register(
    State(state): State<WebState>,
    me: Me,
    Query(q): Query<RegisterQuery>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let today = local_date(Utc::now(), commune.zone());
    let year = q.annee.unwrap_or(today.year());
    let filter = q.filter(year, &me)?;
    let store = &state.app;
    let page = q.page.max(0);
    // One row more than a page tells whether a next page exists: counting every matching
    // row of the year would cost more than the page itself. The year's totals come from the
    // chrono counters, which hold the last number given (numbers have no gaps). Both are
    // read once per journal position (see cache.rs).
    let cache_key = format!("register:{}:{}:{page}", me.0.user.id, q.query_string(year));
    let loaded = state
        .cache
        .get_or_load(cache_key, me.version(today), async {
            let found = store
                .items(commune.id, &filter, PAGE_SIZE + 1, page * PAGE_SIZE)
                .await?;
            let items = ItemRow::with_senders(store, commune.id, &found, today).await?;
            let numbered: Vec<(&'static str, i64)> = store
                .chrono_counters(commune.id)
                .await?
                .into_iter()
                .filter(|(y, _, _)| *y == year)
                .map(|(_, direction, last)| (direction.label_fr(), last))
                .collect();
            Ok::<_, WebError>((items, numbered))
        })
        .await?;
    let (items, numbered) = &*loaded;
    let has_next = items.len() as i64 > PAGE_SIZE;
    let items = &items[..items.len().min(PAGE_SIZE as usize)];
    let numbered: Vec<_> = numbered
        .iter()
        .map(|(direction, count)| ctx! { direction, count })
        .collect();
    let first = page * PAGE_SIZE + 1;
    let years: Vec<i32> = (today.year() - 9..=today.year()).rev().collect();
    let choices = |list: Vec<(&'static str, &'static str)>| -> Vec<Choice> {
        list.into_iter()
            .map(|(code, label)| Choice {
                code: code.into(),
                label: label.into(),
            })
            .collect()
    };
    let services: Vec<Choice> = store
        .services(commune.id)
        .await?
        .into_iter()
        .map(|s| Choice {
            code: s.id.to_string(),
            label: s.name,
        })
        .collect();
    Ok(Html(templates::render(
        "register.html",
        ctx! {
            title => "Registre", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "register", first, last => first + items.len() as i64 - 1, items, numbered, years,
            filter => ctx! { annee => year, mois => q.mois, sens => q.sens, canal => q.canal, statut => q.statut, service => q.service },
            months => parapheur_app::domain::french::MONTHS.iter().enumerate().map(|(i, m)| ctx! { code => (i + 1).to_string(), label => m }).collect::<Vec<_>>(),
            directions => choices(Direction::ALL.iter().map(|d| (d.code(), d.label_fr())).collect()),
            channels => choices(Channel::ALL.iter().map(|c| (c.code(), c.label_fr())).collect()),
            statuses => choices(Status::ALL.iter().map(|s| (s.code(), s.label_fr())).collect()),
            services, query => q.query_string(year),
            next_page => has_next.then_some(page + 1),
            prev_page => (page > 0).then_some(page - 1),
        },
    )?))
}

/// The legal register on paper: the year's items (with the page's filters) oldest first,
/// as a PDF/A document to print or archive.
pub async fn register_pdf(
    State(state): State<WebState>,
    me: Me,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let today = local_date(now, commune.zone());
    let year = q.annee.unwrap_or(today.year());
    let filter = q.filter(year, &me)?;
    let month = q.month(year)?.map(|(_, first, next)| (first, next));
    let pdf = state
        .app
        .printed_register(&me.0, filter, year, month, now)
        .await?;
    let filename = match q.month(year)? {
        Some((month, ..)) => format!("registre-{}-{year}-{month:02}.pdf", commune.insee),
        None => format!("registre-{}-{year}.pdf", commune.insee),
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (
                header::CONTENT_DISPOSITION,
                crate::download::content_disposition(true, &filename),
            ),
        ],
        pdf,
    )
        .into_response())
}

/// One CSV field: quoted, and a leading = + - @ neutralised so a spreadsheet never runs it.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

pub async fn register_csv(
    State(state): State<WebState>,
    me: Me,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, WebError> {
    let commune = &me.0.commune;
    let today = local_date(Utc::now(), commune.zone());
    let year = q.annee.unwrap_or(today.year());
    let filter = q.filter(year, &me)?;
    let items = state.app.items(commune.id, &filter, 1_000_000, 0).await?;
    let mut out = String::from("\u{feff}");
    let header = [
        "Numéro",
        "Sens",
        "Canal",
        "Date d'arrivée",
        "Enregistré le",
        "Objet",
        "Type",
        "Statut",
        "Échéance",
        "Décision implicite",
        "N° recommandé",
    ];
    out.push_str(&header.map(csv_field).join(";"));
    out.push_str("\r\n");
    // Oldest first: the order of the legal register.
    for i in items.iter().rev() {
        let row = [
            i.chrono.clone(),
            i.direction.label_fr().to_owned(),
            i.channel.label_fr().to_owned(),
            views::date(i.arrival_date),
            views::instant(i.registered_at, commune),
            i.subject.clone(),
            i.doctype_code.clone().unwrap_or_default(),
            i.status.label_fr().to_owned(),
            i.due_date.map(views::date).unwrap_or_default(),
            i.silence_date.map(views::date).unwrap_or_default(),
            i.registered_number.clone().unwrap_or_default(),
        ];
        out.push_str(
            &row.iter()
                .map(|v| csv_field(v))
                .collect::<Vec<_>>()
                .join(";"),
        );
        out.push_str("\r\n");
    }
    let filename = format!("registre-{}-{year}.csv", commune.insee);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                crate::download::content_disposition(false, &filename),
            ),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(super::csv_field("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(
            super::csv_field("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(super::csv_field("-2"), "\"'-2\"");
    }
}
