//! The web application, served by the same binary: server-rendered French HTML that works
//! without JavaScript, over the use cases of `parapheur-app`.
//!
//! Handlers extract the request, check who may act (the `Me` extractor, the CSRF token, the
//! role), call the use cases of `app` for every change, and render a template. Pages live in
//! `pages/`, one file or folder per feature as in `app`; some reads still query
//! `app.store()` directly, until each has a use case of its own. Every query names the commune of the
//! logged-in person, so another commune's ids are simply "not found". Security headers are
//! set once for every response: a strict Content-Security-Policy (no inline script or
//! style), no framing by other sites, no MIME sniffing.

#[macro_use]
mod templates;
mod assets;
mod cache;
mod download;
mod error;
mod pages;
mod request_id;
mod session;
mod views;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use parapheur_app::App;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::WebError;

/// Uploads larger than this are refused before they are read (a scan is far smaller).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The largest body of the login and password forms.
pub const SMALL_FORM_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct WebState {
    pub app: App,
    /// Mark cookies Secure: on when the public address is https.
    pub secure_cookies: bool,
    /// Reads of the busiest pages, valid while the commune's journal has not moved.
    cache: std::sync::Arc<cache::ReadCache>,
    /// Submissions and answers per client address on the citizens' pages.
    public_limiter: std::sync::Arc<pages::public::RateLimiter>,
}

