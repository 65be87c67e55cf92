//! S3-compatible buckets: where the files are (`s3://bucket/prefix?endpoint=…&region=…`),
//! the credentials that open them, and the store built from both.
//!
//! The blob layout and format are the local folder's, under the prefix: a folder copied to a
//! bucket (`rclone copy files/ s3:bucket/prefix`) is read as is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, CredentialProvider, RetryConfig};
use zeroize::Zeroizing;

use crate::FileError;

/// Region signed into requests when the URL names none (what most S3-compatible servers
/// accept; Garage wants its own `s3_region`, given as `region=`).
const DEFAULT_REGION: &str = "us-east-1";

/// A bucket and a prefix in it, on AWS or on an S3-compatible server (`endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Folder inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// `https://host[:port]` of an S3-compatible server; AWS when absent.
    pub endpoint: Option<String>,
    pub region: String,
}

impl S3Location {
    /// Whether a `files` setting names a bucket rather than a folder.
    pub fn is_s3_url(setting: &str) -> bool {
        setting.trim_start().starts_with("s3://")
    }

    /// Reads `s3://bucket[/prefix][?endpoint=URL&region=NAME]`. Plain `http://` endpoints
    /// are refused except on this machine: credentials and files would cross the network in
    /// clear.
    pub fn parse(setting: &str) -> Result<S3Location, FileError> {
        // Never echo a secret someone put in the URL by mistake.
        let shown = match setting.split_once('@') {
            Some((_, host)) => format!("s3://…@{host}"),
            None => setting.to_owned(),
        };
        let bad = |why: String| FileError::Location(format!("« {shown} » : {why}"));
        let url =
            url::Url::parse(setting.trim()).map_err(|e| bad(format!("URL illisible ({e})")))?;
        if url.scheme() != "s3" {
            return Err(bad("une URL s3://compartiment/préfixe est attendue".into()));
        }
        let bucket = url.host_str().unwrap_or_default().to_owned();
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(format!(
                "nom de compartiment invalide « {bucket} » (3 à 63 lettres minuscules, chiffres, \
                 « - » ou « . »)"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "pas d'identifiants dans l'URL : ils viennent de l'environnement ou d'un \
                 fichier d'identifiants"
                    .into(),
            ));
        }
        let prefix = url.path().trim_matches('/').to_owned();
        // The URL parser folds "." and ".." away: refuse them in what was written instead.
        let written_path = setting.split(['?', '#']).next().unwrap_or_default();
        if written_path.split('/').any(|p| p == "." || p == "..") {
            return Err(bad("préfixe invalide (« . » ou « .. »)".into()));
        }
        let mut endpoint = None;
        let mut region = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "endpoint" => endpoint = Some(checked_endpoint(&value).map_err(bad)?),
                "region" if !value.is_empty() => region = Some(value.into_owned()),
                other => {
                    return Err(bad(format!(
                        "paramètre inconnu « {other} » (seuls endpoint et region sont permis)"
                    )));
                }
            }
        }
        Ok(S3Location {
            bucket,
            prefix,
            endpoint,
            region: region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        })
    }

    fn allow_http(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)?;
        match &self.endpoint {
            Some(endpoint) => write!(f, " ({endpoint}, région {})", self.region),
            None => write!(f, " (AWS, région {})", self.region),
        }
    }
}

