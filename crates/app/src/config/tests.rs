//! The tests of the configuration: loading, precedence, refusals, the example file.

use super::settings_file::FileSettings;
use super::*;

#[test]
fn the_default_public_url_follows_the_listen_address_and_a_setting_wins() {
    let dir = tempfile::tempdir().unwrap();
    let listen: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
    let config = Config::load(dir.path(), None).unwrap().listening_on(listen);
    assert_eq!(config.public_url, "http://127.0.0.1:3000");
    let any: std::net::SocketAddr = "0.0.0.0:9000".parse().unwrap();
    let config = Config::load(dir.path(), None).unwrap().listening_on(any);
    assert_eq!(config.public_url, "http://127.0.0.1:9000");
    let any6: std::net::SocketAddr = "[::]:9000".parse().unwrap();
    let config = Config::load(dir.path(), None).unwrap().listening_on(any6);
    assert_eq!(config.public_url, "http://[::1]:9000");
    std::fs::write(
        dir.path().join(Config::FILE_NAME),
        "public_url = 'https://courrier.mairie.fr'\n",
    )
    .unwrap();
    let config = Config::load(dir.path(), None).unwrap().listening_on(listen);
    assert_eq!(config.public_url, "https://courrier.mairie.fr");
}

#[test]
fn the_proconnect_secret_comes_from_the_environment_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(Config::FILE_NAME),
        "[proconnect]\nissuer = 'https://proconnect.gouv.fr/api/v2'\nclient_id = 'service'\n",
    )
    .unwrap();
    let refused = Config::load_with(dir.path(), None, &|_| None).unwrap_err();
    assert!(refused.to_string().contains("client_secret"), "{refused}");
    let config = Config::load_with(dir.path(), None, &|name| {
        (name == "PARAPHEUR_PROCONNECT_CLIENT_SECRET").then(|| "tres-secret-oidc".to_owned())
    })
    .unwrap();
    let setting = config.proconnect.clone().unwrap();
    assert_eq!(setting.client_secret, "tres-secret-oidc");
    assert_eq!(setting.issuer, "https://proconnect.gouv.fr/api/v2");
    let shown = format!("{config:?} {setting:?} {:?}", config.describe());
    assert!(
        shown.contains("https://proconnect.gouv.fr/api/v2"),
        "{shown}"
    );
    assert!(!shown.contains("tres-secret-oidc"), "{shown}");
    std::fs::write(
        dir.path().join(Config::FILE_NAME),
        "[proconnect]\nissuer = 'proconnect.gouv.fr'\nclient_id = 'service'\nclient_secret = 's'\n",
    )
    .unwrap();
    let refused = Config::load_with(dir.path(), None, &|_| None).unwrap_err();
    assert!(refused.to_string().contains("issuer"), "{refused}");
}

#[test]
fn files_are_a_folder_or_a_bucket_with_a_private_key() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |n: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let load = |pairs| Config::load_with(dir.path(), None, &env(pairs));
    let config = load(&[]).unwrap();
    assert_eq!(config.files_dir, dir.path().join("files"));
    assert!(config.files_s3.is_none());
    let config = load(&[("PARAPHEUR_FILES", "/srv/fichiers")]).unwrap();
    assert_eq!(config.files_dir, PathBuf::from("/srv/fichiers"));

    const BUCKET: &str = "s3://mairies/prod?endpoint=https://s3.fr-par.scw.cloud&region=fr-par";
    let config = load(&[
        ("PARAPHEUR_FILES", BUCKET),
        ("AWS_ACCESS_KEY_ID", "SCWKEY"),
        ("AWS_SECRET_ACCESS_KEY", "tres-secret"),
    ])
    .unwrap();
    let s3 = config.files_s3.as_ref().unwrap();
    assert_eq!(
        (s3.location.bucket.as_str(), s3.location.prefix.as_str()),
        ("mairies", "prod")
    );
    let shown = format!("{config:?} {:?}", config.describe());
    assert!(
        shown
            .contains("s3://mairies/prod (https://s3.fr-par.scw.cloud, région fr-par), clé SCWKEY"),
        "{shown}"
    );
    assert!(!shown.contains("tres-secret"), "{shown}");
    // The PARAPHEUR_ pair wins over the AWS_ one.
    let config = load(&[
        ("PARAPHEUR_FILES", BUCKET),
        ("PARAPHEUR_S3_ACCESS_KEY_ID", "GKPROPRE"),
        ("PARAPHEUR_S3_SECRET_ACCESS_KEY", "s"),
        ("AWS_ACCESS_KEY_ID", "SCWKEY"),
        ("AWS_SECRET_ACCESS_KEY", "tres-secret"),
    ])
    .unwrap();
    assert!(config.files_description().ends_with("clé GKPROPRE"));

    for (pairs, expected) in [
        (
            &[("PARAPHEUR_FILES", BUCKET)][..],
            "identifiants S3 manquants",
        ),
        (
            &[("PARAPHEUR_FILES", BUCKET), ("AWS_ACCESS_KEY_ID", "SCWKEY")][..],
            "AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY vont ensemble",
        ),
        (
            &[(
                "PARAPHEUR_FILES",
                "s3://mairies/x?endpoint=http://s3.exemple.fr",
            )][..],
            "seul https est permis",
        ),
    ] {
        let err = load(pairs).unwrap_err().to_string();
        assert!(err.contains(expected), "{pairs:?}: {err}");
    }

    // A credentials file: refused unless private, then read.
    let file = dir.path().join("s3-credentials");
    std::fs::write(
        &file,
        "aws_access_key_id = GKFICHIER
aws_secret_access_key = x
",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = load(&[("PARAPHEUR_FILES", BUCKET)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("(mode 0640) : refusé") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = load(&[("PARAPHEUR_FILES", BUCKET)]).unwrap();
    assert!(config.files_description().ends_with("clé GKFICHIER"));
    let config = load(&[
        ("PARAPHEUR_FILES", BUCKET),
        ("PARAPHEUR_S3_CREDENTIALS_FILE", "/nulle/part"),
    ]);
    let err = config.unwrap_err().to_string();
    assert!(err.contains("/nulle/part : illisible"), "{err}");
}

