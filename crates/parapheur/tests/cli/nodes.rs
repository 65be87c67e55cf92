//! Two `serve` nodes on one PostgreSQL database (issue 15): both run the background work on
//! one mailbox (a real Dovecot), one SMTP server (a real sink) and one bucket of files on a
//! real S3 server (s3s-fs), as the hosted platform runs them. Node A is
//! killed with SIGKILL while the work is under way, more mail arrives, and then every
//! message must be registered once, every email sent once, every job done once, the chrono
//! numbers without gap, nothing lost; node B then stops on SIGTERM and gives its leases back.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Backend, INSEE, Register, assert_success, psql};

/// Messages delivered before node A is killed, then after.
const BEFORE: usize = 40;
const AFTER: usize = 20;
/// Letters registered from the command line meanwhile (a third writer of chrono numbers).
const LETTERS: usize = 10;
/// The bearer token of both nodes' `/metrics`.
const TOKEN: &str = "jeton-de-test-des-metriques";

fn dovecot_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dovecot.sh")
}

/// A citizen's request with a text attachment (so an extraction job), unique per `n`.
fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Citoyen {n} <citoyen{n}@exemple.fr>\r\n\
         To: mairie-a@test\r\n\
         Subject: Demande numéro {n}\r\n\
         Message-ID: <demande-{n}@exemple.fr>\r\n\
         Date: Mon, 2 Nov 2026 09:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b{n}\"\r\n\
         \r\n\
         --b{n}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Bonjour, voici ma demande numéro {n}.\r\n\
         --b{n}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Disposition: attachment; filename=\"piece-{n}.txt\"\r\n\
         \r\n\
         Pièce jointe de la demande {n} : justificatif de domicile.\r\n\
         --b{n}--\r\n"
    )
    .into_bytes()
}

