//! Search benchmark: tantivy (this crate) against SQLite FTS5, same generated corpus.
//!
//! ```text
//! cargo run -p parapheur-search --release --example search_bench -- --items 100000
//!     [--queries 200] [--seed 42] [--dir PATH] [--reindex-only] [--no-fts5] [--keep-index]
//! ```
//!
//! `--keep-index` reuses the tantivy index a previous run left in `--dir` (same `--items`
//! and `--seed`), so that only the queries run.
//!
//! The corpus is French town-hall mail generated deterministically (inline PRNG), all in
//! one commune (a harsh case: a real commune registers ~10,000 items a year).
//! Latency is measured in-process around each call, after one warm-up pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, TimeZone, Utc};
use parapheur_search::{SearchDoc, SearchIndex, SearchQuery};
use sqlx::{Connection, Row, SqliteConnection};
use uuid::Uuid;

// ---------------------------------------------------------------- PRNG (SplitMix64)

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// ---------------------------------------------------------------- vocabulary

const FIRST: &[&str] = &[
    "Jean",
    "Marie",
    "Pierre",
    "Françoise",
    "Michel",
    "Nathalie",
    "Philippe",
    "Sylvie",
    "Alain",
    "Isabelle",
    "Éric",
    "Céline",
    "Jérôme",
    "Hélène",
    "Stéphane",
    "Valérie",
    "Gérard",
    "Chloé",
    "Théo",
    "Léa",
    "Noël",
    "Agnès",
    "François",
    "Zoé",
    "Mathéo",
    "Inès",
    "Loïc",
    "Maëlle",
];
const LAST: &[&str] = &[
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
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
];
const STREETS: &[&str] = &[
    "rue de la République",
    "rue Victor Hugo",
    "avenue Jean Jaurès",
    "chemin des Vignes",
    "place de l'Église",
    "rue du Moulin",
    "impasse des Lilas",
    "route de Lyon",
    "allée des Érables",
    "rue Pasteur",
    "boulevard Gambetta",
    "rue des Écoles",
    "chemin du Lavoir",
    "rue de la Gare",
    "place du Marché",
    "rue des Prés",
    "rue Émile Zola",
    "hameau des Côtes",
];
const CITIES: &[&str] = &[
    "Saint-Étienne",
    "Lyon",
    "Villefranche-sur-Saône",
    "Mâcon",
    "Bourg-en-Bresse",
    "Vénissieux",
    "Roanne",
    "Chambéry",
    "Annecy",
    "Grenoble",
    "Valence",
    "Montélimar",
    "Besançon",
    "Dijon",
];
const ORGS: &[&str] = &[
    "Comité des fêtes",
    "Association sportive",
    "Club des aînés",
    "Amicale laïque",
    "Préfecture du Rhône",
    "Conseil départemental",
    "Syndicat des eaux",
    "Enedis",
    "Trésorerie municipale",
    "Caisse d'allocations familiales",
    "Office notarial Girard",
    "Entreprise Bâtiment Morel",
    "Sou des écoles",
    "Société de chasse",
    "Harmonie municipale",
];
const MONTHS: &[&str] = &[
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

struct Theme {
    subjects: &'static [&'static str],
    sentences: &'static [&'static str],
}

