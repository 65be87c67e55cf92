//! End-to-end tests of the `parapheur` binary: the happy path, bad input, crash safety and
//! journal tampering, each on SQLite and (when `PARAPHEUR_TEST_DATABASE_URL` is set) on
//! PostgreSQL.
//!
//! Every test runs the real binary in its own temporary data directory, with the
//! `PARAPHEUR_*` variables of the parent removed from the child's environment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

#[path = "cli/copies.rs"]
mod copies;
#[path = "cli/law.rs"]
mod law;
#[path = "cli/nodes.rs"]
mod nodes;
#[path = "cli/outage.rs"]
mod outage;
#[path = "cli/portability.rs"]
mod portability;
#[path = "cli/webhooks.rs"]
mod webhooks;
use law::{deadline_changes_refuse_what_the_law_refuses, reference_rows_through_the_binary};

const BIN: &str = env!("CARGO_BIN_EXE_parapheur");
/// Ambérieu-en-Bugey (Ain): a metropolitan commune, so its local time is Paris time.
const INSEE: &str = "01004";
const COMMUNE_NAME: &str = "Ambérieu-en-Bugey";
/// Another real commune (Bourg-en-Bresse).
const OTHER_INSEE: &str = "01053";
const ADMIN: &str = "secretariat@mairie-test.fr";
const PASSWORD: &str = "un mot de passe assez long";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                super::$name(super::Backend::Postgres);
            }
        }
    )*};
}

/// The PostgreSQL admin URL, or None (after saying so loudly) when the variant is skipped.
fn pg_admin_url() -> Option<String> {
    match std::env::var("PARAPHEUR_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "PostgreSQL is required in CI: set PARAPHEUR_TEST_DATABASE_URL to a postgres:// URL of a superuser"
                );
            }
            eprintln!("SKIPPED (PostgreSQL): PARAPHEUR_TEST_DATABASE_URL unset");
            None
        }
    }
}

