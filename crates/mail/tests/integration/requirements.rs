//! One test per behaviour the application relies on, mostly on the hand-written hard
//! cases of `tests/corpus/own/`.

use parapheur_mail::{Limits, ParsedMail, Rejection, parse, rewrite_cid_urls};

fn own(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/own/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_own(name: &str) -> ParsedMail {
    parse(&own(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn has_warning(m: &ParsedMail, needle: &str) -> bool {
    m.warnings.iter().any(|w| w.contains(needle))
}

#[test]
fn rejections_have_french_reasons() {
    let limits = Limits::default();
    assert_eq!(parse(b"", &limits), Err(Rejection::Empty));
    assert_eq!(parse(b" \r\n\r\n", &limits), Err(Rejection::Empty));
    assert_eq!(Rejection::Empty.to_string(), "message vide");

    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let err = parse(&garbage, &limits).unwrap_err();
    assert!(matches!(err, Rejection::NotAMessage(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("ce n'est pas un message électronique : "),
        "{err}"
    );

    let err = parse(b"Bonjour Madame,\nje vous \xe9cris...\n", &limits).unwrap_err();
    assert!(matches!(err, Rejection::NotAMessage(_)));
    let err = parse(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", &limits).unwrap_err();
    assert!(err.to_string().contains("document PDF"), "{err}");
    // A header-like first line but nothing a message has.
    let err = parse(b"Note: acheter du pain\n\nrien\n", &limits).unwrap_err();
    assert!(matches!(err, Rejection::NotAMessage(_)), "{err:?}");
}

#[test]
fn too_large_is_checked_before_parsing() {
    let limits = Limits {
        max_message_bytes: 1000,
        ..Limits::default()
    };
    // Garbage that would be NotAMessage: size wins, so no parsing happened.
    let err = parse(&[0xff; 1001], &limits).unwrap_err();
    assert_eq!(
        err,
        Rejection::TooLarge {
            size: 1001,
            limit: 1000
        }
    );
    assert_eq!(
        err.to_string(),
        "message trop volumineux : 1001 octets pour une limite de 1000 octets"
    );
    assert!(parse(&own("reply-chrono.eml")[..], &limits).is_ok());
}

#[test]
fn reply_keeps_threading_and_quoted_chrono_number() {
    let m = parse_own("reply-chrono.eml");
    assert_eq!(
        m.message_id.as_deref(),
        Some("b7c1f0e2-3a4d-4e5f-9a8b-7c6d5e4f3a2b@exemple.fr")
    );
    assert_eq!(m.in_reply_to, ["2026-A-000123.courrier@mairie-exemple.fr"]);
    assert_eq!(
        m.references,
        [
            "2026-A-000100@mairie-exemple.fr",
            "2026-A-000123.courrier@mairie-exemple.fr"
        ]
    );
    let from = m.from.unwrap();
    assert_eq!(from.email, "jeanne.martin@exemple.fr");
    assert_eq!(from.name.as_deref(), Some("Jeanne Martin"));
    assert_eq!(m.to[0].name.as_deref(), Some("Mairie de Saint-Exemple"));
    assert_eq!(
        m.subject,
        "Re: Votre demande d'élagage - Votre courrier 2026-A-000123"
    );
    assert_eq!(m.date.unwrap().to_rfc3339(), "2026-01-14T17:20:00+00:00");
    assert!(
        m.text_body
            .contains("> Votre courrier 2026-A-000123 du 5 janvier a bien été reçu.")
    );
    assert!(
        m.text_body
            .contains("l'élagage peut avoir lieu le 20 janvier")
    );
    assert!(!m.text_body.contains('\r'));
    assert_eq!(m.html_body, None);
    assert!(m.attachments.is_empty());
    assert!(!m.looks_like_scan);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn copier_scans_are_recognised() {
    for name in ["scan-ricoh.eml", "scan-canon-fr.eml"] {
        let m = parse_own(name);
        assert!(m.looks_like_scan, "{name}: {:?}", m.text_body);
        assert_eq!(m.attachments.len(), 1, "{name}");
        assert_eq!(m.attachments[0].media_type, "application/pdf");
        assert!(m.attachments[0].bytes.starts_with(b"%PDF-"));
    }
    let canon = parse_own("scan-canon-fr.eml");
    assert_eq!(
        canon.attachments[0].filename,
        "Numérisation_20260113_140255.pdf"
    );
    assert_eq!(canon.subject, "Numérisation");

    // A scan with no body at all, and a person's letter with the same PDF.
    let pdf_part = "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
    let empty = format!(
        "From: scan@x.fr\r\nSubject: \r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{pdf_part}"
    );
    let m = parse(empty.as_bytes(), &Limits::default()).unwrap();
    assert!(m.looks_like_scan);
    assert_eq!(m.attachments[0].filename, "piece-jointe-1.pdf");
    let letter = format!(
        "From: Jean <jean@x.fr>\r\nSubject: Demande\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nBonjour, je vous adresse ma demande de raccordement au réseau d'eau.\r\nJean\r\n{pdf_part}"
    );
    assert!(
        !parse(letter.as_bytes(), &Limits::default())
            .unwrap()
            .looks_like_scan
    );
    // No PDF or image: never a scan.
    assert!(
        !parse(
            b"From: scanner@x.fr\r\nX-Mailer: RICOH\r\n\r\n",
            &Limits::default()
        )
        .unwrap()
        .looks_like_scan
    );
}

#[test]
fn hostile_html_is_sanitised() {
    let m = parse_own("html-hostile.eml");
    let html = m.html_body.clone().unwrap();
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        "alert(",
        "onerror",
        "onload",
        "tracker.example",
        "cdn.example",
        "data:",
        "url(",
        "<iframe",
        "<object",
        "<form",
        "<input",
        "javascript:",
        "evil.example",
        "<style",
        "<link",
        "style=",
        "/relative/path",
    ] {
        assert!(!lower.contains(bad), "{bad} still in {html}");
    }
    assert!(html.contains(r#"src="cid:logo@asso.example""#), "{html}");
    assert!(
        html.contains(r#"alt="Logo association""#),
        "remote image keeps its alt text: {html}"
    );
    assert!(html.contains("https://asso.example/dossier"));
    assert!(html.contains(r#"rel="noopener noreferrer nofollow""#));
    assert!(html.contains(r#"target="_blank""#));
    // Readable text: no tags, no script or style content, entities decoded.
    assert!(
        m.text_body
            .contains("Bonjour, voici ma demande de subvention."),
        "{}",
        m.text_body
    );
    assert!(
        m.text_body
            .contains("Association des Amis du Lavoir – Présidente")
    );
    for bad in ["<", "document.location", "background", "alert"] {
        assert!(!m.text_body.contains(bad), "{bad} in text: {}", m.text_body);
    }
    // The inline logo is an inline attachment with its Content-ID, mapped for display.
    let logo = m
        .attachments
        .iter()
        .find(|a| a.content_id.as_deref() == Some("logo@asso.example"))
        .unwrap();
    assert!(logo.inline);
    assert_eq!(logo.media_type, "image/png");
    let shown = rewrite_cid_urls(&html, |cid| {
        (cid == "logo@asso.example").then(|| "/pieces/7".to_string())
    });
    assert!(shown.contains(r#"src="/pieces/7""#));
    assert!(!m.looks_like_scan, "a logo is not a scan");
}

#[test]
fn each_html_attack_alone() {
    let cases = [
        ("<p>a</p><script>alert(1)</script>", "alert"),
        (r#"<img src="x" onerror="alert(1)">"#, "onerror"),
        (r#"<img src="http://t.example/p.gif">"#, "t.example"),
        (r#"<img src="https://t.example/p.gif">"#, "t.example"),
        (r#"<img src="//t.example/p.gif">"#, "t.example"),
        (r#"<img src="data:image/gif;base64,R0lGOD==">"#, "data:"),
        (
            r#"<div style="background:url(http://t.example/x)">a</div>"#,
            "t.example",
        ),
        (
            "<style>p{background:url(http://t.example/x)}</style><p>a</p>",
            "t.example",
        ),
        (r#"<iframe src="https://t.example"></iframe>"#, "iframe"),
        (r#"<form action="https://t.example"><input></form>"#, "form"),
        (r#"<a href="javascript:alert(1)">x</a>"#, "javascript"),
        (r#"<a href="JaVaScRiPt:alert(1)">x</a>"#, "alert"),
        (
            r#"<table background="http://t.example/bg.png"><tr><td>a</td></tr></table>"#,
            "t.example",
        ),
        (
            r#"<img srcset="http://t.example/a.png 2x" src="cid:a">"#,
            "t.example",
        ),
        (
            r#"<video poster="http://t.example/p.png"></video>"#,
            "t.example",
        ),
        (
            r#"<body background="http://t.example/p.png">a</body>"#,
            "t.example",
        ),
        (
            r#"<svg><image href="http://t.example/p.png"/></svg>"#,
            "t.example",
        ),
        (
            r#"<math><a xlink:href="javascript:alert(1)">x</a></math>"#,
            "javascript",
        ),
    ];
    for (html, bad) in cases {
        let raw = format!(
            "From: a@b.fr\r\nSubject: t\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>{html}<p>fin</p></body></html>"
        );
        let m = parse(raw.as_bytes(), &Limits::default()).unwrap();
        let out = m.html_body.unwrap_or_default();
        assert!(!out.to_lowercase().contains(bad), "{html} -> {out}");
        assert!(
            !m.text_body.contains(bad) || bad == "form",
            "{html} -> text {}",
            m.text_body
        );
    }
}

#[test]
fn html_only_message_gets_text_derived_from_html() {
    let m = parse_own("html-only.eml");
    assert_eq!(
        m.text_body,
        "Bonjour,\n\nJe souhaite inscrire mon fils à la cantine.\n\nVotre courrier 2026-A-000200"
    );
    assert!(m.html_body.unwrap().contains("cantine"));
}

#[test]
fn truncated_multipart_is_kept_with_a_warning() {
    let m = parse_own("truncated-multipart.eml");
    assert!(has_warning(&m, "message tronqué : "), "{:?}", m.warnings);
    assert!(m.text_body.contains("voici mon dossier"));
    assert_eq!(m.subject, "Dossier complet");
    assert_eq!(m.from.unwrap().email, "paul.durand@exemple.fr");

    // A single base64 part cut in the middle of a quantum.
    let raw = b"From: a@b.fr\r\nSubject: t\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJeLjz9MKMSAwIG9iag";
    let m = parse(raw, &Limits::default()).unwrap();
    assert!(has_warning(&m, "message tronqué"), "{:?}", m.warnings);
    // A complete message has no such warning.
    assert!(!has_warning(&parse_own("scan-canon-fr.eml"), "tronqué"));
}

#[test]
fn charsets() {
    let m = parse_own("unknown-charset.eml");
    assert!(
        has_warning(
            &m,
            "jeu de caractères inconnu « x-foo » : texte lu en UTF-8 avec remplacements"
        ),
        "{:?}",
        m.warnings
    );
    assert!(m.text_body.starts_with("Compte rendu de la r"));

    let m = parse_own("windows-1252.eml");
    assert_eq!(m.subject, "Réclamation – éclairage public");
    assert_eq!(
        m.from.as_ref().unwrap().name.as_deref(),
        Some("Hélène Léger")
    );
    assert!(m.text_body.contains("L'éclairage de la rue est en panne depuis une semaine – merci d'intervenir. Coût estimé : 50 €."), "{}", m.text_body);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    let m = parse_own("iso-8859-1.eml");
    assert_eq!(m.subject, "Demande d'accès");
    assert!(
        m.text_body
            .contains("accéder au registre des délibérations")
    );
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    // Undeclared 8-bit text that is not UTF-8: replaced, and said so.
    let m = parse(
        b"From: a@b.fr\r\nSubject: t\r\n\r\nd\xe9j\xe0\r\n",
        &Limits::default(),
    )
    .unwrap();
    assert!(has_warning(&m, "illisibles"), "{:?}", m.warnings);
}

#[test]
fn ten_thousand_recipients() {
    let mut raw =
        String::from("From: Liste <liste@exemple.fr>\r\nSubject: Lettre d'information\r\nTo: ");
    for i in 0..8000 {
        if i > 0 {
            raw.push_str(",\r\n ");
        }
        raw.push_str(&format!("Habitant {i} <habitant{i}@Exemple.FR>"));
    }
    raw.push_str("\r\nCc: ");
    for i in 0..2000 {
        if i > 0 {
            raw.push_str(", ");
        }
        raw.push_str(&format!("elu{i}@exemple.fr"));
    }
    raw.push_str("\r\n\r\nBonjour\r\n");
    let start = std::time::Instant::now();
    let m = parse(raw.as_bytes(), &Limits::default()).unwrap();
    assert!(start.elapsed().as_secs() < 5);
    assert_eq!(m.recipients_total, 10_000);
    assert_eq!(m.to.len() + m.cc.len(), 50);
    assert_eq!(m.to[0].email, "habitant0@exemple.fr");
    assert_eq!(m.to[49].name.as_deref(), Some("Habitant 49"));
    assert!(m.cc.is_empty());
    assert!(
        has_warning(&m, "10 000 destinataires : 50 conservés"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn forwarded_message_is_kept_as_eml() {
    let m = parse_own("forward-rfc822.eml");
    assert!(m.text_body.contains("À enregistrer"));
    assert_eq!(
        m.attachments.len(),
        1,
        "{:?}",
        m.attachments
            .iter()
            .map(|a| &a.filename)
            .collect::<Vec<_>>()
    );
    let eml = &m.attachments[0];
    assert_eq!(eml.media_type, "message/rfc822");
    assert!(eml.filename.ends_with(".eml"), "{}", eml.filename);
    // The kept bytes are a whole message, which parses on its own with its PDF.
    let inner = parse(&eml.bytes, &Limits::default()).unwrap();
    assert_eq!(inner.subject, "Arrêté préfectoral n° 2026-17");
    assert_eq!(
        inner.message_id.as_deref(),
        Some("arrete-2026-17@prefecture.example")
    );
    assert_eq!(inner.attachments.len(), 1);
    assert_eq!(inner.attachments[0].filename, "arrete-2026-17.pdf");
    assert!(!m.looks_like_scan);
}

#[test]
fn pdf_warnings_keep_the_file() {
    let m = parse_own("pdf-encrypted.eml");
    assert_eq!(m.attachments.len(), 1);
    assert!(
        has_warning(&m, "pièce jointe « releve-protege.pdf » : PDF chiffré"),
        "{:?}",
        m.warnings
    );
    assert!(!has_warning(&m, "JavaScript"));

    let m = parse_own("pdf-javascript.eml");
    assert_eq!(m.attachments.len(), 1);
    assert!(
        has_warning(&m, "PDF contenant du JavaScript (jamais exécuté)"),
        "{:?}",
        m.warnings
    );
    assert!(!has_warning(&m, "chiffré"));
    assert!(!m.looks_like_scan, "a real letter with a PDF is not a scan");
}

#[test]
fn tnef_and_zip_are_kept_as_they_are() {
    let m = parse_own("tnef-winmail.eml");
    let dat = &m.attachments[0];
    assert_eq!(dat.filename, "winmail.dat");
    assert_eq!(dat.media_type, "application/ms-tnef");
    assert!(dat.bytes.starts_with(&[0x78, 0x9f, 0x3e, 0x22]));

    // A 4 GiB declared content is never unpacked: the zip stays a small attachment.
    let start = std::time::Instant::now();
    let m = parse_own("zip-bomb.eml");
    assert!(start.elapsed().as_secs() < 2);
    let zip = &m.attachments[0];
    assert_eq!(zip.filename, "documents.zip");
    assert!(zip.bytes.starts_with(b"PK\x03\x04"));
    assert!(zip.bytes.len() < 64 * 1024);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn attachment_limits() {
    let raw = own("zip-bomb.eml");
    let limits = Limits {
        max_attachment_bytes: 100,
        ..Limits::default()
    };
    let m = parse(&raw, &limits).unwrap();
    assert!(m.attachments.is_empty());
    assert!(
        has_warning(
            &m,
            "pièce jointe « documents.zip » (1,1 Ko) non conservée : elle dépasse 100 octets — elle reste dans le message d'origine"
        ),
        "{:?}",
        m.warnings
    );

    let mut raw = String::from(
        "From: a@b.fr\r\nSubject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
    );
    for i in 0..5 {
        raw.push_str(&format!("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"f{i}.bin\"\r\n\r\nx\r\n"));
    }
    raw.push_str("--b--\r\n");
    let m = parse(
        raw.as_bytes(),
        &Limits {
            max_attachments: 3,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(
        m.attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect::<Vec<_>>(),
        ["f0.bin", "f1.bin", "f2.bin"]
    );
    assert!(
        has_warning(&m, "5 pièces jointes : les 3 premières sont conservées"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn hostile_filenames_and_body_limit() {
    let raw = "From: a@b.fr\r\nSubject: =?utf-8?q?Objet=0Aavec__saut?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nabcdefghij\r\n\
        --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nx\r\n\
        --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"\"\r\n\r\nx\r\n\
        --b--\r\n";
    let m = parse(
        raw.as_bytes(),
        &Limits {
            max_body_chars: 4,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(m.subject, "Objet avec saut");
    assert_eq!(m.attachments[0].filename, "passwd");
    assert_eq!(m.attachments[1].filename, "piece-jointe-2.pdf");
    assert_eq!(m.text_body, "abcd");
    assert!(
        has_warning(&m, "texte du message tronqué à 4 caractères"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn parsing_is_fast_on_large_bodies() {
    // 5 MB of text and 5 MB of HTML: linear work only.
    let line = "Ligne de texte du courrier avec des accents éèà et un numéro 2026-A-000123.\r\n";
    let mut raw = String::from(
        "From: a@b.fr\r\nSubject: gros\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    raw.push_str(&line.repeat(65_000));
    raw.push_str("--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>");
    raw.push_str(&format!("<p>{line}</p>").repeat(65_000));
    raw.push_str("</body></html>\r\n--b--\r\n");
    let start = std::time::Instant::now();
    let m = parse(raw.as_bytes(), &Limits::default()).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(m.text_body.chars().count(), 1_000_000);
    assert!(has_warning(&m, "texte du message tronqué"));
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
}

/// Found by fuzzing (fuzz/crashes/mail_parse): a multipart whose parts are `message/rfc822`
/// with no body trips a `debug_assert!` of mail-parser 0.11 ("Invalid part ID, could not
/// find multipart"). parse() answers all the same: in a debug build with the panic caught
/// (quarantine, the original is kept), in a release build with what mail-parser read.
#[test]
fn nested_messages_without_bodies_do_not_panic() {
    let raw = b"Content-Type:multipart;boundary=unique\n\n--uniqueContent-Type:message/rfc822\n\n\
                Content-Type:message/rfc822\n\n\n--unique--";
    if let Err(Rejection::Internal(reason)) = parse(raw, &Limits::default()) {
        let debug_assertion = cfg!(debug_assertions) && reason.contains("Invalid part ID");
        assert!(debug_assertion, "{reason}");
    }
}

/// Correction 6 of issue 16: an email counts from its delivery, the topmost Received
/// header, not from the day it was polled; then the sender's Date, believed only close to
/// the capture; never after the capture.
#[test]
fn delivery_date_is_the_topmost_received_bounded() {
    use chrono::{TimeZone, Utc};
    let message = "Received: from mx.fournisseur.fr by imap.fournisseur.fr; \
                   Fri, 6 Nov 2026 18:40:00 +0100\r\n\
                   Received: from relais.exemple.fr by mx.fournisseur.fr; \
                   Fri, 6 Nov 2026 18:39:58 +0100\r\n\
                   Received: from faux.exemple by relais.exemple.fr; \
                   Mon, 1 Jan 2024 08:00:00 +0100\r\n\
                   From: Jeanne Martin <jeanne@exemple.fr>\r\n\
                   Date: Thu, 5 Nov 2026 10:00:00 +0100\r\n\
                   Subject: Demande\r\n\r\nBonjour.\r\n";
    let mail = parse(message.as_bytes(), &Limits::default()).unwrap();
    let friday = Utc.with_ymd_and_hms(2026, 11, 6, 17, 40, 0).unwrap();
    assert_eq!(mail.received, Some(friday));
    let monday = Utc.with_ymd_and_hms(2026, 11, 9, 8, 0, 0).unwrap();
    assert_eq!(mail.delivered_at(monday), friday);
    // A clock ahead: never after the capture.
    let thursday = Utc.with_ymd_and_hms(2026, 11, 5, 8, 0, 0).unwrap();
    assert_eq!(mail.delivered_at(thursday), thursday);
    // More than a year before the capture: not believed; the Date is too old as well.
    let later = Utc.with_ymd_and_hms(2028, 1, 1, 8, 0, 0).unwrap();
    assert_eq!(mail.delivered_at(later), later);

    // No Received: the Date, within a week only.
    let no_received = message
        .split_once("From:")
        .map(|(_, rest)| format!("From:{rest}"));
    let mail = parse(no_received.unwrap().as_bytes(), &Limits::default()).unwrap();
    assert_eq!(mail.received, None);
    let date = Utc.with_ymd_and_hms(2026, 11, 5, 9, 0, 0).unwrap();
    assert_eq!(mail.delivered_at(monday), date);
    let weeks_later = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    assert_eq!(mail.delivered_at(weeks_later), weeks_later);
}

/// No automatic reply to a program (RFC 3834): the accusé d'enregistrement is not sent to
/// an auto-reply, a mailing list or bulk mail.
#[test]
fn programs_are_told_from_people() {
    let person = "From: a@exemple.fr\r\nSubject: Demande\r\n\r\nBonjour.\r\n";
    assert!(
        !parse(person.as_bytes(), &Limits::default())
            .unwrap()
            .automated
    );
    for header in [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "List-Id: <annonces.exemple.fr>",
    ] {
        let message = format!("{header}\r\n{person}");
        let mail = parse(message.as_bytes(), &Limits::default()).unwrap();
        assert!(mail.automated, "{header}");
    }
    let no = format!("Auto-Submitted: no\r\n{person}");
    assert!(!parse(no.as_bytes(), &Limits::default()).unwrap().automated);
}