const THEMES: &[Theme] = &[
    Theme {
        subjects: &[
            "Dépôt d'un permis de construire",
            "Demande de permis de construire pour une extension",
            "Déclaration préalable de travaux",
            "Certificat d'urbanisme opérationnel",
            "Permis d'aménager du lotissement",
            "Demandes de renseignements d'urbanisme",
        ],
        sentences: &[
            "Je sollicite un permis de construire pour une maison individuelle sur la parcelle cadastrée section {N}.",
            "Les travaux concernent une extension de l'habitation, un abri de jardin et une clôture en limite séparative.",
            "Le projet respecte les prescriptions du plan local d'urbanisme et du règlement de la zone.",
            "Vous trouverez ci-joint les plans de masse, les façades et la notice descriptive des travaux.",
            "Le service instructeur nous demande des pièces complémentaires avant le {DATE}.",
            "La déclaration préalable porte sur la pose de panneaux photovoltaïques en toiture.",
            "Nous souhaitons connaître les règles applicables à la construction d'une piscine.",
        ],
    },
    Theme {
        subjects: &[
            "Demande d'acte de naissance",
            "Demande de copie intégrale d'acte de mariage",
            "Dossier de mariage",
            "Déclaration de décès",
            "Reconnaissance anticipée d'un enfant",
            "Demandes d'extraits d'actes d'état civil",
        ],
        sentences: &[
            "Je vous prie de bien vouloir m'adresser une copie intégrale de mon acte de naissance.",
            "Les futurs époux souhaitent célébrer leur mariage en mairie le {DATE}.",
            "Vous trouverez ci-joint la liste des témoins et les justificatifs de domicile.",
            "L'acte de décès doit être transmis au notaire chargé de la succession.",
            "Cette demande est adressée dans le cadre d'une procédure de naturalisation.",
            "Les extraits d'actes d'état civil sont délivrés gratuitement par le service de l'état civil.",
        ],
    },
    Theme {
        subjects: &[
            "Nid-de-poule dangereux",
            "Réfection de la chaussée",
            "Stationnement gênant devant mon garage",
            "Demande d'arrêté de circulation",
            "Travaux de voirie",
            "Trottoirs dégradés",
        ],
        sentences: &[
            "La chaussée est très dégradée au niveau du {STREET} et présente plusieurs nids-de-poule.",
            "Des véhicules stationnent régulièrement sur le trottoir, ce qui gêne le passage des poussettes.",
            "L'entreprise sollicite un arrêté temporaire de circulation pour des travaux de voirie.",
            "Les riverains demandent la pose de ralentisseurs pour limiter la vitesse des automobilistes.",
            "Le marquage au sol a presque disparu devant l'école.",
        ],
    },
    Theme {
        subjects: &[
            "Panne d'éclairage public",
            "Lampadaires éteints depuis plusieurs jours",
            "Remplacement des luminaires",
            "Éclairage public défaillant",
            "Horaires d'extinction de l'éclairage",
        ],
        sentences: &[
            "L'éclairage public ne fonctionne plus dans notre quartier depuis le {DATE}.",
            "Trois lampadaires sont éteints au {STREET}, ce qui rend la circulation des piétons dangereuse.",
            "Nous proposons le remplacement des luminaires par des éclairages à LED plus économes.",
            "Les habitants s'interrogent sur les horaires d'extinction nocturne de l'éclairage.",
            "Le devis de maintenance de l'éclairage public est joint à ce courrier.",
        ],
    },
    Theme {
        subjects: &[
            "Inscription à la cantine scolaire",
            "Réclamation sur les repas de la cantine",
            "Tarifs de la restauration scolaire",
            "Allergies alimentaires de mon enfant",
            "Menus de la cantine",
        ],
        sentences: &[
            "Je souhaite inscrire mes enfants à la cantine scolaire à compter de la rentrée.",
            "Mon fils présente une allergie alimentaire et nécessite un protocole d'accueil individualisé.",
            "Les parents d'élèves s'inquiètent de la qualité des repas servis à la cantine.",
            "La facture de restauration scolaire du mois de {MONTH} me semble erronée.",
            "Les tarifs de la cantine ont été votés par le conseil municipal.",
        ],
    },
    Theme {
        subjects: &[
            "Demande de concession au cimetière",
            "Renouvellement de concession funéraire",
            "Travaux sur une sépulture",
            "Entretien du cimetière communal",
        ],
        sentences: &[
            "Je souhaite acquérir une concession trentenaire au cimetière communal.",
            "La concession de la famille {LAST} arrive à échéance et nous souhaitons la renouveler.",
            "Le marbrier doit intervenir sur la sépulture pour poser une nouvelle pierre tombale.",
            "Les allées du cimetière sont envahies par les mauvaises herbes.",
        ],
    },
    Theme {
        subjects: &[
            "Demande de subvention",
            "Demande de subvention de fonctionnement",
            "Réservation de la salle des fêtes",
            "Prêt de matériel pour une manifestation",
            "Assemblée générale de l'association",
            "Demandes de subventions exceptionnelles",
        ],
        sentences: &[
            "L'association sollicite une subvention de fonctionnement pour l'année {YEAR}.",
            "Vous trouverez ci-joint le bilan financier et le budget prévisionnel de l'association.",
            "Nous souhaitons réserver la salle des fêtes le {DATE} pour notre repas annuel.",
            "Le comité organise une manifestation et demande le prêt de tables, de chaises et de barrières.",
            "Les membres du bureau vous invitent à l'assemblée générale de l'association.",
        ],
    },
    Theme {
        subjects: &[
            "Réclamation concernant le bruit",
            "Plainte pour dépôt sauvage",
            "Réclamation sur la facture d'eau",
            "Nuisances sonores",
            "Réclamations des riverains",
            "Problème de ramassage des ordures ménagères",
        ],
        sentences: &[
            "Je me permets de vous signaler des nuisances sonores répétées chaque soir.",
            "Des dépôts sauvages d'encombrants ont été constatés au {STREET}.",
            "Le montant de ma facture d'eau est anormalement élevé par rapport à ma consommation.",
            "Les conteneurs d'ordures ménagères n'ont pas été ramassés cette semaine.",
            "Plusieurs riverains ont adressé des réclamations restées sans réponse.",
        ],
    },
];

