//! Citizens, end to end below the web: acknowledgements that a real SMTP server receives
//! with every legal date, the outbox surviving an SMTP server that refuses or is down,
//! missing documents and the tracking link, replies threaded back, and the deadline watch.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use crate::harness::{Db, Harness, SYSTEM, both};
use chrono::{DateTime, Duration, TimeZone, Utc};
use parapheur_app::citizens::Upload;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::reference_cases::reference_cases;
use parapheur_app::domain::{
    Channel, Commune, DocumentType, HolidayZone, NewContact, SilenceRule, Status,
};
use parapheur_app::{App, Change, Config, Party, SmtpSetting};
use parapheur_smtp::testing::{self, Mode, SmtpSink};
use parapheur_store::citizens::OutboxState;

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// The harness's register, reopened with the sink as its SMTP server.
async fn with_sink(h: &Harness, sink: &SmtpSink) -> App {
    let mut config: Config = h.config.clone();
    config.smtp = Some(SmtpSetting {
        host: "127.0.0.1".into(),
        port: sink.port,
        security: parapheur_app::SmtpSecurity::None,
        username: None,
        password: None,
        from: "ne-pas-repondre@parapheur.test".into(),
        timeout_seconds: 3,
    });
    config.public_url = "https://parapheur.test".into();
    App::open(&config).await.unwrap()
}

/// Registers `new` from `party`, with no file.
async fn registered(
    app: &App,
    commune: &Commune,
    new: NewItem,
    party: Option<Party>,
    at: DateTime<Utc>,
) -> parapheur_app::domain::item::Item {
    app.register_with_party(commune, &SYSTEM, new, party, Vec::new(), at)
        .await
        .unwrap()
        .item
}

/// The readable text of a received message (its text part, decoded).
fn text_of(data: &[u8]) -> (String, String) {
    let message = mail_parser::MessageParser::default().parse(data).unwrap();
    (
        message.subject().unwrap_or_default().to_owned(),
        message.body_text(0).unwrap_or_default().into_owned(),
    )
}

fn citizen(email: &str) -> Party {
    Party::New(Box::new(NewContact {
        kind: None,
        civility: Some("Madame".into()),
        first_name: Some("Jeanne".into()),
        name: "Martin".into(),
        organisation: None,
        address: Some("3 rue des Tilleuls".into()),
        postal_code: Some("37250".into()),
        city: Some("Montbazon".into()),
        email: Some(email.into()),
        phone: None,
        siret: None,
    }))
}

async fn doctype_like(
    app: &App,
    commune: &Commune,
    code: &str,
    delay: parapheur_app::domain::Delay,
    silence: SilenceRule,
) {
    let mut d: DocumentType = parapheur_app::domain::doctype::default_set()
        .into_iter()
        .next()
        .unwrap();
    d.code = code.into();
    d.label = format!("Demande {code}");
    d.delay = delay;
    d.silence = silence;
    d.no_acknowledgement = false;
    app.add_doctype(commune, &d, &SYSTEM, utc(2026, 1, 2, 9))
        .await
        .unwrap();
}

