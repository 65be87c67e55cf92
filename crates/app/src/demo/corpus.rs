//! What the demo's mail is made of: names, streets, organisations, subjects, and a small
//! PDF writer for the scanned letters, drawn by a seeded generator so every demo is the same.

/// xorshift64*: deterministic, so every demo is the same and tests can rely on it.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// First names with the civility that goes with them: a letter to Jean opens "Monsieur,".
pub(super) const FIRST_NAMES: &[(&str, &str)] = &[
    ("Marie", "Madame"),
    ("Jean", "Monsieur"),
    ("Nathalie", "Madame"),
    ("Philippe", "Monsieur"),
    ("Isabelle", "Madame"),
    ("Michel", "Monsieur"),
    ("Sophie", "Madame"),
    ("Alain", "Monsieur"),
    ("Catherine", "Madame"),
    ("Patrick", "Monsieur"),
    ("Sandrine", "Madame"),
    ("Éric", "Monsieur"),
    ("Valérie", "Madame"),
    ("Thierry", "Monsieur"),
    ("Céline", "Madame"),
    ("Stéphane", "Monsieur"),
    ("Aurélie", "Madame"),
    ("Julien", "Monsieur"),
    ("Hélène", "Madame"),
    ("Nicolas", "Monsieur"),
    ("Chloé", "Madame"),
    ("Lucas", "Monsieur"),
    ("Inès", "Madame"),
    ("Mohamed", "Monsieur"),
    ("Léa", "Madame"),
    ("Hugo", "Monsieur"),
    ("Françoise", "Madame"),
    ("Gérard", "Monsieur"),
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Chevalier",
    "Boyer",
    "Gauthier",
    "Perrin",
    "Renard",
];

pub(super) const STREETS: &[&str] = &[
    "rue Nationale",
    "rue de la Mairie",
    "avenue de la Gare",
    "rue des Écoles",
    "chemin des Vignes",
    "rue du Moulin",
    "allée des Tilleuls",
    "route de Tours",
    "rue de l'Indre",
    "place du Marché",
    "rue Émile Zola",
    "impasse des Lilas",
    "rue de la Forteresse",
    "rue Jean Moulin",
];

pub(super) const ORGANISATIONS: &[(&str, Option<&str>)] = &[
    (
        "Préfecture d'Indre-et-Loire",
        Some("courrier@indre-et-loire.gouv.demo"),
    ),
    (
        "Conseil départemental d'Indre-et-Loire",
        Some("contact@departement-touraine.demo"),
    ),
    (
        "Communauté de communes Touraine Vallée de l'Indre",
        Some("accueil@tvi.demo"),
    ),
    ("Enedis Centre-Val de Loire", None),
    ("SAUR — service des eaux", Some("clientele@saur.demo")),
    (
        "École élémentaire Jean Moulin",
        Some("ecole.montbazon@ac-orleans-tours.demo"),
    ),
    (
        "Association sportive montbazonnaise",
        Some("asm.football@asso.demo"),
    ),
    ("Comité des fêtes", Some("comitedesfetes@asso.demo")),
    ("La Poste — agence de Montbazon", None),
    ("Trésorerie de Joué-lès-Tours", Some("sgc.joue@dgfip.demo")),
    ("SDIS 37", None),
    ("Gendarmerie de Montbazon", None),
];

/// (document type code, subjects) — what a small mairie actually receives.
pub(super) const SUBJECTS: &[(&str, &[&str])] = &[
    (
        "urbanisme",
        &[
            "Déclaration préalable : pose de panneaux photovoltaïques",
            "Certificat d'urbanisme opérationnel, parcelle AB 112",
            "Déclaration préalable : clôture et portail",
            "Permis de construire : extension d'une maison individuelle",
            "Déclaration préalable : ravalement de façade",
        ],
    ),
    (
        "etat-civil",
        &[
            "Demande de copie intégrale d'acte de naissance",
            "Demande d'extrait d'acte de mariage",
            "Demande d'acte de décès",
            "Dossier de mariage : pièces justificatives",
        ],
    ),
    (
        "reclamation",
        &[
            "Éclairage public en panne rue des Tilleuls",
            "Nuisances sonores d'un bar le week-end",
            "Dépôt sauvage de déchets chemin des Vignes",
            "Stationnement gênant devant l'école",
            "Nid-de-poule dangereux route de Tours",
        ],
    ),
    (
        "demande-administrative",
        &[
            "Demande d'inscription sur la liste électorale",
            "Demande d'autorisation de vente au déballage",
            "Demande de concession au cimetière",
            "Demande d'attestation d'accueil",
        ],
    ),
    (
        "demande-svr",
        &[
            "Demande de dérogation scolaire",
            "Demande d'emplacement réservé au marché",
            "Demande de remboursement de frais de cantine",
        ],
    ),
    (
        "recours-gracieux",
        &[
            "Recours gracieux contre le refus de déclaration préalable",
            "Recours gracieux : tarification du périscolaire",
        ],
    ),
    (
        "occupation-domaine-public",
        &[
            "Demande d'autorisation de terrasse",
            "Demande de permis de stationnement pour benne",
            "Demande d'échafaudage sur trottoir",
        ],
    ),
    (
        "acces-documents",
        &[
            "Demande de communication du compte rendu du conseil municipal",
            "Demande de copie du budget primitif",
            "Demande de communication d'un arrêté de voirie",
        ],
    ),
    (
        "subvention",
        &[
            "Demande de subvention de fonctionnement",
            "Demande de subvention exceptionnelle pour un tournoi",
        ],
    ),
    (
        "invitation",
        &[
            "Invitation à l'assemblée générale",
            "Invitation à l'inauguration de la médiathèque intercommunale",
            "Invitation à la cérémonie du 11 novembre",
        ],
    ),
    (
        "facture",
        &[
            "Facture de maintenance de l'éclairage public",
            "Facture de fournitures scolaires",
        ],
    ),
    (
        "courrier",
        &[
            "Information sur les travaux du réseau d'eau",
            "Remerciements pour l'accueil de la brocante",
            "Signalement d'un arbre menaçant de tomber",
            "Proposition commerciale : photocopieurs",
        ],
    ),
];

pub(super) const PHONE_SUBJECTS: &[&str] = &[
    "Signalement d'un chien errant",
    "Question sur les horaires de la déchetterie",
    "Demande de rendez-vous avec le maire",
    "Fuite d'eau sur la voie publique",
    "Question sur l'inscription à la cantine",
    "Réservation de la salle des fêtes",
];

/// A one-page PDF letter with the given lines (Helvetica, WinAnsi): demo scans to look at.
pub(super) fn letter_pdf(lines: &[String]) -> Vec<u8> {
    let mut text = String::from("BT /F1 11 Tf 72 760 Td 15 TL\n");
    for line in lines {
        let escaped: String = line
            .chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                c if (c as u32) < 256 => c.to_string(),
                '—' | '–' => "-".into(),
                '’' => "'".into(),
                _ => "?".into(),
            })
            .collect();
        text.push_str(&format!("({escaped}) Tj T*\n"));
    }
    text.push_str("ET\n");
    // Latin-1 bytes for WinAnsiEncoding (é, è, à… are the same code points).
    let content: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        [format!("<< /Length {} >>\nstream\n", content.len()).into_bytes(), content, b"endstream".to_vec()].concat(),
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}
