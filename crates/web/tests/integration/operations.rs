//! Operations: the health report for load balancers, the metrics behind their token, and
//! the host administrator's page of the nodes.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::common::*;

#[tokio::test]
async fn the_health_report_says_what_was_checked_and_fails_without_a_database() {
    let site = site().await;
    let (status, headers, body) = send(&site, get("/sante", None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["healthy"], true);
    assert_eq!(report["base_de_donnees"]["etat"], "ok");
    assert_eq!(report["stockage"]["etat"], "ok");
    // A box without [backup] says so; on PostgreSQL the host makes the copies.
    let on_postgres = std::env::var("PARAPHEUR_TEST_BACKEND").is_ok_and(|b| b == "postgres");
    if on_postgres {
        assert_eq!(report["copie_hors_site"]["etat"], "ok", "{body}");
        assert_eq!(
            report["copie_hors_site"]["detail"],
            "assurée par l'hébergeur"
        );
    } else {
        assert_eq!(
            report["copie_hors_site"]["etat"], "non configurée",
            "{body}"
        );
    }
    assert!(report["boucles"].is_array());
    // The bare check is still there.
    assert_eq!(send(&site, get("/healthz", None)).await.2, "ok");
    // Without its database the node says so, and a load balancer takes it out.
    site.app.close().await;
    let (status, _, body) = send(&site, get("/sante", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["healthy"], false);
    assert_eq!(report["base_de_donnees"]["etat"], "erreur");
}

fn metrics_request(token: Option<&str>) -> Request<Body> {
    let mut r = Request::get("/metrics").header(header::HOST, "mairie.test");
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn metrics_are_off_by_default_and_then_need_their_token() {
    let site = site().await;
    let (status, _, _) = send(&site, metrics_request(Some("n'importe-quel-jeton"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let token = "un-jeton-de-metriques-assez-long";
    let site = site_with(|config| config.metrics_token = Some(token.into())).await;
    assert_eq!(
        send(&site, metrics_request(None)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(
            &site,
            metrics_request(Some("un-autre-jeton-tout-aussi-long"))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    send(&site, get("/connexion", None)).await;
    let (status, headers, body) = send(&site, metrics_request(Some(token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    // The login page answered 200, the refused scrapes 404: each counted by status.
    let count = |line: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no « {line} » in\n{body}"))
    };
    assert!(count("parapheur_http_responses_total{status=\"200\"}") >= 1);
    assert_eq!(count("parapheur_http_responses_total{status=\"404\"}"), 2);
    assert_eq!(count("parapheur_emails_sent_total"), 0);
    assert!(body.contains("# TYPE parapheur_jobs_done_total counter"));
}

#[tokio::test]
async fn the_host_administrator_sees_each_node_and_its_loops() {
    let site = site().await;
    site.app.heartbeat(false).await.unwrap();
    let (cookie, _) = login(&site, "admin@a.test").await;
    let (status, _, page) = send(&site, get("/hebergement/noeuds", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Nœuds et tâches de fond"), "{page}");
    assert!(page.contains(&site.app.node().name), "{page}");
    assert!(
        page.contains("(ce nœud)") && page.contains("en marche"),
        "{page}"
    );
    // A commune's administrator who does not host is refused.
    let (cookie, _) = login(&site, "admin@b.test").await;
    let (status, _, _) = send(&site, get("/hebergement/noeuds", Some(&cookie))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
