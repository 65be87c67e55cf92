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

/// A letter answering a request from Jeanne Martin, drafted by the administrator, in a
/// circuit: the administrator's visa, then the maire's signature. Returns (item, folder).
async fn letter_in_circuit(site: &Site) -> (parapheur_app::domain::Item, uuid::Uuid) {
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let sender = contact(
        site,
        NewContact {
            civility: Some("Madame".into()),
            address: Some("3 rue des Lilas".into()),
            postal_code: Some("37250".into()),
            city: Some("Montbazon".into()),
            ..person("Jeanne", "Martin")
        },
    )
    .await;
    let mut letter = NewItem::incoming(Channel::Paper, "Demande de salle", today);
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
    let admin = user(site, "admin@a.test").await;
    let maire = user(site, "maire@a.test").await;
    let author = Actor::User(admin.id);
    let folder = site
        .app
        .draft_letter(&site.a, &author, item.id, None, Utc::now())
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
        .start_circuit(&site.a, &author, folder.id, &circuit, Utc::now())
        .await
        .unwrap();
    (item, folder.id)
}

async fn user(site: &Site, email: &str) -> parapheur_store::users::User {
    site.app
        .store()
        .user_by_email(site.a.id, email)
        .await
        .unwrap()
        .unwrap()
}

/// The administrator's visa, so that the letter waits for the maire's signature.
async fn visa(site: &Site, folder: uuid::Uuid) {
    let admin = user(site, "admin@a.test").await;
    site.app
        .act_on_folder(
            &site.a,
            &Actor::User(admin.id),
            folder,
            Action::Approve,
            SignerProof::default(),
            Utc::now(),
        )
        .await
        .unwrap();
}

