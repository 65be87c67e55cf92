//! The phone system's calls (issue 18, point 3), on SQLite and PostgreSQL: the caller found
//! among the contacts whatever form the PBX writes the number in, the agent by extension,
//! by `answeringNumber` or by `user[]`, missed calls journaled with their callback item
//! (assigned to the agent whose phone rang, unassigned otherwise), hidden numbers and
//! outgoing calls leaving no task, extensions unique and journaled, and an owner whose role
//! does not register mail refused.

use crate::harness::{Db, Harness, SYSTEM, at, both};
use parapheur_app::calls::CallOutcome;
use parapheur_app::domain::Role;
use parapheur_app::domain::contact::NewContact;
use parapheur_app::domain::cti::{CallEvent, CallRefusal, CallState, Transition};
use parapheur_app::{Actor, AppError};

fn event(pairs: &[(&str, &str)]) -> CallEvent {
    CallEvent::from_pairs(pairs.iter().copied()).unwrap()
}

fn ring(call: &str, from: &str, to: &str) -> CallEvent {
    event(&[
        ("event", "newCall"),
        ("callId", call),
        ("from", from),
        ("to", to),
        ("direction", "in"),
    ])
}

fn hang_up(call: &str, cause: &str) -> CallEvent {
    event(&[
        ("event", "hangup"),
        ("callId", call),
        ("direction", "in"),
        ("cause", cause),
    ])
}

fn answer(call: &str) -> CallEvent {
    event(&[("event", "answer"), ("callId", call), ("direction", "in")])
}

/// `event` posted by `actor` and accepted: its outcome.
async fn taken(
    h: &Harness,
    commune: &parapheur_app::domain::Commune,
    actor: &Actor,
    event: CallEvent,
    at: chrono::DateTime<chrono::Utc>,
) -> CallOutcome {
    h.app
        .call_event(commune, actor, event, at)
        .await
        .unwrap()
        .unwrap()
}

fn user_id(actor: &Actor) -> uuid::Uuid {
    match actor {
        Actor::User(id) => *id,
        Actor::System(_) => unreachable!(),
    }
}

