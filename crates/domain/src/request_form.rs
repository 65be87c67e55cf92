//! Public request forms, configured per commune, and the validation of what citizens send.
//!
//! A form is the commune's teleservice (L112-9): its own fields, after a fixed identity
//! block that R112-9-1 requires of anyone writing to the administration electronically
//! (name, first name, postal and email address, or, for a company, its SIRET). Definitions
//! are stored as versioned JSON, so a later format can still read today's forms.
//!
//! Validation is strict and total: every value is trimmed, bounded and checked, and all the
//! errors of a submission come back at once, each tied to its field, in French, so the page
//! can show them beside the fields.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::contact::{normalize_email, normalize_phone};
use crate::doctype::is_valid_code;

/// The keys of the identity block, reserved: a form's own fields cannot use them.
pub const IDENTITY_KEYS: [&str; 9] = [
    "civilite",
    "prenom",
    "nom",
    "adresse",
    "code_postal",
    "ville",
    "courriel",
    "telephone",
    "siret",
];

/// The key of the consent checkbox forms had before issue 16 (consent is not the lawful
/// basis, RGPD art. 6(1)(e); see [`crate::privacy`]): still reserved, so that an old page's
/// post never lands in one of the form's fields.
pub const CONSENT_KEY: &str = "consentement";

/// The civilities offered; none is required.
pub const CIVILITIES: [&str; 2] = ["Madame", "Monsieur"];

/// At most this many fields of its own per form.
pub const MAX_FIELDS: usize = 30;
/// Longest one-line or short text answer, in characters.
pub const MAX_TEXT: usize = 2_000;
/// Longest long text answer, in characters.
pub const MAX_LONG_TEXT: usize = 10_000;
/// Largest file, in bytes (20 MB).
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// Most files per file field.
pub const MAX_FILES_PER_FIELD: usize = 5;

/// What a field asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// A short text, at most 2,000 characters.
    Text,
    /// A long text, at most 10,000 characters.
    LongText,
    /// One of the options.
    Choice { options: Vec<String> },
    /// A date, `YYYY-MM-DD`.
    Date,
    /// Up to five files of 20 MB.
    File,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// The name the value is posted under: `[a-z0-9_]`, a letter first, at most 40.
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A public request form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestForm {
    /// Stable code, also the form's address: same rules as a document type code.
    pub code: String,
    pub title: String,
    /// Shown above the form: what the request is for and what to prepare.
    pub intro: String,
    /// The document type the registered item takes (its delay and silence rule).
    pub doctype_code: Option<String>,
    pub fields: Vec<FormField>,
    /// What the form adds to the information notice on its data ([`crate::privacy`]):
    /// optional (it held the consent box's text before issue 16; nothing is consented to).
    pub consent: String,
}

/// A form definition that cannot be saved or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("formulaire invalide : {0}")]
pub struct InvalidForm(pub String);

/// The stored form of the fields: `{"v":1,"fields":[…]}`.
#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    fields: Vec<FormField>,
}

/// The fields as stored JSON, in the versioned envelope.
pub fn fields_to_json(fields: &[FormField]) -> String {
    // Strings, booleans and enums always serialise: this cannot fail, and an empty string
    // would be refused by `fields_from_json` rather than read as an empty form.
    serde_json::to_string(&Envelope {
        v: 1,
        fields: fields.to_vec(),
    })
    .unwrap_or_default()
}

/// The fields read back from stored JSON.
pub fn fields_from_json(json: &str) -> Result<Vec<FormField>, InvalidForm> {
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let version: Version = serde_json::from_str(json)
        .map_err(|e| InvalidForm(format!("définition des champs illisible ({e})")))?;
    if version.v != 1 {
        return Err(InvalidForm(format!(
            "version {} de la définition des champs inconnue",
            version.v
        )));
    }
    let envelope: Envelope = serde_json::from_str(json)
        .map_err(|e| InvalidForm(format!("définition des champs illisible ({e})")))?;
    Ok(envelope.fields)
}