/// Builds the router over an open register (printed documents are laid out where the
/// register's `App::layout` says).
pub fn router(app: App, secure_cookies: bool) -> Router {
    let state = WebState {
        app,
        secure_cookies,
        cache: Default::default(),
        public_limiter: Default::default(),
    };
    // blob: images are the previews of scans chosen for upload, made in the browser.
    let csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
               img-src 'self' blob:; frame-src 'self'; \
               form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    let headers = [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Pages hold personal data: never kept by shared caches or on disk. Assets and
        // documents set their own caching.
        (header::CACHE_CONTROL, "no-store"),
    ];
    let mut router = Router::new()
        .route("/", get(pages::home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/{name}", get(assets::serve))
        // The login and password forms are a few fields: a big body is refused before it
        // is read (they answer to anyone, without a session).
        .route(
            "/connexion",
            get(pages::auth::login_form)
                .post(pages::auth::login)
                .layer(DefaultBodyLimit::max(SMALL_FORM_BYTES)),
        )
        .route("/deconnexion", post(pages::auth::logout))
        .route(
            "/mot-de-passe",
            get(pages::auth::password_form)
                .post(pages::auth::change_password)
                .layer(DefaultBodyLimit::max(SMALL_FORM_BYTES)),
        )
        .route(
            "/mot-de-passe-oublie",
            get(pages::auth::forgot_form)
                .post(pages::auth::forgot)
                .layer(DefaultBodyLimit::max(SMALL_FORM_BYTES)),
        )
        .route(
            "/mot-de-passe-oublie/nouveau",
            get(pages::auth::reset_form)
                .post(pages::auth::reset)
                .layer(DefaultBodyLimit::max(SMALL_FORM_BYTES)),
        )
        .route("/double-authentification", get(pages::auth::second_factor))
        .route(
            "/double-authentification/activer",
            post(pages::auth::begin_second_factor),
        )
        .route(
            "/double-authentification/confirmer",
            post(pages::auth::confirm_second_factor),
        )
        .route("/a-traiter", get(pages::inbox::inbox))
        .route("/registre", get(pages::register::register))
        .route("/recherche", get(pages::search::search))
        .route("/courriels", get(pages::capture::list))
        .route("/courriels/{id}/reessayer", post(pages::capture::retry))
        .route("/courriels/{id}/original", get(pages::capture::original))
        .route("/courriels/{id}/apercu", get(pages::capture::preview))
        .route(
            "/administration/boites",
            get(pages::capture::mailboxes).post(pages::capture::add_mailbox),
        )
        .route(
            "/administration/boites/{id}",
            get(pages::capture::mailbox).post(pages::capture::update_mailbox),
        )
        .route(
            "/administration/boites/{id}/relever",
            post(pages::capture::poll_now),
        )
        .route("/contacts", get(pages::contacts::list))
        .route("/contacts/suggestions", get(pages::contacts::suggestions))
        .route("/contacts/{id}", get(pages::contacts::show))
        .route("/contacts/{id}/fusionner", post(pages::contacts::merge))
        .route("/tableau-de-bord", get(pages::dashboard::dashboard))
        .route("/elu", get(pages::dashboard::awaiting))
        .route("/registre.csv", get(pages::register::register_csv))
        .route("/registre.pdf", get(pages::register::register_pdf))
        .route(
            "/courrier/nouveau",
            get(pages::letter::form).post(pages::letter::submit),
        )
        .route(
            "/appel/nouveau",
            get(pages::call::form).post(pages::call::submit),
        )
        // Writing to the sender: acknowledgements and replies.
        .route(
            "/courrier/{id}/accuse",
            post(pages::correspondence::acknowledge),
        )
        .route(
            "/courrier/{id}/accuse.pdf",
            get(pages::correspondence::acknowledgement_pdf),
        )
        .route(
            "/courrier/{id}/accuse/imprimer",
            post(pages::correspondence::print_one),
        )
        .route(
            "/accuses",
            get(pages::correspondence::acknowledgements_page)
                .post(pages::correspondence::acknowledge_many),
        )
        .route("/accuses/imprimer", post(pages::correspondence::print_many))
        .route(
            "/courrier/{id}/repondre",
            get(pages::correspondence::reply_form).post(pages::correspondence::reply),
        )
        .route(
            "/administration/demarches",
            get(pages::citizens_admin::forms),
        )
        .route(
            "/administration/demarches/{code}",
            get(pages::citizens_admin::form).post(pages::citizens_admin::save_form),
        )
        .route(
            "/administration/modeles",
            get(pages::citizens_admin::reply_templates),
        )
        .route(
            "/administration/modeles/{code}",
            get(pages::citizens_admin::reply_template)
                .post(pages::citizens_admin::save_reply_template),
        )
        .route("/administration/envois", get(pages::citizens_admin::outbox))
        .route(
            "/administration/envois/{id}/renvoyer",
            post(pages::citizens_admin::retry_email),
        )
        .route("/parapheur", get(pages::parapheur::list))
        .route("/parapheur/signer", post(pages::parapheur::sign_selection))
        .route(
            "/parapheur/verifier",
            get(pages::parapheur::verify_form).post(pages::parapheur::verify_upload),
        )
        .route("/parapheur/{id}", get(pages::parapheur::show))
        .route("/parapheur/{id}/enregistrer", post(pages::parapheur::save))
        .route("/parapheur/{id}/circuit", post(pages::parapheur::start))
        .route("/parapheur/{id}/action", post(pages::parapheur::act))
        .route("/parapheur/{id}/envoyer", post(pages::parapheur::send))
        .route(
            "/parapheur/{id}/document.pdf",
            get(pages::parapheur::document),
        )
        .route(
            "/parapheur/{id}/bordereau.pdf",
            get(pages::parapheur::bordereau),
        )
        .route(
            "/parapheur/{id}/verification",
            get(pages::parapheur::verify_folder),
        )
        .route("/courrier/{id}/lettre", post(pages::parapheur::draft))
        .route("/administration/parapheur", get(pages::parapheur::admin))
        .route(
            "/administration/parapheur/circuits",
            post(pages::parapheur::save_circuit),
        )
        .route(
            "/administration/parapheur/delegations",
            post(pages::parapheur::add_delegation),
        )
        .route(
            "/administration/parapheur/delegations/{id}/revoquer",
            post(pages::parapheur::revoke_delegation),
        )
        .route(
            "/administration/parapheur/certificats/{id}",
            post(pages::parapheur::issue_key),
        )
        .route(
            "/administration/parapheur/import",
            post(pages::parapheur::import_key),
        )
        .route(
            "/administration/parapheur/autorite.pem",
            get(pages::parapheur::ca_certificate),
        )
        .route("/courrier/{id}", get(pages::item::show))
        .route("/courrier/{id}/statut", post(pages::item::change_status))
        .route("/courrier/{id}/affecter", post(pages::item::assign))
        .route("/courrier/{id}/note", post(pages::item::add_note))
        .route(
            "/courrier/{id}/pieces-demandees",
            post(pages::item::documents_requested),
        )
        .route(
            "/courrier/{id}/pieces-recues",
            post(pages::item::documents_received),
        )
        .route("/courrier/{id}/copie", post(pages::item::copy))
        .route("/courrier/{id}/lien", post(pages::item::link))
        .route(
            "/courrier/{id}/suggestion",
            post(pages::item::accept_suggestion),
        )
        .route("/courrier/{id}/fichier/{file}", get(pages::item::file))
        .route(
            "/courrier/{id}/fichier/{file}/texte",
            get(pages::item::searchable_pdf),
        )
        .route(
            "/administration",
            get(pages::admin::settings).post(pages::admin::save_settings),
        )
        .route("/administration/logo", get(pages::admin::logo))
        .route(
            "/administration/services",
            get(pages::admin::services).post(pages::admin::add_service),
        )
        .route(
            "/administration/services/{id}",
            get(pages::admin::service).post(pages::admin::update_service),
        )
        .route(
            "/administration/utilisateurs",
            get(pages::admin::users).post(pages::admin::invite_user),
        )
        .route(
            "/administration/utilisateurs/{id}",
            get(pages::admin::user).post(pages::admin::update_user),
        )
        .route(
            "/administration/utilisateurs/{id}/lien",
            post(pages::admin::new_link),
        )
        .route(
            "/administration/utilisateurs/{id}/double-authentification",
            post(pages::admin::reset_second_factor),
        )
        .route(
            "/administration/types",
            get(pages::admin::doctypes).post(pages::admin::add_doctype),
        )
        .route(
            "/administration/types/{code}",
            get(pages::admin::doctype).post(pages::admin::update_doctype),
        )
        .route(
            "/hebergement",
            get(pages::admin::host).post(pages::admin::create_commune),
        )
        // Citizens: public pages, no login
        .route("/demarches/{insee}", get(pages::public::commune))
        .route("/logo/{insee}", get(pages::public::logo))
        .route(
            "/demarches/{insee}/{code}",
            get(pages::public::form)
                .post(pages::public::submit)
                .layer(DefaultBodyLimit::max(pages::public::MAX_BODY_BYTES)),
        )
        .route(
            "/suivi/{token}",
            get(pages::public::tracking)
                .post(pages::public::answer)
                .layer(DefaultBodyLimit::max(pages::public::MAX_BODY_BYTES)),
        )
        .route(
            "/suivi/{token}/fichier/{id}",
            get(pages::public::tracking_file),
        )
        .route(
            "/suivi/{token}/accuse.pdf",
            get(pages::public::tracking_acknowledgement),
        )
        .fallback(|| async { WebError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::with_navigation,
        ))
        .layer(axum::middleware::from_fn(session::same_origin_posts))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        // Outermost of ours: every log line of a request, its errors included, carries its id.
        .layer(axum::middleware::from_fn(request_id::with_request_id))
        .with_state(state);
    for (name, value) in headers {
        // File responses set their own (stricter) policy; keep it.
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    // The fastest gzip level: pages are a few KB of repetitive HTML that compress well at
    // any level, and the CPU is better spent on requests.
    router.layer(
        tower_http::compression::CompressionLayer::new()
            .quality(tower_http::CompressionLevel::Fastest),
    )
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(app: App, listen: SocketAddr, secure_cookies: bool) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "serving");
    axum::serve(
        listener,
        router(app, secure_cookies).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
