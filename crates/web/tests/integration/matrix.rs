//! The security matrix: every route of the router, called anonymously, as each role of
//! commune A, and as each role of commune B with commune A's ids. What must be refused is
//! refused, a refusal writes nothing (commune A's journal does not grow), and no response
//! to commune B ever carries commune A's data.
//!
//! The routes come from the router's own table (`parapheur_web::routes::ROUTES`, which also
//! places each route's guard): the table below gives each of them the objects and bodies
//! to call it with, and a route without a line here fails the test. It runs on SQLite and
//! on PostgreSQL.

use std::collections::BTreeSet;

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use parapheur_app::administration::{LogoChange, SettingsForm};
use parapheur_app::capture::mailboxes::MailboxSettings;
use parapheur_app::capture::{CaptureOutcome, MessageSource};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Confidentiality, Role};
use parapheur_app::{Actor, Change, NewFile};
use parapheur_store::capture::FileText;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Login and password-reset pages: no session needed.
    Public,
    /// Any logged-in person of the commune.
    Everyone,
    /// Agents and administrators (register and process mail).
    Registrars,
    /// The commune's administrators.
    Admins,
    /// The commune's archivists.
    Archivists,
    /// Host administrators.
    Host,
    /// A confidential item: élus, administrators and the person in charge.
    Confidential,
}

/// What the ids in a route's path belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Commune A's object in the path: commune B gets 403 or 404.
    CommuneA,
    /// The caller's own commune (lists, forms): commune B sees its own, never A's.
    Own,
}

struct Route {
    method: &'static str,
    path: &'static str,
    access: Access,
    scope: Scope,
    /// Form body (urlencoded), or "multipart" for the upload forms.
    body: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    scope: Scope,
    body: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        scope,
        body,
    }
}

use Access::*;
use Scope::*;