/// Jeanne Martin, a contact of `commune` reachable at `phone`.
async fn jeanne_martin(
    h: &Harness,
    commune: &parapheur_app::domain::Commune,
    phone: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> parapheur_app::domain::Contact {
    h.app
        .create_contact(
            commune,
            &SYSTEM,
            NewContact {
                name: "Martin".into(),
                first_name: Some("Jeanne".into()),
                phone: Some(phone.into()),
                ..Default::default()
            },
            at,
        )
        .await
        .unwrap()
}

async fn callers_and_agents_are_recognised(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let standard = h.user(&commune, "standard@mairie.test", Role::Agent).await;
    let accueil = Actor::User(
        h.app
            .add_user(
                &commune,
                parapheur_app::NewUser {
                    email: "accueil@mairie.test".into(),
                    display_name: "Accueil Mairie".into(),
                    title: None,
                    role: Role::Agent,
                    service_id: None,
                    password: None,
                    host_admin: false,
                },
                &SYSTEM,
                t0,
            )
            .await
            .unwrap()
            .id,
    );
    let urbanisme = h.user(&commune, "urbanisme@mairie.test", Role::Agent).await;
    // The urbanism office's direct line, in national form; the PBX sends it in E.164.
    h.app
        .set_phone_extension(&commune, &SYSTEM, user_id(&urbanisme), "02 47 00 01 00", t0)
        .await
        .unwrap();
    let contact = jeanne_martin(&h, &commune, "+33 6 12 34 56 78", t0).await;
    for (n, from) in [
        "0612345678",
        "06.12.34.56.78",
        "0033612345678",
        "33612345678",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("forme-{n}");
        let done = taken(&h, &commune, &standard, ring(&id, from, "+33247000100"), t0).await;
        assert_eq!(done.transition, Transition::Create);
        assert_eq!(done.call.contact_id, Some(contact.id), "{from}");
        assert_eq!(done.call.agent_id, Some(user_id(&urbanisme)), "{from}");
    }
    // `user[]` names the agent when no extension is known; `answeringNumber` who picked up.
    let mut by_name = ring("nom-1", "0700000000", "999");
    by_name.users = vec!["accueil mairie".into()];
    let done = taken(&h, &commune, &standard, by_name, t0).await;
    assert_eq!(done.call.agent_id, Some(user_id(&accueil)));
    assert_eq!(done.call.contact_id, None);
    let answered = taken(
        &h,
        &commune,
        &standard,
        event(&[
            ("event", "answer"),
            ("callId", "nom-1"),
            ("direction", "in"),
            ("answeringNumber", "urbanisme@mairie.test"),
        ]),
        t0,
    )
    .await;
    assert_eq!(answered.call.state, CallState::Answered);
    assert_eq!(answered.call.agent_id, Some(user_id(&urbanisme)));
    // Two people may not share an extension.
    let refused = h
        .app
        .set_phone_extension(&commune, &SYSTEM, user_id(&accueil), "0247000100", t0)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let journal = h.app.store().journal_entries(commune.id).await.unwrap();
    assert!(journal.iter().any(|e| e.action == "user.phone_extension"));
}

async fn missed_calls_leave_a_callback_task(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let standard = h.user(&commune, "standard@mairie.test", Role::Agent).await;
    let agent = h.user(&commune, "agent@mairie.test", Role::Agent).await;
    h.app
        .set_phone_extension(&commune, &SYSTEM, user_id(&agent), "100", t0)
        .await
        .unwrap();
    let journal = |h: &Harness| {
        let store = h.app.store().clone();
        async move { store.journal_entries(commune.id).await.unwrap() }
    };
    // Rang on extension 100, never answered: a task for that agent, journaled.
    taken(
        &h,
        &commune,
        &standard,
        ring("m-1", "0611223344", "100"),
        t0,
    )
    .await;
    let done = taken(&h, &commune, &standard, hang_up("m-1", "cancel"), t0).await;
    assert_eq!(done.transition, Transition::Hangup { missed: true });
    let item = done.callback.expect("a callback item").item;
    assert_eq!(item.subject, "Appel manqué de 06 11 22 33 44 — à rappeler");
    assert_eq!(item.assignee_id, Some(user_id(&agent)));
    assert_eq!(item.doctype_code.as_deref(), Some("appel"));
    let entries = journal(&h).await;
    let missed = entries.iter().find(|e| e.action == "call.missed").unwrap();
    assert_eq!(
        missed.actor,
        standard.journal_name(),
        "journaled as the token's owner"
    );
    // The replay: the same call, no second task.
    let again = taken(&h, &commune, &standard, hang_up("m-1", "cancel"), t0).await;
    assert_eq!(again.transition, Transition::Replay);
    assert!(again.callback.is_none());
    assert_eq!(journal(&h).await.len(), entries.len());
    // An extension nobody has: the task is left unassigned, for the registrars.
    taken(
        &h,
        &commune,
        &standard,
        ring("m-2", "0611223344", "555"),
        t0,
    )
    .await;
    let done = taken(&h, &commune, &standard, hang_up("m-2", "noAnswer"), t0).await;
    assert_eq!(done.callback.unwrap().item.assignee_id, None);
    // A hidden number: journaled, but nobody can call it back.
    taken(&h, &commune, &standard, ring("m-3", "anonymous", "100"), t0).await;
    let before = journal(&h).await.len();
    let done = taken(&h, &commune, &standard, hang_up("m-3", "noAnswer"), t0).await;
    assert!(done.call.missed && done.callback.is_none());
    assert_eq!(journal(&h).await.len(), before + 1);
    // Outgoing, unanswered: not a missed call. Forwarded: neither.
    let mut out = ring("m-4", "100", "0611223344");
    out.direction = parapheur_app::domain::cti::CallDirection::Out;
    taken(&h, &commune, &standard, out, t0).await;
    let done = taken(&h, &commune, &standard, hang_up("m-4", "busy"), t0).await;
    assert!(!done.call.missed && done.callback.is_none());
    taken(
        &h,
        &commune,
        &standard,
        ring("m-5", "0611223344", "100"),
        t0,
    )
    .await;
    let done = taken(&h, &commune, &standard, hang_up("m-5", "forwarded"), t0).await;
    assert!(!done.call.missed);
}

async fn refusals_write_nothing(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let standard = h.user(&commune, "standard@mairie.test", Role::Agent).await;
    let before = h.app.store().journal_len(commune.id).await.unwrap();
    let refused = h
        .app
        .call_event(&commune, &standard, hang_up("x-1", "noAnswer"), t0)
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), CallRefusal::Unknown);
    taken(
        &h,
        &commune,
        &standard,
        ring("x-2", "0611223344", "100"),
        t0,
    )
    .await;
    taken(&h, &commune, &standard, hang_up("x-2", "noAnswer"), t0).await;
    let after_hangup = h.app.store().journal_len(commune.id).await.unwrap();
    let late = answer("x-2");
    let refused = h
        .app
        .call_event(&commune, &standard, late, t0)
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err().code(), "call_out_of_order");
    assert_eq!(
        h.app.store().journal_len(commune.id).await.unwrap(),
        after_hangup
    );
    assert!(after_hangup > before);
    // An elected official's token cannot register mail, so cannot take calls.
    let elu = h.user(&commune, "elu@mairie.test", Role::Elu).await;
    let err = h
        .app
        .call_event(&commune, &elu, ring("x-3", "0611223344", "100"), t0)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err:?}");
    assert!(h.app.call_by_ref(&commune, "x-3").await.unwrap().is_none());
}