/// Checks a form before it is saved: its code, texts, and fields (unique keys outside the
/// identity block, labels, options).
pub fn validate_definition(form: &RequestForm) -> Result<(), InvalidForm> {
    let err = |msg: String| Err(InvalidForm(msg));
    if !is_valid_code(&form.code) {
        return err(format!(
            "code « {} » : 1 à 40 caractères, lettres minuscules, chiffres, « - » ou « _ »",
            form.code
        ));
    }
    if let Some(doctype) = &form.doctype_code
        && !is_valid_code(doctype)
    {
        return err(format!("code de type de document invalide « {doctype} »"));
    }
    check_text("le titre", &form.title, 200, true)?;
    check_text("l'introduction", &form.intro, 5_000, false)?;
    check_text(
        "les précisions sur les données",
        &form.consent,
        2_000,
        false,
    )?;
    if form.fields.len() > MAX_FIELDS {
        return err(format!("{MAX_FIELDS} champs au plus"));
    }
    let mut keys = BTreeSet::new();
    for field in &form.fields {
        let key = field.key.as_str();
        if !is_valid_key(key) {
            return err(format!(
                "clé de champ « {key} » : 1 à 40 caractères, lettres minuscules sans accent, \
                 chiffres ou « _ », en commençant par une lettre"
            ));
        }
        if IDENTITY_KEYS.contains(&key) || key == CONSENT_KEY {
            return err(format!(
                "la clé « {key} » est réservée à l'identité du demandeur ou au consentement"
            ));
        }
        if !keys.insert(key) {
            return err(format!("la clé « {key} » est utilisée deux fois"));
        }
        let what = format!("le libellé du champ « {key} »");
        check_text(&what, &field.label, 200, true)?;
        if let Some(help) = &field.help {
            check_text(&format!("l'aide du champ « {key} »"), help, 500, false)?;
        }
        if let FieldKind::Choice { options } = &field.kind {
            if options.is_empty() || options.len() > 50 {
                return err(format!("le champ « {key} » propose de 1 à 50 choix"));
            }
            let mut seen = BTreeSet::new();
            for option in options {
                check_text(&format!("un choix du champ « {key} »"), option, 200, true)?;
                if !seen.insert(option.trim()) {
                    return err(format!(
                        "le choix « {} » du champ « {key} » figure deux fois",
                        option.trim()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `[a-z0-9_]`, 1 to 40, a letter first: safe as an HTML name and a JSON key.
fn is_valid_key(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_text(what: &str, text: &str, max: usize, required: bool) -> Result<(), InvalidForm> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(InvalidForm(format!("{what} est obligatoire")));
    }
    if text.chars().count() > max {
        return Err(InvalidForm(format!("{what} dépasse {max} caractères")));
    }
    if has_forbidden_control(text) {
        return Err(InvalidForm(format!(
            "{what} contient des caractères de contrôle"
        )));
    }
    Ok(())
}

/// Who sends the request (R112-9-1). For a company identified by its SIRET, `name` is its
/// name and the personal fields may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub civility: Option<String>,
    pub first_name: String,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub city: String,
    /// Lower-cased (`contact::normalize_email`), as contacts store it.
    pub email: String,
    /// National form (`contact::normalize_phone`).
    pub phone: Option<String>,
    /// 14 digits, spaces removed.
    pub siret: Option<String>,
}

impl Identity {
    /// "Camille Martin", or the company's name.
    pub fn full_name(&self) -> String {
        if self.first_name.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.first_name, self.name)
        }
    }

    /// "12 rue des Lilas, 01000 Bourg-en-Bresse": the parts given, on one line.
    pub fn postal_address(&self) -> String {
        let town = [self.postal_code.as_str(), self.city.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        self.address
            .lines()
            .map(str::trim)
            .chain([town.as_str()])
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A file sent with a submission, as the web layer received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedFile {
    /// The key of the file field it was sent under.
    pub key: String,
    pub name: String,
    pub size: u64,
}

/// What is wrong with one field of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub key: String,
    pub message_fr: String,
}

/// A checked submission, ready to be registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidSubmission {
    pub identity: Identity,
    /// The form's own answers, cleaned, by key (empty optional answers left out).
    pub values: BTreeMap<String, String>,
    /// The files, in the order they came.
    pub files: Vec<SubmittedFile>,
    /// `(label, value)` for the item's body: the applicant first, then the form's fields in
    /// the form's order (empty optional answers left out; files by name).
    pub summary: Vec<(String, String)>,
    /// The item's subject: the form's title, " — ", the applicant's name.
    pub subject: String,
}

/// Checks a submission against its form and R112-9-1.
///
/// `values` holds the posted text values (identity, the form's fields, consent); other keys
/// (an anti-abuse token, say) are ignored. `files` holds the files, by field key. Line breaks
/// are normalised to `\n` (browsers send `\r\n`) and everything is trimmed. `today` bounds
/// the dates (±100 years).
pub fn validate_submission(
    form: &RequestForm,
    values: &BTreeMap<String, String>,
    files: &[SubmittedFile],
    today: NaiveDate,
) -> Result<ValidSubmission, Vec<FieldError>> {
    let mut errors = Vec::new();
    let identity = check_identity(values, &mut errors);
    let mut clean_values = BTreeMap::new();
    let mut field_summary = Vec::new();
    for field in &form.fields {
        let key = field.key.as_str();
        if field.kind == FieldKind::File {
            let mine: Vec<&SubmittedFile> = files.iter().filter(|f| f.key == key).collect();
            check_files(field, &mine, &mut errors);
            if !mine.is_empty() {
                let names: Vec<&str> = mine.iter().map(|f| f.name.trim()).collect();
                field_summary.push((field.label.trim().to_owned(), names.join(", ")));
            }
            continue;
        }
        let value = clean(values.get(key).map_or("", String::as_str));
        if value.is_empty() {
            if field.required {
                errors.push(error(key, "Ce champ est obligatoire."));
            }
            continue;
        }
        if let Some(message) = check_value(&field.kind, &value, today) {
            errors.push(error(key, &message));
            continue;
        }
        field_summary.push((field.label.trim().to_owned(), value.clone()));
        clean_values.insert(key.to_owned(), value);
    }
    for file in files {
        let expected = form
            .fields
            .iter()
            .any(|f| f.key == file.key && f.kind == FieldKind::File);
        if !expected {
            errors.push(error(&file.key, "Ce fichier n'était pas attendu."));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut summary = vec![(
        "Demandeur".to_owned(),
        match &identity.civility {
            Some(civility) => format!("{civility} {}", identity.full_name()),
            None => identity.full_name(),
        },
    )];
    let address = identity.postal_address();
    if !address.is_empty() {
        summary.push(("Adresse".to_owned(), address));
    }
    summary.push(("Courriel".to_owned(), identity.email.clone()));
    if let Some(phone) = &identity.phone {
        summary.push(("Téléphone".to_owned(), phone.clone()));
    }
    if let Some(siret) = &identity.siret {
        summary.push(("SIRET".to_owned(), siret.clone()));
    }
    summary.extend(field_summary);
    Ok(ValidSubmission {
        subject: format!("{} — {}", form.title.trim(), identity.full_name()),
        identity,
        values: clean_values,
        files: files.to_vec(),
        summary,
    })
}

/// The identity block: a person (name, first name, full postal address, email) or a
/// company (SIRET, name, email), per R112-9-1.
fn check_identity(values: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) -> Identity {
    let get = |key: &str| clean(values.get(key).map_or("", String::as_str));
    let mut one_line = |key: &str, max: usize| {
        let value = get(key);
        if value.chars().count() > max {
            errors.push(error(key, &format!("Ce texte dépasse {max} caractères.")));
        } else if value.contains(|c: char| c.is_control()) {
            errors.push(error(
                key,
                "Ce texte contient des caractères non autorisés.",
            ));
        }
        value
    };
    let civility = one_line("civilite", 20);
    let first_name = one_line("prenom", 200);
    let name = one_line("nom", 200);
    let postal_code = one_line("code_postal", 20);
    let city = one_line("ville", 200);
    let email = one_line("courriel", 254);
    let phone = one_line("telephone", 40);
    let siret: String = one_line("siret", 40)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let address = get("adresse");
    if address.chars().count() > 500 {
        errors.push(error("adresse", "Ce texte dépasse 500 caractères."));
    } else if has_forbidden_control(&address) {
        errors.push(error(
            "adresse",
            "Ce texte contient des caractères non autorisés.",
        ));
    }

    // A value already refused for its length or characters gets no second message.
    let refused = |errors: &[FieldError], key: &str| errors.iter().any(|e| e.key == key);
    let civility = match civility.as_str() {
        "" => None,
        c => match CIVILITIES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(c))
        {
            Some(known) => Some((*known).to_owned()),
            None => {
                errors.push(error(
                    "civilite",
                    "Choisissez « Madame » ou « Monsieur », ou laissez ce champ vide.",
                ));
                None
            }
        },
    };
    let company = !siret.is_empty();
    if company {
        let digits_only = siret.len() == 14 && siret.bytes().all(|b| b.is_ascii_digit());
        if refused(errors, "siret") {
            // Already refused for its length or characters.
        } else if !digits_only {
            errors.push(error("siret", "Le numéro SIRET compte 14 chiffres."));
        } else if !is_valid_siret(&siret) {
            errors.push(error(
                "siret",
                "Ce numéro SIRET n'est pas valide : vérifiez les chiffres.",
            ));
        }
        if name.is_empty() {
            errors.push(error("nom", "Indiquez le nom de votre organisme."));
        }
    } else {
        for (key, value, message) in [
            ("prenom", &first_name, "Indiquez votre prénom."),
            ("nom", &name, "Indiquez votre nom."),
            ("adresse", &address, "Indiquez votre adresse postale."),
            ("code_postal", &postal_code, "Indiquez votre code postal."),
            ("ville", &city, "Indiquez votre commune."),
        ] {
            if value.is_empty() {
                errors.push(error(key, message));
            }
        }
    }
    if !postal_code.is_empty()
        && !refused(errors, "code_postal")
        && (postal_code.len() != 5 || !postal_code.bytes().all(|b| b.is_ascii_digit()))
    {
        errors.push(error("code_postal", "Le code postal compte 5 chiffres."));
    }
    let normalized_email = normalize_email(&email);
    if email.is_empty() {
        errors.push(error(
            "courriel",
            "Indiquez votre adresse électronique : la réponse vous y sera adressée.",
        ));
    } else if normalized_email.is_none() && !refused(errors, "courriel") {
        errors.push(error(
            "courriel",
            "Cette adresse électronique n'est pas valide.",
        ));
    }
    let normalized_phone = normalize_phone(&phone);
    if !phone.is_empty() && normalized_phone.is_none() && !refused(errors, "telephone") {
        errors.push(error(
            "telephone",
            "Ce numéro de téléphone n'est pas valide.",
        ));
    }
    Identity {
        civility,
        first_name,
        name,
        address,
        postal_code,
        city,
        email: normalized_email.unwrap_or(email),
        phone: normalized_phone,
        siret: company.then_some(siret),
    }
}

/// The error of one (non-empty, cleaned) value of a form field, if any.
fn check_value(kind: &FieldKind, value: &str, today: NaiveDate) -> Option<String> {
    let max = match kind {
        FieldKind::LongText => MAX_LONG_TEXT,
        _ => MAX_TEXT,
    };
    if value.chars().count() > max {
        return Some(format!("Ce texte dépasse {max} caractères."));
    }
    if has_forbidden_control(value) {
        return Some("Ce texte contient des caractères non autorisés.".to_owned());
    }
    match kind {
        FieldKind::Text | FieldKind::LongText | FieldKind::File => None,
        FieldKind::Choice { options } => (!options.iter().any(|o| o.trim() == value))
            .then(|| "Choisissez une des valeurs proposées.".to_owned()),
        FieldKind::Date => {
            let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
                return Some("Date invalide : attendu AAAA-MM-JJ.".to_owned());
            };
            let century = Months::new(1_200);
            let earliest = today.checked_sub_months(century).unwrap_or(NaiveDate::MIN);
            let latest = today.checked_add_months(century).unwrap_or(NaiveDate::MAX);
            (date < earliest || date > latest).then(|| "Cette date est trop éloignée.".to_owned())
        }
    }
}

fn check_files(field: &FormField, files: &[&SubmittedFile], errors: &mut Vec<FieldError>) {
    let key = field.key.as_str();
    if files.is_empty() && field.required {
        errors.push(error(key, "Joignez au moins un fichier."));
    }
    if files.len() > MAX_FILES_PER_FIELD {
        errors.push(error(
            key,
            &format!("{MAX_FILES_PER_FIELD} fichiers au plus pour ce champ."),
        ));
    }
    for file in files {
        let name = file.name.trim();
        if name.is_empty() || has_forbidden_control(name) || name.contains('\n') {
            errors.push(error(key, "Un des fichiers n'a pas de nom valide."));
        } else if file.size == 0 {
            errors.push(error(key, &format!("Le fichier « {name} » est vide.")));
        } else if file.size > MAX_FILE_BYTES {
            errors.push(error(key, &format!("Le fichier « {name} » dépasse 20 Mo.")));
        }
    }
}

/// A SIRET whose Luhn key is right. La Poste's establishments (SIREN 356000000), except
/// its head office, use another rule: the sum of the digits is a multiple of 5.
pub fn is_valid_siret(siret: &str) -> bool {
    if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = siret.bytes().map(|b| u32::from(b - b'0'));
    if siret.starts_with("356000000") && siret != "35600000000048" {
        return digits.sum::<u32>().is_multiple_of(5);
    }
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(i, d)| match (i % 2, d * 2) {
            (1, doubled) if doubled > 9 => doubled - 9,
            (1, doubled) => doubled,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Line breaks as `\n`, then trimmed.
fn clean(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// Control characters other than a line break or a tab.
fn has_forbidden_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn error(key: &str, message: &str) -> FieldError {
    FieldError {
        key: key.to_owned(),
        message_fr: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn form() -> RequestForm {
        RequestForm {
            code: "test".into(),
            title: "Demande de test".into(),
            intro: String::new(),
            doctype_code: None,
            fields: vec![
                FormField {
                    key: "motif".into(),
                    label: "Motif".into(),
                    kind: FieldKind::Text,
                    required: true,
                    help: None,
                },
                FormField {
                    key: "detail".into(),
                    label: "Détail".into(),
                    kind: FieldKind::LongText,
                    required: false,
                    help: Some("Facultatif".into()),
                },
                FormField {
                    key: "salle".into(),
                    label: "Salle".into(),
                    kind: FieldKind::Choice {
                        options: vec!["Salle A".into(), "Salle B".into()],
                    },
                    required: true,
                    help: None,
                },
                FormField {
                    key: "jour".into(),
                    label: "Jour".into(),
                    kind: FieldKind::Date,
                    required: false,
                    help: None,
                },
                FormField {
                    key: "piece".into(),
                    label: "Pièce jointe".into(),
                    kind: FieldKind::File,
                    required: true,
                    help: None,
                },
            ],
            consent: "J'accepte.".into(),
        }
    }

    fn person() -> BTreeMap<String, String> {
        [
            ("civilite", "madame"),
            ("prenom", " Camille "),
            ("nom", "Martin"),
            ("adresse", "12 rue des Lilas\r\nBâtiment B"),
            ("code_postal", "01000"),
            ("ville", "Bourg-en-Bresse"),
            ("courriel", " Camille.Martin@Example.fr "),
            ("telephone", "06 12 34 56 78"),
            ("motif", "  Mariage "),
            ("salle", "Salle B"),
            ("jour", "2026-06-20"),
            ("consentement", "on"),
            ("pow", "ignored"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn file(key: &str, name: &str, size: u64) -> SubmittedFile {
        SubmittedFile {
            key: key.into(),
            name: name.into(),
            size,
        }
    }

    fn keys(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn a_complete_person_submission() {
        let ok = validate_submission(
            &form(),
            &person(),
            &[file("piece", "plan.pdf", 1_000)],
            today(),
        )
        .unwrap();
        assert_eq!(ok.subject, "Demande de test — Camille Martin");
        assert_eq!(ok.identity.civility.as_deref(), Some("Madame"));
        assert_eq!(ok.identity.first_name, "Camille");
        assert_eq!(ok.identity.email, "camille.martin@example.fr");
        assert_eq!(ok.identity.phone.as_deref(), Some("0612345678"));
        assert_eq!(ok.identity.address, "12 rue des Lilas\nBâtiment B");
        assert_eq!(ok.identity.siret, None);
        assert_eq!(ok.values.get("motif").map(String::as_str), Some("Mariage"));
        assert!(!ok.values.contains_key("detail"));
        assert!(!ok.values.contains_key("pow"));
        let summary: Vec<(&str, &str)> = ok
            .summary
            .iter()
            .map(|(l, v)| (l.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("Demandeur", "Madame Camille Martin"),
                (
                    "Adresse",
                    "12 rue des Lilas, Bâtiment B, 01000 Bourg-en-Bresse"
                ),
                ("Courriel", "camille.martin@example.fr"),
                ("Téléphone", "0612345678"),
                ("Motif", "Mariage"),
                ("Salle", "Salle B"),
                ("Jour", "2026-06-20"),
                ("Pièce jointe", "plan.pdf"),
            ]
        );
    }

    #[test]
    fn a_company_needs_siret_name_and_email_only() {
        let values: BTreeMap<String, String> = [
            ("nom", "Boulangerie du Centre"),
            ("siret", "732 829 320 00074"),
            ("courriel", "contact@boulangerie.example"),
            ("motif", "Terrasse"),
            ("salle", "Salle A"),
            ("consentement", "oui"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let ok =
            validate_submission(&form(), &values, &[file("piece", "a.pdf", 1)], today()).unwrap();
        assert_eq!(ok.identity.siret.as_deref(), Some("73282932000074"));
        assert_eq!(ok.subject, "Demande de test — Boulangerie du Centre");
        assert_eq!(
            ok.summary[0],
            ("Demandeur".into(), "Boulangerie du Centre".into())
        );
        assert!(ok.summary.iter().any(|(l, _)| l == "SIRET"));
        assert!(!ok.summary.iter().any(|(l, _)| l == "Adresse"));
    }

    #[test]
    fn a_person_without_address_is_refused_with_every_error() {
        let mut v = person();
        for k in [
            "prenom",
            "adresse",
            "code_postal",
            "ville",
            "courriel",
            "consentement",
        ] {
            v.remove(k);
        }
        v.insert("salle".into(), "Salle C".into());
        v.insert("jour".into(), "20/06/2026".into());
        let errors = validate_submission(&form(), &v, &[], today()).unwrap_err();
        assert_eq!(
            keys(&errors),
            [
                "prenom",
                "adresse",
                "code_postal",
                "ville",
                "courriel",
                "salle",
                "jour",
                "piece",
            ]
        );
        assert_eq!(errors[0].message_fr, "Indiquez votre prénom.");
        assert!(errors.iter().all(|e| e.message_fr.ends_with('.')));
    }

    #[test]
    fn identity_shapes() {
        for (key, value) in [
            ("courriel", "pas-une-adresse"),
            ("courriel", "a@b@c.fr"),
            ("courriel", "a b@c.fr"),
            ("code_postal", "1000"),
            ("code_postal", "0100A"),
            ("telephone", "12"),
            ("siret", "1234"),
            ("siret", "73282932000075"), // Luhn key off by one
            ("civilite", "Docteur"),
            ("nom", "Martin\u{7}"),
            ("prenom", "Ca\nmille"),
            ("adresse", "rue\u{0}"),
        ] {
            let mut v = person();
            v.insert(key.into(), value.into());
            let errors = validate_submission(&form(), &v, &[file("piece", "a.pdf", 1)], today())
                .unwrap_err();
            assert_eq!(keys(&errors), [key], "{key} = {value:?}");
        }
        let mut long_email = person();
        long_email.insert("courriel".into(), format!("{}@example.fr", "a".repeat(250)));
        let errors =
            validate_submission(&form(), &long_email, &[file("piece", "a.pdf", 1)], today())
                .unwrap_err();
        assert_eq!(keys(&errors), ["courriel"]);
    }

    #[test]
    fn values_are_bounded() {
        let piece = [file("piece", "a.pdf", 1)];
        let check = |key: &str, value: String| {
            let mut v = person();
            v.insert(key.into(), value);
            validate_submission(&form(), &v, &piece, today())
        };
        assert!(check("motif", "é".repeat(MAX_TEXT)).is_ok());
        assert!(check("motif", "é".repeat(MAX_TEXT + 1)).is_err());
        assert!(check("detail", "x".repeat(MAX_LONG_TEXT)).is_ok());
        assert!(check("detail", "x".repeat(MAX_LONG_TEXT + 1)).is_err());
        assert!(check("detail", "ligne 1\r\n\tligne 2".into()).is_ok());
        assert!(check("detail", "bip\u{1b}[31m".into()).is_err());
        assert!(check("motif", "   ".into()).is_err()); // required, blank
        assert!(check("jour", "1926-03-02".into()).is_ok());
        assert!(check("jour", "1926-03-01".into()).is_err());
        assert!(check("jour", "2126-03-02".into()).is_ok());
        assert!(check("jour", "2126-03-03".into()).is_err());
        assert!(check("jour", "2026-02-30".into()).is_err());
        assert!(check("salle", " Salle A ".into()).is_ok());
        assert!(check("salle", "salle a".into()).is_err());
    }

    #[test]
    fn files_are_bounded() {
        let v = person();
        let run = |files: &[SubmittedFile]| validate_submission(&form(), &v, files, today());
        assert!(run(&[file("piece", "a.pdf", MAX_FILE_BYTES)]).is_ok());
        let many: Vec<_> = (0..5)
            .map(|i| file("piece", &format!("{i}.pdf"), 10))
            .collect();
        assert!(run(&many).is_ok());
        let too_many: Vec<_> = (0..6)
            .map(|i| file("piece", &format!("{i}.pdf"), 10))
            .collect();
        assert_eq!(keys(&run(&too_many).unwrap_err()), ["piece"]);
        let big = run(&[file("piece", "gros.pdf", MAX_FILE_BYTES + 1)]).unwrap_err();
        assert_eq!(big[0].message_fr, "Le fichier « gros.pdf » dépasse 20 Mo.");
        assert!(run(&[file("piece", "vide.pdf", 0)]).is_err());
        assert!(run(&[file("piece", "  ", 10)]).is_err());
        // A file under a key that is not a file field.
        let stray = run(&[file("piece", "a.pdf", 1), file("motif", "b.pdf", 1)]).unwrap_err();
        assert_eq!(keys(&stray), ["motif"]);
    }

    /// No consent is asked (issue 16, correction 9): whatever an old page posts under its
    /// key, or nothing, the request goes.
    #[test]
    fn consent_values() {
        let piece = [file("piece", "a.pdf", 1)];
        for (value, ok) in [
            ("oui", true),
            ("on", true),
            ("OUI", true),
            ("non", true),
            ("", true),
        ] {
            let mut v = person();
            v.insert(CONSENT_KEY.into(), value.into());
            assert_eq!(
                validate_submission(&form(), &v, &piece, today()).is_ok(),
                ok,
                "{value}"
            );
        }
    }

    #[test]
    fn siret_keys() {
        assert!(is_valid_siret("73282932000074")); // Luhn
        assert!(!is_valid_siret("73282932000075"));
        // La Poste's head office follows Luhn (8 + 8 + 3 + 5 + 6 = 30).
        assert!(is_valid_siret("35600000000048"));
        // Its establishments: digit sum 3 + 5 + 6 + 1 = 15, a multiple of 5, though Luhn
        // gives 1 + 3 + 5 + 6 = 15, not a multiple of 10.
        assert!(is_valid_siret("35600000000001"));
        assert!(!is_valid_siret("35600000000002"));
        assert!(!is_valid_siret("7328293200007"));
        assert!(!is_valid_siret("7328293200007a"));
    }

    #[test]
    fn json_round_trip_and_version() {
        let fields = form().fields;
        let json = fields_to_json(&fields);
        assert!(json.starts_with(r#"{"v":1,"fields":["#), "{json}");
        assert!(json.contains(r#""kind":{"type":"choice","options":["Salle A","Salle B"]}"#));
        assert_eq!(fields_from_json(&json).unwrap(), fields);
        assert_eq!(fields_from_json(r#"{"v":1,"fields":[]}"#).unwrap(), vec![]);
        // Optional members may be left out.
        let minimal = r#"{"v":1,"fields":[{"key":"a","label":"A","kind":{"type":"text"}}]}"#;
        let read = fields_from_json(minimal).unwrap();
        assert!(!read[0].required && read[0].help.is_none());
        assert!(
            fields_from_json(r#"{"v":2,"fields":[]}"#)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        assert!(fields_from_json("").is_err());
        assert!(fields_from_json(r#"[{"key":"a"}]"#).is_err());
        assert!(fields_from_json(r#"{"v":1,"fields":[{"key":"a"}]}"#).is_err());
    }

    #[test]
    fn definitions() {
        assert_eq!(validate_definition(&form()), Ok(()));
        let with = |change: fn(&mut RequestForm)| {
            let mut f = form();
            change(&mut f);
            validate_definition(&f)
        };
        for (why, change) in [
            (
                "reserved key",
                (|f: &mut RequestForm| f.fields[0].key = "nom".into()) as fn(&mut RequestForm),
            ),
            ("consent key", |f| f.fields[0].key = CONSENT_KEY.into()),
            ("duplicate key", |f| f.fields[1].key = "motif".into()),
            ("upper-case key", |f| f.fields[0].key = "Motif".into()),
            ("digit first", |f| f.fields[0].key = "1motif".into()),
            ("accented key", |f| f.fields[0].key = "détail".into()),
            ("long key", |f| f.fields[0].key = "a".repeat(41)),
            ("empty label", |f| f.fields[0].label = "  ".into()),
            ("long label", |f| f.fields[0].label = "a".repeat(201)),
            ("no option", |f| {
                f.fields[2].kind = FieldKind::Choice { options: vec![] }
            }),
            ("blank option", |f| {
                f.fields[2].kind = FieldKind::Choice {
                    options: vec![" ".into()],
                }
            }),
            ("twice the same option", |f| {
                f.fields[2].kind = FieldKind::Choice {
                    options: vec!["A".into(), "A ".into()],
                }
            }),
            ("too many fields", |f| {
                f.fields = (0..31)
                    .map(|i| FormField {
                        key: format!("champ_{i}"),
                        label: format!("Champ {i}"),
                        kind: FieldKind::Text,
                        required: false,
                        help: None,
                    })
                    .collect()
            }),
            ("bad code", |f| f.code = "Avec Espace".into()),
            ("bad doctype", |f| f.doctype_code = Some("É".into())),
            ("empty title", |f| f.title = String::new()),
        ] {
            assert!(with(change).is_err(), "{why}");
        }
        assert_eq!(
            with(|f| f.fields[0].key = "nom".into())
                .unwrap_err()
                .to_string(),
            "formulaire invalide : la clé « nom » est réservée à l'identité du demandeur ou au \
             consentement"
        );
        // Thirty fields are fine.
        assert!(
            with(|f| {
                f.fields = (0..30)
                    .map(|i| FormField {
                        key: format!("champ_{i}"),
                        label: format!("Champ {i}"),
                        kind: FieldKind::Text,
                        required: false,
                        help: None,
                    })
                    .collect()
            })
            .is_ok()
        );
    }
}
