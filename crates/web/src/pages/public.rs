//! The citizens' pages, public and without login: a commune's online procedures, a form and
//! its submission, and the tracking page behind the link each request receives.
//!
//! Abuse is held back without any third party, in this order on every submission: a limit
//! per client address (in memory, per process, checked before the body is read), a
//! honeypot field that people never see, and a proof of work (`domain::pow`) that the
//! browser computes with `demande.js`, whose signed challenge is issued with the page and
//! can be spent only once. Without JavaScript the form still posts, and the answer says
//! what is missing and how else to reach the mairie.
//!
//! The tracking token is the only capability of the tracking page: it never goes in a
//! redirect after a submission (the confirmation is the POST's own answer), and the pages
//! that show it are sent with `Referrer-Policy: same-origin` (no referrer to other sites;
//! `no-referrer` would make browsers send `Origin: null` with the page's own form, which the
//! same-origin check refuses) and `X-Robots-Tag: noindex`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use parapheur_app::AppError;
use parapheur_app::capture::dropfolder;
use parapheur_app::citizens::{MAX_UPLOADS, PublicForm, SubmitError, Upload};
use parapheur_app::domain::clock::{local_date, utc_offset_minutes};
use parapheur_app::domain::request_form::{
    self, CIVILITIES, CONSENT_KEY, FieldError, FieldKind, IDENTITY_KEYS, SubmittedFile,
};
use parapheur_app::domain::{Commune, Status, french, pow};
use parapheur_app::store::StoreError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ClientIp;
use crate::error::WebError;
use crate::{WebState, assets, templates};

/// The most a submission or an answer may weigh, files included.
pub const MAX_BODY_BYTES: usize = 60 * 1024 * 1024;
/// Proof-of-work difficulty in leading zero bits, unless `PARAPHEUR_POW_BITS` says otherwise:
/// 2^16 hashes, a fraction of a second in a current browser, a second on an old phone.
pub const DEFAULT_POW_BITS: u8 = 16;
/// How long a challenge stays usable: the time a person may take to fill in a form.
const POW_MAX_AGE_SECS: i64 = 3600;
/// Multipart parts read from one request at most (fields and files together).
const MAX_PARTS: usize = 200;
/// The honeypot's name: never a form key (those cannot contain a hyphen).
const HONEYPOT: &str = "site-web";
const CHALLENGE: &str = "pow-challenge";
const SOLUTION: &str = "pow-solution";
/// What a file input accepts (checked again from the bytes on the server).
const ACCEPT: &str = "application/pdf,image/jpeg,image/png,image/tiff";

// ---------------------------------------------------------------------------------------
// Rate limit
// ---------------------------------------------------------------------------------------

/// What is being limited: each has its own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    /// Submissions of a public form.
    Submit,
    /// Answers on a tracking page.
    Answer,
}

impl Bucket {
    /// (per ten minutes, per day).
    fn limits(self) -> (usize, usize) {
        match self {
            Bucket::Submit => (5, 20),
            Bucket::Answer => (10, 50),
        }
    }
}

const WINDOW: Duration = Duration::from_secs(10 * 60);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Addresses remembered at most; the oldest are forgotten first when full.
const MAX_TRACKED: usize = 100_000;

/// Requests per client address, in memory (each process limits on its own, like logins).
#[derive(Debug, Default)]
pub struct RateLimiter {
    hits: Mutex<HashMap<(Bucket, IpAddr), Vec<Instant>>>,
}

