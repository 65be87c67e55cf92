//! Moving a commune (issue 15, réversibilité): `parapheur export` on a mairie's box
//! (SQLite), `parapheur import` into a hosted platform (PostgreSQL) that already holds
//! another commune, and back into a new box. The items, the journal (its length and head
//! hash), the chrono numbers and the files arrive identical; the other commune is
//! untouched (the platform's files on S3 when s3s-fs is there); an archive altered, truncated, of another format version, or whose commune is
//! already there, is refused in French with nothing written.

use std::io::{Read as _, Write as _};
use std::path::Path;

use serde_json::Value;

use super::{
    ADMIN, Backend, INSEE, OTHER_INSEE, PASSWORD, Register, assert_refused, assert_success,
    chrono_number, files_on_s3, json, stdout,
};

const PASSPHRASE: &str = "une phrase de passe pour le déménagement";

fn with_passphrase(reg: &Register, sub: &[&str], args: &[&str]) -> std::process::Output {
    reg.run_env(sub, args, &[("PARAPHEUR_ARCHIVE_PASSPHRASE", PASSPHRASE)])
}

/// `export --json` of the commune `INSEE` to `to`.
fn export(reg: &Register, to: &Path) -> Value {
    let out = with_passphrase(
        reg,
        &["export"],
        &["--json", "--commune", INSEE, "--to", to.to_str().unwrap()],
    );
    assert_success(&out, "export");
    json(&out)
}

/// `import --json` from `from`, which must succeed with a clean journal and files.
fn import(reg: &Register, from: &Path) -> Value {
    let out = with_passphrase(
        reg,
        &["import"],
        &["--json", "--from", from.to_str().unwrap()],
    );
    assert_success(&out, "import");
    let v = json(&out);
    assert_eq!(v["journal_clean"], true, "{v}");
    assert_eq!(v["fsck_clean"], true, "{v}");
    v
}

/// Every item of `insee` numbered 1..=highest, as `item show` prints it (with its files'
/// hashes), and the commune's journal as `journal verify` reports it.
fn contents(reg: &Register, insee: &str, highest: u32) -> (Vec<Value>, Value) {
    let items = (1..=highest)
        .map(|seq| {
            let out = reg.run(
                &["item", "show"],
                &["--json", "--commune", insee, &chrono_number(seq)],
            );
            assert_success(&out, &format!("item show {seq} of {insee}"));
            json(&out)
        })
        .collect();
    let out = reg.run(&["journal", "verify"], &["--json"]);
    assert_success(&out, "journal verify");
    let v = json(&out);
    assert_eq!(v["intact"], true, "{v}");
    let report = v["communes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["insee"] == insee)
        .unwrap_or_else(|| panic!("{insee} not in {v}"))["report"]
        .clone();
    (items, report)
}

fn attachment_hashes(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .flat_map(|i| i["attachments"].as_array().cloned().unwrap_or_default())
        .map(|a| a["sha256"].as_str().unwrap().to_owned())
        .collect()
}

/// A box with a few letters, two with scans, one whose status moved.
fn a_box_with_letters(reg: &Register) -> u32 {
    reg.init();
    for (n, subject) in ["Demande de permis", "Réclamation voirie", "Invitation"]
        .iter()
        .enumerate()
    {
        let scan = reg.dir.path().join(format!("scan-{n}.pdf"));
        std::fs::write(&scan, format!("%PDF-1.4 scan {n} de « {subject} »")).unwrap();
        let out = reg.run(
            &["register"],
            &[
                "--commune",
                INSEE,
                "--channel",
                "paper",
                "--subject",
                subject,
                scan.to_str().unwrap(),
            ],
        );
        assert_success(&out, "register with a scan");
    }
    reg.register("Appel sans pièce jointe");
    let out = reg.run(
        &["item", "status"],
        &["--commune", INSEE, &chrono_number(2), "--to", "assigned"],
    );
    assert_success(&out, "status");
    4
}

/// The hosted platform with another commune and its letter, before any import.
fn a_platform_with_another_commune(reg: &Register) -> (Vec<Value>, Value) {
    let out = reg.run_env(
        &["init"],
        &["--commune", OTHER_INSEE, "--admin", ADMIN],
        &[("PARAPHEUR_ADMIN_PASSWORD", PASSWORD)],
    );
    assert_success(&out, "init of the other commune");
    let scan = reg.dir.path().join("autre.pdf");
    std::fs::write(&scan, b"%PDF-1.4 courrier de l'autre commune").unwrap();
    let out = reg.run(
        &["register"],
        &[
            "--commune",
            OTHER_INSEE,
            "--channel",
            "paper",
            "--subject",
            "Courrier de Bourg-en-Bresse",
            scan.to_str().unwrap(),
        ],
    );
    assert_success(&out, "register in the other commune");
    contents(reg, OTHER_INSEE, 1)
}

/// The archive rewritten with its manifest changed by `edit` (the members kept as they are).
fn rewritten(archive: &Path, to: &Path, edit: impl Fn(&mut Value)) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(archive).unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name == "manifeste.json" {
            let mut manifest: Value = serde_json::from_slice(&bytes).unwrap();
            edit(&mut manifest);
            bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        }
        writer.start_file(name, options).unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap();
}

