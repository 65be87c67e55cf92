//! Signed PDFs that arrive (by email, upload, drop folder, a citizen's answer) are kept
//! intact and their signatures verified on arrival.
//!
//! * **Byte for byte.** A file is stored as it came: content-addressed by the SHA-256 of
//!   its bytes, never rewritten, re-saved or OCR'd in place. Text extraction and OCR read a
//!   copy (`capture::extraction`, children of `extract` see a temporary file), and OCR's
//!   searchable PDF is another file beside the original.
//! * **Verified on arrival.** A PDF that carries a signature (`/ByteRange`) is verified by
//!   the verifier of `crates/signing` (the strict one of `parapheur pdf verify`: digest and
//!   CMS, a ByteRange covering its whole revision, the chain to the commune's authorities
//!   at the date of a trusted time-stamp or else at arrival, and what changed after each
//!   signature), before the registering transaction; the verdict is written in it
//!   (`file_signatures`, journaled), and the item's page shows it: "Signé par … le …,
//!   intact", or "signature altérée".
//!
//! The first verification of a file is kept: it is the evidence of what arrived, when. The
//! "Vérifier les signatures" page verifies the file again, now.

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_domain::Commune;
use parapheur_domain::clock::{Tz, local_instant};
use parapheur_signing::{SignatureKind, VerifyReport};
use parapheur_store::api::FileSignatures;
use serde::{Deserialize, Serialize};

use crate::{App, AppError};

/// What the signatures of a file came to, on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every signature intact, trusted by the commune, nothing forbidden changed after.
    Valid,
    /// Intact and nothing forbidden changed, but a signer's authority is not one the
    /// commune trusts (a préfecture's, a company's): intact is all that is proven.
    Untrusted,
    /// Intact, but the document was changed after a signature in a way it does not allow.
    Modified,
    /// A signature no longer matches the bytes it signed: the signed content changed.
    Altered,
    /// The file says it is signed but its signatures cannot be read.
    Unreadable,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Untrusted => "untrusted",
            Verdict::Modified => "modified",
            Verdict::Altered => "altered",
            Verdict::Unreadable => "unreadable",
        }
    }

    /// For the item's page, in French.
    pub fn label_fr(self) -> &'static str {
        match self {
            Verdict::Valid => "signé, intact, signataire reconnu par la commune",
            Verdict::Untrusted => {
                "signé, intact (autorité du signataire non reconnue par la commune)"
            }
            Verdict::Modified => "signé, mais modifié après la signature",
            Verdict::Altered => "signature altérée : le contenu signé a changé",
            Verdict::Unreadable => "signature illisible",
        }
    }

    /// Whether the signed content is as it was signed.
    pub fn intact(self) -> bool {
        matches!(self, Verdict::Valid | Verdict::Untrusted)
    }
}

/// One signature of a file, as verified on arrival.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedSignature {
    /// The signer's name (of the authority, for a document time-stamp).
    pub signer: String,
    /// approval, certification or document_timestamp.
    pub kind: String,
    /// When it was signed: its time-stamp's date, else what the signer's computer said.
    pub signed_at: Option<DateTime<Utc>>,
    /// `signed_at` is proven by a time-stamp of a trusted authority.
    pub date_proven: bool,
    /// The digest and CMS signature match, over a whole revision.
    pub intact: bool,
    /// The signer chains to an authority of the commune.
    pub trusted: bool,
    /// Changes after it that it does not allow, in French.
    pub changes_after: Vec<String>,
    /// Why it is not intact or not trusted, in French.
    pub problems: Vec<String>,
}

impl CheckedSignature {
    /// "Signé par Alice Martin le 02/03/2026 à 10:05, intact", "…, signature altérée", with
    /// what else a reader must know (date not proven, signer not recognised, changed after).
    pub fn line_fr(&self, zone: Tz) -> String {
        let mut line = match self.kind.as_str() {
            "document_timestamp" => format!("Horodaté par {}", self.signer),
            _ => format!("Signé par {}", self.signer),
        };
        if let Some(at) = self.signed_at {
            line.push_str(&format!(" le {}", local_instant(at, zone)));
            if !self.date_proven {
                line.push_str(" (date non prouvée)");
            }
        }
        line.push_str(if self.intact {
            ", intact"
        } else {
            ", signature altérée"
        });
        if self.intact && !self.changes_after.is_empty() {
            line.push_str(" ; document modifié après la signature");
        }
        if self.intact && !self.trusted {
            line.push_str(" ; signataire non reconnu par la commune");
        }
        line
    }
}

/// The verification of a file's signatures on arrival, as kept and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureCheck {
    pub verdict: Verdict,
    pub verified_at: DateTime<Utc>,
    pub signatures: Vec<CheckedSignature>,
    /// Why the signatures could not be read (`Unreadable`), in French.
    pub problem: Option<String>,
}