const GENERIC: &[&str] = &[
    "Monsieur le Maire,",
    "Madame, Monsieur,",
    "Par la présente, je me permets de vous solliciter au sujet de ce dossier.",
    "Je reste à votre disposition pour tout renseignement complémentaire.",
    "Je vous remercie par avance de l'attention que vous porterez à ma demande.",
    "Vous trouverez ci-joint les pièces justificatives nécessaires.",
    "Ce courrier fait suite à notre entretien téléphonique du {DATE}.",
    "Une réponse rapide serait appréciée compte tenu des délais.",
    "Le conseil municipal examinera ce point lors de sa prochaine séance.",
    "Je vous prie d'agréer, Monsieur le Maire, l'expression de mes salutations distinguées.",
    "Dans l'attente de votre réponse, veuillez recevoir mes sincères salutations.",
    "Je demeure au {NUM} {STREET} à {CITY} depuis de nombreuses années.",
    "Mes voisins, {FIRST} {LAST} et sa famille, partagent cette préoccupation.",
    "Les services techniques de la commune pourront constater la situation sur place.",
    "Je vous adresse ce courrier en recommandé avec accusé de réception.",
    "La situation dure depuis le mois de {MONTH} et ne s'améliore pas.",
    "Nos demandes précédentes sont restées sans suite.",
    "Le dossier complet a été déposé à l'accueil de la mairie.",
];

fn fill(template: &str, rng: &mut Rng) -> String {
    let mut out = template.to_owned();
    while let Some(start) = out.find('{') {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let key = &out[start + 1..start + len];
        let value = match key {
            "N" => format!(
                "{} n° {}",
                rng.pick(&["AB", "ZC", "B", "AH", "C"]),
                1 + rng.below(900)
            ),
            "DATE" => format!(
                "{} {} {}",
                1 + rng.below(28),
                rng.pick(MONTHS),
                2020 + rng.below(7)
            ),
            "MONTH" => rng.pick(MONTHS).to_owned(),
            "YEAR" => (2020 + rng.below(7)).to_string(),
            "STREET" => rng.pick(STREETS).to_owned(),
            "CITY" => rng.pick(CITIES).to_owned(),
            "FIRST" => rng.pick(FIRST).to_owned(),
            "LAST" => rng.pick(LAST).to_owned(),
            "NUM" => (1 + rng.below(120)).to_string(),
            _ => String::new(),
        };
        out.replace_range(start..start + len + 1, &value);
    }
    out
}

