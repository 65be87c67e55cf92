//! The file store against a real local folder and a real S3 server (s3s-fs): round trips,
//! tampering, keys, listing, concurrent writers; then the S3 faults (wrong key, server down,
//! bucket missing), each with its French message and a recovery without restart.

// clippy.toml allows these inside #[test] functions only; the helpers below are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The S3 server harness, shared with the app's tests; std only, so included by path.
#[path = "../../testkit/src/s3.rs"]
mod s3server;

use std::error::Error as _;
use std::path::{Path, PathBuf};

use parapheur_files::{
    DataKey, FileError, FileStore, KeyError, MasterKey, S3Credentials, S3Location, StorageAction,
    sha256_hex,
};
use s3server::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};

const C1: &str = "0190f3a1-7c2e-7d4b-9a55-000000000001";
const C2: &str = "0190f3a1-7c2e-7d4b-9a55-000000000002";

/// The backends every test of the suite runs on.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Local,
    S3,
}

/// A store's backend, kept alive for the test, and the folder its blobs are files in (the
/// local folder, or s3s-fs's folder for the bucket's prefix), to alter them behind its back.
struct Backend {
    _dir: Option<tempfile::TempDir>,
    _server: Option<S3Server>,
    root: PathBuf,
}

/// Runs each listed `async fn name(kind: Kind)` on a local folder and on s3s-fs, as
/// `name::local` and `name::s3`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn local() {
                    super::$name(super::Kind::Local).await
                }
                #[tokio::test]
                async fn s3() {
                    super::$name(super::Kind::S3).await
                }
            }
        )*
    };
}

on_both!(
    round_trip,
    same_content_is_stored_once,
    concurrent_writers_of_the_same_content,
    ciphertext_differs_between_communes_and_hides_plaintext,
    altered_or_truncated_blob_is_detected,
    blob_moved_to_another_address_or_commune_is_detected,
    missing_and_invalid_addresses,
    list_exists_delete_and_communes,
    unwrapped_key_reads_the_files,
);

fn s3_store(server: &S3Server, secret: &str) -> FileStore {
    let location = S3Location::parse(&server.url("files")).unwrap();
    let credentials = S3Credentials::new(S3_ACCESS_KEY.into(), secret.into(), None);
    FileStore::s3(&location, &credentials).unwrap()
}

/// The store of `kind`, or `None` when the S3 server is missing outside CI (said loudly).
fn setup_on(kind: Kind) -> Option<(Backend, FileStore)> {
    Some(match kind {
        Kind::Local => {
            let dir = tempfile::tempdir().unwrap();
            // A folder that does not exist yet: `local` creates it.
            let root = dir.path().join("files");
            let store = FileStore::local(&root).unwrap();
            let backend = Backend {
                _dir: Some(dir),
                _server: None,
                root,
            };
            (backend, store)
        }
        Kind::S3 => {
            let server = S3Server::start()?;
            let store = s3_store(&server, S3_SECRET_KEY);
            let root = server.object_file("files");
            let backend = Backend {
                _dir: None,
                _server: Some(server),
                root,
            };
            (backend, store)
        }
    })
}

fn setup() -> (Backend, FileStore) {
    setup_on(Kind::Local).unwrap()
}

fn blob_file(backend: &Backend, commune: &str, sha: &str) -> PathBuf {
    backend
        .root
        .join("communes")
        .join(commune)
        .join("blobs")
        .join(&sha[..2])
        .join(sha)
}

fn copy_blob(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

fn assert_corrupt(err: FileError, sha: &str) {
    match &err {
        FileError::Corrupt { sha256, .. } => assert_eq!(sha256, sha),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("le fichier {sha} est altéré ou corrompu : ")),
        "{msg}"
    );
}

async fn round_trip(kind: Kind) {
    let Some((_dir, store)) = setup_on(kind) else {
        return;
    };
    let key = DataKey::generate().unwrap();
    let content = b"Courrier de la prefecture, objet : elections".to_vec();
    let stored = store.put(C1, &key, &content).await.unwrap();
    assert_eq!(stored.sha256, sha256_hex(&content));
    assert_eq!(stored.size, content.len() as u64);
    assert_eq!(store.get(C1, &key, &stored.sha256).await.unwrap(), content);
    store.verify(C1, &key, &stored.sha256).await.unwrap();

    let empty = store.put(C1, &key, b"").await.unwrap();
    assert_eq!(store.get(C1, &key, &empty.sha256).await.unwrap(), b"");
}