/// A fresh PostgreSQL database for one test, dropped at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(admin_url: &str) -> PgDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = Utc::now().timestamp_subsec_nanos();
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        psql(admin_url, &format!("CREATE DATABASE {name}"));
        // Same server and credentials, another database (keep any ?query).
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let server = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        PgDatabase {
            admin_url: admin_url.to_owned(),
            url: format!("{server}/{name}{query}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Best effort: a leftover test database is harmless.
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args(["-q", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs one SQL statement with psql and returns its unaligned, tuples-only output.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql])
        .output()
        .expect("psql must be installed to run the PostgreSQL variants");
    assert!(
        out.status.success(),
        "psql failed on {sql:?}: {}",
        stderr(&out)
    );
    stdout(&out).trim().to_owned()
}

/// One register under test: a temporary data directory and, on PostgreSQL, a fresh database.
struct Register {
    data: PathBuf,
    pg: Option<PgDatabase>,
    // Last, so it is removed after everything else.
    dir: TempDir,
}

impl Register {
    /// A register that does not exist yet (call `init`). None when PostgreSQL is skipped.
    fn new(backend: Backend) -> Option<Register> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create(&pg_admin_url()?)),
        };
        let dir = tempfile::tempdir().unwrap();
        Some(Register {
            data: dir.path().join("data"),
            pg,
            dir,
        })
    }

    fn sqlite_path(&self) -> PathBuf {
        self.data.join("parapheur.sqlite")
    }

    fn pg_url(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.url.as_str())
    }

    /// The binary with a hermetic environment, `sub` (e.g. `["item", "show"]`) and the
    /// register's `--data` / `--database-url`.
    fn command(&self, sub: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PARAPHEUR_") {
                cmd.env_remove(key);
            }
        }
        cmd.stdin(Stdio::null())
            .args(sub)
            .arg("--data")
            .arg(&self.data);
        if let Some(url) = self.pg_url() {
            cmd.args(["--database-url", url]);
        }
        cmd
    }

    /// Runs a command to completion; asserts nothing.
    fn run(&self, sub: &[&str], args: &[&str]) -> Output {
        self.run_env(sub, args, &[])
    }

    fn run_env(&self, sub: &[&str], args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(sub);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn run_init(&self, insee: &str) -> Output {
        self.run_env(
            &["init"],
            &["--commune", insee, "--admin", ADMIN],
            &[("PARAPHEUR_ADMIN_PASSWORD", PASSWORD)],
        )
    }

    fn init(&self) {
        let out = self.run_init(INSEE);
        assert_success(&out, "init");
        assert!(
            stdout(&out).contains(&format!("Registre créé pour {COMMUNE_NAME} ({INSEE})")),
            "{}",
            stdout(&out)
        );
    }

    /// Registers a paper letter and returns its chrono number.
    fn register(&self, subject: &str) -> String {
        let out = self.run(
            &["register"],
            &[
                "--commune",
                INSEE,
                "--channel",
                "paper",
                "--subject",
                subject,
            ],
        );
        assert_success(&out, "register");
        let number = stdout(&out).trim().to_owned();
        assert!(seq_of(&number).is_some(), "not a chrono: {number:?}");
        number
    }

    fn register_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json", "--commune", INSEE, "--channel", "paper"];
        all.extend_from_slice(args);
        let out = self.run(&["register"], &all);
        assert_success(&out, "register --json");
        json(&out)
    }

    /// `item show --json`: `{ "item": …, "attachments": […] }`.
    fn show(&self, number: &str) -> Value {
        let out = self.run(&["item", "show"], &["--json", "--commune", INSEE, number]);
        assert_success(&out, &format!("item show {number}"));
        json(&out)
    }

    /// Runs `journal verify --json`, asserts it is intact, returns the number of entries.
    fn journal_entries(&self) -> u64 {
        let out = self.run(&["journal", "verify"], &["--json"]);
        assert_success(&out, "journal verify");
        let v = json(&out);
        assert_eq!(v["intact"], true, "{v}");
        v["communes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["report"]["entries"].as_u64().unwrap())
            .sum()
    }

    /// `journal verify` and `fsck --grace-minutes 0` both accept the register.
    fn assert_sound(&self) -> Value {
        self.journal_entries();
        let out = self.run(&["fsck"], &["--json", "--grace-minutes", "0"]);
        assert_success(&out, "fsck");
        let v = json(&out);
        assert_eq!(v["clean"], true, "{v}");
        for key in ["missing", "corrupt", "numbering"] {
            assert_eq!(v["report"][key], Value::Array(vec![]), "fsck {key}: {v}");
        }
        v
    }

    /// The next registration gets exactly `last + 1`.
    fn assert_next_is(&self, last: u32) {
        let next = self.register("Courrier de contrôle");
        assert_eq!(seq_of(&next), Some(last + 1), "number after {last}: {next}");
        assert_eq!(next, chrono_number(last + 1));
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// The command failed with exit code 1 and an error message containing every needle.
fn assert_refused(out: &Output, needles: &[&str]) -> String {
    assert_fails_with(out, 1, needles)
}

/// A failure with its exit code: 1 refused (the person can correct it), 75 not available
/// now (full disk, locked database: try again later), 70 a fault (corrupt database).
fn assert_fails_with(out: &Output, code: i32, needles: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected a refusal, got {}:\nstdout: {}\nstderr: {err}",
        out.status,
        stdout(out)
    );
    assert!(err.contains("erreur : "), "no error line: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    err
}

/// The registration year as the product sees it: Paris time (UTC+1 around 1 January).
fn this_year() -> i32 {
    (Utc::now() + chrono::Duration::hours(1)).year()
}

/// Today in Paris, the date the product gives a commune of mainland France (a date in UTC
/// is yesterday's there after 23:00 UTC in winter, 22:00 in summer).
fn today_in_paris() -> NaiveDate {
    parapheur_domain::clock::local_date(Utc::now(), parapheur_domain::clock::PARIS)
}

fn chrono_number(seq: u32) -> String {
    format!("{}-A-{seq:06}", this_year())
}

/// The sequence of a number of this year's incoming register, e.g. 2026-A-000042 → 42.
fn seq_of(number: &str) -> Option<u32> {
    let prefix = format!("{}-A-", this_year());
    let digits = number.strip_prefix(&prefix)?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tiny deterministic PRNG (splitmix64): no rand crate needed.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

// ---------------------------------------------------------------------------------------
// The tests: each body below runs on both backends; the modules after the list are the
// ignored tests that show product bugs, per backend.
// ---------------------------------------------------------------------------------------

on_both_backends!(
    init_then_register,
    doctype_add_and_bad_values,
    bad_register_arguments_are_refused,
    unknown_insee_is_refused,
    duplicate_commune_is_refused,
    forbidden_status_transitions_are_refused,
    unreadable_files_are_refused,
    missing_register_says_to_run_init,
    config_check_prints_the_settings_and_refuses_bad_ones,
    files_on_s3_through_the_command_line,
    wrong_master_key_is_refused,
    full_disk_leaves_the_register_sound,
    sigkill_during_registrations_leaves_a_sound_register,
    sigkill_at_sync_points_leaves_a_sound_register,
    sigkill_during_an_import_loses_and_doubles_no_message,
    journal_verify_detects_tampering,
    import_mail_search_and_bad_messages,
    host_administrators_are_named_explicitly,
    reference_rows_through_the_binary,
    deadline_changes_refuse_what_the_law_refuses,
);

/// Finding 12 of the trust issue: the database file was created 0644 (readable by every
/// account of the machine).
#[cfg(unix)]
#[test]
fn the_register_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let r = Register::new(Backend::Sqlite).unwrap();
    r.init();
    r.register("Courrier");
    for name in ["parapheur.sqlite", "parapheur.sqlite-wal"] {
        let path = r.data.join(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        } else {
            assert_ne!(name, "parapheur.sqlite", "no database file");
        }
    }
}

/// `init` makes a commune administrator, not a host administrator: host rights are given
/// and taken by name, and journaled.
fn host_administrators_are_named_explicitly(backend: Backend) {
    let Some(r) = Register::new(backend) else {
        return;
    };
    r.init();
    let list = r.run(&["host-admin", "list"], &["--json"]);
    assert_success(&list, "host-admin list");
    assert_eq!(json(&list)["host_admins"], serde_json::json!([]));
    let unknown = r.run(&["host-admin", "add"], &["personne@ailleurs.fr"]);
    assert_fails_with(&unknown, 1, &["introuvable"]);
    let add = r.run(&["host-admin", "add"], &[ADMIN]);
    assert_success(&add, "host-admin add");
    assert!(
        stdout(&add).contains("administre l'hébergement"),
        "{}",
        stdout(&add)
    );
    let list = r.run(&["host-admin", "list"], &["--json"]);
    assert_eq!(json(&list)["host_admins"], serde_json::json!([ADMIN]));
    let remove = r.run(&["host-admin", "remove"], &[ADMIN]);
    assert_success(&remove, "host-admin remove");
    let list = r.run(&["host-admin", "list"], &["--json"]);
    assert_eq!(json(&list)["host_admins"], serde_json::json!([]));
    // Two grants and a removal: two journal entries of the change, by the command line.
    let journal = r.run(&["journal", "verify"], &[]);
    assert_success(&journal, "journal verify");
}

mod sigkill_before_a_file_is_published_leaves_nothing_behind {
    #[test]
    fn sqlite() {
        super::sigkill_before_a_file_is_published_leaves_nothing_behind(super::Backend::Sqlite);
    }
    #[test]
    fn postgres() {
        super::sigkill_before_a_file_is_published_leaves_nothing_behind(super::Backend::Postgres);
    }
}

mod refused_registration_leaves_no_new_contact {
    #[test]
    fn sqlite() {
        super::refused_registration_leaves_no_new_contact(super::Backend::Sqlite);
    }
    #[test]
    fn postgres() {
        super::refused_registration_leaves_no_new_contact(super::Backend::Postgres);
    }
}

mod full_disk_is_named_in_french {
    #[test]
    fn sqlite() {
        super::full_disk_is_named_in_french(super::Backend::Sqlite);
    }
    #[test]
    fn postgres() {
        super::full_disk_is_named_in_french(super::Backend::Postgres);
    }
}

// ---------------------------------------------------------------------------------------
// 1. Happy path
// ---------------------------------------------------------------------------------------

fn init_then_register(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    assert!(reg.data.join("master.key").is_file());

    assert_eq!(reg.register("Demande de salle"), chrono_number(1));
    assert_eq!(reg.register("Demande de salle, relance"), chrono_number(2));

    // A fixed, hand-checked date: 31 January + 2 calendar months = 31 March (L231-1).
    let scan: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = reg.dir.path().join("scan-courrier.pdf");
    std::fs::write(&file, &scan).unwrap();
    let v = reg.register_json(&[
        "--subject",
        "Demande d'autorisation de voirie",
        "--type",
        "demande-administrative",
        "--arrived",
        "2026-01-31",
        file.to_str().unwrap(),
    ]);
    let item = &v["item"];
    assert_eq!(item["chrono"], chrono_number(3));
    assert_eq!(item["arrival_date"], "2026-01-31");
    assert_eq!(item["due_date"], "2026-03-31", "{v}");
    // Silence vaut rejet (L231-4 2°): the implicit decision is born on the due date.
    assert_eq!(item["silence_date"], "2026-03-31", "{v}");
    let attachments = v["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{v}");
    assert_eq!(attachments[0]["sha256"], sha256_hex(&scan));
    assert_eq!(attachments[0]["size"], scan.len());
    assert_eq!(attachments[0]["filename"], "scan-courrier.pdf");
    assert_eq!(attachments[0]["media_type"], "application/pdf");

    // Clamped to the month's end: 31 December 2025 + 2 months = 28 February 2026.
    let v = reg.register_json(&[
        "--subject",
        "Demande de fin d'année",
        "--type",
        "demande-administrative",
        "--arrived",
        "2025-12-31",
    ]);
    assert_eq!(v["item"]["chrono"], chrono_number(4));
    assert_eq!(v["item"]["due_date"], "2026-02-28", "{v}");
    assert_eq!(v["item"]["silence_date"], "2026-02-28", "{v}");

    // Ten days ago: the same day number two calendar months later, clamped to the month's
    // end (chrono's checked_add_months implements exactly that rule).
    let arrived = today_in_paris() - chrono::Duration::days(10);
    let expected = arrived.checked_add_months(Months::new(2)).unwrap();
    let arrived_text = arrived.to_string();
    let v = reg.register_json(&[
        "--subject",
        "Demande récente",
        "--type",
        "demande-administrative",
        "--arrived",
        &arrived_text,
    ]);
    assert_eq!(v["item"]["chrono"], chrono_number(5));
    assert_eq!(v["item"]["due_date"], expected.to_string(), "{v}");
    assert_eq!(v["item"]["silence_date"], expected.to_string(), "{v}");
    assert_eq!(v["attachments"], Value::Array(vec![]));

    // `item show` reads back the item and its file.
    let shown = reg.show(&chrono_number(3));
    assert_eq!(shown["item"]["subject"], "Demande d'autorisation de voirie");
    assert_eq!(shown["item"]["due_date"], "2026-03-31");
    assert_eq!(shown["item"]["status"], "registered");
    assert_eq!(shown["attachments"][0]["sha256"], sha256_hex(&scan));
    assert_eq!(shown["attachments"].as_array().unwrap().len(), 1);

    // `ar` writes the accusé de réception: receipt on 31 January, accepted on 31 March.
    let pdf = reg.dir.path().join("ar.pdf");
    let out = reg.run(
        &["ar"],
        &[
            "--commune",
            INSEE,
            &chrono_number(3),
            "-o",
            pdf.to_str().unwrap(),
        ],
    );
    assert_success(&out, "ar");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    if let Ok(text) = Command::new("pdftotext").arg(&pdf).arg("-").output() {
        let text = String::from_utf8_lossy(&text.stdout).replace('\n', " ");
        assert!(text.contains("31 janvier 2026"), "{text}");
        assert!(text.contains("réputée rejetée le 31 mars 2026"), "{text}");
    } else {
        eprintln!("NOTE: pdftotext missing (poppler-utils): the AR's text is not checked");
    }
    // An item without a type has no deadlines to state; an unknown number is named.
    assert_refused(
        &reg.run(&["ar"], &["--commune", INSEE, &chrono_number(1)]),
        &["type"],
    );
    assert_refused(
        &reg.run(&["ar"], &["--commune", INSEE, "1999-A-000001"]),
        &["1999-A-000001"],
    );

    let fsck = reg.assert_sound();
    assert_eq!(fsck["report"]["files_checked"], 1, "{fsck}");
}

// ---------------------------------------------------------------------------------------
// 2. Document types
// ---------------------------------------------------------------------------------------

fn doctype_codes(reg: &Register) -> Vec<String> {
    let out = reg.run(&["doctype", "list"], &["--json", "--commune", INSEE]);
    assert_success(&out, "doctype list");
    json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_owned())
        .collect()
}

fn doctype_add(reg: &Register, code: &str, delay: &str, silence: &str) -> Output {
    reg.run(
        &["doctype", "add"],
        &[
            "--commune",
            INSEE,
            "--code",
            code,
            "--label",
            "Permis de stationnement",
            "--delay",
            delay,
            "--silence",
            silence,
        ],
    )
}

fn doctype_add_and_bad_values(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let out = doctype_add(&reg, "permis-stationnement", "15d", "rejection");
    assert_success(&out, "doctype add");
    assert!(
        stdout(&out).contains("permis-stationnement"),
        "{}",
        stdout(&out)
    );
    let codes = doctype_codes(&reg);
    assert!(
        codes.contains(&"permis-stationnement".to_owned()),
        "{codes:?}"
    );

    // 15 calendar days after 31 January (the arrival day does not count) = 15 February;
    // silence vaut rejet, so the implicit rejection is born the same day.
    let v = reg.register_json(&[
        "--subject",
        "Permis de stationnement pour un déménagement",
        "--type",
        "permis-stationnement",
        "--arrived",
        "2026-01-31",
    ]);
    assert_eq!(v["item"]["doctype_code"], "permis-stationnement");
    assert_eq!(v["item"]["due_date"], "2026-02-15", "{v}");
    assert_eq!(v["item"]["silence_date"], "2026-02-15", "{v}");

    let entries = reg.journal_entries();
    let out = doctype_add(&reg, "mauvais-delai", "2x", "rejection");
    assert_refused(&out, &["délai invalide", "« 2x »"]);
    let out = doctype_add(&reg, "mauvais-silence", "15d", "maybe");
    assert_refused(&out, &["silence", "« maybe »"]);
    // Adding the same code twice is refused too.
    let out = doctype_add(&reg, "permis-stationnement", "1m", "none");
    assert_refused(&out, &["permis-stationnement"]);
    // Registering with an unknown type names it.
    let out = reg.run(
        &["register"],
        &[
            "--commune",
            INSEE,
            "--channel",
            "paper",
            "--subject",
            "x",
            "--type",
            "mauvais-delai",
        ],
    );
    assert_refused(&out, &["type de document inconnu", "mauvais-delai"]);

    assert_eq!(doctype_codes(&reg), codes);
    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
    reg.assert_sound();
}

// ---------------------------------------------------------------------------------------
// 3. Bad input
// ---------------------------------------------------------------------------------------

fn bad_register_arguments_are_refused(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();
    let future = (today_in_paris() + chrono::Duration::days(30)).to_string();
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--channel", "pigeon", "--subject", "x"], &["pigeon"]),
        (
            &[
                "--channel",
                "paper",
                "--subject",
                "x",
                "--arrived",
                "31/01/2026",
            ],
            &["date d'arrivée invalide", "31/01/2026"],
        ),
        (
            &["--channel", "paper", "--subject", "x", "--arrived", &future],
            &["dans le futur", &future],
        ),
        (&["--channel", "paper", "--subject", "   "], &["objet"]),
        (
            &["--channel", "registered", "--subject", "x"],
            &["recommandé"],
        ),
        (
            &[
                "--channel",
                "paper",
                "--subject",
                "x",
                "--direction",
                "sideways",
            ],
            &["sideways"],
        ),
    ];
    for (args, needles) in cases {
        let mut all = vec!["--commune", INSEE, "--from", "nouveau@exemple.fr"];
        all.extend_from_slice(args);
        let out = reg.run(&["register"], &all);
        assert_refused(&out, needles);
    }
    // Nothing was created on the way, not even the sender contact.
    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
    reg.assert_sound();
}

