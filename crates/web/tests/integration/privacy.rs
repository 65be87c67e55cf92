//! The data subject's rights from the contact page (issue 16): the export as a zip, the
//! erasure refused with its reason, rectification; only for those with the right, never
//! across communes, never without the CSRF token. On PostgreSQL with
//! `PARAPHEUR_TEST_BACKEND=postgres`.

use std::io::Read;

use crate::common::*;
use axum::http::{StatusCode, header};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::domain::Channel;
use parapheur_app::domain::contact::NewContact;
use parapheur_app::domain::item::NewItem;
use tower::ServiceExt;

#[tokio::test]
async fn the_contact_page_exports_refuses_erasure_and_rectifies() {
    let site = site().await;
    let system = Actor::System("test");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let mut new = NewItem::incoming(Channel::Paper, "Demande de Jeanne", today);
    new.doctype_code = Some("demande-administrative".into());
    let item = site
        .app
        .register_with_party(
            &site.a,
            &system,
            new,
            Some(parapheur_app::Party::New(Box::new(NewContact {
                first_name: Some("Jeanne".into()),
                name: "Martin".into(),
                email: Some("jeanne.martin@example.fr".into()),
                ..Default::default()
            }))),
            vec![],
            Utc::now(),
        )
        .await
        .unwrap()
        .item;
    let jeanne = site
        .app
        .search_contacts(site.a.id, "Jeanne Martin", 5)
        .await
        .unwrap()
        .remove(0);
    let base = format!("/contacts/{}", jeanne.id);
    let (admin, csrf) = login(&site, "admin@a.test").await;
    let (agent, agent_csrf) = login(&site, "agent@a.test").await;
    let (admin_b, csrf_b) = login(&site, "admin@b.test").await;

    // The buttons are the administrator's.
    let (status, _, page) = send(&site, get(&base, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("action=\"{base}/donnees\"")),
        "{page}"
    );
    let (_, _, page) = send(&site, get(&base, Some(&agent))).await;
    assert!(!page.contains("/donnees"), "{page}");
    assert!(
        page.contains(&format!("action=\"{base}/rectifier\"")),
        "{page}"
    );

    // The export: a zip whose JSON parses and names the item.
    let response = site
        .router
        .clone()
        .oneshot(post(
            &format!("{base}/donnees"),
            Some(&admin),
            &format!("csrf={csrf}"),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/zip");
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut json = String::new();
    zip.by_name("donnees.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(data["courriers"][0]["numero"], item.chrono.as_str());
    assert_eq!(data["contact"]["email"], "jeanne.martin@example.fr");

    // Without the token, as an agent, or from the other commune: refused, nothing written.
    let journal = || {
        let store = site.app.store().clone();
        let commune = site.a.id;
        async move { store.journal_len(commune).await.unwrap() }
    };
    let before = journal().await;
    for (path, cookie, body, expected) in [
        (
            "donnees",
            &admin,
            "csrf=faux".to_owned(),
            StatusCode::FORBIDDEN,
        ),
        ("effacement", &admin, String::new(), StatusCode::FORBIDDEN),
        (
            "donnees",
            &agent,
            format!("csrf={agent_csrf}"),
            StatusCode::FORBIDDEN,
        ),
        (
            "effacement",
            &agent,
            format!("csrf={agent_csrf}"),
            StatusCode::FORBIDDEN,
        ),
        (
            "donnees",
            &admin_b,
            format!("csrf={csrf_b}"),
            StatusCode::NOT_FOUND,
        ),
        (
            "effacement",
            &admin_b,
            format!("csrf={csrf_b}"),
            StatusCode::NOT_FOUND,
        ),
        (
            "limitation",
            &admin_b,
            format!("limiter=oui&csrf={csrf_b}"),
            StatusCode::NOT_FOUND,
        ),
        (
            "rectifier",
            &admin_b,
            format!("nom=Autre&csrf={csrf_b}"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, _, page) =
            send(&site, post(&format!("{base}/{path}"), Some(cookie), &body)).await;
        assert_eq!(status, expected, "{path} {body}");
        assert!(!page.contains("jeanne.martin"), "{path}: {page}");
    }
    let (status, _, page) = send(&site, get(&base, Some(&admin_b))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Martin"));
    assert_eq!(journal().await, before);

    // The erasure: refused, in French, with the law and the item.
    let (status, _, page) = send(
        &site,
        post(
            &format!("{base}/effacement"),
            Some(&admin),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Effacement refusé"), "{page}");
    assert!(
        page.contains("Code du patrimoine") && page.contains(&item.chrono),
        "{page}"
    );
    assert_eq!(
        site.app.contact(site.a.id, jeanne.id).await.unwrap().name,
        "Martin"
    );

    // Rectification by the agent: done and journaled; a bad address changes nothing.
    let (status, _, page) = send(
        &site,
        post(
            &format!("{base}/rectifier"),
            Some(&agent),
            &format!(
                "prenom=Jeanne&nom=Martin-Roux&courriel=jeanne.roux%40example.fr&csrf={agent_csrf}"
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Fiche rectifiée"), "{page}");
    let (status, _, page) = send(
        &site,
        post(
            &format!("{base}/rectifier"),
            Some(&agent),
            &format!("nom=Martin&courriel=pas-une-adresse&csrf={agent_csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("adresse électronique invalide"), "{page}");
    let now = site.app.contact(site.a.id, jeanne.id).await.unwrap();
    assert_eq!(
        (now.name.as_str(), now.email.as_deref()),
        ("Martin-Roux", Some("jeanne.roux@example.fr"))
    );
    let actions: Vec<String> = site
        .app
        .store()
        .journal_of(site.a.id, "contact", &jeanne.id.to_string())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "contact.created",
            "contact.exported",
            "contact.erasure_refused",
            "contact.rectified"
        ]
    );
}
