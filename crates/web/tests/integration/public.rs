//! The citizens' public pages through the real router: forms, submissions and their
//! defences (rate limit, honeypot, proof of work), tracking and answers.
//!
//! The proof of work is solved at the difficulty the page asks for (`Config::pow_bits`,
//! 16 bits by default).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::citizens::FormInput;
use parapheur_app::demo_forms;
use parapheur_app::domain::pow;
use parapheur_app::domain::request_form::fields_to_json;
use tower::ServiceExt as _;

use crate::common::*;

const FORM: &str = "/demarches/01004/occupation-domaine-public";

/// The test register, with the demo forms in commune A if it has none yet.
async fn site_with_forms() -> Site {
    with_forms(site().await).await
}

async fn with_forms(site: Site) -> Site {
    if site.app.public_forms(&site.a).await.unwrap().is_empty() {
        for form in demo_forms() {
            site.app
                .save_request_form(
                    &site.a,
                    &Actor::System("test"),
                    FormInput {
                        code: form.code.clone(),
                        title: form.title.clone(),
                        intro: form.intro.clone(),
                        doctype_code: form.doctype_code.clone(),
                        service_id: None,
                        fields_json: fields_to_json(&form.fields),
                        consent: form.consent.clone(),
                        active: true,
                    },
                    Utc::now(),
                )
                .await
                .unwrap();
        }
    }
    site
}

/// A request as it comes from `ip`.
fn from(ip: [u8; 4], mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    request
}

/// A multipart POST from the same site, with text fields and files (field, name, bytes).
fn form_post(
    path: &str,
    fields: &[(&str, String)],
    files: &[(&str, &str, &[u8])],
) -> Request<Body> {
    let boundary = "public-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (field, filename, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post(path)
        .header(header::HOST, "mairie.test")
        .header(header::ORIGIN, "http://mairie.test")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

/// Sends a request; the page comes back with minijinja's escapes of "/" and "'" undone
/// (attributes read the same in a browser), so that links can be compared as written.
async fn fetch(site: &Site, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, page) = send(site, request).await;
    (
        status,
        headers,
        page.replace("&#x2f;", "/").replace("&#x27;", "'"),
    )
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    page.split(start)
        .nth(1)
        .unwrap_or_else(|| panic!("{start:?} not in page: {page}"))
        .split(end)
        .next()
        .unwrap()
}

/// A challenge from a fresh form page, and its solution.
async fn solved_challenge(site: &Site, ip: [u8; 4]) -> (String, String) {
    let (status, _, page) = fetch(site, from(ip, get(FORM, None))).await;
    assert_eq!(status, StatusCode::OK);
    let challenge = between(&page, "name=\"pow-challenge\" value=\"", "\"").to_owned();
    let solution = pow::solve(&challenge).to_string();
    (challenge, solution)
}

