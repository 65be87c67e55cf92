//! PAdES B-B / B-T signing as an incremental update.
use chrono::{DateTime, Utc};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, StringFormat};
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::Signer;
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use crate::cmsutil::*;
use crate::pdf::{
    all_fields, deref, dict_get, find, is_sig_field, load_pdf, pdf_date, pdf_err, text_string,
};
use crate::stamp;
use crate::{SignError, SignerKey, TimeStamper};

/// The visible appearance of a signature.
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    /// Text lines, French accents allowed (written in WinAnsiEncoding).
    pub lines: Vec<String>,
    /// PNG or JPEG of a handwritten signature, drawn left of the text.
    pub image: Option<Vec<u8>>,
    /// 1-based page; `None` = last page.
    pub page: Option<usize>,
    /// User-space rectangle `[x1, y1, x2, y2]`; `None` = a free slot at the bottom right.
    pub rect: Option<[f32; 4]>,
}

/// How to sign.
pub struct SignOptions {
    /// Unique field name; default "Signature{n}".
    pub field_name: Option<String>,
    pub reason: Option<String>,
    pub location: Option<String>,
    pub signer_name: Option<String>,
    /// Written to /M (there is no signingTime attribute in the CMS).
    pub time: DateTime<Utc>,
    /// `None` = invisible signature.
    pub stamp: Option<Stamp>,
    /// `Some` = PAdES B-T (signature time-stamp token).
    pub timestamper: Option<Box<dyn TimeStamper>>,
}

impl SignOptions {
    /// Options with only the time set: invisible B-B signature, default field name.
    pub fn at(time: DateTime<Utc>) -> Self {
        Self {
            field_name: None,
            reason: None,
            location: None,
            signer_name: None,
            time,
            stamp: None,
            timestamper: None,
        }
    }
}

impl std::fmt::Debug for SignOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignOptions")
            .field("field_name", &self.field_name)
            .field("time", &self.time)
            .field("stamp", &self.stamp)
            .field("timestamper", &self.timestamper.is_some())
            .finish_non_exhaustive()
    }
}

/// ESS IssuerSerial (RFC 5035).
#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// ESS ESSCertIDv2 with the default hash algorithm (SHA-256) left out.
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn cms_err(e: impl std::fmt::Display) -> SignError {
    SignError::Cms(e.to_string())
}

fn attribute(oid: der::asn1::ObjectIdentifier, value: Any) -> Result<Attribute, SignError> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(cms_err)?;
    Ok(Attribute { oid, values })
}

fn alg(oid: der::asn1::ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

/// CMS SignedData (detached) over a SHA-256 digest, DER encoded.
pub(crate) fn build_cms(
    key: &SignerKey,
    digest: &[u8; 32],
    timestamper: Option<&dyn TimeStamper>,
) -> Result<Vec<u8>, SignError> {
    let chain = key.chain();
    let leaf = chain.first().ok_or(crate::KeyError::EmptyChain)?;
    let leaf_der = leaf.to_der().map_err(cms_err)?;
    let cert_hash: [u8; 32] = Sha256::digest(&leaf_der).into();

    let signing_cert = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(cert_hash.to_vec()).map_err(cms_err)?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    leaf.tbs_certificate.issuer.clone(),
                )],
                serial_number: leaf.tbs_certificate.serial_number.clone(),
            },
        }],
    };
    let mut signed_attrs = SetOfVec::new();
    signed_attrs
        .insert(attribute(
            OID_CONTENT_TYPE,
            Any::encode_from(&OID_DATA).map_err(cms_err)?,
        )?)
        .map_err(cms_err)?;
    signed_attrs
        .insert(attribute(
            OID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(cms_err)?)
                .map_err(cms_err)?,
        )?)
        .map_err(cms_err)?;
    signed_attrs
        .insert(attribute(
            OID_SIGNING_CERT_V2,
            Any::encode_from(&signing_cert).map_err(cms_err)?,
        )?)
        .map_err(cms_err)?;
    let to_sign = signed_attrs.to_der().map_err(cms_err)?;
    let signature: DerSignature = key.signing_key().try_sign(&to_sign).map_err(cms_err)?;
    let sig_bytes = signature.as_bytes().to_vec();

    let unsigned_attrs = match timestamper {
        None => None,
        Some(tsa) => {
            let imprint: [u8; 32] = Sha256::digest(&sig_bytes).into();
            let token = tsa.timestamp(&imprint)?;
            let token_any = Any::from_der(&token)
                .map_err(|e| SignError::Timestamp(format!("jeton illisible : {e}")))?;
            let mut set = SetOfVec::new();
            set.insert(attribute(OID_SIG_TIMESTAMP, token_any)?)
                .map_err(cms_err)?;
            Some(set)
        }
    };

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate.issuer.clone(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: alg(OID_SHA256),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: alg(OID_ECDSA_SHA256),
        signature: OctetString::new(sig_bytes).map_err(cms_err)?,
        unsigned_attrs,
    };
    let mut certs = SetOfVec::new();
    for c in chain {
        certs
            .insert(CertificateChoices::Certificate(c.clone()))
            .map_err(cms_err)?;
    }
    let mut digest_algs = SetOfVec::new();
    digest_algs.insert(alg(OID_SHA256)).map_err(cms_err)?;
    let mut infos = SetOfVec::new();
    infos.insert(signer_info).map_err(cms_err)?;
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: digest_algs,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: OID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certs)),
        crls: None,
        signer_infos: SignerInfos(infos),
    };
    let ci = ContentInfo {
        content_type: OID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(cms_err)?,
    };
    ci.to_der().map_err(cms_err)
}

