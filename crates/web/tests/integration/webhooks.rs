//! The administration's webhooks page (issue 18, point 2): a URL is subscribed with its
//! events, its secret shown once and journaled without it, deliveries listed with their
//! last answer and sent again with "Renvoyer", the subscription paused and removed; forms
//! need their CSRF token, and only administrators reach the page. The security matrix
//! (`matrix.rs`) covers the other communes and roles.

use axum::http::StatusCode;
use chrono::Utc;

use crate::common::*;

/// A receiver on loopback that accepts everything, answering "bien reçu".
async fn receiver() -> String {
    let router = axum::Router::new().fallback(|| async { (StatusCode::OK, "bien reçu") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/parapheur")
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn administrators_subscribe_list_redeliver_pause_and_remove_webhooks() {
    let site = site().await;
    let a = site.a.clone();
    let url = receiver().await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (status, _, page) = send(&site, get("/administration/webhooks", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Abonner une adresse"), "{page}");
    assert!(page.contains("Aucun envoi."), "{page}");

    let body = format!(
        "label=Portail+citoyen&url={}&item_registered=1&letter_sent=1",
        form_encode(&url)
    );
    // Without the session's CSRF token: refused, nothing created.
    let (status, _, _) = send(
        &site,
        post(
            "/administration/webhooks",
            Some(&cookie),
            &format!("{body}&csrf=forged"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(site.app.store().webhooks(a.id).await.unwrap().is_empty());
    // No event chosen: the form comes back with its reason, nothing created.
    let (status, _, page) = send(
        &site,
        post(
            "/administration/webhooks",
            Some(&cookie),
            &format!("csrf={csrf}&label=Portail&url={}", form_encode(&url)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("au moins un événement"), "{page}");
    assert!(site.app.store().webhooks(a.id).await.unwrap().is_empty());

    let (status, _, page) = send(
        &site,
        post(
            "/administration/webhooks",
            Some(&cookie),
            &format!("{body}&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The secret is base64: its slashes are HTML-escaped in the page.
    let page = page.replace("&#x2f;", "/");
    let secret = page
        .split("<code id=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("the secret shown: {page}"))
        .to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    let stored = site.app.store().webhooks(a.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].events, ["item.registered", "letter.sent"]);
    assert!(!stored[0].secret_sealed.contains(&secret[6..]));
    // The record of processing (RGPD art. 30) names it among the recipients.
    let (_, _, record) = send(
        &site,
        get("/administration/registre-des-traitements", Some(&cookie)),
    )
    .await;
    assert!(
        record.contains(&format!("webhooks : {} (127.0.0.1:", stored[0].label)),
        "{record}"
    );
    let entries = site
        .app
        .journal_of(a.id, "webhook", &stored[0].id.to_string())
        .await
        .unwrap();
    let admin = user_in(&site, a.id, "admin@a.test").await;
    assert_eq!(entries[0].actor, format!("user:{}", admin.id));
    assert!(
        !entries[0]
            .after
            .as_deref()
            .unwrap_or("")
            .contains(&secret[6..])
    );

    // An item registered is delivered; the page shows the answer, never the secret again.
    register_in(&site, &a, "Demande de salle").await;
    let report = site.app.deliver_webhooks(Utc::now()).await.unwrap();
    assert_eq!(report.delivered, 1);
    let (_, _, page) = send(&site, get("/administration/webhooks", Some(&cookie))).await;
    let page = page.replace("&#x2f;", "/");
    assert!(!page.contains(&secret[6..]), "{page}");
    assert!(
        page.contains("courrier enregistré, courrier envoyé"),
        "{page}"
    );
    assert!(
        page.contains("remis") && page.contains("HTTP 200"),
        "{page}"
    );
    assert!(page.contains("bien reçu"), "{page}");
    let delivery = site
        .app
        .store()
        .webhook_deliveries(a.id, None, 10)
        .await
        .unwrap()
        .remove(0);
    let (status, _, page) = send(
        &site,
        post(
            &format!("/administration/webhooks/envois/{}/renvoyer", delivery.id),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("remis dans la file"), "{page}");
    assert_eq!(
        site.app
            .deliver_webhooks(Utc::now())
            .await
            .unwrap()
            .delivered,
        1
    );

    // Paused, then removed.
    let id = stored[0].id;
    let (status, _, page) = send(
        &site,
        post(
            &format!("/administration/webhooks/{id}/etat"),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("en pause"), "{page}");
    assert!(!site.app.store().webhook(a.id, id).await.unwrap().active);
    let (status, _, page) = send(
        &site,
        post(
            &format!("/administration/webhooks/{id}/supprimer"),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("supprimé"), "{page}");
    assert!(site.app.store().webhooks(a.id).await.unwrap().is_empty());

    // An agent cannot reach the page.
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, _) = send(&site, get("/administration/webhooks", Some(&cookie))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
