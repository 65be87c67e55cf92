//! The demo's contacts, citizens' requests, parapheur folders and captured mail, each made
//! through the use cases of its feature.

use chrono::{DateTime, Duration, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::NewContact;
use parapheur_domain::item::Item;
use parapheur_domain::{Commune, Direction, Status};
use uuid::Uuid;

use super::corpus::FIRST_NAMES;
use super::corpus::LAST_NAMES;
use super::corpus::ORGANISATIONS;
use super::corpus::Rng;
use super::corpus::STREETS;
use crate::{Actor, App, AppError};

impl App {
    /// What citizens meet: the mairie's contact details (printed on acknowledgements), the
    /// public forms, and the reply templates of the agents.
    pub(super) async fn seed_demo_citizens(
        &self,
        commune: &Commune,
        system: &Actor,
        service: &(dyn Fn(&str) -> Option<Uuid> + Sync),
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
                dpo_contact: "Centre de gestion d'Indre-et-Loire, dpo@cdg37.demo".to_owned(),
            },
            start,
        )
        .await?;
        for form in super::demo_forms() {
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

    /// The parapheur of the demo: the commune's authority and seal, certificates for the
    /// maire, the 1er adjoint and the secrétaire (no code, so they sign out of the box),
    /// two circuits, the 1er adjoint's delegation for the maire's holidays, and letters:
    /// one waiting for the maire's signature (visa given), one draft.
    pub(super) async fn demo_parapheur(
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
        let today = local_date(now, commune.zone());
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
                crate::parapheur::SignerProof::default(),
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
    pub(super) async fn demo_mail(
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

    pub(super) async fn demo_contacts(
        &self,
        commune: &Commune,
        rng: &mut Rng,
        at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, AppError> {
        let system = Actor::System("demo");
        let mut new_contacts = Vec::new();
        for i in 0..70 {
            let (first, civility) = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let has_email = rng.chance(60);
            new_contacts.push(NewContact {
                civility: Some(civility.into()),
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

impl App {
    /// The items the demo archives, transferred in one SEDA message that the "archives"
    /// acknowledge and accept: the only way to "archivé".
    pub(super) async fn demo_transfer(
        &self,
        commune: &Commune,
        items: &[Option<Item>],
        indexes: &[usize],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        use crate::archives::seda::{acknowledgement_xml, reply_xml};
        let actor = Actor::System("demo");
        // Items to destroy (fate D) are not transferred: they wait for an elimination.
        let destroyed: Vec<String> = self
            .store()
            .schedules(commune.id)
            .await?
            .into_iter()
            .filter(|s| !s.rule.final_action.may_be_transferred())
            .map(|s| s.doctype)
            .collect();
        let mut ids = Vec::new();
        for item in indexes
            .iter()
            .filter_map(|&i| items.get(i).and_then(Option::as_ref))
        {
            let current = self.store().item(commune.id, item.id).await?;
            if current.status == Status::Closed
                && !current
                    .doctype_code
                    .as_ref()
                    .is_some_and(|c| destroyed.contains(c))
            {
                ids.push(item.id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let (transfer, _) = self
            .transfer_to_archives(commune, &actor, &ids, None, now)
            .await?;
        let agency = format!("FRAD{:0>3}", commune.departement);
        let ack = acknowledgement_xml(
            "AR-DEMO-1",
            &transfer.identifier,
            now,
            &agency,
            &commune.siren,
        );
        self.record_transfer_answer(commune, &actor, transfer.id, ack.as_bytes(), now)
            .await?;
        let reply = reply_xml(
            "REP-DEMO-1",
            &transfer.identifier,
            "OK",
            now,
            &agency,
            &commune.siren,
        );
        self.record_transfer_answer(commune, &actor, transfer.id, reply.as_bytes(), now)
            .await?;
        Ok(())
    }
}