fn deliver(
    runtime: &tokio::runtime::Runtime,
    config: &parapheur_mailbox::MailboxConfig,
    range: std::ops::Range<usize>,
) {
    runtime.block_on(async {
        for n in range {
            parapheur_mailbox::append(config, &message(n))
                .await
                .unwrap();
        }
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_node(register: &Register, name: &str, port: u16) -> Child {
    let log = std::fs::File::create(register.dir.path().join(format!("{name}.log"))).unwrap();
    register
        .command(&["serve"])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .env("PARAPHEUR_NODE_NAME", name)
        // Each node its own search index; the files are on the shared bucket.
        .env(
            "PARAPHEUR_INDEX_DIR",
            register.dir.path().join(format!("index-{name}")),
        )
        .env("PARAPHEUR_OCR_WORKERS", "1")
        .env("PARAPHEUR_METRICS_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// One GET on the node: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    get_with(port, path, "")
}

fn get_with(port: u16, path: &str, headers: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A counter of the node's `/metrics`.
fn metric(port: u16, name: &str) -> u64 {
    let (status, body) = get_with(
        port,
        "/metrics",
        &format!("Authorization: Bearer {TOKEN}\r\n"),
    );
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn count(url: &str, sql: &str) -> usize {
    psql(url, sql).parse().unwrap()
}

/// Waits (a liveness bound, not a measure) until `done` holds.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "still waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(super) fn two_nodes_on_one_database_do_each_piece_of_work_once() {
    let Some(register) = Register::new(Backend::Postgres) else {
        return;
    };
    let Some(dovecot) = parapheur_mailbox::testing::start(&dovecot_script()).unwrap() else {
        return;
    };
    let Some(s3) = parapheur_testkit::S3Server::start() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sink = runtime.block_on(parapheur_smtp::testing::start());
    // The files on a bucket from the start: `init` already stores there.
    super::files_on_s3(&register, &s3, "noeuds", 0o600);
    let files_setting = std::fs::read_to_string(register.data.join("parapheur.toml")).unwrap();
    register.init();
    let url = register.pg_url().unwrap().to_owned();
    std::fs::write(
        register.data.join("parapheur.toml"),
        format!(
            "{files_setting}\
             poll_seconds = 1\n\
             outbound_internal_addresses = true\n\
             outbound_plain_text = true\n\
             [smtp]\n\
             host = \"127.0.0.1\"\n\
             port = {}\n\
             security = \"none\"\n\
             from = \"ne-pas-repondre@mairie-test.fr\"\n\
             timeout_seconds = 10\n",
            sink.port
        ),
    )
    .unwrap();
    let mailbox = dovecot.config("mairie-a@test", parapheur_mailbox::AfterCapture::Leave);
    let out = register.run_env(
        &["mailbox", "add"],
        &[
            "--commune",
            INSEE,
            "--label",
            "Accueil",
            "--host",
            "127.0.0.1",
            "--port",
            &dovecot.port.to_string(),
            "--security",
            "plain",
            "--user",
            "mairie-a@test",
        ],
        &[("PARAPHEUR_MAILBOX_PASSWORD", "secret")],
    );
    assert_success(&out, "mailbox add");
    deliver(&runtime, &mailbox, 0..BEFORE);

    let (port_a, port_b) = (free_port(), free_port());
    let mut a = start_node(&register, "a", port_a);
    let mut b = start_node(&register, "b", port_b);
    // Letters registered from the command line while the nodes work, each with a file.
    let letters = {
        let files = register.dir.path().join("lettres");
        std::fs::create_dir_all(&files).unwrap();
        let data = register.data.clone();
        let pg = url.clone();
        std::thread::spawn(move || {
            for n in 0..LETTERS {
                let file = files.join(format!("lettre-{n}.txt"));
                std::fs::write(
                    &file,
                    format!("Lettre papier numéro {n}, éclairage public."),
                )
                .unwrap();
                let out = Command::new(super::BIN)
                    .args(["register", "--data"])
                    .arg(&data)
                    .args([
                        "--database-url",
                        &pg,
                        "--commune",
                        INSEE,
                        "--channel",
                        "paper",
                    ])
                    .args(["--subject", &format!("Lettre papier {n}")])
                    .arg(&file)
                    .env_remove("PARAPHEUR_DATABASE_URL")
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert_success(&out, "register");
            }
        })
    };
    // Node A is killed while the work is under way: once a quarter of the first emails
    // has left, before the rest.
    wait_until("the first emails", Duration::from_secs(180), || {
        count(&url, "SELECT count(*) FROM outbox WHERE state = 'sent'") >= BEFORE / 4
    });
    let sent_before_kill = count(&url, "SELECT count(*) FROM outbox WHERE state = 'sent'");
    let a_done = (
        metric(port_a, "parapheur_messages_registered_total"),
        metric(port_a, "parapheur_jobs_done_total"),
        metric(port_a, "parapheur_emails_sent_total"),
    );
    a.kill().unwrap();
    a.wait().unwrap();
    let a_id = psql(&url, "SELECT id FROM nodes WHERE name = 'a'");
    assert!(!a_id.is_empty(), "node A wrote its heartbeat");
    let held = count(
        &url,
        &format!(
            "SELECT (SELECT count(*) FROM jobs WHERE state = 'queued' AND leased_by = '{a_id}')
                  + (SELECT count(*) FROM outbox WHERE state = 'pending' AND leased_by = '{a_id}')
                  + (SELECT count(*) FROM leases WHERE holder = '{a_id}')"
        ),
    );
    // More mail arrives; node B alone is left.
    deliver(&runtime, &mailbox, BEFORE..BEFORE + AFTER);
    // What A held would be taken over when its leases run out (10 to 30 minutes): the test
    // moves their end to now rather than waiting, for A's leases and claims only.
    let past = "2000-01-01T00:00:00.000000Z";
    for sql in [
        format!("UPDATE leases SET expires_at = '{past}' WHERE holder = '{a_id}'"),
        format!(
            "UPDATE daily_runs SET lease_until = '{past}' WHERE holder = '{a_id}' AND done_at IS NULL"
        ),
        format!(
            "UPDATE jobs SET run_after = '{past}' WHERE state = 'queued' AND leased_by = '{a_id}'"
        ),
        format!(
            "UPDATE outbox SET next_attempt_at = '{past}' WHERE state = 'pending' AND leased_by = '{a_id}'"
        ),
    ] {
        psql(&url, &sql);
    }
    letters.join().unwrap();
    let total = BEFORE + AFTER;
    wait_until(
        "every message, job and email",
        Duration::from_secs(300),
        || {
            count(&url, "SELECT count(*) FROM items") >= total + LETTERS
                && count(&url, "SELECT count(*) FROM jobs WHERE state <> 'done'") == 0
                && count(&url, "SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0
                && count(&url, "SELECT count(*) FROM outbox") >= total
                && sink.received().len() >= count(&url, "SELECT count(*) FROM outbox")
        },
    );

    // Every message registered once, none lost.
    assert_eq!(count(&url, "SELECT count(*) FROM items"), total + LETTERS);
    assert_eq!(
        count(&url, "SELECT count(DISTINCT subject) FROM items"),
        total + LETTERS
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM inbound_messages WHERE state = 'registered'"
        ),
        total
    );
    // Every job done once: one text per job, journaled once.
    let jobs = count(&url, "SELECT count(*) FROM jobs");
    assert!(
        jobs >= total + LETTERS,
        "{jobs} jobs for {} files",
        total + LETTERS
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM journal WHERE action = 'file.text_done'"
        ),
        jobs
    );
    // Every email sent once. A node killed between the SMTP server's "250" and recording it
    // leaves that email to be sent again: only an email claimed twice may arrive twice.
    let mut received: HashMap<String, usize> = HashMap::new();
    for message in sink.received() {
        let text = String::from_utf8_lossy(&message.data).into_owned();
        let id = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("Message-ID: ")
                    .or(l.strip_prefix("Message-Id: "))
            })
            .unwrap_or_default()
            .trim()
            .to_owned();
        *received.entry(id).or_default() += 1;
    }
    let rows = psql(&url, "SELECT message_id || ' ' || attempts FROM outbox");
    let mut twice = 0;
    for row in rows.lines() {
        let (id, attempts) = row.rsplit_once(' ').unwrap();
        let id = format!("<{}>", id.trim_matches(['<', '>']));
        let n = received.get(&id).copied().unwrap_or(0);
        assert!(n >= 1, "email {id} never arrived");
        if n > 1 {
            assert!(
                attempts.parse::<u32>().unwrap() >= 2,
                "email {id} arrived {n} times but was claimed once"
            );
            twice += 1;
        }
    }
    assert_eq!(
        received.values().sum::<usize>(),
        rows.lines().count() + twice,
        "no email other than the outbox's"
    );
    let b_done = (
        metric(port_b, "parapheur_messages_registered_total"),
        metric(port_b, "parapheur_jobs_done_total"),
        metric(port_b, "parapheur_emails_sent_total"),
    );
    eprintln!(
        "two nodes: {total} messages and {LETTERS} letters, {jobs} jobs, {} emails ({sent_before_kill} sent before the kill, {twice} sent twice); \
         node A before SIGKILL (messages, jobs, emails) {a_done:?}, holding {held} leases or claims; node B {b_done:?}",
        rows.lines().count()
    );
    // Each node's own count is part of the whole (A's counts died with it).
    assert!(b_done.0 as usize <= total && b_done.2 as usize <= rows.lines().count());
    // No gap in the numbering, journal intact.
    assert_success(&register.run(&["fsck"], &["--no-collect"]), "fsck");
    assert_success(&register.run(&["journal", "verify"], &[]), "journal verify");
    // The files are on the bucket, none in the data folder.
    fn count_files(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count_files(&e.path()),
                    _ => 1,
                })
                .sum()
        })
    }
    let on_bucket = count_files(&s3.object_file("noeuds"));
    assert!(
        on_bucket >= total,
        "{on_bucket} objects for {total} messages"
    );
    assert_eq!(count_files(&register.data.join("files")), 0);

    // Node B reports itself healthy, and keeps its metrics private without a token.
    let (status, body) = get(port_b, "/sante");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"healthy\":true"), "{body}");
    assert!(
        body.contains(
            "\"copie_hors_site\":{\"etat\":\"ok\",\"detail\":\"assurée par l'hébergeur\"}"
        ),
        "{body}"
    );
    assert_eq!(get(port_b, "/metrics").0, 404);
    // SIGTERM: B stops cleanly and gives its leases back.
    let term = Command::new("kill")
        .args(["-TERM", &b.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = b.wait().unwrap();
    assert!(status.success(), "node B exited with {status}");
    let b_id = psql(&url, "SELECT id FROM nodes WHERE name = 'b'");
    assert_eq!(
        count(
            &url,
            &format!("SELECT count(*) FROM leases WHERE holder = '{b_id}'")
        ),
        0
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM nodes WHERE name = 'b' AND stopped_at IS NOT NULL"
        ),
        1
    );
    drop(dovecot);
}