/// Lists what is in a directory (empty when it does not exist).
fn dir_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Number of tables in the test database (PostgreSQL only).
fn pg_tables(reg: &Register) -> Option<u64> {
    reg.pg_url().map(|url| {
        psql(
            url,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        )
        .parse()
        .unwrap()
    })
}

fn unknown_insee_is_refused(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    // Before anything exists: nothing is created.
    let out = reg.run_init("99999");
    assert_refused(&out, &["code INSEE inconnu", "« 99999 »"]);
    assert_eq!(dir_entries(&reg.data), Vec::<String>::new());
    assert!(pg_tables(&reg).is_none_or(|n| n == 0));

    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();
    let out = reg.run(
        &["register"],
        &[
            "--commune",
            "99999",
            "--channel",
            "paper",
            "--subject",
            "Courrier égaré",
        ],
    );
    assert_refused(&out, &["code INSEE inconnu", "« 99999 »"]);
    // A real commune that is not in this register is named too.
    let out = reg.run(
        &["register"],
        &[
            "--commune",
            OTHER_INSEE,
            "--channel",
            "paper",
            "--subject",
            "x",
        ],
    );
    assert_refused(&out, &[OTHER_INSEE, "parapheur init"]);
    // And init with an unknown code on an existing register changes nothing.
    let out = reg.run_init("99999");
    assert_refused(&out, &["code INSEE inconnu"]);

    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
    reg.assert_sound();
}

fn duplicate_commune_is_refused(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    let key = std::fs::read(reg.data.join("master.key")).unwrap();
    let entries = reg.journal_entries();

    let out = reg.run_init(INSEE);
    assert_refused(&out, &["existe déjà", INSEE, COMMUNE_NAME]);

    assert_eq!(std::fs::read(reg.data.join("master.key")).unwrap(), key);
    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
    // A second, different commune is still accepted in the same register.
    assert_success(&reg.run_init(OTHER_INSEE), "init of another commune");
    reg.assert_sound();
}

fn status_of(reg: &Register, number: &str) -> Value {
    reg.show(number)["item"]["status"].clone()
}

fn forbidden_status_transitions_are_refused(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let number = reg.register("Demande d'acte de naissance");
    let entries = reg.journal_entries();
    let status = |to: &str, reason: Option<&str>| {
        let mut args = vec!["--commune", INSEE, number.as_str(), "--to", to];
        if let Some(r) = reason {
            args.extend(["--reason", r]);
        }
        reg.run(&["item", "status"], &args)
    };

    let out = status("archived", None);
    assert_refused(&out, &["interdit", "enregistré", "archivé"]);
    let out = status("closed", None);
    assert_refused(&out, &["motif"]);
    let out = status("in_progress", Some("answered"));
    assert_refused(&out, &["motif"]);
    let out = status("closed", Some("parce-que"));
    assert_refused(&out, &["parce-que"]);
    let out = status("nowhere", None);
    assert_refused(&out, &["nowhere"]);

    assert_eq!(status_of(&reg, &number), "registered");
    assert_eq!(reg.journal_entries(), entries);

    // The allowed move still works, so the refusals above were about the transitions.
    assert_success(&status("closed", Some("answered")), "close");
    assert_eq!(status_of(&reg, &number), "closed");
    assert!(reg.journal_entries() > entries);
    let out = status("registered", None);
    assert_refused(&out, &["interdit", "clos", "enregistré"]);
    assert_eq!(status_of(&reg, &number), "closed");
    reg.assert_next_is(1);
    reg.assert_sound();
}

fn unreadable_files_are_refused(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();
    let readable = reg.dir.path().join("lisible.pdf");
    std::fs::write(&readable, b"%PDF-1.4 lisible").unwrap();
    let missing = reg.dir.path().join("absent.pdf");
    let directory = reg.dir.path().join("un-dossier");
    std::fs::create_dir(&directory).unwrap();

    for bad in [&missing, &directory] {
        let bad_text = bad.to_str().unwrap();
        // Alone, and after a readable file: neither is registered.
        for files in [vec![bad_text], vec![readable.to_str().unwrap(), bad_text]] {
            let mut args = vec![
                "--commune",
                INSEE,
                "--channel",
                "paper",
                "--subject",
                "Courrier avec pièce",
            ];
            args.extend(files);
            let out = reg.run(&["register"], &args);
            assert_refused(&out, &["impossible de lire le fichier", bad_text]);
        }
    }

    // A file over the 64 MB limit is refused by name (a sparse file: no disk used).
    let huge = oversized_file(&reg);
    let out = reg.run(
        &["register"],
        &[
            "--commune",
            INSEE,
            "--channel",
            "paper",
            "--subject",
            "Courrier avec pièce",
            huge.to_str().unwrap(),
        ],
    );
    assert_refused(&out, &["« enorme.pdf »", "64 Mo"]);

    assert_eq!(reg.journal_entries(), entries);
    let fsck = reg.assert_sound();
    assert_eq!(fsck["report"]["orphans"], Value::Array(vec![]), "{fsck}");
    reg.assert_next_is(1);
}

/// A sparse 65 MB file, over the product's 64 MB limit for one attachment.
fn oversized_file(reg: &Register) -> PathBuf {
    let path = reg.dir.path().join("enorme.pdf");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(65 * 1024 * 1024).unwrap();
    path
}

/// A registration refused after the sender was resolved must not leave the new contact
/// behind (the register must be as it was).
fn refused_registration_leaves_no_new_contact(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();
    let huge = oversized_file(&reg);
    let out = reg.run(
        &["register"],
        &[
            "--commune",
            INSEE,
            "--channel",
            "paper",
            "--subject",
            "Courrier avec pièce",
            "--from",
            "nouvel.expediteur@exemple.fr",
            huge.to_str().unwrap(),
        ],
    );
    assert_refused(&out, &["64 Mo"]);
    assert_eq!(
        reg.journal_entries(),
        entries,
        "the refused registration changed the register (a contact was created)"
    );
    reg.assert_next_is(1);
}

/// `config check` prints the configuration in effect with its secrets masked; a misspelt
/// key, a bad value or a bad variable stops every command at start, named.
fn config_check_prints_the_settings_and_refuses_bad_ones(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let file = reg.data.join("parapheur.toml");
    std::fs::write(
        &file,
        "public_url = 'https://courrier.mairie-exemple.fr/'\npoll_seconds = 120\n\
         [smtp]\nhost = 'smtp.exemple.fr'\nfrom = 'mairie@exemple.fr'\n\
         username = 'mairie'\npassword = 'secret-smtp-42'\n",
    )
    .unwrap();
    let out = reg.run(&["config", "check"], &[]);
    assert_success(&out, "config check");
    let text = stdout(&out);
    assert!(
        text.contains("public_url = https://courrier.mairie-exemple.fr\n")
            && text.contains("poll_seconds = 120\n")
            && text.contains("mot de passe ********"),
        "{text}"
    );
    assert!(!text.contains("secret-smtp-42"), "{text}");
    if let Some(url) = reg.pg_url() {
        let password = url.split('@').next().and_then(|u| u.rsplit(':').next());
        if let Some(password) = password.filter(|p| !p.is_empty() && !p.contains('/')) {
            assert!(!text.contains(password), "{text}");
        }
    }
    let json = json(&reg.run(&["config", "check"], &["--json"]));
    assert_eq!(json["poll_seconds"], "120", "{json}");

    std::fs::write(&file, "public_url = 'https://x.fr'\npoll_secondes = 120\n").unwrap();
    for sub in [&["config", "check"][..], &["journal", "verify"][..]] {
        assert_refused(&reg.run(sub, &[]), &["poll_secondes"]);
    }
    std::fs::write(
        &file,
        "[smtp]\nhost = 'h'\nfrom = 'a@b.fr'\nsecurity = 'ssl'\n",
    )
    .unwrap();
    assert_refused(&reg.run(&["config", "check"], &[]), &["ssl"]);
    std::fs::remove_file(&file).unwrap();
    let out = reg.run_env(
        &["config", "check"],
        &[],
        &[("PARAPHEUR_POLL_SECONDS", "1 minute")],
    );
    assert_refused(&out, &["PARAPHEUR_POLL_SECONDS", "1 minute"]);
}

