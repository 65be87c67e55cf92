//! Every route of the web application, with who may call it, declared once: the router is
//! built from this table, and a guard placed on each route by it checks the person before
//! the handler runs, so no handler can forget. The security matrix test iterates the same
//! table.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::error::WebError;
use crate::session::{COOKIE, cookie};
use crate::{SMALL_FORM_BYTES, WebState, assets, pages};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone: the login pages, the citizens' pages, the assets.
    Public,
    /// Any active person of a commune (what they then see is their commune's, and of a
    /// confidential item only what the confidentiality rule lets them).
    Member,
    /// Those who register and process mail: agents and administrators.
    Registrar,
    /// The commune's archivists (retention, eliminations, transfers).
    Archivist,
    /// The commune's administrators.
    Admin,
    /// The installation's host administrators.
    Host,
}

/// One route of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

/// Declares the table ([`ROUTES`]) and the router built from it, from one list.
macro_rules! route_table {
    ($( $method:ident $path:literal $access:ident => $handler:expr $(, limit $limit:expr)? ; )*) => {
        /// Every route of the router and who may call it.
        pub const ROUTES: &[RouteInfo] = &[
            $( RouteInfo { method: method_name(stringify!($method)), path: $path, access: Access::$access }, )*
        ];

        /// The routes of [`ROUTES`], each behind the guard of its access.
        pub(crate) fn routes(state: &WebState) -> Router<WebState> {
            Router::new()
            $(
                .route(
                    $path,
                    guarded($method($handler) $( .layer(DefaultBodyLimit::max($limit)) )?, Access::$access, state),
                )
            )*
        }
    };
}

const fn method_name(method: &str) -> &'static str {
    match method.as_bytes() {
        b"get" => "GET",
        _ => "POST",
    }
}

