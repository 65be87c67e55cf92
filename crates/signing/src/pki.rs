//! A commune's own small PKI (demo and self-hosted): a self-signed P-256 CA valid ten years,
//! and certificates for people and for the commune seal.
use std::time::Duration;

use chrono::{DateTime, Utc};
use der::Any;
use der::asn1::{GeneralizedTime, Ia5String, SetOfVec, Utf8StringRef};
use p256::ecdsa::{DerSignature, SigningKey};
use rand_core::RngCore;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::cmsutil::{OID_CN, OID_O, OID_TITLE};
use crate::{KeyError, SignerKey};

/// Who a certificate is issued to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub common_name: String,
    pub organisation: String,
    pub email: Option<String>,
    pub title: Option<String>,
    /// A commune seal ("cachet") rather than a person.
    pub seal: bool,
}

fn gen_err(e: impl std::fmt::Display) -> KeyError {
    KeyError::Generation(e.to_string())
}

fn make_name(attrs: &[(der::asn1::ObjectIdentifier, &str)]) -> Result<Name, KeyError> {
    let mut rdns = Vec::new();
    for (oid, value) in attrs {
        let v = Utf8StringRef::new(value).map_err(gen_err)?;
        let atv = x509_cert::attr::AttributeTypeAndValue {
            oid: *oid,
            value: Any::encode_from(&v).map_err(gen_err)?,
        };
        let mut set = SetOfVec::new();
        set.insert(atv).map_err(gen_err)?;
        rdns.push(RelativeDistinguishedName(set));
    }
    Ok(RdnSequence(rdns))
}

fn serial() -> Result<SerialNumber, KeyError> {
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(gen_err)
}

fn time(t: DateTime<Utc>) -> Result<Time, KeyError> {
    let secs = u64::try_from(t.timestamp()).map_err(gen_err)?;
    Ok(Time::GeneralTime(
        GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).map_err(gen_err)?,
    ))
}

fn validity(now: DateTime<Utc>, days: u32) -> Result<Validity, KeyError> {
    // A little margin before `now` for clocks that are slightly behind.
    let start = now - chrono::Duration::minutes(10);
    let end = now + chrono::Duration::days(i64::from(days));
    Ok(Validity {
        not_before: time(start)?,
        not_after: time(end)?,
    })
}

fn spki_of(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, KeyError> {
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(gen_err)
}

/// A new self-signed CA (P-256, valid ten years from `now`).
pub fn new_ca(
    common_name: &str,
    organisation: &str,
    now: DateTime<Utc>,
) -> Result<SignerKey, KeyError> {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let subject = make_name(&[(OID_CN, common_name), (OID_O, organisation)])?;
    let builder = CertificateBuilder::new(
        Profile::Root,
        serial()?,
        validity(now, 3653)?,
        subject,
        spki_of(&key)?,
        &key,
    )
    .map_err(gen_err)?;
    let cert = builder.build::<DerSignature>().map_err(gen_err)?;
    SignerKey::new(key, vec![cert])
}

/// Issues a signing certificate (digitalSignature + nonRepudiation) valid `days` days.
pub fn issue(
    ca: &SignerKey,
    subject: &Subject,
    now: DateTime<Utc>,
    days: u32,
) -> Result<SignerKey, KeyError> {
    ca.check_usable_at(now)?;
    let ca_cert = ca.chain().first().ok_or(KeyError::EmptyChain)?;
    let key = SigningKey::random(&mut rand_core::OsRng);
    let cn = if subject.seal && !subject.common_name.contains("cachet") {
        format!("{} - cachet", subject.common_name)
    } else {
        subject.common_name.clone()
    };
    let mut attrs: Vec<(der::asn1::ObjectIdentifier, &str)> = vec![(OID_CN, cn.as_str())];
    if let Some(t) = subject.title.as_deref().filter(|t| !t.is_empty()) {
        attrs.push((OID_TITLE, t));
    }
    if !subject.organisation.is_empty() {
        attrs.push((OID_O, subject.organisation.as_str()));
    }
    let name = make_name(&attrs)?;
    let mut builder = CertificateBuilder::new(
        Profile::Leaf {
            issuer: ca_cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        serial()?,
        validity(now, days)?,
        name,
        spki_of(&key)?,
        ca.signing_key(),
    )
    .map_err(gen_err)?;
    if let Some(email) = subject.email.as_deref().filter(|e| !e.is_empty()) {
        let ia5 = Ia5String::new(email).map_err(gen_err)?;
        builder
            .add_extension(&SubjectAltName(vec![GeneralName::Rfc822Name(ia5)]))
            .map_err(gen_err)?;
    }
    let cert = builder.build::<DerSignature>().map_err(gen_err)?;
    let mut chain = vec![cert];
    chain.extend(ca.chain().iter().cloned());
    SignerKey::new(key, chain)
}

/// A DER certificate as PEM text.
pub fn certificate_pem(cert_der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, cert_der).unwrap_or_default()
}

/// The certificates of a PEM bundle, in order, as DER (empty text: none).
pub fn certificates_from_pem(pem: &str) -> Result<Vec<Vec<u8>>, KeyError> {
    use der::Encode;
    if pem.trim().is_empty() {
        return Ok(Vec::new());
    }
    x509_cert::Certificate::load_pem_chain(pem.as_bytes())
        .map_err(|e| KeyError::InvalidCertificate(e.to_string()))?
        .iter()
        .map(|c| {
            c.to_der()
                .map_err(|e| KeyError::InvalidCertificate(e.to_string()))
        })
        .collect()
}
