//! What a public form tells the person about the personal data it collects (RGPD art. 13).
//!
//! A request to the mairie is processed because the mairie has a task to carry out in the
//! public interest (art. 6(1)(e): answering the public's requests, CRPA L112-1 ff.), not
//! because the person consents: a consent box would be misleading (a consent can be
//! withdrawn, the request's processing and its archiving cannot) and is not asked.

/// The facts the notice is made of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoticeFacts<'a> {
    pub commune_name: &'a str,
    pub address: Option<&'a str>,
    pub email: Option<&'a str>,
    /// The data protection officer's contact (art. 13(1)(b)), a commune setting.
    pub dpo_contact: Option<&'a str>,
    /// The form's title: what the data is for.
    pub purpose: &'a str,
    /// The form's own words on its data, if any.
    pub details: Option<&'a str>,
}

/// The notice, one paragraph per item of art. 13 (1) and (2).
pub fn form_notice(f: &NoticeFacts<'_>) -> Vec<String> {
    let present = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut controller = format!(
        "Responsable du traitement : la mairie de {}",
        f.commune_name
    );
    for part in [present(f.address), present(f.email)].into_iter().flatten() {
        controller.push_str(", ");
        controller.push_str(&part.replace('\n', ", "));
    }
    controller.push('.');
    let dpo = match present(f.dpo_contact) {
        Some(contact) => format!("Délégué à la protection des données : {contact}."),
        None => "Délégué à la protection des données : ses coordonnées vous sont données par \
                 la mairie sur simple demande."
            .to_owned(),
    };
    let mut out = vec![
        controller,
        dpo,
        format!(
            "Finalité : traiter votre demande « {} » et vous répondre. Base légale : l'exécution \
             d'une mission d'intérêt public dont la mairie est investie (article 6, paragraphe 1, \
             point e, du RGPD ; articles L112-1 et suivants du code des relations entre le public \
             et l'administration). Votre consentement n'est pas demandé.",
            f.purpose.trim()
        ),
    ];
    if let Some(details) = present(f.details) {
        out.push(details);
    }
    out.extend([
        "Destinataires : les agents et les élus de la mairie chargés de votre demande et, si elle \
         relève d'une autre administration, celle à qui elle est transmise (article L114-2 du \
         même code)."
            .to_owned(),
        "Durée de conservation : le temps de traiter la demande, puis selon les règles \
         d'archivage des communes (code du patrimoine) ; certains documents sont conservés \
         définitivement aux archives."
            .to_owned(),
        "Vos droits : accès, rectification, limitation, opposition, et effacement lorsque les \
         règles d'archivage le permettent (articles 15 à 21 du RGPD), auprès de la mairie ou de \
         son délégué. Vous pouvez aussi adresser une réclamation à la CNIL (www.cnil.fr)."
            .to_owned(),
        "Les champs obligatoires sont nécessaires pour traiter votre demande : sans eux, elle ne \
         peut pas être instruite."
            .to_owned(),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_the_lawful_basis_the_dpo_and_the_rights() {
        let notice = form_notice(&NoticeFacts {
            commune_name: "Montbazon",
            address: Some("1 place de la Mairie\n37250 Montbazon"),
            email: Some("mairie@montbazon.fr"),
            dpo_contact: Some("Centre de gestion d'Indre-et-Loire, dpo@cdg37.fr"),
            purpose: "Demande de salle",
            details: None,
        });
        assert_eq!(
            notice[0],
            "Responsable du traitement : la mairie de Montbazon, 1 place de la Mairie, 37250 \
             Montbazon, mairie@montbazon.fr."
        );
        assert_eq!(
            notice[1],
            "Délégué à la protection des données : Centre de gestion d'Indre-et-Loire, \
             dpo@cdg37.fr."
        );
        let text = notice.join("\n");
        for mention in [
            "« Demande de salle »",
            "article 6, paragraphe 1, point e, du RGPD",
            "Votre consentement n'est pas demandé.",
            "articles 15 à 21 du RGPD",
            "CNIL",
            "code du patrimoine",
        ] {
            assert!(text.contains(mention), "{mention}");
        }
        assert!(!text.contains("J'accepte"));
        let without = form_notice(&NoticeFacts {
            commune_name: "Montbazon",
            purpose: "Demande",
            details: Some("Le plan est transmis au service des routes du département."),
            ..Default::default()
        });
        assert!(without[1].contains("sur simple demande"));
        assert_eq!(
            without[3],
            "Le plan est transmis au service des routes du département."
        );
    }
}
