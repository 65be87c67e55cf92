//! Document types (typologies): each carries its processing delay, silence rule and retention.

use serde::{Deserialize, Serialize};

use crate::delay::{Delay, SilenceRule};
use crate::retention::{FinalAction, RetentionRule};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentType {
    /// Stable code, unique in the commune, used by scripts and imports.
    pub code: String,
    pub label: String,
    pub delay: Delay,
    pub silence: SilenceRule,
    pub retention: RetentionRule,
    /// R112-4: no acknowledgement of receipt for this type.
    pub no_acknowledgement: bool,
}

/// Checks a document type code: 1 to 40 characters, lower-case letters, digits, '-' or '_'.
pub fn is_valid_code(code: &str) -> bool {
    (1..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The default set created for every new commune. Codes are stable: never rename one.
pub fn default_set() -> Vec<DocumentType> {
    use SilenceRule::*;
    let mail = RetentionRule::ADMINISTRATIVE_MAIL;
    let t = |code: &str, label: &str, delay: Delay, silence, retention, no_ar| DocumentType {
        code: code.to_owned(),
        label: label.to_owned(),
        delay,
        silence,
        retention,
        no_acknowledgement: no_ar,
    };
    let keep = |years| RetentionRule {
        years,
        final_action: FinalAction::Keep,
    };
    vec![
        t(
            "courrier",
            "Courrier divers",
            Delay::WorkingDays(15),
            None,
            mail,
            true,
        ),
        // L231-4 2°: a request that no text provides a procedure for is rejected by
        // silence; acceptance (L231-1) is for procedures a text sets out, whose type the
        // commune picks when it knows the text.
        t(
            "demande-administrative",
            "Demande administrative hors procédure prévue par un texte (silence vaut rejet)",
            Delay::Months(2),
            Rejection,
            mail,
            false,
        ),
        t(
            "demande-sva",
            "Demande d'une procédure prévue par un texte (silence vaut acceptation)",
            Delay::Months(2),
            Acceptance,
            mail,
            false,
        ),
        t(
            "demande-svr",
            "Demande d'une procédure où un texte fait valoir le silence comme rejet",
            Delay::Months(2),
            Rejection,
            mail,
            false,
        ),
        t(
            "reclamation",
            "Réclamation",
            Delay::Months(2),
            Rejection,
            mail,
            false,
        ),
        t(
            "recours-gracieux",
            "Recours gracieux",
            Delay::Months(2),
            Rejection,
            keep(10),
            false,
        ),
        t(
            "urbanisme",
            "Urbanisme (certificat, déclaration préalable)",
            // The Code de l'urbanisme's delays, not the CRPA's (R423-23 ff.).
            Delay::Months(1),
            SilenceRule::Urbanism,
            keep(30),
            false,
        ),
        t(
            "etat-civil",
            "Demande d'acte d'état civil",
            Delay::WorkingDays(10),
            None,
            mail,
            true,
        ),
        t(
            "occupation-domaine-public",
            "Occupation du domaine public",
            Delay::Months(2),
            Rejection,
            mail,
            false,
        ),
        t(
            "acces-documents",
            "Communication de documents administratifs (CADA)",
            Delay::Months(1),
            Rejection,
            mail,
            false,
        ),
        t(
            "subvention",
            "Demande de subvention",
            Delay::Months(2),
            Rejection,
            keep(10),
            false,
        ),
        t(
            "invitation",
            "Invitation",
            Delay::WorkingDays(10),
            None,
            RetentionRule {
                years: 1,
                final_action: FinalAction::Destroy,
            },
            true,
        ),
        t(
            "appel",
            "Appel téléphonique",
            Delay::WorkingDays(2),
            None,
            RetentionRule {
                years: 1,
                final_action: FinalAction::Destroy,
            },
            true,
        ),
        t("facture", "Facture", Delay::Days(30), None, keep(10), true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_codes_are_valid_and_unique() {
        let set = default_set();
        for t in &set {
            assert!(is_valid_code(&t.code), "{}", t.code);
        }
        let mut codes: Vec<_> = set.iter().map(|t| t.code.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), set.len());
        assert!(!is_valid_code("Avec Espace"));
        assert!(!is_valid_code(""));
    }
}
