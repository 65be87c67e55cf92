//! Certificate paths: signatures of certificates, and a path from a leaf to a trust anchor
//! checked the way pyHanko's certificate validator does by default (RFC 5280 basics):
//! validity at a given time, BasicConstraints CA:TRUE and keyCertSign for every issuer,
//! path length constraints, the leaf's key usage, and the time-stamping EKU for a TSA.
use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use crate::cmsutil::*;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// Critical extensions we know how to honour (or that do not restrict our use).
const UNDERSTOOD_CRITICAL: [ObjectIdentifier; 7] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXT_KEY_USAGE,
    OID_SAN,
    ObjectIdentifier::new_unwrap("2.5.29.14"), // subjectKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.32"), // certificatePolicies
];

/// What the leaf certificate is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Signs documents: key usage (when present) must allow digitalSignature or
    /// nonRepudiation.
    Signer,
    /// Signs RFC 3161 time-stamp tokens: additionally the critical id-kp-timeStamping EKU.
    TimeStamping,
}

pub(crate) fn digest_with(oid: &ObjectIdentifier, parts: &[&[u8]]) -> Option<Vec<u8>> {
    fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().to_vec()
    }
    match *oid {
        OID_SHA256 => Some(run::<Sha256>(parts)),
        OID_SHA384 => Some(run::<Sha384>(parts)),
        OID_SHA512 => Some(run::<Sha512>(parts)),
        _ => None,
    }
}

/// Verifies `sig` over `msg` with the public key of `cert`; `digest_oid` names the hash for
/// algorithms (rsaEncryption, id-ecPublicKey) that do not carry it.
pub(crate) fn verify_signature(
    cert: &Certificate,
    sig_alg: &ObjectIdentifier,
    digest_oid: &ObjectIdentifier,
    msg: &[u8],
    sig: &[u8],
) -> bool {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key_bytes = spki.subject_public_key.raw_bytes();
    let hash_oid = match *sig_alg {
        OID_ECDSA_SHA256 | OID_RSA_SHA256 => OID_SHA256,
        OID_ECDSA_SHA384 | OID_RSA_SHA384 => OID_SHA384,
        OID_RSA_SHA512 => OID_SHA512,
        _ => *digest_oid,
    };
    let Some(hash) = digest_with(&hash_oid, &[msg]) else {
        return false;
    };
    if spki.algorithm.oid == OID_EC_PUBLIC_KEY {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let Ok(vk) = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes) else {
            return false;
        };
        let Ok(s) = p256::ecdsa::Signature::from_der(sig) else {
            return false;
        };
        vk.verify_prehash(&hash, &s).is_ok()
    } else if spki.algorithm.oid == OID_RSA {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let Ok(pk) = rsa::RsaPublicKey::from_pkcs1_der(key_bytes) else {
            return false;
        };
        let scheme = match hash_oid {
            OID_SHA256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            OID_SHA384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            OID_SHA512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
            _ => return false,
        };
        pk.verify(scheme, &hash, sig).is_ok()
    } else {
        false
    }
}

/// `cert` names `issuer` as its issuer and carries a signature by its key.
fn cert_signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Some(sig) = cert.signature.as_bytes() else {
        return false;
    };
    verify_signature(
        issuer,
        &cert.signature_algorithm.oid,
        &OID_SHA256,
        &tbs,
        sig,
    )
}

/// The extension `oid` of `cert`: (critical, decoded value); Err when present but unreadable.
fn extension<T: for<'a> Decode<'a>>(
    cert: &Certificate,
    oid: ObjectIdentifier,
) -> Result<Option<(bool, T)>, ()> {
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    match exts.iter().find(|e| e.extn_id == oid) {
        None => Ok(None),
        Some(e) => T::from_der(e.extn_value.as_bytes())
            .map(|v| Some((e.critical, v)))
            .map_err(|_| ()),
    }
}

fn unknown_critical(cert: &Certificate) -> Option<ObjectIdentifier> {
    cert.tbs_certificate.extensions.as_ref().and_then(|exts| {
        exts.iter()
            .find(|e| e.critical && !UNDERSTOOD_CRITICAL.contains(&e.extn_id))
            .map(|e| e.extn_id)
    })
}