const ROUTES: &[Route] = &[
    r("GET", "/", Public, Own, ""),
    r("GET", "/healthz", Public, Own, ""),
    r("GET", "/sante", Public, Own, ""),
    r("GET", "/metrics", Public, Own, ""),
    r("GET", "/static/{name}", Public, Own, ""),
    r("GET", "/connexion", Public, Own, ""),
    // Without a [proconnect] section: 404, and the last step without its cookie: refused.
    r("GET", "/connexion/proconnect", Public, Own, ""),
    r("GET", "/connexion/proconnect/retour", Public, Own, ""),
    r(
        "POST",
        "/connexion/proconnect/suite",
        Public,
        Own,
        "otp=123456",
    ),
    r("GET", "/mot-de-passe-oublie", Public, Own, ""),
    r("GET", "/mot-de-passe-oublie/nouveau", Public, Own, ""),
    r(
        "POST",
        "/mot-de-passe-oublie",
        Public,
        Own,
        "email=nobody%40x.test",
    ),
    // Citizens' pages, no login: commune B's (A's public address is on A's page by design;
    // nothing of A may appear on B's), with a form code and a tracking token that exist
    // nowhere.
    r("GET", "/demarches/{insee_b}", Public, Own, ""),
    r("GET", "/demarches/{insee_b}/{form}", Public, Own, ""),
    r(
        "POST",
        "/demarches/{insee_b}/{form}",
        Public,
        Own,
        "nom=Marqueur",
    ),
    r("GET", "/logo/{insee_b}", Public, Own, ""),
    r("GET", "/logo/{insee_b}/entete", Public, Own, ""),
    r("GET", "/accessibilite/{insee_b}", Public, Own, ""),
    r("GET", "/suivi/{token}", Public, Own, ""),
    r("POST", "/suivi/{token}", Public, Own, "message=Marqueur"),
    r("GET", "/suivi/{token}/fichier/{file}", Public, Own, ""),
    r("GET", "/suivi/{token}/accuse.pdf", Public, Own, ""),
    r("GET", "/a-traiter", Everyone, Own, ""),
    r("GET", "/registre", Everyone, Own, ""),
    r("GET", "/registre.csv", Everyone, Own, ""),
    r("GET", "/registre.pdf", Everyone, Own, ""),
    // Finds "Contact Marqueur" in A; the query itself (echoed in the page) is not the marker.
    r("GET", "/contacts?q=contact+m", Everyone, Own, ""),
    r("GET", "/contacts/suggestions?q=marq", Everyone, Own, ""),
    r("GET", "/contacts/{contact}", Everyone, CommuneA, ""),
    r(
        "POST",
        "/contacts/{contact}/fusionner",
        Registrars,
        CommuneA,
        "doublon={duplicate}",
    ),
    r(
        "POST",
        "/contacts/{contact}/rectifier",
        Registrars,
        CommuneA,
        "nom=Contact+Marqueur",
    ),
    r("POST", "/contacts/{contact}/donnees", Admins, CommuneA, ""),
    // The contact names a kept item: the erasure is refused (an answer, journaled).
    r(
        "POST",
        "/contacts/{contact}/effacement",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/contacts/{contact}/limitation",
        Admins,
        CommuneA,
        "limiter=non",
    ),
    r("GET", "/double-authentification", Everyone, Own, ""),
    r(
        "POST",
        "/double-authentification/activer",
        Everyone,
        Own,
        "",
    ),
    r(
        "POST",
        "/double-authentification/confirmer",
        Everyone,
        Own,
        "otp=000000",
    ),
    r("GET", "/tableau-de-bord", Everyone, Own, ""),
    r("GET", "/elu", Everyone, Own, ""),
    r("GET", "/mot-de-passe", Everyone, Own, ""),
    r("GET", "/aide", Everyone, Own, ""),
    r("GET", "/aide/ecrans/{screen}", Everyone, Own, ""),
    r(
        "POST",
        "/mot-de-passe",
        Everyone,
        Own,
        "current=faux&new=un-autre-mot-de-passe",
    ),
    r("GET", "/courrier/nouveau", Registrars, Own, ""),
    r("POST", "/courrier/nouveau", Registrars, Own, "multipart"),
    r("POST", "/courrier/lecture", Registrars, Own, "multipart"),
    r(
        "GET",
        "/courrier/separateurs.pdf?nombre=1",
        Registrars,
        Own,
        "",
    ),
    r("GET", "/appel/nouveau", Registrars, Own, ""),
    r(
        "POST",
        "/appel/nouveau",
        Registrars,
        Own,
        "caller=Appelant&caller_id={contact}&subject=Appel",
    ),
    r("GET", "/courrier/{item}", Everyone, CommuneA, ""),
    r(
        "GET",
        "/courrier/{item}/fichier/{file}",
        Everyone,
        CommuneA,
        "",
    ),
    r("GET", "/courrier/{secret}", Confidential, CommuneA, ""),
    r(
        "GET",
        "/courrier/{secret}/fichier/{secret_file}",
        Confidential,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/courrier/{item}/statut",
        Registrars,
        CommuneA,
        "to=in_progress",
    ),
    r(
        "POST",
        "/courrier/{item}/affecter",
        Registrars,
        CommuneA,
        "service=&assignee=",
    ),
    r(
        "POST",
        "/courrier/{item}/note",
        Everyone,
        CommuneA,
        "body=Une+note",
    ),
    r(
        "POST",
        "/courrier/{item}/pieces-demandees",
        Registrars,
        CommuneA,
        "pieces=Plan+de+situation",
    ),
    r("POST", "/courrier/{item}/accuse", Registrars, CommuneA, ""),
    r(
        "GET",
        "/courrier/{item}/accuse.pdf",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/courrier/{item}/accuse/imprimer",
        Registrars,
        CommuneA,
        "",
    ),
    r("GET", "/courrier/{item}/repondre", Registrars, CommuneA, ""),
    r(
        "POST",
        "/courrier/{item}/repondre",
        Registrars,
        CommuneA,
        "objet=R%C3%A9ponse&texte=Bonjour",
    ),
    r("GET", "/accuses", Registrars, Own, ""),
    r("POST", "/accuses", Registrars, Own, "ids={item}"),
    r("POST", "/accuses/imprimer", Registrars, Own, "ids={item}"),
    r("GET", "/administration/demarches", Admins, Own, ""),
    r("GET", "/administration/demarches/{new}", Admins, Own, ""),
    r(
        "POST",
        "/administration/demarches/{new}",
        Admins,
        Own,
        "code=matrice&title=Matrice&consent=Oui&fields=Date+%3B+date",
    ),
    r("GET", "/administration/modeles", Admins, Own, ""),
    r("GET", "/administration/modeles/{new}", Admins, Own, ""),
    r(
        "POST",
        "/administration/modeles/{new}",
        Admins,
        Own,
        "code=matrice&name=Matrice&subject=Objet&body=Bonjour&active=1",
    ),
    r("GET", "/administration/envois", Admins, Own, ""),
    // The parapheur: A's letter is a draft, so no action on it can succeed (and none
    // changes it for the routes after); drafting a new one is allowed to registrars. A
    // draft is read only by its author and the agents, so its routes are the registrars'.
    r("GET", "/parapheur", Everyone, Own, ""),
    r(
        "POST",
        "/parapheur/signer",
        Registrars,
        CommuneA,
        "courrier={folder}",
    ),
    r("GET", "/parapheur/verifier", Everyone, Own, ""),
    r("POST", "/parapheur/verifier", Everyone, Own, "multipart"),
    r("GET", "/parapheur/{folder}", Registrars, CommuneA, ""),
    r(
        "POST",
        "/parapheur/{folder}/enregistrer",
        Registrars,
        CommuneA,
        "objet=Lettre+Marqueur+A&texte=Madame%2C%0A%0AMarqueur.&destinataire=",
    ),
    r(
        "POST",
        "/parapheur/{folder}/circuit",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/parapheur/{folder}/action",
        Registrars,
        CommuneA,
        "action=approve",
    ),
    r(
        "POST",
        "/parapheur/{folder}/annuler-signature",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/parapheur/{folder}/envoyer",
        Registrars,
        CommuneA,
        "par=poste",
    ),
    r(
        "GET",
        "/parapheur/{folder}/document.pdf",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/parapheur/{folder}/bordereau.pdf",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/parapheur/{folder}/verification",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/courrier/{item}/lettre",
        Registrars,
        CommuneA,
        "modele=",
    ),
    r("GET", "/administration/parapheur", Admins, Own, ""),
    r(
        "POST",
        "/administration/parapheur/circuits",
        Admins,
        Own,
        "code=matrice&nom=Matrice&etape1=signature&personne1={signer}",
    ),
    r(
        "POST",
        "/administration/parapheur/delegations",
        Admins,
        Own,
        "absent={signer}&delegue={user}&du={today}&au={today}",
    ),
    r(
        "POST",
        "/administration/parapheur/delegations/{delegation}/revoquer",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/parapheur/certificats/{user}",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/parapheur/import",
        Admins,
        Own,
        "multipart",
    ),
    r(
        "GET",
        "/administration/parapheur/autorite.pem",
        Everyone,
        Own,
        "",
    ),
    r(
        "POST",
        "/administration/envois/{outbox}/renvoyer",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/courrier/{item}/pieces-recues",
        Registrars,
        CommuneA,
        "date={today}",
    ),
    // Refused by the rule (the same date; no authority named): the guard is what is tested,
    // and the item stays as the other lines need it.
    r(
        "POST",
        "/courrier/{item}/arrivee",
        Registrars,
        CommuneA,
        "date=2000-01-01&motif=",
    ),
    r(
        "POST",
        "/courrier/{item}/transmettre",
        Registrars,
        CommuneA,
        "autorite=",
    ),
    r(
        "POST",
        "/courrier/{item}/copie",
        Registrars,
        CommuneA,
        "user={user}&purpose=information",
    ),
    r(
        "POST",
        "/courrier/{item}/lien",
        Registrars,
        CommuneA,
        "kind=follow_up_of&numero={secret_chrono}",
    ),
    r("GET", "/administration", Admins, Own, ""),
    r("POST", "/administration", Admins, Own, "multipart"),
    r("GET", "/administration/logo", Everyone, Own, ""),
    r("GET", "/administration/services", Admins, Own, ""),
    r(
        "POST",
        "/administration/services",
        Admins,
        Own,
        "code=matrice&name=Matrice",
    ),
    r(
        "GET",
        "/administration/services/{service}",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/services/{service}",
        Admins,
        CommuneA,
        "name=Renomm%C3%A9&active=1",
    ),
    r("GET", "/administration/utilisateurs", Admins, Own, ""),
    r(
        "POST",
        "/administration/utilisateurs",
        Admins,
        Own,
        "name=Nouvelle&email=nouvelle%40x.test&role=agent",
    ),
    r(
        "GET",
        "/administration/utilisateurs/{user}",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/utilisateurs/{user}",
        Admins,
        CommuneA,
        "name=Chang%C3%A9&role=administrateur",
    ),
    r(
        "POST",
        "/administration/utilisateurs/{user}/double-authentification",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/utilisateurs/{user}/lien",
        Admins,
        CommuneA,
        "",
    ),
    r("GET", "/administration/types", Admins, Own, ""),
    // The API's tokens: commune B's administrator naming A's agent as owner is refused
    // (400, not a guard's refusal), and never reaches A's token.
    r("GET", "/administration/jetons", Admins, Own, ""),
    r(
        "POST",
        "/administration/jetons",
        Admins,
        Own,
        "label=Matrice&owner={user}&items_read=1",
    ),
    r(
        "POST",
        "/administration/jetons/{api_token}/revoquer",
        Admins,
        CommuneA,
        "",
    ),
    // Webhooks: commune B's administrator subscribes its own URL; A's subscription and
    // delivery are 404 to B. Deleting comes last: it removes the delivery with it.
    r("GET", "/administration/webhooks", Admins, Own, ""),
    r(
        "POST",
        "/administration/webhooks",
        Admins,
        Own,
        "label=Matrice&url=https%3A%2F%2Fhooks.exemple.fr%2Fmatrice&item_registered=1",
    ),
    r(
        "POST",
        "/administration/webhooks/{webhook}/etat",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/webhooks/envois/{webhook_delivery}/renvoyer",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/webhooks/{webhook}/supprimer",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/administration/registre-des-traitements",
        Admins,
        Own,
        "",
    ),
    r(
        "POST",
        "/administration/types",
        Admins,
        Own,
        "code=matrice&label=Matrice&delay_count=2&delay_unit=m&silence=none&retention_years=6&final_action=sort",
    ),
    r("GET", "/administration/types/{doctype}", Admins, Own, ""),
    r(
        "POST",
        "/administration/types/{doctype}",
        Admins,
        Own,
        "label=Chang%C3%A9&delay_count=1&delay_unit=m&silence=none&retention_years=6&final_action=sort",
    ),
    // Finds "Objet Marqueur A" in A by a word that is not the marker.
    r("GET", "/recherche?q=objet", Everyone, Own, ""),
    r(
        "GET",
        "/courrier/{item}/fichier/{file}/texte",
        Everyone,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/courrier/{item}/fichier/{file}/signatures",
        Everyone,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/courrier/{item}/suggestion",
        Registrars,
        CommuneA,
        "doctype=&service={service}",
    ),
    r("GET", "/courriels?etat=tous", Registrars, Own, ""),
    r(
        "POST",
        "/courriels/{quarantined}/reessayer",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/courriels/{inbound}/original",
        Registrars,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/courriels/{inbound}/apercu",
        Registrars,
        CommuneA,
        "",
    ),
    r("GET", "/administration/boites", Admins, Own, ""),
    r(
        "POST",
        "/administration/boites",
        Admins,
        Own,
        "label=Matrice&host=127.0.0.1&port=1&security=plain&username=u&password=p&folder=INBOX&after=leave&active=1",
    ),
    r(
        "GET",
        "/administration/boites/{mailbox}",
        Admins,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/administration/boites/{mailbox}",
        Admins,
        CommuneA,
        "label=Renomm%C3%A9&host=127.0.0.1&port=1&security=plain&username=u&folder=INBOX&after=leave&active=1",
    ),
    r(
        "POST",
        "/administration/boites/{mailbox}/relever",
        Admins,
        CommuneA,
        "",
    ),
    r("GET", "/archives", Archivists, Own, ""),
    r(
        "POST",
        "/archives/regles/{doctype}",
        Archivists,
        Own,
        "years=6&fate=sort&start=closing",
    ),
    r(
        "POST",
        "/archives/gel/{item}",
        Archivists,
        CommuneA,
        "motif=gel",
    ),
    r(
        "POST",
        "/archives/propositions",
        Archivists,
        Own,
        "ids={item}",
    ),
    r(
        "GET",
        "/archives/propositions/{elimination}/bordereau.pdf",
        Archivists,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/archives/propositions/{elimination}/visa",
        Archivists,
        CommuneA,
        "signataire=Directrice&date={today}&numero=V-1",
    ),
    r(
        "POST",
        "/archives/propositions/{elimination}/eliminer",
        Archivists,
        CommuneA,
        "",
    ),
    r(
        "GET",
        "/archives/propositions/{elimination}/certificat.pdf",
        Archivists,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/archives/versements",
        Archivists,
        Own,
        "numeros={archived_chrono}",
    ),
    r(
        "GET",
        "/archives/versements/{transfer}/message.xml",
        Archivists,
        CommuneA,
        "",
    ),
    r(
        "POST",
        "/archives/versements/{transfer}/reponse",
        Archivists,
        CommuneA,
        "reponse=pas+du+XML",
    ),
    r("GET", "/hebergement", Host, Own, ""),
    r("GET", "/hebergement/noeuds", Host, Own, ""),
    r(
        "POST",
        "/hebergement",
        Host,
        Own,
        "insee=00000&admin_name=X&admin_email=x%40x.test",
    ),
];

