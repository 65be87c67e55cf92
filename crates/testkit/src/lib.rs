//! What the integration tests of `app` and `web` share: a fresh register per test, in a
//! temporary data folder, on SQLite or on a fresh PostgreSQL database of the server named by
//! `PARAPHEUR_TEST_DATABASE_URL`. Only ever a dev-dependency: nothing here is for production.

// A test fixture that cannot be built is a failed test: panicking says where.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod s3;

use std::path::Path;

use parapheur_app::{Config, MasterKeySource};
use parapheur_files::MasterKey;
use sqlx::{AnyConnection, Connection};
use tempfile::TempDir;

pub use s3::S3Server;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL database on the server of `PARAPHEUR_TEST_DATABASE_URL`, or `None`
/// (said loudly) when PostgreSQL is not available outside CI. In CI its absence is a failure.
/// The database is dropped with the returned guard: keep it as long as the test uses it.
pub async fn fresh_postgres() -> Option<TestDatabase> {
    let Ok(admin) = std::env::var("PARAPHEUR_TEST_DATABASE_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "PostgreSQL is required in CI: set PARAPHEUR_TEST_DATABASE_URL (scripts/test.sh does)"
            );
        }
        eprintln!("SKIPPED (PostgreSQL): PARAPHEUR_TEST_DATABASE_URL unset; run ./scripts/test.sh");
        return None;
    };
    sqlx::any::install_default_drivers();
    let mut connection = AnyConnection::connect(&admin).await.unwrap();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(TestDatabase {
        url: format!("{base}/{name}"),
        admin,
        name,
    })
}

/// A PostgreSQL database made for one test, dropped (`WITH (FORCE)`: any connection still
/// open is cut) when this guard is. A test that panics keeps its database for inspection,
/// and says its name.
#[derive(Debug)]
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept the database of the failed test: {} (DROP DATABASE {} WITH (FORCE) when done)",
                self.url, self.name
            );
            return;
        }
        // The guard is usually dropped inside the test's runtime, where a runtime cannot be
        // entered again: the drop runs on a plain thread with its own, and is waited for, so
        // that no database outlives the test binary.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut connection = AnyConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await?;
                connection.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("test database {} not dropped: {e}", self.name),
            Err(_) => eprintln!(
                "test database {} not dropped: the thread panicked",
                self.name
            ),
        }
    }
}

/// The database of a fresh register on `db`: `None` for SQLite (a file in the data folder),
/// the PostgreSQL database's guard otherwise; `None` altogether when PostgreSQL is skipped
/// (see [`fresh_postgres`]).
pub async fn database(db: Db) -> Option<Option<TestDatabase>> {
    match db {
        Db::Sqlite => Some(None),
        Db::Postgres => Some(Some(fresh_postgres().await?)),
    }
}

/// A temporary data folder, removed when dropped.
pub fn data_dir() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// The configuration of a test register in `dir`: a fresh inline master key, and outbound
/// mail allowed to the test mail servers, which listen on this machine without TLS.
pub fn config(dir: &Path, database_url: Option<String>) -> Config {
    let mut config = Config::new(
        dir,
        database_url,
        MasterKeySource::Inline(MasterKey::generate().unwrap().to_base64()),
    );
    config.outbound_internal_addresses = true;
    config.outbound_plain_text = true;
    config
}

/// A one-page PDF, written by hand, whose page says `text` (ASCII letters and spaces).
pub fn tiny_pdf(text: &str) -> Vec<u8> {
    pdf_with_content(&format!("BT /F1 24 Tf 72 700 Td ({text}) Tj ET"))
}

/// A one-page letter, one line of the page per item of `lines` (ASCII, no parentheses), as a
/// born-digital PDF with its text layer.
pub fn letter_pdf(lines: &[&str]) -> Vec<u8> {
    let shown: Vec<String> = lines.iter().map(|l| format!("({l}) Tj T*")).collect();
    pdf_with_content(&format!(
        "BT /F1 12 Tf 16 TL 72 770 Td {} ET",
        shown.join(" ")
    ))
}

fn pdf_with_content(content: &str) -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /Contents 4 0 R \
         /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
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

/// A PDF saying `text`, signed with the product's own signing (`App::sign_pdf_as`) by a
/// new élu of `commune` named `name` (email `email`): a key issued by the commune's
/// authority, the second factor enrolled, then signed five minutes later, ten minutes ago.
pub async fn signed_pdf(
    app: &parapheur_app::App,
    commune: &parapheur_app::domain::Commune,
    email: &str,
    name: &str,
    text: &str,
) -> Vec<u8> {
    use parapheur_app::administration::second_factor::code_at;
    let system = parapheur_app::Actor::System("test");
    let t0 = chrono::Utc::now() - chrono::Duration::minutes(10);
    let signer = app
        .add_user(
            commune,
            parapheur_app::NewUser {
                email: email.into(),
                display_name: name.into(),
                title: Some("Maire".into()),
                role: parapheur_app::domain::Role::Elu,
                service_id: None,
                password: None,
                host_admin: false,
            },
            &system,
            t0,
        )
        .await
        .unwrap();
    app.issue_signer_key(commune, &system, signer.id, None, t0)
        .await
        .unwrap();
    let enrolment = app.begin_second_factor(commune, &signer).await.unwrap();
    let code = code_at(&enrolment.secret, t0).unwrap();
    app.confirm_second_factor(commune, &signer, &code, t0)
        .await
        .unwrap();
    let at = t0 + chrono::Duration::minutes(5);
    let code = code_at(&enrolment.secret, at).unwrap();
    app.sign_pdf_as(
        commune,
        email,
        parapheur_app::parapheur::SignerProof::code(&code),
        tiny_pdf(text),
        at,
    )
    .await
    .unwrap()
}

