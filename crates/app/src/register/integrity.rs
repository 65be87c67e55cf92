//! Integrity checks: the journal's hash chains, the files, and the chrono numbers.

use crate::boxed_future;
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use parapheur_domain::journal::ChainReport;
use parapheur_domain::{Commune, Direction};
use parapheur_files::FileError;
use serde::Serialize;

use crate::{App, AppError};

/// The verdict on one commune's journal.
#[derive(Debug, Clone, Serialize)]
pub struct JournalVerdict {
    pub insee: String,
    pub name: String,
    pub report: ChainReport,
    /// The anchors kept outside the database, checked against the chain.
    pub anchors: super::anchors::AnchorCheck,
}

impl JournalVerdict {
    /// The chain holds and every anchored head is still in it.
    pub fn is_intact(&self) -> bool {
        self.report.is_intact() && self.anchors.holds()
    }
}

#[derive(Debug, Clone)]
pub struct FsckOptions {
    /// Delete unreferenced files older than `grace`.
    pub collect: bool,
    /// A file younger than this may belong to a registration still in progress.
    pub grace: Duration,
}

impl Default for FsckOptions {
    fn default() -> Self {
        FsckOptions {
            collect: true,
            grace: Duration::hours(1),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FsckReport {
    pub communes: usize,
    pub files_checked: usize,
    /// (commune INSEE, sha256): rows pointing to a file that is not there.
    pub missing: Vec<(String, String)>,
    /// (commune INSEE, sha256, reason): files that do not decrypt or hash back.
    pub corrupt: Vec<(String, String, String)>,
    /// (commune id, sha256): files no row refers to.
    pub orphans: Vec<(String, String)>,
    /// Orphans deleted in this run.
    pub collected: usize,
    /// Orphans kept because they are younger than the grace period.
    pub orphans_too_recent: usize,
    /// Staging files of interrupted writes removed (local store only).
    pub staging_removed: usize,
    /// Gaps or excess in chrono numbers, described in French.
    pub numbering: Vec<String>,
}

impl FsckReport {
    /// True when nothing is wrong (collected orphans are not a fault).
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty() && self.numbering.is_empty()
    }
}

impl App {
    /// Verifies every commune's journal.
    pub async fn verify_journals(
        &self,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<Vec<JournalVerdict>, AppError> {
        self.verify_journals_dyn(&mut progress).await
    }

    /// `verify_journals` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn verify_journals_dyn(
        &self,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<Vec<JournalVerdict>, AppError> {
        let mut verdicts = Vec::new();
        let mut done = 0;
        for commune in self.store().communes().await? {
            let report =
                parapheur_store::verify_journal(self.store(), commune.id, |n| progress(done + n))
                    .await?;
            done += report.entries;
            let anchors = self.check_anchors(&commune).await?;
            verdicts.push(JournalVerdict {
                insee: commune.insee,
                name: commune.name,
                report,
                anchors,
            });
        }
        Ok(verdicts)
    }

    /// The total number of journal entries (for a progress bar).
    #[boxed_future]
    pub async fn journal_size(&self) -> Result<u64, AppError> {
        let mut total = 0;
        for commune in self.store().communes().await? {
            total += self.store().journal_len(commune.id).await?;
        }
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Checks files and numbering, and collects orphan files.
    pub async fn fsck(
        &self,
        options: &FsckOptions,
        now: DateTime<Utc>,
        mut progress: impl FnMut(usize) + Send,
    ) -> Result<FsckReport, AppError> {
        self.fsck_dyn(options, now, &mut progress).await
    }

    /// `fsck` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn fsck_dyn(
        &self,
        options: &FsckOptions,
        now: DateTime<Utc>,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<FsckReport, AppError> {
        let mut report = FsckReport::default();
        let communes = self.store().communes().await?;
        report.communes = communes.len();
        for commune in &communes {
            self.check_files(commune, options, now, &mut report, progress)
                .await?;
            self.check_numbering(commune, &mut report).await?;
        }
        // Files stored under a commune id that the register does not know.
        let known: BTreeSet<String> = communes.iter().map(|c| c.id.to_string()).collect();
        for dir in self.files().list_communes().await? {
            if known.contains(&dir) {
                continue;
            }
            for blob in self.files().list(&dir).await? {
                self.orphan(
                    &dir,
                    &blob.sha256,
                    blob.last_modified,
                    options,
                    now,
                    &mut report,
                )
                .await?;
            }
        }
        Ok(report)
    }

    async fn check_files(
        &self,
        commune: &Commune,
        options: &FsckOptions,
        now: DateTime<Utc>,
        report: &mut FsckReport,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<(), AppError> {
        let id = commune.id.to_string();
        let key = self.data_key(commune.id).await?;
        let referenced = self.store().referenced_blobs(commune.id).await?;
        for sha in &referenced {
            match self.files().verify(&id, &key, sha).await {
                Ok(()) => {}
                Err(FileError::Missing { .. }) => {
                    report.missing.push((commune.insee.clone(), sha.clone()))
                }
                Err(FileError::Corrupt { reason, .. }) => {
                    report
                        .corrupt
                        .push((commune.insee.clone(), sha.clone(), reason))
                }
                Err(other) => return Err(other.into()),
            }
            report.files_checked += 1;
            progress(report.files_checked);
        }
        // Writes interrupted between writing and publishing leave staging files.
        for staging in self.files().staging_files(&id)? {
            if now - staging.last_modified >= options.grace && options.collect {
                self.files().remove_staging_file(&staging)?;
                report.staging_removed += 1;
            }
        }
        let referenced: BTreeSet<&String> = referenced.iter().collect();
        for blob in self.files().list(&id).await? {
            if !referenced.contains(&blob.sha256) {
                self.orphan(&id, &blob.sha256, blob.last_modified, options, now, report)
                    .await?;
            }
        }
        Ok(())
    }

    async fn orphan(
        &self,
        commune_dir: &str,
        sha: &str,
        modified: DateTime<Utc>,
        options: &FsckOptions,
        now: DateTime<Utc>,
        report: &mut FsckReport,
    ) -> Result<(), AppError> {
        report
            .orphans
            .push((commune_dir.to_owned(), sha.to_owned()));
        if now - modified < options.grace {
            report.orphans_too_recent += 1;
        } else if options.collect {
            self.files().delete(commune_dir, sha).await?;
            report.collected += 1;
        }
        Ok(())
    }

    /// Every (year, direction) register must hold exactly the numbers 1..=last given.
    async fn check_numbering(
        &self,
        commune: &Commune,
        report: &mut FsckReport,
    ) -> Result<(), AppError> {
        for (year, direction, last) in self.store().chrono_counters(commune.id).await? {
            let sequences = self.store().sequences(commune.id, year, direction).await?;
            if let Some(problem) = numbering_problem(&sequences, last) {
                report.numbering.push(format!(
                    "{} {year} {} : {problem}",
                    commune.insee,
                    direction_letter(direction)
                ));
            }
        }
        Ok(())
    }
}

fn direction_letter(d: Direction) -> char {
    d.letter()
}

/// Describes what is wrong with a register's sequence numbers, if anything.
pub(crate) fn numbering_problem(sorted: &[i64], last_given: i64) -> Option<String> {
    let mut missing = Vec::new();
    let mut expected = 1;
    for &s in sorted {
        if s < expected {
            return Some(format!("le numéro {s} est en double"));
        }
        while expected < s {
            missing.push(expected);
            expected += 1;
        }
        expected = s + 1;
    }
    while expected <= last_given {
        missing.push(expected);
        expected += 1;
    }
    if sorted.last().is_some_and(|&s| s > last_given) {
        return Some(format!("des numéros dépassent le compteur ({last_given})"));
    }
    (!missing.is_empty()).then(|| {
        let shown: Vec<String> = missing.iter().take(10).map(i64::to_string).collect();
        format!(
            "{} : {}{}",
            parapheur_domain::french::count(missing.len(), "numéro manquant", "numéros manquants"),
            shown.join(", "),
            if missing.len() > 10 { "…" } else { "" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::numbering_problem;

    #[test]
    fn numbering_gaps_duplicates_and_excess() {
        assert_eq!(numbering_problem(&[1, 2, 3], 3), None);
        assert_eq!(numbering_problem(&[], 0), None);
        assert!(
            numbering_problem(&[1, 3], 3)
                .unwrap()
                .contains("1 numéro manquant : 2")
        );
        assert!(numbering_problem(&[1, 2], 4).unwrap().contains("3, 4"));
        assert!(numbering_problem(&[1, 2, 2], 2).unwrap().contains("double"));
        assert!(
            numbering_problem(&[1, 2, 3], 2)
                .unwrap()
                .contains("dépassent")
        );
    }
}