impl RateLimiter {
    /// Counts one request from `ip`, or says how long to wait when it is one too many.
    /// Refused requests are not counted.
    fn hit(&self, bucket: Bucket, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let key = (bucket, address_key(ip));
        let (per_window, per_day) = bucket.limits();
        let mut map = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED {
            prune(&mut map, now);
        }
        let hits = map.entry(key).or_default();
        hits.retain(|t| now.saturating_duration_since(*t) < DAY);
        let recent: Vec<&Instant> = hits
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < WINDOW)
            .collect();
        if recent.len() >= per_window {
            let oldest = recent.first().map_or(now, |t| **t);
            return Err((oldest + WINDOW).saturating_duration_since(now));
        }
        if hits.len() >= per_day {
            let oldest = hits.first().copied().unwrap_or(now);
            return Err((oldest + DAY).saturating_duration_since(now));
        }
        hits.push(now);
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.hits.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// An address as limited: IPv6 by its /64, which one subscriber usually holds whole.
/// Unknown addresses share one count.
fn address_key(ip: Option<IpAddr>) -> IpAddr {
    match ip {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

/// Forgets what is a day old, then, if still too full, the addresses seen longest ago.
fn prune(map: &mut HashMap<(Bucket, IpAddr), Vec<Instant>>, now: Instant) {
    map.retain(|_, hits| {
        hits.retain(|t| now.saturating_duration_since(*t) < DAY);
        !hits.is_empty()
    });
    let keep = MAX_TRACKED * 9 / 10;
    if map.len() > keep {
        let mut by_age: Vec<((Bucket, IpAddr), Instant)> = map
            .iter()
            .map(|(k, hits)| (*k, hits.last().copied().unwrap_or(now)))
            .collect();
        by_age.sort_by_key(|(_, last)| *last);
        let excess = map.len() - keep;
        for (key, _) in by_age.into_iter().take(excess) {
            map.remove(&key);
        }
    }
}

/// "3 minutes", "2 heures": how long to wait, rounded up.
fn wait_text(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    if minutes < 120 {
        format!("{minutes} minute{}", if minutes > 1 { "s" } else { "" })
    } else {
        format!("{} heures", minutes.div_ceil(60))
    }
}

// ---------------------------------------------------------------------------------------
// Proof of work
// ---------------------------------------------------------------------------------------

/// The key that signs the challenges: derived from the installation's secret, so every
/// process of the installation (and only it) recognises them.
pub fn pow_key(state: &WebState) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"parapheur-pow-v1");
    hasher.update(state.app.pow_secret());
    hasher.finalize().into()
}

/// The difficulty, read once: `PARAPHEUR_POW_BITS` (0 to 32), or [`DEFAULT_POW_BITS`].
fn pow_bits() -> u8 {
    static BITS: OnceLock<u8> = OnceLock::new();
    *BITS.get_or_init(|| {
        std::env::var("PARAPHEUR_POW_BITS")
            .ok()
            .and_then(|v| v.trim().parse::<u8>().ok())
            .filter(|b| *b <= 32)
            .unwrap_or(DEFAULT_POW_BITS)
    })
}

/// A new signed challenge, with a nonce from the system's secure random source.
fn issue_challenge(state: &WebState, now: DateTime<Utc>) -> Result<String, PublicError> {
    // A random 256-bit token's hash: 32 hex digits of it make the 16-byte nonce.
    let (_, random) = parapheur_app::administration::auth::new_token()?;
    let mut nonce = [0u8; 16];
    let bytes = hex::decode(random.get(..32).unwrap_or_default())
        .map_err(|e| PublicError::Internal(format!("nonce: {e}")))?;
    if bytes.len() != nonce.len() {
        return Err(PublicError::Internal("nonce: short random".into()));
    }
    nonce.copy_from_slice(&bytes);
    Ok(pow::issue(
        &pow_key(state),
        now.timestamp(),
        nonce,
        pow_bits(),
    ))
}

/// Why the anti-robot check failed, in French.
enum PowRefusal {
    /// No solution: the browser did not run the script.
    NoScript,
    Invalid(pow::PowError),
    Replayed,
}

/// Verifies the challenge and its solution, then spends the challenge (a second use is
/// refused, on every process sharing the database).
async fn check_pow(
    state: &WebState,
    challenge: &str,
    solution: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), PowRefusal>, PublicError> {
    if challenge.is_empty() || solution.is_empty() {
        return Ok(Err(PowRefusal::NoScript));
    }
    let key = pow_key(state);
    if let Err(e) = pow::verify(&key, challenge, solution, now.timestamp(), POW_MAX_AGE_SECS) {
        return Ok(Err(PowRefusal::Invalid(e)));
    }
    // Verified, so well formed: v1.{issued}.{nonce}.{difficulty}.{signature}.
    let mut parts = challenge.split('.');
    let issued: i64 = parts.nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let nonce = parts.next().unwrap_or_default();
    let expires = DateTime::from_timestamp(
        issued
            .saturating_add(POW_MAX_AGE_SECS)
            .saturating_add(pow::MAX_CLOCK_SKEW_SECS),
        0,
    )
    .unwrap_or(now);
    if state
        .app
        .store()
        .spend_challenge(nonce, expires, now)
        .await?
    {
        Ok(Ok(()))
    } else {
        Ok(Err(PowRefusal::Replayed))
    }
}

// ---------------------------------------------------------------------------------------
// Errors and common page parts
// ---------------------------------------------------------------------------------------

/// Errors of the public pages, rendered without any of the agents' navigation.
#[derive(Debug)]
pub enum PublicError {
    NotFound,
    BadRequest(String),
    Unavailable(String),
    Internal(String),
}

impl From<AppError> for PublicError {
    fn from(e: AppError) -> Self {
        match WebError::from(e) {
            WebError::NotFound => PublicError::NotFound,
            WebError::BadRequest(m) | WebError::Forbidden(m) => PublicError::BadRequest(m),
            WebError::Unavailable(m) => PublicError::Unavailable(m),
            WebError::Internal(m) => PublicError::Internal(m),
            WebError::Login { .. } => PublicError::NotFound,
        }
    }
}

impl From<StoreError> for PublicError {
    fn from(e: StoreError) -> Self {
        PublicError::from(AppError::from(e))
    }
}

impl From<minijinja::Error> for PublicError {
    fn from(e: minijinja::Error) -> Self {
        PublicError::Internal(format!("template: {e:#}"))
    }
}

impl IntoResponse for PublicError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PublicError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Cette page n'existe pas ou n'existe plus. Vérifiez l'adresse, ou contactez votre mairie."
                    .to_owned(),
            ),
            PublicError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Demande refusée", m),
            PublicError::Unavailable(m) => {
                tracing::error!(message = %m, "public page unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "Service indisponible", m)
            }
            PublicError::Internal(detail) => {
                tracing::error!(%detail, "internal error on a public page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur",
                    "Une erreur est survenue ; rien n'a été enregistré. Réessayez dans un instant."
                        .to_owned(),
                )
            }
        };
        message_page(status, title, &message, None)
    }
}