#[test]
fn a_bad_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(Config::FILE_NAME), "databse_url = 'x'\n").unwrap();
    let err = Config::load(dir.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("parapheur.toml") && err.contains("databse_url"),
        "{err}"
    );
}

#[test]
fn trusted_proxies_are_read_and_a_typo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(Config::FILE_NAME);
    std::fs::write(&file, "trusted_proxies = ['127.0.0.1', '::1']\n").unwrap();
    let config = Config::load(dir.path(), None).unwrap();
    assert_eq!(config.trusted_proxies.len(), 2);
    std::fs::write(&file, "trusted_proxies = ['127.0.0.l']\n").unwrap();
    let err = Config::load(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("127.0.0.l"), "{err}");
}

#[test]
fn ocr_workers_default_to_the_cores_and_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(Config::FILE_NAME);
    let config = Config::load(dir.path(), None).unwrap();
    assert_eq!(config.ocr_workers, parapheur_extract::available_cores());
    std::fs::write(&file, "ocr_workers = 3\n").unwrap();
    assert_eq!(Config::load(dir.path(), None).unwrap().ocr_workers, 3);
    std::fs::write(&file, "ocr_workers = 0\n").unwrap();
    let err = Config::load(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("ocr_workers"), "{err}");
    std::fs::write(&file, "ocr_workers = 'deux'\n").unwrap();
    let err = Config::load(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("ocr_workers"), "{err}");
}

/// The fields a struct asks serde for: what its configuration file may hold.
fn fields_of<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    struct Recorder<'a>(&'a mut Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for Recorder<'_> {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.extend(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields = Vec::new();
    let _ = T::deserialize(Recorder(&mut fields));
    assert!(!fields.is_empty());
    fields
}

/// `parapheur.toml.example` names every setting, each after a comment, and nothing
/// else: a setting added to the structs and not to the example (or the reverse) fails.
#[test]
fn the_example_file_lists_every_setting() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../parapheur.toml.example");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut uncommented = String::new();
    let mut previous = "";
    for line in text.lines() {
        let setting = line.strip_prefix('#').filter(|rest| {
            rest.starts_with('[')
                || rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
        });
        match setting {
            Some(rest) => {
                if !rest.starts_with('[') {
                    assert!(
                        previous.starts_with("# ") || previous.starts_with("#["),
                        "no comment before « {line} »"
                    );
                }
                uncommented.push_str(rest);
            }
            None => uncommented.push_str(line),
        }
        uncommented.push('\n');
        previous = line;
    }
    let table: toml::Table = toml::from_str(&uncommented).unwrap();
    let keys = |t: &toml::Table| {
        let mut k: Vec<String> = t.keys().cloned().collect();
        k.sort();
        k
    };
    let sorted = |mut v: Vec<&'static str>| {
        v.sort_unstable();
        v.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(keys(&table), sorted(fields_of::<FileSettings>()));
    assert_eq!(
        keys(table["smtp"].as_table().unwrap()),
        sorted(fields_of::<SmtpSetting>())
    );
    assert_eq!(
        keys(table["backup"].as_table().unwrap()),
        sorted(fields_of::<BackupSetting>())
    );
    assert_eq!(
        keys(table["proconnect"].as_table().unwrap()),
        sorted(fields_of::<ProConnectSetting>())
    );
    assert_eq!(
        keys(
            table["drop_folder"].as_array().unwrap()[0]
                .as_table()
                .unwrap()
        ),
        sorted(fields_of::<DropFolderSetting>())
    );
    // And every value in it is one the program accepts.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(Config::FILE_NAME), &uncommented).unwrap();
    let config = Config::load(dir.path(), None).unwrap();
    assert_eq!(config.smtp.unwrap().security, SmtpSecurity::Starttls);
    assert_eq!(config.poll_interval, Duration::from_secs(60));
    assert_eq!(config.proconnect.unwrap().acr_values, ["eidas1"]);
}

