#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Against a real SMTP server: `scripts/smtp-sink.py` (python3-aiosmtpd), started per test.
//! Without python3-aiosmtpd the tests fail loudly: run scripts/test.sh, which installs it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use parapheur_smtp::testing::{self, Mode};
use parapheur_smtp::{
    Address, Attachment, BuildError, Envelope, OutgoingMessage, Security, SendError, build, check,
    new_message_id, send,
};

fn date() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T10:15:00+01:00")
        .unwrap()
        .with_timezone(&Utc)
}

/// A small but real PDF, with binary bytes after the header.
fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    pdf.extend_from_slice(
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
          2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n",
    );
    pdf.extend((0..=255u8).cycle().take(70_000));
    pdf.extend_from_slice(b"\r\n.\r\n..\n.\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    pdf
}

fn message() -> OutgoingMessage {
    OutgoingMessage {
        from: Address {
            name: Some("Mairie de Saint-Étienne-du-Bois".into()),
            email: "courrier@saint-etienne-du-bois.fr".into(),
        },
        to: vec![
            Address {
                name: Some("Hélène Dupré-Lefèvre".into()),
                email: "helene.dupre@example.fr".into(),
            },
            Address {
                name: None,
                email: "francois@example.org".into(),
            },
        ],
        reply_to: None,
        subject: "Accusé de réception : demande d'état civil n° 2026-A-000042 (déjà reçue)".into(),
        text: "Bonjour,\n\nVotre demande a bien été enregistrée.\n.\nÀ bientôt.\n".into(),
        html: Some("<p>Votre demande a bien été enregistrée.</p>".into()),
        attachments: vec![Attachment {
            filename: "Récépissé 2026-A-000042.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf(),
        }],
        message_id: new_message_id("saint-etienne-du-bois.fr"),
        in_reply_to: Some("CAF+demande=1@mail.example.fr".into()),
        references: vec![
            "premier@example.fr".into(),
            "CAF+demande=1@mail.example.fr".into(),
        ],
        auto_submitted: true,
    }
}

fn envelope() -> Envelope {
    Envelope {
        from: "bounces@saint-etienne-du-bois.fr".into(),
        to: vec!["helene.dupre@example.fr".into()],
    }
}

#[tokio::test]
async fn a_built_message_arrives_intact() {
    let sink = testing::start().await;
    let msg = message();
    let raw = build(&msg, date()).unwrap();
    check(&sink.config()).await.unwrap();
    send(&sink.config(), &msg.envelope(), &raw).await.unwrap();

    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    let got = &got[0];
    assert_eq!(got.mail_from, "courrier@saint-etienne-du-bois.fr");
    assert_eq!(
        got.rcpt_to,
        ["helene.dupre@example.fr", "francois@example.org"]
    );
    // Exactly the built bytes (lettre ends DATA with CRLF "." CRLF: the server keeps
    // one more line end).
    let data = got.data.strip_suffix(b"\r\n").unwrap_or(&got.data);
    assert!(
        data == &raw[..],
        "received {} bytes, built {}",
        got.data.len(),
        raw.len()
    );

    let m = MessageParser::default().parse(&got.data).unwrap();
    assert_eq!(m.subject(), Some(msg.subject.as_str()));
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Mairie de Saint-Étienne-du-Bois"));
    assert_eq!(from.address(), Some("courrier@saint-etienne-du-bois.fr"));
    let to: Vec<_> = m
        .to()
        .unwrap()
        .iter()
        .map(|a| (a.name(), a.address()))
        .collect();
    assert_eq!(
        to,
        [
            (
                Some("Hélène Dupré-Lefèvre"),
                Some("helene.dupre@example.fr")
            ),
            (None, Some("francois@example.org")),
        ]
    );
    assert_eq!(m.message_id(), Some(msg.message_id.as_str()));
    assert_eq!(
        m.in_reply_to().as_text(),
        Some("CAF+demande=1@mail.example.fr")
    );
    let references: Vec<&str> = m
        .references()
        .as_text_list()
        .unwrap()
        .iter()
        .map(|r| r.as_ref())
        .collect();
    assert_eq!(
        references,
        ["premier@example.fr", "CAF+demande=1@mail.example.fr"]
    );
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        m.body_text(0).unwrap().replace("\r\n", "\n"),
        msg.text,
        "a line with a single dot survives"
    );
    assert!(m.body_html(0).unwrap().contains("bien été enregistrée"));
    assert_eq!(m.attachment_count(), 1);
    let attachment = m.attachment(0).unwrap();
    assert_eq!(
        attachment.attachment_name(),
        Some("Récépissé 2026-A-000042.pdf")
    );
    assert_eq!(attachment.contents(), &pdf()[..]);
}

