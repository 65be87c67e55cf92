//! Verification of the signatures of a PDF, judged as pyHanko judges them by default:
//! integrity of each signature (digest, CMS signature, a ByteRange that covers a whole
//! revision and excludes exactly the signature), trust (a certificate path to a signer
//! trust anchor, checked at the date of a trusted time-stamp or else at `now`), and what
//! the document became after each signature (see [`diff`]: only what ISO 32000-2 and
//! PAdES allow after it, given its DocMDP permissions).
mod chain;
mod diff;

use chrono::{DateTime, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use lopdf::{Document, Object};
use x509_cert::Certificate;

use self::chain::{Purpose, digest_with, validate_path, verify_signature};
use self::diff::Permission;
use crate::cmsutil::*;
use crate::pdf::{all_fields, decode_text, deref, dict_get, find, load_pdf};
use crate::{SignError, tsp};

/// The certificates trusted when verifying (DER): who may sign, who may time-stamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustAnchors {
    /// Roots (or any certificate) that signers' certificates must chain to.
    pub signers: Vec<Vec<u8>>,
    /// Roots that time-stamping authorities' certificates must chain to. A time-stamp
    /// whose TSA does not chain to one of these (with the critical timeStamping extended
    /// key usage) proves no date: the signature is then judged at `now`.
    pub time_stamping: Vec<Vec<u8>>,
}

/// What kind of signature a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// An ordinary (approval) signature: later form filling and signing are allowed.
    Approval,
    /// A certification signature (DocMDP) with its permission level P: 1 no change,
    /// 2 form filling and signing, 3 also annotations.
    Certification { permission: u8 },
    /// A document time-stamp (PAdES B-LTA, ETSI.RFC3161).
    DocumentTimeStamp,
}

/// The result of [`verify_pdf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub signatures: Vec<SignatureReport>,
    /// Number of revisions (end-of-file markers) in the file.
    pub revisions: usize,
    /// The time the certificates were judged at when no trusted time-stamp proves a date.
    pub now: DateTime<Utc>,
}

impl VerifyReport {
    /// Every signature is valid (intact, trusted, nothing forbidden after it), and there
    /// is at least one.
    pub fn valid(&self) -> bool {
        !self.signatures.is_empty() && self.signatures.iter().all(SignatureReport::valid)
    }
}

/// One signature of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub field_name: String,
    pub kind: SignatureKind,
    /// Common name of the signer's certificate (of the TSA for a document time-stamp);
    /// "signataire illisible" when it cannot be read.
    pub signer: String,
    pub signer_email: Option<String>,
    /// The /M entry: the time the signer's computer claimed. Proves nothing.
    pub time: Option<DateTime<Utc>>,
    /// The time of the signature's time-stamp token (or of the document time-stamp),
    /// whether its TSA is trusted or not: see `timestamp_trusted`.
    pub timestamp: Option<DateTime<Utc>>,
    /// The time-stamp is intact and its TSA chains to a time-stamping trust anchor:
    /// the signature existed at `timestamp`.
    pub timestamp_trusted: bool,
    /// When the certificates were judged: the trusted time-stamp's date, else `now`.
    pub judged_at: DateTime<Utc>,
    /// The digest over the ByteRange matches, the CMS signature verifies, the ByteRange
    /// excludes exactly this signature's /Contents.
    pub intact: bool,
    /// The signer's certificate chains to a signer trust anchor, every certificate valid
    /// and allowed to do what it did at `judged_at`.
    pub trusted: bool,
    /// The ByteRange covers the whole file as it was at that revision.
    pub covers_revision: bool,
    /// Changes made after this signature that it does not allow, in French. Empty when
    /// there are none.
    pub changes_after: Vec<String>,
    /// Changes made after this signature that it allows (later signatures, form filling
    /// under its permissions, validation data...), in French, for the record.
    pub allowed_changes: Vec<String>,
    /// French reasons why it is not intact (integrity).
    pub problems: Vec<String>,
    /// French reasons why it is not trusted.
    pub trust_problems: Vec<String>,
    /// French remarks that do not invalidate it (e.g. an unrecognised time-stamp).
    pub warnings: Vec<String>,
}