/// A page with a title and a message, and the mairie's contact details when known.
fn message_page(
    status: StatusCode,
    title: &str,
    message: &str,
    mairie: Option<&Mairie>,
) -> Response {
    let html = templates::render(
        "public_message.html",
        ctx! { title, message, mairie, style_url => assets::style_url() },
    )
    .unwrap_or_else(|_| {
        format!("<!doctype html><html lang=\"fr\"><title>{title}</title><p>{message}</p></html>")
    });
    (status, Html(html)).into_response()
}

/// The mairie as the public pages show it: name, and how to reach it otherwise.
#[derive(Debug, Clone, Serialize)]
struct Mairie {
    insee: String,
    name: String,
    /// "Mairie de Montbazon", "Mairie du Havre".
    title: String,
    address: Option<String>,
    phone: Option<String>,
    /// The number for a `tel:` link: digits and "+" only.
    phone_link: Option<String>,
    email: Option<String>,
    /// The commune's logo, its address versioned by its hash (cached for good).
    logo_url: Option<String>,
}

async fn mairie(state: &WebState, commune: &Commune) -> Result<Mairie, PublicError> {
    let settings = state.app.store().commune_settings(commune.id).await?;
    let present = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let phone = present(settings.phone);
    Ok(Mairie {
        insee: commune.insee.clone(),
        name: commune.name.clone(),
        title: format!("Mairie {}", french::of_name(&commune.name)),
        address: present(settings.address),
        phone_link: phone.as_ref().map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect()
        }),
        phone,
        email: present(settings.email),
        logo_url: settings
            .logo_sha256
            .as_ref()
            .filter(|_| settings.logo_type.is_some())
            .map(|sha| format!("/logo/{}?v={}", commune.insee, &sha[..sha.len().min(12)])),
    })
}

/// The commune's logo for its public pages (the same picture its letters carry).
pub async fn logo(State(state): State<WebState>, Path(insee): Path<String>) -> Response {
    let result = async {
        let commune = commune_of(&state, &insee).await?;
        let settings = state.app.store().commune_settings(commune.id).await?;
        let (Some(sha), Some(media_type)) = (settings.logo_sha256, settings.logo_type) else {
            return Err(PublicError::NotFound);
        };
        let bytes = state.app.read_file(commune.id, &sha).await?;
        // The address changes with the picture (?v=hash): keep it a year.
        Ok::<_, PublicError>(super::logo_response(
            bytes,
            &media_type,
            "public, max-age=31536000, immutable",
        ))
    }
    .await;
    result.into_response()
}

/// The commune of a public address: only communes of this installation.
async fn commune_of(state: &WebState, insee: &str) -> Result<Commune, PublicError> {
    if insee.len() != 5 || !insee.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PublicError::NotFound);
    }
    state
        .app
        .store()
        .commune_by_insee(insee)
        .await?
        .ok_or(PublicError::NotFound)
}

/// An active form of the commune, or not found.
async fn active_form(
    state: &WebState,
    commune: &Commune,
    code: &str,
) -> Result<PublicForm, PublicError> {
    let public = state.app.request_form(commune, code).await?;
    if public.row.active {
        Ok(public)
    } else {
        Err(PublicError::NotFound)
    }
}

/// "12 mars 2026 à 14 h 05", in the commune's time.
fn local_moment(instant: DateTime<Utc>, commune: &Commune) -> String {
    let local = (instant
        + chrono::Duration::minutes(utc_offset_minutes(instant, &commune.departement)))
    .naive_utc();
    format!(
        "{} à {}",
        french::long_date(local.date()),
        french::time_of_day(local.time())
    )
}

/// A message of the use cases ("le fichier … est refusé") as the start of a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Marks a response private: no referrer leaves it, no search engine keeps it.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    response
}

/// The "too many requests" answer, with the other ways to reach the mairie.
fn too_many(wait: Duration, mairie: Option<&Mairie>) -> Response {
    let message = format!(
        "Trop de demandes depuis votre connexion : réessayez dans {}, ou contactez la mairie.",
        wait_text(wait)
    );
    let mut response = message_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Trop de demandes",
        &message,
        mairie,
    );
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

// ---------------------------------------------------------------------------------------
// The commune's page
// ---------------------------------------------------------------------------------------

/// GET /demarches/{insee}: the commune's online procedures.
pub async fn commune(
    State(state): State<WebState>,
    Path(insee): Path<String>,
) -> Result<Response, PublicError> {
    let commune = commune_of(&state, &insee).await?;
    let mairie = mairie(&state, &commune).await?;
    let forms: Vec<_> = state
        .app
        .public_forms(&commune)
        .await?
        .into_iter()
        .map(|f| {
            ctx! {
                url => format!("/demarches/{}/{}", commune.insee, f.form.code),
                title => f.form.title,
                intro => f.form.intro,
            }
        })
        .collect();
    let title = "Démarches en ligne";
    Ok(Html(templates::render(
        "public_forms.html",
        ctx! { title, mairie, forms, style_url => assets::style_url() },
    )?)
    .into_response())
}

// ---------------------------------------------------------------------------------------
// A form
// ---------------------------------------------------------------------------------------

