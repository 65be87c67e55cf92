//! The logged-in person of a request, and the checks every form goes through.
//!
//! The session cookie is HttpOnly and SameSite=Lax (Secure when served over HTTPS); every
//! POST must carry the session's CSRF token, and a POST from another origin is refused even
//! before that.

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use parapheur_app::administration::auth::Authenticated;
use parapheur_app::domain::Role;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::WebState;
use crate::error::WebError;

pub const COOKIE: &str = "parapheur_session";

/// The value of a cookie in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=28800{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("parapheur_session=; Path=/"))
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("parapheur_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// A logged-in person, required by every page but the login pages.
pub struct Me(pub Authenticated);

impl FromRequestParts<WebState> for Me {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        // The route's guard already found the person.
        if let Some(who) = parts.extensions.get::<Authenticated>() {
            return Ok(Me(who.clone()));
        }
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let login = || WebError::Login { next: next.clone() };
        let token = cookie(&parts.headers, COOKIE).ok_or_else(login)?;
        let who = state
            .app
            .authenticate(token, chrono::Utc::now())
            .await?
            .ok_or_else(login)?;
        // Found once per request: a `Posted` form of the same request reads it from here.
        parts.extensions.insert(who.clone());
        Ok(Me(who))
    }
}

/// A form that carries the session's CSRF token in its `csrf` field.
pub trait CarriesCsrf {
    fn csrf_token(&self) -> &str;
}

/// Implements [`CarriesCsrf`] for form structs with a `csrf: String` field.
macro_rules! csrf_forms {
    ($($form:ty),+ $(,)?) => {
        $(
            impl $crate::session::CarriesCsrf for $form {
                fn csrf_token(&self) -> &str {
                    &self.csrf
                }
            }
        )+
    };
}
pub(crate) use csrf_forms;

/// A form with nothing but its CSRF token (a button).
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

csrf_forms!(CsrfOnly);

/// A form posted by the logged-in person, read as `Form<T>` reads it and then refused unless
/// it carries their session's CSRF token: handlers that take one never check it themselves.
/// (Multipart forms, whose token comes with the files, still check it where they read it.)
pub struct Posted<T>(pub T);

impl<T> FromRequest<WebState> for Posted<T>
where
    T: DeserializeOwned + CarriesCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let me = Me::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        me.check_csrf(form.csrf_token())
            .map_err(IntoResponse::into_response)?;
        Ok(Posted(form))
    }
}

impl Me {
    /// Refuses a form whose CSRF token is not this session's (compared in constant time).
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        let expected = self.0.session.csrf_token.as_bytes();
        let given = token.as_bytes();
        let same = expected.len() == given.len()
            && expected
                .iter()
                .zip(given)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "le formulaire a expiré ou ne vient pas de cette application : rechargez la page et recommencez".into(),
            ))
        }
    }

    /// Élus and administrators see confidential items; others only their own.
    pub fn confidential_filter(&self) -> Option<uuid::Uuid> {
        self.0.confidential_reader()
    }

    pub fn can_register(&self) -> bool {
        self.0.user.role.can_register()
    }

    /// What every page shows about the person.
    pub fn view(&self) -> MeView {
        let role = self.0.user.role;
        let can_archive = role.may(parapheur_app::domain::Permission::Archive);
        let (primary, more) = navigation(role, self.0.user.host_admin);
        MeView {
            name: self.0.user.display_name.clone(),
            role: role.label_fr().to_owned(),
            commune: self.0.commune.name.clone(),
            insee: self.0.commune.insee.clone(),
            can_register: self.can_register(),
            can_administer: role.can_administer(),
            can_archive,
            host_admin: self.0.user.host_admin,
            primary,
            more,
            // Shown at half its pixels (sharp on dense screens), its place reserved.
            logo: self.0.commune.header_logo.as_ref().map(|l| HeaderLogoView {
                url: format!(
                    "/logo/{}/entete?v={}",
                    self.0.commune.insee,
                    &l.sha256[..l.sha256.len().min(12)]
                ),
                width: l.width.div_ceil(2),
                height: l.height.div_ceil(2),
            }),
        }
    }

    /// The version of what this request reads, for the read cache.
    pub fn version(&self, today: chrono::NaiveDate) -> crate::cache::Version {
        crate::cache::Version {
            journal_seq: self.0.journal_seq,
            today,
        }
    }

    pub fn csrf(&self) -> &str {
        &self.0.session.csrf_token
    }
}

/// The header's logo: its address (versioned by its hash) and its size in CSS pixels.
#[derive(Debug, Serialize)]
pub struct HeaderLogoView {
    pub url: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Serialize)]
pub struct MeView {
    pub name: String,
    pub role: String,
    pub commune: String,
    pub insee: String,
    pub can_register: bool,
    pub can_administer: bool,
    pub can_archive: bool,
    pub host_admin: bool,
    /// The four or five entries of the header for this role (docs/DESIGN.md, "Header").
    pub primary: Vec<NavEntry>,
    /// The others, grouped under "Plus".
    pub more: Vec<NavEntry>,
    /// The commune's logo beside its name, when it has one.
    pub logo: Option<HeaderLogoView>,
}

/// A link of the header: `key` is what pages set as `nav` to mark where the person is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NavEntry {
    pub key: &'static str,
    pub href: &'static str,
    pub label: &'static str,
}

const fn entry(key: &'static str, href: &'static str, label: &'static str) -> NavEntry {
    NavEntry { key, href, label }
}

