//! Reading a scan before it is registered (issue 17, "the secrétaire's letter in 30 seconds"):
//! its text layer or OCR, then the domain's [`read_letter`] for the date, subject and sender
//! that the registration form offers to confirm. Nothing is stored: the file is registered,
//! stored and extracted again only when the person saves the form.

use crate::boxed_future;

use chrono::{DateTime, Utc};
use parapheur_domain::Permission;
use parapheur_domain::clock::local_date;
use parapheur_domain::commune::Commune;
use parapheur_domain::letter_reading::{LetterReading, read_letter};
use parapheur_extract::{ExtractError, Limits};

use crate::{Actor, App, AppError};

/// A letter is one to three pages; a longer document is read by the job queue after it is
/// registered, not while someone waits on the form.
const MAX_PAGES_READ: u32 = 4;

impl App {
    /// What `bytes` (a scan or PDF about to be registered) says of its date, subject and
    /// sender. An unreadable document gives an empty reading, not an error: the form is
    /// filled by hand as before.
    #[boxed_future]
    pub async fn read_scan(
        &self,
        commune: &Commune,
        actor: &Actor,
        bytes: &[u8],
        media_type: &str,
        filename: &str,
        now: DateTime<Utc>,
    ) -> Result<LetterReading, AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        let tools = self.extract_tools().await;
        let limits = Limits {
            max_pages: MAX_PAGES_READ,
            parallel_pages: self.ocr_workers.max(1),
            ..Limits::default()
        };
        let text =
            match parapheur_extract::extract(&tools, &limits, bytes, media_type, filename).await {
                Ok(extraction) => extraction.text,
                Err(
                    ExtractError::TooManyPages(_) | ExtractError::Empty | ExtractError::Encrypted,
                ) => return Ok(LetterReading::default()),
                Err(e) => {
                    tracing::info!(error = %e, filename, "scan not read for the form");
                    return Ok(LetterReading::default());
                }
            };
        Ok(read_letter(&text, local_date(now, commune.zone())))
    }
}
