//! The official list of French communes, shipped inside the binary.
//!
//! A commune is created from its INSEE code alone; its name, SIREN, postal code and
//! département come from this list, so the program never needs the network to set one up.
//! The data is `data/communes.csv` (Licence Ouverte, from `@etalab/decoupage-administratif`),
//! embedded at compile time and parsed on first use.

use std::sync::OnceLock;

static CSV: &str = include_str!("../data/communes.csv");

/// One line of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommuneRecord {
    pub insee: &'static str,
    pub name: &'static str,
    pub siren: &'static str,
    /// All postal codes of the commune; the first is the main one.
    pub postal_codes: Vec<&'static str>,
    pub departement: &'static str,
    pub population: u32,
}

impl CommuneRecord {
    pub fn main_postal_code(&self) -> &'static str {
        self.postal_codes.first().copied().unwrap_or("")
    }
}

fn all_records() -> &'static [CommuneRecord] {
    static RECORDS: OnceLock<Vec<CommuneRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| CSV.lines().skip(1).filter_map(parse_line).collect())
}

/// Splits one CSV line; names may be quoted when they hold a comma.
fn split_csv(line: &'static str) -> Vec<&'static str> {
    let mut fields = Vec::with_capacity(6);
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            fields.push(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            rest = rest.strip_prefix(',').unwrap_or(rest);
            if rest.is_empty() {
                break;
            }
        } else {
            match rest.split_once(',') {
                Some((field, tail)) => {
                    fields.push(field);
                    rest = tail;
                }
                None => {
                    fields.push(rest);
                    break;
                }
            }
        }
    }
    fields
}

fn parse_line(line: &'static str) -> Option<CommuneRecord> {
    let f = split_csv(line.trim_end_matches('\r'));
    if f.len() < 6 {
        return None;
    }
    Some(CommuneRecord {
        insee: f[0],
        name: f[1],
        siren: f[2],
        postal_codes: f[3]
            .split([' ', ';', '|'])
            .filter(|s| !s.is_empty())
            .collect(),
        departement: f[4],
        population: f[5].parse().unwrap_or(0),
    })
}

/// The commune with this INSEE code, if it exists.
pub fn by_insee(code: &str) -> Option<&'static CommuneRecord> {
    let code = code.trim();
    all_records().iter().find(|c| c.insee == code)
}

/// Every commune in the list.
pub fn all() -> &'static [CommuneRecord] {
    all_records()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_list_parses() {
        assert!(all().len() > 34_000, "{}", all().len());
        for c in all() {
            assert_eq!(c.insee.len(), 5, "{c:?}");
            // A few overseas collectivities (Saint-Pierre-et-Miquelon…) have no SIREN here.
            assert!(c.siren.is_empty() || c.siren.len() == 9, "{c:?}");
            assert!(!c.name.is_empty());
        }
    }

    #[test]
    fn known_communes_are_found() {
        let amberieu = by_insee("01004").unwrap();
        assert_eq!(amberieu.name, "Ambérieu-en-Bugey");
        assert_eq!(amberieu.siren, "210100046");
        assert_eq!(amberieu.main_postal_code(), "01500");
        assert_eq!(amberieu.departement, "01");
        assert!(by_insee("99999").is_none());
    }
}