fn checked_endpoint(value: &str) -> Result<String, String> {
    let url =
        url::Url::parse(value).map_err(|e| format!("point d'accès illisible « {value} » ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("point d'accès sans hôte « {value} »")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "le point d'accès {value} est en http : seul https est permis hors de cette \
                 machine (les fichiers et les signatures passeraient en clair)"
            ));
        }
        other => return Err(format!("point d'accès en {other} : https attendu")),
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(format!(
            "le point d'accès {value} ne doit contenir que le schéma, l'hôte et le port"
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// Access key and secret of a bucket. Debug never shows the secret; memory is wiped on drop.
#[derive(Clone)]
pub struct S3Credentials {
    source: CredentialSource,
}

#[derive(Clone)]
enum CredentialSource {
    Fixed {
        key_id: String,
        provider: Arc<object_store::StaticCredentialProvider<AwsCredential>>,
    },
    /// Read again when the file changes: new keys put there are used without a restart.
    File(Arc<FileCredentials>),
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            CredentialSource::Fixed { key_id, .. } => f
                .debug_struct("S3Credentials")
                .field("access_key_id", key_id)
                .finish_non_exhaustive(),
            CredentialSource::File(file) => f
                .debug_struct("S3Credentials")
                .field("file", &file.path)
                .finish_non_exhaustive(),
        }
    }
}

impl S3Credentials {
    /// Credentials given directly (from the environment).
    pub fn new(access_key_id: String, secret_access_key: String, token: Option<String>) -> Self {
        Self {
            source: CredentialSource::Fixed {
                key_id: access_key_id.clone(),
                provider: Arc::new(object_store::StaticCredentialProvider::new(AwsCredential {
                    key_id: access_key_id,
                    secret_key: secret_access_key,
                    token,
                })),
            },
        }
    }

    /// Credentials kept in a file readable by its owner only (mode 0600 or stricter), in
    /// the AWS `credentials` form: `aws_access_key_id = …`, `aws_secret_access_key = …`,
    /// optionally `aws_session_token = …` (the `aws_` may be left out; `[section]` lines
    /// and `#` comments are ignored). Checked now, and read again whenever it changes.
    pub fn from_file(path: &Path) -> Result<Self, FileError> {
        let file = FileCredentials {
            path: path.to_owned(),
            cached: Mutex::new(None),
        };
        file.current()?;
        Ok(Self {
            source: CredentialSource::File(Arc::new(file)),
        })
    }

    /// The access key id in use (not secret: it names the key, for messages and logs).
    pub fn access_key_id(&self) -> Result<String, FileError> {
        Ok(match &self.source {
            CredentialSource::Fixed { key_id, .. } => key_id.clone(),
            CredentialSource::File(file) => file.current()?.key_id.clone(),
        })
    }

    fn provider(&self) -> object_store::aws::AwsCredentialProvider {
        match &self.source {
            CredentialSource::Fixed { provider, .. } => provider.clone(),
            CredentialSource::File(file) => file.clone(),
        }
    }
}

/// A file's modification time and size: a rewrite changes at least one.
type FileStamp = (SystemTime, u64);

struct FileCredentials {
    path: PathBuf,
    /// The credential and the stamp of the file it was read from.
    cached: Mutex<Option<(FileStamp, Arc<AwsCredential>)>>,
}

impl fmt::Debug for FileCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCredentials")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileCredentials {
    fn current(&self) -> Result<Arc<AwsCredential>, FileError> {
        let bad = |why: String| {
            FileError::Location(format!(
                "fichier d'identifiants S3 {} : {why}",
                self.path.display()
            ))
        };
        let meta = std::fs::metadata(&self.path).map_err(|e| bad(format!("illisible ({e})")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "lisible par d'autres que son propriétaire (mode {mode:04o}) : refusé. \
                     Faites « chmod 600 {} »",
                    self.path.display()
                )));
            }
        }
        let modified = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, credential)) = cached.as_ref()
            && *at == modified
        {
            return Ok(credential.clone());
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(&self.path).map_err(|e| bad(format!("illisible ({e})")))?,
        );
        let credential = Arc::new(parse_credentials(&text).map_err(bad)?);
        *cached = Some((modified, credential.clone()));
        Ok(credential)
    }
}

#[async_trait::async_trait]
impl CredentialProvider for FileCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.current().map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })
    }
}

