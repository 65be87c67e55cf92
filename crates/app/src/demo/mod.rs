//! A realistic demo commune: Montbazon (Indre-et-Loire, 4,874 inhabitants), its services,
//! élus and agents, contacts, and a year of mail over every channel, status and document
//! type, some of it late. Generated deterministically through the ordinary use cases, so the
//! demo's journal, numbers and files are exactly what real use produces.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use parapheur_domain::calendar::is_working_day;
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::NewContact;
use parapheur_domain::item::{Item, LinkKind, NewItem};
use parapheur_domain::{Channel, CloseReason, Commune, Direction, Priority, Role, Status};
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, AppError, Change, NewFile, NewUser};

pub const DEMO_INSEE: &str = "37154";
pub const DEMO_PASSWORD: &str = "demo-parapheur";

#[derive(Debug, Clone, Serialize)]
pub struct DemoLogin {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub commune: Commune,
    pub logins: Vec<DemoLogin>,
    pub items: usize,
    pub contacts: usize,
    pub late: usize,
}

/// xorshift64*: deterministic, so every demo is the same and tests can rely on it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const FIRST_NAMES: &[&str] = &[
    "Marie",
    "Jean",
    "Nathalie",
    "Philippe",
    "Isabelle",
    "Michel",
    "Sophie",
    "Alain",
    "Catherine",
    "Patrick",
    "Sandrine",
    "Éric",
    "Valérie",
    "Thierry",
    "Céline",
    "Stéphane",
    "Aurélie",
    "Julien",
    "Hélène",
    "Nicolas",
    "Chloé",
    "Lucas",
    "Inès",
    "Mohamed",
    "Léa",
    "Hugo",
    "Françoise",
    "Gérard",
];
const LAST_NAMES: &[&str] = &[
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
const STREETS: &[&str] = &[
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
const ORGANISATIONS: &[(&str, Option<&str>)] = &[
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
const SUBJECTS: &[(&str, &[&str])] = &[
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

const PHONE_SUBJECTS: &[&str] = &[
    "Signalement d'un chien errant",
    "Question sur les horaires de la déchetterie",
    "Demande de rendez-vous avec le maire",
    "Fuite d'eau sur la voie publique",
    "Question sur l'inscription à la cantine",
    "Réservation de la salle des fêtes",
];

/// A one-page PDF letter with the given lines (Helvetica, WinAnsi): demo scans to look at.
fn letter_pdf(lines: &[String]) -> Vec<u8> {
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

enum Event {
    Register {
        idx: usize,
        new: Box<NewItem>,
        file: Option<NewFile>,
    },
    Change {
        idx: usize,
        change: Change,
    },
    Reply {
        idx: usize,
        subject: String,
    },
}

impl App {
    /// What citizens meet: the mairie's contact details (printed on acknowledgements), the
    /// public forms, and the reply templates of the agents.
    async fn seed_demo_citizens(
        &self,
        commune: &Commune,
        system: &Actor,
        service: &dyn Fn(&str) -> Option<Uuid>,
        start: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.update_commune_settings(
            commune,
            system,
            crate::administration::SettingsForm {
                address: "Mairie de Montbazon\n2 place de la Mairie\n37250 Montbazon".to_owned(),
                phone: "02 47 26 01 30".to_owned(),
                email: "mairie@montbazon.demo".to_owned(),
                letterhead: "Ouvert du lundi au vendredi, 9 h – 12 h et 14 h – 17 h 30".to_owned(),
                logo: crate::administration::LogoChange::Keep,
            },
            start,
        )
        .await?;
        for form in parapheur_domain::request_form::demo_forms() {
            let service_id = match form.code.as_str() {
                "occupation-domaine-public" | "signalement-voirie" => service("technique"),
                _ => service("accueil"),
            };
            self.save_request_form(
                commune,
                system,
                crate::citizens::FormInput {
                    code: form.code.clone(),
                    title: form.title.clone(),
                    intro: form.intro.clone(),
                    doctype_code: form.doctype_code.clone(),
                    service_id,
                    fields_json: parapheur_domain::request_form::fields_to_json(&form.fields),
                    consent: form.consent.clone(),
                    active: true,
                },
                start,
            )
            .await?;
        }
        for (code, name, subject, body) in parapheur_domain::reply_template::demo_templates() {
            let input = crate::citizens::TemplateInput {
                code: code.to_owned(),
                name: name.to_owned(),
                subject: subject.to_owned(),
                body: body.to_owned(),
                active: true,
            };
            self.save_reply_template(commune, system, &input, start)
                .await?;
        }
        Ok(())
    }

    /// Creates the demo commune and fills it. Refuses if it already exists.
    pub async fn seed_demo(
        &self,
        now: DateTime<Utc>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<DemoSummary, AppError> {
        let system = Actor::System("demo");
        let start = now - Duration::days(330);
        let commune = self.create_commune(DEMO_INSEE, &system, start).await?;
        let mut services = Vec::new();
        for (code, name) in [
            ("accueil", "Accueil"),
            ("urbanisme", "Urbanisme"),
            ("etat-civil", "État civil et élections"),
            ("technique", "Services techniques"),
            ("enfance", "Enfance et écoles"),
            ("ccas", "CCAS"),
        ] {
            services.push(
                self.add_service(&commune, code, name, &system, start)
                    .await?,
            );
        }
        let service = |code: &str| services.iter().find(|s| s.code == code).map(|s| s.id);
        self.seed_demo_citizens(&commune, &system, &service, start)
            .await?;
        let people = [
            ("sylvie.moreau", "Sylvie Moreau", "Maire", Role::Elu, None),
            (
                "jean-pierre.lefevre",
                "Jean-Pierre Lefèvre",
                "1er adjoint",
                Role::Elu,
                None,
            ),
            (
                "nathalie.girard",
                "Nathalie Girard",
                "Secrétaire de mairie",
                Role::Administrateur,
                service("accueil"),
            ),
            (
                "karim.benali",
                "Karim Benali",
                "Agent d'accueil",
                Role::Agent,
                service("accueil"),
            ),
            (
                "elodie.marchand",
                "Élodie Marchand",
                "Instructrice urbanisme",
                Role::Agent,
                service("urbanisme"),
            ),
            (
                "paul.rousseau",
                "Paul Rousseau",
                "Archiviste",
                Role::Archiviste,
                None,
            ),
        ];
        let mut logins = Vec::new();
        let mut agents = Vec::new();
        for (local, name, title, role, service_id) in people {
            let email = format!("{local}@montbazon.demo");
            let user = self
                .add_user(
                    &commune,
                    NewUser {
                        email: email.clone(),
                        display_name: name.into(),
                        title: Some(title.into()),
                        role,
                        service_id,
                        password: Some(DEMO_PASSWORD.into()),
                        // The demo box's administrator also manages its communes.
                        host_admin: role == Role::Administrateur,
                    },
                    &system,
                    start,
                )
                .await?;
            if role == Role::Agent || role == Role::Administrateur {
                agents.push(user.id);
            }
            logins.push(DemoLogin {
                email,
                name: name.into(),
                role,
                password: DEMO_PASSWORD.into(),
            });
        }

        let mut rng = Rng(0x5EED_37154);
        let contacts = self.demo_contacts(&commune, &mut rng, start).await?;

        // Plan a year of mail as dated events, then play them in time order.
        let today = local_date(now, &commune.departement);
        let first_day = today - Duration::days(320);
        let mut events: Vec<(DateTime<Utc>, u32, Event)> = Vec::new();
        let mut seq = 0u32;
        let mut push = |at: DateTime<Utc>, e: Event, events: &mut Vec<_>| {
            seq += 1;
            events.push((at, seq, e));
        };
        let total = 380;
        for idx in 0..total {
            let mut arrival = first_day + Duration::days((idx as i64 * 320) / total as i64);
            while !is_working_day(arrival, commune.holiday_zone()) {
                arrival = arrival.succ_opt().unwrap_or(arrival);
            }
            if arrival > today {
                arrival = today;
            }
            let registered_at =
                at_local(arrival, 8 + rng.below(9) as u32, rng.below(60) as u32).min(now);
            let is_phone = rng.chance(12);
            let internal = !is_phone && rng.chance(4);
            let (doctype, subject) = if is_phone {
                ("appel", rng.pick(PHONE_SUBJECTS).to_string())
            } else {
                let (code, subjects) = rng.pick(SUBJECTS);
                (*code, rng.pick(subjects).to_string())
            };
            let channel = if is_phone {
                Channel::Phone
            } else {
                *rng.pick(&[
                    Channel::Paper,
                    Channel::Paper,
                    Channel::Paper,
                    Channel::Paper,
                    Channel::Email,
                    Channel::Email,
                    Channel::Email,
                    Channel::Form,
                    Channel::Counter,
                    Channel::Registered,
                ])
            };
            let sender = *rng.pick(&contacts);
            let mut new = NewItem::incoming(channel, subject.clone(), arrival);
            new.direction = if internal {
                Direction::Internal
            } else {
                Direction::Incoming
            };
            new.doctype_code = (!internal).then(|| doctype.to_owned());
            new.sender_ids = vec![sender];
            new.letter_date = (channel == Channel::Paper || channel == Channel::Registered)
                .then(|| arrival - Duration::days(1 + rng.below(4) as i64));
            if channel == Channel::Registered {
                new.registered_number = Some(format!(
                    "1A {:03} {:03} {:04} {}",
                    rng.below(1000),
                    rng.below(1000),
                    rng.below(10000),
                    rng.below(10)
                ));
            }
            if rng.chance(8) {
                new.priority = Priority::High;
            }
            if rng.chance(6) {
                new.first_receipt_elsewhere =
                    Some(arrival - Duration::days(5 + rng.below(10) as i64));
            }
            if channel == Channel::Email || channel == Channel::Form || channel == Channel::Phone {
                new.body = Some(format!(
                    "Bonjour,\n\n{subject}.\nMerci de me tenir informé(e) de la suite donnée.\n\nCordialement"
                ));
            }
            if rng.chance(20) {
                new.tags = vec![
                    rng.pick(&[
                        "voirie",
                        "école",
                        "cimetière",
                        "marché",
                        "associations",
                        "travaux",
                    ])
                    .to_string(),
                ];
            }
            let file = (channel == Channel::Paper || channel == Channel::Registered).then(|| NewFile {
                filename: format!("courrier-{}.pdf", arrival.format("%Y%m%d")),
                media_type: "application/pdf".into(),
                bytes: letter_pdf(&[
                    format!("Montbazon, le {}", arrival.format("%d/%m/%Y")),
                    String::new(),
                    "Madame le Maire,".into(),
                    String::new(),
                    format!("Objet : {subject}"),
                    String::new(),
                    "Je vous prie de bien vouloir examiner ma demande.".into(),
                    "Veuillez agréer, Madame le Maire, l'expression de mes salutations distinguées.".into(),
                ]),
            });
            push(
                registered_at,
                Event::Register {
                    idx,
                    new: Box::new(new),
                    file,
                },
                &mut events,
            );

            // What happened next, given the item's age.
            let age = (today - arrival).num_days();
            let step = |days: i64| (registered_at + Duration::days(days)).min(now);
            let route_to = match doctype {
                "urbanisme" => service("urbanisme"),
                "etat-civil" | "demande-administrative" => service("etat-civil"),
                "reclamation" | "occupation-domaine-public" | "appel" => service("technique"),
                "demande-svr" => service("enfance"),
                _ => service("accueil"),
            };
            let assignee = rng.chance(50).then(|| *rng.pick(&agents));
            if age < 2 && rng.chance(60) {
                continue; // just arrived: still to be routed
            }
            push(
                step(1),
                Event::Change {
                    idx,
                    change: Change::Assign {
                        service_id: route_to,
                        assignee_id: assignee,
                    },
                },
                &mut events,
            );
            if age < 6 && rng.chance(50) {
                continue;
            }
            push(
                step(2),
                Event::Change {
                    idx,
                    change: Change::Status {
                        to: Status::InProgress,
                        reason: None,
                    },
                },
                &mut events,
            );
            let roll = rng.below(100);
            if roll < 8 && age > 10 && !internal {
                // Incomplete request (L114-5); most are completed later.
                let requested = arrival + Duration::days(3);
                push(
                    step(3),
                    Event::Change {
                        idx,
                        change: Change::Incomplete {
                            requested_on: requested,
                            missing: vec![
                                "Justificatif de domicile de moins de trois mois".to_owned(),
                            ],
                        },
                    },
                    &mut events,
                );
                if age > 30 && rng.chance(70) {
                    push(
                        step(20),
                        Event::Change {
                            idx,
                            change: Change::Completed {
                                on: requested + Duration::days(15),
                            },
                        },
                        &mut events,
                    );
                }
                continue;
            }
            if roll < 18 || age < 20 {
                continue; // in progress; some of these will be late
            }
            if roll < 24 {
                push(
                    step(9),
                    Event::Change {
                        idx,
                        change: Change::Status {
                            to: Status::InCircuit,
                            reason: None,
                        },
                    },
                    &mut events,
                );
                continue;
            }
            let answer_after = 5 + rng.below(25) as i64;
            if !internal && doctype != "invitation" && doctype != "facture" && doctype != "appel" {
                push(
                    step(answer_after),
                    Event::Reply {
                        idx,
                        subject: format!("Réponse : {subject}"),
                    },
                    &mut events,
                );
                push(
                    step(answer_after),
                    Event::Change {
                        idx,
                        change: Change::Status {
                            to: Status::ReplySent,
                            reason: None,
                        },
                    },
                    &mut events,
                );
                if age > answer_after + 15 {
                    push(
                        step(answer_after + 10),
                        Event::Change {
                            idx,
                            change: Change::Status {
                                to: Status::Closed,
                                reason: Some(CloseReason::Answered),
                            },
                        },
                        &mut events,
                    );
                }
            } else {
                let reason = if doctype == "appel" {
                    CloseReason::Answered
                } else {
                    CloseReason::NoFollowUp
                };
                push(
                    step(answer_after),
                    Event::Change {
                        idx,
                        change: Change::Status {
                            to: Status::Closed,
                            reason: Some(reason),
                        },
                    },
                    &mut events,
                );
                if age > 250 && rng.chance(30) {
                    push(
                        step(answer_after + 1),
                        Event::Change {
                            idx,
                            change: Change::Status {
                                to: Status::Archived,
                                reason: None,
                            },
                        },
                        &mut events,
                    );
                }
            }
        }
        events.sort_by_key(|(at, seq, _)| (*at, *seq));

        let secretary = Actor::User(agents[0]);
        let mut items: Vec<Option<parapheur_domain::Item>> = vec![None; total];
        let count = events.len();
        for (n, (at, _, event)) in events.into_iter().enumerate() {
            match event {
                Event::Register { idx, new, file } => {
                    let registered = self
                        .register(&commune, &secretary, *new, file.into_iter().collect(), at)
                        .await?;
                    items[idx] = Some(registered.item);
                }
                Event::Change { idx, change } => {
                    if let Some(item) = &items[idx] {
                        let changed = self
                            .change_item(&commune, &secretary, item.id, change, at)
                            .await?;
                        items[idx] = Some(changed);
                    }
                }
                Event::Reply { idx, subject } => {
                    if let Some(item) = &items[idx] {
                        let senders = self.store().item_contacts(item.id).await?;
                        let mut reply = NewItem::incoming(
                            Channel::Paper,
                            subject,
                            local_date(at, &commune.departement),
                        );
                        reply.direction = Direction::Outgoing;
                        reply.recipient_ids = senders.into_iter().map(|(_, c)| c).collect();
                        let sent = self
                            .register(&commune, &secretary, reply, Vec::new(), at)
                            .await?;
                        self.link_items(
                            &commune,
                            &secretary,
                            sent.item.id,
                            item.id,
                            LinkKind::ReplyTo,
                            at,
                        )
                        .await?;
                    }
                }
            }
            progress(n + 1, count);
        }
        self.demo_mail(&commune, &items, now).await?;
        self.demo_parapheur(&commune, &items, now).await?;
        let late = items.iter().flatten().filter(|i| i.is_late(today)).count();
        let registered = usize::try_from(self.store().item_count(commune.id).await?).unwrap_or(0);
        Ok(DemoSummary {
            commune,
            logins,
            items: registered,
            contacts: contacts.len(),
            late,
        })
    }

    /// The parapheur of the demo: the commune's authority and seal, certificates for the
    /// maire, the 1er adjoint and the secrétaire (no code, so they sign out of the box),
    /// two circuits, the 1er adjoint's delegation for the maire's holidays, and letters:
    /// one waiting for the maire's signature (visa given), one draft.
    async fn demo_parapheur(
        &self,
        commune: &Commune,
        items: &[Option<Item>],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        use parapheur_domain::circuit::{Action, CircuitDef, StepDef, StepKind};
        let system = Actor::System("demo");
        let issued = now - Duration::days(30);
        self.ensure_pki(commune, issued).await?;
        let user = |local: &str| {
            let email = format!("{local}@montbazon.demo");
            async move {
                self.store()
                    .user_by_email(commune.id, &email)
                    .await?
                    .ok_or_else(|| {
                        AppError::invalid(format!("utilisateur de démonstration {email} absent"))
                    })
            }
        };
        let maire = user("sylvie.moreau").await?;
        let adjoint = user("jean-pierre.lefevre").await?;
        let secretaire = user("nathalie.girard").await?;
        let instructrice = user("elodie.marchand").await?;
        for u in [&maire, &adjoint, &secretaire] {
            self.issue_signer_key(commune, &system, u.id, None, issued)
                .await?;
        }
        let step = |kind, user: &parapheur_store::users::User| StepDef {
            kind,
            user_id: Some(user.id),
        };
        let visa_signature = CircuitDef {
            stages: vec![
                vec![step(StepKind::Visa, &secretaire)],
                vec![step(StepKind::Signature, &maire)],
            ],
        };
        self.save_circuit_template(
            commune,
            &system,
            "visa-signature",
            "Visa de la secrétaire, signature du maire",
            None,
            &visa_signature,
            issued,
        )
        .await?;
        self.save_circuit_template(
            commune,
            &system,
            "signature-cachet",
            "Signature du maire et cachet de la commune",
            Some("urbanisme"),
            &CircuitDef {
                stages: vec![
                    vec![step(StepKind::Signature, &maire)],
                    vec![StepDef {
                        kind: StepKind::Seal,
                        user_id: None,
                    }],
                ],
            },
            issued,
        )
        .await?;
        let today = local_date(now, &commune.departement);
        self.add_delegation(
            commune,
            &system,
            maire.id,
            adjoint.id,
            today + Duration::days(14),
            today + Duration::days(28),
            Vec::new(),
            now,
        )
        .await?;
        // Open requests with a correspondent: the newest ones in progress.
        let mut open: Vec<&Item> = items
            .iter()
            .flatten()
            .filter(|i| i.direction == Direction::Incoming && i.status == Status::InProgress)
            .collect();
        open.sort_by_key(|i| std::cmp::Reverse(i.registered_at));
        let mut candidates = Vec::new();
        for item in open {
            if self.sender_of(commune, item).await?.is_some() {
                candidates.push(item.clone());
            }
            if candidates.len() == 2 {
                break;
            }
        }
        let at = now - Duration::hours(3);
        if let Some(item) = candidates.first() {
            let folder = self
                .draft_letter(
                    commune,
                    &Actor::User(secretaire.id),
                    item.id,
                    Some("reponse-favorable"),
                    at,
                )
                .await?;
            self.start_circuit(
                commune,
                &Actor::User(secretaire.id),
                folder.id,
                &visa_signature,
                at,
            )
            .await?;
            self.act_on_folder(
                commune,
                &Actor::User(secretaire.id),
                folder.id,
                Action::Approve,
                None,
                at + Duration::minutes(5),
            )
            .await?;
        }
        if let Some(item) = candidates.get(1) {
            self.draft_letter(
                commune,
                &Actor::User(instructrice.id),
                item.id,
                Some("demande-pieces"),
                at,
            )
            .await?;
        }
        Ok(())
    }

    /// This morning's mail, as the mailbox would bring it: two requests, a reply quoting
    /// an item's number, and a scan sent to the wrong address, waiting in quarantine.
    async fn demo_mail(
        &self,
        commune: &Commune,
        items: &[Option<Item>],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        use crate::capture::MessageSource;
        let quoted = items
            .iter()
            .flatten()
            .find(|i| i.direction == Direction::Incoming && i.status.is_open())
            .map(|i| i.chrono.clone())
            .unwrap_or_default();
        let messages = [
            String::from(
                "From: Nathalie Girard <nathalie.girard@exemple.fr>\r\nTo: mairie@demo.fr\r\n\
                 Subject: Demande de place de stationnement pour un déménagement\r\n\
                 Message-ID: <demo-1@exemple.fr>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Bonjour,\r\nJe déménage le samedi 12 et souhaiterais réserver deux places \
                 de stationnement devant le 8 rue des Tilleuls.\r\nMerci,\r\nNathalie Girard\r\n",
            ),
            String::from(
                "From: Club de pétanque <contact@petanque-demo.fr>\r\nTo: mairie@demo.fr\r\n\
                 Subject: Demande de subvention 2027\r\nMessage-ID: <demo-2@exemple.fr>\r\n\
                 Content-Type: text/html; charset=utf-8\r\n\r\n\
                 <p>Madame la Maire,</p><p>Notre club sollicite une <b>subvention</b> de \
                 fonctionnement pour 2027.</p><img src=\"https://pistage.example/pixel.gif\">\
                 <script>alert(1)</script>\r\n",
            ),
            format!(
                "From: Paul Roche <paul.roche@exemple.fr>\r\nTo: mairie@demo.fr\r\n\
                 Subject: Re: votre courrier {quoted}\r\nMessage-ID: <demo-3@exemple.fr>\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n\
                 Bonjour, voici la pièce que vous m'aviez demandée.\r\n"
            ),
        ];
        for (n, raw) in messages.iter().enumerate() {
            self.capture_message(
                commune,
                MessageSource::import(format!("boîte accueil — message {}", n + 1)),
                Ok(raw.clone().into_bytes()),
                now - Duration::hours(3 - n as i64),
            )
            .await?;
        }
        self.capture_message(
            commune,
            MessageSource::import("copieur/numerisation-0412.pdf"),
            Ok(b"%PDF-1.4\n% envoi du copieur vers la mauvaise adresse\n%%EOF\n".to_vec()),
            now - Duration::minutes(30),
        )
        .await?;
        Ok(())
    }

    async fn demo_contacts(
        &self,
        commune: &Commune,
        rng: &mut Rng,
        at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, AppError> {
        let system = Actor::System("demo");
        let mut new_contacts = Vec::new();
        for i in 0..70 {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let has_email = rng.chance(60);
            new_contacts.push(NewContact {
                civility: Some(if i % 2 == 0 { "Madame" } else { "Monsieur" }.into()),
                first_name: Some(first.into()),
                name: last.into(),
                address: Some(format!("{} {}", 1 + rng.below(60), rng.pick(STREETS))),
                postal_code: Some(commune.postal_code.clone()),
                city: Some(commune.name.clone()),
                email: has_email.then(|| {
                    format!(
                        "{}.{}{}@courriel.demo",
                        parapheur_domain::contact::fold(first).replace(' ', "-"),
                        parapheur_domain::contact::fold(last).replace(' ', "-"),
                        i
                    )
                }),
                phone: rng.chance(50).then(|| {
                    format!(
                        "06 {:02} {:02} {:02} {:02}",
                        rng.below(100),
                        rng.below(100),
                        rng.below(100),
                        rng.below(100)
                    )
                }),
                ..Default::default()
            });
        }
        for (name, email) in ORGANISATIONS {
            new_contacts.push(NewContact {
                kind: Some(parapheur_domain::ContactKind::Organisation),
                name: (*name).into(),
                email: email.map(str::to_owned),
                ..Default::default()
            });
        }
        let mut tx = self.store().begin(at).await?;
        let mut ids = Vec::new();
        for c in &new_contacts {
            ids.push(
                tx.insert_contact(commune.id, c, &system.journal_name())
                    .await?
                    .id,
            );
        }
        tx.commit().await?;
        Ok(ids)
    }
}

/// A local time of day on a date, as UTC (the offset matters little for demo data; the
/// summer-time rule keeps the local date right).
fn at_local(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let offset = if (4..=10).contains(&date.month()) {
        2
    } else {
        1
    };
    Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap_or_default())
        - Duration::hours(offset)
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_letters_are_pdfs_with_a_valid_xref() {
        let pdf = super::letter_pdf(&["Objet : éclairage (rue) \\ test".into()]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.trim_end().ends_with("%%EOF"));
        let xref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // Offsets count bytes (the lossy text above is only for finding the number).
        assert!(pdf[xref..].starts_with(b"xref"));
    }
}
