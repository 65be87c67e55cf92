//! Off-site copies (issue 15): the disaster drill through the binary. A box registers
//! letters while it is SIGKILLed at random moments, copies itself to a restic repository,
//! carries on, copies again, and then loses its data folder. `parapheur restore` on an empty
//! folder, from the repository (on a real S3 server, s3s-fs) and the master key alone, gives
//! back every item, journal entry and file; the stock `restic` lists and restores the same
//! snapshot.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    BIN, Backend, INSEE, Register, assert_refused, assert_success, chrono_number, json,
    kill_registrations, seq_of, stdout,
};

/// A restic repository on the test S3 server, in restic's own form of an S3 address
/// (s3:http://host:port/bucket/prefix), and the credentials restic reads from the environment.
pub(super) fn restic_on(
    s3: &parapheur_testkit::s3::S3Server,
) -> (String, [(&'static str, &'static str); 2]) {
    use parapheur_testkit::s3::{S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY};
    let endpoint = s3.url("x");
    let port = endpoint
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap();
    let repo = format!("s3:http://127.0.0.1:{port}/{S3_BUCKET}/copies-hors-site");
    let keys = [
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
    ];
    (repo, keys)
}

/// The stock restic program, or None (after saying so loudly) outside CI.
pub(super) fn restic() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("restic"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "restic is required in CI (apt-get install restic): the off-site copies are made by it"
            );
        }
        eprintln!("SKIPPED (off-site copies): restic is not installed");
    }
    found
}