/// Files on a real S3 server (s3s-fs), set in `parapheur.toml` with the key in
/// `DATA/s3-credentials`: config check asks the bucket, register stores there, fsck reads
/// there; the server down makes fsck fail with exit code 75 and a French message.
fn files_on_s3_through_the_command_line(backend: Backend) {
    use parapheur_testkit::s3::{S3_ACCESS_KEY, S3_SECRET_KEY};
    use std::os::unix::fs::PermissionsExt as _;
    let Some(mut server) = parapheur_testkit::S3Server::start() else {
        return;
    };
    let Some(reg) = Register::new(backend) else {
        return;
    };
    let credentials = files_on_s3(&reg, &server, "cli", 0o644);
    assert_refused(&reg.run(&["config", "check"], &[]), &["chmod 600"]);
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = reg.run(&["config", "check"], &[]);
    assert_success(&out, "config check");
    let text = stdout(&out);
    assert!(
        text.contains("files = s3://parapheur-test/cli (http://127.0.0.1:")
            && text.contains(&format!("clé {S3_ACCESS_KEY}\n"))
            && text.contains("files_check = compartiment accessible (0 commune)"),
        "{text}"
    );
    assert!(!text.contains(S3_SECRET_KEY), "{text}");

    reg.init();
    let scan = reg.dir.path().join("scan.pdf");
    std::fs::write(&scan, b"%PDF-1.4 courrier sur S3").unwrap();
    let args = [
        "--commune",
        INSEE,
        "--channel",
        "paper",
        "--subject",
        "Avec scan",
    ];
    let out = reg.run(
        &["register"],
        &[&args[..], &[scan.to_str().unwrap()]].concat(),
    );
    assert_success(&out, "register with a file on S3");
    assert!(server.object_file("cli/communes").is_dir());
    assert!(!reg.data.join("files").exists());
    let out = reg.run(&["fsck"], &[]);
    assert_success(&out, "fsck on S3");
    assert!(
        stdout(&out).contains("1 fichier vérifié"),
        "{}",
        stdout(&out)
    );

    server.stop();
    let err = assert_fails_with(&reg.run(&["fsck"], &[]), 75, &["ne répond pas"]);
    assert!(err.contains("rien n'a été perdu"), "{err}");
    assert_fails_with(&reg.run(&["config", "check"], &[]), 75, &["ne répond pas"]);
    server.resume();
    assert_success(&reg.run(&["fsck"], &[]), "fsck once S3 is back");
}

/// The register's files in the bucket of `server` under `prefix`, rather than in its data
/// folder; the credentials file, made with `mode`, is returned.
fn files_on_s3(
    reg: &Register,
    server: &parapheur_testkit::S3Server,
    prefix: &str,
    mode: u32,
) -> PathBuf {
    use parapheur_testkit::s3::{S3_ACCESS_KEY, S3_SECRET_KEY};
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(&reg.data).unwrap();
    let setting = format!("files = '{}'\n", server.url(prefix));
    std::fs::write(reg.data.join("parapheur.toml"), setting).unwrap();
    let credentials = reg.data.join("s3-credentials");
    std::fs::write(
        &credentials,
        format!("aws_access_key_id = {S3_ACCESS_KEY}\naws_secret_access_key = {S3_SECRET_KEY}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(mode)).unwrap();
    credentials
}

fn missing_register_says_to_run_init(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    std::fs::create_dir_all(&reg.data).unwrap();
    let out = reg.run(
        &["register"],
        &["--commune", INSEE, "--channel", "paper", "--subject", "x"],
    );
    let err = assert_refused(&out, &["parapheur init"]);
    if backend == Backend::Sqlite {
        assert!(err.contains("aucun registre"), "{err}");
    }
    for sub in [&["journal", "verify"][..], &["fsck"][..]] {
        assert_refused(&reg.run(sub, &[]), &["parapheur init"]);
    }
    // Nothing was created on the way.
    assert_eq!(dir_entries(&reg.data), Vec::<String>::new());
    assert!(pg_tables(&reg).is_none_or(|n| n == 0));

    // A data directory that does not exist at all.
    let Some(absent) = Register::new(backend) else {
        return;
    };
    let out = absent.run(
        &["register"],
        &["--commune", INSEE, "--channel", "paper", "--subject", "x"],
    );
    assert_refused(&out, &["parapheur init"]);
    assert!(!absent.data.exists());
}

/// Another valid master key: 32 bytes, base64, different from the register's.
fn another_master_key(current: &str) -> String {
    let bytes = Sha256::digest(format!("autre clé {}", Utc::now()));
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    assert_ne!(key.trim(), current.trim());
    key
}

fn wrong_master_key_is_refused(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();
    let current = std::fs::read_to_string(reg.data.join("master.key")).unwrap();
    let wrong = another_master_key(&current);

    let args = [
        "--commune",
        INSEE,
        "--channel",
        "paper",
        "--subject",
        "Courrier chiffré",
    ];
    let out = reg.run_env(
        &["register"],
        &args,
        &[("PARAPHEUR_MASTER_KEY", wrong.as_str())],
    );
    assert_refused(&out, &["clé maître", "ne correspond pas"]);
    assert_eq!(stdout(&out), "");
    // A key that is not a key at all is named as such.
    let out = reg.run_env(
        &["register"],
        &args,
        &[("PARAPHEUR_MASTER_KEY", "pas-une-clé")],
    );
    assert_refused(&out, &["clé maître invalide"]);
    // The read-only commands refuse the wrong key as well.
    let out = reg.run_env(&["fsck"], &[], &[("PARAPHEUR_MASTER_KEY", wrong.as_str())]);
    assert_refused(&out, &["clé maître"]);

    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
    // The right key given in the environment works.
    let out = reg.run_env(
        &["register"],
        &args,
        &[("PARAPHEUR_MASTER_KEY", current.trim())],
    );
    assert_success(&out, "register with the right key in the environment");
    assert_eq!(stdout(&out).trim(), chrono_number(3));
    reg.assert_sound();
}

/// A SQLite register whose database file was overwritten with garbage after init.
fn corrupted_register() -> (Register, Vec<u8>) {
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    reg.register("Premier courrier");
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (splitmix64(u64::from(i)) & 0xff) as u8)
        .collect();
    std::fs::write(reg.sqlite_path(), &garbage).unwrap();
    for name in ["parapheur.sqlite-wal", "parapheur.sqlite-shm"] {
        let _ = std::fs::remove_file(reg.data.join(name));
    }
    (reg, garbage)
}

#[test]
fn corrupt_sqlite_database_is_refused() {
    let (reg, garbage) = corrupted_register();
    let out = reg.run(
        &["register"],
        &["--commune", INSEE, "--channel", "paper", "--subject", "x"],
    );
    assert_fails_with(&out, 70, &["base de données", "parapheur.sqlite"]);
    // The program did not "repair" the file by overwriting it.
    assert_eq!(std::fs::read(reg.sqlite_path()).unwrap(), garbage);
}

#[test]
fn corrupt_sqlite_database_is_named_corrupt_at_once() {
    let (reg, garbage) = corrupted_register();
    for sub in [&["register"][..], &["journal", "verify"][..]] {
        let started = Instant::now();
        let args: &[&str] = if sub == ["register"] {
            &["--commune", INSEE, "--channel", "paper", "--subject", "x"]
        } else {
            &[]
        };
        let out = reg.run(sub, args);
        assert_fails_with(&out, 70, &["corrompue"]);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{sub:?} took {took:?}");
    }
    assert_eq!(std::fs::read(reg.sqlite_path()).unwrap(), garbage);
}

#[test]
fn locked_sqlite_database_is_reported() {
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();

    let script = "import sqlite3, sys, time\n\
                  c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                  c.execute('BEGIN EXCLUSIVE')\n\
                  print('locked', flush=True)\n\
                  time.sleep(5)\n";
    let mut locker = Command::new("python3")
        .args(["-c", script])
        .arg(reg.sqlite_path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the lock test");
    let mut line = String::new();
    BufReader::new(locker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");

    let started = Instant::now();
    let out = reg.run_env(
        &["register"],
        &["--commune", INSEE, "--channel", "paper", "--subject", "x"],
        &[("PARAPHEUR_LOCK_TIMEOUT_MS", "300")],
    );
    let waited = started.elapsed();
    // Still held: the refusal came from the lock, not from its release.
    assert!(locker.try_wait().unwrap().is_none(), "lock released early");
    assert_fails_with(&out, 75, &["verrouillée"]);
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");

    assert!(locker.wait().unwrap().success());
    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
    reg.assert_sound();
}

/// Runs a command, killing it after `deadline`: None when it had to be killed.
fn output_within(mut cmd: Command, deadline: Duration) -> Option<Output> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(Output {
                status,
                stdout: out.join().unwrap().into_bytes(),
                stderr: err.join().unwrap().into_bytes(),
            });
        }
        if started.elapsed() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// PostgreSQL: another session holds an exclusive lock on the items for 30 s. SQLite gives
/// up after its busy timeout (10 s by default); PostgreSQL should not wait for ever either.
#[test]
fn locked_postgres_database_is_reported() {
    let Some(reg) = Register::new(Backend::Postgres) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    let entries = reg.journal_entries();
    let url = reg.pg_url().unwrap().to_owned();
    let mut locker = Command::new("psql")
        .arg(&url)
        .args([
            "-qc",
            "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let held = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                WHERE c.relname = 'items' AND l.mode = 'AccessExclusiveLock' AND l.granted";
    let started = Instant::now();
    while psql(&url, held) != "1" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "lock not taken"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut cmd = reg.command(&["register"]);
    cmd.args(["--commune", INSEE, "--channel", "paper", "--subject", "x"]);
    cmd.env("PARAPHEUR_LOCK_TIMEOUT_MS", "1000");
    let out = output_within(cmd, Duration::from_secs(20));
    let _ = locker.kill();
    let _ = locker.wait();
    // Killing psql does not stop its server-side sleep: end that session too.
    psql(
        &url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
    );
    let started = Instant::now();
    while psql(&url, held) != "0" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "lock not released"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = out.expect("register still waiting after 20 s behind a lock");
    assert_fails_with(&out, 75, &["verrouillée"]);
    assert_eq!(reg.journal_entries(), entries);
    reg.assert_next_is(1);
}

/// A tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs on {} failed", dir.display());
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Takes all the free space of the directory's disk but `leave` bytes, in a filler file.
fn fill_up(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("remplissage");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
    filler
}

/// Fills a 2 MB tmpfs data directory with 1 MB attachments until a registration fails;
/// then, on SQLite, with a filler that leaves `db_room` bytes, registers small items until
/// the database itself cannot write. After each refusal the register must be sound, and
/// with room again its numbering must go on without a gap. Returns the refusals' messages.
fn fill_the_disk(backend: Backend, db_room: u64) -> Option<Vec<String>> {
    if !is_root() {
        eprintln!("SKIPPED (full disk, {backend:?}): needs root to mount a tmpfs");
        return None;
    }
    let reg = Register::new(backend)?;
    // Dropped before `reg`, so the tmpfs is unmounted before the directory is removed.
    let disk = Tmpfs::mount(&reg.data, "2m");
    reg.init();
    let mut messages = Vec::new();

    // 1. The file store runs out of space. The file to attach lives outside the small disk.
    let file = reg.dir.path().join("gros-scan.pdf");
    let mut last = 0;
    let mut failure = None;
    for i in 0..10u32 {
        // Each file differs (content-addressed store: no deduplication).
        let mut bytes: Vec<u8> = (0..1024 * 1024u32)
            .map(|j| (splitmix64(u64::from(j)) >> 7) as u8)
            .collect();
        bytes[..4].copy_from_slice(&i.to_le_bytes());
        std::fs::write(&file, &bytes).unwrap();
        let out = reg.run(
            &["register"],
            &[
                "--commune",
                INSEE,
                "--channel",
                "paper",
                "--subject",
                "Gros courrier",
                file.to_str().unwrap(),
            ],
        );
        if !out.status.success() {
            failure = Some(out);
            break;
        }
        last += 1;
        assert_eq!(stdout(&out).trim(), chrono_number(last));
    }
    let out = failure.expect("a 2 MB disk never filled up");
    // 75: not available now (EX_TEMPFAIL), to try again once there is room.
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    eprintln!(
        "full disk, files ({backend:?}, after {last} items): {}",
        stderr(&out)
    );
    messages.push(stderr(&out));
    reg.assert_sound();

    // 2. SQLite: the database itself runs out of space.
    if backend == Backend::Sqlite {
        let filler = fill_up(&reg.data, db_room);
        let mut failure = None;
        for _ in 0..50 {
            let started = Instant::now();
            let out = reg.run(
                &["register"],
                &[
                    "--commune",
                    INSEE,
                    "--channel",
                    "paper",
                    "--subject",
                    "Petit courrier",
                ],
            );
            if !out.status.success() {
                failure = Some((out, started.elapsed()));
                break;
            }
            last += 1;
            assert_eq!(stdout(&out).trim(), chrono_number(last));
        }
        let (out, took) = failure.expect("the database never ran out of space");
        assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
        eprintln!(
            "full disk, database ({db_room} bytes left, after {last} items, {took:?}): {}",
            stderr(&out)
        );
        messages.push(stderr(&out));
        assert!(took < Duration::from_secs(5), "refused only after {took:?}");
        std::fs::remove_file(&filler).unwrap();
    }

    // With room again: sound, and the next number follows the last committed one.
    disk.resize("16m");
    reg.assert_sound();
    reg.assert_next_is(last);
    reg.assert_sound();
    drop(disk);
    Some(messages)
}

fn full_disk_leaves_the_register_sound(backend: Backend) {
    let Some(messages) = fill_the_disk(backend, 96 * 1024) else {
        return;
    };
    // The file store's message shows the OS cause (see the ignored test below for the
    // French wording); the database's says the disk is full.
    assert!(
        messages[0].contains("plein") || messages[0].contains("No space left on device"),
        "{}",
        messages[0]
    );
    if backend == Backend::Sqlite {
        assert!(
            messages[1].contains("le disque est plein"),
            "{}",
            messages[1]
        );
    }
}

/// The issue asks for a clear message naming the problem: in French, "disque plein".
fn full_disk_is_named_in_french(backend: Backend) {
    let Some(messages) = fill_the_disk(backend, 96 * 1024) else {
        return;
    };
    assert!(
        messages[0].contains("disque") && messages[0].contains("plein"),
        "the message should say the disk is full, in French: {}",
        messages[0]
    );
}

/// A disk so full that SQLite cannot even create its shared-memory file.
#[test]
fn completely_full_disk_is_named_at_once() {
    if !is_root() {
        eprintln!("SKIPPED (completely full disk): needs root to mount a tmpfs");
        return;
    }
    let reg = Register::new(Backend::Sqlite).unwrap();
    let disk = Tmpfs::mount(&reg.data, "2m");
    reg.init();
    reg.register("Premier courrier");
    let filler = fill_up(&reg.data, 0);
    assert!(!reg.data.join("parapheur.sqlite-shm").exists());

    let started = Instant::now();
    let out = reg.run(
        &["register"],
        &["--commune", INSEE, "--channel", "paper", "--subject", "x"],
    );
    let took = started.elapsed();
    eprintln!("completely full disk ({took:?}): {}", stderr(&out));
    assert_fails_with(&out, 75, &["disque est plein"]);
    assert!(took < Duration::from_secs(5), "refused only after {took:?}");

    std::fs::remove_file(filler).unwrap();
    reg.assert_sound();
    reg.assert_next_is(1);
    drop(disk);
}

// ---------------------------------------------------------------------------------------
// 4. Crash safety
// ---------------------------------------------------------------------------------------

/// Reads a child's pipe to the end on a thread (so a full pipe never blocks the child).
fn drain(pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut text);
        text
    })
}

/// Files under `dir` whose name is not a blob address (64 lower-case hex digits).
fn stray_files(dir: &Path) -> Vec<PathBuf> {
    let mut strays = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy();
            let is_blob = name.len() == 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !is_blob {
                strays.push(path);
            }
        }
    }
    strays
}