fn parse_credentials(text: &str) -> Result<AwsCredential, String> {
    let (mut id, mut secret, mut token) = (None, None, None);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) || line.starts_with('[') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("ligne {} : « clé = valeur » attendu", n + 1));
        };
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match key.trim().trim_start_matches("aws_") {
            "access_key_id" => id = value,
            "secret_access_key" => secret = value,
            "session_token" => token = value,
            other => return Err(format!("ligne {} : clé inconnue « {other} »", n + 1)),
        }
    }
    match (id, secret) {
        (Some(key_id), Some(secret_key)) => Ok(AwsCredential {
            key_id,
            secret_key,
            token,
        }),
        _ => Err("aws_access_key_id et aws_secret_access_key sont tous deux requis".into()),
    }
}

/// rustls needs one process-wide crypto provider: ring, as for mail (no aws-lc-sys here).
fn install_ring_provider() {
    // Already installed (by an earlier store, or by the program): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The bucket as an object store, prefix applied. Retries with backoff what can be retried
/// (connection refused or reset, 5xx, throttling), for at most about 15 s, then fails: the
/// caller keeps its work and tries again later.
pub(crate) fn open(
    location: &S3Location,
    credentials: &S3Credentials,
) -> Result<Arc<dyn object_store::ObjectStore>, FileError> {
    install_ring_provider();
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(3),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(15),
    };
    let client = ClientOptions::new()
        .with_allow_http(location.allow_http())
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&location.bucket)
        .with_region(&location.region)
        .with_credentials(credentials.provider())
        .with_virtual_hosted_style_request(false)
        .with_retry(retry)
        .with_client_options(client);
    if let Some(endpoint) = &location.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let s3 = builder
        .build()
        .map_err(|e| FileError::Location(format!("{location} : {e}")))?;
    Ok(if location.prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(PrefixStore::new(s3, location.prefix.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_checked() {
        let l = S3Location::parse(
            "s3://mairies/prod/files?endpoint=https://s3.gra.io.cloud.ovh.net&region=gra",
        )
        .unwrap();
        assert_eq!(l.bucket, "mairies");
        assert_eq!(l.prefix, "prod/files");
        assert_eq!(
            l.endpoint.as_deref(),
            Some("https://s3.gra.io.cloud.ovh.net")
        );
        assert_eq!(l.region, "gra");
        let l = S3Location::parse("s3://mairies?endpoint=http://127.0.0.1:3900/").unwrap();
        assert_eq!((l.prefix.as_str(), l.region.as_str()), ("", DEFAULT_REGION));
        assert!(l.allow_http());

        for (bad, why) in [
            ("s3://Mairies/x", "nom de compartiment invalide"),
            ("s3://ab", "nom de compartiment invalide"),
            ("s3://cle:secret@mairies/x", "pas d'identifiants dans l'URL"),
            (
                "s3://mairies/x?endpoint=http://s3.example.fr",
                "seul https est permis",
            ),
            (
                "s3://mairies/x?endpoint=ftp://s3.example.fr",
                "https attendu",
            ),
            (
                "s3://mairies/x?endpoint=https://s3.example.fr/b",
                "que le schéma",
            ),
            ("s3://mairies/x?bucket=y", "paramètre inconnu « bucket »"),
            ("s3://mairies/../x", "préfixe invalide"),
            ("/srv/files", "URL illisible"),
        ] {
            let err = S3Location::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn credential_files_are_read() {
        let c = parse_credentials(
            "[default]\n# clé de la mairie\naws_access_key_id = GK1\naws_secret_access_key=abc\n",
        )
        .unwrap();
        assert_eq!((c.key_id.as_str(), c.secret_key.as_str()), ("GK1", "abc"));
        assert!(c.token.is_none());
        let c = parse_credentials("access_key_id=a\nsecret_access_key=b\nsession_token=t").unwrap();
        assert_eq!(c.token.as_deref(), Some("t"));
        for (bad, why) in [
            ("access_key_id = a", "tous deux requis"),
            ("region = gra", "clé inconnue « region »"),
            ("n'importe quoi", "ligne 1"),
        ] {
            let err = parse_credentials(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
