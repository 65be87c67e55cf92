//! The HTTP API at /api/v1 (issue 18, point 1): its security matrix (every operation of
//! its route table, anonymously, with a token lacking the scope, a revoked one, an expired
//! one, another commune's, and the right one), its OpenAPI document checked against the
//! router both ways, idempotent creations, cursors, JSON errors with stable codes, the
//! rate limit, and writes journaled as the token's owner. On SQLite and PostgreSQL.

use std::collections::BTreeSet;

use axum::http::{StatusCode, header};
use base64::Engine;
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::api::{NewToken, Scope};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, Confidentiality};
use parapheur_web::api::{API_ROUTES, ApiRoute, OPENAPI};
use serde_json::{Value, json};

use crate::common::*;
use parapheur_testkit::both;

const MARKER: &str = "marqueur";

fn json_body(value: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

/// The error code of a JSON error body.
fn code(bytes: &[u8]) -> String {
    parsed(bytes)["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {}", String::from_utf8_lossy(bytes)))
        .to_owned()
}

async fn token(
    site: &Site,
    commune: &parapheur_app::domain::Commune,
    owner: &str,
    scopes: &[Scope],
) -> String {
    let label = format!("Jeton de {owner}");
    api_token(site, commune, owner, label, scopes).await.1
}

fn pdf_base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(parapheur_testkit::tiny_pdf(text))
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document and the router.

#[test]
fn the_openapi_document_describes_every_operation_and_only_those() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            described.insert((method.clone(), path.clone()));
            let route = API_ROUTES
                .iter()
                .find(|r| r.method == method && r.path == path)
                .unwrap_or_else(|| panic!("{method} {path}: described, but no such route"));
            for field in ["summary", "description"] {
                assert!(
                    op[field].as_str().is_some_and(|s| !s.trim().is_empty()),
                    "{method} {path}: no {field}"
                );
            }
            assert_eq!(op["operationId"], route.operation_id, "{method} {path}");
            // The scope the document asks is the one the router's guard checks.
            let scopes: Vec<&str> = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security"))
                .iter()
                .filter_map(|s| s["token"].as_array())
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(
                scopes,
                route.scope.map(|s| vec![s.code()]).unwrap_or_default(),
                "{method} {path}: scopes"
            );
            // Every operation with a token says what a refused token gets.
            if route.scope.is_some() {
                for status in ["401", "403", "429"] {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path}: no {status}"
                    );
                }
            }
            // Path parameters declared in the path are described, and only those.
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}').map(str::to_owned))
                .collect();
            let params: BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| match p["$ref"].as_str() {
                            Some(r) => {
                                let name = r.rsplit('/').next().unwrap();
                                doc["components"]["parameters"][name].clone()
                            }
                            None => p.clone(),
                        })
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(in_path, params, "{method} {path}: path parameters");
        }
    }
    let routed: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let undescribed: Vec<_> = routed.difference(&described).collect();
    assert!(
        undescribed.is_empty(),
        "routes without a description: {undescribed:?}"
    );
    // Every `$ref` resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "$ref" {
                        out.push(v.as_str().unwrap().to_owned());
                    } else {
                        refs(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
    }
    // The error codes the document lists are those the API answers.
    let listed: BTreeSet<&str> =
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
    let answered: BTreeSet<&str> = parapheur_web::api::ERROR_CODES.iter().copied().collect();
    assert_eq!(listed, answered);
}

// ---------------------------------------------------------------------------------------
// The security matrix.

/// Who calls, in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// A token of commune A without the operation's scope.
    WrongScope,
    Revoked,
    Expired,
    /// A token whose owner was deactivated.
    OwnerGone,
    /// Commune B's token with every scope, on commune A's ids.
    OtherCommune,
    /// Commune A's token with every scope.
    Right,
}

/// What the ids of an operation's path belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scoped {
    /// Commune A's object in the path: another commune gets 404.
    CommuneA,
    /// The caller's own commune (lists, creations): another commune sees its own.
    Own,
}