/// `serve --listen 127.0.0.1:0 --no-background` on `register`: the node and the port the
/// system chose, read from the line the server prints.
fn serve_on_any_port(register: &Register) -> (Child, u16) {
    let mut node = register
        .command(&["serve"])
        .args(["--listen", "127.0.0.1:0", "--no-background"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(node.stdout.take().unwrap()),
        &mut first_line,
    )
    .unwrap();
    let port: u16 = first_line
        .trim()
        .strip_prefix("Parapheur écoute sur http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first_line:?}"));
    (node, port)
}

/// `serve --listen 127.0.0.1:0` (issue 17): the system chooses the port, and the server says
/// and serves the one it got, so the links it sends to citizens lead to it (they once carried
/// the configured address, port 0 or 8080, and led nowhere).
pub fn a_server_on_port_zero_says_and_serves_the_port_it_got() {
    let Some(register) = Register::new(Backend::Sqlite) else {
        return;
    };
    register.init();
    let (mut node, port) = serve_on_any_port(&register);
    assert_ne!(port, 0);
    let (status, body) = get(port, "/sante");
    let _ = node.kill();
    let _ = node.wait();
    assert_eq!(status, 200, "{body}");
}

/// `parapheur tokens create|list|revoke` (issue 18): the token printed once opens the API of
/// a running server with its scopes, the list never shows it, and revoked it opens nothing.
pub fn api_tokens_from_the_command_line_open_and_close_the_api() {
    let Some(register) = Register::new(Backend::Sqlite) else {
        return;
    };
    register.init();
    let created = register.run(
        &["tokens", "create"],
        &[
            "--commune",
            INSEE,
            "--label",
            "Logiciel de l'état civil",
            "--owner",
            super::ADMIN,
            "--scope",
            "items:read",
            "--json",
        ],
    );
    assert_success(&created, "tokens create");
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["scopes"], serde_json::json!(["items:read"]));
    let refused = register.run(
        &["tokens", "create"],
        &[
            "--commune",
            INSEE,
            "--label",
            "x",
            "--owner",
            super::ADMIN,
            "--scope",
            "tout",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("permission inconnue « tout »"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let listed = register.run(&["tokens", "list"], &["--commune", INSEE, "--json"]);
    assert_success(&listed, "tokens list");
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(text.contains(&id) && !text.contains(&secret), "{text}");

    let (mut node, port) = serve_on_any_port(&register);
    let bearer = format!("Authorization: Bearer {secret}\r\n");
    let (read, body) = get_with(port, "/api/v1/items", &bearer);
    let (anonymous, _) = get(port, "/api/v1/items");
    let revoked = register.run(&["tokens", "revoke"], &["--commune", INSEE, &id, "--json"]);
    let (after, _) = get_with(port, "/api/v1/items", &bearer);
    let _ = node.kill();
    let _ = node.wait();
    assert_eq!(read, 200, "{body}");
    assert_eq!(anonymous, 401);
    assert_success(&revoked, "tokens revoke");
    assert_eq!(after, 401, "a revoked token opens nothing");
}
