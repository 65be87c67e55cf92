//! ProConnect logins against a real OpenID Connect provider: node-oidc-provider (OpenID
//! Certified), started per test by `e2e/oidc-provider.mjs` on a free port of 127.0.0.1 (its
//! modules from `npm ci` in e2e/, which scripts/test.sh runs). The browser's side is played
//! by reqwest at the provider and by requests to our router: our start page, the provider's
//! authorization endpoint, its login form, its redirect back to our callback.
//!
//! Without Node.js or the module, the tests fail when `CI=true` and are skipped, loudly,
//! otherwise.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use axum::http::{HeaderMap, StatusCode, header};
use parapheur_app::ProConnectSetting;

const SECRET: &str = "secret-de-test-proconnect";
const CALLBACK: &str = "http://127.0.0.1:8080/connexion/proconnect/retour";

/// A running oidc-provider, stopped when dropped.
struct Provider {
    issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

/// Starts the provider, or `None` (said loudly) when it cannot run outside CI.
fn provider() -> Option<Provider> {
    let dir = e2e_dir();
    let missing = if !dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        Some("e2e/node_modules/oidc-provider is missing (npm ci in e2e/)")
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node is not installed")
    } else {
        None
    };
    if let Some(why) = missing {
        assert!(
            std::env::var_os("CI").is_none(),
            "\n\n!!! The ProConnect tests need a real OpenID Connect provider in CI: {why}. ./scripts/test.sh installs it.\n"
        );
        eprintln!("SKIPPED (ProConnect): {why}; run ./scripts/test.sh, which installs it");
        return None;
    }
    let mut child = Command::new("node")
        .arg(dir.join("oidc-provider.mjs"))
        .arg(CALLBACK)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node e2e/oidc-provider.mjs");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("listening ") {
                let _ = tx.send(issuer.to_owned());
            }
        }
    });
    let issuer = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the OpenID Connect provider did not start");
    Some(Provider { issuer, child })
}

/// A site whose `[proconnect]` names the provider with `client_id`.
async fn site_for(provider: &Provider, client_id: &str, admin_second_factor: bool) -> Site {
    site_with_setting(provider, client_id, admin_second_factor, false).await
}

async fn site_with_setting(
    provider: &Provider,
    client_id: &str,
    admin_second_factor: bool,
    require_siret: bool,
) -> Site {
    let issuer = provider.issuer.clone();
    let client_id = client_id.to_owned();
    site_with(move |config| {
        config.admin_second_factor = admin_second_factor;
        config.proconnect = Some(ProConnectSetting {
            issuer,
            client_id,
            client_secret: SECRET.into(),
            acr_values: vec!["eidas1".into()],
            require_siret,
        });
    })
    .await
}

/// The commune of the session a response opened.
async fn commune_of(site: &Site, headers: &HeaderMap) -> String {
    let session = session_of(headers).expect("a session");
    let token = session.split_once('=').unwrap().1;
    let who = site
        .app
        .authenticate(token, chrono::Utc::now())
        .await
        .unwrap()
        .expect("a live session");
    who.commune.insee
}

/// The `name=value` of each Set-Cookie of a response.
fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// A browser at the provider: its cookies kept between requests, no redirect followed.
struct Browser {
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    async fn request(&mut self, method: &str, url: &str, form: Option<&str>) -> (u16, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = if method == "GET" {
            self.http.get(url)
        } else {
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.unwrap_or_default().to_owned())
        };
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(name, _)| name != k);
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.text().await.unwrap();
        (status, if location.is_empty() { body } else { location })
    }
}

/// What the provider's redirect back carries, and our flow cookie.
struct Callback {
    /// The callback's path and query on our server.
    path: String,
    flow_cookie: String,
}

