//! Full-text search of the register: words of the subject, body, files (text layer or OCR),
//! notes and correspondents; filters; by relevance or date; matches highlighted.

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::Utc;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::{Channel, Status};
use parapheur_app::search::parse_day;
use parapheur_search::{SearchOrder, SearchQuery};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{WebError, urlencode};
use crate::session::Me;
use crate::views::{Choice, ItemRow};
use crate::{WebState, assets, templates};

const PAGE_SIZE: usize = 20;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    statut: String,
    #[serde(default)]
    canal: String,
    #[serde(default)]
    service: String,
    #[serde(default, rename = "type")]
    doctype: String,
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
    #[serde(default)]
    retard: String,
    #[serde(default)]
    tri: String,
    #[serde(default)]
    page: usize,
}

impl SearchForm {
    fn is_empty(&self) -> bool {
        self.q.trim().is_empty()
            && self.statut.is_empty()
            && self.canal.is_empty()
            && self.service.is_empty()
            && self.doctype.is_empty()
            && self.du.is_empty()
            && self.au.is_empty()
            && self.retard.is_empty()
    }

    fn query(&self, me: &Me, today: chrono::NaiveDate) -> Result<SearchQuery, WebError> {
        let bad = |what: &str| WebError::BadRequest(format!("filtre invalide : {what}"));
        let day = |text: &str, what: &str| -> Result<Option<chrono::NaiveDate>, WebError> {
            match text.trim() {
                "" => Ok(None),
                t => parse_day(t).map(Some).ok_or_else(|| bad(what)),
            }
        };
        if !self.statut.is_empty() {
            self.statut.parse::<Status>().map_err(|_| bad("statut"))?;
        }
        if !self.canal.is_empty() {
            self.canal.parse::<Channel>().map_err(|_| bad("canal"))?;
        }
        Ok(SearchQuery {
            text: self.q.chars().take(1000).collect(),
            status: (!self.statut.is_empty()).then(|| self.statut.clone()),
            channel: (!self.canal.is_empty()).then(|| self.canal.clone()),
            doctype: (!self.doctype.is_empty()).then(|| self.doctype.clone()),
            service_id: (!self.service.is_empty())
                .then(|| Uuid::parse_str(&self.service))
                .transpose()
                .map_err(|_| bad("service"))?,
            arrived_from: day(&self.du, "du")?,
            // "au" is inclusive on screen; the query's bound is exclusive.
            arrived_before: day(&self.au, "au")?.and_then(|d| d.succ_opt()),
            late_on: (!self.retard.is_empty()).then_some(today),
            viewer: me.confidential_filter(),
            order: if self.tri == "date" || self.q.trim().is_empty() {
                SearchOrder::Newest
            } else {
                SearchOrder::Relevance
            },
            offset: self.page.min(499) * PAGE_SIZE,
            limit: PAGE_SIZE,
            ..SearchQuery::default()
        })
    }

    fn query_string(&self) -> String {
        format!(
            "q={}&statut={}&canal={}&service={}&type={}&du={}&au={}&retard={}&tri={}",
            urlencode(&self.q),
            urlencode(&self.statut),
            urlencode(&self.canal),
            urlencode(&self.service),
            urlencode(&self.doctype),
            urlencode(&self.du),
            urlencode(&self.au),
            urlencode(&self.retard),
            urlencode(&self.tri)
        )
    }
}

pub async fn search(
    State(state): State<WebState>,
    me: Me,
    Query(form): Query<SearchForm>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let today = local_date(Utc::now(), commune.zone());
    let store = &state.app;
    let (total, hits) = if form.is_empty() {
        (0, Vec::new())
    } else {
        let found = state
            .app
            .search_items(commune.id, form.query(&me, today)?)
            .await?;
        let hits: Vec<_> = found
            .hits
            .iter()
            .map(|h| ctx! { row => ItemRow::new(&h.item, today), snippet => minijinja::Value::from_safe_string(h.snippet_html.clone()) })
            .collect();
        (found.total, hits)
    };
    let choices = |list: Vec<(String, String)>| -> Vec<Choice> {
        list.into_iter()
            .map(|(code, label)| Choice { code, label })
            .collect()
    };
    let services = choices(
        store
            .services(commune.id)
            .await?
            .into_iter()
            .map(|s| (s.id.to_string(), s.name))
            .collect(),
    );
    let doctypes = choices(
        store
            .doctypes(commune.id)
            .await?
            .into_iter()
            .map(|d| (d.code, d.label))
            .collect(),
    );
    let page = form.page;
    let first = page * PAGE_SIZE + 1;
    Ok(Html(templates::render(
        "search.html",
        ctx! {
            title => "Rechercher", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "search", searched => !form.is_empty(), total, hits, first,
            last => first + hits.len() - 1,
            services, doctypes,
            channels => choices(Channel::ALL.iter().map(|c| (c.code().to_owned(), c.label_fr().to_owned())).collect()),
            statuses => choices(Status::ALL.iter().map(|s| (s.code().to_owned(), s.label_fr().to_owned())).collect()),
            query => form.query_string(),
            prev_page => (page > 0).then(|| page - 1),
            next_page => (first + hits.len() <= total && !hits.is_empty()).then_some(page + 1),
            form,
        },
    )?))
}