#[test]
fn bad_values_are_refused_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(Config::FILE_NAME);
    for (text, key) in [
        (
            "[smtp]\nhost = 'h'\nfrom = 'a@b.fr'\nsecurity = 'starttsl'\n",
            "starttsl",
        ),
        ("public_url = 'courrier.mairie.fr'\n", "public_url"),
        ("public_url = 'ftp://courrier.mairie.fr'\n", "public_url"),
        ("tsa_url = 'pas une adresse'\n", "tsa_url"),
        ("pow_bits = 40\n", "pow_bits"),
        ("poll_seconds = 0\n", "poll_seconds"),
        ("lock_timeout_ms = -5\n", "lock_timeout_ms"),
        ("index_dri = '/tmp'\n", "index_dri"),
    ] {
        std::fs::write(&file, text).unwrap();
        let err = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn an_environment_variable_with_a_bad_value_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let with = |name: &'static str, value: &'static str| {
        move |n: &str| (n == name).then(|| value.to_owned())
    };
    for (name, value) in [
        ("PARAPHEUR_LOCK_TIMEOUT_MS", "dix"),
        ("PARAPHEUR_POLL_SECONDS", "1m"),
        ("PARAPHEUR_POW_BITS", "-1"),
        ("PARAPHEUR_OCR_WORKERS", "deux"),
        ("PARAPHEUR_PUBLIC_URL", "mairie.fr"),
        ("PARAPHEUR_TRUSTED_PROXIES", "127.0.0.l"),
    ] {
        let err = Config::load_with(dir.path(), None, &with(name, value))
            .unwrap_err()
            .to_string();
        assert!(err.contains(name) || err.contains(value), "{name}: {err}");
        assert!(err.contains(value), "{name}: {err}");
    }
    let config =
        Config::load_with(dir.path(), None, &with("PARAPHEUR_LOCK_TIMEOUT_MS", "2500")).unwrap();
    assert_eq!(config.lock_timeout, Duration::from_millis(2500));
    let config = Config::load_with(
        dir.path(),
        None,
        &with("PARAPHEUR_FILES_DIR", "/srv/fichiers"),
    )
    .unwrap();
    assert_eq!(config.files_dir(), PathBuf::from("/srv/fichiers"));
}

#[test]
fn the_description_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(Config::FILE_NAME),
        "database_url = 'postgres://parapheur:secret-pg@db/parapheur'\n\
         [smtp]\nhost = 'h'\nfrom = 'a@b.fr'\nusername = 'u'\npassword = 'secret-smtp'\n",
    )
    .unwrap();
    let config = Config::load(dir.path(), None).unwrap();
    let text = format!("{:?}", config.describe());
    assert!(!text.contains("secret"), "{text}");
    assert!(
        text.contains("********") && text.contains("parapheur:***@db"),
        "{text}"
    );
}

/// `tsa_ca` names a PEM file of the TSA's CA, read when the app opens.
#[test]
fn the_tsa_ca_is_read_from_its_pem_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = parapheur_signing::pki::new_ca("TSA CA", "Test", chrono::Utc::now()).unwrap();
    let pem = parapheur_signing::pki::certificate_pem(&ca.chain_der()[0]);
    std::fs::write(dir.path().join("tsa-ca.pem"), pem).unwrap();
    std::fs::write(
        dir.path().join(Config::FILE_NAME),
        format!("tsa_ca = '{}'\n", dir.path().join("tsa-ca.pem").display()),
    )
    .unwrap();
    let config = Config::load(dir.path(), None).unwrap();
    assert_eq!(config.tsa_anchors().unwrap(), ca.chain_der());
    let missing = Config::load_with(dir.path(), None, &|name| {
        (name == "PARAPHEUR_TSA_CA").then(|| "/nulle/part.pem".to_owned())
    })
    .unwrap();
    let err = missing.tsa_anchors().unwrap_err().to_string();
    assert!(
        err.contains("tsa_ca") && err.contains("impossible"),
        "{err}"
    );
    assert!(
        Config::new(dir.path(), None, MasterKeySource::Inline(String::new()))
            .tsa_anchors()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_non_postgres_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::load(dir.path(), Some("mysql://x".into())).unwrap_err();
    assert!(err.to_string().contains("postgres://"));
}

#[test]
fn the_master_key_file_is_created_once_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(
        dir.path(),
        None,
        MasterKeySource::File(dir.path().join("master.key")),
    );
    assert!(config.ensure_master_key().unwrap());
    let first = config.load_master_key().unwrap().fingerprint();
    assert!(!config.ensure_master_key().unwrap());
    assert_eq!(config.load_master_key().unwrap().fingerprint(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!format!("{config:?}").contains("master"));
}
