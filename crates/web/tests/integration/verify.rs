//! Signed PDFs that arrive from elsewhere: checked on the item's page as the reference
//! validators check them.

use axum::http::StatusCode;
use base64::Engine;
use chrono::Utc;

use crate::common::*;

/// Issue 22's acceptance: a PDF signed twice by another stack and sent by email is shown,
/// from its item's page, as signed twice and intact; the commune does not know the
/// signers' authority, and the page says so rather than calling the signatures valid.
#[tokio::test]
async fn a_pdf_signed_twice_elsewhere_is_shown_signed_twice_and_intact() {
    use parapheur_app::capture::{CaptureOutcome, MessageSource};
    let site = site().await;
    let signed = parapheur_testkit::signed_twice_by_another_stack();
    let pdf = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(signed.path().join("a_two_approvals.pdf")).unwrap());
    let raw = format!(
        "From: Préfecture <courrier@prefecture.example>\r\nTo: mairie@a.test\r\n\
         Subject: =?utf-8?q?Arr=C3=AAt=C3=A9_sign=C3=A9?=\r\nMessage-ID: <arrete@prefecture.example>\r\n\
         Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nVeuillez trouver l'arrêté signé.\r\n--b\r\n\
         Content-Type: application/pdf; name=\"arrete.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"arrete.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
    );
    let outcome = site
        .app
        .capture_message(
            &site.a,
            MessageSource::import("test"),
            Ok(raw.into_bytes()),
            Utc::now(),
        )
        .await
        .unwrap();
    let CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) = send(&site, get(&format!("/courrier/{item_id}"), Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    let page = page.replace("&#x2f;", "/");
    let link = page
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.ends_with("/signatures"))
        .unwrap_or_else(|| panic!("no link to the signatures: {page}"))
        .to_owned();
    let (status, _, page) = send(&site, get(&link, Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("arrete.pdf"), "{page}");
    assert!(page.contains("3 révisions du fichier"), "{page}");
    assert!(
        page.contains("Les signatures sont intactes et rien d&#x27;interdit n&#x27;a été modifié après elles, mais la commune ne reconnaît pas le certificat"),
        "{page}"
    );
    assert_eq!(page.matches("<h3>").count(), 2, "two signatures: {page}");
    assert!(
        page.contains("Alice Lefèvre") && page.contains("Bob Marchand"),
        "{page}"
    );
    assert_eq!(
        page.matches("intacte : le contenu signé n&#x27;a pas changé")
            .count(),
        2,
        "{page}"
    );
    assert!(!page.contains("ALTÉRÉE"), "{page}");
    assert!(!page.contains("Modifié après la signature"), "{page}");
    // Bob's signature after Alice's is an allowed change, said as such.
    assert!(page.contains("Ajouts permis depuis"), "{page}");
    assert!(page.contains("signature « Signature2 » ajoutée"), "{page}");
    assert!(page.contains("date non prouvée"), "{page}");
    assert_eq!(
        page.matches("non reconnu : le certificat du signataire n&#x27;est pas émis par une autorité de confiance")
            .count(),
        2,
        "{page}"
    );
    // Another commune does not reach it.
    let (other, _) = login(&site, "agent@b.test").await;
    assert_eq!(
        send(&site, get(&link, Some(&other))).await.0,
        StatusCode::NOT_FOUND
    );
}

/// Issue 18, point 6: a PDF signed by the product's own signing and sent by email is
/// stored with the same SHA-256 and shown on its item's page as signed and intact; the
/// same PDF with one letter of its signed content changed is stored as it came, and shown
/// as altered.
#[tokio::test]
async fn a_signed_pdf_by_email_is_kept_intact_and_said_signed_on_its_page() {
    use parapheur_app::capture::{CaptureOutcome, MessageSource};
    use sha2::Digest;
    let site = site().await;
    let signed = parapheur_testkit::signed_pdf(
        &site.app,
        &site.a,
        "sylvie.moreau@a.test",
        "Sylvie Moreau",
        "Arrete de voirie",
    )
    .await;
    let tampered = parapheur_testkit::altered(&signed, "Arrete de voirie");
    let mut pages = Vec::new();
    for (name, pdf) in [("arrete.pdf", &signed), ("arrete-modifie.pdf", &tampered)] {
        let outcome = site
            .app
            .capture_message(
                &site.a,
                MessageSource::import(name),
                Ok(parapheur_testkit::mail_with_pdf(
                    "Préfecture <courrier@prefecture.example>",
                    "Arrêté",
                    name,
                    pdf,
                )),
                Utc::now(),
            )
            .await
            .unwrap();
        let CaptureOutcome::Registered { item_id, .. } = outcome else {
            panic!("{outcome:?}")
        };
        let attachment = &site.app.attachments(site.a.id, item_id).await.unwrap()[0];
        assert_eq!(
            attachment.sha256,
            hex::encode(sha2::Sha256::digest(pdf)),
            "{name}: stored with the SHA-256 of what was sent"
        );
        assert_eq!(
            &site
                .app
                .read_file(site.a.id, &attachment.sha256)
                .await
                .unwrap(),
            pdf
        );
        let (cookie, _) = login(&site, "agent@a.test").await;
        let (status, _, page) =
            send(&site, get(&format!("/courrier/{item_id}"), Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&attachment.sha256), "{page}");
        pages.push(page);
    }
    let (intact, altered) = (&pages[0], &pages[1]);
    assert!(
        intact.contains("Signé par Sylvie Moreau le ") && intact.contains(", intact</li>"),
        "{intact}"
    );
    assert!(
        intact.contains("signé, intact, signataire reconnu par la commune"),
        "{intact}"
    );
    assert!(
        intact.contains("Signatures vérifiées à l'arrivée le"),
        "{intact}"
    );
    assert!(!intact.contains("altérée"), "{intact}");
    assert!(
        altered.contains("Signé par Sylvie Moreau le ")
            && altered.contains(", signature altérée</li>"),
        "{altered}"
    );
    assert!(altered.contains("<li class=\"ko\">"), "{altered}");
    assert!(
        altered.contains("signature altérée : le contenu signé a changé"),
        "{altered}"
    );
}