route_table! {
    get "/" Public => pages::home;
    get "/healthz" Public => || async { "ok" };
    get "/sante" Public => pages::operations::health;
    get "/metrics" Public => pages::operations::metrics;
    get "/static/{name}" Public => assets::serve;
    get "/connexion" Public => pages::auth::login_form;
    post "/connexion" Public => pages::auth::login, limit SMALL_FORM_BYTES;
    get "/connexion/proconnect" Public => pages::auth::proconnect_start;
    get "/connexion/proconnect/retour" Public => pages::auth::proconnect_callback;
    post "/connexion/proconnect/suite" Public => pages::auth::proconnect_continue, limit SMALL_FORM_BYTES;
    post "/deconnexion" Public => pages::auth::logout;
    get "/mot-de-passe" Member => pages::auth::password_form;
    get "/aide" Member => pages::help::guide;
    get "/aide/ecrans/{screen}" Member => pages::help::screen;
    post "/mot-de-passe" Member => pages::auth::change_password, limit SMALL_FORM_BYTES;
    get "/mot-de-passe-oublie" Public => pages::auth::forgot_form;
    post "/mot-de-passe-oublie" Public => pages::auth::forgot, limit SMALL_FORM_BYTES;
    get "/mot-de-passe-oublie/nouveau" Public => pages::auth::reset_form;
    post "/mot-de-passe-oublie/nouveau" Public => pages::auth::reset, limit SMALL_FORM_BYTES;
    get "/double-authentification" Member => pages::auth::second_factor;
    post "/double-authentification/activer" Member => pages::auth::begin_second_factor;
    post "/double-authentification/confirmer" Member => pages::auth::confirm_second_factor;
    get "/a-traiter" Member => pages::inbox::inbox;
    get "/registre" Member => pages::register::register;
    get "/recherche" Member => pages::search::search;
    get "/courriels" Registrar => pages::capture::list;
    post "/courriels/{id}/reessayer" Registrar => pages::capture::retry;
    get "/courriels/{id}/original" Registrar => pages::capture::original;
    get "/courriels/{id}/apercu" Registrar => pages::capture::preview;
    get "/administration/boites" Admin => pages::capture::mailboxes;
    post "/administration/boites" Admin => pages::capture::add_mailbox;
    get "/administration/boites/{id}" Admin => pages::capture::mailbox;
    post "/administration/boites/{id}" Admin => pages::capture::update_mailbox;
    post "/administration/boites/{id}/relever" Admin => pages::capture::poll_now;
    get "/contacts" Member => pages::contacts::list;
    get "/contacts/suggestions" Member => pages::contacts::suggestions;
    get "/contacts/{id}" Member => pages::contacts::show;
    post "/contacts/{id}/fusionner" Registrar => pages::contacts::merge;
    post "/contacts/{id}/rectifier" Registrar => pages::contacts::rectify, limit SMALL_FORM_BYTES;
    post "/contacts/{id}/donnees" Admin => pages::contacts::export;
    post "/contacts/{id}/effacement" Admin => pages::contacts::erase;
    post "/contacts/{id}/limitation" Admin => pages::contacts::restrict;
    get "/tableau-de-bord" Member => pages::dashboard::dashboard;
    get "/elu" Member => pages::dashboard::awaiting;
    get "/registre.csv" Member => pages::register::register_csv;
    get "/registre.pdf" Member => pages::register::register_pdf;
    get "/courrier/nouveau" Registrar => pages::letter::form;
    post "/courrier/nouveau" Registrar => pages::letter::submit;
    post "/courrier/lecture" Registrar => pages::letter::read_scan;
    get "/courrier/separateurs.pdf" Registrar => pages::separators::separator_sheets;
    get "/appel/nouveau" Registrar => pages::call::form;
    post "/appel/nouveau" Registrar => pages::call::submit;
    get "/appels/flux" Member => pages::call::stream;
    post "/courrier/{id}/accuse" Registrar => pages::correspondence::acknowledge;
    get "/courrier/{id}/accuse.pdf" Registrar => pages::correspondence::acknowledgement_pdf;
    post "/courrier/{id}/accuse/imprimer" Registrar => pages::correspondence::print_one;
    get "/accuses" Registrar => pages::correspondence::acknowledgements_page;
    post "/accuses" Registrar => pages::correspondence::acknowledge_many;
    post "/accuses/imprimer" Registrar => pages::correspondence::print_many;
    get "/courrier/{id}/repondre" Registrar => pages::correspondence::reply_form;
    post "/courrier/{id}/repondre" Registrar => pages::correspondence::reply;
    get "/administration/demarches" Admin => pages::citizens_admin::forms;
    get "/administration/demarches/{code}" Admin => pages::citizens_admin::form;
    post "/administration/demarches/{code}" Admin => pages::citizens_admin::save_form;
    get "/administration/modeles" Admin => pages::citizens_admin::reply_templates;
    get "/administration/modeles/{code}" Admin => pages::citizens_admin::reply_template;
    post "/administration/modeles/{code}" Admin => pages::citizens_admin::save_reply_template;
    get "/administration/envois" Admin => pages::citizens_admin::outbox;
    post "/administration/envois/{id}/renvoyer" Admin => pages::citizens_admin::retry_email;
    get "/parapheur" Member => pages::parapheur::list;
    post "/parapheur/signer" Member => pages::parapheur::sign_selection;
    get "/parapheur/verifier" Member => pages::parapheur::verify_form;
    post "/parapheur/verifier" Member => pages::parapheur::verify_upload;
    get "/parapheur/{id}" Member => pages::parapheur::show;
    post "/parapheur/{id}/enregistrer" Registrar => pages::parapheur::save;
    post "/parapheur/{id}/circuit" Registrar => pages::parapheur::start;
    post "/parapheur/{id}/action" Member => pages::parapheur::act;
    post "/parapheur/{id}/annuler-signature" Member => pages::parapheur::undo_signature;
    post "/parapheur/{id}/envoyer" Registrar => pages::parapheur::send;
    get "/parapheur/{id}/document.pdf" Member => pages::parapheur::document;
    get "/parapheur/{id}/bordereau.pdf" Member => pages::parapheur::bordereau;
    get "/parapheur/{id}/verification" Member => pages::parapheur::verify_folder;
    post "/courrier/{id}/lettre" Registrar => pages::parapheur::draft;
    get "/administration/parapheur" Admin => pages::parapheur::admin;
    post "/administration/parapheur/circuits" Admin => pages::parapheur::save_circuit;
    post "/administration/parapheur/delegations" Admin => pages::parapheur::add_delegation;
    post "/administration/parapheur/delegations/{id}/revoquer" Admin => pages::parapheur::revoke_delegation;
    post "/administration/parapheur/certificats/{id}" Admin => pages::parapheur::issue_key;
    post "/administration/parapheur/import" Admin => pages::parapheur::import_key;
    get "/administration/parapheur/autorite.pem" Member => pages::parapheur::ca_certificate;
    get "/courrier/{id}" Member => pages::item::show;
    post "/courrier/{id}/statut" Registrar => pages::item::change_status;
    post "/courrier/{id}/affecter" Registrar => pages::item::assign;
    post "/courrier/{id}/note" Member => pages::item::add_note;
    post "/courrier/{id}/pieces-demandees" Registrar => pages::item::documents_requested;
    post "/courrier/{id}/pieces-recues" Registrar => pages::item::documents_received;
    post "/courrier/{id}/arrivee" Registrar => pages::item::correct_arrival;
    post "/courrier/{id}/transmettre" Registrar => pages::item::forward;
    post "/courrier/{id}/copie" Registrar => pages::item::copy;
    post "/courrier/{id}/lien" Registrar => pages::item::link;
    post "/courrier/{id}/suggestion" Registrar => pages::item::accept_suggestion;
    get "/courrier/{id}/fichier/{file}" Member => pages::item::file;
    get "/courrier/{id}/fichier/{file}/texte" Member => pages::item::searchable_pdf;
    get "/courrier/{id}/fichier/{file}/signatures" Member => pages::item::file_signatures;
    get "/administration" Admin => pages::admin::settings;
    post "/administration" Admin => pages::admin::save_settings;
    get "/administration/logo" Member => pages::admin::logo;
    get "/administration/services" Admin => pages::admin::services;
    post "/administration/services" Admin => pages::admin::add_service;
    get "/administration/services/{id}" Admin => pages::admin::service;
    post "/administration/services/{id}" Admin => pages::admin::update_service;
    get "/administration/utilisateurs" Admin => pages::admin::users;
    post "/administration/utilisateurs" Admin => pages::admin::invite_user;
    get "/administration/utilisateurs/{id}" Admin => pages::admin::user;
    post "/administration/utilisateurs/{id}" Admin => pages::admin::update_user;
    post "/administration/utilisateurs/{id}/lien" Admin => pages::admin::new_link;
    post "/administration/utilisateurs/{id}/double-authentification" Admin => pages::admin::reset_second_factor;
    get "/administration/jetons" Admin => pages::admin::tokens;
    post "/administration/jetons" Admin => pages::admin::create_token, limit SMALL_FORM_BYTES;
    post "/administration/jetons/{id}/revoquer" Admin => pages::admin::revoke_token;
    get "/administration/webhooks" Admin => pages::admin::webhooks;
    post "/administration/webhooks" Admin => pages::admin::create_webhook, limit SMALL_FORM_BYTES;
    post "/administration/webhooks/{id}/etat" Admin => pages::admin::toggle_webhook;
    post "/administration/webhooks/{id}/supprimer" Admin => pages::admin::delete_webhook;
    post "/administration/webhooks/envois/{id}/renvoyer" Admin => pages::admin::redeliver_webhook;
    get "/administration/types" Admin => pages::admin::doctypes;
    get "/administration/registre-des-traitements" Admin => pages::admin::processing_record;
    post "/administration/types" Admin => pages::admin::add_doctype;
    get "/administration/types/{code}" Admin => pages::admin::doctype;
    post "/administration/types/{code}" Admin => pages::admin::update_doctype;
    get "/archives" Archivist => pages::archives::page;
    post "/archives/regles/{code}" Archivist => pages::archives::set_rule;
    post "/archives/gel/{id}" Archivist => pages::archives::hold;
    post "/archives/propositions" Archivist => pages::archives::propose;
    get "/archives/propositions/{id}/bordereau.pdf" Archivist => pages::archives::proposal_pdf;
    post "/archives/propositions/{id}/visa" Archivist => pages::archives::visa;
    post "/archives/propositions/{id}/eliminer" Archivist => pages::archives::eliminate;
    get "/archives/propositions/{id}/certificat.pdf" Archivist => pages::archives::certificate;
    post "/archives/versements" Archivist => pages::archives::transfer;
    get "/archives/versements/{id}/message.xml" Archivist => pages::archives::message;
    post "/archives/versements/{id}/reponse" Archivist => pages::archives::answer;
    get "/hebergement" Host => pages::admin::host;
    post "/hebergement" Host => pages::admin::create_commune;
    get "/hebergement/noeuds" Host => pages::operations::nodes;
    get "/demarches/{insee}" Public => pages::public::commune;
    get "/logo/{insee}" Public => pages::public::logo;
    get "/logo/{insee}/entete" Public => pages::public::header_logo;
    get "/accessibilite/{insee}" Public => pages::public::accessibility;
    get "/demarches/{insee}/{code}" Public => pages::public::form;
    post "/demarches/{insee}/{code}" Public => pages::public::submit, limit pages::public::MAX_BODY_BYTES;
    get "/suivi/{token}" Public => pages::public::tracking;
    post "/suivi/{token}" Public => pages::public::answer, limit pages::public::MAX_BODY_BYTES;
    get "/suivi/{token}/fichier/{id}" Public => pages::public::tracking_file;
    get "/suivi/{token}/accuse.pdf" Public => pages::public::tracking_acknowledgement;
}

