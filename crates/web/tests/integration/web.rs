//! The web application in-process: every request goes through the real router, the real
//! use cases and a real SQLite register in a temp dir.

use axum::http::{StatusCode, header};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Role};

use crate::common::*;

#[tokio::test]
async fn pages_need_a_login_and_say_so_in_french() {
    let site = site().await;
    let (status, headers, _) = send(&site, get("/a-traiter", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        "/connexion?suite=/a-traiter"
    );
    let (status, headers, page) = send(&site, get("/connexion", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html lang=\"fr\">") && page.contains("Connexion"));
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(
        headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
        "nosniff"
    );
    assert!(headers.get(header::REFERRER_POLICY).is_some());
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_limited() {
    let site = site().await;
    for _ in 0..5 {
        let (status, _, page) = send(
            &site,
            post(
                "/connexion",
                None,
                "email=agent@a.test&password=faux-mot-de-passe",
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("Adresse ou mot de passe incorrect"), "{page}");
    }
    // Even the right password is refused while the account is limited.
    let (status, _, page) = send(
        &site,
        post(
            "/connexion",
            None,
            &format!("email=agent@a.test&password={PASSWORD}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Trop de tentatives"), "{page}");
    // An unknown account reads exactly like a wrong password.
    let (_, _, page) = send(
        &site,
        post("/connexion", None, "email=personne@a.test&password=x"),
    )
    .await;
    assert!(page.contains("Adresse ou mot de passe incorrect"));
}

#[tokio::test]
async fn forms_need_the_session_csrf_token_and_our_origin() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande").await.item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let path = format!("/courrier/{}/note", item.id);
    let (status, _, page) = send(&site, post(&path, Some(&cookie), "body=note&csrf=forged")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("formulaire a expiré"), "{page}");
    let mut foreign = post(&path, Some(&cookie), &format!("body=note&csrf={csrf}"));
    foreign
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    assert_eq!(send(&site, foreign).await.0, StatusCode::FORBIDDEN);
    assert!(
        site.app
            .store()
            .notes(site.a.id, item.id)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _, _) = send(
        &site,
        post(
            &path,
            Some(&cookie),
            &format!("body=Rappeler+le+demandeur&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.app
            .store()
            .notes(site.a.id, item.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn another_communes_items_and_files_are_not_found() {
    let site = site().await;
    let theirs = register_in(&site, &site.a, "Secret de A").await;
    let (cookie, csrf) = login(&site, "agent@b.test").await;
    let id = theirs.item.id;
    let file = theirs.attachments[0].id;
    for path in [
        format!("/courrier/{id}"),
        format!("/courrier/{id}/fichier/{file}"),
    ] {
        let (status, _, page) = send(&site, get(&path, Some(&cookie))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.contains("Secret de A") && !page.contains("secret"));
    }
    for (path, form) in [
        (
            format!("/courrier/{id}/statut"),
            format!("to=in_progress&csrf={csrf}"),
        ),
        (
            format!("/courrier/{id}/affecter"),
            format!("service=&assignee=&csrf={csrf}"),
        ),
        (
            format!("/courrier/{id}/note"),
            format!("body=x&csrf={csrf}"),
        ),
    ] {
        let (status, _, _) = send(&site, post(&path, Some(&cookie), &form)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, _, inbox) = send(&site, get("/a-traiter?vue=ouverts", Some(&cookie))).await;
    assert!(!inbox.contains("Secret de A"));
    let item = site.app.store().item(site.a.id, id).await.unwrap();
    assert_eq!(item, theirs.item, "nothing changed in A");
    // The owner sees it, with its document inline.
    let (cookie_a, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get(&format!("/courrier/{id}"), Some(&cookie_a))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Secret de A") && page.contains("<iframe"));
    let (status, headers, body) = send(
        &site,
        get(&format!("/courrier/{id}/fichier/{file}"), Some(&cookie_a)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    assert_eq!(body, "%PDF-1.4 secret");
}

#[tokio::test]
async fn an_elu_reads_but_does_not_process() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande").await.item;
    let (cookie, csrf) = login(&site, "maire@a.test").await;
    let (status, _, page) =
        send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Changer le statut"));
    let (status, _, _) = send(
        &site,
        post(
            &format!("/courrier/{}/statut", item.id),
            Some(&cookie),
            &format!("to=in_progress&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&site, get("/courrier/nouveau", Some(&cookie))).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn status_changes_follow_the_state_machine() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande").await.item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let path = format!("/courrier/{}/statut", item.id);
    let (status, _, page) = send(
        &site,
        post(&path, Some(&cookie), &format!("to=archived&csrf={csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Passage interdit"), "{page}");
    let (status, _, page) = send(
        &site,
        post(
            &path,
            Some(&cookie),
            &format!("to=closed&reason=&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("motif"), "{page}");
    let (status, _, _) = send(
        &site,
        post(
            &path,
            Some(&cookie),
            &format!("to=closed&reason=no_follow_up&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
    assert!(
        page.contains("clos") && page.contains("Statut : enregistré → clos"),
        "{page}"
    );
}

#[tokio::test]
async fn a_letter_is_registered_with_its_scan_and_bad_ones_save_nothing() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone())
        .format("%Y-%m-%d")
        .to_string();
    let base = |subject: &'static str, arrival: String| {
        vec![
            ("csrf", csrf.clone()),
            ("channel", "paper".into()),
            ("subject", subject.into()),
            ("sender", "Jeanne Martin".into()),
            ("doctype", "demande-administrative".into()),
            ("arrival", arrival),
            ("then", "next".into()),
        ]
    };

    let fields = base("Demande de terrasse", today.clone());
    let (status, headers, _) = send(
        &site,
        multipart(
            &cookie,
            &as_refs(&fields),
            Some(("lettre.pdf", b"%PDF-1.7 une lettre")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers
            .get(header::LOCATION)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("/courrier/nouveau?enregistre=")
    );
    let items = site
        .app
        .store()
        .items(site.a.id, &Default::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].due_date.is_some() && items[0].silence_date.is_some());
    assert_eq!(
        site.app
            .store()
            .attachments(site.a.id, items[0].id)
            .await
            .unwrap()
            .len(),
        1
    );

    // A file that is not what its name says, a letter from 2090, no subject: refused, nothing saved.
    let (status, _, page) = send(
        &site,
        multipart(
            &cookie,
            &as_refs(&fields),
            Some(("faux.pdf", b"MZ not a pdf")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("est ni un PDF"), "{page}");
    assert!(
        page.contains("value=\"Demande de terrasse\""),
        "the form keeps what was typed"
    );
    let (status, _, page) = send(
        &site,
        multipart(
            &cookie,
            &as_refs(&base("Du futur", "2090-01-01".into())),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("dans le futur"), "{page}");
    assert!(
        page.contains("value=\"Du futur\""),
        "the form keeps what was typed"
    );
    let (status, _, page) = send(
        &site,
        multipart(&cookie, &as_refs(&base("", today.clone())), None),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("objet est obligatoire"), "{page}");
    assert_eq!(site.app.store().item_count(site.a.id).await.unwrap(), 1);
    assert_eq!(
        site.app.store().contact_count(site.a.id).await.unwrap(),
        1,
        "no sender created for refused letters"
    );
}

#[tokio::test]
async fn a_phone_call_is_logged_with_its_callback_date() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let callback = (Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let form = format!(
        "csrf={csrf}&caller=Paul+Durand&phone=06+12+34+56+78&subject=Fuite+d%27eau&message=Rue+du+Moulin&for_whom=&callback={callback}"
    );
    let (status, headers, _) = send(&site, post("/appel/nouveau", Some(&cookie), &form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{headers:?}");
    let items = site
        .app
        .store()
        .items(site.a.id, &Default::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(
        (
            items[0].channel,
            items[0].due_date.map(|d| d.format("%Y-%m-%d").to_string())
        ),
        (Channel::Phone, Some(callback))
    );
    let contacts = site
        .app
        .store()
        .search_contacts(site.a.id, "Durand", 5)
        .await
        .unwrap();
    assert_eq!(contacts[0].phone.as_deref(), Some("06 12 34 56 78"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, _, _) = send(
        &site,
        post("/deconnexion", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, headers, _) = send(&site, get("/a-traiter", Some(&cookie))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers
            .get(header::LOCATION)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("/connexion")
    );
}

#[tokio::test]
async fn the_register_lists_and_exports_only_this_commune() {
    let site = site().await;
    let ours = register_in(&site, &site.a, "=HYPERLINK(\"http://x\")")
        .await
        .item;
    register_in(&site, &site.b, "Secret de B").await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/registre", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&ours.chrono) && !page.contains("Secret de B"));
    let (status, headers, csv) =
        send(&site, get("/registre.csv?sens=incoming", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.contains(&ours.chrono) && !csv.contains("Secret de B"));
    assert!(
        csv.contains("\"'=HYPERLINK"),
        "formulas are neutralised: {csv}"
    );
    let (status, _, page) = send(&site, get("/registre?canal=telepathie", Some(&cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Filtre invalide"), "{page}");
}

#[tokio::test]
async fn confidential_items_are_shown_only_to_whom_they_concern() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let mut item = NewItem::incoming(Channel::Paper, "Signalement confidentiel", today);
    item.confidentiality = parapheur_app::domain::Confidentiality::Confidential;
    let secret = site
        .app
        .register(&site.a, &Actor::System("test"), item, vec![], Utc::now())
        .await
        .unwrap()
        .item;
    let (agent, _) = login(&site, "agent@a.test").await;
    assert_eq!(
        send(
            &site,
            get(&format!("/courrier/{}", secret.id), Some(&agent))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    for path in ["/a-traiter?vue=ouverts", "/registre", "/registre.csv"] {
        let (_, _, body) = send(&site, get(path, Some(&agent))).await;
        assert!(!body.contains("Signalement confidentiel"), "{path}");
    }
    let (maire, _) = login(&site, "maire@a.test").await;
    let (status, _, page) = send(
        &site,
        get(&format!("/courrier/{}", secret.id), Some(&maire)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Signalement confidentiel"));
    let (_, _, register) = send(&site, get("/registre", Some(&maire))).await;
    assert!(register.contains("Signalement confidentiel"));
}

#[tokio::test]
async fn the_maire_sees_what_awaits_him_and_the_dashboard() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande d'avis du maire")
        .await
        .item;
    register_in(&site, &site.b, "Secret de B").await;
    let maire = site
        .app
        .store()
        .user_by_email(site.a.id, "maire@a.test")
        .await
        .unwrap()
        .unwrap();
    site.app
        .copy_item(
            &site.a,
            &Actor::System("test"),
            item.id,
            maire.id,
            parapheur_app::domain::item::CopyPurpose::Opinion,
            Utc::now(),
        )
        .await
        .unwrap();
    let (cookie, _) = login(&site, "maire@a.test").await;
    let (status, _, page) = send(&site, get("/elu", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Demande d&#x27;avis du maire") || page.contains("Demande d'avis du maire"),
        "{page}"
    );
    assert!(!page.contains("Secret de B"));
    let (status, _, page) = send(&site, get("/tableau-de-bord", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Courrier reçu par semaine") && page.contains("<meter"));
}

#[tokio::test]
async fn duplicate_contacts_are_suggested_and_merged_with_their_mail() {
    let site = site().await;
    let mut tx = site.app.store().begin(Utc::now()).await.unwrap();
    let keep = tx
        .insert_contact(
            site.a.id,
            &parapheur_app::domain::NewContact {
                first_name: Some("Jeanne".into()),
                name: "Martin".into(),
                email: Some("jeanne.martin@example.org".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let dup = tx
        .insert_contact(
            site.a.id,
            &parapheur_app::domain::NewContact {
                name: "J. Martin".into(),
                email: Some("Jeanne.Martin@Example.org".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let mut letter = NewItem::incoming(Channel::Paper, "Lettre du doublon", today);
    letter.sender_ids = vec![dup.id];
    let item = site
        .app
        .register(&site.a, &Actor::System("test"), letter, vec![], Utc::now())
        .await
        .unwrap()
        .item;

    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, _, page) =
        send(&site, get(&format!("/contacts/{}", keep.id), Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("J. Martin") && page.contains("même adresse électronique"),
        "{page}"
    );
    let (status, _, _) = send(
        &site,
        post(
            &format!("/contacts/{}/fusionner", keep.id),
            Some(&cookie),
            &format!("doublon={}&csrf={csrf}", dup.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&site, get(&format!("/contacts/{}", keep.id), Some(&cookie))).await;
    assert!(
        page.contains("Lettre du doublon"),
        "the duplicate's mail now belongs to the kept contact"
    );
    assert_eq!(
        site.app.store().item_contacts(item.id).await.unwrap(),
        vec![("sender".to_owned(), keep.id)]
    );
    // RGPD accountability: the agent's two openings are logged; an administrator sees them,
    // the agent does not.
    assert!(!page.contains("Consultations de cette fiche"));
    let (admin, _) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(&site, get(&format!("/contacts/{}", keep.id), Some(&admin))).await;
    let log = page
        .split("Consultations de cette fiche")
        .nth(1)
        .expect("the log of views");
    let agent = site
        .app
        .store()
        .user_by_email(site.a.id, "agent@a.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.matches(&agent.display_name).count(), 2, "{log}");

    let (_, _, list) = send(&site, get("/contacts?q=martin", Some(&cookie))).await;
    assert!(
        !list.contains("J. Martin"),
        "a merged contact leaves the directory"
    );
    // Another commune's agent cannot see or merge them.
    let (cookie_b, csrf_b) = login(&site, "agent@b.test").await;
    assert_eq!(
        send(
            &site,
            get(&format!("/contacts/{}", keep.id), Some(&cookie_b))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, _, _) = send(
        &site,
        post(
            &format!("/contacts/{}/fusionner", keep.id),
            Some(&cookie_b),
            &format!("doublon={}&csrf={csrf_b}", dup.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let verdicts = site.app.verify_journals(|_| {}).await.unwrap();
    assert!(verdicts.iter().all(|v| v.report.is_intact()));
}

#[tokio::test]
async fn incomplete_requests_and_copies_from_the_item_page() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let mut new = NewItem::incoming(Channel::Paper, "Demande incomplète", today);
    // Silence vaut acceptation: while documents are awaited, the delay has not started.
    new.doctype_code = Some("demande-sva".into());
    let item = site
        .app
        .register(&site.a, &Actor::System("test"), new, vec![], Utc::now())
        .await
        .unwrap()
        .item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let day = today.format("%Y-%m-%d").to_string();
    let (status, _, _) = send(
        &site,
        post(
            &format!("/courrier/{}/pieces-demandees", item.id),
            Some(&cookie),
            &format!("pieces=Plan+de+situation%0D%0AAttestation&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let waiting = site.app.store().item(site.a.id, item.id).await.unwrap();
    assert_eq!(
        waiting.missing_documents,
        vec!["Plan de situation".to_owned(), "Attestation".to_owned()]
    );
    assert_eq!(
        (waiting.status, waiting.due_date),
        (parapheur_app::domain::Status::AwaitingDocuments, None)
    );
    let (status, _, _) = send(
        &site,
        post(
            &format!("/courrier/{}/pieces-recues", item.id),
            Some(&cookie),
            &format!("date={day}&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let resumed = site.app.store().item(site.a.id, item.id).await.unwrap();
    assert_eq!(resumed.status, parapheur_app::domain::Status::InProgress);
    assert!(resumed.due_date.is_some());
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/pieces-recues", item.id),
            Some(&cookie),
            &format!("date=2090-01-01&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let maire = site
        .app
        .store()
        .user_by_email(site.a.id, "maire@a.test")
        .await
        .unwrap()
        .unwrap();
    let (status, _, _) = send(
        &site,
        post(
            &format!("/courrier/{}/copie", item.id),
            Some(&cookie),
            &format!("user={}&purpose=opinion&csrf={csrf}", maire.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.app
            .store()
            .copies(site.a.id, item.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn administration_is_for_administrators_and_host_pages_for_the_host() {
    let site = site().await;
    let pages = [
        "/administration",
        "/administration/services",
        "/administration/utilisateurs",
        "/administration/types",
        "/administration/types/courrier",
    ];
    for who in ["agent@a.test", "maire@a.test"] {
        let (cookie, csrf) = login(&site, who).await;
        for path in pages.iter().chain(&["/hebergement"]) {
            let (status, _, page) = send(&site, get(path, Some(&cookie))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} {path}");
            assert!(page.contains("réservée aux administrateurs"), "{page}");
            // The refusal keeps the person's header and menu.
            assert!(
                page.contains("Se déconnecter") && page.contains("Navigation principale"),
                "{page}"
            );
        }
        let (status, _, _) = send(
            &site,
            post(
                "/administration/services",
                Some(&cookie),
                &format!("code=x&name=X&csrf={csrf}"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let (cookie, _) = login(&site, "admin@a.test").await;
    for path in pages.iter().chain(&["/hebergement"]) {
        let (status, _, page) = send(&site, get(path, Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(page.contains("Administration"), "{path}");
    }
    // RGPD art. 30: the record of processing activities, with each part of the article.
    let (status, _, page) = send(
        &site,
        get("/administration/registre-des-traitements", Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        "Responsable du traitement",
        "Délégué à la protection des données",
        "Registre du courrier et traitement des demandes du public",
        "Finalités",
        "Base légale",
        "Personnes concernées",
        "Destinataires",
        "Transferts",
        "Durées de conservation",
        "Sécurité",
    ] {
        assert!(page.contains(part), "{part}");
    }
    // An administrator who is not the host's sees the commune's pages, not the host's.
    let (cookie, _) = login(&site, "admin@b.test").await;
    let (status, _, page) = send(&site, get("/administration", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("/hebergement"));
    let (status, _, _) = send(&site, get("/hebergement", Some(&cookie))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The token of the last password link emailed to `to` (an élu's or an administrator's
/// link is never shown to the administrator who asked for it).
async fn emailed_link_token(site: &Site, commune: uuid::Uuid, to: &str) -> String {
    let outbox = site.app.store().outbox(commune, 100).await.unwrap();
    let email = outbox
        .iter()
        .find(|e| e.recipients == to)
        .expect("a password link emailed");
    let commune = site.app.store().commune(commune).await.unwrap();
    let raw = site.app.email_bytes(&commune, email.id).await.unwrap();
    let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let text = message.body_text(0).unwrap().into_owned();
    text.split("jeton=")
        .nth(1)
        .expect("the link in the email")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_administrator_invites_changes_and_deactivates_users() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    // A bad email is refused on the page, nothing created.
    let (status, _, page) = send(
        &site,
        post(
            "/administration/utilisateurs",
            Some(&cookie),
            &format!("name=Claire+Dubois&email=pas-une-adresse&role=agent&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Adresse électronique invalide"), "{page}");
    assert_eq!(site.app.store().users(site.a.id).await.unwrap().len(), 4);
    let (status, _, page) = send(
        &site,
        post(
            "/administration/utilisateurs",
            Some(&cookie),
            &format!(
                "name=Claire+Dubois&email=claire%40a.test&title=Adjointe&role=elu&csrf={csrf}"
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Compte créé pour Claire Dubois"), "{page}");
    assert!(
        !page.contains("jeton="),
        "an élu's link is shown to the administrator"
    );
    // The new user chooses a password with the link she received, then logs in.
    let token = emailed_link_token(&site, site.a.id, "claire@a.test").await;
    let (status, _, page) = send(
        &site,
        post(
            "/mot-de-passe-oublie/nouveau",
            None,
            &format!("token={token}&new={PASSWORD}"),
        ),
    )
    .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {page}"
    );
    let (claire_cookie, _) = login(&site, "claire@a.test").await;
    let claire = site
        .app
        .store()
        .user_by_email(site.a.id, "claire@a.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claire.role, Role::Elu);
    // Deactivated: her session ends and she cannot log in again.
    let (status, _, page) = send(
        &site,
        post(
            &format!("/administration/utilisateurs/{}", claire.id),
            Some(&cookie),
            &format!("name=Claire+Dubois&title=Adjointe&role=elu&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (status, headers, _) = send(&site, get("/a-traiter", Some(&claire_cookie))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/connexion")
    );
    // Nobody takes away their own rights, and the commune keeps an administrator.
    let admin = site
        .app
        .store()
        .user_by_email(site.a.id, "admin@a.test")
        .await
        .unwrap()
        .unwrap();
    let (status, _, page) = send(
        &site,
        post(
            &format!("/administration/utilisateurs/{}", admin.id),
            Some(&cookie),
            &format!("name=Admin&role=agent&active=1&host_admin=1&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("vos propres droits"), "{page}");
    let admin_now = site.app.store().user(admin.id).await.unwrap();
    assert_eq!(admin_now.role, Role::Administrateur);
    // Another commune's user is not found.
    let other = site
        .app
        .store()
        .user_by_email(site.b.id, "agent@b.test")
        .await
        .unwrap()
        .unwrap();
    for path in [
        format!("/administration/utilisateurs/{}", other.id),
        format!("/administration/utilisateurs/{}/lien", other.id),
    ] {
        let (status, _, _) = send(
            &site,
            post(
                &path,
                Some(&cookie),
                &format!("name=X&role=agent&active=1&csrf={csrf}"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        site.app.store().user(other.id).await.unwrap().display_name,
        "agent@b.test"
    );
}

#[tokio::test]
async fn services_and_document_types_are_managed_and_used() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(
        &site,
        post(
            "/administration/services",
            Some(&cookie),
            &format!("code=Urba+nisme&name=Urbanisme&csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("Code de service invalide"), "{page}");
    let (_, _, page) = send(
        &site,
        post(
            "/administration/services",
            Some(&cookie),
            &format!("code=urbanisme&name=Urbanisme&csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("Service « Urbanisme » créé"), "{page}");
    let services = site.app.store().services(site.a.id).await.unwrap();
    let urba = services.iter().find(|s| s.code == "urbanisme").unwrap();
    let (status, _, _) = send(
        &site,
        post(
            &format!("/administration/services/{}", urba.id),
            Some(&cookie),
            &format!("name=Urbanisme+et+travaux&email=urba%40a.test&phone=02+47+00+00+00&active=1&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let renamed = site.app.store().services(site.a.id).await.unwrap();
    let urba = renamed.iter().find(|s| s.code == "urbanisme").unwrap();
    assert_eq!(
        (urba.name.as_str(), urba.email.as_deref()),
        ("Urbanisme et travaux", Some("urba@a.test"))
    );

    // A document type with an absurd delay is refused; a good one is added and changed.
    let (_, _, page) = send(
        &site,
        post(
            "/administration/types",
            Some(&cookie),
            &format!("code=permis&label=Permis&delay_count=0&delay_unit=m&silence=acceptance&retention_years=10&final_action=keep&csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("Délai invalide"), "{page}");
    let (_, _, page) = send(
        &site,
        post(
            "/administration/types",
            Some(&cookie),
            &format!("code=permis&label=Permis+de+construire&delay_count=3&delay_unit=m&silence=acceptance&retention_years=10&final_action=keep&csrf={csrf}"),
        ),
    )
    .await;
    assert!(
        page.contains("Type « Permis de construire » ajouté"),
        "{page}"
    );
    let (status, _, _) = send(
        &site,
        post(
            "/administration/types/permis",
            Some(&cookie),
            &format!("label=Permis+de+construire&delay_count=10&delay_unit=wd&silence=none&retention_years=10&final_action=keep&active=1&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let permis = site
        .app
        .store()
        .doctype(site.a.id, "permis")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(permis.delay.to_string(), "10wd");
    // Retired: no longer offered when registering a letter.
    let (status, _, _) = send(
        &site,
        post(
            "/administration/types/permis",
            Some(&cookie),
            &format!("label=Permis+de+construire&delay_count=10&delay_unit=wd&silence=none&retention_years=10&final_action=keep&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (agent, _) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get("/courrier/nouveau", Some(&agent))).await;
    assert!(!page.contains("Permis de construire"));
    assert!(page.contains("Courrier divers"));
}

#[tokio::test]
async fn commune_settings_keep_a_real_logo_and_refuse_a_fake_one() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\x01\0\x18\xdd\x8d\xb0\0\0\0\0IEND\xaeB`\x82";
    let fields = |address: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("address", address.to_owned()),
            ("phone", "02 47 26 00 00".to_owned()),
            ("email", "mairie@a.test".to_owned()),
            ("letterhead", "Ouvert du lundi au vendredi".to_owned()),
            ("chrono_format", "{year}-{dir}-{seq:6}".to_owned()),
        ]
    };
    let bad = fields("1 place de la Mairie");
    let request = multipart_to(
        "/administration",
        &cookie,
        &as_refs(&bad),
        Some(("logo", "logo.png", b"GIF89a pas un png")),
    );
    let (status, _, page) = send(&site, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Le logo doit être une image PNG ou JPEG"),
        "{page}"
    );
    let settings = site.app.store().commune_settings(site.a.id).await.unwrap();
    assert_eq!(settings.address, None, "nothing saved with a refused logo");

    let good = fields("1 place de la Mairie");
    let request = multipart_to(
        "/administration",
        &cookie,
        &as_refs(&good),
        Some(("logo", "logo.png", png)),
    );
    let (status, _, page) = send(&site, request).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Paramètres enregistrés"), "{page}");
    let settings = site.app.store().commune_settings(site.a.id).await.unwrap();
    assert_eq!(settings.address.as_deref(), Some("1 place de la Mairie"));
    assert_eq!(settings.logo_type.as_deref(), Some("image/png"));
    let (status, headers, body) = send(&site, get("/administration/logo", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(body.len(), String::from_utf8_lossy(png).len());
    // The logo is referenced: fsck keeps it.
    let report = site
        .app
        .fsck(
            &parapheur_app::FsckOptions {
                collect: false,
                grace: chrono::Duration::zero(),
            },
            Utc::now(),
            |_| {},
        )
        .await
        .unwrap();
    assert!(report.orphans.is_empty(), "{:?}", report.orphans);
    // Another commune's user gets its own (absent) logo, never this one.
    let (other, _) = login(&site, "agent@b.test").await;
    let (status, _, _) = send(&site, get("/administration/logo", Some(&other))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_host_opens_a_commune_with_its_administrator() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(
        &site,
        post(
            "/hebergement",
            Some(&cookie),
            &format!("insee=99999&admin_name=X&admin_email=x%40c.test&csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("99999"), "{page}");
    assert_eq!(site.app.store().communes().await.unwrap().len(), 2);
    let (_, _, page) = send(
        &site,
        post(
            "/hebergement",
            Some(&cookie),
            &format!(
                "insee=37261&admin_name=Marie+Martin&admin_email=marie%40tours.test&csrf={csrf}"
            ),
        ),
    )
    .await;
    assert!(page.contains("Registre créé pour Tours"), "{page}");
    assert!(
        !page.contains("jeton="),
        "an administrator's link is shown to the host"
    );
    let tours = site.app.commune("37261").await.unwrap();
    let token = emailed_link_token(&site, tours.id, "marie@tours.test").await;
    send(
        &site,
        post(
            "/mot-de-passe-oublie/nouveau",
            None,
            &format!("token={token}&new={PASSWORD}"),
        ),
    )
    .await;
    let (tours, _) = login(&site, "marie@tours.test").await;
    let (status, _, page) = send(&site, get("/administration", Some(&tours))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("37261"));
    // The same commune twice is refused.
    let (_, _, page) = send(
        &site,
        post(
            "/hebergement",
            Some(&cookie),
            &format!("insee=37261&admin_name=Y&admin_email=y%40tours.test&csrf={csrf}"),
        ),
    )
    .await;
    assert!(
        page.contains("existe déjà") || page.contains("déjà"),
        "{page}"
    );
}

#[tokio::test]
async fn items_are_linked_by_number_within_the_commune() {
    let site = site().await;
    let first = register_in(&site, &site.a, "Demande de permis").await.item;
    let second = register_in(&site, &site.a, "Pièces complémentaires du permis")
        .await
        .item;
    // Numbers restart in each commune: the other commune's fourth number has no match here.
    for _ in 0..3 {
        register_in(&site, &site.b, "Autre courrier d'ailleurs").await;
    }
    let foreign = register_in(&site, &site.b, "Courrier d'ailleurs")
        .await
        .item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, _, _) = send(
        &site,
        post(
            &format!("/courrier/{}/lien", second.id),
            Some(&cookie),
            &format!("kind=follow_up_of&numero={}&csrf={csrf}", first.chrono),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(
        &site,
        get(&format!("/courrier/{}", first.id), Some(&cookie)),
    )
    .await;
    assert!(
        page.contains("a pour suite") && page.contains(&second.chrono),
        "{page}"
    );
    // Another commune's number is unknown here (and says nothing about it).
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/lien", second.id),
            Some(&cookie),
            &format!("kind=reply_to&numero={}&csrf={csrf}", foreign.chrono),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Aucun élément ne porte le numéro"), "{page}");
    assert!(!page.contains("Courrier d'ailleurs"));
    // An unknown page keeps the navigation too.
    let (status, _, page) = send(
        &site,
        get(
            "/courrier/00000000-0000-0000-0000-000000000000",
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Navigation principale"), "{page}");
}

#[tokio::test]
async fn contact_suggestions_come_from_this_commune_only() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    for (commune, name) in [(&site.a, "Duplessis"), (&site.b, "Dupont-Ailleurs")] {
        let new = NewItem::incoming(Channel::Paper, "Courrier", today);
        let party = site.app.resolve_contact(commune, name, None).await.unwrap();
        site.app
            .register_with_party(
                commune,
                &Actor::System("test"),
                new,
                Some(party),
                vec![],
                Utc::now(),
            )
            .await
            .unwrap();
    }
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, headers, body) =
        send(&site, get("/contacts/suggestions?q=dup", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let found: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(found.len(), 1, "{body}");
    assert_eq!(found[0]["label"], "Duplessis");
    // The id chosen among the suggestions names the sender of a call.
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let (status, _, page) = send(
        &site,
        post(
            "/appel/nouveau",
            Some(&cookie),
            &format!("caller=Duplessis&caller_id={id}&subject=Rappel&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let contact = uuid::Uuid::parse_str(&id).unwrap();
    assert_eq!(
        site.app
            .store()
            .contact_item_ids(site.a.id, contact)
            .await
            .unwrap()
            .len(),
        2
    );
    // Another commune's contact id is not found, and nothing is registered.
    let foreign = site
        .app
        .store()
        .search_contacts(site.b.id, "dupont", 1)
        .await
        .unwrap();
    let (status, _, _) = send(
        &site,
        post(
            "/appel/nouveau",
            Some(&cookie),
            &format!(
                "caller=X&caller_id={}&subject=Rappel&csrf={csrf}",
                foreign[0].id
            ),
        ),
    )
    .await;
    assert_ne!(status, StatusCode::SEE_OTHER);
    assert_eq!(site.app.store().item_count(site.a.id).await.unwrap(), 2);
    // Pages load the script from our origin only.
    let csp = headers_of(&site, &cookie).await;
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
}

async fn headers_of(site: &Site, cookie: &str) -> String {
    let (_, headers, page) = send(site, get("/a-traiter", Some(cookie))).await;
    assert!(
        page.contains("app-") && page.contains(".js\" defer></script>"),
        "{page}"
    );
    headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_inbox_and_register_show_every_change_at_once() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let inbox = "/a-traiter?vue=ouverts";
    let (_, _, before) = send(&site, get(inbox, Some(&cookie))).await;
    let (_, _, register_before) = send(&site, get("/registre", Some(&cookie))).await;
    assert!(!before.contains("Arrivé entre deux pages"));
    let item = register_in(&site, &site.a, "Arrivé entre deux pages")
        .await
        .item;
    for path in [inbox, "/registre"] {
        let (_, _, page) = send(&site, get(path, Some(&cookie))).await;
        assert!(page.contains("Arrivé entre deux pages"), "{path}: {page}");
    }
    assert_ne!(
        register_before,
        send(&site, get("/registre", Some(&cookie))).await.2
    );
    // Closed: it leaves the open items at once.
    for to in [
        parapheur_app::domain::Status::InProgress,
        parapheur_app::domain::Status::Closed,
    ] {
        site.app
            .change_item(
                &site.a,
                &Actor::System("test"),
                item.id,
                parapheur_app::Change::Status {
                    to,
                    reason: (to == parapheur_app::domain::Status::Closed)
                        .then_some(parapheur_app::domain::CloseReason::NoFollowUp),
                },
                Utc::now(),
            )
            .await
            .unwrap();
    }
    let (_, _, page) = send(&site, get(inbox, Some(&cookie))).await;
    assert!(!page.contains("Arrivé entre deux pages"), "{page}");
}

#[tokio::test]
async fn the_inbox_sorts_by_arrival_or_due_date() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    // Registered in this order; due in the opposite order (the later one is due sooner).
    for (subject, due_in) in [("Premier arrivé", 30), ("Second arrivé", 3)] {
        let mut new = NewItem::incoming(Channel::Paper, subject, today);
        new.requested_due = Some(today + chrono::Duration::days(due_in));
        site.app
            .register(&site.a, &Actor::System("test"), new, vec![], Utc::now())
            .await
            .unwrap();
    }
    let (cookie, _) = login(&site, "agent@a.test").await;
    let order = |page: &str| {
        let first = page.find("Premier arrivé").unwrap();
        let second = page.find("Second arrivé").unwrap();
        first < second
    };
    let (_, _, newest) = send(&site, get("/a-traiter?vue=ouverts", Some(&cookie))).await;
    assert!(!order(&newest), "newest first by default");
    let (_, _, oldest) = send(
        &site,
        get("/a-traiter?vue=ouverts&tri=ancien", Some(&cookie)),
    )
    .await;
    assert!(order(&oldest));
    let (_, _, due) = send(
        &site,
        get("/a-traiter?vue=ouverts&tri=echeance", Some(&cookie)),
    )
    .await;
    assert!(!order(&due), "soonest due first");
    assert!(due.contains("tri=echeance&amp;page=") || !due.contains("Page suivante"));
}

#[tokio::test]
async fn the_printed_register_is_a_pdf_of_this_commune_only() {
    let site = site().await;
    register_in(&site, &site.a, "Demande imprimée au registre").await;
    register_in(&site, &site.b, "Secret de B imprimé").await;
    let (cookie, _) = login(&site, "maire@a.test").await;
    let (status, headers, _) = send(&site, get("/registre.pdf", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    // The body as bytes (the text helper above reads it lossily).
    let response =
        tower::ServiceExt::oneshot(site.router.clone(), get("/registre.pdf", Some(&cookie)))
            .await
            .unwrap();
    let pdf = axum::body::to_bytes(response.into_body(), 50 << 20)
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let Some(text) = pdf_text(&pdf) else {
        // scripts/test.sh installs it; only a bare `cargo test` may lack it.
        assert!(
            std::env::var_os("CI").is_none(),
            "pdftotext (poppler-utils) is missing in CI"
        );
        eprintln!(
            "pdftotext (poppler-utils) is missing: the printed register's text is NOT checked"
        );
        return;
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("Demande imprimée au registre"), "{text}");
    assert!(text.contains(&site.a.name), "{text}");
    assert!(!text.contains("Secret de B"), "{text}");
    // One month at a time: this month has the item, another month does not.
    use chrono::Datelike;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let other = if today.month() == 1 { 2 } else { 1 };
    for (month, present) in [(today.month(), true), (other, false)] {
        let path = format!("/registre.pdf?annee={}&mois={month}", today.year());
        let response = tower::ServiceExt::oneshot(site.router.clone(), get(&path, Some(&cookie)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let pdf = axum::body::to_bytes(response.into_body(), 50 << 20)
            .await
            .unwrap();
        let text = pdf_text(&pdf).unwrap();
        assert_eq!(text.contains("Demande imprimée"), present, "{path}: {text}");
    }
    let (status, _, page) = send(&site, get("/registre.pdf?mois=13", Some(&cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("mois"), "{page}");
}

/// The text of a PDF, by poppler's pdftotext, if installed.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn search_highlights_respects_confidentiality_and_suggestions_take_one_key() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let system = Actor::System("test");
    let open = site
        .app
        .register(
            &site.a,
            &system,
            NewItem::incoming(
                Channel::Paper,
                "Subvention du club <b>de football</b>",
                today,
            ),
            vec![],
            Utc::now(),
        )
        .await
        .unwrap()
        .item;
    let mut secret = NewItem::incoming(Channel::Paper, "Subventions secrètes", today);
    secret.confidentiality = parapheur_app::domain::Confidentiality::Confidential;
    site.app
        .register(&site.a, &system, secret, vec![], Utc::now())
        .await
        .unwrap();
    let (agent, csrf) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/recherche?q=subventions", Some(&agent))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<mark>Subvention</mark>"), "{page}");
    assert!(page.contains("&lt;b&gt;"), "the subject is escaped");
    assert!(
        !page.contains("secrètes"),
        "a confidential item stays hidden from an agent"
    );
    let (_, _, page) = send(
        &site,
        get(
            "/recherche?q=subventions",
            Some(&login(&site, "maire@a.test").await.0),
        ),
    )
    .await;
    assert!(page.contains("secrètes"), "the maire sees it");
    // Commune B finds nothing of A's.
    let (b_agent, _) = login(&site, "agent@b.test").await;
    let (_, _, page) = send(&site, get("/recherche?q=subventions", Some(&b_agent))).await;
    assert!(page.contains("0 résultat"), "{page}");
    // A bad filter is a clear refusal, not a server error.
    let (status, _, _) = send(&site, get("/recherche?q=x&du=hier", Some(&agent))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The item page suggests the type from its words; Enter on the focused button accepts.
    let (_, _, page) = send(&site, get(&format!("/courrier/{}", open.id), Some(&agent))).await;
    assert!(page.contains("Demande de subvention"), "{page}");
    assert!(page.contains("autofocus"));
    let (status, _, _) = send(
        &site,
        post(
            &format!("/courrier/{}/suggestion", open.id),
            Some(&agent),
            &format!("csrf={csrf}&doctype=subvention&service="),
        ),
    )
    .await;
    assert!(
        status.is_redirection() || status == StatusCode::OK,
        "{status}"
    );
    let item = site.app.store().item(site.a.id, open.id).await.unwrap();
    assert_eq!(item.doctype_code.as_deref(), Some("subvention"));
    assert!(item.due_date.is_some(), "the type's deadline follows");
}

#[tokio::test]
async fn quarantined_messages_are_listed_with_their_reason_and_retried() {
    use parapheur_app::capture::{CaptureOutcome, MessageSource};
    let site = site().await;
    let outcome = site
        .app
        .capture_message(
            &site.a,
            MessageSource::import("scanner/illisible.eml"),
            // Binary that is no message (a scan is registered as a document: ux.rs).
            Ok(b"\x00\x01 pas un message".to_vec()),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Quarantined { inbound_id, reason } = outcome else {
        panic!("{outcome:?}")
    };
    let (agent, csrf) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get("/courriels", Some(&agent))).await;
    assert!(page.contains("illisible.eml"), "{page}");
    assert!(
        page.contains(&reason.replace('\'', "&#x27;")) || page.contains("PDF"),
        "{page}"
    );
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courriels/{inbound_id}/reessayer"),
            Some(&agent),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Toujours illisible"), "{page}");
    // The original is there, byte for byte, downloaded (never shown inline).
    let (status, headers, body) = send(
        &site,
        get(&format!("/courriels/{inbound_id}/original"), Some(&agent)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "\u{0}\u{1} pas un message");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    // An élu does not handle the quarantine.
    let (maire, _) = login(&site, "maire@a.test").await;
    assert_eq!(
        send(&site, get("/courriels", Some(&maire))).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn hostile_html_mail_is_shown_sanitised() {
    use parapheur_app::capture::{CaptureOutcome, MessageSource};
    let site = site().await;
    let raw = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../mail/tests/corpus/own/html-hostile.eml"),
    )
    .unwrap();
    let outcome = site
        .app
        .capture_message(
            &site.a,
            MessageSource::import("hostile"),
            Ok(raw),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let inbound = site
        .app
        .store()
        .inbound_of_item(site.a.id, item_id)
        .await
        .unwrap()[0]
        .id;
    let (agent, _) = login(&site, "agent@a.test").await;
    let (status, headers, page) = send(
        &site,
        get(&format!("/courriels/{inbound}/apercu"), Some(&agent)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let shown = page
        .split("<div class=\"mail-html\">")
        .nth(1)
        .expect("the formatted message is shown")
        .split("<h2>Texte</h2>")
        .next()
        .unwrap()
        .to_lowercase();
    for bad in [
        "<script",
        "onerror",
        "src=\"http",
        "src=\"//",
        "javascript:",
        "<iframe",
        "<form",
    ] {
        assert!(!shown.contains(bad), "{bad} in {shown}");
    }
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("img-src 'self'"), "{csp}");
}

/// The paper mail's accusés printed at once from the list: one PDF, the request recorded as
/// acknowledged and gone from the list; an item without a type says why it cannot be.
#[tokio::test]
async fn acknowledgements_are_printed_for_the_post_and_recorded() {
    let site = site().await;
    let typed = register_in(&site, &site.a, "Terrasse de café").await.item;
    site.app
        .change_item(
            &site.a,
            &Actor::System("test"),
            typed.id,
            parapheur_app::Change::Classify {
                doctype: "demande-administrative".into(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let untyped = register_in(&site, &site.a, "Sans type").await.item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/accuses", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&typed.chrono), "{page}");
    assert!(page.contains("non : à imprimer"), "{page}");
    // The commune has no address or phone yet: R112-5 needs them, the page says so.
    assert!(
        page.contains("le téléphone de la mairie") && page.contains("R112-5"),
        "{page}"
    );
    site.app
        .update_commune_settings(
            &site.a,
            &Actor::System("test"),
            parapheur_app::administration::SettingsForm {
                address: "Place de la Mairie\n01500 Ambérieu-en-Bugey".into(),
                phone: "04 74 38 00 00".into(),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let (_, _, page) = send(&site, get("/accuses", Some(&cookie))).await;
    assert!(!page.contains("R112-5"), "{page}");

    let (status, headers, body) = send(
        &site,
        post(
            "/accuses/imprimer",
            Some(&cookie),
            &format!("csrf={csrf}&ids={}", typed.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    assert!(body.starts_with("%PDF-"));
    let after = site.app.store().item(site.a.id, typed.id).await.unwrap();
    assert!(after.acknowledged_at.is_some());
    let (_, _, page) = send(&site, get("/accuses", Some(&cookie))).await;
    assert!(!page.contains(&typed.chrono), "{page}");

    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/accuse/imprimer", untyped.id),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("Indiquez d&#x27;abord le type") || page.contains("Indiquez d'abord le type"),
        "{page}"
    );
    let untouched = site.app.store().item(site.a.id, untyped.id).await.unwrap();
    assert_eq!(untouched.acknowledged_at, None);
}

/// "Mot de passe oublié" emails the link through the outbox (the page says the same for an
/// unknown address); the link works once; a fourth request within the hour sends nothing.
#[tokio::test]
async fn a_forgotten_password_link_is_emailed_and_capped() {
    let site = site().await;
    let forgot = |email: &str| post("/mot-de-passe-oublie", None, &format!("email={email}"));
    let (status, _, known) = send(&site, forgot("agent%40a.test")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, unknown) = send(&site, forgot("personne%40a.test")).await;
    assert_eq!(
        known, unknown,
        "the page never tells whether the account exists"
    );
    let outbox = site.app.store().outbox(site.a.id, 10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].recipients, "agent@a.test");
    let raw = site.app.email_bytes(&site.a, outbox[0].id).await.unwrap();
    let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let text = message.body_text(0).unwrap().into_owned();
    let token = text
        .split("jeton=")
        .nth(1)
        .expect("the link in the email")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let new_password = format!("{PASSWORD}-nouveau");
    let reset = |token: &str| {
        post(
            "/mot-de-passe-oublie/nouveau",
            None,
            &format!("token={token}&new={new_password}"),
        )
    };
    let (status, _, page) = send(&site, reset(&token)).await;
    assert!(status.is_success() || status.is_redirection(), "{page}");
    let (status, _, page) = send(&site, reset(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used once only: {page}");

    for _ in 0..3 {
        send(&site, forgot("agent%40a.test")).await;
    }
    let sent = site.app.store().outbox(site.a.id, 10).await.unwrap();
    assert_eq!(sent.len(), 3, "three links an hour at most");
}

/// L114-2: a request another administration received first and forwarded. Its first
/// receipt is entered with the letter and starts the rejection delay; a first receipt after
/// the arrival here is refused and saves nothing.
#[tokio::test]
async fn a_forwarded_request_keeps_its_first_receipt() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let fields = |first: String| {
        vec![
            ("csrf", csrf.clone()),
            ("channel", "paper".into()),
            ("subject", "Recours transmis par la préfecture".into()),
            ("sender", "Paul Durand".into()),
            ("doctype", "demande-svr".into()),
            ("arrival", day(today)),
            ("first_receipt", first),
            ("then", "next".into()),
        ]
    };
    let first = today - chrono::Duration::days(20);
    let (status, _, page) = send(
        &site,
        multipart(&cookie, &as_refs(&fields(day(first))), None),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let items = site
        .app
        .store()
        .items(site.a.id, &Default::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(items[0].first_receipt_elsewhere, Some(first));
    // Two months from the first receipt, not from today.
    let expected =
        parapheur_app::domain::deadline::compute(&parapheur_app::domain::deadline::DeadlineFacts {
            arrival: today,
            first_receipt_elsewhere: Some(first),
            incomplete: None,
            delay: parapheur_app::domain::Delay::Months(2),
            silence: parapheur_app::domain::SilenceRule::Rejection,
            zone: site.a.holiday_zone(),
        });
    assert_eq!(items[0].silence_date, expected.silence_date);
    assert!(items[0].silence_date < Some(today + chrono::Duration::days(59)));

    let (status, _, page) = send(
        &site,
        multipart(
            &cookie,
            &as_refs(&fields(day(today + chrono::Duration::days(1)))),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(
        site.app
            .store()
            .items(site.a.id, &Default::default(), 10, 0)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Every log line written while a request is served carries the request's id, which the
/// answer gives in `X-Request-Id`; another request has another id.
#[tokio::test]
async fn a_requests_log_lines_share_its_id() {
    use std::sync::{Arc, Mutex, OnceLock};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The process's subscriber (a thread's own, with the other tests running beside it,
    // misses events whose interest tracing cached meanwhile); the lines are told apart by
    // the request ids, which are unique.
    static LINES: OnceLock<Lines> = OnceLock::new();
    let lines = LINES
        .get_or_init(|| {
            let lines = Lines::default();
            let writer = lines.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            lines
        })
        .clone();

    let site = site().await;
    let mut ids = Vec::new();
    for email in ["agent@a.test", "maire@a.test"] {
        let (status, headers, _) = send(
            &site,
            post(
                "/connexion",
                None,
                &format!("email={email}&password={PASSWORD}&suite=/a-traiter"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        ids.push(headers["x-request-id"].to_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    for (id, email) in ids.iter().zip(["agent@a.test", "maire@a.test"]) {
        let of_request: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!("request{{id={id} ")))
            .collect();
        // The use case's own line ("login") and the request's closing line, both with the id.
        assert!(
            of_request.iter().any(|l| l.contains(": login")),
            "{email}: {text}"
        );
        assert!(
            of_request.iter().any(|l| l.contains("request served")),
            "{email}: {text}"
        );
        assert!(
            of_request.iter().all(|l| l.contains("route=/connexion")),
            "{of_request:?}"
        );
    }
    // A use case's lines name the commune and the actor (its span).
    let registered = register_in(&site, &site.a, "Demande tracée").await;
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("register{commune=01004 actor=system:test}")
                && l.contains("item registered")
                && l.contains(&registered.item.chrono)),
        "{text}"
    );
    // An id sent by a reverse proxy is kept; a hostile one is replaced.
    let mut request = get("/connexion", None);
    request
        .headers_mut()
        .insert("x-request-id", "proxy-42".parse().unwrap());
    let (_, headers, _) = send(&site, request).await;
    assert_eq!(headers["x-request-id"], "proxy-42");
    let mut request = get("/connexion", None);
    request
        .headers_mut()
        .insert("x-request-id", "a b\"c".parse().unwrap());
    let (_, headers, _) = send(&site, request).await;
    assert_ne!(headers["x-request-id"], "a b\"c");
}

/// The search form shows again the document type it searched (the field is `type` in the
/// address: the template once read another name and forgot the choice).
#[tokio::test]
async fn the_search_form_keeps_its_choices() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let doctypes = site.app.store().doctypes(site.a.id).await.unwrap();
    let code = &doctypes.first().expect("a commune has document types").code;
    let (status, _, page) = send(
        &site,
        get(
            &format!("/recherche?q=salle&type={code}&statut=registered"),
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("<option value=\"{code}\" selected>")),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"registered\" selected>"),
        "{page}"
    );
}