/// Checks what the leaf may be used for; a French reason when it may not.
fn check_leaf(cert: &Certificate, purpose: Purpose) -> Result<(), String> {
    let name = cert_cn(cert);
    match extension::<KeyUsage>(cert, OID_KEY_USAGE) {
        Err(()) => return Err(format!("usage de clé illisible dans « {name} »")),
        Ok(Some((_, ku))) if !(ku.digital_signature() || ku.non_repudiation()) => {
            return Err(format!(
                "le certificat « {name} » n'est pas destiné à la signature (usage de clé)"
            ));
        }
        _ => {}
    }
    let eku = extension::<ExtendedKeyUsage>(cert, OID_EXT_KEY_USAGE)
        .map_err(|()| format!("usage étendu de clé illisible dans « {name} »"))?;
    if purpose == Purpose::TimeStamping {
        match eku {
            Some((true, e)) if e.0.contains(&OID_KP_TIME_STAMPING) => {}
            _ => {
                return Err(format!(
                    "le certificat « {name} » n'est pas un certificat d'horodatage (usage étendu timeStamping critique absent)"
                ));
            }
        }
    }
    Ok(())
}

/// Checks that `cert` may issue certificates with `below` non-self-issued intermediates
/// under it; a French reason when it may not.
fn check_issuer(cert: &Certificate, below: usize) -> Result<(), String> {
    let name = cert_cn(cert);
    match extension::<BasicConstraints>(cert, OID_BASIC_CONSTRAINTS) {
        Ok(Some((_, bc))) if bc.ca => {
            if let Some(max) = bc.path_len_constraint
                && below > usize::from(max)
            {
                return Err(format!(
                    "la longueur de chaîne autorisée par « {name} » est dépassée"
                ));
            }
        }
        Err(()) => return Err(format!("contraintes de base illisibles dans « {name} »")),
        _ => {
            return Err(format!(
                "le certificat « {name} » n'est pas une autorité de certification (CA:FALSE) mais a émis un certificat"
            ));
        }
    }
    match extension::<KeyUsage>(cert, OID_KEY_USAGE) {
        Err(()) => Err(format!("usage de clé illisible dans « {name} »")),
        Ok(Some((_, ku))) if !ku.key_cert_sign() => Err(format!(
            "le certificat « {name} » n'a pas le droit de signer des certificats (keyCertSign)"
        )),
        _ => Ok(()),
    }
}

fn valid_at(cert: &Certificate, at: DateTime<Utc>) -> Result<(), String> {
    if not_before(cert) > at || not_after(cert) < at {
        return Err(format!(
            "le certificat « {} » n'était pas valide le {}",
            cert_cn(cert),
            at.format("%d/%m/%Y %H:%M UTC")
        ));
    }
    Ok(())
}

/// Finds a path from `leaf` through `pool` to one of `anchors`, every certificate valid at
/// `at`. Returns Ok with the path (leaf first, anchor last) or the most telling reason.
pub(crate) fn validate_path(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: DateTime<Utc>,
    purpose: Purpose,
) -> Result<Vec<Certificate>, String> {
    check_leaf(leaf, purpose)?;
    let mut best: Option<String> = None;
    let mut path = vec![leaf.clone()];
    if search(&mut path, pool, anchors, at, &mut best) {
        return Ok(path);
    }
    Err(best.unwrap_or_else(|| {
        match purpose {
            Purpose::Signer => {
                "le certificat du signataire n'est pas émis par une autorité de confiance"
            }
            Purpose::TimeStamping => {
                "le jeton d'horodatage n'est pas émis par une autorité d'horodatage de confiance"
            }
        }
        .to_string()
    }))
}

/// Depth-first search of issuers; `path` holds the certificates chosen so far.
fn search(
    path: &mut Vec<Certificate>,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: DateTime<Utc>,
    best: &mut Option<String>,
) -> bool {
    let Some(cur) = path.last().cloned() else {
        return false;
    };
    let fail = |reason: String, best: &mut Option<String>| {
        if best.is_none() {
            *best = Some(reason);
        }
    };
    if let Err(e) = valid_at(&cur, at) {
        fail(e, best);
        return false;
    }
    if let Some(oid) = unknown_critical(&cur) {
        fail(
            format!(
                "extension critique inconnue ({oid}) dans « {} »",
                cert_cn(&cur)
            ),
            best,
        );
        return false;
    }
    // Intermediates between the leaf and `cur` (excluded both), for path length.
    let below = path.len().saturating_sub(2);
    if path.len() > 1
        && let Err(e) = check_issuer(&cur, below)
    {
        fail(e, best);
        return false;
    }
    // The current certificate is itself an anchor.
    if anchors.iter().any(|a| a == &cur) {
        return true;
    }
    if path.len() > 8 {
        return false;
    }
    let candidates: Vec<Certificate> = anchors
        .iter()
        .chain(pool.iter())
        .filter(|c| !path.contains(c) && cert_signed_by(&cur, c))
        .cloned()
        .collect();
    for next in candidates {
        path.push(next);
        if search(path, pool, anchors, at, best) {
            return true;
        }
        path.pop();
    }
    false
}