/// A WAV of a tenth of a second of silence (8 kHz, 16 bits, mono), as Asterisk records.
fn wav() -> Vec<u8> {
    let samples = vec![0u8; 1600];
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    w.extend_from_slice(&samples);
    w
}

/// Asterisk's voicemail email with its default template (voicemail.conf), the recording
/// attached as `audio/x-wav`.
pub(crate) fn asterisk_voicemail(caller_id: &str, mailbox: &str) -> Vec<u8> {
    use base64::Engine;
    let audio = base64::engine::general_purpose::STANDARD.encode(wav());
    format!(
        "From: \"Asterisk PBX\" <asterisk@pbx.mairie.test>\r\n\
         To: \"Marie Agent\" <accueil@mairie.test>\r\n\
         Subject: [PBX]: New message 1 in mailbox {mailbox}\r\n\
         Date: Mon, 02 Mar 2026 09:12:03 +0100\r\n\
         Message-ID: <Asterisk-1-{mailbox}@pbx.mairie.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"----voicemail_1\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n\r\n\
         ------voicemail_1\r\n\
         Content-Type: text/plain; charset=ISO-8859-1\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         Dear Marie Agent:\r\n\r\n\tjust wanted to let you know you were just left a 0:12 long message (number 1)\r\n\
         in mailbox {mailbox} from {caller_id}, on Monday, March 02, 2026 at 09:12:03 AM so you might\r\n\
         want to check it when you get a chance.  Thanks!\r\n\r\n\t\t\t\t--Asterisk\r\n\r\n\
         ------voicemail_1\r\n\
         Content-Type: audio/x-wav; name=\"msg0000.wav\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Description: Voicemail sound attachment.\r\n\
         Content-Disposition: attachment; filename=\"msg0000.wav\"\r\n\r\n\
         {audio}\r\n\r\n\
         ------voicemail_1--\r\n"
    )
    .into_bytes()
}

async fn an_emailed_voicemail_becomes_a_phone_item(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let agent = h.user(&commune, "agent@mairie.test", Role::Agent).await;
    h.app
        .set_phone_extension(&commune, &SYSTEM, user_id(&agent), "100", t0)
        .await
        .unwrap();
    let contact = jeanne_martin(&h, &commune, "06 12 34 56 78", t0).await;
    let outcome = h
        .app
        .capture_message(
            &commune,
            parapheur_app::capture::MessageSource::import("messagerie"),
            Ok(asterisk_voicemail("\"J. Martin\" <0612345678>", "100")),
            t0,
        )
        .await
        .unwrap();
    let parapheur_app::capture::CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let item = h.app.store().item(commune.id, item_id).await.unwrap();
    assert_eq!(
        item.channel,
        parapheur_app::domain::Channel::Phone,
        "not an email"
    );
    assert_eq!(item.subject, "Message vocal de Jeanne Martin");
    assert_eq!(item.doctype_code.as_deref(), Some("appel"));
    assert_eq!(
        item.assignee_id,
        Some(user_id(&agent)),
        "mailbox 100 is hers"
    );
    assert!(
        item.body
            .as_deref()
            .unwrap()
            .starts_with("Numéro à rappeler : 06 12 34 56 78"),
        "{:?}",
        item.body
    );
    let parties = h.app.store().item_contacts(item_id).await.unwrap();
    assert_eq!(parties.len(), 1);
    assert_eq!(
        parties[0].1, contact.id,
        "the caller, not the PBX's address"
    );
    let attachments = h
        .app
        .store()
        .attachments(commune.id, item_id)
        .await
        .unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].media_type, "audio/wav");
    assert_eq!(
        h.app
            .read_file(commune.id, &attachments[0].sha256)
            .await
            .unwrap(),
        wav(),
        "the recording kept byte for byte"
    );
    // An unknown caller: a phone item named after the number.
    let outcome = h
        .app
        .capture_message(
            &commune,
            parapheur_app::capture::MessageSource::import("messagerie-2"),
            Ok(asterisk_voicemail("<+33700000001>", "555")),
            t0,
        )
        .await
        .unwrap();
    let parapheur_app::capture::CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let item = h.app.store().item(commune.id, item_id).await.unwrap();
    assert_eq!(item.channel, parapheur_app::domain::Channel::Phone);
    assert_eq!(item.subject, "Message vocal de 07 00 00 00 01");
    assert_eq!(item.assignee_id, None);
    assert!(
        h.app
            .store()
            .item_contacts(item_id)
            .await
            .unwrap()
            .is_empty()
    );
}