/// One field as the form template draws it.
#[derive(Debug, Clone, Serialize)]
struct FieldView {
    key: String,
    /// The element's id (`champ-{key}`), which the error summary links to.
    id: String,
    label: String,
    /// `text`, `email`, `tel`, `date`, `textarea`, `select`, `radio` or `file`.
    kind: &'static str,
    options: Vec<String>,
    /// The `required` attribute (the browser checks it too).
    required: bool,
    /// "(obligatoire)" after the label.
    required_note: bool,
    help: Option<String>,
    value: String,
    error: Option<String>,
    /// Space-separated ids of the help and the error, for `aria-describedby`.
    describedby: String,
    autocomplete: Option<&'static str>,
    inputmode: Option<&'static str>,
}

impl FieldView {
    #[allow(clippy::too_many_arguments)]
    fn new(
        key: &str,
        label: &str,
        kind: &'static str,
        required: bool,
        required_note: bool,
        help: Option<String>,
        values: &BTreeMap<String, String>,
        errors: &[FieldError],
    ) -> Self {
        let error = {
            let mine: Vec<&str> = errors
                .iter()
                .filter(|e| e.key == key)
                .map(|e| e.message_fr.as_str())
                .collect();
            (!mine.is_empty()).then(|| mine.join(" "))
        };
        let describedby = [
            help.as_ref().map(|_| format!("aide-{key}")),
            error.as_ref().map(|_| format!("erreur-{key}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        FieldView {
            key: key.to_owned(),
            id: format!("champ-{key}"),
            label: label.trim().to_owned(),
            kind,
            options: Vec::new(),
            required,
            required_note,
            help,
            value: values.get(key).cloned().unwrap_or_default(),
            error,
            describedby,
            autocomplete: None,
            inputmode: None,
        }
    }

    fn autocomplete(mut self, token: &'static str) -> Self {
        self.autocomplete = Some(token);
        self
    }

    fn inputmode(mut self, mode: &'static str) -> Self {
        self.inputmode = Some(mode);
        self
    }
}

/// The identity block of R112-9-1, under the keys `validate_submission` reads.
fn identity_fields(values: &BTreeMap<String, String>, errors: &[FieldError]) -> Vec<FieldView> {
    let f = |key, label, kind, required, note, help: Option<&str>| {
        FieldView::new(
            key,
            label,
            kind,
            required,
            note,
            help.map(str::to_owned),
            values,
            errors,
        )
    };
    let mut civility = f("civilite", "Civilité", "select", false, false, None);
    civility.options = CIVILITIES.iter().map(|c| (*c).to_owned()).collect();
    vec![
        civility.autocomplete("honorific-prefix"),
        f("prenom", "Prénom", "text", false, true, None).autocomplete("given-name"),
        f("nom", "Nom", "text", true, true, None).autocomplete("family-name"),
        f(
            "adresse",
            "Adresse",
            "textarea",
            false,
            true,
            Some("Numéro, rue, complément."),
        )
        .autocomplete("street-address"),
        f("code_postal", "Code postal", "text", false, true, None)
            .autocomplete("postal-code")
            .inputmode("numeric"),
        f("ville", "Commune", "text", false, true, None).autocomplete("address-level2"),
        f(
            "courriel",
            "Adresse électronique",
            "email",
            true,
            true,
            Some("Les accusés et la réponse de la mairie vous y sont envoyés."),
        )
        .autocomplete("email"),
        f("telephone", "Téléphone", "tel", false, false, None).autocomplete("tel"),
        f(
            "siret",
            "SIRET",
            "text",
            false,
            false,
            Some("Si vous écrivez pour une entreprise ou une association : ses 14 chiffres."),
        )
        .inputmode("numeric"),
    ]
}

/// The form's own fields, by kind.
fn own_fields(
    public: &PublicForm,
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
    files_lost: bool,
) -> Vec<FieldView> {
    public
        .form
        .fields
        .iter()
        .map(|field| {
            let mut help = field.help.clone().filter(|h| !h.trim().is_empty());
            let kind = match &field.kind {
                FieldKind::Text => "text",
                FieldKind::LongText => "textarea",
                FieldKind::Date => "date",
                FieldKind::File => {
                    if files_lost {
                        let again = "Joignez à nouveau vos fichiers : ils ne sont pas conservés.";
                        help = Some(match help {
                            Some(h) => format!("{h} {again}"),
                            None => again.to_owned(),
                        });
                    }
                    "file"
                }
                // A few short choices read best as radio buttons, more in a list.
                FieldKind::Choice { options } if options.len() <= 4 => "radio",
                FieldKind::Choice { .. } => "select",
            };
            let mut view = FieldView::new(
                &field.key,
                &field.label,
                kind,
                field.required,
                field.required,
                help,
                values,
                errors,
            );
            if let FieldKind::Choice { options } = &field.kind {
                view.options = options.iter().map(|o| o.trim().to_owned()).collect();
            }
            if kind == "file" {
                view.value.clear();
            }
            view
        })
        .collect()
}

/// Everything the form page needs beyond the form itself.
#[derive(Default)]
struct FormState {
    values: BTreeMap<String, String>,
    errors: Vec<FieldError>,
    /// A message for the whole form (anti-robot check, refused file).
    problem: Option<String>,
    /// Files were sent and are not kept: ask for them again.
    files_lost: bool,
}

async fn form_page(
    state: &WebState,
    commune: &Commune,
    public: &PublicForm,
    status: StatusCode,
    fs: FormState,
    now: DateTime<Utc>,
) -> Result<Response, PublicError> {
    let mairie = mairie(state, commune).await?;
    let challenge = issue_challenge(state, now)?;
    let identity = identity_fields(&fs.values, &fs.errors);
    let fields = own_fields(public, &fs.values, &fs.errors, fs.files_lost);
    let consent_error: Option<String> = fs
        .errors
        .iter()
        .find(|e| e.key == CONSENT_KEY)
        .map(|e| e.message_fr.clone());
    let consent_checked = matches!(
        fs.values.get(CONSENT_KEY).map(|v| v.trim().to_lowercase()),
        Some(v) if v == "oui" || v == "on"
    );
    // The summary: each error, linked to its field (by label), in the page's order.
    let labels: Vec<(String, String)> = identity
        .iter()
        .chain(fields.iter())
        .map(|f| (f.key.clone(), f.label.clone()))
        .chain([(CONSENT_KEY.to_owned(), "Consentement".to_owned())])
        .collect();
    let mut summary = Vec::new();
    for (key, label) in &labels {
        for e in fs.errors.iter().filter(|e| &e.key == key) {
            summary.push(ctx! {
                href => format!("#champ-{key}"), label, message => e.message_fr,
            });
        }
    }
    for e in fs
        .errors
        .iter()
        .filter(|e| !labels.iter().any(|(k, _)| *k == e.key))
    {
        summary.push(ctx! { href => "#formulaire", label => e.key, message => e.message_fr });
    }
    let has_errors = !summary.is_empty() || fs.problem.is_some();
    let title = if has_errors {
        format!("Erreur — {}", public.form.title)
    } else {
        public.form.title.clone()
    };
    let html = templates::render(
        "public_form.html",
        ctx! {
            title, mairie, challenge, identity, fields, summary, has_errors,
            form_title => public.form.title,
            intro => public.form.intro,
            action => format!("/demarches/{}/{}", commune.insee, public.form.code),
            consent => public.form.consent,
            consent_checked, consent_error,
            problem => fs.problem,
            files_lost => fs.files_lost,
            accept => ACCEPT,
            honeypot => HONEYPOT,
            challenge_name => CHALLENGE,
            solution_name => SOLUTION,
            style_url => assets::style_url(),
            demande_url => assets::demande_url(),
        },
    )?;
    Ok((status, Html(html)).into_response())
}

/// GET /demarches/{insee}/{code}: the form, with a fresh challenge.
pub async fn form(
    State(state): State<WebState>,
    Path((insee, code)): Path<(String, String)>,
) -> Result<Response, PublicError> {
    let commune = commune_of(&state, &insee).await?;
    let public = active_form(&state, &commune, &code).await?;
    form_page(
        &state,
        &commune,
        &public,
        StatusCode::OK,
        FormState::default(),
        Utc::now(),
    )
    .await
}

/// What a submission carried.
#[derive(Default)]
struct Posted {
    values: BTreeMap<String, String>,
    uploads: Vec<Upload>,
    honeypot: bool,
    challenge: String,
    solution: String,
}

/// The refusal of a body that cannot be read whole.
fn unreadable(e: &axum::extract::multipart::MultipartError) -> PublicError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PublicError::BadRequest(format!(
            "Votre envoi dépasse {} Mo en tout : joignez des fichiers moins lourds (20 Mo au plus chacun).",
            MAX_BODY_BYTES / (1024 * 1024)
        ))
    } else {
        PublicError::BadRequest("Votre envoi a été interrompu ou est illisible : réessayez.".into())
    }
}

