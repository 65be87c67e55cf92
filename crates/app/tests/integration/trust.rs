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

both!(no_change_is_lost_to_a_concurrent_one);

/// Finding 10: on PostgreSQL two concurrent changes of one item both read the same state and
/// the second silently overwrote the first. Now each change starts from the one before it
/// (the journal's "before" of each is the "after" of the previous), and a change computed
/// from a stale state is refused.
async fn no_change_is_lost_to_a_concurrent_one(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), commune.zone());
    let item = h
        .app
        .register(
            &commune,
            &SYSTEM,
            NewItem::incoming(Channel::Paper, "Demande disputée", today),
            Vec::new(),
            Utc::now(),
        )
        .await
        .unwrap()
        .item;
    let mut agents = Vec::new();
    for n in 0..8 {
        agents.push(person(&h, &commune, &format!("agent{n}@a.test"), Role::Agent).await);
    }
    let mut tasks = Vec::new();
    for agent in agents {
        let app = h.app.clone();
        let commune = commune.clone();
        tasks.push(tokio::spawn(async move {
            let me = agent.user_id().unwrap();
            app.change_item(
                &commune,
                &agent,
                item.id,
                Change::Assign {
                    service_id: None,
                    assignee_id: Some(me),
                },
                Utc::now(),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let entries = h
        .app
        .store()
        .journal_of(commune.id, "item", &item.id.to_string())
        .await
        .unwrap();
    let changes: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "item.assigned")
        .collect();
    assert_eq!(changes.len(), 8);
    let json = |s: &Option<String>| -> serde_json::Value {
        serde_json::from_str(s.as_deref().unwrap()).unwrap()
    };
    for pair in changes.windows(2) {
        assert_eq!(
            json(&pair[1].before)["assignee_id"],
            json(&pair[0].after)["assignee_id"],
            "a change started from a state another change had already replaced"
        );
    }
    let last = json(&changes[7].after);
    let stored = h.app.store().item(commune.id, item.id).await.unwrap();
    assert_eq!(last["assignee_id"], serde_json::json!(stored.assignee_id));

    // A change computed from a state that is no longer the stored one is refused.
    let user = h
        .app
        .store()
        .user_by_email(commune.id, "agent0@a.test")
        .await
        .unwrap()
        .unwrap();
    let renamed = |name: &str| parapheur_store::users::User {
        display_name: name.into(),
        ..user.clone()
    };
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    tx.update_user(&user, &renamed("Premier"), "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    let err = tx
        .update_user(&user, &renamed("Second"), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, parapheur_store::StoreError::Changed(_)),
        "{err:?}"
    );
    drop(tx);
    let settings = h.app.store().commune_settings(commune.id).await.unwrap();
    let with = |address: &str| parapheur_store::communes::CommuneSettings {
        address: Some(address.into()),
        ..settings.clone()
    };
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    tx.set_commune_settings(commune.id, &settings, &with("1 place"), "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    let err = tx
        .set_commune_settings(commune.id, &settings, &with("2 place"), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, parapheur_store::StoreError::Changed(_)),
        "{err:?}"
    );
    drop(tx);
    assert_eq!(
        h.app.store().user(user.id).await.unwrap().display_name,
        "Premier"
    );
}

both!(no_merge_or_mailbox_edit_is_lost_to_a_concurrent_one);

/// Finding 10, the other read-modify-writes: contacts merged by two people at once (one
/// way and the other, or twice), a mailbox edited from a state another edit replaced, and
/// a folder changed from an old version are refused, never silently overwritten.
async fn no_merge_or_mailbox_edit_is_lost_to_a_concurrent_one(db: Db) {
    use parapheur_app::capture::mailboxes::MailboxSettings;
    use parapheur_app::domain::contact::NewContact;
    use parapheur_mailbox::{AfterCapture, MailboxConfig, Security};
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let agent = person(&h, &commune, "agent@a.test", Role::Agent).await;
    for round in 0..4 {
        let mut ids = Vec::new();
        for name in ["Martin", "Martin Jeanne"] {
            let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
            let c = tx
                .insert_contact(
                    commune.id,
                    &NewContact {
                        name: format!("{name} {round}"),
                        ..Default::default()
                    },
                    "test",
                )
                .await
                .unwrap();
            tx.commit().await.unwrap();
            ids.push(c.id);
        }
        let (a, b) = (ids[0], ids[1]);
        // Round 0 and 2: a into b and b into a at once; 1 and 3: a into b twice at once.
        let pairs = if round % 2 == 0 {
            [(b, a), (a, b)]
        } else {
            [(b, a), (b, a)]
        };
        let mut tasks = Vec::new();
        for (keep, duplicate) in pairs {
            let (app, commune, agent) = (h.app.clone(), commune.clone(), agent.clone());
            tasks.push(tokio::spawn(async move {
                app.merge_contacts(&commune, &agent, keep, duplicate, Utc::now())
                    .await
            }));
        }
        let mut done = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => done += 1,
                Err(e) => assert!(e.to_string().contains("déjà été fusionné"), "{e}"),
            }
        }
        assert_eq!(done, 1, "round {round}: exactly one merge of the pair");
        let merged: Vec<_> = [a, b]
            .into_iter()
            .map(|id| {
                let store = h.app.store().clone();
                let commune_id = commune.id;
                async move { store.contact_merged_into(commune_id, id).await.unwrap() }
            })
            .collect();
        let mut into = Vec::new();
        for m in merged {
            into.push(m.await);
        }
        assert_eq!(
            into.iter().filter(|m| m.is_some()).count(),
            1,
            "round {round}: one of the two is merged into the other, never both: {into:?}"
        );
    }

    // A mailbox edited from a state that is no longer the stored one.
    let settings = |label: &str| MailboxSettings {
        label: label.into(),
        config: MailboxConfig {
            host: "imap.exemple.fr".into(),
            port: 993,
            security: Security::Tls,
            username: "accueil".into(),
            password: "secret".into(),
            folder: "INBOX".into(),
            after_capture: AfterCapture::Leave,
            network: Default::default(),
        },
        rules: Vec::new(),
        active: true,
    };
    let id = h
        .app
        .add_mailbox(&commune, &SYSTEM, settings("Accueil"), Utc::now())
        .await
        .unwrap();
    let before = h.app.store().mailbox(commune.id, id).await.unwrap();
    let renamed = |label: &str| parapheur_store::capture::MailboxRow {
        label: label.into(),
        ..before.clone()
    };
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    tx.update_mailbox(&before, &renamed("Premier"), "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    let err = tx
        .update_mailbox(&before, &renamed("Second"), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, parapheur_store::StoreError::Changed(_)),
        "{err:?}"
    );
    drop(tx);
    // The poller moving its cursor meanwhile is no edit: the settings still save.
    let current = h.app.store().mailbox(commune.id, id).await.unwrap();
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    tx.advance_mailbox(id, 7, 42).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = h.app.store().begin(Utc::now()).await.unwrap();
    tx.update_mailbox(
        &current,
        &parapheur_store::capture::MailboxRow {
            label: "Troisième".into(),
            ..current.clone()
        },
        "test",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        h.app.store().mailbox(commune.id, id).await.unwrap().label,
        "Troisième"
    );
    // Through the use case, many edits at once: each one starts from the state the
    // previous one left, or is refused; the last one stored is one of them, whole.
    let mut tasks = Vec::new();
    for n in 0..6 {
        let (app, commune) = (h.app.clone(), commune.clone());
        tasks.push(tokio::spawn(async move {
            app.update_mailbox(
                &commune,
                &SYSTEM,
                id,
                settings(&format!("Édition {n}")),
                true,
                Utc::now(),
            )
            .await
        }));
    }
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(e.kind(), parapheur_app::ErrorKind::Conflict, "{e}");
        }
    }
    let label = h.app.store().mailbox(commune.id, id).await.unwrap().label;
    assert!(label.starts_with("Édition "), "{label}");
}

