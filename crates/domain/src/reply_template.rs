//! Reply templates: letters with variables written `{{name}}`, filled from an item.
//!
//! The set of variables is closed and known in advance, so a template is checked when it is
//! saved (`unknown_variables`) and a reply is never sent with a hole or a typo in it
//! (`fill` refuses both). Spaces inside the braces are allowed (`{{ contact.nom }}`); a
//! `{{` that is never closed is ordinary text.

use std::collections::BTreeMap;

/// A variable a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub label_fr: &'static str,
}

/// Every variable a template may use, in the order the editor lists them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "contact.civilite",
        label_fr: "Civilité du correspondant (« Madame », « Monsieur », ou « Madame, Monsieur » si elle est inconnue)",
    },
    Variable {
        name: "contact.prenom",
        label_fr: "Prénom du correspondant",
    },
    Variable {
        name: "contact.nom",
        label_fr: "Nom du correspondant",
    },
    Variable {
        name: "contact.nom_complet",
        label_fr: "Prénom et nom du correspondant, ou nom de l'organisme",
    },
    Variable {
        name: "contact.adresse",
        label_fr: "Adresse postale du correspondant",
    },
    Variable {
        name: "courrier.numero",
        label_fr: "Numéro d'enregistrement du courrier",
    },
    Variable {
        name: "courrier.objet",
        label_fr: "Objet du courrier",
    },
    Variable {
        name: "courrier.date_arrivee",
        label_fr: "Date d'arrivée du courrier",
    },
    Variable {
        name: "courrier.date_limite",
        label_fr: "Date limite de réponse",
    },
    Variable {
        name: "commune.nom",
        label_fr: "Nom de la commune",
    },
    Variable {
        name: "commune.adresse",
        label_fr: "Adresse postale de la mairie",
    },
    Variable {
        name: "agent.nom",
        label_fr: "Nom de l'agent qui signe",
    },
    Variable {
        name: "agent.fonction",
        label_fr: "Fonction de l'agent qui signe",
    },
    Variable {
        name: "date_du_jour",
        label_fr: "Date du jour",
    },
];

/// Whether `name` is one of `VARIABLES`.
pub fn is_known(name: &str) -> bool {
    VARIABLES.iter().any(|v| v.name == name)
}

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.unknown, .missing))]
pub struct TemplateError {
    /// Names used by the template that are not variables (typos).
    pub unknown: Vec<String>,
    /// Variables used by the template that were given no value.
    pub missing: Vec<String>,
}

fn describe(unknown: &[String], missing: &[String]) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("{{{{{n}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    match unknown.len() {
        0 => {}
        1 => parts.push(format!("variable inconnue : {}", list(unknown))),
        _ => parts.push(format!("variables inconnues : {}", list(unknown))),
    }
    match missing.len() {
        0 => {}
        1 => parts.push(format!("valeur manquante pour {}", list(missing))),
        _ => parts.push(format!("valeurs manquantes pour {}", list(missing))),
    }
    format!("modèle de réponse incomplet : {}", parts.join(" ; "))
}

/// The variable names a template uses, each once, in order of first use.
pub fn used_variables(template: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for piece in pieces(template) {
        if let Piece::Variable(name) = piece
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
    }
    names
}

/// The names a template uses that are not variables, each once, in order of first use.
pub fn unknown_variables(template: &str) -> Vec<String> {
    used_variables(template)
        .into_iter()
        .filter(|n| !is_known(n))
        .collect()
}