/// Every hand-checked request of the reference table: registered, acknowledged by email,
/// delivered to the real SMTP server; the AR it received states the receipt date and the
/// date silence gives a decision, with its meaning.
async fn acknowledgements_state_the_reference_dates(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let sink = testing::start().await;
    let app = with_sink(&h, &sink).await;
    let now = utc(2028, 9, 1, 9);
    // One commune per zone of the table; R112-5 2°: the service's address, email and phone
    // are in every AR.
    let mut communes = std::collections::HashMap::new();
    for (zone, insee, phone) in [
        (HolidayZone::Metropole, "37154", "02 47 26 01 30"), // Montbazon
        (HolidayZone::AlsaceMoselle, "67482", "03 68 98 50 00"), // Strasbourg
        // Good Friday is worked in this one (a commune setting, L3134-13).
        (
            HolidayZone::AlsaceMoselleWithoutGoodFriday,
            "57463",
            "03 87 55 50 00",
        ), // Metz
        (HolidayZone::Guadeloupe, "97105", "05 90 81 10 10"), // Basse-Terre
        (HolidayZone::Martinique, "97209", "05 96 75 81 81"), // Fort-de-France
        (HolidayZone::Guyane, "97302", "05 94 29 81 00"),     // Cayenne
        (HolidayZone::LaReunion, "97411", "02 62 40 04 04"),  // Saint-Denis
        (HolidayZone::Mayotte, "97611", "02 69 61 10 90"),    // Mamoudzou
        (HolidayZone::SaintBarthelemy, "97701", "05 90 29 80 40"),
        (HolidayZone::SaintMartin, "97801", "05 90 87 50 04"),
    ] {
        let mut commune = h.commune(insee).await;
        if zone == HolidayZone::AlsaceMoselleWithoutGoodFriday {
            commune = app
                .set_good_friday(&commune, false, &SYSTEM, now)
                .await
                .unwrap();
        }
        assert_eq!(commune.holiday_zone(), zone, "{insee}");
        app.update_commune_settings(
            &commune,
            &SYSTEM,
            parapheur_app::administration::SettingsForm {
                address: format!(
                    "1 place de la Mairie\n{} {}",
                    commune.postal_code, commune.name
                ),
                phone: phone.into(),
                email: format!("mairie@{}.fr", commune.insee),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        communes.insert(zone, (commune, phone));
    }
    let mut expected = Vec::new();
    for (n, case) in reference_cases().into_iter().enumerate() {
        let (commune, _) = &communes[&case.zone];
        let code = format!("cas-{n}");
        doctype_like(&app, commune, &code, case.delay, case.silence).await;
        // Paper and email alternately: both wordings (R112-5, R112-11-1) go through SMTP.
        let channel = if n % 2 == 1 {
            Channel::Email
        } else {
            Channel::Paper
        };
        let first = case.registered_as.unwrap_or(case.arrival);
        let mut new = NewItem::incoming(channel, format!("Demande n° {n}"), first);
        new.doctype_code = Some(code);
        new.first_receipt_elsewhere = case.first_receipt_elsewhere;
        let email = format!("demandeur{n}@exemple.fr");
        let item = registered(&app, commune, new, Some(citizen(&email)), now).await;
        if case.registered_as.is_some() {
            let change = Change::Arrival {
                date: case.arrival,
                reason: "délivré avant la relève".into(),
            };
            app.change_item(commune, &SYSTEM, item.id, change, now)
                .await
                .unwrap();
        }
        if let Some(missing) = case.incomplete {
            app.change_item(
                commune,
                &SYSTEM,
                item.id,
                Change::Incomplete {
                    requested_on: missing.requested_on,
                    missing: vec!["Plan de situation".into()],
                    deadline: missing.deadline,
                },
                now,
            )
            .await
            .unwrap();
            if let Some(on) = missing.completed_on {
                // Completing the request sends the AR with the dates that now run.
                app.change_item(commune, &SYSTEM, item.id, Change::Completed { on }, now)
                    .await
                    .unwrap();
            }
        }
        let stored = app.store().item(commune.id, item.id).await.unwrap();
        assert_eq!(stored.due_date, case.expected_due, "{}", case.label);
        assert_eq!(
            stored.silence_date, case.expected_silence_date,
            "{}",
            case.label
        );
        if case.incomplete.is_none_or(|m| m.completed_on.is_none()) {
            let to = app
                .send_acknowledgement(commune, &SYSTEM, item.id, now)
                .await
                .unwrap();
            assert_eq!(to, email);
        }
        expected.push((email, case, channel, commune.clone()));
    }
    // The sender takes 20 at a time.
    let mut sent = 0;
    loop {
        let report = app.deliver_outbox(now).await.unwrap();
        assert_eq!(report.retried + report.failed, 0, "{report:?}");
        if report.sent == 0 {
            break;
        }
        sent += report.sent;
    }
    assert_eq!(sent, expected.len());
    let received = sink
        .wait_for(expected.len(), StdDuration::from_secs(20))
        .await;
    for (email, case, channel, commune) in &expected {
        let message = received
            .iter()
            .find(|r| r.rcpt_to.iter().any(|t| t == email))
            .unwrap_or_else(|| panic!("no AR received for {}", case.label));
        assert_eq!(
            received
                .iter()
                .filter(|r| r.rcpt_to.iter().any(|t| t == email))
                .count(),
            1,
            "{}: one AR each",
            case.label
        );
        let (subject, text) = text_of(&message.data);
        assert!(subject.contains("Accusé de réception"), "{subject}");
        let (must, must_not) = case.ar_mentions(*channel == Channel::Email);
        for mention in must {
            assert!(text.contains(&mention), "{}: {mention}\n{text}", case.label);
        }
        for mention in must_not {
            assert!(!text.contains(mention), "{}: {mention}\n{text}", case.label);
        }
        if case.waiting_for_documents() {
            assert!(text.contains("Plan de situation"), "{}\n{text}", case.label);
        }
        // R112-5 2°: the service in charge, its address, email and phone.
        for mention in [
            format!("Mairie de {}", commune.name),
            "1 place de la Mairie".to_owned(),
            format!("mairie@{}.fr", commune.insee),
        ] {
            assert!(text.contains(&mention), "{}: {mention}\n{text}", case.label);
        }
        let (_, phone) = communes[&case.zone];
        assert!(text.contains(phone), "{}\n{text}", case.label);
        // The PDF is attached.
        let parsed = mail_parser::MessageParser::default()
            .parse(&message.data)
            .unwrap();
        assert!(
            parsed
                .attachments()
                .any(|a| a.contents().starts_with(b"%PDF-")),
            "{}",
            case.label
        );
    }
}

/// An SMTP server that refuses for now, then is down for a day, then comes back: the
/// message waits and leaves once; one refused for good is marked failed with the reason.
async fn the_outbox_survives_a_failing_smtp_server(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let sink = testing::start().await;
    let app = with_sink(&h, &sink).await;
    let commune = h.commune("37154").await;
    doctype_like(
        &app,
        &commune,
        "voirie",
        parapheur_app::domain::Delay::Months(2),
        SilenceRule::Acceptance,
    )
    .await;
    let t0 = utc(2026, 3, 2, 9);
    let mut new = NewItem::incoming(Channel::Paper, "Terrasse", t0.date_naive());
    new.doctype_code = Some("voirie".into());
    let item = registered(&app, &commune, new, Some(citizen("jeanne@exemple.fr")), t0).await;
    app.send_acknowledgement(&commune, &SYSTEM, item.id, t0)
        .await
        .unwrap();

    sink.set_mode(Mode::TempFail);
    let r = app.deliver_outbox(t0).await.unwrap();
    assert_eq!((r.sent, r.retried), (0, 1));
    let waiting = app.store().outbox(commune.id, 10).await.unwrap();
    assert_eq!(waiting[0].state, OutboxState::Pending);
    let reason = waiting[0].last_error.as_deref().unwrap();
    assert!(reason.contains("451"), "{reason}");
    // Not due again before its backoff.
    assert_eq!(
        app.deliver_outbox(t0 + Duration::seconds(10))
            .await
            .unwrap()
            .retried,
        0
    );

    // Down (nothing listening) for a whole day: retried all along, never dropped.
    let dead = {
        let mut config: Config = h.config.clone();
        config.smtp = Some(SmtpSetting {
            host: "127.0.0.1".into(),
            port: 9, // discard: closed on loopback
            security: parapheur_app::SmtpSecurity::None,
            username: None,
            password: None,
            from: "ne-pas-repondre@parapheur.test".into(),
            timeout_seconds: 2,
        });
        App::open(&config).await.unwrap()
    };
    let mut at = t0;
    for _ in 0..30 {
        at += Duration::hours(1);
        dead.deliver_outbox(at).await.unwrap();
    }
    let still = app.store().outbox(commune.id, 10).await.unwrap();
    assert_eq!(
        still[0].state,
        OutboxState::Pending,
        "{:?}",
        still[0].last_error
    );

    // A server that takes the connection and never answers: a timeout, retried later.
    sink.set_mode(Mode::Hang);
    at += Duration::hours(2);
    let r = app.deliver_outbox(at).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 1, 0));
    let hung = app.store().outbox(commune.id, 10).await.unwrap();
    assert_eq!(hung[0].state, OutboxState::Pending);

    sink.set_mode(Mode::Accept);
    at += Duration::hours(2);
    let r = app.deliver_outbox(at).await.unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(sink.wait_for(1, StdDuration::from_secs(10)).await.len(), 1);
    let done = app.store().outbox(commune.id, 10).await.unwrap();
    assert_eq!(done[0].state, OutboxState::Sent);
    // Sent once: nothing more leaves.
    assert_eq!(
        app.deliver_outbox(at + Duration::hours(5))
            .await
            .unwrap()
            .sent,
        0
    );

    // Refused for good (550): failed at once, with the server's reason, for the administrator.
    sink.set_mode(Mode::PermFail);
    app.send_acknowledgement(&commune, &SYSTEM, item.id, at)
        .await
        .unwrap();
    let r = app.deliver_outbox(at).await.unwrap();
    assert_eq!(r.failed, 1);
    let failed = app
        .store()
        .outbox(commune.id, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.state == OutboxState::Failed)
        .unwrap();
    assert!(failed.last_error.is_some());
    // The administrator sends it again once the address is fixed.
    sink.set_mode(Mode::Accept);
    app.retry_email(&commune, failed.id, at).await.unwrap();
    assert_eq!(app.deliver_outbox(at).await.unwrap().sent, 1);
}

