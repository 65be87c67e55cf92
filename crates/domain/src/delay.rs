//! Processing delays and silence rules carried by a document type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How long the commune has to process a request of a given type.
///
/// Silence rules (L231-1, L231-4) count in calendar months; acknowledgements and internal
/// reminders count in calendar or working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Delay {
    /// Calendar months, e.g. the two months of L231-1.
    Months(u32),
    /// Calendar days.
    Days(u32),
    /// Working days (jours ouvrés: Monday to Friday, public holidays excluded).
    WorkingDays(u32),
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::Months(n) => write!(f, "{n}m"),
            Delay::Days(n) => write!(f, "{n}d"),
            Delay::WorkingDays(n) => write!(f, "{n}wd"),
        }
    }
}

impl Delay {
    /// French wording for people, e.g. "2 mois", "15 jours ouvrés".
    pub fn label_fr(&self) -> String {
        match self {
            Delay::Months(n) => format!("{n} mois"),
            Delay::Days(1) => "1 jour".to_owned(),
            Delay::Days(n) => format!("{n} jours"),
            Delay::WorkingDays(1) => "1 jour ouvré".to_owned(),
            Delay::WorkingDays(n) => format!("{n} jours ouvrés"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "délai invalide « {0} » : attendu un nombre suivi de m (mois), d (jours) ou wd (jours ouvrés), par exemple 2m, 15d, 10wd"
)]
pub struct InvalidDelay(pub String);

impl FromStr for Delay {
    type Err = InvalidDelay;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u32 = digits.parse().map_err(|_| InvalidDelay(s.to_owned()))?;
        if n == 0 || n > 3650 {
            return Err(InvalidDelay(s.to_owned()));
        }
        match unit {
            "m" | "mois" => Ok(Delay::Months(n)),
            "d" | "j" => Ok(Delay::Days(n)),
            "wd" | "jo" => Ok(Delay::WorkingDays(n)),
            _ => Err(InvalidDelay(s.to_owned())),
        }
    }
}

impl From<Delay> for String {
    fn from(d: Delay) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for Delay {
    type Error = InvalidDelay;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// What the administration's silence means once the delay has run (L231-1, L231-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceRule {
    /// Silence vaut acceptation (SVA, L231-1).
    Acceptance,
    /// Silence vaut rejet (SVR, L231-4).
    Rejection,
    /// No implicit decision: the delay is only an internal target.
    None,
    /// Urbanism (permits, déclarations préalables, certificats d'urbanisme): the Code de
    /// l'urbanisme sets the instruction delay, its extensions, the missing documents and
    /// the tacit decision (R423-3 ff., R423-23, R423-38/39, L424-2), not the CRPA. No CRPA
    /// date is computed; the item and the AR say so.
    Urbanism,
}

impl SilenceRule {
    pub const ALL: [SilenceRule; 4] = [
        SilenceRule::Acceptance,
        SilenceRule::Rejection,
        SilenceRule::None,
        SilenceRule::Urbanism,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SilenceRule::Acceptance => "acceptance",
            SilenceRule::Rejection => "rejection",
            SilenceRule::None => "none",
            SilenceRule::Urbanism => "urbanism",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            SilenceRule::Acceptance => "silence vaut acceptation",
            SilenceRule::Rejection => "silence vaut rejet",
            SilenceRule::None => "pas de décision implicite",
            SilenceRule::Urbanism => "code de l'urbanisme (délai d'instruction non calculé ici)",
        }
    }
}

impl FromStr for SilenceRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "acceptance" | "acceptation" | "sva" => Ok(SilenceRule::Acceptance),
            "rejection" | "rejet" | "svr" => Ok(SilenceRule::Rejection),
            "none" | "aucune" | "aucun" => Ok(SilenceRule::None),
            "urbanism" | "urbanisme" => Ok(SilenceRule::Urbanism),
            _ => Err(format!(
                "règle de silence inconnue « {s} » : acceptance, rejection, none ou urbanism"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_parse_and_print_back() {
        for (text, delay) in [
            ("2m", Delay::Months(2)),
            ("15d", Delay::Days(15)),
            ("10wd", Delay::WorkingDays(10)),
            ("10JO", Delay::WorkingDays(10)),
            (" 4 mois", Delay::Months(4)),
        ] {
            assert_eq!(text.replace(' ', "").parse::<Delay>(), Ok(delay), "{text}");
        }
        assert_eq!(Delay::WorkingDays(10).to_string(), "10wd");
        for bad in ["", "m", "0m", "2x", "-1d", "99999d", "2.5m"] {
            assert!(bad.parse::<Delay>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn silence_rules_parse() {
        assert_eq!("acceptance".parse(), Ok(SilenceRule::Acceptance));
        assert_eq!("SVR".parse(), Ok(SilenceRule::Rejection));
        assert!("maybe".parse::<SilenceRule>().is_err());
    }
}