both!(mailbox_settings_reach_no_internal_address);

/// Finding 6: "Relever" connected to any host and port and showed what the remote sent;
/// plain text and STARTTLS went anywhere. By default, an installation now refuses internal
/// addresses and plain text in the communes' mailbox settings.
async fn mailbox_settings_reach_no_internal_address(db: Db) {
    use parapheur_app::capture::mailboxes::MailboxSettings;
    use parapheur_mailbox::{AfterCapture, MailboxConfig, Security};
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    let mut strict = h.config.clone();
    strict.outbound_internal_addresses = false;
    strict.outbound_plain_text = false;
    let app = parapheur_app::App::open(&strict).await.unwrap();
    let settings = |host: &str, security| MailboxSettings {
        label: "Accueil".into(),
        config: MailboxConfig {
            host: host.into(),
            port: 993,
            security,
            username: "accueil".into(),
            password: "secret".into(),
            folder: "INBOX".into(),
            after_capture: AfterCapture::Leave,
            network: Default::default(),
        },
        rules: Vec::new(),
        active: true,
    };
    for (host, security, why) in [
        ("127.0.0.1", Security::Plain, "non chiffrée"),
        ("imap.exemple.fr", Security::Plain, "non chiffrée"),
        ("10.0.0.5", Security::Tls, "adresse interne"),
        ("169.254.169.254", Security::StartTls, "adresse interne"),
        ("[::1]", Security::Tls, "adresse interne"),
    ] {
        let err = app
            .add_mailbox(&commune, &SYSTEM, settings(host, security), Utc::now())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{host}: {err}");
    }
    // A name that resolves to this machine is refused when connecting, and nothing the
    // remote could have said is recorded.
    let id = app
        .add_mailbox(
            &commune,
            &SYSTEM,
            settings("localhost", Security::Tls),
            Utc::now(),
        )
        .await
        .unwrap();
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    let err = app
        .poll_mailbox(&commune, &row, Utc::now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("adresse interne"), "{err}");
    let row = app.store().mailbox(commune.id, id).await.unwrap();
    assert!(row.last_error.unwrap().contains("adresse interne"));
}

both!(a_rewrite_of_the_whole_journal_is_caught_by_its_anchor);