/// A request from a public form: both acknowledgements arrive; documents are asked for,
/// the citizen adds them through the tracking link and the SVA delay restarts; the agent
/// replies; the citizen's answer by email comes back to the same request.
async fn a_request_goes_from_form_to_reply(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let sink = testing::start().await;
    let app = with_sink(&h, &sink).await;
    let commune = app
        .create_commune("37154", &SYSTEM, utc(2026, 1, 2, 9))
        .await
        .unwrap();
    let form = parapheur_app::demo_forms()
        .into_iter()
        .find(|f| f.code == "reservation-salle")
        .unwrap();
    app.save_request_form(
        &commune,
        &SYSTEM,
        parapheur_app::citizens::FormInput {
            code: form.code.clone(),
            title: form.title.clone(),
            intro: form.intro.clone(),
            doctype_code: form.doctype_code.clone(),
            service_id: None,
            fields_json: parapheur_app::domain::request_form::fields_to_json(&form.fields),
            consent: form.consent.clone(),
            active: true,
        },
        utc(2026, 1, 2, 9),
    )
    .await
    .unwrap();
    let now = utc(2026, 3, 2, 9);
    let mut values = BTreeMap::new();
    for (k, v) in [
        ("civilite", "Madame"),
        ("prenom", "Jeanne"),
        ("nom", "Martin"),
        ("adresse", "3 rue des Tilleuls"),
        ("code_postal", "37250"),
        ("ville", "Montbazon"),
        ("courriel", "jeanne.martin@exemple.fr"),
        ("consentement", "oui"),
    ] {
        values.insert(k.to_owned(), v.to_owned());
    }
    for field in &form.fields {
        let value = match &field.kind {
            parapheur_app::domain::request_form::FieldKind::Choice { options } => {
                options[0].clone()
            }
            parapheur_app::domain::request_form::FieldKind::Date => "2026-04-18".into(),
            parapheur_app::domain::request_form::FieldKind::File => continue,
            _ => "Anniversaire <script>alert(1)</script>".into(),
        };
        values.insert(field.key.clone(), value);
    }
    let submitted = match app
        .submit_request(&commune, "reservation-salle", &values, Vec::new(), now)
        .await
    {
        Ok(s) => s,
        Err(parapheur_app::citizens::SubmitError::Fields(e)) => panic!("{e:?}"),
        Err(parapheur_app::citizens::SubmitError::App(e)) => panic!("{e}"),
    };
    let item = submitted.item;
    assert_eq!(item.channel, Channel::Form);
    assert!(
        submitted
            .tracking_url
            .starts_with("https://parapheur.test/suivi/")
    );
    let token = submitted
        .tracking_url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    app.deliver_outbox(now).await.unwrap();
    let received = sink.wait_for(2, StdDuration::from_secs(10)).await;
    let texts: Vec<(String, String)> = received.iter().map(|r| text_of(&r.data)).collect();
    let registration = texts
        .iter()
        .find(|(s, _)| s.contains("enregistrement"))
        .expect("accusé d'enregistrement");
    assert!(registration.1.contains(&item.chrono));
    let receipt = texts
        .iter()
        .find(|(s, _)| s.contains("Accusé de réception"))
        .expect("accusé de réception");
    // A request outside any procedure set by a text, two months from 2 March 2026:
    // rejected on 2 May 2026 (L231-4 2°).
    assert!(receipt.1.contains("2 mars 2026"), "{}", receipt.1);
    assert!(
        receipt.1.contains("réputée rejetée le 2 mai 2026"),
        "{}",
        receipt.1
    );
    assert!(receipt.1.contains(&submitted.tracking_url));
    // Sent once, whatever happens next.
    assert_eq!(app.deliver_outbox(now).await.unwrap().sent, 0);

    // L114-5: documents asked on 5 March; the list reaches the citizen.
    let asked = utc(2026, 3, 5, 9);
    let waiting = app
        .request_documents(
            &commune,
            &SYSTEM,
            item.id,
            vec!["Attestation d'assurance".into()],
            Some(chrono::NaiveDate::from_ymd_opt(2026, 4, 5).unwrap()),
            asked,
        )
        .await
        .unwrap();
    assert_eq!(waiting.status, Status::AwaitingDocuments);
    // L114-5 al. 3: suspended until 5 April at most, 31 days: 2 May + 31 = 2 June.
    assert_eq!(
        waiting.silence_date,
        chrono::NaiveDate::from_ymd_opt(2026, 6, 2)
    );
    app.deliver_outbox(asked).await.unwrap();
    let received = sink.wait_for(3, StdDuration::from_secs(10)).await;
    let (_, list) = text_of(&received[2].data);
    assert!(list.contains("Attestation d'assurance"), "{list}");
    assert!(list.contains("avant le 5 avril 2026"), "{list}");

    // A guessed or altered link leads nowhere.
    assert!(
        app.tracking("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await
            .is_err()
    );
    let mut altered = token.clone().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    assert!(
        app.tracking(&String::from_utf8(altered).unwrap())
            .await
            .is_err()
    );

    // The citizen sends the document on 10 March through the tracking link.
    let completed = utc(2026, 3, 10, 15);
    app.citizen_answer(
        &token,
        "Voici l'attestation.",
        vec![Upload {
            field: String::new(),
            filename: "attestation.pdf".into(),
            bytes: b"%PDF-1.4\n% attestation\n".to_vec(),
        }],
        completed,
    )
    .await
    .unwrap();
    let view = app.tracking(&token).await.unwrap();
    assert_eq!(view.item.status, Status::InProgress);
    // SVR: the documents end the suspension on 10 March, 5 days: 7 May 2026.
    assert_eq!(
        view.item.silence_date,
        chrono::NaiveDate::from_ymd_opt(2026, 5, 7)
    );
    assert_eq!(view.attachments.len(), 1);
    assert!(view.messages.iter().any(|m| m.from_citizen));
    // The new date reaches the citizen at once, in a new AR (L114-5, R112-5).
    app.deliver_outbox(completed).await.unwrap();
    let received = sink.wait_for(4, StdDuration::from_secs(10)).await;
    let (subject, text) = text_of(&received[3].data);
    assert!(subject.contains("Accusé de réception"), "{subject}");
    assert!(
        text.contains("réputée rejetée") && text.contains("7 mai 2026"),
        "{text}"
    );
    assert!(
        !text.contains("Attestation d'assurance"),
        "no longer missing: {text}"
    );
    // A disguised file is refused and nothing is added.
    let refused = app
        .citizen_answer(
            &token,
            "",
            vec![Upload {
                field: String::new(),
                filename: "facture.pdf".into(),
                bytes: b"MZ\x90\x00 not a pdf".to_vec(),
            }],
            completed,
        )
        .await;
    assert!(refused.unwrap_err().to_string().contains("ni un PDF"));
    assert_eq!(app.tracking(&token).await.unwrap().attachments.len(), 1);

    // A holding reply: registered and sent, but the request still runs to its deadline.
    let holding_at = utc(2026, 3, 11, 10);
    app.reply_by_email(
        &commune,
        &SYSTEM,
        item.id,
        "Votre demande est à l'étude",
        "Nous revenons vers vous rapidement.",
        false,
        holding_at,
    )
    .await
    .unwrap();
    let still = app.store().item(commune.id, item.id).await.unwrap();
    assert_eq!(still.status, Status::InProgress);
    assert_eq!(
        still.silence_date,
        chrono::NaiveDate::from_ymd_opt(2026, 5, 7)
    );
    app.deliver_outbox(holding_at).await.unwrap();
    sink.wait_for(5, StdDuration::from_secs(10)).await;

    // The agent replies from a template with variables.
    let reply_at = utc(2026, 3, 12, 10);
    let reply = app
        .reply_by_email(
            &commune,
            &SYSTEM,
            item.id,
            "Réservation de la salle",
            "{{contact.civilite}} {{contact.nom}},\nvotre demande {{courrier.numero}} est acceptée.",
            true,
            reply_at,
        )
        .await
        .unwrap();
    assert_eq!(
        reply.item.direction,
        parapheur_app::domain::Direction::Outgoing
    );
    app.deliver_outbox(reply_at).await.unwrap();
    let received = sink.wait_for(6, StdDuration::from_secs(10)).await;
    let sent_reply = mail_parser::MessageParser::default()
        .parse(&received[5].data)
        .unwrap();
    let body = sent_reply.body_text(0).unwrap().into_owned();
    assert!(body.contains("Madame Martin,"), "{body}");
    assert!(body.contains(&item.chrono));
    assert!(sent_reply.subject().unwrap().contains(&item.chrono));
    let reply_id = sent_reply.message_id().unwrap().to_owned();
    // The citizen sees it behind the tracking link.
    let view = app.tracking(&token).await.unwrap();
    assert!(
        view.messages
            .iter()
            .any(|m| m.reply_item_id == Some(reply.item.id))
    );
    assert_eq!(view.item.status, Status::ReplySent);

    // The citizen answers by email: it comes back to the same request.
    let answer = format!(
        "From: Jeanne Martin <jeanne.martin@exemple.fr>\r\nTo: mairie@montbazon.fr\r\nSubject: Re: Réservation\r\nMessage-ID: <merci-1@exemple.fr>\r\nIn-Reply-To: <{reply_id}>\r\nDate: Fri, 13 Mar 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMerci beaucoup !\r\n"
    );
    let outcome = app
        .capture_message(
            &commune,
            parapheur_app::capture::MessageSource::import("réponse du demandeur"),
            Ok(answer.into_bytes()),
            utc(2026, 3, 13, 8),
        )
        .await
        .unwrap();
    match outcome {
        parapheur_app::capture::CaptureOutcome::Attached { item_id, .. } => {
            assert_eq!(item_id, item.id)
        }
        other => panic!("not threaded: {other:?}"),
    }
    // It is in the public thread: the tracking page shows it.
    let view = app.tracking(&token).await.unwrap();
    assert!(
        view.messages
            .iter()
            .any(|m| m.from_citizen && m.body.contains("Merci beaucoup"))
    );
}

/// Silence kept until the end of the silence date: the implicit decision is recorded the
/// next day, once; the morning digest goes once a day to those concerned.
async fn the_watch_records_decisions_and_sends_digests(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let sink = testing::start().await;
    let app = with_sink(&h, &sink).await;
    let commune = h.commune("37154").await;
    doctype_like(
        &app,
        &commune,
        "sva",
        parapheur_app::domain::Delay::Months(2),
        SilenceRule::Acceptance,
    )
    .await;
    app.add_user(
        &commune,
        parapheur_app::NewUser {
            email: "maire@montbazon.fr".into(),
            display_name: "Sylvie Moreau".into(),
            title: Some("Maire".into()),
            role: parapheur_app::domain::Role::Elu,
            service_id: None,
            password: None,
            host_admin: false,
        },
        &SYSTEM,
        utc(2026, 1, 2, 9),
    )
    .await
    .unwrap();
    let arrival = utc(2026, 2, 1, 9);
    let mut new = NewItem::incoming(Channel::Paper, "Terrasse", arrival.date_naive());
    new.doctype_code = Some("sva".into());
    let item = registered(&app, &commune, new, Some(citizen("j@exemple.fr")), arrival).await;
    assert_eq!(
        item.silence_date,
        chrono::NaiveDate::from_ymd_opt(2026, 4, 1)
    );

    // 20 March, 8:00 in Montbazon: acceptance coming within 15 days → in the digest.
    let morning = utc(2026, 3, 20, 7);
    let r = app.run_deadline_watch(morning).await.unwrap();
    assert_eq!((r.decisions, r.digests), (0, 1));
    assert_eq!(
        app.run_deadline_watch(morning + Duration::hours(2))
            .await
            .unwrap()
            .digests,
        0
    );
    app.deliver_outbox(morning).await.unwrap();
    let digest = sink.wait_for(1, StdDuration::from_secs(10)).await;
    let (subject, text) = text_of(&digest[0].data);
    assert!(subject.contains("Échéances"), "{subject}");
    assert!(
        text.contains(&item.chrono) && text.contains("1er avril 2026"),
        "{text}"
    );

    // 1 April, the silence date itself: the commune can still answer, nothing is born.
    assert_eq!(
        app.run_deadline_watch(utc(2026, 4, 1, 20))
            .await
            .unwrap()
            .decisions,
        0
    );
    // 2 April: born at the end of 1 April, recorded once.
    let r = app.run_deadline_watch(utc(2026, 4, 2, 6)).await.unwrap();
    assert_eq!(r.decisions, 1);
    assert_eq!(
        app.run_deadline_watch(utc(2026, 4, 2, 8))
            .await
            .unwrap()
            .decisions,
        0
    );
    let after = app.store().item(commune.id, item.id).await.unwrap();
    assert_eq!(after.implicit_decision.as_deref(), Some("accepted"));
    assert_eq!(
        after.implicit_decision_on,
        chrono::NaiveDate::from_ymd_opt(2026, 4, 1)
    );
}

/// The paper mail of a morning: the accusés of two requests from people without an email
/// address printed in one PDF, each on its own page with its dates, and recorded as sent by
/// post; a type dispensed by R112-4 is left out with the reason; nothing is emailed.
async fn paper_acknowledgements_are_printed_in_one_pdf(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let sink = testing::start().await;
    let app = with_sink(&h, &sink).await;
    let commune = h.commune("37154").await;
    doctype_like(
        &app,
        &commune,
        "voirie",
        parapheur_app::domain::Delay::Months(2),
        SilenceRule::Acceptance,
    )
    .await;
    let mut dispensed: DocumentType = parapheur_app::domain::doctype::default_set()
        .into_iter()
        .next()
        .unwrap();
    dispensed.code = "abusive".into();
    dispensed.label = "Demande répétitive".into();
    dispensed.no_acknowledgement = true;
    app.add_doctype(&commune, &dispensed, &SYSTEM, utc(2026, 1, 2, 9))
        .await
        .unwrap();
    let t0 = utc(2026, 3, 2, 9);
    let mut items = Vec::new();
    for (subject, doctype, name) in [
        ("Terrasse de café", "voirie", "Durand"),
        ("Dépôt de matériaux", "voirie", "Lefèvre"),
        ("Même demande, encore", "abusive", "Moreau"),
    ] {
        let mut new = NewItem::incoming(Channel::Paper, subject, t0.date_naive());
        new.doctype_code = Some(doctype.into());
        let party = Party::New(Box::new(NewContact {
            kind: None,
            civility: Some("Monsieur".into()),
            first_name: None,
            name: name.into(),
            organisation: None,
            address: Some("1 route de Tours".into()),
            postal_code: Some("37250".into()),
            city: Some("Montbazon".into()),
            email: None,
            phone: None,
            siret: None,
        }));
        let item = app
            .register_with_party(&commune, &SYSTEM, new, Some(party), Vec::new(), t0)
            .await
            .unwrap()
            .item;
        items.push(item);
    }
    let waiting = app.unacknowledged(&commune, None, 50).await.unwrap();
    assert_eq!(waiting.len(), 2, "the dispensed type is not listed");
    assert!(waiting.iter().all(|(_, by_email)| !by_email));
    // Emailing is refused with the way out.
    let err = app
        .send_acknowledgement(&commune, &SYSTEM, items[0].id, t0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("imprimez"), "{err}");

    let ids: Vec<_> = items.iter().map(|i| i.id).collect();
    let done = app
        .print_acknowledgements(&commune, &SYSTEM, &ids, t0)
        .await
        .unwrap();
    assert_eq!(done.printed.len(), 2);
    assert_eq!(done.refused.len(), 1);
    assert!(done.refused[0].1.contains("R112-4"), "{:?}", done.refused);
    let pdf = done.pdf.unwrap();
    let text = pdf_text(&pdf);
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(pages.len(), 2, "{text}");
    for (page, item) in pages.iter().zip(&items) {
        assert!(page.contains(&item.chrono), "{page}");
        assert!(page.contains(&item.subject), "{page}");
        // Two months of silence from 2 March: accepted on 2 May 2026.
        assert!(page.contains("2 mai 2026"), "{page}");
    }
    assert!(pages[1].contains("Lefèvre") && !pages[1].contains("Durand"));

    for item in &items[..2] {
        let after = app.store().item(commune.id, item.id).await.unwrap();
        assert_eq!(after.acknowledged_at, Some(t0));
    }
    assert!(
        app.unacknowledged(&commune, None, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.deliver_outbox(t0).await.unwrap().sent,
        0,
        "nothing emailed"
    );
    // Printing the dispensed one alone: no PDF, the reason, nothing recorded.
    let again = app
        .print_acknowledgements(&commune, &SYSTEM, &ids[2..], t0)
        .await
        .unwrap();
    assert!(again.pdf.is_none() && again.printed.is_empty());
    let dispensed_item = app.store().item(commune.id, items[2].id).await.unwrap();
    assert_eq!(dispensed_item.acknowledged_at, None);
}

/// Documents asked for a request that has no type yet (so no AR): the list still reaches
/// the citizen, in a plain notice with the tracking link, together with the change.
async fn documents_for_an_untyped_request_go_in_a_notice(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let sink = testing::start().await;
    let app = with_sink(&h, &sink).await;
    let commune = h.commune("37154").await;
    let t0 = utc(2026, 3, 2, 9);
    let new = NewItem::incoming(Channel::Email, "Question sur le PLU", t0.date_naive());
    let item = registered(&app, &commune, new, Some(citizen("jeanne@exemple.fr")), t0).await;
    let waiting = app
        .request_documents(
            &commune,
            &SYSTEM,
            item.id,
            vec!["Plan cadastral".into()],
            None,
            t0,
        )
        .await
        .unwrap();
    assert_eq!(waiting.status, Status::AwaitingDocuments);
    assert_eq!(waiting.acknowledged_at, None, "a notice is not an AR");
    assert_eq!(app.deliver_outbox(t0).await.unwrap().sent, 1);
    let received = sink.wait_for(1, StdDuration::from_secs(10)).await;
    let (subject, text) = text_of(&received[0].data);
    assert!(subject.contains("Pièces manquantes"), "{subject}");
    assert!(text.contains("- Plan cadastral"), "{text}");
    assert!(text.contains("https://parapheur.test/suivi/"), "{text}");
    assert!(text.contains("L114-5"), "{text}");
    // A forged email in the citizen's name, quoting the number, with a file: registered
    // apart, it neither joins the request nor completes it (the trust issue's finding 7).
    let forged = format!(
        "From: Jeanne Martin <Jeanne@Exemple.fr>\r\nTo: mairie@montbazon.fr\r\nSubject: Pièces pour {chrono}\r\nMessage-ID: <faux-1@ailleurs.example>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoici.\r\n--b\r\nContent-Type: application/pdf; name=faux.pdf\r\nContent-Disposition: attachment; filename=faux.pdf\r\n\r\n%PDF-1.4 faux\r\n--b--\r\n",
        chrono = item.chrono
    );
    let outcome = app
        .capture_message(
            &commune,
            parapheur_app::capture::MessageSource::import("faux"),
            Ok(forged.into_bytes()),
            utc(2026, 3, 2, 10),
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, parapheur_app::capture::CaptureOutcome::Registered { item_id, .. } if item_id != item.id),
        "{outcome:?}"
    );
    let still = app.store().item(commune.id, item.id).await.unwrap();
    assert_eq!(still.status, Status::AwaitingDocuments);
    assert_eq!(still.incomplete_completed_on, None);
    assert!(
        app.store()
            .item_messages(commune.id, item.id)
            .await
            .unwrap()
            .iter()
            .all(|m| !m.from_citizen)
    );

    // The citizen answers the notice by email with the plan: it joins the request, which
    // is complete again.
    let notice_id = mail_parser::MessageParser::default()
        .parse(&received[0].data)
        .unwrap()
        .message_id()
        .unwrap()
        .to_owned();
    let answer = format!(
        "From: Jeanne Martin <Jeanne@Exemple.fr>\r\nTo: mairie@montbazon.fr\r\nSubject: Re: Pièces manquantes\r\nMessage-ID: <plan-1@exemple.fr>\r\nIn-Reply-To: <{notice_id}>\r\nDate: Tue, 3 Mar 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoici le plan.\r\n--b\r\nContent-Type: application/pdf; name=plan.pdf\r\nContent-Disposition: attachment; filename=plan.pdf\r\n\r\n%PDF-1.4 plan\r\n--b--\r\n"
    );
    let at = utc(2026, 3, 3, 8);
    let outcome = app
        .capture_message(
            &commune,
            parapheur_app::capture::MessageSource::import("réponse"),
            Ok(answer.into_bytes()),
            at,
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, parapheur_app::capture::CaptureOutcome::Attached { item_id, .. } if item_id == item.id),
        "{outcome:?}"
    );
    let after = app.store().item(commune.id, item.id).await.unwrap();
    assert_eq!(after.status, Status::InProgress);
    assert_eq!(after.incomplete_completed_on, Some(at.date_naive()));
    let token_url = text
        .split("https://parapheur.test/suivi/")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let view = app.tracking(&token_url).await.unwrap();
    assert!(
        view.messages
            .iter()
            .any(|m| m.from_citizen && m.body.contains("Voici le plan"))
    );
    assert_eq!(view.attachments.len(), 1);

    // Nothing to list: refused, nothing changed.
    let err = app
        .request_documents(&commune, &SYSTEM, item.id, vec!["  ".into()], None, t0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("au moins une pièce"), "{err}");
}