#[tokio::test]
async fn several_messages_in_arrival_order_and_bcc_by_envelope() {
    let sink = testing::start().await;
    for n in 1..=3 {
        let mut msg = message();
        msg.subject = format!("Message {n}");
        msg.attachments.clear();
        let raw = build(&msg, date()).unwrap();
        let mut envelope = msg.envelope();
        envelope.to.push("archives@saint-etienne-du-bois.fr".into());
        send(&sink.config(), &envelope, &raw).await.unwrap();
    }
    let got = sink.wait_for(3, Duration::from_secs(5)).await;
    let subjects: Vec<_> = got
        .iter()
        .map(|r| {
            MessageParser::default()
                .parse(&r.data)
                .unwrap()
                .subject()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(subjects, ["Message 1", "Message 2", "Message 3"]);
    assert_eq!(got[2].rcpt_to.len(), 3);
    assert!(
        !String::from_utf8_lossy(&got[2].data).contains("archives@"),
        "an envelope-only recipient appears in no header"
    );
}

#[tokio::test]
async fn null_sender() {
    let sink = testing::start().await;
    let raw = build(&message(), date()).unwrap();
    let envelope = Envelope {
        from: String::new(),
        ..envelope()
    };
    send(&sink.config(), &envelope, &raw).await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].mail_from, "<>");
}

#[tokio::test]
async fn tempfail_is_temporary() {
    let sink = testing::start().await;
    sink.set_mode(Mode::TempFail);
    let raw = build(&message(), date()).unwrap();
    let err = send(&sink.config(), &envelope(), &raw).await.unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    assert!(matches!(err, SendError::Temporary(_)));
    assert!(err.to_string().contains("451"), "{err}");
    assert!(sink.received().is_empty());

    // The same sink accepts again once the mode changes.
    sink.set_mode(Mode::Accept);
    send(&sink.config(), &envelope(), &raw).await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await.len(), 1);
}

#[tokio::test]
async fn permfail_is_permanent() {
    let sink = testing::start().await;
    sink.set_mode(Mode::PermFail);
    let raw = build(&message(), date()).unwrap();
    let err = send(&sink.config(), &envelope(), &raw).await.unwrap_err();
    assert!(!err.is_temporary(), "{err:?}");
    assert!(matches!(err, SendError::Permanent(_)));
    let text = err.to_string();
    assert!(text.contains("550") && text.contains("refusé"), "{text}");
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_server_that_hangs_times_out_as_temporary() {
    let sink = testing::start().await;
    sink.set_mode(Mode::Hang);
    let mut config = sink.config();
    config.timeout = Duration::from_secs(2);
    let raw = build(&message(), date()).unwrap();
    let start = Instant::now();
    let err = send(&config, &envelope(), &raw).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(err.is_temporary(), "{err:?}");
    assert!(err.to_string().contains("délai"), "{err}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn nothing_listening_is_temporary() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sink = testing::start().await;
    let mut config = sink.config();
    config.port = port;
    let raw = build(&message(), date()).unwrap();
    let start = Instant::now();
    let err = send(&config, &envelope(), &raw).await.unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    assert!(err.to_string().contains("connexion refusée"), "{err}");
    let err = check(&config).await.unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn login() {
    let sink = testing::start().await;
    let raw = build(&message(), date()).unwrap();
    let mut config = sink.config();
    config.username = Some(testing::USER.into());
    config.password = Some("wrong-password".into());
    let err = send(&config, &envelope(), &raw).await.unwrap_err();
    assert!(!err.is_temporary(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("mot de passe refusé") && text.contains("535"),
        "{text}"
    );
    assert!(!text.contains("wrong-password"));
    assert!(!format!("{config:?}").contains("wrong-password"));
    assert!(!check(&config).await.unwrap_err().is_temporary());

    config.password = Some(testing::PASSWORD.into());
    check(&config).await.unwrap();
    send(&config, &envelope(), &raw).await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await.len(), 1);
}

#[tokio::test]
async fn tls_towards_a_plain_server() {
    let sink = testing::start().await;
    let raw = build(&message(), date()).unwrap();

    // Implicit TLS to a server that speaks plain SMTP: the handshake fails (and the
    // ring provider is picked without a panic).
    let mut config = sink.config();
    config.security = Security::Tls;
    config.timeout = Duration::from_secs(2);
    let err = send(&config, &envelope(), &raw).await.unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    assert!(err.to_string().contains("(TLS)"), "{err}");

    // STARTTLS required but not offered: a configuration to change, not to retry.
    config.security = Security::StartTls;
    let err = send(&config, &envelope(), &raw).await.unwrap_err();
    assert!(!err.is_temporary(), "{err:?}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert!(sink.received().is_empty());
}

#[test]
fn build_refuses_injection_and_bad_addresses() {
    let mut msg = message();
    msg.subject = "Objet\r\nBcc: x@y.fr".into();
    let err = build(&msg, date()).unwrap_err();
    assert_eq!(err, BuildError::HeaderInjection { field: "Objet" });
    assert!(err.to_string().contains("retour à la ligne"), "{err}");

    let mut msg = message();
    msg.to[1].email = "francois at example.org".into();
    let err = build(&msg, date()).unwrap_err();
    assert!(matches!(err, BuildError::Address { .. }), "{err:?}");
    assert!(err.to_string().contains("francois at example.org"), "{err}");
}