/// From our "S'identifier avec ProConnect" to the provider's redirect back, logging in at
/// the provider as `login`.
async fn at_provider(site: &Site, provider: &Provider, login: &str) -> Callback {
    let (status, headers, body) = send(site, get("/connexion/proconnect", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let authorize = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(&provider.issuer), "{authorize}");
    for part in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "acr_values=eidas1",
        "siret",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let flow_cookie = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("parapheur_proconnect="))
        .expect("the flow's cookie");
    let mut browser = Browser::new();
    let (status, interaction) = browser.request("GET", &authorize, None).await;
    assert_eq!(status, 303, "{interaction}");
    let interaction = format!("{}{interaction}", provider.issuer);
    let (status, form) = browser.request("GET", &interaction, None).await;
    assert_eq!(status, 200);
    assert!(form.contains("<form"), "{form}");
    let (status, resume) = browser
        .request(
            "POST",
            &interaction,
            Some(&format!("email={}", login.replace('@', "%40"))),
        )
        .await;
    assert_eq!(status, 303, "{resume}");
    let (status, back) = browser.request("GET", &resume, None).await;
    assert_eq!(status, 303, "{back}");
    let path = back
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap_or_else(|| panic!("back to us: {back}"))
        .to_owned();
    assert!(
        path.starts_with("/connexion/proconnect/retour?code="),
        "{path}"
    );
    Callback { path, flow_cookie }
}

/// [`at_provider`], then its redirect followed back to our callback: the callback's answer.
async fn back_from_provider(
    site: &Site,
    provider: &Provider,
    login: &str,
) -> (StatusCode, HeaderMap, String) {
    let callback = at_provider(site, provider, login).await;
    send(site, get(&callback.path, Some(&callback.flow_cookie))).await
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    set_cookies(headers)
        .into_iter()
        .find(|c| c.starts_with("parapheur_session=") && c.len() > "parapheur_session=".len())
}

