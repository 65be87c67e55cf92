//! Contacts (people and organisations) and how likely duplicates are recognised.
//!
//! A duplicate is suspected when two contacts share a normalised email, a normalised phone
//! number, or the same name and address once case, accents and punctuation are folded.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Person,
    Organisation,
}

impl ContactKind {
    pub fn code(self) -> &'static str {
        match self {
            ContactKind::Person => "person",
            ContactKind::Organisation => "organisation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(ContactKind::Person),
            "organisation" => Some(ContactKind::Organisation),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    pub kind: Option<ContactKind>,
    pub civility: Option<String>,
    pub first_name: Option<String>,
    /// Last name of a person, or the name of an organisation.
    pub name: String,
    pub organisation: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub siret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: Uuid,
    pub commune_id: Uuid,
    pub kind: ContactKind,
    pub civility: Option<String>,
    pub first_name: Option<String>,
    pub name: String,
    pub organisation: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub siret: Option<String>,
}

impl Contact {
    pub fn display_name(&self) -> String {
        match (&self.first_name, self.kind) {
            (Some(first), ContactKind::Person) => format!("{first} {}", self.name),
            _ => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("contact invalide : {0}")]
pub struct InvalidContact(pub String);

impl NewContact {
    pub fn validate(&self) -> Result<(), InvalidContact> {
        if self.name.trim().is_empty() {
            return Err(InvalidContact("le nom est obligatoire".into()));
        }
        if let Some(email) = &self.email
            && normalize_email(email).is_none()
        {
            return Err(InvalidContact(format!(
                "adresse électronique invalide « {email} »"
            )));
        }
        if let Some(phone) = &self.phone
            && normalize_phone(phone).is_none()
        {
            return Err(InvalidContact(format!(
                "numéro de téléphone invalide « {phone} »"
            )));
        }
        if let Some(siret) = &self.siret
            && !(siret.len() == 14 && siret.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(InvalidContact("un SIRET compte 14 chiffres".into()));
        }
        Ok(())
    }

    /// The normalised keys stored beside the contact to find likely duplicates quickly.
    pub fn duplicate_keys(&self) -> DuplicateKeys {
        DuplicateKeys {
            email: self.email.as_deref().and_then(normalize_email),
            phone: self.phone.as_deref().and_then(normalize_phone),
            name_address: name_address_key(
                self.first_name.as_deref(),
                &self.name,
                self.address.as_deref(),
                self.postal_code.as_deref(),
            ),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateKeys {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name_address: Option<String>,
}

/// Lower-cased, trimmed email; `None` unless it looks like `local@domain.tld`.
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.contains(char::is_whitespace)
        && e.matches('@').count() == 1
        && e.len() <= 254;
    ok.then_some(e)
}

/// French national form of a phone number (`0612345678`); international numbers keep `+`.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let trimmed = phone.trim();
    let plus = trimmed.starts_with('+') || trimmed.starts_with("00");
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " .-+()/".contains(c)))
    {
        return None;
    }
    let digits = if plus {
        digits.strip_prefix("00").unwrap_or(&digits).to_owned()
    } else {
        digits
    };
    let national = if plus {
        match digits.strip_prefix("33") {
            Some(rest) => format!("0{}", rest.strip_prefix('0').unwrap_or(rest)),
            None => {
                return (6..=15)
                    .contains(&digits.len())
                    .then(|| format!("+{digits}"));
            }
        }
    } else {
        digits
    };
    (national.len() == 10 && national.starts_with('0')).then_some(national)
}

/// Folds case, French accents and punctuation: "Éloïse  D'Aubigné" -> "eloise d aubigne".
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' | 'ì' => "i",
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
            'ù' | 'û' | 'ü' | 'ú' => "u",
            'ÿ' | 'ý' => "y",
            'ñ' => "n",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => " ",
        };
        out.push_str(mapped);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn name_address_key(
    first_name: Option<&str>,
    name: &str,
    address: Option<&str>,
    postal_code: Option<&str>,
) -> Option<String> {
    let address = fold(address?);
    if address.is_empty() {
        return None;
    }
    let person = fold(&format!("{} {}", first_name.unwrap_or(""), name));
    Some(format!(
        "{person}|{address}|{}",
        postal_code.unwrap_or("").trim()
    ))
}

/// Whether a typed name and a contact's name are close enough to be the same person: the
/// same words in any order, case and accents aside, or one typing slip away (a letter
/// missing, added, changed, or two swapped) once the words are paired in the best order.
/// Names shorter than five letters only match exactly: "Roux" is not "Rous".
pub fn close_names(typed: &str, known: &str) -> bool {
    let words =
        |s: &str| -> Vec<String> { fold(s).split_whitespace().map(str::to_owned).collect() };
    let (typed, known) = (words(typed), words(known));
    if typed.is_empty() || typed.len() != known.len() || typed.len() > 4 {
        return false;
    }
    let letters: usize = typed.iter().map(|w| w.chars().count()).sum();
    let target = typed.join(" ");
    let mut best = usize::MAX;
    permutations(
        &known,
        &mut Vec::new(),
        &mut vec![false; known.len()],
        &mut |order| {
            best = best.min(slips(&target, &order.join(" ")));
        },
    );
    best == 0 || (best == 1 && letters >= 5)
}

/// Calls `f` with every order of `words` (four words at most: 24 orders).
fn permutations<'a>(
    words: &'a [String],
    order: &mut Vec<&'a str>,
    used: &mut Vec<bool>,
    f: &mut dyn FnMut(&[&str]),
) {
    if order.len() == words.len() {
        f(order);
        return;
    }
    for i in 0..words.len() {
        if !used[i] {
            used[i] = true;
            order.push(&words[i]);
            permutations(words, order, used, f);
            order.pop();
            used[i] = false;
        }
    }
}

