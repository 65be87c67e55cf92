//! Retention (durée d'utilité administrative) and final disposition of records.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Sort final: what happens once the retention period is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    /// C: conserve (transfer to the archives).
    Keep,
    /// D: destroy, with the visa of the Archives départementales (L212-2, R212-14).
    Destroy,
    /// T: sort (the archivist chooses what to keep).
    Sort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetentionRule {
    /// DUA in years, counted from the closing of the item.
    pub years: u32,
    pub final_action: FinalAction,
}

impl RetentionRule {
    /// Administrative mail: six years, then sorted (DOMAIN: unconfirmed secondhand reading).
    pub const ADMINISTRATIVE_MAIL: RetentionRule = RetentionRule {
        years: 6,
        final_action: FinalAction::Sort,
    };

    /// The first day on which the final action may be taken for an item closed on `closed_on`.
    pub fn eligible_on(&self, closed_on: NaiveDate) -> NaiveDate {
        let year = closed_on.year() + self.years as i32;
        // 29 February closes into 28 February of a common year.
        NaiveDate::from_ymd_opt(year, closed_on.month(), closed_on.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, closed_on.month(), 28))
            .unwrap_or(closed_on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_counts_whole_years_from_closing() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let rule = RetentionRule::ADMINISTRATIVE_MAIL;
        assert_eq!(rule.eligible_on(d(2026, 3, 15)), d(2032, 3, 15));
        // Closed on a leap day: the common year has no 29 February.
        assert_eq!(rule.eligible_on(d(2028, 2, 29)), d(2034, 2, 28));
    }
}