/// Routes left out of the matrix, each covered by a test of its own.
const ELSEWHERE: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/connexion",
        "web.rs: wrong_passwords_are_refused_then_limited",
    ),
    ("POST", "/deconnexion", "web.rs: logout_ends_the_session"),
    (
        "GET",
        "/appels/flux",
        "cti.rs: the_call_sheet_is_pushed_to_the_agents_page (a stream that never ends)",
    ),
    (
        "POST",
        "/mot-de-passe-oublie/nouveau",
        "web.rs: an_administrator_invites_…",
    ),
];

/// Every (method, path) of the router's table.
fn declared_routes() -> BTreeSet<(String, String)> {
    parapheur_web::routes::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

/// How strict an expectation of this table is, against the router's declared access: a
/// line may expect more (a confidential item, a draft) but never less than the route's
/// guard allows.
fn at_least(line: Access, route: parapheur_web::routes::Access) -> bool {
    use parapheur_web::routes::Access as R;
    let rank = |a: R| a as u8;
    let line_rank = match line {
        Public => R::Public,
        Everyone | Confidential => R::Member,
        Registrars => R::Registrar,
        Admins => R::Admin,
        Archivists => R::Archivist,
        Host => R::Host,
    };
    rank(line_rank) >= rank(route)
}

#[test]
fn the_matrix_names_every_route() {
    let declared = declared_routes();
    assert!(declared.len() > 40, "{declared:?}");
    let named: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), normalised(r.path)))
        .chain(
            ELSEWHERE
                .iter()
                .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())),
        )
        .collect();
    let missing: Vec<_> = declared.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "routes without a line in the matrix: {missing:?}"
    );
    let stale: Vec<_> = named.difference(&declared).collect();
    assert!(
        stale.is_empty(),
        "matrix lines for routes that do not exist: {stale:?}"
    );
    // Each line expects at least what the route's guard enforces.
    for line in ROUTES {
        let path = normalised(line.path);
        let route = parapheur_web::routes::ROUTES
            .iter()
            .find(|r| r.method == line.method && r.path == path)
            .unwrap();
        assert!(
            at_least(line.access, route.access),
            "{} {}: the matrix expects {:?}, the router declares {:?}",
            line.method,
            line.path,
            line.access,
            route.access
        );
    }
}