/// The acceptance of the trust issue: a rewrite of a commune's whole journal chain in the
/// database (every hash recomputed, the head too) passes the chain's own check, and is
/// reported by `journal verify` once an anchor exists (here, time-stamped by the real test
/// TSA of ../shared/acceptance).
async fn a_rewrite_of_the_whole_journal_is_caught_by_its_anchor(db: Db) {
    use std::process::Command;
    let tsa_script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/acceptance/test-tsa");
    assert!(
        tsa_script.exists(),
        "{} is missing: the acceptance tools of ../shared are needed",
        tsa_script.display()
    );
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let tsa_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut tsa = Command::new(&tsa_script)
        .arg(tsa_dir.path())
        .arg(port.to_string())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the test TSA did not start");
    let mut config = h.config.clone();
    config.tsa_url = Some(format!("http://127.0.0.1:{port}/"));
    config.tsa_ca = Some(tsa_dir.path().join("ca.crt"));
    let app = parapheur_app::App::open(&config).await.unwrap();
    let commune = h.commune("01004").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), commune.zone());
    for subject in ["Demande de salle", "Permis de construire", "Réclamation"] {
        app.register(
            &commune,
            &SYSTEM,
            NewItem::incoming(Channel::Paper, subject, today),
            Vec::new(),
            Utc::now(),
        )
        .await
        .unwrap();
    }
    // Before any anchor, verify says which protection is missing.
    let verdicts = app.verify_journals(|_| {}).await.unwrap();
    assert_eq!(
        verdicts[0].anchors.protection,
        parapheur_app::register::anchors::Protection::None
    );
    let report = app.anchor_journals(Utc::now()).await.unwrap();
    assert_eq!(report.time_stamped, 1, "{report:?}");
    // Nothing moved: no second anchor the same day.
    assert_eq!(
        app.anchor_journals(Utc::now()).await.unwrap().time_stamped,
        0
    );
    let verdicts = app.verify_journals(|_| {}).await.unwrap();
    let v = &verdicts[0];
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(
        v.anchors.protection,
        parapheur_app::register::anchors::Protection::TimeStamped
    );
    assert!(v.anchors.warnings.is_empty(), "{:?}", v.anchors.warnings);
    let _ = tsa.kill();
    let _ = tsa.wait();

    // Someone with write access rewrites history: the first registration's subject, and
    // every hash after it, and the head, so that the chain holds again.
    let mut entries = app.store().journal_entries(commune.id).await.unwrap();
    let mut prev = String::new();
    for (n, e) in entries.iter_mut().enumerate() {
        if n == 0 {
            prev = e.prev_hash.clone();
        }
        if let Some(after) = &e.after
            && after.contains("Demande de salle")
        {
            e.after = Some(after.replace("Demande de salle", "Demande de rien"));
        }
        e.prev_hash = prev.clone();
        e.hash = parapheur_app::domain::journal::entry_hash(e);
        prev = e.hash.clone();
    }
    for e in &entries {
        let after = e.after.as_deref().map_or("NULL".to_owned(), |a| {
            format!("'{}'", a.replace('\'', "''"))
        });
        app.store()
            .execute_unchecked(&format!(
                "UPDATE journal SET after_json = {after}, prev_hash = '{}', hash = '{}' WHERE commune_id = '{}' AND seq = {}",
                e.prev_hash, e.hash, commune.id, e.seq
            ))
            .await
            .unwrap();
    }
    app.store()
        .execute_unchecked(&format!(
            "UPDATE journal_heads SET hash = '{prev}' WHERE commune_id = '{}'",
            commune.id
        ))
        .await
        .unwrap();
    let verdicts = app.verify_journals(|_| {}).await.unwrap();
    let v = &verdicts[0];
    assert!(
        v.report.is_intact(),
        "the rewritten chain holds by itself: {v:?}"
    );
    assert!(!v.is_intact(), "the rewrite went unseen: {v:?}");
    assert!(
        v.anchors.problems.iter().any(|p| p.contains("réécrit")),
        "{:?}",
        v.anchors.problems
    );
}

both!(without_an_authority_the_journal_head_is_emailed_to_the_administrators);

async fn without_an_authority_the_journal_head_is_emailed_to_the_administrators(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("01004").await;
    person(&h, &commune, "admin@a.test", Role::Administrateur).await;
    let report = h.app.anchor_journals(Utc::now()).await.unwrap();
    assert_eq!((report.time_stamped, report.emailed), (0, 1));
    let outbox = h.app.store().outbox(commune.id, 10).await.unwrap();
    assert!(
        outbox.iter().any(|e| e.recipients == "admin@a.test"),
        "{outbox:?}"
    );
    let head = h
        .app
        .store()
        .journal_head(commune.id)
        .await
        .unwrap()
        .unwrap();
    let raw = h.app.email_bytes(&commune, outbox[0].id).await.unwrap();
    assert!(String::from_utf8_lossy(&raw).contains(&head.hash[..16]));
    let verdicts = h.app.verify_journals(|_| {}).await.unwrap();
    assert_eq!(
        verdicts[0].anchors.protection,
        parapheur_app::register::anchors::Protection::Emailed
    );
    assert!(verdicts[0].is_intact());
}