/// Reads a submission: the known text fields, the files of the form's file fields (at
/// most [`MAX_UPLOADS`]), the honeypot and the proof of work. Anything else is dropped.
async fn read_submission(
    mut multipart: Multipart,
    public: &PublicForm,
) -> Result<Posted, PublicError> {
    let mut posted = Posted::default();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(PublicError::BadRequest(
                "Formulaire illisible : trop de champs.".into(),
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let is_file_field = public
            .form
            .fields
            .iter()
            .any(|f| f.key == name && f.kind == FieldKind::File);
        if is_file_field {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
            if filename.is_empty() && bytes.is_empty() {
                continue; // a file input left empty
            }
            if posted.uploads.len() >= MAX_UPLOADS {
                return Err(PublicError::BadRequest(format!(
                    "Au plus {MAX_UPLOADS} fichiers par demande : retirez-en et envoyez à nouveau."
                )));
            }
            posted.uploads.push(Upload {
                field: name,
                filename,
                bytes: bytes.to_vec(),
            });
            continue;
        }
        let known = IDENTITY_KEYS.contains(&name.as_str())
            || name == CONSENT_KEY
            || name == HONEYPOT
            || name == CHALLENGE
            || name == SOLUTION
            || public.form.fields.iter().any(|f| f.key == name);
        if !known || field.file_name().is_some() {
            continue;
        }
        let value = field.text().await.map_err(|e| unreadable(&e))?;
        match name.as_str() {
            HONEYPOT => posted.honeypot |= !value.trim().is_empty(),
            CHALLENGE => posted.challenge = value.trim().to_owned(),
            SOLUTION => posted.solution = value.trim().to_owned(),
            _ => {
                posted.values.insert(name, value);
            }
        }
    }
    Ok(posted)
}

/// Files whose bytes are neither a PDF nor an image, as errors of their fields.
fn refused_files(uploads: &[Upload]) -> Vec<FieldError> {
    uploads
        .iter()
        .filter(|u| dropfolder::sniff(&u.bytes).is_none())
        .map(|u| FieldError {
            key: u.field.clone(),
            message_fr: format!(
                "Le fichier « {} » n'est ni un PDF ni une image (JPEG, PNG, TIFF) : son contenu ne correspond pas. Joignez un autre fichier.",
                u.filename
            ),
        })
        .collect()
}

/// POST /demarches/{insee}/{code}: checks, in order, the rate limit, the honeypot and the
/// proof of work, then registers the request and answers with the confirmation.
pub async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Path((insee, code)): Path<(String, String)>,
    multipart: Multipart,
) -> Result<Response, PublicError> {
    if let Err(wait) = state.public_limiter.hit(Bucket::Submit, ip, Instant::now()) {
        let mairie = match commune_of(&state, &insee).await {
            Ok(c) => mairie(&state, &c).await.ok(),
            Err(_) => None,
        };
        return Ok(too_many(wait, mairie.as_ref()));
    }
    let now = Utc::now();
    let commune = commune_of(&state, &insee).await?;
    let public = active_form(&state, &commune, &code).await?;
    let posted = read_submission(multipart, &public).await?;
    if posted.honeypot {
        tracing::info!(%insee, %code, "public form: honeypot filled, nothing registered");
        return Err(PublicError::BadRequest(
            "Votre demande n'a pas pu être enregistrée. Si vous êtes une personne, écrivez ou téléphonez à la mairie."
                .into(),
        ));
    }
    let files_lost = !posted.uploads.is_empty();
    let refuse = |problem: String, values: BTreeMap<String, String>| FormState {
        values,
        errors: Vec::new(),
        problem: Some(problem),
        files_lost,
    };
    match check_pow(&state, &posted.challenge, &posted.solution, now).await? {
        Ok(()) => {}
        Err(refusal) => {
            let problem = match refusal {
                PowRefusal::NoScript => no_script_message(&mairie(&state, &commune).await?),
                PowRefusal::Invalid(pow::PowError::Expired) => "La vérification anti-robot a expiré : le formulaire est resté ouvert plus d'une heure. Vérifiez vos réponses, puis envoyez à nouveau.".to_owned(),
                PowRefusal::Invalid(e) => {
                    tracing::info!(%insee, %code, error = %e, "public form: proof of work refused");
                    "La vérification anti-robot a échoué. Vérifiez vos réponses, puis envoyez à nouveau.".to_owned()
                }
                PowRefusal::Replayed => "Ce formulaire a déjà été envoyé une fois. Si vous n'avez pas reçu de numéro d'enregistrement, vérifiez vos réponses et envoyez-le à nouveau.".to_owned(),
            };
            let fs = refuse(problem, posted.values);
            return form_page(&state, &commune, &public, StatusCode::BAD_REQUEST, fs, now).await;
        }
    }
    // Files that are not what they claim, with the form's own checks, all at once.
    let refused = refused_files(&posted.uploads);
    if !refused.is_empty() {
        let submitted: Vec<SubmittedFile> = posted
            .uploads
            .iter()
            .map(|u| SubmittedFile {
                key: u.field.clone(),
                name: u.filename.clone(),
                size: u.bytes.len() as u64,
            })
            .collect();
        let today = local_date(now, &commune.departement);
        let mut errors =
            request_form::validate_submission(&public.form, &posted.values, &submitted, today)
                .err()
                .unwrap_or_default();
        errors.extend(refused);
        let fs = FormState {
            values: posted.values,
            errors,
            problem: None,
            files_lost,
        };
        return form_page(&state, &commune, &public, StatusCode::BAD_REQUEST, fs, now).await;
    }
    let email = posted
        .values
        .get("courriel")
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    match state
        .app
        .submit_request(&commune, &code, &posted.values, posted.uploads, now)
        .await
    {
        Ok(submitted) => {
            let mairie = mairie(&state, &commune).await?;
            let receipt = match &public.form.doctype_code {
                Some(dt) => state
                    .app
                    .store()
                    .doctype(commune.id, dt)
                    .await?
                    .is_some_and(|d| !d.no_acknowledgement),
                None => false,
            };
            let item = submitted.item;
            let html = templates::render(
                "public_done.html",
                ctx! {
                    title => format!("Demande enregistrée — {}", public.form.title),
                    mairie, email, receipt,
                    form_title => public.form.title,
                    chrono => item.chrono,
                    registered => local_moment(item.registered_at, &commune),
                    tracking_url => submitted.tracking_url,
                    style_url => assets::style_url(),
                },
            )?;
            Ok(private(Html(html).into_response()))
        }
        Err(SubmitError::Fields(errors)) => {
            let fs = FormState {
                values: posted.values,
                errors,
                problem: None,
                files_lost,
            };
            form_page(&state, &commune, &public, StatusCode::OK, fs, now).await
        }
        Err(SubmitError::App(AppError::Invalid(message))) => {
            let fs = refuse(format!("{}.", sentence(&message)), posted.values);
            form_page(&state, &commune, &public, StatusCode::BAD_REQUEST, fs, now).await
        }
        Err(SubmitError::App(e)) => Err(e.into()),
    }
}