impl SignatureReport {
    /// Intact, covering its revision, trusted, and nothing forbidden changed after it.
    pub fn valid(&self) -> bool {
        self.intact
            && self.covers_revision
            && self.trusted
            && self.changes_after.is_empty()
            && self.problems.is_empty()
            && self.trust_problems.is_empty()
    }

    /// The signature's date is proven by a trusted time-stamp.
    pub fn date_proven(&self) -> bool {
        self.timestamp_trusted && self.timestamp.is_some()
    }

    /// A short French verdict: "valide", "modifiée après la signature", "non valide" or
    /// "certificat non reconnu".
    pub fn verdict(&self) -> &'static str {
        if !self.intact || !self.covers_revision || !self.problems.is_empty() {
            "non valide"
        } else if !self.changes_after.is_empty() {
            "document modifié après la signature"
        } else if !self.trusted || !self.trust_problems.is_empty() {
            "certificat non reconnu"
        } else {
            "valide"
        }
    }
}

/// Name shown when no signer can be read from the signature.
pub const UNREADABLE_SIGNER: &str = "signataire illisible";

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

/// A signature field's value as read from the final document.
struct RawSig {
    field_name: String,
    range: [usize; 4],
    contents: Vec<u8>,
    time: Option<DateTime<Utc>>,
    doc_timestamp: bool,
    /// DocMDP P when this is a certification signature.
    docmdp: Option<u8>,
    /// The fields this signature locks (FieldMDP).
    lock: Option<FieldLock>,
}

/// A FieldMDP lock: which form fields a signature forbids to change after it.
#[derive(Debug, Clone)]
struct FieldLock {
    /// /All, /Include or /Exclude.
    action: Vec<u8>,
    fields: Vec<String>,
}