/// The request of each operation of [`API_ROUTES`]: its path with commune A's ids, its
/// body, and what its ids belong to. An operation without a line fails the test.
fn line(route: &ApiRoute) -> Option<(&'static str, Option<Value>, Scoped)> {
    Some(match (route.method, route.path) {
        ("GET", "/openapi.json") => ("/openapi.json", None, Scoped::Own),
        ("GET", "/items") => ("/items", None, Scoped::Own),
        ("POST", "/items") => (
            "/items",
            Some(
                json!({ "channel": "paper", "subject": "Par l'API", "files": [
                    { "filename": "api.pdf", "content_base64": pdf_base64("Par API") }
                ]}),
            ),
            Scoped::Own,
        ),
        ("GET", "/items/search") => ("/items/search?q=objet", None, Scoped::Own),
        ("GET", "/items/{id}") => ("/items/{item}", None, Scoped::CommuneA),
        ("GET", "/items/{id}/files/{file}") => {
            ("/items/{item}/files/{file}", None, Scoped::CommuneA)
        }
        ("POST", "/items/{id}/status") => (
            "/items/{item}/status",
            Some(json!({ "to": "in_progress" })),
            Scoped::CommuneA,
        ),
        ("POST", "/items/{id}/assignment") => (
            "/items/{item}/assignment",
            Some(json!({ "service_id": "{service}", "assignee_id": null })),
            Scoped::CommuneA,
        ),
        ("GET", "/contacts") => ("/contacts?q=marqueur", None, Scoped::Own),
        ("POST", "/contacts") => (
            "/contacts",
            Some(json!({ "name": "Nouveau", "first_name": "Contact", "email": "nouveau@x.test" })),
            Scoped::Own,
        ),
        ("GET", "/contacts/{id}") => ("/contacts/{contact}", None, Scoped::CommuneA),
        // The token goes in the path (the loop puts each caller's there).
        ("POST", "/cti/{token}") => (
            "/cti/{token}",
            Some(json!({
                "event": "newCall", "callId": "matrice-1", "from": "0612345678",
                "to": "100", "direction": "in", "user": ["Marqueur"]
            })),
            Scoped::Own,
        ),
        _ => return None,
    })
}

