//! Recognising scan-to-email from a copier: a PDF or image attached and no real body.
//!
//! Copiers send a fixed text ("Scanned from a Xerox multifunction device", "Numérisé
//! depuis …", a list of "Device name: …" lines) or nothing at all. A body whose lines
//! are all such boilerplate counts as no body. A message from a copier (its X-Mailer,
//! User-Agent or sender names a copier brand) may have a little more text.

/// Copier brands and words naming a copier, matched as whole words.
const COPIER_WORDS: &[&str] = &[
    "canon",
    "ricoh",
    "xerox",
    "konica",
    "minolta",
    "bizhub",
    "kyocera",
    "ecosys",
    "taskalfa",
    "sharp",
    "brother",
    "lexmark",
    "hp",
    "toshiba",
    "e-studio",
    "estudio",
    "epson",
    "olivetti",
    "utax",
    "develop",
    "nashuatec",
    "gestetner",
    "imagerunner",
    "aficio",
    "workcentre",
    "versalink",
    "altalink",
    "laserjet",
    "officejet",
    "mfp",
    "scanner",
    "copieur",
    "photocopieur",
    "multifonction",
    "numeriseur",
    "scan",
    "scans",
    "scantoemail",
    "scan2mail",
];

/// Words that, when a line contains them, mark it as copier boilerplate.
const BOILERPLATE: &[&str] = &[
    "scanned from",
    "scanned by",
    "scanned image",
    "scanned document",
    "scan to e-mail",
    "scan to email",
    "scan-to-email",
    "numérisé depuis",
    "numérisé par",
    "numérisé avec",
    "document numérisé",
    "numérisation",
    "please open the attached",
    "open the attached",
    "attached document",
    "attached file",
    "attached image",
    "image data",
    "this e-mail was sent from",
    "this email was sent from",
    "sent from a",
    "envoyé depuis",
    "envoyé à partir",
    "veuillez ouvrir",
    "multifunction",
    "multifonction",
    "device name",
    "device model",
    "device location",
    "nom du périphérique",
    "modèle du périphérique",
    "file format",
    "format de fichier",
    "format du fichier",
    "resolution",
    "résolution",
    "number of pages",
    "number of images",
    "nombre de pages",
    "pages :",
    "date and time",
    "date et heure",
    "scan date",
    "file name",
    "nom du fichier",
    "nom de fichier",
];

/// Letters of real text a body may have besides boilerplate and still count as empty.
const MAX_STRAY_LETTERS: usize = 12;
/// With a copier named in the headers, this much text still counts as boilerplate.
const MAX_COPIER_LETTERS: usize = 200;

pub(crate) fn looks_like_scan(
    has_scan_attachment: bool,
    body: &str,
    mailer_and_sender: &[&str],
) -> bool {
    if !has_scan_attachment {
        return false;
    }
    let mut stray_letters = 0;
    let mut total_letters = 0;
    for line in body.lines() {
        let lower = line.trim().to_lowercase();
        let letters = lower.chars().filter(|c| c.is_alphabetic()).count();
        total_letters += letters;
        if letters == 0 || BOILERPLATE.iter().any(|b| lower.contains(b)) || is_key_value(&lower) {
            continue;
        }
        stray_letters += letters;
        if stray_letters > MAX_STRAY_LETTERS && total_letters > MAX_COPIER_LETTERS {
            return false;
        }
    }
    if stray_letters <= MAX_STRAY_LETTERS {
        return true;
    }
    total_letters <= MAX_COPIER_LETTERS && mailer_and_sender.iter().any(|h| names_copier(h))
}

/// "Key: value" lines of copier reports ("Resolution: 300dpi x 300dpi").
fn is_key_value(line: &str) -> bool {
    match line.split_once(':') {
        Some((key, _)) => {
            let key = key.trim();
            !key.is_empty() && key.len() <= 30 && key.split_whitespace().count() <= 4
        }
        None => false,
    }
}

fn names_copier(header: &str) -> bool {
    header
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .flat_map(|w| std::iter::once(w).chain(w.split('-')))
        .any(|w| COPIER_WORDS.contains(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans() {
        assert!(looks_like_scan(true, "", &[]));
        assert!(looks_like_scan(true, "  \r\n ", &[]));
        assert!(looks_like_scan(
            true,
            "Scanned from a Xerox Multifunction Printer.\n\nPlease open the attached document.",
            &[]
        ));
        assert!(looks_like_scan(
            true,
            "Numérisé depuis MFP-Accueil\nDate : 12/01/2026 10:14\nPages : 3\nRésolution : 300 ppp",
            &[]
        ));
        assert!(looks_like_scan(
            true,
            "Document envoyé depuis le copieur de l'accueil",
            &["RICOH MP C3004"]
        ));
        assert!(!looks_like_scan(false, "", &[]));
        assert!(!looks_like_scan(
            true,
            "Bonjour,\nVeuillez trouver ci-joint ma demande de permis de construire.\nCordialement,\nJean Dupont",
            &["Thunderbird"]
        ));
    }

    #[test]
    fn brands_are_whole_words() {
        assert!(names_copier("KONICA MINOLTA bizhub C258"));
        assert!(names_copier("scanner@mairie-exemple.fr"));
        assert!(names_copier("HP Digital Sending"));
        assert!(!names_copier("Thunderbird on php-mailer"));
    }
}
