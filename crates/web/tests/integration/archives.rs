//! The archivist's page (issue 16): rules, proposal, visa, elimination and certificate, a
//! SEDA transfer and its reply, through the real router; a status change to "détruit" refused
//! with the French reason. On PostgreSQL with `PARAPHEUR_TEST_BACKEND=postgres`.

use crate::common::*;
use axum::http::{StatusCode, header};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::archives::seda::reply_xml;
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::{Channel, CloseReason, Status};
use parapheur_app::{Change, NewFile};

async fn closed(site: &Site, subject: &str, doctype: &str) -> parapheur_app::domain::Item {
    let system = Actor::System("test");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let mut new = NewItem::incoming(Channel::Paper, subject, today);
    new.doctype_code = Some(doctype.into());
    let file = NewFile {
        filename: format!("{subject}.pdf"),
        media_type: "application/pdf".into(),
        bytes: format!("%PDF-1.4 {subject}").into_bytes(),
    };
    let item = site
        .app
        .register(&site.a, &system, new, vec![file], Utc::now())
        .await
        .unwrap()
        .item;
    let close = Change::Status {
        to: Status::Closed,
        reason: Some(CloseReason::Answered),
    };
    site.app
        .change_item(&site.a, &system, item.id, close, Utc::now())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_archivist_eliminates_with_the_visa_and_transfers_from_the_archives_page() {
    let site = site().await;
    let (archivist, csrf) = login(&site, "archiviste@a.test").await;
    let (agent, agent_csrf) = login(&site, "agent@a.test").await;
    let gone = closed(&site, "Invitation au vernissage", "invitation").await;
    let kept = closed(&site, "Demande de subvention", "subvention").await;

    // Correction 5: the item page cannot destroy; the reason is in French.
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/statut", gone.id),
            Some(&agent),
            &format!("to=destroyed&csrf={agent_csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("Archives départementales"), "{page}");
    // The page is the archivist's.
    let (status, _, _) = send(&site, get("/archives", Some(&agent))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The rule, edited: invitations due from their registration.
    let (status, _, _) = send(
        &site,
        post(
            "/archives/regles/invitation",
            Some(&archivist),
            &format!("years=0&fate=destroy&start=registration&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = send(&site, get("/archives", Some(&archivist))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&gone.chrono) && page.contains("Tableau de gestion"),
        "{page}"
    );
    assert!(page.contains("aria-current=\"page\">Archives</a>"));

    let (status, _, _) = send(
        &site,
        post(
            "/archives/propositions",
            Some(&archivist),
            &format!("ids={}&csrf={csrf}", gone.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let proposal = site
        .app
        .eliminations(&site.a, &Actor::System("test"))
        .await
        .unwrap()
        .remove(0);
    let base = format!("/archives/propositions/{}", proposal.id);
    let (status, headers, pdf) = send(
        &site,
        get(&format!("{base}/bordereau.pdf"), Some(&archivist)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    assert!(pdf.starts_with("%PDF-"));
    let eliminate = || {
        post(
            &format!("{base}/eliminer"),
            Some(&archivist),
            &format!("csrf={csrf}"),
        )
    };
    let (status, _, page) = send(&site, eliminate()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("visa"), "{page}");
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone());
    let (status, _, _) = send(
        &site,
        post(
            &format!("{base}/visa"),
            Some(&archivist),
            &format!("signataire=La+directrice&date={today}&numero=V-7&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = send(&site, eliminate()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, pdf) = send(
        &site,
        get(&format!("{base}/certificat.pdf"), Some(&archivist)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with("%PDF-"));
    let line = site.app.item(site.a.id, gone.id).await.unwrap();
    assert_eq!(line.status, Status::Destroyed);
    let (_, _, page) = send(
        &site,
        get(&format!("/courrier/{}", gone.id), Some(&archivist)),
    )
    .await;
    assert!(page.contains("visa n° V-7"), "{page}");

    // A transfer: the message validates; the reply archives the item.
    let (status, _, _) = send(
        &site,
        post(
            "/archives/versements",
            Some(&archivist),
            &format!("numeros={}&service=&csrf={csrf}", kept.chrono),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let transfer = site
        .app
        .transfers(&site.a, &Actor::System("test"))
        .await
        .unwrap()
        .remove(0);
    let (status, _, xml) = send(
        &site,
        get(
            &format!("/archives/versements/{}/message.xml", transfer.id),
            Some(&archivist),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    parapheur_testkit::validate_seda_bytes(xml.as_bytes());
    let agency = format!("FRAD{:0>3}", site.a.departement);
    let reply = reply_xml(
        "R-9",
        &transfer.identifier,
        "OK",
        Utc::now(),
        &agency,
        &site.a.siren,
    );
    parapheur_testkit::validate_seda_bytes(reply.as_bytes());
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("reponse", &reply)
        .append_pair("csrf", &csrf)
        .finish();
    let (status, _, page) = send(
        &site,
        post(
            &format!("/archives/versements/{}/reponse", transfer.id),
            Some(&archivist),
            &form,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        site.app.item(site.a.id, kept.id).await.unwrap().status,
        Status::Archived
    );
}
