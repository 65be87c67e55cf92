//! Verification of the signatures of a PDF.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode, Reader, SliceReader};
use lopdf::{Document, Object, ObjectId};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;

use crate::cmsutil::*;
use crate::pdf::{all_fields, decode_text, deref, dict_get, find, load_pdf};
use crate::{SignError, tsp};

/// The result of [`verify_pdf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub signatures: Vec<SignatureReport>,
    /// Number of revisions (end-of-file markers) in the file.
    pub revisions: usize,
}

/// One signature of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub field_name: String,
    /// Common name of the signer's certificate.
    pub signer: String,
    pub signer_email: Option<String>,
    /// The /M entry.
    pub time: Option<DateTime<Utc>>,
    /// The verified time of a B-T signature time-stamp.
    pub timestamp: Option<DateTime<Utc>>,
    /// The digest over the ByteRange matches and the CMS signature verifies.
    pub intact: bool,
    /// The signer's certificate chains to one of the trusted roots.
    pub trusted: bool,
    /// The ByteRange covers the whole file as it was at that revision.
    pub covers_revision: bool,
    /// Changes made after this signature, in French; empty when none or only later signatures.
    pub changes_after: Vec<String>,
    /// French reasons when not intact or not trusted.
    pub problems: Vec<String>,
}

fn digest_with(oid: &ObjectIdentifier, parts: &[&[u8]]) -> Option<Vec<u8>> {
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
fn verify_signature(
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

fn certs_of(sd: &SignedData) -> Vec<Certificate> {
    let mut out = Vec::new();
    if let Some(set) = &sd.certificates {
        for c in set.0.iter() {
            if let cms::cert::CertificateChoices::Certificate(cert) = c {
                out.push(cert.clone());
            }
        }
    }
    out
}

fn find_signer<'a>(si: &SignerInfo, certs: &'a [Certificate]) -> Option<&'a Certificate> {
    match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => certs.iter().find(|c| {
            c.tbs_certificate.issuer == ias.issuer
                && c.tbs_certificate.serial_number == ias.serial_number
        }),
        SignerIdentifier::SubjectKeyIdentifier(ski) => certs.iter().find(|c| {
            c.tbs_certificate.extensions.as_ref().is_some_and(|exts| {
                exts.iter().any(|e| {
                    e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.14")
                        && OctetString::from_der(e.extn_value.as_bytes())
                            .is_ok_and(|o| o.as_bytes() == ski.0.as_bytes())
                })
            })
        }),
    }
}

/// Checks a SignerInfo: messageDigest equals `content_digest` (computed with the SignerInfo's
/// digest algorithm by `digest_of`) and the signature verifies. Returns the signer certificate.
fn check_signer_info(
    sd: &SignedData,
    digest_of: &dyn Fn(&ObjectIdentifier) -> Option<Vec<u8>>,
    problems: &mut Vec<String>,
) -> Option<(Certificate, Vec<u8>)> {
    let Some(si) = sd.signer_infos.0.iter().next() else {
        problems.push("aucun signataire dans la signature".into());
        return None;
    };
    let certs = certs_of(sd);
    let Some(cert) = find_signer(si, &certs).cloned() else {
        problems.push("certificat du signataire absent de la signature".into());
        return None;
    };
    let sig = si.signature.as_bytes().to_vec();
    let Some(attrs) = &si.signed_attrs else {
        problems.push("signature sans attributs signés".into());
        return Some((cert, sig));
    };
    let md = attrs
        .iter()
        .find(|a| a.oid == OID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.decode_as::<OctetString>().ok());
    let Some(expected) = digest_of(&si.digest_alg.oid) else {
        problems.push("algorithme d'empreinte non pris en charge".into());
        return Some((cert, sig));
    };
    match md {
        Some(md) if md.as_bytes() == expected.as_slice() => {}
        _ => {
            problems.push("l'empreinte du document ne correspond pas : document modifié".into());
            return Some((cert, sig));
        }
    }
    let Ok(attrs_der) = attrs.to_der() else {
        problems.push("attributs signés illisibles".into());
        return Some((cert, sig));
    };
    if !verify_signature(
        &cert,
        &si.signature_algorithm.oid,
        &si.digest_alg.oid,
        &attrs_der,
        &sig,
    ) {
        problems.push("la signature cryptographique est invalide".into());
    }
    Some((cert, sig))
}