both!(
    the_call_log_keeps_a_year,
    a_callers_calls_are_in_their_copy_and_their_number_leaves_with_erasure,
    an_emailed_voicemail_becomes_a_phone_item,
    callers_and_agents_are_recognised,
    missed_calls_leave_a_callback_task,
    refusals_write_nothing,
);

/// RGPD: the calls with a contact are in the copy of their data (art. 15), and erasing the
/// contact (art. 17) empties their number from the call log, which keeps the call itself.
async fn a_callers_calls_are_in_their_copy_and_their_number_leaves_with_erasure(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let standard = h.user(&commune, "standard@mairie.test", Role::Agent).await;
    let contact = jeanne_martin(&h, &commune, "06 12 34 56 78", t0).await;
    // An answered call: no callback item, so nothing keeps the contact under the archives law.
    for e in [
        ring("rgpd-1", "0612345678", "100"),
        answer("rgpd-1"),
        hang_up("rgpd-1", "normalClearing"),
    ] {
        taken(&h, &commune, &standard, e, t0).await;
    }
    let export = h
        .app
        .subject_access_export(&commune, &SYSTEM, contact.id, t0)
        .await
        .unwrap();
    let entries = crate::privacy::unzip(&export.zip);
    let data: serde_json::Value =
        serde_json::from_slice(&entries.iter().find(|(n, _)| n == "donnees.json").unwrap().1)
            .unwrap();
    let calls = data["appels"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{data}");
    assert_eq!(calls[0]["de"], "0612345678");
    assert_eq!(calls[0]["sens"], "appel reçu");

    let decision = h
        .app
        .request_erasure(&commune, &SYSTEM, contact.id, t0)
        .await
        .unwrap();
    assert!(
        matches!(
            decision,
            parapheur_app::privacy::ErasureDecision::Pseudonymised { .. }
        ),
        "{decision:?}"
    );
    let call = h
        .app
        .store()
        .call_by_ref(commune.id, "rgpd-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.from_number, "");
    assert_eq!(call.caller_number, None);
    assert_eq!(call.to_number, "100", "the mairie's own line stays");
    assert!(
        call.answered_at.is_some(),
        "the call itself stays in the log"
    );
}

/// The call log is erased after its retention by the daily watch (journaled); a younger call
/// stays.
async fn the_call_log_keeps_a_year(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let later = t0 + chrono::Duration::days(300);
    let standard = h.user(&commune, "standard@mairie.test", Role::Agent).await;
    for (call, when) in [("vieux", t0), ("recent", later)] {
        taken(
            &h,
            &commune,
            &standard,
            ring(call, "0612345678", "100"),
            when,
        )
        .await;
    }
    let watch_day = t0 + chrono::Duration::days(parapheur_app::domain::cti::CALL_LOG_DAYS + 1);
    let report = h.app.run_deadline_watch(watch_day).await.unwrap();
    assert_eq!(report.calls_purged, 1);
    let store = h.app.store();
    assert!(
        store
            .call_by_ref(commune.id, "vieux")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .call_by_ref(commune.id, "recent")
            .await
            .unwrap()
            .is_some()
    );
    // Once a day: the same day's second round erases nothing more.
    let again = h.app.run_deadline_watch(watch_day).await.unwrap();
    assert_eq!(again.calls_purged, 0);
    for verdict in h.app.verify_journals(|_| {}).await.unwrap() {
        assert!(verdict.report.is_intact(), "{:?}", verdict.report.problems);
    }
}