/// An import refused in French, into a fresh data folder that stays empty.
fn refused_into_a_new_box(archive: &Path, needles: &[&str]) {
    let target = Register::new(Backend::Sqlite).unwrap();
    let out = with_passphrase(&target, &["import"], &["--from", archive.to_str().unwrap()]);
    assert_refused(&out, needles);
    let left: Vec<_> = std::fs::read_dir(&target.data)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a refused import left {left:?}");
}

#[test]
fn a_commune_moves_from_a_box_to_a_hosted_platform_and_back() {
    let Some(hosted) = Register::new(Backend::Postgres) else {
        return;
    };
    // The platform keeps its files on S3 (a real server, s3s-fs) where one can be started.
    let s3 = parapheur_testkit::S3Server::start();
    if let Some(server) = &s3 {
        files_on_s3(&hosted, server, "portabilite", 0o600);
    }
    let source = Register::new(Backend::Sqlite).unwrap();
    let highest = a_box_with_letters(&source);
    let (items, journal) = contents(&source, INSEE, highest);
    assert_eq!(attachment_hashes(&items).len(), 3, "{items:?}");
    let (other_items, other_journal) = a_platform_with_another_commune(&hosted);

    // Box → hosted platform.
    let archive = source.dir.path().join("commune.zip");
    let exported = export(&source, &archive);
    assert_eq!(exported["files"], 3, "{exported}");
    assert_eq!(
        exported["journal"]["entries"].as_u64(),
        journal["entries"].as_u64(),
        "{exported}"
    );
    let imported = import(&hosted, &archive);
    assert_eq!(imported["imported"]["journal"], exported["journal"]);
    assert_eq!(imported["indexed"], highest, "{imported}");
    let (hosted_items, hosted_journal) = contents(&hosted, INSEE, highest);
    assert_eq!(hosted_items, items);
    assert_eq!(hosted_journal, journal);
    hosted.assert_sound();
    if let Some(server) = &s3 {
        assert!(!hosted.data.join("files").exists());
        let commune_id = exported["commune"]["id"].as_str().unwrap();
        let blobs = server.object_file(&format!("portabilite/communes/{commune_id}/blobs"));
        assert!(blobs.is_dir(), "no blobs on S3 at {}", blobs.display());
    }
    // The other commune is as it was.
    assert_eq!(
        contents(&hosted, OTHER_INSEE, 1),
        (other_items, other_journal)
    );
    // The search index was rebuilt: the moved letters are found.
    let out = hosted.run(&["search"], &["--commune", INSEE, "voirie"]);
    assert_success(&out, "search after import");
    assert!(stdout(&out).contains(&chrono_number(2)), "{}", stdout(&out));

    // Hosted platform → a new box: the same journal head as the first export.
    let back = hosted.dir.path().join("retour.zip");
    let exported_again = export(&hosted, &back);
    assert_eq!(exported_again["journal"], exported["journal"]);
    assert_eq!(exported_again["files"], 3);
    let new_box = Register::new(Backend::Sqlite).unwrap();
    let out = with_passphrase(&new_box, &["import"], &["--from", back.to_str().unwrap()]);
    assert_success(&out, "import into a new box");
    let text = stdout(&out);
    assert!(
        text.contains("importée") && text.contains("intact, même tête qu'à l'export"),
        "{text}"
    );
    assert!(new_box.data.join("master.key").is_file());
    let (box_items, box_journal) = contents(&new_box, INSEE, highest);
    assert_eq!(box_items, items);
    assert_eq!(box_journal, journal);
    new_box.assert_sound();
    // The administrator logs in with the same password at the destination; no gap in the
    // numbering on either side.
    new_box.assert_next_is(highest);
    hosted.assert_next_is(highest);

    // The commune is now on the platform: importing it again is refused, nothing changes.
    let out = with_passphrase(&hosted, &["import"], &["--from", archive.to_str().unwrap()]);
    assert_refused(&out, &["existe déjà", "rien n'a été importé"]);
    assert_eq!(contents(&hosted, OTHER_INSEE, 1).0.len(), 1);
    hosted.assert_sound();
}

