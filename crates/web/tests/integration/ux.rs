//! What people saw wrong on the demo (issue 17): each test fails on the old behaviour.

use axum::http::StatusCode;

use crate::common::*;

/// One click on "Changer le statut" without choosing moved an item to the first status of
/// the list (sometimes backwards): the list now opens on an empty choice, and an empty
/// status is refused.
#[tokio::test]
async fn the_status_list_opens_on_an_empty_choice_that_changes_nothing() {
    let site = site().await;
    let item = register_in(&site, &site.a, "Demande").await.item;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (_, _, page) = send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
    let select = page
        .split("<select id=\"to\"")
        .nth(1)
        .unwrap()
        .split("</select>")
        .next()
        .unwrap();
    let first = select.split("<option").nth(1).unwrap();
    assert!(
        first.starts_with(" value=\"\" selected>"),
        "the first choice is not an empty one: {select}"
    );
    let (status, _, page) = send(
        &site,
        post(
            &format!("/courrier/{}/statut", item.id),
            Some(&cookie),
            &format!("to=&reason=&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Choisissez le nouveau statut"), "{page}");
    let after = site.app.store().item(site.a.id, item.id).await.unwrap();
    assert_eq!(after.status, item.status);
}

/// Error messages are sentences: "Filtre invalide…", not "filtre invalide…".
#[tokio::test]
async fn error_messages_start_with_a_capital() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get("/registre?canal=telepathie", Some(&cookie))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<p>Filtre invalide"), "{page}");
}
