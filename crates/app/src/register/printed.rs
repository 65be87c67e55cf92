//! The legal register on paper: a year's items (or a month's), with the filters of the
//! register's page, oldest first, laid out as a PDF/A document to print or archive.

use crate::boxed_future;
use chrono::{DateTime, NaiveDate, Utc};
use parapheur_domain::clock::{local_date, utc_offset_minutes};
use parapheur_domain::french::long_date;
use parapheur_store::items::{ItemFilter, ItemOrder};
use uuid::Uuid;

use crate::administration::auth::Authenticated;
use crate::{App, AppError};

/// The most rows one printed register holds. Laying out costs about a millisecond and
/// 150 KB of memory per row (crates/render's benchmark), so a larger register is printed a
/// month at a time; a month of a commune of 15,000 inhabitants is a few hundred items.
pub const MAX_PRINTED_ROWS: i64 = 2_000;

/// One printed register laid out at a time: bounds the memory a small box needs while it
/// works (the server lays it out in a child process: see `render::child`).
static RENDERING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A date as the register prints it: 05/02/2026.
fn short_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

impl App {
    /// The printed register of `year` (or of the month that starts on `month.0`, the next
    /// one starting on `month.1`) with the page's `filter`, as this person may read it.
    #[boxed_future]
    pub async fn printed_register(
        &self,
        who: &Authenticated,
        mut filter: ItemFilter,
        year: i32,
        month: Option<(NaiveDate, NaiveDate)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let commune = &who.commune;
        let today = local_date(now, commune.zone());
        filter.order = ItemOrder::Oldest;
        let items = self
            .store
            .items(commune.id, &filter, MAX_PRINTED_ROWS + 1, 0)
            .await?;
        if items.len() as i64 > MAX_PRINTED_ROWS {
            return Err(AppError::invalid(format!(
                "plus de {MAX_PRINTED_ROWS} éléments sur la période : imprimez le registre mois par mois (choisissez un mois)"
            )));
        }
        let services = self.store.services(commune.id).await?;
        let correspondents = self.store.correspondents_of_year(commune.id, year).await?;
        let service_name = |id: Option<Uuid>| {
            id.and_then(|id| services.iter().find(|s| s.id == id))
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let rows = items
            .iter()
            .map(|i| parapheur_render::RegisterRow {
                number: i.chrono.clone(),
                received_on: short_date(i.arrival_date),
                direction: i.direction.label_fr().to_owned(),
                channel: i.channel.label_fr().to_owned(),
                correspondent: correspondents
                    .get(&i.id)
                    .map(|names| names.join(", "))
                    .unwrap_or_default(),
                subject: i.subject.clone(),
                service: service_name(i.service_id),
                status: i.status.label_fr().to_owned(),
                due_on: i.due_date.map(short_date).unwrap_or_default(),
            })
            .collect();
        let (first_day, last_day) = match month {
            Some((first, next)) => (first, next.pred_opt().unwrap_or(first)),
            None => (
                NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today),
                NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today),
            ),
        };
        let last_day = last_day.min(today).max(first_day);
        let mut filters = Vec::new();
        if let Some(d) = filter.direction {
            filters.push(format!("Sens : {}", d.label_fr()));
        }
        if let Some(c) = filter.channel {
            filters.push(format!("Canal : {}", c.label_fr()));
        }
        if let Some(s) = filter.status {
            filters.push(format!("Statut : {}", s.label_fr()));
        }
        if filter.service_id.is_some() {
            filters.push(format!("Service : {}", service_name(filter.service_id)));
        }
        if filter.confidential_visible_to.is_some() {
            filters.push("Hors éléments confidentiels confiés à d'autres".to_owned());
        }
        let minutes = utc_offset_minutes(now, commune.zone());
        let offset = chrono::FixedOffset::east_opt(minutes as i32 * 60)
            .unwrap_or_else(|| chrono::Offset::fix(&Utc));
        let document = parapheur_render::RegisterDocument {
            commune_name: commune.name.clone(),
            insee: commune.insee.clone(),
            period: format!("du {} au {}", long_date(first_day), long_date(last_day)),
            generated_at: now.with_timezone(&offset),
            filters,
            rows,
        };
        let _turn = RENDERING
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("register pdf queue: {e}")))?;
        self.register_pdf(document).await
    }
}
