//! A commune: the tenant that owns a register.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::calendar::HolidayZone;
use crate::chrono_number::ChronoFormat;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commune {
    pub id: Uuid,
    /// Code officiel géographique (5 characters: "01004", "2A004").
    pub insee: String,
    pub name: String,
    pub siren: String,
    pub postal_code: String,
    pub departement: String,
    pub chrono_format: ChronoFormat,
    /// Alsace-Moselle only: whether Good Friday is a holiday here (code du travail,
    /// L3134-13: communes with a Protestant temple or a mixed church). True by default, as
    /// before the setting existed; elsewhere it has no effect.
    #[serde(default = "yes")]
    pub good_friday: bool,
    /// The small rendition of the commune's logo shown in the pages' header, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_logo: Option<HeaderLogo>,
}

/// The small rendition of a commune's logo: its address in the file store (a PNG or a
/// JPEG) and its size in pixels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderLogo {
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

fn yes() -> bool {
    true
}

impl Commune {
    pub fn holiday_zone(&self) -> HolidayZone {
        match HolidayZone::for_departement(&self.departement) {
            HolidayZone::AlsaceMoselle if !self.good_friday => {
                HolidayZone::AlsaceMoselleWithoutGoodFriday
            }
            zone => zone,
        }
    }

    /// The commune's legal time zone (`clock::time_zone`).
    pub fn zone(&self) -> chrono_tz::Tz {
        crate::clock::time_zone(&self.insee, &self.departement)
    }
}

/// Checks the shape of an INSEE commune code (not that it exists: the commune list does).
pub fn is_valid_insee_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 5
        && b[0].is_ascii_digit()
        // Corsica: 2A and 2B.
        && (b[1].is_ascii_digit() || (b[0] == b'2' && matches!(b[1], b'A' | b'B')))
        && b[2..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    #[test]
    fn insee_code_shapes() {
        for ok in ["01004", "2A004", "2B033", "97411", "75056"] {
            assert!(super::is_valid_insee_code(ok), "{ok}");
        }
        for bad in ["", "1004", "010044", "0100A", "ABCDE", "3A004"] {
            assert!(!super::is_valid_insee_code(bad), "{bad}");
        }
    }
}