/// Builds a chain from `leaf` to a trusted root; checks signatures and dates at `at`.
fn check_trust(
    leaf: &Certificate,
    pool: &[Certificate],
    roots: &[Certificate],
    at: DateTime<Utc>,
    problems: &mut Vec<String>,
) -> bool {
    let mut cur = leaf.clone();
    for _ in 0..10 {
        if not_before(&cur) > at || not_after(&cur) < at {
            problems.push(format!(
                "le certificat « {} » n'était pas valide à la date de signature",
                cert_cn(&cur)
            ));
            return false;
        }
        if roots.iter().any(|r| r == &cur) {
            return true;
        }
        if let Some(root) = roots.iter().find(|r| cert_signed_by(&cur, r)) {
            if not_before(root) > at || not_after(root) < at {
                problems
                    .push("le certificat racine n'était pas valide à la date de signature".into());
                return false;
            }
            return true;
        }
        match pool.iter().find(|c| *c != &cur && cert_signed_by(&cur, c)) {
            Some(next) => cur = next.clone(),
            None => break,
        }
    }
    problems
        .push("le certificat du signataire n'est pas émis par une autorité de confiance".into());
    false
}

fn parse_pdf_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() < 4 {
        return None;
    }
    let num = |a: usize, b: usize, def: u32| -> u32 {
        digits.get(a..b).and_then(|x| x.parse().ok()).unwrap_or(def)
    };
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let naive = chrono::NaiveDate::from_ymd_opt(year, num(4, 6, 1), num(6, 8, 1))?.and_hms_opt(
        num(8, 10, 0),
        num(10, 12, 0),
        num(12, 14, 0),
    )?;
    let rest = &s[digits.len()..];
    let mut offset_secs: i64 = 0;
    if let Some(sign) = rest.chars().next()
        && (sign == '+' || sign == '-')
    {
        let tz: String = rest[1..].chars().filter(|c| c.is_ascii_digit()).collect();
        let hh: i64 = tz.get(0..2).and_then(|x| x.parse().ok()).unwrap_or(0);
        let mm: i64 = tz.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
        offset_secs = (hh * 3600 + mm * 60) * if sign == '-' { -1 } else { 1 };
    }
    Some(naive.and_utc() - chrono::Duration::seconds(offset_secs))
}

/// For each `%%EOF` marker (end of a revision): the offset just after it and the offset after
/// the end-of-line that may follow it.
fn revision_ends(pdf: &[u8]) -> Vec<(usize, usize)> {
    let mut ends = Vec::new();
    let mut i = 0;
    while let Some(p) = find(&pdf[i..], b"%%EOF") {
        let start = i + p + 5;
        let mut end = start;
        while end < pdf.len() && matches!(pdf[end], b'\r' | b'\n' | b' ' | b'\t' | 0) {
            end += 1;
        }
        ends.push((start, end));
        i = start;
    }
    ends
}

struct RawSig {
    field_name: String,
    range: [usize; 4],
    contents: Vec<u8>,
    time: Option<DateTime<Utc>>,
}

fn read_sig(
    doc: &Document,
    name: String,
    field: &lopdf::Dictionary,
    len: usize,
) -> Result<RawSig, String> {
    let Some(Object::Dictionary(v)) = dict_get(doc, field, b"V") else {
        return Err("valeur de signature illisible".into());
    };
    let Some(Object::Array(br)) = dict_get(doc, v, b"ByteRange") else {
        return Err("ByteRange absent".into());
    };
    let nums: Vec<i64> = br
        .iter()
        .filter_map(|o| deref(doc, o).and_then(|o| o.as_i64().ok()))
        .collect();
    if nums.len() != 4 || nums.iter().any(|n| *n < 0) {
        return Err("ByteRange invalide".into());
    }
    let r: Vec<usize> = nums
        .iter()
        .map(|n| usize::try_from(*n).unwrap_or(usize::MAX))
        .collect();
    let (a, b, c, d) = (r[0], r[1], r[2], r[3]);
    let ok = a == 0
        && b <= c
        && c.checked_add(d).is_some_and(|e| e <= len)
        && a.checked_add(b).is_some_and(|e| e <= c);
    if !ok {
        return Err("ByteRange hors du fichier".into());
    }
    let contents = match dict_get(doc, v, b"Contents") {
        Some(Object::String(s, _)) => s.clone(),
        _ => return Err("signature sans /Contents".into()),
    };
    let time = match dict_get(doc, v, b"M") {
        Some(Object::String(s, _)) => parse_pdf_date(&decode_text(s)),
        _ => None,
    };
    Ok(RawSig {
        field_name: name,
        range: [a, b, c, d],
        contents,
        time,
    })
}

