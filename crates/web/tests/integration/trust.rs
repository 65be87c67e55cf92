//! Who may act for whom: password links, host administrators (the trust issue's findings
//! 1 and 5), through the real router.

use axum::http::StatusCode;
use chrono::Utc;
use parapheur_app::domain::Role;
use parapheur_app::{Actor, NewUser};

use crate::common::*;

async fn user_id(site: &Site, commune: &parapheur_app::domain::Commune, email: &str) -> String {
    site.app
        .store()
        .user_by_email(commune.id, email)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

async fn emails_to(site: &Site, commune: &parapheur_app::domain::Commune, to: &str) -> usize {
    site.app
        .store()
        .outbox(commune.id, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.recipients == to)
        .count()
}

#[tokio::test]
async fn a_password_link_is_shown_only_for_an_agent_who_never_had_a_password() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "admin@b.test").await;
    // The maire, another administrator, an agent who has a password: the link goes to
    // their own address and is never shown to the administrator.
    for email in ["maire@b.test", "admin@b.test", "agent@b.test"] {
        let id = user_id(&site, &site.b, email).await;
        let before = emails_to(&site, &site.b, email).await;
        let (status, _, page) = send(
            &site,
            post(
                &format!("/administration/utilisateurs/{id}/lien"),
                Some(&cookie),
                &format!("csrf={csrf}"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{email}: {page}");
        assert!(!page.contains("jeton="), "{email}: the link is shown");
        assert!(page.contains("est parti par courriel"), "{email}");
        assert_eq!(
            emails_to(&site, &site.b, email).await,
            before + 1,
            "{email}"
        );
    }
    // A new agent's first link may be passed on by hand; a new élu's never.
    let (_, _, page) = send(
        &site,
        post(
            "/administration/utilisateurs",
            Some(&cookie),
            &format!("name=Lea+Petit&email=lea%40b.test&role=agent&csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("jeton="), "{page}");
    let lea = user_id(&site, &site.b, "lea@b.test").await;
    let (_, _, page) = send(
        &site,
        post(
            &format!("/administration/utilisateurs/{lea}/lien"),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("jeton="), "{page}");
    let (_, _, page) = send(
        &site,
        post(
            "/administration/utilisateurs",
            Some(&cookie),
            &format!("name=Paul+Adjoint&email=paul%40b.test&role=elu&csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("Compte créé pour Paul Adjoint"), "{page}");
    assert!(!page.contains("jeton="), "{page}");
    assert_eq!(emails_to(&site, &site.b, "paul@b.test").await, 1);
}

#[tokio::test]
async fn a_commune_administrator_neither_sees_nor_touches_a_host_administrator() {
    let site = site().await;
    site.app
        .add_user(
            &site.a,
            NewUser {
                email: "admin2@a.test".into(),
                display_name: "Second administrateur".into(),
                title: None,
                role: Role::Administrateur,
                service_id: None,
                password: Some(PASSWORD.into()),
                host_admin: false,
            },
            &Actor::System("test"),
            Utc::now(),
        )
        .await
        .unwrap();
    let host = user_id(&site, &site.a, "admin@a.test").await;
    let (cookie, csrf) = login(&site, "admin2@a.test").await;
    let (status, _, page) = send(&site, get("/administration/utilisateurs", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("admin@a.test"),
        "the host administrator is listed"
    );
    assert_eq!(
        send(
            &site,
            get(
                &format!("/administration/utilisateurs/{host}"),
                Some(&cookie)
            )
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    for (path, form) in [
        (
            format!("/administration/utilisateurs/{host}"),
            format!("name=X&role=agent&csrf={csrf}"),
        ),
        (
            format!("/administration/utilisateurs/{host}/lien"),
            format!("csrf={csrf}"),
        ),
    ] {
        let (status, _, _) = send(&site, post(&path, Some(&cookie), &form)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let after = site.app.store().user(host.parse().unwrap()).await.unwrap();
    assert!(after.active && after.host_admin && after.role == Role::Administrateur);
    assert_eq!(emails_to(&site, &site.a, "admin@a.test").await, 0);
    // Host rights are not given through the web, not even by a host administrator.
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let second = user_id(&site, &site.a, "admin2@a.test").await;
    let (status, _, _) = send(
        &site,
        post(
            &format!("/administration/utilisateurs/{second}"),
            Some(&cookie),
            &format!("name=Second&role=administrateur&active=1&host_admin=1&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        !site
            .app
            .store()
            .user(second.parse().unwrap())
            .await
            .unwrap()
            .host_admin
    );
}

/// Finding 8: the acknowledgements page and the parapheur listed confidential items'
/// numbers and subjects, and the letters drafted for them, to every agent.
#[tokio::test]
async fn confidential_items_and_their_letters_stay_out_of_other_peoples_lists() {
    let site = site().await;
    let system = Actor::System("test");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let mut secret = parapheur_app::domain::item::NewItem::incoming(
        parapheur_app::domain::Channel::Paper,
        "Projet Secret Rivière",
        today,
    );
    secret.confidentiality = parapheur_app::domain::Confidentiality::Confidential;
    secret.doctype_code = Some("demande-administrative".into());
    let sender = {
        let mut tx = site.app.store().begin(Utc::now()).await.unwrap();
        let c = tx
            .insert_contact(
                site.a.id,
                &parapheur_app::domain::contact::NewContact {
                    name: "Durand Rivière".into(),
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c
    };
    secret.sender_ids = vec![sender.id];
    let secret = site
        .app
        .register(&site.a, &system, secret, Vec::new(), Utc::now())
        .await
        .unwrap();
    let admin = site
        .app
        .store()
        .user_by_email(site.a.id, "admin@a.test")
        .await
        .unwrap()
        .unwrap();
    let folder = site
        .app
        .draft_letter(
            &site.a,
            &Actor::User(admin.id),
            secret.item.id,
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    site.app
        .save_letter(
            &site.a,
            &Actor::User(admin.id),
            folder.id,
            &parapheur_app::parapheur::LetterInput {
                subject: "Réponse Rivière confidentielle".into(),
                recipient: "Jean Durand".into(),
                body: "Monsieur,\n\nRéponse.".into(),
                signer_id: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    // The administrator reads them (the checks below can fail).
    let (admin_cookie, _) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(&site, get("/accuses", Some(&admin_cookie))).await;
    assert!(page.contains("Projet Secret Rivière"), "{page}");
    let (_, _, page) = send(&site, get("/parapheur", Some(&admin_cookie))).await;
    assert!(page.contains("Réponse Rivière confidentielle"), "{page}");
    // An agent who is neither in charge nor the author does not.
    let (cookie, _) = login(&site, "agent@a.test").await;
    for path in ["/accuses", "/parapheur", "/a-traiter"] {
        let (status, _, page) = send(&site, get(path, Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !page.contains("Rivière"),
            "{path} shows the confidential item: {page}"
        );
        assert!(!page.contains(&secret.item.chrono), "{path}");
    }
    let (status, _, _) = send(
        &site,
        get(&format!("/parapheur/{}", folder.id), Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let contact_page = format!("/contacts/{}", sender.id);
    let (_, _, page) = send(&site, get(&contact_page, Some(&cookie))).await;
    assert!(!page.contains(&secret.item.chrono), "{page}");
    // Copied to the agent, the item opens for her, and shows in her lists: one rule.
    let agent = site
        .app
        .store()
        .user_by_email(site.a.id, "agent@a.test")
        .await
        .unwrap()
        .unwrap();
    site.app
        .copy_item(
            &site.a,
            &system,
            secret.item.id,
            agent.id,
            parapheur_app::domain::item::CopyPurpose::Information,
            Utc::now(),
        )
        .await
        .unwrap();
    let (status, _, _) = send(
        &site,
        get(&format!("/courrier/{}", secret.item.id), Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, page) = send(&site, get("/accuses", Some(&cookie))).await;
    assert!(page.contains("Projet Secret Rivière"), "{page}");
    // The contact's page follows the same rule (it used to hide every confidential item
    // from her, copied or not).
    let (_, _, page) = send(&site, get(&contact_page, Some(&cookie))).await;
    assert!(page.contains(&secret.item.chrono), "{page}");
    // A draft is not read by URL by someone who neither wrote it nor processes mail.
    let mut plain = parapheur_app::domain::item::NewItem::incoming(
        parapheur_app::domain::Channel::Paper,
        "Demande ordinaire",
        today,
    );
    plain.doctype_code = Some("demande-administrative".into());
    let plain = site
        .app
        .register(&site.a, &system, plain, Vec::new(), Utc::now())
        .await
        .unwrap();
    let draft = site
        .app
        .draft_letter(
            &site.a,
            &Actor::User(admin.id),
            plain.item.id,
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let (archivist, _) = login(&site, "archiviste@a.test").await;
    let (status, _, _) = send(
        &site,
        get(&format!("/parapheur/{}", draft.id), Some(&archivist)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(
        &site,
        get(&format!("/parapheur/{}", draft.id), Some(&cookie)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "agents share the drafts of the mail they process"
    );
}

fn from_address(
    ip: [u8; 4],
    mut request: axum::http::Request<axum::body::Body>,
) -> axum::http::Request<axum::body::Body> {
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            ip, 40_000,
        ))));
    request
}

/// Finding 12: five bad passwords from anywhere locked the owner out for 15 minutes.
#[tokio::test]
async fn a_stranger_cannot_lock_an_account_out() {
    let site = site().await;
    let attempt = |password: &str| {
        post(
            "/connexion",
            None,
            &format!("email=maire%40a.test&password={password}&suite=/a-traiter"),
        )
    };
    for _ in 0..8 {
        let (status, _, _) = send(
            &site,
            from_address([203, 0, 113, 7], attempt("faux-mot-de-passe")),
        )
        .await;
        assert_ne!(status, StatusCode::SEE_OTHER);
    }
    // The stranger's address now waits...
    let (_, _, page) = send(&site, from_address([203, 0, 113, 7], attempt(PASSWORD))).await;
    assert!(
        page.contains("minute"),
        "the stranger is not slowed down: {page}"
    );
    // ...and the maire, from the mairie, logs in.
    let (status, _, page) = send(&site, from_address([192, 0, 2, 10], attempt(PASSWORD))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
}

/// Finding 12: the login form, open to anyone, read bodies up to the upload limit.
#[tokio::test]
async fn the_login_forms_refuse_a_big_body_unread() {
    let site = site().await;
    let big = format!("email=x%40a.test&password={}", "a".repeat(1024 * 1024));
    for path in [
        "/connexion",
        "/mot-de-passe-oublie",
        "/mot-de-passe-oublie/nouveau",
    ] {
        let (status, _, _) = send(&site, post(path, None, &big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
}

/// Finding 12: "mot de passe oublié" answered faster for an unknown address.
#[tokio::test]
async fn a_forgotten_password_answers_in_the_same_time_either_way() {
    let site = site().await;
    for email in ["agent%40a.test", "personne%40nulle-part.test"] {
        let started = std::time::Instant::now();
        let (status, _, _) = send(
            &site,
            post("/mot-de-passe-oublie", None, &format!("email={email}")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() >= parapheur_app::administration::auth::RESET_ANSWER_TIME,
            "{email} answered before the fixed time"
        );
    }
}

/// Finding 12: a session lived as long as it was used.
#[tokio::test]
async fn a_session_ends_twelve_hours_after_login_whatever_its_use() {
    let site = site().await;
    let session = site
        .app
        .login("agent@a.test", PASSWORD, None, None, None, Utc::now())
        .await
        .unwrap();
    // Used every hour, it still ends.
    for hour in 1..=11 {
        let at = Utc::now() + chrono::Duration::hours(hour) - chrono::Duration::minutes(5);
        assert!(
            site.app
                .authenticate(&session.token, at)
                .await
                .unwrap()
                .is_some(),
            "hour {hour}"
        );
    }
    let at = Utc::now() + chrono::Duration::hours(12) + chrono::Duration::minutes(5);
    assert!(
        site.app
            .authenticate(&session.token, at)
            .await
            .unwrap()
            .is_none()
    );
}

/// Finding 12: a PDF whose script hides behind an escaped name (`/J#53`) was served inline.
#[tokio::test]
async fn a_pdf_with_an_escaped_script_name_is_only_downloaded() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let registered = site
        .app
        .register(
            &site.a,
            &Actor::System("test"),
            parapheur_app::domain::item::NewItem::incoming(
                parapheur_app::domain::Channel::Paper,
                "Piège",
                today,
            ),
            vec![parapheur_app::NewFile {
                filename: "piege.pdf".into(),
                media_type: "application/pdf".into(),
                bytes: b"%PDF-1.4\n1 0 obj << /OpenAction << /S /Java#53cript /J#53 (app.alert(1)) >> >> endobj\n%%EOF\n".to_vec(),
            }],
            Utc::now(),
        )
        .await
        .unwrap();
    let (cookie, _) = login(&site, "admin@a.test").await;
    let (status, headers, _) = send(
        &site,
        get(
            &format!(
                "/courrier/{}/fichier/{}",
                registered.item.id, registered.attachments[0].id
            ),
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[axum::http::header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert!(
        headers[axum::http::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
        "{headers:?}"
    );
}

/// The code shown in a page's `<code>` element (the enrolment key).
fn shown_secret(page: &str) -> String {
    page.split("la main : <code>")
        .nth(1)
        .expect("the key on the page")
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

/// Findings 1 and 2 of the trust issue: a signature needs the signer's own second factor,
/// enrolled by the signer; an administrator can only reset it visibly.
#[tokio::test]
async fn signing_needs_the_signers_own_second_factor() {
    use parapheur_app::administration::second_factor::code_at;
    use parapheur_app::domain::circuit::{CircuitDef, StepDef, StepKind};
    let site = site().await;
    let admin = site
        .app
        .store()
        .user_by_email(site.a.id, "admin@a.test")
        .await
        .unwrap()
        .unwrap();
    let maire = site
        .app
        .store()
        .user_by_email(site.a.id, "maire@a.test")
        .await
        .unwrap()
        .unwrap();
    site.app
        .issue_signer_key(&site.a, &Actor::System("test"), maire.id, None, Utc::now())
        .await
        .unwrap();
    let item = register_in(&site, &site.a, "Demande à signer").await;
    let folder = site
        .app
        .draft_letter(
            &site.a,
            &Actor::User(admin.id),
            item.item.id,
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let only_the_maire = CircuitDef {
        stages: vec![vec![StepDef {
            kind: StepKind::Signature,
            user_id: Some(maire.id),
        }]],
    };
    site.app
        .start_circuit(
            &site.a,
            &Actor::User(admin.id),
            folder.id,
            &only_the_maire,
            Utc::now(),
        )
        .await
        .unwrap();
    let (cookie, csrf) = login(&site, "maire@a.test").await;
    let folder_url = format!("/parapheur/{}", folder.id);
    let (_, _, page) = send(&site, get(&folder_url, Some(&cookie))).await;
    assert!(
        page.contains("activez d'abord la double authentification"),
        "{page}"
    );
    // Without a second factor, no signature, whatever the form says.
    let sign = |otp: &str| {
        post(
            &format!("{folder_url}/action"),
            Some(&cookie),
            &format!("action=sign&otp={otp}&csrf={csrf}"),
        )
    };
    send(&site, sign("123456")).await;
    let state = || async {
        site.app
            .store()
            .folder(site.a.id, folder.id)
            .await
            .unwrap()
            .state
    };
    assert_eq!(
        state().await,
        parapheur_store::parapheur::FolderState::Circuit
    );
    // The maire enrols her phone herself.
    let (_, _, page) = send(
        &site,
        post(
            "/double-authentification/activer",
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert!(page.contains("<svg"), "no QR code: {page}");
    let secret = shown_secret(&page);
    let now = Utc::now();
    let (_, _, page) = send(
        &site,
        post(
            "/double-authentification/confirmer",
            Some(&cookie),
            &format!("otp={}&csrf={csrf}", code_at(&secret, now).unwrap()),
        ),
    )
    .await;
    assert!(page.contains("est active"), "{page}");
    // A wrong code signs nothing; her next code signs.
    send(&site, sign("000000")).await;
    assert_eq!(
        state().await,
        parapheur_store::parapheur::FolderState::Circuit
    );
    let next = code_at(&secret, now + chrono::Duration::seconds(30)).unwrap();
    let (status, _, page) = send(&site, sign(&next)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        state().await,
        parapheur_store::parapheur::FolderState::Signed
    );
    // An administrator resets it only in the open: journaled, the maire told by email.
    let journal = site.app.store().journal_len(site.a.id).await.unwrap();
    let mails = emails_to(&site, &site.a, "maire@a.test").await;
    let (admin_cookie, admin_csrf) = login(&site, "admin@a.test").await;
    let (status, _, page) = send(
        &site,
        post(
            &format!(
                "/administration/utilisateurs/{}/double-authentification",
                maire.id
            ),
            Some(&admin_cookie),
            &format!("csrf={admin_csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!site.app.has_second_factor(maire.id).await.unwrap());
    assert_eq!(emails_to(&site, &site.a, "maire@a.test").await, mails + 1);
    let entries = site
        .app
        .store()
        .journal_of(site.a.id, "user", &maire.id.to_string())
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == "user.second_factor.reset")
    );
    assert!(site.app.store().journal_len(site.a.id).await.unwrap() > journal);
}

/// What-to-build 2 of the trust issue: administrators log in with a second factor too, and
/// reach the administration only once they have enrolled one.
#[tokio::test]
async fn administrators_log_in_with_their_second_factor() {
    use parapheur_app::administration::second_factor::code_at;
    let site = site_with(|c| c.admin_second_factor = true).await;
    // Not enrolled yet: logged in, but sent to enrol before the administration.
    let (cookie, csrf) = login(&site, "admin@b.test").await;
    let (status, headers, _) = send(&site, get("/administration", Some(&cookie))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[axum::http::header::LOCATION],
        "/double-authentification"
    );
    let (_, _, page) = send(
        &site,
        post(
            "/double-authentification/activer",
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    let secret = shown_secret(&page);
    let now = Utc::now();
    let (_, _, page) = send(
        &site,
        post(
            "/double-authentification/confirmer",
            Some(&cookie),
            &format!("otp={}&csrf={csrf}", code_at(&secret, now).unwrap()),
        ),
    )
    .await;
    assert!(page.contains("est active"), "{page}");
    let (status, _, _) = send(&site, get("/administration", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    // From now on the password alone does not open the account.
    let attempt = |otp: &str| {
        post(
            "/connexion",
            None,
            &format!("email=admin%40b.test&password={PASSWORD}&otp={otp}&suite=/administration"),
        )
    };
    let (status, _, page) = send(&site, attempt("")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("code à six chiffres"), "{page}");
    let (status, _, _) = send(&site, attempt("000000")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let next = code_at(&secret, now + chrono::Duration::seconds(30)).unwrap();
    let (status, _, page) = send(&site, attempt(&next)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    // The same code twice: refused.
    let (status, _, _) = send(&site, attempt(&next)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An agent logs in with the password alone.
    login(&site, "agent@b.test").await;
}

/// Finding 7: a message that only quotes a number is registered apart, and the agent
/// reconciles it with one button.
#[tokio::test]
async fn a_message_to_reconcile_is_linked_with_one_button() {
    use parapheur_app::capture::{CaptureOutcome, MessageSource};
    let site = site().await;
    let original = register_in(&site, &site.a, "Demande de salle").await;
    let chrono = original.item.chrono.clone();
    let raw = format!(
        "From: Jeanne Martin <jeanne@exemple.fr>\r\nTo: mairie@a.test\r\nSubject: Suite du courrier {chrono}\r\nMessage-ID: <suite@exemple.fr>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJe complète ma demande.\r\n"
    );
    let outcome = site
        .app
        .capture_message(
            &site.a,
            MessageSource::import("test"),
            Ok(raw.into_bytes()),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get(&format!("/courrier/{item_id}"), Some(&cookie))).await;
    assert!(
        page.contains(&format!("Rapprocher du courrier {chrono}")),
        "{page}"
    );
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{item_id}/lien"),
            Some(&cookie),
            &format!("kind=follow_up_of&numero={chrono}&csrf={csrf}"),
        ),
    )
    .await;
    assert!(
        status.is_redirection() || status.is_success(),
        "{status} {page}"
    );
    let (_, _, page) = send(&site, get(&format!("/courrier/{item_id}"), Some(&cookie))).await;
    assert!(
        page.contains(&format!("{}\">{chrono}</a>", original.item.id)),
        "not linked: {page}"
    );
    assert!(
        !page.contains("Rapprocher du courrier"),
        "the button stays once linked"
    );
}