async fn same_content_is_stored_once(kind: Kind) {
    let Some((backend, store)) = setup_on(kind) else {
        return;
    };
    let key = DataKey::generate().unwrap();
    let first = store.put(C1, &key, b"scan").await.unwrap();
    let on_disk = std::fs::read(blob_file(&backend, C1, &first.sha256)).unwrap();
    let second = store.put(C1, &key, b"scan").await.unwrap();
    assert_eq!(first, second);
    // Not rewritten: a rewrite would have drawn a new nonce.
    assert_eq!(
        std::fs::read(blob_file(&backend, C1, &first.sha256)).unwrap(),
        on_disk
    );
    assert_eq!(store.list(C1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn deferred_writes_read_back_and_are_flushed_together() {
    let (backend, store) = setup();
    let key = DataKey::generate().unwrap();
    let first = store.put_deferred(C1, &key, b"piece jointe").await.unwrap();
    let other = store.put_deferred(C1, &key, b"message").await.unwrap();
    assert_eq!(
        store.get(C1, &key, &first.sha256).await.unwrap(),
        b"piece jointe"
    );
    // The same content put durably is found at the same address, not written again.
    let on_disk = std::fs::read(blob_file(&backend, C1, &first.sha256)).unwrap();
    assert_eq!(store.put(C1, &key, b"piece jointe").await.unwrap(), first);
    assert_eq!(
        std::fs::read(blob_file(&backend, C1, &first.sha256)).unwrap(),
        on_disk
    );
    store.sync().await.unwrap();
    assert_eq!(store.list(C1).await.unwrap().len(), 2);
    store.verify(C1, &key, &other.sha256).await.unwrap();

    // A flush that cannot happen says where, in French.
    std::fs::remove_dir_all(&backend.root).unwrap();
    let err = store.sync().await.unwrap_err();
    assert!(matches!(err, FileError::Flush { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("impossible de mettre sur le disque les fichiers reçus dans "),
        "{err}"
    );
}

async fn ciphertext_differs_between_communes_and_hides_plaintext(kind: Kind) {
    let Some((backend, store)) = setup_on(kind) else {
        return;
    };
    let (k1, k2) = (DataKey::generate().unwrap(), DataKey::generate().unwrap());
    let content = b"Demande d'acte de naissance de Jeanne Martin".repeat(4);
    let a = store.put(C1, &k1, &content).await.unwrap();
    let b = store.put(C2, &k2, &content).await.unwrap();
    assert_eq!(a.sha256, b.sha256);
    let blob1 = std::fs::read(blob_file(&backend, C1, &a.sha256)).unwrap();
    let blob2 = std::fs::read(blob_file(&backend, C2, &b.sha256)).unwrap();
    assert_ne!(blob1, blob2);
    assert!(blob1.starts_with(b"PRPH\x01"));
    assert_eq!(blob1.len(), content.len() + 4 + 1 + 24 + 16);
    assert!(!blob1.windows(12).any(|w| w == b"Jeanne Marti"));
    // Each commune's key opens only its own files.
    assert_corrupt(store.get(C2, &k1, &a.sha256).await.unwrap_err(), &a.sha256);
    assert_eq!(store.get(C2, &k2, &a.sha256).await.unwrap(), content);
}

async fn altered_or_truncated_blob_is_detected(kind: Kind) {
    let Some((backend, store)) = setup_on(kind) else {
        return;
    };
    let key = DataKey::generate().unwrap();
    let stored = store.put(C1, &key, &[7u8; 1000]).await.unwrap();
    let path = blob_file(&backend, C1, &stored.sha256);
    let original = std::fs::read(&path).unwrap();

    // One flipped bit, in the ciphertext, the nonce, the tag, then the magic.
    for at in [500, 10, original.len() - 1, 0] {
        let mut altered = original.clone();
        altered[at] ^= 0x01;
        std::fs::write(&path, &altered).unwrap();
        let err = store.get(C1, &key, &stored.sha256).await.unwrap_err();
        assert_corrupt(err, &stored.sha256);
    }

    for len in [original.len() - 1, 30, 0] {
        std::fs::write(&path, &original[..len]).unwrap();
        let err = store.verify(C1, &key, &stored.sha256).await.unwrap_err();
        assert_corrupt(err, &stored.sha256);
    }

    // Unknown format version.
    let mut v2 = original.clone();
    v2[4] = 2;
    std::fs::write(&path, &v2).unwrap();
    let err = store.get(C1, &key, &stored.sha256).await.unwrap_err();
    assert!(
        err.to_string().contains("version de format inconnue (2)"),
        "{err}"
    );

    std::fs::write(&path, &original).unwrap();
    store.verify(C1, &key, &stored.sha256).await.unwrap();
}

async fn blob_moved_to_another_address_or_commune_is_detected(kind: Kind) {
    let Some((backend, store)) = setup_on(kind) else {
        return;
    };
    // The same key on both communes, so only the address binding can catch the swap.
    let key = DataKey::generate().unwrap();
    let real = store.put(C1, &key, b"arrete municipal").await.unwrap();
    let other = store.put(C1, &key, b"autre piece").await.unwrap();

    // Copied over another file's address in the same commune.
    copy_blob(
        &blob_file(&backend, C1, &real.sha256),
        &blob_file(&backend, C1, &other.sha256),
    );
    assert_corrupt(
        store.get(C1, &key, &other.sha256).await.unwrap_err(),
        &other.sha256,
    );

    // Copied to an address that never existed.
    let fake = sha256_hex(b"never stored");
    copy_blob(
        &blob_file(&backend, C1, &real.sha256),
        &blob_file(&backend, C1, &fake),
    );
    assert_corrupt(store.get(C1, &key, &fake).await.unwrap_err(), &fake);

    // Copied to the same address in another commune.
    copy_blob(
        &blob_file(&backend, C1, &real.sha256),
        &blob_file(&backend, C2, &real.sha256),
    );
    let err = store.get(C2, &key, &real.sha256).await.unwrap_err();
    assert!(err.to_string().contains("authenticité"), "{err}");
    assert_corrupt(err, &real.sha256);

    // The original is untouched.
    assert_eq!(
        store.get(C1, &key, &real.sha256).await.unwrap(),
        b"arrete municipal"
    );
}

async fn missing_and_invalid_addresses(kind: Kind) {
    let Some((_dir, store)) = setup_on(kind) else {
        return;
    };
    let key = DataKey::generate().unwrap();
    let sha = sha256_hex(b"absent");
    let err = store.get(C1, &key, &sha).await.unwrap_err();
    assert!(matches!(err, FileError::Missing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("le fichier {sha} est introuvable dans le stockage de la commune {C1}")
    );

    for bad in ["../x", "a/b", "", "c1 "] {
        let err = store.put(bad, &key, b"x").await.unwrap_err();
        assert!(matches!(err, FileError::InvalidCommuneId(_)), "{err:?}");
        assert!(err.to_string().contains("identifiant de commune invalide"));
        assert!(matches!(
            store.exists(bad, &sha).await.unwrap_err(),
            FileError::InvalidCommuneId(_)
        ));
    }
    for bad in ["", "abc", &sha.to_uppercase(), &format!("{}/", &sha[..63])] {
        let err = store.get(C1, &key, bad).await.unwrap_err();
        assert!(matches!(err, FileError::InvalidSha256(_)), "{err:?}");
    }
}

async fn list_exists_delete_and_communes(kind: Kind) {
    let Some((backend, store)) = setup_on(kind) else {
        return;
    };
    assert!(store.list_communes().await.unwrap().is_empty());
    assert!(store.list(C1).await.unwrap().is_empty());

    let key = DataKey::generate().unwrap();
    let a = store.put(C1, &key, b"a").await.unwrap();
    let b = store.put(C1, &key, b"bb").await.unwrap();
    let c = store.put(C2, &key, b"c").await.unwrap();
    assert_eq!(store.list_communes().await.unwrap(), vec![C1, C2]);

    let mut expected = vec![a.sha256.clone(), b.sha256.clone()];
    expected.sort();
    let listed = store.list(C1).await.unwrap();
    assert_eq!(
        listed.iter().map(|x| x.sha256.clone()).collect::<Vec<_>>(),
        expected
    );
    let info_b = listed.iter().find(|x| x.sha256 == b.sha256).unwrap();
    assert_eq!(info_b.size_on_disk, 2 + 45);
    let age = chrono::Utc::now() - info_b.last_modified;
    assert!(age.num_seconds().abs() < 60, "{age}");

    // Junk in the blobs folder is not reported as a blob.
    std::fs::write(
        blob_file(&backend, C1, &a.sha256).with_file_name("notes.txt"),
        b"?",
    )
    .unwrap();
    copy_blob(
        &blob_file(&backend, C1, &a.sha256),
        &backend
            .root
            .join("communes")
            .join(C1)
            .join("blobs/zz")
            .join(&a.sha256),
    );
    assert_eq!(store.list(C1).await.unwrap().len(), 2);

    assert!(store.exists(C1, &a.sha256).await.unwrap());
    assert!(!store.exists(C1, &c.sha256).await.unwrap());
    store.delete(C1, &a.sha256).await.unwrap();
    assert!(!store.exists(C1, &a.sha256).await.unwrap());
    store.delete(C1, &a.sha256).await.unwrap(); // deleting twice is fine
    assert_eq!(store.list(C1).await.unwrap().len(), 1);

    // A commune whose last blob is deleted disappears from the listing.
    store.delete(C2, &c.sha256).await.unwrap();
    assert_eq!(store.list_communes().await.unwrap(), vec![C1]);
    assert!(store.list(C2).await.unwrap().is_empty());
}

#[test]
fn wrapped_key_opens_only_with_its_master_key_and_commune() {
    let kek = MasterKey::generate().unwrap();
    let dek = DataKey::generate().unwrap();
    let wrapped = kek.wrap(&dek, C1).unwrap();
    assert!(wrapped.starts_with("pk1:"));
    assert_ne!(
        wrapped,
        kek.wrap(&dek, C1).unwrap(),
        "fresh nonce each time"
    );
    kek.unwrap(&wrapped, C1).unwrap();

    let other = MasterKey::generate().unwrap();
    let err = other.unwrap(&wrapped, C1).unwrap_err();
    assert!(matches!(err, KeyError::WrongMasterKey { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "la clé maître ne correspond pas à celle qui a chiffré les données de cette commune"
        ),
        "{err}"
    );

    let err = kek.unwrap(&wrapped, C2).unwrap_err();
    assert!(matches!(err, KeyError::WrongCommune { .. }), "{err:?}");

    // A tampered wrapped key.
    let mut raw: Vec<u8> = wrapped.clone().into_bytes();
    let last = raw.len() - 3;
    raw[last] = if raw[last] == b'A' { b'B' } else { b'A' };
    let err = kek
        .unwrap(&String::from_utf8(raw).unwrap(), C1)
        .unwrap_err();
    assert!(matches!(err, KeyError::WrongCommune { .. }), "{err:?}");

    for bad in [
        "",
        "pk2:AAAA",
        "pk1:!!!",
        "pk1:AAAA",
        &wrapped[..wrapped.len() - 4],
    ] {
        let err = kek.unwrap(bad, C1).unwrap_err();
        assert!(
            matches!(err, KeyError::MalformedWrappedKey { .. }),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains("est illisible"), "{err}");
    }
}

async fn unwrapped_key_reads_the_files(kind: Kind) {
    let Some((_dir, store)) = setup_on(kind) else {
        return;
    };
    let kek = MasterKey::from_base64(&MasterKey::generate().unwrap().to_base64()).unwrap();
    let wrapped = kek.wrap(&DataKey::generate().unwrap(), C1).unwrap();
    // Later, e.g. after a restart: the key comes back from its wrapped text.
    let stored = store
        .put(C1, &kek.unwrap(&wrapped, C1).unwrap(), b"piece jointe")
        .await
        .unwrap();
    let again = kek.unwrap(&wrapped, C1).unwrap();
    assert_eq!(
        store.get(C1, &again, &stored.sha256).await.unwrap(),
        b"piece jointe"
    );
}

#[test]
fn master_key_base64_is_checked() {
    let kek = MasterKey::generate().unwrap();
    let b64 = kek.to_base64();
    assert_eq!(b64.len(), 44);
    assert_eq!(
        MasterKey::from_base64(&format!("{b64}\n"))
            .unwrap()
            .fingerprint(),
        kek.fingerprint()
    );

    let err = MasterKey::from_base64("pas une clé !").unwrap_err();
    assert_eq!(
        err.to_string(),
        "clé maître invalide : ce n'est pas du base64 valide (attendu : 32 octets encodés en base64)"
    );
    let err = MasterKey::from_base64("AAAAAAAAAAAAAAAA").unwrap_err();
    assert_eq!(
        err.to_string(),
        "clé maître invalide : 12 octets décodés (attendu : 32 octets encodés en base64)"
    );
    assert!(matches!(err, KeyError::InvalidMasterKey { .. }));
    assert!(MasterKey::from_base64("").is_err());
}

#[test]
fn debug_does_not_leak_keys() {
    let kek = MasterKey::generate().unwrap();
    let b64 = kek.to_base64();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &b64).unwrap();
    let shown = format!("{kek:?} {kek:#?}");
    assert!(!shown.contains(&b64), "{shown}");
    assert!(!shown.contains(&hex::encode(&bytes)), "{shown}");
    assert!(!shown.contains(&format!("{bytes:?}")[1..20]), "{shown}");
    assert!(!shown.contains(&b64[..12]), "{shown}");
    assert!(shown.contains(&kek.fingerprint()), "{shown}");

    let dek = DataKey::generate().unwrap();
    let wrapped = kek.wrap(&dek, C1).unwrap();
    let shown = format!("{dek:?} {dek:#?}");
    assert_eq!(shown, "DataKey(secret masqué) DataKey(secret masqué)");
    assert!(!shown.contains(&wrapped[4..16]));
}

#[test]
fn storage_errors_are_french_and_keep_their_cause() {
    let cause = object_store::Error::Generic {
        store: "LocalFileSystem",
        source: "No space left on device (os error 28)".into(),
    };
    let err = FileError::Storage {
        action: StorageAction::Write,
        source: cause,
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with("écriture impossible dans le stockage des fichiers : "),
        "{msg}"
    );
    assert!(msg.contains("No space left on device"), "{msg}");
    assert!(err.source().is_some());
}

async fn concurrent_writers_of_the_same_content(kind: Kind) {
    let Some((backend, store)) = setup_on(kind) else {
        return;
    };
    let key = DataKey::generate().unwrap();
    let content = b"scan recu deux fois en meme temps".repeat(100);
    // Several writers pass the "already there?" check together; the conditional write lets
    // one blob in and the others find it there: all succeed with the same address.
    let puts = (0..8).map(|_| store.put(C1, &key, &content));
    let stored = futures::future::join_all(puts).await;
    let first = stored[0].as_ref().unwrap().clone();
    for other in &stored {
        assert_eq!(other.as_ref().unwrap(), &first);
    }
    assert_eq!(store.list(C1).await.unwrap().len(), 1);
    assert_eq!(store.get(C1, &key, &first.sha256).await.unwrap(), content);
    assert!(blob_file(&backend, C1, &first.sha256).is_file());
}

/// The error of `result`, which must be one the caller keeps its work on, in French.
fn unavailable<T: std::fmt::Debug>(result: Result<T, FileError>, expected: &str) -> FileError {
    let err = result.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(expected), "{msg}");
    assert!(msg.contains("rien n'a été perdu"), "{msg}");
    assert!(!msg.contains(S3_SECRET_KEY), "{msg}");
    err
}

#[tokio::test]
async fn s3_wrong_secret_is_refused_clearly_and_nothing_is_written() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let key = DataKey::generate().unwrap();
    let wrong = s3_store(&server, "pas-le-bon-secret");
    // A write starts with a HEAD, whose answer has no body to say why.
    let err = unavailable(
        wrong.put(C1, &key, b"courrier").await,
        "refuse l'accès (clé inconnue ou erronée, identifiants expirés ou droits insuffisants)",
    );
    assert!(matches!(err, FileError::Denied { .. }), "{err:?}");
    assert!(
        err.to_string().contains("vérifiez la clé d'accès S3"),
        "{err}"
    );
    // A GET's or a listing's answer names the fault.
    let err = unavailable(
        wrong.get(C1, &key, &sha256_hex(b"courrier")).await,
        "refuse l'accès (clé secrète erronée)",
    );
    assert!(matches!(err, FileError::Denied { .. }), "{err:?}");
    unavailable(
        wrong.list_communes().await,
        "refuse l'accès (clé secrète erronée)",
    );

    // An unknown key id says so.
    let location = S3Location::parse(&server.url("files")).unwrap();
    let stranger = S3Credentials::new("GKinconnu".into(), S3_SECRET_KEY.into(), None);
    let err = FileStore::s3(&location, &stranger)
        .unwrap()
        .put(C1, &key, b"courrier")
        .await
        .unwrap_err();
    assert!(matches!(err, FileError::Denied { .. }), "{err:?}");

    let right = s3_store(&server, S3_SECRET_KEY);
    assert!(right.list_communes().await.unwrap().is_empty());
}

#[tokio::test]
async fn s3_down_then_back_recovers_by_itself() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let store = s3_store(&server, S3_SECRET_KEY);
    let key = DataKey::generate().unwrap();
    let kept = store.put(C1, &key, b"avant la panne").await.unwrap();

    server.stop();
    let started = std::time::Instant::now();
    let err = unavailable(
        store.put(C1, &key, b"pendant la panne").await,
        "écriture impossible : le stockage des fichiers s3://parapheur-test/files",
    );
    assert!(matches!(err, FileError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("ne répond pas"), "{err}");
    // Retried with backoff, then given up: the caller is not held for minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let err = unavailable(
        store.get(C1, &key, &kept.sha256).await,
        "lecture impossible",
    );
    assert!(matches!(err, FileError::Unreachable { .. }), "{err:?}");
    unavailable(store.list(C1).await, "inventaire impossible");

    // The same store, not reopened, works again once the server is back.
    server.resume();
    assert_eq!(
        store.get(C1, &key, &kept.sha256).await.unwrap(),
        b"avant la panne"
    );
    let later = store.put(C1, &key, b"pendant la panne").await.unwrap();
    assert_eq!(
        store.get(C1, &key, &later.sha256).await.unwrap(),
        b"pendant la panne"
    );
    assert_eq!(store.list(C1).await.unwrap().len(), 2);
}

#[tokio::test]
async fn s3_missing_bucket_is_named() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let url = server
        .url("files")
        .replace("parapheur-test", "compartiment-absent");
    let location = S3Location::parse(&url).unwrap();
    let credentials = S3Credentials::new(S3_ACCESS_KEY.into(), S3_SECRET_KEY.into(), None);
    let store = FileStore::s3(&location, &credentials).unwrap();
    let err = unavailable(
        store.list_communes().await,
        "le compartiment du stockage des fichiers s3://compartiment-absent/files",
    );
    assert!(matches!(err, FileError::BucketMissing { .. }), "{err:?}");
    let err = store.list(C1).await.unwrap_err();
    assert!(matches!(err, FileError::BucketMissing { .. }), "{err:?}");
    // s3s-fs answers NoSuchKey to a GET and makes the bucket's folder on a PUT, where S3
    // answers NoSuchBucket; the listing is what the app checks at start (config check).
}

#[tokio::test]
async fn s3_credentials_file_must_be_private_and_is_read_again_when_it_changes() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(server) = S3Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s3-credentials");
    let write = |secret: &str| {
        std::fs::write(
            &file,
            format!(
                "[default]\naws_access_key_id = {S3_ACCESS_KEY}\naws_secret_access_key = {secret}\n"
            ),
        )
        .unwrap();
    };
    write("ancien-secret-revoque");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = S3Credentials::from_file(&file).unwrap_err().to_string();
    assert!(
        err.contains("lisible par d'autres que son propriétaire (mode 0644)"),
        "{err}"
    );
    assert!(err.contains("chmod 600"), "{err}");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let credentials = S3Credentials::from_file(&file).unwrap();
    assert!(!format!("{credentials:?}").contains("ancien-secret"));
    let location = S3Location::parse(&server.url("files")).unwrap();
    let store = FileStore::s3(&location, &credentials).unwrap();
    let key = DataKey::generate().unwrap();
    let err = unavailable(store.put(C1, &key, b"courrier").await, "refuse l'accès");
    assert!(matches!(err, FileError::Denied { .. }), "{err:?}");

    // The operator puts the new key in the file: the running store uses it.
    write(S3_SECRET_KEY);
    let stored = store.put(C1, &key, b"courrier").await.unwrap();
    assert_eq!(
        store.get(C1, &key, &stored.sha256).await.unwrap(),
        b"courrier"
    );
}