async fn every_operation_for_every_caller(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let (a, b) = (site.a.clone(), site.b.clone());
    let system = Actor::System("matrice");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), a.zone());
    // Commune A's objects, each carrying the marker.
    let party = site
        .app
        .resolve_contact(&a, "Contact Marqueur", None)
        .await
        .unwrap();
    let item = site
        .app
        .register_with_party(
            &a,
            &system,
            NewItem::incoming(Channel::Paper, "Objet Marqueur A", today),
            Some(party),
            vec![parapheur_app::NewFile {
                filename: "marqueur.pdf".into(),
                media_type: "application/pdf".into(),
                bytes: b"%PDF-1.4 Marqueur".to_vec(),
            }],
            Utc::now(),
        )
        .await
        .unwrap();
    let contact = site
        .app
        .search_contacts(a.id, "marqueur", 1)
        .await
        .unwrap()
        .remove(0)
        .id;
    let service = site.app.services(a.id).await.unwrap().remove(0).id;
    let fill = |path: &str| {
        path.replace("{item}", &item.item.id.to_string())
            .replace("{service}", &service.to_string())
            .replace("{file}", &item.attachments[0].id.to_string())
            .replace("{contact}", &contact.to_string())
    };
    let all = Scope::ALL;
    let right = token(&site, &a, "admin@a.test", &all).await;
    let reads = token(
        &site,
        &a,
        "admin@a.test",
        &[Scope::ItemsRead, Scope::ContactsRead],
    )
    .await;
    let writes = token(
        &site,
        &a,
        "admin@a.test",
        &[Scope::ItemsWrite, Scope::ContactsWrite],
    )
    .await;
    let revoked_token = site
        .app
        .create_api_token(
            &a,
            &system,
            NewToken {
                label: "Révoqué".into(),
                owner_id: user_in(&site, a.id, "admin@a.test").await.id,
                scopes: all.to_vec(),
                expires_at: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    site.app
        .revoke_api_token(&a, &system, revoked_token.token.id, Utc::now())
        .await
        .unwrap();
    let long_ago = Utc::now() - chrono::Duration::hours(2);
    let expired = site
        .app
        .create_api_token(
            &a,
            &system,
            NewToken {
                label: "Expiré".into(),
                owner_id: user_in(&site, a.id, "admin@a.test").await.id,
                scopes: all.to_vec(),
                expires_at: Some(long_ago + chrono::Duration::hours(1)),
            },
            long_ago,
        )
        .await
        .unwrap()
        .secret;
    // An agent's token, then the agent leaves.
    let gone = token(&site, &a, "agent@a.test", &all).await;
    let agent = user_in(&site, a.id, "agent@a.test").await;
    site.app
        .store()
        .execute_unchecked(&format!(
            "UPDATE users SET active = 0 WHERE id = '{}'",
            agent.id
        ))
        .await
        .unwrap();
    let other = token(&site, &b, "admin@b.test", &all).await;

    let journal = || {
        let store = site.app.store().clone();
        let commune = a.id;
        async move { store.journal_len(commune).await.unwrap() }
    };
    let mut failures = Vec::new();
    for route in API_ROUTES {
        let Some((path, body, scoped)) = line(route) else {
            failures.push(format!(
                "{} {}: no line in the matrix",
                route.method, route.path
            ));
            continue;
        };
        let path = fill(path);
        for caller in [
            Caller::Anonymous,
            Caller::WrongScope,
            Caller::Revoked,
            Caller::Expired,
            Caller::OwnerGone,
            Caller::OtherCommune,
            Caller::Right,
        ] {
            let secret = match caller {
                Caller::Anonymous => None,
                Caller::WrongScope => Some(match route.scope {
                    Some(Scope::ItemsRead | Scope::ContactsRead) => writes.clone(),
                    _ => reads.clone(),
                }),
                Caller::Revoked => Some(revoked_token.secret.clone()),
                Caller::Expired => Some(expired.clone()),
                Caller::OwnerGone => Some(gone.clone()),
                Caller::OtherCommune => Some(other.clone()),
                Caller::Right => Some(right.clone()),
            };
            let before = journal().await;
            // The phone system's events carry their token in the address, not a header.
            let in_path = path.contains("{token}");
            let path = if in_path {
                path.replace("{token}", secret.as_deref().unwrap_or("prph_absent"))
            } else {
                path.clone()
            };
            let (status, headers, bytes) = api_call(
                &site,
                route.method,
                &path,
                secret.as_deref().filter(|_| !in_path),
                body.as_ref()
                    .map(|b| ("application/json", fill(&b.to_string()).into_bytes())),
                &[],
            )
            .await;
            let what = format!("{caller:?} {} {}: {status}", route.method, route.path);
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            let expected: Option<(StatusCode, &str)> = match (route.scope, caller) {
                (None, _) => None,
                (_, Caller::Anonymous) if in_path => {
                    Some((StatusCode::UNAUTHORIZED, "token_invalid"))
                }
                (_, Caller::Anonymous) => Some((StatusCode::UNAUTHORIZED, "token_missing")),
                (_, Caller::WrongScope) => Some((StatusCode::FORBIDDEN, "scope_missing")),
                (_, Caller::Revoked) => Some((StatusCode::UNAUTHORIZED, "token_revoked")),
                (_, Caller::Expired) => Some((StatusCode::UNAUTHORIZED, "token_expired")),
                (_, Caller::OwnerGone) => Some((StatusCode::UNAUTHORIZED, "token_owner_inactive")),
                (_, Caller::OtherCommune) if scoped == Scoped::CommuneA => {
                    Some((StatusCode::NOT_FOUND, "not_found"))
                }
                (_, Caller::OtherCommune | Caller::Right) => None,
            };
            match expected {
                Some((want, want_code)) => {
                    if status != want {
                        failures.push(format!("{what}, expected {want}"));
                    } else if code(&bytes) != want_code {
                        failures.push(format!("{what}: code {} not {want_code}", code(&bytes)));
                    }
                    if status == StatusCode::UNAUTHORIZED
                        && headers.get(header::WWW_AUTHENTICATE).is_none()
                    {
                        failures.push(format!("{what}: no WWW-Authenticate"));
                    }
                    if journal().await != before {
                        failures.push(format!("{what}: refused but wrote"));
                    }
                }
                None => {
                    if !status.is_success() {
                        failures.push(format!(
                            "{what}: refused, should be allowed ({})",
                            String::from_utf8_lossy(&bytes)
                        ));
                    }
                }
            }
            if caller != Caller::Right && route.path != "/openapi.json" && text.contains(MARKER) {
                failures.push(format!("{what}: commune A's data shown"));
            }
            if caller == Caller::OtherCommune && journal().await != before {
                failures.push(format!("{what}: commune B's call wrote in commune A"));
            }
            if caller == Caller::Right
                && matches!(route.path, "/items" | "/contacts" | "/items/{id}")
                && route.method == "GET"
                && !text.contains(MARKER)
            {
                failures.push(format!("{what}: commune A's own data not shown"));
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

#[tokio::test]
async fn every_operation_for_every_caller_sqlite() {
    every_operation_for_every_caller(Db::Sqlite).await;
}

#[tokio::test]
async fn every_operation_for_every_caller_postgres() {
    every_operation_for_every_caller(Db::Postgres).await;
}

// ---------------------------------------------------------------------------------------
// What the operations do.

async fn items_and_contacts_end_to_end(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let a = site.a.clone();
    let agent = user_in(&site, a.id, "agent@a.test").await;
    let secret = token(&site, &a, "agent@a.test", &Scope::ALL).await;
    let t = Some(secret.as_str());

    // A contact, created once under its idempotency key.
    let new_contact = json!({ "first_name": "Jeanne", "name": "Martin", "email": "jeanne.martin@exemple.fr", "city": "Tours" });
    let key = [("idempotency-key", "contact-1")];
    let (status, headers, first) =
        api_call(&site, "POST", "/contacts", t, json_body(&new_contact), &key).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&first)
    );
    let contact = parsed(&first);
    assert_eq!(contact["display_name"], "Jeanne Martin");
    assert_eq!(contact["kind"], "person");
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        &format!("/api/v1/contacts/{}", contact["id"].as_str().unwrap())
    );
    let (status, headers, again) =
        api_call(&site, "POST", "/contacts", t, json_body(&new_contact), &key).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first, "a retry is answered the same");
    assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");
    // Without the key, the same contact again is a likely duplicate: refused.
    let (status, _, body) =
        api_call(&site, "POST", "/contacts", t, json_body(&new_contact), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "conflict");
    // The same key for another request.
    let (status, _, body) = api_call(
        &site,
        "POST",
        "/contacts",
        t,
        json_body(&json!({ "name": "Autre" })),
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "idempotency_key_reused");
    let contact_id = contact["id"].as_str().unwrap().to_owned();
    let (status, _, body) = api_call(
        &site,
        "GET",
        &format!("/contacts/{contact_id}"),
        t,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parsed(&body)["email"], "jeanne.martin@exemple.fr");

    // Unknown fields are refused, in bodies and queries.
    let (status, _, body) = api_call(
        &site,
        "POST",
        "/items",
        t,
        json_body(&json!({ "channel": "paper", "subject": "X", "sujet": "faute" })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "unknown_field");
    let (status, _, body) = api_call(&site, "GET", "/items?page=2", t, None, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "unknown_field");
    let (status, _, body) = api_call(
        &site,
        "POST",
        "/items",
        t,
        Some(("text/plain", b"{}".to_vec())),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(code(&body), "unsupported_media_type");
    let (status, _, body) = api_call(&site, "GET", "/nulle-part", t, None, &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _, body) = api_call(&site, "GET", "/items?cursor=%%%", t, None, &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );

    // An item registered in JSON, its sender the contact, its file in base64; the register
    // journals it as the token's owner.
    let register = json!({
        "channel": "email", "subject": "Demande de stationnement", "correspondent_id": contact_id,
        "body": "Bonjour", "tags": ["voirie"],
        "files": [{ "filename": "demande.pdf", "content_base64": pdf_base64("Demande") }],
    });
    let key = [("idempotency-key", "item-1")];
    let (status, _, body) = api_call(&site, "POST", "/items", t, json_body(&register), &key).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let item = parsed(&body);
    let item_id = item["id"].as_str().unwrap().to_owned();
    assert_eq!(item["senders"], json!([contact_id]));
    assert_eq!(item["files"][0]["filename"], "demande.pdf");
    assert_eq!(item["files"][0]["signatures"], Value::Null);
    let count = site.app.item_count(a.id).await.unwrap();
    let (status, _, replay) =
        api_call(&site, "POST", "/items", t, json_body(&register), &key).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replay, body, "the retry is answered the same");
    assert_eq!(
        site.app.item_count(a.id).await.unwrap(),
        count,
        "and registers nothing"
    );
    let entries = site.app.journal_of(a.id, "item", &item_id).await.unwrap();
    assert_eq!(entries[0].action, "item.registered");
    assert_eq!(
        entries[0].actor,
        format!("user:{}", agent.id),
        "journaled as the owner"
    );

    // Two attempts at once under one key: one registration.
    let key = [("idempotency-key", "item-race")];
    let race = json!({ "channel": "paper", "subject": "Course" });
    let (one, two) = tokio::join!(
        api_call(&site, "POST", "/items", t, json_body(&race), &key),
        api_call(&site, "POST", "/items", t, json_body(&race), &key),
    );
    assert_eq!((one.0, two.0), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(parsed(&one.2)["id"], parsed(&two.2)["id"]);
    assert_eq!(site.app.item_count(a.id).await.unwrap(), count + 1);

    // Status and assignment, through the item page's use cases.
    let (status, _, body) = api_call(
        &site,
        "POST",
        &format!("/items/{item_id}/status"),
        t,
        json_body(&json!({ "to": "closed" })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "closing needs a reason");
    assert_eq!(code(&body), "invalid");
    let (status, _, body) = api_call(
        &site,
        "POST",
        &format!("/items/{item_id}/assignment"),
        t,
        json_body(&json!({ "assignee_id": agent.id })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(parsed(&body)["status"], "assigned");
    assert_eq!(parsed(&body)["assignee_id"], json!(agent.id));
    let (status, _, body) = api_call(
        &site,
        "POST",
        &format!("/items/{item_id}/status"),
        t,
        json_body(&json!({ "to": "closed", "reason": "answered" })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(parsed(&body)["status"], "closed");
    assert_eq!(parsed(&body)["close_reason"], "answered");

    // Search finds it by a word of its subject.
    site.app.index_catch_up(a.id).await.unwrap();
    let (status, _, body) =
        api_call(&site, "GET", "/items/search?q=stationnement", t, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let found = parsed(&body);
    assert_eq!(found["data"][0]["id"], item_id.as_str());
    assert!(
        found["data"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .contains("<mark>")
    );

    // A multipart registration of a signed PDF: stored byte for byte, verified on arrival,
    // downloaded the same.
    let signed = parapheur_testkit::signed_pdf(
        &site.app,
        &a,
        "signataire@a.test",
        "Sylvie Moreau",
        "Arrete signe",
    )
    .await;
    let boundary = "frontiere";
    let mut multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"item\"\r\n\
         Content-Type: application/json\r\n\r\n{}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"arrete.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n",
        json!({ "channel": "paper", "subject": "Arrêté signé" })
    )
    .into_bytes();
    multipart.extend_from_slice(&signed);
    multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, _, body) = api_call(
        &site,
        "POST",
        "/items",
        t,
        Some((
            &format!("multipart/form-data; boundary={boundary}"),
            multipart,
        )),
        &[],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let created = parsed(&body);
    let file = &created["files"][0];
    use sha2::Digest;
    assert_eq!(file["sha256"], hex::encode(sha2::Sha256::digest(&signed)));
    assert_eq!(file["signatures"]["verdict"], "valid");
    assert_eq!(
        file["signatures"]["signatures"][0]["signer"],
        "Sylvie Moreau"
    );
    assert_eq!(file["signatures"]["signatures"][0]["intact"], true);
    let (status, headers, downloaded) = api_call(
        &site,
        "GET",
        file["url"]
            .as_str()
            .unwrap()
            .strip_prefix("/api/v1")
            .unwrap(),
        t,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(downloaded, signed, "downloaded byte for byte");
    assert_eq!(
        headers.get("x-content-sha256").unwrap(),
        file["sha256"].as_str().unwrap()
    );
    // Read again: the same verification, kept from the arrival.
    let (_, _, body) = api_call(
        &site,
        "GET",
        &format!("/items/{}", created["id"].as_str().unwrap()),
        t,
        None,
        &[],
    )
    .await;
    assert_eq!(parsed(&body)["files"][0]["signatures"], file["signatures"]);
}

async fn cursors_page_through_everything_once(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let a = site.a.clone();
    let today = parapheur_app::domain::clock::local_date(Utc::now(), a.zone());
    for n in 0..7 {
        register_in(&site, &a, &format!("Courrier {n}")).await;
    }
    // Contacts come with items: register some with a correspondent each.
    for n in 0..5 {
        let party = site
            .app
            .resolve_contact(&a, &format!("Personne {n}"), None)
            .await
            .unwrap();
        site.app
            .register_with_party(
                &a,
                &Actor::System("test"),
                NewItem::incoming(Channel::Paper, format!("Lettre {n}"), today),
                Some(party),
                vec![],
                Utc::now(),
            )
            .await
            .unwrap();
    }
    // A confidential item the agent is not concerned by: never in the agent's pages.
    let mut secret = NewItem::incoming(Channel::Paper, "Confidentiel", today);
    secret.confidentiality = Confidentiality::Confidential;
    site.app
        .register(&a, &Actor::System("test"), secret, vec![], Utc::now())
        .await
        .unwrap();
    let secret_token = token(&site, &a, "agent@a.test", &Scope::ALL).await;
    for (collection, expected) in [("/items", 12), ("/contacts", 5)] {
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let path = match &next {
                Some(c) => format!("{collection}?limit=5&cursor={c}"),
                None => format!("{collection}?limit=5"),
            };
            let (status, _, body) =
                api_call(&site, "GET", &path, Some(&secret_token), None, &[]).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            let page = parsed(&body);
            let data = page["data"].as_array().unwrap();
            assert!(data.len() <= 5);
            seen.extend(data.iter().map(|x| x["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => next = Some(c.to_owned()),
                None => break,
            }
            // A registration between two pages shifts nothing.
            register_in(&site, &a, "Entre deux pages").await;
        }
        let unique: BTreeSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{collection}: a row twice");
        assert_eq!(seen.len(), expected, "{collection}: {seen:?}");
    }
    let (_, _, body) = api_call(
        &site,
        "GET",
        "/items?limit=100",
        Some(&secret_token),
        None,
        &[],
    )
    .await;
    assert!(!String::from_utf8_lossy(&body).contains("Confidentiel"));
    let (status, _, body) = api_call(
        &site,
        "GET",
        "/items?limit=0",
        Some(&secret_token),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
}

both!(
    items_and_contacts_end_to_end,
    cursors_page_through_everything_once
);

/// The owner's role bounds the token: an élu's token cannot be given write scopes, and
/// reads what the élu reads.
#[tokio::test]
async fn a_token_never_does_more_than_its_owner() {
    let site = site().await;
    let a = site.a.clone();
    let maire = user_in(&site, a.id, "maire@a.test").await;
    let refused = site
        .app
        .create_api_token(
            &a,
            &Actor::System("test"),
            NewToken {
                label: "Élu".into(),
                owner_id: maire.id,
                scopes: vec![Scope::ItemsRead, Scope::ItemsWrite],
                expires_at: None,
            },
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("items:write"), "{refused}");
    // Only administrators create tokens (the use case checks, whatever the front end).
    let agent = user_in(&site, a.id, "agent@a.test").await;
    let refused = site
        .app
        .create_api_token(
            &a,
            &Actor::User(agent.id),
            NewToken {
                label: "X".into(),
                owner_id: agent.id,
                scopes: vec![Scope::ItemsRead],
                expires_at: None,
            },
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), parapheur_app::ErrorKind::Forbidden);
    // Another commune's user cannot own a token of A.
    let b_admin = user_in(&site, site.b.id, "admin@b.test").await;
    assert!(
        site.app
            .create_api_token(
                &a,
                &Actor::System("test"),
                NewToken {
                    label: "X".into(),
                    owner_id: b_admin.id,
                    scopes: vec![Scope::ItemsRead],
                    expires_at: None,
                },
                Utc::now(),
            )
            .await
            .is_err()
    );
    // A confidential item: the élu's token reads it, the agent's does not.
    let today = parapheur_app::domain::clock::local_date(Utc::now(), a.zone());
    let mut secret = NewItem::incoming(Channel::Paper, "Confidentiel", today);
    secret.confidentiality = Confidentiality::Confidential;
    let secret = site
        .app
        .register(&a, &Actor::System("test"), secret, vec![], Utc::now())
        .await
        .unwrap();
    let elu = token(&site, &a, "maire@a.test", &[Scope::ItemsRead]).await;
    let agent_token = token(
        &site,
        &a,
        "agent@a.test",
        &[Scope::ItemsRead, Scope::ItemsWrite],
    )
    .await;
    let path = format!("/items/{}", secret.item.id);
    assert_eq!(
        api_call(&site, "GET", &path, Some(&elu), None, &[]).await.0,
        StatusCode::OK
    );
    let (status, _, body) = api_call(&site, "GET", &path, Some(&agent_token), None, &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _, _) = api_call(
        &site,
        "POST",
        &format!("{path}/status"),
        Some(&agent_token),
        json_body(&json!({ "to": "in_progress" })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Calls beyond the minute's allowance are refused with 429 and Retry-After, per token,
/// counted in the database (every node counts the same).
#[tokio::test]
async fn each_token_is_rate_limited() {
    let site = site_with(|config| config.api_requests_per_minute = 3).await;
    let a = site.a.clone();
    let one = token(&site, &a, "agent@a.test", &[Scope::ItemsRead]).await;
    let two = token(&site, &a, "agent@a.test", &[Scope::ItemsRead]).await;
    for _ in 0..3 {
        assert_eq!(
            api_call(&site, "GET", "/items", Some(&one), None, &[])
                .await
                .0,
            StatusCode::OK
        );
    }
    let (status, headers, body) = api_call(&site, "GET", "/items", Some(&one), None, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), "rate_limited");
    let wait: u64 = headers
        .get(header::RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another token has its own allowance.
    assert_eq!(
        api_call(&site, "GET", "/items", Some(&two), None, &[])
            .await
            .0,
        StatusCode::OK
    );
}

/// The administration's page: a token is created for a user with scopes, shown once,
/// listed by its first characters only, and revoked; the API refuses it at once.
#[tokio::test]
async fn administrators_create_list_and_revoke_tokens_on_their_page() {
    let site = site().await;
    let a = site.a.clone();
    let agent = user_in(&site, a.id, "agent@a.test").await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (status, _, page) = send(&site, get("/administration/jetons", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Créer un jeton"), "{page}");
    let (status, _, page) = send(
        &site,
        post(
            "/administration/jetons",
            Some(&cookie),
            &format!(
                "csrf={csrf}&label=Portail+citoyen&owner={}&items_read=1&items_write=1",
                agent.id
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret = page
        .split("<code id=\"jeton\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("the token shown: {page}"))
        .to_owned();
    assert!(secret.starts_with("prph_") && secret.len() > 40, "{secret}");
    assert_eq!(
        api_call(&site, "GET", "/items", Some(&secret), None, &[])
            .await
            .0,
        StatusCode::OK
    );
    // Never shown again: the list has its first characters only.
    let (_, _, page) = send(&site, get("/administration/jetons", Some(&cookie))).await;
    assert!(!page.contains(&secret), "{page}");
    assert!(page.contains(&secret[..12]), "{page}");
    assert!(page.contains("items:read, items:write"), "{page}");
    // The database keeps its hash only.
    let stored = site.app.store().api_tokens(a.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    // Journaled as the administrator's act.
    let admin = user_in(&site, a.id, "admin@a.test").await;
    let entries = site
        .app
        .journal_of(a.id, "api_token", &stored[0].id.to_string())
        .await
        .unwrap();
    assert_eq!(entries[0].actor, format!("user:{}", admin.id));
    assert!(!entries[0].after.as_deref().unwrap_or("").contains(&secret));
    let (status, _, page) = send(
        &site,
        post(
            &format!("/administration/jetons/{}/revoquer", stored[0].id),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("révoqué"), "{page}");
    let (status, _, body) = api_call(&site, "GET", "/items", Some(&secret), None, &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    // An agent cannot reach the page.
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, _) = send(&site, get("/administration/jetons", Some(&cookie))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The document is served as written.
    let (status, _, body) = api_call(&site, "GET", "/openapi.json", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, OPENAPI.as_bytes());
}