#[tokio::test]
async fn an_agent_logs_in_with_proconnect() {
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", false).await;
    // The button, on the login page only when ProConnect is configured.
    let (_, _, page) = send(&site, get("/connexion", None)).await;
    assert!(
        page.contains("S&#x27;identifier avec ProConnect")
            || page.contains("S'identifier avec ProConnect"),
        "{page}"
    );
    let plain = site_with(|_| {}).await;
    let (_, _, page) = send(&plain, get("/connexion", None)).await;
    assert!(!page.contains("ProConnect"), "{page}");
    let (status, _, _) = send(&plain, get("/connexion/proconnect", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let callback = at_provider(&site, &provider, "agent@a.test").await;
    let (status, headers, body) =
        send(&site, get(&callback.path, Some(&callback.flow_cookie))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers[header::LOCATION], "/a-traiter");
    let session = session_of(&headers).expect("a session");
    let (status, _, page) = send(&site, get("/a-traiter", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("agent@a.test"), "{page}");
    // The flow's cookie is spent: the same answer again is refused.
    let (status, headers, body) = send(&site, get(&callback.path, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("oidc_state_mismatch"), "{body}");
    assert!(session_of(&headers).is_none());
}

#[tokio::test]
async fn a_wrong_state_is_refused() {
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", false).await;
    let callback = at_provider(&site, &provider, "agent@a.test").await;
    let forged = callback.path.replacen("state=", "state=x", 1);
    let (status, headers, body) = send(&site, get(&forged, Some(&callback.flow_cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("oidc_state_mismatch"), "{body}");
    assert!(
        body.contains("recommencez depuis la page de connexion"),
        "{body}"
    );
    assert!(session_of(&headers).is_none());
    // Another browser's flow cookie does not fit this answer either.
    let other = at_provider(&site, &provider, "agent@a.test").await;
    let (status, _, body) = send(&site, get(&callback.path, Some(&other.flow_cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("oidc_state_mismatch"), "{body}");
    // An answer naming another issuer (RFC 9207) is refused.
    let mixed = other.path.replace("iss=http", "iss=https");
    assert_ne!(mixed, other.path);
    let (status, _, body) = send(&site, get(&mixed, Some(&other.flow_cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("oidc_provider_refused"), "{body}");
    // A provider's error is said as such.
    let state = other
        .path
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, body) = send(
        &site,
        get(
            &format!("/connexion/proconnect/retour?error=access_denied&state={state}"),
            Some(&other.flow_cookie),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("oidc_provider_refused"), "{body}");
}

#[tokio::test]
async fn a_tampered_id_token_is_refused() {
    let Some(provider) = provider() else { return };
    // This client's ID tokens come back with their payload changed after signing.
    let site = site_for(&provider, "parapheur-altere", false).await;
    let (status, headers, body) = back_from_provider(&site, &provider, "agent@a.test").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("oidc_invalid_id_token"), "{body}");
    assert!(
        body.contains("jeton d&#x27;identité") || body.contains("jeton d'identité"),
        "{body}"
    );
    assert!(session_of(&headers).is_none());
}

#[tokio::test]
async fn an_unknown_identity_is_refused() {
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", false).await;
    let (status, headers, body) =
        back_from_provider(&site, &provider, "inconnu@ailleurs.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("oidc_unknown_identity"), "{body}");
    assert!(body.contains("Aucun compte actif"), "{body}");
    assert!(body.contains("inconnu@ailleurs.test"), "{body}");
    assert!(session_of(&headers).is_none());
}

#[tokio::test]
async fn an_administrator_still_gives_the_second_factor_unless_proconnect_checked_one() {
    use parapheur_app::administration::second_factor::code_at;
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", true).await;
    // admin@a.test enrols a second factor.
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (_, _, page) = send(
        &site,
        post(
            "/double-authentification/activer",
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    let secret = page
        .split("la main : <code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now();
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

    // ProConnect at eidas1 (a password): our code is still asked.
    let (status, headers, page) = back_from_provider(&site, &provider, "admin@a.test").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Code de double authentification"), "{page}");
    assert!(session_of(&headers).is_none());
    let pending = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("parapheur_proconnect_suite=") && c.len() > 30)
        .expect("the pending step's cookie");
    let (status, headers, page) = send(
        &site,
        post("/connexion/proconnect/suite", Some(&pending), "otp=000000"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("login_bad_second_factor"), "{page}");
    assert!(session_of(&headers).is_none());
    // Without the step's cookie: refused, whatever the code.
    let next = code_at(&secret, now + chrono::Duration::seconds(30)).unwrap();
    let (status, _, page) = send(
        &site,
        post("/connexion/proconnect/suite", None, &format!("otp={next}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("oidc_state_mismatch"), "{page}");
    let (status, headers, page) = send(
        &site,
        post(
            "/connexion/proconnect/suite",
            Some(&pending),
            &format!("otp={next}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let session = session_of(&headers).expect("a session");
    let (status, _, _) = send(&site, get("/administration", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);

    // ProConnect attests a second factor (acr consistency-checked-2fa): straight in.
    let (status, headers, page) = back_from_provider(&site, &provider, "admin-mfa@a.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(session_of(&headers).is_some());
}

#[tokio::test]
async fn the_siret_picks_the_commune_and_may_be_required() {
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", false).await;
    // agent@a.test has an account in commune B too.
    site.app
        .add_user(
            &site.b,
            parapheur_app::NewUser {
                email: "agent@a.test".into(),
                display_name: "Alice dans B".into(),
                title: None,
                role: parapheur_app::domain::Role::Agent,
                service_id: None,
                password: Some(PASSWORD.into()),
                host_admin: false,
            },
            &parapheur_app::Actor::System("test"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    // The SIRET of commune A (SIREN 210100046): straight into A.
    let (status, headers, body) = back_from_provider(&site, &provider, "agent@a.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(commune_of(&site, &headers).await, site.a.insee);
    // Another organisation's SIRET: the person chooses among their communes.
    let (status, headers, page) =
        back_from_provider(&site, &provider, "agent-ailleurs@a.test").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("name=\"commune\""), "{page}");
    assert!(
        page.contains(&site.b.insee) && page.contains(&site.a.insee),
        "{page}"
    );
    assert!(session_of(&headers).is_none());
    let pending = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("parapheur_proconnect_suite=") && c.len() > 30)
        .expect("the pending step's cookie");
    // A commune where the person has no account: refused.
    let (status, headers, page) = send(
        &site,
        post(
            "/connexion/proconnect/suite",
            Some(&pending),
            "commune=75056",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(session_of(&headers).is_none());
    let (status, headers, page) = send(
        &site,
        post(
            "/connexion/proconnect/suite",
            Some(&pending),
            &format!("commune={}", site.b.insee),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(commune_of(&site, &headers).await, site.b.insee);

    // With require_siret, another organisation's SIRET opens nothing.
    let strict = site_with_setting(&provider, "parapheur", false, true).await;
    let (status, headers, page) =
        back_from_provider(&strict, &provider, "agent-ailleurs@a.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("oidc_siret_mismatch"), "{page}");
    assert!(page.contains("13002526500013"), "{page}");
    assert!(session_of(&headers).is_none());
    let (status, headers, page) = back_from_provider(&strict, &provider, "agent@a.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(commune_of(&strict, &headers).await, strict.a.insee);
}

#[tokio::test]
async fn logging_out_ends_the_proconnect_session_too() {
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", false).await;
    let (status, headers, body) = back_from_provider(&site, &provider, "agent@a.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let session = session_of(&headers).unwrap();
    let end = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("parapheur_proconnect_fin=") && c.len() > 30)
        .expect("the logout's cookie");
    let (_, _, page) = send(&site, get("/mot-de-passe", Some(&session))).await;
    let csrf = csrf_in(&page);
    let (status, headers, body) = send(
        &site,
        post(
            "/deconnexion",
            Some(&format!("{session}; {end}")),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let to = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        to.starts_with(&format!("{}/session/end?", provider.issuer)),
        "{to}"
    );
    for part in ["id_token_hint=", "post_logout_redirect_uri=", "state="] {
        assert!(to.contains(part), "{part} in {to}");
    }
    // Our session is over; the provider takes the logout (its confirmation page).
    let (status, headers, _) = send(&site, get("/a-traiter", Some(&session))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/connexion")
    );
    let (status, page) = Browser::new().request("GET", &to, None).await;
    assert_eq!(status, 200, "{page}");
    // Logged out without it (a password login): back to our login page.
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (status, headers, _) = send(
        &site,
        post("/deconnexion", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/connexion");
}

#[tokio::test]
async fn a_login_left_too_long_is_refused_and_spends_nothing() {
    use parapheur_app::administration::proconnect::{CallbackParams, ProConnectOutcome};
    let Some(provider) = provider() else { return };
    let site = site_for(&provider, "parapheur", false).await;
    let callback = at_provider(&site, &provider, "agent@a.test").await;
    let sealed = callback.flow_cookie.split_once('=').unwrap().1;
    let param = |name: &str| {
        callback
            .path
            .split(['?', '&'])
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let params = CallbackParams {
        code: param("code"),
        state: param("state"),
        ..CallbackParams::default()
    };
    let late = chrono::Utc::now() + chrono::Duration::minutes(11);
    let refused = site
        .app
        .proconnect_finish(Some(sealed), &params, None, late)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "oidc_expired", "{refused}");
    // Refused before the code was used: in time, the same answer opens the session.
    let outcome = site
        .app
        .proconnect_finish(Some(sealed), &params, None, chrono::Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, ProConnectOutcome::LoggedIn { .. }),
        "{outcome:?}"
    );
    // A code works once: the provider refuses it the second time.
    let refused = site
        .app
        .proconnect_finish(Some(sealed), &params, None, chrono::Utc::now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "oidc_provider_refused", "{refused}");
}

#[tokio::test]
async fn an_unreachable_provider_is_said_so() {
    // Nothing listens on port 9 of this machine.
    let site = site_with(|config| {
        config.proconnect = Some(ProConnectSetting {
            issuer: "http://127.0.0.1:9".into(),
            client_id: "parapheur".into(),
            client_secret: SECRET.into(),
            acr_values: Vec::new(),
            require_siret: false,
        });
    })
    .await;
    let (status, headers, page) = send(&site, get("/connexion/proconnect", None)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("oidc_provider_unavailable"), "{page}");
    assert!(page.contains("ProConnect ne répond pas"), "{page}");
    assert!(session_of(&headers).is_none());
}
