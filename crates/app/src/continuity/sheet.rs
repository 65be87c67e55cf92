//! The recovery sheet: one printed page for the mairie's safe, with what a restore needs
//! when the box is gone (the master key, the copies' repository) and the steps, with
//! parapheur and with the stock restic alone.

use chrono::{DateTime, Utc};
use parapheur_domain::Commune;
use parapheur_render::{LetterDocument, LetterSection};

use crate::config::MasterKeySource;
use crate::{AppError, Config};

/// The sheet of the installation `config`, holding `communes`, as a PDF.
pub fn recovery_sheet_pdf(
    config: &Config,
    communes: &[Commune],
    now: DateTime<Utc>,
) -> Result<Vec<u8>, AppError> {
    let document = recovery_sheet(config, communes, now)?;
    parapheur_render::letter_pdf(&document)
        .map_err(|e| AppError::internal(format!("fiche de reprise : {e}")))
}

fn recovery_sheet(
    config: &Config,
    communes: &[Commune],
    now: DateTime<Utc>,
) -> Result<LetterDocument, AppError> {
    let master = config.load_master_key()?;
    let key = master.to_base64();
    let restic_password = hex::encode(master.derive(super::RESTIC_PURPOSE));
    let repository = config.backup.as_ref().map(|b| b.repository.clone());
    let repository_text = repository.clone().unwrap_or_else(|| "DÉPÔT".into());
    let key_place = match &config.master_key {
        MasterKeySource::File(path) => format!("le fichier {} de ce serveur", path.display()),
        MasterKeySource::Inline(_) => "la variable PARAPHEUR_MASTER_KEY de ce serveur".into(),
    };
    let names = communes
        .iter()
        .map(|c| format!("{} ({})", c.name, c.insee))
        .collect::<Vec<_>>()
        .join(", ");
    let commune_name = match communes {
        [one] => format!("Commune de {}", one.name),
        _ => "Registre du courrier".to_owned(),
    };
    let mut what_to_keep = vec![
        format!("La clé maître ci-dessous (elle est aussi dans {key_place})."),
        match &repository {
            Some(address) => format!("L'adresse du dépôt des copies hors site : {address}."),
            None => "Aucun dépôt de copies hors site n'est configuré ([backup] dans \
                     parapheur.toml) : sans copie, la perte du serveur fait perdre le registre. \
                     Configurez-le, puis refaites cette fiche."
                .into(),
        },
    ];
    if let Some(file) = config
        .backup
        .as_ref()
        .and_then(|b| b.credentials_file.as_ref())
    {
        what_to_keep.push(format!(
            "Les identifiants d'accès au dépôt (fichier {} : AWS_ACCESS_KEY_ID et \
             AWS_SECRET_ACCESS_KEY), notés à part auprès du prestataire.",
            file.display()
        ));
    }
    what_to_keep.push(
        "Cette fiche, au coffre de la mairie : avec le dépôt, elle suffit à tout reconstruire ; \
         le dépôt seul ne révèle rien."
            .to_owned(),
    );
    let sections = vec![
        LetterSection {
            heading: Some("Ce qu'il faut garder".into()),
            paragraphs: vec![format!(
                "Registre : {names}. Si le serveur de la mairie est perdu (panne, vol, \
                 incendie), le registre, ses fichiers et son journal se reconstruisent sur une \
                 autre machine à partir des copies hors site et de la clé maître."
            )],
            list: what_to_keep,
        },
        LetterSection {
            heading: Some("Clé maître".into()),
            paragraphs: vec![
                key.clone(),
                format!(
                    "Empreinte de la clé : {} (pour la reconnaître, sans la révéler).",
                    master.fingerprint()
                ),
            ],
            list: Vec::new(),
        },
        LetterSection {
            heading: Some("Restaurer avec parapheur".into()),
            paragraphs: vec![
                "Sur la nouvelle machine, installer parapheur et restic (paquet Debian « restic »), \
                 puis :"
                    .into(),
            ],
            list: vec![
                "Recopier la clé maître ci-dessus dans un fichier cle.txt.".into(),
                format!(
                    "parapheur restore --data /var/lib/parapheur --from {repository_text} \
                     --master-key cle.txt"
                ),
                "La commande vérifie le journal et les fichiers : elle doit afficher « Journal : \
                 intact » et « Fichiers et numérotation : intacts »."
                    .into(),
                "parapheur serve --data /var/lib/parapheur, puis se connecter comme avant.".into(),
                "Supprimer cle.txt et ranger cette fiche au coffre.".into(),
            ],
        },
        LetterSection {
            heading: Some("Restaurer sans parapheur (restic seul)".into()),
            paragraphs: vec![
                "Mot de passe du dépôt pour restic (dérivé de la clé maître) :".into(),
                restic_password.clone(),
            ],
            list: vec![
                format!("export RESTIC_PASSWORD={restic_password}"),
                format!("restic -r {repository_text} snapshots"),
                format!("restic -r {repository_text} restore latest --target /srv/reprise"),
                "On y trouve la base SQLite (parapheur.sqlite), les fichiers chiffrés et les \
                 ancres du journal ; parapheur les relit avec la clé maître."
                    .into(),
            ],
        },
    ];
    Ok(LetterDocument {
        commune_name,
        letterhead: Vec::new(),
        logo: None,
        place_and_date: format!("Édité le {}", now.format("%d/%m/%Y")),
        recipient: Vec::new(),
        reference: None,
        subject: "Fiche de reprise après sinistre du registre du courrier".into(),
        title: Some("Confidentiel : à garder au coffre de la mairie".into()),
        opening: None,
        sections,
        closing: None,
        signature: Vec::new(),
        footer: Some(format!(
            "Fiche de reprise — clé {} — à refaire si la clé ou le dépôt changent.",
            master.fingerprint()
        )),
        signature_zone: false,
        generated_at: now,
    })
}
