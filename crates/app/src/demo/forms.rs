//! The forms the demo commune publishes: three a small commune can publish as they are.

use parapheur_domain::request_form::{FieldKind, FormField, RequestForm};

/// Three forms a small commune can publish as they are. Their document types come from
/// `parapheur_domain::doctype::default_set`: `occupation-domaine-public` (silence vaut rejet, 2 months),
/// `courrier` (no implicit decision, no acknowledgement: a report asks for no decision) and
/// `demande-administrative` (silence vaut rejet, 2 months: L231-4 2°).
pub fn demo_forms() -> Vec<RequestForm> {
    let field =
        |key: &str, label: &str, kind: FieldKind, required: bool, help: Option<&str>| FormField {
            key: key.to_owned(),
            label: label.to_owned(),
            kind,
            required,
            help: help.map(str::to_owned),
        };
    let choice = |options: &[&str]| FieldKind::Choice {
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    };
    // What each form adds to the information notice (RGPD art. 13); nothing is consented to.
    let consent = "Les informations de ce formulaire ne sont transmises qu'aux services et \
                   organismes concernés par la demande.";
    vec![
        RequestForm {
            code: "occupation-domaine-public".into(),
            title: "Demande d'autorisation d'occupation du domaine public".into(),
            intro: "Terrasse, étalage, échafaudage, benne, stationnement d'un véhicule de \
                    déménagement : toute occupation du trottoir ou de la chaussée demande une \
                    autorisation préalable du maire. Déposez votre demande au moins trois \
                    semaines avant le début de l'occupation."
                .into(),
            doctype_code: Some("occupation-domaine-public".into()),
            fields: vec![
                field(
                    "nature",
                    "Nature de l'occupation",
                    choice(&[
                        "Terrasse ou étalage",
                        "Échafaudage",
                        "Benne ou dépôt de matériaux",
                        "Véhicule de déménagement ou de livraison",
                        "Autre",
                    ]),
                    true,
                    None,
                ),
                field(
                    "lieu",
                    "Adresse de l'occupation",
                    FieldKind::Text,
                    true,
                    Some("Numéro et nom de la rue, ou repère précis."),
                ),
                field("date_debut", "Date de début", FieldKind::Date, true, None),
                field("date_fin", "Date de fin", FieldKind::Date, true, None),
                field(
                    "surface",
                    "Surface ou longueur occupée",
                    FieldKind::Text,
                    false,
                    Some("Par exemple : 12 m² ou 8 mètres linéaires."),
                ),
                field(
                    "description",
                    "Description de l'occupation",
                    FieldKind::LongText,
                    true,
                    Some("Matériel installé, horaires, passage laissé aux piétons."),
                ),
                field(
                    "plan",
                    "Plan ou croquis de l'emprise",
                    FieldKind::File,
                    false,
                    Some("PDF ou photo, 20 Mo au plus par fichier."),
                ),
            ],
            consent: consent.into(),
        },
        RequestForm {
            code: "signalement-voirie".into(),
            title: "Signalement sur la voirie".into(),
            intro: "Nid-de-poule, éclairage en panne, dépôt sauvage, panneau abîmé : \
                    signalez-le aux services techniques. En cas de danger immédiat, appelez \
                    le 112."
                .into(),
            doctype_code: Some("courrier".into()),
            fields: vec![
                field(
                    "nature",
                    "Nature du problème",
                    choice(&[
                        "Chaussée ou trottoir dégradé",
                        "Éclairage public",
                        "Dépôt sauvage",
                        "Signalisation",
                        "Espaces verts",
                        "Autre",
                    ]),
                    true,
                    None,
                ),
                field(
                    "lieu",
                    "Lieu",
                    FieldKind::Text,
                    true,
                    Some("Adresse, ou repère précis (devant l'école, au carrefour de…)."),
                ),
                field(
                    "date_constat",
                    "Date du constat",
                    FieldKind::Date,
                    false,
                    None,
                ),
                field(
                    "description",
                    "Description",
                    FieldKind::LongText,
                    true,
                    None,
                ),
                field("photo", "Photo", FieldKind::File, false, None),
            ],
            consent: consent.into(),
        },
        RequestForm {
            code: "reservation-salle".into(),
            title: "Demande de réservation de salle communale".into(),
            intro: "Les salles communales sont prêtées ou louées aux habitants et aux \
                    associations. La réservation n'est acquise qu'après confirmation écrite \
                    de la mairie et dépôt de l'attestation d'assurance."
                .into(),
            doctype_code: Some("demande-administrative".into()),
            fields: vec![
                field(
                    "salle",
                    "Salle souhaitée",
                    choice(&[
                        "Salle des fêtes",
                        "Salle polyvalente",
                        "Salle de réunion de la mairie",
                    ]),
                    true,
                    None,
                ),
                field(
                    "date_souhaitee",
                    "Date souhaitée",
                    FieldKind::Date,
                    true,
                    None,
                ),
                field(
                    "horaires",
                    "Horaires",
                    FieldKind::Text,
                    true,
                    Some("Par exemple : de 14 h à 23 h, rangement compris."),
                ),
                field(
                    "evenement",
                    "Nature de l'événement",
                    choice(&[
                        "Fête familiale",
                        "Réunion ou assemblée d'association",
                        "Activité culturelle ou sportive",
                        "Autre",
                    ]),
                    true,
                    None,
                ),
                field(
                    "participants",
                    "Nombre de personnes attendues",
                    FieldKind::Text,
                    true,
                    None,
                ),
                field(
                    "assurance",
                    "Attestation d'assurance responsabilité civile",
                    FieldKind::File,
                    false,
                    Some("Elle peut être déposée plus tard, avant la remise des clés."),
                ),
                field("message", "Précisions", FieldKind::LongText, false, None),
            ],
            consent: consent.into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use parapheur_domain::delay::SilenceRule;
    use parapheur_domain::request_form::{fields_from_json, fields_to_json, validate_definition};

    #[test]
    fn demo_forms_are_valid_and_use_default_document_types() {
        let doctypes = parapheur_domain::doctype::default_set();
        let forms = demo_forms();
        assert_eq!(forms.len(), 3);
        for form in &forms {
            assert_eq!(validate_definition(form), Ok(()), "{}", form.code);
            let code = form.doctype_code.as_deref().unwrap();
            assert!(doctypes.iter().any(|t| t.code == code), "{code}");
            assert_eq!(
                fields_from_json(&fields_to_json(&form.fields)).unwrap(),
                form.fields
            );
        }
        let silence = |code: &str| {
            doctypes
                .iter()
                .find(|t| t.code == code)
                .map(|t| t.silence)
                .unwrap()
        };
        assert_eq!(silence("occupation-domaine-public"), SilenceRule::Rejection);
        assert_eq!(silence("courrier"), SilenceRule::None);
        assert_eq!(silence("demande-administrative"), SilenceRule::Rejection);
    }
}