#[test]
fn altered_truncated_or_foreign_archives_are_refused_with_nothing_written() {
    let source = Register::new(Backend::Sqlite).unwrap();
    a_box_with_letters(&source);
    let archive = source.dir.path().join("commune.zip");
    export(&source, &archive);
    let bytes = std::fs::read(&archive).unwrap();

    // One byte changed inside a file's member, as bit rot or an edit would.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    let file_member = (0..zip.len())
        .find(|i| {
            zip.by_index(*i)
                .unwrap()
                .name()
                .unwrap()
                .starts_with("fichiers/")
        })
        .unwrap();
    let entry = zip.by_index(file_member).unwrap();
    let inside = entry.data_start().unwrap() + entry.compressed_size() / 2;
    drop(entry);
    let mut altered = bytes.clone();
    altered[usize::try_from(inside).unwrap()] ^= 0x01;
    let altered_path = source.dir.path().join("alteree.zip");
    std::fs::write(&altered_path, &altered).unwrap();
    refused_into_a_new_box(&altered_path, &["archive"]);

    // Cut short, as by an interrupted copy.
    let truncated = source.dir.path().join("tronquee.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    refused_into_a_new_box(&truncated, &["tronquée"]);

    // Another format version.
    let future = source.dir.path().join("future.zip");
    rewritten(&archive, &future, |m| m["version"] = Value::from(2));
    refused_into_a_new_box(&future, &["format 2", "lit le format 1"]);

    // The manifest edited (a row count) without the passphrase: its seal no longer holds.
    let edited = source.dir.path().join("manifeste-modifie.zip");
    rewritten(&archive, &edited, |m| m["rows"]["items"] = Value::from(3));
    refused_into_a_new_box(&edited, &["manifeste", "altérée"]);

    // The wrong passphrase.
    let target = Register::new(Backend::Sqlite).unwrap();
    let out = target.run_env(
        &["import"],
        &["--from", archive.to_str().unwrap()],
        &[(
            "PARAPHEUR_ARCHIVE_PASSPHRASE",
            "pas la bonne phrase de passe",
        )],
    );
    assert_refused(&out, &["phrase de passe incorrecte"]);
    assert!(!target.data.exists());

    // Into the box it came from: the commune is there already.
    let out = with_passphrase(&source, &["import"], &["--from", archive.to_str().unwrap()]);
    assert_refused(&out, &["Ambérieu-en-Bugey (01004) existe déjà"]);
    source.assert_sound();

    // An export never overwrites, and wants a real passphrase.
    let out = with_passphrase(
        &source,
        &["export"],
        &["--commune", INSEE, "--to", archive.to_str().unwrap()],
    );
    assert_refused(&out, &["existe déjà"]);
    let out = source.run_env(
        &["export"],
        &["--commune", INSEE, "--to", "/tmp/never-written.zip"],
        &[("PARAPHEUR_ARCHIVE_PASSPHRASE", "court")],
    );
    assert_refused(&out, &["phrase de passe trop courte"]);
    assert!(!Path::new("/tmp/never-written.zip").exists());
}

#[test]
fn the_archive_holds_no_personal_data_in_the_clear() {
    let source = Register::new(Backend::Sqlite).unwrap();
    a_box_with_letters(&source);
    let archive = source.dir.path().join("commune.zip");
    export(&source, &archive);
    let bytes = std::fs::read(&archive).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["Réclamation voirie", "permis", ADMIN, "%PDF-1.4"] {
        assert!(!text.contains(secret), "{secret:?} is in the clear");
    }
    // The manifest is readable without the passphrase: what it is and whose.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    let mut manifest = String::new();
    zip.by_name("manifeste.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["format"], "parapheur-commune");
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["commune"]["insee"], INSEE);
    assert_eq!(manifest["rows"]["items"], 4);
    assert_eq!(manifest["files"], 3);
    for member in manifest["members"].as_array().unwrap() {
        let name = member["name"].as_str().unwrap();
        let mut stored = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut stored).unwrap();
        assert_eq!(super::sha256_hex(&stored), member["sha256"], "{name}");
    }
}