/// The text of a PDF (poppler's pdftotext); pages separated by form feeds.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ar.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Issue 16, correction 13 (L114-2): a request that is not for the commune goes to the
/// competent authority with its files, its sender is told, the item is closed as forwarded;
/// a closed one cannot be forwarded.
async fn a_request_not_for_us_is_forwarded(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let app = &h.app;
    let commune = h.commune("37154").await;
    let now = utc(2026, 3, 10, 9);
    let new = NewItem::incoming(
        Channel::Email,
        "Renouvellement de passeport",
        now.date_naive(),
    );
    let item = app
        .register_with_party(
            &commune,
            &SYSTEM,
            new,
            Some(citizen("jeanne@exemple.fr")),
            vec![parapheur_app::NewFile {
                filename: "formulaire.txt".into(),
                media_type: "text/plain".into(),
                bytes: b"Cerfa 12100".to_vec(),
            }],
            now,
        )
        .await
        .unwrap()
        .item;
    let authority = |name: &str, email: Option<&str>| parapheur_app::citizens::CompetentAuthority {
        name: name.into(),
        email: email.map(Into::into),
    };
    let refused = app
        .forward_to_competent_authority(&commune, &SYSTEM, item.id, authority(" ", None), now)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("autorité compétente"),
        "{refused}"
    );
    let closed = app
        .forward_to_competent_authority(
            &commune,
            &SYSTEM,
            item.id,
            authority(
                "Préfecture d'Indre-et-Loire",
                Some("titres@indre-et-loire.gouv.fr"),
            ),
            now,
        )
        .await
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(
        closed.close_reason,
        Some(parapheur_app::domain::CloseReason::Forwarded)
    );
    let outbox = app
        .store()
        .outbox_of_item(commune.id, item.id)
        .await
        .unwrap();
    let recipients: Vec<&str> = outbox.iter().map(|m| m.recipients.as_str()).collect();
    assert_eq!(
        recipients,
        ["jeanne@exemple.fr", "titres@indre-et-loire.gouv.fr"]
    );
    let thread = app
        .store()
        .item_messages(commune.id, item.id)
        .await
        .unwrap();
    let notice = &thread.iter().find(|m| m.kind == "forwarded").unwrap().body;
    for mention in [
        "Votre demande n° ",
        "reçue le 10 mars 2026, ne relève pas de la compétence de la mairie de Montbazon",
        "elle a été transmise le 10 mars 2026 à l'autorité compétente : Préfecture \
         d'Indre-et-Loire, qui vous répondra.",
        "(article L114-3)",
    ] {
        assert!(notice.contains(mention), "{mention}\n{notice}");
    }
    let notes = app.store().notes(commune.id, item.id).await.unwrap();
    assert_eq!(
        notes[0].body,
        "Transmise le 10 mars 2026 à l'autorité compétente : Préfecture d'Indre-et-Loire (par \
         courriel à titres@indre-et-loire.gouv.fr), article L114-2."
    );
    let again = app
        .forward_to_competent_authority(&commune, &SYSTEM, item.id, authority("Autre", None), now)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("L114-2"), "{again}");
}

both!(
    a_request_not_for_us_is_forwarded,
    acknowledgements_state_the_reference_dates,
    the_outbox_survives_a_failing_smtp_server,
    a_request_goes_from_form_to_reply,
    the_watch_records_decisions_and_sends_digests,
    paper_acknowledgements_are_printed_in_one_pdf,
    documents_for_an_untyped_request_go_in_a_notice,
);
