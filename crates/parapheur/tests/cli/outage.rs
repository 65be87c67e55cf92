//! Off-site copies when the link is down (issue 15, point 7): a `serve` box copies itself
//! continuously to a restic repository on a real S3 server (s3s-fs). The server is killed
//! while letters are being registered: every registration still succeeds, `backup status`
//! says in French that the copies fail and that nothing is lost. The server comes back on
//! the same folder and port and, without any command, the box's own copy loop catches up:
//! the newest snapshot restores every letter. The catch-up time is printed, never asserted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::copies::{register_contents, repository_password, restic};
use super::{BIN, Backend, INSEE, Register, assert_success, chrono_number, json, seq_of, stdout};

/// The copy loop looks for changes this often in the test (30 s in production).
const INTERVAL_SECONDS: u64 = 1;
/// How long S3 stays down at least (several failed attempts).
const OUTAGE: Duration = Duration::from_secs(6);
/// Longest wait for something the box does by itself (a bound against a hung test, not a
/// measure: restic may retry an upload cut in the middle for a minute before it gives up).
const PATIENCE: Duration = Duration::from_secs(180);

/// The `serve` process, killed when dropped (also when the test fails).
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as systemd stops it: the copy under way finishes, restic with it.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the box remembers of its copies (`DATA/copies.json`, replaced atomically), read
/// directly: cheap enough to poll closely.
fn copies_state(reg: &Register) -> Value {
    std::fs::read(reg.data.join("copies.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn time_of(state: &Value, key: &str) -> Option<DateTime<Utc>> {
    state[key].as_str().and_then(|t| t.parse().ok())
}

/// Polls `what` until it holds; panics with the server's log after `PATIENCE`.
fn wait_for(server: &Server, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "the box did not {what} within {} s; server log:\n{}",
            PATIENCE.as_secs(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn restic_in(restic: &Path, repo: &str, password: &str, keys: &[(&str, &str); 2]) -> Command {
    let mut command = Command::new(restic);
    command
        .args(["-r", repo, "--no-cache"])
        .env("RESTIC_PASSWORD", password)
        .envs(keys.iter().copied())
        .stdin(Stdio::null());
    command
}

#[test]
fn copies_cut_off_from_their_repository_catch_up_by_themselves() {
    let Some(restic) = restic() else {
        return;
    };
    use parapheur_testkit::s3::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};
    use std::os::unix::fs::PermissionsExt as _;
    let Some(mut s3) = S3Server::start() else {
        return;
    };
    let reg = Register::new(Backend::Sqlite).unwrap();
    reg.init();
    let (repo, keys) = super::copies::restic_on(&s3);
    // The box's configuration, as an installer writes it: the repository and its
    // credentials file (owner only) in parapheur.toml.
    let credentials = reg.data.join("acces-copies");
    std::fs::write(
        &credentials,
        format!("AWS_ACCESS_KEY_ID={S3_ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={S3_SECRET_KEY}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        reg.data.join("parapheur.toml"),
        format!(
            "[backup]\nrepository = '{repo}'\ninterval_seconds = {INTERVAL_SECONDS}\n\
             credentials_file = '{}'\n",
            credentials.display()
        ),
    )
    .unwrap();

    let log = reg.dir.path().join("serve.log");
    let mut server = Server {
        child: reg
            .command(&["serve"])
            .args(["--listen", "127.0.0.1:0"])
            .env("PARAPHEUR_OCR_WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
        log,
    };

    // The link is up: letters, and the first copies (the box creates the repository).
    for n in 0..5 {
        reg.register(&format!("Courrier avant la coupure {n}"));
    }
    let before_cut = Utc::now();
    // A copy that holds them, and the retention's first run (right after the first copy).
    wait_for(&server, "make its first copy", || {
        let state = copies_state(&reg);
        time_of(&state, "last_success_at").is_some_and(|at| at >= before_cut)
            && state["last_forget_at"].is_string()
    });
    // The link is cut between two copies (one cut in the middle is retried by restic
    // itself for a minute or more before it fails: slower, not different).
    let mut last = seq_of(&reg.register("Dernier courrier avant la coupure")).unwrap();
    let copied = time_of(&copies_state(&reg), "last_success_at").unwrap();
    wait_for(&server, "copy the last letter before the cut", || {
        time_of(&copies_state(&reg), "last_success_at").is_some_and(|at| at > copied)
    });

    // The link is down. The box works on: every registration succeeds.
    s3.stop();
    let down = Instant::now();
    let copied_before = last;
    for n in 0..10 {
        last = seq_of(&reg.register(&format!("Courrier pendant la coupure {n}"))).unwrap();
    }
    // The copies fail, and say so in French; nothing is lost.
    wait_for(&server, "notice the repository is down", || {
        copies_state(&reg)["last_error"].is_string()
    });
    let out = reg.run(&["backup", "status"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let said = stdout(&out);
    for needle in [
        "Dernière tentative en échec",
        &format!("le dépôt de copies {repo} est injoignable"),
        "Rien n'est perdu",
        "réessaie de lui-même chaque seconde",
    ] {
        assert!(said.contains(needle), "{needle:?} not in: {said}");
    }
    assert!(!said.contains("aucun dépôt"), "{said}");
    // Still working, with the copies failing (and retried every second), for a while.
    let mut n = 0;
    while n < 5 || down.elapsed() < OUTAGE {
        last = seq_of(&reg.register(&format!("Courrier après l'alerte {n}"))).unwrap();
        n += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        copies_state(&reg)["last_error"].is_string(),
        "no copy can succeed while S3 is down"
    );
    let registered_by = Utc::now();
    let outage = down.elapsed();

    // The link returns: no command, the box's copy loop catches up by itself.
    s3.resume();
    let back = Instant::now();
    wait_for(
        &server,
        "catch up once the repository answers again",
        || {
            let state = copies_state(&reg);
            state["last_error"].is_null()
                && time_of(&state, "last_success_at").is_some_and(|at| at >= registered_by)
        },
    );
    let catch_up = back.elapsed();
    eprintln!(
        "outage: S3 down {:.1} s, {} letters registered meanwhile (every one accepted); the \
         box caught up by itself {:.1} s after S3 came back (copy loop every {INTERVAL_SECONDS} s)",
        outage.as_secs_f64(),
        last - copied_before,
        catch_up.as_secs_f64()
    );
    let state = copies_state(&reg);
    let caught_up_snapshot = state["snapshot_id"].as_str().unwrap().to_owned();
    server.stop();
    let (items, _) = register_contents(&reg.data, last);
    assert!(
        !reg.run(
            &["item", "show"],
            &["--commune", INSEE, &chrono_number(last + 1)]
        )
        .status
        .success(),
        "no letter beyond {last}"
    );

    // The stock restic sees that snapshot as the newest one.
    let master_key = std::fs::read_to_string(reg.data.join("master.key")).unwrap();
    let password = repository_password(&master_key);
    let out = restic_in(&restic, &repo, &password, &keys)
        .args(["snapshots", "--json", "--no-lock"])
        .output()
        .unwrap();
    assert_success(&out, "restic snapshots");
    let snapshots = json(&out);
    let newest = snapshots
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|s| {
            s["time"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        })
        .unwrap();
    assert_eq!(
        newest["short_id"],
        caught_up_snapshot.as_str(),
        "{snapshots}"
    );

    // And it holds every letter: restored onto an empty folder, the register is whole.
    let key_file = reg.dir.path().join("clé.txt");
    std::fs::write(&key_file, &master_key).unwrap();
    let restored = reg.dir.path().join("restauré");
    let mut restore = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PARAPHEUR_") {
            restore.env_remove(key);
        }
    }
    let out = restore
        .args(["restore", "--data"])
        .arg(&restored)
        .args(["--from", &repo, "--master-key"])
        .arg(&key_file)
        .envs(keys)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_success(&out, "restore of the snapshot made after the outage");
    assert!(
        stdout(&out).contains("Journal : intact"),
        "{}",
        stdout(&out)
    );
    let (restored_items, _) = register_contents(&restored, last);
    assert_eq!(restored_items.len(), items.len());
    for (copied, original) in restored_items.iter().zip(&items) {
        assert_eq!(copied["item"], original["item"]);
    }
}