/// A line's path as the router declares it (its placeholders named as there).
fn normalised(path: &str) -> String {
    path.split('?')
        .next()
        .unwrap()
        .replace("{contact}", "{id}")
        .replace("{item}", "{id}")
        .replace("{secret}", "{id}")
        .replace("{secret_file}", "{file}")
        .replace("{service}", "{id}")
        .replace("{user}", "{id}")
        .replace("{doctype}", "{code}")
        .replace("{inbound}", "{id}")
        .replace("{quarantined}", "{id}")
        .replace("{mailbox}", "{id}")
        .replace("{outbox}", "{id}")
        .replace("{folder}", "{id}")
        .replace("{delegation}", "{id}")
        .replace("{elimination}", "{id}")
        .replace("{transfer}", "{id}")
        .replace("{api_token}", "{id}")
        .replace("{webhook}", "{id}")
        .replace("{webhook_delivery}", "{id}")
        .replace("{insee_b}", "{insee}")
        .replace(
            "/suivi/{token}/fichier/{file}",
            "/suivi/{token}/fichier/{id}",
        )
        .replace("{form}", "{code}")
        .replace("{new}", "{code}")
}

fn allowed(access: Access, role: Role) -> bool {
    match access {
        Public | Everyone => true,
        Registrars => matches!(role, Role::Agent | Role::Administrateur),
        Admins => role == Role::Administrateur,
        Archivists => role == Role::Archiviste,
        // Only A's administrator is a host administrator in the test site.
        Host => role == Role::Administrateur,
        Confidential => matches!(role, Role::Elu | Role::Administrateur),
    }
}

