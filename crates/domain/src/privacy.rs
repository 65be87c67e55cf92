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

fn present(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// "la mairie de Montbazon, 1 place de la Mairie, 37250 Montbazon, mairie@montbazon.fr".
fn controller(name: &str, prefix: &str, address: Option<&str>, email: Option<&str>) -> String {
    let mut out = format!("{prefix} {name}");
    for part in [present(address), present(email)].into_iter().flatten() {
        out.push_str(", ");
        out.push_str(&part.replace('\n', ", "));
    }
    out
}

/// The notice, one paragraph per item of art. 13 (1) and (2).
pub fn form_notice(f: &NoticeFacts<'_>) -> Vec<String> {
    let controller = format!(
        "Responsable du traitement : {}.",
        controller(f.commune_name, "la mairie de", f.address, f.email)
    );
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

/// One processing activity of the record (RGPD art. 30(1)): each entry is (heading, text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub name: &'static str,
    pub entries: Vec<(&'static str, String)>,
}

/// The facts of the commune the record is drawn up for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordFacts<'a> {
    pub commune_name: &'a str,
    pub address: Option<&'a str>,
    pub email: Option<&'a str>,
    pub dpo_contact: Option<&'a str>,
    /// "Demande d'acte d'état civil : 100 an(s), puis conserver", one per document type.
    pub retention: Vec<String>,
    /// The commune's active webhook subscriptions, "label (host)": software that receives
    /// the register's events, so recipients of the data those events carry.
    pub webhooks: Vec<String>,
}

/// Who receives the register's data: the staff, the authority a request is forwarded to,
/// the archives, and the software the commune subscribed to its events (webhooks), which
/// receive an item's number, subject and dates, never its content or files.
fn register_recipients(webhooks: &[String]) -> String {
    let mut text = "agents et élus de la commune chargés du courrier ; autorité compétente à qui \
                    une demande est transmise (L114-2) ; archives départementales lors d'un \
                    versement"
        .to_owned();
    if !webhooks.is_empty() {
        text.push_str(&format!(
            " ; logiciels abonnés aux événements du registre (webhooks : {}), qui reçoivent le \
             numéro, l'objet et les dates des courriers, jamais leur contenu ni leurs fichiers",
            webhooks.join(", ")
        ));
    }
    text
}

/// The record of processing activities (RGPD art. 30(1)) of what parapheur does for the
/// commune: the controller and its DPO, then each activity with its purposes, lawful basis,
/// people and data concerned, recipients, transfers, retention and security measures.
pub fn processing_record(f: &RecordFacts<'_>) -> (Vec<(&'static str, String)>, Vec<Activity>) {
    let header = vec![
        (
            "Responsable du traitement",
            controller(f.commune_name, "Commune de", f.address, f.email),
        ),
        (
            "Délégué à la protection des données",
            present(f.dpo_contact).unwrap_or_else(|| {
                "non renseigné : à indiquer dans l'administration de la commune (article 37 du \
                 RGPD, obligatoire pour une collectivité)"
                    .to_owned()
            }),
        ),
    ];
    let retention = if f.retention.is_empty() {
        "selon les types de documents de la commune".to_owned()
    } else {
        f.retention.join(" ; ")
    };
    let security = "chiffrement des fichiers au repos, une clé par commune (XChaCha20-Poly1305) ; \
                    journal chaîné et vérifiable de chaque modification ; accès par rôle et \
                    confidentialité par courrier ; mots de passe hachés, second facteur pour \
                    l'administration et la signature ; échanges chiffrés (TLS) ; copies \
                    vérifiées (article 32)";
    let no_transfer = "aucun transfert hors de l'Union européenne".to_owned();
    let activities =
        vec![
            Activity {
                name: "Registre du courrier et traitement des demandes du public",
                entries: vec![
                (
                    "Finalités",
                    "enregistrer le courrier reçu et envoyé, instruire les demandes, y répondre \
                     dans les délais, accuser réception ; noter les appels téléphoniques et \
                     rappeler les appels manqués (standard téléphonique)"
                        .to_owned(),
                ),
                (
                    "Base légale",
                    "mission d'intérêt public (article 6, paragraphe 1, point e) et obligations \
                     légales (point c) : code des relations entre le public et l'administration \
                     (L112-3, L112-11, L231-1), code du patrimoine (archives publiques)"
                        .to_owned(),
                ),
                (
                    "Personnes concernées",
                    "expéditeurs et destinataires du courrier : habitants, entreprises, \
                     associations, administrations"
                        .to_owned(),
                ),
                (
                    "Données",
                    "identité, adresses postale et électronique, téléphone, SIRET ; contenu des \
                     courriers et de leurs fichiers, qui peut comporter toute donnée que \
                     l'expéditeur choisit d'y mettre, y compris des données de l'article 9 ; \
                     journal des appels du standard (numéros appelant et appelé, heures, poste, \
                     issue) et messages vocaux"
                        .to_owned(),
                ),
                ("Destinataires", register_recipients(&f.webhooks)),
                ("Transferts", no_transfer.clone()),
                (
                    "Durées de conservation",
                    format!(
                        "{retention} ; journal des appels du standard : {} jours, puis effacé \
                         (un appel manqué reste par son élément « à rappeler », conservé comme \
                         le courrier)",
                        crate::cti::CALL_LOG_DAYS
                    ),
                ),
                ("Sécurité", security.to_owned()),
            ],
            },
            Activity {
                name: "Démarches en ligne et suivi des demandes",
                entries: vec![
                (
                    "Finalités",
                    "recevoir les demandes faites en ligne, en accuser réception, permettre \
                     leur suivi et l'envoi des pièces manquantes"
                        .to_owned(),
                ),
                (
                    "Base légale",
                    "mission d'intérêt public (article 6, paragraphe 1, point e) ; saisine par \
                     voie électronique (L112-8 et suivants) ; aucun consentement n'est demandé"
                        .to_owned(),
                ),
                ("Personnes concernées", "demandeurs".to_owned()),
                (
                    "Données",
                    "identité et coordonnées saisies, réponses au formulaire, fichiers joints, \
                     lien de suivi"
                        .to_owned(),
                ),
                (
                    "Destinataires",
                    "agents et élus de la commune chargés de la demande".to_owned(),
                ),
                ("Transferts", no_transfer.clone()),
                ("Durées de conservation", retention),
                ("Sécurité", security.to_owned()),
            ],
            },
            Activity {
                name: "Comptes des agents et des élus, parapheur et signatures",
                entries: vec![
                (
                    "Finalités",
                    "authentifier les agents et les élus, attribuer les courriers, faire viser et \
                     signer les documents, tracer qui a fait quoi"
                        .to_owned(),
                ),
                (
                    "Base légale",
                    "mission d'intérêt public (article 6, paragraphe 1, point e) et obligation \
                     de sécurité (article 32)"
                        .to_owned(),
                ),
                ("Personnes concernées", "agents et élus de la commune".to_owned()),
                (
                    "Données",
                    "nom, fonction, adresse électronique, rôle, service ; mot de passe haché, \
                     secret du second facteur, sessions ; certificats et clés de signature ; \
                     journal des actions"
                        .to_owned(),
                ),
                (
                    "Destinataires",
                    "administrateurs de la commune ; les signatures sont lisibles de tout \
                     destinataire des documents signés"
                        .to_owned(),
                ),
                ("Transferts", no_transfer),
                (
                    "Durées de conservation",
                    "le temps des fonctions pour le compte ; le journal et les signatures avec \
                     le registre et les documents qu'ils concernent"
                        .to_owned(),
                ),
                ("Sécurité", security.to_owned()),
            ],
            },
        ];
    (header, activities)
}