/// The repository password the box derives from its master key (`continuity::repository`):
/// what a commune types into the stock restic to restore without parapheur.
pub(super) fn repository_password(master_key_base64: &str) -> String {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .decode(master_key_base64.trim())
        .unwrap();
    let digest = Sha256::new()
        .chain_update(b"parapheur derived secret v1\0")
        .chain_update(&key)
        .chain_update(b"off-site copies (restic)")
        .finalize();
    hex(&digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir`, by relative path, with its SHA-256.
fn file_hashes(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                out.push((relative, hex(&Sha256::digest(bytes))));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// What must come back identical: every item as `item show` prints it, and every file.
pub(super) fn register_contents(data: &Path, highest: u32) -> (Vec<Value>, Vec<(String, String)>) {
    let items = (1..=highest)
        .map(|seq| {
            let out = command_in(data, &["item", "show"])
                .args(["--json", "--commune", INSEE, &chrono_number(seq)])
                .output()
                .unwrap();
            assert_success(&out, &format!("item show {seq}"));
            json(&out)
        })
        .collect();
    (items, file_hashes(&data.join("files")))
}

/// The binary on the data folder `data`, with a hermetic environment.
fn command_in(data: &Path, sub: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PARAPHEUR_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(std::process::Stdio::null())
        .args(sub)
        .arg("--data")
        .arg(data);
    cmd
}

fn journal_entries_in(data: &Path) -> u64 {
    let out = command_in(data, &["journal", "verify"])
        .arg("--json")
        .output()
        .unwrap();
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

#[test]
fn a_box_lost_is_restored_from_its_off_site_copy() {
    let Some(restic) = restic() else {
        return;
    };
    use parapheur_testkit::s3::S3Server;
    let Some(s3) = S3Server::start() else {
        return;
    };
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    let (repo, keys) = restic_on(&s3);
    let with_repo = [
        ("PARAPHEUR_BACKUP_REPOSITORY", repo.as_str()),
        keys[0],
        keys[1],
    ];

    // Load with SIGKILLs at random moments, then a first copy (it creates the repository).
    let (highest, _) = kill_registrations(&reg, Backend::Sqlite, 4, 0x636f_7069_6573);
    let out = reg.run_env(&["backup", "now"], &["--json"], &with_repo);
    assert_success(&out, "first copy");
    let first = json(&out);
    assert_eq!(first["created_repository"], true, "{first}");

    // More letters, some with files, and an incremental copy that adds little.
    let mut last = highest;
    for n in 0..5 {
        let number = reg.register(&format!("Courrier après la première copie {n}"));
        last = seq_of(&number).unwrap();
    }
    let out = reg.run_env(&["backup", "now"], &["--json"], &with_repo);
    assert_success(&out, "second copy");
    let second = json(&out);
    assert_eq!(second["created_repository"], false, "{second}");
    assert!(
        second["data_added"].as_u64().unwrap() < first["data_added"].as_u64().unwrap(),
        "an incremental copy sends less than the first: {first} then {second}"
    );
    let status = reg.run_env(&["backup", "status"], &[], &with_repo);
    assert_success(&status, "backup status");
    assert!(
        stdout(&status).contains("Dernière copie"),
        "{}",
        stdout(&status)
    );

    // Everything the restore must give back, then the machine is lost.
    let highest_seq = (1..=last + 10)
        .take_while(|seq| {
            command_in(&reg.data, &["item", "show"])
                .args(["--json", "--commune", INSEE, &chrono_number(*seq)])
                .output()
                .unwrap()
                .status
                .success()
        })
        .last()
        .unwrap();
    let (items, files) = register_contents(&reg.data, highest_seq);
    let entries = journal_entries_in(&reg.data);
    let master_key = std::fs::read_to_string(reg.data.join("master.key")).unwrap();
    let key_file = reg.data.parent().unwrap().join("clé-du-coffre.txt");
    std::fs::write(&key_file, &master_key).unwrap();
    std::fs::remove_dir_all(&reg.data).unwrap();

    // A wrong key opens nothing, and says so.
    let elsewhere = reg.data.parent().unwrap().join("mauvaise-clé");
    let wrong_key = reg.data.parent().unwrap().join("autre-clé.txt");
    std::fs::write(&wrong_key, super::another_master_key(&master_key)).unwrap();
    let out = command_in(&elsewhere, &["restore"])
        .args(["--from", &repo, "--master-key"])
        .arg(&wrong_key)
        .envs(keys)
        .output()
        .unwrap();
    assert_refused(&out, &["la clé ne déverrouille pas le dépôt de copies"]);

    // The restore, on an empty folder, from the copy and the key alone.
    let restored = reg.data.parent().unwrap().join("nouvelle-machine");
    let out = command_in(&restored, &["restore"])
        .args(["--from", &repo, "--master-key"])
        .arg(&key_file)
        .envs(keys)
        .output()
        .unwrap();
    assert_success(&out, "restore");
    assert!(
        stdout(&out).contains("Journal : intact"),
        "{}",
        stdout(&out)
    );
    assert_eq!(journal_entries_in(&restored), entries);
    assert_eq!(register_contents(&restored, highest_seq), (items, files));
    let out = command_in(&restored, &["fsck"])
        .args(["--json", "--grace-minutes", "0"])
        .output()
        .unwrap();
    assert_success(&out, "fsck after the restore");
    assert_eq!(json(&out)["clean"], true);
    // No gap: the next number follows the last one copied.
    let out = command_in(&restored, &["register"])
        .args([
            "--commune",
            INSEE,
            "--channel",
            "paper",
            "--subject",
            "Après la restauration",
        ])
        .output()
        .unwrap();
    assert_success(&out, "register after the restore");
    assert_eq!(stdout(&out).trim(), chrono_number(highest_seq + 1));

    // A second restore onto a folder that holds a register is refused.
    let out = command_in(&restored, &["restore"])
        .args(["--from", &repo])
        .envs(keys)
        .output()
        .unwrap();
    assert_refused(&out, &["restaurez dans un dossier de données vide"]);

    // The stock restic, with the password derived from the key, lists and restores the
    // same snapshot without parapheur.
    let password = repository_password(&master_key);
    let out = Command::new(&restic)
        .args(["-r", &repo, "--no-cache", "snapshots", "--json"])
        .env("RESTIC_PASSWORD", &password)
        .envs(keys)
        .output()
        .unwrap();
    assert_success(&out, "restic snapshots");
    let snapshots = json(&out);
    assert_eq!(snapshots.as_array().unwrap().len(), 2, "{snapshots}");
    let by_hand = reg.data.parent().unwrap().join("à-la-main");
    let out = Command::new(&restic)
        .args(["-r", &repo, "--no-cache", "restore", "latest", "--target"])
        .arg(&by_hand)
        .env("RESTIC_PASSWORD", &password)
        .envs(keys)
        .output()
        .unwrap();
    assert_success(&out, "restic restore");
    let copied_db = file_hashes(&by_hand)
        .into_iter()
        .filter(|(path, _)| path.ends_with("copie-en-cours/parapheur.sqlite"))
        .count();
    assert_eq!(copied_db, 1, "the register's copy is in the snapshot");
}

#[test]
fn postgresql_is_copied_by_its_own_tools() {
    let Some(reg) = Register::new(Backend::Postgres) else {
        return;
    };
    reg.init();
    let repo = reg
        .data
        .parent()
        .unwrap()
        .join("copies")
        .display()
        .to_string();
    let out = reg.run_env(
        &["backup", "now"],
        &[],
        &[("PARAPHEUR_BACKUP_REPOSITORY", repo.as_str())],
    );
    assert_refused(&out, &["PostgreSQL se sauvegarde avec ses propres outils"]);
}

#[test]
fn a_copy_without_a_repository_says_how_to_configure_one() {
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    let out = reg.run(&["backup", "now"], &[]);
    assert_refused(&out, &["aucune copie hors site configurée", "[backup]"]);
}

/// The recovery sheet for the mairie's safe: printed, it holds the master key, the
/// repository, and the commands to restore with parapheur and with the stock restic.
#[test]
fn the_recovery_sheet_holds_the_key_and_the_commands() {
    use std::os::unix::fs::PermissionsExt as _;
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    let repo = "/mnt/disque-usb/copies-mairie";
    let sheet = reg.dir.path().join("fiche.pdf");
    let out = reg.run_env(
        &["backup", "sheet"],
        &["--to", sheet.to_str().unwrap()],
        &[("PARAPHEUR_BACKUP_REPOSITORY", repo)],
    );
    assert_success(&out, "backup sheet");
    assert!(
        stdout(&out).contains("rangez-la au coffre"),
        "{}",
        stdout(&out)
    );
    let mode = std::fs::metadata(&sheet).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the sheet holds the key: {mode:o}");

    let text = Command::new("pdftotext")
        .arg(&sheet)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(text.status.success());
    // Lines broken by the layout are joined again.
    let text = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let key = std::fs::read_to_string(reg.data.join("master.key")).unwrap();
    for needle in [
        "Fiche de reprise",
        key.trim(),
        &format!("parapheur restore --data /var/lib/parapheur --from {repo} --master-key cle.txt"),
        &format!("export RESTIC_PASSWORD={}", repository_password(&key)),
        &format!("restic -r {repo} restore latest --target /srv/reprise"),
    ] {
        assert!(text.contains(needle), "{needle:?} not in the sheet: {text}");
    }

    // Never over an existing file.
    let out = reg.run_env(
        &["backup", "sheet"],
        &["--to", sheet.to_str().unwrap()],
        &[("PARAPHEUR_BACKUP_REPOSITORY", repo)],
    );
    assert_refused(&out, &["il ne doit pas exister"]);
}

/// A copy made with a relative `--data` restores: restic records the paths as it is given
/// them, and the restore finds each part under its recorded path.
#[test]
fn a_copy_made_from_a_relative_data_folder_restores() {
    if restic().is_none() {
        return;
    }
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    let number = reg.register("Courrier copié depuis un chemin relatif");
    let repo = reg.dir.path().join("copies");
    let mut copy = command_in(Path::new("data"), &["backup", "now"]);
    let out = copy
        .current_dir(reg.dir.path())
        .env("PARAPHEUR_BACKUP_REPOSITORY", &repo)
        .output()
        .unwrap();
    assert_success(&out, "backup now --data data");
    let restored = reg.dir.path().join("restauré");
    let out = command_in(&restored, &["restore"])
        .arg("--from")
        .arg(&repo)
        .arg("--master-key")
        .arg(reg.data.join("master.key"))
        .output()
        .unwrap();
    assert_success(&out, "restore of a copy made from a relative folder");
    let out = command_in(&restored, &["item", "show"])
        .args(["--commune", INSEE, &number])
        .output()
        .unwrap();
    assert_success(&out, "the letter restored");
}