fn spawn_bench(reg: &Register) -> Child {
    reg.command(&["bench", "register"])
        .args(["--commune", INSEE, "--count", "100000", "--file-kb", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `rounds` registration benches, each SIGKILLed after a pseudo-random 100–800 ms.
/// Returns the highest number printed (each printed number is committed) and how many
/// rounds printed any.
fn kill_registrations(reg: &Register, backend: Backend, rounds: u32, seed: u64) -> (u32, u32) {
    use std::os::unix::process::ExitStatusExt;

    let mut highest = 0;
    let mut rounds_with_items = 0;
    for round in 0..rounds {
        let wait_ms = 100 + splitmix64(seed ^ u64::from(round)) % 701;
        let mut child = spawn_bench(reg);
        let out = drain(child.stdout.take().unwrap());
        let err = drain(child.stderr.take().unwrap());
        std::thread::sleep(Duration::from_millis(wait_ms));
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "bench stopped by itself ({status}) in round {round}: {}",
                err.join().unwrap()
            );
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "round {round}: {status}");
        let printed: Vec<u32> = out
            .join()
            .unwrap()
            .lines()
            .map(|l| seq_of(l).unwrap_or_else(|| panic!("not a chrono: {l:?}")))
            .collect();
        let _ = err.join();
        // Numbers go on from the previous rounds, without a gap; at most one committed
        // item per round went unprinted (killed between commit and println).
        if let Some(&first) = printed.first() {
            assert!(
                first > highest && first <= highest + 1 + round,
                "round {round}: first {first} after {highest}"
            );
            assert!(printed.windows(2).all(|w| w[1] == w[0] + 1), "{printed:?}");
            highest = *printed.last().unwrap();
            rounds_with_items += 1;
        }
        eprintln!(
            "crash round {round} ({backend:?}): killed after {wait_ms} ms, {} item(s) printed",
            printed.len()
        );
    }
    (highest, rounds_with_items)
}

fn sigkill_during_registrations_leaves_a_sound_register(backend: Backend) {
    const ROUNDS: u32 = 10;
    const SEED: u64 = 0x7061_7261_7068_6575; // "parapheu"
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let started = Instant::now();
    let (highest, rounds_with_items) = kill_registrations(&reg, backend, ROUNDS, SEED);
    assert!(
        rounds_with_items >= 3,
        "only {rounds_with_items} round(s) registered anything"
    );

    let fsck = reg.assert_sound();
    eprintln!("fsck after the crashes ({backend:?}): {}", fsck["report"]);
    // The orphans were collected: a second pass finds none.
    let again = reg.assert_sound();
    assert_eq!(again["report"]["orphans"], Value::Array(vec![]), "{again}");

    // Every printed number exists with its one file (registration is atomic).
    for seq in 1..=highest {
        let shown = reg.show(&chrono_number(seq));
        assert_eq!(shown["attachments"].as_array().unwrap().len(), 1, "{shown}");
    }
    // The next number follows the highest committed one, which is at most one unprinted
    // item per round above the last printed (fsck's numbering check rules out gaps).
    let next = seq_of(&reg.register("Après les coupures")).unwrap();
    assert!(
        next > highest && next <= highest + 1 + ROUNDS,
        "next {next} after highest printed {highest}"
    );
    if next > highest + 1 {
        let shown = reg.show(&chrono_number(next - 1));
        assert_eq!(shown["attachments"].as_array().unwrap().len(), 1, "{shown}");
    }
    reg.assert_sound();
    eprintln!(
        "crash test ({backend:?}): {ROUNDS} rounds, {highest} items printed, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `bench register` (20 items with a 10 KB file) under strace, which sends SIGKILL
/// to the process at its `when`-th call of one of `syscalls`: a crash at a precise point.
/// Returns the numbers it printed.
fn bench_killed_at(reg: &Register, syscalls: &str, when: u32) -> Vec<u32> {
    use std::os::unix::process::ExitStatusExt;

    let mut inner = reg.command(&["bench", "register"]);
    inner.args(["--commune", INSEE, "--count", "20", "--file-kb", "10"]);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("trace={syscalls}"))
        .arg("-e")
        .arg(format!("inject={syscalls}:signal=KILL:when={when}"))
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null());
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    let out = output_within(cmd, Duration::from_secs(60)).expect("bench under strace hung");
    // strace reports the tracee's death by SIGKILL as its own (signal or 128 + 9).
    assert!(
        out.status.signal() == Some(9) || out.status.code() == Some(137),
        "not killed at {syscalls} #{when}: {}\n{}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
        .lines()
        .map(|l| seq_of(l).unwrap_or_else(|| panic!("not a chrono: {l:?}")))
        .collect()
}

/// SIGKILL at the 1st, 2nd, … 12th fsync/fdatasync of a registration run: inside the file
/// store's publishing (file, then directory) and inside the database commit.
fn sigkill_at_sync_points_leaves_a_sound_register(backend: Backend) {
    if !strace_available() {
        eprintln!("SKIPPED (crash at sync points, {backend:?}): strace is not installed");
        return;
    }
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let mut highest = 0;
    let mut killed_after_items = 0;
    for (round, when) in (1..=12).enumerate() {
        let printed = bench_killed_at(&reg, "fsync,fdatasync", when);
        if let Some(&first) = printed.first() {
            let round = u32::try_from(round).unwrap();
            assert!(
                first > highest && first <= highest + 1 + round,
                "sync #{when}: first {first} after {highest}"
            );
            assert!(printed.windows(2).all(|w| w[1] == w[0] + 1), "{printed:?}");
            highest = *printed.last().unwrap();
            killed_after_items += 1;
        }
        reg.journal_entries();
    }
    assert!(killed_after_items >= 3, "the kills all came too early");
    reg.assert_sound();
    for seq in 1..=highest {
        let shown = reg.show(&chrono_number(seq));
        assert_eq!(shown["attachments"].as_array().unwrap().len(), 1, "{shown}");
    }
    let next = seq_of(&reg.register("Après les coupures")).unwrap();
    assert!(
        next > highest && next <= highest + 13,
        "next {next} after {highest}"
    );
    reg.assert_sound();
}

/// `import-mail` on `refs` under strace, which does `inject` at each flush of the file store.
fn import_under_strace(reg: &Register, refs: &[&str], inject: &str) -> Command {
    let inner = reg.command(&["import-mail"]);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=syncfs", "-e"])
        .arg(format!("inject=syncfs:{inject}"))
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(refs)
        .stdin(Stdio::null());
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// SIGKILL to the program strace runs (killing strace itself would only detach it).
fn kill_tracee_of(strace: &std::process::Child) {
    let pid = strace.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    let tracee = children
        .split_whitespace()
        .next()
        .expect("strace runs no program");
    let killed = Command::new("kill").args(["-9", tracee]).status().unwrap();
    assert!(killed.success(), "kill -9 {tracee}");
}

/// An import of 150 messages (committed 64 at a time: group commit) killed before its
/// first commit, then killed twice right after a commit, run again after each kill: in the
/// end every message is registered exactly once, numbered 1..=150 without a gap, and what a
/// killed run had committed stayed committed.
fn sigkill_during_an_import_loses_and_doubles_no_message(backend: Backend) {
    use std::os::unix::process::ExitStatusExt;

    const MESSAGES: u32 = 150;
    if !strace_available() {
        eprintln!("SKIPPED (crash during an import, {backend:?}): strace is not installed");
        return;
    }
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let folder = reg.dir.path().join("lot");
    std::fs::create_dir_all(&folder).unwrap();
    let mut args: Vec<String> = vec!["--commune".into(), INSEE.into()];
    for n in 0..MESSAGES {
        let path = folder.join(format!("message-{n:03}.eml"));
        std::fs::write(
            &path,
            format!(
                "From: Habitant {n} <habitant{n}@exemple.fr>\r\nTo: mairie@exemple.fr\r\n\
                 Subject: Demande numéro {n}\r\nMessage-ID: <m{n}@exemple.fr>\r\n\
                 Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nBonjour, voici ma demande {n}.\r\n"
            ),
        )
        .unwrap();
        args.push(path.display().to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    // The files of a batch are flushed together (syncfs) just before its commit. First a
    // kill at the first flush: the first batch's files written, nothing committed.
    let entries_before_import = reg.journal_entries();
    let out = output_within(
        import_under_strace(&reg, &refs, "signal=KILL:when=1"),
        Duration::from_secs(120),
    )
    .expect("import under strace hung");
    assert!(
        out.status.signal() == Some(9) || out.status.code() == Some(137),
        "not killed at the first flush: {}\n{}",
        out.status,
        stderr(&out)
    );
    reg.assert_sound();
    assert_eq!(reg.journal_entries(), entries_before_import);
    // Then, twice, a SIGKILL as soon as a batch is seen committed (the journal grew). Each
    // flush is held 300 ms by strace, so the kill lands while the next batch is flushed.
    for round in 1..=2 {
        let before = reg.journal_entries();
        let mut child = import_under_strace(&reg, &refs, "delay_exit=300000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            assert!(
                child.try_wait().unwrap().is_none(),
                "round {round}: the import ended before a kill"
            );
            if reg.journal_entries() > before {
                kill_tracee_of(&child);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "import hung");
        }
        let status = child.wait().unwrap();
        assert!(
            status.signal() == Some(9) || status.code() == Some(137),
            "round {round}: not killed: {status}"
        );
        reg.assert_sound();
    }
    let last = reg.run(&["import-mail"], &refs);
    assert_success(&last, "import-mail after the kills");
    let lines: Vec<String> = stdout(&last).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), MESSAGES as usize, "{lines:?}");
    let mut numbers: Vec<u32> = Vec::new();
    for line in &lines {
        let first = line.split('\t').next().unwrap();
        let chrono = first.strip_prefix("already taken: ").unwrap_or(first);
        numbers.push(seq_of(chrono).unwrap_or_else(|| panic!("not taken: {line}")));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=MESSAGES).collect::<Vec<u32>>(), "{lines:?}");
    reg.assert_sound();
    reg.assert_next_is(MESSAGES);
}

/// A registration killed after its file is written but before it is published (the
/// rename of the store's staging file `<sha>#1`) leaves that staging file. The store's
/// listing skips such names: fsck neither reports nor collects it, and the space is lost.
fn sigkill_before_a_file_is_published_leaves_nothing_behind(backend: Backend) {
    if !strace_available() {
        eprintln!("SKIPPED (staging files, {backend:?}): strace is not installed");
        return;
    }
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let printed = bench_killed_at(&reg, "rename,renameat,renameat2", 1);
    assert_eq!(printed, Vec::<u32>::new());
    reg.assert_sound();
    let strays = stray_files(&reg.data.join("files"));
    assert!(strays.is_empty(), "files fsck does not see: {strays:?}");
}

// ---------------------------------------------------------------------------------------
// 5. Journal tampering
// ---------------------------------------------------------------------------------------

fn journal_verify_detects_tampering(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    reg.register("Premier courrier");
    reg.register("Deuxième courrier");
    assert!(reg.journal_entries() >= 3);

    let sql = "UPDATE journal SET after_json = '{}' WHERE seq = 2";
    match reg.pg_url() {
        Some(url) => {
            psql(url, sql);
        }
        None => {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import sqlite3, sys\n\
                     c = sqlite3.connect(sys.argv[1])\n\
                     n = c.execute(sys.argv[2]).rowcount\n\
                     c.commit()\n\
                     assert n == 1, n\n",
                ])
                .arg(reg.sqlite_path())
                .arg(sql)
                .output()
                .unwrap();
            assert_success(&out, "tampering with python3");
        }
    }

    let out = reg.run(&["journal", "verify"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("JOURNAL ALTÉRÉ"), "{text}");
    assert!(text.contains("entrée 2 modifiée"), "{text}");

    let out = reg.run(&["journal", "verify"], &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["communes"][0]["insee"], INSEE);
    assert!(
        !v["communes"][0]["report"]["problems"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The child process the server lays documents out in: a job as JSON in, a header line
/// (the signature zone of a letter) and the PDF out; garbage is refused with no output.
#[test]
fn render_lays_out_a_pdf_and_refuses_garbage() {
    use std::io::Write;
    let run = |input: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parapheur"))
            .arg("render")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let document = serde_json::json!({ "Register": {
        "commune_name": "Montbazon", "insee": "37154",
        "period": "du 1er janvier 2026 au 31 décembre 2026",
        "generated_at": "2026-11-28T21:45:00+01:00", "filters": [],
        "rows": [{ "number": "2026-A-000001", "received_on": "05/01/2026", "direction": "entrant",
                   "channel": "courrier papier", "correspondent": "Jeanne Martin",
                   "subject": "Demande d'acte", "service": "Accueil", "status": "clos", "due_on": "" }],
    }});
    let out = run(document.to_string().as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        out.stdout.starts_with(b"{\"zone\":null}\n%PDF-"),
        "{}",
        String::from_utf8_lossy(&out.stdout[..40.min(out.stdout.len())])
    );
    // A reply letter: the header says where its signature zone landed.
    let letter = serde_json::json!({ "LetterWithZone": {
        "commune_name": "Mairie de Montbazon", "letterhead": ["Place du Marché"], "logo": null,
        "place_and_date": "Montbazon, le 6 décembre 2026", "recipient": ["Madame Jeanne Martin"],
        "reference": null, "subject": "Objet : salle des fêtes", "title": null,
        "opening": "Madame,", "sections": [{ "heading": null, "paragraphs": ["Accordé."], "list": [] }],
        "closing": null, "signature": ["Sylvie Moreau", "Maire"], "footer": null,
        "generated_at": "2026-12-06T09:00:00Z",
    }});
    let out = run(letter.to_string().as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let newline = out.stdout.iter().position(|&b| b == b'\n').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&out.stdout[..newline]).unwrap();
    assert_eq!(header["zone"]["page"], 1, "{header}");
    assert!(out.stdout[newline + 1..].starts_with(b"%PDF-"));
    let out = run(b"{ pas du json");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(!stderr(&out).is_empty());
}

// ---------------------------------------------------------------------------------------
// Capture: import-mail, extract, search, reindex, watch-folder
// ---------------------------------------------------------------------------------------

fn own_corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mail/tests/corpus/own")
        .join(name)
}

fn import_mail_search_and_bad_messages(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    // Our hard cases and a real mbox, one command; then a 1 GB message (sparse: its size is
    // read from the file system, never its bytes) and garbage.
    let hard: Vec<PathBuf> = [
        "html-hostile.eml",
        "truncated-multipart.eml",
        "unknown-charset.eml",
        "windows-1252.eml",
        "pdf-encrypted.eml",
        "pdf-javascript.eml",
        "zip-bomb.eml",
        "scan-ricoh.eml",
        "forward-rfc822.eml",
    ]
    .iter()
    .map(|n| own_corpus(n))
    .collect();
    let huge = reg.dir.path().join("enorme.eml");
    {
        let f = std::fs::File::create(&huge).unwrap();
        f.set_len(1024 * 1024 * 1024).unwrap();
    }
    let garbage = reg.dir.path().join("garbage.eml");
    std::fs::write(&garbage, [0u8, 159, 146, 150, 1, 2, 3]).unwrap();
    let mut many = String::from("From: collectif@exemple.fr\r\nTo: ");
    for i in 0..10_000 {
        many.push_str(&format!("habitant{i}@exemple.fr, "));
    }
    many.push_str("mairie@exemple.fr\r\nSubject: Pétition du quartier\r\n\r\nSignée par tous.\r\n");
    let many_path = reg.dir.path().join("petition.eml");
    std::fs::write(&many_path, many).unwrap();

    let mut args: Vec<String> = vec!["--commune".into(), INSEE.into()];
    args.extend(hard.iter().map(|p| p.display().to_string()));
    args.push(many_path.display().to_string());
    args.push(huge.display().to_string());
    args.push(garbage.display().to_string());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = reg.run(&["import-mail"], &refs);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        lines.len(),
        hard.len() + 3,
        "one line per message: {lines:?}"
    );
    // Exit 3: some were quarantined (kept, not registered).
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let quarantined: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("quarantined: "))
        .collect();
    assert_eq!(quarantined.len(), 2, "{lines:?}");
    assert!(
        quarantined
            .iter()
            .any(|l| l.contains("enorme.eml") && l.contains("Mo")),
        "{lines:?}"
    );
    for line in lines.iter().filter(|l| !l.starts_with("quarantined")) {
        assert!(seq_of(line.split('\t').next().unwrap()).is_some(), "{line}");
    }
    // Again: nothing new, nothing lost.
    let again = reg.run(&["import-mail"], &refs);
    assert!(
        stdout(&again)
            .lines()
            .all(|l| l.starts_with("already taken") || l.starts_with("quarantined")),
        "{}",
        stdout(&again)
    );

    // Search: French words, accents folded; the hostile HTML is found by its words.
    let found = reg.run(
        &["search"],
        &["--json", "--commune", INSEE, "petition", "quartier"],
    );
    assert_success(&found, "search");
    let v = json(&found);
    assert_eq!(v["total"], 1, "{v}");
    assert!(
        v["hits"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .contains("<mark>"),
        "{v}"
    );

    // Text extraction runs apart from registration; without failing on encrypted PDFs.
    let extract = reg.run(&["extract"], &["--json"]);
    assert_success(&extract, "extract");
    let done = json(&extract);
    assert!(
        done["not_extracted"].as_u64().unwrap() >= 1,
        "the encrypted PDF: {done}"
    );

    // The whole index rebuilt from the database gives the same answer.
    let reindex = reg.run(&["reindex"], &["--json"]);
    assert_success(&reindex, "reindex");
    let found = reg.run(&["search"], &["--json", "--commune", INSEE, "pétitions"]);
    assert_eq!(json(&found)["total"], 1);
    // Hostile queries are answered, never a crash.
    for q in [
        "\"unbalanced",
        "allowed:x",
        "*",
        "AND OR NOT",
        &"é".repeat(5000),
    ] {
        let out = reg.run(&["search"], &["--commune", INSEE, q]);
        assert_success(&out, q);
    }

    // Drop folder: a settled scan becomes a paper item and leaves; a Word file is refused.
    let folder = reg.dir.path().join("copieur");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("scan.pdf"), b"%PDF-1.4\n%%EOF\n").unwrap();
    std::fs::write(folder.join("note.docx"), b"PK\x03\x04").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(60);
    for name in ["scan.pdf", "note.docx"] {
        std::fs::File::options()
            .write(true)
            .open(folder.join(name))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let watch = reg.run(
        &["watch-folder"],
        &["--commune", INSEE, "--once", folder.to_str().unwrap()],
    );
    assert_success(&watch, "watch-folder");
    assert!(!folder.join("scan.pdf").exists());
    assert!(folder.join("refusés").join("note.docx").exists());
    reg.assert_sound();
}

/// A one-page PDF, written by hand (no PDF library among this crate's dependencies).
fn tiny_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>",
        "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << >> >>",
        "<< /Length 21 >>\nstream\nBT (Courrier) Tj ET\n\nendstream",
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).into_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").into_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .into_bytes(),
    );
    out
}