/// What someone without JavaScript reads: why, and the other ways to write.
fn no_script_message(mairie: &Mairie) -> String {
    let mut ways = Vec::new();
    if let Some(phone) = &mairie.phone {
        ways.push(format!("par téléphone au {phone}"));
    }
    if let Some(email) = &mairie.email {
        ways.push(format!("par courriel à {email}"));
    }
    if let Some(address) = &mairie.address {
        ways.push(format!(
            "par courrier à l'adresse : {}",
            address
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let others = if ways.is_empty() {
        "ou adressez-vous à la mairie".to_owned()
    } else {
        format!("ou adressez-vous à la mairie {}", ways.join(", "))
    };
    format!(
        "La vérification anti-robot de ce formulaire a besoin de JavaScript, qui semble désactivé dans votre navigateur : activez-le et envoyez à nouveau, {others}."
    )
}

// ---------------------------------------------------------------------------------------
// Tracking
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct TrackingQuery {
    #[serde(default)]
    envoye: Option<String>,
}

fn readable_size(bytes: i64) -> String {
    let bytes = bytes.max(0) as f64;
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} Mo", bytes / (1024.0 * 1024.0)).replace('.', ",")
    } else {
        format!("{} Ko", (bytes / 1024.0).ceil().max(1.0))
    }
}

async fn tracking_page(
    state: &WebState,
    token: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
    message: &str,
) -> Result<Response, PublicError> {
    let view = state.app.tracking(token).await?;
    let commune = &view.commune;
    let mairie = mairie(state, commune).await?;
    let item = &view.item;
    let file_url = |id: uuid::Uuid| format!("/suivi/{token}/fichier/{id}");
    let files: Vec<_> = view
        .attachments
        .iter()
        .map(|a| {
            ctx! {
                url => file_url(a.id), name => a.filename, size => readable_size(a.size),
            }
        })
        .collect();
    let messages: Vec<_> = view
        .messages
        .iter()
        .map(|m| {
            let mine: Vec<_> = view
                .attachments
                .iter()
                .filter(|a| m.attachment_ids.contains(&a.id) || m.reply_item_id == Some(a.item_id))
                .map(|a| ctx! { url => file_url(a.id), name => a.filename })
                .collect();
            ctx! {
                date => local_moment(m.created_at, commune),
                subject => m.subject,
                body => m.body,
                from_citizen => m.from_citizen,
                files => mine,
            }
        })
        .collect();
    let missing: Vec<String> = if item.status == Status::AwaitingDocuments {
        item.missing_documents.clone()
    } else {
        Vec::new()
    };
    let open = item.status.is_open() || item.status == Status::ReplySent;
    let html = templates::render(
        "public_tracking.html",
        ctx! {
            title => format!("Suivi de la demande {}", item.chrono),
            mairie, files, messages, missing, open, notice, error, message,
            chrono => item.chrono,
            subject => item.subject,
            received => french::long_date(item.arrival_date),
            status_label => item.status.label_fr(),
            service => view.service_name,
            ar_url => item.acknowledged_at.map(|_| format!("/suivi/{token}/accuse.pdf")),
            action => format!("/suivi/{token}"),
            accept => ACCEPT,
            max_files => MAX_UPLOADS,
            style_url => assets::style_url(),
        },
    )?;
    Ok((status, Html(html)).into_response())
}

/// GET /suivi/{token}: what the citizen may see of the request, and a form to answer.
pub async fn tracking(
    State(state): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<TrackingQuery>,
) -> Response {
    let notice = q
        .envoye
        .is_some()
        .then_some("Votre message est envoyé à la mairie. Il apparaît ci-dessous.");
    private(
        tracking_page(&state, &token, StatusCode::OK, notice, None, "")
            .await
            .into_response(),
    )
}

/// POST /suivi/{token}: the citizen's message and documents join the request.
pub async fn answer(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    multipart: Multipart,
) -> Response {
    private(
        answer_inner(state, ip, token, multipart)
            .await
            .into_response(),
    )
}

async fn answer_inner(
    state: WebState,
    ip: Option<IpAddr>,
    token: String,
    mut multipart: Multipart,
) -> Result<Response, PublicError> {
    if let Err(wait) = state.public_limiter.hit(Bucket::Answer, ip, Instant::now()) {
        let mairie = match state.app.tracking(&token).await {
            Ok(view) => mairie(&state, &view.commune).await.ok(),
            Err(_) => None,
        };
        return Ok(too_many(wait, mairie.as_ref()));
    }
    // An unknown token is not found before anything is read.
    state.app.tracking(&token).await?;
    let mut text = String::new();
    let mut uploads = Vec::new();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(PublicError::BadRequest(
                "Formulaire illisible : trop de champs.".into(),
            ));
        }
        match field.name().unwrap_or_default() {
            "message" => text = field.text().await.map_err(|e| unreadable(&e))?,
            "fichiers" => {
                let filename = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
                if filename.is_empty() && bytes.is_empty() {
                    continue;
                }
                if uploads.len() >= MAX_UPLOADS {
                    return tracking_page(
                        &state,
                        &token,
                        StatusCode::BAD_REQUEST,
                        None,
                        Some(format!(
                            "Au plus {MAX_UPLOADS} fichiers par envoi : joignez à nouveau vos fichiers, en moins grand nombre."
                        )),
                        &text,
                    )
                    .await;
                }
                uploads.push(Upload {
                    field: String::new(),
                    filename,
                    bytes: bytes.to_vec(),
                });
            }
            _ => {}
        }
    }
    let had_files = !uploads.is_empty();
    match state
        .app
        .citizen_answer(&token, &text, uploads, Utc::now())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/suivi/{token}?envoye=1")).into_response()),
        Err(AppError::Invalid(message)) => {
            let mut m = sentence(&message);
            if had_files {
                m.push_str(" : joignez à nouveau vos fichiers");
            }
            tracking_page(
                &state,
                &token,
                StatusCode::BAD_REQUEST,
                None,
                Some(format!("{m}.")),
                &text,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// GET /suivi/{token}/fichier/{id}: a document of the thread, always downloaded.
pub async fn tracking_file(
    State(state): State<WebState>,
    Path((token, id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let id = uuid::Uuid::parse_str(&id).map_err(|_| PublicError::NotFound)?;
        let (attachment, bytes) = state.app.tracking_file(&token, id).await?;
        Ok::<_, PublicError>(download(
            bytes,
            &attachment.filename,
            &attachment.media_type,
        ))
    }
    .await;
    private(result.into_response())
}

/// GET /suivi/{token}/accuse.pdf: the accusé de réception, as a PDF letter.
pub async fn tracking_acknowledgement(
    State(state): State<WebState>,
    Path(token): Path<String>,
) -> Response {
    let result = async {
        let (chrono, pdf) = state
            .app
            .tracking_acknowledgement(&token, chrono::Utc::now())
            .await?;
        Ok::<_, PublicError>(download(
            pdf,
            &format!("accuse-de-reception-{chrono}.pdf"),
            "application/pdf",
        ))
    }
    .await;
    private(result.into_response())
}

/// A file as a download: its type, never sniffed, never run, never shown in the page.
fn download(bytes: Vec<u8>, filename: &str, media_type: &str) -> Response {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn five_per_ten_minutes_then_twenty_a_day() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.hit(Bucket::Submit, ip("192.0.2.1"), t0).is_ok());
        }
        let wait = limiter
            .hit(Bucket::Submit, ip("192.0.2.1"), t0)
            .unwrap_err();
        assert_eq!(wait, WINDOW);
        // Another address, and another bucket, are unaffected.
        assert!(limiter.hit(Bucket::Submit, ip("192.0.2.2"), t0).is_ok());
        assert!(limiter.hit(Bucket::Answer, ip("192.0.2.1"), t0).is_ok());
        // Ten minutes later, five more; after four such windows the day is full.
        let mut t = t0;
        for _ in 0..3 {
            t += WINDOW;
            for _ in 0..5 {
                assert!(limiter.hit(Bucket::Submit, ip("192.0.2.1"), t).is_ok());
            }
        }
        t += WINDOW;
        let wait = limiter.hit(Bucket::Submit, ip("192.0.2.1"), t).unwrap_err();
        assert_eq!(wait, DAY - 4 * WINDOW);
        assert!(
            limiter
                .hit(Bucket::Submit, ip("192.0.2.1"), t0 + DAY)
                .is_ok()
        );
    }

    #[test]
    fn ipv6_is_limited_by_its_64() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            let addr = ip(&format!("2001:db8:1:2::{i}"));
            assert!(limiter.hit(Bucket::Submit, addr, t0).is_ok());
        }
        assert!(
            limiter
                .hit(Bucket::Submit, ip("2001:db8:1:2::99"), t0)
                .is_err()
        );
        assert!(
            limiter
                .hit(Bucket::Submit, ip("2001:db8:1:3::1"), t0)
                .is_ok()
        );
    }

    #[test]
    fn the_map_stays_bounded() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = limiter.hit(
                Bucket::Submit,
                Some(addr),
                t0 + Duration::from_millis(i.into()),
            );
        }
        assert!(limiter.tracked() <= MAX_TRACKED);
        // A day later everything old is forgotten on the next prune.
        let late = t0 + DAY + Duration::from_secs(3600);
        let mut map = limiter.hits.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut map, late);
        assert!(map.is_empty());
    }

    #[test]
    fn the_identity_block_has_every_reserved_key() {
        let keys: Vec<String> = identity_fields(&BTreeMap::new(), &[])
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(keys, IDENTITY_KEYS);
    }

    #[test]
    fn waits_read_in_french() {
        assert_eq!(wait_text(Duration::from_secs(1)), "1 minute");
        assert_eq!(wait_text(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_text(Duration::from_secs(5 * 3600)), "5 heures");
    }
}