#[cfg(test)]
mod record_tests {
    use super::*;

    #[test]
    fn the_record_has_every_part_of_article_30() {
        let (header, activities) = processing_record(&RecordFacts {
            commune_name: "Montbazon",
            retention: vec!["Réclamation : 10 an(s), puis conserver".into()],
            ..Default::default()
        });
        assert_eq!(
            header[0],
            ("Responsable du traitement", "Commune de Montbazon".into())
        );
        assert!(header[1].1.starts_with("non renseigné"));
        assert_eq!(activities.len(), 3);
        assert!(!activities[0].entries[4].1.contains("webhooks"));
        let (_, with_webhooks) = processing_record(&RecordFacts {
            commune_name: "Montbazon",
            webhooks: vec!["GRC de la communauté (grc.example.fr)".into()],
            ..Default::default()
        });
        assert!(
            with_webhooks[0].entries[4]
                .1
                .contains("webhooks : GRC de la communauté (grc.example.fr)"),
            "{:?}",
            with_webhooks[0].entries[4]
        );
        for a in &activities {
            let headings: Vec<&str> = a.entries.iter().map(|(h, _)| *h).collect();
            assert_eq!(
                headings,
                [
                    "Finalités",
                    "Base légale",
                    "Personnes concernées",
                    "Données",
                    "Destinataires",
                    "Transferts",
                    "Durées de conservation",
                    "Sécurité"
                ],
                "{}",
                a.name
            );
        }
        assert!(
            activities[0].entries[6]
                .1
                .contains("Réclamation : 10 an(s)")
        );
    }
}