struct Ids {
    values: Vec<(&'static str, String)>,
}

impl Ids {
    fn fill(&self, template: &str) -> String {
        let mut out = template.to_owned();
        for (name, value) in &self.values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

const MARKER: &str = "marqueur";

/// Commune A's objects, each carrying the marker in its text or bytes.
async fn objects_of_a(site: &Site) -> Ids {
    let app = &site.app;
    let a = &site.a;
    let system = Actor::System("matrice");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), a.zone());
    let pdf = |what: &str| NewFile {
        filename: format!("{what}.pdf"),
        media_type: "application/pdf".into(),
        bytes: format!("%PDF-1.4 Marqueur {what}").into_bytes(),
    };
    let mut new = NewItem::incoming(Channel::Paper, "Objet Marqueur A", today);
    new.doctype_code = Some("demande-administrative".into());
    let party = app
        .resolve_contact(a, "Contact Marqueur", None)
        .await
        .unwrap();
    let item = app
        .register_with_party(
            a,
            &system,
            new,
            Some(party),
            vec![pdf("courrier")],
            Utc::now(),
        )
        .await
        .unwrap();
    let party = app
        .resolve_contact(a, "Doublon Marqueur", None)
        .await
        .unwrap();
    app.register_with_party(
        a,
        &system,
        NewItem::incoming(Channel::Paper, "Autre Marqueur", today),
        Some(party),
        vec![],
        Utc::now(),
    )
    .await
    .unwrap();
    let admin = app
        .store()
        .user_by_email(a.id, "admin@a.test")
        .await
        .unwrap()
        .unwrap();
    let agent = app
        .store()
        .user_by_email(a.id, "agent@a.test")
        .await
        .unwrap()
        .unwrap();
    let mut secret = NewItem::incoming(Channel::Paper, "Secret Marqueur A", today);
    secret.confidentiality = Confidentiality::Confidential;
    let secret = app
        .register(a, &system, secret, vec![pdf("secret")], Utc::now())
        .await
        .unwrap();
    app.change_item(
        a,
        &system,
        secret.item.id,
        Change::Assign {
            service_id: None,
            assignee_id: Some(admin.id),
        },
        Utc::now(),
    )
    .await
    .unwrap();
    let mut logo = b"\x89PNG\r\n\x1a\n".to_vec();
    logo.extend_from_slice(b"Marqueur logo");
    app.update_commune_settings(
        a,
        &system,
        SettingsForm {
            address: "1 rue Marqueur".into(),
            logo: LogoChange::Replace {
                bytes: logo,
                media_type: "image/png".into(),
            },
            ..SettingsForm::default()
        },
        Utc::now(),
    )
    .await
    .unwrap();
    // Commune B has a logo of its own: its people get it, never A's.
    app.update_commune_settings(
        &site.b,
        &system,
        SettingsForm {
            logo: LogoChange::Replace {
                bytes: b"\x89PNG\r\n\x1a\nlogo B".to_vec(),
                media_type: "image/png".into(),
            },
            ..SettingsForm::default()
        },
        Utc::now(),
    )
    .await
    .unwrap();
    let contacts = app
        .store()
        .search_contacts(a.id, "marqueur", 10)
        .await
        .unwrap();
    let contact = contacts
        .iter()
        .find(|c| c.name == "Contact Marqueur")
        .unwrap();
    let duplicate = contacts
        .iter()
        .find(|c| c.name == "Doublon Marqueur")
        .unwrap();
    let service = app.store().services(a.id).await.unwrap().remove(0);
    let file = item.attachments[0].id;
    let secret_file = secret.attachments[0].id;
    // A message received by mail, one in quarantine, a mailbox, and the searchable PDF
    // that OCR made of the item's file.
    let taken = app
        .capture_message(
            a,
            MessageSource::import("import Marqueur"),
            Ok(
                b"From: marqueur@x.test\r\nSubject: Courriel Marqueur\r\n\r\nCorps Marqueur\r\n"
                    .to_vec(),
            ),
            Utc::now(),
        )
        .await
        .unwrap();
    assert!(
        matches!(taken, CaptureOutcome::Registered { .. }),
        "{taken:?}"
    );
    let inbound = app.store().inbound_list(a.id, None, 10).await.unwrap()[0].id;
    let CaptureOutcome::Quarantined {
        inbound_id: quarantined,
        ..
    } = app
        .capture_message(
            a,
            MessageSource::import("Quarantaine Marqueur"),
            Ok(vec![0xff, 0x00, 0x01]),
            Utc::now(),
        )
        .await
        .unwrap()
    else {
        panic!("not quarantined")
    };
    let mailbox = app
        .add_mailbox(
            a,
            &system,
            MailboxSettings {
                label: "Boîte Marqueur".into(),
                config: parapheur_mailbox::MailboxConfig {
                    host: "127.0.0.1".into(),
                    port: 1,
                    security: parapheur_mailbox::Security::Plain,
                    username: "marqueur".into(),
                    password: "secret".into(),
                    folder: "INBOX".into(),
                    after_capture: parapheur_mailbox::AfterCapture::Leave,
                    network: Default::default(),
                },
                rules: Vec::new(),
                active: true,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let searchable = app
        .files()
        .put(
            &a.id.to_string(),
            &app.data_key(a.id).await.unwrap(),
            b"%PDF-1.4 Marqueur cherchable",
        )
        .await
        .unwrap();
    let mut tx = app.store().begin(Utc::now()).await.unwrap();
    tx.record_file_text(
        a.id,
        &FileText {
            sha256: item.attachments[0].sha256.clone(),
            state: "done".into(),
            method: Some("ocr".into()),
            text: Some("texte reconnu".into()),
            reason: None,
            pages: Some(1),
            searchable_sha256: Some(searchable.sha256),
            updated_at: Utc::now(),
        },
        None,
        "system:test",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // An email of A's outbox (its acknowledgement to a sender with an address): never
    // sent here (no SMTP server), so it can always be sent again.
    let party = app
        .resolve_contact(a, "marqueur.courriel@x.test", None)
        .await
        .unwrap();
    let mut acknowledged = NewItem::incoming(Channel::Paper, "Demande Marqueur", today);
    acknowledged.doctype_code = Some("demande-administrative".into());
    let acknowledged = app
        .register_with_party(a, &system, acknowledged, Some(party), vec![], Utc::now())
        .await
        .unwrap();
    app.send_acknowledgement(a, &system, acknowledged.item.id, Utc::now())
        .await
        .unwrap();
    let outbox = app.store().outbox(a.id, 1).await.unwrap()[0].id;
    // A draft letter of A, and a delegation of A's maire to its agent.
    let maire = app
        .store()
        .user_by_email(a.id, "maire@a.test")
        .await
        .unwrap()
        .unwrap();
    let folder = app
        .draft_letter(a, &Actor::User(admin.id), item.item.id, None, Utc::now())
        .await
        .unwrap();
    app.save_letter(
        a,
        &Actor::User(admin.id),
        folder.id,
        &parapheur_app::parapheur::LetterInput {
            subject: "Lettre Marqueur A".into(),
            recipient: "Contact Marqueur".into(),
            body: "Madame,\n\nMarqueur.".into(),
            signer_id: Some(maire.id),
        },
        Utc::now(),
    )
    .await
    .unwrap();
    let delegation = app
        .add_delegation(
            a,
            &system,
            maire.id,
            agent.id,
            today,
            today + chrono::Duration::days(5),
            Vec::new(),
            Utc::now(),
        )
        .await
        .unwrap();
    let (elimination, transfer, archived_chrono) = archives_of_a(site).await;
    let api_token = app
        .create_api_token(
            a,
            &system,
            parapheur_app::api::NewToken {
                label: "Jeton de la matrice".into(),
                owner_id: agent.id,
                scopes: vec![parapheur_app::api::Scope::ItemsRead],
                expires_at: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let (webhook, webhook_delivery) = webhook_of_a(site).await;
    let style = parapheur_web_style_name(site).await;
    Ids {
        values: vec![
            ("item", item.item.id.to_string()),
            ("file", file.to_string()),
            ("secret", secret.item.id.to_string()),
            ("secret_file", secret_file.to_string()),
            ("inbound", inbound.to_string()),
            ("quarantined", quarantined.to_string()),
            ("mailbox", mailbox.to_string()),
            ("outbox", outbox.to_string()),
            ("folder", folder.id.to_string()),
            ("delegation", delegation.id.to_string()),
            ("elimination", elimination),
            ("transfer", transfer),
            ("api_token", api_token.token.id.to_string()),
            ("webhook", webhook),
            ("webhook_delivery", webhook_delivery),
            ("archived_chrono", archived_chrono),
            ("signer", maire.id.to_string()),
            ("insee_b", site.b.insee.clone()),
            ("form", "matrice".into()),
            ("new", "nouveau".into()),
            ("token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
            ("secret_chrono", secret.item.chrono.clone()),
            ("contact", contact.id.to_string()),
            ("duplicate", duplicate.id.to_string()),
            ("service", service.id.to_string()),
            ("user", agent.id.to_string()),
            ("doctype", "courrier".into()),
            ("today", today.format("%Y-%m-%d").to_string()),
            ("name", style),
            ("screen", "a-traiter.jpg".into()),
        ],
    }
}

/// A webhook subscription of commune A and one delivery of it (the marker in its name and
/// body).
async fn webhook_of_a(site: &Site) -> (String, String) {
    use parapheur_app::domain::webhook::EventType;
    let created = site
        .app
        .create_webhook(
            &site.a,
            &Actor::System("matrice"),
            parapheur_app::webhooks::NewWebhook {
                label: "Webhook Marqueur A".into(),
                url: "https://hooks.exemple.fr/marqueur".into(),
                events: vec![EventType::ItemRegistered],
                active: true,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let mut tx = site.app.store().begin(Utc::now()).await.unwrap();
    tx.queue_webhook_event(
        site.a.id,
        &parapheur_store::webhooks::QueuedEvent {
            event_type: "item.registered".into(),
            event_key: "matrice".into(),
            payload: r#"{"type":"item.registered","data":{"subject":"Marqueur"}}"#.into(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let delivery = site
        .app
        .store()
        .webhook_deliveries(site.a.id, None, 1)
        .await
        .unwrap()
        .remove(0);
    (created.subscription.id.to_string(), delivery.id.to_string())
}

/// A proposal of elimination and a transfer of commune A (their items carry the marker).
async fn archives_of_a(site: &Site) -> (String, String, String) {
    use parapheur_app::domain::CloseReason;
    use parapheur_app::domain::Status;
    use parapheur_app::domain::retention::{FinalAction, RetentionRule, StartEvent};
    let app = &site.app;
    let a = &site.a;
    let system = Actor::System("matrice");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), a.zone());
    let rule = RetentionRule {
        years: 0,
        final_action: FinalAction::Destroy,
    };
    app.set_retention(
        a,
        &system,
        "invitation",
        rule,
        StartEvent::Registration,
        Utc::now(),
    )
    .await
    .unwrap();
    let mut closed = Vec::new();
    for (subject, doctype) in [
        ("Invitation Marqueur", "invitation"),
        ("Versement Marqueur", "courrier"),
    ] {
        let mut new = NewItem::incoming(Channel::Paper, subject, today);
        new.doctype_code = Some(doctype.into());
        let item = app
            .register(a, &system, new, vec![], Utc::now())
            .await
            .unwrap()
            .item;
        let close = Change::Status {
            to: Status::Closed,
            reason: Some(CloseReason::Answered),
        };
        closed.push(
            app.change_item(a, &system, item.id, close, Utc::now())
                .await
                .unwrap(),
        );
    }
    let elimination = app
        .propose_elimination(a, &system, &[closed[0].id], Utc::now())
        .await
        .unwrap();
    let (transfer, _) = app
        .transfer_to_archives(a, &system, &[closed[1].id], None, Utc::now())
        .await
        .unwrap();
    (
        elimination.id.to_string(),
        transfer.id.to_string(),
        closed[1].chrono.clone(),
    )
}

/// The stylesheet's hashed name, read from the login page.
async fn parapheur_web_style_name(site: &Site) -> String {
    let (_, _, page) = send(site, get("/connexion", None)).await;
    let start = page.find("style-").unwrap();
    page[start..].split('"').next().unwrap().to_owned()
}

fn request(route: &Route, ids: &Ids, cookie: Option<&str>, csrf: &str) -> Request<Body> {
    let path = ids.fill(route.path);
    if route.method == "GET" {
        return get(&path, cookie);
    }
    if route.body == "multipart" {
        let fields = [
            ("csrf", csrf),
            ("channel", "paper"),
            ("subject", "Courrier de la matrice"),
            ("arrival", "2026-01-05"),
            ("address", "2 rue de la Matrice"),
            ("chrono_format", "{year}-{dir}-{seq:6}"),
        ];
        let mut request = multipart_to(&path, cookie.unwrap_or(""), &fields, None);
        if cookie.is_none() {
            request.headers_mut().remove(header::COOKIE);
        }
        return request;
    }
    let body = ids.fill(route.body);
    let body = if body.is_empty() {
        format!("csrf={csrf}")
    } else {
        format!("{body}&csrf={csrf}")
    };
    post(&path, cookie, &body)
}

fn is_login_redirect(status: StatusCode, headers: &axum::http::HeaderMap) -> bool {
    status == StatusCode::SEE_OTHER
        && headers
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/connexion"))
}

#[tokio::test]
async fn every_route_for_every_role_and_the_other_commune_sqlite() {
    every_route_for_every_role_and_the_other_commune(Db::Sqlite).await;
}

#[tokio::test]
async fn every_route_for_every_role_and_the_other_commune_postgres() {
    every_route_for_every_role_and_the_other_commune(Db::Postgres).await;
}

async fn every_route_for_every_role_and_the_other_commune(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let ids = objects_of_a(&site).await;
    let journal = |site: &Site| {
        let store = site.app.store().clone();
        let commune = site.a.id;
        async move { store.journal_len(commune).await.unwrap() }
    };
    let mut failures = Vec::new();
    let mut seen_by_a = BTreeSet::new();

    // Anonymous: every page but the public ones sends to the login page; nothing is written.
    for route in ROUTES {
        let before = journal(&site).await;
        let (status, headers, body) = send(&site, request(route, &ids, None, "x")).await;
        if route.access == Public {
            if status.is_server_error() {
                failures.push(format!(
                    "anonymous {} {}: {status}",
                    route.method, route.path
                ));
            }
        } else if !is_login_redirect(status, &headers) && status != StatusCode::FORBIDDEN {
            failures.push(format!(
                "anonymous {} {}: {status}",
                route.method, route.path
            ));
        }
        if body.to_lowercase().contains(MARKER) {
            failures.push(format!(
                "anonymous {} {}: A's data shown",
                route.method, route.path
            ));
        }
        if journal(&site).await != before {
            failures.push(format!("anonymous {} {}: wrote", route.method, route.path));
        }
    }

    let people = [
        ("agent@a.test", Role::Agent, true),
        ("maire@a.test", Role::Elu, true),
        ("archiviste@a.test", Role::Archiviste, true),
        ("admin@a.test", Role::Administrateur, true),
        ("agent@b.test", Role::Agent, false),
        ("maire@b.test", Role::Elu, false),
        ("archiviste@b.test", Role::Archiviste, false),
        ("admin@b.test", Role::Administrateur, false),
    ];
    for (email, role, of_a) in people {
        let (cookie, csrf) = login(&site, email).await;
        for route in ROUTES.iter().filter(|r| r.access != Public) {
            let before = journal(&site).await;
            let (status, headers, body) =
                send(&site, request(route, &ids, Some(&cookie), &csrf)).await;
            let what = format!("{email} {} {}: {status}", route.method, route.path);
            if is_login_redirect(status, &headers) || status.is_server_error() {
                failures.push(what.clone());
            }
            let refused = matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND);
            // Host pages: only commune A's administrator is a host administrator.
            let may = allowed(route.access, role) && (route.access != Host || of_a);
            if of_a || route.scope == Own {
                if may == refused {
                    failures.push(format!(
                        "{what} ({})",
                        if may {
                            "refused, should be allowed"
                        } else {
                            "allowed, should be refused"
                        }
                    ));
                }
            } else if !refused {
                failures.push(format!("{what}: another commune's id answered"));
            }
            if refused && journal(&site).await != before {
                failures.push(format!("{what}: refused but wrote"));
            }
            if !of_a && body.to_lowercase().contains(MARKER) {
                failures.push(format!("{what}: commune A's data shown to commune B"));
            }
            if of_a && body.to_lowercase().contains(MARKER) {
                seen_by_a.insert(route.path);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