const INBOX: NavEntry = entry("inbox", "/a-traiter", "À traiter");
const LETTER: NavEntry = entry("letter", "/courrier/nouveau", "Enregistrer un courrier");
const CALL: NavEntry = entry("call", "/appel/nouveau", "Noter un appel");
const SEARCH: NavEntry = entry("search", "/recherche", "Rechercher");
const REGISTER: NavEntry = entry("register", "/registre", "Registre");
const INBOUND: NavEntry = entry("inbound", "/courriels", "Courriels reçus");
const CONTACTS: NavEntry = entry("contacts", "/contacts", "Contacts");
const DASHBOARD: NavEntry = entry("dashboard", "/tableau-de-bord", "Tableau de bord");
const PARAPHEUR: NavEntry = entry("parapheur", "/parapheur", "Parapheur");
const AWAITING: NavEntry = entry("awaiting", "/elu", "Ce qui m'attend");
const ARCHIVES: NavEntry = entry("archives", "/archives", "Archives");
const ADMIN: NavEntry = entry("admin", "/administration", "Administration");
const HOST: NavEntry = entry("host", "/hebergement", "Hébergement");

/// The header's entries for a role: what that person does every day first, at most five,
/// then the rest in the order of the old flat menu.
pub fn navigation(role: Role, host_admin: bool) -> (Vec<NavEntry>, Vec<NavEntry>) {
    let primary: Vec<NavEntry> = match role {
        Role::Agent | Role::Administrateur => vec![INBOX, LETTER, CALL, SEARCH, REGISTER],
        Role::Elu => vec![AWAITING, PARAPHEUR, SEARCH, REGISTER],
        Role::Archiviste => vec![INBOX, ARCHIVES, SEARCH, REGISTER],
    };
    let mut every = vec![
        INBOX, LETTER, CALL, SEARCH, INBOUND, REGISTER, CONTACTS, DASHBOARD, PARAPHEUR, AWAITING,
    ];
    if !role.can_register() {
        every.retain(|e| ![LETTER, CALL, INBOUND].contains(e));
    }
    if role.may(parapheur_app::domain::Permission::Archive) {
        every.push(ARCHIVES);
    }
    if role.can_administer() {
        every.push(ADMIN);
    }
    if host_admin {
        every.push(HOST);
    }
    let more = every.into_iter().filter(|e| !primary.contains(e)).collect();
    (primary, more)
}

/// Refuses a POST whose Origin (or, failing that, Referer) is another site.
pub async fn same_origin_posts(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // The API's calls carry a bearer token, never a cookie: no other site can make a
    // browser send one, so they are not forms to protect.
    if request.method() == axum::http::Method::POST
        && !request.uri().path().starts_with(crate::api::PREFIX)
    {
        let headers = request.headers();
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .and_then(|h| h.to_str().ok());
        if let (Some(host), Some(origin)) = (host, origin) {
            let origin_host = origin
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or("");
            if origin == "null" || origin_host != host {
                return WebError::Forbidden(
                    "formulaire envoyé depuis un autre site : refusé".into(),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// Gives error pages the header and navigation of the logged-in person, so that a refused
/// action never strands anyone on a bare page. Costs a session lookup on errors only.
pub async fn with_navigation(
    axum::extract::State(state): axum::extract::State<crate::WebState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::error::{ErrorPage, Navigation, render_page};
    let token = cookie(request.headers(), COOKIE).map(str::to_owned);
    let response = next.run(request).await;
    let (Some(token), Some(error)) = (token, response.extensions().get::<ErrorPage>().cloned())
    else {
        return response;
    };
    let Ok(Some(who)) = state.app.authenticate(&token, chrono::Utc::now()).await else {
        return response;
    };
    let me = Me(who);
    let nav = Navigation {
        me: minijinja::Value::from(minijinja::value::Serde(me.view())),
        csrf: me.csrf().to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(
        parts,
        axum::body::Body::from(render_page(&error.title, &error.message, Some(nav))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old flat menu, per role: every entry must still be reachable from the header.
    fn flat_menu(role: Role, host_admin: bool) -> Vec<&'static str> {
        let mut keys = vec!["inbox"];
        if role.can_register() {
            keys.extend(["letter", "call"]);
        }
        keys.push("search");
        if role.can_register() {
            keys.push("inbound");
        }
        keys.extend(["register", "contacts", "dashboard", "parapheur", "awaiting"]);
        if role.may(parapheur_app::domain::Permission::Archive) {
            keys.push("archives");
        }
        if role.can_administer() {
            keys.push("admin");
        }
        if host_admin {
            keys.push("host");
        }
        keys
    }

    #[test]
    fn each_role_has_five_entries_at_most_and_reaches_every_page_it_had() {
        for role in Role::ALL {
            for host_admin in [false, true] {
                let (primary, more) = navigation(role, host_admin);
                assert!(
                    (4..=5).contains(&primary.len()),
                    "{role:?}: {} primary entries",
                    primary.len()
                );
                let mut all: Vec<&str> = primary.iter().chain(&more).map(|e| e.key).collect();
                let count = all.len();
                all.sort_unstable();
                all.dedup();
                assert_eq!(all.len(), count, "{role:?}: an entry is listed twice");
                let mut expected = flat_menu(role, host_admin);
                expected.sort_unstable();
                assert_eq!(all, expected, "{role:?} (host admin: {host_admin})");
            }
        }
    }

    #[test]
    fn an_elu_sees_what_waits_for_them_first() {
        let (primary, _) = navigation(Role::Elu, false);
        assert_eq!(primary[0].key, "awaiting");
        let (primary, _) = navigation(Role::Agent, false);
        assert_eq!(primary[0].key, "inbox");
    }
}
