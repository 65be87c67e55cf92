//! A realistic demo commune: Montbazon (Indre-et-Loire, 4,874 inhabitants), its services,
//! élus and agents, contacts, and a year of mail over every channel, status and document
//! type, some of it late. Generated deterministically through the ordinary use cases, so the
//! demo's journal, numbers and files are exactly what real use produces.

use crate::boxed_future;
mod corpus;
mod features;
mod forms;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use parapheur_domain::calendar::is_working_day;
use parapheur_domain::clock::local_date;
use parapheur_domain::item::{LinkKind, NewItem};
use parapheur_domain::{Channel, CloseReason, Commune, Direction, Priority, Role, Status};
use serde::Serialize;

use crate::{Actor, App, AppError, Change, NewFile, NewUser};
use corpus::{PHONE_SUBJECTS, Rng, SUBJECTS, letter_pdf};
pub use forms::demo_forms;

pub const DEMO_INSEE: &str = "37154";
pub const DEMO_PASSWORD: &str = "demo-parapheur";
/// The second factor of the demo's élus and administrator, in base32: added to any
/// authenticator application (FreeOTP, Aegis…), it gives the codes that signing and the
/// administrator's login ask for. A demo secret, printed.
pub const DEMO_SECOND_FACTOR: &str = "JBSWY3DPEHPK3PXPMZXW6YTBOI2DEMZU";

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
    /// An agent's note on the item (what was said on the phone, what is awaited).
    Note {
        idx: usize,
        body: &'static str,
    },
}

/// The agents' notes of the demo, put on one item in nine once it is being handled (chosen
/// by its index, not drawn, so the rest of the demo stays as it was).
const NOTES: &[&str] = &[
    "Demandeur rappelé : il passera en mairie jeudi avec les pièces.",
    "Vu avec les services techniques, intervention prévue la semaine prochaine.",
    "En attente de l'avis du maire avant de répondre.",
    "Dossier similaire l'an dernier : reprendre la réponse faite alors.",
];

impl App {
    /// Creates the demo commune and fills it. Refuses if it already exists.
    pub async fn seed_demo(
        &self,
        now: DateTime<Utc>,
        mut progress: impl FnMut(usize, usize) + Send,
    ) -> Result<DemoSummary, AppError> {
        self.seed_demo_dyn(now, &mut progress).await
    }

    /// `seed_demo` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn seed_demo_dyn(
        &self,
        now: DateTime<Utc>,
        progress: &mut (dyn FnMut(usize, usize) + Send),
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
                        host_admin: false,
                    },
                    &system,
                    start,
                )
                .await?;
            if role == Role::Agent || role == Role::Administrateur {
                agents.push(user.id);
            }
            if matches!(role, Role::Elu | Role::Administrateur) {
                self.enrol_known_second_factor(&commune, &user, DEMO_SECOND_FACTOR, start)
                    .await?;
            }
            logins.push(DemoLogin {
                email,
                name: name.into(),
                role,
                password: DEMO_PASSWORD.into(),
            });
        }

        // The demo box's administrator is named host administrator, as an operator would
        // name one with `parapheur host-admin add`: creating the commune made none.
        if let Some(admin) = logins.iter().find(|l| l.role == Role::Administrateur) {
            self.set_host_admin(&admin.email, true, &system, start)
                .await?;
        }

        let mut rng = Rng(0x5EED_37154);
        let contacts = self.demo_contacts(&commune, &mut rng, start).await?;

        // Plan a year of mail as dated events, then play them in time order.
        let today = local_date(now, commune.zone());
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
            if idx % 9 == 4 {
                push(
                    step(2),
                    Event::Note {
                        idx,
                        body: NOTES[(idx / 9) % NOTES.len()],
                    },
                    &mut events,
                );
            }
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
                            deadline: None,
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
        let mut to_archive = Vec::new();
        for (n, (at, _, event)) in events.into_iter().enumerate() {
            match event {
                Event::Register { idx, new, file } => {
                    let registered = self
                        .register(&commune, &secretary, *new, file.into_iter().collect(), at)
                        .await?;
                    items[idx] = Some(registered.item);
                }
                // Archiving goes through a transfer the archives accept, as in real life:
                // the items are gathered and transferred at the end.
                Event::Change {
                    idx,
                    change:
                        Change::Status {
                            to: Status::Archived,
                            ..
                        },
                } => to_archive.push(idx),
                Event::Change { idx, change } => {
                    if let Some(item) = &items[idx] {
                        let changed = self
                            .change_item(&commune, &secretary, item.id, change, at)
                            .await?;
                        items[idx] = Some(changed);
                    }
                }
                Event::Note { idx, body } => {
                    if let Some(item) = &items[idx] {
                        self.add_note(&commune, &secretary, item.id, body, at)
                            .await?;
                    }
                }
                Event::Reply { idx, subject } => {
                    if let Some(item) = &items[idx] {
                        let senders = self.store().item_contacts(item.id).await?;
                        let mut reply = NewItem::incoming(
                            Channel::Paper,
                            subject,
                            local_date(at, commune.zone()),
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
        self.demo_transfer(&commune, &items, &to_archive, now)
            .await?;
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