/// Signs `pdf` with `key`, appending one incremental update that holds the signature.
///
/// A file whose cross-reference section cannot be found (damaged, or written by a careless
/// tool) is rewritten whole first, when it carries no signature that the rewrite would
/// break: an update appended to it would chain to nothing, and no reader would find the
/// new signature.
pub fn sign_pdf(pdf: &[u8], key: &SignerKey, options: &SignOptions) -> Result<Vec<u8>, SignError> {
    key.check_usable_at(options.time)?;
    if crate::pdf::has_sound_xref(pdf) {
        let (signed, field) = sign_document(pdf, load_pdf(pdf)?, key, options)?;
        if reads_back(&signed, &field, options) {
            return Ok(signed);
        }
    }
    // Damaged cross-references: what lopdf read is not what a reader following the file's
    // revisions would read, so the file is rewritten whole (from what lopdf read) first.
    let mut doc = load_pdf(pdf)?;
    if all_fields(&doc)
        .iter()
        .any(|(_, _, d)| is_sig_field(d) && d.get(b"V").is_ok())
    {
        return Err(SignError::Unreadable(
            "la table des références de ce PDF est endommagée, et il porte déjà des signatures \
             qu'une réparation romprait : demandez-en un exemplaire sain à son auteur"
                .into(),
        ));
    }
    repair_structure(&mut doc);
    let mut rewritten = Vec::new();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.save_to(&mut rewritten)))
        .map_err(|_| SignError::Unreadable("structure invalide".into()))?
        .map_err(pdf_err)?;
    let (signed, field) = sign_document(&rewritten, load_pdf(&rewritten)?, key, options)?;
    if !reads_back(&signed, &field, options) {
        return Err(SignError::Unreadable(
            "structure de PDF non prise en charge : la signature n'y serait pas lisible".into(),
        ));
    }
    Ok(signed)
}

/// Whether a reader of `signed` finds the signature just made in `field`, intact and
/// covering the whole file: what we hand out as signed must verify.
fn reads_back(signed: &[u8], field: &str, options: &SignOptions) -> bool {
    crate::verify::verify_pdf(signed, &crate::TrustAnchors::default(), options.time).is_ok_and(
        |report| {
            report
                .signatures
                .iter()
                .any(|s| s.field_name == field && s.intact && s.covers_revision)
        },
    )
}

/// What a file rewritten whole needs for strict readers: a version in its header, and a
/// page tree whose nodes say their type and count (lopdf found the pages without them).
fn repair_structure(doc: &mut Document) {
    let valid_version = doc.version.len() == 3
        && doc.version.as_bytes()[1] == b'.'
        && doc.version.bytes().all(|b| b == b'.' || b.is_ascii_digit());
    if !valid_version {
        doc.version = "1.7".into();
    }
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    for id in &pages {
        if let Ok(page) = doc.get_dictionary_mut(*id)
            && page.get(b"Type").is_err()
        {
            page.set("Type", Object::Name(b"Page".to_vec()));
        }
    }
    let root = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Pages").ok())
        .and_then(|p| p.as_reference().ok());
    if let Some(root) = root
        && let Ok(node) = doc.get_dictionary_mut(root)
    {
        if node.get(b"Type").is_err() {
            node.set("Type", Object::Name(b"Pages".to_vec()));
        }
        if node.get(b"Count").is_err() {
            node.set("Count", Object::Integer(pages.len() as i64));
        }
    }
}

