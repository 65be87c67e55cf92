#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Against a real, private Dovecot started by `scripts/dovecot.sh`.
//!
//! Skipped (loudly) when Dovecot is not installed, unless `CI` is set: then the
//! tests fail, so CI cannot pass without running them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parapheur_mailbox::{
    AfterCapture, Cursor, MailboxConfig, MailboxError, Security, acknowledge, append, check,
    fetch_new, tools, wait_for_change, wait_for_new,
};

const MB: u32 = 1024 * 1024;

use parapheur_mailbox::testing::TestDovecot as Dovecot;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dovecot.sh")
}

/// Starts a private Dovecot, or returns None (test skipped) when it is not
/// installed outside CI.
fn dovecot() -> Option<Dovecot> {
    parapheur_mailbox::testing::start(&script()).unwrap()
}

fn config(server: &Dovecot, user: &str, after_capture: AfterCapture) -> MailboxConfig {
    MailboxConfig {
        host: "127.0.0.1".into(),
        port: server.port,
        security: Security::Plain,
        username: user.into(),
        password: "secret".into(),
        folder: "INBOX".into(),
        after_capture,
        network: parapheur_mailbox::NetworkPolicy::PERMISSIVE,
    }
}

fn message(n: usize, padding: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Administre {n} <administre{n}@example.fr>\r\n\
         To: mairie-a@test\r\n\
         Subject: Demande {n}\r\n\
         Message-ID: <demande-{n}@example.fr>\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Bonjour, voici ma demande numéro {n}.\r\n"
    )
    .into_bytes();
    for _ in 0..padding / 64 {
        raw.extend_from_slice(&[b'x'; 62]);
        raw.extend_from_slice(b"\r\n");
    }
    raw
}

async fn append_n(config: &MailboxConfig, from: usize, count: usize) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for n in from..from + count {
        let raw = message(n, 0);
        append(config, &raw).await.unwrap();
        all.push(raw);
    }
    all
}

fn cursor_after(uid_validity: u32, fetched: &[parapheur_mailbox::Fetched]) -> Cursor {
    Cursor {
        uid_validity,
        last_uid: fetched.last().unwrap().uid,
    }
}

#[tokio::test]
async fn takes_each_message_once() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-a@test", AfterCapture::Leave);
    let sent = append_n(&config, 1, 5).await;

    let (validity, first) = fetch_new(&config, None, MB, 100).await.unwrap();
    assert_eq!(first.len(), 5);
    for (fetched, raw) in first.iter().zip(&sent) {
        assert_eq!(fetched.uid_validity, validity);
        assert_eq!(fetched.size as usize, raw.len());
        assert_eq!(fetched.raw.as_deref(), Some(raw.as_slice()));
    }
    assert!(first.windows(2).all(|w| w[0].uid < w[1].uid));

    // Same cursor, nothing new: nothing (not even the last message, which
    // "N:*" would return).
    let cursor = cursor_after(validity, &first);
    let (v, again) = fetch_new(&config, Some(cursor), MB, 100).await.unwrap();
    assert_eq!(v, validity);
    assert!(again.is_empty(), "{again:?}");

    let sent = append_n(&config, 6, 2).await;
    let (_, next) = fetch_new(&config, Some(cursor), MB, 100).await.unwrap();
    assert_eq!(next.len(), 2);
    assert!(next.iter().all(|f| f.uid > cursor.last_uid));
    assert_eq!(next[0].raw.as_deref(), Some(sent[0].as_slice()));
    assert_eq!(next[1].raw.as_deref(), Some(sent[1].as_slice()));

    let cursor = cursor_after(validity, &next);
    let (_, none) = fetch_new(&config, Some(cursor), MB, 100).await.unwrap();
    assert!(none.is_empty());

    // A cursor beyond the last UID (e.g. restored database) returns nothing either.
    let far = Cursor {
        uid_validity: validity,
        last_uid: cursor.last_uid + 100,
    };
    assert!(
        fetch_new(&config, Some(far), MB, 100)
            .await
            .unwrap()
            .1
            .is_empty()
    );
}

#[tokio::test]
async fn leave_mode_changes_nothing() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-a@test", AfterCapture::Leave);
    append_n(&config, 1, 3).await;
    let (validity, fetched) = fetch_new(&config, None, MB, 100).await.unwrap();
    assert_eq!(fetched.len(), 3);
    let uids: Vec<u32> = fetched.iter().map(|f| f.uid).collect();
    acknowledge(&config, validity, &uids).await.unwrap();

    let flags = tools::flags(&config).await.unwrap();
    assert_eq!(flags.len(), 3);
    for (uid, flags) in flags {
        assert!(!flags.iter().any(|f| f == "\\Seen"), "{uid}: {flags:?}");
    }
    assert_eq!(check(&config).await.unwrap().messages, 3);
}

