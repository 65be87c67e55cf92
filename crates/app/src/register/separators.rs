//! Separator sheets (issue 17): printed from the registration form, put in front of each
//! letter of a pile, then one scan of the whole pile is split at them into one document
//! per letter.

use crate::boxed_future;

use chrono::{DateTime, Utc};
use parapheur_domain::Permission;
use parapheur_domain::commune::Commune;
use parapheur_extract::Limits;
use parapheur_extract::separator::{self, SEPARATOR_PAYLOAD};

use crate::{Actor, App, AppError};

/// Longest batch scan searched for separator sheets, in pages.
pub const MAX_BATCH_PAGES: u32 = 200;

/// One letter of a batch scan.
#[derive(Debug, Clone)]
pub struct Segment {
    /// First and last page in the batch (1-based, inclusive).
    pub first: u32,
    pub last: u32,
    /// The letter's pages as a PDF of their own.
    pub pdf: Vec<u8>,
}

/// A batch scan split at its separator sheets.
#[derive(Debug, Clone)]
pub struct BatchSplit {
    /// Pages of the whole scan, separators included.
    pub pages: u32,
    pub segments: Vec<Segment>,
    /// Seconds spent finding the separators.
    pub seconds: f64,
}

impl App {
    /// `count` separator sheets to print, as a PDF (A4, one sheet a page).
    #[boxed_future]
    pub async fn separator_sheets(
        &self,
        commune: &Commune,
        actor: &Actor,
        count: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        let created = now.with_timezone(&commune.zone()).fixed_offset();
        // A few pages of text and one image: laid out here, not in the layout child.
        tokio::task::spawn_blocking(move || {
            parapheur_render::separator_sheets_pdf(SEPARATOR_PAYLOAD, count, created)
        })
        .await
        .map_err(|e| AppError::internal(format!("mise en page interrompue : {e}")))?
        .map_err(|e| AppError::internal(e.to_string()))
    }

    /// The letters of a scanned PDF with separator sheets, or `None` when it has none
    /// or cannot be searched (damaged, protected, longer than [`MAX_BATCH_PAGES`]): the
    /// scan is then registered whole, as before. A scan with separators that cannot be
    /// cut is refused with a French message, the person's file kept by the form.
    #[boxed_future]
    pub async fn split_batch_scan(
        &self,
        commune: &Commune,
        actor: &Actor,
        pdf: &[u8],
    ) -> Result<Option<BatchSplit>, AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        let tools = self.extract_tools().await;
        let limits = Limits {
            max_pages: MAX_BATCH_PAGES,
            ..Limits::default()
        };
        // A PDF that cannot be searched (damaged, protected, too long, tools missing) is
        // registered whole, as before separator sheets: nothing is refused for them.
        let separation = match separator::find_separators(&tools, &limits, pdf).await {
            Ok(separation) => separation,
            Err(e) => {
                tracing::info!(error = %e, "batch scan not searched for separator sheets");
                return Ok(None);
            }
        };
        tracing::info!(
            pages = separation.pages,
            separators = separation.separators.len(),
            seconds = separation.seconds,
            "batch scan searched for separator sheets"
        );
        if separation.separators.is_empty() {
            return Ok(None);
        }
        let ranges = separation.segments();
        if ranges.is_empty() {
            return Err(AppError::invalid(
                "ce PDF ne contient que des feuilles de séparation : aucun courrier à enregistrer",
            ));
        }
        let parts = separator::extract_pages(&tools, &limits, pdf, &ranges)
            .await
            .map_err(|e| AppError::invalid(format!("découpage du scan impossible : {e}")))?;
        Ok(Some(BatchSplit {
            pages: separation.pages,
            segments: ranges
                .into_iter()
                .zip(parts)
                .map(|((first, last), pdf)| Segment { first, last, pdf })
                .collect(),
            seconds: separation.seconds,
        }))
    }
}