fn gen_doc(seed: u64, i: u64) -> SearchDoc {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let theme = &THEMES[rng.below(THEMES.len())];
    let mut subject = rng.pick(theme.subjects).to_owned();
    if rng.chance(40) {
        subject.push_str(&format!(" – {}", rng.pick(STREETS)));
    }
    let target_words = 150 + rng.below(251);
    let mut body = String::new();
    let mut words = 0;
    body.push_str(rng.pick(&GENERIC[..2]));
    while words < target_words {
        let s = if rng.chance(55) {
            fill(rng.pick(theme.sentences), &mut rng)
        } else if rng.chance(8) {
            // Another theme now and then, like real mail.
            let other = &THEMES[rng.below(THEMES.len())];
            fill(rng.pick(other.sentences), &mut rng)
        } else {
            fill(rng.pick(&GENERIC[2..]), &mut rng)
        };
        words += s.split_whitespace().count();
        body.push(' ');
        body.push_str(&s);
    }
    let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
    let email = format!(
        "{}.{}@exemple.fr",
        first.to_lowercase(),
        last.to_lowercase()
    );
    let contacts = if rng.chance(30) {
        format!(
            "{first} {last}, {}, {email}, {}",
            rng.pick(ORGS),
            rng.pick(CITIES)
        )
    } else {
        format!("{first} {last}, {email}, {}", rng.pick(CITIES))
    };
    let days = i64::try_from(i % 3650).unwrap_or(0);
    let arrival = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap() + Days::days(days);
    let registered = Utc.with_ymd_and_hms(2016, 1, 1, 8, 0, 0).unwrap()
        + Days::days(days)
        + Days::seconds(i64::try_from(i % 86_400).unwrap_or(0));
    let open = rng.chance(20);
    SearchDoc {
        item_id: Uuid::from_u128(u128::from(i) + 1),
        chrono: format!("{}-A-{:06}", 2016 + days / 365, i + 1),
        subject,
        body,
        extracted_text: String::new(),
        notes: if rng.chance(10) {
            "Dossier suivi par le secrétariat.".to_owned()
        } else {
            String::new()
        },
        contacts,
        status: if open { "in_progress" } else { "closed" }.to_owned(),
        channel: rng.pick(&["paper", "email", "counter"]).to_owned(),
        direction: "incoming".to_owned(),
        doctype: None,
        service_id: None,
        arrival_date: arrival,
        registered_at: registered,
        due_date: Some(arrival + Days::days(30)),
        open,
        confidential: rng.chance(3),
        allowed: Vec::new(),
    }
}

const QUERY_WORDS: &[&str] = &[
    "éclairage",
    "eclairage",
    "demande",
    "demandes",
    "subvention",
    "subventions",
    "permis",
    "construire",
    "cantine",
    "cimetière",
    "cimetiere",
    "concession",
    "voirie",
    "chaussée",
    "réclamation",
    "reclamations",
    "association",
    "associations",
    "mariage",
    "naissance",
    "acte",
    "actes",
    "travaux",
    "lampadaires",
    "luminaire",
    "repas",
    "facture",
    "bruit",
    "salle",
    "fêtes",
    "fetes",
    "urbanisme",
    "parcelle",
    "clôture",
    "piscine",
    "riverains",
    "stationnement",
    "trottoir",
    "décès",
    "notaire",
    "école",
    "allergie",
    "tarifs",
    "dupont",
    "lyon",
    "martin",
    "Saint-Étienne",
    "gambetta",
    "ordures",
    "encombrants",
    "adressée",
    "adresse",
    "sépulture",
    "marbrier",
    "budget",
    "assemblée",
    "extension",
    "photovoltaïques",
];

fn gen_queries(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed.wrapping_add(7));
    (0..n)
        .map(|_| {
            let k = 1 + rng.below(3);
            (0..k)
                .map(|_| rng.pick(QUERY_WORDS))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

// ---------------------------------------------------------------- helpers

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_size(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / 1024.0 / 1024.0)
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| {
        let idx = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[idx].as_secs_f64() * 1000.0
    };
    format!("{:.2} / {:.2} / {:.2} ms", p(0.50), p(0.95), p(0.99))
}

fn fts5_match(text: &str) -> String {
    text.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" ")
}

struct Args {
    items: u64,
    queries: usize,
    seed: u64,
    dir: Option<PathBuf>,
    reindex_only: bool,
    fts5: bool,
    keep_index: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        items: 100_000,
        queries: 200,
        seed: 42,
        dir: None,
        reindex_only: false,
        fts5: true,
        keep_index: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--items" => args.items = it.next().and_then(|v| v.parse().ok()).expect("--items N"),
            "--queries" => {
                args.queries = it.next().and_then(|v| v.parse().ok()).expect("--queries N")
            }
            "--seed" => args.seed = it.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            "--dir" => args.dir = it.next().map(PathBuf::from),
            "--reindex-only" => args.reindex_only = true,
            "--no-fts5" => args.fts5 = false,
            "--keep-index" => args.keep_index = true,
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

// ---------------------------------------------------------------- main

fn main() {
    let args = parse_args();
    let tmp = tempfile::tempdir().unwrap();
    let base = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&base).unwrap();
    let commune = Uuid::from_u128(0xC0_11E);
    let queries = gen_queries(args.seed, args.queries);