fn sign_document(
    pdf: &[u8],
    doc: Document,
    key: &SignerKey,
    options: &SignOptions,
) -> Result<(Vec<u8>, String), SignError> {
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(SignError::Unreadable("le document n'a aucune page".into()));
    }
    let page_no = options
        .stamp
        .as_ref()
        .and_then(|s| s.page)
        .unwrap_or(pages.len());
    let page_id = *u32::try_from(page_no)
        .ok()
        .and_then(|n| pages.get(&n))
        .ok_or(SignError::NoSuchPage(page_no))?;

    let fields = all_fields(&doc);
    let field_name = match &options.field_name {
        Some(n) => {
            if fields.iter().any(|(f, _, _)| f == n) {
                return Err(SignError::FieldExists(n.clone()));
            }
            n.clone()
        }
        None => {
            let mut n = fields.iter().filter(|(_, _, d)| is_sig_field(d)).count() + 1;
            loop {
                let candidate = format!("Signature{n}");
                if !fields.iter().any(|(f, _, _)| *f == candidate) {
                    break candidate;
                }
                n += 1;
            }
        }
    };

    let reserve = if options.timestamper.is_some() {
        32 * 1024
    } else {
        16 * 1024
    };
    let catalog_id = match doc.trailer.get(b"Root") {
        Ok(Object::Reference(id)) => *id,
        _ => return Err(SignError::Unreadable("catalogue introuvable".into())),
    };

    // Existing signature rectangles on the target page, to place a new stamp elsewhere.
    let page_dict = doc.get_dictionary(page_id).map_err(pdf_err)?.clone();
    let existing_annots: Vec<Object> = match dict_get(&doc, &page_dict, b"Annots") {
        Some(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut taken: Vec<[f32; 4]> = Vec::new();
    for a in &existing_annots {
        if let Some(Object::Dictionary(ad)) = deref(&doc, a)
            && let Some(Object::Array(r)) = dict_get(&doc, ad, b"Rect")
        {
            let v: Vec<f32> = r.iter().filter_map(|o| o.as_float().ok()).collect();
            if v.len() == 4 && (v[2] - v[0]).abs() > 0.5 && (v[3] - v[1]).abs() > 0.5 {
                taken.push([
                    v[0].min(v[2]),
                    v[1].min(v[3]),
                    v[0].max(v[2]),
                    v[1].max(v[3]),
                ]);
            }
        }
    }
    let media_box = stamp::media_box(&doc, page_id);

    let mut inc = IncrementalDocument::create_from(pdf.to_vec(), doc);
    // A clean trailer: cross-reference stream keys of the previous section must not leak.
    {
        let prev_trailer = inc.get_prev_documents().trailer.clone();
        let mut t = Dictionary::new();
        for k in [&b"Root"[..], b"Info", b"ID"] {
            if let Ok(v) = prev_trailer.get(k) {
                t.set(k, v.clone());
            }
        }
        if let Ok(prev) = inc.new_document.trailer.get(b"Prev") {
            t.set("Prev", prev.clone());
        }
        inc.new_document.trailer = t;
    }

    let sig_id = inc.new_document.new_object_id();
    let widget_id = inc.new_document.new_object_id();

    let mut sig = Dictionary::new();
    sig.set("Type", Object::Name(b"Sig".to_vec()));
    sig.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    sig.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(9_999_999_999),
            Object::Integer(9_999_999_999),
            Object::Integer(9_999_999_999),
        ]),
    );
    sig.set(
        "Contents",
        Object::String(vec![0u8; reserve], StringFormat::Hexadecimal),
    );
    sig.set(
        "M",
        Object::String(pdf_date(options.time).into_bytes(), StringFormat::Literal),
    );
    if let Some(n) = &options.signer_name {
        sig.set("Name", text_string(n));
    }
    if let Some(r) = &options.reason {
        sig.set("Reason", text_string(r));
    }
    if let Some(l) = &options.location {
        sig.set("Location", text_string(l));
    }
    inc.new_document
        .objects
        .insert(sig_id, Object::Dictionary(sig));

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", text_string(&field_name));
    widget.set("V", Object::Reference(sig_id));
    widget.set("F", Object::Integer(132));
    widget.set("P", Object::Reference(page_id));
    let rect = match &options.stamp {
        None => [0.0, 0.0, 0.0, 0.0],
        Some(st) => {
            let rect = st
                .rect
                .unwrap_or_else(|| stamp::free_slot(media_box, &taken, st));
            let ap = stamp::appearance(&mut inc.new_document, st, rect)?;
            let mut apd = Dictionary::new();
            apd.set("N", Object::Reference(ap));
            widget.set("AP", Object::Dictionary(apd));
            rect
        }
    };
    widget.set(
        "Rect",
        Object::Array(rect.iter().map(|v| Object::Real(*v)).collect()),
    );
    inc.new_document
        .objects
        .insert(widget_id, Object::Dictionary(widget));

    // The page's /Annots.
    inc.opt_clone_object_to_new_document(page_id)
        .map_err(pdf_err)?;
    let annots_ref = match page_dict.get(b"Annots") {
        Ok(Object::Reference(id)) => Some(*id),
        _ => None,
    };
    match annots_ref {
        Some(aid)
            if matches!(
                inc.get_prev_documents().get_object(aid),
                Ok(Object::Array(_))
            ) =>
        {
            inc.opt_clone_object_to_new_document(aid).map_err(pdf_err)?;
            if let Ok(Object::Array(a)) = inc.new_document.get_object_mut(aid) {
                a.push(Object::Reference(widget_id));
            }
        }
        _ => {
            let mut annots = existing_annots;
            annots.push(Object::Reference(widget_id));
            let page = inc
                .new_document
                .get_dictionary_mut(page_id)
                .map_err(pdf_err)?;
            page.set("Annots", Object::Array(annots));
        }
    }

    // The catalog's /AcroForm.
    inc.opt_clone_object_to_new_document(catalog_id)
        .map_err(pdf_err)?;
    let prev_catalog = inc
        .get_prev_documents()
        .get_dictionary(catalog_id)
        .map_err(pdf_err)?
        .clone();
    let form_ref = match prev_catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => Some(*id),
        _ => None,
    };
    let mut form = match form_ref {
        Some(id) => inc
            .get_prev_documents()
            .get_dictionary(id)
            .cloned()
            .unwrap_or_default(),
        None => match prev_catalog.get(b"AcroForm") {
            Ok(Object::Dictionary(d)) => d.clone(),
            _ => Dictionary::new(),
        },
    };
    let mut field_list = match form.get(b"Fields") {
        Ok(Object::Reference(id)) => match inc.get_prev_documents().get_object(*id) {
            Ok(Object::Array(a)) => a.clone(),
            _ => Vec::new(),
        },
        Ok(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    field_list.push(Object::Reference(widget_id));
    form.set("Fields", Object::Array(field_list));
    form.set("SigFlags", Object::Integer(3));
    match form_ref {
        Some(id) => {
            inc.new_document
                .objects
                .insert(id, Object::Dictionary(form));
        }
        None => {
            let cat = inc
                .new_document
                .get_dictionary_mut(catalog_id)
                .map_err(pdf_err)?;
            cat.set("AcroForm", Object::Dictionary(form));
        }
    }

    let mut out = Vec::with_capacity(pdf.len() + reserve * 2 + 8192);
    inc.save_to(&mut out)
        .map_err(|e| SignError::Write(e.to_string()))?;

    // Find the placeholders in the appended part and fill them in.
    let start = pdf.len();
    let hex_len = reserve * 2;
    let zeros = vec![b'0'; hex_len];
    let rel = find(&out[start..], &zeros)
        .ok_or_else(|| SignError::Write("emplacement de la signature introuvable".into()))?;
    let contents_start = start + rel - 1; // the '<'
    let contents_end = start + rel + hex_len + 1; // after the '>'
    if out.get(contents_start) != Some(&b'<') || out.get(contents_end - 1) != Some(&b'>') {
        return Err(SignError::Write(
            "emplacement de la signature inattendu".into(),
        ));
    }
    let br_rel = find(&out[start..], b"9999999999 9999999999 9999999999")
        .ok_or_else(|| SignError::Write("ByteRange introuvable".into()))?;
    let br_open = out[..start + br_rel]
        .iter()
        .rposition(|&b| b == b'[')
        .ok_or_else(|| SignError::Write("ByteRange introuvable".into()))?;
    let br_close = start
        + br_rel
        + out[start + br_rel..]
            .iter()
            .position(|&b| b == b']')
            .ok_or_else(|| SignError::Write("ByteRange introuvable".into()))?;
    let total = out.len();
    let byte_range = format!(
        "0 {} {} {}",
        contents_start,
        contents_end,
        total - contents_end
    );
    let width = br_close - br_open - 1;
    if byte_range.len() > width {
        return Err(SignError::Write("ByteRange trop long".into()));
    }
    let padded = format!("{byte_range:<width$}");
    out[br_open + 1..br_close].copy_from_slice(padded.as_bytes());

    let mut hasher = Sha256::new();
    hasher.update(&out[..contents_start]);
    hasher.update(&out[contents_end..]);
    let digest: [u8; 32] = hasher.finalize().into();
    let cms = build_cms(key, &digest, options.timestamper.as_deref())?;
    if cms.len() > reserve {
        return Err(SignError::SignatureTooLarge {
            needed: cms.len(),
            reserved: reserve,
        });
    }
    let hex: String = cms.iter().map(|b| format!("{b:02X}")).collect();
    out[contents_start + 1..contents_start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok((out, field_name))
}