/// Where a redirect points (its `Location`, decoded enough to be fetched again).
fn location(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("no redirect: {headers:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The maire gets a signing key and a second factor, logs in and signs `folder`; returns the
/// maire's cookie and CSRF token, and the answer's headers (a redirect to the confirmation).
async fn maire_signs(site: &Site, folder: uuid::Uuid) -> (String, String, axum::http::HeaderMap) {
    use parapheur_app::administration::second_factor::code_at;
    let maire = user(site, "maire@a.test").await;
    site.app
        .issue_signer_key(&site.a, &Actor::System("test"), maire.id, None, Utc::now())
        .await
        .unwrap();
    let enrolment = site.app.begin_second_factor(&site.a, &maire).await.unwrap();
    let now = Utc::now();
    site.app
        .confirm_second_factor(
            &site.a,
            &maire,
            &code_at(&enrolment.secret, now - chrono::Duration::seconds(30)).unwrap(),
            now,
        )
        .await
        .unwrap();
    let (maire_cookie, maire_csrf) = login(site, "maire@a.test").await;
    let (status, headers, _) = send(
        site,
        post(
            &format!("/parapheur/{folder}/action"),
            Some(&maire_cookie),
            &format!(
                "action=sign&otp={}&csrf={maire_csrf}",
                code_at(&enrolment.secret, now).unwrap()
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    (maire_cookie, maire_csrf, headers)
}

/// The text of the page's confirmation (`<p class="notice" role="status">`), if any.
fn notice(page: &str) -> Option<String> {
    page.split("<p class=\"notice\" role=\"status\">")
        .nth(1)
        .map(|rest| rest.split("</p>").next().unwrap().replace("&#x27;", "'"))
}

/// The maire landed on "À traiter", "Rien à traiter ici", while a letter waited for his
/// signature: from the login form (which names no page to go back to) an élu with letters
/// to sign now lands on them, and "Ce qui m'attend" lists them.
#[tokio::test]
async fn an_elu_with_letters_to_sign_lands_on_them() {
    let site = site().await;
    let (_, folder) = letter_in_circuit(&site).await;
    let login_as = |email: &'static str| {
        let site = &site;
        async move {
            let (_, _, form) = send(site, get("/connexion", None)).await;
            // The login form carries no page of its own choosing.
            assert!(form.contains("name=\"suite\" value=\"\""), "{form}");
            let (status, headers, _) = send(
                site,
                post(
                    "/connexion",
                    None,
                    &format!("email={email}&password={PASSWORD}&suite="),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::SEE_OTHER);
            let cookie = headers
                .get(header::SET_COOKIE)
                .unwrap()
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            (location(&headers), cookie)
        }
    };
    // Before the visa, nothing waits for the maire yet.
    assert_eq!(login_as("maire@a.test").await.0, "/a-traiter");
    visa(&site, folder).await;
    let (landing, cookie) = login_as("maire@a.test").await;
    assert_eq!(landing, "/parapheur");
    // So does the home page, once logged in.
    let (_, headers, _) = send(&site, get("/", Some(&cookie))).await;
    assert_eq!(location(&headers), "/parapheur");
    // The letter is one tap away there, and on "Ce qui m'attend".
    let (_, _, page) = send(&site, get("/parapheur", Some(&cookie))).await;
    assert!(
        page.contains(&format!("href=\"/parapheur/{folder}\"")),
        "{page}"
    );
    let (_, _, page) = send(&site, get("/elu", Some(&cookie))).await;
    let signing = page
        .split("À signer ou viser")
        .nth(1)
        .unwrap_or_else(|| panic!("no letters to sign on /elu: {page}"));
    assert!(
        signing.contains(&format!("href=\"/parapheur/{folder}\"")) && signing.contains("Signer"),
        "{page}"
    );
    // A page named in the form still wins, and an agent with nothing to sign lands on the inbox.
    let (_, headers, _) = send(
        &site,
        post(
            "/connexion",
            None,
            &format!("email=maire@a.test&password={PASSWORD}&suite=/registre"),
        ),
    )
    .await;
    assert_eq!(location(&headers), "/registre");
    assert_eq!(login_as("agent@a.test").await.0, "/a-traiter");
}

/// After "Viser", "Signer" or an action on an item, nothing said what had happened nor
/// what came next: the redirect now carries a code of a fixed set, and the page it leads
/// to says it.
#[tokio::test]
async fn actions_say_what_happened_and_what_comes_next() {
    let site = site().await;
    let (item, folder) = letter_in_circuit(&site).await;
    // The administrator's visa, on the letter's page.
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (status, headers, _) = send(
        &site,
        post(
            &format!("/parapheur/{folder}/action"),
            Some(&cookie),
            &format!("action=approve&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&site, get(&location(&headers), Some(&cookie))).await;
    let said = notice(&page).unwrap_or_else(|| panic!("nothing confirms the visa: {page}"));
    assert!(
        said.starts_with("Courrier visé.") && said.contains("signature de maire@a.test"),
        "{said}"
    );
    // The maire's signature: back to the list, which says so and who sends the letter.
    let (maire_cookie, _, headers) = maire_signs(&site, folder).await;
    let (_, _, page) = send(&site, get(&location(&headers), Some(&maire_cookie))).await;
    let said = notice(&page).unwrap_or_else(|| panic!("nothing confirms the signature: {page}"));
    assert!(
        said.starts_with("Courrier signé.") && said.contains("Il part à admin@a.test"),
        "{said}"
    );
    // An action on an item: a note, then a new status.
    let (status, headers, _) = send(
        &site,
        post(
            &format!("/courrier/{}/note", item.id),
            Some(&cookie),
            &format!("body=Rappeler+lundi&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&site, get(&location(&headers), Some(&cookie))).await;
    assert!(
        notice(&page).is_some_and(|n| n.starts_with("Note ajoutée")),
        "{page}"
    );
    let (status, headers, page) = send(
        &site,
        post(
            &format!("/courrier/{}/statut", item.id),
            Some(&cookie),
            &format!("to=in_progress&reason=&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, _, page) = send(&site, get(&location(&headers), Some(&cookie))).await;
    let said = notice(&page).unwrap_or_else(|| panic!("nothing confirms the status: {page}"));
    assert!(said.starts_with("Statut changé : en cours."), "{said}");
    // Only the fixed messages: an unknown code, or words of one's own, show nothing.
    let (_, _, page) = send(
        &site,
        get(
            &format!("/courrier/{}?fait=Vous+avez+gagn%C3%A9", item.id),
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(notice(&page), None, "{page}");
}

/// Issue 17: after "Signer", the confirmation offers "Annuler la signature" for a few
/// seconds, without script (a form); only the signer may use it, and the letter then waits
/// for the signature again, the journal saying both.
#[tokio::test]
async fn the_signer_may_take_a_signature_back_for_a_few_seconds() {
    let site = site().await;
    let (_, folder) = letter_in_circuit(&site).await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (status, _, _) = send(
        &site,
        post(
            &format!("/parapheur/{folder}/action"),
            Some(&cookie),
            &format!("action=approve&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (maire_cookie, maire_csrf, headers) = maire_signs(&site, folder).await;
    let (_, _, page) = send(&site, get(&location(&headers), Some(&maire_cookie))).await;
    let said = notice(&page).unwrap_or_else(|| panic!("nothing confirms the signature: {page}"));
    assert!(said.starts_with("Courrier signé."), "{said}");
    let undo = format!("/parapheur/{folder}/annuler-signature");
    assert!(
        page.contains(&format!("action=\"{undo}\"")) && page.contains("Annuler la signature"),
        "no undo offered: {page}"
    );
    assert!(page.contains("Possible encore"), "{page}");
    // The undo is offered to the signer only, and refused to anyone else.
    let (_, _, other) = send(
        &site,
        get(
            &format!("/parapheur?courrier={folder}&fait=signe"),
            Some(&cookie),
        ),
    )
    .await;
    assert!(!other.contains(&undo), "{other}");
    let (status, _, _) = send(&site, post(&undo, Some(&cookie), &format!("csrf={csrf}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Without its token, nothing happens.
    let (status, _, _) = send(&site, post(&undo, Some(&maire_cookie), "csrf=faux")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = send(
        &site,
        post(&undo, Some(&maire_cookie), &format!("csrf={maire_csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&headers),
        format!("/parapheur/{folder}?fait=signature-annulee")
    );
    let (_, _, page) = send(&site, get(&location(&headers), Some(&maire_cookie))).await;
    let said = notice(&page).unwrap_or_else(|| panic!("nothing confirms the undo: {page}"));
    assert!(
        said.starts_with("Signature annulée. Il attend maintenant la signature de maire@a.test"),
        "{said}"
    );
    assert!(page.contains("class=\"big\">Signer<"), "{page}");
    let history = site.app.circuit_history(&site.a, folder).await.unwrap();
    assert_eq!(
        history.last().map(|e| e.what.as_str()),
        Some("Signature annulée par son signataire")
    );
    // Twice is once: there is nothing left to take back.
    let (status, _, page) = send(
        &site,
        post(&undo, Some(&maire_cookie), &format!("csrf={maire_csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("définitive"), "{page}");
}

/// On a phone the "Signer" button came before the letter, whose text lost its line
/// breaks; the selection was signed at one tap, unseen; the list showed neither to whom
/// the letter goes nor the request it answers.
#[tokio::test]
async fn a_letter_is_read_before_it_is_signed() {
    let site = site().await;
    let (item, folder) = letter_in_circuit(&site).await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(&site, get(&format!("/parapheur/{folder}"), Some(&cookie))).await;
    // The text first, its lines kept, then the button.
    let text = page
        .find("<section aria-labelledby=\"texte-titre\"")
        .unwrap_or_else(|| panic!("no letter text: {page}"));
    let button = page.find("<button type=\"submit\" class=\"big\"").unwrap();
    assert!(text < button, "the button comes before the letter");
    let section = &page[text..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(
        section.contains("<p class=\"lines\">Jeanne Martin\n3 rue des Lilas"),
        "the recipient's lines are not kept: {section}"
    );
    assert!(
        section.contains("<div class=\"lines\">Madame,"),
        "the text's lines are not kept: {section}"
    );
    // The list: to whom, and in answer to which request.
    let (_, _, page) = send(&site, get("/parapheur", Some(&cookie))).await;
    let row = page
        .split("<ul class=\"sign-list\">")
        .nth(1)
        .unwrap()
        .split("</ul>")
        .next()
        .unwrap();
    assert!(
        row.contains("Jeanne Martin") && row.contains(&item.chrono),
        "{row}"
    );
    // The selection asks for a confirmation that names each letter before acting.
    let (status, _, page) = send(
        &site,
        post(
            "/parapheur/signer",
            Some(&cookie),
            &format!("courrier={folder}&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Confirmer") && page.contains("Votre demande n°"),
        "{page}"
    );
    let state = || async {
        let folder = site.app.store().folder(site.a.id, folder).await.unwrap();
        let circuit = parapheur_app::parapheur::FolderData::of_row(&folder)
            .unwrap()
            .circuit
            .unwrap();
        circuit.stages[0][0].state.is_done()
    };
    assert!(!state().await, "visaed without confirmation");
    // Confirmed, with the code of the administrator's authenticator (a selection is
    // signed or visaed with the second factor).
    use parapheur_app::administration::second_factor::code_at;
    let admin = user(&site, "admin@a.test").await;
    let enrolment = site.app.begin_second_factor(&site.a, &admin).await.unwrap();
    let now = Utc::now();
    site.app
        .confirm_second_factor(
            &site.a,
            &admin,
            &code_at(&enrolment.secret, now - chrono::Duration::seconds(30)).unwrap(),
            now,
        )
        .await
        .unwrap();
    let (status, _, page) = send(
        &site,
        post(
            "/parapheur/signer",
            Some(&cookie),
            &format!(
                "courrier={folder}&confirme=1&otp={}&csrf={csrf}",
                code_at(&enrolment.secret, now).unwrap()
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(state().await, "not visaed once confirmed: {page}");
}

/// The register and the inbox had no sender column: a secrétaire looks for "the letter
/// from Mme Martin" by its sender first.
#[tokio::test]
async fn the_register_and_the_inbox_name_the_sender() {
    let site = site().await;
    let (item, _) = letter_in_circuit(&site).await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    for path in ["/registre", "/a-traiter?vue=ouverts"] {
        let (_, _, page) = send(&site, get(path, Some(&cookie))).await;
        assert!(page.contains(">Expéditeur</th>"), "{path}: {page}");
        let row = page
            .split(&format!(">{}</a></td>", item.chrono))
            .nth(1)
            .unwrap_or_else(|| panic!("{path}: no row for {}: {page}", item.chrono))
            .split("</tr>")
            .next()
            .unwrap();
        assert!(row.contains("Jeanne Martin"), "{path}: {row}");
    }
}

/// Each letter of a batch reset the arrival date to today and the channel to paper: the
/// next form keeps the batch's.
#[tokio::test]
async fn a_batch_keeps_its_arrival_date_and_channel() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let friday = (today - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let (status, headers, page) = send(
        &site,
        multipart(
            &cookie,
            &[
                ("csrf", &csrf),
                ("channel", "registered"),
                ("registered_number", "1A 234 567 8901 2"),
                ("subject", "Premier du lot"),
                ("arrival", &friday),
                ("priority", "normal"),
                ("then", "next"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, _, page) = send(&site, get(&location(&headers), Some(&cookie))).await;
    assert!(
        page.contains(&format!(
            "name=\"arrival\" type=\"date\" required value=\"{friday}\""
        )),
        "the arrival date is not kept: {page}"
    );
    assert!(
        page.contains("<option value=\"registered\" selected>"),
        "the channel is not kept: {page}"
    );
    // A fresh form is today's, on paper.
    let (_, _, page) = send(&site, get("/courrier/nouveau", Some(&cookie))).await;
    assert!(page.contains("<option value=\"paper\" selected>"), "{page}");
}

/// A call's page did not show the number to call back, when the caller was already known
/// under another number or none.
#[tokio::test]
async fn a_calls_page_shows_the_number_to_call_back() {
    let site = site().await;
    let known = contact(&site, person("Jeanne", "Martin")).await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    for (caller, caller_id, phone) in [
        ("Paul Fabre", String::new(), "06 12 34 56 78"),
        ("Jeanne Martin", known.to_string(), "07 98 76 54 32"),
    ] {
        let (status, headers, page) = send(
            &site,
            post(
                "/appel/nouveau",
                Some(&cookie),
                &format!(
                    "caller={}&caller_id={caller_id}&phone={}&subject=Rappel&message=Question+sur+le+PLU&csrf={csrf}",
                    caller.replace(' ', "+"),
                    phone.replace(' ', "+")
                ),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        let chrono = location(&headers)
            .split("enregistre=")
            .nth(1)
            .unwrap()
            .to_owned();
        let item = site.app.item_by_chrono(site.a.id, &chrono).await.unwrap();
        let (_, _, page) = send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
        assert!(
            page.contains(phone),
            "{caller}: no {phone} on the call's page: {page}"
        );
    }
}

/// All the requests were ticked in advance on the acknowledgements page: one click sent
/// 57 accusés, each stating a delay and what silence means for a type nobody had checked.
/// None is ticked now.
#[tokio::test]
async fn no_acknowledgement_is_ticked_in_advance() {
    let site = site().await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let sender = contact(
        &site,
        NewContact {
            email: Some("jeanne@example.org".into()),
            ..person("Jeanne", "Martin")
        },
    )
    .await;
    let mut letter = NewItem::incoming(Channel::Paper, "Demande de salle", today);
    letter.sender_ids = vec![sender];
    letter.doctype_code = Some("demande-administrative".into());
    site.app
        .register(
            &site.a,
            &Actor::System("test"),
            letter,
            Vec::new(),
            Utc::now(),
        )
        .await
        .unwrap();
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get("/accuses", Some(&cookie))).await;
    assert!(page.contains("name=\"ids\""), "nothing listed: {page}");
    assert!(!page.contains(" checked"), "{page}");
}

/// Typing "Martin Jeanne" as the sender of a letter created a second Jeanne Martin.
#[tokio::test]
async fn a_sender_typed_surname_first_is_the_known_contact() {
    let site = site().await;
    let jeanne = contact(&site, person("Jeanne", "Martin")).await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone())
        .format("%Y-%m-%d")
        .to_string();
    let (status, headers, page) = send(
        &site,
        multipart(
            &cookie,
            &[
                ("csrf", &csrf),
                ("channel", "paper"),
                ("subject", "Lettre"),
                ("sender", "Martin Jeanne"),
                ("arrival", &today),
                ("priority", "normal"),
                ("then", "next"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let chrono = location(&headers)
        .split("enregistre=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let item = site.app.item_by_chrono(site.a.id, &chrono).await.unwrap();
    let contacts = site.app.item_contacts(item.id).await.unwrap();
    assert_eq!(contacts, vec![("sender".to_owned(), jeanne)]);
}

/// The demo printed an English warning for every email it could not send without an SMTP
/// server (67 in 20 minutes): it is said once, in French.
#[tokio::test]
async fn a_missing_smtp_server_is_said_once_in_french() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let site = site().await;
    assert!(site.app.smtp_setting().is_none());
    let now = Utc::now();
    for (n, email) in ["agent@a.test", "maire@a.test", "admin@a.test"]
        .into_iter()
        .enumerate()
    {
        site.app.request_password_reset(email, now).await.unwrap();
        let later = now + chrono::Duration::minutes(n as i64);
        site.app.deliver_outbox(later).await.unwrap();
    }
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && (l.contains("SMTP") || l.contains("email")))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("aucun serveur SMTP n'est configuré"),
        "{warnings:#?}"
    );
}

/// The copier's PDF, sent where messages are read, stayed in quarantine: "Réessayer" read
/// it as a message again and failed again. It is now registered as a scanned document.
#[tokio::test]
async fn a_quarantined_scan_is_registered_from_quarantine() {
    use parapheur_app::capture::{CaptureOutcome, MessageSource};
    let site = site().await;
    let pdf = b"%PDF-1.4\n% envoi du copieur vers la mauvaise adresse\n%%EOF\n".to_vec();
    let CaptureOutcome::Quarantined { inbound_id, .. } = site
        .app
        .capture_message(
            &site.a,
            MessageSource::import("copieur/numerisation-0412.pdf"),
            Ok(pdf.clone()),
            Utc::now(),
        )
        .await
        .unwrap()
    else {
        panic!("not quarantined")
    };
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get("/courriels", Some(&cookie))).await;
    assert!(page.contains("Enregistrer le document numérisé"), "{page}");
    let (status, headers, page) = send(
        &site,
        post(
            &format!("/courriels/{inbound_id}/reessayer"),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let item_id = location(&headers)
        .strip_prefix("/courrier/")
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let item = site.app.item(site.a.id, item_id).await.unwrap();
    assert_eq!(item.channel, Channel::Paper);
    assert!(
        item.subject.contains("numerisation-0412.pdf"),
        "{}",
        item.subject
    );
    let (_, _, page) = send(&site, get("/courriels", Some(&cookie))).await;
    assert!(page.contains("Aucun message en quarantaine"), "{page}");
}

/// The letter form's suggestions find "Jeanne Martin" when "Martin Jeanne" is typed: the
/// close match is offered before a contact is created.
#[tokio::test]
async fn suggestions_offer_a_contact_typed_surname_first() {
    let site = site().await;
    let jeanne = contact(&site, person("Jeanne", "Martin")).await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (_, _, body) = send(
        &site,
        get("/contacts/suggestions?q=Martin+Jeanne", Some(&cookie)),
    )
    .await;
    assert!(body.contains(&jeanne.to_string()), "{body}");
}

/// A refusal shown on the page itself (not an error page) started in lower case too.
#[tokio::test]
async fn refusals_on_a_page_start_with_a_capital() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande").await.item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/lien", item.id),
            Some(&cookie),
            &format!("numero=2026-A-999999&kind=follow_up_of&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("<p class=\"error\" role=\"alert\">Aucun élément ne porte le numéro"),
        "{page}"
    );
}

/// The header had a flat menu of 11 to 13 links and no commune: it now names the commune,
/// shows four or five entries for the person's role and groups the rest under "Plus"; every
/// page has a footer with the accessibility statement; statuses are badges.
#[tokio::test]
async fn the_header_names_the_commune_and_groups_the_menu() {
    let site = site().await;
    register_in(&site, &site.a, "Demande de badge").await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/registre", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("<span class=\"commune\">{}</span>", site.a.name)),
        "no commune in the header: {page}"
    );
    let nav = page
        .split("<nav class=\"main\"")
        .nth(1)
        .unwrap()
        .split("</nav>")
        .next()
        .unwrap();
    let (primary, more) = nav.split_once("<details class=\"more\">").unwrap();
    assert_eq!(primary.matches("<a href=").count(), 5, "{primary}");
    assert!(
        primary.contains("href=\"/registre\" aria-current=\"page\""),
        "{primary}"
    );
    for grouped in ["/contacts", "/tableau-de-bord", "/courriels", "/parapheur"] {
        assert!(
            more.contains(&format!("href=\"{grouped}\"")),
            "{grouped} not under Plus: {more}"
        );
    }
    assert!(
        !more.contains("/administration"),
        "an agent sees Administration: {more}"
    );
    assert!(
        page.contains("<footer class=\"foot\">")
            && page.contains(&format!("href=\"/accessibilite/{}\"", site.a.insee)),
        "no footer with the accessibility statement: {page}"
    );
    assert!(
        page.contains("<span class=\"badge s-registered\">"),
        "no status badge: {page}"
    );
    // The élu's first entry is what waits for them; the administrator finds Administration
    // under Plus, marked as where they are.
    let (cookie, _) = login(&site, "maire@a.test").await;
    let (_, _, page) = send(&site, get("/registre", Some(&cookie))).await;
    let first = page
        .split("<nav class=\"main\"")
        .nth(1)
        .unwrap()
        .split("<a href=\"")
        .nth(1)
        .unwrap();
    assert!(
        first.starts_with("/elu\""),
        "the élu's first entry: {first}"
    );
    let (cookie, _) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(&site, get("/administration", Some(&cookie))).await;
    assert!(
        page.contains("<summary class=\"current\">Plus"),
        "Plus not marked current: {page}"
    );
}

/// The user's guide is one link away from every page, in French, and its screens are served
/// (as the browser tests took them); the guide itself stays light.
#[tokio::test]
async fn the_guide_is_linked_from_every_page_and_shows_its_screens() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get("/contacts", Some(&cookie))).await;
    assert!(
        page.contains("<a href=\"/aide\">Aide</a>"),
        "no help link: {page}"
    );
    let (status, _, guide) = send(&site, get("/aide", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        guide.contains("<h1>Aide : le parapheur en quelques pages</h1>"),
        "{guide}"
    );
    assert!(
        guide.len() < 20_000,
        "the guide weighs {} bytes",
        guide.len()
    );
    let screens: Vec<&str> = guide
        .split("href=\"/aide/ecrans/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(screens.len(), 8, "{screens:?}");
    for screen in screens {
        let (status, headers, _) =
            send(&site, get(&format!("/aide/ecrans/{screen}"), Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK, "{screen}");
        assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg", "{screen}");
    }
    let (status, _, _) = send(&site, get("/aide/ecrans/inconnu.jpg", Some(&cookie))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A scan chosen in the letter form is read for its date, subject and sender (the page's
/// script fills the empty fields with them, marked for checking); nothing is stored.
#[tokio::test]
async fn a_chosen_scan_is_read_for_its_date_subject_and_sender() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (_, _, form) = send(&site, get("/courrier/nouveau", Some(&cookie))).await;
    assert!(form.contains("data-read=\"/courrier/lecture\""), "{form}");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let written = today - chrono::Duration::days(4);
    let date_line = format!("Montbazon, le {}", written.format("%d/%m/%Y"));
    let pdf = parapheur_testkit::letter_pdf(&[
        "Jeanne Martin",
        "12 rue des Ecoles",
        "37250 Montbazon",
        "Monsieur le Maire",
        &date_line,
        "Objet : Demande de reservation de la salle des fetes",
        "Monsieur le Maire,",
        "Je souhaite reserver la salle.",
    ]);
    let items_before = site.app.store().item_count(site.a.id).await.unwrap();
    let read = |fields: Vec<(&'static str, String)>, file: Option<Vec<u8>>| {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        multipart_to(
            "/courrier/lecture",
            &cookie,
            &pairs,
            file.as_deref().map(|b| ("files", "scan.pdf", b)),
        )
    };
    let (status, _, body) =
        send(&site, read(vec![("csrf", csrf.clone())], Some(pdf.clone()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["subject"], "Demande de reservation de la salle des fetes",
        "{json}"
    );
    assert_eq!(json["sender"], "Jeanne Martin", "{json}");
    assert_eq!(
        json["letter_date"],
        written.format("%Y-%m-%d").to_string(),
        "{json}"
    );
    // Nothing was registered or stored by reading.
    assert_eq!(
        site.app.store().item_count(site.a.id).await.unwrap(),
        items_before
    );
    // A page without any of it reads as nothing; no file, or no CSRF token, is refused.
    let blank = parapheur_testkit::tiny_pdf("Bonjour");
    let (status, _, body) = send(&site, read(vec![("csrf", csrf.clone())], Some(blank))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"letter_date":null,"sender":null,"subject":null}"#);
    let (status, _, _) = send(&site, read(vec![("csrf", csrf.clone())], None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(&site, read(vec![], Some(pdf))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Issue 17: without the page's script, a sender typed otherwise than an existing contact
/// ("Martin Jeanne", "MARTÍN Jeanne", "Jeane Martin") silently became a second Jeanne
/// Martin. The form now comes back, everything kept (the scan too, held on the server),
/// asking "Vouliez-vous dire : Jeanne Martin (12 rue des Lilas …) ?" or to create the one typed.
#[tokio::test]
async fn a_close_sender_is_offered_before_creating_a_contact() {
    let site = site().await;
    let jeanne = contact(
        &site,
        NewContact {
            address: Some("12 rue des Lilas".into()),
            postal_code: Some("37250".into()),
            city: Some("Montbazon".into()),
            ..person("Jeanne", "Martin")
        },
    )
    .await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone())
        .format("%Y-%m-%d")
        .to_string();
    let contacts = || async {
        site.app
            .store()
            .contacts_page(site.a.id, "", None, 100)
            .await
            .unwrap()
            .len()
    };
    let fields = |sender: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("channel", "paper".into()),
            ("subject", "Demande de terrasse".into()),
            ("sender", sender.into()),
            ("arrival", today.clone()),
            ("reference", "REF-42".into()),
            ("then", "show".into()),
        ]
    };
    for typed in ["Jeane Martin", "MARTÍN Jeanne", "Martin Jeanne"] {
        let (status, _, page) = send(
            &site,
            multipart(
                &cookie,
                &as_refs(&fields(typed)),
                Some(("lettre.pdf", b"%PDF-1.7 une lettre")),
            ),
        )
        .await;
        // "Martin Jeanne" is found as it is (the same words): registered with Jeanne Martin.
        if typed == "Martin Jeanne" {
            assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{typed}: {page}");
        assert!(page.contains("Vouliez-vous dire"), "{page}");
        assert!(
            page.contains(&format!("value=\"{jeanne}\""))
                && page.contains("Jeanne Martin (12 rue des Lilas 37250 Montbazon)"),
            "{page}"
        );
        assert!(
            page.contains(&format!("Créer un nouveau contact « {typed} »")),
            "{page}"
        );
        // Everything typed is kept, and the scan too.
        assert!(page.contains("value=\"Demande de terrasse\""), "{page}");
        assert!(page.contains("value=\"REF-42\""), "{page}");
        assert!(
            page.contains(
                "Déjà joint, gardé avec le courrier : lettre.pdf. Ne le joignez pas de nouveau."
            ),
            "{page}"
        );
        assert_eq!(contacts().await, 1, "a contact was created for {typed}");
    }
    assert_eq!(
        site.app
            .store()
            .items(site.a.id, &Default::default(), 10, 0)
            .await
            .unwrap()
            .len(),
        1
    );
    // Chosen: the letter is Jeanne Martin's, with the scan sent the first time.
    let (_, _, page) = send(
        &site,
        multipart(
            &cookie,
            &as_refs(&fields("Jeane Martin")),
            Some(("lettre.pdf", b"%PDF-1.7 une lettre")),
        ),
    )
    .await;
    let kept = page
        .split("name=\"staged\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the scan is not kept: {page}"))
        .to_owned();
    let mut chosen = fields("Jeane Martin");
    chosen.push(("staged", kept.clone()));
    chosen.push(("sender_choice", jeanne.to_string()));
    let (status, headers, page) = send(&site, multipart(&cookie, &as_refs(&chosen), None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let item_id: uuid::Uuid = location(&headers)
        .trim_start_matches("/courrier/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let senders = site.app.item_contacts(item_id).await.unwrap();
    assert_eq!(senders, [("sender".to_owned(), jeanne)]);
    let files = site
        .app
        .store()
        .attachments(site.a.id, item_id)
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].filename, "lettre.pdf");
    assert_eq!(contacts().await, 1);
    // A kept scan is this session's only: another's proof is refused.
    let mut forged = fields("Jeanne Martin");
    let sha = kept.split(':').next().unwrap();
    forged.push((
        "staged",
        format!("{sha}:00000000000000000000000000000000:x.pdf"),
    ));
    let (status, _, _) = send(&site, multipart(&cookie, &as_refs(&forged), None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Or created: "Créer un nouveau contact « Jeane Martin »" makes a second contact, knowingly.
    let mut created = fields("Jeane Martin");
    created.push(("sender_choice", "new".into()));
    let (status, _, page) = send(&site, multipart(&cookie, &as_refs(&created), None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(contacts().await, 2);
}

/// The same for a call noted without script: "Jeane Martin" on the phone is asked about.
#[tokio::test]
async fn a_close_caller_is_offered_before_creating_a_contact() {
    let site = site().await;
    let jeanne = contact(&site, person("Jeanne", "Martin")).await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let call = |extra: &str| {
        format!(
            "csrf={csrf}&caller=Jeane+Martin&phone=06+12+34+56+78&subject=Rappel+voirie&message=&for_whom=&callback={extra}"
        )
    };
    let (status, _, page) = send(&site, post("/appel/nouveau", Some(&cookie), &call(""))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Vouliez-vous dire") && page.contains(&format!("value=\"{jeanne}\"")),
        "{page}"
    );
    assert!(page.contains("value=\"Rappel voirie\""), "{page}");
    let count = site
        .app
        .store()
        .contacts_page(site.a.id, "", None, 100)
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1);
    let (status, headers, page) = send(
        &site,
        post(
            "/appel/nouveau",
            Some(&cookie),
            &call(&format!("&caller_choice={jeanne}")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(location(&headers).starts_with("/appel/nouveau?enregistre="));
    let items = site
        .app
        .store()
        .items(site.a.id, &Default::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(
        site.app.item_contacts(items[0].id).await.unwrap(),
        [("sender".to_owned(), jeanne)]
    );
}

/// Issue 17: the commune's logo in the header. A logo near the 512 KB limit gets a small
/// rendition at upload, served at a stable, versioned address kept a year; the header
/// shows it beside the commune's name, its size written out (nothing moves once it loads)
/// and an empty text alternative (the name beside it says it).
#[tokio::test]
async fn the_communes_logo_is_in_the_header_small() {
    use parapheur_app::administration::{LogoChange, MAX_LOGO_BYTES, SettingsForm};
    let site = site().await;
    // A photograph-like logo (noise on a gradient), 1 600 × 1 200, as heavy as allowed.
    let mut seed = 12345u32;
    let picture = image::RgbImage::from_fn(1600, 1200, |x, y| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let noise = (seed >> 24) as u8 / 4;
        image::Rgb([
            (x / 7) as u8 ^ noise,
            (y / 5) as u8 ^ noise,
            ((x + y) / 11) as u8 ^ noise,
        ])
    });
    let logo = (40..=95)
        .rev()
        .step_by(5)
        .map(|quality| {
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
                .encode_image(&picture)
                .unwrap();
            bytes
        })
        .find(|bytes| bytes.len() <= MAX_LOGO_BYTES)
        .unwrap();
    assert!(logo.len() > 400 * 1024, "{} bytes", logo.len());
    let (cookie, _) = login(&site, "admin@a.test").await;
    // Before any logo, no picture in the header.
    let (_, _, page) = send(&site, get("/a-traiter", Some(&cookie))).await;
    assert!(!page.contains("/entete?v="), "{page}");
    site.app
        .update_commune_settings(
            &site.a,
            &Actor::System("test"),
            SettingsForm {
                logo: LogoChange::Replace {
                    bytes: logo,
                    media_type: "image/jpeg".into(),
                },
                ..SettingsForm::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let (_, _, page) = send(&site, get("/a-traiter", Some(&cookie))).await;
    let img = page
        .split("<a class=\"brand\"")
        .nth(1)
        .and_then(|brand| brand.split("<img ").nth(1))
        .and_then(|img| img.split('>').next())
        .unwrap_or_else(|| panic!("no logo in the header: {page}"))
        .to_owned();
    // 96 pixels high at most, shown at 48 CSS pixels: 4:3 gives 64 × 48.
    assert!(
        img.contains("alt=\"\"") && img.contains("width=\"64\"") && img.contains("height=\"48\""),
        "{img}"
    );
    let src = img
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(
        src.starts_with(&format!("/logo/{}/entete?v=", site.a.insee)),
        "{src}"
    );
    let response = {
        use tower::ServiceExt;
        site.router.clone().oneshot(get(&src, None)).await.unwrap()
    };
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(
        body.len() < 12 * 1024,
        "the header's logo weighs {} bytes",
        body.len()
    );
    assert_eq!(
        headers.get(header::CACHE_CONTROL).unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert!(
        headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
    let small = image::load_from_memory(&body).unwrap();
    assert_eq!((small.width(), small.height()), (128, 96));
    // A logo uploaded before the header showed one gets its rendition on the background
    // round, then the header shows it.
    let settings = site.app.store().commune_settings(site.a.id).await.unwrap();
    let older = parapheur_store::communes::CommuneSettings {
        logo_small: None,
        ..settings.clone()
    };
    let mut tx = site.app.store().begin(Utc::now()).await.unwrap();
    tx.set_commune_settings(site.a.id, &settings, &older, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, _, page) = send(&site, get("/a-traiter", Some(&cookie))).await;
    assert!(!page.contains("/entete?v="), "{page}");
    assert_eq!(
        site.app
            .make_missing_logo_renditions(Utc::now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        site.app
            .make_missing_logo_renditions(Utc::now())
            .await
            .unwrap(),
        0
    );
    let (_, _, page) = send(&site, get("/a-traiter", Some(&cookie))).await;
    assert!(page.contains(&src), "{page}");
}