/// A complete, valid submission of the occupation form, named `name`.
fn valid_fields(name: &str) -> Vec<(&'static str, String)> {
    [
        ("civilite", "Madame"),
        ("prenom", "Camille"),
        ("nom", name),
        ("adresse", "12 rue des Lilas"),
        ("code_postal", "01500"),
        ("ville", "Ambérieu-en-Bugey"),
        ("courriel", "camille.martin@example.org"),
        ("telephone", ""),
        ("siret", ""),
        ("nature", "Échafaudage"),
        ("lieu", "12 rue des Lilas"),
        ("date_debut", "2030-05-01"),
        ("date_fin", "2030-05-15"),
        ("surface", "8 mètres linéaires"),
        (
            "description",
            "Ravalement de façade.\nPassage piéton maintenu.",
        ),
        ("consentement", "oui"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

fn with_pow(
    mut fields: Vec<(&'static str, String)>,
    (challenge, solution): &(String, String),
) -> Vec<(&'static str, String)> {
    fields.push(("pow-challenge", challenge.clone()));
    fields.push(("pow-solution", solution.clone()));
    fields
}

async fn items(site: &Site) -> i64 {
    site.app.store().item_count(site.a.id).await.unwrap()
}

/// Submits a valid request from `ip`; returns (chrono, tracking token).
async fn submit_valid(site: &Site, ip: [u8; 4], name: &str) -> (String, String) {
    let pow = solved_challenge(site, ip).await;
    let (status, headers, page) = fetch(
        site,
        from(
            ip,
            form_post(FORM, &with_pow(valid_fields(name), &pow), &[]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "same-origin");
    let chrono = between(&page, "sous le numéro <strong>", "<").to_owned();
    let token = between(&page, "/suivi/", "\"").to_owned();
    (chrono, token)
}

#[tokio::test]
async fn the_commune_page_lists_its_forms_and_unknown_communes_are_not_found() {
    let site = site_with_forms().await;
    let (status, _, page) = fetch(&site, get("/demarches/01004", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html lang=\"fr\">"));
    assert!(
        page.contains("href=\"/demarches/01004/occupation-domaine-public\""),
        "{page}"
    );
    assert!(page.contains("Signalement sur la voirie"));
    assert_eq!(page.matches("<h1").count(), 1);
    // Not a commune of this installation, not a commune at all, not a form.
    for path in [
        "/demarches/75056",
        "/demarches/xx",
        "/demarches/01004/inconnu",
    ] {
        let (status, _, page) = fetch(&site, get(path, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("Page introuvable") && !page.contains("/a-traiter"));
    }
}

#[tokio::test]
async fn a_form_page_has_its_fields_a_challenge_and_its_script() {
    let site = site_with_forms().await;
    let (status, headers, page) = fetch(&site, get(FORM, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::CONTENT_SECURITY_POLICY).is_some());
    for key in [
        "civilite",
        "prenom",
        "nom",
        "adresse",
        "code_postal",
        "ville",
        "courriel",
        "telephone",
        "siret",
        "nature",
        "lieu",
        "date_debut",
        "description",
        "plan",
    ] {
        assert!(page.contains(&format!("name=\"{key}\"")), "{key}");
        assert!(page.contains(&format!("id=\"champ-{key}\"")), "{key}");
    }
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("type=\"date\""));
    assert!(page.contains("<textarea id=\"champ-description\""));
    assert!(
        page.contains("type=\"file\"")
            && page.contains("accept=\"application/pdf,image/jpeg,image/png,image/tiff\"")
    );
    assert!(page.contains("(obligatoire)"));
    assert!(page.contains("aria-describedby=\"aide-lieu\""));
    assert!(page.contains("Ne pas remplir") && page.contains("tabindex=\"-1\""));
    assert!(page.contains("Envoyer ma demande"));
    // Issue 16, correction 9: no consent box; the art. 13 notice, with the DPO.
    assert!(!page.contains("name=\"consentement\""));
    assert!(page.contains("<h2 id=\"donnees-titre\">Vos données personnelles</h2>"));
    for mention in [
        "article 6, paragraphe 1, point e, du RGPD",
        "Votre consentement n'est pas demandé.",
        "Délégué à la protection des données : ",
        "CNIL",
    ] {
        let notice = page
            .split("id=\"donnees-titre\"")
            .nth(1)
            .unwrap_or_default();
        assert!(notice.contains(mention), "{mention}: {notice}");
    }
    // Part 6: every public page links to the accessibility statement, which has RGAA's parts.
    assert!(page.contains("Accessibilité : non conforme"));
    let statement = between(&page, "<p><a href=\"", "\">Accessibilité");
    let (status, _, text) = fetch(&site, get(statement, None)).await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        "<h2>État de conformité</h2>",
        "<strong>non conformes</strong>",
        "<h2>Résultats des tests</h2>",
        "<h2>Contenus non accessibles</h2>",
        "<h2>Établissement de cette déclaration</h2>",
        "<h2>Retour d'information et contact</h2>",
        "<h2>Voies de recours</h2>",
        "Défenseur des droits",
    ] {
        assert!(text.replace("&#x27;", "'").contains(part), "{part}");
    }
    let challenge = between(&page, "name=\"pow-challenge\" value=\"", "\"");
    assert!(challenge.starts_with("v1."), "{challenge}");
    // The script is the only one, from our origin, and is served.
    let script = between(&page, "<script src=\"", "\"");
    assert!(script.starts_with("/static/demande-"), "{script}");
    assert!(!page.contains("<script>"));
    let (status, _, js) = fetch(&site, get(script, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("pow-solution") && js.len() < 4096);
}

#[tokio::test]
async fn a_solved_submission_is_registered_and_confirmed_once() {
    let site = site_with_forms().await;
    let before = items(&site).await;
    let pow = solved_challenge(&site, [192, 0, 2, 1]).await;
    let fields = with_pow(valid_fields("Martin"), &pow);
    let (status, headers, page) =
        fetch(&site, from([192, 0, 2, 1], form_post(FORM, &fields, &[]))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Votre demande est enregistrée sous le numéro"));
    assert!(page.contains("camille.martin@example.org"));
    assert!(page.contains("/suivi/"));
    assert_eq!(headers.get("x-robots-tag").unwrap(), "noindex");
    assert_eq!(items(&site).await, before + 1);
    let chrono = between(&page, "sous le numéro <strong>", "<");
    let item = site
        .app
        .store()
        .item_by_chrono(site.a.id, chrono)
        .await
        .unwrap();
    assert!(item.subject.contains("Martin"), "{}", item.subject);
    // The same challenge again, even from elsewhere: refused, nothing registered.
    let (status, _, page) = fetch(&site, from([192, 0, 2, 2], form_post(FORM, &fields, &[]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("déjà été envoyé"), "{page}");
    assert!(page.contains("value=\"Martin\""), "values kept");
    assert_eq!(items(&site).await, before + 1);
}

#[tokio::test]
async fn a_filled_honeypot_registers_nothing() {
    let site = site_with_forms().await;
    let before = items(&site).await;
    let pow = solved_challenge(&site, [192, 0, 2, 3]).await;
    let mut fields = with_pow(valid_fields("Robot"), &pow);
    fields.push(("site-web", "http://spam.example".into()));
    let (status, _, page) = fetch(&site, from([192, 0, 2, 3], form_post(FORM, &fields, &[]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("n'a pas pu être enregistrée"), "{page}");
    assert!(!page.contains("sous le numéro"));
    assert_eq!(items(&site).await, before);
}

#[tokio::test]
async fn without_javascript_the_answer_says_why_and_how_else() {
    let site = site_with_forms().await;
    let before = items(&site).await;
    let (status, _, page) = fetch(
        &site,
        from(
            [192, 0, 2, 4],
            form_post(FORM, &valid_fields("Sans JS"), &[]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("besoin de JavaScript"), "{page}");
    assert!(page.contains("value=\"Sans JS\""));
    assert_eq!(items(&site).await, before);
}

#[tokio::test]
async fn missing_identity_fields_show_errors_and_register_nothing() {
    let site = site_with_forms().await;
    let before = items(&site).await;
    let pow = solved_challenge(&site, [192, 0, 2, 5]).await;
    let fields: Vec<_> = with_pow(valid_fields("Martin"), &pow)
        .into_iter()
        .filter(|(k, _)| !["nom", "prenom", "courriel"].contains(k))
        .collect();
    let (status, _, page) = fetch(&site, from([192, 0, 2, 5], form_post(FORM, &fields, &[]))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("role=\"alert\""));
    assert!(page.contains("href=\"#champ-nom\""), "{page}");
    assert!(page.contains("Indiquez votre nom."));
    assert!(page.contains("id=\"erreur-courriel\""));
    assert!(page.contains("aria-invalid=\"true\""));
    // What was typed is kept; a new challenge is issued.
    assert!(page.contains("Passage piéton maintenu."));
    let challenge = between(&page, "name=\"pow-challenge\" value=\"", "\"");
    assert_ne!(challenge, pow.0);
    assert_eq!(items(&site).await, before);
}

#[tokio::test]
async fn a_renamed_executable_is_refused_and_nothing_registered() {
    let site = site_with_forms().await;
    let before = items(&site).await;
    let pow = solved_challenge(&site, [192, 0, 2, 6]).await;
    let exe: &[u8] =
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xffThis program cannot be run in DOS mode";
    let (status, _, page) = fetch(
        &site,
        from(
            [192, 0, 2, 6],
            form_post(
                FORM,
                &with_pow(valid_fields("Martin"), &pow),
                &[("plan", "plan.pdf", exe)],
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("« plan.pdf » n'est ni un PDF ni une image"),
        "{page}"
    );
    assert!(page.contains("joignez à nouveau vos fichiers"));
    assert_eq!(items(&site).await, before);
}

/// A file over 20 MB, then a whole submission over 60 MB: each refused with a message that
/// says the limit, nothing registered.
#[tokio::test]
async fn oversized_files_are_refused_with_the_limit() {
    let site = site_with_forms().await;
    let before = items(&site).await;
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(20 * 1024 * 1024 + 1, b' ');
    let pow = solved_challenge(&site, [192, 0, 2, 7]).await;
    let (status, _, page) = fetch(
        &site,
        from(
            [192, 0, 2, 7],
            form_post(
                FORM,
                &with_pow(valid_fields("Martin"), &pow),
                &[("plan", "plan.pdf", &big)],
            ),
        ),
    )
    .await;
    // The form comes back with its errors, like any field error.
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("« plan.pdf » dépasse 20 Mo"), "{page}");
    assert_eq!(items(&site).await, before);

    let pow = solved_challenge(&site, [192, 0, 2, 8]).await;
    let (status, _, page) = fetch(
        &site,
        from(
            [192, 0, 2, 8],
            form_post(
                FORM,
                &with_pow(valid_fields("Martin"), &pow),
                &[
                    ("plan", "a.pdf", &big),
                    ("plan", "b.pdf", &big),
                    ("plan", "c.pdf", &big),
                ],
            ),
        ),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    assert!(page.contains("dépasse 60 Mo en tout"), "{page}");
    assert_eq!(items(&site).await, before);
}

#[tokio::test]
async fn one_address_is_limited_and_others_are_not() {
    let site = site_with_forms().await;
    let flood = [198, 51, 100, 7];
    let started = std::time::Instant::now();
    let mut limited = 0;
    for i in 0..10_000 {
        let (status, headers, page) = fetch(&site, from(flood, form_post(FORM, &[], &[]))).await;
        if i < 5 {
            assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "request {i}");
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "request {i}");
            if i == 5 {
                assert!(page.contains("Trop de demandes depuis votre connexion"));
                assert!(page.contains("réessayez dans 10 minutes"), "{page}");
                assert!(headers.get(header::RETRY_AFTER).is_some());
            }
            limited += 1;
        }
    }
    assert_eq!(limited, 9_995);
    eprintln!("10,000 requests in {:?}", started.elapsed());
    // Someone else, meanwhile, is served.
    let before = items(&site).await;
    submit_valid(&site, [198, 51, 100, 8], "Voisin").await;
    assert_eq!(items(&site).await, before + 1);
}

/// Behind the mairie's reverse proxy every request comes from its address: the limit
/// still holds per citizen (X-Forwarded-For from the trusted proxy), and a flood that
/// forges the header's left part is still one address.
#[tokio::test]
async fn behind_a_trusted_proxy_the_limit_is_per_citizen() {
    let site = with_forms(
        site_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await,
    )
    .await;
    let proxy = [127, 0, 0, 1];
    let via_proxy = |forwarded: String| {
        let mut request = from(proxy, form_post(FORM, &[], &[]));
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        request
    };
    for i in 0..50 {
        // A forged left part changes nothing: the proxy saw 203.0.113.9.
        let (status, _, _) = fetch(&site, via_proxy(format!("10.9.{i}.1, 203.0.113.9"))).await;
        if i < 5 {
            assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "request {i}");
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "request {i}");
        }
    }
    // Another citizen through the same proxy registers a request.
    let before = items(&site).await;
    let pow = {
        let mut request = from(proxy, get(FORM, None));
        request
            .headers_mut()
            .insert("x-forwarded-for", "198.51.100.20".parse().unwrap());
        let (status, _, page) = fetch(&site, request).await;
        assert_eq!(status, StatusCode::OK);
        let challenge = between(&page, "name=\"pow-challenge\" value=\"", "\"").to_owned();
        let solution = pow::solve(&challenge).to_string();
        (challenge, solution)
    };
    let mut request = from(
        proxy,
        form_post(FORM, &with_pow(valid_fields("Voisine"), &pow), &[]),
    );
    request
        .headers_mut()
        .insert("x-forwarded-for", "198.51.100.20".parse().unwrap());
    let (status, _, page) = fetch(&site, request).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(items(&site).await, before + 1);
    // Without the setting, the same traffic is one address: the proxy's.
    let plain = site_with_forms().await;
    for i in 0..6 {
        let mut request = from(proxy, form_post(FORM, &[], &[]));
        request.headers_mut().insert(
            "x-forwarded-for",
            format!("198.51.100.{i}").parse().unwrap(),
        );
        let (status, _, _) = fetch(&plain, request).await;
        assert_eq!(
            status == StatusCode::TOO_MANY_REQUESTS,
            i == 5,
            "request {i}"
        );
    }
}

#[tokio::test]
async fn scripts_are_stored_as_text_and_shown_escaped() {
    let site = site_with_forms().await;
    let script = "<script>alert('x')</script>";
    let pow = solved_challenge(&site, [192, 0, 2, 9]).await;
    let fields: Vec<_> = with_pow(valid_fields(script), &pow)
        .into_iter()
        .map(|(k, v)| match k {
            "prenom" | "adresse" | "ville" | "lieu" | "surface" | "description" => {
                (k, script.to_owned())
            }
            _ => (k, v),
        })
        .collect();
    let (status, _, page) = fetch(&site, from([192, 0, 2, 9], form_post(FORM, &fields, &[]))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let chrono = between(&page, "sous le numéro <strong>", "<");
    let token = between(&page, "/suivi/", "\"").to_owned();
    let item = site
        .app
        .store()
        .item_by_chrono(site.a.id, chrono)
        .await
        .unwrap();
    assert!(
        item.subject.contains(script),
        "stored as text: {}",
        item.subject
    );
    let (status, _, page) = fetch(&site, get(&format!("/suivi/{token}"), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("&lt;script&gt;"), "{page}");
    assert!(!page.contains("<script"), "{page}");
}

#[tokio::test]
async fn tracking_shows_the_request_and_hides_behind_wrong_tokens() {
    let site = site_with_forms().await;
    let (chrono, token) = submit_valid(&site, [192, 0, 2, 10], "Suivi").await;
    let (status, headers, page) = fetch(&site, get(&format!("/suivi/{token}"), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "same-origin");
    assert_eq!(headers.get("x-robots-tag").unwrap(), "noindex");
    assert!(page.contains(&format!("Demande {chrono}")));
    assert!(page.contains("Reçue le"));
    assert_eq!(page.matches("<h1").count(), 1);
    // The AR is there to download, as the letter the mairie would post.
    assert!(
        page.contains(&format!("/suivi/{token}/accuse.pdf")),
        "{page}"
    );
    let (status, headers, pdf) =
        fetch(&site, get(&format!("/suivi/{token}/accuse.pdf"), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    assert!(pdf.starts_with("%PDF-"));
    let mut altered: Vec<char> = token.chars().collect();
    altered[5] = if altered[5] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    for wrong in [
        "abcdefghijklmnopqrstuvwxyz012345".to_owned(),
        altered,
        "court".to_owned(),
    ] {
        let (status, headers, page) = fetch(&site, get(&format!("/suivi/{wrong}"), None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{wrong}");
        assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "same-origin");
        assert!(page.contains("Page introuvable"));
        let (status, _, _) = fetch(&site, get(&format!("/suivi/{wrong}/accuse.pdf"), None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{wrong}");
        let (status, _, _) = fetch(
            &site,
            from(
                [192, 0, 2, 10],
                form_post(&format!("/suivi/{wrong}"), &[("message", "x".into())], &[]),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{wrong}");
    }
}

/// The public pages carry the commune's logo, served to anyone and cached for good under
/// an address that changes with the picture; a commune without one shows none.
#[tokio::test]
async fn the_public_pages_show_the_communes_logo() {
    let site = site_with_forms().await;
    let (_, _, page) = fetch(&site, get("/demarches/01004", None)).await;
    assert!(!page.contains("/logo/01004"), "no logo yet");
    let (status, _, _) = fetch(&site, get("/logo/01004", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    site.app
        .update_commune_settings(
            &site.a,
            &Actor::System("test"),
            parapheur_app::administration::SettingsForm {
                logo: parapheur_app::administration::LogoChange::Replace {
                    bytes: png.clone(),
                    media_type: "image/png".into(),
                },
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let (_, _, page) = fetch(&site, get(FORM, None)).await;
    let src = between(&page, "<img src=\"", "\"").to_owned();
    assert!(src.starts_with("/logo/01004?v="), "{src}");
    let response = site.router.clone().oneshot(get(&src, None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
    assert!(
        response.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(body.to_vec(), png);
    // Commune B has none.
    let (status, _, _) = fetch(&site, get("/logo/37154", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_citizen_answer_with_a_pdf_joins_the_request() {
    let site = site_with_forms().await;
    let (_, token) = submit_valid(&site, [192, 0, 2, 11], "Réponse").await;
    let before = site.app.tracking(&token).await.unwrap();
    let path = format!("/suivi/{token}");
    let pdf: &[u8] = b"%PDF-1.4 le justificatif demand\xc3\xa9";
    let (status, headers, _) = fetch(
        &site,
        from(
            [192, 0, 2, 11],
            form_post(
                &path,
                &[("message", "Voici le justificatif.".into())],
                &[("fichiers", "justificatif.pdf", pdf)],
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers.get(header::LOCATION).unwrap().to_str().unwrap(),
        format!("{path}?envoye=1")
    );
    let after = site.app.tracking(&token).await.unwrap();
    assert_eq!(after.attachments.len(), before.attachments.len() + 1);
    assert!(
        after
            .messages
            .iter()
            .any(|m| m.from_citizen && m.body.contains("justificatif"))
    );
    let (status, _, page) = fetch(&site, get(&format!("{path}?envoye=1"), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Votre message est envoyé"));
    // The document is listed and downloads as an attachment, never sniffed.
    let link = format!("{path}/fichier/");
    let id = between(&page, &link, "\"");
    let (status, headers, body) = fetch(&site, get(&format!("{link}{id}"), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    assert!(
        headers
            .get(header::CONTENT_DISPOSITION)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(
        headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
        "nosniff"
    );
    assert!(body.starts_with("%PDF-1.4"));
    // Another token cannot reach that file.
    let (status, _, _) = fetch(
        &site,
        get(
            &format!("/suivi/abcdefghijklmnopqrstuvwxyz012345/fichier/{id}"),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An empty answer is refused with the page shown again.
    let (status, _, page) = fetch(
        &site,
        from(
            [192, 0, 2, 11],
            form_post(&path, &[("message", "  ".into())], &[]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("role=\"alert\""), "{page}");
    // A post from another site is refused by the same-origin check, token or not.
    let mut request = form_post(&path, &[("message", "de l'extérieur".into())], &[]);
    request.headers_mut().insert(
        header::ORIGIN,
        header::HeaderValue::from_static("https://ailleurs.example"),
    );
    let (status, _, _) = fetch(&site, from([192, 0, 2, 11], request)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let last = site.app.tracking(&token).await.unwrap();
    assert_eq!(last.messages.len(), after.messages.len());
}

/// The citizen read the office's own step, "Affecté": the tracking page now says what it
/// means to them. The agent, for their part, may answer by email (the citizen gave one).
#[tokio::test]
async fn the_citizen_reads_a_citizens_wording_of_the_status() {
    use parapheur_app::Change;
    use parapheur_app::domain::Status;
    let site = site_with_forms().await;
    let (chrono, token) = submit_valid(&site, [192, 0, 2, 30], "Statut").await;
    let item = site.app.item_by_chrono(site.a.id, &chrono).await.unwrap();
    let system = Actor::System("test");
    let steps: &[Status] = match item.status {
        Status::ToQualify => &[Status::Registered, Status::Assigned],
        _ => &[Status::Assigned],
    };
    for &to in steps {
        site.app
            .change_item(
                &site.a,
                &system,
                item.id,
                Change::Status { to, reason: None },
                Utc::now(),
            )
            .await
            .unwrap();
    }
    let (status, _, page) = fetch(&site, get(&format!("/suivi/{token}"), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("En cours de traitement"), "{page}");
    assert!(!page.to_lowercase().contains("affecté"), "{page}");
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (_, _, page) = fetch(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
    assert!(page.contains("Répondre par courriel"), "{page}");
}