/// The template with every variable replaced by its value.
///
/// Refuses a template that uses an unknown name or a variable without a value, and lists
/// them all, so one correction fixes everything. An empty value is a value (a contact
/// without a first name).
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let unknown = unknown_variables(template);
    let missing: Vec<String> = used_variables(template)
        .into_iter()
        .filter(|n| is_known(n) && !values.contains_key(n))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(TemplateError { unknown, missing });
    }
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Variable(name) => {
                out.push_str(values.get(name).map(String::as_str).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

/// A salutation paragraph: one short line ending with a comma ("Madame,", "Monsieur le
/// Président,", "Madame, Monsieur,").
pub fn is_salutation(paragraph: &str) -> bool {
    let p = paragraph.trim();
    !p.contains('\n') && p.ends_with(',') && p.chars().count() <= 60
}

/// The closing formula of a French letter ("Je vous prie d'agréer…", "Veuillez agréer…").
pub fn is_closing_formula(paragraph: &str) -> bool {
    let p = paragraph.trim().to_lowercase();
    (p.starts_with("je vous prie")
        || p.starts_with("veuillez")
        || p.starts_with("nous vous prions"))
        && (p.contains("agréer") || p.contains("recevoir") || p.contains("croire"))
}

/// The body of a letter out of a filled reply template. A reply template is written as a
/// whole email (address, date, subject, salutation, text, closing formula, signature);
/// a letter's layout prints the address, date, subject and signature block itself, so
/// only the salutation through the closing formula is kept. A template without a
/// salutation is kept whole.
pub fn letter_body(filled: &str) -> String {
    let text = filled.replace("\r\n", "\n");
    let paragraphs: Vec<&str> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let Some(start) = paragraphs.iter().position(|p| is_salutation(p)) else {
        return paragraphs.join("\n\n");
    };
    let end = paragraphs
        .iter()
        .rposition(|p| is_closing_formula(p))
        .filter(|&e| e >= start)
        .map_or(paragraphs.len(), |e| e + 1);
    paragraphs[start..end].join("\n\n")
}

enum Piece<'a> {
    Text(&'a str),
    /// The trimmed name between the braces.
    Variable(&'a str),
}

/// Splits a template into text and variables. A variable is the shortest `{{…}}`: the last
/// `{{` before the first `}}`, so in `{{ {{a}}` the first braces are text.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(close) = rest.find("}}") {
        let Some(open) = rest[..close].rfind("{{") else {
            // "}}" with no opening: text, and keep looking after it.
            out.push(Piece::Text(&rest[..close + 2]));
            rest = &rest[close + 2..];
            continue;
        };
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        out.push(Piece::Variable(rest[open + 2..close].trim()));
        rest = &rest[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Three reply templates a new commune starts with: `(code, name, subject, body)`.
pub fn demo_templates() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        (
            "reponse-favorable",
            "Réponse favorable",
            "Votre demande n° {{courrier.numero}} : réponse favorable",
            "{{contact.nom_complet}}
{{contact.adresse}}

{{commune.nom}}, le {{date_du_jour}}

Objet : {{courrier.objet}}
Référence : {{courrier.numero}}

{{contact.civilite}},

Par votre demande reçue en mairie le {{courrier.date_arrivee}}, vous avez sollicité la commune au sujet de : {{courrier.objet}}.

J'ai le plaisir de vous informer qu'une suite favorable est réservée à votre demande.

Nos services restent à votre disposition pour tout renseignement complémentaire ; merci de rappeler la référence ci-dessus dans toute correspondance.

Je vous prie d'agréer, {{contact.civilite}}, l'expression de mes salutations distinguées.

{{agent.nom}}
{{agent.fonction}}

Mairie
{{commune.adresse}}
",
        ),
        (
            "demande-pieces",
            "Demande de pièces complémentaires",
            "Votre demande n° {{courrier.numero}} : pièces complémentaires",
            "{{contact.nom_complet}}
{{contact.adresse}}

{{commune.nom}}, le {{date_du_jour}}

Objet : {{courrier.objet}}
Référence : {{courrier.numero}}

{{contact.civilite}},

Votre demande reçue en mairie le {{courrier.date_arrivee}} a retenu toute notre attention. Elle est toutefois incomplète : afin de pouvoir l'instruire, je vous remercie de bien vouloir nous faire parvenir les pièces suivantes :

– [pièce à préciser]
– [pièce à préciser]

Conformément à l'article L114-5 du code des relations entre le public et l'administration, le délai au terme duquel votre demande pourrait faire l'objet d'une décision implicite ne court pas tant que ces pièces ne nous sont pas parvenues.

Je vous prie d'agréer, {{contact.civilite}}, l'expression de mes salutations distinguées.

{{agent.nom}}
{{agent.fonction}}

Mairie
{{commune.adresse}}
",
        ),
        (
            "reponse-attente",
            "Réponse d'attente",
            "Votre demande n° {{courrier.numero}} est en cours de traitement",
            "{{contact.nom_complet}}
{{contact.adresse}}

{{commune.nom}}, le {{date_du_jour}}

Objet : {{courrier.objet}}
Référence : {{courrier.numero}}

{{contact.civilite}},

Nous avons bien reçu votre demande le {{courrier.date_arrivee}}. Elle est en cours d'examen par nos services, qui s'efforceront de vous apporter une réponse au plus tard le {{courrier.date_limite}}.

Nous ne manquerons pas de revenir vers vous si des informations complémentaires s'avéraient nécessaires.

Je vous prie d'agréer, {{contact.civilite}}, l'expression de mes salutations distinguées.

{{agent.nom}}
{{agent.fonction}}

Mairie
{{commune.adresse}}
",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn all_values() -> BTreeMap<String, String> {
        VARIABLES
            .iter()
            .map(|v| (v.name.to_owned(), format!("<{}>", v.name)))
            .collect()
    }

    #[test]
    fn fills_variables_with_or_without_spaces() {
        let v = values(&[("contact.nom", "Durand"), ("contact.civilite", "Madame")]);
        assert_eq!(
            fill(
                "{{contact.civilite}} {{ contact.nom }}, {{contact.nom}}.",
                &v
            )
            .unwrap(),
            "Madame Durand, Durand."
        );
        // A value is inserted as is, never read as a template itself.
        let v = values(&[("contact.nom", "{{date_du_jour}}")]);
        assert_eq!(fill("{{contact.nom}}", &v).unwrap(), "{{date_du_jour}}");
    }

    #[test]
    fn literal_braces() {
        let v = values(&[("contact.nom", "Durand")]);
        for (template, expected) in [
            ("sans variable", "sans variable"),
            ("", ""),
            ("ouvert {{ jamais fermé", "ouvert {{ jamais fermé"),
            ("{{contact.nom}} puis {{", "Durand puis {{"),
            ("fermé }} seul", "fermé }} seul"),
            ("{{ {{contact.nom}}", "{{ Durand"),
            ("{contact.nom}", "{contact.nom}"),
            ("}}{{contact.nom}}{{", "}}Durand{{"),
            ("{{{contact.nom}}}", "{Durand}"),
        ] {
            assert_eq!(fill(template, &v).as_deref(), Ok(expected), "{template}");
        }
    }

    #[test]
    fn unknown_and_missing_are_all_listed() {
        let template = "{{contact.nom}} {{contact.nomm}} {{}} {{date_du_jour}} {{contact.nomm}}";
        assert_eq!(unknown_variables(template), ["contact.nomm", ""]);
        let err = fill(template, &values(&[])).unwrap_err();
        assert_eq!(err.unknown, ["contact.nomm", ""]);
        assert_eq!(err.missing, ["contact.nom", "date_du_jour"]);
        assert_eq!(
            err.to_string(),
            "modèle de réponse incomplet : variables inconnues : {{contact.nomm}}, {{}} ; \
             valeurs manquantes pour {{contact.nom}}, {{date_du_jour}}"
        );
        let one = fill("{{agent.nom}}", &values(&[])).unwrap_err();
        assert_eq!(
            one.to_string(),
            "modèle de réponse incomplet : valeur manquante pour {{agent.nom}}"
        );
        // An empty value is a value.
        assert_eq!(
            fill("[{{contact.prenom}}]", &values(&[("contact.prenom", "")])).unwrap(),
            "[]"
        );
    }

    #[test]
    fn variable_names_are_unique_and_labelled() {
        let mut names: Vec<_> = VARIABLES.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), 14);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len());
        assert!(VARIABLES.iter().all(|v| !v.label_fr.is_empty()));
    }

    #[test]
    fn demo_templates_are_valid_and_fill() {
        let templates = demo_templates();
        assert_eq!(templates.len(), 3);
        for (code, name, subject, body) in templates {
            assert!(crate::doctype::is_valid_code(code), "{code}");
            assert!(!name.is_empty());
            assert_eq!(unknown_variables(subject), Vec::<String>::new(), "{code}");
            assert_eq!(unknown_variables(body), Vec::<String>::new(), "{code}");
            let filled = fill(body, &all_values()).unwrap();
            assert!(!filled.contains("{{"), "{code}");
            assert!(filled.contains("<courrier.numero>"), "{code}");
            assert!(fill(subject, &all_values()).is_ok());
        }
    }

    #[test]
    fn a_letter_keeps_the_salutation_through_the_closing_formula() {
        for (code, _, _, body) in demo_templates() {
            let letter = letter_body(&fill(body, &all_values()).unwrap());
            assert!(
                letter.starts_with("<contact.civilite>,"),
                "{code}: {letter}"
            );
            assert!(
                is_closing_formula(letter.rsplit("\n\n").next().unwrap()),
                "{code}: {letter}"
            );
            assert!(!letter.contains("<agent.nom>"), "{code}: signature dropped");
            assert!(!letter.contains("Objet :"), "{code}: subject line dropped");
        }
        // No salutation: the text is kept whole; a closing formula ends it.
        assert_eq!(letter_body("Texte.\n\nAutre."), "Texte.\n\nAutre.");
        assert_eq!(
            letter_body(
                "En-tête\n\nMadame,\n\nCorps.\n\nVeuillez agréer, Madame, mes salutations.\n\nLe maire"
            ),
            "Madame,\n\nCorps.\n\nVeuillez agréer, Madame, mes salutations."
        );
        assert!(!is_salutation(
            "Une phrase longue qui se termine par une virgule mais fait plus de soixante caractères,"
        ));
    }
}