impl FieldLock {
    fn read(doc: &Document, d: &lopdf::Dictionary) -> Option<FieldLock> {
        let action = match dict_get(doc, d, b"Action") {
            Some(Object::Name(n)) => n.clone(),
            _ => return None,
        };
        let fields = match dict_get(doc, d, b"Fields") {
            Some(Object::Array(a)) => a
                .iter()
                .filter_map(|o| match deref(doc, o) {
                    Some(Object::String(s, _)) => Some(decode_text(s)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(FieldLock { action, fields })
    }

    fn locks(&self, name: &str) -> bool {
        let listed = self
            .fields
            .iter()
            .any(|f| name == f || name.starts_with(&format!("{f}.")));
        match self.action.as_slice() {
            b"All" => true,
            b"Include" => listed,
            b"Exclude" => !listed,
            _ => true,
        }
    }
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
        && b < c
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
    let name_is = |d: &lopdf::Dictionary, k: &[u8], val: &[u8]| matches!(dict_get(doc, d, k), Some(Object::Name(n)) if n == val);
    let doc_timestamp =
        name_is(v, b"Type", b"DocTimeStamp") || name_is(v, b"SubFilter", b"ETSI.RFC3161");
    let mut docmdp = None;
    let mut lock = match dict_get(doc, field, b"Lock") {
        Some(Object::Dictionary(l)) => FieldLock::read(doc, l),
        _ => None,
    };
    if let Some(Object::Array(refs)) = dict_get(doc, v, b"Reference") {
        for r in refs {
            if let Some(Object::Dictionary(rd)) = deref(doc, r)
                && name_is(rd, b"TransformMethod", b"FieldMDP")
                && let Some(Object::Dictionary(tp)) = dict_get(doc, rd, b"TransformParams")
            {
                lock = FieldLock::read(doc, tp).or(lock);
            }
            if let Some(Object::Dictionary(rd)) = deref(doc, r)
                && name_is(rd, b"TransformMethod", b"DocMDP")
            {
                let p = match dict_get(doc, rd, b"TransformParams") {
                    Some(Object::Dictionary(tp)) => match dict_get(doc, tp, b"P") {
                        Some(Object::Integer(p)) => *p,
                        _ => 2,
                    },
                    _ => 2,
                };
                docmdp = Some(u8::try_from(p.clamp(1, 3)).unwrap_or(1));
            }
        }
    }
    Ok(RawSig {
        field_name: name,
        range: [a, b, c, d],
        contents,
        time,
        doc_timestamp,
        docmdp,
        lock,
    })
}

fn load_quiet(bytes: &[u8]) -> Option<Document> {
    std::panic::catch_unwind(|| Document::load_mem(bytes).ok())
        .ok()
        .flatten()
}

fn parse_certs(ders: &[Vec<u8>]) -> Vec<Certificate> {
    ders.iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect()
}

/// An RFC 3161 time-stamp token over some bytes, checked by [`verify_time_stamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStampCheck {
    /// The token's genTime.
    pub time: DateTime<Utc>,
    /// Why its authority is not trusted, in French (`None`: it chains to a time-stamping
    /// anchor, with the timeStamping extended key usage, at the token's time).
    pub untrusted: Option<String>,
}

/// Checks an RFC 3161 token (DER ContentInfo) over `data` (the bytes whose digest was
/// time-stamped): its imprint, its signature, and its authority against `time_stamping`,
/// as for a signature's time-stamp. Refused (with the reason in French) when the token is
/// unreadable, over other bytes, or its signature does not verify.
pub fn verify_time_stamp(
    token: &[u8],
    data: &[u8],
    time_stamping: &[Vec<u8>],
    now: DateTime<Utc>,
) -> Result<TimeStampCheck, String> {
    let ci = ContentInfo::from_der(token).map_err(|_| "jeton d'horodatage illisible".to_owned())?;
    let empty = Document::new();
    let ctx = Ctx {
        pdf: &[],
        final_doc: &empty,
        signer_roots: Vec::new(),
        tsa_roots: parse_certs(time_stamping),
        ends: Vec::new(),
        now,
    };
    let checked = ctx.check_token(&ci, &[data])?;
    Ok(TimeStampCheck {
        time: checked.time,
        untrusted: checked.untrusted,
    })
}

/// Verifies every signature of `pdf`: signers' certificates against `anchors.signers`,
/// time-stamps against `anchors.time_stamping`; certificates are judged at the date of a
/// trusted time-stamp, else at `now` (the time of verification).
pub fn verify_pdf(
    pdf: &[u8],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<VerifyReport, SignError> {
    let doc = load_pdf(pdf)?;
    let ctx = Ctx {
        pdf,
        final_doc: &doc,
        signer_roots: parse_certs(&anchors.signers),
        tsa_roots: parse_certs(&anchors.time_stamping),
        ends: revision_ends(pdf),
        now,
    };
    let mut raws = Vec::new();
    let mut reports = Vec::new();
    for (name, _, field) in all_fields(&doc) {
        if !matches!(field.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig") || !field.has(b"V") {
            continue;
        }
        match read_sig(&doc, name.clone(), &field, pdf.len()) {
            Ok(raw) => raws.push(raw),
            Err(p) => reports.push(SignatureReport {
                field_name: name,
                kind: SignatureKind::Approval,
                signer: UNREADABLE_SIGNER.into(),
                signer_email: None,
                time: None,
                timestamp: None,
                timestamp_trusted: false,
                judged_at: now,
                intact: false,
                trusted: false,
                covers_revision: false,
                changes_after: Vec::new(),
                allowed_changes: Vec::new(),
                problems: vec![p],
                trust_problems: Vec::new(),
                warnings: Vec::new(),
            }),
        }
    }
    raws.sort_by_key(|r| r.range[2] + r.range[3]);
    for raw in &raws {
        // The most restrictive certification at or before this signature applies.
        let end = raw.range[2] + raw.range[3];
        let perm = raws
            .iter()
            .filter(|r| r.range[2] + r.range[3] <= end)
            .filter_map(|r| r.docmdp)
            .min()
            .map_or(
                Permission {
                    level: 2,
                    certified: false,
                },
                |p| Permission {
                    level: p,
                    certified: true,
                },
            );
        reports.push(ctx.check_one(raw, perm));
    }
    Ok(VerifyReport {
        signatures: reports,
        revisions: ctx.ends.len().max(1),
        now,
    })
}

struct Ctx<'a> {
    pdf: &'a [u8],
    final_doc: &'a Document,
    signer_roots: Vec<Certificate>,
    tsa_roots: Vec<Certificate>,
    ends: Vec<(usize, usize)>,
    now: DateTime<Utc>,
}

/// A checked time-stamp token.
struct Token {
    time: DateTime<Utc>,
    tsa: Option<Certificate>,
    /// Why the TSA is not trusted (None: trusted).
    untrusted: Option<String>,
}

impl Ctx<'_> {
    fn check_one(&self, raw: &RawSig, perm: Permission) -> SignatureReport {
        let pdf = self.pdf;
        let [a, b, c, d] = raw.range;
        let end = c + d;
        let mut r = SignatureReport {
            field_name: raw.field_name.clone(),
            kind: if raw.doc_timestamp {
                SignatureKind::DocumentTimeStamp
            } else if let Some(p) = raw.docmdp {
                SignatureKind::Certification { permission: p }
            } else {
                SignatureKind::Approval
            },
            signer: UNREADABLE_SIGNER.into(),
            signer_email: None,
            time: raw.time,
            timestamp: None,
            timestamp_trusted: false,
            judged_at: self.now,
            intact: false,
            trusted: false,
            covers_revision: self.ends.iter().any(|(s, e)| (*s..=*e).contains(&end)),
            changes_after: Vec::new(),
            allowed_changes: Vec::new(),
            problems: Vec::new(),
            trust_problems: Vec::new(),
            warnings: Vec::new(),
        };
        if !r.covers_revision {
            r.problems
                .push("la signature ne couvre pas une révision complète du document".into());
        }
        // The gap must be exactly the hex string of this signature's /Contents.
        let gap = &pdf[a + b..c];
        let gap_ok = gap.len() >= 2
            && gap[0] == b'<'
            && gap[gap.len() - 1] == b'>'
            && gap[1..gap.len() - 1]
                .iter()
                .all(|x| x.is_ascii_hexdigit() || x.is_ascii_whitespace())
            && hex_decode(&gap[1..gap.len() - 1]).is_some_and(|g| g == raw.contents);
        if !gap_ok {
            r.problems
                .push("le ByteRange n'exclut pas exactement la valeur de la signature".into());
        }
        // The signed revision must hold this very signature (against signature wrapping).
        let signed_rev = load_quiet(&pdf[..end]);
        match &signed_rev {
            Some(old) if holds_signature(old, raw) => {}
            Some(_) => r
                .problems
                .push("la révision signée ne contient pas cette signature".into()),
            None => r.problems.push("révision signée illisible".into()),
        }
        let signed_parts: [&[u8]; 2] = [&pdf[a..a + b], &pdf[c..end]];
        let ci = ContentInfo::from_der(trim_der(&raw.contents)).ok();
        let Some(ci) = ci else {
            r.problems.push("signature CMS illisible".into());
            return self.finish(r, signed_rev, perm, end, raw.lock.as_ref());
        };
        if raw.doc_timestamp {
            self.check_doc_timestamp(&mut r, &ci, &signed_parts);
        } else {
            self.check_cms(&mut r, &ci, &signed_parts);
        }
        self.finish(r, signed_rev, perm, end, raw.lock.as_ref())
    }

    fn check_cms(&self, r: &mut SignatureReport, ci: &ContentInfo, signed_parts: &[&[u8]; 2]) {
        let Ok(sd) = ci.content.decode_as::<SignedData>() else {
            r.problems.push("signature CMS illisible".into());
            return;
        };
        let digest_of = |oid: &ObjectIdentifier| digest_with(oid, signed_parts);
        let signer = check_signer_info(&sd, &digest_of, &mut r.problems);
        let certs = certs_of(&sd);
        let Some((cert, sig_value)) = signer else {
            return;
        };
        r.signer = readable_name(&cert);
        r.signer_email = cert_email(&cert);
        r.intact = r.problems.is_empty();
        // B-T: the signature time-stamp token.
        if let Some(si) = sd.signer_infos.0.iter().next()
            && let Some(attrs) = &si.unsigned_attrs
            && let Some(tok) = attrs
                .iter()
                .find(|x| x.oid == OID_SIG_TIMESTAMP)
                .and_then(|x| x.values.iter().next())
        {
            match tok
                .decode_as::<ContentInfo>()
                .map_err(|_| "jeton d'horodatage illisible".to_string())
                .and_then(|t| self.check_token(&t, &[&sig_value]))
            {
                Ok(t) => {
                    r.timestamp = Some(t.time);
                    match t.untrusted {
                        None => {
                            r.timestamp_trusted = true;
                            r.judged_at = t.time;
                        }
                        Some(why) => r.warnings.push(format!(
                            "horodatage non reconnu ({why}) : la date n'est pas prouvée, certificat jugé à la date de vérification"
                        )),
                    }
                }
                Err(p) => {
                    r.intact = false;
                    r.problems.push(p);
                }
            }
        }
        match validate_path(
            &cert,
            &certs,
            &self.signer_roots,
            r.judged_at,
            Purpose::Signer,
        ) {
            Ok(_) => r.trusted = true,
            Err(e) => r.trust_problems.push(e),
        }
    }

    fn check_doc_timestamp(
        &self,
        r: &mut SignatureReport,
        ci: &ContentInfo,
        signed_parts: &[&[u8]; 2],
    ) {
        match self.check_token(ci, signed_parts) {
            Ok(t) => {
                r.intact = r.problems.is_empty();
                r.timestamp = Some(t.time);
                r.judged_at = t.time;
                if let Some(tsa) = &t.tsa {
                    r.signer = readable_name(tsa);
                }
                match t.untrusted {
                    None => {
                        r.timestamp_trusted = true;
                        r.trusted = true;
                    }
                    Some(why) => r.trust_problems.push(why),
                }
            }
            Err(p) => r.problems.push(p),
        }
    }

    /// Checks a time-stamp token over `data`: its imprint, its signature, and whether its
    /// TSA is trusted at the token's time.
    fn check_token(&self, ci: &ContentInfo, data: &[&[u8]]) -> Result<Token, String> {
        let (sd, info, econtent) =
            tsp::tst_info(ci).map_err(|e| format!("jeton d'horodatage illisible : {e}"))?;
        let imprint = digest_with(&info.message_imprint.hash_algorithm.oid, data)
            .ok_or("algorithme du jeton d'horodatage non pris en charge")?;
        if info.message_imprint.hashed_message.as_bytes() != imprint.as_slice() {
            return Err("le jeton d'horodatage ne porte pas sur cette signature".into());
        }
        let mut problems = Vec::new();
        let digest_of = |oid: &ObjectIdentifier| digest_with(oid, &[&econtent]);
        let signer = check_signer_info(&sd, &digest_of, &mut problems);
        let Some((tsa, _)) = signer.filter(|_| problems.is_empty()) else {
            return Err(format!(
                "jeton d'horodatage invalide : {}",
                problems.join(", ")
            ));
        };
        let secs =
            i64::try_from(info.gen_time.to_unix_duration().as_secs()).map_err(|e| e.to_string())?;
        let time = DateTime::from_timestamp(secs, 0).ok_or("date du jeton invalide")?;
        let untrusted = if time > self.now + chrono::Duration::minutes(5) {
            Some("date du jeton dans le futur".to_string())
        } else {
            validate_path(
                &tsa,
                &certs_of(&sd),
                &self.tsa_roots,
                time,
                Purpose::TimeStamping,
            )
            .err()
        };
        Ok(Token {
            time,
            tsa: Some(tsa),
            untrusted,
        })
    }

    /// Compares the signed revision with the final document.
    fn finish(
        &self,
        mut r: SignatureReport,
        signed_rev: Option<Document>,
        perm: Permission,
        end: usize,
        lock: Option<&FieldLock>,
    ) -> SignatureReport {
        // Bytes after the last end-of-file marker are no revision anyone signed.
        if let Some((_, last)) = self.ends.last()
            && *last < self.pdf.len()
        {
            r.changes_after
                .push("données ajoutées à la fin du fichier après la signature".into());
        }
        if !r.covers_revision || end >= self.pdf.len() {
            return r;
        }
        let Some(old) = signed_rev else {
            r.changes_after
                .push("révision signée illisible : modifications impossibles à analyser".into());
            return r;
        };
        for c in diff::changes(&old, self.final_doc) {
            let locked = !c.valid_when_locked
                && c.field
                    .as_deref()
                    .is_some_and(|f| lock.is_some_and(|l| l.locks(f)));
            if locked {
                r.changes_after.push(format!(
                    "{} alors que cette signature verrouille ce champ",
                    c.text
                ));
            } else if perm.allows(&c) {
                r.allowed_changes.push(c.text);
            } else if c.new_visible_signature_field && c.level == diff::Level::FormFill {
                r.changes_after.push(format!(
                    "{} après une certification qui ne l'autorise pas",
                    c.text
                ));
            } else {
                r.changes_after
                    .push(format!("{} après la signature", c.text));
            }
        }
        r
    }
}

/// Decodes hexadecimal digits (whitespace ignored; an odd last digit counts as `d0`).
fn hex_decode(hex: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        })
        .collect::<Option<_>>()?;
    Some(
        digits
            .chunks(2)
            .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0))
            .collect(),
    )
}

