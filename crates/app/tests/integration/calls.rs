//! The phone system's calls (issue 18, point 3), on SQLite and PostgreSQL: the caller found
//! among the contacts whatever form the PBX writes the number in, the agent by extension,
//! by `answeringNumber` or by `user[]`, missed calls journaled with their callback item
//! (assigned to the agent whose phone rang, unassigned otherwise), hidden numbers and
//! outgoing calls leaving no task, extensions unique and journaled, and an owner whose role
//! does not register mail refused.

use crate::harness::{Db, Harness, SYSTEM, at, both};
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

fn user_id(actor: &Actor) -> uuid::Uuid {
    match actor {
        Actor::User(id) => *id,
        Actor::System(_) => unreachable!(),
    }
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
    let contact = h
        .app
        .create_contact(
            &commune,
            &SYSTEM,
            NewContact {
                name: "Martin".into(),
                first_name: Some("Jeanne".into()),
                phone: Some("+33 6 12 34 56 78".into()),
                ..Default::default()
            },
            t0,
        )
        .await
        .unwrap();
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
        let done = h
            .app
            .call_event(&commune, &standard, ring(&id, from, "+33247000100"), t0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.transition, Transition::Create);
        assert_eq!(done.call.contact_id, Some(contact.id), "{from}");
        assert_eq!(done.call.agent_id, Some(user_id(&urbanisme)), "{from}");
    }
    // `user[]` names the agent when no extension is known; `answeringNumber` who picked up.
    let mut by_name = ring("nom-1", "0700000000", "999");
    by_name.users = vec!["accueil mairie".into()];
    let done = h
        .app
        .call_event(&commune, &standard, by_name, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.call.agent_id, Some(user_id(&accueil)));
    assert_eq!(done.call.contact_id, None);
    let answered = h
        .app
        .call_event(
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
        .await
        .unwrap()
        .unwrap();
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
    h.app
        .call_event(&commune, &standard, ring("m-1", "0611223344", "100"), t0)
        .await
        .unwrap()
        .unwrap();
    let done = h
        .app
        .call_event(&commune, &standard, hang_up("m-1", "cancel"), t0)
        .await
        .unwrap()
        .unwrap();
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
    let again = h
        .app
        .call_event(&commune, &standard, hang_up("m-1", "cancel"), t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.transition, Transition::Replay);
    assert!(again.callback.is_none());
    assert_eq!(journal(&h).await.len(), entries.len());
    // An extension nobody has: the task is left unassigned, for the registrars.
    h.app
        .call_event(&commune, &standard, ring("m-2", "0611223344", "555"), t0)
        .await
        .unwrap()
        .unwrap();
    let done = h
        .app
        .call_event(&commune, &standard, hang_up("m-2", "noAnswer"), t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.callback.unwrap().item.assignee_id, None);
    // A hidden number: journaled, but nobody can call it back.
    h.app
        .call_event(&commune, &standard, ring("m-3", "anonymous", "100"), t0)
        .await
        .unwrap()
        .unwrap();
    let before = journal(&h).await.len();
    let done = h
        .app
        .call_event(&commune, &standard, hang_up("m-3", "noAnswer"), t0)
        .await
        .unwrap()
        .unwrap();
    assert!(done.call.missed && done.callback.is_none());
    assert_eq!(journal(&h).await.len(), before + 1);
    // Outgoing, unanswered: not a missed call. Forwarded: neither.
    let mut out = ring("m-4", "100", "0611223344");
    out.direction = parapheur_app::domain::cti::CallDirection::Out;
    h.app
        .call_event(&commune, &standard, out, t0)
        .await
        .unwrap()
        .unwrap();
    let done = h
        .app
        .call_event(&commune, &standard, hang_up("m-4", "busy"), t0)
        .await
        .unwrap()
        .unwrap();
    assert!(!done.call.missed && done.callback.is_none());
    h.app
        .call_event(&commune, &standard, ring("m-5", "0611223344", "100"), t0)
        .await
        .unwrap()
        .unwrap();
    let done = h
        .app
        .call_event(&commune, &standard, hang_up("m-5", "forwarded"), t0)
        .await
        .unwrap()
        .unwrap();
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
    h.app
        .call_event(&commune, &standard, ring("x-2", "0611223344", "100"), t0)
        .await
        .unwrap()
        .unwrap();
    h.app
        .call_event(&commune, &standard, hang_up("x-2", "noAnswer"), t0)
        .await
        .unwrap()
        .unwrap();
    let after_hangup = h.app.store().journal_len(commune.id).await.unwrap();
    let late = event(&[("event", "answer"), ("callId", "x-2"), ("direction", "in")]);
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

both!(
    callers_and_agents_are_recognised,
    missed_calls_leave_a_callback_task,
    refusals_write_nothing,
);