    let index_root = base.join("tantivy");
    let index = SearchIndex::open(&index_root).unwrap();
    if args.keep_index && !args.fts5 && index.indexed_seq(commune).unwrap().is_some() {
        eprintln!(
            "tantivy: index kept from a previous run, {}",
            mib(dir_size(&index_root))
        );
        run_queries(&index, commune, &queries);
        return;
    }
    // Corpus size (generated twice, once per engine, never held in memory).
    let t = Instant::now();
    let (mut words, mut bytes) = (0u64, 0u64);
    for i in 0..args.items {
        let d = gen_doc(args.seed, i);
        words += d.body.split_whitespace().count() as u64;
        bytes += (d.subject.len() + d.body.len() + d.contacts.len()) as u64;
    }
    let gen_time = t.elapsed();
    eprintln!(
        "corpus: {} items, {:.0} body words/item, {} of text, generated in {:.1} s",
        args.items,
        words as f64 / args.items.max(1) as f64,
        mib(bytes),
        gen_time.as_secs_f64()
    );

    // tantivy: the product's own rebuild path (1 thread, 20 MB heap).
    let t = Instant::now();
    let n = index
        .rebuild(
            commune,
            (0..args.items).map(|i| gen_doc(args.seed, i)),
            1,
            |n| {
                if n % 20_000 == 0 {
                    eprintln!("  tantivy: {n} indexed, {:.0} s", t.elapsed().as_secs_f64());
                }
            },
        )
        .unwrap();
    let tantivy_build = t.elapsed().saturating_sub(gen_time);
    let tantivy_size = dir_size(&index_root);
    let rebuild_rate = n as f64 / tantivy_build.as_secs_f64();
    eprintln!(
        "tantivy built in {:.1} s (generation excluded), {}",
        tantivy_build.as_secs_f64(),
        mib(tantivy_size)
    );
    if args.reindex_only {
        println!(
            "| rebuild (tantivy) | {n} docs | {:.1} s | {:.0} docs/s | {} |",
            tantivy_build.as_secs_f64(),
            rebuild_rate,
            mib(tantivy_size)
        );
        return;
    }