/// The DER value at the start of `bytes` without the zero padding that follows it.
fn trim_der(bytes: &[u8]) -> &[u8] {
    let len = match bytes.get(1) {
        Some(&n) if n & 0x80 == 0 => Some(2 + usize::from(n)),
        Some(&n) => {
            let k = usize::from(n & 0x7f);
            bytes
                .get(2..2 + k)
                .filter(|_| k <= 4)
                .map(|l| 2 + k + l.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
        }
        None => None,
    };
    match len {
        Some(l) if l <= bytes.len() => &bytes[..l],
        _ => bytes,
    }
}

/// The signed revision `old` has this signature field, with a value of this ByteRange and
/// these /Contents (a signature value copied into another field, or a signature dictionary
/// redefined after signing, does not sign the revision it claims to).
fn holds_signature(old: &Document, raw: &RawSig) -> bool {
    all_fields(old).iter().any(|(name, _, f)| {
        if *name != raw.field_name {
            return false;
        }
        let Some(Object::Dictionary(v)) = dict_get(old, f, b"V") else {
            return false;
        };
        let range: Vec<i64> = match dict_get(old, v, b"ByteRange") {
            Some(Object::Array(a)) => a
                .iter()
                .filter_map(|o| deref(old, o).and_then(|o| o.as_i64().ok()))
                .collect(),
            _ => return false,
        };
        let same_range = range.len() == 4
            && range
                .iter()
                .zip(raw.range)
                .all(|(x, y)| usize::try_from(*x).is_ok_and(|x| x == y));
        same_range
            && matches!(dict_get(old, v, b"Contents"), Some(Object::String(s, _)) if *s == raw.contents)
    })
}

fn readable_name(cert: &Certificate) -> String {
    let n = cert_cn(cert);
    if n.trim().is_empty() {
        UNREADABLE_SIGNER.into()
    } else {
        n
    }
}