#[tokio::test]
async fn mark_seen_sets_seen_only_on_acknowledge() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-a@test", AfterCapture::MarkSeen);
    append_n(&config, 1, 3).await;
    let (validity, fetched) = fetch_new(&config, None, MB, 100).await.unwrap();
    assert_eq!(fetched.len(), 3);

    // BODY.PEEK: fetching alone does not set \Seen.
    let flags = tools::flags(&config).await.unwrap();
    assert!(
        flags.iter().all(|(_, f)| !f.iter().any(|f| f == "\\Seen")),
        "{flags:?}"
    );

    acknowledge(&config, validity, &[fetched[0].uid, fetched[2].uid])
        .await
        .unwrap();
    let flags = tools::flags(&config).await.unwrap();
    let seen: Vec<u32> = flags
        .iter()
        .filter(|(_, f)| f.iter().any(|f| f == "\\Seen"))
        .map(|(uid, _)| *uid)
        .collect();
    assert_eq!(seen, vec![fetched[0].uid, fetched[2].uid]);
}

#[tokio::test]
async fn move_to_moves_and_creates_the_folder() {
    let Some(server) = dovecot() else { return };
    let config = config(
        &server,
        "mairie-b@test",
        AfterCapture::MoveTo("Traités".into()),
    );
    let mut done = config.clone();
    done.folder = "Traités".into();
    assert!(matches!(
        check(&done).await,
        Err(MailboxError::NoFolder(name)) if name == "Traités"
    ));

    append_n(&config, 1, 4).await;
    let (validity, fetched) = fetch_new(&config, None, MB, 100).await.unwrap();
    assert_eq!(fetched.len(), 4);

    acknowledge(&config, validity, &[fetched[0].uid, fetched[1].uid])
        .await
        .unwrap();
    assert_eq!(check(&config).await.unwrap().messages, 2);
    assert_eq!(check(&done).await.unwrap().messages, 2);

    // The path for servers without MOVE: COPY + \Deleted + UID EXPUNGE.
    tools::acknowledge_without_move(&config, validity, &[fetched[2].uid])
        .await
        .unwrap();
    assert_eq!(check(&config).await.unwrap().messages, 1);
    assert_eq!(check(&done).await.unwrap().messages, 3);
    let left = tools::flags(&config).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, fetched[3].uid);

    // The moved messages are intact.
    let (_, moved) = fetch_new(&done, None, MB, 100).await.unwrap();
    let mut bodies: Vec<Vec<u8>> = moved.into_iter().map(|f| f.raw.unwrap()).collect();
    bodies.sort();
    let mut expected: Vec<Vec<u8>> = fetched[..3]
        .iter()
        .map(|f| f.raw.clone().unwrap())
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn large_message_is_not_downloaded() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-a@test", AfterCapture::Leave);
    append(&config, &message(1, 0)).await.unwrap();
    let big = message(2, 20_000);
    append(&config, &big).await.unwrap();
    append(&config, &message(3, 0)).await.unwrap();

    let (_, fetched) = fetch_new(&config, None, 10_000, 100).await.unwrap();
    assert_eq!(fetched.len(), 3);
    assert!(fetched[0].raw.is_some());
    assert_eq!(fetched[1].raw, None);
    assert_eq!(fetched[1].size as usize, big.len());
    assert!(fetched[2].raw.is_some());
}

#[tokio::test]
async fn wrong_password_is_a_login_error_without_the_password() {
    let Some(server) = dovecot() else { return };
    let mut config = config(&server, "mairie-a@test", AfterCapture::Leave);
    config.password = "MotDePasseFaux-42".into();
    let error = fetch_new(&config, None, MB, 10).await.unwrap_err();
    assert!(matches!(error, MailboxError::Login), "{error:?}");
    let text = error.to_string();
    assert_eq!(text, "identifiant ou mot de passe refusé par le serveur");
    assert!(!format!("{text} {error:?} {config:?}").contains("MotDePasseFaux-42"));
    // (One failed login only: Dovecot delays each further one from the same IP.)
}

