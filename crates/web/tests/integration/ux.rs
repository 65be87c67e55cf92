//! What people saw wrong on the demo (issue 17): each test fails on the old behaviour.

use axum::http::{StatusCode, header};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::domain::NewContact;
use parapheur_app::domain::circuit::{Action, CircuitDef, StepDef, StepKind};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Status};
use parapheur_app::parapheur::SignerProof;

use crate::common::*;

/// One click on "Changer le statut" without choosing moved an item to the first status of
/// the list (sometimes backwards): the list now opens on an empty choice, and an empty
/// status is refused.
#[tokio::test]
async fn the_status_list_opens_on_an_empty_choice_that_changes_nothing() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande").await.item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
    let select = page
        .split("<select id=\"to\"")
        .nth(1)
        .unwrap()
        .split("</select>")
        .next()
        .unwrap();
    let first = select.split("<option").nth(1).unwrap();
    assert!(
        first.starts_with(" value=\"\" selected>"),
        "the first choice is not an empty one: {select}"
    );
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/statut", item.id),
            Some(&cookie),
            &format!("to=&reason=&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Choisissez le nouveau statut"), "{page}");
    let after = site.app.store().item(site.a.id, item.id).await.unwrap();
    assert_eq!(after.status, item.status);
}

async fn contact(site: &Site, contact: NewContact) -> uuid::Uuid {
    let mut tx = site.app.store().begin(Utc::now()).await.unwrap();
    let c = tx
        .insert_contact(site.a.id, &contact, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    c.id
}

fn person(first: &str, name: &str) -> NewContact {
    NewContact {
        first_name: Some(first.into()),
        name: name.into(),
        ..Default::default()
    }
}

/// The contacts page printed "None" for a missing email or phone, sorted "Émery" after
/// "Fabre", said "contact(s)", and did not find "Martin Jeanne".
#[tokio::test]
async fn the_contacts_page_reads_as_french() {
    let site = site().await;
    contact(&site, person("Jeanne", "Martin")).await;
    contact(&site, person("Paul", "Fabre")).await;
    contact(&site, person("Lucie", "Émery")).await;
    contact(&site, person("Jules", "Durand")).await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/contacts", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("None"), "{page}");
    assert!(
        page.contains("4 contacts") && !page.contains("(s)"),
        "{page}"
    );
    let at = |name: &str| page.find(name).unwrap_or_else(|| panic!("{name}: {page}"));
    assert!(
        at("Jules Durand") < at("Lucie Émery") && at("Lucie Émery") < at("Paul Fabre"),
        "not in French order: {page}"
    );
    let (_, _, page) = send(&site, get("/contacts?q=Martin+Jeanne", Some(&cookie))).await;
    assert!(
        page.contains("Jeanne Martin") && page.contains("1 contact "),
        "{page}"
    );
    let (_, _, page) = send(&site, get("/contacts?q=jeanne+fabre", Some(&cookie))).await;
    assert!(page.contains("Aucun contact"), "{page}");
}

/// Services and users in French order too (the demo's "État civil" came last).
#[tokio::test]
async fn services_sort_accents_as_letters() {
    let site = site().await;
    for (code, name) in [
        ("urbanisme", "Urbanisme"),
        ("etat-civil", "État civil"),
        ("accueil", "Accueil"),
    ] {
        site.app
            .add_service(&site.a, code, name, &Actor::System("test"), Utc::now())
            .await
            .unwrap();
    }
    let names: Vec<String> = site
        .app
        .services(site.a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let at = |name: &str| names.iter().position(|n| n == name).unwrap();
    assert!(
        at("Accueil") < at("État civil") && at("État civil") < at("Urbanisme"),
        "{names:?}"
    );
}

/// Every page asked for /favicon.ico, which answered 404: pages now declare an icon of
/// our own origin, which the CSP allows.
#[tokio::test]
async fn pages_declare_an_icon_that_is_served() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    for (path, cookie) in [
        ("/connexion", None),
        ("/demarches/01004", None),
        ("/a-traiter", Some(cookie.as_str())),
    ] {
        let (status, _, page) = send(&site, get(path, cookie)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let icon = page
            .split("<link rel=\"icon\" href=\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{path} declares no icon: {page}"))
            .split('"')
            .next()
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(icon.starts_with("/static/"), "{icon}");
        let (status, headers, body) = send(&site, get(&icon, None)).await;
        assert_eq!(status, StatusCode::OK, "{icon}");
        assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "image/svg+xml");
        assert!(body.starts_with("<svg"));
    }
}

/// Error messages are sentences: "Filtre invalide…", not "filtre invalide…".
#[tokio::test]
async fn error_messages_start_with_a_capital() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/registre?canal=telepathie", Some(&cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<p>Filtre invalide"), "{page}");
}

/// "Répondre par courriel" was offered for a paper letter whose sender has no email.
#[tokio::test]
async fn a_reply_by_email_is_offered_only_to_a_sender_with_an_address() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let (cookie, _) = login(&site, "agent@a.test").await;
    for (email, offered) in [(None, false), (Some("jeanne@example.org"), true)] {
        let sender = contact(
            &site,
            NewContact {
                email: email.map(str::to_owned),
                ..person("Jeanne", "Martin")
            },
        )
        .await;
        let mut letter = NewItem::incoming(Channel::Paper, "Lettre", today);
        letter.sender_ids = vec![sender];
        let item = site
            .app
            .register(
                &site.a,
                &Actor::System("test"),
                letter,
                Vec::new(),
                Utc::now(),
            )
            .await
            .unwrap()
            .item;
        let (_, _, page) = send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
        assert_eq!(
            page.contains("Répondre par courriel"),
            offered,
            "sender email {email:?}"
        );
    }
}

/// The times of a circuit's steps were UTC, an hour or two off in France.
#[tokio::test]
async fn the_signing_page_shows_local_times() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande de salle").await.item;
    let user = |email: &'static str| {
        let site = &site;
        async move {
            site.app
                .store()
                .user_by_email(site.a.id, email)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let admin = user("admin@a.test").await;
    let maire = user("maire@a.test").await;
    let author = Actor::User(admin.id);
    let now = Utc::now();
    let folder = site
        .app
        .draft_letter(&site.a, &author, item.id, None, now)
        .await
        .unwrap();
    let circuit = CircuitDef {
        stages: vec![
            vec![StepDef {
                kind: StepKind::Visa,
                user_id: Some(admin.id),
            }],
            vec![StepDef {
                kind: StepKind::Signature,
                user_id: Some(maire.id),
            }],
        ],
    };
    site.app
        .start_circuit(&site.a, &author, folder.id, &circuit, now)
        .await
        .unwrap();
    site.app
        .act_on_folder(
            &site.a,
            &author,
            folder.id,
            Action::Approve,
            SignerProof::default(),
            now,
        )
        .await
        .unwrap();
    let (cookie, _) = login(&site, "admin@a.test").await;
    let (status, _, page) = send(
        &site,
        get(&format!("/parapheur/{}", folder.id), Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page = page.replace("&#x2f;", "/");
    let local = parapheur_app::domain::clock::local_instant(now, site.a.zone());
    let utc = now.format("%d/%m/%Y %H:%M").to_string();
    assert!(page.contains(&local), "no {local}: {page}");
    assert!(!page.contains(&utc), "{utc} (UTC) shown: {page}");
    // Nothing of this is the status list's doing: the item is still in its circuit.
    let after = site.app.store().item(site.a.id, item.id).await.unwrap();
    assert_ne!(after.status, Status::Closed);
}