    // SQLite FTS5 through sqlx's bundled SQLite.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db_path = base.join("fts5.db");
    let _ = std::fs::remove_file(&db_path);
    let mut fts = None;
    if args.fts5 {
        let (conn, build, size) = rt.block_on(async {
            let url = format!("sqlite://{}?mode=rwc", db_path.display());
            let mut conn = SqliteConnection::connect(&url).await.unwrap();
            let version: String = sqlx::query("SELECT sqlite_version()")
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get(0);
            let fts5: i64 = sqlx::query("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get(0);
            eprintln!("SQLite {version}, ENABLE_FTS5 = {fts5}");
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(
                "CREATE VIRTUAL TABLE items USING fts5(item_id UNINDEXED, chrono, subject, body, \
                 extracted_text, notes, contacts, tokenize = 'unicode61 remove_diacritics 2')",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            let t = Instant::now();
            let mut gen_in_loop = Duration::ZERO;
            let mut i = 0;
            while i < args.items {
                let mut tx = conn.begin().await.unwrap();
                for j in i..(i + 10_000).min(args.items) {
                    let g = Instant::now();
                    let d = gen_doc(args.seed, j);
                    gen_in_loop += g.elapsed();
                    sqlx::query("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)")
                        .bind(d.item_id.to_string())
                        .bind(d.chrono)
                        .bind(d.subject)
                        .bind(d.body)
                        .bind(d.extracted_text)
                        .bind(d.notes)
                        .bind(d.contacts)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
                i += 10_000;
                if i % 20_000 == 0 {
                    eprintln!("  fts5: {i} inserted, {:.0} s", t.elapsed().as_secs_f64());
                }
            }
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .unwrap();
            let build = t.elapsed().saturating_sub(gen_in_loop);
            let size = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
            (conn, build, size)
        });
        eprintln!("fts5 built in {:.1} s, {}", build.as_secs_f64(), mib(size));
        fts = Some((conn, build, size));
    }

    // Queries: one warm-up pass, then one measured pass per engine.
    let search = |text: &str| {
        let query = SearchQuery {
            text: text.to_owned(),
            limit: 20,
            ..SearchQuery::default()
        };
        index.search(commune, &query).unwrap()
    };
    for text in &queries {
        search(text);
    }
    let mut tantivy_lat = Vec::new();
    for text in &queries {
        let t = Instant::now();
        let res = search(text);
        tantivy_lat.push(t.elapsed());
        assert!(res.hits.len() <= 20);
    }
    let mut fts_lat = Vec::new();
    let mut fts_snip_lat = Vec::new();
    if let Some((conn, _, _)) = fts.as_mut() {
        rt.block_on(async {
            let top = "SELECT item_id FROM items WHERE items MATCH ? ORDER BY rank LIMIT 20";
            let top_snip = "SELECT item_id, snippet(items, -1, '<mark>', '</mark>', '…', 24) \
                            FROM items WHERE items MATCH ? ORDER BY rank LIMIT 20";
            for text in &queries {
                sqlx::query(top)
                    .bind(fts5_match(text))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            }
            for text in &queries {
                let t = Instant::now();
                sqlx::query(top)
                    .bind(fts5_match(text))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
                fts_lat.push(t.elapsed());
            }
            for text in &queries {
                let t = Instant::now();
                sqlx::query(top_snip)
                    .bind(fts5_match(text))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
                fts_snip_lat.push(t.elapsed());
            }
        });
    }

    // Recall examples.
    let recall_words = [
        "eclairage",
        "éclairage",
        "demande",
        "demandes",
        "adresse",
        "adressée",
        "reclamations",
        "réclamation",
    ];
    let mut recall = Vec::new();
    for w in recall_words {
        let t_count = search(w).total;
        let f_count = match fts.as_mut() {
            Some((conn, _, _)) => rt.block_on(async {
                let c: i64 = sqlx::query("SELECT count(*) FROM items WHERE items MATCH ?")
                    .bind(fts5_match(w))
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap()
                    .get(0);
                c.to_string()
            }),
            None => "-".to_owned(),
        };
        recall.push((w, t_count, f_count));
    }

    println!();
    println!(
        "{} items in one commune, {} queries of 1-3 words (AND), top 20, seed {}",
        args.items,
        queries.len(),
        args.seed
    );
    println!();
    println!("| engine | build | docs/s | on disk | p50 / p95 / p99 |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| tantivy `SearchIndex::search` (count + top 20 + snippets) | {:.1} s | {:.0} | {} | {} |",
        tantivy_build.as_secs_f64(),
        rebuild_rate,
        mib(tantivy_size),
        percentiles(tantivy_lat)
    );
    if let Some((_, build, size)) = &fts {
        let rate = args.items as f64 / build.as_secs_f64();
        println!(
            "| SQLite FTS5 top 20 ids (bm25) | {:.1} s | {:.0} | {} | {} |",
            build.as_secs_f64(),
            rate,
            mib(*size),
            percentiles(fts_lat)
        );
        println!(
            "| SQLite FTS5 top 20 + snippet() | | | | {} |",
            percentiles(fts_snip_lat)
        );
    }
    println!();
    println!("| word | tantivy hits | FTS5 hits |");
    println!("|---|---:|---:|");
    for (w, t, f) in recall {
        println!("| {w} | {t} | {f} |");
    }
}

/// The tantivy half of the measure alone (`--keep-index`): a warm-up pass, a measured pass,
/// the slowest queries and the totals of the recall words.
fn run_queries(index: &SearchIndex, commune: Uuid, queries: &[String]) {
    let search = |text: &str| {
        let query = SearchQuery {
            text: text.to_owned(),
            limit: 20,
            ..SearchQuery::default()
        };
        index.search(commune, &query).unwrap()
    };
    for text in queries {
        search(text);
    }
    let mut lat = Vec::new();
    for text in queries {
        let t = Instant::now();
        let res = search(text);
        lat.push((t.elapsed(), text.as_str(), res.total));
        assert!(res.hits.len() <= 20);
    }
    let mut slowest = lat.clone();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (d, text, total) in slowest.iter().take(5) {
        eprintln!(
            "  slowest: {:>6.2} ms  {text:?} ({total} hits)",
            d.as_secs_f64() * 1e3
        );
    }
    // The commonest words alone (the most matches), median of 21 runs each.
    for w in ["demande", "travaux", "eclairage", "réclamation"] {
        let mut runs: Vec<Duration> = (0..21)
            .map(|_| {
                let t = Instant::now();
                search(w);
                t.elapsed()
            })
            .collect();
        runs.sort();
        eprintln!(
            "  {w:?} alone: {} hits, {:.2} ms (median of 21)",
            search(w).total,
            runs[10].as_secs_f64() * 1e3
        );
    }
    println!(
        "| tantivy `SearchIndex::search` (count + top 20 + snippets), index kept | {} |",
        percentiles(lat.into_iter().map(|(d, _, _)| d).collect())
    );
}
