//! What the web tests share: a register with two communes and a user of every role in
//! each, and requests sent through the real router.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::Utc;
use parapheur_app::api::{NewToken, Scope};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Role};
use parapheur_app::{Actor, App, Config, NewFile, NewUser};
pub use parapheur_testkit::Db;
use parapheur_testkit::{TestDatabase, fresh_postgres};
use tower::ServiceExt;

pub const PASSWORD: &str = "mot-de-passe-solide";

pub struct Site {
    pub app: App,
    /// One router for the whole test, as one server: its caches live across requests.
    pub router: axum::Router,
    _dir: tempfile::TempDir,
    pub a: parapheur_app::domain::Commune,
    pub b: parapheur_app::domain::Commune,
    /// The PostgreSQL database, dropped after the register and the router are.
    database: Option<TestDatabase>,
}

pub async fn site() -> Site {
    site_with(|_| {}).await
}

/// [`site`] on `db`; `None` (said loudly) when PostgreSQL is not available outside CI.
pub async fn site_on(db: Db) -> Option<Site> {
    let database = parapheur_testkit::database(db).await?;
    let url = database.as_ref().map(|d| d.url().to_owned());
    let mut site = site_with(move |config| config.database_url = url).await;
    // On SQLite, `site_with` may have made a PostgreSQL database of its own
    // (PARAPHEUR_TEST_BACKEND=postgres): that guard stays.
    if database.is_some() {
        site.database = database;
    }
    Some(site)
}

/// [`site`] with some settings changed (on PostgreSQL when `PARAPHEUR_TEST_BACKEND` says so).
pub async fn site_with(settings: impl FnOnce(&mut Config)) -> Site {
    let dir = parapheur_testkit::data_dir();
    let mut config = parapheur_testkit::config(dir.path(), None);
    // The administrators of these tests have no phone: the tests of the second factor turn
    // it back on.
    config.admin_second_factor = false;
    settings(&mut config);
    // The whole suite runs again on PostgreSQL with PARAPHEUR_TEST_BACKEND=postgres
    // (scripts/test.sh does).
    let mut database = None;
    if config.database_url.is_none()
        && std::env::var("PARAPHEUR_TEST_BACKEND").is_ok_and(|b| b == "postgres")
    {
        let fresh = fresh_postgres()
            .await
            .expect("PARAPHEUR_TEST_BACKEND=postgres needs PARAPHEUR_TEST_DATABASE_URL");
        config.database_url = Some(fresh.url().to_owned());
        database = Some(fresh);
    }
    let app = App::open(&config).await.unwrap();
    let system = Actor::System("test");
    let a = app
        .create_commune("01004", &system, Utc::now())
        .await
        .unwrap();
    let b = app
        .create_commune("37154", &system, Utc::now())
        .await
        .unwrap();
    for (commune, email, role) in [
        (&a, "agent@a.test", Role::Agent),
        (&a, "maire@a.test", Role::Elu),
        (&a, "admin@a.test", Role::Administrateur),
        (&a, "archiviste@a.test", Role::Archiviste),
        (&b, "agent@b.test", Role::Agent),
        (&b, "maire@b.test", Role::Elu),
        (&b, "admin@b.test", Role::Administrateur),
        (&b, "archiviste@b.test", Role::Archiviste),
    ] {
        app.add_user(
            commune,
            NewUser {
                email: email.into(),
                display_name: email.into(),
                title: None,
                role,
                service_id: None,
                password: Some(PASSWORD.into()),
                // The first commune's administrator also manages the installation.
                host_admin: email == "admin@a.test",
            },
            &system,
            Utc::now(),
        )
        .await
        .unwrap();
    }
    Site {
        router: parapheur_web::router(app.clone(), false),
        app,
        _dir: dir,
        a,
        b,
        database,
    }
}

pub async fn send(
    site: &Site,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = site.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path).header(header::HOST, "mairie.test");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::empty()).unwrap()
}

pub fn post(path: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut r = Request::post(path)
        .header(header::HOST, "mairie.test")
        .header(header::ORIGIN, "http://mairie.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(form.to_owned())).unwrap()
}

/// Logs in and returns (cookie, csrf token read from a page).
pub async fn login(site: &Site, email: &str) -> (String, String) {
    let (status, headers, _) = send(
        site,
        post(
            "/connexion",
            None,
            &format!("email={email}&password={PASSWORD}&suite=/a-traiter"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "login of {email}");
    let set_cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (_, _, page) = send(site, get("/mot-de-passe", Some(&cookie))).await;
    let csrf = csrf_in(&page);
    (cookie, csrf)
}

/// The CSRF token of a page's form.
pub fn csrf_in(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// The user of the commune `commune_id` with `email`, who must exist.
pub async fn user_in(
    site: &Site,
    commune_id: uuid::Uuid,
    email: &str,
) -> parapheur_store::users::User {
    site.app
        .user_by_email(commune_id, email)
        .await
        .unwrap()
        .unwrap()
}

/// A new API token of `commune` owned by the user `owner`, with `scopes`: (its id, the
/// secret the client sends).
pub async fn api_token(
    site: &Site,
    commune: &parapheur_app::domain::Commune,
    owner: &str,
    label: String,
    scopes: &[Scope],
) -> (uuid::Uuid, String) {
    let owner = user_in(site, commune.id, owner).await;
    let created = site
        .app
        .create_api_token(
            commune,
            &Actor::System("test"),
            NewToken {
                label,
                owner_id: owner.id,
                scopes: scopes.to_vec(),
                expires_at: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    (created.token.id, created.secret)
}

/// A call to the API at `/api/v1{path}`, with the token as a bearer if any, the body with
/// its content type, and `extra` headers: the status, headers and body bytes.
pub async fn api_call(
    site: &Site,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"))
        .header(header::HOST, "mairie.test");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some((content_type, bytes)) => request
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes)),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = site.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 100 << 20)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

/// A JSON body, which it must be.
pub fn parsed(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

pub async fn register_in(
    site: &Site,
    commune: &parapheur_app::domain::Commune,
    subject: &str,
) -> parapheur_app::Registered {
    let today = parapheur_app::domain::clock::local_date(Utc::now(), commune.zone());
    site.app
        .register(
            commune,
            &Actor::System("test"),
            NewItem::incoming(Channel::Paper, subject, today),
            vec![NewFile {
                filename: "scan.pdf".into(),
                media_type: "application/pdf".into(),
                bytes: b"%PDF-1.4 secret".to_vec(),
            }],
            Utc::now(),
        )
        .await
        .unwrap()
}

pub fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

pub fn multipart(
    cookie: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> Request<Body> {
    multipart_to(
        "/courrier/nouveau",
        cookie,
        fields,
        file.map(|(name, bytes)| ("files", name, bytes)),
    )
}

pub fn multipart_to(
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> Request<Body> {
    let boundary = "XyZ-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((field, filename, bytes)) = file {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post(path)
        .header(header::HOST, "mairie.test")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}