/// `parapheur pdf verify`: exit 0 only when every signature is valid (which needs the
/// signer's CA), 1 otherwise, with the same facts in --json.
#[test]
fn pdf_verify_exit_codes_and_json() {
    use parapheur_app::signing::{SignOptions, pki, sign_pdf};
    let dir = TempDir::new().unwrap();
    let now = Utc::now();
    let ca = pki::new_ca("Autorité de test", "Mairie de test", now).unwrap();
    let key = pki::issue(
        &ca,
        &pki::Subject {
            common_name: "Sylvie Moreau".into(),
            organisation: "Mairie de test".into(),
            ..Default::default()
        },
        now,
        30,
    )
    .unwrap();
    let signed = sign_pdf(&tiny_pdf(), &key, &SignOptions::at(now)).unwrap();
    let pdf = dir.path().join("signé.pdf");
    std::fs::write(&pdf, &signed).unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, pki::certificate_pem(&ca.chain_der()[0])).unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("PARAPHEUR_DATA")
            .output()
            .unwrap()
    };
    let p = pdf.to_str().unwrap();
    let t = ca_pem.to_str().unwrap();
    let out = run(&["pdf", "verify", p, "--trust", t]);
    assert_success(&out, "pdf verify");
    assert!(
        stdout(&out).contains("Verdict : valide"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("date non prouvée"),
        "{}",
        stdout(&out)
    );
    // Without the CA, nothing says who signed: not valid.
    let out = run(&["pdf", "verify", p]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("--trust"), "{}", stdout(&out));
    let out = run(&["--json", "pdf", "verify", p, "--trust", t]);
    assert_success(&out, "pdf verify --json");
    let v = json(&out);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["signatures"][0]["signer"], "Sylvie Moreau", "{v}");
    assert_eq!(v["signatures"][0]["verdict"], "valide", "{v}");
    assert_eq!(v["signatures"][0]["date_proven"], false, "{v}");
    // Bytes appended after the signature.
    let mut tampered = signed.clone();
    tampered.extend_from_slice(b"\n% ajout\n");
    std::fs::write(&pdf, &tampered).unwrap();
    let out = run(&["--json", "pdf", "verify", p, "--trust", t]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v = json(&out);
    assert_eq!(v["valid"], false, "{v}");
    assert!(
        !v["signatures"][0]["changes_after"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{v}"
    );
}

/// Issue 22's acceptance: a PDF approved twice by another stack is "signed twice and
/// intact" for `parapheur pdf verify`, as pyHanko says; valid once its root is trusted.
#[test]
fn a_pdf_signed_twice_by_another_stack_is_valid() {
    let dir = parapheur_testkit::signed_twice_by_another_stack();
    let pdf = dir.path().join("a_two_approvals.pdf");
    let root = dir.path().join("root.pem");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("PARAPHEUR_DATA")
            .output()
            .unwrap()
    };
    let (p, t) = (pdf.to_str().unwrap(), root.to_str().unwrap());
    let out = run(&["pdf", "verify", p, "--trust", t]);
    assert_success(&out, "pdf verify");
    let text = stdout(&out);
    assert!(text.contains("2 signatures, 3 révisions"), "{text}");
    assert!(
        text.contains("Alice Lefèvre") && text.contains("Bob Marchand"),
        "{text}"
    );
    assert!(!text.contains("modifications interdites"), "{text}");
    assert!(text.contains("Verdict : valide"), "{text}");
    let out = run(&["--json", "pdf", "verify", p, "--trust", t]);
    assert_success(&out, "pdf verify --json");
    let v = json(&out);
    assert_eq!(v["valid"], true, "{v}");
    let signatures = v["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 2, "{v}");
    for (s, signer) in signatures.iter().zip(["Alice Lefèvre", "Bob Marchand"]) {
        assert_eq!(s["signer"], signer, "{v}");
        assert_eq!(s["intact"], true, "{v}");
        assert_eq!(s["verdict"], "valide", "{v}");
        assert_eq!(s["changes_after"], Value::Array(Vec::new()), "{v}");
    }
    // Alice's signature is followed by Bob's: an allowed change, said as such.
    assert!(
        !signatures[0]["allowed_changes"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{v}"
    );
    // Without the root, both are intact but nobody vouches for the signers.
    let out = run(&["--json", "pdf", "verify", p]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v = json(&out);
    assert!(
        v["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["intact"] == true && s["trusted"] == false),
        "{v}"
    );
}

// ---------------------------------------------------------------------------------------
// Archives (issue 16): `parapheur archives …`
// ---------------------------------------------------------------------------------------

on_both_backends!(
    archives_from_the_command_line,
    subject_rights_from_the_command_line
);

/// Issue 16, the data subject's rights: `contacts export` writes a zip of the person's data
/// (and nothing of the other person's letter), `contacts erase` refuses while the item is
/// kept (exit 4, the reason in French), `contacts restrict` is accepted; the journal holds.
fn subject_rights_from_the_command_line(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let letter = reg.dir.path().join("lettre.pdf");
    std::fs::write(&letter, b"%PDF-1.4 lettre de Jeanne").unwrap();
    let register = |from: &str, subject: &str, file: Option<&Path>| {
        let mut args = vec![
            "--commune",
            INSEE,
            "--channel",
            "paper",
            "--from",
            from,
            "--subject",
            subject,
        ];
        if let Some(f) = file {
            args.push(f.to_str().unwrap());
        }
        let out = reg.run(&["register"], &args);
        assert_success(&out, "register");
        stdout(&out).trim().to_owned()
    };
    let hers = register(
        "jeanne.martin@example.fr",
        "Demande de Jeanne",
        Some(&letter),
    );
    register("paul.durandal@example.fr", "Plainte de Paul", None);

    let zip_path = reg.dir.path().join("export.zip");
    let out = reg.run(
        &["contacts", "export"],
        &[
            "--json",
            "--commune",
            INSEE,
            "jeanne.martin@example.fr",
            "--out",
            zip_path.to_str().unwrap(),
        ],
    );
    assert_success(&out, "contacts export");
    let v = json(&out);
    assert_eq!(
        (v["items"].as_u64(), v["files"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_name("donnees.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(data["courriers"][0]["numero"], hers.as_str());
    assert!(
        !text.contains("paul") && !text.contains("Plainte"),
        "{text}"
    );
    assert_eq!(archive.len(), 3);

    // An unknown address: a clear refusal, no file.
    let out = reg.run(
        &["contacts", "export"],
        &[
            "--commune",
            INSEE,
            "personne@example.fr",
            "--out",
            reg.dir.path().join("x.zip").to_str().unwrap(),
        ],
    );
    assert_refused(&out, &["aucun contact n'a l'adresse"]);
    assert!(!reg.dir.path().join("x.zip").exists());

    let out = reg.run(
        &["contacts", "erase"],
        &["--commune", INSEE, "jeanne.martin@example.fr"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.starts_with("Effacement refusé") && said.contains(&hers),
        "{said}"
    );
    assert!(said.contains("Code du patrimoine"), "{said}");

    let out = reg.run(
        &["contacts", "restrict"],
        &["--commune", INSEE, "jeanne.martin@example.fr"],
    );
    assert_success(&out, "contacts restrict");
    assert!(
        stdout(&out).contains("traitement limité"),
        "{}",
        stdout(&out)
    );
    reg.assert_sound();
}

use parapheur_testkit::validate_seda;

/// Correction 5 and parts 3–4 from the command line: `item status --to destroyed` is
/// refused; an item is transferred (valid SEDA), another eliminated after its visa; the
/// journal holds.
fn archives_from_the_command_line(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    let kept = reg.register("Demande de subvention");
    let card = reg.dir.path().join("carton.pdf");
    std::fs::write(&card, b"%PDF-1.4 carton d'invitation").unwrap();
    let gone = reg.register_json(&[
        "--subject",
        "Invitation au vernissage",
        "--type",
        "invitation",
        card.to_str().unwrap(),
    ])["item"]["chrono"]
        .as_str()
        .unwrap()
        .to_owned();
    for number in [&kept, &gone] {
        let out = reg.run(
            &["item", "status"],
            &[
                "--commune",
                INSEE,
                number,
                "--to",
                "closed",
                "--reason",
                "answered",
            ],
        );
        assert_success(&out, "close");
    }
    let out = reg.run(
        &["item", "status"],
        &["--commune", INSEE, &gone, "--to", "destroyed"],
    );
    assert_refused(&out, &["Archives départementales", "L212-2"]);
    let out = reg.run(
        &["item", "status"],
        &["--commune", INSEE, &kept, "--to", "archived"],
    );
    assert_refused(&out, &["versement"]);
    // Acting as a person without the archivist's role: refused as on the web, nothing done.
    let before = reg.journal_entries();
    let out = reg.run(
        &["archives", "hold"],
        &[
            "--commune",
            INSEE,
            "--as",
            ADMIN,
            &kept,
            "--reason",
            "Contentieux",
        ],
    );
    assert_refused(&out, &["réservé à l'archiviste"]);
    let out = reg.run(
        &["archives", "due"],
        &["--commune", INSEE, "--as", "inconnu@mairie-test.fr"],
    );
    assert_refused(&out, &["aucun utilisateur"]);
    assert_eq!(reg.journal_entries(), before);

    // The rules table, edited: invitations kept 0 years from registration, so due today.
    let out = reg.run(&["archives", "rules"], &["--json", "--commune", INSEE]);
    assert_success(&out, "archives rules");
    assert!(
        json(&out)
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["doctype"] == "invitation")
    );
    let out = reg.run(
        &["archives", "set-rule"],
        &[
            "--commune",
            INSEE,
            "invitation",
            "--years",
            "0",
            "--fate",
            "D",
            "--start",
            "registration",
        ],
    );
    assert_success(&out, "archives set-rule");
    let out = reg.run(&["archives", "due"], &["--json", "--commune", INSEE]);
    assert_success(&out, "archives due");
    let due = json(&out);
    assert_eq!(due.as_array().unwrap().len(), 1, "{due}");
    assert_eq!(due[0]["item"]["chrono"], gone.as_str());

    // Transfer: a valid SEDA 2.3 message.
    let xml = reg.data.join("versement.xml");
    let out = reg.run(
        &["archives", "transfer"],
        &[
            "--json",
            "--commune",
            INSEE,
            &kept,
            "-o",
            xml.to_str().unwrap(),
        ],
    );
    assert_success(&out, "archives transfer");
    validate_seda(&xml);

    // Elimination: proposal and bordereau, refused without the visa, then done.
    let bordereau = reg.data.join("bordereau.pdf");
    let out = reg.run(
        &["archives", "propose"],
        &[
            "--json",
            "--commune",
            INSEE,
            &gone,
            "-o",
            bordereau.to_str().unwrap(),
        ],
    );
    assert_success(&out, "archives propose");
    let number = json(&out)["proposal"]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(std::fs::read(&bordereau).unwrap().starts_with(b"%PDF-"));
    let certificate = reg.data.join("certificat.pdf");
    let eliminate = || {
        reg.run(
            &["archives", "eliminate"],
            &[
                "--commune",
                INSEE,
                &number,
                "-o",
                certificate.to_str().unwrap(),
            ],
        )
    };
    assert_refused(&eliminate(), &["visa"]);
    // The commune's date: a visa dated in UTC came before the proposal after 23:00 UTC.
    let today = today_in_paris().to_string();
    let out = reg.run(
        &["archives", "visa"],
        &[
            "--commune",
            INSEE,
            &number,
            "--by",
            "La directrice des Archives",
            "--on",
            &today,
            "--reference",
            "V-42",
        ],
    );
    assert_success(&out, "archives visa");
    assert_success(&eliminate(), "archives eliminate");
    assert!(std::fs::read(&certificate).unwrap().starts_with(b"%PDF-"));
    assert_eq!(status_of(&reg, &gone), "destroyed");
    assert_eq!(status_of(&reg, &kept), "closed");
    // The file is gone, and `item show` says so rather than forgetting it.
    let shown = reg.show(&gone);
    assert_eq!(shown["attachments"], Value::Array(vec![]), "{shown}");
    assert_eq!(
        shown["eliminated_files"][0]["filename"], "carton.pdf",
        "{shown}"
    );
    let out = reg.run(&["item", "show"], &["--commune", INSEE, &gone]);
    assert_success(&out, "item show");
    assert!(
        stdout(&out).contains("fichier éliminé : carton.pdf"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("carton.pdf"), "{}", stdout(&out));
    reg.journal_entries();
    reg.assert_sound();
}

/// A server asked for port 0 says and serves the port the system gave it (`cli/nodes.rs`).
#[test]
fn a_server_on_port_zero_says_and_serves_the_port_it_got() {
    nodes::a_server_on_port_zero_says_and_serves_the_port_it_got();
}

/// API tokens made, listed and revoked from the command line, used on a server (`cli/nodes.rs`).
#[test]
fn api_tokens_from_the_command_line_open_and_close_the_api() {
    nodes::api_tokens_from_the_command_line_open_and_close_the_api();
}

/// Two `serve` nodes on one PostgreSQL database and one S3 bucket, one killed mid-work
/// (`cli/nodes.rs`).
/// PostgreSQL only: a SQLite register is one box, one node.
#[test]
fn two_nodes_on_one_database_do_each_piece_of_work_once() {
    nodes::two_nodes_on_one_database_do_each_piece_of_work_once();
}
