//! The file store against a real local folder: round trips, tampering, keys, listing.

// clippy.toml allows these inside #[test] functions only; the helpers below are test code too.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::error::Error as _;
use std::path::{Path, PathBuf};

use parapheur_files::{
    DataKey, FileError, FileStore, KeyError, MasterKey, StorageAction, sha256_hex,
};

const C1: &str = "0190f3a1-7c2e-7d4b-9a55-000000000001";
const C2: &str = "0190f3a1-7c2e-7d4b-9a55-000000000002";

fn setup() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet: `local` creates it.
    let store = FileStore::local(&dir.path().join("files")).unwrap();
    (dir, store)
}

fn blob_file(dir: &tempfile::TempDir, commune: &str, sha: &str) -> PathBuf {
    dir.path()
        .join("files/communes")
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

#[tokio::test]
async fn round_trip() {
    let (_dir, store) = setup();
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

#[tokio::test]
async fn same_content_is_stored_once() {
    let (dir, store) = setup();
    let key = DataKey::generate().unwrap();
    let first = store.put(C1, &key, b"scan").await.unwrap();
    let on_disk = std::fs::read(blob_file(&dir, C1, &first.sha256)).unwrap();
    let second = store.put(C1, &key, b"scan").await.unwrap();
    assert_eq!(first, second);
    // Not rewritten: a rewrite would have drawn a new nonce.
    assert_eq!(
        std::fs::read(blob_file(&dir, C1, &first.sha256)).unwrap(),
        on_disk
    );
    assert_eq!(store.list(C1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn deferred_writes_read_back_and_are_flushed_together() {
    let (dir, store) = setup();
    let key = DataKey::generate().unwrap();
    let first = store.put_deferred(C1, &key, b"piece jointe").await.unwrap();
    let other = store.put_deferred(C1, &key, b"message").await.unwrap();
    assert_eq!(
        store.get(C1, &key, &first.sha256).await.unwrap(),
        b"piece jointe"
    );
    // The same content put durably is found at the same address, not written again.
    let on_disk = std::fs::read(blob_file(&dir, C1, &first.sha256)).unwrap();
    assert_eq!(store.put(C1, &key, b"piece jointe").await.unwrap(), first);
    assert_eq!(
        std::fs::read(blob_file(&dir, C1, &first.sha256)).unwrap(),
        on_disk
    );
    store.sync().await.unwrap();
    assert_eq!(store.list(C1).await.unwrap().len(), 2);
    store.verify(C1, &key, &other.sha256).await.unwrap();

    // A flush that cannot happen says where, in French.
    std::fs::remove_dir_all(dir.path().join("files")).unwrap();
    let err = store.sync().await.unwrap_err();
    assert!(matches!(err, FileError::Flush { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("impossible de mettre sur le disque les fichiers reçus dans "),
        "{err}"
    );
}

#[tokio::test]
async fn ciphertext_differs_between_communes_and_hides_plaintext() {
    let (dir, store) = setup();
    let (k1, k2) = (DataKey::generate().unwrap(), DataKey::generate().unwrap());
    let content = b"Demande d'acte de naissance de Jeanne Martin".repeat(4);
    let a = store.put(C1, &k1, &content).await.unwrap();
    let b = store.put(C2, &k2, &content).await.unwrap();
    assert_eq!(a.sha256, b.sha256);
    let blob1 = std::fs::read(blob_file(&dir, C1, &a.sha256)).unwrap();
    let blob2 = std::fs::read(blob_file(&dir, C2, &b.sha256)).unwrap();
    assert_ne!(blob1, blob2);
    assert!(blob1.starts_with(b"PRPH\x01"));
    assert_eq!(blob1.len(), content.len() + 4 + 1 + 24 + 16);
    assert!(!blob1.windows(12).any(|w| w == b"Jeanne Marti"));
    // Each commune's key opens only its own files.
    assert_corrupt(store.get(C2, &k1, &a.sha256).await.unwrap_err(), &a.sha256);
    assert_eq!(store.get(C2, &k2, &a.sha256).await.unwrap(), content);
}

#[tokio::test]
async fn altered_or_truncated_blob_is_detected() {
    let (dir, store) = setup();
    let key = DataKey::generate().unwrap();
    let stored = store.put(C1, &key, &[7u8; 1000]).await.unwrap();
    let path = blob_file(&dir, C1, &stored.sha256);
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

#[tokio::test]
async fn blob_moved_to_another_address_or_commune_is_detected() {
    let (dir, store) = setup();
    // The same key on both communes, so only the address binding can catch the swap.
    let key = DataKey::generate().unwrap();
    let real = store.put(C1, &key, b"arrete municipal").await.unwrap();
    let other = store.put(C1, &key, b"autre piece").await.unwrap();

    // Copied over another file's address in the same commune.
    copy_blob(
        &blob_file(&dir, C1, &real.sha256),
        &blob_file(&dir, C1, &other.sha256),
    );
    assert_corrupt(
        store.get(C1, &key, &other.sha256).await.unwrap_err(),
        &other.sha256,
    );

    // Copied to an address that never existed.
    let fake = sha256_hex(b"never stored");
    copy_blob(
        &blob_file(&dir, C1, &real.sha256),
        &blob_file(&dir, C1, &fake),
    );
    assert_corrupt(store.get(C1, &key, &fake).await.unwrap_err(), &fake);

    // Copied to the same address in another commune.
    copy_blob(
        &blob_file(&dir, C1, &real.sha256),
        &blob_file(&dir, C2, &real.sha256),
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

#[tokio::test]
async fn missing_and_invalid_addresses() {
    let (_dir, store) = setup();
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

#[tokio::test]
async fn list_exists_delete_and_communes() {
    let (dir, store) = setup();
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
        blob_file(&dir, C1, &a.sha256).with_file_name("notes.txt"),
        b"?",
    )
    .unwrap();
    copy_blob(
        &blob_file(&dir, C1, &a.sha256),
        &dir.path()
            .join("files/communes")
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

#[tokio::test]
async fn unwrapped_key_reads_the_files() {
    let (_dir, store) = setup();
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