fn guarded(
    route: MethodRouter<WebState>,
    access: Access,
    state: &WebState,
) -> MethodRouter<WebState> {
    if access == Access::Public {
        route
    } else {
        route.route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), access),
            guard,
        ))
    }
}

/// Lets the request through only for a person with `access`: anonymous is sent to the
/// login page, a person without the right gets "accès refusé". The person found is left
/// in the request for the handler's `Me`.
async fn guard(
    State((state, access)): State<(WebState, Access)>,
    mut request: Request,
    next: Next,
) -> Response {
    let next_path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let login = || {
        WebError::Login {
            next: next_path.clone(),
        }
        .into_response()
    };
    let Some(token) = cookie(request.headers(), COOKIE).map(str::to_owned) else {
        return login();
    };
    let who = match state.app.authenticate(&token, chrono::Utc::now()).await {
        Ok(Some(who)) => who,
        Ok(None) => return login(),
        Err(e) => return WebError::from(e).into_response(),
    };
    let user = &who.user;
    let refusal = match access {
        Access::Public | Access::Member => None,
        Access::Registrar => (!user.role.can_register())
            .then_some("votre rôle ne permet pas d'enregistrer ni de traiter le courrier"),
        Access::Archivist => (!user.role.may(parapheur_app::domain::Permission::Archive))
            .then_some("cette page est réservée à l'archiviste de la commune"),
        Access::Admin => (!user.role.can_administer())
            .then_some("cette page est réservée aux administrateurs de la commune"),
        Access::Host => (!user.host_admin)
            .then_some("cette page est réservée aux administrateurs de l'hébergement"),
    };
    if let Some(refusal) = refusal {
        return WebError::Forbidden(refusal.into()).into_response();
    }
    // The administration asks for the administrator's second factor: until they have
    // enrolled one, they are sent to do it.
    if matches!(access, Access::Admin | Access::Host) && state.app.admin_second_factor() {
        match state.app.has_second_factor(user.id).await {
            Ok(true) => {}
            Ok(false) => {
                return axum::response::Redirect::to("/double-authentification").into_response();
            }
            Err(e) => return WebError::from(e).into_response(),
        }
    }
    request.extensions_mut().insert(who);
    next.run(request).await
}