impl SignatureCheck {
    fn of_report(report: &VerifyReport, verified_at: DateTime<Utc>) -> SignatureCheck {
        let signatures: Vec<CheckedSignature> = report
            .signatures
            .iter()
            .map(|s| CheckedSignature {
                signer: s.signer.clone(),
                kind: match s.kind {
                    SignatureKind::Approval => "approval",
                    SignatureKind::Certification { .. } => "certification",
                    SignatureKind::DocumentTimeStamp => "document_timestamp",
                }
                .to_owned(),
                signed_at: s.timestamp.or(s.time),
                date_proven: s.date_proven(),
                intact: s.intact && s.covers_revision && s.problems.is_empty(),
                trusted: s.trusted && s.trust_problems.is_empty(),
                changes_after: s.changes_after.clone(),
                problems: s
                    .problems
                    .iter()
                    .chain(&s.trust_problems)
                    .cloned()
                    .collect(),
            })
            .collect();
        let verdict = if signatures.is_empty() {
            // `/ByteRange` written somewhere, no signature field found: said as such.
            Verdict::Unreadable
        } else if signatures.iter().any(|s| !s.intact) {
            Verdict::Altered
        } else if signatures.iter().any(|s| !s.changes_after.is_empty()) {
            Verdict::Modified
        } else if signatures.iter().any(|s| !s.trusted) {
            Verdict::Untrusted
        } else {
            Verdict::Valid
        };
        SignatureCheck {
            problem: (verdict == Verdict::Unreadable)
                .then(|| "aucun champ de signature lisible".to_owned()),
            verdict,
            verified_at,
            signatures,
        }
    }

    fn unreadable(reason: String, verified_at: DateTime<Utc>) -> SignatureCheck {
        SignatureCheck {
            verdict: Verdict::Unreadable,
            verified_at,
            signatures: Vec::new(),
            problem: Some(reason),
        }
    }

    /// The row kept for a file.
    pub(crate) fn to_row(&self, sha256: &str) -> Result<FileSignatures, AppError> {
        Ok(FileSignatures {
            sha256: sha256.to_owned(),
            verdict: self.verdict.code().to_owned(),
            signatures: i64::try_from(self.signatures.len()).unwrap_or(i64::MAX),
            report_json: serde_json::to_string(self)
                .map_err(|e| AppError::internal(format!("vérification des signatures : {e}")))?,
            verified_at: self.verified_at,
        })
    }

    /// A kept row read back.
    pub(crate) fn of_row(row: &FileSignatures) -> Result<SignatureCheck, AppError> {
        serde_json::from_str(&row.report_json).map_err(|e| {
            AppError::internal(format!(
                "vérification des signatures de {} illisible : {e}",
                row.sha256
            ))
        })
    }
}

/// Whether a file is a PDF that says it is signed: a PDF signature's dictionary holds a
/// `/ByteRange` written in clear (its offsets are those of the file, so it cannot sit in a
/// compressed object stream). Unsigned files are not parsed at all.
pub fn looks_signed(bytes: &[u8]) -> bool {
    const MARK: &[u8] = b"/ByteRange";
    bytes.starts_with(b"%PDF-") && bytes.windows(MARK.len()).any(|w| w == MARK)
}

impl App {
    /// Verifies the signatures of a file that arrives, when it is a signed PDF: against
    /// the commune's authorities and the configured time-stamping anchors, at `now` unless
    /// a trusted time-stamp dates a signature. A file that cannot be read as signed is
    /// "illisible", never refused: the register keeps what arrived.
    pub(crate) async fn check_signatures(
        &self,
        commune: &Commune,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<SignatureCheck>, AppError> {
        if !looks_signed(bytes) {
            return Ok(None);
        }
        let anchors = parapheur_signing::TrustAnchors {
            signers: self.trusted_roots(commune).await?,
            time_stamping: self.tsa_anchors().to_vec(),
        };
        let pdf = bytes.to_vec();
        let verified =
            tokio::task::spawn_blocking(move || parapheur_signing::verify_pdf(&pdf, &anchors, now))
                .await;
        Ok(Some(match verified {
            Ok(Ok(report)) => SignatureCheck::of_report(&report, now),
            Ok(Err(e)) => SignatureCheck::unreadable(e.to_string(), now),
            Err(e) => {
                tracing::warn!(error = %e, "signature verification stopped");
                SignatureCheck::unreadable("la vérification s'est interrompue".to_owned(), now)
            }
        }))
    }

    /// The verification on arrival of each file of an item that carries signatures.
    #[boxed_future]
    pub async fn item_signatures(
        &self,
        commune_id: uuid::Uuid,
        item_id: uuid::Uuid,
    ) -> Result<Vec<(String, SignatureCheck)>, AppError> {
        self.store()
            .file_signatures_of_item(commune_id, item_id)
            .await?
            .iter()
            .map(|row| Ok((row.sha256.clone(), SignatureCheck::of_row(row)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pdfs_with_a_byte_range_are_parsed() {
        assert!(looks_signed(
            b"%PDF-1.7\n1 0 obj << /ByteRange [0 1 2 3] >>"
        ));
        assert!(!looks_signed(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>"));
        assert!(!looks_signed(b"\x89PNG /ByteRange"));
    }

    #[test]
    fn each_signature_is_said_in_one_french_line() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 2, 9, 5, 0).unwrap();
        let mut s = CheckedSignature {
            signer: "Alice Martin".into(),
            kind: "approval".into(),
            signed_at: Some(at),
            date_proven: true,
            intact: true,
            trusted: true,
            changes_after: Vec::new(),
            problems: Vec::new(),
        };
        let paris = parapheur_domain::clock::PARIS;
        assert_eq!(
            s.line_fr(paris),
            "Signé par Alice Martin le 02/03/2026 à 10:05, intact"
        );
        s.date_proven = false;
        s.trusted = false;
        assert_eq!(
            s.line_fr(paris),
            "Signé par Alice Martin le 02/03/2026 à 10:05 (date non prouvée), intact ; \
             signataire non reconnu par la commune"
        );
        s.intact = false;
        assert_eq!(
            s.line_fr(paris),
            "Signé par Alice Martin le 02/03/2026 à 10:05 (date non prouvée), signature altérée"
        );
    }
}
