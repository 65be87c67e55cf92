//! The use cases refuse an actor without the right, whatever the front end (the trust
//! issue's finding 11): `app` itself checks, so a handler that forgets cannot act.

use chrono::Utc;
use parapheur_app::administration::SettingsForm;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Commune, Confidentiality, Role, Status};
use parapheur_app::{Actor, AppError, Change, NewUser};

use crate::harness::*;

both!(use_cases_refuse_an_actor_without_the_right);

async fn person(h: &Harness, commune: &Commune, email: &str, role: Role) -> Actor {
    let user = h
        .app
        .add_user(
            commune,
            NewUser {
                email: email.into(),
                display_name: email.into(),
                title: None,
                role,
                service_id: None,
                password: None,
                host_admin: false,
            },
            &SYSTEM,
            Utc::now(),
        )
        .await
        .unwrap();
    Actor::User(user.id)
}

fn forbidden(result: Result<impl std::fmt::Debug, AppError>) {
    match result {
        Err(AppError::Forbidden(_)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn use_cases_refuse_an_actor_without_the_right(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let other = h.commune("37154").await;
    let archivist = person(&h, &commune, "archives@a.test", Role::Archiviste).await;
    let elu = person(&h, &commune, "maire@a.test", Role::Elu).await;
    let agent = person(&h, &commune, "agent@a.test", Role::Agent).await;
    let stranger = person(&h, &other, "admin@b.test", Role::Administrateur).await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), commune.zone());
    let item = h
        .app
        .register(
            &commune,
            &SYSTEM,
            NewItem::incoming(Channel::Paper, "Demande", today),
            Vec::new(),
            Utc::now(),
        )
        .await
        .unwrap()
        .item;
    let journal = h.app.store().journal_len(commune.id).await.unwrap();
    let close = || Change::Status {
        to: Status::InProgress,
        reason: None,
    };
    // An archivist or an élu does not process mail; another commune's administrator
    // does not act here at all.
    for actor in [&archivist, &elu, &stranger] {
        forbidden(
            h.app
                .change_item(&commune, actor, item.id, close(), Utc::now())
                .await,
        );
    }
    forbidden(
        h.app
            .add_note(&commune, &stranger, item.id, "note", Utc::now())
            .await,
    );
    for actor in [&agent, &elu, &stranger] {
        forbidden(
            h.app
                .update_commune_settings(&commune, actor, SettingsForm::default(), Utc::now())
                .await,
        );
    }
    assert_eq!(
        h.app.store().journal_len(commune.id).await.unwrap(),
        journal
    );
    // An agent not in charge of a confidential item cannot add a note to it (it does not
    // exist for them); the élu can.
    let mut secret = NewItem::incoming(Channel::Paper, "Secret", today);
    secret.confidentiality = Confidentiality::Confidential;
    let secret = h
        .app
        .register(&commune, &SYSTEM, secret, Vec::new(), Utc::now())
        .await
        .unwrap()
        .item;
    let err = h
        .app
        .add_note(&commune, &agent, secret.id, "je lis", Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Store(_)) || err.to_string().contains("introuvable"),
        "{err:?}"
    );
    h.app
        .add_note(&commune, &elu, secret.id, "vu", Utc::now())
        .await
        .unwrap();
    // The right people still act.
    h.app
        .change_item(&commune, &agent, item.id, close(), Utc::now())
        .await
        .unwrap();
}