#[tokio::test]
async fn uid_validity_change_is_reported() {
    let Some(server) = dovecot() else { return };
    let mut config = config(&server, "mairie-a@test", AfterCapture::MarkSeen);
    tools::create_folder(&config, "Courrier").await.unwrap();
    config.folder = "Courrier".into();
    append_n(&config, 1, 2).await;
    let (old, fetched) = fetch_new(&config, None, MB, 100).await.unwrap();
    assert_eq!(fetched.len(), 2);
    let cursor = cursor_after(old, &fetched);

    tools::delete_folder(&config, "Courrier").await.unwrap();
    tools::create_folder(&config, "Courrier").await.unwrap();
    append_n(&config, 10, 1).await;

    let (new, refetched) = fetch_new(&config, Some(cursor), MB, 100).await.unwrap();
    assert_ne!(new, old);
    // Started again from UID 1: the new message (UID 1) comes back.
    assert_eq!(refetched.len(), 1);
    assert_eq!(refetched[0].uid_validity, new);

    // Acknowledging with the old UIDVALIDITY changes nothing.
    let error = acknowledge(&config, old, &[1]).await.unwrap_err();
    assert!(
        matches!(error, MailboxError::UidValidityChanged { expected, found } if expected == old && found == new),
        "{error:?}"
    );
    let flags = tools::flags(&config).await.unwrap();
    assert!(!flags[0].1.iter().any(|f| f == "\\Seen"));

    // wait_for_new sees the stale cursor at once.
    let started = Instant::now();
    assert!(
        wait_for_new(&config, Some(cursor), Duration::from_secs(20))
            .await
            .unwrap()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn batch_limit_is_respected() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-b@test", AfterCapture::Leave);
    append_n(&config, 1, 5).await;
    let mut cursor = None;
    let mut sizes = Vec::new();
    loop {
        let (validity, fetched) = fetch_new(&config, cursor, MB, 2).await.unwrap();
        if fetched.is_empty() {
            break;
        }
        assert!(fetched.len() <= 2);
        sizes.push(fetched.len());
        cursor = Some(cursor_after(validity, &fetched));
    }
    assert_eq!(sizes, vec![2, 2, 1]);
}

#[tokio::test]
async fn wait_for_change_wakes_up_on_new_mail() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-a@test", AfterCapture::Leave);

    // Nothing happens: false after the timeout.
    let started = Instant::now();
    assert!(
        !wait_for_change(&config, Duration::from_secs(1))
            .await
            .unwrap()
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    let waiter = {
        let config = config.clone();
        tokio::spawn(async move { wait_for_change(&config, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let started = Instant::now();
    append(&config, &message(1, 0)).await.unwrap();
    let changed = waiter.await.unwrap().unwrap();
    assert!(changed);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // With an up-to-date cursor, wait_for_new waits (and times out).
    let (validity, fetched) = fetch_new(&config, None, MB, 10).await.unwrap();
    let cursor = cursor_after(validity, &fetched);
    assert!(
        !wait_for_new(&config, Some(cursor), Duration::from_secs(1))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn check_reports_the_folder() {
    let Some(server) = dovecot() else { return };
    let config = config(&server, "mairie-a@test", AfterCapture::Leave);
    append_n(&config, 1, 2).await;
    let status = check(&config).await.unwrap();
    assert_eq!(status.messages, 2);
    assert!(status.uid_validity > 0);
    assert_eq!(status.uid_next, Some(3));
    assert!(status.idle);

    let mut missing = config.clone();
    missing.folder = "Inexistant".into();
    let error = check(&missing).await.unwrap_err();
    assert!(matches!(&error, MailboxError::NoFolder(_)), "{error:?}");
    assert!(error.to_string().contains("« Inexistant »"));
}

#[tokio::test]
async fn tls_against_a_plain_server_is_a_tls_error() {
    let Some(server) = dovecot() else { return };
    let mut config = config(&server, "mairie-a@test", AfterCapture::Leave);
    config.security = Security::Tls;
    config.host = "localhost".into();
    let error = check(&config).await.unwrap_err();
    assert!(matches!(error, MailboxError::Tls(_)), "{error:?}");

    // This Dovecot has ssl = no: it does not offer STARTTLS.
    config.security = Security::StartTls;
    let error = check(&config).await.unwrap_err();
    assert!(matches!(error, MailboxError::Tls(_)), "{error:?}");
}

#[tokio::test]
async fn dead_port_is_a_connect_error() {
    let port = parapheur_mailbox::testing::free_port().unwrap();
    let config = MailboxConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::Plain,
        username: "x".into(),
        password: "y".into(),
        folder: "INBOX".into(),
        after_capture: AfterCapture::Leave,
        network: parapheur_mailbox::NetworkPolicy::PERMISSIVE,
    };
    let error = check(&config).await.unwrap_err();
    assert!(matches!(error, MailboxError::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn plain_text_is_refused_unless_the_installation_allows_it() {
    let config = MailboxConfig {
        host: "192.0.2.1".into(), // TEST-NET-1: never contacted
        port: 143,
        security: Security::Plain,
        username: "x".into(),
        password: "y".into(),
        folder: "INBOX".into(),
        after_capture: AfterCapture::Leave,
        network: Default::default(),
    };
    let error = fetch_new(&config, None, MB, 10).await.unwrap_err();
    assert!(
        matches!(&error, MailboxError::Connect(text) if text.contains("non chiffrée")),
        "{error:?}"
    );
}

/// The settings page must not probe the server's own network: loopback, private and
/// link-local addresses are refused by default, and what a remote sends is never shown.
#[tokio::test]
async fn internal_addresses_are_refused_and_banners_never_echoed() {
    let Some(server) = dovecot() else {
        return;
    };
    let mut config = config(&server, "alice", AfterCapture::Leave);
    config.network = Default::default();
    config.security = Security::Tls;
    let error = check(&config).await.unwrap_err();
    assert!(
        matches!(&error, MailboxError::Connect(text) if text.contains("adresse interne")),
        "{error:?}"
    );
    // A service that is not IMAP (here a listener that sends a banner with a secret):
    // allowed to connect, the error does not repeat its bytes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2 secret-banner-4242\r\n");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    });
    let probe = MailboxConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::Plain,
        username: "x".into(),
        password: "y".into(),
        folder: "INBOX".into(),
        after_capture: AfterCapture::Leave,
        network: parapheur_mailbox::NetworkPolicy::PERMISSIVE,
    };
    let error = check(&probe).await.unwrap_err();
    assert!(!error.to_string().contains("secret-banner"), "{error}");
    assert!(!format!("{error:?}").contains("4242"), "{error:?}");
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
    ] {
        assert!(
            !parapheur_mailbox::is_public_address(ip.parse().unwrap()),
            "{ip}"
        );
    }
    for ip in ["193.51.24.1", "2001:41d0::1"] {
        assert!(
            parapheur_mailbox::is_public_address(ip.parse().unwrap()),
            "{ip}"
        );
    }
}

/// A fake server on 127.0.0.1 that greets with `greeting` and answers every command with
/// its tag and `answer`; no Dovecot needed.
async fn fake_server(greeting: impl Into<Vec<u8>>, answer: &'static [u8]) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let greeting: Vec<u8> = greeting.into();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let greeting = greeting.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                write.write_all(&greeting).await?;
                let mut lines = BufReader::new(read).lines();
                while let Some(line) = lines.next_line().await? {
                    let tag = line.split(' ').next().unwrap_or("*").to_owned();
                    write.write_all(tag.as_bytes()).await?;
                    write.write_all(answer).await?;
                }
                std::io::Result::Ok(())
            });
        }
    });
    port
}

fn fake_config(port: u16) -> MailboxConfig {
    MailboxConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::Plain,
        username: "mairie".into(),
        password: "secret".into(),
        folder: "INBOX".into(),
        after_capture: AfterCapture::Leave,
        network: parapheur_mailbox::NetworkPolicy::PERMISSIVE,
    }
}

/// Found by fuzzing (fuzz/crashes/imap_response): imap-proto 0.17 panics on a response
/// code followed by a multi-byte character (`[ALERT]é`); the poller must get an error.
#[tokio::test]
async fn malformed_answer_is_an_error_not_a_panic() {
    let port = fake_server(b"* OK [ALERT]\xc3\xa9\r\n", b" OK\r\n").await;
    let error = fetch_new(&fake_config(port), None, MB, 10)
        .await
        .unwrap_err();
    assert!(matches!(error, MailboxError::Protocol(_)), "{error:?}");
    let error = check(&fake_config(port)).await.unwrap_err();
    assert!(matches!(error, MailboxError::Protocol(_)), "{error:?}");

    let port = fake_server(b"* OK IMAP4rev1 ready\r\n", b" OK [READ-ONLY]\xc3\xa9\r\n").await;
    let error = fetch_new(&fake_config(port), None, MB, 10)
        .await
        .unwrap_err();
    assert!(matches!(error, MailboxError::Protocol(_)), "{error:?}");
    let error = append(&fake_config(port), b"Subject: x\r\n\r\nx\r\n")
        .await
        .unwrap_err();
    assert!(matches!(error, MailboxError::Protocol(_)), "{error:?}");
}

/// Found by fuzzing (fuzz/crashes/imap_response): imap-proto 0.17 parses BODYSTRUCTURE
/// recursively without a limit, and a few thousand nested parentheses overflowed the stack,
/// aborting the whole process. The answers are now refused past 100 levels.
#[tokio::test]
async fn deeply_nested_answer_is_refused_not_a_stack_overflow() {
    let mut deep = b"* OK IMAP4rev1 ready\r\n* 1 FETCH (BODYSTRUCTURE ".to_vec();
    deep.extend(std::iter::repeat_n(b'(', 100_000));
    deep.extend_from_slice(b"\r\n");
    let port = fake_server(deep, b" OK\r\n").await;
    let error = fetch_new(&fake_config(port), None, MB, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(error, MailboxError::Connect(_) | MailboxError::Protocol(_)),
        "{error:?}"
    );
}