/// The typing slips between two texts: letters inserted, deleted, replaced, or two
/// neighbours swapped (the optimal string alignment distance).
fn slips(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_normalise() {
        assert_eq!(
            normalize_email("  Jean.Dupont@Example.FR "),
            Some("jean.dupont@example.fr".into())
        );
        for bad in [
            "", "jean", "jean@", "@x.fr", "a@b", "a b@c.fr", "a@@b.fr", "a@b.",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn phones_normalise_to_the_national_form() {
        for (input, expected) in [
            ("06 12 34 56 78", "0612345678"),
            ("06.12.34.56.78", "0612345678"),
            ("+33 6 12 34 56 78", "0612345678"),
            ("+33 (0)6 12 34 56 78", "0612345678"),
            ("0033612345678", "0612345678"),
            ("+41 22 123 45 67", "+41221234567"),
        ] {
            assert_eq!(normalize_phone(input).as_deref(), Some(expected), "{input}");
        }
        for bad in ["", "12345", "06 12 34 56 7", "appelez-moi", "0612345678901"] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn name_and_address_fold_accents_case_and_punctuation() {
        let a = NewContact {
            first_name: Some("Éloïse".into()),
            name: "D'Aubigné".into(),
            address: Some("12, rue de l'Église".into()),
            postal_code: Some("01500".into()),
            ..Default::default()
        };
        let b = NewContact {
            first_name: Some("eloise".into()),
            name: "d aubigne".into(),
            address: Some("12 RUE DE L EGLISE".into()),
            postal_code: Some("01500".into()),
            ..Default::default()
        };
        assert_eq!(
            a.duplicate_keys().name_address,
            b.duplicate_keys().name_address
        );
        assert!(a.duplicate_keys().name_address.is_some());
        let no_address = NewContact {
            name: "Martin".into(),
            ..Default::default()
        };
        assert_eq!(no_address.duplicate_keys().name_address, None);
    }

    #[test]
    fn contact_validation() {
        let mut c = NewContact {
            name: "Martin".into(),
            ..Default::default()
        };
        assert!(c.validate().is_ok());
        c.email = Some("pas une adresse".into());
        assert!(c.validate().is_err());
        c.email = None;
        c.siret = Some("123".into());
        assert!(c.validate().is_err());
    }

    #[test]
    fn close_names_are_the_same_person_typed_otherwise() {
        assert!(close_names("Martin Jeanne", "Jeanne Martin"));
        assert!(close_names("JEANNE MARTÍN", "Jeanne Martin"));
        assert!(close_names("Jeane Martin", "Jeanne Martin"));
        assert!(close_names("Martin Jenane", "Jeanne Martin"));
        assert!(close_names("Martin Jeanne", "Jeanne Martin"));
        assert!(!close_names("Jean Martin", "Jeanne Martin"));
        assert!(!close_names("Jeanne", "Jeanne Martin"));
        assert!(!close_names("Rous", "Roux"));
        assert!(close_names("Lefebre", "Lefebvre"));
        assert!(!close_names("Paul Blanc", "Jeanne Martin"));
    }
}