/// A PDF saying `text`, signed invisibly (no stamp, so its only text is `text`: a short
/// one reads as a scan, which the extractor OCRs) by a throwaway authority that no commune
/// trusts.
pub fn signed_invisibly(text: &str) -> Vec<u8> {
    use parapheur_app::signing::{SignOptions, pki, sign_pdf};
    let now = chrono::Utc::now() - chrono::Duration::minutes(1);
    let ca = pki::new_ca("Autorité de test", "Préfecture de test", now).unwrap();
    let key = pki::issue(
        &ca,
        &pki::Subject {
            common_name: "Claire Préfète".into(),
            organisation: "Préfecture de test".into(),
            ..Default::default()
        },
        now,
        30,
    )
    .unwrap();
    sign_pdf(&tiny_pdf(text), &key, &SignOptions::at(now)).unwrap()
}

/// `signed` with one letter of its signed content changed (same length, so the structure
/// and the signature's byte range still hold): the signature no longer matches.
pub fn altered(signed: &[u8], text: &str) -> Vec<u8> {
    let needle = format!("({text})");
    let at = signed
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("the signed text in the PDF");
    let mut out = signed.to_vec();
    // The first letter after "(": upper case becomes lower case and the other way round.
    out[at + 1] ^= 0x20;
    out
}

/// An email from `from` carrying `pdf` as the attachment `name` (base64, 76 columns).
pub fn mail_with_pdf(from: &str, subject: &str, name: &str, pdf: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(pdf);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: {from}\r\nTo: mairie@exemple.fr\r\nSubject: {subject}\r\n\
         Message-ID: <{}@exemple.fr>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nVeuillez trouver le document signé.\r\n--b\r\n\
         Content-Type: application/pdf; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        uuid::Uuid::now_v7(),
        lines.join("\r\n")
    )
    .into_bytes()
}

/// Runs each listed async test function (`async fn name(db: Db)`) on SQLite and on
/// PostgreSQL, as `name::sqlite` and `name::postgres`. The calling crate needs `tokio`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name($crate::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name($crate::Db::Postgres).await
                }
            }
        )*
    };
}

/// A letter approved by two signers one after the other with another PAdES stack
/// (pyHanko 0.38 and its own throwaway PKI: the `--two-approvals` case of the signing
/// crate's `tests/pyhanko/make_cases.py`). Returns the folder holding `a_two_approvals.pdf`,
/// the PKI's `root.pem`, and `cases.tsv` with pyHanko's own verdicts, already checked to be
/// valid for both signatures. pyHanko comes from the venv that the acceptance verifier
/// (`../shared/acceptance/verify-pades`) installs; the test command installs it first.
pub fn signed_twice_by_another_stack() -> TempDir {
    let cache = std::env::var("VERIFY_CACHE").map_or_else(
        |_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/verify-pades"),
        std::path::PathBuf::from,
    );
    let python = cache.join("venv/bin/python");
    assert!(
        python.exists(),
        "\n\n!!! pyHanko is missing ({}): run ../shared/acceptance/verify-pades once, or ./scripts/test.sh, which installs it\n",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../signing/tests/pyhanko/make_cases.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(dir.path())
        .arg("--two-approvals")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let judged = std::fs::read_to_string(dir.path().join("cases.tsv")).unwrap();
    let verdicts: Vec<&str> = judged
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    assert_eq!(
        verdicts,
        ["valid", "valid"],
        "pyHanko's own verdict: {judged}"
    );
    dir
}

/// Checks SEDA 2.3 messages with the acceptance validator, `../shared/acceptance/validate-seda`
/// from the repository's root (the official XSD, offline). Its absence fails the test with a
/// clear message: a message is never left unchecked.
pub fn validate_seda(file: &Path) {
    let validator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/acceptance/validate-seda");
    assert!(
        validator.exists(),
        "validate-seda is missing at {}: the SEDA messages cannot be checked (expected at \
         ../shared/acceptance/validate-seda from the repository's root)",
        validator.display()
    );
    let out = std::process::Command::new(&validator)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("validate-seda could not run: {e}"));
    let message = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        out.status.success(),
        "validate-seda refused {}:\n{}{}\n--- message (start) ---\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        message.chars().take(4000).collect::<String>()
    );
}

/// [`validate_seda`] of a message in memory.
pub fn validate_seda_bytes(xml: &[u8]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary folder: {e}"));
    let file = dir.path().join("message.xml");
    std::fs::write(&file, xml).unwrap_or_else(|e| panic!("writing the message: {e}"));
    validate_seda(&file);
}