fn page_numbers(doc: &Document) -> BTreeMap<ObjectId, u32> {
    doc.get_pages().into_iter().map(|(n, id)| (id, n)).collect()
}

fn without(d: &lopdf::Dictionary, keys: &[&[u8]]) -> lopdf::Dictionary {
    let mut c = d.clone();
    for k in keys {
        c.remove(k);
    }
    c
}

fn is_sig_widget(doc: &Document, o: &Object) -> bool {
    match deref(doc, o) {
        Some(Object::Dictionary(d)) => {
            matches!(d.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig")
                || matches!(dict_get(doc, d, b"Parent"), Some(Object::Dictionary(p)) if matches!(p.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig"))
        }
        _ => false,
    }
}

/// Describes, in French, what changed between the revision `old` and the final document `new`
/// beyond the addition of signatures.
fn diff_revisions(old: &Document, new: &Document) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    let old_pages = page_numbers(old);
    let new_pages = page_numbers(new);
    if old_pages.len() != new_pages.len() {
        push("pages ajoutées ou supprimées après la signature".into());
    }
    let mut content_owner: BTreeMap<ObjectId, u32> = BTreeMap::new();
    for (id, n) in &old_pages {
        for c in old.get_page_contents(*id) {
            content_owner.insert(c, *n);
        }
    }
    let old_catalog = match old.trailer.get(b"Root") {
        Ok(Object::Reference(id)) => Some(*id),
        _ => None,
    };
    let form_id = old_catalog
        .and_then(|c| old.get_dictionary(c).ok())
        .and_then(|c| match c.get(b"AcroForm") {
            Ok(Object::Reference(id)) => Some(*id),
            _ => None,
        });
    let old_fields: BTreeMap<ObjectId, String> = all_fields(old)
        .into_iter()
        .filter_map(|(n, id, _)| id.map(|i| (i, n)))
        .collect();
    for (id, new_obj) in &new.objects {
        let Ok(old_obj) = old.get_object(*id) else {
            continue; // new objects matter only if something old refers to them
        };
        if old_obj == new_obj {
            continue;
        }
        if let Some(n) = old_pages.get(id) {
            match (old_obj, new_obj) {
                (Object::Dictionary(a), Object::Dictionary(b)) => {
                    if without(a, &[b"Annots"]) != without(b, &[b"Annots"]) {
                        push(format!("page {n} modifiée après la signature"));
                    } else {
                        let before: Vec<Object> = match dict_get(old, a, b"Annots") {
                            Some(Object::Array(x)) => x.clone(),
                            _ => Vec::new(),
                        };
                        let after: Vec<Object> = match dict_get(new, b, b"Annots") {
                            Some(Object::Array(x)) => x.clone(),
                            _ => Vec::new(),
                        };
                        let removed = before.iter().any(|o| !after.contains(o));
                        let foreign = after
                            .iter()
                            .filter(|o| !before.contains(o))
                            .any(|o| !is_sig_widget(new, o));
                        if removed || foreign {
                            push(format!(
                                "annotations de la page {n} modifiées après la signature"
                            ));
                        }
                    }
                }
                _ => push(format!("page {n} modifiée après la signature")),
            }
        } else if let Some(n) = content_owner.get(id) {
            push(format!("page {n} modifiée après la signature"));
        } else if Some(*id) == old_catalog {
            match (old_obj, new_obj) {
                (Object::Dictionary(a), Object::Dictionary(b))
                    if without(a, &[b"AcroForm", b"DSS", b"Perms"])
                        == without(b, &[b"AcroForm", b"DSS", b"Perms"]) =>
                {
                    if let (Ok(Object::Dictionary(fa)), Ok(Object::Dictionary(fb))) =
                        (a.get(b"AcroForm"), b.get(b"AcroForm"))
                        && without(fa, &[b"Fields", b"SigFlags"])
                            != without(fb, &[b"Fields", b"SigFlags"])
                    {
                        push("formulaire modifié après la signature".into());
                    }
                }
                _ => push("catalogue du document modifié après la signature".into()),
            }
        } else if Some(*id) == form_id {
            match (old_obj, new_obj) {
                (Object::Dictionary(a), Object::Dictionary(b))
                    if without(a, &[b"Fields", b"SigFlags"])
                        == without(b, &[b"Fields", b"SigFlags"]) => {}
                _ => push("formulaire modifié après la signature".into()),
            }
        } else if let Some(name) = old_fields.get(id) {
            push(format!("champ « {name} » modifié après la signature"));
        } else if matches!(old_obj, Object::Array(_)) && matches!(new_obj, Object::Array(_)) {
            // Annots or Fields arrays held as separate objects: only additions of signatures.
            if let (Object::Array(a), Object::Array(b)) = (old_obj, new_obj) {
                let ok = a.iter().all(|o| b.contains(o))
                    && b.iter()
                        .filter(|o| !a.contains(o))
                        .all(|o| is_sig_widget(new, o));
                if !ok {
                    push("contenu modifié après la signature".into());
                }
            }
        } else {
            push(format!("objet {} modifié après la signature", id.0));
        }
    }
    out
}

fn load_quiet(bytes: &[u8]) -> Option<Document> {
    std::panic::catch_unwind(|| Document::load_mem(bytes).ok())
        .ok()
        .flatten()
}

/// Verifies every signature of `pdf` against `trusted_roots_der`.
pub fn verify_pdf(pdf: &[u8], trusted_roots_der: &[Vec<u8>]) -> Result<VerifyReport, SignError> {
    let doc = load_pdf(pdf)?;
    let roots: Vec<Certificate> = trusted_roots_der
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let ends = revision_ends(pdf);
    let len = pdf.len();
    let fields = all_fields(&doc);
    let mut raws = Vec::new();
    let mut reports = Vec::new();
    for (name, _, field) in fields {
        if !matches!(field.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig") || !field.has(b"V") {
            continue;
        }
        match read_sig(&doc, name.clone(), &field, len) {
            Ok(raw) => raws.push(raw),
            Err(p) => reports.push(SignatureReport {
                field_name: name,
                signer: String::new(),
                signer_email: None,
                time: None,
                timestamp: None,
                intact: false,
                trusted: false,
                covers_revision: false,
                changes_after: Vec::new(),
                problems: vec![p],
            }),
        }
    }
    raws.sort_by_key(|r| r.range[2] + r.range[3]);
    for (idx, raw) in raws.iter().enumerate() {
        reports.push(check_one(pdf, &doc, raw, &raws[idx + 1..], &roots, &ends));
    }
    Ok(VerifyReport {
        signatures: reports,
        revisions: ends.len().max(1),
    })
}

fn check_one(
    pdf: &[u8],
    final_doc: &Document,
    raw: &RawSig,
    later: &[RawSig],
    roots: &[Certificate],
    ends: &[(usize, usize)],
) -> SignatureReport {
    let [a, b, c, d] = raw.range;
    let end = c + d;
    let mut problems = Vec::new();
    let mut report = SignatureReport {
        field_name: raw.field_name.clone(),
        signer: String::new(),
        signer_email: None,
        time: raw.time,
        timestamp: None,
        intact: false,
        trusted: false,
        covers_revision: ends.iter().any(|(s, e)| (*s..=*e).contains(&end)),
        changes_after: Vec::new(),
        problems: Vec::new(),
    };
    // The gap must be exactly the hex string of /Contents.
    let gap = &pdf[a + b..c];
    let gap_ok = gap.len() >= 2 && gap[0] == b'<' && gap[gap.len() - 1] == b'>';
    if !gap_ok {
        problems.push("le ByteRange n'exclut pas exactement la signature".into());
    }
    let signed_parts: [&[u8]; 2] = [&pdf[a..a + b], &pdf[c..end]];

    let parsed = SliceReader::new(&raw.contents).ok().and_then(|mut r| {
        ContentInfo::decode(&mut r)
            .ok()
            .map(|ci| (ci, r.position()))
    });
    let Some((ci, _)) = parsed else {
        problems.push("signature CMS illisible".into());
        report.problems = problems;
        return report;
    };
    let Ok(sd) = ci.content.decode_as::<SignedData>() else {
        problems.push("signature CMS illisible".into());
        report.problems = problems;
        return report;
    };
    let before = problems.len();
    let digest_of = |oid: &ObjectIdentifier| digest_with(oid, &signed_parts);
    let signer = check_signer_info(&sd, &digest_of, &mut problems);
    let intact_ok = problems.len() == before && gap_ok;
    let certs = certs_of(&sd);
    if let Some((cert, sig_value)) = &signer {
        report.signer = cert_cn(cert);
        report.signer_email = cert_email(cert);
        report.intact = intact_ok;
        // B-T time-stamp token.
        if let Some(si) = sd.signer_infos.0.iter().next()
            && let Some(attrs) = &si.unsigned_attrs
            && let Some(tok) = attrs
                .iter()
                .find(|x| x.oid == OID_SIG_TIMESTAMP)
                .and_then(|x| x.values.iter().next())
        {
            match check_token(tok, sig_value, roots) {
                Ok(t) => report.timestamp = Some(t),
                Err(p) => problems.push(p),
            }
        }
        let at = report.timestamp.or(report.time).unwrap_or_else(Utc::now);
        report.trusted = check_trust(cert, &certs, roots, at, &mut problems);
    }
    // Changes after this signature.
    if end < pdf.len() {
        let covered_by_later = later.iter().any(|l| l.range[2] + l.range[3] == pdf.len());
        if !covered_by_later {
            report
                .changes_after
                .push("contenu ajouté après la signature".into());
        }
        match load_quiet(&pdf[..end]) {
            Some(old) => {
                for c in diff_revisions(&old, final_doc) {
                    if !report.changes_after.contains(&c) {
                        report.changes_after.push(c);
                    }
                }
            }
            None => report
                .changes_after
                .push("révision signée illisible : modifications impossibles à analyser".into()),
        }
    }
    report.problems = problems;
    report
}

/// Checks a signature time-stamp token; returns its genTime.
fn check_token(
    tok: &der::Any,
    sig_value: &[u8],
    roots: &[Certificate],
) -> Result<DateTime<Utc>, String> {
    let ci: ContentInfo = tok
        .decode_as()
        .map_err(|_| "jeton d'horodatage illisible".to_string())?;
    let (sd, info, econtent) =
        tsp::tst_info(&ci).map_err(|e| format!("jeton d'horodatage illisible : {e}"))?;
    let imprint = digest_with(&info.message_imprint.hash_algorithm.oid, &[sig_value])
        .ok_or("algorithme du jeton d'horodatage non pris en charge")?;
    if info.message_imprint.hashed_message.as_bytes() != imprint.as_slice() {
        return Err("le jeton d'horodatage ne porte pas sur cette signature".into());
    }
    let mut problems = Vec::new();
    let digest_of = |oid: &ObjectIdentifier| digest_with(oid, &[&econtent]);
    let signer = check_signer_info(&sd, &digest_of, &mut problems);
    if !problems.is_empty() || signer.is_none() {
        return Err(format!(
            "jeton d'horodatage invalide : {}",
            problems.join(", ")
        ));
    }
    let _ = roots; // the TSA's trust is reported by pyHanko-style validators; not required here
    let secs =
        i64::try_from(info.gen_time.to_unix_duration().as_secs()).map_err(|e| e.to_string())?;
    DateTime::from_timestamp(secs, 0).ok_or_else(|| "date du jeton invalide".into())
}
